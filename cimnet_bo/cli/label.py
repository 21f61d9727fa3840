"""``cimnet-bo label``: label sampled (subnet, hardware) pairs into a run store and a dataset.

Example::

    cimnet-bo label --space vit-fmnist -n 3000 --seed 0 --out data/labels/vit_fmnist.parquet

Relabel after the hardware model or space changed, reusing the accuracies an earlier table
measured with the same supernet checkpoint (only subnets it lacks are evaluated)::

    cimnet-bo label --space vit-fmnist -n 3000 --seed 0 --subnets 800 \
        --out data/labels/vit_fmnist.parquet --accuracy-from old_vit_fmnist.parquet

Interrupted runs resume when the same command is run again (the run store, by default
``runs/labels/<out name>.sqlite``, holds every finished evaluation). On a Ray cluster::

    cimnet-bo label --space vit-fmnist -n 3000 --out data/labels/vit_fmnist.parquet \
        --executor ray --ray-address auto --ray-num-gpus 1
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cimnet_bo.cli.args import COUNT, NATURAL, add_executor_options, add_space_option, executor_from_args


def add_label(p: argparse.ArgumentParser) -> None:
    """The options of the ``label`` sub-command."""
    p.description = __doc__
    add_space_option(p)
    p.add_argument("-n", type=COUNT, required=True, help="number of (subnet, hardware) pairs")
    p.add_argument("--seed", type=NATURAL, default=0, help="sampling seed (default 0)")
    p.add_argument("--out", required=True, help="dataset to write (.parquet or .csv)")
    p.add_argument(
        "--subnets", type=COUNT, default=None, help="distinct subnets among the pairs (default: n/2 rounded up)"
    )
    p.add_argument(
        "--store", default=None, help="run store (SQLite) to write and resume (default runs/labels/<out stem>.sqlite)"
    )
    p.add_argument(
        "--accuracy",
        default="supernet",
        help="'supernet' (default: the trained supernet), 'none', or MODULE:FUNCTION, a function config -> accuracy",
    )
    p.add_argument("--checkpoint", default=None, help="supernet weights (default data/supernets/<space>.pt)")
    p.add_argument(
        "--accuracy-from",
        action="append",
        default=None,
        metavar="TABLE",
        help="an earlier labeled table (.parquet or .csv; its hardware half may be of an older "
        "version): reuse its accuracy for the subnets it holds, if the same evaluator (for "
        "the supernet: the same checkpoint checksum, split and subset) measured it; other "
        "subnets are evaluated. Repeatable (the first table holding a subnet wins)",
    )
    p.add_argument("--split", default="val", help="split for supernet accuracy (default val)")
    p.add_argument(
        "--images", type=COUNT, default=None, help="supernet accuracy on the first N images of the split (default all)"
    )
    p.add_argument(
        "--device", default=None, help="torch device for supernet accuracy (default cpu; cuda with --ray-num-gpus > 0)"
    )
    p.add_argument("--tech", default=None, help="YAML of technology constants for the roofline")
    p.add_argument("--no-roofline", action="store_true", help="do not compute latency/energy/area")
    p.add_argument("--batch-size", type=COUNT, default=16, help="pairs per batch (default 16)")
    add_executor_options(p)
    p.add_argument("--retry-failed", action="store_true", help="evaluate failed candidates again")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def default_store(out: str | Path) -> Path:
    """``runs/labels/<out stem>.sqlite``: the run store of a labeling run by default."""
    return Path("runs") / "labels" / f"{Path(out).stem}.sqlite"


def build_evaluators(args: argparse.Namespace, space):
    """The evaluators a labeling run uses, from the command-line options."""
    from cimnet_bo.evaluate import CallableEvaluator, RooflineEvaluator, supernet_accuracy
    from cimnet_bo.evaluate.evaluators import load_function

    evals = []
    acc = args.accuracy
    if args.images is not None and acc != "supernet":
        raise ValueError(f"--images applies to --accuracy supernet, not to --accuracy {acc!r}")
    if acc == "supernet":
        device = args.device or ("cuda" if (getattr(args, "ray_num_gpus", None) or 0) > 0 else "cpu")
        indices = None if args.images is None else range(args.images)
        evals.append(
            supernet_accuracy(space, checkpoint=args.checkpoint, split=args.split, device=device, indices=indices)
        )
    elif acc and acc != "none":
        try:
            fn = load_function(acc)
        except ValueError as e:
            raise ValueError(f"--accuracy must be 'supernet', 'none' or MODULE:FUNCTION: {e}") from None
        evals.append(
            CallableEvaluator(fn, [("accuracy", "max")], space=space, name=f"callable:{acc}", subnet_only=True)
        )
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
    from cimnet_bo.store import store_errors

    space = get_space(args.space)
    store = Path(args.store) if args.store else default_store(args.out)
    evaluators = build_evaluators(args, space)
    with store_errors(store), executor_from_args(args) as executor:
        summary = label(
            space,
            args.n,
            evaluators,
            store,
            args.out,
            seed=args.seed,
            subnets=args.subnets,
            batch_size=args.batch_size,
            executor=executor,
            progress=not args.no_progress,
            retry_failed=args.retry_failed,
            reuse_from=args.accuracy_from or (),
        )
    print(json.dumps(summary, indent=2))
    return 0 if summary["ok"] else 1
