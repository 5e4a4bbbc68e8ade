"""Joining and splitting (cat, stack, split, chunk, unbind, meshgrid, broadcasting) and
copies that rearrange elements (repeat, tile, flip, roll, rot90). Split pieces are views of
their input."""

from __future__ import annotations

import warnings

from .._dtype import result_type
from ._jvp import or_zeros
from ._util import Op, Tensor, _make, dims_arg, tensor_method, wrap_dim, xp
from .indexing import SelectIndex, SliceIndex
from .shape import Clone, Unsqueeze, View, expand, reshape

__all__ = ["cat", "concat", "concatenate", "stack", "hstack", "vstack", "dstack", "row_stack",
           "column_stack", "split", "chunk", "tensor_split", "unbind", "meshgrid",
           "broadcast_tensors", "broadcast_shapes", "atleast_1d", "atleast_2d", "atleast_3d",
           "repeat_interleave", "tile", "flip", "fliplr", "flipud", "roll", "rot90",
           "cartesian_prod", "combinations", "block_diag"]


def _tensors_arg(tensors) -> tuple:
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        return tuple(tensors[0])
    return tuple(tensors)


def _shape_str(shape) -> str:
    return f"[{', '.join(map(str, shape))}]"


# -- cat / stack ------------------------------------------------------------------------------
class Cat(Op):
    """Concatenation along ``dim``; d = the gradient sliced back into the pieces."""

    node_name = "CatBackward0"

    @staticmethod
    def forward(ctx, dim, *tensors):
        dt = result_type(*tensors).np
        parts = [t._data for t in tensors]
        ctx.dim = dim
        ctx.sizes = [None if _legacy_empty(a) else a.shape[dim] for a in parts]
        return xp.concatenate([a.astype(dt, copy=False) for a in parts if not _legacy_empty(a)],
                              axis=dim, dtype=dt)

    @staticmethod
    def backward(ctx, g):
        grads, start = [None], 0
        for size, need in zip(ctx.sizes, ctx.needs_input_grad[1:]):
            if size is None:
                grads.append(g.new_zeros((0,)) if need else None)
                continue
            grads.append(g.narrow(ctx.dim, start, size) if need else None)
            start += size
        return tuple(grads)

    @staticmethod
    def jvp(inputs, out, tangents):
        dim, tensors = inputs[0], inputs[1:]
        return Cat.apply(dim, *map(or_zeros, tangents[1:], tensors))


def _legacy_empty(a) -> bool:
    # PyTorch lets 1-D empty tensors join anything (they are skipped).
    return a.ndim == 1 and a.shape[0] == 0


def cat(tensors, dim: int = 0, *, axis: int | None = None, out=None) -> Tensor:
    """Join ``tensors`` along an existing dim ``dim`` (dtypes are promoted)."""
    tensors = tuple(tensors)
    dim = dim if axis is None else axis
    if not tensors:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    for i, t in enumerate(tensors):
        if t._data.ndim == 0:
            raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be "
                               f"concatenated")
    real = [(i, t._data.shape) for i, t in enumerate(tensors) if not _legacy_empty(t._data)]
    if real:
        first = real[0][1]
        d = wrap_dim(dim, len(first))
        for i, shape in real[1:]:
            if len(shape) != len(first):
                raise RuntimeError(f"Tensors must have same number of dimensions: got "
                                   f"{len(first)} and {len(shape)}")
            for k, (a, b) in enumerate(zip(first, shape)):
                if k != d and a != b:
                    raise RuntimeError(f"Sizes of tensors must match except in dimension {d}. "
                                       f"Expected size {a} but got size {b} for tensor number "
                                       f"{i} in the list.")
    else:
        d = wrap_dim(dim, 1)
    result = Cat.apply(d, *tensors)
    if out is not None:
        from .inplace import copy_into_out
        return copy_into_out(out, result)
    return result


concat = concatenate = cat


class Stack(Op):
    """Join along a new dim ``dim``; d = the gradient's slices along that dim."""

    node_name = "StackBackward0"

    @staticmethod
    def forward(ctx, dim, *tensors):
        dt = result_type(*tensors).np
        ctx.dim = dim
        return xp.stack([t._data.astype(dt, copy=False) for t in tensors], axis=dim)

    @staticmethod
    def backward(ctx, g):
        return (None,) + tuple(g.select(ctx.dim, i) if need else None
                               for i, need in enumerate(ctx.needs_input_grad[1:]))

    @staticmethod
    def jvp(inputs, out, tangents):
        dim, tensors = inputs[0], inputs[1:]
        return Stack.apply(dim, *map(or_zeros, tangents[1:], tensors))


