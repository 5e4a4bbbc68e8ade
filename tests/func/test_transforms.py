"""ember.func's autodiff transforms against torch.func: values, structure, nesting, errors."""

import numpy as np
import torch
import torch.func as tf

import ember
import ember.func as ef
from tests.func.test_forward_ad_skip import needs_forward_rules
from tests.parity import same_error


def _pair(shape, seed=0, dtype=np.float64):
    a = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    return ember.tensor(a), torch.tensor(a)


def _same(e, t, tol=1e-6):
    """Equal pytrees: same structure, tensors equal in shape, dtype and value."""
    if isinstance(t, torch.Tensor):
        assert isinstance(e, ember.Tensor), type(e)
        assert tuple(e.shape) == tuple(t.shape) and str(e.dtype) == str(t.dtype).replace(
            "torch", "ember")
        np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), rtol=tol, atol=tol)
    elif isinstance(t, dict):
        assert isinstance(e, dict) and list(e) == list(t)
        for k in t:
            _same(e[k], t[k], tol)
    elif isinstance(t, (tuple, list)):
        assert type(e).__name__ == type(t).__name__ and len(e) == len(t)
        for a, b in zip(e, t):
            _same(a, b, tol)
    else:
        assert e == t


def _raises(fn_e, fn_t):
    same_error(ember_fn=fn_e, torch_fn=fn_t)


def f_scalar(m, x):
    return (x.sin() * x).sum() + (x ** 3).mean()


def test_grad_and_value_and_has_aux():
    xe, xt = _pair((3, 4))
    _same(ef.grad(lambda x: f_scalar(ember, x))(xe), tf.grad(lambda x: f_scalar(torch, x))(xt))
    _same(ef.grad_and_value(lambda x: f_scalar(ember, x))(xe),
          tf.grad_and_value(lambda x: f_scalar(torch, x))(xt))

    def aux(m):
        return lambda x: (f_scalar(m, x), {"sq": x * x, "n": (x.sum(),)})
    _same(ef.grad(aux(ember), has_aux=True)(xe), tf.grad(aux(torch), has_aux=True)(xt))
    _same(ef.grad_and_value(aux(ember), has_aux=True)(xe),
          tf.grad_and_value(aux(torch), has_aux=True)(xt))
    g = ef.grad(lambda x: f_scalar(ember, x))(xe)
    assert g.grad_fn is None and not g.requires_grad


def test_grad_argnums_pytrees_and_unused():
    ae, at = _pair((3,), 1)
    be, bt = _pair((2, 3), 2)

    def f(m):
        return lambda p, x, y: (p["w"] * x).sum() + (p["b"][0] * x).pow(2).sum() + 0 * y.sum()
    pe, pt = {"w": be, "b": (ae,)}, {"w": bt, "b": (at,)}
    _same(ef.grad(f(ember))(pe, ae, be), tf.grad(f(torch))(pt, at, bt))
    _same(ef.grad(f(ember), argnums=(0, 2))(pe, ae, be),
          tf.grad(f(torch), argnums=(0, 2))(pt, at, bt))
    _same(ef.grad(f(ember), argnums=-2)(pe, ae, be), tf.grad(f(torch), argnums=-2)(pt, at, bt))
    # an input the output does not depend on gets zeros
    _same(ef.grad(lambda x, y: x.sum(), argnums=1)(ae, be),
          tf.grad(lambda x, y: x.sum(), argnums=1)(at, bt))


def test_grad_errors_match_torch():
    xe, xt = _pair((3,))
    cases = [
        (lambda f: f.grad(lambda x: x * 2), (xe,), (xt,)),
        (lambda f: f.grad(lambda x: 3.0), (xe,), (xt,)),
        (lambda f: f.grad(lambda x: x.sum(), has_aux=True), (xe,), (xt,)),
        (lambda f: f.grad(lambda x: (x.sum(), 1, 2), has_aux=True), (xe,), (xt,)),
        (lambda f: f.grad(lambda x: x.sum(), argnums=2), (xe,), (xt,)),
        (lambda f: f.grad(lambda x, y: x.sum(), argnums=(0, -2)), (xe, xe), (xt, xt)),
        (lambda f: f.grad(lambda x: x.sum(), argnums=1.0), (xe,), (xt,)),
        (lambda f: f.grad(lambda x: x.sum(), argnums=()), (xe,), (xt,)),
        (lambda f: f.grad(lambda x: x), (3.0,), (3.0,)),
        (lambda f: f.grad(lambda x: (x.sum(), {"n": 3}), has_aux=True), (xe,), (xt,)),
        (lambda f: f.jacrev(lambda x: x, argnums=()), (xe,), (xt,)),
    ]
    for make, args_e, args_t in cases:
        _raises(lambda: make(ef)(*args_e), lambda: make(tf)(*args_t))
    _raises(lambda: ef.grad(lambda x: x.sum())(ember.arange(3)),
            lambda: tf.grad(lambda x: x.sum())(torch.arange(3)))


def test_nested_grad_and_closures():
    xe, xt = _pair((4,), 3)
    _same(ef.grad(lambda x: ef.grad(lambda y: (y ** 3).sum())(x).sum())(xe),
          tf.grad(lambda x: tf.grad(lambda y: (y ** 3).sum())(x).sum())(xt))

    # the inner function closes over the outer input
    def outer(fm):
        return lambda w: fm.grad(lambda x: (w * x.sin()).sum())(w * 2).pow(2).sum()
    _same(ef.grad(outer(ef))(xe), tf.grad(outer(tf))(xt))
    # third order
    _same(ef.grad(ef.grad(ef.grad(lambda x: x.sin().sum())))(xe.sum()),
          tf.grad(tf.grad(tf.grad(lambda x: x.sin().sum())))(xt.sum()))


