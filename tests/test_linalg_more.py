"""torch.linalg functions the op table cannot cover: complex results (eig, eigvals), composite
node names (cond, householder_product), and error types and messages, each against torch."""

import numpy as np
import pytest
import torch

import ember


def _pair(a, requires_grad=False):
    return (ember.tensor(a, requires_grad=requires_grad),
            torch.tensor(a, requires_grad=requires_grad))


def _close(e, t, **kw):
    np.testing.assert_allclose(np.asarray(e.detach().numpy()), t.detach().numpy(), **kw)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_eigvals_and_eig_forward(dtype):
    a = np.random.default_rng(0).standard_normal((2, 4, 4)).astype(dtype)
    (e, t) = _pair(a)
    ev, tv = ember.linalg.eigvals(e), torch.linalg.eigvals(t)
    assert str(ev.dtype).split(".")[1] == str(tv.dtype).split(".")[1]
    _close(ev, tv, rtol=1e-4, atol=1e-5)
    (ew, evec), (tw, tvec) = ember.linalg.eig(e), torch.linalg.eig(t)
    _close(ew, tw, rtol=1e-4, atol=1e-5)
    # LAPACK normalises each vector (unit norm, largest component real) in both libraries;
    # compare through A V = V diag(w), which does not depend on the phase.
    ae = a.astype(np.complex128) @ evec.numpy() - evec.numpy() * ew.numpy()[..., None, :]
    assert np.abs(ae).max() < 1e-4
    _close(ember.tensor(np.abs(evec.numpy())), torch.tensor(np.abs(tvec.numpy())),
           rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("p", [None, 2, -2, 1, -1, "fro", "nuc", float("inf"), -float("inf")])
def test_cond_values_and_gradients(p):
    a = np.random.default_rng(1).standard_normal((2, 3, 3)) + 2 * np.eye(3)
    e, t = _pair(a, requires_grad=True)
    ce, ct = ember.linalg.cond(e, p), torch.linalg.cond(t, p)
    _close(ce, ct, rtol=1e-10)
    if p not in (None, 2, -2):
        return      # torch's backward fails for these (an in-place write in its inverse)
    ce.sum().backward()
    ct.sum().backward()
    _close(e.grad, t.grad, rtol=1e-7, atol=1e-10)


def test_cond_of_singular_matrix_is_inf():
    a = np.array([[1.0, 2.0], [2.0, 4.0]])
    e, t = _pair(a)
    for p in ("fro", 1):
        assert ember.linalg.cond(e, p).item() == torch.linalg.cond(t, p).item()


def test_householder_product_gradients():
    rng = np.random.default_rng(2)
    a, tau = rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 3))
    ea, ta = _pair(a, True)
    et, tt = _pair(tau, True)
    qe, qt = ember.linalg.householder_product(ea, et), torch.linalg.householder_product(ta, tt)
    _close(qe, qt, rtol=1e-10, atol=1e-12)
    w = rng.standard_normal(qt.shape)
    (qe * ember.tensor(w)).sum().backward()
    (qt * torch.tensor(w)).sum().backward()
    _close(ea.grad, ta.grad, rtol=1e-8, atol=1e-12)
    _close(et.grad, tt.grad, rtol=1e-8, atol=1e-12)


def test_householder_product_matches_geqrf():
    a = np.random.default_rng(3).standard_normal((4, 3))
    ref, tau = torch.geqrf(torch.tensor(a))
    q = ember.linalg.householder_product(ember.tensor(ref.numpy()), ember.tensor(tau.numpy()))
    _close(q, torch.linalg.householder_product(ref, tau), rtol=1e-10, atol=1e-12)


def test_lu_factor_ex_reports_singular_info():
    a = np.array([[[1.0, 2.0], [2.0, 4.0]], [[2.0, 1.0], [1.0, 3.0]]])
    e, t = _pair(a)
    re, rt = ember.linalg.lu_factor_ex(e), torch.linalg.lu_factor_ex(t)
    assert re.info.tolist() == rt.info.tolist()
    assert re.pivots.tolist() == rt.pivots.tolist()
    assert re.pivots.dtype == ember.int32 and re.info.dtype == ember.int32
    _close(re.LU, rt.LU)


def test_solve_ex_info_and_legacy_lu_infos():
    a = np.array([[1.0, 2.0], [2.0, 4.0]])
    b = np.ones((2, 1))
    (e, t), (eb, tb) = _pair(a), _pair(b)
    assert ember.linalg.solve_ex(e, eb).info.item() == torch.linalg.solve_ex(t, tb).info.item()
    assert ember.lu(e, get_infos=True)[2].item() == torch.lu(t, get_infos=True)[2].item()


def test_svd_legacy_without_uv():
    a = np.random.default_rng(4).standard_normal((3, 2))
    e, t = _pair(a)
    re, rt = ember.svd(e, compute_uv=False), torch.svd(t, compute_uv=False)
    for x, y in zip(re, rt):
        _close(x, y, atol=1e-12)
    re, rt = e.svd(some=False), t.svd(some=False)
    assert [tuple(x.shape) for x in re] == [tuple(x.shape) for x in rt]


def _raises_like(fe, ft):
    with pytest.raises(Exception) as te:
        ft()
    with pytest.raises(type(te.value)) as ee:
        fe()
    assert str(ee.value) == str(te.value)


def test_errors_match_torch():
    e, t = _pair(np.zeros((2, 2)))
    _raises_like(lambda: ember.linalg.lu_factor(e), lambda: torch.linalg.lu_factor(t))
    _raises_like(lambda: ember.linalg.vander(ember.ones(3), N=1),
                 lambda: torch.linalg.vander(torch.ones(3), N=1))
    _raises_like(lambda: ember.linalg.tensorinv(ember.ones(2, 3), ind=1),
                 lambda: torch.linalg.tensorinv(torch.ones(2, 3), ind=1))
    _raises_like(lambda: ember.linalg.tensorinv(ember.ones(2, 2), ind=0),
                 lambda: torch.linalg.tensorinv(torch.ones(2, 2), ind=0))
    _raises_like(lambda: ember.linalg.matrix_exp(ember.ones(2, 3)),
                 lambda: torch.linalg.matrix_exp(torch.ones(2, 3)))


@pytest.mark.parametrize("seed", range(6))
def test_ldl_factor_and_solve_with_bunch_kaufman_pivots(seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((2, 6, 6))
    a = a + a.swapaxes(-1, -2)
    a[:, 0, 0] = 1e-3 * seed                       # forces interchanges and 2x2 blocks
    b = rng.standard_normal((2, 6, 3))
    (e, t), (eb, tb) = _pair(a), _pair(b)
    re, rt = ember.linalg.ldl_factor_ex(e), torch.linalg.ldl_factor_ex(t)
    assert re.pivots.tolist() == rt.pivots.tolist()
    assert re.info.tolist() == rt.info.tolist()
    _close(re.LD, rt.LD, rtol=1e-10, atol=1e-12)
    _close(ember.linalg.ldl_solve(re.LD, re.pivots, eb),
           torch.linalg.ldl_solve(rt.LD, rt.pivots, tb), rtol=1e-9, atol=1e-12)
