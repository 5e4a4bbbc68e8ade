"""Convolutions: ``conv1d/2d/3d`` and ``conv_transpose1d/2d/3d``, N-d and vectorised.

A convolution is a bilinear map ``y = C(x, w)``. Its two partial adjoints are the
transposed convolution ``x' = T(g, w)`` (gradient in the input) and the weight correlation
``w' = W(x, g)`` (gradient in the weight). The three maps differentiate into one another:

    C(x, w) -> dx = T(g, w),  dw = W(x, g)
    T(g, w) -> dg = C(G, w),  dw = W(G, g)
    W(x, g) -> dx = T(g, G),  dg = C(x, G)

so one ``Convolution`` op with a ``mode`` covers forward, backward and every higher order.
``C`` is one im2col (a strided window view, copied once) and one batched GEMM; ``W`` is one
batched GEMM on the columns ``C`` kept (or an im2col of its own); ``T`` is one batched GEMM
and a col2im that loops over kernel offsets only.
"""

from __future__ import annotations

import itertools
import math

from ..._ops._jvp import primal, tangent_sum
from ..._ops._util import Op, xp
from ..._tensor import Tensor
from ...amp._state import lower_precision

__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d"]

_sliding = xp.lib.stride_tricks.sliding_window_view


# -- geometry helpers (shared with pooling, padding and fold) ------------------------------
def ntuple(value, n: int, name: str = "value") -> tuple:
    """``value`` as an n-tuple of ints (an int is repeated)."""
    if isinstance(value, int):
        return (value,) * n
    out = tuple(int(v) for v in value)
    if len(out) == 1 and n > 1:
        return out * n
    if len(out) != n:
        raise RuntimeError(f"expected {name} to be a single integer value or a list of {n} "
                           f"values to match the convolution dimensions, but got "
                           f"{name}={list(out)}")
    return out


def windows(x, kernel: tuple, stride: tuple, dilation: tuple, out: tuple | None = None):
    """A view ``(*lead, *P, *K)`` of the kernel windows over the trailing ``len(kernel)``
    dims of ``x`` (already padded): ``P`` window positions, ``K`` kernel taps."""
    n = len(kernel)
    span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    v = _sliding(x, span, axis=tuple(range(x.ndim - n, x.ndim)))
    lead = (slice(None),) * (x.ndim - n)
    pos = tuple(slice(0, None if out is None else (o - 1) * s + 1, s)
                for s, o in zip(stride, out or (None,) * n))
    return v[lead + pos + tuple(slice(None, None, d) for d in dilation)]


def col2im(cols, size: tuple, stride: tuple, dilation: tuple, k_first: bool = False):
    """The adjoint of :func:`windows`: sum the window entries ``cols (*lead, *P, *K)`` (or
    ``(*lead, *K, *P)`` with ``k_first``) back into an array of trailing shape ``size``.
    One strided add per kernel offset."""
    n = len(size)
    lead_shape = cols.shape[:cols.ndim - 2 * n]
    dims = cols.shape[cols.ndim - 2 * n:]
    K, P = (dims[:n], dims[n:]) if k_first else (dims[n:], dims[:n])
    out = xp.zeros(lead_shape + tuple(size), dtype=cols.dtype)
    lead = (slice(None),) * len(lead_shape)
    for off in itertools.product(*map(range, K)):
        dst = tuple(slice(o * d, o * d + s * (p - 1) + 1, s)
                    for o, d, s, p in zip(off, dilation, stride, P))
        out[lead + dst] += cols[lead + off] if k_first else cols[lead + (Ellipsis,) + off]
    return out


def pad_array(x, pads: tuple, value=0):
    """Constant-pad the trailing dims of ``x`` by ``pads = ((lo, hi), ...)``."""
    if not any(lo or hi for lo, hi in pads):
        return x
    width = ((0, 0),) * (x.ndim - len(pads)) + tuple(pads)
    return xp.pad(x, width, constant_values=value)


def crop_array(x, pads: tuple):
    """Undo :func:`pad_array` (a view)."""
    lead = (slice(None),) * (x.ndim - len(pads))
    return x[lead + tuple(slice(lo, x.shape[x.ndim - len(pads) + i] - hi)
                          for i, (lo, hi) in enumerate(pads))]


