"""Search quality: hypervolume against evaluations for every strategy, JSON output.

Tabular mode (default): a ``TableEvaluator`` over a labeled dataset (``--data``, default
``data/labels/vit_fmnist.parquet``): accuracy is looked up (and modelled by the strategies),
latency/energy/area are looked up too but declared cheap like the roofline (known functions,
exact area constraint), and only table rows can be proposed, so the table's own feasible Pareto
front is the optimum. Reported per strategy and budget checkpoint: the normalised hypervolume
(fixed reference of the registered problem, see ``cimnet_bo.search.problem``) as a fraction of
the table's optimum, mean / std / min / max over seeds; the evaluations needed to reach 95 % of
the optimum; and whether ``qnehvi`` beats each other strategy at 50 and 100 evaluations.

The registered reference points are wide (accuracy 0.70-1.00 for the Fashion-MNIST spaces)
while the subnets of a table can lie within a point or two of each other: on that scale the
hypervolume is mostly the latency axis, and the lowest-latency feasible point alone earns most
of it. So the benchmark also reports ``summary_data_scale``: the same curves with the
normalisation taken from the data (``HypervolumeScale.from_data``, the worst value moved 10 %
of the range outwards): the table's feasible rows in tabular mode (as a fraction of the
table's optimum on that scale), the union of every run's feasible points in live mode. There,
accuracy differences within the data weigh as much as latency differences.

Each run's ``wall_s`` is taken from its store (creation to last stored evaluation), so it
stays right when the benchmark is run again over kept, finished runs (``--keep-runs``), which
resumes them instead of searching again.

``--synthetic N`` builds a stand-in table first (N pairs sampled like ``cimnet-bo label``:
roofline latency/energy/area and :class:`cimnet_bo.search.toy.SyntheticAccuracy`), so that the
benchmark can run before the real labeled datasets exist.

Live mode (``--live``): the registered problem (supernet accuracy, roofline), no table; the
hypervolume curves of the strategies are compared directly.

Strategies are given as ``NAME`` or ``NAME:key=value,key=value`` (strategy options), e.g.
``qnehvi:surrogate=xgb-ensemble`` or ``qnehvi:known_cheap=false``.

Usage::

    python benchmarks/bench_search_quality.py --seeds 5 --budget 150 --out results.json
    python benchmarks/bench_search_quality.py --synthetic 600 --seeds 2 --budget 40 --batch-size 8
    python benchmarks/bench_search_quality.py --live --space vit-fmnist --seeds 3 --budget 200 \\
        --strategies qnehvi,linas,random
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_STRATEGIES = (
    "qnehvi,qnehvi:surrogate=xgb-ensemble,qnehvi:surrogate=gp-xgb-mean,qnehvi:known_cheap=false,random,nsga2,linas"
)
CHECKPOINTS = (25, 50, 75, 100, 125, 150, 200)


def parse_strategy(text: str) -> tuple[str, str, dict]:
    """``"qnehvi:surrogate=gp,pool_size=5000"`` -> (label, name, options)."""
    import yaml

    name, _, rest = text.partition(":")
    opts = {}
    for part in filter(None, rest.split(",")):
        k, _, v = part.partition("=")
        opts[k.strip()] = yaml.safe_load(v)
    return text, name.strip(), opts


def synthetic_table(space_name: str, n: int, seed: int, path: Path, noise: float = 0.006) -> Path:
    """A labeled stand-in dataset: sampled pairs, roofline outputs, synthetic accuracy."""
    import pandas as pd

    from cimnet_bo.evaluate import RooflineEvaluator, sample_pairs
    from cimnet_bo.search.toy import SyntheticAccuracy
    from cimnet_bo.space import get_space

    space = get_space(space_name)
    cfgs = sample_pairs(space, n, seed)
    res = RooflineEvaluator(space).evaluate(cfgs)
    frame = pd.DataFrame(cfgs)
    for k in ("latency_s", "energy_j", "area_mm2"):
        frame[k] = res.column(k)
    frame["accuracy"] = SyntheticAccuracy(space, noise=noise).batch(cfgs)
    frame = frame[res.ok].reset_index(drop=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)
    return path


def table_points(problem):
    """Objective values (n x m) of the table's feasible rows."""
    import numpy as np

    res = problem.evaluator.evaluate(problem.candidates)
    vals = {n: res.column(n) for n in problem.outputs}
    feas = problem.feasible(vals, len(problem.candidates)) & res.ok
    return np.column_stack([vals[n] for n in problem.objective_names])[feas]


