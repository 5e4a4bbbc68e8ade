"""``ember.backends``: the backend switches scripts set (``cudnn.benchmark``,
``cuda.matmul.allow_tf32``, ...) and query (``mps.is_available()``).

ember runs one backend, NumPy on the CPU, so the flags are recorded and read back as
PyTorch's CPU-only build reports them, and change no numerics (NumPy's float32 matmul is
always full precision).
"""

from __future__ import annotations

import warnings

__all__ = ["cpu", "cuda", "cudnn", "mkl", "mkldnn", "mps", "openmp",
           "set_float32_matmul_precision", "get_float32_matmul_precision"]

_PRECISIONS = ("highest", "high", "medium")
_matmul_precision = ["highest"]


def set_float32_matmul_precision(precision: str) -> None:
    """Record the float32 matmul precision (``'highest'``, ``'high'`` or ``'medium'``);
    ``'high'`` and ``'medium'`` also turn ``backends.cuda.matmul.allow_tf32`` on."""
    if precision not in _PRECISIONS:
        warnings.warn(f"{precision} is not one of 'highest', 'high', or 'medium'; the current"
                      "setFloat32MatmulPrecision call has no effect.", UserWarning, stacklevel=2)
        return
    _matmul_precision[0] = precision


def get_float32_matmul_precision() -> str:
    """The float32 matmul precision: ``'highest'`` unless changed."""
    return _matmul_precision[0]


from . import cpu, cuda, cudnn, mkl, mkldnn, mps, openmp  # noqa: E402 - they read the state
