"""Special functions NumPy lacks (erf, erfc, erfinv, lgamma, digamma, trigamma), vectorised
on float64 arrays to about float64 precision. Array in, float64 array out; no autograd here
(the ops in ``pointwise.py`` wrap these).

Methods: erf by its Maclaurin series (|x| < 2) and erfc by Laplace's continued fraction
(|x| >= 2); erfinv by Halley refinement of a closed-form first guess; lgamma, digamma and
trigamma by shifting the argument up to >= 10 with their recurrences, then the Stirling /
asymptotic series, with the reflection formulas for negative arguments. Loops here run over
series terms, never over elements.
"""

from __future__ import annotations

import math

from .._backend import xp

__all__ = ["erf", "erfc", "erfinv", "lgamma", "digamma", "trigamma"]

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
# erf(x) = 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1)): coefficients of the series in x².
_ERF_SERIES = [(-1) ** n / (math.factorial(n) * (2 * n + 1)) for n in range(32)]
_CF_TERMS = 50        # continued-fraction depth for erfc at x >= 2 (converged to ~1e-15)
_SHIFT = 10.0         # gamma-family recurrences lift the argument to at least this
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def _f64(x):
    return xp.asarray(x, dtype=xp.float64)


def _erf_small(x):
    """erf on |x| < 2 (Horner on the Maclaurin series in x²)."""
    z = x * x
    acc = xp.full_like(x, _ERF_SERIES[-1])
    for c in _ERF_SERIES[-2::-1]:
        acc *= z
        acc += c
    return _TWO_OVER_SQRT_PI * x * acc


def _erfc_large(x):
    """erfc on x >= 2: exp(-x²)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...))))."""
    t = xp.zeros_like(x)
    for k in range(_CF_TERMS, 0, -1):
        t = (0.5 * k) / (x + t)
    return xp.exp(-x * x) / (math.sqrt(math.pi) * (x + t))


def erf(x):
    x = _f64(x)
    out = xp.empty_like(x)
    a = xp.abs(x)
    small = a < 2.0
    out[small] = _erf_small(x[small])
    big = ~small
    ab = a[big]
    out[big] = xp.copysign(1.0 - _erfc_large(xp.where(xp.isnan(ab), 2.0, ab)), x[big])
    out[xp.isnan(x)] = xp.nan
    return out


def erfc(x):
    x = _f64(x)
    out = xp.empty_like(x)
    mid = xp.abs(x) < 2.0
    out[mid] = 1.0 - _erf_small(x[mid])
    hi = x >= 2.0
    out[hi] = _erfc_large(x[hi])
    lo = x <= -2.0
    out[lo] = 2.0 - _erfc_large(-x[lo])
    out[xp.isnan(x)] = xp.nan
    return out


def erfinv(y):
    """Inverse of erf on [-1, 1] (±inf at ±1, nan outside)."""
    y = _f64(y)
    a = xp.abs(y)
    inside = a < 1.0
    ai = a[inside]
    # First guess (Winitzki's closed form, ~2e-3 relative), then two Halley steps.
    w = xp.log1p(-ai * ai)
    t = 2.0 / (math.pi * 0.147) + 0.5 * w
    x = xp.sqrt(xp.sqrt(t * t - w / 0.147) - t)
    tail = ai >= 0.5
    for _ in range(3):
        # Residual erf(x) - a, through erfc in the tail where 1 - a is exact.
        r = xp.empty_like(x)
        r[~tail] = erf(x[~tail]) - ai[~tail]
        r[tail] = (1.0 - ai[tail]) - erfc(x[tail])
        u = r / (_TWO_OVER_SQRT_PI * xp.exp(-x * x))
        x = x - u / (1.0 + x * u)
    out = xp.full_like(y, xp.nan)
    out[inside] = x
    out[a == 1.0] = xp.inf
    return xp.copysign(out, y)


def _sinpi_abs(x):
    """|sin(pi x)| with exact argument reduction."""
    return xp.abs(xp.sin(math.pi * (x - xp.round(x))))


