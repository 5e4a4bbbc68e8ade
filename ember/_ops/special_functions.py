"""The special functions of ``torch.special`` that ember's pointwise ops lack: Bessel
functions, zeta and polygamma, the incomplete gamma ratios, the normal-distribution helpers,
logit, entr, xlog1py, multigammaln and the orthogonal polynomials. Each differentiable one
is an ``Op`` with PyTorch's node name and its derivative below its forward; the Bessel
functions of the first/second kind, Airy Ai and the polynomials have no derivative in
PyTorch either, so they return plain tensors.

``ember.special`` re-exports these under torch.special's names; the ones PyTorch also puts
at the top level (``i0``, ``logit``, ``polygamma``, ``mvlgamma``, ``igamma``, ``igammac``)
are in ``__all__`` here and are Tensor methods too.
"""

from __future__ import annotations

import math

from ..autograd.function import nondifferentiable
from . import _special_kernels as K
from ._jvp import _FILE_AN_ISSUE, fit, primal
from ._util import Op, Tensor, _make, floating, ndarray, operands, tensor_method, xp
from .indexing import where
from .inplace import register_inplace
from .pointwise import _to_float
from .unary import _FloatUnary, _masked, _via64, digamma, lgamma, log1p

__all__ = ["i0", "logit", "polygamma", "mvlgamma", "igamma", "igammac"]

_SQRT_2PI = math.sqrt(2.0 * math.pi)


class _Unary(_FloatUnary):
    """A unary special function whose one formula, ``derivative(s, v)`` (the derivative
    times ``v``, from the saved value ``s``: the input, or the output with
    ``saves_output``), gives both backward (v = the gradient) and the forward-mode rule
    (v = the tangent)."""

    @staticmethod
    def derivative(s: Tensor, v: Tensor) -> Tensor:
        raise NotImplementedError

    @classmethod
    def backward(cls, ctx, g):
        s, = ctx.saved_tensors
        return cls.derivative(s, g)

    @classmethod
    def jvp(cls, inputs, out, tangents):
        s = out if cls.saves_output else primal(inputs[0])
        return fit(cls.derivative(s, tangents[0]), out)


# -- modified Bessel functions of the first kind -------------------------------------------
class I0(_Unary):
    """d i0(x) = i1(x) dx"""

    node_name = "I0Backward0"
    fn = staticmethod(_via64(K.i0))

    @staticmethod
    def derivative(x, g):
        return g * I1.apply(x)


class I0e(_Unary):
    """d i0e(x) = (i1e(x) - sign(x) i0e(x)) dx"""

    node_name = "SpecialI0EBackward0"
    fn = staticmethod(_via64(K.i0e))

    @staticmethod
    def derivative(x, g):
        return g * (I1e.apply(x) - x.sign() * I0e.apply(x))


class I1(_Unary):
    """d i1(x) = (i0(x) - i1(x)/x) dx  (1/2 at 0)"""

    node_name = "SpecialI1Backward0"
    fn = staticmethod(_via64(K.i1))

    @staticmethod
    def derivative(x, g):
        safe = where(x == 0, 1.0, x)
        return g * where(x == 0, 0.5, I0.apply(x) - I1.apply(x) / safe)


class I1e(_Unary):
    """d i1e(x) = (i0e(x) - i1e(x) (sign(x) + 1/x)) dx  (1/2 at 0)"""

    node_name = "SpecialI1EBackward0"
    fn = staticmethod(_via64(K.i1e))

    @staticmethod
    def derivative(x, g):
        safe = where(x == 0, 1.0, x)
        d = I0e.apply(x) - I1e.apply(x) * (x.sign() + 1.0 / safe)
        return g * where(x == 0, 0.5, d)


# -- normal distribution and error functions ------------------------------------------------
class Erfcx(_Unary):
    """d erfcx(x) = (2x erfcx(x) - 2/√π) dx"""

    node_name = "SpecialErfcxBackward0"
    fn = staticmethod(_via64(K.erfcx))

    @staticmethod
    def derivative(x, g):
        return g * (2.0 * x * Erfcx.apply(x) - 2.0 / math.sqrt(math.pi))


