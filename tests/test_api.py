"""The public namespace: every exported name exists, and torch's common entry points are
there under the same names."""

import ember
from ember import _ops


def test_every_listed_op_exists():
    missing = [f"{m.__name__}.{n}" for m in _ops.OP_MODULES for n in m.__all__
               if not hasattr(m, n)]
    assert not missing, f"listed in __all__ but not defined: {missing}"


def test_torch_entry_points_exist():
    for name in ["tensor", "zeros", "ones", "arange", "linspace", "eye", "rand", "randn",
                 "randint", "randperm", "manual_seed", "no_grad", "enable_grad",
                 "set_grad_enabled", "float32", "float64", "int64", "bool", "Tensor", "Size",
                 "device", "get_default_dtype", "set_default_dtype", "from_numpy", "as_tensor",
                 "matmul", "exp", "log", "sum", "mean", "where", "save", "load", "nn", "optim",
                 "autograd", "utils", "cuda", "is_tensor", "set_printoptions"]:
        assert hasattr(ember, name), name
    assert ember.cuda.is_available() is False


def test_dlpack_export_works_right_after_import():
    import subprocess
    import sys
    code = ("import numpy as np, ember; a = np.from_dlpack(ember.ones(2)); "
            "assert a.tolist() == [1.0, 1.0]")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_malloc_tuning_is_off_by_default_and_opt_in():
    """``import ember`` leaves the process's allocator alone unless EMBER_MALLOC_TUNING=1."""
    import os
    import subprocess
    import sys
    from pathlib import Path
    code = "import ember._backend as b; print(b.malloc_tuned)"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MALLOC_") and k != "EMBER_MALLOC_TUNING"}
    env["PYTHONPATH"] = str(Path(ember.__file__).resolve().parent.parent)
    default = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True)
    opted = subprocess.run([sys.executable, "-c", code], env={**env, "EMBER_MALLOC_TUNING": "1"},
                           capture_output=True, text=True)
    assert default.stdout.strip() == "False"
    import platform
    expected = "True" if sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc" \
        else "False"
    assert opted.stdout.strip() == expected
