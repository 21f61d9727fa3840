"""``cimnet-bo search``, ``propose``, ``tell`` and ``withdraw``: joint search runs, resumable, and ask/tell.

Examples::

    cimnet-bo search --space vit-fmnist --strategy qnehvi --budget 200 --batch-size 8 --seed 0 --run runs/demo
    cimnet-bo search --run runs/demo                      # resume (or continue with a larger --budget)
    cimnet-bo search --config search.yaml --run runs/demo2
    cimnet-bo search --space vit-fmnist --budget 64 --initial known.csv --run runs/known   # start from known designs
    cimnet-bo search --run runs/demo --executor ray --ray-address auto   # evaluations on a Ray cluster
    cimnet-bo search --model mypkg.nets:make_net --input-shape 1,3,224,224 --run runs/mynet --budget 100
    cimnet-bo propose --run runs/ask --space vit-fmnist --accuracy external -q 8 --out next.csv
    cimnet-bo tell --run runs/ask results.csv
    cimnet-bo tell --run runs/ask --replace corrected.csv   # correct results told already
    cimnet-bo withdraw --run runs/ask --idx 3,7            # remove told results: pending again

``tell`` checks every row before it stores any: proposed and not told yet (or, with
``--replace``, told already: the new values replace the stored ones), the proposal's
configuration, every output given and inside its domain (finite; accuracy in [0, 1]; latency,
energy, area and power > 0). A file with a wrong row stores nothing, and the error names each
wrong cell (``row 3 (idx 12), accuracy = 7.5: outside [0, 1]``, rows counted from 1 under the
header). ``withdraw`` removes the results of the listed candidates, which become pending
again under the same numbers (to be told again); an idx without a stored result changes
nothing.

``--model MODULE:FACTORY`` searches the chip of one fixed ``torch.nn.Module`` (hardware-only;
:mod:`cimnet_bo.search.network`): the network is imported as ``simulate --model`` does, on an
input of ``--input-shape``; ``--space`` names the hardware space (``cim-edge``, ``cim-server``)
or a registered space whose hardware half to use (default: the first hardware space whose
baseline chip holds the network's weights); objectives two or more of ``latency_s, energy_j,
area_mm2, power_w`` (default ``latency_s,energy_j``; the network, hence its accuracy, is fixed),
under the baseline chip's area and peak power. The run records the model, the input shape and a
fingerprint of the imported layer table: resuming imports the model again and refuses if its
table changed.

A config file holds the keys of a run's ``config.yaml``: ``problem`` (``space``, ``mode``,
``objectives``, ``energy``, ``area_budget``, ``power_budget``, ``accuracy``, ``checkpoint``,
``images``, ``table``, ...),
``strategy``, ``strategy_options``, ``budget``, ``batch_size``, ``n_init``, ``seed``, ``initial`` (a
list of configurations). Options on the command line override it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from cimnet_bo.cli.args import (
    COUNT,
    NATURAL,
    add_executor_options,
    add_space_option,
    add_strategy_options,
    counts,
    executor_choice,
    executor_from_args,
    names,
    naturals,
    strategy_overrides,
)

CONFIG_KEYS = ("problem", "strategy", "strategy_options", "budget", "batch_size", "n_init", "seed", "initial")


def _run_options(p: argparse.ArgumentParser) -> None:
    from cimnet_bo.search import MODES

    g = p.add_argument_group("problem (for a new run; an existing run keeps its own)")
    g.add_argument("--config", default=None, help="YAML file with the run's configuration")
    add_space_option(
        g, required=False, files=True, hardware=True, help="registered joint space (with --model: or hardware space)"
    )
    g.add_argument("--mode", default=None, choices=MODES, help=f"default {MODES[0]}")
    g.add_argument("--objectives", type=names, default=None, help="comma-separated, default accuracy,latency_s")
    g.add_argument("--energy", action="store_true", default=None, help="add energy_j as an objective")
    g.add_argument("--area-budget", default=None, help="mm^2, 'baseline' (default) or 'none'")
    g.add_argument(
        "--power-budget", default=None, help="peak power in W, 'baseline' (default: the baseline chip's) or 'none'"
    )
    g.add_argument(
        "--accuracy",
        default=None,
        help="'supernet' (default), 'external' (ask/tell) or MODULE:FUNCTION (subnet config -> accuracy)",
    )
    g.add_argument("--checkpoint", default=None, help="supernet weights (default data/supernets/<space>.pt)")
    g.add_argument(
        "--images",
        type=COUNT,
        default=None,
        help="supernet accuracy on the first N validation images (default all; fewer are faster, less precise)",
    )
    g.add_argument("--table", default=None, help="labeled dataset: search its rows by table look-up")
    g.add_argument(
        "--model",
        default=None,
        metavar="MODULE:FACTORY",
        help="search the chip of this torch.nn.Module (a factory without arguments): hardware-only, "
        "objectives from latency_s, energy_j, area_mm2, power_w (default latency_s,energy_j)",
    )
    g.add_argument("--input-shape", type=counts, default=None, help="input shape for --model, e.g. 1,3,224,224")
    g.add_argument(
        "--unknown-ops",
        choices=("error", "eltwise"),
        default=None,
        help="operations of --model without a mapping: an error (default), or element-wise rows",
    )
    s = p.add_argument_group("strategy")
    add_strategy_options(s, default=None)
    s.add_argument("--budget", type=COUNT, default=None, help="evaluations in total, initial design included")
    s.add_argument("--batch-size", type=COUNT, default=None, help="candidates per round (default 8)")
    s.add_argument("--n-init", type=COUNT, default=None, help="initial design (default 2 x batch size)")
    s.add_argument(
        "--initial",
        default=None,
        metavar="FILE",
        help="configurations that open the initial design (CSV or parquet, a column per choice; "
        "other columns are ignored), e.g. a known baseline design",
    )
    s.add_argument("--seed", type=NATURAL, default=None, help="default 0")


def add_search(p: argparse.ArgumentParser) -> None:
    """The options of the ``search`` sub-command."""
    p.description = __doc__
    p.add_argument("--run", required=True, help="run directory (created, or resumed when it holds a run)")
    _run_options(p)
    add_executor_options(p)
    p.add_argument("--retry-failed", action="store_true", help="evaluate the run's failed evaluations again first")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=_search)


def add_propose(p: argparse.ArgumentParser) -> None:
    """The options of the ``propose`` sub-command (the ask of ask/tell)."""
    p.description = __doc__
    p.add_argument("--run", required=True, help="run directory (created when it holds no run)")
    p.add_argument("-q", type=COUNT, default=8, help="number of candidates (default 8)")
    p.add_argument("--out", required=True, help="CSV file of the candidates: idx, then one column per choice")
    _run_options(p)
    p.set_defaults(func=_propose)


def add_tell(p: argparse.ArgumentParser) -> None:
    """The options of the ``tell`` sub-command (the tell of ask/tell)."""
    p.description = __doc__
    p.add_argument("--run", required=True, help="run directory")
    p.add_argument("results", help="CSV or parquet: idx, one column per objective, optional error")
    p.add_argument("--evaluator", default="external", help="identity stored with the values")
    p.add_argument(
        "--replace",
        action="store_true",
        help="rows of candidates told already replace their stored values (same checks; nothing changes if a row "
        "is wrong)",
    )
    p.set_defaults(func=_tell)


def add_withdraw(p: argparse.ArgumentParser) -> None:
    """The options of the ``withdraw`` sub-command (undoes a tell)."""
    p.description = __doc__
    p.add_argument("--run", required=True, help="run directory")
    p.add_argument(
        "--idx", required=True, type=naturals, help="comma-separated candidate numbers whose results to remove"
    )
    p.set_defaults(func=_withdraw)


# ---------------------------------------------------------------------------- helpers
#: Config keys whose values must be of a kind: key -> (type, what the message calls it).
CONFIG_KINDS = {
    "problem": (dict, "a mapping"),
    "strategy": (str, "a strategy name"),
    "strategy_options": (dict, "a mapping"),
    "initial": (list, "a list of configurations"),
}


def _load_config(path: str | None) -> dict[str, Any]:
    """The search configuration file ``path`` (``{}`` when None): a mapping of
    :data:`CONFIG_KEYS`; the numbers are checked with the run's configuration."""
    from cimnet_bo.core import InputFileError, read_yaml

    if path is None:
        return {}
    data = read_yaml(path, "config file")
    unknown = sorted(set(data) - set(CONFIG_KEYS) - {"version", "problem_description"})
    if unknown:
        raise InputFileError(f"config file {path}: unknown keys {unknown}; known: {list(CONFIG_KEYS)}")
    for key, (kind, noun) in CONFIG_KINDS.items():
        if data.get(key) is not None and not isinstance(data[key], kind):
            raise InputFileError(f"config file {path}: {key!r} must be {noun}, got {data[key]!r}")
    return data


