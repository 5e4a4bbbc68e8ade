"""Activation checkpointing (``torch.utils.checkpoint``): trade compute for memory.

Two schemes, as in PyTorch; both re-run the segment from the RNG state of the forward (so
dropout draws the same masks).

- Reentrant (``use_reentrant=True``): the segment runs forward under ``no_grad``, so only its
  inputs are kept. When the gradient reaches it, backward re-runs the segment with grad
  enabled and backpropagates through the recomputed graph from inside the outer backward.
- Non-reentrant (``use_reentrant=False``): the segment runs forward normally, recording its
  graph, but under ``saved_tensors_hooks`` that keep a small placeholder instead of each
  tensor an op saves. The first time backward unpacks one, the segment is re-run under
  hooks that collect the recomputed tensors in save order, and each placeholder is answered
  from them. Gradients flow through the original graph, so ``autograd.grad`` and
  parameters used inside work as without checkpointing.
"""

from __future__ import annotations

import contextlib
import itertools
import warnings
import weakref
from collections.abc import Callable, Iterable
from typing import Any

import ember

from ..autograd import Function
from ..autograd.engine import _current_graph_task_id
from ..autograd.graph import saved_tensors_hooks

__all__ = ["checkpoint", "checkpoint_sequential", "CheckpointError", "CheckpointFunction",
           "check_backward_validity", "detach_variable", "noop_context_fn",
           "set_checkpoint_debug_enabled", "set_checkpoint_early_stop"]

_DETERMINISM_CHECKS = ("default", "none")
_debug_enabled: bool | None = None
_early_stop_override: bool | None = None


class CheckpointError(RuntimeError):
    """Raised when a recomputation does not match the original forward."""


def noop_context_fn() -> tuple[contextlib.AbstractContextManager, ...]:
    """The default ``context_fn``: no context around the forward nor the recomputation."""
    return contextlib.nullcontext(), contextlib.nullcontext()


@contextlib.contextmanager
def set_checkpoint_debug_enabled(enabled: bool | None):
    """Override every checkpoint's ``debug`` flag inside the block (``None``: defer)."""
    global _debug_enabled
    prev, _debug_enabled = _debug_enabled, enabled
    try:
        yield
    finally:
        _debug_enabled = prev


@contextlib.contextmanager
def set_checkpoint_early_stop(enable: bool):
    """Override every non-reentrant checkpoint's ``early_stop`` inside the block: whether a
    recomputation stops as soon as it has recomputed every tensor backward needs."""
    global _early_stop_override
    prev, _early_stop_override = _early_stop_override, enable
    try:
        yield
    finally:
        _early_stop_override = prev


def detach_variable(inputs: tuple) -> tuple:
    """Detached copies of the tensors in ``inputs`` that keep their ``requires_grad``."""
    if not isinstance(inputs, tuple):
        raise RuntimeError("Only tuple of tensors is supported. Got Unsupported input type: "
                           f"{type(inputs).__name__}")
    return tuple(x.detach().requires_grad_(x.requires_grad) if isinstance(x, ember.Tensor)
                 else x for x in inputs)


def check_backward_validity(inputs: Iterable[Any]) -> None:
    """Warn when no tensor input requires grad (the reentrant segment is then constant)."""
    if not any(x.requires_grad for x in inputs if isinstance(x, ember.Tensor)):
        warnings.warn("None of the inputs have requires_grad=True. Gradients will be None",
                      stacklevel=2)


class CheckpointFunction(Function):
    """The checkpoint node: forward without a graph, backward by recomputation."""

    @staticmethod
    def forward(ctx, run_function: Callable, preserve_rng_state: bool, *args):
        check_backward_validity(args)
        ctx.run_function = run_function
        ctx.preserve_rng_state = preserve_rng_state
        if preserve_rng_state:
            ctx.fwd_cpu_state = ember.get_rng_state()
        # Tensors go through save_for_backward (version-checked); other arguments stay here.
        ctx.tensor_indices = [i for i, a in enumerate(args) if isinstance(a, ember.Tensor)]
        ctx.inputs = [None if isinstance(a, ember.Tensor) else a for a in args]
        ctx.save_for_backward(*(args[i] for i in ctx.tensor_indices))
        with ember.no_grad():  # already off inside apply; explicit for direct callers
            return run_function(*args)

    @staticmethod
    def backward(ctx, *grads):
        inputs = list(ctx.inputs)
        for i, t in zip(ctx.tensor_indices, ctx.saved_tensors):
            inputs[i] = t
        outer_state = ember.get_rng_state() if ctx.preserve_rng_state else None
        try:
            if outer_state is not None:
                ember.set_rng_state(ctx.fwd_cpu_state)
            detached = detach_variable(tuple(inputs))
            with ember.enable_grad():
                outputs = ctx.run_function(*detached)
        finally:
            if outer_state is not None:
                ember.set_rng_state(outer_state)
        if isinstance(outputs, ember.Tensor):
            outputs = (outputs,)
        pairs = [(o, g) for o, g in zip(outputs, grads)
                 if isinstance(o, ember.Tensor) and o.requires_grad]
        if pairs:
            outs, gs = zip(*pairs)
            ember.autograd.backward(outs, gs)
        else:
            raise RuntimeError("none of output has requires_grad=True, this checkpoint() is "
                               "not necessary")
        return (None, None) + tuple(d.grad if isinstance(d, ember.Tensor) else None
                                    for d in detached)


