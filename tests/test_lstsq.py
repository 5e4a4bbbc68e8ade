"""linalg.lstsq against torch: every CPU driver's outputs (solution, residuals, rank,
singular values), gradients of solution and residuals, batching, vectors, rank-deficient and
empty systems, errors."""

import numpy as np
import pytest
import torch

import ember

R = np.random.default_rng(0)
SHAPES = [((5, 3), (5, 2)), ((3, 5), (3, 2)), ((4, 4), (4, 1)), ((2, 5, 3), (2, 5)),
          ((5, 3), (5,)), ((2, 4, 3), (1, 4, 2)), ((1, 4, 3), (3, 4, 2))]


def _run(lib, A, B, **kw):
    a = lib.tensor(A, requires_grad=True)
    b = lib.tensor(B, requires_grad=True)
    r = lib.linalg.lstsq(a, b, **kw)
    w = np.random.default_rng(1).standard_normal(tuple(r.solution.shape))
    loss = (r.solution * lib.tensor(w, dtype=r.solution.dtype)).sum()
    if r.residuals.numel():
        loss = loss + (r.residuals * 3).sum()
    if loss.requires_grad:
        loss.backward()
    return r, a.grad, b.grad


def _same(e, t, tol):
    if t is None:
        assert e is None or not e.numpy().any()
        return
    assert str(e.dtype).split(".")[1] == str(t.dtype).split(".")[1]
    assert tuple(e.shape) == tuple(t.shape)
    np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), rtol=tol, atol=tol)


# gels needs full column rank: underdetermined systems (rows < columns) are left out for it.
DRIVER_CASES = [(d, sh) for d in (None, "gelsy", "gelsd", "gelss", "gels") for sh in SHAPES
                if not (d == "gels" and sh[0][-2] < sh[0][-1])]


@pytest.mark.parametrize("driver,shapes", DRIVER_CASES, ids=str)
def test_lstsq_matches_torch(driver, shapes):
    A, B = R.standard_normal(shapes[0]), R.standard_normal(shapes[1])
    (re, gae, gbe), (rt, gat, gbt) = _run(ember, A, B, driver=driver), _run(torch, A, B,
                                                                             driver=driver)
    assert type(re).__name__ == type(rt).__name__ == "linalg_lstsq"
    for e, t in zip(list(re) + [gae, gbe], list(rt) + [gat, gbt]):
        _same(e, t, 1e-8)
    if rt.solution.grad_fn is not None:
        assert re.solution.grad_fn.name() == rt.solution.grad_fn.name()


@pytest.mark.parametrize("driver", ["gelsy", "gelsd"])
def test_rank_deficient_and_rcond(driver):
    A = np.ones((4, 3))
    B = R.standard_normal((4, 2))
    for kw in ({}, {"rcond": 0.5}):
        (re, gae, gbe), (rt, gat, gbt) = (_run(ember, A, B, driver=driver, **kw),
                                          _run(torch, A, B, driver=driver, **kw))
        for e, t in zip([re.solution, re.residuals, re.rank, gae, gbe],
                        [rt.solution, rt.residuals, rt.rank, gat, gbt]):
            _same(e, t, 1e-8)
    # A numerically low-rank matrix where rcond decides the rank. (gelsy truncates a pivoted
    # QR, ember the SVD: the truncated solutions differ slightly, so only gelsd's compare.)
    A = R.standard_normal((5, 2)) @ np.diag([1.0, 1e-3]) @ R.standard_normal((2, 3))
    re, rt = ember.linalg.lstsq(ember.tensor(A), ember.tensor(B[:1].repeat(5, 0)),
                                rcond=1e-2, driver=driver), \
        torch.linalg.lstsq(torch.tensor(A), torch.tensor(B[:1].repeat(5, 0)), rcond=1e-2,
                           driver=driver)
    assert re.rank.item() == rt.rank.item() == 1
    if driver == "gelsd":
        _same(re.solution, rt.solution, 1e-8)


def test_float32_and_empty():
    A, B = R.standard_normal((6, 3)).astype(np.float32), R.standard_normal((6, 2)).astype(
        np.float32)
    for driver in ("gelsy", "gelsd"):
        re, rt = (ember.linalg.lstsq(ember.tensor(A), ember.tensor(B), driver=driver),
                  torch.linalg.lstsq(torch.tensor(A), torch.tensor(B), driver=driver))
        for e, t in zip(re, rt):
            _same(e, t, 2e-5)
    for shapes in (((0, 3), (0, 2)), ((2, 0, 3), (2, 0, 2)), ((3, 0), (3, 2))):
        r = ember.linalg.lstsq(ember.zeros(shapes[0]), ember.zeros(shapes[1]))
        t = torch.linalg.lstsq(torch.zeros(shapes[0]), torch.zeros(shapes[1]))
        for e, tt in zip(r, t):
            _same(e, tt, 0)


def test_gradcheck_solution_and_residuals():
    A = ember.tensor(R.standard_normal((5, 3)), requires_grad=True)
    B = ember.tensor(R.standard_normal((5, 2)), requires_grad=True)
    assert ember.autograd.gradcheck(lambda a, b: ember.linalg.lstsq(a, b).solution, (A, B))
    assert ember.autograd.gradcheck(
        lambda a, b: ember.linalg.lstsq(a, b, driver="gelsd").residuals, (A, B))
    assert ember.autograd.gradgradcheck(lambda a, b: ember.linalg.lstsq(a, b).solution, (A, B))


@pytest.mark.parametrize("a,b,match", [
    ((3,), (3, 2), "input must have at least 2 dimensions"),
    ((4, 3), (3, 2), r"input.size\(-2\) should match other.size\(-2\)"),
    ((4, 3), (4, 2, 3), r"input.dim\(\) must be greater or equal to other.dim\(\)"),
    ((2, 4, 3), (4, 2), "The size of tensor a"),
])
def test_errors_match_torch(a, b, match):
    for lib in (torch, ember):
        with pytest.raises(RuntimeError, match=match):
            lib.linalg.lstsq(lib.zeros(a), lib.zeros(b))


def test_dtype_and_driver_errors_match_torch():
    for lib in (torch, ember):
        with pytest.raises(RuntimeError, match="parameter `driver` should be one of"):
            lib.linalg.lstsq(lib.zeros(4, 3), lib.zeros(4, 2), driver="foo")
        with pytest.raises(RuntimeError, match="Expected input and other to have the same "
                                               "dtype, but got input's dtype Float and other's "
                                               "dtype Double"):
            lib.linalg.lstsq(lib.zeros(4, 3), lib.zeros(4, 2, dtype=lib.float64))
        with pytest.raises(RuntimeError, match="doesn't handle types other than float and "
                                               "double"):
            lib.linalg.lstsq(lib.ones(4, 3, dtype=lib.int64), lib.ones(4, 2, dtype=lib.int64))
