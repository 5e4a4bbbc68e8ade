"""``LBFGS``: limited-memory BFGS, with an optional strong-Wolfe line search.

The parameters are handled as one flat vector (the concatenation of all of them), as in
PyTorch; the two-loop recursion and the line search compute on that vector's arrays.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .._backend import xp
from .._tensor import Tensor, _make
from ..autograd.grad_mode import enable_grad
from .optimizer import Optimizer, _float

__all__ = ["LBFGS"]


def _cubic_min(x1, f1, g1, x2, f2, g2, bounds=None):
    """The minimiser of the cubic through ``(x1, f1, g1)`` and ``(x2, f2, g2)``, clipped to
    ``bounds`` (the interval's midpoint when the cubic has no real minimiser)."""
    lo, hi = bounds if bounds is not None else ((x1, x2) if x1 <= x2 else (x2, x1))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    disc = d1 ** 2 - g1 * g2
    if disc < 0:
        return (lo + hi) / 2.0
    d2 = disc ** 0.5
    if x1 <= x2:
        t = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        t = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(t, lo), hi)


def _strong_wolfe(evaluate, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9,
                  max_ls=25):
    """Find a step ``t`` along ``d`` meeting the strong Wolfe conditions (bracketing, then
    zooming with cubic interpolation). ``evaluate(t)`` returns ``(loss, flat_grad)`` at
    ``x + t*d``. Returns ``(loss, flat_grad, t, evaluations)``."""
    d_norm = xp.abs(d).max()
    f_new, g_new = evaluate(t)
    evals, ls_iter = 1, 0
    gtd_new = xp.dot(g_new, d)
    t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
    done = False
    # bracketing phase: grow the step until an interval holding a Wolfe point is found
    while ls_iter < max_ls:
        sufficient = not (f_new > f + c1 * t * gtd or (ls_iter > 1 and f_new >= f_prev))
        if sufficient and abs(gtd_new) <= -c2 * gtd:
            bracket, done = [[t, f_new, g_new, gtd_new]], True
            break
        if not sufficient or gtd_new >= 0:
            bracket = [[t_prev, f_prev, g_prev, gtd_prev], [t, f_new, g_new.copy(), gtd_new]]
            break
        step = _cubic_min(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
                          bounds=(t + 0.01 * (t - t_prev), t * 10))
        t_prev, f_prev, g_prev, gtd_prev = t, f_new, g_new.copy(), gtd_new
        t = step
        f_new, g_new = evaluate(t)
        evals += 1
        gtd_new = xp.dot(g_new, d)
        ls_iter += 1
    if ls_iter == max_ls:
        bracket = [[0, f, g, gtd], [t, f_new, g_new, gtd_new]]
    # zoom phase: shrink the bracket until the conditions hold
    insufficient = False
    low, high = (0, 1) if bracket[0][1] <= bracket[-1][1] else (1, 0)
    while not done and ls_iter < max_ls:
        (a, fa, _, ga), (b, fb, _, gb) = bracket
        if abs(b - a) * d_norm < tolerance_change:
            break
        t = _cubic_min(a, fa, ga, b, fb, gb)
        top, bottom = max(a, b), min(a, b)
        eps = 0.1 * (top - bottom)
        if min(top - t, t - bottom) < eps:
            if insufficient or t >= top or t <= bottom:
                t = top - eps if abs(t - top) < abs(t - bottom) else bottom + eps
                insufficient = False
            else:
                insufficient = True
        else:
            insufficient = False
        f_new, g_new = evaluate(t)
        evals += 1
        gtd_new = xp.dot(g_new, d)
        ls_iter += 1
        if f_new > f + c1 * t * gtd or f_new >= bracket[low][1]:
            bracket[high] = [t, f_new, g_new.copy(), gtd_new]
            low, high = (0, 1) if bracket[0][1] <= bracket[1][1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high][0] - bracket[low][0]) >= 0:
                bracket[high] = bracket[low]
            bracket[low] = [t, f_new, g_new.copy(), gtd_new]
    t, f_new, g_new, _ = bracket[low]
    return f_new, g_new, t, evals


