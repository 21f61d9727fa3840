"""Candidate pools and predictor-driven evolution shared by the strategies.

* :func:`plan_outputs`: which outputs a model-based strategy models and which it takes as
  known functions (cheap objectives, when asked to).
* :class:`Predictors`: one XGBoost regressor per modelled output, refitted each round on the
  data so far (targets: normalised objectives ``u``, raw constrained outputs).
* :func:`mutate_rows`: vectorised mutations of configurations (rank matrices).
* :func:`evolve`: NSGA-II (pymoo) on the predictors, returning every configuration it scored.
* :func:`build_pool`: random samples + mutations of the Pareto set + the predictor search.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from cimnet_bo.predictors.xgb import XGB_SEARCH_DEFAULTS, fit_xgb
from cimnet_bo.search.state import SearchState, row_keys, unique_rows
from cimnet_bo.space import AnySpace

#: Penalty objective value (normalised scale) of a configuration whose cheap outputs fail.
_BAD = -1e6


# ============================================================================ outputs
@dataclass(frozen=True)
class OutputPlan:
    """What a model-based strategy models.

    Attributes
    ----------
    modelled : tuple of str
        Outputs learned from data: objectives (normalised ``u``) first, then expensive
        constrained outputs (raw values).
    known : tuple of str
        Objectives computed exactly (cheap, used as known functions).
    """

    modelled: tuple[str, ...]
    known: tuple[str, ...]


def plan_outputs(state: SearchState, known_cheap: bool) -> OutputPlan:
    """Model every objective, or with ``known_cheap`` only the expensive ones (falling back
    to modelling all when every objective is cheap); expensive constrained outputs are always
    modelled, cheap ones are filtered exactly."""
    p = state.problem
    objs = list(p.objective_names)
    known = [o for o in objs if known_cheap and p.is_cheap(o)]
    if len(known) == len(objs):
        known = []
    modelled = [o for o in objs if o not in known]
    modelled += [c.name for c in p.constraints if not p.is_cheap(c.name) and c.name not in modelled]
    return OutputPlan(tuple(modelled), tuple(known))


def training_targets(state: SearchState, plan: OutputPlan) -> tuple[np.ndarray, np.ndarray]:
    """``(rows (n x d), T (n x k))``: evaluated rows whose modelled outputs are all finite and
    their targets (normalised objectives, raw constrained outputs), in ``plan.modelled`` order."""
    p = state.problem
    U = state.normalized()
    cols = []
    for name in plan.modelled:
        if name in p.objective_names:
            cols.append(U[:, p.objective_names.index(name)])
        else:
            cols.append(state.values[:, p.outputs.index(name)])
    T = np.column_stack(cols) if cols else np.empty((state.n, 0))
    ok = ~state.failed & np.all(np.isfinite(T), axis=1)
    return state.X[ok], T[ok]


class Predictors:
    """XGBoost regressors of the modelled outputs (the search's predictors), one per output,
    on the state's cached features (:func:`cimnet_bo.predictors.xgb.fit_xgb`).

    Parameters
    ----------
    state : SearchState
    plan : OutputPlan
    seed : int
        Output ``j``'s regressor has seed ``seed + j``.
    params : dict, optional
        XGBoost parameters over :data:`cimnet_bo.predictors.xgb.XGB_SEARCH_DEFAULTS`.

    Attributes
    ----------
    xgb_params : dict
        The XGBoost parameters in use (defaults and ``params``); the XGBoost surrogates use
        them too.
    """

    def __init__(self, state: SearchState, plan: OutputPlan, seed: int, params: dict | None = None) -> None:
        self.state = state
        self.plan = plan
        self.seed = seed
        self.xgb_params = {**XGB_SEARCH_DEFAULTS, **(params or {})}

    def hardware(self, name: str) -> bool:
        """Whether output ``name`` uses hardware features (False for subnet-only outputs)."""
        return not self.state.problem.subnet_only(name)

    def features(self, rows: np.ndarray, name: str) -> np.ndarray:
        """Features (n x f) of rows (n x d) for output ``name``."""
        return self.state.caches.features.get(rows, self.hardware(name))

    def fit(self) -> "Predictors":
        self.rows_, self.T_ = training_targets(self.state, self.plan)
        self.models_ = [
            fit_xgb(self.features(self.rows_, nm), self.T_[:, j], self.xgb_params, self.seed + j)
            for j, nm in enumerate(self.plan.modelled)
        ]
        return self

    def predict(self, rows: np.ndarray) -> np.ndarray:
        """Predicted modelled outputs (n x k)."""
        if not len(rows):
            return np.empty((0, len(self.plan.modelled)))
        return np.column_stack([m.predict(self.features(rows, nm)) for m, nm in zip(self.models_, self.plan.modelled)])


def score_rows(
    state: SearchState,
    plan: OutputPlan,
    rows: np.ndarray,
    modelled: np.ndarray,
    cheap: np.ndarray,
    cheap_ok: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Objectives ``u`` (n x m) and total constraint violation (n,) of rows from modelled
    outputs (n x k, ``plan.modelled`` order) and exact cheap outputs (n x c); rows whose cheap
    outputs failed get a hopeless score."""
    p = state.problem
    cheap_names = p.cheap_outputs
    n = len(rows)
    U = np.empty((n, len(p.objectives)))
    raw_cheap = {nm: cheap[:, j] for j, nm in enumerate(cheap_names)}
    if plan.known:
        Yk = np.full((n, len(p.objectives)), np.nan)
        for j, o in enumerate(p.objective_names):
            if o in raw_cheap:
                Yk[:, j] = raw_cheap[o]
        Uk = p.normalize(Yk)
    for j, o in enumerate(p.objective_names):
        U[:, j] = modelled[:, plan.modelled.index(o)] if o in plan.modelled else Uk[:, j]
    cv = np.zeros(n)
    for c in p.constraints:
        if c.name in raw_cheap:
            v = c.violation(raw_cheap[c.name])
        elif c.name in plan.modelled:
            sign, center = model_space_constraint(p, c)
            v = sign * (modelled[:, plan.modelled.index(c.name)] - center)
        else:
            continue
        cv += np.maximum(np.nan_to_num(v, nan=1e6), 0.0)
    bad = ~cheap_ok | ~np.all(np.isfinite(U), axis=1)
    U[bad] = _BAD
    cv[bad] = 1e6
    return U, cv


def model_space_constraint(problem: Any, c: Any) -> tuple[float, float]:
    """``(sign, center)`` such that ``sign * (z - center) <= 0`` is constraint ``c`` on the
    modelled value ``z`` of its output: raw values for outputs that are not objectives, the
    normalised ``u`` (monotone in the raw value) for objectives."""
    op = 1.0 if c.op == "<=" else -1.0
    if c.name not in problem.objective_names:
        return op, c.bound
    j = problem.objective_names.index(c.name)
    row = np.full((1, len(problem.objectives)), np.nan)
    row[0, j] = c.bound
    u_b = float(problem.normalize(row)[0, j])
    direction = 1.0 if problem.objectives[j].direction == "max" else -1.0
    return op * direction, u_b


# ============================================================================ mutations
def mutate_rows(
    space: AnySpace, parents: np.ndarray, n: int, rng: np.random.Generator, rate: float | None = None
) -> np.ndarray:
    """``n`` mutants (n x d) of parent rows (k x d), parents used in turn; each active choice
    with more than one value is redrawn with probability ``rate`` (default 2 / number of such
    choices), at least one per mutant, to another of its values, each equally likely (so
    categorical choices need nothing special); canonicalised."""
    if not len(parents) or n <= 0:
        return np.empty((0, space.dim), dtype=np.int64)
    nvals = np.array([len(c) for c in space.choices])
    P = np.asarray(parents, dtype=np.int64)[np.arange(n) % len(parents)].copy()
    movable = space.active_mask(P) & (nvals > 1)[None, :]
    k = np.maximum(movable.sum(1), 1)
    r = (2.0 / k)[:, None] if rate is None else np.full((n, 1), rate)
    flip = movable & (rng.random(P.shape) < r)
    # at least one flip per row that can move
    none = ~flip.any(1) & movable.any(1)
    if none.any():
        scores = np.where(movable[none], rng.random((int(none.sum()), P.shape[1])), -1.0)
        flip[np.flatnonzero(none), scores.argmax(1)] = True
    shift = rng.integers(1, np.maximum(nvals, 2)[None, :].repeat(n, 0))
    P = np.where(flip, (P + shift) % nvals[None, :], P)
    return space.canonicalize_indices(P)


# ============================================================================ evolution
def _pymoo_problem(
    space: AnySpace, m: int, constrained: bool, fn: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
):
    from pymoo.core.problem import Problem as PymooProblem

    nvals = np.array([len(c) for c in space.choices])

    class _OnPredictors(PymooProblem):
        def __init__(self) -> None:
            super().__init__(
                n_var=space.dim,
                n_obj=m,
                n_ieq_constr=1 if constrained else 0,
                xl=np.zeros(space.dim),
                xu=(nvals - 1).astype(float),
                vtype=int,
            )

        def _evaluate(self, X, out, *args, **kwargs):
            rows = space.canonicalize_indices(np.clip(np.rint(X), 0, nvals - 1).astype(np.int64))
            U, cv = fn(rows)
            out["F"] = -U
            if constrained:
                out["G"] = cv[:, None]

    return _OnPredictors()


def nsga2_operators(categorical: Sequence[int] = ()) -> tuple[Any, Any, Any]:
    """pymoo's NSGA-II operators for integer (rank) variables: binary tournament on rank and
    crowding, SBX crossover and polynomial mutation with rounding repair.

    SBX and polynomial mutation move a rank towards nearby ranks, which assumes the values are
    ordered. Columns in ``categorical`` are labels instead: uniform crossover (each column of
    one child from a parent drawn at random, the other child's from the other parent) and, with
    the polynomial mutation's per-variable probability, a move to any other value, each equally
    likely. Without categorical columns the operators are pymoo's own.
    """
    from pymoo.algorithms.moo.nsga2 import binary_tournament
    from pymoo.operators.crossover.sbx import SBX
    from pymoo.operators.mutation.pm import PM
    from pymoo.operators.repair.rounding import RoundingRepair
    from pymoo.operators.selection.tournament import TournamentSelection

    cat = np.array(sorted(categorical), dtype=np.int64)

    class LabelSBX(SBX):
        """SBX on the ordinal columns, uniform crossover on the categorical ones."""

        def _do(self, problem: Any, X: np.ndarray, *args: Any, random_state: Any = None, **kwargs: Any) -> np.ndarray:
            # X: parents (2 x matings x n_var); returns children (2 x matings x n_var)
            Q = super()._do(problem, X, *args, random_state=random_state, **kwargs)
            swap = random_state.random((X.shape[1], len(cat))) < 0.5
            first, second = X[0][:, cat], X[1][:, cat]
            Q[:, :, cat] = np.stack([np.where(swap, second, first), np.where(swap, first, second)])
            return Q

    class LabelPM(PM):
        """Polynomial mutation on the ordinal columns; categorical ones move to any other value."""

        def _do(self, problem: Any, X: np.ndarray, *args: Any, random_state: Any = None, **kwargs: Any) -> np.ndarray:
            # X: individuals (n x n_var), ranks as floats
            Xp = super()._do(problem, X, *args, random_state=random_state, **kwargs)
            n_values = np.rint(problem.xu[cat] - problem.xl[cat]).astype(np.int64) + 1
            prob = self.get_prob_var(problem, size=len(X))
            flip = (random_state.random((len(X), len(cat))) < prob[:, None]) & (n_values > 1)
            shift = random_state.integers(1, np.maximum(n_values, 2), size=(len(X), len(cat)))
            labels = np.rint(X[:, cat]).astype(np.int64)
            Xp[:, cat] = np.where(flip, (labels + shift) % n_values, labels)
            return Xp

    cx, mut = (LabelSBX, LabelPM) if len(cat) else (SBX, PM)
    return (
        TournamentSelection(func_comp=binary_tournament),
        cx(prob=0.9, eta=15, vtype=float, repair=RoundingRepair()),
        mut(eta=20, vtype=float, repair=RoundingRepair()),
    )


def evolve(
    state: SearchState,
    score: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
    rng: np.random.Generator,
    pop_size: int,
    n_gen: int,
    init: np.ndarray | None = None,
    space: AnySpace | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """NSGA-II (pymoo) maximising predicted objectives under predicted/exact constraints.

    Parameters
    ----------
    score : callable
        rows (n x d) -> (U (n x m) predicted normalised objectives, cv (n,) violation).
    pop_size, n_gen : int
    init : array (k x d), optional
        Seeds of the first population (e.g. the current Pareto set); filled up with random rows.
    space : Space, optional
        The space evolved (default: the problem's; e.g. its subnet half, with ``score`` placing
        each subnet on a chip).

    Returns
    -------
    rows, U, cv, final : arrays
        Every distinct configuration scored during the run (r x d), its scores (r x m, r),
        and a bool mask (r,) of those in the final population.
    """
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.optimize import minimize

    space = state.problem.space if space is None else space
    log_rows: list[np.ndarray] = []
    log_U: list[np.ndarray] = []
    log_cv: list[np.ndarray] = []

    def fn(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        U, cv = score(rows)
        log_rows.append(rows)
        log_U.append(U)
        log_cv.append(cv)
        return U, cv

    start = space.sample_indices(pop_size, rng)
    if init is not None and len(init):
        init = unique_rows(np.asarray(init, dtype=np.int64))[:pop_size]
        start = np.vstack([init, start])[:pop_size]
    problem = _pymoo_problem(space, len(state.problem.objectives), bool(state.problem.constraints), fn)
    sel, cx, mut = nsga2_operators(space.categorical_columns)
    algo = NSGA2(
        pop_size=pop_size,
        sampling=start.astype(float),
        selection=sel,
        crossover=cx,
        mutation=mut,
        eliminate_duplicates=True,
    )
    res = minimize(problem, algo, ("n_gen", n_gen), seed=int(rng.integers(2**31 - 1)), verbose=False)
    rows = np.vstack(log_rows)
    U = np.vstack(log_U)
    cv = np.concatenate(log_cv)
    keep = []
    seen: set[bytes] = set()
    for i, k in enumerate(row_keys(rows)):
        if k not in seen:
            seen.add(k)
            keep.append(i)
    keep_a = np.asarray(keep, dtype=np.int64)
    rows, U, cv = rows[keep_a], U[keep_a], cv[keep_a]
    final_rows = space.canonicalize_indices(np.rint(res.pop.get("X")).astype(np.int64))
    final = set(row_keys(final_rows))
    in_final = np.array([k in final for k in row_keys(rows)], dtype=bool)
    return rows, U, cv, in_final


def rank_rows(U: np.ndarray, cv: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of the ``n`` best rows by NSGA-II's order (feasibility, non-dominated rank,
    crowding distance), via pymoo's ``RankAndCrowding`` survival."""
    from pymoo.core.population import Population
    from pymoo.core.problem import Problem as PymooProblem
    from pymoo.operators.survival.rank_and_crowding import RankAndCrowding

    if len(U) <= n:
        order = np.lexsort((-U.sum(1), cv > 0))
        return order
    constrained = bool(np.any(cv > 0))
    prob = PymooProblem(n_var=1, n_obj=U.shape[1], n_ieq_constr=1 if constrained else 0, xl=0.0, xu=1.0)
    pop = Population.new("X", np.zeros((len(U), 1)), "F", -U)
    if constrained:
        pop.set("G", cv[:, None], "CV", cv[:, None])
    else:
        pop.set("CV", np.zeros((len(U), 1)))
    return np.asarray(RankAndCrowding().do(prob, pop, n_survive=n, random_state=rng, return_indices=True))


# ============================================================================ pools
def predictor_score(
    state: SearchState, plan: OutputPlan, predict: Callable[[np.ndarray], np.ndarray]
) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """rows -> (U, cv) from predicted modelled outputs and exact cheap outputs."""

    def score(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        V, ok = state.caches.cheap.get(rows)
        return score_rows(state, plan, rows, predict(rows), V, ok)

    return score


def random_reservoir(state: SearchState, n: int, seed: int) -> np.ndarray:
    """A fixed set of ``n`` random cheap-feasible configurations per run and process (drawn once
    from ``seed``; the evaluated and pending ones are removed each time)."""
    key = ("reservoir", n, seed)
    res = state.caches.extra.get(key)
    if res is None:
        rng = np.random.default_rng([seed, 20_011])
        space = state.problem.space
        n = int(min(n, space.size))
        got = np.empty((0, space.dim), dtype=np.int64)
        stale = 0
        for _ in range(30):
            need = n - len(got)
            if need <= 0 or stale >= 3:
                break
            draw = space.sample_indices(int(min(need * 1.3 + 64, 200_000)), rng)
            new = unique_rows(np.vstack([got, state.cheap_filter(unique_rows(draw))[0]]))[:n]
            stale = stale + 1 if len(new) == len(got) else 0
            got = new
        res = got
        state.caches.extra[key] = res
    if not len(res):
        return res
    seen = state.seen
    keep = np.array([k not in seen for k in row_keys(res)], dtype=bool)
    return res[keep]


def build_pool(
    state: SearchState,
    rng: np.random.Generator,
    size: int,
    mutation_fraction: float,
    evolution_fraction: float,
    score: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]] | None,
    pop_size: int,
    n_gen: int,
) -> tuple[np.ndarray, dict[str, int]]:
    """The round's candidate pool: fresh, cheap-feasible rows (at most ``size``).

    Tabular problems: a random subset of the unseen candidates. Otherwise: mutations of the
    feasible Pareto set (``mutation_fraction``), the best configurations found by NSGA-II on the
    predictors (``evolution_fraction``; needs ``score``), filled up with the run's random
    reservoir. Returns the pool and the count from each source.
    """
    if state.candidates is not None:
        pool = state.sample(size, rng)
        return pool, {"candidates": len(pool)}
    space = state.problem.space
    parts: list[np.ndarray] = []
    counts: dict[str, int] = {}
    pareto = state.pareto_rows()
    if not len(pareto):  # no feasible point yet: mutate the best rows by violation-free u
        pareto = state.X[~state.failed][:8]
    n_mut = int(size * mutation_fraction)
    if n_mut and len(pareto):
        mut = state.fresh(mutate_rows(space, pareto, int(n_mut * 1.5) + 16, rng))[:n_mut]
        parts.append(mut)
        counts["mutations"] = len(mut)
    n_evo = int(size * evolution_fraction)
    if n_evo and score is not None:
        rows, U, cv, _ = evolve(state, score, rng, pop_size, n_gen, init=pareto)
        rows_f = state.fresh(rows)
        if len(rows_f):
            keys = {k: i for i, k in enumerate(row_keys(rows))}
            sel = np.array([keys[k] for k in row_keys(rows_f)], dtype=np.int64)
            best = rank_rows(U[sel], cv[sel], n_evo, rng)
            evo = rows_f[best]
        else:
            evo = rows_f
        parts.append(evo)
        counts["evolution"] = len(evo)
    pool = unique_rows(np.vstack(parts)) if parts else np.empty((0, space.dim), dtype=np.int64)
    need = size - len(pool)
    if need > 0:
        res = random_reservoir(state, size, int(state.seed))
        used = set(row_keys(pool))
        keep = np.array([k not in used for k in row_keys(res)], dtype=bool)
        res = res[keep] if len(res) else res
        take = res[:need]
        if len(take) < need:  # small spaces: top up with fresh random rows
            extra = state.sample(need - len(take), rng)
            take = unique_rows(np.vstack([take, extra]), exclude=used)[:need]
        pool = np.vstack([pool, take])
        counts["random"] = len(take)
    return pool[:size], counts


__all__: Sequence[str] = [
    "OutputPlan",
    "plan_outputs",
    "training_targets",
    "Predictors",
    "score_rows",
    "mutate_rows",
    "evolve",
    "rank_rows",
    "predictor_score",
    "random_reservoir",
    "build_pool",
]
