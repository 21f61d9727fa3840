"""Search problems: a space, an evaluator, objectives with directions, constraints, and the
fixed reference point that makes hypervolumes comparable across runs and strategies.

Normalisation
-------------
Every objective is mapped onto a "larger is better" scale on which the reference point is 0
and the ideal point is 1 (the same convention as :class:`cimnet_bo.analysis.HypervolumeScale`
with fixed ``ref`` and ``ideal``):

1. objectives in :data:`LOG_OBJECTIVES` (``latency_s``, ``energy_j``, ``edp_js``) are replaced
   by their ``log10``;
2. ``u = (T(y) - T(ref)) / (T(ideal) - T(ref))`` for every objective (``T`` the transform of
   step 1), so ``u = 0`` at the reference, ``u = 1`` at the ideal, and larger is better for
   minimised and maximised objectives alike. A problem without an ideal point uses a
   denominator of 1 (``u = T(y) - T(ref)`` for maximised, ``T(ref) - T(y)`` for minimised
   objectives): hypervolumes are then in transformed units, still comparable across runs.

The hypervolume a search logs is the hypervolume of the feasible observed points in ``u``
with the reference point ``0``: for a problem with both points fixed it is the fraction of the
box between the reference and the ideal point that the points dominate, and equals
``HypervolumeScale.from_data(..., ref=problem.ref_point, ideal=problem.ideal_point).hypervolume``.

Reference points of the registered problems
-------------------------------------------
Fixed per registered space (:data:`REFERENCE_POINTS`), the same in every mode
(``joint``, ``model-only``, ``hardware-only``), so the three modes are comparable, and set so
that accuracy and latency both weigh in the hypervolume: each objective's reference and ideal
values bracket the feasible points of the space (within the baseline chip's area and peak
power) tightly, rounded outwards to a 1-2-5 step (latency, energy) or to 0.01 (accuracy).

* Latency and energy (CiM roofline model v2): the reference is above the largest subnet on the
  slowest (most energy-hungry) chip within the budgets, the ideal below the smallest subnet on
  its fastest (most frugal) chip, found by enumerating every chip within the budgets
  (``benchmarks/reference_points.py``; ``tests/test_search.py`` checks the bracket on random
  feasible points and on those extremes).
* Accuracy of the Fashion-MNIST spaces: the shipped supernet's subnets, on the search's
  validation split, span 0.861-0.887 (ViT: smallest and largest subnets, 40 random ones, the
  3,000 labeled ones) and 0.894-0.920 (CNN). The ImageNet-scale spaces ship no supernet:
  accuracy comes from outside, bracketed widely (top-1 0.50-0.90).

On the Fashion-MNIST spaces a Pareto front spanning the subnets' accuracies covers about half
of the accuracy axis and one to two of the three latency decades, so neither objective
dominates the hypervolume. Points worse than the reference in any objective add nothing.

=================  ==================  ==================  ==================
space              accuracy ref/ideal  latency_s ref/ideal energy_j ref/ideal
=================  ==================  ==================  ==================
vit-fmnist         0.85 / 0.90         2e-3 / 2e-6         5e-5 / 1e-7
cnn-fmnist         0.88 / 0.93         1e-2 / 1e-5         5e-5 / 2e-7
vit-b-imagenet     0.50 / 0.90         5e-2 / 1e-3         1e-2 / 2e-4
ofa-mbv3           0.50 / 0.90         5e-1 / 2e-3         5e-2 / 1e-4
ofa-resnet50       0.50 / 0.90         5e-1 / 2e-3         5e-2 / 2e-4
autoformer-t       0.50 / 0.90         5e-2 / 2e-4         5e-3 / 1e-4
autoformer-s       0.50 / 0.90         5e-2 / 1e-3         1e-2 / 2e-4
autoformer-b       0.50 / 0.90         1e-1 / 1e-3         1e-2 / 5e-4
=================  ==================  ==================  ==================

A registered problem is iso-area and iso-power: its area and peak power are bounded by the
baseline hardware's (``space.hardware.baseline``), given by the roofline model
(:func:`baseline_chip`), and ``feasible >= 1`` (an RRAM chip must not stream weights). The
budgets are written into the run's config when the run is created.
"""

