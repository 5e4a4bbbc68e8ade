"""ember.testing against torch.testing: assert_close's outcome (exception type and the
mismatch report text) for the same inputs, and make_tensor's seeded values."""

import math

import numpy as np
import pytest
import torch

import ember


def _outcome(lib, fn):
    try:
        fn(lib)
    except Exception as exc:  # noqa: BLE001 - type and text are compared
        text = str(exc).replace("ember._tensor.", "torch.").replace("ember.", "torch.")
        return type(exc).__name__, text
    return None


def T(lib, *a, **k):
    return lib.tensor(*a, **k)


nan, inf = float("nan"), float("inf")
CASES = {
    "equal": lambda t: t.testing.assert_close(T(t, [1.0, 2.0]), T(t, [1.0, 2.0])),
    "within_tol": lambda t: t.testing.assert_close(T(t, [1.0, 2.0]), T(t, [1.0, 2.0 + 1e-6])),
    "float32": lambda t: t.testing.assert_close(T(t, [1.0, 2.0, 3.0]), T(t, [1.0, 2.5, 3.1])),
    "float64": lambda t: t.testing.assert_close(T(t, [1.0, 2.0], dtype=t.float64),
                                                T(t, [1.0, 2.0 + 1e-6], dtype=t.float64)),
    "float16": lambda t: t.testing.assert_close(T(t, [1.0, 2.0], dtype=t.float16),
                                                T(t, [1.0, 2.01], dtype=t.float16)),
    "float16_ok": lambda t: t.testing.assert_close(T(t, [1.0, 2.0], dtype=t.float16),
                                                   T(t, [1.0, 2.001], dtype=t.float16)),
    "scalar_tensor": lambda t: t.testing.assert_close(T(t, 1.0), T(t, 1.5)),
    "ints": lambda t: t.testing.assert_close(T(t, [1, 2, 3]), T(t, [1, 2, 4])),
    "ints_zero_expected": lambda t: t.testing.assert_close(T(t, [1, 2]), T(t, [0, 2])),
    "bools": lambda t: t.testing.assert_close(T(t, [True, False]), T(t, [True, True])),
    "dtype": lambda t: t.testing.assert_close(T(t, [1.0, 2.0]),
                                              T(t, [1.0, 2.0], dtype=t.float64)),
    "dtype_unchecked": lambda t: t.testing.assert_close(
        T(t, [1.0, 2.0]), T(t, [1.0, 2.5], dtype=t.float64), check_dtype=False),
    "shape": lambda t: t.testing.assert_close(T(t, [1.0, 2.0]), T(t, [1.0, 2.0, 3.0])),
    "nan": lambda t: t.testing.assert_close(T(t, [1.0, nan]), T(t, [1.0, nan])),
    "nan_equal": lambda t: t.testing.assert_close(T(t, [1.0, nan]), T(t, [1.0, nan]),
                                                  equal_nan=True),
    "nan_one_side": lambda t: t.testing.assert_close(T(t, [1.0, 2.0, nan]),
                                                     T(t, [1.5, 2.0, 1.0]), equal_nan=True),
    "inf": lambda t: t.testing.assert_close(t.ones(3, 4) * inf, t.ones(3, 4)),
    "inf_equal": lambda t: t.testing.assert_close(T(t, [inf, -inf]), T(t, [inf, -inf])),
    "index_2d": lambda t: t.testing.assert_close(
        t.arange(12.0).reshape(3, 4),
        t.arange(12.0).reshape(3, 4) + T(t, [[0, 0, 0, 0], [0, 0, 1e-3, 0], [0, 0, 0, 0]])),
    "rel_vs_abs_index": lambda t: t.testing.assert_close(T(t, [100.0, 0.001]),
                                                         T(t, [101.0, 0.002])),
    "zero_expected": lambda t: t.testing.assert_close(t.ones(2, 2), t.zeros(2, 2)),
    "custom_tol": lambda t: t.testing.assert_close(T(t, [1.0, 2.0]), T(t, [1.1, 2.0]),
                                                   rtol=0.2, atol=0.0),
    "custom_tol_fail": lambda t: t.testing.assert_close(T(t, [1.0, 2.0]), T(t, [1.5, 2.0]),
                                                        rtol=0.1, atol=0.01),
    "zero_tol": lambda t: t.testing.assert_close(T(t, [1.0, 2.0]), T(t, [1.0, 2.0 + 1e-6]),
                                                 rtol=0, atol=0),
    "only_rtol": lambda t: t.testing.assert_close(t.ones(2), t.zeros(2), rtol=0.1),
    "only_atol": lambda t: t.testing.assert_close(t.ones(2), t.zeros(2), atol=0.1),
    "msg_str": lambda t: t.testing.assert_close(t.ones(2), t.zeros(2), msg="custom"),
    "msg_callable": lambda t: t.testing.assert_close(t.ones(2), t.zeros(2),
                                                     msg=lambda m: "X" + m),
    "msg_shape": lambda t: t.testing.assert_close(t.ones(2), t.zeros(3), msg="custom"),
    "list": lambda t: t.testing.assert_close([T(t, 1.0), T(t, 2.0)], [T(t, 1.0), T(t, 3.0)]),
    "tuple_nested": lambda t: t.testing.assert_close(
        (T(t, 1.0), [T(t, [2.0, 3.0])]), (T(t, 1.0), [T(t, [2.0, 4.0])])),
    "dict": lambda t: t.testing.assert_close({"a": T(t, 1.0)}, {"a": T(t, 2.0)}),
    "dict_keys": lambda t: t.testing.assert_close({"a": T(t, 1.0)}, {"b": T(t, 1.0)}),
    "dict_nested": lambda t: t.testing.assert_close({"a": [1, {"b": 2.0}]},
                                                    {"a": [1, {"b": 2.5}]}),
    "seq_len": lambda t: t.testing.assert_close([T(t, 1.0)], [T(t, 1.0), T(t, 2.0)]),
    "msg_callable_item": lambda t: t.testing.assert_close([1.0, 2.0], [1.0, 3.0],
                                                          msg=lambda m: m.upper()),
    "py_float": lambda t: t.testing.assert_close(1.0, 1.1),
    "py_float_ok": lambda t: t.testing.assert_close(1.0, 1.0 + 1e-8),
    "py_int": lambda t: t.testing.assert_close(1, 2),
    "py_int_float": lambda t: t.testing.assert_close(1, 1.0),
    "py_int_float_unchecked": lambda t: t.testing.assert_close(1, 1.5, check_dtype=False),
    "py_zero": lambda t: t.testing.assert_close(0.5, 0.0),
    "py_nan": lambda t: t.testing.assert_close(nan, nan),
    "py_nan_equal": lambda t: t.testing.assert_close(nan, nan, equal_nan=True),
    "py_bool": lambda t: t.testing.assert_close(True, False),
    "np_scalar": lambda t: t.testing.assert_close(np.float64(1.0), 1.5),
    "np_bool": lambda t: t.testing.assert_close(np.bool_(True), True),
    "none": lambda t: t.testing.assert_close(None, None),
    "none_mismatch": lambda t: t.testing.assert_close(None, 1),
    "tensor_vs_float": lambda t: t.testing.assert_close(T(t, 1.0), 1.0),
    "strings": lambda t: t.testing.assert_close("a", "b"),
    "objects": lambda t: t.testing.assert_close(object, object),
    "numpy_arrays": lambda t: t.testing.assert_close(np.array([1.0, 2.0]), np.array([1.0, 2.5])),
    "stride": lambda t: t.testing.assert_close(t.ones(2, 3).t(), t.ones(3, 2),
                                               check_stride=True),
    "stride_unchecked": lambda t: t.testing.assert_close(t.ones(2, 3).t(), t.ones(3, 2)),
    "requires_grad": lambda t: t.testing.assert_close(T(t, [1.0], requires_grad=True),
                                                      T(t, [1.5])),
    "empty": lambda t: t.testing.assert_close(t.zeros(0, 3), t.zeros(0, 3)),
    "large_percent": lambda t: t.testing.assert_close(t.arange(1000.0),
                                                      t.arange(1000.0) * 1.5),
}


