"""ember.func's forward-mode transforms (jvp, linearize, jacfwd, hessian) against torch.func:
values, pytrees, argnums, has_aux, nesting (forward-over-forward, forward-over-reverse) and
errors. Only ops whose forward rules are in main are used (mul, add, exp, sum, linear, ...)."""

import numpy as np
import pytest
import torch
import torch.func as tf

import ember
import ember.func as ef
from tests.func.test_transforms import _pair, _raises, _same


def g(m, x):
    return (x * x * x).exp().sum() + (x * x).sum() * x.sum()


def vec(m, x, w):
    return m.nn.functional.linear(x, w) * x[:2] + w.sum(1)


def test_jvp_values_aux_and_pytrees():
    xe, xt = _pair((3,), 0)
    ve, vt = _pair((3,), 1)
    we, wt = _pair((2, 3), 2)
    _same(ef.jvp(lambda x: (x * x).exp(), (xe,), (ve,)),
          tf.jvp(lambda x: (x * x).exp(), (xt,), (vt,)))
    _same(ef.jvp(lambda x, w: vec(ember, x, w), (xe, we), (ve, we * 2)),
          tf.jvp(lambda x, w: vec(torch, x, w), (xt, wt), (vt, wt * 2)))

    def tree(m):
        return lambda d, s: ({"a": d["x"] * s, "b": (d["y"].exp(), s * 2)}, {"n": s * s})
    pe, pt = {"x": xe, "y": we}, {"x": xt, "y": wt}
    te, tt = {"x": ve, "y": we}, {"x": vt, "y": wt}
    _same(ef.jvp(tree(ember), (pe, xe), (te, ve), has_aux=True),
          tf.jvp(tree(torch), (pt, xt), (tt, vt), has_aux=True))
    # an output the inputs do not reach: a zero tangent
    _same(ef.jvp(lambda x: (x * 2, xe * 1), (xe,), (ve,)),
          tf.jvp(lambda x: (x * 2, xt * 1), (xt,), (vt,)))


def test_jvp_results_are_detached_unless_inputs_require_grad():
    xe, _ = _pair((3,))
    out, jv = ef.jvp(lambda x: x.exp() * x, (xe,), (ember.ones(3, dtype=ember.float64),))
    assert not out.requires_grad and not jv.requires_grad
    x = xe.clone().requires_grad_()
    out, jv = ef.jvp(lambda x: x.exp() * x, (x,), (ember.ones(3, dtype=ember.float64),))
    assert jv.requires_grad
    g_e, = ember.autograd.grad(jv.sum(), x)
    xt = torch.tensor(xe.numpy(), requires_grad=True)
    _, jvt = tf.jvp(lambda x: x.exp() * x, (xt,), (torch.ones(3, dtype=torch.float64),))
    g_t, = torch.autograd.grad(jvt.sum(), xt)
    _same(g_e, g_t)


def test_linearize_matches_torch():
    xe, xt = _pair((3,))
    ve, vt = _pair((3,), 1)
    oe, fe = ef.linearize(lambda x: x.exp() * x, xe)
    ot, ft = tf.linearize(lambda x: x.exp() * x, xt)
    _same((oe, fe(ve), fe(ve * 3)), (ot, ft(vt), ft(vt * 3)))
    _raises(lambda: fe(ve, ve), lambda: ft(vt, vt))
    _raises(lambda: fe(ve[:2]), lambda: ft(vt[:2]))
    _raises(lambda: fe(ve.float()), lambda: ft(vt.float()))


@pytest.mark.parametrize("argnums", [0, 1, (0, 1), (1, 0), -1])
def test_jacfwd_argnums(argnums):
    xe, xt = _pair((3,))
    we, wt = _pair((2, 3), 1)
    # torch 2.13's jacfwd gives zeros for a negative argnum (its jacrev does not): compare
    # with the argnum it names
    _same(ef.jacfwd(lambda x, w: vec(ember, x, w), argnums=argnums)(xe, we),
          tf.jacfwd(lambda x, w: vec(torch, x, w), argnums=1 if argnums == -1 else argnums)(
              xt, wt))
    # and the same Jacobian as reverse mode
    fwd = ef.jacfwd(lambda x, w: vec(ember, x, w), argnums=argnums)(xe, we)
    rev = ef.jacrev(lambda x, w: vec(ember, x, w), argnums=argnums)(xe, we)
    for a, b in zip(*(x if isinstance(x, tuple) else (x,) for x in (fwd, rev))):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, atol=1e-12)


