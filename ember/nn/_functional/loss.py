"""Loss functions with fused forward/backward nodes: mse, smooth_l1, huber, binary cross
entropy (with and without logits), and cross_entropy / nll_loss (log_softmax + nll in one
node, with class weights, ignore_index, label smoothing and (N, C, d1, ...) inputs)."""

from __future__ import annotations

import warnings

from ..._dtype import _FROM_NP
from ..._ops._jvp import add, primal, tangent_sum
from ..._ops._util import Op, Tensor, _make, operands, xp
from ..._ops.activation import _row_max, _row_sum
from ..._ops.elementwise import where
from ...amp._state import full_precision
from ...autograd.grad_mode import is_grad_enabled

__all__ = ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy",
           "binary_cross_entropy_with_logits", "cross_entropy", "nll_loss"]

_REDUCTIONS = ("mean", "sum", "none")
_INT64, _UINT8, _UINT64 = xp.dtype("int64"), xp.dtype("uint8"), xp.dtype("uint64")


# -- reduction helpers (shared with the other loss modules) -----------------------------------
def _legacy_reduction(size_average, reduce, emit_warning: bool = True) -> str:
    """torch's mapping of the deprecated ``size_average``/``reduce`` pair to ``reduction``."""
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    ret = "mean" if size_average and reduce else ("sum" if reduce else "none")
    if emit_warning:
        warnings.warn("size_average and reduce args will be deprecated, please use "
                      f"reduction='{ret}' instead.", stacklevel=3)
    return ret


def _resolve(size_average, reduce, reduction: str) -> str:
    if size_average is not None or reduce is not None:
        return _legacy_reduction(size_average, reduce)
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def _reduce_array(a, reduction: str):
    if reduction == "none":
        return a
    if reduction == "sum":
        return a.sum()
    with xp.errstate(invalid="ignore", divide="ignore"):
        return a.sum() / a.dtype.type(a.size) if a.size else a.dtype.type(xp.nan)


def _reduce(t: Tensor, reduction: str) -> Tensor:
    return t if reduction == "none" else (t.sum() if reduction == "sum" else t.mean())


def _scale(g: Tensor, ctx) -> Tensor:
    """The upstream gradient of a reduced loss, spread over its elements."""
    return g / ctx.n if ctx.reduction == "mean" else g


def _diff_tangent(tangents) -> Tensor | None:
    """The tangent of ``x - y`` from the tangents of ``(x, y, ...)``."""
    tx, ty = tangents[:2]
    if ty is None:
        return tx
    return -ty if tx is None else tx - ty


def _loss_tangent(out: Tensor, elems: Tensor | None, reduction: str) -> Tensor | None:
    """A pointwise loss's tangent: its elements' tangents, reduced like the loss."""
    return None if elems is None else tangent_sum(out, _reduce(elems, reduction))


def _check_size(input: Tensor, target: Tensor) -> None:
    if target.shape != input.shape:
        warnings.warn(f"Using a target size ({target.size()}) that is different to the input "
                      f"size ({input.size()}). This will likely lead to incorrect results due "
                      "to broadcasting. Please ensure they have the same size.", stacklevel=3)


def _mask(array) -> Tensor:
    return _make(array)


def _no_grad_arg(fn: str, name: str, t: Tensor | None) -> None:
    """torch's error for an argument its kernel does not differentiate."""
    if t is not None and t.requires_grad and is_grad_enabled():
        raise RuntimeError(f"The function '{fn}' is not differentiable with respect to argument "
                           f"'{name}'. This input cannot have requires_grad True.")


# -- regression -------------------------------------------------------------------------------
class MseLoss(Op):
    """d mean((x - y)**2) = 2 (x - y) (dx - dy) / n"""

    node_name = "MseLossBackward0"
    _array_backward = True

    @staticmethod
    def forward(ctx, x, y, reduction):
        a, b = operands(x, y)
        d = a - b
        ctx.save_for_backward(x, y)
        ctx.reduction, ctx.n = reduction, d.size
        return _reduce_array(d * d, reduction)

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        gd = _scale(g, ctx) * 2 * (x - y)
        return (gd if ctx.needs_input_grad[0] else None,
                -gd if ctx.needs_input_grad[1] else None)

    @staticmethod
    def jvp(inputs, out, tangents):
        x, y, reduction = inputs
        td = _diff_tangent(tangents)
        d = primal(x) - primal(y)
        return _loss_tangent(out, None if td is None else 2 * d * td, reduction)


