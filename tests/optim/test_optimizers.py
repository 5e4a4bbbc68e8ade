"""Optimizers against torch.optim: the same parameters and gradient stream, step by step."""

import copy
import warnings

import numpy as np
import pytest
import torch

import ember

SHAPES = [(3, 4), (), (5,), (2, 1, 3)]

# (optimizer name, kwargs): every option each optimizer has, alone and combined
CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01, maximize=True)),
    ("SGD", dict(lr=0.1, weight_decay=0.1, maximize=True)),
    ("Adam", dict()),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, amsgrad=True, maximize=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, amsgrad=True)),
    ("AdamW", dict()),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True, maximize=True)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.01, alpha=0.9, eps=1e-6, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, centered=True)),
    ("RMSprop", dict(lr=0.001, momentum=0.5, centered=True, weight_decay=0.1, maximize=True)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.5,
                     eps=1e-8, maximize=True)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-5, weight_decay=0.1, maximize=True)),
    ("Adamax", dict()),
    ("Adamax", dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1, maximize=True)),
    ("NAdam", dict()),
    ("NAdam", dict(lr=0.01, momentum_decay=0.01, weight_decay=0.1)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("RAdam", dict()),
    ("RAdam", dict(lr=0.01, betas=(0.8, 0.9), weight_decay=0.1)),
    ("RAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("ASGD", dict()),
    ("ASGD", dict(lr=0.05, lambd=0.01, alpha=0.5, t0=10, weight_decay=0.1, maximize=True)),
    ("Rprop", dict()),
    ("Rprop", dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.2), maximize=True)),
    ("Adafactor", dict()),
    ("Adafactor", dict(lr=0.05, beta2_decay=-0.5, eps=(1e-4, 1e-2), d=1.5, weight_decay=0.1,
                       maximize=True)),
]
IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'defaults'}" for n, kw in CONFIGS]
TOL = {np.float64: dict(rtol=1e-7, atol=1e-9), np.float32: dict(rtol=1e-5, atol=1e-5)}


def make_params(dtype, seed=0):
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    tp = [torch.nn.Parameter(torch.tensor(a)) for a in init]
    ep = [ember.nn.Parameter(ember.tensor(a.copy())) for a in init]
    return tp, ep


def set_grads(tp, ep, rng, step, skip_last=True):
    """The same gradients on both sides; the last parameter gets none every third step."""
    for i, (t, e) in enumerate(zip(tp, ep)):
        if skip_last and i == len(tp) - 1 and step % 3 == 0:
            t.grad, e.grad = None, None
            continue
        g = rng.standard_normal(t.shape).astype(t.detach().numpy().dtype)
        t.grad = torch.tensor(g)
        e.grad = ember.tensor(np.array(g))


def assert_params_close(tp, ep, dtype):
    for t, e in zip(tp, ep):
        assert e.dtype == getattr(ember, str(t.dtype).split(".")[1])
        np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), **TOL[dtype])


def run_pair(name, kwargs, dtype, steps=50, seed=1, tp=None, ep=None, to=None, eo=None):
    if tp is None:
        tp, ep = make_params(dtype)
        to = getattr(torch.optim, name)(tp, **kwargs)
        eo = getattr(ember.optim, name)(ep, **kwargs)
    rng = np.random.default_rng(seed)
    for i in range(steps):
        set_grads(tp, ep, rng, i)
        to.step()
        eo.step()
    return tp, ep, to, eo


