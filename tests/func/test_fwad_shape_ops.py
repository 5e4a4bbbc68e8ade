"""Forward-mode rules (``jvp``) of the shape, joining, indexing, scatter, selection, strided,
statistics and reduction ops against ``torch.autograd.forward_ad``: for each op class, dual
inputs with random tangents give the same primal and tangent (None for index outputs)."""

import warnings

import numpy as np
import pytest
import torch
import torch.autograd.forward_ad as tfw

import ember
import ember.autograd.forward_ad as efw
from ember._ops import indexing, joining, reduction, scatter, shape, sorting, statistics, strided
from ember.autograd import function as _function
from tests.func._fwad_harness import _arrays, _dual_run, op_classes, rules_run
from tests.parity import same_error

MODULES = (reduction, shape, joining, indexing, scatter, sorting, strided, statistics)

# Inputs with ties, zeros and NaN, for the ops whose derivative depends on them.
TIES = np.array([[1.0, 3.0, 3.0, -2.0], [2.0, 2.0, 0.0, 2.0], [0.5, -1.0, 4.0, 4.0]])
ZEROS = np.array([[1.5, 0.0, 2.0, -1.0], [0.0, 3.0, 0.0, 2.0], [0.5, -2.0, 4.0, 1.0]])
NANS = np.array([[1.0, np.nan, 3.0, 0.5], [2.0, -1.0, 0.0, 4.0], [np.nan, np.nan, 1.0, 2.0]])
CPLX = (np.arange(12).reshape(3, 4) * 0.3 - 1.5) + 1j * np.linspace(-1, 2, 12).reshape(3, 4)
I = np.array  # index arrays are passed as int64 numpy arrays


def _idx(m, a):
    return m.tensor(np.asarray(a, dtype=np.int64))


