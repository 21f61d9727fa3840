"""Runs: one directory per search, resumable, the store being the single source of truth.

A run directory holds

* ``config.yaml``: the resolved configuration (problem, strategy and all its options,
  budget, batch size, initial design, seed) and the problem's description, checked when the
  run is opened again;
* ``store.sqlite``: the run's :class:`~cimnet_bo.store.RunStore`. Every evaluation is committed
  as it completes, under its candidate number (``idx``); the proposals of the current round
  are kept in the store's metadata (``pending``) until evaluated.

Killed at any moment, a run loses no committed evaluation and repeats none: opening it again
evaluates the pending candidates that are not recorded yet, then continues. Proposals are a
function of the stored evaluations and of a generator seeded with ``(seed, candidate number)``,
so a resumed run makes the same proposals as one that was never interrupted, and two runs with
the same seed give the same results.

Ask/tell: :func:`propose` records its proposals as pending; :func:`tell` stores their results
(checking that each row was proposed, is not told already and has every objective).
"""

from __future__ import annotations

import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from cimnet_bo.search.problem import Problem, ProblemError
from cimnet_bo.search.state import Caches, SearchState, row_keys
from cimnet_bo.search.strategies import Strategy, make_strategy

CONFIG_FILE = "config.yaml"
STORE_FILE = "store.sqlite"
CONFIG_VERSION = 1
#: Config keys that may change when a run is opened again (a larger budget continues a run).
MUTABLE_KEYS = ("budget",)


# ============================================================================ problems from specs
def problem_from_spec(spec: Mapping[str, Any]) -> Problem:
    """A problem from its YAML/CLI description.

    Keys: ``space`` (a registered joint space, or a space YAML file), ``mode``, ``objectives``
    (names, or ``[name, direction]`` pairs for user evaluators), ``energy``, ``area_budget``,
    ``power_budget``,
    ``accuracy`` (``supernet``, ``external`` or ``MODULE:FUNCTION``), ``checkpoint``,
    ``hardware`` / ``subnet`` (frozen side), ``table`` (a labeled dataset: tabular problem),
    ``evaluator`` (``MODULE:FUNCTION`` returning a dict of outputs, for user spaces),
    ``constraints`` (strings such as ``"area_mm2 <= 1.0"``), ``ref_point``, ``ideal_point``.
    """
    spec = dict(spec)
    known = {"space", "mode", "objectives", "energy", "area_budget", "power_budget", "accuracy", "checkpoint", "hardware",
             "subnet", "table", "evaluator", "constraints", "ref_point", "ideal_point", "log"}
    unknown = sorted(set(spec) - known)
    if unknown:
        raise ProblemError(f"unknown problem keys {unknown}; known: {sorted(known)}")
    if "space" not in spec:
        raise ProblemError("the problem needs a 'space'")
    from cimnet_bo.space import list_spaces

    space = spec["space"]
    if spec.get("evaluator") or space not in list_spaces():
        return _user_problem(spec)
    kw: dict[str, Any] = {k: spec[k] for k in ("mode", "energy", "area_budget", "power_budget", "accuracy",
                                               "checkpoint",
                                               "hardware", "subnet", "ref_point", "ideal_point") if k in spec}
    if spec.get("objectives") is not None:
        kw["objectives"] = [o if isinstance(o, str) else o[0] for o in spec["objectives"]]
    if spec.get("constraints"):
        raise ProblemError("registered problems take area_budget and power_budget; 'constraints' is for "
                           "user problems")
    if spec.get("table"):
        kw = {k: v for k, v in kw.items() if k not in ("accuracy", "checkpoint")}
        return table_problem(space, spec["table"], **kw)
    return Problem.from_space(space, **kw)


