"""Reductions, extrema and sorting beyond the op table: gradients at ties and zeros, second
derivatives, NaN handling, result types, printing and errors, all checked against torch."""

import math
import warnings

import numpy as np
import pytest
import torch

import ember

NAN, INF = float("nan"), float("inf")


def _pair(data, dtype="float64", requires_grad=True):
    a = np.array(data, dtype=dtype)
    e, t = ember.tensor(a), torch.tensor(a)
    if requires_grad:
        e.requires_grad_(True)
        t.requires_grad_(True)
    return e, t


def _np(x):
    return x.detach().numpy()


def _same(e, t, what=""):
    assert str(e.dtype).split(".")[-1] == str(t.dtype).split(".")[-1], what
    assert tuple(e.shape) == tuple(t.shape), what
    np.testing.assert_allclose(_np(e), _np(t), rtol=1e-7, atol=1e-12, equal_nan=True,
                               err_msg=what)


def _check(fn, data, *, index=None):
    """Forward of ``fn`` (output ``index`` of a tuple) and its gradient, against torch."""
    e, t = _pair(data)
    eo, to = fn(ember, e), fn(torch, t)
    if index is not None:
        for eo_i, to_i in zip(eo, to):
            _same(eo_i, to_i, "forward")
        eo, to = eo[index], to[index]
    _same(eo, to, "forward")
    w = np.arange(1, to.numel() + 1, dtype="float64").reshape(tuple(to.shape))
    (eo * ember.tensor(w)).sum().backward()
    (to * torch.tensor(w)).sum().backward()
    if t.grad is None:  # torch leaves no gradient where it is identically zero (norm p=0)
        assert e.grad is None or not _np(e.grad).any()
        return
    _same(e.grad, t.grad, "grad")


TIES = [[2.0, 1.0, 2.0], [3.0, 3.0, 0.0]]
TIES3 = [[[1.0, 5.0], [5.0, 5.0]], [[0.0, 5.0], [2.0, 2.0]]]


# -- gradients at ties ------------------------------------------------------------------------
@pytest.mark.parametrize("name,fn", [
    ("max_all", lambda t, a: a.max()),
    ("min_all", lambda t, a: t.min(a)),
    ("amax_dim", lambda t, a: a.amax(-1)),
    ("amax_all", lambda t, a: t.amax(a)),
    ("amin_dims_keepdim", lambda t, a: a.amin((0, 1), keepdim=True)),
    ("median_all", lambda t, a: a.median()),
    ("nanmedian_all", lambda t, a: a.nanmedian()),
    ("norm_inf", lambda t, a: a.norm(INF)),
    ("norm_inf_dim", lambda t, a: (a - 2.5).norm(INF, dim=-1)),
    ("norm_neg_inf", lambda t, a: a.norm(-INF, 0)),
])
@pytest.mark.parametrize("data", [TIES, TIES3], ids=["2d", "3d"])
def test_ties_split_evenly_like_torch(name, fn, data):
    _check(fn, data)


@pytest.mark.parametrize("name,fn", [
    ("max_dim", lambda t, a: a.max(-1)),
    ("min_dim_keepdim", lambda t, a: t.min(a, 0, keepdim=True)),
    ("cummax", lambda t, a: a.cummax(-1)),
    ("cummin", lambda t, a: t.cummin(a, 0)),
    ("aminmax_min", lambda t, a: t.aminmax(a)),
    ("aminmax_dim", lambda t, a: a.aminmax(dim=-1)),
])
@pytest.mark.parametrize("data", [TIES, TIES3], ids=["2d", "3d"])
def test_ties_gradient_to_returned_index_like_torch(name, fn, data):
    e, t = _pair(data)
    eo, to = fn(ember, e), fn(torch, t)
    for i in range(2):
        _same(eo[i], to[i], f"output {i}")
    loss_e = builtins_sum(o.sum() * (k + 1) for k, o in enumerate(eo) if o.requires_grad)
    loss_t = builtins_sum(o.sum() * (k + 1) for k, o in enumerate(to) if o.requires_grad)
    loss_e.backward()
    loss_t.backward()
    _same(e.grad, t.grad, "grad")