# name -> (fn(lib, *inputs), inputs); an input is a shape (random float64) or an array.
# Float and complex inputs are made dual; an index input is an int64 array.
CASES = {
    # -- shape.py
    "view": (lambda m, x: x.view(6, 2), [(3, 4)]),
    "view_0d": (lambda m, x: x.view(1, 1), [()]),
    "reshape_copy": (lambda m, x: x.t().reshape(-1), [(3, 4)]),
    "transpose": (lambda m, x: x.transpose(0, 2), [(2, 3, 4)]),
    "t": (lambda m, x: x.t(), [(3, 4)]),
    "t_1d": (lambda m, x: x.t(), [(4,)]),
    "permute": (lambda m, x: x.permute(2, 0, 1), [(2, 3, 4)]),
    "movedim": (lambda m, x: x.movedim(0, -1), [(2, 3, 4)]),
    "unsqueeze": (lambda m, x: x.unsqueeze(1), [(3, 4)]),
    "squeeze": (lambda m, x: x.squeeze(), [(3, 1, 4, 1)]),
    "squeeze_dim": (lambda m, x: x.squeeze(1), [(3, 1, 4)]),
    "squeeze_dims": (lambda m, x: x.squeeze((1, 3)), [(3, 1, 4, 1)]),
    "expand": (lambda m, x: x.expand(2, 3, 4), [(3, 1)]),
    "expand_0d": (lambda m, x: x.expand(3), [()]),
    "sum_to_size": (lambda m, x: x.sum_to_size(3, 1), [(2, 3, 4)]),
    "clone": (lambda m, x: x.clone(), [(3, 4)]),
    "contiguous": (lambda m, x: x.t().contiguous(), [(3, 4)]),
    "to_dtype": (lambda m, x: x.to(m.float32), [(3, 4)]),
    "to_complex": (lambda m, x: x.to(m.complex128), [(3, 4)]),
    "to_real": (lambda m, x: x.to(m.float64), [CPLX]),
    "to_int": (lambda m, x: x.to(m.int64), [(3, 4)]),
    # In-place views against PyTorch's out-of-place ones (same tangent; PyTorch's first
    # in-place op on a dual tensor costs seconds of start-up).
    "inplace_views": (lambda m, x: x.clone().t_().unsqueeze_(0).squeeze_(0).transpose_(0, 1)
                      .unsqueeze_(0).squeeze_((0,)) if m is ember else x, [(3, 4)]),
    "inplace_squeeze": (lambda m, x: x.clone().unsqueeze_(2).unsqueeze_(0).squeeze_(2)
                        .squeeze_() if m is ember else x, [(3, 4)]),
    "inplace_t_1d": (lambda m, x: x.clone().t_() if m is ember else x, [(4,)]),
    "narrow_select": (lambda m, x: (x.narrow(1, 1, 2), x.select(0, -1)), [(3, 4)]),
    "flatten_unflatten": (lambda m, x: x.flatten().unflatten(0, (2, 6)), [(3, 4)]),
    # -- joining.py
    "cat": (lambda m, a, b, c: m.cat([a, b, c], 1), [(3, 2), (3, 4), (3, 1)]),
    "cat_one_dual": (lambda m, a, b: m.cat([a, b.detach()], 0), [(2, 3), (1, 3)]),
    "cat_promote": (lambda m, a, b: m.cat([a, b.to(m.float32)]), [(2, 3), I([[1, 2, 3]])]),
    "cat_legacy_empty": (lambda m, a: m.cat([a, m.zeros(0, dtype=m.float64), a], 0),
                         [(2, 3)]),
    "stack": (lambda m, a, b: m.stack([a, b], -1), [(3, 4), (3, 4)]),
    "stack_0d": (lambda m, a, b: m.stack([a, b]), [(), ()]),
    "split": (lambda m, x: x.split(3, 1), [(3, 8)]),
    "split_sizes": (lambda m, x: x.split([1, 2], 0), [(3, 4)]),
    "chunk": (lambda m, x: x.chunk(4, 0), [(2, 3)]),
    "unbind": (lambda m, x: x.unbind(1), [(3, 4)]),
    "repeat": (lambda m, x: x.repeat(2, 1, 3), [(3, 4)]),
    "tile_0d": (lambda m, x: x.tile((2, 3)), [()]),
    "flip": (lambda m, x: x.flip(0, 1), [(3, 4)]),
    "roll": (lambda m, x: (x.roll(2, 1), x.roll(-1)), [(3, 4)]),
    "rot90": (lambda m, x: x.rot90(3, (1, 0)), [(3, 4)]),
    "block_diag": (lambda m, a, b, c: m.block_diag(a, b, c), [(2, 3), (4,), ()]),
    "block_diag_one_dual": (lambda m, a, b: m.block_diag(a.detach(), b), [(2, 3), (2, 2)]),
    "repeat_interleave": (lambda m, x: x.repeat_interleave(2, 1), [(3, 4)]),
    "broadcast_tensors": (lambda m, a, b: m.broadcast_tensors(a, b), [(3, 1), (4,)]),
    "meshgrid": (lambda m, a, b: m.meshgrid(a, b, indexing="xy"), [(3,), (2,)]),
    "complex_cat": (lambda m, a, b: m.cat([a, b]), [CPLX, CPLX[:1]]),
    "complex_indexing": (lambda m, a, v: (
        a.gather(1, _idx(m, [[0, 3], [1, 1], [2, 0]])), a.masked_fill(m.tensor(CPLX.real > 0), v),
        m.where(m.tensor(CPLX.imag > 0), a, v), a.index_put((_idx(m, [1]),), v), a[1:, ::2].sum(0),
        a.cumsum(1), a.mean(0)), [CPLX, np.array(0.5 - 2j)]),
    # -- indexing.py
    "getitem_basic": (lambda m, x: x[1:, None, ..., ::2], [(3, 4)]),
    "getitem_int": (lambda m, x: x[1, 2], [(3, 4)]),
    "getitem_advanced": (lambda m, x: x[[0, 2, 2], 1:], [(3, 4)]),
    "getitem_mask": (lambda m, x: x[x > 0], [(3, 4)]),
    "getitem_alias": (lambda m, x: x[...], [(3, 4)]),
    "getitem_none": (lambda m, x: x[:, None], [(3, 4)]),
    "index_put": (lambda m, x, v: x.index_put((_idx(m, [0, 2]),), v), [(3, 4), (2, 4)]),
    "index_put_acc": (lambda m, x, v: x.index_put((_idx(m, [1, 1]), _idx(m, [0, 0])), v, True),
                      [(3, 4), (2,)]),
    "index_put_bcast": (lambda m, x, v: m.index_put(x, (_idx(m, [0, 2]),), v), [(3, 4), ()]),
    "index_put_values_only": (lambda m, x, v: x.detach().index_put((_idx(m, [2]),), v),
                              [(3, 4), (4,)]),
    "take": (lambda m, x: x.take(_idx(m, [[0, 5], [-1, 5]])), [(3, 4)]),
    "where": (lambda m, a, b: m.where(a > 0, a, b), [(3, 4), (4,)]),
    "where_scalar": (lambda m, a: (m.where(a > 0, a, 0.5), m.where(a > 0, 2.0, a)), [(3, 4)]),
    "where_one_dual": (lambda m, a, b: m.where(a > 0, a.detach(), b), [(3, 1), (1, 4)]),
    "where_promote": (lambda m, a, b: m.where(b > 0, a.to(m.float32), b), [(3, 4), (3, 4)]),
    # -- scatter.py
    "gather": (lambda m, x: x.gather(1, _idx(m, [[0, 0], [3, 1], [2, 2]])), [(3, 4)]),
    "gather_0d": (lambda m, x: x.gather(0, _idx(m, 0)), [()]),
    "take_along_dim": (lambda m, x: m.take_along_dim(x, _idx(m, [[0], [2]]), 1), [(1, 4)]),
    "scatter": (lambda m, x, s: x.scatter(0, _idx(m, [[0, 1, 2, 0], [1, 2, 0, 1]]), s),
                [(3, 4), (2, 5)]),
    "scatter_src_only": (lambda m, x, s: x.detach().scatter(1, _idx(m, [[0, 3]]), s),
                         [(3, 4), (1, 2)]),
    "scatter_value": (lambda m, x: x.scatter(1, _idx(m, [[0], [3]]), 2.5), [(3, 4)]),
    "scatter_add": (lambda m, x, s: x.scatter_add(0, _idx(m, [[0, 0, 2, 0]]), s),
                    [(3, 4), (2, 4)]),
    "scatter_reduce": (lambda m, x, s: tuple(
        x.scatter_reduce(0, _idx(m, [[0, 1, 2, 0], [1, 1, 0, 2]]), s, r, include_self=inc)
        for r in ("sum", "mean", "amax", "amin", "prod") for inc in (True, False)),
        [TIES, TIES[:2] * 1.0]),
    "scatter_reduce_ties": (lambda m, x, s: tuple(
        x.scatter_reduce(1, _idx(m, [[0, 0, 1], [2, 2, 2], [3, 3, 0]]), s, r, include_self=inc)
        for r in ("amax", "amin") for inc in (True, False)),
        [TIES, np.array([[1.0, 1.0, 3.0], [0.0, 0.0, 0.0], [4.0, 4.0, 0.5]])]),
    "scatter_reduce_src_only": (lambda m, x, s: x.detach().scatter_reduce(
        0, _idx(m, [[0, 1, 2, 0]]), s, "amax"), [TIES, (1, 4)]),
    "index_select": (lambda m, x: x.index_select(1, _idx(m, [3, 0, 3])), [(3, 4)]),
    "index_select_0d": (lambda m, x: x.index_select(0, _idx(m, [0])), [()]),
    "index_add": (lambda m, x, s: x.index_add(0, _idx(m, [2, 2]), s, alpha=-1.5),
                  [(3, 4), (2, 4)]),
    "index_copy": (lambda m, x, s: x.index_copy(1, _idx(m, [3, 1]), s), [(3, 4), (3, 2)]),
    "index_fill": (lambda m, x: x.index_fill(1, _idx(m, [0, 2]), -1.0), [(3, 4)]),
    "index_fill_tensor": (lambda m, x, v: x.index_fill(1, _idx(m, [0, 2]), v), [(3, 4), ()]),
    "index_fill_value_only": (lambda m, x, v: x.detach().index_fill(0, _idx(m, [1]), v),
                              [(3, 4), ()]),
    "masked_fill": (lambda m, x: x.masked_fill(x > 0, 3.0), [(3, 4)]),
    "masked_fill_tensor": (lambda m, x, v: x.masked_fill(x > 0, v), [(3, 4), ()]),
    "masked_fill_bcast": (lambda m, x, v: x.masked_fill(m.tensor([True, False, True, False]), v),
                          [(3, 4), ()]),
    "masked_fill_value_only": (lambda m, x, v: x.detach().masked_fill(x > 0, v), [(3, 4), ()]),
    "masked_scatter": (lambda m, x, s: x.masked_scatter(x > 0, s), [(3, 4), (4, 4)]),
    "masked_scatter_bcast": (lambda m, x, s: x.masked_scatter(m.tensor([True, False, True]), s),
                             [(2, 3), (5,)]),
    "masked_select": (lambda m, x: x.masked_select(m.tensor([True, False, True, True])),
                      [(3, 4)]),
    # -- sorting.py
    "max_dim": (lambda m, x: x.max(1), [TIES]),
    "min_dim_keepdim": (lambda m, x: x.min(0, keepdim=True), [TIES]),
    "max_dim_0d": (lambda m, x: x.max(0), [()]),
    "max_all_ties": (lambda m, x: (x.max(), x.min()), [TIES]),
    "amax_ties": (lambda m, x: (x.amax(1), x.amin((0, 1), keepdim=True)), [TIES]),
    "amax_0d": (lambda m, x: (x.amax(), x.amin(0)), [()]),
    "amax_nan": (lambda m, x: (x.amax(1), x.max()), [NANS]),
    "aminmax": (lambda m, x: (m.aminmax(x), m.aminmax(x, dim=0, keepdim=True)), [TIES]),
    "cummax": (lambda m, x: (x.cummax(1), x.cummin(0)), [TIES]),
    "cummax_0d": (lambda m, x: x.cummax(0), [()]),
    "sort": (lambda m, x: (x.sort(1), x.sort(0, descending=True)), [TIES]),
    "sort_0d": (lambda m, x: x.sort(), [()]),
    "msort": (lambda m, x: m.msort(x), [(3, 4)]),
    # (no ties: PyTorch's topk and kthvalue pick tied indices in no documented order)
    "topk": (lambda m, x: (x.topk(2), x.topk(2, 0, largest=False), x.topk(1, 0)), [(3, 4)]),
    "kthvalue": (lambda m, x: (x.kthvalue(2, 1), x.kthvalue(3, 0, keepdim=True)), [(3, 4)]),
    "kthvalue_0d": (lambda m, x: x.kthvalue(1), [()]),
    "median_dim": (lambda m, x: (x.median(1), x.median(0, keepdim=True)), [TIES]),
    "nanmedian_dim": (lambda m, x: x.nanmedian(1), [NANS]),
    "mode": (lambda m, x: (x.mode(1), x.mode(0, keepdim=True)), [TIES]),
    "median_all": (lambda m, x: (x.median(), x.nanmedian()), [TIES]),
    "median_all_empty": (lambda m, x: (x.median(), x.nanmedian()), [(0, 3)]),
    "median_all_nan": (lambda m, x: (x.median(), x.nanmedian()), [NANS]),
    # (interpolations without lerp, whose rule is not in these modules)
    "quantile": (lambda m, x: (x.quantile(0.3, 1, interpolation="lower"),
                               x.nanquantile(m.tensor([0.25, 0.5], dtype=m.float64),
                                             interpolation="nearest")), [NANS]),
    "quantile_linear": (lambda m, x: (x.quantile(0.3, 1), x.nanquantile(
        m.tensor([0.25, 0.5], dtype=m.float64), interpolation="midpoint")), [NANS]),
    # -- strided.py
    "unfold": (lambda m, x: x.unfold(1, 2, 1), [(3, 4)]),
    "unfold_0d": (lambda m, x: x.unfold(0, 1, 1), [()]),
    "as_strided": (lambda m, x: x.as_strided((2, 2), (1, 2), 1), [(3, 4)]),
    "as_strided_view": (lambda m, x: (x[1:].as_strided((2, 3), (3, 1)),
                                      x.t().as_strided((2, 2), (1, 3), 2)), [(3, 4)]),
    "diagonal": (lambda m, x: (x.diagonal(1), x.diagonal(-1, 0, 2)), [(3, 4, 3)]),
    "diag": (lambda m, x, v: (m.diag(x, 1), m.diag(v, -1)), [(3, 4), (3,)]),
    "diag_embed": (lambda m, x: m.diag_embed(x, 1, 0, 2), [(2, 3)]),
    "diagflat": (lambda m, x: m.diagflat(x), [(2, 2)]),
    "tril_triu": (lambda m, x: (x.tril(), x.triu(1), x.tril(-1)), [(2, 3, 4)]),
    # -- statistics.py
    "renorm": (lambda m, x: (x.renorm(2, 0, 1.0), x.renorm(1.5, 1, 2.0)), [(3, 4)]),
    "renorm_inf": (lambda m, x: x.renorm(float("inf"), 0, 2.0), [TIES]),
    "logcumsumexp": (lambda m, x: (x.logcumsumexp(1), x.logcumsumexp(0)), [(3, 4)]),
    # running sums far below the max: tiny (clamped) and underflowed (no subnormals, which
    # make PyTorch's first call take seconds)
    "logcumsumexp_large": (lambda m, x: x.logcumsumexp(0),
                           [np.array([[0.0, -800.0, 5.0], [-40.0, 1.0, -900.0],
                                      [2.0, -850.0, 3.0]])]),
    "logcumsumexp_0d": (lambda m, x: x.logcumsumexp(0), [()]),
    "cov_corrcoef": (lambda m, x: (m.cov(x), m.corrcoef(x)), [(3, 4)]),
    # -- reduction.py
    "sum": (lambda m, x: (x.sum(), x.sum((0, 1), keepdim=True), x.sum(0, dtype=m.float32)),
            [(3, 4)]),
    "nansum": (lambda m, x: (x.nansum(), x.nansum(1, keepdim=True)), [NANS]),
    "nanmean": (lambda m, x: x.nanmean(1), [NANS]),
    "mean": (lambda m, x: (x.mean(), x.mean(1), x.mean((0,), keepdim=True)), [(3, 4)]),
    "mean_0d": (lambda m, x: (x.mean(), x.mean(0)), [()]),
    "prod": (lambda m, x: (x.prod(), x.prod(1), x.prod(0, keepdim=True)), [(3, 4)]),
    "prod_zeros": (lambda m, x: (x.prod(), x.prod(1), x.prod(0, keepdim=True)), [ZEROS]),
    "prod_0d": (lambda m, x: (x.prod(), x.prod(0)), [()]),
    "prod_dtype": (lambda m, x: x.to(m.float32).prod(1, dtype=m.float64), [(3, 4)]),
    "prod_complex": (lambda m, x: (x.prod(), x.prod(0)), [CPLX]),
    "var_std": (lambda m, x: (x.var(), x.std(1), x.var(0, correction=0, keepdim=True),
                              x.std((0, 1), correction=2)), [(3, 4)]),
    "var_std_mean": (lambda m, x: (m.var_mean(x, 1), m.std_mean(x, 0, keepdim=True),
                                   m.std_mean(x)), [(3, 4)]),
    "std_constant": (lambda m, x: (x.std(1), m.std_mean(x, 1)), [np.ones((2, 3))]),
    "var_complex": (lambda m, x: (x.var(1), m.std_mean(x)), [CPLX]),
    "var_no_dof": (lambda m, x: (x.var(0), x.std(0), m.var_mean(x, 0)), [(1, 3)]),
    "var_0d": (lambda m, x: (x.var(correction=0), x.std(0, correction=0)), [()]),
    "norm": (lambda m, x: tuple(x.norm(p) for p in
                                (2, 1, 0, 3, 1.5, 0.5, float("inf"), -float("inf"))),
             [TIES]),
    "norm_dims": (lambda m, x: (x.norm(dim=1), x.norm(3, (0,), True),
                                x.norm(float("inf"), 1)), [TIES]),
    "norm_zero": (lambda m, x: (x.norm(dim=0), x.norm(3, 0),
                                x.norm(1.5, 0)), [np.zeros((2, 3))]),
    "norm_complex": (lambda m, x: tuple(x.norm(p, 1) for p in
                                        (2, 1, 3, float("inf"))), [CPLX]),
    "logsumexp": (lambda m, x: (x.logsumexp(1), x.logsumexp((0, 1), keepdim=True)), [(3, 4)]),
    "logsumexp_inf": (lambda m, x: x.logsumexp(1),
                      [np.array([[-np.inf, -np.inf], [0.0, -np.inf], [np.inf, 1.0]])]),
    "logsumexp_0d": (lambda m, x: x.logsumexp(0), [()]),
    "cumsum": (lambda m, x: (x.cumsum(1), x.cumsum(0, dtype=m.float32)), [(3, 4)]),
    "cumsum_0d": (lambda m, x: x.cumsum(0), [()]),
    "cumprod": (lambda m, x: (x.cumprod(1), x.cumprod(0)), [(3, 4)]),
    "cumprod_zeros": (lambda m, x: (x.cumprod(1), x.cumprod(0)),
                      [np.array([[1.5, 0.0, 2.0, 0.0, 3.0], [0.0, 0.0, 2.0, 1.0, -1.0],
                                 [2.0, -3.0, 0.5, 4.0, 0.0]])]),
    "cumprod_complex": (lambda m, x: x.cumprod(1), [CPLX * np.array([1, 0, 1, 1])]),
    "cumprod_0d": (lambda m, x: x.cumprod(0), [()]),
    "diff": (lambda m, x, p: m.diff(x, 2, 1, prepend=p), [(3, 4), (3, 1)]),
}


