"""Pointwise math beyond ``elementwise.py`` and ``unary.py``: rounding, clamping, binary
math (atan2, maximum, remainder, ...), lerp/addcmul/addcdiv, predicates, and the logical and
bitwise family with its operators. Each op's forward sits beside its derivative; backward
uses Tensor ops, so double backward works.
"""

from __future__ import annotations

import math

from .._dtype import complex128, float64, get_default_dtype, result_type
from ..autograd.function import nondifferentiable
from ._bitwise import (
    _not_implemented,
    _scalar_name,
    allclose,
    bitwise_and,
    bitwise_left_shift,
    bitwise_not,
    bitwise_or,
    bitwise_right_shift,
    bitwise_xor,
    equal,
    isclose,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    set_operator,
)
from ._jvp import fit, or_zeros, primal, refuse_dual
from ._util import Op, Tensor, _make, ndarray, operands, tensor_method, xp
from .complex import conj_any  # holomorphic ops: grad * conj(f'(z)), PyTorch's convention
from .elementwise import _tangent_sum, _zero_tangent, div, pow
from .indexing import where
from .inplace import apply_inplace, register_inplace
from .unary import _masked, _zeros

__all__ = [
    "floor", "ceil", "round", "trunc", "fix", "frac",
    "positive", "nan_to_num", "clamp", "clip", "clamp_min", "clamp_max", "atan2", "arctan2",
    "maximum", "minimum", "fmax", "fmin", "hypot", "logaddexp", "logaddexp2", "xlogy",
    "remainder", "fmod", "floor_divide", "copysign", "float_power", "heaviside", "lerp",
    "addcmul", "addcdiv", "isnan", "isinf", "isfinite", "isposinf", "isneginf", "isreal",
    "signbit", "logical_and", "logical_or", "logical_xor", "logical_not", "bitwise_and",
    "bitwise_or", "bitwise_xor", "bitwise_not", "bitwise_left_shift", "bitwise_right_shift",
    "equal", "allclose", "isclose",
]

def _to_float(x, y):
    """Operands of an integer result taken to the default float dtype."""
    if (x if isinstance(x, ndarray) else y).dtype.kind not in "fc":
        dt = get_default_dtype().np
        x = x.astype(dt) if isinstance(x, ndarray) else float(x)
        y = y.astype(dt) if isinstance(y, ndarray) else float(y)
    return x, y


# -- rounding and friends ---------------------------------------------------------------------
class _Rounding(Op):
    """Shared forward of floor/ceil/trunc/round: ``fn`` on float inputs, integer inputs
    returned as they are; d = 0 (piecewise constant)."""

    kernel = ""

    @staticmethod
    def fn(a):
        raise NotImplementedError

    @classmethod
    def forward(cls, ctx, x):
        a = x._data
        if a.dtype.kind == "b":
            raise _not_implemented(cls.kernel, a.dtype)
        return cls.fn(a) if a.dtype.kind in "fc" else a.copy()

    @staticmethod
    def backward(ctx, g):
        return _zeros(g)

    @staticmethod
    def jvp(inputs, out, tangents):
        return _zero_tangent(out)


class Floor(_Rounding):
    node_name = "FloorBackward0"
    kernel = "floor_vml_cpu"
    fn = staticmethod(xp.floor)


class Ceil(_Rounding):
    node_name = "CeilBackward0"
    kernel = "ceil_vml_cpu"
    fn = staticmethod(xp.ceil)


class Trunc(_Rounding):
    node_name = "TruncBackward0"
    kernel = "trunc_vml_cpu"
    fn = staticmethod(xp.trunc)


class Round(_Rounding):
    node_name = "RoundBackward0"
    kernel = "round_vml_cpu"
    fn = staticmethod(xp.rint)


class RoundDecimals(Op):
    """d round(x, decimals) = 0"""

    node_name = "RoundBackward1"

    @staticmethod
    def forward(ctx, x, decimals):
        a = x._data
        if a.dtype.kind not in "fc":
            raise _not_implemented("round_cpu", a.dtype)
        return xp.round(a, decimals)

    @staticmethod
    def backward(ctx, g):
        return _zeros(g), None

    @staticmethod
    def jvp(inputs, out, tangents):
        return _zero_tangent(out)


