"""Transforms (forward, inverse, log_abs_det_jacobian, shapes, caching), the constraint
registry (biject_to / transform_to) and constraint checks, against torch."""

import numpy as np
import pytest
import torch

import ember

R = np.random.default_rng(11)
X = R.normal(size=(2, 3))
M = R.normal(size=(2, 3, 3))

TRANSFORMS = {
    "exp": (lambda T, t: T.ExpTransform(), X),
    "power": (lambda T, t: T.PowerTransform(t.tensor(2.5)), np.abs(X) + 0.1),
    "sigmoid": (lambda T, t: T.SigmoidTransform(), X),
    "softplus": (lambda T, t: T.SoftplusTransform(), X),
    "tanh": (lambda T, t: T.TanhTransform(), X),
    "abs": (lambda T, t: T.AbsTransform(), X),
    "affine": (lambda T, t: T.AffineTransform(t.tensor([1.0, -2.0, 0.5]), t.tensor(
        [2.0, -0.5, 3.0])), X),
    "affine_scalar": (lambda T, t: T.AffineTransform(1.5, -2.0), X),
    "affine_event": (lambda T, t: T.AffineTransform(0.5, t.tensor([1.0, 2.0, 3.0]),
                                                    event_dim=1), X),
    "softmax": (lambda T, t: T.SoftmaxTransform(), X),
    "stick": (lambda T, t: T.StickBreakingTransform(), X),
    "lower_cholesky": (lambda T, t: T.LowerCholeskyTransform(), M),
    "compose": (lambda T, t: T.ComposeTransform([T.AffineTransform(0.3, 2.0),
                                                 T.StickBreakingTransform()]), X),
    "compose_empty": (lambda T, t: T.ComposeTransform([]), X),
    "independent": (lambda T, t: T.IndependentTransform(T.SigmoidTransform(), 1), X),
    "reshape": (lambda T, t: T.ReshapeTransform((3,), (3, 1)), X),
    "exp_inv": (lambda T, t: T.ExpTransform().inv, np.abs(X) + 0.1),
    "corr_cholesky": (lambda T, t: T.CorrCholeskyTransform(), R.normal(size=(2, 6))),
    "positive_definite": (lambda T, t: T.PositiveDefiniteTransform(), M),
    "cat": (lambda T, t: T.CatTransform([T.ExpTransform(), T.SigmoidTransform()], dim=-1,
                                        lengths=[1, 2]), X),
    "stack": (lambda T, t: T.StackTransform([T.ExpTransform(), T.TanhTransform(),
                                             T.AffineTransform(1.0, 2.0)], dim=1), X),
    "cdf": (lambda T, t: T.CumulativeDistributionTransform(
        t.distributions.Normal(0.0, 2.0)), X),
}
BIJECTIVE_SKIP_LADJ = {"abs", "softmax", "lower_cholesky", "positive_definite"}


def _np(x):
    return x.detach().numpy()


