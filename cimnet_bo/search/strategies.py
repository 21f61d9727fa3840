"""Search strategies, by name: ``qnehvi`` (default), ``random``, ``nsga2``, ``linas``.

A strategy is a small estimator-like object: options go to ``__init__`` (no work there) and
:meth:`Strategy.propose` maps what is known (a :class:`~cimnet_bo.search.state.SearchState`)
to the next configurations. Proposals depend only on the state, the number asked for and the
random generator the runner derives from ``(seed, candidate number)``, so a run resumed from
its store proposes exactly what the uninterrupted run would have.

Every strategy proposes fresh configurations only (never an evaluated or pending one), meets
cheap constraints exactly, and for tabular problems proposes table rows only.
"""

from __future__ import annotations

import inspect
from types import SimpleNamespace
from typing import Any, ClassVar

import numpy as np

from cimnet_bo.core import Registry
from cimnet_bo.search.pool import (
    Predictors,
    _pymoo_problem,
    evolve,
    nsga2_operators,
    plan_outputs,
    predictor_score,
    rank_rows,
    training_targets,
)
from cimnet_bo.search.problem import Problem, ProblemError
from cimnet_bo.search.state import SearchState, row_keys

#: Registered strategy classes by name (``@STRATEGIES.register(name)`` sets the class's
#: ``name``); ``qnehvi`` is defined in :mod:`cimnet_bo.search.qnehvi`.
STRATEGIES: Registry[type["Strategy"]] = Registry("strategy", modules=("cimnet_bo.search.qnehvi",), attribute="name")


class Strategy:
    """Base class of search strategies."""

    name: ClassVar[str] = "base"

    def get_params(self) -> dict[str, Any]:
        """The constructor arguments (what a run config records)."""
        sig = inspect.signature(type(self).__init__)
        return {k: getattr(self, k) for k in sig.parameters if k != "self"}

    def check(self, problem: Problem | None) -> None:
        """Raise :class:`ProblemError` when the options are invalid, or (``problem`` given) when
        the strategy cannot run on ``problem``."""

    def propose(self, state: SearchState, q: int, rng: np.random.Generator) -> np.ndarray:
        """Up to ``q`` fresh configurations, rank matrix (k x d), k <= q (fewer only when the
        space is exhausted)."""
        raise NotImplementedError

    def initial(self, state: SearchState, n: int, rng: np.random.Generator) -> np.ndarray:
        """Up to ``n`` fresh configurations (k x d) of the random initial design (default:
        uniform, :meth:`SearchState.sample`)."""
        return state.sample(n, rng)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"


def make_strategy(name: str | Strategy, **options: Any) -> Strategy:
    """A strategy from its registered name and options.

    Raises
    ------
    UnknownNameError
        Unknown name.
    ProblemError
        Options the strategy does not take (the valid ones are listed).
    """
    if isinstance(name, Strategy):
        if options:
            raise ProblemError("options are given with the strategy object itself")
        return name
    cls = STRATEGIES[name]
    params = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    unknown = sorted(set(options) - set(params))
    if unknown:
        raise ProblemError(f"strategy {name!r} has no option(s) {unknown}; its options are {params}")
    try:
        strat = cls(**options)
    except TypeError as e:
        raise ProblemError(f"strategy {name!r}: {e}") from None
    strat.check(None)
    return strat


def _fill_random(state: SearchState, rows: np.ndarray, q: int, rng: np.random.Generator) -> np.ndarray:
    """``rows`` topped up with fresh random rows to ``q`` (no repeats)."""
    rows = rows[:q]
    if len(rows) >= q:
        return rows
    extra = state.sample(q, rng)
    have = set(row_keys(rows))
    extra = np.asarray([r for r, k in zip(extra, row_keys(extra)) if k not in have], dtype=np.int64)
    extra = extra.reshape(-1, state.problem.space.dim)
    return np.vstack([rows, extra])[:q]