def torch_to_ember(obj):
    """A torch state dict with its tensors converted to ember tensors."""
    if isinstance(obj, torch.Tensor):
        return ember.tensor(obj.detach().numpy().copy())
    if isinstance(obj, dict):
        return {k: torch_to_ember(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(torch_to_ember(v) for v in obj)
    return obj


def structure(obj, numbers=True):
    """Keys, nesting and tensor dtypes/shapes of a state dict (tensor values left out; other
    numbers kept, or only their type with ``numbers=False``)."""
    if isinstance(obj, (torch.Tensor, ember.Tensor)):
        return ("tensor", str(obj.dtype).split(".")[1], tuple(obj.shape))
    if isinstance(obj, dict):
        return {k: structure(v, numbers) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj).__name__, [structure(v, numbers) for v in obj]
    return obj if numbers or not isinstance(obj, float) else "float"


# -- update rules -----------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=IDS)
def test_matches_torch(name, kwargs, dtype):
    tp, ep, to, eo = run_pair(name, kwargs, dtype)
    assert_params_close(tp, ep, dtype)
    # the state too: same entries, dtypes, and values
    ts, es = to.state_dict(), eo.state_dict()
    assert structure(es) == structure(ts)
    for k, state in ts["state"].items():
        for key, v in state.items():
            w = es["state"][k][key]
            if isinstance(v, torch.Tensor):
                np.testing.assert_allclose(w.numpy(), v.numpy(), **TOL[dtype])
            else:
                assert w == v


@pytest.mark.parametrize("name,kwargs", CONFIGS[::3], ids=IDS[::3])
def test_grad_none_params_are_untouched(name, kwargs):
    tp, ep = make_params(np.float64)
    eo = getattr(ember.optim, name)(ep, **kwargs)
    before = ep[1].detach().numpy().copy()
    version = ep[1]._version
    ep[0].grad = ember.ones(3, 4, dtype=ember.float64)
    eo.step()
    np.testing.assert_array_equal(ep[1].detach().numpy(), before)
    assert ep[1]._version == version
    assert ep[0]._version > 0
    if name != "Adagrad":          # Adagrad creates state for every parameter up front
        assert ep[1] not in eo.state


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop", "NAdam", "ASGD", "Rprop",
                                  "Adafactor"])
def test_per_group_options(name):
    extra = {"SGD": dict(momentum=0.9), "RMSprop": dict(centered=True),
             "ASGD": dict(t0=3)}.get(name, {})
    if name == "Rprop":              # (no weight decay)
        extra = dict(etas=(0.4, 1.3))
    tp, ep = make_params(np.float64)

    def groups(ps):
        first = {"params": ps[:2], "lr": 0.05, **extra}
        if name != "Rprop":
            first["weight_decay"] = 0.1
        return [first, {"params": ps[2:], "maximize": True}]

    to = getattr(torch.optim, name)(groups(tp), lr=0.01)
    eo = getattr(ember.optim, name)(groups(ep), lr=0.01)
    assert [set(g) for g in eo.param_groups] == [set(g) for g in to.param_groups]
    assert [{k: v for k, v in g.items() if k != "params"} for g in eo.param_groups] == \
        [{k: v for k, v in g.items() if k != "params"} for g in to.param_groups]
    run_pair(name, {}, np.float64, tp=tp, ep=ep, to=to, eo=eo)
    assert_params_close(tp, ep, np.float64)


# -- state dicts ------------------------------------------------------------------------------
@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=IDS)
def test_state_dict_round_trip_continues_identically(name, kwargs):
    tp, ep, to, eo = run_pair(name, kwargs, np.float32, steps=25)
    saved = copy.deepcopy(eo.state_dict())
    clone = [ember.nn.Parameter(ember.tensor(p.detach().numpy().copy())) for p in ep]
    other = dict(kwargs, lr=0.5) if name != "Adadelta" else dict(kwargs, lr=0.1)
    eo2 = getattr(ember.optim, name)(clone, **other)
    eo2.load_state_dict(saved)
    assert eo2.param_groups[0]["lr"] == eo.param_groups[0]["lr"]
    assert structure(eo2.state_dict()) == structure(eo.state_dict())
    rng1, rng2 = np.random.default_rng(5), np.random.default_rng(5)
    for i in range(25):
        set_grads(tp, ep, rng1, i)
        set_grads(tp, clone, rng2, i)
        eo.step()
        eo2.step()
    for a, b in zip(ep, clone):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=IDS)
def test_load_torch_state_dict(name, kwargs):
    tp, ep, to, eo = run_pair(name, kwargs, np.float64, steps=25)
    # restart ember from torch's parameters and torch's optimizer state
    for t, e in zip(tp, ep):
        e.data = ember.tensor(t.detach().numpy().copy())
    eo2 = getattr(ember.optim, name)(ep, **kwargs)
    eo2.load_state_dict(torch_to_ember(to.state_dict()))
    # both continue from the loaded state (loading casts e.g. ASGD's float32 eta and mu to
    # the parameters' dtype, in torch as in ember)
    tp = [torch.nn.Parameter(t.detach().clone()) for t in tp]
    reloaded = getattr(torch.optim, name)(tp, **kwargs)
    reloaded.load_state_dict(copy.deepcopy(to.state_dict()))
    assert structure(eo2.state_dict()) == structure(reloaded.state_dict())
    run_pair(name, kwargs, np.float64, steps=25, seed=9, tp=tp, ep=ep, to=reloaded, eo=eo2)
    assert_params_close(tp, ep, np.float64)


