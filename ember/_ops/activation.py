"""Activation functions, with ``torch.nn.functional``'s signatures (``inplace=`` included).

``__all__`` lists the names PyTorch also has at top level (``torch.softmax``,
``torch.selu``, ...); ``FUNCTIONAL`` lists every function ``ember.nn.functional`` takes from
here. softmax and log_softmax are fused: a max-subtracted forward and one-line backwards.
"""

from __future__ import annotations

import math

from .._dtype import dtype as _DType
from .._tensor import _wrap_dim
from ..amp._state import lower_precision
from ..autograd.grad_mode import _grad_enabled
from ._jvp import _FILE_AN_ISSUE, conj, fit, or_zeros, primal
from ._util import Op, Tensor, _make, floating, tensor_method, xp
from .elementwise import Relu, Sigmoid, Tanh
from .inplace import apply_inplace
from .pointwise import _not_implemented, logical_and, logical_or
from .unary import _masked, erf

# ``relu`` itself is elementwise.relu (``ember.relu is Tensor.relu``, no ``inplace=``, as in
# torch); the ``inplace=`` form is nn.functional's.
__all__ = ["relu_", "selu", "selu_", "celu", "celu_", "threshold", "threshold_",
           "hardshrink", "softmax", "log_softmax", "prelu", "rrelu", "rrelu_"]

FUNCTIONAL = ["relu", "relu_", "relu6", "leaky_relu", "leaky_relu_", "elu", "elu_", "selu",
              "selu_", "celu", "celu_", "gelu", "silu", "mish", "softplus", "softsign",
              "hardtanh", "hardtanh_", "hardsigmoid", "hardswish", "hardshrink", "softshrink",
              "tanhshrink", "threshold", "threshold_", "logsigmoid", "softmax", "log_softmax",
              "softmin", "glu", "prelu", "rrelu", "rrelu_", "sigmoid", "tanh"]

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


class _Diagonal(Op):
    """Base of the activations applied elementwise: their Jacobian is diagonal, so one
    formula, ``derivative(x, v, *params)`` (the Jacobian at ``x`` times ``v``), gives both
    backward (v = the output's gradient) and the forward-mode rule (v = the input's tangent);
    ``params`` are the arguments of ``apply`` after the input."""

    @staticmethod
    def derivative(x: Tensor, v: Tensor, *params) -> Tensor:
        raise NotImplementedError

    @classmethod
    def jvp(cls, inputs, out, tangents):
        if tangents[0] is None:
            return None
        return fit(cls.derivative(primal(inputs[0]), tangents[0], *inputs[1:]), out)


def _run(op, input: Tensor, *args, inplace: bool = False) -> Tensor:
    """``op.apply(input, *args)``, or written into ``input`` when ``inplace`` (under
    PyTorch's in-place node name, ``EluBackward1`` etc., where it has one)."""
    if not inplace:
        return op.apply(input, *args)
    return apply_inplace(input, _INPLACE_NODES.get(op, op).apply, *args)


# -- piecewise-linear family ------------------------------------------------------------------
def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """``max(x, 0)``."""
    return Relu.apply(input) if not inplace else _run(Relu, input, inplace=True)


def relu_(input: Tensor) -> Tensor:
    return relu(input, inplace=True)


class Hardtanh(_Diagonal):
    """d hardtanh(x) = [lo < x < hi] dx"""

    node_name = "HardtanhBackward0"

    @staticmethod
    def derivative(x, v, lo, hi):
        return _masked(v, logical_and(x > lo, x < hi))

    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.save_for_backward(x)
        ctx.lo, ctx.hi = lo, hi
        return xp.clip(x._data, lo, hi)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return Hardtanh.derivative(x, g, ctx.lo, ctx.hi), None, None


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0,
             inplace: bool = False) -> Tensor:
    """Clamp to ``[min_val, max_val]``."""
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    return _run(Hardtanh, input, min_val, max_val, inplace=inplace)


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    return hardtanh(input, min_val, max_val, inplace=True)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """``min(max(x, 0), 6)``."""
    return hardtanh(input, 0.0, 6.0, inplace)


