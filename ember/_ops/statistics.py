"""Statistics and integer number theory at the top level: ``cov``, ``corrcoef``,
``histogram``, ``isin``, ``gcd``, ``lcm`` and ``renorm``."""

from __future__ import annotations

import warnings

from .._dtype import result_type
from ..autograd.function import nondifferentiable
from ..return_types import register as _return_type
from ._jvp import fit, primal, refuse_dual
from ._util import Op, Tensor, _make, operands, tensor_method, xp
from .inplace import register_inplace

__all__ = ["cov", "corrcoef", "histogram", "isin", "gcd", "lcm", "renorm", "logcumsumexp"]

_histogram_type = _return_type("histogram", "hist bin_edges")


# -- covariance and correlation ---------------------------------------------------------------
@tensor_method()
def cov(input: Tensor, *, correction: int = 1, fweights: Tensor | None = None,
        aweights: Tensor | None = None) -> Tensor:
    """The covariance matrix of the variables in the rows of ``input`` (observations in the
    columns), with frequency and/or analytic observation weights."""
    if input.ndim > 2:
        raise RuntimeError(f"cov(): expected input to have two or fewer dimensions but got an "
                           f"input with {input.ndim} dimensions")
    x = input if input.ndim == 2 else input.reshape(1, -1)
    if not (x.dtype.is_floating_point or x.dtype.is_complex):
        x = x.to(result_type(x, 1.0))
    n_obs = x.shape[1]
    w = None
    if fweights is not None:
        if fweights.ndim > 1:
            raise RuntimeError(f"cov(): expected fweights to have one or fewer dimensions but "
                               f"got fweights with {fweights.ndim} dimensions")
        if fweights.dtype.is_floating_point:
            raise RuntimeError(f"cov(): expected fweights to have integral dtype but got "
                               f"fweights with {fweights.dtype._legacy_name[:-6]} dtype")
        if fweights.numel() != n_obs:
            raise RuntimeError(f"cov(): expected fweights to have the same numel as there are "
                               f"observations in the input but got {fweights.numel()} != "
                               f"{n_obs}")
        if bool((fweights._data < 0).any()):
            raise RuntimeError("cov(): fweights cannot be negative")
        w = fweights
    if aweights is not None:
        if aweights.ndim > 1:
            raise RuntimeError(f"cov(): expected aweights to have one or fewer dimensions but "
                               f"got aweights with {aweights.ndim} dimensions")
        if not aweights.dtype.is_floating_point:
            raise RuntimeError(f"cov(): expected aweights to have floating point dtype but got "
                               f"aweights with {aweights.dtype._legacy_name[:-6]} dtype")
        if aweights.numel() != n_obs:
            raise RuntimeError(f"cov(): expected aweights to have the same numel as there are "
                               f"observations in the input but got {aweights.numel()} != "
                               f"{n_obs}")
        if bool((aweights._data < 0).any()):
            raise RuntimeError("cov(): aweights cannot be negative")
        w = aweights if w is None else w * aweights
    if w is None:
        avg = x.mean(1)
        w_sum = float(n_obs)
    else:
        w_sum_t = w.sum()
        avg = (x * w).sum(1) / w_sum_t
        w_sum = w_sum_t.item()
    if w is not None and aweights is not None and correction != 0:
        norm = w_sum - correction * (w * aweights).sum().item() / w_sum
    else:
        norm = w_sum - correction
    if norm <= 0:
        warnings.warn("cov(): degrees of freedom is <= 0. Correction should be strictly less "
                      "than the number of observations.", UserWarning, stacklevel=2)
        norm = 0.0
    xm = x - avg.unsqueeze(1)
    c = xm @ (xm * w if w is not None else xm).mT
    return (c / norm).squeeze()


@tensor_method()
def corrcoef(input: Tensor) -> Tensor:
    """Pearson correlation coefficients of the variables in the rows of ``input``."""
    if input.ndim > 2:
        raise RuntimeError(f"corrcoef(): expected input to have two or fewer dimensions but "
                           f"got an input with {input.ndim} dimensions")
    c = cov(input)
    if c.ndim == 0:
        return c / c
    std = c.diagonal().sqrt()
    c = c / std.unsqueeze(1)
    c = c / std.unsqueeze(0)
    return c.clamp(-1, 1)