def test_state_dict_layout_and_step_dtype():
    tp, ep = make_params(np.float64)
    groups = lambda ps: [{"params": ps[:3]}, {"params": ps[3:], "lr": 0.5}]  # noqa: E731
    to, eo = torch.optim.Adam(groups(tp)), ember.optim.Adam(groups(ep))
    run_pair("Adam", {}, np.float64, steps=2, tp=tp, ep=ep, to=to, eo=eo)
    ts, es = to.state_dict(), eo.state_dict()
    assert list(es) == ["state", "param_groups"]
    assert es["param_groups"] == ts["param_groups"]
    assert list(es["state"]) == list(ts["state"])
    assert es["state"][0]["step"].dtype == ember.float32       # float32 even for float64 params
    assert es["state"][0]["step"].shape == ()
    assert list(es["state"][0]) == ["step", "exp_avg", "exp_avg_sq"]


def test_load_state_dict_casts_to_param_dtype_but_keeps_step():
    p = ember.nn.Parameter(ember.zeros(3, dtype=ember.float64))
    opt = ember.optim.Adam([p])
    opt.load_state_dict({"state": {0: {"step": ember.tensor(4.0),
                                       "exp_avg": ember.ones(3),
                                       "exp_avg_sq": ember.ones(3)}},
                         "param_groups": [{**opt.param_groups[0], "params": [0]}]})
    assert opt.state[p]["exp_avg"].dtype == ember.float64
    assert opt.state[p]["step"].dtype == ember.float32


def test_load_state_dict_errors():
    tp, ep = make_params(np.float64)
    for lib, ps in ((torch, tp), (ember, ep)):
        opt = lib.optim.SGD(ps, lr=0.1)
        with pytest.raises(ValueError, match="different number of parameter groups"):
            opt.load_state_dict({"state": {}, "param_groups": []})
        with pytest.raises(ValueError, match="doesn't match the size of optimizer's group"):
            opt.load_state_dict({"state": {}, "param_groups": [{"params": [0]}]})


# -- construction, errors, printing -----------------------------------------------------------
@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta",
                                  "Adamax", "NAdam", "RAdam", "LBFGS", "ASGD", "Rprop",
                                  "Adafactor", "SparseAdam"])
def test_defaults_and_repr(name):
    tp, ep = make_params(np.float32)
    to, eo = getattr(torch.optim, name)(tp[:1]), getattr(ember.optim, name)(ep[:1])
    assert eo.defaults == to.defaults
    assert list(eo.param_groups[0]) == list(to.param_groups[0])
    assert repr(eo) == repr(to)


def test_repr_with_groups():
    tp, ep = make_params(np.float32)
    to = torch.optim.SGD([{"params": tp[:2]}, {"params": tp[2:], "lr": 0.5}], lr=0.1)
    eo = ember.optim.SGD([{"params": ep[:2]}, {"params": ep[2:], "lr": 0.5}], lr=0.1)
    assert repr(eo) == repr(to)


def _both_raise(fn, exc, match):
    tp, ep = make_params(np.float32)
    with pytest.raises(exc, match=match or None):
        fn(torch, tp)
    with pytest.raises(exc, match=match or None):
        fn(ember, ep)


