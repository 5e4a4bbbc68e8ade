"""Automatic differentiation: the engine, grad modes, custom Functions and checks."""

from . import anomaly_mode, functional, grad_mode, graph
from . import forward_ad  # noqa: E402 - torch.autograd.forward_ad without an extra import
from .anomaly_mode import detect_anomaly, set_detect_anomaly
from .engine import backward, grad
from .function import Function, FunctionCtx, once_differentiable
from .grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .gradcheck import GradcheckError, gradcheck, gradgradcheck

__all__ = ["backward", "grad", "Function", "FunctionCtx", "once_differentiable", "gradcheck",
           "gradgradcheck", "GradcheckError", "no_grad", "enable_grad", "set_grad_enabled",
           "inference_mode", "is_grad_enabled", "grad_mode", "functional", "Variable",
           "anomaly_mode", "detect_anomaly", "set_detect_anomaly", "graph", "forward_ad"]


def Variable(data, requires_grad: bool = False):  # noqa: N802 - PyTorch's (deprecated) name
    """Deprecated in PyTorch: returns the tensor itself (with requires_grad set)."""
    if requires_grad:
        data.requires_grad_()
    return data
