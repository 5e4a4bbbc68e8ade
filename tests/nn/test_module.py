"""nn.Module behaviour against torch: registration, traversal, state dicts and their errors,
conversion, hooks, containers and reprs."""

import copy
import pickle
from collections import OrderedDict

import numpy as np
import pytest
import torch

import ember

from .helpers import backward_both, close, e_sd, inputs, twin


def _msg(exc_info) -> str:
    return str(exc_info.value).replace("torch.", "ember.")


def _net(nn):
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.BatchNorm1d(4))
            self.head = nn.ModuleDict({"out": nn.Linear(4, 2, bias=False)})
            self.scale = nn.Parameter(torch_or_ember(nn).ones(2))
            self.register_buffer("steps", torch_or_ember(nn).zeros(1))
            self.register_buffer("cache", torch_or_ember(nn).zeros(2), persistent=False)

        def forward(self, x):
            return self.head["out"](self.features(x)) * self.scale
    return Net()


def torch_or_ember(nn):
    return torch if nn is torch.nn else ember


# -- registration and traversal ------------------------------------------------------------
def test_names_and_order_match_torch():
    t, e = twin(_net)
    assert [n for n, _ in e.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert [n for n, _ in e.named_buffers()] == [n for n, _ in t.named_buffers()]
    assert [n for n, _ in e.named_modules()] == [n for n, _ in t.named_modules()]
    assert [n for n, _ in e.named_children()] == [n for n, _ in t.named_children()]
    assert [n for n, _ in e.named_modules(prefix="m")] == [n for n, _ in
                                                           t.named_modules(prefix="m")]
    assert [n for n, _ in e.named_parameters(recurse=False)] == ["scale"]
    assert list(e.state_dict()) == list(t.state_dict())  # "cache" is not persistent
    assert "cache" not in e.state_dict() and "cache" in dict(e.named_buffers())


def test_shared_parameters_are_listed_once_unless_asked():
    def make(nn):
        lin = nn.Linear(2, 2)
        return nn.Sequential(lin, nn.ReLU(), lin)
    t, e = twin(make)
    assert len(list(e.parameters())) == len(list(t.parameters())) == 2
    assert ([n for n, _ in e.named_parameters(remove_duplicate=False)]
            == [n for n, _ in t.named_parameters(remove_duplicate=False)])
    assert ([n for n, _ in e.named_modules(remove_duplicate=False)]
            == [n for n, _ in t.named_modules(remove_duplicate=False)])
    assert list(e.state_dict()) == list(t.state_dict())


def test_setattr_reassignment_and_deletion():
    m = ember.nn.Module()
    m.w = ember.nn.Parameter(ember.ones(2))
    m.sub = ember.nn.Linear(1, 1)
    m.register_buffer("b", ember.zeros(1))
    assert set(m._parameters) == {"w"} and set(m._modules) == {"sub"} and set(m._buffers) == {
        "b"}
    m.b = ember.ones(1)  # a tensor assigned to a buffer name stays a buffer
    assert m._buffers["b"] is m.b
    m.w = None
    assert m._parameters["w"] is None and list(m.parameters())[0] is m.sub.weight
    m.sub = None
    assert m._modules["sub"] is None
    del m.b, m.w, m.sub
    assert not m._buffers and not m._parameters and not m._modules
    m.buf = ember.nn.Buffer(ember.ones(2), persistent=False)
    assert "buf" in m._buffers and "buf" in m._non_persistent_buffers_set
    with pytest.raises(AttributeError, match="'Module' object has no attribute 'nope'"):
        _ = m.nope


@pytest.mark.parametrize("action", ["param_tensor", "module_int", "buffer_int", "reg_buffer_dot",
                                    "reg_buffer_empty", "reg_buffer_exists", "reg_buffer_type",
                                    "reg_param_type", "reg_param_nonleaf", "add_module_type",
                                    "add_module_dot", "before_init", "reg_param_name"])
def test_registration_errors_match_torch(action):
    def run(lib):
        m = lib.nn.Linear(2, 2)
        m.attr = 1
        if action == "param_tensor":
            m.weight = lib.ones(2, 2)
        elif action == "module_int":
            m.sub = lib.nn.ReLU()
            m.sub = 3
        elif action == "buffer_int":
            m.register_buffer("b", lib.ones(1))
            m.b = 3
        elif action == "reg_buffer_dot":
            m.register_buffer("a.b", lib.ones(1))
        elif action == "reg_buffer_empty":
            m.register_buffer("", lib.ones(1))
        elif action == "reg_buffer_exists":
            m.register_buffer("attr", lib.ones(1))
        elif action == "reg_buffer_type":
            m.register_buffer("b", [1.0])
        elif action == "reg_param_type":
            m.register_parameter("p", lib.ones(1))
        elif action == "reg_param_nonleaf":
            x = lib.ones(1, requires_grad=True)
            m.register_parameter("p", lib.nn.Parameter(x) * 2)
        elif action == "add_module_type":
            m.add_module("x", 3)
        elif action == "add_module_dot":
            m.add_module("a.b", lib.nn.ReLU())
        elif action == "before_init":
            class Bad(lib.nn.Module):
                def __init__(self):
                    self.w = lib.nn.Parameter(lib.ones(1))
            Bad()
        elif action == "reg_param_name":
            m.register_parameter(3, None)
    with pytest.raises(Exception) as te:
        run(torch)
    with pytest.raises(type(te.value)) as ee:
        run(ember)
    assert _msg(ee) == _msg(te)


def test_get_submodule_parameter_buffer():
    t, e = twin(_net)
    assert e.get_submodule("features.0") is e.features[0]
    assert e.get_parameter("features.0.bias") is e.features[0].bias
    assert e.get_buffer("features.2.running_mean") is e.features[2].running_mean
    for target in ("features.9", "features.0.weight", "head.nope"):
        with pytest.raises(AttributeError) as te:
            t.get_submodule(target)
        with pytest.raises(AttributeError) as ee:
            e.get_submodule(target)
        assert str(ee.value) == str(te.value)
    with pytest.raises(AttributeError) as te:
        t.get_parameter("features.2.running_mean")
    with pytest.raises(AttributeError) as ee:
        e.get_parameter("features.2.running_mean")
    assert str(ee.value) == str(te.value)


def test_dir_lists_registered_names():
    e = ember.nn.Sequential(ember.nn.Linear(1, 1))
    names = dir(e[0])
    assert {"weight", "bias", "forward", "in_features"} <= set(names)
    assert "0" not in dir(e)


# -- modes, gradients, conversion ------------------------------------------------------------
def test_train_eval_zero_grad_requires_grad_apply():
    e = _net(ember.nn)
    assert e.training and e.features[2].training
    assert e.eval() is e and not e.features[2].training and not e.head["out"].training
    e.train()
    assert e.features[2].training
    with pytest.raises(ValueError, match="training mode is expected to be boolean"):
        e.train("yes")
    e(ember.randn(5, 3)).sum().backward()
    assert all(p.grad is not None for p in e.parameters())
    e.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.any() for p in e.parameters())
    e.zero_grad()
    assert all(p.grad is None for p in e.parameters())
    e.requires_grad_(False)
    assert not any(p.requires_grad for p in e.parameters())
    seen = []
    e.apply(lambda m: seen.append(type(m).__name__))
    t = _net(torch.nn)
    tseen = []
    t.apply(lambda m: tseen.append(type(m).__name__))
    assert seen == tseen


