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
import time
from types import SimpleNamespace
from typing import Any, ClassVar

import numpy as np

from cimnet_bo.search.pool import (
    OutputPlan,
    Predictors,
    _pymoo_problem,
    build_pool,
    evolve,
    model_space_constraint,
    nsga2_operators,
    plan_outputs,
    predictor_score,
    rank_rows,
    training_targets,
)
from cimnet_bo.core import Registry
from cimnet_bo.search.best_chips import BestChips, best_chips_for, unsupported
from cimnet_bo.search.problem import Problem, ProblemError
from cimnet_bo.search.state import SearchState, row_keys
from cimnet_bo.search.surrogates import SURROGATES

#: Hardware modes of :class:`QNEHVI` (see its ``hardware`` parameter).
HARDWARE_MODES: tuple[str, ...] = ("auto", "best", "search")
#: Registered strategy classes by name (``@STRATEGIES.register(name)`` sets the class's ``name``).
STRATEGIES: Registry[type["Strategy"]] = Registry("strategy", attribute="name")


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


def _check_int(name: str, value: Any, low: int) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
        raise ProblemError(f"{name} must be an integer >= {low}, got {value!r}")


def _check_fraction(name: str, value: Any) -> None:
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
            _check_int("pop_size", self.pop_size, 2)

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
        sel, cx, mut = nsga2_operators()
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

    def __init__(self, known_cheap: bool = True, pop_size: int = 50, n_gen: int = 30,
                 xgb_params: dict | None = None) -> None:
        self.known_cheap = known_cheap
        self.pop_size = pop_size
        self.n_gen = n_gen
        self.xgb_params = xgb_params

    def check(self, problem: Problem | None) -> None:
        _check_int("pop_size", self.pop_size, 4)
        _check_int("n_gen", self.n_gen, 1)

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


