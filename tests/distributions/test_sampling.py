"""Seeded draws: under the same ``manual_seed`` every distribution's ``sample``/``rsample``
returns PyTorch's numbers, and reparameterised samples carry gradients."""

import numpy as np
import pytest
import torch

import ember

from ._cases import CASES

# The samplers (uniform, normal, exponential, Cauchy, gamma, Dirichlet, Poisson, binomial,
# multinomial, Bernoulli) are bit-for-bit; distributions that transform those draws further
# with exp/log/sigmoid/matmul inherit the last-ulp differences of those elementwise ops
# (NumPy's versus PyTorch's vectorised libm), so they get a few ulps.
ULP_OPS = {"LogNormal", "Laplace", "Gumbel", "MultivariateNormalCov", "MultivariateNormalPrec",
           "MultivariateNormalTril", "LowRankMultivariateNormal", "TransformedSigmoidAffine",
           "TransformedStickBreaking", "RelaxedBernoulli", "RelaxedOneHotCategorical",
           "Pareto", "Weibull", "InverseGamma", "FisherSnedecor", "LogisticNormal",
           "Kumaraswamy", "ContinuousBernoulli", "ContinuousBernoulliLogits", "VonMises",
           "GeneralizedPareto", "LKJCholesky", "Wishart"}
TOL = {"float64": 1e-14, "float32": 1e-6}


def _build(lib, case, dtype):
    params = {k: lib.tensor(v, dtype=getattr(lib, dtype), requires_grad=True)
              for k, v in case.params.items()}
    return case.build(lib, params)


# torch's Wishart warns on every draw (it flags samples inside the support as singular and
# redraws them); ember does the same so the streams stay equal.
@pytest.mark.filterwarnings("ignore:Singular sample detected")
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_seeded_samples_equal_torch(case, dtype):
    de, dt = _build(ember, case, dtype), _build(torch, case, dtype)
    tol = TOL[dtype] if case.name in ULP_OPS else 0
    if case.name == "LKJCholesky" and dtype == "float32":
        tol = 2e-5     # the diagonal is sqrt(1 - sum w^2): cancellation amplifies ulps
    for seed, shape in ((0, ()), (3, (5,)), (11, (2, 17))):
        ember.manual_seed(seed)
        torch.manual_seed(seed)
        a, b = de.sample(shape), dt.sample(shape)
        assert tuple(a.shape) == tuple(b.shape)
        assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1]
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=tol, atol=tol,
                                   err_msg=f"{case.name} sample{shape}")
        if dt.has_rsample:
            a, b = de.rsample(shape), dt.rsample(shape)
            np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=tol,
                                       atol=tol, err_msg=f"{case.name} rsample{shape}")
        # the streams stay in step afterwards
        np.testing.assert_array_equal(ember.rand(3).numpy(), torch.rand(3).numpy())


RSAMPLE = [c for c in CASES if c.name not in ("Dirichlet", "Beta", "Gamma", "Chi2",
                                               "StudentT", "InverseGamma", "FisherSnedecor",
                                               "Wishart")]


@pytest.mark.parametrize("case", [c for c in RSAMPLE if _build(torch, c, "float64").has_rsample],
                         ids=lambda c: c.name)
def test_rsample_gradients_equal_torch(case):
    pe = {k: ember.tensor(v, requires_grad=True, dtype=ember.float64)
          for k, v in case.params.items()}
    pt = {k: torch.tensor(v, requires_grad=True, dtype=torch.float64)
          for k, v in case.params.items()}
    ember.manual_seed(5)
    torch.manual_seed(5)
    se, st = case.build(ember, pe).rsample((4,)), case.build(torch, pt).rsample((4,))
    w = np.random.default_rng(0).normal(size=tuple(st.shape))
    names = list(case.grad)
    ge = ember.autograd.grad((se * ember.tensor(w)).sum(), [pe[n] for n in names],
                             allow_unused=True)
    gt = torch.autograd.grad((st * torch.tensor(w)).sum(), [pt[n] for n in names],
                             allow_unused=True)
    for n, a, b in zip(names, ge, gt):
        if b is None:
            assert a is None, n
            continue
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-9, atol=1e-12, err_msg=n)


GAMMA_FAMILY = [
    ("Gamma", ([0.3, 0.9, 1.5, 4.0, 20.0], [1.0, 2.0, 0.5, 1.0, 3.0])),
    ("Chi2", ([0.5, 3.0, 30.0],)),
    ("StudentT", ([0.8, 3.0, 30.0],)),
    ("Beta", ([0.4, 2.0, 9.0], [1.5, 0.7, 12.0])),
    ("Dirichlet", ([[0.4, 2.0, 9.0], [1.5, 0.7, 12.0]],)),
]


@pytest.mark.parametrize("name,args", GAMMA_FAMILY, ids=[g[0] for g in GAMMA_FAMILY])
def test_gamma_family_rsample_gradients(name, args):
    """Same draws as torch; the implicit reparameterised gradients agree to torch's own
    approximation error (torch evaluates them with fitted series, ember from the CDF)."""
    pe = [ember.tensor(a, dtype=ember.float64, requires_grad=True) for a in args]
    pt = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in args]
    ember.manual_seed(1)
    torch.manual_seed(1)
    se = getattr(ember.distributions, name)(*pe).rsample((50,))
    st = getattr(torch.distributions, name)(*pt).rsample((50,))
    np.testing.assert_array_equal(se.detach().numpy(), st.detach().numpy())
    w = np.random.default_rng(0).normal(size=tuple(st.shape))
    ge = ember.autograd.grad((se * ember.tensor(w)).sum(), pe)
    gt = torch.autograd.grad((st * torch.tensor(w)).sum(), pt)
    for a, b in zip(ge, gt):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=5e-3, atol=1e-6)


def test_gamma_rsample_gradient_is_unbiased():
    # d E[x] / d concentration = 1 / rate: the mean of the per-sample gradients matches.
    conc = ember.tensor([0.5, 2.0, 7.0], dtype=ember.float64, requires_grad=True)
    ember.manual_seed(2)
    x = ember.distributions.Gamma(conc, 2.0).rsample((2000,))
    (g,) = ember.autograd.grad(x.mean(0).sum(), [conc])
    np.testing.assert_allclose(g.numpy(), [0.5, 0.5, 0.5], rtol=0.05)