def test_to_and_float_conversions_keep_parameter_identity():
    e = _net(ember.nn)
    w = e.features[0].weight
    e(ember.randn(5, 3)).sum().backward()
    assert e.double() is e
    assert e.features[0].weight is w and w.dtype == ember.float64
    assert w.grad.dtype == ember.float64
    assert e.features[2].running_mean.dtype == ember.float64
    assert e.features[2].num_batches_tracked.dtype == ember.int64  # integers are kept
    e.to(ember.float32)
    assert w.dtype == ember.float32
    e.half()
    assert w.dtype == ember.float16
    e.float().to("cpu")
    e.to(ember.zeros(1, dtype=ember.float64))
    assert w.dtype == ember.float64
    with pytest.raises(TypeError) as ee:
        e.to(ember.int64)
    with pytest.raises(TypeError) as te:
        _net(torch.nn).to(torch.int64)
    assert _msg(ee) == _msg(te)


# -- state dicts -------------------------------------------------------------------------------
def test_state_dict_round_trip_and_in_place_load():
    t, e = twin(_net)
    sd = e.state_dict()
    assert isinstance(sd, OrderedDict)
    assert all(not v.requires_grad for v in sd.values())
    kv = e.state_dict(keep_vars=True)
    assert kv["features.0.weight"] is e.features[0].weight
    assert list(e.state_dict(prefix="net.")) == ["net." + k for k in sd]
    w = e.features[0].weight
    w_before = w.detach().clone()
    fresh = _net(ember.nn)
    res = fresh.load_state_dict(sd)
    assert repr(res) == "<All keys matched successfully>"
    assert res.missing_keys == [] and res.unexpected_keys == []
    for k, v in fresh.state_dict().items():
        close(v, torch.tensor(sd[k].numpy()), 0)
    # loading copies in place: parameters keep their identity and stay leaves
    target = {k: v + 1 if v.is_floating_point() else v for k, v in sd.items()}
    e.load_state_dict(target)
    assert e.features[0].weight is w and w.is_leaf and w.requires_grad
    close(w, torch.tensor(w_before.numpy() + 1), 1e-12)
    assert w._version > 0


