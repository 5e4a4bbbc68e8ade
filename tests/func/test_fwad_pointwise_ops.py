"""Forward-mode rules (``jvp``) of the elementwise, unary, pointwise, complex and in-place
ops against ``torch.autograd.forward_ad``: for each op class, dual inputs with random tangents
give the same primal and tangent (broadcast, 0-d, empty, complex, integer and Python-number
operands, in-place variants), and the tangents stay differentiable."""

import warnings

import numpy as np
import pytest
import torch
import torch.autograd.forward_ad as tfw

import ember
import ember.autograd.forward_ad as efw
from ember._ops import complex as complex_ops
from ember._ops import elementwise, inplace, inplace_more, pointwise, unary
from ember.autograd import function as _function
from tests.func._fwad_harness import _arrays, _dual_run, op_classes, rules_run
from tests.func.test_fwad_shape_ops import _same
from tests.parity import same_error

MODULES = (elementwise, unary, pointwise, complex_ops, inplace, inplace_more)

CPLX = (np.arange(12).reshape(3, 4) * 0.3 - 1.5) + 1j * np.linspace(-1, 2, 12).reshape(3, 4)
ZCPLX = np.array([0j, 1 + 1j, -2 + 0.5j, 0.5 - 3j])  # with a zero
INTS = np.array([[1, -2, 3, 0], [2, 2, -1, 4], [0, 5, 1, -3]])
TIES = np.array([[1.0, 3.0, 3.0, -2.0], [2.0, 2.0, 0.0, 2.0], [0.5, -1.0, 4.0, 4.0]])
ZEROS = np.array([[1.5, 0.0, 2.0, -1.0], [0.0, 3.0, 0.0, 2.0], [0.5, -2.0, 4.0, 1.0]])
POS = np.array([[0.5, 1.5, 2.0, 3.0], [0.25, 1.0, 4.0, 0.75], [2.5, 0.1, 1.2, 5.0]])
UNIT = np.array([[0.5, -0.3, 0.1, 0.9], [-0.8, 0.2, 0.6, -0.1], [0.0, 0.4, -0.6, 0.7]])
GT1 = POS + 1.0


def _f32(m, x):
    return x.to(m.float32)


def _chain(b, steps):
    """Run the in-place ``steps(b)`` and return ``b``."""
    steps(b)
    return b


def _views(m, x, y):
    b = x.clone()
    b[0].mul_(2)  # a view with a tangent: the base's tangent changes with it
    v = b[:, 1:]
    v.add_(1.5)
    w = b[1]
    b.mul_(y[:, None])  # the base written: the earlier view's tangent too
    w.exp_()
    b.t()[2].sin_()
    return b, v, w


def _view_of_plain(m, x, y):
    z = m.zeros(3, 4, dtype=m.float64)
    z[:, 1].add_(y)  # a view without a tangent: the base gets zeros, then the view's tangent
    r = m.ones(3, 4, dtype=m.float64)
    r[1:].mul_(x[1:])
    return z, r


def _setitem(m, x, y):
    z = m.zeros(3, 4, dtype=m.float64)
    z[1] = y
    z[:, 2] = 1.0
    z[[0, 2], 1:3] = x[:2, :2]
    a = x.clone()
    a[a > 0] = 0.0
    a[0, :2] = y[1:3]
    a[..., -1] = x[:, 0]
    b = x.clone()
    b[m.tensor([1, 1, 0])] = y.exp()
    return z, a, b


def _copy(m, x, y):
    a = m.zeros(3, 4, dtype=m.float64)
    a.copy_(y)  # broadcast
    b = x.clone()
    b.copy_(m.ones(4, dtype=m.float64))  # no tangent in: a zero one
    c = _f32(m, x.clone())
    c.copy_(x * 2)  # both dual: cast into c's dtype
    f = m.zeros(3, 4, dtype=m.int64)
    f.copy_(x)  # integers carry no tangent
    # (not ``float32.copy_(float64 dual)``: PyTorch 2.13 leaves the tangent in float64)
    return a, b, c, f


