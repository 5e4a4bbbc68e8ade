"""PyTorch-identical CPU random numbers: ATen's mt19937 engine plus its sampling recipes.

With the same seed, every sampler here returns what PyTorch's CPU kernels return, bit for bit:
the engine is NumPy's ``MT19937`` bit generator keyed exactly like ``at::mt19937``, and each
sampler consumes 32-bit (``random()``) or 64-bit (``random64()``, high word first) draws in
the order the ATen kernel does, then transforms them with the same arithmetic, including the
fused multiply-adds GCC emits for ATen's x86-64 (AVX2/AVX512) kernels.

float64 ``log``/``log1p`` come from Python's ``math`` (glibc, as in PyTorch) because NumPy's
SIMD versions differ in the last bit; ``sin``/``cos`` come from NumPy, whose float64 results
match glibc's on x86-64. float32 ``normal`` (16+ elements) replays the Cephes polynomials of
PyTorch's AVX2 kernel. float16 and bfloat16 (stored as float32) round like c10 does.
"""

from __future__ import annotations

import math
import operator
import os
import struct

from ._backend import ndarray, xp
from ._dtype import dtype as _DType

__all__ = ["Generator", "default_generator", "get_rng_state", "initial_seed", "manual_seed",
           "seed", "set_rng_state"]

_N = 624                          # mt19937 state words
_DEFAULT_SEED = 67280421310721    # c10's default_rng_seed_val: what a new generator holds
_U64 = (1 << 64) - 1
_STATE_SIZE = 5056                # sizeof(CPUGeneratorImplState), torch's get_state() length
_HEAD = struct.Struct("<QiiQ")    # the_initial_seed, left, seeded, next
_TAIL = struct.Struct("<dddi4xf?3x")  # normal_x, normal_y, normal_rho, normal_is_valid, float
_SMALL_PERM = 0xFFFFFFFF // 20    # randperm uses 32-bit draws below this n, 64-bit above
_RANDOM_MOD = {"float16": (1 << 11) + 1, "bfloat16": (1 << 8) + 1, "float32": (1 << 24) + 1,
               "float64": (1 << 53) + 1, "int64": 1 << 63}   # random_()'s modulus per dtype


def _numel(shape) -> int:
    return math.prod(shape)


def _digits(dt: _DType) -> int:
    # Bits a float uniform keeps; float16/bfloat16 sample like float32, then round.
    return 53 if dt.name == "float64" else 24


def _cast(x, dt: _DType, shape):
    """Convert like ATen's static_cast: float64 reaches float16/bfloat16 through float32."""
    if dt.name == "bfloat16":      # stored as float32: round to nearest-even bfloat16 (c10)
        x = xp.asarray(x, xp.float32)
        b = x.view(xp.uint32)
        b = (b + (((b >> 16) & 1) + 0x7FFF)) & 0xFFFF0000
        x = xp.where(xp.isnan(x), x, b.view(xp.float32))
    elif dt.name == "float16":
        x = x.astype(xp.float32)
    return x.astype(dt.np).reshape(shape)


# -- one-rounding fused multiply-add (GCC contracts ATen's `x * a + b` into vfmadd) ---------

def _two_sum(a, b):
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _round_odd(s, err):
    # Rounding to odd at high precision, then to nearest, equals one rounding (Boldo-Melquiond).
    even = (s.view(xp.uint64) & 1) == 0
    return xp.where((err != 0) & even, xp.nextafter(s, xp.copysign(xp.inf, err)), s)


def _split(a):
    t = a * 134217729.0           # Veltkamp split into 26+27 bit halves
    hi = t - (t - a)
    return hi, a - hi


def _fma64(a, b, c):
    """``a * b + c`` rounded once, in float64 (Dekker product, emulated-FMA sum)."""
    a, b, c = (xp.asarray(v, xp.float64) for v in (a, b, c))
    ph = a * b
    (ah, al), (bh, bl) = _split(a), _split(b)
    pl = ((ah * bh - ph) + ah * bl + al * bh) + al * bl
    sh, sl = _two_sum(c, ph)
    return sh + _round_odd(*_two_sum(pl, sl))


