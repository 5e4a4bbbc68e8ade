"""bfloat16 on NumPy: float32 arrays tagged by dtype metadata, kept at bfloat16 precision.

NumPy has no bfloat16, so an ember bfloat16 tensor holds a float32 array whose dtype carries
``metadata={"ember": "bfloat16"}``, with every value already rounded to bfloat16 (the upper 16
bits of a float32, round to nearest even, NaN kept). Ops compute in float32 as PyTorch's CPU
kernels do (sums and matmuls accumulate in float32 and round once), and the two places that
wrap op results (``Function.apply``'s output wrapping and ``_make``) call ``settle``/``tag``
to round a result whose dtype is bfloat16. ``ACTIVE`` turns those checks on at the first use
of ``ember.bfloat16``, so programs that never name it pay one flag test per op.
"""

from __future__ import annotations

from ._backend import xp

__all__ = ["ACTIVE", "NP", "round_bf16", "settle", "settle_output", "tag"]

ACTIVE = [False]
NP = xp.dtype(xp.float32, metadata={"ember": "bfloat16"})
_F32 = xp.dtype(xp.float32)


def round_bf16(a) -> object:
    """``a`` rounded to bfloat16 precision, as a new array of bfloat16's tagged dtype."""
    a = xp.array(a, dtype=_F32)
    bits = a.view(xp.uint32)
    # Round to nearest even on the 16 dropped bits; overflow past the largest value gives inf.
    bits += xp.uint32(0x7FFF) + ((bits >> xp.uint32(16)) & xp.uint32(1))
    bits &= xp.uint32(0xFFFF0000)
    nan = xp.isnan(a)
    out = bits.view(_F32)
    if nan.any():
        out[nan] = xp.nan        # PyTorch's canonical bfloat16 NaN (0x7FC0)
    return out.view(NP)


def tag(arr):
    """``arr`` as a tensor of its dtype holds it: rounded when it is a freshly made bfloat16
    array (an array that views another keeps its owner's rounding, and its memory)."""
    if arr.dtype.metadata is not None and arr.base is None:
        return round_bf16(arr)
    return arr


def _tensor_dtypes(args):
    from ._tensor import Tensor
    for a in args:
        if isinstance(a, Tensor):
            yield a
        elif isinstance(a, (list, tuple)):
            yield from (t for t in a if isinstance(t, Tensor))


def settle(arr, args: tuple):
    """An op's float32 result ``arr`` in the dtype PyTorch gives it: bfloat16 (rounded) when
    its tensor inputs promote to bfloat16, plain float32 otherwise. Ops given an explicit
    dtype (conversions) keep the one they made."""
    if arr.dtype.kind != "f" or arr.dtype.itemsize != 4:
        return arr
    from . import _dtype
    if any(isinstance(a, (_dtype.dtype, xp.dtype)) for a in args):
        return tag(arr)
    tensors = list(_tensor_dtypes(args))
    if tensors and _dtype.result_type(*tensors) is _dtype.bfloat16:
        return round_bf16(arr) if arr.base is None or arr.dtype.metadata is None else arr
    if arr.dtype.metadata is not None:
        return arr.view(_F32)
    return arr


def settle_output(ctx, raw, args: tuple):
    """``settle`` for an op's single array output, keeping a saved output recognisable."""
    out = settle(raw, args)
    if out is not raw and ctx._saved:
        ctx._saved = tuple(out if s is raw else s for s in ctx._saved)
    return out
