"""More in-place Tensor methods: the comparisons (``lt_``, ``eq_``, ...), ``fill_diagonal_``,
the random fills ``cauchy_``, ``log_normal_`` and ``geometric_`` (drawing PyTorch's numbers
after ``manual_seed``), and the top-level in-place functions (``torch.abs_(x)`` is
``x.abs_()``)."""

from __future__ import annotations

import math

from .._creation import _fill, _gen
from .._random import _cast, _libm, _numel
from ._util import Op, Tensor, operands, tensor_method, xp
from .inplace import apply_inplace

# -- in-place comparisons ---------------------------------------------------------------------
_COMPARE = {"lt": xp.less, "le": xp.less_equal, "gt": xp.greater, "ge": xp.greater_equal,
            "eq": xp.equal, "ne": xp.not_equal}


class _CompareInplace(Op):
    """``self.lt_(other)``: the comparison written back in self's dtype; d = 0"""

    cmp = "lt"

    @classmethod
    def forward(cls, ctx, x, other):
        a, b = operands(x, other)
        out = _COMPARE[cls.cmp](a, b)
        if out.shape != x._data.shape:
            raise RuntimeError(f"output with shape {list(x.shape)} doesn't match the broadcast "
                               f"shape {list(out.shape)}")
        return out.astype(x._data.dtype)

    @staticmethod
    def backward(ctx, g):
        return g * 0, (g * 0 if ctx.needs_input_grad[1] else None)

    @staticmethod
    def jvp(inputs, out, tangents):
        # a zero tangent where self had one (PyTorch gives none for ``plain.lt_(dual)``)
        return None if tangents[0] is None else out.new_zeros(out.shape)


class LtScalar(_CompareInplace):
    node_name = "LtBackward0"
    cmp = "lt"


class LtTensor(LtScalar):
    node_name = "LtBackward1"


class LeScalar(_CompareInplace):
    node_name = "LeBackward0"
    cmp = "le"


class LeTensor(LeScalar):
    node_name = "LeBackward1"


class GtScalar(_CompareInplace):
    node_name = "GtBackward0"
    cmp = "gt"


class GtTensor(GtScalar):
    node_name = "GtBackward1"


class GeScalar(_CompareInplace):
    node_name = "GeBackward0"
    cmp = "ge"


class GeTensor(GeScalar):
    node_name = "GeBackward1"


class EqScalar(_CompareInplace):
    node_name = "EqBackward0"
    cmp = "eq"


class EqTensor(EqScalar):
    node_name = "EqBackward1"


class NeScalar(_CompareInplace):
    node_name = "NeBackward0"
    cmp = "ne"


class NeTensor(NeScalar):
    node_name = "NeBackward1"


def _compare_method(name: str, scalar_cls, tensor_cls):
    def method(self: Tensor, other) -> Tensor:
        op = tensor_cls if isinstance(other, Tensor) else scalar_cls
        return apply_inplace(self, op.apply, other)
    method.__name__ = name
    method.__doc__ = f"In-place ``{name[:-1]}``: 1 where it holds, else 0, in self's dtype."
    return method


for _names, _s, _t in ((("lt_", "less_"), LtScalar, LtTensor),
                       (("le_", "less_equal_"), LeScalar, LeTensor),
                       (("gt_", "greater_"), GtScalar, GtTensor),
                       (("ge_", "greater_equal_"), GeScalar, GeTensor),
                       (("eq_",), EqScalar, EqTensor),
                       (("ne_", "not_equal_"), NeScalar, NeTensor)):
    tensor_method(*_names)(_compare_method(_names[0], _s, _t))


# -- fill_diagonal_ ---------------------------------------------------------------------------
@tensor_method()
def fill_diagonal_(self: Tensor, fill_value, wrap: bool = False) -> Tensor:
    """Fill the main diagonal (of all dims, which must be equal beyond 2-D) with
    ``fill_value``; a tall matrix with ``wrap`` restarts the diagonal every ``n + 1`` rows."""
    if self.ndim < 2:
        raise RuntimeError("dimensions must larger than 1")
    if self.ndim > 2:
        n = self.shape[0]
        if any(s != n for s in self.shape):
            raise RuntimeError("all dimensions of input must be of equal length")
        self.as_strided((n,), (sum(self.stride()),), self.storage_offset()).fill_(fill_value)
        return self
    m, n = self.shape
    starts = range(0, m, n + 1) if wrap and m > n + 1 else (0,)
    for start in starts:
        self[start:].diagonal().fill_(fill_value)
    return self


