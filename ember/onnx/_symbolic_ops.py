"""ONNX translations of ember's built-in ops, keyed on the autograd node name each op records
(PyTorch's grad_fn names, e.g. ``AddmmBackward0``) and reading the arguments it was applied
to. Each translation gets the tracer, the op's arguments and its ember output(s), and returns
the ONNX value name(s) standing for the output(s)."""

from __future__ import annotations

import math

import numpy as np

from .._tensor import Tensor
from ._graph import INT64_MAX
from .errors import UnsupportedOperatorError

OPS: dict = {}


def op(*names: str):
    def register(fn):
        for n in names:
            OPS[n] = fn
        return fn
    return register


def _dt(out):
    return (out[0] if isinstance(out, (tuple, list)) else out)._data.dtype


def _nd(x) -> int:
    return x._data.ndim if isinstance(x, Tensor) else np.ndim(x)


def _shape(x) -> tuple:
    return tuple(x._data.shape) if isinstance(x, Tensor) else np.shape(x)


def _same(tr, args, dtype) -> list:
    """Tensor and Python-number operands, all as ONNX values of ``dtype``."""
    return [tr.value(a, dtype) for a in args]


# ------------------------------------------------------------------------------ elementwise
def _binary(onnx_op: str):
    def emit(tr, a, b, *rest, out):
        dt = _dt(out)
        x, y = _same(tr, (a, b), dt)
        return tr.g.node(onnx_op, [x, y], dtype=dt)
    return emit


op("SubBackward0")(lambda tr, a, b, alpha=1, *, out: _add(tr, a, b, alpha, out, "Sub"))
op("MulBackward0")(_binary("Mul"))
op("MaximumBackward0")(_binary("Max"))
op("MinimumBackward0")(_binary("Min"))
op("PowBackward0", "PowBackward1", "PowBackward2")(_binary("Pow"))


def _add(tr, a, b, alpha, out, onnx_op="Add"):
    dt = _dt(out)
    x, y = _same(tr, (a, b), dt)
    if alpha != 1:
        y = tr.g.node("Mul", [y, tr.value(alpha, dt)], dtype=dt)
    return tr.g.node(onnx_op, [x, y], dtype=dt)


@op("AddBackward0")
def _add_op(tr, a, b, alpha=1, *, out):
    return _add(tr, a, b, alpha, out)


@op("RsubBackward0", "RsubBackward1")
def _rsub(tr, a, b, alpha=1, *, out):
    return _add(tr, b, a, alpha, out, "Sub")


@op("DivBackward0", "DivBackward1")
def _div(tr, a, b, rounding_mode=None, *, out):
    dt = _dt(out)
    if rounding_mode is None or np.dtype(dt).kind == "f":
        work = dt if rounding_mode is None or np.dtype(dt).kind == "f" else np.float64
        x, y = _same(tr, (a, b), work)
        q = tr.g.node("Div", [x, y], dtype=work)
        if rounding_mode == "floor":
            q = tr.g.node("Floor", [q], dtype=work)
        elif rounding_mode == "trunc":
            q = tr.g.node("Mul", [tr.g.node("Sign", [q], dtype=work),
                                  tr.g.node("Floor", [tr.g.node("Abs", [q], dtype=work)],
                                            dtype=work)], dtype=work)
        return q
    # Integer floor/trunc division: via float64, which holds int32 exactly.
    x, y = _same(tr, (a, b), np.float64)
    q = tr.g.node("Div", [x, y], dtype=np.float64)
    q = tr.g.node("Floor" if rounding_mode == "floor" else "Identity", [q], dtype=np.float64)
    return tr.g.cast(q, dt)


_UNARY = {
    "ExpBackward0": "Exp", "LogBackward0": "Log", "SqrtBackward0": "Sqrt",
    "AbsBackward0": "Abs", "NegBackward0": "Neg", "ReluBackward0": "Relu",
    "SigmoidBackward0": "Sigmoid", "TanhBackward0": "Tanh", "ErfBackward0": "Erf",
    "SinBackward0": "Sin", "CosBackward0": "Cos", "TanBackward0": "Tan",
    "AsinBackward0": "Asin", "AcosBackward0": "Acos", "AtanBackward0": "Atan",
    "SinhBackward0": "Sinh", "CoshBackward0": "Cosh", "AsinhBackward0": "Asinh",
    "AcoshBackward0": "Acosh", "AtanhBackward0": "Atanh",
    "ReciprocalBackward0": "Reciprocal", "FloorBackward0": "Floor", "CeilBackward0": "Ceil",
    "RoundBackward0": "Round", "SignBackward0": "Sign", "CloneBackward0": "Identity",
    "AliasBackward0": "Identity", "DetachBackward0": "Identity",
    "HardswishBackward0": "HardSwish", "SoftsignBackward0": "Softsign",
}


def _unary(onnx_op: str):
    def emit(tr, x, *rest, out):
        dt = _dt(out)
        return tr.g.node(onnx_op, [tr.value(x, dt)], dtype=dt)
    return emit


for _name, _onnx in _UNARY.items():
    op(_name)(_unary(_onnx))


def _chain(tr, x, dt, *steps):
    for name, extra, attrs in steps:
        x = tr.g.node(name, [x] + [tr.value(e, dt) for e in extra], dtype=dt, **attrs)
    return x


@op("RsqrtBackward0")
def _rsqrt(tr, x, *, out):
    dt = _dt(out)
    return _chain(tr, tr.value(x, dt), dt, ("Sqrt", [], {}), ("Reciprocal", [], {}))


@op("Log1PBackward0")
def _log1p(tr, x, *, out):
    dt = _dt(out)
    return _chain(tr, tr.value(x, dt), dt, ("Add", [1], {}), ("Log", [], {}))


@op("Expm1Backward0")
def _expm1(tr, x, *, out):
    dt = _dt(out)
    return _chain(tr, tr.value(x, dt), dt, ("Exp", [], {}), ("Sub", [1], {}))


@op("Log2Backward0", "Log10Backward0")
def _logb(tr, x, *, out):
    dt = _dt(out)
    base = 2.0 if tr.current == "Log2Backward0" else 10.0
    return _chain(tr, tr.value(x, dt), dt, ("Log", [], {}), ("Div", [math.log(base)], {}))


@op("TruncBackward0")
def _trunc(tr, x, *, out):
    dt = _dt(out)
    v = tr.value(x, dt)
    mag = _chain(tr, v, dt, ("Abs", [], {}), ("Floor", [], {}))
    return tr.g.node("Mul", [tr.g.node("Sign", [v], dtype=dt), mag], dtype=dt)