class SmoothL1Loss(Op):
    """d = x - y; loss = d**2 / (2 beta) if |d| < beta else |d| - beta/2;
    dloss = (d / beta if |d| < beta else sign(d)) (dx - dy)"""

    node_name = "SmoothL1LossBackward0"

    @staticmethod
    def forward(ctx, x, y, reduction, beta):
        a, b = operands(x, y)
        d = a - b
        ad = xp.abs(d)
        loss = ad if beta == 0 else xp.where(ad < beta, 0.5 * d * d / beta, ad - 0.5 * beta)
        ctx.save_for_backward(x, y)
        ctx.reduction, ctx.n, ctx.beta = reduction, d.size, beta
        return _reduce_array(loss.astype(d.dtype, copy=False), reduction)

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        d = x - y
        quad = _mask(xp.abs(d._data) < ctx.beta)
        gd = _scale(g, ctx) * (d.sign() if ctx.beta == 0 else where(quad, d / ctx.beta, d.sign()))
        return (gd if ctx.needs_input_grad[0] else None,
                -gd if ctx.needs_input_grad[1] else None)

    @staticmethod
    def jvp(inputs, out, tangents):
        x, y, reduction, beta = inputs
        td = _diff_tangent(tangents)
        if td is None:
            return None
        d = primal(x) - primal(y)
        slope = d.sign() if beta == 0 else where(d.abs() < beta, d / beta, d.sign())
        return _loss_tangent(out, slope * td, reduction)


class HuberLoss(Op):
    """d = x - y; loss = d**2 / 2 if |d| < delta else delta (|d| - delta/2);
    dloss = (d if |d| < delta else delta sign(d)) (dx - dy)"""

    node_name = "HuberLossBackward0"

    @staticmethod
    def forward(ctx, x, y, reduction, delta):
        a, b = operands(x, y)
        d = a - b
        ad = xp.abs(d)
        loss = xp.where(ad < delta, 0.5 * d * d, delta * (ad - 0.5 * delta))
        ctx.save_for_backward(x, y)
        ctx.reduction, ctx.n, ctx.delta = reduction, d.size, delta
        return _reduce_array(loss.astype(d.dtype, copy=False), reduction)

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        d = x - y
        quad = _mask(xp.abs(d._data) < ctx.delta)
        gd = _scale(g, ctx) * where(quad, d, d.sign() * ctx.delta)
        return (gd if ctx.needs_input_grad[0] else None,
                -gd if ctx.needs_input_grad[1] else None)

    @staticmethod
    def jvp(inputs, out, tangents):
        x, y, reduction, delta = inputs
        td = _diff_tangent(tangents)
        if td is None:
            return None
        d = primal(x) - primal(y)
        return _loss_tangent(out, where(d.abs() < delta, d, d.sign() * delta) * td, reduction)


def mse_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
             reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """Mean squared error ``(input - target)**2``, reduced."""
    input, target = full_precision(input, target)  # autocast
    _check_size(input, target)
    reduction = _resolve(size_average, reduce, reduction)
    if weight is not None:
        d = input - target
        return _reduce(weight * d * d, reduction)
    return MseLoss.apply(input, target, reduction)


def l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
            reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """Mean absolute error ``|input - target|``, reduced."""
    input, target = full_precision(input, target)  # autocast
    _check_size(input, target)
    reduction = _resolve(size_average, reduce, reduction)
    loss = (input - target).abs()
    return _reduce(loss if weight is None else loss * weight, reduction)


def smooth_l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                   reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """Quadratic below ``beta``, linear above (``beta=0`` is l1_loss)."""
    input, target = full_precision(input, target)  # autocast
    _check_size(input, target)
    reduction = _resolve(size_average, reduce, reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    return SmoothL1Loss.apply(input, target, reduction, float(beta))


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight: Tensor | None = None) -> Tensor:
    """Quadratic below ``delta``, ``delta``-scaled linear above."""
    input, target = full_precision(input, target)  # autocast
    _check_size(input, target)
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    if weight is not None:
        return _reduce(HuberLoss.apply(input, target, "none", float(delta)) * weight, reduction)
    return HuberLoss.apply(input, target, reduction, float(delta))


