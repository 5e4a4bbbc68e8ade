"""Discrete Fourier transforms (``torch.fft``): fft/ifft, rfft/irfft, hfft/ihfft and their
2-D and N-D forms, frequencies and shifts, all differentiable.

Every transform resizes its input (crop or zero-pad, as recorded ops) to the requested
signal sizes and then runs one of three ops (``_ops.FftC2C``, ``FftR2C``, ``FftC2R``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from .._dtype import dtype as _DType
from .._dtype import get_default_dtype
from .._ops._util import Tensor, _make, wrap_dim, xp
from .._ops.complex import conj
from ._ops import FftC2C, FftC2R, FftR2C

__all__ = ["fft", "ifft", "fft2", "ifft2", "fftn", "ifftn", "rfft", "irfft", "rfft2", "irfft2",
           "rfftn", "irfftn", "hfft", "ihfft", "hfft2", "ihfft2", "hfftn", "ihfftn", "fftfreq",
           "rfftfreq", "fftshift", "ifftshift"]

_NAMES = {"float16": "Half", "float32": "Float", "float64": "Double",
          "complex64": "ComplexFloat", "complex128": "ComplexDouble"}


# -- argument handling ------------------------------------------------------------------------
def _scale(norm: str | None, n: int, forward: bool) -> float:
    """The factor a transform over ``n`` points is multiplied by for ``norm``."""
    if norm is None or norm == "backward":
        return 1.0 if forward else 1.0 / n
    if norm == "ortho":
        return 1.0 / math.sqrt(n)
    if norm == "forward":
        return 1.0 / n if forward else 1.0
    raise RuntimeError(f'Invalid normalization mode: "{norm}"')


def _float_input(x: Tensor, name: str, real_only: bool = False) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(x).__name__}")
    kind = x._data.dtype.kind
    if real_only and kind == "c":
        raise RuntimeError(f"{name} expects a real input tensor, but got "
                           f"{_NAMES[x._data.dtype.name]}")
    if kind in "iub":
        return x.to(get_default_dtype())
    if x._data.dtype.itemsize == 2 and kind == "f":
        raise RuntimeError("Unsupported dtype Half")
    return x


def _to_complex(x: Tensor) -> Tensor:
    if x._data.dtype.kind == "c":
        return x
    from .._dtype import complex64, complex128
    return x.to(complex128 if x._data.dtype == xp.float64 else complex64)


def _dims_and_sizes(x: Tensor, s, dim, one_d: bool = False):
    """PyTorch's rules for ``s``/``n`` and ``dim``: the dims transformed and their sizes."""
    ndim = x.ndim
    if isinstance(dim, int):
        dim = (dim,)
    if s is not None and not isinstance(s, Sequence) and not one_d:
        s = (s,)
    if one_d:
        dims = (_wrap_1d(dim[0], ndim),)
        sizes = (x.shape[dims[0]] if s is None else int(s),)
    else:
        if s is not None and dim is not None and len(s) != len(dim):
            raise RuntimeError("When given, dim and shape arguments must have the same length")
        if dim is not None:
            dims = tuple(wrap_dim(d, ndim) for d in dim)
            if len(set(dims)) != len(dims):
                raise RuntimeError("FFT dims must be unique")
        elif s is not None:
            if len(s) > ndim:
                raise RuntimeError(f"Got shape with {len(s)} values but input tensor only has "
                                   f"{ndim} dimensions.")
            dims = tuple(range(ndim - len(s), ndim))
        else:
            dims = tuple(range(ndim))
        sizes = tuple(x.shape[d] if s is None or s[i] == -1 else int(s[i])
                      for i, d in enumerate(dims))
    for n in sizes:
        if n < 1:
            raise RuntimeError(f"Invalid number of data points ({n}) specified")
    return dims, sizes


def _wrap_1d(dim: int, ndim: int) -> int:
    if ndim == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    return wrap_dim(dim, ndim)


def _resize(x: Tensor, dims: tuple, sizes: tuple) -> Tensor:
    """Crop or zero-pad ``x`` to ``sizes`` along ``dims`` (differentiable)."""
    for d, n in zip(dims, sizes):
        cur = x.shape[d]
        if n < cur:
            x = x.narrow(d, 0, n)
        elif n > cur:
            from ..nn.functional import pad
            x = pad(x, (0, 0) * (x.ndim - 1 - d) + (0, n - cur))
    return x


def _out(result: Tensor, out) -> Tensor:
    if out is None:
        return result
    from .._ops.inplace import copy_into_out
    return copy_into_out(out, result)


def _prod(sizes) -> int:
    return math.prod(sizes)


