"""LU factorization with partial pivoting, triangular solves and the solves built on them
(``lu_factor``, ``lu``, ``lu_solve``, ``solve_triangular``, ``lu_unpack``, and the legacy
``triangular_solve``, ``cholesky_solve``, ``cholesky_inverse``), with gradients.

NumPy has no LU, so the factorization is Doolittle elimination with LAPACK's pivot rule
(the first row of largest magnitude), vectorised over the batch: the loop runs over
columns. Backward formulas: with A = P L U and a gradient gA,
gL = tril(P^T gA U^T, -1), gU = triu(L^T P^T gA), and conversely (square A)
gA = P L^-T (tril(L^T gL, -1) + triu(gU U^T)) U^-T.
"""

from __future__ import annotations

from .._ops._jvp import fit, primal
from .._ops._util import Op, Tensor, _make, check_values, xp
from ._common import check_matrix, return_type, type_name
from ._solve import Inv, Solve, _out

__all__ = ["lu_factor", "lu_factor_ex", "lu", "lu_solve", "solve_triangular", "lu_unpack"]

linalg_lu_factor = return_type("linalg_lu_factor", "LU pivots")
linalg_lu_factor_ex = return_type("linalg_lu_factor_ex", "LU pivots info")
linalg_lu = return_type("linalg_lu", "P L U")
lu_unpack_type = return_type("lu_unpack", "P L U")
triangular_solve_type = return_type("triangular_solve", "solution cloned_coefficient")


# -- the factorization on arrays --------------------------------------------------------------
def _getrf(a):
    """(LU, pivots (1-based, int32), info): LAPACK getrf's outputs for a batch of m x n."""
    batch, (m, n) = a.shape[:-2], a.shape[-2:]
    k = min(m, n)
    lu = a.reshape((-1, m, n)).copy()
    b = lu.shape[0]
    rows = xp.arange(b)
    piv = xp.zeros((b, k), dtype=xp.int32)
    info = xp.zeros(b, dtype=xp.int32)
    for j in range(k):
        p = j + xp.argmax(xp.abs(lu[:, j:, j]), axis=-1) if m > j else xp.full(b, j)
        piv[:, j] = p + 1
        top = lu[rows, j].copy()
        lu[rows, j] = lu[rows, p]
        lu[rows, p] = top
        pivot = lu[:, j, j]
        zero = pivot == 0
        info = xp.where(zero & (info == 0), j + 1, info)
        safe = xp.where(zero, 1.0, pivot).astype(lu.dtype)
        lu[:, j + 1:, j] = xp.where(zero[:, None], lu[:, j + 1:, j], lu[:, j + 1:, j]
                                    / safe[:, None])
        lu[:, j + 1:, j + 1:] -= lu[:, j + 1:, j:j + 1] * lu[:, j:j + 1, j + 1:]
    return (lu.reshape(batch + (m, n)), piv.reshape(batch + (k,)), info.reshape(batch))


def _perm(piv, m: int):
    """The row order ``perm`` with A[perm] = L U, from getrf's 1-based row swaps."""
    flat = piv.reshape((-1, piv.shape[-1])).astype(xp.int64) - 1
    b = flat.shape[0]
    perm = xp.broadcast_to(xp.arange(m), (b, m)).copy()
    rows = xp.arange(b)
    for j in range(flat.shape[1]):
        p = flat[:, j]
        top = perm[rows, j].copy()
        perm[rows, j] = perm[rows, p]
        perm[rows, p] = top
    return perm.reshape(piv.shape[:-1] + (m,))


def _perm_matrix(piv, m: int, dtype):
    """P with A = P L U: P[perm[i], i] = 1."""
    perm = _perm(piv, m)
    eye = xp.eye(m, dtype=dtype)
    return xp.swapaxes(eye[perm], -1, -2).copy()


def _unpack(lu):
    m, n = lu.shape[-2:]
    k = min(m, n)
    L = xp.tril(lu[..., :, :k], -1) + xp.eye(m, k, dtype=lu.dtype)
    U = xp.triu(lu[..., :k, :])
    return L, U


