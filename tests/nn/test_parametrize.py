"""nn.utils.parametrize, parametrizations.weight_norm/spectral_norm and the legacy
weight_norm/spectral_norm hooks against torch: names, state dicts, seeded power iteration,
forward values and gradients, removal and errors."""

import copy
import pickle
import warnings

import numpy as np
import pytest
import torch

import ember
from tests.integration.harness import run_both


def _grads(module):
    return {n: p.grad for n, p in module.named_parameters()}


def _run(module, x):
    y = module(x)
    (y * y).sum().backward()
    return [y, _grads(module)]


# -- parametrizations.weight_norm ------------------------------------------------------------
@pytest.mark.parametrize("make,shape,dim", [
    (lambda nn: nn.Linear(3, 4), (5, 3), 0),
    (lambda nn: nn.Linear(3, 4), (5, 3), 1),
    (lambda nn: nn.Linear(3, 4), (5, 3), None),
    (lambda nn: nn.Conv2d(2, 3, 3), (2, 2, 5, 5), 0),
    (lambda nn: nn.Conv2d(2, 3, 3), (2, 2, 5, 5), -2),
    (lambda nn: nn.Conv1d(2, 3, 2), (2, 2, 4), 2),
])
def test_weight_norm_parametrization(make, shape, dim):
    def program(torch):
        nn = torch.nn
        m = nn.utils.parametrizations.weight_norm(make(nn).double(), dim=dim)
        x = torch.randn(*shape, dtype=torch.float64)
        out = _run(m, x)
        return out + [list(m.state_dict()), repr(m), m.weight.grad_fn.name(),
                      list(m.parametrizations.weight.original0.shape)]
    run_both(program, rtol=1e-9, atol=1e-12)


def test_weight_norm_loads_legacy_state_dict():
    def program(torch):
        nn = torch.nn
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            old = nn.utils.weight_norm(nn.Linear(3, 2))
        new = nn.utils.parametrizations.weight_norm(nn.Linear(3, 2))
        result = new.load_state_dict(old.state_dict())
        x = torch.randn(4, 3)
        return [new(x), old(x), list(result.missing_keys), list(result.unexpected_keys),
                list(old.state_dict())]
    run_both(program)


def test_weight_norm_fused_double_backward():
    from ember.nn.utils.weight_norm import _weight_norm
    v = ember.randn(3, 4, dtype=ember.float64, requires_grad=True)
    for dim, gshape in ((0, (3, 1)), (1, (1, 4))):
        g = ember.randn(*gshape, dtype=ember.float64, requires_grad=True)
        assert ember.autograd.gradcheck(lambda a, b: _weight_norm(a, b, dim), (v, g))
        assert ember.autograd.gradgradcheck(lambda a, b: _weight_norm(a, b, dim), (v, g))


# -- parametrizations.spectral_norm ----------------------------------------------------------
@pytest.mark.parametrize("make,shape,kwargs", [
    (lambda nn: nn.Linear(3, 4), (5, 3), {}),
    (lambda nn: nn.Linear(4, 3), (5, 4), {"n_power_iterations": 3, "eps": 1e-6}),
    (lambda nn: nn.Conv2d(2, 3, 3), (2, 2, 5, 5), {}),
    (lambda nn: nn.Conv2d(2, 3, 3), (2, 2, 5, 5), {"dim": -1}),
    (lambda nn: nn.ConvTranspose2d(2, 3, 2), (1, 2, 3, 3), {}),
])
def test_spectral_norm_parametrization(make, shape, kwargs):
    def program(torch):
        nn = torch.nn
        m = nn.utils.parametrizations.spectral_norm(make(nn), **kwargs)
        x = torch.randn(*shape)
        first = _run(m, x)
        second = m(x)                       # the buffers moved one more step
        m.eval()
        u = m.parametrizations.weight[0]._u.clone()
        frozen = [m(x), m(x)]
        return first + [second, frozen, u, m.parametrizations.weight[0]._v,
                        list(m.state_dict()), repr(m)]
    run_both(program, rtol=2e-4, atol=1e-5)


