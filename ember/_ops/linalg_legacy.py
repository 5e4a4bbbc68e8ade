"""The top-level (pre-``torch.linalg``) factorization functions and their Tensor methods:
``svd``, ``qr``, ``lu``, ``lu_solve``, ``lu_unpack``, ``triangular_solve``,
``cholesky_solve``, ``cholesky_inverse`` and ``matrix_exp``. Each is a thin call into
``ember.linalg``, with torch's argument order and result types."""

from __future__ import annotations

from ..linalg._lu import (
    cholesky_inverse,
    cholesky_solve,
    lu_legacy,
    lu_solve_legacy,
    lu_unpack,
    triangular_solve,
)
from ..linalg._matrix_exp import matrix_exp
from ..return_types import register as _return_type
from ._util import Tensor, _make, tensor_method, xp

__all__ = ["svd", "qr", "lu", "lu_solve", "lu_unpack", "triangular_solve", "cholesky_solve",
           "cholesky_inverse", "matrix_exp"]

_svd_type = _return_type("svd", "U S V")
_qr_type = _return_type("qr", "Q R")


@tensor_method()
def svd(input: Tensor, some: bool = True, compute_uv: bool = True, *, out=None):
    """``(U, S, V)`` with ``input = U diag(S) V^T`` (deprecated form of ``linalg.svd``:
    V, not V^T; without ``compute_uv``, U and V are zero-filled)."""
    from ..linalg import svd as linalg_svd
    from ..linalg import svdvals
    if not compute_uv:
        m, n = input.shape[-2:]
        batch = tuple(input.shape[:-2])
        zeros = lambda r: _make(xp.zeros(batch + (r, r), dtype=input._data.dtype))  # noqa: E731
        return _svd_type(zeros(m), svdvals(input), zeros(n))
    U, S, Vh = linalg_svd(input, full_matrices=not some)
    return _svd_type(U, S, Vh.mT)


@tensor_method()
def qr(input: Tensor, some: bool = True, *, out=None):
    """``(Q, R)`` (deprecated form of ``linalg.qr``: ``some`` picks 'reduced')."""
    from ..linalg import qr as linalg_qr
    Q, R = linalg_qr(input, "reduced" if some else "complete")
    return _qr_type(Q, R)


lu = lu_legacy
lu_solve = lu_solve_legacy
for _name in ("lu", "lu_solve", "triangular_solve", "cholesky_solve", "cholesky_inverse",
              "matrix_exp"):
    tensor_method(_name)(globals()[_name])
