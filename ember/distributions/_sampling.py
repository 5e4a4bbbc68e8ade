"""Samplers the distributions need that ember's core lacks: gamma (with its reparameterised
gradient), Dirichlet, Poisson and binomial draws.

Each sampler walks the elements in memory order and draws from the generator one value at a
time, like ATen's serial CPU kernels, so seeded draws equal PyTorch's: uniforms are
``uniform_real_distribution<double>`` (53 bits of one 64-bit draw) and normals come from the
generator's Box-Muller pair with its cached second value. Scalar math goes through Python's
``math`` (glibc). The gamma sampler is Marsaglia and Tsang's (2000) rejection method with the
``alpha < 1`` boost; Poisson is Hörmann's (1993) transformed rejection for ``lam >= 10`` and
the product of uniforms below; binomial is Hörmann's BTRS for ``n * p >= 10`` and geometric
inversion below.
"""

from __future__ import annotations

import math

from .._backend import xp
from .._random import default_generator
from .._tensor import Tensor, _make
from ..autograd.function import _InternalOp as Op

__all__ = ["standard_gamma", "sample_dirichlet", "dirichlet_rsample", "poisson",
           "binomial", "cauchy"]

_F32_THIRD = float(xp.float32(1.0) / xp.float32(3.0))   # ATen writes 1.0f / 3.0f
_F32_0331 = float(xp.float32(0.0331))
_MASK53 = (1 << 53) - 1


class _Stream:
    """Scalar draws from a generator in ATen's order. Words are pulled in blocks; on
    ``close`` the engine is rewound and advanced by exactly the words used."""

    def __init__(self, gen):
        self.gen = gen or default_generator
        self._state = self.gen._mt.state
        self._words: list = []
        self._pos = 0
        self._used = 0

    def _word(self) -> int:
        if self._pos >= len(self._words):
            self._words = self.gen._mt.random_raw(4096).tolist()
            self._pos = 0
        w = self._words[self._pos]
        self._pos += 1
        self._used += 1
        return w

    def uniform(self) -> float:
        hi = self._word()
        w = (hi << 32) | self._word()
        return (w & _MASK53) * 2.0 ** -53

    def normal(self) -> float:
        gen = self.gen
        if gen._normal is not None:
            z, gen._normal = gen._normal, None
            return z
        u1 = self.uniform()
        u2 = self.uniform()
        r = math.sqrt(-2.0 * math.log1p(-u2))
        theta = 2.0 * math.pi * u1
        gen._normal = r * math.sin(theta)
        return r * math.cos(theta)

    def close(self) -> None:
        self.gen._mt.state = self._state
        if self._used:
            self.gen._mt.random_raw(self._used)
            self.gen._fresh = False


def _gamma_one(alpha, s: _Stream, f32: bool) -> float:
    """One Gamma(alpha, 1) draw. ``f32``: alpha arithmetic happens in float32 like ATen's
    ``scalar_t`` code for float tensors (the accumulation is double either way)."""
    scale = 1.0
    if alpha < 1.0:
        if alpha == 0.0:
            return 0.0
        inv = float(xp.float32(1.0) / xp.float32(alpha)) if f32 else 1.0 / alpha
        scale *= math.pow(1.0 - s.uniform(), inv)
        alpha = float(xp.float32(alpha) + xp.float32(1.0)) if f32 else alpha + 1.0
    d = float(xp.float32(alpha) - xp.float32(_F32_THIRD)) if f32 else alpha - _F32_THIRD
    c = 1.0 / math.sqrt(9.0 * d)
    while True:
        while True:
            x = s.normal()
            y = 1.0 + c * x
            if y > 0:
                break
        v = y * y * y
        u = 1.0 - s.uniform()
        xx = x * x
        if u < 1.0 - _F32_0331 * xx * xx:
            return scale * d * v
        if math.log(u) < 0.5 * xx + d * (1.0 - v + math.log(v)):
            return scale * d * v


def _gamma_array(alpha, generator=None, f32=False):
    s = _Stream(generator)
    try:
        vals = [_gamma_one(a, s, f32) for a in alpha.ravel().tolist()]
    finally:
        s.close()
    return xp.array(vals, dtype=xp.float64).reshape(alpha.shape)


def _gamma_cdf_grad_alpha(a, x):
    """d/da of the regularised lower incomplete gamma P(a, x), from its power series
    P = sum_n t_n with t_n = x^(a+n) e^-x / Gamma(a+n+1), so dP/da = sum_n t_n (log x -
    psi(a+n+1)); t_n and psi(a+n+1) follow by recurrence (float64 arrays)."""
    from .._ops._special import digamma, lgamma
    if not x.size:
        return xp.zeros_like(x)
    lx = xp.log(x)
    term = xp.exp(a * lx - x - lgamma(a + 1.0))
    psi = digamma(a + 1.0)
    total = term * (lx - psi)
    for n in range(1, int(xp.max(x) + 12 * xp.sqrt(xp.max(x)) + 40)):
        term = term * x / (a + n)
        psi = psi + 1.0 / (a + n)
        step = term * (lx - psi)
        total += step
        if n > xp.max(x) and not xp.any(xp.abs(step) > 1e-17 * xp.abs(total)):
            break
    return total


