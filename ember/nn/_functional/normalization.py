"""Normalisation layers' functions. layer_norm, batch_norm, group_norm and instance_norm share
one fused node (statistics, normalisation and the affine transform forward; the classic
three-term gradient backward); rms_norm is composed of Tensor ops, as in torch."""

from __future__ import annotations

from ..._ops._jvp import primal, tangent_sum
from ..._ops._util import Op, Tensor, _make, xp
from ...autograd.grad_mode import is_grad_enabled

__all__ = ["layer_norm", "batch_norm", "group_norm", "instance_norm", "rms_norm",
           "local_response_norm"]


def _mean(a, axes: tuple):
    """``a.mean(axes, keepdims=True)``; over the last axis of a float32/64 array as a BLAS
    matrix-vector product (NumPy reduces many short rows 3-4x slower)."""
    n = a.shape[-1] if a.ndim else 0
    if axes == (a.ndim - 1,) and n and a.dtype.kind == "f" and a.itemsize >= 4:
        s = xp.matmul(a, xp.ones(n, a.dtype))[..., None]
        s /= n
        return s
    return a.mean(axis=axes, keepdims=True)


def _sum_to(a, red: tuple):
    """``a.sum(red)``; over the leading axes of a float32/64 array as ``ones @ rows``."""
    k = len(red)
    if k and red == tuple(range(k)) and a.dtype.kind == "f" and a.itemsize >= 4:
        rest = a.shape[k:]
        rows = a.reshape(-1, _prod(rest))
        return (xp.ones(rows.shape[0], a.dtype) @ rows).reshape(rest)
    return a.sum(axis=red) if red else a


def _prod(shape) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