@pytest.mark.parametrize("name", list(CASES))
def test_assert_close_matches_torch(name):
    got, want = _outcome(ember, CASES[name]), _outcome(torch, CASES[name])
    assert got == want


def test_assert_allclose_deprecated():
    for lib in (ember, torch):
        with pytest.warns(FutureWarning, match="assert_allclose"):
            lib.testing.assert_allclose(lib.tensor([1.0, 2.0]), [1.0, 2.00001])
    with pytest.warns(FutureWarning):
        got = _outcome(ember, lambda t: t.testing.assert_allclose(T(t, [1.0]), [1.1]))
        want = _outcome(torch, lambda t: t.testing.assert_allclose(T(t, [1.0]), [1.1]))
    assert got == want and got is not None


MAKE = [
    ((3, 4), "float32", {}),
    ((5,), "float64", {"low": -1, "high": 1}),
    ((2, 3), "int64", {}),
    ((2, 3), "int32", {"low": 0, "high": 100}),
    ((17,), "uint8", {}),
    ((4, 4), "bool", {}),
    ((3, 2), "float32", {"noncontiguous": True}),
    ((6,), "int8", {"exclude_zero": True, "low": -2, "high": 2}),
    ((6,), "float64", {"exclude_zero": True}),
    ([2, 5], "float32", {"low": -1e39, "high": 1e39}),
    ((3,), "float16", {}),
]