def _standard_gamma_grad(alpha, x):
    """dx/dalpha for x ~ Gamma(alpha, 1) held at a fixed CDF level (implicit
    reparameterisation): -(dP/dalpha) / pdf."""
    from .._ops._special import lgamma
    a = alpha.astype(xp.float64)
    x = xp.maximum(x.astype(xp.float64), 1e-300)
    log_pdf = (a - 1.0) * xp.log(x) - x - lgamma(a)
    with xp.errstate(all="ignore"):
        g = -_gamma_cdf_grad_alpha(a, x) / xp.exp(log_pdf)
    return xp.where(xp.isfinite(g), g, 0.0)


class StandardGamma(Op):
    """d x / d alpha = -(dF/dalpha) / f(x): implicit reparameterisation through the CDF."""
    node_name = "StandardGammaBackward0"

    @staticmethod
    def forward(ctx, alpha, generator=None):
        a = alpha._data
        f32 = a.dtype != xp.float64
        out = _gamma_array(a, generator, f32)
        out = xp.maximum(out.astype(a.dtype), xp.finfo(a.dtype).tiny)
        ctx.save_for_backward(alpha, out)
        return out

    @staticmethod
    def backward(ctx, g):
        alpha, out = ctx.saved_tensors
        d = _standard_gamma_grad(alpha._data, out._data).astype(alpha._data.dtype)
        return g * _make(d), None

    @staticmethod
    def jvp(inputs, out, tangents):
        t = tangents[0]
        if t is None:
            return None
        alpha = inputs[0]
        return t * _make(_standard_gamma_grad(alpha._data, out._data).astype(alpha._data.dtype))


def standard_gamma(alpha: Tensor, generator=None) -> Tensor:
    """``torch._standard_gamma``: Gamma(alpha, 1) draws, differentiable in ``alpha``."""
    return StandardGamma.apply(alpha, generator)


def sample_dirichlet(alpha: Tensor, generator=None) -> Tensor:
    """``torch._sample_dirichlet``: gamma draws in float64, normalised over the last dim."""
    a = alpha._data
    gam = xp.maximum(_gamma_array(a.astype(xp.float64), generator), xp.finfo(xp.float64).tiny)
    out = (gam / gam.sum(-1, keepdims=True)).astype(a.dtype)
    top = xp.nextafter(a.dtype.type(1), a.dtype.type(0))
    return _make(xp.clip(out, xp.finfo(a.dtype).tiny, top))


def _poisson_one(lam: float, s: _Stream) -> int:
    if lam >= 10:
        slam, loglam = math.sqrt(lam), math.log(lam)
        b = 0.931 + 2.53 * slam
        a = -0.059 + 0.02483 * b
        invalpha = 1.1239 + 1.1328 / (b - 3.4)
        vr = 0.9277 - 3.6224 / (b - 2)
        while True:
            u = s.uniform() - 0.5
            v = s.uniform()
            us = 0.5 - abs(u)
            k = math.floor((2 * a / us + b) * u + lam + 0.43)
            if us >= 0.07 and v <= vr:
                return k
            if k < 0 or (us < 0.013 and v > us):
                continue
            if (math.log(v) + math.log(invalpha) - math.log(a / (us * us) + b)
                    <= -lam + k * loglam - math.lgamma(k + 1.0)):
                return k
    if lam == 0:
        return 0
    enlam = math.exp(-lam)
    k, prod = 0, 1.0
    while True:
        prod *= s.uniform()
        if prod > enlam:
            k += 1
        else:
            return k


def poisson(rate: Tensor, generator=None) -> Tensor:
    """``torch.poisson``: one Poisson(rate) count per element, in ``rate``'s dtype."""
    a = rate._data
    if (a < 0).any() or xp.isnan(a).any():
        raise RuntimeError("invalid Poisson rate, expected rate to be non-negative")
    s = _Stream(generator)
    try:
        vals = [_poisson_one(lam, s) for lam in a.astype(xp.float64).ravel().tolist()]
    finally:
        s.close()
    return _make(xp.array(vals, dtype=xp.float64).astype(a.dtype).reshape(a.shape))


