"""The registered problems: a registered joint space searched jointly, model-only or
hardware-only, under the baseline chip's area and power, with fixed reference points.

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
* The hardware-aware spaces (``vit-fmnist-hwa``, ``cnn-fmnist-hwa``: accuracy on the chip, the
  ADC resolution a knob) keep their subnets' accuracy bracket: on the chip a subnet gains at
  most a few tenths of a point (8-bit quantisation's noise) and may lose all of it; chips that
  lose much fall below the reference. Their larger baseline
  (a 6-bit ADC) admits other chips: ``vit-fmnist-hwa`` reaches lower latency and energy
  (lower ideal points), ``cnn-fmnist-hwa`` more energy (a higher energy reference).

On the Fashion-MNIST spaces a Pareto front spanning the subnets' accuracies covers about half
of the accuracy axis and one to two of the three latency decades, so neither objective
dominates the hypervolume. Points worse than the reference in any objective add nothing.

=================  ==================  ==================  ==================
space              accuracy ref/ideal  latency_s ref/ideal energy_j ref/ideal
=================  ==================  ==================  ==================
vit-fmnist         0.85 / 0.90         2e-3 / 2e-6         5e-5 / 1e-7
cnn-fmnist         0.88 / 0.93         1e-2 / 1e-5         5e-5 / 2e-7
vit-fmnist-hwa     0.85 / 0.90         2e-3 / 1e-6         5e-5 / 5e-8
cnn-fmnist-hwa     0.88 / 0.93         1e-2 / 1e-5         1e-4 / 2e-7
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
from typing import Any, Mapping, Sequence

from cimnet_bo.evaluate import (
    CompositeEvaluator,
    Evaluator,
    ExternalOutputs,
    Objective,
    RooflineEvaluator,
    SubnetCachedEvaluator,
)
from cimnet_bo.moo import Constraint
from cimnet_bo.search.problem import Problem, ProblemError
from cimnet_bo.space import AnySpace

#: Search modes of registered problems.
MODES: tuple[str, ...] = ("joint", "model-only", "hardware-only")

_IMAGENET = {"accuracy": (0.50, 0.90)}
#: ``{space: {objective: (reference, ideal)}}`` in the objectives' own units (see the table in
#: the module docstring).
REFERENCE_POINTS: dict[str, dict[str, tuple[float, float]]] = {
    "vit-fmnist": {"accuracy": (0.85, 0.90), "latency_s": (2e-3, 2e-6), "energy_j": (5e-5, 1e-7)},
    "cnn-fmnist": {"accuracy": (0.88, 0.93), "latency_s": (1e-2, 1e-5), "energy_j": (5e-5, 2e-7)},
    "vit-fmnist-hwa": {"accuracy": (0.85, 0.90), "latency_s": (2e-3, 1e-6), "energy_j": (5e-5, 5e-8)},
    "cnn-fmnist-hwa": {"accuracy": (0.88, 0.93), "latency_s": (1e-2, 1e-5), "energy_j": (1e-4, 2e-7)},
    "vit-b-imagenet": {**_IMAGENET, "latency_s": (5e-2, 1e-3), "energy_j": (1e-2, 2e-4)},
    "ofa-mbv3": {**_IMAGENET, "latency_s": (5e-1, 2e-3), "energy_j": (5e-2, 1e-4)},
    "ofa-resnet50": {**_IMAGENET, "latency_s": (5e-1, 2e-3), "energy_j": (5e-2, 2e-4)},
    "autoformer-t": {**_IMAGENET, "latency_s": (5e-2, 2e-4), "energy_j": (5e-3, 1e-4)},
    "autoformer-s": {**_IMAGENET, "latency_s": (5e-2, 1e-3), "energy_j": (1e-2, 2e-4)},
    "autoformer-b": {**_IMAGENET, "latency_s": (1e-1, 1e-3), "energy_j": (1e-2, 5e-4)},
}


def space_problem(
    name: str,
    mode: str = "joint",
    objectives: Sequence[str] = ("accuracy", "latency_s"),
    energy: bool = False,
    area_budget: float | str | None = "baseline",
    power_budget: float | str | None = "baseline",
    accuracy: Any = "supernet",
    checkpoint: str | None = None,
    images: int | None = None,
    tech: Any = None,
    hardware: Mapping[str, Any] | str | None = None,
    subnet: Mapping[str, Any] | str | None = None,
    evaluator: Evaluator | None = None,
    candidates: Sequence[Mapping[str, Any]] | None = None,
    ref_point: Mapping[str, float] | None = None,
    ideal_point: Mapping[str, float] | None = None,
) -> Problem:
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
    images : int, optional
        Supernet accuracy on the first ``images`` validation images only (default: all of
        them). Fewer images evaluate faster and measure accuracy less precisely (one image of
        1,000 is 0.1 point); accuracy on the chip (hardware-aware spaces) costs far more per
        image than the digital subnet's.
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
        acc = _accuracy_evaluator(full, accuracy, checkpoint, images) if "accuracy" in objectives else None
        if acc is not None:
            parts.append(acc)
        parts.append(RooflineEvaluator(full, tech=tech))
        evaluator = parts[0] if len(parts) == 1 else CompositeEvaluator(parts)
        if acc is None and "accuracy" in objectives:  # external accuracy: declared, not evaluated
            evaluator = ExternalOutputs(evaluator, [Objective("accuracy", "max")])
    constraints = budget_constraints(full, area_budget, power_budget, tech)
    refs = REFERENCE_POINTS.get(name, {})
    rp = {o: refs[o][0] for o in objectives if o in refs}
    ip = {o: refs[o][1] for o in objectives if o in refs}
    rp.update(ref_point or {})
    ip.update(ideal_point or {})
    missing = [o for o in objectives if o not in rp]
    if missing:
        raise ProblemError(f"no registered reference point for {missing} in space {name!r}: pass ref_point=")
    spec: dict[str, Any] | None = {
        "space": name,
        "mode": mode,
        "objectives": objectives,
        "area_budget": area_budget,
        "power_budget": power_budget,
        "accuracy": accuracy,
        "checkpoint": None if checkpoint is None else str(checkpoint),
        "images": images,
        "hardware": hardware,
        "subnet": subnet,
        "ref_point": dict(ref_point or {}) or None,
        "ideal_point": dict(ideal_point or {}) or None,
    }
    if not isinstance(accuracy, str) or tech is not None or candidates is not None or custom_evaluator:
        spec = None  # built from Python objects: reopen the run with the same problem object
    else:
        spec = {k: v for k, v in spec.items() if v is not None or k in ("area_budget", "power_budget")}
    return Problem(
        space,
        evaluator,
        objectives,
        constraints,
        rp,
        ip if all(o in ip for o in objectives) else None,
        candidates=candidates,
        name=f"{name}:{mode}",
        spec=spec,
    )


def budget_constraints(
    space: AnySpace, area_budget: float | str | None, power_budget: float | str | None, tech: Any = None
) -> list[Constraint]:
    """The constraints of a registered problem: ``feasible >= 1`` (an RRAM chip must not stream
    weights), ``area_mm2 <= area_budget`` and ``power_w <= power_budget``.

    A budget is a number > 0, ``"baseline"`` (the area or peak power of the space's baseline
    chip, :func:`baseline_chip`) or None (no constraint); a bound is rounded up to six
    significant digits, so it prints exactly and the chip it comes from still meets it.
    """
    constraints = [Constraint("feasible", ">=", 1.0)]
    budgets = {"area_mm2": area_budget, "power_w": power_budget}
    base = None
    for output, budget in budgets.items():
        if budget is None:
            continue
        if budget == "baseline":
            base = base or baseline_chip(space, tech)
            budget = base[output]
        else:
            label = "area_budget" if output == "area_mm2" else "power_budget"
            try:
                ok = not isinstance(budget, bool) and math.isfinite(float(budget)) and float(budget) > 0
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise ProblemError(f"{label} must be a number > 0, 'baseline' or None, got {budget!r}")
            budget = float(budget)
        constraints.append(Constraint(output, "<=", _round_up(budget)))
    return constraints


def _round_up(x: float, digits: int = 6) -> float:
    """The smallest number of ``digits`` significant digits that is >= ``x`` (so a budget prints
    exactly, as ``%g`` does, and the chip it comes from still meets it)."""
    r = float(f"{x:.{digits}g}")
    if r < x:
        step = 10.0 ** (math.floor(math.log10(abs(x))) - digits + 1)
        r = float(f"{r + step:.{digits}g}")
    return r


def baseline_chip(space: AnySpace, tech: Any = None) -> dict[str, float]:
    """Area (mm^2) and peak power (W) of the space's baseline hardware: ``{"area_mm2": ...,
    "power_w": ...}``. Neither depends on the subnet."""
    if space.hardware.baseline is None:
        raise ProblemError(f"hardware space {space.hardware.name!r} has no baseline: give area_budget and power_budget")
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
    side, value, default = ("hardware", hardware, "baseline") if mode == "model-only" else ("subnet", subnet, "max")
    if (hardware if side == "subnet" else subnet) is not None:
        raise ProblemError(f"mode {mode!r} freezes the {side}; do not give the other side")
    half = getattr(full, side)
    if value is None:
        value = default
    if isinstance(value, Mapping):
        base = half.baseline if half.baseline is not None else half.extreme("max")
        unknown = [k for k in value if k not in half.names]
        if unknown:
            raise ProblemError(
                f"frozen {side} configuration: unknown keys {unknown}; the {side} choices are {list(half.names)}"
            )
        value = {**base, **value}
    try:
        return full.freeze(**{side: value})
    except ValueError as e:
        raise ProblemError(f"frozen {side} configuration is not in space {half.name!r}: {e}") from None


def _accuracy_evaluator(
    space: AnySpace, accuracy: Any, checkpoint: str | None, images: int | None = None
) -> Evaluator | None:
    from cimnet_bo.evaluate import CallableEvaluator, supernet_accuracy

    if images is not None:
        from cimnet_bo.supernet.data import N_VAL

        if type(images) is not int or not 1 <= images <= N_VAL:
            raise ProblemError(f"images must be a whole number in [1, {N_VAL}] (the validation split), got {images!r}")
        if accuracy != "supernet":
            raise ProblemError(f"images applies to the supernet's accuracy, not to accuracy={accuracy!r}")
    if isinstance(accuracy, str):
        if accuracy == "supernet":  # on the chip for a hardware-aware space
            indices = None if images is None else range(images)
            ev: Evaluator = supernet_accuracy(space, checkpoint=checkpoint, indices=indices)
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
            ev = CallableEvaluator(
                func, [("accuracy", "max")], space=space, name=f"callable:{accuracy}", subnet_only=True
            )
        else:
            raise ProblemError(
                f"accuracy must be 'supernet', 'external', MODULE:FUNCTION, an evaluator or a "
                f"callable; got {accuracy!r}"
            )
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
