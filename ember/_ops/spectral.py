"""Window functions and the short-time Fourier transform (``stft``/``istft``), composed from
differentiable ops (frame gathering, ``ember.fft``, overlap-add by ``index_add``)."""

from __future__ import annotations

import math
import warnings

from .._dtype import dtype as _DType
from .._dtype import get_default_dtype
from ._util import Tensor, _make, tensor_method, xp

__all__ = ["hann_window", "hamming_window", "blackman_window", "bartlett_window",
           "kaiser_window", "stft", "istft"]


# -- windows ------------------------------------------------------------------------------------
def _window(name: str, n: int, periodic: bool, dtype: _DType | None, requires_grad: bool,
            formula) -> Tensor:
    """Evaluate ``formula(k, m)`` at k = 0..m-1 for the symmetric window of length m (one
    longer for a periodic window, whose last point is then dropped)."""
    d = dtype or get_default_dtype()
    if not d.is_floating_point:
        raise RuntimeError(f"{name} expects floating point dtypes, got: TensorOptions(dtype="
                           f"{_C_NAMES.get(d.name, d.name)}, device=cpu, layout=Strided "
                           f"(default), requires_grad=false (default), pinned_memory=false, "
                           f"memory_format=(nullopt))")
    if n < 0:
        raise RuntimeError(f"{name} requires non-negative window_length, got window_length={n}")
    if n <= 1:
        out = xp.ones(n, dtype=d.np)
    else:
        m = n + 1 if periodic else n
        out = formula(xp.arange(m, dtype=d.np), m).astype(d.np, copy=False)[:n]
    t = _make(xp.ascontiguousarray(out))
    return t.requires_grad_(True) if requires_grad else t


_C_NAMES = {"int64": "long int", "int32": "int", "int16": "short int", "int8": "signed char",
            "uint8": "unsigned char", "bool": "bool", "complex64": "c10::complex<float>",
            "complex128": "c10::complex<double>"}


def _cosine_sum(k, m, coeffs):
    # sum_j (-1)^j a_j cos(2 pi j k / (m - 1)), evaluated in the window's dtype
    step = k * k.dtype.type(2 * math.pi / (m - 1))
    out = xp.full(k.shape, coeffs[0], dtype=k.dtype)
    for j, a in enumerate(coeffs[1:], start=1):
        out = out + k.dtype.type((-1) ** j * a) * xp.cos(step * j)
    return out


def hann_window(window_length: int, periodic: bool = True, *, dtype: _DType | None = None,
                layout=None, device=None, requires_grad: bool = False) -> Tensor:
    """The Hann window ``0.5 - 0.5 cos(2 pi k / (N - 1))`` (periodic: of length N + 1, the
    last point dropped, as spectral analysis wants)."""
    return _window("hann_window", window_length, periodic, dtype, requires_grad,
                   lambda k, m: _cosine_sum(k, m, (0.5, 0.5)))


def hamming_window(window_length: int, periodic: bool = True, alpha: float = 0.54,
                   beta: float = 0.46, *, dtype: _DType | None = None, layout=None,
                   device=None, requires_grad: bool = False) -> Tensor:
    """The Hamming window ``alpha - beta cos(2 pi k / (N - 1))``."""
    return _window("hamming_window", window_length, periodic, dtype, requires_grad,
                   lambda k, m: _cosine_sum(k, m, (alpha, beta)))


def blackman_window(window_length: int, periodic: bool = True, *, dtype: _DType | None = None,
                    layout=None, device=None, requires_grad: bool = False) -> Tensor:
    """The Blackman window ``0.42 - 0.5 cos(2 pi k / (N - 1)) + 0.08 cos(4 pi k / (N - 1))``."""
    return _window("blackman_window", window_length, periodic, dtype, requires_grad,
                   lambda k, m: _cosine_sum(k, m, (0.42, 0.5, 0.08)))


def bartlett_window(window_length: int, periodic: bool = True, *, dtype: _DType | None = None,
                    layout=None, device=None, requires_grad: bool = False) -> Tensor:
    """The triangular Bartlett window ``1 - |2k / (N - 1) - 1|``."""
    return _window("bartlett_window", window_length, periodic, dtype, requires_grad,
                   lambda k, m: 1 - xp.abs(k * k.dtype.type(2 / (m - 1)) - 1))


def kaiser_window(window_length: int, periodic: bool = True, beta: float = 12.0, *,
                  dtype: _DType | None = None, layout=None, device=None,
                  requires_grad: bool = False) -> Tensor:
    """The Kaiser window ``I0(beta sqrt(1 - (2k / (N - 1) - 1)^2)) / I0(beta)``."""
    def formula(k, m):
        r = (k.astype(xp.float64) - (m - 1) / 2) / ((m - 1) / 2)
        return xp.i0(beta * xp.sqrt(xp.maximum(1 - r * r, 0))) / xp.i0(beta)
    return _window("kaiser_window", window_length, periodic, dtype, requires_grad, formula)


