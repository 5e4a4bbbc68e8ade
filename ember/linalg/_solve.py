"""Inverses, determinants, linear solves, Cholesky and matrix powers, with their gradients.

Backward formulas are Tensor ops (inverses and solves call these same ops), so higher-order
derivatives work. Errors follow torch.linalg: singular or non-positive-definite inputs raise
``LinAlgError`` naming the batch element and the failing pivot or minor.
"""

from __future__ import annotations

from .._ops._jvp import fit, primal, refuse_dual
from .._ops._util import Op, Tensor, _make, xp
from .._ops.indexing import where
from ._common import (
    LinAlgError,
    batch_prefix,
    check_float,
    check_matrix,
    diag_embed,
    diagonal,
    return_type,
    type_name,
)

__all__ = ["inv", "inv_ex", "inverse", "det", "slogdet", "logdet", "solve", "cholesky",
           "cholesky_ex", "matrix_power"]

slogdet_type = return_type("slogdet", "sign logabsdet")
linalg_slogdet = return_type("linalg_slogdet", "sign logabsdet")
linalg_inv_ex = return_type("linalg_inv_ex", "inverse info")
linalg_cholesky_ex = return_type("linalg_cholesky_ex", "L info")


# -- error reporting (only on the failure path) -----------------------------------------------
def _matrices(a):
    return a.reshape((-1,) + a.shape[-2:])


def _first_zero_pivot(m) -> int:
    """1-based index of the first zero pivot of LU with partial pivoting (what LAPACK's getrf
    reports for a singular matrix); the loop runs over columns, on the error path only."""
    u = m.astype(xp.float64, copy=True)
    n = u.shape[0]
    for j in range(n):
        p = j + int(xp.argmax(xp.abs(u[j:, j])))
        if u[p, j] == 0:
            return j + 1
        u[[j, p]] = u[[p, j]]
        u[j + 1:] -= xp.multiply.outer(u[j + 1:, j] / u[j, j], u[j])
    return n


def _singular(a, fn: str) -> list:
    """``(batch index, pivot)`` of each singular matrix in ``a``."""
    bad = []
    for i, m in enumerate(_matrices(a)):
        try:
            xp.linalg.inv(m)
        except xp.linalg.LinAlgError:
            bad.append((i, _first_zero_pivot(m)))
    return bad


def _inverse(a, fn: str, errors: bool = True):
    try:
        return xp.linalg.inv(a)
    except xp.linalg.LinAlgError:
        bad = _singular(a, fn)
        if errors:
            i, pivot = bad[0]
            raise LinAlgError(f"{fn}: {batch_prefix(a, i)}The diagonal element {pivot} is "
                              "zero, the inversion could not be completed because the input "
                              "matrix is singular.") from None
        out = xp.full(_matrices(a).shape, xp.nan, dtype=a.dtype)
        singular = {i for i, _ in bad}
        for i, m in enumerate(_matrices(a)):
            if i not in singular:
                out[i] = xp.linalg.inv(m)
        return out.reshape(a.shape)


# -- inverse ----------------------------------------------------------------------------------
class Inv(Op):
    """d(A^-1) = -A^-1 dA A^-1, so gA = -A^-T g A^-T"""

    node_name = "LinalgInvExBackward0"

    @staticmethod
    def forward(ctx, A, fn="linalg.inv", errors=True):
        out = _inverse(check_matrix(A, fn, square=True), fn, errors)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        Y, = ctx.saved_tensors
        Yt = Y.mT
        return -(Yt @ g @ Yt), None, None

    @staticmethod
    def jvp(inputs, out, tangents):
        """dY = -Y dA Y"""
        return -(out @ tangents[0] @ out)


def inv(A: Tensor, *, out=None) -> Tensor:
    """Inverse of a square matrix (or a batch); raises LinAlgError if one is singular."""
    return _out(Inv.apply(A), out)


def inverse(input: Tensor, *, out=None) -> Tensor:
    """Inverse of a square matrix (alias of ``linalg.inv``)."""
    return _out(Inv.apply(input), out)


