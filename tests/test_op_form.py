"""The one op form: every built-in op is an ``Op`` class statement whose ``node_name``
is its class name, fixed once; node names that vary by call match PyTorch's."""

import pytest
import torch

import ember
import ember.nn.functional as F
from ember._ops._util import Op


def _op_classes():
    seen, stack = [], [Op]
    while stack:
        for sub in stack.pop().__subclasses__():
            seen.append(sub)
            stack.append(sub)
    return seen


def test_every_op_class_is_named_by_its_node_name():
    classes = _op_classes()
    assert len(classes) > 150
    for cls in classes:
        if cls.node_name:
            short = cls.node_name.rsplit("::", 1)[-1]
            assert cls.__name__ == short, f"{cls.__module__}: {cls.__name__} vs {short}"


def test_node_name_and_formulas_are_fixed_by_the_class_statement():
    from ember._ops.elementwise import Mul
    for attr in ("node_name", "backward", "forward"):
        with pytest.raises(TypeError, match="set in its class body"):
            setattr(Mul, attr, getattr(Mul, attr))


def _names(lib, fn, *shapes):
    xs = [lib.ones(*s, dtype=lib.float64, requires_grad=True) for s in shapes]
    y = fn(lib, *xs)
    return type(y.grad_fn).__name__, y.grad_fn.name()


CALLS = {
    "remainder_tensor": (lambda t, a, b: t.remainder(a, b), (3,), (3,)),
    "remainder_number": (lambda t, a: t.remainder(a, 1.5), (3,)),
    "fmod_tensor": (lambda t, a, b: t.fmod(a, b), (3,), (3,)),
    "fmod_number": (lambda t, a: t.fmod(a, 1.5), (3,)),
    "copysign_number": (lambda t, a: t.copysign(a, -1.0), (3,)),
    "xlogy_self_number": (lambda t, a: t.xlogy(2.0, a), (3,)),
    "linear_bias": (lambda t, x, w, b: t.nn.functional.linear(x, w, b), (2, 4), (3, 4), (3,)),
    "linear_no_bias": (lambda t, x, w: t.nn.functional.linear(x, w), (2, 4), (3, 4)),
    "linear_1d": (lambda t, x, w: t.nn.functional.linear(x, w), (4,), (3, 4)),
    "linear_3d": (lambda t, x, w: t.nn.functional.linear(x, w), (2, 2, 4), (3, 4)),
    "linear_3d_bias": (lambda t, x, w, b: t.nn.functional.linear(x, w, b), (2, 2, 4), (3, 4),
                       (3,)),
    "pixel_unshuffle": (lambda t, x: t.nn.functional.pixel_unshuffle(x, 2), (1, 1, 4, 4)),
    "fold": (lambda t, x: t.nn.functional.fold(x, (3, 3), 2), (1, 4, 4)),
    "group_norm": (lambda t, x: t.nn.functional.group_norm(x, 1), (2, 2, 3)),
    "instance_norm": (lambda t, x: t.nn.functional.instance_norm(x), (2, 2, 3)),
    "reflect_pad": (lambda t, x: t.nn.functional.pad(x, (1, 1), mode="reflect"), (1, 2, 4)),
    "upsample": (lambda t, x: t.nn.functional.interpolate(x, scale_factor=2), (1, 1, 3)),
    "elu_inplace": (lambda t, x: t.nn.functional.elu(x * 1, inplace=True), (3,)),
    "t_inplace": (lambda t, x: (x * 1).t_(), (2, 3)),
    "squeeze_inplace": (lambda t, x: (x * 1).squeeze_(0), (1, 3)),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_node_names_that_vary_by_call_match_torch(name):
    fn, *shapes = CALLS[name]
    assert _names(ember, fn, *shapes) == _names(torch, fn, *shapes)


def test_cross_entropy_nodes_match_torch():
    for reduction in ("mean", "sum", "none"):
        for soft in (False, True):
            got = []
            for lib in (ember, torch):
                x = lib.ones(3, 4, dtype=lib.float64, requires_grad=True)
                y = (lib.full((3, 4), 0.25, dtype=lib.float64) if soft
                     else lib.tensor([0, 1, 3]))
                loss = lib.nn.functional.cross_entropy(x, y, reduction=reduction)
                got.append(type(loss.grad_fn).__name__)
            assert got[0] == got[1], (reduction, soft, got)


def test_double_backward_through_separable_maps():
    for lib in (ember, torch):
        x = lib.arange(8.0, dtype=lib.float64).reshape(1, 2, 4).requires_grad_()
        y = F.pad(x, (1, 1), mode="reflect") if lib is ember else \
            torch.nn.functional.pad(x, (1, 1), mode="reflect")
        g, = lib.autograd.grad((y * y).sum(), x, create_graph=True)
        if lib is ember:
            e_name = type(g.grad_fn).__name__
        else:
            t_name = type(g.grad_fn).__name__
    assert e_name == t_name
