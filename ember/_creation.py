"""Tensor creation: from data, filled, ranges, and random draws."""

from __future__ import annotations

from . import _dtype
from ._backend import ndarray, xp
from ._dtype import dtype as _DType
from ._dtype import get_default_dtype
from ._tensor import Tensor, _make
from ._tensor import device as _device

__all__ = ["tensor", "as_tensor", "asarray", "from_numpy", "zeros", "ones", "full", "empty",
           "arange", "range", "linspace", "logspace", "eye", "zeros_like", "ones_like",
           "full_like", "empty_like", "rand", "randn", "randint", "randperm", "normal",
           "rand_like", "randn_like", "randint_like", "bernoulli", "multinomial", "scalar_tensor"]

_builtin_range = range


def _check_device(device) -> None:
    if device is not None:
        d = device if isinstance(device, _device) else _device(device)
        if d.type != "cpu":
            raise AssertionError("Torch not compiled with CUDA enabled")


def _finish(data, requires_grad: bool, device=None) -> Tensor:
    _check_device(device)
    t = _make(data)
    if requires_grad:
        if data.dtype.kind not in "fc":
            raise RuntimeError("Only Tensors of floating point and complex dtype can require "
                               "gradients")
        t._requires_grad = True
    return t


def _infer_array(data, dtype: _DType | None):
    """Data from Python sequences, numbers, arrays or tensors, typed as PyTorch would."""
    if isinstance(data, Tensor):
        a = data._data
        return a.astype(dtype.np) if dtype is not None else a.copy()
    if isinstance(data, (ndarray, xp.generic)):
        # NumPy arrays and scalars keep their dtype (torch.tensor(np.float64(1)) is float64).
        return xp.array(data, dtype=dtype.np if dtype is not None else None)
    if isinstance(data, (list, tuple)) and data and _has_tensors(data):
        data = _tensors_to_lists(data)
    a = xp.array(data)
    if dtype is not None:
        return a.astype(dtype.np, copy=False)
    if isinstance(data, (list, tuple)):
        leaves = _leaf_types(data, set())
        if not leaves <= _PY_LEAVES:
            # NumPy scalars or arrays among the leaves: PyTorch promotes the leaves' dtypes
            # (a NumPy one keeps its own, a Python float is the default dtype, ...).
            return a.astype(_promote_leaves(leaves).np, copy=False)
    kind = a.dtype.kind
    if kind == "f":
        return a.astype(get_default_dtype().np, copy=False)
    if kind == "c":
        return a.astype(xp.complex128 if get_default_dtype() is _dtype.float64
                        else xp.complex64, copy=False)
    if kind in "iu":
        return a.astype(xp.int64, copy=False)
    if kind == "b":
        return a
    raise TypeError(f"Could not infer dtype of {type(data).__name__}")


_PY_LEAVES = {float, int, bool, complex}
_SEQUENCES = {list, tuple}


def _leaf_types(seq, out: set) -> set:
    """The types of a nested sequence's leaves into ``out`` (a NumPy array's dtype stands for
    its elements); a level of plain leaves is read with one ``map``, not a Python loop."""
    types = set(map(type, seq))
    if not types & _SEQUENCES:
        out |= {x.dtype for x in seq if isinstance(x, ndarray)} if ndarray in types else types
        out.discard(ndarray)
        return out
    for x in seq:
        if type(x) in _SEQUENCES:
            _leaf_types(x, out)
        else:
            out.add(x.dtype if isinstance(x, ndarray) else type(x))
    return out


def _promote_leaves(leaves: set) -> _DType:
    result = None
    for leaf in leaves:
        if isinstance(leaf, xp.dtype):
            d = _dtype.from_numpy_dtype(leaf)
        elif issubclass(leaf, xp.generic):     # before float: np.float64 subclasses float
            d = _dtype.from_numpy_dtype(xp.dtype(leaf))
        elif leaf in _PY_LEAVES:
            d = _dtype._scalar_dtype(leaf(0))
        else:
            raise TypeError(f"Could not infer dtype of {leaf.__name__}")
        result = d if result is None else _dtype.promote_types(result, d)
    return result


def _has_tensors(seq) -> bool:
    for x in seq:
        if isinstance(x, Tensor) or (isinstance(x, (list, tuple)) and x and _has_tensors(x)):
            return True
    return False


def _tensors_to_lists(seq):
    return [x.tolist() if isinstance(x, Tensor) else
            _tensors_to_lists(x) if isinstance(x, (list, tuple)) else x for x in seq]


