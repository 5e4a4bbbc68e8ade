"""Every op-table entry through ember.compile: the replayed call (second call, same
signature) gives exactly eager ember's outputs and gradients, or runs eagerly."""

import numpy as np
import pytest

import ember
from tests.op_db import OP_DB

CASES = [(op, op.samples[0]) for op in OP_DB if op.samples]
IDS = [op.name for op, _ in CASES]


def _tensors(result):
    if isinstance(result, (tuple, list)):
        return [r for r in result if isinstance(r, ember.Tensor)]
    return [result] if isinstance(result, ember.Tensor) else []


def _run(fn, op, sample, grad):
    dtype = "int64" if op.int_inputs else "float64"
    xs = [ember.from_numpy(np.array(a, copy=True)) for a in op.make_arrays(sample, dtype)]
    if grad:
        for x in xs:
            x.requires_grad_(True)
    outs = _tensors(fn(*xs))
    loss = None
    rng = np.random.default_rng(1)
    for o in outs:
        if o.requires_grad:
            w = ember.from_numpy(rng.standard_normal(tuple(o.shape)))
            loss = (o * w).sum() if loss is None else loss + (o * w).sum()
    if loss is not None:
        loss.backward()
    return [o.detach().numpy() for o in outs], [x.grad.numpy() if x.grad is not None else None
                                               for x in xs]


@pytest.mark.parametrize("op,sample", CASES, ids=IDS)
def test_compiled_equals_eager(op, sample):
    grad = op.grad and not op.int_inputs

    def eager(*xs):
        return op.fn(ember, *xs)

    compiled = ember.compile(eager)
    want = _run(eager, op, sample, grad)
    for _ in range(2):  # trace, then replay
        got = _run(compiled, op, sample, grad)
        for a, b in zip(want[0] + want[1], got[0] + got[1]):
            if a is None or b is None:
                assert a is None and b is None
            else:
                assert a.dtype == b.dtype and a.shape == b.shape
                np.testing.assert_array_equal(a, b)