class LBFGS(Optimizer):
    """L-BFGS (one parameter group; ``step`` needs a closure returning the loss).

    Each ``step`` runs up to ``max_iter`` iterations: the search direction comes from the
    two-loop recursion over the last ``history_size`` curvature pairs, the step length is
    ``lr`` (scaled down on the very first iteration) or found by ``line_search_fn=
    'strong_wolfe'``. It stops early on ``tolerance_grad``/``tolerance_change``/``max_eval``.
    """

    def __init__(self, params: Iterable, lr: float = 1, max_iter: int = 20,
                 max_eval: int | None = None, tolerance_grad: float = 1e-7,
                 tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn: str | None = None) -> None:
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                        tolerance_grad=tolerance_grad, tolerance_change=tolerance_change,
                        history_size=history_size, line_search_fn=line_search_fn)
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]

    # -- the flat parameter vector --------------------------------------------------------
    def _flat_grad(self):
        parts = [xp.zeros(p._data.size, p._data.dtype) if p._grad is None
                 else p._grad._data.reshape(-1) for p in self._params]
        return xp.concatenate(parts) if parts else xp.zeros(0)

    def _add_to_params(self, t, d) -> None:
        """``params += t * d`` (``d`` flat)."""
        offset = 0
        for p in self._params:
            n = p._data.size
            p._data += (d[offset:offset + n] * t).reshape(p._data.shape)
            p._bump_version()
            offset += n

    def _set_params(self, arrays) -> None:
        for p, a in zip(self._params, arrays):
            p._data[...] = a
            p._bump_version()

    def _evaluate(self, closure) -> float:
        with enable_grad():
            return float(closure())

    def step(self, closure: Callable[[], Any]) -> Any:  # type: ignore[override]
        """Run up to ``max_iter`` L-BFGS iterations; ``closure`` clears the gradients,
        computes the loss, calls ``backward()`` and returns the loss."""
        group = self.param_groups[0]
        lr, max_iter, max_eval = _float(group["lr"]), group["max_iter"], group["max_eval"]
        tol_grad, tol_change = group["tolerance_grad"], group["tolerance_change"]
        line_search, history_size = group["line_search_fn"], group["history_size"]

        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)
        with enable_grad():
            orig_loss = closure()
        loss = float(orig_loss)
        evals = 1
        state["func_evals"] += 1
        g = self._flat_grad()
        if xp.abs(g).max() <= tol_grad:
            return orig_loss

        d, t = _arr(state.get("d")), state.get("t")
        old_dirs = [x._data for x in state.get("old_dirs", [])]
        old_stps = [x._data for x in state.get("old_stps", [])]
        ro = [_arr(x) for x in state.get("ro", [])]
        h_diag, g_prev = _arr(state.get("H_diag")), _arr(state.get("prev_flat_grad"))
        prev_loss = state.get("prev_loss")

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d = -g
                old_dirs, old_stps, ro, h_diag = [], [], [], 1
            else:
                # update the curvature history, then the two-loop recursion for -H g
                y = g - g_prev
                s = d * t
                ys = xp.dot(y, s)
                if ys > 1e-10:
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    h_diag = ys / xp.dot(y, y)
                if "al" not in state:
                    state["al"] = [None] * history_size
                al = state["al"]
                q = -g
                for i in range(len(old_dirs) - 1, -1, -1):
                    al[i] = xp.dot(old_stps[i], q) * ro[i]
                    q -= old_dirs[i] * al[i]
                d = r = q * h_diag
                for i in range(len(old_dirs)):
                    be_i = xp.dot(old_dirs[i], r) * ro[i]
                    r += old_stps[i] * (al[i] - be_i)
            g_prev = g.copy()
            prev_loss = loss
            t = min(1.0, 1.0 / xp.abs(g).sum()) * lr if state["n_iter"] == 1 else lr
            gtd = xp.dot(g, d)
            if gtd > -tol_change:
                break

            ls_evals = 0
            if line_search is not None:
                if line_search != "strong_wolfe":
                    raise RuntimeError("only 'strong_wolfe' is supported")
                x0 = [p._data.copy() for p in self._params]

                def evaluate(step, x0=x0, d=d):
                    self._add_to_params(step, d)
                    value = self._evaluate(closure)
                    grad = self._flat_grad()
                    self._set_params(x0)
                    return value, grad

                loss, g, t, ls_evals = _strong_wolfe(evaluate, t, d, loss, g, gtd)
                self._add_to_params(t, d)
                converged = xp.abs(g).max() <= tol_grad
            else:
                self._add_to_params(t, d)
                converged = False
                if n_iter != max_iter:
                    loss = self._evaluate(closure)
                    g = self._flat_grad()
                    converged = xp.abs(g).max() <= tol_grad
                    ls_evals = 1
            evals += ls_evals
            state["func_evals"] += ls_evals

            if (n_iter == max_iter or evals >= max_eval or converged
                    or xp.abs(d * t).max() <= tol_change or abs(loss - prev_loss) < tol_change):
                break

        state.update(d=_tensor(d), t=_tensor(t), old_dirs=[_make(x) for x in old_dirs],
                     old_stps=[_make(x) for x in old_stps], ro=[_tensor(x) for x in ro],
                     H_diag=_tensor(h_diag), prev_flat_grad=_tensor(g_prev),
                     prev_loss=prev_loss)
        if "al" in state:
            state["al"] = [_tensor(a) for a in state["al"]]
        return orig_loss


def _arr(x):
    """A state value as an array (Tensors unwrapped; numbers and None pass through)."""
    return x._data if isinstance(x, Tensor) else x


def _tensor(x):
    """Store arrays (and NumPy scalars) in the state as Tensors, like PyTorch."""
    if x is None or isinstance(x, (int, float)) and not hasattr(x, "dtype"):
        return x
    return _make(xp.asarray(x))
