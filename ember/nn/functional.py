"""``ember.nn.functional``: the functional form of every layer and loss."""

import importlib as _importlib
import pkgutil as _pkgutil

from . import _functional

__all__: list[str] = []
for _info in sorted(_pkgutil.iter_modules(_functional.__path__), key=lambda m: m.name):
    _mod = _importlib.import_module(f"{_functional.__name__}.{_info.name}")
    for _name in getattr(_mod, "__all__", ()):
        globals()[_name] = getattr(_mod, _name)
        __all__.append(_name)
