"""Pointwise and activation behaviour the op table cannot express: special values, NaN
rules, errors, operators, in-place forms, special-function accuracy, softmax stability."""

import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember
from ember._ops import activation as EF
from tests.parity import same_error

INF, NAN = math.inf, math.nan


def both(values, dtype="float64", **kw):
    return ember.tensor(values, dtype=getattr(ember, dtype), **kw), \
        torch.tensor(values, dtype=getattr(torch, dtype), **kw)


def same(e, t, rtol=1e-12, atol=0.0):
    assert str(e.dtype).split(".")[-1] == str(t.dtype).split(".")[-1], (e.dtype, t.dtype)
    en, tn = e.detach().numpy(), t.detach().numpy()
    assert en.shape == tn.shape
    if en.dtype.kind in "fc":
        np.testing.assert_allclose(en, tn, rtol=rtol, atol=atol, equal_nan=True)
    else:
        np.testing.assert_array_equal(en, tn)


def raises_like(fn_e, fn_t):
    same_error(ember_fn=fn_e, torch_fn=fn_t)


# -- special functions: accuracy over wide ranges and at special points ------------------------
SPECIAL_X = np.concatenate([np.linspace(-30, 30, 4001), np.linspace(-3, 3, 3001),
                            [0.0, -0.0, 1.0, 2.0, -1.0, -2.0, 1e-300, -1e-300, 1e300, INF, -INF,
                             NAN, 0.5, -0.5, 1.9999999]])


@pytest.mark.parametrize("name", ["erf", "erfc", "lgamma", "digamma"])
def test_special_functions_accuracy(name):
    x = SPECIAL_X[~np.isclose(SPECIAL_X, np.round(SPECIAL_X))] if name == "digamma" else SPECIAL_X
    e = getattr(ember, name)(ember.from_numpy(x))
    t = getattr(torch, name)(torch.from_numpy(x))
    same(e, t, rtol=1e-9, atol=1e-12)


def test_special_function_poles_and_limits():
    e, t = both([0.0, -0.0, -1.0, -2.0, INF, -INF, NAN])
    for name in ("lgamma", "digamma", "erf", "erfc"):
        same(getattr(ember, name)(e), getattr(torch, name)(t))


def test_erfinv_accuracy_and_edges():
    y = np.concatenate([np.linspace(-1, 1, 2001), 1 - np.logspace(-15, -1, 50),
                        [1.0, -1.0, 1.5, -2.0, 0.0, -0.0, NAN, 1e-300]])
    e, t = ember.erfinv(ember.from_numpy(y)), torch.erfinv(torch.from_numpy(y))
    same(e, t, rtol=1e-10, atol=1e-13)
    # erf(erfinv(y)) round-trips.
    inner = np.abs(y) < 1
    back = ember.erf(ember.erfinv(ember.from_numpy(y[inner]))).numpy()
    np.testing.assert_allclose(back, y[inner], rtol=1e-14, atol=1e-15)


def test_special_float32_stays_float32():
    e, t = both([0.1, 1.5, -2.5], "float32")
    for name in ("erf", "erfc", "erfinv", "lgamma", "digamma"):
        arg_e, arg_t = (e / 3, t / 3) if name == "erfinv" else (e, t)
        same(getattr(ember, name)(arg_e), getattr(torch, name)(arg_t), rtol=1e-5)


def test_lgamma_double_backward_uses_trigamma():
    e, t = both([0.3, 1.7, 4.2, -1.5], requires_grad=True)
    (ge,) = ember.autograd.grad(ember.lgamma(e).sum(), e, create_graph=True)
    (gt,) = torch.autograd.grad(torch.lgamma(t).sum(), t, create_graph=True)
    same(ge, gt, rtol=1e-12)
    (gge,) = ember.autograd.grad(ge.sum(), e)
    (ggt,) = torch.autograd.grad(gt.sum(), t)
    same(gge, ggt, rtol=1e-8)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_double_backward(approximate):
    e, t = both([-2.0, -0.3, 0.0, 0.7, 3.0], requires_grad=True)
    (ge,) = ember.autograd.grad(EF.gelu(e, approximate=approximate).sum(), e, create_graph=True)
    (gt,) = torch.autograd.grad(TF.gelu(t, approximate=approximate).sum(), t, create_graph=True)
    same(ge, gt, rtol=1e-10)
    same(ember.autograd.grad(ge.sum(), e)[0], torch.autograd.grad(gt.sum(), t)[0], rtol=1e-8)