@pytest.mark.parametrize("fn,exc,match", [
    (lambda lib, ps: lib.optim.SGD(ps, lr=-1), ValueError, "Invalid learning rate: -1"),
    (lambda lib, ps: lib.optim.Adam(ps, lr=-0.5), ValueError, "Invalid learning rate: -0.5"),
    (lambda lib, ps: lib.optim.SGD([], lr=1), ValueError, "optimizer got an empty parameter"),
    (lambda lib, ps: lib.optim.SGD(ps[0], lr=1), TypeError, "should be an iterable of Tensors"),
    (lambda lib, ps: lib.optim.SGD([ps[0], 3], lr=1), TypeError,
     "can only optimize Tensors, but one of the params is int"),
    (lambda lib, ps: lib.optim.SGD([ps[0] * 2], lr=1), ValueError,
     "can't optimize a non-leaf Tensor"),
    (lambda lib, ps: lib.optim.SGD([{"params": ps[:2]}, {"params": ps[1:]}], lr=1), ValueError,
     "some parameters appear in more than one parameter group"),
    (lambda lib, ps: lib.optim.SGD(ps, lr=1).add_param_group(ps), TypeError,
     "param_group must be a dict"),
    (lambda lib, ps: lib.optim.SGD(ps, lr=1, nesterov=True), ValueError,
     "Nesterov momentum requires a momentum and zero dampening"),
    (lambda lib, ps: lib.optim.SGD(ps, momentum=-1), ValueError, "Invalid momentum value: -1"),
    (lambda lib, ps: lib.optim.Adam(ps, betas=(1.0, 0.9)), ValueError,
     "Invalid beta parameter at index 0: 1.0"),
    (lambda lib, ps: lib.optim.AdamW(ps, betas=(0.9, -0.1)), ValueError,
     "Invalid beta parameter at index 1: -0.1"),
    (lambda lib, ps: lib.optim.Adam(ps, eps=-1), ValueError, "Invalid epsilon value: -1"),
    (lambda lib, ps: lib.optim.NAdam(ps, weight_decay=-1), ValueError,
     "Invalid weight_decay value: -1"),
    (lambda lib, ps: lib.optim.RMSprop(ps, alpha=-1), ValueError, "Invalid alpha value: -1"),
    (lambda lib, ps: lib.optim.Adagrad(ps, lr_decay=-1), ValueError,
     "Invalid lr_decay value: -1"),
    (lambda lib, ps: lib.optim.Adagrad(ps, initial_accumulator_value=-1), ValueError,
     "Invalid initial_accumulator_value value: -1"),
    (lambda lib, ps: lib.optim.Adadelta(ps, rho=1.5), ValueError, "Invalid rho value: 1.5"),
    (lambda lib, ps: lib.optim.NAdam(ps, momentum_decay=-1), ValueError,
     "Invalid momentum_decay value: -1"),
    (lambda lib, ps: lib.optim.LBFGS([{"params": ps[:1]}, {"params": ps[1:]}]), ValueError,
     "LBFGS doesn't support per-parameter options"),
    (lambda lib, ps: lib.optim.Optimizer(ps, {}).step(), NotImplementedError, ""),
    (lambda lib, ps: lib.optim.ASGD(ps, lr=-1), ValueError, "Invalid learning rate: -1"),
    (lambda lib, ps: lib.optim.ASGD(ps, weight_decay=-1), ValueError,
     "Invalid weight_decay value: -1"),
    (lambda lib, ps: lib.optim.Rprop(ps, lr=-1), ValueError, "Invalid learning rate: -1"),
    (lambda lib, ps: lib.optim.Rprop(ps, etas=(1.1, 1.2)), ValueError,
     "Invalid eta values: 1.1, 1.2"),
    (lambda lib, ps: lib.optim.Rprop(ps, etas=(0.5, 0.9)), ValueError,
     "Invalid eta values: 0.5, 0.9"),
    (lambda lib, ps: lib.optim.Adafactor(ps, lr=-1), ValueError,
     "Learning rate should be >= 0 but is: -1"),
    (lambda lib, ps: lib.optim.Adafactor(ps, beta2_decay=0.5), ValueError,
     "beta2_decay should be <= 0 but is: 0.5"),
    (lambda lib, ps: lib.optim.Adafactor(ps, eps=(-1, 1e-3)), ValueError,
     "epsilon1 should be >= 0 but is: -1"),
    (lambda lib, ps: lib.optim.Adafactor(ps, eps=(None, -1)), ValueError,
     "epsilon2 should be >= 0 but is: -1"),
    (lambda lib, ps: lib.optim.Adafactor(ps, d=0.5), ValueError,
     "Clipping threshold d should be >= 1 but is: 0.5"),
    (lambda lib, ps: lib.optim.Adafactor(ps, weight_decay=-1), ValueError,
     "weight_decay should be >= 0 but is: -1"),
    (lambda lib, ps: lib.optim.SparseAdam(ps, lr=0), ValueError, "Invalid learning rate: 0"),
    (lambda lib, ps: lib.optim.SparseAdam(ps, eps=0), ValueError, "Invalid epsilon value: 0"),
    (lambda lib, ps: lib.optim.SparseAdam(ps, betas=(0.9, 1.0)), ValueError,
     "Invalid beta parameter at index 1: 1.0"),
])
def test_errors_match_torch(fn, exc, match):
    _both_raise(fn, exc, match)


def test_duplicate_parameters_warn():
    tp, ep = make_params(np.float32)
    msgs = []
    for lib, ps in ((torch, tp), (ember, ep)):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            lib.optim.SGD([ps[0], ps[0]], lr=0.1)
        msgs.append([str(x.message) for x in w])
    assert msgs[0] == msgs[1] and len(msgs[1]) == 1