@op("SiluBackward0")
def _silu(tr, x, *, out):
    dt = _dt(out)
    v = tr.value(x, dt)
    return tr.g.node("Mul", [v, tr.g.node("Sigmoid", [v], dtype=dt)], dtype=dt)


@op("MishBackward0")
def _mish(tr, x, *, out):
    dt = _dt(out)
    v = tr.value(x, dt)
    return tr.g.node("Mul", [v, _chain(tr, v, dt, ("Softplus", [], {}), ("Tanh", [], {}))],
                     dtype=dt)


@op("GeluBackward0")
def _gelu(tr, x, approximate="none", *, out):
    dt = _dt(out)
    v = tr.value(x, dt)
    if approximate == "tanh":
        # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        cube = tr.g.node("Mul", [tr.g.node("Mul", [v, v], dtype=dt), v], dtype=dt)
        inner = tr.g.node("Add", [v, tr.g.node("Mul", [cube, tr.value(0.044715, dt)],
                                                dtype=dt)], dtype=dt)
        t = _chain(tr, inner, dt, ("Mul", [math.sqrt(2 / math.pi)], {}), ("Tanh", [], {}),
                   ("Add", [1.0], {}))
    else:
        t = _chain(tr, v, dt, ("Div", [math.sqrt(2.0)], {}), ("Erf", [], {}), ("Add", [1.0], {}))
    return _chain(tr, tr.g.node("Mul", [v, t], dtype=dt), dt, ("Mul", [0.5], {}))


@op("LeakyReluBackward0")
def _leaky(tr, x, slope=0.01, *rest, out):
    dt = _dt(out)
    return tr.g.node("LeakyRelu", [tr.value(x, dt)], alpha=float(slope), dtype=dt)


@op("EluBackward0")
def _elu(tr, x, alpha=1.0, scale=1.0, input_scale=1.0, *rest, out):
    dt = _dt(out)
    v = tr.value(x, dt)
    if input_scale != 1.0:
        v = tr.g.node("Mul", [v, tr.value(input_scale, dt)], dtype=dt)
    y = tr.g.node("Elu", [v], alpha=float(alpha), dtype=dt)
    if scale != 1.0:
        y = tr.g.node("Mul", [y, tr.value(scale, dt)], dtype=dt)
    return y


@op("CeluBackward0")
def _celu(tr, x, alpha=1.0, *rest, out):
    # celu(x) = alpha * elu(x / alpha), which keeps any float dtype (ONNX Celu is float32-only)
    return _elu(tr, x, 1.0, alpha, 1.0 / alpha, out=out)


@op("HardtanhBackward0")
def _hardtanh(tr, x, lo=-1.0, hi=1.0, *rest, out):
    dt = _dt(out)
    return tr.g.node("Clip", [tr.value(x, dt), tr.value(lo, dt), tr.value(hi, dt)], dtype=dt)


@op("HardsigmoidBackward0")
def _hardsigmoid(tr, x, *rest, out):
    dt = _dt(out)
    return tr.g.node("HardSigmoid", [tr.value(x, dt)], alpha=1 / 6, beta=0.5, dtype=dt)


@op("SoftplusBackward0")
def _softplus(tr, x, beta=1.0, threshold=20.0, *rest, out):
    dt = _dt(out)
    v = tr.value(x, dt)
    bx = v if beta == 1 else tr.g.node("Mul", [v, tr.value(beta, dt)], dtype=dt)
    sp = tr.g.node("Softplus", [bx], dtype=dt)
    if beta != 1:
        sp = tr.g.node("Div", [sp, tr.value(beta, dt)], dtype=dt)
    # Above the threshold PyTorch returns x itself.
    big = tr.g.node("Greater", [bx, tr.value(threshold, dt)], dtype=np.bool_)
    return tr.g.node("Where", [big, v, sp], dtype=dt)


@op("SoftmaxBackward0", "LogSoftmaxBackward0")
def _softmax(tr, x, dim, *rest, out):
    dt = _dt(out)
    kind = "LogSoftmax" if tr.current.startswith("Log") else "Softmax"
    return tr.g.node(kind, [tr.value(x, dt)], axis=int(dim), dtype=dt)


@op("GluBackward0")
def _glu(tr, x, dim=-1, *rest, out):
    dt = _dt(out)
    half = _shape(x)[dim] // 2
    a, b = tr.g.split(tr.value(x, dt), [half, half], dim)
    return tr.g.node("Mul", [a, tr.g.node("Sigmoid", [b], dtype=dt)], dtype=dt)


@op("ClampBackward1", "ClampBackward0", "ClampMinBackward0", "ClampMaxBackward0")
def _clamp(tr, x, lo=None, hi=None, *rest, out):
    dt = _dt(out)
    if tr.current == "ClampMaxBackward0":
        lo, hi = None, lo
    v = tr.value(x, dt)
    if isinstance(lo, Tensor) or isinstance(hi, Tensor):
        if lo is not None:
            v = tr.g.node("Max", [v, tr.value(lo, dt)], dtype=dt)
        if hi is not None:
            v = tr.g.node("Min", [v, tr.value(hi, dt)], dtype=dt)
        return v
    return tr.g.node("Clip", [v, tr.value(lo, dt) if lo is not None else "",
                              tr.value(hi, dt) if hi is not None else ""], dtype=dt)


@op("WhereBackward0")
def _where(tr, cond, a, b, *, out):
    dt = _dt(out)
    return tr.g.node("Where", [tr.value(cond, np.bool_), tr.value(a, dt), tr.value(b, dt)],
                     dtype=dt)


@op("MaskedFillBackward0", "MaskedFillBackward1")
def _masked_fill(tr, x, mask, value, *, out):
    dt = _dt(out)
    return tr.g.node("Where", [tr.value(mask, np.bool_), tr.value(value, dt), tr.value(x, dt)],
                     dtype=dt)


@op("AddcmulBackward0", "AddcdivBackward0")
def _addc(tr, x, a, b, value=1, *, out):
    dt = _dt(out)
    kind = "Mul" if tr.current == "AddcmulBackward0" else "Div"
    t = tr.g.node(kind, [tr.value(a, dt), tr.value(b, dt)], dtype=dt)
    if value != 1:
        t = tr.g.node("Mul", [t, tr.value(value, dt)], dtype=dt)
    return tr.g.node("Add", [tr.value(x, dt), t], dtype=dt)


