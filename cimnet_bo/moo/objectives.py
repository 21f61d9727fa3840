"""Named objectives with directions, and the matrices built from them.

Objectives are always an *ordered* list of ``(name, direction)`` pairs, with direction
``"max"`` (larger is better) or ``"min"`` (smaller is better). Every matrix built from a
table has its columns in exactly that order, the order in which the objectives were given:
the insertion order of a dict such as ``{"accuracy": "max", "latency_s": "min"}``, or the
order of a list of pairs. Unordered containers (``set``, ``frozenset``) are rejected, since
their iteration order is not defined.

Accepted forms (:func:`as_objectives`):

* a mapping ``{name: direction}``;
* a sequence of ``(name, direction)`` pairs;
* a sequence of objects with ``name`` and ``direction`` attributes (for instance the
  evaluators' ``Objective``);
* an :class:`Objectives` (returned unchanged).

A single objective of an evaluator is an :class:`Objective` (name, direction and whether it is
cheap to evaluate); :func:`objective_list` reads a list of them from any of the forms above, or
from bare names (minimised); :func:`default_direction` gives the direction of well-known
outputs (``accuracy`` is maximised).

Functions that work on bare arrays take ``directions`` instead: a sequence of ``"max"`` /
``"min"`` strings with one entry per column (or any of the forms above, whose directions
are then used in order).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping, Sequence, Union

import numpy as np

DIRECTIONS: tuple[str, ...] = ("max", "min")
#: Directions of well-known outputs; any other output is minimised by default.
KNOWN_DIRECTIONS: dict[str, str] = {"accuracy": "max", "top1": "max", "acc": "max"}

ObjectivesLike = Union["Objectives", Mapping[str, str], Sequence[Any]]
DirectionsLike = Union[ObjectivesLike, Sequence[str]]


def _check_direction(name: str, direction: Any) -> str:
    if not isinstance(direction, str) or direction not in DIRECTIONS:
        raise ValueError(f"objective {name!r}: unknown direction {direction!r}; use 'max' or 'min'")
    return direction


def default_direction(name: str) -> str:
    """The direction an output named ``name`` has when none is given (:data:`KNOWN_DIRECTIONS`,
    else ``"min"``)."""
    return KNOWN_DIRECTIONS.get(name, "min")


@dataclass(frozen=True)
class Objective:
    """One objective of an evaluator.

    Parameters
    ----------
    name : str
        Column name (``"accuracy"``, ``"latency_s"``).
    direction : {"min", "max"}
        Whether smaller or larger is better.
    cheap : bool
        True when evaluating it costs next to nothing (the roofline model), so a search may
        use it as a known function instead of modelling it.
    """

    name: str
    direction: str = "min"
    cheap: bool = False

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise ValueError(f"objective name must be a non-empty string, got {self.name!r}")
        _check_direction(self.name, self.direction)

    @property
    def sign(self) -> float:
        """+1 for maximised objectives, -1 for minimised (multiply to get 'larger is better')."""
        return 1.0 if self.direction == "max" else -1.0

    def to_dict(self) -> dict[str, Any]:
        """``{name, direction, cheap}`` (as stored with runs and datasets)."""
        return {"name": self.name, "direction": self.direction, "cheap": self.cheap}


def objective_list(objectives: Iterable[Any]) -> tuple[Objective, ...]:
    """Objectives from names (direction ``min``), dicts ``{name, direction, cheap}``,
    ``(name, direction)`` pairs or :class:`Objective` s; names must be unique, one at least."""
    out = []
    for o in objectives:
        if isinstance(o, Objective):
            out.append(o)
        elif isinstance(o, str):
            out.append(Objective(o))
        elif isinstance(o, Mapping):
            out.append(Objective(o["name"], o.get("direction", "min"), bool(o.get("cheap", False))))
        else:
            out.append(Objective(*o))
    names = [o.name for o in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"objective names must be unique; repeated: {dupes}")
    if not out:
        raise ValueError("at least one objective is needed")
    return tuple(out)


@dataclass(frozen=True)
class Objectives:
    """An ordered list of objective names with their directions.

    Parameters
    ----------
    names : tuple of str
        Column names, unique, in the order used for every matrix.
    directions : tuple of {"max", "min"}
        One direction per name.

    Examples
    --------
    >>> obj = Objectives.parse({"accuracy": "max", "latency_s": "min"})
    >>> obj.names, obj.directions
    (('accuracy', 'latency_s'), ('max', 'min'))
    """

    names: tuple[str, ...]
    directions: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.names) != len(self.directions):
            raise ValueError(f"{len(self.names)} objective names but {len(self.directions)} directions")
        if not self.names:
            raise ValueError("at least one objective is needed")
        for n, d in zip(self.names, self.directions):
            if not isinstance(n, str) or not n:
                raise ValueError(f"objective names must be non-empty strings, got {n!r}")
            _check_direction(n, d)
        dupes = sorted({n for n in self.names if self.names.count(n) > 1})
        if dupes:
            raise ValueError(f"objective names must be unique; repeated: {dupes}")

    # ------------------------------------------------------------------ construction
    @classmethod
    def parse(cls, objectives: ObjectivesLike) -> "Objectives":
        """Objectives from any accepted form (see the module docstring).

        Raises
        ------
        TypeError
            For a ``set`` / ``frozenset`` (no defined order) or a bare string.
        ValueError
            For an unknown direction, a repeated name, or an entry without a direction.
        """
        if isinstance(objectives, Objectives):
            return objectives
        if isinstance(objectives, (set, frozenset)):
            raise TypeError(
                "objectives given as a set have no defined order; give a dict "
                "{name: 'max'|'min'} or a list of (name, direction) pairs"
            )
        if isinstance(objectives, str):
            raise TypeError(
                f"objectives must be a dict {{name: direction}} or a list of pairs, got the string {objectives!r}"
            )
        if isinstance(objectives, Mapping):
            pairs = [(str(k), v) for k, v in objectives.items()]
        else:
            pairs = []
            for o in objectives:
                if hasattr(o, "name") and hasattr(o, "direction"):
                    pairs.append((o.name, o.direction))
                elif isinstance(o, str):
                    raise ValueError(
                        f"objective {o!r} has no direction; give {{{o!r}: 'max'|'min'}} "
                        f"or the pair ({o!r}, 'max'|'min')"
                    )
                else:
                    try:
                        name, direction = o
                    except (TypeError, ValueError):
                        raise ValueError(f"cannot read an objective from {o!r}; expected (name, direction)") from None
                    pairs.append((name, direction))
        return cls(tuple(p[0] for p in pairs), tuple(p[1] for p in pairs))

    # ------------------------------------------------------------------ views
    def __len__(self) -> int:
        return len(self.names)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(zip(self.names, self.directions))

    @property
    def signs(self) -> np.ndarray:
        """Array (m,): +1 for maximised objectives, -1 for minimised ones."""
        return np.array([1.0 if d == "max" else -1.0 for d in self.directions])

    def to_dict(self) -> dict[str, str]:
        """``{name: direction}`` in order."""
        return dict(zip(self.names, self.directions))

    def direction(self, name: str) -> str:
        """The direction of objective ``name``."""
        if name not in self.names:
            raise ValueError(f"unknown objective {name!r}; objectives are {list(self.names)}")
        return self.directions[self.names.index(name)]

    # ------------------------------------------------------------------ matrices
    def matrix(self, df: Any, sense: str | None = None) -> np.ndarray:
        """The objective columns of ``df`` as a float array (n x m), in :attr:`names` order.

        Parameters
        ----------
        df : pandas.DataFrame or mapping of column name to array
            Must hold a column for every objective.
        sense : {None, "min", "max"}
            ``None``: raw values; ``"min"``: maximised columns negated (everything to be
            minimised); ``"max"``: minimised columns negated.
        """
        missing = [n for n in self.names if n not in df]
        if missing:
            cols = list(df.columns) if hasattr(df, "columns") else list(df)
            raise ValueError(f"unknown objective column(s) {missing}; the table has {cols}")
        Y = np.column_stack([np.asarray(df[n], dtype=float) for n in self.names])
        if sense is None:
            return Y
        if sense == "min":
            return to_minimization(Y, self.directions)
        if sense == "max":
            return to_maximization(Y, self.directions)
        raise ValueError(f"unknown sense {sense!r}; use None, 'min' or 'max'")


def as_objectives(objectives: ObjectivesLike) -> Objectives:
    """:meth:`Objectives.parse` as a function."""
    return Objectives.parse(objectives)


def as_directions(directions: DirectionsLike, m: int | None = None) -> tuple[str, ...]:
    """Directions, one per objective column, as a tuple of ``"max"`` / ``"min"``.

    Parameters
    ----------
    directions : sequence of {"max", "min"}, or any objectives form
        For a mapping, a list of pairs or an :class:`Objectives`, their directions in order.
    m : int, optional
        The number of objective columns; a length mismatch raises ``ValueError``.
    """
    if isinstance(directions, str):
        raise ValueError(
            f"directions must be a sequence with one 'max'/'min' per objective, got the string {directions!r}"
        )
    if isinstance(directions, (set, frozenset)):
        raise TypeError("directions given as a set have no defined order; use a list")
    if isinstance(directions, (Objectives, Mapping)):
        out = Objectives.parse(directions).directions
    else:
        items = list(directions)
        if items and all(isinstance(d, str) for d in items):
            out = tuple(_check_direction(f"#{i}", d) for i, d in enumerate(items))
        else:
            out = Objectives.parse(items).directions
    if m is not None and len(out) != m:
        raise ValueError(f"{len(out)} directions {list(out)} for {m} objective columns")
    return out


def as_matrix(Y: Any, name: str = "Y") -> np.ndarray:
    """``Y`` as a 2-D float array (n x m); a 1-D array is one point (1 x m)."""
    A = np.asarray(Y, dtype=float)
    if A.ndim == 1:
        A = A[None, :]
    if A.ndim != 2:
        raise ValueError(f"{name} must be an array (n x m), got shape {A.shape}")
    return A


def _signs(directions: DirectionsLike, m: int) -> np.ndarray:
    return np.array([1.0 if d == "max" else -1.0 for d in as_directions(directions, m)])


def to_minimization(Y: Any, directions: DirectionsLike) -> np.ndarray:
    """Negate maximised columns so that every column is to be minimised.

    Parameters
    ----------
    Y : array (n x m) or (m,)
    directions : sequence of {"max", "min"} (m,)

    Returns
    -------
    array (n x m) (or (m,) for a 1-D input)
    """
    A = np.asarray(Y, dtype=float)
    return A * -_signs(directions, A.shape[-1])


def to_maximization(Y: Any, directions: DirectionsLike) -> np.ndarray:
    """Negate minimised columns so that every column is to be maximised (BoTorch's
    convention). Shapes as in :func:`to_minimization`."""
    A = np.asarray(Y, dtype=float)
    return A * _signs(directions, A.shape[-1])


def objective_matrix(df: Any, objectives: ObjectivesLike, sense: str | None = None) -> np.ndarray:
    """The objective columns of ``df`` (n x m) in the given objectives' order; see
    :meth:`Objectives.matrix`."""
    return Objectives.parse(objectives).matrix(df, sense)


__all__ = [
    "DIRECTIONS",
    "Objectives",
    "as_objectives",
    "as_directions",
    "as_matrix",
    "to_minimization",
    "to_maximization",
    "objective_matrix",
    "Objective",
    "objective_list",
    "default_direction",
    "KNOWN_DIRECTIONS",
]
