"""Reductions over ``dim`` (sums, products, statistics, norms, logical tests) and scans
along one dim (cumsum, cumprod, diff). Extrema and order statistics live in ``sorting``.

Forward reduces arrays; backward, written with Tensor ops, spreads the gradient back over
the reduced dims (so double backward works).
"""

from __future__ import annotations

import math
import warnings

from .._dtype import dtype as _DType
from ..autograd.function import nondifferentiable
from ._jvp import conj, fit, primal, re
from ._util import Op, Tensor, _make, dims_arg, expand_grad, floating, tensor_method, wrap_dim, xp
from .complex import conj_any
from .elementwise import exp
from .indexing import where as _where

__all__ = ["sum", "mean", "prod", "std", "var", "std_mean", "var_mean", "norm", "logsumexp",
           "nansum", "nanmean", "all", "any", "count_nonzero", "cumsum", "cumprod", "diff",
           "quantile", "nanquantile"]


# -- shared helpers ---------------------------------------------------------------------------
def _dims(dim, ndim: int) -> tuple:
    """The reduced dims as a sorted tuple (``()`` for a 0-d input, where dim 0 is allowed)."""
    dims = dims_arg(dim, ndim)
    return dims if ndim else ()


def _axis(dims):
    """NumPy's axis for a dims tuple (``()`` only arises for 0-d inputs: reduce all)."""
    return dims if dims else None


def _restore_dims(g: Tensor, dims: tuple, keepdim: bool) -> Tensor:
    """Re-insert reduced dims (size 1) so ``g`` (a Tensor or array) broadcasts against the
    input."""
    if keepdim or not dims:
        return g
    shape = list(g.shape)
    for d in dims:
        shape.insert(d, 1)
    return g.reshape(shape)


def _keep(a, dims: tuple, keepdim: bool):
    """An array reduced with ``keepdims=keepdim`` reshaped to keep the reduced dims."""
    if keepdim or not dims:
        return a
    return xp.expand_dims(a, dims)


def _check_nonempty(name: str, a, dims, whole_error=RuntimeError) -> None:
    """PyTorch's errors for reductions without an identity (max, argmax, ...) on empty dims."""
    if a.size:
        return
    if dims is None:
        msg = f"{name}(): Expected reduction dim to be specified for input.numel() == 0."
        if whole_error is RuntimeError:
            msg += " Specify the reduction dim with the 'dim' argument."
        raise whole_error(msg)
    for d in dims:
        if a.shape[d] == 0:
            raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")


def _float_only(name: str, x: Tensor, msg: str | None = None) -> None:
    if x._data.dtype.kind not in "fc":
        raise RuntimeError(msg or f"{name}: Expected a floating point or complex tensor as "
                           f"input. Got {x.dtype._legacy_name[:-6]}")


def _int_to_long(a, dtype):
    """The accumulation dtype of sum/prod/cumsum: given ``dtype``, else int64 for ints."""
    if dtype is not None:
        return dtype.np
    return xp.int64 if a.dtype.kind in "biu" else None


def _ties_mask(a, out) -> object:
    """Where ``a`` equals its (broadcast) extremum ``out``, NaN matching NaN."""
    with xp.errstate(invalid="ignore"):
        m = a == out
    if a.dtype.kind in "fc":
        m |= xp.isnan(a) & xp.isnan(out)
    return m


def _evenly(g: Tensor, a, out, dims: tuple, keepdim: bool) -> Tensor:
    """The incoming gradient split evenly among the elements tied at the extremum."""
    mask = _ties_mask(a, _keep(out, dims, keepdim))
    count = mask.sum(axis=_axis(dims), keepdims=True)
    return _restore_dims(g, dims, keepdim) * _make((mask / count).astype(a.dtype, copy=False))


# -- sum, mean, nansum, nanmean -----------------------------------------------------------------
class Sum(Op):
    """d sum(x) = broadcast of the incoming gradient over the summed dims"""

    node_name = "SumBackward0"
    _array_backward = True

    @staticmethod
    def forward(ctx, x, dims, keepdim, dtype):
        a = x._data
        ctx.shape, ctx.dims, ctx.keepdim = a.shape, dims, keepdim
        dt = _int_to_long(a, dtype)
        if dims is None:
            return xp.asarray(a.sum(dtype=dt))
        return a.sum(axis=_axis(dims), keepdims=keepdim, dtype=dt)

    @staticmethod
    def backward(ctx, g):
        dims = ctx.dims if ctx.dims is not None else ()
        return expand_grad(_restore_dims(g, dims, ctx.keepdim), ctx.shape), None, None, None

    @staticmethod
    def jvp(inputs, out, tangents):
        return Sum.apply(tangents[0], *inputs[1:])  # linear: the same sum of the tangent


