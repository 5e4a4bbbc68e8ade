"""``DataLoader``: batches from a dataset, in the main process or in worker processes.

Random draws match PyTorch's: each ``iter(loader)`` takes one int64 ``random_()`` from
``loader.generator`` (the workers' base seed) and a shuffling sampler draws its permutation
when the first batch is requested, so a seeded generator yields PyTorch's batches.
"""

from __future__ import annotations

import itertools
import multiprocessing
import multiprocessing.connection as mp_connection
import os
import pickle
import signal
import time
import warnings
import weakref
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

from ... import _creation, _dtype
from . import _worker
from ._collate import default_collate, default_convert
from .dataset import Dataset, IterableDataset
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = ["DataLoader"]

T_co = TypeVar("T_co", covariant=True)
_WATCH_S = 5.0          # how long shutdown lets busy workers finish before terminating
_FROZEN = ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset",
           "persistent_workers")


class _InfiniteConstantSampler(Sampler[None]):
    """The sampler of an iterable dataset: ``None`` forever (the dataset decides the end)."""

    def __iter__(self):
        while True:
            yield None


class DataLoader(Generic[T_co]):
    """Iterates over ``dataset`` in batches of ``batch_size`` samples.

    ``shuffle=True`` draws a new order each epoch (from ``generator`` if given);
    ``sampler``/``batch_sampler`` choose the order instead. ``collate_fn`` merges samples
    (default: :func:`default_collate`; :func:`default_convert` when ``batch_size=None``
    turns batching off). ``num_workers > 0`` loads in that many worker processes, which
    still yield batches in order. ``pin_memory`` is accepted and ignored (CPU only).
    """

    dataset: Dataset[T_co]
    batch_size: int | None
    num_workers: int
    drop_last: bool
    __initialized = False

    def __init__(self, dataset: Dataset[T_co], batch_size: int | None = 1,
                 shuffle: bool | None = None, sampler: Sampler | Iterable | None = None,
                 batch_sampler: Sampler[list] | Iterable[list] | None = None,
                 num_workers: int = 0, collate_fn: Callable[[list], Any] | None = None,
                 pin_memory: bool = False, drop_last: bool = False, timeout: float = 0,
                 worker_init_fn: Callable[[int], None] | None = None,
                 multiprocessing_context=None, generator=None, *,
                 prefetch_factor: int | None = None, persistent_workers: bool = False,
                 pin_memory_device: str = "", in_order: bool = True) -> None:
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to "
                             "disable multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in "
                             "multiprocessing.let num_workers > 0 to enable multiprocessing, "
                             "otherwise set prefetch_factor to None.")
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        elif prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError("prefetch_factor option should be non-negative")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")

        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.in_order = in_order

        if isinstance(dataset, IterableDataset):
            self._dataset_kind = "iterable"
            if shuffle not in {False, None}:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified "
                                 f"shuffle option, but got shuffle={shuffle}")
            if sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified "
                                 f"sampler option, but got sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified "
                                 f"batch_sampler option, but got batch_sampler={batch_sampler}")
        else:
            shuffle = bool(shuffle)
            self._dataset_kind = "map"
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")

        if sampler is None:
            if self._dataset_kind == "iterable":
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self.persistent_workers = persistent_workers
        self.__initialized = True
        self._IterableDataset_len_called: int | None = None
        self._iterator: _BaseIter | None = None
        self.check_worker_number_rationality()

    # -- configuration --------------------------------------------------------------------
    @property
    def multiprocessing_context(self):
        return self.__multiprocessing_context

    @multiprocessing_context.setter
    def multiprocessing_context(self, context) -> None:
        if context is not None:
            if self.num_workers == 0:
                raise ValueError(f"multiprocessing_context can only be used with multi-process "
                                 f"loading (num_workers > 0), but got "
                                 f"num_workers={self.num_workers}")
            if isinstance(context, str):
                methods = multiprocessing.get_all_start_methods()
                if context not in methods:
                    raise ValueError(f"multiprocessing_context option should specify a valid "
                                     f"start method in {methods!r}, but got "
                                     f"multiprocessing_context={context!r}")
                context = multiprocessing.get_context(context)
            if not isinstance(context, multiprocessing.context.BaseContext):
                raise TypeError(f"multiprocessing_context option should be a valid context "
                                f"object or a string specifying the start method, but got "
                                f"multiprocessing_context={context}")
        self.__multiprocessing_context = context

    def __setattr__(self, attr: str, value) -> None:
        if self.__initialized and attr in _FROZEN:
            raise ValueError(f"{attr} attribute should not be set after "
                             f"{type(self).__name__} is initialized")
        super().__setattr__(attr, value)

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def check_worker_number_rationality(self) -> None:
        """Warn when asking for more workers than this process may run on CPUs."""
        if not self.num_workers:
            return
        cpus = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                else os.cpu_count())
        if cpus is not None and self.num_workers > cpus:
            warnings.warn(f"This DataLoader will create {self.num_workers} worker processes in "
                          f"total. Our suggested max number of worker in current system is "
                          f"{cpus}, which is smaller than what this DataLoader is going to "
                          f"create. Please be aware that excessive worker creation might get "
                          f"DataLoader running slow or even freeze, lower the worker number to "
                          f"avoid potential slowness/freeze if necessary.", stacklevel=2)

    # -- iteration ------------------------------------------------------------------------
    def __iter__(self) -> _BaseIter:
        if self.persistent_workers and self.num_workers > 0:
            if self._iterator is None:
                self._iterator = self._get_iterator()
            else:
                self._iterator._reset(self)
            return self._iterator
        return self._get_iterator()

    def _get_iterator(self) -> _BaseIter:
        if self.num_workers == 0:
            return _SingleProcessIter(self)
        self.check_worker_number_rationality()
        return _MultiProcessIter(self)

    def __len__(self) -> int:
        """Batches per epoch (for an iterable dataset: from ``len(dataset)``, if it has one)."""
        if self._dataset_kind == "iterable":
            n = self._IterableDataset_len_called = len(self.dataset)
            if self.batch_size is not None:
                n = n // self.batch_size if self.drop_last else -(-n // self.batch_size)
            return n
        return len(self._index_sampler)


