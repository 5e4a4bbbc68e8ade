"""A TensorBoard ``GraphDef`` of a model's forward, read off ember's autograd graph."""

from __future__ import annotations

from tensorboard.compat.proto.attr_value_pb2 import AttrValue
from tensorboard.compat.proto.graph_pb2 import GraphDef
from tensorboard.compat.proto.node_def_pb2 import NodeDef
from tensorboard.compat.proto.versions_pb2 import VersionDef


def _shape_attr(t) -> dict:
    from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto
    dims = [TensorShapeProto.Dim(size=int(s)) for s in t.shape]
    return {"_output_shapes": AttrValue(list=AttrValue.ListValue(
        shape=[TensorShapeProto(dim=dims)]))}


def graph(model, inputs: tuple, verbose: bool = False) -> GraphDef:
    """Run ``model(*inputs)`` with grad on and turn the recorded graph into a ``GraphDef``:
    one node per op (named by its grad_fn, e.g. ``AddmmBackward0``), parameters and inputs
    as source nodes named by their path in the model."""
    import ember
    from ember.autograd.function import AccumulateGrad

    top = type(model).__name__
    leaves = {}
    fresh = []
    for i, x in enumerate(inputs):
        if isinstance(x, ember.Tensor) and x.is_floating_point():
            x = x.detach().requires_grad_()
        fresh.append(x)
        if isinstance(x, ember.Tensor):
            leaves[id(x)] = (f"{top}/input.{i}", x)
    for name, p in model.named_parameters():
        leaves[id(p)] = (f"{top}/{name}", p)
    with ember.enable_grad():
        out = model(*fresh)
    outs = [o for o in (out if isinstance(out, (tuple, list)) else (out,))
            if isinstance(o, ember.Tensor)]

    nodes: list[NodeDef] = []
    names: dict[int, str] = {}

    def node_name(fn) -> str:
        # Iterative post-order walk: a deep graph must not hit the recursion limit.
        stack = [(fn, False)]
        while stack:
            cur, ready = stack.pop()
            if id(cur) in names:
                continue
            if isinstance(cur, AccumulateGrad):
                var = cur.variable
                name, t = leaves.get(id(var), (f"{top}/leaf.{len(names)}", var))
                names[id(cur)] = name
                nodes.append(NodeDef(name=name, op="Parameter" if "input" not in name
                                     else "IO Node", attr=_shape_attr(t)))
                continue
            children = [f for f, _ in cur.next_functions if f is not None]
            if not ready:
                stack.append((cur, True))
                stack.extend((c, False) for c in children if id(c) not in names)
                continue
            op = cur.name()
            name = f"{top}/{op}_{len(names)}"
            names[id(cur)] = name
            nodes.append(NodeDef(name=name, op=op, input=[names[id(c)] for c in children]))
        return names[id(fn)]

    for i, o in enumerate(outs):
        src = node_name(o.grad_fn) if o.grad_fn is not None else None
        nodes.append(NodeDef(name=f"{top}/output.{i}", op="IO Node",
                             input=[src] if src else [], attr=_shape_attr(o)))
    if verbose:
        for n in nodes:
            print(n.name, n.op, list(n.input))
    return GraphDef(node=nodes, versions=VersionDef(producer=22))