class Ndtr(_Unary):
    """d ndtr(x) = exp(-x²/2)/√(2π) dx (PyTorch composes ndtr, so its node is a Mul's)"""

    node_name = "MulBackward1"
    fn = staticmethod(_via64(K.ndtr))

    @staticmethod
    def derivative(x, g):
        return g * ((-0.5 * x * x).exp() / _SQRT_2PI)


class Ndtri(_Unary):
    """d ndtri(p) = √(2π) exp(ndtri(p)²/2) dp"""

    node_name = "SpecialNdtriBackward0"
    fn = staticmethod(_via64(K.ndtri))
    saves_output = True

    @staticmethod
    def derivative(y, g):
        return g * ((0.5 * y * y).exp() * _SQRT_2PI)


class LogNdtr(_Unary):
    """d log_ndtr(x) = exp(-x²/2 - log_ndtr(x))/√(2π) dx"""

    node_name = "SpecialLogNdtrBackward0"
    fn = staticmethod(_via64(K.log_ndtr))

    @staticmethod
    def derivative(x, g):
        return g * ((-0.5 * x * x - LogNdtr.apply(x)).exp() / _SQRT_2PI)


class Entr(_Unary):
    """d entr(x) = -(log(x) + 1) dx"""

    node_name = "SpecialEntrBackward0"

    @staticmethod
    def fn(a):
        safe = xp.where(a > 0, a, 1.0)
        out = xp.where(a > 0, -a * xp.log(safe), xp.where(a == 0, 0.0, -xp.inf))
        return xp.where(xp.isnan(a), a, out).astype(a.dtype, copy=False)

    @staticmethod
    def derivative(x, g):
        return g * -(x.log() + 1.0)


class Logit(_Unary):
    """d logit(x) = dx / (x (1 - x)) (nan outside [0, 1])"""

    node_name = "LogitBackward0"

    @staticmethod
    def fn(a):
        return xp.log(a / (1.0 - a))

    @staticmethod
    def derivative(x, g):
        return where((x < 0) | (x > 1), math.nan, g / (x * (1.0 - x)))


class LogitEps(Op):
    """d logit(clamp(x, eps, 1 - eps)) = dx / (x (1 - x)) inside [eps, 1 - eps], else 0"""

    node_name = "LogitBackward0"

    @staticmethod
    def forward(ctx, x, eps):
        a = floating(x)
        ctx.eps = eps
        ctx.save_for_backward(x)
        c = xp.clip(a, eps, 1.0 - eps)
        with xp.errstate(all="ignore"):
            return xp.asarray(xp.log(c / (1.0 - c))).astype(a.dtype, copy=False)

    @staticmethod
    def derivative(x, v, eps):
        return _masked(v / (x * (1.0 - x)), (x >= eps) & (x <= 1.0 - eps))

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return LogitEps.derivative(x, g, ctx.eps), None

    @staticmethod
    def jvp(inputs, out, tangents):
        return fit(LogitEps.derivative(primal(inputs[0]), tangents[0], inputs[1]), out)


# -- binary functions ------------------------------------------------------------------------
class Xlog1py(Op):
    """d x log1p(y) = log1p(y) dx + x/(1+y) dy"""

    node_name = "SpecialXlog1PyBackward0"

    @staticmethod
    def forward(ctx, a, b):
        x, y, dt = _binary_float(a, b)
        ctx.save_for_backward(a, b)
        with xp.errstate(all="ignore"):
            out = xp.where((x == 0) & ~xp.isnan(y), 0.0, x * xp.log1p(y))
        return out.astype(dt, copy=False)

    @staticmethod
    def partials(a, b, need_a: bool, need_b: bool) -> tuple:
        """The partial derivatives (log1p(b), a / (1 + b)), those needed; shared by backward
        and jvp."""
        lb = (log1p(b) if isinstance(b, Tensor) else math.log1p(b)) if need_a else None
        return lb, (a / (1.0 + b) if need_b else None)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        da, db = Xlog1py.partials(a, b, *ctx.needs_input_grad)
        return (g * da if da is not None else None, g * db if db is not None else None)

    @staticmethod
    def jvp(inputs, out, tangents):
        a, b = primal(inputs[0]), primal(inputs[1])
        ta, tb = tangents
        da, db = Xlog1py.partials(a, b, ta is not None, tb is not None)
        total = None
        for t, d in ((ta, da), (tb, db)):
            if t is not None:
                total = t * d if total is None else total + t * d
        return fit(total, out)


