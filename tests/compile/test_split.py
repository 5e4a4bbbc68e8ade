"""A compiled Module whose forward breaks: the glue runs eagerly, its submodules replay their
own compiled programs (forward and backward), exactly as eager ember computes."""

import copy

import numpy as np
import pytest
import torch

import ember
import ember.nn as nn
from ember import _compile


def _replayed(t) -> bool:
    return type(t.grad_fn).__name__ == "CompiledFunctionBackward"


def _grads(m) -> list:
    return [None if p.grad is None else p.grad.numpy().copy() for p in m.parameters()]


def _same(a: list, b: list) -> bool:
    return all((x is None and y is None) or (x is not None and y is not None
                                             and np.array_equal(x, y)) for x, y in zip(a, b))


class Branchy(nn.Module):
    """Two Sequential blocks with data-dependent control flow between them."""

    def __init__(self, loud: bool = False) -> None:
        super().__init__()
        self.loud = loud
        self.a = nn.Sequential(nn.Linear(4, 8), nn.Tanh())
        self.b = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 1))
        self.c = nn.Linear(8, 1)

    def forward(self, x):
        h = self.a(x)
        if self.loud:
            print("h:", h.sum())
        if h.sum().item() > 0:
            return self.b(h).sum()
        return (self.c(h) * 2).sum()


def _to_torch(m: nn.Module, tm: torch.nn.Module) -> None:
    with torch.no_grad():
        for p, tp in zip(m.parameters(), tm.parameters()):
            tp.copy_(torch.tensor(p.detach().numpy()))


class TBranchy(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh())
        self.b = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.ReLU(),
                                     torch.nn.Linear(8, 1))
        self.c = torch.nn.Linear(8, 1)

    def forward(self, x):
        h = self.a(x)
        if h.sum().item() > 0:
            return self.b(h).sum()
        return (self.c(h) * 2).sum()


def _inputs(n: int) -> list:
    rng = np.random.default_rng(1)
    # alternate the sign so that both branches run (a's Linear sees x and -x)
    return [rng.standard_normal((3, 4)).astype(np.float32) * (1 if i % 2 else -1) * 3
            for i in range(n)]


@pytest.mark.parametrize("loud", [False, True])
def test_split_matches_eager_bitwise_and_children_replay(loud, capsys):
    _compile.reset()
    ember.manual_seed(0)
    m = Branchy(loud)
    me = copy.deepcopy(m)
    tm = TBranchy()
    _to_torch(m, tm)
    cm = ember.compile(m)
    seen: dict = {}
    for name in ("a", "b", "c"):
        getattr(m, name).register_forward_hook(
            lambda mod, i, o, name=name: seen.setdefault(name, []).append(_replayed(o)))
    branches = set()
    for a in _inputs(8):
        y = cm(ember.tensor(a))
        y.backward()
        ye = me(ember.tensor(a))
        ye.backward()
        assert y.detach().numpy() == ye.detach().numpy()
        assert _same(_grads(m), _grads(me))
        branches.add("b" if m.c.weight.grad is None else "c")
        ty = tm(torch.tensor(a))
        ty.backward()
        np.testing.assert_allclose(y.item(), ty.item(), rtol=1e-5, atol=1e-6)
        for p, tp in zip(m.parameters(), tm.parameters()):
            if p.grad is not None:
                np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-4,
                                           atol=1e-6)
        for mod in (m, me, tm):
            mod.zero_grad(set_to_none=True)
    assert branches == {"b", "c"}
    # each child: the first call (the parent's trace, then the child's own trace) is eager,
    # every later call replays the child's program
    for name in ("a", "b", "c"):
        assert seen[name][-1] and sum(seen[name]) >= len(seen[name]) - 2, (name, seen[name])
    assert "forward" not in m.a.__dict__ and "forward" not in m.b.__dict__
    assert any("its submodules are compiled separately" in r for r in _compile.recompiles())
    if loud:
        assert capsys.readouterr().out.count("h:") == 16


def test_fullgraph_still_raises():
    m = Branchy()
    cm = ember.compile(m, fullgraph=True)
    with pytest.raises(_compile.Unsupported):
        cm(ember.ones(3, 4))
    assert "forward" not in m.a.__dict__


def test_adam_training_loop_matches_eager():
    ember.manual_seed(3)
    m = Branchy()
    me = copy.deepcopy(m)
    cm = ember.compile(m)
    opt = ember.optim.Adam(m.parameters(), lr=0.05)
    opte = ember.optim.Adam(me.parameters(), lr=0.05)
    replays: list = []
    m.a.register_forward_hook(lambda mod, i, o: replays.append(_replayed(o)))
    for a in _inputs(6):
        for o, fwd in ((opt, cm), (opte, me)):
            o.zero_grad()
            loss = fwd(ember.tensor(a))
            loss.backward()
            o.step()
        for p, pe in zip(m.parameters(), me.parameters()):
            assert np.array_equal(p.detach().numpy(), pe.detach().numpy())
    assert replays[2:] == [True] * 4, replays
    assert m.state_dict().keys() == me.state_dict().keys()


