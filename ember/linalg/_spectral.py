"""Orthogonal and spectral decompositions (QR, SVD, symmetric eigendecomposition) and what is
built on them (singular values, pseudo-inverse, rank), with their gradients.

Eigenvector and singular-vector gradients divide by spectral gaps: they are defined for
distinct eigenvalues / singular values only, and are infinite or NaN at degenerate spectra,
as in torch. Losses that depend on the vectors' signs are ill-defined (the factorizations
fix signs arbitrarily); sign-invariant ones (projectors, reconstructions) are fine.
"""

from __future__ import annotations

from .._ops._jvp import primal
from .._ops._util import Op, Tensor, _make, xp
from ..autograd.function import nondifferentiable
from ._common import (
    check_float,
    check_matrix,
    diag_embed,
    diagonal,
    inv_gap,
    needs_grad,
    return_type,
    type_name,
)
from ._solve import Solve, _out

__all__ = ["qr", "svd", "svdvals", "eigh", "eigvalsh", "pinv", "pinverse", "matrix_rank"]

linalg_qr = return_type("linalg_qr", "Q R")
linalg_svd = return_type("linalg_svd", "U S Vh")
linalg_eigh = return_type("linalg_eigh", "eigenvalues eigenvectors")


def _sym(X: Tensor) -> Tensor:
    return (X + X.mT) * 0.5


def _mask(n: int, dtype, k: int = 0) -> Tensor:
    return _make(xp.tril(xp.ones((n, n), dtype=dtype), k))


# -- QR ---------------------------------------------------------------------------------------
class QR(Op):
    """A = QR (m >= n): M = R gR^T - gQ^T Q, gA = (gQ + Q copyltu(M)) R^-T; for m < n the
    trailing columns Y = Q R2 are handled first: gY = Q gR2, and gQ gains Y gR2^T"""

    node_name = "LinalgQrBackward0"

    @staticmethod
    def forward(ctx, A, mode="reduced"):
        if mode not in ("reduced", "complete", "r"):
            raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of "
                               "'reduced' (default), 'r', or 'complete'")
        a = check_matrix(A, "linalg.qr")
        ctx.mode = mode
        ctx.set_materialize_grads(False)
        if mode == "r":
            r = xp.linalg.qr(a, mode="r")
            ctx.save_for_backward()
            return xp.empty((0,), dtype=a.dtype), r
        q, r = xp.linalg.qr(a, mode=mode)
        ctx.save_for_backward(A, q, r)
        return q, r

    @staticmethod
    def backward(ctx, gQ, gR):
        A, Q, R = ctx.saved_tensors if ctx.mode != "r" else (None,) * 3
        _qr_differentiable(ctx.mode, A)
        m, n = A.shape[-2:]
        if m >= n:
            return _qr_square_grad(Q, R, gQ, gR), None
        # Wide: A = [X | Y] with X = Q R1 square and R2 = Q^T Y.
        R1 = R[..., :m]
        gR1 = gR[..., :m] if gR is not None else None
        gR2 = gR[..., m:] if gR is not None else None
        gQ1 = gQ
        if gR2 is not None:
            YgR2 = A[..., m:] @ gR2.mT
            gQ1 = YgR2 if gQ is None else gQ + YgR2
        gX = _qr_square_grad(Q, R1, gQ1, gR1)
        gY = Q @ gR2 if gR2 is not None else A.new_zeros(A.shape[:-1] + (n - m,))
        # [gX | gY] as a sum of products with the selection matrices [I 0] and [0 I].
        left = xp.eye(m, n, dtype=A._data.dtype)
        right = xp.eye(n - m, n, k=m, dtype=A._data.dtype)
        return gX @ _make(left) + gY @ _make(right), None

    @staticmethod
    def jvp(inputs, out, tangents):
        """m >= n: with C = Q^T dA R^-1 and Ω = its strictly lower part minus that part's
        transpose (Q^T dQ, skew), dR = (C - Ω) R and dQ = dA R^-1 - Q (C - Ω); m < n: the
        square block X = A[:, :m] gives dQ and dR1, and dR2 = dQ^T Y + Q^T dY"""
        A, mode = primal(inputs[0]), inputs[1] if len(inputs) > 1 else "reduced"
        _qr_differentiable(mode, A)
        from .._ops.joining import cat
        Q, R = out
        dA = tangents[0]
        m, n = A.shape[-2:]
        if m >= n:
            return _qr_square_jvp(Q, R, dA)
        dQ, dR1 = _qr_square_jvp(Q, R[..., :m], dA[..., :m])
        dR2 = dQ.mT @ A[..., m:] + Q.mT @ dA[..., m:]
        return dQ, cat([dR1, dR2], -1)


