"""Pareto-optimal points of arrays and tables, with optional feasibility.

Dominance (after turning every objective into one to minimise): ``a`` dominates ``b`` when
``a <= b`` in every objective and ``a < b`` in at least one. A point is Pareto-optimal when
no other point dominates it; identical points do not dominate each other, so
:func:`pareto_mask` marks every copy of an optimal point, and :func:`pareto_front` keeps
only the first copy. Rows with a NaN objective (failed evaluations) and infeasible rows are
never optimal, and do not dominate anything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from cimnet_bo.moo.constraints import ConstraintsLike, feasible_mask
from cimnet_bo.moo.objectives import DirectionsLike, Objectives, ObjectivesLike, as_matrix, to_minimization

if TYPE_CHECKING:
    import pandas as pd


def _nondominated_2d(Z: np.ndarray) -> np.ndarray:
    """Minimisation, 2 columns, all finite: O(n log n) sweep."""
    n = len(Z)
    order = np.lexsort((Z[:, 1], Z[:, 0]))  # by z0, then z1
    S = Z[order]
    # start of each run of identical rows
    new = np.ones(n, dtype=bool)
    new[1:] = np.any(S[1:] != S[:-1], axis=1)
    group_start = np.maximum.accumulate(np.where(new, np.arange(n), 0))
    # best z1 over all rows strictly before each row's group
    prefix_min = np.concatenate(([np.inf], np.minimum.accumulate(S[:, 1])))
    best_before = prefix_min[group_start]
    keep_sorted = S[:, 1] < best_before
    keep = np.empty(n, dtype=bool)
    keep[order] = keep_sorted
    return keep


def _nondominated_nd(Z: np.ndarray, chunk: int = 256) -> np.ndarray:
    """Minimisation, any number of columns, all finite.

    Rows are visited in lexicographic order (a row can be dominated only by rows before it or
    identical to it); each still-optimal row removes the rows it dominates, vectorised. Cost
    O(n * k * m) for a front of k points.
    """
    n = len(Z)
    order = np.lexsort(Z.T[::-1])
    S = Z[order]
    keep = np.ones(n, dtype=bool)
    for i in range(n):
        if not keep[i]:
            continue
        rest = S[i + 1 :]
        dominated = np.all(S[i] <= rest, axis=1) & np.any(S[i] < rest, axis=1)
        keep[i + 1 :] &= ~dominated
    out = np.empty(n, dtype=bool)
    out[order] = keep
    return out


def nondominated_min(Z: np.ndarray) -> np.ndarray:
    """Pareto mask (n,) of a finite minimisation matrix ``Z`` (n x m)."""
    if len(Z) == 0:
        return np.zeros(0, dtype=bool)
    if Z.shape[1] == 1:
        return Z[:, 0] == Z[:, 0].min()
    if Z.shape[1] == 2:
        return _nondominated_2d(Z)
    return _nondominated_nd(Z)


def pareto_mask(
    Y: Any, directions: DirectionsLike, feasible: Any | None = None, deduplicate: bool = False
) -> np.ndarray:
    """Which points are Pareto-optimal.

    Parameters
    ----------
    Y : array (n x m)
        Objective values in their own units.
    directions : sequence of {"max", "min"} (m,)
        Direction of each column (or a ``{name: direction}`` mapping, used in order).
    feasible : bool array (n,), optional
        Rows that are allowed; the others are neither optimal nor dominate anything.
    deduplicate : bool
        Mark only the first copy of optimal rows with identical objectives.

    Returns
    -------
    bool array (n,)
        True for Pareto-optimal rows; every copy of a duplicated optimal row is True unless
        ``deduplicate``. Rows with a NaN objective are False.
    """
    A = as_matrix(Y)
    Z = to_minimization(A, directions)
    ok = ~np.any(np.isnan(Z), axis=1)
    if feasible is not None:
        f = np.asarray(feasible, dtype=bool).reshape(-1)
        if f.shape != (len(A),):
            raise ValueError(f"feasible must be a bool array ({len(A)},), got shape {f.shape}")
        ok &= f
    out = np.zeros(len(A), dtype=bool)
    idx = np.flatnonzero(ok)
    out[idx] = nondominated_min(Z[idx])
    if deduplicate and out.any():
        opt = np.flatnonzero(out)
        _, first = np.unique(Z[opt], axis=0, return_index=True)
        out[:] = False
        out[opt[first]] = True
    return out


def pareto_front(
    df: pd.DataFrame,
    objectives: ObjectivesLike,
    constraints: ConstraintsLike | None = None,
    feasible: Any | None = None,
    keep_duplicates: bool = False,
) -> pd.DataFrame:
    """The Pareto-optimal rows of a table.

    Parameters
    ----------
    df : pandas.DataFrame (n rows)
        One row per evaluated point, a column per objective (other columns are kept).
    objectives : {name: "max" | "min"} or list of (name, direction)
    constraints : mapping, optional
        ``{column: bound}`` (``column <= bound``) or ``{column: (op, bound)}``; see
        :func:`~cimnet_bo.moo.feasible_mask`.
    feasible : str or bool array (n,), optional
        A boolean column name or mask of allowed rows, combined with ``constraints``.
    keep_duplicates : bool
        Keep every row whose objectives repeat another optimal row's (default: the first only).

    Returns
    -------
    pandas.DataFrame (k rows)
        The optimal rows with their original index, sorted by the objectives' values in the
        given order, ascending (the first objective first, ties broken by the next).
    """
    obj = Objectives.parse(objectives)
    Y = obj.matrix(df)
    ok = feasible_mask(df, constraints)
    if feasible is not None:
        if isinstance(feasible, str):
            if feasible not in df:
                raise ValueError(f"unknown feasibility column {feasible!r}")
            f = df[feasible].fillna(False).to_numpy(dtype=bool)
        else:
            f = np.asarray(feasible, dtype=bool).reshape(-1)
            if f.shape != (len(df),):
                raise ValueError(f"feasible must be a bool array ({len(df)},), got shape {f.shape}")
        ok &= f
    mask = pareto_mask(Y, obj.directions, ok)
    front = df.loc[mask]
    if not keep_duplicates:
        front = front.loc[~front.duplicated(subset=list(obj.names), keep="first")]
    return front.sort_values(list(obj.names), kind="mergesort")


def best_values(Y: Any, objectives: ObjectivesLike, feasible: Any | None = None) -> dict[str, float]:
    """Best value of each objective over the ``feasible`` rows (NaN where there is none).

    Parameters
    ----------
    Y : array (n x m)
        Objective values in their own units, columns in ``objectives`` order.
    objectives : {name: direction} or list of pairs (m)
    feasible : bool array (n,), optional
    """
    obj = Objectives.parse(objectives)
    A = as_matrix(Y) if len(np.asarray(Y)) else np.empty((0, len(obj)))
    if feasible is not None:
        A = A[np.asarray(feasible, dtype=bool).reshape(-1)]
    out = {}
    for j, (name, d) in enumerate(obj):
        col = A[:, j][~np.isnan(A[:, j])]
        out[name] = float(col.max() if d == "max" else col.min()) if len(col) else float("nan")
    return out


__all__ = ["pareto_mask", "pareto_front", "nondominated_min", "best_values"]