def test_softmax_double_backward():
    e, t = both([[0.1, 2.0, -1.0], [3.0, 3.0, 0.5]], requires_grad=True)
    w = [[1.0, -2.0, 0.5], [0.3, 0.1, -1.0]]
    for fe, ft in ((EF.softmax, TF.softmax), (EF.log_softmax, TF.log_softmax)):
        (ge,) = ember.autograd.grad((fe(e, 1) * ember.tensor(w, dtype=ember.float64)).sum(), e,
                                    create_graph=True)
        (gt,) = torch.autograd.grad((ft(t, 1) * torch.tensor(w, dtype=torch.float64)).sum(), t,
                                    create_graph=True)
        same(ge, gt)
        same(ember.autograd.grad((ge * ge).sum(), e)[0],
             torch.autograd.grad((gt * gt).sum(), t)[0], rtol=1e-10)


# -- NaN and infinity rules --------------------------------------------------------------------
def test_nan_propagation_maximum_vs_fmax():
    (ae, at), (be, bt) = both([1.0, NAN, NAN, -INF]), both([NAN, 2.0, NAN, 0.0])
    for name in ("maximum", "minimum", "fmax", "fmin"):
        same(getattr(ember, name)(ae, be), getattr(torch, name)(at, bt))


def test_fmax_gradient_routes_to_the_non_nan_operand():
    (ae, at), (be, bt) = both([1.0, NAN, 3.0], requires_grad=True), \
        both([NAN, 2.0, 1.0], requires_grad=True)
    ember.fmax(ae, be).sum().backward()
    torch.fmax(at, bt).sum().backward()
    same(ae.grad, at.grad)
    same(be.grad, bt.grad)


def test_maximum_ties_split_the_gradient():
    (ae, at), (be, bt) = both([1.0, 2.0], requires_grad=True), both([1.0, 0.0],
                                                                    requires_grad=True)
    ember.maximum(ae, be).sum().backward()
    torch.maximum(at, bt).sum().backward()
    same(ae.grad, at.grad)
    same(be.grad, bt.grad)


def test_nan_to_num_and_predicates():
    e, t = both([NAN, INF, -INF, -0.0, 1.5], "float32")
    same(ember.nan_to_num(e), torch.nan_to_num(t))
    same(e.nan_to_num(nan=1.0, posinf=2.0, neginf=-3.0),
         t.nan_to_num(nan=1.0, posinf=2.0, neginf=-3.0))
    for name in ("isnan", "isinf", "isfinite", "isposinf", "isneginf", "signbit", "isreal"):
        same(getattr(ember, name)(e), getattr(torch, name)(t))


def test_nan_to_num_gradient_is_zero_at_nonfinite():
    e, t = both([NAN, INF, 1.0], requires_grad=True)
    ember.nan_to_num(e).sum().backward()
    torch.nan_to_num(t).sum().backward()
    same(e.grad, t.grad)


def test_xlogy_zero_rules():
    (ae, at), (be, bt) = both([0.0, 0.0, 1.0, 2.0]), both([0.0, NAN, NAN, 0.0])
    same(ember.xlogy(ae, be), torch.xlogy(at, bt))
    (ae, at), (be, bt) = both([0.0, 0.0, 2.0], requires_grad=True), \
        both([0.0, -1.0, 3.0], requires_grad=True)
    ember.xlogy(ae, be).sum().backward()
    torch.xlogy(at, bt).sum().backward()
    same(ae.grad, at.grad)
    same(be.grad, bt.grad)


def test_sinc_at_zero_and_its_gradient():
    e, t = both([0.0, 0.5, -1.0], requires_grad=True)
    same(ember.sinc(e), torch.sinc(t))
    ember.sinc(e).sum().backward()
    torch.sinc(t).sum().backward()
    same(e.grad, t.grad)


