"""Categorical choices taken as unordered or as ordered: qNEHVI hypervolume at equal budget, JSON.

Problem: :func:`cimnet_bo.search.toy.operator_problem` (an operator choice of eight names whose
quality and cost are a scrambled table, three ordinal sizes, two minimised objectives, both
modelled by the GP surrogate). Variants, each run with the same seeds, budget and options:

* ``categorical``: the operator is a categorical choice: the GPs compare it by equality
  (``CategoricalKernel``) and NSGA-II on the predictors recombines and mutates it as a label;
* ``ordinal``: the same problem with the operator declared ordered (by list position): RBF
  kernel on its rank, SBX and polynomial mutation;
* ``random``: random search, for scale.

Reported: the normalised hypervolume as a fraction of the exact optimum (the front by
enumeration, :func:`cimnet_bo.search.toy.operator_front`) at budget checkpoints, per seed and
as mean / std / min / max; the seeds on which ``categorical`` beats ``ordinal`` at the final
budget; and each run's wall time (noisy on a shared machine).

Usage::

    python benchmarks/bench_categorical.py --seeds 5 --budget 64 \\
        --out benchmarks/results/bench_categorical.json
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from results_json import emit, machine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

#: qNEHVI options of every model-based run: a pool (500) smaller than the space (1,920), so
#: that mutations and NSGA-II on the predictors supply part of it.
QNEHVI_OPTIONS = {
    "pool_size": 500,
    "pop_size": 32,
    "n_gen": 6,
    "shortlist": 64,
    "mc_samples": 32,
    "gp_maxiter": 60,
    "xgb_params": {"n_estimators": 100, "n_jobs": 1},
}
VARIANTS = ("categorical", "ordinal", "random")


def one_run(variant: str, seed: int, budget: int, batch_size: int, n_init: int) -> dict:
    """Hypervolume curve (fraction of the optimum per evaluation) and wall time of one run."""
    from cimnet_bo.search import run_search
    from cimnet_bo.search.toy import operator_front, operator_problem

    problem = operator_problem(categorical=variant != "ordinal")
    optimum = problem.hypervolume(operator_front())
    strategy, options = ("random", {}) if variant == "random" else ("qnehvi", QNEHVI_OPTIONS)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as d:
        with run_search(
            problem,
            strategy,
            budget=budget,
            batch_size=batch_size,
            n_init=n_init,
            seed=seed,
            run_dir=d,
            strategy_options=options,
            progress=False,
        ) as run:
            curve = run.hypervolume_curve() / optimum
    return {"curve": [round(float(v), 4) for v in curve], "wall_s": round(time.perf_counter() - t0, 1)}


def summary(values: list[float]) -> dict:
    import numpy as np

    v = np.asarray(values, dtype=float)
    return {
        "mean": round(float(v.mean()), 4),
        "std": round(float(v.std()), 4),
        "min": round(float(v.min()), 4),
        "max": round(float(v.max()), 4),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--budget", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--n-init", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1, help="torch threads")
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    variants = args.variants.split(",")
    checkpoints = sorted({c for c in (16, 32, 48, 64, 80) if c < args.budget} | {args.budget})
    runs = {v: [one_run(v, s, args.budget, args.batch_size, args.n_init) for s in range(args.seeds)] for v in variants}
    results = {}
    for v, rs in runs.items():
        results[v] = {
            "per_seed_final": [r["curve"][-1] for r in rs],
            "at": {str(c): summary([r["curve"][c - 1] for r in rs]) for c in checkpoints},
            "wall_s": [r["wall_s"] for r in rs],
        }
        line = "  ".join(f"{c}: {results[v]['at'][str(c)]['mean']:.3f}" for c in checkpoints)
        print(f"{v:12s} {line}   per seed at {args.budget}: {results[v]['per_seed_final']}", file=sys.stderr)
    out = {
        "benchmark": "categorical",
        "problem": "operators (cimnet_bo.search.toy.operator_problem)",
        "metric": "normalised hypervolume / exact optimum",
        "seeds": args.seeds,
        "budget": args.budget,
        "batch_size": args.batch_size,
        "n_init": args.n_init,
        "qnehvi_options": QNEHVI_OPTIONS,
        "results": results,
        "machine": machine(),
    }
    if {"categorical", "ordinal"} <= set(runs):
        cat, ordi = results["categorical"]["per_seed_final"], results["ordinal"]["per_seed_final"]
        out["categorical_beats_ordinal_final"] = f"{sum(a > b for a, b in zip(cat, ordi))}/{args.seeds}"
    emit(out, args.out)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
