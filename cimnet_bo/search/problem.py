"""Search problems: a space, an evaluator, objectives with directions, constraints, and the
fixed reference point that makes hypervolumes comparable across runs and strategies.

Normalisation
-------------
Every objective is mapped onto a "larger is better" scale on which the reference point is 0
and the ideal point is 1 (:meth:`cimnet_bo.moo.HypervolumeScale.from_points`):

1. objectives in :data:`~cimnet_bo.moo.LOG_OBJECTIVES` (``latency_s``, ``energy_j``, ``edp_js``) are replaced
   by their ``log10``;
2. ``u = (T(y) - T(ref)) / (T(ideal) - T(ref))`` for every objective (``T`` the transform of
   step 1), so ``u = 0`` at the reference, ``u = 1`` at the ideal, and larger is better for
   minimised and maximised objectives alike. A problem without an ideal point uses a
   denominator of 1 (``u = T(y) - T(ref)`` for maximised, ``T(ref) - T(y)`` for minimised
   objectives): hypervolumes are then in transformed units, still comparable across runs.

The hypervolume a search logs is the hypervolume of the feasible observed points in ``u``
with the reference point ``0``: for a problem with both points fixed it is the fraction of the
box between the reference and the ideal point that the points dominate, and equals
``HypervolumeScale.from_data(..., log=problem.log, ref=problem.ref_point,
ideal=problem.ideal_point).hypervolume``.

Inferred reference point
------------------------
A problem may leave ``ref_point`` out. A run then infers it once its initial design is
evaluated (:func:`infer_points`: the rule of BoTorch's ``infer_reference_point`` on the
transformed, maximised Pareto front of the initial design's successful, feasible evaluations,
pushed out by :data:`REF_MARGIN` of the front's range), and, when the problem has no
``ideal_point`` either, takes the front's best values as the ideal, so hypervolumes are
unit-free (1: the box between the inferred reference and the initial design's best values;
later points may exceed it). It records both in its store and uses them from then on, resumes
included, so the run's hypervolumes stay comparable with each other. Until then (an ask/tell
run whose initial design is not all told) the points inferred from the evaluations so far are
used, and not recorded.

The registered problems (spaces of the catalog, their reference points and budgets) are built
by :mod:`cimnet_bo.search.registered`.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np

from cimnet_bo.core import CimnetError
from cimnet_bo.evaluate import CompositeEvaluator, Evaluations, Evaluator, ExternalOutputs, Objective
from cimnet_bo.moo import (
    LOG_OBJECTIVES,
    Constraint,
    ConstraintError,
    HypervolumeScale,
    constraints_dict,
    objective_list,
)
from cimnet_bo.space import AnySpace, SpaceLike, as_space, is_joint

#: Constraint operators a search takes (a bound is met or violated by a measurable amount).
SEARCH_OPERATORS: tuple[str, ...] = ("<=", ">=")
#: An inferred reference point lies this fraction of the Pareto front's range (per objective, on
#: the transformed scale) beyond the front's worst value (BoTorch's ``infer_reference_point``
#: ``scale``; 0.1 after Ishibuchi et al., 2011).
REF_MARGIN = 0.1


class ProblemError(CimnetError, ValueError):
    """A problem, strategy or run option is invalid (raised before anything runs)."""


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
        :class:`~cimnet_bo.moo.Constraint` s or strings such as ``"area_mm2 <= 0.97"``; each names an output
        of the evaluator (an objective or not).
    ref_point : mapping or sequence, optional
        Reference (worst interesting) value per objective, in the objectives' own units:
        ``{name: value}`` or a sequence in objective order. Default: inferred by the run from
        its initial design (see the module docstring and :meth:`set_ref_point`).
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
        How to rebuild this problem (set by :func:`~cimnet_bo.search.registered.space_problem`;
        written to the run config).

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
        space: SpaceLike,
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
        space = as_space(space)
        self.space = space
        self.evaluator = evaluator
        self.name = name or space.name
        self.spec = dict(spec) if spec is not None else None
        outputs = {o.name: o for o in evaluator.objectives} if evaluator is not None else {}
        self.objectives: tuple[Objective, ...] = self._objectives(objectives, outputs)
        names = [o.name for o in self.objectives]
        if len(names) < 2:
            raise ProblemError(f"a search needs at least two objectives, got {names}")
        try:
            self.constraints: tuple[Constraint, ...] = tuple(Constraint.parse(c) for c in constraints)
        except ConstraintError as e:
            raise ProblemError(str(e)) from None
        strict = [str(c) for c in self.constraints if c.op not in SEARCH_OPERATORS]
        if strict:
            raise ProblemError(
                f"cannot read constraint(s) {strict} for a search: write 'NAME <= NUMBER' or 'NAME >= NUMBER'"
            )
        if evaluator is not None:
            bad = [c.name for c in self.constraints if c.name not in outputs]
            if bad:
                raise ProblemError(
                    f"constraint(s) on {bad}, which the evaluator does not produce; its outputs are {list(outputs)}"
                )
        self.log = tuple(n for n in (LOG_OBJECTIVES if log is None else log) if n in names)
        unknown_log = [n for n in (log or ()) if n not in names]
        if unknown_log:
            raise ProblemError(f"log names {unknown_log}, which are not objectives {names}")
        self.ideal_point = self._point(ideal_point, "ideal_point")
        for name, i in (self.ideal_point or {}).items():
            if name in self.log and i <= 0:
                raise ProblemError(f"ideal_point[{name!r}] = {i} must be > 0 (log scale)")
        self.ref_point: dict[str, float] | None = None
        self.scale: HypervolumeScale | None = None
        #: The ideal point of :attr:`scale`: ``ideal_point``, or one a run inferred (or None).
        self.scale_ideal: dict[str, float] | None = self.ideal_point
        #: ``"given"``, ``"inferred"`` (by a run, from its initial design), ``"provisional"`` (by a
        #: run whose initial design is not all evaluated) or None (not known yet).
        self.ref_source: str | None = None
        if ref_point is not None:
            self.set_ref_point(ref_point)
        self._cheap_names, self._cheap_evaluator, self._subnet_only, self._chip_knobs = _cheap_parts(evaluator, space)
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
                    raise ProblemError(
                        f"objective {o!r} is not produced by the evaluator; its outputs are {list(outputs)}"
                        if outputs
                        else f"objective {o!r} needs a direction: give ({o!r}, 'max'|'min')"
                    )
                out.append(outputs[o])
                continue
            try:
                (obj,) = objective_list([o])
            except (TypeError, ValueError, KeyError) as e:
                raise ProblemError(f"cannot read objective {o!r}: {e}") from None
            if outputs:
                if obj.name not in outputs:
                    raise ProblemError(
                        f"objective {obj.name!r} is not produced by the evaluator; its outputs are {list(outputs)}"
                    )
                obj = Objective(obj.name, obj.direction, outputs[obj.name].cheap)
            out.append(obj)
        names = [o.name for o in out]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ProblemError(f"repeated objectives {dupes}")
        return tuple(out)

    def set_ref_point(
        self,
        point: Mapping[str, float] | Sequence[float],
        source: str = "given",
        ideal: Mapping[str, float] | None = None,
    ) -> None:
        """Set the reference point (``{name: value}`` or a sequence in objective order, own
        units) and the hypervolume scale; ``source`` is recorded in :attr:`ref_source`.
        ``ideal``: the ideal point of the scale when the problem has none of its own (an
        inferred one), kept in :attr:`scale_ideal`."""
        ref = self._point(point, "ref_point")
        if ref is None:
            raise ProblemError("set_ref_point needs a value per objective, got None")
        top = self.ideal_point if self.ideal_point is not None else self._point(ideal, "ideal_point")
        for o in self.objectives:
            r = ref[o.name]
            if o.name in self.log and r <= 0:
                raise ProblemError(f"ref_point[{o.name!r}] = {r} must be > 0 (log scale)")
            if top is not None:
                i = top[o.name]
                if not (i > r if o.direction == "max" else i < r):
                    raise ProblemError(
                        f"objective {o.name!r} ({o.direction}): the ideal {i} is not better than the reference {r}"
                    )
        self.ref_point = ref
        self.ref_source = source
        self.scale_ideal = top
        self.scale = HypervolumeScale.from_points([(o.name, o.direction) for o in self.objectives], ref, top, self.log)

    def without_ref_point(self) -> "Problem":
        """A shallow copy of this problem with no reference point (a run then infers its own)."""
        import copy

        out = copy.copy(self)
        out.ref_point, out.scale, out.ref_source, out.scale_ideal = None, None, None, self.ideal_point
        return out

    def infer_points(
        self, Y: np.ndarray, feasible: np.ndarray | None = None
    ) -> tuple[dict[str, float], dict[str, float]] | None:
        """``(reference, ideal)`` that :func:`infer_points` gives for objective rows ``Y``
        (n x m, own units; rows not ``feasible`` (n,) left out unless none is), with the
        problem's ideal point where it has one; None when no row is usable."""
        return infer_points(self._check_columns(Y), self.objectives, self.log, feasible, self.ideal_point)

    def _point(self, point: Any, label: str) -> dict[str, float] | None:
        names = [o.name for o in self.objectives]
        if point is None:
            return None
        if isinstance(point, Mapping):
            missing = [n for n in names if n not in point]
            unknown = [k for k in point if k not in names]
            if missing or unknown:
                raise ProblemError(
                    f"{label} must give one value per objective {names}; "
                    + "; ".join(
                        p
                        for p in (f"missing {missing}" if missing else "", f"unknown {unknown}" if unknown else "")
                        if p
                    )
                )
            vals = [point[n] for n in names]
        else:
            vals = list(np.asarray(point, dtype=np.float64).reshape(-1))
            if len(vals) != len(names):
                raise ProblemError(f"{label} has {len(vals)} values but there are {len(names)} objectives {names}")
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

    def chip_knobs(self, name: str) -> tuple[str, ...] | None:
        """The hardware knobs of the space that output ``name`` depends on besides the subnet:
        ``()`` when it depends on the subnet alone, None when it may depend on any (or the
        space is not joint)."""
        if self.subnet_only(name):
            return ()
        knobs = self._chip_knobs.get(name)
        if knobs is None:
            return None
        return tuple(n for n in self.space.hardware.names if n in knobs)

    @property
    def can_evaluate(self) -> bool:
        """False when some output only comes from outside (ask/tell runs)."""
        return self.evaluator is not None and self.evaluator.can_evaluate

    @property
    def identity(self) -> str:
        return self.evaluator.identity if self.evaluator is not None else "external"

    # ------------------------------------------------------------------ numbers
    def _scale(self) -> HypervolumeScale:
        if self.scale is None:
            raise ProblemError(
                f"problem {self.name!r} has no reference point yet: a run infers it from its successful evaluations"
            )
        return self.scale

    def normalize(self, Y: np.ndarray) -> np.ndarray:
        """Objective matrix (n x m, objective order, own units) to the normalised
        larger-is-better scale ``u`` (reference 0, ideal 1; NaN stays NaN), array (n x m).
        Without a reference point yet, rows that all hold NaN (failed) stay NaN."""
        Y = self._check_columns(Y)
        if self.scale is None and np.isnan(Y).any(axis=1).all():
            return np.full(Y.shape, np.nan)
        return self._scale().maximized(Y)

    def _check_columns(self, Y: Any) -> np.ndarray:
        Y = np.atleast_2d(np.asarray(Y, dtype=np.float64))
        if Y.ndim != 2 or Y.shape[1] != len(self.objectives):
            raise ValueError(f"expected objective rows (n x {len(self.objectives)}), got shape {Y.shape}")
        return Y

    def feasible(self, values: Mapping[str, np.ndarray], n: int) -> np.ndarray:
        """Bool array (n,): every constraint holds (``values``: output name -> array (n,))."""
        ok = np.ones(n, dtype=bool)
        for c in self.constraints:
            ok &= c.holds(values[c.name])
        return ok

    def hypervolume(self, Y: np.ndarray, feasible: np.ndarray | None = None) -> float:
        """Normalised hypervolume (see the module docstring) of objective rows ``Y`` (n x m,
        own units); rows with NaN or not ``feasible`` (n,) count nothing."""
        Y = np.asarray(Y, dtype=np.float64)
        if not Y.size or (self.scale is None and np.isnan(Y).any(axis=-1).all()):
            return 0.0
        return self._scale().hypervolume(self._check_columns(Y), feasible)

    def constraints_dict(self) -> dict[str, tuple[str, float]]:
        """Constraints as ``{output: (op, bound)}`` (a form ``cimnet_bo.moo.feasible_mask`` takes)."""
        return constraints_dict(self.constraints)

    def evaluate(self, configs: Sequence[Mapping[str, Any]]) -> Evaluations:
        """Evaluate configurations with the problem's evaluator (failures per candidate)."""
        if not self.can_evaluate:
            raise ProblemError(f"problem {self.name!r} has outputs that come from outside (use propose / tell)")
        return self.evaluator.evaluate(configs)

    def describe(self) -> dict[str, Any]:
        """A JSON-able description (what a run config records and checks on resume)."""
        return {
            "name": self.name,
            "space": self.space.name,
            "space_version": self.space.version,
            "space_size": float(self.space.size),
            "objectives": [o.to_dict() for o in self.objectives],
            "constraints": [c.to_dict() for c in self.constraints],
            "ref_point": dict(self.ref_point) if self.ref_source == "given" else None,
            "ideal_point": None if self.ideal_point is None else dict(self.ideal_point),
            "log": list(self.log),
            "evaluator": self.identity,
            "candidates": None if self.candidates is None else len(self.candidates),
        }

    def __repr__(self) -> str:
        objs = ", ".join(f"{o.name} ({o.direction})" for o in self.objectives)
        cons = ", ".join(str(c) for c in self.constraints) or "none"
        return f"Problem({self.name!r}: {objs}; constraints: {cons})"

    @classmethod
    def from_space(cls, name: str, **kwargs: Any) -> "Problem":
        """The registered problem of a registered joint space: see
        :func:`cimnet_bo.search.registered.space_problem` (same arguments)."""
        from cimnet_bo.search.registered import space_problem

        return space_problem(name, **kwargs)


