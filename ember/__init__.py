"""ember: PyTorch's eager autograd and training stack, in Python on NumPy.

``import ember as torch`` and PyTorch code runs unchanged: tensors, the define-by-run graph,
``backward()``/``.grad``, ``ember.nn``, ``ember.optim`` and ``ember.utils.data``.
"""

from . import _ops
from ._creation import *  # noqa: F403
from ._creation import __all__ as _creation_all
from ._dtype import (bfloat16, bool, can_cast, cdouble, cfloat, complex64, complex128, double,
                     dtype, finfo, float, float16, float32, float64, get_default_dtype, half,
                     iinfo, int, int8, int16, int32, int64, long, promote_types, result_type,
                     set_default_dtype, short, uint8)
from ._ops import *  # noqa: F403
from ._printing import get_printoptions, set_printoptions
from ._random import (Generator, default_generator, get_rng_state, initial_seed, manual_seed,
                      seed, set_rng_state)
from ._runtime import (backends, compile, cuda, get_num_threads, is_floating_point,
                       is_grad_enabled, is_tensor, numel, set_num_threads,
                       use_deterministic_algorithms)
from ._tensor import Size, Tensor, device
from .autograd.grad_mode import (enable_grad, inference_mode, is_inference_mode_enabled,
                                 no_grad, set_grad_enabled)
from .autograd.anomaly_mode import (is_anomaly_check_nan_enabled, is_anomaly_enabled,
                                    set_anomaly_enabled)
from ._dlpack import from_dlpack  # also gives Tensor its __dlpack__ protocol
from ._legacy import (BFloat16Tensor, BoolTensor, ByteTensor, CharTensor, DoubleTensor,
                      FloatTensor, HalfTensor, IntTensor, LongTensor, ShortTensor)
from . import autograd, linalg, return_types  # noqa: E402
from . import special  # noqa: E402 - torch.special
from ._dtype import uint16, uint32, uint64  # noqa: E402 - limited-support unsigned dtypes

from .version import __version__  # noqa: E402 - "<torch API level>+ember.<release>"
from math import e, inf, nan, pi  # noqa: E402 - torch.pi, torch.e, torch.inf, torch.nan
from ._default_device import get_default_device, set_default_device  # noqa: E402
from .backends import get_float32_matmul_precision, set_float32_matmul_precision  # noqa: E402
from . import amp  # noqa: E402
from .amp.autocast_mode import (autocast, get_autocast_dtype, is_autocast_available,  # noqa: E402
                                is_autocast_enabled, set_autocast_dtype, set_autocast_enabled)

# Subpackages that ``import ember`` does not need load on first use (PEP 562), which keeps
# the import fast: ``ember.nn``, ``import ember.nn as nn`` and ``from ember import nn`` all work.
_LAZY_MODULES = {"nn", "optim", "utils", "distributed", "distributions", "testing", "jit",
                 "hub", "multiprocessing", "onnx", "func", "fft"}
_LAZY_NAMES = {"save": "_serialization", "load": "_serialization", "vmap": "func"}


def __getattr__(name: str):
    import importlib
    if name in _LAZY_MODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    if name in _LAZY_NAMES:
        value = getattr(importlib.import_module(f"{__name__}.{_LAZY_NAMES[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'ember' has no attribute '{name}'")


def __dir__():
    return sorted(set(globals()) | _LAZY_MODULES | set(_LAZY_NAMES))

__all__ = sorted(set(_creation_all) | set(_ops.__all__) | {
    "Tensor", "Size", "device", "dtype", "no_grad", "enable_grad", "set_grad_enabled",
    "inference_mode", "autograd", "manual_seed", "Generator"})