class LeakyRelu(_Diagonal):
    """d leaky_relu(x) = (1 if x > 0 else slope) dx"""

    node_name = "LeakyReluBackward0"

    @staticmethod
    def derivative(x, v, slope):
        return _where_pos(x, v, v * slope)

    @staticmethod
    def forward(ctx, x, slope):
        ctx.save_for_backward(x)
        ctx.slope = slope
        a = floating(x)
        return xp.where(a > 0, a, a * slope)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return LeakyRelu.derivative(x, g, ctx.slope), None


def _half(t: Tensor, dim: int, first: bool) -> Tensor:
    n = t.shape[dim] // 2
    return t[(slice(None),) * dim + (slice(0, n) if first else slice(n, None),)]


def _where_pos(x: Tensor, a, b) -> Tensor:
    from .indexing import where
    return where(x > 0, a, b)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """``x`` for x > 0, else ``negative_slope * x``."""
    return _run(LeakyRelu, input, negative_slope, inplace=inplace)


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    return leaky_relu(input, negative_slope, True)


class RreluEval(LeakyRelu):
    node_name = "RreluWithNoiseBackward0"


class RreluTrain(_Diagonal):
    """d rrelu(x) = (1 if x >= 0 else the sampled slope) dx"""

    node_name = "RreluWithNoiseBackward0"

    @staticmethod
    def derivative(x, v, noise):
        return v * noise

    @staticmethod
    def forward(ctx, x, noise):
        a = x._data
        ctx.save_for_backward(noise)
        return a * noise

    @staticmethod
    def backward(ctx, g):
        noise, = ctx.saved_tensors
        return RreluTrain.derivative(None, g, noise), None


def rrelu(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3,
          training: bool = False, inplace: bool = False) -> Tensor:
    """Randomised leaky ReLU: slopes drawn from U(lower, upper) when training, else the
    fixed slope ``(lower + upper) / 2``."""
    if not training:
        return _run(RreluEval, input, (lower + upper) / 2, inplace=inplace)
    from .._random import default_generator
    a = input._data
    slopes = default_generator.uniform(a.shape, input.dtype, lower, upper)
    noise = xp.where(a >= 0, xp.ones((), a.dtype), slopes)
    return _run(RreluTrain, input, noise, inplace=inplace)


def rrelu_(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3,
           training: bool = False) -> Tensor:
    return rrelu(input, lower, upper, training, True)


class Threshold(_Diagonal):
    """d threshold(x) = [x > threshold] dx"""

    node_name = "ThresholdBackward0"

    @staticmethod
    def derivative(x, v, threshold, value=None):
        return _masked(v, x > threshold)

    @staticmethod
    def forward(ctx, x, threshold, value):
        ctx.save_for_backward(x)
        ctx.threshold = threshold
        a = x._data
        return xp.where(a > threshold, a, xp.asarray(value, a.dtype))

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return Threshold.derivative(x, g, ctx.threshold), None, None


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """``x`` where ``x > threshold``, else ``value``."""
    return _run(Threshold, input, threshold, value, inplace=inplace)


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    return _run(Threshold, input, threshold, value, inplace=True)


class Hardshrink(_Diagonal):
    """d hardshrink(x) = [|x| > lambd] dx"""

    node_name = "HardshrinkBackward0"

    @staticmethod
    def derivative(x, v, lambd):
        return _masked(v, logical_or(x > lambd, x < -lambd))

    @staticmethod
    def forward(ctx, x, lambd):
        ctx.save_for_backward(x)
        ctx.lambd = lambd
        a = x._data
        return xp.where(xp.abs(a) > lambd, a, xp.zeros((), a.dtype))

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return Hardshrink.derivative(x, g, ctx.lambd), None


@tensor_method()
def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """``x`` where ``|x| > lambd``, else 0."""
    return Hardshrink.apply(input, lambd)


