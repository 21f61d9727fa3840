"""Failures benchmark: how often a search proposes configurations whose evaluation fails, on a
problem with a known invalid region. JSON output.

The problem is :func:`cimnet_bo.search.toy.zdt_invalid_problem`: discretised ZDT1 (4 choices of
11 levels, 14,641 configurations) whose evaluator raises inside a disc of the ``(x0, x1)``
plane over the middle of the Pareto front, 14.9 % of the space: the failure rate of uniform
random search. Each strategy runs ``--seeds`` times with the same budget, batch size and
random initial design; per run it reports the failed proposals after the initial design
(count and rate), the final normalised hypervolume (failed rows are not points) and its share
of the best hypervolume the valid configurations allow, the wall time, and how many times the
runner stopped because every evaluation of a round failed (the run is then resumed, as a user
would after reading the error, so every run spends its budget).

Strategies are ``NAME`` or ``NAME:key=value,...`` (strategy options over the small qNEHVI
settings below), e.g. ``qnehvi:failure_model=false``. Goal: qnehvi's failed-proposal rate after
the initial design at most random search's.

Usage::

    python benchmarks/bench_failures.py --seeds 5 --budget 80 --out benchmarks/results/bench_failures.json
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import itertools  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cimnet_bo.search import SearchError, run_search  # noqa: E402
from cimnet_bo.search.toy import zdt_invalid, zdt_invalid_problem, zdt_invalid_share, zdt_values  # noqa: E402
from results_json import emit, machine  # noqa: E402

DEFAULT_STRATEGIES = "qnehvi,qnehvi:failure_model=false,random"
#: qNEHVI settings for a few seconds per round on two cores (the pool and the fits kept small).
QNEHVI_OPTIONS = {
    "pool_size": 1000,
    "pop_size": 32,
    "n_gen": 6,
    "shortlist": 128,
    "mc_samples": 32,
    "gp_maxiter": 50,
    "xgb_params": {"n_estimators": 100, "n_jobs": 1},
}


def parse_strategy(text: str) -> tuple[str, dict]:
    """``"qnehvi:failure_model=false"`` -> (``"qnehvi"``, options)."""
    import yaml

    name, _, rest = text.partition(":")
    opts = {}
    for part in filter(None, rest.split(",")):
        k, _, v = part.partition("=")
        opts[k.strip()] = yaml.safe_load(v)
    name = name.strip()
    return name, ({**QNEHVI_OPTIONS, **opts} if name == "qnehvi" else opts)


def best_valid_hypervolume() -> float:
    """The hypervolume of every valid configuration of the problem (the most a run can reach)."""
    p = zdt_invalid_problem()
    grid = np.array(list(itertools.product(range(11), repeat=4)))
    Y = np.array([[v["f1"], v["f2"]] for v in map(zdt_values, p.space.from_indices(grid))])
    return float(p.hypervolume(Y, ~zdt_invalid(grid)))


def one_run(name: str, opts: dict, seed: int, budget: int, batch_size: int, n_init: int, run_dir: Path) -> dict:
    """One run to its budget, resumed after each all-failed-round stop."""
    problem = zdt_invalid_problem()
    t0 = time.perf_counter()
    stops = 0
    while True:
        try:
            run = run_search(
                problem,
                name,
                budget=budget,
                batch_size=batch_size,
                n_init=n_init,
                seed=seed,
                run_dir=run_dir,
                strategy_options=opts,
                progress=False,
            )
            break
        except SearchError:
            stops += 1
    with run:
        rows = run.rows()
        hv = run.hypervolume()
    after = [r for r in rows if r["tag"] != "init"]
    failed = sum(r["error"] is not None for r in after)
    return {
        "seed": seed,
        "proposals_after_init": len(after),
        "failed_after_init": failed,
        "failed_rate_after_init": round(failed / max(len(after), 1), 4),
        "failed_in_initial_design": sum(r["error"] is not None for r in rows if r["tag"] == "init"),
        "hypervolume": round(hv, 4),
        "all_failed_round_stops": stops,
        "wall_s": round(time.perf_counter() - t0, 1),
    }


def summarise(runs: list[dict], best_hv: float) -> dict:
    failed = np.array([r["failed_after_init"] for r in runs])
    proposals = np.array([r["proposals_after_init"] for r in runs])
    hv = np.array([r["hypervolume"] for r in runs])
    rate = failed / np.maximum(proposals, 1)
    return {
        "failed_after_init": failed.tolist(),
        "failed_rate_after_init_pooled": round(float(failed.sum() / proposals.sum()), 4),
        "failed_rate_after_init_min_max": [round(float(rate.min()), 4), round(float(rate.max()), 4)],
        "hypervolume_mean": round(float(hv.mean()), 4),
        "hypervolume_min_max": [float(hv.min()), float(hv.max())],
        "hypervolume_share_of_best_mean": round(float(hv.mean() / best_hv), 4),
        "all_failed_round_stops": int(sum(r["all_failed_round_stops"] for r in runs)),
        "wall_s_mean": round(float(np.mean([r["wall_s"] for r in runs])), 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--budget", type=int, default=80)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--n-init", type=int, default=8)
    ap.add_argument("--strategies", default=DEFAULT_STRATEGIES)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    best_hv = best_valid_hypervolume()
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-failures-") as tmp:
        for k, text in enumerate(args.strategies.split(",")):
            name, opts = parse_strategy(text)
            runs = []
            for seed in range(args.seeds):
                run_dir = Path(tmp) / f"{k}-{seed}"
                runs.append(one_run(name, opts, seed, args.budget, args.batch_size, args.n_init, run_dir))
                print(text, runs[-1], file=sys.stderr, flush=True)
            results[text] = {"summary": summarise(runs, best_hv), "runs": runs}
    out = {
        "benchmark": "failures",
        "problem": "zdt1-invalid (cimnet_bo.search.toy.zdt_invalid_problem)",
        "invalid_share": round(zdt_invalid_share(), 4),
        "best_valid_hypervolume": round(best_hv, 4),
        "seeds": args.seeds,
        "budget": args.budget,
        "batch_size": args.batch_size,
        "n_init": args.n_init,
        "qnehvi_options": QNEHVI_OPTIONS,
        "strategies": results,
        "machine": machine(),
    }
    emit(out, args.out)


if __name__ == "__main__":
    main()