# -- differentiable helpers (Tensor ops) -------------------------------------------------------
def _tril(x: Tensor, k: int = 0) -> Tensor:
    from .._ops.strided import tril
    return tril(x, k)


def _triu(x: Tensor, k: int = 0) -> Tensor:
    from .._ops.strided import triu
    return triu(x, k)


def _lu_grad_from_a(P: Tensor, L: Tensor, U: Tensor, gA: Tensor) -> Tensor:
    """The packed-LU gradient of a function of A = P L U (square factors)."""
    PtgA = P.mT @ gA
    return _tril(PtgA @ U.mT, -1) + _triu(L.mT @ PtgA)


def _a_grad_from_lu(P: Tensor, L: Tensor, U: Tensor, gL, gU) -> Tensor:
    """gA for A = P L U (square) given gL (strictly lower part used) and gU."""
    inner = 0
    if gL is not None:
        inner = _tril(L.mT @ gL, -1)
    if gU is not None:
        inner = inner + _triu(gU @ U.mT)
    return P @ Inv.apply(L).mT @ inner @ Inv.apply(U).mT


def _lu_jvp(P: Tensor, L: Tensor, U: Tensor, dA: Tensor) -> tuple:
    """(dL, dU) for A = P L U (any m x n). Square: with X = L^-1 P^T dA U^-1,
    dL = L tril(X, -1) and dU = triu(X) U. Wide (L square): the first m columns as the
    square case, then dU2 = L^-1 P^T dA2 - tril(X, -1) U2. Tall (U square): the top n rows,
    then dL2 = (P^T dA U^-1)2 - L2 triu(X)."""
    from .._ops.joining import cat
    m, n = L.shape[-2], U.shape[-1]
    PdA = P.mT @ dA
    if m <= n:
        Y = SolveTriangular.apply(L, PdA, False, True, True)            # L^-1 P^T dA
        X = SolveTriangular.apply(U[..., :m], Y[..., :m], True, False, False)
        low = _tril(X, -1)
        dU = _triu(X) @ U[..., :m]
        if m < n:
            dU = cat([dU, Y[..., m:] - low @ U[..., m:]], -1)
        return L @ low, dU
    Z = SolveTriangular.apply(U, PdA, True, False, False)               # P^T dA U^-1
    X = SolveTriangular.apply(L[..., :n, :], Z[..., :n, :], False, True, True)
    up = _triu(X)
    dL = cat([L[..., :n, :] @ _tril(X, -1), Z[..., n:, :] - L[..., n:, :] @ up], -2)
    return dL, up @ U


def _factors(LU: Tensor, pivots) -> tuple:
    """P (a constant), L, U from a packed LU, with Tensor ops (differentiable in LU)."""
    m, n = LU.shape[-2:]
    k = min(m, n)
    dtype = LU._data.dtype
    L = _tril(LU[..., :, :k], -1) + _make(xp.eye(m, k, dtype=dtype))
    U = _triu(LU[..., :k, :])
    return _make(_perm_matrix(pivots._data, m, dtype)), L, U


def _check_square_grad(m: int, n: int, fn: str):
    if m != n:
        raise NotImplementedError(f"{fn}: the derivative for non-square matrices is not "
                                  "implemented in ember")


class LuFactor(Op):
    """LU = L - I + U with A = P L U: gA = P L^-T (tril(L^T gLU, -1) + triu(gLU U^T)) U^-T"""

    node_name = "LinalgLuFactorExBackward0"

    @staticmethod
    def forward(ctx, A, fn="linalg.lu_factor_ex"):
        a = check_matrix(A, fn)
        lu, piv, info = _getrf(a)
        ctx.save_for_backward(lu, piv)
        ctx.mark_non_differentiable(piv, info)
        return lu, piv, info

    @staticmethod
    def backward(ctx, g, g_piv, g_info):
        lu, piv = ctx.saved_tensors
        m, n = lu.shape[-2:]
        _check_square_grad(m, n, "linalg.lu_factor")
        L, U = (_make(x) for x in _unpack(lu._data))
        P = _make(_perm_matrix(piv._data, m, lu._data.dtype))
        return _a_grad_from_lu(P, L, U, g, g), None

    @staticmethod
    def jvp(inputs, out, tangents):
        """dLU = dL + dU of A = P L U, packed like LU"""
        from .._ops.joining import cat
        LU, piv = out[0], out[1]
        m, n = LU.shape[-2:]
        dL, dU = _lu_jvp(*_factors(LU, piv), tangents[0])
        if m > n:
            dU = cat([dU, dU.new_zeros(dU.shape[:-2] + (m - n, n))], -2)
        elif m < n:
            dL = cat([dL, dL.new_zeros(dL.shape[:-2] + (m, n - m))], -1)
        return dL + dU, None, None


