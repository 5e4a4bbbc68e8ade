"""``OptimizedModule``: what ``ember.compile(module)`` returns; and ``split_call``, which runs
a module whose forward broke eagerly with its submodules compiled one by one."""

from __future__ import annotations

from ..nn.modules.module import Module


class OptimizedModule(Module):
    """A compiled Module: it wraps the original as ``_orig_mod`` (so state_dict keys carry the
    ``_orig_mod.`` prefix, as in PyTorch) and shares its parameters; the original's forward
    hooks run eagerly around the compiled forward."""

    def __init__(self, mod: Module, compiled) -> None:
        super().__init__()
        self._orig_mod = mod
        self.__dict__["_compiled_forward"] = compiled
        self.training = mod.training

    def forward(self, *args, **kwargs):
        mod = self._orig_mod
        if mod._forward_hooks or mod._forward_pre_hooks:
            mod.__dict__["forward"] = self._compiled_forward
            try:
                return mod(*args, **kwargs)
            finally:
                del mod.__dict__["forward"]
        return self._compiled_forward(*args, **kwargs)

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.__dict__["_modules"]["_orig_mod"], name)


def _callable_children(module: Module) -> list:
    """The modules whose forward a module's own forward may call: its direct children, and
    for containers without a forward of their own (``ModuleList``, ``ModuleDict``) their
    children in turn."""
    from ..nn.modules.container import ModuleDict, ModuleList
    from ..nn.modules.module import _forward_unimplemented
    out: list = []
    for child in module.children():
        if (isinstance(child, (ModuleList, ModuleDict))
                or type(child).forward is _forward_unimplemented):
            out.extend(_callable_children(child))
        else:
            out.append(child)
    return list({id(m): m for m in out}.values())


def split_call(compiled, module: Module, args: tuple, kwargs: dict):
    """Run ``module``'s forward (whose trace broke) eagerly, with each submodule's forward
    routed through a compiled function of its own, kept on ``compiled``: only the glue code
    with the break runs eagerly, the submodules replay their programs (and split in turn at
    their own children when they break). A child whose instance already has a ``forward``
    (``Module.compile()``, a hook wrapper), or that is an ``OptimizedModule``, is left as it
    is."""
    from . import _CompiledFunction
    old = compiled._split
    cache: dict = {}
    patched: list = []
    try:
        for child in _callable_children(module):
            if "forward" in child.__dict__ or isinstance(child, OptimizedModule):
                continue  # already compiled (or wrapped) by the user
            item = old.get(id(child))
            if item is None or item[0] is not child:
                item = (child, _CompiledFunction(type(child).forward.__get__(child), False,
                                                 False))
            cache[id(child)] = item
            # An instance attribute shadows the class's forward for Module.__call__ (which
            # still runs the child's hooks around it) and for direct .forward() calls alike.
            child.__dict__["forward"] = item[1]
            patched.append(child)
        compiled._split = cache  # forget children the module no longer has
        return compiled._fn(*args, **kwargs)
    finally:
        for child in patched:
            child.__dict__.pop("forward", None)
