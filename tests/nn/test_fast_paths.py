"""The speed paths of softmax/log_softmax (argmax row max, BLAS row sums, array-mode
backward) and of linear, on shapes large enough to take them, against torch: values,
gradients unrecorded and recorded (double backward), NaN/inf rows, layouts and dtypes."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember
import ember.nn.functional as EF

from .helpers import close, inputs

R = np.random.default_rng(7)


def _rows_with_specials(shape, dtype):
    a = R.standard_normal(shape).astype(dtype) * 3
    flat = a.reshape(-1, shape[-1])
    last = shape[-1] - 1
    flat[0, 1] = np.nan  # a NaN row stays NaN
    flat[1, :] = -np.inf  # an all -inf row is NaN, like torch
    flat[2, last] = np.inf  # +inf makes the row NaN
    flat[3, :2] = -np.inf  # some -inf entries are just zero probability
    flat[4, last] = 1e4  # a large logit dominates
    return a


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape,dim", [((40, 10), -1), ((6, 5, 64), -1), ((6, 5, 64), 2),
                                       ((64, 9), 0), ((4, 70, 3), 1), ((300,), 0)])
def test_softmax_large_matches_torch(name, dtype, shape, dim):
    tol = 1e-10 if dtype == np.float64 else 2e-5
    a = _rows_with_specials(shape, dtype) if len(shape) > 1 else R.standard_normal(shape)
    (xt, xe), = inputs(a.astype(dtype))
    yt, ye = getattr(TF, name)(xt, dim), getattr(EF, name)(xe, dim)
    close(ye, yt, tol)
    w = R.standard_normal(shape)
    wt, we = torch.tensor(w, dtype=yt.dtype), ember.tensor(w).to(ye.dtype)
    yt.backward(wt, retain_graph=True)
    ye.backward(we, retain_graph=True)
    close(xe.grad, xt.grad, tol)
    gt, = torch.autograd.grad(yt, xt, wt, create_graph=True)
    ge, = ember.autograd.grad(ye, xe, we, create_graph=True)
    close(ge, gt, tol)
    finite = np.isfinite(a).all()
    if finite:
        v = R.standard_normal(shape)
        close(ember.autograd.grad((ge * ember.tensor(v)).sum(), xe)[0],
              torch.autograd.grad((gt * torch.tensor(v)).sum(), xt)[0], 1e-8 if tol < 1e-9
              else 1e-4)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_non_contiguous_and_float16(name):
    a = R.standard_normal((64, 12))
    (xt, xe), = inputs(a)
    close(getattr(EF, name)(xe.t(), -1), getattr(TF, name)(xt.t(), -1))  # strided rows
    close(getattr(EF, name)(xe[:, ::2], -1), getattr(TF, name)(xt[:, ::2], -1))
    h = a.astype(np.float16)
    close(getattr(EF, name)(ember.tensor(h), -1).float(),
          getattr(TF, name)(torch.tensor(h), -1).float(), 2e-3)


def test_softmax_preserves_grad_fn_and_output_dtype():
    (xt, xe), = inputs(R.standard_normal((32, 16)).astype(np.float32))
    for name, node in (("softmax", "SoftmaxBackward0"), ("log_softmax", "LogSoftmaxBackward0")):
        ye = getattr(EF, name)(xe, -1)
        assert ye.grad_fn.name() == getattr(TF, name)(xt, -1).grad_fn.name() == node
        assert ye.dtype == ember.float32


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("xshape", [(64, 30), (3, 20, 30), (30,), (0, 30)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch(dtype, xshape, bias):
    tol = 1e-10 if dtype == np.float64 else 1e-4
    x, w, b = (R.standard_normal(s).astype(dtype) for s in (xshape, (17, 30), (17,)))
    (xt, xe), (wt, we), (bt, be) = inputs(x, w, b)
    yt = TF.linear(xt, wt, bt if bias else None)
    ye = EF.linear(xe, we, be if bias else None)
    close(ye, yt, tol)
    assert ye.grad_fn.name() == yt.grad_fn.name()
    g = R.standard_normal(tuple(yt.shape))
    gt_, ge_ = torch.tensor(g, dtype=yt.dtype), ember.tensor(g).to(ye.dtype)
    yt.backward(gt_, retain_graph=True)
    ye.backward(ge_, retain_graph=True)
    for pe, pt in ((xe, xt), (we, wt)) + (((be, bt),) if bias else ()):
        close(pe.grad, pt.grad, tol)
    # recorded backward: gradients are differentiable again
    gts = torch.autograd.grad(yt, (xt, wt), gt_, create_graph=True)
    ges = ember.autograd.grad(ye, (xe, we), ge_, create_graph=True)
    for a_, b_ in zip(ges, gts):
        close(a_, b_, tol)
    if xshape[0]:
        close(ember.autograd.grad((ges[0] * ges[0]).sum(), we)[0],
              torch.autograd.grad((gts[0] * gts[0]).sum(), wt)[0], tol * 10)


def test_linear_non_contiguous_inputs_and_frozen_parts():
    x = R.standard_normal((30, 40))
    w = R.standard_normal((30, 20))
    (xt, xe), (wt, we) = inputs(x, w)
    bt, be = torch.zeros(20), ember.zeros(20)  # a bias that needs no gradient
    yt, ye = TF.linear(xt.t(), wt.t(), bt.double()), EF.linear(xe.t(), we.t(), be.double())
    close(ye, yt)
    yt.sum().backward()
    ye.sum().backward()
    close(xe.grad, xt.grad)
    close(we.grad, wt.grad)
    assert be.grad is None
