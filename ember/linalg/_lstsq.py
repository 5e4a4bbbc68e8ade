"""``linalg.lstsq``: least-squares solutions of ``A X = B`` (minimum-norm when rank deficient),
computed from the SVD, reporting what torch's CPU LAPACK drivers report."""

from __future__ import annotations

from .._ops._jvp import fit, primal
from .._ops._util import Op, Tensor, _make, xp
from ._common import check_float, return_type, type_name
from ._spectral import pinv, pinv_jvp

__all__ = ["lstsq"]

linalg_lstsq = return_type("linalg_lstsq", "solution residuals rank singular_values")

_DRIVERS = ("gels", "gelsy", "gelsd", "gelss")


def _pinv_vjp(A: Tensor, P: Tensor, gP: Tensor) -> Tensor:
    """The gradient for ``A`` of ``P = pinv(A)`` given ``gP`` (Golub & Pereyra):
    -P^T gP P^T + (I - A P) gP^T P P^T + P^T P gP^T (I - P A)."""
    Pt, gt = P.mT, gP.mT
    gtP = gt @ P
    return -(Pt @ gP @ Pt) + (gtP @ Pt - A @ (P @ (gtP @ Pt))) + (Pt @ P) @ (gt - gtP @ A)


class LinalgLstsq(Op):
    """X = pinv(A) B;  dB = pinv(A)^T gX, dA = pinv's vjp at gX B^T; for the residuals
    r = ||A X - B||^2 (X optimal): dA = 2 (A X - B) gr X^T, dB = -2 (A X - B) gr"""

    node_name = "LinalgLstsqBackward0"

    @staticmethod
    def forward(ctx, A, B, solution, residuals, vector):
        ctx.vector = vector
        ctx.has_residuals = residuals.size > 0
        ctx.save_for_backward(A, B, solution)
        return solution, residuals

    @staticmethod
    def backward(ctx, gX, gR):
        A, B, X = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad[:2]
        if ctx.vector:
            B, X = B.unsqueeze(-1), X.unsqueeze(-1)
            gX = gX.unsqueeze(-1) if gX is not None else None
        gA = gB = None
        if gX is not None:
            P = pinv(A)
            gA = _pinv_vjp(A, P, gX @ B.mT) if need_a else None
            gB = P.mT @ gX if need_b else None
        if gR is not None and ctx.has_residuals:
            scaled = (A @ X - B) * gR.unsqueeze(-2) * 2
            if need_a:
                gA = scaled @ X.mT if gA is None else gA + scaled @ X.mT
            if need_b:
                gB = -scaled if gB is None else gB - scaled
        if ctx.vector and gB is not None:
            gB = gB.squeeze(-1)
        return gA, gB, None, None, None

    @staticmethod
    def jvp(inputs, out, tangents):
        """dX = d pinv(A) B + pinv(A) dB; the residuals r = ||A X - B||^2 of an optimal X:
        dr = 2 sum((A X - B) (dA X - dB)) over the rows (A dX is orthogonal to A X - B)"""
        A, B, vector = primal(inputs[0]), primal(inputs[1]), inputs[4]
        tA, tB = tangents[:2]
        X = out[0]
        if vector:
            B, X = B.unsqueeze(-1), X.unsqueeze(-1)
            tB = tB.unsqueeze(-1) if tB is not None else None
        P = pinv(A)
        dX = pinv_jvp(A, P, tA) @ B if tA is not None else None
        if tB is not None:
            dX = P @ tB if dX is None else dX + P @ tB
        dr = None
        if out[1].numel():
            inner = tA @ X if tA is not None else None
            if tB is not None:
                inner = -tB if inner is None else inner - tB
            dr = ((A @ X - B) * inner).sum(-2) * 2
        return fit(dX.squeeze(-1) if vector else dX, X if not vector else out[0]), dr


