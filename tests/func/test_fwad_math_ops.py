"""Forward-mode rules (``jvp``) of the activations, products, ``ember.linalg`` and the special
functions against ``torch.autograd.forward_ad``: for each op class, dual inputs with random
tangents give the same primal and tangent (None for integer outputs)."""

import inspect
import warnings

import numpy as np
import pytest
import torch
import torch.autograd.forward_ad as tfw

import ember
import ember.autograd.forward_ad as efw
from ember._ops import activation, linalg
from ember.autograd import function as _function

F = "nn.functional"

# Inputs on the kinks of the piecewise activations (their one-sided choices are PyTorch's).
KINKS = np.array([[-3.0, -1.0, 0.0, 0.5], [1.0, 3.0, 25.0, -2.5], [-0.5, 2.0, -20.0, 6.0]])
CPLX = (np.arange(12).reshape(3, 4) * 0.3 - 1.5) + 1j * np.linspace(-1, 2, 12).reshape(3, 4)


def _f(m):
    return m.nn.functional


# name -> (fn(lib, *inputs), inputs[, tolerance]); an input is a shape (random float64) or
# an array. Float and complex inputs are made dual; an integer input is not.
CASES = {
    # -- activation.py: the elementwise family, on their kinks
    "hardtanh": (lambda m, x: (_f(m).hardtanh(x), _f(m).relu6(x * 3),
                               _f(m).hardtanh(x, -0.5, 2.0)), [KINKS]),
    "leaky_relu": (lambda m, x: (_f(m).leaky_relu(x), _f(m).leaky_relu(x, 0.3)), [KINKS]),
    "rrelu_eval": (lambda m, x: _f(m).rrelu(x, 0.1, 0.3), [KINKS]),
    "threshold": (lambda m, x: (_f(m).threshold(x, 1.0, 5.0), m.threshold(x, -1.0, 0.0)),
                  [KINKS]),
    "shrink": (lambda m, x: (_f(m).hardshrink(x, 1.0), _f(m).softshrink(x, 1.0),
                             x.hardshrink()), [KINKS]),
    "hardsigmoid_hardswish": (lambda m, x: (_f(m).hardsigmoid(x), _f(m).hardswish(x)),
                              [KINKS]),
    "elu": (lambda m, x: (_f(m).elu(x), _f(m).elu(x, 0.5), _f(m).selu(x),
                          _f(m).celu(x, 2.0)), [KINKS]),
    "gelu": (lambda m, x: (_f(m).gelu(x), _f(m).gelu(x, approximate="tanh")), [KINKS]),
    "silu_mish": (lambda m, x: (_f(m).silu(x), _f(m).mish(x)), [KINKS]),
    "softplus": (lambda m, x: (_f(m).softplus(x), _f(m).softplus(x, 2.0, 1.0),
                               _f(m).softplus(x, 0.5, 30.0)), [KINKS]),
    "logsigmoid": (lambda m, x: _f(m).logsigmoid(x), [KINKS]),
    "activation_0d": (lambda m, x: (_f(m).elu(x), _f(m).gelu(x), _f(m).hardswish(x),
                                    _f(m).leaky_relu(x)), [()]),
    "activation_empty": (lambda m, x: (_f(m).elu(x), _f(m).silu(x), _f(m).softplus(x)),
                         [(0, 3)]),
    "activation_float32": (lambda m, x: (_f(m).gelu(x.float()), _f(m).elu(x.float())),
                           [(3, 4)]),
    # -- activation.py: softmax family, GLU, PReLU
    "softmax": (lambda m, x: (m.softmax(x, 1), m.softmax(x, 0), x.softmax(-1),
                              _f(m).softmin(x, 1)), [(2, 3, 4)]),
    "log_softmax": (lambda m, x: (m.log_softmax(x, 1), x.log_softmax(0),
                                  _f(m).log_softmax(x, -1)), [(2, 3, 4)]),
    "softmax_large": (lambda m, x: (m.softmax(x * 400, 1), m.log_softmax(x * 400, 1)),
                      [(3, 4)]),
    "softmax_inf": (lambda m, x: (m.softmax(x, 1), m.log_softmax(x, 1)),
                    [np.array([[0.0, -np.inf, 1.0], [-np.inf, 2.0, -1.0]])]),
    "softmax_0d_empty": (lambda m, x, e: (m.softmax(x, 0), m.log_softmax(x, 0),
                                          m.softmax(e, 1), m.log_softmax(e, 0)),
                         [(), (0, 3)]),
    "softmax_dtype": (lambda m, x: (m.softmax(x.float(), 1, dtype=m.float64),
                                    m.log_softmax(x, 1, dtype=m.float32)), [(3, 4)]),
    "glu": (lambda m, x: (_f(m).glu(x), _f(m).glu(x, 0)), [(4, 6)]),
    "prelu": (lambda m, x, w: _f(m).prelu(x, w), [KINKS, (1,)]),
    "prelu_channels": (lambda m, x, w: _f(m).prelu(x, w), [(2, 3, 4), (3,)]),
    "prelu_weight_only": (lambda m, x, w: _f(m).prelu(x.detach(), w), [KINKS.T, (3,)]),
    "prelu_input_only": (lambda m, x, w: _f(m).prelu(x, w.detach()), [(2, 3), (1,)]),
    # -- _ops/linalg.py: products
    "matmul": (lambda m, a, b, v: (a @ b, m.mm(a, b), a @ v, v @ b, m.mv(a, v),
                                   m.dot(v, v), v @ v), [(3, 4), (4, 2), (4,)]),
    "matmul_batched": (lambda m, a, b, v: (a @ b, m.bmm(a, b), a @ v, v @ b,
                                           a @ b[0]), [(2, 3, 4), (2, 4, 3), (4,)]),
    "matmul_broadcast": (lambda m, a, b: m.matmul(a, b), [(2, 1, 3, 4), (3, 4, 2)]),
    "matmul_one_dual": (lambda m, a, b: (a.detach() @ b, a @ b.detach()), [(3, 4), (4, 2)]),
    "matmul_empty": (lambda m, a, b: (a @ b, b.t() @ a.t()), [(3, 0), (0, 2)]),
    "matmul_complex": (lambda m, a, b: (a @ b.t(), m.mm(a.t(), b), a[0] @ b[1], m.dot(a[0], b[1]),
                                        m.mv(a, b[0])), [CPLX, CPLX[::-1]]),
    "vdot": (lambda m, a, b: (m.vdot(a, b), m.linalg.vecdot(a, b)), [(4,), (4,)]),
    "vdot_complex": (lambda m, a, b: m.vdot(a, b), [CPLX[0], CPLX[1]]),
    "addmm": (lambda m, c, a, b: (m.addmm(c, a, b), m.addmm(c, a, b, beta=0.5, alpha=-2.0),
                                  m.addmm(c[0], a, b, beta=0), c.addmm(a, b)),
              [(3, 2), (3, 4), (4, 2)]),
    "addmm_one_dual": (lambda m, c, a, b: (m.addmm(c.detach(), a, b), m.addmm(c, a.detach(), b),
                                           m.addmm(c, a.detach(), b.detach(), alpha=3)),
                       [(1, 2), (3, 4), (4, 2)]),
    "addmm_complex": (lambda m, c, a, b: m.addmm(c, a, b, beta=0.5), [CPLX, CPLX[:, :3], CPLX]),
    "addmv": (lambda m, c, a, v: (m.addmv(c, a, v), m.addmv(c[:1], a, v, beta=2, alpha=0.5)),
              [(3,), (3, 4), (4,)]),
    "addr": (lambda m, c, u, v: (m.addr(c, u, v), m.addr(c[0], u, v, beta=-1, alpha=2)),
             [(3, 4), (3,), (4,)]),
    "baddbmm_addbmm": (lambda m, c, a, b: (m.baddbmm(c, a, b), m.baddbmm(c[0], a, b, alpha=2),
                                           m.addbmm(c[0], a, b, beta=0.5)),
                       [(2, 3, 2), (2, 3, 4), (2, 4, 2)]),
    "kron": (lambda m, a, b: (m.kron(a, b), m.kron(a[0], b)), [(2, 3), (3, 2)]),
    "kron_complex": (lambda m, a, b: m.kron(a, b), [CPLX[:2, :2], CPLX[1:, 2:]]),
    "trace": (lambda m, a, c: (m.trace(a), a.t().trace(), m.trace(c)), [(3, 4), CPLX]),
    "cross": (lambda m, a, b: (m.linalg.cross(a, b), m.cross(a.t(), b.t(), dim=0),
                               m.linalg.cross(a, b[:1])), [(4, 3), (4, 3)]),
    "cross_complex": (lambda m, a, b: m.linalg.cross(a, b), [CPLX[:, :3], CPLX[:, 1:]]),
    "products_composed": (lambda m, a, b: (m.inner(a, b), m.outer(a[0], b[1]),
                                           m.tensordot(a, b, ([1], [1])),
                                           m.linalg.multi_dot([a, b.t(), a])),
                          [(3, 4), (3, 4)]),
}


