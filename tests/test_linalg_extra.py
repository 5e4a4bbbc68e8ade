"""Linear algebra beyond the op table: errors (type and message vs torch), named-tuple results,
double backward, non-raising variants, degenerate inputs, in-place and ``out=`` forms."""

import warnings

import numpy as np
import pytest
import torch

import ember
from tests.parity import same_error

RNG = np.random.default_rng(0)


def _pair(*shapes, dtype="float64", requires_grad=False):
    arrays = [RNG.standard_normal(s).astype(dtype) for s in shapes]
    e = [ember.from_numpy(a.copy()).requires_grad_(requires_grad) for a in arrays]
    t = [torch.from_numpy(a.copy()).requires_grad_(requires_grad) for a in arrays]
    return e, t


def _raises_like_torch(fn, *arrays, match_message=True):
    """fn(lib, *tensors) raises alike under both libraries (first lines of the messages)."""
    same_error(lambda lib: fn(lib, *[lib.from_numpy(np.array(a)) for a in arrays]),
               message=match_message, first_line=True)


F = np.float32
A33 = RNG.standard_normal((3, 3)).astype(F)
A34 = RNG.standard_normal((3, 4)).astype(F)
V3 = RNG.standard_normal(3).astype(F)
V4 = RNG.standard_normal(4).astype(F)
B333 = RNG.standard_normal((2, 3, 3)).astype(F)
SINGULAR = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.0, 1.0, 1.0]], dtype=F)
BATCH_SINGULAR = np.stack([np.eye(3, dtype=F), np.zeros((3, 3), F)])

