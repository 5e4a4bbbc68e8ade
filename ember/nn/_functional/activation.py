"""The activations of ``ember.nn.functional``: re-exported from ``ember/_ops/activation.py``
(one implementation, shared with ``ember.relu``, ``Tensor.softmax`` and friends), plus
``gumbel_softmax``, which is built from them."""

from __future__ import annotations

import warnings

from ..._ops import activation as _act
from ..._tensor import Tensor

__all__ = [name for name in getattr(_act, "FUNCTIONAL", ()) if hasattr(_act, name)]
globals().update({name: getattr(_act, name) for name in __all__})
__all__.append("gumbel_softmax")


def gumbel_softmax(logits: Tensor, tau: float = 1, hard: bool = False, eps: float = 1e-10,
                   dim: int = -1) -> Tensor:
    """A sample from the Gumbel-softmax (concrete) distribution over ``dim``: softmax of
    ``(logits + g) / tau`` with Gumbel noise ``g = -log(Exp(1))``. With ``hard=True`` the
    result is one-hot in value but differentiates like the soft sample (straight-through)."""
    if eps != 1e-10:
        warnings.warn("`eps` parameter is deprecated and has no effect.", stacklevel=2)
    # A contiguous buffer, so the draws land in torch's order for any input layout.
    noise = -logits.new_empty(logits.shape).exponential_().log()
    y_soft = ((logits + noise) / tau).softmax(dim)
    if not hard:
        return y_soft
    index = y_soft.max(dim, keepdim=True)[1]
    y_hard = logits.new_zeros(logits.shape).scatter_(dim, index, 1.0)
    return y_hard - y_soft.detach() + y_soft
