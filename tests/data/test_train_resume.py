"""examples/train_resume.py: a run killed after a checkpoint and resumed ends exactly like an
uninterrupted one."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import ember

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "examples" / "train_resume.py"


def run(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    return subprocess.run([sys.executable, str(SCRIPT), "--epochs", "5", *args], env=env,
                          capture_output=True, text=True, timeout=300)


def losses(out: str) -> dict[str, str]:
    """{'epoch 1': hex, ..., 'final': hex} from the script's output."""
    found = {f"epoch {m[0]}": m[1] for m in re.findall(r"epoch (\d+) train loss \S+ \(hex (\S+)\)",
                                                         out)}
    final = re.search(r"final loss \S+ \(hex (\S+)\)", out)
    if final:
        found["final"] = final[1]
    return found


def test_resumed_run_matches_uninterrupted_run(tmp_path):
    full = run("--ckpt", str(tmp_path / "full.pt"))
    assert full.returncode == 0, full.stderr
    ref = losses(full.stdout)
    assert list(ref) == [f"epoch {i}" for i in range(1, 6)] + ["final"]

    killed = run("--ckpt", str(tmp_path / "run.pt"), "--stop-after", "2")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    first = losses(killed.stdout)
    assert list(first) == ["epoch 1", "epoch 2"]
    assert ember.load(tmp_path / "run.pt")["epoch"] == 2

    resumed = run("--ckpt", str(tmp_path / "run.pt"), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed after epoch 2" in resumed.stdout
    second = losses(resumed.stdout)
    assert list(second) == ["epoch 3", "epoch 4", "epoch 5", "final"]
    assert {**first, **second} == ref                   # bit-identical losses throughout
    ckpt = ember.load(tmp_path / "run.pt")
    assert ckpt["epoch"] == 5 and ckpt["scheduler"]["last_epoch"] == 5
    assert sorted(os.listdir(tmp_path)) == ["full.pt", "run.pt"]    # no stray temp files
