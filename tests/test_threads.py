"""Backward from several threads at once: exact sums into a shared leaf, independent
training runs, and grad-mode objects shared between threads. Every thread is joined with a
timeout, so a deadlock fails the test instead of hanging it."""

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

import ember

TIMEOUT = 60.0


def _run_threads(target, n: int, switch: float = 1e-4) -> list:
    """Run ``target(i)`` in ``n`` threads started together, switching between them every
    ``switch`` seconds (often, so races show up); return results, re-raise errors."""
    results: list = [None] * n
    errors: list = []
    barrier = threading.Barrier(n)

    def body(i):
        try:
            barrier.wait(timeout=TIMEOUT)
            results[i] = target(i)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(n)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(switch)
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(TIMEOUT)
            assert not t.is_alive(), "a thread did not finish (deadlock?)"
    finally:
        sys.setswitchinterval(interval)
    if errors:
        raise errors[0]
    return results


def _shared_leaf_sum(lib, threads: int, steps: int, size: int):
    w = lib.zeros(size, dtype=lib.float64, requires_grad=True)
    consts = [lib.arange(size, dtype=lib.float64) * (i + 1) for i in range(threads)]

    def work(i):
        for _ in range(steps):
            (w * consts[i]).sum().backward()

    if lib is torch:
        for i in range(threads):  # the oracle: PyTorch's exact sum
            work(i)
    else:
        _run_threads(work, threads, switch=1e-6)
    return w.grad


@pytest.mark.parametrize("size,steps", [(3, 150), (100_000, 25)])
def test_concurrent_backward_into_shared_leaf_is_exact(size, steps):
    # The case: 4 threads x 150 backward calls; and arrays large enough for NumPy
    # to release the GIL inside the in-place add.
    e = _shared_leaf_sum(ember, 4, steps, size)
    t = _shared_leaf_sum(torch, 4, steps, size)
    np.testing.assert_array_equal(e.numpy(), t.numpy())


def _make_run(lib, seed: int):
    lib.manual_seed(seed)
    model = lib.nn.Sequential(lib.nn.Linear(8, 8), lib.nn.Tanh(), lib.nn.Linear(8, 1))
    return lib, model, lib.randn(32, 8), lib.randn(32, 1)


def _train(lib, model, x, y, steps: int = 10):
    """Plain SGD steps (written out, so torch needs no optimizer import)."""
    for _ in range(steps):
        model.zero_grad()
        lib.nn.functional.mse_loss(model(x), y).backward()
        with lib.no_grad():
            for p in model.parameters():
                p -= 0.05 * p.grad
    return [p.detach().numpy().copy() for p in model.parameters()]


def test_concurrent_training_runs_are_exact():
    # Each thread trains its own model; the results equal the same runs done one by one,
    # and PyTorch's. (Seeding is global, so the initial weights are drawn before the
    # threads start.)
    serial = [_train(*_make_run(ember, s)) for s in range(4)]
    setups = [_make_run(ember, s) for s in range(4)]
    threaded = _run_threads(lambda i: _train(*setups[i]), 4, switch=1e-4)
    for a, b in zip(serial, threaded):
        for pa, pb in zip(a, b):
            np.testing.assert_array_equal(pa, pb)
    # PyTorch's numbers, from ember in a fresh interpreter: in a full xdist run this check
    # once saw ember state left by an earlier test in the same worker (not yet identified;
    # see the closing note of the 2026-12-03 session), which is not what this test is about.
    code = ("import json, sys; sys.path.insert(0, sys.argv[1]); import ember; "
            "from test_threads import _make_run, _train; "
            "print(json.dumps([p.tolist() for p in _train(*_make_run(ember, 0))]))")
    env = dict(os.environ, PYTHONPATH=str(Path(ember.__file__).resolve().parent.parent))
    out = subprocess.run([sys.executable, "-c", code, str(Path(__file__).parent)], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    fresh = [np.asarray(p, dtype=np.float32) for p in json.loads(out.stdout)]
    for pe, pt in zip(fresh, _train(*_make_run(torch, 0))):
        np.testing.assert_allclose(pe, pt, rtol=1e-4, atol=1e-5)


def test_concurrent_hogwild_training_of_a_shared_model_sums_every_gradient():
    # Threads backpropagating into one shared model: .grad ends as the exact sum.
    ember.manual_seed(0)
    model = ember.nn.Linear(4, 3).double()
    xs = [ember.randn(5, 4, dtype=ember.float64) for _ in range(4)]

    def grads_of(i):
        for _ in range(50):
            model(xs[i]).pow(2).sum().backward()

    _run_threads(grads_of, 4)
    threaded = [p.grad.numpy().copy() for p in model.parameters()]
    model.zero_grad()
    for i in range(4):
        grads_of(i)
    for a, p in zip(threaded, model.parameters()):
        np.testing.assert_allclose(a, p.grad.numpy(), rtol=1e-12)
