"""``Adam``: adaptive moment estimation, with AMSGrad and decoupled weight decay options."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

from .._backend import xp
from .._tensor import Tensor
from ._flat import flat_step, use_flat
from ._kernel import (
    check_capturable,
    check_foreach,
    check_fused_flags,
    direction,
    rdiv32,
    run_kernel,
    unscale_grads,
)
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

__all__ = ["Adam", "adam"]


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
        if isinstance(lr, Tensor) and foreach and not capturable:
            raise ValueError("lr as a Tensor is not supported for capturable=False and "
                             "foreach=True")
        check_lr(lr)
        check_nonneg("epsilon value", eps)
        check_betas(betas)
        check_nonneg("weight_decay value", weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, foreach=foreach, capturable=capturable,
                        differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)
        check_fused_flags(fused, foreach, differentiable)

    @staticmethod
    def _init_state(p: Tensor, state: dict, group: dict) -> None:
        state["step"] = step_tensor()
        state["exp_avg"] = zeros_state(p)
        state["exp_avg_sq"] = zeros_state(p)
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = zeros_state(p)

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
            adam(params, grads, column(states, "exp_avg"), column(states, "exp_avg_sq"),
                 column(states, "max_exp_avg_sq") if group["amsgrad"] else [],
                 column(states, "step"), foreach=group["foreach"],
                 capturable=group["capturable"], differentiable=group["differentiable"],
                 fused=group["fused"], grad_scale=getattr(self, "grad_scale", None),
                 found_inf=getattr(self, "found_inf", None),
                 decoupled_weight_decay=group["decoupled_weight_decay"],
                 amsgrad=group["amsgrad"], beta1=beta1, beta2=beta2, lr=group["lr"],
                 weight_decay=group["weight_decay"], eps=group["eps"],
                 maximize=group["maximize"])
        return loss


    def _flat_step(self, group: dict[str, Any]) -> list[Tensor]:
        """``foreach``/``fused``: the group's update on flat buffers (``_flat.py``)."""
        fused = bool(group["fused"])
        beta1, beta2 = group["betas"]
        amsgrad = group["amsgrad"]
        return flat_step(self, group, _adam_update,
                         ("exp_avg", "exp_avg_sq", "max_exp_avg_sq" if amsgrad else None),
                         self._init_state, dict(
                             amsgrad=amsgrad, beta1=_float(beta1), beta2=_float(beta2),
                             lr=_float(group["lr"]), weight_decay=group["weight_decay"],
                             eps=group["eps"], maximize=group["maximize"],
                             decoupled=group["decoupled_weight_decay"]), fused=fused,
                         scaled=True)


def _adam_update(K, p, g, step, m, v, vmax, *, amsgrad, beta1, beta2, lr, weight_decay, eps,
                 maximize, decoupled):
    if weight_decay != 0 and decoupled:
        K.mul_(p, 1 - lr * weight_decay)
        weight_decay = 0
    g = direction(K, g, p, weight_decay, maximize)
    K.lerp_(m, g, 1 - beta1)
    K.mul_(v, beta2)
    K.addcmul_(v, g, g, 1 - beta2)
    if amsgrad:
        K.maximum_(vmax, v)
        v = vmax
    denom = K.sqrt(v)
    if K.differentiable:
        # PyTorch's recorded path computes the bias corrections from its float32 step
        # tensor, so they are rounded to float32: mirrored for the same values
        f32 = xp.float32
        step_size_neg = -rdiv32(lr, f32(1) - f32(beta1) ** f32(step))
        bias2_sqrt = xp.sqrt(f32(1) - f32(beta2) ** f32(step))
        K.div_(denom, float(bias2_sqrt * step_size_neg))
        K.add_(denom, float(rdiv32(eps, step_size_neg)))
        K.addcdiv_(p, m, denom)
        return
    K.div_(denom, math.sqrt(1 - beta2 ** step))
    K.add_(denom, eps)
    K.addcdiv_(p, m, denom, -lr / (1 - beta1 ** step))


def adam(params: list[Tensor], grads: list[Tensor], exp_avgs: list[Tensor],
         exp_avg_sqs: list[Tensor], max_exp_avg_sqs: list[Tensor], state_steps: list[Tensor],
         foreach: bool | None = None, capturable: bool = False, differentiable: bool = False,
         fused: bool | None = None, grad_scale: Tensor | None = None,
         found_inf: Tensor | None = None, has_complex: bool = False,
         decoupled_weight_decay: bool = False, *, amsgrad: bool, beta1: float, beta2: float,
         lr: float, weight_decay: float, eps: float, maximize: bool) -> None:
    """Functional Adam: update ``params`` and the moment lists in place (``state_steps`` are
    incremented)."""
    if not fused:                       # (PyTorch's fused kernels accept capturable on CPU)
        check_capturable(capturable)
    check_foreach(foreach, differentiable)
    grads = unscale_grads(grads, grad_scale, found_inf)
    if grads is None:
        return
    run_kernel(_adam_update, params, grads, (exp_avgs, exp_avg_sqs, max_exp_avg_sqs), state_steps,
               differentiable, foreach=foreach, amsgrad=amsgrad, beta1=_float(beta1),
               beta2=_float(beta2), lr=_float(lr), weight_decay=weight_decay, eps=eps,
               maximize=maximize, decoupled=decoupled_weight_decay)
