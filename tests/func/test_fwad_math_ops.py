"""Forward-mode rules (``jvp``) of the activations, products, ``ember.linalg`` and the special
functions against ``torch.autograd.forward_ad``: for each op class, dual inputs with random
tangents give the same primal and tangent (None for integer outputs)."""

import warnings

import numpy as np
import pytest
import torch
import torch.autograd.forward_ad as tfw

import ember
import ember.autograd.forward_ad as efw
from ember._ops import activation, linalg, special_functions
from ember.autograd import function as _function
from ember.linalg import _einsum as einsum
from ember.linalg import _lstsq as lstsq
from ember.linalg import _lu as lu
from ember.linalg import _matrix_exp as matrix_exp
from ember.linalg import _norms as norms
from ember.linalg import _solve as solve
from ember.linalg import _spectral as spectral
from tests.func._fwad_harness import _arrays, _dual_run, op_classes, rules_run
from tests.parity import same_error

# Inputs on the kinks of the piecewise activations (their one-sided choices are PyTorch's).
KINKS = np.array([[-3.0, -1.0, 0.0, 0.5], [1.0, 3.0, 25.0, -2.5], [-0.5, 2.0, -20.0, 6.0]])
CPLX = (np.arange(12).reshape(3, 4) * 0.3 - 1.5) + 1j * np.linspace(-1, 2, 12).reshape(3, 4)


_rng = np.random.default_rng(11)
# Well-conditioned square matrices, symmetric positive-definite ones, a singular one.
WELL = _rng.standard_normal((3, 3)) + 3 * np.eye(3)
WELL_B = _rng.standard_normal((2, 3, 3)) + 3 * np.eye(3)
_M = _rng.standard_normal((2, 3, 3))
SPD_B = _M @ _M.transpose(0, 2, 1) + 2 * np.eye(3)
SPD = SPD_B[0]
SINGULAR = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]])
# Lower-triangular factors with a dominant diagonal (for the triangular and Cholesky solves).
LOWER = np.tril(_rng.standard_normal((2, 3, 3))) + 3 * np.eye(3)
# Special functions' inputs: around 0 (i1's removable point among them), and in (0, 1).
SPECIAL = np.array([[-3.0, -1.2, -0.3, 0.0], [0.2, 0.7, 1.5, 4.0], [-0.01, 2.5, 6.0, -6.0]])
UNIT = np.array([[0.05, 0.2, 0.5, 0.75], [0.9, 0.3, 0.6, 0.99], [0.1, 0.4, 0.65, 0.02]])
TIES_NORM = np.array([[1.0, -3.0, 3.0, 0.0], [2.0, 2.0, -2.0, 0.5], [0.0, 0.0, 0.0, 0.0]])


def _f(m):
    return m.nn.functional


def _la(m):
    return m.linalg


def _sq(v):
    """v * v: a sign-invariant function of eigen- and singular vectors."""
    return v * v


