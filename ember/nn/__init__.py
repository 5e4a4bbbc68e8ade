"""``ember.nn``: modules, layers, losses, ``init`` and ``functional``."""

from . import functional, init, modules, utils
from .modules import *  # noqa: F403
from .parameter import Buffer, Parameter
from . import parallel
from .parallel import DataParallel
