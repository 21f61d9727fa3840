"""Reports of search runs: one HTML page and one Markdown summary with PNG figures and tables.

:func:`write_report` takes run directories (or loaded :class:`~cimnet_bo.analysis.runs.RunData`)
of one problem and writes into ``out``:

* ``index.html`` and ``report.md``: the same content: the runs (role, strategy, seed,
  evaluations, final hypervolume, best objectives), the final hypervolume per group (mean and
  spread over seeds), the figures, the iso-accuracy speedup table when a baseline run is given
  with search runs (see :func:`~cimnet_bo.analysis.compare.run_speedups`), and per run its Pareto
  set (configurations and objectives) and its hypervolume curve;
* ``hypervolume.png`` (all groups: mean over seeds with a min-max band), ``pareto_fronts.png``
  (fronts overlaid, the baseline starred), per run ``run_<label>_hypervolume.png`` and, for runs
  that search the hardware, ``run_<label>_hardware.png`` (hardware knobs of its Pareto set);
  ``roofline_*.png`` (the baseline point and the fastest point reaching the baseline's accuracy,
  or the most accurate Pareto point when there is no baseline);
* ``runs.csv``, ``pareto_<label>.csv`` per run and ``speedup.csv`` / ``speedup_seeds.csv``.

Hypervolumes are normalised with the problem's fixed reference and ideal points (0 at the
reference, 1 at the ideal corner), so numbers from different runs and reports of the same
problem are comparable.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import pandas as pd

from cimnet_bo.analysis import compare
from cimnet_bo.analysis.document import Document
from cimnet_bo.analysis.formatting import CIMNET_REFERENCE, fmt_frame, fmt_target, fmt_value, format_speedup_table
from cimnet_bo.analysis.runs import DEFAULT_TARGETS, RunData, load_runs
from cimnet_bo.analysis.speedup import SPEEDUP_COLUMNS
from cimnet_bo.core import check_output_path


@dataclass
class Report:
    """What :func:`write_report` wrote.

    Attributes
    ----------
    out : Path
    html, markdown : Path
    figures : list of Path
    tables : dict of str to Path
        CSV files: ``runs``, ``pareto_<label>``, ``speedup``, ``speedup_seeds``.
    runs : list of RunData
    summary : pandas.DataFrame
        :func:`~cimnet_bo.analysis.compare.runs_summary`.
    speedup : pandas.DataFrame or None
        The wide speedup table (None without a baseline run).
    speedup_seeds : pandas.DataFrame or None
        The long speedup table (one row per group, seed and target).
    baseline : dict or None
        The baseline point.
    """

    out: Path
    html: Path
    markdown: Path
    figures: list[Path]
    tables: dict[str, Path]
    runs: list[RunData]
    summary: pd.DataFrame
    speedup: pd.DataFrame | None = None
    speedup_seeds: pd.DataFrame | None = None
    baseline: dict[str, Any] | None = None

    def text(self, top: int = 5) -> str:
        """Where the report is, and the best points of each run (for a terminal)."""
        lines = [f"report: {self.html}", f"        {self.markdown}"]
        if self.baseline is not None:
            b = self.baseline
            lines.append(
                "baseline: " + ", ".join(f"{k}={fmt_value(b[k], k)}" for k in self.runs[0].output_columns if k in b)
            )
        if self.speedup is not None:
            lines.append("iso-accuracy speedup over the baseline:")
            lines += ["  " + line for line in format_speedup_table(self.speedup).to_string(index=False).splitlines()]
        for r in self.runs:
            if r.role == "baseline":
                continue
            front = r.pareto()
            lines.append(
                f"{r.label} ({r.role}, {r.strategy}, seed {r.seed}): {r.n} evaluations, "
                f"hypervolume {r.hypervolume():.4f}, {len(front)} Pareto points; best:"
            )
            for _, row in front.head(top).iterrows():
                vals = ", ".join(f"{k}={fmt_value(row[k], k)}" for k in r.output_columns)
                sides = [r.config_text(row, side) for side in ("subnet", "hardware")]
                lines.append(f"  #{int(row['evaluation'])}: {vals} | " + " | ".join(t for t in sides if t))
            if len(front) > top:
                table = self.tables.get("pareto_" + compare.slug(r.label), "")
                lines.append(f"  ... {len(front) - top} more in {table}")
        return "\n".join(lines)


def _pareto_display(run: RunData, vary: Sequence[str]) -> pd.DataFrame:
    front = run.pareto_table(choices=True)
    outputs = [c for c in run.output_columns if c in front]
    shown = front[["evaluation", *outputs]].copy()
    sub = [c for c in run.subnet_choices if c in vary]
    hw = [c for c in run.hardware_choices if c in vary]
    shown = fmt_frame(shown)
    for side, names in (("subnet", sub), ("hardware", hw)):
        if names:
            shown[side] = [
                " ".join(f"{c}={fmt_value(row[c])}" for c in names if c in active)
                for row, active in ((r, run.active_choices(r)) for _, r in front.iterrows())
            ]
    return shown


def _pareto_xy(run: RunData) -> dict[str, str]:
    names = list(run.objectives.names)
    if "accuracy" in names and "latency_s" in names:
        keep = ["accuracy", "latency_s"]
    else:
        keep = names[:2]
    return {n: run.objectives.direction(n) for n in keep}


def _roofline_points(
    runs: Sequence[RunData], speedup_seeds: pd.DataFrame | None, baseline: dict[str, Any] | None
) -> list[tuple[str, str, dict[str, Any]]]:
    """(file stem, caption, point) of the points whose roofline the report draws."""
    out: list[tuple[str, str, dict[str, Any]]] = []
    if baseline is not None:
        out.append(
            ("roofline_baseline", "Roofline of the baseline (largest subnet on the baseline hardware)", baseline)
        )
    groups = compare.group_runs(runs)
    if speedup_seeds is not None and len(speedup_seeds):
        # the highest target that some run reached (the baseline's accuracy first), its fastest point
        for off in sorted(speedup_seeds["target_offset"].unique(), key=lambda v: (abs(v), -v)):
            at = speedup_seeds[(speedup_seeds["target_offset"] == off) & speedup_seeds["speedup"].notna()]
            if not len(at):
                continue
            best = at.sort_values("speedup", ascending=False, kind="mergesort").iloc[0]
            run = next(r for r in groups[best["run"]] if r.label == best["label"])
            row = run.frame.loc[run.frame["evaluation"] == best["best_index"]].iloc[0]
            out.append(
                (
                    "roofline_fastest",
                    f"Roofline of the fastest point at accuracy >= {fmt_target(off)} ({best['run']}, run "
                    f"{run.label}, evaluation {int(best['best_index'])}: {best['speedup']:.2f}x faster than the "
                    f"baseline)",
                    row.to_dict(),
                )
            )
            return out
    searches = [r for r in runs if r.role != "baseline" and len(r.pareto())]
    if searches:
        run = searches[-1]
        row = run.pareto().iloc[0]
        out.append(
            (
                "roofline_best",
                f"Roofline of the best Pareto point by {run.objectives.names[0]} "
                f"(run {run.label}, evaluation {int(row['evaluation'])})",
                row.to_dict(),
            )
        )
    return out


def write_report(
    runs: Sequence[RunData] | Iterable[str | Path] | str | Path,
    out: str | Path,
    title: str | None = None,
    targets: Sequence[float] = DEFAULT_TARGETS,
    roofline: bool = True,
    per_run_figures: bool = True,
    intro: str | None = None,
) -> Report:
    """Write the HTML page, the Markdown summary, figures and CSV tables of runs into ``out``.

    Parameters
    ----------
    runs : sequence of RunData, or run directories / glob patterns / folders of runs
        Runs of one problem (same space, objectives and reference point).
    out : str or Path
        The report folder (created; files of an earlier report there are overwritten).
    title : str, optional
    targets : sequence of float
        Accuracy offsets of the speedup table (``0``: the baseline's accuracy, ``-0.01``: one
        point below).
    roofline : bool
        Draw the roofline of the baseline and of the fastest point at its accuracy.
    per_run_figures : bool
        A hypervolume curve (and hardware-knob panel) per run.
    intro : str, optional
        A paragraph placed under the title.

    Returns
    -------
    Report
    """
    from cimnet_bo.analysis.plots import (
        plot_hardware_knobs,
        plot_hypervolume_curves,
        plot_pareto_fronts,
        plot_point_roofline,
    )

    if isinstance(runs, (str, Path)) or not all(isinstance(r, RunData) for r in runs):
        runs = load_runs(runs)  # type: ignore[arg-type]
    runs = list(runs)  # type: ignore[arg-type]
    compare.check_comparable(runs)
    out = check_output_path(out, "report folder", folder=True)
    out.mkdir(parents=True, exist_ok=True)
    first = runs[0]
    title = title or f"Search report: {first.space_name}"
    doc = Document(title)
    figures: list[Path] = []
    tables: dict[str, Path] = {}

    # ---------------------------------------------------------------- header and runs
    objs = ", ".join(f"{n} ({d})" for n, d in first.objectives)
    cons = ", ".join(f"{k} {op} {b:g}" for k, (op, b) in first.constraints.items()) or "none"
    ref = ", ".join(f"{k}={v:g}" for k, v in first.ref_point.items()) or "none yet"
    ref_source = {
        "given": "the problem's fixed reference point",
        "inferred": "the reference point the run inferred from its initial design",
        "provisional": "a provisional reference point inferred from the evaluations so far",
    }[first.ref_source]
    ideal = ", ".join(f"{k}={v:g}" for k, v in (first.ideal_point or {}).items()) or "none"
    if intro:
        doc.p(intro)
    doc.p(
        f"Space `{first.space_name}`; objectives {objs}; constraints {cons}. Hypervolumes are normalised with "
        f"{ref_source} ({ref}) and ideal point ({ideal}), "
        f"{'log10 scale for ' + ', '.join(first.log) if first.log else 'linear scales'}: 0 at the reference, "
        f"1 for a point at the ideal corner. Generated {time.strftime('%Y-%m-%d %H:%M:%S')}."
    )
    summary = compare.runs_summary(runs)
    tables["runs"] = _csv(summary, out / "runs.csv")
    doc.h(2, "Runs")
    doc.table(fmt_frame(summary.drop(columns=["path"])), "one row per run directory")
    doc.p("Run directories: " + "; ".join(f"{r.label}: `{r.path}`" for r in runs))

    searches = [r for r in runs if r.role != "baseline"]
    baseline_run = compare.find_baseline(runs)
    baseline = compare.baseline_point(baseline_run) if baseline_run is not None else None

    if any(r.n for r in searches):
        hv = compare.hypervolume_summary(runs)
        doc.h(2, "Hypervolume")
        doc.table(fmt_frame(hv), "final normalised hypervolume per group (over seeds)")
        curves = compare.hypervolume_curves(runs)
        figures.append(
            plot_hypervolume_curves(
                curves,
                out / "hypervolume.png",
                ylabel="normalised hypervolume",
                title=f"{first.space_name}: hypervolume over evaluations",
            )
        )
        doc.img("hypervolume.png", "Normalised hypervolume against evaluations (mean over seeds, band min-max)")

        doc.h(2, "Pareto fronts")
        xy = _pareto_xy(first)
        base_xy = {k: baseline[k] for k in xy} if baseline is not None else None
        figures.append(
            plot_pareto_fronts(
                compare.frames_by_group(runs),
                xy,
                out / "pareto_fronts.png",
                baseline=base_xy,
                constraints=first.constraints or None,
                title=f"{first.space_name}: feasible Pareto fronts",
            )
        )
        doc.img(
            "pareto_fronts.png",
            "Pareto fronts of the runs (all points faint, infeasible ones as crosses"
            + ("; the star is the baseline)" if baseline is not None else ")"),
        )

    # ---------------------------------------------------------------- speedups
    speedup = speedup_seeds = None
    if baseline is not None:
        doc.h(2, "Baseline")
        shown = {k: baseline[k] for k in first.output_columns if k in baseline}
        doc.table(fmt_frame(pd.DataFrame([shown])), "the baseline point")
        doc.p(
            "Configuration: `"
            + " ".join(f"{c}={fmt_value(baseline[c])}" for c in baseline_run.choices if c in baseline)
            + "`"
        )
        if searches:
            speedup = compare.run_speedups(runs, targets, wide=True)
            speedup_seeds = compare.run_speedups(runs, targets, wide=False)
            tables["speedup"] = _csv(speedup.reset_index(), out / "speedup.csv")
            tables["speedup_seeds"] = _csv(speedup_seeds, out / "speedup_seeds.csv")
            doc.h(2, "Iso-accuracy speedup")
            doc.p(
                "For each accuracy target, the lowest latency among the feasible points (same area budget as "
                "the baseline) with at least that accuracy, as a speedup over the baseline's latency "
                f"({baseline['latency_s']:.4g} s at accuracy {baseline['accuracy']:.4f}); the mean over seeds, "
                f"with the range and the number of seeds that reach the target. Reference: {CIMNET_REFERENCE}."
            )
            doc.table(format_speedup_table(speedup), "speedup over the baseline")
            columns = ["run", "label", "seed", *SPEEDUP_COLUMNS]
            names = {"run": "group", "label": "run", "best_index": "evaluation"}
            long = speedup_seeds[columns].rename(columns=names)
            long["target_offset"] = [fmt_target(v) for v in long["target_offset"]]
            long["speedup"] = [("-" if pd.isna(v) else f"{v:.2f}x") for v in long["speedup"]]
            doc.table(fmt_frame(long), "per seed: the point that reaches each target fastest")
    elif searches:
        doc.p(
            "No baseline run given (a run whose store is marked role 'baseline', as `cimnet-bo experiment` "
            "writes): no speedup table."
        )

    # ---------------------------------------------------------------- rooflines
    if roofline and any(r.n for r in searches):
        try:
            pts = _roofline_points(runs, speedup_seeds, baseline)
            if pts:
                doc.h(2, "Roofline")
            for stem, caption, point in pts:
                figures.append(plot_point_roofline(point, first.space, out / f"{stem}.png"))
                doc.img(f"{stem}.png", caption)
        except Exception as e:  # noqa: BLE001 - a user space that is not a joint space
            doc.p(f"(no roofline figure: {e})")

    # ---------------------------------------------------------------- per run
    doc.h(2, "Runs in detail")
    for r in runs:
        name = compare.slug(r.label)
        doc.h(3, f"{r.label}")
        if r.role == "baseline":
            doc.p(f"The baseline point: one evaluation. Directory `{r.path}`.")
            continue
        vary = list(r.searched_choices)
        doc.p(
            f"Role **{r.role}**, strategy {r.strategy}, seed {r.seed}, {r.n} of {r.budget} evaluations "
            f"({r.n_failed} failed, {int(r.feasible.sum())} feasible), final hypervolume {r.hypervolume():.4f}. "
            f"Directory `{r.path}`."
        )
        if r.fixed:
            doc.p("Frozen by the problem: `" + " ".join(f"{k}={fmt_value(v)}" for k, v in r.fixed.items()) + "`")
        ptab = r.pareto_table(choices=True)
        tables[f"pareto_{name}"] = _csv(ptab, out / f"pareto_{name}.csv")
        doc.table(
            _pareto_display(r, vary), f"Pareto set of {r.label} ({len(ptab)} points; all columns in pareto_{name}.csv)"
        )
        if per_run_figures and r.n:
            figures.append(
                plot_hypervolume_curves(
                    {r.label: [r.hypervolume_curve()]},
                    out / f"run_{name}_hypervolume.png",
                    band="none",
                    ylabel="normalised hypervolume",
                    title=f"{r.label}",
                )
            )
            doc.img(f"run_{name}_hypervolume.png", f"Hypervolume of {r.label} against evaluations")
            hw = [c for c in r.hardware_choices if c in vary]
            front = r.pareto()
            if hw and len(front):
                x = "latency_s" if "latency_s" in front else r.objectives.names[-1]
                color = "accuracy" if "accuracy" in front else None
                figures.append(
                    plot_hardware_knobs(
                        front,
                        hw,
                        out / f"run_{name}_hardware.png",
                        x=x,
                        color=color,
                        title=f"{r.label}: hardware of the Pareto set",
                    )
                )
                doc.img(f"run_{name}_hardware.png", f"Hardware knobs of the Pareto set of {r.label}")

    md = out / "report.md"
    md.write_text(doc.markdown())
    page = out / "index.html"
    page.write_text(doc.html())
    return Report(
        out=out,
        html=page,
        markdown=md,
        figures=figures,
        tables=tables,
        runs=runs,
        summary=summary,
        speedup=speedup,
        speedup_seeds=speedup_seeds,
        baseline=baseline,
    )


def _csv(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path


__all__ = ["Report", "write_report"]
