"""Small problems with known answers, and a synthetic accuracy, for tests, benchmarks and
examples.

* :func:`zdt_problem`: a discretised ZDT1 (two minimised objectives on ``dims`` choices of
  ``levels`` values each) whose Pareto front is known exactly (:func:`zdt_front`).
* :func:`operator_problem`: one unordered choice (the operator of a block, eight names whose
  quality and cost are a scrambled table, not monotone in their list position) and four
  ordinal choices; two minimised objectives; exact front by enumeration (:func:`operator_front`).
  A model that takes the operator's list position for a distance is misled on it.
* :func:`zdt_invalid_problem`: the same problem whose evaluator fails in a known region (a disc
  over the middle of the Pareto front, :func:`zdt_invalid`), for searches that must learn
  where evaluations fail.
* :class:`SyntheticAccuracy`: a smooth, saturating function of a subnet's encoding standing in
  for supernet accuracy where no trained supernet is available (benchmarks, tests).
"""

from __future__ import annotations

import itertools
from typing import Any, Mapping

import numpy as np

from cimnet_bo.evaluate import CallableEvaluator, CompositeEvaluator, Objective
from cimnet_bo.search.problem import Problem
from cimnet_bo.space import Choice, Space, SpaceLike, as_space, subnet_side


def zdt_space(levels: int = 11, dims: int = 4) -> Space:
    """Choices ``x0 .. x{dims-1}``, each ``0 .. levels-1``."""
    return Space("zdt", [Choice(f"x{i}", tuple(range(levels))) for i in range(dims)])


def zdt_values(config: Mapping[str, Any], levels: int = 11, dims: int = 4) -> dict[str, float]:
    """ZDT1 on the grid: ``f1 = x0``, ``f2 = g (1 - sqrt(f1 / g))``, ``g = 1 + 9 mean(x1..)``
    with ``x = rank / (levels - 1)``; both minimised."""
    x = np.array([config[f"x{i}"] for i in range(dims)], dtype=np.float64) / (levels - 1)
    g = 1.0 + 9.0 * float(np.mean(x[1:]))
    f1 = float(x[0])
    return {"f1": f1, "f2": g * (1.0 - np.sqrt(f1 / g))}


class _ZDT:
    """Picklable ZDT evaluator function (module level, for process pools)."""

    def __init__(self, levels: int, dims: int) -> None:
        self.levels, self.dims = levels, dims

    def __call__(self, config: Mapping[str, Any]) -> dict[str, float]:
        return zdt_values(config, self.levels, self.dims)


class _Budget:
    """Picklable cheap constraint output ``load = x0 + x1`` (in ranks)."""

    def __call__(self, config: Mapping[str, Any]) -> float:
        return float(config["x0"] + config["x1"])


def zdt_problem(levels: int = 11, dims: int = 4, cheap_constraint: float | None = None) -> Problem:
    """The discretised ZDT1 problem: minimise ``f1`` and ``f2``; reference point (1.1, 1.1),
    ideal (0, 0).

    Parameters
    ----------
    levels, dims : int
    cheap_constraint : float, optional
        Add the cheap output ``load = x0 + x1`` (ranks) and the constraint ``load <= value``.
    """
    space = zdt_space(levels, dims)
    ev = CallableEvaluator(_ZDT(levels, dims), [("f1", "min"), ("f2", "min")], space=space, name="zdt1")
    constraints = []
    if cheap_constraint is not None:
        load = CallableEvaluator(_Budget(), [Objective("load", "min", cheap=True)], space=space, name="load")
        ev = CompositeEvaluator([ev, load])
        constraints = [f"load <= {cheap_constraint}"]
    return Problem(
        space,
        ev,
        ["f1", "f2"],
        constraints,
        ref_point={"f1": 1.1, "f2": 1.1},
        ideal_point={"f1": 0.0, "f2": 0.0},
        name="zdt1",
    )


#: The invalid disc of :func:`zdt_invalid_problem`: centre ``(x0, x1)`` and radius, in ``x``
#: (rank / (levels - 1)) units.
INVALID_DISC = ((0.5, 0.0), 0.3)


def zdt_invalid(X: np.ndarray, levels: int = 11) -> np.ndarray:
    """Bool (n,): whether configurations, as ranks (n x dims), lie in the invalid disc
    :data:`INVALID_DISC` of the ``(x0, x1)`` plane (boundary included).

    The disc covers the middle of the Pareto front (``x1 = 0``, ``0.2 <= x0 <= 0.8``) and its
    neighbourhood; with 11 levels it holds 18 of the 121 ``(x0, x1)`` pairs, 14.9 % of the
    space (:func:`zdt_invalid_share`).
    """
    X = np.asarray(X, dtype=np.float64) / (levels - 1)
    (c0, c1), r = INVALID_DISC
    return (X[:, 0] - c0) ** 2 + (X[:, 1] - c1) ** 2 <= r**2 + 1e-9


