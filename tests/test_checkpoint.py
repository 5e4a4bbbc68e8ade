"""ember.utils.checkpoint against the plain (un-checkpointed) run and against
torch.utils.checkpoint: outputs and every gradient (dropout inside included), RNG handling,
both use_reentrant variants, checkpoint_sequential, warnings and errors."""

import contextlib
import warnings

import numpy as np
import pytest
import torch
import torch.utils.checkpoint as tc

import ember
import ember.utils.checkpoint as ec

X = np.random.default_rng(0).standard_normal((6, 5)).astype(np.float32)


def ck(m):
    return ec if m is ember else tc


def mlp(m, p=0.5):
    """The same MLP (torch's init under the same seed) with dropout between layers."""
    m.manual_seed(0)
    nn = m.nn
    return nn.Sequential(nn.Linear(5, 8), nn.Tanh(), nn.Dropout(p), nn.Linear(8, 8),
                         nn.ReLU(), nn.Dropout(p / 2), nn.Linear(8, 3))


def close(a, b, atol=1e-6):
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), atol=atol, rtol=1e-5)


def run_model(m, forward, seed=1):
    """Seeded forward + backward of forward(net, x): (output, [param grads..., x grad])."""
    net = mlp(m)
    x = m.tensor(X, requires_grad=True)
    m.manual_seed(seed)
    out = forward(m, net, x)
    (out.pow(2).sum() + out.sum()).backward()
    return out, [p.grad for p in net.parameters()] + [x.grad]


def plain(m, net, x):
    return net(x)


def same_run(e, t, atol=1e-6):
    close(e[0], t[0], atol)
    assert len(e[1]) == len(t[1])
    for a, b in zip(e[1], t[1]):
        assert (a is None) == (b is None)
        if a is not None:
            close(a, b, atol)


@pytest.mark.parametrize("reentrant", [True, False])
@pytest.mark.parametrize("split", [1, 3, 6])
def test_checkpointed_mlp_equals_plain_and_torch(reentrant, split):
    def forward(m, net, x):
        h = ck(m).checkpoint(lambda a: net[:split](a), x, use_reentrant=reentrant)
        return net[split:](h)
    for m in (ember, torch):  # within each library: checkpointed == plain, dropout included
        same_run(run_model(m, forward), run_model(m, plain))
    same_run(run_model(ember, forward), run_model(torch, forward))


@pytest.mark.parametrize("reentrant", [True, False])
@pytest.mark.parametrize("segments", [1, 2, 3, 7])
def test_checkpoint_sequential(reentrant, segments):
    def forward(m, net, x):
        return ck(m).checkpoint_sequential(net, segments, x, use_reentrant=reentrant)

    def from_list(m, net, x):  # a list of modules/functions works too
        return ck(m).checkpoint_sequential(list(net) + [lambda a: a * 2], segments, x,
                                           use_reentrant=reentrant) / 2
    for m in (ember, torch):
        same_run(run_model(m, forward), run_model(m, plain))
        same_run(run_model(m, from_list), run_model(m, plain))
    same_run(run_model(ember, forward), run_model(torch, forward))


@pytest.mark.parametrize("reentrant", [True, False])
def test_rng_state_after_backward_is_the_plain_runs(reentrant):
    def next_draws(m, forward):
        run_model(m, forward)
        return m.rand(4)
    fwd = lambda m, net, x: ck(m).checkpoint(net, x, use_reentrant=reentrant)  # noqa: E731
    close(next_draws(ember, fwd), next_draws(ember, plain))
    close(next_draws(ember, fwd), next_draws(torch, fwd))


@pytest.mark.parametrize("reentrant", [True, False])
def test_without_preserved_rng_state_recompute_draws_new_masks_like_torch(reentrant):
    def forward(m, net, x):
        return ck(m).checkpoint(net, x, use_reentrant=reentrant, preserve_rng_state=False)
    e, t = run_model(ember, forward), run_model(torch, forward)
    same_run(e, t)
    p = run_model(ember, plain)
    close(e[0], p[0])  # the forward itself is unchanged ...
    assert not np.allclose(e[1][0].numpy(), p[1][0].numpy())  # ... the recompute's masks not


def test_segment_output_grad_fn_and_edges_like_torch():
    for m in (ember, torch):
        net = mlp(m)
        x = m.tensor(X, requires_grad=True)
        y = ck(m).checkpoint(net, x, use_reentrant=True)
        assert type(y.grad_fn).__name__ == "CheckpointFunctionBackward"
        # Only the tensor argument is an edge: no activation of the segment is in the graph.
        (edge,) = y.grad_fn.next_functions
        assert type(edge[0]).__name__ == "AccumulateGrad" and edge[0].variable is x


@pytest.mark.parametrize("reentrant", [True, False])
def test_multiple_outputs_with_non_tensors_and_an_unused_output(reentrant):
    def fn(m):
        def f(a, b, k):
            return a.exp() * b, "tag", (a * b).sum() * k, a * 0 + 1
        return f

    def run(m):
        a = m.tensor([0.5, -1.0, 2.0], requires_grad=True)
        b = m.tensor([1.5, 0.25, -0.5], requires_grad=True)
        u, tag, s, _ = ck(m).checkpoint(fn(m), a, b, 3, use_reentrant=reentrant)
        assert tag == "tag"
        (u.sum() + s).backward()
        return u, s, a.grad, b.grad
    for x, y in zip(run(ember), run(torch)):
        close(x, y)


@pytest.mark.parametrize("reentrant", [True, False])
def test_retain_graph_recomputes_again_and_accumulates(reentrant):
    def run(m):
        net = mlp(m)
        x = m.tensor(X, requires_grad=True)
        m.manual_seed(3)
        y = ck(m).checkpoint(net, x, use_reentrant=reentrant).sum()
        y.backward(retain_graph=True)
        y.backward()
        return [p.grad for p in net.parameters()] + [x.grad]
    for a, b in zip(run(ember), run(torch)):
        close(a, b)


