"""The per-call fast paths of ember.compile (issue 15): typed constants, the generated
node edges and the engine's fast root, and the fast path of ``ember.tensor``."""

import numpy as np
import pytest
import torch

import ember


def _np(t):
    return t.detach().numpy()


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_tensor_from_float_list_matches_torch(dtype):
    values = [0.1, -2.5, 1e-8, 3.4028235e38, float("inf"), float("nan"), 1 / 3]
    old_e, old_t = ember.get_default_dtype(), torch.get_default_dtype()
    ember.set_default_dtype(getattr(ember, dtype))
    torch.set_default_dtype(getattr(torch, dtype))
    try:
        with np.errstate(over="ignore"):
            e = ember.tensor(values, requires_grad=True)
        t = torch.tensor(values, requires_grad=True)
    finally:
        ember.set_default_dtype(old_e)
        torch.set_default_dtype(old_t)
    assert str(e.dtype) == str(t.dtype).replace("torch", "ember")
    assert e.requires_grad and e.is_leaf and e.grad is None
    np.testing.assert_array_equal(_np(e), t.detach().numpy())
    assert _np(e).flags.writeable and _np(e).flags.c_contiguous


@pytest.mark.parametrize("data", [[1.0, 2], [1.0, True], [[1.0, 2.0]], [], [np.float64(1), 2.0],
                                  [1.0, 2.0]])
def test_tensor_from_mixed_lists_keeps_the_inferred_dtype(data):
    e, t = ember.tensor(data), torch.tensor(data)
    assert str(e.dtype) == str(t.dtype).replace("torch", "ember")
    assert tuple(e.shape) == tuple(t.shape)
    np.testing.assert_array_equal(_np(e), t.numpy())


def test_tensor_from_float_list_with_dtype_and_int_request():
    assert ember.tensor([1.5, 2.5], dtype=ember.float64).dtype == ember.float64
    with pytest.raises(RuntimeError, match="floating point"):
        ember.tensor([1, 2], requires_grad=True)
    data = [1.0, 2.0]
    e = ember.tensor(data)
    data[0] = 5.0  # a copy of the list's values
    assert e[0].item() == 1.0


CONSTS = [2, 0.1, -3.7, 1e30, 7, 1e-45]


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("c", CONSTS)
def test_number_operands_give_eager_results(dtype, c):
    def f(x):
        return ((x * c + c) / c - c).tanh().sum() + (c - x).mean()

    rng = np.random.default_rng(1)
    data = rng.standard_normal(7).astype(dtype)
    cf = ember.compile(f)
    for _ in range(3):  # trace, then replays
        xe = ember.tensor(data, requires_grad=True)
        xc = ember.tensor(data, requires_grad=True)
        with np.errstate(all="ignore"):
            le, lc = f(xe), cf(xc)
            le.backward()
            lc.backward()
        np.testing.assert_array_equal(_np(le), _np(lc))
        np.testing.assert_array_equal(_np(xe.grad), _np(xc.grad))
    assert lc.grad_fn.name() == "CompiledFunctionBackward"


def test_zero_dim_inputs_and_sums_stay_arrays():
    f = ember.compile(lambda x: (x * 3 + 1).sum() * 2.5)
    for _ in range(3):
        x = ember.tensor(1.25, requires_grad=True)
        out = f(x)
        out.backward()
    assert out.shape == () and type(out.numpy(force=True)) is np.ndarray
    assert out.item() == (1.25 * 3 + 1) * 2.5 and x.grad.item() == 7.5


def test_grad_is_fresh_then_accumulates_in_place_like_eager():
    f = ember.compile(lambda x: (x * 2 + 5).sum())
    for _ in range(2):
        f(ember.ones(3, requires_grad=True))  # trace and generate
    x = ember.ones(3, requires_grad=True)
    f(x).backward()
    g = x.grad
    g.mul_(10)  # writing the first .grad must not change the next step's gradient
    y = ember.ones(3, requires_grad=True)
    f(y).backward()
    np.testing.assert_array_equal(_np(y.grad), [2, 2, 2])
    f(x).backward()  # accumulates into the same tensor, as eager does
    assert x.grad is g
    np.testing.assert_array_equal(_np(x.grad), [22, 22, 22])
    xt = torch.ones(3, requires_grad=True)
    (xt * 2 + 5).sum().backward()
    gt = xt.grad
    (xt * 2 + 5).sum().backward()
    assert xt.grad is gt


