"""ember.fft against torch.fft: values, dtypes, node names and gradients (PyTorch's complex
convention, including the Hermitian handling of rfft/irfft), errors; windows; stft/istft."""

import numpy as np
import pytest
import torch

import ember

RNG = np.random.default_rng(0)
R = RNG.standard_normal((4, 6))
R3 = RNG.standard_normal((3, 4, 5))
C = RNG.standard_normal((4, 6)) + 1j * RNG.standard_normal((4, 6))
C3 = RNG.standard_normal((3, 4, 5)) + 1j * RNG.standard_normal((3, 4, 5))


def _np(t):
    return t.detach().resolve_conj().numpy()


def _loss(out):
    if out.is_complex():
        return (out.real ** 2 + out.imag * 3).sum()
    return (out * out).sum() + out.sum()


def _compare(fn, arrays, dtype=np.float64, grad=True, node=True):
    res = []
    for lib in (torch, ember):
        xs = []
        for a in arrays:
            if a.dtype.kind == "f":
                a = a.astype(dtype)
            elif a.dtype.kind == "c":
                a = a.astype(np.complex64 if dtype == np.float32 else np.complex128)
            xs.append(lib.tensor(a, requires_grad=grad))
        out = fn(lib, *xs)
        if grad:
            _loss(out).backward()
        res.append((out, [x.grad for x in xs] if grad else []))
    (t_out, t_g), (e_out, e_g) = res
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-9, atol=1e-9)
    assert str(e_out.dtype)[6:] == str(t_out.dtype)[6:]
    assert tuple(e_out.shape) == tuple(t_out.shape)
    np.testing.assert_allclose(_np(e_out), _np(t_out), **tol)
    if grad and node:
        assert type(e_out.grad_fn).__name__ == type(t_out.grad_fn).__name__
    for tg, eg in zip(t_g, e_g):
        assert str(eg.dtype)[6:] == str(tg.dtype)[6:]
        np.testing.assert_allclose(_np(eg), _np(tg), **tol)


ONE_D = ["fft", "ifft", "rfft", "irfft", "hfft", "ihfft"]
REAL_ONLY = {"rfft", "ihfft"}


@pytest.mark.parametrize("name", ONE_D)
@pytest.mark.parametrize("norm", [None, "backward", "ortho", "forward"])
@pytest.mark.parametrize("n,dim", [(None, -1), (4, -1), (9, 0), (7, 1), (1, -1)])
def test_one_d(name, norm, n, dim):
    inputs = [R] if name in REAL_ONLY else [C]
    _compare(lambda t, x: getattr(t.fft, name)(x, n=n, dim=dim, norm=norm), inputs)
    if name in ("fft", "ifft"):     # real input: the R2C path
        _compare(lambda t, x: getattr(t.fft, name)(x, n=n, dim=dim, norm=norm), [R])


@pytest.mark.parametrize("name", ["fft2", "ifft2", "fftn", "ifftn", "rfft2", "irfft2", "rfftn",
                                  "irfftn", "hfft2", "ihfft2", "hfftn", "ihfftn"])
@pytest.mark.parametrize("kw", [{}, {"norm": "ortho"}, {"s": (3, 8)}, {"s": (5, -1),
                                "dim": (0, 2)}, {"dim": (2, 0), "norm": "forward"}])
def test_n_d(name, kw):
    real_only = name.startswith(("rfft", "ihfft"))
    inputs = [R3] if real_only else [C3]
    fn = lambda t, x: getattr(t.fft, name)(x, **kw)  # noqa: E731
    if name.startswith(("ihfft", "hfft")):
        # torch composes these from two transforms, so its node is not ours; compare values
        res = [fn(lib, lib.tensor(inputs[0])) for lib in (torch, ember)]
        np.testing.assert_allclose(_np(res[1]), _np(res[0]), rtol=1e-9, atol=1e-9)
        _grads_only(fn, inputs)
        return
    _compare(fn, inputs)
    if not real_only and name.startswith(("fft", "ifft")):
        _compare(fn, [R3])


