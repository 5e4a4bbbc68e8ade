"""The harness the forward-rule test files share: random primals and tangents, and one run of
a function on dual inputs under either library (``fw``: its ``forward_ad`` module)."""

import numpy as np
import torch


def _arrays(inputs, seed: int):
    """Primal arrays for ``inputs`` (a shape: random float64; an array: itself) and a random
    tangent for each float or complex one (None for integer inputs)."""
    rng = np.random.default_rng(seed)
    primals, tangents = [], []
    for spec in inputs:
        a = rng.standard_normal(spec) if isinstance(spec, tuple) else np.array(spec)
        primals.append(a)
        if a.dtype.kind == "c":
            tangents.append(rng.standard_normal(a.shape) + 1j * rng.standard_normal(a.shape))
        elif a.dtype.kind == "f":
            tangents.append(rng.standard_normal(a.shape))
        else:
            tangents.append(None)
    return primals, tangents


def _dual_run(m, fw, fn, primals, tangents):
    """``fn`` of the dual inputs: each output as (primal array, dtype name, tangent array or
    None), with the output's structure."""
    with fw.dual_level():
        xs = [m.tensor(p) if t is None else fw.make_dual(m.tensor(p), m.tensor(t))
              for p, t in zip(primals, tangents)]
        return _unpack(fw, fn(m, *xs))


def _unpack(fw, out):
    if isinstance(out, (tuple, list)):
        return [_unpack(fw, o) for o in out]
    p, t = fw.unpack_dual(out)
    if isinstance(t, torch.Tensor) and t._is_zerotensor():   # PyTorch's zero tangents
        t = torch.zeros_like(p)
    return (p.detach().numpy().copy(), str(p.dtype).split(".")[-1],
            None if t is None else t.detach().numpy().copy())


def op_classes(modules):
    """``(name, class)`` of every built-in op class defined in ``modules``."""
    import inspect

    from ember.autograd.function import Function
    for mod in modules:
        for name, cls in vars(mod).items():
            if (inspect.isclass(cls) and issubclass(cls, Function)
                    and cls.__module__ == mod.__name__ and cls._array_forward):
                yield name, cls


def rules_run(body) -> set:
    """The op classes that received a tangent while ``body()`` ran (their rules ran)."""
    import warnings

    import ember.autograd.forward_ad as efw
    from ember.autograd import function as _function
    seen = set()

    def record(cls, args, kwargs, index):
        if any(efw.get_tangent(a) is not None for a in args):
            seen.add(cls)
        return NotImplemented

    _function.push_interceptor(record, -1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            body()
    finally:
        _function.pop_interceptor(record)
    return seen
