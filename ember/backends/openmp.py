"""``ember.backends.openmp``: whether CPU threading is available."""

from __future__ import annotations


def is_available() -> bool:
    return True