def infer_points(
    Y: np.ndarray,
    objectives: Sequence[Objective],
    log: Sequence[str],
    feasible: np.ndarray | None = None,
    ideal: Mapping[str, float] | None = None,
    margin: float = REF_MARGIN,
) -> tuple[dict[str, float], dict[str, float]] | None:
    """A reference and an ideal point from observed objectives, on the problem's transformed
    scale (``log10`` for ``log`` objectives, signs flipped so that every objective is maximised).

    The rule of BoTorch's ``infer_reference_point``: the reference is the worst value of the
    Pareto front minus ``margin`` times the front's range, per objective; where the front has
    no range (one point, or one value on that objective), the range of all the rows used is
    taken instead, and where they have none either, the value's magnitude (at least 1). The
    ideal is the front's best value, or ``ideal`` where given; the reference is then kept at
    least ``margin`` times the range worse than it.

    Parameters
    ----------
    Y : array (n x m)
        Objective rows in the objectives' own units (rows with NaN, or a value <= 0 on a log
        objective, are left out).
    objectives : sequence of Objective
        Names and directions, in column order.
    log : sequence of str
        Objectives on a log10 scale.
    feasible : array of bool (n,), optional
        Rows that meet the constraints; when none does, every usable row is used.
    ideal : mapping, optional
        A given ideal point (own units).
    margin : float

    Returns
    -------
    (dict, dict) or None
        ``({name: reference}, {name: ideal})`` in own units; None when no row is usable.
    """
    from cimnet_bo.moo import pareto_mask

    Y = np.asarray(Y, dtype=np.float64)
    logs = np.array([o.name in log for o in objectives])
    ok = np.isfinite(Y).all(axis=1) & ~(logs & (Y <= 0)).any(axis=1)
    if feasible is not None and (ok & feasible).any():
        ok &= np.asarray(feasible, dtype=bool)
    if not ok.any():
        return None
    signs = np.array([1.0 if o.direction == "max" else -1.0 for o in objectives])

    def to_t(V: np.ndarray) -> np.ndarray:  # own units -> transformed and maximised
        return np.where(logs, np.log10(np.where(logs, V, 1.0)), V) * signs

    def from_t(T: np.ndarray) -> np.ndarray:
        T = T * signs
        return np.where(logs, 10.0 ** np.where(logs, T, 0.0), T)

    T = to_t(Y[ok])
    front = T[pareto_mask(T, ["max"] * len(objectives))]
    nadir, best = front.min(axis=0), front.max(axis=0)
    width = best - nadir
    width = np.where(width > 0, width, T.max(axis=0) - T.min(axis=0))
    width = np.where(width > 0, width, np.maximum(np.abs(nadir), 1.0))
    top = best if ideal is None else to_t(np.array([float(ideal[o.name]) for o in objectives]))
    ref = np.minimum(nadir, top) - margin * width
    names = [o.name for o in objectives]
    return dict(zip(names, map(float, from_t(ref)))), dict(zip(names, map(float, from_t(top))))