def _random_fills(m, x):
    m.manual_seed(0)
    return (x.clone().uniform_(), x.clone().normal_(2.0), x.clone().bernoulli_(0.5),
            x.clone().exponential_(), x.clone().cauchy_(), x.clone().log_normal_(),
            x.clone().geometric_(0.5), x.clone().random_(0, 5), x.clone().random_(),
            x.clone().random_(7),
            x.clone().bernoulli_(m.full((3, 4), 0.3, dtype=m.float64)))


def _parts(m, z, x):
    a = z.clone()
    a.real.mul_(2)
    b = z.clone()
    b.imag.copy_(x)
    c = z.clone()
    c.real = x
    return a, b, c


# name -> (fn(lib, *inputs), inputs); an input is a shape (random float64) or an array.
# Float and complex inputs are made dual; integer inputs are plain.
CASES = {
    # -- elementwise.py: arithmetic
    "add": (lambda m, a, b: (a + b, a.add(b, alpha=2.5), a + 3, 2 - a), [(3, 4), (4,)]),
    "add_one_dual": (lambda m, a, b: (a.detach() + b, a.add(b.detach(), alpha=-1)),
                     [(3, 1), (1, 4)]),
    "sub": (lambda m, a, b: (a - b, a.sub(b, alpha=2), b - a, m.sub(a, 1.5)), [(3, 4), (3, 1)]),
    "rsub": (lambda m, a, b: (m.rsub(a, b), m.rsub(a, b, alpha=3), m.rsub(a, 2.0),
                              m.rsub(a.detach(), b)), [(3, 4), (4,)]),
    "mul": (lambda m, a, b: (a * b, a * 2, 3.5 * b, a * b.detach()), [(3, 4), (4,)]),
    "div": (lambda m, a, b: (a / b, a / 2, a.detach() / b, 2 / b, a.div(b, rounding_mode="floor"),
                             a.div(b, rounding_mode="trunc")), [(3, 4), POS[0]]),
    "int_operands": (lambda m, a, i: (a * i, a + i, a / i.clamp(min=1), i - a, i / a,
                                      m.pow(a, i), a.pow(i.abs())), [POS, INTS]),
    "promote": (lambda m, a, b: (_f32(m, a) * b, _f32(m, a) + b, _f32(m, a) / b, _f32(m, a) - 2.5,
                                 _f32(m, a) * 1j), [(3, 4), (3, 4)]),
    "float32": (lambda m, a: (_f32(m, a).exp(), _f32(m, a) ** 3, _f32(m, a).sigmoid()), [(3, 4)]),
    "zero_dim": (lambda m, a, b: (a * b, a / b, a ** b, a.exp(), b - a), [POS[0], np.array(1.5)]),
    "empty": (lambda m, a, b: (a * b, a.exp(), a.log(), (a - b).abs(), a ** 2), [(0, 3), (3,)]),
    "complex_arith": (lambda m, a, b: (a * b, a / b, a + 2j, a - b, a * 1.5, (1 + 2j) / a),
                      [CPLX, CPLX[::-1].copy()]),
    "real_complex_mix": (lambda m, a, z: (a * z, z / a, a - z, a + 1j), [(3, 4), CPLX]),
    "pow_scalar": (lambda m, x: (x ** 2, x ** 3, x ** 0, x ** -1.5, x ** 0.5, x ** 1), [POS]),
    "pow_scalar_zero": (lambda m, x: (x ** 2, x ** 3, x ** 0, x ** 1.5), [ZEROS]),
    "pow_tensor": (lambda m, a, b: (a ** b, a.pow(b.detach()), a.detach() ** b),
                   [POS, (3, 4)]),
    "pow_tensor_zeros": (lambda m, a, b: (a ** b, a.detach() ** b),
                         [ZEROS, np.array([0.0, 1.0, 2.0, -1.0])]),
    "pow_rscalar": (lambda m, x: (2 ** x, 0.5 ** x, 0 ** x, (-2.0) ** x, 2.5 ** x), [ZEROS]),
    "pow_complex": (lambda m, z, w: (z ** 2, z ** 1.5, z ** w, 2 ** z, z ** (1 + 1j)),
                    [CPLX, CPLX * 0.5]),
    "neg_abs": (lambda m, x: (-x, x.abs(), m.negative(x), m.absolute(x)), [ZEROS]),
    "abs_complex": (lambda m, z: (z.abs(), -z), [ZCPLX]),
    "exp_log": (lambda m, x: (x.exp(), x.log(), x.sqrt()), [POS]),
    "log_sqrt_complex": (lambda m, z: (z.log(), z.sqrt(), z.exp(), z.reciprocal()), [CPLX]),
    "tanh_sigmoid": (lambda m, x: (x.tanh(), x.sigmoid(), m.sigmoid(x * 40)), [(3, 4)]),
    "tanh_sigmoid_complex": (lambda m, z: (z.tanh(), z.sigmoid()), [CPLX]),
    "relu": (lambda m, x: (x.relu(), m.relu(x)), [ZEROS]),
    "sign": (lambda m, x: (x.sign(), m.sign(x)), [ZEROS]),
    "reciprocal": (lambda m, x: (x.reciprocal(), 1 / x), [(3, 4)]),
    # -- unary.py
    "logs": (lambda m, x: (x.log2(), x.log10(), x.log1p(), x.rsqrt(), x.lgamma(), x.digamma()),
             [POS]),
    "exps": (lambda m, x: (x.expm1(), x.exp2(), x.square(), x.erf(), x.erfc()), [(3, 4)]),
    "trig": (lambda m, x: (x.sin(), x.cos(), x.tan(), x.atan(), x.sinh(), x.cosh(), x.asinh(),
                           x.deg2rad(), x.rad2deg()), [(3, 4)]),
    "inverse_trig": (lambda m, x: (x.asin(), x.acos(), x.atanh(), x.erfinv(), m.arcsin(x)),
                     [UNIT]),
    "acosh": (lambda m, x: (x.acosh(), m.arccosh(x)), [GT1]),
    "sinc": (lambda m, x: (x.sinc(), m.sinc(x * 0)), [ZEROS]),
    "unary_complex": (lambda m, z: (z.sin(), z.cos(), z.tan(), z.sinh(), z.cosh(), z.log2(),
                                    z.log10(), z.log1p(), z.expm1(), z.exp2(), z.rsqrt(),
                                    z.asin(), z.acos(), z.atan(), z.asinh(), z.acosh(),
                                    z.atanh(), z.square()), [CPLX * 0.5]),
    "unary_float32": (lambda m, x: (_f32(m, x).sin(), _f32(m, x).log1p(), _f32(m, x).erf()),
                      [POS]),
    "unary_0d_empty": (lambda m, a, b: (a.sin(), a.log2(), b.cos(), b.expm1()), [(), (0, 2)]),
    # -- pointwise.py
    "rounding": (lambda m, x: (x.floor(), x.ceil(), x.round(), x.trunc(), m.fix(x),
                               x.round(decimals=1), x.frac()), [(3, 4)]),
    "rounding_0d": (lambda m, x: (x.floor(), x.round(decimals=-1), x.frac()), [()]),
    "nan_to_num": (lambda m, x: (x.nan_to_num(), x.nan_to_num(1.0, 2.0, -2.0)),
                   [np.array([1.0, np.nan, np.inf, -np.inf, -0.5])]),
    "clamp_scalar": (lambda m, x: (x.clamp(-0.5, 0.5), x.clamp(min=0.0), x.clamp(max=1.0),
                                   x.clamp_min(2.0), x.clamp_max(0.0), m.clip(x, 0, 3)),
                     [TIES]),
    "clamp_scalar_promote": (lambda m, x: (_f32(m, x).clamp(0.5, 1.5), x.clamp(0, 1)), [POS]),
    "clamp_tensor": (lambda m, x, lo, hi: (x.clamp(lo, hi), x.clamp(min=lo), x.clamp(max=hi),
                                           x.clamp_min(lo), x.clamp_max(hi),
                                           x.detach().clamp(lo, hi)),
                     [np.array([1.0, 2.0, 3.0, 2.0, 0.5, 2.0]),
                      np.array([2.0, 2.0, 1.0, 3.0, 0.5, 1.0]),
                      np.array([3.0, 1.0, 3.0, 2.0, 1.0, 2.0])]),
    "clamp_tensor_bcast": (lambda m, x, lo: (x.clamp(lo, None), x.clamp(None, lo)),
                           [(3, 4), (4,)]),
    "binary_math": (lambda m, a, b: (m.atan2(a, b), m.hypot(a, b), m.logaddexp(a, b),
                                     m.logaddexp2(a, b), m.copysign(a, b), m.xlogy(a.abs(), b),
                                     m.arctan2(a, b)), [(3, 4), (4,)]),
    "binary_math_one_dual": (lambda m, a, b: (m.atan2(a.detach(), b), m.hypot(a, b.detach()),
                                              m.xlogy(a.detach(), b.abs())), [(3, 1), (1, 4)]),
    "maximum_ties": (lambda m, a, b: (m.maximum(a, b), m.minimum(a, b), m.fmax(a, b),
                                      m.fmin(a, b), m.maximum(a, b.detach())),
                     [TIES, TIES[::-1].copy()]),
    "fmax_nan": (lambda m, a, b: (m.fmax(a, b), m.fmin(a, b), m.fmax(b, a), m.maximum(a, b),
                                  m.minimum(b, a)),
                 [np.array([1.0, np.nan, 3.0, np.nan]), np.array([2.0, 1.0, np.nan, np.nan])]),
    "remainder_fmod": (lambda m, a, b: (m.remainder(a, b), m.fmod(a, b), a % b, a % 1.5,
                                        m.fmod(a, -2.0), a.div(b, rounding_mode="floor")),
                       [(3, 4), POS[0]]),
    "copysign_scalar": (lambda m, x: (m.copysign(x, -1.0), m.copysign(x, 2)), [ZEROS]),
    "xlogy": (lambda m, x, y: (m.xlogy(x, y), m.xlogy(x, 2.5), m.xlogy(3.0, y),
                               m.special.xlogy(x, y)), [ZEROS, POS]),
    "binary_int": (lambda m, a, i: (m.atan2(a, i), m.maximum(a, i), m.remainder(a, i.clamp(1)),
                                    m.fmod(i, a), m.logaddexp(a, i.double())), [POS, INTS]),
    "lerp": (lambda m, s, e, w: (m.lerp(s, e, w), m.lerp(s, e, 0.3), s.lerp(e, 0.8),
                                 m.lerp(s.detach(), e, w), m.lerp(s, e.detach(), w.detach())),
             [(3, 4), (4,), (3, 1)]),
    "lerp_complex": (lambda m, s, e: (m.lerp(s, e, 0.25), m.lerp(s, e, 0.75)), [CPLX, CPLX.T.T]),
    "addcmul_addcdiv": (lambda m, x, a, b: (m.addcmul(x, a, b), m.addcmul(x, a, b, value=-2),
                                            m.addcdiv(x, a, b), m.addcdiv(x, a, b, value=0.5),
                                            m.addcmul(x.detach(), a, b.detach())),
                        [(3, 4), (4,), POS[:, :1] + 0.0]),
    "addc_complex": (lambda m, x, a, b: (m.addcmul(x, a, b, value=2), m.addcdiv(x, a, b)),
                     [CPLX, CPLX[0], CPLX[:, :1]]),
    "float_power": (lambda m, x, y: (m.float_power(_f32(m, x), 2), m.float_power(x, y)),
                    [POS, (3, 4)]),
    # -- complex.py
    "conj": (lambda m, z: (z.conj().resolve_conj(), z.conj_physical(),
                           m.conj(z).resolve_conj(), z.conj() * z), [CPLX]),
    "real_imag": (lambda m, z: (z.real, z.imag, m.real(z) * 2, m.imag(z).exp()), [CPLX]),
    "view_as_real_complex": (lambda m, z, x: (m.view_as_real(z), m.view_as_complex(x),
                                              m.view_as_complex(m.view_as_real(z)) * z),
                             [CPLX, (3, 4, 2)]),
    "complex_polar": (lambda m, a, b: (m.complex(a, b), m.polar(a, b), m.polar(a.detach(), b),
                                       m.complex(a.detach(), b), m.polar(a, b.detach())),
                      [(3, 4), (4,)]),
    "complex_polar_f32": (lambda m, a, b: (m.complex(_f32(m, a), _f32(m, b)),
                                           m.polar(_f32(m, a), _f32(m, b))), [(3, 4), (3, 4)]),
    "angle_sgn": (lambda m, z: (z.angle(), z.sgn(), m.angle(z), m.sgn(z)), [ZCPLX]),
    "angle_sgn_real": (lambda m, x: (x.angle(), x.sgn()), [ZEROS]),
    "adjoint": (lambda m, z: (z.mH.resolve_conj(), z.adjoint() * 1, z.H * 1), [CPLX]),
    # -- in-place variants (inplace.py, inplace_more.py): the new tangent of self
    "inplace_arith": (lambda m, x, y: _chain(x.clone(), lambda b: (
        b.mul_(y), b.add_(y, alpha=2), b.sub_(0.5), b.div_(y.abs() + 1), b.pow_(2),
        b.__iadd__(y), b.__imul__(2.0), b.__itruediv__(y + 3), b.__isub__(y),
        b.addcmul_(x, y, value=0.5), b.addcdiv_(x, y.abs() + 1), b.lerp_(y, 0.3))), [(3, 4), (4,)]),
    "inplace_unary": (lambda m, x: _chain(x.clone(), lambda b: (
        b.exp_(), b.sin_(), b.tanh_(), b.sigmoid_(), b.log1p_(), b.sqrt_(), b.atan2_(b * 2),
        b.clamp_(min=0.3), b.neg_(), b.abs_(), m.exp_(b), b.reciprocal_(), b.relu_(),
        b.frac_(), b.square_(), b.xlogy_(2.0), b.hypot_(b))), [POS]),
    "inplace_zero_tangent": (lambda m, x: (x.clone().floor_(), x.clone().round_(),
                                           x.clone().sign_(), x.clone().trunc_()), [(3, 4)]),
    "inplace_plain_self": (lambda m, x, y: (m.zeros(3, 4, dtype=m.float64).add_(x),
                                            m.ones(4, dtype=m.float64).mul_(y),
                                            m.ones(3, 4, dtype=m.float64).__iadd__(y)),
                           [(3, 4), (4,)]),
    "inplace_promote": (lambda m, x, i: (x.clone().mul_(i), x.clone().add_(2),
                                         _f32(m, x).mul_(x), x.clone().div_(i.clamp(1))),
                        [(3, 4), INTS]),
    "inplace_complex": (lambda m, z, w: (z.clone().mul_(w), z.clone().exp_(), z.clone().sin_(),
                                         z.clone().div_(2j)), [CPLX, CPLX[0]]),
    "inplace_0d_empty": (lambda m, a, b: (a.clone().mul_(3), a.clone().exp_(), b.clone().add_(b),
                                          b.clone().sin_()), [(), (0, 3)]),
    "inplace_view": (lambda m, x, y: _views(m, x, y), [(3, 4), (3,)]),
    "inplace_view_of_plain": (lambda m, x, y: _view_of_plain(m, x, y), [(3, 4), (3,)]),
    "setitem": (lambda m, x, y: _setitem(m, x, y), [(3, 4), (4,)]),
    "copy": (lambda m, x, y: _copy(m, x, y), [(3, 4), (4,)]),
    "fill_zero": (lambda m, x, v: (x.clone().fill_(2), x.clone().zero_(), m.zero_(x.clone()),
                                   m.zeros(2, dtype=m.float64).fill_(v), x.clone().fill_(v)),
                  [(3, 4), ()]),
    "random_fills": (lambda m, x: _random_fills(m, x), [(3, 4)]),
    "compare_inplace": (lambda m, x, y: (x.clone().lt_(0.5), x.clone().eq_(y), x.clone().ne_(y),
                                         x.clone().gt_(y), x.clone().le_(0.0), x.clone().ge_(y),
                                         x.clone().lt_(y), x.clone().eq_(2.0), x.clone().ne_(2.0),
                                         x.clone().gt_(1.0), x.clone().le_(y), x.clone().ge_(2.0),
                                         m.zeros(3, 4, dtype=m.float64).ge_(x)),
                        [TIES, TIES[1]]),
    "complex_parts_inplace": (lambda m, z, x: _parts(m, z, x), [CPLX, (3, 4)]),
}


