"""Products: matmul and its fixed-rank forms (mm, bmm, mv, dot), the fused ``add*`` products,
outer/inner/tensordot/kron, trace, cross and chained products.

The factorizations (det, inverse, cholesky, ...) and einsum live in ``ember.linalg`` and are
re-exported here at the bottom, since ``ember.linalg`` in turn re-exports these products.
"""

from __future__ import annotations

import math
import warnings

from .._dtype import _FROM_NP
from ..amp._state import lower_precision
from ._jvp import fit, primal
from ._util import Op, Tensor, _make, operands, tensor_method, wrap_dim, xp
from .inplace import copy_into_out, register_inplace

__all__ = ["matmul", "mm", "bmm", "mv", "dot", "vdot", "inner", "outer", "ger", "addmm", "addmv",
           "addr", "baddbmm", "addbmm", "tensordot", "kron", "trace", "cross", "chain_matmul",
           "einsum", "cdist", "det", "logdet", "slogdet", "inverse", "pinverse", "matrix_power",
           "cholesky"]

# C++ scalar names PyTorch uses in its matmul dtype errors.
_CPP_NAMES = {"float32": "float", "float64": "double", "float16": "c10::Half",
              "int64": "long int", "int32": "int", "int16": "short int", "int8": "signed char",
              "uint8": "unsigned char", "bool": "bool"}


def _dims(shape) -> str:
    return "x".join(map(str, shape))


def _scalar_name(a) -> str:
    return _FROM_NP[a.dtype]._legacy_name[:-6]


def _check_same_dtype(x, y) -> None:
    if x.dtype != y.dtype:
        if x.ndim == 1 and y.ndim == 1:
            raise RuntimeError(f"dot : expected both vectors to have same dtype, but found "
                               f"{_scalar_name(x)} and {_scalar_name(y)}")
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: "
                           f"{_CPP_NAMES.get(x.dtype.name, x.dtype.name)} != "
                           f"{_CPP_NAMES.get(y.dtype.name, y.dtype.name)}")


def _check_batch_broadcast(s1: tuple, s2: tuple) -> None:
    for i in range(1, min(len(s1), len(s2)) + 1):
        a, b = s1[-i], s2[-i]
        if a != b and a != 1 and b != 1:
            d = max(len(s1), len(s2)) - i
            raise RuntimeError(f"The size of tensor a ({a}) must match the size of tensor b "
                               f"({b}) at non-singleton dimension {d}")


def _tangent(out: Tensor, *terms):
    """The sum of the tangent terms that are not None, at the output's shape and dtype (None
    when every term is None)."""
    total = None
    for t in terms:
        if t is not None:
            total = t if total is None else total + t
    return fit(total, out)


def _bilinear_jvp(product, inputs, out, tangents):
    """d f(a, b) = f(da, b) + f(a, db) for a product ``f`` linear in each factor."""
    a, b = primal(inputs[0]), primal(inputs[1])
    ta, tb = tangents[:2]
    return _tangent(out, None if ta is None else product(ta, b),
                    None if tb is None else product(a, tb))


# -- matmul -----------------------------------------------------------------------------------
class Matmul(Op):
    """d(a @ b) = g @ b^T for a, a^T @ g for b (batch dims are summed by the engine)"""

    node_name = "MmBackward0"

    @staticmethod
    def forward(ctx, a, b):
        x, y = a._data, b._data
        if x.ndim == 0 or y.ndim == 0:
            raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are "
                               f"{x.ndim}D and {y.ndim}D")
        if x.shape[-1] != y.shape[-2 if y.ndim > 1 else 0]:
            raise RuntimeError(_shape_error(x.shape, y.shape))
        _check_same_dtype(x, y)
        if x.ndim > 2 and y.ndim > 2:
            _check_batch_broadcast(x.shape[:-2], y.shape[:-2])
        ctx.save_for_backward(a, b)
        return xp.matmul(x, y)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        ga = gb = None
        # Complex operands: conjugate transposes (mH is mT for real ones).
        if a.ndim == 1 and b.ndim == 1:          # dot product: g is 0-d
            ga = g * b.conj() if need_a else None
            gb = g * a.conj() if need_b else None
        elif a.ndim == 1:                        # (k) @ (..., k, m) -> (..., m)
            ga = (g.unsqueeze(-2) @ b.mH).squeeze(-2) if need_a else None
            gb = a.conj().unsqueeze(-1) * g.unsqueeze(-2) if need_b else None
        elif b.ndim == 1:                        # (..., n, k) @ (k) -> (..., n)
            ga = g.unsqueeze(-1) * b.conj() if need_a else None
            gb = (a.mH @ g.unsqueeze(-1)).squeeze(-1) if need_b else None
        else:
            ga = g @ b.mH if need_a else None
            gb = a.mH @ g if need_b else None
        return ga, gb

    @staticmethod
    def jvp(inputs, out, tangents):
        """d(a @ b) = da @ b + a @ db"""
        return _bilinear_jvp(matmul, inputs, out, tangents)


