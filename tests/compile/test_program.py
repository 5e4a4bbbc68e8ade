"""ember.compile's generated program: guards on what the trace read, constant folding and
dead-code elimination, random ops, and a whole training step (backward and optimizer inside),
against eager ember (exactly) and PyTorch (values)."""

import numpy as np
import pytest
import torch

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember import _compile


def _np(t):
    return t.detach().numpy()


def _replayed(t) -> bool:
    return type(t.grad_fn).__name__ == "CompiledFunctionBackward"


class _Config:
    def __init__(self, scale):
        self.scale = scale


CFG = _Config(2.0)
_FACTOR = 3.0


def _helper(x):
    return x * _FACTOR  # a global of a helper, not of the compiled function


def test_attributes_of_plain_objects_and_helper_globals_are_guarded():
    global _FACTOR

    def f(x):
        return _helper(x) + CFG.scale

    cf = ember.compile(f)
    x = ember.ones(3)
    for scale, factor in ((2.0, 3.0), (2.0, 3.0), (5.0, 3.0), (5.0, 3.0), (5.0, 7.0), (5.0, 7.0)):
        CFG.scale, _FACTOR = scale, factor
        got = cf(x)
        want = torch.ones(3) * factor + scale
        np.testing.assert_array_equal(_np(got), want.numpy())
    assert any("scale" in m for m in _compile.recompiles())
    assert any("_FACTOR" in m for m in _compile.recompiles())
    CFG.scale, _FACTOR = 2.0, 3.0


def test_closure_list_contents_and_module_attribute_objects_are_guarded():
    k = [1.5]

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.cfg = _Config(1.0)

        def forward(self, x):
            return x * self.cfg.scale * k[0]

    m = M()
    cm = ember.compile(m)
    x = ember.ones(2)
    for scale, kk in ((1.0, 1.5), (1.0, 1.5), (4.0, 1.5), (4.0, 2.5), (4.0, 2.5)):
        m.cfg.scale, k[0] = scale, kk
        np.testing.assert_array_equal(_np(cm(x)), (torch.ones(2) * scale * kk).numpy())


def test_seed_cell_gradient_is_constant_folded():
    cf = ember.compile(lambda x: (x * 2 + 5).sum())
    for _ in range(3):
        x = ember.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = cf(x)
        y.backward()
    tx = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    ty = (tx * 2 + 5).sum()
    ty.backward()
    assert _replayed(y) and y.item() == ty.item()
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())
    prog = cf._last.prog
    (const_bwd,) = prog.const_bwd.values()
    src = prog.sources[-1]
    assert src.startswith("def backward") and "*" not in src.split("\n", 1)[1]
    assert const_bwd is prog.ns["backward"]


def test_dead_values_are_not_computed_and_unknown_ops_still_replay():
    def f(x):
        unused = x.exp() * 3  # noqa: F841 - nobody reads it
        return (x.cumsum(0) * x).sum()  # cumsum: not written out by the generator

    cf = ember.compile(f)
    a = np.array([0.5, -1.0, 2.0], dtype=np.float32)
    for _ in range(2):
        x = ember.tensor(a, requires_grad=True)
        y = cf(x)
        y.backward()
    xe = ember.tensor(a, requires_grad=True)
    f(xe).backward()
    tx = torch.tensor(a, requires_grad=True)
    (tx.cumsum(0) * tx).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), xe.grad.numpy())
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-6)
    call_src = [s for s in cf._last.prog.sources if s.startswith("def call")][0]
    assert "_exp(" not in call_src and "forward(" in call_src


def test_leaf_hooks_and_explicit_gradients_go_through_the_engine():
    cf = ember.compile(lambda x: (x * x).sum())
    x = ember.tensor([1.0, -2.0], requires_grad=True)
    cf(x)
    seen = []
    x.register_hook(lambda g: seen.append(g.clone()) or g * 10)
    y = cf(x)
    y.backward(ember.tensor(0.5))
    tx = torch.tensor([1.0, -2.0], requires_grad=True)
    tx.register_hook(lambda g: g * 10)
    (tx * tx).sum().backward(torch.tensor(0.5))
    assert _replayed(y) and len(seen) == 1
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())