# ============================================================================ qNEHVI
@STRATEGIES.register("qnehvi")
class QNEHVI(Strategy):
    """Batch Bayesian optimisation with BoTorch's ``qLogNoisyExpectedHypervolumeImprovement``
    over a discrete candidate pool.

    Each round: fit the predictors (XGBoost per modelled output) on the data so far; build a
    pool (random configurations, mutations of the current Pareto set, NSGA-II on the
    predictors; for tabular problems, the unseen table rows); fit the surrogate; score the pool
    with qLogNEHVI (reference point 0 on the normalised scale, expensive constraints as
    outcome constraints, pending points as ``X_pending``; see ``shortlist``); pick ``q``
    greedily by sequential conditioning (``optimize_acqf_discrete``).

    On a joint space where accuracy depends on the subnet alone and latency is the only
    hardware objective (the registered problems), every candidate is a subnet on its best chip
    under the problem's budgets (``hardware="best"``, :mod:`cimnet_bo.search.best_chips`): the
    pool and the surrogate live on subnets, the hardware is computed, not searched.

    Parameters
    ----------
    hardware : {"auto", "best", "search"}
        ``"best"``: candidates are subnets on their best chips (an error where the problem does
        not allow it); ``"search"``: the hardware knobs are searched like the subnet's;
        ``"auto"`` (default): ``"best"`` where the problem allows it, else ``"search"``.
    surrogate : {"gp", "xgb-ensemble", "gp-xgb-mean"}
        See :mod:`cimnet_bo.search.surrogates`.
    known_cheap : bool
        Use cheap objectives (the roofline) as known functions instead of modelling them.
    pool_size : int
        Candidates scored per round.
    mutation_fraction, evolution_fraction : float
        Shares of the pool from mutations of the Pareto set and from NSGA-II on the predictors
        (the rest: the run's fixed random reservoir).
    pop_size, n_gen : int
        NSGA-II on the predictors.
    mc_samples : int
        Quasi-MC samples of the GP posteriors in qLogNEHVI (ensembles use each member once).
    screen_samples : int
        Quasi-MC samples of the qLogEHVI screen.
    shortlist : int
        The pool is screened with ``qLogExpectedHypervolumeImprovement`` over the Pareto front
        of the posterior mean (each candidate alone: cheap); the ``shortlist`` best go to
        qLogNEHVI (joint posterior with the observed points: exact but costly per candidate).
    ensemble_size : int
        Bootstrap members of ``xgb-ensemble``.
    cv_folds : int
        Folds of the out-of-fold XGBoost mean of ``gp-xgb-mean``.
    gp_fit_points, gp_maxiter : int
        GP hyper-parameters are fitted on at most ``gp_fit_points`` observations (random subset)
        with at most ``gp_maxiter`` L-BFGS-B steps; the GPs then condition on all observations.
    xgb_params : dict, optional
        XGBoost parameters (predictors, ensemble members, GP means).
    """

    _bc: BestChips | None = None

    def __init__(self, surrogate: str = "gp", hardware: str = "auto", known_cheap: bool = True, pool_size: int = 20000,
                 mutation_fraction: float = 0.15, evolution_fraction: float = 0.15, pop_size: int = 64,
                 n_gen: int = 12, mc_samples: int = 64, screen_samples: int = 16, shortlist: int = 256,
                 ensemble_size: int = 10,
                 cv_folds: int = 5, gp_fit_points: int = 256, gp_maxiter: int = 100,
                 xgb_params: dict | None = None) -> None:
        self.surrogate = surrogate
        self.hardware = hardware
        self.known_cheap = known_cheap
        self.pool_size = pool_size
        self.mutation_fraction = mutation_fraction
        self.evolution_fraction = evolution_fraction
        self.pop_size = pop_size
        self.n_gen = n_gen
        self.mc_samples = mc_samples
        self.screen_samples = screen_samples
        self.shortlist = shortlist
        self.ensemble_size = ensemble_size
        self.cv_folds = cv_folds
        self.gp_fit_points = gp_fit_points
        self.gp_maxiter = gp_maxiter
        self.xgb_params = xgb_params

    def check(self, problem: Problem | None) -> None:
        if self.surrogate not in SURROGATES:
            raise ProblemError(f"unknown surrogate {self.surrogate!r}; choose from {list(SURROGATES)}")
        if self.hardware not in HARDWARE_MODES:
            raise ProblemError(f"unknown hardware mode {self.hardware!r}; choose from {list(HARDWARE_MODES)}")
        if self.hardware == "best" and problem is not None:
            reason = unsupported(problem)
            if reason is not None:
                raise ProblemError(f"hardware='best' cannot run on problem {problem.name!r}: {reason}; "
                                   "use hardware='search'")
        if self.hardware == "best" and not self.known_cheap:
            raise ProblemError("hardware='best' takes latency from the roofline: it needs known_cheap=True")
        _check_int("pool_size", self.pool_size, 1)
        _check_int("pop_size", self.pop_size, 4)
        _check_int("n_gen", self.n_gen, 0)
        _check_int("mc_samples", self.mc_samples, 1)
        _check_int("screen_samples", self.screen_samples, 1)
        _check_int("shortlist", self.shortlist, 1)
        _check_int("ensemble_size", self.ensemble_size, 2)
        _check_int("cv_folds", self.cv_folds, 2)
        _check_int("gp_fit_points", self.gp_fit_points, 8)
        _check_int("gp_maxiter", self.gp_maxiter, 1)
        _check_fraction("mutation_fraction", self.mutation_fraction)
        _check_fraction("evolution_fraction", self.evolution_fraction)
        if self.mutation_fraction + self.evolution_fraction > 1.0:
            raise ProblemError("mutation_fraction + evolution_fraction must be at most 1")

    # ---------------------------------------------------------------------- propose
    def best_chips(self, state: SearchState) -> BestChips | None:
        """The subnets-on-best-chips helper of ``hardware="best"`` (None when searching the
        hardware)."""
        if self.hardware == "search" or not self.known_cheap:
            return None
        if self.hardware == "auto" and unsupported(state.problem) is not None:
            return None
        return best_chips_for(state)

    def initial(self, state: SearchState, n: int, rng: np.random.Generator) -> np.ndarray:
        bc = self.best_chips(state)
        return state.sample(n, rng) if bc is None else bc.initial(state, n, rng)

    def propose(self, state: SearchState, q: int, rng: np.random.Generator) -> np.ndarray:
        import torch

        t = {"start": time.perf_counter()}
        info: dict[str, Any] = {}
        self.last_info = info
        self._bc = bc = self.best_chips(state)
        plan = plan_outputs(state, self.known_cheap)
        rows_tr, T = training_targets(state, plan)
        if len(rows_tr) < 3:
            return self.initial(state, q, rng)
        seed = int(rng.integers(2**31 - 1))
        torch.manual_seed(seed)
        preds = Predictors(state, plan, seed, self.xgb_params).fit()
        t["predictors"] = time.perf_counter()
        if bc is None:
            pool, counts = build_pool(state, rng, self.pool_size, self.mutation_fraction, self.evolution_fraction,
                                      predictor_score(state, plan, preds.predict), self.pop_size, self.n_gen)
        else:
            pool, counts = bc.pool(state, rng, self.pool_size, self.mutation_fraction, self.evolution_fraction,
                                   preds.predict, plan, self.pop_size, self.n_gen)
        t["pool"] = time.perf_counter()
        info["pool"] = counts
        if not len(pool):
            return pool
        pending = state.pending
        if len(pending):
            _, pok = state.caches.cheap.get(pending)
            pending = pending[pok]
        all_rows = np.vstack([rows_tr, pending, pool])
        n_tr, n_pe, N = len(rows_tr), len(pending), len(all_rows)
        model, sampler = self._surrogate(state, plan, preds, rows_tr, T, all_rows, seed)
        t["surrogate"] = time.perf_counter()
        picks = self._select(state, plan, model, sampler, all_rows, n_tr, n_pe, q)
        t["acquisition"] = time.perf_counter()
        info["seconds"] = {k: round(t[k] - t[p], 3) for p, k in zip(
            ["start", "predictors", "pool", "surrogate"], ["predictors", "pool", "surrogate", "acquisition"])}
        info["n_train"] = n_tr
        info["pool_size"] = len(pool)
        return all_rows[picks]

    # ---------------------------------------------------------------------- surrogate
    def _X(self, state: SearchState, rows: np.ndarray, ids: np.ndarray, n_rows: int) -> np.ndarray:
        from cimnet_bo.search.surrogates import id_column

        enc = state.problem.space.encode_indices(rows.copy())
        if self._bc is not None:  # every modelled output depends on the subnet alone
            enc = enc[:, :self._bc.d_sub]
        return np.column_stack([enc, id_column(ids, n_rows)])

    def _surrogate(self, state: SearchState, plan: OutputPlan, preds: Predictors, rows_tr: np.ndarray,
                   T: np.ndarray, all_rows: np.ndarray, seed: int) -> tuple[Any, Any]:
        from cimnet_bo.search import surrogates as S

        N = len(all_rows)
        n_tr = len(rows_tr)
        X_tr = self._X(state, rows_tr, np.arange(n_tr), N)
        d = X_tr.shape[1] - 1
        if self.surrogate == "xgb-ensemble":
            table = np.empty((N, self.ensemble_size, len(plan.modelled)))
            for j, name in enumerate(plan.modelled):
                F_tr = preds.features(rows_tr, name)
                F_all = preds.features(all_rows, name)
                table[:, :, j] = S.bootstrap_predictions(F_tr, T[:, j], F_all, self.ensemble_size, seed + 101 * j,
                                                         self.xgb_params)
            self._shift = None
            self._seed = seed
            return S.ensemble_model(table), self._sampler(self.ensemble_size, seed)
        shift = None
        T_fit = T
        if self.surrogate == "gp-xgb-mean":
            shift = np.zeros((N, len(plan.modelled)))
            T_fit = T.copy()
            constrained = {c.name for c in state.problem.constraints}
            for j, name in enumerate(plan.modelled):
                if name not in state.problem.objective_names or name in constrained:
                    continue  # outcome constraints see the model's samples: plain GP
                F_tr = preds.features(rows_tr, name)
                shift[:n_tr, j] = S.xgb_oof(F_tr, T[:, j], seed + 31 * j, self.cv_folds, self.xgb_params)
                shift[n_tr:, j] = preds.models_[j].predict(preds.features(all_rows[n_tr:], name))
                T_fit[:, j] = T[:, j] - shift[:n_tr, j]
        model = S.fit_gp_list(X_tr, T_fit, d, seed, fit_points=self.gp_fit_points, maxiter=self.gp_maxiter)
        self._shift = shift
        self._seed = seed
        return model, self._sampler(self.mc_samples, seed)

    def _sampler(self, n: int, seed: int) -> Any:
        """QMC normal sampler for GPs; every member once for ensembles."""
        import torch
        from botorch.sampling.normal import SobolQMCNormalSampler

        from cimnet_bo.search import surrogates as S

        if self.surrogate == "xgb-ensemble":
            return S.all_members_sampler(self.ensemble_size)
        return SobolQMCNormalSampler(sample_shape=torch.Size([n]), seed=seed)

    # ---------------------------------------------------------------------- acquisition
    def _select(self, state: SearchState, plan: OutputPlan, model: Any, sampler: Any, all_rows: np.ndarray,
                n_tr: int, n_pe: int, q: int) -> np.ndarray:
        import warnings

        import torch
        from botorch.acquisition.multi_objective.logei import (
            qLogExpectedHypervolumeImprovement,
            qLogNoisyExpectedHypervolumeImprovement,
        )
        from botorch.acquisition.multi_objective.utils import prune_inferior_points_multi_objective
        from botorch.optim import optimize_acqf_discrete
        from botorch.utils.multi_objective.box_decompositions.non_dominated import FastNondominatedPartitioning
        from linear_operator.utils.warnings import NumericalWarning

        from cimnet_bo.search import surrogates as S

        p = state.problem
        m = len(p.objectives)
        N = len(all_rows)
        X_all = torch.as_tensor(self._X(state, all_rows, np.arange(N), N), dtype=torch.float64)
        modelled = [plan.modelled.index(o) if o in plan.modelled else None for o in p.objective_names]

        def known_objectives(rows: np.ndarray) -> np.ndarray | None:
            """Normalised known objectives of rows (n x m; NaN where modelled)."""
            if not plan.known:
                return None
            V, _ = state.caches.cheap.get(rows)
            Y = np.full((len(rows), m), np.nan)
            for j, o in enumerate(p.objective_names):
                if o in plan.known:
                    Y[:, j] = V[:, p.cheap_outputs.index(o)]
            return np.nan_to_num(p.normalize(Y), nan=-1e6)

        known = known_objectives(all_rows)
        objective = S.acquisition_objective(m, modelled, known, list(range(m)), shift=self._shift)
        constraints = []
        for c in p.constraints:
            if c.name in plan.modelled:  # an outcome constraint on the model's samples
                k = plan.modelled.index(c.name)
                sign, center = model_space_constraint(p, c)
                constraints.append(lambda Z, k=k, b=center, s=sign: s * (Z[..., k] - b))
        constraints = constraints or None
        # baseline: evaluated rows that meet the cheap constraints
        base = np.arange(n_tr)
        if any(p.is_cheap(c.name) for c in p.constraints):
            _, okb = state.cheap_filter_mask(all_rows[:n_tr])
            base = base[okb] if okb.any() else base
        X_base = X_all[base]
        X_pend = X_all[n_tr:n_tr + n_pe] if n_pe else None
        pool = X_all[n_tr + n_pe:]
        ref = torch.zeros(m, dtype=torch.float64)
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore", NumericalWarning)
            k = min(len(pool), max(self.shortlist, q))
            if len(pool) > k:
                # screen: qLogEHVI over the front of the posterior mean at the baseline (each
                # candidate alone, no joint posterior with the baseline: cheap)
                post = model.posterior(X_base)
                mean = post.mean
                Yb = objective(mean.unsqueeze(0), X=X_base)[0]
                if constraints is not None:
                    feas = torch.stack([c(mean) <= 0 for c in constraints], dim=-1).all(dim=-1)
                    Yb = Yb[feas]
                part = FastNondominatedPartitioning(ref_point=ref, Y=Yb)
                screen_model = model if self.surrogate == "xgb-ensemble" else S.marginal_model(model)
                screen = qLogExpectedHypervolumeImprovement(model=screen_model, ref_point=ref, partitioning=part,
                                                            sampler=self._sampler(self.screen_samples, self._seed + 1),
                                                            objective=objective,
                                                            constraints=constraints)
                vals = torch.cat([screen(chunk.unsqueeze(-2)) for chunk in pool.split(2048)])
                top = torch.topk(vals, k).indices
                self.last_info["screen_max"] = float(vals.max())
            else:
                top = torch.arange(len(pool))
            if self._bc is not None and known is not None:
                # the shortlist moves from library chips to exact best chips (same subnets, so
                # the same inputs; only the known latencies change)
                at = n_tr + n_pe + top.numpy()
                all_rows[at], _ = self._bc.refine(all_rows[at])
                known[at] = known_objectives(all_rows[at])
                objective = S.acquisition_objective(m, modelled, known, list(range(m)), shift=self._shift)
            if len(X_base) > 1:
                X_base = prune_inferior_points_multi_objective(model, X_base, ref, objective=objective,
                                                               constraints=constraints, num_samples=256)
            acq = qLogNoisyExpectedHypervolumeImprovement(
                model=model, ref_point=ref, X_baseline=X_base, sampler=sampler, objective=objective,
                constraints=constraints, X_pending=X_pend, prune_baseline=False)
            self.last_info["baseline"] = len(X_base)
            cand, vals_q = optimize_acqf_discrete(acq, q=min(q, k), choices=pool[top], max_batch_size=2048,
                                                  unique=True)
        self.last_info["acq_values"] = [round(float(v), 4) for v in vals_q.reshape(-1)]
        return S.lookup_ids(cand, N).numpy()
