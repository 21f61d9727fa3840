"""The chip's accuracy, ``fast`` against ``exact`` (:mod:`cimnet_bo.supernet.analog`), JSON output.

Random (subnet, hardware) pairs of a joint space, each with an ADC of 0 to 3 bits below its
lossless resolution (the space's other accuracy knobs, rows, DAC bits, cell and bits per cell,
as sampled), are evaluated in both modes on the first ``--images`` validation images. Reported:
Kendall's tau between the two modes' accuracies, their mean and largest absolute difference in
points, and the median seconds per evaluation of each mode (also per 1,000 images). Pairs are
written to ``--out`` as they are measured and a rerun with the same arguments continues from
them.

Usage: ``python benchmarks/bench_analog.py [--space vit-fmnist] [--pairs 50] [--images 200]
[--adc-range clip] [--seed 0] [--threads 2] [--out FILE]``
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from results_json import emit, machine


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--space", default="vit-fmnist")
    ap.add_argument("--pairs", type=int, default=50)
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--adc-range", default=None, help="ADC range rule (default: the library's)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)

    import numpy as np
    import torch
    from scipy.stats import kendalltau

    torch.set_num_threads(args.threads)
    from cimnet_bo.core import plain
    from cimnet_bo.space import get_space, subnet_side
    from cimnet_bo.supernet.analog import DEFAULT_ADC_RANGE, AnalogSpec, analog_accuracy
    from cimnet_bo.supernet.data import load_split, to_tensor
    from cimnet_bo.supernet.evaluator import load_supernet

    args.adc_range = args.adc_range or DEFAULT_ADC_RANGE

    space = get_space(args.space)
    net, _ = load_supernet(subnet_side(space))
    images, labels = load_split("val")
    images, labels = to_tensor(images[: args.images]), labels[: args.images]
    calib = to_tensor(load_split("calib")[0]) if net.__class__.__name__ != "ViT" else None
    rng = np.random.default_rng(args.seed)
    configs = space.from_indices(space.sample_indices(args.pairs, rng))
    below = rng.integers(0, 4, size=args.pairs)
    settings = {k: getattr(args, k) for k in ("space", "pairs", "images", "adc_range", "seed")}
    done: list[dict] = []
    if args.out and Path(args.out).exists():
        try:
            old = json.loads(Path(args.out).read_text())
        except ValueError:  # a write cut short: start again
            old = {}
        if old.get("settings") == settings:
            done = old.get("pairs_measured", [])

    def record() -> dict:
        fast = np.array([p["fast"] for p in done])
        exact = np.array([p["exact"] for p in done])
        out = {"benchmark": "analog_accuracy", "settings": settings, "machine": machine(), "pairs_measured": done}
        if len(done) >= 2:
            tau = kendalltau(fast, exact).statistic
            out["summary"] = {
                "n_pairs": len(done),
                "kendall_tau": round(float(tau), 4),
                "mean_abs_diff_points": round(float(100 * np.abs(fast - exact).mean()), 3),
                "max_abs_diff_points": round(float(100 * np.abs(fast - exact).max()), 3),
                "median_s_fast": round(float(np.median([p["s_fast"] for p in done])), 3),
                "median_s_exact": round(float(np.median([p["s_exact"] for p in done])), 3),
                "median_s_fast_per_1000_images": round(
                    float(np.median([p["s_fast"] for p in done])) * 1000 / args.images, 3
                ),
                "median_s_exact_per_1000_images": round(
                    float(np.median([p["s_exact"] for p in done])) * 1000 / args.images, 3
                ),
                "goals": {"kendall_tau": 0.9, "mean_abs_diff_points": 0.3},
            }
        return out

    for j in range(len(done), args.pairs):
        cfg = configs[j]
        lossless = AnalogSpec.from_config(cfg).lossless_adc_bits
        bits = int(lossless - below[j])
        rec = {"config": plain(cfg), "adc_bits": bits, "lossless_adc_bits": lossless}
        for mode in ("fast", "exact"):
            t = time.perf_counter()
            rec[mode] = analog_accuracy(
                net, cfg, images, labels, calib, mode=mode, adc_range=args.adc_range, seed=j, adc_bits=bits
            )
            rec[f"s_{mode}"] = round(time.perf_counter() - t, 3)
        done.append(rec)
        print(
            f"{j + 1}/{args.pairs} adc {bits}/{lossless} {cfg.get('cell')} fast {rec['fast']:.4f} "
            f"({rec['s_fast']:.1f}s) exact {rec['exact']:.4f} ({rec['s_exact']:.1f}s)",
            file=sys.stderr,
            flush=True,
        )
        if args.out:
            emit(record(), args.out)
    out = record()
    emit(out, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
