"""Function transforms built on reverse mode (``torch.autograd.functional``).

``vjp``/``vhp`` are one (or two) calls of :func:`ember.autograd.grad`. ``jvp``/``hvp`` use the
double-vjp trick: ``u -> J^T u`` is linear in ``u``, so the vjp of that map with ``v`` (taken
w.r.t. a dummy ``u``) is ``J v``. ``jacobian`` runs one vjp per output element (a row) in
reverse mode, or one such jvp per input element (a column) with ``strategy="forward-mode"``;
``hessian`` is the jacobian of the jacobian. Input and output structures follow PyTorch: a
single Tensor gives Tensors back, a tuple gives tuples (nested for jacobian/hessian).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import _creation
from .._tensor import Tensor
from .engine import grad as _autograd_grad
from .grad_mode import enable_grad, is_grad_enabled, set_grad_enabled

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]

Tensors = Tensor | tuple[Tensor, ...]
_STRATEGIES = ("forward-mode", "reverse-mode")


# -- structure and checks ----------------------------------------------------------------------

def _as_tuple(x: Any, arg: str, fn: str) -> tuple[bool, tuple[Tensor, ...]]:
    """``(was_tuple, tensors)``; anything but a Tensor or a tuple of Tensors is a TypeError."""
    is_tuple = isinstance(x, tuple)
    items = x if is_tuple else (x,)
    for i, el in enumerate(items):
        if not isinstance(el, Tensor):
            where = f"value at index {i}" if is_tuple else f"given {arg}"
            raise TypeError(f"The {arg} given to {fn} must be either a Tensor or a tuple of "
                            f"Tensors but the {where} has type {type(el)}.")
    return is_tuple, items


def _unpack(res: tuple, is_tuple: bool | tuple[bool, bool]):
    """Undo ``_as_tuple``: for one flag a tuple -> its element; for two (outer, inner) the
    nested tuple of tuples of jacobian/hessian."""
    if isinstance(is_tuple, tuple):
        outer, inner = is_tuple
        if not inner:
            res = tuple(r[0] for r in res)
        return res if outer else res[0]
    return res if is_tuple else res[0]


def _prepare(inputs: tuple[Tensor, ...], create_graph: bool, need_graph: bool) -> tuple:
    """Fresh Tensor objects for the user function: linked to the originals when the caller
    wants a differentiable result, else detached leaves (requiring grad if ``need_graph``).
    A new object also tells our inputs apart from the same tensors captured by ``func``."""
    return tuple(t.view_as(t) if create_graph and t.requires_grad
                 else t.detach().requires_grad_(need_graph) for t in inputs)


def _finish(res: tuple, create_graph: bool) -> tuple:
    """Detach results (recursively through nested tuples) unless ``create_graph``."""
    if create_graph:
        return res
    return tuple(r.detach() if isinstance(r, Tensor) else _finish(r, False) for r in res)


def _check_v(v: tuple[Tensor, ...], other: tuple[Tensor, ...], other_is_tuple: bool) -> None:
    if len(v) != len(other):
        if other_is_tuple:
            raise RuntimeError(f"v is a tuple of invalid length: should be {len(other)} but "
                               f"got {len(v)}.")
        raise RuntimeError("The given v should contain a single Tensor.")
    for i, (a, b) in enumerate(zip(v, other)):
        if a.shape != b.shape:
            where = f"Entry {i} in " if other_is_tuple else ""
            raise RuntimeError(f"{where}v has invalid size: should be {b.size()} but got "
                               f"{a.size()}.")


def _get_v(v, ref: tuple[Tensor, ...], ref_is_tuple: bool, create_graph: bool, fn: str,
           what: str) -> tuple[Tensor, ...] | None:
    """Validate ``v`` against ``ref`` (the outputs for vjp, the inputs otherwise)."""
    if v is None:
        if len(ref) != 1 or ref[0].numel() != 1:
            raise RuntimeError(f"The vector v can only be None if {what} a single Tensor with a "
                               "single element.")
        return None
    v = _prepare(_as_tuple(v, "v", fn)[1], create_graph, need_graph=False)
    _check_v(v, ref, ref_is_tuple)
    return v


_NOT_DIFFERENTIABLE = {
    "outputs": "Output {i} of the user-provided function does not require gradients. The "
               "outputs must be computed in a differentiable manner from the input when "
               "running in strict mode.",
    "grad_inputs": "The gradient with respect to input {i} is independent of the inputs of "
                   "the user-provided function. This is not allowed in strict mode.",
    "jacobian": "While computing the hessian, found that the jacobian of the user-provided "
                "function with respect to input {i} is independent of the input. This is not "
                "allowed in strict mode. You should ensure that your function is twice "
                "differentiable and that the jacobian depends on the inputs (this would be "
                "violated by a linear function for example).",
}


def _check_requires_grad(tensors: tuple, kind: str, strict: bool) -> None:
    """In strict mode, every tensor must exist and be differentiable."""
    if not strict:
        return
    for i, t in enumerate(tensors):
        if t is None:
            raise RuntimeError(f"The output of the user-provided function is independent of "
                               f"input {i}. This is not allowed in strict mode.")
        if not t.requires_grad:
            raise RuntimeError(_NOT_DIFFERENTIABLE[kind].format(i=i))


def _grad(outputs: tuple, inputs: tuple, grad_outputs: tuple | None = None,
          create_graph: bool = False, retain_graph: bool | None = None) -> tuple:
    """``autograd.grad`` that skips outputs which are None or do not require grad (all of
    them skipped: all None) and gives None for inputs the outputs do not depend on."""
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o is not None and o.requires_grad]
    if not pairs:
        return (None,) * len(inputs)
    outs, gouts = zip(*pairs)
    return _autograd_grad(outs, inputs, gouts, retain_graph=retain_graph,
                          create_graph=create_graph, allow_unused=True)


_INDEPENDENT = {
    "back": "The output of the user-provided function is independent of input {i}. This is "
            "not allowed in strict mode.",
    "back_trick": "The gradient with respect to the input is independent of entry {i} in the "
                  "grad_outputs when using the double backward trick to compute forward mode "
                  "gradients. This is not allowed in strict mode.",
    "double_back": "The jacobian of the user-provided function is independent of input {i}. "
                   "This is not allowed in strict mode.",
    "double_back_trick": "The hessian of the user-provided function is independent of entry "
                         "{i} in the grad_jacobian. This is not allowed in strict mode as it "
                         "prevents from using the double backward trick to replace forward "
                         "mode AD.",
}


def _fill_in_zeros(grads: tuple, refs: tuple, strict: bool, create_graph: bool,
                   stage: str) -> tuple:
    """Zeros for missing gradients (the true value), or strict mode's errors."""
    res = []
    for i, (g, ref) in enumerate(zip(grads, refs)):
        if g is None:
            if strict:
                raise RuntimeError(_INDEPENDENT[stage].format(i=i))
            g = _creation.zeros_like(ref)
        elif strict and create_graph and not g.requires_grad:
            what = "hessian" if stage.startswith("double") else "jacobian"
            raise RuntimeError(f"The {what} of the user-provided function is independent of "
                               f"input {i}. This is not allowed in strict mode when "
                               "create_graph=True.")
        res.append(g)
    return tuple(res)


