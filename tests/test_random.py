"""ember._random against PyTorch's CPU generator: same seed, same numbers, bit for bit."""

from __future__ import annotations

import random
from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from ember import _dtype as D
from ember import _random as R
from ember._random import Generator, _fma32, _fma64, _perm_from_swaps

TORCH = {D.float16: torch.float16, D.bfloat16: torch.bfloat16, D.float32: torch.float32,
         D.float64: torch.float64, D.int64: torch.int64, D.int32: torch.int32,
         D.int16: torch.int16, D.int8: torch.int8, D.uint8: torch.uint8, D.bool: torch.bool}
FLOATS = [D.float32, D.float64]
SEEDS = [0, 1, 42, 2**32 + 7, 2**64 - 1]
SIZES = list(range(1, 41))          # crosses normal's 16-element batched path and its tail
SHAPES = [(2, 3), (4, 5, 6), (3, 0), (), (17, 33), (1000,), (4099,)]


def tgen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def same(ours: np.ndarray, theirs: torch.Tensor) -> None:
    """Bitwise equality (bfloat16 compared as the float32 ember stores it)."""
    ref = (theirs.float() if theirs.dtype == torch.bfloat16 else theirs).numpy()
    assert ours.dtype == ref.dtype and ours.shape == ref.shape
    if ours.tobytes() != ref.tobytes():
        bad = np.flatnonzero(ours.ravel() != ref.ravel())
        raise AssertionError(f"{bad.size} of {ours.size} differ, first at {bad[:5]}: "
                             f"{ours.ravel()[bad[:5]]} vs {ref.ravel()[bad[:5]]}")


@pytest.fixture(autouse=True)
def _keep_global_state():
    # Tests that reseed the default generators must not leak into other test files.
    t, e = torch.get_rng_state(), R.get_rng_state()
    yield
    torch.set_rng_state(t)
    R.set_rng_state(e)


# -- floating samplers -----------------------------------------------------------------

@pytest.mark.parametrize("dt", FLOATS, ids=str)
@pytest.mark.parametrize("seed", SEEDS)
def test_rand_and_randn(dt, seed):
    for shape in [(n,) for n in SIZES] + SHAPES:
        same(Generator().manual_seed(seed).uniform(shape, dt),
             torch.rand(shape, dtype=TORCH[dt], generator=tgen(seed)))
        same(Generator().manual_seed(seed).normal(shape, dt),
             torch.randn(shape, dtype=TORCH[dt], generator=tgen(seed)))


@pytest.mark.parametrize("dt", FLOATS, ids=str)
@pytest.mark.parametrize("bounds", [(-2.5, 7.3), (0.1, 0.7), (1.0, 2.0), (-1e5, 1e5 + 3),
                                    (3.0, 3.0), (1e-3, 5e4)])
def test_uniform_inplace(dt, bounds):
    for seed, n in [(0, 5), (1, 16), (7, 333), (9, 20000)]:
        same(Generator().manual_seed(seed).uniform((n,), dt, *bounds),
             torch.empty(n, dtype=TORCH[dt]).uniform_(*bounds, generator=tgen(seed)))


@pytest.mark.parametrize("dt", FLOATS, ids=str)
@pytest.mark.parametrize("mean_std", [(1.7, 0.3), (-4.0, 12.5), (0.0, 0.0), (1e3, 1e-3)])
def test_normal_inplace(dt, mean_std):
    for seed in (0, 3):
        for n in [1, 2, 15, 16, 17, 31, 32, 33, 1000]:
            same(Generator().manual_seed(seed).normal((n,), dt, *mean_std),
                 torch.empty(n, dtype=TORCH[dt]).normal_(*mean_std, generator=tgen(seed)))


@pytest.mark.parametrize("dt", FLOATS, ids=str)
def test_normal_non_contiguous(dt):
    # torch's per-element path, visiting the transposed target in memory order.
    ours = Generator().manual_seed(4).normal((5, 8), dt, 1.0, 2.0, contiguous=False).T
    same(ours, torch.empty(5, 8, dtype=TORCH[dt]).t().normal_(1.0, 2.0, generator=tgen(4)))