class Xlog1pySelfScalar(Xlog1py):
    node_name = "SpecialXlog1PyBackward1"


class Xlog1pyOtherScalar(Xlog1py):
    node_name = "SpecialXlog1PyBackward2"


def _binary_float(a, b):
    """Both operands as arrays in PyTorch's float result dtype (integers go to the default
    float dtype), and that dtype."""
    x, y = _to_float(*operands(a, b))
    dt = (x if isinstance(x, ndarray) else y).dtype
    return xp.asarray(x, dtype=dt), xp.asarray(y, dtype=dt), dt


class Zeta(Op):
    """d zeta(x, q) = -x zeta(x + 1, q) dq; the derivative in x is not implemented"""

    node_name = "SpecialZetaBackward0"

    @staticmethod
    def forward(ctx, a, b):
        x, y, dt = _binary_float(a, b)
        ctx.save_for_backward(a, b)
        return K.zeta(x, y).astype(dt, copy=False)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        if need_a:
            raise NotImplementedError("the derivative for 'zeta' is not implemented.")
        return None, (g * -a * zeta(a + 1.0, b) if need_b else None)

    @staticmethod
    def jvp(inputs, out, tangents):
        _refuse("special_zeta")         # PyTorch has no forward rule


class ZetaSelfScalar(Zeta):
    node_name = "SpecialZetaBackward1"


class ZetaOtherScalar(Zeta):
    node_name = "SpecialZetaBackward2"


def _refuse(name: str):
    """PyTorch's error for a function its forward AD has not implemented (raised by the rule,
    which runs only when an argument carries a tangent)."""
    raise NotImplementedError(f"Trying to use forward AD with {name} that does not support it "
                              "because it has not been implemented yet." + _FILE_AN_ISSUE)


class Igamma(Op):
    """d P(a, x) = x^(a-1) exp(-x) / Γ(a) dx; the derivative in a is not implemented"""

    node_name = "IgammaBackward0"
    upper = False

    @classmethod
    def forward(cls, ctx, a, b):
        x, y, dt = _binary_float(a, b)
        ctx.save_for_backward(a, b)
        return K.gammainc(x, y, upper=cls.upper).astype(dt, copy=False)

    @classmethod
    def backward(cls, ctx, g):
        a, x = ctx.saved_tensors
        need_a, need_x = ctx.needs_input_grad
        if need_a:
            name = "igammac" if cls.upper else "igamma"
            raise NotImplementedError(f"the derivative for '{name}: input' is not implemented.")
        d = ((a - 1.0) * x.log() - x - lgamma(a)).exp()
        return None, (g * (-d if cls.upper else d))

    @classmethod
    def jvp(cls, inputs, out, tangents):
        _refuse("igammac" if cls.upper else "igamma")   # PyTorch has none, in either argument


class Igammac(Igamma):
    """d Q(a, x) = -x^(a-1) exp(-x) / Γ(a) dx"""

    node_name = "IgammacBackward0"
    upper = True


# -- polygamma and multigammaln ----------------------------------------------------------------
class Polygamma(Op):
    """d psi^(n)(x) = psi^(n+1)(x) dx"""

    node_name = "PolygammaBackward0"

    @staticmethod
    def forward(ctx, n, x):
        a = floating(x)
        ctx.n = n
        ctx.save_for_backward(x)
        with xp.errstate(all="ignore"):
            return K.polygamma(n, a).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return None, g * Polygamma.apply(ctx.n + 1, x)

    @staticmethod
    def jvp(inputs, out, tangents):
        n, x = inputs
        return fit(tangents[1] * Polygamma.apply(n + 1, primal(x)), out)