class Lu(Op):
    """A = P L U: gA = P L^-T (tril(L^T gL, -1) + triu(gU U^T)) U^-T"""

    node_name = "LinalgLuBackward0"

    @staticmethod
    def forward(ctx, A, pivot=True):
        a = check_matrix(A, "linalg.lu")
        if not pivot:
            raise RuntimeError("linalg.lu_factor: LU without pivoting is not implemented on "
                               "the CPU")
        lu, piv, _ = _getrf(a)
        L, U = _unpack(lu)
        P = _perm_matrix(piv, a.shape[-2], a.dtype)
        ctx.save_for_backward(P, L, U)
        ctx.mark_non_differentiable(P)
        return P, L, U

    @staticmethod
    def backward(ctx, gP, gL, gU):
        P, L, U = ctx.saved_tensors
        _check_square_grad(L.shape[-2], U.shape[-1], "linalg.lu")
        return _a_grad_from_lu(P, L, U, gL, gU), None

    @staticmethod
    def jvp(inputs, out, tangents):
        return (None,) + _lu_jvp(*out, tangents[0])


class LuUnpack(Op):
    """(P, L, U) from the packed LU: gLU = tril(gL, -1) + triu(gU) (placed in LU's shape)"""

    node_name = "LuUnpackBackward0"

    @staticmethod
    def forward(ctx, LU, pivots, unpack_data=True, unpack_pivots=True):
        lu = LU._data
        m, n = lu.shape[-2:]
        ctx.shape = (m, n)
        L, U = _unpack(lu) if unpack_data else (xp.empty((0,), lu.dtype),) * 2
        P = (_perm_matrix(pivots._data, m, lu.dtype) if unpack_pivots
             else xp.empty((0,), lu.dtype))
        ctx.mark_non_differentiable(P)
        return P, L, U

    @staticmethod
    def backward(ctx, gP, gL, gU):
        from .._ops.joining import cat
        m, n = ctx.shape
        k = min(m, n)
        parts_l = _tril(gL, -1)
        parts_u = _triu(gU)
        if m > k:
            parts_u = cat([parts_u, parts_u.new_zeros(parts_u.shape[:-2] + (m - k, n))], -2)
        if n > k:
            parts_l = cat([parts_l, parts_l.new_zeros(parts_l.shape[:-2] + (m, n - k))], -1)
        return parts_l + parts_u, None, None, None

    @staticmethod
    def jvp(inputs, out, tangents):
        """dL = tril(dLU, -1), dU = triu(dLU) (their columns/rows of LU)"""
        dLU, unpack_data = tangents[0], inputs[2] if len(inputs) > 2 else True
        if dLU is None or not unpack_data:
            return None, None, None
        k = min(dLU.shape[-2:])
        return None, _tril(dLU[..., :, :k], -1), _triu(dLU[..., :k, :])


# -- triangular solves --------------------------------------------------------------------------
def _triangle(a, upper: bool, unit: bool):
    t = xp.triu(a) if upper else xp.tril(a)
    if unit:
        n = a.shape[-1]
        t = t.copy()
        t[..., xp.arange(n), xp.arange(n)] = 1
    return t


def _solve_tri_arrays(a, b, upper, left, unit):
    t = _triangle(a, upper, unit)
    with xp.errstate(all="ignore"):
        if left:
            return _solve_any(t, b)
        return xp.swapaxes(_solve_any(xp.swapaxes(t, -1, -2), xp.swapaxes(b, -1, -2)), -1, -2)


