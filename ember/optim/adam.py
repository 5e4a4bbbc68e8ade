"""``Adam``: adaptive moment estimation, with AMSGrad and decoupled weight decay options."""

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

__all__ = ["Adam"]


class Adam(Optimizer):
    """Adam (Kingma & Ba). Per step ``t``: ``m = lerp(m, g, 1-beta1)``,
    ``v = beta2*v + (1-beta2)*g*g``, ``p -= lr/(1-beta1**t) * m / (sqrt(v)/sqrt(1-beta2**t)
    + eps)``; AMSGrad uses the running max of ``v``. ``decoupled_weight_decay`` (AdamW)
    scales ``p`` by ``1 - lr*weight_decay`` instead of adding ``weight_decay*p`` to ``g``.
    """

    _scalar_state = ("step",)

    def __init__(self, params: Iterable, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None,
                 decoupled_weight_decay: bool = False) -> None:
        check_lr(lr)
        check_nonneg("epsilon value", eps)
        check_betas(betas)
        check_nonneg("weight_decay value", weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, foreach=foreach, capturable=capturable,
                        differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one optimization step (``closure`` re-evaluates the loss)."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr, (beta1, beta2) = _float(group["lr"]), group["betas"]
            beta1, beta2 = _float(beta1), _float(beta2)
            eps, wd, amsgrad = group["eps"], group["weight_decay"], group["amsgrad"]
            decoupled = group["decoupled_weight_decay"]
            for p in group["params"]:
                if p._grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = step_tensor()
                    state["exp_avg"] = zeros_state(p)
                    state["exp_avg_sq"] = zeros_state(p)
                    if amsgrad:
                        state["max_exp_avg_sq"] = zeros_state(p)
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
                if amsgrad:
                    vmax = state["max_exp_avg_sq"]._data
                    xp.maximum(vmax, v, out=vmax)
                    v = vmax
                denom = xp.sqrt(v, out=tmp)
                denom /= bias2 ** 0.5
                denom += eps
                pd += xp.divide(xp.multiply(m, -lr / bias1), denom, out=denom)
                p._bump_version()
        return loss