def test_jacfwd_pytrees_aux_and_scalars():
    xe, xt = _pair((3,))
    we, wt = _pair((2, 3), 1)

    def tree(m):
        return lambda d: {"a": d["x"] * d["w"], "b": (d["x"].exp().sum(),)}
    _same(ef.jacfwd(tree(ember))({"x": xe, "w": we}), tf.jacfwd(tree(torch))({"x": xt, "w": wt}))

    def aux(m):
        return lambda x: (x.exp(), {"twice": x * 2})
    _same(ef.jacfwd(aux(ember), has_aux=True)(xe), tf.jacfwd(aux(torch), has_aux=True)(xt))
    se, st = _pair((), 3)
    _same(ef.jacfwd(lambda s: (s * s).exp())(se), tf.jacfwd(lambda s: (s * s).exp())(st))


def test_forward_over_reverse_and_forward_over_forward():
    xe, xt = _pair((3,))
    ve, vt = _pair((3,), 1)
    h_t = tf.hessian(lambda x: g(torch, x))(xt)
    _same(ef.hessian(lambda x: g(ember, x))(xe), h_t)
    _same(ef.jacfwd(ef.jacfwd(lambda x: g(ember, x)))(xe), h_t)
    _same(ef.jacfwd(ef.jacrev(lambda x: g(ember, x)))(xe), h_t)
    # hvp: forward over reverse, and jvp of jvp
    _same(ef.jvp(ef.grad(lambda x: g(ember, x)), (xe,), (ve,)),
          tf.jvp(tf.grad(lambda x: g(torch, x)), (xt,), (vt,)))

    def jj(m, fn, x, v):
        return fn.jvp(lambda y: fn.jvp(lambda z: (z * z).exp(), (y,), (v,))[1], (x,), (v,))
    _same(jj(ember, ef, xe, ve), jj(torch, tf, xt, vt))
    we, wt = _pair((2, 3), 2)

    def two(m):  # a scalar of two inputs, through ops whose backward has forward rules
        return lambda x, w: ((w * x).sum(1) * x[:2]).exp().sum()
    _same(ef.hessian(two(ember), argnums=(0, 1))(xe, we),
          tf.hessian(two(torch), argnums=(0, 1))(xt, wt))


def test_forward_transforms_errors_match_torch():
    xe, xt = _pair((3,))
    cases = [
        (lambda m, fn, x: fn.jvp(lambda y: y.exp(), (x,), x)),
        (lambda m, fn, x: fn.jvp(lambda y: y.exp(), [x], (x,))),
        (lambda m, fn, x: fn.jvp(lambda y: 3, (x,), (x,))),
        (lambda m, fn, x: fn.jvp(lambda y: y.exp(), (3.0,), (x,))),
        (lambda m, fn, x: fn.jvp(lambda y: y.exp(), (x,), (3.0,))),
        (lambda m, fn, x: fn.jvp(lambda y: y.exp(), (), ())),
        (lambda m, fn, x: fn.jvp(lambda y: y * 1, (x.long(),), (x.long(),))),
        (lambda m, fn, x: fn.jvp(lambda y: y * 1, (x,), (x[:2],))),
        (lambda m, fn, x: fn.jvp(lambda y: y, (x,), (x,), has_aux=True)),
        (lambda m, fn, x: fn.jacfwd(lambda y: y.exp(), randomness="x")(x)),
        (lambda m, fn, x: fn.jacfwd(lambda y: (y.exp(), 3), has_aux=True)(x)),
        (lambda m, fn, x: fn.jacfwd(lambda y: y.exp(), has_aux=True)(x)),
        (lambda m, fn, x: fn.jacfwd(lambda y: 3)(x)),
        (lambda m, fn, x: fn.jacfwd(lambda y: y.exp(), argnums=2)(x)),
        (lambda m, fn, x: fn.jacfwd(lambda y: y.exp(), argnums=(0, 0))(x)),
    ]
    for case in cases:
        _raises(lambda: case(ember, ef, xe), lambda: case(torch, tf, xt))


def test_jacfwd_is_forward_mode():
    """jacfwd runs forward rules: an op without one raises PyTorch's forward-AD error,
    which a reverse-mode Jacobian would not."""

    class Rev(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    class Fwd(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def jvp(ctx, t):
            return t * 2
    xe, _ = _pair((3,))
    ef.jacrev(Rev.apply)(xe)
    with pytest.raises(NotImplementedError, match="jvp function"):
        ef.jacfwd(Rev.apply)(xe)
    np.testing.assert_allclose(ef.jacfwd(Fwd.apply)(xe).numpy(), 2 * np.eye(3))
