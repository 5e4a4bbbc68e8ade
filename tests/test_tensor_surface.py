"""The Tensor's surface is listed in one place (``ember/_tensor.pyi``, generated), and each
name has one definition: one module attaches each Tensor attribute, and one op module
exports each name of ember's flat namespace."""

import importlib.util
from pathlib import Path

import pytest
import torch

import ember
from ember._ops import OP_MODULES

ROOT = Path(__file__).resolve().parent.parent


def _generator():
    spec = importlib.util.spec_from_file_location("gen_tensor_stub",
                                                  ROOT / "scripts" / "gen_tensor_stub.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_stub_is_up_to_date():
    stub = (ROOT / "ember" / "_tensor.pyi").read_text(encoding="utf-8")
    assert stub == _generator().render(), \
        "ember/_tensor.pyi is stale: run python scripts/gen_tensor_stub.py"


def test_stub_lists_every_tensor_attribute_once():
    stub = (ROOT / "ember" / "_tensor.pyi").read_text(encoding="utf-8")
    body = stub.split("\nclass Tensor", 1)[1]
    for name in ("exp", "relu", "relu_", "where", "add_", "__add__", "backward", "matmul"):
        assert body.count(f"    def {name}(") == 1, name


# Run in a fresh interpreter: Tensor is built with a recording metaclass (Tensor itself has
# none, so that isinstance stays fast), then every ember module is imported.
_RECORD = """
import builtins, json, pkgutil, importlib, sys

class Recorder(type):
    definitions = {}

    def __setattr__(cls, name, value):
        frame = sys._getframe(1)
        while frame.f_globals.get("__name__") in ("ember._ops._util",):
            frame = frame.f_back
        Recorder.definitions.setdefault(name, []).append(frame.f_globals.get("__name__"))
        super().__setattr__(name, value)

build = builtins.__build_class__

def recording(func, name, *bases, **kw):
    if name == "Tensor" and func.__globals__.get("__name__") == "ember._tensor":
        kw["metaclass"] = Recorder
    return build(func, name, *bases, **kw)

builtins.__build_class__ = recording
import ember
builtins.__build_class__ = build
for info in pkgutil.walk_packages(ember.__path__, "ember."):
    if ".examples" not in info.name:
        importlib.import_module(info.name)
print(json.dumps(Recorder.definitions))
"""


def test_each_tensor_attribute_is_defined_once():
    import json
    import os
    import subprocess
    import sys
    env = dict(os.environ, PYTHONPATH=str(Path(ember.__file__).resolve().parent.parent))
    out = subprocess.run([sys.executable, "-c", _RECORD], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    definitions = json.loads(out.stdout)
    assert len(definitions) > 400
    assert {name: where for name, where in definitions.items() if len(where) > 1} == {}


def test_each_flat_name_is_exported_by_one_op_module():
    owner: dict = {}
    for module in OP_MODULES:
        for name in module.__all__:
            if hasattr(module, name):
                owner.setdefault(name, set()).add(id(getattr(module, name)))
    assert {name for name, objs in owner.items() if len(objs) > 1} == set()


@pytest.mark.parametrize("name", ["relu", "exp", "sigmoid", "tanh", "abs", "clamp", "sum"])
def test_function_and_method_are_one_definition(name):
    assert getattr(ember, name) is getattr(ember.Tensor, name)


def test_relu_rejects_inplace_like_torch():
    errors = []
    for lib in (ember, torch):
        with pytest.raises(TypeError) as err:
            lib.relu(lib.ones(2), inplace=True)
        errors.append(str(err.value))
    assert errors[0] == errors[1]
    x = ember.ones(2) * -1
    assert ember.nn.functional.relu(x, inplace=True) is x