class Frac(Op):
    """d frac(x) = dx"""

    node_name = "FracBackward0"

    @staticmethod
    def forward(ctx, x):
        a = x._data
        if a.dtype.kind not in "fc":
            raise _not_implemented("frac_cpu", a.dtype)
        return a - xp.trunc(a)

    @staticmethod
    def backward(ctx, g):
        return g

    @staticmethod
    def jvp(inputs, out, tangents):
        return tangents[0]


@tensor_method()
def floor(input: Tensor) -> Tensor:
    """Largest integer <= x (integer inputs are returned as is)."""
    return Floor.apply(input)


@tensor_method()
def ceil(input: Tensor) -> Tensor:
    """Smallest integer >= x (integer inputs are returned as is)."""
    return Ceil.apply(input)


@tensor_method("trunc", "fix")
def trunc(input: Tensor) -> Tensor:
    """Round toward zero (integer inputs are returned as is)."""
    return Trunc.apply(input)


fix = trunc


@tensor_method()
def frac(input: Tensor) -> Tensor:
    """Fractional part ``x - trunc(x)`` (keeps the sign)."""
    return Frac.apply(input)




@tensor_method()
def round(input: Tensor, *, decimals: int = 0) -> Tensor:
    """Round half to even, to ``decimals`` decimal places (negative: left of the point)."""
    if decimals == 0:
        return Round.apply(input)
    return RoundDecimals.apply(input, int(decimals))


@tensor_method()
def positive(input: Tensor) -> Tensor:
    """``+x``: returns ``input`` itself."""
    if input._data.dtype == bool:
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return input


class NanToNum(Op):
    """d nan_to_num(x) = [x finite] dx"""

    node_name = "NanToNumBackward0"

    @staticmethod
    def forward(ctx, x, nan, posinf, neginf):
        ctx.save_for_backward(x)
        a = x._data
        if a.dtype.kind not in "fc":
            return a.copy()
        return xp.nan_to_num(a, nan=nan, posinf=posinf, neginf=neginf)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return _masked(g, isfinite(x)), None, None, None

    @staticmethod
    def jvp(inputs, out, tangents):
        return _masked(tangents[0], isfinite(primal(inputs[0])))


@tensor_method()
def nan_to_num(input: Tensor, nan: float = 0.0, posinf: float | None = None,
               neginf: float | None = None) -> Tensor:
    """Replace NaN with ``nan`` and ±inf with ``posinf``/``neginf`` (default: the dtype's
    largest and lowest finite values)."""
    return NanToNum.apply(input, nan, posinf, neginf)


# -- clamp ------------------------------------------------------------------------------------
def _inside(x: Tensor, lo, hi) -> Tensor:
    """Where ``lo <= x <= hi`` (a bound may be None): where clamp passes x's derivative."""
    return (x >= lo) if hi is None else (x <= hi) if lo is None else \
        logical_and(x >= lo, x <= hi)


class ClampScalar(Op):
    """d clamp(x, lo, hi) = [lo <= x <= hi] dx  (bounds are numbers; either may be None)"""

    node_name = "ClampBackward1"

    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.save_for_backward(x)
        ctx.lo, ctx.hi = lo, hi
        a = x._data
        dt = result_type(x, *(v for v in (lo, hi) if v is not None)).np
        if a.dtype != dt:
            a = a.astype(dt)
        if lo is not None:
            a = xp.maximum(a, lo)
        return xp.minimum(a, hi) if hi is not None else a

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return _masked(g, _inside(x, ctx.lo, ctx.hi)), None, None

    @staticmethod
    def jvp(inputs, out, tangents):
        x, lo, hi = inputs
        return fit(_masked(tangents[0], _inside(primal(x), lo, hi)), out)


class ClampMin(ClampScalar):
    node_name = "ClampMinBackward0"


class ClampMax(ClampScalar):
    node_name = "ClampMaxBackward0"


