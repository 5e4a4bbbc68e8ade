"""``linear`` (one fused node: y = x W^T + b) and ``bilinear``."""

from __future__ import annotations

from ..._ops._jvp import primal, tangent_sum
from ..._ops._util import Op, Tensor, _make, xp
from ...amp._state import lower_precision
from ...autograd.grad_mode import _grad_enabled

__all__ = ["linear", "bilinear"]

_DTYPE_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long",
                "int32": "Int", "bfloat16": "BFloat16"}


def _rows(shape) -> int:
    """The number of rows of ``shape`` flattened to a matrix over its last dim."""
    n = 1
    for s in shape[:-1]:
        n *= s
    return n


def _dtype_name(a) -> str:
    return _DTYPE_NAMES.get(str(a.dtype), str(a.dtype))


class Linear(Op):
    """d(x W^T + b) = dx W^T + x dW^T + db"""

    node_name = "AddmmBackward0"

    @staticmethod
    def forward(ctx, x, weight, bias=None):
        a, w = x._data, weight._data
        if a.dtype != w.dtype or (bias is not None and bias._data.dtype != w.dtype):
            other = bias._data if a.dtype == w.dtype else a
            raise RuntimeError(f"mat1 and mat2 must have the same dtype, but got "
                               f"{_dtype_name(other)} and {_dtype_name(w)}")
        if a.ndim == 0 or a.shape[-1] != w.shape[-1]:
            rows = a.reshape(-1, a.shape[-1]).shape if a.ndim else (1, 1)
            shape = f"{rows[0]}x{rows[1]}" if a.ndim != 1 else f"1x{a.shape[0]}"
            raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({shape} and "
                               f"{w.shape[1]}x{w.shape[0]})")
        if a.ndim > 2:  # one GEMM over all rows (NumPy would loop over the batch dims)
            out = (a.reshape(_rows(a.shape), a.shape[-1]) @ w.T).reshape(
                a.shape[:-1] + (w.shape[0],))
        else:
            out = a @ w.T
        if bias is not None:
            out += bias._data
        ctx.save_for_backward(x, weight)
        return out

    @staticmethod
    def backward(ctx, g):
        x, weight = ctx.saved_tensors
        need = (ctx.needs_input_grad + (False,))[:3]
        if _grad_enabled.get():  # recorded (create_graph): differentiable Tensor ops
            return _linear_grads(g, x, weight, need, sum_rows=lambda g2: g2.sum(0))
        # Not recorded: the same formula on the arrays, the bias gradient by BLAS (gemv is
        # ~2x NumPy's column sum on small batches, and sums like PyTorch's kernel).
        grads = _linear_grads(g._data, x._data, weight._data, need, sum_rows=_sum_rows)
        return tuple(_make(r) if r is not None else None for r in grads)

    @staticmethod
    def jvp(inputs, out, tangents):
        x, weight = inputs[:2]
        tx, tw = tangents[:2]
        tb = tangents[2] if len(tangents) > 2 else None
        return tangent_sum(out, None if tx is None else Linear.apply(tx, primal(weight)),
                           None if tw is None else Linear.apply(primal(x), tw), tb)


def _sum_rows(g2):
    if g2.dtype.kind == "f" and g2.itemsize >= 4:
        return xp.ones(g2.shape[0], g2.dtype) @ g2
    return g2.sum(0)


def _linear_grads(g, x, weight, need: tuple, sum_rows) -> tuple:
    """dx = g W, dW = g^T x, db = the column sums of g (x and g flattened to rows)."""
    need_x, need_w, need_b = need
    gx = gw = gb = None
    if x.ndim > 2:  # flattened to rows: one GEMM, not one per batch index
        rows = _rows(x.shape)
        g2 = g.reshape(rows, weight.shape[0])
        if need_x:
            gx = (g2 @ weight).reshape(x.shape)
    else:
        rows = x.shape[0] if x.ndim == 2 else 1
        g2 = g if x.ndim == 2 else g.reshape(1, weight.shape[0])
        if need_x:
            gx = g @ weight
    if need_w:
        gw = g2.T @ (x if x.ndim == 2 else x.reshape(rows, weight.shape[1]))
    if need_b:
        gb = sum_rows(g2)
    return gx, gw, gb


# PyTorch's node depends on how it decomposes linear: addmm for a 2-D input with a bias,
# mm without one, and a view of either for other ranks.
class LinearMm(Linear):
    node_name = "MmBackward0"


class LinearView(Linear):
    node_name = "ViewBackward0"


class LinearSqueeze(Linear):
    node_name = "SqueezeBackward4"


class LinearUnsafeView(Linear):
    node_name = "UnsafeViewBackward0"


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``input @ weight.T + bias`` over the last dim of ``input``."""
    input, weight, bias = lower_precision(input, weight, bias)  # autocast
    ndim = input.ndim
    if ndim == 2:
        op = Linear if bias is not None else LinearMm
    elif bias is not None:
        op = LinearView
    else:
        op = LinearSqueeze if ndim == 1 else LinearUnsafeView
    return op.apply(input, weight, bias)


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor,
             bias: Tensor | None = None) -> Tensor:
    """``y[..., k] = input1 @ weight[k] @ input2 + bias[k]``."""
    out_f, in1, in2 = weight.shape
    if input1.shape[:-1] != input2.shape[:-1]:
        raise RuntimeError(f"bilinear(): input batch dimensions do not match: got "
                           f"{list(input1.shape[:-1])} and {list(input2.shape[:-1])}")
    if input1.shape[-1] != in1:
        raise RuntimeError(f"bilinear(): input1 size does not match weight size: got "
                           f"{input1.shape[-1]} but expected {in1}")
    if input2.shape[-1] != in2:
        raise RuntimeError(f"bilinear(): input2 size does not match weight size: got "
                           f"{input2.shape[-1]} but expected {in2}")
    lead = input1.shape[:-1]
    x1 = input1.reshape(-1, in1)
    # (B, in1) @ (in1, out*in2) -> (B, out, in2), then contract with input2 over in2.
    t = x1.matmul(weight.permute(1, 0, 2).reshape(in1, out_f * in2)).reshape(-1, out_f, in2)
    y = t.matmul(input2.reshape(-1, in2, 1)).reshape(*lead, out_f)
    return y if bias is None else y + bias
