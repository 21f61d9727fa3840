"""Predictor quality: learning curves of XGBoost and the baselines, and the accuracy noise floor.

For each labeled dataset (default ``data/labels/vit_fmnist.parquet`` and
``data/labels/cnn_fmnist.parquet``), each objective (accuracy, latency_s) and each predictor
(xgb, ridge, svr, mlp, gp): train on 100, 200, 500, 1000 and 2000 random rows, test on all the
other rows, 5 random splits per size; record Kendall tau, Spearman, RMSE, MAPE, fit and predict
times. ``--extra-objectives`` (e.g. ``energy_j,area_mm2,power_w``) are benchmarked the same way
with ``--extra-models`` only (default xgb). Accuracy rows are the dataset's *distinct subnets* (a
test subnet is never trained on); latency rows are (subnet, hardware) pairs. Sizes the data
cannot hold (at least 10 % and 50 rows stay out for testing) are reported as skipped, with the
reason.

Accuracy noise floor: for ``--noise-subnets`` distinct subnets of the dataset, the supernet's
accuracy on two disjoint random halves of the val split; the Kendall tau between the two
halves is the rank agreement that measurement noise alone allows (a predictor trained on
full-val labels cannot be judged beyond it). It needs the trained supernet checkpoint.

Goals checked at 1,000 training rows: latency tau >= 0.95, accuracy tau >= 0.75, XGBoost at
least as good as every baseline on latency.

Usage::

    python benchmarks/bench_predictors.py --out benchmarks/results/bench_predictors.json
    python benchmarks/bench_predictors.py --data data/labels/vit_fmnist.parquet --noise-subnets 100 \\
        --extra-objectives energy_j,area_mm2,power_w --out benchmarks/results/bench_predictors_vit.json
    python benchmarks/bench_predictors.py --data data/labels/vit_fmnist.parquet --splits 2 \\
        --sizes 100,500 --models xgb,ridge --noise-subnets 0       # a quick look

Runs single-threaded by default (``--threads``), as the machine may be shared.
"""

from __future__ import annotations

import os
import sys

_threads = "1"
for _i, _a in enumerate(sys.argv):
    if _a == "--threads" and _i + 1 < len(sys.argv):
        _threads = sys.argv[_i + 1]
    elif _a.startswith("--threads="):
        _threads = _a.split("=", 1)[1]
for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_v, _threads)

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from cimnet_bo.core.shipped import shipped_dir  # noqa: E402
from cimnet_bo.predictors import PREDICTORS, kendall_tau, spearman  # noqa: E402
from cimnet_bo.predictors.train import learning_curve, objective_data, summarize_curve  # noqa: E402
from cimnet_bo.store import read_dataset  # noqa: E402

