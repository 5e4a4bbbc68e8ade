"""Weight normalization, ``w = g * v / ||v||``, in its legacy hook form
(``torch.nn.utils.weight_norm``: parameters ``<name>_g`` and ``<name>_v``, recomputed by a
forward pre-hook) and the kernel shared with ``parametrizations.weight_norm``."""

from __future__ import annotations

import warnings
from typing import Any, TypeVar

from ..._ops._jvp import refuse, unsupported
from ..._ops._util import Op, Tensor, xp
from ...autograd.grad_mode import no_grad
from ..modules.module import Module
from ..parameter import Parameter

__all__ = ["WeightNorm", "weight_norm", "remove_weight_norm"]


def _other_dims(ndim: int, dim: int) -> tuple:
    return tuple(d for d in range(ndim) if d != dim)


def _sum_sq(v: Tensor, dims: tuple) -> Tensor:
    # Summing over no dims is the identity (a 1-D weight normed along dim 0: |v|).
    return v * v if not dims else (v * v).sum(dims, keepdim=True)


def norm_except_dim(v: Tensor, pow: float = 2, dim: int = 0) -> Tensor:
    """The ``pow``-norm of ``v`` over every dim but ``dim``, kept as size-1 dims (``dim=-1``:
    the norm of the whole tensor, 0-d), as torch's ``norm_except_dim``."""
    if dim == -1:
        return v.norm(pow)
    d = dim % v.ndim
    dims = _other_dims(v.ndim, d)
    if pow == 2:
        return _sum_sq(v, dims).sqrt()
    a = v.abs()
    return (a ** pow if not dims else (a ** pow).sum(dims, keepdim=True)) ** (1.0 / pow)


class WeightNormInterface(Op):
    """w = g v / n with n = ||v|| over the other dims;  dg = sum(gw v) / n,
    dv = (g / n) (gw - v sum(gw v) / n**2)"""

    node_name = "WeightNormInterfaceBackward0"
    jvp = unsupported("_weight_norm_interface")

    @staticmethod
    def forward(ctx, v, g, dim):
        a = v._data
        ctx.dims = _other_dims(a.ndim, dim)
        ctx.save_for_backward(v, g)
        n = xp.sqrt(xp.sum(a * a, axis=ctx.dims, keepdims=True))
        return a * (g._data / n)

    @staticmethod
    def backward(ctx, gw):
        v, g = ctx.saved_tensors
        n = _sum_sq(v, ctx.dims).sqrt()
        s = gw * v if not ctx.dims else (gw * v).sum(ctx.dims, keepdim=True)
        gv = (g / n) * (gw - v * (s / (n * n))) if ctx.needs_input_grad[0] else None
        return gv, (s / n if ctx.needs_input_grad[1] else None), None


def _weight_norm(v: Tensor, g: Tensor, dim: int = 0) -> Tensor:
    """``v * (g / norm_except_dim(v, 2, dim))``: one fused node when ``dim`` is the first or
    last dim, as in torch."""
    if v.ndim and (dim == 0 or dim == v.ndim - 1):
        refuse("_weight_norm_interface", v, g)  # PyTorch's kernel has no forward formula
        return WeightNormInterface.apply(v, g, dim)
    return v * (g / norm_except_dim(v, 2, dim))


class WeightNorm:
    """The forward pre-hook of the legacy ``weight_norm``: sets ``module.<name>`` from
    ``<name>_g`` and ``<name>_v`` before every forward."""

    name: str
    dim: int

    def __init__(self, name: str, dim: int) -> None:
        self.name = name
        self.dim = -1 if dim is None else dim

    def compute_weight(self, module: Module) -> Any:
        return _weight_norm(getattr(module, self.name + "_v"), getattr(module, self.name + "_g"),
                            self.dim)

    @staticmethod
    def apply(module: Module, name: str, dim: int) -> WeightNorm:
        warnings.warn("`torch.nn.utils.weight_norm` is deprecated in favor of "
                      "`torch.nn.utils.parametrizations.weight_norm`.", FutureWarning,
                      stacklevel=3)
        for hook in module._forward_pre_hooks.values():
            if isinstance(hook, WeightNorm) and hook.name == name:
                raise RuntimeError(f"Cannot register two weight_norm hooks on the same "
                                   f"parameter {name}")
        fn = WeightNorm(name, dim)
        weight = getattr(module, name)
        del module._parameters[name]
        with no_grad():
            g = norm_except_dim(weight, 2, fn.dim)
        module.register_parameter(name + "_g", Parameter(g.data))
        module.register_parameter(name + "_v", Parameter(weight.data))
        setattr(module, name, fn.compute_weight(module))
        module.register_forward_pre_hook(fn)
        return fn

    def remove(self, module: Module) -> None:
        weight = self.compute_weight(module)
        delattr(module, self.name)
        del module._parameters[self.name + "_g"]
        del module._parameters[self.name + "_v"]
        setattr(module, self.name, Parameter(weight.data))

    def __call__(self, module: Module, inputs: Any) -> None:
        setattr(module, self.name, self.compute_weight(module))


T_module = TypeVar("T_module", bound=Module)


def weight_norm(module: T_module, name: str = "weight", dim: int | None = 0) -> T_module:
    """Legacy weight normalization: replace ``module.<name>`` by ``<name>_g * <name>_v /
    ||<name>_v||`` (norm over every dim but ``dim``; ``dim=None``: the whole tensor),
    recomputed before each forward. Deprecated in favour of
    ``parametrizations.weight_norm``."""
    WeightNorm.apply(module, name, dim)
    return module


def remove_weight_norm(module: T_module, name: str = "weight") -> T_module:
    """Fold the legacy weight normalization of ``name`` back into one parameter."""
    for k, hook in module._forward_pre_hooks.items():
        if isinstance(hook, WeightNorm) and hook.name == name:
            hook.remove(module)
            del module._forward_pre_hooks[k]
            return module
    raise ValueError(f"weight_norm of '{name}' not found in {module}")
