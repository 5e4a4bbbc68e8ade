"""``Optimizer``: the base class holding parameter groups, per-parameter state and hooks.

Subclasses manage state and implement ``step``: they gather each group's parameters, gradients
and state lists (:meth:`Optimizer._gather`) and hand them to the algorithm's functional kernel
(``ember.optim._functional``), PyTorch's class + kernel split. The step runs under no_grad,
or with grad mode on when the optimizer was built with ``differentiable=True``.
"""

from __future__ import annotations

import functools
import warnings
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable
from copy import deepcopy
from itertools import chain
from typing import Any

from .._backend import xp
from .._tensor import Tensor, _make
from ..autograd.function import _RemovableHandle
from ..autograd.grad_mode import enable_grad, set_grad_enabled

__all__ = ["Optimizer", "required"]


class _RequiredParameter:
    """Marks an optimizer argument that has no default (``lr`` of old SGD)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()

_global_pre_hooks: dict = OrderedDict()
_global_post_hooks: dict = OrderedDict()


def register_optimizer_step_pre_hook(hook: Callable) -> _RemovableHandle:
    """Register ``hook(optimizer, args, kwargs)`` to run before every optimizer's step."""
    return _RemovableHandle(_global_pre_hooks, hook)


def register_optimizer_step_post_hook(hook: Callable) -> _RemovableHandle:
    """Register ``hook(optimizer, args, kwargs)`` to run after every optimizer's step."""
    return _RemovableHandle(_global_post_hooks, hook)


def _with_hooks(step: Callable) -> Callable:
    """Wrap a subclass's ``step`` so the step pre/post hooks run around it."""
    @functools.wraps(step)
    def wrapper(self, *args, **kwargs):
        if self.__dict__.get("_in_step"):          # a subclass's step calling super().step
            return step(self, *args, **kwargs)
        for hook in chain(_global_pre_hooks.values(), self._optimizer_step_pre_hooks.values()):
            result = hook(self, args, kwargs)
            if result is not None:
                if not (isinstance(result, tuple) and len(result) == 2):
                    raise RuntimeError(f"{hook} must return None or a tuple of (new_args, "
                                       f"new_kwargs), but got {result}.")
                args, kwargs = result
        self._in_step = True
        try:
            with set_grad_enabled(bool(self.defaults.get("differentiable", False))):
                out = step(self, *args, **kwargs)
        finally:
            self._in_step = False
        for hook in chain(self._optimizer_step_post_hooks.values(), _global_post_hooks.values()):
            hook(self, args, kwargs)
        return out
    wrapper._hooked = True
    return wrapper


def _type_name(obj) -> str:
    if isinstance(obj, Tensor):
        return f"ember.{obj.dtype._legacy_name}"
    return type(obj).__name__


def _float(x) -> float:
    """A hyperparameter as a Python number (a Tensor lr is read with ``.item()``)."""
    return x.item() if isinstance(x, Tensor) else x


def check_nonneg(what: str, value) -> None:
    """PyTorch's argument check: ``ValueError('Invalid <what>: <value>')`` if negative."""
    if not 0.0 <= value:
        raise ValueError(f"Invalid {what}: {value}")


def check_lr(lr) -> None:
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    check_nonneg("learning rate", lr)


def check_betas(betas) -> None:
    for i, beta in enumerate(betas):
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {beta}")


def column(states: list[dict], key: str) -> list:
    """One state entry across the gathered parameters (``states`` from ``_gather``)."""
    return [s[key] for s in states]


def step_tensor(value: float = 0.0) -> Tensor:
    """A 0-d float32 tensor, as PyTorch keeps ``step`` (and NAdam's ``mu_product``)."""
    return _make(xp.array(value, dtype=xp.float32))


def zeros_state(p: Tensor) -> Tensor:
    """A zero tensor shaped and typed like ``p`` (optimizer state buffers)."""
    return _make(xp.zeros_like(p._data))


