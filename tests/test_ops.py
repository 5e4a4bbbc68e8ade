"""Op-table driven tests: every op's forward and gradients against PyTorch, and float64
gradcheck, over the samples in ``tests/op_db``."""

import numpy as np
import pytest
import torch

import ember
from tests.op_db import OP_DB

CASES = [(op, s) for op in OP_DB for s in op.samples]
IDS = [f"{op.name}-{s}" for op, s in CASES]
GRAD_CASES = [(op, s) for op, s in CASES if op.grad and not op.int_inputs]
GRAD_IDS = [f"{op.name}-{s}" for op, s in GRAD_CASES]


def _outputs(result):
    if isinstance(result, (tuple, list)):
        return [r for r in result if isinstance(r, (ember.Tensor, torch.Tensor))]
    return [result]


def _to_numpy(t):
    if isinstance(t, torch.Tensor):
        return t.detach().numpy()
    return t.detach().numpy()


def _assert_same(e, t, atol, rtol, what):
    en, tn = _to_numpy(e), _to_numpy(t)
    assert str(e.dtype).split(".")[-1] == str(t.dtype).split(".")[-1], \
        f"{what}: dtype {e.dtype} vs torch {t.dtype}"
    assert en.shape == tn.shape, f"{what}: shape {en.shape} vs torch {tn.shape}"
    if en.dtype.kind in "fc":
        np.testing.assert_allclose(en, tn, atol=atol, rtol=rtol, equal_nan=True, err_msg=what)
    else:
        np.testing.assert_array_equal(en, tn, err_msg=what)


def _inputs(op, sample, dtype, requires_grad):
    arrays = op.make_arrays(sample, dtype)
    # ember shares the (possibly transposed, non-contiguous) arrays; torch gets copies.
    e_in = [ember.from_numpy(a) for a in arrays]
    t_in = [torch.from_numpy(np.array(a, copy=True)) for a in arrays]
    if requires_grad:
        for x in e_in + t_in:
            x.requires_grad_(True)
    return e_in, t_in


@pytest.mark.parametrize("op,sample", CASES, ids=IDS)
def test_forward_matches_torch(op, sample):
    for dtype in (op.dtypes if not op.int_inputs else ("int64",)):
        e_in, t_in = _inputs(op, sample, dtype, requires_grad=False)
        e_out, t_out = _outputs(op.fn(ember, *e_in)), _outputs(op.fn(torch, *t_in))
        assert len(e_out) == len(t_out)
        tol = (op.atol, op.rtol) if dtype == "float64" else (max(op.atol, 1e-5),
                                                              max(op.rtol, 1e-5))
        for i, (e, t) in enumerate(zip(e_out, t_out)):
            _assert_same(e, t, *tol, f"{op.name} output {i} ({dtype})")


@pytest.mark.parametrize("create_graph", [False, True], ids=["plain", "create_graph"])
@pytest.mark.parametrize("op,sample", GRAD_CASES, ids=GRAD_IDS)
def test_gradients_match_torch(op, sample, create_graph):
    """Both engine paths: bare-array gradients (plain) and recorded Tensor gradients."""
    e_in, t_in = _inputs(op, sample, "float64", requires_grad=True)
    e_out, t_out = _outputs(op.fn(ember, *e_in)), _outputs(op.fn(torch, *t_in))
    rng = np.random.default_rng(1)
    e_loss, t_loss = 0, 0
    for e, t in zip(e_out, t_out):
        assert e.requires_grad == t.requires_grad, f"{op.name}: requires_grad differs"
        if not t.requires_grad:
            continue
        assert (e.grad_fn is None) == (t.grad_fn is None)
        if e.grad_fn is not None:
            # The node's class name (what type() and repr show) and name() both match.
            e_node, t_node = type(e.grad_fn).__name__, type(t.grad_fn).__name__
            assert e_node == t_node, f"{op.name}: type(grad_fn) {e_node} vs torch {t_node}"
            assert e.grad_fn.name() == t.grad_fn.name(), \
                f"{op.name}: grad_fn {e.grad_fn.name()} vs torch {t.grad_fn.name()}"
        w = rng.standard_normal(tuple(t.shape))
        e_loss = e_loss + (e * ember.from_numpy(w)).sum()
        t_loss = t_loss + (t * torch.from_numpy(w)).sum()
    if not isinstance(t_loss, torch.Tensor):
        # No output needs a gradient under torch (e.g. combinations(r=0)): ember must agree.
        assert not any(e.requires_grad for e in e_out), f"{op.name}: ember output needs grad"
        return
    e_loss.backward(create_graph=create_graph)
    t_loss.backward()
    for i, (e, t) in enumerate(zip(e_in, t_in)):
        if t.grad is None:
            assert e.grad is None or not np.any(e.grad.detach().numpy()), \
                f"{op.name}: unexpected grad"
            continue
        assert e.grad is not None, f"{op.name}: no gradient for input {i}"
        _assert_same(e.grad, t.grad, op.grad_atol, op.grad_rtol, f"{op.name} grad of input {i}")


SMALL = [(op, s) for op, s in GRAD_CASES
         if op.gradcheck and sum(int(np.prod(sh)) for sh in s.shapes) <= 40]


