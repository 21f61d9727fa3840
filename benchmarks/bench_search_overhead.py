"""Overhead of one qNEHVI round (everything but the true evaluations), JSON output.

Setting: ``vit-fmnist`` joint problem (maximise accuracy, minimise latency, area <= baseline),
500 observed configurations (random, evaluated with the roofline and a synthetic accuracy,
:class:`cimnet_bo.search.toy.SyntheticAccuracy`, so no supernet is needed), a pool of 20,000
candidates and batch size 8. For each surrogate (``gp``, ``xgb-ensemble``, ``gp-xgb-mean``) and
with the cheap roofline objectives used as known functions or modelled, rounds of one run are
timed in the same process: ``cold`` (empty caches: the run's random reservoir, the roofline
and the features of 20,000+ candidates are computed; it sees one batch fewer observations),
``warm`` (the steady state of a long run, the next round: only the round's new mutations and
evolved candidates are new, and the GPs start from the cold round's fitted hyper-parameters)
and ``warm_refit``, a later warm round whose evaluations pass a power of 1.25 since the warm
round (500 to 517 by default: :func:`cimnet_bo.search.warm_start.passes_growth`), so its GPs
also fit from the defaults, as one round in about thirteen does at this size. The breakdown is the
strategy's own timing: its phases (predictors, pool, surrogate, acquisition) with the time of
roofline evaluations (``roofline``), of placing subnets on chips (``best_chips``) and of the
acquisition's screen of the pool (``screen``) taken out of the phase they ran in; the entries
add up to the round's time. ``goals`` says, per surrogate and ``known_cheap`` setting, whether
a warm round takes at most :data:`GOAL_WARM_S` and a cold one at most :data:`GOAL_COLD_S`
seconds. A third round, ``restart``, is the first round of a new process of a run with a
directory: caches empty but for what the run keeps on disk (the exact best chips of the
subnets placed by the cold round). One small round (a pool of
500) runs first and is reported apart as ``process_warmup_s``: the one-off costs of a fresh
Python process (lazy imports, first torch / BoTorch / XGBoost calls) are not a round's overhead.

Usage: ``python benchmarks/bench_search_overhead.py [--n-obs 500] [--pool 20000] [--q 8]
[--surrogates gp,xgb-ensemble,gp-xgb-mean] [--threads 2] [--hardware auto|best|search] [--out FILE]``
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

from results_json import emit, machine

#: Seconds a round may take: warm (a long run's steady state) and cold (empty caches).
GOAL_WARM_S = 2.0
GOAL_COLD_S = 5.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--space", default="vit-fmnist")
    ap.add_argument("--n-obs", type=int, default=500)
    ap.add_argument("--pool", type=int, default=20000)
    ap.add_argument("--q", type=int, default=8)
    ap.add_argument("--surrogates", default="gp,xgb-ensemble,gp-xgb-mean")
    ap.add_argument("--known", default="true,false", help="known_cheap settings to time (true,false)")
    ap.add_argument("--threads", type=int, default=2, help="torch / XGBoost / OpenMP threads")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--hardware",
        default="auto",
        help="qNEHVI hardware mode: auto (default: best chips where possible), best or search",
    )
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)

    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    from cimnet_bo.search import QNEHVI, Problem, run_search
    from cimnet_bo.search.state import Caches, SearchState
    from cimnet_bo.search.toy import SyntheticAccuracy
    from cimnet_bo.search.warm_start import passes_growth

    problem = Problem.from_space(args.space, accuracy=SyntheticAccuracy(args.space))
    n_refit = next(n for n in range(args.n_obs + 1, 2 * args.n_obs + 2) if passes_growth(args.n_obs, n))
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as d:
        for budget in (args.n_obs, n_refit):  # the observations, then those of the refit round
            run = run_search(
                problem,
                "random",
                budget=budget,
                batch_size=args.n_obs,
                n_init=args.n_obs,
                seed=args.seed,
                run_dir=d,
                progress=False,
            )
            rows = run.rows()
            run.close()
    setup_s = time.perf_counter() - t0
    t = time.perf_counter()
    QNEHVI(pool_size=500, xgb_params={"n_jobs": args.threads}).propose(
        SearchState.from_rows(problem, rows[: args.n_obs], [], Caches.for_problem(problem), seed=args.seed),
        args.q,
        np.random.default_rng(args.seed),
    )
    warmup_s = time.perf_counter() - t
    results = []
    goals = []
    for surrogate in args.surrogates.split(","):
        for known in [k.strip().lower() == "true" for k in args.known.split(",")]:
            strat = QNEHVI(
                surrogate=surrogate,
                known_cheap=known,
                pool_size=args.pool,
                hardware=args.hardware,
                xgb_params={"n_jobs": args.threads},
            )
            rec = {"surrogate": surrogate, "known_cheap": known}
            with tempfile.TemporaryDirectory() as run_dir:
                caches = Caches.for_problem(problem, run_dir)
                # the cold round is the round before: one batch fewer evaluations
                counts = {"cold": args.n_obs - args.q, "warm": args.n_obs, "warm_refit": n_refit, "restart": args.n_obs}
                for phase, n in counts.items():
                    if phase == "restart":  # a new process: only the run directory is kept
                        caches = Caches.for_problem(problem, run_dir)
                    state = SearchState.from_rows(problem, rows[:n], [], caches, seed=args.seed)
                    rng = np.random.default_rng([args.seed, args.n_obs, phase == "warm"])
                    t = time.perf_counter()
                    picks = strat.propose(state, args.q, rng)
                    rec[f"{phase}_s"] = round(time.perf_counter() - t, 3)
                    rec[f"{phase}_breakdown_s"] = strat.last_info.get("seconds")
                    rec[f"{phase}_pool"] = strat.last_info.get("pool")
                    rec["picked"] = len(picks)
            rec["hardware"] = "best" if strat.best_chips(state) is not None else "search"
            results.append(rec)
            goals.append(
                {
                    "surrogate": surrogate,
                    "known_cheap": known,
                    "warm_pass": rec["warm_s"] <= GOAL_WARM_S,
                    "cold_pass": rec["cold_s"] <= GOAL_COLD_S,
                }
            )
            print(
                f"{surrogate:>13} known={known!s:5} cold {rec['cold_s']:6.2f}s warm {rec['warm_s']:6.2f}s "
                f"warm_refit {rec['warm_refit_s']:6.2f}s restart {rec['restart_s']:6.2f}s "
                f"{rec['warm_breakdown_s']}",
                file=sys.stderr,
                flush=True,
            )
    out = {
        "benchmark": "search_overhead",
        "space": args.space,
        "n_observations": args.n_obs,
        "n_observations_refit": n_refit,
        "pool_size": args.pool,
        "batch_size": args.q,
        "threads": args.threads,
        "goals_s": {"warm": GOAL_WARM_S, "cold": GOAL_COLD_S},
        "setup_s": round(setup_s, 2),
        "process_warmup_s": round(warmup_s, 2),
        "machine": machine(),
        "results": results,
        "goals": goals,
    }
    emit(out, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
