"""``ember.special``: torch.special's functions. Most are ember's pointwise ops under the
names torch.special gives them; the rest (Bessel functions, zeta, the incomplete gamma
ratios, the normal-distribution helpers, the orthogonal polynomials) are defined in
``ember._ops.special_functions``."""

from __future__ import annotations

from .._dtype import dtype as _DType
from .._ops.activation import log_softmax as _log_softmax
from .._ops.activation import sigmoid as expit
from .._ops.activation import softmax as _softmax
from .._ops.pointwise import RoundDecimals, xlogy
from .._ops.unary import digamma, erf, erfc, erfinv, exp2, expm1, lgamma, log1p, sinc
from .._ops.reduction import logsumexp
from .._ops.special_functions import (airy_ai, bessel_j0, bessel_j1, bessel_y0, bessel_y1,
                                      chebyshev_polynomial_t, chebyshev_polynomial_u,
                                      chebyshev_polynomial_v, chebyshev_polynomial_w, entr,
                                      erfcx, hermite_polynomial_h, hermite_polynomial_he, i0,
                                      i0e, i1, i1e, igamma, igammac, laguerre_polynomial_l,
                                      legendre_polynomial_p, log_ndtr, logit, modified_bessel_i0,
                                      modified_bessel_i1, modified_bessel_k0, modified_bessel_k1,
                                      mvlgamma, ndtr, ndtri, polygamma,
                                      scaled_modified_bessel_k0, scaled_modified_bessel_k1,
                                      shifted_chebyshev_polynomial_t,
                                      shifted_chebyshev_polynomial_u,
                                      shifted_chebyshev_polynomial_v,
                                      shifted_chebyshev_polynomial_w, spherical_bessel_j0,
                                      xlog1py, zeta)
from .._tensor import Tensor

__all__ = ["airy_ai", "bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1",
           "chebyshev_polynomial_t", "chebyshev_polynomial_u", "chebyshev_polynomial_v",
           "chebyshev_polynomial_w", "digamma", "entr", "erf", "erfc", "erfcx", "erfinv", "exp2",
           "expit", "expm1", "gammainc", "gammaincc", "gammaln", "hermite_polynomial_h",
           "hermite_polynomial_he", "i0", "i0e", "i1", "i1e", "laguerre_polynomial_l",
           "legendre_polynomial_p", "log1p", "log_ndtr", "log_softmax", "logit", "logsumexp",
           "modified_bessel_i0", "modified_bessel_i1", "modified_bessel_k0", "modified_bessel_k1",
           "multigammaln", "ndtr", "ndtri", "polygamma", "psi", "round",
           "scaled_modified_bessel_k0", "scaled_modified_bessel_k1",
           "shifted_chebyshev_polynomial_t", "shifted_chebyshev_polynomial_u",
           "shifted_chebyshev_polynomial_v", "shifted_chebyshev_polynomial_w", "sinc", "softmax",
           "spherical_bessel_j0", "xlog1py", "xlogy", "zeta"]

gammaln = lgamma
psi = digamma
gammainc = igamma
gammaincc = igammac


def multigammaln(input: Tensor, p: int) -> Tensor:
    """The log of the multivariate gamma function of dimension ``p``."""
    return mvlgamma(input, p)


def softmax(input: Tensor, dim: int, dtype: _DType | None = None) -> Tensor:
    """``exp(x) / sum(exp(x))`` along ``dim`` (computed in ``dtype`` if given)."""
    return _softmax(input, dim, dtype=dtype)


def log_softmax(input: Tensor, dim: int, dtype: _DType | None = None) -> Tensor:
    """``x - logsumexp(x)`` along ``dim`` (computed in ``dtype`` if given)."""
    return _log_softmax(input, dim, dtype=dtype)


def round(input: Tensor, decimals: int = 0) -> Tensor:  # noqa: A001 - torch's name
    """Round half to even, to ``decimals`` decimal places (PyTorch always passes ``decimals``
    here, so the node is RoundBackward1 even for 0)."""
    return RoundDecimals.apply(input, int(decimals))
