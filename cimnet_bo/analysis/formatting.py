"""Numbers of reports as text: table cells (:func:`fmt_value`, :func:`fmt_frame`), accuracy
targets (:func:`fmt_target`) and the iso-accuracy speedup table
(:func:`format_speedup_table`), with CiMNet's reference numbers (:data:`CIMNET_REFERENCE`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

#: CiMNet's published speedups, quoted next to the speedup tables.
CIMNET_REFERENCE = "CiMNet (ViT-B on ImageNet): 1.7x model-only, 3.1x joint at the baseline's accuracy"


def fmt_value(v: Any, column: str = "") -> str:
    """A cell as text: accuracies with 4 decimals, other floats with 4 significant digits,
    NaN/None as ``-``."""
    if v is None:
        return "-"
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if math.isnan(f):
            return "-"
        if math.isinf(f):
            return "inf"
        if "accuracy" in column:
            return f"{f:.4f}"
        if f.is_integer() and abs(f) < 1e6 and not any(k in column for k in ("_s", "_j", "hypervolume")):
            return str(int(f))
        return f"{f:.4g}"
    return str(v)


def fmt_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Every cell of ``frame`` formatted with :func:`fmt_value` (columns kept)."""
    return pd.DataFrame({c: [fmt_value(v, str(c)) for v in frame[c].tolist()] for c in frame.columns})


def fmt_target(offset: float) -> str:
    """``0.0 -> "baseline accuracy"``, ``-0.005 -> "baseline - 0.5 pt"`` (points = 1/100)."""
    if abs(offset) < 1e-12:
        return "baseline accuracy"
    pts = offset * 100
    return f"baseline {'-' if pts < 0 else '+'} {abs(pts):g} pt"


def format_speedup_table(wide: pd.DataFrame) -> pd.DataFrame:
    """The wide speedup table (:func:`run_speedups`) as text: one row per target; per group
    ``"2.31x"``, with ``"(min-max, k/n seeds)"`` when the group has several seeds."""
    rows = []
    groups = [c for c in wide.columns if not any(c.endswith(s) for s in (" min", " max", " n"))]
    for (off, acc), row in wide.iterrows():
        out = {"target": fmt_target(off), "accuracy >=": f"{acc:.4f}"}
        for g in groups:
            mean = row[g]
            text = "-" if pd.isna(mean) else f"{mean:.2f}x"
            if f"{g} n" in wide.columns:
                n_seeds = _n_seeds(wide, g)
                k = int(row[f"{g} n"])
                if k:
                    text += f" ({row[f'{g} min']:.2f}-{row[f'{g} max']:.2f}, {k}/{n_seeds} seeds)"
                else:
                    text += f" (0/{n_seeds} seeds reach it)"
            out[f"{g} speedup"] = text
        rows.append(out)
    return pd.DataFrame(rows)


def _n_seeds(wide: pd.DataFrame, group: str) -> int:
    """Seeds of ``group`` in the wide speedup table (its own count when it does not say)."""
    return int(wide.attrs.get("n_seeds", {}).get(group, wide[f"{group} n"].max()))
