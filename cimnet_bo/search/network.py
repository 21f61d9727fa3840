"""What chip for my network? A hardware-only search for one fixed network, such as any torch model.

The network is a layer table: a ``torch.nn.Module`` imported by
:func:`~cimnet_bo.workload.torch_import.from_torch` (:func:`model_problem`, ``cimnet-bo search
--model MODULE:FACTORY``), or any :class:`~cimnet_bo.workload.LayerTable`
(:func:`network_problem`). The problem is built like the hardware-only mode of the registered
problems (:mod:`cimnet_bo.search.registered`), on that network:

* **Space**: a joint space whose subnet half is the network alone (one choice, ``network``,
  whose only value is the network's label; family ``"table"``, the layer table in the space's
  description, so run stores and reports rebuild it without torch) and whose hardware half is
  a registered hardware space: the one given (a hardware space such as ``cim-edge``, or a
  registered joint space, whose hardware half is used), or by default the first registered
  hardware space, by baseline chip area, whose baseline chip holds the network's weights
  (``cim-edge`` for Fashion-MNIST-sized networks, ``cim-server`` for ImageNet-sized ones); the
  largest when none does.
* **Objectives**: the network is fixed, so its accuracy is fixed too and is no objective (the
  registered hardware-only mode keeps accuracy, a constant there). Two or more of
  :data:`NETWORK_OBJECTIVES`, all minimised; default latency against energy. For latency
  alone the answer is exact without a search: :func:`~cimnet_bo.hardware.best_hardware`.
* **Constraints**: those of the registered problems (:func:`~cimnet_bo.search.registered.budget_constraints`):
  ``feasible >= 1``, area and peak power at most the baseline chip's by default.
* **Reference points**: the registered rule, applied to this network. Every chip within the
  budgets runs the network (:func:`~cimnet_bo.hardware.candidate_chips`,
  :func:`~cimnet_bo.hardware.optimise.simulate_grid`); among the feasible ones, each
  objective's reference is the first 1-2-5 step (1, 2 or 5 times a power of ten) above its
  worst value, and its ideal the last step below its best value, so every feasible point lies
  strictly inside the box. ``ref_point`` / ``ideal_point`` override some of them.
* **Resuming**: the problem's spec records the model (``model``, ``input_shape``,
  ``unknown_ops``), the hardware space it resolved to, and the fingerprint of the imported
  table (``table_sha256``, :func:`table_fingerprint`); a run opened again imports the model
  again and refuses when its table is not the one recorded.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any, Mapping, Sequence

from cimnet_bo.core import plain
from cimnet_bo.evaluate import RooflineEvaluator
from cimnet_bo.search.problem import Problem, ProblemError
from cimnet_bo.search.registered import budget_constraints
from cimnet_bo.space import Choice, JointSpace, Space
from cimnet_bo.workload import LayerTable

#: Objectives of a network problem (roofline outputs, all minimised).
NETWORK_OBJECTIVES: tuple[str, ...] = ("latency_s", "energy_j", "area_mm2", "power_w")
#: Default objectives: latency against energy.
DEFAULT_OBJECTIVES: tuple[str, ...] = ("latency_s", "energy_j")
#: The one choice of the network half of the space (its value: the network's label).
NETWORK_CHOICE = "network"
#: Workload family of the network half (:func:`cimnet_bo.workload.families.stored_table`).
TABLE_FAMILY = "table"
#: The search mode of a network problem (the subnet side is the fixed network).
MODE = "hardware-only"


# ============================================================================ the network
def load_model_table(model: str, input_shape: Sequence[int], unknown: str = "error") -> LayerTable:
    """The layer table of the ``torch.nn.Module`` that ``model`` (``MODULE:FACTORY``) builds,
    traced on an input of ``input_shape``.

    The factory is called without arguments on the ``meta`` device (no weight memory), or on
    the default device when it computes with tensors while building. The table's label is
    ``model``.

    Raises
    ------
    ValueError
        ``model`` names no function, the call fails or returns no module, or the model cannot
        be imported (:func:`~cimnet_bo.workload.torch_import.from_torch`).
    """
    import torch

    from cimnet_bo.evaluate.evaluators import load_function
    from cimnet_bo.workload.torch_import import from_torch

    factory = load_function(model)
    try:
        with torch.device("meta"):
            net = factory()
    except Exception:  # a factory that computes with tensors while building cannot run on meta
        try:
            net = factory()
        except Exception as e:
            raise ValueError(f"model {model!r}: calling it without arguments failed: {type(e).__name__}: {e}") from e
    if not isinstance(net, torch.nn.Module):
        raise ValueError(f"model {model!r} returned a {type(net).__name__}, not a torch.nn.Module")
    return from_torch(net.eval(), torch.empty(list(input_shape), device="meta"), unknown=unknown, label=model)


def table_fingerprint(table: LayerTable) -> str:
    """SHA-256 (hex) of a layer table's kinds and numbers, in layer order (not its label nor its
    layer names, which a tracer may spell differently from one torch version to the next)."""
    columns = {k: v for k, v in table.to_dict().items() if k != "name"}
    text = json.dumps(plain(columns), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def network_space(table: LayerTable, hardware: str, label: str | None = None) -> JointSpace:
    """The joint space of one fixed network on a registered hardware space.

    Parameters
    ----------
    table : LayerTable
        The network (L layers).
    hardware : str
        A registered hardware space (``cimnet_bo.space.list_hardware_spaces()``).
    label : str, optional
        Names the network and the space (default: the table's label).
    """
    from cimnet_bo.space import get_hardware_space

    label = label or table.label
    network = Space(
        label,
        [Choice(NETWORK_CHOICE, (label,))],
        family=TABLE_FAMILY,
        meta={"label": label, "table": plain(table.to_dict())},
        version=table_fingerprint(table)[:16],
    )
    return JointSpace(network, get_hardware_space(hardware), name=label)


def hardware_space_for(table: LayerTable, space: str | None = None, tech: Any = None) -> str:
    """The registered hardware space a network problem searches (see the module docstring).

    Parameters
    ----------
    table : LayerTable
    space : str, optional
        A registered hardware space, or a registered joint space (its hardware half); None:
        the first hardware space, by baseline chip area, whose baseline chip holds the
        network's weights (the largest when none does).
    tech : Technology, optional
    """
    from cimnet_bo.hardware import HardwareConfig, simulate, space_technology
    from cimnet_bo.space import get_hardware_space, list_hardware_spaces, list_spaces
    from cimnet_bo.space.registry import JOINT_SPACES

    if space is not None:
        if space in list_hardware_spaces():
            return space
        if space in list_spaces():
            return JOINT_SPACES[space][1]
        raise ProblemError(
            f"space {space!r} is neither a hardware space {list_hardware_spaces()} nor a registered space "
            f"{list_spaces()}"
        )
    chips = []
    for name in list_hardware_spaces():
        hw = get_hardware_space(name)
        if hw.baseline is not None:
            res = simulate(table, HardwareConfig.from_dict(hw.baseline), space_technology(hw, tech))
            chips.append((res.area_mm2, name, res.resident))
    if not chips:
        raise ProblemError("no registered hardware space has a baseline chip: give the space")
    chips.sort()
    return next((name for _, name, resident in chips if resident), chips[-1][1])


# ============================================================================ the problem
def network_problem(
    table: LayerTable,
    space: str | None = None,
    objectives: Sequence[str] = DEFAULT_OBJECTIVES,
    energy: bool = False,
    area_budget: float | str | None = "baseline",
    power_budget: float | str | None = "baseline",
    ref_point: Mapping[str, float] | None = None,
    ideal_point: Mapping[str, float] | None = None,
    tech: Any = None,
    label: str | None = None,
    spec: Mapping[str, Any] | None = None,
) -> Problem:
    """The hardware-only problem of one fixed network (see the module docstring).

    Parameters
    ----------
    table : LayerTable
        The network (L layers).
    space : str, optional
        A registered hardware space or joint space (its hardware half); default: chosen for
        the network (:func:`hardware_space_for`).
    objectives : sequence of str
        Two or more of :data:`NETWORK_OBJECTIVES` (default latency and energy).
    energy : bool
        Add ``energy_j`` when ``objectives`` lacks it.
    area_budget, power_budget : float, "baseline" or None
        As for the registered problems (default: the baseline chip's).
    ref_point, ideal_point : mapping, optional
        Override the reference / ideal values of some objectives (own units).
    tech : Technology, optional
        Technology constants of the roofline (default: the hardware space's).
    label : str, optional
        Names the network (default: the table's label).
    spec : mapping, optional
        How the network was obtained (``model``, ``input_shape``, ...): the problem's spec is
        this plus the problem's options, so a run can rebuild it. None: the problem has no
        spec (a run reopens it only with the same object).
    """
    objectives = list(objectives)
    if energy and "energy_j" not in objectives:
        objectives.append("energy_j")
    bad = [o for o in objectives if o not in NETWORK_OBJECTIVES]
    if bad or len(set(objectives)) < 2:
        raise ProblemError(
            f"objectives {objectives} of a fixed network: choose two or more of {list(NETWORK_OBJECTIVES)} "
            "(the network, hence its accuracy, is fixed)"
        )
    hardware = hardware_space_for(table, space, tech)
    joint = network_space(table, hardware, label)
    constraints = budget_constraints(joint, area_budget, power_budget, tech)
    evaluator = RooflineEvaluator(joint, tech=tech)
    rp, ip = reference_points(joint, objectives, constraints, evaluator.technology())
    rp.update(ref_point or {})
    ip.update(ideal_point or {})
    full_spec: dict[str, Any] | None = None
    if spec is not None and tech is None:
        points = {"ref_point": dict(ref_point or {}), "ideal_point": dict(ideal_point or {})}
        full_spec = {
            **dict(spec),
            "space": hardware,
            "mode": MODE,
            "objectives": objectives,
            "area_budget": area_budget,  # None (no budget) is recorded too
            "power_budget": power_budget,
            **{k: v for k, v in points.items() if v},
        }
    return Problem(joint, evaluator, objectives, constraints, rp, ip, name=f"{joint.name}:{MODE}", spec=full_spec)


def model_problem(
    model: str, input_shape: Sequence[int], unknown_ops: str = "error", table_sha256: str | None = None, **kwargs: Any
) -> Problem:
    """The hardware-only problem of the torch model ``model`` (``MODULE:FACTORY``) on an input
    of ``input_shape`` (:func:`load_model_table`; ``unknown_ops`` as ``from_torch``'s
    ``unknown``). ``table_sha256``: the fingerprint the imported table must have (a resumed
    run's). ``kwargs`` go to :func:`network_problem`.

    Raises
    ------
    ProblemError
        The model's table is not the one ``table_sha256`` records, or an option is invalid.
    """
    table = load_model_table(model, input_shape, unknown_ops)
    fingerprint = table_fingerprint(table)
    if table_sha256 is not None and table_sha256 != fingerprint:
        raise ProblemError(
            f"model {model!r} on input {list(input_shape)} no longer gives the layer table this problem records "
            f"(table_sha256 {table_sha256[:16]}..., now {fingerprint[:16]}...): the network changed; search it in "
            "a new run"
        )
    spec = {"model": model, "input_shape": list(input_shape), "unknown_ops": unknown_ops, "table_sha256": fingerprint}
    return network_problem(table, spec=spec, **kwargs)


# ============================================================================ reference points
def step_above(x: float) -> float:
    """The smallest 1-2-5 step (1, 2 or 5 times a power of ten) strictly above ``x`` > 0."""
    e = math.floor(math.log10(x))
    return min(s for s in _steps(e) if s > x)


def step_below(x: float) -> float:
    """The largest 1-2-5 step strictly below ``x`` > 0."""
    e = math.floor(math.log10(x))
    return max(s for s in _steps(e) if s < x)


def _steps(e: int) -> list[float]:
    """The 1-2-5 steps of the decades around ``10**e``, as exact decimal floats."""
    return [float(f"{m}e{k}") for k in (e - 1, e, e + 1) for m in (1, 2, 5)]


def reference_points(
    space: JointSpace, objectives: Sequence[str], constraints: Sequence[Any], tech: Any
) -> tuple[dict[str, float], dict[str, float]]:
    """``(reference, ideal)`` of a network problem: the 1-2-5 steps around the worst and best
    value of each objective over the feasible chips within the budgets (module docstring).

    Parameters
    ----------
    space : JointSpace
        A :func:`network_space` (its network half has one configuration).
    objectives : sequence of str
        Some of :data:`NETWORK_OBJECTIVES`.
    constraints : sequence of Constraint
        The problem's budgets (``area_mm2 <=``, ``power_w <=``) and ``feasible``.
    tech : Technology
    """
    import numpy as np

    from cimnet_bo.hardware import candidate_chips
    from cimnet_bo.hardware.optimise import simulate_grid

    bound = {c.name: c.bound for c in constraints if c.op == "<="}
    try:
        chips = candidate_chips(space, bound.get("area_mm2"), bound.get("power_w"), tech, maximal=False)
    except ValueError as e:
        raise ProblemError(str(e)) from None
    network = [space.subnet.extreme("max")]
    grid = simulate_grid(space, network, chips.configs, tech, outputs=("latency_s", "energy_j", "feasible"))
    ok = grid["feasible"][0]
    if not ok.any():
        raise ProblemError(f"no chip of space {space.hardware.name!r} within the budgets runs {space.name!r} feasibly")
    values = {
        "latency_s": grid["latency_s"][0],
        "energy_j": grid["energy_j"][0],
        "area_mm2": chips.area_mm2,
        "power_w": chips.power_w,
    }
    ref, ideal = {}, {}
    for o in objectives:
        v = np.asarray(values[o])[ok]
        ref[o], ideal[o] = step_above(float(v.max())), step_below(float(v.min()))
    return ref, ideal
