"""Seconds to evaluate one subnet on the 10,000 val images (2 threads), per family. JSON.

Each timed evaluation uses a fresh subnet (no cache): extraction, BatchNorm recalibration
for the CNN, and inference. Goal: at most 2 s for ViT subnets.

Usage: ``python benchmarks/bench_supernet.py [--n 5] [--threads 2] [--out FILE]``
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np
import torch

from cimnet_bo.space import get_subnet_space
from cimnet_bo.supernet.evaluator import SupernetEvaluator


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=5, help="subnets timed per family")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    result = {"threads": args.threads, "machine": platform.processor() or platform.machine(), "families": {}}
    for name in ("vit-fmnist", "cnn-fmnist"):
        space = get_subnet_space(name)
        ev = SupernetEvaluator(name)
        ev.evaluate([space.extreme("min")])  # load weights and data once, outside the timing
        configs = [space.extreme("max")] + space.sample(args.n - 1, 123)
        times = []
        for cfg in configs:
            t0 = time.perf_counter()
            ev.evaluate([cfg])
            times.append(time.perf_counter() - t0)
        result["families"][name] = {
            "seconds_median": round(float(np.median(times)), 3),
            "seconds_largest": round(times[0], 3),
            "seconds_all": [round(t, 3) for t in times],
        }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        open(args.out, "w").write(text + "\n")


if __name__ == "__main__":
    main()