def _qr_differentiable(mode: str, A) -> None:
    """PyTorch's errors for the QR modes without a derivative."""
    if mode == "r":
        raise RuntimeError("The derivative of linalg.qr depends on Q, which is not computed "
                           "when mode='r'. Please use linalg.qr(A, mode='reduced') if you "
                           "are going to differentiate through linalg.qr.")
    if mode == "complete" and A.shape[-2] > A.shape[-1]:
        raise RuntimeError("The QR decomposition is not differentiable when "
                           "mode='complete' and nrows > ncols.")


def _qr_square_jvp(Q: Tensor, R: Tensor, dA: Tensor) -> tuple:
    from ._lu import SolveTriangular, _tril
    B = SolveTriangular.apply(R, dA, True, False, False)     # dA R^-1
    C = Q.mT @ B
    low = _tril(C, -1)
    C = C - (low - low.mT)                                   # C - Ω: upper triangular
    return B - Q @ C, C @ R


def _qr_square_grad(Q, R, gQ, gR) -> Tensor:
    n = R.shape[-1]
    M = 0
    if gR is not None:
        M = R @ gR.mT
    if gQ is not None:
        M = M - gQ.mT @ Q
    if isinstance(M, int):
        return Q.new_zeros(Q.shape[:-1] + (n,))
    low = M * _mask(n, Q._data.dtype, -1)
    M = low + low.mT + diag_embed(diagonal(M))      # copyltu: the lower triangle mirrored
    B = Q @ M
    if gQ is not None:
        B = B + gQ
    return Solve.apply(R.mT, B, False)             # B R^-T


def qr(A: Tensor, mode: str = "reduced", *, out=None):
    """``(Q, R)`` with Q orthonormal columns and R upper triangular (mode 'reduced',
    'complete', or 'r' for R alone, Q then empty)."""
    q, r = QR.apply(A, mode)
    if out is not None:
        q, r = _out(q, out[0]), _out(r, out[1])
    return linalg_qr(q, r)


# -- SVD --------------------------------------------------------------------------------------
class SVD(Op):
    """A = U S V^T: gA = U[(F o (U^T gU - gU^T U)) S + S (F o (V^T gV - gV^T V)) + diag(gS)]V^T
    + (I - U U^T) gU S^-1 V^T + U S^-1 gV^T (I - V V^T), F_ij = 1/(s_j^2 - s_i^2)"""

    node_name = "LinalgSvdBackward0"

    @staticmethod
    def forward(ctx, A, full_matrices=True):
        a = check_matrix(A, "linalg.svd")
        u, s, vh = xp.linalg.svd(a, full_matrices=full_matrices)
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(u, s, vh)
        return u, s, vh

    @staticmethod
    def backward(ctx, gU, gS, gVh):
        U, S, Vh = ctx.saved_tensors
        m, n, k = U.shape[-2], Vh.shape[-1], S.shape[-1]
        if U.shape[-1] != k:           # full_matrices: the extra columns carry no gradient
            U = U[..., :k]
            gU = gU[..., :k] if gU is not None else None
        if Vh.shape[-2] != k:
            Vh = Vh[..., :k, :]
            gVh = gVh[..., :k, :] if gVh is not None else None
        if gU is None and gVh is None:
            return (U * gS.unsqueeze(-2)) @ Vh, None
        V = Vh.mT
        F = inv_gap(S, squared=True)
        inner = diag_embed(gS) if gS is not None else 0
        extra = 0
        if gU is not None:
            UtgU = U.mT @ gU
            inner = inner + (F * (UtgU - UtgU.mT)) * S.unsqueeze(-2)
            if m > k:
                extra = (gU - U @ UtgU) / S.unsqueeze(-2) @ Vh
        if gVh is not None:
            gV = gVh.mT
            VtgV = V.mT @ gV
            inner = inner + S.unsqueeze(-1) * (F * (VtgV - VtgV.mT))
            if n > k:
                extra = extra + U @ ((gVh - VtgV.mT @ Vh) / S.unsqueeze(-1))
        return U @ inner @ Vh + extra, None

    @staticmethod
    def jvp(inputs, out, tangents):
        """With dP = U^T dA V and F_ij = 1/(s_j^2 - s_i^2): dS = diag(dP),
        dU = U (F o (dP S + S dP^T)) + (I - U U^T) dA V S^-1,
        dVh = -(F o (S dP + dP^T S)) Vh + S^-1 U^T dA (I - V V^T); the extra columns of
        full_matrices get a zero tangent (as in PyTorch)"""
        from .._ops.joining import cat
        U, S, Vh = out
        dA = tangents[0]
        m, n, k = U.shape[-2], Vh.shape[-1], S.shape[-1]
        U, Vh = U[..., :k], Vh[..., :k, :]
        V = Vh.mT
        dP = U.mT @ dA @ V
        F = inv_gap(S, squared=True)
        dPS = dP * S.unsqueeze(-2)
        SdP = S.unsqueeze(-1) * dP
        dU = U @ (F * (dPS + dPS.mT))
        dVh = -(F * (SdP + SdP.mT)) @ Vh
        if m > k:
            dAVS = dA @ (V / S.unsqueeze(-2))
            dU = dU + dAVS - U @ (U.mT @ dAVS)
        if n > k:
            SUdA = (U.mT / S.unsqueeze(-1)) @ dA
            dVh = dVh + SUdA - (SUdA @ V) @ Vh
        if out[0].shape[-1] > k:
            dU = cat([dU, dU.new_zeros(dU.shape[:-1] + (m - k,))], -1)
        if out[2].shape[-2] > k:
            dVh = cat([dVh, dVh.new_zeros(dVh.shape[:-2] + (n - k, n))], -2)
        return dU, diagonal(dP), dVh