from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from cimnet_bo.core import CimnetError
from cimnet_bo.evaluate import (
    CompositeEvaluator,
    Evaluations,
    Evaluator,
    Objective,
    RooflineEvaluator,
    SubnetCachedEvaluator,
    as_objectives,
)

#: Objectives normalised on a log10 scale (same tuple as ``cimnet_bo.analysis.LOG_OBJECTIVES``).
LOG_OBJECTIVES: tuple[str, ...] = ("latency_s", "energy_j", "edp_js")

#: Search modes of registered problems.
MODES: tuple[str, ...] = ("joint", "model-only", "hardware-only")

_IMAGENET = {"accuracy": (0.50, 0.90)}
#: ``{space: {objective: (reference, ideal)}}`` in the objectives' own units (see the table in
#: the module docstring).
REFERENCE_POINTS: dict[str, dict[str, tuple[float, float]]] = {
    "vit-fmnist": {"accuracy": (0.85, 0.90), "latency_s": (2e-3, 2e-6), "energy_j": (5e-5, 1e-7)},
    "cnn-fmnist": {"accuracy": (0.88, 0.93), "latency_s": (1e-2, 1e-5), "energy_j": (5e-5, 2e-7)},
    "vit-b-imagenet": {**_IMAGENET, "latency_s": (5e-2, 1e-3), "energy_j": (1e-2, 2e-4)},
    "ofa-mbv3": {**_IMAGENET, "latency_s": (5e-1, 2e-3), "energy_j": (5e-2, 1e-4)},
    "ofa-resnet50": {**_IMAGENET, "latency_s": (5e-1, 2e-3), "energy_j": (5e-2, 2e-4)},
    "autoformer-t": {**_IMAGENET, "latency_s": (5e-2, 2e-4), "energy_j": (5e-3, 1e-4)},
    "autoformer-s": {**_IMAGENET, "latency_s": (5e-2, 1e-3), "energy_j": (1e-2, 2e-4)},
    "autoformer-b": {**_IMAGENET, "latency_s": (1e-1, 1e-3), "energy_j": (1e-2, 5e-4)},
}

_OPS: dict[str, Callable[[Any, Any], Any]] = {"<=": operator.le, ">=": operator.ge}


class ProblemError(CimnetError, ValueError):
    """A problem, strategy or run option is invalid (raised before anything runs)."""


# ============================================================================ constraints
@dataclass(frozen=True)
class Constraint:
    """``name op bound`` on one output of the evaluator, e.g. ``area_mm2 <= 0.97``.

    Parameters
    ----------
    name : str
        An output (objective) name of the problem's evaluator.
    op : {"<=", ">="}
    bound : float
    """

    name: str
    op: str
    bound: float

    def __post_init__(self) -> None:
        if self.op not in _OPS:
            raise ProblemError(f"constraint {self.name!r}: operator must be '<=' or '>=', got {self.op!r}")
        if not isinstance(self.bound, (int, float)) or not math.isfinite(float(self.bound)):
            raise ProblemError(f"constraint {self.name!r}: bound must be a finite number, got {self.bound!r}")
        object.__setattr__(self, "bound", float(self.bound))

    @classmethod
    def parse(cls, spec: Any) -> "Constraint":
        """A constraint from ``"area_mm2 <= 1.5"``, ``{"name", "op", "bound"}``,
        ``(name, op, bound)`` or a :class:`Constraint`."""
        if isinstance(spec, Constraint):
            return spec
        if isinstance(spec, str):
            m = re.fullmatch(r"\s*([A-Za-z_][\w.\-]*)\s*(<=|>=)\s*([-+0-9.eE]+)\s*", spec)
            if not m:
                raise ProblemError(f"cannot read constraint {spec!r}; write it as 'NAME <= NUMBER' "
                                   "or 'NAME >= NUMBER'")
            return cls(m.group(1), m.group(2), float(m.group(3)))
        if isinstance(spec, Mapping):
            unknown = set(spec) - {"name", "op", "bound"}
            if unknown or "name" not in spec or "bound" not in spec:
                raise ProblemError(f"constraint {dict(spec)!r}: expected keys name, op, bound")
            return cls(spec["name"], spec.get("op", "<="), spec["bound"])
        try:
            name, op, bound = spec
        except (TypeError, ValueError):
            raise ProblemError(f"cannot read constraint {spec!r}") from None
        return cls(name, op, bound)

    def violation(self, values: np.ndarray) -> np.ndarray:
        """Amount of violation (> 0 infeasible, <= 0 feasible; NaN stays NaN), array (n,)."""
        v = np.asarray(values, dtype=np.float64)
        return v - self.bound if self.op == "<=" else self.bound - v

    def holds(self, values: np.ndarray) -> np.ndarray:
        """Bool array (n,): constraint met (NaN counts as violated)."""
        with np.errstate(invalid="ignore"):
            return self.violation(values) <= 0

    def __str__(self) -> str:
        return f"{self.name} {self.op} {self.bound:g}"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "op": self.op, "bound": self.bound}