class Softshrink(Hardshrink):
    """d softshrink(x) = [|x| > lambd] dx"""

    node_name = "SoftshrinkBackward0"

    @staticmethod
    def forward(ctx, x, lambd):
        ctx.save_for_backward(x)
        ctx.lambd = lambd
        a = x._data
        return xp.where(a > lambd, a - lambd, xp.where(a < -lambd, a + lambd,
                                                       xp.zeros((), a.dtype)))


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """Shrink toward 0 by ``lambd`` (0 inside ``[-lambd, lambd]``)."""
    if lambd < 0:
        raise RuntimeError(f"lambda must be greater or equal to 0, but found to be {lambd}.")
    return Softshrink.apply(input, lambd)


class Hardsigmoid(_Diagonal):
    """d hardsigmoid(x) = [-3 < x < 3] dx / 6"""

    node_name = "HardsigmoidBackward0"

    @staticmethod
    def derivative(x, v):
        return _masked(v / 6, logical_and(x > -3, x < 3))

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return xp.clip(x._data / 6 + 0.5, 0, 1)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return Hardsigmoid.derivative(x, g)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """``relu6(x + 3) / 6``."""
    return _run(Hardsigmoid, input, inplace=inplace)


class Hardswish(_Diagonal):
    """d hardswish(x) = (0 if x <= -3, 1 if x >= 3, else (2x + 3)/6) dx"""

    node_name = "HardswishBackward0"

    @staticmethod
    def derivative(x, v):
        from .indexing import where
        # PyTorch's kernel takes the outer branches at x = -3 and x = 3 themselves.
        return where(x >= 3, v, _masked(v * (x / 3 + 0.5), x > -3))

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        a = x._data
        return a * xp.clip(a / 6 + 0.5, 0, 1)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return Hardswish.derivative(x, g)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """``x * relu6(x + 3) / 6``."""
    return _run(Hardswish, input, inplace=inplace)


# -- smooth family ----------------------------------------------------------------------------
class Elu(_Diagonal):
    """d elu(x) = (s if x > 0 else s*is*alpha*exp(is*x)) dx; s, is = scale, input_scale"""

    node_name = "EluBackward0"

    @staticmethod
    def derivative(x, v, alpha, scale, input_scale):
        neg = (x * input_scale).exp() * (alpha * scale * input_scale)
        return _where_pos(x, v * scale, v * neg)

    @staticmethod
    def forward(ctx, x, alpha, scale, input_scale):
        ctx.save_for_backward(x)
        ctx.params = alpha, scale, input_scale
        a = floating(x)
        neg = alpha * xp.expm1(xp.minimum(a, 0) * input_scale)
        out = xp.where(a > 0, a, neg)
        return out * scale if scale != 1 else out

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return Elu.derivative(x, g, *ctx.params), None, None, None


class Celu(Elu):
    node_name = "CeluBackward0"


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``x`` for x > 0, else ``alpha * (exp(x) - 1)``."""
    return _run(Elu, input, alpha, 1.0, 1.0, inplace=inplace)


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    return elu(input, alpha, True)


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """``scale * elu(x, alpha)`` with the self-normalising constants."""
    return _run(Elu, input, _SELU_ALPHA, _SELU_SCALE, 1.0, inplace=inplace)


def selu_(input: Tensor) -> Tensor:
    return selu(input, True)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``."""
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError")
    return _run(Celu, input, alpha, 1.0, 1.0 / alpha, inplace=inplace)


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    return celu(input, alpha, True)


class Gelu(_Diagonal):
    """d gelu(x) = (Φ(x) + x φ(x)) dx  (or the derivative of the tanh approximation)"""

    node_name = "GeluBackward0"

    @staticmethod
    def derivative(x, v, approximate):
        if approximate == "tanh":
            x2 = x * x
            t = ((x2 * 0.044715 + 1) * x * _SQRT_2_OVER_PI).tanh()
            dt = (1 - t * t) * ((x2 * (3 * 0.044715) + 1) * _SQRT_2_OVER_PI)
            return v * ((t + 1) * 0.5 + x * dt * 0.5)
        cdf = (erf(x * (1 / math.sqrt(2))) + 1) * 0.5
        pdf = (x * x * -0.5).exp() * (1 / math.sqrt(2 * math.pi))
        return v * (cdf + x * pdf)

    @staticmethod
    def forward(ctx, x, approximate):
        ctx.save_for_backward(x)
        ctx.approximate = approximate
        a = floating(x)
        if approximate == "tanh":
            return 0.5 * a * (1 + xp.tanh(_SQRT_2_OVER_PI * (a + 0.044715 * a * a * a)))
        from ._special import erf as erf_array
        return (0.5 * a * (1 + erf_array(a * (1 / math.sqrt(2))))).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return Gelu.derivative(x, g, ctx.approximate), None


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """``x * Φ(x)`` (``approximate='tanh'``: the tanh approximation)."""
    if approximate not in ("none", "tanh"):
        raise RuntimeError("approximate argument must be either none or tanh.")
    return Gelu.apply(input, approximate)


