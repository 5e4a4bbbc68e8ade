"""Conv/Linear + BatchNorm fusion and ``skip_init`` against torch."""

import numpy as np
import pytest
import torch

import ember

X4 = np.random.default_rng(0).standard_normal((2, 3, 6, 6)).astype(np.float32)


def _bn_stats(lib, bn, n):
    with lib.no_grad():
        bn.running_mean.copy_(lib.linspace(-1, 1, n))
        bn.running_var.copy_(lib.linspace(0.5, 2, n))
        if bn.weight is not None:
            bn.weight.copy_(lib.linspace(0.8, 1.2, n))
            bn.bias.copy_(lib.linspace(-0.3, 0.3, n))


@pytest.mark.parametrize("conv_cls,transpose,bias,affine", [
    ("Conv2d", False, True, True), ("Conv2d", False, False, True),
    ("Conv2d", False, True, False), ("ConvTranspose2d", True, True, True)])
def test_fuse_conv_bn_eval(conv_cls, transpose, bias, affine):
    res = []
    for lib in (torch, ember):
        lib.manual_seed(0)
        conv = getattr(lib.nn, conv_cls)(3, 4, 3, bias=bias).eval()
        bn = lib.nn.BatchNorm2d(4, affine=affine).eval()
        _bn_stats(lib, bn, 4)
        fused = lib.nn.utils.fuse_conv_bn_eval(conv, bn, transpose=transpose)
        x = lib.tensor(X4)
        res.append((fused, fused(x), bn(conv(x))))
    (tf, ty, tref), (ef, ey, eref) = res
    assert type(ef.weight).__name__ == "Parameter" and ef.bias.requires_grad == tf.bias.requires_grad
    np.testing.assert_allclose(ef.weight.detach().numpy(), tf.weight.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(ef.bias.detach().numpy(), tf.bias.detach().numpy(), rtol=1e-6,
                               atol=1e-7)
    np.testing.assert_allclose(ey.detach().numpy(), ty.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ey.detach().numpy(), eref.detach().numpy(), rtol=1e-4,
                               atol=1e-5)


@pytest.mark.parametrize("features,bias", [(4, True), (1, False)])
def test_fuse_linear_bn_eval(features, bias):
    res = []
    for lib in (torch, ember):
        lib.manual_seed(0)
        lin = lib.nn.Linear(5, 4, bias=bias).eval()
        bn = lib.nn.BatchNorm1d(features).eval()
        _bn_stats(lib, bn, features)
        fused = lib.nn.utils.fuse_linear_bn_eval(lin, bn)
        res.append((fused.weight, fused.bias, fused(lib.ones(2, 5))))
    for e, t in zip(res[1], res[0]):
        np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("call", [
    lambda lib: lib.nn.utils.fuse_conv_bn_eval(lib.nn.Conv2d(3, 4, 3), lib.nn.BatchNorm2d(4)),
    lambda lib: lib.nn.utils.fuse_linear_bn_eval(lib.nn.Linear(3, 4).eval(),
                                                 lib.nn.BatchNorm1d(3).eval()),
    lambda lib: lib.nn.utils.fuse_linear_bn_eval(
        lib.nn.Linear(3, 4).eval(), lib.nn.BatchNorm1d(4, track_running_stats=False).eval()),
    lambda lib: lib.nn.utils.skip_init(lib.nn.ReLU),
])
def test_errors_match_torch(call):
    with pytest.raises(Exception) as te:
        call(torch)
    with pytest.raises(type(te.value)) as ee:
        call(ember)
    assert str(ee.value) == str(te.value)


def test_skip_init_leaves_the_stream_alone():
    for lib in (torch, ember):
        lib.manual_seed(0)
        m = lib.nn.utils.skip_init(lib.nn.Linear, 5, 3, bias=True)
        assert type(m).__name__ == "Linear" and m.weight.shape == (3, 5)
        assert isinstance(m.weight, lib.nn.Parameter) and m.weight.requires_grad
    ember.manual_seed(0)
    torch.manual_seed(0)
    ember.nn.utils.skip_init(ember.nn.Linear, 5, 3)
    torch.nn.utils.skip_init(torch.nn.Linear, 5, 3)
    np.testing.assert_array_equal(ember.rand(4).numpy(), torch.rand(4).numpy())
    m = ember.nn.Linear(2, 2)
    w = m.weight
    assert m.to_empty(device="cpu") is m and m.weight is w
