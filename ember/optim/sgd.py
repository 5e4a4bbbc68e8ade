"""``SGD``: stochastic gradient descent with optional momentum, Nesterov and weight decay."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .._backend import xp
from .._tensor import _make
from .optimizer import Optimizer, _float, check_lr, check_nonneg, direction

__all__ = ["SGD"]


class SGD(Optimizer):
    """Stochastic gradient descent (PyTorch's formulation of momentum and dampening).

    ``d = g + weight_decay*p``; with momentum ``b = momentum*b + (1-dampening)*d`` (``b = d``
    on the first step) and ``d = b`` (or ``d + momentum*b`` with Nesterov); ``p -= lr*d``.
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, momentum: float = 0,
                 dampening: float = 0, weight_decay: float = 0, nesterov: bool = False, *,
                 maximize: bool = False, foreach: bool | None = None,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        check_lr(lr)
        check_nonneg("momentum value", momentum)
        check_nonneg("weight_decay value", weight_decay)
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize,
                        foreach=foreach, differentiable=differentiable, fused=fused)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("nesterov", False)
            group.setdefault("maximize", False)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one optimization step (``closure`` re-evaluates the loss)."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr, wd = _float(group["lr"]), group["weight_decay"]
            momentum, damp = group["momentum"], group["dampening"]
            nesterov, maximize = group["nesterov"], group["maximize"]
            for p in group["params"]:
                if p._grad is None:
                    continue
                pd, g = p._data, p._grad._data
                d = direction(g, pd, wd, maximize)
                tmp = xp.empty_like(pd)
                if momentum != 0:
                    state = self.state[p]
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        buf = state["momentum_buffer"] = _make(d.copy())
                    else:
                        b = buf._data
                        b *= momentum
                        if damp == 0:
                            b += d
                        else:
                            b += xp.multiply(d, 1 - damp, out=tmp)
                    if nesterov:
                        xp.multiply(buf._data, momentum, out=tmp)
                        tmp += d
                        d = tmp
                    else:
                        d = buf._data
                pd -= xp.multiply(d, lr, out=tmp)
                p._bump_version()
        return loss