def test_strict_load_errors_match_torch():
    t, e = twin(_net)
    tsd, esd = t.state_dict(), e.state_dict()
    for edit in ("missing", "unexpected", "size", "all"):
        tt, ee = OrderedDict(tsd), OrderedDict(esd)
        if edit in ("missing", "all"):
            del tt["features.0.bias"], ee["features.0.bias"]
            del tt["steps"], ee["steps"]
        if edit in ("unexpected", "all"):
            tt["extra.w"] = torch.ones(1)
            ee["extra.w"] = ember.ones(1)
            tt["features.5"] = torch.ones(1)
            ee["features.5"] = ember.ones(1)
        if edit in ("size", "all"):
            tt["features.0.weight"] = torch.ones(2, 3)
            ee["features.0.weight"] = ember.ones(2, 3)
        with pytest.raises(RuntimeError) as te:
            t.load_state_dict(tt)
        with pytest.raises(RuntimeError) as xe:
            e.load_state_dict(ee)
        assert _msg(xe) == _msg(te)
        if edit != "size" and edit != "all":
            rt = t.load_state_dict(tt, strict=False)
            re_ = e.load_state_dict(ee, strict=False)
            assert re_ == rt and repr(re_) == repr(rt)
    with pytest.raises(TypeError) as te:
        t.load_state_dict([1])
    with pytest.raises(TypeError) as xe:
        e.load_state_dict([1])
    assert str(xe.value) == str(te.value)


def test_simple_linear_error_text():
    e = ember.nn.Linear(2, 3)
    with pytest.raises(RuntimeError) as xe:
        e.load_state_dict({"weight": ember.zeros(3, 2)})
    assert str(xe.value) == ('Error(s) in loading state_dict for Linear:\n\tMissing key(s) in '
                             'state_dict: "bias". ')


def test_assign_load_replaces_parameters():
    e = ember.nn.Linear(2, 3)
    sd = {"weight": ember.ones(3, 2), "bias": ember.zeros(3)}
    e.load_state_dict(sd, assign=True)
    assert isinstance(e.weight, ember.nn.Parameter) and e.weight.requires_grad
    assert e.weight.data_ptr() == sd["weight"].data_ptr()


def test_zero_dim_parameters_accept_one_element_checkpoints():
    m = ember.nn.Module()
    m.p = ember.nn.Parameter(ember.tensor(1.0))
    m.load_state_dict({"p": ember.tensor([3.0])})
    assert m.p.item() == 3.0


def test_deepcopy_and_pickle():
    e = _net(ember.nn)
    c = copy.deepcopy(e)
    assert c.features[0].weight is not e.features[0].weight
    close(c.features[0].weight, torch.tensor(e.features[0].weight.detach().numpy()), 0)
    p = pickle.loads(pickle.dumps(e.features))
    assert repr(p) == repr(e.features)
    close(p[0].weight, torch.tensor(e.features[0].weight.detach().numpy()), 0)
    assert isinstance(p[0].weight, ember.nn.Parameter)


