"""Autocast regions and GradScaler against PyTorch 2.13's CPU build."""

import warnings

import numpy as np
import pytest
import torch

import ember

LOWER = [  # ops on PyTorch's CPU lower-precision list: (name, call(t, F, x))
    ("mm", lambda t, F, a, b: t.mm(a, b)),
    ("matmul", lambda t, F, a, b: t.matmul(a, b)),
    ("@", lambda t, F, a, b: a @ b),
    ("bmm", lambda t, F, a, b: t.bmm(a[None], b[None])),
    ("addmm", lambda t, F, a, b: t.addmm(a, a, b)),
    ("baddbmm", lambda t, F, a, b: t.baddbmm(a[None], a[None], b[None])),
    ("addbmm", lambda t, F, a, b: t.addbmm(a, a[None], b[None])),
    ("linear", lambda t, F, a, b: F.linear(a, b, b[0])),
    ("conv1d", lambda t, F, a, b: F.conv1d(a[None], b[:, :, None])),
    ("conv2d", lambda t, F, a, b: F.conv2d(a[None, :, :, None], b[:, :, None, None])),
    ("conv3d", lambda t, F, a, b: F.conv3d(a[None, :, :, None, None], b[:, :, None, None, None])),
    ("conv_transpose1d", lambda t, F, a, b: F.conv_transpose1d(a[None], b[:, :, None])),
    ("prelu", lambda t, F, a, b: F.prelu(a, b[0, :1])),
    ("sdpa", lambda t, F, a, b: F.scaled_dot_product_attention(a, b, b)),
]
FULL = [  # ops on its float32 list
    ("mse_loss", lambda t, F, a, b: F.mse_loss(a, b)),
    ("l1_loss", lambda t, F, a, b: F.l1_loss(a, b)),
    ("smooth_l1_loss", lambda t, F, a, b: F.smooth_l1_loss(a, b)),
    ("kl_div", lambda t, F, a, b: F.kl_div(a, b, reduction="batchmean")),
    ("huber_loss", lambda t, F, a, b: F.huber_loss(a, b)),
    ("bce", lambda t, F, a, b: F.binary_cross_entropy(a.sigmoid(), b.sigmoid())),
    ("bce_logits", lambda t, F, a, b: F.binary_cross_entropy_with_logits(a, b.sigmoid())),
    ("cross_entropy", lambda t, F, a, b: F.cross_entropy(a, t.tensor([0, 1, 2, 0]))),
    ("nll_loss", lambda t, F, a, b: F.nll_loss(a, t.tensor([0, 1, 2, 0]))),
]
OTHER = [  # ops on neither list run in their inputs' dtype
    ("add", lambda t, F, a, b: a + b),
    ("relu", lambda t, F, a, b: F.relu(a)),
    ("softmax", lambda t, F, a, b: F.softmax(a, -1)),
]


def _pair(lib, dtype, seed=0):
    rng = np.random.default_rng(seed)
    a, b = (rng.standard_normal((4, 4)).astype(np.float32) for _ in range(2))
    return (lib.tensor(a).to(getattr(lib, dtype)), lib.tensor(b).to(getattr(lib, dtype)))


@pytest.mark.parametrize("cast_to", ["bfloat16", "float16"])
@pytest.mark.parametrize("in_dtype", ["float32", "float16", "float64"])
@pytest.mark.parametrize("name,fn", LOWER + FULL + OTHER, ids=[n for n, _ in LOWER + FULL + OTHER])
def test_output_dtypes(name, fn, in_dtype, cast_to):
    got = []
    for lib in (torch, ember):
        a, b = _pair(lib, in_dtype)
        with lib.autocast("cpu", dtype=getattr(lib, cast_to)):
            try:
                got.append(str(fn(lib, lib.nn.functional, a, b).dtype).split(".")[1])
            except (RuntimeError, NotImplementedError) as e:
                got.append(type(e).__name__)
    assert got[0] == got[1]