DEFAULT_DATA = [shipped_dir("data") / "labels" / f"{name}.parquet" for name in ("vit_fmnist", "cnn_fmnist")]
GOAL_SIZE = 1000
GOALS = {"latency_s": 0.95, "accuracy": 0.75}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def noise_floor(ds, n_subnets: int, seed: int, checkpoint: str | None) -> dict:
    """Tau between accuracies on two disjoint halves of val, for ``n_subnets`` subnets."""
    from cimnet_bo.evaluate import AccuracyEvaluator
    from cimnet_bo.supernet.data import load_split

    configs, acc_full = objective_data(ds, "accuracy")
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(configs), size=min(n_subnets, len(configs)), replace=False)
    configs = [configs[i] for i in pick]
    acc_full = acc_full[pick]
    n_val = len(load_split("val")[1])
    perm = rng.permutation(n_val)
    half_a, half_b = np.sort(perm[: n_val // 2]), np.sort(perm[n_val // 2 :])
    t0 = time.perf_counter()
    ev_a = AccuracyEvaluator(ds.space, checkpoint=checkpoint, indices=half_a)
    ev_b = AccuracyEvaluator(ds.space, checkpoint=checkpoint, indices=half_b)
    ra, rb = ev_a.evaluate(configs), ev_b.evaluate(configs)
    ok = ra.ok & rb.ok
    a, b = ra.values[ok, 0], rb.values[ok, 0]
    full = acc_full[ok]
    mean_ab = (a + b) / 2  # equals the full-val accuracy when the halves are equal-sized
    return {
        "subnets": int(ok.sum()),
        "val_images_per_half": int(len(half_a)),
        "tau_half_vs_half": kendall_tau(a, b),
        "spearman_half_vs_half": spearman(a, b),
        "tau_half_a_vs_full": kendall_tau(a, full),
        "max_abs_diff_mean_halves_vs_dataset": float(np.max(np.abs(mean_ab - full))) if len(full) else None,
        "accuracy_range": [float(full.min()), float(full.max())] if len(full) else None,
        "accuracy_std": float(full.std()) if len(full) else None,
        "checkpoint_identity": ev_a.identity,
        "seconds": round(time.perf_counter() - t0, 1),
        "note": "tau of two half-val measurements: an upper bound on the tau any predictor can show "
        "against half-size noisy labels; full-val labels are less noisy (about half the variance).",
    }


def table(summary: list[dict], objectives: list[str], kinds: list[str], sizes: list[int]) -> str:
    """Markdown table: Kendall tau mean +- std per (objective, model) and size."""
    head = "| objective | model | " + " | ".join(str(s) for s in sizes) + " |"
    lines = [head, "|" + "---|" * (2 + len(sizes))]
    idx = {(r["objective"], r["kind"], r["size"]): r for r in summary}
    for o in objectives:
        for k in kinds:
            if not any((o, k, s) in idx for s in sizes):
                continue
            cells = []
            for s in sizes:
                r = idx.get((o, k, s))
                cells.append("-" if r is None else f"{r['kendall_tau_mean']:.3f} ± {r['kendall_tau_std']:.3f}")
            lines.append(f"| {o} | {k} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def goals(summary: list[dict]) -> dict:
    idx = {(r["objective"], r["kind"], r["size"]): r for r in summary}
    out = {}
    for obj, target in GOALS.items():
        r = idx.get((obj, "xgb", GOAL_SIZE))
        out[f"{obj}_xgb_tau_at_{GOAL_SIZE}"] = (
            None
            if r is None
            else {"tau": r["kendall_tau_mean"], "goal": target, "met": bool(r["kendall_tau_mean"] >= target)}
        )
    lat = {k: r["kendall_tau_mean"] for (o, k, s), r in idx.items() if o == "latency_s" and s == GOAL_SIZE}
    if "xgb" in lat:
        worse = {k: v for k, v in lat.items() if k != "xgb" and v > lat["xgb"]}
        out["latency_xgb_best_at_1000"] = {"met": not worse, "taus": lat, "baselines_better": worse}
    per_size = {}
    for (o, k, s), r in idx.items():
        if o == "latency_s":
            per_size.setdefault(s, {})[k] = r["kendall_tau_mean"]
    out["latency_xgb_best_per_size"] = {
        str(s): bool(all(v <= d["xgb"] for k, v in d.items() if k != "xgb"))
        for s, d in sorted(per_size.items())
        if "xgb" in d
    }
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", action="append", default=None, help="labeled dataset (repeatable)")
    ap.add_argument("--out", default="benchmarks/results/bench_predictors.json")
    ap.add_argument("--sizes", default="100,200,500,1000,2000")
    ap.add_argument("--splits", type=int, default=5)
    ap.add_argument("--models", default="xgb,ridge,svr,mlp,gp")
    ap.add_argument("--objectives", default="accuracy,latency_s")
    ap.add_argument(
        "--extra-objectives",
        default="",
        help="more objectives, benchmarked with --extra-models only (e.g. energy_j,area_mm2,power_w)",
    )
    ap.add_argument("--extra-models", default="xgb", help="models for --extra-objectives (default xgb)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--gp-max-size",
        type=int,
        default=1000,
        help="largest training size for the exact GP (O(n^3)); larger sizes are skipped and reported (default 1000)",
    )
    ap.add_argument(
        "--noise-subnets",
        type=int,
        default=200,
        help="subnets for the accuracy noise floor (0: skip; needs the supernet checkpoint)",
    )
    ap.add_argument(
        "--checkpoint",
        action="append",
        default=None,
        help="supernet checkpoint per dataset, in --data order (default: the shipped one)",
    )
    ap.add_argument("--threads", default="1", help="BLAS/OpenMP/torch/XGBoost threads (default 1)")
    args = ap.parse_args(argv)

    sizes = [int(s) for s in args.sizes.split(",") if s]
    kinds = [k for k in args.models.split(",") if k]
    objectives = [o for o in args.objectives.split(",") if o]
    extra = [o for o in args.extra_objectives.split(",") if o and o not in objectives]
    extra_kinds = [k for k in args.extra_models.split(",") if k]
    unknown = [k for k in kinds + (extra_kinds if extra else []) if k not in PREDICTORS]
    if unknown:
        ap.error(f"unknown models {unknown}; choose from {sorted(PREDICTORS)}")
    threads = int(args.threads)
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:  # pragma: no cover
        pass
    params = {"xgb": {"n_jobs": threads}}
    datas = [Path(d) for d in (args.data or DEFAULT_DATA)]
    out_path = Path(args.out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    result = {
        "benchmark": "bench_predictors",
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "threads": threads,
        },
        "settings": {
            "sizes": sizes,
            "splits": args.splits,
            "models": kinds,
            "objectives": objectives,
            "extra_objectives": extra,
            "extra_models": extra_kinds if extra else [],
            "seed": args.seed,
            "gp_max_size": args.gp_max_size,
            "noise_subnets": args.noise_subnets,
            "goal_size": GOAL_SIZE,
            "goals": GOALS,
        },
        "datasets": {},
    }

    def save() -> None:
        out_path.write_text(json.dumps(result, indent=2, default=float) + "\n")

    for di, path in enumerate(datas):
        name = path.stem
        if not path.exists():
            log(f"skipping {path}: not found (make it with `cimnet-bo label`)")
            result["datasets"][name] = {"skipped": f"{path} not found"}
            save()
            continue
        ds = read_dataset(path)
        entry: dict = {"path": str(path), "space": ds.space.name, "rows": len(ds), "records": [], "skipped": []}
        result["datasets"][name] = entry
        t0 = time.perf_counter()
        for obj in objectives + extra:
            if obj not in ds.frame.columns:
                entry["skipped"].append({"objective": obj, "reason": "not in the dataset"})
                continue
            n_rows = len(objective_data(ds, obj)[1])
            entry.setdefault("rows_per_objective", {})[obj] = n_rows
            for kind in kinds if obj in objectives else extra_kinds:
                ok_sizes = [s for s in sizes if kind != "gp" or s <= args.gp_max_size]
                for s in sizes:
                    if s not in ok_sizes:
                        entry["skipped"].append(
                            {
                                "objective": obj,
                                "kind": kind,
                                "size": s,
                                "reason": f"exact GP limited to {args.gp_max_size} training rows (--gp-max-size)",
                            }
                        )
                recs = learning_curve(
                    ds, obj, [kind], ok_sizes, args.splits, args.seed, params, log=lambda m: log(f"[{name}] {m}")
                )
                for r in recs:
                    if "skipped" in r:
                        if not any(
                            x.get("size") == r["size"] and x.get("objective") == obj and "kind" not in x
                            for x in entry["skipped"]
                        ):
                            entry["skipped"].append({"objective": obj, "size": r["size"], "reason": r["skipped"]})
                    else:
                        entry["records"].append(r)
                entry["summary"] = summarize_curve(entry["records"])
                save()
        entry["summary"] = summarize_curve(entry["records"])
        entry["goals"] = goals(entry["summary"])
        entry["table_kendall_tau"] = table(
            entry["summary"], objectives + extra, kinds + [k for k in extra_kinds if k not in kinds], sizes
        )
        entry["seconds"] = round(time.perf_counter() - t0, 1)
        if args.noise_subnets and "accuracy" in objectives:
            ckpt = args.checkpoint[di] if args.checkpoint and di < len(args.checkpoint) else None
            try:
                log(f"[{name}] accuracy noise floor on {args.noise_subnets} subnets ...")
                entry["noise_floor"] = noise_floor(ds, args.noise_subnets, args.seed, ckpt)
            except Exception as e:  # noqa: BLE001 - e.g. the checkpoint is missing
                entry["noise_floor"] = {"skipped": f"{type(e).__name__}: {e}"}
        save()
        print(f"\n## {name} ({ds.space.name}, {len(ds)} rows): held-out Kendall tau (mean ± std over splits)\n")
        print(entry["table_kendall_tau"])
        print(json.dumps({"goals": entry["goals"], "noise_floor": entry.get("noise_floor")}, indent=2, default=float))
    save()
    log(f"wrote {out_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