def _compare(name: str) -> None:
    fn, inputs = CASES[name]
    primals, tangents = _arrays(inputs, len(name))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = _dual_run(torch, tfw, fn, primals, tangents)
        got = _dual_run(ember, efw, fn, primals, tangents)
    _same(got, expected, name)


@pytest.mark.parametrize("name", list(CASES))
def test_dual_matches_torch(name):
    _compare(name)


def test_inplace_self_operand():
    """``b.mul_(b)``: d(b²) = 2 b db, from b's values before the write (PyTorch 2.13 gives
    db b + b² db here, reading the already written values)."""
    x, t = np.array([1.0, -2.0, 0.5]), np.array([0.3, 1.0, -2.0])
    with efw.dual_level():
        b = efw.make_dual(ember.tensor(x), ember.tensor(t)).clone()
        b.mul_(b)
        b.add_(b)
        p, tangent = efw.unpack_dual(b)
    np.testing.assert_allclose(p.numpy(), 2 * x * x)
    np.testing.assert_allclose(tangent.numpy(), 4 * x * t)


def test_inplace_writes_the_tangent_in_place():
    """As in PyTorch, an in-place op writes the new tangent into the existing one: the
    tangent given to make_dual, and the base's tangent seen through a view."""
    res = []
    for m, fw in ((ember, efw), (torch, tfw)):
        t = m.ones(2, 3, dtype=m.float64)
        with fw.dual_level():
            x = fw.make_dual(m.arange(6.0, dtype=m.float64).reshape(2, 3), t)
            x.mul_(2)
            row = x[1]
            row.exp_()
            res.append((t.numpy().copy(), fw.unpack_dual(x).tangent.numpy().copy()))
    np.testing.assert_allclose(res[0][0], res[1][0])
    np.testing.assert_allclose(res[0][1], res[1][1])