# PyTorch's matmul dispatches to dot, mv, mm or a batched product; the node names follow.
class Dot(Matmul):
    node_name = "DotBackward0"


class Vdot(Matmul):
    node_name = "VdotBackward0"     # real inputs: vdot == dot


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
                f"the same number of elements, but got {s1[0]} and {s2[0]} elements respectively")
    r1 = s1 if len(s1) > 1 else (1,) + s1
    r2 = s2 if len(s2) > 1 else s2 + (1,)
    return (f"mat1 and mat2 shapes cannot be multiplied ({r1[-2]}x{r1[-1]} and "
            f"{r2[-2]}x{r2[-1]})")


def _out(result: Tensor, out) -> Tensor:
    return result if out is None else copy_into_out(out, result)


@tensor_method()
def matmul(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """Matrix product with NumPy/PyTorch broadcasting of batch dims (1-D operands allowed)."""
    input, other = lower_precision(input, other)  # autocast
    return _out(_BY_NDIM.get((input.ndim, other.ndim), BatchedMatmul).apply(input, other), out)


@tensor_method()
def mm(input: Tensor, mat2: Tensor, *, out=None) -> Tensor:
    """Product of two 2-D matrices."""
    input, mat2 = lower_precision(input, mat2)  # autocast
    if input.ndim != 2:
        raise RuntimeError("self must be a matrix")
    if mat2.ndim != 2:
        raise RuntimeError("mat2 must be a matrix")
    return _out(Matmul.apply(input, mat2), out)


@tensor_method()
def bmm(input: Tensor, mat2: Tensor, *, out=None) -> Tensor:
    """Batched product of (b, n, m) and (b, m, p) tensors."""
    input, mat2 = lower_precision(input, mat2)  # autocast
    _check_bmm(input, mat2, "")
    return _out(Bmm.apply(input, mat2), out)


def _check_bmm(b1: Tensor, b2: Tensor, what: str) -> None:
    if b1.ndim != 3:
        raise RuntimeError("batch1 must be a 3D tensor")
    if b2.ndim != 3:
        raise RuntimeError("batch2 must be a 3D tensor")
    s1, s2 = b1.shape, b2.shape
    if what == "addbmm":
        if s1[0] != s2[0]:
            raise RuntimeError(f"batch1 and batch2 must have same number of batches, got "
                               f"{s1[0]} and {s2[0]}")
        if s1[2] != s2[1]:
            raise RuntimeError(f"Incompatible matrix sizes for bmm ({s1[1]}x{s1[2]} and "
                               f"{s2[1]}x{s2[2]})")
    elif (s2[0], s2[1]) != (s1[0], s1[2]):
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{s1[0]}, {s1[2]}] but got: [{s2[0]}, {s2[1]}].")


@tensor_method()
def mv(input: Tensor, vec: Tensor, *, out=None) -> Tensor:
    """Matrix-vector product."""
    _check_mv(input, vec)
    return _out(MatVec.apply(input, vec), out)


def _check_mv(mat: Tensor, vec: Tensor) -> None:
    if mat.ndim != 2 or vec.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got 1, {mat.ndim}, {vec.ndim}")
    if mat.shape[1] != vec.shape[0]:
        raise RuntimeError(f"size mismatch, got input ({mat.shape[0]}), mat "
                           f"({_dims(mat.shape)}), vec ({vec.shape[0]})")