# -- stft / istft -------------------------------------------------------------------------------
def _padded_window(window: Tensor | None, win_length: int, n_fft: int, like: Tensor) -> Tensor:
    if window is None:
        window = _make(xp.ones(win_length, dtype=like._data.real.dtype))
    left = (n_fft - win_length) // 2
    if left or n_fft - win_length - left:
        from ..nn.functional import pad
        window = pad(window, (left, n_fft - win_length - left))
    return window


def _frames_index(n_frames: int, n_fft: int, hop: int):
    return _make(xp.arange(n_frames)[:, None] * hop + xp.arange(n_fft))


def _stft_prefix(input, n_fft, hop, win, window, normalized, onesided, return_complex):
    win_desc = "None" if window is None else f"{window.type()}{{{list(window.shape)}}}"
    flag = lambda v: "None" if v is None else str(int(v))  # noqa: E731
    return (f"stft({input.type()}{list(input.shape)}, n_fft={n_fft}, hop_length={hop}, "
            f"win_length={win}, window={win_desc}, normalized={int(normalized)}, "
            f"onesided={flag(onesided)}, return_complex={flag(return_complex)}, "
            f"align_to_window=None) : ")


@tensor_method()
def stft(input: Tensor, n_fft: int, hop_length: int | None = None,
         win_length: int | None = None, window: Tensor | None = None, center: bool = True,
         pad_mode: str = "reflect", normalized: bool = False, onesided: bool | None = None,
         return_complex: bool | None = None, align_to_window: bool | None = None) -> Tensor:
    """Short-time Fourier transform: ``(B?, L) -> (B?, n_freq, n_frames)`` complex.

    Frames of ``n_fft`` samples every ``hop_length`` (default ``n_fft // 4``) are multiplied
    by ``window`` (default rectangular, zero-padded to ``n_fft``) and transformed;
    ``center`` pads ``n_fft // 2`` on both sides with ``pad_mode`` first.
    """
    from .. import fft as _fft
    from ..nn.functional import pad
    if align_to_window:
        raise NotImplementedError("stft(align_to_window=True) is not implemented in ember")
    complex_in = input.is_complex() or (window is not None and window.is_complex())
    if return_complex is None:
        if not complex_in:
            raise RuntimeError("stft requires the return_complex parameter be given for real "
                               "inputs, and will further require that return_complex=True in a "
                               "future PyTorch release.")
        return_complex = True
    if not return_complex:
        warnings.warn("stft with return_complex=False is deprecated. In a future pytorch "
                      "release, stft will return complex tensors for all inputs, and "
                      "return_complex=False will raise an error.\nNote: you can still call "
                      "torch.view_as_real on the complex output to recover the old return "
                      "format.", UserWarning, stacklevel=2)
    if window is None:
        warnings.warn("A window was not provided. A rectangular window will be applied,which "
                      "is known to cause spectral leakage. Other windows such as "
                      "torch.hann_window or torch.hamming_window are recommended to reduce "
                      "spectral leakage.To suppress this warning and use a rectangular window, "
                      "explicitly set `window=torch.ones(n_fft, device=<device>)`.",
                      UserWarning, stacklevel=2)
    if center:
        dim = input.ndim
        p = n_fft // 2
        input = pad(input.reshape((1,) * (3 - dim) + tuple(input.shape)), (p, p), pad_mode)
        input = input.reshape(input.shape[-dim:])
    hop = n_fft // 4 if hop_length is None else hop_length
    win = n_fft if win_length is None else win_length
    prefix = _stft_prefix(input, n_fft, hop, win, window, normalized, onesided, return_complex)
    if input.ndim not in (1, 2):
        raise RuntimeError(prefix + f"expected a 1D or 2D tensor, but got {input.ndim}D")
    batched = input.ndim == 2
    x = input if batched else input.unsqueeze(0)
    length = x.shape[-1]
    if n_fft <= 0 or n_fft > length:
        raise RuntimeError(prefix + f"expected 0 < n_fft <= {length}, but got n_fft={n_fft}")
    if hop <= 0:
        raise RuntimeError(prefix + f"expected hop_length > 0, but got hop_length={hop}")
    if win <= 0 or win > n_fft:
        raise RuntimeError(prefix + f"expected 0 < win_length <= n_fft, but got "
                                    f"win_length={win}")
    if window is not None and (window.ndim != 1 or window.shape[0] != win):
        raise RuntimeError(prefix + f"expected a 1D window tensor of size equal to "
                                    f"win_length={win}, but got window with size "
                                    f"{list(window.shape)}")
    if onesided is None:
        onesided = not complex_in
    elif onesided and complex_in:
        raise RuntimeError("Cannot have onesided output if window or input is complex")
    n_frames = 1 + (length - n_fft) // hop
    frames = x[:, _frames_index(n_frames, n_fft, hop)]         # (B, frames, n_fft)
    frames = frames * _padded_window(window, win, n_fft, x)
    norm = "ortho" if normalized else "backward"
    spec = (_fft.rfft if onesided else _fft.fft)(frames, dim=-1, norm=norm)
    out = spec.transpose(1, 2)                                  # (B, n_freq, frames)
    if not batched:
        out = out.squeeze(0)
    if not return_complex:
        from .complex import view_as_real
        out = view_as_real(out)
    return out


