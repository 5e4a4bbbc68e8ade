"""``ember.onnx``: export a model's forward as an ONNX graph (needs ``pip install onnx``).

``export(model, args, "model.onnx")`` runs ``model(*args)`` once, records the ops it runs and
writes them as an ONNX model that ``onnxruntime`` (or any ONNX runtime) can execute.
"""

from ._export import TrainingMode, export, select_model_mode_for_export
from ._trace import is_in_onnx_export
from .errors import OnnxExporterError, OnnxExporterWarning, UnsupportedOperatorError
from . import errors

__all__ = ["export", "is_in_onnx_export", "select_model_mode_for_export", "TrainingMode",
           "OnnxExporterError", "OnnxExporterWarning", "UnsupportedOperatorError", "errors"]
