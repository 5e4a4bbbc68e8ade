"""``ember.utils``: data loading and checkpoint helpers."""

from . import checkpoint, data, safetensors
