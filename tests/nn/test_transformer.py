"""scaled_dot_product_attention, MultiheadAttention and the Transformer family against
PyTorch (same weights, dropout off): outputs, attention weights, every gradient, reprs."""

import numpy as np
import pytest
import torch
import torch.nn as tnn
import torch.nn.functional as TF

import ember
import ember.nn as enn
import ember.nn.functional as F
from tests.nn._compare import compare, twin

RNG = np.random.default_rng(0)
BOOL_MASK = RNG.random((5, 7)) > 0.3
BOOL_MASK[:, 0] = True
FLOAT_MASK = RNG.standard_normal((5, 7))


class _Fn(tnn.Module):
    """Wrap a function as a parameterless layer so ``compare`` can drive it."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *xs):
        return self.fn(*xs)


class _EFn(enn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *xs):
        return self.fn(*xs)


SDPA = [dict(), dict(mask="bool"), dict(mask="float", scale=0.3), dict(is_causal=True)]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kw", SDPA, ids=str)
def test_sdpa(kw, dtype):
    kw = dict(kw)
    mask = kw.pop("mask", None)

    def fn(lib, f):
        m = None if mask is None else lib.from_numpy(BOOL_MASK if mask == "bool" else
                                                     FLOAT_MASK.astype(dtype))
        return lambda q, k, v: f(q, k, v, attn_mask=m, **kw)
    shapes = [(2, 3, 5, 4), (2, 3, 7, 4), (2, 3, 7, 6)]
    if kw.get("is_causal"):
        shapes = [(2, 5, 4), (2, 5, 4), (2, 5, 6)]
    compare(_EFn(fn(ember, F.scaled_dot_product_attention)),
            _Fn(fn(torch, TF.scaled_dot_product_attention)),
            [RNG.standard_normal(s) for s in shapes], dtype)


def test_sdpa_gradcheck_and_errors():
    q = ember.randn(2, 3, 4, dtype=ember.float64, requires_grad=True)
    assert ember.autograd.gradcheck(
        lambda q: F.scaled_dot_product_attention(q, q * 2, q, is_causal=True), (q,))
    with pytest.raises(RuntimeError, match="Explicit attn_mask"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=ember.ones(3, 3), is_causal=True)


MHA = [dict(), dict(batch_first=True), dict(kdim=6, vdim=3), dict(bias=False),
       dict(add_bias_kv=True, add_zero_attn=True)]
CALLS = [dict(), dict(key_padding_mask="kp"), dict(attn_mask="am", average_attn_weights=False),
         dict(attn_mask="fm", key_padding_mask="kp", need_weights=False)]


@pytest.mark.parametrize("call", CALLS, ids=str)
@pytest.mark.parametrize("kw", MHA, ids=str)
def test_multihead_attention(kw, call):
    ember.manual_seed(0)
    e, t = twin(enn.MultiheadAttention(8, 2, **kw), tnn.MultiheadAttention(8, 2, **kw))
    kp = RNG.random((3, 7)) > 0.7
    kp[:, 0] = False
    am = RNG.random((5, 7)) > 0.8
    am[:, 0] = False
    fm = RNG.standard_normal((5, 7))

    def run(m, q, k, v):
        lib = ember if isinstance(m, enn.Module) else torch
        args = {n: lib.from_numpy({"kp": kp, "am": am, "fm": fm}[v_]) if isinstance(v_, str)
                else v_ for n, v_ in call.items()}
        return m(q, k, v, **args)
    bf = kw.get("batch_first")
    shape = (lambda L, d: (3, L, d)) if bf else (lambda L, d: (L, 3, d))
    compare(e, t, [RNG.standard_normal(shape(5, 8)), RNG.standard_normal(shape(7, kw.get("kdim", 8))),
                   RNG.standard_normal(shape(7, kw.get("vdim", 8)))], call=run)


def test_multihead_self_attention_unbatched():
    e, t = twin(enn.MultiheadAttention(8, 4), tnn.MultiheadAttention(8, 4))
    compare(e, t, [RNG.standard_normal((5, 8))], call=lambda m, x: m(x, x, x))


LAYER = [dict(), dict(norm_first=True, activation="gelu"), dict(bias=False, layer_norm_eps=1e-3)]


@pytest.mark.parametrize("kw", LAYER, ids=str)
def test_encoder_decoder_layers(kw):
    args = dict(d_model=8, nhead=2, dim_feedforward=16, dropout=0.0, batch_first=True, **kw)
    e, t = twin(enn.TransformerEncoderLayer(**args), tnn.TransformerEncoderLayer(**args))
    kp = np.zeros((3, 5), dtype=bool)
    kp[0, 3:] = True
    compare(e, t, [RNG.standard_normal((3, 5, 8))])
    compare(e, t, [RNG.standard_normal((3, 5, 8)), kp],
            call=lambda m, x, kp: m(x, src_key_padding_mask=kp))
    e, t = twin(enn.TransformerDecoderLayer(**args), tnn.TransformerDecoderLayer(**args))
    mask = tnn.Transformer.generate_square_subsequent_mask(4).double().numpy()
    compare(e, t, [RNG.standard_normal((3, 4, 8)), RNG.standard_normal((3, 5, 8)), mask],
            call=lambda m, x, mem, msk: m(x, mem, tgt_mask=msk))


def test_transformer():
    args = dict(d_model=8, nhead=2, num_encoder_layers=2, num_decoder_layers=1,
                dim_feedforward=16, dropout=0.0)
    e, t = twin(enn.Transformer(**args), tnn.Transformer(**args))
    mask = enn.Transformer.generate_square_subsequent_mask(4)
    np.testing.assert_array_equal(mask.numpy(),
                                  tnn.Transformer.generate_square_subsequent_mask(4).numpy())
    compare(e, t, [RNG.standard_normal((5, 2, 8)), RNG.standard_normal((4, 2, 8)),
                   mask.double().numpy()], call=lambda m, s, tg, msk: m(s, tg, tgt_mask=msk))
    enc = enn.TransformerEncoder(enn.TransformerEncoderLayer(8, 2, 16, 0.0), 2,
                                 enable_nested_tensor=False)
    tenc = tnn.TransformerEncoder(tnn.TransformerEncoderLayer(8, 2, 16, 0.0), 2,
                                  enable_nested_tensor=False)
    e, t = twin(enc, tenc)
    compare(e, t, [RNG.standard_normal((5, 2, 8))])
