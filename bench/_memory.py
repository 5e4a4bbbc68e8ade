"""Child process: peak RSS over ``mlp_step``s for one library, and RSS growth."""

from __future__ import annotations

import argparse
import json
import resource


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lib", choices=["ember", "torch"], required=True)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--growth-steps", type=int, default=2000)
    args = parser.parse_args()
    lib = __import__(args.lib)
    if args.lib == "torch":
        lib.set_num_threads(1)
    from bench.workloads import mlp_step
    step, _ = mlp_step(lib)
    for _ in range(args.steps):
        step()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    at_first = _rss_mb()
    for _ in range(args.growth_steps - args.steps):
        step()
    print(json.dumps({"lib": args.lib, "peak_mb": peak, "rss_mb_at_steps": at_first,
                      "rss_mb_at_growth_steps": _rss_mb()}))


if __name__ == "__main__":
    main()