def test_nested_and_disabled_regions():
    for lib in (torch, ember):
        a, b = _pair(lib, "float32")
        seen = []
        assert not lib.is_autocast_enabled("cpu")
        with lib.autocast("cpu"):
            seen += [lib.is_autocast_enabled("cpu"), lib.get_autocast_dtype("cpu"),
                     lib.mm(a, b).dtype]
            with lib.autocast("cpu", dtype=lib.float16):
                seen += [lib.get_autocast_dtype("cpu"), lib.mm(a, b).dtype]
                with lib.autocast("cpu", enabled=False):
                    seen += [lib.is_autocast_enabled("cpu"), lib.mm(a, b).dtype]
                seen += [lib.mm(a, b).dtype]
            seen += [lib.get_autocast_dtype("cpu"), lib.mm(a, b).dtype]
        seen += [lib.is_autocast_enabled("cpu"), lib.is_autocast_enabled(), lib.mm(a, b).dtype]

        @lib.autocast("cpu", dtype=lib.float16)
        def decorated(x, y):
            return lib.mm(x, y)
        seen += [decorated(a, b).dtype, lib.amp.is_autocast_available("cpu")]
        if lib is torch:
            want = [str(s) for s in seen]
        else:
            assert [str(s).replace("ember", "torch") for s in seen] == want


def test_other_devices_warn_and_disable():
    msgs = []
    for lib in (torch, ember):
        a, b = _pair(lib, "float32")
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            with lib.autocast("cuda"):
                out = [lib.is_autocast_enabled("cuda"), lib.mm(a, b).dtype]
            with lib.autocast("cpu", dtype=lib.float64):
                out += [lib.is_autocast_enabled("cpu"), lib.mm(a, b).dtype]
            with lib.cuda.amp.autocast():
                out += [lib.mm(a, b).dtype]
        msgs.append((str(out).replace("ember", "torch"),
                     [(x.category, str(x.message)) for x in w]))
        with pytest.raises(RuntimeError) as e:
            lib.autocast("gpu")
        msgs.append(str(e.value))
    assert msgs[:2] == msgs[2:]


def test_cast_cache_and_grad_through_casts():
    res = []
    for lib in (torch, ember):
        w = lib.nn.Parameter(lib.tensor([[1.5, -2.0], [0.25, 3.0]]))
        x = lib.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        with lib.autocast("cpu", dtype=lib.float16):
            y = lib.mm(x, w) + lib.mm(x, w)
            loss = lib.nn.functional.mse_loss(y, lib.zeros(2, 2))
        loss.backward()
        res.append((type(y.grad_fn).__name__, y.dtype, loss.dtype, w.grad.dtype, x.grad.dtype,
                    w.grad.tolist(), x.grad.tolist(), loss.item()))
    t, e = res
    assert t[0] == e[0] and str(t[1:5]) == str(e[1:5]).replace("ember", "torch")
    np.testing.assert_allclose(e[5], t[5], rtol=1e-3)
    np.testing.assert_allclose(e[6], t[6], rtol=1e-3)
    assert e[7] == pytest.approx(t[7], rel=1e-3)


def test_custom_fwd_bwd():
    out = []
    for lib in (torch, ember):
        class Mm(lib.autograd.Function):
            @staticmethod
            @lib.amp.custom_fwd(device_type="cpu", cast_inputs=lib.float32)
            def forward(ctx, a, b):
                ctx.save_for_backward(a, b)
                return a.mm(b), lib.is_autocast_enabled("cpu")

            @staticmethod
            @lib.amp.custom_bwd(device_type="cpu")
            def backward(ctx, g, _):
                a, b = ctx.saved_tensors
                return g.mm(b.t()), a.t().mm(g)
        a, b = _pair(lib, "float16")
        a.requires_grad_()
        with lib.autocast("cpu", dtype=lib.float16):
            y, inside = Mm.apply(a, b)
            z = lib.mm(a, b)
        y.sum().backward()
        out.append(str((y.dtype, inside, z.dtype, a.grad.dtype)).replace("ember", "torch"))
    assert out[0] == out[1]