def _grads_only(fn, arrays):
    grads = []
    for lib in (torch, ember):
        x = lib.tensor(arrays[0], requires_grad=True)
        _loss(fn(lib, x)).backward()
        grads.append(_np(x.grad))
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", ["fft", "rfft", "irfft", "fft2"])
def test_float32_and_integer_inputs(name):
    inputs = [R] if name == "rfft" else [C]
    _compare(lambda t, x: getattr(t.fft, name)(x), inputs, dtype=np.float32)
    if name != "irfft":
        _compare(lambda t, x: getattr(t.fft, name)(x), [np.arange(12).reshape(3, 4)],
                 grad=False)


def test_irfft_gradient_hermitian_even_odd():
    # the doubled bins: 1 .. n - n//2 - 1, for even and odd output lengths
    for n in (6, 7, 10, 11):
        _compare(lambda t, x: t.fft.irfft(x, n=n), [C])
        _compare(lambda t, x: t.fft.rfft(x, n=n), [R])


def test_roundtrip_and_composition():
    def f(t, x):
        y = t.fft.rfft(x)
        return t.fft.irfft(y * y.abs(), n=x.shape[-1])
    _compare(f, [R])
    _compare(lambda t, x: t.fft.ifft(t.fft.fft(x) * 2j).abs(), [C])


@pytest.mark.parametrize("fn", [
    lambda t: t.fft.fftfreq(5), lambda t: t.fft.fftfreq(6, 0.1, dtype=t.float64),
    lambda t: t.fft.rfftfreq(5, d=2.0), lambda t: t.fft.rfftfreq(8, dtype=t.float64),
    lambda t: t.fft.fftfreq(1), lambda t: t.fft.fftshift(t.arange(10).reshape(2, 5)),
    lambda t: t.fft.ifftshift(t.arange(10).reshape(2, 5)),
    lambda t: t.fft.fftshift(t.arange(10).reshape(2, 5), dim=1),
    lambda t: t.fft.ifftshift(t.arange(10).reshape(2, 5), dim=(0,)),
])
def test_freq_and_shift(fn):
    t, e = fn(torch), fn(ember)
    assert str(e.dtype)[6:] == str(t.dtype)[6:]
    np.testing.assert_array_equal(e.numpy(), t.numpy())


def test_shift_gradient():
    _compare(lambda t, x: t.fft.fftshift(t.fft.fft2(x), dim=(0, 1)), [C])
    _compare(lambda t, x: t.fft.ifftshift(x), [C3])


@pytest.mark.parametrize("fn", [
    lambda t, x: t.fft.fft(x, n=0),
    lambda t, x: t.fft.fft(x, dim=2),
    lambda t, x: t.fft.fftn(x, s=(2, 3), dim=(0,)),
    lambda t, x: t.fft.rfft(x.to(t.complex64)),
    lambda t, x: t.fft.ihfft(x.to(t.complex128)),
    lambda t, x: t.fft.fft(x, norm="bad"),
    lambda t, x: t.fft.irfft(x, n=0),
    lambda t, x: t.fft.irfft(t.ones(1, dtype=t.complex64)),
    lambda t, x: t.fft.fftn(x, dim=(0, 0)),
    lambda t, x: t.fft.fftn(x, s=(3, 3, 3)),
    lambda t, x: t.fft.fftfreq(4, dtype=t.int64),
    lambda t, x: t.fft.fft(x[0, 0]),
    lambda t, x: t.fft.irfft(x[0, 0].to(t.complex64)),
    lambda t, x: t.fft.fft(x.to(t.float16)),
    lambda t, x: t.fft.fft2(x[0]),
    lambda t, x: t.fft.fftshift(x[0, 0]),
])
def test_errors(fn):
    x_t, x_e = torch.tensor(R), ember.tensor(R)
    with pytest.raises(Exception) as t_info:
        fn(torch, x_t)
    with pytest.raises(type(t_info.value)) as e_info:
        fn(ember, x_e)
    assert str(e_info.value) == str(t_info.value)


