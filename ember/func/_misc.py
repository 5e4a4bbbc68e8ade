"""The small ``torch.func`` utilities: ``functionalize`` and ``replace_all_batch_norm_modules_``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

__all__ = ["functionalize", "replace_all_batch_norm_modules_"]

_REMOVE = ("mutations", "mutations_and_views")


def functionalize(func: Callable[..., Any], *, remove: str = "mutations") -> Callable[..., Any]:
    """A function with ``func``'s semantics whose intermediate mutations are removed.

    PyTorch rewrites the program so that a graph compiler never sees an in-place op. ember
    executes eagerly and its transforms already handle in-place ops, so the returned function
    runs ``func`` as it is: the results, and the mutations of the inputs that PyTorch copies
    back, are the same.
    """
    if remove not in _REMOVE:
        raise RuntimeError(
            f"functionalize(f, remove='mutations'): received invalid argument for "
            f"remove={remove}. Valid options are:\n     remove='mutations': all inplace and "
            "out= operators will be removed from the program, and replaced with their "
            "out-of-place equivalents.\n     remove='mutations_and_views': In addition to the "
            "above, all aliasing operators {view} will be replaced with their non-aliasing "
            "counterparts, {view}_copy.\n")

    @functools.wraps(func)
    def functionalized(*args, **kwargs):
        return func(*args, **kwargs)

    return functionalized


def replace_all_batch_norm_modules_(root):
    """Make every BatchNorm module under ``root`` stop tracking running statistics (they
    become None), so that it can run under ``vmap``; returns ``root``, changed in place."""
    from ..nn.modules.normalization import _BatchNorm

    for module in root.modules():
        if isinstance(module, _BatchNorm):
            module.running_mean = None
            module.running_var = None
            module.num_batches_tracked = None
            module.track_running_stats = False
    return root
