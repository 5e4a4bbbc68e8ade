"""vmap over every op-table entry (tests/op_db) against torch.func.vmap, and which ops run
per sample (the fallback, announced by PyTorch's performance warning).

Each op runs on a batch of three samples (every input batched at dim 0). The ops that fall
back are listed in docs/func.md between the ``vmap-fallback`` markers; the test fails when an
op falls back that the list does not name, or when a listed op no longer falls back (then
remove it from the list). ``python -m tests.func.test_vmap_op_db`` prints the current list.
Entries with several inputs are also run with every mix of batched and unbatched inputs,
and every differentiable entry under ``vmap(grad(...))`` and ``vmap(jvp(...))``.
"""

import itertools
import pathlib
import re
import warnings

import numpy as np
import pytest
import torch
import torch.func as tf

import ember
import ember.func as ef
from tests.func.test_transforms import _raises
from tests.op_db import OP_DB

B = 3
DOCS = pathlib.Path(__file__).resolve().parents[2] / "docs" / "func.md"
# Where ember's vmap gives PyTorch's per-sample result but torch.func.vmap does not.
TORCH_DIFFERS = {
    "index_select_0d_index",  # torch.func.vmap keeps the whole dim for a 0-d index
    "as_strided_offset",      # strides and offsets address each sample's own storage
}


def _sample(op):
    full = [s for s in op.samples
            if s.shapes and all(len(sh) >= 1 and 0 not in sh for sh in s.shapes)]
    return (full or [s for s in op.samples if s.shapes] or [None])[0]


def _batch(op, sample):
    dtype = "int64" if op.int_inputs else "float64"
    per = [op.make_arrays(sample, dtype, seed=i) for i in range(B)]
    return [np.stack([p[j] for p in per]) for j in range(len(sample.shapes))]


def _flat(r):
    if isinstance(r, (tuple, list)):
        return [x for x in r if isinstance(x, (ember.Tensor, torch.Tensor))]
    return [r]


def _documented() -> set[str]:
    text = DOCS.read_text()
    block = re.search(r"<!-- vmap-fallback-start -->(.*?)<!-- vmap-fallback-end -->", text,
                      re.S)
    assert block, "docs/func.md lost its vmap-fallback list"
    return set(re.findall(r"`([^`]+)`", block.group(1)))


def _run(op):
    """(ember outputs, torch outputs, the ember fallback warnings); None for an op that takes
    no tensor; raises ``_TorchRefused`` where torch's vmap rejects the op."""
    sample = _sample(op)
    if sample is None:
        return None
    arrays = _batch(op, sample)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t_out = tf.vmap(lambda *a: op.fn(torch, *a), randomness="same")(
                *[torch.from_numpy(a.copy()) for a in arrays])
    except Exception as exc:
        raise _TorchRefused(arrays, exc) from None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        e_out = ef.vmap(lambda *a: op.fn(ember, *a), randomness="same")(
            *[ember.from_numpy(a.copy()) for a in arrays])
    fell_back = [str(w.message) for w in caught if "performance drop" in str(w.message)]
    return e_out, t_out, fell_back


class _TorchRefused(Exception):
    def __init__(self, arrays, exc):
        super().__init__(str(exc))
        self.arrays, self.exc = arrays, exc


def _vmap_ember(op, arrays):
    return ef.vmap(lambda *a: op.fn(ember, *a), randomness="same")(
        *[ember.from_numpy(a.copy()) for a in arrays])