def _check_vectors(a: Tensor, b: Tensor) -> None:
    if a.ndim != 1 or b.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {a.ndim}D and {b.ndim}D tensors")


@tensor_method()
def dot(input: Tensor, tensor: Tensor, *, out=None) -> Tensor:
    """Inner product of two 1-D tensors."""
    _check_vectors(input, tensor)
    return _out(Dot.apply(input, tensor), out)


@tensor_method()
def vdot(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """Inner product of two 1-D tensors, conjugating the first (same as dot for reals)."""
    _check_vectors(input, other)
    return _out(Vdot.apply(input.conj(), other), out)


# -- fused products: beta * input + alpha * (product) -----------------------------------------
class Addmm(Op):
    """d(beta*C + alpha*A@B) = beta*g for C, alpha*g@B^T for A, alpha*A^T@g for B"""

    node_name = "AddmmBackward0"

    @staticmethod
    def product(x, y):
        """The product, of arrays (forward) or Tensors (jvp)."""
        return x @ y

    @staticmethod
    def grads(g, a, b, need_a, need_b):
        return (g @ b.mT if need_a else None), (a.mT @ g if need_b else None)

    @staticmethod
    def forward(ctx, c, a, b, beta, alpha):
        out = ctx.product(a._data, b._data)
        if alpha != 1:
            out = out * alpha
        if beta != 0:       # beta == 0 ignores input entirely (nan/inf do not propagate)
            out = out + (c._data if beta == 1 else beta * c._data)
        ctx.beta, ctx.alpha = beta, alpha
        ctx.save_for_backward(a, b)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need_c, need_a, need_b = ctx.needs_input_grad[:3]
        beta, alpha = ctx.beta, ctx.alpha
        gc = (g if beta == 1 else g * beta) if need_c else None
        ga, gb = ctx.grads(g if alpha == 1 else g * alpha, a, b, need_a, need_b)
        return gc, ga, gb

    @classmethod
    def jvp(cls, inputs, out, tangents):
        """d(beta*C + alpha*A@B) = beta*dC + alpha*(dA@B + A@dB)"""
        beta, alpha = inputs[3:5]
        tc = tangents[0]
        prod = _bilinear_jvp(cls.product, inputs[1:3], out, tangents[1:3])
        if prod is not None and alpha != 1:
            prod = prod * alpha
        if tc is not None and beta != 0:   # beta == 0 ignores input (as forward does)
            tc = fit(tc if beta == 1 else tc * beta, out)
            return tc if prod is None else prod + tc
        return prod


class Addmv(Addmm):
    """d(beta*c + alpha*A@v) = beta*g for c, alpha*outer(g, v) for A, alpha*A^T@g for v"""

    node_name = "AddmvBackward0"

    @staticmethod
    def grads(g, a, b, need_a, need_b):
        return (g.unsqueeze(-1) * b if need_a else None), (a.mT @ g if need_b else None)


class Addr(Addmm):
    """d(beta*C + alpha*outer(u, v)) = beta*g for C, alpha*g@v for u, alpha*g^T@u for v"""

    node_name = "AddrBackward0"

    @staticmethod
    def product(x, y):
        return x[:, None] * y

    @staticmethod
    def grads(g, a, b, need_a, need_b):
        return (g @ b if need_a else None), (g.mT @ a if need_b else None)


class Baddbmm(Addmm):
    """d(beta*C + alpha*bmm(A, B)) = beta*g for C, alpha*g@B^T for A, alpha*A^T@g for B"""

    node_name = "BaddbmmBackward0"


class Addbmm(Addmm):
    """d(beta*C + alpha*sum_b A_b@B_b) = beta*g for C, alpha*g@B_b^T, alpha*A_b^T@g"""

    node_name = "AddbmmBackward0"

    @staticmethod
    def product(x, y):
        return (x @ y).sum(0)


def _fused(cls, name: str, input: Tensor, a: Tensor, b: Tensor, target: tuple, beta, alpha,
           out) -> Tensor:
    x, y, z = input._data, a._data, b._data
    if name == "addmm":
        if x.dtype != z.dtype or y.dtype != z.dtype:
            bad = x if x.dtype != z.dtype else y
            raise RuntimeError(f"self and mat2 must have the same dtype, but got "
                               f"{_scalar_name(bad)} and {_scalar_name(z)}")
    elif not x.dtype == y.dtype == z.dtype:
        raise RuntimeError(f"{name} input tensors must have the same dtype, but got "
                           f"{_scalar_name(x)}, {_scalar_name(y)}, and {_scalar_name(z)}")
    _check_expandable(x.shape, target)
    return _out(cls.apply(input, a, b, beta, alpha), out)


def _check_expandable(shape: tuple, target: tuple) -> None:
    """torch's rule for the ``input`` of the add* products: it must expand to the result."""
    lead = len(target) - len(shape)
    if lead < 0:
        raise RuntimeError(f"The number of sizes provided ({len(target)}) must be greater or "
                           f"equal to the number of dimensions in the tensor ({len(shape)})")
    for i, s in enumerate(shape):
        if s != 1 and s != target[i + lead]:
            raise RuntimeError(
                f"The expanded size of the tensor ({target[i + lead]}) must match the existing "
                f"size ({s}) at non-singleton dimension {i + lead}.  Target sizes: "
                f"[{', '.join(map(str, target))}].  Tensor sizes: [{', '.join(map(str, shape))}]")


@tensor_method()
def addmm(input: Tensor, mat1: Tensor, mat2: Tensor, *, beta=1, alpha=1, out=None) -> Tensor:
    """``beta * input + alpha * (mat1 @ mat2)``."""
    input, mat1, mat2 = lower_precision(input, mat1, mat2)  # autocast
    for name, m in (("mat1", mat1), ("mat2", mat2)):
        if m.ndim != 2:
            raise RuntimeError(f"{name} must be a matrix, got {m.ndim}-D tensor")
    if mat1.shape[1] != mat2.shape[0]:
        raise RuntimeError(_shape_error(mat1.shape, mat2.shape))
    return _fused(Addmm, "addmm", input, mat1, mat2, (mat1.shape[0], mat2.shape[1]), beta,
                  alpha, out)


@tensor_method()
def addmv(input: Tensor, mat: Tensor, vec: Tensor, *, beta=1, alpha=1, out=None) -> Tensor:
    """``beta * input + alpha * (mat @ vec)``."""
    _check_mv(mat, vec)
    return _fused(Addmv, "addmv", input, mat, vec, (mat.shape[0],), beta, alpha, out)


@tensor_method()
def addr(input: Tensor, vec1: Tensor, vec2: Tensor, *, beta=1, alpha=1, out=None) -> Tensor:
    """``beta * input + alpha * outer(vec1, vec2)``."""
    for name, v in (("vec1", vec1), ("vec2", vec2)):
        if v.ndim != 1:
            raise RuntimeError(f"addr: Expected 1-D argument {name}, but got {v.ndim}-D")
    return _fused(Addr, "addr", input, vec1, vec2, (vec1.shape[0], vec2.shape[0]), beta, alpha,
                  out)


@tensor_method()
def baddbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1,
            out=None) -> Tensor:
    """``beta * input + alpha * bmm(batch1, batch2)``."""
    input, batch1, batch2 = lower_precision(input, batch1, batch2)  # autocast
    _check_bmm(batch1, batch2, "baddbmm")
    target = (batch1.shape[0], batch1.shape[1], batch2.shape[2])
    return _fused(Baddbmm, "baddbmm", input, batch1, batch2, target, beta, alpha, out)


