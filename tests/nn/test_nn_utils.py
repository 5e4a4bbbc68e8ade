"""nn.utils against torch: gradient clipping, parameter vectors, sequence packing/padding."""

import numpy as np
import pytest
import torch
import torch.nn.utils.rnn as trnn

import ember
import ember.nn.utils.rnn as ernn

from .helpers import backward_both, close, inputs, twin

R = np.random.default_rng(0)


def _with_grads(dtype=torch.float32):
    t, e = twin(lambda nn: nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2)), dtype)
    x = R.standard_normal((5, 3)).astype(np.float32 if dtype == torch.float32 else np.float64)
    yt, ye = t(torch.tensor(x)), e(ember.tensor(x))
    backward_both(yt * 10, ye * 10)
    return t, e


@pytest.mark.parametrize("norm_type", [2.0, 1, float("inf"), 3.0, 0.5])
@pytest.mark.parametrize("max_norm", [0.1, 1e6])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    t, e = _with_grads()
    nt = torch.nn.utils.clip_grad_norm_(t.parameters(), max_norm, norm_type)
    ne = ember.nn.utils.clip_grad_norm_(e.parameters(), max_norm, norm_type)
    assert isinstance(ne, ember.Tensor) and ne.dtype == ember.float32 and ne.ndim == 0
    close(ne, nt, 1e-6)
    for pe, pt in zip(e.parameters(), t.parameters()):
        close(pe.grad, pt.grad, 1e-6)


def test_clip_grad_norm_edge_cases():
    t, e = _with_grads(torch.float64)
    nt = torch.nn.utils.clip_grad_norm_(next(t.parameters()), 0.5)  # a single tensor
    ne = ember.nn.utils.clip_grad_norm_(next(e.parameters()), 0.5)
    close(ne, nt)
    assert ne.dtype == ember.float64
    empty = ember.nn.utils.clip_grad_norm_([ember.nn.Parameter(ember.ones(2))], 1.0)
    close(empty, torch.nn.utils.clip_grad_norm_([torch.nn.Parameter(torch.ones(2))], 1.0))
    p = ember.nn.Parameter(ember.ones(2))
    p.grad = ember.tensor([float("inf"), 1.0])
    tp = torch.nn.Parameter(torch.ones(2))
    tp.grad = torch.tensor([float("inf"), 1.0])
    with pytest.raises(RuntimeError) as te:
        torch.nn.utils.clip_grad_norm_([tp], 1.0, error_if_nonfinite=True)
    with pytest.raises(RuntimeError) as ee:
        ember.nn.utils.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    assert str(ee.value) == str(te.value)
    close(ember.nn.utils.clip_grad_norm_([p], 1.0), torch.nn.utils.clip_grad_norm_([tp], 1.0))
    close(p.grad, tp.grad)


def test_clip_grad_value_matches_torch():
    t, e = _with_grads()
    torch.nn.utils.clip_grad_value_(t.parameters(), 0.3)
    assert ember.nn.utils.clip_grad_value_(e.parameters(), 0.3) is None
    for pe, pt in zip(e.parameters(), t.parameters()):
        close(pe.grad, pt.grad, 0)
        assert np.abs(pe.grad.numpy()).max() <= 0.3


def test_parameters_to_vector_and_back():
    t, e = twin(lambda nn: nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2)))
    vt = torch.nn.utils.parameters_to_vector(t.parameters())
    ve = ember.nn.utils.parameters_to_vector(e.parameters())
    close(ve, vt)
    (ve * ve).sum().backward()
    (vt * vt).sum().backward()
    for pe, pt in zip(e.parameters(), t.parameters()):
        close(pe.grad, pt.grad)  # differentiable, like torch's cat
    new = R.standard_normal(vt.shape[0])
    weight = e[0].weight
    torch.nn.utils.vector_to_parameters(torch.tensor(new), t.parameters())
    ember.nn.utils.vector_to_parameters(ember.tensor(new), e.parameters())
    assert e[0].weight is weight
    for pe, pt in zip(e.parameters(), t.parameters()):
        close(pe, pt)
    with pytest.raises(TypeError) as te:
        torch.nn.utils.vector_to_parameters([1.0], t.parameters())
    with pytest.raises(TypeError) as ee:
        ember.nn.utils.vector_to_parameters([1.0], e.parameters())
    assert str(ee.value) == str(te.value)


