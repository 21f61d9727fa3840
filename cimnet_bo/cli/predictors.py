"""``cimnet-bo train-predictors``: fit, check and save predictors of a labeled dataset.

Example::

    cimnet-bo train-predictors --data data/labels/vit_fmnist.parquet --out predictors/vit_fmnist/

writes ``<objective>.<model>.json`` (+ model file) per objective and model, ``report.json``
(held-out Kendall tau, Spearman, RMSE, MAPE, fit and predict times, learning curve) and
``learning_curve.png``.
"""

from __future__ import annotations

import argparse
import sys

from cimnet_bo.cli.args import COUNT, NATURAL, OPEN_FRACTION, add_space_option, counts, names, names_of


def add_train_predictors(p: argparse.ArgumentParser) -> None:
    """The options of the ``train-predictors`` sub-command; ``--models`` are registered predictor kinds."""
    from cimnet_bo.predictors import PREDICTORS

    kinds = PREDICTORS.names()
    p.description = __doc__
    p.add_argument("--data", required=True, help="labeled dataset (.parquet or .csv)")
    p.add_argument("--out", required=True, help="output folder, e.g. predictors/vit_fmnist/")
    add_space_option(p, required=False, help="space of the dataset (default: from the file)")
    p.add_argument(
        "--objectives",
        type=names,
        default=None,
        help="comma-separated objectives (default: every objective of the dataset but the 0/1 'feasible' indicator)",
    )
    p.add_argument(
        "--models",
        type=names_of("predictor kinds", kinds),
        default=["xgb"],
        help=f"comma-separated predictor kinds: {', '.join(kinds)} (default xgb)",
    )
    p.add_argument("--test-fraction", type=OPEN_FRACTION, default=0.2, help="held-out fraction (default 0.2)")
    p.add_argument("--seed", type=NATURAL, default=0)
    p.add_argument(
        "--curve-sizes",
        type=counts,
        default=[100, 200, 500, 1000, 2000],
        help="learning-curve training sizes (default 100,200,500,1000,2000; sizes the data cannot hold are skipped)",
    )
    p.add_argument("--curve-splits", type=NATURAL, default=1, help="random splits per size (default 1; 0: no curve)")
    p.add_argument("--jobs", type=COUNT, default=None, help="XGBoost threads (default: all cores)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Train, check and save the predictors; print the held-out metrics."""
    from cimnet_bo.predictors import train_predictors
    from cimnet_bo.store import read_dataset

    ds = read_dataset(args.data, args.space)
    params = {"xgb": {"n_jobs": args.jobs}, "gp": {"threads": args.jobs}} if args.jobs else None
    log = None if args.quiet else (lambda m: print(m, file=sys.stderr, flush=True))
    report = train_predictors(
        ds,
        args.out,
        args.objectives,
        args.models,
        args.test_fraction,
        args.seed,
        args.curve_sizes,
        args.curve_splits,
        params,
        log,
        source=args.data,
    )
    for obj, entry in report["objectives"].items():
        for kind, m in entry["models"].items():
            print(
                f"{obj:>14} {kind:>5}  n_train={entry['n_train']:5d}  tau={m['kendall_tau']:.3f}  "
                f"spearman={m['spearman']:.3f}  rmse={m['rmse']:.4g}  mape={m['mape_pct']:.2f}%"
            )
    print(f"wrote {args.out}/report.json")
    return 0