def test_spectral_norm_parametrization_1d_and_errors():
    def program(torch):
        nn = torch.nn
        m = nn.Module()
        m.w = nn.Parameter(torch.randn(5))
        nn.utils.parametrizations.spectral_norm(m, "w")
        return [m.w, list(m.state_dict())]
    run_both(program)
    for lib in (torch, ember):
        with pytest.raises(IndexError, match=r"expected to be in range of \[-2, 1\] but got 2"):
            lib.nn.utils.parametrizations.spectral_norm(lib.nn.Linear(2, 2), dim=2)
        with pytest.raises(ValueError, match="n_power_iterations=0"):
            lib.nn.utils.parametrizations.spectral_norm(lib.nn.Linear(2, 2),
                                                        n_power_iterations=0)
        with pytest.raises(ValueError, match="has no parameter or buffer with name 'foo'"):
            lib.nn.utils.parametrizations.spectral_norm(lib.nn.Linear(2, 2), "foo")


# -- legacy hooks ------------------------------------------------------------------------------
def test_legacy_weight_norm():
    def program(torch):
        nn = torch.nn
        with pytest.warns(FutureWarning, match="parametrizations.weight_norm"):
            m = nn.utils.weight_norm(nn.Conv1d(2, 3, 2), dim=None)
        x = torch.randn(2, 2, 4)
        out = _run(m, x)
        keys = list(m.state_dict())
        shapes = [list(m.weight_g.shape), list(m.weight_v.shape)]
        nn.utils.remove_weight_norm(m)
        return out + [keys, shapes, list(m.state_dict()), m(x), type(m.weight).__name__]
    run_both(program)


def test_legacy_weight_norm_errors():
    for lib in (torch, ember):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            m = lib.nn.utils.weight_norm(lib.nn.Linear(2, 2))
            with pytest.raises(RuntimeError, match="Cannot register two weight_norm hooks"):
                lib.nn.utils.weight_norm(m)
        with pytest.raises(ValueError, match="weight_norm of 'bias' not found in Linear"):
            lib.nn.utils.remove_weight_norm(m, "bias")


def test_legacy_spectral_norm():
    def program(torch):
        nn = torch.nn
        m = nn.utils.spectral_norm(nn.Linear(3, 4))
        before = m.weight.clone()            # the raw weight until the first forward
        x = torch.randn(5, 3)
        out = _run(m, x)
        sd = m.state_dict()
        m.eval()
        frozen = m(x)
        nn.utils.remove_spectral_norm(m)
        return out + [before, frozen, list(sd), sd._metadata[""]["spectral_norm"],
                      list(m.state_dict()), m(x)]
    run_both(program)
    for lib in (torch, ember):
        m = lib.nn.utils.spectral_norm(lib.nn.Linear(2, 2))
        with pytest.raises(RuntimeError, match="Cannot register two spectral_norm hooks"):
            lib.nn.utils.spectral_norm(m)
        with pytest.raises(ValueError, match="spectral_norm of 'bias' not found in Linear"):
            lib.nn.utils.remove_spectral_norm(m, "bias")
        with pytest.raises(ValueError, match="n_power_iterations=0"):
            lib.nn.utils.spectral_norm(lib.nn.Linear(2, 2), n_power_iterations=0)


def test_legacy_spectral_norm_conv_transpose_dim():
    def program(torch):
        m = torch.nn.utils.spectral_norm(torch.nn.ConvTranspose1d(2, 3, 2))
        return [m.weight_u.shape[0], m.weight_v.shape[0], m(torch.randn(1, 2, 4))]
    run_both(program)


# -- register_parametrization ------------------------------------------------------------------
def _symmetric(nn):
    class Symmetric(nn.Module):
        def forward(self, X):
            return X.triu() + X.triu(1).T

        def right_inverse(self, A):
            return A.triu()
    return Symmetric


def _rank_one(nn):
    class RankOne(nn.Module):
        def forward(self, x, y):
            return x.unsqueeze(-1) @ y.unsqueeze(-2)

        def right_inverse(self, Z):
            return Z[:, 0], Z[0, :] / Z[0, 0]
    return RankOne