def tensor(data, *, dtype: _DType | None = None, device=None, requires_grad: bool = False,
           pin_memory: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (a number, nested sequence, array or tensor).

    Example::

        >>> ember.tensor([1.0, 2.0, 3.0], requires_grad=True)
        tensor([1., 2., 3.], requires_grad=True)
    """
    if type(data) is list and dtype is None and device is None and set(map(type, data)) == _FLOATS:
        # The common literal (a flat list of Python floats): converted straight to the default
        # dtype, one rounding from each double as astype would do, skipping the inference.
        t = _make(xp.array(data, dtype=_dtype._default_float.np))
        t._requires_grad = bool(requires_grad)
        return t
    return _finish(_infer_array(data, dtype), requires_grad, device)


_FLOATS = {float}


def scalar_tensor(s, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    return tensor(s, dtype=dtype or get_default_dtype(), device=device,
                  requires_grad=requires_grad)


def as_tensor(data, dtype: _DType | None = None, device=None) -> Tensor:
    """Like ``tensor`` but shares memory with a tensor or NumPy array when it can."""
    _check_device(device)
    if isinstance(data, Tensor):
        return data if dtype is None or dtype.np == data._data.dtype else data.to(dtype)
    if isinstance(data, ndarray) and (dtype is None or dtype.np == data.dtype):
        _dtype.from_numpy_dtype(data.dtype)
        return _make(data)
    return tensor(data, dtype=dtype)


def asarray(obj, *, dtype=None, device=None, copy=None, requires_grad=False) -> Tensor:
    t = tensor(obj, dtype=dtype) if copy else as_tensor(obj, dtype=dtype, device=device)
    if requires_grad:
        t.requires_grad_()
    return t


def from_numpy(array) -> Tensor:
    """A tensor sharing memory with a NumPy array (writes show through both ways)."""
    if not isinstance(array, ndarray):
        raise TypeError(f"expected np.ndarray (got {type(array).__name__})")
    _dtype.from_numpy_dtype(array.dtype)
    return _make(array)


def _size(size, op: str | None = None) -> tuple:
    if len(size) == 1 and not isinstance(size[0], int):
        size = size[0]
    size = tuple(int(s) for s in size)
    _check_size(size, op)
    return size


def _check_size(size: tuple, op: str | None = None) -> None:
    """PyTorch's RuntimeError for a negative dimension (``zeros`` words it its own way)."""
    for s in size:
        if s < 0:
            if op == "zeros":
                raise RuntimeError("zeros: Dimension size must be non-negative.")
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: "
                               f"{list(size)}")


def _filled(fill, size, dtype, requires_grad, device, out=None, op=None) -> Tensor:
    dt = (dtype or get_default_dtype()).np
    size = _size(size, op)
    data = xp.full(size, fill, dtype=dt) if fill is not None else xp.empty(size, dtype=dt)
    if out is not None:
        out._data = data
        return out
    return _finish(data, requires_grad, device)


def zeros(*size, dtype=None, device=None, requires_grad=False, out=None, layout=None,
          pin_memory=False) -> Tensor:
    """A tensor of zeros of the given size."""
    return _filled(0, size, dtype, requires_grad, device, out, op="zeros")


def ones(*size, dtype=None, device=None, requires_grad=False, out=None, layout=None,
         pin_memory=False) -> Tensor:
    """A tensor of ones of the given size."""
    return _filled(1, size, dtype, requires_grad, device, out)


def empty(*size, dtype=None, device=None, requires_grad=False, out=None, layout=None,
          pin_memory=False, memory_format=None) -> Tensor:
    """An uninitialised tensor (ember fills it with zeros, which is one valid outcome)."""
    return _filled(0, size, dtype, requires_grad, device, out)


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False, out=None,
         layout=None, pin_memory=False) -> Tensor:
    """A tensor filled with ``fill_value``; its dtype follows the value's type."""
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    if dtype is None:
        dtype = _dtype.result_type(fill_value)
    return _filled(fill_value, (size,) if isinstance(size, int) else size, dtype,
                   requires_grad, device, out)


def _like(fill, input: Tensor, dtype, requires_grad, device, batch_first=False) -> Tensor:
    # order="K": a dense input's memory layout is kept (torch's preserve_format), which also
    # decides the order random fills draw in.
    dt = dtype or input.dtype
    a = input._data
    if type(a) is not ndarray:  # a batched tensor inside vmap: the result is batched too,
        # laid out like the batch, or with ``batch_first`` C-contiguous batch dims first
        # (how PyTorch's vmap rule for dropout lays out the mask it draws).
        return a.batched_like(lambda p: _finish(
            xp.full(p.shape, fill, dtype=dt.np) if batch_first
            else xp.full_like(p, fill, dtype=dt.np), requires_grad, device))
    return _finish(xp.full_like(a, fill, dtype=dt.np), requires_grad, device)


