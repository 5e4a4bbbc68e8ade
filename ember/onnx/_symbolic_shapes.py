"""ONNX translations of shape, indexing, joining and sorting ops (see ``_symbolic_ops``)."""

from __future__ import annotations

import numpy as np

from .._tensor import Tensor
from ._graph import INT64_MAX
from ._symbolic_ops import _dt, _nd, _shape, op
from .errors import UnsupportedOperatorError


def reshape(tr, v: str, old: tuple, new: tuple) -> str:
    """Reshape whose target keeps dims that are unchanged at the same index as ``0`` (copy)
    and lets ONNX infer one remaining dim, so dynamic batch/sequence dims survive."""
    if tuple(old) == tuple(new):
        return v
    spec = [0 if i < len(old) and d == old[i] and d != 0 else int(d) for i, d in enumerate(new)]
    free = [i for i, d in enumerate(spec) if d != 0]
    if free and 0 not in new:
        spec[free[0]] = -1
    return tr.g.reshape(v, spec)


# ------------------------------------------------------------------------------ shapes
@op("TransposeBackward0", "TBackward0", "TransposeBackward1")
def _transpose(tr, x, d0=0, d1=1, *, out):
    n = _nd(x)
    if n < 2:
        return tr.value(x)
    perm = list(range(n))
    d0, d1 = d0 % n, d1 % n
    perm[d0], perm[d1] = perm[d1], perm[d0]
    return tr.g.transpose(tr.value(x), perm)


@op("PermuteBackward0")
def _permute(tr, x, dims, *, out):
    n = _nd(x)
    return tr.g.transpose(tr.value(x), [d % n for d in dims])


@op("ExpandBackward0")
def _expand(tr, x, sizes, *, out):
    old = _shape(x)
    new = _shape(out)
    # Dims already of the right size broadcast as 1, so dynamic dims are kept.
    spec = [1 if i >= len(new) - len(old) and old[i - len(new) + len(old)] == d else d
            for i, d in enumerate(new)]
    if all(s == 1 for s in spec) and len(new) == len(old):
        return tr.value(x)
    return tr.g.node("Expand", [tr.value(x), tr.g.ints(spec)], dtype=_dt(out))


@op("RepeatBackward0")
def _repeat(tr, x, reps, *, out):
    v = tr.value(x)
    extra = len(reps) - _nd(x)
    if extra:
        v = tr.g.unsqueeze(v, list(range(extra)))
    return tr.g.node("Tile", [v, tr.g.ints(reps)], dtype=_dt(out))


@op("SqueezeBackward0", "SqueezeBackward1", "SqueezeBackward2")
def _squeeze(tr, x, dims=(), *rest, out):
    shape = _shape(x)
    if isinstance(dims, int):
        dims = (dims,)
    axes = [d % len(shape) for d in (dims or range(len(shape))) if shape[d] == 1]
    return tr.g.squeeze(tr.value(x), axes) if axes else tr.value(x)


@op("UnsqueezeBackward0", "SelectBackward0", "SliceBackward0", "SliceBackward1")
def _basic_index(tr, x, index, *rest, out):
    """Indexing with ints, slices, None and Ellipsis (also plain unsqueeze(dim))."""
    if tr.current == "UnsqueezeBackward0" and not isinstance(index, tuple):
        return tr.g.unsqueeze(tr.value(x), [index % (_nd(x) + 1)])
    if not isinstance(index, tuple):
        index = (index,)
    return basic_index(tr, tr.value(x), _shape(x), index)