def stack(tensors, dim: int = 0, *, out=None) -> Tensor:
    """Join equally shaped ``tensors`` along a new dim ``dim``."""
    tensors = tuple(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    first = tensors[0]._data.shape
    for i, t in enumerate(tensors[1:], 1):
        if t._data.shape != first:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got "
                               f"{_shape_str(first)} at entry 0 and {_shape_str(t.shape)} at "
                               f"entry {i}")
    result = Stack.apply(wrap_dim(dim, len(first) + 1), *tensors)
    if out is not None:
        from .inplace import copy_into_out
        return copy_into_out(out, result)
    return result


def hstack(tensors, *, out=None) -> Tensor:
    """Join column-wise: along dim 0 for 1-D tensors, else dim 1."""
    tensors = atleast_1d(*tensors)
    return cat(tensors, 0 if tensors[0].ndim == 1 else 1, out=out)


def vstack(tensors, *, out=None) -> Tensor:
    """Join row-wise (1-D tensors become rows)."""
    return cat(atleast_2d(*tensors), 0, out=out)


row_stack = vstack


def dstack(tensors, *, out=None) -> Tensor:
    """Join depth-wise, along dim 2 (after making every tensor at least 3-D)."""
    return cat(atleast_3d(*tensors), 2, out=out)


def column_stack(tensors, *, out=None) -> Tensor:
    """Join as columns: 0-D and 1-D tensors become columns, then join along dim 1."""
    cols = [reshape(t, (t.numel(), 1)) if t.ndim <= 1 else t for t in tensors]
    return cat(cols, 1, out=out)


# -- split / chunk / unbind -------------------------------------------------------------------
def _as_piece_views(outputs, keys) -> None:
    """Record each piece of a multi-output view op as a single slice of the base, so that an
    in-place write through one piece can be replayed on the base."""
    for o, key in zip(outputs, keys):
        chain = o._extra.get("view") if o._extra else None
        if chain:
            cls = SelectIndex if isinstance(key[-1], int) else SliceIndex
            o._extra["view"] = chain[:-1] + ((cls, (key,)),)


class Split(Op):
    """Consecutive pieces along ``dim`` (views); d = the pieces' gradients joined."""

    node_name = "SplitBackward0"
    _is_view = True

    @staticmethod
    def forward(ctx, x, dim, sizes):
        a = x._data
        ctx.dim = dim
        ctx.keys = _split_keys(dim, sizes)
        return tuple(a[k] for k in ctx.keys)

    @staticmethod
    def backward(ctx, *grads):
        return cat(grads, ctx.dim), None, None

    @staticmethod
    def jvp(inputs, out, tangents):
        return Split.apply(tangents[0], *inputs[1:])


class SplitWithSizes(Split):
    node_name = "SplitWithSizesBackward0"


def _split_keys(dim: int, sizes) -> list:
    keys, start = [], 0
    for s in sizes:
        keys.append((slice(None),) * dim + (slice(start, start + s),))
        start += s
    return keys


def _split(cls, input: Tensor, dim: int, sizes: list) -> tuple:
    outs = cls.apply(input, dim, tuple(sizes))
    outs = outs if isinstance(outs, tuple) else (outs,)
    _as_piece_views(outs, _split_keys(dim, sizes))
    return outs


