"""Variable-length sequence batches: ``PackedSequence`` and the (un)packing and padding
helpers the recurrent layers consume. Packing is a differentiable gather, padding its
adjoint scatter, so gradients flow through both."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Iterable

from ..._backend import xp
from ..._tensor import Tensor, _make
from .._functional.embedding import ScatterAdd

__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence",
           "pad_packed_sequence", "pad_sequence", "unpad_sequence", "pack_sequence",
           "unpack_sequence"]


def invert_permutation(permutation: Tensor | None) -> Tensor | None:
    """The inverse permutation (``None`` stays ``None``)."""
    if permutation is None:
        return None
    inv = xp.empty_like(permutation._data)
    inv[permutation._data] = xp.arange(permutation.numel(), dtype=inv.dtype)
    return _make(inv)


class PackedSequence(namedtuple("PackedSequence_",
                                ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    """A batch of sequences packed time-major: ``data`` holds the batch_sizes[0] first steps,
    then batch_sizes[1] second steps, ...; ``sorted_indices`` orders the batch by length."""

    def __new__(cls, data: Tensor, batch_sizes: Tensor | None = None,
                sorted_indices: Tensor | None = None, unsorted_indices: Tensor | None = None):
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is None:  # PackedSequence((data, batch_sizes))
            data, batch_sizes = data
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def _map(self, fn) -> PackedSequence:
        return type(self)(fn(self.data), self.batch_sizes, self.sorted_indices,
                          self.unsorted_indices)

    def to(self, *args, **kwargs) -> PackedSequence:
        data = self.data.to(*args, **kwargs)
        return self if data is self.data else self._map(lambda _: data)

    def cpu(self) -> PackedSequence:
        return self

    def cuda(self, *args, **kwargs) -> PackedSequence:
        return self.to("cuda")

    def float(self) -> PackedSequence:
        return self._map(lambda d: d.float())

    def double(self) -> PackedSequence:
        return self._map(lambda d: d.double())

    def half(self) -> PackedSequence:
        return self._map(lambda d: d.half())

    @property
    def is_cuda(self) -> bool:
        return False

    def is_pinned(self) -> bool:
        return False


def _lengths_array(lengths):
    if isinstance(lengths, Tensor):
        return lengths._data.astype(xp.int64)
    return xp.asarray(lengths, dtype=xp.int64).reshape(-1)


def _layout(lengths, total: int):
    """(time, batch) indices of the packed steps, time-major, and the batch sizes."""
    steps = xp.arange(total)[:, None] < lengths[None, :]
    t_idx, b_idx = xp.nonzero(steps)
    return t_idx, b_idx, steps.sum(axis=1)


def pack_padded_sequence(input: Tensor, lengths, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded (T, B, *) batch (or (B, T, *) with ``batch_first``) of the given
    lengths."""
    lens = _lengths_array(lengths)
    sorted_indices = None
    if enforce_sorted:
        if lens.size > 1 and (xp.diff(lens) > 0).any():
            raise RuntimeError("`lengths` array must be sorted in decreasing order when "
                               "`enforce_sorted` is True. You can pass `enforce_sorted=False` "
                               "to pack_padded_sequence and/or pack_sequence to sidestep this "
                               "requirement if you do not need ONNX exportability.")
    else:
        order = xp.argsort(-lens, kind="stable")
        lens = lens[order]
        sorted_indices = _make(order.astype(xp.int64))
        input = input.index_select(0 if batch_first else 1, sorted_indices)
    if lens.size and lens[-1] <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element "
                           "in 'lengths' that is <= 0")
    if batch_first:
        input = input.transpose(0, 1)
    if lens.size and lens[0] > input.shape[0]:
        raise RuntimeError(f"Expected sequence length to be larger than or equal to the "
                           f"maximum length {int(lens[0])}, but got {input.shape[0]}")
    t_idx, b_idx, batch_sizes = _layout(lens, int(lens[0]) if lens.size else 0)
    data = input[_make(t_idx), _make(b_idx)]
    return PackedSequence(data, _make(batch_sizes.astype(xp.int64)), sorted_indices, None)


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False,
                        padding_value: float = 0.0,
                        total_length: int | None = None) -> tuple[Tensor, Tensor]:
    """Inverse of ``pack_padded_sequence``: the padded batch and the lengths (int64)."""
    batch_sizes = sequence.batch_sizes._data
    max_len = batch_sizes.shape[0]
    if total_length is not None:
        if total_length < max_len:
            raise ValueError("Expected total_length to be at least the length of the longest "
                             f"sequence in input, but got total_length={total_length} and max "
                             f"sequence length being {max_len}")
        max_len = total_length
    batch = int(batch_sizes[0]) if batch_sizes.size else 0
    lengths = (xp.arange(batch)[None, :] < batch_sizes[:, None]).sum(axis=0)
    t_idx, b_idx, _ = _layout(lengths, max_len)
    data = sequence.data
    feat = tuple(data.shape[1:])
    out = ScatterAdd.apply(data, t_idx * batch + b_idx, max_len * batch).reshape(
        max_len, batch, *feat)
    if padding_value != 0:
        fill = xp.full((max_len, batch) + feat, padding_value, dtype=data._data.dtype)
        fill[t_idx, b_idx] = 0
        out = out + _make(fill)
    if batch_first:
        out = out.transpose(0, 1)
    lengths_t = _make(lengths.astype(xp.int64))
    if sequence.unsorted_indices is not None:
        out = out.index_select(0 if batch_first else 1, sequence.unsorted_indices)
        lengths_t = _make(lengths[sequence.unsorted_indices._data].astype(xp.int64))
    return out, lengths_t


