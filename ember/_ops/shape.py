"""Shape ops: views (reshape, transpose, permute, squeeze, expand, ...) and copies
(clone, contiguous, dtype conversion). A view op's output shares its input's storage and
version counter; its backward reshapes the gradient back."""

from __future__ import annotations

from .. import _dtype
from ._util import Op, Tensor, _make, dims_arg, tensor_method, wrap_dim, xp

__all__ = ["reshape", "transpose", "swapdims", "swapaxes", "permute", "movedim", "moveaxis",
           "unsqueeze", "squeeze", "flatten", "unflatten", "ravel", "t", "narrow", "select",
           "clone", "sum_to_size", "broadcast_to"]


def _shape_arg(shape) -> tuple:
    """Accept ``f(2, 3)``, ``f((2, 3))``, ``f([2, 3])`` and ``f(Size)``."""
    if len(shape) == 1 and not isinstance(shape[0], int):
        shape = shape[0]
    return tuple(int(s) for s in shape)


def _infer_shape(shape: tuple, numel: int) -> tuple:
    if -1 in shape:
        known = 1
        for s in shape:
            if s != -1:
                known *= s
        if shape.count(-1) > 1:
            raise RuntimeError("only one dimension can be inferred")
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '[{', '.join(map(str, shape))}]' is invalid for input of "
                               f"size {numel}")
        shape = tuple(numel // known if s == -1 else s for s in shape)
    n = 1
    for s in shape:
        n *= s
    if n != numel:
        raise RuntimeError(f"shape '[{', '.join(map(str, shape))}]' is invalid for input of size "
                           f"{numel}")
    return shape


class View(Op):
    """A reshape that shares storage; d = reshape of the gradient back."""

    node_name = "ViewBackward0"
    _is_view = True

    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x._data.shape
        try:
            return xp.reshape(x._data, shape, copy=False)
        except ValueError:
            raise RuntimeError(
                "view size is not compatible with input tensor's size and stride (at least one "
                "dimension spans across two contiguous subspaces). Use .reshape(...) "
                "instead.") from None

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.in_shape), None

    @staticmethod
    def jvp(inputs, out, tangents):
        # reshape, not view: a tangent need not share its primal's strides
        return tangents[0].reshape(inputs[1])


class ReshapeCopy(Op):
    """A reshape that had to copy (the input's strides allow no view)."""

    node_name = "UnsafeViewBackward0"

    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x._data.shape
        return xp.reshape(x._data, shape).copy()

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.in_shape), None

    @staticmethod
    def jvp(inputs, out, tangents):
        return ReshapeCopy.apply(tangents[0], inputs[1])


def _can_view(a, shape) -> bool:
    if a.flags.c_contiguous:
        return True
    try:
        xp.reshape(a, shape, copy=False)
        return True
    except ValueError:
        return False


@tensor_method()
def reshape(input: Tensor, *shape) -> Tensor:
    """The same data in a new shape: a view when the strides allow, else a copy."""
    shape = _infer_shape(_shape_arg(shape), input._data.size)
    if shape == input._data.shape and not input._requires_grad:
        return View.apply(input, shape)
    if _can_view(input._data, shape):
        return View.apply(input, shape)
    return ReshapeCopy.apply(input, shape)


@tensor_method()
def view(input: Tensor, *shape) -> Tensor:
    """A view with a new shape (or, given a dtype, a reinterpretation of the bytes)."""
    if len(shape) == 1 and isinstance(shape[0], _dtype.dtype):
        return _make(input._data.view(shape[0].np))
    return View.apply(input, _infer_shape(_shape_arg(shape), input._data.size))


@tensor_method()
def view_as(input: Tensor, other: Tensor) -> Tensor:
    return view(input, other._data.shape)


@tensor_method()
def reshape_as(input: Tensor, other: Tensor) -> Tensor:
    return reshape(input, other._data.shape)


@tensor_method()
def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dims ``start_dim..end_dim`` into one."""
    shape = input._data.shape
    if not shape:
        return reshape(input, (1,))
    s, e = wrap_dim(start_dim, len(shape)), wrap_dim(end_dim, len(shape))
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if s == e:
        return input
    n = 1
    for d in shape[s:e + 1]:
        n *= d
    return reshape(input, shape[:s] + (n,) + shape[e + 1:])


class Transpose(Op):
    """Swap two dims; d = swap them back."""

    node_name = "TransposeBackward0"
    _is_view = True

    @staticmethod
    def forward(ctx, x, dim0, dim1):
        ctx.dims = (dim0, dim1)
        return xp.swapaxes(x._data, dim0, dim1)

    @staticmethod
    def backward(ctx, g):
        return g.transpose(*ctx.dims), None, None

    @staticmethod
    def jvp(inputs, out, tangents):
        return Transpose.apply(tangents[0], *inputs[1:])


class TransposeT(Transpose):
    node_name = "TBackward0"


class ViewT(View):
    """``t()`` of a tensor with fewer than 2 dims: the same tensor, as a view."""

    node_name = "TBackward0"


@tensor_method("transpose", "swapaxes", "swapdims")
def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap dims ``dim0`` and ``dim1`` (a view)."""
    return _transpose(input, dim0, dim1, Transpose)


