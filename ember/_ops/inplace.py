"""In-place ops (``x.add_(y)``, ``x[i] = v``, ...) and how autograd sees them.

An in-place op runs its out-of-place twin on an alias of the old ``x``, then writes the
result into ``x``'s storage and bumps its version counter (shared with its views). Under
autograd, ``x`` takes over the twin's graph node. When ``x`` is a view, its base's history
changes too: the base gets a ``CopySlices`` node (gradient outside the view passes through,
inside it goes to the new values), and the view's node is rebuilt by replaying its view ops
on the base. Saved tensors made stale by the write are caught by the version check.
"""

from __future__ import annotations

from .._dtype import _FROM_NP
from ..autograd import forward_ad as _fwad
from ..autograd.grad_mode import _grad_enabled, no_grad
from ._util import Op, Tensor, _make, ndarray, tensor_method, xp

__all__ = ["apply_inplace", "copy_", "copy_into_out"]



# What a view's ``_extra`` records (see autograd/function.py, ``_make_view``), and its
# tangents (forward AD), which the alias of the old values keeps.
_VIEW_KEYS = ("view", "view_version", "view_made_without_grad", "base_geometry", "fw_grad")


def _alias(t: Tensor) -> Tensor:
    """A second Tensor object for the same storage, version counter and graph position."""
    if type(t._data) is not ndarray:  # batched inside vmap: alias its physical tensor
        return t._data.alias(_alias)
    a = _make(t._data, t._requires_grad, t.grad_fn)
    a._output_nr = t._output_nr
    if t._vc is None:
        t._vc = [0]
    a._vc = t._vc
    a._base = t._base
    a._extra = ({k: v for k, v in t._extra.items() if k in _VIEW_KEYS}
                if t._extra and ("view" in t._extra or "fw_grad" in t._extra) else None)
    return a


#: ``vmap``'s writer (``ember/func/_batching.py``), installed while a vmap level is open:
#: ``writer(self, src, is_copy)`` performs a write that involves a batched tensor on its
#: physical values and returns True (or raises PyTorch's vmap error); False for plain ones.
batched_writer: list = [None]


def _write(self: Tensor, result: Tensor, is_copy: bool = False) -> None:
    """Copy ``result`` into ``self``'s storage (broadcasting, casting as PyTorch allows)."""
    writer = batched_writer[0]
    if writer is not None and writer(self, result, is_copy):
        _wrote(self, result)
        return
    src = result._data
    dst = self._data
    if src.dtype != dst.dtype and _FROM_NP[src.dtype].category > _FROM_NP[dst.dtype].category:
        raise RuntimeError(f"result type {_FROM_NP[src.dtype]._legacy_name[:-6]} can't be cast "
                           f"to the desired output type {_FROM_NP[dst.dtype]._legacy_name[:-6]}")
    if src.shape != dst.shape:
        try:
            if xp.broadcast_shapes(src.shape, dst.shape) != dst.shape:
                raise ValueError
        except ValueError:
            raise RuntimeError(
                f"output with shape [{', '.join(map(str, dst.shape))}] doesn't match the "
                f"broadcast shape [{', '.join(map(str, xp.broadcast_shapes(src.shape, dst.shape)) if _broadcastable(src.shape, dst.shape) else src.shape)}]"  # noqa: E501
            ) from None
    if src is not dst:
        xp.copyto(dst, src, casting="unsafe")
    _wrote(self, result)


def _wrote(self: Tensor, result: Tensor) -> None:
    """After a write into ``self``: a new version, and the tangent written in place too."""
    self._bump_version()
    if _fwad._open[0] and _differentiable(self):
        _fwad.on_write(self, result)


def _differentiable(t: Tensor) -> bool:
    """Whether ``t`` can carry a tangent (integer and bool tensors cannot)."""
    return t._data.dtype.kind in "fc"


def _broadcastable(a, b) -> bool:
    try:
        xp.broadcast_shapes(a, b)
        return True
    except ValueError:
        return False


