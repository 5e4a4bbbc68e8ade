"""How deeply the running code is nested inside differentiating transforms.

Inside a transform (level > 0) every derivative is computed with ``create_graph=True``, so
an enclosing ``grad``/``jacrev`` can differentiate it again, including through values the
inner function closed over. At the top level a derivative is recorded only when the user's
own inputs require grad (torch.func composes with regular autograd the same way).
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

_state = threading.local()


def level() -> int:
    return getattr(_state, "level", 0)


@contextmanager
def enter():
    _state.level = level() + 1
    try:
        yield
    finally:
        _state.level -= 1