class ClampTensor(Op):
    """d clamp(x, lo, hi) = [lo <= x <= hi] dx + [x < lo < hi] dlo + [x > hi or hi < lo] dhi"""

    node_name = "ClampBackward0"

    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.save_for_backward(x, lo, hi)
        dt = result_type(*(v for v in (x, lo, hi) if v is not None)).np
        a = x._data.astype(dt, copy=False)
        if lo is not None:
            a = xp.maximum(a, lo._data.astype(dt, copy=False))
        if hi is not None:
            a = xp.minimum(a, hi._data.astype(dt, copy=False))
        return a

    @staticmethod
    def backward(ctx, g):
        x, lo, hi = ctx.saved_tensors
        need_x, need_lo, need_hi = ctx.needs_input_grad
        gx = glo = ghi = None
        if need_x:
            keep = (x >= lo) if hi is None else (x <= hi) if lo is None else \
                logical_and(x >= lo, x <= hi)
            gx = _masked(g, keep)
        if need_lo:
            glo = _masked(g, (x < lo) if hi is None else logical_and(x < lo, lo < hi))
        if need_hi:
            ghi = _masked(g, (x > hi) if lo is None else logical_or(x > hi, hi < lo))
        return gx, glo, ghi

    @staticmethod
    def jvp(inputs, out, tangents):
        """PyTorch's choice at ties: x's tangent at x == hi, the bound's at x == lo when
        only ``min`` is given; where lo > hi, hi's"""
        x, lo, hi = (primal(v) for v in inputs)
        tx, tlo, thi = (None if v is None else or_zeros(t, v) for v, t in zip(inputs, tangents))
        if hi is None:
            t = where(x > lo, tx, tlo)
        elif lo is None:
            t = where(x < hi, tx, thi)
        else:
            t = where(lo > hi, thi, where(x < lo, tlo, where(x > hi, thi, tx)))
        return fit(t, out)


class ClampMinTensor(ClampTensor):
    """``clamp_min(x, lo)``: a tie goes to x (``clamp(x, min=lo)`` gives it to lo)"""

    node_name = "ClampMinBackward1"

    @staticmethod
    def jvp(inputs, out, tangents):
        (x, lo), (tx, tlo) = inputs[:2], tangents[:2]
        return fit(where(primal(x) >= primal(lo), or_zeros(tx, x), or_zeros(tlo, lo)), out)


class ClampMaxTensor(ClampTensor):
    """``clamp_max(x, hi)``: a tie goes to x"""

    node_name = "ClampMaxBackward1"

    @staticmethod
    def jvp(inputs, out, tangents):
        x, hi = inputs[0], inputs[2]
        tx, thi = tangents[0], tangents[2]
        return fit(where(primal(x) <= primal(hi), or_zeros(tx, x), or_zeros(thi, hi)), out)


def _bound(input: Tensor, value) -> Tensor:
    return _make(xp.asarray(value, dtype=result_type(input, value).np))


@tensor_method("clamp", "clip")
def clamp(input: Tensor, min=None, max=None) -> Tensor:  # noqa: A002 - torch's names
    """Limit values to ``[min, max]`` (numbers or tensors; either bound may be None)."""
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        lo = min if min is None or isinstance(min, Tensor) else _bound(input, min)
        hi = max if max is None or isinstance(max, Tensor) else _bound(input, max)
        return ClampTensor.apply(input, lo, hi)
    return ClampScalar.apply(input, min, max)


clip = clamp


@tensor_method()
def clamp_min(input: Tensor, min) -> Tensor:  # noqa: A002
    """``clamp(input, min=min)``."""
    if isinstance(min, Tensor):
        return ClampMinTensor.apply(input, min, None)
    return ClampMin.apply(input, min, None)


@tensor_method()
def clamp_max(input: Tensor, max) -> Tensor:  # noqa: A002
    """``clamp(input, max=max)``."""
    if isinstance(max, Tensor):
        return ClampMaxTensor.apply(input, None, max)
    return ClampMax.apply(input, None, max)


# -- binary math: out = fn(a, b) -------------------------------------------------------------
def _kernel_check(kernel: str, *, no_bool: bool = True, no_int: bool = False,
                  int_zero: bool = False):
    """Reject dtypes PyTorch has no kernel for, and integer division by zero."""
    def check(x, y):
        arr = x if isinstance(x, ndarray) else y
        k = arr.dtype.kind
        if (no_bool and k == "b") or (no_int and k in "iub"):
            raise _not_implemented(kernel, arr.dtype)
        if int_zero and k in "iu" and xp.any(xp.asarray(y) == 0):
            raise RuntimeError("ZeroDivisionError")
    return check


