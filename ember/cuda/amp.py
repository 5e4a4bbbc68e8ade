"""``ember.cuda.amp``: the deprecated CUDA mixed-precision names, as a CPU-only build has
them.

Without a CUDA device PyTorch disables them: ``autocast()`` warns and changes nothing, and an
enabled ``GradScaler()`` warns and turns itself off (``scale`` returns its input, ``step``
just calls ``optimizer.step()``, the scale reads 1.0). ember does the same, so AMP training
scripts run unchanged in float32. ``custom_fwd``/``custom_bwd`` call the function as written.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any

__all__ = ["GradScaler", "autocast", "custom_fwd", "custom_bwd"]


class autocast:  # noqa: N801 - torch's name
    """Mixed precision for CUDA ops inside the block: disabled without CUDA (a no-op
    context manager and decorator)."""

    def __init__(self, enabled: bool = True, dtype=None, cache_enabled: bool = True) -> None:
        warnings.warn("`torch.cuda.amp.autocast(args...)` is deprecated. Please use "
                      "`torch.amp.autocast('cuda', args...)` instead.", FutureWarning,
                      stacklevel=2)
        if enabled:
            warnings.warn("CUDA is not available or torch_xla is imported. Disabling "
                          "autocast.", UserWarning, stacklevel=2)
        self.fast_dtype = dtype
        self._enabled = False

    def __enter__(self) -> autocast:
        return self

    def __exit__(self, *exc) -> bool:
        return False

    def __call__(self, func: Callable) -> Callable:
        @functools.wraps(func)
        def run(*args, **kwargs):
            with self:
                return func(*args, **kwargs)
        return run


class GradScaler:
    """Loss scaling for float16 training: disabled without CUDA, so it passes values and
    optimizer steps through unchanged."""

    def __init__(self, init_scale: float = 2.0 ** 16, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000,
                 enabled: bool = True) -> None:
        warnings.warn("`torch.cuda.amp.GradScaler(args...)` is deprecated. Please use "
                      "`torch.amp.GradScaler('cuda', args...)` instead.", FutureWarning,
                      stacklevel=2)
        if enabled:
            warnings.warn("torch.cuda.amp.GradScaler is enabled, but CUDA is not available.  "
                          "Disabling.", UserWarning, stacklevel=2)
        self._device = "cuda"
        self._enabled = False

    def is_enabled(self) -> bool:
        return self._enabled

    def scale(self, outputs: Any) -> Any:
        """Returns ``outputs`` unchanged (no scaling while disabled)."""
        return outputs

    def unscale_(self, optimizer) -> None:
        return None

    def step(self, optimizer, *args, **kwargs):
        """``optimizer.step(*args, **kwargs)``."""
        return optimizer.step(*args, **kwargs)

    def update(self, new_scale=None) -> None:
        return None

    def get_scale(self) -> float:
        return 1.0

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state_dict: dict) -> None:
        return None


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