class SumDim(Sum):
    node_name = "SumBackward1"


class Nansum(Op):
    """d nansum(x) = g where x is not NaN, else 0"""

    node_name = "NansumBackward0"

    @staticmethod
    def forward(ctx, x, dims, keepdim, dtype):
        a = x._data
        ctx.save_for_backward(x)
        ctx.dims, ctx.keepdim = dims, keepdim
        return xp.asarray(xp.nansum(a, axis=_axis(dims), keepdims=keepdim,
                                    dtype=_int_to_long(a, dtype)))

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        keep = _make(~xp.isnan(x._data))
        return _restore_dims(g, ctx.dims, ctx.keepdim) * keep

    @staticmethod
    def jvp(inputs, out, tangents):
        t = tangents[0]
        return Nansum.apply(_where(primal(inputs[0]).isnan(), 0.0, t), *inputs[1:])


class Mean(Op):
    """d mean(x) = broadcast of the incoming gradient / number of averaged elements"""

    node_name = "MeanBackward0"
    _array_backward = True

    @staticmethod
    def forward(ctx, x, dims, keepdim, dtype):
        a = x._data
        if dtype is not None:
            a = a.astype(dtype.np)
        elif a.dtype.kind not in "fc":
            raise RuntimeError("mean(): could not infer output dtype. Input dtype must be "
                               "either a floating point or complex dtype. Got: "
                               f"{x.dtype._legacy_name[:-6]}")
        ctx.shape, ctx.dims, ctx.keepdim = a.shape, dims, keepdim
        with xp.errstate(invalid="ignore", divide="ignore"):
            if dims is None:
                ctx.count = a.size
                return xp.asarray(a.mean())
            ctx.count = math.prod(a.shape[d] for d in dims)
            return xp.asarray(a.mean(axis=_axis(dims), keepdims=keepdim))

    @staticmethod
    def backward(ctx, g):
        dims = ctx.dims if ctx.dims is not None else ()
        g = expand_grad(_restore_dims(g, dims, ctx.keepdim), ctx.shape)
        return g / ctx.count, None, None, None

    @staticmethod
    def jvp(inputs, out, tangents):
        return Mean.apply(tangents[0], *inputs[1:])  # linear


class MeanDim(Mean):
    node_name = "MeanBackward1"


@tensor_method()
def sum(input: Tensor, dim=None, keepdim: bool = False, *, dtype: _DType | None = None
        ) -> Tensor:
    """Sum of all elements, or over ``dim`` (an int or a tuple of ints)."""
    if dim is None:
        return Sum.apply(input, None, False, dtype)
    return SumDim.apply(input, _dims(dim, input.ndim), keepdim, dtype)


@tensor_method()
def mean(input: Tensor, dim=None, keepdim: bool = False, *, dtype: _DType | None = None
         ) -> Tensor:
    """Mean of all elements, or over ``dim`` (an int or a tuple of ints)."""
    if dim is None:
        return Mean.apply(input, None, False, dtype)
    return MeanDim.apply(input, _dims(dim, input.ndim), keepdim, dtype)


@tensor_method()
def nansum(input: Tensor, dim=None, keepdim: bool = False, *, dtype: _DType | None = None
           ) -> Tensor:
    """Sum treating NaN as zero."""
    return Nansum.apply(input, _dims(dim, input.ndim), keepdim, dtype)


@tensor_method()
def nanmean(input: Tensor, dim=None, keepdim: bool = False, *, dtype: _DType | None = None
            ) -> Tensor:
    """Mean of the non-NaN elements (``nansum / count``, as in PyTorch)."""
    if input._data.dtype.kind not in "fc" and dtype is None:
        raise RuntimeError("nanmean(): expected input to have floating point or complex dtype "
                           f"but got {input.dtype._legacy_name[:-6]}")
    dims = _dims(dim, input.ndim)
    count = input.isnan().logical_not().sum(dims, keepdim)
    return nansum(input, dims, keepdim, dtype=dtype) / count


