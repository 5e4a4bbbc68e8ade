"""Pictures of the autograd graph: :func:`make_dot` turns a tensor's backward graph into
Graphviz DOT text, which :class:`Graph` can save, render to SVG/PNG, or show in a notebook.

Building the DOT text needs nothing beyond ember. Rendering it needs the ``graphviz`` Python
package and Graphviz's ``dot`` program (``pip install "ember[viz]"`` plus the system package
``graphviz``); without them :meth:`Graph.render` says exactly what to install.

Example::

    x = ember.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (x * 2 + 5).sum()
    make_dot(y, params={"x": x}).render("graph", format="svg")   # writes graph.svg
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from ._backend import ndarray
from ._tensor import Tensor
from .autograd.function import _FREED, AccumulateGrad, _SavedOutput

__all__ = ["Graph", "GraphvizNotFound", "make_dot"]

_INSTALL = ("rendering a graph needs the graphviz Python package and Graphviz's `dot` program: "
            "run `pip install graphviz` (or `pip install \"ember[viz]\"`) and install the system "
            "package `graphviz` (`apt-get install graphviz`, `brew install graphviz`, or "
            "https://graphviz.org/download/). Graph.source holds the DOT text; Graph.save(path) "
            "writes it without Graphviz.")

# Colours follow the torchviz convention newcomers know: leaves light blue, the output green,
# saved tensors orange.
_LEAF, _OUTPUT, _SAVED = "lightblue", "darkolivegreen1", "orange"


class GraphvizNotFound(RuntimeError):
    """Raised when rendering needs Graphviz and it (or its Python package) is missing."""


class Graph:
    """A backward graph as Graphviz DOT text.

    ``source`` is the DOT text; ``nodes`` maps each node id to its label and ``edges`` lists
    ``(from_id, to_id)`` pairs in the direction of the forward computation.
    """

    def __init__(self, source: str, nodes: dict[str, str], edges: list[tuple[str, str]]):
        self.source = source
        self.nodes = nodes
        self.edges = edges

    def __str__(self) -> str:
        return self.source

    def __repr__(self) -> str:
        return f"<ember.viz.Graph: {len(self.nodes)} nodes, {len(self.edges)} edges>"

    def save(self, path: str | os.PathLike) -> Path:
        """Write the DOT text to ``path`` (needs no Graphviz); returns the path."""
        path = Path(path)
        path.write_text(self.source, encoding="utf-8")
        return path

    def pipe(self, format: str = "svg") -> bytes:  # noqa: A002 - graphviz's name
        """The graph rendered by Graphviz's ``dot`` in ``format`` ('svg', 'png', 'pdf', ...)."""
        try:
            import graphviz
        except ImportError:
            raise GraphvizNotFound(_INSTALL) from None
        try:
            return graphviz.Source(self.source).pipe(format=format)
        except graphviz.ExecutableNotFound:
            raise GraphvizNotFound(_INSTALL) from None

    def render(self, filename: str | os.PathLike, format: str = "svg") -> Path:  # noqa: A002
        """Render to ``filename`` (``.<format>`` is appended unless it already ends so);
        returns the path written."""
        path = Path(filename)
        if path.suffix.lower() != "." + format.lower():
            path = path.with_name(path.name + "." + format)
        data = self.pipe(format)
        path.write_bytes(data)
        return path

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        """Notebooks show the SVG when Graphviz is installed, else the DOT text."""
        try:
            return {"image/svg+xml": self.pipe("svg").decode("utf-8")}
        except GraphvizNotFound:
            return {"text/plain": self.source}


def _shape(t) -> str:
    return "(" + ", ".join(str(s) for s in t.shape) + ")"


def _quote(text: str) -> str:
    """A DOT string literal (newlines become DOT's line breaks)."""
    text = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{text}"'


def _attr_lines(fn, max_chars: int) -> list[str]:
    """The node's non-tensor metadata (dims, shapes, flags), one ``name: value`` per line."""
    attrs = getattr(fn, "__dict__", {})
    lines = []
    for key in sorted(attrs):
        if key.startswith("_"):
            continue
        value = str(attrs[key])
        if len(value) > max_chars:
            value = value[:max_chars - 3] + "..."
        lines.append(f"{key}: {value}")
    return lines