@tensor_method()
def addbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1,
           out=None) -> Tensor:
    """``beta * input + alpha * sum_b batch1[b] @ batch2[b]``."""
    input, batch1, batch2 = lower_precision(input, batch1, batch2)  # autocast
    _check_bmm(batch1, batch2, "addbmm")
    target = (batch1.shape[1], batch2.shape[2])
    return _fused(Addbmm, "addbmm", input, batch1, batch2, target, beta, alpha, out)


register_inplace("addmm", "addmv", "addr", "baddbmm", "addbmm")


# -- outer, inner, tensordot, kron ------------------------------------------------------------
@tensor_method("outer", "ger")
def outer(input: Tensor, vec2: Tensor, *, out=None) -> Tensor:
    """Outer product of two 1-D tensors."""
    for name, v in (("self", input), ("vec2", vec2)):
        if v.ndim != 1:
            raise RuntimeError(f"outer: Expected 1-D argument {name}, but got {v.ndim}-D")
    return _out(input.unsqueeze(-1) * vec2, out)


ger = outer


@tensor_method()
def inner(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """Sum of products over the last dims (a tensordot of the last dims)."""
    if input.ndim == 0 or other.ndim == 0:
        return _out(input * other, out)
    if input.shape[-1] != other.shape[-1]:
        raise RuntimeError(f"inner() the last dimension must match on both input tensors but "
                           f"got shapes [{', '.join(map(str, input.shape))}] and "
                           f"[{', '.join(map(str, other.shape))}]")
    return _out(tensordot(input, other, ([-1], [-1])), out)


def tensordot(a: Tensor, b: Tensor, dims=2, out=None) -> Tensor:
    """Contract ``dims`` (an int: the last/first dims; or two lists of dims) of a and b."""
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        if dims > a.ndim or dims > b.ndim:
            raise RuntimeError(f"tensordot expects dims < ndim_a or ndim_b, but got "
                               f"dims={dims}")
        da, db = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        da, db = dims
        da = [da] if isinstance(da, int) else list(da)
        db = [db] if isinstance(db, int) else list(db)
        if len(da) != len(db):
            raise RuntimeError("both dimension lists should have same length")
    da = [wrap_dim(d, a.ndim) for d in da]
    db = [wrap_dim(d, b.ndim) for d in db]
    for i, j in zip(da, db):
        if a.shape[i] != b.shape[j]:
            raise RuntimeError(f"contracted dimensions need to match, but first has size "
                               f"{a.shape[i]} in dim {i} and second has size {b.shape[j]} in "
                               f"dim {j}")
    if a.dtype != b.dtype:
        raise RuntimeError("both inputs should have same dtype")
    free_a = [d for d in range(a.ndim) if d not in da]
    free_b = [d for d in range(b.ndim) if d not in db]
    k = math.prod(a.shape[d] for d in da)
    a2 = a.permute(free_a + da).reshape(-1, k) if free_a else a.permute(da).reshape(1, k)
    b2 = b.permute(db + free_b).reshape(k, -1) if free_b else b.permute(db).reshape(k, 1)
    shape = [a.shape[d] for d in free_a] + [b.shape[d] for d in free_b]
    return _out((a2 @ b2).view(shape), out)


class Kron(Op):
    """kron(a, b) interleaves a's and b's dims: d = (g as (a0, b0, a1, b1, ...)) times the
    other factor, summed over the other factor's dims"""

    node_name = "UnsafeViewBackward0"

    @staticmethod
    def forward(ctx, a, b):
        x, y = operands(a, b)
        nd = max(x.ndim, y.ndim)
        xs = (1,) * (nd - x.ndim) + x.shape
        ys = (1,) * (nd - y.ndim) + y.shape
        ctx.shapes = xs, ys
        ctx.save_for_backward(a, b)
        prod = x.reshape(_interleave(xs, (1,) * nd)) * y.reshape(_interleave((1,) * nd, ys))
        return prod.reshape(tuple(p * q for p, q in zip(xs, ys)))

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        xs, ys = ctx.shapes
        nd = len(xs)
        g = g.reshape(_interleave(xs, ys))
        ga = gb = None
        if ctx.needs_input_grad[0]:
            bb = b.reshape(_interleave((1,) * nd, ys))
            ga = (g * bb).sum(tuple(range(1, 2 * nd, 2))).reshape(a.shape)
        if ctx.needs_input_grad[1]:
            aa = a.reshape(_interleave(xs, (1,) * nd))
            gb = (g * aa).sum(tuple(range(0, 2 * nd, 2))).reshape(b.shape)
        return ga, gb

    @staticmethod
    def jvp(inputs, out, tangents):
        """d kron(a, b) = kron(da, b) + kron(a, db)"""
        return _bilinear_jvp(Kron.apply, inputs, out, tangents)


def _interleave(p: tuple, q: tuple) -> tuple:
    return tuple(v for pair in zip(p, q) for v in pair)


@tensor_method()
def kron(input: Tensor, other: Tensor, *, out=None) -> Tensor:
    """Kronecker product (operands of different rank get leading ones)."""
    return _out(Kron.apply(input, other), out)


# -- trace, cross -----------------------------------------------------------------------------
class Trace(Op):
    """d tr(A) = g * I"""

    node_name = "TraceBackward0"

    @staticmethod
    def forward(ctx, a):
        x = a._data
        ctx.shape = x.shape
        return xp.asarray(xp.trace(x))

    @staticmethod
    def backward(ctx, g):
        return g * _make(xp.eye(*ctx.shape, dtype=g._data.dtype))

    @staticmethod
    def jvp(inputs, out, tangents):
        """d tr(A) = tr(dA)"""
        return Trace.apply(tangents[0])


@tensor_method()
def trace(input: Tensor) -> Tensor:
    """Sum of the main diagonal of a 2-D tensor."""
    if input.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input.ndim}")
    return Trace.apply(input)


