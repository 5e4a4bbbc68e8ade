"""uint16, uint32 and uint64: PyTorch's limited-support unsigned dtypes (creation, printing,
conversion, promotion with floats, and the promotion error with other integer types)."""

import numpy as np
import pytest
import torch

import ember

NAMES = ["uint16", "uint32", "uint64"]


@pytest.mark.parametrize("name", NAMES)
def test_creation_printing_and_conversion(name):
    values = [0, 1, 2 ** 16 - 1] if name == "uint16" else [0, 7, 2 ** 32 - 1]
    e = ember.tensor(values, dtype=getattr(ember, name))
    t = torch.tensor(values, dtype=getattr(torch, name))
    assert repr(e).replace("ember", "torch") == repr(t)
    assert e.type().replace("ember", "torch") == t.type()
    assert e.dtype.itemsize == t.dtype.itemsize
    assert e.dtype.is_signed == t.dtype.is_signed
    assert e.dtype.is_floating_point == t.dtype.is_floating_point
    assert e.double().tolist() == t.double().tolist()
    assert e.long().tolist() == t.long().tolist()
    z_e, z_t = ember.zeros(2, 3, dtype=getattr(ember, name)), torch.zeros(2, 3,
                                                                         dtype=getattr(torch, name))
    assert repr(z_e).replace("ember", "torch") == repr(z_t)
    a = np.array([1, 2], dtype=name)
    assert str(ember.from_numpy(a).dtype).split(".")[1] == str(torch.from_numpy(a).dtype)[6:]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("other", ["int32", "uint8", "int64", "bool", "float32", "float64",
                                   "uint16"])
def test_promotion(name, other):
    try:
        expected = torch.promote_types(getattr(torch, name), getattr(torch, other))
    except RuntimeError as te:
        with pytest.raises(RuntimeError) as ee:
            ember.promote_types(getattr(ember, name), getattr(ember, other))
        assert str(ee.value) == str(te)
        return
    got = ember.promote_types(getattr(ember, name), getattr(ember, other))
    assert got.name == str(expected)[6:]
