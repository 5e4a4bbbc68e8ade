"""``ember.nn.parallel``: DataParallel (single device) and DistributedDataParallel (MPI)."""

from .data_parallel import DataParallel, data_parallel
from .distributed import DistributedDataParallel

DDP = DistributedDataParallel

__all__ = ["DataParallel", "DistributedDataParallel", "DDP", "data_parallel"]
