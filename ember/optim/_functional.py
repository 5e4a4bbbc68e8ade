"""``ember.optim._functional``: the update kernels, one per algorithm, as in PyTorch.

Each takes lists (parameters, gradients, one list per state entry, step counters) and the
hyperparameters as keywords, and updates everything in place. The optimizer classes own the
state and call these; the kernels live next to their class (``adam`` in ``adam.py``)."""

from ._adafactor import adafactor
from .adadelta import adadelta
from .adagrad import adagrad
from .adam import adam
from .adamax import adamax
from .adamw import adamw
from .asgd import asgd
from .nadam import nadam
from .radam import radam
from .rmsprop import rmsprop
from .rprop import rprop
from .sgd import sgd
from .sparse_adam import sparse_adam

__all__ = ["adafactor", "adadelta", "adagrad", "adam", "adamax", "adamw", "asgd", "nadam",
           "radam", "rmsprop", "rprop", "sgd", "sparse_adam"]