# name -> (fn(lib, *inputs), inputs[, tolerance]); an input is a shape (random float64) or
# an array. Float and complex inputs are made dual; an integer input is not.
CASES = {
    # -- activation.py: the elementwise family, on their kinks
    "hardtanh": (lambda m, x: (_f(m).hardtanh(x), _f(m).relu6(x * 3),
                               _f(m).hardtanh(x, -0.5, 2.0)), [KINKS]),
    "leaky_relu": (lambda m, x: (_f(m).leaky_relu(x), _f(m).leaky_relu(x, 0.3)), [KINKS]),
    "rrelu_eval": (lambda m, x: _f(m).rrelu(x, 0.1, 0.3), [KINKS]),
    "threshold": (lambda m, x: (_f(m).threshold(x, 1.0, 5.0), m.threshold(x, -1.0, 0.0)),
                  [KINKS]),
    "shrink": (lambda m, x: (_f(m).hardshrink(x, 1.0), _f(m).softshrink(x, 1.0),
                             x.hardshrink()), [KINKS]),
    "hardsigmoid_hardswish": (lambda m, x: (_f(m).hardsigmoid(x), _f(m).hardswish(x)),
                              [KINKS]),
    "elu": (lambda m, x: (_f(m).elu(x), _f(m).elu(x, 0.5), _f(m).selu(x),
                          _f(m).celu(x, 2.0)), [KINKS]),
    "gelu": (lambda m, x: (_f(m).gelu(x), _f(m).gelu(x, approximate="tanh")), [KINKS]),
    "silu_mish": (lambda m, x: (_f(m).silu(x), _f(m).mish(x)), [KINKS]),
    "silu_complex": (lambda m, x: _f(m).silu(x), [CPLX]),
    "softplus": (lambda m, x: (_f(m).softplus(x), _f(m).softplus(x, 2.0, 1.0),
                               _f(m).softplus(x, 0.5, 30.0)), [KINKS]),
    "logsigmoid": (lambda m, x: _f(m).logsigmoid(x), [KINKS]),
    "activation_0d": (lambda m, x: (_f(m).elu(x), _f(m).gelu(x), _f(m).hardswish(x),
                                    _f(m).leaky_relu(x)), [()]),
    "activation_empty": (lambda m, x: (_f(m).elu(x), _f(m).silu(x), _f(m).softplus(x)),
                         [(0, 3)]),
    "activation_float32": (lambda m, x: (_f(m).gelu(x.float()), _f(m).elu(x.float())),
                           [(3, 4)]),
    # -- activation.py: softmax family, GLU, PReLU
    "softmax": (lambda m, x: (m.softmax(x, 1), m.softmax(x, 0), x.softmax(-1),
                              _f(m).softmin(x, 1)), [(2, 3, 4)]),
    "log_softmax": (lambda m, x: (m.log_softmax(x, 1), x.log_softmax(0),
                                  _f(m).log_softmax(x, -1)), [(2, 3, 4)]),
    "softmax_large": (lambda m, x: (m.softmax(x * 400, 1), m.log_softmax(x * 400, 1)),
                      [(3, 4)]),
    "softmax_inf": (lambda m, x: (m.softmax(x, 1), m.log_softmax(x, 1)),
                    [np.array([[0.0, -np.inf, 1.0], [-np.inf, 2.0, -1.0]])]),
    "softmax_0d_empty": (lambda m, x, e: (m.softmax(x, 0), m.log_softmax(x, 0),
                                          m.softmax(e, 1), m.log_softmax(e, 0)),
                         [(), (0, 3)]),
    "softmax_dtype": (lambda m, x: (m.softmax(x.float(), 1, dtype=m.float64),
                                    m.log_softmax(x, 1, dtype=m.float32)), [(3, 4)]),
    "glu": (lambda m, x: (_f(m).glu(x), _f(m).glu(x, 0)), [(4, 6)]),
    "prelu": (lambda m, x, w: _f(m).prelu(x, w), [KINKS, (1,)]),
    "prelu_channels": (lambda m, x, w: _f(m).prelu(x, w), [(2, 3, 4), (3,)]),
    "prelu_weight_only": (lambda m, x, w: _f(m).prelu(x.detach(), w), [KINKS.T, (3,)]),
    "prelu_input_only": (lambda m, x, w: _f(m).prelu(x, w.detach()), [(2, 3), (1,)]),
    # -- _ops/linalg.py: products
    "matmul": (lambda m, a, b, v: (a @ b, m.mm(a, b), a @ v, v @ b, m.mv(a, v),
                                   m.dot(v, v), v @ v), [(3, 4), (4, 2), (4,)]),
    "matmul_batched": (lambda m, a, b, v: (a @ b, m.bmm(a, b), a @ v, v @ b,
                                           a @ b[0]), [(2, 3, 4), (2, 4, 3), (4,)]),
    "matmul_broadcast": (lambda m, a, b: m.matmul(a, b), [(2, 1, 3, 4), (3, 4, 2)]),
    "matmul_one_dual": (lambda m, a, b: (a.detach() @ b, a @ b.detach()), [(3, 4), (4, 2)]),
    "matmul_empty": (lambda m, a, b: (a @ b, b.t() @ a.t()), [(3, 0), (0, 2)]),
    "matmul_complex": (lambda m, a, b: (a @ b.t(), m.mm(a.t(), b), a[0] @ b[1], m.dot(a[0], b[1]),
                                        m.mv(a, b[0])), [CPLX, CPLX[::-1]]),
    "vdot": (lambda m, a, b: (m.vdot(a, b), m.linalg.vecdot(a, b)), [(4,), (4,)]),
    "vdot_complex": (lambda m, a, b: m.vdot(a, b), [CPLX[0], CPLX[1]]),
    "addmm": (lambda m, c, a, b: (m.addmm(c, a, b), m.addmm(c, a, b, beta=0.5, alpha=-2.0),
                                  m.addmm(c[0], a, b, beta=0), c.addmm(a, b)),
              [(3, 2), (3, 4), (4, 2)]),
    "addmm_one_dual": (lambda m, c, a, b: (m.addmm(c.detach(), a, b), m.addmm(c, a.detach(), b),
                                           m.addmm(c, a.detach(), b.detach(), alpha=3)),
                       [(1, 2), (3, 4), (4, 2)]),
    "addmm_complex": (lambda m, c, a, b: m.addmm(c, a, b, beta=0.5), [CPLX, CPLX[:, :3], CPLX]),
    "addmv": (lambda m, c, a, v: (m.addmv(c, a, v), m.addmv(c[:1], a, v, beta=2, alpha=0.5)),
              [(3,), (3, 4), (4,)]),
    "addr": (lambda m, c, u, v: (m.addr(c, u, v), m.addr(c[0], u, v, beta=-1, alpha=2)),
             [(3, 4), (3,), (4,)]),
    "baddbmm_addbmm": (lambda m, c, a, b: (m.baddbmm(c, a, b), m.baddbmm(c[0], a, b, alpha=2),
                                           m.addbmm(c[0], a, b, beta=0.5)),
                       [(2, 3, 2), (2, 3, 4), (2, 4, 2)]),
    "kron": (lambda m, a, b: (m.kron(a, b), m.kron(a[0], b)), [(2, 3), (3, 2)]),
    "kron_complex": (lambda m, a, b: m.kron(a, b), [CPLX[:2, :2], CPLX[1:, 2:]]),
    "trace": (lambda m, a, c: (m.trace(a), a.t().trace(), m.trace(c)), [(3, 4), CPLX]),
    "cross": (lambda m, a, b: (m.linalg.cross(a, b), m.cross(a.t(), b.t(), dim=0),
                               m.linalg.cross(a, b[:1])), [(4, 3), (4, 3)]),
    "cross_complex": (lambda m, a, b: m.linalg.cross(a, b), [CPLX[:, :3], CPLX[:, 1:]]),
    "products_composed": (lambda m, a, b: (m.inner(a, b), m.outer(a[0], b[1]),
                                           m.tensordot(a, b, ([1], [1])),
                                           m.linalg.multi_dot([a, b.t(), a])),
                          [(3, 4), (3, 4)]),
    # -- ember.linalg: inverses, determinants, solves
    "inv": (lambda m, a, b: (_la(m).inv(a), m.inverse(a), _la(m).inv_ex(a).inverse,
                             _la(m).inv(b), _la(m).matrix_power(a, -2),
                             _la(m).tensorinv(a.reshape(3, 3, 1), 1)), [WELL, WELL_B]),
    "det": (lambda m, a, b, s: (_la(m).det(a), a.det(), _la(m).det(b), m.logdet(s),
                                _la(m).slogdet(b), m.slogdet(s)), [WELL, WELL_B, SPD]),
    "det_empty": (lambda m, a: (_la(m).det(a), _la(m).slogdet(a)), [(0, 0)]),
    "solve": (lambda m, a, b, v, ab: (
        _la(m).solve(a, b), _la(m).solve(a, v), _la(m).solve(a, b.mT, left=False),
        _la(m).solve(ab, v), _la(m).solve(ab, b), _la(m).solve(a, ab[0] @ v[:, None]),
        _la(m).solve_ex(a, b).result, _la(m).tensorsolve(a, v)),
              [WELL, (3, 2), (3,), WELL_B]),
    "solve_one_dual": (lambda m, a, b: (_la(m).solve(a.detach(), b), _la(m).solve(a, b.detach()),
                                        _la(m).solve(a.detach(), b[0]),
                                        _la(m).solve(a, b[..., 0].detach())),
                       [WELL_B, (2, 3, 2)]),
    "cholesky": (lambda m, a, b: (_la(m).cholesky(a), _la(m).cholesky(a, upper=True),
                                  _la(m).cholesky(b), _la(m).cholesky_ex(b, upper=True).L),
                 [SPD, SPD_B]),
    "cholesky_solve": (lambda m, b, fac: (m.cholesky_solve(b, fac),
                                          m.cholesky_solve(b, fac.mT, True)),
                       [(2, 3, 2), LOWER]),
    "cholesky_solve_one_dual": (lambda m, b, fac: (m.cholesky_solve(b.detach(), fac),
                                                   m.cholesky_solve(b, fac.detach())),
                                [(3, 2), LOWER[0]]),
    # -- linalg: LU and triangular solves
    "lu": (lambda m, a, b: (_la(m).lu(a), _la(m).lu(b)), [WELL, WELL_B]),
    "lu_rectangular": (lambda m, t, w: (_la(m).lu(t), _la(m).lu(w)), [(4, 2), (2, 4)]),
    "lu_factor": (lambda m, a, b: (_la(m).lu_factor(a), _la(m).lu_factor_ex(b),
                                   m.lu(a, get_infos=True)), [WELL, WELL_B]),
    "lu_factor_rectangular": (lambda m, t, w: (_la(m).lu_factor(t), _la(m).lu_factor_ex(w)),
                              [(4, 2), (2, 4)]),
    "lu_unpack": (lambda m, a, t, w: (m.lu_unpack(*_la(m).lu_factor(a)),
                                      m.lu_unpack(*_la(m).lu_factor(t)),
                                      m.lu_unpack(*_la(m).lu_factor(w)),
                                      m.lu_unpack(*_la(m).lu_factor(a), unpack_pivots=False)),
                  [WELL_B, (4, 2), (2, 4)]),
    "lu_solve": (lambda m, a, b: tuple(
        _la(m).lu_solve(*_la(m).lu_factor(a), bb, left=left, adjoint=adj)
        for bb, left in ((b, True), (b.mT, False)) for adj in (False, True)),
        [WELL_B, (2, 3, 2)]),
    "lu_solve_one_dual": (lambda m, a, b: (
        _la(m).lu_solve(*_la(m).lu_factor(a.detach()), b),
        _la(m).lu_solve(*_la(m).lu_factor(a), b.detach()),
        m.lu_solve(b, *_la(m).lu_factor(a))), [WELL, (3, 2)]),
    "solve_triangular": (lambda m, a, b: tuple(
        _la(m).solve_triangular(aa, bb, upper=up, left=left, unitriangular=unit)
        for aa, up in ((a, False), (a.mT, True))
        for bb, left in ((b, True), (b.mT, False)) for unit in (False, True)),
        [LOWER, (2, 3, 4)]),
    "solve_triangular_broadcast": (lambda m, a, b: (
        _la(m).solve_triangular(a, b, upper=False),
        _la(m).solve_triangular(a.detach(), b, upper=True),
        _la(m).solve_triangular(a, b.detach(), upper=False, unitriangular=True)),
        [LOWER[0], (2, 3, 2)]),
    # (PyTorch's rule is right for a triangular tangent without transpose only: see
    # test_triangular_solve_transpose below)
    "triangular_solve": (lambda m, b, a: tuple(
        m.triangular_solve(b, aa, upper=up, unitriangular=unit)
        for up in (False, True) for unit in (False, True)
        for aa in [(a.tril(-int(unit)) if not up else a.mT.triu(int(unit)))]),
        [(2, 3, 2), LOWER]),
    "triangular_solve_one_dual": (lambda m, b, a: (
        m.triangular_solve(b.detach(), a.tril(), upper=False),
        m.triangular_solve(b, a.detach(), upper=False, transpose=True)),
        [(2, 3, 2), LOWER]),
    # -- linalg: spectral (sign-invariant functions of the vectors: their signs are arbitrary)
    "qr": (lambda m, t, s, w, b: (_la(m).qr(t), _la(m).qr(s), _la(m).qr(w),
                                  _la(m).qr(s, mode="complete"), _la(m).qr(w, mode="complete"),
                                  _la(m).qr(b), m.qr(t)),
           [(4, 3), WELL, (2, 4), (2, 4, 3)], 1e-6),
    "eigh": (lambda m, a, b: (_la(m).eigh(a)[0], _sq(_la(m).eigh(a)[1]),
                              _la(m).eigh(b, UPLO="U")[0], _sq(_la(m).eigh(b, UPLO="U")[1]),
                              _la(m).eigvalsh(a)),
             [SPD, SPD_B], 1e-6),
    "eigh_reconstruct": (lambda m, a: (lambda w, v: (v * w.unsqueeze(-2)) @ v.mT)(
        *_la(m).eigh(a)), [SPD_B], 1e-6),
    "svd": (lambda m, t, w, b: tuple(
        x for a in (t, w, b) for u, s, vh in [_la(m).svd(a, full_matrices=False)]
        for x in (s, _sq(u), _sq(vh), u @ vh, (u * s.unsqueeze(-2)) @ vh)),
        [(4, 3), (3, 5), (2, 3, 3)], 1e-6),
    "svd_full": (lambda m, t, w: tuple(
        x for a in (t, w) for u, s, vh in [_la(m).svd(a)] for x in (s, _sq(u), _sq(vh))),
        [(3, 2), (2, 3)], 1e-6),
    "svdvals": (lambda m, a: (_la(m).svdvals(a), m.svd(a)[1], _la(m).matrix_norm(a, "nuc"),
                              _la(m).matrix_norm(a, 2), _la(m).matrix_norm(a, -2)),
                [(2, 4, 3)], 1e-6),
    "cond": (lambda m, a: (_la(m).cond(a), _la(m).cond(a, -2)), [(2, 4, 3)], 1e-6),
    "pinv": (lambda m, t, w, s: (_la(m).pinv(t), _la(m).pinv(w), _la(m).pinv(s, hermitian=True),
                                 m.pinverse(t), _la(m).pinv(w.unsqueeze(0).expand(2, 3, 4))),
             [(4, 3), (3, 4), SPD], 1e-6),
    "lstsq": (lambda m, a, b, v: (
        _la(m).lstsq(a, b).solution, _la(m).lstsq(a, v).solution,
        _la(m).lstsq(a, b, driver="gelsd")[:2], _la(m).lstsq(a, v, driver="gels")[:2],
        _la(m).lstsq(a.mT, b[:3]).solution), [(5, 3), (5, 2), (5,)], 1e-6),
    "lstsq_one_dual": (lambda m, a, b: (_la(m).lstsq(a.detach(), b, driver="gelsd")[:2],
                                        _la(m).lstsq(a, b.detach(), driver="gelsd")[:2]),
                       [(2, 5, 3), (2, 5, 2)], 1e-6),
    "matrix_exp": (lambda m, a, b: (_la(m).matrix_exp(a), m.matrix_exp(b),
                                    _la(m).matrix_exp(a * 5)), [(3, 3), (2, 3, 3)], 1e-6),
    "matrix_exp_0d_empty": (lambda m, a, e: (_la(m).matrix_exp(a), _la(m).matrix_exp(e)),
                            [(1, 1), (2, 0, 0)]),
    # -- linalg: norms
    "vector_norm": (lambda m, x: tuple(_la(m).vector_norm(x, p) for p in
                                       (2, 1, 0, 3, 1.5, 0.5, -1, float("inf"), -float("inf"))),
                    [TIES_NORM]),
    "vector_norm_dims": (lambda m, x: (_la(m).vector_norm(x, dim=1),
                                       _la(m).vector_norm(x, 3, (0,), True),
                                       _la(m).vector_norm(x, float("inf"), 1),
                                       _la(m).norm(x), _la(m).norm(x, 2, 1)),
                         [TIES_NORM]),
    "vector_norm_0d_empty": (lambda m, x, e: (_la(m).vector_norm(x), _la(m).vector_norm(x, 1),
                                              _la(m).vector_norm(e), _la(m).vector_norm(e, 1, 1)),
                             [(), (0, 3)]),
    "matrix_norm": (lambda m, a: tuple(_la(m).matrix_norm(a, p) for p in
                                       ("fro", 1, -1, float("inf"), -float("inf"))) +
                    (_la(m).norm(a[0], "fro"), _la(m).matrix_norm(a, dim=(0, 2), keepdim=True)),
                    [(2, 3, 4)]),
    # -- linalg: einsum
    "einsum": (lambda m, a, b, c: (m.einsum("ij,jk->ik", a, b), m.einsum("ij,jk,kl", a, b, c),
                                   m.einsum("ii->i", c), m.einsum("ii", c),
                                   m.einsum("ij->", a), m.einsum("i,j->ij", a[0], b[0]),
                                   m.einsum("ij,ij->ij", a, a), m.einsum("...j,jk", a, b)),
               [(2, 3), (3, 4), (4, 4)]),
    "einsum_batched": (lambda m, a, b: (m.einsum("bij,bjk->bik", a, b), m.einsum("b...,b...", a, a),
                                        m.einsum(a, [0, 1, 2], b, [0, 2, 3], [0, 3, 1])),
                       [(2, 3, 4), (2, 4, 3)]),
    "einsum_one_dual": (lambda m, a, b: m.einsum("ij,jk->ik", a.detach(), b), [(2, 3), (3, 4)]),
    "einsum_complex": (lambda m, a, b: m.einsum("ij,kj->ik", a, b), [CPLX, CPLX[:2]]),
    # -- special_functions.py
    "bessel": (lambda m, x: (m.i0(x), x.i0(), m.special.i0(x), m.special.i0e(x),
                             m.special.i1(x), m.special.i1e(x)), [SPECIAL]),
    "normal": (lambda m, x: (m.special.erfcx(x), m.special.ndtr(x), m.special.log_ndtr(x * 5)),
               [SPECIAL]),
    "ndtri": (lambda m, p: m.special.ndtri(p), [UNIT]),
    "entr": (lambda m, x: (m.special.entr(x), m.special.entr(x * x + 0.5)), [SPECIAL]),
    "logit": (lambda m, p, x: (m.logit(p), m.special.logit(p, 0.25), p.logit(eps=0.1),
                               m.logit(x)), [UNIT, SPECIAL]),
    "xlog1py": (lambda m, a, b: (m.special.xlog1py(a, b), m.special.xlog1py(a, 2.0),
                                 m.special.xlog1py(3.0, b), m.special.xlog1py(a[0], b)),
                [np.array([[0.0, 1.5, -2.0, 0.5], [1.0, 0.0, 3.0, -1.0]]), UNIT[:2] * 3]),
    "xlog1py_one_dual": (lambda m, a, b: (m.special.xlog1py(a.detach(), b),
                                          m.special.xlog1py(a, b.detach())),
                         [(2, 4), UNIT[:2]]),
    "polygamma": (lambda m, x: (m.polygamma(0, x), m.polygamma(1, x), x.polygamma(3),
                                m.special.polygamma(2, x), m.special.polygamma(1, x * -1.5)),
                  [UNIT + 0.5]),
    "mvlgamma": (lambda m, x: (m.mvlgamma(x, 1), x.mvlgamma(3), m.special.multigammaln(x, 2)),
                 [UNIT * 2 + 1.5]),
    "special_0d_empty": (lambda m, x, e: (m.special.i0e(x), m.special.erfcx(x), m.logit(e),
                                          m.polygamma(1, e), m.mvlgamma(e + 3, 2)),
                         [(), (0, 3)]),
    "special_float32": (lambda m, x: (m.special.i1(x.float()), m.special.ndtri(x.float()),
                                      m.special.log_ndtr(x.float())), [UNIT]),
}


