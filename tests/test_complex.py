"""Complex tensors against PyTorch: forward values and dtypes, and gradients under PyTorch's
convention (conjugate Wirtinger), for a real loss of each op's output."""

import numpy as np
import pytest
import torch

import ember
from tests.parity import same_error

RNG = np.random.default_rng(0)


def _c(*shape, dtype=np.complex128):
    return (RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape)).astype(dtype)


def _r(*shape, dtype=np.float64, lo=None):
    a = RNG.standard_normal(shape)
    if lo is not None:
        a = np.abs(a) + lo
    return a.astype(dtype)


def _loss(lib, out):
    if out.is_complex():
        return (out.real ** 2 + out.imag * 3).sum()
    return (out * out).sum()


# name, function (the same under both libraries), inputs (arrays; each is differentiated)
CASES = [
    ("add", lambda t, a, b: a + b, [_c(3, 4), _c(4)]),
    ("add_real", lambda t, a, b: a + b, [_c(3, 4), _r(3, 4)]),
    ("sub", lambda t, a, b: a - b, [_c(3), _c(3)]),
    ("mul", lambda t, a, b: a * b, [_c(2, 3), _c(3)]),
    ("mul_real", lambda t, a, b: a * b, [_c(2, 3), _r(2, 3)]),
    ("mul_scalar", lambda t, a: a * (2 - 1j), [_c(4)]),
    ("real_times_j", lambda t, a: a * 1j, [_r(4)]),
    ("div", lambda t, a, b: a / b, [_c(3), _c(3)]),
    ("div_real", lambda t, a, b: a / b, [_r(3), _c(3)]),
    ("rdiv", lambda t, a: 2 / a, [_c(3)]),
    ("matmul", lambda t, a, b: a @ b, [_c(2, 3), _c(3, 4)]),
    ("matmul_batched", lambda t, a, b: a @ b, [_c(2, 2, 3), _c(3, 2)]),
    ("mv", lambda t, a, b: a @ b, [_c(2, 3), _c(3)]),
    ("vm", lambda t, a, b: a @ b, [_c(3), _c(3, 2)]),
    ("dot", lambda t, a, b: a @ b, [_c(3), _c(3)]),
    ("sum", lambda t, a: a.sum(0), [_c(3, 4)]),
    ("mean", lambda t, a: a.mean(), [_c(3, 4)]),
    ("exp", lambda t, a: a.exp(), [_c(5)]),
    ("log", lambda t, a: a.log(), [_c(5)]),
    ("sqrt", lambda t, a: a.sqrt(), [_c(5)]),
    ("pow2", lambda t, a: a ** 2, [_c(5)]),
    ("pow3", lambda t, a: a ** 3, [_c(5)]),
    ("pow_complex_exp", lambda t, a: a ** (0.5 + 1j), [_c(5)]),
    ("pow_tensor", lambda t, a, b: a ** b, [_c(4), _c(4)]),
    ("reciprocal", lambda t, a: a.reciprocal(), [_c(5)]),
    ("tanh", lambda t, a: a.tanh(), [_c(5) * 0.5]),
    ("sigmoid", lambda t, a: a.sigmoid(), [_c(5) * 0.5]),
    ("neg", lambda t, a: -a, [_c(5)]),
    ("abs", lambda t, a: a.abs(), [_c(5)]),
    ("angle", lambda t, a: a.angle(), [_c(5)]),
    ("angle_real", lambda t, a: a.angle(), [_r(5)]),
    ("sgn", lambda t, a: a.sgn(), [_c(5)]),
    ("conj", lambda t, a: a.conj() * a, [_c(5)]),
    ("conj_physical", lambda t, a: t.conj_physical(a) * 2, [_c(5)]),
    ("real", lambda t, a: a.real * 2, [_c(5)]),
    ("imag", lambda t, a: a.imag * 2, [_c(5)]),
    ("view_as_real", lambda t, a: t.view_as_real(a) ** 2, [_c(3, 2)]),
    ("view_as_real_t", lambda t, a: t.view_as_real(a.t()) ** 2, [_c(3, 2)]),
    ("view_as_complex", lambda t, a: t.view_as_complex(a) * (1 + 2j), [_r(3, 2)]),
    ("complex", lambda t, a, b: t.complex(a, b) ** 2, [_r(4), _r(3, 1)]),
    ("polar", lambda t, a, b: t.polar(a, b) ** 2, [_r(4, lo=0.1), _r(4)]),
    ("mH", lambda t, a, b: a.mH @ b, [_c(3, 2), _c(3, 2)]),
    ("reshape_index", lambda t, a: a.reshape(6)[1:4].flip(0), [_c(2, 3)]),
    ("rpow", lambda t, a: 2 ** a, [_c(4)]),
    ("prod", lambda t, a: a.prod(), [_c(4)]),
    ("prod_dim", lambda t, a: a.prod(1), [_c(2, 3)]),
    ("var", lambda t, a: a.var(0), [_c(3, 2)]),
    ("std", lambda t, a: a.std(), [_c(4)]),
    ("vdot", lambda t, a, b: t.vdot(a, b), [_c(3), _c(3)]),
    ("addcmul", lambda t, a, b, c: t.addcmul(a, b, c, value=0.5), [_c(3), _c(3), _c(3)]),
    ("einsum", lambda t, a, b: t.einsum("ij,jk->ik", a, b), [_c(2, 3), _c(3, 2)]),
] + [(name, (lambda n: lambda t, a: getattr(a, n)())(name), [_c(5) * 0.5]) for name in (
    "sin", "cos", "tan", "sinh", "cosh", "asin", "acos", "atan", "asinh", "atanh", "log2",
    "log10", "log1p", "expm1", "rsqrt", "square")]


