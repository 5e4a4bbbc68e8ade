"""What the op table cannot express: ``__setitem__`` under autograd, views sharing storage
and version counters, in-place changes to saved tensors, and error types and messages --
each checked against PyTorch."""

import numpy as np
import pytest
import torch

import ember
from tests.parity import same_error

LIBS = (ember, torch)


def _arr(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _leaf(lib, shape, seed=0):
    return lib.tensor(_arr(shape, seed), requires_grad=True)


def _is_view(t) -> bool:
    # ember's Tensor._is_view is a property; PyTorch's is a method.
    return t._is_view() if isinstance(t, torch.Tensor) else t._is_view


def _node(t) -> str:
    # PyTorch prefixes a few C++ nodes with their namespace ("torch::autograd::CopySlices").
    return t.grad_fn.name().split("::")[-1] if t.grad_fn is not None else None


def _run(fn, *shapes):
    """Run ``fn(lib, *leaves)`` under both libraries and backprop a weighted sum; returns the
    results and each leaf's gradient."""
    out = {}
    for lib in LIBS:
        leaves = [_leaf(lib, s, i) for i, s in enumerate(shapes)]
        result = fn(lib, *leaves)
        w = lib.tensor(_arr(tuple(result.shape), 9))
        (result * w).sum().backward()
        out[lib] = (result, [x.grad for x in leaves])
    return out


def _check(fn, *shapes, node=True):
    out = _run(fn, *shapes)
    (er, eg), (tr, tg) = out[ember], out[torch]
    np.testing.assert_allclose(er.detach().numpy(), tr.detach().numpy(), rtol=1e-12)
    if node:
        assert _node(er) == _node(tr)
    for i, (e, t) in enumerate(zip(eg, tg)):
        if t is None:
            assert e is None or not np.any(e.numpy()), f"unexpected gradient for input {i}"
        else:
            np.testing.assert_allclose(e.numpy(), t.numpy(), rtol=1e-12, err_msg=f"input {i}")


def test_functions_and_tensor_methods_exist_where_torch_has_them():
    from ember._ops import indexing, joining, shape
    names = {n for m in (shape, joining, indexing) for n in m.__all__} | {
        "unfold", "repeat", "expand_as", "view_as", "reshape_as", "contiguous", "t_",
        "transpose_", "squeeze_", "unsqueeze_", "scatter_", "scatter_add_", "scatter_reduce_",
        "index_add_", "index_fill_", "index_copy_", "masked_fill_", "masked_scatter_",
        "index_put_", "tril_", "triu_"}
    for name in sorted(names):
        if hasattr(torch.Tensor, name):
            assert hasattr(ember.Tensor, name), f"Tensor.{name}"
        if name != "one_hot" and hasattr(torch, name) and not name.endswith("_"):
            assert hasattr(ember, name), f"ember.{name}"
    assert hasattr(ember, "one_hot")


# -- __setitem__ under autograd ---------------------------------------------------------------
def _setitem(key_fn):
    def fn(lib, a, v):
        x = a * 2
        x[key_fn(lib)] = v
        return x
    return fn


SET_CASES = [
    ("int", lambda lib: 1, (4,)),
    ("int_scalar_value", lambda lib: (1, 2), ()),
    ("slice_broadcast", lambda lib: (slice(None), slice(1, 3)), (3, 1)),
    ("negative_step_slice", lambda lib: slice(None, None, 2), (4,)),
    ("list_broadcast", lambda lib: [0, 2], (4,)),
    ("tensor_pair", lambda lib: (lib.tensor([0, 2]), lib.tensor([3, 1])), (2,)),
    ("mask", lambda lib: lib.tensor([[True, False, True, False]] * 3), ()),
    ("row_mask", lambda lib: lib.tensor([True, False, True]), (1, 4)),
    ("mixed_slice_tensor", lambda lib: (slice(1, None), lib.tensor([0, 3])), (2, 1)),
    ("int_and_tensor", lambda lib: (2, lib.tensor([0, 3])), ()),
    ("full_slice_tensor", lambda lib: (slice(None), lib.tensor([0, 3])), (3, 2)),
    ("none_tensor", lambda lib: (None, lib.tensor([1])), (4,)),
    ("zero_dim_index", lambda lib: lib.tensor(1), (4,)),
    ("ellipsis", lambda lib: (Ellipsis, 0), (3,)),
]


@pytest.mark.parametrize("name,key_fn,vshape", SET_CASES, ids=[c[0] for c in SET_CASES])
def test_setitem_non_leaf_target_and_value_gradients(name, key_fn, vshape):
    _check(_setitem(key_fn), (3, 4), vshape)


def test_setitem_into_fresh_tensor():
    def fn(lib, y):
        x = lib.zeros(3, dtype=lib.float64)
        x[0] = y * 2
        x[2] = y.exp()
        return x
    _check(fn, ())


def test_setitem_fresh_tensor_advanced_accumulating_value_grad():
    def fn(lib, v):
        x = lib.zeros(4, 2, dtype=lib.float64)
        x[lib.tensor([3, 0])] = v  # v broadcasts over both rows
        return x
    _check(fn, (2,))


def test_setitem_through_view_of_non_leaf_updates_base_gradient():
    def fn(lib, a, v):
        y = a * 3
        view = y[1:].t()       # a view of a view
        view[0] = v            # writes y[1:, 0]
        y[1:].t()[:, 1] *= 2   # in place through a fresh view of the written base
        return y
    _check(fn, (3, 4), (2,))


def test_stale_view_after_write_to_base():
    def fn(lib, a, v):
        y = a * 3
        view = y[1:]
        view[:, 0] = v
        view[1].mul_(2)        # ``view`` was made before the write above
        return y
    _check(fn, (3, 4), (2,))


def test_setitem_through_view_with_advanced_key():
    def fn(lib, a, v):
        y = a * 3
        row = y[1]
        row[lib.tensor([0, 2])] = v
        return y
    _check(fn, (3, 4), (2,))


def test_setitem_through_diagonal_and_narrow_views():
    def fn(lib, a, v, w):
        y = a * 1
        y.diagonal()[:] = v
        y.narrow(1, 2, 2)[0] = w
        return y
    _check(fn, (3, 4), (3,), (2,))


def test_setitem_value_dtype():
    for lib in LIBS:
        x = lib.zeros(3)
        x[0:2] = lib.tensor([1, 2])   # a basic write converts the values
        x[[2]] = 3                    # so does a Python number
        assert x.dtype == lib.float32 and x.tolist() == [1.0, 2.0, 3.0]
    _same_error(lambda lib: lib.zeros(3).__setitem__([0], lib.tensor([1])))


def test_setitem_on_leaf_requiring_grad_raises():
    for key in (0, [0], (slice(None), 1)):
        msgs = []
        for lib in LIBS:
            x = lib.zeros(3, 2, requires_grad=True)
            with pytest.raises(RuntimeError) as info:
                x[key] = 1.0
            msgs.append(str(info.value))
        assert msgs[0] == msgs[1]


def test_setitem_bumps_version_like_torch():
    versions = []
    for lib in LIBS:
        x = lib.zeros(3, 4)
        v = x[1]
        x[0] = 1.0
        x[lib.tensor([1, 2])] = 2.0
        v[0] = 3.0
        versions.append((x._version, v._version))
        assert x[1, 0].item() == 3.0
    assert versions[0] == versions[1]


def test_in_place_twins_match_torch():
    def fn(lib, a, s):
        y = a * 1
        i = lib.tensor([[2, 0, 1, 0]])
        y.scatter_(0, i, s)
        y.scatter_add_(0, i, s)
        y.index_add_(1, lib.tensor([3, 3]), a[:, :2] * s[:, :2])
        y.index_fill_(0, lib.tensor([1]), 0.5)
        y.masked_fill_(y > 1, -1.0)
        y.index_copy_(0, lib.tensor([2]), s * 4)
        y.masked_scatter_(y < 0, s.expand(3, 4))
        y.index_put_((lib.tensor([0, 0]),), s[0], accumulate=True)
        return y
    _check(fn, (3, 4), (1, 4))


# -- second derivatives -----------------------------------------------------------------------
@pytest.mark.parametrize("name", ["gather", "index_select", "getitem", "masked_select",
                                  "scatter_reduce_amax", "diagonal", "repeat", "cat"])
def test_double_backward_matches_torch(name):
    def fn(lib, a):
        i = lib.tensor([[1, 0, 1], [2, 2, 0]])
        return {"gather": lambda: a.gather(0, i),
                "index_select": lambda: a.index_select(1, lib.tensor([2, 2, 0])),
                "getitem": lambda: a[lib.tensor([1, 1]), 1:],
                "masked_select": lambda: a.masked_select(a > 0),
                "scatter_reduce_amax": lambda: a.scatter_reduce(0, i, a[:2] * 2, "amax"),
                "diagonal": lambda: a.diagonal(1),
                "repeat": lambda: a.repeat(2, 1),
                "cat": lambda: lib.cat([a, a[:1]])}[name]()
    grads = []
    for lib in LIBS:
        a = _leaf(lib, (3, 3))
        y = fn(lib, a)
        g, = lib.autograd.grad((y ** 3).sum(), a, create_graph=True)
        gg, = lib.autograd.grad((g * g).sum(), a)
        grads.append((g.detach().numpy(), gg.numpy()))
    np.testing.assert_allclose(grads[0][0], grads[1][0], rtol=1e-10)
    np.testing.assert_allclose(grads[0][1], grads[1][1], rtol=1e-10)


# -- views: storage and version counter -------------------------------------------------------
VIEWS = [
    ("narrow", lambda x: x.narrow(1, 1, 2)),
    ("select", lambda x: x.select(0, 1)),
    ("movedim", lambda x: x.movedim(0, 1)),
    ("diagonal", lambda x: x.diagonal()),
    ("unfold", lambda x: x.unfold(1, 2, 1)),
    ("as_strided", lambda x: x.as_strided((2, 2), (1, 4))),
    ("unflatten", lambda x: x.unflatten(1, (2, 2))),
    ("split", lambda x: x.split(2, 1)[1]),
    ("chunk", lambda x: x.chunk(2)[0]),
    ("unbind", lambda x: x.unbind(1)[3]),
    ("tensor_split", lambda x: x.tensor_split(2, 1)[1]),
    ("expand_as", lambda x: x[:1].expand_as(x)),
    ("broadcast_to", lambda x: x[0].broadcast_to((2, 3, 4))),
    ("t", lambda x: x.t()),
    ("ravel", lambda x: x.ravel()),
    ("getitem", lambda x: x[1:, None, ::2]),
]


@pytest.mark.parametrize("name,view", VIEWS, ids=[v[0] for v in VIEWS])
def test_views_share_storage_and_version(name, view):
    seen = []
    for lib in LIBS:
        x = lib.arange(12.0).reshape(3, 4)
        v = view(x)
        assert _is_view(v)
        before = v.clone()
        x.mul_(2)  # visible through the view; one version bump shared by both
        np.testing.assert_array_equal(v.numpy(), before.numpy() * 2)
        seen.append((x._version, v._version, tuple(v.shape)))
    assert seen[0] == seen[1]


def test_writes_through_views_reach_the_base():
    for lib in LIBS:
        x = lib.zeros(3, 4)
        x.select(1, 2).fill_(1.0)
        x.diagonal(1)[:] = 2.0
        x.split(2)[1][0, 0] = 3.0
        x.unbind(0)[0][0] = 4.0
        x.narrow(0, 1, 1).add_(0.5)
        if lib is ember:
            result = x.numpy().copy()
        else:
            np.testing.assert_array_equal(result, x.numpy())


def test_copies_do_not_share_storage():
    for lib in LIBS:
        x = lib.arange(6.0).reshape(2, 3)
        for y in (x.flip(0), x.roll(1), x.rot90(), x.repeat(1, 1), x.tril(), x.gather(
                0, lib.tensor([[0, 1, 0]])), x.contiguous().t().contiguous(), x[[0]]):
            y.zero_()
        assert x.sum().item() == 15.0


def test_in_place_view_ops_change_shape_and_version():
    for lib in LIBS:
        x = lib.arange(6.0).reshape(2, 3)
        x.t_()
        x.unsqueeze_(0)
        x.squeeze_(0)
        x.transpose_(0, 1)
        assert tuple(x.shape) == (2, 3) and x._version == 4
    with pytest.raises(RuntimeError, match="leaf Variable"):
        ember.zeros(2, 3, requires_grad=True).t_()


def test_in_place_view_op_on_non_leaf_keeps_gradient():
    def fn(lib, a):
        y = a * 2
        y.t_()
        y.unsqueeze_(1)
        return y
    _check(fn, (2, 3))


# -- saved tensors modified in place ----------------------------------------------------------
SAVED = [
    ("scatter_reduce_prod", lambda lib, y: y.scatter_reduce(0, lib.tensor([0, 0]), y[:2], "prod"),
     lambda lib, y: y.index_fill_(0, lib.tensor([2]), 0.0)),
    ("amax_then_setitem", lambda lib, y: y.scatter_reduce(0, lib.tensor([1, 1]), y[:2], "amax"),
     lambda lib, y: y.__setitem__(lib.tensor([0]), 1.0)),
    ("mul_then_masked_fill", lambda lib, y: y * y, lambda lib, y: y.masked_fill_(y > 0, 1.0)),
    ("gather_then_scatter", lambda lib, y: y.exp().gather(0, lib.tensor([1, 1])),
     lambda lib, y: y),  # no change: must not raise
]


@pytest.mark.parametrize("name,use,modify", SAVED, ids=[s[0] for s in SAVED])
def test_in_place_change_to_saved_tensor_raises_at_backward(name, use, modify):
    raised = []
    for lib in LIBS:
        a = lib.tensor([0.5, -1.0, 2.0], requires_grad=True)
        y = a * 1
        out = use(lib, y)
        modify(lib, y)
        try:
            out.sum().backward()
            raised.append(False)
        except RuntimeError as e:
            assert "modified by an inplace operation" in str(e)
            raised.append(True)
    assert raised[0] == raised[1]


# -- errors -----------------------------------------------------------------------------------
def _same_error(fn, prefix: str | None = None):
    same_error(fn, prefix=prefix)


def _x(lib):
    return lib.arange(12.0).reshape(3, 4)


ERRORS = [
    ("index_out_of_range", lambda lib: _x(lib)[3]),
    ("index_out_of_range_dim1", lambda lib: _x(lib)[0, -5]),
    ("advanced_index_out_of_range", lambda lib: _x(lib)[[0, 5]]),
    ("tensor_index_out_of_range", lambda lib: _x(lib)[lib.tensor([0, -4])]),
    ("float_index", lambda lib: _x(lib)[lib.tensor([0.0])]),
    ("float_index_pair", lambda lib: _x(lib)[0, lib.tensor([1.5])]),
    ("zero_dim_int_index", lambda lib: lib.tensor(1.0)[0]),
    ("setitem_out_of_range", lambda lib: _x(lib).__setitem__([3], 1.0)),
    ("setitem_shape_mismatch", lambda lib: _x(lib).__setitem__([0, 1], lib.ones(5))),
    ("cat_mismatched_shapes", lambda lib: lib.cat([_x(lib), lib.zeros(2, 3)])),
    ("cat_mismatched_shapes_dim1", lambda lib: lib.cat([_x(lib), lib.zeros(2, 3)], 1)),
    ("cat_ndim", lambda lib: lib.cat([_x(lib), lib.zeros(4)])),
    ("cat_zero_dim", lambda lib: lib.cat([lib.tensor(1.0), lib.tensor(2.0)])),
    ("cat_empty_list", lambda lib: lib.cat([])),
    ("cat_bad_dim", lambda lib: lib.cat([_x(lib), _x(lib)], 2)),
    ("stack_mismatch", lambda lib: lib.stack([_x(lib), lib.zeros(2, 3)])),
    ("stack_empty", lambda lib: lib.stack([])),
    ("split_bad_sizes", lambda lib: lib.zeros(5).split([2, 2])),
    ("split_zero", lambda lib: lib.zeros(5).split(0)),
    ("chunk_zero", lambda lib: lib.zeros(5).chunk(0)),
    ("tensor_split_0d", lambda lib: lib.tensor(1.0).tensor_split(2)),
    ("unbind_0d", lambda lib: lib.tensor(1.0).unbind()),
    ("movedim_lengths", lambda lib: _x(lib).movedim((0, 1), (0,))),
    ("movedim_repeated", lambda lib: _x(lib).movedim((0, 0), (0, 1))),
    ("narrow_too_long", lambda lib: _x(lib).narrow(1, 3, 2)),
    ("narrow_0d", lambda lib: lib.tensor(1.0).narrow(0, 0, 1)),
    ("select_out_of_range", lambda lib: _x(lib).select(1, 4)),
    ("select_0d", lambda lib: lib.tensor(1.0).select(0, 0)),
    ("unflatten_bad", lambda lib: _x(lib).unflatten(1, (3, -1))),
    ("unfold_too_big", lambda lib: _x(lib).unfold(1, 5, 1)),
    ("unfold_step", lambda lib: _x(lib).unfold(1, 2, 0)),
    ("as_strided_out_of_bounds", lambda lib: lib.zeros(4).as_strided((3, 3), (1, 2))),
    ("broadcast_shapes", lambda lib: lib.broadcast_shapes((2, 3), (4,))),
    ("broadcast_tensors", lambda lib: lib.broadcast_tensors(lib.zeros(2, 3), lib.zeros(4))),
    ("diagonal_same_dims", lambda lib: _x(lib).diagonal(0, 1, 1)),
    ("diag_3d", lambda lib: lib.zeros(2, 2, 2).diag()),
    ("tril_1d", lambda lib: lib.zeros(3).tril()),
    ("rot90_1d", lambda lib: lib.zeros(3).rot90()),
    ("rot90_same_dims", lambda lib: _x(lib).rot90(1, (0, 0))),
    ("rot90_three_dims", lambda lib: _x(lib).rot90(1, (0, 1, 1))),
    ("flip_repeated", lambda lib: _x(lib).flip(0, 0)),
    ("fliplr_1d", lambda lib: lib.zeros(3).fliplr()),
    ("flipud_0d", lambda lib: lib.tensor(1.0).flipud()),
    ("roll_mismatch", lambda lib: _x(lib).roll((1, 2), (0,))),
    ("repeat_too_few", lambda lib: _x(lib).repeat(2)),
    ("repeat_interleave_negative", lambda lib: lib.zeros(3).repeat_interleave(
        lib.tensor([1, -1, 1]))),
    ("repeat_interleave_size", lambda lib: lib.zeros(3).repeat_interleave(lib.tensor([1, 1]))),
    ("meshgrid_indexing", lambda lib: lib.meshgrid(lib.zeros(2), indexing="foo")),
    ("gather_out_of_range", lambda lib: _x(lib).gather(1, lib.tensor([[4]]))),
    ("gather_negative", lambda lib: _x(lib).gather(1, lib.tensor([[-1]]))),
    ("gather_float_index", lambda lib: _x(lib).gather(1, lib.tensor([[0.0]]))),
    ("gather_ndim", lambda lib: _x(lib).gather(1, lib.tensor([0]))),
    ("gather_too_big", lambda lib: _x(lib).gather(1, lib.zeros(5, 1, dtype=lib.int64))),
    ("scatter_out_of_range", lambda lib: _x(lib).scatter(1, lib.tensor([[5]]), 1.0)),
    ("scatter_dtype", lambda lib: _x(lib).scatter(1, lib.tensor([[0]]), _x(lib).double())),
    ("scatter_bad_reduce", lambda lib: _x(lib).scatter(1, lib.tensor([[0]]), 1.0, reduce="max")),
    ("scatter_reduce_bad", lambda lib: _x(lib).scatter_reduce(1, lib.tensor([[0]]), _x(lib),
                                                              "foo")),
    ("scatter_src_too_small", lambda lib: _x(lib).scatter(1, lib.tensor([[0, 1]]),
                                                          lib.zeros(1, 1))),
    ("index_select_out_of_range", lambda lib: _x(lib).index_select(0, lib.tensor([3]))),
    ("index_select_2d", lambda lib: _x(lib).index_select(0, lib.tensor([[0]]))),
    ("index_select_float", lambda lib: _x(lib).index_select(0, lib.tensor([0.0]))),
    ("index_add_dtype", lambda lib: _x(lib).index_add(0, lib.tensor([0]), lib.ones(
        1, 4, dtype=lib.float64))),
    ("index_copy_count", lambda lib: _x(lib).index_copy(0, lib.tensor([0, 1]), lib.ones(1, 4))),
    ("index_fill_2d_index", lambda lib: _x(lib).index_fill(0, lib.tensor([[0]]), 1.0)),
    ("index_fill_value_dims", lambda lib: _x(lib).index_fill(0, lib.tensor([0]), lib.ones(2))),
    ("masked_fill_int_mask", lambda lib: _x(lib).masked_fill(lib.zeros(3, 4, dtype=lib.int64),
                                                             1.0)),
    ("masked_fill_value_dims", lambda lib: _x(lib).masked_fill(_x(lib) > 1, lib.ones(2))),
    ("masked_fill_inplace_broadcast", lambda lib: lib.zeros(4).masked_fill_(
        lib.ones(3, 4, dtype=lib.bool), 1.0)),
    ("masked_scatter_short", lambda lib: _x(lib).masked_scatter(_x(lib) > -1, lib.zeros(3))),
    ("take_out_of_range", lambda lib: _x(lib).take(lib.tensor([12]))),
    ("take_along_dim_ndim", lambda lib: _x(lib).take_along_dim(lib.tensor([[[0]]]), 1)),
    ("index_put_shape", lambda lib: _x(lib).index_put((lib.tensor([0, 1]),), lib.ones(3))),
    ("index_put_float_index", lambda lib: _x(lib).index_put((lib.tensor([0.0]),),
                                                            lib.tensor(1.0))),
    ("getitem_negative_step", lambda lib: _x(lib)[:, ::-1]),
    ("getitem_zero_step", lambda lib: _x(lib)[::0]),
    ("setitem_negative_step", lambda lib: _x(lib).__setitem__(slice(None, None, -2), 1.0)),
    ("getitem_negative_step_mixed", lambda lib: _x(lib)[lib.tensor([0, 1]), ::-1]),
    ("one_hot_too_small", lambda lib: _one_hot(lib)(lib.tensor([0, 3]), 2)),
    ("one_hot_negative", lambda lib: _one_hot(lib)(lib.tensor([-1, 3]), 5)),
    ("one_hot_float", lambda lib: _one_hot(lib)(lib.tensor([0.0]), 5)),
    ("one_hot_empty", lambda lib: _one_hot(lib)(lib.tensor([], dtype=lib.int64))),
    ("scatter_legacy_reduce_backward", lambda lib: _x(lib).requires_grad_().scatter(
        0, lib.tensor([[0]]), 2.0, reduce="add").sum().backward()),
]


def _one_hot(lib):
    return ember.one_hot if lib is ember else torch.nn.functional.one_hot


@pytest.mark.parametrize("name,fn", ERRORS, ids=[e[0] for e in ERRORS])
def test_errors_match_torch(name, fn):
    _same_error(fn)


def test_meshgrid_of_a_matrix_raises():
    _same_error(lambda lib: lib.meshgrid(lib.zeros(2, 2), lib.zeros(3), indexing="ij"),
                prefix="torch.meshgrid: Expected 0D or 1D tensor in the tensor list but got:")


def test_meshgrid_without_indexing_warns_and_uses_ij():
    for lib in LIBS:
        with pytest.warns(UserWarning, match="indexing argument"):
            a, b = lib.meshgrid(lib.zeros(2), lib.zeros(3))
        assert tuple(a.shape) == (2, 3) and tuple(b.shape) == (2, 3)
