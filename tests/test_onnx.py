"""ember.onnx.export of layers and models: every exported file runs in onnxruntime (on inputs
other than the export example) and must match ember's forward; a few models are also
exported by PyTorch's own exporter with the same weights, as a second reference."""

import io
import threading
import warnings

import numpy as np
import pytest
import torch

import ember
import ember.nn as nn

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from tests.test_onnx_ops import Fn, _flat, check, run_both  # noqa: E402


def _r(*shape, seed=0):
    return ember.tensor(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


def _model(m, seed=0):
    ember.manual_seed(seed)
    return m.eval()


def _warm_bn(m):
    """Give batch norms non-trivial running statistics."""
    for mod in m.modules():
        if isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)):
            g = np.random.default_rng(3)
            mod.running_mean.copy_(ember.tensor(g.normal(size=mod.num_features)
                                                .astype(np.float32)))
            mod.running_var.copy_(ember.tensor(g.uniform(0.5, 2, mod.num_features)
                                               .astype(np.float32)))
    return m


LAYERS = {
    "linear": (lambda: nn.Linear(4, 3), [(2, 4)]),
    "linear_3d_nobias": (lambda: nn.Linear(4, 3, bias=False), [(2, 5, 4)]),
    "bilinear_mlp": (lambda: nn.Sequential(nn.Linear(4, 8), nn.GELU(), nn.Dropout(0.3),
                                           nn.Linear(8, 2), nn.LogSoftmax(-1)), [(3, 4)]),
    "conv1d": (lambda: nn.Conv1d(2, 4, 3, stride=2, padding=1), [(2, 2, 9)]),
    "conv2d": (lambda: nn.Conv2d(3, 4, 3, padding="same", dilation=2, groups=1), [(2, 3, 8, 8)]),
    "conv2d_groups": (lambda: nn.Conv2d(4, 6, (3, 2), stride=(2, 1), groups=2, bias=False),
                      [(1, 4, 7, 6)]),
    "conv2d_reflect": (lambda: nn.Conv2d(2, 3, 3, padding=1, padding_mode="reflect"),
                       [(1, 2, 5, 5)]),
    "conv2d_unbatched": (lambda: nn.Conv2d(2, 3, 3), [(2, 5, 5)]),
    "conv3d": (lambda: nn.Conv3d(2, 2, 2), [(1, 2, 4, 4, 4)]),
    "conv_transpose2d": (lambda: nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1,
                                                    output_padding=1), [(1, 3, 4, 4)]),
    "conv_transpose1d": (lambda: nn.ConvTranspose1d(2, 3, 4, stride=3), [(2, 2, 5)]),
    "batchnorm2d": (lambda: _warm_bn(nn.BatchNorm2d(3)), [(2, 3, 4, 4)]),
    "batchnorm1d": (lambda: _warm_bn(nn.BatchNorm1d(4)), [(3, 4)]),
    "layernorm": (lambda: nn.LayerNorm((3, 4)), [(2, 3, 4)]),
    "layernorm_nobias": (lambda: nn.LayerNorm(4, bias=False), [(2, 3, 4)]),
    "groupnorm": (lambda: nn.GroupNorm(2, 4), [(2, 4, 3, 3)]),
    "maxpool2d": (lambda: nn.MaxPool2d(3, 2, padding=1, ceil_mode=True), [(1, 2, 7, 7)]),
    "maxpool1d": (lambda: nn.MaxPool1d(2), [(2, 3, 8)]),
    "avgpool2d": (lambda: nn.AvgPool2d(2, padding=1, count_include_pad=False), [(1, 2, 5, 5)]),
    "adaptive_avg": (lambda: nn.AdaptiveAvgPool2d((2, 3)), [(1, 2, 4, 6)]),
    "adaptive_global": (lambda: nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten()),
                        [(2, 3, 5, 5)]),
    "adaptive_max": (lambda: nn.AdaptiveMaxPool1d(1), [(2, 3, 5)]),
    "upsample": (lambda: nn.Upsample(scale_factor=2, mode="nearest"), [(1, 2, 3, 3)]),
    "upsample_bilinear": (lambda: nn.Upsample(size=(5, 7), mode="bilinear"), [(1, 2, 3, 4)]),
    "activations": (lambda: nn.Sequential(nn.ReLU(), nn.Tanh(), nn.ELU(), nn.SiLU(),
                                          nn.LeakyReLU(0.2), nn.Sigmoid(), nn.Softplus(),
                                          nn.Hardswish(), nn.Softmax(dim=1)), [(2, 5)]),
    "flatten_unflatten": (lambda: nn.Sequential(nn.Flatten(), nn.Unflatten(1, (6, 2))),
                          [(2, 3, 4)]),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_matches_onnxruntime(name):
    make, shapes = LAYERS[name]
    m = _model(make())
    check(m, tuple(_r(*s) for s in shapes), tuple(_r(*s, seed=7) for s in shapes), atol=1e-5)


