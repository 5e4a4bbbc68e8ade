"""``ember.linalg``: linear algebra with gradients (``torch.linalg``'s API).

Factorizations live in ``_solve`` (inv, det, solve, cholesky, matrix_power) and ``_spectral``
(qr, svd, eigh, pinv, rank), least squares in ``_lstsq``, norms in ``_norms``, einsum in
``_einsum``; the products (matmul, cross, multi_dot, vecdot) in ``ember._ops.linalg``.
"""

from .._ops.linalg import linalg_cross as cross
from .._ops.linalg import matmul, multi_dot, vecdot
from ._common import LinAlgError
from ._ldl import ldl_factor, ldl_factor_ex, ldl_solve
from ._lstsq import lstsq
from ._lu import lu, lu_factor, lu_factor_ex, lu_solve, solve_triangular
from ._matrix_exp import (cond, diagonal, eig, eigvals, householder_product, matrix_exp,
                          solve_ex, tensorinv, tensorsolve, vander)
from ._norms import matrix_norm, norm, vector_norm
from ._solve import (cholesky, cholesky_ex, det, inv, inv_ex, matrix_power, slogdet, solve)
from ._spectral import eigh, eigvalsh, matrix_rank, pinv, qr, svd, svdvals

__all__ = ["LinAlgError", "cholesky", "cholesky_ex", "cross", "det", "eigh", "eigvalsh", "inv",
           "inv_ex", "lstsq", "matmul", "matrix_norm", "matrix_power", "matrix_rank", "multi_dot",
           "norm", "pinv", "qr", "slogdet", "solve", "svd", "svdvals", "vecdot", "vector_norm",
           "cond", "diagonal", "eig", "eigvals", "householder_product", "lu", "lu_factor",
           "lu_factor_ex", "lu_solve", "matrix_exp", "solve_ex", "solve_triangular",
           "tensorinv", "tensorsolve", "vander", "ldl_factor", "ldl_factor_ex", "ldl_solve"]
