"""ember.autograd.functional against torch.autograd.functional: values, return structures
(Tensor vs tuple, nested tuples, lists for forward-mode), requires_grad of the results,
create_graph, strict mode and the error types and messages."""

import numpy as np
import pytest
import torch
import torch.autograd.functional as TF

import ember
import ember.autograd.functional as EF

RNG = np.random.default_rng(0)


def lib(m):
    return EF if m is ember else TF


def arrays(*shapes, transpose=()):
    """Float64 sample arrays (the ones listed in ``transpose`` become non-contiguous)."""
    out = []
    for i, s in enumerate(shapes):
        a = RNG.standard_normal(s[::-1] if i in transpose else s)
        out.append(a.T if i in transpose else a)
    return out


def to(m, arrs):
    """Tensors of ``m`` from arrays; a transposed array becomes a transposed (strided) view."""
    return tuple(m.tensor(a.T).t() if a.ndim == 2 and not a.flags.c_contiguous else m.tensor(a)
                 for a in arrs)


def same(e, t, grad=True, atol=1e-10):
    """Same structure (tuple/list nesting), shapes, dtypes, values and requires_grad."""
    if isinstance(t, (tuple, list)):
        assert type(e) is type(t) and len(e) == len(t), (type(e), type(t))
        for a, b in zip(e, t):
            same(a, b, grad, atol)
        return
    assert isinstance(e, ember.Tensor) and isinstance(t, torch.Tensor)
    assert tuple(e.shape) == tuple(t.shape)
    assert str(e.dtype).split(".")[1] == str(t.dtype).split(".")[1]
    if grad:
        assert e.requires_grad == t.requires_grad
    np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), atol=atol, rtol=1e-9)


def same_error(fn, message=True):
    """fn(m, F) raises the same exception type (and message) under ember and torch."""
    with pytest.raises(Exception) as te:
        fn(torch, TF)
    with pytest.raises(type(te.value)) as ee:
        fn(ember, EF)
    if message:
        assert str(ee.value) == str(te.value).replace("torch.Size", "ember.Size")


def second(m, res, ins):
    """Gradients of the sum of the differentiable results w.r.t. ins (zeros if none)."""
    outs = [r.sum() for r in _flat(res) if r.requires_grad]
    if not outs:
        return tuple(m.zeros_like(t) for t in ins)
    return m.autograd.grad(sum(outs), ins, allow_unused=True, materialize_grads=True)


# name, function (of the tensor module m), input shapes, transposed inputs
VECTOR_FUNCS = [
    ("poly", lambda m: lambda x: x ** 3 - 2 * x ** 2 + 0.5 * x, [(4,)], ()),
    ("tanh_exp", lambda m: lambda x: x.tanh().exp() * x, [(2, 3)], ()),
    ("zero_dim", lambda m: lambda x: (x * 3).sin(), [()], ()),
    ("matrix", lambda m: lambda a, b: (a @ b).tanh(), [(2, 3), (3, 2)], (1,)),
    ("broadcast", lambda m: lambda a, b: a * b.exp() + b, [(3, 1), (4,)], ()),
    ("multi_out", lambda m: lambda a, b: ((a.unsqueeze(1) * b).exp(), (a ** 3).sum(),
                                          m.logsumexp(b, dim=-1)), [(3,), (3, 2)], ()),
    ("reduce_dim", lambda m: lambda x: x.exp().sum(dim=-1), [(3, 4)], (0,)),
]
SCALAR_FUNCS = [
    ("poly", lambda m: lambda x: (x ** 3).sum() * x.sin().sum(), [(4,)], ()),
    ("zero_dim", lambda m: lambda x: x.sin() * x.cos() * x, [()], ()),
    ("logsumexp", lambda m: lambda x: m.logsumexp(x, dim=(0, 1)), [(2, 3)], (0,)),
    ("matrix", lambda m: lambda a, b: (a @ b).tanh().pow(2).sum(), [(2, 3), (3, 2)], (0,)),
    ("quadratic", lambda m: lambda a, b: (a * b).sum() + (a ** 2).sum(), [(3,), (3,)], ()),
    ("one_elem", lambda m: lambda x: (x.exp() * x).reshape(1), [(1, 1)], ()),
]


