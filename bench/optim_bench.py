"""Optimizer step benchmark: ember's per-parameter loop against its ``foreach``/``fused``
flat-buffer path, and PyTorch's three paths, in one process at one thread.

Run: ``OPENBLAS_NUM_THREADS=1 python -m bench.optim_bench`` (prints a Markdown table;
``--rounds N`` repeats it, ``--compile`` adds bench/compile_bench.py's MLP + Adam rows with
``foreach=True`` passed to Adam). Only ``optimizer.step()`` is timed: the gradients are set
once and every step reads them again. Times are the fastest per-step mean over blocks of
~5 ms (on a shared machine the minimum is the figure other processes disturb least); the
variants of one row are measured round-robin, block by block, so a drift in machine load
hits them alike.
"""

from __future__ import annotations

import os
import time
from functools import partial
from types import SimpleNamespace

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402


def mlp(t):
    """MLP 32-64-64-10: 6 parameter tensors, 6,922 elements."""
    nn = t.nn
    return nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                         nn.Linear(64, 10))


def deep(t):
    """50 Linear(16, 16): 100 parameter tensors, 13,600 elements."""
    return t.nn.Sequential(*[t.nn.Linear(16, 16) for _ in range(50)])


def wide(t):
    """MLP 256-1024-1024-10: 6 tensors, 1.3M elements (memory-bound, no Python to save)."""
    nn = t.nn
    return nn.Sequential(nn.Linear(256, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(),
                         nn.Linear(1024, 10))


MODELS = {"MLP 32-64-64-10 (6 tensors)": mlp, "50 x Linear(16,16) (100 tensors)": deep,
          "MLP 256-1024-1024-10 (6 tensors, 1.3M)": wide}
OPTIMIZERS = {"Adam": ("Adam", dict(lr=1e-3)),
              "SGD momentum": ("SGD", dict(lr=1e-2, momentum=0.9))}
MODES = {"loop": dict(foreach=False), "default": dict(), "foreach": dict(foreach=True),
         "fused": dict(fused=True)}


def make_step(t, model_fn, opt_name, kwargs):
    t.manual_seed(0)
    model = model_fn(t)
    params = list(model.parameters())
    rng = np.random.default_rng(0)
    for p in params:
        p.grad = t.tensor(rng.standard_normal(tuple(p.shape)).astype(np.float32))
    opt = getattr(t.optim, opt_name)(params, **kwargs)
    opt.step()                      # state made, flat buffers built
    return opt.step


def _block(step) -> int:
    n = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(n):
            step()
        if time.perf_counter() - t0 > 0.005:
            return n
        n *= 2


def time_round_robin(steps: dict, budget: float) -> dict:
    """Fastest per-call time of each step over blocks, sampled in turn, block by block."""
    blocks = {k: _block(s) for k, s in steps.items()}
    samples: dict = {k: [] for k in steps}
    end = time.perf_counter() + budget
    while time.perf_counter() < end or min(len(v) for v in samples.values()) < 5:
        for k, step in steps.items():
            n = blocks[k]
            t0 = time.perf_counter()
            for _ in range(n):
                step()
            samples[k].append((time.perf_counter() - t0) / n)
    return {k: min(v) for k, v in samples.items()}


def _fmt(s: float) -> str:
    return f"{s * 1e6:.0f} µs" if s < 1e-3 else f"{s * 1e3:.2f} ms"


def optimizer_table(torch, ember, budget: float) -> list[str]:
    rows = ["| model, optimizer | ember loop | ember default | ember foreach | ember fused "
            "| torch loop | torch foreach | torch fused | foreach / loop (ember) |",
            "|---|---|---|---|---|---|---|---|---|"]
    for mname, model_fn in MODELS.items():
        for oname, (cls, kw) in OPTIMIZERS.items():
            steps = {}
            for lib_name, lib in (("ember", ember), ("torch", torch)):
                for mode, extra in MODES.items():
                    if lib_name == "torch" and mode == "default":
                        continue
                    steps[(lib_name, mode)] = make_step(lib, model_fn, cls, {**kw, **extra})
            res = time_round_robin(steps, budget)
            e, tt = partial(lambda lib, m: _fmt(res[(lib, m)]), "ember"), \
                partial(lambda lib, m: _fmt(res[(lib, m)]), "torch")
            ratio = res[("ember", "foreach")] / res[("ember", "loop")]
            rows.append(f"| {mname}, {oname} | {e('loop')} | {e('default')} | "
                        f"{e('foreach')} | {e('fused')} | {tt('loop')} | {tt('foreach')} | "
                        f"{tt('fused')} | {ratio:.2f}x |")
    return rows


def compile_rows(torch, ember, budget: float) -> list[str]:
    """bench/compile_bench.py's MLP + Adam workloads, Adam as written there and with
    ``foreach=True`` (passed through a stand-in namespace; compile_bench is not edited)."""
    from bench import compile_bench as cb

    def with_foreach(t):
        optim = SimpleNamespace(Adam=partial(t.optim.Adam, foreach=True))
        return SimpleNamespace(nn=t.nn, optim=optim, manual_seed=t.manual_seed,
                               tensor=t.tensor)

    rows = ["| compile_bench workload | PyTorch eager | ember eager | ember eager foreach "
            "| compiled | compiled foreach | compiled / PyTorch | compiled foreach / PyTorch |",
            "|---|---|---|---|---|---|---|---|"]
    for name in ("MLP 32-64-64-10 + Adam step (batch 16)",
                 "the same MLP step, whole step compiled"):
        make = cb.WORKLOADS[name]
        steps = {"torch": make(torch, None), "eager": make(ember, None),
                 "eager_fe": make(with_foreach(ember), None),
                 "comp": make(ember, ember.compile),
                 "comp_fe": make(with_foreach(ember), ember.compile)}
        for s in steps.values():
            s()                       # trace
        res = time_round_robin(steps, budget)
        rows.append(f"| {name} | {_fmt(res['torch'])} | {_fmt(res['eager'])} | "
                    f"{_fmt(res['eager_fe'])} | {_fmt(res['comp'])} | {_fmt(res['comp_fe'])} "
                    f"| {res['comp'] / res['torch']:.2f}x | "
                    f"{res['comp_fe'] / res['torch']:.2f}x |")
    return rows


def main() -> None:
    import argparse

    import torch

    import ember
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--budget", type=float, default=2.0, help="seconds per row")
    parser.add_argument("--compile", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    ember.set_num_threads(1)
    for r in range(args.rounds):
        if args.rounds > 1:
            print(f"\nround {r + 1}")
        rows = optimizer_table(torch, ember, args.budget)
        if args.compile:
            rows += [""] + compile_rows(torch, ember, args.budget)
        print("\n".join(rows))


if __name__ == "__main__":
    main()