def _replay_view(base: Tensor, chain, geometry=None) -> Tensor:
    """Rebuild a view from its base by replaying its view ops. ``geometry`` is the base's
    (shape, strides) when the view was made: if an in-place view op (``t_``, ``squeeze_``...)
    has changed it since, the replay would pick the wrong elements, so refuse."""
    if geometry is not None and geometry != (base._data.shape, base._data.strides):
        raise RuntimeError(
            "ember cannot rebuild the autograd history of this view: its base was reshaped in "
            "place (t_, transpose_, squeeze_, unsqueeze_, ...) after the view was created. "
            "Take the view again after the in-place reshape.")
    t = base
    for cls, args in chain:
        t = cls.apply(t, *args)
    return t


class CopySlices(Op):
    """The base of a view written in place: d = gradient passed through outside the view,
    and the gradient inside the view sent to the written values."""

    node_name = "torch::autograd::CopySlices"

    @staticmethod
    def forward(ctx, base_old, values, chain):
        ctx.chain = chain
        return base_old._data  # the write has already landed in the base's storage

    @staticmethod
    def backward(ctx, g):
        g_base = g.clone()
        region = _replay_view(g_base, ctx.chain)
        g_values = region.clone()
        with no_grad():
            region._data[...] = 0
        return g_base, g_values, None

    @staticmethod
    def jvp(inputs, out, tangents):
        """The base's tangent with the view's region replaced by the values' tangent (what
        ``forward_ad.on_write`` has already written into the base's)"""
        base, values, chain = inputs
        t_base, t_values = tangents[:2]
        new = base.new_zeros(base.shape) if t_base is None else t_base.clone()
        region = _replay_view(new, chain)
        copy_(region, values.new_zeros(values.shape) if t_values is None else t_values)
        return new


def _private_copy(old: Tensor) -> None:
    """Forward AD while backward is recorded: the op's rule may save the old values and
    their tangents for backward, and both are overwritten next (the tangents by
    ``forward_ad.on_write``), so the alias of the old values gets copies of them."""
    old._data = old._data.copy()
    old._vc = [old._vc[0]]
    old._extra["fw_grad"] = {lv: t.clone() for lv, t in old._extra["fw_grad"].items()}


def _tangents_recorded(*tensors) -> bool:
    """Whether a tangent of ``tensors`` requires grad (reverse over forward)."""
    return _grad_enabled.get() and any(
        t._requires_grad for a in tensors if isinstance(a, Tensor) and a._extra
        for t in (a._extra.get("fw_grad") or {}).values())


