"""``cimnet-bo report`` and ``cimnet-bo experiment``: reports of search runs, and the CiMNet-style
joint-versus-model-only experiment.

Examples::

    cimnet-bo baseline --space vit-fmnist --run runs/demo-baseline   # the baseline point, for speedups
    cimnet-bo report --run runs/demo --run runs/demo-baseline --out runs/demo/report
    cimnet-bo report --run runs/exp/baseline --run 'runs/exp/model-only-seed*' --run 'runs/exp/joint-seed*' --out rep
    cimnet-bo experiment --space vit-fmnist                      # 3 seeds, default budget, experiments/vit-fmnist
    cimnet-bo experiment --space cnn-fmnist --seeds 3 --budget 64 --out experiments/cnn-fmnist
    cimnet-bo experiment --space vit-fmnist --accuracy cimnet_bo.search.toy:synthetic_accuracy --budget 16 --out /tmp/x
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cimnet_bo.cli.args import (
    COUNT,
    NATURAL,
    add_space_option,
    add_strategy_options,
    names,
    numbers,
    strategy_overrides,
)


def _seeds(text: str) -> int | list[int]:
    """A number of seeds (``3``: seeds 0, 1, 2) or a comma-separated list of distinct seeds."""
    try:
        if "," not in text:
            return COUNT(text)
        seeds = [NATURAL(t) for t in names(text)]
    except argparse.ArgumentTypeError:
        seeds = []
    if not seeds or len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(
            f"must be a number of seeds >= 1 or a comma-separated list of distinct seeds >= 0, got {text!r}"
        )
    return seeds


def add_report(p: argparse.ArgumentParser) -> None:
    """The options of the ``report`` sub-command."""
    p.description = __doc__
    p.add_argument(
        "--run",
        action="append",
        required=True,
        metavar="DIR",
        help="run directory (repeatable; also a glob pattern or a folder of runs). A run marked as "
        "baseline (cimnet-bo experiment) adds the iso-accuracy speedup table",
    )
    p.add_argument("--out", required=True, help="report folder (index.html, report.md, PNG and CSV files)")
    p.add_argument("--title", default=None)
    p.add_argument(
        "--targets", type=numbers, default=None, help="accuracy offsets of the speedup table (default 0,-0.005,-0.01)"
    )
    p.add_argument("--no-roofline", action="store_true", help="skip the roofline figures")
    p.add_argument("--top", type=NATURAL, default=5, help="best points printed per run (default 5)")
    p.set_defaults(func=_report)


def add_baseline(p: argparse.ArgumentParser) -> None:
    """The options of the ``baseline`` sub-command."""
    p.description = __doc__
    add_space_option(p)
    p.add_argument("--run", required=True, help="run directory to create (an existing one is kept)")
    p.add_argument(
        "--accuracy", default="supernet", help="supernet (default) or MODULE:FUNCTION (a function of the configuration)"
    )
    p.add_argument("--checkpoint", default=None, help="supernet weights (default data/supernets/<space>.pt)")
    p.set_defaults(func=_baseline)


def add_experiment(p: argparse.ArgumentParser) -> None:
    """The options of the ``experiment`` sub-command."""
    p.description = __doc__
    add_space_option(p)
    p.add_argument("--seeds", type=_seeds, default=None, help="number of seeds, or a list such as 0,1,2 (default 3)")
    p.add_argument(
        "--budget",
        type=COUNT,
        default=None,
        help="evaluations per search run (default: 96 for vit-fmnist, 64 for cnn-fmnist)",
    )
    p.add_argument("--batch-size", type=COUNT, default=8, help="candidates per round (default 8)")
    p.add_argument("--n-init", type=COUNT, default=None, help="random initial design (default 2 x batch size)")
    add_strategy_options(p, default="qnehvi")
    p.add_argument(
        "--accuracy", default="supernet", help="'supernet' (default: the shipped trained supernet) or MODULE:FUNCTION"
    )
    p.add_argument("--checkpoint", default=None, help="supernet weights (default data/supernets/<space>.pt)")
    p.add_argument("--out", default=None, help="results folder (default experiments/<space>)")
    p.add_argument("--runs", default=None, help="folder of the run directories (default <out>/runs)")
    p.add_argument(
        "--targets", type=numbers, default=None, help="accuracy offsets of the table (default 0,-0.005,-0.01)"
    )
    p.add_argument("--workers", type=NATURAL, default=0, help="evaluation worker processes (default 0: in-process)")
    p.add_argument("--no-report", action="store_true", help="only the table and RESULTS.md, no full report")
    p.add_argument(
        "--hardware-only",
        action="store_true",
        help="only the largest network on its best chip against the baseline chip (exact, no "
        "accuracy needed; e.g. ViT-B itself on vit-b-imagenet)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=_experiment)


def _report(args: argparse.Namespace) -> int:
    from cimnet_bo.analysis.report import write_report
    from cimnet_bo.analysis.runs import DEFAULT_TARGETS, load_runs

    runs = load_runs(args.run)
    rep = write_report(
        runs, args.out, title=args.title, targets=args.targets or DEFAULT_TARGETS, roofline=not args.no_roofline
    )
    print(rep.text(top=args.top))
    return 0


def _baseline(args: argparse.Namespace) -> int:
    from cimnet_bo.analysis.compare import baseline_point
    from cimnet_bo.analysis.experiment import make_baseline_run
    from cimnet_bo.analysis.runs import load_run
    from cimnet_bo.search import Problem
    from cimnet_bo.store import RUN_STORE_FILE, store_errors

    problem = Problem.from_space(args.space, mode="model-only", accuracy=args.accuracy, checkpoint=args.checkpoint)
    with store_errors(Path(args.run) / RUN_STORE_FILE):
        path = make_baseline_run(args.run, problem)
    b = baseline_point(load_run(path))
    print(
        f"baseline ({args.space}, largest subnet on the baseline chip): accuracy {b['accuracy']:.4f}, "
        f"latency {b['latency_s']:.4g} s, area {b['area_mm2']:.4g} mm^2, peak power {b['power_w']:.4g} W "
        f"-> {path}"
    )
    return 0


def _experiment(args: argparse.Namespace) -> int:
    from cimnet_bo.analysis.experiment import DEFAULT_QNEHVI_OPTIONS, hardware_only_experiment, run_experiment
    from cimnet_bo.analysis.runs import DEFAULT_TARGETS

    if args.hardware_only:
        search_only = ("seeds", "budget", "n_init", "runs", "checkpoint", "targets")
        given = [f"--{k.replace('_', '-')}" for k in search_only if getattr(args, k) is not None]
        if given:
            raise ValueError(f"--hardware-only runs no search: {', '.join(given)} do not apply")
        r = hardware_only_experiment(args.space, out=args.out)
        print(
            f"{args.space}, largest network: baseline chip {r['baseline']['latency_s'] * 1e3:.4g} ms, best chip "
            f"{r['best']['latency_s'] * 1e3:.4g} ms: {r['speedup']:.2f}x faster, energy per inference "
            f"{1 / r['energy_ratio']:.2f}x the baseline chip's"
        )
        print(f"results: {r['results']}")
        return 0

    overrides = strategy_overrides(args)
    options: dict[str, Any] | None = None
    if overrides:
        options = {**(DEFAULT_QNEHVI_OPTIONS if args.strategy == "qnehvi" else {}), **overrides}
    res = run_experiment(
        args.space,
        out=args.out,
        runs_dir=args.runs,
        seeds=args.seeds if args.seeds is not None else 3,
        budget=args.budget,
        batch_size=args.batch_size,
        n_init=args.n_init,
        strategy=args.strategy,
        strategy_options=options,
        accuracy=args.accuracy,
        checkpoint=args.checkpoint,
        targets=args.targets or DEFAULT_TARGETS,
        executor=args.workers or None,
        progress=not args.quiet,
        report=not args.no_report,
    )
    b = res.baseline
    print(
        f"baseline ({args.space}, largest subnet on the baseline chip): accuracy {b['accuracy']:.4f}, "
        f"latency {b['latency_s']:.4g} s"
    )
    print(res.table().to_string(index=False))
    print(f"results: {res.results}")
    if res.report is not None:
        print(f"report:  {res.report.html}")
    return 0
