"""LDL^T factorization of symmetric matrices with Bunch-Kaufman pivoting, in LAPACK's compact
layout (``ldl_factor``, ``ldl_factor_ex``), and the solve that uses it (``ldl_solve``).

The factorization is the textbook unblocked Bunch-Kaufman algorithm on the lower triangle
(what LAPACK's sytrf runs for matrices of up to 64 rows): 1x1 or 2x2 diagonal pivots chosen
with alpha = (1 + sqrt(17)) / 8, row/column interchanges recorded in ``pivots`` (1-based;
negative for both rows of a 2x2 block). PyTorch has no derivative for these functions, and
neither has ember: the results are plain tensors. Loops run over columns, per matrix.
"""

from __future__ import annotations

import math

from .._ops._jvp import refuse_dual
from .._ops._util import Tensor, _make, xp
from ._common import LinAlgError, check_matrix, return_type, type_name
from ._solve import _out

__all__ = ["ldl_factor", "ldl_factor_ex", "ldl_solve"]

linalg_ldl_factor = return_type("linalg_ldl_factor", "LD pivots")
linalg_ldl_factor_ex = return_type("linalg_ldl_factor_ex", "LD pivots info")

_ALPHA = (1.0 + math.sqrt(17.0)) / 8.0


def _sytf2_lower(a):
    """(LD, pivots, info) of one symmetric matrix (only its lower triangle is read)."""
    A = xp.tril(a).astype(a.dtype, copy=True)
    A = A + xp.tril(A, -1).T           # work on the full symmetric matrix
    n = A.shape[0]
    piv = xp.zeros(n, dtype=xp.int32)
    info = 0
    k = 0
    while k < n:
        kstep = 1
        absakk = abs(A[k, k])
        if k < n - 1:
            imax = k + 1 + int(xp.argmax(xp.abs(A[k + 1:, k])))
            colmax = abs(A[imax, k])
        else:
            imax, colmax = k, 0.0
        if max(absakk, colmax) == 0 or math.isnan(absakk):
            if info == 0:
                info = k + 1
            kp = k
        else:
            if absakk >= _ALPHA * colmax:
                kp = k
            else:
                jmax = k + int(xp.argmax(xp.abs(A[imax, k:imax])))
                rowmax = abs(A[imax, jmax])
                if imax < n - 1:
                    j2 = imax + 1 + int(xp.argmax(xp.abs(A[imax + 1:, imax])))
                    rowmax = max(rowmax, abs(A[j2, imax]))
                if absakk >= _ALPHA * colmax * (colmax / rowmax):
                    kp = k
                elif abs(A[imax, imax]) >= _ALPHA * rowmax:
                    kp = imax
                else:
                    kp, kstep = imax, 2
            kk = k + kstep - 1
            if kp != kk:
                # Symmetric interchange of rows and columns kk and kp of the trailing block
                # (the finished columns of L keep their order, as in LAPACK).
                S = A[k:, k:]
                i, j = kk - k, kp - k
                S[[i, j], :] = S[[j, i], :]
                S[:, [i, j]] = S[:, [j, i]]
            if kstep == 1:
                if k < n - 1:
                    d11 = 1.0 / A[k, k]
                    x = A[k + 1:, k].copy()
                    A[k + 1:, k + 1:] -= d11 * xp.multiply.outer(x, x)
                    A[k + 1:, k] = x * d11
                    A[k, k + 1:] = A[k + 1:, k]
            elif k < n - 2:
                d21 = A[k + 1, k]
                d11 = A[k + 1, k + 1] / d21
                d22 = A[k, k] / d21
                t = 1.0 / (d11 * d22 - 1.0)
                d21 = t / d21
                c0 = A[k + 2:, k].copy()
                c1 = A[k + 2:, k + 1].copy()
                wk = d21 * (d11 * c0 - c1)
                wkp1 = d21 * (d22 * c1 - c0)
                A[k + 2:, k + 2:] -= xp.multiply.outer(c0, wk) + xp.multiply.outer(c1, wkp1)
                A[k + 2:, k] = wk
                A[k + 2:, k + 1] = wkp1
                A[k, k + 2:] = wk
                A[k + 1, k + 2:] = wkp1
        if kstep == 1:
            piv[k] = kp + 1
        else:
            piv[k] = piv[k + 1] = -(kp + 1)
        k += kstep
    return xp.tril(A), piv, info


def _factor(A: Tensor, fn: str, hermitian: bool):
    refuse_dual("aten::linalg_ldl_factor_ex", A)    # PyTorch has no derivative either
    a = check_matrix(A, fn, square=True)
    mats = a.reshape((-1,) + a.shape[-2:])
    LD = xp.empty_like(mats)
    piv = xp.zeros(mats.shape[:2], dtype=xp.int32)
    info = xp.zeros(mats.shape[0], dtype=xp.int32)
    with xp.errstate(all="ignore"):
        for i, m in enumerate(mats):
            LD[i], piv[i], info[i] = _sytf2_lower(m)
    return (LD.reshape(a.shape), piv.reshape(a.shape[:-1]), info.reshape(a.shape[:-2]))


