"""Issue 16 items 7 and 8: negative sizes and norm layers given the wrong feature count raise
PyTorch's RuntimeError with its message (they used to leak NumPy's ValueError, or return an
empty tensor)."""

import warnings

import pytest
import torch

import ember
from tests.parity import same_error


def _outcome(fn, lib):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fn(lib)
        except Exception as e:          # noqa: BLE001 - the exception is what is compared
            return type(e).__name__, str(e)
    return None


def _same(fn):
    same_error(fn)


NEGATIVE = {
    "randn": lambda t: t.randn(-1),
    "randn_2d": lambda t: t.randn(2, -3),
    "rand": lambda t: t.rand(-3),
    "randint": lambda t: t.randint(0, 5, (-1,)),
    "randint_high": lambda t: t.randint(5, (2, -1)),
    "randperm": lambda t: t.randperm(-1),
    "normal": lambda t: t.normal(0.0, 1.0, (-1,)),
    "zeros": lambda t: t.zeros(-1),
    "zeros_tuple": lambda t: t.zeros((3, -1)),
    "ones": lambda t: t.ones(-1),
    "empty": lambda t: t.empty(2, -1),
    "full": lambda t: t.full((-2, 3), 1.0),
}


@pytest.mark.parametrize("name", NEGATIVE)
def test_negative_size(name):
    _same(NEGATIVE[name])


def _module(cls, *args, train=True, shape, **kw):
    def run(t):
        m = getattr(t.nn, cls)(*args, **kw)
        m.train(train)
        m(t.randn(*shape))
    return run


NORMS = {}
for _train in (True, False):
    _m = "train" if _train else "eval"
    NORMS.update({
        f"bn1d_{_m}": _module("BatchNorm1d", 3, train=_train, shape=(4, 5)),
        f"bn1d_seq_{_m}": _module("BatchNorm1d", 3, train=_train, shape=(4, 5, 7)),
        f"bn2d_{_m}": _module("BatchNorm2d", 3, train=_train, shape=(2, 4, 5, 5)),
        f"bn3d_{_m}": _module("BatchNorm3d", 3, train=_train, shape=(2, 4, 2, 2, 2)),
        f"bn2d_nostats_{_m}": _module("BatchNorm2d", 3, train=_train, shape=(2, 4, 3, 3),
                                      track_running_stats=False),
        f"bn2d_noaffine_{_m}": _module("BatchNorm2d", 3, train=_train, shape=(2, 4, 3, 3),
                                       affine=False),
        f"groupnorm_{_m}": _module("GroupNorm", 2, 4, train=_train, shape=(2, 6, 3)),
    })
NORMS.update({
    "f_batch_norm_weight": lambda t: t.nn.functional.batch_norm(
        t.randn(2, 4), None, None, t.ones(3), training=True),
    "f_batch_norm_bias": lambda t: t.nn.functional.batch_norm(
        t.randn(2, 4), None, None, None, t.ones(3), training=True),
    "f_batch_norm_var": lambda t: t.nn.functional.batch_norm(
        t.randn(2, 4), t.zeros(4), t.ones(3), training=True),
    "f_group_norm_weight": lambda t: t.nn.functional.group_norm(t.randn(2, 4, 3), 2, t.ones(3)),
    "f_instance_norm_weight": lambda t: t.nn.functional.instance_norm(
        t.randn(2, 4, 3), weight=t.ones(3)),
    "f_instance_norm_stats": lambda t: t.nn.functional.instance_norm(
        t.randn(2, 4, 3), t.zeros(3), t.ones(3)),
})


@pytest.mark.parametrize("name", NORMS)
def test_norm_feature_count(name):
    _same(NORMS[name])


def test_group_norm_bias_count():
    # PyTorch's message prints the bias shape as [0] (a quirk); the type and the rest agree.
    def fn(t):
        return t.nn.functional.group_norm(t.randn(2, 4, 3), 2, None, t.ones(3))
    (got, msg), (want, _) = _outcome(fn, ember), _outcome(fn, torch)
    assert got == want == "RuntimeError"
    assert msg.startswith("Expected bias to be a vector of size equal to the number of channels")