def feasible_points(run):
    """A run's objective values (n x m) in evaluation order, NaN rows where infeasible."""
    import numpy as np

    st = run.state()
    Y = st.objective_values().astype(float)
    Y[~st.feasible()] = np.nan
    return Y


def data_scale(problem, Y):
    """A hypervolume normalisation fitted to the points ``Y`` (n x m, NaN rows ignored)."""
    from cimnet_bo.analysis import HypervolumeScale

    return HypervolumeScale.from_data(Y, [(o.name, o.direction) for o in problem.objectives], log=list(problem.log))


def wall_seconds(run) -> float:
    """Seconds from the run store's creation to its last stored evaluation (a pause between an
    interruption and its resume counts too)."""
    rows = run.store.rows()
    return max(r["created"] for r in rows) - run.store.meta["created"] if rows else 0.0


def summarise(curves: dict, optimum: float | None, checkpoints, budget: int) -> dict:
    import numpy as np

    out = {}
    for label, runs in curves.items():
        rec = {}
        for c in [c for c in checkpoints if c <= budget] + ([budget] if budget not in checkpoints else []):
            vals = np.array([r[c - 1] for r in runs if len(r) >= c])
            if not len(vals):
                continue
            frac = vals / optimum if optimum else vals
            rec[str(c)] = {
                "mean": float(frac.mean()),
                "std": float(frac.std(ddof=1)) if len(frac) > 1 else None,
                "min": float(frac.min()),
                "max": float(frac.max()),
                "seeds": int(len(frac)),
            }
        if optimum:
            reach = []
            for r in runs:
                hit = np.flatnonzero(np.asarray(r) >= 0.95 * optimum)
                reach.append(int(hit[0]) + 1 if len(hit) else None)
            rec["evals_to_95pct"] = reach
        out[label] = rec
    return out


