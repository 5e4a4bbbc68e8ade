"""DLPack interop: ember tensors go to and come from torch and NumPy sharing memory (writes
show through both ways), with torch's refusals (tensors requiring grad) and dtype checks."""

import numpy as np
import pytest
import torch

import ember
from ember._dlpack import from_dlpack

DTYPES = ["float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8", "bool",
          "complex64", "complex128"]


def shares(a: np.ndarray, b: np.ndarray) -> bool:
    return np.shares_memory(a, b)


@pytest.mark.parametrize("dtype", DTYPES)
def test_torch_to_ember_and_back(dtype):
    t = torch.from_numpy(np.arange(12).reshape(3, 4).astype(dtype))
    e = from_dlpack(t)
    assert isinstance(e, ember.Tensor)
    assert str(e.dtype) == str(t.dtype).replace("torch", "ember")
    assert e.shape == tuple(t.shape)
    np.testing.assert_array_equal(e.numpy(), t.numpy())
    assert shares(e.numpy(), t.numpy())
    back = torch.from_dlpack(e)
    assert back.dtype == t.dtype and back.data_ptr() == t.data_ptr()


def test_writes_show_through_both_ways():
    t = torch.zeros(4)
    e = from_dlpack(t)
    e[1] = 5.0
    t[2] = 7.0
    assert e.tolist() == t.tolist() == [0.0, 5.0, 7.0, 0.0]
    e2 = ember.arange(4.0)
    t2 = torch.from_dlpack(e2)
    t2.mul_(2)
    assert e2.tolist() == [0.0, 2.0, 4.0, 6.0]


@pytest.mark.parametrize("shape", [(), (0,), (0, 3), (5,), (2, 3, 4)])
def test_shapes_including_zero_d_and_empty(shape):
    e = ember.randn(shape) if 0 not in shape else ember.zeros(shape)
    t = torch.from_dlpack(e)
    assert tuple(t.shape) == shape
    np.testing.assert_array_equal(t.numpy(), e.numpy())
    back = from_dlpack(t)
    assert back.shape == shape and back.dim() == len(shape)


def test_non_contiguous_keeps_strides():
    base = torch.arange(12.0).reshape(3, 4)
    view = base.t()[:, ::2]
    e = from_dlpack(view)
    np.testing.assert_array_equal(e.numpy(), view.numpy())
    assert shares(e.numpy(), base.numpy())
    ev = ember.arange(12.0).reshape(3, 4).t()
    tv = torch.from_dlpack(ev)
    assert tv.stride() == (1, 4)
    np.testing.assert_array_equal(tv.numpy(), ev.numpy())


def test_numpy_round_trip():
    a = np.linspace(0, 1, 6, dtype=np.float32).reshape(2, 3)
    e = from_dlpack(a)
    assert shares(e.numpy(), a)
    n = np.from_dlpack(e)
    assert shares(n, a)
    n[0, 0] = 42
    assert e[0, 0].item() == 42


def test_ember_to_ember_aliases():
    a = ember.ones(3)
    b = from_dlpack(a)
    assert b is not a and shares(a.numpy(), b.numpy())
    assert not b.requires_grad and b.grad_fn is None


def test_legacy_capsule():
    t = torch.arange(5.0)
    e = from_dlpack(torch.utils.dlpack.to_dlpack(t))
    assert shares(e.numpy(), t.numpy())
    assert e.tolist() == t.tolist()


def test_copy_flag():
    t = torch.arange(3.0)
    copied = from_dlpack(t, copy=True)
    assert not shares(copied.numpy(), t.numpy()) and copied.tolist() == t.tolist()
    assert shares(from_dlpack(t, copy=False).numpy(), t.numpy())


def test_device_protocol():
    e = ember.ones(2)
    assert e.__dlpack_device__() == tuple(torch.ones(2).__dlpack_device__()) == (1, 0)
    assert from_dlpack(torch.ones(2), device="cpu").tolist() == [1.0, 1.0]
    assert from_dlpack(torch.ones(2), device=ember.device("cpu")).shape == (2,)
    with pytest.raises(RuntimeError, match="CPU"):
        from_dlpack(torch.ones(2), device="cuda")


def test_requires_grad_is_refused_like_torch():
    msg = "Can't export tensors that require gradient, use tensor.detach()"
    with pytest.raises(BufferError) as theirs:
        torch.ones(2, requires_grad=True).__dlpack__()
    with pytest.raises(BufferError) as mine:
        ember.ones(2, requires_grad=True).__dlpack__()
    assert str(mine.value) == str(theirs.value) == msg
    with pytest.raises(BufferError, match="require gradient"):
        torch.from_dlpack(ember.ones(2, requires_grad=True) * 2)
    w = ember.ones(2, requires_grad=True)
    assert shares(torch.from_dlpack(w.detach()).numpy(), w.detach().numpy())


def test_unsupported_inputs():
    with pytest.raises(TypeError, match="__dlpack__"):
        from_dlpack([1.0, 2.0])
    # uint16 (limited support in PyTorch) now crosses as itself
    assert from_dlpack(torch.ones(2, dtype=torch.uint16)).dtype == ember.uint16


def test_jax_round_trip():
    jnp = pytest.importorskip("jax.numpy")
    j = jnp.arange(6.0, dtype=jnp.float32).reshape(2, 3)
    e = from_dlpack(j)
    np.testing.assert_array_equal(e.numpy(), np.asarray(j))
    back = jnp.from_dlpack(ember.arange(4.0))
    assert back.tolist() == [0.0, 1.0, 2.0, 3.0]