class Cross(Op):
    """d(a x b) = da x b + a x db, so ga = b x g and gb = g x a"""

    node_name = "LinalgCrossBackward0"

    @staticmethod
    def forward(ctx, a, b, dim):
        x, y = a._data, b._data
        if x.dtype != y.dtype:
            raise RuntimeError(f"expected scalar type {_scalar_name(x)} but found "
                               f"{_scalar_name(y)}")
        _check_batch_broadcast(x.shape, y.shape)
        ctx.dim = dim
        ctx.save_for_backward(a, b)
        return xp.cross(x, y, axis=dim)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad[:2]
        ga = Cross.apply(b, g, ctx.dim) if need_a else None
        gb = Cross.apply(g, a, ctx.dim) if need_b else None
        return ga, gb, None

    @staticmethod
    def jvp(inputs, out, tangents):
        """d(a x b) = da x b + a x db"""
        dim = inputs[2]
        return _bilinear_jvp(lambda x, y: Cross.apply(x, y, dim), inputs, out, tangents)


def linalg_cross(input: Tensor, other: Tensor, *, dim: int = -1, out=None) -> Tensor:
    """Cross product of 3-vectors along ``dim`` (batch dims broadcast)."""
    if input.ndim != other.ndim:
        raise RuntimeError("linalg.cross: inputs must have the same number of dimensions.")
    d = wrap_dim(dim, input.ndim)
    if input.shape[d] != 3 or other.shape[d] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got "
                           f"{input.shape[d]} and {other.shape[d]}")
    return _out(Cross.apply(input, other, d), out)