# -- clamp --------------------------------------------------------------------------------------
def test_clamp_bounds_none_and_dtypes():
    e, t = both([-3, -1, 0, 2, 5], "int64")
    for lo, hi in ((None, 2), (-1, None), (0.5, 2), (-2, 3)):
        same(ember.clamp(e, lo, hi), torch.clamp(t, lo, hi))
    raises_like(lambda: ember.clamp(e), lambda: torch.clamp(t))
    be, bt = both([True, False], "bool")
    same(ember.clamp(be, 0, 1), torch.clamp(bt, 0, 1))


def test_clamp_tensor_bounds_with_none_and_nan():
    x, xt = both([-2.0, 0.5, 3.0, NAN])
    lo, lot = both([-1.0, NAN, 0.0, 0.0])
    same(ember.clamp(x, lo), torch.clamp(xt, lot))
    same(ember.clamp(x, None, lo), torch.clamp(xt, None, lot))
    same(ember.clamp(x, min=NAN), torch.clamp(xt, min=NAN))


def test_clamp_min_greater_than_max_gradients():
    (xe, xt), (le, lt), (he, ht) = (both([0.5, -2.0, 3.0], requires_grad=True),
                                    both([1.0, -1.0, 0.0], requires_grad=True),
                                    both([0.0, 1.0, 1.0], requires_grad=True))
    ember.clamp(xe, le, he).sum().backward()
    torch.clamp(xt, lt, ht).sum().backward()
    for e, t in ((xe, xt), (le, lt), (he, ht)):
        same(e.grad, t.grad)


# -- rounding -----------------------------------------------------------------------------------
def test_round_half_even_and_decimals():
    e, t = both([0.5, 1.5, 2.5, -0.5, -2.5, 1.2345, 125.0])
    same(ember.round(e), torch.round(t))
    for d in (1, 2, -1, -2):
        same(ember.round(e, decimals=d), torch.round(t, decimals=d))


def test_rounding_dtype_errors():
    ie, it = both([1, 2], "int64")
    be, bt = both([True, False], "bool")
    raises_like(lambda: ember.frac(ie), lambda: torch.frac(it))
    raises_like(lambda: ember.floor(be), lambda: torch.floor(bt))
    raises_like(lambda: ember.round(ie, decimals=1), lambda: torch.round(it, decimals=1))
    raises_like(lambda: ember.positive(be), lambda: torch.positive(bt))


def test_positive_returns_input():
    e = ember.tensor([1.0, -2.0])
    assert ember.positive(e) is e


# -- integer kernels and errors -----------------------------------------------------------------
def test_integer_division_by_zero_raises():
    (ae, at), (be, bt) = both([5, -7], "int64"), both([2, 0], "int64")
    for name in ("remainder", "fmod", "floor_divide"):
        raises_like(lambda: getattr(ember, name)(ae, be), lambda: getattr(torch, name)(at, bt))
    raises_like(lambda: ae % 0, lambda: at % 0)


def test_float_only_kernels_reject_integers():
    ie, it = both([1, 2], "int64")
    for name in ("hypot", "logaddexp", "logaddexp2"):
        raises_like(lambda: getattr(ember, name)(ie, ie), lambda: getattr(torch, name)(it, it))
    raises_like(lambda: ember.addcdiv(ie, ie, ie), lambda: torch.addcdiv(it, it, it))
    raises_like(lambda: ember.lerp(ie, ie, 0.5), lambda: torch.lerp(it, it, 0.5))
    fe, ft = both([1.0], "float32")
    de, dt = both([1.0], "float64")
    raises_like(lambda: ember.lerp(fe, de, 0.5), lambda: torch.lerp(ft, dt, 0.5))


def test_bitwise_on_floats_raises_like_torch():
    e, t = both([1.0, 2.0], "float32")
    for fe, ft in ((lambda: e & e, lambda: t & t), (lambda: e | 1, lambda: t | 1),
                   (lambda: ember.bitwise_xor(e, e), lambda: torch.bitwise_xor(t, t)),
                   (lambda: ember.bitwise_not(e), lambda: torch.bitwise_not(t)),
                   (lambda: e << 1, lambda: t << 1), (lambda: e >> 1, lambda: t >> 1),
                   (lambda: ~e, lambda: ~t)):
        raises_like(fe, ft)
    ie = ember.tensor([1, 2])
    with pytest.raises(RuntimeError):  # NotImplementedError is a RuntimeError, as in torch
        ie & 1.5