def ldl_factor_ex(A: Tensor, *, hermitian: bool = False, check_errors: bool = False,
                  out=None):
    """``(LD, pivots, info)``: the compact LDL^T factorization of symmetric A (its lower
    triangle is read); info is the first zero pivot (1-based, 0 = none)."""
    LD, piv, info = _factor(A, "torch.linalg.ldl_factor_ex", hermitian)
    if check_errors and info.any():
        i = int(xp.flatnonzero(info.reshape(-1))[0])
        raise LinAlgError(f"torch.linalg.ldl_factor_ex: The factorization could not be "
                          f"completed because the input is not positive-definite (the leading "
                          f"minor of order {int(info.reshape(-1)[i])} is not "
                          "positive-definite).")
    return linalg_ldl_factor_ex(_make(LD), _make(piv), _make(info))


def ldl_factor(A: Tensor, *, hermitian: bool = False, out=None):
    """``(LD, pivots)``: the compact LDL^T factorization of symmetric A."""
    LD, piv, _ = _factor(A, "torch.linalg.ldl_factor", hermitian)
    return linalg_ldl_factor(_make(LD), _make(piv))


def _sytrs_lower(A, piv, B):
    """X with (P L D L^T P^T) X = B, from one compact factorization (LAPACK's sytrs)."""
    B = B.copy()
    n = A.shape[0]
    k = 0
    while k < n:                                   # L D Y = B
        if piv[k] > 0:
            kp = piv[k] - 1
            if kp != k:
                B[[k, kp]] = B[[kp, k]]
            B[k + 1:] -= xp.multiply.outer(A[k + 1:, k], B[k])
            B[k] /= A[k, k]
            k += 1
        else:
            kp = -piv[k] - 1
            if kp != k + 1:
                B[[k + 1, kp]] = B[[kp, k + 1]]
            if k < n - 2:
                B[k + 2:] -= xp.multiply.outer(A[k + 2:, k], B[k])
                B[k + 2:] -= xp.multiply.outer(A[k + 2:, k + 1], B[k + 1])
            akm1k = A[k + 1, k]
            akm1 = A[k, k] / akm1k
            ak = A[k + 1, k + 1] / akm1k
            denom = akm1 * ak - 1.0
            bkm1 = B[k] / akm1k
            bk = B[k + 1] / akm1k
            B[k] = (ak * bkm1 - bk) / denom
            B[k + 1] = (akm1 * bk - bkm1) / denom
            k += 2
    k = n - 1
    while k >= 0:                                  # L^T P^T X = Y
        if piv[k] > 0:
            if k < n - 1:
                B[k] -= A[k + 1:, k] @ B[k + 1:]
            kp = piv[k] - 1
            if kp != k:
                B[[k, kp]] = B[[kp, k]]
            k -= 1
        else:
            if k < n - 1:
                B[k] -= A[k + 1:, k] @ B[k + 1:]
                B[k - 1] -= A[k + 1:, k - 1] @ B[k + 1:]
            kp = -piv[k] - 1
            if kp != k:
                B[[k, kp]] = B[[kp, k]]
            k -= 2
    return B


def ldl_solve(LD: Tensor, pivots: Tensor, B: Tensor, *, hermitian: bool = False,
              out=None) -> Tensor:
    """The solution X of ``A X = B`` given ``ldl_factor(A)``."""
    refuse_dual("aten::linalg_ldl_solve", LD, B)
    ld, piv, b = LD._data, pivots._data, B._data
    if b.ndim < 2:
        raise RuntimeError("torch.linalg.ldl_solve: The input tensor B must have at least 2 "
                           "dimensions.")
    if ld.dtype != b.dtype:
        raise RuntimeError(f"torch.linalg.ldl_solve: Expected LD and B to have the same dtype, "
                           f"but found LD of type {type_name(ld)} and B of type "
                           f"{type_name(b)} instead")
    batch = xp.broadcast_shapes(ld.shape[:-2], b.shape[:-2])
    lds = xp.broadcast_to(ld, batch + ld.shape[-2:]).reshape((-1,) + ld.shape[-2:])
    ps = xp.broadcast_to(piv, batch + piv.shape[-1:]).reshape((-1,) + piv.shape[-1:])
    bs = xp.broadcast_to(b, batch + b.shape[-2:]).reshape((-1,) + b.shape[-2:])
    with xp.errstate(all="ignore"):
        x = xp.stack([_sytrs_lower(lds[i], ps[i], bs[i]) for i in range(bs.shape[0])])
    return _out(_make(x.reshape(batch + b.shape[-2:])), out)
