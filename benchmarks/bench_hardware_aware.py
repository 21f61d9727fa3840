"""Hardware-aware joint search against a chip-unaware one on a hardware-aware space, JSON and a
figure.

Setting: ``--space vit-fmnist-hwa`` (``cim-edge`` with ``adc_bits`` a knob), maximise accuracy
and minimise latency under the baseline chip's area and peak power. Both arms are qNEHVI with
subnets on their best chips, the same budget, seeds and initial design (the baseline point):

* **aware**: accuracy computed on the chip (:class:`cimnet_bo.evaluate.ChipAccuracy`, ``fast``
  mode, the first ``--images`` validation images); a design is a subnet with the knobs accuracy
  depends on (ADC bits, rows, DAC bits, cell, bits per cell), each on its best chip;
* **unaware**: the subnet's accuracy alone (the digital supernet on the same images), as a
  search that ignores the chip's ADCs sees it; its Pareto set is then evaluated on the chip,
  which is what such a design would really deliver.

Reported per seed: the hypervolume of each arm's front with accuracy on the chip (the unaware
arm's front as it believed it and as evaluated on the chip), the ADC bits on the fronts and
the time taken. The runs are ordinary run directories under ``--runs`` (resumed where they
stopped); the figure (``--plot``) shows the fronts of the first seed.

Usage: ``python benchmarks/bench_hardware_aware.py [--space vit-fmnist-hwa] [--budget 48]
[--seeds 2] [--images 1000] [--runs DIR] [--out FILE] [--plot FILE]``
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from results_json import emit, machine


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--space", default="vit-fmnist-hwa")
    ap.add_argument("--budget", type=int, default=48)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", default="runs/hardware_aware")
    ap.add_argument("--out", default=None)
    ap.add_argument("--plot", default=None)
    args = ap.parse_args(argv)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)

    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    from cimnet_bo.evaluate import AccuracyEvaluator, ChipAccuracy
    from cimnet_bo.moo import pareto_mask
    from cimnet_bo.search import Problem, run_search
    from cimnet_bo.space import get_space

    space = get_space(args.space)
    indices = range(args.images)
    chip = ChipAccuracy(space, indices=indices)
    arms = {
        "aware": Problem.from_space(args.space, accuracy=chip),
        "unaware": Problem.from_space(args.space, accuracy=AccuracyEvaluator(space, indices=indices)),
    }
    base = {**space.subnet.extreme("max"), **space.hardware.baseline}
    opts = {"hardware": "best", "pool_size": 5000}
    seeds = []
    for seed in range(args.seeds):
        rec: dict = {"seed": seed}
        for arm, problem in arms.items():
            t = time.perf_counter()
            with run_search(
                problem,
                "qnehvi",
                budget=args.budget,
                batch_size=args.batch,
                n_init=args.batch,
                seed=seed,
                run_dir=Path(args.runs) / f"{arm}-seed{seed}",
                strategy_options=opts,
                initial=[base],
                progress=False,
            ) as run:
                frame = run.pareto()
                configs = [{n: row[n] for n in space.names} for _, row in frame.iterrows()]
                believed = frame[["accuracy", "latency_s"]].to_numpy(dtype=float)
            on_chip = np.column_stack([chip.evaluate(configs).column("accuracy"), believed[:, 1]])
            keep = pareto_mask(on_chip, ["max", "min"])
            rec[arm] = {
                "hypervolume_on_chip": arms["aware"].hypervolume(on_chip),
                "hypervolume_believed": problem.hypervolume(believed),
                "front_believed": believed.tolist(),
                "front_on_chip": on_chip[keep].tolist(),
                "front_adc_bits": [int(c["adc_bits"]) for c in configs],
                "seconds": round(time.perf_counter() - t, 1),
            }
            print(
                f"seed {seed} {arm:>7}: hv on chip {rec[arm]['hypervolume_on_chip']:.4f} "
                f"(believed {rec[arm]['hypervolume_believed']:.4f}), ADC bits on the front "
                f"{sorted(set(rec[arm]['front_adc_bits']))}, {rec[arm]['seconds']} s",
                file=sys.stderr,
                flush=True,
            )
        seeds.append(rec)
    hv = {arm: [s[arm]["hypervolume_on_chip"] for s in seeds] for arm in arms}
    out = {
        "benchmark": "hardware_aware",
        "space": args.space,
        "budget": args.budget,
        "batch": args.batch,
        "images": args.images,
        "chip_accuracy": chip.identity.split("|", 1)[1],
        "reference_point": arms["aware"].ref_point,
        "hypervolume_on_chip_mean": {arm: float(np.mean(v)) for arm, v in hv.items()},
        "seeds": seeds,
        "machine": machine(),
    }
    emit(out, args.out)
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        s0 = seeds[0]
        for label, pts, style in (
            ("aware (accuracy on the chip)", s0["aware"]["front_on_chip"], "o-"),
            ("unaware, as it believed", s0["unaware"]["front_believed"], "s--"),
            ("unaware, on the chip", s0["unaware"]["front_on_chip"], "x:"),
        ):
            p = np.array(sorted(pts, key=lambda r: r[1]))
            ax.step(1e6 * p[:, 1], 100 * p[:, 0], style, where="post", label=label)
        ax.set_xscale("log")
        ax.set_xlabel("latency (us)")
        ax.set_ylabel("accuracy (%)")
        ax.set_title(f"{args.space}: Pareto fronts, seed 0, {args.budget} evaluations")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)
    return 0


if __name__ == "__main__":
    sys.exit(main())
