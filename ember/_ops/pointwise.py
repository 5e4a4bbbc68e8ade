"""Pointwise math beyond the basics of ``elementwise.py``: logs and exponentials,
trigonometric and hyperbolic functions, special functions, rounding, clamping, binary math
(atan2, maximum, remainder, ...), predicates, and the logical and bitwise family with its
operators. Each op's forward sits beside its derivative; backward uses Tensor ops, so double
backward works.
"""

from __future__ import annotations

import math

from .._dtype import complex128, float64, get_default_dtype, result_type
from . import _special
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
from ._util import Op, Tensor, _make, floating, ndarray, operands, tensor_method, xp
from .elementwise import Reciprocal, div, pow
from .indexing import where
from .inplace import register_inplace

__all__ = [
    "log2", "log10", "log1p", "expm1", "exp2", "rsqrt", "square", "reciprocal", "sin", "cos",
    "tan", "asin", "acos", "atan", "arcsin", "arccos", "arctan", "sinh", "cosh", "asinh",
    "acosh", "atanh", "arcsinh", "arccosh", "arctanh", "erf", "erfc", "erfinv", "lgamma",
    "digamma", "sinc", "deg2rad", "rad2deg", "floor", "ceil", "round", "trunc", "fix", "frac",
    "positive", "nan_to_num", "clamp", "clip", "clamp_min", "clamp_max", "atan2", "arctan2",
    "maximum", "minimum", "fmax", "fmin", "hypot", "logaddexp", "logaddexp2", "xlogy",
    "remainder", "fmod", "floor_divide", "copysign", "float_power", "heaviside", "lerp",
    "addcmul", "addcdiv", "isnan", "isinf", "isfinite", "isposinf", "isneginf", "isreal",
    "signbit", "logical_and", "logical_or", "logical_xor", "logical_not", "bitwise_and",
    "bitwise_or", "bitwise_xor", "bitwise_not", "bitwise_left_shift", "bitwise_right_shift",
    "equal", "allclose", "isclose",
]

_LN2, _LN10 = math.log(2.0), math.log(10.0)


def _zeros(g: Tensor) -> Tensor:
    return g.new_zeros(g.shape)


def _masked(g: Tensor, keep) -> Tensor:
    """``g`` where ``keep`` holds, else 0 (NaN-safe, unlike ``g * keep``)."""
    return where(keep, g, 0.0)


def _to_float(x, y):
    """Operands of an integer result taken to the default float dtype."""
    if (x if isinstance(x, ndarray) else y).dtype.kind not in "fc":
        dt = get_default_dtype().np
        x = x.astype(dt) if isinstance(x, ndarray) else float(x)
        y = y.astype(dt) if isinstance(y, ndarray) else float(y)
    return x, y


def _via64(fn):
    """Run a float64 special function and return the input's float dtype."""
    return lambda a: fn(a).astype(a.dtype, copy=False)


# -- unary float math: out = fn(x) ----------------------------------------------------------
class _FloatUnary(Op):
    """Shared forward of the unary float functions below: ``fn`` on the input (integers
    promote to the default float dtype), saving the input (or, with ``saves_output``, the
    output) for the subclass's backward."""

    saves_output = False

    @staticmethod
    def fn(a):
        raise NotImplementedError

    @classmethod
    def forward(cls, ctx, x):
        with xp.errstate(all="ignore"):
            out = xp.asarray(cls.fn(floating(x)))  # ufuncs give NumPy scalars for 0-d input
        ctx.save_for_backward(out if cls.saves_output else x)
        return out


class Log2(_FloatUnary):
    """d log2(x) = dx / (x ln 2)"""

    node_name = "Log2Backward0"
    fn = staticmethod(xp.log2)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g / (x * _LN2)


class Log10(_FloatUnary):
    """d log10(x) = dx / (x ln 10)"""

    node_name = "Log10Backward0"
    fn = staticmethod(xp.log10)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g / (x * _LN10)


class Log1p(_FloatUnary):
    """d log1p(x) = dx / (1 + x)"""

    node_name = "Log1PBackward0"
    fn = staticmethod(xp.log1p)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g / (x + 1)