# -- complex-to-complex (and real inputs promoted) ---------------------------------------------
def _c2c(name, input, s, dim, norm, forward, one_d=False):
    x = _float_input(input, name)
    dims, sizes = _dims_and_sizes(x, s, dim, one_d)
    x = _resize(x, dims, sizes)
    scale = _scale(norm, _prod(sizes), forward)
    if x._data.dtype.kind != "c" and len(dims) == 1:
        # A real 1-D signal: PyTorch transforms it as R2C with the full spectrum
        # (the inverse of a real signal is the conjugate of its forward transform).
        out = FftR2C.apply(x, dims, scale, False)
        return out if forward else conj(out)
    return FftC2C.apply(_to_complex(x), dims, scale, not forward)


def fft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None, *,
        out=None) -> Tensor:
    """One-dimensional discrete Fourier transform of ``input`` along ``dim``.

    ``n`` crops or zero-pads the signal; ``norm`` is ``"backward"`` (default, no scaling),
    ``"ortho"`` (1/sqrt(n)) or ``"forward"`` (1/n). Real inputs give complex results.
    """
    return _out(_c2c("fft", input, n, dim, norm, True, one_d=True), out)


def ifft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None, *,
         out=None) -> Tensor:
    """One-dimensional inverse discrete Fourier transform (``norm="backward"`` scales by
    1/n)."""
    return _out(_c2c("ifft", input, n, dim, norm, False, one_d=True), out)


def fft2(input: Tensor, s=None, dim=(-2, -1), norm: str | None = None, *, out=None) -> Tensor:
    """Two-dimensional discrete Fourier transform (over the last two dims by default)."""
    return _out(_c2c("fft2", input, s, dim, norm, True), out)


def ifft2(input: Tensor, s=None, dim=(-2, -1), norm: str | None = None, *, out=None) -> Tensor:
    """Two-dimensional inverse discrete Fourier transform."""
    return _out(_c2c("ifft2", input, s, dim, norm, False), out)


def fftn(input: Tensor, s=None, dim=None, norm: str | None = None, *, out=None) -> Tensor:
    """N-dimensional discrete Fourier transform over ``dim`` (all dims, or the last
    ``len(s)``, by default)."""
    return _out(_c2c("fftn", input, s, dim, norm, True), out)


def ifftn(input: Tensor, s=None, dim=None, norm: str | None = None, *, out=None) -> Tensor:
    """N-dimensional inverse discrete Fourier transform."""
    return _out(_c2c("ifftn", input, s, dim, norm, False), out)


# -- real-to-complex (one-sided) ----------------------------------------------------------------
def _r2c(name, input, s, dim, norm, forward, one_d=False):
    x = _float_input(input, name, real_only=True)
    dims, sizes = _dims_and_sizes(x, s, dim, one_d)
    x = _resize(x, dims, sizes)
    out = FftR2C.apply(x, dims, _scale(norm, _prod(sizes), forward), True)
    return out if forward else conj(out)


def rfft(input: Tensor, n: int | None = None, dim: int = -1, norm: str | None = None, *,
         out=None) -> Tensor:
    """Fourier transform of a real signal: the ``n // 2 + 1`` non-negative frequencies."""
    return _out(_r2c("rfft", input, n, dim, norm, True, one_d=True), out)


def rfft2(input: Tensor, s=None, dim=(-2, -1), norm: str | None = None, *, out=None) -> Tensor:
    """Two-dimensional :func:`rfftn`."""
    return _out(_r2c("rfft2", input, s, dim, norm, True), out)


def rfftn(input: Tensor, s=None, dim=None, norm: str | None = None, *, out=None) -> Tensor:
    """N-dimensional Fourier transform of a real signal (the last dim one-sided)."""
    return _out(_r2c("rfftn", input, s, dim, norm, True), out)


def ihfft(input: Tensor, n: int | None = None, dim: int = -1,
          norm: str | None = None, *, out=None) -> Tensor:
    """Inverse of :func:`hfft`: the one-sided inverse transform of a real signal."""
    return _out(_r2c("ihfft", input, n, dim, norm, False, one_d=True), out)


def ihfft2(input: Tensor, s=None, dim=(-2, -1), norm: str | None = None, *, out=None) -> Tensor:
    """Two-dimensional :func:`ihfftn`."""
    return _out(_r2c("ihfft2", input, s, dim, norm, False), out)


def ihfftn(input: Tensor, s=None, dim=None, norm: str | None = None, *, out=None) -> Tensor:
    """N-dimensional inverse of :func:`hfftn` (a real input; the last dim one-sided)."""
    return _out(_r2c("ihfftn", input, s, dim, norm, False), out)