def test_bitwise_operators_inplace_and_reflected():
    e, t = both([3, 5, -8], "int64")
    for op in ("__iand__", "__ior__", "__ixor__", "__ilshift__", "__irshift__", "__imod__"):
        ec, tc = e.clone(), t.clone()
        re = getattr(ec, op)(2)
        getattr(tc, op)(2)
        assert re is ec
        same(ec, tc)
    same(7 & e, 7 & t)
    same(1 << ember.tensor([0, 3]), 1 << torch.tensor([0, 3]))
    same(9 % e, 9 % t)
    be, bt = both([True, False, True], "bool")
    same(be & (e > 0), bt & (t > 0))
    same(~be, ~bt)
    bc, btc = be.clone(), bt.clone()
    bc |= ember.tensor([False, True, False])
    btc |= torch.tensor([False, True, False])
    same(bc, btc)


def test_equal_allclose_isclose():
    e, t = both([1.0, 2.0, NAN])
    ie, it = both([1, 2, 3], "int64")
    assert ember.equal(e, e) == torch.equal(t, t)
    assert ember.equal(ie, ie.double()) == torch.equal(it, it.double())
    assert ember.equal(ie, ie[:2]) == torch.equal(it, it[:2])
    assert ember.allclose(e, e, equal_nan=True) == torch.allclose(t, t, equal_nan=True)
    assert ember.allclose(e, e) == torch.allclose(t, t)
    assert isinstance(ember.allclose(e, e), bool) and isinstance(ember.equal(e, e), bool)
    same(ember.isclose(e, e + 1e-9, equal_nan=True), torch.isclose(t, t + 1e-9, equal_nan=True))
    raises_like(lambda: ember.isclose(ie, e), lambda: torch.isclose(it, t))


def test_heaviside_and_float_power():
    (xe, xt), (ve, vt) = both([-1.0, 0.0, 2.0]), both([0.5])
    same(ember.heaviside(xe, ve), torch.heaviside(xt, vt))
    ie, it = both([1, 2], "int64")
    raises_like(lambda: ember.heaviside(ie, xe), lambda: torch.heaviside(it, xt))
    fe, ft = both([1.5, 2.5], "float32")
    same(ember.float_power(fe, 2), torch.float_power(ft, 2))
    same(ember.float_power(ie, ie), torch.float_power(it, it))


# -- in-place twins -----------------------------------------------------------------------------
@pytest.mark.parametrize("call", [
    lambda x: x.sin_(), lambda x: x.clamp_(-0.5, 0.5), lambda x: x.clamp_(min=0.0),
    lambda x: x.floor_(), lambda x: x.round_(decimals=1), lambda x: x.lerp_(x * 0 + 1, 0.25),
    lambda x: x.addcmul_(x * 3, x.detach() + 1, value=2), lambda x: x.erf_(), lambda x: x.atan2_(x + 3),
    lambda x: x.xlogy_(2.0), lambda x: x.copysign_(-1.0), lambda x: x.nan_to_num_(),
])
def test_inplace_twins_match_torch(call):
    e, t = both([0.3, -1.2, 0.8], requires_grad=True)
    ye, yt = e * 1, t * 1
    assert call(ye) is ye
    call(yt)
    same(ye, yt)
    assert ye.grad_fn.name() == yt.grad_fn.name()
    ye.sum().backward()
    yt.sum().backward()
    same(e.grad, t.grad)


def test_inplace_float_result_into_int_tensor_errors():
    ie, it = both([1, 2], "int64")
    raises_like(lambda: ie.sin_(), lambda: it.sin_())
    ie.floor_()
    ie.bitwise_not_()
    it.bitwise_not_()
    same(ie, it)


