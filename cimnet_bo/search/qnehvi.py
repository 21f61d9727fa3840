"""The default strategy, ``qnehvi``: batch Bayesian optimisation with qLogNEHVI over a
discrete candidate pool, on one of the surrogates of :mod:`cimnet_bo.search.surrogates`."""

from __future__ import annotations

from typing import Any

import numpy as np

from cimnet_bo.search.best_chips import BestChips, best_chips_for, unsupported
from cimnet_bo.search.failures import FailureModel
from cimnet_bo.search.pool import (
    OutputPlan,
    Predictors,
    build_pool,
    model_space_constraint,
    plan_outputs,
    predictor_score,
    training_targets,
)
from cimnet_bo.search.problem import Problem, ProblemError
from cimnet_bo.search.screen import SCREENS, OutcomeBound, ScreenInputs, shortlist
from cimnet_bo.search.state import RoundTimer, SearchState
from cimnet_bo.search.strategies import STRATEGIES, Strategy, check_fraction, check_int
from cimnet_bo.search.surrogates import SURROGATES, Surrogate, acquisition_objective, id_column, lookup_ids
from cimnet_bo.search.warm_start import GPStarts, WarmStart

#: Hardware modes of :class:`QNEHVI` (see its ``hardware`` parameter).
HARDWARE_MODES: tuple[str, ...] = ("auto", "best", "search")


