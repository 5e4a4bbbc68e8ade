"""Elementwise arithmetic and math: each op's forward, with its derivative right below.

Backward formulas are written with Tensor ops, so with ``create_graph=True`` they are
recorded too and higher-order derivatives work. Broadcasting needs no care here: the engine
sums every gradient back to its input's shape.
"""

from __future__ import annotations

import cmath
import math

from .._dtype import get_default_dtype
from .._tensor import Tensor
from ..autograd.function import nondifferentiable
from ._jvp import conj, primal, re, refuse_dual
from ._util import Op, _make, floating, ndarray, operands, tensor_method, xp
from .complex import conj_any  # holomorphic ops: grad * conj(f'(z)), PyTorch's convention

__all__ = ["add", "sub", "subtract", "mul", "multiply", "div", "divide", "true_divide", "pow",
           "neg", "negative", "abs", "absolute", "exp", "log", "sqrt", "tanh", "sigmoid", "relu",
           "eq", "ne", "lt", "le", "gt", "ge", "greater", "greater_equal", "less", "less_equal",
           "not_equal", "rsub", "sign"]


# -- arithmetic -------------------------------------------------------------------------------
def _tangent_sum(out: Tensor, *terms):
    """The sum of the tangent terms that are not None, at the output's shape and dtype
    (a term from a broadcast input is expanded); None when every term is None."""
    total = None
    for t in terms:
        if t is not None:
            total = t if total is None else total + t
    if total is None:
        return None
    if total.dtype != out.dtype:
        total = total.to(out.dtype)
    return total if total.shape == out.shape else total.expand(out.shape)


def _zero_tangent(out: Tensor) -> Tensor:
    """The tangent of a piecewise-constant op (rounding, sign): zeros like the output."""
    from .._creation import zeros_like
    return zeros_like(out)


class Add(Op):
    """d(a + alpha*b) = da + alpha*db"""

    node_name = "AddBackward0"
    _array_backward = True
    _n_inputs = 2

    @staticmethod
    def forward(ctx, a, b, alpha=1):
        x, y = operands(a, b)
        ctx.alpha = alpha
        return x + y if alpha == 1 else x + alpha * y

    @staticmethod
    def backward(ctx, g):
        alpha = ctx.alpha
        return g, (g if alpha == 1 else g * alpha) if ctx.needs_input_grad[1] else None

    @staticmethod
    def jvp(inputs, out, tangents):
        ta, tb = tangents[:2]
        alpha = inputs[2] if len(inputs) > 2 else 1
        if tb is not None and alpha != 1:
            tb = tb * alpha
        return _tangent_sum(out, ta, tb)


class Sub(Op):
    """d(a - alpha*b) = da - alpha*db"""

    node_name = "SubBackward0"
    _array_backward = True
    _n_inputs = 2

    @staticmethod
    def forward(ctx, a, b, alpha=1):
        if _is_bool(a) or _is_bool(b):
            raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not "
                               "supported. If you are trying to invert a mask, use the `~` or "
                               "`logical_not()` operator instead.")
        x, y = operands(a, b)
        ctx.alpha = alpha
        return x - y if alpha == 1 else x - alpha * y

    @staticmethod
    def backward(ctx, g):
        return g, (-g if ctx.alpha == 1 else g * -ctx.alpha) if ctx.needs_input_grad[1] else None

    @staticmethod
    def jvp(inputs, out, tangents):
        ta, tb = tangents[:2]
        alpha = inputs[2] if len(inputs) > 2 else 1
        if tb is not None:
            tb = -tb if alpha == 1 else tb * -alpha
        return _tangent_sum(out, ta, tb)


class Rsub(Op):
    """d(b - alpha*a) = -alpha*da  (``scalar - tensor``)"""

    node_name = "RsubBackward1"
    _array_backward = True

    @staticmethod
    def forward(ctx, a, b, alpha=1):
        x, y = operands(a, b)
        ctx.alpha = alpha
        return y - x if alpha == 1 else y - alpha * x

    @staticmethod
    def backward(ctx, g):
        return (-g if ctx.alpha == 1 else g * -ctx.alpha), None

    @staticmethod
    def jvp(inputs, out, tangents):
        ta, tb = tangents[:2]
        alpha = inputs[2] if len(inputs) > 2 else 1
        if ta is not None:
            ta = -ta if alpha == 1 else ta * -alpha
        return _tangent_sum(out, ta, tb)