@tensor_method()
def split(tensor: Tensor, split_size_or_sections, dim: int = 0) -> tuple:
    """Pieces of ``split_size`` (the last may be smaller), or of the given sizes (views)."""
    shape = tensor._data.shape
    d = wrap_dim(dim, len(shape))
    n = shape[d] if shape else 1
    if isinstance(split_size_or_sections, (list, tuple)):
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != n or any(s < 0 for s in sizes):
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} "
                               f"(input tensor's size at dimension {d}), but got "
                               f"split_sizes={_shape_str(sizes)}")
        return _split(SplitWithSizes, tensor, d, sizes)
    size = int(split_size_or_sections)
    if size == 0 and n:
        raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got dimension "
                           f"size of {n}")
    if size < 0:
        raise RuntimeError(f"split expects split_size be non-negative, but got split_size="
                           f"{size}")
    sizes = [size] * (n // size) + ([n % size] if n % size else []) if size else [0]
    return _split(Split, tensor, d, sizes or [0])


@tensor_method()
def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple:
    """Up to ``chunks`` pieces of equal size (the last may be smaller) (views)."""
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    shape = input._data.shape
    d = wrap_dim(dim, len(shape))
    n = shape[d] if shape else 1
    if n == 0:
        return _split(SplitWithSizes, input, d, [0] * chunks)
    return split(input, -(-n // chunks), d)


@tensor_method()
def tensor_split(input: Tensor, indices_or_sections, dim: int = 0) -> tuple:
    """``sections`` nearly equal pieces, or the pieces between the given indices (views)."""
    shape = input._data.shape
    if not shape:
        raise RuntimeError("tensor_split expected at least a 1-dimensional tensor, but got a "
                           "tensor with 0 dims")
    d = wrap_dim(dim, len(shape))
    n = shape[d]
    ios = indices_or_sections
    if isinstance(ios, Tensor):
        ios = ios.item() if ios.ndim == 0 else ios.tolist()
    if isinstance(ios, int):
        if ios <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {ios}")
        q, r = divmod(n, ios)
        bounds = list(xp.cumsum([0] + [q + 1] * r + [q] * (ios - r)).tolist())
        slices = [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]
    else:
        cuts = [None, *(int(i) for i in ios), None]
        slices = [slice(a, b) for a, b in zip(cuts[:-1], cuts[1:])]
    pre = (slice(None),) * d
    return tuple(SliceIndex.apply(input, pre + (slice(*s.indices(n)[:2]),)) for s in slices)


class Unbind(Op):
    """Every slice along ``dim`` (views); d = the slices' gradients stacked."""

    node_name = "UnbindBackward0"
    _is_view = True

    @staticmethod
    def forward(ctx, x, dim):
        ctx.dim = dim
        a = x._data
        return tuple(a[(slice(None),) * dim + (i,)] for i in range(a.shape[dim]))

    @staticmethod
    def backward(ctx, *grads):
        return stack(grads, ctx.dim), None

    @staticmethod
    def jvp(inputs, out, tangents):
        return Unbind.apply(tangents[0], inputs[1])


@tensor_method()
def unbind(input: Tensor, dim: int = 0) -> tuple:
    """The slices along ``dim``, with that dim removed (views)."""
    n = input._data.ndim
    if n == 0:
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    d = wrap_dim(dim, n)
    count = input._data.shape[d]
    if count == 0:
        return ()
    outs = Unbind.apply(input, d)
    outs = outs if isinstance(outs, tuple) else (outs,)
    _as_piece_views(outs, [(slice(None),) * d + (i,) for i in range(count)])
    return outs
def broadcast_shapes(*shapes) -> tuple:
    """The shape that all ``shapes`` broadcast to (ints count as 1-D shapes)."""
    from .._tensor import Size
    shapes = [(s,) if isinstance(s, int) else tuple(s) for s in shapes]
    out: list = []
    for i, shp in enumerate(shapes):
        for k in range(1, len(shp) + 1):
            s = shp[-k]
            if k > len(out):
                out.insert(0, s)
            elif out[-k] == 1 or (s == out[-k]):
                out[-k] = s if out[-k] == 1 else out[-k]
            elif s != 1:
                raise RuntimeError(f"Attempting to broadcast a dimension of length {s} at {-k}! "
                                   f"Mismatching argument at index {i} had {tuple(shp)}; but "
                                   f"expected shape should be broadcastable to "
                                   f"[{', '.join(map(str, out))}]")
    return Size(out)


def broadcast_tensors(*tensors) -> tuple:
    """Expand all tensors to their common broadcast shape (views)."""
    tensors = _tensors_arg(tensors)
    shape = tensors[0]._data.shape if tensors else ()
    for t in tensors[1:]:
        other = t._data.shape
        try:
            shape = xp.broadcast_shapes(shape, other)
        except ValueError:
            n = max(len(shape), len(other))
            a, b = (1,) * (n - len(shape)) + shape, (1,) * (n - len(other)) + other
            d = next(i for i in range(n - 1, -1, -1) if a[i] != b[i] and 1 not in (a[i], b[i]))
            raise RuntimeError(f"The size of tensor a ({a[d]}) must match the size of tensor b "
                               f"({b[d]}) at non-singleton dimension {d}") from None
    return tuple(t if t._data.shape == shape else expand(t, shape) for t in tensors)


def _atleast(tensors, nd: int):
    single = len(tensors) == 1 and isinstance(tensors[0], Tensor)
    out = tuple(_atleast_one(t, nd) for t in _tensors_arg(tensors))
    return out[0] if single else out


def _atleast_one(t: Tensor, nd: int) -> Tensor:
    n = t._data.ndim
    if n >= nd:
        return t
    if n == 0:
        return View.apply(t, (1,) * nd)
    if nd == 2 or n == 2:
        return Unsqueeze.apply(t, 0 if nd == 2 else 2)
    return Unsqueeze.apply(Unsqueeze.apply(t, 0), 2)


def atleast_1d(*tensors):
    """Each tensor viewed with at least one dim."""
    return _atleast(tensors, 1)


def atleast_2d(*tensors):
    """Each tensor viewed with at least two dims (1-D ``(n,)`` becomes ``(1, n)``)."""
    return _atleast(tensors, 2)


def atleast_3d(*tensors):
    """Each tensor viewed with at least three dims (``(n,)`` -> ``(1, n, 1)``,
    ``(m, n)`` -> ``(m, n, 1)``)."""
    return _atleast(tensors, 3)


def meshgrid(*tensors, indexing: str | None = None) -> tuple:
    """Coordinate grids from 1-D tensors: output ``i`` varies along dim ``i`` (``'ij'``), or
    with the first two dims swapped (``'xy'``) (expanded views)."""
    tensors = _tensors_arg(tensors)
    if indexing is None:
        warnings.warn("torch.meshgrid: in an upcoming release, it will be required to pass the "
                      "indexing argument.", UserWarning, stacklevel=2)
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f'torch.meshgrid: indexing must be one of "xy" or "ij", but received: '
                           f'{indexing}')
    for t in tensors:
        if t.ndim > 1:
            raise RuntimeError(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but "
                               f"got: {t}")
    axes = list(range(len(tensors)))
    if indexing == "xy" and len(axes) >= 2:
        axes[0], axes[1] = 1, 0
    shape = [0] * len(tensors)
    for t, ax in zip(tensors, axes):
        shape[ax] = t.numel()
    out = []
    for t, ax in zip(tensors, axes):
        grid = [1] * len(tensors)
        grid[ax] = shape[ax]
        out.append(expand(View.apply(t, tuple(grid)), tuple(shape)))
    return tuple(out)


# -- copies that rearrange: repeat, tile, repeat_interleave, flip, roll, rot90 ----------------
class Repeat(Op):
    """Tile the tensor ``reps`` times per dim; d = the gradient summed over the copies."""

    node_name = "RepeatBackward0"

    @staticmethod
    def forward(ctx, x, reps):
        a = x._data
        shape = (1,) * (len(reps) - a.ndim) + a.shape
        ctx.args = (a.shape, shape, reps)
        return xp.tile(a.reshape(shape), reps)

    @staticmethod
    def backward(ctx, g):
        in_shape, shape, reps = ctx.args
        split = tuple(d for pair in zip(reps, shape) for d in pair)
        return g.reshape(split).sum(tuple(range(0, len(split), 2))).reshape(in_shape), None

    @staticmethod
    def jvp(inputs, out, tangents):
        return Repeat.apply(tangents[0], inputs[1])


def _repeat(input: Tensor, *sizes) -> Tensor:
    """The tensor tiled ``sizes[i]`` times along dim ``i`` (new leading dims allowed)."""
    reps = sizes[0] if len(sizes) == 1 and not isinstance(sizes[0], int) else sizes
    reps = tuple(int(r) for r in reps)
    if len(reps) < input._data.ndim:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number "
                           "of dimensions of tensor")
    if any(r < 0 for r in reps):
        raise RuntimeError(f"Trying to create tensor with negative dimension: {_shape_str(reps)}")
    return Repeat.apply(input, reps)


Tensor.repeat = _repeat


@tensor_method()
def tile(input: Tensor, dims) -> Tensor:
    """Like ``repeat``, but ``dims`` may be shorter than the tensor's dims (ones are
    prepended)."""
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    return _repeat(input, (1,) * (input._data.ndim - len(dims)) + dims)


@tensor_method()
def repeat_interleave(input: Tensor, repeats=None, dim: int | None = None, *,
                      output_size: int | None = None) -> Tensor:
    """Repeat each element ``repeats`` times (an int, or one count per element along
    ``dim``); with only a tensor of counts, the indices repeated by those counts."""
    if repeats is None:
        counts = input._data
        if counts.ndim > 1 or counts.dtype.kind not in "iu":
            raise RuntimeError("repeat_interleave only accept 1D vector as repeat")
        return _make(xp.repeat(xp.arange(counts.size), counts).astype(xp.int64))
    x = input
    if dim is None:
        x, dim = reshape(input, (-1,)), 0
    d = wrap_dim(dim, x._data.ndim)
    if isinstance(repeats, int):
        if repeats < 0:
            raise RuntimeError("repeats can not be negative")
        shape = x._data.shape
        wide = expand(Unsqueeze.apply(x, d + 1), shape[:d + 1] + (repeats,) + shape[d + 1:])
        flat = shape[:d] + (shape[d] * repeats,) + shape[d + 1:]
        return View.apply(Clone.apply(wide, "C"), flat)
    counts = repeats._data.reshape(-1)
    if counts.size == 1:
        counts = xp.broadcast_to(counts, (x._data.shape[d],))
    if (counts < 0).any():
        raise RuntimeError("repeats can not be negative")
    if counts.shape != (x._data.shape[d],):
        raise RuntimeError(f"repeats must have the same size as input along dim, but got "
                           f"repeats.size(0) = {counts.size} and input.size({d}) = "
                           f"{x._data.shape[d]}")
    return x.index_select(d, _make(xp.repeat(xp.arange(counts.size), counts)))


class Flip(Op):
    """Reverse the order along ``dims`` (a copy); d = the gradient flipped back."""

    node_name = "FlipBackward0"

    @staticmethod
    def forward(ctx, x, dims):
        ctx.dims = dims
        return xp.flip(x._data, dims).copy()

    @staticmethod
    def backward(ctx, g):
        return flip(g, ctx.dims), None

    @staticmethod
    def jvp(inputs, out, tangents):
        return Flip.apply(tangents[0], inputs[1])


@tensor_method()
def flip(input: Tensor, *dims) -> Tensor:
    """Reverse the order of elements along ``dims``."""
    dims = dims[0] if len(dims) == 1 and not isinstance(dims[0], int) else dims
    n = input._data.ndim
    if not isinstance(dims, int) and len(dims) == 0:   # flip(()) flips nothing
        return Flip.apply(input, ())
    return Flip.apply(input, dims_arg(dims, n) if n else ())


@tensor_method()
def fliplr(input: Tensor) -> Tensor:
    """Flip left-right (dim 1)."""
    if input._data.ndim < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return Flip.apply(input, (1,))


@tensor_method()
def flipud(input: Tensor) -> Tensor:
    """Flip up-down (dim 0)."""
    if input._data.ndim < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return Flip.apply(input, (0,))


class Roll(Op):
    """Shift elements cyclically; d = the gradient rolled back."""

    node_name = "RollBackward0"

    @staticmethod
    def forward(ctx, x, shifts, dims):
        ctx.args = (shifts, dims)
        return xp.roll(x._data, shifts, dims)

    @staticmethod
    def backward(ctx, g):
        shifts, dims = ctx.args
        back = -shifts if isinstance(shifts, int) else tuple(-s for s in shifts)
        return roll(g, back, dims), None, None

    @staticmethod
    def jvp(inputs, out, tangents):
        return Roll.apply(tangents[0], *inputs[1:])


@tensor_method()
def roll(input: Tensor, shifts, dims=None) -> Tensor:
    """Shift elements by ``shifts`` along ``dims`` (flattened when ``dims`` is None),
    wrapping around."""
    if dims is None:
        if not isinstance(shifts, int):
            shifts = tuple(shifts)
            if len(shifts) != 1:
                raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, "
                                   f"dims:0")
            shifts = shifts[0]
        return Roll.apply(input, int(shifts), None)
    shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if len(shifts) != len(dims):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:"
                           f"{len(dims)}")
    n = input._data.ndim
    return Roll.apply(input, shifts, tuple(wrap_dim(d, n) for d in dims))


