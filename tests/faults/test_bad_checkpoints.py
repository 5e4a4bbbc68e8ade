"""Issue 16 items 3, 4 and 9: a corpus of malformed checkpoint files, every one rejected with
``CheckpointError`` naming the file, in bounded time and memory (lengths and offsets are
checked against the file size before anything large is read); tied weights readable under
every key by PyTorch's safetensors reader."""

import io
import json
import os
import random
import struct
import time
import tracemalloc
import zipfile

import numpy as np
import pytest
import torch
from safetensors.torch import load_file as torch_load_file

import ember
from ember.utils import safetensors as est
from ember.utils.safetensors import CheckpointError

_MB = 1 << 20


def _image(header: dict, data: bytes = b"") -> bytes:
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + data


def _ember_image(structure, arrays: dict | None = None) -> bytes:
    """An ember checkpoint whose object structure is ``structure`` (any JSON text)."""
    arrays = arrays or {}
    header, data, off = {}, b"", 0
    for k, a in arrays.items():
        b = np.ascontiguousarray(a).tobytes()
        code = {"float32": "F32", "int64": "I64", "float64": "F64"}[a.dtype.name]
        header[k] = {"dtype": code, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        data, off = data + b, off + len(b)
    text = structure if isinstance(structure, str) else json.dumps(structure)
    header["__metadata__"] = {"ember.format": "1", "ember.object": text}
    return _image(header, data)


def _rejected(path, loaders=(ember.load,), max_s: float = 2.0, max_mb: float = 64) -> str:
    """Load ``path`` with each loader: CheckpointError naming it, fast, in little memory."""
    msgs = []
    for load in loaders:
        tracemalloc.start()
        start = time.monotonic()
        try:
            with pytest.raises(CheckpointError) as e:
                load(path)
        finally:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        assert time.monotonic() - start < max_s
        assert peak < max_mb * _MB, f"{peak / _MB:.0f} MB to reject {path}"
        assert str(path) in str(e.value)
        msgs.append(str(e.value))
    return msgs[0]


# -- item 3: huge files are judged by their header ----------------------------------------------

@pytest.mark.parametrize("size_gb", [1, 10])
def test_huge_garbage_file_is_rejected_without_reading_it(tmp_path, size_gb, deadline):
    deadline(20)
    path = tmp_path / "garbage.safetensors"
    with open(path, "wb") as fh:            # sparse: takes no disk space
        fh.write(b"\x17garbage" * 8)
        fh.truncate(size_gb << 30)
    msg = _rejected(path, (ember.load, est.load_file))
    assert "header length" in msg


@pytest.mark.parametrize("claim", [1 << 30, 10 << 30, 1 << 62])
def test_header_claiming_more_data_than_the_file_holds(tmp_path, claim, deadline):
    deadline(20)
    n = claim // 4
    path = tmp_path / "liar.safetensors"
    path.write_bytes(_image({"w": {"dtype": "F32", "shape": [n], "data_offsets": [0, 4 * n]}},
                            b"\0" * 64))
    msg = _rejected(path, (ember.load, est.load_file))
    assert "outside" in msg or "too large" in msg


def test_header_length_beyond_the_file(tmp_path):
    path = tmp_path / "short.safetensors"
    path.write_bytes(struct.pack("<Q", 90_000_000) + b"{}")
    assert "truncated" in _rejected(path, (ember.load, est.load_file), max_mb=4)


def test_unseekable_stream_is_read_in_bounded_pieces(deadline):
    deadline(20)

    class Stream(io.RawIOBase):
        """A socket-like stream: a header claiming 10 GB, then 1 MB of data."""

        def __init__(self):
            self.data = io.BytesIO(_image(
                {"w": {"dtype": "U8", "shape": [10 << 30], "data_offsets": [0, 10 << 30]}},
                b"\0" * _MB))

        def readable(self):
            return True

        def seekable(self):
            return False

        def readinto(self, b):
            chunk = self.data.read(len(b))
            b[:len(chunk)] = chunk
            return len(chunk)

    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError, match="truncated"):
            ember.load(Stream())
        assert tracemalloc.get_traced_memory()[1] < 64 * _MB
    finally:
        tracemalloc.stop()


