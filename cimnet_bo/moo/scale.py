"""Normalisation of objectives for *reported* hypervolumes: :class:`HypervolumeScale`.

Raw hypervolumes mix units (accuracy x seconds) and latency spans decades, so numbers reported
in tables and plots use :class:`HypervolumeScale`:

1. objectives measured on a ratio scale that spans orders of magnitude (by default the columns
   named in :data:`LOG_OBJECTIVES`: ``latency_s``, ``energy_j``, ``edp_js``) are replaced by
   their ``log10``;
2. each (transformed) objective is mapped affinely onto [0, 1] with :func:`normalize` and
   bounds ``(lower, upper)``, the worst bound being the reference point: the normalised
   reference is 0 for a maximised objective and 1 for a minimised one;
3. the bounds come from the data (the union of all runs being compared, so that their numbers
   are comparable): the best observed value, and the worst observed value pushed ``margin``
   (default 10 %) of the range further out so that extreme points still count. Either bound
   can be fixed per objective instead (``ref=`` / ``ideal=`` in the objectives' units, for
   example the baseline's latency as the latency reference).

A normalised hypervolume is then the fraction of the box between the reference and the ideal
point that the points dominate: 1.0 would be a single point at the ideal corner.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from cimnet_bo.moo.hypervolume import hypervolume, hypervolume_curve
from cimnet_bo.moo.objectives import Objectives, ObjectivesLike, as_matrix

#: Objectives normalised on a log10 scale by default (see the module docstring).
LOG_OBJECTIVES: tuple[str, ...] = ("latency_s", "energy_j", "edp_js")
#: Outputs predictors learn as ``log(y)`` by default: the log-scale objectives and the other
#: positive outputs that span orders of magnitude.
LOG_TARGETS: tuple[str, ...] = (*LOG_OBJECTIVES, "area_mm2", "program_time_s")


def normalize(Y: Any, bounds: Any) -> np.ndarray:
    """Map each column affinely so that ``bounds[0] -> 0`` and ``bounds[1] -> 1``.

    Parameters
    ----------
    Y : array (n x m) or (m,)
    bounds : array (2 x m)
        Row 0 the lower bounds, row 1 the upper bounds (BoTorch's layout); ``upper > lower``.

    Returns
    -------
    array, the shape of ``Y``
        Values outside the bounds fall outside [0, 1] (nothing is clipped).
    """
    A = np.asarray(Y, dtype=float)
    B = np.asarray(bounds, dtype=float)
    m = A.shape[-1] if A.ndim else 1
    if B.shape != (2, m):
        raise ValueError(f"bounds must have shape (2, {m}) (lower row, upper row), got {B.shape}")
    width = B[1] - B[0]
    if not np.all(np.isfinite(B)) or np.any(width <= 0):
        raise ValueError(f"bounds must be finite with upper > lower per column, got {B.tolist()}")
    return (A - B[0]) / width


def unnormalize(U: Any, bounds: Any) -> np.ndarray:
    """Inverse of :func:`normalize`."""
    B = np.asarray(bounds, dtype=float)
    normalize(np.zeros(B.shape[-1]), B)  # validates the bounds
    return np.asarray(U, dtype=float) * (B[1] - B[0]) + B[0]


@dataclass(frozen=True, eq=False)
class HypervolumeScale:
    """The normalisation of reported hypervolumes (see the module docstring).

    Parameters
    ----------
    objectives : Objectives
        Names and directions, in column order.
    bounds : array (2 x m)
        Lower and upper bound of each objective on the transformed scale (``log10`` where
        ``log``); the worst one is the reference.
    log : tuple of bool (m,)
        Which objectives are taken as ``log10``.

    Build one with :meth:`from_data` over the union of the runs to compare, then use
    :meth:`hypervolume` / :meth:`curve` on each run.
    """

    objectives: Objectives
    bounds: np.ndarray
    log: tuple[bool, ...]

    def __post_init__(self) -> None:
        m = len(self.objectives)
        if len(self.log) != m:
            raise ValueError(f"log has {len(self.log)} entries for {m} objectives")
        normalize(np.zeros(m), self.bounds)

    @classmethod
    def from_data(
        cls,
        data: Any,
        objectives: ObjectivesLike,
        log: Sequence[str] | None = None,
        margin: float = 0.1,
        ref: Mapping[str, float] | None = None,
        ideal: Mapping[str, float] | None = None,
    ) -> "HypervolumeScale":
        """Bounds from observed values.

        Parameters
        ----------
        data : DataFrame, list of DataFrames, or array (n x m) in ``objectives`` order
            All the points of all the runs to compare (NaN rows are ignored).
        objectives : {name: direction} or list of pairs
        log : sequence of str, optional
            Objectives to take as ``log10`` (default: those in :data:`LOG_OBJECTIVES`).
        margin : float
            The worst observed value is moved this fraction of the observed range further out.
        ref, ideal : {name: value}, optional
            Fixed reference (worst) or ideal (best) values in the objectives' own units.
        """
        obj = Objectives.parse(objectives)
        if log is None:
            log_set = set(LOG_OBJECTIVES)
        else:
            log_set = set(log)
            unknown = sorted(log_set - set(obj.names))
            if unknown:
                raise ValueError(f"unknown objective(s) {unknown} in log; objectives are {list(obj.names)}")
        for label, fixed in (("ref", ref), ("ideal", ideal)):
            for name in fixed or {}:
                if name not in obj.names:
                    raise ValueError(f"unknown objective {name!r} in {label}; objectives are {list(obj.names)}")
        logs = tuple(n in log_set for n in obj.names)
        T = _transform(_matrix(data, obj), obj, logs)
        T = T[~np.any(np.isnan(T), axis=1)]
        bounds = np.empty((len(obj), 2))
        for j, (name, d) in enumerate(obj):
            col = T[:, j]
            fixed_ref = (ref or {}).get(name)
            fixed_ideal = (ideal or {}).get(name)
            if len(col) == 0 and (fixed_ref is None or fixed_ideal is None):
                raise ValueError(f"no finite values of {name!r} to take bounds from")
            if len(col):
                lo, hi = float(col.min()), float(col.max())
                span = hi - lo if hi > lo else max(abs(hi), 1.0) * 1e-6
                best, worst = (hi, lo - margin * span) if d == "max" else (lo, hi + margin * span)
            else:
                best = worst = float("nan")
            if fixed_ideal is not None:
                best = _transform_value(fixed_ideal, name, logs[j])
            if fixed_ref is not None:
                worst = _transform_value(fixed_ref, name, logs[j])
            lower, upper = (worst, best) if d == "max" else (best, worst)
            if not upper > lower:
                raise ValueError(
                    f"objective {name!r}: the reference {worst!r} is not worse than the ideal "
                    f"{best!r} (transformed scale)"
                )
            bounds[j] = (lower, upper)
        return cls(obj, bounds.T.copy(), logs)

    @classmethod
    def from_points(
        cls,
        objectives: ObjectivesLike,
        ref: Mapping[str, float],
        ideal: Mapping[str, float] | None = None,
        log: Sequence[str] = LOG_OBJECTIVES,
    ) -> "HypervolumeScale":
        """The scale of fixed points (a search problem's): the reference maps to the worst
        corner and the ideal to the best; an objective without an ideal value gets a unit
        width on the transformed scale.

        Parameters
        ----------
        objectives : {name: direction} or list of pairs
        ref : {name: value}
            Reference (worst) value of every objective, in its own units.
        ideal : {name: value}, optional
            Ideal (best) values.
        log : sequence of str
            Objectives taken as ``log10`` (names that are not objectives are ignored).
        """
        obj = Objectives.parse(objectives)
        logs = tuple(n in set(log) for n in obj.names)
        bounds = np.empty((2, len(obj)))
        for j, (name, d) in enumerate(obj):
            if name not in ref:
                raise ValueError(f"no reference value for objective {name!r}")
            r = _transform_value(ref[name], name, logs[j])
            if ideal is not None and name in ideal:
                i = _transform_value(ideal[name], name, logs[j])
            else:
                i = r + 1.0 if d == "max" else r - 1.0
            bounds[:, j] = (r, i) if d == "max" else (i, r)
        return cls(obj, bounds, logs)

    @property
    def ref_point(self) -> np.ndarray:
        """Array (m,): the reference on the normalised scale (0 for max, 1 for min)."""
        return np.array([0.0 if d == "max" else 1.0 for d in self.objectives.directions])

    def transform(self, data: Any, invalid: str = "raise") -> np.ndarray:
        """Normalised objectives (n x m), directions unchanged (rows in [0, 1] within bounds).

        ``invalid``: what a value <= 0 of a log-scale objective does: ``"raise"`` a
        ``ValueError``, or become ``"nan"`` (the row then counts as failed).
        """
        if invalid not in ("raise", "nan"):
            raise ValueError(f"invalid must be 'raise' or 'nan', got {invalid!r}")
        T = _transform(_matrix(data, self.objectives), self.objectives, self.log, invalid)
        return normalize(T, self.bounds)

    def maximized(self, data: Any) -> np.ndarray:
        """Normalised objectives on the "larger is better" scale (n x m): 0 at the reference,
        1 at the ideal, for every direction (a search's ``u``); invalid values become NaN."""
        Z = self.transform(data, invalid="nan")
        return np.where(self.objectives.signs > 0, Z, 1.0 - Z)

    def _masked(self, data: Any, feasible: Any | None) -> np.ndarray:
        Z = self.transform(data, invalid="nan")
        if feasible is not None:
            f = np.asarray(feasible, dtype=bool).reshape(-1)
            if f.shape != (len(Z),):
                raise ValueError(f"feasible must be a bool array ({len(Z)},), got shape {f.shape}")
            Z[~f] = np.nan
        return Z

    def hypervolume(self, data: Any, feasible: Any | None = None) -> float:
        """Normalised hypervolume (fraction of the reference-ideal box dominated) of the rows
        of ``data`` that are ``feasible`` (bool (n,); default all)."""
        return hypervolume(self._masked(data, feasible), self.ref_point, self.objectives.directions)

    def curve(self, data: Any, feasible: Any | None = None) -> np.ndarray:
        """Normalised :func:`hypervolume_curve` (rows in evaluation order; infeasible rows
        count nothing), array (n,)."""
        return hypervolume_curve(self._masked(data, feasible), self.ref_point, self.objectives.directions)


def _is_table(data: Any) -> bool:
    return hasattr(data, "columns")


def _matrix(data: Any, obj: Objectives) -> np.ndarray:
    if _is_table(data):
        return obj.matrix(data)
    if isinstance(data, (list, tuple)) and data and all(_is_table(d) for d in data):
        return np.vstack([obj.matrix(d) for d in data])
    A = as_matrix(data, "data")
    if A.shape[1] != len(obj):
        raise ValueError(f"data has {A.shape[1]} columns for {len(obj)} objectives {list(obj.names)}")
    return A


def _transform_value(v: float, name: str, log: bool) -> float:
    if not log:
        return float(v)
    if not v > 0:
        raise ValueError(f"objective {name!r} is on a log scale but got the value {v!r} <= 0")
    return float(np.log10(v))


def _transform(A: np.ndarray, obj: Objectives, logs: Sequence[bool], invalid: str = "raise") -> np.ndarray:
    T = A.copy()
    for j, name in enumerate(obj.names):
        if logs[j]:
            col = T[:, j]
            bad = ~np.isnan(col) & ~(col > 0)
            if bad.any() and invalid == "nan":
                col[bad] = np.nan
            elif bad.any():
                raise ValueError(f"objective {name!r} is on a log scale but has {int(bad.sum())} value(s) <= 0")
            T[:, j] = np.log10(col)
    return T


__all__ = ["LOG_OBJECTIVES", "LOG_TARGETS", "normalize", "unnormalize", "HypervolumeScale"]
