"""``Work``: the handle of an asynchronous collective or point-to-point operation."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from ._world import ProcessGroup, wait_requests

__all__ = ["Work"]


class _Future:
    """The minimal ``torch.futures.Future`` a Work hands out: ``wait()``, ``value()``,
    ``done()`` and ``then()``."""

    def __init__(self, work: Work) -> None:
        self._work = work

    def wait(self):
        self._work.wait()
        return self._work.result()

    def value(self):
        return self.wait()

    def done(self) -> bool:
        return self._work.is_completed()

    def then(self, callback: Callable):
        done = _Done(callback(self))
        return done


class _Done:
    def __init__(self, value) -> None:
        self._value = value

    def wait(self):
        return self._value

    value = wait

    def done(self) -> bool:
        return True


class Work:
    """A pending operation: ``wait()`` blocks until it completes (bounded by the group's
    timeout) and makes its results visible in the tensors."""

    def __init__(self, reqs: list, pg: ProcessGroup, what: str,
                 finish: Callable[[], None] | None = None, result: list | None = None,
                 statuses: list | None = None) -> None:
        self._reqs = reqs
        self._statuses = statuses
        self._pg = pg
        self._what = what
        self._finish = finish
        self._result = result if result is not None else []
        self._done = False
        self._exc: BaseException | None = None
        self._source: int | None = None

    def wait(self, timeout: timedelta | None = None) -> bool:
        if self._done:
            if self._exc is not None:
                raise self._exc
            return True
        try:
            wait_requests(self._reqs, self._pg, self._what, timeout, self._statuses)
            if self._finish is not None:
                self._finish()
        except BaseException as e:
            self._exc = e
            self._done = True
            raise
        self._done = True
        return True

    def is_completed(self) -> bool:
        if self._done:
            return True
        from ._mpi import mpi
        if self._reqs and not mpi().Request.Testall(self._reqs, self._statuses):
            return False
        self.wait()
        return True

    def is_success(self) -> bool:
        return self.is_completed() and self._exc is None

    def exception(self):
        return self._exc

    def result(self) -> list:
        return self._result

    def source_rank(self) -> int:
        self.wait()
        if self._source is None:
            raise RuntimeError("source_rank is only available for recv with ANY_SOURCE")
        return self._source

    def synchronize(self) -> None:
        self.wait()

    def get_future(self) -> _Future:
        return _Future(self)
