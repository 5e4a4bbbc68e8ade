"""``RMSprop``: gradient steps scaled by a running root-mean-square of the gradients."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .._tensor import Tensor
from ._flat import capturable_error, flat_step, use_flat
from ._kernel import check_capturable, check_foreach, direction, run_kernel
from .optimizer import Optimizer, _float, check_lr, check_nonneg, column, step_tensor, zeros_state

__all__ = ["RMSprop", "rmsprop"]


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

    @staticmethod
    def _init_state(p: Tensor, state: dict, group: dict) -> None:
        state["step"] = step_tensor()
        state["square_avg"] = zeros_state(p)
        if group["momentum"] > 0:
            state["momentum_buffer"] = zeros_state(p)
        if group["centered"]:
            state["grad_avg"] = zeros_state(p)

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
            rmsprop(params, grads, column(states, "square_avg"),
                    column(states, "grad_avg") if group["centered"] else [],
                    column(states, "momentum_buffer") if group["momentum"] > 0 else [],
                    column(states, "step"), foreach=group["foreach"],
                    maximize=group["maximize"], differentiable=group["differentiable"],
                    capturable=group["capturable"], lr=group["lr"], alpha=group["alpha"],
                    eps=group["eps"], weight_decay=group["weight_decay"],
                    momentum=group["momentum"], centered=group["centered"])
        return loss

    def _flat_step(self, group: dict) -> list[Tensor]:
        """``foreach=True``: the group's update on flat buffers (``_flat.py``)."""
        if group["capturable"]:
            raise capturable_error(devices=["cuda", "xpu", "hpu", "privateuseone", "xla"])
        return flat_step(
            self, group, _rmsprop_update,
            ("square_avg", "grad_avg" if group["centered"] else None,
             "momentum_buffer" if group["momentum"] > 0 else None),
            self._init_state,
            dict(lr=_float(group["lr"]), alpha=group["alpha"], eps=group["eps"],
                 weight_decay=group["weight_decay"], momentum=group["momentum"],
                 centered=group["centered"], maximize=group["maximize"]))


def _rmsprop_update(K, p, g, step, v, a, buf, *, lr, alpha, eps, weight_decay, momentum,
                    centered, maximize):
    g = direction(K, g, p, weight_decay, maximize)
    K.mul_(v, alpha)
    K.addcmul_(v, g, g, 1 - alpha)
    if centered:
        K.lerp_(a, g, 1 - alpha)
        avg = K.clone(v)
        K.addcmul_(avg, a, a, -1)
        avg = K.sqrt(avg)
    else:
        avg = K.sqrt(v)
    K.add_(avg, eps)
    if momentum > 0:
        K.mul_(buf, momentum)
        K.addcdiv_(buf, g, avg)
        K.add_(p, buf, alpha=-lr)
    else:
        K.addcdiv_(p, g, avg, -lr)


def rmsprop(params: list[Tensor], grads: list[Tensor], square_avgs: list[Tensor],
            grad_avgs: list[Tensor], momentum_buffer_list: list[Tensor],
            state_steps: list[Tensor], foreach: bool | None = None, maximize: bool = False,
            differentiable: bool = False, capturable: bool = False, has_complex: bool = False,
            *, lr: float, alpha: float, eps: float, weight_decay: float, momentum: float,
            centered: bool) -> None:
    """Functional RMSprop: update ``params`` and the running averages in place."""
    check_capturable(capturable)
    check_foreach(foreach, differentiable)
    run_kernel(_rmsprop_update, params, grads, (square_avgs, grad_avgs, momentum_buffer_list),
               state_steps, differentiable, foreach=foreach, lr=_float(lr), alpha=alpha, eps=eps,
               weight_decay=weight_decay, momentum=momentum, centered=centered, maximize=maximize)