def svd(A: Tensor, full_matrices: bool = True, *, driver=None, out=None):
    """``(U, S, Vh)`` with ``A = U diag(S) Vh``, singular values descending."""
    u, s, vh = SVD.apply(A, full_matrices)
    if out is not None:
        u, s, vh = _out(u, out[0]), _out(s, out[1]), _out(vh, out[2])
    return linalg_svd(u, s, vh)


def svdvals(A: Tensor, *, driver=None, out=None) -> Tensor:
    """Singular values, descending (gradient: U diag(gS) V^T)."""
    if needs_grad(A):
        return _out(SVD.apply(A, False)[1], out)
    a = check_matrix(A, "linalg.svdvals")
    return _out(_make(xp.linalg.svd(a, compute_uv=False)), out)


# -- symmetric eigendecomposition -------------------------------------------------------------
class Eigh(Op):
    """A = V diag(w) V^T: gA = sym(V (diag(gw) + F o (V^T gV)) V^T), F_ij = 1/(w_j - w_i)"""

    node_name = "LinalgEighBackward0"

    @staticmethod
    def forward(ctx, A, UPLO="L"):
        if UPLO not in ("L", "U"):
            raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
        w, v = xp.linalg.eigh(check_matrix(A, "linalg.eigh", square=True), UPLO=UPLO)
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(w, v)
        return w, v

    @staticmethod
    def backward(ctx, gw, gV):
        w, V = ctx.saved_tensors
        inner = diag_embed(gw) if gw is not None else 0
        if gV is not None:
            inner = inner + inv_gap(w) * (V.mT @ gV)
        if isinstance(inner, int):
            return None, None
        return _sym(V @ inner @ V.mT), None

    @staticmethod
    def jvp(inputs, out, tangents):
        """With M = V^T dA V: dw = diag(M), dV = V (F o M), F_ij = 1/(w_j - w_i) (0 on the
        diagonal)"""
        w, V = out
        M = V.mT @ tangents[0] @ V
        return diagonal(M), V @ (inv_gap(w) * M)


def eigh(A: Tensor, UPLO: str = "L", *, out=None):
    """``(eigenvalues, eigenvectors)`` of a symmetric matrix, eigenvalues ascending (only the
    ``UPLO`` triangle is read)."""
    w, v = Eigh.apply(A, UPLO)
    if out is not None:
        w, v = _out(w, out[0]), _out(v, out[1])
    return linalg_eigh(w, v)


def eigvalsh(A: Tensor, UPLO: str = "L", *, out=None) -> Tensor:
    """Eigenvalues of a symmetric matrix, ascending (gradient: V diag(gw) V^T)."""
    if needs_grad(A):
        return _out(Eigh.apply(A, UPLO)[0], out)
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    a = check_matrix(A, "linalg.eigvalsh", square=True)
    return _out(_make(xp.linalg.eigvalsh(a, UPLO=UPLO)), out)


# -- pseudo-inverse and rank ------------------------------------------------------------------
def _tolerance(values, m: int, n: int, atol, rtol, dtype):
    """torch's cutoff max(atol, rtol * largest): rtol defaults to eps * max(m, n), or to 0
    when only atol is given. ``values`` are the (absolute) singular values/eigenvalues."""
    atol_given = atol is not None
    atol = 0.0 if atol is None else (atol._data if isinstance(atol, Tensor) else atol)
    if rtol is None:
        rtol = 0.0 if atol_given and xp.all(xp.asarray(atol) > 0) else (
            xp.finfo(dtype).eps * max(m, n))
    rtol = rtol._data if isinstance(rtol, Tensor) else rtol
    largest = values.max(axis=-1, initial=0.0)
    return xp.maximum(atol, rtol * largest)