# -- prod -------------------------------------------------------------------------------------
class Prod(Op):
    """d prod(x)_i = product of the other elements (exact with any number of zeros)"""

    node_name = "ProdBackward0"

    @staticmethod
    def forward(ctx, x, dims, keepdim, dtype):
        a = x._data
        out = xp.asarray(a.prod(axis=_axis(dims), keepdims=keepdim, dtype=_int_to_long(a, dtype)))
        ctx.save_for_backward(x, out)
        ctx.dims, ctx.keepdim = dims, keepdim
        return out

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        dims, keepdim = ctx.dims, ctx.keepdim
        g, out = _restore_dims(g, dims, keepdim), _restore_dims(out, dims, keepdim)
        zero = x._data == 0
        if not zero.any():
            return g * conj_any(out / x)
        # Nonzero x_i: out / x_i. A zero gets the product of the others: the nonzero ones
        # times the other zero when there are two (written so second derivatives are exact).
        zero_t = _make(zero)
        count = zero.sum(axis=_axis(dims), keepdims=True)
        safe = _where(zero_t, 1.0, x)
        nonzero_prod = Prod.apply(safe, dims, True, None)
        other_zero = (x * zero_t).sum(dims, keepdim=True) - x if (count == 2).any() else 0.0
        at_zero = nonzero_prod * _where(_make(count == 1), 1.0, other_zero * _make(count == 2))
        return g * conj_any(_where(zero_t, at_zero, out / safe))

    @staticmethod
    def jvp(inputs, out, tangents):
        x, dims, keepdim = primal(inputs[0]), inputs[1], inputs[2]
        t = tangents[0]
        if x.dtype != out.dtype:
            x, t = x.to(out.dtype), t.to(out.dtype)
        # d prod = sum_i t_i * (product of the others), with no division by a zero: the
        # product of the nonzero elements, and how many zeros there are.
        zero = x == 0
        count = zero.sum(dims, keepdim=True) if dims else zero.to(x.dtype)
        safe = _where(zero, 1.0, x)
        nonzero_prod = Prod.apply(safe, dims, True, None)
        others = _where(zero, _where(count == 1, nonzero_prod, 0.0),
                        _where(count == 0, nonzero_prod / safe, 0.0))
        return fit(_sum_dims(others * t, dims, keepdim), out)


def _sum_dims(t: Tensor, dims: tuple, keepdim: bool) -> Tensor:
    """``t`` summed over ``dims`` (none: ``t`` itself, as for a 0-d input)."""
    return SumDim.apply(t, dims, keepdim, None) if dims else t


class ProdDim(Prod):
    node_name = "ProdBackward1"


@tensor_method()
def prod(input: Tensor, dim: int | None = None, keepdim: bool = False, *,
         dtype: _DType | None = None) -> Tensor:
    """Product of all elements, or over the int ``dim``."""
    if dim is None:
        return Prod.apply(input, _dims(None, input.ndim), False, dtype)
    return ProdDim.apply(input, _dims(int(dim), input.ndim), keepdim, dtype)


# -- variance and standard deviation ----------------------------------------------------------
def _var_forward(ctx, name: str, root: bool, x: Tensor, dims, correction, keepdim):
    """var (or std, with ``root``) on arrays; saves what backward needs."""
    a = x._data
    _float_only(name, x, "std and var only support floating point and complex dtypes")
    n = math.prod(a.shape[d] for d in dims) if dims else a.size
    ctx.dof, ctx.count, ctx.dims, ctx.keepdim = n - correction, n, dims, keepdim
    if ctx.dof <= 0:
        warnings.warn(f"{name}(): degrees of freedom is <= 0. Correction should be strictly "
                      "less than the reduction factor (input numel divided by output numel).",
                      UserWarning, stacklevel=5)
    with xp.errstate(invalid="ignore", divide="ignore"):
        # Half precision is accumulated in float32 (its squares overflow float16 easily).
        work = a.astype(xp.float32) if a.dtype == xp.float16 else a
        out = xp.var(work, axis=_axis(dims), ddof=correction, keepdims=keepdim)
        out = xp.asarray(xp.sqrt(out) if root else out).astype(a.real.dtype, copy=False)
    ctx.save_for_backward(x, out)
    return out


def _var_grad(root: bool, g: Tensor, x: Tensor, out: Tensor, ctx) -> Tensor:
    dims, keepdim = ctx.dims, ctx.keepdim
    g = _restore_dims(g, dims, keepdim)
    centred = x - x.mean(dims, keepdim=True) if dims else x - x
    if not root:
        # No degrees of freedom: 0/0, NaN like PyTorch (not a ZeroDivisionError).
        return g * centred * (2 / ctx.dof if ctx.dof else math.inf)
    out = _restore_dims(out, dims, keepdim)
    zero = _make(out._data == 0)
    return _where(zero, 0.0, g * centred / (out * ctx.dof))