class _BinaryMath(Op):
    """Shared forward of the binary functions below: ``fn`` on the promoted operands
    (integers to the default float unless ``to_float`` is off, after ``check``), saving both
    inputs and the output. Subclasses give ``grad_a(g, a, b, out)`` and ``grad_b``."""

    to_float = True
    check = None

    @staticmethod
    def fn(x, y):
        raise NotImplementedError

    @classmethod
    def forward(cls, ctx, a, b):
        x, y = operands(a, b)
        if cls.check is not None:
            cls.check(x, y)
        if cls.to_float:
            x, y = _to_float(x, y)
        with xp.errstate(all="ignore"):
            out = xp.asarray(cls.fn(x, y))
        ctx.save_for_backward(a, b, out)
        return out

    @classmethod
    def backward(cls, ctx, g):
        a, b, out = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        return (cls.grad_a(g, a, b, out) if need_a else None,
                cls.grad_b(g, a, b, out) if need_b else None)

    @classmethod
    def jvp(cls, inputs, out, tangents):
        """The subclass's partial derivatives times the tangents: ``grad_a(da, ...) +
        grad_b(db, ...)`` (these functions are real, so backward's formulas serve)."""
        a, b = primal(inputs[0]), primal(inputs[1])
        ta, tb = tangents
        return _tangent_sum(out, None if ta is None else cls.grad_a(ta, a, b, out),
                            None if tb is None else cls.grad_b(tb, a, b, out))


def _tie_split(g, win, tie):
    return where(win, g, where(tie, g / 2, 0.0))


class Atan2(_BinaryMath):
    """d atan2(a, b) = (b da - a db) / (a² + b²)"""

    node_name = "Atan2Backward0"
    fn = staticmethod(xp.arctan2)
    grad_a = staticmethod(lambda g, a, b, o: g * b / (a * a + b * b))
    grad_b = staticmethod(lambda g, a, b, o: g * -a / (a * a + b * b))


def _tie_jvp(inputs, out, tangents, a_wins):
    """maximum/minimum: ``a``'s tangent where it wins, the mean at a tie, and, as in
    PyTorch's forward rule, ``b``'s where either is NaN."""
    a, b = inputs
    ta, tb = or_zeros(tangents[0], a), or_zeros(tangents[1], b)
    weight = where(a == b, 0.5, where(a_wins(a, b), 1.0, 0.0))
    return fit(tb + weight * (ta - tb), out)


class Maximum(_BinaryMath):
    """d max(a, b) = [a > b] da + [b > a] db (ties split the gradient)"""

    node_name = "MaximumBackward0"
    to_float = False
    fn = staticmethod(xp.maximum)
    grad_a = staticmethod(lambda g, a, b, o: _tie_split(g, a > b, a == b))
    grad_b = staticmethod(lambda g, a, b, o: _tie_split(g, b > a, a == b))

    @staticmethod
    def jvp(inputs, out, tangents):
        return _tie_jvp(inputs, out, tangents, lambda a, b: a > b)


class Minimum(_BinaryMath):
    """d min(a, b) = [a < b] da + [b < a] db (ties split the gradient)"""

    node_name = "MinimumBackward0"
    to_float = False
    fn = staticmethod(xp.minimum)
    grad_a = staticmethod(lambda g, a, b, o: _tie_split(g, a < b, a == b))
    grad_b = staticmethod(lambda g, a, b, o: _tie_split(g, b < a, a == b))

    @staticmethod
    def jvp(inputs, out, tangents):
        return _tie_jvp(inputs, out, tangents, lambda a, b: a < b)


def _select_jvp(inputs, out, tangents, takes_a):
    """The tangent of an op that selects one operand: ``a``'s where ``takes_a(a, b)``."""
    a, b = inputs
    ta, tb = or_zeros(tangents[0], a), or_zeros(tangents[1], b)
    return fit(where(takes_a(primal(a), primal(b)), ta, tb), out)


class Fmax(_BinaryMath):
    """d fmax(a, b) = the gradient goes to the selected operand"""

    node_name = "FmaxBackward0"
    to_float = False
    fn = staticmethod(xp.fmax)
    grad_a = staticmethod(lambda g, a, b, o: _masked(g, logical_or(a >= b, isnan(b))))
    grad_b = staticmethod(lambda g, a, b, o: _masked(g, ~logical_or(a >= b, isnan(b))))

    @staticmethod
    def jvp(inputs, out, tangents):
        """PyTorch's forward rule gives a tie to ``other`` (its backward, to ``input``)"""
        return _select_jvp(inputs, out, tangents, lambda a, b: logical_or(a > b, isnan(b)))


