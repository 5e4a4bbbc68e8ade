"""Fractional max pooling (Graham, 2014): max over ``kernel_size`` windows whose starts are
pseudo-random, so the output can shrink by a non-integer ratio.

Each (batch, channel) plane draws one sample ``u`` in [0, 1) per dim (``ember.rand`` with
the input's dtype, as PyTorch draws them, unless ``_random_samples`` is given); window ``i``
of ``o`` then starts at ``int((i + u) * a) - int(u * a)`` with ``a = (L - k) / (o - 1)``,
computed in the input's precision, and the last window ends at the input's edge. The flat
index of each maximum is kept; the backward scatters through it.
"""

from __future__ import annotations

from ..._ops._util import Op, Tensor, xp
from .conv import ntuple
from .pooling import _FlatGather, _FlatScatter

__all__ = ["fractional_max_pool2d", "fractional_max_pool3d",
           "fractional_max_pool2d_with_indices", "fractional_max_pool3d_with_indices"]

_DIM_NAMES = {2: ("height", "width"), 3: ("time", "height", "width")}


def _starts(u, L: int, o: int, k: int):
    """Window starts, shape ``(planes, o)``, from one sample per plane ``u`` (planes,)."""
    dt = u.dtype.type
    out = xp.empty(u.shape + (o,), dtype=xp.int64)
    if o > 1:
        alpha = dt(L - k) / dt(o - 1)
        i = xp.arange(o - 1, dtype=u.dtype)
        first = ((i[None, :] + u[:, None]) * alpha).astype(xp.int64)
        out[:, :-1] = first - (u[:, None] * alpha).astype(xp.int64)[:, :1]
    if o > 0:
        out[:, -1] = L - k
    return out


class _FractionalMaxPool(Op):
    """y = max over each window;  dx = g added at each window's argmax"""

    node_name = "FractionalMaxPool2DBackward0"

    @staticmethod
    def forward(ctx, x, kernel, out, samples):
        a = x._data
        n = len(kernel)
        lead, sizes = a.shape[:-n], a.shape[-n:]
        planes = a.reshape((-1,) + sizes)                          # (P, *sizes)
        P = planes.shape[0]
        s = samples.reshape(P, n)
        # PyTorch's sample order: width first in 2-d (w, h); time, height, width in 3-d.
        order = (1, 0) if n == 2 else (0, 1, 2)
        index, starts = [xp.arange(P).reshape((P,) + (1,) * (2 * n))], []
        for d in range(n):
            st = _starts(s[:, order[d]], sizes[d], out[d], kernel[d])   # (P, o_d)
            shape = [P] + [1] * n
            shape[1 + d] = out[d]
            starts.append(st.reshape(shape))
            taps = st[:, :, None] + xp.arange(kernel[d])                # (P, o_d, k_d)
            shape = [P] + [1] * (2 * n)
            shape[1 + d], shape[1 + n + d] = out[d], kernel[d]
            index.append(taps.reshape(shape))
        v = planes[tuple(index)]                                      # (P, *out, *kernel)
        v = v.reshape(v.shape[:1 + n] + (-1,))
        arg = v.argmax(-1)                                            # first maximum
        nan = xp.isnan(v)
        if nan.any():  # PyTorch keeps a window's last NaN
            last_nan = v.shape[-1] - 1 - nan[..., ::-1].argmax(-1)
            arg = xp.where(nan.any(-1), last_nan, arg)
        y = xp.take_along_axis(v, arg[..., None], -1)[..., 0]
        flat = xp.zeros(arg.shape, dtype=xp.int64)
        rem, stride = arg, 1
        for d in reversed(range(n)):          # window offset -> input position, per dim
            flat += (starts[d] + rem % kernel[d]) * stride
            rem = rem // kernel[d]
            stride *= sizes[d]
        idx = flat.reshape(lead + tuple(out))
        ctx.save_for_backward(idx)
        ctx.size, ctx.n = a.shape, n
        return y.reshape(lead + tuple(out)), idx

    @staticmethod
    def backward(ctx, g, _):
        idx, = ctx.saved_tensors
        return _FlatScatter.apply(g, idx, ctx.size, True, ctx.n), None, None, None

    @staticmethod
    def jvp(inputs, out, tangents):
        # The tangent at each window's argmax (the indices output is not differentiable).
        return _FlatGather.apply(tangents[0], out[1], len(inputs[1])), None