def _var_jvp(root: bool, x: Tensor, t: Tensor, out: Tensor, dims: tuple, correction,
             keepdim: bool) -> Tensor:
    """d var = 2/(N - correction) sum Re(conj(x - mean) t); d std = d var / (2 std), 0 where
    std is 0."""
    x = primal(x)
    n = math.prod(x.shape[d] for d in dims) if dims else x.numel()
    dof = n - correction
    centred = x - Mean.apply(x, dims, True, None) if dims else x - x
    dvar = _sum_dims(re(conj(centred) * t), dims, keepdim) * (2 / dof if dof else math.inf)
    if not root:
        return fit(dvar, out)
    return fit(_where(out == 0, 0.0, dvar / (2 * out)), out)


class Var(Op):
    """d var(x) = 2 (x - mean(x)) / (N - correction) dx"""

    node_name = "VarBackward0"
    name_, root = "var", False

    @classmethod
    def forward(cls, ctx, x, dims, correction, keepdim):
        return _var_forward(ctx, cls.name_, cls.root, x, dims, correction, keepdim)

    @classmethod
    def backward(cls, ctx, g):
        x, out = ctx.saved_tensors
        return _var_grad(cls.root, g, x, out, ctx)

    @classmethod
    def jvp(cls, inputs, out, tangents):
        x, dims, correction, keepdim = inputs
        return _var_jvp(cls.root, x, tangents[0], out, dims, correction, keepdim)


class Std(Var):
    """d std(x) = (x - mean(x)) / ((N - correction) std(x)) dx  (0 where std is 0)"""

    node_name = "StdBackward0"
    name_, root = "std", True


class VarMean(Op):
    """d (var, mean) = the var gradient + the mean gradient / N"""

    node_name = "VarMeanBackward0"
    name_, root = "var_mean", False

    @classmethod
    def forward(cls, ctx, x, dims, correction, keepdim):
        out = _var_forward(ctx, cls.name_, cls.root, x, dims, correction, keepdim)
        with xp.errstate(invalid="ignore"):
            return out, xp.asarray(x._data.mean(axis=_axis(dims), keepdims=keepdim))

    @classmethod
    def backward(cls, ctx, g_out, g_mean):
        x, out = ctx.saved_tensors
        grad = _var_grad(cls.root, g_out, x, out, ctx)
        return grad + _restore_dims(g_mean, ctx.dims, ctx.keepdim) / ctx.count

    @classmethod
    def jvp(cls, inputs, out, tangents):
        x, dims, correction, keepdim = inputs
        t = tangents[0]
        return (_var_jvp(cls.root, x, t, out[0], dims, correction, keepdim),
                fit(Mean.apply(t, dims, keepdim, None), out[1]))


class StdMean(VarMean):
    node_name = "StdMeanBackward0"
    name_, root = "std_mean", True


def _correction(dim, unbiased, correction, keepdim):
    """Sort out torch's overloads: ``(dim, unbiased, keepdim)`` or ``(unbiased)``."""
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    if unbiased is not None and correction is not None:
        raise TypeError("std/var: cannot pass both 'unbiased' and 'correction'")
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    return dim, correction


def _var_family(op, input: Tensor, dim, unbiased, keepdim, correction):
    dim, corr = _correction(dim, unbiased, correction, keepdim)
    return op.apply(input, _dims(dim, input.ndim), corr, keepdim)


@tensor_method()
def var(input: Tensor, dim=None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction: float | None = None) -> Tensor:
    """Variance over ``dim`` with Bessel's ``correction`` (default 1)."""
    return _var_family(Var, input, dim, unbiased, keepdim, correction)


@tensor_method()
def std(input: Tensor, dim=None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction: float | None = None) -> Tensor:
    """Standard deviation over ``dim`` with Bessel's ``correction`` (default 1)."""
    return _var_family(Std, input, dim, unbiased, keepdim, correction)


def var_mean(input: Tensor, dim=None, unbiased: bool | None = None, keepdim: bool = False, *,
             correction: float | None = None) -> tuple:
    """``(var, mean)`` over ``dim``."""
    return _var_family(VarMean, input, dim, unbiased, keepdim, correction)