def _same(e, t, tol: float, where=""):
    if isinstance(t, list):
        assert isinstance(e, list) and len(e) == len(t), where
        for i, (a, b) in enumerate(zip(e, t)):
            _same(a, b, tol, f"{where}[{i}]")
        return
    (ep, ed, et), (tp, td, tt) = e, t
    assert ed == td, f"{where}: dtype {ed} vs torch {td}"
    single = ed in ("float32", "complex64")
    ptol = 1e-5 if single else 1e-9
    np.testing.assert_allclose(ep, tp, rtol=ptol, atol=ptol * 1e-2, err_msg=f"{where} primal")
    assert (et is None) == (tt is None), f"{where}: tangent {et} vs torch {tt}"
    if tt is not None:
        assert et.shape == tt.shape and et.dtype == tt.dtype, f"{where}: {et.dtype} {tt.dtype}"
        ttol = max(tol, 1e-5) if single else tol
        np.testing.assert_allclose(et, tt, rtol=ttol, atol=ttol * 1e-2,
                                   err_msg=f"{where} tangent")


def _compare(name: str) -> None:
    fn, inputs, *tol = CASES[name]
    primals, tangents = _arrays(inputs, len(name))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = _dual_run(torch, tfw, fn, primals, tangents)
        got = _dual_run(ember, efw, fn, primals, tangents)
    _same(got, expected, tol[0] if tol else 1e-7, name)


