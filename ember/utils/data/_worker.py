"""What runs inside a DataLoader worker process, and the fetchers both paths share."""

from __future__ import annotations

import pickle
import queue
import random
import traceback
from dataclasses import dataclass
from typing import Any

__all__ = ["WorkerInfo", "get_worker_info"]

_POLL_S = 1.0          # how often an idle worker checks for the shutdown event
_PARENT_CHECK_S = 0.2  # how often a worker's watchdog thread checks that its parent lives


@dataclass(frozen=True)
class WorkerInfo:
    """Describes the current worker process: ``id`` in ``[0, num_workers)``, its ``seed``
    (``base_seed + id``) and its copy of the ``dataset``."""

    id: int
    num_workers: int
    seed: int
    dataset: Any


_worker_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """The :class:`WorkerInfo` inside a DataLoader worker process; ``None`` in the main one."""
    return _worker_info


# -- fetchers: indices (or "the next batch") -> a collated batch -------------------------------

class MapFetcher:
    """Fetches ``dataset[i]`` for each index of a batch (or one index), then collates."""

    def __init__(self, dataset, auto_collation: bool, collate_fn, drop_last: bool) -> None:
        self.dataset, self.auto, self.collate_fn = dataset, auto_collation, collate_fn
        self.many = getattr(dataset, "__getitems__", None) if auto_collation else None

    def fetch(self, index):
        if self.auto:
            data = self.many(index) if callable(self.many) else [self.dataset[i] for i in index]
        else:
            data = self.dataset[index]
        return self.collate_fn(data)


class IterableFetcher:
    """Takes the next sample (or ``batch_size`` of them) from an iterable dataset."""

    def __init__(self, dataset, auto_collation: bool, collate_fn, drop_last: bool) -> None:
        self.it, self.auto, self.collate_fn = iter(dataset), auto_collation, collate_fn
        self.drop_last, self.ended = drop_last, False

    def fetch(self, batch_size):
        if self.ended:
            raise StopIteration
        if not self.auto:
            return self.collate_fn(next(self.it))
        data = []
        for item in self.it:
            data.append(item)
            if len(data) == batch_size:
                break
        else:
            self.ended = True
        if not data or (self.drop_last and len(data) < batch_size):
            raise StopIteration
        return self.collate_fn(data)


# -- errors raised in a worker travel to the main process as text ------------------------------

class ExceptionWrapper:
    """An exception from ``where``, with its traceback, re-raisable in another process."""

    def __init__(self, exc: BaseException, where: str) -> None:
        self.exc_type = type(exc)
        try:                                    # a class defined in a function cannot travel
            pickle.dumps(self.exc_type)
        except Exception:
            self.exc_type = RuntimeError
        self.msg = (f"Caught {self.exc_type.__name__} {where}.\nOriginal "
                    + "".join(traceback.format_exception(exc)))

    def reraise(self):
        if self.exc_type is KeyError:          # KeyError would quote the whole message
            raise KeyError(_KeyErrorMessage(self.msg))
        try:
            err = self.exc_type(self.msg)
        except Exception:                       # a constructor that takes other arguments
            raise RuntimeError(self.msg) from None
        raise err


class _KeyErrorMessage(str):
    def __repr__(self) -> str:
        return str(self)


@dataclass(frozen=True)
class IterationEnd:
    """Sent by a worker whose iterable dataset is exhausted."""

    worker_id: int


@dataclass(frozen=True)
class Resume:
    """Sent to a persistent worker at a new epoch: restart the dataset's iterator."""


def _watch_parent(parent_pid: int) -> None:
    """Exit this worker as soon as its parent is gone, whatever the main thread is doing
    (fetching a sample, or blocked sending a batch nobody will read)."""
    import os
    import time
    while True:
        time.sleep(_PARENT_CHECK_S)
        if os.getppid() != parent_pid:
            os._exit(0)


def worker_loop(kind: str, dataset, index_queue, result_conn, auto_collation: bool,
                collate_fn, drop_last: bool, base_seed: int, init_fn, worker_id: int,
                num_workers: int, parent_pid: int, done_event, inherited=()) -> None:
    """A worker's life: seed every RNG like PyTorch does, run ``init_fn``, then fetch each
    ``(task, index)`` from ``index_queue`` and send ``(task, result)`` down ``result_conn``
    (a pipe only this worker writes to, so the parent sees a half-sent batch as end of file
    when the worker dies) until it gets ``None`` (``done_event`` set: the parent is shutting
    down, so pending tasks are dropped)."""
    global _worker_info
    import threading
    from multiprocessing.reduction import ForkingPickler

    import numpy

    from ... import _random

    for conn in inherited:                      # reading ends a forked child copied
        conn.close()
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True,
                     name="ember-dataloader-watchdog").start()
    seed = base_seed + worker_id
    random.seed(seed)
    _random.manual_seed(seed)
    # PyTorch seeds NumPy's legacy global RNG from a SeedSequence over these three words.
    words = [worker_id, base_seed & 0xFFFFFFFF, base_seed >> 32]
    numpy.random.seed(numpy.random.SeedSequence(words).generate_state(4))
    _worker_info = WorkerInfo(worker_id, num_workers, seed, dataset)
    fetcher_cls = IterableFetcher if kind == "iterable" else MapFetcher
    init_error = None
    try:
        if init_fn is not None:
            init_fn(worker_id)
        fetcher = fetcher_cls(dataset, auto_collation, collate_fn, drop_last)
    except Exception as exc:
        init_error = ExceptionWrapper(exc, f"in DataLoader worker process {worker_id}")
    ended = False
    while True:
        try:
            task = index_queue.get(timeout=_POLL_S)
        except queue.Empty:
            if done_event.is_set():
                return
            continue
        if task is None:
            return
        if isinstance(task, Resume):
            ended = False
            try:
                fetcher = fetcher_cls(dataset, auto_collation, collate_fn, drop_last)
            except Exception as exc:
                init_error = ExceptionWrapper(exc, f"in DataLoader worker process {worker_id}")
            continue
        if ended or done_event.is_set():        # the parent skips these tasks
            continue
        tid, index = task
        if init_error is not None:
            data, init_error = init_error, None
        else:
            try:
                data = fetcher.fetch(index)
            except StopIteration as exc:
                if kind == "iterable":
                    ended, data = True, IterationEnd(worker_id)
                else:
                    data = ExceptionWrapper(exc, f"in DataLoader worker process {worker_id}")
            except Exception as exc:
                data = ExceptionWrapper(exc, f"in DataLoader worker process {worker_id}")
        try:                                    # pickled here, so a failure is reported
            payload = ForkingPickler.dumps((tid, data))
        except Exception as exc:                # e.g. a sample holding a lambda
            payload = ForkingPickler.dumps((tid, ExceptionWrapper(
                exc, f"in DataLoader worker process {worker_id}")))
        del data
        try:
            result_conn.send_bytes(payload)
        except OSError:                         # the parent closed its end: it is done
            return
        del payload
