"""``ember.distributed``: PyTorch's ``torch.distributed`` API on MPI (through mpi4py).

Start the processes with ``python -m ember.distributed.run --nproc-per-node N script.py``
(torchrun's flags) or ``mpiexec -n N python script.py``, then::

    import ember.distributed as dist
    dist.init_process_group("gloo")          # "mpi", "gloo" and None are all served by MPI
    t = ember.ones(3) * dist.get_rank()
    dist.all_reduce(t)

MPI comes with the optional extra: ``pip install "ember[distributed]"``. Without it
``is_available()`` is False and ``init_process_group`` says what to install.
"""

from ._objects import (all_gather_object, broadcast_object_list, gather_object,
                       recv_object_list, scatter_object_list, send_object_list)
from ._types import (Backend, DistBackendError, DistError, DistNetworkError, DistStoreError,
                     ReduceOp, default_pg_timeout)
from ._work import Work
from ._world import (GroupMember, ProcessGroup, destroy_process_group, get_backend,
                     get_default_backend_for_device, get_global_rank, get_group_rank,
                     get_node_local_rank, get_pg_count, get_process_group_ranks, get_rank,
                     get_world_size, group, init_process_group, is_available,
                     is_backend_available, is_gloo_available, is_initialized,
                     is_mpi_available, is_nccl_available, is_torchelastic_launched, new_group)
from .distributed_c10d import (P2POp, all_gather, all_gather_into_tensor, all_reduce,
                               all_to_all, all_to_all_single, barrier, batch_isend_irecv,
                               broadcast, gather, irecv, isend, monitored_barrier, recv, reduce,
                               reduce_scatter, reduce_scatter_tensor, scatter, send)

__all__ = ["Backend", "DistBackendError", "DistError", "DistNetworkError", "DistStoreError",
           "GroupMember", "P2POp", "ProcessGroup", "ReduceOp", "Work", "all_gather",
           "all_gather_into_tensor", "all_gather_object", "all_reduce", "all_to_all",
           "all_to_all_single", "barrier", "batch_isend_irecv", "broadcast",
           "broadcast_object_list", "default_pg_timeout", "destroy_process_group", "gather",
           "gather_object", "get_backend", "get_default_backend_for_device", "get_global_rank",
           "get_group_rank", "get_node_local_rank", "get_pg_count", "get_process_group_ranks",
           "get_rank", "get_world_size", "group", "init_process_group", "irecv",
           "is_available", "is_backend_available", "is_gloo_available", "is_initialized",
           "is_mpi_available", "is_nccl_available", "is_torchelastic_launched", "isend",
           "monitored_barrier", "new_group", "recv", "recv_object_list", "reduce",
           "reduce_scatter", "reduce_scatter_tensor", "scatter", "scatter_object_list", "send",
           "send_object_list"]
