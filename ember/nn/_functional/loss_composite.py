"""Losses built from Tensor ops (their gradients come from the ops they are made of):
KL divergence, Poisson/Gaussian NLL, the margin and embedding losses."""

from __future__ import annotations

import math
import warnings

from ..._ops._util import Tensor, _make, xp
from ..._ops.elementwise import where
from ...amp._state import full_precision
from .distance import pairwise_distance
from .loss import _REDUCTIONS, _check_size, _no_grad_arg, _reduce, _resolve

__all__ = ["kl_div", "poisson_nll_loss", "gaussian_nll_loss", "cosine_embedding_loss",
           "margin_ranking_loss", "hinge_embedding_loss", "soft_margin_loss",
           "multilabel_soft_margin_loss", "triplet_margin_loss", "multi_margin_loss",
           "triplet_margin_with_distance_loss", "multilabel_margin_loss"]


def _log_sigmoid(x: Tensor) -> Tensor:
    """log(sigmoid(x)) = -softplus(-x), stable."""
    return -((-x).relu() + (1 + (-x.abs()).exp()).log())


def kl_div(input: Tensor, target: Tensor, size_average=None, reduce=None,
           reduction: str = "mean", log_target: bool = False) -> Tensor:
    """``target * (log(target) - input)`` pointwise (``input`` is log-probabilities)."""
    input, target = full_precision(input, target)  # autocast
    if size_average is not None or reduce is not None:
        reduction = _resolve(size_average, reduce, reduction)
    elif reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the "
                      "support size.'batchmean' divides only by the batch size, and aligns with "
                      "the KL div math definition.'mean' will be changed to behave the same as "
                      "'batchmean' in the next major release.", stacklevel=2)
    if reduction not in _REDUCTIONS + ("batchmean",):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if log_target:
        loss = target.exp() * (target - input)
    else:
        loss = target.xlogy(target) - target * input
    if reduction == "batchmean":
        return loss.sum() / input.size(0) if input.ndim else loss.sum()
    return _reduce(loss, reduction)


def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool = True, full: bool = False,
                     size_average=None, eps: float = 1e-8, reduce=None,
                     reduction: str = "mean") -> Tensor:
    """``exp(input) - target * input`` (log_input) or ``input - target * log(input + eps)``;
    ``full`` adds Stirling's term where target > 1."""
    reduction = _resolve(size_average, reduce, reduction)
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:
        big = _make(target._data > 1)
        t = where(big, target, 1.0)
        stirling = t * t.log() - t + 0.5 * (2 * math.pi * t).log()
        loss = loss + where(big, stirling, 0.0)
    return _reduce(loss, reduction)


def gaussian_nll_loss(input: Tensor, target: Tensor, var: Tensor | float, full: bool = False,
                      eps: float = 1e-6, reduction: str = "mean") -> Tensor:
    """``0.5 (log(max(var, eps)) + (input - target)**2 / max(var, eps))`` (+ 0.5 log 2 pi)."""
    if not isinstance(var, Tensor):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = _make(xp.full(input.shape, var, input._data.dtype))
    if var.shape != input.shape:
        if input.shape[:-1] == var.shape:
            var = var.unsqueeze(-1)
        elif input.shape[:-1] == var.shape[:-1] and var.shape[-1] == 1:
            pass
        else:
            raise ValueError("var is of incorrect size")
    if reduction not in _REDUCTIONS:
        raise ValueError(reduction + " is not valid")
    if (var._data < 0).any():
        raise ValueError("var has negative entry/entries")
    # The clamp is not differentiated through (torch clamps a clone under no_grad).
    small = _make(var._data < eps)
    var = where(small, (var - var.detach()) + eps, var)
    loss = 0.5 * (var.log() + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0,
                          size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """``1 - cos(x1, x2)`` where target is 1, ``max(0, cos - margin)`` where it is -1."""
    reduction = _resolve(size_average, reduce, reduction)
    if input1.ndim != input2.ndim or input1.ndim not in (1, 2):
        raise RuntimeError(f"cosine_embedding_loss : 0D target tensor expects 1D input "
                           f"tensors, but found inputs with sizes {list(input1.shape)} and "
                           f"{list(input2.shape)}.")
    d = input1.ndim - 1
    eps = 1e-12
    prod = (input1 * input2).sum(d)
    denom = (((input1 * input1).sum(d) + eps) * ((input2 * input2).sum(d) + eps)).sqrt()
    cos = prod / denom
    pos = where(_make(target._data == 1), 1 - cos, 0.0)
    neg = where(_make(target._data == -1), (cos - margin).clamp_min(0), 0.0)
    return _reduce(pos + neg, reduction)


def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0,
                        size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """``max(0, -target * (input1 - input2) + margin)``."""
    reduction = _resolve(size_average, reduce, reduction)
    if not (input1.ndim == input2.ndim == target.ndim):
        raise RuntimeError(f"margin_ranking_loss : All input tensors should have same dimension "
                           f"but got sizes: input1: {input1.size()}, input2: {input2.size()}, "
                           f"target: {target.size()} ")
    return _reduce((-target * (input1 - input2) + margin).clamp_min(0), reduction)


def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0,
                         size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """``input`` where target is 1, ``max(0, margin - input)`` where it is -1."""
    reduction = _resolve(size_average, reduce, reduction)
    t = target._data
    out = where(_make(t != 1), (margin - input).clamp_min(0), 0.0)
    out = out + where(_make(t != -1), input, 0.0)
    return _reduce(out, reduction)


def soft_margin_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                     reduction: str = "mean") -> Tensor:
    """``log(1 + exp(-target * input))``."""
    reduction = _resolve(size_average, reduce, reduction)
    _check_size(input, target)
    _no_grad_arg("soft_margin_loss", "target", target)
    return _reduce((1 + (-target * input).exp()).log(), reduction)


