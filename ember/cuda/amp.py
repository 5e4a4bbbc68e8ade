"""``ember.cuda.amp``: the deprecated CUDA mixed-precision names.

``custom_fwd``/``custom_bwd`` work (autocast is never active on a CUDA device here, so they
only call the function). ``GradScaler`` and ``autocast`` are placeholders until ember's
``amp`` package provides them; they raise ``NotImplementedError``.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable

__all__ = ["GradScaler", "autocast", "custom_fwd", "custom_bwd"]


class _Pending:
    """A name torch has here whose implementation lands with ``ember.amp``."""

    def __init__(self, *args, **kwargs) -> None:
        raise NotImplementedError(f"ember.cuda.amp.{type(self).__name__} is not implemented "
                                  "yet (it comes with ember.amp)")


class GradScaler(_Pending):
    """Placeholder for ``torch.cuda.amp.GradScaler``."""


class autocast(_Pending):  # noqa: N801 - torch's name
    """Placeholder for ``torch.cuda.amp.autocast``."""


def custom_fwd(fwd: Callable | None = None, *, cast_inputs=None):
    """Decorate a custom ``Function.forward``; ``cast_inputs`` would apply under CUDA
    autocast, which a CPU build never enters, so ``fwd`` runs as written."""
    warnings.warn("`torch.cuda.amp.custom_fwd(args...)` is deprecated. Please use "
                  "`torch.amp.custom_fwd(args..., device_type='cuda')` instead.",
                  FutureWarning, stacklevel=2)
    if fwd is None:
        return functools.partial(_pass_through)
    return _pass_through(fwd)


def custom_bwd(bwd: Callable):
    """Decorate a custom ``Function.backward`` (runs ``bwd`` as written)."""
    warnings.warn("`torch.cuda.amp.custom_bwd(args...)` is deprecated. Please use "
                  "`torch.amp.custom_bwd(args..., device_type='cuda')` instead.",
                  FutureWarning, stacklevel=2)
    return _pass_through(bwd)


def _pass_through(fn: Callable) -> Callable:
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)
    return wrapper
