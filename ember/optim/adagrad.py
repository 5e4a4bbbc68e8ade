"""``Adagrad``: per-coordinate steps scaled by the accumulated squared gradients."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .._backend import xp
from .._tensor import _make
from .optimizer import Optimizer, _float, check_lr, check_nonneg, direction, step_tensor

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adagrad (Duchi et al.). ``s += g*g``; ``p -= clr * g / (sqrt(s) + eps)`` with
    ``clr = lr / (1 + (t-1)*lr_decay)`` at step ``t``; ``s`` starts at
    ``initial_accumulator_value``."""

    _scalar_state = ("step",)

    def __init__(self, params: Iterable, lr: float = 1e-2, lr_decay: float = 0,
                 weight_decay: float = 0, initial_accumulator_value: float = 0,
                 eps: float = 1e-10, foreach: bool | None = None, *, maximize: bool = False,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        check_lr(lr)
        check_nonneg("lr_decay value", lr_decay)
        check_nonneg("weight_decay value", weight_decay)
        check_nonneg("initial_accumulator_value value", initial_accumulator_value)
        check_nonneg("epsilon value", eps)
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, group)

    def _init_state(self, p, group: dict) -> dict:
        state = self.state[p]
        if not state:
            state["step"] = step_tensor()
            init = group["initial_accumulator_value"]
            state["sum"] = _make(xp.full_like(p._data, init))
        return state

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one optimization step (``closure`` re-evaluates the loss)."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr, lr_decay, eps = _float(group["lr"]), group["lr_decay"], group["eps"]
            for p in group["params"]:
                if p._grad is None:
                    continue
                state = self._init_state(p, group)
                state["step"]._data += 1
                step = float(state["step"]._data)
                pd = p._data
                d = direction(p._grad._data, pd, group["weight_decay"], group["maximize"])
                clr = lr / (1 + (step - 1) * lr_decay)
                s = state["sum"]._data
                tmp = xp.multiply(d, d, out=xp.empty_like(pd))
                s += tmp
                std = xp.sqrt(s, out=tmp)
                std += eps
                pd += xp.divide(xp.multiply(d, -clr), std, out=std)
                p._bump_version()
        return loss
