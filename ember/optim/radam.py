"""``RAdam``: Adam with a rectified (variance-corrected) adaptive learning rate."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

from .._tensor import Tensor
from ._flat import flat_step, use_flat
from ._kernel import check_capturable, check_foreach, direction, run_kernel
from .optimizer import (
    Optimizer,
    _float,
    check_betas,
    check_lr,
    check_nonneg,
    column,
    step_tensor,
    zeros_state,
)

__all__ = ["RAdam", "radam"]


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

    @staticmethod
    def _init_state(p: Tensor, state: dict, group: dict) -> None:
        state["step"] = step_tensor()
        state["exp_avg"] = zeros_state(p)
        state["exp_avg_sq"] = zeros_state(p)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one optimization step (``closure`` re-evaluates the loss)."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            subset = None
            if use_flat(group):
                subset = self._flat_step(group)
                if not subset:
                    continue
            params, grads, states = self._gather(group, self._init_state, subset)
            beta1, beta2 = group["betas"]
            radam(params, grads, column(states, "exp_avg"), column(states, "exp_avg_sq"),
                  column(states, "step"),
                  decoupled_weight_decay=group["decoupled_weight_decay"],
                  foreach=group["foreach"], differentiable=group["differentiable"],
                  capturable=group["capturable"], maximize=group["maximize"], beta1=beta1,
                  beta2=beta2, lr=group["lr"], weight_decay=group["weight_decay"],
                  eps=group["eps"])
        return loss

    def _flat_step(self, group: dict) -> list[Tensor]:
        """``foreach=True``: the group's update on flat buffers (``_flat.py``)."""
        return flat_step(
            self, group, _radam_update,
            ("exp_avg", "exp_avg_sq"),
            self._init_state,
            dict(beta1=_float(group["betas"][0]), beta2=_float(group["betas"][1]),
                 lr=_float(group["lr"]), weight_decay=group["weight_decay"], eps=group["eps"],
                 maximize=group["maximize"], decoupled=group["decoupled_weight_decay"]))


def _radam_update(K, p, g, step, m, v, *, beta1, beta2, lr, weight_decay, eps, maximize,
                  decoupled):
    if weight_decay != 0 and decoupled:
        K.mul_(p, 1 - lr * weight_decay)
        weight_decay = 0
    g = direction(K, g, p, weight_decay, maximize)
    K.lerp_(m, g, 1 - beta1)
    K.mul_(v, beta2)
    K.addcmul_(v, g, g, 1 - beta2)
    bias1, bias2 = 1 - beta1 ** step, 1 - beta2 ** step
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * step * (beta2 ** step) / bias2
    if rho_t > 5.0:
        rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                         / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
        denom = K.sqrt(v)
        K.add_(denom, eps)
        # p -= lr * m/bias1 * rect * sqrt(bias2) / (sqrt(v) + eps)
        K.addcdiv_(p, m, denom, -lr / bias1 * rect * math.sqrt(bias2))
    else:
        K.add_(p, m, alpha=-lr / bias1)


def radam(params: list[Tensor], grads: list[Tensor], exp_avgs: list[Tensor],
          exp_avg_sqs: list[Tensor], state_steps: list[Tensor],
          decoupled_weight_decay: bool = False, foreach: bool | None = None,
          differentiable: bool = False, capturable: bool = False, has_complex: bool = False,
          maximize: bool = False, *, beta1: float, beta2: float, lr: float,
          weight_decay: float, eps: float) -> None:
    """Functional RAdam: update ``params`` and the moments in place."""
    check_capturable(capturable)
    check_foreach(foreach, differentiable)
    run_kernel(_radam_update, params, grads, (exp_avgs, exp_avg_sqs), state_steps, differentiable,
               foreach=foreach, beta1=_float(beta1), beta2=_float(beta2), lr=_float(lr),
               weight_decay=weight_decay, eps=eps, maximize=maximize,
               decoupled=decoupled_weight_decay)