def _tangent_grad(m, fw, fn, *arrays):
    xs = [m.tensor(a, requires_grad=True) for a in arrays]
    with fw.dual_level():
        ds = [fw.make_dual(x, m.ones_like(x)) for x in xs]
        out = fn(m, *ds)
        tangent = fw.unpack_dual(out).tangent
    tangent.sum().backward()
    return [x.grad.numpy() for x in xs]


@pytest.mark.parametrize("fn", [
    lambda m, x, y: x.sin() * y.exp() + (x ** 3).tanh() + x.log1p().sqrt(),
    lambda m, x, y: m.atan2(x, y) + m.hypot(x, y) + m.maximum(x, y) * x / y + x.erf(),
    lambda m, x, y: m.lerp(x, y, x.sigmoid()) + m.addcdiv(x, x, y) + x.clamp(0.5, 1.5) * y,
    lambda m, x, y: m.polar(x, y).abs() + m.complex(x, y).angle() + (x * 1j + y).sgn().real,
    # in place on a tensor in the graph (apply_inplace's recorded path)
    lambda m, x, y: _chain(x * 1, lambda b: (b.mul_(y), b.sin_(), b[0].mul_(3), b.div_(x))),
    lambda m, x, y: _chain(m.zeros(2, 4, dtype=m.float64), lambda z: (
        z.__setitem__(0, x[0] * y[1]), z[1].add_(y[0].exp()), z.mul_(x))).sin(),
])
def test_tangent_stays_differentiable(fn):
    """Reverse over forward: the gradient of a tangent with respect to the primals."""
    a = POS[:2] + 0.1
    b = POS[1:] * 0.7
    got = _tangent_grad(ember, efw, fn, a, b)
    expected = _tangent_grad(torch, tfw, fn, a, b)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-9, atol=1e-12)