def test_edges_to_non_leaves_go_through_the_engine():
    f = ember.compile(lambda x, w: (x * w + 1).sum())
    w = ember.ones(3, requires_grad=True)
    for _ in range(3):
        base = ember.tensor([1.0, 2.0, 3.0], requires_grad=True)
        x = base * 2  # not a leaf: the node's edge is x's grad_fn
        f(x, w).backward()
        np.testing.assert_array_equal(_np(base.grad), [2, 2, 2])
    xs = ember.tensor([1.0, 2.0, 3.0], requires_grad=True)
    out = f(xs, w)
    assert [type(n).__name__ for n, _ in out.grad_fn.next_functions] == [
        "AccumulateGrad", "AccumulateGrad"]
    assert out.grad_fn.next_functions[0][0].variable is xs


def test_leaf_hooks_and_retain_graph_on_the_fast_root():
    f = ember.compile(lambda x: (x * 2 + 5).sum())
    for _ in range(2):
        f(ember.ones(3, requires_grad=True))
    x = ember.ones(3, requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g.clone()) or g * 3)
    out = f(x)
    out.backward(retain_graph=True)
    out.backward()
    assert len(seen) == 2
    np.testing.assert_array_equal(_np(x.grad), [12, 12, 12])
    with pytest.raises(RuntimeError, match="second time"):
        out.backward()


@pytest.mark.parametrize("fn", [lambda x: x.clone().sum(), lambda x: (x.abs() * 2).sum(),
                                lambda x: x.clamp(-5, 5).mean()])
def test_grads_of_generic_ops_are_arrays_of_their_own(fn):
    # An op without a generated formula runs its own backward, which may hand back an
    # array the program keeps (a folded constant): .grad must never share it.
    f = ember.compile(fn)
    for _ in range(2):
        f(ember.ones(4, requires_grad=True)).backward()
    x = ember.ones(4, requires_grad=True)
    f(x).backward()
    expect = _np(x.grad).copy()
    x.grad.mul_(100)
    y = ember.ones(4, requires_grad=True)
    f(y).backward()
    np.testing.assert_array_equal(_np(y.grad), expect)
    big = ember.ones(300, 40, requires_grad=True)
    g = ember.compile(lambda w: (w.abs() * 3).sum())
    for _ in range(3):
        big.grad = None
        g(big).backward()
    np.testing.assert_array_equal(_np(big.grad), np.full((300, 40), 3, np.float32))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("targets", [[0, 2, 1, 2, 0], [0, -100, 1, -100, 2],
                                     [-100] * 5, [3, 3, 3, 3, 3]])
def test_cross_entropy_written_out_matches_eager(dtype, targets):
    rng = np.random.default_rng(2)
    data = rng.standard_normal((5, 4)).astype(dtype)
    y = ember.tensor(targets)

    def f(x, y):
        return ember.nn.functional.cross_entropy(x * 1.5, y)

    cf = ember.compile(f)
    for _ in range(3):
        xe, xc = (ember.tensor(data, requires_grad=True) for _ in range(2))
        le, lc = f(xe, y), cf(xc, y)
        le.backward()
        lc.backward()
        np.testing.assert_array_equal(_np(le), _np(lc))
        np.testing.assert_array_equal(_np(xe.grad), _np(xc.grad))
    assert "_ce_mean(" in ember._compile.generated_code(cf)
    xt = torch.tensor(data, requires_grad=True)
    lt = torch.nn.functional.cross_entropy(xt * 1.5, torch.tensor(targets))
    lt.backward()
    np.testing.assert_allclose(_np(lc), lt.detach().numpy(), rtol=1e-5, equal_nan=True)
    np.testing.assert_allclose(_np(xc.grad), xt.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_cross_entropy_bad_target_raises_on_replay_too():
    f = ember.compile(lambda x, y: ember.nn.functional.cross_entropy(x, y))
    x = ember.ones(3, 4, requires_grad=True)
    for _ in range(2):
        f(x, ember.tensor([0, 1, 2]))
    with pytest.raises(IndexError, match="out of bounds"):
        f(x, ember.tensor([0, 7, 2]))
    with pytest.raises(IndexError, match="out of bounds"):
        ember.nn.functional.cross_entropy(x, ember.tensor([0, 7, 2]))


@pytest.mark.parametrize("dtype", [ember.float16, ember.float32])
@pytest.mark.parametrize("c", [2**70, 2**200, -(2**64)])
def test_numbers_out_of_the_dtype_range_give_eager_results(dtype, c):
    f = ember.compile(lambda x: (x * c + c).sum())
    for _ in range(3):
        x = ember.ones(3, dtype=dtype, requires_grad=True)
        with np.errstate(all="ignore"):
            out = f(x)
            expect = (ember.ones(3, dtype=dtype) * c + c).sum()
        np.testing.assert_array_equal(_np(out), _np(expect))