def _stable_sigmoid(a):
    e = xp.exp(-xp.abs(a))
    return xp.where(a >= 0, 1 / (1 + e), e / (1 + e)).astype(a.dtype, copy=False)


def _softplus_array(a):
    """log(1 + exp(a)), without overflow."""
    return xp.maximum(a, 0) + xp.log1p(xp.exp(-xp.abs(a)))


class Silu(_Diagonal):
    """d silu(x) = σ(x) (1 + x (1 - σ(x))) dx"""

    node_name = "SiluBackward0"

    @staticmethod
    def derivative(x, v):
        s = Sigmoid.apply(x)
        return v * (s * (x * (1 - s) + 1))

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        a = floating(x)
        if a.dtype.kind == "c":
            with xp.errstate(all="ignore"):
                return a / (1 + xp.exp(-a))
        return a * _stable_sigmoid(a)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return Silu.derivative(x, g)

    @staticmethod
    def jvp(inputs, out, tangents):
        # Complex x: PyTorch's backward multiplies by d(x) unconjugated, so its forward rule
        # (derived from backward) multiplies by conj(d(x)) = d(conj(x)).
        return fit(Silu.derivative(conj(primal(inputs[0])), tangents[0]), out)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """``x * sigmoid(x)``."""
    if input.is_complex() and input.requires_grad and _grad_enabled.get():
        raise RuntimeError("silu does not support automatic differentiation for outputs with "
                           "complex dtype.")
    return _run(Silu, input, inplace=inplace)


class Mish(_Diagonal):
    """d mish(x) = (tanh(sp) + x σ(x) (1 - tanh(sp)²)) dx, sp = softplus(x)"""

    node_name = "MishBackward0"

    @staticmethod
    def derivative(x, v):
        t = Tanh.apply(Softplus.apply(x, 1.0, 20.0))
        return v * (t + x * Sigmoid.apply(x) * (1 - t * t))

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        a = floating(x)
        return a * xp.tanh(_softplus_array(a))

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return Mish.derivative(x, g)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """``x * tanh(softplus(x))``."""
    return _run(Mish, input, inplace=inplace)


