"""The ops the generated program writes out as NumPy calls, and their derivatives.

Each entry of the table: ``fwd(op, a, meta)`` gives the source of the op's output array (or
None: the op keeps its own ``forward``); ``bwd(op, g, a, out)`` gives ``[(argument index,
source of its gradient, fresh array?)]`` (or ``(line, [...])`` with a line to run first),
where ``a`` holds the source of each argument (an array variable or a constant's name) and
``out`` the output's. An entry with a third function (cross_entropy) has a forward giving
``(output, aux)``: ``aux``, bound as ``w<n>``, is what its backward reads, and the third
function makes one of the right shapes for generating it. The formulas are the ops' own
array formulas (ember/_ops/elementwise.py, reduction.py, nn/_functional/linear.py, loss.py)
for real floating inputs; ``choose_spec`` checks each use against the op's own result as the
op runs.
"""

from __future__ import annotations

import itertools

from .._backend import ndarray, xp

_ids = itertools.count()  # names of the temporaries a formula introduces

# -- the ops the generator writes out ---------------------------------------------------------
# Each entry: fwd(op, a) -> source of the output array, or None (use the op's own forward);
# bwd(op, g, a, out) -> [(argument index, source of its gradient, fresh array?)], where ``a``
# holds the source of each argument (array variable or constant name) and ``out`` the output's.
# The formulas are the ops' own array formulas (ember/_ops/elementwise.py, reduction.py,
# nn/_functional/linear.py) for real floating inputs.

def _real_float(meta) -> bool:
    dt = meta[1]
    return dt.kind == "f" and dt.metadata is None


def _operands_plain(op, meta, n: int = 2) -> bool:
    """Whether ``operands()`` returns the arrays/numbers unchanged: float tensors of one
    dtype, Python floats and ints."""
    dts = set()
    for a in op.args[:n]:
        if type(a) is _SlotT:
            if not _real_float(meta[a.i]):
                return False
            dts.add(meta[a.i][1])
        elif type(a) not in (float, int):
            return False
    return len(dts) == 1


def _alpha1(op) -> bool:
    return (len(op.args) < 3 or op.args[2] == 1) and not op.kwargs


def _f_add(op, a, meta):
    return f"{a[0]} + {a[1]}" if _operands_plain(op, meta) and _alpha1(op) else None


def _b_add(op, g, a, out):
    return [(0, g, False), (1, g, False)]


def _f_sub(op, a, meta):
    return f"{a[0]} - {a[1]}" if _operands_plain(op, meta) and _alpha1(op) else None


def _b_sub(op, g, a, out):
    return [(0, g, False), (1, f"-{g}", True)]


def _f_rsub(op, a, meta):
    return f"{a[1]} - {a[0]}" if _operands_plain(op, meta) and _alpha1(op) else None


def _b_rsub(op, g, a, out):
    return [(0, f"-{g}", True)]


def _f_mul(op, a, meta):
    return f"{a[0]} * {a[1]}" if _operands_plain(op, meta) and not op.kwargs else None


def _b_mul(op, g, a, out):
    return [(0, f"{g} * {a[1]}", True), (1, f"{g} * {a[0]}", True)]


def _f_div(op, a, meta):
    if (not _operands_plain(op, meta) or op.kwargs or type(op.args[0]) is not _SlotT
            or (len(op.args) > 2 and op.args[2] is not None)):
        return None
    return f"_tdiv({a[0]}, {a[1]})"


def _b_div(op, g, a, out):
    return [(0, f"{g} / {a[1]}", True), (1, f"-{g} * ({a[0]} / ({a[1]} * {a[1]}))", True)]


def _unary(fn: str):
    def fwd(op, a, meta):
        x = op.args[0]
        if type(x) is not _SlotT or not _real_float(meta[x.i]) or len(op.args) != 1:
            return None
        return f"{fn}({a[0]})"
    return fwd


def _b_neg(op, g, a, out):
    return [(0, f"-{g}", True)]


def _b_exp(op, g, a, out):
    return [(0, f"{g} * {out}", True)]


def _b_tanh(op, g, a, out):
    return [(0, f"{g} * (1 - {out} * {out})", True)]


