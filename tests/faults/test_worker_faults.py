"""Issue 16 item 1: DataLoader workers that die, whatever they were doing (computing a sample,
or halfway through sending a large batch), are reported within a second with PyTorch's
error, and no worker outlives the loader or its parent."""

import gc
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest
import torch.utils.data as tdata

import ember.utils.data as edata

from .conftest import child_env, gone

_BIG = 2 * 1024 * 1024          # float32 elements: 8 MB a sample, far beyond a pipe's buffer


class SelfKill:
    """Sample 2 kills its worker: by a signal, or by exiting with a code (noting the moment
    in ``stamp``)."""

    def __init__(self, how: str) -> None:
        self.how = how
        self.stamp = multiprocessing.get_context("fork").Value("d", 0.0)

    def __len__(self):
        return 6

    def __getitem__(self, i):
        if i == 2:
            self.stamp.value = time.time()
            if self.how == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            os._exit(3)
        return i


class ESelfKill(SelfKill, edata.Dataset):
    pass


class TSelfKill(SelfKill, tdata.Dataset):
    pass


@pytest.fixture
def detected(monkeypatch):
    """Records when the loader noticed a dead worker (before it stops the others)."""
    from ember.utils.data import dataloader
    seen = []
    real = dataloader._MultiProcessIter._raise_dead

    def spy(self, wids):
        seen.append(time.time())
        return real(self, wids)

    monkeypatch.setattr(dataloader._MultiProcessIter, "_raise_dead", spy)
    return seen


def _failure(loader):
    """The error iterating ``loader`` raises, as its type and text with the pids taken out
    (they differ between runs)."""
    try:
        for _ in loader:
            pass
    except RuntimeError as err:
        shape = (type(err), re.sub(r"\d{2,}", "PID", str(err)), type(err.__cause__),
                 re.sub(r"pid \d+", "pid PID", str(err.__cause__)))
    else:
        raise AssertionError("no error")
    # The traceback (dropped with ``err``) holds the iterator: collect it now, as PyTorch's
    # SIGCHLD handler keeps raising for its dead worker until that iterator is gone.
    gc.collect()
    return shape


@pytest.mark.parametrize("how", ["kill", "exit"])
def test_worker_dying_in_getitem_is_reported_at_once(how, deadline, detected):
    deadline(20)
    data = ESelfKill(how)
    ours = _failure(edata.DataLoader(data, batch_size=None, num_workers=2,
                                     multiprocessing_context="fork"))
    assert detected and detected[0] - data.stamp.value < 1.0
    # One torch worker: PyTorch stops a surviving sibling only after a 5 s join.
    theirs = _failure(tdata.DataLoader(TSelfKill(how), batch_size=None, num_workers=1))
    assert ours == theirs


class Big(edata.Dataset):
    """Large samples; sample ``victim`` kills its own worker ``delay`` seconds after it is
    computed, i.e. while the batch is being pickled or written to the parent, and notes
    the moment in ``stamp``."""

    def __init__(self, victim: int, delay: float) -> None:
        self.victim, self.delay = victim, delay
        self.stamp = multiprocessing.get_context("fork").Value("d", 0.0)

    def __len__(self):
        return 12

    def __getitem__(self, i):
        if i == self.victim:
            threading.Timer(self.delay, self._die).start()
        return np.full(_BIG, i, dtype=np.float32)

    def _die(self):
        self.stamp.value = time.time()
        os.kill(os.getpid(), signal.SIGKILL)


@pytest.mark.parametrize("victim,delay", [(3, 0.0), (4, 0.002), (5, 0.01), (6, 0.03)])
def test_worker_killed_while_sending_a_large_batch(victim, delay, deadline, detected):
    deadline(20)
    data = Big(victim, delay)
    it = iter(edata.DataLoader(data, batch_size=None, num_workers=2,
                               multiprocessing_context="fork"))
    workers = list(it._workers)
    with pytest.raises(RuntimeError, match=r"DataLoader worker \(pid\(s\) \d+\) exited "
                                           r"unexpectedly") as info:
        for _ in it:
            pass
    assert data.stamp.value > 0 and detected and detected[0] - data.stamp.value < 1.0
    assert time.time() - data.stamp.value < 4.0   # the survivor is stopped without a 5 s join
    assert "is killed by signal: Killed." in str(info.value.__cause__)
    for w in workers:                       # the survivor was stopped and reaped too
        assert not w.is_alive() and gone(w.pid)


def test_loader_abandoned_mid_epoch_stops_blocked_workers(deadline):
    deadline(20)
    it = iter(edata.DataLoader(Big(-1, 0), batch_size=None, num_workers=2))
    next(it)
    time.sleep(0.2)                         # both workers now block sending large batches
    workers = list(it._workers)
    start = time.monotonic()
    it._shutdown_workers()
    assert time.monotonic() - start < 4.0   # well inside the 5 s a busy worker is given
    assert all(gone(w.pid) for w in workers)


_ORPHAN = textwrap.dedent("""
    import sys, time
    import numpy as np
    import ember.utils.data as edata

    class Big(edata.Dataset):
        def __len__(self):
            return 100
        def __getitem__(self, i):
            if i >= 4:
                time.sleep(60)              # a worker stuck in __getitem__
            return np.zeros(1 << 18, dtype=np.float32)  # 1 MB: blocks in the pipe

    it = iter(edata.DataLoader(Big(), batch_size=None, num_workers=2))
    next(it)
    print(" ".join(str(w.pid) for w in it._workers), flush=True)
    time.sleep(60)
""")


def test_workers_exit_when_the_parent_is_killed(deadline):
    deadline(30)
    parent = subprocess.Popen([sys.executable, "-c", _ORPHAN], stdout=subprocess.PIPE,
                              env=child_env(), text=True)
    try:
        pids = [int(p) for p in parent.stdout.readline().split()]
        assert len(pids) == 2
        time.sleep(0.3)                     # one worker blocks sending, one sleeps in getitem
        parent.kill()
        parent.wait(timeout=10)
        end = time.monotonic() + 3
        while time.monotonic() < end and not all(gone(p) for p in pids):
            time.sleep(0.05)
        alive = [p for p in pids if not gone(p)]
        for p in alive:                     # do not leave them behind even when failing
            os.kill(p, signal.SIGKILL)
        assert not alive, f"workers {alive} outlived their parent"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
