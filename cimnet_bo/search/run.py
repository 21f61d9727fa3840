"""Runs: one directory per search, resumable, the store being the single source of truth.

A run directory holds

* ``config.yaml``: the resolved configuration (problem, strategy and all its options,
  budget, batch size, initial design, seed) and the problem's description, checked when the
  run is opened again (:mod:`cimnet_bo.search.config`);
* ``store.sqlite``: the run's :class:`~cimnet_bo.store.RunStore`. Every evaluation is committed
  as it completes, under its candidate number (``idx``); the proposals of the current round
  are kept in the store's metadata (``pending``) until evaluated, and so is a copy of the
  configuration (``run_config``): a deleted or emptied ``config.yaml`` is restored from it, an
  edited one is refused;
* ``store.sqlite.lock``: one process writes a run at a time (:class:`~cimnet_bo.store.WriterLock`).

A problem without a reference point gets one inferred from the run's initial design, recorded
in the store's metadata (``inferred_ref_point``) and used from then on (see
:mod:`cimnet_bo.search.problem` and :meth:`Run.settle_ref_point`).

Killed at any moment, a run loses no committed evaluation and repeats none: opening it again
evaluates the pending candidates that are not recorded yet, then continues. Proposals are a
function of the stored evaluations and of a generator seeded with ``(seed, candidate number)``,
so a resumed run makes the same proposals as one that was never interrupted, and two runs with
the same seed give the same results.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from cimnet_bo.core import CimnetError, InputFileError, atomic_write, read_yaml
from cimnet_bo.moo import best_values, pareto_mask
from cimnet_bo.search.config import CONFIG_VERSION, config_diff, read_stored, resolve_config
from cimnet_bo.search.problem import REF_MARGIN, Problem, ProblemError
from cimnet_bo.search.specs import as_problem, problem_from_spec
from cimnet_bo.search.state import Caches, SearchState
from cimnet_bo.search.strategies import Strategy, check_int, make_strategy
from cimnet_bo.store import RUN_CONFIG_FILE, RUN_STORE_FILE, StoreError


def _with_pending(state: SearchState, rows: np.ndarray) -> SearchState:
    """``state`` with ``rows`` (k x d) added to its pending candidates (``state`` when k = 0)."""
    if not len(rows):
        return state
    return SearchState(
        state.problem,
        state.X,
        state.values,
        state.failed,
        np.vstack([state.pending, rows]),
        state.caches,
        state.candidates,
        state.seed,
    )


class SearchError(CimnetError, RuntimeError):
    """The search cannot go on: every evaluation failed."""


#: The store keeps a copy of the run's configuration under this metadata key: the store is the
#: run's one source of truth, and ``config.yaml`` its readable copy.
STORED_CONFIG_KEY = "run_config"
#: Store metadata key of a reference point inferred from the initial design:
#: ``{"point": {objective: value}, "ideal": {objective: value} or None, "evaluations": n,
#: "margin": REF_MARGIN}`` (``ideal`` None when the problem has its own).
REF_POINT_KEY = "inferred_ref_point"


def _read_yaml_config(cfg_path: Path) -> dict[str, Any] | None:
    """The mapping in a run's ``config.yaml``; None when the file is missing or empty
    (a malformed one is a :class:`ProblemError` naming the file and the line)."""
    if not cfg_path.exists():
        return None
    try:
        return read_yaml(cfg_path, "run configuration") or None
    except InputFileError as e:
        raise ProblemError(f"{e}; delete it to restore it from the run's store") from None


def _stored_config(path: Path) -> tuple[dict[str, Any] | None, bool]:
    """The configuration of the run in ``path`` checked against the copy in its store, and
    whether ``config.yaml`` must be written again (restored from the store).

    Returns ``(None, False)`` for a directory that holds no run yet.

    Raises
    ------
    ProblemError
        ``config.yaml`` is malformed or differs from the store's copy, the store of a configured run
        is missing or empty, or a store with evaluations has no configuration.
    """
    from cimnet_bo.store import RunStore

    cfg_path, store_path = path / RUN_CONFIG_FILE, path / RUN_STORE_FILE
    written = _read_yaml_config(cfg_path)
    recorded, n_rows = None, 0
    has_store = store_path.is_file() and store_path.stat().st_size > 0
    if has_store:
        try:
            with RunStore(store_path, write=False) as store:
                recorded, n_rows = store.meta.get(STORED_CONFIG_KEY), len(store)
        except StoreError:
            pass  # killed while creating it, or damaged: opening it to write says which
    if written is not None:
        written = read_stored(written)
        if written.get("version") != CONFIG_VERSION:
            raise ProblemError(f"{cfg_path}: config version {written.get('version')} is not {CONFIG_VERSION}")
        if not has_store:
            raise ProblemError(
                f"run {path} has its configuration but its store {store_path} is missing or empty, so its "
                f"evaluations are gone: restore the store, or delete {cfg_path} to start the run from nothing"
            )
        if recorded is not None:
            diffs = config_diff(read_stored(recorded), written)
            if diffs:
                raise ProblemError(
                    f"{cfg_path} differs from the configuration recorded in the run's store: "
                    + "; ".join(diffs)
                    + f". Delete {cfg_path} to restore it from the store"
                )
        return written, False
    if recorded is not None:
        print(f"{cfg_path} is missing or empty: restored from the run's store", file=sys.stderr)
        return read_stored(recorded), True
    if n_rows:
        raise ProblemError(
            f"{path} holds a store with {n_rows} evaluations but no {RUN_CONFIG_FILE}: restore it to resume the run"
        )
    return None, False


def _write_config(cfg_path: Path, config: Mapping[str, Any]) -> None:
    """Write ``config.yaml`` atomically (a temporary file renamed over it)."""
    import yaml

    with atomic_write(cfg_path) as tmp:
        tmp.write_text(yaml.safe_dump(dict(config), sort_keys=False))


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
        self.caches = Caches.for_problem(problem, path)
        self._primed = False
        self._ref_recorded = False

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(
        cls,
        path: str | Path,
        problem: Problem | str | Mapping[str, Any] | None = None,
        strategy: str | Strategy | None = None,
        budget: int | None = None,
        batch_size: int | None = None,
        seed: int | None = None,
        n_init: int | None = None,
        strategy_options: Mapping[str, Any] | None = None,
        initial: Sequence[Mapping[str, Any]] | None = None,
    ) -> "Run":
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
        path = Path(path)
        if path.exists() and not path.is_dir():
            raise ProblemError(f"run directory {path} is a file, not a directory")
        cfg_path = path / RUN_CONFIG_FILE
        stored, restore = _stored_config(path)
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
                raise ProblemError(f"{path} holds no run ({RUN_CONFIG_FILE} missing): give the problem to create one")
            if "python" in stored["problem"]:
                raise ProblemError(
                    f"the problem of {path} was defined in Python ({stored['problem']['python']!r}): "
                    "pass it again (problem=...) to open the run"
                )
            problem = problem_from_spec(stored["problem"])
        problem = as_problem(problem)
        if problem.ref_source != "given":
            problem = problem.without_ref_point()  # this run's own, inferred from its initial design
        budget_given = budget is not None
        if budget is None:
            if stored is None:
                raise ProblemError("a new run needs a budget (number of evaluations)")
            budget = s["budget"]
        config = resolve_config(
            problem,
            strat,
            budget,
            batch_size if batch_size is not None else s.get("batch_size", 8),
            seed if seed is not None else s.get("seed", 0),
            n_init if n_init is not None else s.get("n_init"),
            initial if initial is not None else s.get("initial"),
        )
        if stored is not None:
            diffs = config_diff(stored, config)
            if diffs:
                raise ProblemError(
                    f"{path} is a run with a different configuration; use another directory or the "
                    "same options. Differences: " + "; ".join(diffs)
                )
        from cimnet_bo.store import RunStore

        ev = problem.evaluator
        objectives = list(problem.objectives)
        if ev is not None:
            objectives += [o for o in ev.objectives if o.name not in problem.objective_names]
        path.mkdir(parents=True, exist_ok=True)
        store = RunStore(path / RUN_STORE_FILE, problem.space, [o.to_dict() for o in objectives])
        try:
            if budget_given and config["budget"] < len(store):
                raise ProblemError(
                    f"budget {config['budget']} is below the {len(store)} evaluations already stored in {path}: "
                    f"give a budget of at least {len(store)}"
                )
            if store.meta.get(STORED_CONFIG_KEY) != config:
                store.set_meta(STORED_CONFIG_KEY, config)
            if restore or stored != config:
                _write_config(cfg_path, config)
        except BaseException:
            store.close()
            raise
        return cls(path, config, problem, strat, store)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> "Run":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r}, {self.config['strategy']}, {self.n_done}/{self.config['budget']} evaluations)"

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

    def settle_ref_point(self) -> bool:
        """Give a problem without a reference point of its own the run's: the recorded one, or,
        once every candidate of the initial design is stored, the one inferred from its successful
        evaluations (then recorded); before that, the one inferred from the successful evaluations
        so far (not recorded). Returns True when the point was recorded by this call."""
        p = self.problem
        if p.ref_source == "given" or self._ref_recorded:
            return False
        recorded = self.store.meta.get(REF_POINT_KEY)
        if recorded is not None:
            p.set_ref_point(recorded["point"], "inferred", recorded.get("ideal"))
            self._ref_recorded = True
            return False
        rows = [r for r in self.store.rows() if r["error"] is None]
        n_init = int(self.config["n_init"])
        done = self.store.done()
        design = [r for r in rows if r["idx"] is not None and r["idx"] < n_init]
        final = bool(design) and all(i in done for i in range(n_init))
        use = design if final else rows
        Y = np.array([[r["objectives"].get(n, np.nan) for n in p.objective_names] for r in use], dtype=np.float64)
        outputs = {c.name: np.array([r["objectives"].get(c.name, np.nan) for r in use]) for c in p.constraints}
        points = p.infer_points(Y.reshape(len(use), len(p.objectives)), p.feasible(outputs, len(use)))
        if points is None:
            return False
        point, ideal = points[0], None if p.ideal_point is not None else points[1]
        p.set_ref_point(point, "inferred" if final else "provisional", ideal)
        if final:
            record = {"point": point, "ideal": ideal, "evaluations": len(use), "margin": REF_MARGIN}
            self.store.set_meta(REF_POINT_KEY, record)
            self._ref_recorded = True
        return final

    def ref_point_note(self) -> str:
        """One line on the reference point: its values and where they come from."""
        self.settle_ref_point()
        p = self.problem
        if p.ref_point is None:
            return "reference point: not known yet (inferred once an evaluation succeeds)"
        values = ", ".join(f"{k}={v:.6g}" for k, v in p.ref_point.items())
        if p.ref_source != "given" and p.ideal_point is None and p.scale_ideal is not None:
            values += "; ideal (the design's best) " + ", ".join(f"{k}={v:.6g}" for k, v in p.scale_ideal.items())
        if p.ref_source == "given":
            return f"reference point (given): {values}"
        if p.ref_source == "provisional":
            return f"reference point (provisional, from the {self.n_done} evaluations so far): {values}"
        recorded = self.store.meta[REF_POINT_KEY]
        return (
            f"reference point (inferred from the {recorded['evaluations']} successful evaluations of the initial "
            f"design, {recorded['margin']:g} of its Pareto front's range beyond it): {values}"
        )

    def state(self) -> SearchState:
        """What the strategy sees now (evaluations and pending proposals)."""
        self.settle_ref_point()
        return SearchState.from_rows(
            self.problem, self.rows(), [p["config"] for p in self.pending()], self.caches, seed=self.seed
        )

    # ------------------------------------------------------------------ proposing
    def propose(self, q: int, by: str = "run") -> list[dict[str, Any]]:
        """Propose up to ``q`` new candidates and record them as pending (:meth:`ask`, then
        :meth:`add_pending`)."""
        new = self.ask(q, by)
        self.add_pending(new)
        return new

    def add_pending(self, proposals: Sequence[Mapping[str, Any]]) -> None:
        """Record proposals of :meth:`ask` as pending (one transaction)."""
        self._set_pending(self.pending() + [dict(p) for p in proposals])

    def ask(self, q: int, by: str = "run") -> list[dict[str, Any]]:
        """Up to ``q`` new candidates, not recorded: asking again before :meth:`add_pending`
        gives the same ones.

        The first ``n_init`` candidates of a run are its initial design (the run's ``initial``
        configurations first, then random ones); the rest come from the strategy.

        Returns
        -------
        list of dict
            ``{idx, config, tag, by}`` per proposal (fewer than ``q`` only when the space is
            exhausted).
        """
        check_int("q", q, 1)
        import torch

        state = self.state()
        start = self._next_idx()
        rng = np.random.default_rng([self.seed, start])
        torch.manual_seed(self.seed * 1_000_003 + start)
        n_seen = state.n + len(state.pending)
        n_design = int(min(q, max(0, self.config["n_init"] - n_seen)))
        rows = self.problem.space.to_indices(self.config.get("initial", [])[n_seen : n_seen + n_design])
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
        return [{"idx": start + i, "config": c, "tag": t, "by": by} for i, (c, t) in enumerate(zip(configs, tags))]

    def withdraw(self, idxs: Sequence[int], by: str = "withdraw") -> None:
        """Delete the stored evaluations of the candidates ``idxs`` and make them pending again,
        under the same numbers (recorded as pending first: at every moment each candidate is
        stored or pending). Every ``idx`` must be stored (:class:`~cimnet_bo.store.StoreError`)."""
        wanted = set(idxs)
        back = [
            {"idx": r["idx"], "config": r["config"], "tag": r["tag"], "by": by}
            for r in self.rows()
            if r["idx"] in wanted
        ]
        missing = sorted(wanted - {b["idx"] for b in back})
        if missing:
            raise StoreError(f"{self.store.path}: candidates {missing} are not recorded")
        self._set_pending(self.pending() + back)
        self.store.delete(wanted)

    def retry_failed(self) -> int:
        """Make the failed evaluations pending again (the next :func:`run_search` or
        :meth:`evaluate_pending` evaluates them first); returns how many."""
        failed = [r["idx"] for r in self.store.failures() if r["idx"] is not None]
        if failed:
            self.withdraw(failed, by="retry")
        return len(failed)

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
        # While the run has no successful evaluation, failures are held back: when all fail, the
        # set-up is broken (a bad checkpoint, a missing file) and nothing is recorded.
        succeeded = self.store.count_ok() > 0
        held: list[tuple[dict[str, Any], Any]] = []
        try:
            for b, res in ex.run(ev, ([p["config"]] for p in todo)):
                if res.errors[0] is not None and not succeeded:
                    held.append((todo[b], res))
                    continue
                succeeded = True
                for p, r in [*held, (todo[b], res)]:
                    self.store.record(
                        p["config"],
                        r.objectives_of(0),
                        evaluator=identity,
                        error=r.errors[0],
                        idx=p["idx"],
                        seed=self.seed,
                        extra=r.extras_of(0),
                        tag=p["tag"],
                    )
                held = []
        finally:
            if not isinstance(executor, Executor):
                ex.close()
        if held:
            raise SearchError(
                f"every one of the {len(held)} evaluations of {self.path} failed, so nothing was recorded "
                f"(a broken set-up?); first error: {held[0][1].errors[0]}"
            )
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
        st = self.state()
        if not st.n or self.problem.scale is None:
            return np.zeros(st.n)
        return self.problem.scale.curve(st.objective_values(), st.feasible())

    def best(self) -> dict[str, float]:
        """Best feasible value of each objective (objectives without a feasible value left out)."""
        st = self.state()
        objectives = [(o.name, o.direction) for o in self.problem.objectives]
        best = best_values(st.objective_values(), objectives, st.feasible()) if st.n else {}
        return {k: v for k, v in best.items() if v == v}

    def pareto(self) -> Any:
        """The feasible Pareto-optimal evaluations as a DataFrame (the first of repeated objective
        values), sorted by the first objective, best first."""
        st = self.state()
        frame = self.history(include_failed=True).reset_index(drop=True)
        mask = pareto_mask(st.objective_values(), self.problem.directions, st.feasible(), deduplicate=True)
        first = self.problem.objectives[0]
        return frame[mask].sort_values(first.name, ascending=first.direction == "min").reset_index(drop=True)


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def progress_line(run: Run, round_no: int, seconds: float) -> str:
    """``round | evaluations | hypervolume | best per objective | time``; the failures so far
    and, when the strategy's failure model left candidates out of the round's pool, how many."""
    st = run.state()
    best = run.best()
    parts = " ".join(f"{k}={v:.4g}" for k, v in best.items()) or "no feasible point yet"
    failed = int(st.failed.sum())
    removed = getattr(run.strategy, "last_info", {}).get("failure_removed", 0) if round_no else 0
    notes = [f"{failed} failed"] if failed else []
    if removed:
        notes.append(f"{removed} likely failures left out of the pool")
    fail = f" ({', '.join(notes)})" if notes else ""
    return (
        f"[{run.config['strategy']}] round {round_no:3d} | evals {run.n_done:4d}/{run.budget}{fail} | "
        f"hv {st.hypervolume():.4f} | best {parts} | {seconds:.1f}s"
    )


#: A search stops when this many consecutive rounds (of two or more candidates each) failed
#: entirely after a good start: a set-up that broke during the run (a disk gone, a licence
#: expired), not a region where evaluations fail, which the search learns to avoid
#: (:mod:`cimnet_bo.search.failures`).
STOP_AFTER_FAILED_ROUNDS = 2


def _stop_if_rounds_failed(run: Run) -> None:
    """Raise :class:`SearchError` when the last :data:`STOP_AFTER_FAILED_ROUNDS` rounds (two or
    more candidates each) failed entirely and the budget is not spent (the failures are
    stored; :meth:`Run.retry_failed` evaluates them again)."""
    if run.n_done >= run.budget:
        return
    rounds: dict[str, list[Any]] = {}
    for r in run.rows():
        if isinstance(r["tag"], str) and r["tag"].startswith("round-"):
            rounds.setdefault(r["tag"], []).append(r["error"])
    last = list(rounds.values())[-STOP_AFTER_FAILED_ROUNDS:]
    if len(last) < STOP_AFTER_FAILED_ROUNDS or not all(len(e) >= 2 and None not in e for e in last):
        return
    raise SearchError(
        f"every one of the {sum(map(len, last))} evaluations of the last {len(last)} rounds of {run.path} failed, "
        f"so the search stopped; last error: {last[-1][-1]}. Fix the cause, then evaluate them again with "
        "retry_failed (cimnet-bo search --retry-failed)"
    )


def run_search(
    problem: Problem | str | Mapping[str, Any],
    strategy: str | Strategy = "qnehvi",
    budget: int = 100,
    batch_size: int = 8,
    seed: int = 0,
    run_dir: str | Path | None = None,
    n_init: int | None = None,
    strategy_options: Mapping[str, Any] | None = None,
    executor: Any = None,
    progress: bool | Callable[[str], None] = True,
    initial: Sequence[Mapping[str, Any]] | None = None,
    retry_failed: bool = False,
) -> Run:
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
    retry_failed : bool
        Evaluate the run's failed evaluations again first (:meth:`Run.retry_failed`).

    Returns
    -------
    Run
        The (open) run; close it when done (or use it as a context manager).
    """
    problem = as_problem(problem)
    if not problem.can_evaluate:
        raise ProblemError(
            f"problem {problem.name!r} has outputs that come from outside (accuracy 'external'?): use propose / tell"
        )
    if run_dir is None:
        run_dir = tempfile.mkdtemp(prefix="cimnet-bo-search-")
    from cimnet_bo.evaluate import Executor, get_executor

    run = Run.open(run_dir, problem, strategy, budget, batch_size, seed, n_init, strategy_options, initial)
    log = progress if callable(progress) else (_stderr if progress else None)
    own_executor = not isinstance(executor, Executor)
    executor = get_executor(executor)
    try:
        t0 = time.perf_counter()
        if retry_failed and run.retry_failed() and log:
            log(f"[{run.config['strategy']}] {len(run.pending())} failed or pending candidate(s) to evaluate again")
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
            if run.settle_ref_point() and log:
                log(f"[{run.config['strategy']}] {run.ref_point_note()}")
            if log:
                log(progress_line(run, round_no, time.perf_counter() - t0))
            _stop_if_rounds_failed(run)
    except BaseException:
        run.close()
        raise
    finally:
        if own_executor:
            executor.close()
    return run
