"""A run's configuration: resolved and checked before anything runs, written to the run's
``config.yaml``, and compared with the stored one when the run is opened again."""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

from cimnet_bo.core import plain
from cimnet_bo.moo import Constraint
from cimnet_bo.search.problem import Problem, ProblemError
from cimnet_bo.search.state import row_keys
from cimnet_bo.search.strategies import STRATEGIES, Strategy, check_int

#: Version of the ``config.yaml`` layout.
CONFIG_VERSION = 1
#: Config keys that may change when a run is opened again (a larger budget continues a run).
MUTABLE_KEYS = ("budget",)
#: Strategy options whose value for runs made before the option existed is not its default:
#: such a run goes on as it began. Other options missing from a stored run take their defaults.
OPTIONS_BEFORE: dict[str, dict[str, Any]] = {
    "qnehvi": {"failure_model": False, "gp_warm_maxiter": None, "screen": "qlogehvi"}
}


def default_n_init(batch_size: int) -> int:
    """Initial random design when not given: two batches, at least 4."""
    return max(4, 2 * batch_size)


def resolve_config(
    problem: Problem,
    strategy: Strategy,
    budget: int,
    batch_size: int,
    seed: int,
    n_init: int | None,
    initial: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The run configuration, checked (every invalid option is a :class:`ProblemError`).

    ``initial`` (configurations of the space, e.g. a known baseline design) opens the initial
    design, before its random part; it is stored (canonical, duplicates dropped) only when given.
    """
    check_int("budget", budget, 1)
    check_int("batch_size", batch_size, 1)
    check_int("seed", seed, 0)
    n_init = default_n_init(batch_size) if n_init is None else n_init
    check_int("n_init", n_init, 1)
    if budget < n_init:
        raise ProblemError(
            f"budget {budget} is smaller than the initial design (n_init={n_init}): raise the budget or lower n_init"
        )
    strategy.check(problem)
    initial_cfgs = _initial_configs(problem, initial)
    if len(initial_cfgs) > n_init:
        raise ProblemError(
            f"{len(initial_cfgs)} initial configurations do not fit in the initial design "
            f"(n_init={n_init}): raise n_init or give fewer"
        )
    return {
        "version": CONFIG_VERSION,
        "problem": problem.spec if problem.spec is not None else {"python": problem.name},
        "problem_description": problem.describe(),
        "strategy": strategy.name,
        "strategy_options": plain(strategy.get_params()),
        "budget": int(budget),
        "batch_size": int(batch_size),
        "n_init": int(n_init),
        "seed": int(seed),
        **({"initial": initial_cfgs} if initial_cfgs else {}),
    }


def _initial_configs(problem: Problem, initial: Sequence[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    """Canonical, de-duplicated initial configurations (a :class:`ProblemError` names a bad one)."""
    out: list[dict[str, Any]] = []
    for i, cfg in enumerate(initial or ()):
        if not isinstance(cfg, Mapping):
            raise ProblemError(f"initial configuration {i} is not a mapping of choices: {cfg!r}")
        try:
            c = plain(problem.space.validate(cfg))
        except ValueError as e:
            raise ProblemError(f"initial configuration {i}: {e}") from None
        if c not in out:
            out.append(c)
    if out and problem.candidates is not None:
        allowed = set(row_keys(problem.space.to_indices(problem.candidates)))
        for i, key in enumerate(row_keys(problem.space.to_indices(out))):
            if key not in allowed:
                raise ProblemError(f"initial configuration {out[i]} is not a row of the problem's table")
    return out


def read_stored(config: Mapping[str, Any]) -> dict[str, Any]:
    """A stored ``config.yaml`` in the current form: constraints written as text
    (``"area_mm2 <= 0.97"``) by earlier versions are read into ``{name, op, bound}``, and
    strategy options added since the run was made take the value that keeps the run as it was
    (:data:`OPTIONS_BEFORE`), else their defaults."""
    out = dict(config)
    opts, name = out.get("strategy_options"), out.get("strategy")
    if isinstance(opts, Mapping) and isinstance(name, str) and name in STRATEGIES.names():
        defaults = plain(STRATEGIES[name]().get_params())
        out["strategy_options"] = {**defaults, **OPTIONS_BEFORE.get(name, {}), **opts}
    desc = out.get("problem_description")
    if isinstance(desc, Mapping) and desc.get("constraints"):
        out["problem_description"] = {
            **desc,
            "constraints": [Constraint.parse(c).to_dict() for c in desc["constraints"]],
        }
    return out


def _constraint_texts(constraints: list) -> list[str]:
    return [str(Constraint.parse(c)) for c in constraints]


def config_diff(a: Mapping[str, Any], b: Mapping[str, Any], prefix: str = "") -> list[str]:
    """``key: stored vs now`` for every entry that differs between two configurations (the
    mutable keys and, across strategies, the strategy options excepted)."""
    out = []
    for k in sorted(set(a) | set(b)):
        if prefix == "" and k in MUTABLE_KEYS:
            continue
        if prefix == "" and k == "strategy_options" and a.get("strategy") != b.get("strategy"):
            continue  # a different strategy: its options differ anyway
        va, vb = a.get(k), b.get(k)
        if k == "constraints" and isinstance(va, list) and isinstance(vb, list):
            va, vb = _constraint_texts(va), _constraint_texts(vb)  # text (%g) is how earlier runs stored them
        if isinstance(va, Mapping) and isinstance(vb, Mapping):
            out += config_diff(va, vb, f"{prefix}{k}.")
        elif va != vb and not (isinstance(va, float) and isinstance(vb, float) and math.isclose(va, vb)):
            out.append(f"{prefix}{k}: {va!r} (stored) vs {vb!r} (now)")
    return out