def _cheap_parts(
    evaluator: Evaluator | None, space: AnySpace
) -> tuple[set[str], Evaluator | None, set[str], dict[str, tuple[str, ...]]]:
    """(cheap output names, an evaluator of exactly those, subnet-only output names, the
    hardware knobs of the outputs that declare them besides the subnet)."""
    if evaluator is None:
        return set(), None, set(), {}
    parts = evaluator.parts if isinstance(evaluator, CompositeEvaluator) else [evaluator]
    if isinstance(evaluator, ExternalOutputs):
        inner = evaluator.inner
        parts = inner.parts if isinstance(inner, CompositeEvaluator) else [inner]
    cheap: list[Evaluator] = []
    subnet_only: set[str] = set()
    knobs: dict[str, tuple[str, ...]] = {}
    for p in parts:
        if p.subnet_only:
            subnet_only.update(p.names)
        elif p.chip_knobs is not None:
            knobs.update({n: tuple(p.chip_knobs) for n in p.names})
        if p.objectives and all(o.cheap for o in p.objectives):
            cheap.append(p)
    names = {n for p in cheap for n in p.names}
    ev = None if not cheap else cheap[0] if len(cheap) == 1 else CompositeEvaluator(cheap)
    if evaluator.subnet_only:
        subnet_only.update(evaluator.names)
    if not is_joint(space):
        return names, ev, set(), {}
    return names, ev, subnet_only, knobs