def _call(func: Callable, inputs: tuple, fn: str, strict: bool) -> tuple[bool, tuple]:
    is_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function", fn)
    _check_requires_grad(outputs, "outputs", strict)
    return is_tuple, outputs


def _single_output(outputs: tuple, is_tuple: bool, fn: str) -> None:
    if is_tuple:
        raise RuntimeError(f"The function given to {fn} should return a single Tensor")
    if outputs[0].numel() != 1:
        raise RuntimeError(f"The Tensor returned by the function given to {fn} should contain "
                           "a single element")


# -- products ----------------------------------------------------------------------------------

def vjp(func: Callable, inputs: Tensors, v: Tensors | None = None, create_graph: bool = False,
        strict: bool = False) -> tuple[Tensors, Tensors]:
    """``(func(inputs), v^T J)``: the vector-Jacobian product at ``inputs``.

    ``v`` has the outputs' shapes (optional for a one-element output). ``strict`` raises
    where an input does not influence the outputs (else its product is zeros).
    """
    with enable_grad():
        in_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
        inputs = _prepare(inputs, create_graph, need_graph=True)
        out_tuple, outputs = _call(func, inputs, "vjp", strict)
        v = _get_v(v, outputs, out_tuple, create_graph, "vjp",
                   "the user-provided function returns")
    with set_grad_enabled(create_graph or is_grad_enabled()):
        res = _grad(outputs, inputs, v, create_graph=create_graph)
        res = _fill_in_zeros(res, inputs, strict, create_graph, "back")
    return (_unpack(_finish(outputs, create_graph), out_tuple),
            _unpack(_finish(res, create_graph), in_tuple))