def basic_index(tr, v: str, shape: tuple, index: tuple) -> str:
    n_real = sum(1 for i in index if i is not None and i is not Ellipsis)
    if any(i is Ellipsis for i in index):
        at = index.index(Ellipsis)
        index = index[:at] + (slice(None),) * (len(shape) - n_real) + index[at + 1:]
    index = index + (slice(None),) * (len(shape) - sum(1 for i in index if i is not None))
    starts, ends, axes, steps, drop, new = [], [], [], [], [], []
    dim = 0
    out_pos = 0
    for item in index:
        if item is None:
            new.append(out_pos)
            out_pos += 1
            continue
        size = shape[dim]
        # Negative and open-ended bounds stay relative to the end (ONNX Slice semantics match
        # Python's), so x[:, -1] still picks the last step when that dim is dynamic.
        if isinstance(item, slice):
            if (item.start, item.stop, item.step) not in ((None, None, None), (0, None, None),
                                                         (None, None, 1), (0, None, 1)):
                step = 1 if item.step is None else int(item.step)
                if step > 0:
                    start = 0 if item.start is None else int(item.start)
                    stop = INT64_MAX if item.stop is None else int(item.stop)
                else:
                    start = -1 if item.start is None else int(item.start)
                    stop = -INT64_MAX if item.stop is None else int(item.stop)
                axes.append(dim)
                starts.append(start)
                ends.append(stop)
                steps.append(step)
            out_pos += 1
        else:
            i = int(item)
            if not -size <= i < size:
                raise IndexError(f"index {i} is out of bounds for dimension {dim} with size "
                                 f"{size}")
            axes.append(dim)
            starts.append(i)
            ends.append(INT64_MAX if i == -1 else i + 1)
            steps.append(1)
            drop.append(dim)
        dim += 1
    if axes:
        v = tr.g.slice(v, starts, ends, axes, steps)
    if drop:
        v = tr.g.squeeze(v, drop)
    if new:
        v = tr.g.unsqueeze(v, new)
    return v


@op("CatBackward0")
def _cat(tr, dim, *tensors, out):
    dt = _dt(out)
    parts = [t for t in tensors if not (isinstance(t, Tensor) and t._data.ndim == 1
                                        and t._data.shape[0] == 0 and _nd(out) > 1)]
    n = _nd(out)
    return tr.g.node("Concat", [tr.value(t, dt) for t in parts], axis=int(dim) % n, dtype=dt)


@op("StackBackward0")
def _stack(tr, dim, *tensors, out):
    dt = _dt(out)
    n = _nd(out)
    parts = [tr.g.unsqueeze(tr.value(t, dt), [int(dim) % n]) for t in tensors]
    return tr.g.node("Concat", parts, axis=int(dim) % n, dtype=dt)


@op("SplitBackward0", "SplitWithSizesBackward0")
def _split(tr, x, dim, sizes, *rest, out):
    return tr.g.split(tr.value(x), list(sizes), int(dim) % _nd(x))


@op("UnbindBackward0")
def _unbind(tr, x, dim=0, *rest, out):
    d = int(dim) % _nd(x)
    parts = tr.g.split(tr.value(x), [1] * _shape(x)[d], d)
    return [tr.g.squeeze(p, [d]) for p in parts]


@op("ConstantPadNdBackward0")
def _pad(tr, x, pairs, value=0, *rest, out):
    n = _nd(x)
    begins, ends = [0] * n, [0] * n
    for i, (lo, hi) in enumerate(pairs):
        begins[n - 1 - i], ends[n - 1 - i] = int(lo), int(hi)
    dt = _dt(out)
    return tr.g.node("Pad", [tr.value(x, dt), tr.g.ints(begins + ends), tr.value(value, dt)],
                     mode="constant", dtype=dt)


@op("FlipBackward0")
def _flip(tr, x, dims, *, out):
    n = _nd(x)
    dims = [d % n for d in dims]
    return tr.g.slice(tr.value(x), [-1] * len(dims), [-INT64_MAX] * len(dims), dims,
                      [-1] * len(dims))


