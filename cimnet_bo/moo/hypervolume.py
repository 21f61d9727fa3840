"""Exact hypervolume and hypervolume curves over evaluations.

Conventions
-----------
* Points ``Y`` (n x m) and the reference point ``ref_point`` (m,) are given in the
  objectives' own units, with a direction per column (``"max"`` / ``"min"``). Internally every
  column is turned into one to minimise (maximised columns negated).
* The hypervolume is the Lebesgue measure of the region dominated by the points and bounded
  by the reference point. Points that are not strictly better than the reference point in every
  objective contribute nothing, as do rows with a NaN (failed evaluations).

Algorithms (all exact)
----------------------
* 1 objective: the distance from the best point to the reference.
* 2 objectives: sort-and-sweep over the non-dominated points, O(n log n).
* 3 objectives: dimension sweep along the last objective, maintaining the 2-D front of the
  points seen so far incrementally (each insertion updates its area), O(n k) for a front of k.
* 4+ objectives: hypervolume by slicing objectives (HSO, While et al. 2006): a sweep along the
  last objective, computing the (m-1)-dimensional hypervolume of each slice recursively down
  to the 3-D case. Exact, recursion depth m; fine for the front sizes of a search (hundreds).

The tests check these against BoTorch's ``Hypervolume`` and pymoo's ``HV``.

Normalised hypervolumes (log10 latency, a [0, 1] box) are computed with
:class:`~cimnet_bo.moo.scale.HypervolumeScale`.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import Any

import numpy as np

from cimnet_bo.moo.objectives import DirectionsLike, as_directions, as_matrix, to_minimization
from cimnet_bo.moo.pareto import nondominated_min


# ====================================================================== input checks
def _prepare(Y: Any, ref_point: Any, directions: DirectionsLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(Z, r, valid): minimisation matrix (n x m), reference (m,), rows strictly better than r."""
    A = as_matrix(Y)
    m = A.shape[1]
    ref = np.asarray(ref_point, dtype=float).reshape(-1)
    if ref.shape != (m,):
        raise ValueError(f"ref_point has length {ref.size}, but Y has {m} objective columns (shape {A.shape})")
    if not np.all(np.isfinite(ref)):
        raise ValueError(f"ref_point must be finite, got {ref.tolist()}")
    dirs = as_directions(directions, m)
    Z = to_minimization(A, dirs)
    r = to_minimization(ref, dirs)
    with np.errstate(invalid="ignore"):
        valid = np.all(Z < r, axis=1) & ~np.any(np.isnan(Z), axis=1)
    return Z, r, valid


# ====================================================================== exact algorithms
def _hv2d(Z: np.ndarray, r: np.ndarray) -> float:
    """Sort-and-sweep; Z (n x 2) non-dominated (duplicates allowed), all < r."""
    order = np.lexsort((Z[:, 1], Z[:, 0]))
    x, y = Z[order, 0], Z[order, 1]
    nxt = np.append(x[1:], r[0])
    return float(np.sum((nxt - x) * (r[1] - y)))


class _Front2D:
    """A 2-D minimisation front with its dominated area, updated one point at a time.

    ``x`` ascending, ``y`` strictly descending (no dominated points, no duplicates).
    """

    def __init__(self, r0: float, r1: float) -> None:
        self.r0, self.r1 = float(r0), float(r1)
        self.x: list[float] = []
        self.y: list[float] = []
        self.area = 0.0

    def add(self, p0: float, p1: float) -> float:
        """Insert a point strictly better than the reference; return the area it adds."""
        x, y = self.x, self.y
        k = bisect_right(x, p0)
        if k > 0 and y[k - 1] <= p1:  # dominated by, or equal to, a front point
            return 0.0
        i = bisect_left(x, p0)
        h = y[i - 1] if i > 0 else self.r1  # front height left of p0 (> p1)
        xs = p0
        delta = 0.0
        j = i
        while j < len(x) and y[j] >= p1:  # front points that p dominates
            delta += (x[j] - xs) * (h - p1)
            xs, h = x[j], y[j]
            j += 1
        xe = x[j] if j < len(x) else self.r0
        delta += (xe - xs) * (h - p1)
        del x[i:j], y[i:j]
        x.insert(i, p0)
        y.insert(i, p1)
        self.area += delta
        return delta


