"""``parametrizations.orthogonal``: keep a weight (or a batch of them) orthogonal (unitary),
as ``Q = base @ map(X)`` of an unconstrained ``X``.

The maps follow PyTorch: ``matrix_exp`` (``exp(A)`` of the skew-symmetric ``A`` built from
``X``'s lower triangle; square weights), ``cayley`` (``(I - A/2)^-1 (I + A/2)``) and
``householder`` (products of reflections stored below ``X``'s diagonal; the default for
non-square weights). With ``use_trivialization`` (the default) the weight assigned or
registered is stored as the ``base`` buffer (its orthogonal QR factor) and ``X`` restarts at
the point that maps to the identity, so optimisation moves around ``base``.
"""

from __future__ import annotations

import math
from enum import Enum, auto

from ..._backend import xp
from ..._ops._util import Op, Tensor, _make
from ...autograd.grad_mode import no_grad
from ..modules.module import Module
from . import parametrize

__all__ = ["orthogonal"]


# -- matrix exponential ----------------------------------------------------------------------
_PADE13 = (64764752532480000.0, 32382376266240000.0, 7771770303897600.0, 1187353796428800.0,
           129060195264000.0, 10559470521600.0, 670442572800.0, 33522128640.0, 1323241920.0,
           40840800.0, 960960.0, 16380.0, 182.0, 1.0)
_THETA13 = 5.371920351148152


def _expm_array(a):
    """exp of each square matrix in ``a`` (..., n, n): Padé(13) with scaling and squaring
    (Higham 2005), computed in double precision."""
    out_dtype = a.dtype
    a = a.astype(xp.complex128 if a.dtype.kind == "c" else xp.float64)
    n = a.shape[-1]
    if a.size == 0:
        return a.astype(out_dtype)
    norm = float(xp.abs(a).sum(-2).max())
    s = max(0, math.ceil(math.log2(norm / _THETA13))) if norm > 0 else 0
    a = a / (2.0 ** s)
    b = _PADE13
    eye = xp.eye(n, dtype=a.dtype)
    a2 = a @ a
    a4 = a2 @ a2
    a6 = a4 @ a2
    u = a @ (a6 @ (b[13] * a6 + b[11] * a4 + b[9] * a2) + b[7] * a6 + b[5] * a4 + b[3] * a2
             + b[1] * eye)
    v = a6 @ (b[12] * a6 + b[10] * a4 + b[8] * a2) + b[6] * a6 + b[4] * a4 + b[2] * a2 \
        + b[0] * eye
    r = xp.linalg.solve(v - u, v + u)
    for _ in range(s):
        r = r @ r
    return r.astype(out_dtype)


class _MatrixExp(Op):
    """d exp(A) = L(A, dA);  dA = L(A^H, g): the top-right block of exp([[A^H, g], [0, A^H]])"""

    node_name = "LinalgMatrixExpBackward0"

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return _expm_array(a._data)

    @staticmethod
    def backward(ctx, g):
        a, = ctx.saved_tensors
        from ..._ops import cat
        ah = a.mH
        n = a.shape[-1]
        top = cat([ah, g], dim=-1)
        bottom = cat([g.new_zeros(g.shape), ah], dim=-1)
        return _MatrixExp.apply(cat([top, bottom], dim=-2))[..., :n, n:]

    @staticmethod
    def jvp(inputs, out, tangents):
        # The Frechet derivative L(A, dA): the top-right block of exp([[A, dA], [0, A]]).
        from ..._ops import cat
        from ...autograd.forward_ad import unpack_dual
        a, t = unpack_dual(inputs[0]).primal, tangents[0]
        n = a.shape[-1]
        top = cat([a, t], dim=-1)
        bottom = cat([t.new_zeros(t.shape), a], dim=-1)
        return _MatrixExp.apply(cat([top, bottom], dim=-2))[..., :n, n:]


def _matrix_exp(a: Tensor) -> Tensor:
    return _MatrixExp.apply(a)


# -- Householder products and QR -------------------------------------------------------------
def _householder_product(a: Tensor, tau: Tensor) -> Tensor:
    """The first ``k`` columns of ``H_1 ... H_k``, ``H_i = I - tau_i v_i v_i^H``, where
    ``v_i`` is column ``i`` of ``a`` below the diagonal with a unit diagonal entry (LAPACK's
    ``orgqr``); composed from differentiable ops."""
    from ..._creation import eye
    n, k = a.shape[-2], a.shape[-1]
    v = a.tril(-1) + eye(n, k, dtype=a.dtype)
    q = eye(n, dtype=a.dtype).expand(*a.shape[:-2], n, n)
    for i in range(k):
        vi = v[..., :, i:i + 1]
        q = q - (q @ vi) @ (tau[..., i, None, None] * vi.mH)
    return q[..., :, :k]


def _geqrf(a):
    """LAPACK ``geqrf`` of each matrix of ``a``: reflectors below the diagonal, ``R`` on and
    above it, and the scalars ``tau``."""
    lead = a.shape[:-2]
    flat = a.reshape((-1,) + a.shape[-2:])
    hs, taus = [], []
    for m in flat:
        h, tau = xp.linalg.qr(m, mode="raw")
        hs.append(h.T)
        taus.append(tau)
    k = min(a.shape[-2:])
    return (xp.stack(hs).reshape(a.shape).astype(a.dtype) if hs else a.copy(),
            xp.stack(taus).reshape(lead + (k,)).astype(a.dtype) if taus
            else xp.zeros(lead + (k,), a.dtype))


