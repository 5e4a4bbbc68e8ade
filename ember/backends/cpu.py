"""``ember.backends.cpu``: the CPU backend ember always runs on."""

from __future__ import annotations


def get_cpu_capability() -> str:
    """The vector instruction set PyTorch's kernels would use (NumPy picks its own)."""
    return "DEFAULT"
