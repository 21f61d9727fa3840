"""The registered hardware spaces' baseline chips on their networks (model v2).

For each joint space and each of its largest and smallest subnets: latency, energy, average and
peak power, area, residency, cell utilisation (weight cells over the chip's cells), the share
of latency in each bound (compute / buffer / DRAM / weight loading) and the number of layers
bound by each, and for streaming layers the worst ratio of weight-loading time to compute
time. Writes JSON (``--out``) and prints a Markdown table.

    python benchmarks/baselines.py --out benchmarks/results/baselines.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cimnet_bo.hardware import HardwareConfig, simulate, space_technology  # noqa: E402
from cimnet_bo.space import get_space  # noqa: E402
from cimnet_bo.workload import layer_table  # noqa: E402

SPACES = ("vit-fmnist", "cnn-fmnist", "vit-b-imagenet")


def describe(space_name: str, which: str) -> dict:
    space = get_space(space_name)
    sub = space.subnet.extreme(which)
    hw = HardwareConfig.from_dict(space.hardware.baseline)
    tech = space_technology(space)
    table = layer_table(space, sub)
    r = simulate(table, hw, tech)
    df = r.layers
    static = (df["kind"] == "static").to_numpy()
    n_cw = np.ceil(table.w_bits / hw.bits_per_cell)
    weight_cells = float(np.sum((table.K * table.N * table.count * n_cw)[static]))
    chip_cells = hw.n_macros * hw.rows * hw.cols
    share = {
        b: float(df.loc[df["bound"] == b, "t_layer"].sum() / r.latency_s)
        for b in ("compute", "weights", "buffer", "dram")
    }
    st = df[static & (df["t_w"] > 0)]
    w_over_c = float((st["t_w"] / st["t_comp"]).max()) if len(st) else 0.0
    return {
        "space": space_name,
        "hardware": space.hardware.name,
        "subnet": which,
        "latency_us": r.latency_s * 1e6,
        "energy_uj": r.energy_j * 1e6,
        "avg_power_w": r.avg_power_w,
        "peak_power_w": r.power_w,
        "area_mm2": r.area_mm2,
        "resident": r.resident,
        "stream_fraction": r.stream_fraction,
        "feasible": r.feasible,
        "arrays_needed": r.arrays_needed,
        "n_macros": hw.n_macros,
        "cell_utilisation": min(weight_cells, chip_cells) / chip_cells,
        "effective_tops": r.tops,
        "peak_tops": r.peak_ops_per_s / 1e12,
        "latency_share": share,
        "bound_layers": r.bound_counts(),
        "max_weight_load_over_compute": w_over_c,
    }


def markdown(rows: list[dict]) -> str:
    head = (
        "| space | subnet | latency | avg / peak power | area | arrays (macros) | cells used | "
        "latency share: compute / weights / buffer / DRAM | layers bound: compute / weights / "
        "buffer / DRAM |\n|---|---|---|---|---|---|---|---|---|"
    )
    out = [head]
    for r in rows:
        s, b = r["latency_share"], r["bound_layers"]
        res = "resident" if r["resident"] else f"streams {r['stream_fraction']:.0%}"
        out.append(
            f"| {r['space']} ({r['hardware']}) | {r['subnet']} | {r['latency_us']:.4g} us | "
            f"{r['avg_power_w']:.3g} / {r['peak_power_w']:.3g} W | {r['area_mm2']:.3g} mm^2 | "
            f"{r['arrays_needed']} ({r['n_macros']}), {res} | {r['cell_utilisation']:.0%} | "
            f"{s['compute']:.0%} / {s['weights']:.0%} / {s['buffer']:.0%} / {s['dram']:.0%} | "
            f"{b['compute']} / {b['weights']} / {b['buffer']} / {b['dram']} |"
        )
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None, help="JSON file to write")
    args = ap.parse_args()
    rows = [describe(s, w) for s in SPACES for w in ("max", "min")]
    print(markdown(rows))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"benchmark": "baselines", "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
