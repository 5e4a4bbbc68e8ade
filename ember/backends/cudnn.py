"""``ember.backends.cudnn``: cuDNN switches of a CPU-only build (recorded, never used).
Set them as module attributes: ``ember.backends.cudnn.benchmark = True``."""

from __future__ import annotations

enabled: bool = True
benchmark: bool = False
benchmark_limit: int = 10
deterministic: bool = False
allow_tf32: bool = True


def is_available() -> bool:
    """Whether cuDNN can be used: no."""
    return False


def version() -> None:
    """The cuDNN version: None (not built with cuDNN)."""
    return None


def is_acceptable(tensor) -> bool:
    return False
