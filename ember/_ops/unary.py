"""Unary float functions: logarithms and exponentials, trigonometric, hyperbolic and special
functions (integer inputs promote to the default float dtype). Each op class holds its
derivative; the public functions (also Tensor methods) follow them.
"""

from __future__ import annotations

import math

from . import _special
from ._jvp import primal
from ._util import Op, Tensor, floating, tensor_method, xp
from .complex import conj_any  # holomorphic ops: grad * conj(f'(z)), PyTorch's convention
from .elementwise import Reciprocal, pow
from .indexing import where
from .inplace import register_inplace

__all__ = [
    "log2", "log10", "log1p", "expm1", "exp2", "rsqrt", "square", "reciprocal", "sin", "cos",
    "tan", "asin", "acos", "atan", "arcsin", "arccos", "arctan", "sinh", "cosh", "asinh",
    "acosh", "atanh", "arcsinh", "arccosh", "arctanh", "erf", "erfc", "erfinv", "lgamma",
    "digamma", "sinc", "deg2rad", "rad2deg",
]

_LN2, _LN10 = math.log(2.0), math.log(10.0)


def _zeros(g: Tensor) -> Tensor:
    return g.new_zeros(g.shape)


def _masked(g: Tensor, keep) -> Tensor:
    """``g`` where ``keep`` holds, else 0 (NaN-safe, unlike ``g * keep``)."""
    return where(keep, g, 0.0)


def _via64(fn):
    """Run a float64 special function and return the input's float dtype."""
    return lambda a: fn(a).astype(a.dtype, copy=False)


# -- unary float math: out = fn(x) ----------------------------------------------------------
class _FloatUnary(Op):
    """Shared forward of the unary float functions: ``fn`` on the input (integers promote to
    the default float dtype), saving the input (or, with ``saves_output``, the output) for
    the subclass's derivative."""

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


class _Unary(_FloatUnary):
    """A unary float function whose subclass gives its derivative once, as ``deriv`` of the
    saved value (the input, or the output with ``saves_output``): backward (``g * conj(f')``,
    PyTorch's convention for holomorphic functions) and the forward-mode rule (``f' dx``)
    both use it."""

    @staticmethod
    def deriv(v):
        raise NotImplementedError

    @classmethod
    def backward(cls, ctx, g):
        v, = ctx.saved_tensors
        return g * conj_any(cls.deriv(v))

    @classmethod
    def jvp(cls, inputs, out, tangents):
        return tangents[0] * cls.deriv(out if cls.saves_output else primal(inputs[0]))


class Log2(_Unary):
    """d log2(x) = dx / (x ln 2)"""

    node_name = "Log2Backward0"
    fn = staticmethod(xp.log2)

    @staticmethod
    def deriv(x):
        return 1 / (x * _LN2)


class Log10(_Unary):
    """d log10(x) = dx / (x ln 10)"""

    node_name = "Log10Backward0"
    fn = staticmethod(xp.log10)

    @staticmethod
    def deriv(x):
        return 1 / (x * _LN10)


class Log1p(_Unary):
    """d log1p(x) = dx / (1 + x)"""

    node_name = "Log1PBackward0"
    fn = staticmethod(xp.log1p)

    @staticmethod
    def deriv(x):
        return 1 / (x + 1)


class Expm1(_Unary):
    """d expm1(x) = (expm1(x) + 1) dx"""

    node_name = "Expm1Backward0"
    fn = staticmethod(xp.expm1)
    saves_output = True

    @staticmethod
    def deriv(y):
        return y + 1


class Exp2(_Unary):
    """d 2**x = 2**x ln 2 dx"""

    node_name = "Exp2Backward0"
    fn = staticmethod(xp.exp2)
    saves_output = True

    @staticmethod
    def deriv(y):
        return y * _LN2


class Rsqrt(_Unary):
    """d x**-0.5 = -0.5 x**-1.5 dx"""

    node_name = "RsqrtBackward0"
    fn = staticmethod(lambda a: 1 / xp.sqrt(a))
    saves_output = True

    @staticmethod
    def deriv(y):
        return y * y * y * -0.5


class Sin(_Unary):
    """d sin(x) = cos(x) dx"""

    node_name = "SinBackward0"
    fn = staticmethod(xp.sin)

    @staticmethod
    def deriv(x):
        return cos(x)


class Cos(_Unary):
    """d cos(x) = -sin(x) dx"""

    node_name = "CosBackward0"
    fn = staticmethod(xp.cos)

    @staticmethod
    def deriv(x):
        return -sin(x)


class Tan(_Unary):
    """d tan(x) = (1 + tan²x) dx"""

    node_name = "TanBackward0"
    fn = staticmethod(xp.tan)
    saves_output = True

    @staticmethod
    def deriv(y):
        return y * y + 1