def apply_inplace(self: Tensor, compute, *args, name: str | None = None) -> Tensor:
    """Run ``compute(self, *args)`` (an out-of-place op) and store its result in ``self``."""
    grad_on = _grad_enabled.get()
    if grad_on and self._extra and "view_made_without_grad" in self._extra:
        raise RuntimeError(
            "A view was created in no_grad mode and is being modified inplace with grad mode "
            "enabled. Given that this use case is ambiguous and error-prone, it is forbidden. "
            "You can clarify your code by moving both the view and the inplace either both "
            "inside the no_grad block (if you don't want the inplace to be tracked) or both "
            "outside (if you want the inplace to be tracked).")
    track = grad_on and (self._requires_grad or any(
        isinstance(a, Tensor) and a._requires_grad for a in args))
    if not track:
        if _fwad._open[0] and _tangents_recorded(self, *args):
            # reverse over forward: the rule's work must be recorded for the tangents
            src = _alias(self)
            if src._extra and "fw_grad" in src._extra:
                _private_copy(src)
            result = compute(src, *(src if a is self else a for a in args))
        else:
            with no_grad():
                result = compute(self, *args)
        _write(self, result, getattr(compute, "__self__", None) is Copy)
        return self
    base = self._base
    if self.grad_fn is None and self._requires_grad:
        if base is None:
            raise RuntimeError("a leaf Variable that requires grad is being used in an "
                               "in-place operation.")
    if base is not None and base.grad_fn is None and base._requires_grad:
        raise RuntimeError("a view of a leaf Variable that requires grad is being used in an "
                           "in-place operation.")
    old = _alias(self)
    if old._extra and "fw_grad" in old._extra:
        _private_copy(old)
    # ``x.addcmul_(x, x)``: every appearance of self means its values before the write.
    args = tuple(old if a is self else a for a in args)
    result = compute(old, *args)
    node = result.grad_fn
    held = old if type(old._data) is ndarray else old._data.physical_tensor()
    if node is not None and node._saved and any(t is held for t in node._saved):
        # The op saved the old values for its backward: keep a private copy of them, since
        # the write below overwrites the shared storage.
        held._data = held._data.copy()
        held._vc = [held._vc[0]]
    _write(self, result, getattr(compute, "__self__", None) is Copy)
    if base is None or not (self._extra and "view" in self._extra):
        self.grad_fn = result.grad_fn
        self._output_nr = result._output_nr
        self._requires_grad = result._requires_grad
        return self
    chain = self._extra["view"]
    # Refuses if the base's geometry changed since the view was made.
    _replay_view(base, (), self._extra.get("base_geometry"))
    new_base = CopySlices.apply(_alias(base), result, chain)
    self._extra["view_version"] = self._vc[0]
    base.grad_fn = new_base.grad_fn
    base._output_nr = 0
    base._requires_grad = True
    replayed = _replay_view(base, chain)
    self.grad_fn = replayed.grad_fn
    self._output_nr = replayed._output_nr
    self._requires_grad = True
    return self


class Copy(Op):
    """``dst.copy_(src)``: the values of src broadcast to dst's shape and dtype; d = the
    gradient summed to src's shape (nothing flows to the overwritten dst)."""

    node_name = "CopyBackwards"

    @staticmethod
    def forward(ctx, dst, src):
        ctx.src_dtype = src.dtype
        return xp.broadcast_to(src._data, dst._data.shape).astype(dst._data.dtype)

    @staticmethod
    def backward(ctx, g):
        return None, g.to(ctx.src_dtype)

    @staticmethod
    def jvp(inputs, out, tangents):
        """The source's tangent, broadcast; 0 when only the destination has one"""
        t_dst, t_src = tangents
        if t_src is None:
            return t_dst.new_zeros(out.shape)
        return t_src if t_src.shape == out.shape else t_src.expand(out.shape)


class Overwrite(Op):
    """``x.normal_()`` and friends on a tensor in the graph: new values that do not depend on
    the old ones; d = zeros for the old values (as in PyTorch)."""

    _array_backward = True

    @staticmethod
    def forward(ctx, dst, values):
        return values._data

    @staticmethod
    def backward(ctx, g):
        return g * 0, None

    @staticmethod
    def jvp(inputs, out, tangents):
        return out.new_zeros(out.shape)  # samples do not depend on the old values


# PyTorch's node for each in-place sampler applied to a tensor in the graph.
class UniformOverwrite(Overwrite):
    node_name = "UniformBackward0"


class NormalOverwrite(Overwrite):
    node_name = "NormalBackward0"


class RandomOverwrite0(Overwrite):
    node_name = "RandomBackward0"


class RandomOverwrite1(Overwrite):
    node_name = "RandomBackward1"


class RandomOverwrite2(Overwrite):
    node_name = "RandomBackward2"


class BernoulliOverwrite1(Overwrite):
    node_name = "BernoulliBackward1"


class BernoulliOverwrite2(Overwrite):
    node_name = "BernoulliBackward2"


class ExponentialOverwrite(Overwrite):
    node_name = "ExponentialBackward0"


class CauchyOverwrite(Overwrite):
    node_name = "CauchyBackward0"


class LogNormalOverwrite(Overwrite):
    node_name = "LogNormalBackward0"