# ============================================================================ the problem
class Problem:
    """What to search: a space, how to evaluate it, what to optimise, subject to what.

    Parameters
    ----------
    space : Space or JointSpace
        The search space (for a registered problem, possibly frozen on one side).
    evaluator : Evaluator, optional
        Produces the objectives and the constrained outputs. ``None`` for a problem whose
        evaluations all come from outside (ask/tell); then ``objectives`` must be
        :class:`~cimnet_bo.evaluate.Objective` s or ``(name, direction)`` pairs.
    objectives : sequence, optional
        Names (directions and cheapness taken from the evaluator), ``(name, direction)``
        pairs, dicts or :class:`~cimnet_bo.evaluate.Objective` s. Default: every objective of
        the evaluator. At least two.
    constraints : sequence, optional
        :class:`Constraint` s or strings such as ``"area_mm2 <= 0.97"``; each names an output
        of the evaluator (an objective or not).
    ref_point : mapping or sequence, optional
        Reference (worst interesting) value per objective, in the objectives' own units:
        ``{name: value}`` or a sequence in objective order. Required.
    ideal_point : mapping or sequence, optional
        Ideal value per objective (normalises each axis to [0, 1]; see the module docstring).
    log : sequence of str, optional
        Objectives normalised on a log10 scale (default: those in :data:`LOG_OBJECTIVES`).
    candidates : sequence of dict, optional
        A finite set of allowed configurations (a tabular benchmark): every strategy then
        proposes only these.
    name : str, optional
        Label used in run configs and progress lines.
    spec : dict, optional
        How to rebuild this problem (set by :meth:`from_space`; written to the run config).

    Notes
    -----
    An output is *cheap* when the evaluator part computing it (the evaluator itself, or a
    part of a :class:`~cimnet_bo.evaluate.CompositeEvaluator`, or the inner evaluator of a
    :class:`~cimnet_bo.evaluate.SubnetCachedEvaluator`) declares all its objectives cheap.
    Cheap outputs can be computed for whole candidate pools: cheap constraints are then
    enforced exactly on every proposal, and cheap objectives may be used as known functions.
    """

    def __init__(
        self,
        space: Any,
        evaluator: Evaluator | None = None,
        objectives: Sequence[Any] | None = None,
        constraints: Sequence[Any] = (),
        ref_point: Mapping[str, float] | Sequence[float] | None = None,
        ideal_point: Mapping[str, float] | Sequence[float] | None = None,
        log: Sequence[str] | None = None,
        candidates: Sequence[Mapping[str, Any]] | None = None,
        name: str | None = None,
        spec: Mapping[str, Any] | None = None,
    ) -> None:
        if isinstance(space, str):
            from cimnet_bo.space import get_space

            space = get_space(space)
        self.space = space
        self.evaluator = evaluator
        self.name = name or space.name
        self.spec = dict(spec) if spec is not None else None
        outputs = {o.name: o for o in evaluator.objectives} if evaluator is not None else {}
        self.objectives: tuple[Objective, ...] = self._objectives(objectives, outputs)
        names = [o.name for o in self.objectives]
        if len(names) < 2:
            raise ProblemError(f"a search needs at least two objectives, got {names}")
        self.constraints: tuple[Constraint, ...] = tuple(Constraint.parse(c) for c in constraints)
        if evaluator is not None:
            bad = [c.name for c in self.constraints if c.name not in outputs]
            if bad:
                raise ProblemError(f"constraint(s) on {bad}, which the evaluator does not produce; "
                                   f"its outputs are {list(outputs)}")
        self.log = tuple(n for n in (LOG_OBJECTIVES if log is None else log) if n in names)
        unknown_log = [n for n in (log or ()) if n not in names]
        if unknown_log:
            raise ProblemError(f"log names {unknown_log}, which are not objectives {names}")
        self.ref_point = self._point(ref_point, "ref_point", required=True)
        self.ideal_point = self._point(ideal_point, "ideal_point", required=False)
        for o in self.objectives:
            r = self.ref_point[o.name]
            if o.name in self.log and r <= 0:
                raise ProblemError(f"ref_point[{o.name!r}] = {r} must be > 0 (log scale)")
            if self.ideal_point is not None:
                i = self.ideal_point[o.name]
                if o.name in self.log and i <= 0:
                    raise ProblemError(f"ideal_point[{o.name!r}] = {i} must be > 0 (log scale)")
                if not (i > r if o.direction == "max" else i < r):
                    raise ProblemError(f"objective {o.name!r} ({o.direction}): the ideal {i} is not better "
                                       f"than the reference {r}")
        self._cheap_names, self._cheap_evaluator, self._subnet_only = _cheap_parts(evaluator, space)
        self.candidates: list[dict[str, Any]] | None = None
        if candidates is not None:
            cand = [space.validate(c) for c in candidates]
            if not cand:
                raise ProblemError("candidates is empty")
            self.candidates = cand

    # ------------------------------------------------------------------ set-up helpers
    @staticmethod
    def _objectives(objectives: Sequence[Any] | None, outputs: Mapping[str, Objective]) -> tuple[Objective, ...]:
        if objectives is None:
            if not outputs:
                raise ProblemError("a problem without an evaluator needs its objectives with directions")
            return tuple(outputs.values())
        out = []
        for o in objectives:
            if isinstance(o, str):
                if o not in outputs:
                    raise ProblemError(f"objective {o!r} is not produced by the evaluator; its outputs are "
                                       f"{list(outputs)}" if outputs else
                                       f"objective {o!r} needs a direction: give ({o!r}, 'max'|'min')")
                out.append(outputs[o])
                continue
            try:
                (obj,) = as_objectives([o])
            except (TypeError, ValueError, KeyError) as e:
                raise ProblemError(f"cannot read objective {o!r}: {e}") from None
            if outputs:
                if obj.name not in outputs:
                    raise ProblemError(f"objective {obj.name!r} is not produced by the evaluator; its outputs "
                                       f"are {list(outputs)}")
                obj = Objective(obj.name, obj.direction, outputs[obj.name].cheap)
            out.append(obj)
        names = [o.name for o in out]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ProblemError(f"repeated objectives {dupes}")
        return tuple(out)

    def _point(self, point: Any, label: str, required: bool) -> dict[str, float] | None:
        names = [o.name for o in self.objectives]
        if point is None:
            if required:
                raise ProblemError(f"{label} is required: one value per objective {names}")
            return None
        if isinstance(point, Mapping):
            missing = [n for n in names if n not in point]
            unknown = [k for k in point if k not in names]
            if missing or unknown:
                raise ProblemError(f"{label} must give one value per objective {names}; "
                                   + "; ".join(p for p in (f"missing {missing}" if missing else "",
                                                           f"unknown {unknown}" if unknown else "") if p))
            vals = [point[n] for n in names]
        else:
            vals = list(np.asarray(point, dtype=np.float64).reshape(-1))
            if len(vals) != len(names):
                raise ProblemError(f"{label} has {len(vals)} values but there are {len(names)} objectives "
                                   f"{names}")
        try:
            vals = [float(v) for v in vals]
        except (TypeError, ValueError):
            raise ProblemError(f"{label} values must be numbers, got {vals}") from None
        if not all(math.isfinite(v) for v in vals):
            raise ProblemError(f"{label} values must be finite, got {vals}")
        return dict(zip(names, vals))

    # ------------------------------------------------------------------ properties
    @property
    def objective_names(self) -> tuple[str, ...]:
        return tuple(o.name for o in self.objectives)

    @property
    def directions(self) -> tuple[str, ...]:
        return tuple(o.direction for o in self.objectives)

    @property
    def outputs(self) -> tuple[str, ...]:
        """Objective names, then constrained outputs that are not objectives (in order)."""
        names = list(self.objective_names)
        for c in self.constraints:
            if c.name not in names:
                names.append(c.name)
        return tuple(names)

    def is_cheap(self, name: str) -> bool:
        """True when output ``name`` comes from a cheap evaluator part (see the class notes)."""
        return name in self._cheap_names

    @property
    def cheap_outputs(self) -> tuple[str, ...]:
        """Outputs of the problem that are cheap, in :attr:`outputs` order."""
        return tuple(n for n in self.outputs if n in self._cheap_names)

    @property
    def cheap_evaluator(self) -> Evaluator | None:
        """An evaluator of the cheap outputs alone (None when there are none)."""
        return self._cheap_evaluator

    def subnet_only(self, name: str) -> bool:
        """True when output ``name`` depends on the subnet half of a joint configuration only."""
        return name in self._subnet_only

    @property
    def can_evaluate(self) -> bool:
        """False when some output only comes from outside (ask/tell runs)."""
        return self.evaluator is not None and not isinstance(self.evaluator, _ExternalOutputs)

    @property
    def identity(self) -> str:
        return self.evaluator.identity if self.evaluator is not None else "external"

    # ------------------------------------------------------------------ numbers
    def normalize(self, Y: np.ndarray) -> np.ndarray:
        """Objective matrix (n x m, objective order, own units) to the normalised
        larger-is-better scale ``u`` (reference 0, ideal 1; NaN stays NaN), array (n x m)."""
        Y = np.atleast_2d(np.asarray(Y, dtype=np.float64))
        if Y.shape[1] != len(self.objectives):
            raise ValueError(f"expected {len(self.objectives)} objective columns, got {Y.shape[1]}")
        U = np.empty_like(Y)
        for j, o in enumerate(self.objectives):
            t, r = Y[:, j], self.ref_point[o.name]
            ideal = None if self.ideal_point is None else self.ideal_point[o.name]
            if o.name in self.log:
                t = np.where(t > 0, np.log10(np.where(t > 0, t, 1.0)), np.nan)
                r = math.log10(r)
                ideal = None if ideal is None else math.log10(ideal)
            width = 1.0 if ideal is None else abs(ideal - r)
            U[:, j] = (t - r) / width if o.direction == "max" else (r - t) / width
        return U

    def feasible(self, values: Mapping[str, np.ndarray], n: int) -> np.ndarray:
        """Bool array (n,): every constraint holds (``values``: output name -> array (n,))."""
        ok = np.ones(n, dtype=bool)
        for c in self.constraints:
            ok &= c.holds(values[c.name])
        return ok

    def hypervolume(self, Y: np.ndarray, feasible: np.ndarray | None = None) -> float:
        """Normalised hypervolume (see the module docstring) of objective rows ``Y`` (n x m,
        own units); rows with NaN or not ``feasible`` (n,) count nothing. Uses BoTorch's
        ``Hypervolume`` and ``is_non_dominated``."""
        return hypervolume_u(self.normalize(Y) if len(Y) else np.empty((0, len(self.objectives))), feasible)

    def constraints_dict(self) -> dict[str, tuple[str, float]]:
        """Constraints as ``{output: (op, bound)}`` (the form of ``cimnet_bo.analysis.feasible_mask``)."""
        return {c.name: (c.op, c.bound) for c in self.constraints}

    def evaluate(self, configs: Sequence[Mapping[str, Any]]) -> Evaluations:
        """Evaluate configurations with the problem's evaluator (failures per candidate)."""
        if not self.can_evaluate:
            raise ProblemError(f"problem {self.name!r} has outputs that come from outside (use propose / tell)")
        return self.evaluator.evaluate(configs)

    def describe(self) -> dict[str, Any]:
        """A JSON-able description (what a run config records and checks on resume)."""
        return {
            "name": self.name, "space": self.space.name, "space_version": self.space.version,
            "space_size": float(self.space.size),
            "objectives": [o.to_dict() for o in self.objectives],
            "constraints": [str(c) for c in self.constraints],
            "ref_point": dict(self.ref_point),
            "ideal_point": None if self.ideal_point is None else dict(self.ideal_point),
            "log": list(self.log), "evaluator": self.identity,
            "candidates": None if self.candidates is None else len(self.candidates),
        }

    def __repr__(self) -> str:
        objs = ", ".join(f"{o.name} ({o.direction})" for o in self.objectives)
        cons = ", ".join(str(c) for c in self.constraints) or "none"
        return f"Problem({self.name!r}: {objs}; constraints: {cons})"

    # ------------------------------------------------------------------ registered problems
    @classmethod
    def from_space(
        cls,
        name: str,
        mode: str = "joint",
        objectives: Sequence[str] = ("accuracy", "latency_s"),
        energy: bool = False,
        area_budget: float | str | None = "baseline",
        power_budget: float | str | None = "baseline",
        accuracy: Any = "supernet",
        checkpoint: str | None = None,
        tech: Any = None,
        hardware: Mapping[str, Any] | str | None = None,
        subnet: Mapping[str, Any] | str | None = None,
        evaluator: Evaluator | None = None,
        candidates: Sequence[Mapping[str, Any]] | None = None,
        ref_point: Mapping[str, float] | None = None,
        ideal_point: Mapping[str, float] | None = None,
    ) -> "Problem":
        """The registered problem of a registered joint space.

        Parameters
        ----------
        name : str
            A registered joint space (``cimnet_bo.space.list_spaces()``).
        mode : {"joint", "model-only", "hardware-only"}
            ``model-only`` freezes the hardware (at ``hardware``, default the baseline chip);
            ``hardware-only`` freezes the subnet (at ``subnet``, default the largest).
        objectives : sequence of str
            Default: maximise ``accuracy``, minimise ``latency_s``.
        energy : bool
            Add ``energy_j`` (minimised) as a third objective.
        area_budget : float, "baseline" or None
            Constraint ``area_mm2 <= budget``; ``"baseline"`` (default) is the area of the
            baseline hardware (iso-area); None: no constraint.
        power_budget : float, "baseline" or None
            Constraint ``power_w <= budget`` on peak power; ``"baseline"`` (default) is the peak
            power of the baseline hardware (iso-power); None: no constraint. Every registered
            problem also requires ``feasible >= 1`` (an RRAM chip must not stream weights).
        accuracy : "supernet", "external", Evaluator or callable
            Where accuracy comes from: the trained supernet (``checkpoint``, default
            ``data/supernets/<space>.pt``), outside the library (ask/tell only), an evaluator,
            or a function ``subnet config -> accuracy``.
        checkpoint : str, optional
        tech : Technology, optional
            Technology constants of the roofline.
        hardware, subnet : dict or "baseline" / "max" / "min", optional
            The frozen side of ``model-only`` / ``hardware-only``; a dict may give only some
            knobs (the rest from the default).
        evaluator : Evaluator, optional
            Replaces the default evaluators (accuracy + roofline) entirely, e.g. a table.
        candidates : sequence of dict, optional
            Restrict proposals to these configurations (tabular benchmarks).
        ref_point, ideal_point : mapping, optional
            Override the registered reference / ideal values of some objectives.
        """
        from cimnet_bo.space import get_space, list_spaces

        if name not in list_spaces():
            raise ProblemError(f"unknown space {name!r}; registered: {list_spaces()}")
        if mode not in MODES:
            raise ProblemError(f"unknown mode {mode!r}; choose from {list(MODES)}")
        full = get_space(name)
        space = _frozen_space(full, mode, hardware, subnet)
        objectives = list(objectives)
        if energy and "energy_j" not in objectives:
            objectives.append("energy_j")
        custom_evaluator = evaluator is not None
        if evaluator is None:
            parts: list[Evaluator] = []
            acc = _accuracy_evaluator(full, accuracy, checkpoint) if "accuracy" in objectives else None
            if acc is not None:
                parts.append(acc)
            parts.append(RooflineEvaluator(full, tech=tech))
            evaluator = parts[0] if len(parts) == 1 else CompositeEvaluator(parts)
            if acc is None and "accuracy" in objectives:  # external accuracy: declared, not evaluated
                evaluator = _ExternalOutputs(evaluator, [Objective("accuracy", "max")])
        constraints = [Constraint("feasible", ">=", 1.0)]
        budgets = {"area_mm2": area_budget, "power_w": power_budget}
        base = None
        for output, budget in budgets.items():
            if budget is None:
                continue
            if budget == "baseline":
                base = base or baseline_chip(full, tech)
                budget = base[output]
            else:
                try:
                    budget = float(budget)
                except (TypeError, ValueError):
                    label = "area_budget" if output == "area_mm2" else "power_budget"
                    raise ProblemError(f"{label} must be a number, 'baseline' or None, "
                                       f"got {budget!r}") from None
            constraints.append(Constraint(output, "<=", _round_up(budget)))
        refs = REFERENCE_POINTS.get(name, {})
        rp = {o: refs[o][0] for o in objectives if o in refs}
        ip = {o: refs[o][1] for o in objectives if o in refs}
        rp.update(ref_point or {})
        ip.update(ideal_point or {})
        missing = [o for o in objectives if o not in rp]
        if missing:
            raise ProblemError(f"no registered reference point for {missing} in space {name!r}: pass ref_point=")
        spec: dict[str, Any] | None = {
            "space": name, "mode": mode, "objectives": objectives, "area_budget": area_budget,
            "power_budget": power_budget,
            "accuracy": accuracy, "checkpoint": None if checkpoint is None else str(checkpoint),
            "hardware": hardware, "subnet": subnet, "ref_point": dict(ref_point or {}) or None,
            "ideal_point": dict(ideal_point or {}) or None}
        if not isinstance(accuracy, str) or tech is not None or candidates is not None or custom_evaluator:
            spec = None  # built from Python objects: reopen the run with the same problem object
        else:
            spec = {k: v for k, v in spec.items() if v is not None}
        return cls(space, evaluator, objectives, constraints, rp, ip if all(o in ip for o in objectives) else None,
                   candidates=candidates, name=f"{name}:{mode}", spec=spec)