class Mvlgamma(Op):
    """d log Γ_p(a) = sum_j digamma(a - j/2) da"""

    node_name = "MvlgammaBackward0"

    @staticmethod
    def forward(ctx, x, p):
        ctx.p = p
        ctx.save_for_backward(x)
        a = floating(x)
        from . import _special
        out = sum(_special.lgamma(a - j / 2.0) for j in range(p))
        out = out + p * (p - 1) / 4.0 * math.log(math.pi)
        return xp.asarray(out).astype(a.dtype, copy=False)

    @staticmethod
    def derivative(x, v, p):
        return v * sum(digamma(x - j / 2.0) for j in range(p))

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return Mvlgamma.derivative(x, g, ctx.p), None

    @staticmethod
    def jvp(inputs, out, tangents):
        return fit(Mvlgamma.derivative(primal(inputs[0]), tangents[0], inputs[1]), out)


# -- the functions ---------------------------------------------------------------------------
@tensor_method()
def i0(input: Tensor) -> Tensor:
    """The modified Bessel function of the first kind, order 0."""
    return I0.apply(input)


def i0e(input: Tensor) -> Tensor:
    """``exp(-|x|) i0(x)``."""
    return I0e.apply(input)


def i1(input: Tensor) -> Tensor:
    """The modified Bessel function of the first kind, order 1."""
    return I1.apply(input)


def i1e(input: Tensor) -> Tensor:
    """``exp(-|x|) i1(x)``."""
    return I1e.apply(input)


def erfcx(input: Tensor) -> Tensor:
    """The scaled complementary error function ``exp(x²) erfc(x)``."""
    return Erfcx.apply(input)


def ndtr(input: Tensor) -> Tensor:
    """The standard normal CDF."""
    return Ndtr.apply(input)


def ndtri(input: Tensor) -> Tensor:
    """The standard normal quantile (inverse of ``ndtr``)."""
    return Ndtri.apply(input)


def log_ndtr(input: Tensor) -> Tensor:
    """``log(ndtr(x))``, accurate far into the lower tail."""
    return LogNdtr.apply(input)


def entr(input: Tensor) -> Tensor:
    """Elementwise entropy ``-x log(x)`` (0 at 0, -inf for x < 0)."""
    return Entr.apply(input)


@tensor_method()
def logit(input: Tensor, eps: float | None = None) -> Tensor:
    """``log(p / (1 - p))``, with ``p`` clamped to ``[eps, 1 - eps]`` when ``eps`` is given."""
    if eps is None:
        return Logit.apply(input)
    return LogitEps.apply(input, float(eps))


def xlog1py(input, other) -> Tensor:
    """``input * log1p(other)``, 0 where ``input == 0`` (unless ``other`` is NaN)."""
    if not isinstance(input, Tensor):
        return Xlog1pySelfScalar.apply(input, other)
    return (Xlog1py if isinstance(other, Tensor) else Xlog1pyOtherScalar).apply(input, other)


def zeta(input, other) -> Tensor:
    """The Hurwitz zeta function ``sum_k (other + k) ** -input``."""
    if not isinstance(input, Tensor):
        return ZetaSelfScalar.apply(input, other)
    return (Zeta if isinstance(other, Tensor) else ZetaOtherScalar).apply(input, other)


@tensor_method()
def igamma(input: Tensor, other: Tensor) -> Tensor:
    """The regularized lower incomplete gamma function ``P(input, other)``."""
    return Igamma.apply(input, other)


@tensor_method()
def igammac(input: Tensor, other: Tensor) -> Tensor:
    """The regularized upper incomplete gamma function ``Q(input, other)``."""
    return Igammac.apply(input, other)


def _polygamma(n: int, input: Tensor) -> Tensor:
    if n < 0:
        raise RuntimeError("polygamma(n, x) does not support negative n.")
    return Polygamma.apply(int(n), input)


def polygamma(n: int, input: Tensor) -> Tensor:
    """The n-th derivative of digamma."""
    return _polygamma(n, input)


def _polygamma_method(self: Tensor, n: int) -> Tensor:
    return _polygamma(n, self)


_polygamma_method.__name__ = "polygamma"
tensor_method("polygamma")(_polygamma_method)


@tensor_method()
def mvlgamma(input: Tensor, p: int) -> Tensor:
    """The log of the multivariate gamma function of dimension ``p``."""
    if p < 1:
        raise RuntimeError("p has to be greater than or equal to 1")
    return Mvlgamma.apply(input, int(p))


