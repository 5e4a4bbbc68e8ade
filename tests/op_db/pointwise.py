"""Pointwise math, rounding, clamping, binary math, logical and bitwise ops."""

from ._base import BINARY, UNARY, OpInfo, S

POS = (0.5, 3.0)
UNIT = (-0.9, 0.9)
TERNARY = [S((), (), ()), S((5,), (5,), (5,)), S((2, 3), (3,), (2, 1)), S((2, 3), (), (3,)),
           S((0, 3), (3,), (1, 3)), S((3, 4), (3, 4), (3, 4), transpose=True)]
INT = dict(int_inputs=True, grad=False)


def _unary(name, domain=(-2.0, 2.0), **kw):
    return OpInfo(name, lambda t, a: getattr(t, name)(a), UNARY, domain=domain, **kw)


def _method(name, domain=(-2.0, 2.0), **kw):
    return OpInfo(f"{name}_method", lambda t, a: getattr(a, name)(), UNARY[:3], domain=domain,
                  **kw)


def _binary(name, domain=(-2.0, 2.0), **kw):
    return OpInfo(name, lambda t, a, b: getattr(t, name)(a, b), BINARY, domain=domain, **kw)


OPS = [
    # unary float math
    _unary("log2", POS), _unary("log10", POS), _unary("log1p", (-0.9, 2.0)), _unary("expm1"),
    _unary("exp2"), _unary("rsqrt", POS), _unary("square"), _unary("reciprocal", POS),
    _unary("sin"), _unary("cos"), _unary("tan", (-1.2, 1.2)), _unary("asin", UNIT),
    _unary("acos", UNIT), _unary("atan"), _unary("arcsin", UNIT), _unary("sinh"),
    _unary("cosh"), _unary("asinh"), _unary("acosh", (1.1, 3.0)), _unary("atanh", UNIT),
    _unary("arctanh", UNIT), _unary("erf", (-3.0, 3.0)), _unary("erfc", (-3.0, 3.0)),
    _unary("erfinv", (-0.95, 0.95)), _unary("lgamma", (0.1, 6.0)), _unary("digamma", (0.2, 6.0)),
    OpInfo("lgamma_negative", lambda t, a: t.lgamma(a), UNARY, domain=(-2.9, -2.1)),
    OpInfo("digamma_negative", lambda t, a: t.digamma(a), UNARY, domain=(-1.9, -1.1)),
    _unary("sinc", (-2.5, 2.5)), _unary("deg2rad"), _unary("rad2deg"),
    _unary("floor", (-3.0, 3.0)), _unary("ceil", (-3.0, 3.0)), _unary("trunc", (-3.0, 3.0)),
    _unary("round", (-3.0, 3.0)), _unary("fix", (-3.0, 3.0)), _unary("frac", (-3.0, 3.0)),
    _unary("positive"), _unary("nan_to_num"),
    OpInfo("round_decimals", lambda t, a: t.round(a, decimals=2), UNARY),
    OpInfo("round_neg_decimals", lambda t, a: t.round(a * 100, decimals=-1), UNARY),
    _method("sin"), _method("log1p", (0.0, 2.0)), _method("erfinv", UNIT), _method("lgamma", POS),
    _method("frac"), _method("exp2"),
    # clamp
    OpInfo("clamp_scalar", lambda t, a: t.clamp(a, -0.5, 0.7), UNARY),
    OpInfo("clamp_min_only", lambda t, a: t.clamp(a, min=-0.5), UNARY),
    OpInfo("clamp_max_only", lambda t, a: a.clamp(max=0.3), UNARY),
    OpInfo("clamp_min_fn", lambda t, a: t.clamp_min(a, 0.1), UNARY),
    OpInfo("clamp_max_fn", lambda t, a: a.clamp_max(0.1), UNARY),
    OpInfo("clip", lambda t, a: t.clip(a, -1, 1), UNARY),
    OpInfo("clamp_tensor", lambda t, a, lo, hi: t.clamp(a, lo, hi), TERNARY),
    OpInfo("clamp_tensor_min", lambda t, a, lo: t.clamp(a, min=lo), BINARY),
    OpInfo("clamp_tensor_max", lambda t, a, hi: t.clamp(a, None, hi), BINARY),
    # binary math
    _binary("atan2"), _binary("arctan2"), _binary("maximum"), _binary("minimum"),
    _binary("fmax"), _binary("fmin"), _binary("hypot"), _binary("logaddexp"),
    _binary("logaddexp2"), _binary("xlogy", POS), _binary("copysign", POS),
    _binary("float_power", POS), _binary("remainder", POS), _binary("fmod", POS),
    OpInfo("xlogy_scalar_other", lambda t, a: t.xlogy(a, 2.5), UNARY),
    OpInfo("xlogy_scalar_self", lambda t, a: t.xlogy(2.5, a), UNARY, domain=POS),
    OpInfo("copysign_scalar", lambda t, a: t.copysign(a, -1.0), UNARY),
    OpInfo("copysign_mixed", lambda t, a, b: t.copysign(a, b), BINARY),
    OpInfo("float_power_scalar", lambda t, a: t.float_power(a, 2.5), UNARY, domain=POS),
    OpInfo("float_power_rscalar", lambda t, a: t.float_power(2, a), UNARY),
    OpInfo("remainder_scalar", lambda t, a: a % 1.5, UNARY, domain=(-4.0, 4.0)),
    OpInfo("remainder_neg", lambda t, a, b: t.remainder(a, -b), BINARY, domain=POS),
    OpInfo("fmod_scalar", lambda t, a: t.fmod(a, -1.5), UNARY, domain=(-4.0, 4.0)),
    OpInfo("floor_divide", lambda t, a, b: t.floor_divide(a, b), BINARY, domain=POS,
           grad=False),
    OpInfo("heaviside", lambda t, a, b: t.heaviside(a, b), BINARY, grad=False),
    OpInfo("lerp_scalar", lambda t, a, b: t.lerp(a, b, 0.3), BINARY),
    OpInfo("lerp_scalar_far", lambda t, a, b: a.lerp(b, 0.8), BINARY),
    OpInfo("lerp_tensor", lambda t, a, b, w: t.lerp(a, b, w), TERNARY),
    OpInfo("addcmul", lambda t, a, b, c: t.addcmul(a, b, c, value=0.5), TERNARY),
    OpInfo("addcmul_default", lambda t, a, b, c: a.addcmul(b, c), TERNARY),
    OpInfo("addcdiv", lambda t, a, b, c: t.addcdiv(a, b, c, value=-2), TERNARY, domain=POS),
    # predicates and comparisons (not differentiable)
    OpInfo("isnan", lambda t, a: t.isnan(a), UNARY, grad=False),
    OpInfo("isfinite", lambda t, a: a.isfinite(), UNARY, grad=False),
    OpInfo("isinf_of_log", lambda t, a: t.isinf(t.log(a * 0)), UNARY, grad=False),
    OpInfo("isposinf", lambda t, a: t.isposinf(1 / a), UNARY, grad=False),
    OpInfo("isneginf", lambda t, a: t.isneginf(t.log(a.abs() * 0)), UNARY, grad=False),
    OpInfo("signbit", lambda t, a: t.signbit(a), UNARY, grad=False),
    OpInfo("isclose", lambda t, a, b: t.isclose(a, b, atol=0.5), BINARY, grad=False),
    OpInfo("logical_and", lambda t, a, b: t.logical_and(a > 0, b), BINARY, grad=False),
    OpInfo("logical_or", lambda t, a, b: t.logical_or(a > 0.5, b > 0.5), BINARY, grad=False),
    OpInfo("logical_xor", lambda t, a, b: (a > 0).logical_xor(b > 0), BINARY, grad=False),
    OpInfo("logical_not", lambda t, a: t.logical_not(a > 0), UNARY, grad=False),
    OpInfo("bool_and_or_xor", lambda t, a, b: ((a > 0) & (b > 0), (a > 0) | (b > 0),
                                              (a > 0) ^ (b > 0), ~(a > 0)), BINARY, grad=False),
    # integer inputs: dtype promotion and integer kernels
    OpInfo("int_sin", lambda t, a: t.sin(a), UNARY, domain=(-5, 5), **INT),
    OpInfo("int_erf", lambda t, a: t.erf(a), UNARY, domain=(-3, 3), **INT),
    OpInfo("int_lgamma", lambda t, a: t.lgamma(a), UNARY, domain=(1, 8), **INT),
    OpInfo("int_rsqrt", lambda t, a: t.rsqrt(a), UNARY, domain=(1, 8), **INT),
    OpInfo("int_floor", lambda t, a: t.floor(a), UNARY, domain=(-5, 5), **INT),
    OpInfo("int_round", lambda t, a: t.round(a), UNARY, domain=(-5, 5), **INT),
    OpInfo("int_square", lambda t, a: t.square(a), UNARY, domain=(-5, 5), **INT),
    OpInfo("int_deg2rad", lambda t, a: t.deg2rad(a), UNARY, domain=(-5, 5), **INT),
    OpInfo("int_clamp", lambda t, a: t.clamp(a, -2, 3), UNARY, domain=(-5, 5), **INT),
    OpInfo("int_clamp_float", lambda t, a: t.clamp(a, 0.5, 2), UNARY, domain=(-5, 5), **INT),
    OpInfo("int_maximum", lambda t, a, b: t.maximum(a, b), BINARY, domain=(-5, 5), **INT),
    OpInfo("int_fmin", lambda t, a, b: t.fmin(a, b), BINARY, domain=(-5, 5), **INT),
    OpInfo("int_atan2", lambda t, a, b: t.atan2(a, b), BINARY, domain=(-5, 5), **INT),
    OpInfo("int_xlogy", lambda t, a, b: t.xlogy(a, b), BINARY, domain=(0, 5), **INT),
    OpInfo("int_copysign", lambda t, a, b: t.copysign(a, b), BINARY, domain=(-5, 5), **INT),
    OpInfo("int_float_power", lambda t, a, b: t.float_power(a, b), BINARY, domain=(1, 4), **INT),
    OpInfo("int_remainder", lambda t, a, b: (t.remainder(a, b), a % 3, -7 % b), BINARY,
           domain=(1, 9), **INT),
    OpInfo("int_remainder_neg", lambda t, a, b: t.remainder(-a, b), BINARY, domain=(1, 9), **INT),
    OpInfo("int_fmod", lambda t, a, b: t.fmod(-a, b), BINARY, domain=(1, 9), **INT),
    OpInfo("int_floor_divide", lambda t, a, b: t.floor_divide(-a, b), BINARY, domain=(1, 9),
           **INT),
    OpInfo("int_addcmul", lambda t, a, b, c: t.addcmul(a, b, c, value=2), TERNARY,
           domain=(-5, 5), **INT),
    OpInfo("int_heaviside", lambda t, a, b: t.heaviside(a, b), BINARY, domain=(-2, 3), **INT),
    OpInfo("int_nan_to_num", lambda t, a: t.nan_to_num(a), UNARY, domain=(-5, 5), **INT),
    OpInfo("int_predicates", lambda t, a: (t.isnan(a), t.isinf(a), t.isfinite(a),
                                           t.isposinf(a), t.signbit(a)), UNARY,
           domain=(-5, 5), **INT),
    OpInfo("int_bitwise", lambda t, a, b: (t.bitwise_and(a, b), t.bitwise_or(a, b),
                                           t.bitwise_xor(a, b), t.bitwise_not(a)), BINARY,
           domain=(-9, 9), **INT),
    OpInfo("int_bitwise_ops", lambda t, a, b: (a & b, a | b, a ^ b, ~a, a & 6, 5 | b, 3 ^ a),
           BINARY, domain=(-9, 9), **INT),
    OpInfo("int_shifts", lambda t, a, b: (a << b, a >> b, t.bitwise_left_shift(a, 2),
                                          t.bitwise_right_shift(a, b), 1 << b, 64 >> b),
           BINARY, domain=(0, 6), **INT),
    OpInfo("int_shift_negative", lambda t, a, b: (-a << b, -a >> b), BINARY, domain=(0, 70),
           **INT),
    OpInfo("int_bool_bitwise", lambda t, a, b: ((a > 0) & b, (a > 0) | 1, b ^ (a > 2)), BINARY,
           domain=(-3, 3), **INT),
    OpInfo("int_logical", lambda t, a, b: (t.logical_and(a, b), t.logical_or(a, b > 0),
                                           t.logical_xor(a, b), t.logical_not(a)), BINARY,
           domain=(-2, 2), **INT),
    OpInfo("int_isclose", lambda t, a, b: t.isclose(a, b, atol=1), BINARY, domain=(-3, 3),
           **INT),
]