@pytest.mark.parametrize("name", list(CASES))
def test_dual_matches_torch(name):
    _compare(name)


def test_rrelu_training_tangent_is_the_noise():
    """rrelu's training slopes are random: the tangent is the tangent times the drawn slope
    (1 for x >= 0), read off the output itself."""
    x = ember.tensor(KINKS)
    with efw.dual_level():
        d = efw.make_dual(x, ember.ones_like(x))
        y = ember.nn.functional.rrelu(d, 0.1, 0.3, training=True)
        p, t = efw.unpack_dual(y)
    slope = np.where(KINKS == 0, 0.0, p.numpy() / np.where(KINKS == 0, 1.0, KINKS))
    expected = np.where(KINKS >= 0, 1.0, slope)
    np.testing.assert_allclose(t.numpy(), expected, rtol=1e-12)
    assert (t.numpy()[KINKS < 0] >= 0.1).all() and (t.numpy()[KINKS < 0] <= 0.3).all()


def test_tangent_stays_differentiable():
    """Reverse over forward: the tangents of nonlinear rules depend on the primal."""
    res = []
    for m, fw in ((ember, efw), (torch, tfw)):
        x = m.tensor(KINKS * 0.3 + 0.1, requires_grad=True)
        with fw.dual_level():
            d = fw.make_dual(x, m.ones(3, 4, dtype=m.float64))
            # (not softmax: PyTorch's rule writes in place what its backward needs)
            y = m.nn.functional.mish(d).sum() + m.nn.functional.logsigmoid(d).sum()
            y = y + m.nn.functional.gelu(d).sum() + m.nn.functional.elu(d).sum()
            tangent = fw.unpack_dual(y).tangent
        tangent.backward()
        res.append(x.grad.numpy())
    np.testing.assert_allclose(*res, rtol=1e-9)


