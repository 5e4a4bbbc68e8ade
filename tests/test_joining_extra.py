"""cartesian_prod, combinations and block_diag beyond the op table: torch's errors, dtype
promotion, and block_diag's gradient where torch's is wrong (a 1-D empty input)."""

import numpy as np
import pytest
import torch

import ember


@pytest.mark.parametrize("call,exc,match", [
    (lambda t: t.cartesian_prod(t.ones(2, 3)), RuntimeError, r"Expect a 1D vector, but got "
                                                             r"shape \[2, 3\]"),
    (lambda t: t.cartesian_prod(t.ones(2), t.ones(2, dtype=t.int64)), RuntimeError,
     "meshgrid expects all tensors to have the same dtype"),
    (lambda t: t.combinations(t.ones(2, 3)), RuntimeError, r"Expect a 1D vector, but got shape"),
    (lambda t: t.combinations(t.tensor(1.0)), RuntimeError, r"but got shape \[\]"),
    (lambda t: t.combinations(t.ones(3), -1), RuntimeError,
     "Expect a non-negative number, but got -1"),
    (lambda t: t.block_diag(t.ones(2), t.ones(2, 2, 2)), RuntimeError,
     "Input tensors must have 2 or fewer dimensions. Input 1 has 3 dimensions"),
])
def test_errors_match_torch(call, exc, match):
    for lib in (torch, ember):
        with pytest.raises(exc, match=match):
            call(lib)


@pytest.mark.parametrize("call", [
    lambda t: t.block_diag(),
    lambda t: t.block_diag(t.ones(2, dtype=t.int64), t.ones(1, 1, dtype=t.bool)),
    lambda t: t.block_diag(t.ones(2, dtype=t.int32), t.full((2, 2), 0.5)),
    lambda t: t.combinations(t.arange(4), 2, True),
    lambda t: t.combinations(t.arange(3), 4),
    lambda t: t.cartesian_prod(t.arange(3), t.arange(2)),
    lambda t: t.cartesian_prod(t.arange(3), t.arange(0), t.arange(2)),
])
def test_values_and_dtypes_match_torch(call):
    e, t = call(ember), call(torch)
    assert str(e.dtype).split(".")[1] == str(t.dtype).split(".")[1]
    np.testing.assert_array_equal(e.numpy(), t.numpy())


def test_block_diag_gradient_after_empty_vector():
    # A 1-D empty input occupies one (empty) row; torch's backward forgets that row and
    # hands the next block the wrong rows. Ember's gradient passes gradcheck.
    a = ember.zeros(0, dtype=ember.float64, requires_grad=True)
    b = ember.randn(2, 1, dtype=ember.float64, requires_grad=True)
    assert ember.autograd.gradcheck(lambda x, y: ember.block_diag(x, y), (a, b))
    assert ember.autograd.gradgradcheck(lambda x, y: ember.block_diag(x, y), (a, b))