def _call(func, arrs, tuple_in):
    """(ember result, torch result) of func(m, F, inputs) with a Tensor or tuple input."""
    def go(m):
        ins = to(m, arrs)
        return func(m, lib(m), ins if tuple_in else ins[0])
    return go(ember), go(torch)


def _cases(funcs):
    return [pytest.param(f, shapes, tr, id=name) for name, f, shapes, tr in funcs]


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("f, shapes, tr", _cases(VECTOR_FUNCS))
def test_vjp(f, shapes, tr, create_graph):
    arrs = arrays(*shapes, transpose=tr)
    outs = f(torch)(*to(torch, arrs))
    v = [RNG.standard_normal(tuple(o.shape)) for o in (outs if isinstance(outs, tuple)
                                                       else (outs,))]

    def run(m, F, x):
        ins = tuple(t.requires_grad_() for t in _flat(x)) if create_graph else _flat(x)
        vv = to(m, v)
        res = F.vjp(f(m), x, vv if isinstance(outs, tuple) else vv[0],
                    create_graph=create_graph)
        if create_graph:  # the result is differentiable: a second derivative matches too
            grads = m.autograd.grad(sum(r.pow(2).sum() for r in _flat(res[1])), ins,
                                    allow_unused=True)
            return res, tuple(g if g is not None else m.zeros(()) for g in grads)
        return res
    e, t = _call(run, arrs, tuple_in=len(shapes) > 1)
    same(e, t)


def _flat(x):
    return x if isinstance(x, tuple) else (x,)


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("f, shapes, tr", _cases(VECTOR_FUNCS))
def test_jvp(f, shapes, tr, create_graph):
    arrs = arrays(*shapes, transpose=tr)
    v = arrays(*shapes)

    def run(m, F, ins):
        ins = tuple(t.requires_grad_() for t in ins) if create_graph else ins
        vv = to(m, v)
        res = F.jvp(f(m), ins if len(ins) > 1 else ins[0], vv if len(ins) > 1 else vv[0],
                    create_graph=create_graph)
        if create_graph:
            grads = m.autograd.grad(sum(r.pow(2).sum() for r in _flat(res[1])), ins,
                                    allow_unused=True)
            return res, tuple(g if g is not None else m.zeros(()) for g in grads)
        return res
    e, t = _call(lambda m, F, ins: run(m, F, _flat(ins)), arrs, tuple_in=len(shapes) > 1)
    same(e, t)


def test_jvp_equals_jacobian_times_v():
    x, v = ember.randn(4, dtype=ember.float64), ember.randn(4, dtype=ember.float64)
    f = lambda a: a.tanh() * a.sum()  # noqa: E731
    _, jv = EF.jvp(f, x, v)
    np.testing.assert_allclose(jv.numpy(), EF.jacobian(f, x).numpy() @ v.numpy(), rtol=1e-12)


@pytest.mark.parametrize("mode", ["reverse", "vectorize", "forward"])
@pytest.mark.parametrize("f, shapes, tr", _cases(VECTOR_FUNCS))
def test_jacobian(f, shapes, tr, mode):
    kw = {"reverse": {}, "vectorize": {"vectorize": True},
          "forward": {"vectorize": True, "strategy": "forward-mode"}}[mode]
    arrs = arrays(*shapes, transpose=tr)
    for tuple_in in {True, len(shapes) > 1}:  # a single input also as a 1-tuple
        e, t = _call(lambda m, F, ins: F.jacobian(f(m), ins, **kw), arrs, tuple_in)
        same(e, t)