@pytest.mark.parametrize("op,sample", SMALL, ids=[f"{op.name}-{s}" for op, s in SMALL])
def test_gradcheck(op, sample):
    arrays = op.make_arrays(sample, "float64", seed=2)
    inputs = [ember.from_numpy(a).requires_grad_() for a in arrays]

    def fn(*xs):
        return tuple(o for o in _outputs(op.fn(ember, *xs)) if o.dtype.is_floating_point)

    assert ember.autograd.gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3)


FWAD_CASES = [(op, s) for op, s in GRAD_CASES if op.forward_ad]


def _dense(t):
    """A tangent as a NumPy array (None: no tangent; PyTorch's zero tensors become zeros)."""
    if t is None:
        return None
    if isinstance(t, torch.Tensor):
        if t._is_zerotensor():
            return np.zeros(tuple(t.shape), dtype=str(t.dtype).split(".")[-1])
        return t.detach().resolve_conj().resolve_neg().numpy()
    return t.detach().numpy()


@pytest.mark.parametrize("op,sample", FWAD_CASES, ids=[f"{op.name}-{s}" for op, s in FWAD_CASES])
def test_forward_ad_matches_torch(op, sample):
    """Forward mode: every float input made dual with a random tangent; the output's primal
    and tangent (the Jacobian-vector product) match ``torch.autograd.forward_ad``."""
    import torch.autograd.forward_ad as tfw

    import ember.autograd.forward_ad as efw

    arrays = op.make_arrays(sample, "float64")
    if op.forward_ad_oracle == "finite_differences":
        inputs = [ember.from_numpy(np.array(a)).requires_grad_() for a in arrays]

        def fn(*xs):
            return tuple(o for o in _outputs(op.fn(ember, *xs)) if o.dtype.is_floating_point)

        assert ember.autograd.gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3,
                                        check_forward_ad=True, check_backward_ad=False)
        return
    rng = np.random.default_rng(3)
    tangents = [rng.standard_normal(a.shape) for a in arrays]
    results = {}
    for lib, fw in ((ember, efw), (torch, tfw)):
        with fw.dual_level():
            duals = [fw.make_dual(lib.from_numpy(np.array(a)), lib.from_numpy(t))
                     for a, t in zip(arrays, tangents)]
            outs = _outputs(op.fn(lib, *duals))
            results[lib] = [(o.detach().numpy(), _dense(fw.unpack_dual(o).tangent))
                            if o.dtype.is_floating_point or o.dtype.is_complex
                            else (o.detach().numpy(), None) for o in outs]
    assert len(results[ember]) == len(results[torch])
    for i, ((ep, et), (tp, tt)) in enumerate(zip(results[ember], results[torch])):
        np.testing.assert_allclose(ep, tp, atol=op.atol, rtol=op.rtol, equal_nan=True,
                                   err_msg=f"{op.name} output {i} primal")
        if tt is None or et is None:
            other = et if tt is None else tt
            assert other is None or not np.any(other), \
                f"{op.name} output {i}: tangent {'missing' if et is None else 'unexpected'}"
            continue
        assert et.shape == tt.shape, f"{op.name} output {i}: tangent shape {et.shape} vs {tt.shape}"
        np.testing.assert_allclose(et, tt, atol=op.grad_atol, rtol=op.grad_rtol, equal_nan=True,
                                   err_msg=f"{op.name} output {i} tangent")


NO_FWAD_CASES = [(op, op.samples[0]) for op in OP_DB if op.grad and not op.forward_ad]


@pytest.mark.parametrize("op,sample", NO_FWAD_CASES, ids=[op.name for op, _ in NO_FWAD_CASES])
def test_forward_ad_refused_like_torch(op, sample):
    """Where PyTorch has no forward-mode formula, ember raises its NotImplementedError too
    (never a silently wrong or missing tangent)."""
    import torch.autograd.forward_ad as tfw

    import ember.autograd.forward_ad as efw

    arrays = op.make_arrays(sample, "float64")
    for lib, fw in ((torch, tfw), (ember, efw)):
        with fw.dual_level():
            duals = [fw.make_dual(lib.from_numpy(np.array(a)), lib.ones(a.shape, dtype=lib.float64))
                     for a in arrays]
            with pytest.raises(NotImplementedError, match="Trying to use forward AD with"):
                op.fn(lib, *duals)


def test_every_differentiable_op_has_a_forward_rule():
    """Each op class that records a backward also has a forward-mode rule (``jvp``), so no op
    table entry, ``jvp`` or ``jacfwd`` falls back to reverse mode."""
    import importlib
    import pkgutil

    import ember.autograd.function as F

    for info in pkgutil.walk_packages(ember.__path__, "ember."):  # define every op class
        if not info.name.startswith(("ember.examples", "ember.distributed", "ember.onnx")):
            importlib.import_module(info.name)

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    # Internal helpers that are not ops a user calls, base classes, and the nodes of
    # ember.compile's replayed programs (a compiled call runs eagerly under forward AD).
    internal = {"ember.autograd.function._InternalOp", "ember.autograd.forward_ad._Alias"}
    missing = sorted({f"{c.__module__}.{c.__qualname__}" for c in subclasses(F.Function)
                      if c._array_forward and c.jvp is F.Function.jvp
                      and not c.__qualname__.startswith("_")
                      and not c.__module__.startswith("ember._compile")} - internal)
    assert not missing, f"op classes without a forward-mode rule: {missing}"
