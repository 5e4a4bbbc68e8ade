"""``NAdam``: Adam with Nesterov momentum (Dozat), with a momentum-decay schedule."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .._backend import xp
from .._tensor import Tensor
from ._flat import capturable_error, flat_step, use_flat
from ._kernel import check_capturable, check_foreach, direction, rdiv32, run_kernel
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

__all__ = ["NAdam", "nadam"]


class NAdam(Optimizer):
    """NAdam. ``mu_t = beta1*(1 - 0.5*0.96**(t*momentum_decay))`` and ``mu_product`` their
    running product; with Adam's ``m``, ``v`` and ``denom = sqrt(v/(1-beta2**t)) + eps``:
    ``p -= lr*(1-mu_t)/(1-prod) * g/denom + lr*mu_{t+1}/(1-prod*mu_{t+1}) * m/denom``."""

    _scalar_state = ("step", "mu_product")

    def __init__(self, params: Iterable, lr: float = 2e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False) -> None:
        check_lr(lr)
        check_nonneg("epsilon value", eps)
        check_betas(betas)
        check_nonneg("weight_decay value", weight_decay)
        check_nonneg("momentum_decay value", momentum_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize,
                        foreach=foreach, capturable=capturable, differentiable=differentiable)
        super().__init__(params, defaults)

    @staticmethod
    def _init_state(p: Tensor, state: dict, group: dict) -> None:
        state["step"] = step_tensor()
        state["mu_product"] = step_tensor(1.0)
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
            nadam(params, grads, column(states, "exp_avg"), column(states, "exp_avg_sq"),
                  column(states, "mu_product"), column(states, "step"),
                  decoupled_weight_decay=group["decoupled_weight_decay"],
                  foreach=group["foreach"], capturable=group["capturable"],
                  differentiable=group["differentiable"], maximize=group["maximize"],
                  beta1=beta1, beta2=beta2, lr=group["lr"],
                  weight_decay=group["weight_decay"], momentum_decay=group["momentum_decay"],
                  eps=group["eps"])
        return loss

    def _flat_step(self, group: dict) -> list[Tensor]:
        """``foreach=True``: the group's update on flat buffers (``_flat.py``)."""
        if group["capturable"]:
            raise capturable_error("params, mu_products, and state_steps")
        return flat_step(
            self, group, _nadam_update,
            ("exp_avg", "exp_avg_sq"),
            self._init_state,
            dict(beta1=_float(group["betas"][0]), beta2=_float(group["betas"][1]),
                 lr=_float(group["lr"]), weight_decay=group["weight_decay"],
                 momentum_decay=group["momentum_decay"], eps=group["eps"],
                 maximize=group["maximize"], decoupled=group["decoupled_weight_decay"]),
            extra=("mu_product",))


def _nadam_update(K, p, g, step, m, v, mu_product, *, beta1, beta2, lr, weight_decay,
                  momentum_decay, eps, maximize, decoupled):
    if weight_decay != 0 and decoupled:
        K.mul_(p, 1 - lr * weight_decay)
        weight_decay = 0
    g = direction(K, g, p, weight_decay, maximize)
    mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * momentum_decay))
    mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * momentum_decay))
    prod_t = mu_product._data
    prod_t *= mu                                      # kept in float32, as PyTorch does
    prod = float(prod_t)
    K.lerp_(m, g, 1 - beta1)
    K.mul_(v, beta2)
    K.addcmul_(v, g, g, 1 - beta2)
    denom = K.sqrt(K.div(v, 1 - beta2 ** step))
    K.add_(denom, eps)
    if K.differentiable:
        # PyTorch's recorded path divides by its float32 mu_product tensor, so both
        # coefficients are rounded to float32: mirrored for the same values
        f32, prod32 = xp.float32, mu_product._data
        c_grad = rdiv32(-lr * (1.0 - mu), f32(1.0) - prod32)
        c_avg = rdiv32(-lr * mu_next, f32(1.0) - prod32 * f32(mu_next))
        K.addcdiv_(p, K.mul(g, float(c_grad)), denom)
        K.addcdiv_(p, K.mul(m, float(c_avg)), denom)
        return
    K.addcdiv_(p, g, denom, -lr * (1.0 - mu) / (1.0 - prod))
    K.addcdiv_(p, m, denom, (-lr * mu_next) / (1.0 - prod * mu_next))


def nadam(params: list[Tensor], grads: list[Tensor], exp_avgs: list[Tensor],
          exp_avg_sqs: list[Tensor], mu_products: list[Tensor], state_steps: list[Tensor],
          decoupled_weight_decay: bool = False, foreach: bool | None = None,
          capturable: bool = False, differentiable: bool = False, has_complex: bool = False,
          maximize: bool = False, *, beta1: float, beta2: float, lr: float,
          weight_decay: float, momentum_decay: float, eps: float) -> None:
    """Functional NAdam: update ``params``, the moments and the ``mu_products`` in place."""
    check_capturable(capturable, "params, mu_products and state_steps")
    check_foreach(foreach, differentiable)
    run_kernel(_nadam_update, params, grads, (exp_avgs, exp_avg_sqs), state_steps,
               differentiable, extra=(mu_products,), beta1=_float(beta1), beta2=_float(beta2),
               lr=_float(lr), weight_decay=weight_decay, momentum_decay=momentum_decay,
               eps=eps, maximize=maximize, decoupled=decoupled_weight_decay)


