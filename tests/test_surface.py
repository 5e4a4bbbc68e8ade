"""What training scripts touch around the ops, as PyTorch's CPU-only build has it:
``cuda``, ``backends``, ``version``, the default device, ``jit``, ``hub``, constants, tensor
storage facts and hooks, and Module device moves and hooks -- each against real torch."""

import io
import warnings

import numpy as np
import pytest
import torch

import ember


def _same_outcome(call):
    """Run ``call(lib)`` under both libraries: same value, or same exception and message."""
    out = {}
    for lib in (torch, ember):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out[lib.__name__] = ("ok", call(lib))
        except Exception as e:  # noqa: BLE001 - compared below
            out[lib.__name__] = (type(e).__name__, str(e).replace("ember", "torch"))
    assert out["ember"] == out["torch"]
    return out["ember"]


CUDA_CALLS = {
    "is_available": lambda c: c.is_available(),
    "device_count": lambda c: c.device_count(),
    "is_initialized": lambda c: c.is_initialized(),
    "current_device": lambda c: c.current_device(),
    "get_device_name": lambda c: c.get_device_name(),
    "get_device_name0": lambda c: c.get_device_name(0),
    "get_device_capability": lambda c: c.get_device_capability(),
    "get_device_properties": lambda c: c.get_device_properties(0),
    "memory_allocated": lambda c: c.memory_allocated(),
    "max_memory_allocated": lambda c: c.max_memory_allocated("cuda:0"),
    "memory_reserved": lambda c: c.memory_reserved(),
    "max_memory_reserved": lambda c: c.max_memory_reserved(),
    "memory_stats": lambda c: dict(c.memory_stats()),
    "reset_peak_memory_stats": lambda c: c.reset_peak_memory_stats(),
    "set_device0": lambda c: c.set_device(0),
    "set_device_neg": lambda c: c.set_device(-1),
    "set_device_cpu": lambda c: c.set_device("cpu"),
    "set_device_cuda": lambda c: c.set_device("cuda"),
    "Event": lambda c: c.Event(enable_timing=True),
    "Stream": lambda c: c.Stream(),
    "current_stream": lambda c: c.current_stream(),
    "synchronize": lambda c: c.synchronize(),
    "empty_cache": lambda c: c.empty_cache(),
    "manual_seed": lambda c: c.manual_seed(0),
    "manual_seed_all": lambda c: c.manual_seed_all(0),
    "initial_seed": lambda c: c.initial_seed(),
    "get_rng_state_all": lambda c: c.get_rng_state_all(),
    "is_bf16_supported": lambda c: c.is_bf16_supported(),
    "mem_get_info": lambda c: c.mem_get_info(),
    "get_arch_list": lambda c: c.get_arch_list(),
    "device_ctx": lambda c: c.device(0).__enter__(),
    "device_ctx_neg": lambda c: c.device(-1).__enter__() is not None,
    "stream_ctx_none": lambda c: c.stream(None).__enter__(),
    "oom_is_runtime_error": lambda c: issubclass(c.OutOfMemoryError, RuntimeError),
}


@pytest.mark.parametrize("name", list(CUDA_CALLS))
def test_cuda_namespace_matches_cpu_build(name):
    _same_outcome(lambda lib: CUDA_CALLS[name](lib.cuda))


def test_cuda_amp_names():
    import ember.cuda.amp as amp
    assert {"GradScaler", "autocast", "custom_fwd", "custom_bwd"} <= set(dir(torch.cuda.amp))
    assert {"GradScaler", "autocast", "custom_fwd", "custom_bwd"} <= set(dir(amp))
    with pytest.warns(FutureWarning, match=r"torch.cuda.amp.custom_fwd\(args...\)"):
        fwd = ember.cuda.amp.custom_fwd(lambda ctx, x: x * 2)
    assert fwd(None, 3) == 6
    with pytest.warns(FutureWarning):
        assert ember.cuda.amp.custom_fwd(cast_inputs=ember.float32)(lambda x: x + 1)(1) == 2


