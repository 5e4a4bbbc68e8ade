"""validate_args and constructor errors: the same bad call raises the same exception type
with the same message under ember and torch."""

import pytest
import torch

import ember


def _outcome(fn, lib):
    try:
        fn(lib)
    except Exception as exc:  # noqa: BLE001 - the exception itself is compared
        return type(exc).__name__, str(exc).replace("ember.", "torch.")
    return None


BAD = {
    "normal_scale": lambda t: t.distributions.Normal(0.0, -1.0),
    "normal_scale_vec": lambda t: t.distributions.Normal(t.zeros(2), t.tensor([1.0, -2.0])),
    "normal_loc_nan": lambda t: t.distributions.Normal(t.tensor([float("nan")]), 1.0),
    "normal_log_prob_shape": lambda t: t.distributions.Normal(t.zeros(3), 1.0).log_prob(
        t.zeros(2)),
    "normal_log_prob_not_tensor": lambda t: t.distributions.Normal(0.0, 1.0).log_prob(0.5),
    "uniform_order": lambda t: t.distributions.Uniform(1.0, 0.0),
    "uniform_support": lambda t: t.distributions.Uniform(0.0, 1.0).log_prob(t.tensor(2.0)),
    "bernoulli_both": lambda t: t.distributions.Bernoulli(probs=0.3, logits=0.1),
    "bernoulli_neither": lambda t: t.distributions.Bernoulli(),
    "bernoulli_probs": lambda t: t.distributions.Bernoulli(t.tensor([0.5, 1.5])),
    "bernoulli_support": lambda t: t.distributions.Bernoulli(0.3).log_prob(t.tensor(0.5)),
    "categorical_0d": lambda t: t.distributions.Categorical(t.tensor(0.5)),
    "categorical_logits_0d": lambda t: t.distributions.Categorical(logits=t.tensor(0.5)),
    "categorical_simplex": lambda t: t.distributions.Categorical(t.tensor([0.5, -0.2])),
    "categorical_support": lambda t: t.distributions.Categorical(t.ones(3) / 3).log_prob(
        t.tensor(3)),
    "onehot_support": lambda t: t.distributions.OneHotCategorical(t.ones(3) / 3).log_prob(
        t.tensor([1.0, 1.0, 0.0])),
    "event_shape": lambda t: t.distributions.Dirichlet(t.ones(3)).log_prob(t.ones(2) / 2),
    "dirichlet_0d": lambda t: t.distributions.Dirichlet(t.tensor(1.0)),
    "dirichlet_neg": lambda t: t.distributions.Dirichlet(t.tensor([1.0, -1.0])),
    "dirichlet_support": lambda t: t.distributions.Dirichlet(t.ones(2)).log_prob(
        t.tensor([0.2, 0.2])),
    "multinomial_total": lambda t: t.distributions.Multinomial(2.5, t.ones(3) / 3),
    "multinomial_support": lambda t: t.distributions.Multinomial(3, t.ones(3) / 3).log_prob(
        t.tensor([1.0, 1.0, 2.0])),
    "binomial_count": lambda t: t.distributions.Binomial(t.tensor([2.5]), t.tensor([0.5])),
    "binomial_support": lambda t: t.distributions.Binomial(4, t.tensor(0.5)).log_prob(
        t.tensor(5.0)),
    "poisson_rate": lambda t: t.distributions.Poisson(t.tensor([-1.0])),
    "poisson_support": lambda t: t.distributions.Poisson(2.0).log_prob(t.tensor(1.5)),
    "gamma_conc": lambda t: t.distributions.Gamma(t.tensor([0.0]), t.tensor([1.0])),
    "gamma_support": lambda t: t.distributions.Gamma(1.0, 1.0).log_prob(t.tensor(-1.0)),
    "beta_support": lambda t: t.distributions.Beta(1.0, 2.0).log_prob(t.tensor(1.5)),
    "exponential_rate": lambda t: t.distributions.Exponential(t.tensor([0.0])),
    "geometric_zero": lambda t: t.distributions.Geometric(t.tensor([0.0, 0.5])),
    "geometric_support": lambda t: t.distributions.Geometric(0.5).log_prob(t.tensor(-1.0)),
    "studentt_df": lambda t: t.distributions.StudentT(t.tensor([-1.0])),
    "halfnormal_support": lambda t: t.distributions.HalfNormal(1.0).log_prob(t.tensor(-1.0)),
    "lognormal_support": lambda t: t.distributions.LogNormal(0.0, 1.0).log_prob(
        t.tensor(-1.0)),
    "mvn_loc_0d": lambda t: t.distributions.MultivariateNormal(t.tensor(0.0), t.eye(2)),
    "mvn_none": lambda t: t.distributions.MultivariateNormal(t.zeros(2)),
    "mvn_two": lambda t: t.distributions.MultivariateNormal(t.zeros(2), t.eye(2),
                                                            scale_tril=t.eye(2)),
    "mvn_cov_1d": lambda t: t.distributions.MultivariateNormal(t.zeros(2), t.ones(2)),
    "mvn_tril_1d": lambda t: t.distributions.MultivariateNormal(t.zeros(2),
                                                                scale_tril=t.ones(2)),
    "mvn_prec_1d": lambda t: t.distributions.MultivariateNormal(t.zeros(2),
                                                                precision_matrix=t.ones(2)),
    "mvn_not_pd": lambda t: t.distributions.MultivariateNormal(
        t.zeros(2), t.tensor([[1.0, 2.0], [2.0, 1.0]])),
    "mvn_not_tril": lambda t: t.distributions.MultivariateNormal(
        t.zeros(2), scale_tril=t.tensor([[1.0, 2.0], [0.5, 1.0]])),
    "lowrank_factor": lambda t: t.distributions.LowRankMultivariateNormal(
        t.zeros(3), t.ones(2, 1), t.ones(3)),
    "lowrank_diag": lambda t: t.distributions.LowRankMultivariateNormal(
        t.zeros(3), t.ones(3, 1), t.ones(2)),
    "lowrank_factor_1d": lambda t: t.distributions.LowRankMultivariateNormal(
        t.zeros(3), t.ones(3), t.ones(3)),
    "independent_ndims": lambda t: t.distributions.Independent(
        t.distributions.Normal(t.zeros(2), 1.0), 2),
    "mixture_type": lambda t: t.distributions.MixtureSameFamily(
        t.distributions.Normal(0.0, 1.0), t.distributions.Normal(t.zeros(2), 1.0)),
    "mixture_components": lambda t: t.distributions.MixtureSameFamily(
        t.distributions.Categorical(t.ones(3)), t.distributions.Normal(t.zeros(2), 1.0)),
    "mixture_component_type": lambda t: t.distributions.MixtureSameFamily(
        t.distributions.Categorical(t.ones(3)), 3),
    "transformed_bad": lambda t: t.distributions.TransformedDistribution(
        t.distributions.Normal(0.0, 1.0), [3]),
    "transformed_not_list": lambda t: t.distributions.TransformedDistribution(
        t.distributions.Normal(0.0, 1.0), 3),
    "kl_missing": lambda t: t.distributions.kl_divergence(
        t.distributions.Normal(0.0, 1.0), t.distributions.Bernoulli(0.5)),
    "kl_binomial_counts": lambda t: t.distributions.kl_divergence(
        t.distributions.Binomial(2, t.tensor(0.5)), t.distributions.Binomial(3, t.tensor(0.5))),
    "kl_mvn_shapes": lambda t: t.distributions.kl_divergence(
        t.distributions.MultivariateNormal(t.zeros(2), t.eye(2)),
        t.distributions.MultivariateNormal(t.zeros(3), t.eye(3))),
    "gpd_float64_log_prob": lambda t: t.distributions.GeneralizedPareto(
        t.zeros(1, dtype=t.float64), t.ones(1, dtype=t.float64),
        t.ones(1, dtype=t.float64)).log_prob(t.ones(1, dtype=t.float64)),
    "lkj_dim": lambda t: t.distributions.LKJCholesky(1, 0.5),
    "cache_size": lambda t: t.distributions.transforms.ExpTransform(cache_size=2),
    "reshape_numel": lambda t: t.distributions.transforms.ReshapeTransform((2, 3), (5,)),
    "biject_unknown": lambda t: t.distributions.biject_to(t.distributions.constraints.boolean),
    "dependent_check": lambda t: t.distributions.constraints.dependent.check(t.zeros(1)),
    "binomial_entropy": lambda t: t.distributions.Binomial(t.tensor([2.0, 3.0]),
                                                           t.tensor(0.5)).entropy(),
    "independent_enumerate": lambda t: t.distributions.Independent(
        t.distributions.Bernoulli(t.ones(2) / 2), 1).enumerate_support(),
    "mode_missing": lambda t: t.distributions.Distribution(validate_args=False).mode,
    "set_default_bad": lambda t: t.distributions.Distribution.set_default_validate_args(3),
}


@pytest.mark.parametrize("name", list(BAD))
def test_error_matches_torch(name):
    expected = _outcome(BAD[name], torch)
    assert expected is not None, "the case must fail under torch"
    got = _outcome(BAD[name], ember)
    if name == "mode_missing":      # the message names the class: ember's vs torch's module
        expected = (expected[0], expected[1].replace("torch.distributions", "ember.distributions"))
        got = (got[0], got[1].replace("torch.distributions", "ember.distributions"))
    assert got == expected


def test_validate_args_false_skips_checks():
    for lib in (ember, torch):
        d = lib.distributions.Normal(0.0, -1.0, validate_args=False)
        assert not d._validate_args
        lp = d.log_prob(lib.tensor(0.5))
        assert lp.isnan().item()


def test_set_default_validate_args():
    for lib in (ember, torch):
        D = lib.distributions.Distribution
        D.set_default_validate_args(False)
        try:
            lib.distributions.Normal(0.0, -1.0)     # accepted
        finally:
            D.set_default_validate_args(True)
        with pytest.raises(ValueError):
            lib.distributions.Normal(0.0, -1.0)
