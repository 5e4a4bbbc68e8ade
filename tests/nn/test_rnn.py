"""RNN, LSTM, GRU and their cells against PyTorch (same weights): outputs, final states,
gradients of inputs, initial states and every parameter; names, shapes, reprs, init."""

import numpy as np
import pytest
import torch
import torch.nn as tnn

import ember
import ember.nn as enn
from tests.nn._compare import compare, twin

CONFIGS = [dict(), dict(num_layers=2, bidirectional=True), dict(batch_first=True, bias=False),
           dict(num_layers=3, batch_first=True, bidirectional=True)]
EXTRA = {"LSTM": [dict(proj_size=3), dict(proj_size=2, num_layers=2, bidirectional=True)],
         "RNN": [dict(nonlinearity="relu", num_layers=2)], "GRU": []}
CASES = [(c, kw) for c in ("RNN", "LSTM", "GRU") for kw in CONFIGS + EXTRA[c]]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("cls,kw", CASES, ids=str)
def test_recurrent_layers(cls, kw, dtype):
    e, t = twin(getattr(enn, cls)(4, 5, **kw), getattr(tnn, cls)(4, 5, **kw), dtype)
    rng = np.random.default_rng(0)
    shape = (3, 6, 4) if kw.get("batch_first") else (6, 3, 4)
    compare(e, t, [rng.standard_normal(shape)], dtype)
    compare(e, t, [rng.standard_normal((6, 4))], dtype)               # unbatched


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
def test_initial_states(cls):
    kw = dict(num_layers=2, bidirectional=True, proj_size=2 if cls == "LSTM" else 0)
    if cls != "LSTM":
        kw.pop("proj_size")
    e, t = twin(getattr(enn, cls)(4, 5, **kw), getattr(tnn, cls)(4, 5, **kw))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 3, 4))
    if cls == "LSTM":
        h, c = rng.standard_normal((4, 3, 2)), rng.standard_normal((4, 3, 5))
        compare(e, t, [x, h, c], call=lambda m, x, h, c: m(x, (h, c)))
    else:
        compare(e, t, [x, rng.standard_normal((4, 3, 5))])


def test_state_dict_names_and_init():
    ember.manual_seed(0)
    torch.manual_seed(0)
    e = enn.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2)
    t = tnn.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2)
    assert [(k, tuple(v.shape)) for k, v in e.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in t.state_dict().items()]
    for k, v in t.state_dict().items():
        np.testing.assert_allclose(e.state_dict()[k].numpy(), v.numpy(), rtol=1e-6)
    assert repr(enn.GRU(32, 128, batch_first=True, dropout=0.5, num_layers=2)) == \
        repr(tnn.GRU(32, 128, batch_first=True, dropout=0.5, num_layers=2))


@pytest.mark.parametrize("cls", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cells(cls):
    e, t = twin(getattr(enn, cls)(4, 5), getattr(tnn, cls)(4, 5))
    rng = np.random.default_rng(0)
    compare(e, t, [rng.standard_normal((3, 4))])
    compare(e, t, [rng.standard_normal((4,))])
    h = rng.standard_normal((3, 5))
    if cls == "LSTMCell":
        compare(e, t, [rng.standard_normal((3, 4)), h, h + 1],
                call=lambda m, x, h, c: m(x, (h, c)))
    else:
        compare(e, t, [rng.standard_normal((3, 4)), h])
    assert repr(enn.RNNCell(3, 4, bias=False, nonlinearity="relu")) == \
        repr(tnn.RNNCell(3, 4, bias=False, nonlinearity="relu"))


def test_lstm_cell_gradcheck():
    cell = enn.LSTMCell(3, 2).double()
    x = ember.randn(2, 3, dtype=ember.float64, requires_grad=True)
    h = ember.randn(2, 2, dtype=ember.float64, requires_grad=True)
    c = ember.randn(2, 2, dtype=ember.float64, requires_grad=True)
    assert ember.autograd.gradcheck(lambda x, h, c: cell(x, (h, c)), (x, h, c))
    gru = enn.GRUCell(3, 2).double()
    assert ember.autograd.gradcheck(lambda x, h: gru(x, h), (x, h))


def test_packed_sequence():
    from ember.nn.utils.rnn import pack_padded_sequence
    e, t = twin(enn.LSTM(4, 5, bidirectional=True), tnn.LSTM(4, 5, bidirectional=True))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 3, 4))
    lengths = [4, 6, 2]

    def run(lib, pack):
        def call(m, x):
            out, (h, c) = m(pack(x, lib.tensor(lengths), enforce_sorted=False))
            return out.data, h, c
        return call
    compare(e, t, [x], call=lambda m, x: run(ember, pack_padded_sequence)(m, x)
            if isinstance(m, enn.Module) else
            run(torch, tnn.utils.rnn.pack_padded_sequence)(m, x))