class Asin(_Unary):
    """d asin(x) = dx / √(1 - x²)"""

    node_name = "AsinBackward0"
    fn = staticmethod(xp.arcsin)

    @staticmethod
    def deriv(x):
        return rsqrt(1 - x * x)


class Acos(_Unary):
    """d acos(x) = -dx / √(1 - x²)"""

    node_name = "AcosBackward0"
    fn = staticmethod(xp.arccos)

    @staticmethod
    def deriv(x):
        return -rsqrt(1 - x * x)


class Atan(_Unary):
    """d atan(x) = dx / (1 + x²)"""

    node_name = "AtanBackward0"
    fn = staticmethod(xp.arctan)

    @staticmethod
    def deriv(x):
        return 1 / (x * x + 1)


class Sinh(_Unary):
    """d sinh(x) = cosh(x) dx"""

    node_name = "SinhBackward0"
    fn = staticmethod(xp.sinh)

    @staticmethod
    def deriv(x):
        return cosh(x)


class Cosh(_Unary):
    """d cosh(x) = sinh(x) dx"""

    node_name = "CoshBackward0"
    fn = staticmethod(xp.cosh)

    @staticmethod
    def deriv(x):
        return sinh(x)


class Asinh(_Unary):
    """d asinh(x) = dx / √(x² + 1)"""

    node_name = "AsinhBackward0"
    fn = staticmethod(xp.arcsinh)

    @staticmethod
    def deriv(x):
        return rsqrt(x * x + 1)


class Acosh(_Unary):
    """d acosh(x) = dx / √(x² - 1)"""

    node_name = "AcoshBackward0"
    fn = staticmethod(xp.arccosh)

    @staticmethod
    def deriv(x):
        if x.is_complex():  # on acosh's branch cut √(z-1)√(z+1) is not √(z²-1)
            return 1 / ((x - 1).sqrt() * (x + 1).sqrt())
        return rsqrt((x - 1) * (x + 1))


class Atanh(_Unary):
    """d atanh(x) = dx / (1 - x²)"""

    node_name = "AtanhBackward0"
    fn = staticmethod(xp.arctanh)

    @staticmethod
    def deriv(x):
        return 1 / (1 - x * x)


class Erf(_Unary):
    """d erf(x) = 2/√π exp(-x²) dx"""

    node_name = "ErfBackward0"
    fn = staticmethod(_via64(_special.erf))

    @staticmethod
    def deriv(x):
        return (-x * x).exp() * (2 / math.sqrt(math.pi))


class Erfc(_Unary):
    """d erfc(x) = -2/√π exp(-x²) dx"""

    node_name = "ErfcBackward0"
    fn = staticmethod(_via64(_special.erfc))

    @staticmethod
    def deriv(x):
        return (-x * x).exp() * (-2 / math.sqrt(math.pi))


class Erfinv(_Unary):
    """d erfinv(x) = √π/2 exp(erfinv(x)²) dx"""

    node_name = "ErfinvBackward0"
    fn = staticmethod(_via64(_special.erfinv))
    saves_output = True

    @staticmethod
    def deriv(y):
        return (y * y).exp() * (math.sqrt(math.pi) / 2)


class Lgamma(_Unary):
    """d lgamma(x) = digamma(x) dx"""

    node_name = "LgammaBackward0"
    fn = staticmethod(_via64(_special.lgamma))

    @staticmethod
    def deriv(x):
        return digamma(x)


class Digamma(_Unary):
    """d digamma(x) = trigamma(x) dx"""

    node_name = "DigammaBackward0"
    fn = staticmethod(_via64(_special.digamma))

    @staticmethod
    def deriv(x):
        return Trigamma.apply(x)


class Trigamma(_Unary):
    """d polygamma(1, x) = polygamma(2, x) dx  (trigamma: digamma's derivative)"""

    node_name = "PolygammaBackward0"
    fn = staticmethod(_via64(_special.trigamma))

    @staticmethod
    def deriv(x):
        from .special_functions import polygamma  # defined on top of this module
        return polygamma(2, x)


class Deg2Rad(_Unary):
    """d deg2rad(x) = π/180 dx"""

    node_name = "Deg2RadBackward0"
    fn = staticmethod(xp.deg2rad)

    @staticmethod
    def deriv(x):
        return math.pi / 180


class Rad2Deg(_Unary):
    """d rad2deg(x) = 180/π dx"""

    node_name = "Rad2DegBackward0"
    fn = staticmethod(xp.rad2deg)

    @staticmethod
    def deriv(x):
        return 180 / math.pi


class Sinc(_Unary):
    """d sinc(x) = (cos(πx) - sinc(x)) / x dx  (0 at x = 0)"""

    node_name = "SincBackward0"
    fn = staticmethod(xp.sinc)

    @staticmethod
    def deriv(x):
        safe = where(x == 0, 1.0, x)
        px = safe * math.pi
        return _masked((px.cos() - px.sin() / px) / safe, x != 0)


