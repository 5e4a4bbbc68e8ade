"""Shared helpers: build an ember layer with a torch layer's weights, and compare outputs
and every gradient."""

import numpy as np
import torch

import ember


def twin(e_layer, t_layer, dtype="float64"):
    """Load ``t_layer``'s state dict into ``e_layer`` (both cast to ``dtype``)."""
    t_layer = t_layer.double() if dtype == "float64" else t_layer.float()
    e_layer = e_layer.double() if dtype == "float64" else e_layer.float()
    assert list(e_layer.state_dict()) == list(t_layer.state_dict())
    e_layer.load_state_dict({k: ember.from_numpy(v.detach().numpy().copy())
                             for k, v in t_layer.state_dict().items()})
    assert repr(e_layer) == repr(t_layer)
    return e_layer, t_layer


def flat(y):
    if isinstance(y, (tuple, list)):
        return [z for x in y for z in flat(x)]
    return [] if y is None else [y]


def compare(e_layer, t_layer, inputs, dtype="float64", atol=None, call=None):
    """Run both layers on the same inputs; compare outputs, input and parameter grads."""
    tol = atol or (1e-9 if dtype == "float64" else 3e-5)
    arrays = [np.asarray(a, dtype=dtype) if not isinstance(a, np.ndarray) or a.dtype.kind == "f"
              else a for a in inputs]
    xe = [ember.from_numpy(a.copy()) for a in arrays]
    xt = [torch.from_numpy(a.copy()) for a in arrays]
    for a, b in zip(xe, xt):
        if a.dtype.is_floating_point:
            a.requires_grad_()
            b.requires_grad_()
    call = call or (lambda m, *xs: m(*xs))
    ye, yt = flat(call(e_layer, *xe)), flat(call(t_layer, *xt))
    assert len(ye) == len(yt)
    rng = np.random.default_rng(3)
    le = lt = 0
    for a, b in zip(ye, yt):
        assert tuple(a.shape) == tuple(b.shape)
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), atol=tol, rtol=tol)
        w = rng.standard_normal(tuple(b.shape)).astype(dtype)
        le = le + (a * ember.from_numpy(w)).sum()
        lt = lt + (b * torch.from_numpy(w)).sum()
    le.backward()
    lt.backward()
    for a, b in zip(xe, xt):
        if b.grad is not None:
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), atol=tol * 10, rtol=tol)
    for (n, p), (_, q) in zip(e_layer.named_parameters(), t_layer.named_parameters()):
        if q.grad is None:
            assert p.grad is None or not p.grad.numpy().any(), n
        else:
            np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), atol=tol * 10,
                                       rtol=tol * 10, err_msg=n)