class Mul(Op):
    """d(a*b) = b*da + a*db"""

    node_name = "MulBackward0"
    _array_backward = True
    _n_inputs = 2

    @staticmethod
    def forward(ctx, a, b):
        need_a, need_b = ctx.needs_input_grad
        ctx.save_for_backward(a if need_b else None, b if need_a else None)
        x, y = operands(a, b)
        return x * y

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        return (g * conj_any(b) if need_a else None), (g * conj_any(a) if need_b else None)

    @staticmethod
    def jvp(inputs, out, tangents):
        a, b = primal(inputs[0]), primal(inputs[1])
        ta, tb = tangents
        return _tangent_sum(out, None if ta is None else ta * b, None if tb is None else a * tb)


class Div(Op):
    """d(a/b) = da/b - a/b**2 db"""

    node_name = "DivBackward0"
    _array_backward = True
    _n_inputs = 2

    @staticmethod
    def forward(ctx, a, b, rounding_mode=None):
        x, y = operands(a, b)
        ctx.save_for_backward(a if ctx.needs_input_grad[1] else None, b)
        ctx.rounding_mode = rounding_mode
        if rounding_mode is None:
            if _kind(x, y) not in "fc":
                # Integer true division gives the default float dtype, as in PyTorch.
                x, y = _to_default_float(x), _to_default_float(y)
            return xp.true_divide(x, y)
        kind = _kind(x, y)  # x or y may be a Python number (``3 // t``)
        result_dtype = (x if isinstance(x, ndarray) else y).dtype
        if rounding_mode == "trunc":
            q = xp.true_divide(x, y)
            return xp.trunc(q).astype(q.dtype if kind in "fc" else result_dtype)
        if rounding_mode == "floor":
            if kind in "iub":
                return xp.asarray(xp.floor_divide(x, y)).astype(result_dtype, copy=False)
            return xp.floor(xp.true_divide(x, y))
        raise RuntimeError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' "
                           f"but found '{rounding_mode}'")

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        if ctx.rounding_mode is not None:
            return (g * 0 if ctx.needs_input_grad[0] else None), (
                g * 0 if ctx.needs_input_grad[1] else None)
        need_a, need_b = ctx.needs_input_grad[:2]
        ga = g / conj_any(b) if need_a else None
        gb = -g * conj_any(a / (b * b)) if need_b else None
        return ga, gb

    @staticmethod
    def jvp(inputs, out, tangents):
        """d(a/b) = (da - (a/b) db) / b; with a rounding mode, 0"""
        if len(inputs) > 2 and inputs[2] is not None:
            return _zero_tangent(out)
        ta, tb = tangents[:2]
        if tb is not None:
            ta = -tb * out if ta is None else ta - tb * out
        return _tangent_sum(out, ta / primal(inputs[1]))


class PowScalar(Op):
    """d(x**p) = p * x**(p-1) dx"""

    node_name = "PowBackward0"
    _array_backward = True

    @staticmethod
    def forward(ctx, x, p):
        ctx.save_for_backward(x)
        ctx.p = p
        a, e = operands(x, p)
        if isinstance(e, int) and e < 0 and a.dtype.kind in "iu":
            raise RuntimeError("Integers to negative integer powers are not allowed.")
        if e == 2:
            return a * a
        return xp.power(a, e)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        deriv = _dpow(x, ctx.p)
        return (g * 0 if deriv is None else g * conj_any(deriv)), None

    @staticmethod
    def jvp(inputs, out, tangents):
        x, p = inputs
        deriv = _dpow(primal(x), p)
        return _zero_tangent(out) if deriv is None else _tangent_sum(out, tangents[0] * deriv)


class Pow(Op):
    """d(a**b) = b * a**(b-1) da + a**b * log(a) db"""

    node_name = "PowBackward1"

    @staticmethod
    def forward(ctx, a, b):
        x, y = operands(a, b)
        out = xp.power(x, y)
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b, out = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        ga = g * conj_any(_dpow_base(a, b)) if need_a else None
        gb = g * conj_any(_dpow_exponent(a, b, out)) if need_b else None
        return ga, gb

    @staticmethod
    def jvp(inputs, out, tangents):
        a, b = primal(inputs[0]), primal(inputs[1])
        ta, tb = tangents
        return _tangent_sum(out, None if ta is None else ta * _dpow_base(a, b),
                            None if tb is None else tb * _dpow_exponent(a, b, out))


def _dpow(x: Tensor, p):
    """d(x**p)/dx for a number p (None for p == 0: the derivative is 0)."""
    if p == 0:
        return None
    return x * 2 if p == 2 else p * x ** (p - 1)