# -- every op class has a rule -----------------------------------------------------------------
MODULES = (activation, linalg, lu, solve, spectral, norms, lstsq, matrix_exp, einsum,
           special_functions)

# Classes PyTorch gives no forward derivative: ember raises its error type and message.
# (the zeta and incomplete gamma rules raise PyTorch's refusal: checked below)
NO_RULE = {"Cdist": "PyTorch's _cdist_forward has no forward derivative (refused in cdist)",
           "CholeskyLegacy": "PyTorch's forward AD refuses torch.cholesky (refused there)"}


def _op_classes():
    return op_classes(MODULES)


# Bases only their subclasses apply (the subclasses have the rules).
BASES = {"_SoftmaxBase"}


def test_every_op_class_has_a_rule():
    missing = [name for name, cls in _op_classes()
               if cls.jvp is _function.Function.jvp and name not in set(NO_RULE) | BASES]
    assert not missing, missing


def test_every_op_class_is_checked():
    """Every op class of these modules runs its rule in some case above."""
    def every_case():
        for name in CASES:
            fn, inputs, *_ = CASES[name]
            _dual_run(ember, efw, fn, *_arrays(inputs, 0))
    seen = rules_run(every_case)
    # Reached otherwise: rrelu's training form (random), GLU backward's concatenation, the
    # rules checked against finite differences where PyTorch's are wrong.
    elsewhere = {"RreluTrain", "RreluTrainInplace", "_Cat2", "CholeskyInverse", "Zeta",
                 "ZetaSelfScalar", "ZetaOtherScalar", "Igamma", "Igammac"}
    # In-place forms: the same rule as their out-of-place class.
    inplace = {"EluInplace", "CeluInplace", "LeakyReluInplace", "ThresholdInplace",
               "RreluEvalInplace"}
    unchecked = [n for n, cls in _op_classes()
                 if cls not in seen and n not in elsewhere | inplace | set(NO_RULE)
                 and not n.startswith("_")]
    assert not unchecked, unchecked


