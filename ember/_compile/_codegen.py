"""The flat program: one generated Python function per captured call.

``build(tracer, template, out_slots)`` turns a trace into a ``FlatProgram``. Its forward is
straight-line source, compiled with ``compile``/``exec``, that reads each argument's and
parameter's array and calls NumPy directly for the ops it knows (``_formulas``: arithmetic,
exp/tanh/sigmoid/relu, sum/mean, linear, plain cross_entropy), and each other op's own array
``forward`` on a fresh context (so every op stays supported). Its backward is generated the
same way, once per pattern of incoming gradients: the known ops' derivative formulas as
NumPy expressions (the very operations their ``backward`` runs on arrays), the other ops'
``backward`` called on their contexts, each gradient reduced to its input's shape with the
engine's ``_fit`` and summed in the engine's order. Gradients that depend on no runtime
value (the seed cell's) are computed once, while generating (constant folding); forward
values nobody reads are not computed (dead-code elimination). A generated formula is checked
against the op's own result on the traced values when the forward is generated; an op that
does not match exactly falls back to its own ``forward``/``backward``.

NumPy gives nothing to fuse elementwise chains with (each ufunc is one pass), so chains stay
one call per op; what the generated code removes is the per-op Python around the NumPy call.
"""

from __future__ import annotations

import itertools
import sys
import threading

from .._backend import ndarray, xp
from .._tensor import Tensor, _make
from ..autograd import anomaly_mode
from ..autograd import engine as _engine
from ..autograd.function import (
    _SECOND_BACKWARD,
    AccumulateGrad,
    Function,
    _accumulator,
    _next_seq,
    gradient_edge,
)
from ..autograd.grad_mode import _grad_enabled
from ._formulas import _code, _Slot, formula_ns

_ids = itertools.count()




def _base_ns() -> dict:
    """The names the generated program uses: the formulas' and the runtime's."""
    ns = formula_ns()
    ns.update({"_fit": _engine._fit, "_sum": _engine._sum, "_mk": _make,
               "_new": object.__new__, "_ndarray": ndarray, "_cb": _engine._call_backward,
               "_fix": _fix_raw, "_fitd": _fit_dynamic, "_xp": xp, "_Tensor": Tensor,
               "_sumn": _sum_none, "_fitn": _fit_none, "_gset": _grad_enabled.set,
               "_greset": _grad_enabled.reset, "_accum": _accum})
    return ns


def _fix_raw(ctx, raw):
    """What ``Function.apply`` does to an op's raw result: NumPy scalars become arrays (and a
    saved scalar output stays recognisable)."""
    tr = type(raw)
    if tr is ndarray:
        return raw
    if tr is tuple:
        return tuple(r if type(r) is ndarray else xp.asarray(r) for r in raw)
    scalar, raw = raw, xp.asarray(raw)
    if ctx._saved:
        ctx._saved = tuple(raw if x is scalar else x for x in ctx._saved)
    return raw


def _fit_dynamic(r, shape, dtype):
    """An op's own backward result as an array of its input's shape and dtype (or None)."""
    if r is None:
        return None
    d = r if type(r) is ndarray else r._data
    if d.shape != shape or d.dtype != dtype:
        d = _engine._fit(d, shape, dtype)
    return d


def _sum_none(a, b):
    """Two gradient contributions, either of which may be missing (an op's own backward
    may return None)."""
    if a is None:
        return b
    if b is None:
        return a
    return _engine._sum(a, b)


def _fit_none(g, shape, dtype):
    return None if g is None else _engine._fit(g, shape, dtype)


def _src_value(v, ns: dict, tensor_name) -> str:
    """Source text for an op argument: a slot's tensor, a container of them, or a constant
    bound in the generated function's namespace."""
    if type(v) is _Slot:
        return tensor_name(v.i)
    tv = type(v)
    if tv is tuple:
        items = [_src_value(x, ns, tensor_name) for x in v]
        return "(" + "".join(i + ", " for i in items) + ")"
    if tv is list:
        return "[" + ", ".join(_src_value(x, ns, tensor_name) for x in v) + "]"
    if tv is dict:
        return "{" + ", ".join(f"{_const(k, ns)}: {_src_value(x, ns, tensor_name)}"
                               for k, x in v.items()) + "}"
    return _const(v, ns)


