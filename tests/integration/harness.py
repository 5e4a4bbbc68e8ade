"""Run one PyTorch program under real torch and under ember, and compare what it returns.

A program is a function ``program(torch)`` written exactly as PyTorch code is (``nn =
torch.nn``, ``F = torch.nn.functional``, ...). It returns a nested structure of numbers,
strings, lists, dicts, NumPy arrays or tensors; both runs must return the same structure,
with strings and integers equal and floats equal to float32 tolerance.
"""

import numbers

import numpy as np
import torch

import ember


def _plain(x):
    """Tensors (of either library) as NumPy arrays; containers recursively."""
    if isinstance(x, (torch.Tensor, ember.Tensor)):
        return x.detach().numpy()
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    return x


def assert_same(e, t, path="result", rtol=1e-4, atol=1e-5):
    """``e`` (ember's run) equals ``t`` (torch's run), recursively."""
    if isinstance(t, dict):
        assert isinstance(e, dict) and list(e) == list(t), (path, list(e), list(t))
        for k in t:
            assert_same(e[k], t[k], f"{path}[{k!r}]", rtol, atol)
    elif isinstance(t, list):
        assert isinstance(e, list) and len(e) == len(t), (path, e, t)
        for i, (a, b) in enumerate(zip(e, t)):
            assert_same(a, b, f"{path}[{i}]", rtol, atol)
    elif isinstance(t, (str, bool, type(None))):
        assert e == t, f"{path}: ember {e!r} != torch {t!r}"
    elif isinstance(t, numbers.Integral):
        assert isinstance(e, numbers.Integral) and e == t, f"{path}: ember {e!r} != torch {t!r}"
    elif isinstance(t, numbers.Real):
        assert isinstance(e, numbers.Real) and not isinstance(e, bool), (path, type(e))
        np.testing.assert_allclose(e, t, rtol=rtol, atol=atol, err_msg=path)
    else:
        t = np.asarray(t)
        assert isinstance(e, np.ndarray), f"{path}: ember gave {type(e).__name__}"
        assert e.dtype == t.dtype and e.shape == t.shape, (path, e.dtype, t.dtype, e.shape,
                                                            t.shape)
        if t.dtype.kind in "fc":
            np.testing.assert_allclose(e, t, rtol=rtol, atol=atol, err_msg=path)
        else:
            np.testing.assert_array_equal(e, t, err_msg=path)


def run_both(program, *args, rtol=1e-4, atol=1e-5, **kwargs):
    """Run ``program`` with torch and with ember (same seed first); compare the results."""
    torch.manual_seed(0)
    expected = _plain(program(torch, *args, **kwargs))
    ember.manual_seed(0)
    got = _plain(program(ember, *args, **kwargs))
    assert_same(got, expected, rtol=rtol, atol=atol)
    return got
