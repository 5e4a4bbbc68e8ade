"""ember.distributed in one process: the API without a group, a world of one rank compared
with PyTorch's gloo world of one, DistributedSampler, DataParallel, SyncBatchNorm's
conversion, the launcher's command line and the missing-extra message."""

import os
import sys

import numpy as np
import pytest
import torch
import torch.distributed as tdist

import ember
import ember.distributed as dist
from ember.distributed import _mpi, _world
from ember.distributed import run as launcher

needs_mpi = pytest.mark.needs_mpi  # see conftest.py: fails (not skips) without the extra


def _same_error(fe, ft):
    with pytest.raises(Exception) as et:
        ft()
    with pytest.raises(type(et.value)) as ee:
        fe()
    assert str(ee.value) == str(et.value)


def test_without_a_process_group():
    assert dist.is_available() == _mpi.have_mpi4py()
    assert dist.is_initialized() is tdist.is_initialized() is False
    for name in ("get_rank", "get_world_size", "get_backend", "barrier"):
        _same_error(getattr(dist, name), getattr(tdist, name))
    _same_error(lambda: dist.all_reduce(ember.ones(2)), lambda: tdist.all_reduce(torch.ones(2)))
    _same_error(lambda: dist.new_group([0]), lambda: tdist.new_group([0]))
    _same_error(dist.destroy_process_group, tdist.destroy_process_group)


def test_types_match_torch():
    for name in ("SUM", "AVG", "PRODUCT", "MIN", "MAX", "BAND", "BOR", "BXOR"):
        e, t = getattr(dist.ReduceOp, name), getattr(tdist.ReduceOp, name)
        assert (repr(e), str(e)) == (repr(t), str(t))
    assert dist.ReduceOp.SUM == dist.ReduceOp(dist.ReduceOp.SUM)
    for name in ("gloo", "MPI", "Gloo"):
        assert dist.Backend(name) == tdist.Backend(name)
    _same_error(lambda: dist.Backend(3), lambda: tdist.Backend(3))
    assert issubclass(dist.DistBackendError, RuntimeError)
    assert dist.default_pg_timeout == tdist.default_pg_timeout
    assert dist.is_torchelastic_launched() == tdist.is_torchelastic_launched()
    _same_error(dist.get_node_local_rank, tdist.get_node_local_rank)


def test_missing_extra_says_what_to_install(monkeypatch):
    monkeypatch.setattr(_world, "have_mpi4py", lambda: False)
    assert dist.is_available() is False
    with pytest.raises(RuntimeError, match=r'pip install "ember\[distributed\]"'):
        dist.init_process_group("gloo")
    assert not dist.is_initialized()


def test_unsupported_backend_and_bad_world_size(monkeypatch):
    with pytest.raises(RuntimeError, match="NCCL"):
        dist.init_process_group("nccl")
    with pytest.raises(ValueError, match="Invalid backend"):
        dist.init_process_group("carrier-pigeon")
    if _mpi.have_mpi4py():
        # Several ranks promised, but no MPI launcher started this process.
        for k in ("OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"):
            monkeypatch.delenv(k, raising=False)
        with pytest.raises(RuntimeError, match="ember.distributed.run --nproc-per-node 2"):
            dist.init_process_group("gloo", rank=0, world_size=2)
    assert not dist.is_initialized()


@pytest.fixture
def world_of_one(monkeypatch, tmp_path):
    """ember's and torch's default groups, each with one rank."""
    for k in ("RANK", "WORLD_SIZE"):
        monkeypatch.delenv(k, raising=False)
    dist.init_process_group("gloo")
    tdist.init_process_group("gloo", init_method=f"file://{tmp_path}/store", rank=0,
                             world_size=1)
    yield
    dist.destroy_process_group()
    tdist.destroy_process_group()


