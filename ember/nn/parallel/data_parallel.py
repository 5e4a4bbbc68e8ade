"""``DataParallel`` on the single CPU device: a pass-through wrapper."""

from __future__ import annotations

from ..modules.module import Module

__all__ = ["DataParallel", "data_parallel"]


class DataParallel(Module):
    """PyTorch's single-process multi-GPU wrapper. ember has one device (the CPU), where
    PyTorch's DataParallel runs the module unchanged: so does this. The wrapped model is
    ``.module`` and state_dict keys carry the ``module.`` prefix, as in PyTorch.

    For several processes use :class:`DistributedDataParallel`.
    """

    def __init__(self, module: Module, device_ids=None, output_device=None, dim: int = 0):
        super().__init__()
        self.module = module
        self.device_ids = [] if device_ids is None else list(device_ids)
        self.output_device = output_device
        self.dim = dim

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)


def data_parallel(module: Module, inputs, device_ids=None, output_device=None, dim: int = 0,
                  module_kwargs=None):
    """Functional DataParallel: ``module(*inputs, **module_kwargs)`` on the CPU."""
    if not isinstance(inputs, tuple):
        inputs = (inputs,)
    return module(*inputs, **(module_kwargs or {}))
