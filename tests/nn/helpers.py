"""Shared helpers for the nn tests: building the same layer in torch and ember (same
weights through ``load_state_dict``) and comparing outputs and gradients."""

import numpy as np
import torch

import ember


def e_sd(sd) -> dict:
    """A torch state dict as ember tensors (same keys, same order)."""
    return {k: ember.tensor(v.detach().numpy().copy()) for k, v in sd.items()}


def twin(make, dtype=torch.float64):
    """``make(nn)`` in torch and in ember, with ember loading torch's state dict."""
    t = make(torch.nn)
    e = make(ember.nn)
    if dtype == torch.float64:
        t, e = t.double(), e.double()
    tsd = t.state_dict()
    assert list(e.state_dict()) == list(tsd)
    for k, v in e.state_dict().items():
        assert tuple(v.shape) == tuple(tsd[k].shape), k
    e.load_state_dict(e_sd(tsd))
    return t, e


def inputs(*arrays, grad=True):
    """Pairs (torch, ember) of leaf tensors with the same values."""
    out = []
    for a in arrays:
        a = np.asarray(a)
        g = grad and a.dtype.kind == "f"
        out.append((torch.tensor(a, requires_grad=g), ember.tensor(a, requires_grad=g)))
    return out


def close(e, t, tol=1e-10):
    """Assert an ember tensor equals a torch tensor (shape, values, NaNs in the same place)."""
    if t is None or e is None:
        assert t is None and e is None, (e, t)
        return
    ea = e.detach().numpy() if isinstance(e, ember.Tensor) else np.asarray(e)
    ta = t.detach().numpy()
    assert ea.shape == ta.shape, (ea.shape, ta.shape)
    np.testing.assert_allclose(ea, ta, rtol=tol, atol=tol, equal_nan=True)


def backward_both(yt, ye, seed=0):
    """Backpropagate the same random cotangent through both outputs."""
    w = np.random.default_rng(seed).standard_normal(tuple(yt.shape))
    yt.backward(torch.tensor(w, dtype=yt.dtype))
    ye.backward(ember.tensor(w).to(ye.dtype))


def check_module(make, *arrays, dtype=torch.float64, tol=1e-10, call=None):
    """Same output, input gradients and parameter gradients as torch's module."""
    t, e = twin(make, dtype)
    pairs = inputs(*arrays)
    call = call or (lambda m, *xs: m(*xs))
    yt = call(t, *[p[0] for p in pairs])
    ye = call(e, *[p[1] for p in pairs])
    close(ye, yt, tol)
    assert ye.dtype.is_floating_point == yt.dtype.is_floating_point
    if yt.requires_grad:
        backward_both(yt, ye)
        for pt, pe in pairs:
            close(pe.grad, pt.grad, tol)
        for (n, pe), (n2, pt) in zip(e.named_parameters(), t.named_parameters()):
            assert n == n2
            close(pe.grad, pt.grad, tol)
    for (n, be), (n2, bt) in zip(e.named_buffers(), t.named_buffers()):
        assert n == n2
        close(be, bt, tol)
    return t, e, yt, ye