def _mlp(lib):
    lib.manual_seed(0)
    return lib.nn.Sequential(lib.nn.Linear(6, 16), lib.nn.ReLU(), lib.nn.Linear(16, 3))


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph")
@pytest.mark.parametrize("inside", [False, True])
@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_mlp_forward_backward(dtype, inside):
    rng = np.random.default_rng(1)
    xs, ys = rng.standard_normal((8, 6)).astype(np.float32), rng.integers(0, 3, 8)
    res = []
    for lib in (torch, ember):
        model = _mlp(lib)
        with lib.autocast("cpu", dtype=getattr(lib, dtype)):
            out = model(lib.tensor(xs))
            loss = lib.nn.functional.cross_entropy(out, lib.tensor(ys))
            if inside:
                loss.backward(create_graph=True)
        if not inside:
            loss.backward()
        res.append((out.dtype, loss.dtype, out.float().detach().numpy(), loss.item(),
                     [p.grad.detach().numpy().copy() for p in model.parameters()],
                     [p.grad.dtype for p in model.parameters()]))
    (t, e) = res
    assert str(t[0]) == str(e[0]).replace("ember", "torch") and str(t[1]) == str(e[1]).replace(
        "ember", "torch")
    assert [str(d) for d in t[5]] == [str(d).replace("ember", "torch") for d in e[5]]
    tol = 2e-2 if dtype == "bfloat16" else 2e-3
    np.testing.assert_allclose(e[2], t[2], rtol=tol, atol=tol)
    assert e[3] == pytest.approx(t[3], rel=tol, abs=tol)
    for ge, gt in zip(e[4], t[4]):
        np.testing.assert_allclose(ge, gt, rtol=tol, atol=tol)


