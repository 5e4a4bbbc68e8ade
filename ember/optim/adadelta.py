"""``Adadelta``: steps whose scale is set by running averages of squared gradients and
squared updates (no hand-tuned learning rate needed)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .._tensor import Tensor
from ._flat import flat_step, use_flat
from ._kernel import check_capturable, check_foreach, direction, run_kernel
from .optimizer import Optimizer, _float, check_lr, check_nonneg, column, step_tensor, zeros_state

__all__ = ["Adadelta", "adadelta"]


class Adadelta(Optimizer):
    """Adadelta (Zeiler). ``v = rho*v + (1-rho)*g*g``;
    ``delta = sqrt(u + eps) / sqrt(v + eps) * g``; ``u = rho*u + (1-rho)*delta**2``;
    ``p -= lr*delta``."""

    _scalar_state = ("step",)

    def __init__(self, params: Iterable, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0, foreach: bool | None = None, *,
                 capturable: bool = False, maximize: bool = False,
                 differentiable: bool = False) -> None:
        check_lr(lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        check_nonneg("epsilon value", eps)
        check_nonneg("weight_decay value", weight_decay)
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        capturable=capturable, foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    @staticmethod
    def _init_state(p: Tensor, state: dict, group: dict) -> None:
        state["step"] = step_tensor()
        state["square_avg"] = zeros_state(p)
        state["acc_delta"] = zeros_state(p)

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
            adadelta(params, grads, column(states, "square_avg"), column(states, "acc_delta"),
                     column(states, "step"), capturable=group["capturable"],
                     foreach=group["foreach"], differentiable=group["differentiable"],
                     lr=group["lr"], rho=group["rho"], eps=group["eps"],
                     weight_decay=group["weight_decay"], maximize=group["maximize"])
        return loss

    def _flat_step(self, group: dict) -> list[Tensor]:
        """``foreach=True``: the group's update on flat buffers (``_flat.py``)."""
        return flat_step(
            self, group, _adadelta_update,
            ("square_avg", "acc_delta"),
            self._init_state,
            dict(lr=_float(group["lr"]), rho=group["rho"], eps=group["eps"],
                 weight_decay=group["weight_decay"], maximize=group["maximize"]))


def _adadelta_update(K, p, g, step, v, u, *, lr, rho, eps, weight_decay, maximize):
    g = direction(K, g, p, weight_decay, maximize)
    K.mul_(v, rho)
    K.addcmul_(v, g, g, 1 - rho)
    std = K.sqrt(K.add(v, eps))
    delta = K.sqrt(K.add(u, eps))
    K.div_(delta, std)
    K.mul_(delta, g)
    K.mul_(u, rho)
    K.addcmul_(u, delta, delta, 1 - rho)
    K.add_(p, delta, alpha=-lr)


def adadelta(params: list[Tensor], grads: list[Tensor], square_avgs: list[Tensor],
             acc_deltas: list[Tensor], state_steps: list[Tensor], capturable: bool = False,
             foreach: bool | None = None, differentiable: bool = False,
             has_complex: bool = False, *, lr: float, rho: float, eps: float,
             weight_decay: float, maximize: bool) -> None:
    """Functional Adadelta: update ``params`` and both running averages in place."""
    check_capturable(capturable, devices=["cuda", "xpu", "hpu", "privateuseone"])
    check_foreach(foreach, differentiable)
    run_kernel(_adadelta_update, params, grads, (square_avgs, acc_deltas), state_steps,
               differentiable, foreach=foreach, lr=_float(lr), rho=rho, eps=eps,
               weight_decay=weight_decay, maximize=maximize)
