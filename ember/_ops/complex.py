"""Complex tensors: real/imag views, view_as_real/view_as_complex, polar, complex, conj,
angle, sgn, and the helper that makes holomorphic backward formulas follow PyTorch's
convention.

PyTorch's gradient convention for a real loss ``L`` of a complex ``z = x + iy`` is
``z.grad = dL/dx + i dL/dy`` (twice the conjugate Wirtinger derivative). For a holomorphic
op ``w = f(z)`` that makes the chain rule ``grad_z = grad_w * conj(f'(z))``; a real input
that reaches a complex output gets ``Re(grad_w * conj(dw/dx))``, the real part being taken
once, by the engine, when it fits a gradient to its input's dtype.
"""

from __future__ import annotations

import builtins

from .._dtype import _FROM_NP
from ._jvp import conj as _conj_t
from ._jvp import fit as _fit
from ._jvp import or_zeros, primal
from ._util import Op, Tensor, _make, ndarray, tensor_method, xp

__all__ = ["real", "imag", "view_as_real", "view_as_complex", "polar", "complex", "conj",
           "conj_physical", "resolve_conj", "resolve_neg", "is_conj", "angle", "sgn",
           "adjoint", "is_complex"]


def conj_any(x):
    """``conj(x)`` for an array or a Tensor, and ``x`` itself when it is real: what a
    holomorphic op's backward multiplies the incoming gradient by (``g * conj(f'(z))``).
    Like ``expand_grad`` it serves formulas that run on either kind."""
    if type(x) is ndarray:
        return x.conj() if x.dtype.kind == "c" else x
    if isinstance(x, Tensor):
        return conj(x) if x._data.dtype.kind == "c" else x
    return x.conjugate() if isinstance(x, builtins.complex) else x


def _real_dtype(a):
    return a.real.dtype if a.dtype.kind == "c" else a.dtype


# -- conj -------------------------------------------------------------------------------------
class Conj(Op):
    """d conj(z) = conj(dz): the gradient is conjugated back"""

    node_name = "ConjBackward0"

    @staticmethod
    def forward(ctx, z):
        return xp.conj(z._data)

    @staticmethod
    def backward(ctx, g):
        return conj(g)

    @staticmethod
    def jvp(inputs, out, tangents):
        return _conj_t(tangents[0])


class ConjPhysical(Conj):
    node_name = "ConjPhysicalBackward0"


@tensor_method()
def conj(input: Tensor) -> Tensor:
    """Complex conjugate; a real tensor is returned as it is.

    PyTorch returns a lazily conjugated view; ember conjugates at once (``is_conj()`` is
    always False and ``resolve_conj()`` returns its input).
    """
    if input._data.dtype.kind != "c":
        return input
    return Conj.apply(input)


@tensor_method()
def conj_physical(input: Tensor) -> Tensor:
    """Complex conjugate computed into new memory."""
    if input._data.dtype.kind != "c":
        return input
    return ConjPhysical.apply(input)


@tensor_method()
def resolve_conj(input: Tensor) -> Tensor:
    """``input`` with its conjugation materialised (ember conjugates eagerly: ``input``)."""
    return input


@tensor_method()
def resolve_neg(input: Tensor) -> Tensor:
    """``input`` with its negation materialised (ember negates eagerly: ``input``)."""
    return input


@tensor_method()
def is_conj(input: Tensor) -> bool:
    """Whether ``input`` is a lazily conjugated view (never in ember)."""
    return False


Tensor.is_neg = lambda self: False


def is_complex(input: Tensor) -> bool:
    """Whether ``input`` has a complex dtype."""
    return input._data.dtype.kind == "c"


@tensor_method()
def adjoint(input: Tensor) -> Tensor:
    """The conjugate transpose of the last two dims."""
    return conj(input.transpose(-2, -1))


Tensor.mH = property(adjoint)
Tensor.H = property(lambda self: conj(self.t()))