def _const(v, ns: dict) -> str:
    if v is None or v is True or v is False:
        return repr(v)
    name = f"K{len(ns)}"
    ns[name] = v
    return name


# -- the generator ------------------------------------------------------------------------------

class FlatProgram:
    """The replayable form of one traced call: a generated ``call(T)`` and, per pattern of
    incoming gradients, a generated backward."""

    def __init__(self, tr, template, out_slots: list) -> None:
        self.meta = meta = tr.meta
        n_ext = len(tr.sources)
        self.n_ext = n_ext
        self.ops = [op for op in tr.ops]
        self.out_slots = [s for s in out_slots if s >= n_ext]
        self.out_requires = [s in tr.requires for s in self.out_slots]
        self.any_recorded = any(self.out_requires)
        self.saved_outs = {s for s in self.out_slots if s in tr.saved_slots}
        metas = [meta[s] for s in self.out_slots]
        # outputs whose implicit-gradient backward() the engine may leave to _fast_root
        self.fast_ok = [m[0] == () and m[1].kind == "f" and m[1].metadata is None
                        for m in metas]
        self.node_meta = metas[0] if len(metas) == 1 else metas
        ns = _base_ns()
        self.ns = ns
        ext_src = {}
        self.ext_tensor = {}
        for s, (kind, v) in enumerate(tr.sources):
            if kind == "arg":
                ext_src[s] = f"T[{v}]"
            else:
                name = f"R{s}"
                ns[name] = v
                ext_src[s] = name
                self.ext_tensor[s] = v
        self.ext_src = ext_src
        # Externals that receive a gradient: the edges of the region's graph node.
        edges = []
        for op in self.ops:
            if op.recorded:
                for s in op.in_slots:
                    if s is not None and s < n_ext and s not in edges:
                        edges.append(s)
        self.edge_slots = edges
        for op in self.ops:
            if op.kind == "op" and op.spec is not None:
                # the constants of the checked source, renamed into this namespace
                for old, v in op.fconst.items():
                    new = _const(v, ns)
                    op.fsrc = op.fsrc.replace(old, new)
        self.backwards: dict = {}
        self.pending: dict = {}
        self.const_bwd: dict = {}
        self.sources: list = []
        self.generic_bwd = any(op.recorded and op.spec is None for op in self.ops)
        # The forward must keep what the backward reads: learn it from the backward for
        # the pattern "every output gets a gradient" (others read a subset).
        self.keep: list = []
        # A backward() inside the call consumed the graph: the outputs' node is released.
        self.inner = any(op.kind == "backward" for op in self.ops)
        if self.any_recorded and not self.inner:
            full = tuple(self.out_requires)
            bsrc, reads = self._gen_backward(full, False)
            self.keep = sorted(reads)
            self.pending = {(full, False): bsrc}  # compiled when first needed
        self.call = self._compile(self._gen_forward(template), "call")

    def _compile(self, src: str, name: str):
        self.sources.append(src)  # kept for reading (docs/compile.md: "the generated program")
        code = compile(src, f"<ember.compile {name} {next(_ids)}>", "exec")
        exec(code, self.ns)  # noqa: S102 - our own generated source
        return self.ns[name]

    # -- forward -----------------------------------------------------------------------------
    def _gen_forward(self, template) -> str:
        ns, meta = self.ns, self.meta
        lines: list = []  # (defines, uses, text)
        have_t: set = set()

        def tname(s: int) -> str:
            if s < self.n_ext:
                return self.ext_src[s]
            if s not in have_t:
                have_t.add(s)
                lines.append(({f"t{s}"}, {f"x{s}"}, f"t{s} = _mk(x{s})"))
            return f"t{s}"

        loaded: set = set()

        def load(slots) -> None:
            # Arguments' and parameters' arrays are read where first used, and again after an
            # optimizer call (which may have replaced them).
            for s in slots:
                if s < self.n_ext and s not in loaded:
                    loaded.add(s)
                    lines.append(({f"x{s}"}, set(), f"x{s} = {self.ext_src[s]}._data"))

        for k, op in enumerate(self.ops):
            if op.kind == "call":
                fn = _const(op.cls, ns)
                args = "".join(", " + _const(a, ns) for a in op.args[1:])
                kw = "".join(f", {key}={_const(v, ns)}" for key, v in op.kwargs.items())
                lines.append(({"!"}, set(), f"{fn}({_const(op.args[0], ns)}{args}{kw})"))
                loaded.clear()
                continue
            if op.kind == "backward":
                blines, reads, ret = self._gen_backward(None, True, upto=k, root=op.outs)
                load(int(n[1:]) for n in reads if n.startswith("x"))
                body = ["_tok = _gset(False)", "try:"] + ["    " + b for b in blines]
                body += ["finally:", "    _greset(_tok)"]
                body += [f"_accum({self.ext_src[s]}, {g}, {fresh!r})" for s, g, fresh in ret]
                lines.append(({"!"}, set(reads), "\n    ".join(body)))
                continue
            slots: set = set()
            for a in list(op.args) + list(op.kwargs.values()):
                _collect(a, slots)
            load(sorted(slots))
            uses = {f"x{a.i}" for a in op.args if type(a) is _Slot}
            if op.spec is not None:
                fsrc = op.fsrc
                if len(op.spec) > 2:  # (output, what its backward reads)
                    lines.append(({f"x{op.outs}", f"w{op.outs}"}, uses,
                                  f"x{op.outs}, w{op.outs} = {fsrc}"))
                    continue
                if meta[op.outs][0] == () and not fsrc.startswith(("_asarray(", "_addreduce(")):
                    fsrc = f"_asarray({fsrc})"
                lines.append(({f"x{op.outs}"}, uses, f"x{op.outs} = {fsrc}"))
                continue
            cname = f"C{k}"
            ns[cname] = op.cls
            args = ", ".join(_src_value(a, ns, tname) for a in op.args)
            kw = "".join(f", {key}={_src_value(v, ns, tname)}" for key, v in op.kwargs.items())
            tuses = set()
            for a in list(op.args) + list(op.kwargs.values()):
                _collect(a, tuses)
            tuses = {tname(s) for s in tuses}
            if op.cls.nondifferentiable:  # a comparison, argmax, ...: called as is
                lines.append(({f"x{op.outs}"}, tuses | uses,
                              f"x{op.outs} = {cname}({args}{kw})._data"))
                continue
            ns[f"N{k}"] = op.needs
            outs = [op.outs] if op.single else list(op.outs)
            defs = {f"c{k}"} | {f"x{s}" for s in outs}
            body = (f"c{k} = _new(C{k}); c{k}._saved = None; c{k}.needs_input_grad = N{k}\n    "
                    f"r = _fix(c{k}, C{k}.forward(c{k}, {args}{kw}))\n    ")
            body += (f"x{op.outs} = r" if op.single else
                     ", ".join(f"x{s}" for s in op.outs) + (", = r" if len(outs) == 1 else " = r"))
            lines.append((defs, tuses | uses, body))
        load(sorted(int(n[1:]) for n in self.keep if n.startswith("x")))
        # Dead-code elimination: keep what the outputs and the backward need.
        live = {f"x{s}" for s in self.out_slots} | set(self.keep) | {"!"}
        kept = []
        for defs, uses, text in reversed(lines):
            if defs & live:
                kept.append(text)
                live |= uses
        kept.reverse()
        out = ["def call(T):"] + ["    " + t for t in kept]
        node_lines = []
        if self.any_recorded:
            ns["_NODE"] = CompiledFunctionBackward
            ns["PROG"] = self
            ns["_seq"] = _next_seq
            ns["_NIG"] = (True,) * len(self.edge_slots)
            ns["_OM"] = self.node_meta
            node_lines += [
                "node = _new(_NODE); node._seq = _seq(); node._saved = None",
                "node.prog = PROG; node.S = " + (
                    "None" if self.inner else f"({''.join(k + ', ' for k in self.keep)})"),
                "node.needs_input_grad = _NIG; node._out_meta = _OM"]
            node_lines += self._edge_lines()
            ns["_edges"] = _set_edges
            ns["_acc"] = _accumulator
        vals = {}
        for s in range(self.n_ext):
            vals[s] = self.ext_src[s]
        for k, s in enumerate(self.out_slots):
            if self.any_recorded and self.out_requires[k]:
                node_lines.append(f"o{s} = _mk(x{s}, True, node)")
                if k:
                    node_lines.append(f"o{s}._output_nr = {k}")
                if s in self.saved_outs:
                    node_lines.append(f"o{s}._vc = [0]; node.vcs = (node.vcs or []) + "
                                      f"[o{s}._vc]")
            else:
                node_lines.append(f"o{s} = _mk(x{s})")
            vals[s] = f"o{s}"
        out += ["    " + t for t in node_lines]
        out.append("    return " + _src_template(template, vals, ns))
        return "\n".join(out) + "\n"

    def _edge_lines(self) -> list:
        """The node's edges, unrolled: when every edge tensor is a leaf (the usual case:
        arguments and parameters), each edge is its sink and ``node.leaves`` lists them for
        the engine's fast path; otherwise ``_set_edges`` works them out."""
        if not self.edge_slots:
            return ["node._edges = (); node.leaves = []"]
        names = []
        lines = []
        for k, s in enumerate(self.edge_slots):
            src = self.ext_src[s]
            if not src.startswith("R"):  # an argument: read it once
                lines.append(f"e{k} = {src}")
                src = f"e{k}"
            names.append(src)
        cond = " and ".join(f"{n}.grad_fn is None and {n}._base is None" for n in names)
        lines.append(f"if {cond}:")
        acc = [f"({n}._acc or _acc({n}), 0)" for n in names]
        lines.append(f"    node._edges = ({''.join(a + ', ' for a in acc)})")
        lines.append(f"    node.leaves = [{', '.join(names)}]")
        lines.append("else:")
        lines.append(f"    _edges(node, ({''.join(n + ', ' for n in names)}))")
        return lines

    # -- backward ----------------------------------------------------------------------------
    def _gen_backward(self, pattern: tuple | None, const_root: bool, upto: int | None = None,
                      root: int | None = None):
        """Source of ``backward(S, G)`` for outputs with gradients where ``pattern`` says
        (``const_root``: one scalar output whose gradient is the implicit 1), and the names of
        forward values it reads. With ``root``: the lines of a backward() inside the call,
        from slot ``root`` through the ops before ``upto``, the forward values it reads and
        ``(external slot, gradient, fresh)`` for what reaches the leaves."""
        ns, meta = self.ns, self.meta
        probe: dict = {}   # name -> a value of the right shape and dtype (or the constant)
        consts: set = set()
        lines: list = []
        reads: set = set()
        grad: dict = {}    # slot -> (name, fresh)
        tmp = itertools.count()

        def fval(s: int):
            name = f"x{s}"
            if name not in probe:
                probe[name] = xp.ones(meta[s][0], meta[s][1])
            return name

        roots = [(k, s) for k, s in enumerate(self.out_slots) if root is None and pattern[k]]
        if root is not None:
            roots = [(0, root)]
        for k, s in roots:
            if const_root:
                name = f"KG{next(_ids)}"
                ns[name] = probe[name] = xp.ones(meta[s][0], meta[s][1])
                consts.add(name)
                grad[s] = (name, False, False)
            else:
                name = f"G{k}"
                probe[name] = xp.ones(meta[s][0], meta[s][1])
                lines.append(f"{name} = G[{k}]")
                grad[s] = (name, False, False)

        def add(s: int, src: str, fresh: bool, deps: set, maybe: str | None = None) -> None:
            """Deliver a gradient contribution ``src`` to slot ``s``: fitted to its meta,
            summed after earlier contributions (the engine's order). ``maybe`` names a
            gradient that may be None at run time (then so is the contribution)."""
            with xp.errstate(all="ignore"):
                val = eval(_code(src, "eval"), ns, probe)  # noqa: S307 - generated
            m = meta[s]
            if type(val) is not ndarray:
                src, val = f"_asarray({src})", xp.asarray(val)
            if val.shape != m[0] or val.dtype != m[1]:
                src, val, fresh = f"_fit({src}, {m[0]!r}, _dt{_dtname(m[1], ns)})", \
                    _engine._fit(val, m[0], m[1]), True
            if maybe is not None and src != maybe:
                src = f"({src} if {maybe} is not None else None)"
            is_const = deps <= consts and maybe is None
            old = grad.get(s)
            if old is not None:
                if maybe is not None or old[2]:
                    src = f"_sumn({old[0]}, {src})"
                else:
                    src = f"_sum({old[0]}, {src})"
                val = _engine._sum(probe[old[0]], val)
                fresh = True
                is_const = is_const and old[0] in consts
            name = f"g{s}_{next(tmp)}"
            if is_const:
                ns[name] = val
                consts.add(name)
            else:
                lines.append(f"{name} = {src}")
            probe[name] = val
            grad[s] = (name, fresh, maybe is not None or (old is not None and old[2]))

        for k in range(len(self.ops) - 1 if upto is None else upto - 1, -1, -1):
            op = self.ops[k]
            if not op.recorded:
                continue
            outs = [op.outs] if op.single else list(op.outs)
            if not any(s in grad for s in outs):
                continue
            if op.spec is not None:
                g, _, gmaybe = grad.pop(op.outs)
                maybe = g if gmaybe else None
                a = []
                for x in op.args:
                    if type(x) is _Slot:
                        a.append(fval(x.i))
                    else:
                        a.append(_const(x, ns))
                res = op.spec[1](op, g, a, fval(op.outs))
                pre = None
                if type(res) is tuple:
                    pre, res = res
                    reads |= {n for n in a[:2] if n.startswith("x")}
                    if len(op.spec) > 2:
                        reads.add(f"w{op.outs}")
                        probe[f"w{op.outs}"] = op.spec[2](op, meta)
                    with xp.errstate(all="ignore"):
                        exec(_code(pre, "exec"), ns, probe)  # noqa: S102 - generated
                    tname = pre.split(" = ", 1)[0]
                    if maybe:
                        pre = f"{pre} if {g} is not None else None"
                    lines.append(pre)
                    for i, src, fresh in res:
                        if op.needs[i] and op.in_slots[i] is not None:
                            add(op.in_slots[i], src, fresh, {tname}, tname if maybe else None)
                    continue
                for i, src, fresh in res:
                    if i < len(op.needs) and op.needs[i] and op.in_slots[i] is not None:
                        used = {n for n in _names(src) if n in probe}
                        reads |= {n for n in used if n.startswith("x")}
                        add(op.in_slots[i], src, fresh, used, maybe)
                continue
            # An op the generator does not know: its own backward on its replay context.
            reads.add(f"c{k}")
            gs = []
            for s in outs:
                if s in grad:
                    gs.append(grad.pop(s)[0])
                else:
                    gs.append("None")
            ns[f"E{k}"] = op.edges
            ns[f"M{k}"] = op.out_meta
            lines.append(f"c{k}._edges = E{k}; c{k}._out_meta = M{k}")
            lines.append(f"r = _cb(c{k}, [{', '.join(gs)}], {bool(op.cls._array_backward)})")
            for i, s in enumerate(op.in_slots):
                if s is None:
                    continue
                m = meta[s]
                name = f"r{k}_{i}"
                lines.append(f"{name} = _fitd(r[{i}] if r is not None else None, {m[0]!r}, "
                             f"_dt{_dtname(m[1], ns)})")
                probe[name] = xp.ones(m[0], m[1])
                add(s, name, False, {name}, name)
        if root is not None:
            return lines, reads, [(s, grad[s][0], bool(grad[s][1] and grad[s][0] not in consts))
                                  for s in self.edge_slots if s in grad]
        ret = []
        self_fresh = []
        for s in self.edge_slots:
            g = grad.get(s)
            ret.append(g[0] if g is not None else "None")
            self_fresh.append(bool(g and g[1] and g[0] not in consts))
        body = ["def backward(S, G):"]
        keep = self.keep or sorted(reads)
        if keep:
            body.append("    " + "".join(n + ", " for n in keep) + "= S")
        body += ["    " + t for t in lines]
        body.append(f"    return ({''.join(r + ', ' for r in ret)}), {tuple(self_fresh)!r}")
        return "\n".join(body) + "\n", reads

    def backward_fn(self, pattern: tuple, const_root: bool):
        key = (pattern, const_root)
        fn = self.backwards.get(key)
        if fn is None:
            with _gen_lock:
                fn = self.backwards.get(key)
                if fn is None and key in self.pending:
                    fn = self.backwards[key] = self._compile(self.pending.pop(key), "backward")
                if fn is None:
                    src, reads = self._gen_backward(pattern, const_root)
                    if not reads <= set(self.keep):
                        raise AssertionError("ember.compile: a backward reads an unsaved value")
                    fn = self.backwards[key] = self._compile(src, "backward")
        return fn

    def run(self, tensors: list):
        return self.call(tensors)