class Expm1(_FloatUnary):
    """d expm1(x) = (expm1(x) + 1) dx"""

    node_name = "Expm1Backward0"
    fn = staticmethod(xp.expm1)
    saves_output = True

    @staticmethod
    def backward(ctx, g):
        y, = ctx.saved_tensors
        return g * (y + 1)


class Exp2(_FloatUnary):
    """d 2**x = 2**x ln 2 dx"""

    node_name = "Exp2Backward0"
    fn = staticmethod(xp.exp2)
    saves_output = True

    @staticmethod
    def backward(ctx, g):
        y, = ctx.saved_tensors
        return g * (y * _LN2)


class Rsqrt(_FloatUnary):
    """d x**-0.5 = -0.5 x**-1.5 dx"""

    node_name = "RsqrtBackward0"
    fn = staticmethod(lambda a: 1 / xp.sqrt(a))
    saves_output = True

    @staticmethod
    def backward(ctx, g):
        y, = ctx.saved_tensors
        return g * (y * y * y * -0.5)


class Sin(_FloatUnary):
    """d sin(x) = cos(x) dx"""

    node_name = "SinBackward0"
    fn = staticmethod(xp.sin)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * cos(x)


class Cos(_FloatUnary):
    """d cos(x) = -sin(x) dx"""

    node_name = "CosBackward0"
    fn = staticmethod(xp.cos)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * -sin(x)


class Tan(_FloatUnary):
    """d tan(x) = (1 + tan²x) dx"""

    node_name = "TanBackward0"
    fn = staticmethod(xp.tan)
    saves_output = True

    @staticmethod
    def backward(ctx, g):
        y, = ctx.saved_tensors
        return g * (y * y + 1)


class Asin(_FloatUnary):
    """d asin(x) = dx / √(1 - x²)"""

    node_name = "AsinBackward0"
    fn = staticmethod(xp.arcsin)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * rsqrt(1 - x * x)


class Acos(_FloatUnary):
    """d acos(x) = -dx / √(1 - x²)"""

    node_name = "AcosBackward0"
    fn = staticmethod(xp.arccos)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * -rsqrt(1 - x * x)


class Atan(_FloatUnary):
    """d atan(x) = dx / (1 + x²)"""

    node_name = "AtanBackward0"
    fn = staticmethod(xp.arctan)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g / (x * x + 1)


class Sinh(_FloatUnary):
    """d sinh(x) = cosh(x) dx"""

    node_name = "SinhBackward0"
    fn = staticmethod(xp.sinh)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * cosh(x)


class Cosh(_FloatUnary):
    """d cosh(x) = sinh(x) dx"""

    node_name = "CoshBackward0"
    fn = staticmethod(xp.cosh)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * sinh(x)


class Asinh(_FloatUnary):
    """d asinh(x) = dx / √(x² + 1)"""

    node_name = "AsinhBackward0"
    fn = staticmethod(xp.arcsinh)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * rsqrt(x * x + 1)


class Acosh(_FloatUnary):
    """d acosh(x) = dx / √(x² - 1)"""

    node_name = "AcoshBackward0"
    fn = staticmethod(xp.arccosh)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * rsqrt((x - 1) * (x + 1))


class Atanh(_FloatUnary):
    """d atanh(x) = dx / (1 - x²)"""

    node_name = "AtanhBackward0"
    fn = staticmethod(xp.arctanh)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g / (1 - x * x)


class Erf(_FloatUnary):
    """d erf(x) = 2/√π exp(-x²) dx"""

    node_name = "ErfBackward0"
    fn = staticmethod(_via64(_special.erf))

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * ((-x * x).exp() * (2 / math.sqrt(math.pi)))


class Erfc(_FloatUnary):
    """d erfc(x) = -2/√π exp(-x²) dx"""

    node_name = "ErfcBackward0"
    fn = staticmethod(_via64(_special.erfc))

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * ((-x * x).exp() * (-2 / math.sqrt(math.pi)))