def test_gradcheck():
    # gradcheck works on real tensors: complex signals enter and leave as (re, im) pairs
    re = ember.tensor(R[:2, :5], requires_grad=True)
    im = ember.tensor(C.imag[:2, :5], requires_grad=True)
    F, V = ember.fft, ember.view_as_real
    z = ember.complex
    assert ember.autograd.gradcheck(lambda a, b: V(F.fft(z(a, b), norm="ortho")), (re, im))
    assert ember.autograd.gradcheck(lambda a: V(F.rfft(a, n=6)), (re,))
    assert ember.autograd.gradcheck(lambda a, b: F.irfft(z(a, b), n=7), (re, im))
    assert ember.autograd.gradcheck(lambda a, b: F.hfft(z(a, b)), (re, im))
    assert ember.autograd.gradcheck(lambda a, b: V(F.fft2(z(a, b), s=(3, 4))), (re, im))


# -- windows ------------------------------------------------------------------------------------
WINDOWS = ["hann_window", "hamming_window", "blackman_window", "bartlett_window",
           "kaiser_window"]


@pytest.mark.parametrize("name", WINDOWS)
@pytest.mark.parametrize("periodic", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_windows(name, periodic, dtype):
    for n in (0, 1, 2, 5, 8, 11):
        t = getattr(torch, name)(n, periodic, dtype=getattr(torch, dtype))
        e = getattr(ember, name)(n, periodic, dtype=getattr(ember, dtype))
        assert str(e.dtype)[6:] == str(t.dtype)[6:]
        np.testing.assert_allclose(e.numpy(), t.numpy(), rtol=0,
                                   atol=1e-6 if dtype == "float32" else 1e-12)
    extra = {"hamming_window": (0.5, 0.4), "kaiser_window": (5.0,)}.get(name, ())
    t, e = getattr(torch, name)(7, False, *extra), getattr(ember, name)(7, False, *extra)
    np.testing.assert_allclose(e.numpy(), t.numpy(), atol=1e-6)
    assert getattr(ember, name)(4, requires_grad=True).requires_grad


@pytest.mark.parametrize("fn", [lambda t: t.hann_window(5, dtype=t.int64),
                                lambda t: t.kaiser_window(-1)])
def test_window_errors(fn):
    with pytest.raises(Exception) as t_info:
        fn(torch)
    with pytest.raises(type(t_info.value)) as e_info:
        fn(ember)
    assert str(e_info.value) == str(t_info.value)


# -- stft / istft -------------------------------------------------------------------------------
SIG = RNG.standard_normal((2, 40))


@pytest.mark.parametrize("kw", [
    dict(n_fft=8), dict(n_fft=8, hop_length=3, win_length=6, window="hann"),
    dict(n_fft=16, center=False, window="hamming"), dict(n_fft=8, pad_mode="constant"),
    dict(n_fft=8, normalized=True, window="hann"), dict(n_fft=8, onesided=False),
    dict(n_fft=7, hop_length=2, window="blackman", pad_mode="replicate"),
])
@pytest.mark.parametrize("batched", [True, False])
def test_stft_istft(kw, batched):
    x = SIG if batched else SIG[0]

    def make_window(t):
        name = kw.get("window")
        if name is None:
            return t.ones(kw.get("win_length", kw["n_fft"]), dtype=t.float64)
        return getattr(t, f"{name}_window")(kw.get("win_length", kw["n_fft"]),
                                            dtype=t.float64)

    def forward(t, x):
        args = {k: v for k, v in kw.items() if k != "window"}
        return t.stft(x, window=make_window(t), return_complex=True, **args)
    # stft/istft are compositions, so their last node is not compared
    _compare(forward, [x], node=False)

    inv_kw = {k: v for k, v in kw.items() if k not in ("window", "pad_mode")}

    def roundtrip(t, x):
        spec = forward(t, x)
        return t.istft(spec, window=make_window(t), length=x.shape[-1], **inv_kw)
    _compare(roundtrip, [x], node=False)
    if kw.get("center", True):
        _compare(lambda t, x: t.istft(forward(t, x), window=make_window(t), **inv_kw), [x],
                 node=False)


def test_istft_complex_input_gradient():
    spec = torch.stft(torch.tensor(SIG), 8, window=torch.hann_window(8, dtype=torch.float64),
                      return_complex=True).numpy()
    _compare(lambda t, s: t.istft(s, 8, window=t.hann_window(8, dtype=t.float64)), [spec],
             node=False)
    _compare(lambda t, s: t.istft(s, 8, window=t.hann_window(8, dtype=t.float64),
                                  length=45), [spec], node=False)


def test_stft_return_complex_false_and_warnings():
    for lib in (torch, ember):
        x = lib.tensor(SIG[0])
        with pytest.warns(UserWarning, match="return_complex=False is deprecated"):
            out = lib.stft(x, 8, window=lib.ones(8, dtype=lib.float64), return_complex=False)
        with pytest.warns(UserWarning, match="A window was not provided"):
            lib.stft(x, 8, return_complex=True)
        if lib is torch:
            expected = out.numpy()
        else:
            np.testing.assert_allclose(out.numpy(), expected, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("fn", [
    lambda t, x: t.stft(x, 8),
    lambda t, x: t.stft(x, 8, hop_length=0, return_complex=True),
    lambda t, x: t.stft(x, 8, win_length=9, return_complex=True),
    lambda t, x: t.stft(x, 80, return_complex=True),
    lambda t, x: t.stft(x, 8, window=t.ones(5), return_complex=True),
    lambda t, x: t.istft(t.stft(x, 8, window=t.ones(8), return_complex=True), 8,
                         window=t.zeros(8)),
])
def test_stft_errors(fn):
    x_t, x_e = torch.tensor(SIG[0]), ember.tensor(SIG[0])
    with pytest.raises(Exception) as t_info:
        fn(torch, x_t)
    with pytest.raises(type(t_info.value)) as e_info:
        fn(ember, x_e)
    # the message names the input's type, under each library's own prefix
    assert str(e_info.value) == str(t_info.value).replace("torch.", "ember.")


def test_out_argument():
    for lib in (torch, ember):
        out = lib.empty(4, 4, dtype=lib.complex128)
        res = lib.fft.rfft(lib.tensor(R), out=out)
        if lib is torch:
            expected = out.numpy().copy()
        else:
            assert res is out
            np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)


FWAD_CALLS = {
    "fft": lambda m, x: m.fft.fft(x),
    "ifft_complex": lambda m, x: m.fft.ifft(m.fft.fft(x, norm="forward")),
    "rfft2": lambda m, x: m.fft.rfft2(x),
    "irfft_n": lambda m, x: m.fft.irfft(m.fft.rfft(x), n=6),
    "ihfft": lambda m, x: m.fft.ihfft(x),
    "hfft": lambda m, x: m.fft.hfft(m.fft.fft(x)),
    "fftn_ortho": lambda m, x: m.fft.fftn(x, norm="ortho"),
}


@pytest.mark.parametrize("name", list(FWAD_CALLS))
def test_forward_ad_matches_torch(name):
    """The transforms are linear: their forward-mode tangent is the tangent's transform."""
    import torch.autograd.forward_ad as tfw

    import ember.autograd.forward_ad as efw
    rng = np.random.default_rng(0)
    x, t = rng.standard_normal((4, 6)), rng.standard_normal((4, 6))
    results = []
    for lib, fw in ((ember, efw), (torch, tfw)):
        with fw.dual_level():
            out = FWAD_CALLS[name](lib, fw.make_dual(lib.from_numpy(x), lib.from_numpy(t)))
            tangent = fw.unpack_dual(out).tangent
            results.append(tangent.resolve_conj().numpy() if lib is torch else tangent.numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-10, atol=1e-12)