def std_mean(input: Tensor, dim=None, unbiased: bool | None = None, keepdim: bool = False, *,
             correction: float | None = None) -> tuple:
    """``(std, mean)`` over ``dim``."""
    return _var_family(StdMean, input, dim, unbiased, keepdim, correction)


# -- norms and logsumexp ----------------------------------------------------------------------
class VectorNorm(Op):
    """d ||x||_p = sign(x) |x|^(p-1) / ||x||^(p-1) dx  (max-norm: evenly among the ties)"""

    node_name = "LinalgVectorNormBackward0"

    @staticmethod
    def forward(ctx, x, p, dims, keepdim):
        _float_only("linalg.vector_norm", x)
        a, ax = xp.abs(x._data), _axis(dims)
        if p in (math.inf, -math.inf):
            if a.size == 0:
                raise RuntimeError("linalg.vector_norm cannot compute the inf norm on an empty "
                                   "tensor because the operation does not have an identity")
            out = (a.max if p > 0 else a.min)(axis=ax, keepdims=keepdim)
        elif p == 0:
            out = (a != 0).sum(axis=ax, keepdims=keepdim).astype(a.dtype)
        elif p == 1:
            out = a.sum(axis=ax, keepdims=keepdim)
        elif p == 2:
            out = xp.sqrt((a * a).sum(axis=ax, keepdims=keepdim))
        else:
            with xp.errstate(divide="ignore"):
                out = (a ** p).sum(axis=ax, keepdims=keepdim) ** (1.0 / p)
        out = xp.asarray(out)
        ctx.save_for_backward(x, out)
        ctx.p, ctx.dims, ctx.keepdim = p, dims, keepdim
        return out

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        p, dims, keepdim = ctx.p, ctx.dims, ctx.keepdim
        if p in (math.inf, -math.inf):
            return _evenly(g, xp.abs(x._data), out._data, dims, keepdim) * x.sign()
        g = _restore_dims(g, dims, keepdim)
        if p == 0:
            return None  # piecewise constant: no gradient at all, as in PyTorch
        if p == 1:
            return g * x.sign()
        out = _restore_dims(out, dims, keepdim)
        zero = _make(out._data == 0)
        if p == 2:
            return _where(zero, 0.0, g * x / out)
        scaled = x.sign() * x.abs() ** (p - 1) / _where(zero, 1.0, out) ** (p - 1)
        return _where(zero, 0.0, g * scaled)

    @staticmethod
    def jvp(inputs, out, tangents):
        x, p, dims, keepdim = inputs
        return fit(norm_jvp(primal(x), tangents[0], p, out, dims, keepdim), out)


def norm_jvp(x: Tensor, t: Tensor, p: float, norm: Tensor, dims: tuple, keepdim: bool
             ) -> Tensor:
    """d ||x||_p along ``t`` (PyTorch's formulas per p; a zero norm gives 0 where they
    divide by it; the inf norms average the tangents of the elements at the extremum)."""
    if p == 0:
        return norm.new_zeros(norm.shape)
    if dims == () and x.ndim:
        dims = tuple(range(x.ndim))
    real_dir = re(x.sgn() * conj(t)) if x.is_complex() else x.sign() * t
    if p == 1:
        return _sum_dims(real_dir, dims, keepdim)
    if p == 2:
        return _where(norm == 0, 0.0, _sum_dims(re(x * conj(t)), dims, keepdim) / norm)
    if math.isinf(p):
        ref = _restore_dims(norm, dims, keepdim)
        hit = (x.abs() == ref) | (x.isnan() & ref.isnan())
        hit = hit.to(real_dir.dtype)
        count = _sum_dims(hit, dims, True)
        return _sum_dims(real_dir * hit / count, dims, keepdim)
    a = x.abs()
    if p < 1:  # |x|^(p-1) is infinite at 0, where the direction is 0: the term is 0
        power = _where(x == 0, 0.0, a ** (p - 1))
        return _sum_dims(real_dir * power, dims, keepdim) * norm ** (1 - p)
    if p < 2:
        dnorm = _sum_dims(real_dir * a ** (p - 1), dims, keepdim) * norm ** (1 - p)
    else:
        dnorm = _sum_dims(re(x * conj(t)) * a ** (p - 2), dims, keepdim) / norm ** (p - 1)
    return _where(norm == 0, 0.0, dnorm)


