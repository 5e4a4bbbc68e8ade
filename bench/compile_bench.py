"""ember.compile benchmark: each workload under eager PyTorch, eager ember, compiled ember
and (where it runs) ``torch.compile``, in one process at one thread.

Run: ``python -m bench.compile_bench`` (prints a Markdown table; ``--rounds N`` repeats the
whole table N times, for a noisy machine). Times are medians of per-iteration means over
blocks of ~20 ms, the three variants of a row measured in alternating blocks, by default in
the process's CPU time (``--clock wall`` for elapsed time); "trace" is the first compiled
call (same clock). In the training-step rows only the loss computation is compiled (backward
and Adam run outside), except "whole step compiled".
"""

from __future__ import annotations

import os
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402


def seed_cell(t, compiled):
    f = lambda x: (x * 2 + 5).sum()  # noqa: E731
    f = compiled(f) if compiled else f

    def step():
        x = t.tensor([1.0, 2.0, 3.0], requires_grad=True)
        f(x).backward()
        return x.grad
    return step


def chain200(t, compiled):
    def f(x):
        for _ in range(40):
            x = (x * 0.9 + 0.1).tanh().exp().sigmoid()
        return x.sum()
    f = compiled(f) if compiled else f
    data = np.linspace(-0.5, 0.5, 16).astype(np.float32)

    def step():
        x = t.tensor(data, requires_grad=True)
        f(x).backward()
        return x.grad
    return step


def mlp_adam(t, compiled):
    nn = t.nn
    t.manual_seed(0)
    model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                          nn.Linear(64, 10))
    opt = t.optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    x = t.tensor(rng.standard_normal((16, 32)).astype(np.float32))
    y = t.tensor(rng.integers(0, 10, 16))
    loss_fn = lambda x, y: nn.functional.cross_entropy(model(x), y)  # noqa: E731
    loss_fn = compiled(loss_fn) if compiled else loss_fn

    def step():
        opt.zero_grad()
        loss = loss_fn(x, y)
        loss.backward()
        opt.step()
        return loss
    return step


def mlp_adam_whole_step(t, compiled):
    """The MLP step above with zero_grad, backward and the Adam step inside the compiled
    function (ember.compile replays the backward as generated code and runs the optimizer
    calls in place; torch.compile breaks the graph around them)."""
    nn = t.nn
    t.manual_seed(0)
    model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                          nn.Linear(64, 10))
    opt = t.optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    x = t.tensor(rng.standard_normal((16, 32)).astype(np.float32))
    y = t.tensor(rng.integers(0, 10, 16))

    def step():
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return compiled(step) if compiled else step


def lstm_adam(t, compiled):
    """nn.LSTM(32 -> 128) over 35 steps, batch 20, Linear to 50 classes, CE, Adam (the
    lstm_step of bench/workloads.py), with the loss computation compiled."""
    nn = t.nn
    t.manual_seed(0)
    lstm = nn.LSTM(32, 128)
    head = nn.Linear(128, 50)
    opt = t.optim.Adam(list(lstm.parameters()) + list(head.parameters()), lr=1e-3)
    rng = np.random.default_rng(0)
    x = t.tensor(rng.standard_normal((35, 20, 32)).astype(np.float32))
    y = t.tensor(rng.integers(0, 50, 35 * 20))

    def loss_fn(x, y):
        out, _ = lstm(x)
        return nn.functional.cross_entropy(head(out.reshape(-1, 128)), y)
    loss_fn = compiled(loss_fn) if compiled else loss_fn

    def step():
        opt.zero_grad()
        loss = loss_fn(x, y)
        loss.backward()
        opt.step()
        return loss
    return step


def lenet_adam(t, compiled):
    """LeNet-5 on (64, 1, 28, 28), CE, Adam (the cnn_step of bench/workloads.py), with the
    loss computation compiled."""
    nn = t.nn
    t.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(256, 120), nn.ReLU(), nn.Linear(120, 84),
        nn.ReLU(), nn.Linear(84, 10))
    opt = t.optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    x = t.tensor(rng.standard_normal((64, 1, 28, 28)).astype(np.float32))
    y = t.tensor(rng.integers(0, 10, 64))
    loss_fn = lambda x, y: nn.functional.cross_entropy(model(x), y)  # noqa: E731
    loss_fn = compiled(loss_fn) if compiled else loss_fn

    def step():
        opt.zero_grad()
        loss = loss_fn(x, y)
        loss.backward()
        opt.step()
        return loss
    return step