LENGTHS = [4, 2, 3, 1]


def _seqs(lengths, feat=(3,)):
    arrays = [R.standard_normal((n,) + feat) for n in lengths]
    return [p for p in inputs(*arrays)]


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_pad_sequence_matches_torch(batch_first, padding_side):
    pairs = _seqs(LENGTHS)
    yt = trnn.pad_sequence([p[0] for p in pairs], batch_first, -1.5, padding_side)
    ye = ernn.pad_sequence([p[1] for p in pairs], batch_first, -1.5, padding_side)
    close(ye, yt)
    backward_both(yt, ye)
    for pt, pe in pairs:
        close(pe.grad, pt.grad)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("enforce_sorted", [True, False])
def test_pack_and_pad_round_trip_matches_torch(batch_first, enforce_sorted):
    lengths = sorted(LENGTHS, reverse=True) if enforce_sorted else LENGTHS
    pairs = _seqs(lengths, (2,))
    padded_t = trnn.pad_sequence([p[0] for p in pairs], batch_first)
    padded_e = ernn.pad_sequence([p[1] for p in pairs], batch_first)
    pt = trnn.pack_padded_sequence(padded_t, torch.tensor(lengths), batch_first, enforce_sorted)
    pe = ernn.pack_padded_sequence(padded_e, ember.tensor(lengths), batch_first, enforce_sorted)
    assert isinstance(pe, ernn.PackedSequence) and isinstance(pe, tuple)
    close(pe.data, pt.data)
    close(pe.batch_sizes, pt.batch_sizes, 0)
    assert pe.batch_sizes.dtype == ember.int64
    for name in ("sorted_indices", "unsorted_indices"):
        close(getattr(pe, name), getattr(pt, name), 0)
    out_t, len_t = trnn.pad_packed_sequence(pt, batch_first, padding_value=9.0, total_length=6)
    out_e, len_e = ernn.pad_packed_sequence(pe, batch_first, padding_value=9.0, total_length=6)
    close(out_e, out_t)
    close(len_e, len_t, 0)
    backward_both(out_t, out_e)
    for (t_, _), (_, e_) in zip(pairs, pairs):
        close(e_.grad, t_.grad)


def test_pack_sequence_unpack_and_unpad():
    pairs = _seqs(LENGTHS)
    pt = trnn.pack_sequence([p[0] for p in pairs], enforce_sorted=False)
    pe = ernn.pack_sequence([p[1] for p in pairs], enforce_sorted=False)
    close(pe.data, pt.data)
    for et, tt in zip(ernn.unpack_sequence(pe), trnn.unpack_sequence(pt)):
        close(et, tt)
    padded = ernn.pad_sequence([p[1] for p in pairs], batch_first=True)
    for et, (_, e_) in zip(ernn.unpad_sequence(padded, ember.tensor(LENGTHS), True), pairs):
        close(et, torch.tensor(e_.detach().numpy()))
    assert pe.to(ember.float32).data.dtype == ember.float32
    assert pe.double().sorted_indices is pe.sorted_indices


def test_packing_errors_match_torch():
    x_t, x_e = torch.zeros(3, 2, 1), ember.zeros(3, 2, 1)
    for lengths in ([1, 3], [3, 0]):
        with pytest.raises(RuntimeError) as te:
            trnn.pack_padded_sequence(x_t, lengths)
        with pytest.raises(RuntimeError) as ee:
            ernn.pack_padded_sequence(x_e, lengths)
        assert str(ee.value) == str(te.value)
    # torch silently packs past the end here; ember refuses
    with pytest.raises(RuntimeError, match="larger than or equal to the maximum length 4"):
        ernn.pack_padded_sequence(x_e, [4, 2])
    packed_t = trnn.pack_padded_sequence(x_t, [3, 2])
    packed_e = ernn.pack_padded_sequence(x_e, [3, 2])
    with pytest.raises(ValueError) as te:
        trnn.pad_packed_sequence(packed_t, total_length=2)
    with pytest.raises(ValueError) as ee:
        ernn.pad_packed_sequence(packed_e, total_length=2)
    assert str(ee.value) == str(te.value)