def _make_orthogonal(a):
    """The ``Q`` of ``a = QR`` (tall ``a``) with ``diag(R)`` real and non-negative."""
    q, r = xp.linalg.qr(a)
    d = xp.diagonal(r, axis1=-2, axis2=-1)
    sgn = xp.where(d == 0, 0, d / xp.where(d == 0, 1, xp.abs(d)))
    return (q * sgn[..., None, :]).astype(a.dtype)


def _is_orthogonal(q) -> bool:
    n, k = q.shape[-2:]
    eps = 10.0 * n * float(xp.finfo(q.dtype).eps)
    gram = xp.swapaxes(q.conj(), -1, -2) @ q
    return bool(xp.allclose(gram, xp.eye(k, dtype=q.dtype), rtol=1e-5, atol=eps))


# -- the parametrization ---------------------------------------------------------------------
class _OrthMaps(Enum):
    matrix_exp = auto()
    cayley = auto()
    householder = auto()


class _Orthogonal(Module):
    def __init__(self, weight: Tensor, orthogonal_map: _OrthMaps, *,
                 use_trivialization: bool = True) -> None:
        super().__init__()
        if weight.is_complex() and orthogonal_map == _OrthMaps.householder:
            raise ValueError("The householder parametrization does not support complex "
                             "tensors.")
        self.shape = weight.shape
        self.orthogonal_map = orthogonal_map
        if use_trivialization:
            self.register_buffer("base", None)

    def forward(self, X: Tensor) -> Tensor:
        n, k = X.size(-2), X.size(-1)
        transposed = n < k
        if transposed:
            X = X.mT
            n, k = k, n
        if self.orthogonal_map in (_OrthMaps.matrix_exp, _OrthMaps.cayley):
            X = X.tril()
            if n != k:
                from ..._ops import cat
                X = cat([X, X.new_zeros(n, n - k).expand(*X.shape[:-2], -1, -1)], dim=-1)
            A = X - X.mH
            if self.orthogonal_map == _OrthMaps.matrix_exp:
                Q = _matrix_exp(A)
            else:
                from ..._creation import eye
                from ...linalg import solve
                Id = eye(n, dtype=A.dtype)
                Q = solve(Id - 0.5 * A, Id + 0.5 * A)
            if n != k:
                Q = Q[..., :k]
        else:
            A = X.tril(diagonal=-1)
            tau = 2.0 / (1.0 + (A * A).sum(dim=-2))
            Q = _householder_product(A, tau)
            Q = Q * X.diagonal(dim1=-2, dim2=-1).int().unsqueeze(-2)
        if "base" in self._buffers:
            Q = self.base @ Q
        if transposed:
            Q = Q.mT
        return Q

    def right_inverse(self, Q: Tensor) -> Tensor:
        with no_grad():
            return self._right_inverse(Q)

    def _right_inverse(self, Q: Tensor) -> Tensor:
        if Q.shape != self.shape:
            raise ValueError(f"Expected a matrix or batch of matrices of shape {self.shape}. "
                             f"Got a tensor of shape {Q.shape}.")
        q = Q._data
        n, k = q.shape[-2:]
        transpose = n < k
        if transpose:
            q = xp.swapaxes(q, -1, -2)
            n, k = k, n
        if "base" not in self._buffers:
            if self.orthogonal_map in (_OrthMaps.cayley, _OrthMaps.matrix_exp):
                raise NotImplementedError("It is not possible to assign to the matrix "
                                          "exponential or the Cayley parametrizations when "
                                          "use_trivialization=False.")
            a, tau = _geqrf(q)
            d = xp.diagonal(a, axis1=-2, axis2=-1).copy()
            d = xp.sign(d)
            d[tau == 0.0] *= -1
            idx = xp.arange(k)
            a[..., idx, idx] = d
            out = _make(xp.ascontiguousarray(xp.swapaxes(a, -1, -2) if transpose else a))
            return out
        if n == k:
            base = q.copy() if _is_orthogonal(q) else _make_orthogonal(q)
        else:
            from ..._creation import randn
            extra = randn(*(q.shape[:-2] + (n, n - k)), dtype=Q.dtype)._data
            base = _make_orthogonal(xp.concatenate([q, extra], axis=-1))
        self.base = _make(base)
        neg_id = xp.zeros(Q.shape, dtype=q.dtype)
        m = min(Q.shape[-2:])
        neg_id[..., xp.arange(m), xp.arange(m)] = -1.0
        return _make(neg_id)


def orthogonal(module: Module, name: str = "weight", orthogonal_map: str | None = None, *,
               use_trivialization: bool = True) -> Module:
    """Constrain ``module.<name>`` to orthogonal (unitary) matrices.

    ``orthogonal_map`` is ``"matrix_exp"``, ``"cayley"`` or ``"householder"`` (default:
    ``matrix_exp`` for square or complex weights, else ``householder``).

    Example::

        layer = orthogonal(nn.Linear(20, 40))
        torch.dist(layer.weight.T @ layer.weight, torch.eye(20))  # ~0
    """
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if weight.ndim < 2:
        raise ValueError("Expected a matrix or batch of matrices. Got a tensor of "
                         f"{weight.ndim} dimensions.")
    if orthogonal_map is None:
        square = weight.size(-2) == weight.size(-1)
        orthogonal_map = "matrix_exp" if square or weight.is_complex() else "householder"
    orth_enum = getattr(_OrthMaps, orthogonal_map, None)
    if orth_enum is None:
        raise ValueError('orthogonal_map has to be one of "matrix_exp", "cayley", '
                         f'"householder". Got: {orthogonal_map}')
    orth = _Orthogonal(weight, orth_enum, use_trivialization=use_trivialization)
    parametrize.register_parametrization(module, name, orth, unsafe=True)
    return module
