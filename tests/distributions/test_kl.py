"""kl_divergence for registered pairs (values and gradients), dispatch, and register_kl."""

import warnings

import numpy as np
import pytest
import torch

import ember

R = np.random.default_rng(3)
P = {"a": R.uniform(0.5, 2.0, 3), "b": R.uniform(0.5, 2.0, 3), "c": R.normal(size=3),
     "d": R.uniform(0.1, 0.9, 3), "s": R.dirichlet(np.ones(4), 2),
     "m": R.normal(size=(2, 3)), "W": R.normal(size=(3, 2))}
Q = {"a": R.uniform(0.5, 2.0, 3), "b": R.uniform(0.5, 2.0, 3), "c": R.normal(size=3),
     "d": R.uniform(0.1, 0.9, 3), "s": R.dirichlet(np.ones(4), 2),
     "m": R.normal(size=(2, 3)), "W": R.normal(size=(3, 2))}


def _spd(t, x):
    return x.unsqueeze(-1) * x.unsqueeze(-2) + t.eye(3) * 2.0


FAMILIES = {
    "Normal": lambda t, p: t.distributions.Normal(p["c"], p["a"]),
    "Laplace": lambda t, p: t.distributions.Laplace(p["c"], p["a"]),
    "Cauchy": lambda t, p: t.distributions.Cauchy(p["c"], p["a"]),
    "Gumbel": lambda t, p: t.distributions.Gumbel(p["c"], p["a"]),
    "Exponential": lambda t, p: t.distributions.Exponential(p["a"]),
    "Gamma": lambda t, p: t.distributions.Gamma(p["a"], p["b"]),
    "Beta": lambda t, p: t.distributions.Beta(p["a"], p["b"]),
    "Uniform": lambda t, p: t.distributions.Uniform(p["d"] - 0.1, p["d"] + p["a"]),
    "Bernoulli": lambda t, p: t.distributions.Bernoulli(p["d"]),
    "Binomial": lambda t, p: t.distributions.Binomial(5, p["d"]),
    "Geometric": lambda t, p: t.distributions.Geometric(p["d"]),
    "Poisson": lambda t, p: t.distributions.Poisson(p["a"]),
    "Categorical": lambda t, p: t.distributions.Categorical(p["s"]),
    "OneHotCategorical": lambda t, p: t.distributions.OneHotCategorical(p["s"]),
    "Dirichlet": lambda t, p: t.distributions.Dirichlet(p["s"] + 0.5),
    "HalfNormal": lambda t, p: t.distributions.HalfNormal(p["a"]),
    "LogNormal": lambda t, p: t.distributions.LogNormal(p["c"], p["a"]),
    "Chi2": lambda t, p: t.distributions.Chi2(p["a"]),
    "StudentT": lambda t, p: t.distributions.StudentT(p["a"]),
    "Pareto": lambda t, p: t.distributions.Pareto(p["a"], p["b"] + 2),
    "Weibull": lambda t, p: t.distributions.Weibull(p["a"], p["b"]),
    "ContinuousBernoulli": lambda t, p: t.distributions.ContinuousBernoulli(p["d"]),
    "Wishart": lambda t, p: t.distributions.Wishart(p["a"] + 2,
                                                    covariance_matrix=_spd(t, p["c"])),
    "Independent": lambda t, p: t.distributions.Independent(
        t.distributions.Normal(p["m"], p["a"]), 1),
    "MultivariateNormal": lambda t, p: t.distributions.MultivariateNormal(
        p["m"], _spd(t, p["c"])),
    "LowRankMultivariateNormal": lambda t, p: t.distributions.LowRankMultivariateNormal(
        p["m"], p["W"], p["a"]),
}
NAMES = list(FAMILIES)


def _make(lib, params):
    return {k: lib.tensor(v, requires_grad=True) for k, v in params.items()}


def _outcome(lib, np_, nq):
    pp, pq = _make(lib, P), _make(lib, Q)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            kl = lib.distributions.kl_divergence(FAMILIES[np_](lib, pp), FAMILIES[nq](lib, pq))
    except Exception as exc:  # noqa: BLE001 - compared between libraries
        return ("error", type(exc).__name__, str(exc).replace("ember.", "torch.")), None
    keys = sorted(pp)
    fin = kl[kl.isfinite()] if lib is torch else kl[kl.isfinite()]
    grads = None
    if kl.requires_grad and fin.numel():
        grads = lib.autograd.grad(fin.sum(), [pp[k] for k in keys] + [pq[k] for k in keys],
                                  allow_unused=True)
    return kl.detach().numpy(), grads


@pytest.mark.parametrize("np_", NAMES)
def test_kl_all_pairs_match_torch(np_):
    """Every (p, q) combination: the same value, the same gradients, or the same error."""
    for nq in NAMES:
        te, tg = _outcome(torch, np_, nq)
        ee, eg = _outcome(ember, np_, nq)
        if isinstance(te, tuple):
            assert ee == te, (np_, nq)
            continue
        assert not isinstance(ee, tuple), (np_, nq, ee)
        np.testing.assert_allclose(ee, te, rtol=1e-6, atol=1e-8, err_msg=f"KL({np_}||{nq})")
        if tg is None:
            continue
        for a, b in zip(eg, tg):
            if b is None:
                assert a is None or not a.abs().sum().item()
            else:
                np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-8,
                                           err_msg=f"grad KL({np_}||{nq})")


def test_register_kl_dispatch_and_ambiguity():
    for lib in (ember, torch):
        D = lib.distributions

        class N1(D.Normal):
            pass

        class N2(D.Normal):
            pass

        @D.register_kl(N1, D.Normal)
        def _a(p, q):
            return lib.tensor(1.0)

        @D.register_kl(D.Normal, N2)
        def _b(p, q):
            return lib.tensor(2.0)

        assert D.kl_divergence(N1(0.0, 1.0), D.Normal(0.0, 1.0)).item() == 1.0
        with pytest.warns(RuntimeWarning, match="Ambiguous kl_divergence"):
            D.kl_divergence(N1(0.0, 1.0), N2(0.0, 1.0))
        # the memo is reset by a new registration
        D.register_kl(N1, N2)(_b)
        assert D.kl_divergence(N1(0.0, 1.0), N2(0.0, 1.0)).item() == 2.0