def inv_ex(A: Tensor, *, check_errors: bool = False, out=None):
    """Inverse without raising: ``(inverse, info)``, info the first zero pivot (0 = ok); the
    inverses of singular matrices are NaN."""
    if check_errors:
        result = Inv.apply(A)
        info = xp.zeros(A.shape[:-2], dtype=xp.int32)
    else:
        result = Inv.apply(A, "linalg.inv_ex", False)
        info = xp.zeros(max(1, int(xp.prod(A.shape[:-2]))), dtype=xp.int32)
        if xp.isnan(result._data).any():
            for i, pivot in _singular(A._data, "linalg.inv_ex"):
                info[i] = pivot
        info = info.reshape(A.shape[:-2])
    return linalg_inv_ex(_out(result, out and out[0]), _make(info))


# -- determinants -----------------------------------------------------------------------------
class Det(Op):
    """d det(A) = det(A) tr(A^-1 dA), so gA = g det(A) A^-T (the cofactor matrix)"""

    node_name = "LinalgDetBackward0"

    @staticmethod
    def forward(ctx, A, fn="linalg.det"):
        out = xp.asarray(xp.linalg.det(check_matrix(A, fn, square=True)))
        ctx.save_for_backward(A, out)
        return out

    @staticmethod
    def backward(ctx, g):
        A, d = ctx.saved_tensors
        if (d._data != 0).all():
            return (g * d).unsqueeze(-1).unsqueeze(-1) * Inv.apply(A).mT, None
        return g.unsqueeze(-1).unsqueeze(-1) * _make(_cofactors(A._data)), None

    @staticmethod
    def jvp(inputs, out, tangents):
        """d det(A) = det(A) tr(A^-1 dA) = sum(cofactors(A) * dA)"""
        A, dA = primal(inputs[0]), tangents[0]
        if (out._data != 0).all():
            return out * _trace_solve(A, dA)
        return (_make(_cofactors(A._data)) * dA).sum((-2, -1))


def _cofactors(a):
    """The cofactor matrix adj(A)^T of singular matrices, via the SVD:
    det(U V^T) U diag(prod_{j != i} s_j) V^T (a constant: no higher derivatives here)."""
    u, s, vh = xp.linalg.svd(a)
    n = s.shape[-1]
    others = xp.prod(xp.where(xp.eye(n, dtype=bool), 1, s[..., None, :]), axis=-1)
    sign = xp.linalg.det(u) * xp.linalg.det(vh)
    return (u * (sign[..., None] * others)[..., None, :]) @ vh


def _trace_solve(A: Tensor, dA: Tensor) -> Tensor:
    """tr(A^-1 dA) over the last two dims."""
    return diagonal(Solve.apply(A, dA)).sum(-1)


def det(A: Tensor, *, out=None) -> Tensor:
    """Determinant of a square matrix (or a batch)."""
    return _out(Det.apply(A), out)


class Slogdet(Op):
    """d log|det A| = tr(A^-1 dA), so gA = g_logabsdet A^-T (the sign has zero derivative)"""

    node_name = "LinalgSlogdetBackward0"

    @staticmethod
    def forward(ctx, A, fn="linalg.slogdet"):
        sign, logabs = xp.linalg.slogdet(check_matrix(A, fn, square=True))
        ctx.save_for_backward(A)
        return xp.asarray(sign), xp.asarray(logabs)

    @staticmethod
    def backward(ctx, g_sign, g_logabs):
        A, = ctx.saved_tensors
        return g_logabs.unsqueeze(-1).unsqueeze(-1) * Inv.apply(A).mT, None

    @staticmethod
    def jvp(inputs, out, tangents):
        """d log|det A| = tr(A^-1 dA); the sign of a real matrix is constant (zero tangent)"""
        from .._creation import zeros_like
        return zeros_like(out[0]), _trace_solve(primal(inputs[0]), tangents[0])


def slogdet(A: Tensor, *, out=None):
    """``(sign, log|det A|)``: the determinant without overflow or underflow."""
    sign, logabs = Slogdet.apply(A)
    if out is not None:
        return linalg_slogdet(_out(sign, out[0]), _out(logabs, out[1]))
    return linalg_slogdet(sign, logabs)


def slogdet_legacy(input: Tensor):
    """``torch.slogdet``: ``(sign, logabsdet)``."""
    return slogdet_type(*Slogdet.apply(input))


def logdet(input: Tensor) -> Tensor:
    """log det(A): NaN where det(A) < 0, -inf where it is 0."""
    sign, logabs = Slogdet.apply(input, "linalg.slogdet")
    return where(sign < 0, float("nan"), logabs)


# -- solve ------------------------------------------------------------------------------------
def _is_vector_rhs(A, B) -> bool:
    return B.ndim == 1 or (B.ndim == A.ndim - 1 and B.shape == A.shape[:-1])