def test_errors():
    with pytest.raises(ValueError):
        enn.LSTM(3, 4, proj_size=4)
    with pytest.raises(ValueError):
        enn.GRU(3, 4, proj_size=2)
    with pytest.raises(ValueError):
        enn.RNN(3, 4, nonlinearity="gelu")
    with pytest.raises(RuntimeError):
        enn.LSTM(3, 4)(ember.randn(5, 2, 7))


# -- the fused layer node against the unfused per-step graph ---------------------------------
FUSED = [("LSTM", dict()), ("LSTM", dict(reverse=True, proj=2)), ("LSTM", dict(mask=True)),
         ("LSTM", dict(mask=True, reverse=True, proj=3, bias=False)),
         ("GRU", dict()), ("GRU", dict(reverse=True, bias=False)), ("GRU", dict(mask=True)),
         ("RNN_TANH", dict()), ("RNN_TANH", dict(mask=True, reverse=True)),
         ("RNN_RELU", dict(bias=False)), ("RNN_RELU", dict(mask=True))]


def _layer_args(mode, reverse=False, proj=0, mask=False, bias=True, T=5, N=3, I=4, H=5,
                dtype=ember.float64):
    """Random inputs of one layer: x, weights, h0, c0, mask, all leaves requiring grad."""
    k = {"LSTM": 4, "GRU": 3}.get(mode, 1)
    P = proj or H

    def leaf(*shape):
        return (ember.randn(*shape, dtype=dtype) * 0.5).requires_grad_()
    weights = (leaf(k * H, I), leaf(k * H, P), leaf(k * H) if bias else None,
               leaf(k * H) if bias else None, leaf(P, H) if proj else None)
    m = None
    if mask:
        lengths = ember.tensor([T, 2, 4][:N])
        m = ember.arange(T).reshape(-1, 1, 1) < lengths.reshape(1, -1, 1)
    c0 = leaf(N, H) if mode == "LSTM" else None
    return leaf(T, N, I), weights, leaf(N, P), c0, m, reverse


def _leaves(args):
    x, weights, h0, c0 = args[:4]
    return [t for t in (x, *weights, h0, c0) if t is not None]


@pytest.mark.parametrize("mode,kw", FUSED, ids=str)
def test_fused_layer_matches_unfused(mode, kw):
    from ember.nn._functional.rnn import recurrent_layer, unfused_layer
    ember.manual_seed(0)
    args = _layer_args(mode, **kw)
    x, (w_ih, w_hh, b_ih, b_hh, w_hr), h0, c0, mask, reverse = args
    fused = recurrent_layer(mode, x, (w_ih, w_hh, b_ih, b_hh, w_hr), h0, c0, mask, reverse)
    plain = unfused_layer(mode, x, w_ih, w_hh, b_ih, b_hh, w_hr, h0, c0, mask, reverse)
    assert fused[0].grad_fn.name() == "MkldnnRnnLayerBackward0"
    leaves = _leaves(args)
    gs = [ember.randn(*o.shape, dtype=o.dtype) for o in plain if o is not None]
    got, want = [], []
    for outs, acc in ((fused, got), (plain, want)):
        outs = [o for o in outs if o is not None]
        for a, b in zip(outs, plain):
            np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), atol=1e-12)
        acc += ember.autograd.grad(outs, leaves, gs, allow_unused=True)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-11)