def test_grad_composes_with_regular_autograd():
    xe, xt = _pair((3,), 4)
    xe.requires_grad_()
    xt.requires_grad_()
    ge = ef.grad(lambda x: (x ** 3).sum())(xe)
    gt = tf.grad(lambda x: (x ** 3).sum())(xt)
    ge.sum().backward()
    gt.sum().backward()
    _same(xe.grad, xt.grad)


def test_vjp():
    xe, xt = _pair((2, 3), 5)
    ye, yt = _pair((3,), 6)

    def f(x, y):
        return {"a": x * y, "b": (x.exp().sum(0), y.cos())}
    oe, fe = ef.vjp(f, xe, ye)
    ot, ft = tf.vjp(f, xt, yt)
    _same(oe, ot)
    ce, ct = _pair((2, 3), 7)
    de, dt = _pair((3,), 8)
    _same(fe({"a": ce, "b": (de, de)}), ft({"a": ct, "b": (dt, dt)}))
    _same(fe({"a": ce, "b": (de, de * 2)}), ft({"a": ct, "b": (dt, dt * 2)}))   # called again
    oe, fe, aux_e = ef.vjp(lambda x: (x.sin(), x.sum()), xe, has_aux=True)
    ot, ft, aux_t = tf.vjp(lambda x: (x.sin(), x.sum()), xt, has_aux=True)
    _same((oe, fe(ce), aux_e), (ot, ft(ct), aux_t))
    _raises(lambda: ef.vjp(lambda x: 3.0, xe), lambda: tf.vjp(lambda x: 3.0, xt))


@needs_forward_rules  # forward mode: skipped until the ops' rules land
def test_jacrev_jacfwd_argnums_aux_pytrees():
    xe, xt = _pair((3,), 9)
    ye, yt = _pair((2, 3), 10)

    def f(x, y):
        return (x.sin() * y).sum(1), {"p": x.exp(), "q": (y ** 2).sum()}
    for je, jt in ((ef.jacrev, tf.jacrev), (ef.jacfwd, tf.jacfwd)):
        _same(je(f)(xe, ye), jt(f)(xt, yt))
        _same(je(f, argnums=(0, 1))(xe, ye), jt(f, argnums=(0, 1))(xt, yt))
        _same(je(lambda d: d["x"] * d["y"][0], argnums=0)({"x": xe, "y": (ye,)}),
              jt(lambda d: d["x"] * d["y"][0], argnums=0)({"x": xt, "y": (yt,)}))
        _same(je(lambda x: (x.tanh(), x.sum()), has_aux=True)(xe),
              jt(lambda x: (x.tanh(), x.sum()), has_aux=True)(xt))
    _same(ef.jacfwd(ef.jacrev(lambda x: x.sin().prod()))(xe),
          tf.jacfwd(tf.jacrev(lambda x: x.sin().prod()))(xt))
    _same(ef.jacrev(ef.jacrev(lambda x: x.sin() * x.sum()))(xe),
          tf.jacrev(tf.jacrev(lambda x: x.sin() * x.sum()))(xt))


@needs_forward_rules  # forward mode: skipped until the ops' rules land
def test_hessian():
    xe, xt = _pair((4,), 11)
    ye, yt = _pair((4,), 12)

    def f(x, y):
        return (x.sin() * y.exp()).sum() + (x @ y) ** 2
    _same(ef.hessian(f)(xe, ye), tf.hessian(f)(xt, yt))
    _same(ef.hessian(f, argnums=(0, 1))(xe, ye), tf.hessian(f, argnums=(0, 1))(xt, yt))


@needs_forward_rules  # forward mode: skipped until the ops' rules land
def test_jvp_and_linearize():
    xe, xt = _pair((3,), 13)
    ve, vt = _pair((3,), 14)

    def f(x):
        return x.sin() * x.sum(), (x ** 2).cumsum(0)
    _same(ef.jvp(f, (xe,), (ve,)), tf.jvp(f, (xt,), (vt,)))
    _same(ef.jvp(lambda x: (x.exp(), x[0]), (xe,), (ve,), has_aux=True),
          tf.jvp(lambda x: (x.exp(), x[0]), (xt,), (vt,), has_aux=True))
    oe, fe = ef.linearize(lambda x: x.tanh(), xe)
    ot, ft = tf.linearize(lambda x: x.tanh(), xt)
    _same((oe, fe(ve)), (ot, ft(vt)))
    _raises(lambda: ef.jvp(lambda x: x, [xe], (xe,)), lambda: tf.jvp(lambda x: x, [xt], (xt,)))
    _raises(lambda: ef.jvp(lambda x: x, (xe,), (xe, xe)),
            lambda: tf.jvp(lambda x: x, (xt,), (xt, xt)))
    _raises(lambda: ef.jvp(lambda x: x, (xe,), (xe[:2],)),
            lambda: tf.jvp(lambda x: x, (xt,), (xt[:2],)))


@needs_forward_rules  # forward mode: skipped until the ops' rules land
def test_transforms_ignore_an_outer_no_grad():
    xe, xt = _pair((3,), 15)
    res = []
    for m, fm, x in ((ember, ef, xe), (torch, tf, xt)):
        with m.no_grad():
            res.append((fm.grad(lambda v: (v ** 3).sum())(x), fm.jacrev(m.exp)(x),
                        fm.hessian(lambda v: v.sin().sum())(x),
                        fm.vjp(lambda v: v * 3, x)[1](x)))
    _same(*res)
