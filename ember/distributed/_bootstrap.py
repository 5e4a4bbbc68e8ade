"""What each process started by ``ember.distributed.run`` runs first: set torchrun's
environment from MPI's, then run the user's script, module or program."""

from __future__ import annotations

import argparse
import os
import runpy
import sys


def _mpi_env(name: str, default: str | None = None) -> str | None:
    for key in (f"OMPI_COMM_WORLD_{name}", f"PMI_{name}", f"MPI_LOCAL{name}"):
        if key in os.environ:
            return os.environ[key]
    if name == "RANK" and "PMIX_RANK" in os.environ:
        return os.environ["PMIX_RANK"]
    return default


def torchrun_env(master_addr: str, master_port: int, run_id: str) -> dict:
    """The variables torchrun gives each worker, computed from the MPI launcher's."""
    rank = int(_mpi_env("RANK", "0"))
    size = int(_mpi_env("SIZE", "1"))
    local_rank = int(_mpi_env("LOCAL_RANK", str(rank)))
    local_size = int(_mpi_env("LOCAL_SIZE", str(size)))
    node = rank // max(local_size, 1)
    return {"RANK": str(rank), "WORLD_SIZE": str(size), "LOCAL_RANK": str(local_rank),
            "LOCAL_WORLD_SIZE": str(local_size), "GROUP_RANK": str(node),
            "ROLE_RANK": str(rank), "ROLE_WORLD_SIZE": str(size), "ROLE_NAME": "default",
            "GROUP_WORLD_SIZE": str(max(size // max(local_size, 1), 1)),
            "MASTER_ADDR": master_addr, "MASTER_PORT": str(master_port),
            "TORCHELASTIC_RUN_ID": run_id, "TORCHELASTIC_RESTART_COUNT": "0",
            "TORCHELASTIC_MAX_RESTARTS": "0"}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--master-addr", default="127.0.0.1")
    p.add_argument("--master-port", type=int, default=29500)
    p.add_argument("--run-id", default="none")
    p.add_argument("-m", dest="module", action="store_true")
    p.add_argument("--no-python", action="store_true")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    args = p.parse_args()
    rest = args.rest[1:] if args.rest and args.rest[0] == "--" else args.rest
    os.environ.update(torchrun_env(args.master_addr, args.master_port, args.run_id))
    target, argv = rest[0], rest[1:]
    if args.no_python:
        os.execvp(target, [target] + argv)
    sys.argv = [target] + argv
    if args.module:
        sys.path[0] = os.getcwd()
        runpy.run_module(target, run_name="__main__", alter_sys=True)
    else:
        sys.path[0] = os.path.dirname(os.path.abspath(target))
        runpy.run_path(target, run_name="__main__")


if __name__ == "__main__":
    main()
