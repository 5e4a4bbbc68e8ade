"""Files of TensorBoard's embedding projector: ``tensors.tsv``, ``metadata.tsv``,
``sprite.png`` in one directory per embedding, listed in ``projector_config.pbtxt``."""

from __future__ import annotations

import math
import os

import numpy as np

from ._png import encode_png
from .summary import _grid, make_np


def encode_tag(tag: str) -> str:
    """A tag made safe as one directory name (``%``, ``/`` and ``\\`` percent-encoded)."""
    for ch in "%/\\":
        tag = tag.replace(ch, f"%{ord(ch):02x}")
    return tag


def write_metadata(path: str, metadata, header=None) -> None:
    if header:
        if len(header) != len(metadata[0]):
            raise AssertionError("len of header must be equal to the number of columns in "
                                 "metadata")
        rows = ["\t".join(str(v) for v in row) for row in [header] + list(metadata)]
    else:
        rows = [str(v) for v in metadata]
    with open(os.path.join(path, "metadata.tsv"), "wb") as f:
        f.write(("\n".join(rows) + "\n").encode())


def write_sprite(path: str, images) -> None:
    """All label images tiled into one square sprite (floats in [0, 1])."""
    arr = make_np(images)
    grid = _grid(arr, ncols=math.ceil(arr.shape[0] ** 0.5))  # (C, H, W)
    side = grid.shape[2]
    square = np.zeros((side, side, 3))
    square[:grid.shape[1]] = grid.transpose(1, 2, 0)
    with open(os.path.join(path, "sprite.png"), "wb") as f:
        f.write(encode_png(np.uint8((square * 255).clip(0, 255))))


def write_tensors(path: str, mat: np.ndarray) -> None:
    with open(os.path.join(path, "tensors.tsv"), "wb") as f:
        for row in mat:
            f.write(("\t".join(str(v.item()) for v in row) + "\n").encode())
