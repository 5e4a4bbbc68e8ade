"""Activation checkpointing (``torch.utils.checkpoint``): trade compute for memory.

A checkpointed segment runs forward under ``no_grad``, so none of its intermediate
activations are kept; only its inputs are saved. When the gradient reaches it, backward
re-runs the segment with grad enabled (from the same RNG state, so dropout draws the same
masks) and backpropagates through the recomputed graph, which accumulates into the ``.grad``
of the parameters used inside and yields the inputs' gradients (PyTorch's reentrant scheme).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterable
from typing import Any

import ember

from ..autograd import Function

__all__ = ["checkpoint", "checkpoint_sequential", "CheckpointError", "CheckpointFunction",
           "check_backward_validity", "detach_variable", "noop_context_fn",
           "set_checkpoint_debug_enabled", "set_checkpoint_early_stop"]

_DETERMINISM_CHECKS = ("default", "none")
_debug_enabled: bool | None = None


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
    """Accepted for compatibility: recomputation here always runs the whole segment."""
    yield


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
        if not getattr(run_function, "_forced", False):
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
        elif not getattr(ctx.run_function, "_forced", False):
            raise RuntimeError("none of output has requires_grad=True, this checkpoint() is "
                               "not necessary")
        return (None, None) + tuple(d.grad if isinstance(d, ember.Tensor) else None
                                    for d in detached)


class _Segment:
    """``use_reentrant=False``'s function: takes keyword tensors positionally (so they are
    saved and get gradients), enters ``context_fn``'s forward context on the first call and
    its recompute context on the next ones, and ignores the trailing anchor tensor that makes
    the node record even when no input requires grad (parameters inside may)."""

    _forced = True

    def __init__(self, function: Callable, n_args: int, keys: list, contexts: tuple) -> None:
        self.function, self.n_args, self.keys = function, n_args, keys
        self.contexts = list(contexts)

    def __call__(self, *args):
        context = self.contexts.pop(0) if len(self.contexts) > 1 else self.contexts[0]
        n = self.n_args
        with context:
            return self.function(*args[:n], **dict(zip(self.keys, args[n:-1])))


def checkpoint(function: Callable, *args, use_reentrant: bool | None = None,
               context_fn: Callable[[], tuple] = noop_context_fn,
               determinism_check: str = "default", debug: bool = False,
               early_stop: bool = True, preserve_rng_state: bool = True, **kwargs):
    """Run ``function(*args, **kwargs)`` without keeping its activations; recompute them in
    backward. Outputs and gradients equal the plain run's, with random ops included when
    ``preserve_rng_state`` (the RNG state is restored for the recomputation).

    ``use_reentrant`` should be passed explicitly (a warning otherwise; ``None`` means
    ``True``, as in PyTorch). ``use_reentrant=False`` also takes keyword arguments and
    ``context_fn``, and gives parameters used inside their gradients even when no input
    requires grad. Both variants backpropagate the recomputed segment from within the outer
    backward, so only ``backward()`` (not ``autograd.grad`` w.r.t. those parameters) fills
    the parameters' gradients.
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
    segment = _Segment(function, len(args), list(kwargs), context_fn())
    anchor = ember.empty(0, requires_grad=ember.is_grad_enabled())
    return CheckpointFunction.apply(segment, preserve_rng_state, *args, *kwargs.values(),
                                    anchor)


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
