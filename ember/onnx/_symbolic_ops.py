"""ONNX translations of ember's built-in ops, keyed on the autograd node name each op records
(PyTorch's grad_fn names, e.g. ``AddmmBackward0``) and reading the arguments it was applied
to. Each translation gets the tracer, the op's arguments and its ember output(s), and returns
the ONNX value name(s) standing for the output(s).

This module holds the registry (``OPS``, ``op``), the helpers, and the pointwise ops
(arithmetic, activations, comparisons, logical ops); ``_symbolic_shapes`` and
``_symbolic_nn`` register the rest."""

from __future__ import annotations

import math

import numpy as np

from .._tensor import Tensor

OPS: dict = {}


def _class_ops() -> dict:
    """Op classes translated by class rather than by node name (see
    ``_trace._effective_name``): their subclasses carry PyTorch's per-call node names
    (F.linear's ``MmBackward0``/``ViewBackward0``, instance_norm's ``ViewBackward0``)."""
    from ..nn._functional.linear import Linear
    from ..nn._functional.normalization import NativeNorm
    return {Linear: "LinearBackward0", NativeNorm: "NativeLayerNormBackward0"}


CLASS_OPS: dict = _class_ops()


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


def _dims(dims, n):
    if dims is None or dims == ():
        return list(range(n))
    if isinstance(dims, int):
        dims = (dims,)
    return sorted(int(d) % n for d in dims)


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


@op("zeros_like", "ones_like", "full_like")
def _full_like(tr, x, fill_value=None, *, out, **kwargs):
    dt = _dt(out)
    value = {"zeros_like": 0, "ones_like": 1}.get(tr.current, fill_value)
    shape = tr.g.node("Shape", [tr.value(x)], dtype=np.int64)
    return tr.g.node("ConstantOfShape", [shape], dtype=dt, value=tr.g.onnx.numpy_helper.from_array(
        np.asarray([value], dtype=dt)))