@op("RollBackward0")
def _roll(tr, x, shifts, dims=(), *, out):
    shifts = tuple(shifts) if isinstance(shifts, (tuple, list)) else (shifts,)
    dims = () if dims is None else tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
    v = tr.value(x)
    shape = _shape(x)
    if not dims:
        flat = tr.g.reshape(v, [-1])
        rolled = _roll_axis(tr, flat, shifts[0], 0, int(np.prod(shape)))
        return tr.g.reshape(rolled, shape)
    for s, d in zip(shifts, dims):
        v = _roll_axis(tr, v, s, d % len(shape), shape[d])
    return v


def _roll_axis(tr, v, shift, axis, size):
    k = shift % size if size else 0
    if not k:
        return v
    head = tr.g.slice(v, [size - k], [INT64_MAX], [axis])
    tail = tr.g.slice(v, [0], [size - k], [axis])
    return tr.g.node("Concat", [head, tail], axis=axis, dtype=tr.g.dtypes.get(v))


@op("TriuBackward0", "TrilBackward0")
def _trilu(tr, x, k=0, *, out):
    return tr.g.node("Trilu", [tr.value(x), tr.g.const(np.int64(k))],
                     upper=int(tr.current == "TriuBackward0"), dtype=_dt(out))


@op("GatherBackward0")
def _gather(tr, x, dim, index, *rest, out):
    return tr.g.node("GatherElements", [tr.value(x), tr.value(index, np.int64)],
                     axis=int(dim) % _nd(x), dtype=_dt(out))


@op("IndexSelectBackward0", "index_select")
def _index_select(tr, x, dim, index, *rest, out):
    return tr.g.node("Gather", [tr.value(x), tr.value(index, np.int64)],
                     axis=int(dim) % _nd(x), dtype=_dt(out))


@op("IndexBackward0")
def _index(tr, x, index, *rest, out):
    """Advanced indexing with one integer index array (other entries full slices)."""
    if not isinstance(index, tuple):
        index = (index,)
    arrays = [i for i, item in enumerate(index) if isinstance(item, (np.ndarray, Tensor))]
    full = all(isinstance(item, slice) and item == slice(None) for i, item in enumerate(index)
               if i not in arrays)
    idx = index[arrays[0]] if len(arrays) == 1 else None
    arr = idx._data if isinstance(idx, Tensor) else idx
    if idx is None or not full or arr.dtype.kind not in "iu" or any(
            item is Ellipsis for item in index):
        raise UnsupportedOperatorError("IndexBackward0", "only a single integer index "
                                       "tensor among full slices is supported")
    return tr.g.node("Gather", [tr.value(x), tr.value(idx, np.int64)], axis=arrays[0],
                     dtype=_dt(out))


@op("getitem")
def _getitem(tr, x, index, *, out):
    """``x[...]`` with tensor indices: one integer index tensor (the other entries basic), or
    one boolean mask of x's full shape."""
    items = index if isinstance(index, tuple) else (index,)
    tensors = [i for i, item in enumerate(items) if isinstance(item, (Tensor, list))]
    if len(tensors) != 1:
        raise UnsupportedOperatorError("IndexBackward0", "indexing with several index tensors")
    pos = tensors[0]
    idx = items[pos]
    if isinstance(idx, list):
        idx = np.asarray(idx)
    kind = (idx._data if isinstance(idx, Tensor) else idx).dtype.kind
    if kind == "b":
        if len(items) != 1 or _shape(idx) != _shape(x):
            raise UnsupportedOperatorError("IndexBackward0", "a boolean mask must cover the "
                                           "whole tensor")
        flat = tr.g.reshape(tr.value(x), [-1])
        return tr.g.node("Compress", [flat, tr.g.reshape(tr.value(idx, np.bool_), [-1])],
                         axis=0, dtype=_dt(out))
    if any(it is Ellipsis or it is None for it in items):
        raise UnsupportedOperatorError("IndexBackward0", "tensor index with ... or None")
    # Basic items before the tensor: apply them, then gather along the remaining axis.
    before = items[:pos]
    v = tr.value(x)
    shape = _shape(x)
    if before:
        v = basic_index(tr, v, shape, tuple(before))
        axis = sum(1 for b in before if isinstance(b, slice))
    else:
        axis = 0
    y = tr.g.node("Gather", [v, tr.value(idx, np.int64)], axis=axis, dtype=_dt(out))
    after = items[pos + 1:]
    if after:
        nd_idx = _nd(idx)
        rest_shape = _shape(out)
        y = basic_index(tr, y, tuple(rest_shape), (slice(None),) * (axis + nd_idx)
                        + tuple(after))
    # PyTorch applies integer indices as basic indexing (a select each), so with one index
    # tensor the gathered dims stay where the tensor stood (unlike NumPy's rule).
    return y


