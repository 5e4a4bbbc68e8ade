"""``python -m ember.examples.tour``: the README's first command. Run in a subprocess as a
newcomer runs it (``--quick``: fewer epochs), once with whatever optional packages are
installed and once with all of them hidden; the tutorial part is checked against the seed's
text and against real torch running the tour's own cells."""

import contextlib
import importlib.util
import io
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from ember.examples import tour

OPTIONAL = ("sklearn", "tqdm", "matplotlib", "graphviz")

CELL_1_OUT = """
Tensor with requires_grad:
 tensor([1., 2., 3.], requires_grad=True)

Result Tensor after Operations:
 tensor([ 7.,  9., 11.], grad_fn=<AddBackward0>)

Gradient of the Tensor:
 tensor([2., 2., 2.])
"""

CELL_2_OUT = """Tensor x:
 tensor([2., 3.], requires_grad=True)
Tensor y:
 tensor([4., 5.], requires_grad=True)
Tensor z (x * y):
 tensor([ 8., 15.], grad_fn=<MulBackward0>)
Sum of z (out):
 tensor(23., grad_fn=<SumBackward0>)
Gradient of x:
 tensor([4., 5.])
Gradient of y:
 tensor([2., 3.])
"""


def installed(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def run_tour(tmp: Path, *args: str, hide: tuple = ()) -> str:
    """Run the tour as ``python -m`` does, with the modules in ``hide`` made unimportable."""
    code = ("import runpy, sys\n"
            f"for name in {list(hide)!r}:\n"
            "    sys.modules[name] = None\n"
            f"sys.argv = ['tour', *{list(args)!r}]\n"
            "runpy.run_module('ember.examples.tour', run_name='__main__', alter_sys=True)\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def cell_text(stdout: str, n: int) -> str:
    """The output of tutorial cell ``n``: what follows its banner, up to the next banner."""
    parts = re.split(r"\n=== (.*) ===\n", stdout)
    titles = parts[1::2]
    index = next(i for i, t in enumerate(titles) if t.startswith(f"Cell {n}:"))
    return parts[2 + 2 * index]


def run_cell_under(lib, cell) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        cell(lib)
    return out.getvalue()


# Each run takes seconds, so one test runs the tour and makes all the checks on its output
# (a module fixture would run once per xdist worker).

def test_tour_with_the_installed_extras(tmp_path):
    full = run_tour(tmp_path, "--quick", "--out", str(tmp_path / "out")), tmp_path / "out"
    check_cells_1_and_2_print_the_seed_text(full)
    check_cells_3_and_4_match_torch_under_the_same_seed(full)
    check_digits_with_installed_extras(full)
    check_pictures_and_plot_written_when_their_packages_are_present(full)


def check_cells_1_and_2_print_the_seed_text(full):
    stdout, _ = full
    assert cell_text(stdout, 1) == CELL_1_OUT
    assert cell_text(stdout, 2) == CELL_2_OUT


def test_the_tours_cells_print_the_same_under_torch():
    # The very code of the tour's cells, run by PyTorch.
    assert run_cell_under(torch, tour.cell_1) == CELL_1_OUT
    assert run_cell_under(torch, tour.cell_2) == CELL_2_OUT


def check_cells_3_and_4_match_torch_under_the_same_seed(full):
    stdout, _ = full
    torch.manual_seed(tour.SEED)
    theirs_3 = run_cell_under(torch, tour.cell_3)
    theirs_4 = run_cell_under(torch, tour.cell_4)
    assert cell_text(stdout, 3) == theirs_3
    assert re.fullmatch(r"tensor\(\[\[-?\d+\.\d{4}\]\]\)\ntensor\(\[-?\d+\.\d{4}\]\)\n", theirs_3)
    mine = cell_text(stdout, 4).splitlines()
    theirs = theirs_4.splitlines()
    assert [ln.split(": ")[0] for ln in mine] == [ln.split(": ")[0] for ln in theirs] == [
        f"Epoch {i}, Loss" for i in range(1, 11)]
    # float32 rounding may differ in the last bit (NumPy's matmul has no fused multiply-add).
    np.testing.assert_allclose([float(ln.split(": ")[1]) for ln in mine],
                               [float(ln.split(": ")[1]) for ln in theirs], rtol=1e-6)


def _accuracy(stdout: str) -> float:
    m = re.search(r"Test accuracy: (\d+\.\d\d)% on 359 held-out images \(expected > (\d+)%: "
                  r"as expected\)", stdout)
    assert m, stdout[-2000:]
    return float(m.group(1)) / 100


def check_digits_with_installed_extras(full):
    stdout, out = full
    if installed("sklearn"):
        assert "Data: scikit-learn's handwritten digits" in stdout
        assert _accuracy(stdout) > tour.EXPECTED_ACCURACY["sklearn"]
    else:
        assert "Data: GENERATED digits" in stdout
        assert _accuracy(stdout) > tour.EXPECTED_ACCURACY["generated"]
    losses = (out / "loss.csv").read_text().splitlines()
    assert losses[0] == "step,loss" and len(losses) == 1 + 5 * 45
    first, last = float(losses[1].split(",")[1]), float(losses[-1].split(",")[1])
    assert np.isfinite(last) and last < first
    # Part 3: the compiled training step gives eager's losses (its timing is not checked)
    assert re.search(r"torch\.compile\(step\) [\d.]+ ms \([\d.]+x faster\); the same losses, "
                     r"bit for bit: yes", stdout), stdout[-1000:]


def check_pictures_and_plot_written_when_their_packages_are_present(full):
    stdout, out = full
    assert f"Wrote to {out.resolve()}:" in stdout
    for i in range(1, 5):
        dot = out / f"cell{i}_graph.dot"
        assert dot.read_text().startswith("digraph {") and str(dot) in stdout
    graph = (out / "cell1_graph.dot").read_text()
    for label in ("tensor\\n(3)", "AccumulateGrad", "MulBackward0", "AddBackward0",
                  "SumBackward0", "output\\n()"):
        assert f'"{label}"' in graph
    assert '"weight\\n(1, 1)"' in (out / "cell3_graph.dot").read_text()
    if installed("graphviz") and shutil.which("dot"):
        for i in range(1, 5):
            svg = out / f"cell{i}_graph.svg"
            assert "<svg" in svg.read_text() and str(svg) in stdout
    if installed("matplotlib"):
        png = out / "loss.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and str(png) in stdout


def test_tour_without_any_optional_package(tmp_path):
    stdout, out = run_tour(tmp_path, "--quick", hide=OPTIONAL), tmp_path / "ember-tour-output"
    assert "Data: GENERATED digits (scikit-learn is not installed" in stdout
    assert _accuracy(stdout) > tour.EXPECTED_ACCURACY["generated"]
    epochs = re.findall(r"^epoch  (\d)/5: 1438/1438 samples, loss (\d+\.\d{4}), [\d,]+ samples/s$",
                        stdout, re.M)
    assert [e for e, _ in epochs] == ["1", "2", "3", "4", "5"]
    assert float(epochs[-1][1]) < float(epochs[0][1])
    # The default output folder, DOT text only, and a note on what to install.
    assert sorted(p.name for p in out.iterdir()) == [
        "cell1_graph.dot", "cell2_graph.dot", "cell3_graph.dot", "cell4_graph.dot", "loss.csv"]
    assert "pip install graphviz" in stdout and "pip install matplotlib" in stdout
    assert cell_text(stdout, 1) == CELL_1_OUT


def test_synthetic_digits_are_valid_images():
    images, labels = tour.synthetic_digits(n=200, seed=3)
    a = np.array(images)
    assert a.shape == (200, 8, 8) and a.min() >= 0 and a.max() <= 16
    assert sorted(set(labels)) == list(range(10))
    # Ink differs between digits: class means are distinct pictures.
    means = np.stack([a[np.array(labels) == d].mean(0) for d in range(10)])
    assert min(np.abs(means[i] - means[j]).max() for i in range(10) for j in range(i)) > 1


def test_bad_arguments_exit_with_usage(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "ember.examples.tour", "--epochs", "0"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "--epochs must be at least 1" in proc.stderr
    assert not (tmp_path / "ember-tour-output").exists()