def _scaler_run(lib, inject, **kw):
    """A few SGD steps through a GradScaler, with inf/NaN put into the grads on the steps in
    ``inject``; the history of scales, step results and params."""
    lib.manual_seed(0)
    model = lib.nn.Linear(3, 2)
    opt = lib.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scaler = lib.amp.GradScaler("cpu", **kw)
    x = lib.tensor([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
    hist = []
    for i in range(8):
        opt.zero_grad()
        loss = model(x).pow(2).mean()
        scaler.scale(loss).backward()
        if i in inject:
            model.weight.grad[0, 0] = inject[i]
        if i % 3 == 1:
            scaler.unscale_(opt)
            hist.append(model.weight.grad.tolist())
        r = scaler.step(opt)
        scaler.update()
        hist.append((r, scaler.get_scale(), scaler._get_growth_tracker(),
                     model.weight.tolist(), model.bias.tolist()))
    hist.append(scaler.state_dict())
    return hist


@pytest.mark.parametrize("kw", [{}, {"init_scale": 8.0, "growth_interval": 2},
                                {"growth_factor": 4.0, "backoff_factor": 0.25,
                                 "growth_interval": 3, "init_scale": 2.0 ** 120}])
def test_grad_scaler_matches_torch_step_for_step(kw):
    inject = {1: float("inf"), 2: float("nan"), 5: float("-inf")}
    t, e = _scaler_run(torch, inject, **kw), _scaler_run(ember, inject, **kw)
    assert len(t) == len(e)
    for a, b in zip(t, e):
        if isinstance(a, dict):
            assert a == b
        else:
            np.testing.assert_allclose(_flat(b), _flat(a), rtol=1e-5)


def _flat(x):
    if isinstance(x, (list, tuple)):
        return [v for item in x for v in _flat(item)]
    return [np.nan if x is None else float(x)]


def test_grad_scaler_errors_and_state():
    res = []
    for lib in (torch, ember):
        model = lib.nn.Linear(2, 1)
        opt = lib.optim.SGD(model.parameters(), lr=0.1)
        s = lib.amp.GradScaler("cpu")
        out = [s.is_enabled(), s.get_scale(), s.state_dict()]
        for call in (lambda: s.unscale_(opt), lambda: s.step(opt), lambda: s.update()):
            try:
                call()
            except Exception as err:  # noqa: BLE001 - comparing what each library raises
                out.append((type(err).__name__, str(err)))
        s.scale(model(lib.ones(1, 2)).sum()).backward()
        s.unscale_(opt)
        for call in (lambda: s.unscale_(opt), lambda: s.step(opt, closure=lambda: 0)):
            try:
                call()
            except Exception as err:  # noqa: BLE001
                out.append((type(err).__name__, str(err)))
        s.step(opt)
        for call in (lambda: s.step(opt), lambda: s.unscale_(opt)):
            try:
                call()
            except Exception as err:  # noqa: BLE001
                out.append((type(err).__name__, str(err)))
        s.update(4.0)
        out.append(s.get_scale())
        s2 = lib.amp.GradScaler("cpu")
        s2.load_state_dict(s.state_dict())
        out.append(s2.state_dict())
        off = lib.amp.GradScaler("cpu", enabled=False)
        loss = model(lib.ones(1, 2)).sum()
        out += [off.scale(loss) is loss, off.get_scale(), off.state_dict(), off.is_enabled()]
        with pytest.raises(RuntimeError) as err:
            s2.load_state_dict({})
        out.append(str(err.value))
        res.append(out)
    assert res[0] == res[1]


def test_cuda_grad_scaler_disables_itself():
    res = []
    for lib in (torch, ember):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            s = lib.amp.GradScaler("cuda")
            s_old = lib.cuda.amp.GradScaler()
        model = lib.nn.Linear(2, 1)
        opt = lib.optim.SGD(model.parameters(), lr=0.1)
        loss = model(lib.ones(1, 2)).sum()
        scaled = s.scale(loss)
        scaled.backward()
        res.append([s.is_enabled(), s_old.is_enabled(), scaled is loss, s.get_scale(),
                    s.step(opt), s.state_dict(), [(x.category, str(x.message)) for x in w]])
    assert res[0] == res[1]


def test_grad_scaler_with_bfloat16_model():
    res = []
    for lib in (torch, ember):
        lib.manual_seed(0)
        model = lib.nn.Linear(4, 3).to(lib.bfloat16)
        opt = lib.optim.SGD(model.parameters(), lr=0.5)
        scaler = lib.amp.GradScaler("cpu", init_scale=1024.0)
        x = lib.tensor([[0.3, -1.1, 2.0, 0.7]], dtype=lib.bfloat16)
        for _ in range(2):
            opt.zero_grad()
            scaler.scale(model(x).sum()).backward()
            scaler.unscale_(opt)
            grads = [p.grad.tolist() for p in model.parameters()]
            scaler.step(opt)
            scaler.update()
        res.append((grads, scaler.get_scale(), str(model.weight.grad.dtype).split(".")[1],
                    _flat([p.tolist() for p in model.parameters()])))
    assert res[0][:3] == res[1][:3]
    # PyTorch's SGD rounds each bfloat16 update; ember's updates in float32 arrays.
    np.testing.assert_allclose(res[1][3], res[0][3], rtol=1e-2)



def test_backward_inside_region_runs_under_it():  # PyTorch's CPU engine runs in the caller's thread
    res = []
    for lib in (torch, ember):
        class Scale(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2

            @staticmethod
            def backward(ctx, g):  # the mm is lowered, as in PyTorch
                return lib.mm(g, lib.eye(g.shape[1]) * 1.1) * 2

        x = lib.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        seen = []
        x.register_hook(lambda g: seen.append(str(g.dtype).split(".")[1]))
        with lib.autocast("cpu"):
            Scale.apply(x).sum().backward()
        res.append((seen, x.grad.tolist()))
    assert res[0] == res[1]