def _solve_any(t, b):
    """t^-1 b for triangular t; a zero on the diagonal gives inf/nan like LAPACK's trtrs."""
    try:
        return xp.linalg.solve(t, b)
    except xp.linalg.LinAlgError:
        # Back substitution by columns, which divides by the zero pivot as trsm does.
        n = t.shape[-1]
        t, b = xp.broadcast_arrays(t[..., None, :, :], b[..., None, :, :])
        t, b = t[..., 0, :, :], b[..., 0, :, :].astype(t.dtype).copy()
        lower = bool(xp.all(xp.triu(t, 1) == 0))
        order = range(n) if lower else range(n - 1, -1, -1)
        x = xp.zeros_like(b)
        for i in order:
            x[..., i, :] = (b[..., i, :] - (t[..., i:i + 1, :] @ x)[..., 0, :]) / t[..., i, i,
                                                                                 None]
        return x


class SolveTriangular(Op):
    """X = T^-1 B (left) or B T^-1: gB = T^-T g (or g T^-T), gT = -gB X^T (or -X^T gB),
    kept to T's triangle (strict with a unit diagonal)"""

    node_name = "LinalgSolveTriangularBackward0"

    @staticmethod
    def forward(ctx, A, B, upper, left=True, unitriangular=False):
        a, b = A._data, B._data
        x = _solve_tri_arrays(a, b, upper, left, unitriangular)
        ctx.flags = (upper, left, unitriangular)
        ctx.save_for_backward(A, x)
        return x

    @staticmethod
    def backward(ctx, g):
        A, X = ctx.saved_tensors
        upper, left, unit = ctx.flags
        need_a, need_b = ctx.needs_input_grad[:2]
        gB = SolveTriangular.apply(A.mT, g, not upper, left, unit)
        gA = None
        if need_a:
            gA = -(gB @ X.mT) if left else -(X.mT @ gB)
            k = 1 if unit else 0
            gA = _triu(gA, k) if upper else _tril(gA, -k)
        return gA, gB if need_b else None, None, None, None

    @staticmethod
    def jvp(inputs, out, tangents):
        """dX = T^-1 (dB - dT X) (left), (dB - X dT) T^-1 (right); dT = dA's triangle"""
        A, upper = primal(inputs[0]), inputs[2]
        left = inputs[3] if len(inputs) > 3 else True
        unit = inputs[4] if len(inputs) > 4 else False
        tA, tB = tangents[:2]
        rhs = tB
        if tA is not None:
            dT = _triangle_of(tA, upper, unit)
            dTX = dT @ out if left else out @ dT
            rhs = -dTX if rhs is None else rhs - dTX
        return fit(SolveTriangular.apply(A, rhs, upper, left, unit), out)


def _triangle_of(t: Tensor, upper: bool, unit: bool) -> Tensor:
    """The part of ``t`` a triangular solve reads (strict when the diagonal is unit)."""
    k = 1 if unit else 0
    return _triu(t, k) if upper else _tril(t, -k)


def _check_same_dtype(a, b, fn: str):
    if a.dtype != b.dtype:
        raise RuntimeError(f"{fn}: Expected A and B to have the same dtype, but found A of "
                           f"type {type_name(a)} and B of type {type_name(b)} instead")


def solve_triangular(A: Tensor, B: Tensor, *, upper: bool, left: bool = True,
                     unitriangular: bool = False, out=None) -> Tensor:
    """The solution X of ``A X = B`` (``X A = B`` if not ``left``) for triangular A."""
    check_matrix(A, "linalg.solve_triangular")
    if B.ndim < 2:
        raise RuntimeError("linalg.solve_triangular: The input tensor B must have at least 2 "
                           "dimensions.")
    _check_same_dtype(A._data, B._data, "linalg.solve_triangular")
    return _out(SolveTriangular.apply(A, B, bool(upper), bool(left), bool(unitriangular)), out)