@pytest.mark.parametrize("f, shapes, tr", _cases(VECTOR_FUNCS[:4]))
def test_jacobian_create_graph(f, shapes, tr):
    arrs = arrays(*shapes, transpose=tr)

    def run(m, F, ins):
        ins = tuple(t.requires_grad_() for t in ins)
        jac = F.jacobian(f(m), ins, create_graph=True)
        loss = sum(j.pow(2).sum() for row in jac for j in _flat(row))
        return jac, m.autograd.grad(loss, ins, allow_unused=True, materialize_grads=True)
    e, t = _call(run, arrs, tuple_in=True)
    same(e, t)


@pytest.mark.parametrize("mode", ["reverse", "vectorize", "forward"])
@pytest.mark.parametrize("f, shapes, tr", _cases(SCALAR_FUNCS))
def test_hessian(f, shapes, tr, mode):
    kw = {"reverse": {}, "vectorize": {"vectorize": True},
          "forward": {"vectorize": True, "outer_jacobian_strategy": "forward-mode"}}[mode]
    arrs = arrays(*shapes, transpose=tr)
    for tuple_in in {True, len(shapes) > 1}:
        e, t = _call(lambda m, F, ins: F.hessian(f(m), ins, **kw), arrs, tuple_in)
        # PyTorch's forward-over-reverse result keeps a grad_fn it did not ask for; ours not.
        same(e, t, grad=mode != "forward")
    if mode == "reverse":  # symmetric, and equal to the jacobian of the gradient
        h = EF.hessian(f(ember), to(ember, arrs))
        for i in range(len(shapes)):
            for j in range(len(shapes)):
                a, b = h[i][j].numpy(), h[j][i].numpy()
                n, k = int(np.prod(shapes[i])), int(np.prod(shapes[j]))
                np.testing.assert_allclose(a.reshape(n, k), b.reshape(k, n).T, atol=1e-10)


@pytest.mark.parametrize("f, shapes, tr", _cases(SCALAR_FUNCS[:4]))
def test_hessian_create_graph(f, shapes, tr):
    arrs = arrays(*shapes, transpose=tr)

    def run(m, F, ins):
        ins = tuple(t.requires_grad_() for t in ins)
        h = F.hessian(f(m), ins, create_graph=True)
        loss = sum(x.sum() for row in h for x in row)
        return h, m.autograd.grad(loss, ins, allow_unused=True, materialize_grads=True)
    e, t = _call(run, arrs, tuple_in=True)
    same(e, t)


@pytest.mark.parametrize("name", ["vhp", "hvp"])
@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("f, shapes, tr", _cases(SCALAR_FUNCS))
def test_vhp_hvp(f, shapes, tr, create_graph, name):
    arrs, v = arrays(*shapes, transpose=tr), arrays(*shapes)

    def run(m, F, ins):
        ins = tuple(t.requires_grad_() for t in ins) if create_graph else ins
        vv = to(m, v)
        tup = len(ins) > 1
        res = getattr(F, name)(f(m), ins if tup else ins[0], vv if tup else vv[0],
                               create_graph=create_graph)
        return (res, second(m, res[1], ins)) if create_graph else res
    e, t = _call(lambda m, F, ins: run(m, F, _flat(ins)), arrs, tuple_in=True)
    # Under create_graph, whether a constant result (a quadratic's H v) still carries a
    # graph depends on how each backward formula is written: compare values only.
    same(e, t, grad=not create_graph)
    if not create_graph:  # H is symmetric: v^T H == H v
        other = EF.hvp if name == "vhp" else EF.vhp
        ins = to(ember, arrs)
        res = other(f(ember), ins if len(ins) > 1 else ins[0],
                    to(ember, v) if len(ins) > 1 else to(ember, v)[0])
        same(res[1], t[1], grad=False)


