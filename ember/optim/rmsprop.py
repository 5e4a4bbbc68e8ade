"""``RMSprop``: gradient steps scaled by a running root-mean-square of the gradients."""

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

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop (Hinton). ``v = alpha*v + (1-alpha)*g*g``; ``centered`` subtracts the squared
    running mean ``a = lerp(a, g, 1-alpha)``; ``avg = sqrt(v [- a*a]) + eps``; then
    ``p -= lr*g/avg``, or with momentum ``b = momentum*b + g/avg; p -= lr*b``.
    """

    _scalar_state = ("step",)

    def __init__(self, params: Iterable, lr: float = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0, momentum: float = 0,
                 centered: bool = False, capturable: bool = False,
                 foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False) -> None:
        check_lr(lr)
        check_nonneg("epsilon value", eps)
        check_nonneg("momentum value", momentum)
        check_nonneg("weight_decay value", weight_decay)
        check_nonneg("alpha value", alpha)
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach,
                        maximize=maximize, differentiable=differentiable)
        super().__init__(params, defaults)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one optimization step (``closure`` re-evaluates the loss)."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr, alpha, eps = _float(group["lr"]), group["alpha"], group["eps"]
            momentum, centered = group["momentum"], group["centered"]
            for p in group["params"]:
                if p._grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = step_tensor()
                    state["square_avg"] = zeros_state(p)
                    if momentum > 0:
                        state["momentum_buffer"] = zeros_state(p)
                    if centered:
                        state["grad_avg"] = zeros_state(p)
                state["step"]._data += 1
                pd = p._data
                d = direction(p._grad._data, pd, group["weight_decay"], group["maximize"])
                v = state["square_avg"]._data
                tmp = xp.multiply(d, 1 - alpha, out=xp.empty_like(pd))
                v *= alpha
                v += xp.multiply(tmp, d, out=tmp)
                if centered:
                    a = state["grad_avg"]._data
                    xp.subtract(d, a, out=tmp)
                    tmp *= 1 - alpha
                    a += tmp                              # a.lerp_(d, 1 - alpha)
                    xp.multiply(a, -1.0, out=tmp)
                    tmp *= a
                    avg = xp.sqrt(xp.add(v, tmp, out=tmp), out=tmp)
                else:
                    avg = xp.sqrt(v, out=tmp)
                avg += eps
                if momentum > 0:
                    buf = state["momentum_buffer"]._data
                    buf *= momentum
                    buf += xp.divide(d, avg, out=avg)
                    pd -= xp.multiply(buf, lr, out=avg)
                else:
                    pd += xp.divide(xp.multiply(d, -lr), avg, out=avg)
                p._bump_version()
        return loss
