"""The experiments' results as Markdown: :func:`results_markdown` (``RESULTS.md`` of
:func:`~cimnet_bo.analysis.experiment.run_experiment`: the baseline, the iso-accuracy speedup
table, the hypervolume per mode, figures and the command that regenerates them) and
:func:`hardware_only_markdown` (of
:func:`~cimnet_bo.analysis.experiment.hardware_only_experiment`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from cimnet_bo.analysis.document import markdown_table
from cimnet_bo.analysis.formatting import CIMNET_REFERENCE, format_speedup_table
from cimnet_bo.analysis.runs import RunData

#: The search modes an experiment compares (run directories ``<mode>-seed<k>``), in the order
#: its results list them.
SEARCH_MODES: tuple[str, ...] = ("model-only", "hardware-only", "joint")


def hardware_only_markdown(result: Mapping[str, Any]) -> str:
    """The Markdown section of :func:`hardware_only_experiment`'s result."""
    b, h = result["baseline"], result["best"]
    budgets = result["budgets"]
    rows = [
        ["", "latency", "energy", "area", "peak power"],
        [
            "baseline chip",
            f"{b['latency_s'] * 1e3:.4g} ms",
            f"{b['energy_j'] * 1e3:.4g} mJ",
            f"{b['area_mm2']:.4g} mm²",
            f"{b['power_w']:.4g} W",
        ],
        [
            "best chip",
            f"{h['latency_s'] * 1e3:.4g} ms",
            f"{h['energy_j'] * 1e3:.4g} mJ",
            f"{h['area_mm2']:.4g} mm²",
            f"{h['power_w']:.4g} W",
        ],
    ]
    table = pd.DataFrame(rows[1:], columns=rows[0])
    chip = ", ".join(f"{k} {v}" for k, v in h["chip"].items())
    limits = " and ".join(f"`{k} <= {v:.6g}`" for k, v in budgets.items())
    return "\n".join(
        [
            f"### Hardware-only: the largest network of `{result['space']}` on its best chip",
            "",
            f"The network is fixed; its best chip within the baseline chip's budgets ({limits}) is found "
            f"exactly by the hardware optimiser (every maximal chip of the space simulated). Speedup "
            f"**{result['speedup']:.2f}x**; energy per inference {1 / result['energy_ratio']:.2f}x the "
            "baseline chip's.",
            "",
            markdown_table(table),
            "",
            f"Best chip: {chip}.",
            "",
            f"Regenerate with `cimnet-bo experiment --space {result['space']} --hardware-only` "
            f"({result['seconds']:.0f} s).",
            "",
        ]
    )


def hypervolume_table(runs: Sequence[RunData]) -> pd.DataFrame:
    """One row per role (baseline, model-only, hardware-only, joint): mean, min and max
    hypervolume over its runs, evaluations per run."""
    rows = []
    for role in ("baseline", *SEARCH_MODES):
        hv = [r.hypervolume() for r in runs if r.role == role]
        n = [r.n for r in runs if r.role == role]
        if hv:
            rows.append(
                {
                    "run": role,
                    "hypervolume": f"{np.mean(hv):.4f} ({min(hv):.4f}-{max(hv):.4f})",
                    "evaluations": f"{min(n)}" if min(n) == max(n) else f"{min(n)}-{max(n)}",
                }
            )
    return pd.DataFrame(rows)


def relative_prefix(out: Path) -> str | None:
    """``out`` relative to the working directory, with a trailing slash (None when outside)."""
    try:
        rel = Path(os.path.relpath(out.resolve(), Path.cwd().resolve()))
    except ValueError:
        return None
    if rel.parts and rel.parts[0] == "..":
        return None
    return "" if str(rel) == "." else rel.as_posix() + "/"


