"""``NAdam``: Adam with Nesterov momentum (Dozat), with a momentum-decay schedule."""

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

__all__ = ["NAdam"]


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

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one optimization step (``closure`` re-evaluates the loss)."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr, (beta1, beta2), eps = _float(group["lr"]), group["betas"], group["eps"]
            wd, decay = group["weight_decay"], group["momentum_decay"]
            decoupled = group["decoupled_weight_decay"]
            for p in group["params"]:
                if p._grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = step_tensor()
                    state["mu_product"] = step_tensor(1.0)
                    state["exp_avg"] = zeros_state(p)
                    state["exp_avg_sq"] = zeros_state(p)
                state["step"]._data += 1
                step = float(state["step"]._data)
                bias2 = 1 - beta2 ** step
                pd = p._data
                if wd != 0 and decoupled:
                    pd *= 1 - lr * wd
                d = direction(p._grad._data, pd, 0 if decoupled else wd, group["maximize"])
                mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * decay))
                mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * decay))
                prod_t = state["mu_product"]._data
                prod_t *= mu                              # kept in float32, as PyTorch does
                prod = float(prod_t)
                m, v = state["exp_avg"]._data, state["exp_avg_sq"]._data
                tmp = xp.subtract(d, m, out=xp.empty_like(pd))
                tmp *= 1 - beta1
                m += tmp                                  # m.lerp_(d, 1 - beta1)
                v *= beta2
                v += xp.multiply(xp.multiply(d, 1 - beta2, out=tmp), d, out=tmp)
                denom = xp.divide(v, bias2, out=xp.empty_like(pd))
                xp.sqrt(denom, out=denom)
                denom += eps
                pd += xp.divide(xp.multiply(d, -lr * (1.0 - mu) / (1.0 - prod), out=tmp), denom,
                                out=tmp)
                pd += xp.divide(xp.multiply(m, (-lr * mu_next) / (1.0 - prod * mu_next),
                                            out=tmp), denom, out=tmp)
                p._bump_version()
        return loss