# -- item 9: malformed structures all raise the checkpoint error -------------------------------

_F = np.arange(4, dtype="float32")
_I = np.arange(4, dtype="int64")
STRUCTURES = {
    "deep_json": "[" * 100_000 + "]" * 100_000,
    "deep_objects": '{"$":"tuple","items":[' * 5000 + "]}" * 5000,
    "deep_lists": "[" * 300 + "]" * 300,
    "device_garbage": {"$": "device", "name": "bogus:xx"},
    "device_number": {"$": "device", "name": 5},
    "device_index": {"$": "device", "name": "cpu:-7"},
    "int_param_grad": {"$": "tensor", "id": 0, "key": "i", "param": True, "grad": True},
    "int_grad": {"$": "tensor", "id": 0, "key": "i", "grad": True},
    "dict_meta": {"$": "dict", "items": [], "meta": {"$": "dict", "items": []}},
    "unknown_tag": {"$": "pickle", "v": "cos\nsystem"},
    "no_tag": {"a": 1},
    "bad_base64": {"$": "bytes", "b64": "***"},
    "bad_dtype": {"$": "dtype", "name": "float128"},
    "negative_size": {"$": "size", "items": [-1]},
    "size_of_str": {"$": "size", "items": "ab"},
    "complex_not_pair": {"$": "tensor", "id": 0, "key": "f", "complex": True},
    "tensor_undefined": {"$": "tensor", "id": 3},
    "tensor_missing_key": {"$": "tensor", "id": 0, "key": "nope"},
    "tensor_id_str": {"$": "tensor", "id": "0", "key": "f"},
    "share_missing": {"$": "tensor", "id": 0, "key": "f", "share": "nope"},
    "ndarray_missing": {"$": "ndarray", "key": "nope"},
    "dict_list_key": {"$": "dict", "items": [[[1], 2]]},
    "dict_bad_pairs": {"$": "dict", "items": [[1, 2, 3]]},
    "dict_items_not_list": {"$": "odict", "items": 5},
    "float_finite": {"$": "float", "v": "1.5"},
    "float_garbage": {"$": "float", "v": "abc"},
    "complex_garbage": {"$": "complex", "v": 5},
    "not_json": "{not json",
}


@pytest.mark.parametrize("name", STRUCTURES)
def test_malformed_structure(tmp_path, name):
    path = tmp_path / f"{name}.pt"
    path.write_bytes(_ember_image(STRUCTURES[name], {"f": _F, "i": _I}))
    _rejected(path)


HEADERS = {
    "absurd_shape": {"w": {"dtype": "F32", "shape": [1 << 40, 1 << 40, 0],
                           "data_offsets": [0, 0]}},
    "too_many_dims": {"w": {"dtype": "F32", "shape": [1] * 100, "data_offsets": [0, 4]}},
    "overflowing_shape": {"w": {"dtype": "F64", "shape": [1 << 62], "data_offsets": [0, 8]}},
    "bool_shape": {"w": {"dtype": "F32", "shape": [True], "data_offsets": [0, 4]}},
    "str_dtype": {"w": {"dtype": 5, "shape": [1], "data_offsets": [0, 4]}},
    "offsets_str": {"w": {"dtype": "F32", "shape": [1], "data_offsets": "0-4"}},
    "metadata_list": {"__metadata__": [1]},
    "entry_list": {"w": [1, 2]},
    "deep_header": None,
}


@pytest.mark.parametrize("name", HEADERS)
def test_malformed_header(tmp_path, name):
    path = tmp_path / f"{name}.safetensors"
    if name == "deep_header":
        raw = b"[" * 100_000 + b"]" * 100_000
        path.write_bytes(struct.pack("<Q", len(raw)) + raw)
    else:
        path.write_bytes(_image(HEADERS[name], b"\0" * 8))
    _rejected(path, (ember.load, est.load_file))


