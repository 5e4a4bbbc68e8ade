"""``Adagrad``: per-coordinate steps scaled by the accumulated squared gradients."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .._backend import xp
from .._tensor import Tensor, _make
from ._flat import flat_step, use_flat
from ._kernel import check_foreach, check_fused_flags, direction, run_kernel, unscale_grads
from .optimizer import Optimizer, _float, check_lr, check_nonneg, column, step_tensor

__all__ = ["Adagrad", "adagrad"]


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
        check_fused_flags(fused, foreach, differentiable)
        # PyTorch creates Adagrad's state for every parameter up front
        for group in self.param_groups:
            for p in group["params"]:
                state = self.state[p]
                if not state:
                    self._init_state(p, state, group)

    @staticmethod
    def _init_state(p: Tensor, state: dict, group: dict) -> None:
        state["step"] = step_tensor()
        state["sum"] = _make(xp.full_like(p._data, group["initial_accumulator_value"]))

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one optimization step (``closure`` re-evaluates the loss)."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            subset = None
            if use_flat(group):
                subset = flat_step(self, group, _adagrad_update, ("sum",), self._init_state,
                                   dict(lr=_float(group["lr"]),
                                        weight_decay=group["weight_decay"],
                                        lr_decay=group["lr_decay"], eps=group["eps"],
                                        maximize=group["maximize"]),
                                   fused=bool(group["fused"]), scaled=True)
                if not subset:
                    continue
            params, grads, states = self._gather(group, self._init_state, subset)
            adagrad(params, grads, column(states, "sum"), column(states, "step"),
                    fused=group["fused"], grad_scale=getattr(self, "grad_scale", None),
                    found_inf=getattr(self, "found_inf", None), foreach=group["foreach"],
                    differentiable=group["differentiable"], lr=group["lr"],
                    weight_decay=group["weight_decay"], lr_decay=group["lr_decay"],
                    eps=group["eps"], maximize=group["maximize"])
        return loss


def _adagrad_update(K, p, g, step, s, *, lr, weight_decay, lr_decay, eps, maximize):
    g = direction(K, g, p, weight_decay, maximize)
    clr = lr / (1 + (step - 1) * lr_decay)
    K.addcmul_(s, g, g)
    std = K.sqrt(s)
    K.add_(std, eps)
    K.addcdiv_(p, g, std, -clr)


def adagrad(params: list[Tensor], grads: list[Tensor], state_sums: list[Tensor],
            state_steps: list[Tensor], fused: bool | None = None,
            grad_scale: Tensor | None = None, found_inf: Tensor | None = None,
            has_sparse_grad: bool = False, foreach: bool | None = None,
            differentiable: bool = False, has_complex: bool = False, *, lr: float,
            weight_decay: float, lr_decay: float, eps: float, maximize: bool) -> None:
    """Functional Adagrad: update ``params`` and the squared-gradient sums in place."""
    check_foreach(foreach, differentiable)
    grads = unscale_grads(grads, grad_scale, found_inf)
    if grads is None:
        return
    run_kernel(_adagrad_update, params, grads, (state_sums,), state_steps, differentiable,
               foreach=foreach, lr=_float(lr), weight_decay=weight_decay, lr_decay=lr_decay,
               eps=eps, maximize=maximize)