def builtins_sum(items):
    total = None
    for x in items:
        total = x if total is None else total + x
    return total


def test_mode_ties_values_and_indices():
    # Most frequent value, smallest among equally frequent ones, at its last occurrence.
    data = [[2.0, 1.0, 2.0, 1.0, 3.0], [5.0, 5.0, 4.0, 4.0, 4.0], [7.0, 7.0, 7.0, 7.0, 7.0]]
    _check(lambda t, a: a.mode(-1), data, index=0)
    _check(lambda t, a: t.mode(a, 0, keepdim=True), np.array(data).T.tolist(), index=0)


def test_median_dim_with_ties_picks_the_lower_median():
    e, t = _pair([[4.0, 1.0, 3.0, 2.0], [1.0, 1.0, 1.0, 2.0]], requires_grad=False)
    _same(e.median(1).values, t.median(1).values)
    _same(ember.median(e.flatten()), torch.median(t.flatten()))


def test_max_binary_ties_split_in_half():
    a, ta = _pair([1.0, 2.0, 3.0])
    b, tb = _pair([1.0, 0.0, 4.0])
    ember.max(a, b).sum().backward()
    torch.max(ta, tb).sum().backward()
    _same(a.grad, ta.grad)
    _same(b.grad, tb.grad)
    _same(a.min(other=b), ta.min(other=tb))


# -- zeros: prod and cumprod ------------------------------------------------------------------
ZEROS = {
    "none": [[1.5, -2.0, 3.0], [0.5, 2.0, -1.0]],
    "one": [[1.5, 0.0, 3.0], [0.5, 2.0, -1.0]],
    "two_same_row": [[0.0, 2.0, 0.0], [0.5, 2.0, -1.0]],
    "all": [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]],
    "first_and_last": [[0.0, 2.0, 3.0], [0.5, 2.0, 0.0]],
}


@pytest.mark.parametrize("case", ZEROS)
@pytest.mark.parametrize("name,fn", [
    ("prod", lambda t, a: a.prod()),
    ("prod_dim", lambda t, a: a.prod(1)),
    ("prod_dim0_keepdim", lambda t, a: t.prod(a, 0, keepdim=True)),
    ("cumprod", lambda t, a: a.cumprod(1)),
    ("cumprod_dim0", lambda t, a: t.cumprod(a, 0)),
])
def test_zeros_gradient_like_torch(case, name, fn):
    _check(fn, ZEROS[case])


@pytest.mark.parametrize("case", ["none", "one", "first_and_last"])
@pytest.mark.parametrize("name,fn", [
    ("prod", lambda t, a: a.prod()),
    ("prod_dim", lambda t, a: a.prod(-1)),
    ("cumprod", lambda t, a: a.cumprod(-1)),
])
def test_zeros_second_derivative_like_torch(case, name, fn):
    e, t = _pair(ZEROS[case])
    ge, = ember.autograd.grad(fn(ember, e).sum(), e, create_graph=True)
    gt, = torch.autograd.grad(fn(torch, t).sum(), t, create_graph=True)
    _same(ge, gt, "first")
    w = np.linspace(-1, 1, ge.numel()).reshape(tuple(ge.shape))
    he, = ember.autograd.grad((ge * ember.tensor(w)).sum(), e)
    ht, = torch.autograd.grad((gt * torch.tensor(w)).sum(), t)
    _same(he, ht, "second")