_DEBUG_TIP = """
Tip: To see a more detailed error message, either pass `debug=True` to
`torch.utils.checkpoint.checkpoint(...)` or wrap the code block
with `with torch.utils.checkpoint.set_checkpoint_debug_enabled(True):` to
enable checkpoint‑debug mode globally.
"""


class _Holder:
    """What the forward keeps for one saved tensor: per backward call (graph task id), the
    index of its recomputed value (None once unpacked)."""

    __slots__ = ("handles", "__weakref__")

    def __init__(self) -> None:
        self.handles: dict = {}


class _StopRecomputation(Exception):
    """Raised inside a recomputation once every needed tensor is back (early stop)."""


class _Frame:
    """One non-reentrant checkpointed call: how to re-run it, and what it saved."""

    def __init__(self, recompute: Callable, early_stop: bool, check_metadata: bool) -> None:
        self.recompute = recompute
        self.early_stop = early_stop
        self.check_metadata = check_metadata
        self.holders: list = []       # weak references to the _Holders, in save order
        self.metadata: list = []      # (shape, dtype, device) of each saved tensor
        self.recomputed: dict = {}    # graph task id -> {index: recomputed tensor}
        self.counter: dict = {}       # graph task id -> tensors saved by the recomputation

    def pack(self, x):
        holder = _Holder()
        self.holders.append(weakref.ref(holder))
        if self.check_metadata:
            self.metadata.append(_metadata(x))
        return holder

    def unpack(self, holder: _Holder):
        gid = _current_graph_task_id()
        if gid == -1:  # unpacked outside backward: a one-off id
            gid = -next(_outside_ids)
        if gid not in self.recomputed:
            self._recompute(gid)
        index = holder.handles.get(gid)
        if index is None:
            raise CheckpointError(
                "torch.utils.checkpoint: Unpack is being triggered for a tensor that was "
                "already unpacked once. If you are calling ctx.saved_tensors in backward, make "
                "sure to do so only once. Otherwise please open an issue with details on your "
                "use case.")
        holder.handles[gid] = None
        return self.recomputed[gid].pop(index)

    def _recompute(self, gid: int) -> None:
        self.recomputed[gid] = {}
        self.counter[gid] = 0

        def pack_recomputed(x):
            i = self.counter[gid]
            self.counter[gid] = i + 1
            if i >= len(self.holders):
                raise CheckpointError("torch.utils.checkpoint: trying to save more tensors "
                                      "during recomputation than during the original forward "
                                      f"pass.\n{_DEBUG_TIP}")
            holder = self.holders[i]()
            if holder is not None:  # (None: backward freed that node already)
                holder.handles[gid] = i
                self.recomputed[gid][i] = x.detach() if x.requires_grad else x
            if self.early_stop and i + 1 == len(self.holders):
                raise _StopRecomputation
            return x

        try:
            with saved_tensors_hooks(pack_recomputed, lambda x: x), ember.enable_grad():
                self.recompute()
        except _StopRecomputation:
            pass
        self._check(gid)

    def _check(self, gid: int) -> None:
        if self.counter[gid] != len(self.holders):
            raise CheckpointError(
                "torch.utils.checkpoint: A different number of tensors was saved during the "
                "original forward and recomputation.\n"
                f"Number of tensors saved during forward: {len(self.holders)}\n"
                f"Number of tensors saved during recomputation: {self.counter[gid]}.\n"
                f"{_DEBUG_TIP}")
        if not self.check_metadata:
            return
        wrong = ""
        for i, saved in enumerate(self.metadata):
            x = self.recomputed[gid].get(i)
            if x is not None and _metadata(x) != saved:
                wrong += (f"tensor at position {i}:\nsaved metadata: {saved}\n"
                          f"recomputed metadata: {_metadata(x)}\n")
        if wrong:
            raise CheckpointError("torch.utils.checkpoint: Recomputed values for the following "
                                  "tensors have different metadata than during the forward "
                                  f"pass.\n{wrong}.\n{_DEBUG_TIP}")


_outside_ids = itertools.count(2)


def _metadata(x) -> dict:
    return {"shape": x.shape, "dtype": x.dtype, "device": x.device}


