"""Shared pieces of ``ember.linalg``: the error type, argument checks, named-tuple results
(registered in ``ember.return_types``), and small differentiable helpers (diagonals, spectral
gaps) written with Tensor ops."""

from __future__ import annotations

from .._dtype import _FROM_NP
from .._ops._util import Tensor, _make, ndarray, xp
from ..autograd.grad_mode import _grad_enabled
from ..return_types import register as return_type  # noqa: F401 (used by the op modules)

__all__ = ["LinAlgError"]


class LinAlgError(RuntimeError):
    """A matrix is singular or not positive-definite (``torch.linalg.LinAlgError``)."""


# -- argument checks --------------------------------------------------------------------------
def type_name(array) -> str:
    """PyTorch's scalar type name of an array's dtype (``Float``, ``Long``, ...)."""
    return _FROM_NP[array.dtype]._legacy_name[:-6]


def check_float(A: Tensor, fn: str):
    """``A``'s array; floating point (float32/float64) is required, as in torch.linalg."""
    a = A._data
    if a.dtype.kind != "f":
        raise RuntimeError(f"{fn}: Expected a floating point or complex tensor as input. Got "
                           f"{type_name(a)}")
    if a.dtype.itemsize < 4:
        raise RuntimeError(f"{fn}: Low precision dtypes not supported. Got {type_name(a)}")
    return a


def check_matrix(A: Tensor, fn: str, square: bool = False):
    """``A``'s array after torch's checks: float, at least 2-D, optionally square."""
    if A.ndim < 2:
        raise RuntimeError(f"{fn}: The input tensor A must have at least 2 dimensions.")
    a = check_float(A, fn)
    if square and a.shape[-1] != a.shape[-2]:
        raise RuntimeError(f"{fn}: A must be batches of square matrices, but they are "
                           f"{a.shape[-2]} by {a.shape[-1]} matrices")
    return a


def batch_prefix(a, index: int) -> str:
    """torch's ``(Batch element i): `` prefix for errors in batched factorizations."""
    return f"(Batch element {index}): " if a.ndim > 2 else ""


def needs_grad(*tensors) -> bool:
    """Whether an op on these inputs will be recorded, one carries a forward-mode tangent,
    or one is batched by ``vmap`` (its array is a stand-in without values): then the op
    path runs; otherwise a function may skip work only those need."""
    from ..autograd.forward_ad import get_tangent
    return (_grad_enabled.get() and any(isinstance(t, Tensor) and t._requires_grad
                                        for t in tensors)
            or any(get_tangent(t) is not None for t in tensors)
            or any(isinstance(t, Tensor) and type(t._data) is not ndarray for t in tensors))


# -- constants and structural helpers for backward formulas -----------------------------------
def diagonal(X: Tensor) -> Tensor:
    """The main diagonal of the last two dims (differentiable)."""
    from ._einsum import einsum
    return einsum("...ii->...i", X)


def diag_embed(v: Tensor) -> Tensor:
    """Batched diagonal matrices from the last dim of ``v`` (differentiable)."""
    return v.unsqueeze(-1) * _make(xp.eye(v.shape[-1], dtype=v._data.dtype))


def inv_gap(values: Tensor, squared: bool = False) -> Tensor:
    """``F[..., i, j] = 1 / (v[j] - v[i])`` (of the squares if ``squared``) off the diagonal and
    0 on it: the spectral-gap factor of eigh/svd backward, infinite at repeated values."""
    v = values * values if squared else values
    n = v.shape[-1]
    diag_inf = xp.zeros((n, n), dtype=v._data.dtype)
    diag_inf[xp.diag_indices(n)] = xp.inf
    return 1.0 / (v.unsqueeze(-2) - v.unsqueeze(-1) + _make(diag_inf))
