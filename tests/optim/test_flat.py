"""The ``foreach=True``/``fused=True`` flat-buffer path (ember/optim/_flat.py): bitwise equal
to ember's per-parameter loop, close to torch's same flags, state dicts in torch's format,
torch's errors."""

import copy
import pickle

import numpy as np
import pytest
import torch

import ember
from ember.optim import _flat

from .test_optimizers import CONFIGS, structure

FLAT = [(n, kw) for n, kw in CONFIGS if n not in ("ASGD", "Adafactor")]
FLAT_IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'defaults'}"
            for n, kw in FLAT]
FUSED = [(n, kw) for n, kw in FLAT if n in ("SGD", "Adam", "AdamW", "Adagrad")]
FUSED_IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'defaults'}"
             for n, kw in FUSED]

# (shape, dtype) per parameter: 0-d, empty, mixed float32/float64 (one bucket each)
MODELS = {
    "mlp": [((16, 8), np.float32), ((16,), np.float32), ((4, 16), np.float32),
            ((4,), np.float32)],
    "mixed": [((3, 4), np.float32), ((), np.float64), ((5,), np.float32), ((0,), np.float32),
              ((2, 1, 3), np.float64), ((7,), np.float32)],
}


def make(lib, model, seed=0):
    rng = np.random.default_rng(seed)
    return [lib.nn.Parameter(lib.tensor(rng.standard_normal(s).astype(dt)))
            for s, dt in MODELS[model]]


def feed(lib, params, rng, step):
    """Gradients: parameter 1 never gets one (frozen), the last gets none every third step,
    so runs split and step counters diverge."""
    for i, p in enumerate(params):
        g = rng.standard_normal(tuple(p.shape)).astype(p.detach().numpy().dtype)
        if i == 1 or (i == len(params) - 1 and step % 3 == 2):
            p.grad = None
        else:
            p.grad = lib.tensor(g)


def train(lib, name, kwargs, model="mixed", steps=20, params=None, opt=None, seed=1):
    if params is None:
        params = make(lib, model)
        opt = getattr(lib.optim, name)(params, **kwargs)
    rng = np.random.default_rng(seed)
    for i in range(steps):
        feed(lib, params, rng, i)
        opt.step()
    return params, opt


def arrays(params):
    return [p.detach().numpy().copy() for p in params]


def assert_bitwise(a, b):
    for x, y in zip(a, b):
        assert x.dtype == y.dtype
        np.testing.assert_array_equal(x, y)


def assert_flattened(opt):
    """The flat path ran: parameters with state live in one buffer per dtype."""
    caches = opt.__dict__.get("_flat_buffers")
    assert caches, "the flat path did not run"
    for cache in caches.values():
        for bucket in cache.buckets:
            for p in bucket.params:
                assert p._data.base is bucket.flat_p


# -- numbers ---------------------------------------------------------------------------------
@pytest.mark.parametrize("model", list(MODELS))
@pytest.mark.parametrize("name,kwargs", FLAT, ids=FLAT_IDS)
def test_foreach_bitwise_equal_to_loop_and_close_to_torch(name, kwargs, model):
    loop, _ = train(ember, name, dict(kwargs, foreach=False), model)
    flat, opt = train(ember, name, dict(kwargs, foreach=True), model)
    assert_flattened(opt)
    assert_bitwise(arrays(loop), arrays(flat))
    ref, topt = train(torch, name, dict(kwargs, foreach=True), model)
    for e, t in zip(flat, ref):
        np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), rtol=1e-5,
                                   atol=1e-5)
    assert structure(opt.state_dict()) == structure(topt.state_dict())


@pytest.mark.parametrize("name,kwargs", FUSED, ids=FUSED_IDS)
def test_fused_bitwise_equal_to_loop_and_close_to_torch_fused(name, kwargs):
    loop, _ = train(ember, name, dict(kwargs, foreach=False))
    flat, opt = train(ember, name, dict(kwargs, fused=True))
    assert_flattened(opt)
    assert_bitwise(arrays(loop), arrays(flat))
    # torch's fused CPU kernels round differently from its loop (by an ulp or so)
    ref, topt = train(torch, name, dict(kwargs, fused=True))
    for e, t in zip(flat, ref):
        np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), rtol=1e-5,
                                   atol=1e-5)
    assert structure(opt.state_dict()) == structure(topt.state_dict())


