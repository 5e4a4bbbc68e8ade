"""Finite-difference checks of gradients (``gradcheck``) and of second derivatives
(``gradgradcheck``), with PyTorch's signatures and default tolerances."""

from __future__ import annotations

import warnings

from .._backend import xp
from .._tensor import Tensor, _make
from .engine import grad as _grad

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError"]


class GradcheckError(RuntimeError):
    """Raised by gradcheck when analytical and numerical gradients differ."""


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _outputs(func, inputs):
    return tuple(o for o in _as_tuple(func(*inputs)) if isinstance(o, Tensor))


def _numerical_jacobians(func, inputs, diff_idx, eps):
    """J[i][j]: d output j / d input i, as (input numel, output numel) arrays."""
    outs = _outputs(func, inputs)
    jac = [[xp.zeros((inputs[i]._data.size, o._data.size)) for o in outs] for i in diff_idx]
    for row, i in enumerate(diff_idx):
        arr = inputs[i]._data  # perturbed in place, whatever its strides
        for k, idx in enumerate(xp.ndindex(arr.shape)):
            orig = arr[idx]
            arr[idx] = orig + eps
            # Evaluated with grad mode on: ``func`` may itself differentiate (gradgradcheck).
            plus = [o._data.astype(xp.float64).reshape(-1) for o in _outputs(func, inputs)]
            arr[idx] = orig - eps
            minus = [o._data.astype(xp.float64).reshape(-1) for o in _outputs(func, inputs)]
            arr[idx] = orig
            for j in range(len(outs)):
                jac[row][j][k] = (plus[j] - minus[j]) / (2 * eps)
    return jac


def _analytical_jacobians(func, inputs, diff_idx):
    outs = _outputs(func, inputs)
    diff_inputs = [inputs[i] for i in diff_idx]
    jac = [[xp.zeros((inputs[i]._data.size, o._data.size)) for o in outs] for i in diff_idx]
    for j, out in enumerate(outs):
        if not out._requires_grad:
            continue
        for k in range(out._data.size):
            onehot = xp.zeros(out._data.size, dtype=out._data.dtype)
            onehot[k] = 1
            grads = _grad(out, diff_inputs, _make(onehot.reshape(out._data.shape)),
                          retain_graph=True, allow_unused=True)
            for row, g in enumerate(grads):
                if g is not None:
                    jac[row][j][:, k] = g._data.reshape(-1)
    return jac


def _forward_jacobians(func, inputs, diff_idx):
    """Like ``_analytical_jacobians``, by forward mode: input ``i``'s element ``k`` made dual
    with a one-hot tangent, the outputs' tangents give row ``k`` of J[i][j]."""
    from . import forward_ad as fw
    outs = _outputs(func, inputs)
    jac = [[xp.zeros((inputs[i]._data.size, o._data.size)) for o in outs] for i in diff_idx]
    level = fw._enter(public=False)
    try:
        for row, i in enumerate(diff_idx):
            x = inputs[i]
            for k in range(x._data.size):
                onehot = xp.zeros(x._data.size, dtype=x._data.dtype)
                onehot[k] = 1
                args = list(inputs)
                args[i] = fw._make_dual(x.detach(), _make(onehot.reshape(x._data.shape)), level)
                for j, o in enumerate(_outputs(func, args)):
                    t = fw._tangent_at(o, level)
                    if t is not None:
                        jac[row][j][k] = t._data.reshape(-1)
    finally:
        fw._exit(level)
    return jac


def _compare(numerical, analytical, diff_idx, rtol, atol, raise_exception, mode="") -> bool:
    for row, i in enumerate(diff_idx):
        for j in range(len(numerical[row])):
            n, a = numerical[row][j], analytical[row][j]
            if not xp.allclose(a, n, rtol=rtol, atol=atol, equal_nan=True):
                msg = (f"Jacobian {mode}mismatch for output {j} with respect to input {i},\n"
                       f"numerical:{_make(n)}\nanalytical:{_make(a)}\n")
                if raise_exception:
                    raise GradcheckError(msg)
                return False
    return True


def gradcheck(func, inputs, *, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True, nondet_tol: float = 0.0,
              check_undefined_grad: bool = True, check_grad_dtypes: bool = False,
              check_batched_grad: bool = False, check_batched_forward_grad: bool = False,
              check_forward_ad: bool = False, check_backward_ad: bool = True,
              fast_mode: bool = False, masked=None) -> bool:
    """Check the gradients of ``func`` at ``inputs`` against central finite differences.

    Inputs that require grad should be float64. With ``check_forward_ad`` the Jacobian is
    also computed by forward mode (one dual pass per input element) and compared with the
    finite differences. Returns True, or raises GradcheckError
    (returns False when ``raise_exception=False``) naming the first mismatching Jacobian.
    """
    inputs = _as_tuple(inputs)
    diff_idx = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not diff_idx:
        raise ValueError("gradcheck expects at least one input tensor to require gradient, but "
                         "none of the them have requires_grad=True.")
    for i in diff_idx:
        if inputs[i].dtype.name not in ("float64", "complex128"):
            warnings.warn(f"Input #{i} requires gradient and is not a double precision floating "
                          "point or complex. This check will likely fail if all the inputs are "
                          "not of double precision floating point or complex. ", stacklevel=2)
    numerical = _numerical_jacobians(func, inputs, diff_idx, eps)
    if check_backward_ad and not _compare(numerical, _analytical_jacobians(func, inputs, diff_idx),
                                          diff_idx, rtol, atol, raise_exception):
        return False
    if check_forward_ad:
        forward = _forward_jacobians(func, inputs, diff_idx)
        return _compare(numerical, forward, diff_idx, rtol, atol, raise_exception,
                        "computed with forward mode ")
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps: float = 1e-6, atol: float = 1e-5,
                  rtol: float = 1e-3, gen_non_contig_grad_outputs: bool = False,
                  raise_exception: bool = True, nondet_tol: float = 0.0,
                  check_undefined_grad: bool = True, check_grad_dtypes: bool = False,
                  check_batched_grad: bool = False, check_fwd_over_rev: bool = False,
                  check_rev_over_rev: bool = True, fast_mode: bool = False,
                  masked: bool = False) -> bool:
    """Check second derivatives: gradcheck of the (create_graph) backward of ``func``."""
    inputs = _as_tuple(inputs)
    if grad_outputs is None:
        from .._random import Generator
        gen = Generator().manual_seed(0)
        outs = _outputs(func, inputs)
        grad_outputs = tuple(
            _make(gen.normal(o._data.shape, o.dtype, 0.0, 1.0)).requires_grad_() for o in outs)
    grad_outputs = _as_tuple(grad_outputs)
    n_in = len(inputs)
    diff_idx = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]

    def first_derivatives(*args):
        ins, gouts = args[:n_in], args[n_in:]
        outs = [o for o in _outputs(func, ins) if o.requires_grad]
        grads = _grad(outs, [ins[i] for i in diff_idx], gouts[:len(outs)], create_graph=True,
                      allow_unused=True)
        return tuple(g for g in grads if g is not None)

    return gradcheck(first_derivatives, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
