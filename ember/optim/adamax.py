"""``Adamax``: the infinity-norm variant of Adam."""

from __future__ import annotations

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

__all__ = ["Adamax", "adamax"]


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

    @staticmethod
    def _init_state(p: Tensor, state: dict, group: dict) -> None:
        state["step"] = step_tensor()
        state["exp_avg"] = zeros_state(p)
        state["exp_inf"] = zeros_state(p)

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
            adamax(params, grads, column(states, "exp_avg"), column(states, "exp_inf"),
                   column(states, "step"), foreach=group["foreach"],
                   maximize=group["maximize"], differentiable=group["differentiable"],
                   capturable=group["capturable"], eps=group["eps"], beta1=beta1,
                   beta2=beta2, lr=group["lr"], weight_decay=group["weight_decay"])
        return loss

    def _flat_step(self, group: dict) -> list[Tensor]:
        """``foreach=True``: the group's update on flat buffers (``_flat.py``)."""
        return flat_step(
            self, group, _adamax_update,
            ("exp_avg", "exp_inf"),
            self._init_state,
            dict(eps=group["eps"], beta1=_float(group["betas"][0]),
                 beta2=_float(group["betas"][1]), lr=_float(group["lr"]),
                 weight_decay=group["weight_decay"], maximize=group["maximize"]))


def _adamax_update(K, p, g, step, m, u, *, eps, beta1, beta2, lr, weight_decay, maximize):
    g = direction(K, g, p, weight_decay, maximize)
    K.lerp_(m, g, 1 - beta1)
    K.mul_(u, beta2)
    K.maximum_(u, K.add(K.abs(g), eps))
    K.addcdiv_(p, m, u, -lr / (1 - beta1 ** step))


def adamax(params: list[Tensor], grads: list[Tensor], exp_avgs: list[Tensor],
           exp_infs: list[Tensor], state_steps: list[Tensor], foreach: bool | None = None,
           maximize: bool = False, differentiable: bool = False, capturable: bool = False,
           has_complex: bool = False, *, eps: float, beta1: float, beta2: float, lr: float,
           weight_decay: float) -> None:
    """Functional Adamax: update ``params``, the first moments and the infinity norms."""
    check_capturable(capturable)
    check_foreach(foreach, differentiable)
    run_kernel(_adamax_update, params, grads, (exp_avgs, exp_infs), state_steps, differentiable,
               foreach=foreach, eps=eps, beta1=_float(beta1), beta2=_float(beta2), lr=_float(lr),
               weight_decay=weight_decay, maximize=maximize)