class Softplus(_Diagonal):
    """d softplus(x) = σ(βx) dx (1 where βx > threshold: the linear region)"""

    node_name = "SoftplusBackward0"

    @staticmethod
    def derivative(x, v, beta, threshold):
        from .indexing import where
        bx = x * beta if beta != 1 else x
        return where(bx > threshold, v, v * Sigmoid.apply(bx))

    @staticmethod
    def forward(ctx, x, beta, threshold):
        ctx.save_for_backward(x)
        ctx.beta, ctx.threshold = beta, threshold
        a = floating(x)
        bx = a * beta if beta != 1 else a
        soft = _softplus_array(bx)
        if beta != 1:
            soft = soft / beta
        return xp.where(bx > threshold, a, soft)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return Softplus.derivative(x, g, ctx.beta, ctx.threshold), None, None


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``log(1 + exp(beta * x)) / beta``, linear where ``beta * x > threshold``."""
    return Softplus.apply(input, beta, threshold)


class LogSigmoid(_Diagonal):
    """d log σ(x) = (1 - σ(x)) dx"""

    node_name = "LogSigmoidBackward0"

    @staticmethod
    def derivative(x, v):
        return v * Sigmoid.apply(-x)

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        a = floating(x)
        return -_softplus_array(-a)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return LogSigmoid.derivative(x, g)


def logsigmoid(input: Tensor) -> Tensor:
    """``log(sigmoid(x))``, stably."""
    return LogSigmoid.apply(input)


def softsign(input: Tensor) -> Tensor:
    """``x / (1 + |x|)``."""
    return input / (input.abs() + 1)


def tanhshrink(input: Tensor) -> Tensor:
    """``x - tanh(x)``."""
    return input - input.tanh()


# -- softmax family ---------------------------------------------------------------------------
def _row_max(a, dim: int | None):
    """``a.max(dim, keepdims=True)``. NumPy's max reduction is slow over short rows, so along
    the last axis of a larger C-contiguous float array the maximum is picked by argmax
    (2-4x faster; a row holding NaN still gives NaN, the first NaN being its argmax)."""
    if (dim is not None and dim == a.ndim - 1 and a.size >= 256 and a.dtype.kind == "f"
            and a.flags.c_contiguous):
        i = a.argmax(axis=-1).reshape(-1)
        i += xp.arange(0, a.size, a.shape[-1])
        return a.reshape(-1)[i].reshape(a.shape[:-1] + (1,))
    return a.max(axis=dim, keepdims=True)


def _row_sum(a, dim: int | None):
    """``a.sum(dim, keepdims=True)``; along the last axis of a float32/64 array, a BLAS
    matrix-vector product with ones (NumPy's sum is 3-25x slower over short rows)."""
    if dim is not None and dim == a.ndim - 1 and a.dtype.kind == "f" and a.itemsize >= 4:
        return xp.matmul(a, xp.ones(a.shape[-1], a.dtype))[..., None]
    return a.sum(axis=dim, keepdims=True)


def _shifted(a, dim: int | None):
    """``a - max(a, dim)`` as a new array (rows holding +inf or only -inf become NaN, as in
    PyTorch)."""
    return xp.asarray(a - _row_max(a, dim))


def _softmax_dtype(x: Tensor) -> None:
    if x._data.dtype.kind not in "fc":
        raise _not_implemented("softmax_lastdim_kernel_impl", x._data.dtype)


class _SoftmaxBase(Op):
    """Shared by Softmax and LogSoftmax: the forward along ``dim`` from the max-shifted
    input ``s = x - max(x)``; the subclass finishes it (``_finish``) and gives the
    derivative. Backward receives and returns Tensors; when the backward pass is not recorded
    it computes on their arrays in place (the saved output is large and used once)."""

    @classmethod
    def forward(cls, ctx, x, dim):
        _softmax_dtype(x)
        a = x._data
        ctx.dim = dim
        if a.size == 0:
            y = xp.empty_like(a)
        else:
            with xp.errstate(invalid="ignore", divide="ignore"):
                y = cls._finish(_shifted(a, dim), dim)
        ctx.save_for_backward(y)
        return y


class Softmax(_SoftmaxBase):
    """d softmax(x) = y (dy - sum(y dy)) along dim, y = softmax(x)"""

    node_name = "SoftmaxBackward0"

    @staticmethod
    def _finish(s, dim):
        xp.exp(s, out=s)
        s /= _row_sum(s, dim)
        return s

    @staticmethod
    def backward(ctx, g):
        y, = ctx.saved_tensors
        if _grad_enabled.get():  # recorded: differentiable Tensor ops
            gy = g * y
            return gy - y * gy.sum(ctx.dim, keepdim=True), None
        ya = y._data
        gy = xp.asarray(g._data * ya)  # 0-d arithmetic gives NumPy scalars
        gy -= ya * _row_sum(gy, ctx.dim)
        return _make(gy), None

    @staticmethod
    def jvp(inputs, out, tangents):
        """dy = y (dx - sum(y dx)): the Jacobian is symmetric, so backward's formula."""
        yt = out * tangents[0]
        return yt - out * yt.sum(inputs[1], keepdim=True)


class LogSoftmax(_SoftmaxBase):
    """d log_softmax(x) = dy - exp(y) sum(dy) along dim, y = log_softmax(x)"""

    node_name = "LogSoftmaxBackward0"

    @staticmethod
    def _finish(s, dim):
        s -= xp.log(_row_sum(xp.exp(s), dim))
        return s

    @staticmethod
    def backward(ctx, g):
        y, = ctx.saved_tensors
        if _grad_enabled.get():  # recorded: differentiable Tensor ops
            return g - y.exp() * g.sum(ctx.dim, keepdim=True), None
        ga = g._data
        out = xp.asarray(xp.exp(y._data))  # 0-d arithmetic gives NumPy scalars
        out *= _row_sum(ga, ctx.dim)
        return _make(xp.subtract(ga, out, out=out)), None

    @staticmethod
    def jvp(inputs, out, tangents):
        """dy = dx - sum(softmax(x) dx): the transpose of backward's formula (PyTorch's
        logsumexp jvp, with softmax(x) = exp(y))."""
        t = tangents[0]
        return t - (out.exp() * t).sum(inputs[1], keepdim=True)


def _softmax_dim(name: str, input: Tensor, dim, stacklevel: int) -> int:
    if dim is None:
        import warnings
        warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the "
                      "call to include dim=X as an argument.", UserWarning,
                      stacklevel=stacklevel)
        dim = 0 if input.ndim in (0, 1, 3) else 1
    d = _wrap_dim(int(dim), input.ndim)
    return d if input.ndim else None  # a 0-d input reduces over everything