@tensor_method()
def cross(input: Tensor, other: Tensor, dim: int | None = None, *, out=None) -> Tensor:
    """Cross product along ``dim`` (default: the first dim of size 3, deprecated)."""
    if dim is None:
        warnings.warn("Using torch.cross without specifying the dim arg is deprecated.\nPlease "
                      "either pass the dim explicitly or simply use torch.linalg.cross.\nThe "
                      "default value of dim will change to agree with that of linalg.cross in "
                      "a future release.", UserWarning, stacklevel=2)
        shape = xp.broadcast_shapes(input.shape, other.shape)
        dim = next((i for i, s in enumerate(shape) if s == 3), None)
        if dim is None:
            raise RuntimeError("no dimension of size 3 in input")
    return linalg_cross(input, other, dim=dim, out=out)


# -- chained products -------------------------------------------------------------------------
def _chain_order(dims: list) -> list:
    """Optimal parenthesisation of a matrix chain (classic O(n^3) dynamic programme):
    ``split[i][j]`` is where the product of matrices i..j splits."""
    n = len(dims) - 1
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j] = math.inf
            for k in range(i, j):
                c = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                if c < cost[i][j]:
                    cost[i][j], split[i][j] = c, k
    return split


def _chain(mats: list, split: list, i: int, j: int) -> Tensor:
    if i == j:
        return mats[i]
    k = split[i][j]
    return _chain(mats, split, i, k) @ _chain(mats, split, k + 1, j)