def zeros_like(input, *, dtype=None, device=None, requires_grad=False, layout=None,
               memory_format=None) -> Tensor:
    return _like(0, input, dtype, requires_grad, device)


def ones_like(input, *, dtype=None, device=None, requires_grad=False, layout=None,
              memory_format=None) -> Tensor:
    return _like(1, input, dtype, requires_grad, device)


def empty_like(input, *, dtype=None, device=None, requires_grad=False, layout=None,
               memory_format=None) -> Tensor:
    return _like(0, input, dtype, requires_grad, device)


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False, layout=None,
              memory_format=None) -> Tensor:
    return _like(fill_value, input, dtype, requires_grad, device)


def _number(x):
    return x.item() if isinstance(x, Tensor) else x


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False,
           out=None, layout=None) -> Tensor:
    """Values from ``start`` to ``end`` (exclusive) by ``step``; int64 if all are ints."""
    start, end, step = _number(start), _number(end), _number(step)
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError("upper bound and larger bound inconsistent with step sign")
    if dtype is None:
        dtype = _dtype.int64 if all(isinstance(v, int) for v in (start, end, step)) \
            else get_default_dtype()
    import math
    n = max(0, math.ceil((end - start) / step))
    # Computed as start + i*step (in double), like PyTorch, not by repeated addition.
    data = (start + xp.arange(n, dtype=xp.float64) * step) if dtype.is_floating_point \
        else xp.arange(start, end, step)
    return _filled_from(data.astype(dtype.np), requires_grad, device, out)


def _filled_from(data, requires_grad, device, out):
    if out is not None:
        out._data = data
        return out
    return _finish(data, requires_grad, device)


def range(start=0, end=None, step=1, *, dtype=None, device=None, requires_grad=False):  # noqa: A001
    """Deprecated in PyTorch: like arange but including ``end``, float by default."""
    if end is None:
        start, end = 0, start
    n = int((end - start) // step) + 1
    dt = dtype or get_default_dtype()
    return _finish((start + xp.arange(n) * step).astype(dt.np), requires_grad, device)


def linspace(start, end, steps: int, *, dtype=None, device=None, requires_grad=False,
             out=None, layout=None) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive."""
    start, end = _number(start), _number(end)
    dt = dtype or get_default_dtype()
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    if dt.name == "bool":
        raise NotImplementedError("\"linspace_cpu\" not implemented for 'Bool'")
    # PyTorch fills the first half from start and the second half from end (symmetric
    # rounding); reproduce that so values match bit for bit.
    step = (end - start) / (steps - 1) if steps > 1 else 0.0
    i = xp.arange(steps, dtype=xp.float64)
    half = steps // 2
    data = xp.where(i < half, start + step * i, end - step * (steps - 1 - i))
    if steps == 1:
        data = xp.asarray([start], dtype=xp.float64)
    return _filled_from(data.astype(dt.np), requires_grad, device, out)


def logspace(start, end, steps: int, base: float = 10.0, *, dtype=None, device=None,
             requires_grad=False) -> Tensor:
    dt = dtype or get_default_dtype()
    exps = linspace(start, end, steps, dtype=_dtype.float64)._data
    return _finish(xp.power(base, exps).astype(dt.np), requires_grad, device)


def eye(n: int, m: int | None = None, *, dtype=None, device=None, requires_grad=False,
        out=None, layout=None) -> Tensor:
    """The identity matrix (n x m)."""
    dt = dtype or get_default_dtype()
    return _filled_from(xp.eye(n, m, dtype=dt.np), requires_grad, device, out)


# -- random draws (streams identical to PyTorch's CPU generator) -----------------------------
def _gen(generator):
    from ._random import default_generator
    return generator if generator is not None else default_generator


#: Set by ``vmap`` while it runs (``ember/func/_batching.py``): ``hook(draw, size)`` gives the
#: batched result of a random factory (``randomness='different'``: one draw with the batch
#: dims in front, as PyTorch's vmap does), or None for a plain draw.
batched_random = [None]


def _draw(draw, size: tuple, generator, requires_grad: bool, device, out) -> Tensor:
    """``draw(shape)`` (an array of samples) as the factory's result."""
    hook = batched_random[0]
    if hook is not None and generator is None and out is None and not requires_grad:
        result = hook(lambda shape: _finish(draw(shape), False, device), size)
        if result is not None:
            return result
    return _filled_from(draw(size), requires_grad, device, out)


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False, out=None,
         layout=None, pin_memory=False) -> Tensor:
    """Uniform samples in [0, 1)."""
    dt, g = dtype or get_default_dtype(), _gen(generator)
    return _draw(lambda shape: g.uniform(shape, dt, 0.0, 1.0), _size(size), generator,
                 requires_grad, device, out)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False, out=None,
          layout=None, pin_memory=False) -> Tensor:
    """Standard normal samples."""
    dt, g = dtype or get_default_dtype(), _gen(generator)
    return _draw(lambda shape: g.normal(shape, dt, 0.0, 1.0), _size(size), generator,
                 requires_grad, device, out)