@op("LerpBackward0", "LerpBackward1")
def _lerp(tr, a, b, w, *, out):
    dt = _dt(out)
    va, vb = tr.value(a, dt), tr.value(b, dt)
    diff = tr.g.node("Sub", [vb, va], dtype=dt)
    return tr.g.node("Add", [va, tr.g.node("Mul", [tr.value(w, dt), diff], dtype=dt)], dtype=dt)


@op("ToCopyBackward0", "_ToCopyBackward0")
def _to_copy(tr, x, *rest, out):
    return tr.g.cast(tr.value(x), _dt(out))


# ------------------------------------------------------------------------------ comparisons
def _compare(onnx_op: str, negate: bool = False):
    def emit(tr, a, b, *, out):
        from .._dtype import result_type
        common = result_type(a, b).np if isinstance(a, Tensor) else _dt((b,))
        y = tr.g.node(onnx_op, [tr.value(a, common), tr.value(b, common)], dtype=np.bool_)
        return tr.g.node("Not", [y], dtype=np.bool_) if negate else y
    return emit


op("gt")(_compare("Greater"))
op("lt")(_compare("Less"))
op("ge")(_compare("GreaterOrEqual"))
op("le")(_compare("LessOrEqual"))
op("eq")(_compare("Equal"))
op("ne")(_compare("Equal", negate=True))


def _logical(onnx_op: str):
    def emit(tr, a, b=None, *, out):
        if onnx_op == "Not":
            if _dt(out) != np.bool_:
                return tr.g.node("BitwiseNot", [tr.value(a)], dtype=_dt(out))
            return tr.g.node("Not", [tr.value(a, np.bool_)], dtype=np.bool_)
        return tr.g.node(onnx_op, [tr.value(a, np.bool_), tr.value(b, np.bool_)],
                         dtype=np.bool_)
    return emit


op("logical_not")(_logical("Not"))
op("logical_and")(_logical("And"))
op("logical_or")(_logical("Or"))
op("logical_xor")(_logical("Xor"))


@op("isnan")
def _isnan(tr, x, *, out):
    return tr.g.node("IsNaN", [tr.value(x)], dtype=np.bool_)


@op("isinf")
def _isinf(tr, x, *, out):
    return tr.g.node("IsInf", [tr.value(x)], dtype=np.bool_)


@op("argmax", "argmin")
def _argmax(tr, x, dim=None, keepdim=False, *, out):
    kind = "ArgMax" if tr.current == "argmax" else "ArgMin"
    v = tr.value(x)
    if dim is None:
        v = tr.g.reshape(v, [-1])
        y = tr.g.node(kind, [v], axis=0, keepdims=0, select_last_index=0, dtype=np.int64)
        return tr.g.reshape(y, [1] * _nd(x)) if keepdim else y
    return tr.g.node(kind, [v], axis=int(dim), keepdims=int(keepdim), dtype=np.int64)


# ------------------------------------------------------------------------------ matmul/linear
@op("MmBackward0", "BmmBackward0", "MmBackward", "MatmulBackward0", "DotBackward0",
    "MvBackward0")
def _matmul(tr, a, b, *rest, out):
    dt = _dt(out)
    return tr.g.node("MatMul", [tr.value(a, dt), tr.value(b, dt)], dtype=dt)


@op("UnsafeViewBackward0", "ViewBackward0", "ReshapeAliasBackward0", "_UnsafeViewBackward0")
def _view_or_matmul(tr, x, shape, *rest, out):
    if isinstance(shape, Tensor):  # matmul of batched operands records UnsafeViewBackward0
        return _matmul(tr, x, shape, out=out)
    return reshape(tr, tr.value(x), _shape(x), _shape(out))


def reshape(tr, v: str, old: tuple, new: tuple) -> str:
    """Reshape whose target keeps dims that are unchanged at the same index as ``0`` (copy)
    and lets ONNX infer one remaining dim, so dynamic batch/sequence dims survive."""
    if tuple(old) == tuple(new):
        return v
    spec = [0 if i < len(old) and d == old[i] and d != 0 else int(d) for i, d in enumerate(new)]
    free = [i for i, d in enumerate(spec) if d != 0]
    if free and 0 not in new:
        spec[free[0]] = -1
    return tr.g.reshape(v, spec)


@op("AddmmBackward0", "LinearBackward0")
def _addmm(tr, x, w, b=None, *rest, out):
    """F.linear: x @ w.T + b (ember records addmm with the (out, in) weight)."""
    dt = _dt(out)
    return linear(tr, tr.value(x, dt), tr.value(w, dt), tr.value(b, dt) if b is not None
                  else None, _nd(x), dt)


def linear(tr, x: str, w: str, b: str | None, ndim: int, dt) -> str:
    if ndim == 2:
        return tr.g.node("Gemm", [x, w] + ([b] if b else []), transB=1, dtype=dt)
    y = tr.g.node("MatMul", [x, tr.g.transpose(w, [1, 0])], dtype=dt)
    return tr.g.node("Add", [y, b], dtype=dt) if b else y


@op("BaddbmmBackward0", "AddbmmBackward0")
def _baddbmm(tr, x, a, b, beta=1, alpha=1, *, out):
    dt = _dt(out)
    prod = tr.g.node("MatMul", [tr.value(a, dt), tr.value(b, dt)], dtype=dt)
    if alpha != 1:
        prod = tr.g.node("Mul", [prod, tr.value(alpha, dt)], dtype=dt)
    base = tr.value(x, dt)
    if beta != 1:
        base = tr.g.node("Mul", [base, tr.value(beta, dt)], dtype=dt)
    return tr.g.node("Add", [base, prod], dtype=dt)


# ------------------------------------------------------------------------------ shapes
@op("TransposeBackward0", "TBackward0", "TransposeBackward1")
def _transpose(tr, x, d0=0, d1=1, *, out):
    n = _nd(x)
    if n < 2:
        return tr.value(x)
    perm = list(range(n))
    d0, d1 = d0 % n, d1 % n
    perm[d0], perm[d1] = perm[d1], perm[d0]
    return tr.g.transpose(tr.value(x), perm)


@op("PermuteBackward0")
def _permute(tr, x, dims, *, out):
    n = _nd(x)
    return tr.g.transpose(tr.value(x), [d % n for d in dims])


@op("ExpandBackward0")
def _expand(tr, x, sizes, *, out):
    old = _shape(x)
    new = _shape(out)
    # Dims already of the right size broadcast as 1, so dynamic dims are kept.
    spec = [1 if i >= len(new) - len(old) and old[i - len(new) + len(old)] == d else d
            for i, d in enumerate(new)]
    if all(s == 1 for s in spec) and len(new) == len(old):
        return tr.value(x)
    return tr.g.node("Expand", [tr.value(x), tr.g.ints(spec)], dtype=_dt(out))