def _check_where_torch_refuses(op, refused: _TorchRefused) -> None:
    """torch.func.vmap refuses the op. Where it only lacks a batching rule, ember must give
    each sample's eager result (or refuse when those results cannot be stacked); where it
    refuses by meaning (dynamic shapes, a width taken from the data), ember refuses alike."""
    arrays, msg = refused.arrays, str(refused.exc)
    if "Batching rule not implemented" not in msg and "we do not yet support" not in msg:
        _raises(lambda: _vmap_ember(op, arrays),
                lambda: tf.vmap(lambda *a: op.fn(torch, *a), randomness="same")(
                    *[torch.from_numpy(a.copy()) for a in arrays]))
        return
    per = [_flat(op.fn(ember, *[ember.from_numpy(np.array(a[b])) for a in arrays]))
           for b in range(B)]
    if any([tuple(x.shape) for x in p] != [tuple(x.shape) for x in per[0]] for p in per):
        with warnings.catch_warnings(), pytest.raises(RuntimeError):
            warnings.simplefilter("ignore")
            _vmap_ember(op, arrays)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = _flat(_vmap_ember(op, arrays))
    assert len(got) == len(per[0])
    for j, e in enumerate(got):
        np.testing.assert_allclose(e.detach().numpy(),
                                   ember.stack([p[j] for p in per]).detach().numpy(),
                                   atol=1e-12, rtol=1e-12, equal_nan=True, err_msg=op.name)