@STRATEGIES.register("qnehvi")
class QNEHVI(Strategy):
    """Batch Bayesian optimisation with BoTorch's ``qLogNoisyExpectedHypervolumeImprovement``
    over a discrete candidate pool.

    Each round: fit the predictors (XGBoost per modelled output) on the data so far; build a
    pool (random configurations, mutations of the current Pareto set, NSGA-II on the
    predictors; for tabular problems, the unseen table rows); fit the surrogate; score the pool
    with qLogNEHVI (reference point 0 on the normalised scale, expensive constraints as
    outcome constraints, pending points as ``X_pending``; see ``shortlist``); pick ``q``
    greedily by sequential conditioning (``optimize_acqf_discrete``). Where evaluations
    failed, a GP of the failure indicator removes likely failures from the pool and is
    one more outcome constraint (:mod:`cimnet_bo.search.failures`).

    On a joint space where accuracy depends on the subnet alone and latency is the only
    hardware objective (the registered problems), every candidate is a subnet on its best chip
    under the problem's budgets (``hardware="best"``, :mod:`cimnet_bo.search.best_chips`): the
    pool and the surrogate live on subnets, the hardware is computed, not searched.

    Categorical choices (``Choice(..., categorical=True)``) are unordered for the search: the GP
    surrogates compare their values by equality, and NSGA-II on the predictors recombines and
    mutates them as labels (:func:`cimnet_bo.search.pool.nsga2_operators`).

    Parameters
    ----------
    hardware : {"auto", "best", "search"}
        ``"best"``: candidates are subnets on their best chips (an error where the problem does
        not allow it); ``"search"``: the hardware knobs are searched like the subnet's;
        ``"auto"`` (default): ``"best"`` where the problem allows it, else ``"search"``.
    surrogate : {"gp", "xgb-ensemble", "gp-xgb-mean"}
        A name in :data:`cimnet_bo.search.surrogates.SURROGATES` (see that module).
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
    screen : {"staged", "ehvi", "qlogehvi"}
        How the pool is screened (:mod:`cimnet_bo.search.screen`): each candidate alone, by its
        expected hypervolume improvement over the Pareto front of the posterior mean, in closed
        form (``"ehvi"``), with ``screen_samples`` quasi-MC samples (``"qlogehvi"``), or with
        samples on the closed form's best candidates (``"staged"``, the default).
    screen_samples : int
        Quasi-MC samples of the ``"qlogehvi"`` and ``"staged"`` screens.
    shortlist : int
        The ``shortlist`` best candidates of the screen go to qLogNEHVI (joint posterior with
        the observed points: exact but costly per candidate).
    ensemble_size : int
        Bootstrap members of ``xgb-ensemble``.
    cv_folds : int
        Folds of the out-of-fold XGBoost mean of ``gp-xgb-mean``.
    gp_fit_points, gp_maxiter : int
        GP hyper-parameters are fitted on at most ``gp_fit_points`` observations (random subset)
        with at most ``gp_maxiter`` L-BFGS-B steps; the GPs then condition on all observations.
    gp_warm_maxiter : int or None
        After a run's first GP fit, each round's fit starts from the hyper-parameters of the
        round before (kept in the run directory, so a resumed run fits as an uninterrupted one)
        with at most this many L-BFGS-B steps; each time the evaluations have grown by a quarter
        it also starts from the defaults with as many and keeps the better fit
        (:mod:`cimnet_bo.search.warm_start`). None: every fit starts from the defaults with
        ``gp_maxiter`` steps.
    xgb_params : dict, optional
        XGBoost parameters (predictors, ensemble members, GP means).
    failure_model : bool
        Learn where evaluations fail (:mod:`cimnet_bo.search.failures`), once a run has a
        failed evaluation.
    """

    _bc: BestChips | None = None
    _failure: FailureModel | None = None

    def __init__(
        self,
        surrogate: str = "gp",
        hardware: str = "auto",
        known_cheap: bool = True,
        pool_size: int = 20000,
        mutation_fraction: float = 0.15,
        evolution_fraction: float = 0.15,
        pop_size: int = 64,
        n_gen: int = 12,
        mc_samples: int = 64,
        screen: str = "staged",
        screen_samples: int = 8,
        shortlist: int = 128,
        ensemble_size: int = 10,
        cv_folds: int = 5,
        gp_fit_points: int = 128,
        gp_maxiter: int = 100,
        gp_warm_maxiter: int | None = 30,
        xgb_params: dict | None = None,
        failure_model: bool = True,
    ) -> None:
        self.surrogate = surrogate
        self.hardware = hardware
        self.known_cheap = known_cheap
        self.pool_size = pool_size
        self.mutation_fraction = mutation_fraction
        self.evolution_fraction = evolution_fraction
        self.pop_size = pop_size
        self.n_gen = n_gen
        self.mc_samples = mc_samples
        self.screen = screen
        self.screen_samples = screen_samples
        self.shortlist = shortlist
        self.ensemble_size = ensemble_size
        self.cv_folds = cv_folds
        self.gp_fit_points = gp_fit_points
        self.gp_maxiter = gp_maxiter
        self.gp_warm_maxiter = gp_warm_maxiter
        self.xgb_params = xgb_params
        self.failure_model = failure_model

    def check(self, problem: Problem | None) -> None:
        SURROGATES[self.surrogate]  # an unknown name raises UnknownNameError
        SCREENS[self.screen]
        if self.hardware not in HARDWARE_MODES:
            raise ProblemError(f"unknown hardware mode {self.hardware!r}; choose from {list(HARDWARE_MODES)}")
        if self.hardware == "best" and problem is not None:
            reason = unsupported(problem)
            if reason is not None:
                raise ProblemError(
                    f"hardware='best' cannot run on problem {problem.name!r}: {reason}; use hardware='search'"
                )
        if self.hardware == "best" and not self.known_cheap:
            raise ProblemError("hardware='best' takes latency from the roofline: it needs known_cheap=True")
        check_int("pool_size", self.pool_size, 1)
        check_int("pop_size", self.pop_size, 4)
        check_int("n_gen", self.n_gen, 0)
        check_int("mc_samples", self.mc_samples, 1)
        check_int("screen_samples", self.screen_samples, 1)
        check_int("shortlist", self.shortlist, 1)
        check_int("ensemble_size", self.ensemble_size, 2)
        check_int("cv_folds", self.cv_folds, 2)
        check_int("gp_fit_points", self.gp_fit_points, 8)
        check_int("gp_maxiter", self.gp_maxiter, 1)
        if self.gp_warm_maxiter is not None:
            check_int("gp_warm_maxiter", self.gp_warm_maxiter, 1)
        if not isinstance(self.failure_model, bool):
            raise ProblemError(f"failure_model must be true or false, got {self.failure_model!r}")
        check_fraction("mutation_fraction", self.mutation_fraction)
        check_fraction("evolution_fraction", self.evolution_fraction)
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

        timer = RoundTimer(state.caches.clock)
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
        timer.lap("predictors")
        if bc is None:
            pool, counts = build_pool(
                state,
                rng,
                self.pool_size,
                self.mutation_fraction,
                self.evolution_fraction,
                predictor_score(state, plan, preds.predict),
                self.pop_size,
                self.n_gen,
            )
        else:
            pool, counts = bc.pool(
                state,
                rng,
                self.pool_size,
                self.mutation_fraction,
                self.evolution_fraction,
                preds.predict,
                plan,
                self.pop_size,
                self.n_gen,
            )
        timer.lap("pool")
        info["pool"] = counts
        if not len(pool):
            return pool
        self._failure = self._fit_failure_model(state, seed)
        if self._failure is not None:
            keep = self._failure.prune(self._X(state, pool, np.zeros(len(pool)), 1), q)
            info["failure_removed"] = int((~keep).sum())
            pool = pool[keep]
            timer.lap("failure_model")
        pending = state.pending
        if len(pending):
            _, pok = state.caches.cheap.get(pending)
            pending = pending[pok]
        all_rows = np.vstack([rows_tr, pending, pool])
        n_tr, n_pe, N = len(rows_tr), len(pending), len(all_rows)
        X_tr = self._X(state, rows_tr, np.arange(n_tr), N)
        surrogate = self._make_surrogate(state).fit(preds, X_tr, T, all_rows, seed)
        if self._failure is not None:  # the failure indicator: the last modelled output
            surrogate.add_output(self._failure.gp_, self._X(state, all_rows, np.arange(N), N), seed + 2)
        timer.lap("surrogate")
        picks = self._select(state, plan, surrogate, all_rows, n_tr, n_pe, q, seed)
        timer.lap("acquisition")
        info["seconds"] = timer.seconds()
        info["n_train"] = n_tr
        info["pool_size"] = len(pool)
        return all_rows[picks]

    # ---------------------------------------------------------------------- surrogate
    def _columns(self, state: SearchState) -> np.ndarray:
        """Columns of the space's encoding the surrogate sees: all, or with best chips those of
        the designs (every modelled output depends on the subnet and the fixed knobs alone)."""
        return np.arange(state.problem.space.dim) if self._bc is None else self._bc.design_columns

    def _X(self, state: SearchState, rows: np.ndarray, ids: np.ndarray, n_rows: int) -> np.ndarray:
        enc = state.problem.space.encode_indices(rows.copy())[:, self._columns(state)]
        return np.column_stack([enc, id_column(ids, n_rows)])

    def _categorical(self, state: SearchState) -> list[int]:
        """Positions of the categorical columns among those the surrogate sees."""
        cat = set(state.problem.space.categorical_columns)
        return [i for i, j in enumerate(self._columns(state)) if j in cat]

    def _fit_failure_model(self, state: SearchState, seed: int) -> FailureModel | None:
        """The GP of the failure indicator of every evaluated row, when the run has failures
        (None otherwise, or with ``failure_model=False``)."""
        if not (self.failure_model and state.failed.any()):
            return None
        X = self._X(state, state.X, np.arange(state.n), state.n)
        warm = self._warm(state, "failure")
        model = FailureModel(self.gp_fit_points, self.gp_maxiter, self._categorical(state), warm)
        return model.fit(X, state.failed, seed + 3)

    def _make_surrogate(self, state: SearchState) -> Surrogate:
        return SURROGATES[self.surrogate](
            ensemble_size=self.ensemble_size,
            cv_folds=self.cv_folds,
            gp_fit_points=self.gp_fit_points,
            gp_maxiter=self.gp_maxiter,
            categorical=self._categorical(state),
            warm=self._warm(state, self.surrogate),
        )

    def _warm(self, state: SearchState, prefix: str) -> WarmStart | None:
        """This round's view of the run's stored GP hyper-parameters (None without warm starts)."""
        if self.gp_warm_maxiter is None:
            return None
        starts = state.caches.extra.get("gp_starts")
        if starts is None:
            starts = state.caches.extra["gp_starts"] = GPStarts(state.caches.directory)
        return WarmStart(starts, state.n, prefix, self.gp_warm_maxiter)

    # ---------------------------------------------------------------------- acquisition
    def _select(
        self,
        state: SearchState,
        plan: OutputPlan,
        surrogate: Surrogate,
        all_rows: np.ndarray,
        n_tr: int,
        n_pe: int,
        q: int,
        seed: int,
    ) -> np.ndarray:
        import warnings

        import torch
        from botorch.optim import optimize_acqf_discrete
        from botorch.utils.multi_objective.box_decompositions.non_dominated import FastNondominatedPartitioning
        from linear_operator.utils.warnings import NumericalWarning

        from cimnet_bo.search.fused_kernel import load_fused_kernel

        load_fused_kernel()  # BoTorch's kernel build, bounded in time (else its pure-Python path)
        p = state.problem
        m = len(p.objectives)
        N = len(all_rows)
        model = surrogate.model_
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
        objective = acquisition_objective(m, modelled, known, list(range(m)), shift=surrogate.shift_)
        constraints = []
        for c in p.constraints:
            if c.name in plan.modelled:  # an outcome constraint on the model's samples
                k = plan.modelled.index(c.name)
                sign, center = model_space_constraint(p, c)
                constraints.append(OutcomeBound(k, sign, center))
        if self._failure is not None:
            constraints.append(self._failure.constraint(len(plan.modelled)))
        outcome = constraints or None  # BoTorch's form: None without constraints
        # baseline: evaluated rows that meet the cheap constraints
        base = np.arange(n_tr)
        if any(p.is_cheap(c.name) for c in p.constraints):
            _, okb = state.cheap_filter_mask(all_rows[:n_tr])
            base = base[okb] if okb.any() else base
        X_base = X_all[base]
        X_pend = X_all[n_tr : n_tr + n_pe] if n_pe else None
        pool = X_all[n_tr + n_pe :]
        ref = torch.zeros(m, dtype=torch.float64)
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore", NumericalWarning)
            k = min(len(pool), max(self.shortlist, q))
            if len(pool) > k:
                # screen: qLogEHVI over the front of the posterior mean at the baseline (each
                # candidate alone, no joint posterior with the baseline: cheap)
                mean, _ = surrogate.marginals(X_base)
                Yb = objective(mean.unsqueeze(0), X=X_base)[0]
                if constraints:
                    feas = torch.stack([c(mean) <= 0 for c in constraints], dim=-1).all(dim=-1)
                    Yb = Yb[feas]
                part = FastNondominatedPartitioning(ref_point=ref, Y=Yb)
                inputs = ScreenInputs(
                    surrogate=surrogate,
                    pool=pool,
                    objective=objective,
                    constraints=constraints,
                    partitioning=part,
                    ref_point=ref,
                    samples=self.screen_samples,
                    seed=seed + 1,
                    keep=k,
                )
                with state.caches.clock.timed("screen"):
                    top = shortlist(inputs, self.screen)
            else:
                top = torch.arange(len(pool))
            if self._bc is not None and known is not None:
                # the shortlist moves from library chips to exact best chips (same subnets, so
                # the same inputs; only the known latencies change)
                at = n_tr + n_pe + top.numpy()
                all_rows[at], _ = self._bc.refine(all_rows[at])
                known[at] = known_objectives(all_rows[at])
                objective = acquisition_objective(m, modelled, known, list(range(m)), shift=surrogate.shift_)
            seen = [X_base, pool[top]] if X_pend is None else [X_base, X_pend, pool[top]]
            model = surrogate.acquisition_model(torch.cat(seen), N)
            if len(X_base) > 1:
                X_base = prune_baseline(model, X_base, ref, objective, outcome, num_samples=256)
            acq = log_nehvi(
                model=model,
                ref_point=ref,
                X_baseline=X_base,
                sampler=surrogate.sampler(self.mc_samples, seed),
                objective=objective,
                constraints=outcome,
                X_pending=X_pend,
                prune_baseline=False,
            )
            self.last_info["baseline"] = len(X_base)
            cand, vals_q = optimize_acqf_discrete(acq, q=min(q, k), choices=pool[top], max_batch_size=2048, unique=True)
        self.last_info["acq_values"] = [round(float(v), 4) for v in vals_q.reshape(-1)]
        return lookup_ids(cand, N).numpy()


