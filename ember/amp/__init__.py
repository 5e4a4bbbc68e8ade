"""``ember.amp``: automatic mixed precision (``autocast`` regions and ``GradScaler``)."""

from __future__ import annotations

from . import autocast_mode, grad_scaler
from .autocast_mode import (autocast, custom_bwd, custom_fwd, get_autocast_dtype,
                            is_autocast_available, is_autocast_enabled, set_autocast_dtype,
                            set_autocast_enabled)
from .grad_scaler import GradScaler

__all__ = ["GradScaler", "autocast", "autocast_mode", "custom_bwd", "custom_fwd",
           "grad_scaler", "is_autocast_available"]