@pytest.mark.parametrize("chunk,model", [(5, "mlp"), (10, "mixed")])
@pytest.mark.parametrize("name,kwargs", FLAT[::2], ids=FLAT_IDS[::2])
def test_chunked_update_is_bitwise_equal(name, kwargs, chunk, model, monkeypatch):
    # large members are stepped in chunks with their own gradient, small ones concatenated
    monkeypatch.setattr(_flat, "CHUNK", chunk)
    loop, lo = train(ember, name, dict(kwargs, foreach=False), model)
    flat, fo = train(ember, name, dict(kwargs, foreach=True), model)
    assert_bitwise(arrays(loop), arrays(flat))
    for a, b in zip(lo.state_dict()["state"].values(), fo.state_dict()["state"].values()):
        for k in a:
            np.testing.assert_array_equal(np.asarray(a[k].numpy()), np.asarray(b[k].numpy()))


@pytest.mark.parametrize("name", ["Adam", "SGD", "Rprop"])
def test_complex_parameters(name):
    kw = dict(lr=0.01, momentum=0.9) if name == "SGD" else dict(lr=0.01)
    rng = np.random.default_rng(0)
    init = [(rng.standard_normal(s) + 1j * rng.standard_normal(s)).astype(np.complex64)
            for s in [(3, 2), (4,)]]
    out = []
    for foreach in (False, True):
        ps = [ember.nn.Parameter(ember.tensor(a.copy())) for a in init]
        opt = getattr(ember.optim, name)(ps, foreach=foreach, **kw)
        r = np.random.default_rng(1)
        for _ in range(5):
            for p in ps:
                p.grad = ember.tensor((r.standard_normal(p.shape)
                                       + 1j * r.standard_normal(p.shape)).astype(np.complex64))
            opt.step()
        out.append(arrays(ps))
    assert_bitwise(*out)


def test_bfloat16_parameters_take_the_loop():
    ps = [ember.nn.Parameter(ember.randn(4, dtype=ember.bfloat16)) for _ in range(2)]
    ref = [ember.nn.Parameter(p.detach().clone()) for p in ps]
    for params, foreach in ((ps, True), (ref, False)):
        opt = ember.optim.Adam(params, lr=0.1, foreach=foreach)
        for _ in range(3):
            for p in params:
                p.grad = ember.ones(4, dtype=ember.bfloat16)
            opt.step()
    for a, b in zip(ps, ref):
        assert a.dtype == ember.bfloat16
        assert ember.equal(a, b)


# -- what parameters keep --------------------------------------------------------------------
def test_parameters_keep_identity_grad_and_version_counter():
    ps = make(ember, "mlp")
    ids, before = [id(p) for p in ps], arrays(ps)
    opt = ember.optim.Adam(ps, lr=0.1, foreach=True)
    versions = [p._version for p in ps]
    for p in ps:
        p.grad = ember.ones_like(p)
    grads = [p.grad for p in ps]
    opt.step()
    assert [id(p) for p in ps] == ids
    assert all(p.requires_grad and p.is_leaf and isinstance(p, ember.nn.Parameter) for p in ps)
    assert all(p.grad is g for p, g in zip(ps, grads))
    assert [p._version for p in ps] == [v + 1 for v in versions]
    assert all(not np.array_equal(a, b) for a, b in zip(arrays(ps), before))
    # a tensor saved for backward before the step is caught, as with the loop
    x = ember.ones(3, 8)
    loss = (x @ ps[0].t()).sum()
    opt.step()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def test_replaced_parameter_data_and_state_are_picked_up():
    for change in ("data", "load_state_dict", "state entry"):
        runs = []
        for foreach in (False, True):
            ps = make(ember, "mlp")
            opt = ember.optim.Adam(ps, lr=0.1, foreach=foreach)
            rng = np.random.default_rng(3)
            for i in range(6):
                feed(ember, ps, rng, i)
                opt.step()
                if i != 2:
                    continue
                if change == "data":
                    ps[0].data = ember.full((16, 8), 0.5)       # a new array behind ps[0]
                elif change == "load_state_dict":
                    opt.load_state_dict(copy.deepcopy(opt.state_dict()))
                else:                                           # a new state dict, same group
                    opt.state[ps[2]] = copy.deepcopy(opt.state[ps[2]])
            # the optimizer's own state entries are the ones that moved on
            runs.append(arrays(ps) + [v.numpy().copy() for st in opt.state.values()
                                      for v in st.values()])
        assert_bitwise(*runs)


