"""The op table: the single source of truth for op tests. Every module in this package
contributes an ``OPS`` list of ``OpInfo`` entries (one module per op family)."""

import importlib
import pkgutil

from ._base import BINARY, UNARY, OpInfo, S, Sample

__all__ = ["OP_DB", "OpInfo", "S", "Sample", "UNARY", "BINARY"]

OP_DB: list[OpInfo] = []
for _info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if not _info.name.startswith("_"):
        OP_DB.extend(importlib.import_module(f"{__name__}.{_info.name}").OPS)

_names = [op.name for op in OP_DB]
assert len(_names) == len(set(_names)), "duplicate op names in the op table"