def _transpose(input: Tensor, dim0: int, dim1: int, op) -> Tensor:
    n = input._data.ndim
    return op.apply(input, wrap_dim(dim0, n), wrap_dim(dim1, n))


swapdims = swapaxes = transpose


@tensor_method()
def t(input: Tensor) -> Tensor:
    """Transpose a tensor of at most 2 dims."""
    return _t(input, (TransposeT, ViewT))


def _t(input: Tensor, ops) -> Tensor:
    n = input._data.ndim
    if n > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {n}D")
    return ops[0].apply(input, 0, 1) if n == 2 else ops[1].apply(input, input._data.shape)


class Permute(Op):
    """Reorder dims; d = the inverse permutation."""

    node_name = "PermuteBackward0"
    _is_view = True

    @staticmethod
    def forward(ctx, x, dims):
        ctx.dims = dims
        return xp.transpose(x._data, dims)

    @staticmethod
    def backward(ctx, g):
        inverse = [0] * len(ctx.dims)
        for i, d in enumerate(ctx.dims):
            inverse[d] = i
        return g.permute(inverse), None

    @staticmethod
    def jvp(inputs, out, tangents):
        return Permute.apply(tangents[0], inputs[1])


@tensor_method()
def permute(input: Tensor, *dims) -> Tensor:
    """Reorder the dims (a view)."""
    dims = _shape_arg(dims)
    n = input._data.ndim
    if len(dims) != n:
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does "
                           f"not match the length of the desired ordering of dimensions i.e. "
                           f"input.dim() = {n} is not equal to len(dims) = {len(dims)}")
    dims = tuple(wrap_dim(d, n) for d in dims)
    if len(set(dims)) != n:
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    return Permute.apply(input, dims)


Tensor.T = property(lambda self: permute(self, tuple(range(self.ndim - 1, -1, -1)))
                    if self.ndim > 1 else self)
Tensor.mT = property(lambda self: transpose(self, -2, -1))
# mH and H (conjugate transposes) are attached in complex.py.


class Unsqueeze(Op):
    """Insert a dim of size 1; d = remove it."""

    node_name = "UnsqueezeBackward0"
    _is_view = True

    @staticmethod
    def forward(ctx, x, dim):
        ctx.in_shape = x._data.shape
        return xp.expand_dims(x._data, dim)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.in_shape), None

    @staticmethod
    def jvp(inputs, out, tangents):
        return Unsqueeze.apply(tangents[0], inputs[1])


@tensor_method()
def unsqueeze(input: Tensor, dim: int) -> Tensor:
    """Insert a dim of size 1 at ``dim`` (a view)."""
    return Unsqueeze.apply(input, wrap_dim(dim, input._data.ndim + 1))


class Squeeze(Op):
    """Remove dims of size 1; d = put them back."""

    node_name = "SqueezeBackward0"
    _is_view = True

    @staticmethod
    def forward(ctx, x, dims):
        ctx.in_shape = x._data.shape
        return xp.squeeze(x._data, dims)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.in_shape), None

    @staticmethod
    def jvp(inputs, out, tangents):
        return Squeeze.apply(tangents[0], inputs[1])


class SqueezeDim(Squeeze):
    node_name = "SqueezeBackward1"


class SqueezeDims(Squeeze):
    node_name = "SqueezeBackward2"


@tensor_method()
def squeeze(input: Tensor, dim=None) -> Tensor:
    """Remove dims of size 1 (all, or those in ``dim``, an int or tuple)."""
    return _squeeze(input, dim, (Squeeze, SqueezeDim, SqueezeDims))


def _squeeze(input: Tensor, dim, ops) -> Tensor:
    shape = input._data.shape
    if dim is None:
        return ops[0].apply(input, tuple(i for i, s in enumerate(shape) if s == 1))
    cls = ops[2] if isinstance(dim, (tuple, list)) else ops[1]
    # A 0-d tensor accepts dims -1 and 0 (range checked as for one dim), and squeezes none.
    dims = dims_arg(dim, len(shape)) if shape else (dims_arg(dim, 1) and ())
    return cls.apply(input, tuple(d for d in dims if shape[d] == 1))


