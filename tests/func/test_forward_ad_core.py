"""forward_ad semantics against torch.autograd.forward_ad: rules run on primals, grad mode,
custom ``autograd.Function`` jvp (ctx and setup_context styles), in-place writes and views."""

import numpy as np
import pytest
import torch

import ember
from tests.func.test_transforms import _raises, _same


def _fw(m):
    return m.autograd.forward_ad


def _t(m, values, **kw):
    return m.tensor(np.asarray(values, dtype=np.float64), **kw)


def _unpacked(m, x):
    p, t = _fw(m).unpack_dual(x)
    return p.detach().clone(), (None if t is None else t.detach().clone())


@pytest.mark.parametrize("grad_mode", ["enable_grad", "no_grad"])
def test_tangents_flow_in_both_grad_modes(grad_mode):
    def run(m):
        fw = _fw(m)
        x = _t(m, [0.5, -1.0, 2.0], requires_grad=True)
        with fw.dual_level(), getattr(m, grad_mode)():
            d = fw.make_dual(x, _t(m, [1.0, 2.0, 3.0]))
            y = (d * d).exp() * 2 + d.sum()
            p, t = fw.unpack_dual(y)
            return (p.detach(), t.detach(), y.requires_grad, t.requires_grad,
                    d.requires_grad)
    _same(run(ember), run(torch))


def test_make_dual_requires_grad_follows_primal():
    def run(m):
        fw = _fw(m)
        with fw.dual_level():
            a = fw.make_dual(_t(m, [1.0, 2.0]), _t(m, [1.0, 1.0], requires_grad=True))
            b = fw.make_dual(_t(m, [1.0, 2.0], requires_grad=True), _t(m, [1.0, 1.0]))
            y = a * a
            return (a.requires_grad, b.requires_grad, y.requires_grad,
                    fw.unpack_dual(y).tangent.requires_grad, a.detach().requires_grad,
                    fw.unpack_dual(a.detach()).tangent is None)
    assert run(ember) == run(torch)


def test_reverse_over_forward_through_rules():
    res = []
    for m in (ember, torch):
        fw = _fw(m)
        x = _t(m, [0.5, -1.0, 2.0], requires_grad=True)
        t = _t(m, [1.0, -2.0, 0.5], requires_grad=True)
        with fw.dual_level():
            y = (fw.make_dual(x, t) * x).exp().sum()
            tangent = fw.unpack_dual(y).tangent
            gx, gt = m.autograd.grad(tangent, (x, t))
        res.append((tangent.detach(), gx, gt))
    _same(*res)


