"""Function-transform workloads (issue 11): ember.func against torch.func in the same run.

    python -m bench.func_transforms

Rows: per-sample gradients of a 3-layer MLP (batch 64, 32->64->64->10) with
``vmap(grad(loss))`` in ember and torch.func, and with a Python loop of per-sample backward
in ember (and the loop's time over vmap's: the speed-up of batching); the same MLP with two
``Dropout(0.1)`` layers under ``randomness='different'``; ``jacrev`` and
``jacfwd`` of a 64-output function of 64 inputs. Medians of repeated calls; both libraries
run in this one process, alternately.
"""

from __future__ import annotations

import statistics
import time

import numpy as np


def _paired(fe, ft, repeats: int = 9, budget: float = 0.2) -> tuple[float, float, float]:
    """Medians of ember's and torch's times, measured alternately (so a load change on a
    shared machine hits both), and the median of the per-round ratios."""
    n = {}
    for key, fn in (("e", fe), ("t", ft)):
        fn()
        t0 = time.perf_counter()
        fn()
        n[key] = max(1, int(budget / max(time.perf_counter() - t0, 1e-6)))
    es, ts = [], []
    for _ in range(repeats):
        for key, fn, out in (("e", fe, es), ("t", ft, ts)):
            t0 = time.perf_counter()
            for _ in range(n[key]):
                fn()
            out.append((time.perf_counter() - t0) / n[key])
    ratio = statistics.median(e / t for e, t in zip(es, ts))
    return statistics.median(es), statistics.median(ts), ratio


def _per_sample_setup(m, fm, dropout: float = 0.0):
    rng = np.random.default_rng(0)
    drop = [m.nn.Dropout(dropout)] if dropout else []
    net = m.nn.Sequential(m.nn.Linear(32, 64), m.nn.ReLU(), *drop, m.nn.Linear(64, 64),
                          m.nn.ReLU(), *drop, m.nn.Linear(64, 10))
    params = {k: v.detach() for k, v in net.named_parameters()}
    x = m.tensor(rng.standard_normal((64, 32)).astype(np.float32))
    y = m.tensor(rng.integers(0, 10, 64))

    def loss(p, xi, yi):
        out = fm.functional_call(net, p, (xi.unsqueeze(0),))
        return m.nn.functional.cross_entropy(out, yi.unsqueeze(0))
    per_sample = fm.vmap(fm.grad(loss), in_dims=(None, 0, 0),
                         randomness="different" if dropout else "error")

    def loop():
        grads = []
        for i in range(x.shape[0]):
            net.zero_grad()
            m.nn.functional.cross_entropy(net(x[i:i + 1]), y[i:i + 1]).backward()
            grads.append([p.grad.clone() for p in net.parameters()])
        return grads
    return (lambda: per_sample(params, x, y)), loop


def _jac_setup(m, fm, which: str = "jacfwd"):
    rng = np.random.default_rng(1)
    w = m.tensor(rng.standard_normal((64, 64)).astype(np.float32) / 8)
    x = m.tensor(rng.standard_normal(64).astype(np.float32))
    jac = getattr(fm, which)(lambda v: (w @ v).tanh() * v)
    return lambda: jac(x)


def main() -> None:
    import torch
    import torch.func

    import ember
    import ember.func
    torch.set_num_threads(1)
    e_vmap, e_loop = _per_sample_setup(ember, ember.func)
    t_vmap, _ = _per_sample_setup(torch, torch.func)
    e_vmap_s, t_vmap_s, r_vmap = _paired(e_vmap, t_vmap)
    e_loop_s, _, r_loop = _paired(e_loop, e_vmap, repeats=5)
    rows = [("per_sample_grads vmap(grad) (ember vs torch.func)", e_vmap_s, t_vmap_s, r_vmap),
            ("per_sample_grads loop of backward (ember) vs torch.func", e_loop_s, t_vmap_s,
             e_loop_s / t_vmap_s)]
    e_drop, _ = _per_sample_setup(ember, ember.func, dropout=0.1)
    t_drop, _ = _per_sample_setup(torch, torch.func, dropout=0.1)
    rows.append(("per_sample_grads with dropout, randomness='different' (ember vs torch.func)",
                 *_paired(e_drop, t_drop)))
    for which in ("jacrev", "jacfwd"):
        e_jac, t_jac = _jac_setup(ember, ember.func, which), _jac_setup(torch, torch.func, which)
        rows.append((f"{which} 64x64 (ember vs torch.func)", *_paired(e_jac, t_jac)))
    print("| workload | ember | PyTorch | ratio (median of alternating rounds) |")
    print("|---|---|---|---|")
    for name, e, t, r in rows:
        print(f"| {name} | {e * 1e3:.2f} ms | {t * 1e3:.2f} ms | {r:.2f}x |")
    print(f"\nember per-sample grads: the loop of backward takes {r_loop:.1f}x the time of "
          "vmap(grad) (median of alternating rounds)")


if __name__ == "__main__":
    main()
