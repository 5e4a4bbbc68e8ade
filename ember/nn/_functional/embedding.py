"""Embedding lookups: ``embedding`` (a row gather whose backward is a row scatter-add, and
vice versa, so double backward works), ``embedding_bag`` (sum/mean/max over bags) and
``one_hot`` (from ``ember/_ops/indexing.py`` where its owner provides it)."""

from __future__ import annotations

from ..._ops import indexing as _indexing
from ..._ops._jvp import refuse, unsupported
from ..._ops._util import Op, Tensor, _make, saved_arrays, xp
from ...autograd.grad_mode import no_grad

__all__ = ["embedding", "embedding_bag"]
if hasattr(_indexing, "one_hot"):
    one_hot = _indexing.one_hot
    __all__.append("one_hot")


def _check_indices(indices: Tensor, fn: str = "embedding") -> None:
    if indices._data.dtype.kind not in "iu":
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have one of the "
                           f"following scalar types: Long, Int; but got {indices.type()} instead "
                           f"(while checking arguments for {fn})")


class Gather(Op):
    """out = weight[idx];  dweight = scatter-add of g into the rows ``idx`` (rows equal to
    ``padding_idx`` get none; ``freq`` scales each row's gradient by 1/count)"""

    node_name = "EmbeddingBackward0"

    @staticmethod
    def forward(ctx, weight, idx, padding_idx=-1, scale_grad_by_freq=False):
        w = weight._data
        if idx.size and (idx.min() < 0 or idx.max() >= w.shape[0]):
            raise IndexError("index out of range in self")
        ctx.save_for_backward(idx)
        ctx.rows, ctx.padding_idx, ctx.freq = w.shape[0], padding_idx, scale_grad_by_freq
        return w[idx]

    @staticmethod
    def backward(ctx, g):
        idx, = saved_arrays(ctx)
        keep = None
        if ctx.padding_idx >= 0:
            keep = idx != ctx.padding_idx
        scale = None
        if ctx.freq:
            counts = xp.bincount(idx.reshape(-1), minlength=ctx.rows)
            scale = 1.0 / xp.maximum(counts[idx], 1)
        return ScatterAdd.apply(g, idx, ctx.rows, keep, scale), None

    @staticmethod
    def jvp(inputs, out, tangents):
        return Gather.apply(tangents[0], *inputs[1:])  # linear in the weight


class ScatterAdd(Op):
    """out[idx[i]] += g[i] * scale[i] (rows with ``keep`` False skipped);
    dg = out_grad[idx] * scale (its adjoint, a gather)"""

    node_name = "EmbeddingDenseBackward0"

    @staticmethod
    def forward(ctx, g, idx, rows, keep=None, scale=None):
        src = g._data
        d = src.shape[idx.ndim:]
        flat_idx = idx.reshape(-1)
        flat = src.reshape((-1,) + d)
        if scale is not None:
            flat = flat * scale.reshape((-1,) + (1,) * len(d)).astype(src.dtype)
        if keep is not None:
            k = keep.reshape(-1)
            flat_idx, flat = flat_idx[k], flat[k]
        out = xp.zeros((rows,) + d, dtype=src.dtype)
        xp.add.at(out, flat_idx, flat)
        ctx.save_for_backward(idx, keep, scale)
        return out

    @staticmethod
    def backward(ctx, gg):
        idx, keep, scale = saved_arrays(ctx)
        out = Gather.apply(gg, idx)
        shape = idx.shape + (1,) * (gg.ndim - 1)
        if scale is not None:
            out = out * _make(scale.reshape(shape).astype(gg._data.dtype))
        if keep is not None:
            out = out * _make(keep.reshape(shape).astype(gg._data.dtype))
        return out, None

    @staticmethod
    def jvp(inputs, out, tangents):
        return ScatterAdd.apply(tangents[0], *inputs[1:])  # linear in g


def _renorm_(weight: Tensor, idx, max_norm: float, norm_type: float) -> None:
    """Rescale in place the rows ``idx`` whose ``norm_type``-norm exceeds ``max_norm``."""
    rows = xp.unique(idx.reshape(-1))
    w = weight._data
    sel = w[rows]
    if norm_type == float("inf"):
        norms = xp.abs(sel).max(axis=1)
    else:
        norms = (xp.abs(sel) ** norm_type).sum(axis=1) ** (1.0 / norm_type)
    big = norms > max_norm
    if big.any():
        scale = (max_norm / (norms[big] + 1e-7)).astype(w.dtype)
        w[rows[big]] = sel[big] * scale[:, None]
        weight._bump_version()


