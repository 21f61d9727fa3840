"""Several search runs compared: grouped by role and strategy (seeds of one group), the
baseline point, iso-accuracy speedups, and summary tables."""

from __future__ import annotations

import re
from typing import Any, Sequence

import numpy as np
import pandas as pd

from cimnet_bo.analysis.runs import DEFAULT_TARGETS, ROLE_ORDER, RunData, RunLoadError, stored_value
from cimnet_bo.analysis.speedup import speedup_table


def check_comparable(runs: Sequence[RunData]) -> None:
    """Raise :class:`RunLoadError` unless all runs share space, objectives and reference point
    (so their hypervolumes and fronts are on one scale)."""
    if not runs:
        raise RunLoadError("no runs given")
    first = runs[0]
    for r in runs[1:]:
        if r.space_name != first.space_name:
            raise RunLoadError(
                f"runs of different spaces ({first.label}: {first.space_name}, {r.label}: "
                f"{r.space_name}); compare runs of one space at a time"
            )
        if r.objectives != first.objectives:
            raise RunLoadError(
                f"runs with different objectives ({first.label}: {first.objectives.to_dict()}, "
                f"{r.label}: {r.objectives.to_dict()})"
            )
        if r.ref_point != first.ref_point or r.ideal_point != first.ideal_point:
            raise RunLoadError(
                f"runs with different reference points ({first.label}: {first.ref_point}, "
                f"{r.label}: {r.ref_point}); their hypervolumes are not comparable"
                + ("; give the problem a ref_point to compare its runs" if r.ref_source != "given" else "")
            )


def _role_rank(role: str, seen: list[str]) -> tuple[int, int]:
    if role in ROLE_ORDER:
        return (0, ROLE_ORDER.index(role))
    return (1, seen.index(role))


def group_runs(runs: Sequence[RunData], include_baseline: bool = False) -> dict[str, list[RunData]]:
    """Runs grouped as seeds of one setting: ``{group label: [runs sorted by seed]}``.

    The group of a run is its role, plus its strategy when runs of one role used several
    strategies (``"joint (qnehvi)"``, ``"joint (random)"``). Groups follow
    :data:`ROLE_ORDER`; the baseline is left out unless ``include_baseline``.
    """
    seen: list[str] = []
    for r in runs:
        if r.role not in seen:
            seen.append(r.role)
    strategies: dict[str, set[str]] = {}
    for r in runs:
        strategies.setdefault(r.role, set()).add(r.strategy)
    groups: dict[str, list[RunData]] = {}
    for role in sorted(seen, key=lambda x: _role_rank(x, seen)):
        if role == "baseline" and not include_baseline:
            continue
        members = [r for r in runs if r.role == role]
        if len(strategies[role]) > 1 and role != "baseline":
            for strat in sorted(strategies[role]):
                groups[f"{role} ({strat})"] = sorted(
                    (r for r in members if r.strategy == strat), key=lambda r: (r.seed, r.label)
                )
        else:
            groups[role] = sorted(members, key=lambda r: (r.seed, r.label))
    return groups


def hypervolume_curves(runs: Sequence[RunData]) -> dict[str, list[np.ndarray]]:
    """``{group label: [curve per seed]}`` (baseline left out), for
    :func:`~cimnet_bo.analysis.plot_hypervolume_curves`."""
    check_comparable(runs)
    return {g: [r.hypervolume_curve() for r in rs] for g, rs in group_runs(runs).items()}


def frames_by_group(runs: Sequence[RunData]) -> dict[str, list[pd.DataFrame]]:
    """``{group label: [frame per seed]}`` (baseline left out), for
    :func:`~cimnet_bo.analysis.plot_pareto_fronts` and :func:`~cimnet_bo.analysis.speedup_table`."""
    return {g: [r.frame for r in rs] for g, rs in group_runs(runs).items()}


def find_baseline(runs: Sequence[RunData]) -> RunData | None:
    """The run with role ``"baseline"`` (None when there is none).

    Raises
    ------
    RunLoadError
        Several baseline runs with different points.
    """
    base = [r for r in runs if r.role == "baseline"]
    if not base:
        return None
    pts = {tuple(sorted(baseline_point(b).items())) for b in base}
    if len(pts) > 1:
        raise RunLoadError(f"several baseline runs with different points: {[b.label for b in base]}")
    return base[0]