def _b_sigmoid(op, g, a, out):
    return [(0, f"{g} * ({out} * (1 - {out}))", True)]


def _b_relu(op, g, a, out):
    return [(0, f"{g} * ({out} > 0)", True)]


def _sigmoid(a):
    e = xp.exp(-xp.abs(a))
    return xp.where(a >= 0, 1 / (1 + e), e / (1 + e)).astype(a.dtype, copy=False)


def _reduce_ok(op, meta) -> bool:
    x = op.args[0]
    return (type(x) is _SlotT and _real_float(meta[x.i]) and len(op.args) == 4
            and op.args[3] is None and not op.kwargs)


def _f_sum(op, a, meta):
    if not _reduce_ok(op, meta):
        return None
    x = op.args[0]
    dims, keep = op.args[1], op.args[2]
    if dims is None:
        dt = meta[x.i][1].char
        if dt in "efd":
            # the 0-d result written into a fresh 0-d array: no NumPy scalar to convert back
            return f"_addreduce({a[0]}, None, None, _empty((), _D{dt}))"
        return f"_asarray(_addreduce({a[0]}, None))"
    return f"{a[0]}.sum(axis={tuple(dims)!r}, keepdims={bool(keep)!r})"


def _b_sum(op, g, a, out):
    dims = op.args[1] if op.args[1] is not None else ()
    shape = op.in_meta[0][0]
    return [(0, f"_expand(_restore({g}, {tuple(dims)!r}, {bool(op.args[2])!r}), {shape!r})",
             False)]


def _f_mean(op, a, meta):
    if not _reduce_ok(op, meta):
        return None
    dims, keep = op.args[1], op.args[2]
    if dims is None:
        return f"_asarray({a[0]}.mean())"
    return f"_asarray({a[0]}.mean(axis={tuple(dims)!r}, keepdims={bool(keep)!r}))"


def _b_mean(op, g, a, out):
    dims = op.args[1] if op.args[1] is not None else ()
    shape = op.in_meta[0][0]
    count = 1
    for d in (dims if op.args[1] is not None else range(len(shape))):
        count *= shape[d]
    return [(0, f"_expand(_restore({g}, {tuple(dims)!r}, {bool(op.args[2])!r}), {shape!r})"
             f" / {count!r}", True)]


def _f_linear(op, a, meta):
    x, w = op.args[0], op.args[1]
    b = op.args[2] if len(op.args) > 2 else None
    if (op.kwargs or type(x) is not _SlotT or type(w) is not _SlotT or len(meta[x.i][0]) != 2
            or not _real_float(meta[x.i]) or meta[x.i][1] != meta[w.i][1]
            or len(meta[w.i][0]) != 2 or meta[x.i][0][1] != meta[w.i][0][1]):
        return None
    if b is None:
        return f"{a[0]} @ {a[1]}.T"
    if type(b) is not _SlotT or meta[b.i][1] != meta[w.i][1]:
        return None
    return f"_linear({a[0]}, {a[1]}, {a[2]})"


def _linear(a, w, b):
    out = a @ w.T
    out += b
    return out


def _b_linear(op, g, a, out):
    need = (tuple(op.needs) + (False, False, False))[:3]
    t = f"_lg{next(_ids)}"
    pre = f"{t} = _linear_grads({g}, {a[0]}, {a[1]}, {need!r}, _sum_rows)"
    return pre, [(i, f"{t}[{i}]", True) for i in range(3) if need[i]]


def _f_ce(op, a, meta):
    """``cross_entropy`` with class-index targets, mean reduction and nothing else (no class
    weights, smoothing or log input) on a 2-d input: the op's own array path, without its
    node. It gives ``(loss, aux)``, ``aux`` being what its backward reads."""
    if len(op.args) != 4 or op.kwargs or op.args[2] is not None:
        return None
    x, t, opts = op.args[0], op.args[1], op.args[3]
    if (type(x) is not _SlotT or type(t) is not _SlotT or not _real_float(meta[x.i])
            or len(meta[x.i][0]) != 2 or not meta[x.i][0][1] or meta[t.i][1] != xp.int64
            or type(opts) is not tuple or len(opts) != 5 or type(opts[0]) is not int
            or opts[1:] != ("mean", 0.0, False, False)):
        return None
    return f"_ce_mean({a[0]}, {a[1]}, {opts[0]!r})"