@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_transform_matches_torch(name):
    build, x = TRANSFORMS[name]
    te = build(ember.distributions.transforms, ember)
    tt = build(torch.distributions.transforms, torch)
    xe = ember.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    ye, yt = te(xe), tt(xt)
    np.testing.assert_allclose(_np(ye), _np(yt), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(_np(te.inv(ye)), _np(tt.inv(yt)), rtol=1e-9, atol=1e-12)
    assert te.bijective == tt.bijective
    assert repr(te.domain) == repr(tt.domain) and repr(te.codomain) == repr(tt.codomain)
    assert tuple(te.forward_shape(ember.Size(x.shape))) == tuple(
        tt.forward_shape(torch.Size(x.shape)))
    assert tuple(te.inverse_shape(ember.Size(ye.shape))) == tuple(
        tt.inverse_shape(torch.Size(yt.shape)))
    if name not in BIJECTIVE_SKIP_LADJ:
        le, lt = te.log_abs_det_jacobian(xe, ye), tt.log_abs_det_jacobian(xt, yt)
        np.testing.assert_allclose(_np(le), _np(lt), rtol=1e-10, atol=1e-12)
        (ge,) = ember.autograd.grad(le.sum() + ye.sum(), [xe])
        (gt,) = torch.autograd.grad(lt.sum() + yt.sum(), [xt])
        np.testing.assert_allclose(ge.numpy(), gt.numpy(), rtol=1e-9, atol=1e-12)
        try:
            st = tt.sign
        except NotImplementedError:
            with pytest.raises(NotImplementedError):
                _ = te.sign
        else:
            se = te.sign
            assert (se.tolist() if hasattr(se, "tolist") else se) == (
                st.tolist() if hasattr(st, "tolist") else st)


def test_cache_and_inverse_identity():
    for lib in (ember, torch):
        T = lib.distributions.transforms
        t = T.ExpTransform(cache_size=1)
        x = lib.randn(3)
        y = t(x)
        assert t(x) is y and t.inv(y) is x
        assert t.inv.inv is t
        assert T.ExpTransform().with_cache(1)._cache_size == 1
        assert T.ExpTransform() == T.ExpTransform()
        assert T.AffineTransform(1.0, 2.0) == T.AffineTransform(1.0, 2.0)
        assert T.AffineTransform(1.0, 2.0) != T.AffineTransform(1.0, 3.0)
        assert repr(T.ExpTransform().inv) == "_InverseTransform(ExpTransform())"
    assert repr(ember.distributions.transforms.ComposeTransform(
        [ember.distributions.transforms.ExpTransform()])) == repr(
        torch.distributions.transforms.ComposeTransform(
            [torch.distributions.transforms.ExpTransform()]))


CONSTRAINTS = ["real", "positive", "nonnegative", "unit_interval", "simplex", "real_vector",
               "lower_cholesky", "corr_cholesky", "positive_definite", "positive_semidefinite", ("greater_than", 2.0), ("less_than", -1.0),
               ("interval", -1.0, 3.0), ("half_open_interval", 0.0, 1.0),
               ("greater_than_eq", 0.5)]


def _constraint(lib, spec):
    C = lib.distributions.constraints
    if isinstance(spec, str):
        return getattr(C, spec)
    return getattr(C, spec[0])(*spec[1:])


@pytest.mark.parametrize("spec", CONSTRAINTS, ids=str)
def test_biject_to_and_transform_to(spec):
    ce, ct = _constraint(ember, spec), _constraint(torch, spec)
    assert repr(ce) == repr(ct)
    x = {"lower_cholesky": M, "positive_definite": M, "positive_semidefinite": M,
         "corr_cholesky": X}.get(spec, X)
    for reg in ("biject_to", "transform_to"):
        try:
            tt = getattr(torch.distributions, reg)(ct)
        except NotImplementedError:
            with pytest.raises(NotImplementedError):
                getattr(ember.distributions, reg)(ce)
            continue
        te = getattr(ember.distributions, reg)(ce)
        assert repr(te) == repr(tt)
        ye, yt = te(ember.tensor(x)), tt(torch.tensor(x))
        np.testing.assert_allclose(ye.numpy(), yt.numpy(), rtol=1e-12, atol=1e-14)
        assert bool(ce.check(ye).all())
        if tt.bijective:
            np.testing.assert_allclose(
                te.log_abs_det_jacobian(ember.tensor(x), ye).numpy(),
                tt.log_abs_det_jacobian(torch.tensor(x), yt).numpy(), rtol=1e-10, atol=1e-12)


CHECKS = {
    "boolean": [0.0, 1.0, 0.5],
    "nonnegative_integer": [0.0, 2.0, -1.0, 1.5],
    "positive_integer": [1.0, 0.0, 3.0],
    "simplex": [[0.5, 0.5], [0.2, 0.2], [1.0, -0.0]],
    "one_hot": [[0.0, 1.0], [1.0, 1.0]],
    "positive_definite": [[[2.0, 0.5], [0.5, 1.0]], [[1.0, 2.0], [2.0, 1.0]],
                          [[1.0, 0.0], [1.0, 1.0]]],
    "positive_semidefinite": [[[1.0, 1.0], [1.0, 1.0]], [[1.0, 2.0], [2.0, 1.0]]],
    "lower_cholesky": [[[1.0, 0.0], [2.0, 1.0]], [[1.0, 0.5], [0.0, 1.0]],
                       [[-1.0, 0.0], [0.0, 1.0]]],
    "lower_triangular": [[[1.0, 0.0], [2.0, 1.0]], [[1.0, 0.5], [0.0, 1.0]]],
    "square": [[[1.0, 0.0], [2.0, 1.0]]],
    "symmetric": [[[1.0, 2.0], [2.0, 1.0]], [[1.0, 0.0], [2.0, 1.0]]],
    "corr_cholesky": [[[1.0, 0.0], [0.6, 0.8]], [[1.0, 0.0], [0.5, 0.5]]],
    "real": [0.0, float("nan"), float("inf")],
}


@pytest.mark.parametrize("name", list(CHECKS))
def test_constraint_check(name):
    ce = getattr(ember.distributions.constraints, name)
    ct = getattr(torch.distributions.constraints, name)
    assert repr(ce) == repr(ct)
    assert ce.event_dim == ct.event_dim and ce.is_discrete == ct.is_discrete
    v = CHECKS[name]
    np.testing.assert_array_equal(ce.check(ember.tensor(v)).numpy(),
                                  ct.check(torch.tensor(v)).numpy())


def test_independent_and_integer_interval_constraints():
    for args in ((0, 3), (1, 5)):
        ce = ember.distributions.constraints.integer_interval(*args)
        ct = torch.distributions.constraints.integer_interval(*args)
        v = [0.0, 1.0, 2.5, 3.0, 5.0, 6.0]
        assert repr(ce) == repr(ct)
        np.testing.assert_array_equal(ce.check(ember.tensor(v)).numpy(),
                                      ct.check(torch.tensor(v)).numpy())
    ie = ember.distributions.constraints.independent(ember.distributions.constraints.positive, 1)
    it = torch.distributions.constraints.independent(torch.distributions.constraints.positive, 1)
    assert repr(ie) == repr(it) and ie.event_dim == it.event_dim
    v = [[1.0, 2.0], [1.0, -1.0]]
    np.testing.assert_array_equal(ie.check(ember.tensor(v)).numpy(),
                                  it.check(torch.tensor(v)).numpy())


def test_cat_and_stack_constraints_registry():
    for lib in (ember, torch):
        C = lib.distributions.constraints
        cat = C.cat([C.positive, C.unit_interval, C.real], dim=-1, lengths=[1, 2, 1])
        stack = C.stack([C.positive, C.real], dim=0)
        lib.manual_seed(0)
        x = lib.randn(3, 4)
        y = lib.distributions.biject_to(cat)(x)
        z = lib.distributions.transform_to(stack)(x[:2])
        out = (y.numpy(), z.numpy(), cat.check(y).numpy(), stack.check(z).numpy(),
               cat.event_dim, stack.event_dim)
        if lib is ember:
            got = out
        else:
            for a, b in zip(got, out):
                np.testing.assert_allclose(a, b, rtol=1e-6)
