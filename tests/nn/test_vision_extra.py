"""F.affine_grid and F.grid_sample against torch: every mode, padding mode and
align_corners, values and gradients (input, grid, theta), layouts, empty sizes, errors."""

import warnings

import numpy as np
import pytest
import torch

import ember

R = np.random.default_rng(0)


def _both(arrays, fn, weights_seed=1):
    """Run ``fn(lib, *tensors)`` under torch and ember on float leaves; return outputs and
    gradients of a random weighting of the output, as NumPy."""
    res = []
    for lib in (torch, ember):
        xs = [lib.tensor(a, requires_grad=True) for a in arrays]
        y = fn(lib, *xs)
        w = np.random.default_rng(weights_seed).standard_normal(tuple(y.shape))
        (y * lib.tensor(w, dtype=y.dtype)).sum().backward()
        res.append((y, [x.grad for x in xs]))
    (ye, ge), (yt, gt) = res[1], res[0]
    return ye, yt, ge, gt


def _check(arrays, fn, tol):
    ye, yt, ge, gt = _both(arrays, fn)
    assert ye.dtype.itemsize == yt.dtype.itemsize and tuple(ye.shape) == tuple(yt.shape)
    assert ye.grad_fn.name() == yt.grad_fn.name()
    np.testing.assert_allclose(ye.detach().numpy(), yt.detach().numpy(), rtol=tol, atol=tol)
    for e, t in zip(ge, gt):
        np.testing.assert_allclose(e.numpy(), t.numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("dtype,tol", [("float64", 1e-10), ("float32", 2e-5)])
def test_grid_sample_matches_torch(mode, padding_mode, align_corners, dtype, tol):
    x = R.standard_normal((2, 3, 4, 5)).astype(dtype)
    grid = R.uniform(-1.4, 1.4, (2, 3, 6, 2)).astype(dtype)   # some points fall outside
    _check([x, grid], lambda t, a, g: t.nn.functional.grid_sample(
        a, g, mode=mode, padding_mode=padding_mode, align_corners=align_corners), tol)


@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align_corners", [False, True])
def test_grid_sample_on_pixel_centres_and_edges(padding_mode, align_corners):
    # Points exactly on pixels and on the borders (where floor and clipping switch).
    theta = np.tile(np.array([[1.0, 0, 0], [0, 1, 0]]), (2, 1, 1))
    grid = torch.nn.functional.affine_grid(torch.tensor(theta), (2, 1, 5, 4),
                                           align_corners=align_corners).numpy()
    grid = np.concatenate([grid, np.full((2, 5, 1, 2), 1.0), np.full((2, 5, 1, 2), -1.0)], 2)
    x = R.standard_normal((2, 2, 5, 4))
    _check([x, grid], lambda t, a, g: t.nn.functional.grid_sample(
        a, g, padding_mode=padding_mode, align_corners=align_corners), 1e-10)


def test_grid_sample_layouts_and_sizes():
    fn = (lambda t, a, g: t.nn.functional.grid_sample(a.transpose(2, 3), g.transpose(1, 2),
                                                      align_corners=False))
    _check([R.standard_normal((2, 3, 5, 4)), R.uniform(-1, 1, (2, 4, 3, 2))], fn, 1e-10)
    # A 1x1 input and a single-channel one; output larger than input.
    for shape, gshape in (((1, 2, 1, 1), (1, 3, 3, 2)), ((3, 1, 2, 3), (3, 7, 9, 2))):
        _check([R.standard_normal(shape), R.uniform(-1.2, 1.2, gshape)],
               lambda t, a, g: t.nn.functional.grid_sample(a, g, padding_mode="reflection",
                                                           align_corners=False), 1e-10)


@pytest.mark.parametrize("shape,gshape", [((0, 2, 3, 3), (0, 2, 2, 2)),
                                          ((2, 0, 3, 3), (2, 2, 2, 2)),
                                          ((2, 3, 3, 3), (2, 0, 4, 2))])
def test_grid_sample_empty(shape, gshape):
    for lib in (torch, ember):
        x = lib.zeros(shape, requires_grad=True)
        g = lib.zeros(gshape, requires_grad=True)
        y = lib.nn.functional.grid_sample(x, g, align_corners=True)
        y.sum().backward()
        assert tuple(y.shape) == (shape[0], shape[1]) + gshape[1:3]
        assert tuple(x.grad.shape) == shape and tuple(g.grad.shape) == gshape


@pytest.mark.parametrize("size", [(2, 3, 4, 5), (2, 1, 1, 3), (1, 2, 3, 4, 2)])
@pytest.mark.parametrize("align_corners", [False, True])
def test_affine_grid_matches_torch(size, align_corners):
    k = len(size) - 2
    theta = R.standard_normal((size[0], k, k + 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)          # unit-size grids warn
        _check([theta], lambda t, th: t.nn.functional.affine_grid(th, size, align_corners),
               1e-10)


def test_spatial_transformer_gradient_reaches_theta():
    theta = np.array([[[0.9, -0.2, 0.1], [0.3, 1.1, -0.2]]] * 2)
    x = R.standard_normal((2, 3, 6, 5))

    def stn(t, th, a):
        grid = t.nn.functional.affine_grid(th, (2, 3, 4, 4), align_corners=False)
        return t.nn.functional.grid_sample(a, grid, align_corners=False)
    _check([theta, x], stn, 1e-10)


def test_default_align_corners_warns_like_torch():
    for lib in (torch, ember):
        th = lib.zeros(1, 2, 3)
        with pytest.warns(UserWarning, match="align_corners=False since 1.3.0"):
            grid = lib.nn.functional.affine_grid(th, (1, 1, 2, 2))
        with pytest.warns(UserWarning, match="align_corners=False since 1.3.0"):
            lib.nn.functional.grid_sample(lib.zeros(1, 1, 2, 2), grid)


@pytest.mark.parametrize("call,exc,match", [
    (lambda t: t.nn.functional.affine_grid(t.zeros(1, 2, 3, dtype=t.int64), (1, 1, 2, 2), True),
     ValueError, "Expected theta to have floating point type"),
    (lambda t: t.nn.functional.affine_grid(t.zeros(1, 2, 3), (1, 1, 2, 2, 2), True),
     ValueError, "Expected a batch of 3D affine matrices of shape Nx3x4"),
    (lambda t: t.nn.functional.affine_grid(t.zeros(1, 3, 4), (1, 1, 2, 2), True),
     ValueError, "Expected a batch of 2D affine matrices of shape Nx2x3"),
    (lambda t: t.nn.functional.affine_grid(t.zeros(1, 2, 3), (1, 2, 2), True),
     NotImplementedError, "affine_grid only supports 4D and 5D sizes"),
    (lambda t: t.nn.functional.affine_grid(t.zeros(1, 2, 3), (1, 1, 0, 2), False),
     ValueError, "Expected non-zero, positive output size"),
    (lambda t: t.nn.functional.grid_sample(t.zeros(1, 1, 2, 2), t.zeros(1, 2, 2, 2), "area",
                                           align_corners=True),
     ValueError, "expected mode to be 'bilinear', 'nearest' or 'bicubic'"),
    (lambda t: t.nn.functional.grid_sample(t.zeros(1, 1, 2, 2), t.zeros(1, 2, 2, 2),
                                           padding_mode="wrap", align_corners=True),
     ValueError, "expected padding_mode to be 'zeros', 'border', or 'reflection'"),
    (lambda t: t.nn.functional.grid_sample(t.zeros(2, 1, 2, 2), t.zeros(1, 2, 2, 2),
                                           align_corners=True),
     RuntimeError, "expected grid and input to have same batch size"),
    (lambda t: t.nn.functional.grid_sample(t.zeros(1, 1, 2, 2), t.zeros(1, 2, 2, 3),
                                           align_corners=True),
     RuntimeError, "expected grid to have size 2 in last dimension"),
    (lambda t: t.nn.functional.grid_sample(t.zeros(1, 1, 2, 2), t.zeros(1, 2, 2, 2,
                                                                        dtype=t.float64),
                                           align_corners=True),
     RuntimeError, "expected scalar type Float but found Double"),
])
def test_errors_match_torch(call, exc, match):
    for lib in (torch, ember):
        with pytest.raises(exc, match=match):
            call(lib)


def test_double_backward_is_reported():
    x = ember.randn(1, 1, 3, 3, requires_grad=True)
    g = ember.rand(1, 2, 2, 2, requires_grad=True)
    y = ember.nn.functional.grid_sample(x, g, align_corners=True)
    gx, = ember.autograd.grad(y.sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="double backward of grid_sample"):
        gx.sum().backward()


# -- channel shuffle, Softmax2d -----------------------------------------------------------------
@pytest.mark.parametrize("shape,groups", [((2, 6, 3), 3), ((2, 6, 3), 2), ((1, 4, 2, 3), 4),
                                          ((0, 4, 2), 2), ((2, 4, 3, 2, 2), 2), ((2, 3, 1), 1)])
def test_channel_shuffle_matches_torch(shape, groups):
    x = R.standard_normal(shape)
    _check([x], lambda t, a: t.nn.functional.channel_shuffle(a, groups), 0)
    _check([x], lambda t, a: t.nn.ChannelShuffle(groups)(a), 0)
    assert repr(ember.nn.ChannelShuffle(groups)) == repr(torch.nn.ChannelShuffle(groups))


def test_channel_shuffle_non_contiguous_and_double_backward():
    x = R.standard_normal((3, 6, 2))
    _check([x], lambda t, a: t.nn.functional.channel_shuffle(a.transpose(0, 2), 1), 0)
    a = ember.randn(2, 4, 3, dtype=ember.float64, requires_grad=True)
    assert ember.autograd.gradgradcheck(lambda v: ember.nn.functional.channel_shuffle(v, 2), (a,))


@pytest.mark.parametrize("call,match", [
    (lambda t: t.nn.functional.channel_shuffle(t.zeros(2, 6, 3), 4),
     "Number of channels must be divisible by groups. Got 6 channels and 4 groups."),
    (lambda t: t.nn.functional.channel_shuffle(t.zeros(2, 6, 3), 0),
     "Number of groups to divide channels in must be positive. Value of groups:0"),
    (lambda t: t.nn.functional.channel_shuffle(t.zeros(6, 2), 2),
     r"channel_shuffle expects input with > 2 dims, but got input with sizes \[6, 2\]"),
])
def test_channel_shuffle_errors(call, match):
    for lib in (torch, ember):
        with pytest.raises(RuntimeError, match=match):
            call(lib)


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (3, 4, 5), (1, 1, 2, 2), (0, 3, 2, 2)])
def test_softmax2d_matches_torch(shape):
    x = R.standard_normal(shape)
    _check([x], lambda t, a: t.nn.Softmax2d()(a.transpose(-1, -2)), 1e-12)
    for lib in (torch, ember):
        assert repr(lib.nn.Softmax2d()) == "Softmax2d()"
        with pytest.raises(ValueError, match="Softmax2d: expected input to be 3D or 4D, got 2D "
                                             "instead"):
            lib.nn.Softmax2d()(lib.zeros(2, 3))