class _FractionalMaxPool3d(_FractionalMaxPool):
    node_name = "FractionalMaxPool3DBackward0"


def _fractional(input: Tensor, n: int, kernel_size, output_size, output_ratio,
                _random_samples, name: str):
    if output_size is None and output_ratio is None:
        raise ValueError(f"{name} requires specifying either an output_size or an "
                         "output_ratio")
    kernel = ntuple(kernel_size, n, "kernel_size")
    if input.ndim not in (n + 1, n + 2):
        raise RuntimeError(f"{name}(): Expected {n + 1}D or {n + 2}D tensor, but got: "
                           f"{list(input.shape)}")
    sizes = input.shape[-n:]
    if output_size is None:
        if len(output_ratio) > n:  # a bare number has no len(), as in PyTorch
            raise ValueError(f"{name} requires output_ratio to either be a single Int or "
                             f"tuple of Ints.")
        ratio = tuple(output_ratio) * (n if len(output_ratio) == 1 else 1)
        out = tuple(int(L * r) for L, r in zip(sizes, ratio))
    else:
        out = (int(output_size),) * n if isinstance(output_size, int) else tuple(output_size)
        if len(out) != n:
            raise RuntimeError(f"{name}: output_size must either be a single Int or tuple of "
                               f"{'two' if n == 2 else 'three'} Ints")
    for k, o, L, dim in zip(kernel, out, sizes, _DIM_NAMES[n]):
        # PyTorch's 3-d kernel also refuses the exact fit that its 2-d kernel accepts.
        if o + k - 1 > L or (n == 3 and o + k - 1 == L):
            suffix = "" if n == 2 else "_out"
            raise RuntimeError(f"{name}{suffix}(): pool {dim} {k} too large relative to "
                               f"input {dim} {L}")
    planes = input.shape[-n - 1]
    batch = 1 if input.ndim == n + 1 else input.shape[0]
    if _random_samples is None:
        from ..._creation import rand
        _random_samples = rand(batch, planes, n, dtype=input.dtype)
    elif _random_samples.shape[-1] != n:
        raise RuntimeError(f"Expect _random_samples.size(2) equals to {n}; got "
                           f"{_random_samples.shape[-1]}.")
    op = _FractionalMaxPool if n == 2 else _FractionalMaxPool3d
    return op.apply(input, kernel, out, _random_samples._data.astype(input._data.dtype))


def fractional_max_pool2d(input: Tensor, kernel_size, output_size=None, output_ratio=None,
                          return_indices: bool = False, _random_samples=None):
    """Fractional max pooling over the last two dims to ``output_size`` (or
    ``output_ratio`` of the input size); with ``return_indices`` also the flat indices."""
    y, idx = _fractional(input, 2, kernel_size, output_size, output_ratio, _random_samples,
                         "fractional_max_pool2d")
    return (y, idx) if return_indices else y


def fractional_max_pool3d(input: Tensor, kernel_size, output_size=None, output_ratio=None,
                          return_indices: bool = False, _random_samples=None):
    """Fractional max pooling over the last three dims (see ``fractional_max_pool2d``)."""
    y, idx = _fractional(input, 3, kernel_size, output_size, output_ratio, _random_samples,
                         "fractional_max_pool3d")
    return (y, idx) if return_indices else y


def fractional_max_pool2d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=True, _random_samples=None):
    return fractional_max_pool2d(input, kernel_size, output_size, output_ratio, True,
                                 _random_samples)


def fractional_max_pool3d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=True, _random_samples=None):
    return fractional_max_pool3d(input, kernel_size, output_size, output_ratio, True,
                                 _random_samples)
