"""Hook plumbing for ``nn.Module``: the identity node that full backward hooks watch, and
handles that also clear a hook's flags."""

from __future__ import annotations

import warnings

from ..._tensor import Tensor
from ...autograd.function import Function, _RemovableHandle


class BackwardHookFunction(Function):
    """Identity on a module's input or output tensors: the graph node a full backward hook
    watches (its incoming gradients are the module's grad_input or grad_output)."""

    @staticmethod
    def forward(ctx, *tensors):
        return tuple(t.detach() for t in tensors)

    @staticmethod
    def backward(ctx, *grads):
        return grads


def _tensor_slots(values: tuple) -> list[int]:
    return [i for i, v in enumerate(values) if isinstance(v, Tensor)]


class _BackwardHookState:
    """Per-call state that joins a module's full backward hooks to one forward's graph."""

    def __init__(self, module, hooks: list, pre_hooks: list) -> None:
        self.module = module
        self.hooks = hooks
        self.pre_hooks = pre_hooks
        self.n_inputs = 0
        self.input_slots: list[int] | None = None
        self.grad_outputs: tuple | None = None

    def _pack(self, slots: list[int], grads: tuple, size: int) -> tuple:
        out = [None] * size
        for i, g in zip(slots, grads):
            out[i] = g
        return tuple(out)

    def wrap_inputs(self, args: tuple) -> tuple:
        self.n_inputs = len(args)
        slots = [i for i in _tensor_slots(args) if args[i].requires_grad]
        if not slots:
            return args
        ids = BackwardHookFunction.apply(*(args[i] for i in slots))
        ids = ids if isinstance(ids, tuple) else (ids,)
        self.input_slots = slots
        node = ids[0].grad_fn

        def on_input_grads(grads):
            grad_inputs = self._pack(slots, grads, self.n_inputs)
            for hook in self.hooks:
                res = hook(self.module, grad_inputs, self.grad_outputs)
                if res is None:
                    continue
                if len(res) != len(grad_inputs):
                    raise RuntimeError(f"Backward hook returned an invalid number of grad_input, "
                                       f"got {len(res)}, but expected {len(grad_inputs)}")
                grad_inputs = tuple(res)
            return tuple(grad_inputs[i] for i in slots)

        node.register_prehook(on_input_grads)
        new = list(args)
        for i, t in zip(slots, ids):
            new[i] = t
        return tuple(new)

    def wrap_outputs(self, result):
        single = isinstance(result, Tensor)
        outs = (result,) if single else result
        if not isinstance(outs, tuple):
            return result
        slots = [i for i in _tensor_slots(outs) if outs[i].requires_grad]
        if not slots:
            return result
        ids = BackwardHookFunction.apply(*(outs[i] for i in slots))
        ids = ids if isinstance(ids, tuple) else (ids,)
        node = ids[0].grad_fn
        n_out = len(outs)

        def on_output_grads(grads):
            grad_outputs = self._pack(slots, grads, n_out)
            for hook in self.pre_hooks:
                res = hook(self.module, grad_outputs)
                if res is not None:
                    grad_outputs = tuple(res) if isinstance(res, tuple) else (res,)
            self.grad_outputs = grad_outputs
            if self.input_slots is None:
                warnings.warn("Full backward hook is firing when gradients are computed with "
                              "respect to module outputs since no inputs require gradients. See "
                              "https://docs.pytorch.org/docs/main/generated/torch.nn.Module.html"
                              "#torch.nn.Module.register_full_backward_hook for more details.",
                              stacklevel=2)
                grad_inputs = (None,) * self.n_inputs
                for hook in self.hooks:
                    res = hook(self.module, grad_inputs, grad_outputs)
                    if res is not None and not all(r is None for r in res):
                        raise RuntimeError("Backward hook for Modules where no input requires "
                                           "gradient should always return None or None for all "
                                           "gradients.")
            return tuple(grad_outputs[i] for i in slots)

        node.register_prehook(on_output_grads)
        new = list(outs)
        for i, t in zip(slots, ids):
            new[i] = t
        return new[0] if single else tuple(new)


class _ExtraHandle:
    """A hook handle that also clears the hook's flags (with_kwargs, always_call)."""

    def __init__(self, handle: _RemovableHandle, *extra: dict) -> None:
        self._handle = handle
        self._extra = extra
        self.id = handle.id

    def remove(self) -> None:
        self._handle.remove()
        for table in self._extra:
            table.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.remove()