def test_embedding():
    m = _model(nn.Sequential(nn.Embedding(10, 4, padding_idx=0), nn.Linear(4, 2)))
    idx = ember.tensor([[1, 2, 0], [9, 3, 3]])
    check(m, (idx,), (ember.tensor([[5, 0, 7], [1, 1, 8]]),))


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("layers,bidir,batch_first", [(1, False, False), (2, True, True)])
def test_recurrent(kind, layers, bidir, batch_first):
    m = _model(getattr(nn, kind)(4, 3, num_layers=layers, bidirectional=bidir,
                                 batch_first=batch_first))
    x = _r(2, 5, 4)
    check(m, (x,), (_r(2, 5, 4, seed=1),), atol=1e-5)
    # initial state given, and an unbatched sequence
    h = _r(layers * (2 if bidir else 1), 2 if batch_first else 5, 3, seed=2)
    hx = (h, _r(*h.shape, seed=3)) if kind == "LSTM" else h
    check(m, (x, hx), (_r(2, 5, 4, seed=4), hx), atol=1e-5)
    check(m, (_r(5, 4),), (_r(5, 4, seed=5),), atol=1e-5)


def test_lstm_dynamic_sequence_and_batch():
    m = _model(nn.LSTM(4, 3, batch_first=True))
    got, want = run_both(m, (_r(2, 5, 4),), (_r(3, 7, 4, seed=1),), input_names=["x"],
                         output_names=["y", "h", "c"],
                         dynamic_axes={"x": {0: "batch", 1: "seq"}, "y": {0: "batch", 1: "seq"},
                                       "h": {1: "batch"}, "c": {1: "batch"}})
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, atol=1e-5)


@pytest.mark.parametrize("batch_first", [True, False])
def test_multihead_attention(batch_first):
    m = _model(nn.MultiheadAttention(8, 2, batch_first=batch_first))

    def seq(n, seed):  # (B=2, n, E) or (n, B=2, E)
        return _r(2, n, 8, seed=seed) if batch_first else _r(n, 2, 8, seed=seed)

    q, k = seq(3, 0), seq(5, 1)
    check(m, (q, k, k), (seq(3, 2), seq(5, 3), seq(5, 3)))
    # masks: boolean key padding, float attention mask; per-head weights; no weights
    kpm = ember.tensor([[False, False, True, False, False], [False] * 4 + [True]])
    check(m, (q, k, k), kwargs={"key_padding_mask": kpm, "attn_mask": _r(3, 5, seed=4),
                                "average_attn_weights": False})
    check(m, (q, k, k), kwargs={"need_weights": False, "attn_mask": _r(4, 3, 5, seed=5)})
    check(m, (q, k, k), kwargs={"attn_mask": ember.ones(3, 5).triu(1).bool()})


def test_multihead_attention_kdim_and_unbatched():
    m = _model(nn.MultiheadAttention(8, 4, kdim=6, vdim=5))
    check(m, (_r(3, 8), _r(4, 6), _r(4, 5)))