def multilabel_soft_margin_loss(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                size_average=None, reduce=None,
                                reduction: str = "mean") -> Tensor:
    """Per-class binary logistic loss, averaged over classes (the last dim)."""
    reduction = _resolve(size_average, reduce, reduction)
    loss = -(target * _log_sigmoid(input) + (1 - target) * _log_sigmoid(-input))
    if weight is not None:
        loss = loss * weight
    loss = loss.sum(input.ndim - 1) / input.size(-1) if input.ndim else loss
    return _reduce(loss, reduction)


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor,
                        margin: float = 1.0, p: float = 2, eps: float = 1e-6,
                        swap: bool = False, size_average=None, reduce=None,
                        reduction: str = "mean") -> Tensor:
    """``max(0, d(a, p) - d(a, n) + margin)`` with the p-norm pairwise distance."""
    reduction = _resolve(size_average, reduce, reduction)
    dims = (anchor.ndim, positive.ndim, negative.ndim)
    if len(set(dims)) != 1:
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have "
                           f"the same number of dimensions, but got: anchor {dims[0]}D, "
                           f"positive {dims[1]}D, and negative {dims[2]}D inputs")
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_swap = pairwise_distance(positive, negative, p, eps)
        d_neg = where(_make(d_swap._data < d_neg._data), d_swap, d_neg)
    return _reduce((margin + d_pos - d_neg).clamp_min(0), reduction)


def multi_margin_loss(input: Tensor, target: Tensor, p: int = 1, margin: float = 1.0,
                      weight: Tensor | None = None, size_average=None, reduce=None,
                      reduction: str = "mean") -> Tensor:
    """``sum_{j != y} max(0, margin - x[y] + x[j])**p / C`` (times ``weight[y]``)."""
    reduction = _resolve(size_average, reduce, reduction)
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    _no_grad_arg("multi_margin_loss", "weight", weight)
    x = input.reshape(1, -1) if input.ndim <= 1 else input
    t = target._data.reshape(-1)
    c = x.shape[1]
    if ((t < 0) | (t >= c)).any():
        raise RuntimeError("target out of range")
    onehot = xp.zeros(x.shape, dtype=x._data.dtype)
    onehot[xp.arange(t.size), t] = 1
    x_y = (x * _make(onehot)).sum(1, keepdim=True)
    hinge = (margin - x_y + x).clamp_min(0) * _make(1 - onehot)
    if p == 2:
        hinge = hinge * hinge
    if weight is not None:
        hinge = hinge * weight[_make(t)].reshape(-1, 1)
    loss = hinge.sum(1) / c
    if input.ndim <= 1:
        loss = loss.reshape(())
    return _reduce(loss, reduction)



def triplet_margin_with_distance_loss(anchor: Tensor, positive: Tensor, negative: Tensor, *,
                                      distance_function=None, margin: float = 1.0,
                                      swap: bool = False, reduction: str = "mean") -> Tensor:
    """``max(0, d(a, p) - d(a, n) + margin)`` with any distance function."""
    if margin <= 0:
        raise ValueError(f"TripletMarginWithDistanceLoss: expected margin to be greater than 0, "
                         f"got {margin} instead")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    dist = distance_function if distance_function is not None else pairwise_distance
    d_pos = dist(anchor, positive)
    d_neg = dist(anchor, negative)
    if swap:
        d_swap = dist(positive, negative)
        d_neg = where(_make(d_swap._data < d_neg._data), d_swap, d_neg)
    return _reduce((margin + d_pos - d_neg).clamp_min(0), reduction)


def multilabel_margin_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                           reduction: str = "mean") -> Tensor:
    """``sum_{j in targets} sum_{k not in targets} max(0, 1 - (x[j] - x[k])) / C``; each
    row of ``target`` lists class indices up to the first -1."""
    reduction = _resolve(size_average, reduce, reduction)
    x = input.reshape(1, -1) if input.ndim <= 1 else input
    t = target._data.reshape(x.shape)
    c = x.shape[1]
    # the target classes of each row: entries before the first -1
    listed = xp.cumprod(t >= 0, axis=1).astype(bool)
    if ((t >= c) & listed).any():
        raise RuntimeError("multilabel_margin_loss: target out of range")
    count = xp.zeros(x.shape, x._data.dtype)  # a class listed twice counts twice
    xp.add.at(count, (xp.nonzero(listed)[0], t[listed]), 1)
    pair = count[:, :, None] * (count == 0)[:, None, :]
    hinge = (1 - (x.unsqueeze(2) - x.unsqueeze(1))).clamp_min(0) * _make(pair)
    loss = hinge.sum((1, 2)) / c
    if input.ndim <= 1:
        loss = loss.reshape(())
    return _reduce(loss, reduction)