def beats(summary: dict, base: str | None) -> dict:
    """``{checkpoint: {strategy: mean of base > mean of strategy}}`` at 50 and 100 evaluations."""
    out = {}
    if base:
        for c in ("50", "100"):
            if c in summary.get(base, {}):
                out[c] = {
                    lab: summary[base][c]["mean"] > summary[lab][c]["mean"]
                    for lab in summary
                    if lab != base and c in summary[lab]
                }
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--space", default="vit-fmnist")
    ap.add_argument("--data", default=None, help="labeled dataset (default: the shipped data/labels/<space>.parquet)")
    ap.add_argument("--synthetic", type=int, default=None, help="build a synthetic table of this many pairs")
    ap.add_argument(
        "--synthetic-noise",
        type=float,
        default=0.006,
        help="amplitude of the synthetic accuracy's fixed wiggle (harder when larger)",
    )
    ap.add_argument("--live", action="store_true", help="registered problem with the real supernet, no table")
    ap.add_argument(
        "--strategies",
        default=None,
        help=f"comma list (default {DEFAULT_STRATEGIES}; live: "
        "qnehvi,linas,random); options after ':' separated by ','",
    )
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--budget", type=int, default=150)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--n-init", type=int, default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--keep-runs", default=None, help="folder to keep the run directories in")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    from cimnet_bo.search import Problem, run_search, table_problem

    t_start = time.time()
    meta: dict = {"space": args.space, "mode": "live" if args.live else "tabular"}
    if args.live:
        from cimnet_bo.search import ProblemError

        try:
            problem = Problem.from_space(args.space)
        except ProblemError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        optimum = None
        default = "qnehvi,linas,random"
    else:
        if args.synthetic:
            data = synthetic_table(
                args.space,
                args.synthetic,
                0,
                Path(tempfile.gettempdir()) / f"synthetic_{args.space}_{args.synthetic}_{args.synthetic_noise}.parquet",
                args.synthetic_noise,
            )
            meta["data"] = (
                f"synthetic ({args.synthetic} pairs: roofline + SyntheticAccuracy, noise {args.synthetic_noise})"
            )
        else:
            from cimnet_bo.core.shipped import shipped_dir

            data = Path(args.data or shipped_dir("data") / "labels" / f"{args.space.replace('-', '_')}.parquet")
            if not data.exists():
                print(
                    f"error: {data} not found (label it with `cimnet-bo label`, or use --synthetic N)", file=sys.stderr
                )
                return 2
            meta["data"] = str(data)
        problem = table_problem(args.space, data)
        table_Y = table_points(problem)
        optimum = problem.hypervolume(table_Y)  # the optimum of a tabular search
        meta["table_rows"] = len(problem.candidates)
        meta["table_optimum_hv"] = optimum
        default = DEFAULT_STRATEGIES
    meta["problem"] = problem.describe()
    specs = [parse_strategy(s) for s in (args.strategies or default).split(",") if s.strip()]
    # strategy options that contain commas are not supported by this simple syntax
    curves: dict[str, list[list[float]]] = {}
    points: dict[str, list] = {}
    runs = []
    keep = Path(args.keep_runs) if args.keep_runs else None
    for label, name, opts in specs:
        if name in ("qnehvi", "linas"):
            opts.setdefault("xgb_params", {"n_jobs": args.threads})
        for seed in range(args.seeds):
            run_dir = (
                (keep / f"{label.replace(':', '_').replace('=', '-')}_s{seed}")
                if keep
                else Path(tempfile.mkdtemp(prefix="bench-search-"))
            )
            t0 = time.time()
            with run_search(
                problem,
                name,
                budget=args.budget,
                batch_size=args.batch_size,
                seed=seed,
                run_dir=run_dir,
                n_init=args.n_init,
                strategy_options=opts,
                progress=False,
            ) as run:
                curve = run.hypervolume_curve().tolist()
                points.setdefault(label, []).append(feasible_points(run))
                wall = wall_seconds(run)
            secs = time.time() - t0
            curves.setdefault(label, []).append(curve)
            runs.append(
                {
                    "strategy": label,
                    "seed": seed,
                    "wall_s": round(wall, 1),
                    "seconds_this_invocation": round(secs, 1),
                    "final_hv": curve[-1],
                    "curve": [round(v, 6) for v in curve],
                }
            )
            frac = f" ({curve[-1] / optimum:.3f} of optimum)" if optimum else ""
            print(f"{label:>40} seed {seed}: hv {curve[-1]:.4f}{frac} in {wall:.0f}s", file=sys.stderr, flush=True)
    summary = summarise(curves, optimum, CHECKPOINTS, args.budget)
    base = next((lab for lab, name, _ in specs if name == "qnehvi"), None)
    comparisons = beats(summary, base)
    # the data scale: from the table's feasible rows, or from every run's points (live)
    data = np.vstack([Y for runs_ in points.values() for Y in runs_]) if args.live else table_Y
    scale = data_scale(problem, data)
    scale_optimum = None if args.live else scale.hypervolume(data)
    scaled = {label: [scale.curve(Y).tolist() for Y in runs_] for label, runs_ in points.items()}
    summary_scaled = summarise(scaled, scale_optimum, CHECKPOINTS, args.budget)
    out = {
        "benchmark": "search_quality",
        **meta,
        "seeds": args.seeds,
        "budget": args.budget,
        "batch_size": args.batch_size,
        "n_init": args.n_init,
        "threads": args.threads,
        "hv_unit": "fraction of the table optimum" if optimum else "normalised hypervolume",
        "summary": summary,
        f"{base}_beats": comparisons,
        "runs": runs,
        "data_scale_bounds": {o.name: scale.bounds[:, j].tolist() for j, o in enumerate(problem.objectives)},
        "summary_data_scale": summary_scaled,
        f"{base}_beats_data_scale": beats(summary_scaled, base),
        "seconds": round(time.time() - t_start, 1),
        "machine": {"python": platform.python_version(), "cpu_count": os.cpu_count()},
    }
    text = json.dumps(out, indent=2)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")
    print(json.dumps({k: v for k, v in out.items() if k != "runs"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
