"""Everything a graph node keeps for backward goes through ``ctx.save_for_backward``, which
backward frees: after ``backward()`` no node holds an array or a tensor."""

import numpy as np
import pytest
import torch

import ember
import ember.nn.functional as F
from ember._tensor import Tensor
from tests.op_db import OP_DB
from tests.test_ops import _inputs, _outputs


def _nodes(roots):
    seen, stack, out = set(), [r for r in roots if r is not None], []
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        out.append(node)
        stack.extend(fn for fn, _ in getattr(node, "next_functions", ()) if fn is not None)
    return out


def _holds(value, depth=0) -> bool:
    if isinstance(value, (np.ndarray, Tensor)):
        return True
    if isinstance(value, (tuple, list)) and depth < 3:
        return any(_holds(v, depth + 1) for v in value)
    if isinstance(value, dict) and depth < 3:
        return any(_holds(v, depth + 1) for v in value.values())
    return False


def _kept(outputs) -> list[str]:
    """Backward through ``outputs``; the attributes of graph nodes still holding data."""
    nodes = _nodes([o.grad_fn for o in outputs])
    sum((o * 1).sum() for o in outputs).backward()
    return [f"{type(n).__name__}.{k}" for n in nodes
            for k, v in getattr(n, "__dict__", {}).items() if _holds(v)]


DIFF = [op for op in OP_DB if op.grad and not op.int_inputs]


@pytest.mark.parametrize("op", DIFF, ids=[op.name for op in DIFF])
def test_op_table_nodes_keep_nothing_after_backward(op):
    e_in, _ = _inputs(op, op.samples[0], "float64", requires_grad=True)
    outputs = [o for o in _outputs(op.fn(ember, *e_in)) if o.requires_grad]
    if outputs:
        assert _kept(outputs) == []


def _nn_calls():
    x4 = ember.randn(2, 3, 6, 6, requires_grad=True)
    x3 = ember.randn(2, 3, 7, requires_grad=True)
    w = ember.randn(5, 3, requires_grad=True)
    return {
        "cross_entropy": lambda: F.cross_entropy(ember.randn(4, 5, requires_grad=True),
                                                 ember.tensor([0, 1, 4, 2])),
        "cross_entropy_smooth": lambda: F.cross_entropy(
            ember.randn(4, 5, requires_grad=True), ember.tensor([0, 1, 4, 2]),
            label_smoothing=0.1),
        "layer_norm": lambda: F.layer_norm(x3, (7,)),
        "batch_norm": lambda: F.batch_norm(x4, None, None, training=True),
        "eval_batch_norm": lambda: F.batch_norm(x4, ember.zeros(3), ember.ones(3)),
        "group_norm": lambda: F.group_norm(x4, 3),
        "embedding": lambda: F.embedding(ember.tensor([[0, 2], [4, 4]]), w,
                                         scale_grad_by_freq=True, padding_idx=2),
        "embedding_bag_max": lambda: F.embedding_bag(ember.tensor([0, 2, 4, 1]), w,
                                                     ember.tensor([0, 2]), mode="max"),
        "reflect_pad": lambda: F.pad(x3, (2, 2), mode="reflect"),
        "upsample": lambda: F.interpolate(x4, scale_factor=2, mode="bilinear"),
        "avg_pool": lambda: F.avg_pool2d(x4, 3, 2, padding=1, count_include_pad=False),
        "adaptive_avg_pool": lambda: F.adaptive_avg_pool2d(x4, (4, 5)),
        "affine_grid": lambda: F.affine_grid(ember.randn(2, 2, 3, requires_grad=True),
                                             (2, 1, 4, 5), align_corners=False),
        "ctc_loss": lambda: F.ctc_loss(ember.randn(6, 2, 4, requires_grad=True).log_softmax(2),
                                       ember.tensor([[1, 2], [3, 3]]), ember.tensor([6, 5]),
                                       ember.tensor([2, 2])),
        "as_strided": lambda: ember.randn(9, requires_grad=True).as_strided((2, 2), (3, 1), 1),
        "scatter_reduce": lambda: ember.randn(5, requires_grad=True).scatter_reduce(
            0, ember.tensor([0, 0, 2]), ember.randn(3, requires_grad=True), "mean"),
        "take": lambda: ember.randn(3, 4, requires_grad=True).take(ember.tensor([0, -1, 5])),
        "index_fill": lambda: ember.randn(3, 4, requires_grad=True).index_fill(
            1, ember.tensor([0, 2]), ember.tensor(1.5, requires_grad=True)),
    }


@pytest.mark.parametrize("name", sorted(_nn_calls()))
def test_nn_nodes_keep_nothing_after_backward(name):
    assert _kept([_nn_calls()[name]()]) == []


def test_cross_entropy_frees_its_softmax_after_backward():
    """The issue's case: a kept loss must not pin the (2000, 1000) softmax after backward."""
    logits = ember.randn(2000, 1000, requires_grad=True)
    loss = F.cross_entropy(logits, ember.randint(0, 1000, (2000,)))
    node = loss.grad_fn
    held = sum(t._data.nbytes for t in node.saved_tensors if isinstance(t, Tensor))
    assert held >= 2000 * 1000 * 4  # the exponentials, saved for backward
    loss.backward()
    with pytest.raises(RuntimeError, match="second time") as e_err:
        node.saved_tensors  # noqa: B018 - freed, as PyTorch's would be
    t_logits = torch.randn(3, 4, requires_grad=True)
    t_loss = torch.nn.functional.cross_entropy(t_logits, torch.tensor([0, 1, 2]))
    t_loss.backward()
    with pytest.raises(RuntimeError) as t_err:
        t_loss.grad_fn._saved_self  # noqa: B018
    assert str(e_err.value) == str(t_err.value)
    assert not any(_holds(v) for v in node.__dict__.values())
