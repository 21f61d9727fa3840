"""Roofline plot of one network on one chip, per memory level (GLB and DRAM)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from cimnet_bo.hardware.model import SimulationResult, as_hardware, peak_ops_per_s, simulate
from cimnet_bo.hardware.technology import GB, MHZ, Technology

KIND_COLORS = {"static": "tab:blue", "dynamic": "tab:orange", "eltwise": "tab:green"}


def roofline_data(
    layers: Any, hw: Any, tech: Technology | None = None, result: SimulationResult | None = None
) -> dict[str, Any]:
    """The numbers behind :func:`plot_roofline`.

    Per layer: ``ops`` (2 per MAC for static and dynamic layers, ``ops*count`` for eltwise),
    achieved throughput ``ops / t_layer``, and operational intensity ``ops / bytes`` at the
    global buffer (``glb_bytes``) and at DRAM (``dram_bytes``; inf when the layer moves no
    DRAM bytes). Roofs: the CiM peak (:func:`peak_ops_per_s`), the digital unit's peak
    (2 * digital_macs * clock), and the bandwidths of the two levels in bytes/s.
    """
    hw = as_hardware(hw)
    tech = tech or Technology()
    res = result if result is not None else simulate(layers, hw, tech)
    df = res.layers
    ops = df["ops"].to_numpy(dtype=float)
    t = df["t_layer"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        achieved = np.where(t > 0, ops / t, 0.0)
        i_glb = np.where(df["glb_bytes"] > 0, ops / df["glb_bytes"].to_numpy(), np.inf)
        i_dram = np.where(df["dram_bytes"] > 0, ops / df["dram_bytes"].to_numpy(), np.inf)
    return {
        "name": df["name"].to_numpy(),
        "kind": df["kind"].to_numpy(),
        "bound": df["bound"].to_numpy(),
        "ops": ops,
        "achieved_ops_per_s": achieved,
        "intensity": {"GLB": i_glb, "DRAM": i_dram},
        "bandwidth": {"GLB": hw.glb_width * hw.clock_mhz * MHZ, "DRAM": hw.dram_bw_gbps * GB},
        "peak_cim": res.peak_ops_per_s,
        "peak_digital": 2.0 * hw.digital_macs * hw.clock_mhz * MHZ,
        "result": res,
    }


def plot_roofline(
    layers: Any, hw: Any, path: str | Path, tech: Technology | None = None, result: SimulationResult | None = None
) -> Path:
    """Save a roofline PNG: one panel per memory level (GLB, DRAM), attainable throughput
    (ops/s) against operational intensity (ops/byte), one point per layer (coloured by kind;
    layers with no traffic at a level are not drawn in that panel). Returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = roofline_data(layers, hw, tech, result)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for ax, level in zip(axes, ("GLB", "DRAM")):
        x = d["intensity"][level]
        y = d["achieved_ops_per_s"]
        shown = np.isfinite(x) & (x > 0) & (y > 0)
        bw = d["bandwidth"][level]
        lo = np.min(x[shown]) / 4 if shown.any() else 1e-2
        hi = np.max(x[shown]) * 4 if shown.any() else 1e4
        lo = min(lo, d["peak_digital"] / bw / 4)
        hi = max(hi, d["peak_cim"] / bw * 4)
        xs = np.logspace(np.log10(lo), np.log10(hi), 200)
        roofs = (
            ("peak_cim", "k-", 1.5, f"CiM peak {d['peak_cim'] / 1e12:.3g} TOPS / {level} {bw / 1e9:.4g} GB/s"),
            ("peak_digital", "k--", 1.0, f"digital peak {d['peak_digital'] / 1e12:.3g} TOPS"),
        )
        for peak, style, lw, label in roofs:
            ax.loglog(xs, np.minimum(bw * xs, d[peak]), style, lw=lw, label=label)
        for kind, color in KIND_COLORS.items():
            m = shown & (d["kind"] == kind)
            if m.any():
                ax.scatter(x[m], y[m], s=14, c=color, alpha=0.75, label=kind, edgecolors="none")
        hidden = int((~shown).sum())
        ax.set_title(
            f"{level} level" + (f" ({hidden} layers without {level} traffic not shown)" if hidden else ""), fontsize=9
        )
        ax.set_xlabel(f"operational intensity (ops / {level} byte)")
        ax.set_ylabel("throughput (ops / s)")
        ax.grid(True, which="both", alpha=0.25)
        ax.legend(fontsize=7, loc="lower right")
    res = d["result"]
    fig.suptitle(
        f"{res.label}: latency {res.latency_s * 1e6:.4g} us, "
        f"{'resident' if res.resident else 'streaming'}, {res.area_mm2:.4g} mm^2",
        fontsize=10,
    )
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


__all__ = ["peak_ops_per_s", "plot_roofline", "roofline_data"]
