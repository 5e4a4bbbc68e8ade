"""``assert_close``: compare tensors, numbers and nested containers of them with PyTorch's
per-dtype tolerances, and report a mismatch in PyTorch's words.

The comparison walks sequences and mappings in parallel (each leaf remembers its path, for
"The failure occurred for item [...]"), then pairs each leaf with the first handler that
accepts it: None, bools, Python/NumPy numbers, then tensor-likes (tensors, NumPy arrays).
Structural problems (lengths, keys, unsupported types, a half-given tolerance) are raised as
soon as they are found; value mismatches are collected and the first one is raised.
"""

from __future__ import annotations

import cmath
import collections.abc
import warnings
from collections.abc import Callable
from typing import Any

import ember

from .._backend import ndarray, xp
from .._tensor import Tensor

__all__ = ["assert_close", "assert_allclose"]

# {dtype name: (rtol, atol)}; every other dtype (integers, bool) compares exactly.
_DTYPE_PRECISIONS = {
    "float16": (0.001, 1e-5),
    "bfloat16": (0.016, 1e-5),
    "float32": (1.3e-6, 1e-5),
    "float64": (1e-7, 1e-7),
    "complex32": (0.001, 1e-5),
    "complex64": (1.3e-6, 1e-5),
    "complex128": (1e-7, 1e-7),
}
# Python number types compare like the tensor dtype they would become.
_NUMBER_DTYPE = {int: "int64", float: "float64", complex: "complex128"}


class _Failure(Exception):
    """A comparison failure: the exception type to raise, its message, and the item path."""

    def __init__(self, exc_type: type, msg: str, path: tuple = ()):
        super().__init__(msg)
        self.exc_type, self.msg, self.path = exc_type, msg, path

    def to_error(self, msg: str | Callable[[str], str] | None = None) -> Exception:
        if isinstance(msg, str):
            return self.exc_type(msg)
        text = self.msg
        if self.path:
            text += "\n\nThe failure occurred for item " + "".join(str([p]) for p in self.path)
        return self.exc_type(msg(text) if callable(msg) else text)


class _Unsupported(Exception):
    """This handler does not take these inputs; try the next one."""


def _tolerances(dtype_names, rtol, atol, path):
    if (rtol is None) ^ (atol is None):
        raise _Failure(ValueError, "Both 'rtol' and 'atol' must be either specified or "
                       f"omitted, but got no {'rtol' if rtol is None else 'atol'}.", path)
    if rtol is not None:
        return rtol, atol
    pairs = [_DTYPE_PRECISIONS.get(name, (0.0, 0.0)) for name in dtype_names]
    return max(p[0] for p in pairs), max(p[1] for p in pairs)


# -- mismatch messages ----------------------------------------------------------------

def _mismatch_msg(identifier, extra, abs_diff, abs_idx, atol, rel_diff, rel_idx, rtol):
    equality = rtol == 0 and atol == 0

    def line(kind, diff, idx, tol):
        text = (f"{kind.title()} difference: {diff}" if idx is None
                else f"Greatest {kind} difference: {diff} at index {idx}")
        return text + ("" if equality else f" (up to {tol} allowed)") + "\n"

    msg = f"{identifier} are not {'equal' if equality else 'close'}!\n\n"
    if extra:
        msg += f"{extra.strip()}\n"
    msg += line("absolute", abs_diff, abs_idx, atol)
    msg += line("relative", rel_diff, rel_idx, rtol)
    return msg.strip()


def _scalar_msg(actual, expected, rtol, atol, identifier="Scalars"):
    abs_diff = abs(actual - expected)
    rel_diff = float("inf") if expected == 0 else abs_diff / abs(expected)
    return _mismatch_msg(identifier, f"Expected {expected} but got {actual}.", abs_diff, None,
                         atol, rel_diff, None, rtol)


def _tensor_msg(actual, expected, matches, rtol, atol, identifier="Tensor-likes"):
    a, e, m = actual._data.ravel(), expected._data.ravel(), matches._data.ravel()
    total, mismatched = m.size, int(m.size - m.sum())
    extra = f"Mismatched elements: {mismatched} / {total} ({mismatched / total:.1%})"
    kind = a.dtype.kind
    if kind not in "fc":                       # integers and bools: differences in int64
        a, e = a.astype(xp.int64), e.astype(xp.int64)
    with xp.errstate(all="ignore"):
        abs_diff = xp.abs(a - e)
        abs_diff[m] = 0
        # integer / integer is true division in the default float dtype, as in torch
        denom = xp.abs(e)
        if kind not in "fc":
            fdt = ember.get_default_dtype().np
            rel_diff = abs_diff.astype(fdt) / denom.astype(fdt)
        else:
            rel_diff = abs_diff / denom
            if kind == "c":
                rel_diff = rel_diff.real
        rel_diff[m] = 0
    shape = tuple(matches.shape)

    def where(flat):
        return tuple(int(i) for i in xp.unravel_index(flat, shape)) if shape else ()

    ai, ri = int(xp.argmax(abs_diff)), int(xp.argmax(rel_diff))
    return _mismatch_msg(identifier, extra, abs_diff[ai].item(), where(ai), atol,
                         rel_diff[ri].item(), where(ri), rtol)