class Erfinv(_FloatUnary):
    """d erfinv(x) = √π/2 exp(erfinv(x)²) dx"""

    node_name = "ErfinvBackward0"
    fn = staticmethod(_via64(_special.erfinv))
    saves_output = True

    @staticmethod
    def backward(ctx, g):
        y, = ctx.saved_tensors
        return g * ((y * y).exp() * (math.sqrt(math.pi) / 2))


class Lgamma(_FloatUnary):
    """d lgamma(x) = digamma(x) dx"""

    node_name = "LgammaBackward0"
    fn = staticmethod(_via64(_special.lgamma))

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * digamma(x)


class Digamma(_FloatUnary):
    """d digamma(x) = trigamma(x) dx"""

    node_name = "DigammaBackward0"
    fn = staticmethod(_via64(_special.digamma))

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * Trigamma.apply(x)


class Trigamma(_FloatUnary):
    """d polygamma(1, x) = polygamma(2, x) dx  (trigamma: digamma's derivative)"""

    node_name = "PolygammaBackward0"
    fn = staticmethod(_via64(_special.trigamma))

    @staticmethod
    def backward(ctx, g):
        from .special_functions import polygamma  # defined on top of this module
        x, = ctx.saved_tensors
        return g * polygamma(2, x)


class Deg2Rad(_FloatUnary):
    """d deg2rad(x) = π/180 dx"""

    node_name = "Deg2RadBackward0"
    fn = staticmethod(xp.deg2rad)

    @staticmethod
    def backward(ctx, g):
        return g * (math.pi / 180)


class Rad2Deg(_FloatUnary):
    """d rad2deg(x) = 180/π dx"""

    node_name = "Rad2DegBackward0"
    fn = staticmethod(xp.rad2deg)

    @staticmethod
    def backward(ctx, g):
        return g * (180 / math.pi)


class Sinc(_FloatUnary):
    """d sinc(x) = (cos(πx) - sinc(x)) / x dx  (0 at x = 0)"""

    node_name = "SincBackward0"
    fn = staticmethod(xp.sinc)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        safe = where(x == 0, 1.0, x)
        px = safe * math.pi
        return _masked(g * ((px.cos() - px.sin() / px) / safe), x != 0)


def _method(*names):
    """Register as Tensor methods (default: the function's name)."""
    return tensor_method(*names)


@_method()
def log2(input: Tensor) -> Tensor:
    """Elementwise base-2 logarithm."""
    return Log2.apply(input)


@_method()
def log10(input: Tensor) -> Tensor:
    """Elementwise base-10 logarithm."""
    return Log10.apply(input)


@_method()
def log1p(input: Tensor) -> Tensor:
    """``log(1 + x)``, accurate for small ``x``."""
    return Log1p.apply(input)


@_method()
def expm1(input: Tensor) -> Tensor:
    """``exp(x) - 1``, accurate for small ``x``."""
    return Expm1.apply(input)


@_method()
def exp2(input: Tensor) -> Tensor:
    """Elementwise ``2 ** x``."""
    return Exp2.apply(input)


@_method()
def rsqrt(input: Tensor) -> Tensor:
    """Elementwise ``1 / sqrt(x)``."""
    return Rsqrt.apply(input)


@_method()
def square(input: Tensor) -> Tensor:
    """Elementwise ``x ** 2`` (integers stay integers; bool becomes int64)."""
    if input._data.dtype == bool:
        input = input.long()
    return pow(input, 2)


@_method()
def reciprocal(input: Tensor) -> Tensor:
    """Elementwise ``1 / x``."""
    return Reciprocal.apply(input)


def _unary_fn(cls, name: str, doc: str):
    def fn(input: Tensor) -> Tensor:
        return cls.apply(input)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return fn


