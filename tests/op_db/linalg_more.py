"""torch.linalg's LU family, triangular solves, matrix_exp and the smaller functions, and the
legacy top-level forms (svd, qr, lu, lu_solve, triangular_solve, cholesky_solve, ...)."""

from ._base import OpInfo, S

UNIT = (-1.0, 1.0)
SQ = [S((3, 3)), S((2, 4, 4)), S((4, 4), transpose=True), S((0, 3, 3))]
SQ_RHS = [S((3, 3), (3, 2)), S((2, 4, 4), (2, 4, 3)), S((3, 3), (2, 3, 1)),
          S((4, 4), (4, 4), transpose=True)]


def _dominant(t, a):
    n = a.shape[-1]
    return a + n * t.eye(n, dtype=a.dtype)


def _tri(t, a, upper=True):
    d = _dominant(t, a)
    return d.triu() if upper else d.tril()


def _spd_chol(t, a):
    n = a.shape[-1]
    return t.linalg.cholesky(a @ a.mT + n * t.eye(n, dtype=a.dtype))


def _e(name, fn, samples, **kw):
    return OpInfo(name, fn, samples, domain=UNIT, **kw)


OPS = [
    _e("linalg.lu_factor", lambda t, a: t.linalg.lu_factor(_dominant(t, a)).LU, SQ),
    _e("linalg.lu_factor_ex", lambda t, a: t.linalg.lu_factor_ex(a)[0], SQ),
    _e("linalg.lu_factor_pivots", lambda t, a: t.linalg.lu_factor(a).pivots, SQ, grad=False),
    _e("linalg.lu_factor_rect", lambda t, a: t.linalg.lu_factor_ex(a).LU,
       [S((3, 5)), S((5, 3)), S((2, 4, 2))], grad=False),
    _e("linalg.lu_L", lambda t, a: t.linalg.lu(_dominant(t, a)).L, SQ),
    _e("linalg.lu_U", lambda t, a: t.linalg.lu(_dominant(t, a)).U, SQ),
    _e("linalg.lu_P", lambda t, a: t.linalg.lu(a).P, SQ + [S((3, 5)), S((5, 2))], grad=False),
    _e("linalg.lu_rect", lambda t, a: t.linalg.lu(a)[1:], [S((3, 5)), S((5, 2))], grad=False),
    _e("linalg.lu_solve", lambda t, a, b: t.linalg.lu_solve(
        *t.linalg.lu_factor(_dominant(t, a)), b), SQ_RHS),
    _e("linalg.lu_solve_right_adjoint", lambda t, a, b: t.linalg.lu_solve(
        *t.linalg.lu_factor(_dominant(t, a)), b.mT, left=False, adjoint=True), SQ_RHS[:2]),
    _e("lu_unpack", lambda t, a: t.lu_unpack(*t.linalg.lu_factor(_dominant(t, a)))[1:], SQ),
    _e("lu_legacy", lambda t, a: t.lu(_dominant(t, a))[0], SQ[:2]),
    _e("lu_solve_legacy", lambda t, a, b: t.lu_solve(b, *t.linalg.lu_factor(_dominant(t, a))),
       SQ_RHS[:2]),
    _e("linalg.solve_triangular_upper", lambda t, a, b: t.linalg.solve_triangular(
        _tri(t, a), b, upper=True), SQ_RHS),
    _e("linalg.solve_triangular_lower_right", lambda t, a, b: t.linalg.solve_triangular(
        _tri(t, a, False), b.mT, upper=False, left=False), SQ_RHS[:2]),
    _e("linalg.solve_triangular_unit", lambda t, a, b: t.linalg.solve_triangular(
        a, b, upper=False, unitriangular=True), SQ_RHS[:2]),
    _e("triangular_solve", lambda t, a, b: t.triangular_solve(b, _tri(t, a)), SQ_RHS[:2]),
    # PyTorch's forward formula applies the whole dA untransposed (not the triangle the
    # solve reads, transposed); ember's tangent is checked against finite differences.
    _e("triangular_solve_transpose_lower", lambda t, a, b: t.triangular_solve(
        b, _tri(t, a, False), upper=False, transpose=True).solution, SQ_RHS[:2],
       forward_ad_oracle="finite_differences"),
    _e("cholesky_solve", lambda t, a, b: t.cholesky_solve(b, _spd_chol(t, a)), SQ_RHS[:2]),
    _e("cholesky_solve_upper", lambda t, a, b: t.cholesky_solve(b, _spd_chol(t, a).mT,
                                                               upper=True), SQ_RHS[:2]),
    # PyTorch 2.13's forward formula for cholesky_inverse disagrees with finite differences
    # (by ~0.04 on these samples); ember's -Y dA Y is checked against them instead.
    _e("cholesky_inverse", lambda t, a: t.cholesky_inverse(_spd_chol(t, a)), SQ[:3],
       forward_ad_oracle="finite_differences"),
    _e("cholesky_inverse_upper", lambda t, a: _spd_chol(t, a).mT.cholesky_inverse(True),
       SQ[:2], forward_ad_oracle="finite_differences"),
    _e("linalg.matrix_exp", lambda t, a: t.linalg.matrix_exp(a), SQ),
    _e("matrix_exp_big_norm", lambda t, a: t.matrix_exp(a * 6), [S((3, 3)), S((2, 2, 2))]),
    _e("linalg.solve_ex", lambda t, a, b: t.linalg.solve_ex(_dominant(t, a), b).result,
       SQ_RHS),
    _e("linalg.diagonal", lambda t, a: t.linalg.diagonal(a, offset=1), SQ + [S((2, 3))]),
    _e("linalg.vander", lambda t, a: t.linalg.vander(a), [S((4,)), S((2, 3)), S((2,))]),
    _e("linalg.vander_N", lambda t, a: t.linalg.vander(a, N=5), [S((3,)), S((2, 2))]),
    # composites: their last node is whatever reshape/cat step each library ends with, so they
    # are compared through a clone
    _e("linalg.tensorinv", lambda t, a: t.linalg.tensorinv(_dominant(t, a.reshape(6, 6))
                                                           .reshape(2, 3, 6), ind=2).clone(),
       [S((36,))]),
    _e("linalg.tensorsolve", lambda t, a, b: t.linalg.tensorsolve(
        _dominant(t, a.reshape(6, 6)).reshape(2, 3, 6), b).clone(), [S((36,), (2, 3))]),
    _e("linalg.householder_product", lambda t, a, tau: t.linalg.householder_product(a, tau),
       [S((4, 3), (2,)), S((3, 3), (3,)), S((2, 4, 2), (2, 2))], grad=False),
    _e("svd_legacy_S", lambda t, a: t.svd(a).S, [S((3, 2)), S((2, 4))]),
    _e("svd_legacy_USV", lambda t, a: (lambda r: r.U @ t.diag_embed(r.S) @ r.V.mT)(t.svd(a)),
       [S((3, 2)), S((2, 4))]),
    _e("qr_legacy", lambda t, a: (lambda r: r.Q @ r.R)(t.qr(a)), [S((3, 2)), S((3, 3))]),
    # LDL^T (no derivative in PyTorch): values and pivots
    _e("linalg.ldl_factor", lambda t, a: t.linalg.ldl_factor(a + a.mT).LD, SQ, grad=False),
    _e("linalg.ldl_factor_pivots", lambda t, a: t.linalg.ldl_factor(a).pivots, SQ, grad=False),
    _e("linalg.ldl_factor_ex", lambda t, a: t.linalg.ldl_factor_ex(a)[0], SQ[:2], grad=False),
    _e("linalg.ldl_solve", lambda t, a, b: t.linalg.ldl_solve(
        *t.linalg.ldl_factor(a + a.mT + 3 * t.eye(a.shape[-1], dtype=a.dtype)), b),
       SQ_RHS, grad=False),
]