# -- histogram --------------------------------------------------------------------------------
@tensor_method()
def histogram(input: Tensor, bins=100, *, range=None, weight: Tensor | None = None,  # noqa: A002
              density: bool = False, out=None):
    """``(hist, bin_edges)``: counts (or weights, or a density) of ``input``'s values in
    ``bins`` equal-width bins over ``range`` (default: the data's min and max), or in the
    bins whose edges a 1-D tensor ``bins`` gives."""
    a = input._data
    if a.dtype.kind != "f":
        raise RuntimeError(f"torch.histogram: input tensor and bins tensors should have the "
                           f"same dtype, but got input {input.dtype._legacy_name[:-6].lower()}"
                           " and bins float")
    if isinstance(bins, Tensor):
        if bins._data.dtype != a.dtype:
            c = {"float32": "float", "float64": "double", "float16": "c10::Half"}
            raise RuntimeError("torch.histogramdd: input tensor and bins tensors should have "
                               f"the same dtype, but got input with dtype "
                               f"{c.get(a.dtype.name, a.dtype.name)} and bins for dimension 0 "
                               f"with dtype {c.get(bins._data.dtype.name, bins._data.dtype.name)}")
        edges = bins._data
    else:
        if bins <= 0:
            raise RuntimeError("torch.histogram(): bins must be > 0, but got "
                               f"{bins} for dimension 0")
        if range is not None:
            lo, hi = float(range[0]), float(range[1])
        elif a.size:
            lo, hi = float(a.min()), float(a.max())
        else:
            lo, hi = 0.0, 0.0
        if lo > hi:
            raise RuntimeError(f"torch.histogram(): min should not exceed max, but got min "
                               f"{lo} max {hi}")
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5
        edges = xp.linspace(lo, hi, int(bins) + 1).astype(a.dtype)
    w = weight._data.ravel() if weight is not None else None
    hist, _ = xp.histogram(a.ravel(), bins=edges.astype(xp.float64), weights=w)
    hist = hist.astype(a.dtype)
    if density:
        widths = xp.diff(edges)
        total = hist.sum()
        hist = (hist / (total * widths)).astype(a.dtype)
    refuse_dual("aten::histogram", input, weight, bins)
    return _histogram_type(_make(hist), _make(edges.copy()))


# -- membership ------------------------------------------------------------------------------
@nondifferentiable
def isin(elements, test_elements, *, assume_unique: bool = False,
         invert: bool = False) -> Tensor:
    """Whether each element of ``elements`` occurs in ``test_elements`` (one of the two may
    be a number)."""
    x, y = operands(elements, test_elements)
    out = xp.isin(xp.asarray(x), xp.asarray(y), invert=invert)
    return _make(xp.asarray(out))


# -- gcd and lcm -------------------------------------------------------------------------------
def _integers(a, b, kernel: str):
    x, y = operands(a, b)
    dt = xp.asarray(x).dtype
    if dt.kind not in "iu":
        from .._dtype import _FROM_NP
        raise NotImplementedError(f'"{kernel}" not implemented for '
                                  f"'{_FROM_NP[dt]._legacy_name[:-6]}'")
    return x, y


@tensor_method()
@nondifferentiable
def gcd(input: Tensor, other: Tensor) -> Tensor:
    """Elementwise greatest common divisor (non-negative; gcd(0, 0) = 0)."""
    x, y = _integers(input, other, "gcd_cpu")
    return _make(xp.asarray(xp.gcd(x, y)))


@tensor_method()
@nondifferentiable
def lcm(input: Tensor, other: Tensor) -> Tensor:
    """Elementwise least common multiple (non-negative; 0 if either is 0)."""
    x, y = _integers(input, other, "lcm_cpu")
    return _make(xp.asarray(xp.lcm(x, y)))


