"""ember.utils.tensorboard.SummaryWriter against torch's: both write event files, read back
with TensorBoard's own EventAccumulator and compared."""

import glob
import io
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import ember

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import (  # noqa: E402
    EventAccumulator,
)
from torch.utils.tensorboard import SummaryWriter as TorchWriter  # noqa: E402

from ember.utils.tensorboard import SummaryWriter  # noqa: E402

SIZE = {"scalars": 0, "histograms": 0, "images": 0, "tensors": 0, "audio": 0}


def _load(path):
    acc = EventAccumulator(str(path), size_guidance=SIZE)
    acc.Reload()
    return acc


def _both(tmp_path, fn):
    """Run ``fn(writer, lib)`` with ember's and torch's writers; return both accumulators."""
    out = []
    for lib, cls in (("ember", SummaryWriter), ("torch", TorchWriter)):
        d = tmp_path / lib
        w = cls(str(d))
        fn(w, ember if lib == "ember" else torch)
        w.close()
        out.append(_load(d))
    return out


def test_scalars_match_torch(tmp_path):
    def log(w, t):
        for step in range(5):
            w.add_scalar("loss", 1.0 / (step + 1), step)
            w.add_scalar("acc", t.tensor(0.5 * step), global_step=step, walltime=100.0 + step)
        w.add_scalar("new", 3.5, 7, new_style=True)

    e, t = _both(tmp_path, log)
    assert e.Tags()["scalars"] == t.Tags()["scalars"]
    for tag in ("loss", "acc"):
        got = [(s.step, s.value) for s in e.Scalars(tag)]
        assert got == [(s.step, s.value) for s in t.Scalars(tag)]
    assert [s.wall_time for s in e.Scalars("acc")] == [100.0 + i for i in range(5)]
    assert e.Tensors("new")[0].tensor_proto == t.Tensors("new")[0].tensor_proto
    with pytest.raises(AssertionError):
        SummaryWriter(str(tmp_path / "bad")).add_scalar("x", ember.ones(3))


def test_add_scalars_writes_one_run_per_key(tmp_path):
    def log(w, t):
        for step in range(3):
            w.add_scalars("run/loss", {"train": step * 1.0, "val": step * 2.0}, step)

    e_dir, t_dir = tmp_path / "ember", tmp_path / "torch"
    _both(tmp_path, log)
    dirs = [sorted(p.name for p in d.iterdir() if p.is_dir()) for d in (e_dir, t_dir)]
    assert dirs[0] == dirs[1] == ["run_loss_train", "run_loss_val"]
    for sub in ("run_loss_train", "run_loss_val"):
        e, t = _load(e_dir / sub), _load(t_dir / sub)
        assert [(s.step, s.value) for s in e.Scalars("run/loss")] == \
            [(s.step, s.value) for s in t.Scalars("run/loss")]


@pytest.mark.parametrize("bins,max_bins", [("tensorflow", None), ("auto", None),
                                           (10, None), ("tensorflow", 20)])
def test_histogram_matches_torch(tmp_path, bins, max_bins):
    data = np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32)

    def log(w, t):
        w.add_histogram("w", t.tensor(data), 3, bins=bins, max_bins=max_bins)
        w.add_histogram("pos", t.tensor(np.abs(data) + 1), 4, bins=bins, max_bins=max_bins)

    e, t = _both(tmp_path, log)
    for tag in ("w", "pos"):
        he, ht = e.Histograms(tag)[0], t.Histograms(tag)[0]
        assert he.step == ht.step
        assert he.histogram_value == ht.histogram_value
    with pytest.raises(ValueError, match="no element"):
        SummaryWriter(str(tmp_path / "bad")).add_histogram("x", ember.ones(0))


def _pixels(encoded):
    from PIL import Image
    return np.asarray(Image.open(io.BytesIO(encoded)))


@pytest.mark.parametrize("shape,fmt,many", [
    ((3, 6, 5), "CHW", False), ((6, 5, 3), "HWC", False), ((1, 6, 5), "CHW", False),
    ((6, 5), "HW", False), ((4, 6, 5), "CHW", False), ((10, 3, 4, 5), "NCHW", True),
    ((3, 4, 5, 1), "NHWC", True), ((2, 1, 4, 4), "NCHW", True)])