def table_problem(space: str, table: str | Path, **kwargs: Any) -> Problem:
    """A tabular problem over a labeled dataset of a registered space: accuracy looked up in
    the table (modelled), latency/energy/area looked up too but declared cheap (known
    functions and exact constraints, like the roofline), proposals restricted to the table.
    ``kwargs`` go to :meth:`Problem.from_space`."""
    from cimnet_bo.evaluate import CompositeEvaluator, Objective, TableEvaluator
    from cimnet_bo.evaluate.evaluators import ROOFLINE_OBJECTIVES
    from cimnet_bo.space import get_space
    from cimnet_bo.store import read_dataset

    full = get_space(space)
    ds = read_dataset(table, full).ok()
    cols = set(ds.frame.columns)
    parts = []
    if "accuracy" in cols:
        acc = TableEvaluator(full, ds.frame[list(full.names) + ["accuracy"]],
                             objectives=[Objective("accuracy", "max")], name=f"table:{Path(table).name}:accuracy")
        acc.subnet_only = True  # accuracy is a property of the subnet (its predictors see no hardware)
        parts.append(acc)
    hw = [c for c in ROOFLINE_OBJECTIVES if c in cols]
    if hw:
        parts.append(TableEvaluator(full, ds.frame[list(full.names) + hw],
                                    objectives=[Objective(c, "max" if c == "feasible" else "min", cheap=True)
                                                for c in hw],
                                    name=f"table:{Path(table).name}:roofline"))
    if not parts:
        raise ProblemError(f"{table} has none of the columns accuracy, {', '.join(ROOFLINE_OBJECTIVES)}")
    evaluator = parts[0] if len(parts) == 1 else CompositeEvaluator(parts)
    kwargs = {**kwargs, "area_budget": kwargs.get("area_budget", "baseline"),
              "power_budget": kwargs.get("power_budget", "baseline")}
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
    return Problem(p0.space, evaluator, p0.objectives, p0.constraints, p0.ref_point, p0.ideal_point, p0.log,
                   candidates=cands, name=f"{space}:table", spec=spec)


def _user_problem(spec: Mapping[str, Any]) -> Problem:
    import importlib

    from cimnet_bo.evaluate import CallableEvaluator
    from cimnet_bo.space import Space

    path = Path(str(spec["space"]))
    if not path.exists():
        from cimnet_bo.space import list_spaces

        raise ProblemError(f"space {spec['space']!r} is neither a registered space {list_spaces()} nor a file")
    space = Space.from_yaml(path)
    ev = spec.get("evaluator")
    if not ev or ":" not in str(ev):
        raise ProblemError("a user space needs 'evaluator: MODULE:FUNCTION' (config -> dict of outputs)")
    mod, fn = str(ev).split(":", 1)
    try:
        func = getattr(importlib.import_module(mod), fn)
    except (ImportError, AttributeError) as e:
        raise ProblemError(f"evaluator {ev!r} not found: {e}") from None
    objs = spec.get("objectives")
    if not objs or any(isinstance(o, str) for o in objs):
        raise ProblemError("a user problem needs objectives as [name, direction] pairs")
    outputs = [tuple(o) for o in objs]
    for c in spec.get("constraints") or []:
        from cimnet_bo.search.problem import Constraint

        name = Constraint.parse(c).name
        if name not in [o[0] for o in outputs]:
            outputs.append((name, "min"))
    evaluator = CallableEvaluator(func, outputs, space=space, name=f"callable:{ev}")
    return Problem(space, evaluator, [o[0] for o in objs], spec.get("constraints") or (), spec.get("ref_point"),
                   spec.get("ideal_point"), spec.get("log"), spec=dict(spec))


def as_problem(problem: Problem | str | Mapping[str, Any]) -> Problem:
    """A :class:`Problem` from itself, a registered space name or a spec mapping."""
    if isinstance(problem, Problem):
        return problem
    if isinstance(problem, str):
        return Problem.from_space(problem)
    if isinstance(problem, Mapping):
        return problem_from_spec(problem)
    raise ProblemError(f"cannot make a problem from {type(problem).__name__}")


# ============================================================================ configuration
def default_n_init(batch_size: int) -> int:
    """Initial random design when not given: two batches, at least 4."""
    return max(4, 2 * batch_size)


