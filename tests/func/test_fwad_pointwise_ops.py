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
from tests.func.test_fwad_shape_ops import _arrays, _dual_run, _same

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
    "fmax_nan": (lambda m, a, b: (m.fmax(a, b), m.fmin(a, b), m.fmax(b, a)),
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