def test_register_parametrization_symmetric_and_assignment():
    def program(torch):
        nn = torch.nn
        P = nn.utils.parametrize
        m = nn.Linear(3, 3)
        P.register_parametrization(m, "weight", _symmetric(nn)())
        A = torch.randn(3, 3)
        A = A + A.T
        m.weight = A                               # stored through right_inverse
        x = torch.randn(2, 3)
        out = _run(m, x)
        state = [P.is_parametrized(m), P.is_parametrized(m, "weight"),
                 P.is_parametrized(m, "bias"), type(m).__name__,
                 P.type_before_parametrizations(m).__name__, list(m.state_dict()), repr(m)]
        P.remove_parametrizations(m, "weight")
        return out + state + [m.weight, type(m).__name__, P.is_parametrized(m),
                              type(m.weight).__name__, list(m.state_dict())]
    run_both(program)


def test_stacked_and_multi_tensor_parametrizations():
    def program(torch):
        nn = torch.nn
        P = nn.utils.parametrize
        m = nn.Linear(3, 3)
        P.register_parametrization(m, "weight", _rank_one(nn)(), unsafe=True)
        P.register_parametrization(m, "weight", _symmetric(nn)())
        x = torch.randn(2, 3)
        out = _run(m, x)
        names = sorted(n for n, _ in m.named_parameters())
        P.remove_parametrizations(m, "weight", leave_parametrized=True)
        return out + [names, m.weight, type(m.weight).__name__]
    run_both(program)


def test_remove_parametrizations_leave_original():
    def program(torch):
        nn = torch.nn
        P = nn.utils.parametrize
        m = nn.Linear(3, 3)
        w = m.weight.detach().clone()
        P.register_parametrization(m, "weight", _symmetric(nn)())
        P.register_parametrization(m, "bias", nn.Tanh())
        P.remove_parametrizations(m, "weight", leave_parametrized=False)
        mid = [type(m).__name__, list(m.state_dict())]
        P.remove_parametrizations(m, "bias", leave_parametrized=False)
        return mid + [m.weight, w, type(m).__name__, hasattr(m, "parametrizations")]
    run_both(program)


def test_cached_computes_once():
    class Counting(ember.nn.Module):
        calls = 0

        def forward(self, X):
            Counting.calls += 1
            return X * 2
    m = ember.nn.Linear(2, 2)
    ember.nn.utils.parametrize.register_parametrization(m, "weight", Counting())
    Counting.calls = 0
    with ember.nn.utils.parametrize.cached():
        a, b = m.weight, m.weight
        with ember.nn.utils.parametrize.cached():
            c = m.weight
    assert a is b is c and Counting.calls == 1
    assert m.weight is not a and Counting.calls == 2


def test_parametrization_errors_match_torch():
    for lib in (torch, ember):
        nn, P = lib.nn, lib.nn.utils.parametrize
        with pytest.raises(ValueError, match="does not have a parameter, a buffer, or a "
                                             "parametrized element with name 'foo'"):
            P.register_parametrization(nn.Linear(2, 2), "foo", nn.Identity())
        with pytest.raises(ValueError, match="does not have a parametrization on weight"):
            P.remove_parametrizations(nn.Linear(2, 2), "weight")

        class Double(nn.Module):
            def forward(self, x):
                return x.double()
        with pytest.raises(ValueError, match="may not change the dtype"):
            P.register_parametrization(nn.Linear(2, 2), "weight", Double())
        m = nn.utils.parametrizations.weight_norm(nn.Linear(3, 2))
        with pytest.raises(ValueError, match="Cannot leave unparametrized"):
            P.remove_parametrizations(m, "weight", leave_parametrized=False)
        with pytest.raises(KeyError, match="attribute 'weight' already exists"):
            m.weight = nn.Parameter(lib.ones(2, 3))
        with pytest.raises(RuntimeError, match="Serialization of parametrized modules"):
            pickle.dumps(m)
        c = copy.deepcopy(m)
        assert type(c).__name__ == "ParametrizedLinear"
        assert c.parametrizations.weight.original1 is not m.parametrizations.weight.original1
        np.testing.assert_array_equal(c.weight.detach().numpy(), m.weight.detach().numpy())


def test_parametrized_buffer_and_training_mode():
    def program(torch):
        nn = torch.nn
        P = nn.utils.parametrize
        m = nn.BatchNorm1d(3)
        m.eval()
        P.register_parametrization(m, "running_var", nn.Softplus())
        return [m.parametrizations.running_var[0].training, m.running_var,
                list(m.state_dict()), [n for n, _ in m.named_buffers()]]
    run_both(program)