class NativeNorm(Op):
    """xhat = (x - mean) / sqrt(var + eps) over ``axes`` of x viewed as ``group_shape``;
    y = xhat * w + b.  dx = rstd (gy - mean(gy) - xhat mean(gy xhat)) with gy = g w;
    dw = sum(g xhat), db = sum(g) over the non-affine axes."""

    node_name = "NativeLayerNormBackward0"

    @staticmethod
    def forward(ctx, x, weight, bias, group_shape, axes, affine_shape, eps, stats_out=None):
        a = x._data
        xr = a.reshape(group_shape)
        mean = _mean(xr, axes) if xr.size else xr.sum(axis=axes, keepdims=True)
        d = xr - mean
        var = _mean(d * d, axes) if xr.size else mean
        rstd = 1.0 / xp.sqrt(var + eps)
        y = (d * rstd).reshape(a.shape)
        if weight is not None:
            y = y * weight._data.reshape(affine_shape)
        if bias is not None:
            y = y + bias._data.reshape(affine_shape)
        ctx.save_for_backward(x, weight, mean, rstd)
        ctx.group_shape, ctx.axes, ctx.affine_shape, ctx.eps = group_shape, axes, affine_shape, eps
        ctx.pshape = None if bias is None else bias.shape
        if stats_out is not None:
            stats_out.extend((mean, var))
        return y.astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        x, weight, mean, rstd = ctx.saved_tensors
        if not is_grad_enabled():
            return NativeNorm._backward_on_arrays(ctx, g, x, weight, mean._data, rstd._data)
        gs, axes = ctx.group_shape, ctx.axes
        # Statistics recomputed in Tensor ops, so that double backward sees their dependence on x.
        xr = x.reshape(gs)
        d = xr - xr.mean(axes, keepdim=True)
        rstd = ((d * d).mean(axes, keepdim=True) + ctx.eps) ** -0.5
        xhat = d * rstd
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        gx = gw = gb = None
        if need_x:
            gy = (g if weight is None else g * weight.reshape(ctx.affine_shape)).reshape(gs)
            gx = rstd * (gy - gy.mean(axes, keepdim=True)
                         - xhat * (gy * xhat).mean(axes, keepdim=True))
            gx = gx.reshape(x.shape)
        red = tuple(i for i, s in enumerate(ctx.affine_shape) if s == 1)
        if need_w:
            gw = (g * xhat.reshape(x.shape)).sum(red).reshape(weight.shape)
        if need_b:
            gb = (g.sum(red) if red else g).reshape(ctx.pshape)
        return gx, gw, gb

    @staticmethod
    def jvp(inputs, out, tangents):
        # d xhat = rstd (dc - xhat mean(xhat dc)) with dc = dx - mean(dx) (the variance's
        # derivative folded in); dy = d xhat w + xhat dw + db.
        x, weight, bias, gs, axes, affine_shape, eps = inputs[:7]
        tx, tw, tb = tangents[:3]
        xr = primal(x).reshape(gs)
        d = xr - xr.mean(axes, keepdim=True)
        rstd = ((d * d).mean(axes, keepdim=True) + eps).rsqrt()
        xhat = d * rstd
        terms = []
        if tx is not None:
            tr = tx.reshape(gs)
            tc = tr - tr.mean(axes, keepdim=True)
            txhat = (rstd * (tc - xhat * (xhat * tc).mean(axes, keepdim=True))).reshape(x.shape)
            terms.append(txhat if weight is None
                         else txhat * primal(weight).reshape(affine_shape))
        if tw is not None:
            terms.append(xhat.reshape(x.shape) * tw.reshape(affine_shape))
        if tb is not None:
            terms.append(tb.reshape(affine_shape))
        return tangent_sum(out, *terms)


    @staticmethod
    def _backward_on_arrays(ctx, g, x, weight, mean, rstd):
        """The same gradients on arrays, from the forward's statistics (no graph is being
        recorded, so nothing needs to be differentiable)."""
        gs, axes, dt = ctx.group_shape, ctx.axes, x._data.dtype
        xhat = (x._data.reshape(gs) - mean) * rstd
        ga = g._data
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        gx = gw = gb = None
        if need_x:
            gy = (ga if weight is None else ga * weight._data.reshape(ctx.affine_shape))
            gy = gy.reshape(gs)
            gx = rstd * (gy - _mean(gy, axes) - xhat * _mean(gy * xhat, axes))
            gx = _make(gx.reshape(x.shape).astype(dt, copy=False))
        red = tuple(i for i, s in enumerate(ctx.affine_shape) if s == 1)
        if need_w:
            gw = _make(_sum_to(ga * xhat.reshape(x.shape), red).reshape(weight.shape)
                       .astype(dt, copy=False))
        if need_b:
            gb = _make(_sum_to(ga, red).reshape(ctx.pshape).astype(dt, copy=False))
        return gx, gw, gb


class NativeBatchNorm(NativeNorm):
    node_name = "NativeBatchNormBackward0"


class NativeGroupNorm(NativeNorm):
    node_name = "NativeGroupNormBackward0"


class InstanceNorm(NativeNorm):
    """Instance norm: PyTorch computes it as a batch norm of a reshaped input, then views the
    result back."""

    node_name = "ViewBackward0"


