"""Distribution cases shared by the tests: each builds the same distribution under ember
and torch (``t`` is the library) from NumPy parameters, with values in its support."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

R = np.random.default_rng(7)


def _pos(*shape):
    return R.uniform(0.5, 2.0, size=shape)


def _real(*shape):
    return R.normal(size=shape)


def _prob(*shape):
    return R.uniform(0.1, 0.9, size=shape)


def _simplex(*shape):
    p = R.uniform(0.2, 1.0, size=shape)
    return p / p.sum(-1, keepdims=True)


def _spd(n, batch=()):
    a = R.normal(size=batch + (n, n))
    return a @ np.swapaxes(a, -1, -2) + n * np.eye(n)


@dataclass
class Case:
    name: str
    build: Callable          # (t, params: dict of tensors) -> distribution
    params: dict             # name -> ndarray (float64); grads are checked for these
    value: Callable          # () -> ndarray of valid values
    cdf: bool = False
    icdf: bool = False
    mode: bool = True
    entropy: bool = True
    moments: bool = True
    cdf_grad: bool = True    # torch has no igamma derivative in the concentration
    grad: tuple = field(default_factory=tuple)   # params whose grads are compared
    dtype: str = "float64"   # torch's GeneralizedPareto.log_prob fails on float64


def _count(n, shape):
    return lambda: R.integers(0, n + 1, size=shape).astype(np.float64)


CASES = [
    Case("Normal", lambda t, p: t.distributions.Normal(p["loc"], p["scale"]),
         {"loc": _real(3), "scale": _pos(3)}, lambda: _real(2, 3), cdf=True, icdf=True,
         grad=("loc", "scale")),
    Case("LogNormal", lambda t, p: t.distributions.LogNormal(p["loc"], p["scale"]),
         {"loc": _real(3), "scale": _pos(3)}, lambda: _pos(2, 3), cdf=True, icdf=True,
         grad=("loc", "scale")),
    Case("Uniform", lambda t, p: t.distributions.Uniform(p["low"], p["low"] + p["w"]),
         {"low": -0.5 * _pos(3), "w": _pos(3) + 1}, lambda: np.zeros((2, 3)), cdf=True, icdf=True,
         mode=False, grad=("low", "w")),
    Case("Bernoulli", lambda t, p: t.distributions.Bernoulli(probs=p["probs"]),
         {"probs": _prob(4)}, lambda: R.integers(0, 2, (3, 4)).astype(np.float64),
         grad=("probs",)),
    Case("BernoulliLogits", lambda t, p: t.distributions.Bernoulli(logits=p["logits"]),
         {"logits": _real(4)}, lambda: R.integers(0, 2, (3, 4)).astype(np.float64),
         grad=("logits",)),
    Case("Categorical", lambda t, p: t.distributions.Categorical(probs=p["probs"]),
         {"probs": _simplex(2, 4)}, lambda: R.integers(0, 4, (3, 2)).astype(np.float64),
         grad=("probs",)),
    Case("CategoricalLogits", lambda t, p: t.distributions.Categorical(logits=p["logits"]),
         {"logits": _real(2, 4)}, lambda: R.integers(0, 4, (3, 2)).astype(np.float64),
         grad=("logits",)),
    Case("OneHotCategorical", lambda t, p: t.distributions.OneHotCategorical(p["probs"]),
         {"probs": _simplex(2, 4)}, lambda: np.eye(4)[R.integers(0, 4, (3, 2))],
         grad=("probs",)),
    Case("Multinomial", lambda t, p: t.distributions.Multinomial(5, p["probs"]),
         {"probs": _simplex(2, 3)},
         lambda: np.array([[[1., 2., 2.], [5., 0., 0.]], [[0., 0., 5.], [3., 1., 1.]]]),
         mode=False, grad=("probs",)),
    Case("Binomial", lambda t, p: t.distributions.Binomial(p["n"], p["probs"]),
         {"n": np.array([3., 10., 7.]), "probs": _prob(3)},
         lambda: np.array([[0., 4., 7.], [3., 10., 2.]]), entropy=False, grad=("probs",)),
    Case("BinomialLogits", lambda t, p: t.distributions.Binomial(6, logits=p["logits"]),
         {"logits": _real(3)}, _count(6, (2, 3)), grad=("logits",)),
    Case("Poisson", lambda t, p: t.distributions.Poisson(p["rate"]),
         {"rate": _pos(3) * 3}, lambda: R.integers(0, 8, (2, 3)).astype(np.float64),
         entropy=False, grad=("rate",)),
    Case("Beta", lambda t, p: t.distributions.Beta(p["a"], p["b"]),
         {"a": _pos(3) + 1, "b": _pos(3) + 1}, lambda: _prob(2, 3), grad=("a", "b")),
    Case("Gamma", lambda t, p: t.distributions.Gamma(p["concentration"], p["rate"]),
         {"concentration": _pos(3) + 1, "rate": _pos(3)}, lambda: _pos(2, 3), cdf=True,
         cdf_grad=False, grad=("concentration", "rate")),
    Case("Chi2", lambda t, p: t.distributions.Chi2(p["df"]),
         {"df": _pos(3) * 3}, lambda: _pos(2, 3), grad=("df",)),
    Case("Dirichlet", lambda t, p: t.distributions.Dirichlet(p["concentration"]),
         {"concentration": _pos(2, 4) + 1}, lambda: _simplex(3, 2, 4),
         grad=("concentration",)),
    Case("Exponential", lambda t, p: t.distributions.Exponential(p["rate"]),
         {"rate": _pos(3)}, lambda: _pos(2, 3), cdf=True, icdf=True, grad=("rate",)),
    Case("Laplace", lambda t, p: t.distributions.Laplace(p["loc"], p["scale"]),
         {"loc": _real(3), "scale": _pos(3)}, lambda: _real(2, 3), cdf=True, icdf=True,
         grad=("loc", "scale")),
    Case("Cauchy", lambda t, p: t.distributions.Cauchy(p["loc"], p["scale"]),
         {"loc": _real(3), "scale": _pos(3)}, lambda: _real(2, 3), cdf=True, icdf=True,
         grad=("loc", "scale")),
    Case("StudentT", lambda t, p: t.distributions.StudentT(p["df"], p["loc"], p["scale"]),
         {"df": np.array([0.8, 1.5, 5.0]), "loc": _real(3), "scale": _pos(3)},
         lambda: _real(2, 3), grad=("df", "loc", "scale")),
    Case("Gumbel", lambda t, p: t.distributions.Gumbel(p["loc"], p["scale"]),
         {"loc": _real(3), "scale": _pos(3)}, lambda: _real(2, 3), cdf=True, icdf=True,
         grad=("loc", "scale")),
    Case("HalfNormal", lambda t, p: t.distributions.HalfNormal(p["scale"]),
         {"scale": _pos(3)}, lambda: _pos(2, 3), cdf=True, icdf=True, grad=("scale",)),
    Case("Geometric", lambda t, p: t.distributions.Geometric(p["probs"]),
         {"probs": _prob(3)}, lambda: R.integers(0, 6, (2, 3)).astype(np.float64),
         grad=("probs",)),
    Case("MultivariateNormalCov",
         lambda t, p: t.distributions.MultivariateNormal(p["loc"], p["cov"]),
         {"loc": _real(2, 3), "cov": _spd(3)}, lambda: _real(4, 2, 3), grad=("loc", "cov")),
    Case("MultivariateNormalPrec",
         lambda t, p: t.distributions.MultivariateNormal(p["loc"], precision_matrix=p["prec"]),
         {"loc": _real(3), "prec": _spd(3, (2,))}, lambda: _real(4, 2, 3),
         grad=("loc", "prec")),
    Case("MultivariateNormalTril",
         lambda t, p: t.distributions.MultivariateNormal(
             p["loc"], scale_tril=t.linalg.cholesky(p["cov"])),
         {"loc": _real(3), "cov": _spd(3)}, lambda: _real(4, 3), grad=("loc", "cov")),
    Case("LowRankMultivariateNormal",
         lambda t, p: t.distributions.LowRankMultivariateNormal(p["loc"], p["W"], p["D"]),
         {"loc": _real(2, 3), "W": _real(3, 2), "D": _pos(3)}, lambda: _real(4, 2, 3),
         grad=("loc", "W", "D")),
    Case("MixtureSameFamily",
         lambda t, p: t.distributions.MixtureSameFamily(
             t.distributions.Categorical(p["w"]),
             t.distributions.Normal(p["loc"], p["scale"])),
         {"w": _simplex(2, 3), "loc": _real(2, 3), "scale": _pos(2, 3)},
         lambda: _real(4, 2), mode=False, entropy=False, cdf=True, grad=("w", "loc", "scale")),
    Case("IndependentNormal",
         lambda t, p: t.distributions.Independent(
             t.distributions.Normal(p["loc"], p["scale"]), 1),
         {"loc": _real(2, 3), "scale": _pos(2, 3)}, lambda: _real(4, 2, 3),
         grad=("loc", "scale")),
    Case("TransformedSigmoidAffine",
         lambda t, p: t.distributions.TransformedDistribution(
             t.distributions.Normal(p["loc"], p["scale"]),
             [t.distributions.transforms.SigmoidTransform(),
              t.distributions.transforms.AffineTransform(1.0, 3.0)]),
         {"loc": _real(3), "scale": _pos(3)}, lambda: 1 + 3 * _prob(2, 3), mode=False, moments=False,
         entropy=False, cdf=True, icdf=True, grad=("loc", "scale")),
    Case("TransformedStickBreaking",
         lambda t, p: t.distributions.TransformedDistribution(
             t.distributions.Normal(p["loc"], p["scale"]),
             t.distributions.transforms.StickBreakingTransform()),
         {"loc": _real(3), "scale": _pos(3)}, lambda: _simplex(2, 4), mode=False, moments=False,
         entropy=False, grad=("loc", "scale")),
    Case("RelaxedBernoulli",
         lambda t, p: t.distributions.RelaxedBernoulli(p["temp"], probs=p["probs"]),
         {"temp": np.array(0.7), "probs": _prob(3)}, lambda: _prob(2, 3), mode=False, moments=False,
         entropy=False, grad=("temp", "probs")),
    Case("RelaxedOneHotCategorical",
         lambda t, p: t.distributions.RelaxedOneHotCategorical(p["temp"], probs=p["probs"]),
         {"temp": np.array(0.7), "probs": _simplex(2, 4)}, lambda: _simplex(3, 2, 4),
         mode=False, moments=False, entropy=False, grad=("temp", "probs")),
    Case("NegativeBinomial",
         lambda t, p: t.distributions.NegativeBinomial(p["n"], p["probs"]),
         {"n": np.array([2.0, 5.0, 0.5]), "probs": _prob(3)},
         lambda: R.integers(0, 9, (2, 3)).astype(np.float64), entropy=False,
         grad=("n", "probs")),
    Case("Pareto", lambda t, p: t.distributions.Pareto(p["scale"], p["alpha"]),
         {"scale": 0.5 * _pos(3), "alpha": _pos(3) + 2}, lambda: 1 + _pos(2, 3), cdf=True,
         icdf=True, grad=("scale", "alpha")),
    Case("Weibull", lambda t, p: t.distributions.Weibull(p["scale"], p["k"]),
         {"scale": _pos(3), "k": _pos(3) + 1}, lambda: _pos(2, 3), cdf=True, icdf=True,
         grad=("scale", "k")),
    Case("InverseGamma", lambda t, p: t.distributions.InverseGamma(p["a"], p["b"]),
         {"a": _pos(3) + 2.5, "b": _pos(3)}, lambda: _pos(2, 3), cdf=True, cdf_grad=False,
         grad=("a", "b")),
    Case("FisherSnedecor", lambda t, p: t.distributions.FisherSnedecor(p["d1"], p["d2"]),
         {"d1": _pos(3) * 4, "d2": _pos(3) * 3 + 4.5}, lambda: _pos(2, 3), entropy=False,
         grad=("d1", "d2")),
    Case("LogisticNormal", lambda t, p: t.distributions.LogisticNormal(p["loc"], p["scale"]),
         {"loc": _real(3), "scale": _pos(3)}, lambda: _simplex(2, 4), mode=False,
         moments=False, entropy=False, grad=("loc", "scale")),
    Case("Kumaraswamy", lambda t, p: t.distributions.Kumaraswamy(p["a"], p["b"]),
         {"a": _pos(3) + 1, "b": _pos(3) + 1}, lambda: _prob(2, 3), grad=("a", "b")),
    Case("ContinuousBernoulli", lambda t, p: t.distributions.ContinuousBernoulli(p["probs"]),
         {"probs": np.array([0.2, 0.4995, 0.8])}, lambda: _prob(2, 3), cdf=True, icdf=True,
         mode=False, grad=("probs",)),
    Case("ContinuousBernoulliLogits",
         lambda t, p: t.distributions.ContinuousBernoulli(logits=p["logits"]),
         {"logits": _real(3)}, lambda: _prob(2, 3), cdf=True, icdf=True, mode=False,
         grad=("logits",)),
    Case("VonMises", lambda t, p: t.distributions.VonMises(p["loc"], p["k"]),
         {"loc": _real(3), "k": np.array([0.5, 2.0, 8.0])}, lambda: _real(2, 3),
         entropy=False, grad=("loc", "k")),
    Case("GeneralizedPareto",
         lambda t, p: t.distributions.GeneralizedPareto(p["loc"], p["scale"], p["xi"]),
         {"loc": -_pos(3), "scale": _pos(3), "xi": np.array([0.3, 0.0, -0.1])},
         lambda: _prob(2, 3), cdf=True, icdf=True, grad=("loc", "scale", "xi"),
         dtype="float32"),
    Case("LKJCholesky", lambda t, p: t.distributions.LKJCholesky(3, p["c"]),
         {"c": np.array([0.5, 2.0])},
         lambda: np.linalg.cholesky(np.array([[1.0, 0.3, 0.1], [0.3, 1.0, -0.2],
                                               [0.1, -0.2, 1.0]]))[None],
         mode=False, moments=False, entropy=False, grad=("c",)),
    Case("Wishart", lambda t, p: t.distributions.Wishart(p["df"], covariance_matrix=p["cov"]),
         {"df": np.array([3.0, 4.5]), "cov": _spd(2)}, lambda: _spd(2, (3, 2)),
         grad=("df", "cov")),
    Case("HalfCauchy", lambda t, p: t.distributions.HalfCauchy(p["scale"]),
         {"scale": _pos(3)}, lambda: _pos(2, 3), cdf=True, icdf=True, grad=("scale",)),
]
