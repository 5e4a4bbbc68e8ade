"""ember.func.vmap, functional_call and stack_module_state against torch.func."""

import numpy as np
import pytest
import torch
import torch.func as tf

import ember
import ember.func as ef
from tests.func.test_transforms import _pair, _raises, _same


def test_vmap_in_out_dims_pytrees_and_nesting():
    xe, xt = _pair((2, 3), 1)
    ye, yt = _pair((3, 2), 2)
    _same(ef.vmap(lambda a, b: a * b)(xe, ye.T), tf.vmap(lambda a, b: a * b)(xt, yt.T))
    _same(ef.vmap(lambda a, b: a @ b, in_dims=(0, None))(xe, ye),
          tf.vmap(lambda a, b: a @ b, in_dims=(0, None))(xt, yt))
    _same(ef.vmap(lambda a, b: a + b, in_dims=(1, 0), out_dims=1)(ye, xe),
          tf.vmap(lambda a, b: a + b, in_dims=(1, 0), out_dims=1)(yt, xt))
    _same(ef.vmap(lambda d: {"s": d["a"].sum(), "t": (d["a"] * 2, d["b"])},
                  in_dims=({"a": -1, "b": None},), out_dims={"s": 0, "t": (1, None)})(
              {"a": ye, "b": xe}),
          tf.vmap(lambda d: {"s": d["a"].sum(), "t": (d["a"] * 2, d["b"])},
                  in_dims=({"a": -1, "b": None},), out_dims={"s": 0, "t": (1, None)})(
              {"a": yt, "b": xt}))
    _same(ef.vmap(ef.vmap(lambda a: a.exp()))(xe), tf.vmap(tf.vmap(lambda a: a.exp()))(xt))
    _same(ef.vmap(ef.vmap(lambda a, b: a * b, in_dims=(None, 0)), in_dims=(0, None))(xe, ye.T),
          tf.vmap(tf.vmap(lambda a, b: a * b, in_dims=(None, 0)), in_dims=(0, None))(xt, yt.T))
    _same(ef.vmap(lambda a: a.sum(), chunk_size=1)(xe), tf.vmap(lambda a: a.sum(),
                                                                chunk_size=1)(xt))
    # keyword arguments are not mapped; unbatched outputs are expanded
    _same(ef.vmap(lambda a, k: a * k)(xe, k=ye[:, 0]), tf.vmap(lambda a, k: a * k)(xt, k=yt[:, 0]))
    _same(ef.vmap(lambda a: ember.ones(2))(xe), tf.vmap(lambda a: torch.ones(2))(xt))


def test_vmap_errors_match_torch():
    xe, xt = _pair((3,))
    me, mt = _pair((2, 3), 3)

    def f(x):
        return x
    cases = [
        (lambda v: v(lambda a, b: a + b)(me, me.T) if v is ef.vmap else v(
            lambda a, b: a + b)(mt, mt.T)),
        (lambda v: v(f, in_dims=(0, 0))(xe if v is ef.vmap else xt)),
        (lambda v: v(f, in_dims=2)(xe if v is ef.vmap else xt)),
        (lambda v: v(f, in_dims=1)(xe if v is ef.vmap else xt)),
        (lambda v: v(f, in_dims=0)(3.0)),
        (lambda v: v(f, in_dims=None)(xe if v is ef.vmap else xt)),
        (lambda v: v(f, in_dims="a")(xe if v is ef.vmap else xt)),
        (lambda v: v(f, in_dims=[0])(xe if v is ef.vmap else xt)),
        (lambda v: v(f, in_dims=(None,))(xe if v is ef.vmap else xt)),
        (lambda v: v(f)()),
        (lambda v: v(lambda a: 3.0)(xe if v is ef.vmap else xt)),
        (lambda v: v(f, out_dims=(0, 1))(xe if v is ef.vmap else xt)),
        (lambda v: v(f, out_dims="a")(xe if v is ef.vmap else xt)),
        (lambda v: v(f, out_dims=3)(xe if v is ef.vmap else xt)),
        (lambda v: v(f, randomness="foo")(xe if v is ef.vmap else xt)),
        (lambda v: v(f, chunk_size=0)(xe if v is ef.vmap else xt)),
        (lambda v: v(lambda a: a + (ember if v is ef.vmap else torch).rand(1))(
            xe if v is ef.vmap else xt)),
        (lambda v: v(lambda a: (ember if v is ef.vmap else torch).randn(2))(
            xe if v is ef.vmap else xt)),
    ]
    for case in cases:
        _raises(lambda: case(ef.vmap), lambda: case(tf.vmap))