def multi_dot(tensors, *, out=None) -> Tensor:
    """Product of a chain of matrices in the cheapest order (first/last may be 1-D)."""
    tensors = list(tensors)
    n = len(tensors)
    if n < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {n}")
    first, last = tensors[0], tensors[-1]
    if first.ndim not in (1, 2):
        raise RuntimeError(f"multi_dot(): the first tensor must be 1D or 2D but got "
                           f"{first.ndim}D")
    if last.ndim not in (1, 2):
        raise RuntimeError(f"multi_dot(): the last tensor must be 1D or 2D but got {last.ndim}D")
    for i, t in enumerate(tensors[1:-1], 1):
        if t.ndim != 2:
            raise RuntimeError(f"multi_dot(): tensor {i} must be 2D but got {t.ndim}D")
        if t.dtype != first.dtype:
            raise RuntimeError(f"multi_dot(): all tensors must have be the same dtype but "
                               f"tensor 0 is {_scalar_name(first._data)} and tensor {i} is "
                               f"{_scalar_name(t._data)}")
    mats = list(tensors)
    if first.ndim == 1:
        mats[0] = first.unsqueeze(0)
    if last.ndim == 1:
        mats[-1] = last.unsqueeze(1)
    for i in range(n - 1):
        if mats[i].shape[1] != mats[i + 1].shape[0]:
            raise RuntimeError(f"multi_dot(): tensors {i} and {i + 1} with shapes "
                               f"[{', '.join(map(str, tensors[i].shape))}] and "
                               f"[{', '.join(map(str, tensors[i + 1].shape))}] cannot be "
                               "multiplied")
    dims = [m.shape[0] for m in mats] + [mats[-1].shape[1]]
    result = _chain(mats, _chain_order(dims), 0, n - 1)
    shape = ([first.shape[0]] if first.ndim == 2 else []) + (
        [last.shape[1]] if last.ndim == 2 else [])
    return _out(result.view(shape), out)


def chain_matmul(*matrices, out=None) -> Tensor:
    """Product of 2-D matrices in the cheapest order (deprecated alias of multi_dot)."""
    if len(matrices) == 1:
        if matrices[0].ndim != 2:
            raise RuntimeError(f"Tensor dimension is {matrices[0].ndim}, expected 2 instead.")
        return _out(matrices[0].clone(), out)
    for t in matrices:
        if t.ndim != 2:
            raise RuntimeError(f"Tensor dimension is {t.ndim}, expected 2 instead.")
    return multi_dot(matrices, out=out)


def vecdot(x: Tensor, y: Tensor, *, dim: int = -1, out=None) -> Tensor:
    """Dot product of vectors along ``dim`` (batch dims broadcast)."""
    for t in (x, y):
        if t._data.dtype.kind != "f":
            raise RuntimeError(f"linalg.vecdot: Expected a floating point or complex tensor "
                               f"as input. Got {_scalar_name(t._data)}")
    if x.ndim == 1 and y.ndim == 1:
        _check_vectors(x, y)
        return _out(Vdot.apply(x, y), out)
    return _out((x * y).sum(dim), out)


Tensor.__matmul__ = matmul
Tensor.__rmatmul__ = lambda self, other: matmul(other, self)

# Re-exported from ember.linalg, which imports the products above: these imports stay last.
from ..linalg._einsum import einsum  # noqa: E402
from ..linalg._norms import cdist  # noqa: E402
from ..linalg._solve import cholesky_legacy as cholesky  # noqa: E402
from ..linalg._solve import det, inverse, logdet, matrix_power  # noqa: E402
from ..linalg._solve import slogdet_legacy as slogdet  # noqa: E402
from ..linalg._spectral import pinverse  # noqa: E402

for _name in ("det", "logdet", "slogdet", "inverse", "pinverse", "matrix_power", "cholesky"):
    setattr(Tensor, _name, globals()[_name])