_gen_lock = threading.Lock()


def _dtname(dt, ns: dict) -> str:
    name = f"_{dt.str.replace('<', 'l').replace('>', 'b').replace('|', 'n')}"
    ns["_dt" + name] = dt
    return name


def _names(src: str) -> set:
    import re
    return set(re.findall(r"[A-Za-z_][A-Za-z_0-9]*", src))


def _collect(v, out: set) -> None:
    if type(v) is _Slot:
        out.add(v.i)
    elif type(v) in (tuple, list):
        for x in v:
            _collect(x, out)
    elif type(v) is dict:
        for x in v.values():
            _collect(x, out)


def _src_template(t, vals: dict, ns: dict) -> str:
    if type(t) is _Slot:
        return vals[t.i]
    tt = type(t)
    if tt is tuple:
        return "(" + "".join(_src_template(x, vals, ns) + ", " for x in t) + ")"
    if tt is list:
        return "[" + ", ".join(_src_template(x, vals, ns) for x in t) + "]"
    if tt is dict:
        return "{" + ", ".join(f"{_const(k, ns)}: {_src_template(x, vals, ns)}"
                               for k, x in t.items()) + "}"
    return _const(t, ns)


def _set_edges(node, tensors: tuple) -> None:
    """The node's edges (where each input's gradient goes), and its leaves when every edge
    is a leaf's sink (what the engine's fast path needs)."""
    edges = []
    leaves = []
    for t in tensors:
        if t.grad_fn is None and t._base is None:
            acc = t._acc
            edges.append((acc if acc is not None else _accumulator(t), 0))
            if leaves is not None:
                leaves.append(t)
        else:
            edges.append(gradient_edge(t))
            leaves = None
    node._edges = tuple(edges)
    node.needs_input_grad = (True,) * len(edges)
    node.leaves = leaves
    node._out_meta = node.prog.node_meta  # the engine fits incoming gradients to it