class Solve(Op):
    """X = A^-1 B: gB = A^-T g, gA = -gB X^T (for X A = B: gB = g A^-T, gA = -X^T gB)"""

    node_name = "LinalgSolveExBackward0"

    @staticmethod
    def forward(ctx, A, B, left=True):
        a = check_matrix(A, "linalg.solve", square=True)
        b = B._data
        if a.dtype != b.dtype:
            raise RuntimeError(f"linalg.solve: Expected A and B to have the same dtype, but "
                               f"found A of type {type_name(a)} and B of type {type_name(b)} "
                               "instead")
        vector = _is_vector_rhs(a, b)
        bm = b[..., None] if vector else b
        n = a.shape[-1]
        if bm.shape[-2 if left else -1] != n:
            raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation "
                               f"{'AX = B' if left else 'XA = B'} ({n}x{n} and "
                               f"{bm.shape[-2]}x{bm.shape[-1]})")
        if not left:
            if vector:
                raise RuntimeError("linalg.solve: Vector broadcasting of the left hand side is "
                                   "not supported for left=False. In this case linalg.solve is "
                                   "equivalent to B / A.squeeze(-1)")
            bm = bm.swapaxes(-1, -2)
        try:
            x = xp.linalg.solve(a if left else a.swapaxes(-1, -2), bm)
        except xp.linalg.LinAlgError:
            i = _singular(a, "linalg.solve")[0][0]
            raise LinAlgError(f"torch.linalg.solve: {batch_prefix(a, i)}The solver failed "
                              "because the input matrix is singular.") from None
        except ValueError as e:           # batch dims that do not broadcast
            raise RuntimeError(f"linalg.solve: {e}") from None
        out = x[..., 0] if vector else (x if left else x.swapaxes(-1, -2))
        ctx.left, ctx.vector = left, vector
        ctx.save_for_backward(A, out)
        return out

    @staticmethod
    def backward(ctx, g):
        A, X = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad[:2]
        gB = Solve.apply(A.mT, g, ctx.left)
        gA = None
        if need_a:
            if ctx.vector:
                gA = -(gB.unsqueeze(-1) * X.unsqueeze(-2) if ctx.left
                       else X.unsqueeze(-1) * gB.unsqueeze(-2))
            else:
                gA = -(gB @ X.mT if ctx.left else X.mT @ gB)
        return gA, gB if need_b else None, None

    @staticmethod
    def jvp(inputs, out, tangents):
        """dX = A^-1 (dB - dA X) (left), (dB - X dA) A^-1 (right)"""
        A, B = primal(inputs[0]), primal(inputs[1])
        left = inputs[2] if len(inputs) > 2 else True
        tA, tB = tangents[:2]
        rhs = tB
        if tA is not None:
            if _is_vector_rhs(A, B):
                dAX = (tA @ out.unsqueeze(-1)).squeeze(-1)
            else:
                dAX = tA @ out if left else out @ tA
            rhs = -dAX if rhs is None else rhs - dAX
        return fit(Solve.apply(A, rhs, left), out)


def solve(A: Tensor, B: Tensor, *, left: bool = True, out=None) -> Tensor:
    """The solution X of ``A X = B`` (``X A = B`` if not ``left``); B may be a vector."""
    return _out(Solve.apply(A, B, left), out)


# -- Cholesky ---------------------------------------------------------------------------------
def _not_pd(a, fn: str) -> LinAlgError:
    for i, m in enumerate(_matrices(a)):
        for k in range(1, m.shape[-1] + 1):
            try:
                xp.linalg.cholesky(m[:k, :k])
            except xp.linalg.LinAlgError:
                return LinAlgError(f"{fn}: {batch_prefix(a, i)}The factorization could not be "
                                   "completed because the input is not positive-definite (the "
                                   f"leading minor of order {k} is not positive-definite).")
    return LinAlgError(f"{fn}: The factorization could not be completed because the input is "
                       "not positive-definite.")


