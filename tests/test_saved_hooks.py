"""Saved-tensor hooks (``autograd.graph``) and the non-reentrant checkpoint built on them,
against PyTorch."""

import numpy as np
import pytest
import torch

import ember


def _ck(lib):
    if lib is ember:
        import ember.utils.checkpoint as ck
    else:
        import torch.utils.checkpoint as ck
    return ck


def _close(e, t, rtol=1e-5):
    np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), rtol=rtol, atol=1e-6)


def _logged_hooks(log):
    def pack(x):
        log.append(("pack", tuple(x.shape), x.requires_grad, x.grad_fn is not None))
        return x.detach().clone()  # a different tensor: unpack must reconnect it

    def unpack(x):
        log.append(("unpack", tuple(x.shape)))
        return x
    return pack, unpack


def test_builtin_ops_pack_and_unpack_like_torch_with_double_backward():
    def run(t):
        log = []
        a = t.tensor([0.5, 1.0], requires_grad=True)
        b = t.tensor([1.5, -0.5], requires_grad=True)
        with t.autograd.graph.saved_tensors_hooks(*_logged_hooks(log)):
            z = (a * b).exp().sin().sum()
        (ga,) = t.autograd.grad(z, a, create_graph=True)
        ga.sum().backward()
        return log, ga, b.grad
    (e_log, e_ga, e_gb), (t_log, t_ga, t_gb) = run(ember), run(torch)
    assert e_log == t_log
    _close(e_ga, t_ga)
    _close(e_gb, t_gb)


def test_custom_function_saves_go_through_the_innermost_hooks():
    def run(t):
        outer, inner = [], []

        class Cube(t.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                y = x ** 3
                ctx.save_for_backward(x, y)
                return y

            @staticmethod
            def backward(ctx, g):
                x, y = ctx.saved_tensors
                return g * 3 * y / x

        x = t.tensor([1.0, 2.0], requires_grad=True)
        with t.autograd.graph.saved_tensors_hooks(*_logged_hooks(outer)):
            with t.autograd.graph.saved_tensors_hooks(*_logged_hooks(inner)):
                y = Cube.apply(x)
        y.sum().backward()
        return outer, inner, x.grad
    e, t = run(ember), run(torch)
    assert e[0] == t[0] == []
    assert e[1] == t[1]
    _close(e[2], t[2])


def test_save_on_cpu_and_disable_hooks():
    def run(t):
        w = t.tensor([[0.5, -1.0], [2.0, 0.25]], requires_grad=True)
        x = t.tensor([[1.0, 2.0]])
        with t.autograd.graph.save_on_cpu(pin_memory=False):
            loss = (x @ w).tanh().sum()
        loss.backward()
        with t.autograd.graph.disable_saved_tensors_hooks("hooks are off here"):
            with pytest.raises(RuntimeError) as info:
                with t.autograd.graph.save_on_cpu():
                    pass
        return w.grad, str(info.value)
    (e_g, e_msg), (t_g, t_msg) = run(ember), run(torch)
    _close(e_g, t_g)
    assert e_msg == t_msg == "hooks are off here"


def test_node_interface():
    def run(t):
        x = t.tensor([1.0], requires_grad=True)
        y = x.exp()
        edge = t.autograd.graph.get_gradient_edge(y)
        leaf_edge = t.autograd.graph.get_gradient_edge(x)
        return (isinstance(y.grad_fn, t.autograd.graph.Node), edge.node.name(), edge.output_nr,
                isinstance(leaf_edge.node, t.autograd.graph.Node), leaf_edge.output_nr,
                isinstance(object(), t.autograd.graph.Node))
    assert run(ember) == run(torch)


# -- checkpoint(use_reentrant=False) --------------------------------------------------------

def _segment(lib, log):
    def f(a, w):
        log.append("start")
        h = (a @ w).exp()
        log.append("mid")
        out = h.sin()
        log.append("end")
        return out
    return f


@pytest.mark.parametrize("early_stop", [True, False])
def test_non_reentrant_checkpoint_recomputes_like_torch(early_stop):
    def run(t):
        log = []
        t.manual_seed(0)
        a = t.randn(3, 2, requires_grad=True)
        w = t.randn(2, 2) * 0.3
        w.requires_grad_()
        with _ck(t).set_checkpoint_early_stop(early_stop):
            out = _ck(t).checkpoint(_segment(t, log), a, w, use_reentrant=False)
        log.append("forward done")
        # autograd.grad w.r.t. a tensor used inside, and a second pass (retain_graph)
        (gw,) = t.autograd.grad(out.sum(), w, retain_graph=True)
        log.append("grad done")
        out.sum().backward()
        return log, gw, a.grad, w.grad
    e, t = run(ember), run(torch)
    assert e[0] == t[0]
    for x, y in zip(e[1:], t[1:]):
        _close(x, y)


def test_non_reentrant_checkpoint_keeps_no_saved_activation():
    # What the graph keeps for the segment's saved tensors are placeholders, not tensors.
    from ember.autograd.function import _FREED
    x = ember.randn(4, requires_grad=True)
    out = _ck(ember).checkpoint(lambda a: a.exp().sin(), x, use_reentrant=False)
    node = out.grad_fn
    kept = []
    while node is not None and getattr(node, "_saved", None) not in (None, _FREED):
        kept += [type(getattr(s, "packed", s)).__name__ for s in node._saved]
        node = node.next_functions[0][0] if node.next_functions else None
    assert kept and all(k == "_Holder" for k in kept)
    out.sum().backward()
    _close(x.grad, torch.from_numpy(x.detach().numpy()).exp().cos()
           * torch.from_numpy(x.detach().numpy()).exp())


@pytest.mark.parametrize("second", [lambda a: a.exp(), lambda a: a.repeat(2).exp().sin()])
def test_non_reentrant_checkpoint_errors_like_torch(second):
    # The recomputation saves fewer tensors, or tensors of other shapes, than the forward.
    def run(t):
        calls = []

        def f(a):
            calls.append(1)
            return a.exp().sin() if len(calls) == 1 else second(a)
        x = t.ones(2, requires_grad=True)
        y = _ck(t).checkpoint(f, x, use_reentrant=False)
        with pytest.raises(_ck(t).CheckpointError) as info:
            y.sum().backward()
        return str(info.value).splitlines()[:2]
    assert run(ember) == run(torch)
