"""``skip_init``: build a module without running its parameter initialisation."""

from __future__ import annotations

import inspect

from ..modules.module import Module

__all__ = ["skip_init"]


def skip_init(module_cls: type[Module], *args, **kwargs) -> Module:
    """Instantiate ``module_cls(*args, **kwargs)`` with uninitialised parameters: the
    default random stream is left exactly as it was (PyTorch builds on the ``meta`` device
    and allocates empty storage), so initialise the parameters yourself.

    Example::

        linear = skip_init(nn.Linear, 5, 1)
        nn.init.orthogonal_(linear.weight)
    """
    if not issubclass(module_cls, Module):
        raise RuntimeError(f"Expected a Module; got {module_cls}")
    if "device" not in inspect.signature(module_cls).parameters:
        raise RuntimeError("Module must support a 'device' arg to skip initialization")
    from ... import _random
    device = kwargs.pop("device", "cpu")
    state = _random.get_rng_state()
    try:
        module = module_cls(*args, **kwargs)
    finally:
        _random.set_rng_state(state)  # the initialisation's draws never happened
    return module.to_empty(device=device)
