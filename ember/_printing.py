"""Tensor ``repr`` that reproduces PyTorch's output byte for byte (with ``ember.`` dtypes).

The layout rules (common column width, fixed/scientific switch, wrapping, ``...`` summaries,
suffix placement) follow what PyTorch prints; the code is ember's own and works on NumPy
arrays. Only a summarised view of a large tensor is ever formatted.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

from . import _dtype
from ._backend import xp

__all__ = ["get_printoptions", "printoptions", "set_printoptions", "tensor_repr"]

_DEFAULTS: dict[str, Any] = {
    "precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80, "sci_mode": None,
}
_PROFILES: dict[str, dict[str, Any]] = {
    "default": {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80},
    "short": {"precision": 2, "threshold": 1000, "edgeitems": 2, "linewidth": 80},
    "full": {"precision": 4, "threshold": math.inf, "edgeitems": 3, "linewidth": 80},
}
_OPTS: dict[str, Any] = dict(_DEFAULTS)


def set_printoptions(precision: int | None = None, threshold: float | None = None,
                     edgeitems: int | None = None, linewidth: int | None = None,
                     profile: str | None = None, sci_mode: bool | None = None) -> None:
    """Set tensor print options, as ``torch.set_printoptions``.

    ``profile`` ('default', 'short' or 'full') is applied first; explicit arguments override
    it. As in PyTorch, ``sci_mode`` is always reset (to ``None`` when not given).
    """
    if profile is not None:
        _OPTS.update(_PROFILES.get(profile, {}))
    for key, value in (("precision", precision), ("threshold", threshold),
                       ("edgeitems", edgeitems), ("linewidth", linewidth)):
        if value is not None:
            _OPTS[key] = value
    _OPTS["sci_mode"] = sci_mode


def get_printoptions() -> dict[str, Any]:
    """The current print options, as keyword arguments for :func:`set_printoptions`."""
    return dict(_OPTS)


@contextlib.contextmanager
def printoptions(**kwargs: Any) -> Iterator[None]:
    """Temporarily change print options (same arguments as :func:`set_printoptions`)."""
    old = get_printoptions()
    set_printoptions(**kwargs)
    try:
        yield
    finally:
        set_printoptions(**old)


class _Formatter:
    """Decides how every element of one (real) array is written, and at what width."""

    def __init__(self, values, floating: bool):
        self.floating = floating
        self.int_mode = True
        self.sci_mode = False
        self.width = 1
        precision = _OPTS["precision"]
        flat = values.reshape(-1)
        if not floating:
            for v in set(flat.tolist()):
                self.width = max(self.width, len(str(v)))
            return
        finite = flat[xp.isfinite(flat) & (flat != 0)]
        if finite.size == 0:
            # Nothing to measure: PyTorch keeps its defaults and even ignores a forced
            # sci_mode here, so zeros/nan/inf alone print as "0.", "nan", "inf".
            return
        self.int_mode = bool(xp.all(xp.ceil(finite) == finite))
        mags = xp.abs(finite.astype(xp.float64))
        lo, hi = float(mags.min()), float(mags.max())
        forced = _OPTS["sci_mode"]
        if forced is None:
            self.sci_mode = hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4
        else:
            self.sci_mode = bool(forced)
        if self.sci_mode:
            spec, extra = f".{precision}e", 0
        elif self.int_mode:
            spec, extra = ".0f", 1  # room for the trailing "." of integral floats
        else:
            spec, extra = f".{precision}f", 0
        # Equal values format identically, so measure each distinct value once.
        for v in set(finite.tolist()):
            self.width = max(self.width, len(format(v, spec)) + extra)

    def format(self, value) -> str:
        if not self.floating:
            text = str(value)
        elif self.sci_mode:
            text = format(value, f"{self.width}.{_OPTS['precision']}e")
        elif self.int_mode:
            text = f"{value:.0f}"
            if math.isfinite(value):
                text += "."
        else:
            text = format(value, f".{_OPTS['precision']}f")
        return text.rjust(self.width)


def _edge_index(n: int, edge: int):
    """Indices kept along an axis of length ``n`` when summarising."""
    if n > 2 * edge:
        return xp.concatenate([xp.arange(edge), xp.arange(n - edge, n)])
    return xp.arange(n)


def _summarized(a, edge: int):
    """The elements a summarised print shows (what PyTorch sizes its columns from)."""
    if a.ndim == 0:
        return a
    if edge <= 0:
        # PyTorch: a 1-d tensor keeps everything (its `x[-0:]` is the whole), higher ones
        # nothing; either way only "..." is printed.
        return a if a.ndim == 1 else a[(slice(0, 0),) * a.ndim]
    return a[xp.ix_(*(_edge_index(n, edge) for n in a.shape))]


class _Printer:
    """Writes the bracketed body of a tensor (without prefix or suffixes)."""

    def __init__(self, data, dtype, summarize: bool):
        self.summarize = summarize
        self.edge = _OPTS["edgeitems"]
        self.is_complex = dtype.is_complex
        shown = _summarized(data, self.edge) if summarize else data
        if self.is_complex:
            self.fmt = _Formatter(shown.real, True)
            self.imag_fmt = _Formatter(shown.imag, True)
        else:
            self.fmt = _Formatter(shown, dtype.is_floating_point)
            self.imag_fmt = None

    def scalar(self, value) -> str:
        if self.imag_fmt is None:
            return self.fmt.format(value)
        real = self.fmt.format(value.real)
        imag = (self.imag_fmt.format(value.imag) + "j").lstrip()
        # An explicit sign (including that of -0.) already separates the two parts.
        return real + imag if imag[0] in "+-" else real + "+" + imag

    def elided(self, n: int) -> bool:
        return self.summarize and n > 2 * self.edge

    def vector(self, a, indent: int) -> str:
        width = self.fmt.width + 2
        if self.imag_fmt is not None:
            width += self.imag_fmt.width + 1
        per_line = max(1, math.floor((_OPTS["linewidth"] - indent) / width))
        if self.summarize and not self.edge:
            items = ["..."]
        elif self.elided(a.shape[0]):
            e = self.edge
            items = ([self.scalar(v) for v in a[:e].tolist()] + [" ..."]
                     + [self.scalar(v) for v in a[-e:].tolist()])
        else:
            items = [self.scalar(v) for v in a.tolist()]
        lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"

    def body(self, a, indent: int) -> str:
        if a.ndim == 0:
            return self.scalar(a.item())
        if a.ndim == 1:
            return self.vector(a, indent)
        n = a.shape[0]
        if self.elided(n):
            e = self.edge
            parts = ([self.body(a[i], indent + 1) for i in range(e)] + ["..."]
                     + [self.body(a[i], indent + 1) for i in range(n - e, n)])
        else:
            parts = [self.body(a[i], indent + 1) for i in range(n)]
        sep = "," + "\n" * (a.ndim - 1) + " " * (indent + 1)
        return "[" + sep.join(parts) + "]"


def _with_suffixes(text: str, suffixes: list[str], indent: int) -> str:
    out = [text]
    # PyTorch's count: one more than the last line's length, two more when single-line.
    last = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        if last + len(suffix) + 2 > _OPTS["linewidth"]:
            out.append(",\n" + " " * indent + suffix)
            last = indent + len(suffix)
        else:
            out.append(", " + suffix)
            last += len(suffix) + 2
    return "".join(out) + ")"


def tensor_repr(t: Any, prefix: str = "tensor(") -> str:
    """PyTorch's ``repr`` of tensor ``t``, e.g. ``tensor([1., 2.], requires_grad=True)``."""
    data, dtype = t._data, t.dtype
    indent = len(prefix)
    default = _dtype.get_default_dtype()
    suffixes = []
    if data.size == 0:
        if data.ndim != 1:
            suffixes.append(f"size={tuple(data.shape)}")
        # No element shows the kind, so even int64/bool are named for empty tensors.
        if dtype is not default:
            suffixes.append(f"dtype={dtype!r}")
        body = "[]"
    else:
        if not _OPTS["edgeitems"]:
            suffixes.append(f"size={tuple(data.shape)}")
        default_complex = _dtype.complex128 if default is _dtype.float64 else _dtype.complex64
        if dtype not in (default, default_complex, _dtype.int64, _dtype.bool):
            suffixes.append(f"dtype={dtype!r}")
        printer = _Printer(data, dtype, data.size > _OPTS["threshold"])
        body = printer.body(data, indent)
    grad_fn = t.grad_fn
    if grad_fn is not None:
        # PyTorch prints the short name ("CopySlices", not "torch::autograd::CopySlices").
        suffixes.append(f"grad_fn=<{grad_fn.name().rsplit('::', 1)[-1]}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    return _with_suffixes(prefix + body, suffixes, indent)
