"""``ember.backends.cuda``: cuBLAS and attention switches of a CPU-only build."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["is_built", "matmul", "flash_sdp_enabled", "enable_flash_sdp",
           "mem_efficient_sdp_enabled", "enable_mem_efficient_sdp", "math_sdp_enabled",
           "enable_math_sdp", "cudnn_sdp_enabled", "enable_cudnn_sdp", "sdp_kernel"]


def is_built() -> bool:
    """Whether ember was built with CUDA: no."""
    return False


class _MatmulFlags:
    """``backends.cuda.matmul``: ``allow_tf32`` mirrors the float32 matmul precision."""

    _names = ("allow_tf32", "allow_fp16_reduced_precision_reduction",
              "allow_bf16_reduced_precision_reduction")

    def __init__(self) -> None:
        object.__setattr__(self, "_flags", {"allow_fp16_reduced_precision_reduction": True,
                                            "allow_bf16_reduced_precision_reduction": True})

    def __getattr__(self, name: str):
        from . import get_float32_matmul_precision
        if name == "allow_tf32":
            return get_float32_matmul_precision() != "highest"
        if name in self._names:
            return self._flags[name]
        raise AttributeError(f"Unknown attribute {name}")

    def __setattr__(self, name: str, value) -> None:
        from . import _matmul_precision
        if name == "allow_tf32":
            _matmul_precision[0] = "high" if value else "highest"
        elif name in self._names:
            self._flags[name] = bool(value)
        else:
            raise AttributeError(f"Unknown attribute {name}")


matmul = _MatmulFlags()

_sdp = {"flash": True, "mem_efficient": True, "math": True, "cudnn": True}


def _sdp_pair(kind: str):
    def enabled() -> bool:
        return _sdp[kind]

    def enable(flag: bool) -> None:
        _sdp[kind] = bool(flag)
    return enabled, enable


flash_sdp_enabled, enable_flash_sdp = _sdp_pair("flash")
mem_efficient_sdp_enabled, enable_mem_efficient_sdp = _sdp_pair("mem_efficient")
math_sdp_enabled, enable_math_sdp = _sdp_pair("math")
cudnn_sdp_enabled, enable_cudnn_sdp = _sdp_pair("cudnn")


@contextmanager
def sdp_kernel(enable_flash: bool = True, enable_math: bool = True,
               enable_mem_efficient: bool = True, enable_cudnn: bool = True) -> Iterator[dict]:
    """Deprecated: choose attention backends inside a ``with`` block (recorded only)."""
    warnings.warn("`torch.backends.cuda.sdp_kernel()` is deprecated. In the future, this "
                  "context manager will be removed. Please see "
                  "`torch.nn.attention.sdpa_kernel()` for the new context manager, with "
                  "updated signature.", FutureWarning, stacklevel=3)
    saved = dict(_sdp)
    _sdp.update(flash=enable_flash, math=enable_math, mem_efficient=enable_mem_efficient,
                cudnn=enable_cudnn)
    try:
        yield {}
    finally:
        _sdp.update(saved)
