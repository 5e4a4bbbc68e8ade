"""Small pieces of torch's top-level namespace that scripts touch: ``cuda.is_available()``,
thread counts, ``is_tensor``, a no-op ``compile``."""

from __future__ import annotations

import types

from ._tensor import Tensor
from .autograd.grad_mode import is_grad_enabled

__all__ = ["cuda", "backends", "set_num_threads", "get_num_threads", "is_tensor", "numel",
           "is_floating_point", "compile", "use_deterministic_algorithms", "is_grad_enabled"]


def _false(*args, **kwargs) -> bool:
    return False


#: ember computes on the CPU: ``ember.cuda.is_available()`` is False.
cuda = types.SimpleNamespace(is_available=_false, device_count=lambda: 0,
                             manual_seed=lambda seed: None, manual_seed_all=lambda seed: None,
                             is_bf16_supported=_false, empty_cache=lambda: None,
                             synchronize=lambda device=None: None)
backends = types.SimpleNamespace(
    mps=types.SimpleNamespace(is_available=_false, is_built=_false),
    cudnn=types.SimpleNamespace(deterministic=False, benchmark=False, enabled=True,
                                is_available=_false))

_num_threads = [None]


def set_num_threads(n: int) -> None:
    """Limit the BLAS thread pool to ``n`` threads (through threadpoolctl when installed)."""
    _num_threads[0] = int(n)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(int(n))


def get_num_threads() -> int:
    if _num_threads[0] is not None:
        return _num_threads[0]
    import os
    return os.cpu_count() or 1


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


def numel(input: Tensor) -> int:
    return input.numel()


def is_floating_point(input: Tensor) -> bool:
    return input.is_floating_point()


def compile(model=None, **kwargs):  # noqa: A001 - torch's name
    """Returns the model or function unchanged (ember has no compiler)."""
    if model is None:
        return lambda m: m
    return model


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """ember is always deterministic on the CPU."""