def _problem_spec(args: argparse.Namespace, cfg: dict[str, Any]) -> dict[str, Any] | None:
    spec = dict(cfg.get("problem") or {})
    given = False
    if args.space is not None:
        spec["space"], given = args.space, True
    if args.mode is not None:
        spec["mode"], given = args.mode, True
    if args.objectives is not None:
        spec["objectives"], given = args.objectives, True
    if args.energy:
        spec["energy"], given = True, True
    for key in ("area_budget", "power_budget"):
        text = getattr(args, key)
        if text is not None:
            v = text.strip().lower()
            try:
                spec[key] = None if v == "none" else "baseline" if v == "baseline" else float(v)
            except ValueError:
                raise ValueError(
                    f"--{key.replace('_', '-')} must be a number, 'baseline' or 'none', got {text!r}"
                ) from None
            given = True
    for key in ("accuracy", "checkpoint", "images", "table", "model", "input_shape", "unknown_ops"):
        if getattr(args, key) is not None:
            spec[key], given = getattr(args, key), True
    if spec.get("model") is None:
        for key in ("input_shape", "unknown_ops"):
            if getattr(args, key) is not None:
                raise ValueError(f"--{key.replace('_', '-')} applies only with --model")
    elif spec.get("input_shape") is None:
        raise ValueError(f"--model {spec['model']!r} needs --input-shape (e.g. 1,3,224,224)")
    if not spec and not given:
        return None
    if "python" in spec:
        raise ValueError("the config's problem was defined in Python and cannot be rebuilt from the file")
    return spec


