"""Accuracy against ADC bits on the chip (:mod:`cimnet_bo.supernet.analog`), JSON and a figure.

For the smallest and the largest subnet of a joint space, on chips of ``--rows`` rows (all
driven at once, 1-bit DAC cycles), the accuracy in ``fast`` mode for every ADC resolution from
the lossless one down to ``--down`` bits below it: SRAM cells, and RRAM cells (1 bit, default
variation) averaged over ``--seeds`` programmed instances. The digital accuracy (floating point)
and the roofline's default ADC resolution are marked. Written: ``--out`` (JSON) and ``--plot``
(PNG).

Usage: ``python benchmarks/bench_adc_bits.py [--space vit-fmnist] [--rows 64] [--down 4]
[--images 1000] [--seeds 2] [--threads 2] [--out FILE] [--plot FILE]``
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from results_json import emit, machine


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--space", default="vit-fmnist")
    ap.add_argument("--rows", type=int, default=64)
    ap.add_argument("--down", type=int, default=4)
    ap.add_argument("--images", type=int, default=1000)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--adc-range", default=None, help="ADC range rule (default: the library's)")
    ap.add_argument("--out", default=None)
    ap.add_argument("--plot", default=None)
    args = ap.parse_args(argv)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)

    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    from cimnet_bo.space import get_space, subnet_side
    from cimnet_bo.supernet.analog import DEFAULT_ADC_RANGE, RRAM_SIGMA, AnalogSpec, analog_accuracy
    from cimnet_bo.supernet.data import load_split, to_tensor
    from cimnet_bo.supernet.evaluator import accuracy_of, load_supernet

    args.adc_range = args.adc_range or DEFAULT_ADC_RANGE

    space = get_space(args.space)
    sub = subnet_side(space)
    net, _ = load_supernet(sub)
    images, labels = load_split("val")
    images, labels = to_tensor(images[: args.images]), labels[: args.images]
    calib = to_tensor(load_split("calib")[0]) if sub.family != "vit" else None
    chip = {"rows": args.rows, "dac_bits": 1, "bits_per_cell": 1}
    lossless = AnalogSpec.from_config(chip).lossless_adc_bits
    default = AnalogSpec.from_config(chip).adc_bits
    bits = list(range(lossless, lossless - args.down - 1, -1))
    curves = []
    t0 = time.perf_counter()
    for which in ("min", "max"):
        cfg = {**sub.extreme(which), **chip}
        digital = accuracy_of(net, cfg, images, labels, calib, 250)
        for cell, seeds in (("sram", [0]), ("rram", list(range(args.seeds)))):
            acc = [
                float(
                    np.mean(
                        [
                            analog_accuracy(
                                net,
                                {**cfg, "cell": cell},
                                images,
                                labels,
                                calib,
                                "fast",
                                args.adc_range,
                                s,
                                250,
                                adc_bits=b,
                            )
                            for s in seeds
                        ]
                    )
                )
                for b in bits
            ]
            curves.append({"subnet": which, "cell": cell, "seeds": len(seeds), "accuracy": acc, "digital": digital})
            print(which, cell, [round(a, 4) for a in acc], f"digital {digital:.4f}", file=sys.stderr, flush=True)
    out = {
        "benchmark": "adc_bits",
        "space": args.space,
        "rows": args.rows,
        "adc_range": args.adc_range,
        "images": args.images,
        "rram_sigma": RRAM_SIGMA,
        "adc_bits": bits,
        "lossless_adc_bits": lossless,
        "roofline_default_adc_bits": default,
        "curves": curves,
        "seconds": round(time.perf_counter() - t0, 1),
        "machine": machine(),
    }
    emit(out, args.out)
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 4))
        for c in curves:
            style = "-" if c["cell"] == "sram" else "--"
            ax.plot(
                bits, [100 * a for a in c["accuracy"]], style, marker="o", label=f"{c['subnet']} subnet, {c['cell']}"
            )
        for c in curves[::2]:
            ax.axhline(100 * c["digital"], color="grey", lw=0.6)
        ax.axvline(default, color="red", lw=0.8, ls=":", label=f"roofline default ({default} bits)")
        ax.set_xlabel(f"ADC bits ({args.rows} rows, 1-bit DAC and cells; lossless {lossless})")
        ax.set_ylabel("accuracy (%)")
        ax.set_title(f"{args.space}: accuracy on the chip ({args.adc_range} ADC range)")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)
    return 0


if __name__ == "__main__":
    sys.exit(main())