@op("RepeatBackward0")
def _repeat(tr, x, reps, *, out):
    v = tr.value(x)
    extra = len(reps) - _nd(x)
    if extra:
        v = tr.g.unsqueeze(v, list(range(extra)))
    return tr.g.node("Tile", [v, tr.g.ints(reps)], dtype=_dt(out))


@op("SqueezeBackward0", "SqueezeBackward1", "SqueezeBackward2")
def _squeeze(tr, x, dims=(), *rest, out):
    shape = _shape(x)
    if isinstance(dims, int):
        dims = (dims,)
    axes = [d % len(shape) for d in (dims or range(len(shape))) if shape[d] == 1]
    return tr.g.squeeze(tr.value(x), axes) if axes else tr.value(x)


@op("UnsqueezeBackward0", "SelectBackward0", "SliceBackward0", "SliceBackward1")
def _basic_index(tr, x, index, *rest, out):
    """Indexing with ints, slices, None and Ellipsis (also plain unsqueeze(dim))."""
    if tr.current == "UnsqueezeBackward0" and not isinstance(index, tuple):
        return tr.g.unsqueeze(tr.value(x), [index % (_nd(x) + 1)])
    if not isinstance(index, tuple):
        index = (index,)
    return basic_index(tr, tr.value(x), _shape(x), index)


def basic_index(tr, v: str, shape: tuple, index: tuple) -> str:
    n_real = sum(1 for i in index if i is not None and i is not Ellipsis)
    if any(i is Ellipsis for i in index):
        at = index.index(Ellipsis)
        index = index[:at] + (slice(None),) * (len(shape) - n_real) + index[at + 1:]
    index = index + (slice(None),) * (len(shape) - sum(1 for i in index if i is not None))
    starts, ends, axes, steps, drop, new = [], [], [], [], [], []
    dim = 0
    out_pos = 0
    for item in index:
        if item is None:
            new.append(out_pos)
            out_pos += 1
            continue
        size = shape[dim]
        # Negative and open-ended bounds stay relative to the end (ONNX Slice semantics match
        # Python's), so x[:, -1] still picks the last step when that dim is dynamic.
        if isinstance(item, slice):
            if (item.start, item.stop, item.step) not in ((None, None, None), (0, None, None),
                                                         (None, None, 1), (0, None, 1)):
                step = 1 if item.step is None else int(item.step)
                if step > 0:
                    start = 0 if item.start is None else int(item.start)
                    stop = INT64_MAX if item.stop is None else int(item.stop)
                else:
                    start = -1 if item.start is None else int(item.start)
                    stop = -INT64_MAX if item.stop is None else int(item.stop)
                axes.append(dim)
                starts.append(start)
                ends.append(stop)
                steps.append(step)
            out_pos += 1
        else:
            i = int(item)
            if not -size <= i < size:
                raise IndexError(f"index {i} is out of bounds for dimension {dim} with size "
                                 f"{size}")
            axes.append(dim)
            starts.append(i)
            ends.append(INT64_MAX if i == -1 else i + 1)
            steps.append(1)
            drop.append(dim)
        dim += 1
    if axes:
        v = tr.g.slice(v, starts, ends, axes, steps)
    if drop:
        v = tr.g.squeeze(v, drop)
    if new:
        v = tr.g.unsqueeze(v, new)
    return v


@op("CatBackward0")
def _cat(tr, dim, *tensors, out):
    dt = _dt(out)
    parts = [t for t in tensors if not (isinstance(t, Tensor) and t._data.ndim == 1
                                        and t._data.shape[0] == 0 and _nd(out) > 1)]
    n = _nd(out)
    return tr.g.node("Concat", [tr.value(t, dt) for t in parts], axis=int(dim) % n, dtype=dt)


@op("StackBackward0")
def _stack(tr, dim, *tensors, out):
    dt = _dt(out)
    n = _nd(out)
    parts = [tr.g.unsqueeze(tr.value(t, dt), [int(dim) % n]) for t in tensors]
    return tr.g.node("Concat", parts, axis=int(dim) % n, dtype=dt)


@op("SplitBackward0", "SplitWithSizesBackward0")
def _split(tr, x, dim, sizes, *rest, out):
    return tr.g.split(tr.value(x), list(sizes), int(dim) % _nd(x))


@op("UnbindBackward0")
def _unbind(tr, x, dim=0, *rest, out):
    d = int(dim) % _nd(x)
    parts = tr.g.split(tr.value(x), [1] * _shape(x)[d], d)
    return [tr.g.squeeze(p, [d]) for p in parts]


@op("ConstantPadNdBackward0")
def _pad(tr, x, pairs, value=0, *rest, out):
    n = _nd(x)
    begins, ends = [0] * n, [0] * n
    for i, (lo, hi) in enumerate(pairs):
        begins[n - 1 - i], ends[n - 1 - i] = int(lo), int(hi)
    dt = _dt(out)
    return tr.g.node("Pad", [tr.value(x, dt), tr.g.ints(begins + ends), tr.value(value, dt)],
                     mode="constant", dtype=dt)


@op("FlipBackward0")
def _flip(tr, x, dims, *, out):
    n = _nd(x)
    dims = [d % n for d in dims]
    return tr.g.slice(tr.value(x), [-1] * len(dims), [-INT64_MAX] * len(dims), dims,
                      [-1] * len(dims))


@op("RollBackward0")
def _roll(tr, x, shifts, dims=(), *, out):
    shifts = tuple(shifts) if isinstance(shifts, (tuple, list)) else (shifts,)
    dims = () if dims is None else tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
    v = tr.value(x)
    shape = _shape(x)
    if not dims:
        flat = tr.g.reshape(v, [-1])
        rolled = _roll_axis(tr, flat, shifts[0], 0, int(np.prod(shape)))
        return tr.g.reshape(rolled, shape)
    for s, d in zip(shifts, dims):
        v = _roll_axis(tr, v, s, d % len(shape), shape[d])
    return v


def _roll_axis(tr, v, shift, axis, size):
    k = shift % size if size else 0
    if not k:
        return v
    head = tr.g.slice(v, [size - k], [INT64_MAX], [axis])
    tail = tr.g.slice(v, [0], [size - k], [axis])
    return tr.g.node("Concat", [head, tail], axis=axis, dtype=tr.g.dtypes.get(v))


