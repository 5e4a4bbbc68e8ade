"""``nn.Parameter``: a leaf tensor that a Module registers as one of its parameters."""

from __future__ import annotations

from .._tensor import Tensor, _init

__all__ = ["Parameter", "Buffer"]


class Parameter(Tensor):
    """A tensor that is a module parameter (``requires_grad=True`` by default).

    It shares storage with the tensor it is made from. Unlike plain tensors it accepts
    extra attributes (it has a ``__dict__``), as PyTorch's does.
    """

    def __new__(cls, data: Tensor | None = None, requires_grad: bool = True):
        from .._creation import empty
        if data is None:
            data = empty(0)
        if requires_grad and data._data.dtype.kind not in "fc":
            raise RuntimeError("Only Tensors of floating point and complex dtype can require "
                               "gradients")
        p = object.__new__(cls)
        _init(p, data._data, False)
        p._requires_grad = bool(requires_grad)
        return p

    def __init__(self, data: Tensor | None = None, requires_grad: bool = True) -> None:
        pass

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    __str__ = __repr__

    def __reduce_ex__(self, protocol):
        from .._tensor import _make
        return (Parameter, (_make(self._data), self._requires_grad))

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        from .._tensor import _make
        p = Parameter(_make(self._data.copy()), self._requires_grad)
        if self._grad is not None:
            p._grad = self._grad.__deepcopy__(memo)
        memo[id(self)] = p
        return p


class Buffer(Tensor):
    """Marks a tensor to be registered as a module buffer (``nn.Buffer(t)``)."""

    def __new__(cls, data: Tensor | None = None, *, persistent: bool = True):
        from .._creation import empty
        if data is None:
            data = empty(0)
        b = object.__new__(cls)
        _init(b, data._data, False)
        b.persistent = persistent
        return b

    def __init__(self, data=None, *, persistent: bool = True) -> None:
        pass