# -- random fills ---------------------------------------------------------------------------
@tensor_method()
def cauchy_(self: Tensor, median: float = 0.0, sigma: float = 1.0, *,
            generator=None) -> Tensor:
    """Fill with Cauchy samples: ``median + sigma * tan(pi (u - 1/2))``, u uniform (float64)."""
    if not sigma > 0:
        raise RuntimeError(f"cauchy_ expects sigma > 0.0, but found sigma={sigma}")
    if not self.dtype.is_floating_point:
        raise RuntimeError("Cauchy distribution is a continuous probability distribution. "
                           f"dtype must be a floating point but you specified "
                           f"{_c_type(self)}")
    g, dt = _gen(generator), self.dtype

    def draw(shape):
        u = g._unit(_numel(shape), 53)
        return _cast(median + sigma * _libm(math.tan, math.pi * (u - 0.5)), dt, shape)
    return _fill(self, "CauchyBackward0", draw)


@tensor_method()
def log_normal_(self: Tensor, mean: float = 1.0, std: float = 2.0, *,
                generator=None) -> Tensor:
    """Fill with ``exp(N(mean, std²))`` samples."""
    if not std > 0:
        raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={std}")
    if not self.dtype.is_floating_point:
        raise NotImplementedError(f'"log_normal_cpu" not implemented for '
                                  f"'{self.dtype._legacy_name[:-6]}'")
    g, dt = _gen(generator), self.dtype

    def draw(shape):
        return _cast(_libm(math.exp, g._normal_scalar(_numel(shape), mean, std)), dt, shape)
    return _fill(self, "LogNormalBackward0", draw)


@tensor_method()
def geometric_(self: Tensor, p: float, *, generator=None) -> Tensor:
    """Fill with the number of Bernoulli(p) trials up to the first success:
    ``ceil(log(u) / log(1 - p))``."""
    if not 0 < p < 1:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={p}")
    g, dt = _gen(generator), self.dtype

    def draw(shape):
        u = g._unit(_numel(shape), 53)
        return _cast(xp.ceil(_libm(math.log, u) / math.log1p(-p)), dt, shape)
    return _fill(self, "GeometricBackward0", draw)


def _c_type(t: Tensor) -> str:
    """The C type name PyTorch prints for an integer dtype (``long int``, ...)."""
    return {"int64": "long int", "int32": "int", "int16": "short int", "int8": "signed char",
            "uint8": "unsigned char", "bool": "bool"}.get(t.dtype.name, t.dtype.name)


# -- torch.abs_(x) and friends ----------------------------------------------------------------
_TOP_LEVEL_INPLACE = (
    "abs_", "acos_", "acosh_", "arccos_", "arccosh_", "arcsin_", "arcsinh_", "arctan_",
    "arctanh_", "asin_", "asinh_", "atan_", "atanh_", "ceil_", "clamp_", "clamp_max_",
    "clamp_min_", "clip_", "cos_", "cosh_", "deg2rad_", "erf_", "erfc_", "exp2_", "exp_",
    "expm1_", "fill_", "fix_", "floor_", "frac_", "gcd_", "i0_", "lcm_", "ldexp_", "log10_",
    "log1p_", "log2_", "log_", "logit_", "nan_to_num_", "neg_", "negative_", "rad2deg_",
    "reciprocal_", "round_", "rsqrt_", "sigmoid_", "sin_", "sinc_", "sinh_", "sqrt_",
    "square_", "tan_", "tanh_", "trunc_", "xlogy_", "zero_", "detach_", "as_strided_",
    "resize_as_", "ldexp_", "addmv_", "conj_physical_", "polygamma_", "mvlgamma_", "renorm_")


def _top_level(name: str):
    def fn(input: Tensor, *args, **kwargs) -> Tensor:
        return getattr(input, name)(*args, **kwargs)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"``input.{name}(...)``: in place."
    return fn


__all__ = [n for n in _TOP_LEVEL_INPLACE if hasattr(Tensor, n)]
for _name in __all__:
    globals()[_name] = _top_level(_name)
