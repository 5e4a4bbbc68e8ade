"""The Tensor: an array, plus what autograd needs to know about it.

Ops (``ember/_ops``) attach their methods and operators to this class when they are
imported; this file holds only the data structure, its properties and conversions.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

from . import _dtype
from ._backend import ndarray, xp
from ._dtype import _FROM_NP
from ._dtype import dtype as _DType

__all__ = ["Tensor", "Size", "device"]

_new = object.__new__


class Size(tuple):
    """A tensor's shape: a tuple of ints (``x.shape == (2, 3)``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"ember.Size([{', '.join(map(str, self))}])"

    def numel(self) -> int:
        n = 1
        for s in self:
            n *= s
        return n

    def __getitem__(self, key):
        out = tuple.__getitem__(self, key)
        return Size(out) if isinstance(key, slice) else out

    def __add__(self, other):
        return Size(tuple.__add__(self, tuple(other)))


class device:
    """Where a tensor lives. ember computes on the CPU; ``device('cpu')`` is accepted."""

    __slots__ = ("type", "index")

    def __init__(self, type: str | device = "cpu", index: int | None = None):  # noqa: A002
        if isinstance(type, device):
            type, index = type.type, type.index
        name, _, idx = str(type).partition(":")
        if name not in ("cpu", "cuda", "mps", "meta"):
            raise RuntimeError(f"Expected one of cpu, cuda, mps device type at start of device "
                               f"string: {type}")
        self.type = name
        self.index = int(idx) if idx else index

    def __repr__(self) -> str:
        idx = "" if self.index is None else f", index={self.index}"
        return f"device(type='{self.type}'{idx})"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))


_CPU = device("cpu")


