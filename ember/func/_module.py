"""``functional_call`` (run a module with substituted parameters and buffers) and
``stack_module_state`` (stack the state of many same-shaped modules for ``vmap``)."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import contextmanager
from typing import Any

from .._tensor import Tensor

__all__ = ["functional_call", "stack_module_state"]


def _owner(module, name: str):
    """The submodule holding attribute ``name`` (dotted), and the attribute's last part."""
    *path, leaf = name.split(".")
    for part in path:
        module = getattr(module, part)
    return module, leaf


@contextmanager
def _swapped(module, values: dict):
    """Temporarily put ``values`` (dotted name -> tensor) in place of the module's entries."""
    saved = []
    try:
        for name, value in values.items():
            owner, leaf = _owner(module, name)
            for table in (owner._parameters, owner._buffers):
                if leaf in table:
                    saved.append((table, leaf, table[leaf]))
                    table[leaf] = value
                    break
            else:
                had = leaf in owner.__dict__
                saved.append((owner.__dict__, leaf, owner.__dict__.get(leaf) if had else _GONE))
                owner.__dict__[leaf] = value
        yield
    finally:
        for table, leaf, old in reversed(saved):
            if old is _GONE:
                table.pop(leaf, None)
            else:
                table[leaf] = old


_GONE = object()


def _tied_groups(module) -> dict[str, list[str]]:
    """Each parameter/buffer name -> every name that refers to the same tensor."""
    by_id: dict[int, list[str]] = {}
    for name, t in list(module.named_parameters(remove_duplicate=False)) + list(
            module.named_buffers(remove_duplicate=False)):
        by_id.setdefault(id(t), []).append(name)
    return {n: names for names in by_id.values() for n in names}


def functional_call(module, parameter_and_buffer_dicts: dict | Sequence[dict],
                    args: Any = None, kwargs: dict | None = None, *, tie_weights: bool = True,
                    strict: bool = False):
    """Call ``module(*args, **kwargs)`` with its parameters and buffers replaced by the
    tensors in ``parameter_and_buffer_dicts`` (dotted names, as in ``named_parameters``).
    The module itself is left unchanged. With ``tie_weights`` a tensor given for one of
    several tied names is used for all of them; ``strict`` requires exactly the module's
    names.

    Example::

        >>> params = {k: v.detach() for k, v in model.named_parameters()}
        >>> out = ember.func.functional_call(model, params, (x,))
    """
    if isinstance(parameter_and_buffer_dicts, dict):
        values = dict(parameter_and_buffer_dicts)
    else:
        values = {}
        seen: set = set()
        for d in parameter_and_buffer_dicts:
            dup = sorted(seen & set(d))
            if dup:
                raise ValueError(f"{dup} appeared in multiple dictionaries; behavior of "
                                 "functional call is ambiguous")
            seen |= set(d)
            values.update(d)
    groups = _tied_groups(module)
    if tie_weights:
        for name in list(values):
            given = [n for n in groups.get(name, ()) if n in values]
            if len(given) > 1 and any(values[n] is not values[name] for n in given):
                raise ValueError(f"functional_call got multiple values for keys {given}, which "
                                 "are tied. Consider using tie_weights=False")
            for n in groups.get(name, ()):
                values.setdefault(n, values[name])
    if strict:
        expected = list(groups)
        unexpected = [k for k in values if k not in groups]
        missing = [k for k in expected if k not in values]
        if unexpected or missing:
            lines = [f"Error(s) in reparametrizing for {type(module).__name__}:"]
            if unexpected:
                lines.append("\tUnexpected key(s): " + ", ".join(f"'{k}'" for k in unexpected)
                             + ".")
            if missing:
                lines.append("\tMissing key(s): " + ", ".join(f"'{k}'" for k in missing) + ".")
            raise RuntimeError("\n".join(lines))
    if args is None:
        args = ()
    elif not isinstance(args, tuple):
        args = (args,)
    with _swapped(module, values):
        return module(*args, **(kwargs or {}))


def stack_module_state(models) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """Stack the parameters and buffers of same-shaped ``models`` along a new leading dim:
    ``(params, buffers)``, ready for ``vmap(functional_call)`` over an ensemble. The stacked
    parameters are new leaves (requiring grad like the originals)."""
    from .._ops import stack
    models = list(models)
    if not models:
        raise RuntimeError("stack_module_state: Expected at least one model, got 0.")
    if not (all(m.training for m in models) or not any(m.training for m in models)):
        raise RuntimeError("stack_module_state: Expected all models to have the same "
                           "training/eval mode.")
    first = type(models[0])
    if not all(type(m) is first for m in models):
        raise RuntimeError("stack_module_state: Expected all models to be of the same class, "
                           f"got: {[type(m) for m in models]}")
    names = [n for n, _ in models[0].named_parameters()]
    params = {}
    for n in names:
        parts = [dict(m.named_parameters())[n] for m in models]
        params[n] = stack([p.detach() for p in parts]).requires_grad_(parts[0].requires_grad)
    buffers = {n: stack([dict(m.named_buffers())[n] for m in models])
               for n, _ in models[0].named_buffers()}
    return params, buffers
