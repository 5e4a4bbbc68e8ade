"""A minimal pytree: nested tuples, lists, dicts and namedtuples with Tensor (or other) leaves.

The transforms flatten their inputs and outputs with it, so ``argnums``, ``in_dims`` and
``out_dims`` can address a dict of parameters or a tuple of outputs as torch.func does.
"""

from __future__ import annotations

from typing import Any


class TreeSpec:
    """The shape of a pytree: a container kind, its keys/context and child specs (a leaf has
    kind None)."""

    __slots__ = ("kind", "context", "children", "num_leaves")

    def __init__(self, kind, context, children: list) -> None:
        self.kind = kind
        self.context = context
        self.children = children
        self.num_leaves = 1 if kind is None else sum(c.num_leaves for c in children)

    def __eq__(self, other) -> bool:
        return (isinstance(other, TreeSpec) and self.kind == other.kind
                and self.context == other.context and self.children == other.children)

    def __repr__(self) -> str:
        if self.kind is None:
            return "*"
        inner = ",\n  ".join(repr(c) for c in self.children)    # torch's layout
        return f"TreeSpec({self.kind.__name__}, {self.context}, [{inner}])"


_LEAF = TreeSpec(None, None, [])


def _is_namedtuple(x) -> bool:
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def tree_flatten(tree: Any) -> tuple[list, TreeSpec]:
    """The leaves of ``tree`` in order, and its spec."""
    leaves: list = []

    def walk(node) -> TreeSpec:
        if isinstance(node, dict):
            keys = list(node)
            return TreeSpec(dict, keys, [walk(node[k]) for k in keys])
        if _is_namedtuple(node):
            return TreeSpec(type(node), None, [walk(v) for v in node])
        if type(node) in (tuple, list):
            return TreeSpec(type(node), None, [walk(v) for v in node])
        leaves.append(node)
        return _LEAF

    spec = walk(tree)
    return leaves, spec


def tree_unflatten(leaves, spec: TreeSpec) -> Any:
    """Rebuild a pytree of ``spec``'s shape from ``leaves``."""
    it = iter(leaves)

    def build(s: TreeSpec):
        if s.kind is None:
            return next(it)
        values = [build(c) for c in s.children]
        if s.kind is dict:
            return dict(zip(s.context, values))
        if s.kind in (tuple, list):
            return s.kind(values)
        return s.kind(*values)                      # a namedtuple

    return build(spec)


def tree_map(fn, tree: Any) -> Any:
    leaves, spec = tree_flatten(tree)
    return tree_unflatten([fn(x) for x in leaves], spec)


def broadcast_prefix(prefix: Any, tree: Any, spec: TreeSpec | None = None) -> list | None:
    """The leaves of ``prefix`` repeated over the subtrees of ``tree`` they stand for (an
    ``in_dims`` of 0 for a whole dict of tensors), or None when the structures differ."""
    out: list = []

    def walk(p, s: TreeSpec) -> bool:
        if not isinstance(p, (tuple, list, dict)) or s.kind is None and not isinstance(
                p, (tuple, list, dict)):
            out.extend([p] * s.num_leaves)
            return True
        if s.kind is None:
            return False
        if isinstance(p, dict):
            if s.kind is not dict or set(p) != set(s.context):
                return False
            return all(walk(p[k], c) for k, c in zip(s.context, s.children))
        if s.kind is dict or not isinstance(p, (tuple, list)) or len(p) != len(s.children):
            return False
        return all(walk(pv, c) for pv, c in zip(p, s.children))

    if spec is None:
        spec = tree_flatten(tree)[1]
    return out if walk(prefix, spec) else None
