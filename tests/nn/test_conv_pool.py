"""Convolution, pooling, padding, resizing, fold and attention functionals and their layers,
against PyTorch: outputs, gradients of every input, grad_fn names, gradcheck, reprs."""

import numpy as np
import pytest
import torch
import torch.nn as tnn
import torch.nn.functional as TF

import ember
import ember.nn as enn
import ember.nn.functional as F


def _pair(shapes, dtype="float64", seed=0, transpose=False):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s).astype(dtype) for s in shapes]
    if transpose:  # non-contiguous: same values, reversed memory order
        arrays = [np.asfortranarray(a) for a in arrays]
    e = [ember.from_numpy(a).requires_grad_() for a in arrays]
    t = [torch.from_numpy(np.array(a)).requires_grad_() for a in arrays]
    return e, t


def check(fe, ft, shapes, dtype="float64", transpose=False, name=True, atol=None):
    """Outputs and gradients (of every input) of ember's ``fe`` against torch's ``ft``."""
    tol = atol or (1e-10 if dtype == "float64" else 2e-5)
    e, t = _pair(shapes, dtype, transpose=transpose)
    ye, yt = fe(*e), ft(*t)
    ye, yt = (ye if isinstance(ye, tuple) else (ye,)), (yt if isinstance(yt, tuple) else (yt,))
    rng = np.random.default_rng(1)
    le = lt = 0
    for a, b in zip(ye, yt):
        assert tuple(a.shape) == tuple(b.shape)
        assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1]
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), atol=tol, rtol=tol)
        if b.requires_grad:
            if name:
                assert a.grad_fn.name() == b.grad_fn.name()
            w = rng.standard_normal(tuple(b.shape)).astype(dtype)
            le = le + (a * ember.from_numpy(w)).sum()
            lt = lt + (b * torch.from_numpy(w)).sum()
    le.backward()
    lt.backward()
    for a, b in zip(e, t):
        if b.grad is None:
            assert a.grad is None or not a.grad.numpy().any()
        else:
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), atol=tol * 10, rtol=tol)


DTYPES = ["float64", "float32"]

# -- convolution ----------------------------------------------------------------------------
CONV2D = [dict(), dict(stride=2, padding=1), dict(stride=(2, 1), padding=(1, 2), dilation=2),
          dict(stride=3, padding=2, dilation=(1, 2), groups=2), dict(padding="same", dilation=2),
          dict(padding="same", groups=3), dict(padding="valid", stride=(1, 2))]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kw", CONV2D, ids=str)
def test_conv2d(kw, dtype):
    g = kw.get("groups", 1)
    shapes = [(2, 6, 9, 10), (6, 6 // g, 3, 2), (6,)]
    check(lambda x, w, b: F.conv2d(x, w, b, **kw), lambda x, w, b: TF.conv2d(x, w, b, **kw),
          shapes, dtype)


@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1, dilation=2),
                                dict(groups=3, padding="same")], ids=str)
