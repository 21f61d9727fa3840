"""``cimnet-bo label``: label sampled (subnet, hardware) pairs into a run store and a dataset.

Example::

    cimnet-bo label --space vit-fmnist -n 3000 --seed 0 --out data/labels/vit_fmnist.parquet

Interrupted runs resume when the same command is run again (the run store, by default
``runs/labels/<out name>.sqlite``, holds every finished evaluation).
"""

from __future__ import annotations

import argparse
import importlib
import json
from pathlib import Path


def add_parser(sub) -> None:
    """Register the ``label`` sub-command."""
    p = sub.add_parser("label", help="label sampled (subnet, hardware) pairs (resumable)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--space", required=True, help="registered joint space, e.g. vit-fmnist")
    p.add_argument("-n", type=int, required=True, help="number of (subnet, hardware) pairs")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    p.add_argument("--out", required=True, help="dataset to write (.parquet or .csv)")
    p.add_argument("--subnets", type=int, default=None,
                   help="distinct subnets among the pairs (default: n/2 rounded up)")
    p.add_argument("--store", default=None,
                   help="run store (SQLite) to write and resume (default runs/labels/<out stem>.sqlite)")
    p.add_argument("--accuracy", default="supernet",
                   help="'supernet' (default: the trained supernet), 'none', or MODULE:FUNCTION, a "
                        "function config -> accuracy")
    p.add_argument("--checkpoint", default=None, help="supernet weights (default data/supernets/<space>.pt)")
    p.add_argument("--split", default="val", help="split for supernet accuracy (default val)")
    p.add_argument("--device", default="cpu", help="torch device for supernet accuracy")
    p.add_argument("--tech", default=None, help="YAML of technology constants for the roofline")
    p.add_argument("--no-roofline", action="store_true", help="do not compute latency/energy/area")
    p.add_argument("--batch-size", type=int, default=16, help="pairs per batch (default 16)")
    p.add_argument("--workers", type=int, default=0, help="worker processes (default 0: in-process)")
    p.add_argument("--retry-failed", action="store_true", help="evaluate failed candidates again")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def default_store(out: str | Path) -> Path:
    """``runs/labels/<out stem>.sqlite``: the run store of a labeling run by default."""
    return Path("runs") / "labels" / f"{Path(out).stem}.sqlite"


def build_evaluators(args: argparse.Namespace, space):
    """The evaluators a labeling run uses, from the command-line options."""
    from cimnet_bo.evaluate import AccuracyEvaluator, CallableEvaluator, RooflineEvaluator

    evals = []
    acc = args.accuracy
    if acc == "supernet":
        evals.append(AccuracyEvaluator(space, checkpoint=args.checkpoint, split=args.split, device=args.device))
    elif acc and acc != "none":
        if ":" not in acc:
            raise ValueError(f"--accuracy must be 'supernet', 'none' or MODULE:FUNCTION, got {acc!r}")
        mod, name = acc.split(":", 1)
        fn = getattr(importlib.import_module(mod), name)
        evals.append(CallableEvaluator(fn, [("accuracy", "max")], space=space, name=f"callable:{acc}",
                                       subnet_only=True))
    if not args.no_roofline:
        tech = None
        if args.tech:
            from cimnet_bo.hardware import Technology

            tech = Technology.from_yaml(args.tech)
        evals.append(RooflineEvaluator(space, tech=tech))
    if not evals:
        raise ValueError("nothing to evaluate: --accuracy none together with --no-roofline")
    return evals


def run(args: argparse.Namespace) -> int:
    """Run (or resume) the labeling; print the summary as JSON."""
    from cimnet_bo.evaluate import label
    from cimnet_bo.space import get_space

    space = get_space(args.space)
    store = Path(args.store) if args.store else default_store(args.out)
    summary = label(space, args.n, build_evaluators(args, space), store, args.out, seed=args.seed,
                    subnets=args.subnets, batch_size=args.batch_size, executor=args.workers or None,
                    progress=not args.no_progress, retry_failed=args.retry_failed)
    print(json.dumps(summary, indent=2))
    return 0 if summary["ok"] else 1
