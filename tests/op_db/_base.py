"""The op-table entry types. An ``OpInfo`` names one op (or one variant of it), gives a
callable that runs under both libraries (``fn(lib, *tensors)`` with ``lib`` = ember or torch),
and the sample input shapes it is tested on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Sample:
    """Input shapes for one call; ``transpose`` makes the inputs non-contiguous."""

    shapes: tuple
    transpose: bool = False
    label: str = ""

    def __str__(self) -> str:
        s = "x".join("(" + ",".join(map(str, sh)) + ")" for sh in self.shapes) or "noargs"
        return s + ("-T" if self.transpose else "") + (f"-{self.label}" if self.label else "")


def S(*shapes, transpose: bool = False, label: str = "") -> Sample:
    return Sample(tuple(tuple(s) for s in shapes), transpose, label)


@dataclass
class OpInfo:
    """One op under test.

    fn:        ``fn(lib, *inputs)``: the same code for ember and torch.
    samples:   the input shapes (0-d, empty, broadcasting, non-contiguous ones).
    domain:    inputs are drawn uniformly from this interval.
    grad:      differentiable in every input (compare gradients, run gradcheck).
    gradcheck: run finite-difference gradcheck (float64) on the samples with few elements.
    dtypes:    float dtypes the forward is compared in.
    int_inputs: draw integer inputs (int64) instead of floats (implies grad=False).
    forward_ad: compare forward-mode tangents with ``torch.autograd.forward_ad`` (False only
               where PyTorch itself has no forward-mode formula for the op).
    """

    name: str
    fn: Callable
    samples: list
    domain: tuple = (-2.0, 2.0)
    grad: bool = True
    gradcheck: bool = True
    dtypes: tuple = ("float32", "float64")
    atol: float = 1e-5
    rtol: float = 1.3e-6
    grad_atol: float = 1e-5
    grad_rtol: float = 1e-4
    int_inputs: bool = False
    distinct: bool = False
    forward_ad: bool = True
    forward_ad_oracle: str = "torch"
    tags: tuple = field(default_factory=tuple)

    def make_arrays(self, sample: Sample, dtype: str, seed: int = 0) -> list[np.ndarray]:
        rng = np.random.default_rng(seed)
        arrays = []
        for shape in sample.shapes:
            full = shape[::-1] if sample.transpose else shape
            if self.int_inputs:
                a = rng.integers(int(self.domain[0]), int(self.domain[1]), size=full)
            elif self.distinct:
                # Distinct values, for ops whose gradient is undefined at ties (max, sort).
                n = int(np.prod(full))
                a = (rng.permutation(n) / max(n, 1) * (self.domain[1] - self.domain[0])
                     + self.domain[0]).reshape(full).astype(dtype)
            else:
                a = rng.uniform(self.domain[0], self.domain[1], size=full).astype(dtype)
            arrays.append(a.T if sample.transpose else a)
        return arrays


# Reusable shape sets.
UNARY = [S(()), S((5,)), S((2, 3)), S((0, 3)), S((2, 3, 4)), S((3, 4), transpose=True)]
BINARY = [S((), ()), S((5,), (5,)), S((2, 3), (2, 3)), S((2, 3), (3,)), S((2, 1), (1, 3)),
          S((4, 1, 3), (2, 1)), S((2, 3), ()), S((0, 3), (3,)), S((3, 4), (3, 4), transpose=True)]