def _same(e, t, where=""):
    if isinstance(t, list):
        assert isinstance(e, list) and len(e) == len(t), where
        for i, (a, b) in enumerate(zip(e, t)):
            _same(a, b, f"{where}[{i}]")
        return
    (ep, ed, et), (tp, td, tt) = e, t
    assert ed == td, f"{where}: dtype {ed} vs torch {td}"
    tol = 1e-6 if ed in ("float32", "complex64") else 1e-9
    np.testing.assert_allclose(ep, tp, rtol=tol, atol=tol * 1e-3, err_msg=f"{where} primal")
    assert (et is None) == (tt is None), f"{where}: tangent {et} vs torch {tt}"
    if tt is not None:
        assert et.shape == tt.shape and et.dtype == tt.dtype, f"{where}: {et.dtype} {tt.dtype}"
        tol = 1e-6 if ed in ("float32", "complex64") else 1e-7
        np.testing.assert_allclose(et, tt, rtol=tol, atol=tol * 1e-2, err_msg=f"{where} tangent")


def _compare(name: str) -> None:
    fn, inputs = CASES[name]
    primals, tangents = _arrays(inputs, len(name))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = _dual_run(torch, tfw, fn, primals, tangents)
        got = _dual_run(ember, efw, fn, primals, tangents)
    _same(got, expected, name)