@pytest.mark.parametrize("dtype", [np.complex128, np.complex64])
@pytest.mark.parametrize("name,fn,arrays", CASES, ids=[c[0] for c in CASES])
def test_forward_and_grad(name, fn, arrays, dtype):
    cast = {np.complex128: dtype, np.float64: np.float32 if dtype == np.complex64
            else np.float64}
    arrays = [a.astype(cast[a.dtype.type]) for a in arrays]
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == np.complex64 else dict(rtol=1e-10,
                                                                          atol=1e-12)
    outs, grads = [], []
    for lib in (torch, ember):
        xs = [lib.tensor(a, requires_grad=True) for a in arrays]
        out = fn(lib, *xs)
        _loss(lib, out).backward()
        outs.append(out)
        grads.append([x.grad.resolve_conj() for x in xs])
    t_out, e_out = outs
    assert str(e_out.dtype).split(".")[1] == str(t_out.dtype).split(".")[1]
    np.testing.assert_allclose(e_out.detach().numpy(), t_out.detach().resolve_conj().numpy(),
                               **tol)
    if e_out.grad_fn is not None and name != "einsum":  # ember's einsum is one node
        assert type(e_out.grad_fn).__name__ == type(t_out.grad_fn).__name__
    for tg, eg in zip(*grads):
        assert str(eg.dtype).split(".")[1] == str(tg.dtype).split(".")[1]
        np.testing.assert_allclose(eg.numpy(), tg.numpy(), **tol)


def test_grad_fn_names_of_parts():
    for lib in (torch, ember):
        z = lib.tensor([1 + 2j], requires_grad=True)
        names = [type(f(z).grad_fn).__name__ for f in (
            lambda z: z.real, lambda z: z.imag, lambda z: z.conj() * 1, lambda z: z.abs(),
            lambda z: z.angle(), lambda z: lib.view_as_real(z))]
        if lib is torch:
            expected = names
        else:
            assert names == expected


