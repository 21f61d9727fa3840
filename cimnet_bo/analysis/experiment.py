"""The CiMNet-style experiment: what searching the hardware together with the model buys.

Under the baseline chip's area and peak power (``area_mm2`` and ``power_w`` at most the baseline's,
and ``feasible``: iso-area, iso-power):

1. **baseline**: the largest subnet on the baseline hardware, evaluated once (a run directory
   holding that single point, its store marked with the role ``"baseline"``);
2. **model-only** search: the hardware frozen at the baseline chip, the subnet searched;
3. **hardware-only**: the subnet frozen at the largest, the hardware computed: the hardware
   optimiser's best chip for it (exact; what a better chip alone buys, which separates the
   two halves of the joint speedup);
4. **joint** search: subnets searched, each on its best chip (qNEHVI's ``hardware="best"``,
   :mod:`cimnet_bo.search.best_chips`);

each search with the same strategy (qNEHVI by default), budget and seeds (3 by default), and
each starting from the baseline: its initial design holds the baseline point (a designer's
known design), then, where the hardware is computed, the largest subnet on its best chip, then
random points. Joint search therefore holds the hardware-only answer from its first round, and
every subnet it evaluates runs on a chip at least as fast as the baseline chip. The result is
the iso-accuracy speedup table (:func:`~cimnet_bo.analysis.compare.run_speedups`): at the
baseline's accuracy, and 0.5 and 1 point below it, the lowest latency each search reached
relative to the baseline's latency (mean over seeds, with the range). CiMNet's reference on
ViT-B/ImageNet: 1.7x model-only, 3.1x joint. :func:`hardware_only_experiment` gives the
hardware-only answer for a network without accuracy (ViT-B itself on ``vit-b-imagenet``).

Everything is resumable: the runs are ordinary run directories (``<runs>/baseline``,
``<runs>/model-only-seed<k>``, ``<runs>/joint-seed<k>``), resumed where they stopped; a
finished experiment re-run only rewrites the tables and figures. Accuracy depends on the
subnet only, so subnet accuracies already evaluated by any run of the experiment (with the same
evaluator) are reused by the others instead of being evaluated again.

Outputs in ``out``: ``RESULTS.md`` (the table, the baseline, the figures and the command that
regenerates them, links relative to ``out``), ``README_section.md`` (the same with links
relative to the working directory, to paste into the README), ``speedup.csv``,
``speedup_seeds.csv``, ``experiment.json`` (settings, baseline, table, timings) and
``report/`` (the full report of all runs, :func:`~cimnet_bo.analysis.report.write_report`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from cimnet_bo.analysis.compare import baseline_point, run_speedups
from cimnet_bo.analysis.experiment_results import (
    SEARCH_MODES,
    hardware_only_markdown,
    regenerate_command,
    relative_prefix,
    results_markdown,
)
from cimnet_bo.analysis.formatting import format_speedup_table
from cimnet_bo.analysis.report import Report, write_report
from cimnet_bo.analysis.runs import DEFAULT_TARGETS, ROLE_KEY, load_run
from cimnet_bo.core import CimnetError, check_output_path, plain, removed_on_error
from cimnet_bo.space import SpaceLike

#: Default evaluations per search run (each experiment: 1 baseline point, then 3 model-only,
#: 3 hardware-only and 3 joint qNEHVI runs of this many evaluations).
DEFAULT_BUDGETS: dict[str, int] = {"vit-fmnist": 96, "cnn-fmnist": 64}
#: Budget of spaces not listed in :data:`DEFAULT_BUDGETS`.
FALLBACK_BUDGET = 48
#: qNEHVI options of the experiment (a smaller pool than the library default: the rounds are
#: dominated by accuracy evaluations anyway, and the pool still holds several thousand subnets).
DEFAULT_QNEHVI_OPTIONS: dict[str, Any] = {"pool_size": 5000}


@dataclass
class ExperimentResult:
    """What :func:`run_experiment` produced.

    Attributes
    ----------
    space : str
    out : Path
        The results folder.
    runs_dir : Path
        The folder of the run directories.
    run_dirs : dict of str to Path
        ``{"baseline": ..., "model-only-seed0": ..., "hardware-only-seed0": ..., "joint-seed0": ...}``.
    baseline : dict
        The baseline point (objectives, outputs, configuration).
    speedup : pandas.DataFrame
        Wide table: one row per target, the mean speedup of ``model-only``, ``hardware-only`` and ``joint`` with
        ``min`` / ``max`` / ``n`` over seeds (see :func:`~cimnet_bo.analysis.speedup_table`).
    speedup_seeds : pandas.DataFrame
        Long table: one row per mode, seed and target, with the point reaching it fastest.
    results : Path
        ``RESULTS.md``.
    report : Report or None
    seconds : dict of str to float
        Wall time spent on each run (accumulated over invocations).
    """

    space: str
    out: Path
    runs_dir: Path
    run_dirs: dict[str, Path]
    baseline: dict[str, Any]
    speedup: pd.DataFrame
    speedup_seeds: pd.DataFrame
    results: Path
    report: Report | None
    seconds: dict[str, float]

    def table(self) -> pd.DataFrame:
        """The speedup table as text (one row per target)."""
        return format_speedup_table(self.speedup)


def baseline_config(space: SpaceLike) -> dict[str, Any]:
    """The baseline point of a joint space: its largest subnet on its baseline hardware."""
    from cimnet_bo.space import as_space, hardware_side

    space = as_space(space)
    if hardware_side(space) is None or space.hardware.baseline is None:
        raise ValueError(f"space {space.name!r} has no baseline hardware")
    return {**space.subnet.extreme("max"), **space.hardware.baseline}


class BaselineError(CimnetError, RuntimeError):
    """The baseline point cannot be evaluated (a bad checkpoint, a failing accuracy function)."""


def make_baseline_run(
    path: str | Path,
    problem: Any,
    config: Mapping[str, Any] | None = None,
    values: Mapping[str, float] | None = None,
    evaluator: str = "given",
) -> Path:
    """A run directory holding one evaluated point, marked as the baseline (created once;
    an existing one is kept).

    Parameters
    ----------
    path : str or Path
    problem : Problem
        The problem the point belongs to (usually the model-only problem: hardware frozen at
        the baseline chip); its evaluator evaluates the point unless ``values`` are given.
    config : dict, optional
        Default: :func:`baseline_config` of the problem's space.
    values : dict, optional
        ``{output: value}`` to record instead of evaluating (e.g. a measured baseline).
    evaluator : str
        Identity recorded with given ``values``.

    Raises
    ------
    BaselineError
        The evaluation of the point failed (nothing is written).
    """
    from cimnet_bo.search import Run, as_problem
    from cimnet_bo.store import is_run_dir

    def point(problem: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], str]:
        cfg = problem.space.validate(dict(config) if config is not None else baseline_config(problem.space))
        if values is not None:
            return cfg, dict(values), {}, evaluator
        res = problem.evaluate([cfg])
        if res.errors[0] is not None:
            raise BaselineError(f"evaluating the baseline point failed: {res.errors[0]}")
        return cfg, res.objectives_of(0), res.extras_of(0), problem.evaluator.identity

    path = check_output_path(path, "baseline run folder", folder=True)
    problem = as_problem(problem)
    new_point = None if is_run_dir(path) else point(problem)  # a new run is made once its point is known
    with removed_on_error(path), Run.open(path, problem, "random", budget=1, batch_size=1, seed=0, n_init=1) as run:
        if run.n_done == 0:
            cfg, vals, extra, ident = new_point or point(run.problem)
            run.store.record(cfg, vals, evaluator=ident, idx=0, seed=0, extra=extra, tag="baseline")
        if run.store.meta.get(ROLE_KEY) != "baseline":
            run.store.set_meta(ROLE_KEY, "baseline")
    return path


def _initial_design(run_dir: Path, problem: Any) -> list[dict[str, Any]] | None:
    """``[baseline point]``; None for a run begun without one (it resumes as it began)."""
    import yaml

    from cimnet_bo.store import RUN_CONFIG_FILE as CONFIG_FILE

    cfg = run_dir / CONFIG_FILE
    if cfg.exists() and "initial" not in (yaml.safe_load(cfg.read_text()) or {}):
        return None
    return [baseline_config(problem.space)]


def _prime_accuracy(problem: Any, run_dirs: Sequence[Path]) -> int:
    """Reuse subnet accuracies stored by other runs with the same evaluator identity."""
    from cimnet_bo.evaluate import CompositeEvaluator, SubnetCachedEvaluator
    from cimnet_bo.store import RunStore

    ev = problem.evaluator
    parts = ev.parts if isinstance(ev, CompositeEvaluator) else [ev]
    cached = [p for p in parts if isinstance(p, SubnetCachedEvaluator)]
    if not cached:
        return 0
    identity = ev.identity
    n = 0
    for d in run_dirs:
        f = d / "store.sqlite"
        if not f.exists():
            continue
        with RunStore(f, write=False) as store:
            rows = [r for r in store.rows(include_failed=False) if r["evaluator"] == identity]
        for p in cached:
            vals = np.array([[r["objectives"].get(k, np.nan) for k in p.names] for r in rows], dtype=np.float64)
            if len(rows):
                p.prime([r["config"] for r in rows], vals)
        n += len(rows)
    return n


def _log(progress: bool | Callable[[str], None]) -> Callable[[str], None] | None:
    if callable(progress):
        return progress
    if progress:
        import sys

        return lambda line: print(line, file=sys.stderr, flush=True)
    return None


def run_experiment(
    space: str = "vit-fmnist",
    out: str | Path | None = None,
    runs_dir: str | Path | None = None,
    seeds: int | Sequence[int] = 3,
    budget: int | None = None,
    batch_size: int = 8,
    n_init: int | None = None,
    strategy: str = "qnehvi",
    strategy_options: Mapping[str, Any] | None = None,
    accuracy: str = "supernet",
    checkpoint: str | None = None,
    targets: Sequence[float] = DEFAULT_TARGETS,
    executor: Any = None,
    progress: bool | Callable[[str], None] = True,
    report: bool = True,
) -> ExperimentResult:
    """Run (or resume) the experiment of the module docstring and write its results.

    Parameters
    ----------
    space : str
        A registered joint space with a baseline chip (``vit-fmnist``, ``cnn-fmnist``, ...).
    out : str or Path, optional
        Results folder; default ``experiments/<space>``.
    runs_dir : str or Path, optional
        Folder of the run directories; default ``<out>/runs``.
    seeds : int or sequence of int
        Number of seeds (0, 1, ...) or the seeds themselves.
    budget : int, optional
        Evaluations per search run (default :data:`DEFAULT_BUDGETS`).
    batch_size, n_init : int
        Candidates per round and random initial design (default 2 batches, at most ``budget``).
    strategy : str
        Search strategy of both modes (``qnehvi``, ``random``, ``nsga2``, ``linas``).
    strategy_options : dict, optional
        Default for qNEHVI: :data:`DEFAULT_QNEHVI_OPTIONS`.
    accuracy : str
        ``"supernet"`` (the trained supernet, ``checkpoint`` or the shipped one) or
        ``"MODULE:FUNCTION"`` (e.g. ``cimnet_bo.search.toy:synthetic_accuracy`` for a quick try).
    checkpoint : str, optional
    targets : sequence of float
        Accuracy offsets of the table (default: 0, -0.5 and -1 point).
    executor : optional
        Where evaluations run (see :func:`cimnet_bo.evaluate.get_executor`).
    progress : bool or callable
        Progress lines (to stderr, or passed to the callable).
    report : bool
        Also write the full report into ``<out>/report``.
    """
    from cimnet_bo.search import Problem, make_strategy, run_search
    from cimnet_bo.search.config import resolve_config

    t_start = time.perf_counter()
    out = check_output_path(out if out is not None else Path("experiments") / space, "results folder", folder=True)
    runs_dir = check_output_path(runs_dir if runs_dir is not None else out / "runs", "runs folder", folder=True)
    seed_list = list(range(int(seeds))) if isinstance(seeds, (int, np.integer)) else [int(s) for s in seeds]
    if not seed_list:
        raise ValueError("seeds must be a positive number or a non-empty list of seeds")
    if budget is None:
        budget = DEFAULT_BUDGETS.get(space, FALLBACK_BUDGET)
    if n_init is None:
        from cimnet_bo.search.config import default_n_init

        n_init = min(default_n_init(batch_size), int(budget))
    if strategy_options is None:
        strategy_options = DEFAULT_QNEHVI_OPTIONS if strategy == "qnehvi" else {}
    log = _log(progress)
    problems = {m: Problem.from_space(space, mode=m, accuracy=accuracy, checkpoint=checkpoint) for m in SEARCH_MODES}
    strat = make_strategy(strategy, **strategy_options)
    for problem in problems.values():  # every run's configuration is checked before anything is written
        for s in seed_list:
            resolve_config(problem, strat, budget, batch_size, s, n_init)
    out.mkdir(parents=True, exist_ok=True)
    runs_dir.mkdir(parents=True, exist_ok=True)
    state_file = out / "experiment.json"
    previous = json.loads(state_file.read_text()) if state_file.exists() else {}
    run_dirs: dict[str, Path] = {"baseline": runs_dir / "baseline"}
    for s in seed_list:
        for m in SEARCH_MODES:
            run_dirs[f"{m}-seed{s}"] = runs_dir / f"{m}-seed{s}"
    # earlier invocations' seconds count for the runs this one resumes, not for runs that
    # start afresh (a new runs folder, or a run deleted to be run again)
    seconds: dict[str, float] = {
        k: float(v) for k, v in previous.get("seconds", {}).items() if k in run_dirs and run_dirs[k].exists()
    }

    # ---------------------------------------------------------------- baseline
    t0 = time.perf_counter()
    make_baseline_run(run_dirs["baseline"], problems["model-only"])
    seconds["baseline"] = seconds.get("baseline", 0.0) + (time.perf_counter() - t0)
    base = baseline_point(load_run(run_dirs["baseline"]))
    if log:
        log(
            f"[experiment {space}] baseline (largest subnet, baseline chip): accuracy {base['accuracy']:.4f}, "
            f"latency {base['latency_s']:.4g} s, area {base.get('area_mm2', float('nan')):.4g} mm^2"
        )

    # ---------------------------------------------------------------- searches
    for s in seed_list:
        for m in SEARCH_MODES:
            key = f"{m}-seed{s}"
            problem = problems[m]
            _prime_accuracy(problem, [d for k, d in run_dirs.items() if k != key])
            t0 = time.perf_counter()
            prefix = f"[experiment {space} {m} seed {s}] "
            with run_search(
                problem,
                strategy,
                budget,
                batch_size,
                s,
                run_dirs[key],
                n_init,
                strategy_options=strategy_options,
                executor=executor,
                progress=(lambda line, p=prefix: log(p + line)) if log else False,
                initial=_initial_design(run_dirs[key], problem),
            ) as run:
                n_done = run.n_done
            dt = time.perf_counter() - t0
            seconds[key] = seconds.get(key, 0.0) + dt
            if log:
                log(f"{prefix}{n_done} evaluations ({dt:.0f} s this time)")
            state = {"space": space, "seconds": seconds}
            state_file.write_text(json.dumps({**previous, **state}, indent=2) + "\n")

    # ---------------------------------------------------------------- results
    runs = [load_run(d, label=k) for k, d in run_dirs.items()]
    speedup = run_speedups(runs, targets, wide=True)
    speedup_seeds = run_speedups(runs, targets, wide=False)
    assert speedup is not None and speedup_seeds is not None
    speedup.reset_index().to_csv(out / "speedup.csv", index=False)
    speedup_seeds.to_csv(out / "speedup_seeds.csv", index=False)
    rep = None
    if report:
        rep = write_report(
            runs,
            out / "report",
            title=f"Joint versus model-only and hardware-only search: {space}",
            targets=targets,
            intro=f"The CiMNet-style experiment (`cimnet-bo experiment --space {space}`): a baseline "
            f"point, model-only, hardware-only and joint {strategy} searches of {budget} "
            f"evaluations, seeds {', '.join(map(str, seed_list))}, under the baseline chip's "
            "area.",
        )
    settings = {
        "space": space,
        "seeds": seed_list,
        "budget": int(budget),
        "batch_size": int(batch_size),
        "n_init": n_init,
        "strategy": strategy,
        "strategy_options": dict(strategy_options),
        "accuracy": accuracy,
        "checkpoint": checkpoint,
        "targets": [float(t) for t in targets],
    }
    command = regenerate_command(space, out, runs_dir, seed_list, budget, strategy, accuracy, checkpoint)
    total = float(sum(seconds.values()))
    md = results_markdown(space, base, speedup, runs, settings, command, total, link_prefix="", report=rep is not None)
    results = out / "RESULTS.md"
    results.write_text(md)
    prefix = relative_prefix(out)
    if prefix is not None:
        (out / "README_section.md").write_text(
            results_markdown(
                space, base, speedup, runs, settings, command, total, link_prefix=prefix, report=rep is not None
            )
        )
    state_file.write_text(
        json.dumps(
            plain(
                {
                    **settings,
                    "baseline": base,
                    "seconds": seconds,
                    "total_seconds": total,
                    "this_invocation_seconds": time.perf_counter() - t_start,
                    "speedup": plain(speedup.reset_index().to_dict(orient="records"), finite=True),
                }
            ),
            indent=2,
            default=str,
        )
        + "\n"
    )
    return ExperimentResult(
        space=space,
        out=out,
        runs_dir=runs_dir,
        run_dirs=run_dirs,
        baseline=base,
        speedup=speedup,
        speedup_seeds=speedup_seeds,
        results=results,
        report=rep,
        seconds=seconds,
    )


def hardware_only_experiment(
    space: str, out: str | Path | None = None, subnet: str | Mapping[str, Any] = "max", tech: Any = None
) -> dict[str, Any]:
    """What a better chip alone buys one network: the subnet (default the largest, e.g. ViT-B
    itself on ``vit-b-imagenet``) on its best chip under the baseline chip's area and peak
    power (:func:`~cimnet_bo.hardware.best_hardware`, exact), against the baseline chip. No
    accuracy is needed: the network does not change.

    Writes ``RESULTS.md`` and ``experiment.json`` into ``out`` (default
    ``experiments/<space>``) and returns the result (``baseline``, ``best``: latency, energy,
    area, peak power and the chip; ``speedup``, ``energy_ratio``, ``seconds``; ``results``: the
    path of ``RESULTS.md``).
    """
    from cimnet_bo.evaluate import RooflineEvaluator
    from cimnet_bo.hardware import best_hardware
    from cimnet_bo.search.problem import Problem

    t0 = time.perf_counter()
    out = check_output_path(out if out is not None else Path("experiments") / space, "results folder", folder=True)
    problem = Problem.from_space(space, mode="hardware-only", subnet=subnet, accuracy="external", tech=tech)
    full = problem.space
    budgets = {c.name: c.bound for c in problem.constraints if c.name in ("area_mm2", "power_w")}
    sub = full.subnet.sample(1, 0)[0]
    res = RooflineEvaluator(full, tech=tech).evaluate([{**sub, **full.hardware.baseline}])
    base_chip = res.objectives_of(0)
    front = best_hardware(full, [sub], budgets.get("area_mm2"), budgets.get("power_w"), tech=tech)[0]
    if not len(front):
        raise RuntimeError(f"no chip of {space!r} meets the budgets {budgets} for this subnet")
    best = front.iloc[0].to_dict()
    chip = full.hardware.from_indices(full.hardware.to_indices([{k: best[k] for k in full.hardware.names}]))[0]
    keys = ("latency_s", "energy_j", "area_mm2", "power_w")
    result = {
        "space": space,
        "subnet": sub,
        "budgets": budgets,
        "baseline": {**{k: float(base_chip[k]) for k in keys}, "chip": dict(full.hardware.baseline)},
        "best": {**{k: float(best[k]) for k in keys}, "chip": chip},
        "speedup": float(base_chip["latency_s"] / best["latency_s"]),
        "energy_ratio": float(base_chip["energy_j"] / best["energy_j"]),
        "seconds": time.perf_counter() - t0,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "experiment.json").write_text(json.dumps(plain(result), indent=2, default=str) + "\n")
    (out / "RESULTS.md").write_text(hardware_only_markdown(result))
    return {**result, "results": out / "RESULTS.md"}


__all__ = [
    "BaselineError",
    "DEFAULT_BUDGETS",
    "DEFAULT_QNEHVI_OPTIONS",
    "ExperimentResult",
    "baseline_config",
    "hardware_only_experiment",
    "make_baseline_run",
    "run_experiment",
]