@needs_mpi
def test_world_of_one_matches_torch(world_of_one):
    assert (dist.get_rank(), dist.get_world_size()) == (tdist.get_rank(), tdist.get_world_size())
    assert dist.get_backend() == tdist.get_backend()
    _same_error(lambda: dist.init_process_group("gloo"),
                lambda: tdist.init_process_group("gloo"))
    for op in ("SUM", "AVG", "MAX"):
        e, t = ember.tensor([1.5, -2.0]), torch.tensor([1.5, -2.0])
        dist.all_reduce(e, op=getattr(dist.ReduceOp, op))
        tdist.all_reduce(t, op=getattr(tdist.ReduceOp, op))
        assert e.tolist() == t.tolist()
    e_out, t_out = [ember.zeros(2)], [torch.zeros(2)]
    dist.all_gather(e_out, ember.tensor([3.0, 4.0]))
    tdist.all_gather(t_out, torch.tensor([3.0, 4.0]))
    assert e_out[0].tolist() == t_out[0].tolist()
    w_e = dist.all_reduce(ember.ones(2), async_op=True)
    w_t = tdist.all_reduce(torch.ones(2), async_op=True)
    assert w_e.wait() == w_t.wait() and w_e.is_completed() == w_t.is_completed()
    assert w_e.result()[0].tolist() == w_t.result()[0].tolist()
    objs_e, objs_t = [None], [None]
    dist.all_gather_object(objs_e, {"a": 1})
    tdist.all_gather_object(objs_t, {"a": 1})
    assert objs_e == objs_t
    _same_error(lambda: dist.send(ember.ones(2), dst=0), lambda: tdist.send(torch.ones(2), dst=0))
    _same_error(lambda: dist.all_reduce([1, 2]), lambda: tdist.all_reduce([1, 2]))
    _same_error(lambda: dist.new_group([3]), lambda: tdist.new_group([3]))
    with pytest.raises(RuntimeError) as et:
        tdist.broadcast(torch.ones(2), src=1)
    with pytest.raises(RuntimeError, match="invalid root rank: 1"):
        dist.broadcast(ember.ones(2), src=1)
    assert "invalid root rank: 1" in str(et.value)
    with pytest.raises(RuntimeError) as et:
        tdist.all_gather([torch.ones(2)] * 2, torch.ones(2))
    with pytest.raises(RuntimeError) as ee:
        dist.all_gather([ember.ones(2)] * 2, ember.ones(2))
    assert "expected length 1, got 2" in str(et.value) and "expected length 1, got 2" in str(ee.value)
    g_e, g_t = dist.new_group([0]), tdist.new_group([0])
    assert (g_e.rank(), g_e.size()) == (g_t.rank(), g_t.size())
    assert dist.get_process_group_ranks(g_e) == tdist.get_process_group_ranks(g_t)


@needs_mpi
def test_ddp_and_syncbn_in_a_world_of_one(monkeypatch):
    from ember.nn.parallel import DistributedDataParallel as DDP
    for k in ("RANK", "WORLD_SIZE"):
        monkeypatch.delenv(k, raising=False)
    dist.init_process_group("gloo")
    try:
        x = np.random.default_rng(1).standard_normal((6, 4)).astype(np.float32)
        e = ember.nn.Sequential(ember.nn.Linear(4, 3), ember.nn.BatchNorm1d(3))
        t = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.BatchNorm1d(3))
        t.load_state_dict({k: torch.tensor(v.numpy()) for k, v in e.state_dict().items()})
        e = DDP(ember.nn.SyncBatchNorm.convert_sync_batchnorm(e))
        # With one rank DDP changes nothing: compare with the plain torch model (torch's own
        # DDP takes seconds to construct, and its SyncBatchNorm needs a GPU).
        assert list(e.state_dict()) == list(torch.nn.DataParallel(t).state_dict())
        ye, yt = e(ember.tensor(x)), t(torch.tensor(x))
        np.testing.assert_allclose(ye.detach().numpy(), yt.detach().numpy(), rtol=1e-5,
                                   atol=1e-6)
        ye.square().sum().backward()
        yt.square().sum().backward()
        for pe, pt in zip(e.parameters(), t.parameters()):
            np.testing.assert_allclose(pe.grad.numpy(), pt.grad.numpy(), rtol=1e-4, atol=1e-5)
        with pytest.raises(RuntimeError, match="DistributedDataParallel is not needed when a "
                                               "module doesn't have any parameter"):
            DDP(ember.nn.ReLU())
        e.reducer.remove()
    finally:
        dist.destroy_process_group()


