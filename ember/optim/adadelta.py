"""``Adadelta``: steps whose scale is set by running averages of squared gradients and
squared updates (no hand-tuned learning rate needed)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .._backend import xp
from .optimizer import (
    Optimizer,
    _float,
    check_lr,
    check_nonneg,
    direction,
    step_tensor,
    zeros_state,
)

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    """Adadelta (Zeiler). ``v = rho*v + (1-rho)*g*g``;
    ``delta = sqrt(u + eps) / sqrt(v + eps) * g``; ``u = rho*u + (1-rho)*delta**2``;
    ``p -= lr*delta``."""

    _scalar_state = ("step",)

    def __init__(self, params: Iterable, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0, foreach: bool | None = None, *,
                 capturable: bool = False, maximize: bool = False,
                 differentiable: bool = False) -> None:
        check_lr(lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        check_nonneg("epsilon value", eps)
        check_nonneg("weight_decay value", weight_decay)
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        capturable=capturable, foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one optimization step (``closure`` re-evaluates the loss)."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr, rho, eps = _float(group["lr"]), group["rho"], group["eps"]
            for p in group["params"]:
                if p._grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = step_tensor()
                    state["square_avg"] = zeros_state(p)
                    state["acc_delta"] = zeros_state(p)
                state["step"]._data += 1
                pd = p._data
                d = direction(p._grad._data, pd, group["weight_decay"], group["maximize"])
                v, u = state["square_avg"]._data, state["acc_delta"]._data
                tmp = xp.multiply(d, 1 - rho, out=xp.empty_like(pd))
                v *= rho
                v += xp.multiply(tmp, d, out=tmp)
                std = xp.sqrt(xp.add(v, eps, out=tmp), out=tmp)
                delta = xp.add(u, eps, out=xp.empty_like(pd))
                xp.sqrt(delta, out=delta)
                delta /= std
                delta *= d
                u *= rho
                u += xp.multiply(xp.multiply(delta, 1 - rho, out=tmp), delta, out=tmp)
                pd -= xp.multiply(delta, lr, out=delta)
                p._bump_version()
        return loss
