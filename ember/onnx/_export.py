"""``export``: trace a model's forward once and write it as an ONNX model."""

from __future__ import annotations

import contextlib
import enum
import inspect
import io
import os
import warnings
from collections.abc import Mapping, Sequence

import numpy as np

from .._tensor import Tensor
from .errors import OnnxExporterError

_DEFAULT_OPSET = 17
_MIN_OPSET = 14


class TrainingMode(enum.IntEnum):
    """Which mode (``train()``/``eval()``) the model is exported in."""
    EVAL = 0
    PRESERVE = 1
    TRAINING = 2


@contextlib.contextmanager
def select_model_mode_for_export(model, mode: TrainingMode):
    """Put ``model`` in ``mode``'s train/eval state for the export, then restore it."""
    if not hasattr(model, "training") or mode == TrainingMode.PRESERVE:
        yield
        return
    was = model.training
    model.train(mode == TrainingMode.TRAINING)
    try:
        yield
    finally:
        model.train(was)


def _import_onnx():
    try:
        import onnx
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            "ember.onnx.export needs the onnx package: pip install onnx (and onnxruntime to "
            "run the exported model), or pip install 'ember[onnx]'", name=exc.name) from None
    return onnx


def _flatten(x, out: list) -> list:
    if isinstance(x, Tensor):
        out.append(x)
    elif isinstance(x, (tuple, list)):
        for item in x:
            _flatten(item, out)
    elif isinstance(x, Mapping):
        for item in x.values():
            _flatten(item, out)
    return out


def _default_input_names(model, args: tuple, n: int) -> list:
    try:
        params = list(inspect.signature(getattr(model, "forward", model)).parameters.values())
    except (TypeError, ValueError):
        params = []
    names = []
    for i, a in enumerate(args):
        base = params[i].name if i < len(params) and params[i].kind in (
            inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD) \
            else f"input_{i}"
        count = len(_flatten(a, []))
        names += [base] if count == 1 and isinstance(a, Tensor) else \
            [f"{base}_{j}" for j in range(count)]
    return names + [f"input_{i}" for i in range(len(names), n)]


def _dynamic(dynamic_axes, name: str, shape: tuple) -> list:
    axes = (dynamic_axes or {}).get(name)
    dims: list = list(shape)
    if axes is None:
        return dims
    if isinstance(axes, Mapping):
        for ax, label in axes.items():
            dims[int(ax)] = str(label)
    else:
        for ax in axes:
            dims[int(ax)] = f"{name}_dynamic_axes_{int(ax) + 1}"
    return dims