# -- binary cross entropy ---------------------------------------------------------------------
class BinaryCrossEntropy(Op):
    """loss = -w (y log x + (1-y) log(1-x)), logs clamped at -100;
    dloss/dx = w (x - y) / max(x (1-x), 1e-12), dloss/dy = w (log(1-x) - log x)"""

    node_name = "BinaryCrossEntropyBackward0"

    @staticmethod
    def forward(ctx, x, y, weight, reduction):
        a, b = x._data, y._data
        if a.size and ((a < 0) | (a > 1)).any():
            raise RuntimeError("all elements of input should be between 0 and 1")
        with xp.errstate(divide="ignore"):
            log_x = xp.maximum(xp.log(a), -100)
            log_1mx = xp.maximum(xp.log1p(-a), -100)
        loss = -(b * log_x + (1 - b) * log_1mx)
        if weight is not None:
            loss = loss * weight._data
        ctx.save_for_backward(x, y, weight)
        ctx.reduction, ctx.n = reduction, loss.size
        return _reduce_array(loss.astype(a.dtype, copy=False), reduction)

    @staticmethod
    def backward(ctx, g):
        x, y, weight = ctx.saved_tensors
        g = _scale(g, ctx)
        if weight is not None:
            g = g * weight
        gx = gy = None
        if ctx.needs_input_grad[0]:
            gx = g * (x - y) / (x * (1 - x)).clamp_min(1e-12)
        if ctx.needs_input_grad[1]:
            with xp.errstate(divide="ignore"):
                diff = xp.maximum(xp.log1p(-x._data), -100) - xp.maximum(xp.log(x._data), -100)
            gy = g * _mask(diff.astype(x._data.dtype, copy=False))
        return gx, gy, None

    @staticmethod
    def jvp(inputs, out, tangents):
        # As in PyTorch, a tangent on the weight is ignored (it is not differentiable).
        x, y, weight, reduction = inputs
        tx, ty = tangents[:2]
        x, y = primal(x), primal(y)
        terms = []
        if tx is not None:
            terms.append(tx * (x - y) / (x * (1 - x)).clamp_min(1e-12))
        if ty is not None:
            terms.append(ty * ((-x).log1p().clamp_min(-100) - x.log().clamp_min(-100)))
        elems = add(*terms)
        if elems is not None and weight is not None:
            elems = elems * primal(weight)
        return _loss_tangent(out, elems, reduction)


def _softplus_neg(x: Tensor) -> Tensor:
    """log(1 + exp(-x)), stable for any x, in Tensor ops."""
    return (-x).relu() + (1 + (-x.abs()).exp()).log()


