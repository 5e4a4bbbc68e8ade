"""DDP, SyncBatchNorm and DistributedSampler on 2 ranks, checked against PyTorch on one process.

Run by tests/distributed/test_multiprocess.py through ``python -m ember.distributed.run``.
Every check asserts; the last line printed is ``DDP-OK <rank>``.
"""

import os

import numpy as np
import torch

import ember
import ember.distributed as dist
from ember.nn.parallel import DistributedDataParallel as DDP
from ember.utils.data import DataLoader, DistributedSampler, TensorDataset

dist.init_process_group("gloo")    # env:// from the launcher's RANK/WORLD_SIZE
rank, world = dist.get_rank(), dist.get_world_size()
assert world == 2 and int(os.environ["RANK"]) == rank
assert os.environ["LOCAL_RANK"] == str(rank) and os.environ["WORLD_SIZE"] == "2"

rng = np.random.default_rng(0)          # same data on every rank
X = rng.standard_normal((32, 6))
Y = rng.integers(0, 3, 32)
W = [rng.standard_normal(s) * 0.4 for s in [(8, 6), (8,), (3, 8), (3,)]]


def close(a, b, what, rtol=1e-6, atol=1e-9):
    a = a.detach().numpy() if hasattr(a, "detach") else np.asarray(a)
    b = b.detach().numpy() if hasattr(b, "detach") else np.asarray(b)
    assert np.allclose(a, b, rtol=rtol, atol=atol), f"rank {rank}: {what}: {a} != {b}"


def models():
    """The same MLP in both libraries, float64, initialised to W (rank 1 starts off-by-one
    in ember, which DDP's construction-time broadcast must repair)."""
    e = ember.nn.Sequential(ember.nn.Linear(6, 8), ember.nn.ReLU(), ember.nn.Linear(8, 3))
    t = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    e, t = e.double(), t.double()
    with ember.no_grad(), torch.no_grad():
        for pe, pt, w in zip(e.parameters(), t.parameters(), W):
            pe.copy_(ember.tensor(w + rank))
            pt.copy_(torch.tensor(w))
    return e, t


def train(opt_name):
    e, t = models()
    model = DDP(e)
    assert list(model.state_dict()) == list(torch.nn.DataParallel(t).state_dict())
    make = {"sgd": lambda ps, lib: lib.optim.SGD(ps, lr=0.1, momentum=0.9),
            "adam": lambda ps, lib: lib.optim.Adam(ps, lr=0.01)}[opt_name]
    opt_e, opt_t = make(model.parameters(), ember), make(t.parameters(), torch)
    ds = TensorDataset(ember.tensor(X), ember.tensor(Y))
    sampler = DistributedSampler(ds, shuffle=True, seed=3)
    loader = DataLoader(ds, batch_size=4, sampler=sampler)
    others = [DistributedSampler(ds, num_replicas=2, rank=r, shuffle=True, seed=3)
              for r in range(2)]
    for epoch in range(2):
        sampler.set_epoch(epoch)
        for s in others:
            s.set_epoch(epoch)
        idx = [list(s) for s in others]
        for step, (xb, yb) in enumerate(loader):
            opt_e.zero_grad()
            ember.nn.functional.cross_entropy(model(xb), yb).backward()
            opt_e.step()
            # PyTorch on one process, the whole batch: both ranks' shares of this step.
            full = idx[0][4 * step:4 * step + 4] + idx[1][4 * step:4 * step + 4]
            opt_t.zero_grad()
            torch.nn.functional.cross_entropy(t(torch.tensor(X[full])),
                                              torch.tensor(Y[full])).backward()
            opt_t.step()
    for (name, pe), pt in zip(model.module.named_parameters(), t.parameters()):
        close(pe, pt, f"{opt_name} {name}")
    model.reducer.remove()


train("sgd")
train("adam")

# no_sync: accumulate locally, then one synced backward averages the accumulated sum.
e, t = models()
model = DDP(e, bucket_cap_mb=0.0001)        # tiny buckets: several in flight at once
assert len(model.reducer.buckets) > 1
halves = [slice(0, 4), slice(4, 8)]
with model.no_sync():
    ember.nn.functional.cross_entropy(model(ember.tensor(X[8 * rank:8 * rank + 4])),
                                      ember.tensor(Y[8 * rank:8 * rank + 4])).backward()
local_w = model.module[0].weight.grad.clone()
other = ember.zeros_like(local_w)
dist.all_reduce(other)    # unchanged zeros: no_sync did not all-reduce behind our back
close(other, np.zeros(local_w.shape), "no_sync left no collective pending")
ember.nn.functional.cross_entropy(model(ember.tensor(X[8 * rank + 4:8 * rank + 8])),
                                  ember.tensor(Y[8 * rank + 4:8 * rank + 8])).backward()
for r in range(2):
    for h in halves:
        rows = slice(8 * r + h.start, 8 * r + h.stop)
        torch.nn.functional.cross_entropy(t(torch.tensor(X[rows])),
                                          torch.tensor(Y[rows])).backward()
for pe, pt in zip(model.module.parameters(), t.parameters()):
    close(pe.grad, pt.grad / 2, "no_sync accumulated gradient")
model.reducer.remove()


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
model = DDP(net, find_unused_parameters=True)
xb = ember.tensor(X[4 * rank:4 * rank + 4])
model(xb, rank == 0).sum().backward()
tb = torch.nn.Linear(6, 3).double()
with torch.no_grad():
    tb.weight.copy_(torch.tensor(net.b.weight.detach().numpy()))
tb(torch.tensor(X[0:4])).sum().backward()
close(net.b.weight.grad, tb.weight.grad / 2, "locally unused parameter gets the average")
assert net.c.weight.grad is None, "a parameter no rank used keeps grad None"
model.reducer.remove()

# Without find_unused_parameters, an unused parameter is an error at the next forward.
model = DDP(Branchy())
model(xb, False).sum().backward()
try:
    model(xb, False)
    raise AssertionError("expected the unfinished-reduction error")
except RuntimeError as err:
    assert "Expected to have finished reduction in the prior iteration" in str(err), err
model.reducer.remove()

# SyncBatchNorm: statistics over both ranks' halves equal BatchNorm on the whole batch.
XB = rng.standard_normal((8, 3, 5))
G = rng.standard_normal((8, 3, 5))
bn_t = torch.nn.BatchNorm1d(3).double()
bn_e = ember.nn.SyncBatchNorm.convert_sync_batchnorm(
    ember.nn.Sequential(ember.nn.BatchNorm1d(3).double()))[0]
assert type(bn_e).__name__ == "SyncBatchNorm"
part = slice(4 * rank, 4 * rank + 4)
xe = ember.tensor(XB[part], requires_grad=True)
xt = torch.tensor(XB, requires_grad=True)
out_e, out_t = bn_e(xe), bn_t(xt)
(out_e * ember.tensor(G[part])).sum().backward()
(out_t * torch.tensor(G)).sum().backward()
close(out_e, out_t[part], "SyncBatchNorm output")
close(xe.grad, xt.grad[part], "SyncBatchNorm input gradient")
wg = bn_e.weight.grad.clone()
dist.all_reduce(wg)
close(wg, bn_t.weight.grad, "SyncBatchNorm weight gradient (summed over ranks)")
close(bn_e.running_mean, bn_t.running_mean, "SyncBatchNorm running_mean")
close(bn_e.running_var, bn_t.running_var, "SyncBatchNorm running_var")

dist.destroy_process_group()
print("DDP-OK", rank, flush=True)
