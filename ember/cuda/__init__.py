"""``ember.cuda``: the CUDA namespace of a CPU-only build.

ember computes on the CPU with NumPy, so it behaves as PyTorch's CPU-only wheel does: the
queries that need no device answer "none" (``is_available()`` is False, memory counters are
0, seeding is a no-op) and the calls that need one raise the errors that build raises
("Torch not compiled with CUDA enabled" and friends). Scripts guarded by
``ember.cuda.is_available()`` then take their CPU path unchanged.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from typing import Any

from . import amp

__all__ = ["is_available", "is_initialized", "init", "device_count", "current_device",
           "set_device", "get_device_name", "get_device_capability", "get_device_properties",
           "synchronize", "empty_cache", "ipc_collect", "mem_get_info", "memory_allocated",
           "max_memory_allocated", "memory_reserved", "max_memory_reserved", "memory_stats",
           "memory_summary", "reset_peak_memory_stats", "reset_max_memory_allocated",
           "manual_seed", "manual_seed_all", "seed", "seed_all", "initial_seed",
           "get_rng_state", "set_rng_state", "get_rng_state_all", "set_rng_state_all",
           "is_bf16_supported", "is_tf32_supported", "get_arch_list", "device", "stream",
           "current_stream", "default_stream", "Event", "Stream", "OutOfMemoryError", "amp"]

_NOT_COMPILED = "Torch not compiled with CUDA enabled"


def _not_compiled(*args, **kwargs):
    raise AssertionError(_NOT_COMPILED)


def _no_op(*args, **kwargs) -> None:
    return None


def _zero(device: Any = None) -> int:
    return 0


def _missing_binding(name: str):
    # PyTorch's CPU wheel reaches for a binding its C extension lacks; keep its error.
    raise AttributeError(f"module 'torch._C' has no attribute '{name}'")


class OutOfMemoryError(RuntimeError):
    """Raised when the device runs out of memory (never, on a CPU build)."""


def is_available() -> bool:
    """Whether a CUDA device can be used: always False in ember."""
    return False


def is_initialized() -> bool:
    return False


def device_count() -> int:
    """The number of CUDA devices: 0."""
    return 0


def is_bf16_supported(including_emulation: bool = True) -> bool:
    return False


def is_tf32_supported() -> bool:
    return False


def get_arch_list() -> list:
    return []


init = _not_compiled
current_device = _not_compiled
get_device_capability = _not_compiled
get_device_properties = _not_compiled
mem_get_info = _not_compiled
synchronize = _not_compiled
ipc_collect = _not_compiled
current_stream = _not_compiled
default_stream = _not_compiled
initial_seed = _not_compiled
get_rng_state = _not_compiled


def get_device_name(device: Any = None) -> str:
    """The device's name (raises: a CPU build has no CUDA device)."""
    raise AssertionError(_NOT_COMPILED)


# Memory counters answer 0: nothing is ever allocated on a CUDA device.
memory_allocated = _zero
max_memory_allocated = _zero
memory_reserved = _zero
max_memory_reserved = _zero


def memory_stats(device: Any = None) -> OrderedDict:
    return OrderedDict()


def memory_summary(device: Any = None, abbreviated: bool = False) -> str:
    raise KeyError("allocated_bytes.all.current")


def reset_peak_memory_stats(device: Any = None) -> None:
    _missing_binding("_cuda_resetPeakMemoryStats")


def reset_max_memory_allocated(device: Any = None) -> None:
    warnings.warn("torch.cuda.reset_max_memory_allocated now calls "
                  "torch.cuda.reset_peak_memory_stats, which resets /all/ peak memory stats.",
                  FutureWarning, stacklevel=2)
    reset_peak_memory_stats(device)


empty_cache = _no_op
manual_seed = _no_op
manual_seed_all = _no_op
seed = _no_op
seed_all = _no_op
set_rng_state = _no_op
set_rng_state_all = _no_op


def get_rng_state_all() -> list:
    return []


def _device_index(device: Any) -> int:
    """An explicit device index from an int, ``'cuda:i'`` or ``device('cuda', i)``."""
    from .._tensor import device as _device
    if isinstance(device, int) and not isinstance(device, bool):
        return device
    if isinstance(device, str):
        device = _device(device)
    if isinstance(device, _device):
        if device.type != "cuda":
            raise ValueError(f"Expected a cuda device, but got: {device}")
        if device.index is not None:
            return device.index
    raise ValueError("Expected a torch.device with a specified index or an integer, but "
                     f"got:{device}")


def set_device(device: Any) -> None:
    """Select the current CUDA device (a negative index is a no-op; others raise)."""
    if _device_index(device) >= 0:
        _missing_binding("_cuda_setDevice")


class device:
    """Context manager that selects a CUDA device (``device(-1)`` is a no-op)."""

    def __init__(self, device: Any) -> None:
        self.idx = _device_index(device) if device is not None else None
        self.prev_idx = -1

    def __enter__(self) -> None:
        if self.idx < 0:  # None compares like PyTorch's (a TypeError)
            return
        raise RuntimeError("PyTorch was compiled without CUDA support")

    def __exit__(self, *exc) -> bool:
        return False


class stream:
    """Context manager that selects a stream; ``stream(None)`` is a no-op."""

    def __init__(self, stream: Stream | None) -> None:
        self.stream = stream

    def __enter__(self) -> None:
        if self.stream is not None:
            raise AssertionError(_NOT_COMPILED)

    def __exit__(self, *exc) -> bool:
        return False


class Stream:
    """A CUDA stream (cannot be created on a CPU build)."""

    def __new__(cls, *args, **kwargs):
        raise RuntimeError("torch.cuda.Stream requires CUDA support")


class Event:
    """A CUDA event (cannot be created on a CPU build)."""

    def __new__(cls, *args, **kwargs):
        raise RuntimeError("Tried to instantiate dummy base class Event")