# -- leaf handlers --------------------------------------------------------------------

def _compare_none(actual, expected, path, opts):
    if actual is not None and expected is not None:
        raise _Unsupported
    return lambda: _check(actual is None and expected is None, AssertionError,
                          f"None mismatch: {actual} is not {expected}", path)


def _check(ok: bool, exc_type, msg, path):
    if not ok:
        raise _Failure(exc_type, msg, path)


def _compare_bool(actual, expected, path, opts):
    if not all(isinstance(v, (bool, xp.bool_)) for v in (actual, expected)):
        raise _Unsupported
    a, e = bool(actual), bool(expected)
    return lambda: _check(a is e, AssertionError, f"Booleans mismatch: {a} is not {e}", path)


def _compare_number(actual, expected, path, opts):
    kinds = (int, float, complex, xp.number)
    if not all(isinstance(v, kinds) for v in (actual, expected)):
        raise _Unsupported
    a, e = (v.item() if isinstance(v, xp.number) else v for v in (actual, expected))
    rtol, atol = _tolerances([_NUMBER_DTYPE[type(v)] for v in (a, e)], opts["rtol"],
                             opts["atol"], path)

    def compare():
        if opts["check_dtype"] and type(a) is not type(e):
            raise _Failure(AssertionError,
                           f"The (d)types do not match: {type(a)} != {type(e)}.", path)
        if a == e:
            return
        if opts["equal_nan"] and cmath.isnan(a) and cmath.isnan(e):
            return
        diff = abs(a - e)
        if cmath.isfinite(diff) and diff <= atol + rtol * abs(e):
            return
        raise _Failure(AssertionError, _scalar_msg(a, e, rtol, atol), path)
    return compare


def _as_tensor(value):
    if isinstance(value, Tensor):
        return value
    try:
        return ember.as_tensor(value)
    except Exception:  # noqa: BLE001 - anything not array-like is simply not a tensor-like
        raise _Unsupported from None


def _compare_tensor(actual, expected, path, opts):
    related = isinstance(actual, type(expected)) or isinstance(expected, type(actual))
    if not related or (not opts["allow_subclasses"] and type(actual) is not type(expected)):
        raise _Unsupported
    if not isinstance(actual, (Tensor, ndarray)) and not isinstance(expected,
                                                                  (Tensor, ndarray)):
        raise _Unsupported
    a, e = _as_tensor(actual), _as_tensor(expected)
    rtol, atol = _tolerances([a.dtype.name if hasattr(a.dtype, "name") else str(a.dtype),
                              e.dtype.name if hasattr(e.dtype, "name") else str(e.dtype)],
                             opts["rtol"], opts["atol"], path)

    def mismatch(name, x, y):
        raise _Failure(AssertionError,
                       f"The values for attribute '{name}' do not match: {x} != {y}.", path)

    def compare():
        x, y = a, e
        if x.shape != y.shape:
            mismatch("shape", x.shape, y.shape)
        if opts["check_layout"] and x.layout != y.layout:
            mismatch("layout", x.layout, y.layout)
        elif opts["check_stride"] and x.stride() != y.stride():
            mismatch("stride()", x.stride(), y.stride())
        if opts["check_device"] and x.device != y.device:
            mismatch("device", x.device, y.device)
        if opts["check_dtype"] and x.dtype != y.dtype:
            mismatch("dtype", x.dtype, y.dtype)
        if x.dtype != y.dtype:
            dt = ember.promote_types(x.dtype, y.dtype)
            x, y = x.to(dt), y.to(dt)
        x, y = x.detach(), y.detach()
        matches = ember.isclose(x, y, rtol=rtol, atol=atol, equal_nan=opts["equal_nan"])
        if bool(matches.all()):
            return
        if x.dim() == 0:
            raise _Failure(AssertionError, _scalar_msg(x.item(), y.item(), rtol, atol), path)
        raise _Failure(AssertionError, _tensor_msg(x, y, matches, rtol, atol), path)
    return compare


_HANDLERS = (_compare_none, _compare_bool, _compare_number, _compare_tensor)