def _fma32(a, b, c):
    """``a * b + c`` rounded once to float32 (float32 inputs, array result)."""
    p = xp.multiply(a, b, dtype=xp.float64)       # exact: 24 + 24 bits fit in 53
    s = xp.add(p, c, dtype=xp.float64)
    out = s.astype(xp.float32)
    # Rounding twice (to float64, then float32) can only go wrong where the float64 sum sits
    # exactly halfway between two float32s (or is float32-subnormal): redo those via odd.
    bad = ((s.view(xp.uint64) & 0x1FFFFFFF) == 0x10000000) | (xp.abs(s) < 2.0 ** -126)
    if bad.any():
        p, c = (xp.broadcast_to(xp.asarray(v, xp.float64), s.shape)[bad] for v in (p, c))
        out[bad] = _round_odd(*_two_sum(p, c)).astype(xp.float32)
    return out


def _libm(fn, x):
    # NumPy's SIMD log/log1p differ from glibc's in the last bit now and then; math is glibc.
    return xp.fromiter(map(fn, x.ravel().tolist()), xp.float64, count=x.size).reshape(x.shape)


# -- avx_mathfun.h's log256_ps / sincos256_ps (Cephes), as normal_fill_16_AVX2 runs them --

_f = xp.float32
_LOG_P = [_f(c) for c in (7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1,
                          1.4249322787e-1, -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1,
                          3.3333331174e-1)]
_DP = [_f(c) for c in (-0.78515625, -2.4187564849853515625e-4, -3.77489497744594108e-8)]
_COS_P = [_f(c) for c in (2.443315711809948e-5, -1.388731625493765e-3, 4.166664568298827e-2)]
_SIN_P = [_f(c) for c in (-1.9515295891e-4, 8.3321608736e-3, -1.6666654611e-1)]


def _log_avx(x):
    """Cephes logf on float32 ``x`` > 0 (``x`` here is 1 - u, so never denormal or <= 0)."""
    bits = x.view(xp.int32)
    e = ((bits >> 23) - 0x7F).astype(_f) + _f(1)
    m = ((bits & ~0x7F800000) | 0x3F000000).view(_f)        # mantissa scaled into [0.5, 1)
    small = m < _f(0.707106781186547524)
    e = e - small.astype(_f)
    m = (m - _f(1)) + xp.where(small, m, _f(0))
    z = m * m
    y = xp.full_like(m, _LOG_P[0])
    for c in _LOG_P[1:]:
        y = _fma32(y, m, c)
    y = _fma32(y * m, z, e * _f(-2.12194440e-4))
    y = _fma32(z, _f(-0.5), y)
    return _fma32(e, _f(0.693359375), m + y)


def _sincos_avx(x):
    """Cephes sinf/cosf on float32 ``x`` >= 0, with the same octant reduction."""
    j = ((x * _f(1.27323954473516)).astype(xp.int32) + 1) & ~1
    y = j.astype(_f)
    for c in _DP:                                            # extended-precision x - j*pi/4
        x = _fma32(y, c, x)
    z = x * x
    pc = _fma32(_fma32(_COS_P[0], z, _COS_P[1]), z, _COS_P[2]) * z
    pc = _fma32(pc, z, -(z * _f(0.5))) + _f(1)
    ps = _fma32(_fma32(_SIN_P[0], z, _SIN_P[1]), z, _SIN_P[2]) * z
    ps = _fma32(ps, x, x)
    poly = (j & 2) == 0
    sin, cos = xp.where(poly, ps, pc), xp.where(poly, pc, ps)
    return xp.where((j & 4) != 0, -sin, sin), xp.where(((j - 2) & 4) == 0, -cos, cos)


