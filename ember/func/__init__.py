"""Composable function transforms, like ``torch.func``: ``grad``, ``vjp``, ``jacrev``,
``hessian``, ``vmap``, ``functional_call``, ... (see docs/func.md)."""

from ._autodiff import grad, grad_and_value, jacrev, vjp
from ._forward import hessian, jacfwd, jvp, linearize
from ._misc import functionalize, replace_all_batch_norm_modules_
from ._module import functional_call, stack_module_state
from ._vmap import vmap

__all__ = ["grad", "grad_and_value", "vjp", "jvp", "linearize", "jacrev", "jacfwd", "hessian",
           "vmap", "functional_call", "stack_module_state", "functionalize",
           "replace_all_batch_norm_modules_"]