class Tensor:
    """A multi-dimensional array that can record the operations applied to it.

    ``_data`` is the backing array (a NumPy ndarray, or the active backend's array type).
    Leaves created by the user have ``grad_fn is None``; results of recorded operations
    point at the graph node (``grad_fn``) that made them.
    """

    __slots__ = ("_data", "_requires_grad", "grad_fn", "_grad", "_output_nr", "_vc", "_base",
                 "_acc", "_extra", "__weakref__")

    # ``__array_priority__`` makes ``ndarray * Tensor`` defer to Tensor.__rmul__.
    __array_priority__ = 1000

    def __new__(cls, *args, **kwargs):
        # PyTorch's legacy constructor: Tensor(data) or Tensor(*sizes), float32 by default.
        dt = _dtype.get_default_dtype()
        if len(args) == 1 and not isinstance(args[0], int):
            data = args[0]
            data = data._data if isinstance(data, Tensor) else xp.asarray(data, dtype=dt.np)
        else:
            data = xp.empty(tuple(args[0]) if len(args) == 1 and not isinstance(args[0], int)
                            else args, dtype=dt.np)
        t = _new(cls)
        _init(t, data, False)
        return t

    # -- identity -------------------------------------------------------------------------
    __hash__ = object.__hash__

    @property
    def dtype(self) -> _DType:
        return _FROM_NP[self._data.dtype]

    @property
    def shape(self) -> Size:
        return Size(self._data.shape)

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def device(self) -> device:
        return _CPU

    is_cuda = False
    is_sparse = False
    is_quantized = False
    is_meta = False
    layout = "strided"

    def size(self, dim: int | None = None):
        """The shape, or the size of one dimension."""
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[_wrap_dim(dim, self._data.ndim)]

    def dim(self) -> int:
        return self._data.ndim

    ndimension = dim

    def numel(self) -> int:
        return self._data.size

    nelement = numel

    def element_size(self) -> int:
        return self._data.itemsize

    def stride(self, dim: int | None = None):
        st = tuple(s // self._data.itemsize for s in self._data.strides)
        return st if dim is None else st[_wrap_dim(dim, self._data.ndim)]

    def is_contiguous(self, memory_format=None) -> bool:
        return self._data.flags.c_contiguous

    def is_floating_point(self) -> bool:
        return self._data.dtype.kind == "f"

    def is_complex(self) -> bool:
        return self._data.dtype.kind == "c"

    def data_ptr(self) -> int:
        return self._data.ctypes.data

    def get_device(self) -> int:
        return -1

    # -- storage facts and legacy helpers scripts touch (torch's CPU-build answers) ----------
    is_cpu = True

    @property
    def nbytes(self) -> int:
        """Bytes of the elements (``numel() * element_size()``)."""
        return self._data.nbytes

    @property
    def itemsize(self) -> int:
        """Bytes per element."""
        return self._data.itemsize

    def storage_offset(self) -> int:
        """Where this view starts in its storage, in elements."""
        root = self._data
        while isinstance(root.base, ndarray):
            root = root.base
        return (self._data.ctypes.data - root.ctypes.data) // self._data.itemsize

    def new(self, *args, device=None) -> Tensor:
        """Legacy constructor with this tensor's dtype: ``x.new(2, 3)`` (uninitialised),
        ``x.new([1, 2])`` (data), ``x.new()`` (empty)."""
        from ._creation import _check_device
        _check_device(device)
        dt = self._data.dtype
        if len(args) == 1 and not isinstance(args[0], int):
            data = args[0]
            if isinstance(data, Tensor):
                if data._data.dtype != dt:
                    raise TypeError(f"expected {self.dtype} (got {data.dtype})")
                return data.detach()
            return _make(xp.asarray(data, dtype=dt) if not isinstance(data, Size)
                         else xp.empty(tuple(data), dtype=dt))
        if not args:
            return _make(xp.empty((0,), dtype=dt))
        return _make(xp.empty(args, dtype=dt))

    def pin_memory(self, device=None) -> Tensor:
        raise RuntimeError("Cannot access accelerator device when none is available.")

    def is_pinned(self, device=None) -> bool:
        return False

    def share_memory_(self) -> Tensor:
        """Move the data into shared memory (in place), so processes this tensor is sent to
        see the same values (``ember.multiprocessing``)."""
        from .multiprocessing._shared import share_array
        self._data = share_array(self._data)
        return self

    def is_shared(self) -> bool:
        from .multiprocessing._shared import is_shared
        return is_shared(self._data)

    def register_post_accumulate_grad_hook(self, hook) -> Any:
        """Run ``hook(tensor)`` after ``backward()`` has accumulated this leaf's ``.grad``.
        Returns a handle whose ``remove()`` unregisters it."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require "
                               "gradient")
        if self.grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf "
                               "tensors")
        import weakref

        from .autograd.function import _accumulator
        ref = weakref.ref(self)  # the sink already holds its leaf weakly: no cycle

        def after_accumulate(grad_inputs, grad_outputs) -> None:
            leaf = ref()
            if leaf is not None and hook(leaf) is not None:
                raise RuntimeError("Tensor post accumulate grad hooks should return None.")
        return _accumulator(self).register_hook(after_accumulate)

    # -- autograd state -------------------------------------------------------------------
    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        if self.grad_fn is not None:
            raise RuntimeError(
                "you can only change requires_grad flags of leaf variables. If you want to use "
                "a computed variable in a subgraph that doesn't require differentiation use "
                "var_no_grad = var.detach().")
        if flag and self._data.dtype.kind not in "fc":
            raise RuntimeError("only Tensors of floating point and complex dtype can require "
                               "gradients")
        self._requires_grad = bool(flag)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` in place (leaves only) and return self."""
        if requires_grad and self._data.dtype.kind not in "fc":
            # PyTorch's message differs by path: this one for requires_grad_().
            raise RuntimeError("only Tensors of floating point dtype can require gradients")
        self.requires_grad = requires_grad
        return self

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def grad(self) -> Tensor | None:
        if self.grad_fn is not None and not self.retains_grad:
            warnings.warn(
                "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. "
                "Its .grad attribute won't be populated during autograd.backward(). If you "
                "indeed want the .grad field to be populated for a non-leaf Tensor, use "
                ".retain_grad() on the non-leaf Tensor. If you access the non-leaf Tensor by "
                "mistake, make sure you access the leaf Tensor instead.", UserWarning,
                stacklevel=2)
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got grad "
                                f"of type {type(value).__name__}")
            if value._data.shape != self._data.shape:
                raise RuntimeError("assigned grad has data of a different size")
            if value._data.dtype != self._data.dtype:
                raise RuntimeError("assigned grad has data of a different type")
        self._grad = value

    @grad.deleter
    def grad(self) -> None:
        self._grad = None

    @property
    def retains_grad(self) -> bool:
        return bool(self._extra and self._extra.get("retains_grad"))

    @property
    def _version(self) -> int:
        return self._vc[0] if self._vc else 0

    def _bump_version(self) -> None:
        if self._vc is None:
            self._vc = [1]
        else:
            self._vc[0] += 1

    def _is_view(self) -> bool:
        """Whether this tensor is a view of another (PyTorch's private method, used in the
        wild)."""
        return self._base is not None

    @property
    def data(self) -> Tensor:
        """The same storage without autograd history (and with its own version counter)."""
        return _make(self._data)

    @data.setter
    def data(self, value: Tensor) -> None:
        self._data = value._data if isinstance(value, Tensor) else xp.asarray(value)

    def detach(self) -> Tensor:
        """A new leaf sharing this tensor's storage, cut off from the graph."""
        t = _make(self._data)
        if self._vc is None:
            self._vc = [0]
        t._vc = self._vc
        return t

    def detach_(self) -> Tensor:
        """Detach in place: make this tensor a leaf that does not require grad."""
        if self._base is not None and self._base._requires_grad:
            raise RuntimeError("Can't detach views in-place. Use detach() instead.")
        self.grad_fn = None
        self._requires_grad = False
        return self

    def retain_grad(self) -> None:
        """Populate ``.grad`` for this non-leaf tensor during backward."""
        if not self._requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.grad_fn is None or self.retains_grad:
            return
        import weakref
        ref = weakref.ref(self)
        self._set_extra("retains_grad", True)
        self.grad_fn._add_retain_hook(self._output_nr, ref)

    def register_hook(self, hook) -> Any:
        """Run ``hook(grad)`` when this tensor's gradient is computed; it may return a
        replacement gradient. Returns a handle whose ``remove()`` unregisters it."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require "
                               "gradient")
        from .autograd.function import _RemovableHandle
        if self.grad_fn is not None:
            return self.grad_fn._add_tensor_hook(self._output_nr, hook)
        hooks = self._extra.setdefault("hooks", {}) if self._extra else None
        if hooks is None:
            self._set_extra("hooks", {})
            hooks = self._extra["hooks"]
        return _RemovableHandle(hooks, hook)

    def _set_extra(self, key: str, value) -> None:
        if self._extra is None:
            self._extra = {}
        self._extra[key] = value

    def backward(self, gradient: Tensor | None = None, retain_graph: bool | None = None,
                 create_graph: bool = False, inputs=None) -> None:
        """Compute the gradient of this tensor w.r.t. the graph leaves (into their ``.grad``)."""
        if inputs is None and gradient is None:
            # The common ``loss.backward()``: straight to the engine.
            if retain_graph is None:
                retain_graph = create_graph
            _engine().run_backward((self,), (None,), retain_graph, create_graph)
            return
        _engine().backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    # -- conversions ------------------------------------------------------------------------
    def numpy(self, *, force: bool = False):
        """The backing NumPy array (shared memory)."""
        if self._requires_grad and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use "
                               "tensor.detach().numpy() instead.")
        return self._data

    def __array__(self, dtype=None, copy=None):
        if dtype is not None and dtype != self._data.dtype:
            return self._data.astype(dtype)
        return self._data.copy() if copy else self._data

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted "
                               "to Scalar")
        return self._data.item() if self._data.ndim == 0 else self._data.reshape(()).item()

    def tolist(self):
        return self._data.tolist()

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        if not self._requires_grad:
            return iter([_make(row) for row in self._data])
        return iter([self[i] for i in range(self._data.shape[0])])

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
        return bool(self._data.reshape(()))

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __complex__(self) -> complex:
        return complex(self.item())

    def __index__(self) -> int:
        if self._data.size != 1 or self._data.dtype.kind not in "iub":
            raise TypeError("only integer tensors of a single element can be converted to an "
                            "index")
        return int(self._data.reshape(()))

    def __format__(self, spec: str) -> str:
        if self._data.ndim == 0:
            return format(self.item(), spec)
        return format(repr(self), spec)

    def __repr__(self) -> str:
        from ._printing import tensor_repr
        return tensor_repr(self)

    __str__ = __repr__

    def __reduce_ex__(self, protocol):
        return (_rebuild, (self._data, self._requires_grad))

    def __deepcopy__(self, memo):
        if self.grad_fn is not None:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) "
                               "support the deepcopy protocol at the moment.  If you were "
                               "attempting to deepcopy a module, this may be because of a "
                               "torch.nn.utils.weight_norm usage, see "
                               "https://github.com/pytorch/pytorch/pull/103001")
        if id(self) in memo:
            return memo[id(self)]
        new = _new(type(self))
        _init(new, self._data.copy(), self._requires_grad)
        if self._grad is not None:
            new._grad = self._grad.__deepcopy__(memo)
        memo[id(self)] = new
        return new

    def type(self, dtype=None, non_blocking: bool = False):
        """The legacy type name (``'ember.FloatTensor'``), or a conversion to ``dtype`` (a
        dtype, a legacy type like ``ember.LongTensor``, or its name)."""
        if dtype is None:
            return f"ember.{self.dtype._legacy_name}"
        from ._legacy import legacy_dtype
        return self.to(legacy_dtype(dtype) or dtype)


def _engine():
    from .autograd import engine
    return engine


def _init(t: Tensor, data, requires_grad: bool) -> None:
    t._data = data
    t._requires_grad = requires_grad
    t.grad_fn = None
    t._grad = None
    t._output_nr = 0
    t._vc = None
    t._base = None
    t._acc = None
    t._extra = None


def _make(data, requires_grad: bool = False, grad_fn=None) -> Tensor:
    """Wrap an array in a Tensor without copying (the internal constructor).

    Every op's output goes through here, so the slot assignments of ``_init`` are written
    out inline rather than called (a function call is a measurable share of a small op)."""
    if type(data) is not ndarray:
        data = xp.asarray(data)
    t = _new(Tensor)
    t._data = data
    t._requires_grad = requires_grad
    t.grad_fn = grad_fn
    t._grad = None
    t._output_nr = 0
    t._vc = None
    t._base = None
    t._acc = None
    t._extra = None
    return t


def _rebuild(data, requires_grad):
    t = _make(data)
    t._requires_grad = requires_grad
    return t


def _wrap_dim(dim: int, ndim: int) -> int:
    """Normalise a possibly negative dim, raising PyTorch's IndexError when out of range."""
    n = ndim if ndim else 1
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                         f"but got {dim})")
    return dim + n if dim < 0 else dim
