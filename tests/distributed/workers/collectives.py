"""Every collective on 2 ranks, checked against values worked out by hand (run by ddp.py in
the same processes). The last line printed is ``COLLECTIVES-OK <rank>``."""

from datetime import timedelta

import ember
import ember.distributed as dist

dist.init_process_group("mpi")        # rank and size from MPI
r, n = dist.get_rank(), dist.get_world_size()
assert n == 2 and dist.is_initialized() and dist.get_backend() == "mpi"
other = 1 - r


def eq(t, expected, what):
    got = t.tolist() if isinstance(t, ember.Tensor) else t
    assert got == expected, f"rank {r}: {what}: got {got}, expected {expected}"


# rank 0 holds [1, 2], rank 1 holds [2, 4]
def mine():
    return ember.tensor([1.0, 2.0]) * (r + 1)


for op, expected in [(dist.ReduceOp.SUM, [3.0, 6.0]), (dist.ReduceOp.AVG, [1.5, 3.0]),
                     (dist.ReduceOp.PRODUCT, [2.0, 8.0]), (dist.ReduceOp.MIN, [1.0, 2.0]),
                     (dist.ReduceOp.MAX, [2.0, 4.0])]:
    t = mine()
    dist.all_reduce(t, op=op)
    eq(t, expected, f"all_reduce {op}")
t = ember.tensor([6, 5]) + r                # ints: [6, 5] and [7, 6]
dist.all_reduce(t, op=dist.ReduceOp.BAND)
eq(t, [6, 4], "all_reduce BAND")
t = ember.tensor([6, 5]) + r
dist.all_reduce(t, op=dist.ReduceOp.BXOR)
eq(t, [1, 3], "all_reduce BXOR")
t = ember.arange(6.0).reshape(2, 3)[:, 1]     # a non-contiguous view: [1, 4]
dist.all_reduce(t)
eq(t, [2.0, 8.0], "all_reduce on a view")
try:
    dist.all_reduce(ember.ones(2), op=dist.ReduceOp.BAND)
    raise AssertionError("BAND on floats must raise")
except RuntimeError as e:
    assert "Cannot use ReduceOp.BAND with non-integral dtype" in str(e)

t = mine()
dist.reduce(t, dst=1)
eq(t, [3.0, 6.0] if r == 1 else [1.0, 2.0], "reduce to rank 1")
t = mine()
dist.broadcast(t, src=1)
eq(t, [2.0, 4.0], "broadcast from rank 1")

outs = [ember.zeros(2) for _ in range(n)]
dist.all_gather(outs, mine())
eq([o.tolist() for o in outs], [[1.0, 2.0], [2.0, 4.0]], "all_gather")
o = ember.zeros(4)
dist.all_gather_into_tensor(o, mine())
eq(o, [1.0, 2.0, 2.0, 4.0], "all_gather_into_tensor")
o = ember.zeros(2, 2)
dist.all_gather_into_tensor(o, mine())
eq(o, [[1.0, 2.0], [2.0, 4.0]], "all_gather_into_tensor stacked")

glist = [ember.zeros(2) for _ in range(n)] if r == 0 else None
dist.gather(mine(), glist, dst=0)
if r == 0:
    eq([g.tolist() for g in glist], [[1.0, 2.0], [2.0, 4.0]], "gather")
t = ember.zeros(2)
dist.scatter(t, [ember.tensor([10.0, 11.0]), ember.tensor([20.0, 21.0])] if r == 1 else None,
             src=1)
eq(t, [[10.0, 11.0], [20.0, 21.0]][r], "scatter")

t = ember.zeros(2)
# rank k contributes [k+1, k+1] to rank 0's piece and [10(k+1), 10(k+1)] to rank 1's
dist.reduce_scatter(t, [ember.full((2,), r + 1.0), ember.full((2,), 10.0 * (r + 1))])
eq(t, [[3.0, 3.0], [30.0, 30.0]][r], "reduce_scatter")
t = ember.zeros(1)
dist.reduce_scatter_tensor(t, ember.tensor([1.0, 2.0]) * (r + 1))
eq(t, [[3.0], [6.0]][r], "reduce_scatter_tensor")

# all_to_all with uneven pieces: rank k sends k+1 copies of 10k+j to rank j
outs = [ember.zeros(k + 1) for k in range(n)]
dist.all_to_all(outs, [ember.full((r + 1,), 10.0 * r + j) for j in range(n)])
eq([o.tolist() for o in outs], [[10.0 * k + r] * (k + 1) for k in range(n)], "all_to_all")
o = ember.zeros(2)
dist.all_to_all_single(o, ember.tensor([10.0 * r, 10.0 * r + 1]))
eq(o, [[0.0, 10.0], [1.0, 11.0]][r], "all_to_all_single")
# uneven: rank 0 sends 1 row to itself and 2 to rank 1; rank 1 sends 1 row to each
ins = [ember.tensor([[0.0], [1.0], [2.0]]), ember.tensor([[10.0], [11.0]])][r]
o = ember.zeros(2 if r == 0 else 3, 1)
dist.all_to_all_single(o, ins, output_split_sizes=[[1, 1], [2, 1]][r],
                       input_split_sizes=[[1, 2], [1, 1]][r])
