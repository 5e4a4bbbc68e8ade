"""``Adamax``: the infinity-norm variant of Adam."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .._backend import xp
from .optimizer import (
    Optimizer,
    _float,
    check_betas,
    check_lr,
    check_nonneg,
    direction,
    step_tensor,
    zeros_state,
)

__all__ = ["Adamax"]


class Adamax(Optimizer):
    """Adamax (Kingma & Ba). ``m = lerp(m, g, 1-beta1)``; ``u = max(beta2*u, |g| + eps)``;
    ``p -= lr/(1-beta1**t) * m/u``."""

    _scalar_state = ("step",)

    def __init__(self, params: Iterable, lr: float = 2e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, foreach: bool | None = None, *,
                 maximize: bool = False, differentiable: bool = False,
                 capturable: bool = False) -> None:
        check_lr(lr)
        check_nonneg("epsilon value", eps)
        check_betas(betas)
        check_nonneg("weight_decay value", weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one optimization step (``closure`` re-evaluates the loss)."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr, (beta1, beta2), eps = _float(group["lr"]), group["betas"], group["eps"]
            for p in group["params"]:
                if p._grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = step_tensor()
                    state["exp_avg"] = zeros_state(p)
                    state["exp_inf"] = zeros_state(p)
                state["step"]._data += 1
                step = float(state["step"]._data)
                pd = p._data
                d = direction(p._grad._data, pd, group["weight_decay"], group["maximize"])
                m, u = state["exp_avg"]._data, state["exp_inf"]._data
                tmp = xp.subtract(d, m, out=xp.empty_like(pd))
                tmp *= 1 - beta1
                m += tmp                                  # m.lerp_(d, 1 - beta1)
                u *= beta2
                xp.abs(d, out=tmp)
                tmp += eps
                xp.maximum(u, tmp, out=u)
                clr = lr / (1 - beta1 ** step)
                pd += xp.divide(xp.multiply(m, -clr, out=tmp), u, out=tmp)
                p._bump_version()
        return loss
