"""Issue 13: ``ember.load`` reads files written by real ``torch.save`` (zip and legacy
layouts) through a restricted unpickler, like ``torch.load(weights_only=True)``; malicious
pickles are refused by name and nothing in them runs. Also: ``ember.save`` stores plain
data (NumPy arrays, numbers, strings, None, containers) without pickle."""

import collections
import io
import os
import pickle
import zipfile

import numpy as np
import pytest
import torch

import ember
from ember._serialization._torch_pickle import UnsafeGlobalError
from ember.utils.safetensors import CheckpointError

LAYOUTS = [{}, {"_use_new_zipfile_serialization": False}]
LAYOUT_IDS = ["zip", "legacy"]


def _roundtrip(obj, tmp_path, **kw):
    path = tmp_path / "t.pt"
    torch.save(obj, path, **kw)
    return ember.load(path), torch.load(path, weights_only=True)


def _same(ours, theirs):
    """Same structure, types and values; tensors compared as arrays with dtype names."""
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, ember.Tensor)
        assert ours.shape == tuple(theirs.shape)
        assert ours.requires_grad == theirs.requires_grad
        assert isinstance(ours, ember.nn.Parameter) == isinstance(theirs, torch.nn.Parameter)
        want = theirs.detach()
        if want.dtype == torch.bfloat16:
            want = want.float()             # ember stores bfloat16 as float32
        assert str(ours.dtype).split(".")[1] == str(want.dtype).split(".")[1]
        np.testing.assert_array_equal(ours.detach().numpy(), want.numpy())
    elif isinstance(theirs, dict):
        assert type(ours) is type(theirs) and list(ours) == list(theirs)
        for k in theirs:
            _same(ours[k], theirs[k])
        assert getattr(ours, "_metadata", None) == getattr(theirs, "_metadata", None)
    elif isinstance(theirs, (list, tuple)):
        assert type(ours) is type(theirs) or isinstance(theirs, torch.Size)
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            _same(a, b)
    elif isinstance(theirs, torch.dtype):
        assert ours is getattr(ember, str(theirs).split(".")[1])
    elif isinstance(theirs, torch.device):
        assert str(ours) == str(theirs)
    else:
        assert type(ours) is type(theirs) and ours == theirs


DTYPES = ["float16", "bfloat16", "float32", "float64", "int8", "int16", "int32", "int64",
          "uint8", "bool", "complex64", "complex128"]


@pytest.mark.parametrize("kw", LAYOUTS, ids=LAYOUT_IDS)
def test_every_dtype_and_plain_values(tmp_path, kw):
    g = torch.Generator().manual_seed(0)
    obj = {}
    for name in DTYPES:
        dt = getattr(torch, name)
        x = torch.randn(3, 4, generator=g, dtype=torch.float64) * 50
        obj[name] = (x > 0) if dt == torch.bool else x.to(dt)
    obj.update({"int": 3, "float": 2.5, "str": "text", "none": None, "bytes": b"\x00\xff",
                "tuple": (1, (2.0, "x")), "list": [torch.zeros(0), torch.tensor(7)],
                "size": torch.Size([2, 3]), "dtype": torch.float64, "device": torch.device("cpu"),
                "set": {1, 2}, "complex": 1 + 2j, "scalar": torch.tensor(1.5)})
    ours, theirs = _roundtrip(obj, tmp_path, **kw)
    for k in obj:
        if k != "set":
            _same(ours[k], theirs[k])
    assert ours["set"] == {1, 2}


@pytest.mark.parametrize("kw", LAYOUTS, ids=LAYOUT_IDS)
def test_views_and_shared_storages(tmp_path, kw):
    base = torch.arange(24.0).reshape(4, 6)
    obj = {"base": base, "t": base.t(), "col": base[:, 2], "slice": base[1:3, ::2],
           "flat": base.view(-1)[5:17], "expand": torch.arange(3.0).expand(4, 3)}
    ours, theirs = _roundtrip(obj, tmp_path, **kw)
    for k in obj:
        _same(ours[k], theirs[k])
    ours["base"].add_(100)                  # one storage: every view sees the change
    theirs["base"].add_(100)
    for k in ("t", "col", "slice", "flat"):
        np.testing.assert_array_equal(ours[k].numpy(), theirs[k].numpy())