def test_truncations_and_byte_flips_of_a_valid_checkpoint(tmp_path, deadline):
    deadline(30)
    good = io.BytesIO()
    ember.save({"w": ember.arange(64.0).reshape(8, 8), "n": [1, "two", None],
                "p": ember.nn.Parameter(ember.ones(3))}, good)
    data = good.getvalue()
    path = tmp_path / "cut.pt"
    for cut in sorted({0, 1, 7, 8, 9, 40, len(data) // 2, len(data) - 1}):
        path.write_bytes(data[:cut])
        _rejected(path)
    rng = random.Random(0)
    for _ in range(150):                    # a flipped byte: loads, or the checkpoint error
        bad = bytearray(data)
        for _ in range(rng.randint(1, 3)):
            bad[rng.randrange(len(bad))] = rng.randrange(256)
        path.write_bytes(bad)
        try:
            ember.load(path)
        except CheckpointError as e:
            assert str(path) in str(e)


# -- PyTorch files that are damaged or hostile --------------------------------------------------

def _torch_file(tmp_path, obj=None, **kw) -> bytes:
    path = tmp_path / "src.pt"
    torch.save({"w": torch.arange(6.0)} if obj is None else obj, path, **kw)
    return path.read_bytes()


def _rezip(data: bytes, edit) -> bytes:
    """The archive with each member passed through ``edit(name, bytes) -> bytes | None``."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            new = edit(info.filename, src.read(info))
            if new is not None:
                dst.writestr(info.filename, new)
    return out.getvalue()


def test_damaged_torch_files(tmp_path, deadline):
    deadline(30)
    zipped = _torch_file(tmp_path)
    legacy = _torch_file(tmp_path, _use_new_zipfile_serialization=False)
    pkl = next(n for n in zipfile.ZipFile(io.BytesIO(zipped)).namelist()
               if n.endswith("data.pkl"))
    cases = {
        "zip_cut": zipped[:len(zipped) // 2],
        "zip_no_pickle": _rezip(zipped, lambda n, b: None if n.endswith("data.pkl") else b),
        "zip_no_storage": _rezip(zipped, lambda n, b: None if "/data/" in n else b),
        "zip_short_storage": _rezip(zipped, lambda n, b: b[:8] if "/data/" in n else b),
        "zip_garbage_pickle": _rezip(zipped, lambda n, b: b"\x80\x02garbage"
                                     if n == pkl else b),
        "zip_stride_escapes": _rezip(zipped, lambda n, b: b.replace(b"K\x06\x85", b"K\x07\x85")
                                     if n == pkl else b),
        "legacy_cut": legacy[:len(legacy) - 10],
        "legacy_cut_pickle": legacy[:60],
        "legacy_bad_magic": b"\x80\x02K\x05." + legacy[30:],
        "plain_pickle": b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00K\x01.",
    }
    for name, data in cases.items():
        path = tmp_path / f"{name}.pt"
        path.write_bytes(data)
        _rejected(path)


# -- item 4: tied weights ----------------------------------------------------------------------

class Tied(ember.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = ember.nn.Embedding(5, 3)
        self.head = ember.nn.Linear(3, 5, bias=False)
        self.head.weight = self.embed.weight


def test_tied_weights_are_readable_under_every_key(tmp_path):
    model = Tied()
    sd = model.state_dict()
    assert sd["embed.weight"] is sd["head.weight"] or \
        sd["embed.weight"]._data is sd["head.weight"]._data
    path = tmp_path / "tied.safetensors"
    ember.save(sd, path)
    theirs = torch_load_file(path)
    assert sorted(theirs) == ["embed.weight", "head.weight"]
    for k in theirs:
        np.testing.assert_array_equal(theirs[k].numpy(), sd[k].detach().numpy())
    back = ember.load(path)
    assert list(back) == list(sd)
    back["embed.weight"].add_(1)             # still one storage after loading
    np.testing.assert_array_equal(back["head.weight"].numpy(), back["embed.weight"].numpy())
    clone = Tied()
    clone.load_state_dict(back)
    np.testing.assert_array_equal(clone.head.weight.detach().numpy(),
                                  model.embed.weight.detach().numpy() + 1)
    aliased = {"a": ember.ones(2), "b": None}
    aliased["b"] = aliased["a"].detach()      # another tensor on the same array
    ember.save(aliased, path)
    assert sorted(torch_load_file(path)) == ["a", "b"]
    out = ember.load(path)
    assert out["a"] is not out["b"]
    out["a"].add_(1)
    assert out["b"].tolist() == [2.0, 2.0]
    assert os.path.getsize(path) < 1024