class TriangularSolve(Op):
    """torch.triangular_solve: op(A) X = b with op = transpose if ``transpose``; the second
    output is a copy of A (its gradient flows straight back to A)"""

    node_name = "TriangularSolveBackward0"

    @staticmethod
    def forward(ctx, b, A, upper=True, transpose=False, unitriangular=False):
        a = A._data
        t = xp.swapaxes(a, -1, -2) if transpose else a
        x = _solve_tri_arrays(t, b._data, upper != transpose, True, unitriangular)
        ctx.flags = (upper, transpose, unitriangular)
        ctx.save_for_backward(A, x)
        return x, xp.broadcast_to(a, x.shape[:-2] + a.shape[-2:]).copy()

    @staticmethod
    def backward(ctx, gX, gM):
        A, X = ctx.saved_tensors
        upper, transpose, unit = ctx.flags
        opA = A.mT if transpose else A
        gb = SolveTriangular.apply(opA.mT, gX, upper == transpose, True, unit)
        gA = -(gb @ X.mT)
        if transpose:
            gA = gA.mT
        k = 1 if unit else 0
        gA = _triu(gA, k) if upper else _tril(gA, -k)
        gA = gA + gM
        return gb, gA, None, None, None

    @staticmethod
    def jvp(inputs, out, tangents):
        """op(T) X = b: dX = op(T)^-1 (db - op(dT) X), dT = dA's triangle; the coefficient's
        copy carries dA. (PyTorch 2.13's rule uses dA whole and untransposed: the same for a
        triangular dA without transpose, wrong otherwise, which ember does not copy.)"""
        A, upper = primal(inputs[1]), inputs[2] if len(inputs) > 2 else True
        transpose = inputs[3] if len(inputs) > 3 else False
        unit = inputs[4] if len(inputs) > 4 else False
        tb, tA = tangents[:2]
        X = out[0]
        rhs = tb
        if tA is not None:
            dT = _triangle_of(tA, upper, unit)
            dTX = (dT.mT if transpose else dT) @ X
            rhs = -dTX if rhs is None else rhs - dTX
        opA = A.mT if transpose else A
        dX = fit(SolveTriangular.apply(opA, rhs, upper != transpose, True, unit), X)
        return dX, fit(tA, out[1])


def triangular_solve(b: Tensor, A: Tensor, upper: bool = True, transpose: bool = False,
                     unitriangular: bool = False):
    """``(solution, cloned_coefficient)`` of ``op(A) X = b`` (deprecated form of
    ``linalg.solve_triangular``)."""
    if b.ndim < 2 or A.ndim < 2:
        raise RuntimeError(f"torch.triangular_solve: Expected b to have at least 2 dimensions, "
                           f"but it has {b.ndim} dimensions instead")
    return triangular_solve_type(*TriangularSolve.apply(b, A, bool(upper), bool(transpose),
                                                        bool(unitriangular)))


# -- the public LU functions ----------------------------------------------------------------
def lu_factor_ex(A: Tensor, *, pivot: bool = True, check_errors: bool = False, out=None):
    """``(LU, pivots, info)``: LU with partial pivoting, L's unit diagonal left implicit;
    info is the first zero pivot (1-based, 0 = none)."""
    if not pivot:
        raise RuntimeError("linalg.lu_factor: LU without pivoting is not implemented on the "
                           "CPU")
    lu, piv, info = LuFactor.apply(A)
    if check_errors and bool((info._data != 0).any()):
        raise RuntimeError("torch.linalg.lu_factor_ex: The factorization could not be "
                           "completed because the input is singular.")
    if out is not None:
        lu, piv, info = _out(lu, out[0]), _out(piv, out[1]), _out(info, out[2])
    return linalg_lu_factor_ex(lu, piv, info)


def lu_factor(A: Tensor, *, pivot: bool = True, out=None):
    """``(LU, pivots)``: LU with partial pivoting (raises for a singular matrix)."""
    lu, piv, info = LuFactor.apply(A, "linalg.lu_factor")
    codes = check_values(info).reshape(-1)  # under vmap: every sample's
    bad = xp.flatnonzero(codes)
    if bad.size:
        i = int(bad[0])
        prefix = f"(Batch element {i}): " if A.ndim > 2 or codes.size > 1 else ""
        from ._common import LinAlgError
        raise LinAlgError(f"torch.linalg.lu_factor: {prefix}U[{int(codes[i])},"
                          f"{int(codes[i])}] is zero and using it on "
                          "lu_solve would result in a division by zero. If you still want to "
                          "perform the factorization, consider calling linalg.lu(A, pivot) or "
                          "linalg.lu_factor_ex(A, pivot)")
    if out is not None:
        lu, piv = _out(lu, out[0]), _out(piv, out[1])
    return linalg_lu_factor(lu, piv)