class Rot90(Op):
    """Rotate by ``k`` quarter turns in the plane ``dims`` (a copy); d = rotate back."""

    node_name = "Rot90Backward0"

    @staticmethod
    def forward(ctx, x, k, dims):
        ctx.args = (k, dims)
        return xp.rot90(x._data, k, dims).copy()

    @staticmethod
    def backward(ctx, g):
        k, dims = ctx.args
        return rot90(g, -k, dims), None, None

    @staticmethod
    def jvp(inputs, out, tangents):
        return Rot90.apply(tangents[0], *inputs[1:])


@tensor_method()
def rot90(input: Tensor, k: int = 1, dims=(0, 1)) -> Tensor:
    """Rotate by 90 degrees ``k`` times, from the first dim in ``dims`` towards the second."""
    dims = tuple(dims)
    n = input._data.ndim
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if n < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {n}")
    d0, d1 = wrap_dim(dims[0], n), wrap_dim(dims[1], n)
    if d0 == d1:
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {d0} and "
                           f"dim1 = {d1}")
    return Rot90.apply(input, k, (d0, d1))


# -- products and block matrices: cartesian_prod, combinations, block_diag --------------------
def _check_vector(t: Tensor) -> None:
    if t._data.ndim != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {_shape_str(t.shape)}")