class Expand(Op):
    """Broadcast to a larger shape (no copy); d = sum over the broadcast dims."""

    node_name = "ExpandBackward0"
    _is_view = True

    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x._data.shape
        return xp.broadcast_to(x._data, shape)

    @staticmethod
    def backward(ctx, g):
        return sum_to_size(g, ctx.in_shape), None

    @staticmethod
    def jvp(inputs, out, tangents):
        return Expand.apply(tangents[0], inputs[1])


@tensor_method()
def expand(input: Tensor, *sizes) -> Tensor:
    """Broadcast singleton dims to ``sizes`` (-1 keeps a dim) without copying."""
    sizes = _shape_arg(sizes)
    shape = input._data.shape
    if len(sizes) < len(shape):
        kind = input.dtype._legacy_name
        raise RuntimeError(f"expand(ember.{kind}{{[{', '.join(map(str, shape))}]}}, "
                           f"size=[{', '.join(map(str, sizes))}]): the number of sizes provided "
                           f"({len(sizes)}) must be greater or equal to the number of dimensions "
                           f"in the tensor ({len(shape)})")
    lead = len(sizes) - len(shape)
    target = tuple(shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(sizes))
    for i, s in enumerate(shape):
        if s != 1 and s != target[i + lead]:
            raise RuntimeError(f"The expanded size of the tensor ({target[i + lead]}) must match "
                               f"the existing size ({s}) at non-singleton dimension {i + lead}.  "
                               f"Target sizes: [{', '.join(map(str, sizes))}].  Tensor sizes: "
                               f"[{', '.join(map(str, shape))}]")
    if target == shape:
        return input if not input._requires_grad else Expand.apply(input, target)
    return Expand.apply(input, target)


@tensor_method()
def expand_as(input: Tensor, other: Tensor) -> Tensor:
    return expand(input, other._data.shape)


@tensor_method()
def broadcast_to(input: Tensor, size) -> Tensor:
    """``input`` expanded (without copying) to ``size``."""
    return expand(input, tuple(size))


class SumToSize(Op):
    """Sum broadcast dims away to reach ``shape``; d = broadcast the gradient back."""

    node_name = "SumToSizeBackward0"

    @staticmethod
    def forward(ctx, x, shape):
        a = x._data
        ctx.in_shape = a.shape
        lead = a.ndim - len(shape)
        dims = tuple(range(lead)) + tuple(
            i + lead for i, s in enumerate(shape) if s == 1 and a.shape[i + lead] != 1)
        if dims:
            a = a.sum(axis=dims, keepdims=True)
        return a.reshape(shape) if lead else a

    @staticmethod
    def backward(ctx, g):
        return g.expand(ctx.in_shape), None

    @staticmethod
    def jvp(inputs, out, tangents):
        return SumToSize.apply(tangents[0], inputs[1])


@tensor_method()
def sum_to_size(input: Tensor, *size) -> Tensor:
    """Sum ``input`` down to ``size`` (the inverse of broadcasting it up)."""
    shape = _shape_arg(size)
    have = input._data.shape
    lead = len(have) - len(shape)
    if lead < 0 or any(s != 1 and s != have[i + lead] for i, s in enumerate(shape)):
        raise RuntimeError(f"size {{[{', '.join(map(str, shape))}]}} is not expandable to size "
                           f"{{[{', '.join(map(str, have))}]}}.")
    if have == shape:
        return input
    return SumToSize.apply(input, shape)


class Clone(Op):
    """A copy; d = identity."""

    node_name = "CloneBackward0"
    _array_backward = True

    @staticmethod
    def forward(ctx, x, order="K"):
        # order "K" keeps a dense input's layout, like torch's preserve_format (which also
        # decides the order random fills draw in); contiguous() asks for "C".
        return x._data.copy(order=order)

    @staticmethod
    def backward(ctx, g):
        return g

    @staticmethod
    def jvp(inputs, out, tangents):
        return Clone.apply(tangents[0], *inputs[1:])


@tensor_method()
def clone(input: Tensor, *, memory_format=None) -> Tensor:
    """A copy of the data (with the same memory layout) that stays in the graph."""
    return Clone.apply(input)


@tensor_method()
def contiguous(input: Tensor, memory_format=None) -> Tensor:
    """The same tensor if C-contiguous, else a contiguous copy."""
    if input._data.flags.c_contiguous:
        return input
    return Clone.apply(input, "C")