# -- hooks ------------------------------------------------------------------------------------
def _record_hooks(lib, model, log):
    model.register_forward_pre_hook(lambda m, a: log.append("pre1") or (a[0] * 2,))
    model.register_forward_pre_hook(lambda m, a: log.append("pre0"), prepend=True)
    model.register_forward_hook(lambda m, a, out: log.append("fwd") or out + 1)
    h = model.register_forward_hook(lambda m, a, out: log.append("removed"))
    h.remove()
    model.register_forward_pre_hook(
        lambda m, a, kw: log.append(("kw", sorted(kw))) or ((a[0] + 1,), kw), with_kwargs=True)
    model.register_forward_hook(lambda m, a, kw, out: log.append("fwdkw"), with_kwargs=True)


def test_forward_hooks_order_and_return_values_match_torch():
    t, e = twin(lambda nn: nn.Linear(2, 2))
    (xt, xe), = inputs(np.arange(4.0).reshape(2, 2))
    tlog, elog = [], []
    _record_hooks(torch, t, tlog)
    _record_hooks(ember, e, elog)
    close(e(xe), t(xt))
    assert elog == tlog
    with pytest.raises(RuntimeError) as te:
        t.register_forward_pre_hook(lambda m, a, kw: 3, with_kwargs=True)
        t(xt)
    with pytest.raises(RuntimeError) as xe_:
        e.register_forward_pre_hook(lambda m, a, kw: 3, with_kwargs=True)
        e(xe)
    assert str(xe_.value) == str(te.value)


def test_always_call_forward_hook_runs_on_error():
    e = ember.nn.Linear(2, 2)
    seen = []
    e.register_forward_hook(lambda m, a, out: seen.append(out), always_call=True)
    with pytest.raises(RuntimeError):
        e(ember.ones(3))
    assert seen == [None]


def _full_backward_logs(lib, model, x, extra):
    log = []

    def hook(m, gin, gout):
        log.append(("hook", [None if g is None else g.detach().numpy().copy() for g in gin],
                    [None if g is None else g.detach().numpy().copy() for g in gout]))
        return (gin[0] * 3,) + tuple(gin[1:])

    def pre(m, gout):
        log.append(("pre", [g.detach().numpy().copy() for g in gout]))
        return (gout[0] * 2,)
    model.register_full_backward_hook(hook)
    model.register_full_backward_pre_hook(pre)
    y = model(x, extra) if extra is not None else model(x)
    y.sum().backward()
    return log


def test_full_backward_hooks_match_torch():
    class Scale(torch.nn.Module):
        def forward(self, x, s):
            return x * s

    class EScale(ember.nn.Module):
        def forward(self, x, s):
            return x * s
    (xt, xe), = inputs(np.arange(6.0).reshape(2, 3))
    tlog = _full_backward_logs(torch, Scale(), xt, 2.0)
    elog = _full_backward_logs(ember, EScale(), xe, 2.0)
    assert [r[0] for r in elog] == [r[0] for r in tlog] == ["pre", "hook"]
    for er, tr in zip(elog, tlog):
        for ea, ta in zip(er[1:], tr[1:]):
            assert len(ea) == len(ta)
            for a, b in zip(ea, ta):
                assert (a is None) == (b is None)
                if a is not None:
                    np.testing.assert_allclose(a, b)
    close(xe.grad, xt.grad)  # the hook's replacement grad_input reached x


def test_full_backward_hook_without_input_grad():
    t, e = twin(lambda nn: nn.Linear(2, 2))
    seen = {}
    for lib, m in ((torch, t), (ember, e)):
        log = seen.setdefault(lib.__name__, [])
        m.register_full_backward_hook(lambda mod, gi, go, log=log: log.append((gi, len(go))))
        with pytest.warns(UserWarning, match="Full backward hook is firing"):
            m(lib.ones(1, 2, dtype=lib.float64)).sum().backward()
    assert seen["ember"] == seen["torch"] == [((None,), 1)]
    # Replacing grad_input when no input requires grad is an error in both.
    for lib, m in ((torch, t), (ember, e)):
        m.register_full_backward_hook(lambda mod, gi, go: (lib.ones(1),))
        with pytest.raises(RuntimeError, match="no input requires gradient"), \
                pytest.warns(UserWarning):
            m(lib.ones(1, 2, dtype=lib.float64)).sum().backward()


