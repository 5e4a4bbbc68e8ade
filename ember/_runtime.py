"""Small pieces of torch's top-level namespace that scripts touch: ``cuda.is_available()``,
thread counts, ``is_tensor``; ``compile`` lives in ``ember._compile``."""

from __future__ import annotations

# The CUDA and backend namespaces are real packages (``ember/cuda``, ``ember/backends``), so
# ``import ember.cuda`` and ``from ember.backends import cudnn`` work as they do in torch.
from . import backends, cuda
from ._compile import compile  # noqa: A004 - torch's name
from ._tensor import Tensor
from .autograd.grad_mode import is_grad_enabled

__all__ = ["cuda", "backends", "set_num_threads", "get_num_threads", "is_tensor", "numel",
           "is_floating_point", "compile", "use_deterministic_algorithms", "is_grad_enabled"]

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


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """ember is always deterministic on the CPU."""
