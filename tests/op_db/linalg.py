"""Linear algebra: products, einsum, factorizations, norms.

Factorizations get well-conditioned inputs built inside the op from the random sample
(diagonally dominant, SPD, symmetric with spread-out eigenvalues), so float32 forwards and
float64 gradchecks are stable. QR, SVD and eigh fix their vectors' signs arbitrarily, so they
are compared through sign-invariant quantities (reconstructions, |vectors|, projectors), and
gradients flow through those.
"""

from ._base import OpInfo, S

UNIT = (-1.0, 1.0)


def _dominant(t, a):
    """Strictly diagonally dominant (so invertible, well conditioned) for entries in (-1, 1)."""
    n = a.shape[-1]
    return a + n * t.eye(n, dtype=a.dtype)


def _spd(t, a):
    n = a.shape[-1]
    return a @ a.mT + n * t.eye(n, dtype=a.dtype)


def _sym_spread(t, a):
    """Symmetric, with eigenvalues kept apart by a diagonal ramp (eigh's gradient needs gaps)."""
    n = a.shape[-1]
    return a + a.mT + 5 * t.eye(n, dtype=a.dtype) * t.arange(n, dtype=a.dtype)


def _clone(fn):
    """torch's einsum node is whatever its last view/bmm/sum step is; compare through a clone."""
    return lambda t, *xs: fn(t, *xs).clone()


def _einsum(eq, samples, **kw):
    return OpInfo(f"einsum_{eq.replace(',', '_').replace('->', '_to_').replace('...', 'E')}",
                  _clone(lambda t, *xs: t.einsum(eq, *xs)), samples, **kw)


SQUARE = [S((3, 3)), S((2, 3, 3)), S((4, 4), transpose=True), S((0, 3, 3)), S((0, 0))]
SQUARE_NE = SQUARE[:3]                 # no empty ones
RECT = [S((4, 3)), S((3, 4)), S((2, 4, 3)), S((4, 3), transpose=True)]


def _qr(t, a, mode="reduced"):
    q, r = t.linalg.qr(a, mode=mode)
    return q @ r, q @ q.mT, r.abs()


def _svd(t, a, full=False):
    u, s, vh = t.linalg.svd(a, full_matrices=full)
    k = s.shape[-1]
    return s, u[..., :k].abs(), vh[..., :k, :].abs(), (u[..., :k] * s.unsqueeze(-2)) @ vh[..., :k, :]


def _eigh(t, a, uplo="L"):
    w, v = t.linalg.eigh(_sym_spread(t, a), UPLO=uplo)
    v0 = v[..., :1]
    return w, v.abs(), v0 @ v0.mT


