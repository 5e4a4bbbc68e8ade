"""Ops that only a trace uses: a factory call, and dropout, recorded as ops so that a replay
runs them again (a random one draws afresh from ember's generator, in eager's order)."""

from __future__ import annotations

from .._ops._util import Op


class Factory(Op):
    """``fn(*args, **kwargs)`` (a tensor factory) as an op without a gradient: replayed, it
    builds its tensor again, drawing fresh numbers when ``fn`` is random."""

    @staticmethod
    def forward(ctx, fn, args, kwargs):
        return fn(*args, **kwargs)._data


class Dropout(Op):
    """Eager dropout's own steps (``empty_like(x).bernoulli_(1 - p) / (1 - p)``, then
    ``x * noise``) in one op: the same draws and the same floating-point operations, and the
    node eager records last (``MulBackward0``)."""

    node_name = "MulBackward0"
    _array_backward = True

    @staticmethod
    def forward(ctx, x, p, feature):
        from .._backend import xp
        from ..nn._functional.dropout import _noise
        noise = xp.true_divide(_noise(x, feature).bernoulli_(1 - p)._data, 1 - p)
        ctx.save_for_backward(None, noise)
        return x._data * noise

    @staticmethod
    def backward(ctx, g):
        _, noise = ctx.saved_tensors
        return g * noise, None, None


def dropout_args(input, p=0.5, training=True, inplace=False, feature=False, alpha=False):
    """``Dropout.apply``'s arguments for a call of ``nn.functional``'s ``_dropout`` that it
    reproduces exactly (plain dropout that draws a mask), else None."""
    if (alpha or inplace or not training or not 0 < p < 1 or input.numel() == 0
            or input._data.dtype.kind != "f"):
        return None
    return input, p, feature
