"""The matrix exponential and the smaller torch.linalg functions composed from other ops:
``matrix_exp``, ``diagonal``, ``vander``, ``cond``, ``solve_ex``, ``tensorinv``,
``tensorsolve``, ``householder_product``, and ``eig``/``eigvals`` (forward only: their
results are complex).

matrix_exp uses scaling and squaring with a Taylor polynomial: each matrix is scaled by
2^-s until its 1-norm is at most 1/2, where 18 Taylor terms reach float64 rounding, and the
result is squared s times. Its gradient is the upper-right block of the exponential of the
block matrix [[A^T, g], [0, A^T]] (the Fréchet derivative in the direction g), itself a
matrix_exp, so double backward works.
"""

from __future__ import annotations

import math

from .._ops._jvp import primal
from .._ops._util import Op, Tensor, _make, xp
from ._common import check_matrix, return_type
from ._solve import Inv, Solve, _out

__all__ = ["matrix_exp", "diagonal", "vander", "cond", "solve_ex", "tensorinv", "tensorsolve",
           "householder_product", "eig", "eigvals"]

linalg_solve_ex = return_type("linalg_solve_ex", "result info")
linalg_eig = return_type("linalg_eig", "eigenvalues eigenvectors")

_TAYLOR_TERMS = 18


def _expm(a):
    if a.size == 0:
        return a.copy()
    norm = xp.abs(a).sum(axis=-2).max(axis=-1)          # the 1-norm of each matrix
    with xp.errstate(divide="ignore"):
        s = xp.maximum(xp.ceil(xp.log2(norm / 0.5)), 0)
    s = xp.where(xp.isfinite(s), s, 0).astype(xp.int64)
    x = a / (2.0 ** s)[..., None, None].astype(a.dtype)
    n = a.shape[-1]
    eye = xp.eye(n, dtype=a.dtype)
    # Horner: I + x(I + x/2 (I + x/3 (...)))
    acc = eye + x / _TAYLOR_TERMS
    for k in range(_TAYLOR_TERMS - 1, 0, -1):
        acc = eye + (x @ acc) / k
    for i in range(int(s.max(initial=0))):
        sq = acc @ acc
        acc = xp.where((i < s)[..., None, None], sq, acc)
    return acc


class MatrixExp(Op):
    """gA = the upper-right block of exp([[A^T, g], [0, A^T]])"""

    node_name = "LinalgMatrixExpBackward0"

    @staticmethod
    def forward(ctx, A):
        a = check_matrix(A, "linalg.matrix_exp", square=True)
        ctx.save_for_backward(A)
        with xp.errstate(all="ignore"):
            return _expm(a)

    @staticmethod
    def backward(ctx, g):
        A, = ctx.saved_tensors
        return _frechet(A.mT.expand(g.shape), g)

    @staticmethod
    def jvp(inputs, out, tangents):
        """d exp(A) = the upper-right block of exp([[A, dA], [0, A]])"""
        return _frechet(primal(inputs[0]), tangents[0])


def _frechet(A: Tensor, E: Tensor) -> Tensor:
    """The Fréchet derivative of the matrix exponential at A in the direction E: the
    upper-right block of exp([[A, E], [0, A]]) (gA is the one at A^T in the direction g)."""
    from .._ops.joining import cat
    n = A.shape[-1]
    top = cat([A, E], -1)
    bottom = cat([E.new_zeros(E.shape), A], -1)
    return MatrixExp.apply(cat([top, bottom], -2))[..., :n, n:]


def matrix_exp(A: Tensor) -> Tensor:
    """The matrix exponential ``sum_k A^k / k!`` of a square matrix (or a batch)."""
    return MatrixExp.apply(A)


