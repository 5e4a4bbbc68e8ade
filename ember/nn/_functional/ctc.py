"""Connectionist temporal classification loss: log-space alpha/beta recursions over time,
vectorised over the batch and the blank-interleaved targets; torch's gradient (which, like
torch's, treats ``log_probs`` as the output of a log_softmax)."""

from __future__ import annotations

from ..._ops._jvp import refuse, unsupported
from ..._ops._util import Op, Tensor, _make, saved_arrays, xp
from ..._ops.elementwise import where

__all__ = ["ctc_loss"]

_NEG_INF = -xp.inf


def _lse(*terms):
    """log(sum(exp(terms))), elementwise, -inf where every term is -inf."""
    m = terms[0]
    for t in terms[1:]:
        m = xp.maximum(m, t)
    safe = xp.where(xp.isfinite(m), m, 0)
    with xp.errstate(divide="ignore"):
        return safe + xp.log(sum(xp.exp(t - safe) for t in terms))


def _shift(a, k: int):
    """``a`` moved k places right (k > 0) or left (k < 0) along the last axis, -inf filled."""
    out = xp.full(a.shape, _NEG_INF, a.dtype)
    if k > 0:
        out[:, k:] = a[:, :-k]
    else:
        out[:, :k] = a[:, -k:]
    return out


def _extended(targets, target_lengths, blank: int):
    """The blank-interleaved labels (N, 2*S+1), and where the skip s-2 -> s is allowed."""
    n = target_lengths.shape[0]
    s_max = int(target_lengths.max()) if n else 0
    cols = xp.arange(s_max)
    valid = cols[None, :] < target_lengths[:, None]
    if targets.ndim == 2:
        lab = targets[:, :s_max]
    else:  # concatenated 1-D targets
        starts = xp.concatenate(([0], xp.cumsum(target_lengths)[:-1])).astype(xp.int64)
        pos = xp.minimum(starts[:, None] + cols[None, :], max(targets.size - 1, 0))
        lab = targets[pos] if targets.size else xp.zeros((n, s_max), xp.int64)
    ext = xp.full((n, 2 * s_max + 1), blank, dtype=xp.int64)
    ext[:, 1::2] = xp.where(valid, lab, blank)
    skip = xp.zeros(ext.shape, bool)
    skip[:, 2:] = (ext[:, 2:] != blank) & (ext[:, 2:] != ext[:, :-2])
    return ext, skip