eq(o, [[[0.0], [10.0]], [[1.0], [2.0], [11.0]]][r], "all_to_all_single with splits")
t = ember.zeros(1)
dist.reduce_scatter_tensor(t, ember.tensor([1.0, 2.0]) * (r + 1), op=dist.ReduceOp.AVG)
eq(t, [[1.5], [3.0]][r], "reduce_scatter_tensor AVG")

# point to point: blocking, non-blocking, ANY_SOURCE, and the Work API
if r == 0:
    dist.send(ember.tensor([5.0, 6.0]), dst=1, tag=3)
    w = dist.irecv(t := ember.zeros(3), src=1)
    assert w.wait() is True and w.is_completed()
    eq(t, [7.0, 8.0, 9.0], "irecv")
else:
    t = ember.zeros(2)
    sender = dist.recv(t, tag=3)           # from any rank
    assert sender == 0, sender
    eq(t, [5.0, 6.0], "recv")
    dist.isend(ember.tensor([7.0, 8.0, 9.0]), dst=0).wait()
works = dist.batch_isend_irecv([dist.P2POp(dist.isend, ember.full((2,), float(r)), other),
                                dist.P2POp(dist.irecv, t := ember.zeros(2), other)])
for w in works:
    w.wait()
eq(t, [float(other)] * 2, "batch_isend_irecv")

# async collectives: results appear after wait()
t = mine()
w = dist.all_reduce(t, async_op=True)
assert isinstance(w, dist.Work) and w.wait() and w.is_success()
eq(t, [3.0, 6.0], "async all_reduce")
eq(w.result()[0], [3.0, 6.0], "Work.result()")
assert dist.barrier() is None

# objects
objs = [None] * n
dist.all_gather_object(objs, {"rank": r, "text": "x" * (100 * r)})
assert objs == [{"rank": 0, "text": ""}, {"rank": 1, "text": "x" * 100}], objs
bl = [r, f"from {r}", None]
dist.broadcast_object_list(bl, src=1)
assert bl == [1, "from 1", None], bl
gl = [None] * n if r == 0 else None
dist.gather_object(("g", r), gl, dst=0)
assert r == 1 or gl == [("g", 0), ("g", 1)], gl
got = [None]
dist.scatter_object_list(got, [{"to": 0}, {"to": 1}] if r == 0 else None, src=0)
assert got == [{"to": r}], got
if r == 0:
    dist.send_object_list(["hello", 42], dst=1)
else:
    box = [None, None]
    assert dist.recv_object_list(box) == 0 and box == ["hello", 42], box
dist.monitored_barrier()
t = mine()
fut = dist.all_reduce(t, async_op=True).get_future()
eq(fut.wait()[0], [3.0, 6.0], "Work.get_future().wait()")

# groups: a group of rank 1 alone; rank 0 is not a member
g = dist.new_group([1])
if r == 1:
    assert (g.rank(), g.size(), dist.get_process_group_ranks(g)) == (0, 1, [1])
    t = ember.ones(2)
    dist.all_reduce(t, group=g)
    eq(t, [1.0, 1.0], "all_reduce on a one-rank group")
else:
    assert g == dist.GroupMember.NON_GROUP_MEMBER and dist.get_rank(g) == -1
    assert dist.all_reduce(ember.ones(2), group=g) is None
g2 = dist.new_group([1, 0])
t = mine()
dist.broadcast(t, src=1, group=g2)        # src is a global rank
eq(t, [2.0, 4.0], "broadcast on a new group")

# mismatched shapes or collectives raise on every rank, and the group stays usable
for bad in (lambda: dist.all_reduce(ember.ones(2 + r)),
            lambda: dist.all_reduce(ember.ones(2)) if r == 0 else dist.broadcast(ember.ones(2))):
    try:
        bad()
        raise AssertionError(f"rank {r}: a mismatched collective must raise")
    except RuntimeError as e:
        assert "rank" in str(e), e
t = mine()
dist.all_reduce(t)
eq(t, [3.0, 6.0], "all_reduce after a mismatch")

# timeout: rank 1 never joins a collective of group `slow`; rank 0's wait ends with
# DistBackendError (the group is then unusable, as in PyTorch; the default group is not)
slow = dist.new_group([0, 1], timeout=timedelta(milliseconds=300))
if r == 0:
    try:
        dist.all_reduce(ember.ones(1), group=slow)
        raise AssertionError("expected a timeout")
    except dist.DistBackendError as e:
        assert "timed out after 300 ms" in str(e), e
dist.barrier()

dist.destroy_process_group()
assert not dist.is_initialized()
print("COLLECTIVES-OK", r, flush=True)