@op("EmbeddingBackward0")
def _embedding(tr, weight, indices, *rest, out):
    return tr.g.node("Gather", [tr.value(weight), tr.value(indices, np.int64)], axis=0,
                     dtype=_dt(out))


@op("TopkBackward0", "SortBackward0", "SortBackward1")
def _topk(tr, x, dim, *rest, out):
    """topk (x, dim, sorted, k, largest) and sort (x, dim, stable, descending)."""
    n = _nd(x)
    d = int(dim) % max(n, 1)
    k = _shape(out[0])[d] if n else 1
    largest = rest[-1] if tr.current.startswith("Topk") else rest[-1]
    values, idx = tr.g.node("TopK", [tr.value(x), tr.g.ints([k])], 2, axis=d,
                            largest=int(bool(largest)), sorted=1)
    tr.g.dtypes[values] = _dt(out)
    tr.g.dtypes[idx] = np.dtype(np.int64)
    return [values, idx]


@op("take")
def _take(tr, x, index, *, out):
    flat = tr.g.reshape(tr.value(x), [-1])
    return tr.g.node("Gather", [flat, tr.value(index, np.int64)], axis=0, dtype=_dt(out))


@op("take_along_dim")
def _take_along_dim(tr, x, index, dim=None, *, out):
    if dim is None:
        flat = tr.g.reshape(tr.value(x), [-1])
        return tr.g.node("GatherElements", [flat, tr.g.reshape(tr.value(index, np.int64), [-1])],
                         axis=0, dtype=_dt(out))
    xs, ix = _shape(x), _shape(index)
    d = int(dim) % len(xs)
    if len(xs) != len(ix) or any(a != b for i, (a, b) in enumerate(zip(xs, ix)) if i != d):
        raise UnsupportedOperatorError("take_along_dim", "broadcasting index shapes")
    return tr.g.node("GatherElements", [tr.value(x), tr.value(index, np.int64)], axis=d,
                     dtype=_dt(out))


@op("argsort")
def _argsort(tr, x, dim=-1, descending=False, stable=False, *, out):
    n = _nd(x)
    if n == 0:
        return tr.g.const(np.int64(0))
    d = int(dim) % n
    _, idx = tr.g.node("TopK", [tr.value(x), tr.g.ints([_shape(x)[d]])], 2, axis=d,
                       largest=int(bool(descending)), sorted=1)
    tr.g.dtypes[idx] = np.dtype(np.int64)
    return idx


@op("one_hot")
def _one_hot(tr, index, num_classes=-1, *, out):
    depth = _shape(out)[-1]
    hit = tr.g.node("Equal", [tr.g.unsqueeze(tr.value(index, np.int64), [-1]),
                              tr.g.const(np.arange(depth, dtype=np.int64))], dtype=np.bool_)
    return tr.g.cast(hit, _dt(out))


@op("einsum")
def _einsum(tr, equation, *operands, out):
    if len(operands) == 1 and isinstance(operands[0], (tuple, list)):
        operands = tuple(operands[0])
    dt = _dt(out)
    return tr.g.node("Einsum", [tr.value(o, dt) for o in operands],
                     equation=equation.replace(" ", ""), dtype=dt)
