"""Small layers: ``ChannelShuffle`` and ``Softmax2d``."""

from __future__ import annotations

from ..._tensor import Tensor
from .._functional.vision import channel_shuffle
from .module import Module

__all__ = ["ChannelShuffle", "Softmax2d"]


class ChannelShuffle(Module):
    """Interleave the channels of ``(N, C, *)`` across ``groups`` (see
    ``F.channel_shuffle``)."""

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, input: Tensor) -> Tensor:
        return channel_shuffle(input, self.groups)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"


class Softmax2d(Module):
    """Softmax over the channels at every spatial position of ``(N, C, H, W)`` or
    ``(C, H, W)``."""

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim not in (3, 4):
            raise ValueError(f"Softmax2d: expected input to be 3D or 4D, got {input.ndim}D "
                             "instead")
        return input.softmax(-3)
