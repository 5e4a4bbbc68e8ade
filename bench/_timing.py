"""Child process: time workloads under ember and torch alternately, print JSON lines.

Run by ``python -m bench`` with the BLAS thread count fixed in the environment before NumPy
and torch are imported.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
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
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--workloads", required=True)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--budget", type=float, default=0.2)
    args = parser.parse_args()

    import torch

    import ember
    from bench import workloads

    torch.set_num_threads(args.threads)
    ember.set_num_threads(args.threads)
    libs = {"ember": ember, "torch": torch}
    for name in args.workloads.split(","):
        make = getattr(workloads, name)
        steps, per = {}, 1
        try:
            for lib_name, lib in libs.items():
                steps[lib_name], per = make(lib)
                for _ in range(2):  # warm-up
                    steps[lib_name]()
        except Exception as exc:  # a workload whose layers ember lacks yet
            print(json.dumps({"workload": name, "error": f"{type(exc).__name__}: {exc}"}),
                  flush=True)
            continue
        counts = {k: _calibrate(s, args.budget) for k, s in steps.items()}
        samples = {k: [] for k in steps}
        for _ in range(args.repeats):  # alternate, so drifts in machine load hit both
            for k, s in steps.items():
                samples[k].append(_sample(s, counts[k]))
        result = {"workload": name, "threads": args.threads, "units": per}
        for k, v in samples.items():
            result[k] = statistics.median(v) / per
        if name == "mlp_step":
            floor, _ = workloads.mlp_gemm_floor(None)
            result["floor"] = statistics.median(
                _sample(floor, _calibrate(floor, args.budget)) for _ in range(args.repeats))
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