def test_glu_backward_cat_rule():
    """GLU's backward concatenation (reached by forward over reverse) against torch.cat."""
    from ember._ops.activation import _Cat2
    primals, tangents = _arrays([(2, 3), (2, 1)], 3)
    _same(_dual_run(ember, efw, lambda m, a, b: _Cat2.apply(a, b, 1), primals, tangents),
          _dual_run(torch, tfw, lambda m, a, b: torch.cat([a, b], 1), primals, tangents),
          1e-12)


# -- where PyTorch's rule is wrong or refused ---------------------------------------------------
def _fd_check(fn, primals, tangents, eps=1e-6, rtol=1e-6):
    """ember's tangent of ``fn`` against central finite differences."""
    got = _dual_run(ember, efw, lambda m, *xs: fn(*xs), primals, tangents)[2]
    plus = fn(*[ember.tensor(p + eps * t) for p, t in zip(primals, tangents)]).numpy()
    minus = fn(*[ember.tensor(p - eps * t) for p, t in zip(primals, tangents)]).numpy()
    np.testing.assert_allclose(got, (plus - minus) / (2 * eps), rtol=rtol, atol=rtol)


def test_det_singular_is_the_cofactor_contraction():
    """det's tangent at a singular matrix: sum(cofactors * dA), as finite differences give
    (PyTorch 2.13 returns 0 there, forward and backward)."""
    t = np.random.default_rng(0).standard_normal((3, 3))
    _fd_check(ember.linalg.det, [SINGULAR], [t])
    _fd_check(lambda a: ember.linalg.det(ember.stack([a, a * 2])), [SINGULAR], [t])


