"""Attention: ``scaled_dot_product_attention`` and ``multi_head_attention_forward``.

Both are compositions of differentiable ops (matmul, softmax, where, linear), so gradients
and higher-order gradients come for free. Masks follow PyTorch: a bool mask marks the
positions that *take part* (SDPA) or that are *masked out* (MHA's ``attn_mask`` and
``key_padding_mask``); a float mask is added to the scores.
"""

from __future__ import annotations

import math

from ... import _creation as C
from ..._ops._util import Tensor
from ...amp._state import lower_precision

__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward"]


def _F():
    from .. import functional
    return functional


def _where(cond: Tensor, a: Tensor, value: float) -> Tensor:
    from ... import where
    return where(cond, a, value)


def _bool():
    from ... import bool as bool_
    return bool_


def _float_mask(mask: Tensor | None, dtype, name: str) -> Tensor | None:
    """PyTorch's canonical mask: bool ``True`` (masked out) -> ``-inf``, float unchanged."""
    if mask is None:
        return None
    if mask.dtype.is_floating_point:
        return mask
    if str(mask.dtype) != "ember.bool":
        raise AssertionError(f"only bool and floating types of {name} are supported")
    zeros = C.zeros(tuple(mask.shape), dtype=dtype)
    return _where(mask.logical_not(), zeros, float("-inf"))


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor,
                                 attn_mask: Tensor | None = None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """``softmax(q k^T * scale + mask) v`` over ``(..., L, E)`` queries and ``(..., S, E)``
    keys. A bool ``attn_mask`` marks positions allowed to attend; ``is_causal`` applies a
    lower-triangular one."""
    query, key, value, attn_mask = lower_precision(query, key, value, attn_mask)  # autocast
    if is_causal and attn_mask is not None:
        raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be "
                           "set when is_causal=True")
    L, S = query.shape[-2], key.shape[-2]
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    if enable_gqa and query.ndim >= 3 and key.shape[-3] != query.shape[-3]:
        rep = query.shape[-3] // key.shape[-3]
        key = key.repeat_interleave(rep, -3)
        value = value.repeat_interleave(rep, -3)
    scores = (query * scale) @ key.transpose(-2, -1)
    if is_causal:
        allowed = C.ones((L, S), dtype=_bool()).tril()
        scores = _where(allowed, scores, float("-inf"))
    elif attn_mask is not None:
        if str(attn_mask.dtype) == "ember.bool":
            scores = _where(attn_mask, scores, float("-inf"))
        else:
            scores = scores + attn_mask
    attn = scores.softmax(-1)
    if dropout_p > 0.0:
        attn = _F().dropout(attn, dropout_p, True)
    return attn @ value


def _in_projection(query, key, value, num_heads, in_proj_weight, in_proj_bias,
                   use_separate, q_w, k_w, v_w):
    linear = _F().linear
    E = query.shape[-1]
    if use_separate:
        bq = bk = bv = None
        if in_proj_bias is not None:
            bq, bk, bv = in_proj_bias.chunk(3)
        return linear(query, q_w, bq), linear(key, k_w, bk), linear(value, v_w, bv)
    if query is key and key is value:
        return linear(query, in_proj_weight, in_proj_bias).chunk(3, -1)
    wq, wk, wv = in_proj_weight.split(E)
    bq = bk = bv = None
    if in_proj_bias is not None:
        bq, bk, bv = in_proj_bias.split(E)
    if key is value:
        k, v = linear(key, _cat((wk, wv)), None if bk is None else _cat((bk, bv))).chunk(2, -1)
        return linear(query, wq, bq), k, v
    return linear(query, wq, bq), linear(key, wk, bk), linear(value, wv, bv)


def _cat(tensors, dim=0):
    from ... import cat
    return cat(tensors, dim)


def _pad_last(mask: Tensor | None) -> Tensor | None:
    return None if mask is None else _F().pad(mask, (0, 1))


