"""The benchmark suite runs (quick mode, few repeats): it must never rot. Times are not
asserted — speed is measured by ``python -m bench``, recorded in bench/RESULTS.md."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_bench_quick_run_produces_a_table(tmp_path):
    out = tmp_path / "results.md"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", "seed_loop,small_chain,mlp_step",
         "--threads", "1", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    text = out.read_text()
    for name in ("seed_loop", "small_chain", "mlp_step"):
        row = next(line for line in text.splitlines() if line.startswith(f"| {name} |"))
        assert re.search(r"\| \d+\.\d\dx \|", row), row  # ran under both, ratio computed
    assert "Command: `python -m bench --quick" in text and "Machine:" in text