@pytest.mark.parametrize("mode,kw", [("LSTM", dict(proj=2)), ("LSTM", dict(mask=True)),
                                     ("GRU", dict(reverse=True)), ("RNN_TANH", dict())], ids=str)
def test_fused_layer_double_backward(mode, kw):
    """create_graph=True differentiates the rebuilt unfused graph: gradgradcheck passes and
    first-order gradients agree with the hand-written backward."""
    from ember.nn._functional.rnn import recurrent_layer
    ember.manual_seed(1)
    x, weights, h0, c0, mask, reverse = _layer_args(mode, T=3, N=2, I=2, H=2, **kw)
    leaves = _leaves((x, weights, h0, c0))
    n_w = sum(w is not None for w in weights)

    def fn(x, *rest):
        it = iter(rest[:n_w])
        ws = tuple(next(it) if w is not None else None for w in weights)
        h, c = rest[n_w], (rest[n_w + 1] if c0 is not None else None)
        out = recurrent_layer(mode, x, ws, h, c, mask, reverse)
        return tuple(o for o in out if o is not None)
    assert ember.autograd.gradcheck(fn, tuple(leaves))
    assert ember.autograd.gradgradcheck(fn, tuple(leaves))
    outs = fn(*leaves)
    loss = sum((o * o).sum() for o in outs)
    first = ember.autograd.grad(loss, leaves, retain_graph=True)
    recorded = ember.autograd.grad(loss, leaves, create_graph=True)
    assert all(g.requires_grad for g in recorded)
    for a, b in zip(first, recorded):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), atol=1e-12)


def test_lstm_double_backward_vs_torch():
    """Gradient of a gradient norm through nn.LSTM, against torch."""
    e, t = twin(enn.LSTM(3, 4, num_layers=2), tnn.LSTM(3, 4, num_layers=2))
    x = np.random.default_rng(0).standard_normal((4, 2, 3))
    res = []
    for lib, m in ((ember, e), (torch, t)):
        xi = lib.tensor(x, requires_grad=True)
        out, _ = m(xi)
        g, = lib.autograd.grad((out ** 2).sum(), xi, create_graph=True)
        (g ** 2).sum().backward()
        res.append([xi.grad.numpy()] + [p.grad.detach().numpy() for p in m.parameters()])
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, atol=1e-10)


@pytest.mark.parametrize("cls", ["LSTM", "GRU"])
def test_output_modified_in_place(cls):
    """Like torch: LSTM's output is saved for backward (in-place edits raise); GRU's is not."""
    results = []
    for lib, nn in ((ember, enn), (torch, tnn)):
        lib.manual_seed(0)
        out, h = getattr(nn, cls)(3, 4)(lib.randn(5, 2, 3))
        out.mul_(2)
        h = h[0] if isinstance(h, tuple) else h
        try:
            (out.sum() + h.sum()).backward()
            results.append(None)
        except RuntimeError as exc:
            results.append("modified by an inplace operation" in str(exc))
    assert results[0] == results[1]


def test_dropout_between_layers_and_no_grad():
    m = enn.LSTM(3, 4, num_layers=2, dropout=0.5)
    x = ember.randn(5, 2, 3, requires_grad=True)
    ember.manual_seed(0)
    out, _ = m(x)
    out.sum().backward()
    assert x.grad is not None and np.isfinite(x.grad.numpy()).all()
    m.eval()
    with ember.no_grad():
        a, (h, c) = m(x)
    b, (h2, c2) = m(x)
    assert a.grad_fn is None and not a.requires_grad
    np.testing.assert_allclose(a.numpy(), b.detach().numpy())
    np.testing.assert_allclose(c.numpy(), c2.detach().numpy())
