"""The engine's execution order against PyTorch's: hooks on tensors, nodes and leaves fire
in the same order under both libraries; gradients a leaf takes over are never shared."""

import numpy as np
import pytest
import torch

import ember


def _log_hooks(lib, build):
    """Run ``build(lib, log)`` (which registers hooks appending to ``log``) and return the
    log."""
    log: list = []
    build(lib, log)
    return log


def _leaf_first(t, log):
    # The issue's example: a leaf whose gradient is complete early runs at once.
    w = t.tensor([1.0, 2.0], requires_grad=True)
    w.register_hook(lambda g: log.append("leaf w"))
    x = t.tensor([3.0, 4.0], requires_grad=True)
    y = x * 2
    y.register_hook(lambda g: log.append("y"))
    z = y.exp()
    z.register_hook(lambda g: log.append("z"))
    (w.sum() * 3 + z.sum()).backward()


def _diamond(t, log):
    w = t.tensor([1.0, 2.0], requires_grad=True)
    w.register_hook(lambda g: log.append("leaf w"))
    y = w * 2
    y.register_hook(lambda g: log.append("y"))
    z = y.exp()
    z.register_hook(lambda g: log.append("z"))
    u = w.sin()
    u.register_hook(lambda g: log.append("u"))
    (z.sum() + u.sum()).backward()


def _leaves_ready_together(t, log):
    # Several leaves become ready at once: ties, released in the order of PyTorch's heap.
    ts = [t.tensor([float(i)], requires_grad=True) for i in range(6)]
    for i, leaf in enumerate(ts):
        leaf.register_hook(lambda g, i=i: log.append(i))
    t.stack(ts).sum().backward()


def _add_chain(t, log):
    ts = [t.tensor([float(i)], requires_grad=True) for i in range(6)]
    for i, leaf in enumerate(ts):
        leaf.register_hook(lambda g, i=i: log.append(i))
    s = ts[0]
    for leaf in ts[1:]:
        s = s + leaf
    s.sum().backward()


def _three_leaves(t, log):
    a, b, c = (t.tensor([float(i + 1)], requires_grad=True) for i in range(3))
    for n, leaf in zip("abc", (a, b, c)):
        leaf.register_hook(lambda g, n=n: log.append(n))
    (a * b * c).sum().backward()


def _node_hooks(t, log):
    x = t.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    z, q = y.tanh(), y.exp()
    for out, n in ((y, "y"), (z, "z"), (q, "q")):
        out.grad_fn.register_hook(lambda gi, go, n=n: log.append("post " + n))
        out.grad_fn.register_prehook(lambda go, n=n: log.append("pre " + n))
        out.register_hook(lambda g, n=n: log.append("tensor " + n))
    z.retain_grad()
    x.register_hook(lambda g: log.append("leaf x"))
    acc = y.grad_fn.next_functions[0][0]
    acc.register_hook(lambda gi, go: log.append("acc post"))
    acc.register_prehook(lambda go: log.append("acc pre"))
    (z + q).sum().backward()


def _cat_of_views(t, log):
    xs = [t.tensor([float(i)], requires_grad=True) for i in range(5)]
    for i, leaf in enumerate(xs):
        leaf.register_hook(lambda g, i=i: log.append(i))
    ys = [x * 2 for x in xs]
    t.cat(ys[::-1] + [xs[2] * 5]).sum().backward()


def _two_roots(t, log):
    a = t.tensor([1.0, 2.0], requires_grad=True)
    b = t.tensor([3.0, 4.0], requires_grad=True)
    a.register_hook(lambda g: log.append("a"))
    b.register_hook(lambda g: log.append("b"))
    p, q = (a * b), (b.exp())
    p.register_hook(lambda g: log.append("p"))
    q.register_hook(lambda g: log.append("q"))
    t.autograd.backward([q.sum(), p.sum(), q.sum()])


def _grad_with_hooks(t, log):
    # autograd.grad: a captured non-leaf whose node need not run gets its tensor hooks
    # before the capture; one whose node runs on, after.
    x = t.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: log.append("leaf x") or g * 10)
    y = x * 2
    y.register_hook(lambda g: log.append("y") or g * 100)
    z = y.sin()
    z.register_hook(lambda g: log.append("z"))
    gx, gy = t.autograd.grad(z.sum(), [x, y])
    log.append([round(v, 3) for v in gx.tolist()])
    log.append([round(v, 3) for v in gy.tolist()])


@pytest.mark.parametrize("build", [_leaf_first, _diamond, _leaves_ready_together, _add_chain,
                                   _three_leaves, _node_hooks, _cat_of_views, _two_roots,
                                   _grad_with_hooks])
def test_hook_order_matches_torch(build):
    assert _log_hooks(ember, build) == _log_hooks(torch, build)


def test_issue_example_leaf_runs_first():
    assert _log_hooks(ember, _leaf_first) == ["leaf w", "z", "y"]


def test_backward_inputs_nonleaf_retains_grad_like_torch():
    def run(t):
        x = t.tensor([1.0, 2.0], requires_grad=True)
        y = x * 2
        log = []
        y.grad_fn.register_hook(lambda gi, go: log.append("y node ran"))
        (y * y).sum().backward(inputs=[y])
        return y.retains_grad, y.grad.tolist(), x.grad, log
    e, t = run(ember), run(torch)
    assert e[:3] == t[:3] and e[3] == t[3]


def _pointer(t) -> int:
    return t._data.__array_interface__["data"][0]


def test_leaf_takes_over_an_unshared_gradient():
    # A gradient only the engine holds becomes .grad without a copy...
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    made = []

    def hook(g):
        r = g * 1
        made.append(_pointer(r))  # the address only, not a reference
        return r
    x.register_hook(hook)
    (x * 2).sum().backward()
    assert _pointer(x.grad) == made[0]


def test_shared_gradients_are_copied_not_aliased():
    # ...but one a hook kept, the caller passed in, or two leaves received, is copied.
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    kept = []
    x.register_hook(lambda g: kept.append(g))
    (x * 2).sum().backward()
    assert not np.shares_memory(kept[0]._data, x.grad._data)

    a = ember.tensor([1.0, 2.0], requires_grad=True)
    b = ember.tensor([1.0, 2.0], requires_grad=True)
    ((a + b) * 3).sum().backward()
    assert not np.shares_memory(a.grad._data, b.grad._data)

    g = ember.ones(2)
    c = ember.tensor([1.0, 2.0], requires_grad=True)
    c.backward(g)
    assert not np.shares_memory(c.grad._data, g._data)
    c.grad.add_(1)
    assert g.tolist() == [1.0, 1.0]

    d = ember.tensor([1.0, 2.0], requires_grad=True)
    y = d * 2
    y.retain_grad()
    (y * 1).sum().backward()
    assert not np.shares_memory(y.grad._data, d.grad._data)