class Optimizer:
    """Base class for optimizers.

    ``params`` is an iterable of Tensors, of ``(name, Tensor)`` pairs, or of dicts (parameter
    groups, each with a ``"params"`` entry and any per-group options); ``defaults`` gives the
    options a group does not set.
    """

    def __init__(self, params: Iterable, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self._optimizer_step_pre_hooks: dict = OrderedDict()
        self._optimizer_step_post_hooks: dict = OrderedDict()
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            f"Tensors or dicts, but got {_type_name(params)}")
        self.state: defaultdict = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        groups = list(params)
        if len(groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is not None and not getattr(step, "_hooked", False):
            cls.step = _with_hooks(step)

    def __getstate__(self) -> dict:
        return {"defaults": self.defaults, "state": self.state,
                "param_groups": self.param_groups}

    #: State entries PyTorch keeps as 0-d float32 tensors (older checkpoints hold numbers).
    _scalar_state: tuple[str, ...] = ()

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.__dict__.setdefault("_optimizer_step_pre_hooks", OrderedDict())
        self.__dict__.setdefault("_optimizer_step_post_hooks", OrderedDict())
        for group in self.param_groups:
            for key, value in self.defaults.items():
                if value is not required:
                    group.setdefault(key, value)
        for s in self.state.values():
            for key in self._scalar_state:
                if key in s and not isinstance(s[key], Tensor):
                    s[key] = step_tensor(float(s[key]))

    def __repr__(self) -> str:
        out = f"{type(self).__name__} ("
        for i, group in enumerate(self.param_groups):
            out += f"\nParameter Group {i}\n"
            out += "".join(f"    {k}: {group[k]}\n" for k in sorted(group) if k != "params")
        return out + ")"

    # -- parameter groups -----------------------------------------------------------------
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters (a dict with ``"params"`` and optional options)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets will change between runs. "
                            "Please use a list instead.")
        else:
            params = list(params)
        if params and isinstance(params[0], tuple):
            param_group["param_names"] = [name for name, _ in params]
            params = [p for _, p in params]
        param_group["params"] = params
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is "
                                f"{_type_name(p)}")
            if p.grad_fn is not None and not self.defaults.get("differentiable", False):
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError("parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            param_group.setdefault(name, default)
        if len({id(p) for p in params}) != len(params):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; in "
                          "future, this will cause an error; see github.com/pytorch/pytorch/"
                          "issues/40967 for more information", stacklevel=3)
        seen = {id(p) for group in self.param_groups for p in group["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    # -- gradients and steps --------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all optimized tensors (to None by default)."""
        for group in self.param_groups:
            for p in group["params"]:
                g = p._grad
                if g is None:
                    continue
                if set_to_none:
                    p._grad = None
                else:
                    if g.grad_fn is not None:
                        g = p._grad = g.detach()
                    g._data[...] = 0
                    g._bump_version()

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Perform one optimization step; subclasses implement the update rule."""
        raise NotImplementedError

    def _gather(self, group: dict[str, Any], init: Callable[[Tensor, dict, dict], None] | None,
                subset: list[Tensor] | None = None
                ) -> tuple[list[Tensor], list[Tensor], list[dict]]:
        """The parameters of ``group`` (or of ``subset``, those the flat path left) that have
        a gradient, their gradients and their state dicts; ``init(p, state, group)`` fills a
        parameter's state on its first step (with ``init=None`` the state is left untouched
        and the states list is empty)."""
        params, grads, states = [], [], []
        for p in group["params"] if subset is None else subset:
            g = p._grad
            if g is None:
                continue
            params.append(p)
            grads.append(g)
            if init is None:
                continue
            state = self.state[p]
            if not state:
                init(p, state, group)
            states.append(state)
        return params, grads, states

    @staticmethod
    def _closure_loss(closure: Callable[[], Any] | None) -> Any:
        """Evaluate ``closure`` (with grad recording on) and return its loss."""
        if closure is None:
            return None
        with enable_grad():
            return closure()

    # -- hooks ----------------------------------------------------------------------------
    def register_step_pre_hook(self, hook: Callable) -> _RemovableHandle:
        """``hook(optimizer, args, kwargs)`` runs before ``step``; it may return new
        ``(args, kwargs)``."""
        return _RemovableHandle(self._optimizer_step_pre_hooks, hook)

    def register_step_post_hook(self, hook: Callable) -> _RemovableHandle:
        """``hook(optimizer, args, kwargs)`` runs after ``step``."""
        return _RemovableHandle(self._optimizer_step_post_hooks, hook)

    # -- state dict -----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """``{'state': {index: {...}}, 'param_groups': [{..., 'params': [indices]}]}``.

        Parameters are numbered in order across groups; state tensors are returned by
        reference, as PyTorch does."""
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            ids = []
            for p in group["params"]:
                ids.append(index.setdefault(id(p), len(index)))
            packed["params"] = ids
            groups.append(packed)
        state = {(index[id(p)] if isinstance(p, Tensor) else p): s
                 for p, s in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load state saved by :meth:`state_dict` (tensors are cast to each parameter's
        dtype, except ``step``)."""
        saved_groups = deepcopy(state_dict["param_groups"])
        groups = self.param_groups
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match "
                             "the size of optimizer's group")
        id_map = dict(zip(chain.from_iterable(s["params"] for s in saved_groups),
                          chain.from_iterable(g["params"] for g in groups)))
        state: defaultdict = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                param = id_map[k]
                state[param] = _cast_state(param, v)
            else:
                state[k] = v
        new_groups = []
        for group, saved in zip(groups, saved_groups):
            saved["params"] = group["params"]
            if "param_names" in group and "param_names" not in saved:
                saved["param_names"] = group["param_names"]
            new_groups.append(saved)
        self.__setstate__({"state": state, "param_groups": new_groups})


def _cast_state(param: Tensor, value, key: str | None = None):
    """Cast loaded state to the parameter's floating dtype (``step`` stays as saved)."""
    if isinstance(value, Tensor):
        if key == "step" or not param.is_floating_point():
            return value
        dt = param._data.dtype
        return value if value._data.dtype == dt else _make(value._data.astype(dt))
    if isinstance(value, dict):
        return {k: _cast_state(param, v, k) for k, v in value.items()}
    if isinstance(value, (list, tuple)) and not isinstance(value, str):
        return type(value)(_cast_state(param, v, key) for v in value)
    return value

