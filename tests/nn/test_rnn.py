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