def lu(A: Tensor, *, pivot: bool = True, out=None):
    """``(P, L, U)`` with ``A = P L U``, L unit lower triangular, U upper triangular."""
    P, L, U = Lu.apply(A, pivot)
    if out is not None:
        P, L, U = _out(P, out[0]), _out(L, out[1]), _out(U, out[2])
    return linalg_lu(P, L, U)


def lu_unpack(LU_data: Tensor, LU_pivots: Tensor, unpack_data: bool = True,
              unpack_pivots: bool = True, *, out=None):
    """``(P, L, U)`` from ``lu_factor``'s packed output."""
    P, L, U = LuUnpack.apply(LU_data, LU_pivots, unpack_data, unpack_pivots)
    return lu_unpack_type(P, L, U)


class LuSolve(Op):
    """X = A^-1 B with A = P L U given packed: gB = A^-T g; gLU from gA = -gB X^T"""

    node_name = "LinalgLuSolveBackward0"

    @staticmethod
    def forward(ctx, LU, pivots, B, left=True, adjoint=False):
        lu, b = LU._data, B._data
        L, U = _unpack(lu)
        P = _perm_matrix(pivots._data, lu.shape[-1], lu.dtype)
        A = P @ L @ U
        if adjoint:
            A = xp.swapaxes(A, -1, -2)
        with xp.errstate(all="ignore"):
            if left:
                x = _solve_any(A, b)
            else:
                x = xp.swapaxes(_solve_any(xp.swapaxes(A, -1, -2), xp.swapaxes(b, -1, -2)),
                                -1, -2)
        ctx.flags = (left, adjoint)
        ctx.save_for_backward(_make(P), _make(L), _make(U), x)
        return x

    @staticmethod
    def backward(ctx, g):
        P, L, U, X = ctx.saved_tensors
        left, adjoint = ctx.flags
        A = P @ L @ U
        opA = A.mT if adjoint else A
        gB = Solve.apply(opA.mT, g, left)
        need_lu, _, need_b = ctx.needs_input_grad[:3]
        gLU = None
        if need_lu:
            gopA = -(gB @ X.mT) if left else -(X.mT @ gB)
            gA = gopA.mT if adjoint else gopA
            gLU = _lu_grad_from_a(P, L, U, gA)
        return gLU, None, gB if need_b else None, None, None

    @staticmethod
    def jvp(inputs, out, tangents):
        """dX = op(A)^-1 (dB - op(dA) X) (left; right: (dB - X op(dA)) op(A)^-1), with
        dA = P (dL U + L dU) from dLU"""
        LU, pivots = primal(inputs[0]), inputs[1]
        left = inputs[3] if len(inputs) > 3 else True
        adjoint = inputs[4] if len(inputs) > 4 else False
        tLU, tB = tangents[0], tangents[2]
        rhs = tB
        if tLU is not None:
            P, L, U = _factors(LU, pivots)
            dA = P @ (_tril(tLU, -1) @ U + L @ _triu(tLU))
            dA = dA.mT if adjoint else dA
            dAX = dA @ out if left else out @ dA
            rhs = -dAX if rhs is None else rhs - dAX
        return fit(LuSolve.apply(LU, pivots, rhs, left, adjoint), out)


def lu_solve(LU: Tensor, pivots: Tensor, B: Tensor, *, left: bool = True,
             adjoint: bool = False, out=None) -> Tensor:
    """The solution X of ``A X = B`` given ``lu_factor(A)`` (``X A = B`` if not ``left``;
    with ``A^T`` if ``adjoint``)."""
    return _out(LuSolve.apply(LU, pivots, B, bool(left), bool(adjoint)), out)


def lu_solve_legacy(b: Tensor, LU_data: Tensor, LU_pivots: Tensor, *, out=None) -> Tensor:
    """``torch.lu_solve(b, LU_data, LU_pivots)`` (deprecated argument order)."""
    return _out(LuSolve.apply(LU_data, LU_pivots, b, True, False), out)