@pytest.mark.parametrize("kw", LAYOUTS, ids=LAYOUT_IDS)
def test_model_and_optimizer_state_dicts_load(tmp_path, kw):
    torch.manual_seed(0)
    tmodel = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3), torch.nn.BatchNorm2d(3),
                                 torch.nn.Flatten(), torch.nn.Linear(12, 4))
    topt = torch.optim.SGD(tmodel.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(5, 2, 4, 4)
    tmodel(x).sum().backward()
    topt.step()
    tmodel.eval()
    obj = {"model": tmodel.state_dict(), "optim": topt.state_dict(), "epoch": 3}
    ours, theirs = _roundtrip(obj, tmp_path, **kw)
    _same(ours["model"], theirs["model"])
    _same(ours["optim"], theirs["optim"])
    emodel = ember.nn.Sequential(ember.nn.Conv2d(2, 3, 3), ember.nn.BatchNorm2d(3),
                                 ember.nn.Flatten(), ember.nn.Linear(12, 4))
    emodel.load_state_dict(ours["model"])
    emodel.eval()
    eopt = ember.optim.SGD(emodel.parameters(), lr=0.01, momentum=0.9)
    eopt.load_state_dict(ours["optim"])
    with torch.no_grad():
        want = tmodel(x).numpy()
    got = emodel(ember.tensor(x.numpy())).detach().numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert eopt.state_dict()["param_groups"][0]["lr"] == 0.01


def test_parameters_requires_grad_and_map_location(tmp_path):
    obj = {"p": torch.nn.Parameter(torch.ones(2)),
           "frozen": torch.nn.Parameter(torch.ones(2), requires_grad=False),
           "g": torch.ones(3, requires_grad=True)}
    path = tmp_path / "p.pt"
    torch.save(obj, path)
    theirs = torch.load(path, weights_only=True)
    for loc in (None, "cpu", torch.device("cpu"), ember.device("cpu"), {"cpu": "cpu"}):
        ours = ember.load(path, map_location=loc)
        for k in obj:
            _same(ours[k], theirs[k])
    seen = []
    ember.load(path, map_location=lambda t, where: seen.append(where))
    assert seen == ["cpu"] * 3


def test_file_objects_and_custom_archive_names(tmp_path):
    buf = io.BytesIO()
    torch.save({"w": torch.arange(3)}, buf)
    buf.seek(0)
    assert ember.load(buf)["w"].tolist() == [0, 1, 2]
    path = tmp_path / "weird name.pth"
    torch.save([torch.ones(1)], path)
    assert ember.load(str(path))[0].tolist() == [1.0]


def test_cuda_locations_need_map_location(tmp_path):
    buf = io.BytesIO()
    torch.save({"w": torch.arange(3.0)}, buf)
    path = tmp_path / "gpu.pt"
    path.write_bytes(_with_pickle(buf.getvalue(), lambda p: p.replace(
        b"X\x03\x00\x00\x00cpu", b"X\x06\x00\x00\x00cuda:0")))
    with pytest.raises(RuntimeError, match="Attempting to deserialize object on a CUDA"):
        ember.load(path)
    for loc in ("cpu", {"cuda:0": "cpu"}, ember.device("cpu")):
        assert ember.load(path, map_location=loc)["w"].tolist() == [0.0, 1.0, 2.0]


def _with_pickle(archive: bytes, edit) -> bytes:
    """The torch.save archive with its data.pkl passed through ``edit``."""
    src = zipfile.ZipFile(io.BytesIO(archive))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:
        for n in src.namelist():
            raw = src.read(n)
            dst.writestr(n, edit(raw) if n.endswith("data.pkl") else raw)
    return out.getvalue()


# -- malicious pickles -------------------------------------------------------------------------

class _System:
    def __reduce__(self):
        return (os.system, ("touch /tmp/ember_pwned",))


class _Eval:
    def __reduce__(self):
        return (eval, ("__import__('os').system('touch /tmp/ember_pwned')",))


def _as_torch_zip(payload: bytes) -> bytes:
    """A torch.save archive whose data.pkl is ``payload``."""
    buf = io.BytesIO()
    torch.save({"w": torch.ones(1)}, buf)
    return _with_pickle(buf.getvalue(), lambda _: payload)


PAYLOADS = {
    "system": (pickle.dumps(_System(), protocol=2), "posix.system"),
    "eval": (pickle.dumps(_Eval(), protocol=4), "builtins.eval"),
    "nested_in_state_dict": (pickle.dumps(collections.OrderedDict(
        w=1, evil=[_System()]), protocol=2), "posix.system"),
    "inst_opcode": (b"(S'touch /tmp/ember_pwned'\nios\nsystem\n.", "os.system"),
    "import": (b"c__builtin__\n__import__\n(S'os'\ntR.", "__builtin__.__import__"),
    "getattr": (b"cbuiltins\ngetattr\n(cbuiltins\nobject\nS'__subclasses__'\ntR.",
                "builtins.getattr"),
    "torch_load": (b"ctorch\nload\n(S'x'\ntR.", "torch.load"),
    "numpy": (pickle.dumps(np.ones(2), protocol=2), "numpy"),
    "codecs_other": (b"c_codecs\nencode\n(S'x'\nS'rot13'\ntR.", "codecs"),
}


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("name", PAYLOADS)
@pytest.mark.parametrize("wrap", ["zip", "bare"])
def test_malicious_pickles_are_refused_and_nothing_runs(tmp_path, monkeypatch, name, wrap):
    payload, culprit = PAYLOADS[name]
    calls = []
    monkeypatch.setattr(os, "system", lambda cmd: calls.append(cmd))
    path = tmp_path / "evil.pt"
    path.write_bytes(_as_torch_zip(payload) if wrap == "zip" else payload)
    with pytest.raises(CheckpointError) as e:
        ember.load(path)
    assert str(path) in str(e.value)
    # A protocol 0 pickle does not even look like one (nor like a torch file): it is refused
    # as a damaged safetensors file, before any opcode is read.
    if name != "codecs_other" and (wrap == "zip" or payload[:1] == b"\x80"):
        assert isinstance(e.value, UnsafeGlobalError) and culprit in str(e.value)
        assert isinstance(e.value, pickle.UnpicklingError)    # torch.load's type too
        with pytest.raises(pickle.UnpicklingError):
            torch.load(path, weights_only=True)
    assert calls == [] and not os.path.exists("/tmp/ember_pwned")


# -- plain data in ember's own files ------------------------------------------------------------

def test_plain_data_roundtrips_without_pickle(tmp_path):
    arrays = {"f32": np.arange(6, dtype=np.float32).reshape(2, 3),
              "i64": np.arange(4), "u16": np.arange(3, dtype=np.uint16),
              "u64": np.array([2**63 + 1], dtype=np.uint64), "bool": np.array([True, False]),
              "c128": np.array([1 + 2j, 3 - 4j]), "c64": np.ones(2, np.complex64),
              "big_endian": np.arange(3, dtype=">i4"), "empty": np.zeros((0, 3)),
              "scalar": np.array(2.5), "strided": np.arange(10.0)[::3]}
    obj = {"arrays": arrays, "n": 1, "x": 2.5, "s": "text", "none": None,
           "nested": [(1, [None, {"k": np.ones(2)}])], "same": arrays["i64"]}
    path = tmp_path / "data.pt"
    ember.save(obj, path)
    assert b"pickle" not in path.read_bytes()[:8]
    out = ember.load(path)
    for k, a in arrays.items():
        got = out["arrays"][k]
        assert type(got) is np.ndarray and got.dtype == a.dtype.newbyteorder("=")
        np.testing.assert_array_equal(got, a)
        assert got.flags.writeable
    assert out["n"] == 1 and out["x"] == 2.5 and out["s"] == "text" and out["none"] is None
    np.testing.assert_array_equal(out["nested"][0][1][1]["k"], np.ones(2))
    np.testing.assert_array_equal(out["same"], arrays["i64"])
    with pytest.raises(TypeError, match="ndarray"):
        ember.save({"o": np.array([object()])}, tmp_path / "obj.pt")


def test_pickles_cannot_tamper_with_ember_types(tmp_path):
    """BUILD sets attributes on whatever the pickle can reach: ember's classes and dtype
    singletons must be out of its reach."""
    np_before, size_repr = ember.float32.np, ember.Size.__repr__
    attacks = [
        b"\x80\x02ctorch\nfloat32\nN}X\x02\x00\x00\x00npcbuiltins\nset\n\x86b.",
        b"\x80\x02ctorch\nSize\nN}X\x08\x00\x00\x00__repr__cbuiltins\nset\n\x86b.",
        b"\x80\x02ccollections\nOrderedDict\nN}X\x08\x00\x00\x00__repr__cbuiltins\nset\n\x86b.",
        b"\x80\x02c_codecs\nencode\nN}X\x0c\x00\x00\x00__defaults__X\x05\x00\x00\x00rot13"
        b"\x85\x86b.",
    ]
    for i, payload in enumerate(attacks):
        path = tmp_path / f"tamper{i}.pt"
        path.write_bytes(_as_torch_zip(payload))
        try:
            ember.load(path)
        except CheckpointError:
            pass
    assert ember.float32.np is np_before and ember.Size.__repr__ is size_repr
    assert repr(collections.OrderedDict()) == "OrderedDict()"
    assert ember.load(io.BytesIO(_zip_of({"b": b"\xff"})))["b"] == b"\xff"


def _zip_of(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def test_cycles_deep_nesting_and_allocation_bombs(tmp_path):
    cyclic = [1]
    cyclic.append(cyclic)
    out = ember.load(io.BytesIO(_zip_of({"c": cyclic, "t": (torch.ones(1),)})))
    assert out["c"][1] is out["c"] and out["t"][0].tolist() == [1.0]
    deep = b"\x80\x02" + b"]" * 200_000 + b"a" * 199_999 + b"."
    bomb = b"\x80\x02cbuiltins\nbytearray\nJ\x00\x00\x00\x7f\x85R."     # 2 GB of zeros
    for i, payload in enumerate((deep, bomb)):
        path = tmp_path / f"p{i}.pt"
        path.write_bytes(_as_torch_zip(payload))
        with pytest.raises(CheckpointError, match=str(path)):
            ember.load(path)


def test_unseekable_streams(tmp_path):
    class Pipe(io.RawIOBase):
        def __init__(self, data):
            self.data = io.BytesIO(data)

        def readable(self):
            return True

        def seekable(self):
            return False

        def readinto(self, b):
            chunk = self.data.read(min(len(b), 1000))
            b[:len(chunk)] = chunk
            return len(chunk)

    obj = {"w": torch.arange(5.0), "n": 2}
    for kw in LAYOUTS:
        buf = io.BytesIO()
        torch.save(obj, buf, **kw)
        out = ember.load(Pipe(buf.getvalue()))
        assert out["w"].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0] and out["n"] == 2