def diagonal(A: Tensor, *, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """``torch.diagonal`` with the matrix dims last by default."""
    from .._ops.shape import diagonal as _diagonal
    return _diagonal(A, offset, dim1, dim2)


def vander(x: Tensor, N: int | None = None) -> Tensor:
    """The Vandermonde matrix with columns ``x**0, x**1, ..., x**(N-1)``."""
    from .._ops.joining import cat
    n = (x.shape[-1] if x.ndim else 0) if N is None else N
    if n <= 1:
        raise RuntimeError("N must be greater than 1.")
    if x.dtype.is_floating_point or x.dtype.is_complex:
        powers = x.unsqueeze(-1).expand(x.shape + (n - 1,)).cumprod(-1)
    else:
        powers = x.long().unsqueeze(-1).expand(x.shape + (n - 1,)).cumprod(-1).to(x.dtype)
    return cat([x.new_ones(x.shape + (1,)).to(powers.dtype), powers], -1)


def cond(A: Tensor, p=None, *, out=None) -> Tensor:
    """The condition number of A in the norm ``p`` (None or ±2: the ratio of the extreme
    singular values)."""
    from . import matrix_norm, svdvals
    if p is None or p in (2, -2):
        check_matrix(A, "linalg.cond")
        s = svdvals(A)
        if s.shape[-1] == 0:
            return _out(s.sum(-1), out)
        big, small = s[..., 0], s[..., -1]
        return _out(big / small if p in (None, 2) else small / big, out)
    check_matrix(A, "linalg.cond", square=True)
    if p not in ("fro", "nuc", math.inf, -math.inf, 1, -1):
        raise RuntimeError(f"linalg.cond got an invalid norm type: {p}")
    singular = _make(xp.asarray(xp.linalg.matrix_rank(A._data) < A.shape[-1]))
    inv = Inv.apply(A, "linalg.cond", False)
    from .._ops.indexing import where
    from .._ops.pointwise import nan_to_num
    value = matrix_norm(A, p) * matrix_norm(nan_to_num(inv), p)
    return _out(where(singular, math.inf, value), out)


def solve_ex(A: Tensor, B: Tensor, *, left: bool = True, check_errors: bool = False,
             out=None):
    """``(result, info)``: ``linalg.solve`` that reports a singular matrix in ``info``
    (its first zero pivot) instead of raising, unless ``check_errors``."""
    from ._common import LinAlgError
    from ._lu import _getrf
    try:
        X = Solve.apply(A, B, left)
        info = _make(xp.zeros(A.shape[:-2], dtype=xp.int32))
    except LinAlgError:
        if check_errors:
            raise
        _, _, infos = _getrf(A._data)
        with xp.errstate(all="ignore"):
            X = _make(xp.full(xp.broadcast_shapes(A.shape[:-1], B.shape[:-1]) + B.shape[-1:]
                              if B.ndim > 1 else A.shape[:-1], xp.nan, dtype=A._data.dtype))
        info = _make(infos)
    if out is not None:
        X, info = _out(X, out[0]), _out(info, out[1])
    return linalg_solve_ex(X, info)


def _prod(shape) -> int:
    return int(math.prod(shape))


def tensorinv(A: Tensor, ind: int = 2, *, out=None) -> Tensor:
    """The inverse of A with respect to ``tensordot`` over ``ind`` leading dims."""
    if ind <= 0:
        raise RuntimeError(f"Expected a strictly positive integer for 'ind', but got {ind}")
    rows, cols = tuple(A.shape[:ind]), tuple(A.shape[ind:])
    if _prod(rows) != _prod(cols):
        raise RuntimeError("Expected self to satisfy the requirement "
                           "prod(self.shape[ind:]) == prod(self.shape[:ind]), but got "
                           f"{_prod(cols)} != {_prod(rows)}")
    inv = Inv.apply(A.reshape(_prod(rows), _prod(cols)))
    return _out(inv.reshape(cols + rows), out)


def tensorsolve(A: Tensor, B: Tensor, dims=None, *, out=None) -> Tensor:
    """The X with ``tensordot(A, X, X.ndim) == B``."""
    if dims is not None:
        nd = A.ndim
        dims = [d % nd for d in dims]
        rest = [d for d in range(nd) if d not in dims]
        A = A.permute(*(rest + dims))
    rows = _prod(B.shape)
    xshape = tuple(A.shape[B.ndim:])
    if _prod(A.shape) != rows * _prod(xshape) or _prod(xshape) != rows:
        raise RuntimeError("Expected self to satisfy the requirement "
                           "prod(self.shape[other.ndim:]) == prod(self.shape[:other.ndim]), "
                           f"but got {_prod(xshape)} != {rows}")
    X = Solve.apply(A.reshape(rows, rows), B.reshape(rows))
    return _out(X.reshape(xshape), out)


def householder_product(A: Tensor, tau: Tensor, *, out=None) -> Tensor:
    """The first n columns of ``H_1 ... H_k``, ``H_i = I - tau_i v_i v_i^T`` with v_i the
    i-th column of A below the diagonal and a unit i-th entry (LAPACK's orgqr)."""
    from .._ops.indexing import where
    m, n = A.shape[-2:]
    k = tau.shape[-1]
    if not (m >= n >= k):
        raise RuntimeError("torch.linalg.householder_product: input.shape[-2] must be greater "
                           "than or equal to input.shape[-1]" if m < n else
                           "torch.linalg.householder_product: input.shape[-1] must be greater "
                           "than or equal to tau.shape[-1]")
    rows = xp.arange(m)
    Q = _make(xp.eye(m, n, dtype=A._data.dtype))
    # Apply H_k, ..., H_1 to the first n columns of the identity, from the right end.
    for i in range(k - 1, -1, -1):
        below = _make(rows > i)
        at = _make(rows == i)
        v = where(at, 1.0, where(below, A[..., :, i], 0.0))
        Q = Q - tau[..., i, None, None] * v.unsqueeze(-1) * (v.unsqueeze(-2) @ Q)
    return _out(Q, out)


def _no_forward_ad(A: Tensor, fn: str) -> None:
    from ..autograd.forward_ad import get_tangent
    if get_tangent(A) is not None:
        raise NotImplementedError(f"{fn}: forward-mode AD is not implemented yet in ember")


def eig(A: Tensor, *, out=None):
    """``(eigenvalues, eigenvectors)`` (complex) of a general square matrix; no gradient."""
    _no_forward_ad(A, "linalg.eig")
    a = check_matrix(A, "linalg.eig", square=True)
    w, v = xp.linalg.eig(a)
    cdt = xp.complex64 if a.dtype == xp.float32 else xp.complex128
    return linalg_eig(_make(w.astype(cdt)), _make(v.astype(cdt)))


def eigvals(A: Tensor, *, out=None) -> Tensor:
    """The (complex) eigenvalues of a general square matrix; no gradient."""
    _no_forward_ad(A, "linalg.eigvals")
    a = check_matrix(A, "linalg.eigvals", square=True)
    cdt = xp.complex64 if a.dtype == xp.float32 else xp.complex128
    return _make(xp.linalg.eigvals(a).astype(cdt))