# -- repr -------------------------------------------------------------------------------------
def _models(nn):
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(1, 1)
            self.layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)] + [nn.ReLU()])
            self.empty = nn.ModuleList()
            self.norm = nn.LayerNorm((2, 3), elementwise_affine=False)
            self.none = None
    return [
        nn.Linear(1, 1), nn.Linear(3, 2, bias=False), Block(),
        nn.Sequential(OrderedDict([("a", nn.Linear(1, 2)), ("act", nn.Tanh()),
                                   ("seq", nn.Sequential(nn.Dropout(0.2), nn.Identity()))])),
        nn.ModuleDict({"x": nn.ReLU(), "y": nn.Softmax(dim=1)}),
        nn.Sequential(),
        nn.BatchNorm2d(3, momentum=None), nn.Embedding(5, 2, padding_idx=0),
        nn.MSELoss(), nn.CrossEntropyLoss(label_smoothing=0.1), nn.Flatten(),
        nn.Unflatten(1, (2, 3)), nn.GroupNorm(2, 4), nn.RMSNorm(3),
        nn.InstanceNorm1d(3), nn.Dropout2d(), nn.Bilinear(2, 3, 4), nn.LocalResponseNorm(3),
        nn.BatchNorm1d(3, bias=False), nn.GroupNorm(2, 4, bias=False), nn.LayerNorm(3, bias=False),
    ]


def test_reprs_match_torch():
    for e, t in zip(_models(ember.nn), _models(torch.nn)):
        assert repr(e) == repr(t)
        assert str(e) == str(t)


def test_parameter_containers_repr_and_behaviour():
    def make(nn, lib):
        pl = nn.ParameterList([nn.Parameter(lib.ones(2, 3)), lib.zeros(4)])
        pl.append(nn.Parameter(lib.ones(1)))
        pd = nn.ParameterDict({"a": nn.Parameter(lib.ones(2)), "b": lib.zeros(3, dtype=lib.float64)})
        return pl, pd
    (epl, epd), (tpl, tpd) = make(ember.nn, ember), make(torch.nn, torch)
    assert repr(epl).replace("ember.", "torch.") == repr(tpl)
    assert repr(epd).replace("ember.", "torch.") == repr(tpd)
    assert len(epl) == 3 and isinstance(epl[1], ember.nn.Parameter)
    assert [n for n, _ in epl.named_parameters()] == [n for n, _ in tpl.named_parameters()]
    assert list(epd.keys()) == ["a", "b"] and "a" in epd
    assert list(epd.state_dict()) == list(tpd.state_dict())
    assert epl[-1] is epl[2] and len(epl[1:]) == 2
    with pytest.raises(RuntimeError, match="ParameterList should not be called."):
        epl()
    epd.pop("a")
    assert list(epd) == ["b"]


def test_parameter_repr():
    p = ember.nn.Parameter(ember.tensor([1.0, 2.0]))
    tp = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    assert repr(p) == repr(tp)
    assert p.requires_grad and p.is_leaf


# -- containers -------------------------------------------------------------------------------
def test_sequential_api():
    def build(nn):
        return nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    t, e = twin(build)
    (xt, xe), = inputs(np.ones((4, 2)))
    close(e(xe), t(xt))
    assert len(e) == 3 and isinstance(e[0], ember.nn.Linear) and isinstance(e[-1],
                                                                          ember.nn.Linear)
    sub = e[1:]
    assert isinstance(sub, ember.nn.Sequential) and list(sub._modules) == ["1", "2"]
    assert repr(sub) == repr(t[1:])
    e.append(ember.nn.Sigmoid())
    t.append(torch.nn.Sigmoid())
    e.insert(1, ember.nn.Tanh())
    t.insert(1, torch.nn.Tanh())
    e.extend([ember.nn.Identity()])
    t.extend([torch.nn.Identity()])
    del e[0]
    del t[0]
    assert repr(e) == repr(t)
    assert [type(m).__name__ for m in e] == [type(m).__name__ for m in t]
    e[0] = ember.nn.ReLU()
    assert isinstance(e[0], ember.nn.ReLU)
    with pytest.raises(IndexError, match="index 10 is out of range"):
        e[10]
    combined = e + ember.nn.Sequential(ember.nn.ReLU())
    assert len(combined) == len(e) + 1
    assert e.pop(0) is not None and len(e) == 4