# -- second derivatives -----------------------------------------------------------------------
@pytest.mark.parametrize("name,fn", [
    ("logsumexp", lambda t, a: a.logsumexp(-1)),
    ("std", lambda t, a: a.std(0)),
    ("var_mean", lambda t, a: t.var_mean(a, 1)[0]),
    ("norm2", lambda t, a: a.norm(dim=1)),
    ("norm3", lambda t, a: a.norm(3)),
    ("max_dim", lambda t, a: (a * a).max(1).values),
    ("sort", lambda t, a: (a * a).sort(0).values * t.arange(2.0).reshape(2, 1)),
    ("topk", lambda t, a: (a ** 3).topk(2).values),
    ("cumsum", lambda t, a: (a * a).cumsum(1)),
    ("cummax", lambda t, a: (a * a).cummax(1).values),
    ("amax", lambda t, a: (a * a).amax(0)),
])
def test_second_derivative_like_torch(name, fn):
    data = [[0.3, -1.2, 2.0], [1.1, 0.7, -0.4]]
    e, t = _pair(data)
    ge, = ember.autograd.grad(fn(ember, e).sum(), e, create_graph=True)
    gt, = torch.autograd.grad(fn(torch, t).sum(), t, create_graph=True)
    _same(ge, gt, "first")
    he, = ember.autograd.grad((ge * ge).sum(), e)
    ht, = torch.autograd.grad((gt * gt).sum(), t)
    _same(he, ht, "second")


def test_gradgradcheck():
    x = ember.tensor([[0.3, -1.2, 2.0], [1.1, 0.7, -0.4]], dtype=ember.float64,
                     requires_grad=True)
    for fn in (lambda a: a.logsumexp(1), lambda a: a.std(), lambda a: a.prod(1),
               lambda a: a.cumprod(0), lambda a: a.sort(1).values, lambda a: a.norm(3, 0)):
        assert ember.autograd.gradgradcheck(fn, (x,))


# -- NaN and infinities -----------------------------------------------------------------------
@pytest.mark.parametrize("name,fn", [
    ("max_dim", lambda t, a: a.max(1)),
    ("min_dim", lambda t, a: a.min(1)),
    ("argmax", lambda t, a: (a.argmax(1), a.argmin())),
    ("amax", lambda t, a: (a.amax(1), a.amin())),
    ("median_dim", lambda t, a: a.median(1)),
    ("nanmedian_dim", lambda t, a: a.nanmedian(1)),
    ("median_all", lambda t, a: (a.median(), a.nanmedian())),
    ("sort_desc", lambda t, a: a.sort(1, descending=True)),
    ("sort", lambda t, a: t.sort(a, 1)),
    ("argsort", lambda t, a: (a.argsort(1), a.argsort(1, True))),
    ("topk", lambda t, a: a.topk(2)),
    ("kthvalue", lambda t, a: a.kthvalue(3)),
    ("cummax", lambda t, a: a.cummax(1)),
    ("cummin", lambda t, a: a.cummin(1)),
    ("nansum", lambda t, a: (a.nansum(1), a.nanmean(1), t.nansum(a))),
    ("logsumexp", lambda t, a: a.logsumexp(1)),
])
def test_nan_like_torch(name, fn):
    data = [[1.0, NAN, 3.0, NAN], [NAN, NAN, NAN, NAN], [2.0, -1.0, 0.5, 4.0]]
    if name in ("topk", "nanmedian_dim"):
        del data[1]  # which NaN torch picks from an all-NaN row is an implementation detail
    e, t = _pair(data, requires_grad=False)
    eo, to = fn(ember, e), fn(torch, t)
    for a, b in zip(eo, to) if isinstance(to, tuple) else [(eo, to)]:
        _same(a, b)


def test_logsumexp_infinities_and_stability():
    for data in ([-INF, -INF], [INF, 1.0], [1000.0, 1000.0], [-1000.0, -1001.0], [-INF, 0.0]):
        e, t = _pair(data, requires_grad=False)
        _same(e.logsumexp(0), t.logsumexp(0), str(data))
    e, t = _pair(np.zeros((0, 3)).tolist() or np.zeros((0, 3)), requires_grad=False)
    _same(ember.logsumexp(ember.zeros(0, 3), 0), torch.logsumexp(torch.zeros(0, 3), 0))