class CtcLoss(Op):
    """nll_n = -log sum over alignments of prod_t p[t, path_t];
    dnll/dlog_probs[t, c] = p[t, c] - sum_{s: l'_s = c} alpha_t(s) beta_t(s) / (p[t, c] P)"""

    node_name = "CtcLossBackward0"
    jvp = unsupported("_ctc_loss")

    @staticmethod
    def forward(ctx, log_probs, targets, in_lens, tgt_lens, blank, zero_infinity):
        lp = log_probs._data
        t_max, n, _ = lp.shape
        ext, skip = _extended(targets, tgt_lens, blank)
        emit = xp.take_along_axis(lp, xp.broadcast_to(ext[None], (t_max,) + ext.shape), axis=2)
        alpha = xp.full(emit.shape, _NEG_INF, lp.dtype)
        alpha[0, :, :2] = emit[0, :, :2]
        for t in range(1, t_max):
            prev = alpha[t - 1]
            cur = _lse(prev, _shift(prev, 1), xp.where(skip, _shift(prev, 2), _NEG_INF))
            alpha[t] = xp.where((t < in_lens)[:, None], cur + emit[t], _NEG_INF)
        rows = xp.arange(n)
        last_t = xp.maximum(in_lens - 1, 0)
        end = 2 * tgt_lens
        a_end = alpha[last_t, rows, end]
        a_prev = xp.where(end > 0, alpha[last_t, rows, xp.maximum(end - 1, 0)], _NEG_INF)
        nll = -_lse(a_end, a_prev)
        ctx.save_for_backward(log_probs, alpha, emit, ext, skip, nll, in_lens, tgt_lens)
        ctx.zero_infinity = zero_infinity
        return nll.astype(lp.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        lp, alpha, emit, ext, skip, nll, in_lens, tgt_lens = saved_arrays(ctx)
        t_max, n, c = lp.shape
        rows = xp.arange(n)
        beta = xp.full(emit.shape, _NEG_INF, lp.dtype)
        end = 2 * tgt_lens
        for t in range(t_max - 1, -1, -1):
            start = t == in_lens - 1
            cur = xp.full((n, emit.shape[2]), _NEG_INF, lp.dtype)
            if t + 1 < t_max:
                nxt = beta[t + 1]
                cur = _lse(nxt, _shift(nxt, -1), _shift(xp.where(skip, nxt, _NEG_INF), -2))
                cur = cur + emit[t]
            init = xp.full(cur.shape, _NEG_INF, lp.dtype)
            init[rows, end] = emit[t, rows, end]
            has_prev = end > 0
            init[rows[has_prev], end[has_prev] - 1] = emit[t, rows[has_prev],
                                                             end[has_prev] - 1]
            beta[t] = xp.where(start[:, None], init,
                               xp.where((t < in_lens - 1)[:, None], cur, _NEG_INF))
        ab = alpha + beta
        m = ab.max(axis=2, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0)
        acc = xp.zeros((t_max, n, c), lp.dtype)
        xp.add.at(acc, (xp.arange(t_max)[:, None, None], rows[None, :, None], ext[None]),
                  xp.exp(ab - m))
        with xp.errstate(over="ignore", invalid="ignore"):
            grad = xp.exp(lp) - acc * xp.exp(m + nll[None, :, None] - lp)
        grad = xp.where((xp.arange(t_max)[:, None] < in_lens[None, :])[:, :, None], grad, 0)
        if ctx.zero_infinity:
            grad = xp.where(xp.isinf(nll)[None, :, None], 0, grad)
        return _make(grad.astype(lp.dtype, copy=False)) * g.reshape(1, n, 1), None, None, None


def _as_lengths(x, n: int):
    a = x._data if isinstance(x, Tensor) else xp.asarray(x)
    return xp.broadcast_to(a.astype(xp.int64), (n,)) if a.ndim == 0 else a.astype(xp.int64)


def ctc_loss(log_probs: Tensor, targets: Tensor, input_lengths, target_lengths,
             blank: int = 0, reduction: str = "mean", zero_infinity: bool = False) -> Tensor:
    """CTC loss of (T, N, C) (or unbatched (T, C)) log-probabilities against padded (N, S)
    or concatenated targets; 'mean' divides each loss by its target length first."""
    refuse("_ctc_loss", log_probs)  # PyTorch's kernel has no forward-mode formula
    unbatched = log_probs.ndim == 2
    lp = log_probs.unsqueeze(1) if unbatched else log_probs
    t_max, n = lp.shape[0], lp.shape[1]
    tg = targets._data.astype(xp.int64)
    if unbatched:
        tg = tg.reshape(1, -1)
    il = _as_lengths(input_lengths, n)
    tl = _as_lengths(target_lengths, n)
    if (il > t_max).any():
        raise RuntimeError(f"Expected input_lengths to have value at most {t_max}, but got "
                           f"value {int(il.max())} (while checking arguments for "
                           "ctc_loss_allocate_outputs)")
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    loss = CtcLoss.apply(lp, tg, il, tl, blank, zero_infinity)
    if zero_infinity:  # impossible alignments cost (and teach) nothing
        loss = where(_make(xp.isinf(loss._data)), 0.0, loss)
    if unbatched:
        loss = loss.squeeze(0)
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    denom = _make(xp.maximum(tl, 1).astype(log_probs._data.dtype))
    return (loss / (denom.reshape(()) if unbatched else denom)).mean()
