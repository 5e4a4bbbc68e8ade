"""``ember.jit``: TorchScript's names as eager pass-throughs.

ember has no compiler: ``script`` and ``trace`` return the module or function they are given,
unchanged, so the code keeps running eagerly with the same results and gradients. The
decorators (``ignore``, ``unused``, ``export``) return their function; ``is_scripting()`` and
``is_tracing()`` are False, so code that branches on them takes its eager path. ``save`` and
``load`` store a whole module with pickle (``load`` therefore runs code from the file: load
only files you trust, as with ``torch.jit.load``).
"""

from __future__ import annotations

import contextlib
import io
import os
import pickle
import warnings
import zipfile
from collections.abc import Callable
from typing import Any, TypeVar

from ..nn.modules.module import Module

__all__ = ["script", "trace", "trace_module", "ignore", "unused", "export", "is_scripting",
           "is_tracing", "save", "load", "freeze", "optimize_for_inference",
           "script_if_tracing", "annotate", "Attribute", "Final", "interface", "fork", "wait",
           "ScriptModule", "ScriptFunction", "RecursiveScriptModule", "script_method",
           "TracerWarning", "optimized_execution"]

_T = TypeVar("_T")


class ScriptModule(Module):
    """The base class of compiled modules. ember compiles nothing, so ``script`` returns
    the original module; subclassing this works like subclassing ``nn.Module``."""


class RecursiveScriptModule(ScriptModule):
    """The type ``script`` gives a module in PyTorch (ember returns the module itself)."""


class ScriptFunction:
    """The type of a compiled function (``script`` returns the original function)."""


class TracerWarning(Warning):
    """The category of tracing warnings (ember never traces, so none are issued)."""


def script_method(fn: _T) -> _T:
    """Old-style ``ScriptModule`` method decorator; returns ``fn``."""
    return fn


@contextlib.contextmanager
def optimized_execution(should_optimize: bool):
    """Accepted for compatibility: there is no compiled execution to tune."""
    yield


def script(obj: Any, optimize: None = None, _frames_up: int = 0, _rcb=None,
           example_inputs=None) -> Any:
    """Return ``obj`` (a module, function or class) unchanged: it runs eagerly."""
    if optimize is not None:
        warnings.warn("`optimize` is deprecated and has no effect. Use `with "
                      "torch.jit.optimized_execution()` instead", FutureWarning, stacklevel=2)
    return obj


def trace(func: Callable, example_inputs=None, optimize=None, check_trace: bool = True,
          check_inputs=None, check_tolerance: float = 1e-5, strict: bool = True,
          _force_outplace: bool = False, _module_class=None, _compilation_unit=None,
          example_kwarg_inputs=None, _store_inputs: bool = True) -> Callable:
    """Return ``func`` (a module or function) unchanged; nothing is recorded or run."""
    return func


def trace_module(mod: Module, inputs: dict, optimize=None, check_trace: bool = True,
                 check_inputs=None, check_tolerance: float = 1e-5, strict: bool = True,
                 _force_outplace: bool = False, _module_class=None, _compilation_unit=None,
                 example_inputs_is_kwarg: bool = False, _store_inputs: bool = True) -> Module:
    """Return ``mod`` unchanged."""
    return mod


def script_if_tracing(fn: _T) -> _T:
    return fn


def ignore(drop: Any = False, **kwargs) -> Any:
    """``@ignore`` or ``@ignore(drop=...)``: leave a function to Python (it already is)."""
    if callable(drop):
        return drop
    return lambda fn: fn


def unused(fn: _T) -> _T:
    """Mark a method the compiler should skip; returns ``fn``."""
    return fn


def export(fn: _T) -> _T:
    """Mark a method to compile as an entry point; returns ``fn``."""
    return fn


def interface(obj: _T) -> _T:
    return obj


def is_scripting() -> bool:
    """False: ember never compiles, so code always runs in Python."""
    return False


def is_tracing() -> bool:
    """False: ember never traces."""
    return False


def annotate(the_type: Any, the_value: _T) -> _T:
    return the_value


def Attribute(value: _T, type: Any) -> _T:  # noqa: N802, A002 - torch's names
    return value


class _FinalMeta(type):
    def __getitem__(cls, item):
        return item


class Final(metaclass=_FinalMeta):
    """``Final[int]`` in a module's annotations; it is the wrapped type itself."""


def freeze(mod: Module, preserved_attrs: list[str] | None = None,
           optimize_numerics: bool = True) -> Module:
    """Return ``mod`` (it must be in eval mode, as PyTorch requires)."""
    if mod.training:
        raise RuntimeError("Freezing is currently only implemented for modules in eval mode. "
                           "Please call .eval() on your module before freezing.")
    return mod


def optimize_for_inference(mod: Module, other_methods: list[str] | None = None) -> Module:
    """Return ``mod`` in eval mode."""
    return mod.eval() if mod.training else mod


class _Future:
    def __init__(self, value: Any) -> None:
        self._value = value

    def wait(self) -> Any:
        return self._value


def fork(func: Callable, *args, **kwargs) -> _Future:
    """Run ``func`` now; the returned future's ``wait()`` gives its result."""
    return _Future(func(*args, **kwargs))


def wait(future: _Future) -> Any:
    return future.wait()


_MAGIC = "ember.jit/1"


def save(m: Any, f, _extra_files: dict | None = None) -> None:
    """Store ``m`` (a module or function) with pickle in a zip archive at ``f`` (a path or
    a binary file object); ``_extra_files`` maps names to extra contents."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("format", _MAGIC)
        z.writestr("data.pkl", pickle.dumps(m, protocol=pickle.HIGHEST_PROTOCOL))
        for name, content in (_extra_files or {}).items():
            z.writestr(f"extra/{name}",
                       content.encode() if isinstance(content, str) else bytes(content))
    if isinstance(f, (str, os.PathLike)):
        with open(f, "wb") as fh:
            fh.write(buffer.getvalue())
    else:
        f.write(buffer.getvalue())


def load(f, map_location=None, _extra_files: dict | None = None,
         _restore_shapes: bool = False) -> Any:
    """Load what :func:`save` stored (unpickling it: trusted files only). The values of
    ``_extra_files`` are filled in from the archive (as bytes)."""
    if isinstance(f, (str, os.PathLike)):
        if not os.path.exists(f):
            raise ValueError(f"The provided filename {f} does not exist")
        if os.path.isdir(f):
            raise ValueError(f"The provided filename {f} is a directory")
    from .._tensor import device
    if isinstance(map_location, (str, device)) and device(map_location).type != "cpu":
        raise RuntimeError("Attempting to deserialize object on a CUDA device but "
                           "torch.cuda.is_available() is False. If you are running on a "
                           "CPU-only machine, please use torch.load with "
                           "map_location=torch.device('cpu') to map your storages to the CPU.")
    with zipfile.ZipFile(f) as z:
        if z.read("format").decode() != _MAGIC:
            raise RuntimeError("not an ember.jit archive")
        obj = pickle.loads(z.read("data.pkl"))  # noqa: S301 - documented: trusted files
        for name in list(_extra_files or {}):
            try:
                _extra_files[name] = z.read(f"extra/{name}")
            except KeyError:
                _extra_files[name] = b""
    return obj