def _box_muller16(u, mean: float, std: float, np_dt):
    """normal_fill_16 on rows of 16 uniforms: row[:8] feed the radius, row[8:] the angle."""
    if np_dt == xp.float32:                                  # normal_fill_16_AVX2
        radius = xp.sqrt(_f(-2) * _log_avx(_f(1) - u[:, :8]))
        sin, cos = _sincos_avx(_f(2 * math.pi) * u[:, 8:])
        a, b = radius * cos, radius * sin
        return xp.hstack([_fma32(a, _f(std), _f(mean)), _fma32(b, _f(std), _f(mean))])
    radius = xp.sqrt(-2.0 * _libm(math.log, 1.0 - u[:, :8]))
    theta = 2.0 * math.pi * u[:, 8:]
    a, b = radius * xp.cos(theta), radius * xp.sin(theta)
    if std != 1.0 or mean != 0.0:
        a, b = _fma64(a, std, mean), _fma64(b, std, mean)
    return xp.hstack([a, b])


def _perm_from_swaps(z):
    """The permutation Fisher-Yates leaves after swapping slots i and i + z[i], i = 0, 1, ...

    Slot i is final once step i runs, so with t[i] = i + z[i]: result[i] is what slot t[i]
    holds before step i -- the item the latest earlier step aimed at t[i] put there, or t[i]
    itself -- and the item a step k puts into t[k] is what slot k held at time k, found the
    same way. Those chains resolve by pointer doubling, so no per-element Python loop runs.
    """
    n = z.size + 1
    i = xp.arange(n, dtype=xp.int64)
    t = i.copy()
    t[:-1] += z.astype(xp.int64)              # a final self-swap makes every slot a step
    order = xp.argsort(t, kind="stable")      # steps grouped by target, in time order
    st = t[order]
    prev = xp.full(n, -1, xp.int64)           # latest earlier step with the same target
    same = st[1:] == st[:-1]
    prev[order[1:][same]] = order[:-1][same]
    # For slot k: the latest step before k that aimed at k (its item is what k holds at time k).
    pos = xp.searchsorted(st * n + order, i * n + i) - 1
    hit = (pos >= 0) & (st[xp.maximum(pos, 0)] == i)
    src = xp.where(hit, order[xp.maximum(pos, 0)], i)
    while True:                               # follow src to its root: out[k] = root index
        nxt = src[src]
        if xp.array_equal(nxt, src):
            break
        src = nxt
    return xp.where(prev >= 0, src[xp.maximum(prev, 0)], t)