def _warning_texts(record):
    return [(w.category.__name__, str(w.message)) for w in record]


@pytest.mark.parametrize("enabled", [True, False])
def test_cuda_amp_is_disabled_without_cuda(enabled):
    """An AMP training step runs as in float32, with torch's warnings, in both libraries."""
    results = []
    for lib in (torch, ember):
        lib.manual_seed(0)
        model = lib.nn.Linear(3, 1)
        opt = lib.optim.SGD(model.parameters(), lr=0.1) if lib is ember else None
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            scaler = lib.cuda.amp.GradScaler(enabled=enabled)
            with lib.cuda.amp.autocast(enabled=enabled):
                loss = model(lib.ones(2, 3)).pow(2).mean()

            @lib.cuda.amp.autocast()
            def double(x):
                return x * 2
        assert scaler.scale(loss) is loss
        scaler.scale(loss).backward()
        assert scaler.unscale_(opt) is None
        grads = [p.grad.tolist() for p in model.parameters()]
        if opt is not None:
            assert scaler.step(opt) is None
            assert model.bias.item() != 0.0
        scaler.update()
        scaler.load_state_dict({"scale": 3.0})
        results.append((_warning_texts(record), scaler.is_enabled(), scaler.get_scale(),
                        scaler.state_dict(), round(loss.item(), 6), grads,
                        double(lib.ones(1)).tolist()))
    assert results[0] == results[1]


def test_backends_flags():
    for lib in (torch, ember):
        b = lib.backends
        assert (b.cudnn.enabled, b.cudnn.benchmark, b.cudnn.deterministic, b.cudnn.allow_tf32,
                b.cudnn.is_available(), b.cudnn.version()) == (True, False, False, True, False,
                                                               None)
        assert (b.mps.is_available(), b.mps.is_built(), b.cuda.is_built()) == (False,) * 3
        assert b.cuda.matmul.allow_fp16_reduced_precision_reduction is True
        assert b.cuda.flash_sdp_enabled() is True
        b.cudnn.benchmark = True
        assert lib.backends.cudnn.benchmark is True
        b.cudnn.benchmark = False
    _same_outcome(lambda lib: lib.backends.cuda.matmul.not_a_flag)
    _same_outcome(lambda lib: setattr(lib.backends.cuda.matmul, "not_a_flag", 1))
    import ember.backends.cudnn as cudnn
    assert cudnn is ember.backends.cudnn


@pytest.mark.filterwarnings("ignore:TF32 acceleration on top of oneDNN")  # torch-only noise
def test_backend_flag_contexts():
    for lib in (torch, ember):
        b = lib.backends
        with b.cudnn.flags(enabled=False, deterministic=True):
            assert (b.cudnn.enabled, b.cudnn.deterministic, b.cudnn.benchmark) == \
                (False, True, False)
        assert (b.cudnn.enabled, b.cudnn.deterministic) == (True, False)
        with b.mkldnn.flags(enabled=False):
            assert b.mkldnn.enabled is False
        assert b.mkldnn.enabled is True
        with pytest.warns(FutureWarning, match="sdp_kernel"):
            with b.cuda.sdp_kernel(enable_flash=False) as k:
                assert k == {} and b.cuda.flash_sdp_enabled() is False
        assert b.cuda.flash_sdp_enabled() is True


@pytest.mark.parametrize("steps", [
    [("set", "high")], [("set", "medium")], [("set", "highest")],
    [("tf32", True)], [("set", "high"), ("set", "highest")], [("set", "bad")]])
def test_float32_matmul_precision(steps):
    def run(lib):
        for kind, value in steps:
            if kind == "set":
                lib.set_float32_matmul_precision(value)
            else:
                lib.backends.cuda.matmul.allow_tf32 = value
        return lib.get_float32_matmul_precision(), lib.backends.cuda.matmul.allow_tf32
    try:
        if steps[-1] == ("set", "bad"):
            with pytest.warns(UserWarning, match="bad is not one of"):
                ember.set_float32_matmul_precision("bad")
        _same_outcome(run)
    finally:
        torch.set_float32_matmul_precision("highest")
        ember.set_float32_matmul_precision("highest")