sin = _unary_fn(Sin, "sin", "Elementwise sine.")
cos = _unary_fn(Cos, "cos", "Elementwise cosine.")
tan = _unary_fn(Tan, "tan", "Elementwise tangent.")
asin = arcsin = _unary_fn(Asin, "asin", "Elementwise arcsine.")
acos = arccos = _unary_fn(Acos, "acos", "Elementwise arccosine.")
atan = arctan = _unary_fn(Atan, "atan", "Elementwise arctangent.")
sinh = _unary_fn(Sinh, "sinh", "Elementwise hyperbolic sine.")
cosh = _unary_fn(Cosh, "cosh", "Elementwise hyperbolic cosine.")
asinh = arcsinh = _unary_fn(Asinh, "asinh", "Elementwise inverse hyperbolic sine.")
acosh = arccosh = _unary_fn(Acosh, "acosh", "Elementwise inverse hyperbolic cosine.")
atanh = arctanh = _unary_fn(Atanh, "atanh", "Elementwise inverse hyperbolic tangent.")
erf = _unary_fn(Erf, "erf", "The error function.")
erfc = _unary_fn(Erfc, "erfc", "The complementary error function ``1 - erf(x)``.")
erfinv = _unary_fn(Erfinv, "erfinv", "The inverse error function (±inf at ±1).")
lgamma = _unary_fn(Lgamma, "lgamma", "``log|Γ(x)|``.")
digamma = _unary_fn(Digamma, "digamma", "The logarithmic derivative of Γ.")
sinc = _unary_fn(Sinc, "sinc", "Normalised sinc: ``sin(πx) / (πx)``, 1 at 0.")
deg2rad = _unary_fn(Deg2Rad, "deg2rad", "Degrees to radians.")
rad2deg = _unary_fn(Rad2Deg, "rad2deg", "Radians to degrees.")


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


floor = _unary_fn(Floor, "floor", "Largest integer <= x (integer inputs are returned as is).")
ceil = _unary_fn(Ceil, "ceil", "Smallest integer >= x (integer inputs are returned as is).")
trunc = fix = _unary_fn(Trunc, "trunc", "Round toward zero (integer inputs are returned as is).")
frac = _unary_fn(Frac, "frac", "Fractional part ``x - trunc(x)`` (keeps the sign).")


@_method()
def round(input: Tensor, *, decimals: int = 0) -> Tensor:
    """Round half to even, to ``decimals`` decimal places (negative: left of the point)."""
    if decimals == 0:
        return Round.apply(input)
    return RoundDecimals.apply(input, int(decimals))


@_method()
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


@_method()
def nan_to_num(input: Tensor, nan: float = 0.0, posinf: float | None = None,
               neginf: float | None = None) -> Tensor:
    """Replace NaN with ``nan`` and ±inf with ``posinf``/``neginf`` (default: the dtype's
    largest and lowest finite values)."""
    return NanToNum.apply(input, nan, posinf, neginf)


# -- clamp ------------------------------------------------------------------------------------
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
        lo, hi = ctx.lo, ctx.hi
        keep = (x >= lo) if hi is None else (x <= hi) if lo is None else \
            logical_and(x >= lo, x <= hi)
        return _masked(g, keep), None, None


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


def _bound(input: Tensor, value) -> Tensor:
    return _make(xp.asarray(value, dtype=result_type(input, value).np))


@_method("clamp", "clip")
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


@_method()
def clamp_min(input: Tensor, min) -> Tensor:  # noqa: A002
    """``clamp(input, min=min)``."""
    if isinstance(min, Tensor):
        return ClampTensor.apply(input, min, None)
    return ClampMin.apply(input, min, None)


@_method()
def clamp_max(input: Tensor, max) -> Tensor:  # noqa: A002
    """``clamp(input, max=max)``."""
    if isinstance(max, Tensor):
        return ClampTensor.apply(input, None, max)
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


def _tie_split(g, win, tie):
    return where(win, g, where(tie, g / 2, 0.0))


class Atan2(_BinaryMath):
    """d atan2(a, b) = (b da - a db) / (a² + b²)"""

    node_name = "Atan2Backward0"
    fn = staticmethod(xp.arctan2)
    grad_a = staticmethod(lambda g, a, b, o: g * b / (a * a + b * b))
    grad_b = staticmethod(lambda g, a, b, o: g * -a / (a * a + b * b))