OPS = [
    # -- products ---------------------------------------------------------------------------
    OpInfo("mv", lambda t, a, b: t.mv(a, b),
           [S((3, 4), (4,)), S((0, 4), (4,)), S((3, 0), (0,)), S((4, 3), (3,), transpose=True)]),
    OpInfo("mv_method", lambda t, a, b: a.mv(b), [S((2, 3), (3,))]),
    OpInfo("dot", lambda t, a, b: t.dot(a, b), [S((5,), (5,)), S((0,), (0,))]),
    OpInfo("vdot", lambda t, a, b: t.vdot(a, b), [S((5,), (5,))]),
    OpInfo("bmm", lambda t, a, b: t.bmm(a, b),
           [S((2, 3, 4), (2, 4, 5)), S((0, 3, 4), (0, 4, 5)), S((2, 3, 4), (2, 4, 5),
                                                               transpose=True)]),
    OpInfo("mm_noncontig", lambda t, a, b: t.mm(a, b), [S((3, 4), (4, 2), transpose=True)]),
    OpInfo("matmul_batched_vec", lambda t, a, b: t.matmul(a, b),
           [S((2, 3, 4), (4,)), S((4,), (2, 4, 3)), S((0, 3, 4), (4,))]),
    OpInfo("inner", lambda t, a, b: t.inner(a, b),
           [S((4,), (4,)), S((2, 4), (3, 4)), S((2, 3, 4), (4,)), S((), (2, 3)),
            S((3, 2), (4, 2), transpose=True)]),
    OpInfo("outer", lambda t, a, b: t.outer(a, b), [S((3,), (4,)), S((0,), (4,))]),
    OpInfo("ger", lambda t, a, b: t.ger(a, b), [S((3,), (2,))]),
    OpInfo("addmm", lambda t, c, a, b: t.addmm(c, a, b),
           [S((2, 4), (2, 3), (3, 4)), S((4,), (2, 3), (3, 4)), S((), (2, 3), (3, 4)),
            S((2, 4), (2, 3), (3, 4), transpose=True), S((0, 4), (0, 3), (3, 4))]),
    OpInfo("addmm_scaled", lambda t, c, a, b: t.addmm(c, a, b, beta=0.5, alpha=-2),
           [S((2, 4), (2, 3), (3, 4)), S((1, 4), (2, 3), (3, 4))]),
    OpInfo("addmm_beta0", lambda t, c, a, b: t.addmm(c, a, b, beta=0),
           [S((2, 4), (2, 3), (3, 4))]),
    OpInfo("addmm_method", lambda t, c, a, b: c.addmm(a, b, alpha=3), [S((2, 4), (2, 3), (3, 4))]),
    OpInfo("addmv", lambda t, c, a, b: t.addmv(c, a, b, beta=2, alpha=0.5),
           [S((2,), (2, 3), (3,)), S((), (2, 3), (3,)), S((2,), (2, 3), (3,), transpose=True)]),
    OpInfo("addr", lambda t, c, a, b: t.addr(c, a, b, beta=-1, alpha=2),
           [S((2, 3), (2,), (3,)), S((3,), (2,), (3,))]),
    OpInfo("baddbmm", lambda t, c, a, b: t.baddbmm(c, a, b, beta=0.5, alpha=2),
           [S((2, 3, 5), (2, 3, 4), (2, 4, 5)), S((3, 5), (2, 3, 4), (2, 4, 5)),
            S((2, 3, 5), (2, 3, 4), (2, 4, 5), transpose=True)]),
    OpInfo("addbmm", lambda t, c, a, b: t.addbmm(c, a, b, beta=0.5, alpha=2),
           [S((3, 5), (2, 3, 4), (2, 4, 5)), S((5,), (2, 3, 4), (2, 4, 5)),
            S((3, 5), (0, 3, 4), (0, 4, 5))]),
    OpInfo("tensordot_int", lambda t, a, b: t.tensordot(a, b, dims=2),
           [S((2, 3, 4), (3, 4, 5)), S((3, 4), (3, 4)), S((2, 3, 4), (3, 4, 5), transpose=True)]),
    OpInfo("tensordot_0", lambda t, a, b: t.tensordot(a, b, dims=0), [S((2, 3), (4,))]),
    OpInfo("tensordot_lists", lambda t, a, b: t.tensordot(a, b, dims=([0, 2], [1, 0])),
           [S((2, 3, 4), (4, 2, 5))]),
    OpInfo("tensordot_neg", lambda t, a, b: t.tensordot(a, b, dims=([-1], [-2])),
           [S((2, 3), (4, 3, 2))]),
    OpInfo("kron", lambda t, a, b: t.kron(a, b),
           [S((2, 3), (4, 2)), S((3,), (2, 2)), S((), (2, 3)), S((2, 1, 3), (2, 2)),
            S((3, 2), (2, 4), transpose=True), S((0, 2), (2, 3))]),
    OpInfo("trace", lambda t, a: t.trace(a), [S((3, 3)), S((2, 4)), S((4, 2)), S((0, 0)),
                                              S((3, 4), transpose=True)]),
    OpInfo("trace_method", lambda t, a: a.trace(), [S((3, 3))]),
    OpInfo("linalg_cross", lambda t, a, b: t.linalg.cross(a, b),
           [S((3,), (3,)), S((4, 3), (4, 3)), S((4, 3), (1, 3)), S((2, 1, 3), (1, 4, 3)),
            S((4, 3), (4, 3), transpose=True), S((0, 3), (0, 3))]),
    OpInfo("cross_dim", lambda t, a, b: t.cross(a, b, dim=0),
           [S((3, 4), (3, 4)), S((3, 2, 2), (3, 1, 2))]),
    OpInfo("cross_dim_neg", lambda t, a, b: a.cross(b, dim=-2), [S((2, 3, 2), (2, 3, 2))]),
    OpInfo("multi_dot", lambda t, a, b, c: t.linalg.multi_dot([a, b, c]),
           [S((3, 5), (5, 10), (10, 2)), S((5,), (5, 2), (2,)), S((4,), (4, 3), (3, 2)),
            S((3, 5), (5, 2), (2, 4), transpose=True)]),
    OpInfo("multi_dot_2", lambda t, a, b: t.linalg.multi_dot([a, b]),
           [S((3, 4), (4, 2)), S((4,), (4,))]),
    OpInfo("multi_dot_4", lambda t, a, b, c, d: t.linalg.multi_dot([a, b, c, d]),
           [S((2, 8), (8, 3), (3, 9), (9, 2))]),
    OpInfo("chain_matmul", lambda t, a, b, c: t.chain_matmul(a, b, c),
           [S((3, 5), (5, 10), (10, 2))]),
    OpInfo("vecdot", lambda t, a, b: t.linalg.vecdot(a, b),
           [S((4,), (4,)), S((2, 3), (3,)), S((2, 1, 3), (4, 3)), S((0, 3), (3,))]),
    OpInfo("vecdot_dim", lambda t, a, b: t.linalg.vecdot(a, b, dim=0),
           [S((3, 2), (3, 2)), S((2, 3), (2, 3), transpose=True)]),
    OpInfo("cdist", lambda t, a, b: t.cdist(a, b),
           [S((4, 3), (5, 3)), S((2, 4, 3), (2, 5, 3)), S((2, 1, 4, 3), (5, 2, 3)),
            S((4, 3), (5, 3), transpose=True), S((0, 3), (2, 3))], forward_ad=False),
    OpInfo("cdist_p1", lambda t, a, b: t.cdist(a, b, p=1), [S((4, 3), (5, 3))], forward_ad=False),
    OpInfo("cdist_p3", lambda t, a, b: t.cdist(a, b, p=3), [S((4, 3), (2, 5, 3))],
           forward_ad=False),
    OpInfo("cdist_p_half", lambda t, a, b: t.cdist(a, b, p=0.5), [S((4, 3), (5, 3))],
           forward_ad=False),
    OpInfo("cdist_pinf", lambda t, a, b: t.cdist(a, b, p=float("inf")), [S((4, 3), (5, 3))],
           forward_ad=False),
    OpInfo("cdist_p0", lambda t, a, b: t.cdist(a, b, p=0), [S((4, 3), (5, 3))], forward_ad=False),

    # -- einsum -----------------------------------------------------------------------------
    _einsum("ij,jk->ik", [S((3, 4), (4, 2)), S((3, 4), (4, 2), transpose=True)]),
    _einsum("bij,bjk->bik", [S((2, 3, 4), (2, 4, 5)), S((0, 3, 4), (0, 4, 5))]),
    _einsum("ii", [S((3, 3))]),
    _einsum("ii->i", [S((3, 3)), S((4, 4), transpose=True)]),
    _einsum("i,j->ij", [S((3,), (4,))]),
    _einsum("ij->", [S((3, 4)), S((0, 4))]),
    _einsum("ij->ji", [S((3, 4))]),
    _einsum("ij->j", [S((3, 4))]),
    _einsum("...ij->...ji", [S((2, 3, 4)), S((3, 4)), S((2, 2, 3, 4))]),
    _einsum("...ij,...jk->...ik", [S((2, 3, 4), (4, 5)), S((2, 1, 3, 4), (5, 4, 2))]),
    _einsum("ij,jk,kl->il", [S((2, 3), (3, 4), (4, 5))]),
    _einsum("i,i->", [S((4,), (4,))]),
    _einsum("ij,ij->ij", [S((2, 3), (2, 3))]),
    _einsum("bn,anm,bm->ba", [S((2, 3), (4, 3, 5), (2, 5))]),
    _einsum("iij->j", [S((3, 3, 2))]),
    _einsum("iii->i", [S((3, 3, 3))]),
    _einsum("ij,jk", [S((3, 4), (4, 2)), S((3, 1), (4, 2))]),
    _einsum("ba,ac", [S((2, 3), (3, 4))]),
    _einsum("i...->...", [S((2, 3, 4)), S((3,))]),
    _einsum("...,...->...", [S((2, 3), (3,)), S((), (2,))]),
    _einsum("Ab,bA->A", [S((2, 3), (3, 2))]),
    OpInfo("einsum_sublist", _clone(lambda t, a, b: t.einsum(a, [0, 1], b, [1, 2], [0, 2])),
           [S((2, 3), (3, 4))]),
    OpInfo("einsum_list_operands", _clone(lambda t, a, b: t.einsum("ij,jk", [a, b])),
           [S((2, 3), (3, 4))]),

    # -- inverses, determinants, solves ----------------------------------------------------
    OpInfo("linalg_inv", lambda t, a: t.linalg.inv(_dominant(t, a)), SQUARE, domain=UNIT),
    OpInfo("inverse", lambda t, a: t.inverse(_dominant(t, a)), SQUARE_NE, domain=UNIT),
    OpInfo("inverse_method", lambda t, a: _dominant(t, a).inverse(), [S((3, 3))], domain=UNIT),
    OpInfo("linalg_inv_ex", lambda t, a: t.linalg.inv_ex(_dominant(t, a)), SQUARE_NE,
           domain=UNIT),
    OpInfo("linalg_det", lambda t, a: t.linalg.det(a), SQUARE + [S((1, 1)), S((5, 5))]),
    OpInfo("det", lambda t, a: t.det(a), SQUARE_NE),
    OpInfo("det_method", lambda t, a: a.det(), [S((2, 2))]),
    OpInfo("linalg_slogdet", lambda t, a: t.linalg.slogdet(a), SQUARE),
    OpInfo("slogdet", lambda t, a: t.slogdet(a), SQUARE_NE),
    OpInfo("logdet", lambda t, a: t.logdet(_spd(t, a)), SQUARE_NE),
    OpInfo("logdet_neg", lambda t, a: t.logdet(a), [S((3, 3)), S((2, 4, 4))],
           gradcheck=False),  # NaN where det < 0
    OpInfo("linalg_solve", lambda t, a, b: t.linalg.solve(_dominant(t, a), b),
           [S((3, 3), (3, 2)), S((2, 3, 3), (3, 4)), S((3, 3), (2, 3, 1)),
            S((3, 3), (3, 2), transpose=True), S((0, 3, 3), (3, 2))], domain=UNIT),
    OpInfo("linalg_solve_vector", lambda t, a, b: t.linalg.solve(_dominant(t, a), b),
           [S((3, 3), (3,)), S((2, 3, 3), (2, 3)), S((2, 3, 3), (3,))], domain=UNIT),
    OpInfo("linalg_solve_right", lambda t, a, b: t.linalg.solve(_dominant(t, a), b, left=False),
           [S((3, 3), (2, 3)), S((2, 3, 3), (4, 3))], domain=UNIT),
    OpInfo("linalg_cholesky", lambda t, a: t.linalg.cholesky(_spd(t, a)), SQUARE),
    OpInfo("linalg_cholesky_upper", lambda t, a: t.linalg.cholesky(_spd(t, a), upper=True),
           SQUARE_NE),
    OpInfo("cholesky_legacy", lambda t, a: t.cholesky(_spd(t, a)), [S((3, 3))], forward_ad=False),
    OpInfo("linalg_cholesky_ex", lambda t, a: t.linalg.cholesky_ex(_spd(t, a)), SQUARE_NE),
    OpInfo("matrix_power_3", lambda t, a: t.linalg.matrix_power(a, 3), SQUARE),
    OpInfo("matrix_power_2", lambda t, a: t.matrix_power(a, 2), SQUARE_NE),
    OpInfo("matrix_power_1", lambda t, a: t.matrix_power(a, 1), SQUARE_NE),
    OpInfo("matrix_power_5_method", lambda t, a: a.matrix_power(5), [S((3, 3))], domain=UNIT),
    OpInfo("matrix_power_neg1", lambda t, a: t.linalg.matrix_power(_dominant(t, a), -1),
           SQUARE_NE, domain=UNIT),
    OpInfo("matrix_power_neg3", lambda t, a: t.linalg.matrix_power(_dominant(t, a), -3),
           SQUARE_NE, domain=UNIT),
    OpInfo("pinv", lambda t, a: t.linalg.pinv(a), RECT + [S((3, 3)), S((0, 3))], atol=1e-5),
    OpInfo("pinv_hermitian", lambda t, a: t.linalg.pinv(_spd(t, a), hermitian=True),
           SQUARE_NE),
    OpInfo("pinverse", lambda t, a: t.pinverse(a), [S((4, 3)), S((2, 3, 4))]),

    # -- QR, SVD, eigh (sign-invariant views) ----------------------------------------------
    OpInfo("linalg_qr", lambda t, a: _qr(t, a), [S((4, 3)), S((3, 3)), S((2, 4, 3)),
                                                 S((3, 5)), S((3, 4), transpose=True)]),
    OpInfo("linalg_qr_complete_square", lambda t, a: _qr(t, a, "complete"),
           [S((3, 3)), S((3, 5))]),
    OpInfo("linalg_qr_r", lambda t, a: t.linalg.qr(a, mode="r")[1].abs(), [S((4, 3))],
           grad=False),
    OpInfo("linalg_svd", lambda t, a: _svd(t, a), RECT + [S((3, 3))], atol=1e-5),
    OpInfo("linalg_svd_full", lambda t, a: _svd(t, a, full=True), [S((4, 3)), S((2, 3, 4))],
           atol=1e-5),
    OpInfo("linalg_svdvals", lambda t, a: t.linalg.svdvals(a), RECT + [S((0, 3))]),
    OpInfo("linalg_eigh", lambda t, a: _eigh(t, a), SQUARE_NE),
    OpInfo("linalg_eigh_upper", lambda t, a: _eigh(t, a, "U"), SQUARE_NE),
    OpInfo("linalg_eigvalsh", lambda t, a: t.linalg.eigvalsh(a + a.mT), SQUARE),
    OpInfo("linalg_matrix_rank", lambda t, a: t.linalg.matrix_rank(a), RECT, grad=False),
    OpInfo("linalg_matrix_rank_low", lambda t, a: t.linalg.matrix_rank(a[..., :2] @ a.mT[..., :2, :]),
           [S((4, 3))], grad=False),
    OpInfo("linalg_matrix_rank_hermitian",
           lambda t, a: t.linalg.matrix_rank(a @ a.mT, hermitian=True), [S((4, 2))], grad=False),

    # -- norms ------------------------------------------------------------------------------
    OpInfo("vector_norm", lambda t, a: t.linalg.vector_norm(a),
           [S(()), S((5,)), S((2, 3)), S((0, 3)), S((3, 4), transpose=True)]),
    OpInfo("vector_norm_dim", lambda t, a: t.linalg.vector_norm(a, dim=-1, keepdim=True),
           [S((2, 3)), S((2, 3, 4))]),
    OpInfo("vector_norm_ord1_dims", lambda t, a: t.linalg.vector_norm(a, 1, dim=(0, 2)),
           [S((2, 3, 4))]),
    OpInfo("vector_norm_ord3", lambda t, a: t.linalg.vector_norm(a, 3, dim=0), [S((4, 3))]),
    OpInfo("vector_norm_ord_half", lambda t, a: t.linalg.vector_norm(a, 0.5), [S((4, 3))]),
    OpInfo("vector_norm_ord_neg", lambda t, a: t.linalg.vector_norm(a, -2, dim=1),
           [S((4, 3))]),
    OpInfo("vector_norm_inf", lambda t, a: t.linalg.vector_norm(a, float("inf"), dim=1),
           [S((4, 3)), S((2, 3), transpose=True)], distinct=True),
    OpInfo("vector_norm_neg_inf", lambda t, a: t.linalg.vector_norm(a, -float("inf")),
           [S((4, 3))], distinct=True),
    OpInfo("vector_norm_ord0", lambda t, a: t.linalg.vector_norm(a, 0), [S((4, 3))]),
    OpInfo("vector_norm_dtype", lambda t, a: t.linalg.vector_norm(a, dtype=t.float64),
           [S((4, 3))]),
    OpInfo("matrix_norm_fro", lambda t, a: t.linalg.matrix_norm(a),
           [S((3, 4)), S((2, 3, 4)), S((0, 3)), S((3, 4), transpose=True)]),
    OpInfo("matrix_norm_nuc", lambda t, a: t.linalg.matrix_norm(a, "nuc"), RECT),
    OpInfo("matrix_norm_2", lambda t, a: t.linalg.matrix_norm(a, 2), RECT),
    OpInfo("matrix_norm_neg2", lambda t, a: t.linalg.matrix_norm(a, -2), RECT),
    OpInfo("matrix_norm_1", lambda t, a: t.linalg.matrix_norm(a, 1), RECT, distinct=True),
    OpInfo("matrix_norm_neg1", lambda t, a: t.linalg.matrix_norm(a, -1), RECT, distinct=True),
    OpInfo("matrix_norm_inf", lambda t, a: t.linalg.matrix_norm(a, float("inf")), RECT,
           distinct=True),
    OpInfo("matrix_norm_neg_inf", lambda t, a: t.linalg.matrix_norm(a, -float("inf")), RECT,
           distinct=True),
    OpInfo("matrix_norm_dims_keepdim",
           lambda t, a: t.linalg.matrix_norm(a, 1, dim=(2, 0), keepdim=True), [S((2, 3, 4))],
           distinct=True),
    OpInfo("matrix_norm_nuc_dims", lambda t, a: t.linalg.matrix_norm(a, "nuc", dim=(0, 2)),
           [S((2, 3, 4))]),
    OpInfo("linalg_norm", lambda t, a: t.linalg.norm(a),
           [S(()), S((5,)), S((2, 3, 4)), S((3, 4), transpose=True)]),
    OpInfo("linalg_norm_ord_vec", lambda t, a: t.linalg.norm(a, 3), [S((5,))]),
    OpInfo("linalg_norm_ord_mat", lambda t, a: t.linalg.norm(a, "nuc"), [S((3, 4))]),
    OpInfo("linalg_norm_dim1", lambda t, a: t.linalg.norm(a, 1, dim=1), [S((3, 4))]),
    OpInfo("linalg_norm_dim2", lambda t, a: t.linalg.norm(a, -2, dim=(-1, 0)), [S((3, 2, 4))]),
]
