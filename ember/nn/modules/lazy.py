"""Lazy modules: layers whose input size is read from the first batch.

``LazyLinear(10)`` holds ``UninitializedParameter`` placeholders until its first forward,
which sets ``in_features`` from the input, allocates the parameters and runs the eager
layer's ``reset_parameters`` -- the same random draws, in the same order, that
``Linear(in_features, 10)`` makes in its constructor -- then turns the module into a plain
``Linear``. Loading a state dict into a lazy module allocates the placeholders with the
checkpoint's shapes instead.
"""

from __future__ import annotations

import itertools
from typing import Any

from ..._backend import xp
from ..._dtype import get_default_dtype
from ..._tensor import Tensor, _init
from ...autograd.grad_mode import no_grad
from ..parameter import Parameter
from .conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from .linear import Linear
from .normalization import (
    BatchNorm1d,
    BatchNorm2d,
    BatchNorm3d,
    InstanceNorm1d,
    InstanceNorm2d,
    InstanceNorm3d,
)

__all__ = ["UninitializedParameter", "UninitializedBuffer", "LazyLinear", "LazyConv1d",
           "LazyConv2d", "LazyConv3d", "LazyConvTranspose1d", "LazyConvTranspose2d",
           "LazyConvTranspose3d", "LazyBatchNorm1d", "LazyBatchNorm2d", "LazyBatchNorm3d",
           "LazyInstanceNorm1d", "LazyInstanceNorm2d", "LazyInstanceNorm3d"]


class UninitializedTensorMixin:
    """A placeholder whose shape is not known yet; ``materialize(shape)`` allocates it and
    turns it into its ``cls_to_become`` in place (same object, so references stay valid)."""

    __slots__ = ()
    cls_to_become: type = Tensor

    def materialize(self, shape, device=None, dtype=None) -> None:
        from ..._ops.shape import _check_device
        if device is not None:
            _check_device(device)
        np_dtype = self._data.dtype if dtype is None else dtype.np
        self._data = xp.zeros(tuple(shape) if not isinstance(shape, int) else (shape,),
                              dtype=np_dtype)
        self.__class__ = self.cls_to_become

    @property
    def shape(self):
        raise RuntimeError("Can't access the shape of an uninitialized parameter or buffer. "
                           "This error usually happens in `load_state_dict` when trying to "
                           "load an uninitialized parameter into an initialized one. Call "
                           "`forward` to initialize the parameters before accessing their "
                           "attributes.")

    def to(self, *args, **kwargs):
        """A dtype conversion stays a placeholder (``Module.double()`` on a lazy module)."""
        out = super().to(*args, **kwargs)
        if out is self:
            return self
        new = object.__new__(type(self))
        _init(new, out._data, self._requires_grad)
        return new

    def __deepcopy__(self, memo):
        if id(self) not in memo:
            memo[id(self)] = type(self)(self._requires_grad, dtype=self.dtype)
        return memo[id(self)]

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"

    __str__ = __repr__


def _placeholder_array(dtype):
    return xp.empty((0,), dtype=(dtype or get_default_dtype()).np)


class UninitializedParameter(UninitializedTensorMixin, Parameter):
    """A parameter of a lazy module before its first forward."""

    __slots__ = ()
    cls_to_become = Parameter

    def __new__(cls, requires_grad: bool = True, device=None, dtype=None):
        p = object.__new__(cls)
        _init(p, _placeholder_array(dtype), False)
        p._requires_grad = bool(requires_grad)
        return p

    def __init__(self, requires_grad: bool = True, device=None, dtype=None) -> None:
        pass

    def __reduce_ex__(self, protocol):
        return (type(self), (self._requires_grad, None, None))


class UninitializedBuffer(UninitializedTensorMixin, Tensor):
    """A buffer of a lazy module before its first forward."""

    __slots__ = ()
    cls_to_become = Tensor

    def __new__(cls, requires_grad: bool = False, device=None, dtype=None):
        b = object.__new__(cls)
        _init(b, _placeholder_array(dtype), bool(requires_grad))
        return b

    def __reduce_ex__(self, protocol):
        return (type(self), (self._requires_grad, None, None))


def is_lazy(value: Any) -> bool:
    return isinstance(value, UninitializedTensorMixin)