def _open_run(args: argparse.Namespace, need_budget: bool):
    """The run of ``--run`` (opened, or created from the options and ``--config``); every input
    is read and checked before anything is written."""
    from cimnet_bo.core import check_output_path, removed_on_error
    from cimnet_bo.search import Run, make_strategy, problem_from_spec
    from cimnet_bo.store import holds_run

    check_output_path(args.run, "run folder", folder=True)
    cfg = _load_config(args.config)
    spec = _problem_spec(args, cfg)
    options = {**(cfg.get("strategy_options") or {}), **strategy_overrides(args)}
    strategy = args.strategy or cfg.get("strategy")
    budget = args.budget if args.budget is not None else cfg.get("budget")
    if budget is None and not need_budget and not holds_run(args.run):
        budget = 10**9  # a new ask/tell run: no budget of its own
    if strategy is not None:  # unknown strategies and options fail before the problem is built
        make_strategy(strategy, **options)
    problem = problem_from_spec(spec) if spec is not None else None
    initial = _read_configs(args.initial, _space_of(args.run, problem)) if args.initial else cfg.get("initial")
    with removed_on_error(args.run):  # a run folder this call makes is removed when the run cannot be opened
        return Run.open(
            args.run,
            problem,
            strategy,
            budget,
            args.batch_size if args.batch_size is not None else cfg.get("batch_size"),
            args.seed if args.seed is not None else cfg.get("seed"),
            args.n_init if args.n_init is not None else cfg.get("n_init"),
            options or None,
            initial,
        )


def _store_errors(args: argparse.Namespace):
    """SQLite errors of the run store of ``--run`` as errors naming the store (a context manager)."""
    from cimnet_bo.store import RUN_STORE_FILE, store_errors

    return store_errors(Path(args.run) / RUN_STORE_FILE)


def _space_of(run_dir: str, problem):
    """The search space of ``problem``, or of the run stored in ``run_dir``."""
    from cimnet_bo.search import Run

    if problem is not None:
        return problem.space
    with Run.open(run_dir) as run:
        return run.problem.space


