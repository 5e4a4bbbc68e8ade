"""cov, corrcoef, renorm, gcd, lcm, isin."""

from ._base import OpInfo, S

INT = dict(int_inputs=True, grad=False)
PAIRS = [S((5,), (5,)), S((2, 3), (3,)), S((2, 1), (1, 3)), S((), ())]

OPS = [
    OpInfo("cov", lambda t, a: t.cov(a), [S((3, 5)), S((6,)), S((2, 4), transpose=True)]),
    OpInfo("cov_correction0", lambda t, a: t.cov(a, correction=0), [S((3, 5)), S((1, 4))]),
    OpInfo("cov_weights", lambda t, a, w: t.cov(a, fweights=t.tensor([1, 2, 1, 3]),
                                                  aweights=w.detach()),
           [S((3, 4), (4,))], domain=(0.1, 1.0), gradcheck=False),
    OpInfo("corrcoef", lambda t, a: t.corrcoef(a), [S((3, 5)), S((2, 4), transpose=True)]),
    OpInfo("corrcoef_method", lambda t, a: a.corrcoef(), [S((6,))]),
    OpInfo("renorm", lambda t, a: t.renorm(a, 2, 0, 0.8), [S((3, 4)), S((2, 3, 2))]),
    OpInfo("renorm_p1_dim1", lambda t, a: a.renorm(1, 1, 1.0), [S((3, 4)), S((2, 3, 2))],
           domain=(0.1, 1.0)),
    OpInfo("renorm_p3_neg_dim", lambda t, a: a.renorm(3, -1, 0.5), [S((3, 4))]),
    OpInfo("gcd", lambda t, a, b: t.gcd(a, b), PAIRS, domain=(-30, 30), **INT),
    OpInfo("lcm", lambda t, a, b: t.lcm(a, b), PAIRS, domain=(-30, 30), **INT),
    OpInfo("isin", lambda t, a, b: t.isin(a, b), PAIRS[:2] + [S((0,), (3,))],
           domain=(0, 6), **INT),
    OpInfo("isin_invert", lambda t, a, b: t.isin(a, b, invert=True), PAIRS[:2], domain=(0, 6),
           **INT),
    OpInfo("isin_scalar", lambda t, a: t.isin(a, 3), [S((5,)), S((2, 3))], domain=(0, 6),
           **INT),
]
OPS += [
    OpInfo("logcumsumexp", lambda t, a: t.logcumsumexp(a, -1),
           [S(()), S((5,)), S((2, 3)), S((0, 3)), S((3, 4), transpose=True)], domain=(-3, 3)),
    OpInfo("logcumsumexp_dim0_large", lambda t, a: (a * 300).logcumsumexp(0),
           [S((4, 3)), S((2, 3, 2))]),
]
