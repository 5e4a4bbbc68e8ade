"""The small public types of ``ember.distributed``: reduction ops, backends, errors."""

from __future__ import annotations

from datetime import timedelta

__all__ = ["ReduceOp", "Backend", "DistError", "DistBackendError", "DistNetworkError",
           "DistStoreError", "default_pg_timeout"]

# PyTorch's default for CPU process groups.
default_pg_timeout = timedelta(minutes=30)


class DistError(RuntimeError):
    """Raised when an error occurs in the distributed library."""

    __module__ = "ember.distributed"


class DistBackendError(DistError):
    """Raised when a collective fails: a peer rank failed, or the timeout ran out."""

    __module__ = "ember.distributed"


class DistNetworkError(DistError):
    """Raised when a network error occurs."""

    __module__ = "ember.distributed"


class DistStoreError(DistError):
    """Raised when the rendezvous cannot complete."""

    __module__ = "ember.distributed"


class _RedOpType:
    __slots__ = ("name", "value")

    def __init__(self, name: str, value: int) -> None:
        self.name, self.value = name, value

    def __repr__(self) -> str:
        return f"<RedOpType.{self.name}: {self.value}>"

    def __str__(self) -> str:
        return f"RedOpType.{self.name}"

    def __eq__(self, other) -> bool:
        if isinstance(other, ReduceOp):
            other = other.op
        return isinstance(other, _RedOpType) and other.value == self.value

    def __hash__(self) -> int:
        return hash(self.value)


class ReduceOp:
    """How a collective combines the ranks' values: ``ReduceOp.SUM``, ``AVG``, ``PRODUCT``,
    ``MIN``, ``MAX``, ``BAND``, ``BOR``, ``BXOR``."""

    RedOpType = _RedOpType

    def __init__(self, op: _RedOpType | None = None) -> None:
        self.op = op if op is not None else ReduceOp.SUM

    def __eq__(self, other) -> bool:
        return self.op == other

    def __hash__(self) -> int:
        return hash(self.op)


for _i, _name in enumerate(["SUM", "AVG", "PRODUCT", "MIN", "MAX", "BAND", "BOR", "BXOR",
                            "PREMUL_SUM"]):
    setattr(ReduceOp, _name, _RedOpType(_name, _i))


class Backend(str):
    """A backend name: ``Backend("gloo")`` is ``"gloo"``. Every CPU backend is served by MPI."""

    UNDEFINED = "undefined"
    GLOO = "gloo"
    MPI = "mpi"
    NCCL = "nccl"
    UCC = "ucc"
    XCCL = "xccl"

    def __new__(cls, name: str) -> Backend:
        if not isinstance(name, str):
            raise ValueError("Backend constructor parameter must be string-ish")
        return str.__new__(cls, name.lower())