def export(model, args=(), f=None, *, kwargs: dict | None = None, verbose: bool | None = None,
           input_names: Sequence[str] | None = None,
           output_names: Sequence[str] | None = None, opset_version: int | None = None,
           dynamo: bool = True, external_data: bool = True, dynamic_shapes=None,
           export_params: bool = True, keep_initializers_as_inputs: bool = False,
           dynamic_axes: Mapping | None = None,
           training: TrainingMode = TrainingMode.EVAL, operator_export_type=None,
           do_constant_folding: bool = True, custom_opsets: Mapping | None = None,
           export_modules_as_functions: bool = False, autograd_inlining: bool = True):
    """Export ``model``'s forward, run once on ``args``, as an ONNX model written to ``f``.

    Args:
        model: an ``nn.Module`` (or a function of tensors).
        args: the example inputs: a tuple (a trailing dict gives keyword arguments) or one
            Tensor.
        f: a path or a binary file-like object; ``None`` returns the ``onnx.ModelProto``.
        kwargs: keyword arguments for the forward.
        input_names, output_names: names of the graph inputs/outputs, in flattened order.
        opset_version: the ONNX opset (default 17; 14 and newer are supported).
        dynamic_axes: ``{name: {axis: "dim_name"}}`` or ``{name: [axis, ...]}``: dims of
            inputs/outputs left symbolic (e.g. the batch size).
        training: ``TrainingMode.EVAL`` (default), ``PRESERVE`` or ``TRAINING``.
        do_constant_folding: precompute nodes whose inputs are all constants.
        export_params: store parameters as initializers (else they become graph inputs).
        keep_initializers_as_inputs: also list initializers as graph inputs.
        verbose: print the exported graph.
        dynamo: accepted for PyTorch compatibility; ember always exports by tracing.

    Every op the forward runs must have an ONNX translation; otherwise
    ``UnsupportedOperatorError`` names the op (its autograd node name, e.g.
    ``LinalgInvExBackward0``). Shapes are those of the example inputs except along
    ``dynamic_axes``; Python control flow is unrolled for the example inputs, as in
    PyTorch's tracing exporter.

    Example::

        model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
        ember.onnx.export(model, (ember.randn(1, 4),), "model.onnx", input_names=["x"],
                          output_names=["y"], dynamic_axes={"x": {0: "batch"},
                                                            "y": {0: "batch"}})
    """
    onnx = _import_onnx()
    from . import _symbolic_modules, _symbolic_nn, _symbolic_ops, _symbolic_shapes
    from ._graph import GraphBuilder
    from ._trace import Tracer

    del dynamo, external_data, custom_opsets, autograd_inlining, operator_export_type
    if dynamic_shapes is not None:
        raise OnnxExporterError("dynamic_shapes is for the dynamo exporter; use dynamic_axes")
    if export_modules_as_functions:
        raise OnnxExporterError("export_modules_as_functions is not supported by ember.onnx")
    opset = _DEFAULT_OPSET if opset_version is None else int(opset_version)
    max_opset = onnx.defs.onnx_opset_version()
    if not _MIN_OPSET <= opset <= max_opset:
        raise ValueError(f"Unsupported ONNX opset version: {opset}. Supported versions are "
                         f"{_MIN_OPSET} to {max_opset}.")

    if isinstance(args, Tensor) or not isinstance(args, (tuple, list)):
        args = (args,)
    args = tuple(args)
    kwargs = dict(kwargs or {})
    if args and isinstance(args[-1], dict):
        kwargs = {**args[-1], **kwargs}
        args = args[:-1]

    params: dict[int, str] = {}
    if hasattr(model, "named_parameters"):
        for name, p in model.named_parameters():
            params.setdefault(id(p), name)
        for name, b in model.named_buffers():
            if b is not None:
                params.setdefault(id(b), name)

    g = GraphBuilder(onnx, opset)
    in_tensors = _flatten((args, kwargs), [])
    names = list(input_names or [])
    defaults = _default_input_names(model, args, len(_flatten(args, [])))
    for key, value in kwargs.items():
        count = len(_flatten(value, []))
        defaults += [key] if isinstance(value, Tensor) else [f"{key}_{j}" for j in range(count)]
    names += defaults[len(names):len(in_tensors)]
    names += [f"input_{i}" for i in range(len(names), len(in_tensors))]

    import ember
    with select_model_mode_for_export(model, TrainingMode(training)):
        del _symbolic_nn, _symbolic_shapes  # imported for their registrations in OPS
        tracer = Tracer(g, params, _symbolic_modules.MODULES, _symbolic_ops.OPS)
        with tracer, ember.no_grad():
            graph_inputs = []
            for t, name in zip(in_tensors, names):
                if id(t) in tracer.env:
                    continue  # the same tensor passed twice: one graph input
                g.dtypes[name] = t._data.dtype
                g.inputs.add(name)
                tracer.bind(t, name)
                graph_inputs.append((name, t._data.dtype,
                                     _dynamic(dynamic_axes, name, tuple(t.shape))))
            result = model(*args, **kwargs)
            outs = _flatten(result, [])
            out_values = [tracer.value(o) for o in outs]

    out_names = list(output_names or [])
    out_names += (["output"] if len(outs) == 1 else [f"output_{i}" for i in range(len(outs))]
                  )[len(out_names):]
    graph_outputs = []
    claimed = {n for n, *_ in graph_inputs}
    renamed: dict[str, str] = {}
    for o, v, name in zip(outs, out_values, out_names):
        v = renamed.get(v, v)
        if v in claimed or v in g.initializers or name in claimed:
            g.node("Identity", [v], [name])
        else:
            _rename(g, v, name)
            renamed[v] = name
        claimed.add(name)
        graph_outputs.append((name, o._data.dtype, _dynamic(dynamic_axes, name,
                                                            tuple(o.shape))))
    known = claimed | set(names)
    for key in dynamic_axes or {}:
        if key not in known:
            warnings.warn(f"Provided key {key} for dynamic axes is not a valid input/output "
                          f"name", stacklevel=2)

    _prune(g, [n for n, *_ in graph_outputs])
    param_names = set(params.values())
    if do_constant_folding:
        keep = keep_initializers_as_inputs or not export_params
        _fold_constants(onnx, g, param_names if keep else ())
        _prune(g, [n for n, *_ in graph_outputs])
    if not export_params:
        for name in [n for n in g.initializers if n in param_names]:
            arr = g.initializers.pop(name)
            graph_inputs.append((name, arr.dtype, arr.shape))
    elif keep_initializers_as_inputs:
        graph_inputs += [(n, a.dtype, a.shape) for n, a in g.initializers.items()]

    model_proto = g.model(graph_inputs, graph_outputs, ember.__version__)
    onnx.checker.check_model(model_proto)
    if verbose:
        printer = getattr(onnx, "printer", None)
        print(printer.to_text(model_proto.graph) if printer is not None
              else onnx.helper.printable_graph(model_proto.graph))
    if f is None:
        return model_proto
    data = model_proto.SerializeToString()
    if isinstance(f, (str, os.PathLike)):
        with open(f, "wb") as fh:
            fh.write(data)
    elif isinstance(f, io.TextIOBase):
        raise TypeError("f must be a path or a binary file-like object")
    else:
        f.write(data)
    return None