def test_transformer_encoder_matches_torch_export():
    """ember's graph vs PyTorch's own export of the same weights, both run in onnxruntime."""
    kw = dict(d_model=8, nhead=2, dim_feedforward=16, dropout=0.1, batch_first=True)
    m = _model(nn.TransformerEncoder(nn.TransformerEncoderLayer(**kw), num_layers=2,
                                     enable_nested_tensor=False))
    x = _r(2, 5, 8)
    buf = io.BytesIO()
    ember.onnx.export(m, (x,), buf, input_names=["x"], dynamic_axes={"x": {0: "b", 1: "t"}})
    ours = ort.InferenceSession(buf.getvalue())
    tm = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(**kw), num_layers=2,
                                     enable_nested_tensor=False).eval()
    tm.load_state_dict({k: torch.tensor(v.numpy()) for k, v in m.state_dict().items()})
    tbuf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(tm, (torch.tensor(x.numpy()),), tbuf, dynamo=False,
                          input_names=["x"], dynamic_axes={"x": {0: "b", 1: "t"}})
    theirs = ort.InferenceSession(tbuf.getvalue())
    x2 = _r(2, 5, 8, seed=9).numpy()
    np.testing.assert_allclose(ours.run(None, {"x": x2})[0], theirs.run(None, {"x": x2})[0],
                               atol=1e-5)
    # A batch and sequence length other than the example's (dynamic axes).
    x3 = _r(3, 7, 8, seed=10)
    with ember.no_grad():
        np.testing.assert_allclose(ours.run(None, {"x": x3.numpy()})[0], m(x3).numpy(),
                                   atol=1e-5)


def test_transformer_decoder_and_full_transformer():
    dec = _model(nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0))
    tgt, mem = _r(4, 2, 8), _r(6, 2, 8, seed=1)
    mask = nn.Transformer.generate_square_subsequent_mask(4)
    check(dec, (tgt, mem), (_r(4, 2, 8, seed=2), _r(6, 2, 8, seed=3)),
          kwargs={"tgt_mask": mask}, atol=1e-5)
    full = _model(nn.Transformer(8, 2, 1, 1, 16, dropout=0.0, batch_first=True))
    check(full, (_r(2, 6, 8), _r(2, 4, 8, seed=1)), (_r(2, 6, 8, seed=5), _r(2, 4, 8, seed=6)),
          atol=1e-5)


def small_cnn(t):
    """The same CNN under ember (``t = ember``) or PyTorch (``t = torch``)."""
    class SmallCNN(t.nn.Module):
        def __init__(self):
            super().__init__()
            self.features = t.nn.Sequential(
                t.nn.Conv2d(1, 4, 3, padding=1), t.nn.BatchNorm2d(4), t.nn.ReLU(inplace=True),
                t.nn.MaxPool2d(2), t.nn.Conv2d(4, 8, 3), t.nn.ReLU())
            self.head = t.nn.Linear(8 * 2 * 2, 3)

        def forward(self, x):
            x = self.features(x)
            return self.head(x.view(x.size(0), -1)).log_softmax(-1)

    return SmallCNN().eval()


def test_cnn_dynamic_batch_file_path_and_torch_reference(tmp_path):
    m = _model(_warm_bn(small_cnn(ember)))
    path = tmp_path / "cnn.onnx"
    ember.onnx.export(m, (_r(2, 1, 8, 8),), str(path), input_names=["img"],
                      output_names=["logp"],
                      dynamic_axes={"img": {0: "batch"}, "logp": {0: "batch"}})
    model = onnx.load(str(path))
    dim = model.graph.input[0].type.tensor_type.shape.dim[0]
    assert dim.dim_param == "batch"
    assert {i.name for i in model.graph.initializer} >= {"features.0.weight", "head.bias"}
    sess = ort.InferenceSession(str(path))
    x = _r(5, 1, 8, 8, seed=3)
    got = sess.run(None, {"img": x.numpy()})[0]
    # PyTorch with the same weights is the reference; ember's own forward must agree too.
    tm = small_cnn(torch)
    tm.load_state_dict({k: torch.tensor(v.numpy()) for k, v in m.state_dict().items()})
    with torch.no_grad():
        np.testing.assert_allclose(got, tm(torch.tensor(x.numpy())).numpy(), atol=1e-5)
    with ember.no_grad():
        np.testing.assert_allclose(got, m(x).numpy(), atol=1e-5)