def test_vmap_randomness_modes_match_torch_streams():
    for mode in ("same", "different"):
        ember.manual_seed(3)
        torch.manual_seed(3)
        e = ef.vmap(lambda a: a * 0 + ember.rand(3), randomness=mode)(ember.zeros(4, 3))
        t = tf.vmap(lambda a: a * 0 + torch.rand(3), randomness=mode)(torch.zeros(4, 3))
        _same((e, ember.rand(2)), (t, torch.rand(2)))       # and the generator after it
    assert not np.array_equal(e[0].numpy(), e[1].numpy())


def _mlp(m):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    if m is torch:
        return net
    enet = ember.nn.Sequential(ember.nn.Linear(5, 8), ember.nn.Tanh(), ember.nn.Linear(8, 3))
    enet.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in
                          net.state_dict().items()})
    return enet


def test_per_sample_gradients_match_torch_func():
    results = []
    for m, fm in ((ember, ef), (torch, tf)):
        net = _mlp(m)
        params = {k: v.detach() for k, v in net.named_parameters()}
        rng = np.random.default_rng(5)
        x = m.tensor(rng.standard_normal((6, 5)).astype(np.float32))
        y = m.tensor(rng.integers(0, 3, 6))

        def loss(p, xi, yi, net=net, m=m, fm=fm):
            out = fm.functional_call(net, p, (xi.unsqueeze(0),))
            return m.nn.functional.cross_entropy(out, yi.unsqueeze(0))
        results.append(fm.vmap(fm.grad(loss), in_dims=(None, 0, 0))(params, x, y))
    _same(*results, tol=1e-5)


def test_functional_call_tied_strict_and_buffers():
    for_both = []
    for m, fm in ((ember, ef), (torch, tf)):
        class M(m.nn.Module):
            def __init__(self):
                super().__init__()
                self.a = m.nn.Linear(2, 2)
                self.b = m.nn.Linear(2, 2)
                self.b.weight = self.a.weight
                self.register_buffer("buf", m.ones(2))

            def forward(self, x):
                return self.b(self.a(x)) + self.buf
        mod = M()
        x = m.ones(1, 2)
        eye = m.eye(2)
        zeros = m.zeros(2)
        out = fm.functional_call(mod, ({"a.weight": eye, "a.bias": zeros},
                                       {"b.bias": zeros, "buf": zeros}), x)
        untied = fm.functional_call(mod, {"a.weight": eye, "a.bias": zeros, "b.bias": zeros,
                                          "buf": zeros}, (x,), tie_weights=False)
        assert mod.a.weight is mod.b.weight and isinstance(mod.a.weight, m.nn.Parameter)
        for_both.append((out, untied))
        errs = []
        for call in (lambda: fm.functional_call(mod, {"a.weight": eye}, x, strict=True),
                     lambda: fm.functional_call(mod, {"a.weight": eye, "foo": eye}, x,
                                                strict=True),
                     lambda: fm.functional_call(mod, {"a.weight": eye, "b.weight": eye * 2},
                                                x),
                     lambda: fm.functional_call(mod, ({"buf": zeros}, {"buf": zeros}), x)):
            with pytest.raises(Exception) as e:
                call()
            errs.append((type(e.value), str(e.value)))
        for_both.append(errs)
    _same(for_both[0], for_both[2])
    assert for_both[1] == for_both[3]


def test_ensemble_with_stack_module_state():
    outs = []
    for m, fm in ((ember, ef), (torch, tf)):
        models = [_mlp(m) for _ in range(3)]
        for i, net in enumerate(models):
            with m.no_grad():
                for p in net.parameters():
                    p.mul_(i + 1)
        params, buffers = fm.stack_module_state(models)
        assert all(p.is_leaf and p.requires_grad for p in params.values())
        x = m.ones(4, 5)

        def run(p, b, x, net=models[0], fm=fm):
            return fm.functional_call(net, (p, b), (x,))
        outs.append((fm.vmap(run, in_dims=(0, 0, None))(params, buffers, x),
                     {k: v.detach() for k, v in params.items()}))
        with pytest.raises(RuntimeError) as e:
            fm.stack_module_state([])
        outs.append(str(e.value))
    _same(outs[0], outs[2], tol=1e-5)
    assert outs[1] == outs[3]