def test_add_param_group_fills_defaults():
    tp, ep = make_params(np.float32)
    to, eo = torch.optim.Adam(tp[:2], lr=0.1), ember.optim.Adam(ep[:2], lr=0.1)
    to.add_param_group({"params": tp[2:], "betas": (0.5, 0.6)})
    eo.add_param_group({"params": ep[2:], "betas": (0.5, 0.6)})
    strip = lambda gs: [{k: v for k, v in g.items() if k != "params"} for g in gs]  # noqa: E731
    assert strip(eo.param_groups) == strip(to.param_groups)


def test_named_parameters():
    tp, ep = make_params(np.float32)
    to = torch.optim.SGD([(f"p{i}", p) for i, p in enumerate(tp)], lr=0.1)
    eo = ember.optim.SGD([(f"p{i}", p) for i, p in enumerate(ep)], lr=0.1)
    assert eo.param_groups[0]["param_names"] == to.param_groups[0]["param_names"]
    assert eo.state_dict()["param_groups"] == to.state_dict()["param_groups"]


# -- zero_grad, closures, hooks ---------------------------------------------------------------
def test_zero_grad():
    _, ep = make_params(np.float32)
    opt = ember.optim.SGD(ep, lr=0.1)
    ep[0].grad = ember.ones(3, 4)
    g = ep[0].grad
    opt.zero_grad(set_to_none=False)
    assert ep[0].grad is g
    np.testing.assert_array_equal(g.numpy(), np.zeros((3, 4), np.float32))
    assert ep[1].grad is None
    opt.zero_grad()
    assert ep[0].grad is None


def test_closure_runs_with_grad_enabled_and_loss_is_returned():
    p = ember.nn.Parameter(ember.tensor([1.0, -2.0]))
    opt = ember.optim.SGD([p], lr=0.1)
    seen = []

    def closure():
        seen.append(ember.is_grad_enabled())
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    with ember.no_grad():
        loss = opt.step(closure)
    assert seen == [True]
    assert float(loss) == 5.0
    np.testing.assert_allclose(p.detach().numpy(), [0.8, -1.6], rtol=1e-6)
    assert not p.grad.requires_grad


def test_step_bumps_version_and_updates_in_place():
    p = ember.nn.Parameter(ember.tensor([1.0, 2.0]))
    arr = p._data
    opt = ember.optim.Adam([p])
    p.grad = ember.tensor([0.5, 0.5])
    v = p._version
    opt.step()
    assert p._data is arr and p._version == v + 1


def test_step_hooks():
    _, ep = make_params(np.float32)
    opt = ember.optim.SGD(ep, lr=0.1)
    calls = []
    h1 = opt.register_step_pre_hook(lambda o, a, k: calls.append(("pre", o is opt)))
    opt.register_step_post_hook(lambda o, a, k: calls.append(("post", o is opt)))
    opt.step()
    assert calls == [("pre", True), ("post", True)]
    h1.remove()
    opt.step()
    assert calls[2:] == [("post", True)]


def test_subclass_step_calling_super_runs_hooks_once():
    class Clipped(ember.optim.SGD):
        def step(self, closure=None):
            for p in self.param_groups[0]["params"]:
                if p.grad is not None:
                    p.grad._data.clip(-1, 1, out=p.grad._data)
            return super().step(closure)

    _, ep = make_params(np.float32)
    opt = Clipped(ep, lr=0.1)
    calls = []
    opt.register_step_pre_hook(lambda o, a, k: calls.append("pre"))
    opt.register_step_post_hook(lambda o, a, k: calls.append("post"))
    ep[0].grad = ember.full((3, 4), 5.0)
    before = ep[0].detach().numpy().copy()
    opt.step()
    assert calls == ["pre", "post"]
    np.testing.assert_allclose(ep[0].detach().numpy(), before - 0.1, rtol=1e-6)


# -- LBFGS ------------------------------------------------------------------------------------
def rosenbrock(x):
    a, b = x
    f = (1 - a) ** 2 + 100 * (b - a * a) ** 2
    g = np.array([-2 * (1 - a) - 400 * a * (b - a * a), 200 * (b - a * a)], dtype=x.dtype)
    return np.asarray(f), g


