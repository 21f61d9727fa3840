"""Seconds per subnet of the exact per-subnet hardware optimiser (:func:`best_hardware`).

For each registered space below, under its baseline chip's area and peak power: the chips of
the hardware space, the candidates kept (maximal chips for latency; every chip within the
budgets for latency and energy), the time to find them (once per space and budget), and the
seconds per subnet over random subnets (plus the largest) when they come in one call (a pool)
and one per call, one core. Also the largest subnet's
best latency against the baseline chip's (what a better chip alone buys it). JSON via ``--out``.

    python benchmarks/bench_best_hardware.py --out benchmarks/results/bench_best_hardware.json
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cimnet_bo.hardware import best_hardware, candidate_chips, simulate, space_technology  # noqa: E402
from cimnet_bo.search.registered import baseline_chip  # noqa: E402
from cimnet_bo.space import get_space  # noqa: E402
from cimnet_bo.workload import layer_table  # noqa: E402

SPACES = ("vit-fmnist", "cnn-fmnist", "vit-b-imagenet")


def measure(name: str, n_subnets: int, seed: int) -> dict:
    space = get_space(name)
    budget = baseline_chip(space)
    area, power = budget["area_mm2"], budget["power_w"]
    subs = [space.subnet.extreme("max")] + space.subnet.sample(n_subnets - 1, seed)
    out = {"space": name, "hardware": space.hardware.name, "area_max_mm2": area, "power_max_w": power}
    for label, objectives, maximal in (
        ("latency", ("latency_s",), True),
        ("latency+energy", ("latency_s", "energy_j"), False),
    ):
        t0 = time.perf_counter()
        chips = candidate_chips(space, area, power, maximal=maximal)
        t_chips = time.perf_counter() - t0
        k = n_subnets if maximal else min(n_subnets, 3)
        t0 = time.perf_counter()
        fronts = best_hardware(space, subs[:k], objectives=objectives, chips=chips)
        per = (time.perf_counter() - t0) / k
        t0 = time.perf_counter()
        for sub in subs[:3]:  # one subnet per call, as a search asks for a few at a time
            best_hardware(space, [sub], objectives=objectives, chips=chips)
        one = (time.perf_counter() - t0) / 3
        out[label] = {
            "chips_in_space": chips.total,
            "candidates": len(chips),
            "seconds_to_find_candidates": round(t_chips, 3),
            "subnets": k,
            "seconds_per_subnet": round(per, 4),
            "seconds_per_subnet_one_per_call": round(one, 4),
            "mean_front_size": sum(len(f) for f in fronts) / k,
        }
        if maximal:
            best = fronts[0].iloc[0]
            base = simulate(layer_table(space.subnet, subs[0]), space.hardware.baseline, space_technology(space))
            out["largest_subnet"] = {
                "baseline_latency_s": base.latency_s,
                "best_latency_s": float(best["latency_s"]),
                "speedup": base.latency_s / float(best["latency_s"]),
                "best_chip": {
                    c: (v.item() if hasattr(v, "item") else v) for c, v in best.items() if c in space.hardware.names
                },
            }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subnets", type=int, default=200, help="subnets per batched call (default 200)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    rows = [measure(s, args.subnets, args.seed) for s in SPACES]
    load = os.getloadavg()[0]
    for r in rows:
        lat, both = r["latency"], r["latency+energy"]
        print(
            f"{r['space']:15s} {r['hardware']}: {lat['chips_in_space']:,} chips; latency: {lat['candidates']:,} "
            f"maximal chips ({lat['seconds_to_find_candidates']} s), {lat['seconds_per_subnet']} s/subnet; "
            f"latency+energy: {both['candidates']:,} chips ({both['seconds_to_find_candidates']} s), "
            f"{both['seconds_per_subnet']} s/subnet; largest subnet {r['largest_subnet']['speedup']:.2f}x"
        )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(
            json.dumps(
                {"benchmark": "best_hardware", "load_average_1min": load, "cpus": os.cpu_count(), "rows": rows},
                indent=1,
            )
            + "\n"
        )


if __name__ == "__main__":
    main()