class CompiledFunctionBackward(Function):
    """The one graph node of a replayed region (PyTorch's name for it): its backward runs the
    program's generated backward."""

    _array_backward = True
    _materialize = False
    vcs = None  # the version counters of saved outputs, when there are any

    @staticmethod
    def backward(node, *grads):
        if any(g is not None and type(g) is not ndarray for g in grads):
            raise RuntimeError("ember.compile does not currently support double backward "
                               "(create_graph=True through a compiled region)")
        prog = node.prog
        if node.S is None:
            raise RuntimeError(_SECOND_BACKWARD)
        pattern = tuple(g is not None for g in grads)
        res, _ = node._run(prog.backward_fn(pattern, False), grads)
        return res

    def _run(self, fn, grads):
        saved = self.S
        if saved is None:
            raise RuntimeError(_SECOND_BACKWARD)
        if self.vcs:
            self._check_versions()
        return fn(saved, grads)

    def _check_versions(self) -> None:
        for vc in self.vcs:
            if vc[0] != 0:
                raise RuntimeError("one of the variables needed for gradient computation has "
                                   "been modified by an inplace operation: an output of a "
                                   "compiled region was written in place before backward")

    def _release(self) -> None:
        self.S = None


def _accum(t: Tensor, g, fresh: bool) -> None:
    """Add a gradient that a backward() inside a compiled call computed into ``t.grad`` (a
    leaf; anything else continues through the engine)."""
    if g is None:
        return
    if (t.grad_fn is not None or t._base is not None or (t._extra and t._extra.get("hooks"))
            or (t._acc is not None and t._acc._hooks is not None)):
        _engine.run_backward((t,), (_make(g if fresh else g.copy()),), False, False)
        return
    with _engine._grad_lock:
        old = t._grad
        if old is None:
            if not fresh or g.base is not None or not g.flags.writeable:
                g = g.copy()
            t._grad = _make(g)
        elif old._requires_grad:
            t._grad = old + _make(g)
        else:
            xp.add(old._data, g, out=old._data)


