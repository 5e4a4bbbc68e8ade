"""``ember.backends.mkldnn``: the oneDNN switch (recorded; NumPy's BLAS does the work)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

enabled: bool = True


def is_available() -> bool:
    return True


@contextmanager
def flags(enabled: bool = False, deterministic: bool = False, allow_tf32: bool = True,
          fp32_precision: str = "none") -> Iterator[None]:
    """Set ``enabled`` inside a ``with`` block, restoring it after."""
    module = sys.modules[__name__]
    saved = module.enabled
    module.enabled = enabled
    try:
        yield
    finally:
        module.enabled = saved