def test_version():
    v = ember.__version__
    assert v is ember.version.__version__
    assert v.startswith(torch.__version__.split("+")[0] + "+ember.")
    assert ember.version.ember_version in v and ember.version.cuda is None
    assert ember.version.hip is None and ember.version.debug is False
    tv = type(torch.__version__)(str(v))  # torch's own comparisons agree with ember's
    for other in ["2.0", "2.13", "2.13.0", "2.13.0a0", "2.13.1", "2.14.0.dev20240101",
                  "1.13.1", (2, 13), (2, 13, 0), (2, 13, 1), "2.13.0+cpu", "2.13.0.post1"]:
        for op in ("__lt__", "__le__", "__gt__", "__ge__", "__eq__"):
            assert getattr(v, op)(other) == getattr(tv, op)(other), (other, op)
    assert v >= "2.0" and v > (2, 1)


@pytest.mark.parametrize("device", [None, "cpu", "cuda", "cuda:1", 0, "meta"])
def test_default_device(device):
    def run(lib):
        lib.set_default_device(device)
        try:
            return str(lib.get_default_device())
        finally:
            lib.set_default_device(None)
    _same_outcome(run)
    assert str(ember.get_default_device()) == "cpu"


@pytest.mark.parametrize("device", ["cuda", "cuda:0", "mps", 0, "cpu"])
def test_module_to_device(device):
    _same_outcome(lambda lib: repr(lib.nn.Linear(2, 2).to(device)))
    _same_outcome(lambda lib: repr(lib.nn.Linear(2, 2).to(device, lib.float64)))
    _same_outcome(lambda lib: repr(lib.nn.Linear(2, 2).to(device=lib.device(str(device))))
                  if isinstance(device, str) else None)
    _same_outcome(lambda lib: repr(lib.nn.Module().to(device)))
    _same_outcome(lambda lib: repr(lib.nn.ReLU().to(device)))
    _same_outcome(lambda lib: repr(lib.nn.BatchNorm1d(2, affine=False,
                                                      track_running_stats=False).to(device)))


def test_constants():
    for name in ("pi", "e", "inf", "nan"):
        t, e = getattr(torch, name), getattr(ember, name)
        assert type(e) is type(t) and (e == t or (np.isnan(e) and np.isnan(t)))


def test_tensor_storage_facts():
    def facts(lib):
        t = lib.arange(12.).reshape(3, 4)
        return (t.nbytes, t.itemsize, t.is_cpu, t[1].storage_offset(), t[:, 2].storage_offset(),
                t.t().storage_offset(), t[1:, 1:][1].storage_offset(), t.is_pinned(),
                lib.ones(3, dtype=lib.int16).nbytes)
    _same_outcome(facts)
    _same_outcome(lambda lib: lib.ones(2).pin_memory())


@pytest.mark.parametrize("args", [(2, 3), ([1, 2],), ((2, 3),), (), (5,)])
def test_tensor_new(args):
    def run(lib):
        n = lib.ones(2, dtype=lib.float64).new(*args)
        return tuple(n.shape), str(n.dtype).split(".")[1], n.requires_grad, \
            (n.tolist() if args and isinstance(args[0], list) else None)
    _same_outcome(run)
    _same_outcome(lambda lib: lib.ones(2, dtype=lib.int32).new([1.7]).tolist())
    for lib in (torch, ember):  # a tensor of another dtype: a TypeError (torch's message
        with pytest.raises(TypeError):  # spells C++ TensorOptions)
            lib.ones(2).new(lib.ones(2, dtype=lib.int64))


