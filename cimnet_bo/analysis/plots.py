"""Figures (matplotlib, PNG): Pareto fronts, hypervolume curves, hardware knobs, roofline.

Figures are drawn on the Agg canvas directly (``matplotlib.figure.Figure``), so they work
headless and leave pyplot's global backend and figure list alone (also inside notebooks).
Every function writes the PNG at ``path`` (creating its folder) and returns the path.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from cimnet_bo.analysis.curves import aggregate_curves
from cimnet_bo.core import plain
from cimnet_bo.moo import LOG_OBJECTIVES, ConstraintsLike, Objectives, ObjectivesLike, feasible_mask, pareto_front
from cimnet_bo.space import SpaceLike

RunsLike = Mapping[str, "pd.DataFrame | Sequence[pd.DataFrame]"]


def _figure(nrows: int = 1, ncols: int = 1, figsize: tuple[float, float] = (6.4, 4.4)):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def _save(fig: Any, path: str | Path, dpi: int = 110) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, format="png")
    return path


def _finish(fig: Any, ax: Any, title: str | None, path: str | Path) -> Path:
    """Legend and title of a one-panel figure, then :func:`_save`."""
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def _frames(label: str, value: Any) -> list[pd.DataFrame]:
    frames = [value] if isinstance(value, pd.DataFrame) else list(value)
    if not frames or not all(isinstance(f, pd.DataFrame) for f in frames):
        raise ValueError(f"run {label!r}: expected a DataFrame or a non-empty list of DataFrames")
    return frames


def _colors(n: int) -> list[Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    return [cmap(i % 10) for i in range(n)]


def plot_pareto_fronts(
    runs: RunsLike,
    objectives: ObjectivesLike,
    path: str | Path,
    baseline: Mapping[str, float] | None = None,
    constraints: ConstraintsLike | None = None,
    x: str | None = None,
    log_x: bool | None = None,
    title: str | None = None,
) -> Path:
    """Pareto fronts of several runs overlaid, over all their points drawn faintly.

    Parameters
    ----------
    runs : {label: DataFrame or list of DataFrames}
        Evaluated points per run (or per seed of a run: one front per seed, same colour).
    objectives : {name: direction} with exactly 2 entries
        E.g. ``{"accuracy": "max", "latency_s": "min"}``.
    path : str or Path
        The PNG to write.
    baseline : {name: value}, optional
        A reference point to mark (both objectives' values), e.g. the baseline design.
    constraints : mapping, optional
        Fronts use only feasible points; infeasible ones are drawn as faint grey crosses.
    x : str, optional
        The objective on the horizontal axis: by default the first one named in
        :data:`~cimnet_bo.moo.LOG_OBJECTIVES`, else the second objective.
    log_x : bool, optional
        Log-scale horizontal axis; by default when ``x`` is in ``LOG_OBJECTIVES`` and all its
        values are positive.
    title : str, optional

    Returns
    -------
    Path
        ``path``. Each front is drawn as the staircase of what it attains.
    """
    obj = Objectives.parse(objectives)
    if len(obj) != 2:
        raise ValueError(f"plot_pareto_fronts needs exactly 2 objectives, got {list(obj.names)}")
    if not isinstance(runs, Mapping) or not runs:
        raise ValueError("runs must be a non-empty dict {label: DataFrame or list of DataFrames}")
    if x is None:
        x = next((n for n in obj.names if n in LOG_OBJECTIVES), obj.names[1])
    if x not in obj.names:
        raise ValueError(f"unknown objective {x!r} for x; objectives are {list(obj.names)}")
    y = obj.names[1] if x == obj.names[0] else obj.names[0]
    step = "steps-post" if obj.direction(x) == "min" else "steps-pre"
    all_frames = {label: _frames(label, v) for label, v in runs.items()}
    xs_all = np.concatenate([f[x].to_numpy(dtype=float) for fs in all_frames.values() for f in fs] or [np.zeros(0)])
    xs_all = xs_all[~np.isnan(xs_all)]
    if log_x is None:
        log_x = x in LOG_OBJECTIVES and bool(len(xs_all)) and bool(np.all(xs_all > 0))

    fig, axes = _figure()
    ax = axes[0, 0]
    for color, (label, frames) in zip(_colors(len(all_frames)), all_frames.items()):
        for k, f in enumerate(frames):
            feas = feasible_mask(f, constraints)
            ax.scatter(f.loc[feas, x], f.loc[feas, y], s=8, color=color, alpha=0.15, lw=0)
            if constraints and (~feas).any():
                ax.scatter(f.loc[~feas, x], f.loc[~feas, y], s=8, color="0.6", alpha=0.3, marker="x", lw=0.6)
            front = pareto_front(f, obj, constraints).sort_values([x, y], kind="mergesort")
            if len(front):
                n_seeds = len(frames)
                ax.plot(
                    front[x],
                    front[y],
                    drawstyle=step,
                    color=color,
                    lw=1.8 if n_seeds == 1 else 1.2,
                    alpha=1.0 if n_seeds == 1 else 0.8,
                    marker="o",
                    ms=3.5,
                    label=(f"{label}" if n_seeds == 1 else f"{label} ({n_seeds} seeds)") if k == 0 else None,
                )
    if baseline is not None:
        missing = [n for n in (x, y) if n not in baseline]
        if missing:
            raise ValueError(f"baseline lacks {missing}; it needs a value for {x!r} and {y!r}")
        ax.scatter([baseline[x]], [baseline[y]], marker="*", s=180, color="black", zorder=5, label="baseline")
    if log_x:
        ax.set_xscale("log")
    ax.set_xlabel(f"{x} ({obj.direction(x)})" + (" [log]" if log_x else ""))
    ax.set_ylabel(f"{y} ({obj.direction(y)})")
    ax.grid(True, which="both", alpha=0.25)
    return _finish(fig, ax, title, path)


def plot_hypervolume_curves(
    curves: Mapping[str, Sequence[Any]],
    path: str | Path,
    band: str = "minmax",
    pad: str = "none",
    ylabel: str = "hypervolume",
    title: str | None = None,
) -> Path:
    """Hypervolume against evaluations: the mean over seeds with a band, one colour per run.

    Parameters
    ----------
    curves : {label: list of arrays (n_i,)}
        Curves per run label (one per seed; a single array is accepted as one seed).
    path : str or Path
    band : {"minmax", "std", "none"}
        The shaded band: min to max over seeds, mean +- one standard deviation, or none.
    pad : {"none", "last"}
        How curves of different lengths are aggregated (:func:`aggregate_curves`).
    ylabel, title : str
    """
    if band not in ("minmax", "std", "none"):
        raise ValueError(f"unknown band {band!r}; use 'minmax', 'std' or 'none'")
    if not isinstance(curves, Mapping) or not curves:
        raise ValueError("curves must be a non-empty dict {label: list of curves}")
    fig, axes = _figure()
    ax = axes[0, 0]
    for color, (label, cs) in zip(_colors(len(curves)), curves.items()):
        if isinstance(cs, np.ndarray) and cs.ndim == 1:
            cs = [cs]
        agg = aggregate_curves(list(cs), pad=pad)
        if agg.empty:
            continue
        n = int(agg["count"].max())
        ax.plot(
            agg["evaluation"], agg["mean"], color=color, lw=1.8, label=label if n == 1 else f"{label} (mean of {n})"
        )
        if band != "none" and n > 1:
            if band == "minmax":
                lo, hi = agg["min"], agg["max"]
            else:
                sd = agg["std"].fillna(0.0)
                lo, hi = agg["mean"] - sd, agg["mean"] + sd
            ax.fill_between(agg["evaluation"], lo, hi, color=color, alpha=0.2, lw=0)
    ax.set_xlabel("evaluations")
    ax.set_ylabel(ylabel + ("" if band == "none" else f" (band: {band})"))
    ax.grid(True, alpha=0.25)
    return _finish(fig, ax, title, path)


def plot_hardware_knobs(
    df: pd.DataFrame,
    knobs: Sequence[str],
    path: str | Path,
    x: str = "latency_s",
    color: str | None = "accuracy",
    log_x: bool | None = None,
    ncols: int = 4,
    title: str | None = None,
) -> Path:
    """Small multiples: each hardware knob's value against ``x`` for the given points.

    Parameters
    ----------
    df : pandas.DataFrame (k rows)
        Typically the Pareto-optimal points (:func:`pareto_front`), with the knob columns.
    knobs : sequence of str
        Knob columns, one panel each. Text-valued knobs (``cell``) get one row per category;
        positive numeric knobs spanning a factor of 8 or more use a log2 axis.
    path : str or Path
    x : str
        The column on every panel's horizontal axis (log scale by default for latency/energy).
    color : str or None
        Column to colour the points by (with a colour bar); skipped when absent or None.
    log_x : bool, optional
    ncols : int
        Panels per row.
    title : str, optional
    """
    knobs = list(knobs)
    if not knobs:
        raise ValueError("knobs must name at least one column")
    missing = [k for k in [*knobs, x] if k not in df]
    if missing:
        raise ValueError(f"unknown column(s) {missing}; the table has {list(df.columns)}")
    xv = df[x].to_numpy(dtype=float)
    if log_x is None:
        log_x = x in LOG_OBJECTIVES and bool(np.all(xv[~np.isnan(xv)] > 0))
    ncols = max(1, min(int(ncols), len(knobs)))
    nrows = math.ceil(len(knobs) / ncols)
    fig, axes = _figure(nrows, ncols, figsize=(3.2 * ncols + 0.8, 2.6 * nrows + 0.4))
    cv = None
    if color is not None and color in df:
        cv = df[color].to_numpy(dtype=float)
    sc = None
    for i, knob in enumerate(knobs):
        ax = axes[i // ncols, i % ncols]
        col = df[knob]
        if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
            cats = sorted(col.dropna().astype(str).unique())
            yv = col.astype(str).map({c: j for j, c in enumerate(cats)}).to_numpy(dtype=float)
            ax.set_yticks(range(len(cats)))
            ax.set_yticklabels(cats)
            ax.set_ylim(-0.5, len(cats) - 0.5)
        else:
            yv = col.to_numpy(dtype=float)
            fin = yv[~np.isnan(yv)]
            if len(fin) and np.all(fin > 0) and fin.max() / fin.min() >= 8:
                from matplotlib.ticker import FuncFormatter

                ax.set_yscale("log", base=2)
                ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        sc = ax.scatter(
            xv,
            yv,
            c=cv if cv is not None else "tab:blue",
            s=18,
            cmap="viridis" if cv is not None else None,
            edgecolors="none",
        )
        if log_x:
            ax.set_xscale("log")
        ax.set_title(knob, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.grid(True, which="both", alpha=0.2)
        if i // ncols == nrows - 1 or i + ncols >= len(knobs):
            ax.set_xlabel(x, fontsize=8)
    for j in range(len(knobs), nrows * ncols):
        axes[j // ncols, j % ncols].set_visible(False)
    fig.tight_layout(rect=(0, 0, 0.9 if cv is not None else 1, 0.95 if title else 1))
    if cv is not None and sc is not None:
        cax = fig.add_axes((0.92, 0.15, 0.015, 0.7))
        fig.colorbar(sc, cax=cax, label=color)
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(fig, path)


def plot_point_roofline(
    point: Mapping[str, Any] | pd.Series, space: SpaceLike, path: str | Path, tech: Any | None = None
) -> Path:
    """Roofline of one evaluated point: its subnet's layers on its chip.

    Delegates to :func:`cimnet_bo.hardware.plot_roofline`.

    Parameters
    ----------
    point : mapping or pandas.Series
        A joint configuration, e.g. a row of a Pareto front; keys other than the space's
        choices (objectives, ids) are ignored.
    space : JointSpace or str
        The joint space (or its registered name) the point belongs to.
    path : str or Path
    tech : Technology, optional
        Model constants (default: the model page's).
    """
    from cimnet_bo.hardware import plot_roofline
    from cimnet_bo.space import as_space, is_joint
    from cimnet_bo.workload import layer_table

    space = as_space(space)
    if not is_joint(space):
        raise ValueError(f"space must be a joint space (subnet x hardware) or its name, got {type(space).__name__}")
    if isinstance(point, pd.Series):
        point = point.to_dict()
    missing = [n for n in space.names if n not in point]
    if missing:
        raise ValueError(f"the point lacks the choice(s) {missing} of space {space.name!r}")

    sub = space.subnet.validate({n: plain(point[n]) for n in space.subnet.names})
    hw = space.hardware.validate({n: plain(point[n]) for n in space.hardware.names})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return plot_roofline(layer_table(space, sub), hw, path, tech=tech)


__all__ = ["plot_pareto_fronts", "plot_hypervolume_curves", "plot_hardware_knobs", "plot_point_roofline"]