def _padding(weight: Tensor, padding_idx: int | None) -> int:
    if padding_idx is None:
        return -1
    n = weight.shape[0]
    if padding_idx > 0 and padding_idx >= n:
        raise AssertionError("Padding_idx must be within num_embeddings")
    if padding_idx < 0:
        if padding_idx < -n:
            raise AssertionError("Padding_idx must be within num_embeddings")
        padding_idx += n
    return padding_idx


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None,
              max_norm: float | None = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Rows of ``weight`` at ``input``'s indices (``padding_idx`` rows get no gradient;
    ``max_norm`` renormalises the looked-up rows of ``weight`` in place first)."""
    _check_indices(input)
    pad = _padding(weight, padding_idx)
    if max_norm is not None:
        with no_grad():
            _renorm_(weight, input._data, max_norm, norm_type)
    return Gather.apply(weight, input._data, pad, scale_grad_by_freq)


class BagMax(Op):
    """out[b] = max over the bag's rows;  drows = g[bag] at each column's argmax row"""

    node_name = "EmbeddingBagBackward0"
    jvp = unsupported("_embedding_bag")

    @staticmethod
    def forward(ctx, rows, seg, bags):
        r = rows._data
        out = xp.full((bags,) + r.shape[1:], -xp.inf, dtype=r.dtype)
        xp.maximum.at(out, seg, r)
        hit = r == out[seg]
        # Only the first maximal row of each bag and column takes the gradient.
        order = xp.arange(r.shape[0])[:, None] * xp.ones(r.shape[1:], dtype=xp.int64)
        first = xp.full(out.shape, r.shape[0], dtype=xp.int64)
        xp.minimum.at(first, seg, xp.where(hit, order, r.shape[0]))
        ctx.save_for_backward((order == first[seg]).astype(r.dtype), seg)
        out[~xp.isfinite(out) & (out < 0)] = 0
        return out

    @staticmethod
    def backward(ctx, g):
        mask, seg = ctx.saved_tensors
        return Gather.apply(g, seg._data) * mask, None, None


def embedding_bag(input: Tensor, weight: Tensor, offsets: Tensor | None = None,
                  max_norm: float | None = None, norm_type: float = 2,
                  scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False,
                  per_sample_weights: Tensor | None = None, include_last_offset: bool = False,
                  padding_idx: int | None = None) -> Tensor:
    """Sum, mean or max of the embeddings of each bag (rows of 2-D ``input``, or the
    slices of 1-D ``input`` that start at ``offsets``)."""
    _check_indices(input, "embedding_bag")
    # PyTorch's one kernel for every mode has no forward-mode formula.
    refuse("_embedding_bag", weight, per_sample_weights)
    if input.ndim == 2:
        if offsets is not None:
            raise ValueError("if input is 2D, then offsets has to be None, as input is treated "
                             "is a mini-batch of fixed length sequences. However, found offsets "
                             f"of type {offsets.type()}")
        bags, length = input.shape
        starts = xp.arange(0, bags * length, length) if length else xp.zeros(bags, xp.int64)
        idx = input._data.reshape(-1)
    elif input.ndim == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        if offsets.ndim != 1:
            raise ValueError("offsets has to be a 1D Tensor")
        idx = input._data
        starts = offsets._data
        if include_last_offset:
            starts = starts[:-1]
        bags = starts.shape[0]
    else:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension "
                         f"{input.ndim}")
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"mode has to be one of sum, mean or max, got {mode}")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError(f"embedding_bag: per_sample_weights was not None. "
                                  f"per_sample_weights is only supported for mode='sum' (got "
                                  f"mode='{mode}'). Please open a feature request on GitHub.")
    pad = _padding(weight, padding_idx)
    if max_norm is not None:
        with no_grad():
            _renorm_(weight, idx, max_norm, norm_type)
    seg = xp.searchsorted(starts, xp.arange(idx.shape[0]), side="right") - 1
    keep = idx != pad if pad >= 0 else xp.ones(idx.shape, bool)
    idx, seg = idx[keep], seg[keep]
    rows = Gather.apply(weight, idx, -1, scale_grad_by_freq)
    if mode == "max":
        return BagMax.apply(rows, seg, bags)
    if per_sample_weights is not None:
        psw = per_sample_weights.reshape(-1)[_make(xp.flatnonzero(keep))]
        rows = rows * psw.unsqueeze(1)
    out = ScatterAdd.apply(rows, seg, bags)
    if mode == "mean":
        counts = xp.maximum(xp.bincount(seg, minlength=bags), 1).astype(weight._data.dtype)
        out = out / _make(counts[:, None])
    return out