def _jvp_graph(outputs: tuple, inputs: tuple, strict: bool) -> tuple[tuple, tuple]:
    """The recorded map ``u -> J^T u`` (``u`` dummy zeros): returns ``(J^T u, u)``."""
    u = tuple(_creation.zeros_like(o, requires_grad=True) for o in outputs)
    jtu = _grad(outputs, inputs, u, create_graph=True)
    _check_requires_grad(jtu, "grad_inputs", strict)
    return jtu, u


def jvp(func: Callable, inputs: Tensors, v: Tensors | None = None, create_graph: bool = False,
        strict: bool = False) -> tuple[Tensors, Tensors]:
    """``(func(inputs), J v)``: the Jacobian-vector product, by the double-vjp trick.

    ``v`` has the inputs' shapes (optional for a one-element input).
    """
    with enable_grad():
        in_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
        inputs = _prepare(inputs, create_graph, need_graph=True)
        v = _get_v(v, inputs, in_tuple, create_graph, "jvp",
                   "the input to the user-provided function is")
        out_tuple, outputs = _call(func, inputs, "jvp", strict)
        jtu, u = _jvp_graph(outputs, inputs, strict)
    with set_grad_enabled(create_graph or is_grad_enabled()):
        res = _grad(jtu, u, v, create_graph=create_graph)
        res = _fill_in_zeros(res, outputs, strict, create_graph, "back_trick")
    return (_unpack(_finish(outputs, create_graph), out_tuple),
            _unpack(_finish(res, create_graph), out_tuple))


def _gradient(func: Callable, inputs: Tensors, v, create_graph: bool, strict: bool, fn: str):
    """Shared start of vhp/hvp: checked inputs, v, the scalar output and its recorded grad."""
    in_tuple, inputs = _as_tuple(inputs, "inputs", fn)
    inputs = _prepare(inputs, create_graph, need_graph=True)
    v = _get_v(v, inputs, in_tuple, create_graph, fn,
               "the input to the user-provided function is")
    out_tuple, outputs = _call(func, inputs, fn, strict)
    _single_output(outputs, out_tuple, fn)
    jac = _grad(outputs, inputs, create_graph=True)
    _check_requires_grad(jac, "jacobian", strict)
    return in_tuple, inputs, v, out_tuple, outputs, jac


def vhp(func: Callable, inputs: Tensors, v: Tensors | None = None, create_graph: bool = False,
        strict: bool = False) -> tuple[Tensor, Tensors]:
    """``(func(inputs), v^T H)`` for a scalar function: the vjp of its gradient."""
    with enable_grad():
        in_tuple, inputs, v, out_tuple, outputs, jac = _gradient(
            func, inputs, v, create_graph, strict, "vhp")
    with set_grad_enabled(create_graph or is_grad_enabled()):
        res = _grad(jac, inputs, v, create_graph=create_graph)
        res = _fill_in_zeros(res, inputs, strict, create_graph, "double_back")
    return (_unpack(_finish(outputs, create_graph), out_tuple),
            _unpack(_finish(res, create_graph), in_tuple))