def randint(*args, size=None, generator=None, dtype=None, device=None, requires_grad=False,
            out=None, layout=None, pin_memory=False) -> Tensor:
    """Integers uniform in [low, high): ``randint(high, size)`` or ``randint(low, high,
    size)``."""
    args = list(args)
    if size is None:
        size = args.pop()
    low, high = (0, args[0]) if len(args) == 1 else args
    dt, g = dtype or _dtype.int64, _gen(generator)
    return _draw(lambda shape: g.integers(int(low), int(high), shape, dt), _size((size,)),
                 generator, requires_grad, device, out)


def randperm(n: int, *, generator=None, dtype=None, device=None, requires_grad=False,
             out=None, layout=None, pin_memory=False) -> Tensor:
    """A random permutation of 0..n-1."""
    dt = dtype or _dtype.int64
    _check_size((int(n),))
    return _filled_from(_gen(generator).permutation(int(n), dt), requires_grad, device, out)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, out=None,
           device=None, requires_grad=False) -> Tensor:
    """Normal samples; ``mean``/``std`` may be tensors (broadcast) or numbers."""
    g = _gen(generator)
    if isinstance(mean, Tensor) or isinstance(std, Tensor):
        from ._ops.shape import broadcast_to  # noqa: F401 - shape only
        m = mean._data if isinstance(mean, Tensor) else xp.asarray(mean)
        s = std._data if isinstance(std, Tensor) else xp.asarray(std)
        shape = xp.broadcast_shapes(m.shape, s.shape)
        dt = (mean if isinstance(mean, Tensor) else std).dtype
        z = g.normal(shape, dt, 0.0, 1.0)
        return _filled_from((z * s + m).astype(dt.np), requires_grad, device, out)
    dt = dtype or get_default_dtype()
    return _draw(lambda shape: g.normal(shape, dt, mean, std),
                 _size((size,)) if size is not None else (), generator, requires_grad, device,
                 out)


def rand_like(input, *, dtype=None, generator=None, requires_grad=False, device=None,
              layout=None, memory_format=None) -> Tensor:
    """Uniform samples in [0, 1), shaped (and laid out) like ``input``."""
    out = _uniform_(_like(0, input, dtype, False, device), generator=generator)
    return out.requires_grad_() if requires_grad else out


def randn_like(input, *, dtype=None, generator=None, requires_grad=False, device=None,
               layout=None, memory_format=None) -> Tensor:
    """Standard normal samples, shaped (and laid out) like ``input``."""
    out = _normal_(_like(0, input, dtype, False, device), generator=generator)
    return out.requires_grad_() if requires_grad else out


def randint_like(input, low=0, high=None, *, dtype=None, generator=None, requires_grad=False,
                 device=None, layout=None, memory_format=None) -> Tensor:
    """Random integers in [low, high), shaped (and laid out) like ``input``."""
    if high is None:
        low, high = 0, low
    return _random_(_like(0, input, dtype, False, device), low, high, generator=generator)


def bernoulli(input, p=None, *, generator=None, out=None) -> Tensor:
    """Bernoulli draws with probabilities ``input`` (or ``p``)."""
    probs = input._data if p is None else p
    return _filled_from(_gen(generator).bernoulli(probs, input._data.shape, input.dtype),
                        False, None, out)


def multinomial(input, num_samples: int, replacement: bool = False, *, generator=None,
                out=None) -> Tensor:
    """Indices drawn from the categorical distributions in the rows of ``input``."""
    return _filled_from(_gen(generator).multinomial(input._data, num_samples, replacement),
                        False, None, out)


# -- Tensor methods: new_* constructors and in-place samplers ---------------------------------
def _new_method(fn):
    def method(self, *size, dtype=None, device=None, requires_grad=False, **kw):
        return fn(*size, dtype=dtype or self.dtype, device=device, requires_grad=requires_grad,
                  **kw)
    return method


