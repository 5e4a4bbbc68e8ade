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


# -- unary float math: out = fn(x); d out = grad(g, saved) ------------------------------------
def _unary(name: str, fn, grad, doc: str, *, save: str = "x"):
    """An op class for ``fn`` (ints promote to the default float); backward ``grad(g, s)``
    with ``s`` the saved input (``save="x"``) or output (``save="out"``)."""

    def forward(ctx, x):
        with xp.errstate(all="ignore"):
            out = xp.asarray(fn(floating(x)))  # ufuncs give NumPy scalars for 0-d input
        ctx.save_for_backward(x if save == "x" else out)
        return out

    def backward(ctx, g):
        s, = ctx.saved_tensors
        return grad(g, s)

    return type(name, (Op,), {"__doc__": doc, "node_name": name + "Backward0",
                              "forward": staticmethod(forward),
                              "backward": staticmethod(backward)})


Log2 = _unary("Log2", xp.log2, lambda g, x: g / (x * _LN2), "d log2(x) = dx / (x ln 2)")
Log10 = _unary("Log10", xp.log10, lambda g, x: g / (x * _LN10), "d log10(x) = dx / (x ln 10)")
Log1p = _unary("Log1P", xp.log1p, lambda g, x: g / (x + 1), "d log1p(x) = dx / (1 + x)")
Expm1 = _unary("Expm1", xp.expm1, lambda g, y: g * (y + 1), "d expm1(x) = (expm1(x) + 1) dx",
               save="out")
Exp2 = _unary("Exp2", xp.exp2, lambda g, y: g * (y * _LN2), "d 2**x = 2**x ln 2 dx", save="out")
Rsqrt = _unary("Rsqrt", lambda a: 1 / xp.sqrt(a), lambda g, y: g * (y * y * y * -0.5),
               "d x**-0.5 = -0.5 x**-1.5 dx", save="out")
Sin = _unary("Sin", xp.sin, lambda g, x: g * cos(x), "d sin(x) = cos(x) dx")
Cos = _unary("Cos", xp.cos, lambda g, x: g * -sin(x), "d cos(x) = -sin(x) dx")
Tan = _unary("Tan", xp.tan, lambda g, y: g * (y * y + 1), "d tan(x) = (1 + tan²x) dx",
             save="out")
Asin = _unary("Asin", xp.arcsin, lambda g, x: g * rsqrt(1 - x * x), "d asin(x) = dx/√(1-x²)")
Acos = _unary("Acos", xp.arccos, lambda g, x: g * -rsqrt(1 - x * x), "d acos(x) = -dx/√(1-x²)")
Atan = _unary("Atan", xp.arctan, lambda g, x: g / (x * x + 1), "d atan(x) = dx / (1 + x²)")
Sinh = _unary("Sinh", xp.sinh, lambda g, x: g * cosh(x), "d sinh(x) = cosh(x) dx")
Cosh = _unary("Cosh", xp.cosh, lambda g, x: g * sinh(x), "d cosh(x) = sinh(x) dx")
Asinh = _unary("Asinh", xp.arcsinh, lambda g, x: g * rsqrt(x * x + 1), "d asinh = dx/√(x²+1)")
Acosh = _unary("Acosh", xp.arccosh, lambda g, x: g * rsqrt((x - 1) * (x + 1)),
               "d acosh(x) = dx / √(x²-1)")
Atanh = _unary("Atanh", xp.arctanh, lambda g, x: g / (1 - x * x), "d atanh(x) = dx / (1-x²)")
Erf = _unary("Erf", _via64(_special.erf), lambda g, x: g * ((-x * x).exp() * (2 / math.sqrt(
    math.pi))), "d erf(x) = 2/√π exp(-x²) dx")
Erfc = _unary("Erfc", _via64(_special.erfc), lambda g, x: g * ((-x * x).exp() * (-2 / math.sqrt(
    math.pi))), "d erfc(x) = -2/√π exp(-x²) dx")