@pytest.mark.parametrize("op", OP_DB, ids=[op.name for op in OP_DB])
def test_vmap_matches_torch_func(op):
    try:
        got = _run(op)
    except _TorchRefused as refused:
        _check_where_torch_refuses(op, refused)
        return
    if got is None:
        pytest.skip("the op takes no tensor to map over")
    e_out, t_out, fell_back = got
    if op.name not in TORCH_DIFFERS:
        es, ts = _flat(e_out), _flat(t_out)
        assert len(es) == len(ts)
        for e, t in zip(es, ts):
            en, tn = e.detach().numpy(), t.detach().numpy()
            assert en.shape == tn.shape, f"{op.name}: shape {en.shape} vs torch {tn.shape}"
            assert str(e.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
            if en.dtype.kind in "fc":
                np.testing.assert_allclose(en, tn, atol=1e-5, rtol=1e-5, equal_nan=True,
                                           err_msg=op.name)
            else:
                np.testing.assert_array_equal(en, tn, err_msg=op.name)
    listed = op.name in _documented()
    if fell_back and not listed:
        pytest.fail(f"{op.name} fell back to the per-sample loop ({fell_back[0]}); add a "
                    "batching rule, or list it in docs/func.md")
    if listed and not fell_back:
        pytest.fail(f"{op.name} is batched now: remove it from docs/func.md's fallback list")


def _current_fallbacks() -> list[str]:
    names = []
    for op in OP_DB:
        try:
            got = _run(op)
        except _TorchRefused:
            continue
        if got is not None and got[2]:
            names.append(op.name)
    return names


if __name__ == "__main__":
    print(", ".join(f"`{n}`" for n in _current_fallbacks()))


# Where torch.func.vmap's result is not each sample's eager result (ember's is): there the
# check is against the per-sample loop. index_fill with a batched 0-d value into an
# unbatched tensor: torch 2.13 fills every sample with the last sample's value.
TORCH_DIFFERS_MIXED = {("index_fill_tensor", (None, 0))}
MULTI = [op for op in OP_DB if (_sample(op) is not None and len(_sample(op).shapes) >= 2
                                and op.name not in TORCH_DIFFERS)]


def _eager_loop(op, ins, mask):
    outs = [op.fn(ember, *[ember.from_numpy(np.array(x[b] if m == 0 else x))
                           for x, m in zip(ins, mask)]) for b in range(B)]
    flat = [_flat(o) for o in outs]
    return [ember.stack([f[j] for f in flat]) for j in range(len(flat[0]))]


@pytest.mark.parametrize("op", MULTI, ids=[op.name for op in MULTI])
def test_vmap_mixed_in_dims_match_torch_func(op):
    """Every mix of batched and unbatched inputs (in_dims 0 or None) of each multi-input
    entry: the rules that broadcast an unbatched operand against batched ones."""
    arrays = _batch(op, _sample(op))
    checked = 0
    for mask in itertools.product((0, None), repeat=len(arrays)):
        if all(m is None for m in mask) or all(m == 0 for m in mask):
            continue
        ins = [a if m == 0 else a[0] for a, m in zip(arrays, mask)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                t_out = tf.vmap(lambda *a: op.fn(torch, *a), in_dims=mask, randomness="same")(
                    *[torch.from_numpy(x.copy()) for x in ins])
            except Exception:
                continue  # torch.func.vmap rejects this mix
            e_out = ef.vmap(lambda *a: op.fn(ember, *a), in_dims=mask, randomness="same")(
                *[ember.from_numpy(x.copy()) for x in ins])
        want = (_eager_loop(op, ins, mask) if (op.name, mask) in TORCH_DIFFERS_MIXED
                else _flat(t_out))
        for e, t in zip(_flat(e_out), want, strict=True):
            en, tn = e.detach().numpy(), t.detach().numpy()
            assert en.shape == tn.shape, f"{op.name} {mask}: shape {en.shape} vs {tn.shape}"
            if en.dtype.kind in "fc":
                np.testing.assert_allclose(en, tn, atol=1e-5, rtol=1e-5, equal_nan=True,
                                           err_msg=f"{op.name} {mask}")
            else:
                np.testing.assert_array_equal(en, tn, err_msg=f"{op.name} {mask}")
        checked += 1
    if checked == 0:
        pytest.skip("torch.func.vmap rejects every mix of this op's inputs")


GRAD = [op for op in OP_DB if op.grad and not op.int_inputs and op.name not in TORCH_DIFFERS
        and _sample(op) is not None]


def _weighted_sum(m, op):
    def f(*args):
        total = 0
        for o in _flat(op.fn(m, *args)):
            if o.dtype.is_floating_point:
                total = total + (o * o.detach().sin()).sum()
        return total
    return f


@pytest.mark.parametrize("op", GRAD, ids=[op.name for op in GRAD])
def test_vmap_grad_matches_torch_func(op):
    """Per-sample gradients through every differentiable entry: the batching rules'
    backward passes (and the per-sample fallback's) against torch.func."""
    arrays = _batch(op, _sample(op))
    argnums = tuple(range(len(arrays)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            t_out = tf.vmap(tf.grad(_weighted_sum(torch, op), argnums=argnums),
                            randomness="same")(*[torch.from_numpy(a.copy()) for a in arrays])
        except Exception:
            pytest.skip("torch.func rejects vmap(grad) of this op")
        e_out = ef.vmap(ef.grad(_weighted_sum(ember, op), argnums=argnums),
                        randomness="same")(*[ember.from_numpy(a.copy()) for a in arrays])
    for e, t in zip(e_out, t_out, strict=True):
        np.testing.assert_allclose(e.numpy(), t.numpy(), atol=1e-5, rtol=1e-4, equal_nan=True,
                                   err_msg=op.name)


FORWARD = [op for op in GRAD if op.forward_ad is not False
           and op.forward_ad_oracle == "torch"]  # the others: torch's own rule is wrong


def _jvp_runner(m, mf, op):
    def run(*xs):
        k = len(xs) // 2
        return mf.jvp(lambda *p: tuple(o for o in _flat(op.fn(m, *p))
                                       if o.dtype.is_floating_point), xs[:k], xs[k:])[1]
    return run


@pytest.mark.parametrize("op", FORWARD, ids=[op.name for op in FORWARD])
def test_vmap_jvp_matches_torch_func(op):
    """``vmap(jvp(f))`` of every entry with a forward rule: tangents through batched ops."""
    arrays = _batch(op, _sample(op))
    arrays = arrays + [np.cos(a) for a in arrays]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            t_out = tf.vmap(_jvp_runner(torch, tf, op), randomness="same")(
                *[torch.from_numpy(a.copy()) for a in arrays])
        except Exception:
            pytest.skip("torch.func rejects vmap(jvp) of this op")
        e_out = ef.vmap(_jvp_runner(ember, ef, op), randomness="same")(
            *[ember.from_numpy(a.copy()) for a in arrays])
    for e, t in zip(e_out, t_out, strict=True):
        # (torch gives some zero tangents as ZeroTensors, which only a copy turns to arrays)
        np.testing.assert_allclose(e.numpy(), t.clone().numpy(), atol=1e-5, rtol=1e-4,
                                   equal_nan=True, err_msg=op.name)
