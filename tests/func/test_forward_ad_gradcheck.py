"""gradcheck(..., check_forward_ad=True) against torch's: forward-mode Jacobians compared with
finite differences, the same verdicts and error."""

import numpy as np
import pytest
import torch

import ember


def _classes(m, factor):
    class Scale(m.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

        @staticmethod
        def jvp(ctx, t):
            return t * factor
    return Scale


@pytest.mark.parametrize("factor", [2.0, 3.0])
@pytest.mark.parametrize("backward", [True, False])
def test_forward_ad_verdicts_match_torch(factor, backward):
    a = np.random.default_rng(0).standard_normal(3)
    res = []
    for m in (ember, torch):
        x = m.tensor(a, requires_grad=True)
        ok = m.autograd.gradcheck(_classes(m, factor).apply, (x,), check_forward_ad=True,
                                  check_backward_ad=backward, raise_exception=False)
        try:
            m.autograd.gradcheck(_classes(m, factor).apply, (x,), check_forward_ad=True,
                                 check_backward_ad=backward)
            err = None
        except Exception as exc:  # noqa: BLE001 - comparing with torch's
            err = (type(exc).__name__, str(exc).split(",")[0])
        res.append((ok, err))
    assert res[0] == res[1]


def test_forward_ad_of_composed_ops():
    a = np.random.default_rng(1).standard_normal((2, 3))
    w = np.random.default_rng(2).standard_normal((4, 3))
    for m in (ember, torch):
        x = m.tensor(a, requires_grad=True)
        wt = m.tensor(w, requires_grad=True)
        assert m.autograd.gradcheck(
            lambda x, w: ((m.nn.functional.linear(x, w) * 0.5).exp().sum(0), x * x),
            (x, wt), check_forward_ad=True)


def test_forward_ad_missing_rule_raises_like_torch():
    class NoJvp(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2
    x = ember.tensor([1.0, 2.0], dtype=ember.float64, requires_grad=True)
    with pytest.raises(NotImplementedError, match="jvp function"):
        ember.autograd.gradcheck(NoJvp.apply, (x,), check_forward_ad=True)