@pytest.mark.parametrize("dt", FLOATS, ids=str)
@pytest.mark.parametrize("lambd", [1.0, 0.25, 7.5])
def test_exponential(dt, lambd):
    for seed in (0, 5):
        for shape in [(1,), (15,), (16,), (40,), (7, 9), (5000,)]:
            same(Generator().manual_seed(seed).exponential(shape, dt, lambd),
                 torch.empty(shape, dtype=TORCH[dt]).exponential_(lambd, generator=tgen(seed)))


@pytest.mark.parametrize("dt", FLOATS, ids=str)
def test_large_draws(dt):
    n = 300_007
    for ours, theirs in [
        (lambda g: g.uniform((n,), dt, -3, 5),
         lambda t: torch.empty(n, dtype=TORCH[dt]).uniform_(-3, 5, generator=t)),
        (lambda g: g.normal((n,), dt), lambda t: torch.randn(n, dtype=TORCH[dt], generator=t)),
        (lambda g: g.normal((n,), dt, 0.5, 2.0),
         lambda t: torch.empty(n, dtype=TORCH[dt]).normal_(0.5, 2.0, generator=t)),
        (lambda g: g.exponential((n,), dt),
         lambda t: torch.empty(n, dtype=TORCH[dt]).exponential_(generator=t)),
    ]:
        same(ours(Generator().manual_seed(11)), theirs(tgen(11)))


@pytest.mark.parametrize("dt", [D.float16, D.bfloat16], ids=str)
def test_half_types(dt):
    td = TORCH[dt]
    for seed in (0, 2):
        for n in [1, 5, 16, 17, 40, 3000]:
            for lo, hi in [(0.0, 1.0), (-2.9, 5.3), (1.0, 2.0)]:
                same(Generator().manual_seed(seed).uniform((n,), dt, lo, hi),
                     torch.empty(n, dtype=td).uniform_(lo, hi, generator=tgen(seed)))
            same(Generator().manual_seed(seed).normal((n,), dt, 0.3, 1.7),
                 torch.empty(n, dtype=td).normal_(0.3, 1.7, generator=tgen(seed)))
            same(Generator().manual_seed(seed).exponential((n,), dt, 0.7),
                 torch.empty(n, dtype=td).exponential_(0.7, generator=tgen(seed)))
            same(Generator().manual_seed(seed).random_full((n,), dt),
                 torch.empty(n, dtype=td).random_(generator=tgen(seed)))


# -- integer samplers ------------------------------------------------------------------

BOUNDS = [(0, 10), (-5, 5), (0, 1), (0, 2**28 - 1), (0, 2**28), (3, 2**31), (0, 2**32),
          (-2**40, 2**40), (-2**63, 2**63 - 1), (0, 2**63 - 1)]
LIMITS = {D.int64: 2**63, D.int32: 2**31, D.float32: 2**24, D.float64: 2**53}


@pytest.mark.parametrize(("dt", "lo", "hi"), [
    (dt, lo, hi) for dt, lim in LIMITS.items() for lo, hi in BOUNDS if -lim <= lo and hi <= lim
], ids=str)
def test_randint(dt, lo, hi):
    for seed, n in [(0, 1), (5, 17), (2**40 + 3, 1000)]:
        same(Generator().manual_seed(seed).integers(lo, hi, (n,), dt),
             torch.empty(n, dtype=TORCH[dt]).random_(lo, hi, generator=tgen(seed)))
        if dt is D.int64:
            same(Generator().manual_seed(seed).integers(lo, hi, (n, 2), dt),
                 torch.randint(lo, hi, (n, 2), generator=tgen(seed)))


def test_random_full_64_bit_range():
    # random_(int64 min, None) takes raw 64-bit words.
    same(Generator().manual_seed(3).integers(-2**63, 2**63, (50,), D.int64),
         torch.empty(50, dtype=torch.int64).random_(-2**63, None, generator=tgen(3)))


@pytest.mark.parametrize("dt", [D.int64, D.int32, D.int16, D.int8, D.uint8, D.bool, D.float32,
                                D.float64, D.float16], ids=str)