def prune_baseline(
    model: Any, X: Any, ref_point: Any, objective: Any, constraints: list[OutcomeBound] | None, num_samples: int
) -> Any:
    """The rows of ``X`` that may be Pareto-optimal: BoTorch's
    ``prune_inferior_points_multi_objective``, with its samples and its result, and a sort per
    sample (:func:`cimnet_bo.moo.pareto.nondominated_min`) instead of its all-pairs test.

    Parameters
    ----------
    model : botorch.models.model.Model
    X : torch.Tensor (n x w)
        Model inputs of the baseline.
    ref_point : torch.Tensor (m,)
    objective : botorch.acquisition.multi_objective.objective.MCMultiOutputObjective
    constraints : list of OutcomeBound, optional
        Feasible where every one is <= 0.
    num_samples : int
        Posterior samples (drawn with BoTorch's default sampler, seeded from torch's generator).

    Returns
    -------
    torch.Tensor (n' x w)
        The rows, in their order, that are feasible, better than ``ref_point`` in every
        objective and non-dominated in at least one sample.
    """
    import torch
    from botorch.acquisition.multi_objective.utils import prune_inferior_points_multi_objective
    from botorch.sampling.get_sampler import get_sampler
    from botorch.utils.objective import compute_feasibility_indicator
    from botorch.utils.transforms import is_ensemble

    from cimnet_bo.moo.pareto import nondominated_min

    if is_ensemble(model):  # samples averaged over the members: BoTorch's own path
        return prune_inferior_points_multi_objective(
            model, X, ref_point, objective=objective, constraints=constraints, num_samples=num_samples
        )
    with torch.no_grad():
        posterior = model.posterior(X)
        samples = get_sampler(posterior=posterior, sample_shape=torch.Size([num_samples]))(posterior)
        Y = objective(samples, X=X)  # num_samples x n x m
        Y[~compute_feasibility_indicator(constraints=constraints, samples=samples)] = ref_point
    better = (Y > ref_point).all(dim=-1).numpy()
    optimal = np.stack([nondominated_min(-y) for y in Y.numpy()])
    return X[torch.as_tensor(np.flatnonzero((optimal & better).any(axis=0)))]


