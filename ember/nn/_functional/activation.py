"""The activations of ``ember.nn.functional``: re-exported from ``ember/_ops/activation.py``
(one implementation, shared with ``ember.relu``, ``Tensor.softmax`` and friends)."""

from ..._ops import activation as _act

__all__ = [name for name in getattr(_act, "FUNCTIONAL", ()) if hasattr(_act, name)]
globals().update({name: getattr(_act, name) for name in __all__})