@op("TriuBackward0", "TrilBackward0")
def _trilu(tr, x, k=0, *, out):
    return tr.g.node("Trilu", [tr.value(x), tr.g.const(np.int64(k))],
                     upper=int(tr.current == "TriuBackward0"), dtype=_dt(out))


@op("GatherBackward0")
def _gather(tr, x, dim, index, *rest, out):
    return tr.g.node("GatherElements", [tr.value(x), tr.value(index, np.int64)],
                     axis=int(dim) % _nd(x), dtype=_dt(out))


@op("IndexSelectBackward0", "index_select")
def _index_select(tr, x, dim, index, *rest, out):
    return tr.g.node("Gather", [tr.value(x), tr.value(index, np.int64)],
                     axis=int(dim) % _nd(x), dtype=_dt(out))


@op("IndexBackward0")
def _index(tr, x, index, *rest, out):
    """Advanced indexing with one integer index array (other entries full slices)."""
    if not isinstance(index, tuple):
        index = (index,)
    arrays = [i for i, item in enumerate(index) if isinstance(item, (np.ndarray, Tensor))]
    full = all(isinstance(item, slice) and item == slice(None) for i, item in enumerate(index)
               if i not in arrays)
    idx = index[arrays[0]] if len(arrays) == 1 else None
    arr = idx._data if isinstance(idx, Tensor) else idx
    if idx is None or not full or arr.dtype.kind not in "iu" or any(
            item is Ellipsis for item in index):
        raise UnsupportedOperatorError("IndexBackward0", "only a single integer index "
                                       "tensor among full slices is supported")
    return tr.g.node("Gather", [tr.value(x), tr.value(idx, np.int64)], axis=arrays[0],
                     dtype=_dt(out))


@op("getitem")
def _getitem(tr, x, index, *, out):
    """``x[...]`` with tensor indices: one integer index tensor (the other entries basic), or
    one boolean mask of x's full shape."""
    items = index if isinstance(index, tuple) else (index,)
    tensors = [i for i, item in enumerate(items) if isinstance(item, (Tensor, list))]
    if len(tensors) != 1:
        raise UnsupportedOperatorError("IndexBackward0", "indexing with several index tensors")
    pos = tensors[0]
    idx = items[pos]
    if isinstance(idx, list):
        idx = np.asarray(idx)
    kind = (idx._data if isinstance(idx, Tensor) else idx).dtype.kind
    if kind == "b":
        if len(items) != 1 or _shape(idx) != _shape(x):
            raise UnsupportedOperatorError("IndexBackward0", "a boolean mask must cover the "
                                           "whole tensor")
        flat = tr.g.reshape(tr.value(x), [-1])
        return tr.g.node("Compress", [flat, tr.g.reshape(tr.value(idx, np.bool_), [-1])],
                         axis=0, dtype=_dt(out))
    if any(it is Ellipsis or it is None for it in items):
        raise UnsupportedOperatorError("IndexBackward0", "tensor index with ... or None")
    # Basic items before the tensor: apply them, then gather along the remaining axis.
    before = items[:pos]
    v = tr.value(x)
    shape = _shape(x)
    if before:
        v = basic_index(tr, v, shape, tuple(before))
        axis = sum(1 for b in before if isinstance(b, slice))
    else:
        axis = 0
    y = tr.g.node("Gather", [v, tr.value(idx, np.int64)], axis=axis, dtype=_dt(out))
    after = items[pos + 1:]
    if after:
        nd_idx = _nd(idx)
        rest_shape = _shape(out)
        y = basic_index(tr, y, tuple(rest_shape), (slice(None),) * (axis + nd_idx)
                        + tuple(after))
    # Ints count as advanced indices too: when a slice separates them from the tensor,
    # NumPy's (and PyTorch's) rule puts the indexed dims first.
    adv = [i for i, it in enumerate(items) if not isinstance(it, slice)]
    if adv != list(range(adv[0], adv[-1] + 1)) and axis:
        n_out = _nd(out)
        moved = list(range(axis, axis + _nd(idx)))
        y = tr.g.transpose(y, moved + [d for d in range(n_out) if d not in moved])
    return y


@op("EmbeddingBackward0")
def _embedding(tr, weight, indices, *rest, out):
    return tr.g.node("Gather", [tr.value(weight), tr.value(indices, np.int64)], axis=0,
                     dtype=_dt(out))


# ------------------------------------------------------------------------------ reductions
def _dims(dims, n):
    if dims is None or dims == ():
        return list(range(n))
    if isinstance(dims, int):
        dims = (dims,)
    return sorted(int(d) % n for d in dims)


def _reduce(onnx_op: str):
    def emit(tr, x, dims=None, keepdim=False, *rest, out):
        dt = _dt(out)
        n = _nd(x)
        if n == 0:
            return tr.value(x, dt)
        return tr.g.reduce(onnx_op, tr.value(x, dt), _dims(dims, n), bool(keepdim), dtype=dt)
    return emit


op("SumBackward0", "SumBackward1")(_reduce("ReduceSum"))
op("MeanBackward0", "MeanBackward1")(_reduce("ReduceMean"))
op("AmaxBackward0", "MaxBackward1")(_reduce("ReduceMax"))
op("AminBackward0", "MinBackward1")(_reduce("ReduceMin"))
op("ProdBackward0", "ProdBackward1")(_reduce("ReduceProd"))
op("LogsumexpBackward0")(_reduce("ReduceLogSumExp"))


@op("MaxBackward0", "MinBackward0")
def _max_dim(tr, x, dim, keepdim=False, *rest, out):
    is_max = tr.current == "MaxBackward0"
    v = tr.value(x)
    d = int(dim) % max(_nd(x), 1)
    values = tr.g.reduce("ReduceMax" if is_max else "ReduceMin", v, [d], bool(keepdim),
                         dtype=_dt(out))
    idx = tr.g.node("ArgMax" if is_max else "ArgMin", [v], axis=d, keepdims=int(keepdim),
                    dtype=np.int64)
    return [values, idx]


@op("VarBackward0", "StdBackward0")
def _var(tr, x, dims=None, correction=1, keepdim=False, *rest, out):
    dt = _dt(out)
    n = _nd(x)
    axes = _dims(dims, n)
    v = tr.value(x, dt)
    mean = tr.g.reduce("ReduceMean", v, axes, True, dtype=dt)
    diff = tr.g.node("Sub", [v, mean], dtype=dt)
    sq = tr.g.reduce("ReduceSum", tr.g.node("Mul", [diff, diff], dtype=dt), axes,
                     bool(keepdim), dtype=dt)
    count = int(np.prod([_shape(x)[a] for a in axes])) - (correction or 0)
    var = tr.g.node("Div", [sq, tr.value(float(max(count, 0)), dt)], dtype=dt)
    return tr.g.node("Sqrt", [var], dtype=dt) if tr.current == "StdBackward0" else var