def log_nehvi(**kwargs: Any) -> Any:
    """BoTorch's ``qLogNoisyExpectedHypervolumeImprovement(**kwargs)``, with a shorter forward
    for one candidate per batch (greedy selection with cached pending points asks for nothing
    else).

    For one candidate the inclusion-exclusion over subsets has a single positive term, so
    BoTorch's steps 6 to 8 (a log-sum over one subset, adding it to an empty even term, and
    subtracting that) return their input; the value is
    ``logmeanexp_samples(logsumexp_cells(log_area + log_feasibility))``, with the log areas from
    BoTorch's fused kernel. Where that kernel is not loaded, or for several candidates per
    batch, BoTorch's own computation runs.
    """
    from botorch.acquisition.multi_objective import logei
    from botorch.utils.objective import compute_smoothed_feasibility_indicator
    from botorch.utils.safe_math import logmeanexp, logsumexp

    class SingleCandidateLogNEHVI(logei.qLogNoisyExpectedHypervolumeImprovement):
        def _compute_log_qehvi(self, samples: Any, X: Any = None) -> Any:
            fused = getattr(logei, "_FusedLogAreas", None)
            if (
                samples.shape[-2] != 1
                or fused is None
                or getattr(logei, "_C", None) is None
                or not self.fat
                or samples.device.type != "cpu"
            ):
                return super()._compute_log_qehvi(samples=samples, X=X)
            obj = self.objective(samples, X=X)  # mc_samples x batch x 1 x m
            lower, upper = self.cell_lower_bounds, self.cell_upper_bounds  # mc_samples x cells x m
            batch = obj.shape[:-2]
            t_batch = len(batch) - (lower.ndim - 2)
            if lower.ndim > 2 and t_batch > 0:  # one set of cells per sample, shared by the batch
                view = (lower.shape[0], *[1] * t_batch, *lower.shape[1:])
                lower = lower.view(view).expand(*batch, *lower.shape[-2:])
                upper = upper.view(view).expand(*batch, *upper.shape[-2:])
            log_areas = fused.apply(obj.unsqueeze(-2), lower, upper, self.tau_relu, self.tau_max)[..., 0]
            if self.constraints is not None:
                log_areas = log_areas + compute_smoothed_feasibility_indicator(
                    constraints=self.constraints, samples=samples, eta=self.eta, log=True, fat=self.fat
                )
            return logmeanexp(logsumexp(log_areas, dim=-1), dim=0)

    return SingleCandidateLogNEHVI(**kwargs)