def cartesian_prod(*tensors: Tensor) -> Tensor:
    """Every tuple of one element from each 1-D tensor, as rows ``(N1*N2*..., k)`` in
    lexicographic order (a single tensor is returned as is)."""
    for t in tensors:
        _check_vector(t)
    if len(tensors) == 1:
        return tensors[0]
    if any(t.dtype != tensors[0].dtype for t in tensors[1:]):
        raise RuntimeError("meshgrid expects all tensors to have the same dtype")
    grids = meshgrid(*tensors, indexing="ij")
    return stack([reshape(g, (-1,)) for g in grids], 1)


def combinations(input: Tensor, r: int = 2, with_replacement: bool = False) -> Tensor:
    """The length-``r`` combinations of a 1-D tensor's elements, as rows in lexicographic
    order of position (``itertools.combinations``, or ``combinations_with_replacement``)."""
    _check_vector(input)
    if r < 0:
        raise RuntimeError(f"Expect a non-negative number, but got {r}")
    if r == 0:
        return input.new_empty((0,))
    n = input._data.shape[0]
    # Every r-tuple of positions, kept where they increase (or never decrease).
    grid = xp.indices((n,) * r).reshape(r, -1)
    step = grid[1:] - grid[:-1]
    keep = (step >= 0 if with_replacement else step > 0).all(0)
    picks = grid[:, keep]
    return stack([input.index_select(0, _make(p)) for p in picks], 1)


