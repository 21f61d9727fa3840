"""Quality metrics of predictions on held-out data."""

from __future__ import annotations

from typing import Any

import numpy as np


def _pair(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(y_true, dtype=np.float64).reshape(-1)
    p = np.asarray(y_pred, dtype=np.float64).reshape(-1)
    if t.shape != p.shape:
        raise ValueError(f"y_true has {t.size} values, y_pred {p.size}")
    return t, p


def kendall_tau(y_true: Any, y_pred: Any) -> float:
    """Kendall's tau-b between two arrays (n,) (rank agreement in [-1, 1]; NaN for n < 2 or
    constant input)."""
    from scipy.stats import kendalltau

    t, p = _pair(y_true, y_pred)
    if t.size < 2:
        return float("nan")
    return float(kendalltau(t, p).statistic)


def spearman(y_true: Any, y_pred: Any) -> float:
    """Spearman's rank correlation between two arrays (n,)."""
    from scipy.stats import spearmanr

    t, p = _pair(y_true, y_pred)
    if t.size < 2:
        return float("nan")
    return float(spearmanr(t, p).statistic)


def rmse(y_true: Any, y_pred: Any) -> float:
    """Root mean squared error, in the unit of y."""
    t, p = _pair(y_true, y_pred)
    return float(np.sqrt(np.mean((t - p) ** 2)))


def mape(y_true: Any, y_pred: Any) -> float:
    """Mean absolute percentage error, in percent (rows with y_true = 0 are skipped)."""
    t, p = _pair(y_true, y_pred)
    nz = t != 0
    if not nz.any():
        return float("nan")
    return float(100.0 * np.mean(np.abs((p[nz] - t[nz]) / t[nz])))


def regression_report(y_true: Any, y_pred: Any) -> dict[str, float]:
    """``kendall_tau``, ``spearman``, ``rmse``, ``mape_pct`` (and ``rmse_log10`` when every
    value is positive) of predictions, arrays (n,)."""
    t, p = _pair(y_true, y_pred)
    out = {
        "n": int(t.size),
        "kendall_tau": kendall_tau(t, p),
        "spearman": spearman(t, p),
        "rmse": rmse(t, p),
        "mape_pct": mape(t, p),
    }
    if np.all(t > 0) and np.all(p > 0):
        out["rmse_log10"] = rmse(np.log10(t), np.log10(p))
    return out