class Pinv(Op):
    """Golub & Pereyra: dP = -P dA P + P P^T dA^T (I - A P) + (I - P A) dA^T P^T P, so
    gA = -P^T g P^T + (I - A P) g^T P P^T + P^T P g^T (I - P A)"""

    node_name = "LinalgPinvBackward0"

    @staticmethod
    def forward(ctx, A, atol=None, rtol=None, hermitian=False):
        a = A._data
        if a.ndim < 2 or a.dtype.kind != "f":
            raise RuntimeError(f"linalg.pinv({type_name(a)}{{[{', '.join(map(str, a.shape))}]"
                               "}): expected a tensor with 2 or more dimensions of float, "
                               "double, cfloat or cdouble types")
        m, n = a.shape[-2:]
        if hermitian:
            w, v = xp.linalg.eigh(a)
            tol = _tolerance(xp.abs(w), m, n, atol, rtol, a.dtype)
            keep = xp.abs(w) > tol[..., None]
            winv = xp.where(keep, 1 / xp.where(keep, w, 1), 0).astype(a.dtype)
            out = (v * winv[..., None, :]) @ v.swapaxes(-1, -2)
        elif m == 0 or n == 0:
            out = xp.zeros(a.shape[:-2] + (n, m), dtype=a.dtype)
        else:
            u, s, vh = xp.linalg.svd(a, full_matrices=False)
            tol = _tolerance(s, m, n, atol, rtol, a.dtype)
            keep = s > tol[..., None]
            sinv = xp.where(keep, 1 / xp.where(keep, s, 1), 0).astype(a.dtype)
            out = (vh.swapaxes(-1, -2) * sinv[..., None, :]) @ u.swapaxes(-1, -2)
        ctx.save_for_backward(A, out)
        return out

    @staticmethod
    def backward(ctx, g):
        A, P = ctx.saved_tensors
        Pt, gt = P.mT, g.mT
        m, n = A.shape[-2:]
        gtP = gt @ P
        term2 = gtP @ Pt - A @ (P @ (gtP @ Pt))                     # (I - A P) g^T P P^T
        term3 = (Pt @ P) @ (gt - (gt @ P) @ A)                       # P^T P g^T (I - P A)
        return -(Pt @ g @ Pt) + term2 + term3, None, None, None

    @staticmethod
    def jvp(inputs, out, tangents):
        return pinv_jvp(primal(inputs[0]), out, tangents[0])


def pinv_jvp(A: Tensor, P: Tensor, dA: Tensor) -> Tensor:
    """dP = -P dA P + P P^T dA^T (I - A P) + (I - P A) dA^T P^T P (Golub & Pereyra)"""
    dAt, Pt = dA.mT, P.mT
    PPt_dAt = (P @ Pt) @ dAt
    dAt_PtP = dAt @ (Pt @ P)
    return -(P @ dA @ P) + PPt_dAt - (PPt_dAt @ A) @ P + dAt_PtP - P @ (A @ dAt_PtP)


def pinv(A: Tensor, *, atol=None, rtol=None, hermitian: bool = False, out=None) -> Tensor:
    """Moore-Penrose pseudo-inverse; singular values <= max(atol, rtol * largest) count as
    zero."""
    return _out(Pinv.apply(A, atol, rtol, hermitian), out)


def pinverse(input: Tensor, rcond: float = 1e-15) -> Tensor:
    """Pseudo-inverse with singular values below ``rcond * largest`` dropped."""
    return Pinv.apply(input, None, rcond, False)


@nondifferentiable
def matrix_rank(A: Tensor, tol=None, *, atol=None, rtol=None, hermitian: bool = False,
                out=None) -> Tensor:
    """Number of singular values above max(atol, rtol * largest) (int64)."""
    if A._data.dtype.kind != "f":
        raise RuntimeError("This function doesn't handle types other than float and double")
    a = check_float(A, "linalg.matrix_rank")
    if tol is not None:
        atol, rtol = tol, 0.0
    m, n = a.shape[-2:]
    if hermitian:
        s = xp.abs(xp.linalg.eigvalsh(a))
    elif m == 0 or n == 0:
        s = xp.zeros(a.shape[:-2] + (0,), dtype=a.dtype)
    else:
        s = xp.linalg.svd(a, compute_uv=False)
    tol = _tolerance(s, m, n, atol, rtol, a.dtype)
    return _out(_make((s > tol[..., None]).sum(-1).astype(xp.int64)), out)