def zdt_invalid_share(levels: int = 11) -> float:
    """The share of the space of :func:`zdt_invalid_problem` that fails (the failure rate of
    uniform random search)."""
    g0, g1 = np.meshgrid(np.arange(levels), np.arange(levels))
    return float(zdt_invalid(np.column_stack([g0.ravel(), g1.ravel()]), levels).mean())


class _ZDTWithInvalidRegion(_ZDT):
    """ZDT1 values, raising ``ValueError`` inside the disc of :func:`zdt_invalid`."""

    def __call__(self, config: Mapping[str, Any]) -> dict[str, float]:
        if zdt_invalid(np.array([[config["x0"], config["x1"]]]), self.levels)[0]:
            raise ValueError(f"x0={config['x0']}, x1={config['x1']} lies in the invalid region")
        return super().__call__(config)


def zdt_invalid_problem(levels: int = 11, dims: int = 4) -> Problem:
    """:func:`zdt_problem` (no constraint) whose evaluations fail inside the disc of
    :func:`zdt_invalid` (14.9 % of the space with 11 levels): the best points of the front
    are there, so a search that does not learn the region keeps proposing into it."""
    space = zdt_space(levels, dims)
    ev = CallableEvaluator(
        _ZDTWithInvalidRegion(levels, dims), [("f1", "min"), ("f2", "min")], space=space, name="zdt1-invalid"
    )
    return Problem(
        space,
        ev,
        ["f1", "f2"],
        ref_point={"f1": 1.1, "f2": 1.1},
        ideal_point={"f1": 0.0, "f2": 0.0},
        name="zdt1-invalid",
    )


def zdt_front(levels: int = 11) -> np.ndarray:
    """The exact Pareto front (levels x 2) of :func:`zdt_problem` (without constraint)."""
    f1 = np.arange(levels) / (levels - 1)
    return np.column_stack([f1, 1.0 - np.sqrt(f1)])


#: Operators of :func:`operator_problem` in their list order, each with its (quality, cost)
#: factor. The table is scrambled: neither factor is monotone in the list position, and
#: neighbours in the list are not alike (``attention``, the best and costliest, sits between
#: ``conv5x5`` and ``mlp``).
OPERATORS: dict[str, tuple[float, float]] = {
    "conv3x3": (0.80, 0.45),
    "conv5x5": (0.86, 0.75),
    "dwconv3x3": (0.72, 0.22),
    "attention": (0.95, 1.00),
    "mlp": (0.55, 0.30),
    "maxpool": (0.30, 0.08),
    "shift": (0.62, 0.12),
    "identity": (0.10, 0.03),
}

#: The ordinal choices of :func:`operator_problem` and their values: two sizes, which buy a
#: lower error at a higher cost, and two training settings, whose error is lowest at one
#: value (learning rate 2e-3, dropout 0.1) and which do not change the cost.
OPERATOR_KNOBS: dict[str, tuple[float, ...]] = {
    "width": (16, 24, 32, 48, 64, 96, 128, 192),
    "depth": (1, 2, 3, 4, 5, 6),
    "lr": (1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2),
    "dropout": (0.0, 0.1, 0.2, 0.3, 0.4, 0.5),
}


def operator_space(categorical: bool = True) -> Space:
    """The choice ``op`` (:data:`OPERATORS`; categorical unless ``categorical`` is False, which
    takes the same values as ordered by list position) and the ordinal choices
    :data:`OPERATOR_KNOBS`; 16,128 configurations."""
    choices = [Choice("op", tuple(OPERATORS), categorical=categorical)]
    choices += [Choice(name, values) for name, values in OPERATOR_KNOBS.items()]
    return Space("operators", choices)


def operator_values(config: Mapping[str, Any]) -> dict[str, float]:
    """Objectives of :func:`operator_problem`, both minimised.

    With ``(q, c) = OPERATORS[op]`` and ``w, d, l, p`` the ranks of width, depth, lr and
    dropout scaled to [0, 1]:

    * ``error = 1 - q (0.3 + 0.7 s) + 0.5 ((l - 0.6)^2 + (p - 0.2)^2)``, with the saturating
      capacity ``s = (1 - exp(-3 (0.6 w + 0.4 d))) / (1 - exp(-3))``; in [0.052, 1.47];
    * ``cost = c (0.2 + 0.8 (0.3 + 0.7 w) (0.4 + 0.6 d))``; in (0, 1].
    """
    q, c = OPERATORS[config["op"]]
    w, d, lr, p = (OPERATOR_KNOBS[n].index(config[n]) / (len(OPERATOR_KNOBS[n]) - 1) for n in OPERATOR_KNOBS)
    s = (1.0 - np.exp(-3.0 * (0.6 * w + 0.4 * d))) / (1.0 - np.exp(-3.0))
    error = 1.0 - q * (0.3 + 0.7 * s) + 0.5 * ((lr - 0.6) ** 2 + (p - 0.2) ** 2)
    cost = c * (0.2 + 0.8 * (0.3 + 0.7 * w) * (0.4 + 0.6 * d))
    return {"error": float(error), "cost": float(cost)}