def _dpow_base(a: Tensor, b: Tensor) -> Tensor:
    """d(a**b)/da; 0 where b == 0 (not 0 * a**-1, which is NaN at a == 0)."""
    return where(b == 0, 0.0, b * a ** (b - 1))


def _dpow_exponent(a: Tensor, b: Tensor, out: Tensor) -> Tensor:
    """d(a**b)/db = a**b log(a); PyTorch's convention: 0 where a == 0 and Re(b) >= 0."""
    return where((a == 0).logical_and(re(b) >= 0), 0.0, out * log(a))


def _log_number(s):
    """log of a Python number base (-inf at 0, NaN below 0 for a real one)."""
    if isinstance(s, complex):
        return cmath.log(s) if s != 0 else float("-inf")
    return math.log(s) if s > 0 else (float("-inf") if s == 0 else float("nan"))


class RPowScalar(Op):
    """d(s**x) = s**x * log(s) dx  (``scalar ** tensor``)"""

    node_name = "PowBackward2"
    _array_backward = True

    @staticmethod
    def forward(ctx, s, x):
        a, e = operands(s, x)
        out = xp.power(a, e)
        ctx.save_for_backward(out)
        ctx.log_s = float(xp.log(s)) if s > 0 else (float("-inf") if s == 0 else float("nan"))
        return out

    @staticmethod
    def backward(ctx, g):
        out, = ctx.saved_tensors
        if ctx.log_s == float("-inf"):
            return None, g * 0
        return None, g * conj_any(out * ctx.log_s)

    @staticmethod
    def jvp(inputs, out, tangents):
        s, x = inputs
        deriv = out * _log_number(s)
        if s == 0:
            # PyTorch: 0**x has a zero derivative where x >= 0 (0 * -inf elsewhere)
            deriv = where(primal(x) >= 0, 0.0, deriv)
        return _tangent_sum(out, tangents[1] * deriv)


@tensor_method()
def add(input, other, *, alpha=1, out=None):
    """``input + alpha * other`` with broadcasting."""
    return _out(Add.apply(input, other, alpha), out)


@tensor_method("sub", "subtract")
def sub(input, other, *, alpha=1, out=None):
    """``input - alpha * other`` with broadcasting."""
    if not isinstance(input, Tensor):
        return _out(Rsub.apply(other, input, alpha), out)
    return _out(Sub.apply(input, other, alpha), out)


def rsub(input, other, *, alpha=1):
    """``other - alpha * input``."""
    return Rsub.apply(input, other, alpha)


@tensor_method("mul", "multiply")
def mul(input, other, *, out=None):
    """Elementwise product with broadcasting."""
    return _out(Mul.apply(input, other), out)


@tensor_method("div", "divide", "true_divide")
def div(input, other, *, rounding_mode=None, out=None):
    """Elementwise true division (or ``rounding_mode='trunc'|'floor'``)."""
    return _out(Div.apply(input, other, rounding_mode), out)


@tensor_method()
def pow(input, exponent, *, out=None):
    """``input ** exponent``; either may be a Python number."""
    if not isinstance(input, Tensor):
        return _out(RPowScalar.apply(input, exponent), out)
    if isinstance(exponent, Tensor):
        return _out(Pow.apply(input, exponent), out)
    return _out(PowScalar.apply(input, exponent), out)


subtract, multiply, divide, true_divide = sub, mul, div, div


def _is_bool(v) -> bool:
    return isinstance(v, bool) or (isinstance(v, Tensor) and v._data.dtype == bool)


def _kind(x, y) -> str:
    return (x if isinstance(x, ndarray) else y).dtype.kind


def _to_default_float(v):
    if isinstance(v, ndarray):
        return v.astype(get_default_dtype().np)
    return float(v)


def _out(result: Tensor, out: Tensor | None) -> Tensor:
    if out is None:
        return result
    from .inplace import copy_into_out
    return copy_into_out(out, result)


# -- unary math -------------------------------------------------------------------------------
class Neg(Op):
    """d(-x) = -dx"""

    node_name = "NegBackward0"
    _array_backward = True

    @staticmethod
    def forward(ctx, x):
        if x._data.dtype == bool:
            raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. "
                               "If you are trying to invert a mask, use the `~` or "
                               "`logical_not()` operator instead.")
        return xp.negative(x._data)

    @staticmethod
    def backward(ctx, g):
        return -g

    @staticmethod
    def jvp(inputs, out, tangents):
        return -tangents[0]


