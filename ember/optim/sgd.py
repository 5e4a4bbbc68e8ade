"""``SGD``: stochastic gradient descent with optional momentum, Nesterov and weight decay."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .._tensor import Tensor, _make
from ._flat import flat_step, use_flat
from ._kernel import check_fused_flags, direction, primitives, run_kernel, unscale_grads
from .optimizer import Optimizer, _float, check_lr, check_nonneg

__all__ = ["SGD", "sgd"]


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
        check_fused_flags(fused, foreach, differentiable)

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("nesterov", False)
            group.setdefault("maximize", False)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one optimization step (``closure`` re-evaluates the loss)."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            momentum = group["momentum"]
            subset = None
            if use_flat(group):
                # (a parameter's first momentum step, which makes its buffer, stays a loop)
                subset = flat_step(self, group, _sgd_update,
                                   ("momentum_buffer" if momentum != 0 else None,), None,
                                   dict(weight_decay=group["weight_decay"], momentum=momentum,
                                        lr=_float(group["lr"]), dampening=group["dampening"],
                                        nesterov=group["nesterov"],
                                        maximize=group["maximize"]),
                                   scalars=(), fused=bool(group["fused"]), scaled=True)
                if not subset:
                    continue
            # the momentum buffer is made by the kernel on the first step
            params, grads, states = self._gather(group, _no_state if momentum != 0 else None,
                                                 subset)
            bufs = [s.get("momentum_buffer") for s in states] if momentum != 0 else []
            sgd(params, grads, bufs, foreach=group["foreach"], fused=group["fused"],
                grad_scale=getattr(self, "grad_scale", None),
                found_inf=getattr(self, "found_inf", None),
                weight_decay=group["weight_decay"], momentum=momentum, lr=group["lr"],
                dampening=group["dampening"], nesterov=group["nesterov"],
                maximize=group["maximize"], differentiable=group["differentiable"])
            if momentum != 0:
                for state, buf in zip(states, bufs):
                    state["momentum_buffer"] = buf
        return loss


def _no_state(p: Tensor, state: dict, group: dict) -> None:
    """SGD's state starts empty."""


def _sgd_update(K, p, g, step, buf, *, weight_decay, momentum, lr, dampening, nesterov,
                maximize):
    d = direction(K, g, p, weight_decay, maximize)
    if momentum != 0:
        K.mul_(buf, momentum)
        K.add_(buf, d, alpha=1 - dampening)
        d = K.add(d, buf, alpha=momentum) if nesterov else buf
    K.add_(p, d, alpha=-lr)


def sgd(params: list[Tensor], d_p_list: list[Tensor],
        momentum_buffer_list: list[Tensor | None], has_sparse_grad: bool = False,
        foreach: bool | None = None, fused: bool | None = None,
        grad_scale: Tensor | None = None, found_inf: Tensor | None = None, *,
        weight_decay: float, momentum: float, lr: float, dampening: float, nesterov: bool,
        maximize: bool, differentiable: bool = False) -> None:
    """Functional SGD: update ``params`` in place; ``momentum_buffer_list`` entries that are
    ``None`` are replaced by the new buffers."""
    d_p_list = unscale_grads(d_p_list, grad_scale, found_inf)
    if d_p_list is None:
        return
    lr = _float(lr)
    hyper = dict(weight_decay=weight_decay, momentum=momentum, lr=lr, dampening=dampening,
                 nesterov=nesterov, maximize=maximize)
    rest = range(len(params))
    if momentum != 0:
        fresh = [i for i, buf in enumerate(momentum_buffer_list) if buf is None]
        if fresh:
            _first_momentum_step(params, d_p_list, momentum_buffer_list, fresh,
                                 differentiable, **hyper)
            done = set(fresh)
            rest = [i for i in rest if i not in done]
    run_kernel(_sgd_update, [params[i] for i in rest], [d_p_list[i] for i in rest],
               ([momentum_buffer_list[i] for i in rest] if momentum != 0 else [],), None,
               differentiable, foreach=foreach, **hyper)


def _first_momentum_step(params, grads, bufs, indices, differentiable, *, weight_decay,
                         momentum, lr, dampening, nesterov, maximize) -> None:
    """A parameter's first step with momentum: its buffer starts as the direction itself."""
    K = primitives(differentiable)
    for i in indices:
        p, g = K.unwrap(params[i]), K.unwrap(grads[i])
        d = direction(K, g, p, weight_decay, maximize)
        buf = K.clone(d)
        if differentiable:
            buf = buf.detach()                  # the buffer starts outside the graph
        bufs[i] = buf if differentiable else _make(buf)
        K.add_(p, K.add(d, buf, alpha=momentum) if nesterov else buf, alpha=-lr)
        K.release()
        if not differentiable:
            params[i]._bump_version()