class ToDtype(Op):
    """A conversion to another dtype; d = the gradient converted back."""

    node_name = "ToCopyBackward0"

    @staticmethod
    def forward(ctx, x, np_dtype):
        ctx.in_dtype = x.dtype
        return x._data.astype(np_dtype)

    @staticmethod
    def backward(ctx, g):
        if not ctx.in_dtype.is_floating_point and not ctx.in_dtype.is_complex:
            return None, None
        if g.is_complex() and not ctx.in_dtype.is_complex:
            g = g.real  # a real input of a complex result: the real part (PyTorch's rule)
        return g.to(ctx.in_dtype), None

    @staticmethod
    def jvp(inputs, out, tangents):
        if not (out.is_floating_point() or out.is_complex()):
            return None  # an integral result has no tangent
        return ToDtype.apply(tangents[0], inputs[1])


def _convert(input: Tensor, dt, copy: bool = False) -> Tensor:
    if dt is None or dt is input.dtype:
        return Clone.apply(input) if copy else input
    return ToDtype.apply(input, dt.np)


@tensor_method()
def to(input: Tensor, *args, dtype=None, device=None, copy: bool = False,
       non_blocking: bool = False, memory_format=None) -> Tensor:
    """Convert dtype (and accept ``'cpu'`` devices): ``x.to(ember.float64)``, ``x.to('cpu')``,
    ``x.to(other)``."""
    from .._tensor import device as _device
    for a in args:
        if isinstance(a, _dtype.dtype):
            dtype = a
        elif isinstance(a, Tensor):
            dtype = a.dtype
        elif isinstance(a, (str, _device)):
            device = a
        elif a is not None:
            raise TypeError(f"to() received an invalid combination of arguments - got "
                            f"({type(a).__name__})")
    if device is not None:
        _check_device(device)
    return _convert(input, dtype, copy)


def _check_device(device) -> None:
    from .._tensor import device as _device
    d = _device(device) if not isinstance(device, _device) else device
    if d.type != "cpu":
        raise AssertionError("Torch not compiled with CUDA enabled")


def _caster(dt):
    def cast(self, memory_format=None):
        return _convert(self, dt)
    return cast


for _name, _dt in (("float", _dtype.float32), ("double", _dtype.float64),
                   ("half", _dtype.float16), ("bfloat16", _dtype.bfloat16),
                   ("long", _dtype.int64), ("int", _dtype.int32), ("short", _dtype.int16),
                   ("char", _dtype.int8), ("byte", _dtype.uint8), ("bool", _dtype.bool)):
    setattr(Tensor, _name, _caster(_dt))

Tensor.cpu = lambda self, memory_format=None: self
Tensor.type_as = lambda self, other: _convert(self, other.dtype)


def _cuda(self, device=None, non_blocking=False, memory_format=None):
    raise AssertionError("Torch not compiled with CUDA enabled")


Tensor.cuda = _cuda


# -- more views: movedim, narrow, select, unflatten, broadcasting, atleast_nd, unfold --------
def _dims_list(d) -> tuple:
    return (int(d),) if isinstance(d, int) else tuple(int(i) for i in d)


@tensor_method("movedim", "moveaxis")
def movedim(input: Tensor, source, destination) -> Tensor:
    """Move the dims ``source`` to the positions ``destination`` (a view)."""
    n = input._data.ndim
    src, dst = _dims_list(source), _dims_list(destination)
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source "
                           f"({list(src)} dims) should contain the same number of dims as "
                           f"destination ({list(dst)} dims)")
    for name, ds in (("source", src), ("destination", dst)):
        if len({wrap_dim(d, n) for d in ds}) != len(ds):
            raise RuntimeError(f"movedim: repeated dim in `{name}` ({list(ds)})")
    src, dst = tuple(wrap_dim(d, n) for d in src), tuple(wrap_dim(d, n) for d in dst)
    rest = iter(d for d in range(n) if d not in src)
    placed = dict(zip(dst, src))
    return Permute.apply(input, tuple(placed[i] if i in placed else next(rest) for i in range(n)))


moveaxis = movedim


@tensor_method()
def narrow(input: Tensor, dim: int, start, length: int) -> Tensor:
    """The slice ``start:start + length`` of dim ``dim`` (a view)."""
    from .indexing import SliceIndex
    shape = input._data.shape
    if not shape:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    d = wrap_dim(dim, len(shape))
    start = int(start)
    if start < 0:
        start += shape[d]
    if not 0 <= start <= shape[d] or length < 0 or start + length > shape[d]:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size "
                           f"({shape[d]}).")
    return SliceIndex.apply(input, (slice(None),) * d + (slice(start, start + length),))