@tensor_method()
def istft(input: Tensor, n_fft: int, hop_length: int | None = None,
          win_length: int | None = None, window: Tensor | None = None, center: bool = True,
          normalized: bool = False, onesided: bool | None = None, length: int | None = None,
          return_complex: bool = False) -> Tensor:
    """Inverse short-time Fourier transform: overlap-adds the inverse transforms of the
    frames and divides by the summed squared window (least-squares inverse of ``stft``)."""
    from .. import fft as _fft
    hop = n_fft // 4 if hop_length is None else hop_length
    win = n_fft if win_length is None else win_length
    if not input.is_complex():
        raise RuntimeError("istft requires a complex-valued input tensor matching the output "
                           "from stft with return_complex=True.")
    if window is None:
        warnings.warn("A window was not provided. A rectangular window will be applied.Please "
                      "provide the same window used by stft to make the inversion "
                      "lossless.To suppress this warning and use a rectangular window, "
                      "explicitly set `window=torch.ones(n_fft, device=<device>)`.",
                      UserWarning, stacklevel=2)
    batched = input.ndim == 3
    x = input if batched else input.unsqueeze(0)
    n_freq, n_frames = x.shape[-2], x.shape[-1]
    onesided_arg = onesided
    if onesided is None:
        onesided = n_freq != n_fft
    if onesided and n_fft // 2 + 1 != n_freq:
        raise RuntimeError(f"istft(...): expected the frequency dimension (3rd to the last) of "
                           f"the input tensor to match n_fft / 2 + 1 when onesided=True, but "
                           f"got {n_freq}")
    if not onesided and n_freq != n_fft:
        raise RuntimeError(f"istft(...): expected the frequency dimension (3rd to the last) of "
                           f"the input tensor to match n_fft when onesided=False, but got "
                           f"{n_freq}")
    norm = "ortho" if normalized else "backward"
    spec = x.transpose(1, 2)                                    # (B, frames, n_freq)
    if return_complex:
        if onesided:
            raise RuntimeError("cannot have onesided output if window or input is complex")
        frames = _fft.ifft(spec, n=n_fft, dim=-1, norm=norm)
    else:
        if not onesided:
            spec = spec.narrow(-1, 0, n_fft // 2 + 1)
        frames = _fft.irfft(spec, n=n_fft, dim=-1, norm=norm)
    w = _padded_window(window, win, n_fft, frames)
    frames = frames * w
    total = n_fft + hop * (n_frames - 1)
    idx = _frames_index(n_frames, n_fft, hop).reshape(-1)
    b = frames.shape[0]
    from .._creation import zeros
    y = zeros(b, total, dtype=frames.dtype).index_add(1, idx, frames.reshape(b, -1))
    env_src = (w * w).expand(n_frames, n_fft).reshape(-1)
    env = zeros(total, dtype=env_src.dtype).index_add(0, idx, env_src)
    start = n_fft // 2 if center else 0
    if length is not None:
        end = start + length
    else:
        end = total - n_fft // 2 if center else total
    y = y[:, start:end]
    env = env[start:end]
    if bool((env.abs() < 1e-11).any()):
        kind = "ComplexFloat" if input._data.dtype == xp.complex64 else "ComplexDouble"
        win_desc = "None" if window is None else f"{window.type()}{{{list(window.shape)}}}"
        flag = lambda v: "None" if v is None else str(int(v))  # noqa: E731
        raise RuntimeError(
            f"istft(CPU{kind}Type{list(input.shape)}, n_fft={n_fft}, hop_length={hop}, "
            f"win_length={win}, window={win_desc}, center={int(center)}, "
            f"normalized={int(normalized)}, onesided={flag(onesided_arg)}, "
            f"length={flag(length)}, return_complex={int(return_complex)}) window overlap add "
            f"min: 1\n[ CPUBoolType{{}} ]")
    y = y / env
    if end > total:
        from ..nn.functional import pad
        y = pad(y, (0, end - total))
    return y if batched else y.squeeze(0)
