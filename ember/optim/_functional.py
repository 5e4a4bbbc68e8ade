"""``ember.optim._functional``: the update kernels, one per algorithm, as in PyTorch.

Each takes lists (parameters, gradients, one list per state entry, step counters) and the
hyperparameters as keywords, and updates everything in place. The optimizer classes own the
state and call these; the kernels live next to their class (``adam`` in ``adam.py``)."""

from .adadelta import adadelta
from .adagrad import adagrad
from .adam import adam
from .adamax import adamax
from .adamw import adamw
from .nadam import nadam
from .radam import radam
from .rmsprop import rmsprop
from .sgd import sgd

__all__ = ["adadelta", "adagrad", "adam", "adamax", "adamw", "nadam", "radam", "rmsprop",
           "sgd"]