def test_random_full(dt):
    for seed, n in [(0, 1), (1, 16), (7, 1000)]:
        same(Generator().manual_seed(seed).random_full((n,), dt),
             torch.empty(n, dtype=TORCH[dt]).random_(generator=tgen(seed)))


@pytest.mark.parametrize("dt", [D.int64, D.int32, D.float32, D.float64], ids=str)
def test_randperm(dt):
    for seed in (0, 1, 99):
        for n in list(range(0, 41)) + [100, 1000, 100_003]:
            same(Generator().manual_seed(seed).permutation(n, dt),
                 torch.randperm(n, dtype=TORCH[dt], generator=tgen(seed)))


@given(st.lists(st.integers(0, 10**6), min_size=1, max_size=60))
@settings(max_examples=200, deadline=None)
def test_perm_from_swaps_matches_loop(raw):
    n = len(raw) + 1
    z = np.array([r % (n - i) for i, r in enumerate(raw)], dtype=np.uint64)
    perm = list(range(n))
    for i, zi in enumerate(z.tolist()):
        perm[i], perm[i + zi] = perm[i + zi], perm[i]
    assert _perm_from_swaps(z).tolist() == perm


# -- bernoulli and multinomial ---------------------------------------------------------

@pytest.mark.parametrize("p", [0.0, 0.3, 0.5, 0.999, 1.0])
@pytest.mark.parametrize("dt", [D.float32, D.float64, D.int64, D.bool], ids=str)
def test_bernoulli_scalar_p(p, dt):
    for seed, shape in [(0, (1,)), (3, (33,)), (8, (40, 25))]:
        same(Generator().manual_seed(seed).bernoulli(p, shape, dt),
             torch.empty(shape, dtype=TORCH[dt]).bernoulli_(p, generator=tgen(seed)))


@pytest.mark.parametrize("pdt", [np.float32, np.float64])
def test_bernoulli_tensor_p(pdt):
    dt = D.float32 if pdt == np.float32 else D.float64
    for seed, n in [(0, 3), (1, 17), (2, 1000)]:
        p = np.random.default_rng(seed).random(n).astype(pdt)
        p[::4] = 0.5
        same(Generator().manual_seed(seed).bernoulli(p, (n,), dt),
             torch.bernoulli(torch.from_numpy(p), generator=tgen(seed)))
        same(Generator().manual_seed(seed).bernoulli(p[:1], (n,), D.float32),      # broadcast
             torch.empty(n).bernoulli_(torch.from_numpy(p[:1]), generator=tgen(seed)))
    # u < p, strictly: p equal to the very uniform drawn gives 0.
    u = Generator().manual_seed(4)._unit(30, 53 if pdt == np.float64 else 24).astype(pdt)
    assert not Generator().manual_seed(4).bernoulli(u, (30,), dt).any()