@op("LinalgVectorNormBackward0", "NormBackward1", "NormBackward0")
def _norm(tr, x, ord=2.0, dims=None, keepdim=False, *rest, out):
    dt = _dt(out)
    n = _nd(x)
    v = tr.value(x, dt)
    axes = _dims(dims, n)
    if ord == 2:
        return tr.g.reduce("ReduceL2", v, axes, bool(keepdim), dtype=dt)
    if ord == 1:
        return tr.g.reduce("ReduceL1", v, axes, bool(keepdim), dtype=dt)
    if ord == math.inf:
        return tr.g.reduce("ReduceMax", tr.g.node("Abs", [v], dtype=dt), axes, bool(keepdim),
                           dtype=dt)
    p = tr.value(float(ord), dt)
    s = tr.g.reduce("ReduceSum", tr.g.node("Pow", [tr.g.node("Abs", [v], dtype=dt), p],
                                           dtype=dt), axes, bool(keepdim), dtype=dt)
    return tr.g.node("Pow", [s, tr.value(1.0 / ord, dt)], dtype=dt)


@op("CumsumBackward0")
def _cumsum(tr, x, dim, *rest, out):
    dt = _dt(out)
    return tr.g.node("CumSum", [tr.value(x, dt), tr.g.const(np.int64(int(dim) % _nd(x)))],
                     dtype=dt)


# ------------------------------------------------------------------------------ nn ops
@op("NativeLayerNormBackward0", "NativeGroupNormBackward0")
def _layer_norm(tr, x, w, b, group_shape, axes, affine_shape, eps, *rest, out):
    """layer_norm (normalise the trailing dims ``w`` covers) as LayerNormalization; group_norm
    and instance_norm (normalise over ``axes`` of x viewed as ``group_shape``) decomposed."""
    dt = _dt(out)
    shape = _shape(x)
    k = _nd(w) if w is not None else next(
        (k for k in range(1, len(shape) + 1) if int(np.prod(shape[-k:])) == group_shape[-1]),
        0)
    layer_like = (k and tuple(group_shape) == (int(np.prod(shape[:-k] or (1,))),
                                               int(np.prod(shape[-k:])))
                  and tuple(axes) == (1,) and (w is None or _shape(w) == shape[-k:]))
    if layer_like:
        scale = tr.value(w, dt) if w is not None else tr.g.const(np.ones(shape[-k:], dt))
        bias = tr.value(b, dt) if b is not None else None
        return layer_norm(tr, tr.value(x, dt), scale, bias, -k, float(eps), dt)
    g = tr.g
    v = tr.value(x, dt)
    grouped = reshape(tr, v, shape, tuple(group_shape))
    red = [int(a) for a in axes]
    mean = g.reduce("ReduceMean", grouped, red, True, dtype=dt)
    diff = g.node("Sub", [grouped, mean], dtype=dt)
    var = g.reduce("ReduceMean", g.node("Mul", [diff, diff], dtype=dt), red, True, dtype=dt)
    std = g.node("Sqrt", [g.node("Add", [var, tr.value(float(eps), dt)], dtype=dt)], dtype=dt)
    y = g.node("Div", [diff, std], dtype=dt)
    y = g.node("Reshape", [y, g.node("Shape", [v], dtype=np.int64)], dtype=dt)
    if w is not None:
        y = g.node("Mul", [y, g.reshape(tr.value(w, dt), list(affine_shape))], dtype=dt)
    if b is not None:
        y = g.node("Add", [y, g.reshape(tr.value(b, dt), list(affine_shape))], dtype=dt)
    return y


def layer_norm(tr, x: str, scale: str, bias: str | None, axis: int, eps: float, dt) -> str:
    if tr.g.opset >= 17:
        return tr.g.node("LayerNormalization", [x, scale] + ([bias] if bias else []),
                         axis=axis, epsilon=eps, dtype=dt)
    n = len(tr.g.shapes.get(x, ())) or -axis
    axes = list(range(n + axis if axis < 0 else axis, n)) if n else [-1]
    mean = tr.g.reduce("ReduceMean", x, axes, True, dtype=dt)
    diff = tr.g.node("Sub", [x, mean], dtype=dt)
    var = tr.g.reduce("ReduceMean", tr.g.node("Mul", [diff, diff], dtype=dt), axes, True,
                      dtype=dt)
    std = tr.g.node("Sqrt", [tr.g.node("Add", [var, tr.value(eps, dt)], dtype=dt)], dtype=dt)
    y = tr.g.node("Mul", [tr.g.node("Div", [diff, std], dtype=dt), scale], dtype=dt)
    return tr.g.node("Add", [y, bias], dtype=dt) if bias else y


@op("NativeBatchNormBackward0")
def _batch_norm(tr, x, w, b, mean, var, *rest, out):
    dt = _dt(out)
    c = _shape(x)[1]
    eps = next((r for r in rest if isinstance(r, float)), 1e-5)
    if mean is None or var is None:
        raise UnsupportedOperatorError(tr.current, "batch statistics (training mode) cannot "
                                       "be exported; call model.eval()")
    scale = tr.value(w, dt) if w is not None else tr.g.const(np.ones(c, dt))
    bias = tr.value(b, dt) if b is not None else tr.g.const(np.zeros(c, dt))
    return tr.g.node("BatchNormalization", [tr.value(x, dt), scale, bias, tr.value(mean, dt),
                                            tr.value(var, dt)], epsilon=float(eps), dtype=dt)


@op("LogSigmoidBackward0")
def _logsigmoid(tr, x, *rest, out):
    dt = _dt(out)
    return _chain(tr, tr.value(x, dt), dt, ("Neg", [], {}), ("Softplus", [], {}), ("Neg", [], {}))


def _bitwise(bool_op: str, int_op: str):
    def emit(tr, a, b, *, out):
        dt = _dt(out)
        kind = bool_op if np.dtype(dt).kind == "b" else int_op
        return tr.g.node(kind, [tr.value(a, dt), tr.value(b, dt)], dtype=dt)
    return emit


op("bitwise_and")(_bitwise("And", "BitwiseAnd"))
op("bitwise_or")(_bitwise("Or", "BitwiseOr"))
op("bitwise_xor")(_bitwise("Xor", "BitwiseXor"))