class Fmin(_BinaryMath):
    """d fmin(a, b) = the gradient goes to the selected operand"""

    node_name = "FminBackward0"
    to_float = False
    fn = staticmethod(xp.fmin)
    grad_a = staticmethod(lambda g, a, b, o: _masked(g, logical_or(a <= b, isnan(b))))
    grad_b = staticmethod(lambda g, a, b, o: _masked(g, ~logical_or(a <= b, isnan(b))))

    @staticmethod
    def jvp(inputs, out, tangents):
        return _select_jvp(inputs, out, tangents, lambda a, b: logical_or(a <= b, isnan(b)))


class Hypot(_BinaryMath):
    """d hypot(a, b) = (a da + b db) / hypot(a, b)"""

    node_name = "HypotBackward0"
    fn = staticmethod(xp.hypot)
    check = staticmethod(_kernel_check("hypot_cpu", no_int=True))
    grad_a = staticmethod(lambda g, a, b, o: g * a / o)
    grad_b = staticmethod(lambda g, a, b, o: g * b / o)


class Logaddexp(_BinaryMath):
    """d log(e^a + e^b) = (e^a da + e^b db) / (e^a + e^b)"""

    node_name = "LogaddexpBackward0"
    fn = staticmethod(xp.logaddexp)
    check = staticmethod(_kernel_check("logaddexp_cpu", no_int=True))
    grad_a = staticmethod(lambda g, a, b, o: g * (a - o).exp())
    grad_b = staticmethod(lambda g, a, b, o: g * (b - o).exp())


class Logaddexp2(_BinaryMath):
    """d log2(2^a + 2^b) = (2^a da + 2^b db) / (2^a + 2^b)"""

    node_name = "Logaddexp2Backward0"
    fn = staticmethod(xp.logaddexp2)
    check = staticmethod(_kernel_check("logaddexp2_cpu", no_int=True))
    grad_a = staticmethod(lambda g, a, b, o: g * (a - o).exp2())
    grad_b = staticmethod(lambda g, a, b, o: g * (b - o).exp2())


class Remainder(_BinaryMath):
    """d (a mod b) = da - floor(a/b) db  (a tensor divisor; PyTorch's RemainderBackward1)"""

    node_name = "RemainderBackward1"
    to_float = False
    fn = staticmethod(xp.remainder)
    check = staticmethod(_kernel_check("remainder_cpu", int_zero=True))
    grad_a = staticmethod(lambda g, a, b, o: g)
    grad_b = staticmethod(lambda g, a, b, o: -g * div(a, b, rounding_mode="floor"))


class RemainderScalar(Remainder):
    """``remainder(tensor, number)``"""

    node_name = "RemainderBackward0"


class Fmod(_BinaryMath):
    """d fmod(a, b) = da - trunc(a/b) db  (a tensor divisor)"""

    node_name = "FmodBackward1"
    to_float = False
    fn = staticmethod(xp.fmod)
    check = staticmethod(_kernel_check("fmod_cpu", int_zero=True))
    grad_a = staticmethod(lambda g, a, b, o: g)
    grad_b = staticmethod(lambda g, a, b, o: -g * div(a, b, rounding_mode="trunc"))


class FmodScalar(Fmod):
    """``fmod(tensor, number)``"""

    node_name = "FmodBackward0"


def _copysign_grad(g, a, b, o):
    safe = where(a == 0, 1.0, a)
    return _masked(g * (o / safe), a != 0)


class Copysign(_BinaryMath):
    """d copysign(a, b) = sign(a) sign(b) da (0 at a = 0), 0 db"""

    node_name = "CopysignBackward0"
    fn = staticmethod(xp.copysign)
    grad_a = staticmethod(_copysign_grad)
    grad_b = staticmethod(lambda g, a, b, o: _zeros(g))


class CopysignScalar(Copysign):
    """``copysign(tensor, number)``"""

    node_name = "CopysignBackward1"


def _xlogy(x, y):
    return xp.where((x == 0) & ~xp.isnan(y), 0.0, x * xp.log(y)).astype(
        (x if isinstance(x, ndarray) else y).dtype, copy=False)