class Abs(Op):
    """d|x| = sign(x) dx"""

    node_name = "AbsBackward0"

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return xp.abs(x._data)

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * x.sgn()

    @staticmethod
    def jvp(inputs, out, tangents):
        """real: sign(x) dx; complex: Re(conj(dz) sgn(z)), a real tangent"""
        return re(conj(tangents[0]) * primal(inputs[0]).sgn())


class Exp(Op):
    """d exp(x) = exp(x) dx"""

    node_name = "ExpBackward0"
    _array_backward = True

    @staticmethod
    def forward(ctx, x):
        out = xp.exp(floating(x))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        out, = ctx.saved_tensors
        return g * conj_any(out)

    @staticmethod
    def jvp(inputs, out, tangents):
        return tangents[0] * out


class Log(Op):
    """d log(x) = dx / x"""

    node_name = "LogBackward0"
    _array_backward = True

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        with xp.errstate(divide="ignore", invalid="ignore"):
            return xp.log(floating(x))

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g / conj_any(x)

    @staticmethod
    def jvp(inputs, out, tangents):
        return tangents[0] / primal(inputs[0])


class Sqrt(Op):
    """d sqrt(x) = dx / (2 sqrt(x))"""

    node_name = "SqrtBackward0"
    _array_backward = True

    @staticmethod
    def forward(ctx, x):
        with xp.errstate(invalid="ignore"):
            out = xp.sqrt(floating(x))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        out, = ctx.saved_tensors
        return g / conj_any(out * 2)

    @staticmethod
    def jvp(inputs, out, tangents):
        return tangents[0] / (out * 2)


class Tanh(Op):
    """d tanh(x) = (1 - tanh(x)**2) dx"""

    node_name = "TanhBackward0"
    _array_backward = True

    @staticmethod
    def forward(ctx, x):
        out = xp.tanh(floating(x))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        out, = ctx.saved_tensors
        return g * conj_any(1 - out * out)

    @staticmethod
    def jvp(inputs, out, tangents):
        return tangents[0] * (1 - out * out)


class Sigmoid(Op):
    """d sigmoid(x) = sigmoid(x) (1 - sigmoid(x)) dx"""

    node_name = "SigmoidBackward0"
    _array_backward = True

    @staticmethod
    def forward(ctx, x):
        a = floating(x)
        if a.dtype.kind == "c":
            out = 1 / (1 + xp.exp(-a))
            ctx.save_for_backward(out)
            return out
        # exp(-|x|) never overflows: the two branches of the logistic function.
        e = xp.exp(-xp.abs(a))
        out = xp.where(a >= 0, 1 / (1 + e), e / (1 + e)).astype(a.dtype, copy=False)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        out, = ctx.saved_tensors
        return g * conj_any(out * (1 - out))

    @staticmethod
    def jvp(inputs, out, tangents):
        return tangents[0] * (out * (1 - out))


class Relu(Op):
    """d relu(x) = [x > 0] dx"""

    node_name = "ReluBackward0"
    _array_backward = True

    @staticmethod
    def forward(ctx, x):
        a = x._data
        out = xp.maximum(a, 0) if a.dtype.kind != "b" else a.copy()
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        out, = ctx.saved_tensors
        return g * (out > 0)

    @staticmethod
    def jvp(inputs, out, tangents):
        return where(out > 0, tangents[0], 0.0)


class Sign(Op):
    """d sign(x) = 0"""

    node_name = "SignBackward0"
    _array_backward = True

    @staticmethod
    def forward(ctx, x):
        if x._data.dtype == bool:
            return x._data.copy()
        return xp.sign(x._data)

    @staticmethod
    def backward(ctx, g):
        return g * 0

    @staticmethod
    def jvp(inputs, out, tangents):
        return _zero_tangent(out)


@tensor_method()
def sign(input: Tensor) -> Tensor:
    """Elementwise sign: -1, 0 or 1."""
    return Sign.apply(input)


@tensor_method("neg", "negative")
def neg(input: Tensor) -> Tensor:
    """Elementwise ``-x``."""
    return Neg.apply(input)


@tensor_method("abs", "absolute")
def abs(input: Tensor) -> Tensor:
    """Elementwise absolute value."""
    return Abs.apply(input)


@tensor_method()
def exp(input: Tensor) -> Tensor:
    """Elementwise ``e ** x``."""
    return Exp.apply(input)


@tensor_method()
def log(input: Tensor) -> Tensor:
    """Elementwise natural logarithm."""
    return Log.apply(input)


@tensor_method()
def sqrt(input: Tensor) -> Tensor:
    """Elementwise square root."""
    return Sqrt.apply(input)