def test_distributed_sampler_matches_torch():
    from torch.utils.data import DistributedSampler as T

    from ember.utils.data import DistributedSampler as E
    for n in (10, 11, 3):
        for replicas in (2, 3, 4):
            for drop_last in (False, True):
                for shuffle in (True, False):
                    for rank in range(replicas):
                        e = E(range(n), replicas, rank, shuffle, 5, drop_last)
                        t = T(range(n), replicas, rank, shuffle, 5, drop_last)
                        for epoch in (0, 3):
                            e.set_epoch(epoch)
                            t.set_epoch(epoch)
                            assert list(e) == list(t) and len(e) == len(t)
    _same_error(lambda: E(range(4), 2, 2), lambda: T(range(4), 2, 2))


def test_data_parallel_is_a_pass_through():
    e = ember.nn.Linear(3, 2)
    t = torch.nn.Linear(3, 2)
    t.load_state_dict({k: torch.tensor(v.numpy()) for k, v in e.state_dict().items()})
    de, dt = ember.nn.DataParallel(e), torch.nn.DataParallel(t)
    assert list(de.state_dict()) == list(dt.state_dict())
    assert repr(de) == repr(dt)
    assert de.module is e
    x = np.ones((4, 3), dtype=np.float32)
    np.testing.assert_allclose(de(ember.tensor(x)).detach().numpy(),
                               dt(torch.tensor(x)).detach().numpy(), rtol=1e-6)
    assert ember.nn.parallel.DataParallel is ember.nn.DataParallel


def test_convert_sync_batchnorm_matches_torch():
    def build(lib):
        return lib.nn.Sequential(lib.nn.Conv2d(2, 3, 1), lib.nn.BatchNorm2d(3),
                                 lib.nn.Sequential(lib.nn.BatchNorm1d(4, momentum=None)))
    e = ember.nn.SyncBatchNorm.convert_sync_batchnorm(build(ember))
    t = torch.nn.SyncBatchNorm.convert_sync_batchnorm(build(torch))
    assert repr(e) == repr(t)
    assert list(e.state_dict()) == list(t.state_dict())
    # Without a process group it is BatchNorm (torch's needs a GPU here, so compare to that).
    x = np.random.default_rng(2).standard_normal((4, 3, 2, 2)).astype(np.float32)
    bn_t = torch.nn.BatchNorm2d(3)
    y = e[1](ember.tensor(x))
    np.testing.assert_allclose(y.detach().numpy(), bn_t(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(e[1].running_var.numpy(), bn_t.running_var.numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="expected at least 2D input"):
        e[1](ember.ones(3))


def test_launcher_command_line(monkeypatch, capsys):
    # The test extra installs the distributed extra: its absence is an error, not a skip.
    assert _mpi.have_mpi4py(), "needs the distributed extra: pip install -e '.[test]'"
    args = launcher.get_args_parser().parse_args(
        ["--nnodes", "2", "--nproc_per_node", "3", "--hosts", "a,b", "--master-addr", "a",
         "train.py", "--lr", "0.1"])
    cmd = launcher._command(args, 3, 2, "job")
    assert cmd[cmd.index("-n") + 1] == "6"
    assert cmd[cmd.index("--host") + 1] == "a:3,b:3"
    assert cmd[cmd.index("--map-by") + 1] == "ppr:3:node"
    assert cmd[-3:] == ["train.py", "--lr", "0.1"] and sys.executable in cmd
    # Another machine's launcher has nothing to start: node 0's mpiexec starts its processes.
    assert launcher.main(["--nnodes", "2", "--node-rank", "1", "train.py"]) == 0
    assert launcher.main(["--nnodes", "2", "train.py"]) == 2
    assert "--hostfile" in capsys.readouterr().err


def test_bootstrap_sets_torchrun_environment(monkeypatch):
    from ember.distributed._bootstrap import torchrun_env
    monkeypatch.setenv("OMPI_COMM_WORLD_RANK", "5")
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "6")
    monkeypatch.setenv("OMPI_COMM_WORLD_LOCAL_RANK", "2")
    monkeypatch.setenv("OMPI_COMM_WORLD_LOCAL_SIZE", "3")
    env = torchrun_env("host0", 1234, "run")
    assert (env["RANK"], env["WORLD_SIZE"], env["LOCAL_RANK"], env["LOCAL_WORLD_SIZE"],
            env["GROUP_RANK"], env["MASTER_ADDR"], env["MASTER_PORT"]) == \
        ("5", "6", "2", "3", "1", "host0", "1234")
    assert os.environ.get("RANK") != "5"      # computed, not yet applied
