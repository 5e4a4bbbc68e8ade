"""ember's tensor repr against PyTorch's, driven through a minimal fake tensor."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ember import _dtype
from ember._printing import (
    get_printoptions,
    printoptions,
    set_printoptions,
    tensor_repr,
)

DTYPES = ["float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool",
          "complex64", "complex128"]


class FakeFn:
    def __init__(self, name: str):
        self._name = name

    def name(self) -> str:
        return self._name


class FakeTensor:
    """Only the attributes ``tensor_repr`` may use."""

    def __init__(self, data, requires_grad=False, grad_fn=None, dtype=None):
        self._data = data
        self.dtype = dtype or _dtype.from_numpy_dtype(data.dtype)
        self.requires_grad = requires_grad or grad_fn is not None
        self.grad_fn = grad_fn
        self.is_leaf = grad_fn is None


def torch_set_default(name: str) -> None:
    torch.set_default_dtype(getattr(torch, name))
    _dtype.set_default_dtype(getattr(_dtype, name))


@pytest.fixture(autouse=True)
def _restore_options():
    yield
    set_printoptions(profile="default")
    torch.set_printoptions(profile="default")
    torch_set_default("float32")


def expected(a: np.ndarray, requires_grad=False) -> str:
    t = torch.from_numpy(np.array(a, copy=True))
    if requires_grad:
        t.requires_grad_(True)
    return repr(t).replace("torch.", "ember.")


def check(a: np.ndarray, requires_grad=False) -> None:
    got = tensor_repr(FakeTensor(a, requires_grad=requires_grad))
    assert got == expected(a, requires_grad), f"\n{got}\n!=\n{expected(a, requires_grad)}"


def both(**kwargs) -> None:
    set_printoptions(**kwargs)
    torch.set_printoptions(**kwargs)


# --- exact seed strings -----------------------------------------------------------------

def test_seed_strings():
    f32 = np.float32
    assert (tensor_repr(FakeTensor(np.array([1, 2, 3], f32), requires_grad=True))
            == "tensor([1., 2., 3.], requires_grad=True)")
    assert (tensor_repr(FakeTensor(np.array([7, 9, 11], f32), grad_fn=FakeFn("AddBackward0")))
            == "tensor([ 7.,  9., 11.], grad_fn=<AddBackward0>)")
    assert (tensor_repr(FakeTensor(np.array(23, f32), grad_fn=FakeFn("SumBackward0")))
            == "tensor(23., grad_fn=<SumBackward0>)")
    assert tensor_repr(FakeTensor(np.array([2, 2, 2], f32))) == "tensor([2., 2., 2.])"
    assert tensor_repr(FakeTensor(np.array([[-3.0104]], f32))) == "tensor([[-3.0104]])"
    assert (tensor_repr(FakeTensor(np.array([8, 15], f32), grad_fn=FakeFn("MulBackward0")))
            == "tensor([ 8., 15.], grad_fn=<MulBackward0>)")


def test_grad_fn_matches_torch():
    x = torch.tensor([1.5, -2.25], requires_grad=True)
    y = x * 3
    ours = tensor_repr(FakeTensor(y.detach().numpy(), grad_fn=FakeFn(type(y.grad_fn).__name__)))
    assert ours == repr(y)


def test_prefix_and_parameter_like():
    a = np.arange(40, dtype=np.float32).reshape(2, 20) / 7
    p = torch.nn.Parameter(torch.from_numpy(a.copy()))
    assert "Parameter containing:\n" + tensor_repr(FakeTensor(a, requires_grad=True)) == repr(p)
    assert tensor_repr(FakeTensor(np.ones(2, np.float32)), prefix="foo(") == "foo([1., 1.])"


# --- hand-picked cases --------------------------------------------------------------------

SPECIAL = [
    np.array(3.5, np.float32), np.array(-0.0, np.float32), np.array(7), np.array(True),
    np.array([-0.0, 1.0], np.float32), np.array([1.1, np.nan, np.inf, -0.0], np.float32),
    np.array([np.nan, np.inf, -np.inf]), np.array([0.0, 0.0], np.float32),
    np.array([1e-5, 1.0], np.float32), np.array([1e8, 1.0]), np.array([1e9]),
    np.array([1.0, 1000.0]), np.array([1.0, 1001.0]), np.array([0.5, 500.0]),
    np.array([0.5, 500.1]), np.array([1e-4, 2e-4]), np.array([9.99e-5]), np.array([1e100, -1]),
    np.array([1e-300, 1.0]), np.array([123456789.0, np.nan]), np.array([0.1, 2.3], np.float16),
    np.array([65504, -1, 0.001], np.float16), np.array([6e-8, 1], np.float16),
    np.array([9.99996, 1.5]), np.array([-1, 255], np.int32).astype(np.uint8),
    np.array([[True, False], [False, True]]), np.array([-128, 127], np.int8),
    np.array([1 + 2j, -0.5 - 1j], np.complex64), np.array(1e-9j), np.array([1 - 0.0j]),
    np.array([np.nan + 1j, 1e5 - 3j]), np.array([[1.5j, 2], [3, 4e-7]], np.complex64),
    np.zeros((0,), np.float32), np.zeros((0, 3), np.float32), np.zeros((2, 0, 1)),
    np.zeros(0, np.int64), np.zeros((0, 2), bool), np.zeros(0, np.complex64),
    np.zeros(0, np.float16), np.zeros((3, 0), np.int32),
]


@pytest.mark.parametrize("a", SPECIAL, ids=lambda a: f"{a.dtype}{a.shape}")
def test_special(a):
    check(a)
    if a.dtype.kind in "fc":
        check(a, requires_grad=True)


def test_non_contiguous():
    a = np.arange(60, dtype=np.float64).reshape(3, 4, 5) / 3
    check(a.transpose(2, 0, 1))
    check(a[:, ::2, ::-2])


def test_wrapping_rows_and_suffixes():
    rng = np.random.default_rng(0)
    for n in (10, 11, 12, 13, 20, 26, 27, 40, 100):
        check(rng.standard_normal(n).astype(np.float32), requires_grad=True)
        check(rng.standard_normal((2, n)).astype(np.float16))
        check(rng.integers(-10**6, 10**6, (n,)).astype(np.int32))
        check((rng.standard_normal((2, 2, n)) * 1e6).astype(np.float32))
        check((rng.standard_normal(n) + 1j * rng.standard_normal(n)).astype(np.complex128))


def test_summarised_large():
    rng = np.random.default_rng(1)
    check(np.arange(2000))
    check(rng.standard_normal(1001).astype(np.float32))
    check(rng.standard_normal((40, 30)).astype(np.float32), requires_grad=True)
    check(rng.standard_normal((7, 6, 5, 8)))
    check(rng.standard_normal((1, 2000)).astype(np.float16))
    check(rng.integers(0, 2, (50, 50)).astype(bool))
    check((rng.standard_normal((30, 40)) * 10 ** rng.uniform(-6, 6, (30, 40))).astype(np.float32))


def test_big_tensor_is_fast():
    a = np.random.default_rng(2).standard_normal((1000, 1000)).astype(np.float32)
    start = time.perf_counter()
    got = tensor_repr(FakeTensor(a))
    assert time.perf_counter() - start < 0.5
    assert got == expected(a)


# --- options --------------------------------------------------------------------------------

def test_get_printoptions_matches_torch():
    from torch._tensor_str import get_printoptions as torch_get

    assert get_printoptions() == torch_get()
    for kwargs in ({"profile": "short"}, {"profile": "full", "precision": 6},
                   {"sci_mode": True, "linewidth": 40}, {"edgeitems": 1}, {"profile": "default"}):
        both(**kwargs)
        assert get_printoptions() == torch_get()


OPTION_SETS = [
    {"precision": 2}, {"precision": 0}, {"precision": 8}, {"threshold": 5}, {"threshold": 0},
    {"edgeitems": 1}, {"edgeitems": 0}, {"edgeitems": 5, "threshold": 10}, {"linewidth": 20},
    {"linewidth": 1}, {"linewidth": 200}, {"sci_mode": True}, {"sci_mode": False},
    {"profile": "short"}, {"profile": "full"}, {"profile": "full", "precision": 2},
    {"edgeitems": 0, "threshold": 3},
]
OPTION_ARRAYS = [
    np.array(2.5, np.float32), np.arange(10), np.arange(2000).reshape(2, 1000) / 3,
    np.array([1e-6, 1.0, 12345.678]), np.array([[0.0, 0.0]], np.float32),
    np.array([[1.0, 2.0], [3.0, 4.0]]), np.linspace(-3, 3, 30).reshape(3, 10),
    np.array([True, False, True]), np.array([1 + 1j, 2.5 - 1e-5j]), np.zeros((0, 4)),
    np.arange(24, dtype=np.float16).reshape(2, 3, 4), np.array([np.nan, 1.5, -np.inf]),
]


@pytest.mark.parametrize("kwargs", OPTION_SETS, ids=str)
def test_options(kwargs):
    both(**kwargs)
    for a in OPTION_ARRAYS:
        check(a)
        if a.dtype.kind == "f":
            check(a.astype(np.float32), requires_grad=True)


def test_printoptions_context():
    with printoptions(precision=1):
        assert tensor_repr(FakeTensor(np.array([1.26]))) == "tensor([1.3], dtype=ember.float64)"
    assert get_printoptions()["precision"] == 4


@pytest.mark.parametrize("default", ["float64", "float16"])
def test_default_dtype(default):
    torch_set_default(default)
    rng = np.random.default_rng(3)
    for a in (rng.standard_normal(5), rng.standard_normal(5).astype(np.float32),
              rng.standard_normal(5).astype(np.float16), np.zeros((0, 2)),
              np.zeros(0, np.float32), np.array([1j]), np.array([1j], np.complex64),
              np.arange(3), np.zeros(0, np.int64)):
        check(a)


# --- randomised ---------------------------------------------------------------------------

def _random_array(rng: np.random.Generator) -> np.ndarray:
    ndim = int(rng.integers(0, 5))
    shape = tuple(int(rng.integers(0 if rng.random() < 0.05 else 1, 7)) for _ in range(ndim))
    name = DTYPES[int(rng.integers(len(DTYPES)))]
    kind = rng.random()
    if kind < 0.3:
        vals = rng.standard_normal(shape)
    elif kind < 0.5:
        vals = rng.integers(-1000, 1000, shape).astype(float)
    elif kind < 0.8:
        vals = rng.standard_normal(shape) * 10.0 ** rng.integers(-9, 10, shape)
    else:
        vals = rng.choice([0.0, -0.0, np.nan, np.inf, -np.inf, 1.0, 2.5, 1e-5, 1e9], shape)
    if name == "bool":
        return vals > 0
    if name.startswith("complex"):
        with np.errstate(invalid="ignore"):  # inf * 1j has a nan real part; fine here
            return (vals + 1j * rng.permutation(vals.reshape(-1)).reshape(shape)).astype(name)
    if name.startswith("float"):
        with np.errstate(over="ignore"):
            return vals.astype(name)
    info = np.iinfo(name)
    return np.nan_to_num(vals, nan=0, posinf=1, neginf=-1).clip(info.min, info.max).astype(name)


def test_random_seeded():
    rng = np.random.default_rng(1234)
    for _ in range(600):
        a = _random_array(rng)
        check(a, requires_grad=a.dtype.kind in "fc" and bool(rng.random() < 0.2))


@settings(max_examples=150, deadline=None)
@given(hnp.arrays(
    dtype=st.sampled_from([np.float16, np.float32, np.float64]),
    shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=6),
    elements={"allow_nan": True, "allow_infinity": True, "allow_subnormal": True}))
def test_hypothesis_floats(a):
    check(a)


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=2, max_side=12),
                  elements=st.floats(-1e12, 1e12)),
       st.integers(0, 6), st.integers(1, 4), st.integers(10, 120),
       st.sampled_from([None, True, False]))
def test_hypothesis_options(a, precision, edgeitems, linewidth, sci_mode):
    both(precision=precision, edgeitems=edgeitems, linewidth=linewidth, threshold=20,
         sci_mode=sci_mode)
    check(a)
    assert math.isfinite(get_printoptions()["threshold"])