def regenerate_command(
    space: str,
    out: Path,
    runs_dir: Path,
    seeds: list[int],
    budget: int,
    strategy: str,
    accuracy: str,
    checkpoint: str | None,
) -> str:
    """The ``cimnet-bo experiment`` command line that reruns (resumes) an experiment."""
    parts = [
        "cimnet-bo experiment",
        f"--space {space}",
        f"--seeds {len(seeds)}" if seeds == list(range(len(seeds))) else "--seeds " + ",".join(map(str, seeds)),
        f"--budget {budget}",
        f"--out {out.as_posix()}",
    ]
    if runs_dir != out / "runs":
        parts.append(f"--runs {runs_dir.as_posix()}")
    if strategy != "qnehvi":
        parts.append(f"--strategy {strategy}")
    if accuracy != "supernet":
        parts.append(f"--accuracy {accuracy}")
    if checkpoint:
        parts.append(f"--checkpoint {checkpoint}")
    return " ".join(parts)


def results_markdown(
    space: str,
    baseline: Mapping[str, Any],
    speedup: pd.DataFrame,
    runs: Sequence[RunData],
    settings: Mapping[str, Any],
    command: str,
    seconds: float,
    link_prefix: str = "",
    report: bool = True,
) -> str:
    """The experiment's Markdown section: the baseline, the speedup table, figures, command."""
    cons = runs[0].constraints
    parts = [
        f"`{name} <= {cons[name][1]:.4g}` {unit}"
        for name, unit in (("area_mm2", "mm²"), ("power_w", "W"))
        if name in cons
    ]
    budget_text = (" and ".join(parts) + ", the baseline chip's") if parts else "no area or power constraint"
    n_seeds = len(settings["seeds"])
    lines = [
        f"### Joint versus model-only and hardware-only search: `{space}`",
        "",
        f"Same budgets ({budget_text}). Baseline: the largest subnet on the baseline hardware, accuracy "
        f"**{baseline['accuracy']:.4f}**, latency **{baseline['latency_s'] * 1e3:.4g} ms**. Model-only search "
        f"(hardware frozen at the baseline chip), hardware-only (the largest subnet on its best chip, computed "
        f"exactly) and joint search (subnets, each on its best chip), {settings['strategy']}, "
        f"{settings['budget']} evaluations per search run (the first {settings['n_init']}: the baseline point, "
        f"the largest subnet on its best chip where the hardware is computed, and random subnets), "
        f"{n_seeds} seed{'s' if n_seeds != 1 else ''}; accuracy "
        + (
            "of the trained supernet's subnets on the Fashion-MNIST validation split"
            if settings["accuracy"] == "supernet"
            else f"from `{settings['accuracy']}`"
        )
        + ", latency, area and peak power from the CiM roofline model (version 2).",
        "",
        "Iso-accuracy speedup over the baseline (mean over seeds; range and seeds reaching the target in brackets):",
        "",
        markdown_table(format_speedup_table(speedup)),
        "",
        f"Reference: {CIMNET_REFERENCE}.",
        "",
        "Hypervolume of each search's feasible points (the registered problem's normalisation: "
        "reference 0, ideal 1), mean over seeds (range):",
        "",
        markdown_table(hypervolume_table(runs)),
        "",
    ]
    if report:
        lines += [
            f"![Pareto fronts, {space}]({link_prefix}report/pareto_fronts.png)",
            f"![Hypervolume, {space}]({link_prefix}report/hypervolume.png)",
            "",
        ]
    lines += [
        f"Regenerate with `{command}` (or `make experiment`); it resumes its runs. "
        f"Search time, summed over the runs and over every invocation that resumed them: "
        f"{seconds / 60:.0f} min on this machine ({os.cpu_count()} CPU cores). "
        + (f"Full report: [{link_prefix}report/index.html]({link_prefix}report/index.html)." if report else ""),
        "",
    ]
    return "\n".join(lines)


__all__ = [
    "SEARCH_MODES",
    "hardware_only_markdown",
    "hypervolume_table",
    "regenerate_command",
    "relative_prefix",
    "results_markdown",
]