@pytest.mark.parametrize("dtype", ["float32", "uint8"])
def test_images_match_torch(tmp_path, shape, fmt, many, dtype):
    pytest.importorskip("PIL")
    rng = np.random.default_rng(1)
    data = rng.uniform(-0.1, 1.1, size=shape).astype(np.float32)
    if dtype == "uint8":
        data = (data.clip(0, 1) * 255).astype(np.uint8)

    def log(w, t):
        add = w.add_images if many else w.add_image
        add("img", t.tensor(data), 2, dataformats=fmt)

    e, t = _both(tmp_path, log)
    ie, it = e.Images("img")[0], t.Images("img")[0]
    assert (ie.step, ie.width, ie.height) == (it.step, it.width, it.height)
    np.testing.assert_array_equal(_pixels(ie.encoded_image_string),
                                  _pixels(it.encoded_image_string))


def test_figure_matches_torch(tmp_path):
    pytest.importorskip("PIL")
    plt = pytest.importorskip("matplotlib.pyplot")
    import matplotlib
    matplotlib.use("Agg")

    def fig(i):
        f = plt.figure(figsize=(2, 1.5), dpi=40)
        plt.plot([0, 1, 2], [i, 2 - i, i])
        return f

    def log(w, t):
        w.add_figure("one", fig(0), 1)
        w.add_figure("many", [fig(0), fig(1)], 2)

    e, t = _both(tmp_path, log)
    for tag in ("one", "many"):
        np.testing.assert_array_equal(_pixels(e.Images(tag)[0].encoded_image_string),
                                      _pixels(t.Images(tag)[0].encoded_image_string))
    assert not plt.get_fignums()  # closed after logging


def test_pr_curve_matches_torch(tmp_path):
    g = np.random.default_rng(2)
    labels, preds = g.integers(0, 2, size=60), g.uniform(size=60).astype(np.float32)
    weights = g.uniform(size=60)

    def log(w, t):
        w.add_pr_curve("pr", t.tensor(labels), t.tensor(preds), 1)
        w.add_pr_curve("pr_w", labels, preds, 2, num_thresholds=20, weights=weights)

    e, t = _both(tmp_path, log)
    for tag in ("pr", "pr_w"):
        assert e.Tensors(tag)[0].tensor_proto == t.Tensors(tag)[0].tensor_proto
        assert e.SummaryMetadata(tag) == t.SummaryMetadata(tag)


def test_audio_matches_torch(tmp_path, capsys):
    clip = np.sin(np.linspace(0, 40, 800)).astype(np.float32) * 1.2

    def log(w, t):
        w.add_audio("wave", t.tensor(clip)[None], 3, sample_rate=8000)

    e, t = _both(tmp_path, log)
    fields = ("step", "encoded_audio_string", "content_type", "sample_rate", "length_frames")
    ae, at = e.Audio("wave")[0], t.Audio("wave")[0]
    assert [getattr(ae, f) for f in fields] == [getattr(at, f) for f in fields]
    assert capsys.readouterr().out.count("auto clipped") == 2


def test_embedding_files_match_torch(tmp_path, capsys):
    pytest.importorskip("PIL")
    g = np.random.default_rng(4)
    mat = g.normal(size=(5, 3)).astype(np.float32)
    imgs = g.uniform(size=(5, 3, 4, 4)).astype(np.float32)
    labels = [f"p{i}" for i in range(5)]

    def log(w, t):
        w.add_embedding(t.tensor(mat), metadata=labels, label_img=t.tensor(imgs), tag="a/b")
        w.add_embedding(mat, metadata=[[x, i] for i, x in enumerate(labels)],
                        metadata_header=["name", "idx"], global_step=3)
        w.add_embedding(mat, global_step=3)  # the same directory again: a warning

    _both(tmp_path, log)
    assert capsys.readouterr().out.count("Embedding dir exists") == 2
    e, t = tmp_path / "ember", tmp_path / "torch"
    files = ["projector_config.pbtxt", "00000/a%2fb/tensors.tsv", "00000/a%2fb/metadata.tsv",
             "00003/default/tensors.tsv", "00003/default/metadata.tsv"]
    for name in files:
        assert (e / name).read_bytes() == (t / name).read_bytes(), name
    np.testing.assert_array_equal(_pixels((e / "00000/a%2fb/sprite.png").read_bytes()),
                                  _pixels((t / "00000/a%2fb/sprite.png").read_bytes()))