class EvalBatchNorm(Op):
    """y = (x - running_mean) / sqrt(running_var + eps) * w + b: an affine map of x.
    dx = g w rstd, dw = sum(g xhat), db = sum(g)"""

    node_name = "NativeBatchNormBackward0"

    @staticmethod
    def forward(ctx, x, weight, bias, mean, var, affine_shape, eps):
        a = x._data
        rstd = (1.0 / xp.sqrt(var._data + eps)).reshape(affine_shape)
        xhat = (a - mean._data.reshape(affine_shape)) * rstd
        y = xhat
        if weight is not None:
            y = y * weight._data.reshape(affine_shape)
        if bias is not None:
            y = y + bias._data.reshape(affine_shape)
        # Copies: the running statistics may be updated in place before backward runs.
        ctx.save_for_backward(x, weight, mean._data.astype(a.dtype), rstd.astype(a.dtype))
        ctx.affine_shape = affine_shape
        return y.astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        x, weight, mean, rstd = ctx.saved_tensors
        xhat = (x - mean.reshape(ctx.affine_shape)) * rstd
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        red = tuple(i for i in range(g.ndim) if i != 1)
        gx = (g * rstd if weight is None else g * (weight.reshape(ctx.affine_shape) * rstd)) \
            if need_x else None
        gw = (g * xhat).sum(red) if need_w else None
        gb = g.sum(red) if need_b else None
        return gx, gw, gb, None, None

    @staticmethod
    def jvp(inputs, out, tangents):
        x, weight, bias, mean, var, affine_shape, eps = inputs
        tx, tw, tb, tmean, tvar = tangents[:5]
        if tmean is not None or tvar is not None:
            raise RuntimeError("batch_norm is not differentiable wrt running_mean and "
                               "running_var, they cannot have forward grad defined")
        rstd = (primal(var) + eps).rsqrt().reshape(affine_shape)
        terms = []
        if tx is not None:
            terms.append(tx * rstd if weight is None
                         else tx * (primal(weight).reshape(affine_shape) * rstd))
        if tw is not None:
            xhat = (primal(x) - primal(mean).reshape(affine_shape)) * rstd
            terms.append(xhat * tw.reshape(affine_shape))
        if tb is not None:
            terms.append(tb.reshape(affine_shape))
        return tangent_sum(out, *terms)


def _channel_shape(x: Tensor) -> tuple:
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


def _update_running(running: Tensor | None, new, momentum: float) -> None:
    if running is None:
        return
    r = running._data
    r[...] = (1 - momentum) * r + momentum * new.reshape(r.shape).astype(r.dtype, copy=False)
    running._bump_version()


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise each channel (dim 1) over the batch and spatial dims; in training also
    update the running statistics in place (unbiased variance)."""
    if input.ndim < 2:
        raise ValueError(f"Expected 2D or 3D input (got {input.ndim}D input)")
    _check_features(input.shape[1], 1, running_mean=running_mean, running_var=running_var,
                    weight=weight, bias=bias)
    shape = _channel_shape(input)
    if not training:
        if running_mean is None or running_var is None:
            raise RuntimeError("running_mean must be defined in evaluation mode")
        return EvalBatchNorm.apply(input, weight, bias, running_mean, running_var, shape, eps)
    n = input.shape[0] * _prod(input.shape[2:])
    if n == 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input "
                         f"size {input.size()}")
    axes = (0,) + tuple(range(2, input.ndim))
    stats: list = []
    out = NativeBatchNorm.apply(input, weight, bias, tuple(input.shape), axes, shape, eps, stats)
    if running_mean is not None or running_var is not None:
        mean, var = stats
        _update_running(running_mean, mean, momentum)
        _update_running(running_var, var * (n / (n - 1)) if n > 1 else var, momentum)
    return out


def _check_features(c: int, repeat: int, **params: Tensor | None) -> None:
    """PyTorch's RuntimeError when a per-channel tensor's size is not the channel count."""
    for name, p in params.items():
        if p is not None and p.numel() != c:
            raise RuntimeError(f"{name} should contain {c * repeat} elements not "
                               f"{p.numel() * repeat}")


def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise over the trailing ``normalized_shape`` dims, then scale and shift."""
    ns = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(ns)
    if k == 0 or input.ndim < k or tuple(input.shape[input.ndim - k:]) != ns:
        raise RuntimeError(f"Given normalized_shape={list(ns)}, expected input with shape "
                           f"[*, {', '.join(map(str, ns))}], but got input of size"
                           f"{list(input.shape)}")
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and tuple(p.shape) != ns:
            raise RuntimeError(f"Expected {name} to be of same shape as normalized_shape, but "
                               f"got {name} of shape {list(p.shape)} and normalized_shape = "
                               f"{list(ns)}")
    lead = input.shape[:input.ndim - k]
    group = (_prod(lead), _prod(ns))
    return NativeNorm.apply(input, weight, bias, group, (1,), (1,) * len(lead) + ns, eps)


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise each group of ``C / num_groups`` channels (with their spatial dims)."""
    if input.ndim < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received "
                           f"{input.ndim}")
    n, c = input.shape[0], input.shape[1]
    if c % num_groups != 0:
        raise RuntimeError(f"Expected number of channels in input to be divisible by "
                           f"num_groups, but got input of shape {list(input.shape)} and "
                           f"num_groups={num_groups}")
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and (p.ndim != 1 or p.numel() != c):
            raise RuntimeError(f"Expected {name} to be a vector of size equal to the number of "
                               f"channels in input, but got {name} of shape {list(p.shape)} "
                               f"and input of shape {list(input.shape)}")
    per_group = c // num_groups * _prod(input.shape[2:])
    return NativeGroupNorm.apply(input, weight, bias, (n, num_groups, per_group), (2,),
                                 _channel_shape(input), eps)


def instance_norm(input: Tensor, running_mean: Tensor | None = None,
                  running_var: Tensor | None = None, weight: Tensor | None = None,
                  bias: Tensor | None = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise each (sample, channel) over its spatial dims."""
    if input.ndim >= 2:         # torch batch-norms the (1, N*C, ...) view: counts are N times
        _check_features(input.shape[1], input.shape[0], running_mean=running_mean,
                        running_var=running_var, weight=weight, bias=bias)
    shape = _channel_shape(input)
    if not use_input_stats:
        return EvalBatchNorm.apply(input, weight, bias, running_mean, running_var, shape, eps)
    spatial = _prod(input.shape[2:])
    if spatial == 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size "
                         f"{input.size()}")
    n, c = input.shape[0], input.shape[1]
    stats: list = []
    out = InstanceNorm.apply(input, weight, bias, (n, c, spatial), (2,), shape, eps, stats)
    if running_mean is not None or running_var is not None:
        mean, var = stats
        unbiased = var * (spatial / (spatial - 1))
        _update_running(running_mean, mean.reshape(n, c).mean(0), momentum)
        _update_running(running_var, unbiased.reshape(n, c).mean(0), momentum)
    return out