class BlockDiag(Op):
    """Inputs placed along the diagonal of a zero matrix; d = each input's block of g"""

    node_name = "BlockDiagBackward0"

    @staticmethod
    def forward(ctx, *tensors):
        mats = [_as_block(t._data) for t in tensors]
        rows, cols = sum(m.shape[0] for m in mats), sum(m.shape[1] for m in mats)
        out = xp.zeros((rows, cols), dtype=result_type(*tensors).np)
        corners, r, c = [], 0, 0
        for m in mats:
            out[r:r + m.shape[0], c:c + m.shape[1]] = m
            corners.append((r, c, m.shape))
            r, c = r + m.shape[0], c + m.shape[1]
        ctx.blocks = [(r, c, shape, t._data.shape) for (r, c, shape), t in zip(corners, tensors)]
        return out

    @staticmethod
    def backward(ctx, g):
        return tuple(g[r:r + shape[0], c:c + shape[1]].reshape(in_shape) if need else None
                     for (r, c, shape, in_shape), need in zip(ctx.blocks,
                                                               ctx.needs_input_grad))

    @staticmethod
    def jvp(inputs, out, tangents):
        return BlockDiag.apply(*map(or_zeros, tangents, inputs))


def _as_block(a):
    return a.reshape(1, -1) if a.ndim < 2 else a


def block_diag(*tensors: Tensor) -> Tensor:
    """A block-diagonal matrix of the inputs (0-d: 1x1, 1-D: one row, 2-D: as is)."""
    for i, t in enumerate(tensors):
        if t._data.ndim > 2:
            raise RuntimeError(f"torch.block_diag: Input tensors must have 2 or fewer "
                               f"dimensions. Input {i} has {t._data.ndim} dimensions")
    if not tensors:
        from .._creation import empty
        return empty(1, 0)
    return BlockDiag.apply(*tensors)
