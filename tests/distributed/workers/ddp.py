"""DDP, SyncBatchNorm and DistributedSampler on 2 ranks (after collectives.py's checks, run
first in the same processes to save a launch).

Run by tests/distributed/test_distributed_mp.py through ``python -m ember.distributed.run``
with an output folder argument; each rank saves its results to ``rank<r>.npz`` there, and the
test compares them with PyTorch on one process (this worker stays free of torch, which keeps
the launch fast). Checks that need no oracle assert here. The last line is ``DDP-OK <rank>``.
"""

import os
import runpy
import sys

import numpy as np
from _data import BATCH, EPOCHS, GB, SEED, XB, W, X, Y

import ember
import ember.distributed as dist
from ember.nn.parallel import DistributedDataParallel as DDP
from ember.utils.data import DataLoader, DistributedSampler, TensorDataset

runpy.run_path(os.path.join(os.path.dirname(__file__), "collectives.py"))
dist.init_process_group("gloo")    # again, after collectives.py's destroy_process_group
# env:// from the launcher's RANK/WORLD_SIZE
rank, world = dist.get_rank(), dist.get_world_size()
assert world == 2 and int(os.environ["RANK"]) == rank
assert os.environ["LOCAL_RANK"] == str(rank) and os.environ["WORLD_SIZE"] == "2"
out: dict = {}


def model():
    """The MLP, float64, initialised to W; rank 1 starts off by one, which DDP's
    construction-time broadcast of rank 0's parameters must repair."""
    e = ember.nn.Sequential(ember.nn.Linear(6, 8), ember.nn.ReLU(), ember.nn.Linear(8, 3))
    e = e.double()
    with ember.no_grad():
        for p, w in zip(e.parameters(), W):
            p.copy_(ember.tensor(w + rank))
    return e


def train(opt_name):
    ddp = DDP(model())
    out["state_dict_keys"] = np.array(list(ddp.state_dict()))
    params = ddp.parameters()
    opt = (ember.optim.SGD(params, lr=0.1, momentum=0.9) if opt_name == "sgd"
           else ember.optim.Adam(params, lr=0.01))
    ds = TensorDataset(ember.tensor(X), ember.tensor(Y))
    sampler = DistributedSampler(ds, shuffle=True, seed=SEED)
    loader = DataLoader(ds, batch_size=BATCH, sampler=sampler)
    for epoch in range(EPOCHS):
        sampler.set_epoch(epoch)
        out[f"indices_{epoch}"] = np.array(list(sampler))
        for xb, yb in loader:
            opt.zero_grad()
            ember.nn.functional.cross_entropy(ddp(xb), yb).backward()
            opt.step()
    for name, p in ddp.module.named_parameters():
        out[f"{opt_name}_{name}"] = p.detach().numpy()
    ddp.reducer.remove()


train("sgd")
train("adam")

# no_sync: accumulate locally, then one synced backward averages the accumulated sum.
ddp = DDP(model(), bucket_cap_mb=0.0001)        # tiny buckets: several in flight at once
assert len(ddp.reducer.buckets) > 1
rows = [slice(8 * rank, 8 * rank + 4), slice(8 * rank + 4, 8 * rank + 8)]
with ddp.no_sync():
    ember.nn.functional.cross_entropy(ddp(ember.tensor(X[rows[0]])),
                                      ember.tensor(Y[rows[0]])).backward()
local = [p.grad.clone() for p in ddp.module.parameters()]
probe = ember.zeros(3)
dist.all_reduce(probe)  # the next collective on the group: nothing is left pending
assert probe.tolist() == [0.0, 0.0, 0.0]
ember.nn.functional.cross_entropy(ddp(ember.tensor(X[rows[1]])),
                                  ember.tensor(Y[rows[1]])).backward()
for (name, p), g in zip(ddp.module.named_parameters(), local):
    out[f"nosync_local_{name}"] = g.numpy()
    out[f"nosync_{name}"] = p.grad.numpy()
ddp.reducer.remove()


# A parameter of 1 MiB or more is reduced in place in its .grad (a bucket of its own): the
# result is the average of the ranks' local gradients.
big = ember.nn.Linear(400, 400).double()                # 1.28 MB weight
ddp = DDP(big)
assert any(b.flat is None for b in ddp.reducer.buckets)
xb = ember.tensor(X[:, :1].repeat(400, axis=1)[4 * rank:4 * rank + 4] * (rank + 1))
plain = ember.nn.Linear(400, 400).double()
plain.load_state_dict(big.state_dict())
plain(xb).square().sum().backward()
ddp(xb).square().sum().backward()
for p_ddp, p_plain in zip(big.parameters(), plain.parameters()):
    grads = [ember.zeros_like(p_plain.grad) for _ in range(2)]
    dist.all_gather(grads, p_plain.grad)
    expect = ((grads[0] + grads[1]) / 2).numpy()
    assert np.allclose(p_ddp.grad.numpy(), expect, rtol=1e-12, atol=0), "solo bucket"
ddp.reducer.remove()

# find_unused_parameters: a branch only rank 0 uses; another branch no rank uses.
class Branchy(ember.nn.Module):
    def __init__(self):
        super().__init__()
        self.a = ember.nn.Linear(6, 3).double()
        self.b = ember.nn.Linear(6, 3).double()
        self.c = ember.nn.Linear(6, 3).double()

    def forward(self, x, use_b):
        return self.a(x) + (self.b(x) if use_b else 0)


net = Branchy()
ddp = DDP(net, find_unused_parameters=True)
xb = ember.tensor(X[4 * rank:4 * rank + 4])
ddp(xb, rank == 0).sum().backward()
out["unused_b_weight"] = net.b.weight.detach().numpy()
out["unused_b_grad"] = net.b.weight.grad.numpy()
out["unused_c_grad_is_none"] = np.array(net.c.weight.grad is None)
ddp.reducer.remove()

# Without find_unused_parameters, an unused parameter is an error at the next forward.
ddp = DDP(Branchy())
ddp(xb, False).sum().backward()
try:
    ddp(xb, False)
    raise AssertionError("expected the unfinished-reduction error")
except RuntimeError as err:
    assert "Expected to have finished reduction in the prior iteration" in str(err), err
ddp.reducer.remove()

# SyncBatchNorm: each rank holds half the batch.
bn = ember.nn.SyncBatchNorm.convert_sync_batchnorm(
    ember.nn.Sequential(ember.nn.BatchNorm1d(3).double()))[0]
assert type(bn).__name__ == "SyncBatchNorm"
part = slice(4 * rank, 4 * rank + 4)
x = ember.tensor(XB[part], requires_grad=True)
y = bn(x)
(y * ember.tensor(GB[part])).sum().backward()
wg = bn.weight.grad.clone()
dist.all_reduce(wg)
out.update(syncbn_out=y.detach().numpy(), syncbn_xgrad=x.grad.numpy(),
           syncbn_wgrad_sum=wg.numpy(), syncbn_rmean=bn.running_mean.numpy(),
           syncbn_rvar=bn.running_var.numpy())

np.savez(os.path.join(sys.argv[1], f"rank{rank}.npz"), **out)
dist.destroy_process_group()
print("DDP-OK", rank, flush=True)