Tensor.new_zeros = _new_method(zeros)
Tensor.new_ones = _new_method(ones)
Tensor.new_empty = _new_method(empty)
Tensor.new_full = lambda self, size, fill_value, *, dtype=None, device=None, \
    requires_grad=False: full(size, fill_value, dtype=dtype or self.dtype,
                              requires_grad=requires_grad)
Tensor.new_tensor = lambda self, data, *, dtype=None, device=None, requires_grad=False: \
    tensor(data, dtype=dtype or self.dtype, requires_grad=requires_grad)


def _memory_order(a) -> list | None:
    """The axes of ``a`` from largest to smallest stride (the order PyTorch fills a tensor
    in), or None when that is the logical order."""
    if a.flags.c_contiguous or a.ndim < 2:
        return None
    return sorted(_builtin_range(a.ndim), key=lambda i: (a.shape[i] != 1) * -abs(a.strides[i]))


def _fill(self: Tensor, node_name: str, draw, *args, non_contiguous_draw=None) -> Tensor:
    """Fill ``self`` in place with ``draw(shape, *args)``, drawing in memory order as PyTorch
    does, so a transposed or permuted tensor gets PyTorch's numbers at PyTorch's places."""
    from .autograd.grad_mode import _grad_enabled
    if self._requires_grad and self.grad_fn is None and _grad_enabled.get():
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                           "operation.")
    a = self._data
    if type(a) is not ndarray:  # a batched tensor inside vmap: see its fill_batched
        return a.fill_batched(lambda p: _fill(p, node_name, draw, *args,
                                              non_contiguous_draw=non_contiguous_draw))
    order = _memory_order(a)
    if order is None:
        values = draw(a.shape, *args)
    else:
        shape = tuple(a.shape[i] for i in order)
        args = tuple(xp.broadcast_to(x, a.shape).transpose(order) if isinstance(x, ndarray)
                     else x for x in args)
        values = (non_contiguous_draw or draw)(shape, *args).transpose(xp.argsort(order))
    if self._requires_grad and _grad_enabled.get() or self._extra and "fw_grad" in self._extra:
        # A non-leaf (or a dual tensor) overwritten with samples: its old values get a zero
        # gradient (tangent).
        from ._ops.inplace import overwrite_
        return overwrite_(self, values, node_name)
    xp.copyto(a, values, casting="unsafe")
    self._bump_version()
    return self


def _uniform_(self, from_=0.0, to=1.0, *, generator=None):
    """Fill with uniform samples in [from_, to)."""
    g, dt = _gen(generator), self.dtype
    return _fill(self, "UniformBackward0", lambda shape: g.uniform(shape, dt, from_, to))


def _normal_(self, mean=0.0, std=1.0, *, generator=None):
    """Fill with normal samples."""
    g, dt = _gen(generator), self.dtype
    # PyTorch draws a non-contiguous target one element at a time (its scalar path).
    return _fill(self, "NormalBackward0", lambda shape: g.normal(shape, dt, mean, std),
                 non_contiguous_draw=lambda shape: g.normal(shape, dt, mean, std,
                                                            contiguous=False))


def _random_(self, from_=None, to=None, *, generator=None):
    """Fill with random integers in [from_, to) (or the dtype's full range)."""
    g, dt = _gen(generator), self.dtype
    if from_ is None and to is None:
        return _fill(self, "RandomBackward2", lambda shape: g.random_full(shape, dt))
    name = "RandomBackward1" if to is None else "RandomBackward0"
    if to is None:
        from_, to = 0, from_
    return _fill(self, name, lambda shape: g.integers(int(from_), int(to), shape, dt))


def _bernoulli_(self, p=0.5, *, generator=None):
    """Fill with 0/1 draws that are 1 with probability ``p`` (a number or a tensor)."""
    g, dt = _gen(generator), self.dtype
    probs = p._data if isinstance(p, Tensor) else p
    return _fill(self, "BernoulliBackward1" if isinstance(p, Tensor) else "BernoulliBackward2",
                 lambda shape, q: g.bernoulli(q, shape, dt), probs)


def _exponential_(self, lambd=1.0, *, generator=None):
    """Fill with exponential samples of rate ``lambd``."""
    g, dt = _gen(generator), self.dtype
    return _fill(self, "ExponentialBackward0", lambda shape: g.exponential(shape, dt, lambd))


Tensor.uniform_ = _uniform_
Tensor.normal_ = _normal_
Tensor.random_ = _random_
Tensor.bernoulli_ = _bernoulli_
Tensor.exponential_ = _exponential_
Tensor.bernoulli = lambda self, p=None, *, generator=None: bernoulli(self, p,
                                                                    generator=generator)
Tensor.multinomial = multinomial
