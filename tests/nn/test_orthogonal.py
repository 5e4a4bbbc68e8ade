"""parametrizations.orthogonal against torch: the registered weight (trivialised base, extra
random columns drawn from the same stream), gradients of the unconstrained tensor through
every map, an SGD step, assignment, state-dict keys and errors; the matrix exponential it
uses against ``torch.linalg.matrix_exp`` (values and gradients) and gradcheck."""

import numpy as np
import pytest
import torch

import ember
from ember.nn.utils.orthogonal import _matrix_exp

CASES = [((3, 3), {}, "float32"), ((5, 3), {}, "float64"), ((3, 5), {}, "float64"),
         ((4, 4), {"orthogonal_map": "cayley"}, "float64"),
         ((4, 4), {"orthogonal_map": "householder"}, "float64"),
         ((5, 3), {"orthogonal_map": "matrix_exp"}, "float64"),
         ((4, 3), {"use_trivialization": False}, "float64"),
         ((3, 3), {"orthogonal_map": "householder", "use_trivialization": False}, "float64")]


def _train_step(lib, shape, kw, dt):
    dtype = getattr(lib, dt)
    lib.manual_seed(0)
    m = lib.nn.utils.parametrizations.orthogonal(lib.nn.Linear(shape[1], shape[0]).to(dtype),
                                                 **kw)
    w0 = m.weight.detach().clone()
    x = lib.randn(6, shape[1], dtype=dtype)
    ramp = lib.arange(float(shape[0] * shape[1]), dtype=dtype).reshape(shape)
    ((m(x) ** 2).sum() + (m.weight * ramp).sum()).backward()
    g = m.parametrizations.weight.original.grad.clone()
    with lib.no_grad():  # one SGD step (by hand: torch.optim's first use is slow to import)
        for p in m.parameters():
            p -= 0.1 * p.grad
    return m, w0, g, m.weight.detach(), lib.rand(2)


@pytest.mark.parametrize("shape,kw,dt", CASES, ids=[f"{c[0]}{c[1]}" for c in CASES])
def test_orthogonal_matches_torch(shape, kw, dt):
    tol = dict(rtol=1e-4, atol=1e-5) if dt == "float32" else dict(rtol=1e-7, atol=1e-9)
    tm, tw0, tg, tw1, tr = _train_step(torch, shape, kw, dt)
    em, ew0, eg, ew1, er = _train_step(ember, shape, kw, dt)
    for e, t in ((ew0, tw0), (eg, tg), (ew1, tw1)):
        np.testing.assert_allclose(e.numpy(), t.numpy(), **tol)
    np.testing.assert_array_equal(er.numpy(), tr.numpy())
    assert list(em.state_dict()) == list(tm.state_dict())
    assert repr(em) == repr(tm).replace("torch.", "ember.")
    w = ew1.numpy() if shape[0] >= shape[1] else ew1.numpy().T
    np.testing.assert_allclose(w.T @ w, np.eye(min(shape)), atol=1e-5)


def test_assignment_keeps_orthogonal():
    for lib in (torch, ember):
        lib.manual_seed(0)
        m = lib.nn.utils.parametrizations.orthogonal(lib.nn.Linear(3, 3))
        m.weight = lib.eye(3) * 2  # not orthogonal: stored as its Q factor
        np.testing.assert_allclose(m.weight.detach().numpy(), np.eye(3), atol=1e-6)
        assert m.parametrizations.weight[0].orthogonal_map.name == "matrix_exp"


@pytest.mark.parametrize("call", [
    lambda lib: lib.nn.utils.parametrizations.orthogonal(lib.nn.Linear(3, 3), "xx"),
    lambda lib: lib.nn.utils.parametrizations.orthogonal(lib.nn.BatchNorm1d(3)),
    lambda lib: lib.nn.utils.parametrizations.orthogonal(lib.nn.Linear(3, 3), name="w"),
    lambda lib: setattr(lib.nn.utils.parametrizations.orthogonal(
        lib.nn.Linear(3, 3), use_trivialization=False), "weight", lib.eye(3)),
    lambda lib: setattr(lib.nn.utils.parametrizations.orthogonal(lib.nn.Linear(3, 3)),
                        "weight", lib.eye(2)),
])
def test_errors_match_torch(call):
    with pytest.raises(Exception) as te:
        call(torch)
    with pytest.raises(type(te.value)) as ee:
        call(ember)
    assert str(ee.value).replace("ember.", "torch.") == str(te.value)


@pytest.mark.parametrize("scale", [0.1, 1.0, 8.0])
def test_matrix_exp_matches_torch(scale):
    a = np.random.default_rng(1).standard_normal((2, 4, 4)) * scale
    w = np.random.default_rng(2).standard_normal((2, 4, 4))
    ta, ea = torch.tensor(a, requires_grad=True), ember.tensor(a, requires_grad=True)
    ty, ey = torch.linalg.matrix_exp(ta), _matrix_exp(ea)
    assert type(ey.grad_fn).__name__ == type(ty.grad_fn).__name__
    np.testing.assert_allclose(ey.detach().numpy(), ty.detach().numpy(), rtol=1e-10)
    (ty * torch.tensor(w)).sum().backward()
    (ey * ember.tensor(w)).sum().backward()
    np.testing.assert_allclose(ea.grad.numpy(), ta.grad.numpy(), rtol=1e-9)
    small = ember.tensor(a[0, :3, :3] * 0.3, requires_grad=True)
    assert ember.autograd.gradcheck(_matrix_exp, (small,))
    assert ember.autograd.gradgradcheck(_matrix_exp, (small,))