class Normed(nn.Module):
    """A child that breaks itself in training mode (BatchNorm's running statistics): it
    splits in turn at its own children."""

    def __init__(self) -> None:
        super().__init__()
        self.block = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6))
        self.head = nn.Linear(6, 2)

    def forward(self, x):
        h = self.block(x)
        if float(h.abs().max()) > 100:  # the break
            h = h / 100
        return self.head(h).sum()


def test_train_eval_switch_and_nested_split():
    ember.manual_seed(5)
    m = Normed()
    me = copy.deepcopy(m)
    cm = ember.compile(m)
    lin: list = []
    m.block[0].register_forward_hook(lambda mod, i, o: lin.append(_replayed(o)))
    rng = np.random.default_rng(2)
    for step in range(8):
        train = step % 4 < 2
        cm.train(train)
        me.train(train)
        assert m.training == train and m.block[1].training == train
        a = rng.standard_normal((5, 4)).astype(np.float32)
        y, ye = cm(ember.tensor(a)), me(ember.tensor(a))
        y.backward()
        ye.backward()
        assert y.detach().numpy() == ye.detach().numpy()
        assert _same(_grads(m), _grads(me))
        bn, bne = m.block[1], me.block[1]
        assert np.array_equal(bn.running_mean.numpy(), bne.running_mean.numpy())
        assert np.array_equal(bn.running_var.numpy(), bne.running_var.numpy())
        assert int(bn.num_batches_tracked) == int(bne.num_batches_tracked)
        m.zero_grad()
        me.zero_grad()
    # the block breaks in training mode (running statistics), so its Linear is compiled on
    # its own and replays there too
    assert lin[-1] and sum(lin) >= 2, lin


def test_child_hooks_run_and_forward_restored_on_error():
    m = Branchy()
    cm = ember.compile(m)
    calls: list = []
    m.a.register_forward_pre_hook(lambda mod, i: calls.append("pre"))
    m.a.register_forward_hook(lambda mod, i, o: calls.append("post"))
    for _ in range(3):
        cm(ember.ones(2, 4))
    assert calls == ["pre", "post"] * 3

    class Boom(Branchy):
        def forward(self, x):
            h = self.a(x)
            if h.sum().item() > -1e9:
                raise ValueError("boom")
            return h

    b = Boom()
    cb = ember.compile(b)
    for _ in range(2):
        with pytest.raises(ValueError, match="boom"):
            cb(ember.ones(2, 4))
        assert "forward" not in b.a.__dict__
    assert list(b.state_dict()) == list(Branchy().state_dict())


def test_plain_function_break_runs_whole_call_eagerly():
    lin = nn.Linear(3, 1)

    def f(x):
        h = lin(x)
        if h.sum().item() > 0:
            return h * 2
        return h

    cf = ember.compile(f)
    for _ in range(3):
        y = cf(ember.ones(2, 3))
        assert not _replayed(y)
    assert "forward" not in lin.__dict__


def test_replaced_child_and_module_compile_inplace():
    ember.manual_seed(7)
    m = Branchy()
    cm = ember.compile(m)
    x = ember.tensor(_inputs(2)[1])
    for _ in range(3):
        cm(x)
    assert _compile.generated_code(cm) == ""  # the forward broke: no program of its own
    m.b = nn.Sequential(nn.Linear(8, 1))
    m.c = nn.Linear(8, 1)
    me = copy.deepcopy(m)
    seen: list = []
    for name in ("b", "c"):
        getattr(m, name).register_forward_hook(lambda mod, i, o: seen.append(_replayed(o)))
    for _ in range(3):
        y, ye = cm(x), me(x)
        y.backward()
        ye.backward()
        assert y.detach().numpy() == ye.detach().numpy()
        assert _same(_grads(m), _grads(me))
    assert seen == [False, False, True]  # the parent retraces, then the new child
    # Module.compile(): the module's own forward is the compiled one, and splits the same way
    m2 = Branchy()
    m2.compile()
    out: list = []
    m2.a.register_forward_hook(lambda mod, i, o: out.append(_replayed(o)))
    for _ in range(3):
        m2(x)
    assert out == [False, False, True]


def test_modulelist_members_are_compiled():
    class Stack(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(4, 4) for _ in range(3)])

        def forward(self, x):
            for layer in self.layers:
                x = layer(x).tanh()
                if x.sum().item() > 1e9:  # a break between the members
                    x = x * 0
            return x.sum()

    ember.manual_seed(11)
    m = Stack()
    me = copy.deepcopy(m)
    cm = ember.compile(m)
    seen: list = []
    m.layers[0].register_forward_hook(lambda mod, i, o: seen.append(_replayed(o)))
    x = ember.tensor(_inputs(1)[0])
    for _ in range(4):
        y, ye = cm(x), me(x)
        y.backward()
        ye.backward()
        assert y.detach().numpy() == ye.detach().numpy()
        assert _same(_grads(m), _grads(me))
    assert seen == [False, False, True, True]
