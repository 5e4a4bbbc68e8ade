"""A rank that fails: ``raise`` (an exception in rank 1's Python code) or ``exit`` (rank 1's
process ends abruptly). Rank 0 is waiting in a collective meanwhile and must not hang."""

import os
import sys
from datetime import timedelta

import ember
import ember.distributed as dist

dist.init_process_group("gloo", timeout=timedelta(seconds=20))
rank = dist.get_rank()
t = ember.ones(2)
dist.all_reduce(t)
if rank == 1:
    if sys.argv[1] == "raise":
        raise ValueError("boom from rank 1")
    os._exit(3)
try:
    dist.all_reduce(t)
except dist.DistBackendError as e:
    print("RANK0-SAW:", e, flush=True)
    raise