@pytest.mark.parametrize("line_search_fn,lr,outer", [(None, 0.1, 4), ("strong_wolfe", 1, 3)])
def test_lbfgs_rosenbrock_iterates(line_search_fn, lr, outer):
    x0 = np.array([-1.5, 2.0])
    tx, ex = torch.nn.Parameter(torch.tensor(x0)), ember.nn.Parameter(ember.tensor(x0.copy()))
    kw = dict(lr=lr, history_size=5, max_iter=10, line_search_fn=line_search_fn)
    to, eo = torch.optim.LBFGS([tx], **kw), ember.optim.LBFGS([ex], **kw)
    t_path, e_path = [], []

    def t_closure():
        x = tx.detach().numpy().copy()
        t_path.append(x)
        f, g = rosenbrock(x)
        tx.grad = torch.tensor(g)
        return torch.tensor(f)

    def e_closure():
        x = ex.detach().numpy().copy()
        e_path.append(x)
        f, g = rosenbrock(x)
        ex.grad = ember.tensor(g)
        return ember.tensor(f)

    for _ in range(outer):
        lt, le = to.step(t_closure), eo.step(e_closure)
        assert float(le) == pytest.approx(float(lt), rel=1e-9)
    assert len(e_path) == len(t_path)
    np.testing.assert_allclose(np.array(e_path), np.array(t_path), rtol=1e-7, atol=1e-9)
    ts, es = to.state[tx], eo.state[ex]
    assert (es["func_evals"], es["n_iter"]) == (ts["func_evals"], ts["n_iter"])
    assert structure(eo.state_dict(), False) == structure(to.state_dict(), False)


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_lbfgs_converges_with_autograd_closure(line_search_fn):
    target = np.array([1.0, -2.0, 0.5])
    p = ember.nn.Parameter(ember.zeros(3, dtype=ember.float64))
    t = ember.tensor(target)
    opt = ember.optim.LBFGS([p], line_search_fn=line_search_fn)

    def closure():
        opt.zero_grad()
        loss = ((p - t) ** 2).sum()
        loss.backward()
        return loss

    for _ in range(5):
        opt.step(closure)
    np.testing.assert_allclose(p.detach().numpy(), target, atol=1e-6)


def test_lbfgs_rejects_unknown_line_search():
    p = ember.nn.Parameter(ember.tensor([1.0, 2.0]))
    opt = ember.optim.LBFGS([p], line_search_fn="armijo")

    def closure():
        p.grad = ember.tensor([1.0, 1.0])
        return ember.tensor(1.0)

    with pytest.raises(RuntimeError, match="only 'strong_wolfe' is supported"):
        opt.step(closure)


@pytest.mark.parametrize("name,kwargs,sched,sched_kwargs", [
    ("ASGD", dict(lr=0.05, t0=5), "StepLR", dict(step_size=4, gamma=0.5)),
    ("Rprop", dict(lr=0.05), "CosineAnnealingLR", dict(T_max=10)),
    ("Adafactor", dict(lr=0.05), "OneCycleLR", dict(max_lr=0.1, total_steps=30,
                                                    cycle_momentum=False)),
    ("SparseAdam", dict(lr=0.05), "ExponentialLR", dict(gamma=0.9)),
    ("RAdam", dict(lr=0.05, foreach=True), "LinearLR", dict(total_iters=10)),
])
def test_lr_schedulers_drive_the_optimizers(name, kwargs, sched, sched_kwargs):
    """The lr each scheduler sets is the one the next step uses, as in torch."""
    tp, ep = make_params(np.float64)
    to = getattr(torch.optim, name)(tp, **kwargs)
    eo = getattr(ember.optim, name)(ep, **kwargs)
    ts = getattr(torch.optim.lr_scheduler, sched)(to, **sched_kwargs)
    es = getattr(ember.optim.lr_scheduler, sched)(eo, **sched_kwargs)
    rng = np.random.default_rng(2)
    for i in range(25):
        set_grads(tp, ep, rng, i)
        if name == "SparseAdam":        # torch's SparseAdam takes sparse gradients only
            for t in tp:
                if t.grad is not None and t.grad.dim() > 0:
                    t.grad = t.grad.to_sparse(1)
                elif t.grad is not None:
                    t.grad = None
            for e, t in zip(ep, tp):
                e.grad = None if t.grad is None else e.grad
        to.step()
        eo.step()
        ts.step()
        es.step()
        assert es.get_last_lr() == pytest.approx(ts.get_last_lr(), rel=1e-12)
    assert_params_close(tp, ep, np.float64)