def test_kwargs_trailing_dict_and_nested_outputs():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 2)

        def forward(self, x, y=None, scale=1.0):
            h = self.fc(x) * scale
            return {"h": h, "pair": (h + y, x)}

    m = _model(Net())
    x, y = _r(2, 3), _r(2, 2, seed=1)
    proto = ember.onnx.export(m, (x, {"scale": 2.0, "y": y}))
    assert [i.name for i in proto.graph.input] == ["x", "y"]
    assert [o.name for o in proto.graph.output] == ["output_0", "output_1", "output_2"]
    sess = ort.InferenceSession(proto.SerializeToString())
    got = sess.run(None, {"x": x.numpy(), "y": y.numpy()})
    with ember.no_grad():
        want = _flat(list(m(x, y=y, scale=2.0).values()))
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w.numpy(), atol=1e-6)
    check(m, (x,), kwargs={"y": y})


def test_options_opsets_and_params():
    m = _model(nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Linear(4, 2)))
    x = _r(2, 5, 3)
    for opset in (14, 18, 20):
        check(m, (x,), opset_version=opset)
        assert ember.onnx.export(m, (x,), opset_version=opset).opset_import[0].version == opset
    with pytest.raises(ValueError, match="Unsupported ONNX opset version"):
        ember.onnx.export(m, (x,), opset_version=9)
    proto = ember.onnx.export(m, (x,), export_params=False)
    assert not proto.graph.initializer and len(proto.graph.input) == 1 + 6
    proto = ember.onnx.export(m, (x,), keep_initializers_as_inputs=True,
                              do_constant_folding=False)
    assert {i.name for i in proto.graph.initializer} <= {i.name for i in proto.graph.input}
    # Constant folding: the 3-d linear's weight transposes are precomputed.
    folded = ember.onnx.export(m, (x,), do_constant_folding=True)
    unfolded = ember.onnx.export(m, (x,), do_constant_folding=False)
    ops = [n.op_type for n in folded.graph.node]
    assert "Transpose" not in ops and "Transpose" in [n.op_type for n in unfolded.graph.node]


def test_training_mode_and_model_state():
    m = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.5))
    m.train()
    x = _r(2, 3)
    proto = ember.onnx.export(m, (x,))  # exported in eval mode, PyTorch's default
    assert m.training  # restored afterwards
    got = ort.InferenceSession(proto.SerializeToString()).run(None, {"input": x.numpy()})[0]
    with ember.no_grad():
        np.testing.assert_allclose(got, m.eval()(x).numpy(), atol=1e-6)
    m.train()
    with pytest.raises(ember.onnx.UnsupportedOperatorError, match="Dropout"):
        ember.onnx.export(m, (x,), training=ember.onnx.TrainingMode.TRAINING)
    m.eval()
    ember.onnx.export(m, (x,), training=ember.onnx.TrainingMode.PRESERVE)
    assert not m.training


def test_unsupported_op_is_named_and_patches_are_restored():
    from ember.autograd.function import Function
    before = Function.__dict__["apply"]
    gt_before = ember.Tensor.__dict__["__gt__"]

    class Bad(nn.Module):
        def forward(self, x):
            return ember.linalg.inv(x @ x.t() + 3 * ember.eye(3))

    with pytest.raises(ember.onnx.UnsupportedOperatorError,
                       match="'LinalgInvExBackward0' to ONNX is not supported"):
        ember.onnx.export(Bad(), (_r(3, 3),))
    def write_through_view(x):
        y = x * 1
        y[:, 0] = 5
        return y

    with pytest.raises(ember.onnx.UnsupportedOperatorError, match="through a view"):
        ember.onnx.export(Fn(write_through_view), (_r(2, 3),))
    assert Function.__dict__["apply"] is before
    assert ember.Tensor.__dict__["__gt__"] is gt_before
    assert not ember.onnx.is_in_onnx_export()
    assert issubclass(ember.onnx.UnsupportedOperatorError, ember.onnx.OnnxExporterError)
    assert issubclass(ember.onnx.OnnxExporterError, RuntimeError)


