"""``RAdam``: Adam with a rectified (variance-corrected) adaptive learning rate."""

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

__all__ = ["RAdam"]


class RAdam(Optimizer):
    """RAdam (Liu et al.). With ``rho_inf = 2/(1-beta2) - 1`` and
    ``rho_t = rho_inf - 2t*beta2**t/(1-beta2**t)``: while ``rho_t <= 5`` the step is plain
    momentum ``p -= lr*m_hat``; afterwards ``p -= lr*m_hat*sqrt(1-beta2**t)/(sqrt(v)+eps)*r_t``
    with the rectification ``r_t = sqrt((rho_t-4)(rho_t-2)rho_inf/((rho_inf-4)(rho_inf-2)rho_t))``.
    """

    _scalar_state = ("step",)

    def __init__(self, params: Iterable, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, decoupled_weight_decay: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False) -> None:
        check_lr(lr)
        check_nonneg("epsilon value", eps)
        check_betas(betas)
        check_nonneg("weight_decay value", weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        maximize=maximize, foreach=foreach, capturable=capturable,
                        decoupled_weight_decay=decoupled_weight_decay,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one optimization step (``closure`` re-evaluates the loss)."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr, (beta1, beta2), eps = _float(group["lr"]), group["betas"], group["eps"]
            wd, decoupled = group["weight_decay"], group["decoupled_weight_decay"]
            for p in group["params"]:
                if p._grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = step_tensor()
                    state["exp_avg"] = zeros_state(p)
                    state["exp_avg_sq"] = zeros_state(p)
                state["step"]._data += 1
                step = float(state["step"]._data)
                pd = p._data
                if wd != 0 and decoupled:
                    pd *= 1 - lr * wd
                d = direction(p._grad._data, pd, 0 if decoupled else wd, group["maximize"])
                m, v = state["exp_avg"]._data, state["exp_avg_sq"]._data
                tmp = xp.subtract(d, m, out=xp.empty_like(pd))
                tmp *= 1 - beta1
                m += tmp                                  # m.lerp_(d, 1 - beta1)
                v *= beta2
                v += xp.multiply(xp.multiply(d, 1 - beta2, out=tmp), d, out=tmp)
                bias1, bias2 = 1 - beta1 ** step, 1 - beta2 ** step
                upd = xp.divide(m, bias1, out=tmp)
                upd *= lr
                rho_inf = 2 / (1 - beta2) - 1
                rho_t = rho_inf - 2 * step * (beta2 ** step) / bias2
                if rho_t > 5.0:
                    rect = ((rho_t - 4) * (rho_t - 2) * rho_inf
                            / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
                    adaptive = xp.sqrt(v, out=xp.empty_like(pd))
                    adaptive += eps
                    xp.divide(bias2 ** 0.5, adaptive, out=adaptive)
                    upd *= adaptive
                    upd *= rect
                pd -= upd
                p._bump_version()
        return loss
