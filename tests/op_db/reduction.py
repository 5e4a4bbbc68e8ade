"""Reductions and scans: sum/mean variants, prod, var/std, norms, logsumexp, nan-aware and
logical reductions, cumsum/cumprod/diff (``ember/_ops/reduction.py``)."""

import math

from ._base import UNARY, OpInfo, S

NONEMPTY = [S(()), S((5,)), S((2, 3)), S((2, 3, 4)), S((3, 4), transpose=True)]
MATRIX = [S((2, 3)), S((2, 3, 4)), S((0, 3)), S((3, 4), transpose=True)]
POSITIVE = (0.5, 2.0)
NAN = float("nan")


def _with_nans(t, a):
    """``a`` with NaN where it exceeds 1 (the gradient still reaches the other elements)."""
    return t.where(a > 1.0, NAN, a)


OPS = [
    # sum / mean variants (core.py covers the plain forms)
    OpInfo("sum_dtype", lambda t, a: a.sum(dtype=t.float64), UNARY),
    OpInfo("sum_neg_dims", lambda t, a: t.sum(a, (-1, -2)), MATRIX),
    OpInfo("sum_empty_tuple", lambda t, a: a.sum(()), UNARY),
    OpInfo("sum_int_dim_keepdim", lambda t, a: a.sum(-1, keepdim=True), UNARY[1:],
           int_inputs=True, domain=(-5, 5)),
    OpInfo("sum_bool", lambda t, a: (a > 0).sum(0), UNARY[1:], grad=False),
    OpInfo("mean_neg_dims_keepdim", lambda t, a: a.mean((-1, 0), keepdim=True), MATRIX),
    OpInfo("mean_dtype", lambda t, a: a.mean(dtype=t.float64), NONEMPTY),
    OpInfo("nansum", lambda t, a: t.nansum(_with_nans(t, a)), UNARY),
    OpInfo("nansum_dim", lambda t, a: _with_nans(t, a).nansum(-1, keepdim=True), UNARY[1:]),
    OpInfo("nansum_int", lambda t, a: a.nansum(0), UNARY[1:], int_inputs=True, domain=(-5, 5)),
    OpInfo("nanmean", lambda t, a: t.nanmean(_with_nans(t, a)), UNARY),
    OpInfo("nanmean_dim", lambda t, a: _with_nans(t, a).nanmean(0), UNARY[1:]),
    # prod (zeros in the input: tests/test_reduction_extra.py)
    OpInfo("prod", lambda t, a: a.prod(), UNARY),
    OpInfo("prod_dim", lambda t, a: t.prod(a, -1), UNARY),
    OpInfo("prod_dim_keepdim", lambda t, a: a.prod(0, keepdim=True), UNARY[1:]),
    OpInfo("prod_dtype", lambda t, a: a.prod(dtype=t.float64), UNARY),
    OpInfo("prod_int", lambda t, a: a.prod(-1), UNARY, int_inputs=True, domain=(-3, 4)),
    # variance and standard deviation
    OpInfo("var", lambda t, a: a.var(), NONEMPTY[1:]),
    OpInfo("var_dim", lambda t, a: t.var(a, -1), [S((2, 3)), S((2, 3, 4)), S((5,))]),
    OpInfo("var_unbiased_positional", lambda t, a: a.var(0, False, True), MATRIX[:2]),
    OpInfo("var_unbiased_only", lambda t, a: a.var(False), NONEMPTY),
    OpInfo("var_correction", lambda t, a: a.var((0, -1), correction=0.5, keepdim=True),
           MATRIX[:2] + MATRIX[3:]),
    OpInfo("std", lambda t, a: a.std(), NONEMPTY[1:]),
    OpInfo("std_dim_keepdim", lambda t, a: t.std(a, dim=1, keepdim=True), MATRIX[:2]),
    OpInfo("std_unbiased_kw", lambda t, a: t.std(a, 0, unbiased=False), NONEMPTY),
    OpInfo("std_correction", lambda t, a: a.std(correction=2), NONEMPTY[1:]),
    OpInfo("var_mean", lambda t, a: t.var_mean(a, -1), [S((2, 3)), S((3, 4), transpose=True)]),
    OpInfo("std_mean", lambda t, a: t.std_mean(a), NONEMPTY[1:]),
    OpInfo("std_mean_dims", lambda t, a: t.std_mean(a, (0, 1), correction=0, keepdim=True),
           [S((2, 3)), S((2, 3, 4))]),
    # norms
    OpInfo("norm", lambda t, a: a.norm(), UNARY),
    OpInfo("norm_fn_fro_dim", lambda t, a: t.norm(a, "fro", (0, 1)), MATRIX[:2]),
    OpInfo("norm_p1", lambda t, a: a.norm(1), UNARY),
    OpInfo("norm_p3_dim", lambda t, a: a.norm(3, dim=-1, keepdim=True), UNARY[1:]),
    OpInfo("norm_p0", lambda t, a: a.norm(0), UNARY),
    OpInfo("norm_pfrac", lambda t, a: a.norm(0.5, 0), UNARY[1:4], domain=POSITIVE),
    OpInfo("norm_inf", lambda t, a: a.norm(math.inf), NONEMPTY, distinct=True),
    OpInfo("norm_neg_inf_dim", lambda t, a: a.norm(-math.inf, 1), MATRIX[:2], distinct=True),
    OpInfo("norm_dtype", lambda t, a: t.norm(a, dim=0, dtype=t.float64), UNARY[1:]),
    # logsumexp
    OpInfo("logsumexp", lambda t, a: t.logsumexp(a, -1), UNARY),
    OpInfo("logsumexp_dims_keepdim", lambda t, a: a.logsumexp((0, 1), keepdim=True), MATRIX),
    OpInfo("logsumexp_large", lambda t, a: (a * 400).logsumexp(0), UNARY[1:]),
    OpInfo("logsumexp_int", lambda t, a: a.logsumexp(0), UNARY[1:], int_inputs=True,
           domain=(-3, 3)),
    # logical
    OpInfo("all", lambda t, a: a.all(), UNARY, int_inputs=True, domain=(0, 3)),
    OpInfo("all_dims", lambda t, a: t.all(a, (0, -1), keepdim=True), MATRIX, int_inputs=True,
           domain=(0, 3)),
    OpInfo("any", lambda t, a: (a > 1).any(), UNARY, grad=False),
    OpInfo("any_dim", lambda t, a: a.any(-1), UNARY, int_inputs=True, domain=(0, 2)),
    OpInfo("all_uint8", lambda t, a: a.to(t.uint8).all(0), UNARY[1:], int_inputs=True,
           domain=(0, 3)),
    OpInfo("count_nonzero", lambda t, a: t.count_nonzero(a), UNARY, int_inputs=True,
           domain=(0, 3)),
    OpInfo("count_nonzero_dims", lambda t, a: a.count_nonzero((0, -1)), MATRIX,
           int_inputs=True, domain=(0, 3)),
    # scans
    OpInfo("cumsum", lambda t, a: a.cumsum(-1), UNARY),
    OpInfo("cumsum_dim0", lambda t, a: t.cumsum(a, 0), UNARY),
    OpInfo("cumsum_dtype", lambda t, a: a.cumsum(0, dtype=t.float64), UNARY),
    OpInfo("cumsum_int", lambda t, a: a.to(t.int32).cumsum(-1), UNARY, int_inputs=True,
           domain=(-5, 5)),
    OpInfo("cumprod", lambda t, a: a.cumprod(-1), UNARY),
    OpInfo("cumprod_dim0", lambda t, a: t.cumprod(a, 0), UNARY),
    OpInfo("cumprod_int", lambda t, a: a.cumprod(0), UNARY, int_inputs=True, domain=(-3, 3)),
    OpInfo("diff", lambda t, a: a.diff(), UNARY[1:]),
    OpInfo("diff_n2_dim0", lambda t, a: t.diff(a, n=2, dim=0), [S((5,)), S((4, 3)),
                                                                S((3, 4), transpose=True)]),
    OpInfo("diff_n_large", lambda t, a: a.diff(n=4), [S((2, 3))]),
    OpInfo("diff_bool", lambda t, a: (a > 0).diff(), UNARY[1:], grad=False),
    OpInfo("diff_int", lambda t, a: a.diff(dim=0), UNARY[1:], int_inputs=True, domain=(-5, 5)),
    # quantiles (distinct values: the gradient of a sort is undefined at ties)
    OpInfo("quantile", lambda t, a: t.quantile(a, 0.3), NONEMPTY, distinct=True),
    OpInfo("quantile_q_tensor_dim", lambda t, a: a.quantile(t.tensor([0.0, 0.25, 1.0],
                                                                       dtype=a.dtype), dim=-1),
           NONEMPTY, distinct=True),
    OpInfo("quantile_dim0_keepdim", lambda t, a: a.quantile(0.6, 0, keepdim=True), NONEMPTY,
           distinct=True),
    OpInfo("quantile_all_keepdim", lambda t, a: a.quantile(t.tensor([0.5, 0.9], dtype=a.dtype),
                                                           keepdim=True), NONEMPTY,
           distinct=True),
    OpInfo("quantile_lower", lambda t, a: a.quantile(0.45, -1, interpolation="lower"),
           NONEMPTY, distinct=True),
    OpInfo("quantile_higher", lambda t, a: a.quantile(0.45, 0, interpolation="higher"),
           NONEMPTY, distinct=True),
    OpInfo("quantile_midpoint", lambda t, a: a.quantile(0.45, interpolation="midpoint"),
           NONEMPTY, distinct=True),
    OpInfo("quantile_nearest", lambda t, a: a.quantile(t.tensor([0.5, 0.7], dtype=a.dtype), 0,
                                                       interpolation="nearest"),
           NONEMPTY, distinct=True),
    # (NaN outputs: torch's gradients are compared, finite differences are not meaningful)
    OpInfo("quantile_nan", lambda t, a: _with_nans(t, a).quantile(0.5, -1), NONEMPTY,
           distinct=True, gradcheck=False),
    OpInfo("nanquantile", lambda t, a: _with_nans(t, a).nanquantile(0.3, -1), NONEMPTY,
           distinct=True, gradcheck=False),
    OpInfo("nanquantile_q_tensor", lambda t, a: t.nanquantile(_with_nans(t, a), t.tensor(
        [0.1, 0.8], dtype=a.dtype), dim=0, keepdim=True), NONEMPTY, distinct=True,
        gradcheck=False),
]