@pytest.mark.parametrize("upper", [False, True])
def test_cholesky_inverse_against_finite_differences(upper):
    """PyTorch 2.13's cholesky_inverse rule disagrees with finite differences (even for
    triangular tangents): ember's is -Y dA Y with dA = d(L L^T)."""
    fac = LOWER[0].T if upper else LOWER[0]
    t = np.random.default_rng(1).standard_normal((3, 3))
    t = np.triu(t) if upper else np.tril(t)
    _fd_check(lambda a: ember.cholesky_inverse(a, upper), [fac], [t])


@pytest.mark.parametrize("unit", [False, True])
def test_triangular_solve_transpose(unit):
    """torch.triangular_solve with transpose=True: PyTorch 2.13 applies dA untransposed (and
    its diagonal under unitriangular); ember's tangent is the derivative."""
    rng = np.random.default_rng(2)
    b, t = rng.standard_normal((3, 2)), np.tril(rng.standard_normal((3, 3)), -int(unit))
    _fd_check(lambda a: ember.triangular_solve(ember.tensor(b), a, upper=False,
                                               transpose=True, unitriangular=unit)[0],
              [LOWER[0]], [t])


@pytest.mark.parametrize("fn", [
    lambda m, x: m.cdist(x, x.detach() + 1),
    lambda m, x: m.cdist(x.detach(), x, p=1.0),
    lambda m, x: m.cholesky(x @ x.mT + m.eye(3, dtype=m.float64)),
    lambda m, x: m.linalg.ldl_factor(x @ x.mT + m.eye(3, dtype=m.float64)),
    lambda m, x: m.linalg.ldl_factor_ex(x @ x.mT + m.eye(3, dtype=m.float64)),
    lambda m, x: m.linalg.ldl_solve(*m.linalg.ldl_factor(m.eye(3, dtype=m.float64)), x),
    lambda m, x: m.special.zeta(x + 1.5, x.detach() + 1),
    lambda m, x: m.special.zeta(x.detach() + 1.5, x + 1),
    lambda m, x: m.special.zeta(2.5, x + 1),
    lambda m, x: m.special.zeta(x + 1.5, 2.0),
    lambda m, x: m.igamma(x + 1, x.detach() + 1),
    lambda m, x: m.igamma(x.detach() + 1, x + 1),
    lambda m, x: m.igammac(x + 1, x.detach() + 1),
    lambda m, x: m.special.gammaincc(x.detach() + 1, x + 1),
])
def test_no_forward_derivative_like_torch(fn):
    """The same error type and message as PyTorch's forward AD."""
    def call(m, fw):
        with fw.dual_level():
            fn(m, fw.make_dual(m.ones(3, 3, dtype=m.float64).tril(),
                               m.ones(3, 3, dtype=m.float64)))
    same_error(ember_fn=lambda: call(ember, efw), torch_fn=lambda: call(torch, tfw))
    with pytest.raises(NotImplementedError, match="^Trying to use forward AD with "):
        call(ember, efw)


