"""3-d adaptive pooling, 3-d unpooling, LPPool3d and fractional max pooling against torch:
values, indices, grad_fn names, gradients, the random draws, modules and errors."""

import numpy as np
import pytest
import torch

import ember

RNG = np.random.default_rng(0)
VOL = RNG.standard_normal((2, 3, 5, 6, 7))
IMG = RNG.standard_normal((2, 3, 11, 13))


def _both(fn, a, seed=None, dtype="float64"):
    """Run ``fn(lib, x)`` under torch and ember; return outputs and input grads."""
    out = []
    for lib in (torch, ember):
        if seed is not None:
            lib.manual_seed(seed)
        x = lib.tensor(a.astype(dtype), requires_grad=True)
        y = fn(lib, x)
        ys = y if isinstance(y, tuple) else (y,)
        g, = lib.autograd.grad((ys[0] * ys[0]).sum(), x)
        out.append((ys, g, lib.rand(2)))
    return out


def _check(t, e, node, rtol=1e-6):
    (tys, tg, tr), (eys, eg, er) = t, e
    assert type(eys[0].grad_fn).__name__ == node == type(tys[0].grad_fn).__name__
    for ty, ey in zip(tys, eys):
        assert tuple(ey.shape) == tuple(ty.shape)
        assert str(ey.dtype).split(".")[1] == str(ty.dtype).split(".")[1]
        np.testing.assert_allclose(ey.detach().numpy(), ty.detach().numpy(), rtol=rtol,
                                   atol=1e-6)
    np.testing.assert_allclose(eg.numpy(), tg.numpy(), rtol=rtol, atol=1e-6)
    np.testing.assert_array_equal(er.numpy(), tr.numpy())


@pytest.mark.parametrize("size", [(2, 3, 4), (5, 6, 7), (3, None, 2), (4, 4, 4), 2])
def test_adaptive_pool3d(size):
    t, e = _both(lambda lib, x: lib.nn.functional.adaptive_avg_pool3d(x, size), VOL)
    _check(t, e, "AdaptiveAvgPool3DBackward0")
    t, e = _both(lambda lib, x: lib.nn.functional.adaptive_max_pool3d(x, size, True), VOL)
    _check(t, e, "AdaptiveMaxPool3DBackward0")


def test_adaptive_pool3d_global_and_unbatched():
    t, e = _both(lambda lib, x: lib.nn.AdaptiveAvgPool3d(1)(x), VOL)
    _check(t, e, "MeanBackward1")
    t, e = _both(lambda lib, x: lib.nn.AdaptiveMaxPool3d((2, 3, 2), True)(x[0]), VOL)
    _check(t, e, "AdaptiveMaxPool3DBackward0")
    assert repr(ember.nn.AdaptiveMaxPool3d((2, 3, 2))) == repr(torch.nn.AdaptiveMaxPool3d((2, 3, 2)))
    assert repr(ember.nn.AdaptiveAvgPool3d((2, None, 3))) == \
        repr(torch.nn.AdaptiveAvgPool3d((2, None, 3)))


@pytest.mark.parametrize("output_size", [None, (5, 7, 7)])
def test_max_unpool3d(output_size):
    def fn(lib, x):
        y, i = lib.nn.functional.max_pool3d(x[:, :, :4, :6, :6], 2, return_indices=True)
        return lib.nn.MaxUnpool3d(2)(y * 1.5, i, output_size)
    t, e = _both(fn, VOL)
    _check(t, e, "MaxUnpool3DBackward0")
    assert repr(ember.nn.MaxUnpool3d(2, 1, 0)) == repr(torch.nn.MaxUnpool3d(2, 1, 0))


def test_max_unpool3d_invalid_index():
    y, i = ember.nn.functional.max_pool3d(ember.tensor(VOL[:, :, :4, :6, :6]), 2,
                                          return_indices=True)
    ty, ti = torch.nn.functional.max_pool3d(torch.tensor(VOL[:, :, :4, :6, :6]), 2,
                                            return_indices=True)
    with pytest.raises(RuntimeError, match=r"Found an invalid max index: \d+ \(output volumes "
                                           r"are of size 3x5x5\)"):
        torch.nn.functional.max_unpool3d(ty, ti, 2, output_size=(3, 5, 5))
    with pytest.raises(RuntimeError, match=r"Found an invalid max index: \d+ \(output volumes "
                                           r"are of size 3x5x5\)"):
        ember.nn.functional.max_unpool3d(y, i, 2, output_size=(3, 5, 5))