def operator_problem(categorical: bool = True) -> Problem:
    """Minimise ``error`` and ``cost`` (:func:`operator_values`, both expensive: modelled by
    the surrogates) over :func:`operator_space`; reference point (1, 1.1), ideal (0, 0).

    Parameters
    ----------
    categorical : bool
        False declares the operator choice ordered (by list position): the same problem, for
        comparing the search with and without the categorical treatment.
    """
    space = operator_space(categorical)
    ev = CallableEvaluator(operator_values, [("error", "min"), ("cost", "min")], space=space, name="operators")
    return Problem(
        space,
        ev,
        ["error", "cost"],
        ref_point={"error": 1.0, "cost": 1.1},
        ideal_point={"error": 0.0, "cost": 0.0},
        name="operators",
    )


def operator_front() -> np.ndarray:
    """The exact Pareto front (n x 2: error, cost; by error) of :func:`operator_problem`, by
    enumerating its 16,128 configurations."""
    from cimnet_bo.moo import pareto_mask

    space = operator_space()
    configs = space.from_indices(np.array(list(itertools.product(*(range(len(c)) for c in space.choices)))))
    Y = np.array([[v["error"], v["cost"]] for v in map(operator_values, configs)])
    front = Y[pareto_mask(Y, ["min", "min"], deduplicate=True)]
    return front[np.argsort(front[:, 0])]


class SyntheticAccuracy:
    """A stand-in accuracy of the subnet half of a joint configuration.

    ``acc = lo + (hi - lo) * (1 - exp(-3 c)) / (1 - exp(-3)) + wiggle``, with ``c`` the mean of
    the subnet's encoding (capacity: deeper, wider, more heads -> larger; inactive choices
    count 0) and ``wiggle`` a fixed smooth pseudo-random term of amplitude ``noise`` (a
    function of the encoding, the same on every call).

    Parameters
    ----------
    space : JointSpace or str
    lo, hi : float, optional
        Accuracy of the smallest and the largest subnet (before the wiggle). Default: 20 % and
        80 % of the way from the space's registered accuracy reference to its ideal
        (:data:`~cimnet_bo.search.registered.REFERENCE_POINTS`), else 0.80 and 0.92.
    noise : float, optional
        Default: 5 % of ``hi - lo``.
    seed : int
        Seed of the wiggle's directions.
    """

    def __init__(
        self,
        space: SpaceLike,
        lo: float | None = None,
        hi: float | None = None,
        noise: float | None = None,
        seed: int = 0,
    ) -> None:
        from cimnet_bo.search.registered import REFERENCE_POINTS

        space = as_space(space)
        self.sub = subnet_side(space)
        ref, ideal = REFERENCE_POINTS.get(self.sub.name, {}).get("accuracy", (0.70, 1.00))
        self.lo = ref + 0.2 * (ideal - ref) if lo is None else lo
        self.hi = ref + 0.8 * (ideal - ref) if hi is None else hi
        self.noise = 0.05 * (self.hi - self.lo) if noise is None else noise
        rng = np.random.default_rng(seed)
        self.W = rng.normal(size=(3, self.sub.dim)) * 3.0
        self.b = rng.uniform(0, 2 * np.pi, 3)

    def batch(self, configs: list[Mapping[str, Any]]) -> np.ndarray:
        """Accuracies (n,) of configurations (joint or subnet)."""
        X = self.sub.encode([{n: c[n] for n in self.sub.names} for c in configs])
        c = X.mean(axis=1)
        base = self.lo + (self.hi - self.lo) * (1 - np.exp(-3 * c)) / (1 - np.exp(-3))
        wiggle = self.noise * np.sin(X @ self.W.T + self.b).mean(axis=1)
        return base + wiggle

    def __call__(self, config: Mapping[str, Any]) -> float:
        return float(self.batch([config])[0])


_SYNTHETIC: dict[tuple, SyntheticAccuracy] = {}


def synthetic_accuracy(config: Mapping[str, Any]) -> float:
    """:class:`SyntheticAccuracy` of a configuration of any registered space (the space is the
    registered subnet space whose choices the configuration covers). Usable on the command
    line: ``--accuracy cimnet_bo.search.toy:synthetic_accuracy``."""
    from cimnet_bo.space import get_subnet_space, list_subnet_spaces

    key = tuple(sorted(config))
    acc = _SYNTHETIC.get(key)
    if acc is None:
        for name in list_subnet_spaces():
            sub = get_subnet_space(name)
            if set(sub.names) <= set(config) and all(_allowed(sub, n, config[n]) for n in sub.names):
                acc = SyntheticAccuracy(sub)
                break
        if acc is None:
            raise ValueError("the configuration matches no registered subnet space")
        _SYNTHETIC[key] = acc
    return acc(config)


def _allowed(space: Space, name: str, value: Any) -> bool:
    try:
        space[name].index(value)
        return True
    except ValueError:
        return False