# -- renorm -----------------------------------------------------------------------------------
class Renorm(Op):
    """y = x s(n), n the p-norm of x's slice along dim, s = maxnorm/(n + 1e-7) where
    n > maxnorm else 1: gx = g s + x (sum over the slice of g x) s'(n) dn/dx, with
    s' = -maxnorm/(n + 1e-7)^2 and dn/dx = sign(x)|x|^(p-1) / n^(p-1)"""

    node_name = "RenormBackward0"

    @staticmethod
    def forward(ctx, x, p, dim, maxnorm):
        a = x._data
        axes = tuple(i for i in range(a.ndim) if i != dim)
        if p == float("inf"):
            norm = xp.max(xp.abs(a), axis=axes, keepdims=True)
        else:
            norm = xp.sum(xp.abs(a) ** p, axis=axes, keepdims=True) ** (1.0 / p)
        scale = xp.where(norm > maxnorm, maxnorm / (norm + 1e-7), 1.0).astype(a.dtype)
        ctx.args = (p, axes, maxnorm)
        ctx.save_for_backward(x, norm)
        return a * scale

    @staticmethod
    def backward(ctx, g):
        x, norm = ctx.saved_tensors
        p, axes, maxnorm = ctx.args
        over = norm > maxnorm
        from .indexing import where
        scale = where(over, maxnorm / (norm + 1e-7), 1.0)
        dscale = where(over, -maxnorm / ((norm + 1e-7) * (norm + 1e-7)), 0.0)
        if p == float("inf"):  # the max norm: shared evenly by the elements at the max
            from .reduction import _evenly
            dnorm = _evenly(norm.new_ones(norm.shape), xp.abs(x._data), norm._data, axes,
                            True) * x.sign()
        else:
            dnorm = x.sign() * x.abs() ** (p - 1) / norm ** (p - 1)
            dnorm = where(norm == 0, 0.0, dnorm)
        gx = g * scale + dnorm * dscale * (g * x).sum(axes, keepdim=True)
        return gx, None, None, None

    @staticmethod
    def jvp(inputs, out, tangents):
        from .indexing import where
        from .reduction import VectorNorm, norm_jvp
        x, p, dim, maxnorm = primal(inputs[0]), *inputs[1:]
        t = tangents[0]
        axes = tuple(i for i in range(x.ndim) if i != dim)
        norm = VectorNorm.apply(x, p, axes, True)
        inv = 1 / (norm + 1e-7)
        # over the limit: d(x maxnorm/norm) = maxnorm/norm (t - x dnorm/norm)
        scaled = (t - x * inv * norm_jvp(x, t, p, norm, axes, True)) * (inv * maxnorm)
        return fit(where(norm > maxnorm, scaled, t), out)


@tensor_method()
def renorm(input: Tensor, p: float, dim: int, maxnorm: float) -> Tensor:
    """Rescale each slice along ``dim`` whose p-norm exceeds ``maxnorm`` to norm ``maxnorm``."""
    if not p > 0:
        raise RuntimeError("renorm: non-positive-norm not supported")
    if maxnorm < 0:
        raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {maxnorm}")
    if input.ndim <= 1:
        raise RuntimeError(f"renorm: input needs at least 2 dimensions, got {input.ndim} "
                           "dimensions")
    from .._tensor import _wrap_dim
    return Renorm.apply(input, float(p), _wrap_dim(dim, input.ndim), float(maxnorm))


register_inplace("gcd", "lcm", "renorm")


# -- logcumsumexp ----------------------------------------------------------------------------
class Logcumsumexp(Op):
    """d out_j / d x_i = exp(x_i - out_j) for j >= i, so gx_i = sum_{j>=i} g_j exp(x_i - out_j),
    taken in log space for g's positive and negative parts (no overflow)"""

    node_name = "LogcumsumexpBackward0"

    @staticmethod
    def forward(ctx, x, dim):
        a = x._data
        if a.dtype.kind not in "fc":
            from .._dtype import _FROM_NP
            raise NotImplementedError('"logcumsumexp_out_cpu" not implemented for '
                                      f"'{_FROM_NP[a.dtype]._legacy_name[:-6]}'")
        ctx.dim = dim
        with xp.errstate(all="ignore"):
            out = xp.logaddexp.accumulate(a, axis=dim) if a.ndim else a.copy()
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, g):
        from .joining import flip
        from .unary import _masked
        x, out = ctx.saved_tensors
        if x.ndim == 0:
            return g, None
        d = ctx.dim

        def rev_lcse(t):
            return flip(logcumsumexp(flip(t, (d,)), d), (d,))
        pos = rev_lcse((_masked(g, g > 0)).log() - out)
        neg = rev_lcse((_masked(-g, g < 0)).log() - out)
        return (x + pos).exp() - (x + neg).exp(), None

    @staticmethod
    def jvp(inputs, out, tangents):
        # d out_j = sum_{i<=j} exp(x_i) t_i / sum_{i<=j} exp(x_i), shifted by the max
        # against overflow; like PyTorch, the running sum is kept above 1e-13 (so an
        # underflowed one gives 0, and a tiny one a tiny tangent)
        from .indexing import where
        from .reduction import Cumsum
        from .sorting import amax
        x, d = primal(inputs[0]), inputs[1]
        t = tangents[0]
        e = (x - amax(x, d, True) if x.numel() else x).exp()
        total = Cumsum.apply(e, d, None)
        return fit(Cumsum.apply(e * t, d, None) / where(total < 1e-13, 1e-13, total), out)


@tensor_method()
def logcumsumexp(input: Tensor, dim: int) -> Tensor:
    """``log(cumsum(exp(input)))`` along ``dim``, without overflow."""
    from .._tensor import _wrap_dim
    d = _wrap_dim(dim, max(input.ndim, 1))
    return Logcumsumexp.apply(input, d)
