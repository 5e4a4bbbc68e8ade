"""``python -m ember.distributed.run``: torchrun's command line, launching through mpiexec.

::

    python -m ember.distributed.run --nproc-per-node 2 train.py --epochs 3

starts 2 processes of ``train.py`` with ``mpiexec``; each sees torchrun's environment
(``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``LOCAL_WORLD_SIZE``, ``GROUP_RANK``,
``MASTER_ADDR``, ``MASTER_PORT``, ``TORCHELASTIC_RUN_ID``) so ``init_process_group()`` with
the default ``env://`` works unchanged.

Several machines: MPI starts the whole job from one machine, over ssh, from a host list. Run
the launcher once, on the machine with ``--node-rank 0``, with ``--nnodes M`` and
``--hostfile FILE`` (or ``--hosts a,b``); launchers started with another ``--node-rank``
have nothing to do and exit 0 (so a torchrun-style script that runs the same command on every
machine still works).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import uuid

from ._mpi import INSTALL_HINT, have_mpi4py, mpiexec_args

__all__ = ["main", "get_args_parser"]


def _nproc(value: str) -> int:
    if value in ("auto", "cpu"):
        return os.cpu_count() or 1
    if value == "gpu":
        raise ValueError("ember runs on the CPU: use --nproc-per-node N, 'cpu' or 'auto'")
    return int(value)


def _nnodes(value: str) -> int:
    # torchrun accepts "MIN:MAX" for elastic jobs; an MPI job has a fixed size.
    lo, _, hi = value.partition(":")
    if hi and hi != lo:
        raise ValueError("elastic --nnodes MIN:MAX is not supported: MPI jobs have a fixed "
                         "size; give one number")
    return int(lo)


def get_args_parser() -> argparse.ArgumentParser:
    """The launcher's arguments (torchrun's names, both ``--a-b`` and ``--a_b`` spellings)."""
    p = argparse.ArgumentParser(
        prog="python -m ember.distributed.run",
        description="Start N processes of a training script, connected by MPI "
                    "(torchrun's command line for ember).")

    def add(name: str, **kw):
        flags = [f"--{name}"]
        if "-" in name:
            flags.append("--" + name.replace("-", "_"))
        p.add_argument(*flags, **kw)

    add("nnodes", type=str, default="1", help="number of machines")
    add("nproc-per-node", type=str, default="1", help="processes per machine (int or 'auto')")
    add("node-rank", type=int, default=0, help="this machine's index (0 starts the job)")
    add("master-addr", type=str, default="127.0.0.1", help="address of node 0")
    add("master-port", type=int, default=29500, help="port exported as MASTER_PORT")
    add("standalone", action="store_true", help="single machine (the default here)")
    add("hostfile", type=str, default=None, help="MPI hostfile listing the machines")
    add("hosts", type=str, default=None, help="comma-separated machines (instead of a file)")
    add("mpiexec-args", type=str, default="", help="extra arguments for mpiexec")
    add("max-restarts", type=int, default=0, help="accepted; restarts are not supported")
    add("rdzv-backend", type=str, default="static", help="accepted and ignored (MPI)")
    add("rdzv-endpoint", type=str, default="", help="accepted and ignored (MPI)")
    add("rdzv-id", type=str, default="none", help="exported as TORCHELASTIC_RUN_ID")
    add("rdzv-conf", type=str, default="", help="accepted and ignored (MPI)")
    add("monitor-interval", type=float, default=0.1, help="accepted and ignored")
    add("start-method", type=str, default="spawn", help="accepted and ignored")
    add("run-path", action="store_true", help="run the script with runpy (always the case)")
    p.add_argument("-m", "--module", action="store_true",
                   help="run the target as a module (python -m)")
    add("no-python", action="store_true", help="run the target as a program, not with Python")
    p.add_argument("training_script", type=str)
    p.add_argument("training_script_args", nargs=argparse.REMAINDER)
    return p


def _command(args, nproc: int, nnodes: int, run_id: str) -> list[str]:
    cmd = mpiexec_args(nproc * nnodes)
    if nnodes > 1:
        if args.hostfile:
            cmd += ["--hostfile", args.hostfile]
        else:
            cmd += ["--host", ",".join(f"{h}:{nproc}" for h in args.hosts.split(","))]
        cmd += ["--map-by", f"ppr:{nproc}:node"]
        # Remote processes get only the variables named here.
        for var in ("PYTHONPATH", "OMP_NUM_THREADS", "PATH"):
            if var in os.environ:
                cmd += ["-x", var]
    cmd += args.mpiexec_args.split()
    cmd += [sys.executable, "-m", "ember.distributed._bootstrap",
            "--master-addr", args.master_addr, "--master-port", str(args.master_port),
            "--run-id", run_id]
    if args.module:
        cmd.append("-m")
    if args.no_python:
        cmd.append("--no-python")
    return cmd + ["--", args.training_script] + list(args.training_script_args)


def main(argv: list[str] | None = None) -> int:
    args = get_args_parser().parse_args(argv)
    if not have_mpi4py():
        print(INSTALL_HINT, file=sys.stderr)
        return 1
    nproc, nnodes = _nproc(args.nproc_per_node), _nnodes(args.nnodes)
    if args.max_restarts:
        print("ember.distributed.run: --max-restarts is not supported (an MPI job has a "
              "fixed set of processes); running once", file=sys.stderr)
    if nnodes > 1 and args.node_rank != 0:
        print(f"ember.distributed.run: node {args.node_rank}: the MPI job is started from "
              f"node 0, whose mpiexec starts this machine's processes; nothing to do here",
              file=sys.stderr)
        return 0
    if nnodes > 1 and not (args.hostfile or args.hosts):
        print("ember.distributed.run: --nnodes > 1 needs the machines: --hostfile FILE (an "
              "MPI hostfile) or --hosts host0,host1,...", file=sys.stderr)
        return 2
    env = dict(os.environ)
    if nproc * nnodes > 1 and "OMP_NUM_THREADS" not in env:
        # As torchrun: one BLAS thread per process unless told otherwise.
        env["OMP_NUM_THREADS"] = "1"
    run_id = args.rdzv_id if args.rdzv_id != "none" else uuid.uuid4().hex[:12]
    cmd = _command(args, nproc, nnodes, run_id)
    proc = subprocess.Popen(cmd, env=env)
    try:
        rc = proc.wait()
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGINT)
        rc = proc.wait()
    if rc != 0:
        print(f"ember.distributed.run: the job failed (mpiexec exit code {rc}); the output "
              f"above names the rank that failed first", file=sys.stderr)
    return rc


if __name__ == "__main__":
    sys.exit(main())