def lstsq(A: Tensor, B: Tensor, rcond: float | None = None, *,
          driver: str | None = None) -> tuple:
    """Least-squares solution of ``A X = B`` for ``A`` ``(*, m, n)``, ``B`` ``(*, m, k)`` or
    ``(*, m)``: ``(solution, residuals, rank, singular_values)``. As with torch's default CPU
    driver ``gelsy``, ``residuals`` and ``singular_values`` are empty; ``gelsd``/``gelss``
    report the singular values, and every driver but ``gelsy`` the squared residuals when
    ``m > n`` and each ``A`` has full rank (``gels`` reports no rank). Singular values at or
    below ``rcond`` times the largest (default: eps * max(m, n)) count as zero."""
    if A.ndim < 2:
        raise RuntimeError("torch.linalg.lstsq: input must have at least 2 dimensions.")
    if B.ndim < 1:
        raise RuntimeError("torch.linalg.lstsq: other must have at least 1 dimension.")
    if A.dtype != B.dtype:
        raise RuntimeError(f"torch.linalg.lstsq: Expected input and other to have the same "
                           f"dtype, but got input's dtype {type_name(A._data)} and other's "
                           f"dtype {type_name(B._data)}")
    if A._data.dtype.kind not in "fc":
        raise RuntimeError("This function doesn't handle types other than float and double")
    a = check_float(A, "linalg.lstsq")
    if A.ndim - B.ndim not in (0, 1):
        raise RuntimeError("torch.linalg.lstsq: input.dim() must be greater or equal to "
                           "other.dim() and (input.dim() - other.dim()) <= 1")
    vector = B.ndim == A.ndim - 1
    b = B._data[..., None] if vector else B._data
    try:
        batch = xp.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise RuntimeError(_broadcast_message(a.shape[:-2], b.shape[:-2])) from None
    m, n = a.shape[-2:]
    if b.shape[-2] != m:
        raise RuntimeError("torch.linalg.lstsq: input.size(-2) should match other.size(-2)")
    driver = "gelsy" if driver is None else driver
    if driver not in _DRIVERS:
        raise RuntimeError("torch.linalg.lstsq: parameter `driver` should be one of (gels, "
                           "gelsy, gelsd, gelss)")
    dt = a.dtype
    if rcond is None or rcond < 0:
        rcond = xp.finfo(dt).eps * max(m, n)
    # The factorization (and rank, singular values) is per A; B's batch broadcasts in.
    if min(m, n) == 0:
        s = xp.zeros(a.shape[:-2] + (0,), dt)
        x = xp.zeros(batch + (n, b.shape[-1]), dt)
        rank = xp.zeros(a.shape[:-2], xp.int64)
    else:
        u, s, vh = xp.linalg.svd(a, full_matrices=False)
        keep = s > (rcond * s[..., :1])
        rank = keep.sum(-1).astype(xp.int64)
        sinv = xp.where(keep, 1 / xp.where(keep, s, 1), 0).astype(dt)
        x = vh.swapaxes(-1, -2) @ (sinv[..., None] * (u.swapaxes(-1, -2) @ b))
        x = xp.broadcast_to(x, batch + x.shape[-2:])
    full = driver == "gels" or bool((rank == n).all())
    if m > n and driver != "gelsy" and full:
        res = ((a @ x - b) ** 2).sum(-2).astype(dt, copy=False)
    else:
        res = xp.zeros((0,), dt)
    solution, residuals = LinalgLstsq.apply(A, B, x[..., 0] if vector else x, res, vector)
    rank_t = _make(rank) if driver != "gels" else _make(xp.zeros((0,), xp.int64))
    sv = _make(s.astype(dt) if driver in ("gelsd", "gelss") else xp.zeros((0,), dt))
    return linalg_lstsq(solution, residuals, rank_t, sv)



def _broadcast_message(sa: tuple, sb: tuple) -> str:
    n = max(len(sa), len(sb))
    sa, sb = (1,) * (n - len(sa)) + sa, (1,) * (n - len(sb)) + sb
    d = next(i for i in range(n - 1, -1, -1) if sa[i] != sb[i] and 1 not in (sa[i], sb[i]))
    return (f"The size of tensor a ({sa[d]}) must match the size of tensor b ({sb[d]}) at "
            f"non-singleton dimension {d}")