class LazyModuleMixin:
    """Mix into a layer to infer its parameter shapes at the first forward: subclasses
    define ``initialize_parameters(*inputs)`` and ``cls_to_become``."""

    cls_to_become: type | None = None

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._load_hook = self._register_load_state_dict_pre_hook(self._lazy_load_hook)
        self._initialize_hook = self.register_forward_pre_hook(self._infer_parameters,
                                                               with_kwargs=True)

    def has_uninitialized_params(self) -> bool:
        """Whether any parameter or buffer is still a placeholder."""
        return any(is_lazy(v) for v in itertools.chain(self._parameters.values(),
                                                       self._buffers.values()))

    def initialize_parameters(self, *args, **kwargs) -> None:
        raise NotImplementedError(f"initialize_parameters is not implemented for "
                                  f"{type(self).__name__}")

    def _save_to_state_dict(self, destination: dict, prefix: str, keep_vars: bool) -> None:
        # Placeholders are saved as they are, so a lazy module's state dict says so.
        for table, skip in ((self._parameters, ()), (self._buffers,
                                                     self._non_persistent_buffers_set)):
            for name, value in table.items():
                if value is not None and name not in skip:
                    destination[prefix + name] = (value if is_lazy(value) or keep_vars
                                                  else value.detach())

    def _lazy_load_hook(self, state_dict, prefix, local_metadata, strict, missing_keys,
                        unexpected_keys, error_msgs) -> None:
        for name, value in itertools.chain(self._parameters.items(), self._buffers.items()):
            key = prefix + name
            if key in state_dict and value is not None and is_lazy(value):
                incoming = state_dict[key]
                if not is_lazy(incoming):
                    with no_grad():
                        value.materialize(incoming._data.shape)

    def _infer_parameters(self, module, args, kwargs=None) -> None:
        module.initialize_parameters(*args, **(kwargs or {}))
        if module.has_uninitialized_params():
            raise RuntimeError(f"module {self._get_name()} has not been fully initialized")
        module._initialize_hook.remove()
        module._load_hook.remove()
        del module._initialize_hook
        del module._load_hook
        if module.cls_to_become is not None:
            module.__class__ = module.cls_to_become


class LazyLinear(LazyModuleMixin, Linear):
    """``Linear`` whose ``in_features`` is ``input.shape[-1]`` of the first batch."""

    cls_to_become = Linear

    def __init__(self, out_features: int, bias: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__(0, 0, False)
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        self.out_features = out_features
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)

    def reset_parameters(self) -> None:
        if not self.has_uninitialized_params() and self.in_features != 0:
            super().reset_parameters()

    def initialize_parameters(self, input: Tensor) -> None:
        if self.has_uninitialized_params():
            with no_grad():
                self.in_features = input.shape[-1]
                self.weight.materialize((self.out_features, self.in_features))
                if self.bias is not None:
                    self.bias.materialize((self.out_features,))
                self.reset_parameters()
        if self.in_features == 0:  # loaded from a state dict: take the size from the weight
            if input.shape[-1] != self.weight.shape[-1]:
                raise AssertionError(f"The in_features inferred from input: {input.shape[-1]} is "
                                     "not equal to in_features from self.weight: "
                                     f"{self.weight.shape[-1]}")
            self.in_features = input.shape[-1]