def test_dropout_and_rand_draw_fresh_numbers_in_eager_order():
    def f(x):
        return F.dropout(x, 0.5) * 2 + ember.rand(6)

    cf = ember.compile(f)
    x = ember.ones(6, requires_grad=True)
    outs = []
    for seed in (0, 1, 1):
        ember.manual_seed(seed)
        a = cf(x)
        a.sum().backward()
        ga, x.grad = x.grad, None
        ember.manual_seed(seed)
        b = f(x)
        b.sum().backward()
        np.testing.assert_array_equal(_np(a), _np(b))
        np.testing.assert_array_equal(ga.numpy(), x.grad.numpy())
        x.grad = None
        outs.append(_np(a))
    assert _replayed(a) and not np.array_equal(outs[0], outs[1])
    ember.manual_seed(3)
    torch.manual_seed(3)
    np.testing.assert_array_equal(_np(ember.compile(lambda: ember.rand(3))()),
                                  torch.rand(3).numpy())


def _net(lib):
    lib.manual_seed(0)
    return lib.nn.Sequential(lib.nn.Linear(8, 16), lib.nn.ReLU(), lib.nn.Linear(16, 3))


def test_training_step_with_backward_and_adam_inside():
    rng = np.random.default_rng(0)
    xa, ya = rng.standard_normal((5, 8)).astype(np.float32), rng.integers(0, 3, 5)
    models = [_net(ember), _net(ember), _net(torch)]
    opts = [ember.optim.Adam(models[0].parameters(), 1e-2),
            ember.optim.Adam(models[1].parameters(), 1e-2),
            torch.optim.Adam(models[2].parameters(), 1e-2)]

    def step(lib, model, opt, x, y):
        opt.zero_grad()
        loss = lib.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    cstep = ember.compile(step)
    xs = [ember.tensor(xa), ember.tensor(xa), torch.tensor(xa)]
    ys = [ember.tensor(ya), ember.tensor(ya), torch.tensor(ya)]
    for _ in range(4):
        le = step(ember, models[0], opts[0], xs[0], ys[0])
        lc = cstep(ember, models[1], opts[1], xs[1], ys[1])
        lt = step(torch, models[2], opts[2], xs[2], ys[2])
        assert le.item() == lc.item()
        np.testing.assert_allclose(lc.item(), lt.item(), rtol=1e-5)
    assert _replayed(lc)
    for p, q, r in zip(*(m.parameters() for m in models)):
        np.testing.assert_array_equal(_np(p), _np(q))
        np.testing.assert_allclose(_np(q), r.detach().numpy(), rtol=1e-4, atol=1e-5)
    with pytest.raises(RuntimeError, match="second time"):
        lc.backward()


def test_fullgraph_breaks_raise_torchs_error_type():
    from torch._dynamo.exc import Unsupported

    def f(x):
        return x * x.max().item()

    def g(x):
        print("hi")
        return x + 1

    for fn in (f, g):
        with pytest.raises(_compile.Unsupported) as info:
            ember.compile(fn, fullgraph=True)(ember.ones(2))
        assert type(info.value).__name__ == Unsupported.__name__
        assert isinstance(info.value, RuntimeError) and issubclass(Unsupported, RuntimeError)


def test_parameter_data_replaced_with_another_shape_retraces():
    lin = nn.Linear(3, 2)
    cl = ember.compile(lin)
    x = ember.ones(1, 3)
    cl(x)
    cl(x)
    with ember.no_grad():
        lin.weight.data = ember.ones(4, 3)
        lin.bias.data = ember.zeros(4)
    out = cl(x)
    assert tuple(out.shape) == (1, 4)
    np.testing.assert_array_equal(_np(out), np.full((1, 4), 3.0, np.float32))


def test_scalar_output_saved_for_backward():
    cf = ember.compile(lambda x: (x * 0.5).sum().exp())
    x = ember.tensor([0.1, 0.2, 0.3], requires_grad=True)
    tx = torch.tensor([0.1, 0.2, 0.3], requires_grad=True)
    for _ in range(3):
        y = cf(x)
        y.backward()
        (tx * 0.5).sum().exp().backward()
    assert _replayed(y)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-6)
    y = cf(x)
    y.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()
