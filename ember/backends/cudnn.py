"""``ember.backends.cudnn``: cuDNN switches of a CPU-only build (recorded, never used).
Set them as module attributes: ``ember.backends.cudnn.benchmark = True``."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

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


@contextmanager
def flags(enabled: bool = False, benchmark: bool = False, benchmark_limit: int = 10,
          deterministic: bool = False, allow_tf32: bool = True, fp32_precision: str = "none",
          depthwise_kernel: str = "auto") -> Iterator[None]:
    """Set the cuDNN flags inside a ``with`` block, restoring them after."""
    module = sys.modules[__name__]
    names = ("enabled", "benchmark", "benchmark_limit", "deterministic", "allow_tf32")
    saved = {n: getattr(module, n) for n in names}
    for n, v in zip(names, (enabled, benchmark, benchmark_limit, deterministic, allow_tf32)):
        setattr(module, n, v)
    try:
        yield
    finally:
        for n, v in saved.items():
            setattr(module, n, v)