class _BaseIter:
    """One pass over a DataLoader; subclasses say where each batch is produced."""

    def __init__(self, loader: DataLoader) -> None:
        self._dataset = loader.dataset
        self._kind = loader._dataset_kind
        self._IterableDataset_len_called = loader._IterableDataset_len_called
        self._auto_collation = loader._auto_collation
        self._drop_last = loader.drop_last
        self._index_sampler = loader._index_sampler
        self._num_workers = loader.num_workers
        self._timeout = loader.timeout
        self._collate_fn = loader.collate_fn
        self._persistent_workers = loader.persistent_workers
        if loader.pin_memory:
            warnings.warn("'pin_memory' argument is set as true but no accelerator is found, "
                          "then device pinned memory won't be used.", stacklevel=3)
        self._sampler_iter = iter(self._index_sampler)
        # Drawn even without workers, like PyTorch, so the generator's stream stays in step.
        seed = _creation.empty((), dtype=_dtype.int64).random_(generator=loader.generator)
        self._base_seed = int(seed.item())
        self._num_yielded = 0

    def __iter__(self) -> _BaseIter:
        return self

    def __len__(self) -> int:
        return len(self._index_sampler)

    def _reset(self, loader: DataLoader, first_iter: bool = False) -> None:
        self._sampler_iter = iter(self._index_sampler)
        self._num_yielded = 0
        self._IterableDataset_len_called = loader._IterableDataset_len_called

    def _next_index(self):
        return next(self._sampler_iter)

    def _fetch_arg(self, index):
        # An iterable dataset's "index" is how many samples to take (None: one, unbatched).
        if self._kind == "iterable":
            return len(index) if self._auto_collation else None
        return index

    def _next_data(self):
        raise NotImplementedError

    def __next__(self) -> Any:
        data = self._next_data()
        self._num_yielded += 1
        n = self._IterableDataset_len_called
        if self._kind == "iterable" and n is not None and self._num_yielded > n:
            msg = (f"Length of IterableDataset {self._dataset} was reported to be {n} (when "
                   f"accessing len(dataloader)), but {self._num_yielded} samples have been "
                   f"fetched. ")
            if self._num_workers > 0:
                msg += ("For multiprocessing data-loading, this could be caused by not properly "
                        "configuring the IterableDataset replica at each worker.")
            warnings.warn(msg, stacklevel=2)
        return data