# -- results: types, dtypes, printing ---------------------------------------------------------
def test_return_type_repr_matches_torch():
    e, t = _pair(TIES)
    for fn in (lambda a: a.max(1), lambda a: a.min(0, True), lambda a: a.sort(),
               lambda a: a.topk(1), lambda a: a.kthvalue(1), lambda a: a.median(1),
               lambda a: a.nanmedian(0), lambda a: a.mode(1), lambda a: a.cummax(1),
               lambda a: a.cummin(0), lambda a: a.aminmax(), lambda a: a.aminmax(dim=0)):
        assert repr(fn(e)) == repr(fn(t)).replace("torch.", "ember.")


def test_return_type_is_a_named_tuple():
    e = ember.tensor(TIES)
    r = e.max(1)
    values, indices = r
    assert isinstance(r, tuple) and r.values is values and r[1] is indices
    assert type(r).__name__ == "max" and r._fields == ("values", "indices")
    lo, hi = e.aminmax()
    assert e.aminmax().min is not None and float(hi) == 3.0 and float(lo) == 0.0
    sm = ember.std_mean(e)
    assert type(sm) is tuple and len(sm) == 2


@pytest.mark.parametrize("expr", [
    "a.argmax()", "a.argmin(0)", "a.sum()", "a.sum(0)", "(a > 1).sum()", "a.prod()",
    "a.to({lib}.int32).prod(0)", "a.to({lib}.int32).cumsum(0)", "a.all()", "a.any(1)",
    "a.to({lib}.uint8).all()", "a.to({lib}.uint8).any(0)", "a.count_nonzero()",
    "a.max()", "a.amax(0)", "a.to({lib}.int32).max(0).values", "a.median()",
    "a.sort().indices", "a.to({lib}.float64).mean(0)", "a.mean(dtype={lib}.float32)",
    "a.logsumexp(0)", "a.nansum()", "{lib}.searchsorted(a[0].sort().values, a[1])",
    "{lib}.bucketize(a, {lib}.tensor([0, 2]), out_int32=True)", "{lib}.bincount(a[0])",
    "a.cumsum(0, dtype={lib}.float32)", "a.sum(dtype={lib}.int16)",
])
def test_result_dtypes_on_int_input_like_torch(expr):
    data = np.array([[1, 0, 3], [2, 2, 0]], dtype="int64")
    outs = []
    for lib in (ember, torch):
        a = lib.tensor(data)
        outs.append(eval(expr.format(lib=lib.__name__), {lib.__name__: lib, "a": a}))
    _same(*outs, expr)


def test_bool_reductions():
    e, t = _pair([[True, False], [True, True]], dtype="bool", requires_grad=False)
    for fn in (lambda a: a.sum(), lambda a: a.all(0), lambda a: a.any(), lambda a: a.max(),
               lambda a: a.diff(dim=0), lambda a: a.sort(stable=True).values,
               lambda a: a.count_nonzero(1), lambda a: a.cumsum(1)):
        _same(fn(e), fn(t))


# -- std / var overloads and degrees of freedom -----------------------------------------------
@pytest.mark.parametrize("args,kwargs", [
    ((), {}), ((True,), {}), ((False,), {}), ((0,), {}), ((0, False), {}), ((1, True, True), {}),
    ((), {"dim": 1, "unbiased": False, "keepdim": True}), ((), {"correction": 0}),
    (((0, 1),), {"correction": 2.5}), ((), {"dim": -1, "correction": 0, "keepdim": True}),
])
@pytest.mark.parametrize("name", ["std", "var", "std_mean", "var_mean"])
def test_std_var_overloads(name, args, kwargs):
    e, t = _pair([[0.3, -1.2, 2.0, 5.0], [1.1, 0.7, -0.4, 0.0]])
    eo, to = getattr(ember, name)(e, *args, **kwargs), getattr(torch, name)(t, *args, **kwargs)
    eo, to = (eo, to) if isinstance(to, tuple) else ((eo,), (to,))
    for a, b in zip(eo, to):
        _same(a, b)
    if name in ("std", "var"):
        _same(getattr(e, name)(*args, **kwargs), getattr(t, name)(*args, **kwargs))