def _stirling_tail(k: float) -> float:
    # log k! minus Stirling's approximation at k + 1 (the BTRS correction term).
    if k <= 9:
        return _TAIL[int(k)]
    kp1sq = (k + 1) * (k + 1)
    return (1.0 / 12 - (1.0 / 360 - 1.0 / 1260 / kp1sq) / kp1sq) / (k + 1)


_TAIL = [math.lgamma(k + 1.0) - (k + 0.5) * math.log(k + 1.0) + (k + 1.0)
         - 0.5 * math.log(2 * math.pi) for k in range(10)]


def _btrs(n: float, p: float, s: _Stream) -> float:
    stddev = math.sqrt(n * p * (1 - p))
    b = 1.15 + 2.53 * stddev
    a = -0.0873 + 0.0248 * b + 0.01 * p
    c = n * p + 0.5
    v_r = 0.92 - 4.2 / b
    r = p / (1 - p)
    alpha = (2.83 + 5.1 / b) * stddev
    m = math.floor((n + 1) * p)
    while True:
        u = s.uniform() - 0.5
        v = s.uniform()
        us = 0.5 - abs(u)
        k = float(math.floor((2 * a / us + b) * u + c))
        if k < 0 or k > n:
            continue
        if us >= 0.07 and v <= v_r:
            return k
        v = math.log(v * alpha / (a / (us * us) + b))
        bound = ((m + 0.5) * math.log((m + 1) / (r * (n - m + 1)))
                 + (n + 1) * math.log((n - m + 1) / (n - k + 1))
                 + (k + 0.5) * math.log(r * (n - k + 1) / (k + 1))
                 + _stirling_tail(m) + _stirling_tail(n - m)
                 - _stirling_tail(k) - _stirling_tail(n - k))
        if v <= bound:
            return k


def _inversion(n: float, p: float, s: _Stream) -> float:
    geom_sum, count = 0.0, 0.0
    logq = math.log1p(-p)
    while True:
        geom = math.ceil(math.log(s.uniform()) / logq)
        geom_sum += geom
        if geom_sum > n:
            return count
        count += 1


def _binomial_one(n: float, p: float, s: _Stream) -> float:
    if n <= 0.0 or p <= 0.0:
        return 0.0
    if p >= 1.0:
        return n
    if p <= 0.5:
        return _btrs(n, p, s) if n * p >= 10.0 else _inversion(n, p, s)
    if p > 0.5:
        q = 1.0 - p
        return n - (_btrs(n, q, s) if n * q >= 10.0 else _inversion(n, q, s))
    return math.nan


def binomial(count: Tensor, prob: Tensor, generator=None) -> Tensor:
    """``torch.binomial``: Binomial(count, prob) draws (count and prob broadcast)."""
    c, p = xp.broadcast_arrays(count._data, prob._data)
    s = _Stream(generator)
    try:
        vals = [_binomial_one(n, q, s) for n, q in zip(c.astype(xp.float64).ravel().tolist(),
                                                       p.astype(xp.float64).ravel().tolist())]
    finally:
        s.close()
    return _make(xp.array(vals, dtype=xp.float64).astype(count._data.dtype).reshape(c.shape))


class DirichletRsample(Op):
    """x = G / sum(G), G_i ~ Gamma(alpha_i): dL/dalpha_i = dx_i/dalpha_i * (g_i - <x, g>),
    with dx_i/dalpha_i from x_i's Beta(alpha_i, total - alpha_i) marginal (PyTorch's
    estimator)."""
    node_name = "_DirichletBackward"

    @staticmethod
    def forward(ctx, alpha, generator=None):
        out = sample_dirichlet(alpha, generator)._data
        ctx.save_for_backward(alpha, out)
        return out

    @staticmethod
    def backward(ctx, g):
        from ._special import beta_sample_grad
        alpha, x = ctx.saved_tensors
        a = alpha._data
        total = xp.broadcast_to(a.sum(-1, keepdims=True), a.shape)
        d = _make(beta_sample_grad(x._data, a, total).astype(a.dtype))
        return d * (g - (x * g).sum(-1, keepdim=True)), None


def dirichlet_rsample(alpha: Tensor, generator=None) -> Tensor:
    """A Dirichlet(alpha) draw (last dim = event), differentiable in ``alpha``."""
    return DirichletRsample.apply(alpha, generator)


def cauchy(shape, dtype, median: float = 0.0, sigma: float = 1.0, generator=None) -> Tensor:
    """``Tensor.cauchy_``: ``median + sigma * tan(pi * (u - 0.5))`` per element, u a float64
    uniform (ATen's scalar kernel), then cast."""
    gen = generator or default_generator
    n = math.prod(shape)
    u = gen._unit(n, 53)
    vals = xp.fromiter((median + sigma * math.tan(math.pi * (v - 0.5)) for v in u.tolist()),
                       xp.float64, count=n)
    return _make(vals.astype(dtype.np).reshape(tuple(shape)))