def _checkpoint_without_reentrant(function: Callable, args: tuple, kwargs: dict,
                                  context_fn: Callable, determinism_check: str,
                                  early_stop: bool, preserve_rng_state: bool):
    forward_context, recompute_context = context_fn()
    if not ember.is_grad_enabled():
        with forward_context:
            return function(*args, **kwargs)
    rng_state = ember.get_rng_state() if preserve_rng_state else None
    # The inputs are kept as saved tensors are: an in-place change before backward is an
    # error, not a silently different recomputation.
    versions = [(a, a._version) for a in (*args, *kwargs.values()) if isinstance(a, ember.Tensor)]

    def recompute() -> None:
        from ..autograd.function import _modified_message
        for a, version in versions:
            if a._version != version:
                raise RuntimeError(_modified_message(a._data, a.grad_fn, a._output_nr,
                                                     a._version, version))
        outer = ember.get_rng_state() if rng_state is not None else None
        try:
            if rng_state is not None:
                ember.set_rng_state(rng_state)
            with recompute_context:
                function(*args, **kwargs)
        finally:
            if outer is not None:
                ember.set_rng_state(outer)

    if _early_stop_override is not None:
        early_stop = _early_stop_override
    frame = _Frame(recompute, early_stop, determinism_check == "default")
    with saved_tensors_hooks(frame.pack, frame.unpack), forward_context:
        return function(*args, **kwargs)


def checkpoint(function: Callable, *args, use_reentrant: bool | None = None,
               context_fn: Callable[[], tuple] = noop_context_fn,
               determinism_check: str = "default", debug: bool = False,
               early_stop: bool = True, preserve_rng_state: bool = True, **kwargs):
    """Run ``function(*args, **kwargs)`` without keeping its activations; recompute them in
    backward. Outputs and gradients equal the plain run's, with random ops included when
    ``preserve_rng_state`` (the RNG state is restored for the recomputation).

    ``use_reentrant`` should be passed explicitly (a warning otherwise; ``None`` means
    ``True``, as in PyTorch). ``use_reentrant=False`` (recommended) also takes keyword
    arguments and ``context_fn``, records the segment's graph as usual (so parameters used
    inside get gradients even when no input requires grad, and ``autograd.grad`` works) and
    recomputes only the tensors that graph saved, on first use in backward.
    """
    if use_reentrant is None:
        warnings.warn("torch.utils.checkpoint: the use_reentrant parameter should be passed "
                      "explicitly. Starting in PyTorch 2.9, calling checkpoint without "
                      "use_reentrant will raise an exception. use_reentrant=False is "
                      "recommended, but if you need to preserve the current default "
                      "behavior, you can pass use_reentrant=True. Refer to docs for more "
                      "details on the differences between the two variants.", stacklevel=2)
        use_reentrant = True
    if use_reentrant:
        if kwargs:
            raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
        if context_fn is not noop_context_fn or debug is not False:
            raise ValueError("Passing `context_fn` or `debug` is only supported when "
                             "use_reentrant=False.")
        return CheckpointFunction.apply(function, preserve_rng_state, *args)
    debug_on = _debug_enabled if _debug_enabled is not None else debug
    if debug_on and context_fn is not noop_context_fn:
        raise ValueError("debug=True is incompatible with non-default context_fn")
    if determinism_check not in _DETERMINISM_CHECKS:
        raise ValueError(f"determinism_check should be one of {list(_DETERMINISM_CHECKS)}, "
                         f"but got {determinism_check}")
    return _checkpoint_without_reentrant(function, args, kwargs, context_fn,
                                         determinism_check, early_stop, preserve_rng_state)


def checkpoint_sequential(functions, segments: int, input, use_reentrant: bool | None = None,
                          **kwargs):
    """Run ``functions`` (a list or ``nn.Sequential``) in order on ``input``, checkpointing
    every one of ``segments`` equal chunks but the last (which runs normally)."""
    if use_reentrant is None:
        warnings.warn("torch.utils.checkpoint.checkpoint_sequential: the use_reentrant "
                      "parameter should be passed explicitly. In version 2.9 we will raise an "
                      "exception if use_reentrant is not passed. use_reentrant=False is "
                      "recommended, but if you need to preserve the current default "
                      "behavior, you can pass use_reentrant=True. Refer to docs for more "
                      "details on the differences between the two variants.", stacklevel=2)
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
    if isinstance(functions, ember.nn.Sequential):
        functions = list(functions.children())

    def run(start: int, stop: int) -> Callable:
        def forward(x):
            for f in functions[start:stop]:
                x = f(x)
            return x
        return forward

    size = len(functions) // segments
    end = 0  # where the last, plain chunk starts
    for start in range(0, size * (segments - 1), size):
        end = start + size
        input = checkpoint(run(start, end), input, use_reentrant=use_reentrant,
                           preserve_rng_state=preserve)
    return run(end, len(functions))(input)
