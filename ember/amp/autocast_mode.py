"""``ember.autocast``: mixed-precision regions, as PyTorch's CPU build has them.

On device ``'cpu'`` the ops on PyTorch's CPU lower-precision list (linear, matmul, the
convolutions, ...) compute in ``bfloat16`` (or ``float16``) and the ops on its float32 list
(the losses, ...) in float32; each of those ops calls the hook in ``_state`` first. Device
``'cuda'`` warns and disables itself, as on a CPU-only PyTorch.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any

from .. import _dtype
from ._state import _CPU, _OFF_DEVICES, _Region

__all__ = ["autocast", "is_autocast_available", "custom_fwd", "custom_bwd",
           "is_autocast_enabled", "get_autocast_dtype", "set_autocast_enabled",
           "set_autocast_dtype"]

_KNOWN = ("cpu",) + _OFF_DEVICES + ("meta", "mkldnn", "opengl", "opencl", "ideep", "hip",
                                     "ve", "fpga", "maia", "lazy", "vulkan")
_CPU_DTYPES = (_dtype.bfloat16, _dtype.float16)
# The dtype each device's autocast uses by default (PyTorch's get_autocast_dtype).
_default_dtypes = {"cpu": _dtype.bfloat16, "cuda": _dtype.float16}
_cache_enabled = [True]


def _check_device(device_type: str) -> None:
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if device_type not in _KNOWN:
        raise RuntimeError(
            "Expected one of cpu, cuda, ipu, xpu, mkldnn, opengl, opencl, ideep, hip, ve, "
            "fpga, maia, xla, lazy, vulkan, mps, meta, hpu, mtia, privateuseone device type "
            f"at start of device string: {device_type}")


def is_autocast_available(device_type: str) -> bool:
    """Whether autocast can be enabled for ``device_type`` here (only ``'cpu'``)."""
    return device_type == "cpu"


def is_autocast_enabled(device_type: str | None = None) -> bool:
    """Whether autocast is on for ``device_type`` (``'cuda'`` when omitted, as in
    PyTorch, which on a CPU build is never on)."""
    if device_type is None:
        device_type = "cuda"
    _check_device(device_type)
    return device_type == "cpu" and _CPU.get() is not None


def get_autocast_dtype(device_type: str) -> _dtype.dtype:
    """The dtype ``device_type``'s autocast computes in (set by the innermost region)."""
    _check_device(device_type)
    region = _CPU.get() if device_type == "cpu" else None
    if region is not None:
        return region.dtype
    return _default_dtypes.get(device_type, _dtype.float16)


def set_autocast_enabled(device_type: str, enabled: bool) -> None:
    """Turn ``device_type``'s autocast on or off outside a ``with`` block."""
    _check_device(device_type)
    if device_type != "cpu":
        return
    if enabled and _CPU.get() is None:
        _CPU.set(_Region(_default_dtypes["cpu"], {} if _cache_enabled[0] else None))
    elif not enabled:
        _CPU.set(None)


def set_autocast_dtype(device_type: str, dtype: _dtype.dtype) -> None:
    """Set the dtype ``device_type``'s autocast uses from now on."""
    _check_device(device_type)
    _default_dtypes[device_type] = dtype
    region = _CPU.get() if device_type == "cpu" else None
    if region is not None:
        region.dtype = dtype


class autocast:  # noqa: N801 - torch's name
    """A region (``with`` block or decorator) where eligible ops compute in lower precision.

    ``device_type='cpu'`` casts to ``dtype`` (``bfloat16`` by default, or ``float16``);
    other devices are unavailable on a CPU build and disable themselves with a warning.
    """

    def __init__(self, device_type: str, dtype: _dtype.dtype | None = None,
                 enabled: bool = True, cache_enabled: bool | None = None) -> None:
        _check_device(device_type)
        self.device = device_type
        self.fast_dtype = get_autocast_dtype(device_type) if dtype is None else dtype
        self._cache_enabled = _cache_enabled[0] if cache_enabled is None else cache_enabled
        if enabled and device_type == "cuda":
            warnings.warn("CUDA is not available or torch_xla is imported. Disabling "
                          "autocast.", UserWarning, stacklevel=2)
            enabled = False
        elif enabled and device_type != "cpu":
            warnings.warn(f"User specified an unsupported autocast device_type "
                          f"'{device_type}'", UserWarning, stacklevel=2)
            enabled = False
        elif enabled and self.fast_dtype not in _CPU_DTYPES:
            warnings.warn("In CPU autocast, but the target dtype is not supported. Disabling "
                          "autocast.\nCPU Autocast only supports dtypes of torch.bfloat16, "
                          "torch.float16 currently.", UserWarning, stacklevel=2)
            enabled = False
        self._enabled = enabled
        self._tokens: list = []

    def __enter__(self) -> autocast:
        if self.device != "cpu":
            self._tokens.append(None)
            return self
        outer = _CPU.get()
        if self._enabled:
            # A nested region shares the outer cache; the outermost one starts it.
            cache = outer.cache if outer is not None and outer.cache is not None else {}
            region = _Region(self.fast_dtype, cache if self._cache_enabled else None)
        else:
            region = None
        self._tokens.append(_CPU.set(region))
        return self

    def __exit__(self, *exc: Any) -> bool:
        token = self._tokens.pop()
        if token is not None:
            _CPU.reset(token)
        return False

    def __call__(self, func: Callable) -> Callable:
        @functools.wraps(func)
        def run(*args, **kwargs):
            with self:
                return func(*args, **kwargs)
        return run


def custom_fwd(fwd: Callable | None = None, *, device_type: str, cast_inputs=None):
    """Decorate a custom ``Function.forward``: with ``cast_inputs`` it runs with autocast off
    and its floating inputs cast to ``cast_inputs`` when called inside an enabled region;
    without, it runs under the caller's autocast state."""
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if fwd is None:
        return functools.partial(custom_fwd, device_type=device_type,
                                 cast_inputs=cast_inputs)

    @functools.wraps(fwd)
    def decorate_fwd(*args, **kwargs):
        args[0]._fwd_used_autocast = is_autocast_enabled(device_type)
        args[0]._dtype = get_autocast_dtype(device_type)
        if cast_inputs is None or not args[0]._fwd_used_autocast:
            return fwd(*args, **kwargs)
        from ._state import _eligible
        cast = [a.to(cast_inputs) if _eligible(a) else a for a in args]
        with autocast(device_type, enabled=False):
            return fwd(*cast, **kwargs)
    return decorate_fwd


def custom_bwd(bwd: Callable | None = None, *, device_type: str):
    """Decorate a custom ``Function.backward``: it runs under the autocast state its forward
    ran under."""
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)

    @functools.wraps(bwd)
    def decorate_bwd(*args, **kwargs):
        ctx = args[0]
        with autocast(device_type, enabled=getattr(ctx, "_fwd_used_autocast", False),
                      dtype=getattr(ctx, "_dtype", None)):
            return bwd(*args, **kwargs)
    return decorate_bwd
