"""``ember.viz.make_dot``: the DOT text of backward graphs (structure, names, shapes, saved
tensors), checked against the graph torch builds for the same code; rendering when Graphviz
is installed, and a clear error when it is not."""

import builtins
import re
import shutil
import sys
from collections import Counter

import pytest
import torch

import ember
from ember.viz import Graph, GraphvizNotFound, make_dot

_NODE = re.compile(r'^\t(n\d+) \[label="((?:[^"\\]|\\.)*)"(.*)\]$')
_EDGE = re.compile(r"^\t(n\d+) -> (n\d+)(?: \[style=(\w+)\])?$")


def parse(source: str):
    """Nodes {id: (label, attrs)} and edges [(src, dst, style)] read back from DOT text."""
    nodes, edges = {}, []
    lines = source.splitlines()
    assert lines[0] == "digraph {" and lines[-1] == "}"
    for line in lines[1:-1]:
        if m := _NODE.match(line):
            label = m.group(2).replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")
            nodes[m.group(1)] = (label, m.group(3))
        elif m := _EDGE.match(line):
            edges.append((m.group(1), m.group(2), m.group(3)))
        else:
            assert line.startswith(("\tgraph [", "\tnode [")), line
    for src, dst, _ in edges:
        assert src in nodes and dst in nodes
    return nodes, edges


def labels(graph: Graph) -> Counter:
    return Counter(label.split("\n")[0] for label in graph.nodes.values())


def torch_names(t) -> Counter:
    """Node names in torch's backward graph of ``t`` (each node once)."""
    seen, stack, names = set(), [t.grad_fn], Counter()
    while stack:
        fn = stack.pop()
        if fn is None or fn in seen:
            continue
        seen.add(fn)
        names[fn.name().removeprefix("torch::autograd::")] += 1
        stack.extend(n for n, _ in fn.next_functions)
    return names


def by_label(graph: Graph, label: str) -> str:
    found = [nid for nid, lab in graph.nodes.items() if lab == label]
    assert len(found) == 1, (label, graph.nodes)
    return found[0]


def seed_graph(lib):
    x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
    return x, (x * 2 + 5).sum()


def test_seed_graph_chain():
    x, y = seed_graph(ember)
    g = make_dot(y, params={"x": x})
    nodes, edges = parse(g.source)
    assert {k: v[0] for k, v in nodes.items()} == g.nodes
    assert [(a, b) for a, b, _ in edges] == g.edges
    ids = [by_label(g, lab) for lab in ("x\n(3)", "AccumulateGrad", "MulBackward0",
                                        "AddBackward0", "SumBackward0", "output\n()")]
    assert set(g.edges) == set(zip(ids, ids[1:]))
    assert len(g.edges) == 5 and len(g.nodes) == 6
    assert "fillcolor=lightblue" in nodes[ids[0]][1]
    assert "fillcolor=darkolivegreen1" in nodes[ids[-1]][1]


@pytest.mark.parametrize("cell", ["x * 2 + 5", "x * y", "x * x + y.exp()", "(x.reshape(1, 2) @ W).relu()"])
def test_node_names_match_torch(cell):
    def build(lib):
        x = lib.tensor([2.0, 3.0], requires_grad=True)
        y = lib.tensor([4.0, 5.0], requires_grad=True)
        W = lib.ones(2, 3, requires_grad=True)
        return eval(cell, {"x": x, "y": y, "W": W}).sum()
    g = make_dot(build(ember))
    mine = labels(g)
    del mine["output"], mine["(2)"], mine["(2, 3)"]
    assert mine == torch_names(build(torch))


def test_mlp_with_named_parameters():
    ember.manual_seed(0)
    net = ember.nn.Sequential(ember.nn.Linear(4, 3), ember.nn.ReLU(), ember.nn.Linear(3, 2))
    x = ember.randn(5, 4)
    loss = ember.nn.functional.cross_entropy(net(x), ember.tensor([0, 1, 0, 1, 1]))
    params = dict(net.named_parameters())
    g = make_dot(loss, params=params)
    parse(g.source)
    for name, p in params.items():
        leaf = by_label(g, f"{name}\n({', '.join(map(str, p.shape))})")
        (acc,) = [b for a, b in g.edges if a == leaf]
        assert g.nodes[acc] == "AccumulateGrad"
        (consumer,) = [b for a, b in g.edges if a == acc]
        assert g.nodes[consumer] == "AddmmBackward0"
    assert labels(g)["AccumulateGrad"] == 4
    assert labels(g)["ReluBackward0"] == 1
    assert g.nodes[by_label(g, "output\n()")] == "output\n()"
    # The input needs no grad: nothing is drawn for it.
    assert not any(lab.endswith("(5, 4)") for lab in g.nodes.values())


def test_reused_input_draws_one_leaf_with_two_edges():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    g = make_dot((x * x).sum(), params={"x": x})
    acc, mul = by_label(g, "AccumulateGrad"), by_label(g, "MulBackward0")
    assert g.edges.count((acc, mul)) == 2
    assert labels(g)["x"] == 1


