"""AdaptiveLogSoftmaxWithLoss against torch: seeded initial weights, output, loss, every
gradient, log_prob, predict, unbatched input and errors."""

import numpy as np
import pytest
import torch

import ember

X = np.random.default_rng(0).standard_normal((7, 16)).astype(np.float32)
Y = np.array([0, 3, 9, 12, 19, 5, 15])


def _make(lib, **kw):
    lib.manual_seed(0)
    return lib.nn.AdaptiveLogSoftmaxWithLoss(16, 20, [4, 10, 14], **{"div_value": 2.0, **kw})


@pytest.mark.parametrize("kw", [{}, {"div_value": 1.5, "head_bias": True}])
def test_forward_backward_matches_torch(kw):
    res = {}
    for lib in (torch, ember):
        m = _make(lib, **kw)
        x = lib.tensor(X, requires_grad=True)
        result = m(x, lib.tensor(Y))
        assert type(result).__name__ == "_ASMoutput" and result._fields == ("output", "loss")
        out, loss = result
        loss.backward()
        res[lib.__name__] = (m, out, loss, x.grad)
    (tm, tout, tloss, tg), (em, eout, eloss, eg) = res["torch"], res["ember"]
    assert repr(em) == repr(tm)
    for (k, tp), (ek, ep) in zip(tm.named_parameters(), em.named_parameters()):
        assert k == ek
        np.testing.assert_array_equal(ep.detach().numpy(), tp.detach().numpy())
        np.testing.assert_allclose(ep.grad.numpy(), tp.grad.numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(eout.detach().numpy(), tout.detach().numpy(), rtol=1e-5)
    np.testing.assert_allclose(eloss.item(), tloss.item(), rtol=1e-6)
    np.testing.assert_allclose(eg.numpy(), tg.numpy(), rtol=1e-5, atol=1e-7)


def test_log_prob_predict_and_unbatched():
    tm, em = _make(torch), _make(ember)
    tx, ex = torch.tensor(X), ember.tensor(X)
    with torch.no_grad():
        tl, tp = tm.log_prob(tx), tm.predict(tx)
    el, ep = em.log_prob(ex), em.predict(ex)
    np.testing.assert_allclose(el.detach().numpy(), tl.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(ep.numpy(), tp.numpy())
    np.testing.assert_allclose(el.exp().sum(1).detach().numpy(), 1.0, rtol=1e-5)
    tout, tloss = tm(tx[0], torch.tensor(Y[2]))
    eout, eloss = em(ex[0], ember.tensor(Y[2]))
    assert eout.shape == () and tout.shape == ()
    np.testing.assert_allclose(eout.item(), tout.item(), rtol=1e-5)
    with pytest.raises(IndexError) as te:
        tm.predict(tx[3])
    with pytest.raises(IndexError) as ee:
        em.predict(ex[3])
    assert str(ee.value) == str(te.value)
    tx[:3].requires_grad_(False)
    np.testing.assert_array_equal(em.predict(ex[:3]).numpy(), tm.predict(tx[:3]).numpy())
    # Some rows, then every row, predicted outside the shortlist (the full log-probs path).
    for lib, m, x in ((torch, tm, tx), (ember, em, ex)):
        with lib.no_grad():
            m.head.weight[4] = x[0] * 3
    outside = (em.head(ex).argmax(1) >= 4).sum().item()
    assert 0 < outside < len(X)
    np.testing.assert_array_equal(em.predict(ex).numpy(), tm.predict(tx).numpy())
    with torch.no_grad():
        tm.head.weight[4:] += 50.0
    with ember.no_grad():
        em.head.weight[4:] += 50.0
    np.testing.assert_array_equal(em.predict(ex).numpy(), tm.predict(tx).numpy())


@pytest.mark.parametrize("call", [
    lambda lib: lib.nn.AdaptiveLogSoftmaxWithLoss(8, 10, []),
    lambda lib: lib.nn.AdaptiveLogSoftmaxWithLoss(8, 10, [5, 3]),
    lambda lib: lib.nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3, 10]),
    lambda lib: lib.nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3])(lib.ones(2, 8),
                                                             lib.tensor([1, 10])),
    lambda lib: lib.nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3])(lib.ones(3, 8), lib.tensor([1, 2])),
    lambda lib: lib.nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3])(lib.ones(2, 8),
                                                             lib.tensor([[1, 2]])),
])
def test_errors_match_torch(call):
    with pytest.raises(Exception) as te:
        call(torch)
    with pytest.raises(type(te.value)) as ee:
        call(ember)
    assert str(ee.value) == str(te.value)