def test_other_threads_are_not_traced_and_is_in_onnx_export():
    seen = []
    stop = threading.Event()

    lin = _model(nn.Linear(4, 4))

    def busy():
        while not stop.is_set():
            ember.randn(3).exp().sum()  # would add stray nodes if it were recorded
            lin(ember.randn(4))  # a hooked module, called concurrently

    class Probe(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = lin

        def forward(self, x):
            seen.append(ember.onnx.is_in_onnx_export())
            return self.lin(x.relu() + 1)

    t = threading.Thread(target=busy)
    t.start()
    try:
        proto = ember.onnx.export(Probe(), (_r(4),))
    finally:
        stop.set()
        t.join(10)
    assert seen == [True]
    assert [n.op_type for n in proto.graph.node] == ["Relu", "Add", "MatMul", "Add"]


def test_verbose_and_file_like(capsys):
    m = _model(nn.Linear(2, 2))
    buf = io.BytesIO()
    with ember.no_grad():
        assert ember.onnx.export(m, _r(1, 2), buf, verbose=True) is None
    assert "Gemm" in capsys.readouterr().out
    assert onnx.load_from_string(buf.getvalue()).graph.node[0].op_type == "Gemm"



def test_data_dependent_python_values_warn():
    class Branchy(nn.Module):
        def forward(self, x):
            if x.sum() > 0:  # data-dependent control flow: only one branch is exported
                return x * 2
            return x - float(x.max())

    for x, kinds in ((_r(3), ["boolean"]), (-_r(3).abs(), ["boolean", "float"])):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ember.onnx.export(Branchy(), (x,))
        assert all(w.category is ember.onnx.OnnxExporterWarning for w in caught)
        assert [str(w.message).split(" might")[0][len("Converting a tensor to a Python "):]
                for w in caught] == kinds
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # shapes and parameters are fine to read
        m = _model(nn.Linear(3, 2))
        ember.onnx.export(Fn(lambda x: m(x) * float(m.weight.sum()) * x.shape[0]), (_r(2, 3),))


class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3)
        self.conv2 = nn.Conv2d(4, 6, 3)
        self.fc = nn.Linear(6 * 2 * 2, 5)

    def forward(self, x):
        x = ember.nn.functional.max_pool2d(ember.nn.functional.relu(self.conv1(x)), 2)
        x = ember.nn.functional.avg_pool2d(self.conv2(x).relu(), 2)
        x = ember.flatten(x, 1)
        return ember.nn.functional.dropout(self.fc(x), 0.5, self.training)


def test_functional_lenet_and_plain_function():
    check(_model(LeNet()), (_r(2, 1, 14, 14),), (_r(3, 1, 14, 14, seed=1),),
          input_names=["x"], dynamic_axes={"x": [0], "output": [0]})
    check(Fn(lambda x: x.view(x.size(0), -1) * ember.ones_like(x).flatten(1).cumsum(1)),
          (_r(2, 3, 2),), (_r(4, 3, 2, seed=1),), input_names=["x"],
          dynamic_axes={"x": [0], "output": [0]})
    lstm = _model(nn.LSTM(3, 2))
    layers = [_model(nn.Linear(2, 2)), nn.ReLU()]  # a plain list: not submodules of anything

    def fn(x):
        y = lstm(x)[0]
        for layer in layers:
            y = layer(y)
        return y

    check(fn, (_r(4, 1, 3),), (_r(4, 1, 3, seed=1),))
    proto = ember.onnx.export(fn, (_r(4, 1, 3),))
    assert "LSTM" in [n.op_type for n in proto.graph.node]
    assert not lstm._forward_hooks and not lstm._forward_pre_hooks  # removed after export
    assert vars(nn.Module)["__call__"] is nn.Module._call_impl
    proto = ember.onnx.export(lambda a, b: (a @ b).tanh(), (_r(2, 3), _r(3, 4)))
    assert [n.op_type for n in proto.graph.node] == ["MatMul", "Tanh"]
    assert proto.graph.input[0].name == "a"


