"""Process groups on MPI communicators: initialisation, groups, waiting and failures.

Every wait goes through :func:`wait_requests`, which polls the MPI requests instead of
blocking in MPI. That is what bounds a collective by its group's ``timeout`` and lets a rank
learn that a peer failed: a rank whose Python code raises sends a short notice to every other
rank (from ``sys.excepthook``) before it exits, and a rank that is waiting raises
``DistBackendError`` naming that rank instead of hanging.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from datetime import timedelta

from ._mpi import INSTALL_HINT, have_mpi4py, launched_by_mpi, mpi
from ._types import Backend, DistBackendError, default_pg_timeout

__all__ = ["ProcessGroup", "GroupMember", "group", "init_process_group",
           "destroy_process_group", "is_initialized", "is_available", "get_rank",
           "get_world_size", "get_backend", "new_group", "get_process_group_ranks",
           "get_global_rank", "get_group_rank", "is_mpi_available", "is_gloo_available",
           "is_nccl_available", "is_backend_available", "is_torchelastic_launched",
           "get_node_local_rank", "get_pg_count", "get_default_backend_for_device"]

_NOTICE, _ACK = 7001, 7002
_CPU_BACKENDS = ("mpi", "gloo")


class ProcessGroup:
    """A set of ranks that run collectives together (an MPI communicator underneath)."""

    def __init__(self, comm, ranks: list[int], backend: str, timeout: timedelta,
                 name: str = "") -> None:
        self._comm = comm
        self._ranks = ranks                      # global rank of each group rank
        self._backend = Backend(backend)
        self._timeout = timeout
        self._name = name
        self._rank = comm.Get_rank()
        self._size = comm.Get_size()

    def rank(self) -> int:
        return self._rank

    def size(self) -> int:
        return self._size

    def name(self) -> str:
        return self._name

    @property
    def group_name(self) -> str:
        return self._name

    def _get_backend_name(self) -> str:
        return str(self._backend)

    def __repr__(self) -> str:
        return f"<ember.distributed.ProcessGroup ranks={self._ranks} backend={self._backend}>"


class GroupMember:
    """``GroupMember.WORLD`` is the default group once initialised; ``NON_GROUP_MEMBER`` is
    what ``new_group`` returns on ranks outside the new group."""

    WORLD: ProcessGroup | None = None
    NON_GROUP_MEMBER = -100


class group:
    """``group.WORLD``: the default process group (``None`` before initialisation)."""

    WORLD: ProcessGroup | None = None


_GroupNamespace = group   # ``group`` is also a parameter name below


class _World:
    default: ProcessGroup | None = None
    notices = None          # the communicator that carries failure notices
    groups: list = []
    hook_installed = False


def is_available() -> bool:
    """Whether ``ember.distributed`` can run: True when mpi4py (the ``distributed`` extra)
    is installed."""
    return have_mpi4py()


def is_mpi_available() -> bool:
    return have_mpi4py()


def is_gloo_available() -> bool:
    # "gloo" is accepted on CPU and served by MPI.
    return have_mpi4py()


def is_nccl_available() -> bool:
    return False


def is_backend_available(backend: str) -> bool:
    return str(backend).lower() in _CPU_BACKENDS and have_mpi4py()


def is_torchelastic_launched() -> bool:
    """Whether this process was started by a torchrun-style launcher (ours sets the same
    variable)."""
    return os.getenv("TORCHELASTIC_RUN_ID") is not None


def get_node_local_rank(fallback_rank: int | None = None) -> int:
    if "LOCAL_RANK" in os.environ:
        return int(os.environ["LOCAL_RANK"])
    if fallback_rank is not None:
        return int(fallback_rank)
    raise RuntimeError("LOCAL_RANK is not in the environment. Consider passing fallback_rank "
                       "to allow `get_node_local_rank` to work, assuming you are not running "
                       "in a multi-device context and want the code to run locally instead.")


def get_default_backend_for_device(device) -> str:
    if str(device).split(":")[0] == "cpu":
        return "gloo"
    raise RuntimeError(f"Default backend not registered for device : {device}")


def is_initialized() -> bool:
    """Whether the default process group has been initialised."""
    return _World.default is not None


def _default() -> ProcessGroup:
    if _World.default is None:
        raise ValueError("Default process group has not been initialized, please make sure "
                         "to call init_process_group.")
    return _World.default


def _resolve(grp) -> ProcessGroup:
    return _default() if grp is None else grp


def not_member(grp) -> bool:
    return grp is GroupMember.NON_GROUP_MEMBER


def _check_backend(backend) -> str:
    if backend is None:
        return "gloo"
    name = str(backend).lower()
    # "cpu:gloo,cuda:nccl" style: take the CPU entry.
    if ":" in name:
        pairs = dict(p.split(":", 1) for p in name.split(","))
        name = pairs.get("cpu", "undefined")
    if name in _CPU_BACKENDS:
        return name
    if name in ("nccl", "ucc", "xccl"):
        raise RuntimeError(f"Distributed package doesn't have {name.upper()} built in")
    raise ValueError(f"Invalid backend: '{backend}'")


def _env_int(name: str, given: int) -> int:
    if given is not None and given >= 0:
        return given
    v = os.environ.get(name)
    return int(v) if v not in (None, "") else -1


def init_process_group(backend: str | None = None, init_method: str | None = None,
                       timeout: timedelta | None = None, world_size: int = -1,
                       rank: int = -1, store=None, group_name: str = "", pg_options=None,
                       device_id=None) -> None:
    """Initialise the default process group over MPI.

    Launch the processes with ``python -m ember.distributed.run --nproc-per-node N`` or
    ``mpiexec -n N``. Rank and world size come from ``rank``/``world_size``, else from the
    ``RANK``/``WORLD_SIZE`` environment (``env://``), else from MPI. ``backend`` may be
    ``"mpi"``, ``"gloo"`` or ``None``; all are served by MPI.

    Example::

        dist.init_process_group("gloo")
        t = ember.ones(2) * dist.get_rank()
        dist.all_reduce(t)
    """
    if _World.default is not None:
        raise ValueError("trying to initialize the default process group twice!")
    if init_method is not None and store is not None:
        raise ValueError("Cannot specify both init_method and store.")
    name = _check_backend(backend)
    if not have_mpi4py():
        raise RuntimeError(INSTALL_HINT)
    if timeout is None:
        timeout = default_pg_timeout
    if not isinstance(timeout, timedelta):
        raise TypeError(f"Expected timeout argument to be of type datetime.timedelta, got "
                        f"{type(timeout)}")
    MPI = mpi()
    world = MPI.COMM_WORLD
    size = _env_int("WORLD_SIZE", world_size)
    want = _env_int("RANK", rank)
    if size > 1 and world.Get_size() == 1 and not launched_by_mpi():
        raise RuntimeError(
            f"world_size={size} but this process was not started by an MPI launcher. Start "
            f"the processes with `python -m ember.distributed.run --nproc-per-node {size} "
            f"script.py` or `mpiexec -n {size} python script.py`.")
    if size not in (-1, world.Get_size()):
        raise ValueError(f"world_size={size} does not match the {world.Get_size()} processes "
                         f"MPI started")
    # Renumber MPI's processes in the order of the ranks asked for (the same order when
    # rank is not given): every rank calls Split, so this is collective and safe.
    key = want if want >= 0 else world.Get_rank()
    # Everyone arrives first (a bounded wait), so the blocking Split below cannot hang.
    wait_requests([world.Ibarrier()],
                  ProcessGroup(world, list(range(world.Get_size())), name, timeout),
                  "init_process_group")
    comm = world.Split(0, key)
    keys = comm.allgather(key)
    if len(set(keys)) != len(keys):
        comm.Free()
        raise ValueError(f"duplicate ranks requested: {keys}")
    pg = ProcessGroup(comm, list(range(comm.Get_size())), name, timeout, group_name or "0")
    # Failure notices travel on a communicator of their own, so they never match a
    # collective's or a user's messages.
    _World.notices = comm.Dup()
    _World.default = pg
    _World.groups = [pg]
    GroupMember.WORLD = group.WORLD = pg
    _install_excepthook()


def destroy_process_group(group: ProcessGroup | None = None) -> None:
    """Release a group (the default group and all others when ``group`` is None)."""
    if group is None:
        if _World.default is None:
            raise AssertionError("Process group cannot be None")
        for pg in _World.groups:
            _free(pg._comm)
        _free(_World.notices)
        _World.default = _World.notices = None
        _World.groups = []
        GroupMember.WORLD = _GroupNamespace.WORLD = None
        return
    if not_member(group):
        return
    if group in _World.groups:
        _World.groups.remove(group)
        _free(group._comm)


def _free(comm) -> None:
    try:
        if comm is not None:
            comm.Free()
    except Exception:  # an already-broken communicator must not block shutdown
        pass


def get_rank(group: ProcessGroup | None = None) -> int:
    """This process's rank in ``group`` (the default group when None); -1 if not a member."""
    if not_member(group):
        return -1
    return _resolve(group).rank()


def get_world_size(group: ProcessGroup | None = None) -> int:
    """The number of ranks in ``group``; -1 if this process is not a member."""
    if not_member(group):
        return -1
    return _resolve(group).size()


def get_backend(group: ProcessGroup | None = None) -> Backend:
    """The backend name of ``group``."""
    if not_member(group):
        raise ValueError("Invalid process group specified")
    return _resolve(group)._backend


def get_pg_count() -> int:
    return len(_World.groups)


def new_group(ranks: list[int] | None = None, timeout: timedelta | None = None,
              backend: str | None = None, pg_options=None, use_local_synchronization=False,
              group_desc: str | None = None, device_id=None) -> ProcessGroup | int:
    """A group of the given global ranks; every rank of the default group must call it.

    Ranks outside the group get ``GroupMember.NON_GROUP_MEMBER``.
    """
    world = _default()
    n = world.size()
    ranks = sorted(range(n) if ranks is None else ranks)
    for r in ranks:
        if not 0 <= r < n:
            raise ValueError(f"Rank {r} is out of range. Valid ranks are 0 to {n - 1} "
                             f"(world_size={n})")
    if len(set(ranks)) != len(ranks):
        raise ValueError(f"ranks must be unique, got {ranks}")
    MPI = mpi()
    me = world.rank()
    wait_requests([world._comm.Ibarrier()], world, "new_group")   # bounded, then Split
    comm = world._comm.Split(0 if me in ranks else MPI.UNDEFINED, me)
    if comm == MPI.COMM_NULL:
        return GroupMember.NON_GROUP_MEMBER
    pg = ProcessGroup(comm, ranks, _check_backend(backend) if backend else world._backend,
                      timeout or world._timeout, str(len(_World.groups)))
    _World.groups.append(pg)
    return pg


def get_process_group_ranks(group: ProcessGroup | None) -> list[int]:
    return list(_resolve(group)._ranks)


def get_global_rank(group: ProcessGroup, group_rank: int) -> int:
    if group is None or group is _World.default:
        return group_rank
    try:
        return group._ranks[group_rank]
    except IndexError:
        raise ValueError(f"Group rank {group_rank} is not part of group {group}") from None


def get_group_rank(group: ProcessGroup, global_rank: int) -> int:
    if group is None or group is _World.default:
        return global_rank
    try:
        return group._ranks.index(global_rank)
    except ValueError:
        raise ValueError(f"Global rank {global_rank} is not part of group {group}") from None


# -- waiting, timeouts and failures ------------------------------------------------------------

def wait_requests(reqs: list, pg: ProcessGroup, what: str, timeout: timedelta | None = None,
                  statuses: list | None = None):
    """Wait for MPI requests, polling so that a peer's failure notice or the timeout ends the
    wait with ``DistBackendError`` rather than a hang."""
    MPI = mpi()
    if not reqs or MPI.Request.Testall(reqs, statuses):
        return
    limit = (timeout or pg._timeout).total_seconds()
    deadline = time.monotonic() + limit
    spins = 0
    while True:
        if MPI.Request.Testall(reqs, statuses):
            return
        spins += 1
        if spins % 16 == 0 or spins > 200:
            check_notices()
        if spins > 200:
            if time.monotonic() > deadline:
                raise DistBackendError(
                    f"[Rank {_global_rank()}] {what} timed out after {limit * 1000:.0f} ms "
                    f"waiting for the other ranks of group {pg._ranks}")
            # Back off to ~1 ms sleeps: a long wait must not steal a core from the peers.
            time.sleep(min(1e-3, 2e-6 * (spins - 200)))


def _global_rank() -> int:
    return _World.default.rank() if _World.default is not None else 0


def check_notices() -> None:
    """Raise if a peer rank has announced that it failed."""
    comm = _World.notices
    if comm is None:
        return
    MPI = mpi()
    status = MPI.Status()
    if comm.Iprobe(source=MPI.ANY_SOURCE, tag=_NOTICE, status=status):
        src = status.Get_source()
        msg = comm.recv(source=src, tag=_NOTICE)
        err = DistBackendError(f"[Rank {_global_rank()}] rank {src} failed, so this collective "
                               f"cannot complete: {msg}")
        err._ember_failed_rank = src
        raise err


def _notify_failure(exc: BaseException) -> None:
    """Tell every peer that this rank failed, then wait (bounded) until they have reported it."""
    comm = _World.notices
    me, n = comm.Get_rank(), comm.Get_size()
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    reqs = [comm.isend(text, dest=r, tag=_NOTICE) for r in range(n) if r != me]
    pending = set(r for r in range(n) if r != me)
    grace = min(_World.default._timeout.total_seconds(), 10.0)
    deadline = time.monotonic() + grace
    while pending and time.monotonic() < deadline:
        for r in list(pending):
            if comm.Iprobe(source=r, tag=_ACK):
                comm.recv(source=r, tag=_ACK)
                pending.discard(r)
            elif comm.Iprobe(source=r, tag=_NOTICE):
                # r failed too: it reports its own error and will not acknowledge ours.
                comm.recv(source=r, tag=_NOTICE)
                comm.send(None, dest=r, tag=_ACK)
                pending.discard(r)
        time.sleep(1e-3)
    del reqs


def _install_excepthook() -> None:
    if _World.hook_installed:
        return
    previous = sys.excepthook

    def hook(etype, value, tb):
        previous(etype, value, tb)
        if _World.default is None or _World.notices is None:
            return
        try:
            sys.stdout.flush()
            sys.stderr.flush()
            src = getattr(value, "_ember_failed_rank", None)
            if src is not None:
                # A peer's failure ended this rank: say so (after printing), don't re-announce.
                _World.notices.send(None, dest=src, tag=_ACK)
            else:
                _notify_failure(value)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            # Skip MPI_Finalize: with a peer gone it could wait forever; the launcher sees 1.
            os._exit(1)

    sys.excepthook = hook
    _World.hook_installed = True
