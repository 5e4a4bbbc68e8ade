"""``Rprop``: resilient backpropagation, steps sized by the sign history of each gradient."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .._backend import xp
from .._tensor import Tensor, _make
from ._flat import capturable_error, flat_step, use_flat
from ._kernel import check_capturable, check_foreach, run_kernel
from .optimizer import Optimizer, _float, check_lr, column, step_tensor, zeros_state

__all__ = ["Rprop", "rprop"]


class Rprop(Optimizer):
    """Rprop (Riedmiller & Braun). Each coordinate keeps its own step size: multiplied by
    ``etaplus`` while the gradient keeps its sign, by ``etaminus`` when it flips (and that
    coordinate's gradient is then taken as zero), clamped to ``step_sizes``;
    ``p -= sign(g) * step_size``."""

    _scalar_state = ("step",)

    def __init__(self, params: Iterable, lr: float = 1e-2,
                 etas: tuple[float, float] = (0.5, 1.2),
                 step_sizes: tuple[float, float] = (1e-6, 50), *, capturable: bool = False,
                 foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False) -> None:
        check_lr(lr)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        defaults = dict(lr=lr, etas=etas, step_sizes=step_sizes, foreach=foreach,
                        maximize=maximize, differentiable=differentiable,
                        capturable=capturable)
        super().__init__(params, defaults)

    @staticmethod
    def _init_state(p: Tensor, state: dict, group: dict) -> None:
        state["step"] = step_tensor()
        state["prev"] = zeros_state(p)
        lr, g = _float(group["lr"]), p._grad._data
        # a complex number's parts are stepped independently: both start at lr
        state["step_size"] = _make(xp.full_like(g, complex(lr, lr) if g.dtype.kind == "c"
                                                else lr))

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
            etaminus, etaplus = group["etas"]
            step_size_min, step_size_max = group["step_sizes"]
            rprop(params, grads, column(states, "prev"), column(states, "step_size"),
                  column(states, "step"), foreach=group["foreach"],
                  capturable=group["capturable"], maximize=group["maximize"],
                  differentiable=group["differentiable"], step_size_min=step_size_min,
                  step_size_max=step_size_max, etaminus=etaminus, etaplus=etaplus)
        return loss

    def _flat_step(self, group: dict) -> list[Tensor]:
        """``foreach=True``: the group's update on flat buffers (``_flat.py``)."""
        if group["capturable"]:
            raise capturable_error(devices=["cuda", "xpu", "hpu", "privateuseone", "xla"])
        return flat_step(
            self, group, _rprop_update,
            ("prev", "step_size"),
            self._init_state,
            dict(step_size_min=group["step_sizes"][0], step_size_max=group["step_sizes"][1],
                 etaminus=group["etas"][0], etaplus=group["etas"][1],
                 maximize=group["maximize"]))


def _rprop_update(K, p, g, step, prev, step_size, *, step_size_min, step_size_max, etaminus,
                  etaplus, maximize):
    if maximize:
        g = K.neg(g)
    s = K.sign(K.mul(g, K.clone(prev)))
    # the sign's dtype is kept, so the factors are rounded to it as in PyTorch
    factor = K.where(s > 0, etaplus, s)
    factor = K.where(factor < 0, etaminus, factor)
    factor = K.where(factor == 0, 1.0, factor)
    K.mul_(step_size, factor)
    K.clamp_(step_size, step_size_min, step_size_max)
    # where the sign flipped, the gradient counts as zero: no step now, no flip next time
    g = K.where(factor == etaminus, 0.0, g)
    K.addcmul_(p, K.sign(g), step_size, -1)
    K.copy_(prev, g)


def rprop(params: list[Tensor], grads: list[Tensor], prevs: list[Tensor],
          step_sizes: list[Tensor], state_steps: list[Tensor], foreach: bool | None = None,
          capturable: bool = False, maximize: bool = False, differentiable: bool = False,
          has_complex: bool = False, *, step_size_min: float, step_size_max: float,
          etaminus: float, etaplus: float) -> None:
    """Functional Rprop: update ``params``, the previous gradients and the step sizes."""
    check_capturable(capturable)
    check_foreach(foreach, differentiable)
    run_kernel(_rprop_update, params, grads, (prevs, step_sizes), state_steps, differentiable,
               foreach=foreach, step_size_min=step_size_min, step_size_max=step_size_max,
               etaminus=etaminus, etaplus=etaplus, maximize=maximize)
