"""Constraints on outputs (``area_mm2 <= 0.97``) and the feasibility of a table's rows.

A :class:`Constraint` is stored structurally (``{"name", "op", "bound"}``) with runs, so the
bound a run used is read back exactly. ``feasible_mask`` takes constraints in any of the forms
:func:`as_constraints` reads.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Union

import numpy as np

from cimnet_bo.core import CimnetError

#: Comparison operators: op -> (holds, violation). ``violation > 0`` means infeasible.
_OPS: dict[str, tuple[Callable[[np.ndarray, float], np.ndarray], Callable[[np.ndarray, float], np.ndarray]]] = {
    "<=": (np.less_equal, lambda v, b: v - b),
    "<": (np.less, lambda v, b: v - b),
    ">=": (np.greater_equal, lambda v, b: b - v),
    ">": (np.greater, lambda v, b: b - v),
    "==": (np.equal, lambda v, b: np.abs(v - b)),
}
OPERATORS: tuple[str, ...] = tuple(_OPS)

ConstraintsLike = Union[Mapping[str, Union[float, tuple[str, float]]], Iterable[Any]]


class ConstraintError(CimnetError, ValueError):
    """A constraint that cannot be read."""


@dataclass(frozen=True)
class Constraint:
    """``name op bound`` on one output, e.g. ``area_mm2 <= 0.97``.

    Parameters
    ----------
    name : str
        An output column.
    op : {"<=", "<", ">=", ">", "=="}
    bound : float
        Finite.
    """

    name: str
    op: str
    bound: float

    def __post_init__(self) -> None:
        if self.op not in _OPS:
            raise ConstraintError(f"constraint {self.name!r}: operator must be one of {list(_OPS)}, got {self.op!r}")
        try:
            bound = float(self.bound)
        except (TypeError, ValueError):
            bound = float("nan")
        if isinstance(self.bound, bool) or not math.isfinite(bound):
            raise ConstraintError(f"constraint {self.name!r}: bound must be a finite number, got {self.bound!r}")
        object.__setattr__(self, "bound", bound)

    @classmethod
    def parse(cls, spec: Any) -> "Constraint":
        """A constraint from ``"area_mm2 <= 1.5"``, ``{"name", "op", "bound"}``,
        ``(name, op, bound)`` or a :class:`Constraint`."""
        if isinstance(spec, Constraint):
            return spec
        if isinstance(spec, str):
            m = re.fullmatch(r"\s*([A-Za-z_][\w.\-]*)\s*(<=|>=|==|<|>)\s*([-+0-9.eE]+)\s*", spec)
            if not m:
                raise ConstraintError(
                    f"cannot read constraint {spec!r}; write it as 'NAME <= NUMBER' or 'NAME >= NUMBER'"
                )
            return cls(m.group(1), m.group(2), float(m.group(3)))
        if isinstance(spec, Mapping):
            unknown = set(spec) - {"name", "op", "bound"}
            if unknown or "name" not in spec or "bound" not in spec:
                raise ConstraintError(f"constraint {dict(spec)!r}: expected keys name, op, bound")
            return cls(spec["name"], spec.get("op", "<="), spec["bound"])
        try:
            name, op, bound = spec
        except (TypeError, ValueError):
            raise ConstraintError(f"cannot read constraint {spec!r}") from None
        return cls(name, op, bound)

    def violation(self, values: Any) -> np.ndarray:
        """Amount of violation (> 0 infeasible, <= 0 feasible; NaN stays NaN), array (n,)."""
        return _OPS[self.op][1](np.asarray(values, dtype=np.float64), self.bound)

    def holds(self, values: Any) -> np.ndarray:
        """Bool array (n,): constraint met (NaN counts as violated)."""
        v = np.asarray(values, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            return _OPS[self.op][0](v, self.bound) & ~np.isnan(v)

    def __str__(self) -> str:
        return f"{self.name} {self.op} {self.bound:g}"

    def to_dict(self) -> dict[str, Any]:
        """``{name, op, bound}`` (as runs store it)."""
        return {"name": self.name, "op": self.op, "bound": self.bound}


def as_constraints(constraints: ConstraintsLike | None) -> tuple[Constraint, ...]:
    """Constraints from ``{column: bound}`` (meaning ``column <= bound``), ``{column: (op,
    bound)}``, or a sequence of anything :meth:`Constraint.parse` reads; ``None``: none."""
    if not constraints:
        return ()
    if isinstance(constraints, (set, frozenset, str)):
        raise ConstraintError(
            f"constraints must be a dict {{column: bound}}, {{column: (op, bound)}} or a list, "
            f"got {type(constraints).__name__}"
        )
    if isinstance(constraints, Mapping):
        out = []
        for col, spec in constraints.items():
            if isinstance(spec, (tuple, list)):
                if len(spec) != 2:
                    raise ConstraintError(
                        f"constraint {col!r}: expected (op, bound) with op in {list(_OPS)}, got {spec!r}"
                    )
                out.append(Constraint(col, *spec))
            else:
                out.append(Constraint(col, "<=", spec))
        return tuple(out)
    return tuple(Constraint.parse(c) for c in constraints)


def constraints_dict(constraints: ConstraintsLike | None) -> dict[str, tuple[str, float]]:
    """``{column: (op, bound)}`` of constraints in any accepted form."""
    return {c.name: (c.op, c.bound) for c in as_constraints(constraints)}


def feasible_mask(df: Any, constraints: ConstraintsLike | None) -> np.ndarray:
    """Which rows of ``df`` meet every constraint: bool array (n,).

    Parameters
    ----------
    df : pandas.DataFrame or mapping of column name to array
    constraints : dict, list or None
        ``{column: bound}`` meaning ``column <= bound`` (e.g. ``{"area_mm2": 4.0}``),
        ``{column: (op, bound)}`` with ``op`` one of ``<=, <, >=, >, ==``, or a list of
        :class:`Constraint` (or their string / dict forms). A NaN value in a constraint column
        makes the row infeasible. ``None`` or ``{}``: all rows feasible.
    """
    n = len(df) if hasattr(df, "columns") else len(next(iter(df.values()), ()))
    ok = np.ones(n, dtype=bool)
    for c in as_constraints(constraints):
        if c.name not in df:
            cols = list(df.columns) if hasattr(df, "columns") else list(df)
            raise ConstraintError(f"unknown constraint column {c.name!r}; the table has {cols}")
        ok &= c.holds(df[c.name])
    return ok


__all__ = [
    "Constraint",
    "ConstraintError",
    "ConstraintsLike",
    "OPERATORS",
    "as_constraints",
    "constraints_dict",
    "feasible_mask",
]