def _fast_root(out: Tensor, grad, retain_graph: bool) -> bool:
    """``loss.backward()`` on a compiled region's output whose edges all go to leaves: run the
    generated backward and add into the leaves' ``.grad`` without the engine's graph walk.
    Returns False (the engine then runs as usual) for anything else: an explicit gradient,
    hooks, anomaly mode, an edge to a non-leaf."""
    node = out.grad_fn
    leaves = node.leaves
    if (grad is not None or leaves is None or node._hooks is not None or anomaly_mode._enabled
            or out._base is not None):
        return False
    prog = node.prog
    nr = out._output_nr
    fn = prog.const_bwd.get(nr)
    if fn is None and not prog.fast_ok[nr]:
        return False
    for leaf in leaves:
        acc = leaf._acc
        if (leaf._extra and leaf._extra.get("hooks")) or (acc is not None
                                                          and acc._hooks is not None):
            return False
    saved = node.S
    if saved is None:
        raise RuntimeError(_SECOND_BACKWARD)
    if fn is None:
        fn = prog.const_bwd[nr] = prog.backward_fn(
            tuple(i == nr for i in range(len(prog.out_slots))), True)
    if node.vcs:
        node._check_versions()
    if prog.generic_bwd:
        token = _grad_enabled.set(False)  # as in the engine: backward formulas unrecorded
        try:
            grads, fresh = fn(saved, None)
        finally:
            _grad_enabled.reset(token)
    else:
        grads, fresh = fn(saved, None)
    with _grad_lock:
        for i in range(len(leaves)):
            g = grads[i]
            if g is None:
                continue
            leaf = leaves[i]
            old = leaf._grad
            if old is None:
                # .grad is an array of its own: a constant, a view or an array something
                # else still holds (an op's own backward may keep what it returns) is
                # copied, as the engine does (by reference count: the tuple ``grads``, ``g``
                # and getrefcount's argument).
                if ((not fresh[i] and _getrefcount(g) > 3) or g.base is not None
                        or not g.flags.writeable):
                    g = g.copy()
                leaf._grad = _make(g)
            elif old._requires_grad:
                leaf._grad = old + _make(g)
            else:
                _add(old._data, g, out=old._data)
    if not retain_graph:
        node.S = None
    return True


_grad_lock = _engine._grad_lock
_add = xp.add
_getrefcount = sys.getrefcount


def _install() -> None:
    _engine._fast_roots[CompiledFunctionBackward] = _fast_root


__all__ = ["FlatProgram", "CompiledFunctionBackward", "AccumulateGrad"]