def _xlogy_da(g, a, b, o):
    log_b = b.log() if isinstance(b, Tensor) else math.log(b) if b > 0 else math.nan
    return _masked(g * log_b, logical_not(logical_and(a == 0, b <= 0)))


class Xlogy(_BinaryMath):
    """d x log(y) = log(y) dx + x/y dy"""

    node_name = "XlogyBackward0"
    fn = staticmethod(_xlogy)
    grad_a = staticmethod(_xlogy_da)
    grad_b = staticmethod(lambda g, a, b, o: g * a / b)


class XlogySelfScalar(Xlogy):
    """``xlogy(number, tensor)``"""

    node_name = "XlogyBackward1"


class XlogyOtherScalar(Xlogy):
    """``xlogy(tensor, number)``"""

    node_name = "XlogyBackward2"


@tensor_method("atan2", "arctan2")
def atan2(input: Tensor, other: Tensor) -> Tensor:
    """Elementwise ``atan(input / other)`` in the right quadrant."""
    return Atan2.apply(input, other)


arctan2 = atan2


@tensor_method()
def maximum(input: Tensor, other) -> Tensor:
    """Elementwise maximum (NaN propagates)."""
    return Maximum.apply(input, other)


@tensor_method()
def minimum(input: Tensor, other) -> Tensor:
    """Elementwise minimum (NaN propagates)."""
    return Minimum.apply(input, other)


@tensor_method()
def fmax(input: Tensor, other) -> Tensor:
    """Elementwise maximum, ignoring a NaN operand."""
    return Fmax.apply(input, other)


@tensor_method()
def fmin(input: Tensor, other) -> Tensor:
    """Elementwise minimum, ignoring a NaN operand."""
    return Fmin.apply(input, other)


@tensor_method()
def hypot(input: Tensor, other) -> Tensor:
    """``sqrt(input² + other²)`` without overflow."""
    return Hypot.apply(input, other)


@tensor_method()
def logaddexp(input: Tensor, other) -> Tensor:
    """``log(exp(input) + exp(other))``, stably."""
    return Logaddexp.apply(input, other)


@tensor_method()
def logaddexp2(input: Tensor, other) -> Tensor:
    """``log2(2**input + 2**other)``, stably."""
    return Logaddexp2.apply(input, other)


@tensor_method()
def fmod(input: Tensor, other) -> Tensor:
    """C-style remainder: the sign of the dividend."""
    op = Fmod if isinstance(other, Tensor) else FmodScalar
    return op.apply(input, other)


@tensor_method()
def copysign(input: Tensor, other) -> Tensor:
    """``|input|`` with the sign of ``other``."""
    op = Copysign if isinstance(other, Tensor) else CopysignScalar
    return op.apply(input, other)




@tensor_method()
def remainder(input, other) -> Tensor:
    """Python-style modulus: the result has the sign of the divisor."""
    if not isinstance(input, Tensor):
        refuse_dual("aten::remainder", other)  # (remainder.Scalar_Tensor)
        return Remainder.apply(input, other)
    return (Remainder if isinstance(other, Tensor) else RemainderScalar).apply(input, other)


@tensor_method()
def xlogy(input, other) -> Tensor:
    """``input * log(other)``, 0 where ``input == 0`` (unless ``other`` is NaN)."""
    if not isinstance(input, Tensor):
        return XlogySelfScalar.apply(input, other)
    return (Xlogy if isinstance(other, Tensor) else XlogyOtherScalar).apply(input, other)


@tensor_method()
def floor_divide(input, other) -> Tensor:
    """``floor(input / other)`` (integer inputs give integers)."""
    refuse_dual("aten::floor_divide", input, other)
    x, y = operands(input, other)
    _kernel_check("div_floor_cpu", int_zero=True)(x, y)
    return div(input, other, rounding_mode="floor")


@tensor_method()
def float_power(input, exponent) -> Tensor:
    """``input ** exponent`` computed in double precision (float64 or complex128 result)."""
    def up(v):
        if isinstance(v, Tensor):
            return v.to(complex128 if v.is_complex() else float64)
        return v if isinstance(v, complex) else float(v)
    return pow(up(input), up(exponent))