@pytest.mark.parametrize("name", ["eig", "eigvals"])
def test_eig_forward_ad_not_implemented(name):
    """linalg.eig/eigvals have no forward rule in ember yet: they refuse a dual input rather
    than return tangent-less results."""
    with efw.dual_level():
        x = efw.make_dual(ember.tensor(WELL), ember.ones(3, 3, dtype=ember.float64))
        with pytest.raises(NotImplementedError, match="not implemented yet in ember"):
            getattr(ember.linalg, name)(x)


@pytest.mark.parametrize("fn", [
    lambda m: m.linalg.vector_norm(m.ones(3, dtype=m.float64), dtype=m.float32),
    lambda m: m.linalg.norm(m.ones(3, dtype=m.float64), dtype=m.float32),
    lambda m: m.linalg.matrix_norm(m.ones(2, 3, dtype=m.float64), dtype=m.float32),
])
def test_norm_dtype_must_not_narrow(fn):
    """``dtype=`` of the norms: the input must convert to it without narrowing."""
    same_error(fn)


def test_silu_complex_gradient_refused():
    """silu on complex inputs: PyTorch's values; reverse mode refuses them (forward mode,
    above, is PyTorch's)."""
    np.testing.assert_allclose(ember.nn.functional.silu(ember.tensor(CPLX)).numpy(),
                               torch.nn.functional.silu(torch.tensor(CPLX)).numpy(), rtol=1e-12)
    same_error(lambda m: m.nn.functional.silu(m.tensor(CPLX, requires_grad=True)))