def resolve_config(problem: Problem, strategy: Strategy, budget: int, batch_size: int, seed: int,
                   n_init: int | None, initial: Sequence[Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """The run configuration, checked (every invalid option is a :class:`ProblemError`).

    ``initial`` (configurations of the space, e.g. a known baseline design) opens the initial
    design, before its random part; it is stored (canonical, duplicates dropped) only when given.
    """
    for name, v, low in (("budget", budget, 1), ("batch_size", batch_size, 1)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < low:
            raise ProblemError(f"{name} must be an integer >= {low}, got {v!r}")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ProblemError(f"seed must be a non-negative integer, got {seed!r}")
    n_init = default_n_init(batch_size) if n_init is None else n_init
    if not isinstance(n_init, (int, np.integer)) or isinstance(n_init, bool) or n_init < 1:
        raise ProblemError(f"n_init must be an integer >= 1, got {n_init!r}")
    if budget < n_init:
        raise ProblemError(f"budget {budget} is smaller than the initial design (n_init={n_init}): "
                           "raise the budget or lower n_init")
    strategy.check(problem)
    initial_cfgs = _initial_configs(problem, initial)
    if len(initial_cfgs) > n_init:
        raise ProblemError(f"{len(initial_cfgs)} initial configurations do not fit in the initial design "
                           f"(n_init={n_init}): raise n_init or give fewer")
    return {
        "version": CONFIG_VERSION,
        "problem": problem.spec if problem.spec is not None else {"python": problem.name},
        "problem_description": problem.describe(),
        "strategy": strategy.name,
        "strategy_options": _plain(strategy.get_params()),
        "budget": int(budget), "batch_size": int(batch_size), "n_init": int(n_init), "seed": int(seed),
        **({"initial": initial_cfgs} if initial_cfgs else {}),
    }


def _initial_configs(problem: Problem, initial: Sequence[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    """Canonical, de-duplicated initial configurations (a :class:`ProblemError` names a bad one)."""
    out: list[dict[str, Any]] = []
    for i, cfg in enumerate(initial or ()):
        if not isinstance(cfg, Mapping):
            raise ProblemError(f"initial configuration {i} is not a mapping of choices: {cfg!r}")
        try:
            c = _plain(problem.space.validate(cfg))
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


def _plain(v: Any) -> Any:
    if isinstance(v, Mapping):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    return v


def _diff(a: Mapping[str, Any], b: Mapping[str, Any], prefix: str = "") -> list[str]:
    out = []
    for k in sorted(set(a) | set(b)):
        if prefix == "" and k in MUTABLE_KEYS:
            continue
        if prefix == "" and k == "strategy_options" and a.get("strategy") != b.get("strategy"):
            continue  # a different strategy: its options differ anyway
        va, vb = a.get(k), b.get(k)
        if isinstance(va, Mapping) and isinstance(vb, Mapping):
            out += _diff(va, vb, f"{prefix}{k}.")
        elif va != vb and not (isinstance(va, float) and isinstance(vb, float) and math.isclose(va, vb)):
            out.append(f"{prefix}{k}: {va!r} (stored) vs {vb!r} (now)")
    return out


def _with_pending(state: SearchState, rows: np.ndarray) -> SearchState:
    """``state`` with ``rows`` (k x d) added to its pending candidates (``state`` when k = 0)."""
    if not len(rows):
        return state
    return SearchState(state.problem, state.X, state.values, state.failed, np.vstack([state.pending, rows]),
                       state.caches, state.candidates, state.seed)


# ============================================================================ the run
class Run:
    """A search run: its directory, configuration, problem, strategy and store.

    Create or resume one with :meth:`open`; use as a context manager (or :meth:`close`).

    Attributes
    ----------
    path : Path
    config : dict
        The resolved configuration (``config.yaml``).
    problem : Problem
    strategy : Strategy
    store : RunStore
    """

    def __init__(self, path: Path, config: dict[str, Any], problem: Problem, strategy: Strategy, store: Any) -> None:
        self.path = path
        self.config = config
        self.problem = problem
        self.strategy = strategy
        self.store = store
        self.caches = Caches.for_problem(problem)
        self._primed = False

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, path: str | Path, problem: Problem | str | Mapping[str, Any] | None = None,
             strategy: str | Strategy | None = None, budget: int | None = None, batch_size: int | None = None,
             seed: int | None = None, n_init: int | None = None,
             strategy_options: Mapping[str, Any] | None = None,
             initial: Sequence[Mapping[str, Any]] | None = None) -> "Run":
        """Open the run in ``path``, creating it when it has no config yet.

        Arguments left as None are taken from the stored config (an existing run) or the
        defaults (``strategy="qnehvi"``, ``batch_size=8``, ``seed=0``; ``budget`` and
        ``problem`` are required for a new run). For an existing run every given option must
        match the stored one, except ``budget`` (a larger budget continues the run).

        Raises
        ------
        ProblemError
            Invalid options, or options that differ from the stored run.
        """
        import yaml

        path = Path(path)
        cfg_path = path / CONFIG_FILE
        stored = yaml.safe_load(cfg_path.read_text()) if cfg_path.exists() else None
        if stored is not None and stored.get("version") != CONFIG_VERSION:
            raise ProblemError(f"{cfg_path}: config version {stored.get('version')} is not {CONFIG_VERSION}")
        s = stored or {}
        if isinstance(strategy, Strategy):
            strat = make_strategy(strategy)
        else:
            name = strategy if strategy is not None else s.get("strategy", "qnehvi")
            opts = dict(s.get("strategy_options", {})) if stored and name == s.get("strategy") else {}
            opts.update(strategy_options or {})
            strat = make_strategy(name, **opts)
        if problem is None:
            if stored is None:
                raise ProblemError(f"{path} holds no run ({CONFIG_FILE} missing): give the problem to create one")
            if "python" in stored["problem"]:
                raise ProblemError(f"the problem of {path} was defined in Python ({stored['problem']['python']!r}): "
                                   "pass it again (problem=...) to open the run")
            problem = problem_from_spec(stored["problem"])
        problem = as_problem(problem)
        if budget is None:
            if stored is None:
                raise ProblemError("a new run needs a budget (number of evaluations)")
            budget = s["budget"]
        config = resolve_config(problem, strat, budget,
                                batch_size if batch_size is not None else s.get("batch_size", 8),
                                seed if seed is not None else s.get("seed", 0),
                                n_init if n_init is not None else s.get("n_init"),
                                initial if initial is not None else s.get("initial"))
        if stored is not None:
            diffs = _diff(stored, config)
            if diffs:
                raise ProblemError(f"{path} is a run with a different configuration; use another directory or the "
                                   "same options. Differences: " + "; ".join(diffs))
        from cimnet_bo.store import RunStore

        ev = problem.evaluator
        objectives = list(problem.objectives)
        if ev is not None:
            objectives += [o for o in ev.objectives if o.name not in problem.objective_names]
        path.mkdir(parents=True, exist_ok=True)
        store = RunStore(path / STORE_FILE, problem.space, [o.to_dict() for o in objectives])
        if stored is None or stored != config:
            tmp = cfg_path.with_name(f".{CONFIG_FILE}.tmp")
            tmp.write_text(yaml.safe_dump(config, sort_keys=False))
            tmp.replace(cfg_path)
        return cls(path, config, problem, strat, store)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> "Run":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"Run({str(self.path)!r}, {self.config['strategy']}, {self.n_done}/{self.config['budget']} "
                f"evaluations)")

    # ------------------------------------------------------------------ bookkeeping
    @property
    def seed(self) -> int:
        return int(self.config["seed"])

    @property
    def budget(self) -> int:
        return int(self.config["budget"])

    @property
    def n_done(self) -> int:
        return len(self.store)

    def rows(self) -> list[dict[str, Any]]:
        """Stored evaluations in candidate order."""
        return sorted(self.store.rows(), key=lambda r: (r["idx"] is None, r["idx"] or 0, r["id"]))

    def pending(self) -> list[dict[str, Any]]:
        """Proposed candidates not evaluated yet: ``{idx, config, tag, by}`` each."""
        done = self.store.done()
        return [p for p in self.store.meta.get("pending", []) if p["idx"] not in done]

    def _set_pending(self, pending: Sequence[Mapping[str, Any]]) -> None:
        self.store.set_meta("pending", [dict(p) for p in pending])

    def _next_idx(self) -> int:
        idx = list(self.store.done()) + [p["idx"] for p in self.store.meta.get("pending", [])]
        return max(idx) + 1 if idx else 0

    def _next_round(self) -> int:
        tags = [r["tag"] for r in self.store.rows()] + [p["tag"] for p in self.pending()]
        nums = [int(t.split("-", 1)[1]) for t in tags if isinstance(t, str) and t.startswith("round-")]
        return max(nums) + 1 if nums else 1

    def state(self) -> SearchState:
        """What the strategy sees now (evaluations and pending proposals)."""
        return SearchState.from_rows(self.problem, self.rows(), [p["config"] for p in self.pending()], self.caches,
                                     seed=self.seed)

    # ------------------------------------------------------------------ proposing
    def propose(self, q: int, by: str = "run") -> list[dict[str, Any]]:
        """Propose up to ``q`` new candidates and record them as pending.

        The first ``n_init`` candidates of a run are its initial design (the run's ``initial``
        configurations first, then random ones); the rest come from the strategy.

        Returns
        -------
        list of dict
            ``{idx, config, tag, by}`` per proposal (fewer than ``q`` only when the space is
            exhausted).
        """
        if not isinstance(q, (int, np.integer)) or isinstance(q, bool) or q < 1:
            raise ProblemError(f"q must be an integer >= 1, got {q!r}")
        import torch

        state = self.state()
        start = self._next_idx()
        rng = np.random.default_rng([self.seed, start])
        torch.manual_seed(self.seed * 1_000_003 + start)
        n_seen = state.n + len(state.pending)
        n_design = int(min(q, max(0, self.config["n_init"] - n_seen)))
        rows = self.problem.space.to_indices(self.config.get("initial", [])[n_seen: n_seen + n_design])
        if n_design > len(rows):
            state = _with_pending(state, rows)
            rows = np.vstack([rows, self.strategy.initial(state, n_design - len(rows), rng)])
        tags = ["init"] * len(rows)
        if q - n_design > 0:
            state = _with_pending(state, rows)
            more = self.strategy.propose(state, q - n_design, rng)
            rows = np.vstack([rows, more])
            tags += [f"round-{self._next_round()}"] * len(more)
        configs = self.problem.space.from_indices(rows)
        new = [{"idx": start + i, "config": c, "tag": t, "by": by} for i, (c, t) in enumerate(zip(configs, tags))]
        self._set_pending(self.pending() + new)
        return new

    # ------------------------------------------------------------------ evaluating
    def _prime(self) -> None:
        from cimnet_bo.evaluate import CompositeEvaluator, SubnetCachedEvaluator

        if self._primed or self.problem.evaluator is None:
            return
        ev = self.problem.evaluator
        parts = ev.parts if isinstance(ev, CompositeEvaluator) else [ev]
        rows = [r for r in self.store.rows() if r["error"] is None]
        for p in parts:
            if isinstance(p, SubnetCachedEvaluator) and rows:
                vals = np.array([[r["objectives"].get(k, np.nan) for k in p.names] for r in rows], dtype=np.float64)
                p.prime([r["config"] for r in rows], vals)
        self._primed = True

    def evaluate_pending(self, executor: Any = None, only: Iterable[int] | None = None) -> int:
        """Evaluate pending candidates with the problem's evaluator, committing each as it
        completes; returns how many were evaluated."""
        from cimnet_bo.evaluate import Executor, get_executor

        only_set = None if only is None else set(only)
        todo = [p for p in self.pending() if only_set is None or p["idx"] in only_set]
        if not todo:
            return 0
        if not self.problem.can_evaluate:
            raise ProblemError("this run's problem has outputs that come from outside: tell the pending results")
        self._prime()
        ev = self.problem.evaluator
        identity = ev.identity
        ex = get_executor(executor)
        try:
            for b, res in ex.run(ev, ([p["config"]] for p in todo)):
                p = todo[b]
                self.store.record(p["config"], res.objectives_of(0), evaluator=identity, error=res.errors[0],
                                  idx=p["idx"], seed=self.seed, extra=res.extras_of(0), tag=p["tag"])
        finally:
            if not isinstance(executor, Executor):
                ex.close()
        self._set_pending(self.pending())
        return len(todo)

    # ------------------------------------------------------------------ results
    def history(self, include_failed: bool = True) -> Any:
        """The evaluations as a DataFrame (one column per choice and output, in candidate order)."""
        return self.store.to_frame(include_failed=include_failed)

    def objective_matrix(self) -> tuple[np.ndarray, np.ndarray]:
        """``(Y (n x m) objectives in their units, feasible (n,))`` in candidate order."""
        st = self.state()
        return st.objective_values(), st.feasible()

    def hypervolume(self) -> float:
        """Normalised hypervolume of the feasible evaluations (see :mod:`cimnet_bo.search.problem`)."""
        return self.state().hypervolume()

    def hypervolume_curve(self) -> np.ndarray:
        """Normalised hypervolume after each evaluation (candidate order), array (n,)."""
        from cimnet_bo.search.problem import hypervolume_u

        st = self.state()
        U, ok = st.normalized(), st.feasible()
        out = np.zeros(st.n)
        front = np.empty((0, U.shape[1]))
        hv = 0.0
        for i in range(st.n):
            if ok[i] and np.all(U[i] > 0) and not np.any(np.all(front >= U[i], axis=1)):
                front = np.vstack([front[~np.all(U[i] >= front, axis=1)], U[i]])
                hv = hypervolume_u(front)
            out[i] = hv
        return out

    def best(self) -> dict[str, float]:
        """Best feasible value of each objective."""
        st = self.state()
        ok = st.feasible()
        Y = st.objective_values()[ok]
        out = {}
        for j, o in enumerate(self.problem.objectives):
            if len(Y):
                out[o.name] = float(Y[:, j].max() if o.direction == "max" else Y[:, j].min())
        return out

    def pareto(self) -> Any:
        """The feasible Pareto-optimal evaluations as a DataFrame."""
        from cimnet_bo.search.state import pareto_mask_max

        st = self.state()
        ok = st.feasible()
        frame = self.history(include_failed=True).reset_index(drop=True)
        mask = np.zeros(st.n, dtype=bool)
        if ok.any():
            mask[np.flatnonzero(ok)[pareto_mask_max(st.normalized()[ok])]] = True
        first = self.problem.objectives[0]
        return frame[mask].sort_values(first.name, ascending=first.direction == "min").reset_index(drop=True)


# ============================================================================ the runner
def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def progress_line(run: Run, round_no: int, seconds: float) -> str:
    """``round | evaluations | hypervolume | best per objective | time``."""
    st = run.state()
    best = run.best()
    parts = " ".join(f"{k}={v:.4g}" for k, v in best.items()) or "no feasible point yet"
    failed = int(st.failed.sum())
    fail = f" ({failed} failed)" if failed else ""
    return (f"[{run.config['strategy']}] round {round_no:3d} | evals {run.n_done:4d}/{run.budget}{fail} | "
            f"hv {st.hypervolume():.4f} | best {parts} | {seconds:.1f}s")


def run_search(problem: Problem | str | Mapping[str, Any], strategy: str | Strategy = "qnehvi", budget: int = 100,
               batch_size: int = 8, seed: int = 0, run_dir: str | Path | None = None, n_init: int | None = None,
               strategy_options: Mapping[str, Any] | None = None, executor: Any = None,
               progress: bool | Callable[[str], None] = True,
               initial: Sequence[Mapping[str, Any]] | None = None) -> Run:
    """Run (or resume) a search until ``budget`` evaluations are stored.

    Pending proposals found in the run (an interrupted round, or proposals made with
    :func:`propose`) are evaluated first.

    Parameters
    ----------
    problem : Problem, str or dict
        A problem, a registered space name (its default problem) or a spec (see
        :func:`problem_from_spec`).
    strategy : str or Strategy
        ``qnehvi`` (default), ``random``, ``nsga2``, ``linas`` (see
        :data:`cimnet_bo.search.STRATEGIES`).
    budget : int
        Evaluations in total, the initial design included.
    batch_size : int
        Candidates proposed per round.
    seed : int
    run_dir : path, optional
        The run directory; an existing run there is resumed (its options must match, the
        budget may grow). Default: a new temporary directory.
    n_init : int, optional
        Initial design (default :func:`default_n_init`); the first round.
    strategy_options : dict, optional
        Options of the strategy (e.g. ``{"surrogate": "xgb-ensemble"}``).
    executor : Executor, int or str, optional
        Where evaluations run (see :func:`cimnet_bo.evaluate.get_executor`).
    progress : bool or callable
        Print one line per round to stderr (or pass each line to the callable).
    initial : sequence of dict, optional
        Configurations that open the initial design (a known design, such as the baseline
        chip with the largest subnet); the rest of it is random. At most ``n_init``.

    Returns
    -------
    Run
        The (open) run; close it when done (or use it as a context manager).
    """
    problem = as_problem(problem)
    if not problem.can_evaluate:
        raise ProblemError(f"problem {problem.name!r} has outputs that come from outside (accuracy 'external'?): "
                           "use propose / tell")
    if run_dir is None:
        run_dir = tempfile.mkdtemp(prefix="cimnet-bo-search-")
    from cimnet_bo.evaluate import Executor, get_executor

    run = Run.open(run_dir, problem, strategy, budget, batch_size, seed, n_init, strategy_options, initial)
    log = progress if callable(progress) else (_stderr if progress else None)
    own_executor = not isinstance(executor, Executor)
    executor = get_executor(executor)
    try:
        t0 = time.perf_counter()
        if run.pending():
            n = run.evaluate_pending(executor)
            if log:
                log(f"[{run.config['strategy']}] resumed {run.path}: evaluated {n} pending candidate(s)")
        while run.n_done < run.budget:
            t0 = time.perf_counter()
            n_init_left = run.config["n_init"] - run.n_done
            q = n_init_left if n_init_left > 0 else run.config["batch_size"]
            q = min(q, run.budget - run.n_done)
            round_no = run._next_round() if n_init_left <= 0 else 0
            new = run.propose(q, by="run")
            if not new:
                if log:
                    log(f"[{run.config['strategy']}] no fresh candidate left: the space is exhausted")
                break
            run.evaluate_pending(executor, only=[p["idx"] for p in new])
            if log:
                log(progress_line(run, round_no, time.perf_counter() - t0))
    except BaseException:
        run.close()
        raise
    finally:
        if own_executor:
            executor.close()
    return run


# ============================================================================ ask / tell
def _as_run(run: Run | str | Path) -> Run:
    return run if isinstance(run, Run) else Run.open(run)


def propose(run: Run | str | Path, q: int) -> list[dict[str, Any]]:
    """Propose ``q`` candidates for evaluation elsewhere and record them as pending.

    Returns
    -------
    list of dict
        ``{"idx": candidate number, **config}`` per candidate; give the ``idx`` back to
        :func:`tell` with the results.
    """
    r = _as_run(run)
    try:
        return [{"idx": p["idx"], **p["config"]} for p in r.propose(q, by="ask")]
    finally:
        if r is not run:
            r.close()


def read_frame(path: str | Path, what: str = "table") -> pd.DataFrame:
    """A ``.parquet`` or CSV file as a DataFrame (``FileNotFoundError`` naming ``what``)."""
    import pandas as pd

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{what} file {p} not found")
    return pd.read_parquet(p) if p.suffix.lower() == ".parquet" else pd.read_csv(p)


def tell(run: Run | str | Path, results: Any, evaluator: str = "external") -> dict[str, Any]:
    """Store the results of proposed candidates.

    Parameters
    ----------
    run : Run or path
    results : DataFrame, list of dict, or path (``.csv`` / ``.parquet``)
        One row per candidate: ``idx`` (from :func:`propose`), a value per objective and per
        constrained output of the problem (cheap ones that are missing are computed here), and
        optionally ``error`` (failure text: then values may be missing) and the configuration's
        choices (checked against the proposal).
    evaluator : str
        Identity stored with the values.

    Returns
    -------
    dict
        ``told`` (number stored), ``pending`` (still waiting), ``evaluations`` (total).

    Raises
    ------
    ValueError
        Nothing is stored when any row was never proposed, was already told, repeats another
        row, has a configuration different from its proposal, or lacks an objective.
    """
    import pandas as pd

    r = _as_run(run)
    try:
        if isinstance(results, (str, Path)):
            frame = read_frame(results, "results")
        elif isinstance(results, pd.DataFrame):
            frame = results.copy()
        else:
            frame = pd.DataFrame(list(results))
        if "idx" not in frame.columns:
            raise ValueError("results need an 'idx' column: the candidate numbers that propose gave")
        problem = r.problem
        space = problem.space
        pending = {p["idx"]: p for p in r.pending()}
        done = r.store.done()
        errors: list[str] = []
        idxs = []
        for v in frame["idx"].tolist():
            try:
                fv = float(v)
                if not fv.is_integer():
                    raise ValueError
                idxs.append(int(fv))
            except (TypeError, ValueError):
                idxs.append(None)
                errors.append(f"idx {v!r} is not a candidate number")
        counts = pd.Series([i for i in idxs if i is not None]).value_counts()
        for i, c in counts.items():
            if c > 1:
                errors.append(f"idx {i} appears {c} times")
        never = sorted(i for i in set(idxs) if i is not None and i not in pending and i not in done)
        told = sorted(i for i in set(idxs) if i is not None and i in done)
        if never:
            errors.append(f"rows never proposed (no pending candidate with idx {never})")
        if told:
            errors.append(f"rows already told (idx {told} are stored)")
        err_col = frame["error"] if "error" in frame.columns else pd.Series([None] * len(frame), index=frame.index)
        cheap_ev = problem.cheap_evaluator
        cheap_names = set(problem.cheap_outputs)
        choice_cols = [n for n in space.names if n in frame.columns]
        records = []
        missing_by_name: dict[str, list[int]] = {}
        for (_, row), i, err in zip(frame.iterrows(), idxs, err_col.tolist()):
            if i is None or i not in pending:
                continue
            cfg = pending[i]["config"]
            if choice_cols:
                given = {n: row[n] for n in choice_cols}
                try:
                    same = all(space[n].index(_py(given[n])) == space[n].index(cfg[n]) for n in choice_cols)
                except ValueError:
                    same = False
                if not same:
                    errors.append(f"idx {i}: the configuration differs from the proposal")
                    continue
            failed = isinstance(err, str) and err.strip() != ""
            vals = {}
            for name in problem.outputs:
                v = row[name] if name in frame.columns else None
                v = None if v is None or (isinstance(v, float) and math.isnan(v)) else v
                if v is not None:
                    try:
                        vals[name] = float(v)
                    except (TypeError, ValueError):
                        errors.append(f"idx {i}: {name}={v!r} is not a number")
                elif not failed and not (name in cheap_names and cheap_ev is not None):
                    missing_by_name.setdefault(name, []).append(i)
            records.append((i, cfg, vals, err if failed else None))
        for name, ids in missing_by_name.items():
            errors.append(f"missing objective {name!r} for idx {sorted(ids)}")
        if errors:
            raise ValueError("nothing was stored: " + "; ".join(errors))
        for i, cfg, vals, err in records:
            extra: dict[str, Any] = {}
            need = [n for n in problem.cheap_outputs if n not in vals]
            if need and err is None:
                res = cheap_ev.evaluate([cfg])
                for n in need:
                    vals[n] = float(res.column(n)[0])
                extra = res.extras_of(0)
                if res.errors[0] is not None:
                    err = f"cheap outputs failed: {res.errors[0]}"
            r.store.record(cfg, vals, evaluator=evaluator, error=err, idx=i, seed=r.seed, extra=extra,
                           tag=pending[i]["tag"])
        r._set_pending(r.pending())
        return {"told": len(records), "pending": len(r.pending()), "evaluations": r.n_done}
    finally:
        if r is not run:
            r.close()


def _py(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v