@tensor_method()
def tanh(input: Tensor) -> Tensor:
    """Hyperbolic tangent."""
    return Tanh.apply(input)


@tensor_method()
def sigmoid(input: Tensor) -> Tensor:
    """``1 / (1 + exp(-x))``."""
    return Sigmoid.apply(input)


@tensor_method()
def relu(input: Tensor) -> Tensor:
    """``max(x, 0)``."""
    return Relu.apply(input)


negative, absolute = neg, abs


def where(condition, input, other):
    from .indexing import where as _where
    return _where(condition, input, other)


# -- comparisons (not differentiable) ---------------------------------------------------------
def _compare(ufunc, input, other, out) -> Tensor:
    x, y = operands(input, other)
    return _out(_make(xp.asarray(ufunc(x, y))), out)


@tensor_method()
@nondifferentiable
def eq(input, other, *, out=None) -> Tensor:
    """Elementwise ``input == other``."""
    return _compare(xp.equal, input, other, out)


@tensor_method("ne", "not_equal")
@nondifferentiable
def ne(input, other, *, out=None) -> Tensor:
    """Elementwise ``input != other``."""
    return _compare(xp.not_equal, input, other, out)


@tensor_method("lt", "less")
@nondifferentiable
def lt(input, other, *, out=None) -> Tensor:
    """Elementwise ``input < other``."""
    return _compare(xp.less, input, other, out)


@tensor_method("le", "less_equal")
@nondifferentiable
def le(input, other, *, out=None) -> Tensor:
    """Elementwise ``input <= other``."""
    return _compare(xp.less_equal, input, other, out)


@tensor_method("gt", "greater")
@nondifferentiable
def gt(input, other, *, out=None) -> Tensor:
    """Elementwise ``input > other``."""
    return _compare(xp.greater, input, other, out)


@tensor_method("ge", "greater_equal")
@nondifferentiable
def ge(input, other, *, out=None) -> Tensor:
    """Elementwise ``input >= other``."""
    return _compare(xp.greater_equal, input, other, out)


not_equal, less, less_equal, greater, greater_equal = ne, lt, le, gt, ge


# -- operators ------------------------------------------------------------------------------
def _binary_dunder(fn, reflected=False):
    def dunder(self, other):
        if not isinstance(other, (Tensor, int, float, bool, complex)) and not hasattr(
                other, "__array__"):
            return NotImplemented
        return fn(other, self) if reflected else fn(self, other)
    return dunder


Tensor.__add__ = lambda self, other: Add.apply(self, other)
Tensor.__radd__ = Tensor.__add__
Tensor.__sub__ = lambda self, other: Sub.apply(self, other)
Tensor.__rsub__ = lambda self, other: Rsub.apply(self, other)
Tensor.__mul__ = lambda self, other: Mul.apply(self, other)
Tensor.__rmul__ = Tensor.__mul__
Tensor.__truediv__ = lambda self, other: Div.apply(self, other)
# ``2 / x`` is ``reciprocal(x) * 2`` in PyTorch too (its grad_fn is MulBackward0).
Tensor.__rtruediv__ = lambda self, other: Mul.apply(Reciprocal.apply(self), other)
Tensor.__pow__ = lambda self, other: pow(self, other)
Tensor.__rpow__ = lambda self, other: pow(other, self)
Tensor.__neg__ = neg
Tensor.__abs__ = abs
Tensor.__pos__ = lambda self: self
Tensor.__eq__ = _binary_dunder(eq)
Tensor.__ne__ = _binary_dunder(ne)
Tensor.__lt__ = _binary_dunder(lt)
Tensor.__le__ = _binary_dunder(le)
Tensor.__gt__ = _binary_dunder(gt)
Tensor.__ge__ = _binary_dunder(ge)


def _floordiv(a, b) -> Tensor:
    """``a // b``: PyTorch's floor_divide, which has no forward derivative."""
    refuse_dual("aten::floor_divide", a, b)
    return div(a, b, rounding_mode="floor")


Tensor.__floordiv__ = lambda self, other: _floordiv(self, other)
Tensor.__rfloordiv__ = lambda self, other: _floordiv(other, self)


class Reciprocal(Op):
    """d(1/x) = -dx / x**2"""

    node_name = "ReciprocalBackward0"
    _array_backward = True

    @staticmethod
    def forward(ctx, x):
        with xp.errstate(divide="ignore"):
            out = xp.reciprocal(floating(x))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        out, = ctx.saved_tensors
        return -g * conj_any(out * out)

    @staticmethod
    def jvp(inputs, out, tangents):
        return -tangents[0] * (out * out)
