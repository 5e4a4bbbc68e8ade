"""Vector norms and distances: ``normalize``, ``cosine_similarity``, ``pairwise_distance``."""

from __future__ import annotations

from ..._ops._jvp import primal, refuse
from ..._ops._util import Op, Tensor, _make, wrap_dim, xp
from ..._ops.elementwise import where

__all__ = ["normalize", "cosine_similarity", "pairwise_distance", "pdist"]


class VectorNorm(Op):
    """d ||x||_p = sign(x) |x|**(p-1) / ||x||**(p-1) dx  (0 where the norm is 0; for p=inf
    the gradient is shared evenly by the maximal entries)"""

    node_name = "LinalgVectorNormBackward0"

    @staticmethod
    def forward(ctx, x, p, dim, keepdim):
        a = xp.abs(x._data)
        if p == 2:
            out = xp.sqrt((a * a).sum(axis=dim, keepdims=True))
        elif p == float("inf"):
            out = a.max(axis=dim, keepdims=True) if a.size else a.sum(axis=dim, keepdims=True)
        elif p == 0:
            out = (a != 0).sum(axis=dim, keepdims=True).astype(a.dtype)
        elif p == 1:
            out = a.sum(axis=dim, keepdims=True)
        else:
            out = (a ** p).sum(axis=dim, keepdims=True) ** (1.0 / p)
        ctx.save_for_backward(x, out)
        ctx.p, ctx.dim, ctx.keepdim = p, dim, keepdim
        return out if keepdim else out.squeeze(axis=dim)

    @staticmethod
    def backward(ctx, g):
        x, n = ctx.saved_tensors
        p = ctx.p
        if not ctx.keepdim:
            g = g.reshape(n.shape)
        if p == 0:
            return x * 0, None, None, None
        if p == 1:
            return g * x.sign(), None, None, None
        zero = _make(n._data == 0)
        if p == 2:
            return g * where(zero, 0.0, x / n), None, None, None
        if p == float("inf"):
            hit = _make((xp.abs(x._data) == n._data) & ~zero._data)
            count = _make(hit._data.sum(axis=ctx.dim, keepdims=True).astype(x._data.dtype))
            return g * where(hit, x.sign() / count, 0.0), None, None, None
        ratio = where(zero, 0.0, x.abs() / n)
        return g * x.sign() * ratio ** (p - 1), None, None, None

    @staticmethod
    def jvp(inputs, out, tangents):
        # d||x|| = sum re(conj(s) dx) over dim, s = sgn(x) * w(|x|) the gradient above (0 at
        # a zero norm); complex entries move the norm by their radial component only.
        x, p, dim, keepdim = inputs
        t = tangents[0]
        x = primal(x)
        if p == 0:  # a count: locally constant (PyTorch gives a zero tangent)
            return ((t.real if t.is_complex() else t) * 0).sum(dim, keepdim=keepdim)
        sg = x.sgn() if x.is_complex() else x.sign()
        if p == 1:
            s = sg
        else:
            n = VectorNorm.apply(x, p, dim, True)
            zero = n == 0
            if p == float("inf"):
                hit = (x.abs() == n) & ~zero
                s = sg * where(hit, 1 / hit.sum(dim, keepdim=True).to(n.dtype), 0.0)
            else:
                ratio = where(zero, 0.0, x.abs() / n)
                s = sg * (ratio if p == 2 else ratio ** (p - 1))
        st = (s.conj() * t).real if x.is_complex() else s * t
        return st.sum(dim, keepdim=keepdim)


def _norm(x: Tensor, p: float, dim: int, keepdim: bool = False) -> Tensor:
    return VectorNorm.apply(x, float(p), wrap_dim(dim, x.ndim), keepdim)


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12,
              out: Tensor | None = None) -> Tensor:
    """``input / max(||input||_p, eps)`` along ``dim``."""
    result = input / _norm(input, p, dim, keepdim=True).clamp_min(eps).expand_as(input)
    if out is not None:
        out.copy_(result)
        return out
    return result


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """``sum(x1 * x2) / (max(||x1||, eps) * max(||x2||, eps))`` along ``dim`` (broadcast)."""
    nd = max(x1.ndim, x2.ndim)
    d = wrap_dim(dim, nd)
    n1 = _norm(x1, 2, d - (nd - x1.ndim), keepdim=True).clamp_min(eps)
    n2 = _norm(x2, 2, d - (nd - x2.ndim), keepdim=True).clamp_min(eps)
    return ((x1 / n1) * (x2 / n2)).sum(d)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> Tensor:
    """``||x1 - x2 + eps||_p`` over the last dim."""
    nd = max(x1.ndim, x2.ndim)
    diff = x1 - x2 + eps
    if nd == 0:
        return diff.abs()
    return _norm(diff, p, -1, keepdim)


def pdist(input: Tensor, p: float = 2) -> Tensor:
    """The p-norm distances between every pair of rows i < j of an (N, M) input."""
    if input.ndim != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.ndim}D")
    refuse("_pdist_forward", input)  # PyTorch's kernel has no forward-mode formula
    i, j = xp.triu_indices(input.shape[0], k=1)
    return _norm(input[_make(i)] - input[_make(j)], p, -1)
