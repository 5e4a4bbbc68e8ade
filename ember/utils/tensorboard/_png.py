"""A minimal PNG encoder (8-bit gray, RGB or RGBA), so image summaries need no Pillow."""

from __future__ import annotations

import struct
import zlib

import numpy as np

_COLOR_TYPE = {1: 0, 3: 2, 4: 6}  # channels -> PNG colour type (gray, RGB, RGBA)


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def encode_png(image: np.ndarray) -> bytes:
    """PNG bytes of an ``(H, W, C)`` uint8 array with C in (1, 3, 4)."""
    height, width, channels = image.shape
    header = struct.pack(">IIBBBBB", width, height, 8, _COLOR_TYPE[channels], 0, 0, 0)
    # Every scanline starts with its filter type; 0 (none) keeps the encoder trivial.
    rows = np.concatenate([np.zeros((height, 1), np.uint8),
                           np.ascontiguousarray(image, np.uint8).reshape(height, -1)], axis=1)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(rows.tobytes(), 6)) + _chunk(b"IEND", b""))