def test_conv1d_conv3d(kw):
    g = kw.get("groups", 1)
    check(lambda x, w, b: F.conv1d(x, w, b, **kw), lambda x, w, b: TF.conv1d(x, w, b, **kw),
          [(2, 6, 11), (3, 6 // g, 3), (3,)])
    check(lambda x, w: F.conv3d(x, w, None, **kw), lambda x, w: TF.conv3d(x, w, None, **kw),
          [(2, 6, 5, 6, 4), (3, 6 // g, 2, 3, 2)])


def test_conv_unbatched_noncontiguous_empty():
    check(lambda x, w: F.conv2d(x, w), lambda x, w: TF.conv2d(x, w), [(3, 6, 5), (2, 3, 2, 2)])
    check(lambda x, w: F.conv2d(x, w, padding=1), lambda x, w: TF.conv2d(x, w, padding=1),
          [(2, 3, 6, 5), (4, 3, 3, 3)], transpose=True)
    y = F.conv2d(ember.zeros(0, 3, 5, 5), ember.zeros(4, 3, 3, 3))
    assert tuple(y.shape) == (0, 4, 3, 3)


CONVT = [dict(), dict(stride=2, padding=1, output_padding=1),
         dict(stride=(2, 3), padding=(0, 1), output_padding=(1, 2), dilation=1, groups=2),
         dict(stride=2, dilation=2, output_padding=1, groups=1)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kw", CONVT, ids=str)
def test_conv_transpose(kw, dtype):
    g = kw.get("groups", 1)
    check(lambda x, w, b: F.conv_transpose2d(x, w, b, **kw),
          lambda x, w, b: TF.conv_transpose2d(x, w, b, **kw),
          [(2, 4, 5, 4), (4, 6 // g, 3, 2), (6,)], dtype)
    if all(isinstance(v, int) for v in kw.values()):
        check(lambda x, w, b: F.conv_transpose1d(x, w, b, **kw),
              lambda x, w, b: TF.conv_transpose1d(x, w, b, **kw),
              [(2, 4, 5), (4, 6 // g, 3), (6,)], dtype)


def test_conv_gradcheck_and_double_backward():
    x = ember.randn(1, 2, 5, 5, dtype=ember.float64, requires_grad=True)
    w = ember.randn(3, 2, 3, 3, dtype=ember.float64, requires_grad=True)
    wt = ember.randn(2, 3, 3, 3, dtype=ember.float64, requires_grad=True)

    def conv(x, w):
        return F.conv2d(x, w, None, 2, 1)

    def convt(x, w):
        return F.conv_transpose2d(x, w, None, 2, 1, 1)
    assert ember.autograd.gradcheck(conv, (x, w))
    assert ember.autograd.gradgradcheck(conv, (x, w))
    assert ember.autograd.gradcheck(convt, (x, wt))
    assert ember.autograd.gradgradcheck(convt, (x, wt))


def test_conv_errors():
    x, w = ember.randn(2, 3, 8, 8), ember.randn(4, 3, 3, 3)
    cases = [lambda lib, x, w: lib.nn.functional.conv2d(x.double(), w),
             lambda lib, x, w: lib.nn.functional.conv2d(x, w, stride=2, padding="same"),
             lambda lib, x, w: lib.nn.functional.conv2d(x, w, padding="foo"),
             lambda lib, x, w: lib.nn.functional.conv2d(x, w[:, :2]),
             lambda lib, x, w: lib.nn.functional.conv2d(x, w, groups=2),
             lambda lib, x, w: lib.nn.functional.conv2d(x[:, :, :2, :2], w),
             lambda lib, x, w: lib.nn.functional.conv2d(x[0, 0], w),
             lambda lib, x, w: lib.nn.functional.conv2d(x, w, stride=0)]
    tx, tw = torch.randn(2, 3, 8, 8), torch.randn(4, 3, 3, 3)
    for case in cases:
        with pytest.raises(RuntimeError) as te:
            case(torch, tx, tw)
        with pytest.raises(RuntimeError) as ee:
            case(ember, x, w)
        assert str(ee.value) == str(te.value)


# -- pooling --------------------------------------------------------------------------------
POOL = [(2, None, 0, 1, False), (3, 2, 1, 1, True), (3, 2, 1, 2, False), (3, 2, 1, 2, True),
        ((2, 3), (2, 1), (1, 1), 1, True), (3, 3, 1, 1, True), (4, 3, 2, 1, True)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k,s,p,d,c", POOL, ids=str)
def test_max_pool(k, s, p, d, c, dtype):
    check(lambda x: F.max_pool2d(x, k, s, p, d, c, True),
          lambda x: TF.max_pool2d(x, k, s, p, d, c, True), [(2, 3, 9, 10)], dtype)
    if isinstance(k, int):
        check(lambda x: F.max_pool1d(x, k, s, p, d, c, True),
              lambda x: TF.max_pool1d(x, k, s, p, d, c, True), [(2, 3, 11)], dtype)
        check(lambda x: F.max_pool3d(x, k, s, p, d, c),
              lambda x: TF.max_pool3d(x, k, s, p, d, c), [(1, 2, 6, 5, 7)], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k,s,p,d,c", POOL, ids=str)
@pytest.mark.parametrize("cip", [True, False])
def test_avg_pool(k, s, p, d, c, cip, dtype):
    check(lambda x: F.avg_pool2d(x, k, s, p, c, cip), lambda x: TF.avg_pool2d(x, k, s, p, c, cip),
          [(2, 3, 9, 10)], dtype)
    check(lambda x: F.avg_pool2d(x, k, s, p, c, cip, 5),
          lambda x: TF.avg_pool2d(x, k, s, p, c, cip, 5), [(2, 3, 9, 10)], dtype)
    if isinstance(k, int):
        check(lambda x: F.avg_pool1d(x, k, s, p, c, cip),
              lambda x: TF.avg_pool1d(x, k, s, p, c, cip), [(2, 3, 11)], dtype)
        check(lambda x: F.avg_pool3d(x, k, s, p, c, cip),
              lambda x: TF.avg_pool3d(x, k, s, p, c, cip), [(1, 2, 6, 5, 7)], dtype)


def test_pool_unbatched_noncontiguous():
    check(lambda x: F.max_pool2d(x, 2), lambda x: TF.max_pool2d(x, 2), [(3, 6, 5)])
    check(lambda x: F.avg_pool2d(x, 3, 1, 1), lambda x: TF.avg_pool2d(x, 3, 1, 1),
          [(2, 3, 6, 5)], transpose=True)


@pytest.mark.parametrize("out", [(3, 4), 1, (None, 3), (7, 10), (10, 13), (2, 1)], ids=str)
def test_adaptive_pools(out):
    check(lambda x: F.adaptive_avg_pool2d(x, out), lambda x: TF.adaptive_avg_pool2d(x, out),
          [(2, 3, 7, 10)], name=out != 1)  # torch takes a mean for output size 1
    check(lambda x: F.adaptive_max_pool2d(x, out, True),
          lambda x: TF.adaptive_max_pool2d(x, out, True), [(2, 3, 7, 10)])
    o = out if isinstance(out, int) else out[1]
    check(lambda x: F.adaptive_avg_pool1d(x, o), lambda x: TF.adaptive_avg_pool1d(x, o),
          [(2, 3, 10)])
    check(lambda x: F.adaptive_max_pool1d(x, o, True),
          lambda x: TF.adaptive_max_pool1d(x, o, True), [(2, 3, 10)])


def test_lp_pool_and_unpool():
    check(lambda x: F.lp_pool2d(x.abs() + 0.1, 2, 2), lambda x: TF.lp_pool2d(x.abs() + 0.1, 2, 2),
          [(2, 3, 6, 6)], name=False)
    check(lambda x: F.lp_pool1d(x.abs() + 0.1, 3, 2), lambda x: TF.lp_pool1d(x.abs() + 0.1, 3, 2),
          [(2, 3, 7)], name=False)
    _, idx = TF.max_pool2d(torch.randn(2, 3, 6, 7), 2, return_indices=True)
    ei = ember.from_numpy(idx.numpy())
    check(lambda x: F.max_unpool2d(x, ei, 2, output_size=(6, 7)),
          lambda x: TF.max_unpool2d(x, idx, 2, output_size=(6, 7)), [(2, 3, 3, 3)])


def test_pool_gradcheck():
    x = ember.randn(1, 2, 5, 5, dtype=ember.float64, requires_grad=True)
    for f in (lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True),
              lambda x: F.avg_pool2d(x, 3, 2, 1, True, False),
              lambda x: F.adaptive_avg_pool2d(x, 3), lambda x: F.adaptive_max_pool2d(x, 3)):
        assert ember.autograd.gradcheck(f, (x,))
        assert ember.autograd.gradgradcheck(f, (x,))


def test_pool_errors():
    for fn in (lambda lib, x: lib.nn.functional.max_pool2d(x, 2, padding=2),
               lambda lib, x: lib.nn.functional.avg_pool2d(x, 2, padding=2),
               lambda lib, x: lib.nn.functional.max_pool2d(x, 10)):
        with pytest.raises(RuntimeError) as te:
            fn(torch, torch.randn(2, 3, 8, 8))
        with pytest.raises(RuntimeError) as ee:
            fn(ember, ember.randn(2, 3, 8, 8))
        assert str(ee.value) == str(te.value)


# -- padding, resizing, shuffles, fold ------------------------------------------------------
@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_pad(mode):
    n = mode != "circular"
    check(lambda x: F.pad(x, (1, 2, 3, 0), mode), lambda x: TF.pad(x, (1, 2, 3, 0), mode),
          [(2, 3, 5, 4)], name=n)
    check(lambda x: F.pad(x, (2, 1), mode), lambda x: TF.pad(x, (2, 1), mode), [(2, 3, 5)],
          name=n)
    check(lambda x: F.pad(x, (1, 1, 2, 0, 1, 1), mode), lambda x: TF.pad(x, (1, 1, 2, 0, 1, 1),
                                                                         mode),
          [(1, 2, 3, 4, 3)], name=n, transpose=True)


def test_constant_pad_negative_and_errors():
    check(lambda x: F.pad(x, (2, -1, 0, 0, 1, 1), value=3.0),
          lambda x: TF.pad(x, (2, -1, 0, 0, 1, 1), value=3.0), [(2, 3, 5)])
    check(lambda x: F.pad(x, (1, 1)), lambda x: TF.pad(x, (1, 1)), [()] if False else [(0, 3)])
    with pytest.raises(RuntimeError, match="divisible by 2"):
        F.pad(ember.randn(2, 3), (1, 1, 1))
    with pytest.raises(NotImplementedError):
        F.pad(ember.randn(2, 3), (1, 1), mode="foo")
    with pytest.raises(RuntimeError) as ee:
        F.pad(ember.randn(2, 3, 8, 8), (9, 9, 1, 1), mode="reflect")
    with pytest.raises(RuntimeError) as te:
        TF.pad(torch.randn(2, 3, 8, 8), (9, 9, 1, 1), mode="reflect")
    assert str(ee.value) == str(te.value)


INTERP = [dict(scale_factor=2), dict(size=(7, 5)), dict(scale_factor=1.7), dict(size=(3, 11)),
          dict(size=(3, 11), mode="bilinear"), dict(size=(3, 11), mode="bilinear",
                                                    align_corners=True),
          dict(scale_factor=2.3, mode="bilinear"), dict(size=(9, 7), mode="bicubic"),
          dict(size=(9, 7), mode="bicubic", align_corners=True),
          dict(size=(9, 3), mode="nearest-exact"), dict(size=(3, 2), mode="area")]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kw", INTERP, ids=str)
def test_interpolate(kw, dtype):
    check(lambda x: F.interpolate(x, **kw), lambda x: TF.interpolate(x, **kw), [(2, 3, 5, 4)],
          dtype)


def test_interpolate_1d_3d_and_errors():
    check(lambda x: F.interpolate(x, scale_factor=3, mode="linear"),
          lambda x: TF.interpolate(x, scale_factor=3, mode="linear"), [(2, 3, 5)])
    check(lambda x: F.interpolate(x, size=(3, 4, 5), mode="trilinear"),
          lambda x: TF.interpolate(x, size=(3, 4, 5), mode="trilinear"), [(2, 3, 5, 4, 2)])
    x = ember.randn(1, 1, 4, 4)
    with pytest.raises(ValueError, match="only one of size or scale_factor"):
        F.interpolate(x, size=3, scale_factor=2)
    with pytest.raises(ValueError, match="either size or scale_factor"):
        F.interpolate(x)
    with pytest.raises(ValueError, match="align_corners option"):
        F.interpolate(x, scale_factor=2, align_corners=True)


def test_pixel_shuffle_fold_unfold():
    check(lambda x: F.pixel_shuffle(x, 2), lambda x: TF.pixel_shuffle(x, 2), [(2, 8, 3, 4)])
    check(lambda x: F.pixel_shuffle(x, 3), lambda x: TF.pixel_shuffle(x, 3), [(9, 2, 3)])
    check(lambda x: F.pixel_unshuffle(x, 2), lambda x: TF.pixel_unshuffle(x, 2), [(2, 3, 4, 6)])
    check(lambda x: F.unfold(x, (2, 3), 2, 1, (2, 1)), lambda x: TF.unfold(x, (2, 3), 2, 1, (2, 1)),
          [(2, 3, 7, 6)])
    check(lambda x: F.fold(x, (6, 5), (2, 3), 1, 1, 1), lambda x: TF.fold(x, (6, 5), (2, 3), 1, 1, 1),
          [(2, 12, 35)])
    with pytest.raises(RuntimeError, match="divisible by the square"):
        F.pixel_shuffle(ember.randn(1, 3, 2, 2), 2)


def test_resampling_gradcheck():
    x = ember.randn(1, 2, 4, 4, dtype=ember.float64, requires_grad=True)
    for f in (lambda x: F.pad(x, (1, 2, 2, 1), mode="reflect"),
              lambda x: F.interpolate(x, size=(5, 7), mode="bilinear"),
              lambda x: F.unfold(x, 2), lambda x: F.pixel_shuffle(x.reshape(1, 8, 2, 2), 2)):
        assert ember.autograd.gradcheck(f, (x,))
        assert ember.autograd.gradgradcheck(f, (x,))


# -- layers: state dicts, reprs, forward/backward with torch's weights -----------------------
def _layers(lib):
    nn = lib.nn
    return [nn.Conv1d(3, 4, 3), nn.Conv2d(1, 6, 5), nn.Conv2d(4, 6, (2, 3), 2, 1, 2, 2),
            nn.Conv2d(3, 4, 3, padding="same", bias=False, padding_mode="reflect"),
            nn.Conv2d(3, 4, 3, padding=2, padding_mode="circular"),
            nn.Conv3d(2, 3, 2, stride=2), nn.ConvTranspose1d(4, 6, 3, stride=2),
            nn.ConvTranspose2d(4, 6, 3, 2, 1, 1, 2), nn.MaxPool1d(3), nn.MaxPool2d(2),
            nn.MaxPool2d((2, 3), 1, 1, 2, False, True), nn.AvgPool1d(3), nn.AvgPool2d(2),
            nn.AvgPool2d(3, 2, 1, True, False, 4), nn.AdaptiveAvgPool2d((3, None)),
            nn.AdaptiveMaxPool2d(3), nn.AdaptiveAvgPool1d(2), nn.AdaptiveMaxPool1d(2),
            nn.LPPool2d(2, 3), nn.MaxUnpool2d(2), nn.Upsample(scale_factor=2),
            nn.Upsample(size=(3, 4), mode="bilinear", align_corners=True),
            nn.UpsamplingNearest2d(scale_factor=2), nn.UpsamplingBilinear2d(size=5),
            nn.PixelShuffle(2), nn.PixelUnshuffle(3), nn.ZeroPad2d(2), nn.ZeroPad2d((1, 2, 3, 4)),
            nn.ConstantPad1d(2, 3.5), nn.ConstantPad2d((1, 2, 3, 4), 1), nn.ReflectionPad1d(2),
            nn.ReflectionPad2d(1), nn.ReplicationPad2d((1, 2, 3, 4)), nn.ReplicationPad1d(1),
            nn.CircularPad2d(1), nn.Fold((4, 5), 2), nn.Unfold(2, padding=1)]


def test_layer_reprs_and_state_dicts():
    ember.manual_seed(0)
    torch.manual_seed(0)
    for e, t in zip(_layers(ember), _layers(torch)):
        assert repr(e) == repr(t)
        es, ts = e.state_dict(), t.state_dict()
        assert list(es) == list(ts)
        for k in ts:
            assert tuple(es[k].shape) == tuple(ts[k].shape)
            # Seeded init draws the same numbers as torch.
            np.testing.assert_allclose(es[k].numpy(), ts[k].numpy(), rtol=1e-6, atol=1e-7)


CONV_LAYERS = [("Conv2d", (3, 4, 3), {}, (2, 3, 7, 8)),
               ("Conv2d", (4, 6, 3), dict(groups=2, padding="same", padding_mode="reflect"),
                (2, 4, 6, 5)),
               ("Conv2d", (3, 4, 3), dict(padding_mode="circular", padding=2, bias=False),
                (2, 3, 5, 6)),
               ("Conv1d", (3, 4, 3), dict(padding_mode="replicate", padding=1), (2, 3, 7)),
               ("ConvTranspose2d", (4, 6, 3), dict(stride=2, padding=1, output_padding=1,
                                                   groups=2), (2, 4, 5, 5))]


@pytest.mark.parametrize("name,args,kw,shape", CONV_LAYERS, ids=lambda v: str(v))
def test_conv_layers(name, args, kw, shape):
    t = getattr(tnn, name)(*args, **kw).double()
    e = getattr(enn, name)(*args, **kw).double()
    e.load_state_dict({k: ember.from_numpy(v.detach().numpy().copy())
                       for k, v in t.state_dict().items()})
    check(lambda x: e(x), lambda x: t(x), [shape])
    for (n, p), (_, q) in zip(e.named_parameters(), t.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), atol=1e-9, err_msg=n)


def test_conv_transpose_output_size():
    t = tnn.ConvTranspose2d(2, 3, 3, stride=2).double()
    e = enn.ConvTranspose2d(2, 3, 3, stride=2).double()
    e.load_state_dict({k: ember.from_numpy(v.detach().numpy()) for k, v in
                       t.state_dict().items()})
    check(lambda x: e(x, output_size=(10, 9)), lambda x: t(x, output_size=(10, 9)),
          [(1, 2, 4, 4)])
    with pytest.raises(ValueError):
        e(ember.randn(1, 2, 4, 4, dtype=ember.float64), output_size=(20, 20))


# -- fast paths: kept im2col columns, batch-last col2im, tap-wise max pooling -----------------
@pytest.mark.parametrize("n", [1, 3])
@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1, dilation=2, groups=2)], ids=str)
def test_conv_batch_sizes_and_weight_only_grad(n, kw):
    """Batch 1 and many, groups: the weight gradient from the columns the forward kept (input
    not requiring grad) and from the recomputed ones agree with torch."""
    check(lambda x, w, b: F.conv2d(x, w, b, **kw), lambda x, w, b: TF.conv2d(x, w, b, **kw),
          [(n, 4, 7, 6), (6, 4 // kw.get("groups", 1), 3, 3), (6,)])
    check(lambda x, w: F.conv_transpose2d(x, w, None, **kw),
          lambda x, w: TF.conv_transpose2d(x, w, None, **kw),
          [(n, 4, 5, 4), (4, 6 // kw.get("groups", 1), 3, 3)])
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((n, 4, 7, 6)), rng.standard_normal((6, 2 if kw else 4, 3, 3))
    ew, tw = ember.tensor(w, requires_grad=True), torch.tensor(w, requires_grad=True)
    F.conv2d(ember.tensor(x), ew, **kw).pow(2).sum().backward()
    TF.conv2d(torch.tensor(x), tw, **kw).pow(2).sum().backward()
    np.testing.assert_allclose(ew.grad.numpy(), tw.grad.numpy(), rtol=1e-10, atol=1e-10)


def test_conv_saved_columns_follow_input_version():
    x = ember.randn(2, 3, 6, 6, requires_grad=True)
    w = ember.randn(4, 3, 3, 3, requires_grad=True)
    y = x.mul(1.0)
    out = F.conv2d(y, w)
    y.add_(1)                                    # the columns kept for dW are stale now
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()


def test_max_pool_ties_nan_and_infinities():
    """PyTorch's rule: a tap wins when greater than the best so far or NaN; ties keep the
    first. Indices and gradients must follow it, overlapping windows included."""
    x = np.array([[[[1., np.nan, 3., np.nan, 2.], [2., 2., np.nan, 0., 2.],
                    [5., 5., 5., 5., -np.inf], [5., 5., 1., 1., -np.inf],
                    [-np.inf, -np.inf, 0., 0., 7.]]]])
    for kw in (dict(kernel_size=2), dict(kernel_size=2, stride=1, padding=1),
               dict(kernel_size=3, stride=1, dilation=2), dict(kernel_size=(2, 3), stride=1)):
        res = []
        for lib, fn in ((ember, F.max_pool2d), (torch, TF.max_pool2d)):
            xi = lib.tensor(x, requires_grad=True)
            y, idx = fn(xi, return_indices=True, **kw)
            y.sum().backward()
            res.append((y.detach().numpy(), idx.numpy(), xi.grad.numpy()))
        for a, b in zip(*res):
            np.testing.assert_array_equal(a, b)
    for dt in ("float32", "int64"):
        ties = np.zeros((2, 3, 6, 6), dtype=dt)
        ye, ie = F.max_pool2d(ember.from_numpy(ties), 3, 2, 1, return_indices=True)
        yt, it = TF.max_pool2d(torch.from_numpy(ties).float(), 3, 2, 1, return_indices=True)
        np.testing.assert_array_equal(ie.numpy(), it.numpy())


def test_max_pool3d_double_backward():
    x = ember.randn(1, 2, 4, 5, 4, dtype=ember.float64, requires_grad=True)
    for f in (lambda x: F.max_pool3d(x, 2), lambda x: F.max_pool3d(x, 3, 1, 1)):
        assert ember.autograd.gradcheck(f, (x,))
        assert ember.autograd.gradgradcheck(f, (x,))