ERRORS = {
    "mm_shape": (lambda t, a: t.mm(a, a), A34),
    "mm_1d": (lambda t, a, b: t.mm(a, b), V3, A33),
    "mm_dtype": (lambda t, a: t.mm(a, a.double()), A33),
    "matmul_int_float": (lambda t, a: t.matmul(a.long(), a), A33),
    "matmul_0d": (lambda t, a, b: t.matmul(a, b), np.float32(1.0), A33),
    "matmul_batch": (lambda t, a, b: a @ b, RNG.standard_normal((2, 3, 4)).astype(F),
                     RNG.standard_normal((3, 4, 5)).astype(F)),
    "dot_shape": (lambda t, a, b: t.dot(a, b), V3, V4),
    "dot_2d": (lambda t, a, b: t.dot(a, b), A33, V3),
    "dot_dtype": (lambda t, a: t.dot(a, a.double()), V3),
    "vdot_2d": (lambda t, a, b: t.vdot(a, b), A33, V3),
    "mv_shape": (lambda t, a, b: t.mv(a, b), A34, V3),
    "mv_2d": (lambda t, a: t.mv(a, a), A33),
    "bmm_2d": (lambda t, a: t.bmm(a, a), A33),
    "bmm_shape": (lambda t, a: t.bmm(a, a), RNG.standard_normal((2, 3, 4)).astype(F)),
    "addmm_1d": (lambda t, a, b: t.addmm(a, b, a), A33, V3),
    "addmm_dtype": (lambda t, a: t.addmm(a.double(), a, a), A33),
    "addmm_expand": (lambda t, a, b: t.addmm(b, a, a.T), A34, RNG.standard_normal(5).astype(F)),
    "addmv_shape": (lambda t, a, b: t.addmv(b, a, b), A34, V3),
    "addr_2d": (lambda t, a, b: t.addr(a, a, b), A33, V3),
    "baddbmm_shape": (lambda t, a: t.baddbmm(a, a, a.mT[:, :2]), B333),
    "addbmm_batches": (lambda t, a, b: t.addbmm(a[0], a, b), B333,
                       RNG.standard_normal((3, 3, 3)).astype(F)),
    "outer_2d": (lambda t, a, b: t.outer(a, b), A33, V3),
    "inner_shape": (lambda t, a, b: t.inner(a, b), A33, V4),
    "tensordot_neg": (lambda t, a: t.tensordot(a, a, dims=-1), A33),
    "tensordot_len": (lambda t, a: t.tensordot(a, a, dims=([0, 1], [0])), A33),
    "tensordot_size": (lambda t, a: t.tensordot(a, a, dims=([0], [1])), A34),
    "trace_1d": (lambda t, a: t.trace(a), V3),
    "cross_len": (lambda t, a: t.linalg.cross(a, a), A34),
    "cross_ndim": (lambda t, a, b: t.linalg.cross(a, b), A33, V3),
    "cross_none": (lambda t, a: t.cross(a, a), RNG.standard_normal((4, 4)).astype(F)),
    "multi_dot_one": (lambda t, a: t.linalg.multi_dot([a]), A33),
    "multi_dot_3d": (lambda t, a, b: t.linalg.multi_dot([a, b]), A33, B333),
    "multi_dot_shape": (lambda t, a: t.linalg.multi_dot([a, a, a]), A34),
    "chain_matmul_1d": (lambda t, a, b: t.chain_matmul(a, b), A33, V3),
    "vecdot_int": (lambda t, a: t.linalg.vecdot(a.long(), a.long()), V3),
    "cdist_1d": (lambda t, a: t.cdist(a, a), V3),
    "cdist_cols": (lambda t, a, b: t.cdist(a, b), A33, A34),
    "cdist_p": (lambda t, a: t.cdist(a, a, p=-1), A33),
    "cdist_int": (lambda t, a: t.cdist(a.long(), a.long()), A33),
    "einsum_operands_few": (lambda t, a: t.einsum("ij,jk->ik", a), A33),
    "einsum_operands_many": (lambda t, a: t.einsum("ij", a, a), A33),
    "einsum_dims": (lambda t, a, b: t.einsum("ij,jk->ik", a, b), A33, V3),
    "einsum_ellipsis_dims": (lambda t, a: t.einsum("...ijk", a), A33),
    "einsum_size": (lambda t, a: t.einsum("ij,jk", a, a.T[:3]), A34),
    "einsum_char": (lambda t, a: t.einsum("i1->i", a), A33),
    "einsum_out_repeat": (lambda t, a: t.einsum("ij->ii", a), A33),
    "einsum_out_unknown": (lambda t, a: t.einsum("ij->k", a), A33),
    "einsum_two_ellipses": (lambda t, a: t.einsum("...i->...i...", a), A33),
    "einsum_dtype": (lambda t, a: t.einsum("ij,jk", a, a.double()), A33),
    "inv_singular": (lambda t, a: t.linalg.inv(a), SINGULAR),
    "inv_zero": (lambda t, a: t.linalg.inv(a * 0), A33),
    "inv_batch_singular": (lambda t, a: t.linalg.inv(a), BATCH_SINGULAR),
    "inverse_singular": (lambda t, a: t.inverse(a), SINGULAR),
    "inv_nonsquare": (lambda t, a: t.linalg.inv(a), A34),
    "inv_1d": (lambda t, a: t.linalg.inv(a), V3),
    "inv_int": (lambda t, a: t.linalg.inv(a.long()), A33),
    "det_nonsquare": (lambda t, a: t.linalg.det(a), A34),
    "det_int": (lambda t, a: t.det(a.long()), A33),
    "slogdet_nonsquare": (lambda t, a: t.linalg.slogdet(a), A34),
    "solve_singular": (lambda t, a, b: t.linalg.solve(a, b), SINGULAR, A33),
    "solve_batch_singular": (lambda t, a, b: t.linalg.solve(a, b), BATCH_SINGULAR, A33),
    "solve_shape": (lambda t, a, b: t.linalg.solve(a, b), A33, A34.T),
    "solve_shape_right": (lambda t, a, b: t.linalg.solve(a, b, left=False), A33, A34),
    "solve_vector_right": (lambda t, a, b: t.linalg.solve(a[:1, :1], b[:1], left=False), A33,
                           V3),
    "solve_dtype": (lambda t, a: t.linalg.solve(a, a.double()), A33),
    "solve_1d": (lambda t, a: t.linalg.solve(a, a), V3),
    "cholesky_not_pd": (lambda t, a: t.linalg.cholesky(-a @ a.T), A33),
    "cholesky_indefinite": (lambda t: t.linalg.cholesky(t.tensor([[1.0, 2.0], [2.0, 1.0]])),),
    "cholesky_batch": (lambda t, a: t.linalg.cholesky(t.stack([a @ a.T + t.eye(3), -a @ a.T])),
                       A33),
    "cholesky_legacy_not_pd": (lambda t, a: t.cholesky(-a @ a.T), A33),
    "cholesky_nonsquare": (lambda t, a: t.linalg.cholesky(a), A34),
    "qr_mode": (lambda t, a: t.linalg.qr(a, mode="x"), A33),
    "qr_1d": (lambda t, a: t.linalg.qr(a), V3),
    "qr_int": (lambda t, a: t.linalg.qr(a.long()), A33),
    "svd_int": (lambda t, a: t.linalg.svd(a.long()), A33),
    "eigh_nonsquare": (lambda t, a: t.linalg.eigh(a), A34),
    "eigh_uplo": (lambda t, a: t.linalg.eigh(a, UPLO="X"), A33),
    "matrix_power_nonsquare": (lambda t, a: t.linalg.matrix_power(a, 2), A34),
    "matrix_power_1d": (lambda t, a: t.matrix_power(a, 2), V3),
    "matrix_power_int_neg": (lambda t, a: t.matrix_power(a.long(), -1), A33),
    "matrix_power_float_n": (lambda t, a: t.linalg.matrix_power(a, 2.0), A33),
    "matrix_rank_int": (lambda t, a: t.linalg.matrix_rank(a.long()), A33),
    "pinv_int": (lambda t, a: t.linalg.pinv(a.long()), A33),
    "vector_norm_int": (lambda t, a: t.linalg.vector_norm(a.long()), V3),
    "vector_norm_empty_inf": (lambda t, a: t.linalg.vector_norm(a[:0], float("inf")), V3),
    "vector_norm_str": (lambda t, a: t.linalg.vector_norm(a, "fro"), A33),
    "matrix_norm_1d": (lambda t, a: t.linalg.matrix_norm(a), V3),
    "matrix_norm_ord": (lambda t, a: t.linalg.matrix_norm(a, 3), A33),
    "matrix_norm_dims": (lambda t, a: t.linalg.matrix_norm(a, dim=(0, 0)), A33),
    "norm_3d_ord": (lambda t, a: t.linalg.norm(a, 2), B333),
    "norm_dims": (lambda t, a: t.linalg.norm(a, dim=(0, 1, 1)), B333),
    "norm_nuc_vector": (lambda t, a: t.linalg.norm(a, "nuc"), V3),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_errors_match_torch(name):
    fn, *arrays = ERRORS[name]
    _raises_like_torch(fn, *arrays)


def test_linalg_error_is_runtime_error():
    assert issubclass(ember.linalg.LinAlgError, RuntimeError)
    with pytest.raises(RuntimeError, match="singular"):
        ember.linalg.inv(ember.zeros(2, 2))


# -- named tuples ---------------------------------------------------------------------------
@pytest.mark.parametrize("name,fn", [
    ("linalg_slogdet", lambda t, a: t.linalg.slogdet(a)),
    ("slogdet", lambda t, a: t.slogdet(a)),
    ("linalg_qr", lambda t, a: t.linalg.qr(a)),
    ("linalg_svd", lambda t, a: t.linalg.svd(a)),
    ("linalg_eigh", lambda t, a: t.linalg.eigh(a + a.mT)),
    ("linalg_inv_ex", lambda t, a: t.linalg.inv_ex(a)),
    ("linalg_cholesky_ex", lambda t, a: t.linalg.cholesky_ex(a @ a.mT + t.eye(2))),
])
def test_named_tuples_print_like_torch(name, fn):
    a = np.array([[2.0, 1.0], [0.5, 3.0]], dtype=np.float32)
    e, t = fn(ember, ember.from_numpy(a)), fn(torch, torch.from_numpy(a))
    assert type(e).__name__ == type(t).__name__ == name
    assert isinstance(e, getattr(ember.return_types, name))
    assert len(e) == len(t)
    first = repr(e).split("\n")[0]
    assert first == repr(t).split("\n")[0].replace("torch.", "ember.")
    fields = [line.split("=")[0] for line in repr(t).split("\n")[1:] if "=" in line]
    assert [line.split("=")[0] for line in repr(e).split("\n")[1:] if "=" in line] == fields
    sign, logabsdet = ember.linalg.slogdet(ember.from_numpy(a))
    assert ember.linalg.slogdet(ember.from_numpy(a)).logabsdet.item() == logabsdet.item()


# -- double backward ------------------------------------------------------------------------
def _f64(*shapes):
    return [ember.from_numpy(RNG.standard_normal(s)).requires_grad_() for s in shapes]


@pytest.mark.parametrize("name,fn,shapes", [
    ("inv", lambda a: ember.linalg.inv(a + 3 * ember.eye(3, dtype=ember.float64)), [(3, 3)]),
    ("det", lambda a: ember.linalg.det(a), [(3, 3)]),
    ("slogdet", lambda a: ember.linalg.slogdet(a).logabsdet, [(3, 3)]),
    ("solve", lambda a, b: ember.linalg.solve(a + 3 * ember.eye(3, dtype=ember.float64), b),
     [(3, 3), (3, 2)]),
    ("cholesky", lambda a: ember.linalg.cholesky(a @ a.mT + 3 * ember.eye(3, dtype=a.dtype)),
     [(3, 3)]),
    ("einsum_diag", lambda a, b: ember.einsum("ii,ij->j", a, b), [(3, 3), (3, 2)]),
    ("eigvalsh", lambda a: ember.linalg.eigvalsh(
        a + a.mT + 4 * ember.eye(3, dtype=a.dtype) * ember.arange(3, dtype=a.dtype)), [(3, 3)]),
    ("svdvals", lambda a: ember.linalg.svdvals(a), [(4, 3)]),
    ("vector_norm", lambda a: ember.linalg.vector_norm(a, 3), [(4,)]),
    ("cdist", lambda a, b: ember.cdist(a, b), [(3, 2), (4, 2)]),
    ("cross", lambda a, b: ember.linalg.cross(a, b), [(2, 3), (2, 3)]),
    ("pinv", lambda a: ember.linalg.pinv(a), [(4, 3)]),
])
def test_gradgradcheck(name, fn, shapes):
    assert ember.autograd.gradgradcheck(fn, _f64(*shapes), eps=1e-6, atol=1e-5, rtol=1e-3)


# -- non-raising variants, degenerate inputs ------------------------------------------------
def test_inv_ex_reports_singular_elements():
    a = np.stack([np.eye(3), np.zeros((3, 3)), np.array(SINGULAR, dtype=np.float64)])
    e = ember.linalg.inv_ex(ember.from_numpy(a))
    t = torch.linalg.inv_ex(torch.from_numpy(a))
    np.testing.assert_array_equal(e.info.numpy(), t.info.numpy())
    assert e.info.dtype == ember.int32
    np.testing.assert_allclose(e.inverse[0].numpy(), np.eye(3))
    assert np.isnan(e.inverse[1].numpy()).all()
    with pytest.raises(ember.linalg.LinAlgError, match="Batch element 1"):
        ember.linalg.inv_ex(ember.from_numpy(a), check_errors=True)


def test_cholesky_ex_reports_minor():
    a = np.stack([np.eye(2), np.array([[1.0, 2.0], [2.0, 1.0]])])
    e = ember.linalg.cholesky_ex(ember.from_numpy(a))
    t = torch.linalg.cholesky_ex(torch.from_numpy(a))
    np.testing.assert_array_equal(e.info.numpy(), t.info.numpy())
    np.testing.assert_allclose(e.L[0].numpy(), t.L[0].numpy())


def test_det_gradient_at_singular_matrix_is_the_cofactor_matrix():
    # torch's LU-based backward returns 0 here; the cofactor matrix is the true derivative.
    a = ember.tensor([[1.0, 2.0, 0.0], [2.0, 4.0, 0.0], [0.0, 0.0, 1.0]],
                     dtype=ember.float64, requires_grad=True)
    ember.linalg.det(a).backward()
    cof = np.array([[4.0, -2.0, 0.0], [-2.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(a.grad.numpy(), cof, atol=1e-12)
    z = ember.zeros(3, 3, dtype=ember.float64, requires_grad=True)
    ember.linalg.det(z).backward()
    np.testing.assert_array_equal(z.grad.numpy(), np.zeros((3, 3)))


def test_matrix_power_zero_is_identity():
    (e,), (t,) = _pair((2, 3, 3))
    np.testing.assert_array_equal(ember.linalg.matrix_power(e, 0).numpy(),
                                  torch.linalg.matrix_power(t, 0).numpy())


def test_qr_backward_errors_match_torch():
    for mode, shape in (("r", (3, 3)), ("complete", (4, 3))):
        (e,), (t,) = _pair(shape, requires_grad=True)
        msgs = []
        for lib, x in ((torch, t), (ember, e)):
            q, r = lib.linalg.qr(x, mode=mode)
            with pytest.raises(RuntimeError) as err:
                (r.sum() + (q.sum() if q.numel() else 0)).backward()
            msgs.append(str(err.value))
        assert msgs[0] == msgs[1]


def test_svd_full_matrices_gradient_ignores_extra_columns():
    (e,), (t,) = _pair((4, 2), requires_grad=True)
    for lib, x in ((ember, e), (torch, t)):
        u, s, vh = lib.linalg.svd(x)
        (u[:, :2].abs().sum() + s.sum() + vh.abs().sum()).backward()
    np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), atol=1e-10)


def test_eigh_gradient_degenerate_spectrum_is_not_finite():
    # Repeated eigenvalues make eigenvector gradients ill-defined (as in torch).
    a = ember.eye(3, dtype=ember.float64).requires_grad_()
    w, v = ember.linalg.eigh(a)
    v.abs().sum().backward()
    assert not np.isfinite(a.grad.numpy()).all()


def test_eigh_reads_one_triangle():
    (e,), (t,) = _pair((3, 3))
    for uplo in ("L", "U"):
        np.testing.assert_allclose(ember.linalg.eigvalsh(e, UPLO=uplo).numpy(),
                                   torch.linalg.eigvalsh(t, UPLO=uplo).numpy(), atol=1e-12)


def test_pinv_and_matrix_rank_tolerances():
    a = np.diag([1.0, 1e-3, 1e-9])
    for kw in ({}, {"atol": 1e-2}, {"rtol": 1e-2}, {"atol": 0.0, "rtol": 0.0},
               {"atol": 1e-4, "rtol": 1e-1}):
        np.testing.assert_allclose(ember.linalg.pinv(ember.from_numpy(a), **kw).numpy(),
                                   torch.linalg.pinv(torch.from_numpy(a), **kw).numpy())
        assert (ember.linalg.matrix_rank(ember.from_numpy(a), **kw).item()
                == torch.linalg.matrix_rank(torch.from_numpy(a), **kw).item())
    assert ember.linalg.matrix_rank(ember.from_numpy(a), 1e-2).item() == 1
    np.testing.assert_allclose(ember.pinverse(ember.from_numpy(a), rcond=1e-2).numpy(),
                               torch.pinverse(torch.from_numpy(a), rcond=1e-2).numpy())


def test_logdet_signs():
    a = np.array([[[-1.0, 0.0], [0.0, 1.0]], [[1.0, 2.0], [2.0, 4.0]], [[2.0, 0.0], [0.0, 3.0]]])
    np.testing.assert_array_equal(ember.logdet(ember.from_numpy(a)).numpy(),
                                  torch.logdet(torch.from_numpy(a)).numpy())


# -- dtypes, aliases, in-place and out= -------------------------------------------------------
def test_float32_stays_float32():
    (e,), _ = _pair((3, 3), dtype="float32")
    for fn in (ember.linalg.inv, ember.linalg.det, ember.linalg.svdvals, ember.linalg.pinv,
               lambda a: ember.linalg.eigh(a)[1], lambda a: ember.linalg.qr(a)[0],
               ember.linalg.matrix_norm, lambda a: ember.einsum("ij,jk", a, a)):
        assert fn(e).dtype == ember.float32


def test_int_products_stay_integer():
    a = np.arange(6).reshape(2, 3)
    for fn in (lambda t, x: t.mm(x, x.T), lambda t, x: t.kron(x, x), lambda t, x: t.trace(x),
               lambda t, x: t.einsum("ij,kj->ik", x, x), lambda t, x: t.tensordot(x, x)):
        e, t = fn(ember, ember.from_numpy(a)), fn(torch, torch.from_numpy(a))
        assert str(e.dtype) == str(t.dtype).replace("torch", "ember")
        np.testing.assert_array_equal(e.numpy(), t.numpy())


def test_inplace_fused_products():
    (c, a, b), (tc, ta, tb) = _pair((2, 4), (2, 3), (3, 4))
    c.addmm_(a, b, beta=0.5, alpha=2)
    tc.addmm_(ta, tb, beta=0.5, alpha=2)
    np.testing.assert_allclose(c.numpy(), tc.numpy())
    (v, m, w), (tv, tm, tw) = _pair((2,), (2, 3), (3,))
    v.addmv_(m, w)
    tv.addmv_(tm, tw)
    np.testing.assert_allclose(v.numpy(), tv.numpy())


def test_addmm_beta_zero_ignores_nan_input():
    (a, b), _ = _pair((2, 3), (3, 4))
    out = ember.addmm(ember.full((2, 4), float("nan"), dtype=ember.float64), a, b, beta=0)
    np.testing.assert_allclose(out.numpy(), (a @ b).numpy())


def test_out_arguments():
    (a, b), (ta, tb) = _pair((3, 3), (3, 3))
    out = ember.empty(0, dtype=ember.float64)
    ember.linalg.solve(a, b, out=out)
    np.testing.assert_allclose(out.numpy(), torch.linalg.solve(ta, tb).numpy())
    out = ember.empty(0, dtype=ember.float64)
    ember.mv(a, b[0], out=out)
    np.testing.assert_allclose(out.numpy(), torch.mv(ta, tb[0]).numpy())


def test_cross_without_dim_warns_and_uses_first_size_3_dim():
    (a, b), (ta, tb) = _pair((3, 4), (3, 4))
    with pytest.warns(UserWarning, match="without specifying the dim"):
        e = ember.cross(a, b)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = torch.cross(ta, tb)
    np.testing.assert_allclose(e.numpy(), t.numpy())


def test_linalg_namespace_matches_torch():
    names = ["cholesky", "cholesky_ex", "cross", "det", "eigh", "eigvalsh", "inv", "inv_ex",
             "matmul", "matrix_norm", "matrix_power", "matrix_rank", "multi_dot", "norm", "pinv",
             "qr", "slogdet", "solve", "svd", "svdvals", "vecdot", "vector_norm", "LinAlgError"]
    for name in names:
        assert hasattr(torch.linalg, name) and hasattr(ember.linalg, name), name
    for name in ("einsum", "tensordot", "kron", "trace", "cdist", "chain_matmul", "addmm",
                 "addmv", "addr", "baddbmm", "addbmm", "outer", "ger", "inner", "vdot", "mv",
                 "dot", "det", "logdet", "slogdet", "inverse", "pinverse", "matrix_power"):
        assert callable(getattr(ember, name)), name


def test_einsum_large_operands_take_the_optimized_path():
    (a, b, c), (ta, tb, tc) = _pair((40, 50), (50, 60), (60, 5), requires_grad=True)
    e = ember.einsum("ij,jk,kl->il", a, b, c)
    t = torch.einsum("ij,jk,kl->il", ta, tb, tc)
    np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), rtol=1e-10)
    e.sum().backward()
    t.sum().backward()
    np.testing.assert_allclose(b.grad.numpy(), tb.grad.numpy(), rtol=1e-10)


def test_einsum_output_does_not_alias_input():
    a = ember.ones(3, 3)
    d = ember.einsum("ii->i", a)
    d += 1
    np.testing.assert_array_equal(a.numpy(), np.ones((3, 3)))
