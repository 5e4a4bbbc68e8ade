"""Extrema, running extrema, sorting, selection, unique, searching and counting
(``ember/_ops/sorting.py``). Differentiable entries use distinct values: gradients at ties
are checked against torch in ``tests/test_reduction_extra.py``."""

from ._base import BINARY, UNARY, OpInfo, S

NONEMPTY = [S(()), S((5,)), S((2, 3)), S((2, 3, 4)), S((3, 4), transpose=True)]
ROWS = [S((5,)), S((2, 3)), S((2, 3, 4)), S((3, 4), transpose=True), S((0, 3))]
INTS = dict(int_inputs=True, domain=(0, 4))


def _op(name, fn, samples, **kw):
    return OpInfo(name, fn, samples, distinct=kw.pop("distinct", True), **kw)


OPS = [
    # extrema
    _op("max_all", lambda t, a: a.max(), NONEMPTY),
    _op("min_all", lambda t, a: t.min(a), NONEMPTY),
    _op("max_dim", lambda t, a: t.max(a, 1), [S((2, 3)), S((2, 3, 4)), S((3, 4), transpose=True),
                                             S((0, 3))]),
    _op("max_dim_neg_keepdim", lambda t, a: a.max(-1, keepdim=True), NONEMPTY),
    _op("min_dim", lambda t, a: a.min(dim=0), NONEMPTY),
    _op("min_dim_keepdim", lambda t, a: t.min(a, -2, True), [S((2, 3)), S((2, 3, 4))]),
    _op("max_binary", lambda t, a, b: t.max(a, b), BINARY),
    _op("min_binary", lambda t, a, b: a.min(b), BINARY),
    _op("amax", lambda t, a: a.amax(), NONEMPTY),
    _op("amax_dims_keepdim", lambda t, a: t.amax(a, (0, -1), keepdim=True),
        [S((2, 3)), S((2, 3, 4)), S((3, 4), transpose=True)]),
    _op("amin_dim", lambda t, a: a.amin(-1), ROWS),
    _op("aminmax", lambda t, a: t.aminmax(a), NONEMPTY),
    _op("aminmax_dim", lambda t, a: a.aminmax(dim=-1, keepdim=True), NONEMPTY),
    _op("argmax", lambda t, a: a.argmax(), NONEMPTY, grad=False),
    _op("argmax_dim", lambda t, a: t.argmax(a, -1), ROWS + [S(())], grad=False),
    _op("argmax_keepdim", lambda t, a: a.argmax(keepdim=True), NONEMPTY, grad=False),
    _op("argmin_dim_keepdim", lambda t, a: a.argmin(0, True), NONEMPTY, grad=False),
    _op("max_int", lambda t, a: a.max(), NONEMPTY, **INTS),
    _op("amax_int_dim", lambda t, a: a.amax(0), ROWS[:-1], **INTS),
    _op("max_bool_dim", lambda t, a: (a > 0).max(-1), ROWS[:-1], grad=False),
    # running extrema
    _op("cummax", lambda t, a: a.cummax(-1), UNARY),
    _op("cummin", lambda t, a: t.cummin(a, 0), UNARY),
    _op("cummax_int", lambda t, a: a.cummax(0), UNARY, **INTS),
    # sorting and selection
    _op("sort", lambda t, a: a.sort(), UNARY),
    _op("sort_desc_dim0", lambda t, a: t.sort(a, 0, descending=True), UNARY),
    _op("sort_stable_int", lambda t, a: a.sort(stable=True, descending=True), UNARY, **INTS),
    _op("sort_stable_int_asc", lambda t, a: t.sort(a, dim=0, stable=True), UNARY, **INTS),
    _op("argsort", lambda t, a: a.argsort(), UNARY, grad=False),
    _op("argsort_desc", lambda t, a: t.argsort(a, 0, True), UNARY, grad=False),
    _op("msort", lambda t, a: t.msort(a), UNARY[1:]),
    _op("topk", lambda t, a: a.topk(2), [S((5,)), S((2, 3)), S((2, 3, 4)), S((0, 3)),
                                         S((3, 4), transpose=True)]),
    _op("topk_smallest_dim0", lambda t, a: t.topk(a, 2, dim=0, largest=False),
        [S((5,)), S((2, 3)), S((3, 4), transpose=True)]),
    _op("topk_0d", lambda t, a: a.topk(1), [S(())]),
    _op("topk_int_values", lambda t, a: a.topk(3).values, [S((5,)), S((2, 6))], **INTS),
    _op("kthvalue", lambda t, a: a.kthvalue(2), [S((5,)), S((2, 3)), S((2, 3, 4)),
                                                 S((3, 4), transpose=True)]),
    _op("kthvalue_dim0_keepdim", lambda t, a: t.kthvalue(a, 1, 0, True), NONEMPTY),
    _op("median", lambda t, a: a.median(), NONEMPTY + [S((4,)), S((0, 3))]),
    _op("median_dim", lambda t, a: a.median(-1), NONEMPTY + [S((2, 4))]),
    _op("median_dim_keepdim", lambda t, a: t.median(a, 0, keepdim=True), NONEMPTY),
    _op("median_int", lambda t, a: a.median(), NONEMPTY, **INTS),
    _op("nanmedian", lambda t, a: t.where(a > 1.01, float("nan"), a).nanmedian(),
        NONEMPTY + [S((0, 3))]),
    _op("nanmedian_dim", lambda t, a: t.where(a > 1.01, float("nan"), a).nanmedian(0),
        NONEMPTY + [S((4, 3))]),
    _op("median_nan_dim", lambda t, a: t.where(a > 1.5, float("nan"), a).median(-1),
        [S((3, 6))], grad=False),
    _op("mode", lambda t, a: a.mode(), NONEMPTY),
    _op("mode_int", lambda t, a: t.mode(a, 0), [S((7,)), S((9, 3)), S((3, 9), transpose=True),
                                                S(())], **INTS),
    # unique, searching, counting
    _op("unique", lambda t, a: t.unique(a), UNARY, **INTS),
    _op("unique_all", lambda t, a: a.unique(return_inverse=True, return_counts=True), UNARY,
        **INTS),
    _op("unique_dim", lambda t, a: t.unique(a, dim=1, return_inverse=True, return_counts=True),
        [S((2, 5)), S((3, 4), transpose=True)], int_inputs=True, domain=(0, 2)),
    _op("unique_consecutive", lambda t, a: a.unique_consecutive(return_inverse=True,
                                                                return_counts=True),
        UNARY, int_inputs=True, domain=(0, 2)),
    _op("unique_consecutive_dim", lambda t, a: t.unique_consecutive(a, return_counts=True,
                                                                    dim=0),
        [S((6, 2)), S((6,))], int_inputs=True, domain=(0, 2)),
    _op("searchsorted", lambda t, a, b: t.searchsorted(a.sort().values, b),
        [S((5,), (3,)), S((5,), (2, 3)), S((2, 5), (2, 3)), S((5,), ()), S((0,), (3,))],
        grad=False, distinct=False),
    _op("searchsorted_right", lambda t, a, b: t.searchsorted(a.sort().values, b, right=True),
        [S((6,), (4,)), S((2, 6), (2, 4))], **INTS),
    _op("searchsorted_side_int32", lambda t, a, b: t.searchsorted(
        a.sort().values, b, side="right", out_int32=True), [S((6,), (4,))], **INTS),
    _op("searchsorted_sorter", lambda t, a, b: t.searchsorted(a, b, sorter=a.argsort()),
        [S((6,), (4,))], **INTS),
    _op("bucketize", lambda t, a, b: t.bucketize(b, a.sort().values), [S((5,), (2, 3))],
        **INTS),
    _op("bucketize_right", lambda t, a, b: t.bucketize(b, a.sort().values, right=True),
        [S((5,), (7,))], **INTS),
    _op("histc", lambda t, a: t.histc(a, bins=7), [S((20,)), S((4, 5))], grad=False),
    _op("histc_range", lambda t, a: a.histc(5, min=-1, max=1), [S((30,)), S((0,))],
        grad=False),
    _op("bincount", lambda t, a: t.bincount(a), [S((10,)), S((0,))], **INTS),
    _op("bincount_weights", lambda t, a, b: t.bincount(a, b.to(t.float32), minlength=7),
        [S((10,), (10,))], **INTS),
]