def test_std_zero_and_too_few_degrees_of_freedom():
    e, t = _pair([1.0, 1.0, 1.0])
    e.std().backward()
    t.std().backward()
    _same(e.grad, t.grad)  # zero, not NaN, where std is 0
    for data in ([1.0], [1.0, 2.0]):
        e, t = _pair(data, requires_grad=False)
        with pytest.warns(UserWarning, match="degrees of freedom is <= 0"):
            r = e.var(correction=len(data))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _same(r, t.var(correction=len(data)))


def test_std_var_reject_both_unbiased_and_correction():
    e, t = _pair([1.0, 2.0])
    for lib, x in ((ember, e), (torch, t)):
        with pytest.raises(TypeError):
            lib.std(x, 0, unbiased=True, correction=1)


# -- norm -------------------------------------------------------------------------------------
@pytest.mark.parametrize("p", ["fro", 2, 1, 3, 0.5, 0, INF, -INF])
@pytest.mark.parametrize("dim,keepdim", [(None, False), (1, False), ((0, 1), True), (-1, True)])
def test_norm_like_torch(p, dim, keepdim):
    data = [[0.3, -1.2, 2.0], [1.1, 0.7, -0.4]]
    _check(lambda t, a: t.norm(a, p, dim, keepdim), data)
    _check(lambda t, a: a.norm(p=p, dim=dim, keepdim=keepdim), data)


def test_norm_of_zeros_has_zero_gradient():
    for p in (2, 3, "fro"):
        _check(lambda t, a: a.norm(p), [0.0, 0.0, 0.0])
        _check(lambda t, a: a.norm(p, dim=1), [[0.0, 0.0], [1.0, -2.0]])


# -- misc semantics ---------------------------------------------------------------------------
def test_unique_variants():
    data = np.array([[3, 1, 2], [1, 3, 3]], dtype="int64")
    e, t = ember.tensor(data), torch.tensor(data)
    for kw in ({}, {"sorted": False}, {"return_inverse": True}, {"return_counts": True},
               {"return_inverse": True, "return_counts": True, "dim": 1}, {"dim": 0}):
        eo, to = ember.unique(e, **kw), torch.unique(t, **kw)
        for a, b in zip(eo, to) if isinstance(to, tuple) else [(eo, to)]:
            _same(a, b, str(kw))
    fe, ft = ember.tensor([1.0, NAN, NAN, 2.0]), torch.tensor([1.0, NAN, NAN, 2.0])
    _same(fe.unique(), ft.unique())


def test_diff_prepend_append():
    a, ta = _pair([[1.0, 4.0, 9.0], [2.0, 3.0, 5.0]])
    p, tp = _pair([[0.0], [1.0]])
    out_e = ember.diff(a, n=2, dim=1, prepend=p, append=a)
    out_t = torch.diff(ta, n=2, dim=1, prepend=tp, append=ta)
    _same(out_e, out_t)
    out_e.sum().backward()
    out_t.sum().backward()
    _same(a.grad, ta.grad)
    _same(p.grad, tp.grad)


def test_histc_defaults_and_edges():
    for data, kw in (([1.0, 2.0, 2.0, 5.0], {"bins": 4}), ([3.0, 3.0], {"bins": 3}),
                     ([0.0, 1.0, 2.0, 3.0], {"bins": 3, "min": 0, "max": 3}),
                     ([-5.0, 0.5, 9.0], {"bins": 2, "min": 0, "max": 1})):
        e, t = _pair(data, dtype="float32", requires_grad=False)
        _same(ember.histc(e, **kw), torch.histc(t, **kw), str(data))


