"""torch.special (and its top-level aliases i0, logit, polygamma, mvlgamma, igamma)."""

from ._base import BINARY, UNARY, OpInfo, S

POS = (0.5, 3.0)
UNIT = (0.05, 0.95)
NOGRAD = dict(grad=False)
FEW = [S(()), S((7,)), S((3, 4), transpose=True)]    # for aliases and derivative-free ones


def _sp(name, domain=(-2.0, 2.0), samples=None, **kw):
    if samples is None:
        samples = FEW if kw.get("grad") is False else UNARY
    return OpInfo(f"special.{name}", lambda t, a: getattr(t.special, name)(a), samples,
                  domain=domain, **kw)


def _sp2(name, domain=(-2.0, 2.0), **kw):
    return OpInfo(f"special.{name}", lambda t, a, b: getattr(t.special, name)(a, b), BINARY,
                  domain=domain, **kw)


def _poly(name):
    return OpInfo(f"special.{name}", lambda t, a: getattr(t.special, name)(a, 5), FEW,
                  domain=(-1.0, 1.0), **NOGRAD)


OPS = [
    # aliases of pointwise ops
    _sp("expit", samples=FEW), _sp("gammaln", POS, FEW), _sp("psi", POS, FEW),
    _sp("digamma", POS, FEW), _sp("erf", samples=FEW), _sp("erfc", samples=FEW),
    _sp("erfinv", (-0.9, 0.9), FEW), _sp("exp2", samples=FEW), _sp("expm1", samples=FEW),
    _sp("log1p", POS, FEW), _sp("sinc", samples=FEW), _sp("round", (-3.0, 3.0), FEW),
    OpInfo("special.softmax", lambda t, a: t.special.softmax(a, -1), UNARY[1:]),
    OpInfo("special.log_softmax", lambda t, a: t.special.log_softmax(a, 0), UNARY[1:]),
    OpInfo("special.logsumexp", lambda t, a: t.special.logsumexp(a, -1), UNARY[1:]),
    _sp2("xlogy", POS),
    # new functions with derivatives
    _sp("i0", (-3.0, 3.0)), _sp("i0e", (-3.0, 3.0)), _sp("i1", (-3.0, 3.0)),
    _sp("i1e", (-3.0, 3.0)), _sp("erfcx", (-2.0, 3.0)), _sp("ndtr", (-3.0, 3.0)),
    _sp("ndtri", UNIT), _sp("log_ndtr", (-4.0, 3.0)), _sp("entr", POS), _sp("logit", UNIT),
    OpInfo("special.logit_eps", lambda t, a: t.special.logit(a, eps=0.2), UNARY, domain=UNIT),
    OpInfo("i0", lambda t, a: t.i0(a), UNARY, domain=(-3.0, 3.0)),
    OpInfo("i0_method", lambda t, a: a.i0(), UNARY[:3]),
    OpInfo("logit", lambda t, a: t.logit(a), UNARY, domain=UNIT),
    OpInfo("logit_method_eps", lambda t, a: a.logit(0.1), UNARY[:3], domain=(0.0, 1.0)),
    _sp2("xlog1py", POS),
    OpInfo("special.xlog1py_scalar_other", lambda t, a: t.special.xlog1py(a, 2.5), UNARY),
    OpInfo("special.xlog1py_scalar_self", lambda t, a: t.special.xlog1py(2.5, a), UNARY,
           domain=POS),
    OpInfo("special.zeta", lambda t, a, b: t.special.zeta(a.detach() + 2.0, b), BINARY,
           domain=POS, gradcheck=False, forward_ad=False),
    OpInfo("special.zeta_scalar_self", lambda t, a: t.special.zeta(3.0, a), UNARY, domain=POS,
           forward_ad=False),
    OpInfo("special.zeta_scalar_other", lambda t, a: t.special.zeta(a, 2.0), UNARY,
           domain=(1.5, 4.0), **NOGRAD),
    OpInfo("special.gammainc", lambda t, a, b: t.special.gammainc(a.detach(), b), BINARY,
           domain=POS, gradcheck=False, forward_ad=False),
    OpInfo("special.gammaincc", lambda t, a, b: t.special.gammaincc(a.detach(), b), BINARY,
           domain=POS, gradcheck=False, forward_ad=False),
    OpInfo("igamma_method", lambda t, a, b: b.detach().igamma(a), BINARY[:3], domain=POS,
           gradcheck=False, forward_ad=False),
    OpInfo("special.polygamma_2", lambda t, a: t.special.polygamma(2, a), UNARY, domain=POS),
    OpInfo("polygamma_0", lambda t, a: t.polygamma(0, a), UNARY, domain=POS),
    OpInfo("polygamma_1", lambda t, a: t.polygamma(1, a), UNARY, domain=POS, gradcheck=False),
    OpInfo("polygamma_method_3", lambda t, a: a.polygamma(3), UNARY[:3], domain=POS),
    OpInfo("polygamma_negative_x", lambda t, a: t.polygamma(2, a), UNARY[:3],
           domain=(-1.9, -1.1)),
    OpInfo("special.multigammaln", lambda t, a: t.special.multigammaln(a, 3), UNARY,
           domain=(1.2, 4.0)),
    OpInfo("mvlgamma_method", lambda t, a: a.mvlgamma(p=2), UNARY[:3], domain=(0.6, 4.0)),
    # functions PyTorch gives no derivative
    _sp("bessel_j0", (-20.0, 20.0), **NOGRAD), _sp("bessel_j1", (-20.0, 20.0), **NOGRAD),
    _sp("bessel_y0", (0.1, 20.0), **NOGRAD), _sp("bessel_y1", (0.1, 20.0), **NOGRAD),
    _sp("modified_bessel_i0", (-5.0, 5.0), **NOGRAD),
    _sp("modified_bessel_i1", (-5.0, 5.0), **NOGRAD),
    _sp("modified_bessel_k0", (0.1, 12.0), **NOGRAD),
    _sp("modified_bessel_k1", (0.1, 12.0), **NOGRAD),
    _sp("scaled_modified_bessel_k0", (0.1, 12.0), **NOGRAD),
    _sp("scaled_modified_bessel_k1", (0.1, 12.0), **NOGRAD),
    _sp("spherical_bessel_j0", (-8.0, 8.0), **NOGRAD), _sp("airy_ai", (-8.0, 6.0), **NOGRAD),
    _poly("chebyshev_polynomial_t"), _poly("chebyshev_polynomial_u"),
    _poly("chebyshev_polynomial_v"), _poly("chebyshev_polynomial_w"),
    _poly("shifted_chebyshev_polynomial_t"), _poly("shifted_chebyshev_polynomial_u"),
    _poly("shifted_chebyshev_polynomial_v"), _poly("shifted_chebyshev_polynomial_w"),
    _poly("hermite_polynomial_h"), _poly("hermite_polynomial_he"),
    _poly("laguerre_polynomial_l"), _poly("legendre_polynomial_p"),
    OpInfo("special.legendre_polynomial_p_tensor_n",
           lambda t, a, n: t.special.legendre_polynomial_p(a, (n * 3).floor()),
           [S((4,), (4,)), S((2, 3), (3,)), S((2, 1), (1, 3))], domain=(-1.0, 2.5), **NOGRAD),
]