def test_inplace_on_a_plain_dual_keeps_tangent_graph():
    """Reverse over forward where only the tangent requires grad: in-place ops on a dual
    tensor that is not in a graph still record their tangents' formulas."""
    res = []
    for m, fw in ((ember, efw), (torch, tfw)):
        t = m.tensor([1.0, 2.0, 3.0], dtype=m.float64, requires_grad=True)
        with fw.dual_level():
            x = fw.make_dual(m.tensor([0.5, 1.0, 2.0], dtype=m.float64), t)
            b = x.clone()
            b.mul_(x.detach() + 1)
            b.sin_()
            b[1:].exp_()
            tangent = fw.unpack_dual(b).tangent
        tangent.sum().backward()
        res.append(t.grad.numpy())
    np.testing.assert_allclose(*res, rtol=1e-12)


def test_copy_slices_rule():
    """CopySlices (the base's node when a view of it is written while backward is recorded):
    the base's tangent with the view's region replaced by the values' tangent."""
    from ember._ops.inplace import CopySlices
    rng = np.random.default_rng(0)
    base, t_base, t_values = rng.standard_normal((3, 4)), rng.standard_normal((3, 4)), \
        rng.standard_normal((2, 2))
    expected = t_base.copy()
    expected[1:, ::2] = t_values
    for tb in (t_base, None):
        with efw.dual_level():
            b = ember.tensor(base)
            b = b if tb is None else efw.make_dual(b, ember.tensor(tb))
            chain = b[1:, ::2]._extra["view"]
            v = efw.make_dual(ember.tensor(base[1:, ::2]), ember.tensor(t_values))
            tangent = efw.unpack_dual(CopySlices.apply(b, v, chain)).tangent.numpy()
        np.testing.assert_array_equal(tangent, expected if tb is not None else np.where(
            np.isin(np.arange(12).reshape(3, 4), [4, 6, 8, 10]), expected, 0.0))


