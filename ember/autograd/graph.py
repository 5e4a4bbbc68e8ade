"""The autograd graph's Python surface (``torch.autograd.graph``): the ``Node`` interface,
gradient edges, and hooks on the tensors that nodes save for backward.

``saved_tensors_hooks(pack_hook, unpack_hook)``: while active, every tensor an op saves for
backward — built-in ops included — is handed to ``pack_hook`` when the op is recorded, and
only what that returns is kept; backward calls ``unpack_hook`` on it to get the tensor back.
The hooks in force are a per-thread (per-context) stack; a node packs with the innermost
pair when it is recorded.
"""

from __future__ import annotations

import abc
import contextlib
import contextvars
from collections.abc import Callable
from typing import Any, NamedTuple

from .._backend import ndarray
from .._tensor import Tensor, _make

__all__ = ["Node", "GradientEdge", "get_gradient_edge", "increment_version",
           "saved_tensors_hooks", "save_on_cpu", "disable_saved_tensors_hooks"]


class Node(abc.ABC):
    """What every autograd graph node (``tensor.grad_fn``) offers; ember's nodes are
    instances (``isinstance(y.grad_fn, Node)``)."""

    @abc.abstractmethod
    def name(self) -> str:
        """The node's name, e.g. ``"MulBackward0"``."""

    @property
    @abc.abstractmethod
    def next_functions(self) -> tuple:
        """``((node, output_nr), ...)``: where this node sends each input's gradient."""

    @property
    @abc.abstractmethod
    def metadata(self) -> dict:
        """A dict for the user's own data (anomaly mode keeps the forward trace here)."""

    @abc.abstractmethod
    def register_hook(self, fn: Callable) -> Any:
        """``fn(grad_inputs, grad_outputs)`` after the node runs; may replace grad_inputs."""

    @abc.abstractmethod
    def register_prehook(self, fn: Callable) -> Any:
        """``fn(grad_outputs)`` before the node runs; may replace grad_outputs."""

    @classmethod
    def __subclasshook__(cls, other):
        if cls is Node:
            from .function import _Node
            if issubclass(other, _Node):
                return True
        return NotImplemented


class GradientEdge(NamedTuple):
    """Where a tensor's gradient enters the graph: a node and its input number."""

    node: Any
    output_nr: int


def get_gradient_edge(tensor: Tensor) -> GradientEdge:
    """The edge a gradient for ``tensor`` goes to (its ``grad_fn``, or a leaf's
    ``AccumulateGrad``)."""
    if not tensor.requires_grad:
        raise RuntimeError("It is not possible to get the gradient edge for a Tensor that does "
                           "not require gradients")
    from .function import gradient_edge
    return GradientEdge(*gradient_edge(tensor))


def increment_version(tensor) -> None:
    """Bump the version counter(s), as an in-place write would."""
    for t in (tensor,) if isinstance(tensor, Tensor) else tensor:
        t._bump_version()


# -- saved tensor hooks -------------------------------------------------------------------

#: The active (pack, unpack) pairs, innermost last; or a str: hooks are disabled (message).
_hooks_stack: contextvars.ContextVar = contextvars.ContextVar("ember_saved_tensors_hooks",
                                                              default=())
#: How many saved_tensors_hooks blocks are open in the process: while none is, saving a
#: tensor costs one global read more than without this feature.
_hooks_in_use = 0


class saved_tensors_hooks:
    """Context manager: pack every tensor saved for backward with ``pack_hook`` and restore
    it with ``unpack_hook`` when backward needs it.

    Example::

        with ember.autograd.graph.saved_tensors_hooks(lambda t: t.numpy().copy(),
                                                      lambda a: ember.from_numpy(a)):
            y = x.exp()       # exp's saved output is kept as a NumPy copy
        y.sum().backward()
    """

    def __init__(self, pack_hook: Callable[[Tensor], Any],
                 unpack_hook: Callable[[Any], Tensor]) -> None:
        self.pack_hook = pack_hook
        self.unpack_hook = unpack_hook

    def __enter__(self) -> None:
        global _hooks_in_use
        stack = _hooks_stack.get()
        if isinstance(stack, str):
            raise RuntimeError(stack)
        self._token = _hooks_stack.set(stack + ((self.pack_hook, self.unpack_hook),))
        _hooks_in_use += 1

    def __exit__(self, *args: object) -> None:
        global _hooks_in_use
        _hooks_in_use -= 1
        _hooks_stack.reset(self._token)