def check_int(name: str, value: Any, low: int) -> None:
    """Raise :class:`ProblemError` unless ``value`` is an integer >= ``low``."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
        raise ProblemError(f"{name} must be an integer >= {low}, got {value!r}")


def check_fraction(name: str, value: Any) -> None:
    """Raise :class:`ProblemError` unless ``value`` is a number in [0, 1]."""
    if not isinstance(value, (int, float)) or not 0.0 <= float(value) <= 1.0:
        raise ProblemError(f"{name} must be in [0, 1], got {value!r}")


# ============================================================================ random
@STRATEGIES.register("random")
class RandomSearch(Strategy):
    """Uniform random configurations (cheap-feasible, never repeated)."""

    def __init__(self) -> None:
        pass

    def propose(self, state: SearchState, q: int, rng: np.random.Generator) -> np.ndarray:
        return state.sample(q, rng)


# ============================================================================ NSGA-II
@STRATEGIES.register("nsga2")
class NSGA2Search(Strategy):
    """NSGA-II on true evaluations (pymoo's operators and survival).

    Each call selects ``pop_size`` parents from *all* evaluations so far by pymoo's
    ``RankAndCrowding`` survival (constraint violation first, then non-dominated rank and
    crowding distance), then breeds offspring with binary tournaments, SBX crossover and
    polynomial mutation on the choice ranks (rounding repair). This is the steady-state,
    archive-elitist form of NSGA-II: each batch of ``q`` offspring is one generation, and the
    parent population is a function of the stored evaluations, so runs resume exactly.

    Parameters
    ----------
    pop_size : int, optional
        Parent population size (default ``max(16, 2 q)``).
    """

    def __init__(self, pop_size: int | None = None) -> None:
        self.pop_size = pop_size

    def check(self, problem: Problem | None) -> None:
        if self.pop_size is not None:
            check_int("pop_size", self.pop_size, 2)

    def propose(self, state: SearchState, q: int, rng: np.random.Generator) -> np.ndarray:
        from pymoo.core.mating import Mating
        from pymoo.core.population import Population
        from pymoo.operators.survival.rank_and_crowding import RankAndCrowding

        ok = ~state.failed & np.all(np.isfinite(state.normalized()), axis=1)
        if ok.sum() < 2:
            return state.sample(q, rng)
        p = state.problem
        X = state.X[ok]
        U = state.normalized()[ok]
        cv = np.zeros(len(X))
        for c in p.constraints:
            v = c.violation(state.values[ok][:, p.outputs.index(c.name)])
            cv += np.maximum(np.nan_to_num(v, nan=1e6), 0.0)
        constrained = bool(p.constraints)
        prob = _pymoo_problem(p.space, U.shape[1], constrained, fn=lambda rows: (None, None))
        pop = Population.new("X", X.astype(float), "F", -U)
        pop.set("CV", cv[:, None])
        if constrained:
            pop.set("G", cv[:, None])
        n_par = min(len(pop), self.pop_size or max(16, 2 * q))
        parents = RankAndCrowding().do(prob, pop, n_survive=n_par, random_state=rng)
        sel, cx, mut = nsga2_operators(p.space.categorical_columns)
        mating = Mating(sel, cx, mut)
        algo = SimpleNamespace(tournament_type="comp_by_dom_and_crowding", random_state=rng)
        out = np.empty((0, p.space.dim), dtype=np.int64)
        for _ in range(20):
            off = mating.do(prob, parents, max(2 * q, 8), random_state=rng, algorithm=algo)
            rows = p.space.canonicalize_indices(np.rint(off.get("X")).astype(np.int64))
            rows = np.vstack([out, rows])
            out = state.snap(rows) if state.candidates is not None else state.fresh(rows)
            if len(out) >= q:
                break
        return _fill_random(state, out, q, rng)


# ============================================================================ LINAS
@STRATEGIES.register("linas")
class LINAS(Strategy):
    """Lightweight Iterative NAS (Intel's DyNAS-T): predictors refitted on all evaluations each
    round, NSGA-II on the predictors as the inner loop, then the best fresh configurations of
    its final population (by rank and crowding; de-duplicated against everything evaluated or
    pending) are evaluated.

    Parameters
    ----------
    known_cheap : bool
        Take cheap objectives (the roofline) as exact known functions instead of predicting them.
    pop_size, n_gen : int
        Inner NSGA-II population and generations.
    xgb_params : dict, optional
        XGBoost parameters of the predictors.
    """

    def __init__(
        self, known_cheap: bool = True, pop_size: int = 50, n_gen: int = 30, xgb_params: dict | None = None
    ) -> None:
        self.known_cheap = known_cheap
        self.pop_size = pop_size
        self.n_gen = n_gen
        self.xgb_params = xgb_params

    def check(self, problem: Problem | None) -> None:
        check_int("pop_size", self.pop_size, 4)
        check_int("n_gen", self.n_gen, 1)

    def propose(self, state: SearchState, q: int, rng: np.random.Generator) -> np.ndarray:
        plan = plan_outputs(state, self.known_cheap)
        rows_tr, _ = training_targets(state, plan)
        if len(rows_tr) < 4:
            return state.sample(q, rng)
        preds = Predictors(state, plan, int(rng.integers(2**31 - 1)), self.xgb_params).fit()
        score = predictor_score(state, plan, preds.predict)
        rows, U, cv, final = evolve(state, score, rng, self.pop_size, self.n_gen, init=state.pareto_rows())
        chosen = []
        for part in (final, ~final):
            idx = np.flatnonzero(part)
            if not len(idx):
                continue
            order = idx[rank_rows(U[idx], cv[idx], len(idx), rng)]
            chosen.append(rows[order])
        ranked = np.vstack(chosen)
        out = state.snap(ranked, q) if state.candidates is not None else state.fresh(ranked)[:q]
        return _fill_random(state, out, q, rng)