@pytest.mark.parametrize("case", [
    lambda t: t.tensor([1.0, 2.0]) + 1j,
    lambda t: t.tensor([1.0, 2.0], dtype=t.float64) + t.tensor([1j], dtype=t.complex64),
    lambda t: t.tensor([1j], dtype=t.complex64) * t.tensor(2.0, dtype=t.float64),
    lambda t: t.tensor([1, 2]) * (1 + 1j),
    lambda t: t.tensor([1j], dtype=t.complex64) + t.tensor([1.0], dtype=t.float64),
    lambda t: t.tensor([1 + 1j, 2]),
    lambda t: t.tensor(3 + 4j).abs(),
    lambda t: t.zeros(2, dtype=t.complex128).real,
    lambda t: t.view_as_real(t.tensor([[1 + 2j]], dtype=t.complex64)),
    lambda t: t.complex(t.tensor([1.0]), t.tensor([2.0])),
    lambda t: t.polar(t.tensor([2.0], dtype=t.float64), t.tensor([0.5], dtype=t.float64)),
    lambda t: t.tensor([1.0]).sgn(),
    lambda t: t.tensor([-1.0, 0.0, 2.0]).angle(),
])
def test_promotion_and_values(case):
    t, e = case(torch), case(ember)
    assert str(e.dtype).split(".")[1] == str(t.dtype).split(".")[1]
    np.testing.assert_allclose(e.numpy(), t.numpy(), rtol=1e-6)


@pytest.mark.parametrize("value", [
    [1 + 2j, -3.5 - 1j], [[1e-5 + 1j, 2e5 - 3j], [0j, 1 + 0j]], [1.25 + 0.5j], 2 - 3j,
    [0.1 + 0.2j, 123.456 - 7.89j], [float("nan") + 1j, float("inf") - 1j],
])
@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
def test_printing(value, dtype):
    t = torch.tensor(value, dtype=getattr(torch, dtype))
    e = ember.tensor(value, dtype=getattr(ember, dtype))
    assert str(e) == str(t).replace("torch.", "ember.")
    z = ember.tensor(value, dtype=getattr(ember, dtype), requires_grad=True) * 1
    tz = torch.tensor(value, dtype=getattr(torch, dtype), requires_grad=True) * 1
    assert repr(z) == repr(tz).replace("torch.", "ember.")


def test_real_imag_are_views_that_write_through():
    for lib in (torch, ember):
        z = lib.tensor([1 + 2j, 3 - 4j])
        z.real.mul_(10)
        z.imag[0] = 7
        z.real = lib.tensor([5.0, 6.0])
        if lib is torch:
            expected = z.numpy()
        else:
            np.testing.assert_array_equal(z.numpy(), expected)
    for lib in (torch, ember):
        z = lib.tensor([1 + 2j, 3 - 4j])
        v = lib.view_as_real(z)
        v[1, 1] = 0.5
        c = lib.view_as_complex(lib.tensor([[1.0, 2.0], [3.0, 4.0]]))
        c.mul_(1j)
        if lib is torch:
            expected = (z.numpy(), c.numpy())
        else:
            np.testing.assert_array_equal(z.numpy(), expected[0])
            np.testing.assert_array_equal(c.numpy(), expected[1])


def _raises(fn):
    same_error(fn)


@pytest.mark.parametrize("fn", [
    lambda t: t.view_as_complex(t.ones(3, 3)),
    lambda t: t.view_as_complex(t.ones(3, 2).t()),
    lambda t: t.view_as_complex(t.ones(3, 3)[:, :2]),
    lambda t: t.view_as_complex(t.ones(5)[1:].view(2, 2)),
    lambda t: t.view_as_complex(t.ones(3, 2, dtype=t.int64)),
    lambda t: t.view_as_complex(t.ones(())),
    lambda t: t.view_as_real(t.ones(3)),
    lambda t: t.ones(3).imag,
    lambda t: t.complex(t.ones(2), t.ones(2, dtype=t.float64)),
    lambda t: t.complex(t.ones(2, dtype=t.int64), t.ones(2)),
    lambda t: t.polar(t.ones(2), t.ones(2, dtype=t.float64)),
])
def test_errors(fn):
    _raises(fn)