def test_v_defaults_for_single_elements():
    for name, f in [("vjp", lambda x: x.exp().sum()), ("jvp", lambda x: x.exp() * 2),
                    ("vhp", lambda x: (x ** 3).sum()), ("hvp", lambda x: (x ** 3).sum())]:
        e, t = _call(lambda m, F, ins, n=name, g=f: getattr(F, n)(g, ins), [np.array([0.3])],
                     tuple_in=False)
        same(e, t)


def test_float32_and_empty_inputs():
    e, t = _call(lambda m, F, ins: F.jacobian(lambda a: a.float().exp(), ins),
                 [np.array([0.1, 0.2])], tuple_in=False)
    same(e, t, atol=1e-6)
    f = lambda a, b: (a.sum() + b ** 2)  # noqa: E731
    for F in ("vjp", "jacobian", "jvp"):
        def run(m, Fm, ins, F=F):
            if F == "vjp":
                return Fm.vjp(f, ins, m.ones(2, dtype=m.float64))
            if F == "jvp":
                return Fm.jvp(f, ins, ins)
            return Fm.jacobian(f, ins)
        e, t = _call(run, [np.zeros(0), np.array([1.0, 2.0])], tuple_in=True)
        same(e, t)


def test_empty_output_gives_empty_jacobian():
    # PyTorch fails inside torch.stack here; ember returns the (empty) Jacobian.
    with pytest.raises(RuntimeError, match="non-empty"):
        TF.jacobian(lambda a: a[:0] * 2, torch.ones(3))
    jac = EF.jacobian(lambda a: a[:0] * 2, ember.ones(3))
    assert tuple(jac.shape) == (0, 3)
    # Likewise the Hessian blocks of an empty input (PyTorch: the same stack error).
    with pytest.raises(RuntimeError, match="non-empty"):
        TF.hessian(lambda a, b: a.sum() + (b ** 3).sum(), (torch.zeros(0), torch.ones(2)))
    h = EF.hessian(lambda a, b: a.sum() + (b ** 3).sum(), (ember.zeros(0), ember.ones(2)))
    assert [[tuple(x.shape) for x in row] for row in h] == [[(0, 0), (0, 2)], [(2, 0), (2, 2)]]
    np.testing.assert_array_equal(h[1][1].numpy(), np.diag([6.0, 6.0]))


def test_zero_dim_second_derivative_of_saved_output_ops():
    e, t = _call(lambda m, F, x: F.hessian(lambda a: a.tanh() * a.exp(), x), [np.array(0.3)],
                 tuple_in=False)
    same(e, t)


def test_results_are_detached_and_leave_grads_untouched():
    def run(m, F, ins):
        x = ins[0].requires_grad_()
        res = (F.vjp(lambda a: a * a, x, m.ones(3, dtype=m.float64)),
               F.jvp(lambda a: a * a, x, m.ones(3, dtype=m.float64)),
               F.jacobian(lambda a: a * a, x), F.hessian(lambda a: (a ** 3).sum(), x),
               F.hvp(lambda a: (a ** 3).sum(), x, m.ones(3, dtype=m.float64)))
        assert x.grad is None
        return res
    e, t = _call(run, arrays((3,)), tuple_in=True)
    same(e, t)


def test_captured_tensor_is_a_constant_and_no_grad_mode_is_ignored():
    # The function closes over x itself: that use is not differentiated (a new input object
    # is passed), as in PyTorch.
    def run(m, F, ins):
        x = ins[0]
        with m.no_grad():
            return (F.jacobian(lambda a: a * x, x), F.vjp(lambda a: a * x, x, x),
                    F.jvp(lambda a: a * x.sum(), x, x), F.hessian(lambda a: (a * x).sum(), x))
    e, t = _call(run, arrays((3,)), tuple_in=True)
    same(e, t)