# -- the three bilinear maps on arrays -------------------------------------------------------
# Columns are laid out ``(N, G, C/G*prod(K), prod(P))``: one copy of the window view with the
# output positions innermost (long contiguous runs), and every GEMM below is a batched
# ``matmul`` whose result already has the layout it is returned in.
def _im2col(x, kernel, geo, out):
    """``x (N, C, *S)`` -> columns ``(N, G, C/G*prod(K), prod(P))`` and ``P``."""
    stride, pads, dilation, groups = geo
    n = len(kernel)
    v = windows(pad_array(x, pads), kernel, stride, dilation, out)     # (N, C, *P, *K)
    N, C = x.shape[:2]
    P = v.shape[2:2 + n]
    v = v.transpose((0, 1) + tuple(range(2 + n, 2 + 2 * n)) + tuple(range(2, 2 + n)))
    cols = xp.ascontiguousarray(v)                                       # (N, C, *K, *P)
    return cols.reshape(N, groups, C // groups * math.prod(kernel), math.prod(P)), P


def _conv(x, w, geo, out=None):
    """C(x, w): ``(N, C, *S) x (O, C/G, *K) -> (N, O, *P)``; also the columns."""
    groups = geo[3]
    O = w.shape[0]
    cols, P = _im2col(x, w.shape[2:], geo, out)
    y = xp.matmul(w.reshape(groups, O // groups, -1), cols)          # (N, G, O/G, P)
    return y.reshape((x.shape[0], O) + P), cols


def _conv_t(g, w, geo, size):
    """T(g, w): ``(N, O, *P) x (O, C/G, *K) -> (N, C, *size)``, the adjoint of C in x.

    Batch-last inside: the col2im adds then run over ``P_last * N`` contiguous elements
    instead of ``P_last``, which is what makes them cheap."""
    stride, pads, dilation, groups = geo
    N, O = g.shape[:2]
    P, K = g.shape[2:], w.shape[2:]
    wm = w.reshape(groups, O // groups, -1).transpose(0, 2, 1)        # (G, C/G*K, O/G)
    gt = xp.ascontiguousarray(xp.moveaxis(g, 0, -1))                  # (O, *P, N)
    cols = xp.matmul(wm, gt.reshape(groups, O // groups, -1))         # (G, C/G*K, P*N)
    C = groups * w.shape[1]
    cols = cols.reshape((C,) + tuple(K) + tuple(P) + (N,))
    full = tuple(s + lo + hi for s, (lo, hi) in zip(size, pads))
    out = xp.zeros((C,) + full + (N,), dtype=cols.dtype)
    every = (slice(None),)
    for off in itertools.product(*map(range, K)):
        dst = tuple(slice(o * d, o * d + s * (p - 1) + 1, s)
                    for o, d, s, p in zip(off, dilation, stride, P))
        out[every + dst] += cols[every + off]
    out = crop_array(out.reshape(out.shape[:-1]), pads) if N == 1 else \
        crop_array(xp.moveaxis(out, -1, 0), pads)
    return xp.ascontiguousarray(out.reshape((N, C) + tuple(size)))


def _conv_w(x, g, geo, kernel, cols=None):
    """W(x, g): ``(N, C, *S) x (N, O, *P) -> (O, C/G, *K)``, the adjoint of C in w. ``cols``:
    the forward's columns of ``x``, when it kept them."""
    groups = geo[3]
    N, O = g.shape[:2]
    P = g.shape[2:]
    if cols is None:
        cols, _ = _im2col(x, kernel, geo, P)
    gm = g.reshape(N, groups, O // groups, math.prod(P))
    if N == 1:
        dw = xp.matmul(gm[0], cols[0].transpose(0, 2, 1))
    else:
        dw = xp.matmul(gm, cols.transpose(0, 1, 3, 2)).sum(0)         # (G, O/G, C/G*K)
    return dw.reshape((O, x.shape[1] // groups) + tuple(kernel))


class Convolution(Op):
    """y = C(x, w) + b;  dx = T(g, w), dw = W(x, g), db = sum(g) (and likewise for T, W)"""

    node_name = "ConvolutionBackward0"

    @staticmethod
    def forward(ctx, a, b, bias, geo, mode, size, cols=None):
        ctx.geo, ctx.mode = geo, mode
        ctx.a_size, ctx.b_size = a._data.shape[2:], b._data.shape[2:]
        if mode == "C":
            out, cols = _conv(a._data, b._data, geo, size)
            # The weight gradient reuses these columns (they are the costly part).
            ctx.save_for_backward(a, b, cols if ctx.needs_input_grad[1] else None)
        else:
            ctx.save_for_backward(a, b, None)
            if mode == "T":
                out = _conv_t(a._data, b._data, geo, size)
            else:
                out = _conv_w(a._data, b._data, geo, size, cols)
        if bias is not None:
            out += bias._data.reshape((-1,) + (1,) * (out.ndim - 2))
        return out

    @staticmethod
    def backward(ctx, g):
        a, b, cols = ctx.saved_tensors
        need_a, need_b, need_bias = ctx.needs_input_grad[:3]
        geo, mode = ctx.geo, ctx.mode
        run = _apply
        if mode == "C":        # a = x, b = w
            da = run(g, b, geo, "T", ctx.a_size) if need_a else None
            db = run(a, g, geo, "W", ctx.b_size, cols=cols) if need_b else None
        elif mode == "T":      # a = g, b = w
            da = run(g, b, geo, "C", ctx.a_size) if need_a else None
            db = run(g, a, geo, "W", ctx.b_size) if need_b else None
        else:                  # a = x, b = g
            da = run(b, g, geo, "T", ctx.a_size) if need_a else None
            db = run(a, g, geo, "C", ctx.b_size) if need_b else None
        dbias = g.sum((0,) + tuple(range(2, g.ndim))) if need_bias else None
        return da, db, dbias

    @staticmethod
    def jvp(inputs, out, tangents):
        # Bilinear in (a, b) in every mode: the product rule; the bias adds per channel.
        a, b, bias, geo, mode, size = inputs[:6]
        ta, tb, tbias = tangents[:3]
        terms = []
        if ta is not None:
            terms.append(Convolution.apply(ta, primal(b), None, geo, mode, size))
        if tb is not None:
            terms.append(Convolution.apply(primal(a), tb, None, geo, mode, size))
        if tbias is not None:
            terms.append(tbias.reshape((-1,) + (1,) * (out.ndim - 2)))
        return tangent_sum(out, *terms)


def _apply(a, b, geo, mode, size, bias=None, cols=None):
    return Convolution.apply(a, b, bias, geo, mode, tuple(size),
                             None if cols is None else cols._data)


# -- argument checking and the public functions ----------------------------------------------
_TYPE = {"float32": "float", "float64": "double", "float16": "c10::Half", "int64": "long",
         "int32": "int", "bfloat16": "c10::BFloat16"}


def _type_name(t: Tensor) -> str:
    return _TYPE.get(str(t._data.dtype), str(t._data.dtype))


def _check(input: Tensor, weight: Tensor, bias, n: int, name: str) -> bool:
    """Validate dims and dtypes; return whether the input is unbatched."""
    if input.ndim not in (n + 1, n + 2):
        raise RuntimeError(f"Expected {n + 1}D (unbatched) or {n + 2}D (batched) input to "
                           f"{name}, but got input of size: {list(input.shape)}")
    if weight.ndim != n + 2:
        raise RuntimeError(f"weight should have at least three dimensions, got "
                           f"{list(weight.shape)}" if weight.ndim < 3 else
                           f"Expected {n + 2}-dimensional weight for {n + 2}-dimensional "
                           f"input, but got weight of size {list(weight.shape)} instead")
    if input._data.dtype != weight._data.dtype:
        names = {"float": "Float", "double": "Double"}
        raise RuntimeError(f"expected scalar type {names.get(_type_name(input), 'Float')} but "
                           f"found {names.get(_type_name(weight), 'Float')}")
    if bias is not None and bias._data.dtype != input._data.dtype:
        raise RuntimeError(f"Input type ({_type_name(input)}) and bias type "
                           f"({_type_name(bias)}) should be the same")
    return input.ndim == n + 1


def _positive(stride, dilation):
    if any(s <= 0 for s in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(d <= 0 for d in dilation):
        raise RuntimeError("dilation should be greater than zero")


def _convnd(input, weight, bias, stride, padding, dilation, groups, n, name):
    input, weight, bias = lower_precision(input, weight, bias)  # autocast
    unbatched = _check(input, weight, bias, n, name)
    if unbatched:
        input = input.unsqueeze(0)
    stride, dilation = ntuple(stride, n, "stride"), ntuple(dilation, n, "dilation")
    _positive(stride, dilation)
    K = tuple(weight.shape[2:])
    if isinstance(padding, str):
        if padding == "valid":
            pads = ((0, 0),) * n
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            total = [d * (k - 1) for d, k in zip(dilation, K)]
            pads = tuple((t // 2, t - t // 2) for t in total)
        else:
            raise RuntimeError(f"Invalid padding string: '{padding}'")
    else:
        p = ntuple(padding, n, "padding")
        if any(v < 0 for v in p):
            raise RuntimeError("negative padding is not supported")
        pads = tuple((v, v) for v in p)
    C = input.shape[1]
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    if C != weight.shape[1] * groups or weight.shape[0] % groups:
        if weight.shape[0] % groups:
            raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by "
                               f"{groups} at dimension 0, but got weight of size "
                               f"{list(weight.shape)} instead")
        raise RuntimeError(f"Given groups={groups}, weight of size {list(weight.shape)}, "
                           f"expected input{list(input.shape)} to have "
                           f"{weight.shape[1] * groups} channels, but got {C} channels "
                           f"instead")
    padded = [s + lo + hi for s, (lo, hi) in zip(input.shape[2:], pads)]
    span = [d * (k - 1) + 1 for d, k in zip(dilation, K)]
    if any(p < s for p, s in zip(padded, span)):
        raise RuntimeError(f"Calculated padded input size per channel: "
                           f"({' x '.join(map(str, padded))}). Kernel size: "
                           f"({' x '.join(map(str, span))}). Kernel size can't be greater "
                           f"than actual input size")
    out = Convolution.apply(input, weight, bias, (stride, pads, dilation, groups), "C", None)
    return out.squeeze(0) if unbatched else out


def _conv_transposend(input, weight, bias, stride, padding, output_padding, groups,
                      dilation, n, name):
    input, weight, bias = lower_precision(input, weight, bias)  # autocast
    unbatched = _check(input, weight, bias, n, name)
    if unbatched:
        input = input.unsqueeze(0)
    stride, dilation = ntuple(stride, n, "stride"), ntuple(dilation, n, "dilation")
    _positive(stride, dilation)
    padding = ntuple(padding, n, "padding")
    output_padding = ntuple(output_padding, n, "output_padding")
    if any(v < 0 for v in padding):
        raise RuntimeError("negative padding is not supported")
    if any(op >= s and op >= d for op, s, d in zip(output_padding, stride, dilation)):
        dims = ("height", "width") if n == 2 else ("depth", "height", "width")[3 - n:]
        if n == 1:
            dims = ("width",)
        raise RuntimeError(
            "output padding must be smaller than either stride or dilation, but got "
            + " ".join(f"output_padding_{d}: {v}" for d, v in zip(dims, output_padding)) + " "
            + " ".join(f"stride_{d}: {v}" for d, v in zip(dims, stride)) + " "
            + " ".join(f"dilation_{d}: {v}" for d, v in zip(dims, dilation)))
    if input.shape[1] != weight.shape[0] or weight.shape[0] % groups:
        raise RuntimeError(f"Given transposed=1, weight of size {list(weight.shape)}, "
                           f"expected input{list(input.shape)} to have {weight.shape[0]} "
                           f"channels, but got {input.shape[1]} channels instead")
    K = weight.shape[2:]
    size = tuple((p - 1) * s - 2 * pd + d * (k - 1) + op + 1 for p, s, pd, d, k, op in
                 zip(input.shape[2:], stride, padding, dilation, K, output_padding))
    if any(v <= 0 for v in size):
        raise RuntimeError(f"Given input size per channel: ({' x '.join(map(str, input.shape[2:]))}"
                           f"). Calculated output size per channel: "
                           f"({' x '.join(map(str, size))}). Output size is too small")
    geo = (stride, tuple((p, p) for p in padding), dilation, groups)
    out = Convolution.apply(input, weight, bias, geo, "T", size)
    return out.squeeze(0) if unbatched else out


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """1-d cross-correlation of ``input (N, C, L)`` with ``weight (O, C/groups, k)``."""
    return _convnd(input, weight, bias, stride, padding, dilation, groups, 1, "conv1d")


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """2-d cross-correlation of ``input (N, C, H, W)`` with ``weight (O, C/groups, kh, kw)``;
    ``padding`` may be an int, a tuple, ``'valid'`` or ``'same'``."""
    return _convnd(input, weight, bias, stride, padding, dilation, groups, 2, "conv2d")


def conv3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0,
           dilation=1, groups: int = 1) -> Tensor:
    """3-d cross-correlation of ``input (N, C, D, H, W)`` with ``weight (O, C/g, kd, kh, kw)``."""
    return _convnd(input, weight, bias, stride, padding, dilation, groups, 3, "conv3d")


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """The transpose (gradient) of conv1d; ``weight (C_in, C_out/groups, k)``."""
    return _conv_transposend(input, weight, bias, stride, padding, output_padding, groups,
                             dilation, 1, "conv_transpose1d")


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """The transpose (gradient) of conv2d; ``weight (C_in, C_out/groups, kh, kw)``."""
    return _conv_transposend(input, weight, bias, stride, padding, output_padding, groups,
                             dilation, 2, "conv_transpose2d")


def conv_transpose3d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """The transpose (gradient) of conv3d; ``weight (C_in, C_out/groups, kd, kh, kw)``."""
    return _conv_transposend(input, weight, bias, stride, padding, output_padding, groups,
                             dilation, 3, "conv_transpose3d")