def _pairs(actual, expected, path, opts, out):
    """Walk containers in parallel; append one comparison callable per leaf."""
    seq = collections.abc.Sequence
    if (isinstance(actual, seq) and not isinstance(actual, str)
            and isinstance(expected, seq) and not isinstance(expected, str)):
        if len(actual) != len(expected):
            raise _Failure(AssertionError, f"The length of the sequences mismatch: "
                           f"{len(actual)} != {len(expected)}", path)
        for i in range(len(actual)):
            _pairs(actual[i], expected[i], (*path, i), opts, out)
        return
    mapping = collections.abc.Mapping
    if isinstance(actual, mapping) and isinstance(expected, mapping):
        ka, ke = set(actual.keys()), set(expected.keys())
        if ka != ke:
            raise _Failure(AssertionError,
                           "The keys of the mappings do not match:\n"
                           f"Missing keys in the actual mapping: {sorted(ke - ka)}\n"
                           f"Additional keys in the actual mapping: {sorted(ka - ke)}", path)
        keys = ka
        try:
            keys = sorted(keys)
        except Exception:  # noqa: BLE001 - unorderable keys keep set order, as in torch
            pass
        for k in keys:
            _pairs(actual[k], expected[k], (*path, k), opts, out)
        return
    for handler in _HANDLERS:
        try:
            out.append(handler(actual, expected, path, opts))
            return
        except _Unsupported:
            continue
    raise _Failure(TypeError, f"No comparison pair was able to handle inputs of type "
                   f"{type(actual)} and {type(expected)}.", path)


def assert_close(actual: Any, expected: Any, *, allow_subclasses: bool = True,
                 rtol: float | None = None, atol: float | None = None,
                 equal_nan: bool = False, check_device: bool = True,
                 check_dtype: bool = True, check_layout: bool = True,
                 check_stride: bool = False,
                 msg: str | Callable[[str], str] | None = None) -> None:
    """Assert that ``actual`` and ``expected`` are close:
    ``|actual - expected| <= atol + rtol * |expected|`` elementwise.

    Tensors, NumPy arrays, Python/NumPy numbers, bools and ``None`` compare as leaves;
    sequences and mappings are compared element by element. Without ``rtol``/``atol`` the
    tolerances come from the dtypes (float32: 1.3e-6 / 1e-5, float64: 1e-7 / 1e-7,
    float16: 1e-3 / 1e-5, bfloat16: 1.6e-2 / 1e-5, integers and bool: exact).

    Args:
        actual, expected: the inputs.
        rtol, atol: relative and absolute tolerance (both or neither).
        equal_nan: treat two NaNs as equal.
        check_dtype / check_device / check_layout / check_stride: also compare those.
        msg: replace the failure message (a string) or transform it (a callable).

    Raises:
        ValueError: if only one of ``rtol`` and ``atol`` is given.
        TypeError: if an input pair has no comparison.
        AssertionError: if the inputs (or their structure or attributes) differ.

    Example::

        >>> ember.testing.assert_close(ember.tensor([1.0, 2.0]), ember.tensor([1.0, 2.0]))
    """
    __tracebackhide__ = True
    opts = {"allow_subclasses": allow_subclasses, "rtol": rtol, "atol": atol,
            "equal_nan": equal_nan, "check_device": check_device, "check_dtype": check_dtype,
            "check_layout": check_layout, "check_stride": check_stride}
    comparisons: list = []
    try:
        _pairs(actual, expected, (), opts, comparisons)
    except _Failure as failure:
        raise failure.to_error() from None      # structural problems ignore ``msg``
    for compare in comparisons:
        try:
            compare()
        except _Failure as failure:
            raise failure.to_error(msg) from None


def assert_allclose(actual: Any, expected: Any, rtol: float | None = None,
                    atol: float | None = None, equal_nan: bool = True,
                    msg: str = "") -> None:
    """Deprecated: use :func:`assert_close` (looser defaults, dtype not checked)."""
    warnings.warn("`torch.testing.assert_allclose()` is deprecated since 1.12 and will be "
                  "removed in a future release. Please use `torch.testing.assert_close()` "
                  "instead. You can find detailed upgrade instructions in "
                  "https://github.com/pytorch/pytorch/issues/61844.", FutureWarning,
                  stacklevel=2)
    if not isinstance(actual, Tensor):
        actual = ember.tensor(actual)
    if not isinstance(expected, Tensor):
        expected = ember.tensor(expected, dtype=actual.dtype)
    if rtol is None and atol is None:
        legacy = {"float16": (1e-3, 1e-3), "float32": (1e-4, 1e-5), "float64": (1e-5, 1e-8)}
        pairs = [legacy.get(t.dtype.name, (0.0, 0.0)) for t in (actual, expected)]
        rtol, atol = max(p[0] for p in pairs), max(p[1] for p in pairs)
    assert_close(actual, expected, rtol=rtol, atol=atol, equal_nan=equal_nan,
                 check_device=True, check_dtype=False, check_stride=False, msg=msg or None)