def test_add_param_group_and_dtype_change():
    runs = []
    for foreach in (False, True):
        ps = make(ember, "mlp")
        opt = ember.optim.SGD(ps[:2], lr=0.1, momentum=0.9, foreach=foreach)
        extra = [ember.nn.Parameter(ember.randn(5, generator=ember.Generator().manual_seed(0)))]
        for i in range(8):
            if i == 3:
                opt.add_param_group({"params": ps[2:] + extra, "lr": 0.01})
            if i == 5:
                ps[3].data = ps[3].detach().double()
            for p in opt.param_groups[-1]["params"] + ps[:2]:
                p.grad = ember.full_like(p, 0.25 * (i + 1))
            opt.step()
        runs.append(arrays(ps + extra))
    assert_bitwise(*runs)
    assert len(opt._flat_buffers) == 2


def test_state_dict_is_torchs_format_and_round_trips():
    name, kw = "Adam", dict(lr=0.01, amsgrad=True)
    flat, fo = train(ember, name, dict(kw, foreach=True), steps=10)
    ref, to = train(torch, name, dict(kw, foreach=True), steps=10)
    sd, tsd = fo.state_dict(), to.state_dict()
    assert structure(sd) == structure(tsd)
    for k, st in tsd["state"].items():
        for key, v in st.items():
            np.testing.assert_allclose(sd["state"][k][key].numpy(), v.numpy(), rtol=1e-5,
                                       atol=1e-6)
    # through pickle (torch.save's path), into a loop optimizer and a flat one: both continue
    # exactly as the uninterrupted flat optimizer does
    blob = pickle.dumps(sd)
    resumed = []
    for foreach in (False, True):
        ps = [ember.nn.Parameter(ember.tensor(a)) for a in arrays(flat)]
        opt = ember.optim.Adam(ps, foreach=foreach, **kw)
        opt.load_state_dict(pickle.loads(blob))
        train(ember, name, {}, params=ps, opt=opt, steps=7, seed=9)
        resumed.append(arrays(ps))
    train(ember, name, {}, params=flat, opt=fo, steps=7, seed=9)
    assert_bitwise(resumed[0], arrays(flat))
    assert_bitwise(resumed[1], arrays(flat))
    # the steps of parameters that skipped gradients stay their own
    steps = [float(s["step"]) for s in fo.state_dict()["state"].values()]
    assert len(set(steps)) > 1


def test_deepcopy_and_pickle_of_a_flat_optimizer():
    ps, opt = train(ember, "Adam", dict(lr=0.01, foreach=True), "mlp", steps=4)
    clone = copy.deepcopy((ps, opt))
    assert "_flat_buffers" not in pickle.loads(pickle.dumps(opt)).__dict__
    train(ember, "Adam", {}, "mlp", params=ps, opt=opt, steps=3, seed=4)
    train(ember, "Adam", {}, "mlp", params=clone[0], opt=clone[1], steps=3, seed=4)
    assert_bitwise(arrays(ps), arrays(clone[0]))


def test_compiled_training_step_with_foreach_matches_the_eager_loop():
    nn = ember.nn

    def run(foreach, compiled):
        ember.manual_seed(0)
        model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
        opt = ember.optim.Adam(model.parameters(), lr=1e-2, foreach=foreach)
        x, y = ember.randn(5, 8), ember.tensor([0, 1, 2, 0, 1])

        def step():
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return loss
        step = ember.compile(step) if compiled else step
        for _ in range(6):
            step()
        return arrays(model.parameters())

    assert_bitwise(run(False, False), run(True, True))


def test_grad_scale_and_found_inf_on_the_fused_path():
    runs = []
    for fused in (False, True):
        ps = make(ember, "mlp")
        opt = ember.optim.Adam(ps, lr=0.1, fused=fused)
        opt.grad_scale = ember.tensor(4.0)
        for i in range(3):
            opt.found_inf = ember.tensor(1.0 if i == 1 else 0.0)
            for p in ps:
                p.grad = ember.full_like(p, 2.0 + i)
            opt.step()
        runs.append(arrays(ps))
        assert float(opt.state[ps[0]]["step"]) == 2
    assert_bitwise(*runs)


# -- errors ----------------------------------------------------------------------------------
def _raises(fn):
    try:
        fn()
    except Exception as e:          # noqa: BLE001
        return type(e), str(e)
    return None