_RANDOM_FNS = {
    "dropout": lambda m: lambda a: m.nn.functional.dropout(a, 0.3),
    "two_dropouts": lambda m: lambda a: m.nn.functional.dropout(
        m.nn.functional.dropout(a, 0.3).sin(), 0.5),
    "rand_like": lambda m: lambda a: a + m.rand_like(a),
    "randn_like": lambda m: lambda a: a * m.randn_like(a),
    "bernoulli_": lambda m: lambda a: m.empty_like(a).bernoulli_(0.4) + a,
    "rand": lambda m: lambda a: a + m.rand(a.shape[0], dtype=a.dtype),
    "randn_twice": lambda m: lambda a: a * m.randn(a.shape, dtype=a.dtype) + m.randn(
        a.shape[0], dtype=a.dtype),
    "randint": lambda m: lambda a: a + m.randint(0, 5, (a.shape[0],)),
    "normal": lambda m: lambda a: a + m.normal(2.0, 3.0, size=tuple(a.shape)),
    "factory_then_dropout": lambda m: lambda a: m.nn.functional.dropout(
        a + m.randn(a.shape, dtype=a.dtype), 0.5),
}


@pytest.mark.parametrize("mode", ["different", "same"])
@pytest.mark.parametrize("name", list(_RANDOM_FNS))
@pytest.mark.parametrize("shape,in_dim", [((4, 6), 0), ((3, 20), 0), ((5, 3), 1)])
def test_random_fills_of_batched_tensors_draw_torchs_numbers(mode, name, shape, in_dim):
    """A random fill of a batched tensor (dropout's mask, rand_like, ...) and a random
    factory (rand(n), ...) draw once for the whole batch, laid out as torch.func lays them
    out: same numbers, same generator state after, and no per-sample fallback."""
    from tests.func.test_vmap_batched import _batched
    outs = []
    for m, mf in ((ember, ef), (torch, tf)):
        m.manual_seed(11)
        x = m.ones(*shape, dtype=m.float64)
        run = (lambda: mf.vmap(_RANDOM_FNS[name](m), in_dims=in_dim, randomness=mode)(x))
        out = _batched(run) if m is ember else run()
        outs.append((out, m.rand(3, dtype=m.float64)))
    _same(outs[0], outs[1])


def test_like_factories_of_batched_tensors_are_batched():
    def acc(m):
        def f(a):
            out = m.zeros_like(a)
            out += a * 2
            return out + m.full_like(a, 3.0).sum()
        return f
    _same(ef.vmap(acc(ember))(ember.ones(3, 2)), tf.vmap(acc(torch))(torch.ones(3, 2)))


def test_random_fill_in_error_mode_raises_like_torch():
    _raises(lambda: ef.vmap(lambda a: ember.nn.functional.dropout(a, 0.5))(ember.ones(3, 2)),
            lambda: tf.vmap(lambda a: torch.nn.functional.dropout(a, 0.5))(torch.ones(3, 2)))


def test_random_factories_of_other_threads_stay_plain_during_a_vmap():
    """vmap's batched draws belong to the thread running it: another thread's rand(3) made
    while a vmap(randomness='different') is open is an ordinary tensor."""
    import threading
    seen = {}
    started, release = threading.Event(), threading.Event()

    def other():
        started.wait(10)
        seen["shape"] = tuple(ember.rand(3).shape)
        seen["type"] = type(ember.rand(3)).__name__
        release.set()

    t = threading.Thread(target=other)
    t.start()

    def f(a):
        started.set()
        assert release.wait(10)
        return a + ember.rand(3)

    out = ef.vmap(f, randomness="different")(ember.zeros(4, 3))
    t.join(10)
    assert seen == {"shape": (3,), "type": "Tensor"}
    assert out.shape == (4, 3) and not np.array_equal(out[0].numpy(), out[1].numpy())
