"""ember.finfo / ember.iinfo against torch's."""

import pytest
import torch

import ember

FLOATS = ["float16", "float32", "float64"]
INTS = ["uint8", "int8", "int16", "int32", "int64"]


@pytest.mark.parametrize("name", FLOATS)
def test_finfo_matches_torch(name):
    got, want = ember.finfo(getattr(ember, name)), torch.finfo(getattr(torch, name))
    for attr in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution"):
        assert getattr(got, attr) == getattr(want, attr), attr
    assert repr(got) == repr(want)


def test_finfo_default_is_the_default_dtype():
    assert repr(ember.finfo()) == repr(torch.finfo())


@pytest.mark.parametrize("name", INTS)
def test_iinfo_matches_torch(name):
    got, want = ember.iinfo(getattr(ember, name)), torch.iinfo(getattr(torch, name))
    assert (got.bits, got.min, got.max) == (want.bits, want.min, want.max)
    assert repr(got) == repr(want)
