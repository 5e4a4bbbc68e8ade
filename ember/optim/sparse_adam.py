"""``SparseAdam``: lazy Adam, updating only the rows a gradient touches.

ember has no sparse tensor layout: ``nn.Embedding(sparse=True)`` yields dense gradients,
whose untouched rows are zero. SparseAdam therefore takes dense gradients and treats the rows
(indices along the first dimension; the elements of a 1-d parameter) with any nonzero entry
as the gradient's sparse indices, which is the set PyTorch's sparse embedding gradient holds
unless a looked-up row's gradient is exactly zero.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

from .._backend import xp
from .._tensor import Tensor
from .optimizer import Optimizer, _float, check_betas, check_lr, column, zeros_state

__all__ = ["SparseAdam", "sparse_adam"]


class SparseAdam(Optimizer):
    """Adam whose moments and parameters change only where the gradient is present
    (``m``, ``v`` and ``p`` elsewhere keep their values); ``step`` is a plain int."""

    def __init__(self, params: Iterable, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 maximize: bool = False) -> None:
        check_lr(lr)
        if not 0.0 < lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 < eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        check_betas(betas)
        defaults = dict(lr=lr, betas=betas, eps=eps, maximize=maximize)
        super().__init__(params, defaults)
        complex_params = [[i, j] for i, group in enumerate(self.param_groups)
                          for j, p in enumerate(group["params"]) if p.is_complex()]
        if complex_params:
            raise ValueError(f"Complex params at indices {complex_params}: SparseAdam does not "
                             "support complex parameters")

    @staticmethod
    def _init_state(p: Tensor, state: dict, group: dict) -> None:
        state["step"] = 0
        state["exp_avg"] = zeros_state(p)
        state["exp_avg_sq"] = zeros_state(p)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one optimization step (``closure`` re-evaluates the loss)."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            params, grads, states = self._gather(group, self._init_state)
            for state in states:
                state["step"] += 1
            beta1, beta2 = group["betas"]
            sparse_adam(params, grads, column(states, "exp_avg"), column(states, "exp_avg_sq"),
                        column(states, "step"), eps=group["eps"], beta1=beta1, beta2=beta2,
                        lr=group["lr"], maximize=group["maximize"])
        return loss


def _present(g):
    """The gradient's 'sparse indices': rows (first-dimension indices) holding a nonzero."""
    if g.ndim == 0:
        return () if g != 0 else None
    rows = xp.flatnonzero(g.reshape(g.shape[0], -1).any(axis=1))
    return rows if rows.size else None


def sparse_adam(params: list[Tensor], grads: list[Tensor], exp_avgs: list[Tensor],
                exp_avg_sqs: list[Tensor], state_steps: list[int], *, eps: float, beta1: float,
                beta2: float, lr: float, maximize: bool) -> None:
    """Functional SparseAdam: update the present rows of ``params`` and their moments."""
    lr = _float(lr)
    for i, param in enumerate(params):
        g = grads[i]._data
        idx = _present(g)
        if idx is None:
            continue
        g = -g[idx] if maximize else g[idx]
        m, v, p = exp_avgs[i]._data, exp_avg_sqs[i]._data, param._data
        m_old, v_old = m[idx], v[idx]
        m_new = m_old + (g - m_old) * (1 - beta1)
        v_new = v_old + (g * g - v_old) * (1 - beta2)
        m[idx], v[idx] = m_new, v_new
        step = state_steps[i]
        step_size = lr * math.sqrt(1 - beta2 ** step) / (1 - beta1 ** step)
        denom = xp.sqrt(v_new)
        denom += eps
        p[idx] += (m_new / denom) * -step_size
        param._bump_version()