Erfinv = _unary("Erfinv", _via64(_special.erfinv), lambda g, y: g * ((y * y).exp() * (
    math.sqrt(math.pi) / 2)), "d erfinv(x) = √π/2 exp(erfinv(x)²) dx", save="out")
Lgamma = _unary("Lgamma", _via64(_special.lgamma), lambda g, x: g * digamma(x),
                "d lgamma(x) = digamma(x) dx")
Digamma = _unary("Digamma", _via64(_special.digamma), lambda g, x: g * Trigamma.apply(x),
                 "d digamma(x) = trigamma(x) dx")
Trigamma = _unary("Polygamma", _via64(_special.trigamma), None,
                  "trigamma = polygamma(1, x); its own derivative is not implemented")
Deg2Rad = _unary("Deg2Rad", xp.deg2rad, lambda g, x: g * (math.pi / 180), "d = π/180 dx")
Rad2Deg = _unary("Rad2Deg", xp.rad2deg, lambda g, x: g * (180 / math.pi), "d = 180/π dx")


def _trigamma_backward(ctx, g):
    raise NotImplementedError("the derivative of polygamma(1, x) (used by digamma's double "
                              "backward) is not implemented")


Trigamma.backward = staticmethod(_trigamma_backward)


def _sinc_grad(g, x):
    safe = where(x == 0, 1.0, x)
    px = safe * math.pi
    return _masked(g * ((px.cos() - px.sin() / px) / safe), x != 0)


Sinc = _unary("Sinc", xp.sinc, _sinc_grad, "d sinc(x) = (cos(πx) - sinc(x)) / x dx")


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
def _rounding(name: str, fn):
    def forward(ctx, x, *args):
        a = x._data
        if a.dtype.kind == "b":
            raise _not_implemented(f"{name.lower()}_vml_cpu", a.dtype)
        return fn(a, *args) if a.dtype.kind in "fc" else a.copy()

    def backward(ctx, g):
        return _zeros(g)

    return type(name, (Op,), {"__doc__": f"d {name.lower()}(x) = 0 (piecewise constant)",
                              "node_name": name + "Backward0", "forward": staticmethod(forward),
                              "backward": staticmethod(backward)})


Floor = _rounding("Floor", xp.floor)
Ceil = _rounding("Ceil", xp.ceil)
Trunc = _rounding("Trunc", xp.trunc)
Round = _rounding("Round", xp.rint)


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


# -- binary math: out = fn(a, b); grads da(g, a, b, out), db(g, a, b, out) --------------------
def _binary(name: str, fn, da, db, doc: str, *, to_float: bool = True, check=None):
    def forward(ctx, a, b):
        x, y = operands(a, b)
        if check is not None:
            check(x, y)
        if to_float:
            x, y = _to_float(x, y)
        with xp.errstate(all="ignore"):
            out = xp.asarray(fn(x, y))
        ctx.save_for_backward(a, b, out)
        return out

    def backward(ctx, g):
        a, b, out = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        return (da(g, a, b, out) if need_a else None), (db(g, a, b, out) if need_b else None)

    return type(name, (Op,), {"__doc__": doc, "node_name": name + "Backward0",
                              "forward": staticmethod(forward),
                              "backward": staticmethod(backward)})


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


def _tie_split(g, win, tie):
    return where(win, g, where(tie, g / 2, 0.0))


Atan2 = _binary("Atan2", xp.arctan2, lambda g, a, b, o: g * b / (a * a + b * b),
                lambda g, a, b, o: g * -a / (a * a + b * b), "d atan2(a, b) = (b da - a db)/r²")
Maximum = _binary("Maximum", xp.maximum, lambda g, a, b, o: _tie_split(g, a > b, a == b),
                  lambda g, a, b, o: _tie_split(g, b > a, a == b),
                  "d max(a, b) = [a > b] da + [b > a] db (ties split the gradient)",
                  to_float=False)
Minimum = _binary("Minimum", xp.minimum, lambda g, a, b, o: _tie_split(g, a < b, a == b),
                  lambda g, a, b, o: _tie_split(g, b < a, a == b),
                  "d min(a, b) = [a < b] da + [b < a] db (ties split the gradient)",
                  to_float=False)