# -- complex-to-real (Hermitian) ----------------------------------------------------------------
def _c2r(name, input, s, dim, norm, forward, one_d=False):
    x = _float_input(input, name)
    if one_d:
        d = _wrap_1d(dim, x.ndim)
        dims = (d,)
        sizes = (2 * (x.shape[d] - 1) if s is None else int(s),)
        if sizes[0] < 1:
            raise RuntimeError(f"Invalid number of data points ({sizes[0]}) specified")
    else:
        dims, sizes = _dims_and_sizes(x, s, dim)
        if s is None or s[-1] == -1:
            sizes = sizes[:-1] + (2 * (x.shape[dims[-1]] - 1),)
            if sizes[-1] < 1:
                raise RuntimeError(f"Invalid number of data points ({sizes[-1]}) specified")
    x = _resize(_to_complex(x), dims, sizes[:-1] + (sizes[-1] // 2 + 1,))
    if forward:
        x = conj(x)  # hfft: the forward transform of a Hermitian signal, x's conjugate
    return FftC2R.apply(x, dims, _scale(norm, _prod(sizes), forward), sizes[-1])


def irfft(input: Tensor, n: int | None = None, dim: int = -1,
          norm: str | None = None, *, out=None) -> Tensor:
    """Inverse of :func:`rfft`: ``n`` real points (default ``2 * (m - 1)``) from a one-sided
    spectrum of ``m`` bins."""
    return _out(_c2r("irfft", input, n, dim, norm, False, one_d=True), out)


def irfft2(input: Tensor, s=None, dim=(-2, -1), norm: str | None = None, *, out=None) -> Tensor:
    """Two-dimensional :func:`irfftn`."""
    return _out(_c2r("irfft2", input, s, dim, norm, False), out)


def irfftn(input: Tensor, s=None, dim=None, norm: str | None = None, *, out=None) -> Tensor:
    """Inverse of :func:`rfftn`."""
    return _out(_c2r("irfftn", input, s, dim, norm, False), out)


def hfft(input: Tensor, n: int | None = None, dim: int = -1,
         norm: str | None = None, *, out=None) -> Tensor:
    """Fourier transform of a Hermitian-symmetric signal given by its first half: ``n``
    real points (default ``2 * (m - 1)``)."""
    return _out(_c2r("hfft", input, n, dim, norm, True, one_d=True), out)


def hfft2(input: Tensor, s=None, dim=(-2, -1), norm: str | None = None, *, out=None) -> Tensor:
    """Two-dimensional :func:`hfftn`."""
    return _out(_c2r("hfft2", input, s, dim, norm, True), out)


def hfftn(input: Tensor, s=None, dim=None, norm: str | None = None, *, out=None) -> Tensor:
    """N-dimensional transform of a Hermitian-symmetric signal (the last dim one-sided)."""
    return _out(_c2r("hfftn", input, s, dim, norm, True), out)


# -- frequencies and shifts ---------------------------------------------------------------------
def _freq_dtype(name: str, dtype: _DType | None) -> _DType:
    d = dtype or get_default_dtype()
    if not (d.is_floating_point or d.is_complex):
        raise RuntimeError(f"{name} requires a floating point or complex dtype")
    return d


def fftfreq(n: int, d: float = 1.0, *, out=None, dtype: _DType | None = None, layout=None,
            device=None, requires_grad: bool = False) -> Tensor:
    """The sample frequencies of an ``n``-point transform with sample spacing ``d``:
    ``[0, 1, ..., (n - 1) // 2, -(n // 2), ..., -1] / (d * n)``."""
    dt = _freq_dtype("fftfreq", dtype)
    k = xp.arange(n, dtype=dt.np)
    k[(n + 1) // 2:] -= n
    return _finish_freq(k * dt.np.type(1.0 / (n * d)), requires_grad, out)


def rfftfreq(n: int, d: float = 1.0, *, out=None, dtype: _DType | None = None, layout=None,
             device=None, requires_grad: bool = False) -> Tensor:
    """The non-negative sample frequencies of :func:`rfft`: ``[0, ..., n // 2] / (d * n)``."""
    dt = _freq_dtype("rfftfreq", dtype)
    k = xp.arange(n // 2 + 1, dtype=dt.np)
    return _finish_freq(k * dt.np.type(1.0 / (n * d)), requires_grad, out)


def _finish_freq(a, requires_grad: bool, out) -> Tensor:
    t = _make(a)
    if out is not None:
        from .._ops.inplace import copy_into_out
        return copy_into_out(out, t)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _shift(input: Tensor, dim, inverse: bool) -> Tensor:
    if dim is None:
        dims = tuple(range(input.ndim))
    else:
        dims = (dim,) if isinstance(dim, int) else tuple(dim)
        dims = tuple(wrap_dim(d, input.ndim) for d in dims)
    if not dims:
        raise RuntimeError("`shifts` required")
    shifts = tuple((input.shape[d] + 1) // 2 if inverse else input.shape[d] // 2 for d in dims)
    return input.roll(shifts, dims)


def fftshift(input: Tensor, dim=None) -> Tensor:
    """Move the zero-frequency bin to the centre (rolls ``dim``, all dims by default, by
    half their size)."""
    return _shift(input, dim, False)


def ifftshift(input: Tensor, dim=None) -> Tensor:
    """Inverse of :func:`fftshift`."""
    return _shift(input, dim, True)