def _shift_up(z):
    """(w, n): w = z + n >= _SHIFT, n a whole number >= 0 (per element)."""
    n = xp.maximum(xp.ceil(_SHIFT - z), 0.0)
    return z + n, n


_MAX_SHIFT = range(int(_SHIFT) + 1)


def _lgamma_pos(z):
    """lgamma for z >= 0.5 (Stirling at z + n >= 10, recurrence down to z)."""
    w, n = _shift_up(z)
    prod = xp.ones_like(z)
    for k in _MAX_SHIFT:
        prod *= xp.where(k < n, z + k, 1.0)
    r = 1.0 / w
    r2 = r * r
    series = r * (1 / 12 + r2 * (-1 / 360 + r2 * (1 / 1260 + r2 * (
        -1 / 1680 + r2 * (1 / 1188 + r2 * (-691 / 360360 + r2 / 156))))))
    return (w - 0.5) * xp.log(w) - w + _HALF_LOG_2PI + series - xp.log(prod)


def lgamma(x):
    """log|Gamma(x)| (+inf at the poles and at ±inf)."""
    x = _f64(x)
    out = xp.empty_like(x)
    pos = x >= 0.5
    out[pos] = _lgamma_pos(x[pos])
    neg = ~pos & ~xp.isnan(x)
    xn = x[neg]
    with xp.errstate(divide="ignore", invalid="ignore"):
        out[neg] = xp.log(math.pi / _sinpi_abs(xn)) - _lgamma_pos(1.0 - xn)
    out[xp.isinf(x)] = xp.inf
    out[xp.isnan(x)] = xp.nan
    return out


def _digamma_pos(z):
    w, n = _shift_up(z)
    acc = xp.zeros_like(z)
    for k in _MAX_SHIFT:
        acc += xp.where(k < n, 1.0 / (z + k), 0.0)
    r2 = 1.0 / (w * w)
    series = r2 * (1 / 12 + r2 * (-1 / 120 + r2 * (1 / 252 + r2 * (
        -1 / 240 + r2 * (1 / 132 + r2 * (-691 / 32760 + r2 / 12))))))
    return xp.log(w) - 0.5 / w - series - acc


def digamma(x):
    """d/dx lgamma(x) (nan at negative integers; digamma(±0) = ∓inf, as in PyTorch)."""
    x = _f64(x)
    out = xp.empty_like(x)
    pos = x > 0
    out[pos] = _digamma_pos(x[pos])
    neg = x < 0
    xn = x[neg]
    with xp.errstate(divide="ignore", invalid="ignore"):
        vals = _digamma_pos(1.0 - xn) - math.pi / xp.tan(math.pi * (xn - xp.round(xn)))
    out[neg] = xp.where(xn == xp.round(xn), xp.nan, vals)
    zero = x == 0
    out[zero] = xp.copysign(xp.inf, -x[zero])
    out[xp.isnan(x)] = xp.nan
    out[x == xp.inf] = xp.inf
    return out


def _trigamma_pos(z):
    w, n = _shift_up(z)
    acc = xp.zeros_like(z)
    for k in _MAX_SHIFT:
        acc += xp.where(k < n, 1.0 / ((z + k) * (z + k)), 0.0)
    r = 1.0 / w
    r2 = r * r
    series = r * (1 + r * (0.5 + r * (1 / 6 + r2 * (-1 / 30 + r2 * (1 / 42 + r2 * (
        -1 / 30 + r2 * (5 / 66 + r2 * (-691 / 2730 + r2 * 7 / 6))))))))
    return series + acc


def trigamma(x):
    """d/dx digamma(x) (+inf at the poles)."""
    x = _f64(x)
    out = xp.empty_like(x)
    pos = x > 0
    out[pos] = _trigamma_pos(x[pos])
    rest = ~pos
    xn = x[rest]
    with xp.errstate(divide="ignore", invalid="ignore"):
        out[rest] = (math.pi / _sinpi_abs(xn)) ** 2 - _trigamma_pos(1.0 - xn)
    out[xp.isnan(x)] = xp.nan
    return out
