"""Problems from their YAML / command-line descriptions (what a run's config records), from
labeled tables, from user spaces with a ``MODULE:FUNCTION`` evaluator, and from torch models
(``model: MODULE:FACTORY``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from cimnet_bo.search.problem import Problem, ProblemError

#: Keys of a spec that go to :func:`~cimnet_bo.search.registered.space_problem` as they are.
REGISTERED_KEYS = (
    *("mode", "energy", "area_budget", "power_budget", "accuracy", "checkpoint", "images"),
    *("hardware", "subnet", "ref_point", "ideal_point"),
)
#: Keys of a model problem's spec (:func:`~cimnet_bo.search.network.model_problem`).
MODEL_KEYS = (
    *("model", "input_shape", "unknown_ops", "table_sha256", "space", "mode", "objectives", "energy"),
    *("area_budget", "power_budget", "ref_point", "ideal_point"),
)


def problem_from_spec(spec: Mapping[str, Any]) -> Problem:
    """A problem from its YAML/CLI description.

    Keys: ``space`` (a registered joint space, or a space YAML file), ``mode``, ``objectives``
    (names, or ``[name, direction]`` pairs for user evaluators), ``energy``, ``area_budget``,
    ``power_budget``,
    ``accuracy`` (``supernet``, ``external`` or ``MODULE:FUNCTION``), ``checkpoint``, ``images``
    (supernet accuracy on the first that many validation images),
    ``hardware`` / ``subnet`` (frozen side), ``table`` (a labeled dataset: tabular problem),
    ``evaluator`` (``MODULE:FUNCTION`` returning a dict of outputs, for user spaces),
    ``constraints`` (strings such as ``"area_mm2 <= 1.0"``), ``ref_point``, ``ideal_point``.

    A spec with ``model`` (``MODULE:FACTORY``) is the hardware-only problem of that torch model
    (:mod:`cimnet_bo.search.network`): keys :data:`MODEL_KEYS`, ``space`` a hardware space or a
    registered space (optional).
    """
    spec = dict(spec)
    if spec.get("model") is not None:
        return _model_problem(spec)
    known = {"space", "objectives", "table", "evaluator", "constraints", "log", *REGISTERED_KEYS}
    unknown = sorted(set(spec) - known)
    if unknown:
        raise ProblemError(f"unknown problem keys {unknown}; known: {sorted(known)}")
    if "space" not in spec:
        raise ProblemError("the problem needs a 'space'")
    _check_kinds(spec)
    from cimnet_bo.space import list_spaces

    space = spec["space"]
    if spec.get("evaluator") or space not in list_spaces():
        return _user_problem(spec)
    kw: dict[str, Any] = {k: spec[k] for k in REGISTERED_KEYS if k in spec}
    if spec.get("objectives") is not None:
        kw["objectives"] = [o if isinstance(o, str) else o[0] for o in spec["objectives"]]
    if spec.get("constraints"):
        raise ProblemError("registered problems take area_budget and power_budget; 'constraints' is for user problems")
    if spec.get("table"):
        kw = {k: v for k, v in kw.items() if k not in ("accuracy", "checkpoint", "images")}
        return table_problem(space, spec["table"], **kw)
    return Problem.from_space(space, **kw)


def _is_objective(o: Any) -> bool:
    """A name, or a ``[name, direction]`` pair."""
    return isinstance(o, str) or (isinstance(o, (list, tuple)) and len(o) == 2 and all(isinstance(x, str) for x in o))


#: Problem keys whose values must be of a kind: key -> (check, what the message calls it).
SPEC_KINDS = {
    "space": (lambda v: isinstance(v, str), "a registered space or a space file"),
    "objectives": (
        lambda v: isinstance(v, (list, tuple)) and all(_is_objective(o) for o in v),
        "a list of names or [name, direction] pairs",
    ),
    "constraints": (lambda v: isinstance(v, (list, tuple)), "a list such as ['area_mm2 <= 1.0']"),
    "mode": (lambda v: isinstance(v, str), "a mode name"),
    "energy": (lambda v: isinstance(v, bool), "true or false"),
    "table": (lambda v: isinstance(v, str), "the path of a labeled dataset"),
    "checkpoint": (lambda v: isinstance(v, str), "the path of a supernet checkpoint"),
    "images": (lambda v: type(v) is int and v >= 1, "a whole number >= 1 (validation images)"),
    "ref_point": (lambda v: isinstance(v, Mapping), "a mapping objective -> value"),
    "ideal_point": (lambda v: isinstance(v, Mapping), "a mapping objective -> value"),
    "model": (lambda v: isinstance(v, str), "MODULE:FACTORY (a torch.nn.Module factory)"),
    "input_shape": (
        lambda v: isinstance(v, (list, tuple)) and v and all(type(n) is int and n >= 1 for n in v),
        "a list of integers >= 1 such as [1, 3, 224, 224]",
    ),
    "unknown_ops": (lambda v: v in ("error", "eltwise"), "'error' or 'eltwise'"),
    "table_sha256": (lambda v: isinstance(v, str), "the hex digest of a layer table"),
}


def _check_kinds(spec: Mapping[str, Any]) -> None:
    """Raise :class:`ProblemError` naming the first key of ``spec`` whose value is of the wrong
    kind (see :data:`SPEC_KINDS`); values given as None are left to the defaults."""
    for key, (ok, noun) in SPEC_KINDS.items():
        if spec.get(key) is not None and not ok(spec[key]):
            raise ProblemError(f"the problem's {key!r} must be {noun}, got {spec[key]!r}")


def _model_problem(spec: Mapping[str, Any]) -> Problem:
    """The hardware-only problem of a torch model (``spec["model"]``), checked key by key."""
    from cimnet_bo.search.network import MODE, model_problem

    unknown = sorted(set(spec) - set(MODEL_KEYS))
    if unknown:
        raise ProblemError(
            f"a model problem takes no {unknown}: the network is fixed, only its chip is searched; "
            f"its keys are {list(MODEL_KEYS)}"
        )
    _check_kinds(spec)
    if spec.get("mode", MODE) != MODE:
        raise ProblemError(
            f"a model problem searches the chip of a fixed network: mode must be {MODE!r}, got {spec['mode']!r}"
        )
    if spec.get("input_shape") is None:
        raise ProblemError(f"model {spec['model']!r} needs an input shape (input_shape, e.g. [1, 3, 224, 224])")
    budgets = ("area_budget", "power_budget")  # None: no budget
    kw = {k: v for k, v in spec.items() if k != "mode" and (v is not None or k in budgets)}
    return model_problem(**kw)


def table_problem(space: str, table: str | Path, **kwargs: Any) -> Problem:
    """A tabular problem over a labeled dataset of a registered space: accuracy looked up in
    the table (modelled), latency/energy/area looked up too but declared cheap (known
    functions and exact constraints, like the roofline), proposals restricted to the table.
    ``kwargs`` go to :meth:`Problem.from_space`."""
    from cimnet_bo.evaluate import CompositeEvaluator, Objective, TableEvaluator
    from cimnet_bo.hardware import ROOFLINE_OBJECTIVES
    from cimnet_bo.hardware.config import ACCURACY_KNOBS
    from cimnet_bo.space import accuracy_on_chip, get_space
    from cimnet_bo.store import read_dataset

    full = get_space(space)
    ds = read_dataset(table, full).ok()
    cols = set(ds.frame.columns)
    parts = []
    if "accuracy" in cols:
        acc = TableEvaluator(
            full,
            ds.frame[list(full.names) + ["accuracy"]],
            objectives=[Objective("accuracy", "max")],
            name=f"table:{Path(table).name}:accuracy",
        )
        if accuracy_on_chip(full):  # accuracy on the chip: the subnet and the chip's accuracy knobs
            acc.chip_knobs = ACCURACY_KNOBS
        else:  # accuracy is a property of the subnet (its predictors see no hardware)
            acc.subnet_only = True
        parts.append(acc)
    hw = [c for c in ROOFLINE_OBJECTIVES if c in cols]
    if hw:
        parts.append(
            TableEvaluator(
                full,
                ds.frame[list(full.names) + hw],
                objectives=[Objective(c, "max" if c == "feasible" else "min", cheap=True) for c in hw],
                name=f"table:{Path(table).name}:roofline",
            )
        )
    if not parts:
        raise ProblemError(f"{table} has none of the columns accuracy, {', '.join(ROOFLINE_OBJECTIVES)}")
    evaluator = parts[0] if len(parts) == 1 else CompositeEvaluator(parts)
    kwargs = {
        **kwargs,
        "area_budget": kwargs.get("area_budget", "baseline"),
        "power_budget": kwargs.get("power_budget", "baseline"),
    }
    p0 = Problem.from_space(space, evaluator=evaluator, **kwargs)
    cands = [c for c in ds.configs() if p0.space.is_valid(c)]
    if not cands:
        raise ProblemError(f"no row of {table} lies in the {kwargs.get('mode', 'joint')} space")
    spec = {"space": space, "table": str(Path(table).resolve()), **{k: v for k, v in kwargs.items() if v is not None}}
    try:
        import json

        json.dumps(spec)
    except TypeError:
        spec = None
    return Problem(
        p0.space,
        evaluator,
        p0.objectives,
        p0.constraints,
        p0.ref_point,
        p0.ideal_point,
        p0.log,
        candidates=cands,
        name=f"{space}:table",
        spec=spec,
    )


def _user_problem(spec: Mapping[str, Any]) -> Problem:
    from cimnet_bo.evaluate import CallableEvaluator
    from cimnet_bo.evaluate.evaluators import load_function
    from cimnet_bo.space import Space

    path = Path(str(spec["space"]))
    if not path.exists():
        from cimnet_bo.space import list_spaces

        raise ProblemError(f"space {spec['space']!r} is neither a registered space {list_spaces()} nor a file")
    space = Space.from_yaml(path)
    ev = spec.get("evaluator")
    if not ev or ":" not in str(ev):
        raise ProblemError("a user space needs 'evaluator: MODULE:FUNCTION' (config -> dict of outputs)")
    try:
        func = load_function(str(ev))
    except ValueError as e:
        raise ProblemError(f"evaluator {ev!r} not found: {e}") from None
    objs = spec.get("objectives")
    if not objs or any(isinstance(o, str) for o in objs):
        raise ProblemError("a user problem needs objectives as [name, direction] pairs")
    outputs = [tuple(o) for o in objs]
    for c in spec.get("constraints") or []:
        from cimnet_bo.moo import Constraint, ConstraintError

        try:
            name = Constraint.parse(c).name
        except ConstraintError as e:
            raise ProblemError(str(e)) from None
        if name not in [o[0] for o in outputs]:
            outputs.append((name, "min"))
    evaluator = CallableEvaluator(func, outputs, space=space, name=f"callable:{ev}")
    return Problem(
        space,
        evaluator,
        [o[0] for o in objs],
        spec.get("constraints") or (),
        spec.get("ref_point"),
        spec.get("ideal_point"),
        spec.get("log"),
        spec=dict(spec),
    )


def as_problem(problem: Problem | str | Mapping[str, Any]) -> Problem:
    """A :class:`Problem` from itself, a registered space name or a spec mapping."""
    if isinstance(problem, Problem):
        return problem
    if isinstance(problem, str):
        return Problem.from_space(problem)
    if isinstance(problem, Mapping):
        return problem_from_spec(problem)
    raise ProblemError(f"cannot make a problem from {type(problem).__name__}")