@pytest.mark.parametrize("shape,dtype,kw", MAKE, ids=[f"{d}-{i}" for i, (_, d, _k) in
                                                      enumerate(MAKE)])
def test_make_tensor_seeded_values(shape, dtype, kw):
    ember.manual_seed(4)
    torch.manual_seed(4)
    e = ember.testing.make_tensor(shape, dtype=getattr(ember, dtype), device="cpu", **kw)
    t = torch.testing.make_tensor(shape, dtype=getattr(torch, dtype), device="cpu", **kw)
    assert tuple(e.shape) == tuple(t.shape)
    assert e.is_contiguous() == t.is_contiguous()
    np.testing.assert_array_equal(e.numpy(), t.numpy())


def test_make_tensor_star_shape_and_grad():
    ember.manual_seed(1)
    torch.manual_seed(1)
    e = ember.testing.make_tensor(2, 3, dtype=ember.float32, device="cpu", requires_grad=True)
    t = torch.testing.make_tensor(2, 3, dtype=torch.float32, device="cpu", requires_grad=True)
    assert e.requires_grad and t.requires_grad
    np.testing.assert_array_equal(e.detach().numpy(), t.detach().numpy())


BAD_MAKE = {
    "grad_int": lambda t: t.testing.make_tensor(3, dtype=t.int64, device="cpu",
                                                requires_grad=True),
    "low_high": lambda t: t.testing.make_tensor(3, dtype=t.float32, device="cpu", low=2,
                                                high=1),
    "nan": lambda t: t.testing.make_tensor(3, dtype=t.float32, device="cpu", low=math.nan),
    "outside": lambda t: t.testing.make_tensor(3, dtype=t.uint8, device="cpu", low=-5,
                                               high=-1),
    "outside_default_low": lambda t: t.testing.make_tensor(3, dtype=t.uint8, device="cpu",
                                                           high=-3),
}


@pytest.mark.parametrize("name", list(BAD_MAKE))
def test_make_tensor_errors(name):
    assert _outcome(ember, BAD_MAKE[name]) == _outcome(torch, BAD_MAKE[name])