@tensor_method()
@nondifferentiable
def heaviside(input: Tensor, values: Tensor) -> Tensor:
    """Step function: 0 for x < 0, ``values`` at 0, 1 for x > 0 (not differentiable)."""
    refuse_dual("aten::heaviside", input, values)
    if input.dtype is not values.dtype:
        raise RuntimeError("heaviside is not yet implemented for tensors with different dtypes.")
    a, v = input._data, values._data
    return _make(xp.where(a == 0, v, a > 0).astype(a.dtype, copy=False))


# -- ternary: lerp, addcmul, addcdiv ----------------------------------------------------------
class Lerp(Op):
    """d lerp(s, e, w) = (1-w) ds + w de + (e - s) dw"""

    node_name = "LerpBackward1"

    @staticmethod
    def forward(ctx, start, end, weight):
        s, e = start._data, end._data
        if s.dtype != e.dtype:
            raise RuntimeError(f"expected dtype {_scalar_name(s.dtype)} for `end` but got "
                               f"dtype {_scalar_name(e.dtype)}")
        if s.dtype.kind not in "fc":
            raise _not_implemented("lerp_kernel_scalar", s.dtype)
        w = weight._data if isinstance(weight, Tensor) else weight
        ctx.save_for_backward(start, end, weight)
        d = e - s
        # Interpolate from the nearer end point (exact at w = 0 and w = 1).
        return xp.where(xp.abs(w) < 0.5, s + w * d, e - d * (1 - w)).astype(s.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        s, e, w = ctx.saved_tensors
        need_s, need_e, need_w = ctx.needs_input_grad
        return (g * (1 - w) if need_s else None, g * w if need_e else None,
                g * (e - s) if need_w else None)

    @staticmethod
    def jvp(inputs, out, tangents):
        s, e, w = (primal(v) for v in inputs)
        ts, te, tw = tangents
        return _tangent_sum(out, None if ts is None else ts * (1 - w),
                            None if te is None else te * w,
                            None if tw is None else tw * (e - s))


class LerpScalar(Lerp):
    node_name = "LerpBackward0"


@tensor_method()
def lerp(input: Tensor, end: Tensor, weight) -> Tensor:
    """``input + weight * (end - input)``; ``weight`` a number or a tensor."""
    return (Lerp if isinstance(weight, Tensor) else LerpScalar).apply(input, end, weight)


def _ternary_arrays(a, b, c):
    dt = result_type(a, b, c).np
    return tuple(t._data.astype(dt, copy=False) for t in (a, b, c))


class Addcmul(Op):
    """d (x + v t1 t2) = dx + v t2 dt1 + v t1 dt2"""

    node_name = "AddcmulBackward0"

    @staticmethod
    def forward(ctx, x, t1, t2, value):
        a, b, c = _ternary_arrays(x, t1, t2)
        ctx.save_for_backward(t1, t2)
        ctx.value = value
        out = a + value * (b * c) if value != 1 else a + b * c
        return out.astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        t1, t2 = ctx.saved_tensors
        need1, need2 = ctx.needs_input_grad[1:3]
        gv = g * ctx.value if ctx.value != 1 else g
        return (g, (gv * conj_any(t2) if need1 else None), (gv * conj_any(t1) if need2 else None),
                None)

    @staticmethod
    def jvp(inputs, out, tangents):
        x, t1, t2, value = (primal(v) for v in inputs)
        dx, d1, d2 = tangents[:3]
        d = _tangent_sum(out, None if d1 is None else d1 * t2, None if d2 is None else t1 * d2)
        if d is not None and value != 1:
            d = d * value
        return _tangent_sum(out, dx, d)


class Addcdiv(Op):
    """d (x + v t1/t2) = dx + v/t2 dt1 - v t1/t2² dt2"""

    node_name = "AddcdivBackward0"

    @staticmethod
    def forward(ctx, x, t1, t2, value):
        if t1._data.dtype.kind in "iub" and t2._data.dtype.kind in "iub":
            raise RuntimeError(
                "Integer division with addcdiv is no longer supported, and in a future  release "
                "addcdiv will perform a true division of tensor1 and tensor2. The historic "
                "addcdiv behavior can be implemented as (input + value * torch.trunc(tensor1 / "
                "tensor2)).to(input.dtype) for integer inputs and as (input + value * tensor1 / "
                "tensor2) for float inputs. The future addcdiv behavior is just the latter "
                "implementation: (input + value * tensor1 / tensor2), for all dtypes.")
        a, b, c = _ternary_arrays(x, t1, t2)
        ctx.save_for_backward(t1, t2)
        ctx.value = value
        with xp.errstate(all="ignore"):
            return a + value * (b / c)

    @staticmethod
    def backward(ctx, g):
        t1, t2 = ctx.saved_tensors
        need1, need2 = ctx.needs_input_grad[1:3]
        gv = g * ctx.value if ctx.value != 1 else g
        return (g, (gv / t2 if need1 else None), (-gv * t1 / (t2 * t2) if need2 else None),
                None)

    @staticmethod
    def jvp(inputs, out, tangents):
        x, t1, t2, value = (primal(v) for v in inputs)
        dx, d1, d2 = tangents[:3]
        d = _tangent_sum(out, None if d1 is None else d1 / t2,
                         None if d2 is None else -d2 * t1 / (t2 * t2))
        if d is not None and value != 1:
            d = d * value
        return _tangent_sum(out, dx, d)


@tensor_method()
def addcmul(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value=1) -> Tensor:
    """``input + value * tensor1 * tensor2``."""
    return Addcmul.apply(input, tensor1, tensor2, value)


@tensor_method()
def addcdiv(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value=1) -> Tensor:
    """``input + value * tensor1 / tensor2``."""
    return Addcdiv.apply(input, tensor1, tensor2, value)


# -- predicates (not differentiable) ----------------------------------------------------------
def _predicate(input: Tensor, fn, integral) -> Tensor:
    """``fn`` of a float tensor; for an integral one (never NaN or inf), ``integral``."""
    a = input._data
    if a.dtype.kind not in "fc":
        return _make(integral(a.shape, dtype=bool))
    return _make(xp.asarray(fn(a)))


@tensor_method()
@nondifferentiable
def isnan(input: Tensor) -> Tensor:
    """Where the elements are NaN."""
    return _predicate(input, xp.isnan, xp.zeros)


@tensor_method()
@nondifferentiable
def isinf(input: Tensor) -> Tensor:
    """Where the elements are ±inf."""
    return _predicate(input, xp.isinf, xp.zeros)


@tensor_method()
@nondifferentiable
def isfinite(input: Tensor) -> Tensor:
    """Where the elements are neither inf nor NaN."""
    return _predicate(input, xp.isfinite, xp.ones)


@tensor_method()
@nondifferentiable
def isposinf(input: Tensor) -> Tensor:
    """Where the elements are +inf."""
    return _predicate(input, xp.isposinf, xp.zeros)


@tensor_method()
@nondifferentiable
def isneginf(input: Tensor) -> Tensor:
    """Where the elements are -inf."""
    return _predicate(input, xp.isneginf, xp.zeros)




@tensor_method()
@nondifferentiable
def isreal(input: Tensor) -> Tensor:
    """Where the imaginary part is 0 (everywhere, for real dtypes)."""
    a = input._data
    return _make(xp.asarray(a.imag == 0) if a.dtype.kind == "c" else xp.ones(a.shape, bool))


@tensor_method()
@nondifferentiable
def signbit(input: Tensor) -> Tensor:
    """Where the sign bit is set (true for -0.0)."""
    a = input._data
    return _make(xp.asarray(xp.signbit(a) if a.dtype.kind != "b" else xp.zeros(a.shape, bool)))


# -- in-place twins and operators -------------------------------------------------------------
register_inplace(
    "atan2", "arctan2", "floor", "ceil", "round", "trunc", "fix", "frac", "clamp", "clip",
    "clamp_min", "clamp_max", "lerp", "hypot", "xlogy", "nan_to_num",
    "remainder", "fmod", "addcmul", "addcdiv", "float_power", "copysign")



@tensor_method()
def floor_divide_(self: Tensor, other) -> Tensor:
    """In-place ``floor_divide`` (no forward derivative in PyTorch either)."""
    refuse_dual("aten::floor_divide_", self, other)
    return apply_inplace(self, floor_divide, other)



@tensor_method()
def heaviside_(self: Tensor, values: Tensor) -> Tensor:
    """In-place ``heaviside`` (no forward derivative in PyTorch either)."""
    refuse_dual("aten::heaviside_", self, values)
    return apply_inplace(self, heaviside, values)


set_operator("mod", remainder)
