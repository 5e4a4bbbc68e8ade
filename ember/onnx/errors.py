"""Exceptions raised by ``ember.onnx.export``."""

from __future__ import annotations

__all__ = ["OnnxExporterError", "OnnxExporterWarning", "UnsupportedOperatorError"]


class OnnxExporterError(RuntimeError):
    """Errors raised by the ONNX exporter."""


class UnsupportedOperatorError(OnnxExporterError):
    """An op (named by its autograd node, e.g. ``EinsumBackward0``) or module the exporter
    cannot translate to ONNX."""

    def __init__(self, name: str, detail: str = "") -> None:
        msg = f"Exporting the operator '{name}' to ONNX is not supported by ember.onnx"
        super().__init__(msg + (f": {detail}" if detail else "") + ".")
        self.name = name


class OnnxExporterWarning(UserWarning):
    """The export may not generalise: e.g. a value computed from the inputs was turned into a
    Python number during the forward, so the graph holds it as a constant."""
