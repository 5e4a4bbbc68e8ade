"""``ember.utils.tensorboard``: ``SummaryWriter``, which writes TensorBoard event files.

It needs the ``tensorboard`` package (``pip install tensorboard``, or ember's ``tensorboard``
extra), imported only here, as PyTorch's ``torch.utils.tensorboard`` does.
"""

try:
    import tensorboard  # noqa: F401
except ModuleNotFoundError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ModuleNotFoundError(
        "ember.utils.tensorboard needs the tensorboard package: pip install tensorboard "
        "(or pip install 'ember[tensorboard]')", name=exc.name) from None

from .writer import FileWriter, SummaryWriter

__all__ = ["FileWriter", "SummaryWriter"]