def hvp(func: Callable, inputs: Tensors, v: Tensors | None = None, create_graph: bool = False,
        strict: bool = False) -> tuple[Tensor, Tensors]:
    """``(func(inputs), H v)`` for a scalar function: the jvp of its gradient (double-vjp
    trick). Equal to ``vhp`` for twice continuously differentiable functions."""
    with enable_grad():
        in_tuple, inputs, v, out_tuple, outputs, jac = _gradient(
            func, inputs, v, create_graph, strict, "hvp")
        u = tuple(_creation.zeros_like(t, requires_grad=True) for t in inputs)
        htu = _grad(jac, inputs, u, create_graph=True)
    with set_grad_enabled(create_graph or is_grad_enabled()):
        res = _grad(htu, u, v, create_graph=create_graph)
        res = _fill_in_zeros(res, inputs, strict, create_graph, "double_back_trick")
    return (_unpack(_finish(outputs, create_graph), out_tuple),
            _unpack(_finish(res, create_graph), in_tuple))


# -- full matrices -----------------------------------------------------------------------------

def _one_hot(n: int, j: int, like: Tensor, shape: tuple) -> Tensor:
    e = _creation.zeros(n, dtype=like.dtype)
    e[j] = 1
    return e.view(shape)


def _jacobian_reverse(outputs: tuple, inputs: tuple, create_graph: bool,
                      strict: bool) -> tuple[tuple[Tensor, ...], ...]:
    """Row by row: the vjp of each output element's one-hot vector."""
    jac = []
    for i, out in enumerate(outputs):
        n = out.numel()
        rows: list[list[Tensor]] = [[] for _ in inputs]
        for j in range(n):
            vj = _grad((out,), inputs, (_one_hot(n, j, out, out.shape),),
                       create_graph=create_graph, retain_graph=True)
            for k, (g, inp) in enumerate(zip(vj, inputs)):
                if g is None:
                    if strict:
                        raise RuntimeError(f"Output {i} of the user-provided function is "
                                           f"independent of input {k}. This is not allowed in "
                                           "strict mode.")
                    g = _creation.zeros_like(inp)
                elif strict and create_graph and not g.requires_grad:
                    raise RuntimeError(f"The jacobian of the user-provided function is "
                                       f"independent of input {k}. This is not allowed in "
                                       "strict mode when create_graph=True.")
                rows[k].append(g)
        jac.append(tuple(_stack(r, 0, out, inp) for r, inp in zip(rows, inputs)))
    return tuple(jac)


def _stack(parts: list[Tensor], dim: int, out: Tensor, inp: Tensor) -> Tensor:
    """The (out, inp) block from its rows (dim 0) or columns (dim -1)."""
    shape = tuple(out.shape) + tuple(inp.shape)
    if not parts:  # an empty output or input: an empty block (PyTorch fails in stack here)
        return _creation.zeros(shape, dtype=inp.dtype if dim == 0 else out.dtype)
    from .._ops.joining import stack
    return stack(parts, dim).reshape(shape)


