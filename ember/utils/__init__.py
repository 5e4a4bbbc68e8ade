"""``ember.utils``: data loading and checkpoint helpers."""

from . import data, safetensors