def _read_configs(path: str, space) -> list[dict[str, Any]]:
    """Configurations from a CSV / parquet file: the columns that name a choice of ``space``.

    An empty cell is allowed for a choice that the row's other choices switch off (a layer
    beyond the depth); an empty active choice is an error naming the row and the choice."""
    import numpy as np

    from cimnet_bo.search import ProblemError
    from cimnet_bo.store import read_table

    frame, _ = read_table(path, "initial configurations")
    names = list(space.names)
    given = [c for c in frame.columns if c in names]
    if not given:
        raise ProblemError(f"{path} has no column named after a choice of space {space.name!r}: {names}")
    out = []
    for i, cfg in enumerate(frame[given].to_dict(orient="records")):
        empty = [k for k, v in cfg.items() if isinstance(v, float) and np.isnan(v)]
        cfg.update({k: space.choices[names.index(k)].values[0] for k in empty})
        if empty:
            try:
                active = space.active_mask(space.to_indices([cfg]))[0]
            except ValueError as e:
                raise ProblemError(f"{path} row {i}: {e}") from None
            bad = [k for k in empty if active[names.index(k)]]
            if bad:
                raise ProblemError(f"{path} row {i}: empty cell(s) for the active choice(s) {bad}")
        out.append(cfg)
    return out


def _summary(run) -> dict[str, Any]:
    return {
        "run": str(run.path),
        "strategy": run.config["strategy"],
        "evaluations": run.n_done,
        "budget": run.budget,
        "pending": len(run.pending()),
        "hypervolume": round(run.hypervolume(), 6),
        "ref_point": run.problem.ref_point,
        "ref_point_source": run.problem.ref_source,
        "ideal_point": run.problem.scale_ideal,
        "best": run.best(),
        "pareto_points": int(len(run.pareto())),
    }


# ---------------------------------------------------------------------------- commands
def _search(args: argparse.Namespace) -> int:
    from cimnet_bo.search import run_search

    executor_choice(args)  # bad executor options fail before the run is created
    with _store_errors(args), _open_run(args, need_budget=True) as run:
        cfg = run.config
        problem = run.problem
        strategy = run.strategy
    with (
        _store_errors(args),
        executor_from_args(args) as executor,
        run_search(
            problem,
            strategy,
            cfg["budget"],
            cfg["batch_size"],
            cfg["seed"],
            args.run,
            cfg["n_init"],
            executor=executor,
            progress=not args.quiet,
            retry_failed=args.retry_failed,
        ) as run,
    ):
        print(json.dumps(_summary(run), indent=2))
    return 0


def _propose(args: argparse.Namespace) -> int:
    from cimnet_bo.core import check_output_path
    from cimnet_bo.search import propose

    out = check_output_path(args.out, "--out")
    with _store_errors(args), _open_run(args, need_budget=False) as run:
        rows = propose(run, args.q, out=out)
        print(
            json.dumps(
                {
                    "proposed": len(rows),
                    "out": str(out),
                    "pending": len(run.pending()),
                    "outputs_to_tell": [n for n in run.problem.outputs if n not in run.problem.cheap_outputs],
                    "computed_here_if_missing": list(run.problem.cheap_outputs),
                },
                indent=2,
            )
        )
    return 0


def _tell(args: argparse.Namespace) -> int:
    from cimnet_bo.search import Run, tell
    from cimnet_bo.search.ask_tell import results_frame

    frame = results_frame(args.results)  # the file is read before the run is opened
    with _store_errors(args), Run.open(args.run) as run:
        res = tell(run, frame, evaluator=args.evaluator, replace=args.replace)
        res.update(hypervolume=round(run.hypervolume(), 6), best=run.best())
        print(json.dumps(res, indent=2))
    return 0


def _withdraw(args: argparse.Namespace) -> int:
    from cimnet_bo.search import Run, withdraw

    with _store_errors(args), Run.open(args.run) as run:
        res = withdraw(run, args.idx)
        res.update(hypervolume=round(run.hypervolume(), 6), best=run.best())
        print(json.dumps(res, indent=2))
    return 0