@op("any", "all")
def _any_all(tr, x, dim=None, keepdim=False, *, out):
    n = _nd(x)
    v = tr.g.cast(tr.value(x, np.bool_), np.int32)
    kind = "ReduceMax" if tr.current == "any" else "ReduceMin"
    axes = _dims(dim, n) if n else None
    r = tr.g.reduce(kind, v, axes, bool(keepdim), dtype=np.int32) if n else v
    return tr.g.cast(r, np.bool_)


@op("RemainderBackward0", "RemainderBackward1")
def _remainder(tr, a, b, *, out):
    dt = _dt(out)
    x, y = _same(tr, (a, b), dt)
    if np.dtype(dt).kind in "iu":
        return tr.g.node("Mod", [x, y], fmod=0, dtype=dt)
    q = tr.g.node("Floor", [tr.g.node("Div", [x, y], dtype=dt)], dtype=dt)
    return tr.g.node("Sub", [x, tr.g.node("Mul", [q, y], dtype=dt)], dtype=dt)


@op("FmodBackward0", "FmodBackward1")
def _fmod(tr, a, b, *, out):
    dt = _dt(out)
    x, y = _same(tr, (a, b), dt)
    return tr.g.node("Mod", [x, y], fmod=int(np.dtype(dt).kind == "f"), dtype=dt)


@op("TopkBackward0", "SortBackward0", "SortBackward1")
def _topk(tr, x, dim, *rest, out):
    """topk (x, dim, sorted, k, largest) and sort (x, dim, stable, descending)."""
    n = _nd(x)
    d = int(dim) % max(n, 1)
    k = _shape(out[0])[d] if n else 1
    largest = rest[-1] if tr.current.startswith("Topk") else rest[-1]
    values, idx = tr.g.node("TopK", [tr.value(x), tr.g.ints([k])], 2, axis=d,
                            largest=int(bool(largest)), sorted=1)
    tr.g.dtypes[values] = _dt(out)
    tr.g.dtypes[idx] = np.dtype(np.int64)
    return [values, idx]


# ------------------------------------------------------------------------------ conv / pool
@op("ConvolutionBackward0")
def _convolution(tr, x, w, b, geometry, kind="C", out_size=None, *rest, out):
    """F.conv{1,2,3}d and F.conv_transpose{1,2,3}d: (stride, pads, dilation, groups)."""
    stride, pads, dilation, groups = geometry
    n = len(stride)
    dt = _dt(out)
    v = tr.value(x, dt)
    unbatched = _nd(x) == n + 1
    if unbatched:
        v = tr.g.unsqueeze(v, [0])
    ins = [v, tr.value(w, dt)] + ([tr.value(b, dt)] if b is not None else [])
    attrs = dict(kernel_shape=list(_shape(w)[2:]), strides=[int(s) for s in stride],
                 pads=[int(p[0]) for p in pads] + [int(p[1]) for p in pads],
                 dilations=[int(d) for d in dilation], group=int(groups))
    if kind == "T":
        spatial_in, spatial_out = _shape(x)[-n:], _shape(out)[-n:]
        attrs["output_padding"] = [
            o - ((i - 1) * s - p[0] - p[1] + d * (k - 1) + 1) for o, i, s, p, d, k in
            zip(spatial_out, spatial_in, stride, pads, dilation, _shape(w)[2:])]
        y = tr.g.node("ConvTranspose", ins, dtype=dt, **attrs)
    else:
        y = tr.g.node("Conv", ins, dtype=dt, **attrs)
    return tr.g.squeeze(y, [0]) if unbatched else y


def _ceil_mode(spatial_in, spatial_out, kernel, stride, pads, dilation) -> int:
    floor = [(i + p[0] + p[1] - d * (k - 1) - 1) // s + 1 for i, k, s, p, d in
             zip(spatial_in, kernel, stride, pads, dilation)]
    return int(list(floor) != list(spatial_out))


@op("MaxPool2DWithIndicesBackward0", "MaxPool3DWithIndicesBackward0",
    "MaxPool1DWithIndicesBackward0")
def _max_pool(tr, x, geometry, *rest, out):
    kernel, stride, pads, dilation = geometry[:4]
    n = len(kernel)
    values = out[0] if isinstance(out, (tuple, list)) else out
    unbatched = _nd(x) == n + 1
    v = tr.value(x)
    if unbatched:
        v = tr.g.unsqueeze(v, [0])
    spatial = _shape(x)[-n:]
    y, idx = tr.g.node("MaxPool", [v], 2, kernel_shape=[int(k) for k in kernel],
                       strides=[int(s) for s in stride],
                       pads=[int(p[0]) for p in pads] + [int(p[1]) for p in pads],
                       dilations=[int(d) for d in dilation],
                       ceil_mode=_ceil_mode(spatial, _shape(values)[-n:], kernel, stride, pads,
                                            dilation))
    tr.g.dtypes[y] = _dt(values)
    # ONNX indexes the whole flattened input; PyTorch each channel's spatial plane.
    idx = tr.g.node("Mod", [idx, tr.g.const(np.int64(np.prod(spatial)))], fmod=0,
                    dtype=np.int64)
    if unbatched:
        y, idx = tr.g.squeeze(y, [0]), tr.g.squeeze(idx, [0])
    return [y, idx] if isinstance(out, (tuple, list)) else y


@op("AvgPool2DBackward0", "AvgPool3DBackward0", "AvgPool1DBackward0")
def _avg_pool(tr, x, geometry, divisor=None, divisor_override=None, *rest, out):
    kernel, stride, pads, dilation = geometry[:4]
    if divisor_override:
        raise UnsupportedOperatorError(tr.current, "divisor_override")
    n = len(kernel)
    unbatched = _nd(x) == n + 1
    v = tr.value(x)
    if unbatched:
        v = tr.g.unsqueeze(v, [0])
    full = int(np.prod([int(k) for k in kernel]))
    include = int(divisor is None or bool(np.all(np.asarray(divisor) == full)))
    y = tr.g.node("AveragePool", [v], kernel_shape=[int(k) for k in kernel],
                  strides=[int(s) for s in stride],
                  pads=[int(p[0]) for p in pads] + [int(p[1]) for p in pads],
                  count_include_pad=include,
                  ceil_mode=_ceil_mode(_shape(x)[-n:], _shape(out)[-n:], kernel, stride, pads,
                                       dilation), dtype=_dt(out))
    return tr.g.squeeze(y, [0]) if unbatched else y