# ============================================================================ helpers
def hypervolume_u(U: np.ndarray, feasible: np.ndarray | None = None) -> float:
    """Hypervolume of normalised points ``U`` (n x m, larger is better) above the reference 0,
    with BoTorch's ``Hypervolume``; rows with NaN or not ``feasible`` are skipped."""
    import torch
    from botorch.utils.multi_objective.hypervolume import Hypervolume
    from botorch.utils.multi_objective.pareto import is_non_dominated

    U = np.asarray(U, dtype=np.float64)
    if U.size == 0:
        return 0.0
    keep = np.all(np.isfinite(U), axis=1) & np.all(U > 0, axis=1)
    if feasible is not None:
        keep &= np.asarray(feasible, dtype=bool)
    if not keep.any():
        return 0.0
    Yt = torch.as_tensor(U[keep], dtype=torch.float64)
    front = Yt[is_non_dominated(Yt, deduplicate=True)]
    return float(Hypervolume(ref_point=torch.zeros(U.shape[1], dtype=torch.float64)).compute(front))


def _round_up(x: float, digits: int = 6) -> float:
    """The smallest number of ``digits`` significant digits that is >= ``x`` (so a budget prints
    exactly, as ``%g`` does, and the chip it comes from still meets it)."""
    r = float(f"{x:.{digits}g}")
    if r < x:
        step = 10.0 ** (math.floor(math.log10(abs(x))) - digits + 1)
        r = float(f"{r + step:.{digits}g}")
    return r