def make_dot(var: Tensor | Iterable[Tensor], params: Mapping[str, Tensor] | None = None,
             show_saved: bool = False, show_attrs: bool = False,
             max_attr_chars: int = 50) -> Graph:
    """The backward graph of ``var`` (a tensor or a sequence of tensors) as a :class:`Graph`.

    Each node is drawn under its ``grad_fn.name()`` (``MulBackward0``; less any
    ``torch::autograd::`` prefix); a leaf's ``AccumulateGrad`` is fed by a box showing the
    leaf's name in ``params`` (a dict name -> tensor, e.g. ``dict(model.named_parameters())``)
    and its shape.
    ``show_saved`` adds the tensors each node saved for backward (until backward frees them);
    ``show_attrs`` adds each node's non-tensor attributes (dims, shapes, flags).
    """
    outputs = [var] if isinstance(var, Tensor) else list(var)
    for t in outputs:
        if not isinstance(t, Tensor):
            raise TypeError(f"make_dot expects Tensors, got {type(t).__name__}")
    names: dict[int, str] = {}
    for name, p in (params or {}).items():
        if not isinstance(p, Tensor):
            raise TypeError(f"params[{name!r}] is a {type(p).__name__}, not a Tensor")
        names[id(p)] = name

    nodes: dict[str, str] = {}
    colors: dict[str, str] = {}
    edges: list[tuple[str, str]] = []
    edge_styles: dict[int, str] = {}
    ids: dict[int, str] = {}
    keep: list = []  # keeps visited objects alive, so ids stay unique while we walk

    def node_id(obj) -> str:
        key = id(obj)
        if key not in ids:
            ids[key] = f"n{len(ids)}"
            keep.append(obj)
        return ids[key]

    def tensor_node(t: Tensor, color: str, default: str = "") -> str:
        nid = node_id(t)
        if color == _LEAF:
            colors[nid] = _LEAF  # a leaf drawn first as a saved tensor is still a leaf
        if nid not in nodes:
            name = names.get(id(t), default)
            nodes[nid] = f"{name}\n{_shape(t)}" if name else _shape(t)
            colors[nid] = color
        return nid

    # Iterative depth-first walk: deep graphs (long training unrolls) need no recursion.
    stack = []
    for i, t in enumerate(outputs):
        default = "output" if len(outputs) == 1 else f"output {i}"
        out_id = tensor_node(t, _OUTPUT, default)
        if t.grad_fn is not None:
            edges.append((node_id(t.grad_fn), out_id))
            stack.append(t.grad_fn)
    seen: set[int] = set()
    while stack:
        fn = stack.pop()
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        fid = node_id(fn)
        # Short names, as PyTorch prints them ("AccumulateGrad", not "torch::autograd::...").
        label = [fn.name().rpartition("::")[2]]
        if show_attrs:
            label += _attr_lines(fn, max_attr_chars)
        nodes[fid] = "\n".join(label)
        if isinstance(fn, AccumulateGrad):
            leaf = fn.variable
            if leaf is not None:
                edges.append((tensor_node(leaf, _LEAF), fid))
            continue
        if show_saved:
            _add_saved(fn, fid, tensor_node, node_id, nodes, colors, edges, edge_styles)
        for nxt, _ in fn.next_functions:
            if nxt is not None:
                edges.append((node_id(nxt), fid))
                stack.append(nxt)

    lines = ["digraph {",
             '\tgraph [rankdir=TB size="12,12"]',
             '\tnode [shape=box style=filled fillcolor=white align=left fontsize=10 '
             'height=0.2 fontname=monospace]']
    for nid, label in nodes.items():
        extra = f" fillcolor={colors[nid]}" if nid in colors else ""
        lines.append(f"\t{nid} [label={_quote(label)}{extra}]")
    for k, edge in enumerate(edges):
        style = f" [style={edge_styles[k]}]" if k in edge_styles else ""
        lines.append(f"\t{edge[0]} -> {edge[1]}{style}")
    lines.append("}")
    return Graph("\n".join(lines) + "\n", nodes, edges)


def _add_saved(fn, fid, tensor_node, node_id, nodes, colors, edges, edge_styles) -> None:
    """Draw what ``fn`` saved for backward, with dotted edges into ``fn``."""
    saved = getattr(fn, "_saved", None)
    if saved is _FREED:
        nodes[fid] += "\n(saved tensors freed)"
        return
    if not isinstance(saved, tuple):
        return
    for i, item in enumerate(saved):
        if isinstance(item, Tensor):
            sid = tensor_node(item, _SAVED, f"saved #{i}")
        elif isinstance(item, _SavedOutput):
            sid = node_id(item)
            nodes[sid] = f"saved #{i}: output {item.index}\n{_shape(item.array)}"
            colors[sid] = _SAVED
        elif isinstance(item, ndarray):
            sid = node_id(item)
            nodes[sid] = f"saved #{i}: array\n{_shape(item)}"
            colors[sid] = _SAVED
        else:
            continue
        edge_styles[len(edges)] = "dotted"
        edges.append((sid, fid))