@tensor_method()
def norm(input: Tensor, p="fro", dim=None, keepdim: bool = False, out=None,
         dtype: _DType | None = None) -> Tensor:
    """Vector p-norm (``'fro'`` = 2) over ``dim`` (all elements by default)."""
    if dtype is not None:
        input = input.to(dtype)
    if p is None or p == "fro":
        p = 2
    elif p == "nuc":
        raise NotImplementedError("norm: the nuclear norm is not supported by ember")
    elif isinstance(p, str):
        raise RuntimeError(f"linalg.matrix_norm: Order {p} not supported.")
    result = VectorNorm.apply(input, float(p), _dims(dim, input.ndim), keepdim)
    if out is not None:
        from .inplace import copy_into_out
        return copy_into_out(out, result)
    return result


class Logsumexp(Op):
    """d logsumexp(x) = softmax(x) dx = exp(x - logsumexp(x)) dx"""

    node_name = "LogsumexpBackward0"

    @staticmethod
    def forward(ctx, x, dims, keepdim):
        a = floating(x)
        ax = _axis(dims)
        with xp.errstate(invalid="ignore", divide="ignore", over="ignore"):
            if a.size:
                m = a.max(axis=ax, keepdims=True)
                m = xp.where(xp.isfinite(m), m, 0)  # all -inf (or inf): no shift
                s = xp.log(xp.exp(a - m).sum(axis=ax, keepdims=True)) + m
                out = s if keepdim else s.reshape(xp.sum(a, axis=ax).shape)
            else:
                out = xp.log(xp.exp(a).sum(axis=ax, keepdims=keepdim))
        out = xp.asarray(out)
        ctx.save_for_backward(x, out)
        ctx.dims, ctx.keepdim = dims, keepdim
        return out

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        dims, keepdim = ctx.dims, ctx.keepdim
        return _restore_dims(g, dims, keepdim) * exp(x - _restore_dims(out, dims, keepdim))

    @staticmethod
    def jvp(inputs, out, tangents):
        x, dims, keepdim = primal(inputs[0]), inputs[1], inputs[2]
        t = tangents[0]
        if x.numel():  # softmax(x) . t, shifted by the max against overflow
            from .sorting import amax
            x = x - amax(x, dims, True) if dims else x - x
        e = exp(x)
        return fit(_sum_dims(e * t, dims, keepdim) / _sum_dims(e, dims, keepdim), out)


@tensor_method()
def logsumexp(input: Tensor, dim, keepdim: bool = False) -> Tensor:
    """``log(sum(exp(input)))`` over ``dim``, computed without overflow."""
    return Logsumexp.apply(input, _dims(dim, input.ndim), keepdim)


# -- logical reductions -----------------------------------------------------------------------
def _logical(fn, input: Tensor, dim, keepdim: bool) -> Tensor:
    a = input._data
    out = xp.asarray(fn(a, axis=_axis(_dims(dim, a.ndim)), keepdims=keepdim))
    return _make(out.astype(xp.uint8) if a.dtype == xp.uint8 else out)