# Cases that also run rules defined outside these modules (the elementwise ops have theirs
# written apart): checked once those rules exist.
NEEDS = {"softmax": ["elementwise.Neg"], "vdot_complex": ["complex.Conj"],
         "vdot": ["elementwise.Mul"]}


def _missing_rules(name: str) -> list:
    import importlib
    missing = []
    for path in NEEDS.get(name, ()):
        mod, cls = path.rsplit(".", 1)
        op = getattr(importlib.import_module(f"ember._ops.{mod}"), cls, None)
        if op is None or op.jvp is _function.Function.jvp:
            missing.append(path)
    return missing


def _arrays(inputs, seed: int):
    rng = np.random.default_rng(seed)
    primals, tangents = [], []
    for spec in inputs:
        a = rng.standard_normal(spec) if isinstance(spec, tuple) else np.array(spec)
        primals.append(a)
        if a.dtype.kind == "c":
            tangents.append(rng.standard_normal(a.shape) + 1j * rng.standard_normal(a.shape))
        elif a.dtype.kind == "f":
            tangents.append(rng.standard_normal(a.shape))
        else:
            tangents.append(None)
    return primals, tangents


def _dual_run(m, fw, fn, primals, tangents):
    """``fn`` of the dual inputs: each output as (primal array, dtype name, tangent array or
    None), with the output's structure."""
    with fw.dual_level():
        xs = [m.tensor(p) if t is None else fw.make_dual(m.tensor(p), m.tensor(t))
              for p, t in zip(primals, tangents)]
        return _unpack(fw, fn(m, *xs))


