"""Gradient clipping: by total norm (``clip_grad_norm_``) or by value (``clip_grad_value_``)."""

from __future__ import annotations

from collections.abc import Iterable

from ..._backend import xp
from ..._tensor import Tensor, _make

__all__ = ["clip_grad_norm_", "clip_grad_norm", "clip_grad_value_", "get_total_norm",
           "clip_grads_with_norm_"]


def _as_list(tensors) -> list:
    return [tensors] if isinstance(tensors, Tensor) else list(tensors)


def _norm(a, p: float):
    a = xp.abs(a)
    if p == float("inf"):
        return a.max() if a.size else a.dtype.type(0)
    if p == 0:
        return a.dtype.type((a != 0).sum())
    if p == 1:
        return a.sum()
    if p == 2:
        return xp.sqrt((a * a).sum())
    return (a ** p).sum() ** (1.0 / p)


def get_total_norm(tensors: Tensor | Iterable[Tensor], norm_type: float = 2.0,
                   error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """The ``norm_type``-norm of the norms of ``tensors`` (as one vector's norm)."""
    arrays = [t._data for t in _as_list(tensors)]
    if not arrays:
        return _make(xp.asarray(0.0, dtype=xp.float32))
    norm_type = float(norm_type)
    norms = [_norm(a, norm_type) for a in arrays]
    dtype = xp.result_type(*arrays)
    total = _norm(xp.asarray(norms, dtype=dtype), norm_type)
    if error_if_nonfinite and not xp.isfinite(total):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` "
                           "is non-finite, so it cannot be clipped. To disable this error and "
                           "scale the gradients by the non-finite norm anyway, set "
                           "`error_if_nonfinite=False`")
    return _make(xp.asarray(total, dtype=dtype))


def clip_grads_with_norm_(parameters, max_norm: float, total_norm: Tensor,
                          foreach: bool | None = None) -> None:
    """Scale every gradient by ``min(1, max_norm / (total_norm + 1e-6))`` in place."""
    grads = [p.grad for p in _as_list(parameters) if p.grad is not None]
    if not grads:
        return
    t = total_norm._data
    one = t.dtype.type
    coef = xp.minimum(one(max_norm) / (t + one(1e-6)), one(1.0))
    with xp.errstate(invalid="ignore"):  # inf * 0 is nan, silently, as in torch
        for g in grads:
            g._data *= coef.astype(g._data.dtype)
        g._bump_version()


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """Rescale the gradients so their total norm is at most ``max_norm``; returns the total
    norm before clipping."""
    params = _as_list(parameters)
    total = get_total_norm([p.grad for p in params if p.grad is not None], norm_type,
                           error_if_nonfinite, foreach)
    clip_grads_with_norm_(params, max_norm, total, foreach)
    return total


def clip_grad_norm(parameters, max_norm: float, norm_type: float = 2.0,
                   error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """Deprecated alias of ``clip_grad_norm_``."""
    import warnings
    warnings.warn("`torch.nn.utils.clip_grad_norm` is now deprecated in favor of "
                  "`torch.nn.utils.clip_grad_norm_`.", FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(parameters, clip_value: float, foreach: bool | None = None) -> None:
    """Clamp every gradient into ``[-clip_value, clip_value]`` in place."""
    v = float(clip_value)
    for p in _as_list(parameters):
        g = p.grad
        if g is not None:
            xp.clip(g._data, -v, v, out=g._data)
            g._bump_version()