def baseline_chip(space: Any, tech: Any = None) -> dict[str, float]:
    """Area (mm^2) and peak power (W) of the space's baseline hardware: ``{"area_mm2": ...,
    "power_w": ...}``. Neither depends on the subnet."""
    if space.hardware.baseline is None:
        raise ProblemError(f"hardware space {space.hardware.name!r} has no baseline: give area_budget "
                           "and power_budget")
    cfg = {**space.subnet.extreme("max"), **space.hardware.baseline}
    res = RooflineEvaluator(space, tech=tech, objectives=("area_mm2", "power_w")).evaluate([cfg])
    if res.errors[0] is not None:
        raise ProblemError(f"cannot compute the baseline chip: {res.errors[0]}")
    return {"area_mm2": float(res.values[0, 0]), "power_w": float(res.values[0, 1])}


def _frozen_space(full: Any, mode: str, hardware: Any, subnet: Any) -> Any:
    if mode == "joint":
        if hardware is not None or subnet is not None:
            raise ProblemError("hardware= / subnet= freeze one side: use mode='model-only' or 'hardware-only'")
        return full
    side, value, default = (("hardware", hardware, "baseline") if mode == "model-only"
                            else ("subnet", subnet, "max"))
    if (hardware if side == "subnet" else subnet) is not None:
        raise ProblemError(f"mode {mode!r} freezes the {side}; do not give the other side")
    half = getattr(full, side)
    if value is None:
        value = default
    if isinstance(value, Mapping):
        base = half.baseline if half.baseline is not None else half.extreme("max")
        unknown = [k for k in value if k not in half.names]
        if unknown:
            raise ProblemError(f"frozen {side} configuration: unknown keys {unknown}; the {side} choices are "
                               f"{list(half.names)}")
        value = {**base, **value}
    try:
        return full.freeze(**{side: value})
    except ValueError as e:
        raise ProblemError(f"frozen {side} configuration is not in space {half.name!r}: {e}") from None