@pytest.mark.parametrize("args", [(2, 2), (3, (2, 3, 2), 1, True)])
def test_lp_pool3d(args):
    t, e = _both(lambda lib, x: lib.nn.LPPool3d(*args)(x.abs() + 0.1), VOL)
    _check(t, e, "PowBackward0")
    assert repr(ember.nn.LPPool3d(*args)) == repr(torch.nn.LPPool3d(*args))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kw", [dict(kernel_size=2, output_size=5),
                                dict(kernel_size=3, output_size=(4, 7)),
                                dict(kernel_size=(2, 3), output_ratio=(0.5, 0.5)),
                                dict(kernel_size=2, output_size=10),
                                dict(kernel_size=3, output_size=1)])
def test_fractional_max_pool2d(kw, dtype):
    fn = lambda lib, x: lib.nn.functional.fractional_max_pool2d(x, return_indices=True, **kw)  # noqa: E731
    t, e = _both(fn, IMG, seed=3, dtype=dtype)
    _check(t, e, "FractionalMaxPool2DBackward0", rtol=1e-5)


@pytest.mark.parametrize("kw", [dict(kernel_size=2, output_size=3),
                                dict(kernel_size=(2, 3, 2), output_size=(3, 3, 5)),
                                dict(kernel_size=2, output_ratio=(0.5, 0.6, 0.7))])
def test_fractional_max_pool3d(kw):
    fn = lambda lib, x: lib.nn.FractionalMaxPool3d(return_indices=True, **kw)(x)  # noqa: E731
    t, e = _both(fn, VOL, seed=4, dtype="float32")
    _check(t, e, "FractionalMaxPool3DBackward0", rtol=1e-5)


def test_fractional_module_given_samples_and_unbatched():
    s = np.random.default_rng(1).random((1, 3, 2))
    fn = lambda lib, x: lib.nn.FractionalMaxPool2d(2, output_ratio=0.5,  # noqa: E731
                                                   _random_samples=lib.tensor(s))(x[0])
    t, e = _both(fn, IMG, seed=5)
    _check(t, e, "FractionalMaxPool2DBackward0")
    m = ember.nn.FractionalMaxPool2d(2, output_size=3, _random_samples=ember.tensor(s))
    assert list(m.state_dict()) == ["_random_samples"]
    assert repr(m) == "FractionalMaxPool2d()"


@pytest.mark.parametrize("call", [
    lambda lib: lib.nn.FractionalMaxPool2d(2),
    lambda lib: lib.nn.FractionalMaxPool2d(2, output_size=2, output_ratio=0.5),
    lambda lib: lib.nn.FractionalMaxPool3d(2, output_ratio=1.5),
    lambda lib: lib.nn.functional.fractional_max_pool2d(lib.ones(1, 1, 8, 9), 2),
    lambda lib: lib.nn.functional.fractional_max_pool2d(lib.ones(1, 1, 8, 9), 5, output_size=6),
    lambda lib: lib.nn.functional.fractional_max_pool3d(lib.ones(1, 1, 4, 6, 6), 2,
                                                        output_size=4),
    lambda lib: lib.nn.functional.fractional_max_pool3d(lib.ones(1, 1, 9, 5, 9), 2,
                                                        output_size=4),
    lambda lib: lib.nn.functional.fractional_max_pool2d(lib.ones(1, 1, 8, 9), 2, output_size=4,
                                                        _random_samples=lib.rand(1, 1, 3)),
    lambda lib: lib.nn.functional.fractional_max_pool3d(lib.ones(1, 1, 8, 8, 8), 2,
                                                        output_size=(3, 3)),
    lambda lib: lib.nn.functional.adaptive_max_pool3d(lib.ones(2, 3), 1),
])
def test_errors_match_torch(call):
    with pytest.raises(Exception) as te:
        call(torch)
    with pytest.raises(type(te.value)) as ee:
        call(ember)
    assert str(ee.value) == str(te.value)