def _unpack(fw, out):
    if isinstance(out, (tuple, list)):
        return [_unpack(fw, o) for o in out]
    p, t = fw.unpack_dual(out)
    return (p.detach().numpy().copy(), str(p.dtype).split(".")[-1],
            None if t is None else t.detach().numpy().copy())


def _same(e, t, tol: float, where=""):
    if isinstance(t, list):
        assert isinstance(e, list) and len(e) == len(t), where
        for i, (a, b) in enumerate(zip(e, t)):
            _same(a, b, tol, f"{where}[{i}]")
        return
    (ep, ed, et), (tp, td, tt) = e, t
    assert ed == td, f"{where}: dtype {ed} vs torch {td}"
    single = ed in ("float32", "complex64")
    ptol = 1e-5 if single else 1e-9
    np.testing.assert_allclose(ep, tp, rtol=ptol, atol=ptol * 1e-2, err_msg=f"{where} primal")
    assert (et is None) == (tt is None), f"{where}: tangent {et} vs torch {tt}"
    if tt is not None:
        assert et.shape == tt.shape and et.dtype == tt.dtype, f"{where}: {et.dtype} {tt.dtype}"
        ttol = max(tol, 1e-5) if single else tol
        np.testing.assert_allclose(et, tt, rtol=ttol, atol=ttol * 1e-2,
                                   err_msg=f"{where} tangent")


def _compare(name: str) -> None:
    fn, inputs, *tol = CASES[name]
    primals, tangents = _arrays(inputs, len(name))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = _dual_run(torch, tfw, fn, primals, tangents)
        got = _dual_run(ember, efw, fn, primals, tangents)
    _same(got, expected, tol[0] if tol else 1e-7, name)


@pytest.mark.parametrize("name", list(CASES))
def test_dual_matches_torch(name):
    if _missing_rules(name):
        pytest.skip(f"needs the rules of {_missing_rules(name)}")
    _compare(name)


