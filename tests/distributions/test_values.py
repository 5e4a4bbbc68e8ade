"""Each distribution's values (log_prob, cdf, icdf, entropy, moments), their gradients and
its shapes, against torch."""

import numpy as np
import pytest
import torch

import ember

from ._cases import CASES

IDS = [c.name for c in CASES]


def _build(lib, case, dtype="float64"):
    params = {k: lib.tensor(v, dtype=getattr(lib, dtype), requires_grad=True)
              for k, v in case.params.items()}
    return case.build(lib, params), params


def _np(x):
    return x.detach().numpy() if isinstance(x, torch.Tensor) else x.detach().numpy()


def _close(e, t, rtol=1e-7, atol=1e-9):
    assert tuple(e.shape) == tuple(t.shape)
    assert str(e.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
    np.testing.assert_allclose(_np(e), _np(t), rtol=rtol, atol=atol, equal_nan=True)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_values_and_grads(case):
    de, pe = _build(ember, case, case.dtype)
    dt, pt = _build(torch, case, case.dtype)
    tol = {"rtol": 1e-7, "atol": 1e-9} if case.dtype == "float64" else {"rtol": 2e-6,
                                                                         "atol": 1e-6}
    assert tuple(de.batch_shape) == tuple(dt.batch_shape)
    assert tuple(de.event_shape) == tuple(dt.event_shape)
    assert repr(de).replace("ember.", "torch.") == repr(dt)
    v = case.value()
    ve = ember.tensor(v, dtype=getattr(ember, case.dtype))
    vt = torch.tensor(v, dtype=getattr(torch, case.dtype))
    outs = [("log_prob", de.log_prob(ve), dt.log_prob(vt))]
    for name in (("mean", "variance", "stddev") if case.moments else ()) \
            + (("mode",) if case.mode else ()):
        outs.append((name, getattr(de, name), getattr(dt, name)))
    if case.entropy:
        outs.append(("entropy", de.entropy(), dt.entropy()))
    if case.cdf:
        outs.append(("cdf", de.cdf(ve), dt.cdf(vt)))
    if case.icdf:
        q = np.full(tuple(dt.batch_shape), 0.3)
        outs.append(("icdf", de.icdf(ember.tensor(q, dtype=getattr(ember, case.dtype))),
                     dt.icdf(torch.tensor(q, dtype=getattr(torch, case.dtype)))))
    for name, e, t in outs:
        try:
            _close(e, t, **tol)
        except AssertionError as err:
            raise AssertionError(f"{case.name}.{name}: {err}") from None
    # gradients of every differentiable output with respect to the parameters
    outs = [o for o in outs if o[2].requires_grad and bool(torch.isfinite(o[2]).all())
            and (case.cdf_grad or o[0] != "cdf")]
    le = sum(e.sum() for _, e, t in outs)
    lt = sum(t.sum() for _, e, t in outs)
    names = [n for n in case.grad if pt[n].requires_grad]
    ge = ember.autograd.grad(le, [pe[n] for n in names], allow_unused=True)
    gt = torch.autograd.grad(lt, [pt[n] for n in names], allow_unused=True)
    for n, a, b in zip(names, ge, gt):
        if b is None:
            assert a is None or not a.abs().sum().item(), n
            continue
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=max(1e-6, tol["rtol"]),
                                   atol=max(1e-8, tol["atol"]), err_msg=f"{case.name} grad {n}")


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_float32_log_prob(case):
    de, _ = _build(ember, case, "float32")
    dt, _ = _build(torch, case, "float32")
    v = case.value()
    e = de.log_prob(ember.tensor(v, dtype=ember.float32))
    t = dt.log_prob(torch.tensor(v, dtype=torch.float32))
    _close(e, t, rtol=2e-5, atol=1e-5)


@pytest.mark.filterwarnings("ignore:Singular sample detected")   # Wishart, as in torch
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_shapes_and_expand(case):
    de, _ = _build(ember, case, case.dtype)
    dt, _ = _build(torch, case, case.dtype)
    new_batch = (2,) + tuple(dt.batch_shape)
    ee, et = de.expand(new_batch), dt.expand(new_batch)
    assert type(ee) is type(de)
    assert tuple(ee.batch_shape) == tuple(et.batch_shape)
    assert tuple(ee.event_shape) == tuple(et.event_shape)
    v = case.value()[0]
    _close(ee.log_prob(ember.tensor(v, dtype=getattr(ember, case.dtype))),
           et.log_prob(torch.tensor(v, dtype=getattr(torch, case.dtype))), rtol=2e-6, atol=1e-6)
    with ember.no_grad():
        s = ee.sample((3,))
    assert tuple(s.shape) == (3,) + tuple(et.batch_shape) + tuple(et.event_shape)
    assert de.has_rsample == dt.has_rsample
    assert de.support.event_dim == dt.support.event_dim
    assert repr(de.support).replace("ember.", "torch.") == repr(dt.support)
    assert bool(de.support.check(s).all())