# -- real / imag ------------------------------------------------------------------------------
class Real(Op):
    """d Re(z) = Re(dz): the real gradient becomes the real part of z's gradient"""

    node_name = "SelectBackward0"  # PyTorch selects from view_as_real
    _is_view = True

    @staticmethod
    def forward(ctx, z):
        return z._data.real

    @staticmethod
    def backward(ctx, g):
        return g

    @staticmethod
    def jvp(inputs, out, tangents):
        return real(tangents[0])


class Imag(Op):
    """d Im(z) = Im(dz): a real gradient g becomes i*g on z"""

    node_name = "SelectBackward0"
    _is_view = True

    @staticmethod
    def forward(ctx, z):
        return z._data.imag

    @staticmethod
    def backward(ctx, g):
        return g * 1j

    @staticmethod
    def jvp(inputs, out, tangents):
        t = tangents[0]
        return imag(t) if t.is_complex() else t.new_zeros(t.shape)


def real(input: Tensor) -> Tensor:
    """The real part (a view of a complex tensor; a real tensor itself)."""
    if input._data.dtype.kind != "c":
        return input
    return Real.apply(input)


def imag(input: Tensor) -> Tensor:
    """The imaginary part of a complex tensor (a view)."""
    if input._data.dtype.kind != "c":
        raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")
    return Imag.apply(input)


def _set_part(part):
    def setter(self, value):
        part(self).copy_(value)
    return setter


Tensor.real = property(real, _set_part(real))
Tensor.imag = property(imag, _set_part(imag))


# -- view_as_real / view_as_complex -----------------------------------------------------------
class ViewAsReal(Op):
    """The (..., 2) float view of a complex tensor; d = the complex gradient back"""

    node_name = "ViewAsRealBackward0"
    _is_view = True

    @staticmethod
    def forward(ctx, z):
        a = z._data
        # A trailing length-1 axis is always contiguous, so NumPy can split its items in two
        # whatever the other strides are (as PyTorch's view_as_real can).
        return a[..., None].view(_real_dtype(a))

    @staticmethod
    def backward(ctx, g):
        return complex(g[..., 0], g[..., 1])

    @staticmethod
    def jvp(inputs, out, tangents):
        t = tangents[0]
        return view_as_real(t if t.is_complex() else t.to(inputs[0].dtype))


class ViewAsComplex(Op):
    """The complex view of a (..., 2) float tensor; d = view_as_real of the gradient"""

    node_name = "ViewAsComplexBackward0"
    _is_view = True

    @staticmethod
    def forward(ctx, x):
        a = x._data
        return a.view(xp.result_type(a.dtype, xp.complex64))[..., 0]

    @staticmethod
    def backward(ctx, g):
        return view_as_real(g)

    @staticmethod
    def jvp(inputs, out, tangents):
        t = tangents[0]
        return view_as_complex(t if t._data.strides[-1] == t._data.itemsize else t.contiguous())


def view_as_real(input: Tensor) -> Tensor:
    """A real view of a complex tensor, with a new last dim of size 2 (real, imag)."""
    if input._data.dtype.kind != "c":
        raise RuntimeError("view_as_real is only supported for complex tensors")
    return ViewAsReal.apply(input)


def view_as_complex(input: Tensor) -> Tensor:
    """A complex view of a float tensor whose last dim has size 2 and stride 1."""
    a = input._data
    if a.dtype.kind != "f" or a.dtype.itemsize < 4:
        raise RuntimeError(f"view_as_complex is only supported for half, float and double "
                           f"tensors, but got a tensor of scalar type: {_scalar_name(a)}")
    if a.ndim == 0:
        raise RuntimeError("Input tensor must have one or more dimensions")
    if a.shape[-1] != 2:
        raise RuntimeError("Tensor must have a last dimension of size 2")
    if a.strides[-1] != a.itemsize:
        raise RuntimeError("Tensor must have a last dimension with stride 1")
    if any(s % (2 * a.itemsize) for s in a.strides[:-1]):
        raise RuntimeError("Tensor must have a stride divisible by 2 for all but last dimension")
    if a.ctypes.data % (2 * a.itemsize):
        raise RuntimeError("Tensor must have a storage_offset divisible by 2")
    return ViewAsComplex.apply(input)