@op("AdaptiveAvgPool2DBackward0", "AdaptiveAvgPool1DBackward0", "AdaptiveAvgPool3DBackward0")
def _adaptive_avg(tr, x, mats, *rest, out):
    """Adaptive average pooling is a fixed linear map per spatial axis: global pooling when
    the output is 1, otherwise a MatMul with each axis's averaging matrix."""
    dt = _dt(out)
    n = len(mats)
    v = tr.value(x, dt)
    if all(_shape(out)[-n:][i] == 1 for i in range(n)) and _nd(x) == n + 2:
        return tr.g.node("GlobalAveragePool", [v], dtype=dt)
    nd = _nd(x)
    for i, m in enumerate(mats):
        axis = nd - n + i
        m = np.asarray(m, dtype=dt)  # (out, in)
        # Move ``axis`` last, multiply by m.T, move it back.
        perm = [d for d in range(nd) if d != axis] + [axis]
        inv = list(np.argsort(perm))
        t = tr.g.transpose(v, perm)
        t = tr.g.node("MatMul", [t, tr.g.const(np.ascontiguousarray(m.T))], dtype=dt)
        v = tr.g.transpose(t, inv)
    return v


@op("AdaptiveMaxPool2DBackward0", "AdaptiveMaxPool1DBackward0", "AdaptiveMaxPool3DBackward0")
def _adaptive_max(tr, x, out_size, *rest, out):
    values = out[0] if isinstance(out, (tuple, list)) else out
    n = len(out_size)
    spatial_in, spatial_out = _shape(x)[-n:], _shape(values)[-n:]
    if _nd(x) != n + 2 or not all(i % o == 0 for i, o in zip(spatial_in, spatial_out)):
        raise UnsupportedOperatorError(tr.current, "batched input whose size the output size "
                                       "divides")
    k = [i // o for i, o in zip(spatial_in, spatial_out)]
    y, idx = tr.g.node("MaxPool", [tr.value(x)], 2, kernel_shape=k, strides=k)
    tr.g.dtypes[y] = _dt(values)
    idx = tr.g.node("Mod", [idx, tr.g.const(np.int64(np.prod(spatial_in)))], fmod=0,
                    dtype=np.int64)
    return [y, idx] if isinstance(out, (tuple, list)) else y


@op("UpsampleNearest1DBackward0", "UpsampleNearest2DBackward0", "UpsampleNearest3DBackward0",
    "UpsampleNearestExact1DBackward0", "UpsampleNearestExact2DBackward0",
    "UpsampleNearestExact3DBackward0", "UpsampleLinear1DBackward0",
    "UpsampleBilinear2DBackward0", "UpsampleBicubic2DBackward0",
    "UpsampleTrilinear3DBackward0")
def _axis_map(tr, x, maps, *rest, out):
    """Resampling as recorded by ember: per axis, gather source positions (``idx``, one column
    per tap) and blend them with weights ``w`` (None for nearest)."""
    dt = _dt(out)
    v = tr.value(x, dt)
    nd = _nd(x)
    for axis, idx, w, _ in maps:
        idx = np.asarray(idx, dtype=np.int64)
        idx = idx.reshape(idx.shape[0], -1)
        acc = None
        for j in range(idx.shape[1]):
            g = tr.g.node("Gather", [v, tr.g.const(idx[:, j])], axis=int(axis), dtype=dt)
            if w is not None:
                wj = np.asarray(w, dtype=dt).reshape(idx.shape[0], -1)[:, j]
                g = tr.g.node("Mul", [g, tr.g.const(wj.reshape((-1,) + (1,) * (nd - 1 - axis)))],
                              dtype=dt)
            acc = g if acc is None else tr.g.node("Add", [acc, g], dtype=dt)
        v = acc
    return v


@op("PixelShuffleBackward0")
def _pixel_shuffle(tr, x, r, *rest, out):
    if _nd(x) != 4:
        raise UnsupportedOperatorError(tr.current, "only 4-d input")
    return tr.g.node("DepthToSpace", [tr.value(x)], blocksize=int(r), mode="CRD",
                     dtype=_dt(out))


@op("take")
def _take(tr, x, index, *, out):
    flat = tr.g.reshape(tr.value(x), [-1])
    return tr.g.node("Gather", [flat, tr.value(index, np.int64)], axis=0, dtype=_dt(out))


@op("take_along_dim")
def _take_along_dim(tr, x, index, dim=None, *, out):
    if dim is None:
        flat = tr.g.reshape(tr.value(x), [-1])
        return tr.g.node("GatherElements", [flat, tr.g.reshape(tr.value(index, np.int64), [-1])],
                         axis=0, dtype=_dt(out))
    xs, ix = _shape(x), _shape(index)
    d = int(dim) % len(xs)
    if len(xs) != len(ix) or any(a != b for i, (a, b) in enumerate(zip(xs, ix)) if i != d):
        raise UnsupportedOperatorError("take_along_dim", "broadcasting index shapes")
    return tr.g.node("GatherElements", [tr.value(x), tr.value(index, np.int64)], axis=d,
                     dtype=_dt(out))


@op("argsort")
def _argsort(tr, x, dim=-1, descending=False, stable=False, *, out):
    n = _nd(x)
    if n == 0:
        return tr.g.const(np.int64(0))
    d = int(dim) % n
    _, idx = tr.g.node("TopK", [tr.value(x), tr.g.ints([_shape(x)[d]])], 2, axis=d,
                       largest=int(bool(descending)), sorted=1)
    tr.g.dtypes[idx] = np.dtype(np.int64)
    return idx


@op("one_hot")
def _one_hot(tr, index, num_classes=-1, *, out):
    depth = _shape(out)[-1]
    hit = tr.g.node("Equal", [tr.g.unsqueeze(tr.value(index, np.int64), [-1]),
                              tr.g.const(np.arange(depth, dtype=np.int64))], dtype=np.bool_)
    return tr.g.cast(hit, _dt(out))


@op("einsum")
def _einsum(tr, equation, *operands, out):
    if len(operands) == 1 and isinstance(operands[0], (tuple, list)):
        operands = tuple(operands[0])
    dt = _dt(out)
    return tr.g.node("Einsum", [tr.value(o, dt) for o in operands],
                     equation=equation.replace(" ", ""), dtype=dt)


@op("zeros_like", "ones_like", "full_like")
def _full_like(tr, x, fill_value=None, *, out, **kwargs):
    dt = _dt(out)
    value = {"zeros_like": 0, "ones_like": 1}.get(tr.current, fill_value)
    shape = tr.g.node("Shape", [tr.value(x)], dtype=np.int64)
    return tr.g.node("ConstantOfShape", [shape], dtype=dt, value=tr.g.onnx.numpy_helper.from_array(
        np.asarray([value], dtype=dt)))
