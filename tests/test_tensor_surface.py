"""The Tensor's surface is listed in one place (``ember/_tensor.pyi``, generated), and each
name has one definition: one module attaches each Tensor attribute, and one op module
exports each name of ember's flat namespace."""

import importlib.util
from pathlib import Path

import pytest
import torch

import ember
from ember._ops import OP_MODULES
from ember._tensor import _TensorType

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
    body = stub.split("class Tensor(", 1)[1]
    for name in ("exp", "relu", "relu_", "where", "add_", "__add__", "backward", "matmul"):
        assert body.count(f"    def {name}(") == 1, name


def test_each_tensor_attribute_is_defined_by_one_module():
    twice = {name: where for name, where in _TensorType.definitions.items() if len(where) > 1}
    assert twice == {}


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