def test_flags():
    for lib in (torch, ember):
        z = lib.tensor([1 + 1j])
        r = z.conj().resolve_conj()
        assert lib.is_complex(z) and not lib.is_complex(z.real)
        assert not r.is_conj() and r.conj().conj().dtype == z.dtype
        assert lib.tensor([1.0]).conj().is_conj() is False


def _rotary_block(t, x, wq, wk, wv, freqs_cis):
    """LLaMA-style attention with rotary embeddings applied through complex numbers."""
    b, s, d = x.shape
    q, k, v = x @ wq, x @ wk, x @ wv

    def rot(u):
        uc = t.view_as_complex(u.float().reshape(b, s, -1, 2))
        return t.view_as_real(uc * freqs_cis).flatten(2).type_as(u)

    q, k = rot(q), rot(k)
    att = (q @ k.transpose(1, 2)) / d ** 0.5
    return att.softmax(-1) @ v


def test_rotary_attention_trains_like_torch():
    b, s, d = 2, 5, 8
    rng = np.random.default_rng(1)
    x = rng.standard_normal((b, s, d)).astype(np.float32)
    ws = [(rng.standard_normal((d, d)) / d ** 0.5).astype(np.float32) for _ in range(3)]
    target = rng.standard_normal((b, s, d)).astype(np.float32)
    history = []
    for lib in (torch, ember):
        freqs = 1.0 / (10000 ** (lib.arange(0, d, 2).float() / d))
        angles = lib.outer(lib.arange(s).float(), freqs)
        freqs_cis = lib.polar(lib.ones_like(angles), angles)
        params = [lib.tensor(w, requires_grad=True) for w in ws]
        losses = []
        for _ in range(4):
            out = _rotary_block(lib, lib.tensor(x), *params, freqs_cis)
            loss = ((out - lib.tensor(target)) ** 2).mean()
            loss.backward()
            with lib.no_grad():     # plain SGD (torch.optim's first use costs seconds)
                for p in params:
                    p -= 0.1 * p.grad
                    p.grad = None
            losses.append(loss.item())
        history.append((losses, [p.detach().numpy().copy() for p in params]))
    (t_losses, t_params), (e_losses, e_params) = history
    np.testing.assert_allclose(e_losses, t_losses, rtol=1e-5)
    for tp, ep in zip(t_params, e_params):
        np.testing.assert_allclose(ep, tp, rtol=1e-4, atol=1e-6)


def test_gradcheck_complex():
    # gradcheck works on real tensors: complex values enter and leave as (re, im) pairs
    a, b, c, d = (ember.tensor(_r(3), requires_grad=True) for _ in range(4))

    def f(a, b, c, d):
        z, w = ember.complex(a, b), ember.complex(c, d)
        out = (z * w.conj()).exp() / w + z.abs() * w.sgn() + z.angle() + ember.polar(a, c)
        return ember.view_as_real(out)
    assert ember.autograd.gradcheck(f, (a, b, c, d))


def test_random_complex_streams():
    # torch fills view_as_real(z): normals with std / sqrt(2) per part, uniforms per part
    draws = []
    for lib in (torch, ember):
        lib.manual_seed(1)
        draws.append([lib.randn(20, dtype=lib.complex128), lib.randn(3, dtype=lib.complex64),
                      lib.empty(2, 3, dtype=lib.complex64).normal_(1.0, 2.0),
                      lib.rand(5, dtype=lib.complex64),
                      lib.empty(17, dtype=lib.complex128).uniform_(-1, 1),
                      lib.randn_like(lib.zeros(17, dtype=lib.complex64))])
    for t, e in zip(*draws):
        assert str(e.dtype)[6:] == str(t.dtype)[6:]
        np.testing.assert_array_equal(e.numpy(), t.numpy())
