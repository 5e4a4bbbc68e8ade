"""The three discrete Fourier transform ops every ``ember.fft`` function reduces to, with
PyTorch's node names and backward formulas.

Each op computes an unnormalised transform over ``dims`` and multiplies it by ``scale``
(the ``norm=`` factor, chosen by the caller). The DFT matrix ``F`` is unitary up to scale,
so under PyTorch's gradient convention the adjoint of a transform is the opposite-direction
transform with the same scale:

- C2C: complex to complex, forward (e^{-i...}) or inverse (e^{+i...}).
  grad = the other direction's C2C of ``g``.
- R2C: real to complex (``onesided`` keeps the last dim's first n//2 + 1 bins).
  grad = Re(inverse C2C of ``g`` zero-padded back to n bins).
- C2R: a half spectrum (last dim n//2 + 1 bins) to a real signal of ``n`` points, through
  its Hermitian extension. grad = onesided R2C of ``g``, with the bins that stand for two
  bins of the full spectrum (1 .. n - n//2 - 1) doubled.
"""

from __future__ import annotations

from .._ops._util import Op, _make, xp


def _complex_np(a):
    return xp.result_type(a.dtype, xp.complex64)


def _real_np(a):
    return a.real.dtype if a.dtype.kind == "c" else a.dtype


class FftC2C(Op):
    """y = scale * F^{+-1} x;  dx = scale * F^{-+1} g"""

    node_name = "FftC2CBackward0"

    @staticmethod
    def jvp(inputs, out, tangents):
        """The transform is linear: the tangent's transform."""
        t = tangents[0]
        return None if t is None else FftC2C.apply(t, *inputs[1:])

    @staticmethod
    def forward(ctx, x, dims, scale, inverse):
        ctx.dims, ctx.scale, ctx.inverse = dims, scale, inverse
        a = x._data
        if not dims:
            return a * scale
        # norm="forward" leaves NumPy's inverse transform unscaled; the forward one is
        # unscaled by default.
        out = (xp.fft.ifftn(a, axes=dims, norm="forward") if inverse
               else xp.fft.fftn(a, axes=dims))
        if scale != 1:
            out *= scale
        return out.astype(_complex_np(a), copy=False)

    @staticmethod
    def backward(ctx, g):
        return FftC2C.apply(g, ctx.dims, ctx.scale, not ctx.inverse), None, None, None


class FftR2C(Op):
    """y = scale * F x (x real; onesided keeps n//2 + 1 bins of the last dim);
    dx = Re(scale * F^{-1} [g, 0...])"""

    node_name = "FftR2CBackward0"

    @staticmethod
    def jvp(inputs, out, tangents):
        """The transform is linear: the tangent's transform."""
        t = tangents[0]
        return None if t is None else FftR2C.apply(t, *inputs[1:])

    @staticmethod
    def forward(ctx, x, dims, scale, onesided):
        a = x._data
        ctx.dims, ctx.scale, ctx.onesided = dims, scale, onesided
        ctx.last_size = a.shape[dims[-1]]
        out = xp.fft.rfftn(a, axes=dims) if onesided else xp.fft.fftn(a, axes=dims)
        if scale != 1:
            out *= scale
        return out.astype(_complex_np(a), copy=False)

    @staticmethod
    def backward(ctx, g):
        dims = ctx.dims
        if ctx.onesided:
            last = dims[-1]
            missing = ctx.last_size - g.shape[last]
            if missing > 0:
                from ..nn.functional import pad
                g = pad(g, (0, 0) * (g.ndim - 1 - last) + (0, missing))
        return FftC2C.apply(g, dims, ctx.scale, True).real, None, None, None


class FftC2R(Op):
    """y = scale * F^{-1} hermitian_extension(x), n points on the last dim;
    dx = scale * rfft(g), the bins 1 .. n - n//2 - 1 doubled"""

    node_name = "FftC2RBackward0"

    @staticmethod
    def jvp(inputs, out, tangents):
        """The transform is linear: the tangent's transform."""
        t = tangents[0]
        return None if t is None else FftC2R.apply(t, *inputs[1:])

    @staticmethod
    def forward(ctx, x, dims, scale, last_size):
        a = x._data
        ctx.dims, ctx.scale = dims, scale
        s = [a.shape[d] for d in dims[:-1]] + [last_size]
        out = xp.fft.irfftn(a, s=s, axes=dims, norm="forward")
        if scale != 1:
            out *= scale
        return out.astype(_real_np(a), copy=False)

    @staticmethod
    def backward(ctx, g):
        dims = ctx.dims
        gx = FftR2C.apply(g, dims, ctx.scale, True)
        last = dims[-1]
        doubled = g.shape[last] - gx.shape[last]
        if doubled > 0:
            weight = xp.ones(gx.shape[last], dtype=_real_np(g._data))
            weight[1:1 + doubled] = 2
            shape = [1] * gx.ndim
            shape[last] = -1
            gx = gx * _make(weight.reshape(shape))
        return gx, None, None, None