def test_post_accumulate_grad_hook():
    def run(lib):
        x = lib.ones(2, requires_grad=True)
        seen = []
        h = x.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.tolist()))
        (x * 3).sum().backward()
        (x * 3).sum().backward()
        lib.autograd.grad((x * 3).sum(), x)  # no accumulation: no call
        h.remove()
        (x * 3).sum().backward()
        return seen, x.grad.tolist()
    _same_outcome(run)
    _same_outcome(lambda lib: lib.ones(2).register_post_accumulate_grad_hook(print))
    _same_outcome(lambda lib: (lib.ones(2, requires_grad=True) * 2)
                  .register_post_accumulate_grad_hook(print))

    def returns_value(lib):
        x = lib.ones(2, requires_grad=True)
        x.register_post_accumulate_grad_hook(lambda p: lib.zeros(2))
        x.sum().backward()
    _same_outcome(returns_value)


def test_load_state_dict_pre_hook():
    def run(lib):
        seq = lib.nn.Sequential(lib.nn.Linear(2, 2))
        calls = []

        def rename(module, state_dict, prefix, local_metadata, strict, missing, unexpected,
                   errors):
            calls.append((type(module).__name__, prefix, sorted(state_dict)))
            if prefix + "w" in state_dict:
                state_dict[prefix + "weight"] = state_dict.pop(prefix + "w")
        h = seq[0].register_load_state_dict_pre_hook(rename)
        result = seq.load_state_dict({"0.w": lib.zeros(2, 2), "0.bias": lib.ones(2)})
        h.remove()
        with pytest.raises(RuntimeError):
            seq.load_state_dict({"0.w": lib.zeros(2, 2), "0.bias": lib.ones(2)})
        return calls, repr(result), seq[0].weight.tolist()
    _same_outcome(run)


def test_legacy_backward_hook():
    def run(lib):
        class Double(lib.nn.Module):
            def forward(self, x):
                return x * 2
        m, log = Double(), []
        m.register_backward_hook(lambda mod, gi, go: log.append(
            ([None if g is None else g.tolist() for g in gi], [g.tolist() for g in go])))
        x = lib.ones(3, requires_grad=True)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            y = m(x)
        y.sum().backward()
        try:
            m.register_full_backward_hook(lambda *a: None)
        except RuntimeError as e:
            log.append(str(e))
        scaled = Double()
        scaled.register_backward_hook(lambda mod, gi, go: (gi[0] * 10,) + tuple(gi[1:]))
        z = lib.ones(2, requires_grad=True)
        scaled(z).sum().backward()
        return log, x.grad.tolist(), z.grad.tolist(), [str(i.message) for i in w]
    _same_outcome(run)

    def full_then_legacy(lib):
        m = lib.nn.Linear(2, 2)
        m.register_full_backward_hook(lambda *a: None)
        m.register_backward_hook(lambda *a: None)
    _same_outcome(full_then_legacy)


def test_jit_pass_throughs():
    m = ember.nn.Linear(2, 2)
    assert ember.jit.script(m) is m
    assert ember.jit.trace(m, ember.ones(1, 2)) is m

    def f(x):
        return x * 2
    assert ember.jit.script(f) is f and ember.jit.trace(f, (ember.ones(1),)) is f
    assert ember.jit.ignore(f) is f and ember.jit.ignore(drop=True)(f) is f
    assert ember.jit.unused(f) is f and ember.jit.export(f) is f
    assert ember.jit.script_method(f) is f
    for lib in (torch, ember):
        assert lib.jit.is_scripting() is False and lib.jit.is_tracing() is False
        assert issubclass(lib.jit.ScriptModule, lib.nn.Module)
        assert lib.jit.annotate(int, 3) == 3
        assert issubclass(lib.jit.TracerWarning, Warning)
        assert issubclass(lib.jit.RecursiveScriptModule, lib.jit.ScriptModule)
        with lib.jit.optimized_execution(False):
            pass

    class Scripted(ember.jit.ScriptModule):
        def __init__(self):
            super().__init__()
            self.lin = ember.nn.Linear(2, 1)

        @ember.jit.export
        def forward(self, x):
            return self.lin(x)
    assert Scripted()(ember.ones(1, 2)).shape == (1, 1)
    _same_outcome(lambda lib: lib.jit.freeze(lib.jit.script(lib.nn.Linear(2, 2))))