class _LazyConvMixin(LazyModuleMixin):
    """Infers ``in_channels`` from the first input (``input.shape[1]``, or ``[0]``
    unbatched)."""

    def reset_parameters(self) -> None:
        if not self.has_uninitialized_params() and self.in_channels != 0:
            super().reset_parameters()

    def _lazy_init(self, out_channels: int, bias: bool, device, dtype) -> None:
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        self.out_channels = out_channels
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)

    def initialize_parameters(self, input: Tensor, *args, **kwargs) -> None:
        if not self.has_uninitialized_params():
            return
        with no_grad():
            n = self._n + 1
            if input.dim() not in (n, n + 1):
                raise RuntimeError(f"Expected {n}D (unbatched) or {n + 1}D (batched) input to "
                                   f"{type(self).__name__}, but got input of size: "
                                   f"{input.shape}")
            self.in_channels = input.shape[1] if input.dim() == n + 1 else input.shape[0]
            if self.in_channels % self.groups != 0:
                raise ValueError("in_channels must be divisible by groups")
            if self.transposed:
                shape = (self.in_channels, self.out_channels // self.groups)
            else:
                shape = (self.out_channels, self.in_channels // self.groups)
            self.weight.materialize(shape + tuple(self.kernel_size))
            if self.bias is not None:
                self.bias.materialize((self.out_channels,))
            self.reset_parameters()


def _lazy_conv(name: str, base: type) -> type:
    def __init__(self, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", device=None,
                 dtype=None) -> None:
        LazyModuleMixin.__init__(self, 0, 0, kernel_size, stride, padding, dilation, groups,
                                 False, padding_mode, device, dtype)
        self._lazy_init(out_channels, bias, device, dtype)

    doc = f"``{base.__name__}`` whose ``in_channels`` is read from the first input."
    return type(name, (_LazyConvMixin, base), {"__init__": __init__, "cls_to_become": base,
                                               "__doc__": doc, "__module__": __name__})


def _lazy_conv_transpose(name: str, base: type) -> type:
    def __init__(self, out_channels: int, kernel_size, stride=1, padding=0, output_padding=0,
                 groups: int = 1, bias: bool = True, dilation=1, padding_mode: str = "zeros",
                 device=None, dtype=None) -> None:
        LazyModuleMixin.__init__(self, 0, 0, kernel_size, stride, padding, output_padding,
                                 groups, False, dilation, padding_mode, device, dtype)
        self._lazy_init(out_channels, bias, device, dtype)

    doc = f"``{base.__name__}`` whose ``in_channels`` is read from the first input."
    return type(name, (_LazyConvMixin, base), {"__init__": __init__, "cls_to_become": base,
                                               "__doc__": doc, "__module__": __name__})


LazyConv1d = _lazy_conv("LazyConv1d", Conv1d)
LazyConv2d = _lazy_conv("LazyConv2d", Conv2d)
LazyConv3d = _lazy_conv("LazyConv3d", Conv3d)
LazyConvTranspose1d = _lazy_conv_transpose("LazyConvTranspose1d", ConvTranspose1d)
LazyConvTranspose2d = _lazy_conv_transpose("LazyConvTranspose2d", ConvTranspose2d)
LazyConvTranspose3d = _lazy_conv_transpose("LazyConvTranspose3d", ConvTranspose3d)


class _LazyNormMixin(LazyModuleMixin):
    """Infers ``num_features`` from the first input's ``shape[1]``."""

    def reset_parameters(self) -> None:
        if not self.has_uninitialized_params() and self.num_features != 0:
            super().reset_parameters()

    def _lazy_init(self, affine: bool, track_running_stats: bool, device, dtype) -> None:
        from ..._creation import tensor
        from ..._dtype import int64
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = UninitializedParameter(device=device, dtype=dtype)
            self.bias = UninitializedParameter(device=device, dtype=dtype)
        if track_running_stats:
            self.running_mean = UninitializedBuffer(device=device, dtype=dtype)
            self.running_var = UninitializedBuffer(device=device, dtype=dtype)
            self.num_batches_tracked = tensor(0, dtype=int64)

    def initialize_parameters(self, input: Tensor) -> None:
        if not self.has_uninitialized_params():
            return
        with no_grad():
            self.num_features = input.shape[1]
            if self.affine:
                self.weight.materialize((self.num_features,))
                if self.bias is not None:
                    self.bias.materialize((self.num_features,))
            if self.track_running_stats:
                self.running_mean.materialize((self.num_features,))
                self.running_var.materialize((self.num_features,))
            self.reset_parameters()


def _lazy_norm(name: str, base: type) -> type:
    # Lazy instance norms default to affine and tracked statistics too, unlike the eager ones.
    def __init__(self, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device=None, dtype=None) -> None:
        LazyModuleMixin.__init__(self, 0, eps, momentum, False, False, device, dtype)
        self._lazy_init(affine, track_running_stats, device, dtype)

    doc = f"``{base.__name__}`` whose ``num_features`` is read from the first input."
    return type(name, (_LazyNormMixin, base), {"__init__": __init__, "cls_to_become": base,
                                               "__doc__": doc, "__module__": __name__})


LazyBatchNorm1d = _lazy_norm("LazyBatchNorm1d", BatchNorm1d)
LazyBatchNorm2d = _lazy_norm("LazyBatchNorm2d", BatchNorm2d)
LazyBatchNorm3d = _lazy_norm("LazyBatchNorm3d", BatchNorm3d)
LazyInstanceNorm1d = _lazy_norm("LazyInstanceNorm1d", InstanceNorm1d)
LazyInstanceNorm2d = _lazy_norm("LazyInstanceNorm2d", InstanceNorm2d)
LazyInstanceNorm3d = _lazy_norm("LazyInstanceNorm3d", InstanceNorm3d)