def _jacobian_forward(func: Callable, inputs: Tensors, strict: bool,
                      vectorize: bool) -> Tensors | tuple:
    """Column by column: the jvp (double-vjp trick) of each input element's one-hot vector."""
    if strict:
        raise RuntimeError('torch.autograd.functional.jacobian: `strict=True` and '
                           '`strategy="forward-mode"` are not supported together (yet). Please '
                           'either set `strict=False` or `strategy="reverse-mode"`.')
    if not vectorize:
        raise NotImplementedError("Computing Jacobian using forward-AD or forward-over-reverse "
                                  "Hessian is only implemented for `vectorize=True`.")
    with enable_grad():
        in_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        inputs = _prepare(inputs, create_graph=False, need_graph=True)
        out_tuple, outputs = _call(func, inputs, "jacobian", strict=False)
        jtu, u = _jvp_graph(outputs, inputs, strict=False)
    cols: list[list[list[Tensor]]] = [[[] for _ in inputs] for _ in outputs]
    for k, (g, inp) in enumerate(zip(jtu, inputs)):
        n = inp.numel()
        for j in range(n):
            if g is None or not g.requires_grad:  # J^T u does not depend on u: no column
                col = (None,) * len(outputs)
            else:
                col = _grad((g,), u, (_one_hot(n, j, inp, inp.shape),), retain_graph=True)
            for i, (c, out) in enumerate(zip(col, outputs)):
                cols[i][k].append(c.detach() if c is not None else _creation.zeros_like(out))
    # PyTorch's forward-mode result nests lists, not tuples (where inputs are a tuple).
    jac = [[_stack(cols[i][k], -1, out, inp) for k, inp in enumerate(inputs)]
           for i, out in enumerate(outputs)]
    return _unpack(jac, (out_tuple, in_tuple))


def jacobian(func: Callable, inputs: Tensors, create_graph: bool = False, strict: bool = False,
             vectorize: bool = False, strategy: str = "reverse-mode") -> Tensors | tuple:
    """The Jacobian of ``func`` at ``inputs``.

    Entry ``[i][j]`` (indices dropped where ``func`` returns, or ``inputs`` is, a single
    Tensor) has shape ``outputs[i].shape + inputs[j].shape``. ``vectorize`` only selects the
    algorithm in PyTorch; here both take the same loop (same results). ``strategy=
    "forward-mode"`` (requires ``vectorize=True``, as in PyTorch) builds columns instead of rows.
    """
    if strategy not in _STRATEGIES:
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode". '
                             'Hint: If your function has more outputs than inputs, '
                             '"forward-mode" tends to be more performant. Otherwise, prefer to '
                             'use "reverse-mode".')
    if strategy == "forward-mode":
        if create_graph:
            raise NotImplementedError('torch.autograd.functional.jacobian: `create_graph=True` '
                                      'and `strategy="forward-mode"` are not supported together '
                                      '(yet). Please either set `create_graph=False` or '
                                      '`strategy="reverse-mode"`.')
        return _jacobian_forward(func, inputs, strict, vectorize)
    with enable_grad():
        in_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        inputs = _prepare(inputs, create_graph, need_graph=True)
        out_tuple, outputs = _call(func, inputs, "jacobian", strict)
        if vectorize and strict:
            raise RuntimeError("torch.autograd.functional.jacobian: `strict=True` and "
                               "`vectorized=True` are not supported together. Please either "
                               "set `strict=False` or `vectorize=False`.")
        jac = _jacobian_reverse(outputs, inputs, create_graph, strict)
    return _unpack(_finish(jac, create_graph), (out_tuple, in_tuple))


def hessian(func: Callable, inputs: Tensors, create_graph: bool = False, strict: bool = False,
            vectorize: bool = False, outer_jacobian_strategy: str = "reverse-mode"
            ) -> Tensors | tuple:
    """The Hessian of a scalar ``func``: the jacobian of its (recorded) gradient.

    Entry ``[i][j]`` has shape ``inputs[i].shape + inputs[j].shape`` (no indices for a
    single input Tensor).
    """
    in_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")
    if outer_jacobian_strategy not in _STRATEGIES:
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode".')

    def scalar_func(*inp):
        out_tuple, outputs = _call(func, inp, "hessian", strict)
        _single_output(outputs, out_tuple, "hessian")
        return outputs[0].squeeze()

    def jac_func(*inp):
        jac = jacobian(scalar_func, inp, create_graph=True)
        _check_requires_grad(jac, "jacobian", strict)
        return jac

    res = jacobian(jac_func, inputs, create_graph=create_graph, strict=strict,
                   vectorize=vectorize, strategy=outer_jacobian_strategy)
    return _unpack(res, (in_tuple, in_tuple))
