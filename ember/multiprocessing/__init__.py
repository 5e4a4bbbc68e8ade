"""``ember.multiprocessing``: Python's ``multiprocessing`` plus tensors shared with workers
and ``spawn``.

Everything from the standard module is here (``Process``, ``Queue``, ``set_start_method``,
...). A tensor whose memory was shared (``t.share_memory_()``, ``module.share_memory()``)
travels to other processes by handle, so a worker's in-place updates are seen by the parent
(Hogwild training); other tensors travel by copy.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import traceback
from multiprocessing import *  # noqa: F403
from multiprocessing.reduction import ForkingPickler

from .._tensor import Tensor
from ._shared import reduce_tensor

__all__ = [*multiprocessing.__all__, "spawn", "start_processes", "ProcessContext",
           "ProcessRaisedException", "ProcessExitedException", "set_sharing_strategy",
           "get_sharing_strategy", "get_all_sharing_strategies"]

ForkingPickler.register(Tensor, reduce_tensor)

_STRATEGIES = {"file_descriptor", "file_system"}
_strategy = ["file_descriptor"]


def set_sharing_strategy(new_strategy: str) -> None:
    """Record the sharing strategy (ember always shares through named files)."""
    if new_strategy not in _STRATEGIES:
        raise AssertionError
    _strategy[0] = new_strategy


def get_sharing_strategy() -> str:
    return _strategy[0]


def get_all_sharing_strategies() -> set:
    return set(_STRATEGIES)


class ProcessException(Exception):
    def __init__(self, msg: str, error_index: int, pid: int) -> None:
        super().__init__(msg)
        self.msg, self.error_index, self.pid = msg, error_index, pid

    def __reduce__(self):
        return type(self), (self.msg, self.error_index, self.pid)


class ProcessRaisedException(ProcessException):
    """A process started by ``spawn`` raised; the message carries its traceback."""


class ProcessExitedException(ProcessException):
    """A process started by ``spawn`` exited with a nonzero code (or a signal)."""

    def __init__(self, msg: str, error_index: int, error_pid: int, exit_code: int,
                 signal_name: str | None = None) -> None:
        super().__init__(msg, error_index, error_pid)
        self.exit_code, self.signal_name = exit_code, signal_name

    def __reduce__(self):
        return (type(self), (self.msg, self.error_index, self.pid, self.exit_code,
                             self.signal_name))


def _wrap(fn, i: int, args: tuple, error_queue) -> None:
    try:
        fn(i, *args)
    except KeyboardInterrupt:
        pass
    except Exception:  # noqa: BLE001 - reported to the parent, which raises
        error_queue.put(traceback.format_exc())
        raise SystemExit(1) from None


class ProcessContext:
    """The processes ``spawn(..., join=False)`` started; ``join()`` waits for them."""

    def __init__(self, processes: list, error_queues: list) -> None:
        self.processes = processes
        self.error_queues = error_queues

    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the processes; True once all exited cleanly, False on timeout. A failed
        process makes the others terminate and raises its error here."""
        pending = {p.sentinel: i for i, p in enumerate(self.processes) if p.is_alive()}
        while pending:
            ready = multiprocessing.connection.wait(list(pending), timeout=timeout)
            if not ready:
                return False
            for s in ready:
                i = pending.pop(s)
                p = self.processes[i]
                p.join()
                if p.exitcode != 0:
                    self._fail(i)
        for i, p in enumerate(self.processes):
            if p.exitcode != 0:
                self._fail(i)
        return True

    def _fail(self, i: int) -> None:
        for p in self.processes:
            if p.is_alive():
                p.terminate()
            p.join()
        p = self.processes[i]
        q = self.error_queues[i]
        if not q.empty():
            msg = f"\n\n-- Process {i} terminated with the following error:\n{q.get()}"
            raise ProcessRaisedException(msg, i, p.pid)
        if p.exitcode < 0:
            import signal
            name = signal.Signals(-p.exitcode).name
            raise ProcessExitedException(f"process {i} terminated with signal {name}", i,
                                         p.pid, p.exitcode, name)
        raise ProcessExitedException(f"process {i} terminated with exit code {p.exitcode}",
                                     i, p.pid, p.exitcode)


def start_processes(fn, args: tuple = (), nprocs: int = 1, join: bool = True,
                    daemon: bool = False, start_method: str = "spawn"):
    """Start ``nprocs`` processes running ``fn(i, *args)``; join them unless ``join`` is
    False (then the ``ProcessContext`` is returned)."""
    ctx = multiprocessing.get_context(start_method)
    processes, queues = [], []
    for i in range(nprocs):
        q = ctx.SimpleQueue()
        p = ctx.Process(target=_wrap, args=(fn, i, args, q), daemon=daemon)
        p.start()
        processes.append(p)
        queues.append(q)
    context = ProcessContext(processes, queues)
    if not join:
        return context
    while not context.join():
        pass
    return None


def spawn(fn, args: tuple = (), nprocs: int = 1, join: bool = True, daemon: bool = False,
          start_method: str = "spawn"):
    """``start_processes`` with the ``spawn`` start method: ``fn(i, *args)`` in each of
    ``nprocs`` fresh interpreters; a worker's exception is raised here with its traceback."""
    return start_processes(fn, args, nprocs, join, daemon, start_method)