def _ce_mean(a, t, ignore_index: int):
    """CrossEntropy.forward's plain hard-label 'mean' path on arrays (the same operations)."""
    from ..nn._functional.loss import _plain_forward
    loss, denom, aux = _plain_forward(a, a, t, ignore_index, False)
    total = loss.sum()
    if denom:
        out = (total / denom).astype(a.dtype)
    else:
        with xp.errstate(invalid="ignore", divide="ignore"):
            out = (total / denom).astype(a.dtype)
    return xp.asarray(out), (aux, denom)


def _ce_grad(g, aux):
    """The hard-label input gradient from the forward's exponentials: the same operations
    as the op's array backward (``_cross_entropy_grad_arrays``) for this case."""
    (e, s, idx, valid), n = aux
    g = g / n if n else g * 0
    gx = e / s
    flat = gx.reshape(-1)
    flat[idx] -= 1
    if valid is not None:
        gx[~valid] = 0
    gx *= g
    return gx


def _b_ce(op, g, a, out):
    t = f"_ce{next(_ids)}"
    return f"{t} = _ce_grad({g}, w{out[1:]})", [(0, t, True)]


def _ce_probe(op, meta):
    """An ``aux`` of the right shapes, for generating the backward."""
    x, t = op.args[0], op.args[1]
    return _ce_mean(xp.ones(meta[x.i][0], meta[x.i][1]), xp.zeros(meta[t.i][0], xp.int64),
                    op.args[3][0])[1]


class _Slot:
    """A value of the trace (an argument, a parameter or an op's output), by number."""

    __slots__ = ("i",)

    def __init__(self, i: int) -> None:
        self.i = i


_SlotT = _Slot


def _specs() -> dict:
    from .._ops import elementwise as ew
    from .._ops import reduction as rd
    from ..nn._functional import linear as ln
    from ..nn._functional import loss as ls
    table = {ew.Add: (_f_add, _b_add), ew.Sub: (_f_sub, _b_sub), ew.Rsub: (_f_rsub, _b_rsub),
             ew.Mul: (_f_mul, _b_mul), ew.Div: (_f_div, _b_div),
             ew.Neg: (_unary("_neg"), _b_neg), ew.Exp: (_unary("_exp"), _b_exp),
             ew.Tanh: (_unary("_tanh"), _b_tanh), ew.Sigmoid: (_unary("_sigmoid"), _b_sigmoid),
             ew.Relu: (_unary("_relu"), _b_relu),
             rd.Sum: (_f_sum, _b_sum), rd.SumDim: (_f_sum, _b_sum),
             rd.Mean: (_f_mean, _b_mean), rd.MeanDim: (_f_mean, _b_mean)}
    for cls in (ln.Linear, ln.LinearMm):
        table[cls] = (_f_linear, _b_linear)
    # a third entry: the forward gives (output, aux) and this makes a probe aux
    table[ls.CrossEntropy] = (_f_ce, _b_ce, _ce_probe)
    _TYPED.update((ew.Add, ew.Sub, ew.Rsub, ew.Mul, ew.Div))
    return table


#: The ops whose Python-number operands the forward passes as 0-d arrays (see choose_spec).
_TYPED: set = set()



_SPECS: dict | None = None


def _relu(a):
    return xp.maximum(a, 0)


_ONES: dict = {}


def _sum_rows_cached(g2):
    """``linear``'s ``_sum_rows`` (a product with a vector of ones) with the ones vector made
    once per length and dtype (read-only: nothing writes into it)."""
    if g2.dtype.kind == "f" and g2.itemsize >= 4:
        key = (g2.shape[0], g2.dtype)
        ones = _ONES.get(key)
        if ones is None:
            if len(_ONES) > 256:
                _ONES.clear()
            ones = _ONES[key] = xp.ones(g2.shape[0], g2.dtype)
            ones.flags.writeable = False
        return ones @ g2
    return g2.sum(0)