def _accuracy_evaluator(space: Any, accuracy: Any, checkpoint: str | None) -> Evaluator | None:
    from cimnet_bo.evaluate import AccuracyEvaluator, CallableEvaluator

    if isinstance(accuracy, str):
        if accuracy == "supernet":
            ev: Evaluator = AccuracyEvaluator(space, checkpoint=checkpoint)
            try:
                ev.identity  # noqa: B018 - fails early when the checkpoint is missing
            except FileNotFoundError as e:
                raise ProblemError(str(e)) from None
        elif accuracy == "external":
            return None
        elif ":" in accuracy:
            from cimnet_bo.evaluate.evaluators import load_function

            try:
                func = load_function(accuracy)
            except ValueError as e:
                raise ProblemError(f"accuracy function not found: {e}") from None
            ev = CallableEvaluator(func, [("accuracy", "max")], space=space, name=f"callable:{accuracy}",
                                   subnet_only=True)
        else:
            raise ProblemError(f"accuracy must be 'supernet', 'external', MODULE:FUNCTION, an evaluator or a "
                               f"callable; got {accuracy!r}")
    elif isinstance(accuracy, Evaluator):
        ev = accuracy
    elif callable(accuracy):
        ev = CallableEvaluator(accuracy, [("accuracy", "max")], space=space, subnet_only=True)
    else:
        raise ProblemError(f"cannot use {accuracy!r} as the accuracy source")
    if "accuracy" not in ev.names:
        raise ProblemError(f"the accuracy evaluator produces {list(ev.names)}, not 'accuracy'")
    if ev.subnet_only and not isinstance(ev, SubnetCachedEvaluator):
        ev = SubnetCachedEvaluator(ev, space)
    return ev