def test_saved_tensors_and_attrs():
    w = ember.randn(3, 2, requires_grad=True)
    x = ember.randn(4, 3)
    out = (x @ w).sum(dim=1)
    g = make_dot(out, params={"w": w}, show_saved=True, show_attrs=True)
    nodes, edges = parse(g.source)
    mm = by_label(g, "MmBackward0")
    saved_into_mm = [a for a, b, style in edges if b == mm and style == "dotted"]
    assert sorted(g.nodes[s] for s in saved_into_mm) == sorted(["saved #0\n(4, 3)", "w\n(3, 2)"])
    # The parameter is a leaf first and foremost: drawn once, in the leaf colour.
    w_id = by_label(g, "w\n(3, 2)")
    assert "lightblue" in nodes[w_id][1]
    assert any("orange" in nodes[s][1] for s in saved_into_mm)
    # show_attrs lists the node's metadata, sorted by name, under its name.
    sum_label = g.nodes[by_label(g, "SumBackward1\ndims: (1,)\nkeepdim: False\nshape: (4, 2)")]
    assert make_dot(out).nodes[by_label(g, sum_label)] == "SumBackward1"
    out.sum().backward()
    freed = make_dot(out, show_saved=True)
    assert "MmBackward0\n(saved tensors freed)" in freed.nodes.values()
    assert make_dot(out).nodes == {k: v.split("\n(saved")[0] for k, v in freed.nodes.items()}


def test_multiple_outputs_leaves_and_untracked():
    a = ember.tensor([1.0, 2.0], requires_grad=True)
    g = make_dot([a.exp(), a.sin()], params={"a": a})
    assert labels(g)["a"] == 1 and labels(g)["AccumulateGrad"] == 1
    assert {"output 0\n(2)", "output 1\n(2)"} <= set(g.nodes.values())
    leaf = make_dot(a, params={"a": a})
    assert list(leaf.nodes.values()) == ["a\n(2)"] and leaf.edges == []
    plain = make_dot(ember.ones(2, 2))
    assert list(plain.nodes.values()) == ["output\n(2, 2)"] and plain.edges == []


def test_labels_are_escaped():
    p = ember.zeros(1, requires_grad=True)
    g = make_dot(p * 3, params={'odd "name"\\': p})
    nodes, _ = parse(g.source)
    assert 'odd "name"\\\n(1)' in [lab for lab, _ in nodes.values()]


def test_deep_graph_needs_no_recursion():
    x = ember.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(sys.getrecursionlimit() + 500):
        y = y * 1.0
    g = make_dot(y)
    assert labels(g)["MulBackward0"] == sys.getrecursionlimit() + 500


def test_bad_arguments():
    with pytest.raises(TypeError, match="Tensor"):
        make_dot([1.0])
    with pytest.raises(TypeError, match="params\\['w'\\]"):
        make_dot(ember.ones(1), params={"w": [1.0]})


def test_save_writes_dot(tmp_path):
    x, y = seed_graph(ember)
    g = make_dot(y, params={"x": x})
    path = g.save(tmp_path / "seed.dot")
    assert path.read_text() == g.source == str(g)
    assert "6 nodes, 5 edges" in repr(g)


def _has_graphviz() -> bool:
    try:
        import graphviz  # noqa: F401
    except ImportError:
        return False
    return shutil.which("dot") is not None


@pytest.mark.skipif(not _has_graphviz(), reason="needs `pip install graphviz` and `dot`")
@pytest.mark.parametrize("fmt", ["svg", "png"])
def test_render(tmp_path, fmt):
    x, y = seed_graph(ember)
    g = make_dot(y, params={"x": x})
    path = g.render(tmp_path / "seed", format=fmt)
    assert path == tmp_path / f"seed.{fmt}"
    data = path.read_bytes()
    if fmt == "svg":
        text = data.decode()
        assert "<svg" in text
        for name in ("MulBackward0", "AddBackward0", "SumBackward0", "AccumulateGrad"):
            assert name in text
        assert g._repr_mimebundle_() == {"image/svg+xml": text}
        # A name that already ends in the format is kept.
        assert g.render(tmp_path / "again.svg") == tmp_path / "again.svg"
    else:
        assert data[:8] == b"\x89PNG\r\n\x1a\n"


def test_render_without_the_python_package(tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_graphviz(name, *args, **kwargs):
        if name == "graphviz":
            raise ImportError("No module named 'graphviz'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_graphviz)
    g = make_dot(seed_graph(ember)[1])
    with pytest.raises(GraphvizNotFound, match="pip install graphviz") as info:
        g.render(tmp_path / "seed")
    assert "apt-get install graphviz" in str(info.value)
    assert isinstance(info.value, RuntimeError)
    assert not (tmp_path / "seed.svg").exists()
    assert g._repr_mimebundle_() == {"text/plain": g.source}


def test_render_without_dot(tmp_path, monkeypatch):
    pytest.importorskip("graphviz")
    monkeypatch.setenv("PATH", str(tmp_path))
    g = make_dot(seed_graph(ember)[1])
    with pytest.raises(GraphvizNotFound, match="system package `graphviz`"):
        g.render(tmp_path / "seed", format="png")
