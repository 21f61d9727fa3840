"""Iso-accuracy speedup: how much faster than a baseline a search got at a given accuracy.

For an accuracy target ``t = baseline_accuracy + offset``, the best latency of a run is the
smallest latency among its (feasible, successfully evaluated) points with accuracy ``>= t``;
the speedup is ``baseline_latency / best_latency``. CiMNet reports it at the baseline's
accuracy (offset 0) for model-only and for joint search (1.7x and 3.1x on ViT-B/ImageNet);
offsets of -0.005 and -0.01 are half a point and one point below when accuracy is a fraction.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from cimnet_bo.moo import ConstraintsLike, feasible_mask

#: Iso-accuracy targets reported by default: the baseline's accuracy, 0.5 and 1 point below.
DEFAULT_TARGETS: tuple[float, ...] = (0.0, -0.005, -0.01)
#: Columns of :func:`iso_accuracy_speedup`'s table, in order.
SPEEDUP_COLUMNS: tuple[str, ...] = (
    "target_offset",
    "target_accuracy",
    "n_points",
    "best_latency",
    "best_accuracy",
    "best_index",
    "speedup",
    "reason",
)


def _check_baseline(baseline_latency: float, baseline_accuracy: float) -> tuple[float, float]:
    try:
        bl, ba = float(baseline_latency), float(baseline_accuracy)
    except (TypeError, ValueError):
        raise ValueError(
            f"baseline_latency and baseline_accuracy must be numbers, got "
            f"{baseline_latency!r} and {baseline_accuracy!r}"
        ) from None
    if not (math.isfinite(bl) and bl > 0):
        raise ValueError(f"baseline_latency must be a finite number > 0, got {baseline_latency!r}")
    if not math.isfinite(ba):
        raise ValueError(f"baseline_accuracy must be finite, got {baseline_accuracy!r}")
    return bl, ba


def iso_accuracy_speedup(
    df: pd.DataFrame,
    baseline_latency: float,
    baseline_accuracy: float,
    targets: Sequence[float] = DEFAULT_TARGETS,
    accuracy: str = "accuracy",
    latency: str = "latency_s",
    constraints: ConstraintsLike | None = None,
    atol: float = 1e-9,
) -> pd.DataFrame:
    """Best latency and speedup over a baseline at each accuracy target.

    Parameters
    ----------
    df : pandas.DataFrame (n rows)
        Evaluated points with an ``accuracy`` and a ``latency`` column. Rows with a NaN in
        either are ignored (failed evaluations), as are rows failing ``constraints``.
    baseline_latency : float
        Latency of the baseline point (same unit as the ``latency`` column), > 0.
    baseline_accuracy : float
        Accuracy of the baseline point (same unit as the ``accuracy`` column).
    targets : sequence of float (t,)
        Offsets added to ``baseline_accuracy``; ``0.0`` is iso-accuracy, ``-0.01`` one point
        lower for accuracy in [0, 1].
    accuracy, latency : str
        Column names.
    constraints : mapping, optional
        E.g. ``{"area_mm2": budget}``; see :func:`~cimnet_bo.moo.feasible_mask`.
    atol : float
        A point reaches a target when ``accuracy >= target - atol`` (so that
        ``0.9 - 0.005`` still admits a point at ``0.895``).

    Returns
    -------
    pandas.DataFrame (t rows)
        Columns :data:`SPEEDUP_COLUMNS`: ``target_offset``, ``target_accuracy``, ``n_points``
        (points reaching the target), ``best_latency``, ``best_accuracy`` (the accuracy of
        that point), ``best_index`` (its index label in ``df``), ``speedup``
        (``baseline_latency / best_latency``) and ``reason``: ``""`` when the target was
        reached, otherwise why ``best_latency`` and ``speedup`` are NaN. Ties in latency go to
        the higher accuracy, then to the earlier row.
    """
    bl, ba = _check_baseline(baseline_latency, baseline_accuracy)
    for col, what in ((accuracy, "accuracy"), (latency, "latency")):
        if col not in df:
            raise ValueError(f"unknown {what} column {col!r}; the table has {list(df.columns)}")
    targets = [float(t) for t in np.atleast_1d(np.asarray(targets, dtype=float))]
    acc = df[accuracy].to_numpy(dtype=float)
    lat = df[latency].to_numpy(dtype=float)
    finite = ~np.isnan(acc) & ~np.isnan(lat)
    feas = feasible_mask(df, constraints)
    ok = finite & feas
    rows = []
    for off in targets:
        t = ba + off
        row: dict[str, Any] = {
            "target_offset": off,
            "target_accuracy": t,
            "n_points": 0,
            "best_latency": np.nan,
            "best_accuracy": np.nan,
            "best_index": None,
            "speedup": np.nan,
            "reason": "",
        }
        reach = ok & (acc >= t - atol)
        row["n_points"] = int(reach.sum())
        if not finite.any():
            row["reason"] = "no successfully evaluated point"
        elif not ok.any():
            row["reason"] = f"no point meets the constraints {dict(constraints or {})}"
        elif not reach.any():
            row["reason"] = f"no point reaches {accuracy} >= {t:.6g} (best {accuracy} {acc[ok].max():.6g})"
        else:
            idx = np.flatnonzero(reach)
            order = np.lexsort((-acc[idx], lat[idx]))  # latency, then higher accuracy
            best = idx[order[0]]
            row["best_latency"] = lat[best]
            row["best_accuracy"] = acc[best]
            row["best_index"] = df.index[best]
            row["speedup"] = bl / lat[best] if lat[best] > 0 else np.inf
        rows.append(row)
    return pd.DataFrame(rows, columns=list(SPEEDUP_COLUMNS))


def speedup_table(
    runs: Mapping[str, pd.DataFrame | Sequence[pd.DataFrame]],
    baseline_latency: float,
    baseline_accuracy: float,
    targets: Sequence[float] = DEFAULT_TARGETS,
    *,
    wide: bool = False,
    **options: Any,
) -> pd.DataFrame:
    """Iso-accuracy speedups of several runs (e.g. model-only and joint) in one table.

    Parameters
    ----------
    runs : {label: DataFrame or list of DataFrames}
        One table per run, or one per seed of a run; labels in the order to report.
    baseline_latency, baseline_accuracy, targets
        As in :func:`iso_accuracy_speedup`, shared by all runs.
    wide : bool
        False (default): the long table, one row per (run, seed, target), with columns
        ``run``, ``seed`` and :data:`SPEEDUP_COLUMNS`. True: one row per target (index
        ``target_offset``, ``target_accuracy``), one column per run label holding the mean
        speedup over the seeds that reached the target (NaN if none did); runs with several
        seeds also get ``"<label> min"``, ``"<label> max"`` and ``"<label> n"`` (number of
        seeds that reached the target).
    **options
        ``accuracy``, ``latency``, ``constraints``, ``atol``: as in :func:`iso_accuracy_speedup`.
    """
    _check_baseline(baseline_latency, baseline_accuracy)
    if not isinstance(runs, Mapping) or not runs:
        raise ValueError("runs must be a non-empty dict {label: DataFrame or list of DataFrames}")
    parts = []
    n_seeds: dict[str, int] = {}
    for label, value in runs.items():
        frames = [value] if isinstance(value, pd.DataFrame) else list(value)
        if not frames or not all(isinstance(f, pd.DataFrame) for f in frames):
            raise ValueError(f"run {label!r}: expected a DataFrame or a non-empty list of DataFrames")
        n_seeds[label] = len(frames)
        for seed, frame in enumerate(frames):
            t = iso_accuracy_speedup(frame, baseline_latency, baseline_accuracy, targets, **options)
            t.insert(0, "seed", seed)
            t.insert(0, "run", str(label))
            parts.append(t)
    long = pd.concat(parts, ignore_index=True)
    if not wide:
        return long
    keys = ["target_offset", "target_accuracy"]
    out = long[keys].drop_duplicates().reset_index(drop=True)
    for label in runs:
        sub = long[long["run"] == str(label)]
        g = sub.groupby(keys, sort=False)["speedup"]
        stats = pd.DataFrame({"mean": g.mean(), "min": g.min(), "max": g.max(), "n": g.count()}).reset_index()
        merged = out[keys].merge(stats, on=keys, how="left")
        out[str(label)] = merged["mean"].to_numpy()
        if n_seeds[label] > 1:
            out[f"{label} min"] = merged["min"].to_numpy()
            out[f"{label} max"] = merged["max"].to_numpy()
            out[f"{label} n"] = merged["n"].to_numpy().astype(int)
    return out.set_index(keys)


__all__ = ["DEFAULT_TARGETS", "iso_accuracy_speedup", "speedup_table", "SPEEDUP_COLUMNS"]