def rms_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,
             eps: float | None = None) -> Tensor:
    """``input / sqrt(mean(input**2) + eps) * weight`` over the trailing dims."""
    ns = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(ns)
    if input.ndim < k or tuple(input.shape[input.ndim - k:]) != ns:
        raise RuntimeError(f"Given normalized_shape={list(ns)}, expected input with shape "
                           f"[*, {', '.join(map(str, ns))}], but got input of size"
                           f"{list(input.shape)}")
    if eps is None:
        eps = float(xp.finfo(input._data.dtype).eps)
    dims = tuple(range(input.ndim - k, input.ndim))
    out = input * ((input * input).mean(dims, keepdim=True) + eps) ** -0.5
    return out if weight is None else out * weight


def local_response_norm(input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75,
                        k: float = 1.0) -> Tensor:
    """``input / (k + alpha * mean of input**2 over a window of size channels)**beta``
    (the window is centred, zero padded: size // 2 before, (size - 1) // 2 after)."""
    if input.ndim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality                          "
                         f"input (got {input.ndim} dimensions)")
    if input.numel() == 0:
        return input
    from ... import cat
    n, c = input.shape[0], input.shape[1]
    rest = tuple(input.shape[2:])
    sq = input * input
    # window sums as differences of a running sum over the zero-padded channels
    before = _make(xp.zeros((n, size // 2 + 1) + rest, dtype=input._data.dtype))
    after = _make(xp.zeros((n, (size - 1) // 2) + rest, dtype=input._data.dtype))
    cs = cat([before, sq, after], 1).cumsum(1)
    window = cs[:, size:size + c] - cs[:, :c]
    return input / (window * (alpha / size) + k) ** beta