def multi_head_attention_forward(
        query: Tensor, key: Tensor, value: Tensor, embed_dim_to_check: int, num_heads: int,
        in_proj_weight: Tensor | None, in_proj_bias: Tensor | None, bias_k: Tensor | None,
        bias_v: Tensor | None, add_zero_attn: bool, dropout_p: float, out_proj_weight: Tensor,
        out_proj_bias: Tensor | None, training: bool = True,
        key_padding_mask: Tensor | None = None, need_weights: bool = True,
        attn_mask: Tensor | None = None, use_separate_proj_weight: bool = False,
        q_proj_weight: Tensor | None = None, k_proj_weight: Tensor | None = None,
        v_proj_weight: Tensor | None = None, static_k: Tensor | None = None,
        static_v: Tensor | None = None, average_attn_weights: bool = True,
        is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
    """Multi-head attention over sequence-first ``(L, N, E)`` (or unbatched ``(L, E)``)
    inputs; returns the output and (with ``need_weights``) the attention weights."""
    unbatched = query.ndim == 2
    if unbatched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    L, N, E = query.shape
    if E != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, but "
                             f"got {E}")
    if E % num_heads:
        raise AssertionError(f"embed_dim {E} not divisible by num_heads {num_heads}")
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the "
                           "Transformer module method `generate_square_subsequent_mask` to "
                           "create this mask.")
    head = E // num_heads
    dtype = query.dtype
    key_padding_mask = _float_mask(key_padding_mask, dtype, "key_padding_mask")
    attn_mask = _float_mask(attn_mask, dtype, "attn_mask")
    if attn_mask is not None:
        if attn_mask.ndim == 2:
            if tuple(attn_mask.shape) != (L, key.shape[0]):
                raise RuntimeError(f"The shape of the 2D attn_mask is {tuple(attn_mask.shape)}"
                                   f", but should be {(L, key.shape[0])}.")
            attn_mask = attn_mask.unsqueeze(0)
        elif attn_mask.ndim != 3:
            raise RuntimeError(f"attn_mask's dimension {attn_mask.ndim} is not supported")
    q, k, v = _in_projection(query, key, value, num_heads, in_proj_weight, in_proj_bias,
                             use_separate_proj_weight, q_proj_weight, k_proj_weight,
                             v_proj_weight)
    if bias_k is not None and bias_v is not None:
        k = _cat((k, bias_k.repeat(1, N, 1)))
        v = _cat((v, bias_v.repeat(1, N, 1)))
        attn_mask, key_padding_mask = _pad_last(attn_mask), _pad_last(key_padding_mask)
    q = q.reshape(L, N * num_heads, head).transpose(0, 1)
    k = k.reshape(k.shape[0], N * num_heads, head).transpose(0, 1) if static_k is None \
        else static_k
    v = v.reshape(v.shape[0], N * num_heads, head).transpose(0, 1) if static_v is None \
        else static_v
    if add_zero_attn:
        k = _cat((k, C.zeros((N * num_heads, 1, head), dtype=dtype)), 1)
        v = _cat((v, C.zeros((N * num_heads, 1, head), dtype=dtype)), 1)
        attn_mask, key_padding_mask = _pad_last(attn_mask), _pad_last(key_padding_mask)
    S = k.shape[1]
    if key_padding_mask is not None:
        kpm = key_padding_mask.reshape(N, 1, 1, S).expand(-1, num_heads, -1, -1)
        kpm = kpm.reshape(N * num_heads, 1, S)
        attn_mask = kpm if attn_mask is None else attn_mask + kpm
    if not training:
        dropout_p = 0.0
    scores = (q * (1.0 / math.sqrt(head))) @ k.transpose(-2, -1)
    if attn_mask is not None:
        scores = scores + attn_mask
    weights = scores.softmax(-1)
    if dropout_p > 0.0:
        weights = _F().dropout(weights, dropout_p, True)
    out = (weights @ v).transpose(0, 1).reshape(L * N, E)
    out = _F().linear(out, out_proj_weight, out_proj_bias).reshape(L, N, E)
    if unbatched:
        out = out.squeeze(1)
    if not need_weights:
        return out, None
    weights = weights.reshape(N, num_heads, L, S)
    if average_attn_weights:
        weights = weights.mean(1)
    if unbatched:
        weights = weights.squeeze(0)
    return out, weights

