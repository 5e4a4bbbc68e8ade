"""``GraphBuilder``: collects ONNX nodes, constants and value types while a forward is traced,
and assembles the ``ModelProto`` at the end. Every ``onnx`` call of the exporter is here or in
the symbolic modules, which get the (lazily imported) package through the builder."""

from __future__ import annotations

import itertools

import numpy as np

INT64_MAX = 2**63 - 1


class GraphBuilder:
    """Nodes in topological order (the order the forward ran them), initializers, and the
    NumPy dtype of every value whose type later ops must agree with."""

    def __init__(self, onnx, opset: int) -> None:
        self.onnx = onnx
        self.opset = opset
        self.nodes: list = []
        self.initializers: dict[str, np.ndarray] = {}
        self.dtypes: dict[str, np.dtype] = {}
        self.shapes: dict[str, tuple] = {}
        self._names = itertools.count()
        self._consts: dict = {}
        self.inputs: set[str] = set()
        self.params: set[str] = set()  # initializers holding the model's parameters/buffers
        self._producer: dict[str, list] = {}
        self._dynamic: dict[str, bool] = {}

    def fresh(self, hint: str = "v") -> str:
        return f"/{hint}_{next(self._names)}"

    def node(self, op_type: str, inputs: list, outputs: int | list = 1, *, dtype=None,
             **attrs):
        """Add a node; returns its output name (or the list of names when ``outputs`` is a
        count above one or a list). ``dtype`` records the first output's dtype."""
        if isinstance(outputs, int):
            names = [self.fresh(op_type) for _ in range(outputs)]
            single = outputs == 1
        else:
            names, single = list(outputs), False
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(self.onnx.helper.make_node(
            op_type, [i if i is not None else "" for i in inputs], names,
            name=f"/{op_type}_{len(self.nodes)}", **attrs))
        for n in names:
            self._producer[n] = [i for i in inputs if i]
        if dtype is not None:
            self.dtypes[names[0]] = np.dtype(dtype)
        return names[0] if single else names

    def depends_on_inputs(self, name: str) -> bool:
        """Whether value ``name`` is computed from a graph input (not a constant)."""
        todo = [name]
        seen = set()
        while todo:
            cur = todo.pop()
            if cur in self.inputs or self._dynamic.get(cur):
                for s in seen:
                    self._dynamic[s] = True
                return True
            if cur in seen:
                continue
            seen.add(cur)
            todo.extend(self._producer.get(cur, ()))
        return False

    def const(self, value, dtype=None, name: str | None = None) -> str:
        """A constant initializer (small ones are shared by value)."""
        arr = np.asarray(value, dtype=dtype)
        if arr.dtype == np.float64 and dtype is None and not isinstance(value, np.ndarray):
            arr = arr.astype(np.float32)
        key = None
        if name is None and arr.size <= 16:
            key = (arr.dtype.str, arr.shape, arr.tobytes())
            if key in self._consts:
                return self._consts[key]
        name = name or self.fresh("const")
        self.initializers[name] = arr
        self.dtypes[name] = arr.dtype
        self.shapes[name] = arr.shape
        if key is not None:
            self._consts[key] = name
        return name

    def ints(self, values) -> str:
        return self.const(np.asarray(list(values), dtype=np.int64))

    def cast(self, name: str, dtype) -> str:
        """``name`` converted to ``dtype`` (no node when it already has it)."""
        dtype = np.dtype(dtype)
        if self.dtypes.get(name) == dtype:
            return name
        if name in self.initializers and name not in self.params:
            return self.const(self.initializers[name].astype(dtype))
        to = self.onnx.helper.np_dtype_to_tensor_dtype(dtype)
        return self.node("Cast", [name], to=to, dtype=dtype)

    # Ops whose signature changed across opsets: pick the form the target opset wants.
    def reduce(self, op: str, x: str, axes, keepdims: bool, dtype=None) -> str:
        axes = None if axes is None else [int(a) for a in axes]
        takes_input = self.opset >= 18 or op == "ReduceSum"
        if takes_input:
            return self.node(op, [x] + ([self.ints(axes)] if axes is not None else []),
                             keepdims=int(keepdims), dtype=dtype)
        return self.node(op, [x], axes=axes, keepdims=int(keepdims), dtype=dtype)

    def unsqueeze(self, x: str, axes) -> str:
        return self.node("Unsqueeze", [x, self.ints(axes)], dtype=self.dtypes.get(x))

    def squeeze(self, x: str, axes) -> str:
        return self.node("Squeeze", [x, self.ints(axes)], dtype=self.dtypes.get(x))

    def split(self, x: str, sizes, axis: int) -> list:
        outs = self.node("Split", [x, self.ints(sizes)], len(sizes), axis=int(axis))
        outs = outs if isinstance(outs, list) else [outs]
        for o in outs:
            self.dtypes[o] = self.dtypes.get(x)
        return outs

    def slice(self, x: str, starts, ends, axes, steps=None) -> str:
        ins = [x, self.ints(starts), self.ints(ends), self.ints(axes)]
        if steps is not None:
            ins.append(self.ints(steps))
        return self.node("Slice", ins, dtype=self.dtypes.get(x))

    def transpose(self, x: str, perm) -> str:
        return self.node("Transpose", [x], perm=[int(p) for p in perm], dtype=self.dtypes.get(x))

    def reshape(self, x: str, shape) -> str:
        return self.node("Reshape", [x, self.ints(shape)], dtype=self.dtypes.get(x))

    def model(self, inputs: list, outputs: list, producer: str):
        """The ``ModelProto``: ``inputs``/``outputs`` are ``(name, dtype, shape)`` with
        symbolic dims given as strings."""
        helper = self.onnx.helper

        def info(name, dtype, shape):
            return helper.make_tensor_value_info(
                name, helper.np_dtype_to_tensor_dtype(np.dtype(dtype)), list(shape))

        inits = [self.onnx.numpy_helper.from_array(np.ascontiguousarray(a), n)
                 for n, a in self.initializers.items()]
        graph = helper.make_graph(self.nodes, "main_graph", [info(*i) for i in inputs],
                                  [info(*o) for o in outputs], inits)
        model = helper.make_model(graph, producer_name="ember", producer_version=producer,
                                  opset_imports=[helper.make_opsetid("", self.opset)])
        model.ir_version = min(model.ir_version, _max_ir(self.onnx, self.opset))
        return model


def _max_ir(onnx, opset: int) -> int:
    # The IR version an opset shipped with: older runtimes refuse newer IR versions.
    for ir, ops in ((7, 14), (8, 18), (9, 20), (10, 22)):
        if opset <= ops:
            return ir
    return onnx.IR_VERSION