@pytest.mark.parametrize("name", list(CASES))
def test_dual_matches_torch(name):
    _compare(name)


def test_tangent_stays_differentiable():
    # reverse over forward: the tangent of a nonlinear rule depends on the primal
    res = []
    for m, fw in ((ember, efw), (torch, tfw)):
        x = m.tensor(ZEROS[:2] + 0.25, requires_grad=True)
        with fw.dual_level():
            d = fw.make_dual(x, m.ones(2, 4, dtype=m.float64))
            # (not logsumexp: PyTorch's rule writes in place what its backward needs)
            y = d.prod(1).sum() + d.std() + d.cumprod(1).sum() + d.norm(3)
            tangent = fw.unpack_dual(y).tangent
        tangent.backward()
        res.append(x.grad.numpy())
    np.testing.assert_allclose(*res, rtol=1e-9)


# -- every op class has a rule ----------------------------------------------------------------
# Classes PyTorch gives no forward derivative: ember raises its error type and message.
NO_RULE = {"ScatterLegacyReduce": "scatter(..., reduce=) has no derivative in PyTorch"}


def _op_classes():
    return op_classes(MODULES)


def test_every_op_class_has_a_rule():
    missing = [name for name, cls in _op_classes()
               if cls.jvp is _function.Function.jvp and name not in NO_RULE]
    assert not missing, missing