register_inplace("i0", "logit", "polygamma", "mvlgamma", "igamma", "igammac")


# -- without derivatives (PyTorch has none either) -------------------------------------------
def _plain(kernel, name: str, doc: str):
    def fn(input: Tensor) -> Tensor:
        a = floating(input)
        with xp.errstate(all="ignore"):
            return _make(kernel(a).astype(a.dtype, copy=False))
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return nondifferentiable(fn)


bessel_j0 = _plain(K.bessel_j0, "bessel_j0", "The Bessel function of the first kind, order 0.")
bessel_j1 = _plain(K.bessel_j1, "bessel_j1", "The Bessel function of the first kind, order 1.")
bessel_y0 = _plain(K.bessel_y0, "bessel_y0", "The Bessel function of the second kind, order 0.")
bessel_y1 = _plain(K.bessel_y1, "bessel_y1", "The Bessel function of the second kind, order 1.")
modified_bessel_i0 = _plain(K.i0, "modified_bessel_i0", "The modified Bessel function I0.")
modified_bessel_i1 = _plain(K.i1, "modified_bessel_i1", "The modified Bessel function I1.")
modified_bessel_k0 = _plain(K.modified_bessel_k0, "modified_bessel_k0",
                            "The modified Bessel function of the second kind, order 0.")
modified_bessel_k1 = _plain(K.modified_bessel_k1, "modified_bessel_k1",
                            "The modified Bessel function of the second kind, order 1.")
scaled_modified_bessel_k0 = _plain(K.scaled_modified_bessel_k0, "scaled_modified_bessel_k0",
                                   "``exp(x) K0(x)``.")
scaled_modified_bessel_k1 = _plain(K.scaled_modified_bessel_k1, "scaled_modified_bessel_k1",
                                   "``exp(x) K1(x)``.")
spherical_bessel_j0 = _plain(K.spherical_bessel_j0, "spherical_bessel_j0",
                             "The spherical Bessel function of the first kind, order 0.")
airy_ai = _plain(K.airy_ai, "airy_ai", "The Airy function Ai.")


def _polynomial(kind: str, name: str, doc: str):
    def fn(input, n) -> Tensor:
        x, m, dt = _binary_float(input, n)
        with xp.errstate(all="ignore"):
            out = K.orthogonal_polynomial(kind, x, m)
        return _make(xp.asarray(out).astype(dt, copy=False))
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return nondifferentiable(fn)


chebyshev_polynomial_t = _polynomial("t", "chebyshev_polynomial_t", "Chebyshev T_n(x).")
chebyshev_polynomial_u = _polynomial("u", "chebyshev_polynomial_u", "Chebyshev U_n(x).")
chebyshev_polynomial_v = _polynomial("v", "chebyshev_polynomial_v", "Chebyshev V_n(x).")
chebyshev_polynomial_w = _polynomial("w", "chebyshev_polynomial_w", "Chebyshev W_n(x).")
shifted_chebyshev_polynomial_t = _polynomial("shifted_t", "shifted_chebyshev_polynomial_t",
                                             "Shifted Chebyshev T*_n(x) = T_n(2x - 1).")
shifted_chebyshev_polynomial_u = _polynomial("shifted_u", "shifted_chebyshev_polynomial_u",
                                             "Shifted Chebyshev U*_n(x) = U_n(2x - 1).")
shifted_chebyshev_polynomial_v = _polynomial("shifted_v", "shifted_chebyshev_polynomial_v",
                                             "Shifted Chebyshev V*_n(x) = V_n(2x - 1).")
shifted_chebyshev_polynomial_w = _polynomial("shifted_w", "shifted_chebyshev_polynomial_w",
                                             "Shifted Chebyshev W*_n(x) = W_n(2x - 1).")
hermite_polynomial_h = _polynomial("h", "hermite_polynomial_h", "Physicists' Hermite H_n(x).")
hermite_polynomial_he = _polynomial("he", "hermite_polynomial_he",
                                    "Probabilists' Hermite He_n(x).")
laguerre_polynomial_l = _polynomial("l", "laguerre_polynomial_l", "Laguerre L_n(x).")
legendre_polynomial_p = _polynomial("p", "legendre_polynomial_p", "Legendre P_n(x).")