def _hv_min(Z: np.ndarray, r: np.ndarray) -> float:
    """Exact hypervolume of a minimisation set Z (n x m), every row < r."""
    n, m = Z.shape
    if n == 0:
        return 0.0
    if m == 1:
        return float(r[0] - Z[:, 0].min())
    Z = Z[nondominated_min(Z)]
    if m == 2:
        return _hv2d(Z, r)
    order = np.argsort(Z[:, -1], kind="mergesort")
    Z = Z[order]
    last = np.append(Z[1:, -1], r[-1])
    thick = last - Z[:, -1]
    total = 0.0
    if m == 3:
        front = _Front2D(r[0], r[1])
        for i in range(len(Z)):
            front.add(Z[i, 0], Z[i, 1])
            if thick[i] > 0:
                total += front.area * thick[i]
        return float(total)
    for i in range(len(Z)):  # HSO: slice along the last objective
        if thick[i] > 0:
            total += _hv_min(Z[: i + 1, :-1], r[:-1]) * thick[i]
    return float(total)


def hypervolume(Y: Any, ref_point: Any, directions: DirectionsLike) -> float:
    """Exact hypervolume dominated by ``Y`` and bounded by ``ref_point``.

    Parameters
    ----------
    Y : array (n x m)
        Objective values in their own units (a 1-D array is one point).
    ref_point : array (m,)
        The reference point, in the same units; it should be worse than every point of
        interest (points not strictly better in every objective contribute nothing).
    directions : sequence of {"max", "min"} (m,)
        Direction per column (or a ``{name: direction}`` mapping, used in order).

    Returns
    -------
    float
        The hypervolume in the product of the objectives' units (0.0 for no valid point).

    Raises
    ------
    ValueError
        ``ref_point`` of the wrong length or not finite, an unknown direction, or a number of
        directions different from the number of columns.
    """
    Z, r, valid = _prepare(Y, ref_point, directions)
    return _hv_min(Z[valid], r)


def hypervolume_curve(Y: Any, ref_point: Any, directions: DirectionsLike) -> np.ndarray:
    """Hypervolume of the first ``k`` evaluations, for every ``k``.

    Parameters
    ----------
    Y : array (n x m)
        Objective values in evaluation order (rows with NaN, i.e. failed evaluations, add
        nothing).
    ref_point : array (m,)
    directions : sequence of {"max", "min"} (m,)

    Returns
    -------
    array (n,)
        ``curve[k-1] = hypervolume(Y[:k], ref_point, directions)``; non-decreasing.

    Notes
    -----
    Incremental: in 2-D each new point updates the dominated area of a sorted front in
    O(log k + removed points); in 3+ objectives the gain of a new non-dominated point ``p`` is
    its exclusive contribution ``prod(r - p) - HV({max(p, f) : f in front})`` (as in WFG).
    """
    Z, r, valid = _prepare(Y, ref_point, directions)
    n, m = Z.shape
    out = np.zeros(n)
    if m == 1:
        best = r[0]
        for i in range(n):
            if valid[i]:
                best = min(best, Z[i, 0])
            out[i] = r[0] - best
        return out
    if m == 2:
        front = _Front2D(r[0], r[1])
        for i in range(n):
            if valid[i]:
                front.add(Z[i, 0], Z[i, 1])
            out[i] = front.area
        return out
    F = np.empty((0, m))
    hv = 0.0
    for i in range(n):
        if valid[i]:
            p = Z[i]
            if not np.any(np.all(F <= p, axis=1)):
                limited = np.maximum(F, p)
                hv += float(np.prod(r - p)) - _hv_min(limited, r)
                keep = ~np.all(p <= F, axis=1)
                F = np.vstack([F[keep], p])
        out[i] = hv
    return out


__all__ = ["hypervolume", "hypervolume_curve"]