def test_inputs_without_grad_reentrant_warns_and_leaves_params_without_grads():
    for m in (ember, torch):
        net = mlp(m)
        with pytest.warns(UserWarning, match="None of the inputs have requires_grad=True"):
            y = ck(m).checkpoint(net, m.tensor(X), use_reentrant=True)
        assert not y.requires_grad
        assert all(p.grad is None for p in net.parameters())


def test_inputs_without_grad_non_reentrant_still_trains_params():
    def forward(m, net, x):
        return ck(m).checkpoint(net, x.detach(), use_reentrant=False)
    e, t = run_model(ember, forward), run_model(torch, forward)
    same_run(e, t)
    assert all(g is not None for g in e[1][:-1])


def test_non_reentrant_takes_keyword_tensors_and_gives_them_grads():
    def run(m):
        a = m.tensor([0.5, -1.0], requires_grad=True)
        w = m.tensor([2.0, 3.0], requires_grad=True)
        y = ck(m).checkpoint(lambda x, scale, shift=0.0: (x * scale).tanh() + shift, a,
                             scale=w, shift=1.0, use_reentrant=False)
        y.pow(2).sum().backward()
        return y, a.grad, w.grad
    for x, y in zip(run(ember), run(torch)):
        close(x, y)


def test_context_fn_wraps_forward_and_recompute():
    calls = []

    @contextlib.contextmanager
    def tag(name):
        calls.append(name)
        yield

    x = ember.ones(2, requires_grad=True)
    # (exp saves its output, so backward recomputes; ``a * 3`` saves no tensor and would
    # not, in PyTorch either.)
    y = ec.checkpoint(lambda a: a.exp(), x, use_reentrant=False,
                      context_fn=lambda: (tag("forward"), tag("recompute")))
    assert calls == ["forward"]
    y.sum().backward()
    assert calls == ["forward", "recompute"]
    np.testing.assert_allclose(x.grad.numpy(), [np.e, np.e], rtol=1e-6)


@pytest.mark.parametrize("reentrant", [True, False])
def test_under_no_grad_just_runs(reentrant):
    net = mlp(ember)
    with ember.no_grad():
        y = ec.checkpoint(net.eval(), ember.tensor(X, requires_grad=True),
                          use_reentrant=reentrant)
    assert not y.requires_grad
    close(y, net(ember.tensor(X)))


@pytest.mark.parametrize("reentrant", [True, False])
def test_input_modified_in_place_after_forward_fails_in_backward(reentrant):
    for m in (ember, torch):
        x = m.ones(3, requires_grad=True)
        h = x * 1
        y = ck(m).checkpoint(lambda a: a.exp(), h, use_reentrant=reentrant)
        with m.no_grad():
            h.add_(1)
        with pytest.raises(RuntimeError):
            y.sum().backward()


def test_use_reentrant_not_passed_warns_like_torch():
    for fn, args in ((lambda m: ck(m).checkpoint, lambda m: (lambda a: a * 2, m.ones(1))),
                     (lambda m: ck(m).checkpoint_sequential,
                      lambda m: ([lambda a: a * 2], 1, m.ones(1)))):
        msgs = []
        for m in (ember, torch):
            with warnings.catch_warnings(record=True) as rec:
                warnings.simplefilter("always")
                fn(m)(*args(m))
            msgs.append([str(w.message) for w in rec if "use_reentrant" in str(w.message)])
        assert len(msgs[0]) == 1 and msgs[0] == msgs[1]


ERRORS = {
    "reentrant_kwargs": lambda m: ck(m).checkpoint(lambda a, b: a, m.ones(1), b=1,
                                                   use_reentrant=True),
    "reentrant_context_fn": lambda m: ck(m).checkpoint(
        lambda a: a, m.ones(1), use_reentrant=True,
        context_fn=lambda: (contextlib.nullcontext(), contextlib.nullcontext())),
    "reentrant_debug": lambda m: ck(m).checkpoint(lambda a: a, m.ones(1), use_reentrant=True,
                                                  debug=True),
    "determinism_check": lambda m: ck(m).checkpoint(lambda a: a, m.ones(1), use_reentrant=False,
                                                    determinism_check="strict"),
    "debug_with_context_fn": lambda m: ck(m).checkpoint(
        lambda a: a, m.ones(1), use_reentrant=False, debug=True,
        context_fn=lambda: (contextlib.nullcontext(), contextlib.nullcontext())),
    "sequential_kwargs": lambda m: ck(m).checkpoint_sequential([lambda a: a], 1, m.ones(1),
                                                               use_reentrant=True, foo=1),
    "detach_variable_list": lambda m: ck(m).detach_variable([m.ones(1)]),
    "nothing_requires_grad_on_recompute": lambda m: ck(m).checkpoint(
        lambda a: a.detach() * 2, m.ones(1, requires_grad=True),
        use_reentrant=True).sum().backward(),
}


@pytest.mark.parametrize("case", ERRORS)
def test_errors_like_torch(case):
    with pytest.raises(Exception) as te:
        ERRORS[case](torch)
    with pytest.raises(type(te.value)) as ee:
        ERRORS[case](ember)
    assert str(ee.value) == str(te.value)


def test_detach_variable_keeps_requires_grad_and_non_tensors():
    a, b = ember.ones(2, requires_grad=True) * 2, ember.ones(2)
    da, db, k = ec.detach_variable((a, b, 3))
    assert da.requires_grad and da.grad_fn is None and not db.requires_grad and k == 3
    np.testing.assert_array_equal(da.detach().numpy(), a.detach().numpy())