class Cholesky(Op):
    """Murray (2016): gA = sym(L^-T Phi(L^T gL) L^-1), Phi = lower triangle, halved diagonal"""

    node_name = "LinalgCholeskyExBackward0"

    @staticmethod
    def forward(ctx, A, upper=False, fn="linalg.cholesky"):
        a = check_matrix(A, fn, square=True)
        try:
            L = xp.linalg.cholesky(a)        # reads the lower triangle, like torch
        except xp.linalg.LinAlgError:
            raise _not_pd(a, fn) from None
        out = L.swapaxes(-1, -2) if upper else L
        ctx.upper = upper
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        out, = ctx.saved_tensors
        L, gL = (out.mT, g.mT) if ctx.upper else (out, g)
        n = L.shape[-1]
        phi = xp.tril(xp.ones((n, n), dtype=g._data.dtype))
        phi[xp.diag_indices(n)] = 0.5
        Linv = Inv.apply(L)
        S = Linv.mT @ ((L.mT @ gL) * _make(phi)) @ Linv
        return (S + S.mT) * 0.5, None, None

    @staticmethod
    def jvp(inputs, out, tangents):
        """dL = L Phi(L^-1 dA L^-T), Phi = lower triangle, halved diagonal (dA taken whole,
        as PyTorch does)"""
        from ._lu import SolveTriangular, _tril
        upper = inputs[1] if len(inputs) > 1 else False
        L = out.mT if upper else out
        X = SolveTriangular.apply(L, tangents[0], False, True, False)
        X = SolveTriangular.apply(L.mT, X, True, False, False)
        X = _tril(X) - diag_embed(diagonal(X)) * 0.5
        dL = L @ X
        return dL.mT if upper else dL


class CholeskyLegacy(Cholesky):
    node_name = "CholeskyBackward0"


def cholesky(A: Tensor, *, upper: bool = False, out=None) -> Tensor:
    """Cholesky factor L (A = L L^T) of a symmetric positive-definite matrix."""
    return _out(Cholesky.apply(A, upper), out)


def cholesky_legacy(input: Tensor, upper: bool = False, *, out=None) -> Tensor:
    """``torch.cholesky`` (deprecated form of ``linalg.cholesky``)."""
    refuse_dual("cholesky", input, planned=True)   # PyTorch's forward AD refuses it
    return _out(CholeskyLegacy.apply(input, upper, "cholesky"), out)


def cholesky_ex(A: Tensor, *, upper: bool = False, check_errors: bool = False, out=None):
    """Cholesky without raising: ``(L, info)``, info the order of the first non-positive
    leading minor (0 = ok); that matrix's factor is NaN."""
    try:
        L = Cholesky.apply(A, upper)
        info = _make(xp.zeros(A.shape[:-2], dtype=xp.int32))
    except LinAlgError:
        if check_errors:
            raise
        a = A._data
        mats = _matrices(a)
        info = xp.zeros(mats.shape[0], dtype=xp.int32)
        Ls = xp.full(mats.shape, xp.nan, dtype=a.dtype)
        for i, m in enumerate(mats):
            try:
                Ls[i] = xp.linalg.cholesky(m)
            except xp.linalg.LinAlgError:
                info[i] = int(str(_not_pd(m, "")).rsplit("order ", 1)[1].split(" ")[0])
        Ls = Ls.reshape(a.shape)
        L = _make(Ls.swapaxes(-1, -2).copy() if upper else Ls)
        info = _make(info.reshape(a.shape[:-2]))
    return linalg_cholesky_ex(_out(L, out and out[0]), info)


# -- matrix power -----------------------------------------------------------------------------
def matrix_power(A: Tensor, n: int, *, out=None) -> Tensor:
    """A^n by repeated squaring (n < 0: of the inverse; n = 0: the identity)."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"linalg_matrix_power(): argument 'n' (position 2) must be int, not "
                        f"{type(n).__name__}")
    if A.ndim < 2:
        raise RuntimeError("linalg.matrix_power: The input tensor A must have at least 2 "
                           "dimensions.")
    if A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"linalg.matrix_power: A must be batches of square matrices, but "
                           f"they are {A.shape[-2]} by {A.shape[-1]} matrices")
    if n == 0:
        eye = xp.broadcast_to(xp.eye(A.shape[-1], dtype=A._data.dtype), A.shape)
        return _out(_make(eye.copy()), out)
    if n < 0:
        check_float(A, "linalg.inv")
        A, n = Inv.apply(A), -n
        if n == 1:
            return _out(A, out)
    if n == 1:
        return _out(A.clone(), out)
    result, z = None, A
    while n:
        if n & 1:
            result = z if result is None else result @ z
        n >>= 1
        if n:
            z = z @ z
    return _out(result, out)


def _out(result: Tensor, out) -> Tensor:
    if out is None:
        return result
    from .._ops.inplace import copy_into_out
    return copy_into_out(out, result)
