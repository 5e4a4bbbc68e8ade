"""``vmap``: map a function over a dimension of its inputs.

Each mapped input becomes a ``BatchedTensor`` (``_batching``) with the mapped dim in front,
and every op the function runs sees the whole batch at once through its batching rule
(``_batch_rules``, ``_batch_nn``). An op without a rule runs once per sample, and a function
that reads a batched tensor's values outside an op runs whole once per sample; both with
PyTorch's performance warning. The argument checks, ``randomness`` modes, ``chunk_size``
and errors are PyTorch's.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable
from typing import Any

from .._tensor import Tensor
from . import _batching
from ._batching import Unbatchable, is_batched_at, performance_warning, wrap
from ._pytree import broadcast_prefix, tree_flatten, tree_unflatten

__all__ = ["vmap"]

_RANDOMNESS = ("error", "different", "same")


def _name(func) -> str:
    return getattr(func, "__name__", repr(func))


def _is_dims(d) -> bool:
    if d is None or (isinstance(d, int) and not isinstance(d, bool)):
        return True
    if isinstance(d, (tuple, list)):
        return all(_is_dims(x) for x in d)
    if isinstance(d, dict):
        return all(_is_dims(x) for x in d.values())
    return False


def _rng_fingerprint():
    """Something that changes whenever the default generator draws: the raw MT19937 state
    (key and position) read from memory (~1 us; the ``state`` property copies it through
    Python, ~300 us), and the Box-Muller caches."""
    from .._random import default_generator as g
    addr = g._mt.ctypes.state_address
    return ctypes.string_at(addr, 625 * 4 + 4), id(g._normal), id(g._normal_f)


def _flat_in_dims(in_dims, args: tuple, name: str) -> tuple[list, list, Any]:
    if not (isinstance(in_dims, int) and not isinstance(in_dims, bool)
            or isinstance(in_dims, tuple)):
        raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): expected `in_dims` "
                         "to be int or a (potentially nested) tuple matching the structure of "
                         f"inputs, got: {type(in_dims)}.")
    if not args:
        raise ValueError(f"vmap({name})(<inputs>): got no inputs. Maybe you forgot to add "
                         "inputs, or you are trying to vmap over a function with no inputs. "
                         "The latter is unsupported.")
    leaves, spec = tree_flatten(args)
    dims = broadcast_prefix(in_dims, args, spec)
    if dims is None:
        in_spec = tree_flatten(in_dims)[1]
        raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): in_dims is not "
                         "compatible with the structure of `inputs`. in_dims has structure "
                         f"{in_spec} but inputs has structure {spec}.")
    out = []
    for x, d in zip(leaves, dims):
        if d is not None and not (isinstance(d, int) and not isinstance(d, bool)):
            raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): in_dims must "
                             f"be int or None, got {type(d)}")
        if d is None:
            out.append(None)
            continue
        if not isinstance(x, Tensor):
            raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): Got in_dim={d} "
                             f"for an input but the input is of type {type(x)}. We cannot vmap "
                             "over non-Tensor arguments, please use None as the respective "
                             "in_dim")
        n = x.dim()
        if not -n <= d < n:
            raise ValueError(f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): Got in_dim={d} "
                             "for some input, but that input is a Tensor of dimensionality "
                             f"{n} so expected in_dim to satisfy -{n} <= in_dim < {n}.")
        out.append(d % n)
    return leaves, out, spec


def _batch_size(leaves: list, dims: list) -> int:
    sizes = [x.shape[d] for x, d in zip(leaves, dims) if d is not None]
    if not sizes:
        raise ValueError("vmap: Expected at least one Tensor to vmap over")
    if any(s != sizes[0] for s in sizes):
        raise ValueError("vmap: Expected all tensors to have the same size in the mapped "
                         f"dimension, got sizes {sizes} for the mapped dimension")
    return sizes[0]


def vmap(func: Callable, in_dims: int | tuple = 0, out_dims: int | tuple = 0,
         randomness: str = "error", *, chunk_size: int | None = None) -> Callable:
    """Vectorise ``func`` over dimension ``in_dims`` of its inputs (a pytree prefix of the
    positional arguments; ``None`` leaves an input unbatched) and put the mapped dimension of
    each output at ``out_dims``. Keyword arguments are passed through unbatched.

    ``randomness``: ``'error'`` (random ops inside raise), ``'different'`` (each sample
    draws its own numbers) or ``'same'`` (every sample draws the same numbers).

    Example (per-sample gradients)::

        >>> per_sample = ember.func.vmap(ember.func.grad(loss), in_dims=(None, 0, 0))
        >>> grads = per_sample(params, x, y)          # each leaf has a leading batch dim
    """
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size <= 0):
        raise ValueError("vmap: chunk_size should be None or greater than 0. "
                         f"(got {chunk_size})")
    name = _name(func)

    @functools.wraps(func)
    def wrapped(*args, **kwargs):
        if randomness not in _RANDOMNESS:
            raise RuntimeError("Only allowed values for randomness are 'error', 'different', "
                               f"or 'same'. Got {randomness}")
        if not _is_dims(out_dims):
            raise ValueError(f"vmap({name}, ..., out_dims={out_dims}): `out_dims` must be an "
                             "int, None or a python collection of ints representing where in "
                             "the outputs the vmapped dimension should appear.")
        leaves, dims, spec = _flat_in_dims(in_dims, args, name)
        size = _batch_size(leaves, dims)
        if chunk_size is not None and size > chunk_size:
            return _run_chunks(func, name, leaves, dims, spec, size, kwargs, out_dims,
                               randomness, chunk_size)
        return _run(func, name, leaves, dims, spec, size, kwargs, out_dims, randomness)

    return wrapped


_RANDOM_ERROR = ("vmap: called random operation while in randomness error mode. Please either "
                 "use the 'same' or 'different' randomness flags on vmap or perform the "
                 "randomness operation out of vmap")


def _run(func, name, leaves, dims, spec, size, kwargs, out_dims, randomness):
    state = None
    if randomness != "error":
        from .._random import default_generator
        state = default_generator.get_state()  # the per-sample rerun draws from here
    try:
        return _run_batched(func, name, leaves, dims, spec, size, kwargs, out_dims, randomness)
    except Unbatchable as exc:
        performance_warning(exc.what)
        if state is not None:
            default_generator.set_state(state)
        return _run_loop(func, name, leaves, dims, spec, size, kwargs, out_dims, randomness)


def _run_batched(func, name, leaves, dims, spec, size, kwargs, out_dims, randomness):
    lvl = _batching.push_level(size, randomness)
    try:
        inputs = [x if d is None else wrap(x if d == 0 else x.movedim(d, 0), lvl)
                  for x, d in zip(leaves, dims)]
        lvl.rng_known = _rng_fingerprint() if randomness != "same" else None
        out = func(*tree_unflatten(inputs, spec), **kwargs)
        if lvl.rng_known is not None and _rng_fingerprint() != lvl.rng_known:
            if randomness == "error":
                raise RuntimeError(_RANDOM_ERROR)
            # A random op drew one sample's numbers (only batched fills, which update
            # rng_known, draw for every sample): 'different' then runs per sample.
            raise Unbatchable("randomness='different'")
    finally:
        _batching.pop_level(lvl)
    out_leaves, out_spec = tree_flatten(out)
    odims = _out_dims(name, out_dims, out_spec)
    results = []
    for o, d in zip(out_leaves, odims):
        batched = is_batched_at(o, lvl)
        if d is None:
            if batched:
                raise ValueError(f"vmap({name}, ...): `{name}` can not return a BatchedTensor "
                                 "when out_dim is None")
            results.append(o)
            continue
        if not isinstance(o, Tensor):
            raise ValueError(f"vmap({name}, ...): `{name}` must only return Tensors, got type "
                             f"{type(o)}. Did you mean to set out_dims= to None for output?")
        v = o._value if batched else o.unsqueeze(0).expand((size,) + tuple(o.shape))
        results.append(v if d == 0 else v.movedim(0, d))
    return tree_unflatten(results, out_spec)


def _out_dims(name, out_dims, out_spec) -> list:
    odims = broadcast_prefix(out_dims, None, out_spec)
    if odims is None:
        raise ValueError(f"vmap({name}, ..., out_dims={out_dims})(<inputs>): out_dims is not "
                         "compatible with the structure of `outputs`. out_dims has structure "
                         f"{tree_flatten(out_dims)[1]} but outputs has structure {out_spec}.")
    return odims


def _run_chunks(func, name, leaves, dims, spec, size, kwargs, out_dims, randomness, chunk):
    from .._ops import cat
    from .._random import default_generator
    rng_state = default_generator.get_state() if randomness == "same" else None
    parts = []
    for start in range(0, size, chunk):
        n = min(chunk, size - start)
        part = [x if d is None else x.narrow(d, start, n) for x, d in zip(leaves, dims)]
        if rng_state is not None:
            default_generator.set_state(rng_state)
        parts.append(_run(func, name, part, dims, spec, n, kwargs, out_dims, randomness))
    first, out_spec = tree_flatten(parts[0])
    odims = _out_dims(name, out_dims, out_spec)
    flat = [tree_flatten(p)[0] for p in parts]
    results = [first[j] if d is None else cat([f[j] for f in flat], dim=d)
               for j, d in enumerate(odims)]
    return tree_unflatten(results, out_spec)


def _run_loop(func, name, leaves, dims, spec, size, kwargs, out_dims, randomness):
    from .._ops import stack
    from .._random import default_generator
    rng_state = default_generator.get_state() if randomness == "same" else None
    samples = []
    out_spec = None
    for i in range(size):
        sample = [x if d is None else x.select(d, i) for x, d in zip(leaves, dims)]
        if rng_state is not None:
            default_generator.set_state(rng_state)
        # A random op runs for every sample, so checking the first one suffices (reading
        # the generator's state costs about as much as a small op).
        before = _rng_fingerprint() if randomness == "error" and i == 0 else None
        out = func(*tree_unflatten(sample, spec), **kwargs)
        if before is not None and _rng_fingerprint() != before:
            raise RuntimeError("vmap: called random operation while in randomness error mode. "
                               "Please either use the 'same' or 'different' randomness flags "
                               "on vmap or perform the randomness operation out of vmap")
        out_leaves, out_spec = tree_flatten(out)
        samples.append(out_leaves)
    if out_spec is None:                            # a zero-sized batch: nothing to stack
        raise ValueError(f"vmap({name}): cannot map over a dimension of size 0")
    odims = broadcast_prefix(out_dims, None, out_spec)
    if odims is None:
        raise ValueError(f"vmap({name}, ..., out_dims={out_dims})(<inputs>): out_dims is not "
                         "compatible with the structure of `outputs`. out_dims has structure "
                         f"{tree_flatten(out_dims)[1]} but outputs has structure {out_spec}.")
    results = []
    for j, d in enumerate(odims):
        first = samples[0][j]
        if d is None:
            results.append(first)
            continue
        if not isinstance(first, Tensor):
            raise ValueError(f"vmap({name}, ...): `{name}` must only return Tensors, got type "
                             f"{type(first)}. Did you mean to set out_dims= to None for output?")
        results.append(stack([s[j] for s in samples], dim=d))
    return tree_unflatten(results, out_spec)