class _SingleProcessIter(_BaseIter):
    """Fetches each batch in the calling process."""

    def __init__(self, loader: DataLoader) -> None:
        super().__init__(loader)
        cls = _worker.IterableFetcher if self._kind == "iterable" else _worker.MapFetcher
        self._fetcher = cls(self._dataset, self._auto_collation, self._collate_fn,
                            self._drop_last)

    def _next_data(self):
        index = self._next_index()
        return self._fetcher.fetch(self._fetch_arg(index))


class _MultiProcessIter(_BaseIter):
    """Sends indices round-robin to worker processes (``prefetch_factor`` tasks each in
    flight) and yields their batches in task order.

    Each worker answers down its own pipe, and the parent waits on that pipe together with
    every worker's process sentinel, so a worker that dies (even halfway through sending a
    large batch: the pipe then reads as end of file) is reported at once."""

    def __init__(self, loader: DataLoader) -> None:
        super().__init__(loader)
        self._prefetch_factor = loader.prefetch_factor
        ctx = loader.multiprocessing_context or multiprocessing.get_context()
        self._done = ctx.Event()
        self._index_queues, self._workers, self._conns = [], [], []
        self._epoch = 0
        self._finalizer = weakref.finalize(self, _stop_workers, os.getpid(), self._workers,
                                           self._index_queues, self._conns, self._done)
        for wid in range(self._num_workers):
            iq = ctx.Queue()
            iq.cancel_join_thread()
            reader, writer = ctx.Pipe(duplex=False)
            w = ctx.Process(target=_worker.worker_loop, daemon=True, args=(
                self._kind, self._dataset, iq, writer, self._auto_collation,
                self._collate_fn, self._drop_last, self._base_seed, loader.worker_init_fn, wid,
                self._num_workers, os.getpid(), self._done,
                # A forked child inherits the reading ends (its own and its elder siblings'):
                # it closes them, so a pipe whose reader the parent closed breaks at once.
                [*self._conns, reader] if ctx.get_start_method() == "fork" else []))
            self._index_queues.append(iq)
            self._conns.append(reader)
            w.start()
            self._workers.append(w)
            # Only the worker may hold the writing end: its death must read as end of file.
            writer.close()
        self._reset(loader, first_iter=True)

    def _reset(self, loader: DataLoader, first_iter: bool = False) -> None:
        super()._reset(loader, first_iter)
        self._epoch += 1                 # results of an earlier epoch are recognised and dropped
        self._send_idx = self._rcvd_idx = 0
        self._task_info: dict[int, tuple] = {}      # task -> (worker,)
        self._active = [True] * self._num_workers
        self._cycle = itertools.cycle(range(self._num_workers))
        if not first_iter:
            for iq in self._index_queues:
                iq.put(_worker.Resume())
        for _ in range(self._prefetch_factor * self._num_workers):
            self._try_put_index()

    def _try_put_index(self) -> None:
        try:
            index = self._next_index()
        except StopIteration:
            return
        for _ in range(self._num_workers):
            wid = next(self._cycle)
            if self._active[wid]:
                break
        else:
            return
        self._index_queues[wid].put(((self._epoch, self._send_idx), self._fetch_arg(index)))
        self._task_info[self._send_idx] = (wid,)
        self._send_idx += 1

    def _get_result(self, wid: int):
        """The next ``(task, data)`` of this epoch from worker ``wid``, watching every active
        worker for death (and honouring the loader's ``timeout``)."""
        conn = self._conns[wid]
        deadline = time.monotonic() + self._timeout if self._timeout > 0 else None
        while True:
            wait_s = _WATCH_S if deadline is None else max(0.0, deadline - time.monotonic())
            watched = {w.sentinel: i for i, w in enumerate(self._workers) if self._active[i]}
            ready = mp_connection.wait([conn, *watched], timeout=wait_s)
            if conn in ready:
                try:
                    tid, data = pickle.loads(conn.recv_bytes())
                except (EOFError, OSError):      # it died, possibly halfway through a batch
                    self._raise_dead([wid])
                if tid[0] == self._epoch:
                    return tid[1], data
                continue
            dead = [watched[s] for s in ready if s in watched]
            if dead:
                self._raise_dead(dead)
            if not ready and deadline is not None and time.monotonic() >= deadline:
                raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds")

    def _raise_dead(self, wids: list[int]):
        """PyTorch's error for workers that exited: the pids, with each one's signal or exit
        code as the cause. Every other worker is stopped first."""
        causes = []
        for wid in wids:
            w = self._workers[wid]
            w.join(timeout=1.0)
            code = w.exitcode
            if code is not None and code < 0:
                try:
                    name = signal.strsignal(-code) or f"signal {-code}"
                except ValueError:
                    name = f"signal {-code}"
                causes.append(f"DataLoader worker (pid {w.pid}) is killed by signal: "
                              f"{name}. ")
            else:
                causes.append(f"DataLoader worker (pid {w.pid}) exited unexpectedly with exit "
                              f"code {code}. Details are lost due to multiprocessing. "
                              f"Rerunning with num_workers=0 may give better error trace.")
        pids = ", ".join(str(self._workers[wid].pid) for wid in wids)
        self._shutdown_workers()
        raise RuntimeError(f"DataLoader worker (pid(s) {pids}) exited "
                           f"unexpectedly") from RuntimeError(causes[0])

    def _next_data(self):
        while True:
            # Skip tasks sent to workers whose iterable ran out before answering them.
            while self._rcvd_idx < self._send_idx:
                if self._active[self._task_info[self._rcvd_idx][0]]:
                    break
                del self._task_info[self._rcvd_idx]
                self._rcvd_idx += 1
            else:
                if not self._persistent_workers:
                    self._shutdown_workers()
                raise StopIteration
            wid = self._task_info[self._rcvd_idx][0]
            # A worker answers its tasks in the order it got them, and every earlier task of
            # this worker has been answered, so its next answer is this task's.
            idx, data = self._get_result(wid)
            if isinstance(data, _worker.IterationEnd):
                self._active[data.worker_id] = False
                if not self._persistent_workers:
                    self._index_queues[data.worker_id].put(None)
                self._try_put_index()
                continue
            if idx != self._rcvd_idx:
                raise RuntimeError(f"DataLoader: worker {wid} answered task {idx} while task "
                                   f"{self._rcvd_idx} was expected")
            del self._task_info[idx]
            self._rcvd_idx += 1
            return self._process(data)

    def _process(self, data):
        self._try_put_index()
        if isinstance(data, _worker.ExceptionWrapper):
            data.reraise()
        return data

    def _shutdown_workers(self) -> None:
        self._finalizer()


def _stop_workers(owner: int, workers: list, index_queues: list, conns: list, done) -> None:
    """Stop and reap the workers (once). Registered with ``weakref.finalize``, which keeps the
    queues alive until it runs (a ``__del__`` could find them already closed by the garbage
    collector). Closing the pipes first frees a worker blocked sending a batch; one still
    busy after the grace period is terminated, then killed."""
    if os.getpid() != owner:                   # a forked child holds a copy: not its workers
        return
    done.set()
    for iq in index_queues:
        iq.put(None)
    for c in conns:
        c.close()
    deadline = time.monotonic() + _WATCH_S
    for w in workers:
        w.join(timeout=max(0.0, deadline - time.monotonic()))
    for w in workers:
        if w.is_alive():
            w.terminate()
    for w in workers:
        w.join(timeout=1.0)
        if w.is_alive():
            w.kill()
            w.join()
    for q in index_queues:
        q.cancel_join_thread()
        q.close()