@tensor_method()
def select(input: Tensor, dim: int, index: int) -> Tensor:
    """The ``index``-th entry along ``dim``, with that dim removed (a view)."""
    from .indexing import SelectIndex
    shape = input._data.shape
    if not shape:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    d = wrap_dim(dim, len(shape))
    index = int(index)
    if not -shape[d] <= index < shape[d]:
        raise IndexError(f"select(): index {index} out of range for tensor of size "
                         f"[{', '.join(map(str, shape))}] at dimension {d}")
    return SelectIndex.apply(input, (slice(None),) * d + (index,))


@tensor_method()
def unflatten(input: Tensor, dim: int, sizes) -> Tensor:
    """Split dim ``dim`` into ``sizes`` (one may be -1) (a view)."""
    shape = input._data.shape
    d = wrap_dim(dim, len(shape))
    sizes = tuple(int(s) for s in sizes)
    try:
        inner = _infer_shape(sizes, shape[d])
    except RuntimeError:
        raise RuntimeError(f"unflatten: Provided sizes [{', '.join(map(str, sizes))}] don't "
                           f"multiply up to the size of dim {d} ({shape[d]}) in the input "
                           f"tensor") from None
    return View.apply(input, shape[:d] + inner + shape[d + 1:])


@tensor_method()
def ravel(input: Tensor) -> Tensor:
    """The elements as a 1-D tensor (a view when contiguous)."""
    x = input if input._data.flags.c_contiguous else Clone.apply(input, "C")
    return View.apply(x, (x._data.size,))


# -- in-place view ops: change the tensor's shape metadata, not its data ----------------------
def _inplace_view(name: str, compute):
    def method(self, *args):
        from ..autograd.grad_mode import _grad_enabled
        if _grad_enabled.get() and self._requires_grad and self.grad_fn is None:
            raise RuntimeError("a leaf Variable that requires grad is being used in an "
                               "in-place operation.")
        result = compute(self, *args)
        self._data = result._data
        if result._extra and "fw_grad" in result._extra:  # forward AD: the tangent too
            if self._extra is None:
                self._extra = {}
            self._extra["fw_grad"] = result._extra["fw_grad"]
        if result._requires_grad:
            self.grad_fn, self._output_nr = result.grad_fn, result._output_nr
        if self._base is not None and self._extra and result._extra:
            self._extra["view"] = result._extra.get("view")
        self._bump_version()
        return self
    method.__name__ = name + "_"
    method.__doc__ = f"In-place ``{name}`` (changes the shape, not the data)."
    return method


# PyTorch names the in-place forms' nodes apart (TBackward1, SqueezeBackward3, ...).
class TransposeTInplace(TransposeT):
    node_name = "TBackward1"


class ViewTInplace(ViewT):
    node_name = "TBackward1"


class TransposeInplace(Transpose):
    node_name = "TransposeBackward1"


class UnsqueezeInplace(Unsqueeze):
    node_name = "UnsqueezeBackward1"


class SqueezeInplace(Squeeze):
    node_name = "SqueezeBackward3"


class SqueezeDimInplace(Squeeze):
    node_name = "SqueezeBackward4"


class SqueezeDimsInplace(Squeeze):
    node_name = "SqueezeBackward5"


_T1 = (TransposeTInplace, ViewTInplace)
_TRANSPOSE1 = TransposeInplace
_UNSQUEEZE1 = UnsqueezeInplace
_SQUEEZE345 = (SqueezeInplace, SqueezeDimInplace, SqueezeDimsInplace)
Tensor.t_ = _inplace_view("t", lambda x: _t(x, _T1))
Tensor.transpose_ = Tensor.swapaxes_ = Tensor.swapdims_ = _inplace_view(
    "transpose", lambda x, d0, d1: _transpose(x, d0, d1, _TRANSPOSE1))
Tensor.unsqueeze_ = _inplace_view(
    "unsqueeze", lambda x, d: _UNSQUEEZE1.apply(x, wrap_dim(d, x._data.ndim + 1)))
Tensor.squeeze_ = _inplace_view("squeeze", lambda x, dim=None: _squeeze(x, dim, _SQUEEZE345))

from . import strided as _strided  # noqa: E402  (views built on the ones above)

__all__ += _strided.__all__
globals().update({name: getattr(_strided, name) for name in _strided.__all__})