# -- custom autograd.Function ---------------------------------------------------------------
def _custom_classes(m):
    fw = _fw(m)
    seen = []

    class Both(m.autograd.Function):
        @staticmethod
        def forward(ctx, x, y):
            seen.append(fw.unpack_dual(x).tangent is None)
            ctx.save_for_forward(x, y)
            ctx.save_for_backward(x)
            return x * y, x + 1

        @staticmethod
        def jvp(ctx, tx, ty):
            x, y = ctx.saved_tensors
            seen.append(fw.unpack_dual(x).tangent is None)
            return tx * y + x * ty, tx

        @staticmethod
        def backward(ctx, g1, g2):
            return g1, g1

    class Setup(m.autograd.Function):
        @staticmethod
        def forward(x, k):
            return x * k

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_forward(inputs[0])
            ctx.k = inputs[1]

        @staticmethod
        def jvp(ctx, t, _):
            x, = ctx.saved_tensors
            return t * ctx.k + x * 0

    class NoJvp(m.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

    class Wrong(m.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2, x * 3

        @staticmethod
        def jvp(ctx, t):
            return t * 2

    class Dirty(m.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            x.mul_(2)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def jvp(ctx, t):
            t.mul_(2)
            return t

    return Both, Setup, NoJvp, Wrong, Dirty, seen


def test_custom_function_jvp_matches_torch():
    def run(m):
        fw = _fw(m)
        Both, Setup, _, _, Dirty, seen = _custom_classes(m)
        with fw.dual_level():
            x = fw.make_dual(_t(m, [1.0, 2.0]), _t(m, [1.0, -1.0]))
            y = _t(m, [3.0, 4.0])
            a, b = Both.apply(x, y)
            c = Setup.apply(x, 3.0)
            z = fw.make_dual(_t(m, [1.0, 2.0]), _t(m, [1.0, 3.0]))
            out = Dirty.apply(z)
            plain = Setup.apply(_t(m, [1.0, 2.0]), 2.0)
            return (_unpacked(m, a), _unpacked(m, b), _unpacked(m, c), out is z,
                    _unpacked(m, z), fw.unpack_dual(plain).tangent, tuple(seen))
    _same(run(ember), run(torch))


def test_custom_function_jvp_errors_match_torch():
    def call(m, which):
        fw = _fw(m)
        classes = _custom_classes(m)
        with fw.dual_level():
            x = fw.make_dual(_t(m, [1.0, 2.0]), _t(m, [1.0, 1.0]))
            classes[which].apply(x)
    _raises(lambda: call(ember, 2), lambda: call(torch, 2))
    _raises(lambda: call(ember, 3), lambda: call(torch, 3))


def test_custom_function_reverse_still_works_with_setup_context():
    res = []
    for m in (ember, torch):
        class Sq(m.autograd.Function):
            @staticmethod
            def forward(x):
                return x * x

            @staticmethod
            def setup_context(ctx, inputs, output):
                ctx.save_for_backward(inputs[0])

            @staticmethod
            def backward(ctx, g):
                x, = ctx.saved_tensors
                return 2 * x * g
        x = _t(m, [1.0, -2.0], requires_grad=True)
        y = Sq.apply(x)
        y.sum().backward()
        res.append((y.detach(), x.grad, type(y.grad_fn).__name__))
    _same(*res)


# -- in-place writes and views --------------------------------------------------------------
def _inplace_cases(m):
    fw = _fw(m)
    out = []
    with fw.dual_level():
        d = fw.make_dual(_t(m, [1.0, 2.0]), _t(m, [1.0, 0.5]))
        w = m.zeros(2, dtype=m.float64)
        w.copy_(d)                                        # a non-dual becomes dual
        out.append(_unpacked(m, w))
        w2 = m.ones(2, dtype=m.float64)
        w2.mul_(d)
        out.append(_unpacked(m, w2))
        d3 = fw.make_dual(_t(m, [1.0, 1.0]), _t(m, [1.0, 1.0]))
        d3.mul_(_t(m, [2.0, 3.0]))                        # a dual's tangent is updated
        out.append(_unpacked(m, d3))
        d3.add_(d3 * 2)
        out.append(_unpacked(m, d3))
        w3 = m.zeros(3, dtype=m.float64)
        w3[1:] = d                                        # through a view: the base is dual
        out.append(_unpacked(m, w3))
        w4 = m.zeros(4, dtype=m.float64)
        w4[m.tensor([0, 2])] = d                          # index_put
        out.append(_unpacked(m, w4))
        base = fw.make_dual(m.ones(4, dtype=m.float64), m.arange(4.0, dtype=m.float64))
        v = base.view(2, 2)
        base.mul_(2)                                      # the view's tangent follows
        out.append((_unpacked(m, v), _unpacked(m, base)))
        v[0] = fw.make_dual(m.zeros(2, dtype=m.float64), m.full((2,), 7.0, dtype=m.float64))
        out.append((_unpacked(m, v), _unpacked(m, base)))
        d.copy_(_t(m, [5.0, 6.0]))                        # a non-dual source: zero tangent
        out.append(_unpacked(m, d))
        e = fw.make_dual(_t(m, [1.0, 2.0]), _t(m, [3.0, 4.0]))
        e.zero_()
        out.append(_unpacked(m, e))
        x = _t(m, [1.0, 2.0, 3.0], requires_grad=True)
        y = x * 1
        y[:2].mul_(fw.make_dual(_t(m, [1.0, 1.0]), _t(m, [2.0, 2.0])))   # under autograd
        out.append(_unpacked(m, y))
        y.sum().backward()
        out.append(x.grad)
    return out


def test_inplace_on_duals_matches_torch():
    _same(_inplace_cases(ember), _inplace_cases(torch))