def test_trigamma_rule():
    """Trigamma (digamma's derivative, reached by reverse over forward) against
    polygamma(1, x)."""
    from ember._ops.unary import Trigamma
    primals, tangents = _arrays([POS], 3)
    _same(_dual_run(ember, efw, lambda m, x: Trigamma.apply(x), primals, tangents),
          _dual_run(torch, tfw, lambda m, x: m.polygamma(1, x), primals, tangents))


@pytest.mark.parametrize("fn", [
    lambda m, x: x // 2,
    lambda m, x: 3.0 // x,
    lambda m, x: m.floor_divide(x, x.detach()),
    lambda m, x: x.clone().floor_divide_(2),
    lambda m, x: m.remainder(4.0, x),
    lambda m, x: m.heaviside(x, x.detach()),
    lambda m, x: m.heaviside(x.detach(), x),
    lambda m, x: x.clone().heaviside_(x.detach()),
])
def test_no_forward_derivative_like_torch(fn):
    """The same error type and message as PyTorch's forward AD."""
    def call(m, fw):
        with fw.dual_level():
            fn(m, fw.make_dual(m.ones(2, 3, dtype=m.float64), m.ones(2, 3, dtype=m.float64)))
    same_error(ember_fn=lambda: call(ember, efw), torch_fn=lambda: call(torch, tfw))
    with pytest.raises(NotImplementedError, match="^Trying to use forward AD with "):
        call(ember, efw)


# -- every op class has a rule ----------------------------------------------------------------
def _op_classes():
    return op_classes(MODULES)


def test_every_op_class_has_a_rule():
    # (_FloatUnary: the shared forward of unary.py and special_functions.py; unary.py's
    # classes take their rule from _Unary)
    missing = [name for name, cls in _op_classes()
               if cls.jvp is _function.Function.jvp and name != "_FloatUnary"]
    assert not missing, missing


def test_every_op_class_is_checked():
    """Every op class of these modules runs its rule in some test above."""
    def every_case():
        for name in CASES:
            fn, inputs = CASES[name]
            _dual_run(ember, efw, fn, *_arrays(inputs, 0))
        test_trigamma_rule()
        test_copy_slices_rule()
        for fn in test_tangent_stays_differentiable.pytestmark[0].args[1]:
            _tangent_grad(ember, efw, fn, POS[:2], POS[1:])
    seen = rules_run(every_case)
    # (Overwrite: the base of the samplers' nodes.)
    unchecked = [n for n, cls in _op_classes()
                 if cls not in seen and not n.startswith("_") and n != "Overwrite"]
    assert not unchecked, unchecked
