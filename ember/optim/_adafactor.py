"""``Adafactor``: Adam-like steps with a factored (row x column) second-moment estimate."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

from .._backend import xp
from .._tensor import Tensor, _make
from .optimizer import Optimizer, _float, check_lr, column, step_tensor, zeros_state

__all__ = ["Adafactor", "adafactor"]


class Adafactor(Optimizer):
    """Adafactor (Shazeer & Stern), in PyTorch's form. At step ``t``:
    ``beta2_t = 1 - t**beta2_decay``, ``rho = min(lr, 1/sqrt(t))`` and
    ``alpha = max(eps2, rms(p)) * rho``. A matrix gradient keeps row and column means of
    ``g*g`` (lerped by ``1 - beta2_t``) whose outer product, divided by the rows' mean,
    estimates ``v``; a vector keeps ``v`` itself. ``u = g / sqrt(max(v, eps1**2))`` is
    clipped to RMS ``d``; ``p -= alpha * u`` (after ``p *= 1 - lr*weight_decay``)."""

    _scalar_state = ("step",)

    def __init__(self, params: Iterable, lr: float = 1e-2, beta2_decay: float = -0.8,
                 eps: tuple[float | None, float] = (None, 1e-3), d: float = 1.0,
                 weight_decay: float = 0.0, *, foreach: bool | None = None,
                 maximize: bool = False) -> None:
        if isinstance(lr, Tensor):
            check_lr(lr)
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 >= beta2_decay:
            raise ValueError(f"beta2_decay should be <= 0 but is: {beta2_decay}")
        if eps[0] is not None and not 0.0 <= eps[0]:
            raise ValueError(f"epsilon1 should be >= 0 but is: {eps[0]}")
        if not 0.0 <= eps[1]:
            raise ValueError(f"epsilon2 should be >= 0 but is: {eps[1]}")
        if not 1.0 <= d:
            raise ValueError(f"Clipping threshold d should be >= 1 but is: {d}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight_decay should be >= 0 but is: {weight_decay}")
        defaults = dict(lr=lr, beta2_decay=beta2_decay, eps=eps, d=d,
                        weight_decay=weight_decay, foreach=foreach, maximize=maximize)
        super().__init__(params, defaults)

    @staticmethod
    def _init_state(p: Tensor, state: dict, group: dict) -> None:
        state["step"] = step_tensor()
        g = p._grad._data
        if g.ndim > 1:
            state["row_var"] = _make(xp.zeros(g.shape[:-1] + (1,), dtype=g.dtype))
            state["col_var"] = _make(xp.zeros(g.shape[:-2] + (1,) + g.shape[-1:],
                                              dtype=g.dtype))
        else:
            state["variance"] = zeros_state(p)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one optimization step (``closure`` re-evaluates the loss)."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            for p in group["params"]:
                if p._grad is not None and p.is_complex():
                    raise RuntimeError("Adafactor does not support complex parameters")
            params, grads, states = self._gather(group, self._init_state)
            eps1, eps2 = group["eps"]
            adafactor(params, grads, [s.get("row_var") for s in states],
                      [s.get("col_var") for s in states], [s.get("variance") for s in states],
                      column(states, "step"), d=group["d"], lr=group["lr"],
                      beta2_decay=group["beta2_decay"], weight_decay=group["weight_decay"],
                      eps1=eps1, eps2=eps2, foreach=group["foreach"],
                      maximize=group["maximize"], grad_scale=getattr(self, "grad_scale", None),
                      found_inf=getattr(self, "found_inf", None))
        return loss


def _rms(a) -> float:
    return float(xp.linalg.norm(a.reshape(-1))) / math.sqrt(max(a.size, 1))


def adafactor(params: list[Tensor], grads: list[Tensor], row_vars: list[Tensor | None],
              col_vars: list[Tensor | None], variances: list[Tensor | None],
              state_steps: list[Tensor], foreach: bool | None = None,
              grad_scale: Tensor | None = None, found_inf: Tensor | None = None,
              has_complex: bool = False, *, d: float, lr: float, beta2_decay: float,
              weight_decay: float, eps1: float | None, eps2: float, maximize: bool) -> None:
    """Functional Adafactor: update ``params`` and the factored second moments in place."""
    if grad_scale is not None or found_inf is not None:
        raise AssertionError("Grad scaling should occur outside of optimizer.step()")
    lr = _float(lr)
    for i, param in enumerate(params):
        p, g = param._data, grads[i]._data
        if maximize:
            g = -g
        e1 = float(xp.finfo(p.dtype).eps) if eps1 is None else eps1
        step_data = state_steps[i]._data
        step_data += 1
        step = float(step_data)
        beta2_t = step ** beta2_decay                 # the lerp weight 1 - beta2
        alpha = max(eps2, _rms(p)) * min(lr, 1 / math.sqrt(step))
        if weight_decay != 0:
            p *= 1 - lr * weight_decay
        if g.ndim > 1:
            row_var, col_var = row_vars[i]._data, col_vars[i]._data
            sq = g * g
            row_var += (sq.mean(axis=-1, keepdims=True) - row_var) * beta2_t
            col_var += (sq.mean(axis=-2, keepdims=True) - col_var) * beta2_t
            var = xp.matmul(row_var, col_var)
            var /= xp.maximum(row_var.mean(axis=-2, keepdims=True), e1)
        else:
            variance = variances[i]._data
            variance += (g * g - variance) * beta2_t
            var = variance.copy()
        update = xp.maximum(var, e1 * e1)
        update = 1 / xp.sqrt(update)
        update *= g
        denom = max(1.0, _rms(update) / d)
        p += update * (-alpha / denom)
        param._bump_version()