@tensor_method()
@nondifferentiable
def all(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Whether every element (over ``dim``) is nonzero (bool; uint8 for uint8 input)."""
    return _logical(xp.all, input, dim, keepdim)


@tensor_method()
@nondifferentiable
def any(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Whether some element (over ``dim``) is nonzero (bool; uint8 for uint8 input)."""
    return _logical(xp.any, input, dim, keepdim)


@tensor_method()
@nondifferentiable
def count_nonzero(input: Tensor, dim=None) -> Tensor:
    """Number of nonzero elements over ``dim`` (int64)."""
    a = input._data
    n = xp.count_nonzero(a, axis=_axis(_dims(dim, a.ndim)))
    return _make(xp.asarray(n, dtype=xp.int64))


# -- scans along one dim ----------------------------------------------------------------------
def _scan(fn, a, dim: int, **kw):
    """``fn`` along ``dim`` (a 0-d array scans as a 1-element vector)."""
    if a.ndim == 0:
        return fn(a.reshape(1), axis=0, **kw).reshape(())
    return fn(a, axis=dim, **kw)


def _rev_cumsum(a, axis):
    return xp.flip(xp.cumsum(xp.flip(a, axis), axis=axis), axis)


class Cumsum(Op):
    """d cumsum(x)_i = sum of the gradients at positions >= i"""

    node_name = "CumsumBackward0"

    @staticmethod
    def forward(ctx, x, dim, dtype):
        ctx.dim = dim
        a = x._data
        out_dtype = _int_to_long(a, dtype)
        if a.dtype.kind == "f" and out_dtype is None:
            # PyTorch accumulates float scans in double on the CPU.
            return _scan(xp.cumsum, a, dim, dtype=xp.float64).astype(a.dtype)
        return _scan(xp.cumsum, a, dim, dtype=out_dtype)

    @staticmethod
    def backward(ctx, g):
        return RevCumsum.apply(g, ctx.dim)

    @staticmethod
    def jvp(inputs, out, tangents):
        return Cumsum.apply(tangents[0], *inputs[1:])


class RevCumsum(Op):
    """d revcumsum(x)_i = sum of the gradients at positions <= i"""

    node_name = "CumsumBackward0"

    @staticmethod
    def forward(ctx, g, dim):
        ctx.dim = dim
        return _scan(_rev_cumsum, g._data, dim)

    @staticmethod
    def backward(ctx, gg):
        return Cumsum.apply(gg, ctx.dim, None)

    @staticmethod
    def jvp(inputs, out, tangents):
        return RevCumsum.apply(tangents[0], inputs[1])


class Cumprod(Op):
    """d cumprod(x)_i = sum_{j>=i} g_j prod_{k<=j, k!=i} x_k  (exact with zeros)"""

    node_name = "CumprodBackward0"

    @staticmethod
    def forward(ctx, x, dim, dtype):
        out = _scan(xp.cumprod, x._data, dim, dtype=_int_to_long(x._data, dtype))
        ctx.save_for_backward(x, out)
        ctx.dim = dim
        return out

    @staticmethod
    def backward(ctx, g):
        x, out = ctx.saved_tensors
        d = ctx.dim
        zero = x._data == 0
        if not zero.any():
            return RevCumsum.apply(g * out, d) / x
        # Where x_i != 0 the formula above holds; at the first zero, the running product
        # with that zero replaced by one; at later zeros every term contains the first zero.
        seen = _scan(xp.cumsum, zero, d)
        first = _make(zero & (seen == 1))
        at_first = RevCumsum.apply(g * Cumprod.apply(_where(first, 1.0, x), d, None), d)
        zero_t = _make(zero)
        ahead = RevCumsum.apply(g * out, d) / _where(zero_t, 1.0, x)
        return _where(zero_t, _where(first, at_first, 0.0), ahead)

    @staticmethod
    def jvp(inputs, out, tangents):
        x, d = primal(inputs[0]), inputs[1]
        t = tangents[0]
        if x.dtype != out.dtype:
            x, t = x.to(out.dtype), t.to(out.dtype)
        # d out_j = sum_{i<=j} t_i prod_{k<=j, k!=i} x_k: before the first zero,
        # out_j * cumsum(t/x)_j; from the first zero to the second, the product of the
        # nonzero elements times the first zero's tangent; after that, 0.
        zero = x == 0
        seen = Cumsum.apply(zero.to(x.dtype), d, None)
        safe = _where(zero, 1.0, x)
        nonzero_prod = Cumprod.apply(safe, d, None)
        before = nonzero_prod * Cumsum.apply(_where(zero, 0.0, t) / safe, d, None)
        first = Cumsum.apply(_where(zero & (seen == 1), t, 0.0), d, None)
        return fit(_where(seen == 0, before, _where(seen == 1, nonzero_prod * first, 0.0)), out)


def _scan_dim(input: Tensor, dim: int) -> int:
    return wrap_dim(int(dim), input.ndim)


@tensor_method()
def cumsum(input: Tensor, dim: int, *, dtype: _DType | None = None) -> Tensor:
    """Running sum along ``dim`` (ints accumulate in int64)."""
    return Cumsum.apply(input, _scan_dim(input, dim), dtype)


@tensor_method()
def cumprod(input: Tensor, dim: int, *, dtype: _DType | None = None) -> Tensor:
    """Running product along ``dim`` (ints accumulate in int64)."""
    return Cumprod.apply(input, _scan_dim(input, dim), dtype)


@tensor_method()
def diff(input: Tensor, n: int = 1, dim: int = -1, prepend: Tensor | None = None,
         append: Tensor | None = None) -> Tensor:
    """``n``-th forward difference along ``dim`` (bool inputs: ``!=``)."""
    if input.ndim == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    d = wrap_dim(int(dim), input.ndim)
    if prepend is not None or append is not None:
        from .joining import cat
        parts = [t for t in (prepend, input, append) if t is not None]
        input = cat(parts, d)
    head = (slice(None),) * d
    for _ in range(n):
        size = input.shape[d]
        if size == 0:
            break
        hi, lo = input[head + (slice(1, None),)], input[head + (slice(0, size - 1),)]
        input = hi != lo if input._data.dtype == bool else hi - lo
    return input



# -- quantiles --------------------------------------------------------------------------------
_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile(input: Tensor, q, dim, keepdim: bool, interpolation: str, skip_nan: bool):
    """Sort along the reduced dim (moved last), gather the neighbours of rank ``q*(n-1)``
    and interpolate; the gradient flows through the sort, gathers and lerp."""
    name = "quantile"          # torch's messages say quantile() for nanquantile too
    dt = input._data.dtype
    if dt.kind != "f":
        raise RuntimeError(f"{name}() input tensor must be either float or double dtype")
    if isinstance(q, Tensor):
        if q.ndim > 1:
            raise RuntimeError(f"{name}() q must be a scalar or 1D tensor")
        if q._data.dtype != dt:
            raise RuntimeError(f"{name}() q tensor must be same dtype as the input tensor")
        qa, scalar_q = q._data, q.ndim == 0
        if ((qa < 0) | (qa > 1)).any():
            raise RuntimeError(f"{name}() q values must be in the range [0, 1]")
    else:
        if not 0 <= q <= 1:
            raise RuntimeError(f"{name}() q must be in the range [0, 1] but got {q:g}")
        qa, scalar_q = xp.asarray(q, dtype=dt), True
    if interpolation not in _INTERPOLATIONS:
        raise RuntimeError(f"{name}() interpolation must be one of linear, lower, higher, "
                           f"midpoint or nearest, but got {interpolation}")
    if input.numel() == 0:
        raise RuntimeError(f"{name}() input tensor must be non-empty")
    if dim is None or input.ndim == 0:
        if dim is not None:
            wrap_dim(dim, 1)
        src = input.reshape((1,) * input.ndim + (-1,) if keepdim else (-1,))
    else:
        d = wrap_dim(dim, input.ndim)
        src = input.unsqueeze(-1).transpose(d, -1)
        src = src if keepdim else src.squeeze(d)
    from .sorting import sort
    s = sort(src, -1)[0]
    n = s.shape[-1]
    # The ranks come from q and the NaN pattern only: no gradient flows through them.
    qv = (q.detach() if isinstance(q, Tensor) else _make(qa)).reshape(-1)
    if skip_nan:       # rank among the valid values; all-NaN rows take rank 0 (NaN, sorted last)
        valid = s.isnan().logical_not().sum(-1, keepdim=True)
        ranks = _where(valid > 0, qv * (valid - 1).to(s.dtype), 0.0)
    else:              # a row holding NaN takes the last rank, which is NaN
        ranks = (qv * (n - 1)).expand(tuple(s.shape[:-1]) + (qv.shape[0],))
        ranks = _where(s[..., -1:].isnan(), float(n - 1), ranks)
    if interpolation in ("lower", "higher", "nearest"):
        ranks = {"lower": ranks.floor, "higher": ranks.ceil, "nearest": ranks.round}[
            interpolation]()
    below = ranks.long()
    out = s.gather(-1, below)
    if interpolation in ("linear", "midpoint"):
        w = ranks.new_full(tuple(ranks.shape), 0.5) if interpolation == "midpoint" else (
            ranks - below)
        out = out.lerp(s.gather(-1, ranks.ceil().long()), w)
    if scalar_q:
        return out.squeeze_(-1)
    return out.unsqueeze_(0).transpose_(0, -1).squeeze_(-1)


@tensor_method()
def quantile(input: Tensor, q, dim: int | None = None, keepdim: bool = False, *,
             interpolation: str = "linear") -> Tensor:
    """The ``q``-th quantiles (a number or a 1-D tensor; a leading dim of size ``len(q)``)
    along ``dim`` (all elements if ``None``); NaN if the reduced values hold NaN."""
    return _quantile(input, q, dim, keepdim, interpolation, False)


@tensor_method()
def nanquantile(input: Tensor, q, dim: int | None = None, keepdim: bool = False, *,
                interpolation: str = "linear") -> Tensor:
    """Like ``quantile``, ignoring NaN (NaN only where every reduced value is NaN)."""
    return _quantile(input, q, dim, keepdim, interpolation, True)