class save_on_cpu(saved_tensors_hooks):
    """Keep saved tensors on the CPU and move them back to their device for backward.
    ember computes on the CPU only, so tensors stay where they are (as in PyTorch for CPU
    tensors)."""

    def __init__(self, pin_memory: bool = False, device_type: str = "cuda") -> None:
        def pack_to_cpu(tensor: Tensor):
            return tensor.device, tensor.cpu()

        def unpack_from_cpu(packed) -> Tensor:
            device, tensor = packed
            return tensor.to(device, non_blocking=pin_memory)

        super().__init__(pack_to_cpu, unpack_from_cpu)


@contextlib.contextmanager
def disable_saved_tensors_hooks(error_message: str):
    """Inside, entering ``saved_tensors_hooks`` raises ``RuntimeError(error_message)`` (and
    hooks entered outside are not applied)."""
    token = _hooks_stack.set(error_message)
    try:
        yield
    finally:
        _hooks_stack.reset(token)


def _current_hooks():
    """The innermost (pack, unpack) pair in force, or None."""
    stack = _hooks_stack.get()
    return stack[-1] if stack and not isinstance(stack, str) else None


class _Packed:
    """A saved tensor as its pack hook returned it, with what unpacking needs to reconnect
    the tensor to the graph (the unpack hook may return a fresh tensor)."""

    __slots__ = ("packed", "unpack", "kind", "grad_fn", "output_nr", "acc")

    def __init__(self, packed, unpack, kind: str, grad_fn=None, output_nr: int = 0,
                 acc=None) -> None:
        self.packed = packed
        self.unpack = unpack
        self.kind = kind            # "output" (of the saving node), "tensor" or "array"
        self.grad_fn = grad_fn
        self.output_nr = output_nr
        self.acc = acc              # a leaf's AccumulateGrad (its gradient goes there)


def _pack_saved(ctx, outputs: tuple) -> None:
    """Replace what ``ctx`` saved by what the pack hook makes of it (called by
    ``Function.apply`` once the outputs exist)."""
    from .function import _accumulator, _SavedOutput
    pack, unpack = ctx._pack_hooks
    packed = []
    for item in ctx._saved:
        if isinstance(item, _SavedOutput):
            item = _Packed(pack(outputs[item.index]), unpack, "output", output_nr=item.index)
        elif isinstance(item, Tensor):
            acc = None
            if item.grad_fn is None and item._requires_grad:
                acc = _accumulator(item)
            item = _Packed(pack(item), unpack, "tensor", item.grad_fn, item._output_nr, acc)
        elif isinstance(item, ndarray):  # an intermediate array an op saved
            item = _Packed(pack(_make(item)), unpack, "array")
        packed.append(item)
    ctx._saved = tuple(packed)


def _unpack_saved(ctx, arrays: bool) -> tuple:
    """``ctx.saved_tensors`` for a node that packed them: unpack each, and reconnect it to
    the graph where the saved tensor was (for double backward). With ``arrays``, the bare
    arrays (see ``Function._array_backward``)."""
    out = []
    for item in ctx._saved:
        if isinstance(item, _Packed):
            t = item.unpack(item.packed)
            if not isinstance(t, Tensor):
                raise TypeError("Output of saved tensor unpack_hook expected to be a Tensor but "
                                f"got result of type {type(t).__name__}")
            if arrays:
                item = t._data
            elif item.kind == "output":
                r = _make(t._data, True, ctx)
                r._output_nr = item.output_nr
                item = r
            elif item.kind == "tensor" and (item.grad_fn is not None or item.acc is not None):
                r = _make(t._data, True, item.grad_fn)
                r._output_nr = item.output_nr
                if item.acc is not None:
                    r._acc = item.acc
                item = r
            else:
                item = t if not t._requires_grad else _make(t._data)
        elif arrays and isinstance(item, Tensor):
            item = item._data
        elif not arrays and isinstance(item, ndarray):
            item = _make(item)
        out.append(item)
    return tuple(out)