def formula_ns() -> dict:
    """The names the formulas' source uses."""
    from .._ops._util import expand_grad
    from .._ops.reduction import _restore_dims
    from ..nn._functional.linear import _linear_grads
    return {"_asarray": xp.asarray, "_tdiv": xp.true_divide, "_neg": xp.negative,
            "_exp": xp.exp, "_tanh": xp.tanh, "_sigmoid": _sigmoid, "_relu": _relu,
            "_expand": expand_grad, "_restore": _restore_dims, "_linear": _linear,
            "_linear_grads": _linear_grads, "_sum_rows": _sum_rows_cached,
            "_addreduce": xp.add.reduce, "_ce_mean": _ce_mean, "_ce_grad": _ce_grad,
            "_empty": xp.empty, "_De": xp.float16,
            "_Df": xp.float32, "_Dd": xp.float64}


_CHECK_NS: list = []


def _check_ns() -> dict:
    if not _CHECK_NS:
        _CHECK_NS.append(formula_ns())
    return _CHECK_NS[0]


def _same(a, b) -> bool:
    """The same array bit for bit (stricter than equal values: the sign of a zero and a
    NaN's bits count too), compared as bytes: ``array_equal`` costs more than the op."""
    if type(a) is not ndarray:
        a = xp.asarray(a)
    return (type(b) is ndarray and a.shape == b.shape and a.dtype == b.dtype
            and a.tobytes() == b.tobytes())


_CODES: dict = {}


def _code(src: str, mode: str):
    """``src`` compiled (cached: a chain repeats the same few formulas)."""
    key = (src, mode)
    code = _CODES.get(key)
    if code is None:
        if len(_CODES) > 4096:
            _CODES.clear()
        code = _CODES[key] = compile(src, "<ember.compile check>", mode)
    return code


def choose_spec(op, meta: list, alive: list) -> None:
    """Right after an op ran in the trace: whether the generator writes it out, checked by
    running the generated source on the op's own inputs against its own output."""
    global _SPECS
    if _SPECS is None:
        _SPECS = _specs()
    op.spec = None
    op.in_meta = [meta[a.i] if type(a) is _SlotT else None for a in op.args]
    spec = _SPECS.get(op.cls)
    if spec is None or not op.single:
        return
    consts: dict = {}
    a = []
    generic = []
    env: dict = {}
    typed: dict = {}  # argument index -> the number as a 0-d array of the tensors' dtype
    dt = next((meta[x.i][1] for x in op.args if type(x) is _SlotT), None)
    for j, x in enumerate(op.args):
        generic.append(f"A{j}_")
        if type(x) is _SlotT:
            a.append(f"x{x.i}")
            env[f"A{j}_"] = alive[x.i]._data
        else:
            name = f"Q{len(consts)}_"
            consts[name] = x
            a.append(name)
            env[f"A{j}_"] = x
            if op.cls in _TYPED and type(x) in (int, float) and dt is not None:
                try:
                    with xp.errstate(all="ignore"):
                        typed[j] = (name, xp.asarray(x, dtype=dt))
                except (OverflowError, ValueError):  # not representable: stays a number
                    pass
    src = spec[0](op, generic, meta)
    if src is None:
        return
    # A Python number in ``x * 2`` costs NumPy a scalar conversion per call; a 0-d array of
    # the tensor's dtype is the very value NumPy converts the number to (NEP 50's weak
    # scalar), so the result is the same: used when the check below confirms it.
    tries = [{**env, **{f"A{j}_": v for j, (_, v) in typed.items()}}, env] if typed else [env]
    for k, e in enumerate(tries):
        try:
            with xp.errstate(all="ignore"):
                got = eval(_code(src, "eval"), _check_ns(), e)  # noqa: S307 - generated
        except Exception:  # noqa: BLE001 - any failure: the op's own forward is used
            continue
        if len(spec) > 2:
            got = got[0]
        if _same(got, alive[op.outs]._data):
            op.spec = spec
            op.fsrc = spec[0](op, a, meta)
            if typed and k == 0:
                consts = {**consts, **dict(typed.values())}
            op.fconst = consts
            return