@pytest.mark.parametrize("pdt", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(2,), (5,), (40,), (3, 7), (4, 1000)])
@pytest.mark.parametrize("replacement", [False, True])
def test_multinomial(pdt, shape, replacement):
    for seed in (0, 1, 123):
        p = np.random.default_rng(seed).random(shape).astype(pdt)
        p[..., ::4] = 0                     # zero categories, never drawn
        k = shape[-1]
        for ns in sorted({1, 2, min(k - k // 4 - 1, 3), k - k // 4 - 1} - {0}):
            same(Generator().manual_seed(seed).multinomial(p, ns, replacement),
                 torch.multinomial(torch.from_numpy(p), ns, replacement, generator=tgen(seed)))
        if replacement:
            same(Generator().manual_seed(seed).multinomial(p, 50, True),
                 torch.multinomial(torch.from_numpy(p), 50, True, generator=tgen(seed)))


# -- default generator, seeding and state ----------------------------------------------

def _step(kind: str, n: int, dt):
    """One sampler call on ember's default generator and the same on torch's."""
    g = R.default_generator
    td = TORCH[dt]
    p = np.arange(1, n + 2, dtype=np.float32)
    return {
        "rand": (lambda: g.uniform((n,), dt), lambda: torch.rand(n, dtype=td)),
        "randn": (lambda: g.normal((n,), dt), lambda: torch.randn(n, dtype=td)),
        "normal_": (lambda: g.normal((n, 2), dt, 2.0, 3.0),
                    lambda: torch.empty(n, 2, dtype=td).normal_(2.0, 3.0)),
        "randint": (lambda: g.integers(-3, 1000, (n,), D.int64),
                    lambda: torch.randint(-3, 1000, (n,))),
        "random_": (lambda: g.random_full((n,), D.int32),
                    lambda: torch.empty(n, dtype=torch.int32).random_()),
        "randperm": (lambda: g.permutation(n, D.int64), lambda: torch.randperm(n)),
        "bernoulli_": (lambda: g.bernoulli(0.3, (n,), dt),
                       lambda: torch.empty(n, dtype=td).bernoulli_(0.3)),
        "exponential_": (lambda: g.exponential((n,), dt),
                         lambda: torch.empty(n, dtype=td).exponential_()),
        "multinomial": (lambda: g.multinomial(p, 3, True),
                        lambda: torch.multinomial(torch.from_numpy(p), 3, True)),
        "state": (lambda: np.asarray(R.get_rng_state()), torch.get_rng_state),
    }[kind]


@pytest.mark.parametrize("trial", range(12))
def test_default_generator_interleaved(trial):
    rnd = random.Random(trial)
    seed = rnd.randrange(2**64)
    assert R.manual_seed(seed) is R.default_generator
    torch.manual_seed(seed)
    assert R.initial_seed() == torch.initial_seed() == seed
    kinds = ["rand", "randn", "normal_", "randint", "random_", "randperm", "bernoulli_",
             "exponential_", "multinomial", "state"]
    for _ in range(30):
        # Odd-sized small randn calls leave a cached Box-Muller sample for the next call.
        ours, theirs = _step(rnd.choice(kinds), rnd.choice([1, 2, 3, 5, 15, 16, 17, 31, 64]),
                             rnd.choice(FLOATS))
        same(ours(), theirs())


def test_state_matches_torch_bytes():
    g, t = Generator(), torch.Generator()
    same(np.asarray(g.get_state()), t.get_state())             # c10's default seed
    assert g.initial_seed() == t.initial_seed() == 67280421310721
    g.manual_seed(5)
    t.manual_seed(5)
    same(np.asarray(g.get_state()), t.get_state())
    g.normal((3,), D.float64)                                  # leaves a cached sample
    torch.randn(3, dtype=torch.float64, generator=t)
    state = np.asarray(g.get_state())
    same(state, t.get_state())
    assert state.dtype == np.uint8 and state.shape == (5056,)


def test_state_round_trips():
    g = Generator().manual_seed(123)
    g.normal((5,), D.float32)
    s = g.get_state()
    first = [g.uniform((7,), D.float32), g.normal((3,), D.float64), g.permutation(9, D.int64)]
    assert g.set_state(s) is g
    again = [g.uniform((7,), D.float32), g.normal((3,), D.float64), g.permutation(9, D.int64)]
    for a, b in zip(first, again):
        assert a.tobytes() == b.tobytes()
    # torch's state drives ember, and ember's drives torch.
    t = tgen(77)
    torch.randn(5, generator=t)
    g.set_state(t.get_state())
    same(g.normal((5,), D.float64), torch.randn(5, dtype=torch.float64, generator=t))
    t.set_state(torch.from_numpy(np.asarray(g.get_state()).copy()))
    same(g.uniform((20,), D.float32), torch.rand(20, generator=t))
    R.manual_seed(9)
    s = R.get_rng_state()
    a = R.default_generator.normal((21,), D.float32)
    R.set_rng_state(s)
    assert a.tobytes() == R.default_generator.normal((21,), D.float32).tobytes()


def test_set_state_rejects_bad_input():
    g = Generator()
    with pytest.raises(RuntimeError):
        g.set_state(np.zeros(10, np.uint8))
    bad = np.asarray(g.get_state()).copy()
    bad[8:12] = 0                                              # left = 0
    with pytest.raises(RuntimeError, match="Invalid mt19937 state"):
        g.set_state(bad)


@pytest.mark.parametrize("seed", [-1, -2**63, 2**63, 2**64 - 1, 12345])
def test_seed_values(seed):
    g, t = Generator(), torch.Generator()
    assert g.manual_seed(seed) is g
    t.manual_seed(seed)
    assert g.initial_seed() == t.initial_seed()
    same(g.uniform((4,), D.float32), torch.rand(4, generator=t))


def test_seed_errors_and_reseed():
    g = Generator()
    with pytest.raises(ValueError):
        g.manual_seed(2**64)
    with pytest.raises(RuntimeError):
        g.manual_seed(1.5)
    s = g.seed()
    assert 0 <= s < 2**64 and g.initial_seed() == s
    same(g.uniform((6,), D.float64), torch.rand(6, dtype=torch.float64, generator=tgen(s)))
    assert R.manual_seed(3.0).initial_seed() == 3                 # torch.manual_seed does int()
    assert isinstance(R.seed(), int) and R.initial_seed() == R.default_generator.initial_seed()
    assert Generator("cpu").device == "cpu"


def test_argument_errors():
    g = Generator()
    with pytest.raises(RuntimeError, match="from=3 > to=1"):
        g.uniform((2,), D.float32, 3, 1)
    with pytest.raises(RuntimeError, match="std >= 0.0"):
        g.normal((2,), D.float32, 0, -1)
    with pytest.raises(RuntimeError, match="lambda > 0.0"):
        g.exponential((2,), D.float32, 0)
    with pytest.raises(RuntimeError, match=r"\[0, 1\]"):
        g.bernoulli(1.5, (2,), D.float32)
    with pytest.raises(RuntimeError, match="less than 'to'"):
        g.integers(5, 5, (2,), D.int64)
    with pytest.raises(RuntimeError, match="without replacement"):
        g.multinomial(np.ones(2, np.float32), 3)
    with pytest.raises(RuntimeError, match="sum of probabilities"):
        g.multinomial(np.zeros(3, np.float32), 1, True)


# -- the fused multiply-add emulation --------------------------------------------------

def _round_nearest(q: Fraction, np_dt):
    f = np_dt(float(q))
    cands = [np.nextafter(f, np_dt(-np.inf)), f, np.nextafter(f, np_dt(np.inf))]
    bits = np.uint32 if np_dt == np.float32 else np.uint64
    return min(cands, key=lambda c: (abs(Fraction(float(c)) - q), int(np.array(c).view(bits)) & 1))


finite32 = st.floats(-1e6, 1e6, width=32, allow_subnormal=False)
# The float64 fused multiply-add emulation is exact away from the subnormal range (a result
# near 1e-308 can be off by one subnormal ulp); samplers never get there (|values| >= 2**-53).
finite64 = st.floats(-1e100, 1e100, allow_subnormal=False).filter(
    lambda x: x == 0 or abs(x) > 1e-100)


@given(finite32, finite32, finite32)
@settings(max_examples=300, deadline=None)
def test_fma32_rounds_once(a, b, c):
    a, b, c = np.float32(a), np.float32(b), np.float32(c)
    want = _round_nearest(Fraction(float(a)) * Fraction(float(b)) + Fraction(float(c)), np.float32)
    assert _fma32(np.array([a]), b, c)[0] == want


@given(finite64, finite64, finite64)
@settings(max_examples=300, deadline=None)
def test_fma64_rounds_once(a, b, c):
    want = _round_nearest(Fraction(a) * Fraction(b) + Fraction(c), np.float64)
    assert _fma64(np.array([a]), b, c)[0] == want


def test_fma32_double_rounding_case():
    # float64 sum lands on a float32 tie although the exact value is below it.
    a, b, c = np.float32(1 + 2**-23), np.float32(2**-24 * (1 - 2**-23)), np.float32(1 + 2**-23)
    assert _fma32(np.array([a]), b, c)[0] == c