def test_transformer_with_padding_and_causal_masks():
    m = _model(nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0,
                                                                batch_first=True,
                                                                norm_first=True),
                                     num_layers=1, enable_nested_tensor=False))
    x = _r(2, 5, 8)
    pad = ember.tensor([[False] * 5, [False, False, False, True, True]])
    causal = nn.Transformer.generate_square_subsequent_mask(5)
    check(m, (x,), kwargs={"src_key_padding_mask": pad, "mask": causal}, atol=1e-5)
    check(m, (x,), kwargs={"mask": causal, "is_causal": True}, atol=1e-5)


class TextClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(20, 6)
        self.rnn = nn.GRU(6, 5, batch_first=True, bidirectional=True)
        self.out = nn.Linear(10, 3)

    def forward(self, tokens):
        seq, h = self.rnn(self.emb(tokens))
        last = seq[:, -1, 5:] + seq[:, -2:, :].sum(1)[:, :5].repeat(1, 1)[..., :5].sum()
        return self.out(seq.mean(1)).softmax(-1), h, last


def test_embedding_gru_classifier_dynamic_batch_and_length():
    m = _model(TextClassifier())
    tokens = ember.tensor(np.random.default_rng(0).integers(0, 20, size=(2, 7)))
    other = ember.tensor(np.random.default_rng(1).integers(0, 20, size=(4, 3)))
    check(m, (tokens,), (other,), input_names=["tokens"], output_names=["p", "h", "last"],
          dynamic_axes={"tokens": {0: "batch", 1: "len"}, "p": {0: "batch"}, "h": {1: "batch"},
                        "last": {0: "batch"}})


def test_float64_model_and_module_level_errors():
    m = _model(nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))).double()
    check(m, (_r(2, 3).double(),), (_r(5, 3, seed=1).double(),), input_names=["x"],
          dynamic_axes={"x": [0], "output": [0]})
    with pytest.raises(ember.onnx.UnsupportedOperatorError, match="'LSTM'.*proj_size"):
        ember.onnx.export(_model(nn.LSTM(3, 4, proj_size=2)), (_r(5, 1, 3),))
    with pytest.raises(ember.onnx.UnsupportedOperatorError, match="'BatchNorm1d'"):
        ember.onnx.export(nn.BatchNorm1d(3).train(), (_r(4, 3),),
                          training=ember.onnx.TrainingMode.TRAINING)


class Square(ember.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 2 * x * g


def test_custom_function_is_inlined_and_repeated_outputs():
    proto = ember.onnx.export(Fn(lambda x: (Square.apply(x).exp(), x, Square.apply(x))), (_r(3),))
    assert [n.op_type for n in proto.graph.node if n.op_type != "Identity"] == ["Mul", "Exp",
                                                                                "Mul"]
    check(Fn(lambda x: (Square.apply(x) + 1, x, x.relu())), (_r(3),), (_r(3, seed=1),))
    y = Fn(lambda x: (x.relu(),) * 2)
    check(y, (_r(3),), (_r(3, seed=1),))


def test_upsample_dynamic_batch():
    m = _model(nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(2, 2, 1)))
    check(m, (_r(1, 2, 3, 3),), (_r(3, 2, 3, 3, seed=1),), input_names=["x"],
          dynamic_axes={"x": {0: "n"}, "output": {0: "n"}})