@pytest.mark.parametrize("name,kw", [("relu", {}), ("elu", {}), ("leaky_relu", {}),
                                     ("leaky_relu", {"negative_slope": -0.2}),
                                     ("silu", {}), ("hardtanh", {}), ("threshold",
                                                                      {"threshold": 0.2,
                                                                       "value": 5.0}),
                                     ("celu", {"alpha": 0.5}), ("selu", {}), ("mish", {})])
def test_functional_inplace(name, kw):
    e, t = both([0.3, -1.2, 0.8, -0.1], requires_grad=True)
    ye, yt = e * 2, t * 2
    re = getattr(EF, name)(ye, inplace=True, **kw)
    rt = getattr(TF, name)(yt, inplace=True, **kw) if kw.get("negative_slope", 0) >= 0 else \
        TF.leaky_relu(yt, **kw)
    assert re is ye
    same(re, rt)
    re.sum().backward()
    rt.sum().backward()
    same(e.grad, t.grad)


def test_inplace_on_leaf_requiring_grad_errors():
    e, t = both([1.0, -1.0], requires_grad=True)
    raises_like(lambda: EF.relu(e, inplace=True), lambda: TF.relu(t, inplace=True))
    raises_like(lambda: e.sin_(), lambda: t.sin_())


# -- softmax family -----------------------------------------------------------------------------
@pytest.mark.parametrize("scale", [1.0, 1e3, 1e30])
def test_softmax_large_values_are_stable(scale):
    v = [[1.0, 2.0, 3.0], [-1.0, 0.0, 1000.0]]
    e, t = both(v, "float32")
    for fe, ft in ((EF.softmax, TF.softmax), (EF.log_softmax, TF.log_softmax)):
        out = fe(e * scale, -1)
        assert np.isfinite(out.numpy()).all()
        same(out, ft(t * scale, -1), rtol=1e-5, atol=1e-6)


def test_softmax_infinities_match_torch():
    e, t = both([[-INF, -INF, -INF], [-INF, 0.0, 1.0], [INF, 0.0, 1.0]])
    for fe, ft in ((EF.softmax, TF.softmax), (EF.log_softmax, TF.log_softmax)):
        same(fe(e, 1), ft(t, 1))


def test_softmax_implicit_dim_warns_and_errors():
    e, t = both([[1.0, 2.0], [3.0, 5.0]])
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        out = EF.softmax(e)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        same(out, TF.softmax(t))
    raises_like(lambda: EF.softmax(e, 2), lambda: TF.softmax(t, 2))
    ie, it = both([1, 2], "int64")
    raises_like(lambda: EF.softmax(ie, 0), lambda: TF.softmax(it, 0))
    same(EF.softmax(ie, 0, dtype=ember.float64), TF.softmax(it, 0, dtype=torch.float64))


def test_glu_prelu_errors():
    e, t = both([1.0, 2.0, 3.0])
    raises_like(lambda: EF.glu(e), lambda: TF.glu(t))
    we, wt = both([0.1, 0.2])
    raises_like(lambda: EF.prelu(e.reshape(1, 3), we), lambda: TF.prelu(t.reshape(1, 3), wt))


def test_rrelu_training_samples_slopes_in_range():
    ember.manual_seed(0)
    x = ember.tensor([-1.0] * 1000 + [2.0], requires_grad=True)
    y = EF.rrelu(x, 0.1, 0.3, training=True)
    slopes = -y.detach().numpy()[:-1]
    assert (slopes >= 0.1).all() and (slopes <= 0.3).all() and slopes.std() > 0.03
    assert y[-1].item() == 2.0
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy()[:-1], slopes)
    assert y.grad_fn.name() == "RreluWithNoiseBackward0"


def test_softplus_threshold_and_logsigmoid_extremes():
    e, t = both([-1000.0, -30.0, 0.0, 19.0, 21.0, 1000.0], requires_grad=True)
    for fe, ft in ((EF.softplus, TF.softplus), (EF.logsigmoid, TF.logsigmoid),
                   (EF.silu, TF.silu), (EF.mish, TF.mish)):
        same(fe(e), ft(t), rtol=1e-10)
        (ge,), (gt,) = ember.autograd.grad(fe(e).sum(), e), torch.autograd.grad(ft(t).sum(), t)
        same(ge, gt, rtol=1e-10)