class BCEWithLogits(Op):
    """loss = w ((1-y) x + (1 + (pw-1) y) softplus(-x));
    dloss/dx = w ((1 + (pw-1) y) sigmoid(x) - pw y), dloss/dy = w (-x + (pw-1) softplus(-x))"""

    node_name = "BinaryCrossEntropyWithLogitsBackward0"

    @staticmethod
    def forward(ctx, x, y, weight, pos_weight, reduction):
        a, b = operands(x, y)
        sp = xp.maximum(-a, 0) + xp.log1p(xp.exp(-xp.abs(a)))
        if pos_weight is not None:
            loss = (1 - b) * a + (1 + (pos_weight._data - 1) * b) * sp
        else:
            loss = (1 - b) * a + sp
        if weight is not None:
            loss = loss * weight._data
        ctx.save_for_backward(x, y, weight, pos_weight)
        ctx.reduction, ctx.n = reduction, loss.size
        return _reduce_array(loss.astype(a.dtype, copy=False), reduction)

    @staticmethod
    def backward(ctx, g):
        x, y, weight, pw = ctx.saved_tensors
        g = _scale(g, ctx)
        if weight is not None:
            g = g * weight
        need = ctx.needs_input_grad
        gx = gy = gpw = None
        if need[0]:
            s = x.sigmoid()
            gx = g * (s - y) if pw is None else g * ((1 + (pw - 1) * y) * s - pw * y)
        if need[1] or need[3]:
            sp = _softplus_neg(x)
            if need[1]:
                gy = g * (-x) if pw is None else g * ((pw - 1) * sp - x)
            if need[3]:
                gpw = g * y * sp
        return gx, gy, None, gpw

    @staticmethod
    def jvp(inputs, out, tangents):
        # As in PyTorch, tangents on weight and pos_weight are ignored.
        x, y, weight, pw, reduction = inputs
        tx, ty = tangents[:2]
        x, y = primal(x), primal(y)
        pw = primal(pw)
        terms = []
        if tx is not None:
            s = x.sigmoid()
            terms.append(tx * (s - y) if pw is None else tx * ((1 + (pw - 1) * y) * s - pw * y))
        if ty is not None:
            terms.append(ty * -x if pw is None else ty * ((pw - 1) * _softplus_neg(x) - x))
        elems = add(*terms)
        if elems is None:
            return None
        if weight is not None:
            elems = elems * primal(weight)
        return _loss_tangent(out, elems, reduction)


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """``-w (y log x + (1 - y) log(1 - x))`` on probabilities (logs clamped at -100)."""
    input, target = full_precision(input, target)  # autocast
    reduction = _resolve(size_average, reduce, reduction)
    if target.shape != input.shape:
        raise ValueError(f"Using a target size ({target.size()}) that is different to the input "
                         f"size ({input.size()}) is deprecated. Please ensure they have the same "
                         "size.")
    _no_grad_arg("binary_cross_entropy", "weight", weight)
    return BinaryCrossEntropy.apply(input, target, weight, reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor,
                                     weight: Tensor | None = None, size_average=None,
                                     reduce=None, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """Sigmoid + binary cross entropy in one stable step; ``pos_weight`` weighs positives."""
    input, target = full_precision(input, target)  # autocast
    reduction = _resolve(size_average, reduce, reduction)
    if target.shape != input.shape:
        raise ValueError(f"Target size ({target.size()}) must be the same as input size "
                         f"({input.size()})")
    _no_grad_arg("binary_cross_entropy_with_logits", "weight", weight)
    _no_grad_arg("binary_cross_entropy_with_logits", "pos_weight", pos_weight)
    return BCEWithLogits.apply(input, target, weight, pos_weight, reduction)


# -- cross entropy / nll ----------------------------------------------------------------------
def _to_rows(a):
    """(N, C, d1, ...) -> (N*d1*..., C); (C,) -> (1, C)."""
    if a.ndim == 1:
        return a[None]
    return xp.moveaxis(a, 1, -1).reshape(-1, a.shape[1])


def _from_rows(t: Tensor, shape: tuple) -> Tensor:
    """Inverse of ``_to_rows`` on a Tensor (so backward stays differentiable)."""
    if len(shape) == 1:
        return t.reshape(shape)
    moved = (shape[0],) + tuple(shape[2:]) + (shape[1],)
    nd = len(shape)
    return t.reshape(moved).permute(0, nd - 1, *range(1, nd - 1))


def _hard_targets(a, t, ignore_index: int):
    """Checked flat class indices (M,) for the (M, C) row view of the input array ``a``, and
    the mask of counted rows (``None`` when all count: none ignored or out of range)."""
    shape = a.shape
    c = shape[0] if a.ndim == 1 else shape[1]
    if a.ndim == 1:
        if t.ndim != 0:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    elif a.ndim == 2 and t.ndim != 1:
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    elif t.shape[:1] != shape[:1]:
        raise ValueError(f"Expected input batch_size ({shape[0]}) to match target batch_size "
                         f"({t.shape[0] if t.ndim else 0}).")
    elif a.ndim > 2 and t.shape[1:] != shape[2:]:
        raise RuntimeError(f"size mismatch (got input: {list(shape)}, target: "
                           f"{list(t.shape)})")
    if t.dtype != _INT64 and t.dtype != _UINT8:
        name = _FROM_NP[t.dtype]._legacy_name[:-len("Tensor")]
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got {name}")
    t = t.reshape(-1)
    # One pass settles the common case (all in range, ignore_index outside it): seen as
    # unsigned, negative indices are huge, so the max alone bounds both ends.
    if t.size and not 0 <= ignore_index < c and (
            t.view(_UINT64) if t.dtype == _INT64 else t).max() < c:
        return t, None
    valid = t != ignore_index
    bad = valid & ((t < 0) | (t >= c))
    if bad.any():
        raise IndexError(f"Target {int(t[bad][0])} is out of bounds.")
    return t, valid


def _class_targets(t, valid, c: int, weight, smoothing: float, dtype):
    """The per-row target distributions ``q`` (M, C) of hard labels (class weights, smoothing
    and ignore_index applied), and the per-row weights ``w`` for 'mean'."""
    safe = t if valid is None else xp.where(valid, t, 0)
    wc = xp.ones(c, dtype) if weight is None else weight._data.astype(dtype, copy=False)
    q = xp.zeros((t.size, c), dtype)
    q[xp.arange(t.size), safe] = 1 - smoothing
    if smoothing:
        q += smoothing / c
    q *= wc
    w = wc[safe]
    if valid is not None:
        q[~valid] = 0
        w = xp.where(valid, w, 0)
    return q, w.astype(dtype, copy=False)


def _plain_forward(a, z, target, ignore_index: int, log_input: bool):
    """Hard labels, no weights or smoothing: loss_i = logsumexp(z_i) - z_i[t_i] over the rows
    ``z`` (M, C) of ``a``. Rows and targets are picked by flat index (faster than 2-d
    indexing); the flat target indices serve backward too. Returns the loss rows, the 'mean'
    denominator, and what backward needs: (exp, expsum, idx, valid)."""
    m_rows, c = z.shape
    t, valid = _hard_targets(a, target, ignore_index)
    flat = z.reshape(-1)
    base = xp.arange(0, m_rows * c, c)
    idx = base + (t if valid is None else xp.where(valid, t, 0))
    loss = -flat[idx]
    e = s = None
    if not log_input:
        m = flat[base + z.argmax(axis=1)]  # the row max (NaN rows give NaN)
        e = z - m[:, None]
        xp.exp(e, out=e)
        s = _row_sum(e, 1)
        loss += m
        loss += xp.log(s.reshape(-1))
    if valid is not None:
        loss[~valid] = 0
    return loss, (m_rows if valid is None else int(valid.sum())), (e, s, idx, valid)


class CrossEntropy(Op):
    """loss_i = -sum_c q_ic log softmax(x_i)_c;  dloss_i/dx_i = softmax(x_i) sum_c q_ic - q_i;
    for probability targets also dloss_i/dy_i = -log softmax(x_i) * weight (1 - smoothing).

    Backward receives and returns Tensors. Unrecorded, with hard labels, it computes on
    arrays from the forward's exponentials (saved with the inputs): softmax - onehot."""

    node_name = "NllLossBackward0"

    @staticmethod
    def forward(ctx, x, target, weight, opts):
        ignore_index, reduction, smoothing, log_input, soft = opts
        a = x._data
        z = a if a.ndim == 2 else _to_rows(a)
        m_rows, c = z.shape
        e = s = q = idx = valid = None  # what backward needs besides the inputs
        if not soft and weight is None and not smoothing and c:
            loss, denom, (e, s, idx, valid) = _plain_forward(a, z, target._data, ignore_index,
                                                             log_input)
        else:
            if log_input:
                logp = z
            else:
                e = z - _row_max(z, 1) if c else z.copy()
                logp = e.copy()
                xp.exp(e, out=e)
                s = _row_sum(e, 1)
                logp -= xp.log(s)
            if soft:
                y = _to_rows(target._data).astype(a.dtype, copy=False)
                qs = y * (1 - smoothing) + smoothing / c if smoothing else y
                if weight is not None:
                    qs = qs * weight._data
                loss = -(qs * logp).sum(axis=1)
                denom = m_rows
            else:
                t, valid = _hard_targets(a, target._data, ignore_index)
                q, w = _class_targets(t, valid, c, weight, smoothing, a.dtype)
                denom = w.sum()
                loss = -(q * logp).sum(axis=1)
        ctx.save_for_backward(x, target, weight, e, s, q, idx, valid)
        ctx.soft, ctx.reduction, ctx.log_input = soft, reduction, log_input
        ctx.smoothing = smoothing
        if reduction == "none":
            out_shape = (() if a.ndim == 1 else (a.shape[0],) + a.shape[2:])
            return loss.reshape(out_shape)
        total = loss.sum()
        ctx.n = denom
        if reduction == "sum":
            return total
        if denom:
            return (total / denom).astype(a.dtype)
        with xp.errstate(invalid="ignore", divide="ignore"):
            return (total / denom).astype(a.dtype)

    @staticmethod
    def backward(ctx, g):
        x, target, weight, e, s, q, idx, valid = ctx.saved_tensors
        if not ctx.soft and not is_grad_enabled():
            return _cross_entropy_grad_arrays(ctx, g._data, x._data.shape, e, s, q, idx,
                                              valid), None, None
        if ctx.soft:  # q rebuilt from the target in Tensor ops: double backward reaches it
            q = _from_rows_inv(target)
            if ctx.smoothing:
                q = q * (1 - ctx.smoothing) + ctx.smoothing / q.shape[1]
            if weight is not None:
                q = q * weight
        elif q is None:
            q = _make(_onehot_q(x, idx._data, valid))
        if ctx.reduction == "none":
            g = g.reshape(-1, 1)
        elif ctx.reduction == "mean":
            # Every target ignored: the loss is NaN (0/0) but, as in PyTorch, the gradient 0.
            g = g / float(ctx.n) if ctx.n else g * 0.0
        z = _from_rows_inv(x)
        gx = gy = gw = None
        if ctx.needs_input_grad[0]:
            if ctx.log_input:
                gx = _from_rows(-q * g, x.shape)
            else:
                ez = (z - _make(z._data.max(axis=1, keepdims=True))).exp()
                p = ez / ez.sum(1, keepdim=True)
                gx = _from_rows((p * q.sum(1, keepdim=True) - q) * g, x.shape)
        need_y, need_w = ctx.needs_input_grad[1:3]
        if ctx.soft and (need_y or need_w):
            sh = (z - _make(z._data.max(axis=1, keepdims=True)))
            glogp = -(sh - sh.exp().sum(1, keepdim=True).log()) * g
            if need_y:
                gy = glogp * (1 - ctx.smoothing)
                gy = _from_rows(gy if weight is None else gy * weight, target.shape)
            if need_w:
                y = _from_rows_inv(target)
                if ctx.smoothing:
                    y = y * (1 - ctx.smoothing) + ctx.smoothing / y.shape[1]
                gw = (glogp * y).sum(0)
        return gx, gy, gw

    @staticmethod
    def jvp(inputs, out, tangents):
        return _cross_entropy_jvp(inputs, out, tangents)


# Probability targets: PyTorch's last node is the division for 'mean', else the negation.
class CrossEntropySoftMean(CrossEntropy):
    node_name = "DivBackward1"


class CrossEntropySoft(CrossEntropy):
    node_name = "NegBackward0"


_SOFT_NODES = {"mean": CrossEntropySoftMean, "sum": CrossEntropySoft, "none": CrossEntropySoft}


def _cross_entropy_jvp(inputs, out, tangents):
    """loss_i = -sum_c q_ic logp_ic: d loss_i = -sum_c (q_ic d logp_ic + dq_ic logp_ic), with
    d logp = dx - sum_c p_c dx_c; dq from a probability target (and, for those only, from
    the class weights: PyTorch ignores a weight's tangent with class indices)."""
    x, target, weight, opts = inputs
    ignore_index, reduction, smoothing, log_input, soft = opts
    tx, ty, tw = tangents[:3]
    x, weight = primal(x), primal(weight)
    cd = 0 if x.ndim == 1 else 1                    # the class dim
    c = x.shape[cd]
    per_class = (c,) + (1,) * (x.ndim - cd - 1)     # a class vector, broadcast along cd
    logp = x if log_input else x.log_softmax(cd)
    wc = None if weight is None else weight.reshape(per_class)
    if soft:
        y = primal(target)
        q = y * (1 - smoothing) + smoothing / c if smoothing else y
        terms = []
        if tx is not None:
            tl = tx if log_input else tx - (logp.exp() * tx).sum(cd, keepdim=True)
            terms.append(q * tl if wc is None else q * wc * tl)
        if ty is not None:
            tq = ty * (1 - smoothing) if smoothing else ty
            terms.append(tq * logp if wc is None else tq * wc * logp)
        if tw is not None and weight is not None:
            terms.append(q * tw.reshape(per_class) * logp)
        if not terms:
            return None
        loss = -add(*terms).sum(cd)
        count = x.numel() // c if c else 0
    else:
        if tx is None:
            return None
        tl = tx if log_input else tx - (logp.exp() * tx).sum(cd, keepdim=True)
        valid = target != ignore_index
        safe = where(valid, target, 0)
        picked = tl.gather(cd, safe.unsqueeze(cd)).squeeze(cd)   # the target class's entry
        row_w = valid.to(x.dtype) if weight is None else weight[safe] * valid
        loss = picked * row_w * (1 - smoothing)
        if smoothing:
            spread = (tl if wc is None else tl * wc).sum(cd) * (smoothing / c)
            loss = loss + spread * valid
        loss = -loss
        count = row_w.sum()
    if reduction == "none":
        return tangent_sum(out, loss)
    return tangent_sum(out, loss.sum() if reduction == "sum" else loss.sum() / count)


def _cross_entropy_grad_arrays(ctx, g, shape, e, s, q, idx, valid):
    """The hard-label input gradient on arrays (the backward pass is not recorded): the
    forward's exponentials give the softmax."""
    if not ctx.needs_input_grad[0]:
        return None
    e, s, q, idx = (t._data if t is not None else None for t in (e, s, q, idx))
    valid = valid._data if valid is not None else None
    if ctx.reduction == "none":
        g = g.reshape(-1, 1)
    elif ctx.reduction == "mean":
        # Every target ignored: the loss is NaN (0/0) but, as in PyTorch, the gradient 0.
        g = g / ctx.n if ctx.n else g * 0
    if q is None:  # plain hard labels: softmax - onehot, ignored rows zeroed
        if ctx.log_input:
            gx = xp.zeros((idx.size, shape[0] if len(shape) == 1 else shape[1]), g.dtype)
            gx.reshape(-1)[idx] = -1
        else:
            gx = e / s
            flat = gx.reshape(-1)
            flat[idx] -= 1
        if valid is not None:
            gx[~valid] = 0
    else:
        gx = -q if ctx.log_input else e / s * q.sum(axis=1, keepdims=True) - q
    gx *= g
    if len(shape) == 1:
        gx = gx.reshape(shape)
    elif len(shape) > 2:
        moved = (shape[0],) + shape[2:] + (shape[1],)
        gx = xp.moveaxis(gx.reshape(moved), -1, 1)
    return _make(gx)


def _onehot_q(x: Tensor, idx, valid):
    """The plain hard-label target distribution (M, C) from the flat target indices."""
    q = xp.zeros((idx.size, x.shape[0] if x.ndim == 1 else x.shape[1]), x._data.dtype)
    q.reshape(-1)[idx] = 1
    if valid is not None:
        q[~valid._data] = 0
    return q


def _from_rows_inv(x: Tensor) -> Tensor:
    """``_to_rows`` on a Tensor, in differentiable ops."""
    if x.ndim == 1:
        return x.reshape(1, -1)
    nd = x.ndim
    return x.permute(0, *range(2, nd), 1).reshape(-1, x.shape[1])


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                  size_average=None, ignore_index: int = -100, reduce=None,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """log_softmax over dim 1 and negative log likelihood, in one fused node. ``target``
    holds class indices (N, d1, ...) or class probabilities (same shape as ``input``)."""
    input, weight = full_precision(input, weight)  # autocast
    if size_average is not None or reduce is not None or reduction not in _REDUCTIONS:
        reduction = _resolve(size_average, reduce, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: "
                           f"{label_smoothing:g}")  # formatted as C++ prints a double
    a, t = input._data, target._data
    if a.ndim == 0:
        raise IndexError("Dimension specified as 1 but tensor has no dimensions")
    soft = t.dtype.kind == "f" and t.shape == a.shape  # else class indices, checked later
    if not soft and weight is not None:
        _no_grad_arg("nll_loss_forward", "weight", weight)
    op = _SOFT_NODES[reduction] if soft else CrossEntropy
    return op.apply(input, target, weight,
                    (ignore_index, reduction, float(label_smoothing), False, soft))


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
             ignore_index: int = -100, reduce=None, reduction: str = "mean") -> Tensor:
    """``-input[i, target[i]] * weight[target[i]]``, reduced (mean divides by the weights)."""
    input, weight = full_precision(input, weight)  # autocast
    if size_average is not None or reduce is not None or reduction not in _REDUCTIONS:
        reduction = _resolve(size_average, reduce, reduction)
    if input._data.ndim == 0:
        raise ValueError(f"Expected 1 or more dimensions (got {input.ndim})")
    _no_grad_arg("nll_loss_forward", "weight", weight)
    return CrossEntropy.apply(input, target, weight, (ignore_index, reduction, 0.0, True, False))
