"""Tensor creation, dtypes and type promotion, attributes and conversions, against torch."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import ember

DTYPES = ["float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool"]


def name(dtype) -> str:
    return str(dtype).split(".")[-1]


def same_tensor(e, t):
    assert name(e.dtype) == name(t.dtype), (e.dtype, t.dtype)
    assert tuple(e.shape) == tuple(t.shape)
    np.testing.assert_array_equal(e.detach().numpy(), t.detach().numpy())


@pytest.mark.parametrize("data", [
    1, 2.5, True, [1, 2, 3], [1.0, 2, 3], [[True, False]], [[1, 2], [3, 4]], [], [[]],
    np.arange(4, dtype=np.int32), np.ones(3, dtype=np.float64), np.float32(2.0), np.float64(1.1),
    np.int32(3), (1, 2.5),
    # NumPy leaves among Python numbers: the leaves' dtypes promote, whichever comes first.
    [1.0, np.float64(2)], [np.float32(1), 2.0], [np.int32(1), 2], [np.float16(1), np.int64(2)],
    [[1.0, np.float64(2)], [3.0, 4.0]], [np.bool_(True), 2.5], [np.complex64(1), 2.0],
    [1 + 2j, np.float64(1)], [np.uint8(3), np.int8(1)], [np.arange(2, dtype=np.int32), [3, 4]],
    [[np.float32(1)], [2.0]]])
def test_tensor_infers_torch_dtypes(data):
    same_tensor(ember.tensor(data), torch.tensor(data))


@pytest.mark.parametrize("fn,args,kwargs", [
    ("zeros", (2, 3), {}), ("ones", ((2, 3),), {}), ("zeros", ([4],), {"dtype": "int32"}),
    ("full", ((2, 2), 7), {}), ("full", ((2,), 1.5), {}), ("full", ((2,), True), {}),
    ("arange", (5,), {}), ("arange", (1, 4, 0.5), {}), ("arange", (0.0, 1.0, 0.1), {}),
    ("arange", (10, 0, -3), {}), ("linspace", (0, 1, 5), {}), ("linspace", (-2.5, 7, 11), {}),
    ("linspace", (0, 1, 1), {}), ("eye", (3,), {}), ("eye", (2, 4), {"dtype": "int64"}),
    ("empty", (0,), {}), ("logspace", (0, 2, 3), {}),
])
def test_creation_functions(fn, args, kwargs):
    kw_e = {k: getattr(ember, v) if k == "dtype" else v for k, v in kwargs.items()}
    kw_t = {k: getattr(torch, v) if k == "dtype" else v for k, v in kwargs.items()}
    e, t = getattr(ember, fn)(*args, **kw_e), getattr(torch, fn)(*args, **kw_t)
    if fn == "empty":
        assert e.shape == t.shape and e.dtype.name == name(t.dtype)
    else:
        assert name(e.dtype) == name(t.dtype)
        np.testing.assert_allclose(e.numpy(), t.numpy(), rtol=1e-6)


def test_like_and_new_constructors():
    x = ember.ones(2, 3, dtype=ember.float64)
    for fn in ("zeros_like", "ones_like", "empty_like"):
        y = getattr(ember, fn)(x)
        assert y.shape == (2, 3) and y.dtype is ember.float64
    assert ember.full_like(x, 3).numpy().tolist() == [[3.0] * 3] * 2
    assert x.new_zeros(4).dtype is ember.float64 and x.new_ones((2,)).shape == (2,)
    assert x.new_full((2,), 5).tolist() == [5.0, 5.0]
    assert x.new_tensor([1, 2]).dtype is ember.float64


@pytest.mark.parametrize("a", DTYPES)
@pytest.mark.parametrize("b", DTYPES)
def test_tensor_tensor_promotion(a, b):
    ea, eb = ember.ones(2, dtype=getattr(ember, a)), ember.ones(2, dtype=getattr(ember, b))
    ta, tb = torch.ones(2, dtype=getattr(torch, a)), torch.ones(2, dtype=getattr(torch, b))
    assert name(ember.result_type(ea, eb)) == name(torch.result_type(ta, tb))
    assert name(ember.promote_types(ea.dtype, eb.dtype)) == name(torch.promote_types(ta.dtype,
                                                                                      tb.dtype))
    if not (a == "bool" and b == "bool"):
        assert name((ea * eb).dtype) == name((ta * tb).dtype)


@pytest.mark.parametrize("a", DTYPES)
@pytest.mark.parametrize("scalar", [2, 2.5, True])
def test_python_scalar_never_upcasts_within_category(a, scalar):
    ea, ta = ember.ones(2, dtype=getattr(ember, a)), torch.ones(2, dtype=getattr(torch, a))
    assert name((ea * scalar).dtype) == name((ta * scalar).dtype)
    assert name((ea + scalar).dtype) == name((ta + scalar).dtype)


@pytest.mark.parametrize("a", DTYPES)
@pytest.mark.parametrize("b", DTYPES)
def test_zero_dim_tensors_only_promote_across_categories(a, b):
    ea, eb = ember.ones(3, dtype=getattr(ember, a)), ember.tensor(1, dtype=getattr(ember, b))
    ta, tb = torch.ones(3, dtype=getattr(torch, a)), torch.tensor(1, dtype=getattr(torch, b))
    assert name(ember.result_type(ea, eb)) == name(torch.result_type(ta, tb))


def test_default_dtype_changes_inference():
    ember.set_default_dtype(ember.float64)
    try:
        assert ember.tensor([1.5]).dtype is ember.float64
        assert (ember.tensor([1, 2]) * 0.5).dtype is ember.float64
        assert ember.zeros(1).dtype is ember.float64
    finally:
        ember.set_default_dtype(ember.float32)
    with pytest.raises(TypeError):
        ember.set_default_dtype(ember.int64)


def test_int_true_division_and_float_ops_give_default_float():
    a = ember.tensor([1, 2, 3])
    assert (a / 2).dtype is ember.float32
    assert ember.exp(a).dtype is ember.float32
    assert a.sum().dtype is ember.int64
    assert ember.tensor([True, False]).sum().dtype is ember.int64


def test_attributes_and_conversions():
    x = ember.arange(6.0).reshape(2, 3)
    assert isinstance(x.shape, ember.Size) and x.shape == (2, 3) and x.size() == (2, 3)
    assert repr(x.shape) == "ember.Size([2, 3])"
    assert x.size(1) == 3 and x.size(-1) == 3 and x.dim() == 2 and x.ndim == 2
    assert x.numel() == 6 and len(x) == 2 and x.element_size() == 4
    assert x.device == ember.device("cpu") and str(x.device) == "cpu"
    assert x.to("cpu") is x and x.cpu() is x
    assert x[1, 2].item() == 5.0 and isinstance(x[1, 2].item(), float)
    assert x.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    assert [r.tolist() for r in x] == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    assert float(x[0, 1]) == 1.0 and int(x[1, 1]) == 4 and bool(x[0, 1]) is True
    assert [10, 20, 30][ember.tensor(1)] == 20
    assert f"{ember.tensor(0.123456):.3f}" == "0.123"
    assert np.asarray(x).shape == (2, 3)
    for meth, dt in [("float", "float32"), ("double", "float64"), ("long", "int64"),
                     ("int", "int32"), ("bool", "bool"), ("half", "float16")]:
        assert getattr(x, meth)().dtype.name == dt
    assert x.to(ember.float64).dtype is ember.float64
    assert x.to(ember.zeros(1, dtype=ember.int32)).dtype is ember.int32
    assert x.clone() is not x and x.clone().tolist() == x.tolist()
    assert x.type() == "ember.FloatTensor"
    assert x.t().is_contiguous() is False and x.t().contiguous().is_contiguous()
    assert x.stride() == (3, 1) and x.t().stride() == (1, 3)


@pytest.mark.parametrize("call,exc,msg", [
    (lambda t: len(t.tensor(1.0)), TypeError, "len() of a 0-d tensor"),
    (lambda t: bool(t.ones(2)), RuntimeError, "Boolean value of Tensor with more than one"),
    (lambda t: t.ones(2).item(), RuntimeError, "a Tensor with 2 elements cannot be converted"),
    (lambda t: iter(t.tensor(1.0)), TypeError, "iteration over a 0-d tensor"),
    (lambda t: t.ones(2, 3).reshape(4), RuntimeError, "shape '[4]' is invalid for input of size 6"),
    (lambda t: t.ones(2, 3).view(-1, -1), RuntimeError, "only one dimension can be inferred"),
    (lambda t: t.ones(2, 3).t().view(6), RuntimeError, "view size is not compatible"),
    (lambda t: t.ones(2, 3) @ t.ones(2, 3), RuntimeError, "cannot be multiplied (2x3 and 2x3)"),
    (lambda t: t.ones(2, 3) + t.ones(3, 2), RuntimeError, None),
    (lambda t: t.ones(2).sum(dim=2), IndexError, "Dimension out of range"),
    (lambda t: t.ones(2, 3).expand(3, 3), RuntimeError, "The expanded size of the tensor (3) "
                                                        "must match the existing size (2)"),
    (lambda t: t.ones(3)[5], IndexError, "index 5 is out of bounds for dimension 0 with size 3"),
    (lambda t: t.ones(2).add_(t.ones(2, 2)), RuntimeError, "doesn't match the broadcast shape"),
    (lambda t: t.ones(2, dtype=t.int64).add_(1.5), RuntimeError,
     "result type Float can't be cast to the desired output type Long"),
    (lambda t: t.tensor([True]) - t.tensor([True]), RuntimeError, "Subtraction, the `-` operator"),
    (lambda t: -t.tensor([True]), RuntimeError, "Negation, the `-` operator, on a bool tensor"),
    (lambda t: t.ones(2, dtype=t.int64).mean(), RuntimeError, "mean(): could not infer output "
                                                              "dtype"),
    (lambda t: t.ones(2, 3).permute(0), RuntimeError, None),
    (lambda t: t.ones(1).t().t().transpose(0, 2), IndexError, "Dimension out of range"),
])
def test_errors_match_torch(call, exc, msg):
    for lib in (torch, ember):
        with pytest.raises(exc) as info:
            call(lib)
        if msg is not None:
            assert msg in str(info.value), f"{lib.__name__}: {info.value}"


shapes = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3)


@given(shapes=shapes, op=st.sampled_from(["add", "sub", "mul", "div", "maximum_like"]),
       seed=st.integers(0, 2**16))
def test_broadcasting_forward_and_gradients(shapes, op, seed):
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.5, 2, size=shapes.input_shapes[0])
    b = rng.uniform(0.5, 2, size=shapes.input_shapes[1])
    fns = {"add": lambda x, y: x + y, "sub": lambda x, y: x - y, "mul": lambda x, y: x * y,
           "div": lambda x, y: x / y, "maximum_like": lambda x, y: (x * y).exp() - x}
    results = []
    for lib in (ember, torch):
        x = lib.tensor(a, requires_grad=True)
        y = lib.tensor(b, requires_grad=True)
        out = fns[op](x, y)
        out.sum().backward()
        results.append((out.detach().numpy(), x.grad.numpy(), y.grad.numpy()))
    for e, t in zip(*results):
        assert e.shape == t.shape
        np.testing.assert_allclose(e, t, rtol=1e-10, atol=1e-12)


def _torch_repr(t) -> str:
    return repr(t).replace("torch.", "ember.")


@pytest.mark.parametrize("seed", range(12))
def test_repr_of_real_tensors_matches_torch(seed):
    rng = np.random.default_rng(seed)
    shape = tuple(rng.integers(0, 5, size=rng.integers(0, 4)))
    scale = 10.0 ** rng.integers(-6, 9)
    data = rng.standard_normal(shape) * scale
    for dtype in ("float32", "float64", "int64", "int32", "bool", "float16"):
        a = data.astype(dtype) if dtype != "bool" else data > 0
        assert repr(ember.tensor(a)) == _torch_repr(torch.tensor(a))


def test_repr_with_autograd_suffixes():
    for lib in (ember, torch):
        lib.set_printoptions(precision=4)
    x_e = ember.tensor([[0.5, -1.25], [3.0, 1e-3]], requires_grad=True)
    x_t = torch.tensor([[0.5, -1.25], [3.0, 1e-3]], requires_grad=True)
    assert repr(x_e) == _torch_repr(x_t)
    for fn in (lambda x: x * 2, lambda x: x.exp(), lambda x: x.sum(), lambda x: x.mean(0),
               lambda x: x.t(), lambda x: x @ x, lambda x: x[0], lambda x: x.double()):
        assert repr(fn(x_e)) == _torch_repr(fn(x_t))
    p_e = ember.nn.Parameter(ember.ones(2))
    p_t = torch.nn.Parameter(torch.ones(2))
    assert repr(p_e) == _torch_repr(p_t)
    assert str(x_e) == repr(x_e)