def pad_sequence(sequences: Tensor | Iterable[Tensor], batch_first: bool = False,
                 padding_value: float = 0.0, padding_side: str = "right") -> Tensor:
    """Stack sequences of shapes (L_i, *) into (max L, B, *) (or (B, max L, *)), padded."""
    if padding_side not in ("left", "right"):
        raise ValueError(f"Expected padding_side to be one of left or right, but got "
                         f"{padding_side}.")
    if isinstance(sequences, Tensor):
        sequences = sequences.unbind(0)
    sequences = list(sequences)
    from ... import cat
    lens = xp.asarray([s.shape[0] for s in sequences], dtype=xp.int64)
    batch, max_len = len(sequences), int(lens.max()) if lens.size else 0
    feat = tuple(sequences[0].shape[1:]) if sequences else ()
    steps = xp.arange(max_len)[None, :] < lens[:, None]  # (B, T): which slots hold data
    if padding_side == "left":
        steps = steps[:, ::-1]
    b_idx, t_idx = xp.nonzero(steps)
    data = cat(sequences) if sequences else _make(xp.zeros((0,) + feat))
    out = ScatterAdd.apply(data, b_idx * max_len + t_idx, batch * max_len).reshape(
        batch, max_len, *feat)
    if padding_value != 0:
        fill = xp.full((batch, max_len) + feat, padding_value, dtype=data._data.dtype)
        fill[b_idx, t_idx] = 0
        out = out + _make(fill)
    return out if batch_first else out.transpose(0, 1)


def unpad_sequence(padded_sequences: Tensor, lengths: Tensor,
                   batch_first: bool = False) -> list[Tensor]:
    """The list of unpadded sequences of a padded batch."""
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    return [seq[:int(n)] for seq, n in zip(padded_sequences, _lengths_array(lengths))]


def pack_sequence(sequences: list[Tensor], enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of variable-length sequences."""
    lengths = _make(xp.asarray([v.size(0) for v in sequences], dtype=xp.int64))
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences: PackedSequence) -> list[Tensor]:
    """The list of sequences in a PackedSequence."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