class Maximum(_BinaryMath):
    """d max(a, b) = [a > b] da + [b > a] db (ties split the gradient)"""

    node_name = "MaximumBackward0"
    to_float = False
    fn = staticmethod(xp.maximum)
    grad_a = staticmethod(lambda g, a, b, o: _tie_split(g, a > b, a == b))
    grad_b = staticmethod(lambda g, a, b, o: _tie_split(g, b > a, a == b))


class Minimum(_BinaryMath):
    """d min(a, b) = [a < b] da + [b < a] db (ties split the gradient)"""

    node_name = "MinimumBackward0"
    to_float = False
    fn = staticmethod(xp.minimum)
    grad_a = staticmethod(lambda g, a, b, o: _tie_split(g, a < b, a == b))
    grad_b = staticmethod(lambda g, a, b, o: _tie_split(g, b < a, a == b))


class Fmax(_BinaryMath):
    """d fmax(a, b) = the gradient goes to the selected operand"""

    node_name = "FmaxBackward0"
    to_float = False
    fn = staticmethod(xp.fmax)
    grad_a = staticmethod(lambda g, a, b, o: _masked(g, logical_or(a >= b, isnan(b))))
    grad_b = staticmethod(lambda g, a, b, o: _masked(g, ~logical_or(a >= b, isnan(b))))


class Fmin(_BinaryMath):
    """d fmin(a, b) = the gradient goes to the selected operand"""

    node_name = "FminBackward0"
    to_float = False
    fn = staticmethod(xp.fmin)
    grad_a = staticmethod(lambda g, a, b, o: _masked(g, logical_or(a <= b, isnan(b))))
    grad_b = staticmethod(lambda g, a, b, o: _masked(g, ~logical_or(a <= b, isnan(b))))


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


@_method("atan2", "arctan2")
def atan2(input: Tensor, other: Tensor) -> Tensor:
    """Elementwise ``atan(input / other)`` in the right quadrant."""
    return Atan2.apply(input, other)


arctan2 = atan2


def _binary_fn(cls, name: str, doc: str, scalar_cls=None):
    def fn(input, other):
        if scalar_cls is not None and not isinstance(other, Tensor):
            return scalar_cls.apply(input, other)
        return cls.apply(input, other)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return fn


maximum = _binary_fn(Maximum, "maximum", "Elementwise maximum (NaN propagates).")
minimum = _binary_fn(Minimum, "minimum", "Elementwise minimum (NaN propagates).")
fmax = _binary_fn(Fmax, "fmax", "Elementwise maximum, ignoring a NaN operand.")
fmin = _binary_fn(Fmin, "fmin", "Elementwise minimum, ignoring a NaN operand.")
hypot = _binary_fn(Hypot, "hypot", "``sqrt(input² + other²)`` without overflow.")
logaddexp = _binary_fn(Logaddexp, "logaddexp", "``log(exp(input) + exp(other))``, stably.")
logaddexp2 = _binary_fn(Logaddexp2, "logaddexp2", "``log2(2**input + 2**other)``, stably.")
fmod = _binary_fn(Fmod, "fmod", "C-style remainder: the sign of the dividend.", FmodScalar)
copysign = _binary_fn(Copysign, "copysign", "``|input|`` with the sign of ``other``.",
                      CopysignScalar)


@_method()
def remainder(input, other) -> Tensor:
    """Python-style modulus: the result has the sign of the divisor."""
    if not isinstance(input, Tensor):
        return Remainder.apply(input, other)
    return (Remainder if isinstance(other, Tensor) else RemainderScalar).apply(input, other)


@_method()
def xlogy(input, other) -> Tensor:
    """``input * log(other)``, 0 where ``input == 0`` (unless ``other`` is NaN)."""
    if not isinstance(input, Tensor):
        return XlogySelfScalar.apply(input, other)
    return (Xlogy if isinstance(other, Tensor) else XlogyOtherScalar).apply(input, other)


@_method()
def floor_divide(input, other) -> Tensor:
    """``floor(input / other)`` (integer inputs give integers)."""
    x, y = operands(input, other)
    _kernel_check("div_floor_cpu", int_zero=True)(x, y)
    return div(input, other, rounding_mode="floor")


