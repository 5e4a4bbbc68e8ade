"""ember.distributed across 2 real processes (MPI), each launch under a hard timeout.

The workers in ``workers/`` run the checks; DDP's results are compared here with PyTorch
training on one process on the whole batches.
"""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import ember
from ember.distributed import _mpi

pytestmark = pytest.mark.needs_mpi  # see conftest.py: fails (not skips) without the extra

WORKERS = Path(__file__).parent / "workers"
LIMIT = 120     # seconds; a hang fails the test instead of blocking CI


def _env() -> dict:
    env = dict(os.environ)
    # The children import the ember under test.
    env["PYTHONPATH"] = os.pathsep.join(
        [str(Path(ember.__file__).resolve().parent.parent), env.get("PYTHONPATH", "")])
    env["OMP_NUM_THREADS"] = "1"
    return env


def _run(cmd: list) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=LIMIT)


def _launch(script: str, *args: str) -> subprocess.CompletedProcess:
    return _run([sys.executable, "-m", "ember.distributed.run", "--nproc-per-node", "2",
                 str(WORKERS / script), *args])


def _data():
    spec = importlib.util.spec_from_file_location("_dist_data", WORKERS / "_data.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _torch_mlp(d):
    t = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(),
                            torch.nn.Linear(8, 3)).double()
    with torch.no_grad():
        for p, w in zip(t.parameters(), d.W):
            p.copy_(torch.tensor(w))
    return t


def test_collectives_and_ddp_two_processes_match_torch_on_one(tmp_path):
    p = _launch("ddp.py", str(tmp_path))
    assert p.returncode == 0, p.stdout + p.stderr
    # collectives.py ran first: every collective against hand-computed values
    assert "COLLECTIVES-OK 0" in p.stdout and "COLLECTIVES-OK 1" in p.stdout
    d = _data()
    ranks = [np.load(tmp_path / f"rank{r}.npz") for r in range(2)]
    ds = torch.utils.data.TensorDataset(torch.tensor(d.X), torch.tensor(d.Y))
    samplers = [torch.utils.data.DistributedSampler(ds, 2, r, True, d.SEED) for r in range(2)]

    # Keys as PyTorch's wrappers name them.
    keys = list(torch.nn.DataParallel(_torch_mlp(d)).state_dict())
    assert list(ranks[0]["state_dict_keys"]) == keys

    # SGD with momentum and Adam: 2 ranks with half batches == torch with whole batches.
    for name in ("sgd", "adam"):
        t = _torch_mlp(d)
        opt = (torch.optim.SGD(t.parameters(), lr=0.1, momentum=0.9) if name == "sgd"
               else torch.optim.Adam(t.parameters(), lr=0.01))
        for epoch in range(d.EPOCHS):
            idx = []
            for r, s in enumerate(samplers):
                s.set_epoch(epoch)
                idx.append(list(s))
                assert ranks[r][f"indices_{epoch}"].tolist() == idx[r]
            for step in range(len(idx[0]) // d.BATCH):
                rows = sum((i[d.BATCH * step:d.BATCH * (step + 1)] for i in idx), [])
                opt.zero_grad()
                torch.nn.functional.cross_entropy(t(torch.tensor(d.X[rows])),
                                                  torch.tensor(d.Y[rows])).backward()
                opt.step()
        for pname, p in t.named_parameters():
            for r in range(2):
                np.testing.assert_allclose(ranks[r][f"{name}_{pname}"], p.detach().numpy(),
                                           rtol=1e-6, atol=1e-12)

    # no_sync: each rank accumulated 2 micro-batches, then one synced backward averaged.
    t = _torch_mlp(d)
    for rows in (slice(0, 4), slice(4, 8), slice(8, 12), slice(12, 16)):
        torch.nn.functional.cross_entropy(t(torch.tensor(d.X[rows])),
                                          torch.tensor(d.Y[rows])).backward()
    t0 = _torch_mlp(d)      # rank 0's first micro-batch alone
    torch.nn.functional.cross_entropy(t0(torch.tensor(d.X[0:4])),
                                      torch.tensor(d.Y[0:4])).backward()
    for pname, p in t.named_parameters():
        for r in range(2):
            np.testing.assert_allclose(ranks[r][f"nosync_{pname}"], p.grad.numpy() / 2,
                                       rtol=1e-6, atol=1e-12)
        # inside no_sync rank 0 kept its own gradient
        np.testing.assert_allclose(ranks[0][f"nosync_local_{pname}"],
                                   dict(t0.named_parameters())[pname].grad.numpy(),
                                   rtol=1e-6, atol=1e-12)

    # find_unused_parameters: the branch only rank 0 used gets rank 0's gradient / 2.
    b = torch.nn.Linear(6, 3).double()
    with torch.no_grad():
        b.weight.copy_(torch.tensor(ranks[0]["unused_b_weight"]))
    b(torch.tensor(d.X[0:4])).sum().backward()
    for r in range(2):
        np.testing.assert_allclose(ranks[r]["unused_b_grad"], b.weight.grad.numpy() / 2,
                                   rtol=1e-6)
        assert bool(ranks[r]["unused_c_grad_is_none"])

    # SyncBatchNorm on 2 halves == BatchNorm on the whole batch.
    bn = torch.nn.BatchNorm1d(3).double()
    x = torch.tensor(d.XB, requires_grad=True)
    y = bn(x)
    (y * torch.tensor(d.GB)).sum().backward()
    for r in range(2):
        part = slice(4 * r, 4 * r + 4)
        np.testing.assert_allclose(ranks[r]["syncbn_out"], y[part].detach().numpy(),
                                   rtol=1e-6, atol=1e-12)
        np.testing.assert_allclose(ranks[r]["syncbn_xgrad"], x.grad[part].numpy(),
                                   rtol=1e-6, atol=1e-12)
        np.testing.assert_allclose(ranks[r]["syncbn_wgrad_sum"], bn.weight.grad.numpy(),
                                   rtol=1e-6)
        np.testing.assert_allclose(ranks[r]["syncbn_rmean"], bn.running_mean.numpy(),
                                   rtol=1e-6)
        np.testing.assert_allclose(ranks[r]["syncbn_rvar"], bn.running_var.numpy(), rtol=1e-6)


@pytest.mark.parametrize("mode", ["raise", "exit"])
def test_a_failing_rank_ends_the_job_with_its_rank_named(mode):
    if mode == "raise":
        p = _launch("faults.py", mode)
    else:       # started by mpiexec itself: rank and size come from MPI
        p = _run(_mpi.mpiexec_args(2) + [sys.executable, str(WORKERS / "faults.py"), mode])
    out = p.stdout + p.stderr
    assert p.returncode != 0, out
    if mode == "raise":
        # rank 0 was waiting in all_reduce: it raises DistBackendError naming rank 1
        assert "RANK0-SAW: [Rank 0] rank 1 failed" in out, out
        assert "ValueError: boom from rank 1" in out, out
    else:
        # the process vanished: MPI's launcher ends the job and names the process (rank 1)
        assert "exited with non-zero status" in out and ",1]" in out, out