def _rename(g, old: str, new: str) -> None:
    """Give value ``old`` the name ``new`` everywhere (its producer and consumers)."""
    for node in g.nodes:
        for seq in (node.input, node.output):
            for i, n in enumerate(seq):
                if n == old:
                    seq[i] = new
    for table in (g.dtypes, g.shapes):
        if old in table:
            table[new] = table[old]


def _prune(g, outputs: list) -> None:
    """Drop nodes and initializers no output depends on."""
    needed = set(outputs)
    kept = []
    for node in reversed(g.nodes):
        if any(o in needed for o in node.output):
            kept.append(node)
            needed.update(i for i in node.input if i)
    g.nodes[:] = kept[::-1]
    for name in [n for n in g.initializers if n not in needed]:
        del g.initializers[name]


_FOLDABLE = {"Transpose", "Cast", "Reshape", "Unsqueeze", "Squeeze", "Identity", "Concat",
             "Slice", "Gather", "Expand", "Mul", "Add", "Sub", "Div", "Neg", "Sqrt", "Tile"}


def _fold_constants(onnx, g, protected) -> None:
    """Evaluate (with ONNX's reference runtime) nodes whose inputs are all constants, turning
    their outputs into initializers; parameters in ``protected`` stay as they are."""
    from onnx.reference import ReferenceEvaluator
    helper = onnx.helper
    kept = []
    for node in g.nodes:
        ins = [i for i in node.input if i]
        if (node.op_type not in _FOLDABLE or not ins or len(node.output) != 1
                or not all(i in g.initializers and i not in protected for i in ins)):
            kept.append(node)
            continue
        graph = helper.make_graph(
            [node], "fold",
            [helper.make_tensor_value_info(i, helper.np_dtype_to_tensor_dtype(
                g.initializers[i].dtype), list(g.initializers[i].shape)) for i in ins],
            [helper.make_tensor_value_info(node.output[0], 0, None)])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", g.opset)])
        (value,) = ReferenceEvaluator(model).run(None, {i: g.initializers[i] for i in ins})
        g.initializers[node.output[0]] = np.asarray(value)
    g.nodes[:] = kept
