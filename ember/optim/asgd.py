"""``ASGD``: averaged stochastic gradient descent (Polyak & Juditsky)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .._tensor import Tensor
from ._kernel import check_capturable, check_foreach, direction, run_kernel
from .optimizer import Optimizer, _float, check_lr, check_nonneg, column, step_tensor, zeros_state

__all__ = ["ASGD", "asgd"]


class ASGD(Optimizer):
    """Averaged SGD. Per step ``t``: ``p = p*(1 - lambd*eta) - eta*g``; the average
    ``ax += (p - ax)*mu``; then ``eta = lr / (1 + lambd*lr*t)**alpha`` and
    ``mu = 1 / max(1, t - t0)`` (averaging starts after ``t0`` steps)."""

    _scalar_state = ("step", "eta", "mu")

    def __init__(self, params: Iterable, lr: float = 1e-2, lambd: float = 1e-4,
                 alpha: float = 0.75, t0: float = 1e6, weight_decay: float = 0,
                 foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False, capturable: bool = False) -> None:
        check_lr(lr)
        check_nonneg("weight_decay value", weight_decay)
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                        foreach=foreach, maximize=maximize, differentiable=differentiable,
                        capturable=capturable)
        super().__init__(params, defaults)

    @staticmethod
    def _init_state(p: Tensor, state: dict, group: dict) -> None:
        state["step"] = step_tensor()
        state["eta"] = step_tensor(_float(group["lr"]))
        state["mu"] = step_tensor(1.0)
        state["ax"] = zeros_state(p)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one optimization step (``closure`` re-evaluates the loss)."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            params, grads, states = self._gather(group, self._init_state)
            asgd(params, grads, column(states, "ax"), column(states, "mu"),
                 column(states, "eta"), column(states, "step"), foreach=group["foreach"],
                 maximize=group["maximize"], differentiable=group["differentiable"],
                 capturable=group["capturable"], lambd=group["lambd"], lr=group["lr"],
                 t0=group["t0"], alpha=group["alpha"], weight_decay=group["weight_decay"])
        return loss


def _asgd_update(K, p, g, step, ax, mu, eta, *, lambd, lr, t0, alpha, weight_decay,
                 maximize):
    g = direction(K, g, p, weight_decay, maximize)
    eta_value = float(eta._data)
    K.mul_(p, 1 - lambd * eta_value)
    K.add_(p, g, alpha=-eta_value)
    if float(mu._data) != 1:
        K.add_(ax, K.mul(K.add(p, ax, alpha=-1), float(mu._data)))
    else:
        K.copy_(ax, p)
    # PyTorch builds the new values as default-dtype tensors before copying them in, so
    # they are rounded to float32 even where eta and mu were loaded as float64
    eta._data[...] = _default_dtype_value(lr / ((1 + lambd * lr * step) ** alpha))
    mu._data[...] = _default_dtype_value(1 / max(1, step - t0))


def _default_dtype_value(x: float):
    from .. import tensor

    return tensor(x)._data


def asgd(params: list[Tensor], grads: list[Tensor], axs: list[Tensor], mus: list[Tensor],
         etas: list[Tensor], state_steps: list[Tensor], foreach: bool | None = None,
         maximize: bool = False, differentiable: bool = False, capturable: bool = False,
         has_complex: bool = False, *, lambd: float, lr: float, t0: float, alpha: float,
         weight_decay: float) -> None:
    """Functional ASGD: update ``params``, their averages ``axs`` and ``mus``/``etas``."""
    check_capturable(capturable, "params, mus, etas, and state_steps")
    check_foreach(foreach, differentiable)
    run_kernel(_asgd_update, params, grads, (axs,), state_steps, differentiable,
               extra=(mus, etas), lambd=lambd, lr=_float(lr), t0=t0, alpha=alpha,
               weight_decay=weight_decay, maximize=maximize)
