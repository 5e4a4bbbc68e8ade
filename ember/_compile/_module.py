"""``OptimizedModule``: what ``ember.compile(module)`` returns."""

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