def test_independent_inputs_give_zeros():
    def run(m, F, ins):
        a, b = ins
        v3 = m.ones(3, dtype=m.float64)
        return (F.vjp(lambda p, q: p.exp(), (a, b), v3), F.jvp(lambda p, q: p.exp(), (a, b),
                                                                  (v3, v3)),
                F.jacobian(lambda p, q: (p * 2, q.detach()), (a, b)),
                F.hessian(lambda p, q: (p ** 3).sum() + q.sum(), (a, b)),
                F.vhp(lambda p, q: (p ** 3).sum(), (a, b), (v3, v3)),
                F.hvp(lambda p, q: (p ** 3).sum(), (a, b), (v3, v3)),
                F.jvp(lambda p: m.zeros(3, dtype=m.float64), a, v3))
    e, t = _call(run, arrays((3,), (3,)), tuple_in=True)
    same(e, t)


LINEAR = lambda x: x * 2  # noqa: E731
STRICT_ERRORS = {
    "vjp_detached_output": lambda m, F, x: F.vjp(lambda a: a.detach() * 2, x, x, strict=True),
    "vjp_independent_input": lambda m, F, x: F.vjp(lambda a, b: a * 2, (x, x), x, strict=True),
    "jvp_detached_output": lambda m, F, x: F.jvp(lambda a: a.detach(), x, x, strict=True),
    "jvp_independent": lambda m, F, x: F.jvp(lambda a, b: a * 2, (x, x), (x, x), strict=True),
    "jvp_linear_create_graph": lambda m, F, x: F.jvp(LINEAR, x, x, create_graph=True,
                                                     strict=True),
    "vjp_linear_create_graph": lambda m, F, x: F.vjp(LINEAR, x, x, create_graph=True,
                                                     strict=True),
    "vhp_quadratic_create_graph": lambda m, F, x: F.vhp(lambda a: (a * a).sum(), x, x,
                                                        create_graph=True, strict=True),
    "jacobian_independent": lambda m, F, x: F.jacobian(lambda a, b: a * 2, (x, x), strict=True),
    "jacobian_detached": lambda m, F, x: F.jacobian(lambda a: a.detach(), x, strict=True),
    "jacobian_linear_create_graph": lambda m, F, x: F.jacobian(LINEAR, x, create_graph=True,
                                                               strict=True),
    "hessian_linear": lambda m, F, x: F.hessian(lambda a: a.sum(), x, strict=True),
    "hessian_independent": lambda m, F, x: F.hessian(lambda a, b: (a ** 3).sum(), (x, x),
                                                     strict=True),
    "vhp_linear": lambda m, F, x: F.vhp(lambda a: a.sum(), x, x, strict=True),
    "hvp_linear": lambda m, F, x: F.hvp(lambda a: a.sum(), x, x, strict=True),
    "vhp_independent": lambda m, F, x: F.vhp(lambda a, b: (a ** 3).sum() + b.sum(), (x, x),
                                             (x, x), strict=True),
    "hvp_independent": lambda m, F, x: F.hvp(lambda a, b: (a ** 3).sum() + b.sum(), (x, x),
                                             (x, x), strict=True),
    "hessian_strict_vectorize": lambda m, F, x: F.hessian(lambda a: (a ** 3).sum(), x,
                                                          strict=True, vectorize=True),
    "jacobian_strict_vectorize": lambda m, F, x: F.jacobian(LINEAR, x, strict=True,
                                                            vectorize=True),
    "jacobian_strict_forward": lambda m, F, x: F.jacobian(
        LINEAR, x, strict=True, vectorize=True, strategy="forward-mode"),
}


@pytest.mark.parametrize("case", STRICT_ERRORS)
def test_strict_errors(case):
    same_error(lambda m, F: STRICT_ERRORS[case](m, F, m.tensor([1.0, 2.0, 3.0])))


