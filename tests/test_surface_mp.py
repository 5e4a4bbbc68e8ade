"""ember.multiprocessing: spawn, errors raised in workers, and tensors shared with workers
(in-place updates seen by the parent, Hogwild-style on a shared module), under timeouts."""

import os
import time

import _mp_workers  # noqa: I001 - tests/ is on sys.path (pytest rootdir insertion)
import numpy as np
import pytest

import ember
import ember.multiprocessing as mp

TIMEOUT = 60


@pytest.fixture(autouse=True)
def _child_imports_this_ember(monkeypatch):
    root = os.path.dirname(os.path.dirname(os.path.abspath(ember.__file__)))
    here = os.path.dirname(os.path.abspath(__file__))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([root, here]))


def _join(context):
    deadline = time.monotonic() + TIMEOUT
    try:
        while not context.join(timeout=1):
            if time.monotonic() > deadline:
                pytest.fail("spawned workers did not finish in time")
    finally:
        for p in context.processes:
            if p.is_alive():
                p.kill()


def test_spawn_shares_tensors_and_module_parameters():
    ember.manual_seed(0)
    shared = ember.zeros(2).share_memory_()
    private = ember.zeros(2)
    model = ember.nn.Linear(3, 1)
    model.share_memory()
    before = [p.detach().clone() for p in model.parameters()]
    x, target = ember.randn(2, 3), ember.randn(2, 1)
    assert shared.is_shared() and not private.is_shared()
    assert all(p.is_shared() for p in model.parameters())
    context = mp.spawn(_mp_workers.add_rank, args=(shared, private, model, x, target),
                       nprocs=2, join=False)
    _join(context)
    assert shared.tolist() == [1.0, 2.0]      # each worker's in-place write is visible
    assert private.tolist() == [0.0, 0.0]     # never shared: the workers had copies
    after = list(model.parameters())
    assert all(not np.array_equal(a.detach().numpy(), b.numpy())
               for a, b in zip(after, before))


def test_spawn_raises_the_workers_error():
    context = mp.spawn(_mp_workers.fail_on_zero, nprocs=1, join=False)
    with pytest.raises(mp.ProcessRaisedException) as info:
        _join(context)
    msg = str(info.value)
    assert "-- Process 0 terminated with the following error:" in msg
    assert "ValueError: boom from worker" in msg
    assert info.value.error_index == 0 and info.value.pid == context.processes[0].pid


def test_queue_passes_shared_tensors_by_handle():
    ctx = mp.get_context("spawn")
    queue, done = ctx.Queue(), ctx.Queue()
    shared = ember.arange(3.).share_memory_()
    view = shared[1:]                       # a view of shared memory travels as a view
    private = ember.arange(3.)
    p = ctx.Process(target=_mp_workers.consume, args=(queue, done))
    p.start()
    try:
        queue.put((view, private))
        flags = done.get(timeout=TIMEOUT)
    finally:
        p.join(TIMEOUT)
        if p.is_alive():
            p.kill()
    assert flags == (True, False, [0.0, 2.0, 4.0])
    assert shared.tolist() == [0.0, 2.0, 4.0] and private.tolist() == [0.0, 1.0, 2.0]
    assert p.exitcode == 0


def test_namespace():
    import multiprocessing
    for name in ("Process", "Queue", "set_start_method", "get_start_method", "Pool",
                 "get_context", "cpu_count"):
        assert getattr(mp, name) is getattr(multiprocessing, name)
    assert mp.get_sharing_strategy() in mp.get_all_sharing_strategies()
