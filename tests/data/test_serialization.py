"""ember.save / ember.load and ember.utils.safetensors: round trips, interop with PyTorch
through the safetensors package, validation of damaged files, and atomic writes."""

from __future__ import annotations

import io
import json
import os
import pickle
import struct
import zipfile
from collections import OrderedDict

import numpy as np
import pytest
import safetensors.torch as st
import torch

import ember
from ember import _serialization
from ember.utils import safetensors as est
from ember.utils.safetensors import CheckpointError

DTYPES = ["float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool",
          "complex64"]


def sample(dtype: str, shape=(2, 3), seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if dtype == "bool":
        out = rng.random(shape) < 0.5
    elif dtype.startswith("complex"):
        out = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    elif dtype.startswith("float"):
        out = rng.standard_normal(shape)
    else:
        out = rng.integers(0, 100, shape)
    return np.asarray(out).astype(dtype)


def assert_tensor(ours, ref: np.ndarray):
    assert isinstance(ours, ember.Tensor)
    assert ours.numpy().dtype == ref.dtype and ours.shape == ref.shape
    np.testing.assert_array_equal(ours.numpy(), ref)


def roundtrip(obj, **kw):
    buf = io.BytesIO()
    ember.save(obj, buf)
    buf.seek(0)
    return ember.load(buf, **kw)


# -- round trips ---------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES + ["complex128"])
@pytest.mark.parametrize("shape", [(), (0,), (3, 0, 2), (4,), (2, 3, 5)])
def test_tensor_roundtrip(dtype, shape):
    a = sample(dtype, shape)
    out = roundtrip(ember.tensor(a))
    assert_tensor(out, a)
    out.add_(1) if dtype not in ("bool",) else None     # loaded tensors are writable


def test_noncontiguous_tensor_roundtrip():
    a = sample("float32", (3, 4))
    t = ember.tensor(a).t()
    assert not t.is_contiguous()
    assert_tensor(roundtrip(t), a.T)


def test_nested_structure_roundtrip():
    w = ember.tensor(sample("float32", (2, 2)))
    obj = {
        "none": None, "true": True, "false": False, "int": 3, "big": 2**70, "neg": -5,
        "float": 0.1, "inf": float("inf"), "ninf": float("-inf"), "str": "héllo",
        "empty": [], "etuple": (), "edict": {}, "list": [1, [2, (3, "4")]],
        "tuple": (w, 1.5, None), "od": OrderedDict([("b", 1), ("a", 2)]),
        7: "int key", (1, 2): "tuple key", None: "none key", 2.5: "float key",
        "complex": 1 - 2j, "bytes": b"\x00\xff", "dtype": ember.float64, "size": ember.Size(
            [2, 3]), "device": ember.device("cpu"), "np_scalar": np.float32(1.5),
    }
    out = roundtrip(obj)
    assert list(out) == list(obj)
    assert type(out["od"]) is OrderedDict and list(out["od"]) == ["b", "a"]
    assert type(out["tuple"]) is tuple and type(out["list"][1][1]) is tuple
    for k in obj:
        if k in ("tuple", "np_scalar"):
            continue
        assert type(out[k]) is type(obj[k]) and out[k] == obj[k], k
    assert out["np_scalar"] == 1.5 and type(out["np_scalar"]) is float
    assert_tensor(out["tuple"][0], w.numpy())
    nan = roundtrip([float("nan")])[0]
    assert nan != nan


def test_shared_tensors_are_stored_once_and_stay_shared():
    w = ember.tensor(sample("float32", (64, 64)))
    alias = w.detach()                         # a second tensor on the same storage
    obj = {"a": w, "b": [w, alias], "c": {"again": w}}
    buf = io.BytesIO()
    ember.save(obj, buf)
    single = io.BytesIO()
    ember.save(w, single)
    assert len(buf.getvalue()) < len(single.getvalue()) + 1024     # one copy of the data
    buf.seek(0)
    out = ember.load(buf)
    assert out["a"] is out["b"][0] is out["c"]["again"]
    assert out["b"][1] is not out["a"]
    out["a"].add_(1)                           # storage sharing survives: the alias sees it
    np.testing.assert_array_equal(out["b"][1].numpy(), w.numpy() + 1)


def test_requires_grad_and_parameters_roundtrip():
    p = ember.nn.Parameter(ember.tensor(sample("float32", (3,))))
    q = ember.tensor([1.0, 2.0], requires_grad=True)
    frozen = ember.nn.Parameter(ember.ones(2), requires_grad=False)
    out = roundtrip({"p": p, "q": q, "frozen": frozen, "plain": ember.ones(1)})
    assert type(out["p"]) is ember.nn.Parameter and out["p"].requires_grad
    assert type(out["q"]) is ember.Tensor and out["q"].requires_grad and out["q"].is_leaf
    assert type(out["frozen"]) is ember.nn.Parameter and not out["frozen"].requires_grad
    assert not out["plain"].requires_grad


def test_path_and_pathlike_targets(tmp_path):
    obj = {"x": ember.arange(5), "y": [1, 2]}
    for target in (str(tmp_path / "a.pt"), tmp_path / "b.pt"):
        ember.save(obj, target)
        out = ember.load(target)
        assert_tensor(out["x"], np.arange(5)) and None
        assert out["y"] == [1, 2]
    with open(tmp_path / "c.pt", "wb") as f:
        ember.save(obj, f)
    with open(tmp_path / "c.pt", "rb") as f:
        assert ember.load(f)["y"] == [1, 2]
    assert sorted(os.listdir(tmp_path)) == ["a.pt", "b.pt", "c.pt"]   # no temporary files


def test_new_file_permissions_follow_umask(tmp_path):
    ember.save([1], tmp_path / "f.pt")
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(tmp_path / "f.pt").st_mode & 0o777 == 0o666 & ~umask
    os.chmod(tmp_path / "f.pt", 0o600)
    ember.save([2], tmp_path / "f.pt")               # an overwrite keeps the file's mode
    assert os.stat(tmp_path / "f.pt").st_mode & 0o777 == 0o600


def test_module_and_optimizer_state_dicts_roundtrip():
    model = ember.nn.Sequential(ember.nn.Linear(3, 4), ember.nn.ReLU(), ember.nn.Linear(4, 2))
    opt = ember.optim.Adam(model.parameters(), lr=0.01)
    model(ember.randn(5, 3)).sum().backward()
    opt.step()
    state = {"model": model.state_dict(), "optim": opt.state_dict(), "epoch": 3}
    out = roundtrip(state)
    assert list(out["model"]) == list(state["model"])
    assert type(out["model"]) is type(state["model"])
    for k, v in state["model"].items():
        assert_tensor(out["model"][k], v.numpy())
    assert out["optim"]["param_groups"] == state["optim"]["param_groups"]
    assert set(out["optim"]["state"]) == set(state["optim"]["state"])   # int keys kept
    for i, s in state["optim"]["state"].items():
        for k, v in s.items():
            if isinstance(v, ember.Tensor):
                assert_tensor(out["optim"]["state"][i][k], v.numpy())
            else:
                assert out["optim"]["state"][i][k] == v
    clone = ember.nn.Sequential(ember.nn.Linear(3, 4), ember.nn.ReLU(), ember.nn.Linear(4, 2))
    clone.load_state_dict(out["model"])
    x = ember.randn(2, 3)
    np.testing.assert_array_equal(clone(x).detach().numpy(), model(x).detach().numpy())


def test_unsupported_objects_are_refused_before_writing(tmp_path):
    target = tmp_path / "keep.pt"
    ember.save({"ok": 1}, target)
    for obj, where in [({"a": [1, object()]}, "obj['a']['1']"), ({1, 2}, "top level"),
                       (np.array(["text"]), "top level"), ({"f": lambda: 0}, "obj['f']")]:
        with pytest.raises(TypeError, match="cannot store an object of type") as e:
            ember.save(obj, target)
        assert where in str(e.value)
    cyclic = []
    cyclic.append(cyclic)
    with pytest.raises(ValueError, match="contains itself"):
        ember.save(cyclic, target)
    assert ember.load(target) == {"ok": 1}
    with pytest.raises(ValueError, match="pickle_module"):
        ember.save([1], io.BytesIO(), pickle_module=pickle)
    with pytest.raises(TypeError, match="path .* or a binary file object"):
        ember.save([1], 3)


def test_map_location():
    t = ember.ones(2)
    for loc in (None, "cpu", ember.device("cpu"), {"cpu": "cpu"}):
        assert_tensor(roundtrip(t, map_location=loc), np.ones(2, np.float32))
    seen = []
    out = roundtrip([t], map_location=lambda s, where: seen.append(where) or s * 2)
    assert seen == ["cpu"]
    assert_tensor(out[0], np.full(2, 2, np.float32))
    with pytest.raises(RuntimeError, match="CUDA device"):
        roundtrip(t, map_location="cuda")


# -- the file layout and interop with PyTorch ----------------------------------------------------

def header_of(data: bytes) -> dict:
    (n,) = struct.unpack_from("<Q", data)
    assert n % 8 == 0
    return json.loads(data[8:8 + n])


def test_save_writes_a_valid_safetensors_file_torch_can_read(tmp_path):
    sd = OrderedDict((f"layer.{d}", ember.tensor(sample(d, (3, 2), i)))
                     for i, d in enumerate(DTYPES))
    ember.save(sd, tmp_path / "sd.safetensors")
    theirs = st.load_file(tmp_path / "sd.safetensors")           # names are the state-dict's
    assert set(theirs) == set(sd)
    for k, v in sd.items():
        np.testing.assert_array_equal(theirs[k].numpy(), v.numpy())
        assert theirs[k].numpy().dtype == v.numpy().dtype
    header = header_of((tmp_path / "sd.safetensors").read_bytes())
    assert "ember.object" in header["__metadata__"]
    assert all(isinstance(v, str) for v in header["__metadata__"].values())


@pytest.mark.parametrize("dtype", DTYPES)
def test_safetensors_files_interoperate_with_torch(tmp_path, dtype):
    a, b = sample(dtype, (4, 3)), sample(dtype, ())
    est.save_file({"w": ember.tensor(a), "s": ember.tensor(b), "e": ember.zeros(0, 2)},
                  tmp_path / "e.safetensors", metadata={"format": "pt"})
    theirs = st.load_file(tmp_path / "e.safetensors")
    np.testing.assert_array_equal(theirs["w"].numpy(), a)
    np.testing.assert_array_equal(theirs["s"].numpy(), b)
    assert tuple(theirs["e"].shape) == (0, 2)
    # Same bytes as the safetensors package writes for the same tensors.
    ref = st.save({"w": torch.from_numpy(a), "s": torch.from_numpy(np.asarray(b)),
                   "e": torch.zeros(0, 2)}, metadata={"format": "pt"})
    assert est.save({"w": ember.tensor(a), "s": ember.tensor(b), "e": ember.zeros(0, 2)},
                    metadata={"format": "pt"}) == ref
    st.save_file({"w": torch.from_numpy(a)}, tmp_path / "t.safetensors")
    for ours in (est.load_file(tmp_path / "t.safetensors"), ember.load(tmp_path / "t.safetensors"),
                 est.load((tmp_path / "t.safetensors").read_bytes())):
        assert list(ours) == ["w"]
        assert_tensor(ours["w"], a)


def test_torch_bfloat16_loads_as_float32():
    t = torch.tensor([1.5, -2.25, 3.0e38, 1e-40], dtype=torch.bfloat16)
    out = est.load(st.save({"b": t}))["b"]
    assert_tensor(out, t.float().numpy())


def test_model_state_dict_moves_between_ember_and_torch(tmp_path):
    ours = ember.nn.Sequential(ember.nn.Linear(3, 4), ember.nn.Tanh(), ember.nn.Linear(4, 2))
    theirs = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    est.save_file(ours.state_dict(), tmp_path / "m.safetensors")
    theirs.load_state_dict(st.load_file(tmp_path / "m.safetensors"))
    x = sample("float32", (5, 3))
    np.testing.assert_allclose(theirs(torch.from_numpy(x)).detach().numpy(),
                               ours(ember.tensor(x)).detach().numpy(), rtol=1e-6, atol=1e-6)
    with torch.no_grad():
        for p in theirs.parameters():
            p.mul_(-0.5)
    st.save_file(theirs.state_dict(), tmp_path / "t.safetensors")
    ours.load_state_dict(est.load_file(tmp_path / "t.safetensors"))
    np.testing.assert_allclose(theirs(torch.from_numpy(x)).detach().numpy(),
                               ours(ember.tensor(x)).detach().numpy(), rtol=1e-6, atol=1e-6)


def test_safetensors_api_errors():
    with pytest.raises(TypeError, match="complex128"):
        est.save({"c": ember.tensor(sample("complex128"))})
    with pytest.raises(TypeError, match="names must be str"):
        est.save({1: ember.ones(1)})
    with pytest.raises(TypeError, match="not a Tensor"):
        est.save({"a": np.ones(1)})
    with pytest.raises(TypeError, match="metadata"):
        est.save({"a": ember.ones(1)}, metadata={"k": 1})
    with pytest.raises(ValueError, match="reserved"):
        est.save({"__metadata__": ember.ones(1)})
    with pytest.raises(TypeError, match="expected bytes"):
        est.load("not bytes")


# -- damaged, foreign and hostile files ----------------------------------------------------------

def good_file() -> bytes:
    return est.save({"a": ember.arange(6, dtype=ember.float32), "b": ember.ones(2, 2)})


def with_header(header: dict, data: bytes = b"\0" * 40) -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


@pytest.mark.parametrize("data,message", [
    (b"", "too short"),
    (b"\x01\x02", "too short"),
    (struct.pack("<Q", 10**12), "exceeds"),
    (struct.pack("<Q", 50) + b"{}", "truncated"),
    (struct.pack("<Q", 4) + b"\xff\xfe{}", "UTF-8 JSON"),
    (struct.pack("<Q", 4) + b"[1] ", "not a JSON object"),
    (struct.pack("<Q", 9) + b'{"a":1,"a', "UTF-8 JSON"),
    (with_header({"a": 1}), "expected an object"),
    (with_header({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                  "a2": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 8),
     "overlap"),
    (with_header({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 12),
     "trailing"),
    (with_header({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 4),
     "outside"),
    (with_header({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, b"\0" * 8),
     "needs 12 bytes"),
    (with_header({"a": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}}), "shape"),
    (with_header({"a": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}}),
     "data_offsets"),
    (with_header({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8.0]}}),
     "data_offsets"),
    (with_header({"a": {"dtype": "X9", "shape": [2], "data_offsets": [0, 8]}}), "'X9'"),
    (with_header({"a": {"dtype": "F8_E5M2", "shape": [2], "data_offsets": [0, 8]}}),
     "not supported"),
    (with_header({"__metadata__": {"k": 1}}, b""), "__metadata__"),
    (struct.pack("<Q", 16) + b'{"a":1, "a":2}  ', "duplicate key"),
])
def test_damaged_files_raise_clear_errors(tmp_path, data, message):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(data)
    for load in (ember.load, est.load_file):
        with pytest.raises(CheckpointError, match=message) as e:
            load(path)
        assert str(path) in str(e.value)
    with pytest.raises(CheckpointError, match=message):
        est.load(data)
    assert issubclass(CheckpointError, RuntimeError) and issubclass(CheckpointError, ValueError)


@pytest.mark.parametrize("cut", [0, 5, 8, 20, -1, -9])
def test_truncated_checkpoint(tmp_path, cut):
    data = io.BytesIO()
    ember.save({"w": ember.ones(3, 3), "step": 4}, data)
    path = tmp_path / "cut.pt"
    path.write_bytes(data.getvalue()[:cut])
    with pytest.raises(CheckpointError, match="cut.pt"):
        ember.load(path)


def test_corrupt_structure_raises_before_building(tmp_path):
    def crafted(structure):
        meta = {"ember.format": "1", "ember.object": structure}
        return est.save({"a": ember.ones(2)}, metadata=meta)

    for structure, message in [
        ("{not json", "not valid JSON"),
        (json.dumps({"$": "tensor", "id": 0, "key": "missing"}), "does not hold"),
        (json.dumps({"$": "nope"}), "unknown tag"),
        (json.dumps({"$": "dict", "items": [[1]]}), "pairs"),
        (json.dumps({"$": "dict", "items": [[[1], 2]]}), "list"),
        (json.dumps({"$": "tuple"}), "bad 'tuple' entry"),
        (json.dumps({"$": "dtype", "name": "float128"}), "bad 'dtype' entry"),
        (json.dumps({"$": "float", "v": "1.5"}), "inf or nan"),
        (json.dumps({"$": "tensor", "id": [], "key": "a"}), "bad 'tensor' entry"),
        ("[" * 300 + "]" * 300, "too deep"),
        ("[" * 100000 + "]" * 100000, "nested too deeply"),
    ]:
        with pytest.raises(CheckpointError, match=message):
            ember.load(io.BytesIO(crafted(structure)))
    newer = est.save({}, metadata={"ember.format": "2", "ember.object": "1"})
    with pytest.raises(CheckpointError, match="newer ember"):
        ember.load(io.BytesIO(newer))


class _Boom:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_pickle_payloads_are_rejected_not_executed(tmp_path, monkeypatch):
    payload = pickle.dumps(_Boom(), protocol=2)
    calls = []
    monkeypatch.setattr(os, "system", lambda cmd: calls.append(cmd))
    (tmp_path / "evil.pt").write_bytes(payload)
    with pytest.raises(CheckpointError, match="global 'posix.system', which is not an allowed"):
        ember.load(tmp_path / "evil.pt")
    torch.save({"w": torch.ones(2)}, tmp_path / "torch.pt")          # a real torch checkpoint
    assert zipfile.is_zipfile(tmp_path / "torch.pt")
    assert ember.load(tmp_path / "torch.pt")["w"].tolist() == [1.0, 1.0]    # read, safely
    # A pickle smuggled into the metadata is only ever a string to ember.
    smuggled = est.save({"a": ember.ones(1)}, metadata={
        "ember.format": "1", "ember.object": payload.decode("latin-1")})
    with pytest.raises(CheckpointError):
        ember.load(io.BytesIO(smuggled))
    np.save(tmp_path / "arr.npy", np.ones(2))
    with pytest.raises(CheckpointError, match="NumPy"):
        ember.load(tmp_path / "arr.npy")
    assert calls == []
    with pytest.raises(ValueError, match="pickle_module"):
        ember.load(tmp_path / "evil.pt", pickle_module=pickle)


def test_wrong_argument_types():
    with pytest.raises(TypeError, match="path .* or a binary file object"):
        ember.load(42)
    with pytest.raises(TypeError, match="binary file object"):
        ember.load(io.StringIO("text"))
    with pytest.raises(FileNotFoundError):
        ember.load("/nonexistent/ember.pt")
    with pytest.raises(RuntimeError, match="Parent directory"):
        ember.save([1], "/nonexistent/dir/ember.pt")


# -- atomic writes -------------------------------------------------------------------------------

def test_failed_write_leaves_previous_checkpoint_intact(tmp_path, monkeypatch):
    target = tmp_path / "ckpt.pt"
    ember.save({"epoch": 1, "w": ember.ones(1000)}, target)
    before = target.read_bytes()
    real_write = _serialization._format._write

    def dies_midway(fh, header, arrays):
        fh.write(header)
        fh.write(b"\0" * 100)
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(_serialization._format, "_write", dies_midway)
    with pytest.raises(OSError, match="simulated"):
        ember.save({"epoch": 2, "w": ember.zeros(1000)}, target)
    assert target.read_bytes() == before
    assert os.listdir(tmp_path) == ["ckpt.pt"]          # the temporary file is removed

    def interrupted(fh, header, arrays):
        real_write(fh, header, arrays)
        raise KeyboardInterrupt

    monkeypatch.setattr(_serialization._format, "_write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        ember.save({"epoch": 3}, target)
    assert ember.load(target)["epoch"] == 1
    monkeypatch.setattr(_serialization._format, "_write", real_write)

    calls = []
    real_replace = os.replace
    monkeypatch.setattr(os, "replace", lambda a, b: calls.append(os.path.getsize(a)) or
                        real_replace(a, b))
    real_fsync = os.fsync
    synced = []
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    ember.save({"epoch": 4}, target)
    assert len(calls) == 1 and len(synced) >= 1 and ember.load(target)["epoch"] == 4