def baseline_point(run: RunData) -> dict[str, Any]:
    """The baseline run's point: its first successful evaluation, as ``{column: value}``
    (objectives, outputs and choices)."""
    ok = run.frame
    if "error" in ok:
        ok = ok[ok["error"].isna()]
    ok = ok.dropna(subset=list(run.objectives.names))
    if ok.empty:
        raise RunLoadError(f"the baseline run {run.label} holds no successful evaluation")
    row = ok.iloc[0]
    cols = [*run.output_columns, *[c for c in run.choices if c in row]]
    return {c: stored_value(row[c]) for c in cols}


def run_speedups(
    runs: Sequence[RunData],
    targets: Sequence[float] = DEFAULT_TARGETS,
    accuracy: str = "accuracy",
    latency: str = "latency_s",
    wide: bool = True,
) -> pd.DataFrame | None:
    """Iso-accuracy speedups of every group over the baseline run (None without a baseline).

    Each group's points must meet the runs' constraints (the same area budget as the
    baseline); see :func:`~cimnet_bo.analysis.speedup_table` for the columns (``wide``: one
    row per target, mean speedup per group with min/max/n over seeds; otherwise one row per
    group, seed and target, with columns ``run`` (the group), ``label`` (the run), ``seed`` (the
    run's seed) and the best point's ``best_index`` being its ``evaluation`` number).
    """
    base = find_baseline(runs)
    others = [r for r in runs if r.role != "baseline"]
    if base is None or not others:
        return None
    check_comparable(runs)
    for name in (accuracy, latency):
        if name not in base.objectives.names:
            raise RunLoadError(f"speedups need the objective {name!r}; the runs optimise {list(base.objectives.names)}")
    bp = baseline_point(base)
    constraints = _shared_constraints(others)
    groups = group_runs(others)
    frames = {g: [r.frame.set_index("evaluation", drop=False) for r in rs] for g, rs in groups.items()}
    table = speedup_table(
        frames,
        bp[latency],
        bp[accuracy],
        targets,
        wide=wide,
        accuracy=accuracy,
        latency=latency,
        constraints=constraints,
    )
    if wide:
        table.attrs["n_seeds"] = {g: len(rs) for g, rs in groups.items()}
        return table
    # speedup_table numbers the frames of a group 0, 1, ...: give each row its run's label and seed
    runs_of = [groups[g][k] for g, k in zip(table["run"], table["seed"])]
    table.insert(1, "label", [r.label for r in runs_of])
    table["seed"] = [r.seed for r in runs_of]
    return table


def _shared_constraints(runs: Sequence[RunData]) -> dict[str, tuple[str, float]]:
    cons = runs[0].constraints
    for r in runs[1:]:
        if r.constraints != cons:
            raise RunLoadError(
                f"runs with different constraints ({runs[0].label}: {cons}, {r.label}: "
                f"{r.constraints}); speedups compare runs under the same budget"
            )
    return cons


def runs_summary(runs: Sequence[RunData]) -> pd.DataFrame:
    """One row per run: label, role, strategy, seed, evaluations (failed, feasible), budget,
    final normalised hypervolume, Pareto-set size, best value of each objective, path."""
    rows = []
    for r in runs:
        row: dict[str, Any] = {
            "run": r.label,
            "role": r.role,
            "strategy": "(one point)" if r.role == "baseline" else r.strategy,
            "seed": r.seed,
            "evaluations": r.n,
            "failed": r.n_failed,
            "feasible": int(r.feasible.sum()),
            "budget": r.budget,
            "hypervolume": r.hypervolume(),
            "pareto_points": len(r.pareto()),
        }
        for k, v in r.best().items():
            row[f"best {k}"] = v
        row["path"] = str(r.path)
        rows.append(row)
    return pd.DataFrame(rows)


def hypervolume_summary(runs: Sequence[RunData]) -> pd.DataFrame:
    """Final normalised hypervolume per group: mean, std, min, max over seeds, and the mean
    number of evaluations."""
    rows = []
    for g, rs in group_runs(runs).items():
        hv = np.array([r.hypervolume() for r in rs])
        rows.append(
            {
                "group": g,
                "seeds": len(rs),
                "evaluations": float(np.mean([r.n for r in rs])),
                "hypervolume mean": float(hv.mean()),
                "hypervolume std": float(hv.std(ddof=1)) if len(hv) > 1 else float("nan"),
                "hypervolume min": float(hv.min()),
                "hypervolume max": float(hv.max()),
            }
        )
    return pd.DataFrame(rows)


def slug(text: str) -> str:
    """A file-name-safe version of a label."""
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")
    return s or "run"


__all__ = [
    "check_comparable",
    "group_runs",
    "hypervolume_curves",
    "frames_by_group",
    "find_baseline",
    "baseline_point",
    "run_speedups",
    "runs_summary",
    "hypervolume_summary",
    "slug",
]
