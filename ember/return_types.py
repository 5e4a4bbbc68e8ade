"""``ember.return_types``: the named tuples ops return, e.g. ``x.max(dim=0)`` gives an
``ember.return_types.max(values=..., indices=...)``. Ops register their types here."""

from __future__ import annotations

import collections

__all__ = ["register"]


def register(name: str, fields: str):
    """The named-tuple type ``name`` (created once), printed like torch's return types."""
    cls = globals().get(name)
    if cls is not None:
        return cls
    cls = collections.namedtuple(name, fields)
    cls.__module__ = __name__

    def __repr__(self) -> str:
        body = ",\n".join(f"{f}={v!r}" for f, v in zip(self._fields, self))
        return f"ember.return_types.{name}(\n{body})"

    cls.__repr__ = __repr__
    globals()[name] = cls
    return cls
