"""Search runs as tables: load run directories, group them, and compare them on a common scale.

A run directory (written by :func:`cimnet_bo.search.run_search`, ``cimnet-bo search`` or
``cimnet-bo experiment``) holds ``config.yaml`` (the resolved configuration and the problem's
description) and ``store.sqlite`` (every evaluation). :func:`load_run` reads both, read-only in
spirit (nothing is evaluated, no supernet or torch is loaded), into a :class:`RunData`:

* ``frame``: one row per stored evaluation **in evaluation order** (candidate number ``idx``),
  failed ones included (their objectives are NaN), with one column per choice, per objective
  and per auxiliary output, the bookkeeping columns of the store, and two added columns:
  ``evaluation`` (1-based position) and ``feasible`` (evaluated successfully and meeting every
  constraint of the problem, e.g. ``area_mm2 <= budget``);
* the problem's objectives with directions, constraints, and its **fixed** reference and ideal
  points (:data:`cimnet_bo.search.REFERENCE_POINTS` for registered spaces), so that the
  hypervolume of every run is on the same scale whatever was found: :meth:`RunData.scale`,
  :meth:`RunData.hypervolume_curve` equal the hypervolumes the search itself logs
  (:meth:`cimnet_bo.search.Run.hypervolume_curve`).

Roles
-----
Each run has a *role* used to group and label it: the ``role`` entry of its store's metadata
when set (``cimnet-bo experiment`` marks its baseline run ``"baseline"``), otherwise the
problem's search mode (``"joint"``, ``"model-only"``, ``"hardware-only"``) from the resolved
configuration (or from the problem's name ``"<space>:<mode>"`` for problems defined in Python).
Runs of one role and strategy are seeds of one *group* (:func:`group_runs`); the baseline run
is a single evaluated point (:func:`baseline_point`) against which :func:`run_speedups` reports
iso-accuracy speedups.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from cimnet_bo.analysis.speedup import DEFAULT_TARGETS
from cimnet_bo.core import CimnetError, plain
from cimnet_bo.moo import (
    ConstraintError,
    HypervolumeScale,
    Objectives,
    best_values,
    constraints_dict,
    feasible_mask,
    pareto_front,
)
from cimnet_bo.space import hardware_side, subnet_side
from cimnet_bo.store import RUN_CONFIG_FILE, RUN_STORE_FILE, is_run_dir

#: Store metadata key holding a run's role (``"baseline"`` for the experiment's baseline).
ROLE_KEY = "role"
#: Roles in the order reports list them; other roles follow in order of appearance.
ROLE_ORDER: tuple[str, ...] = ("baseline", "model-only", "hardware-only", "joint")


class RunLoadError(CimnetError, ValueError):
    """A path is not a run directory, or runs cannot be compared."""


# ============================================================================ one run
@dataclass(eq=False)
class RunData:
    """One search run, loaded.

    Attributes
    ----------
    path : Path
        The run directory.
    label : str
        A short unique name (by default the directory's name).
    frame : pandas.DataFrame (n rows)
        Every evaluation in evaluation order (see the module docstring); index ``0 .. n-1``.
    config : dict
        The resolved configuration (``config.yaml``).
    meta : dict
        The store's metadata (space description, objectives, ``role`` if set, ...).
    space_name : str
        The registered (or user) space the run searched.
    mode : str or None
        ``"joint"``, ``"model-only"``, ``"hardware-only"`` (None when unknown).
    role : str
        See the module docstring.
    objectives : Objectives
        The problem's objectives in order, with directions.
    constraints : dict
        ``{output: (op, bound)}`` (the form :func:`~cimnet_bo.analysis.feasible_mask` takes).
    ref_point, ideal_point : dict
        Fixed reference (and ideal, or None) value per objective, in the objectives' units
        (``ref_point`` empty when the run has not inferred one and has no successful evaluation).
    ref_source : {"given", "inferred", "provisional"}
        Where ``ref_point`` comes from: the problem, the run's initial design (recorded in its
        store), or the run's evaluations so far (its initial design is not all evaluated).
    log : tuple of str
        Objectives normalised on a log10 scale.
    subnet_choices, hardware_choices : tuple of str
        Choice columns of each side of a joint space (hardware empty for a plain space).
    fixed : dict
        Choices the problem froze, with their value (the hardware of a model-only run, the
        subnet of a hardware-only run).
    space : Space or JointSpace
        The (full) space of the run's configurations.
    """

    path: Path
    label: str
    frame: pd.DataFrame
    config: dict[str, Any]
    meta: dict[str, Any]
    space_name: str
    mode: str | None
    role: str
    objectives: Objectives
    constraints: dict[str, tuple[str, float]]
    ref_point: dict[str, float]
    ideal_point: dict[str, float] | None
    log: tuple[str, ...]
    ref_source: str = "given"
    subnet_choices: tuple[str, ...] = ()
    hardware_choices: tuple[str, ...] = ()
    fixed: dict[str, Any] = field(default_factory=dict)
    space: Any = field(default=None, repr=False)
    _curve: np.ndarray | None = field(default=None, repr=False)

    # ------------------------------------------------------------------ bookkeeping
    @property
    def strategy(self) -> str:
        return str(self.config.get("strategy", "?"))

    @property
    def seed(self) -> int:
        return int(self.config.get("seed", 0))

    @property
    def budget(self) -> int:
        return int(self.config.get("budget", len(self.frame)))

    @property
    def problem_name(self) -> str:
        return str(self.config.get("problem_description", {}).get("name", self.space_name))

    @property
    def choices(self) -> tuple[str, ...]:
        return self.subnet_choices + self.hardware_choices

    @property
    def searched_choices(self) -> tuple[str, ...]:
        """The choices the run searched (not frozen by its problem)."""
        return tuple(c for c in self.choices if c not in self.fixed)

    @property
    def n(self) -> int:
        """Number of stored evaluations (failed ones included)."""
        return len(self.frame)

    @property
    def feasible(self) -> np.ndarray:
        """Bool array (n,): evaluated successfully and meeting every constraint."""
        return self.frame["feasible"].to_numpy(dtype=bool)

    @property
    def n_failed(self) -> int:
        return int(self.frame["error"].notna().sum()) if "error" in self.frame else 0

    def ok_frame(self) -> pd.DataFrame:
        """The feasible evaluations (the points that count for fronts and speedups)."""
        return self.frame.loc[self.feasible]

    # ------------------------------------------------------------------ hypervolume
    def scale(self) -> HypervolumeScale:
        """The problem's fixed normalisation (reference 0, ideal 1 on each axis; a problem
        without an ideal point uses a unit width, as the search does)."""
        return HypervolumeScale.from_points(self.objectives, self.ref_point, self.ideal_point, self.log)

    def hypervolume_curve(self) -> np.ndarray:
        """Normalised hypervolume of the feasible points among the first ``k`` evaluations,
        for ``k = 1 .. n``: array (n,), non-decreasing, comparable across runs of a problem."""
        if self._curve is None:
            Y = self.objectives.matrix(self.frame)
            self._curve = self.scale().curve(Y, self.feasible) if len(Y) and self.ref_point else np.zeros(len(Y))
        return self._curve

    def hypervolume(self) -> float:
        """Normalised hypervolume of all feasible evaluations (the curve's last value)."""
        c = self.hypervolume_curve()
        return float(c[-1]) if len(c) else 0.0

    # ------------------------------------------------------------------ results
    def pareto(self) -> pd.DataFrame:
        """The feasible Pareto-optimal evaluations (first copy of repeated objective values),
        sorted by the first objective, best first."""
        front = pareto_front(self.frame, self.objectives, feasible=self.feasible)
        first, d = self.objectives.names[0], self.objectives.directions[0]
        return front.sort_values([first], ascending=d == "min", kind="mergesort")

    def best(self) -> dict[str, float]:
        """Best feasible value of each objective (NaN when there is none)."""
        return best_values(self.objectives.matrix(self.frame), self.objectives, self.feasible)

    def pareto_table(self, choices: bool = True) -> pd.DataFrame:
        """The Pareto set as a table: ``evaluation``, the objectives, the constrained and
        other outputs, then (``choices``) one column per choice of the space."""
        front = self.pareto()
        outputs = [c for c in self.output_columns if c not in self.objectives.names]
        cols = ["evaluation", *self.objectives.names, *outputs]
        if choices:
            cols += [c for c in self.choices if c in front]
        return front[cols].reset_index(drop=True)

    @property
    def output_columns(self) -> list[str]:
        """Numeric output columns (objectives, then other declared outputs such as ``area_mm2``)."""
        declared = [o["name"] for o in self.meta.get("objectives", [])]
        return [*self.objectives.names, *[c for c in declared if c not in self.objectives.names and c in self.frame]]

    def config_text(self, row: Mapping[str, Any] | pd.Series, side: str = "all") -> str:
        """A configuration's searched choices as ``name=value`` pairs (``side``: ``"subnet"``,
        ``"hardware"`` or ``"all"``); the choices the problem froze are left out."""
        names = {"subnet": self.subnet_choices, "hardware": self.hardware_choices}.get(side, self.choices)
        active = self.active_choices(row)
        return " ".join(
            f"{n}={stored_value(row[n])}" for n in names if n in row and n not in self.fixed and n in active
        )

    def active_choices(self, row: Mapping[str, Any] | pd.Series) -> set[str]:
        """The choices active in a configuration (a layer's choices are inactive when a depth
        choice switches the layer off; their stored value is a placeholder)."""
        if self.space is None:
            return set(self.choices)
        try:
            idx = self.space.to_indices([{n: stored_value(row[n]) for n in self.space.names}])
        except (KeyError, ValueError):
            return set(self.choices)
        mask = self.space.active_mask(idx)[0]
        return {n for n, a in zip(self.space.names, mask) if a}

    def __repr__(self) -> str:
        return (
            f"RunData({self.label!r}: {self.problem_name}, role {self.role}, {self.strategy}, seed {self.seed}, "
            f"{self.n}/{self.budget} evaluations)"
        )


def stored_value(v: Any) -> Any:
    """A stored choice value as Python (parquet/SQLite give back whole numbers as floats)."""
    v = plain(v)
    return int(v) if isinstance(v, float) and v.is_integer() else v


# ============================================================================ loading
def _constraints(config: Mapping[str, Any]) -> dict[str, tuple[str, float]]:
    """Constraints from the problem description, as ``{output: (op, bound)}``."""
    desc = config.get("problem_description", {})
    try:
        return constraints_dict(desc.get("constraints") or [])
    except ConstraintError as e:
        raise RunLoadError(f"the run's constraints cannot be read: {e}") from None


def _mode(config: Mapping[str, Any]) -> str | None:
    spec = config.get("problem", {}) or {}
    if "python" not in spec and "space" in spec and not spec.get("evaluator"):
        from cimnet_bo.space import list_spaces

        if spec["space"] in list_spaces():
            return str(spec.get("mode", "joint"))
    from cimnet_bo.search.registered import MODES

    name = str(config.get("problem_description", {}).get("name", ""))
    suffix = name.rsplit(":", 1)[-1] if ":" in name else ""
    return suffix if suffix in MODES else None


def load_run(path: str | Path, label: str | None = None) -> RunData:
    """Load one run directory (see the module docstring).

    Parameters
    ----------
    path : str or Path
        A directory holding ``config.yaml`` and ``store.sqlite``.
    label : str, optional
        Default: the directory's name.

    Raises
    ------
    RunLoadError
        ``path`` is not a run directory.
    """
    import yaml

    from cimnet_bo.store import RunStore

    p = Path(path)
    if not is_run_dir(p):
        raise RunLoadError(f"{p} is not a run directory (it needs {RUN_CONFIG_FILE} and {RUN_STORE_FILE})")
    config = yaml.safe_load((p / RUN_CONFIG_FILE).read_text()) or {}
    desc = config.get("problem_description") or {}
    if not desc.get("objectives"):
        raise RunLoadError(f"{p / RUN_CONFIG_FILE} has no problem description with objectives")
    with RunStore(p / RUN_STORE_FILE, write=False) as store:
        frame = store.to_frame(include_failed=True).reset_index(drop=True)
        meta = dict(store.meta)
        space = store.space
    objectives = Objectives.parse([(o["name"], o["direction"]) for o in desc["objectives"]])
    for name in objectives.names:
        if name not in frame:
            frame[name] = np.nan
    constraints = _constraints(config)
    for name in constraints:
        if name not in frame:
            frame[name] = np.nan
    frame.insert(0, "evaluation", np.arange(1, len(frame) + 1))
    ok = ~np.any(np.isnan(objectives.matrix(frame)), axis=1)
    if "error" in frame:
        ok &= frame["error"].isna().to_numpy()
    ok &= feasible_mask(frame, constraints)
    frame["feasible"] = ok
    mode = _mode(config)
    role = str(meta.get(ROLE_KEY) or mode or "run")
    log = tuple(desc.get("log") or ())
    ref_point, ideal_point, ref_source = _ref_point(desc, meta, objectives, log, frame)
    sub = subnet_side(space)
    hw = hardware_side(space)
    return RunData(
        fixed=_frozen_choices(meta.get("space_def")),
        space=space,
        path=p,
        label=label or p.name,
        frame=frame,
        config=config,
        meta=meta,
        space_name=str(desc.get("space", meta.get("space", "?"))),
        mode=mode,
        role=role,
        objectives=objectives,
        constraints=constraints,
        ref_point=ref_point,
        ref_source=ref_source,
        ideal_point=ideal_point,
        log=log,
        subnet_choices=tuple(sub.names),
        hardware_choices=tuple(hw.names) if hw is not None else (),
    )


def _frozen_choices(space_def: Any) -> dict[str, Any]:
    """``{choice: value}`` of the choices with a single allowed value in the searched space's
    description (the store keeps the description of the frozen space the run searched)."""
    if not isinstance(space_def, Mapping):
        return {}
    sides = [space_def[k] for k in ("subnet", "hardware") if isinstance(space_def.get(k), Mapping)] or [space_def]
    out: dict[str, Any] = {}
    for side in sides:
        for c in side.get("choices", []) or []:
            if isinstance(c, Mapping) and len(c.get("values", []) or []) == 1:
                out[str(c["name"])] = c["values"][0]
    return out


def expand_run_paths(paths: str | Path | Iterable[str | Path]) -> list[Path]:
    """Run directories from paths: each entry is a run directory, a glob pattern, or a folder
    whose sub-folders are runs (e.g. an experiment's ``runs/``); order kept, duplicates dropped.

    Raises
    ------
    RunLoadError
        An entry matches no run directory.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    out: list[Path] = []
    for entry in paths:
        text = str(entry)
        matches = sorted(glob.glob(text)) if any(ch in text for ch in "*?[") else [text]
        found: list[Path] = []
        for m in matches:
            p = Path(m)
            if is_run_dir(p):
                found.append(p)
            elif p.is_dir():
                found += sorted(c for c in p.iterdir() if is_run_dir(c))
        if not found:
            raise RunLoadError(f"{text}: no run directory there (a run holds {RUN_CONFIG_FILE} and {RUN_STORE_FILE})")
        for f in found:
            if f.resolve() not in {o.resolve() for o in out}:
                out.append(f)
    return out


def load_runs(paths: str | Path | Iterable[str | Path], labels: Sequence[str] | None = None) -> list[RunData]:
    """Load several runs (see :func:`expand_run_paths` for what ``paths`` may hold).

    Labels default to the directories' names, made unique by prefixing parent folders.
    """
    dirs = expand_run_paths(paths)
    if labels is not None and len(labels) != len(dirs):
        raise RunLoadError(f"{len(labels)} labels for {len(dirs)} runs")
    names = list(labels) if labels is not None else _unique_labels(dirs)
    return [load_run(d, n) for d, n in zip(dirs, names)]


def _unique_labels(dirs: Sequence[Path]) -> list[str]:
    parts = [d.resolve().parts for d in dirs]
    depth = 1
    while True:
        labels = ["/".join(p[-depth:]) for p in parts]
        if len(set(labels)) == len(labels) or depth >= max(len(p) for p in parts):
            return labels
        depth += 1


__all__ = [
    "RunData",
    "RunLoadError",
    "ROLE_KEY",
    "ROLE_ORDER",
    "DEFAULT_TARGETS",
    "load_run",
    "load_runs",
    "expand_run_paths",
]


def _ref_point(
    desc: Mapping[str, Any], meta: Mapping[str, Any], objectives: Objectives, log: tuple[str, ...], frame: pd.DataFrame
) -> tuple[dict[str, float], dict[str, float] | None, str]:
    """A run's reference point, the ideal point of its scale, and the reference's source (see
    :class:`RunData`): the problem's, the ones its run inferred and recorded, or ones inferred
    from its successful evaluations so far."""
    from cimnet_bo.evaluate import Objective
    from cimnet_bo.search.problem import infer_points
    from cimnet_bo.search.run import REF_POINT_KEY

    def floats(point: Mapping[str, Any] | None) -> dict[str, float] | None:
        return None if point is None else {k: float(v) for k, v in point.items()}

    given_ideal = floats(desc.get("ideal_point"))
    if desc.get("ref_point"):
        return floats(desc["ref_point"]) or {}, given_ideal, "given"
    recorded = meta.get(REF_POINT_KEY)
    if recorded:
        return floats(recorded["point"]) or {}, given_ideal or floats(recorded.get("ideal")), "inferred"
    Y = objectives.matrix(frame) if len(frame) else np.zeros((0, len(objectives)))
    points = infer_points(Y, [Objective(n, d) for n, d in objectives], log, frame["feasible"].to_numpy(), given_ideal)
    if points is None:
        return {}, given_ideal, "provisional"
    return points[0], given_ideal or points[1], "provisional"
