"""Exceptions raised by ``ember.onnx.export``."""

from __future__ import annotations

__all__ = ["OnnxExporterError", "UnsupportedOperatorError"]


class OnnxExporterError(RuntimeError):
    """Errors raised by the ONNX exporter."""


class UnsupportedOperatorError(OnnxExporterError):
    """An op (named by its autograd node, e.g. ``EinsumBackward0``) or module the exporter
    cannot translate to ONNX."""

    def __init__(self, name: str, detail: str = "") -> None:
        msg = f"Exporting the operator '{name}' to ONNX is not supported by ember.onnx"
        super().__init__(msg + (f": {detail}" if detail else "") + ".")
        self.name = name