def _softmax_input(input: Tensor, dtype: _DType | None) -> Tensor:
    return input.to(dtype) if dtype is not None else input


@tensor_method()
def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
            dtype: _DType | None = None) -> Tensor:
    """``exp(x) / sum(exp(x))`` along ``dim`` (computed in ``dtype`` if given)."""
    d = _softmax_dim("softmax", input, dim, _stacklevel)
    return Softmax.apply(_softmax_input(input, dtype), d)


@tensor_method()
def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
                dtype: _DType | None = None) -> Tensor:
    """``x - logsumexp(x)`` along ``dim`` (computed in ``dtype`` if given)."""
    d = _softmax_dim("log_softmax", input, dim, _stacklevel)
    return LogSoftmax.apply(_softmax_input(input, dtype), d)


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
            dtype: _DType | None = None) -> Tensor:
    """``softmax(-x)`` along ``dim``."""
    d = _softmax_dim("softmin", input, dim, _stacklevel)
    return Softmax.apply(-_softmax_input(input, dtype), d)


# -- gated and parametric ---------------------------------------------------------------------
class Glu(Op):
    """d (a σ(b)) = σ(b) da + a σ(b) (1 - σ(b)) db, with [a, b] = halves of x along dim"""

    node_name = "GluBackward0"

    @staticmethod
    def forward(ctx, x, dim):
        a = x._data
        if a.shape[dim] % 2:
            raise RuntimeError(f"Halving dimension must be even, but dimension {dim} is size "
                               f"{a.shape[dim]}")
        ctx.save_for_backward(x)
        ctx.dim = dim
        first, second = xp.split(a, 2, axis=dim)
        return first * _stable_sigmoid(second)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        first, second = _half(x, ctx.dim, True), _half(x, ctx.dim, False)
        s = Sigmoid.apply(second)
        return _Cat2.apply(g * s, g * first * s * (1 - s), ctx.dim), None

    @staticmethod
    def jvp(inputs, out, tangents):
        """dy = σ(b) da + y (1 - σ(b)) db"""
        x, dim = primal(inputs[0]), inputs[1]
        t = tangents[0]
        s = Sigmoid.apply(_half(x, dim, False))
        return s * _half(t, dim, True) + out * (1 - s) * _half(t, dim, False)


class _Cat2(Op):
    """Concatenate two tensors along dim; d = the gradient split back (GLU's backward)."""

    node_name = "CatBackward0"

    @staticmethod
    def forward(ctx, a, b, dim):
        ctx.dim, ctx.n = dim, a._data.shape[dim]
        return xp.concatenate((a._data, b._data), axis=dim)

    @staticmethod
    def backward(ctx, g):
        lead = (slice(None),) * ctx.dim
        return g[lead + (slice(0, ctx.n),)], g[lead + (slice(ctx.n, None),)], None

    @staticmethod
    def jvp(inputs, out, tangents):
        a, b, dim = inputs
        return _Cat2.apply(or_zeros(tangents[0], a), or_zeros(tangents[1], b), dim)


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """Gated linear unit: ``a * sigmoid(b)`` for the two halves of ``input`` along ``dim``."""
    if input.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    return Glu.apply(input, _wrap_dim(dim, input.ndim))