class Generator:
    """A CPU random number generator whose streams equal ``torch.Generator``'s."""

    def __init__(self, device="cpu"):
        self.device = str(device)
        self._mt = xp.random.MT19937()
        self.manual_seed(_DEFAULT_SEED)

    def __repr__(self) -> str:
        return f"<ember.Generator object at {id(self):#x}>"

    # -- seeding and state -------------------------------------------------------------
    def manual_seed(self, seed: int) -> Generator:
        """Seed like ``at::mt19937(seed)``: Knuth's init over the low 32 bits; negatives wrap."""
        try:
            seed = operator.index(seed)
        except TypeError:
            raise RuntimeError(f"manual_seed expected a long, but got "
                               f"{type(seed).__name__}") from None
        if not -(1 << 63) <= seed <= _U64:
            raise ValueError("Overflow when unpacking long long")
        seed &= _U64
        key = [seed & 0xFFFFFFFF]
        for j in range(1, _N):
            prev = key[-1]
            key.append((1812433253 * (prev ^ (prev >> 30)) + j) & 0xFFFFFFFF)
        self._set_engine(xp.array(key, xp.uint32), _N)
        self._seed, self._fresh = seed, True
        self._normal = self._normal_f = None      # Box-Muller's cached second samples
        return self

    def seed(self) -> int:
        """Re-seed from the OS's entropy; returns the new 64-bit seed."""
        s = int.from_bytes(os.urandom(8), "little")
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        return self._seed

    def _set_engine(self, key, pos: int) -> None:
        self._mt.state = {"bit_generator": "MT19937", "state": {"key": key, "pos": pos}}

    def get_state(self):
        """The state as torch's 5056-byte layout (an ember uint8 tensor when available)."""
        st = self._mt.state["state"]
        pos = int(st["pos"])
        # at::mt19937 counts `left` down to a twist; a fresh seed has left=1 and next=0.
        head = _HEAD.pack(self._seed, _N + 1 - pos, 1, 0 if self._fresh else pos)
        tail = _TAIL.pack(0.0, self._normal or 0.0, 0.0, self._normal is not None,
                          self._normal_f or 0.0, self._normal_f is not None)
        raw = head + st["key"].astype("<u8").tobytes() + tail
        arr = xp.frombuffer(raw, dtype=xp.uint8).copy()
        try:
            from ._tensor import _make
        except ImportError:
            return arr
        return _make(arr)

    def set_state(self, state) -> Generator:
        """Restore a state from :meth:`get_state` (or from ``torch.Generator.get_state()``)."""
        arr = xp.ascontiguousarray(xp.asarray(state))
        if arr.dtype != xp.uint8 or arr.ndim != 1:
            raise RuntimeError("expected a 1-d uint8 (Byte) tensor for the RNG state")
        if arr.size != _STATE_SIZE:
            raise RuntimeError(f"Expected a CPUGeneratorImplState of size {_STATE_SIZE} but "
                               f"found the input RNG state size to be {arr.size}")
        raw = arr.tobytes()
        seed, left, seeded, nxt = _HEAD.unpack_from(raw)
        if not (seeded and 0 < left <= _N and nxt <= _N):
            raise RuntimeError("Invalid mt19937 state")
        key = xp.frombuffer(raw, "<u8", _N, _HEAD.size).astype(xp.uint32)
        _, y, _, valid, yf, valid_f = _TAIL.unpack_from(raw, _HEAD.size + 8 * _N)
        self._set_engine(key, _N + 1 - left)
        self._seed, self._fresh = seed, left == 1 and nxt == 0
        self._normal = y if valid else None
        self._normal_f = yf if valid_f else None
        return self

    # -- raw draws ---------------------------------------------------------------------
    def _words(self, n: int, bits: int = 32):
        """``n`` of random() (32-bit), or of random64(): two words, the first one high."""
        if n <= 0:
            return xp.zeros(0, xp.uint64)
        self._fresh = False
        if bits == 32:
            return self._mt.random_raw(n)
        w = self._mt.random_raw(2 * n)
        return (w[0::2] << 32) | w[1::2]

    def _unit(self, n: int, digits: int):
        """uniform_real_distribution(0, 1): the low ``digits`` bits times 2^-digits (float64)."""
        w = self._words(n, 64 if digits == 53 else 32)
        return (w & ((1 << digits) - 1)).astype(xp.float64) * 2.0 ** -digits

    # -- samplers ----------------------------------------------------------------------
    def uniform(self, shape, dtype: _DType, low: float = 0.0, high: float = 1.0):
        """``torch.rand`` / ``Tensor.uniform_(low, high)``: ``x * (high - low) + low``, fused."""
        if low > high:
            raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found "
                               f"from={low} > to={high}")
        if dtype.is_complex:                       # torch fills view_as_real(z)
            return _complex_view(self.uniform(tuple(shape) + (2,), dtype.to_real(), low, high),
                                 dtype, shape)
        x = self._unit(_numel(shape), _digits(dtype))
        if low == 0.0 and high == 1.0:
            out = x
        elif dtype.name == "float64":
            out = _fma64(x, float(high) - float(low), float(low))
        else:                                      # float arithmetic (half types: then round)
            lo, hi = xp.float32(low), xp.float32(high)
            out = _fma32(x.astype(xp.float32), hi - lo, lo)
        out = _cast(out, dtype, shape)
        # A value that rounded up onto the excluded bound `high` is replaced by `low`.
        lo, hi = _cast(xp.array([float(low), float(high)]), dtype, (2,))
        return xp.where(out == hi, lo, out)

    def normal(self, shape, dtype: _DType, mean: float = 0.0, std: float = 1.0,
               contiguous: bool = True):
        """``torch.randn`` / ``Tensor.normal_(mean, std)``.

        torch fills a non-contiguous target (``contiguous=False``) element by element, like
        any target under 16 elements; every sampler here yields values in the order torch's
        TensorIterator visits the target (memory order), so callers lay them out that way.
        """
        if std < 0:
            raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
        if dtype.is_complex:   # torch fills view_as_real(z), each part with std / sqrt(2)
            return _complex_view(self.normal(tuple(shape) + (2,), dtype.to_real(), mean,
                                             std / 2 ** 0.5, contiguous), dtype, shape)
        n = _numel(shape)
        if n < 16 or not contiguous:   # scalar kernel: normal_distribution<double> per element
            return _cast(self._normal_scalar(n, mean, std), dtype, shape)
        # normal_fill: n uniforms in place, Box-Muller over each block of 16; a ragged tail
        # redraws 16 fresh uniforms for the last 16 slots and transforms those again.
        # float16/bfloat16 instead fill a float32 buffer of whole blocks and take its last
        # block for the last 16 slots.
        np_dt = xp.float64 if dtype.name == "float64" else xp.float32
        digits, k = _digits(dtype), -(-n // 16)
        half = dtype.name in ("float16", "bfloat16")
        u = self._unit(16 * k if half else n, digits).astype(np_dt)
        k = k if half else n // 16
        out = _box_muller16(u[:16 * k].reshape(k, 16), mean, std, np_dt).ravel()
        if n % 16:
            if not half:
                tail = self._unit(16, digits).astype(np_dt).reshape(1, 16)
                out = xp.concatenate([out, _box_muller16(tail, mean, std, np_dt).ravel()])
            out = xp.concatenate([out[:n - 16], out[-16:]])
        return _cast(out, dtype, shape)

    def _normal_scalar(self, n: int, mean: float, std: float):
        vals = []
        for _ in range(n):
            if self._normal is not None:           # the cached r*sin(theta) comes first
                z, self._normal = self._normal, None
            else:
                u1, u2 = self._unit(2, 53).tolist()
                r = math.sqrt(-2.0 * math.log1p(-u2))
                theta = 2.0 * math.pi * u1
                self._normal = r * math.sin(theta)
                z = r * math.cos(theta)
            vals.append(z)
        return _fma64(xp.array(vals, xp.float64), float(std), float(mean))

    def integers(self, low: int, high: int, shape, dtype: _DType):
        """``torch.randint(low, high)`` / ``Tensor.random_(low, high)``: ``w % range + low``."""
        low, high = int(low), int(high)
        span = high - low
        if span <= 0:
            raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got "
                               f"from={low} >= to={high}")
        n = _numel(shape)
        if span >= 1 << 64:                        # random_(int64 min, None): raw 64 bits
            v = self._words(n, 64)
        else:                                      # 64-bit draws once the range is >= 2^28
            w = self._words(n, 64 if span >= 1 << 28 else 32)
            v = w % xp.uint64(span) + xp.uint64(low & _U64)
        return _cast(v.view(xp.int64), dtype, shape)

    def random_full(self, shape, dtype: _DType):
        """``Tensor.random_()``: [0, max] for integers, [0, 2^digits] for floats, bits for bool."""
        n, name = _numel(shape), dtype.name
        if name == "bool":
            v = self._words(n) & 1
        else:                                      # 64-bit draws for int64 and float64 only
            mod = _RANDOM_MOD.get(name) or int(xp.iinfo(dtype.np).max) + 1
            v = self._words(n, 64 if name in ("int64", "float64") else 32) % xp.uint64(mod)
        return _cast(v, dtype, shape)

    def permutation(self, n: int, dtype: _DType):
        """``torch.randperm(n)``: forward Fisher-Yates, swapping i with i + random() % (n - i)."""
        n = int(n)
        if n < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {n}: [{n}]")
        if n < _SMALL_PERM:
            if n < 2:
                return _cast(xp.arange(n), dtype, (n,))
            z = self._words(n - 1) % xp.arange(n, 1, -1, dtype=xp.uint64)
            return _cast(_perm_from_swaps(z), dtype, (n,))
        perm = list(range(n))                      # huge n: inside-out shuffle, 64-bit draws
        for i, w in enumerate(self._words(n, 64).tolist()):
            zi = w % (i + 1)
            perm[i], perm[zi] = perm[zi], i
        return _cast(xp.array(perm), dtype, (n,))

    def bernoulli(self, p, shape, dtype: _DType):
        """``torch.bernoulli`` / ``Tensor.bernoulli_(p)``: 1 where ``uniform < p``.

        A float ``p`` takes the default scalar kernel (a float64 uniform per element); this is
        what PyTorch 2.13 runs on CPU. Builds that route it through MKL's VSL stream (older,
        MKL-enabled builds on Intel CPUs) give other numbers. An array ``p`` (broadcast to
        ``shape``) compares a float64 uniform when ``p`` is float64, else a float32 one.
        """
        n = _numel(shape)
        if isinstance(p, ndarray):
            if not ((p >= 0) & (p <= 1)).all():
                raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false.")
            p = xp.broadcast_to(p, tuple(shape)).ravel()
            if p.dtype == xp.float64:
                out = self._unit(n, 53) < p
            else:
                out = self._unit(n, 24).astype(xp.float32) < p.astype(xp.float32)
        else:
            if not 0 <= p <= 1:
                raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p}")
            out = self._unit(n, 53) < float(p)
        return _cast(out, dtype, shape)

    def exponential(self, shape, dtype: _DType, lambd: float = 1.0):
        """``Tensor.exponential_(lambd)``: ``-1/lambd * log1p(-u)`` in float64, then cast."""
        if not lambd > 0:
            raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={lambd}")
        return _cast(self._exponential(_numel(shape), lambd), dtype, shape)

    def _exponential(self, n: int, lambd: float):
        return (-1.0 / float(lambd)) * _libm(math.log1p, -self._unit(n, 53))

    def multinomial(self, probs, num_samples: int, replacement: bool = False):
        """``torch.multinomial``: row-wise category indices (int64).

        Without replacement (or for one sample) torch takes the top ``num_samples`` of
        ``probs / q``, q ~ Exp(1) drawn over all of ``probs``. Exact ties there (in practice
        zero-probability categories, picked only when ``num_samples`` exceeds the nonzero
        count, which torch's docs disallow) go by index here, by libstdc++'s nth_element in
        torch. With replacement each row's normalised cumulative sum (accumulated in the
        row's dtype) is searched for float64 uniforms.
        """
        probs = xp.asarray(probs)
        if probs.ndim not in (1, 2):
            raise RuntimeError("prob_dist must be 1 or 2 dim")
        k = probs.shape[-1]
        if not replacement and num_samples > k:
            raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without "
                               "replacement")
        rows = probs.reshape(-1, k)
        if (rows < 0).any() or not xp.isfinite(rows).all():
            raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
        if (rows.sum(axis=1) == 0).any():
            raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
        if not replacement or num_samples == 1:
            q = self._exponential(probs.size, 1.0).astype(probs.dtype).reshape(rows.shape)
            keys = rows / q
            idx = xp.argsort(-keys, axis=1, kind="stable")[:, :num_samples]
        else:
            cum = xp.cumsum(rows, axis=1, dtype=rows.dtype)      # sequential, in the dtype
            cum = cum / cum[:, -1:]
            cum[:, -1] = 1
            u = self._unit(rows.shape[0] * num_samples, 53).reshape(-1, num_samples)
            idx = xp.stack([xp.searchsorted(c, s, side="left") for c, s in zip(cum, u)])
        return idx.astype(xp.int64).reshape(probs.shape[:-1] + (num_samples,))


default_generator = Generator()


def manual_seed(seed) -> Generator:
    """Seed the default generator (``torch.manual_seed``); returns it."""
    return default_generator.manual_seed(int(seed))


def seed() -> int:
    return default_generator.seed()


def initial_seed() -> int:
    return default_generator.initial_seed()


def get_rng_state():
    return default_generator.get_state()


def set_rng_state(state) -> None:
    default_generator.set_state(state)


def _complex_view(parts, dtype: _DType, shape):
    """(..., 2) real samples as the complex array they fill."""
    return xp.ascontiguousarray(parts).view(dtype.np).reshape(tuple(shape))