def test_every_op_class_is_checked():
    """Every op class of these modules runs its rule in some case above."""
    def every_case():
        for name in CASES:
            fn, inputs = CASES[name]
            _dual_run(ember, efw, fn, *_arrays(inputs, 0))
    seen = rules_run(every_case)
    # Internal ops only reached by backward (double backward, reverse-over-forward).
    internal = {"RevCumsum", "IndexGrad", "PutAlong", "TakeAlong", "DiagonalScatter"}
    # Bases only their subclasses apply (the subclasses inherit their rules).
    bases = {"BasicIndex", "Selection"}
    unchecked = [n for n, cls in _op_classes()
                 if cls not in seen and n not in internal | bases | set(NO_RULE)
                 and not n.startswith("_")]
    assert not unchecked, unchecked


@pytest.mark.parametrize("fn", [
    lambda m, x: x.scatter(0, _idx(m, [[0, 1]]), x[:1], reduce="add"),
    lambda m, x: x.scatter(1, _idx(m, [[0], [1]]), 2.0, reduce="multiply"),
    # functions without an op class whose forward AD PyTorch refuses
    lambda m, x: m.unique(x),
    lambda m, x: m.unique(x, dim=1, return_inverse=True),
    lambda m, x: m.unique_consecutive(x),
    lambda m, x: m.unique_consecutive(x, dim=0),
    lambda m, x: m.bincount(_idx(m, [0, 2, 2]), x[0]),
    lambda m, x: m.histogram(x, 3),
    lambda m, x: m.histogram(x.detach(), 2, weight=x),
    lambda m, x: m.histogram(x.detach(), x[0]),
])
def test_no_forward_derivative_like_torch(fn):
    """The same error type and message as PyTorch's forward AD."""
    def call(m, fw):
        with fw.dual_level():
            fn(m, fw.make_dual(m.ones(2, 3, dtype=m.float64), m.ones(2, 3, dtype=m.float64)))
    same_error(ember_fn=lambda: call(ember, efw), torch_fn=lambda: call(torch, tfw))
    with pytest.raises(NotImplementedError, match="^Trying to use forward AD with "):
        call(ember, efw)


