"""Indexing ops: ``x[key]`` and ``x[key] = v`` (basic and advanced keys), index_put,
gather/scatter, index_*, masked_*, take, nonzero, one_hot. Index tensors are built inside
each callable (``t`` is ember or torch); duplicate indices check gradient accumulation."""

from ._base import OpInfo, S


def _i(t, values):
    return t.tensor(values, dtype=t.int64)


def _b(t, values):
    return t.tensor(values, dtype=t.bool)


def _set(x, key, value):
    # ``* 1``: ember names the base's node "CopySlices", PyTorch "torch::autograd::CopySlices";
    # the node names are compared in test_indexing_extra.py.
    y = x.clone()
    y[key] = value
    return y * 1


def _inplace(x, method, *args, **kwargs):
    y = x * 1
    getattr(y, method)(*args, **kwargs)
    return y


M34 = [S((3, 4)), S((3, 4), transpose=True)]
G34 = [S((3, 4), (3, 4)), S((3, 4), (3, 4), transpose=True)]


OPS = [
    # -- __getitem__ ---------------------------------------------------------------------
    OpInfo("index_0d_tensor", lambda t, a: a[_i(t, 1)], [S((3,)), S((3, 4))]),
    OpInfo("index_0d_tensor_pair", lambda t, a: a[_i(t, 2), _i(t, -1)], M34),
    OpInfo("index_0d_bool", lambda t, a: a[t.tensor(True)], [S(()), S((3,))]),
    OpInfo("index_dup_neg", lambda t, a: a[[2, -1, 0, 2, 2]], [S((3,)), S((3, 2)), S((3, 0))]),
    OpInfo("index_2d_tensor", lambda t, a: a[_i(t, [[0, 1], [1, 1]]), 1:], M34),
    OpInfo("index_pair", lambda t, a: a[_i(t, [0, 2, 0]), _i(t, [1, 1, 1])], M34),
    OpInfo("index_broadcast_pair", lambda t, a: a[_i(t, [[0], [2]]), _i(t, [1, 3, 3])], M34),
    OpInfo("index_split_adv", lambda t, a: a[_i(t, [1, 0]), :, _i(t, [2, 2])],
           [S((2, 3, 4)), S((2, 3, 4), transpose=True)]),
    OpInfo("index_after_slice", lambda t, a: a[:, [3, 0, 3]], M34),
    OpInfo("index_ellipsis_adv", lambda t, a: a[..., _i(t, [1, 1])], [S((2, 3, 4)), S((3, 2))]),
    OpInfo("index_none_adv", lambda t, a: a[None, _i(t, [1, 1]), None], M34),
    OpInfo("index_mask_rows", lambda t, a: a[_b(t, [True, False, True])], M34),
    OpInfo("index_mask_full", lambda t, a: a[a > 0.5], [S(()), S((3, 4)), S((0, 2)),
                                                        S((3, 4), transpose=True)]),
    OpInfo("index_mask_and_int", lambda t, a: a[_b(t, [False, True, True]), 2], M34),
    OpInfo("index_empty_list", lambda t, a: a[_i(t, [])], M34),
    OpInfo("index_step_neg_int", lambda t, a: a[::2, -1], M34),
    OpInfo("index_alias", lambda t, a: a[...], [S(()), S((3, 4))]),
    # -- __setitem__ (on a clone, so gradients reach both the target and the value) -------------
    OpInfo("setitem_int", lambda t, a, b: _set(a, 1, b), [S((3, 4), (4,)), S((3, 4), ()),
                                                          S((3,), ())]),
    OpInfo("setitem_slice_bcast", lambda t, a, b: _set(a, (slice(None), slice(1, 3)), b),
           [S((3, 4), (2,)), S((3, 4), (3, 1)), S((4, 3), (2,), transpose=True)]),
    OpInfo("setitem_list", lambda t, a, b: _set(a, [0, 2], b), [S((3, 4), (2, 4)),
                                                                S((3, 4), (4,)), S((3,), ())]),
    OpInfo("setitem_pair", lambda t, a, b: _set(a, (_i(t, [0, 2]), _i(t, [3, 1])), b),
           [S((3, 4), (2,)), S((3, 4), ())]),
    OpInfo("setitem_mask", lambda t, a, b: _set(a, a > 0, b), [S((3, 4), ()), S((5,), ())]),
    OpInfo("setitem_mixed", lambda t, a, b: _set(a, (slice(1, None), _i(t, [0, 3])), b),
           [S((3, 4), (2, 1)), S((3, 4), (2,))]),
    OpInfo("setitem_0d", lambda t, a, b: _set(a, (), b), [S((), ())]),
    OpInfo("setitem_ellipsis", lambda t, a, b: _set(a, (Ellipsis, 0), b), [S((2, 3), (2,))]),
    OpInfo("index_put", lambda t, a, b: a.index_put((_i(t, [0, 2]),), b), [S((3, 4), (4,)),
                                                                           S((3, 4), (2, 4))]),
    OpInfo("index_put_accumulate",
           lambda t, a, b: t.index_put(a, (_i(t, [0, 2, 0]), _i(t, [1, 1, 1])), b,
                                       accumulate=True), [S((3, 4), (3,)), S((3, 4), ())]),
    OpInfo("index_put_inplace",
           lambda t, a, b: _inplace(a, "index_put_", (_i(t, [1, 1]),), b, accumulate=True),
           [S((3, 4), (4,))]),
    # -- gather / scatter --------------------------------------------------------------------
    OpInfo("gather", lambda t, a: a.gather(1, _i(t, [[0, 0], [3, 1], [2, 2]])), M34),
    OpInfo("gather_dim0", lambda t, a: t.gather(a, 0, _i(t, [[2, 0, 1, 1], [0, 0, 0, 2]])), M34),
    OpInfo("gather_neg_dim", lambda t, a: a.gather(-1, _i(t, [1, 0, 1, 1])), [S((2,))]),
    OpInfo("gather_empty", lambda t, a: a.gather(1, t.zeros(3, 0, dtype=t.int64)), M34),
    OpInfo("gather_0d", lambda t, a: a.gather(0, _i(t, 0)), [S(())]),
    OpInfo("scatter", lambda t, a, b: a.scatter(1, _i(t, [[3, 0], [1, 2], [0, 1]]), b),
           [S((3, 4), (3, 2)), S((3, 4), (3, 2), transpose=True)]),
    # A source larger than the index: PyTorch has no gradient for it (shape error).
    OpInfo("scatter_big_src", lambda t, a, b: a.scatter(1, _i(t, [[3, 0], [1, 2]]), b),
           [S((3, 4), (3, 4))], grad=False),
    OpInfo("scatter_value", lambda t, a: t.scatter(a, 0, _i(t, [[2, 0, 1, 1]]), 1.5), M34),
    OpInfo("scatter_reduce_add_legacy",
           lambda t, a, b: a.scatter(0, _i(t, [[1, 1, 0, 1]]), b, reduce="add"),
           [S((3, 4), (1, 4))], grad=False),
    OpInfo("scatter_value_multiply",
           lambda t, a: a.scatter(0, _i(t, [[1, 1, 0, 1]]), 2.0, reduce="multiply"),
           [S((3, 4))], grad=False),
    OpInfo("scatter_add", lambda t, a, b: a.scatter_add(1, _i(t, [[3, 3], [1, 1], [0, 3]]), b),
           [S((3, 4), (3, 2)), S((3, 4), (3, 2), transpose=True)]),
    OpInfo("scatter_add_dim0", lambda t, a, b: t.scatter_add(a, 0, _i(t, [0, 0, 2, 0]), b),
           [S((3,), (4,))]),
    OpInfo("scatter_add_big_src", lambda t, a, b: a.scatter_add(0, _i(t, [0, 0, 2, 0]), b),
           [S((3,), (5,))], grad=False),
    OpInfo("scatter_inplace", lambda t, a, b: _inplace(a, "scatter_", 0, _i(t, [[2, 0]]), b),
           [S((3, 2), (1, 2))]),
    OpInfo("scatter_add_inplace",
           lambda t, a, b: _inplace(a, "scatter_add_", 0, _i(t, [[2, 2]]), b),
           [S((3, 2), (1, 2))]),
    *[OpInfo(f"scatter_reduce_{r}{'' if inc else '_noself'}",
             lambda t, a, b, r=r, inc=inc: a.scatter_reduce(
                 1, _i(t, [[3, 3, 0], [1, 1, 1], [0, 3, 2]]), b, r, include_self=inc),
             [S((3, 4), (3, 3)), S((3, 4), (3, 3), transpose=True)],
             distinct=True)
      for r in ("sum", "prod", "mean", "amax", "amin") for inc in (True, False)],
    OpInfo("scatter_reduce_prod_zeros",
           lambda t, a, b: a.masked_fill(_b(t, [True, False, False, False]), 0).scatter_reduce(
               0, _i(t, [0, 0, 1, 1, 1]), b.masked_fill(_b(t, [0, 0, 1, 1, 0]), 0), "prod"),
           [S((4,), (5,))]),
    OpInfo("scatter_reduce_big_src", lambda t, a, b: a.scatter_reduce(
        1, _i(t, [[3, 3], [1, 1]]), b, "amax", include_self=False), [S((3, 4), (3, 5))],
        grad=False),
    OpInfo("scatter_reduce_inplace",
           lambda t, a, b: _inplace(a, "scatter_reduce_", 0, _i(t, [1, 1]), b, "sum"),
           [S((3,), (2,))]),
    # -- index_* -----------------------------------------------------------------------------
    OpInfo("index_select", lambda t, a: a.index_select(0, _i(t, [2, 0, 2])), M34),
    OpInfo("index_select_dim", lambda t, a: t.index_select(a, -1, _i(t, [1, 1])),
           [S((2,)), S((3, 4)), S((0, 2))]),
    OpInfo("index_select_0d_index", lambda t, a: a.index_select(1, _i(t, 3)), M34),
    OpInfo("index_select_0d", lambda t, a: a.index_select(0, _i(t, [0])), [S(())]),
    OpInfo("index_add", lambda t, a, b: a.index_add(0, _i(t, [2, 0, 2]), b),
           [S((3, 4), (3, 4)), S((3, 4), (3, 4), transpose=True)]),
    OpInfo("index_add_alpha", lambda t, a, b: t.index_add(a, 1, _i(t, [1, 1]), b, alpha=-2.5),
           [S((3, 4), (3, 2))]),
    OpInfo("index_add_0d", lambda t, a, b: a.index_add(0, _i(t, [0]), b), [S((), ())]),
    OpInfo("index_add_inplace", lambda t, a, b: _inplace(a, "index_add_", 0, _i(t, [1, 1]), b),
           [S((3, 2), (2, 2))]),
    OpInfo("index_copy", lambda t, a, b: a.index_copy(1, _i(t, [3, 0]), b), [S((3, 4), (3, 2))]),
    OpInfo("index_copy_inplace",
           lambda t, a, b: _inplace(a, "index_copy_", 0, _i(t, [2, 0]), b), [S((3, 2), (2, 2))]),
    OpInfo("index_fill", lambda t, a: a.index_fill(1, _i(t, [0, -1, 0]), -1.0), M34),
    OpInfo("index_fill_tensor", lambda t, a, b: t.index_fill(a, 0, _i(t, [2, 2, 0]), b),
           [S((3, 4), ()), S((3,), ())]),
    OpInfo("index_fill_inplace", lambda t, a: _inplace(a, "index_fill_", 0, _i(t, [1]), 2.0),
           [S((3, 2))]),
    # -- masked_* ----------------------------------------------------------------------------
    OpInfo("masked_fill", lambda t, a: a.masked_fill(a > 0, 0.5), [S(()), S((3, 4)), S((0, 2)),
                                                                  S((3, 4), transpose=True)]),
    OpInfo("masked_fill_bcast", lambda t, a: t.masked_fill(a, _b(t, [[True], [False]]), -1.0),
           [S((2, 3)), S((3,))]),
    OpInfo("masked_fill_tensor", lambda t, a, b: a.masked_fill(a > 0, b), [S((3, 4), ()),
                                                                          S((0,), ())]),
    OpInfo("masked_fill_inplace", lambda t, a, b: _inplace(a, "masked_fill_", a > 0, b),
           [S((3, 4), ())]),
    OpInfo("masked_select", lambda t, a: a.masked_select(a > 0), [S(()), S((3, 4)), S((0, 2)),
                                                                 S((3, 4), transpose=True)]),
    OpInfo("masked_select_bcast", lambda t, a: t.masked_select(a, _b(t, [[True], [False]])),
           [S((2, 3)), S((3,))]),
    OpInfo("masked_scatter", lambda t, a, b: a.masked_scatter(a > 0, b),
           [S((3, 4), (3, 4)), S((3, 4), (20,)), S((3, 4), (3, 4), transpose=True)]),
    OpInfo("masked_scatter_bcast",
           lambda t, a, b: t.masked_scatter(a, _b(t, [[True], [False]]), b), [S((3,), (2, 3))]),
    OpInfo("masked_scatter_inplace", lambda t, a, b: _inplace(a, "masked_scatter_", a > 0, b),
           [S((3, 4), (12,))]),
    # -- take, nonzero, one_hot --------------------------------------------------------------
    OpInfo("take", lambda t, a: a.take(_i(t, [[0, -1], [5, 5]])), M34),
    OpInfo("take_0d", lambda t, a: t.take(a, _i(t, 0)), [S(()), S((2,))]),
    OpInfo("take_along_dim", lambda t, a: a.take_along_dim(_i(t, [[0], [3], [-1]]), 1), M34),
    OpInfo("take_along_dim_bcast", lambda t, a: t.take_along_dim(a, _i(t, [[1], [2]]), 0), M34),
    OpInfo("take_along_dim_flat", lambda t, a: a.take_along_dim(_i(t, [11, 0, 0])), [S((3, 4))]),
    OpInfo("nonzero", lambda t, a: t.nonzero(a > 0), [S(()), S((5,)), S((3, 4)), S((0, 2)),
                                                      S((3, 4), transpose=True)], grad=False),
    OpInfo("nonzero_tuple", lambda t, a: (a > 0).nonzero(as_tuple=True),
           [S(()), S((3, 4)), S((0,))], grad=False),
    OpInfo("argwhere", lambda t, a: t.argwhere(a > 0), [S((3, 4)), S(())], grad=False),
    OpInfo("where_cond_only", lambda t, a: t.where(a > 0), [S(()), S((3, 4))], grad=False),
    OpInfo("one_hot", lambda t, a: t.one_hot(a, 5) if t.__name__ == "ember"
           else t.nn.functional.one_hot(a, 5), [S((3,)), S(()), S((2, 3)), S((0,))],
           int_inputs=True, domain=(0, 5)),
    OpInfo("one_hot_infer", lambda t, a: t.one_hot(a) if t.__name__ == "ember"
           else t.nn.functional.one_hot(a), [S((4,)), S((2, 2))], int_inputs=True,
           domain=(0, 4)),
]