def split_mlp_adam(t, compiled):
    """An MLP whose forward has a graph break (``.item()`` picks a head) between its
    blocks, compiled as a Module: the glue runs eagerly, the blocks replay compiled."""
    nn = t.nn

    class Split(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 64),
                                      nn.ReLU())
            self.head = nn.Sequential(nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 10))
            self.alt = nn.Linear(64, 10)

        def forward(self, x):
            h = self.body(x)
            return self.head(h) if h.mean().item() > -1.0 else self.alt(h)

    t.manual_seed(0)
    model = Split()
    opt = t.optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    x = t.tensor(rng.standard_normal((16, 32)).astype(np.float32))
    y = t.tensor(rng.integers(0, 10, 16))
    fwd = compiled(model) if compiled else model

    def step():
        opt.zero_grad()
        loss = nn.functional.cross_entropy(fwd(x), y)
        loss.backward()
        opt.step()
        return loss
    return step


WORKLOADS = {"seed cell": seed_cell, "200-op chain (16 elements)": chain200,
             "MLP 32-64-64-10 + Adam step (batch 16)": mlp_adam,
             "the same MLP step, whole step compiled": mlp_adam_whole_step,
             "LSTM step (35x20x32 -> 128, Adam)": lstm_adam,
             "LeNet-5 step (batch 64, Adam)": lenet_adam,
             "MLP with a graph break (.item()) between blocks, Module compiled + Adam":
                 split_mlp_adam}


_CLOCK = {"cpu": time.process_time, "wall": time.perf_counter}
_clock = time.process_time


def _block(step, n: int) -> float:
    t0 = _clock()
    for _ in range(n):
        step()
    return (_clock() - t0) / n


def _calibrate(step) -> int:
    step()
    n = 1
    while _block(step, n) * n <= 0.02:  # a block of ~20 ms
        n *= 2
    return n


def _time(step, budget: float = 1.5) -> float:
    return _time_many([step], budget)[0]


def _time_many(steps: list, budget: float = 1.5) -> list:
    """Median per-iteration time of each step, measured in alternating blocks (so that
    every variant sees the same load on a shared machine)."""
    ns = [_calibrate(s) for s in steps]
    samples: list = [[] for _ in steps]
    end = time.perf_counter() + budget * len(steps)
    while time.perf_counter() < end or len(samples[0]) < 5:
        for k, (step, n) in enumerate(zip(steps, ns)):
            samples[k].append(_block(step, n))
    return [statistics.median(s) for s in samples]


def _fmt(s: float | None) -> str:
    if s is None:
        return "-"
    return f"{s * 1e6:.1f} µs" if s < 1e-3 else f"{s * 1e3:.2f} ms"


def main() -> None:
    import argparse

    import torch

    import ember
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--only", default="", help="run the workloads whose name has this")
    parser.add_argument("--no-torch-compile", action="store_true")
    parser.add_argument("--clock", choices=sorted(_CLOCK), default="cpu",
                        help="cpu: the process's CPU time (steadier on a shared machine); "
                        "wall: elapsed time")
    args = parser.parse_args()
    global _clock
    _clock = _CLOCK[args.clock]
    torch.set_num_threads(1)
    ember.set_num_threads(1)
    for r in range(args.rounds):
        if args.rounds > 1:
            print(f"\nround {r + 1}")
        _table(torch, ember, args)


def _table(torch, ember, args) -> None:
    rows = ["| workload | PyTorch eager | ember eager | ember compiled | compiled / PyTorch "
            "| compiled / ember eager | ember trace (1st call) | torch.compile |",
            "|---|---|---|---|---|---|---|---|"]
    for name, make in WORKLOADS.items():
        if args.only not in name:
            continue
        torch_step, eager_step = make(torch, None), make(ember, None)
        step = make(ember, ember.compile)
        t0 = _clock()
        step()
        trace = _clock() - t0
        t_torch, t_eager, t_comp = _time_many([torch_step, eager_step, step])
        t_tc = None
        if not args.no_torch_compile:
            try:
                t_tc = _time(make(torch, torch.compile), budget=1.0)
            except Exception as exc:  # no C compiler, ...
                print(f"torch.compile failed on {name}: {type(exc).__name__}")
        rows.append(f"| {name} | {_fmt(t_torch)} | {_fmt(t_eager)} | {_fmt(t_comp)} | "
                    f"{t_comp / t_torch:.2f}x | {t_comp / t_eager:.2f}x | {_fmt(trace)} | "
                    f"{_fmt(t_tc)} |")
        print(rows[-1], flush=True)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
