"""Matrix products."""

from __future__ import annotations

from ._util import Op, Tensor, operands, tensor_method, xp

__all__ = ["matmul", "mm", "bmm"]


class Matmul(Op):
    """d(a @ b) = g @ b^T for a, a^T @ g for b (batch dims are summed by the engine)"""

    node_name = "MmBackward0"

    @staticmethod
    def forward(ctx, a, b):
        x, y = operands(a, b)
        if x.ndim == 0 or y.ndim == 0:
            raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are "
                               f"{x.ndim}D and {y.ndim}D")
        if x.shape[-1] != y.shape[-2 if y.ndim > 1 else 0]:
            raise RuntimeError(_shape_error(x.shape, y.shape))
        ctx.save_for_backward(a, b)
        return xp.matmul(x, y)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        ga = gb = None
        if a.ndim == 1 and b.ndim == 1:          # dot product: g is 0-d
            ga = g * b if need_a else None
            gb = g * a if need_b else None
        elif a.ndim == 1:                        # (k) @ (..., k, m) -> (..., m)
            ga = (g.unsqueeze(-2) @ b.mT).squeeze(-2) if need_a else None
            gb = a.unsqueeze(-1) * g.unsqueeze(-2) if need_b else None
        elif b.ndim == 1:                        # (..., n, k) @ (k) -> (..., n)
            ga = g.unsqueeze(-1) * b if need_a else None
            gb = (a.mT @ g.unsqueeze(-1)).squeeze(-1) if need_b else None
        else:
            ga = g @ b.mT if need_a else None
            gb = a.mT @ g if need_b else None
        return ga, gb


# PyTorch's matmul dispatches to dot, mv, mm or a batched product; the node names follow.
class Dot(Matmul):
    node_name = "DotBackward0"


class VecMat(Matmul):
    node_name = "SqueezeBackward4"


class MatVec(Matmul):
    node_name = "MvBackward0"


class BatchedMatmul(Matmul):
    node_name = "UnsafeViewBackward0"


class Bmm(Matmul):
    node_name = "BmmBackward0"


_BY_NDIM = {(1, 1): Dot, (1, 2): VecMat, (2, 1): MatVec, (2, 2): Matmul}


def _shape_error(s1, s2) -> str:
    if len(s1) == 1 and len(s2) == 1:
        return (f"inconsistent tensor size, expected tensor [{s1[0]}] and src [{s2[0]}] to have "
                "the same number of elements, but got {s1[0]} and {s2[0]} elements respectively")
    r1 = s1 if len(s1) > 1 else (1,) + s1
    r2 = s2 if len(s2) > 1 else s2 + (1,)
    return (f"mat1 and mat2 shapes cannot be multiplied ({r1[-2]}x{r1[-1]} and "
            f"{r2[-2]}x{r2[-1]})")


@tensor_method()
def matmul(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """Matrix product with NumPy/PyTorch broadcasting of batch dims (1-D operands allowed)."""
    result = _BY_NDIM.get((input.ndim, other.ndim), BatchedMatmul).apply(input, other)
    if out is not None:
        from .inplace import copy_into_out
        return copy_into_out(out, result)
    return result


@tensor_method()
def mm(input: Tensor, mat2: Tensor, *, out=None) -> Tensor:
    """Product of two 2-D matrices."""
    if input.ndim != 2:
        raise RuntimeError("self must be a matrix")
    if mat2.ndim != 2:
        raise RuntimeError("mat2 must be a matrix")
    return matmul(input, mat2, out=out)


@tensor_method()
def bmm(input: Tensor, mat2: Tensor, *, out=None) -> Tensor:
    """Batched product of (b, n, m) and (b, m, p) tensors."""
    if input.ndim != 3 or mat2.ndim != 3:
        raise RuntimeError("batch1 must be a 3D tensor")
    if input.shape[0] != mat2.shape[0]:
        raise RuntimeError("batch1 and batch2 must have same number of batches, got "
                           f"{input.shape[0]} and {mat2.shape[0]}")
    result = Bmm.apply(input, mat2)
    if out is not None:
        from .inplace import copy_into_out
        return copy_into_out(out, result)
    return result


Tensor.__matmul__ = matmul
Tensor.__rmatmul__ = lambda self, other: matmul(other, self)