def test_strict_accepts_well_behaved_functions():
    def run(m, F, ins):
        x = ins[0]
        f = lambda a: (a ** 3).sum()  # noqa: E731
        return (F.vjp(f, x, strict=True), F.jvp(lambda a: a.exp(), x, x, strict=True),
                F.jacobian(lambda a: a.exp(), x, strict=True, create_graph=True),
                F.hessian(f, x, strict=True), F.hvp(f, x, x, strict=True),
                F.vhp(f, x, x, strict=True))
    e, t = _call(run, arrays((3,)), tuple_in=True)
    same(e, t)


def test_strict_jacobian_create_graph_names_the_input():
    # PyTorch names the *output* index in this message; ember names the input.
    x = ember.ones(2)
    with pytest.raises(RuntimeError, match="independent of input 1"):
        EF.jacobian(lambda a, b: a.exp() + b, (x, x), create_graph=True, strict=True)


ARG_ERRORS = {
    "list_inputs": lambda m, F, x: F.vjp(lambda a: a, [x]),
    "non_tensor_in_tuple": lambda m, F, x: F.jacobian(lambda a, b: a, (x, 1)),
    "non_tensor_input": lambda m, F, x: F.hessian(lambda a: a, 3.0),
    "non_tensor_output": lambda m, F, x: F.vjp(lambda a: 3, x, x),
    "non_tensor_in_outputs": lambda m, F, x: F.jvp(lambda a: (a, 1), x, x),
    "v_not_tensor": lambda m, F, x: F.hvp(lambda a: a.sum(), x, [x]),
    "v_tuple_length": lambda m, F, x: F.vjp(lambda a: a, x, (x, x)),
    "v_tuple_length_tuple": lambda m, F, x: F.jvp(lambda a, b: a, (x, x), (x,)),
    "v_shape": lambda m, F, x: F.vjp(lambda a: a, x, x[:2]),
    "v_shape_tuple": lambda m, F, x: F.vhp(lambda a, b: (a * b).sum(), (x, x), (x, x[:2])),
    "vjp_v_none": lambda m, F, x: F.vjp(lambda a: a, x),
    "jvp_v_none": lambda m, F, x: F.jvp(lambda a: a, x),
    "hvp_v_none": lambda m, F, x: F.hvp(lambda a: a.sum(), x),
    "vhp_v_none": lambda m, F, x: F.vhp(lambda a, b: a.sum(), (x[:1], x[:1])),
    "hessian_tuple_output": lambda m, F, x: F.hessian(lambda a: (a.sum(),), x),
    "hessian_vector_output": lambda m, F, x: F.hessian(lambda a: a * 2, x),
    "vhp_vector_output": lambda m, F, x: F.vhp(lambda a: a, x, x),
    "hvp_tuple_output": lambda m, F, x: F.hvp(lambda a: (a.sum(), a.sum()), x, x),
    "bad_strategy": lambda m, F, x: F.jacobian(lambda a: a, x, strategy="fwd"),
    "bad_outer_strategy": lambda m, F, x: F.hessian(lambda a: a.sum(), x,
                                                    outer_jacobian_strategy="fwd"),
    "forward_create_graph": lambda m, F, x: F.jacobian(lambda a: a, x, create_graph=True,
                                                       strategy="forward-mode"),
    "integer_input": lambda m, F, x: F.jacobian(lambda a: a, m.arange(3)),
}


@pytest.mark.parametrize("case", ARG_ERRORS)
def test_argument_errors(case):
    # ember's requires_grad_ message on integer tensors differs from torch's (not this module).
    same_error(lambda m, F: ARG_ERRORS[case](m, F, m.tensor([1.0, 2.0, 3.0])),
               message=case != "integer_input")


def test_forward_mode_needs_vectorize():
    for m, F in ((ember, EF), (torch, TF)):
        with pytest.raises(NotImplementedError, match="vectorize=True"):
            F.jacobian(lambda a: a, m.ones(2), strategy="forward-mode")
        with pytest.raises(NotImplementedError, match="vectorize=True"):
            F.hessian(lambda a: a.sum(), m.ones(2), outer_jacobian_strategy="forward-mode")