def test_module_list_and_dict_api():
    ml = ember.nn.ModuleList([ember.nn.ReLU()])
    ml.append(ember.nn.Tanh())
    ml.extend([ember.nn.Sigmoid()])
    ml.insert(0, ember.nn.Identity())
    assert [type(m).__name__ for m in ml] == ["Identity", "ReLU", "Tanh", "Sigmoid"]
    assert type(ml[-1]).__name__ == "Sigmoid" and len(ml[1:3]) == 2
    del ml[1]
    assert list(ml._modules) == ["0", "1", "2"]
    with pytest.raises(TypeError):
        ml.extend(3)
    md = ember.nn.ModuleDict([("a", ember.nn.ReLU()), ("b", ember.nn.Tanh())])
    md["c"] = ember.nn.Identity()
    assert list(md.keys()) == ["a", "b", "c"] and "b" in md and len(md) == 3
    assert md.pop("a") is not None and list(md) == ["b", "c"]
    with pytest.raises(ValueError) as ee:
        md.update([("x",)])
    with pytest.raises(ValueError) as te:
        torch.nn.ModuleDict().update([("x",)])
    assert str(ee.value) == str(te.value)


def test_forward_not_implemented():
    with pytest.raises(NotImplementedError) as ee:
        ember.nn.Module()(1)
    with pytest.raises(NotImplementedError) as te:
        torch.nn.Module()(1)
    assert str(ee.value) == str(te.value)


def test_load_state_dict_from_torch_model_shapes():
    # Keys and shapes of every layer equal torch's (the contract the twin() helper relies on).
    for make in (lambda nn: nn.BatchNorm1d(3), lambda nn: nn.Embedding(4, 2),
                 lambda nn: nn.LayerNorm(3, bias=False), lambda nn: nn.PReLU(3)):
        t, e = twin(make)
        assert e_sd(t.state_dict()).keys() == e.state_dict().keys()


def test_backward_hook_node_and_removal():
    t, e = twin(lambda nn: nn.Linear(2, 2))
    calls = []
    ht = t.register_full_backward_hook(lambda *a: calls.append("t"))
    he = e.register_full_backward_hook(lambda *a: calls.append("e"))
    (xt, xe), = inputs(np.ones((1, 2)))
    yt, ye = t(xt), e(xe)
    assert ye.grad_fn.name() == yt.grad_fn.name() == "BackwardHookFunctionBackward"
    backward_both(yt, ye)
    assert calls == ["t", "e"]
    ht.remove(), he.remove()
    yt, ye = t(xt), e(xe)
    assert ye.grad_fn.name() == yt.grad_fn.name()
    backward_both(yt, ye)
    assert calls == ["t", "e"]


def test_parameter_dtype_rule_matches_torch():
    with pytest.raises(RuntimeError) as te:
        torch.nn.Parameter(torch.ones(2, dtype=torch.int64))
    with pytest.raises(RuntimeError) as ee:
        ember.nn.Parameter(ember.ones(2, dtype=ember.int64))
    assert str(ee.value) == str(te.value)
    p = ember.nn.Parameter(ember.ones(2, dtype=ember.int64), requires_grad=False)
    assert repr(p) == repr(torch.nn.Parameter(torch.ones(2, dtype=torch.int64),
                                              requires_grad=False))
    base = ember.ones(3)
    assert ember.nn.Parameter(base).data_ptr() == base.data_ptr()  # shares storage


def test_extra_state_and_load_post_hook():
    class Stateful(ember.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = ember.nn.Linear(1, 1)
            self.counter = 0

        def get_extra_state(self):
            return {"counter": self.counter}

        def set_extra_state(self, state):
            self.counter = state["counter"]

    a, b = Stateful(), Stateful()
    a.counter = 7
    sd = a.state_dict()
    assert list(sd) == ["_extra_state", "lin.weight", "lin.bias"]  # torch's order
    seen = []
    b.register_load_state_dict_post_hook(lambda m, keys: seen.append(tuple(keys)))
    b.load_state_dict(sd)
    assert b.counter == 7 and seen == [([], [])]
    del sd["_extra_state"]
    with pytest.raises(RuntimeError, match='Missing key\\(s\\) in state_dict: "_extra_state"'):
        b.load_state_dict(sd)
