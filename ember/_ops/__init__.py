"""Op definitions, one module per family. Importing this package attaches every op's
Tensor methods; ``OP_MODULES`` lists the modules whose ``__all__`` forms ember's flat
namespace (``ember.exp``, ``ember.cat``, ...)."""

from . import (
    activation,
    complex,
    elementwise,
    indexing,
    inplace,
    joining,
    linalg,
    linalg_legacy,
    pointwise,
    reduction,
    shape,
    sorting,
    spectral,
    special_functions,
    statistics,
    unary,
)
from . import inplace_more  # last: it re-exports in-place methods the others attach

OP_MODULES = (elementwise, unary, pointwise, activation, reduction, sorting, shape, joining,
              indexing, linalg, inplace, complex, spectral, special_functions, linalg_legacy,
              statistics, inplace_more)

# A name listed but not (yet) defined is skipped rather than breaking ``import ember``;
# tests/test_api.py checks that every listed name exists.
__all__ = sorted({name for m in OP_MODULES for name in m.__all__ if hasattr(m, name)})

for _m in OP_MODULES:
    for _name in _m.__all__:
        if hasattr(_m, _name):
            globals()[_name] = getattr(_m, _name)