def lu_legacy(A: Tensor, pivot: bool = True, get_infos: bool = False, out=None):
    """``torch.lu``: ``(LU, pivots)`` or, with ``get_infos``, ``(LU, pivots, infos)``."""
    lu, piv, info = LuFactor.apply(A, "torch.lu")
    return (lu, piv, info) if get_infos else (lu, piv)


# -- Cholesky-based legacy solves ----------------------------------------------------------
class CholeskySolve(Op):
    """X = (L L^T)^-1 B: gB = (L L^T)^-1 g, gL = -(gB X^T + X gB^T) L (upper: -U (...))"""

    node_name = "CholeskySolveBackward0"

    @staticmethod
    def forward(ctx, B, L, upper=False):
        b, fac = B._data, L._data
        A = xp.swapaxes(fac, -1, -2) @ fac if upper else fac @ xp.swapaxes(fac, -1, -2)
        with xp.errstate(all="ignore"):
            x = _solve_any(A, b)
        ctx.upper = upper
        ctx.save_for_backward(L, x)
        return x

    @staticmethod
    def backward(ctx, g):
        L, X = ctx.saved_tensors
        need_b, need_l = ctx.needs_input_grad[:2]
        gB = CholeskySolve.apply(g, L, ctx.upper)
        gL = None
        if need_l:
            common = gB @ X.mT + X @ gB.mT
            gL = -(L @ common) if ctx.upper else -(common @ L)
        return gB if need_b else None, gL, None

    @staticmethod
    def jvp(inputs, out, tangents):
        """dX = A^-1 (dB - dA X), dA = dL L^T + L dL^T (upper: dU^T U + U^T dU)"""
        L, upper = primal(inputs[1]), inputs[2] if len(inputs) > 2 else False
        tB, tL = tangents[:2]
        rhs = tB
        if tL is not None:
            dAX = _cholesky_product_jvp(L, tL, upper) @ out
            rhs = -dAX if rhs is None else rhs - dAX
        return fit(CholeskySolve.apply(rhs, L, upper), out)


def _cholesky_product_jvp(L: Tensor, dL: Tensor, upper: bool) -> Tensor:
    """d(L L^T) = dL L^T + L dL^T (upper: d(U^T U))."""
    K = dL.mT @ L if upper else dL @ L.mT
    return K + K.mT


def cholesky_solve(B: Tensor, L: Tensor, upper: bool = False, *, out=None) -> Tensor:
    """The solution X of ``A X = B`` given A's Cholesky factor."""
    if B.ndim < 2 or L.ndim < 2:
        raise RuntimeError(f"b should have at least 2 dimensions, but has {B.ndim} dimensions "
                           "instead")
    return _out(CholeskySolve.apply(B, L, bool(upper)), out)


class CholeskyInverse(Op):
    """Y = (L L^T)^-1: gL = -Y (g + g^T) Y L (upper: -U Y (g + g^T) Y)"""

    node_name = "CholeskyInverseBackward0"

    @staticmethod
    def forward(ctx, L, upper=False):
        fac = check_matrix(L, "cholesky_inverse", square=True)
        A = xp.swapaxes(fac, -1, -2) @ fac if upper else fac @ xp.swapaxes(fac, -1, -2)
        with xp.errstate(all="ignore"):
            y = xp.linalg.inv(A)
        ctx.upper = upper
        ctx.save_for_backward(L, y)
        return y

    @staticmethod
    def backward(ctx, g):
        L, Y = ctx.saved_tensors
        common = Y @ (g + g.mT) @ Y
        return (-(L @ common) if ctx.upper else -(common @ L)), None

    @staticmethod
    def jvp(inputs, out, tangents):
        """dY = -Y dA Y, dA = dL L^T + L dL^T (upper: d(U^T U))"""
        L, upper = primal(inputs[0]), inputs[1] if len(inputs) > 1 else False
        return -(out @ _cholesky_product_jvp(L, tangents[0], upper) @ out)


def cholesky_inverse(L: Tensor, upper: bool = False, *, out=None) -> Tensor:
    """The inverse of ``A`` given its Cholesky factor."""
    return _out(CholeskyInverse.apply(L, bool(upper)), out)