@_method()
def float_power(input, exponent) -> Tensor:
    """``input ** exponent`` computed in double precision (float64 or complex128 result)."""
    def up(v):
        if isinstance(v, Tensor):
            return v.to(complex128 if v.is_complex() else float64)
        return v if isinstance(v, complex) else float(v)
    return pow(up(input), up(exponent))


@_method()
def heaviside(input: Tensor, values: Tensor) -> Tensor:
    """Step function: 0 for x < 0, ``values`` at 0, 1 for x > 0 (not differentiable)."""
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


class LerpScalar(Lerp):
    node_name = "LerpBackward0"


@_method()
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
        return g, (gv * t2 if need1 else None), (gv * t1 if need2 else None), None


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


@_method()
def addcmul(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value=1) -> Tensor:
    """``input + value * tensor1 * tensor2``."""
    return Addcmul.apply(input, tensor1, tensor2, value)


@_method()
def addcdiv(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value=1) -> Tensor:
    """``input + value * tensor1 / tensor2``."""
    return Addcdiv.apply(input, tensor1, tensor2, value)


# -- predicates (not differentiable) ----------------------------------------------------------
def _predicate(name: str, fn, doc: str):
    def pred(input: Tensor) -> Tensor:
        a = input._data
        if a.dtype.kind not in "fc":
            return _make(xp.zeros(a.shape, dtype=bool) if name != "isfinite"
                         else xp.ones(a.shape, dtype=bool))
        return _make(xp.asarray(fn(a)))
    pred.__name__ = pred.__qualname__ = name
    pred.__doc__ = doc
    return pred


isnan = _predicate("isnan", xp.isnan, "Where the elements are NaN.")
isinf = _predicate("isinf", xp.isinf, "Where the elements are ±inf.")
isfinite = _predicate("isfinite", xp.isfinite, "Where the elements are neither inf nor NaN.")
isposinf = _predicate("isposinf", xp.isposinf, "Where the elements are +inf.")
isneginf = _predicate("isneginf", xp.isneginf, "Where the elements are -inf.")


@_method()
def isreal(input: Tensor) -> Tensor:
    """Where the imaginary part is 0 (everywhere, for real dtypes)."""
    a = input._data
    return _make(xp.asarray(a.imag == 0) if a.dtype.kind == "c" else xp.ones(a.shape, bool))


@_method()
def signbit(input: Tensor) -> Tensor:
    """Where the sign bit is set (true for -0.0)."""
    a = input._data
    return _make(xp.asarray(xp.signbit(a) if a.dtype.kind != "b" else xp.zeros(a.shape, bool)))


# -- Tensor methods, operators and in-place twins ---------------------------------------------
for _name in ("sin", "cos", "tan", "asin", "acos", "atan", "arcsin", "arccos", "arctan", "sinh",
              "cosh", "asinh", "acosh", "atanh", "arcsinh", "arccosh", "arctanh", "erf", "erfc",
              "erfinv", "lgamma", "digamma", "sinc", "deg2rad", "rad2deg", "floor", "ceil",
              "trunc", "fix", "frac", "maximum", "minimum", "fmax", "fmin", "hypot",
              "logaddexp", "logaddexp2", "fmod", "copysign", "isnan", "isinf", "isfinite",
              "isposinf", "isneginf"):
    tensor_method(_name)(globals()[_name])

register_inplace(
    "log2", "log10", "log1p", "expm1", "exp2", "rsqrt", "square", "reciprocal", "sin", "cos",
    "tan", "asin", "acos", "atan", "arcsin", "arccos", "arctan", "atan2", "arctan2", "sinh",
    "cosh", "asinh", "acosh", "atanh", "arcsinh", "arccosh", "arctanh", "erf", "erfc", "erfinv",
    "lgamma", "digamma", "floor", "ceil", "round", "trunc", "fix", "frac", "clamp", "clip",
    "clamp_min", "clamp_max", "lerp", "hypot", "xlogy", "nan_to_num", "floor_divide",
    "remainder", "fmod", "addcmul", "addcdiv", "float_power", "copysign", "heaviside", "sinc",
    "deg2rad", "rad2deg")


set_operator("mod", remainder)