class _ExternalOutputs(Evaluator):
    """The outputs of ``inner`` plus outputs that only come from outside (ask/tell); the
    latter are NaN when evaluated here, so :meth:`evaluate` fails every candidate."""

    def __init__(self, inner: Evaluator, external: Sequence[Objective]) -> None:
        self.inner = inner
        self.external = tuple(external)
        self.objectives = tuple(inner.objectives) + self.external
        self.space = None

    @property
    def can_evaluate(self) -> bool:
        """False when some output only comes from outside (ask/tell runs)."""
        return self.evaluator is not None and not isinstance(self.evaluator, _ExternalOutputs)

    @property
    def identity(self) -> str:
        return f"external | {self.inner.identity}"

    def evaluate(self, configs: Iterable[Mapping[str, Any]]) -> Evaluations:
        configs = list(configs)
        out = Evaluations.empty(self.names, len(configs))
        out.errors = [f"{[o.name for o in self.external]} come from outside: use propose / tell"] * len(configs)
        return out


def _cheap_parts(evaluator: Evaluator | None, space: Any) -> tuple[set[str], Evaluator | None, set[str]]:
    """(cheap output names, an evaluator of exactly those, subnet-only output names)."""
    if evaluator is None:
        return set(), None, set()
    parts = evaluator.parts if isinstance(evaluator, CompositeEvaluator) else [evaluator]
    if isinstance(evaluator, _ExternalOutputs):
        inner = evaluator.inner
        parts = inner.parts if isinstance(inner, CompositeEvaluator) else [inner]
    cheap: list[Evaluator] = []
    subnet_only: set[str] = set()
    for p in parts:
        if p.subnet_only:
            subnet_only.update(p.names)
        if p.objectives and all(o.cheap for o in p.objectives):
            cheap.append(p)
    names = {n for p in cheap for n in p.names}
    ev = None if not cheap else cheap[0] if len(cheap) == 1 else CompositeEvaluator(cheap)
    if evaluator.subnet_only:
        subnet_only.update(evaluator.names)
    if not hasattr(space, "hardware"):
        subnet_only = set()
    return names, ev, subnet_only