def test_text_matches_torch(tmp_path):
    def log(w, t):
        w.add_text("notes", "**hello** ünïcode", 1)

    e, t = _both(tmp_path, log)
    assert e.Tags()["tensors"] == t.Tags()["tensors"] == ["notes/text_summary"]
    te, tt = e.Tensors("notes/text_summary")[0], t.Tensors("notes/text_summary")[0]
    assert te.tensor_proto == tt.tensor_proto
    assert e.SummaryMetadata("notes/text_summary") == t.SummaryMetadata("notes/text_summary")


def test_hparams_match_torch(tmp_path):
    hp = {"lr": 0.1, "bsize": 8, "opt": "sgd", "nesterov": True}
    metrics = {"hparam/acc": 0.75, "hparam/loss": 0.5}

    def log(w, t):
        w.add_hparams(hp, metrics, hparam_domain_discrete={"opt": ["sgd", "adam"]},
                      run_name="trial")

    _both(tmp_path, log)
    e, t = _load(tmp_path / "ember" / "trial"), _load(tmp_path / "torch" / "trial")
    assert e.Tags()["tensors"] == t.Tags()["tensors"]
    for tag in ("_hparams_/experiment", "_hparams_/session_start_info",
                "_hparams_/session_end_info"):
        assert e.SummaryMetadata(tag) == t.SummaryMetadata(tag)
    for tag in metrics:
        assert [s.value for s in e.Scalars(tag)] == [s.value for s in t.Scalars(tag)]
    with pytest.raises(TypeError, match="should be dictionary"):
        SummaryWriter(str(tmp_path / "x")).add_hparams([], {})


def test_graph_and_file_handling(tmp_path):
    model = ember.nn.Sequential(ember.nn.Linear(3, 4), ember.nn.ReLU(), ember.nn.Linear(4, 1))
    with SummaryWriter(str(tmp_path), filename_suffix=".ember", purge_step=2) as w:
        w.add_graph(model, ember.randn(2, 3))
        w.add_scalar("a", 1.0, 5)
        w.flush()
        assert len(glob.glob(str(tmp_path / "*.ember"))) == 1
    assert w.get_logdir() == str(tmp_path)
    acc = _load(tmp_path)
    g = acc.Graph()
    ops = [n.op for n in g.node]
    assert ops.count("AddmmBackward0") == 2 and "ReluBackward0" in ops
    assert {"Sequential/0.weight", "Sequential/2.bias"} <= {n.name for n in g.node}
    out = [n for n in g.node if n.name == "Sequential/output.0"][0]
    assert [n.op for n in g.node if n.name == out.input[0]] == ["AddmmBackward0"]
    # A closed writer reopens a fresh event file on the next add_*.
    w.add_scalar("a", 2.0, 6)
    w.close()
    assert len(glob.glob(str(tmp_path / "events.out.tfevents.*"))) == 2


def test_default_logdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    w = SummaryWriter(comment="_x")
    w.close()
    logdir = w.get_logdir()
    assert logdir.startswith("runs" + os.sep) and logdir.endswith("_x")
    assert os.listdir(tmp_path / logdir)


def test_extras_are_lazy_and_missing_ones_say_what_to_install():
    """``import ember`` loads neither extra; without them, the error names the pip install."""
    code = (
        "import sys, ember, ember.nn, ember.optim, ember.utils, ember.onnx\n"
        "assert not [m for m in sys.modules if m.startswith(('tensorboard', 'onnx'))]\n"
        "sys.modules['tensorboard'] = sys.modules['onnx'] = None\n"
        "try:\n    import ember.utils.tensorboard\n"
        "except ModuleNotFoundError as e:\n    print(e)\n"
        "try:\n    ember.onnx.export(ember.nn.Linear(2, 2), ember.ones(1, 2))\n"
        "except ModuleNotFoundError as e:\n    print(e)\n")
    root = os.path.dirname(os.path.dirname(ember.__file__))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=60, env={**os.environ, "PYTHONPATH": root})
    assert r.returncode == 0, r.stderr
    assert "pip install tensorboard" in r.stdout and "pip install onnx" in r.stdout, r.stdout