class GeometricOverwrite(Overwrite):
    node_name = "GeometricBackward0"


_OVERWRITE_NODES = {cls.node_name: cls for cls in Overwrite.__subclasses__()}


def overwrite_(self: Tensor, values, node_name: str) -> Tensor:
    """Write ``values`` (an array) into ``self`` in place, recorded as the ``Overwrite``
    subclass named ``node_name`` (one is defined above for each of PyTorch's samplers)."""
    op = _OVERWRITE_NODES[node_name]
    return apply_inplace(self, op.apply, _make(values.astype(self._data.dtype, copy=False)))


@tensor_method()
def copy_(self: Tensor, src, non_blocking: bool = False) -> Tensor:
    """Copy ``src``'s values into ``self`` (broadcasting and converting dtype)."""
    if not isinstance(src, Tensor):
        src = _make(xp.asarray(src, dtype=self._data.dtype))
    if not (_grad_enabled.get() and (self._requires_grad or src._requires_grad)):
        writer = batched_writer[0]
        if writer is not None and writer(self, src, True):
            _wrote(self, src)
            return self
        _check_broadcast(src._data.shape, self._data.shape)
        xp.copyto(self._data, src._data, casting="unsafe")
        _wrote(self, src)
        return self
    return apply_inplace(self, Copy.apply, src)


def _check_broadcast(src, dst) -> None:
    if src != dst and (not _broadcastable(src, dst) or xp.broadcast_shapes(src, dst) != dst):
        raise RuntimeError(f"output with shape [{', '.join(map(str, dst))}] doesn't match the "
                           f"broadcast shape [{', '.join(map(str, src))}]")


def copy_into_out(out: Tensor, result: Tensor) -> Tensor:
    """PyTorch's ``out=`` argument: resize ``out`` if needed and write ``result`` into it."""
    if out._data.shape != result._data.shape:
        out._data = xp.empty(result._data.shape, dtype=out._data.dtype)
    with no_grad():
        copy_(out, result.detach())
    return out


def _inplace_method(op_name: str, fn):
    def method(self, *args, **kwargs):
        return apply_inplace(self, lambda s, *a: fn(s, *a, **kwargs), *args)
    method.__name__ = op_name + "_"
    method.__doc__ = f"In-place ``{op_name}``."
    method.__wrapped__ = fn  # its signature is the out-of-place method's
    return method


def register_inplace(*names: str) -> None:
    """Give each Tensor method ``name`` an in-place twin ``name_``."""
    for name in names:
        setattr(Tensor, name + "_", _inplace_method(name, getattr(Tensor, name)))


register_inplace("add", "sub", "subtract", "mul", "multiply", "div", "divide", "true_divide",
                 "pow", "neg", "negative", "abs", "absolute", "exp", "log", "sqrt", "tanh",
                 "sigmoid", "relu", "sign")


@tensor_method()
def zero_(self: Tensor) -> Tensor:
    """Fill with zeros in place."""
    return fill_(self, 0)


@tensor_method()
def fill_(self: Tensor, value) -> Tensor:
    """Fill with ``value`` (a number or 0-d tensor) in place."""
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor "
                               f"with {value.ndim} dimensions.")
        if _grad_enabled.get() and (self._requires_grad or value._requires_grad) or (
                _fwad._open[0] and _fwad.is_dual(value)):
            return apply_inplace(self, Copy.apply, value)
        value = value.item()
    if _grad_enabled.get() and self._requires_grad:
        return apply_inplace(self, Copy.apply, _make(xp.asarray(value, self._data.dtype)))
    self._data.fill(value)
    self._bump_version()
    if _fwad._open[0]:
        _fwad.on_write(self, None)
    return self


Tensor.__iadd__ = lambda self, other: self.add_(other)
Tensor.__isub__ = lambda self, other: self.sub_(other)
Tensor.__imul__ = lambda self, other: self.mul_(other)
Tensor.__itruediv__ = lambda self, other: self.div_(other)