def _scalar_name(a) -> str:
    names = {"float16": "Half", "float32": "Float", "float64": "Double", "int64": "Long",
             "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool",
             "complex64": "ComplexFloat", "complex128": "ComplexDouble"}
    return names.get(a.dtype.name, a.dtype.name)


# -- complex / polar --------------------------------------------------------------------------
def _check_pair(name: str, a: Tensor, b: Tensor) -> None:
    for t in (a, b):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}(): argument '{'real' if t is a else 'imag'}' (position "
                            f"{1 if t is a else 2}) must be Tensor, not {type(t).__name__}")
    da, db = a._data.dtype, b._data.dtype
    if da.kind != "f" or db.kind != "f" or da.itemsize < 4 or db.itemsize < 4:
        raise RuntimeError(f"Expected both inputs to be Half, Float or Double tensors but got "
                           f"{_scalar_name(a._data)} and {_scalar_name(b._data)}")
    if da != db:
        raise RuntimeError(f"Expected object of scalar type {_scalar_name(a._data)} but got "
                           f"scalar type {_scalar_name(b._data)} for second argument")


class Complex(Op):
    """d(x + iy) = dx + i dy: the real and imaginary parts of the gradient"""

    node_name = "ComplexBackward0"

    @staticmethod
    def forward(ctx, re, im):
        a, b = re._data, im._data
        out = xp.empty(xp.broadcast_shapes(a.shape, b.shape),
                       dtype=xp.result_type(a.dtype, xp.complex64))
        out.real, out.imag = a, b
        return out

    @staticmethod
    def backward(ctx, g):
        need_re, need_im = ctx.needs_input_grad
        return (real(g) if need_re else None), (imag(g) if need_im else None)

    @staticmethod
    def jvp(inputs, out, tangents):
        """d(x + iy) = dx + i dy"""
        re, im = inputs
        return _fit(Complex.apply(or_zeros(tangents[0], re), or_zeros(tangents[1], im)), out)


class Polar(Op):
    """w = r e^{i theta}: grad_r = Re(g conj(e^{i theta})), grad_theta = Re(g conj(i w))"""

    node_name = "PolarBackward0"

    @staticmethod
    def forward(ctx, r, theta):
        a, t = r._data, theta._data
        out = xp.empty(xp.broadcast_shapes(a.shape, t.shape),
                       dtype=xp.result_type(a.dtype, xp.complex64))
        out.real, out.imag = a * xp.cos(t), a * xp.sin(t)
        ctx.save_for_backward(theta, out)
        return out

    @staticmethod
    def backward(ctx, g):
        theta, out = ctx.saved_tensors
        need_r, need_t = ctx.needs_input_grad
        gr = gt = None
        if need_r:
            # g conj(e^{i theta}), written out in real parts (r may be 0 or negative).
            c, s = theta.cos(), theta.sin()
            gr = real(g) * c + imag(g) * s
        if need_t:
            gt = real(g * conj(out * 1j))
        return gr, gt

    @staticmethod
    def jvp(inputs, out, tangents):
        """d(r e^{i theta}) = e^{i theta} dr + i w dtheta, in real and imaginary parts"""
        theta = primal(inputs[1])
        tr, tt = tangents
        c, s = theta.cos(), theta.sin()
        re = im = None
        if tr is not None:
            re, im = tr * c, tr * s
        if tt is not None:
            w_re, w_im = real(out), imag(out)
            re = -tt * w_im if re is None else re - tt * w_im
            im = tt * w_re if im is None else im + tt * w_re
        return _fit(Complex.apply(re, im), out)


def complex(real: Tensor, imag: Tensor, *, out=None) -> Tensor:  # noqa: A001 - torch's name
    """The complex tensor ``real + i * imag`` (float32 parts give complex64)."""
    _check_pair("complex", real, imag)
    return _out(Complex.apply(real, imag), out)


