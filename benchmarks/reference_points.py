"""The numbers behind the registered reference points (``cimnet_bo.search.registered.REFERENCE_POINTS``).

For each registered joint space, under its baseline chip's area and peak power: the largest
and the smallest latency and energy of any feasible point, found by running the largest subnet
and the smallest subnet on every chip within the budgets (the slowest and fastest points); with
``--accuracy``, the accuracy of the smallest, the largest and ``--random`` random subnets of the
Fashion-MNIST spaces with the shipped supernet (minutes on 2 cores). JSON via ``--out``.

    python benchmarks/reference_points.py --accuracy --out benchmarks/results/reference_points.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cimnet_bo.hardware import space_technology  # noqa: E402
from cimnet_bo.hardware.optimise import candidate_chips, simulate_grid  # noqa: E402
from cimnet_bo.search import REFERENCE_POINTS, Problem  # noqa: E402
from cimnet_bo.search.toy import SyntheticAccuracy  # noqa: E402
from cimnet_bo.space import get_space, list_spaces  # noqa: E402

ACCURACY_SPACES = ("vit-fmnist", "cnn-fmnist")


def roofline_range(name: str) -> dict:
    p = Problem.from_space(name, accuracy=SyntheticAccuracy(name))
    budgets = {c.name: c.bound for c in p.constraints if c.name in ("area_mm2", "power_w")}
    space = get_space(name)
    tech = space_technology(space)
    chips = candidate_chips(space, budgets["area_mm2"], budgets["power_w"], tech, maximal=False)
    r = simulate_grid(
        space,
        [space.subnet.extreme("max"), space.subnet.extreme("min")],
        chips.configs,
        tech,
        outputs=("latency_s", "energy_j", "feasible"),
    )
    f = r["feasible"]
    out = {"space": name, "chips_within_budgets": len(chips), **budgets}
    for obj in ("latency_s", "energy_j"):
        out[obj] = {
            "max": float(r[obj][0][f[0]].max()),
            "min": float(r[obj][1][f[1]].min()),
            "registered_ref_ideal": list(REFERENCE_POINTS[name][obj]),
        }
    return out


def accuracy_range(name: str, n_random: int) -> dict:
    p = Problem.from_space(name)
    s = p.space
    subs = [s.subnet.extreme("min"), s.subnet.extreme("max")] + s.subnet.sample(n_random, 7)
    t = time.perf_counter()
    res = p.evaluate([{**x, **s.hardware.baseline} for x in subs])
    acc = [res.objectives_of(i)["accuracy"] for i in range(len(subs))]
    return {
        "smallest": acc[0],
        "largest": acc[1],
        "random_min": min(acc[2:]),
        "random_max": max(acc[2:]),
        "n_random": n_random,
        "seconds": time.perf_counter() - t,
        "registered_ref_ideal": list(REFERENCE_POINTS[name]["accuracy"]),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accuracy", action="store_true", help="also evaluate subnet accuracies (slow)")
    ap.add_argument("--random", type=int, default=40, help="random subnets per space for --accuracy")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    rows = []
    for name in list_spaces():
        row = roofline_range(name)
        if args.accuracy and name in ACCURACY_SPACES:
            row["accuracy"] = accuracy_range(name, args.random)
        rows.append(row)
        print(json.dumps(row), flush=True)
    if args.out:
        args.out.write_text(json.dumps({"benchmark": "reference_points", "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
