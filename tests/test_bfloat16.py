"""bfloat16 tensors hold bfloat16 values: creation, printing, promotion, elementwise results,
matmul and sums equal PyTorch's CPU bfloat16 exactly."""

import numpy as np
import pytest
import torch

import ember

VALUES = [0.1, 1.0 / 3, -2.7, 1e-3, 3e38, 3.4e38, -3.4e38, float("nan"), float("inf"),
          float("-inf"), 0.0, -0.0, 1e-40, 65504.0, 1.00390625, 1.01171875]


def _same(e, t):
    assert str(e.dtype).replace("ember", "torch") == str(t.dtype)
    np.testing.assert_array_equal(np.array(e.tolist(), dtype=np.float64),
                                  np.array(t.tolist(), dtype=np.float64))


def _both(fn):
    return fn(ember), fn(torch)


def test_creation_rounds_like_torch():
    e, t = _both(lambda lib: lib.tensor(VALUES, dtype=lib.bfloat16))
    _same(e, t)
    # ties round to even, NaN stays NaN (positive), signed zero kept
    assert np.signbit(e.tolist()[11]) == np.signbit(t.tolist()[11])
    for conv in (lambda lib: lib.tensor(VALUES).to(lib.bfloat16),
                 lambda lib: lib.tensor(VALUES).bfloat16(),
                 lambda lib: lib.tensor(VALUES, dtype=lib.float64).to(lib.bfloat16),
                 lambda lib: lib.tensor(VALUES).bfloat16().float(),
                 lambda lib: lib.tensor(VALUES).bfloat16().double(),
                 lambda lib: lib.full((3,), 0.1, dtype=lib.bfloat16),
                 lambda lib: lib.arange(250, 262, dtype=lib.bfloat16)):
        _same(*_both(conv))


def test_printing_and_metadata():
    e, t = _both(lambda lib: lib.tensor(VALUES, dtype=lib.bfloat16).reshape(4, 4))
    assert repr(e).replace("ember", "torch") == repr(t)
    e, t = _both(lambda lib: lib.tensor(0.1, dtype=lib.bfloat16))
    assert repr(e).replace("ember", "torch") == repr(t)
    assert (e.element_size(), e.dtype.is_floating_point, e.is_floating_point()) == (
        t.element_size(), t.dtype.is_floating_point, t.is_floating_point())


@pytest.mark.parametrize("other", ["bfloat16", "float16", "float32", "float64", "int64",
                                   "bool"])
def test_promotion(other):
    got = []
    for lib in (torch, ember):
        a = lib.tensor([1.5, 2.25], dtype=lib.bfloat16)
        b = lib.tensor([3, 1], dtype=getattr(lib, other))
        z = lib.tensor(3, dtype=getattr(lib, other))
        got.append([str(x).split(".")[1] for x in (
            (a + b).dtype, (b * a).dtype, (a + z).dtype, (a * 2.5).dtype, (a + 1).dtype,
            lib.promote_types(lib.bfloat16, getattr(lib, other)),
            lib.result_type(a, b), (a < b).dtype)])
    assert got[0] == got[1]


UNARY = ["exp", "log", "sqrt", "sin", "tanh", "sigmoid", "neg", "abs", "reciprocal", "relu"]


def _data(lib, seed=0, shape=(5, 7)):
    rng = np.random.default_rng(seed)
    return lib.tensor(rng.standard_normal(shape).astype(np.float32) * 3).to(lib.bfloat16)


@pytest.mark.parametrize("name", UNARY)
def test_unary_elementwise_exact(name):
    _same(*_both(lambda lib: getattr(_data(lib).abs() + 0.5, name)()))


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "maximum", "pow_scalar", "scalar"])
def test_binary_elementwise_exact(op):
    fns = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
           "div": lambda a, b: a / b, "maximum": lambda a, b: a.maximum(b),
           "pow_scalar": lambda a, b: a.abs() ** 1.5, "scalar": lambda a, b: a * 0.1 + 3}
    _same(*_both(lambda lib: fns[op](_data(lib, 0), _data(lib, 1))))


def test_matmul_and_reductions_accumulate_in_float32():
    for fn in (lambda lib: _data(lib, 0) @ _data(lib, 1).T,
               lambda lib: lib.mm(_data(lib, 0, (16, 64)), _data(lib, 1, (64, 8))),
               lambda lib: _data(lib, 2, (300,)).sum(),
               lambda lib: _data(lib, 2, (30, 40)).sum(0),
               lambda lib: _data(lib, 2, (30, 40)).mean(1),
               lambda lib: lib.cat([_data(lib, 0), _data(lib, 1)]),
               lambda lib: lib.where(_data(lib, 0) > 0, _data(lib, 0), _data(lib, 1)),
               lambda lib: _data(lib, 0).softmax(-1)):
        _same(*_both(fn))


def test_backward_through_bfloat16():
    res = []
    for lib in (torch, ember):
        x = lib.tensor([0.3, -1.7, 2.2], requires_grad=True)
        y = (x.bfloat16() * 1.3).exp().sum()
        y.backward()
        res.append((y.item(), str(y.dtype).split(".")[1], x.grad.tolist(),
                    type(y.grad_fn).__name__))
    assert (res[0][0], res[0][1], res[0][3]) == (res[1][0], res[1][1], res[1][3])
    np.testing.assert_allclose(res[1][2], res[0][2], rtol=2e-2)


def test_views_share_memory_and_stay_bfloat16():
    for lib in (torch, ember):
        a = lib.zeros(2, 3, dtype=lib.bfloat16)
        v = a[0]
        v.add_(0.1)
        v2 = a.t()
        assert a.tolist()[0][0] != 0
        assert str(v.dtype).endswith("bfloat16") and str(v2.dtype).endswith("bfloat16")
    _same(*_both(lambda lib: lib.zeros(2, 3, dtype=lib.bfloat16)[0].add_(0.1)))


@pytest.mark.parametrize("name", ["bfloat16", "float16", "float32", "float64"])
def test_finfo(name):
    e, t = ember.finfo(getattr(ember, name)), torch.finfo(getattr(torch, name))
    for name in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution", "dtype"):
        assert getattr(e, name) == getattr(t, name), name