def both(build):
    """The same call under torch and ember: the same exception type and message (ember
    names its dtypes ``ember.complex64`` where torch says ``torch.complex64``)."""
    e = _raises(lambda: build(ember))
    if e is not None:
        e = e[0], e[1].replace("ember.", "torch.")
    return _raises(lambda: build(torch)), e


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "Adagrad", "RMSprop", "NAdam"])
def test_flag_errors_match_torch(name):
    def ctor(**kw):
        def build(lib):
            getattr(lib.optim, name)([lib.nn.Parameter(lib.randn(3))], lr=0.1, **kw)
        return build

    for kw in (dict(fused=True, foreach=True), dict(fused=True, differentiable=True),
               dict(fused=True)):
        t, e = both(ctor(**kw))
        assert t == e and (t is not None or name in FUSED_NAMES)


FUSED_NAMES = ("SGD", "Adam", "AdamW", "Adagrad")


@pytest.mark.parametrize("name", ["Adam", "AdamW", "RMSprop", "Adamax", "Adadelta", "RAdam",
                                  "NAdam", "Rprop"])
@pytest.mark.parametrize("flags", [dict(foreach=True), dict(fused=True)])
def test_capturable_on_the_flat_path_matches_torch(name, flags):
    if "fused" in flags and name not in FUSED_NAMES:
        return

    def build(lib):
        p = lib.nn.Parameter(lib.randn(3))
        opt = getattr(lib.optim, name)([p], lr=0.1, capturable=True, **flags)
        p.grad = lib.randn(3)
        opt.step()

    t, e = both(build)
    assert t == e


@pytest.mark.parametrize("name", ["SGD", "Adam", "Adagrad"])
def test_fused_rejects_complex_parameters_like_torch(name):
    def build(lib):
        p = lib.nn.Parameter(lib.randn(3, dtype=lib.complex64))
        opt = getattr(lib.optim, name)([p], lr=0.1, fused=True)
        p.grad = lib.randn(3, dtype=lib.complex64)
        opt.step()

    t, e = both(build)
    assert t is not None and t == e


def test_foreach_with_differentiable_raises_at_step_like_torch():
    def build(lib):
        p = lib.nn.Parameter(lib.randn(3))
        opt = lib.optim.Adam([p], lr=0.1, foreach=True, differentiable=True)
        p.grad = lib.randn(3)
        opt.step()

    t, e = both(build)
    assert t is not None and t == e


def test_parameters_in_memory_numpy_does_not_own_keep_it():
    """Shared-memory parameters (Hogwild) and parameters over a foreign buffer take the
    loop, so their memory stays shared; the rest of the group is flattened."""
    buf = bytearray(12)
    foreign = ember.nn.Parameter(ember.from_numpy(np.frombuffer(buf, dtype=np.float32)))
    shared = ember.nn.Parameter(ember.zeros(4)).share_memory_()
    own = ember.nn.Parameter(ember.randn(3))
    before = own.detach().numpy().copy()
    opt = ember.optim.SGD([foreign, shared, own], lr=1.0, foreach=True)
    for _ in range(2):
        for p in (foreign, shared, own):
            p.grad = ember.ones_like(p)
        opt.step()
    np.testing.assert_array_equal(np.frombuffer(buf, dtype=np.float32), -2.0)
    assert shared.is_shared()
    np.testing.assert_array_equal(shared.detach().numpy(), -2.0)
    np.testing.assert_array_equal(own.detach().numpy(), before - 2.0)
    assert [b.params for b in opt._flat_buffers[id(opt.param_groups[0])].buckets] == [[own]]


def test_buffers_of_replaced_groups_are_released():
    ps, opt = train(ember, "Adam", dict(lr=0.01, foreach=True), "mlp", steps=2)
    opt.load_state_dict(opt.state_dict())           # new group dicts
    train(ember, "Adam", {}, "mlp", params=ps, opt=opt, steps=1)
    assert set(opt._flat_buffers) == {id(g) for g in opt.param_groups}


def test_a_parameter_listed_twice_is_stepped_twice_like_the_loop():
    runs = []
    for foreach in (False, True):
        ps = make(ember, "mlp")
        with pytest.warns(UserWarning, match="duplicate parameters"):
            opt = ember.optim.SGD(ps + ps[:1], lr=0.1, momentum=0.9, foreach=foreach)
        for i in range(4):
            for p in ps:
                p.grad = ember.full_like(p, 0.5 + i)
            opt.step()
        runs.append(arrays(ps))
    assert_bitwise(*runs)