@tensor_method()
def log2(input: Tensor) -> Tensor:
    """Elementwise base-2 logarithm."""
    return Log2.apply(input)


@tensor_method()
def log10(input: Tensor) -> Tensor:
    """Elementwise base-10 logarithm."""
    return Log10.apply(input)


@tensor_method()
def log1p(input: Tensor) -> Tensor:
    """``log(1 + x)``, accurate for small ``x``."""
    return Log1p.apply(input)


@tensor_method()
def expm1(input: Tensor) -> Tensor:
    """``exp(x) - 1``, accurate for small ``x``."""
    return Expm1.apply(input)


@tensor_method()
def exp2(input: Tensor) -> Tensor:
    """Elementwise ``2 ** x``."""
    return Exp2.apply(input)


@tensor_method()
def rsqrt(input: Tensor) -> Tensor:
    """Elementwise ``1 / sqrt(x)``."""
    return Rsqrt.apply(input)


@tensor_method()
def square(input: Tensor) -> Tensor:
    """Elementwise ``x ** 2`` (integers stay integers; bool becomes int64)."""
    if input._data.dtype == bool:
        input = input.long()
    return pow(input, 2)


@tensor_method()
def reciprocal(input: Tensor) -> Tensor:
    """Elementwise ``1 / x``."""
    return Reciprocal.apply(input)


@tensor_method()
def sin(input: Tensor) -> Tensor:
    """Elementwise sine."""
    return Sin.apply(input)


@tensor_method()
def cos(input: Tensor) -> Tensor:
    """Elementwise cosine."""
    return Cos.apply(input)


@tensor_method()
def tan(input: Tensor) -> Tensor:
    """Elementwise tangent."""
    return Tan.apply(input)


@tensor_method("asin", "arcsin")
def asin(input: Tensor) -> Tensor:
    """Elementwise arcsine."""
    return Asin.apply(input)


arcsin = asin


@tensor_method("acos", "arccos")
def acos(input: Tensor) -> Tensor:
    """Elementwise arccosine."""
    return Acos.apply(input)


arccos = acos


@tensor_method("atan", "arctan")
def atan(input: Tensor) -> Tensor:
    """Elementwise arctangent."""
    return Atan.apply(input)


arctan = atan


@tensor_method()
def sinh(input: Tensor) -> Tensor:
    """Elementwise hyperbolic sine."""
    return Sinh.apply(input)


@tensor_method()
def cosh(input: Tensor) -> Tensor:
    """Elementwise hyperbolic cosine."""
    return Cosh.apply(input)


@tensor_method("asinh", "arcsinh")
def asinh(input: Tensor) -> Tensor:
    """Elementwise inverse hyperbolic sine."""
    return Asinh.apply(input)


arcsinh = asinh


@tensor_method("acosh", "arccosh")
def acosh(input: Tensor) -> Tensor:
    """Elementwise inverse hyperbolic cosine."""
    return Acosh.apply(input)


arccosh = acosh


@tensor_method("atanh", "arctanh")
def atanh(input: Tensor) -> Tensor:
    """Elementwise inverse hyperbolic tangent."""
    return Atanh.apply(input)


arctanh = atanh


@tensor_method()
def erf(input: Tensor) -> Tensor:
    """The error function."""
    return Erf.apply(input)


@tensor_method()
def erfc(input: Tensor) -> Tensor:
    """The complementary error function ``1 - erf(x)``."""
    return Erfc.apply(input)


@tensor_method()
def erfinv(input: Tensor) -> Tensor:
    """The inverse error function (±inf at ±1)."""
    return Erfinv.apply(input)


@tensor_method()
def lgamma(input: Tensor) -> Tensor:
    """``log|Γ(x)|``."""
    return Lgamma.apply(input)


@tensor_method()
def digamma(input: Tensor) -> Tensor:
    """The logarithmic derivative of Γ."""
    return Digamma.apply(input)


@tensor_method()
def sinc(input: Tensor) -> Tensor:
    """Normalised sinc: ``sin(πx) / (πx)``, 1 at 0."""
    return Sinc.apply(input)


@tensor_method()
def deg2rad(input: Tensor) -> Tensor:
    """Degrees to radians."""
    return Deg2Rad.apply(input)


@tensor_method()
def rad2deg(input: Tensor) -> Tensor:
    """Radians to degrees."""
    return Rad2Deg.apply(input)


register_inplace(
    "log2", "log10", "log1p", "expm1", "exp2", "rsqrt", "square", "reciprocal", "sin", "cos",
    "tan", "asin", "acos", "atan", "arcsin", "arccos", "arctan", "sinh", "cosh", "asinh",
    "acosh", "atanh", "arcsinh", "arccosh", "arctanh", "erf", "erfc", "erfinv", "lgamma",
    "digamma", "sinc", "deg2rad", "rad2deg")
