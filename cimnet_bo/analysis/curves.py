"""Hypervolume curves of several runs (seeds) aggregated per evaluation."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd


def aggregate_curves(curves: Sequence[Any], pad: str = "none") -> pd.DataFrame:
    """Mean, spread and count of several curves per evaluation index.

    Parameters
    ----------
    curves : sequence of arrays (n_i,)
        One curve per run/seed (e.g. from :func:`hypervolume_curve`), possibly of different
        lengths. NaN entries count as missing.
    pad : {"none", "last"}
        ``"none"``: at index k only the curves that reached k count (``count`` drops where
        shorter runs end). ``"last"``: a finished curve keeps its last value to the end.

    Returns
    -------
    pandas.DataFrame (max n_i rows)
        Columns ``evaluation`` (1-based), ``mean``, ``std`` (sample, ddof=1; NaN where
        ``count < 2``), ``min``, ``max``, ``count``.
    """
    if pad not in ("none", "last"):
        raise ValueError(f"unknown pad {pad!r}; use 'none' or 'last'")
    if isinstance(curves, np.ndarray) and curves.ndim == 1:
        raise ValueError("curves must be a list of curves (arrays), got a single 1-D array")
    arrays = [np.asarray(c, dtype=float).reshape(-1) for c in curves]
    cols = ["evaluation", "mean", "std", "min", "max", "count"]
    L = max((len(a) for a in arrays), default=0)
    if L == 0:
        return pd.DataFrame({c: pd.Series(dtype=float) for c in cols})
    M = np.full((len(arrays), L), np.nan)
    for j, a in enumerate(arrays):
        M[j, : len(a)] = a
        if pad == "last" and 0 < len(a) < L:
            M[j, len(a) :] = a[-1]
    have = ~np.isnan(M)
    count = have.sum(axis=0)
    filled0 = np.where(have, M, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, filled0.sum(axis=0) / count, np.nan)
        sq = np.where(have, (M - mean) ** 2, 0.0).sum(axis=0)
        std = np.where(count > 1, np.sqrt(sq / (count - 1)), np.nan)
    lo = np.where(count > 0, np.where(have, M, np.inf).min(axis=0), np.nan)
    hi = np.where(count > 0, np.where(have, M, -np.inf).max(axis=0), np.nan)
    return pd.DataFrame(
        {"evaluation": np.arange(1, L + 1), "mean": mean, "std": std, "min": lo, "max": hi, "count": count.astype(int)}
    )


__all__ = ["aggregate_curves"]