def polar(abs: Tensor, angle: Tensor, *, out=None) -> Tensor:  # noqa: A002 - torch's names
    """The complex tensor ``abs * (cos(angle) + i sin(angle))``."""
    _check_pair("polar", abs, angle)
    return _out(Polar.apply(abs, angle), out)


def _out(result: Tensor, out) -> Tensor:
    if out is None:
        return result
    from .inplace import copy_into_out
    return copy_into_out(out, result)


# -- angle / sgn ------------------------------------------------------------------------------
class Angle(Op):
    """d angle(z) = (x dy - y dx) / |z|^2, so grad_z = g i z / |z|^2 (0 at z == 0);
    real inputs: piecewise constant"""

    node_name = "AngleBackward0"

    @staticmethod
    def forward(ctx, z):
        a = z._data
        ctx.save_for_backward(z)
        if a.dtype.kind == "c":
            return xp.angle(a)
        if a.dtype.kind != "f":
            a = a.astype(_default_float_np())
        # PyTorch: pi for negative numbers, 0 otherwise, NaN stays NaN.
        return xp.where(a < 0, xp.pi, xp.where(xp.isnan(a), a, 0)).astype(a.dtype)

    @staticmethod
    def backward(ctx, g):
        z, = ctx.saved_tensors
        if not z.is_complex():
            return g * 0
        sq = real(z * conj(z))
        zero = sq == 0
        return g * (z * 1j) / sq.masked_fill(zero, 1) * logical_not_(zero)

    @staticmethod
    def jvp(inputs, out, tangents):
        """complex: d angle(z) = Im(dz conj(z)) / |z|^2 (0 at z == 0); real: 0"""
        z, t = primal(inputs[0]), tangents[0]
        if not z.is_complex():
            return t.new_zeros(t.shape)
        sq = real(z * conj(z))
        zero = sq == 0
        d = t * conj(z)
        return (imag(d) / sq.masked_fill(zero, 1)).masked_fill(zero, 0)


def _default_float_np():
    from .._dtype import get_default_dtype
    return get_default_dtype().np


def logical_not_(mask: Tensor) -> Tensor:
    return _make(~mask._data)


class Sgn(Op):
    """complex z: grad_z = (g - sgn(z)^2 conj(g)) / (2|z|), 0 at z == 0 (real inputs go to
    ``sign``)"""

    node_name = "SgnBackward0"

    @staticmethod
    def forward(ctx, z):
        a = z._data
        mag = xp.abs(a)
        out = xp.where(mag == 0, 0, a / xp.where(mag == 0, 1, mag)).astype(a.dtype)
        ctx.save_for_backward(z, out)
        return out

    @staticmethod
    def backward(ctx, g):
        z, s = ctx.saved_tensors
        mag = z.abs()
        zero = mag == 0
        return (g - s * s * conj(g)) / (mag.masked_fill(zero, 1) * 2) * logical_not_(zero)

    @staticmethod
    def jvp(inputs, out, tangents):
        """d sgn(z) = (dz - sgn(z) Re(conj(sgn(z)) dz)) / |z| (0 at z == 0)"""
        z, t = primal(inputs[0]), tangents[0]
        mag = z.abs()
        zero = mag == 0
        d = t - out * real(conj(out) * t)
        return (d / mag.masked_fill(zero, 1)).masked_fill(zero, 0)


@tensor_method()
def angle(input: Tensor) -> Tensor:
    """The argument of each element in radians (for real inputs: pi where negative, else 0)."""
    return Angle.apply(input)


@tensor_method()
def sgn(input: Tensor) -> Tensor:
    """``z / |z|`` for complex ``z`` (0 at 0); ``sign`` for real tensors."""
    if input._data.dtype.kind != "c":
        from .elementwise import sign
        return sign(input)
    return Sgn.apply(input)


def complex_dtype_of(a) -> object:
    """The ember complex dtype matching a real or complex array's precision."""
    return _FROM_NP[xp.result_type(a.dtype, xp.complex64)]