class Prelu(Op):
    """d prelu(x, w) = (1 if x > 0 else w) dx + (x if x <= 0 else 0) dw (w per channel)"""

    node_name = "PreluKernelBackward0"

    @staticmethod
    def forward(ctx, x, weight):
        a, w = x._data, weight._data
        ctx.save_for_backward(x, weight)
        wb = _channel_view(w, a.ndim)
        return xp.where(a > 0, a, wb * a).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        need_x, need_w = ctx.needs_input_grad
        gx = gw = None
        wb = w.reshape(_channel_view(w._data, x.ndim).shape)
        if need_x:
            gx = _where_pos(x, g, g * wb)
        if need_w:
            contrib = _masked(g * x, x <= 0)
            dims = tuple(d for d in range(x.ndim) if not (w.numel() > 1 and d == 1))
            gw = contrib.sum(dims).reshape(w.shape) if dims else contrib.reshape(w.shape)
        return gx, gw

    @staticmethod
    def jvp(inputs, out, tangents):
        """PyTorch's rule takes the positive branch at x = 0 (backward takes the other)."""
        from .indexing import where
        x, w = primal(inputs[0]), primal(inputs[1])
        tx, tw = tangents
        shape = _channel_view(w._data, x.ndim).shape
        neg = None
        if tx is not None:
            neg = w.reshape(shape) * tx
        if tw is not None:
            term = tw.reshape(shape) * x
            neg = term if neg is None else neg + term
        return fit(where(x >= 0, or_zeros(tx, x), neg), out)


def _channel_view(w, ndim: int):
    """The weight shaped to broadcast over dim 1 (the channels) of an ``ndim`` input."""
    if w.size == 1 or ndim < 2:
        return w.reshape(()) if w.size == 1 else w
    return w.reshape((1, w.size) + (1,) * (ndim - 2))


@tensor_method()
def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """``x`` for x > 0, else ``weight * x`` (one weight, or one per channel)."""
    input, weight = lower_precision(input, weight)  # autocast
    n = weight.numel()
    channels = input.shape[1] if input.ndim >= 2 else 1
    if n != 1 and n != channels:
        raise RuntimeError(f"Mismatch of parameter numbers and input channel size. Found "
                           f"parameter numbers = {n} and channel size = {channels}.")
    return Prelu.apply(input, weight)


def sigmoid(input: Tensor) -> Tensor:
    """``1 / (1 + exp(-x))``."""
    return Sigmoid.apply(input)


def tanh(input: Tensor) -> Tensor:
    """Hyperbolic tangent."""
    return Tanh.apply(input)



# PyTorch names the in-place forms' nodes apart (EluBackward1, ...).
class EluInplace(Elu):
    node_name = "EluBackward1"


class CeluInplace(Celu):
    node_name = "CeluBackward1"


class LeakyReluInplace(LeakyRelu):
    node_name = "LeakyReluBackward1"


class ThresholdInplace(Threshold):
    node_name = "ThresholdBackward1"


def _refuse_rrelu_inplace(inputs, out, tangents):
    """PyTorch has no forward formula for ``rrelu_with_noise_`` (in either mode)."""
    raise NotImplementedError(
        "Trying to use forward AD with rrelu_with_noise_ that does not support it because it "
        "has not been implemented yet." + _FILE_AN_ISSUE)


class RreluEvalInplace(RreluEval):
    node_name = "RreluWithNoiseBackward1"
    jvp = staticmethod(_refuse_rrelu_inplace)


class RreluTrainInplace(RreluTrain):
    node_name = "RreluWithNoiseBackward1"
    jvp = staticmethod(_refuse_rrelu_inplace)


_INPLACE_NODES = {Elu: EluInplace, Celu: CeluInplace, LeakyRelu: LeakyReluInplace,
                  Threshold: ThresholdInplace, RreluEval: RreluEvalInplace,
                  RreluTrain: RreluTrainInplace}