Fmax = _binary("Fmax", xp.fmax, lambda g, a, b, o: _masked(g, logical_or(a >= b, isnan(b))),
               lambda g, a, b, o: _masked(g, ~logical_or(a >= b, isnan(b))),
               "d fmax(a, b) = the gradient goes to the selected operand", to_float=False)
Fmin = _binary("Fmin", xp.fmin, lambda g, a, b, o: _masked(g, logical_or(a <= b, isnan(b))),
               lambda g, a, b, o: _masked(g, ~logical_or(a <= b, isnan(b))),
               "d fmin(a, b) = the gradient goes to the selected operand", to_float=False)
Hypot = _binary("Hypot", xp.hypot, lambda g, a, b, o: g * a / o, lambda g, a, b, o: g * b / o,
                "d hypot(a, b) = (a da + b db) / hypot(a, b)", check=_kernel_check(
                    "hypot_cpu", no_int=True))
Logaddexp = _binary("Logaddexp", xp.logaddexp, lambda g, a, b, o: g * (a - o).exp(),
                    lambda g, a, b, o: g * (b - o).exp(),
                    "d log(e^a + e^b) = (e^a da + e^b db) / (e^a + e^b)",
                    check=_kernel_check("logaddexp_cpu", no_int=True))
Logaddexp2 = _binary("Logaddexp2", xp.logaddexp2, lambda g, a, b, o: g * (a - o).exp2(),
                     lambda g, a, b, o: g * (b - o).exp2(),
                     "d log2(2^a + 2^b) = (2^a da + 2^b db) / (2^a + 2^b)",
                     check=_kernel_check("logaddexp2_cpu", no_int=True))


Remainder = _binary("Remainder", xp.remainder, lambda g, a, b, o: g,
                    lambda g, a, b, o: -g * div(a, b, rounding_mode="floor"),
                    "d (a mod b) = da - floor(a/b) db", to_float=False,
                    check=_kernel_check("remainder_cpu", int_zero=True))
Fmod = _binary("Fmod", xp.fmod, lambda g, a, b, o: g,
               lambda g, a, b, o: -g * div(a, b, rounding_mode="trunc"),
               "d fmod(a, b) = da - trunc(a/b) db", to_float=False,
               check=_kernel_check("fmod_cpu", int_zero=True))


def _copysign_grad(g, a, b, o):
    safe = where(a == 0, 1.0, a)
    return _masked(g * (o / safe), a != 0)


Copysign = _binary("Copysign", xp.copysign, _copysign_grad, lambda g, a, b, o: _zeros(g),
                   "d copysign(a, b) = sign(a) sign(b) da (0 at a = 0), 0 db")


def _xlogy(x, y):
    return xp.where((x == 0) & ~xp.isnan(y), 0.0, x * xp.log(y)).astype(
        (x if isinstance(x, ndarray) else y).dtype, copy=False)


def _xlogy_da(g, a, b, o):
    log_b = b.log() if isinstance(b, Tensor) else math.log(b) if b > 0 else math.nan
    return _masked(g * log_b, logical_not(logical_and(a == 0, b <= 0)))


Xlogy = _binary("Xlogy", _xlogy, _xlogy_da, lambda g, a, b, o: g * a / b,
                "d x log(y) = log(y) dx + x/y dy")


def _scalar_variant(cls, node_name: str):
    return type(cls.__name__ + "Scalar", (cls,), {"node_name": node_name})


RemainderScalar = _scalar_variant(Remainder, "RemainderBackward0")
Remainder.node_name = "RemainderBackward1"
FmodScalar = _scalar_variant(Fmod, "FmodBackward0")
Fmod.node_name = "FmodBackward1"
CopysignScalar = _scalar_variant(Copysign, "CopysignBackward1")
XlogySelfScalar = _scalar_variant(Xlogy, "XlogyBackward1")
XlogyOtherScalar = _scalar_variant(Xlogy, "XlogyBackward2")


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