def test_noncontiguous_and_empty_inputs():
    base = np.arange(24, dtype="float64").reshape(4, 6)[:, ::2].T * 1.5 - 7
    e, t = ember.tensor(base.copy()), torch.tensor(base.copy())
    e, t = e.T.T[:, 1:], t.T.T[:, 1:]
    for fn in (lambda a: a.sum(0), lambda a: a.max(1), lambda a: a.sort(0),
               lambda a: a.cumsum(1), lambda a: a.median(0), lambda a: a.std(1),
               lambda a: a.topk(2, 0), lambda a: a.norm(1, 0), lambda a: a.unique()):
        eo, to = fn(e), fn(t)
        for a, b in zip(eo, to) if isinstance(to, tuple) else [(eo, to)]:
            _same(a, b)
    ez, tz = ember.zeros(0, 3), torch.zeros(0, 3)
    for fn in (lambda a: a.sum(), lambda a: a.prod(0), lambda a: a.max(1).values,
               lambda a: a.amax(1), lambda a: a.argmax(1), lambda a: a.norm(),
               lambda a: a.any(0), lambda a: a.all(), lambda a: a.count_nonzero(0),
               lambda a: a.median(), lambda a: a.cumprod(0), lambda a: a.sort(0).values,
               lambda a: a.logsumexp(0), lambda a: a.mode(1).indices):
        _same(fn(ez), fn(tz))


# -- errors -----------------------------------------------------------------------------------
ERRORS = [
    "a.sum(2)", "a.max(-3)", "a.argmax(5)", "a.sort(2)", "a.cumsum(-3)", "a.median(2)",
    "a.logsumexp(3)", "a.std(4)", "a.amax((0, 0))", "a.count_nonzero((1, 1))", "a.topk(4)",
    "a.topk(-1)", "a.kthvalue(0)", "a.kthvalue(4)", "a.diff(dim=2)", "a.norm('abc')",
    "a.to({lib}.int64).mean()", "a.to({lib}.int64).std()", "a.to({lib}.int64).nanmean()",
    "a.to({lib}.int64).norm()", "{lib}.tensor(2.0).diff()", "{lib}.tensor(2.0).max(1)",
    "e.max()", "e.min()", "e.amax()", "e.argmax()", "e.max(0)", "e.amin(0)", "e.argmin(0)",
    "e.median(0)", "e.kthvalue(1, 0)", "e.mode(0)", "e.aminmax()", "e.norm({inf})",
    "{lib}.bincount({lib}.tensor([-1, 2]))", "{lib}.bincount({lib}.ones(2, 2).long())",
    "{lib}.bincount({lib}.ones(2))", "{lib}.histc(a, bins=3, min=2, max=1)",
    "{lib}.histc(a.long())", "{lib}.searchsorted(a, a[:1])",
    "{lib}.searchsorted(a[0], a, side='mid')", "{lib}.searchsorted(a[0], a, side='left', "
    "right=True)", "{lib}.bucketize(a, a)", "{lib}.unique(a, dim=3)",
    "{lib}.tensor([True]).median()", "a.long().quantile(0.5)", "a.quantile(1.5)",
    "a.quantile(-0.1)", "e.quantile(0.5)", "a.quantile({lib}.tensor([[0.5]]))",
    "a.quantile({lib}.tensor([0.5, 2.0]))", "a.quantile({lib}.tensor([0.5], dtype={lib}.float64))",
    "a.quantile(0.5, interpolation='foo')", "a.nanquantile(0.5, dim=2)",
    "a.nanquantile(2.0)",
]


@pytest.mark.parametrize("expr", ERRORS)
def test_errors_match_torch(expr):
    caught = []
    for lib in (ember, torch):
        env = {lib.__name__: lib, "a": lib.ones(2, 3), "e": lib.zeros(0, 3)}
        with pytest.raises(Exception) as info, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            eval(expr.format(lib=lib.__name__, inf="float('inf')"), env)
        caught.append(info.value)
    mine, theirs = caught
    assert type(mine) is type(theirs), f"{type(mine).__name__} vs torch {type(theirs).__name__}"
    assert str(mine).replace("ember", "torch") == str(theirs).split("\n")[0] or \
        isinstance(theirs, TypeError), f"{mine!s} vs torch {theirs!s}"


def test_math_inf_is_accepted():
    e, t = _pair(TIES, requires_grad=False)
    _same(e.norm(math.inf, 1), t.norm(math.inf, 1))
