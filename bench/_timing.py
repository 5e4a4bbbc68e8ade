"""A timing worker: one library (ember or torch) per process, driven over stdin/stdout.

``python -m bench`` starts one worker per library and asks them for samples in turn, so the
two libraries are measured alternately (drifts in machine load hit both) while neither
process carries the other's imports: a process that has imported torch holds ~150k more
Python objects, which every full pass of the cyclic garbage collector rescans, and ember's
graph is made of Python objects (torch's is not).

Protocol: one JSON object per line in, one per line out.
    {"op": "setup", "workload": name, "budget": seconds} -> {"count": n, "units": u}
    {"op": "sample", "workload": name, "n": n}          -> {"seconds": per-call time}
    {"op": "floor", "budget": seconds}                  -> {"seconds": ...} (NumPy GEMMs)
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time


def _calibrate(step, budget: float) -> int:
    """How many calls of ``step`` fill about ``budget`` seconds."""
    t0 = time.perf_counter()
    step()
    one = max(time.perf_counter() - t0, 1e-7)
    return max(1, int(budget / one))


def _sample(step, n: int) -> float:
    gc.collect()
    t0 = time.perf_counter()
    for _ in range(n):
        step()
    return (time.perf_counter() - t0) / n


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lib", choices=["ember", "torch"], required=True)
    parser.add_argument("--threads", type=int, required=True)
    args = parser.parse_args()
    lib = __import__(args.lib)
    lib.set_num_threads(args.threads)
    from bench import workloads

    steps: dict = {}
    for line in sys.stdin:
        cmd = json.loads(line)
        try:
            if cmd["op"] == "setup":
                step, units = getattr(workloads, cmd["workload"])(lib)
                for _ in range(2):  # warm-up
                    step()
                steps[cmd["workload"]] = step
                reply = {"count": _calibrate(step, cmd["budget"]), "units": units}
            elif cmd["op"] == "sample":
                reply = {"seconds": _sample(steps[cmd["workload"]], cmd["n"])}
            elif cmd["op"] == "floor":
                floor, _ = workloads.mlp_gemm_floor(None)
                reply = {"seconds": _sample(floor, _calibrate(floor, cmd["budget"]))}
            else:
                reply = {"error": f"unknown op {cmd['op']!r}"}
        except Exception as exc:  # a workload whose layers a library lacks
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