def test_rrelu_training_tangent_is_the_noise():
    """rrelu's training slopes are random: the tangent is the tangent times the drawn slope
    (1 for x >= 0), read off the output itself."""
    x = ember.tensor(KINKS)
    with efw.dual_level():
        d = efw.make_dual(x, ember.ones_like(x))
        y = ember.nn.functional.rrelu(d, 0.1, 0.3, training=True)
        p, t = efw.unpack_dual(y)
    slope = np.where(KINKS == 0, 0.0, p.numpy() / np.where(KINKS == 0, 1.0, KINKS))
    expected = np.where(KINKS >= 0, 1.0, slope)
    np.testing.assert_allclose(t.numpy(), expected, rtol=1e-12)
    assert (t.numpy()[KINKS < 0] >= 0.1).all() and (t.numpy()[KINKS < 0] <= 0.3).all()


def test_tangent_stays_differentiable():
    """Reverse over forward: the tangents of nonlinear rules depend on the primal."""
    res = []
    for m, fw in ((ember, efw), (torch, tfw)):
        x = m.tensor(KINKS * 0.3 + 0.1, requires_grad=True)
        with fw.dual_level():
            d = fw.make_dual(x, m.ones(3, 4, dtype=m.float64))
            # (not softmax: PyTorch's rule writes in place what its backward needs)
            y = m.nn.functional.mish(d).sum() + m.nn.functional.logsigmoid(d).sum()
            y = y + m.nn.functional.gelu(d).sum() + m.nn.functional.elu(d).sum()
            tangent = fw.unpack_dual(y).tangent
        tangent.backward()
        res.append(x.grad.numpy())
    np.testing.assert_allclose(*res, rtol=1e-9)


# -- every op class has a rule -----------------------------------------------------------------
MODULES = (activation, linalg)

# Classes PyTorch gives no forward derivative: ember raises its error type and message.
NO_RULE: dict = {}


def _op_classes():
    for mod in MODULES:
        for name, cls in vars(mod).items():
            if (inspect.isclass(cls) and issubclass(cls, _function.Function)
                    and cls.__module__ == mod.__name__ and cls._array_forward):
                yield name, cls


# Bases only their subclasses apply (the subclasses have the rules).
BASES = {"_SoftmaxBase"}


def test_every_op_class_has_a_rule():
    missing = [name for name, cls in _op_classes()
               if cls.jvp is _function.Function.jvp and name not in set(NO_RULE) | BASES]
    assert not missing, missing


def test_every_op_class_is_checked():
    """Every op class of these modules runs its rule in some case above."""
    seen = set()

    def record(cls, args, kwargs, index):
        if any(efw.get_tangent(a) is not None for a in args):
            seen.add(cls)
        return NotImplemented

    _function.push_interceptor(record, -1)
    try:
        for name in CASES:
            if _missing_rules(name):
                continue
            fn, inputs, *_ = CASES[name]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _dual_run(ember, efw, fn, *_arrays(inputs, 0))
    finally:
        _function.pop_interceptor(record)
    # Reached otherwise: rrelu's training form (random), GLU backward's concatenation.
    elsewhere = {"RreluTrain", "RreluTrainInplace", "_Cat2"}
    # In-place forms: the same rule as their out-of-place class.
    inplace = {"EluInplace", "CeluInplace", "LeakyReluInplace", "ThresholdInplace",
               "RreluEvalInplace"}
    unchecked = [n for n, cls in _op_classes()
                 if cls not in seen and n not in elsewhere | inplace | set(NO_RULE)
                 and not n.startswith("_")]
    assert not unchecked, unchecked


def test_glu_backward_cat_rule():
    """GLU's backward concatenation (reached by forward over reverse) against torch.cat."""
    from ember._ops.activation import _Cat2
    primals, tangents = _arrays([(2, 3), (2, 1)], 3)
    _same(_dual_run(ember, efw, lambda m, a, b: _Cat2.apply(a, b, 1), primals, tangents),
          _dual_run(torch, tfw, lambda m, a, b: torch.cat([a, b], 1), primals, tangents),
          1e-12)