def test_internal_backward_ops_rules():
    """The ops only backward builds (reverse over forward, double backward) against the
    PyTorch ops they compute."""
    from ember._ops.indexing import IndexGrad
    from ember._ops.reduction import RevCumsum
    from ember._ops.sorting import PutAlong, TakeAlong
    from ember._ops.strided import DiagonalScatter
    idx = np.array([[0, 2], [1, 1], [3, 0]])
    rows = np.array([0, 0, 2])
    pairs = [
        (lambda a: RevCumsum.apply(a, 1), lambda a: a.flip(1).cumsum(1).flip(1)),
        (lambda a: IndexGrad.apply(a, (rows,), (3, 4), True),
         lambda a: a.new_zeros(3, 4).index_put((torch.tensor(rows),), a, accumulate=True)),
        (lambda a: PutAlong.apply(a[:, :2], idx, 1, (3, 4), True),
         lambda a: a.new_zeros(3, 4).scatter_add(1, torch.tensor(idx), a[:, :2])),
        (lambda a: TakeAlong.apply(a, idx, 1), lambda a: a.gather(1, torch.tensor(idx))),
        (lambda a: DiagonalScatter.apply(a, (3, 4, 5), 1, 1, 2),
         lambda a: torch.diagonal_scatter(a.new_zeros(3, 4, 5), a, 1, 1, 2)),
    ]
    primals, tangents = _arrays([(3, 4)], 5)
    for ember_call, torch_call in pairs:
        _same(_dual_run(ember, efw, lambda m, a: ember_call(a), primals, tangents),
              _dual_run(torch, tfw, lambda m, a: torch_call(a), primals, tangents))


def test_renorm_inf_is_the_max_norm():
    """renorm's p=inf (fixed with its rule): the max norm, its gradient shared by ties."""
    res = []
    for m in (ember, torch):
        x = m.tensor(TIES, requires_grad=True)
        y = x.renorm(float("inf"), 0, 2.0)
        y.backward(m.tensor(np.arange(12.0).reshape(3, 4)))
        res.append((y.detach().numpy(), x.grad.numpy()))
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, rtol=1e-9)