def test_jit_save_load_round_trip(tmp_path):
    ember.manual_seed(0)
    m = ember.nn.Sequential(ember.nn.Linear(3, 2), ember.nn.ReLU())
    path = tmp_path / "m.pt"
    ember.jit.save(ember.jit.script(m), str(path), _extra_files={"meta.txt": "hello"})
    extra = {"meta.txt": "", "missing": ""}
    loaded = ember.jit.load(str(path), _extra_files=extra)
    assert extra == {"meta.txt": b"hello", "missing": b""}
    x = ember.randn(4, 3)
    np.testing.assert_array_equal(loaded(x).detach().numpy(), m(x).detach().numpy())
    buf = io.BytesIO()
    ember.jit.save(m, buf)
    buf.seek(0)
    assert repr(ember.jit.load(buf)) == repr(m)
    _same_outcome(lambda lib: lib.jit.load(str(tmp_path / "nope.pt")))
    torch.jit.save(torch.jit.script(torch.nn.Linear(1, 1)), str(tmp_path / "t.pt"))
    with pytest.raises(RuntimeError) as te:
        torch.jit.load(str(tmp_path / "t.pt"), map_location="cuda")
    with pytest.raises(RuntimeError) as ee:
        ember.jit.load(str(path), map_location="cuda")
    assert str(ee.value) == str(te.value)
    assert repr(ember.jit.load(str(path), map_location={"cuda:0": "cpu"})) == repr(m)


def test_hub_load_state_dict_from_url(tmp_path, capsys):
    ember.manual_seed(0)
    model = ember.nn.Linear(3, 2)
    src = tmp_path / "weights-abc.safetensors"
    ember.save(model.state_dict(), str(src))
    cache = tmp_path / "hub"
    ember.hub.set_dir(str(cache))
    try:
        assert ember.hub.get_dir() == str(cache)
        sd = ember.hub.load_state_dict_from_url(src.as_uri())
        assert "Downloading" in capsys.readouterr().err
        cached = cache / "checkpoints" / src.name
        assert cached.exists()
        fresh = ember.nn.Linear(3, 2)
        fresh.load_state_dict(sd)
        np.testing.assert_array_equal(fresh.weight.detach().numpy(),
                                      model.weight.detach().numpy())
        src.unlink()  # the cache answers now: no source needed
        sd2 = ember.hub.load_state_dict_from_url(src.as_uri())
        assert "Downloading" not in capsys.readouterr().err
        assert sorted(sd2) == sorted(sd)
        with pytest.raises(RuntimeError, match="invalid hash value"):
            ember.save(model.state_dict(), str(src))
            ember.hub.load_state_dict_from_url(src.as_uri(), model_dir=str(tmp_path / "o"),
                                               check_hash=True)
        named = ember.hub.load_state_dict_from_url(src.as_uri(), file_name="x.safetensors")
        assert sorted(named) == sorted(sd) and (cache / "checkpoints" / "x.safetensors").exists()
    finally:
        ember.hub._hub_dir = None


def test_hub_local_repo(tmp_path):
    (tmp_path / "hubconf.py").write_text(
        "import ember\n\ndef tiny(n=2):\n    '''A tiny model.'''\n"
        "    return ember.nn.Linear(n, 1)\n")
    m = ember.hub.load(str(tmp_path), "tiny", 4, source="local")
    assert m.in_features == 4
    assert ember.hub.list(str(tmp_path), source="local") == ["tiny"]
    assert ember.hub.help(str(tmp_path), "tiny", source="local") == "A tiny model."
    with pytest.raises(ValueError, match="Unknown source"):
        ember.hub.load(str(tmp_path), "tiny", source="ftp")
