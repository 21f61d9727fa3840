"""Labeling throughput through the Ray executor (1 and 2 workers) against in-process, and the
Ray overhead per task; JSON output.

Setting: ``vit-fmnist`` pairs labeled with the roofline and a synthetic accuracy evaluator that
costs a fixed amount of CPU work per distinct subnet (``--work-ms``, calibrated here before the
runs; a stand-in for a supernet evaluation, which needs a trained checkpoint), or with
``--accuracy supernet --checkpoint FILE`` the real supernet. For each executor:

* ``label_s``: :func:`cimnet_bo.evaluate.label` end to end on a fresh run store (plan, actor
  start, evaluation, one commit per pair), and ``pairs_per_s`` from it;
* ``steady_pairs_per_s``: the same batches through already-started workers (no start-up).

``ratio`` and ``steady_ratio`` divide by the in-process figures. The overhead per task is the
extra time per batch of one trivial evaluation (``--tasks`` of them) on one warm Ray worker,
against in-process. The local Ray instance is started once (``ray_init_s``) with
``--num-cpus`` CPUs. Timings depend on what else the machine runs: ``loadavg`` is recorded.

Usage: ``python benchmarks/bench_ray.py [--n 96] [--work-ms 50] [--batch-size 8] [--tasks 200]
[--num-cpus 2] [--accuracy synthetic|supernet] [--checkpoint FILE] [--out FILE]``
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path


class BurnAccuracy:
    """A deterministic accuracy-like value after ``iters`` rounds of SHA-256 (CPU work)."""

    def __init__(self, iters: int) -> None:
        self.iters = iters

    def __call__(self, config) -> float:
        keys = sorted(k for k in config if k.startswith(("num_layers", "heads_", "mlp_")))
        h = repr([(k, config[k]) for k in keys]).encode()
        for _ in range(self.iters):
            h = hashlib.sha256(h).digest()
        return 0.5 + int.from_bytes(h[:4], "big") / 2**33


def _one(config) -> float:
    return 1.0


def calibrate(ms: float) -> int:
    """SHA-256 rounds that take about ``ms`` milliseconds of this process's CPU time."""
    n, h = 20000, b"x"
    t = time.thread_time()
    for _ in range(n):
        h = hashlib.sha256(h).digest()
    per = (time.thread_time() - t) / n
    return max(1, int(ms / 1e3 / per))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--space", default="vit-fmnist")
    ap.add_argument("--n", type=int, default=96, help="pairs labeled per executor")
    ap.add_argument("--subnets", type=int, default=None, help="distinct subnets (default n/2)")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--work-ms", type=float, default=50.0, help="CPU time of one synthetic accuracy evaluation")
    ap.add_argument("--accuracy", choices=["synthetic", "supernet"], default="synthetic")
    ap.add_argument("--checkpoint", default=None, help="supernet weights (with --accuracy supernet)")
    ap.add_argument("--workers", default="1,2", help="Ray worker counts to time")
    ap.add_argument("--tasks", type=int, default=200, help="trivial tasks for the overhead per task")
    ap.add_argument("--num-cpus", type=int, default=2, help="CPUs of the local Ray instance")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    from cimnet_bo.evaluate import (
        AccuracyEvaluator,
        CallableEvaluator,
        CompositeEvaluator,
        InProcessExecutor,
        RayExecutor,
        RooflineEvaluator,
        SubnetCachedEvaluator,
        batches_by_subnet,
        label,
        sample_pairs,
    )
    from cimnet_bo.evaluate.ray_executor import import_ray
    from cimnet_bo.space import get_space

    ray = import_ray()
    space = get_space(args.space)
    iters = calibrate(args.work_ms) if args.accuracy == "synthetic" else 0

    def evaluators():
        if args.accuracy == "supernet":
            acc = AccuracyEvaluator(space, checkpoint=args.checkpoint)
        else:
            acc = CallableEvaluator(
                BurnAccuracy(iters), [("accuracy", "max")], space=space, name="burn", subnet_only=True
            )
        return [acc, RooflineEvaluator(space)]

    plan = sample_pairs(space, args.n, args.seed, args.subnets or (args.n + 1) // 2)
    groups = batches_by_subnet(space, plan, range(args.n), args.batch_size)
    batches = [[plan[i] for i in g] for g in groups]

    def prepared():
        acc, roof = evaluators()
        return CompositeEvaluator([SubnetCachedEvaluator(acc, space), roof])

    def timed_label(executor) -> float:
        with tempfile.TemporaryDirectory() as d:
            t = time.perf_counter()
            s = label(
                space,
                args.n,
                evaluators(),
                Path(d) / "run.sqlite",
                None,
                seed=args.seed,
                subnets=args.subnets,
                batch_size=args.batch_size,
                executor=executor,
                progress=False,
            )
            dt = time.perf_counter() - t
        assert s["ok"] == args.n, s
        return dt

    def timed_steady(executor, workers: int) -> tuple[float, float]:
        """(seconds to start and warm the workers, seconds for the batches on warm workers)."""
        ev = prepared()
        t = time.perf_counter()
        list(executor.run(ev, [batches[0][:1]] * max(1, 2 * workers)))  # every worker gets one
        warm = time.perf_counter() - t
        t = time.perf_counter()
        n = sum(len(r) for _, r in executor.run(ev, batches))  # same evaluator: the workers are kept
        dt = time.perf_counter() - t
        assert n == args.n
        return warm, dt

    def timed_tasks(executor) -> float:
        ev = CallableEvaluator(_one, ["v"], name="one")
        tasks = [[{"i": 0}]] * args.tasks
        list(executor.run(ev, tasks[:4]))  # start and warm the workers
        t = time.perf_counter()
        done = sum(1 for _ in executor.run(ev, tasks))
        assert done == args.tasks
        return (time.perf_counter() - t) / args.tasks

    results = []
    print(
        f"{args.n} pairs, {len(batches)} batches, accuracy={args.accuracy}"
        + (f" ({args.work_ms} ms, {iters} rounds)" if iters else ""),
        file=sys.stderr,
        flush=True,
    )
    inproc = InProcessExecutor()
    base = {"executor": "inprocess", "workers": 0, "label_s": timed_label(inproc)}
    base["steady_s"] = timed_steady(inproc, 0)[1]
    task_inproc = timed_tasks(inproc)
    results.append(base)
    print(f"inprocess: label {base['label_s']:.2f}s steady {base['steady_s']:.2f}s", file=sys.stderr, flush=True)

    t = time.perf_counter()
    ray.init(address="local", num_cpus=args.num_cpus, include_dashboard=False, log_to_driver=False)
    ray_init_s = time.perf_counter() - t
    overhead = {}
    try:
        for w in [int(x) for x in args.workers.split(",")]:
            rec = {"executor": "ray", "workers": w}
            with RayExecutor(workers=w) as ex:
                rec["label_s"] = timed_label(ex)
            with RayExecutor(workers=w) as ex:
                rec["workers_start_s"], rec["steady_s"] = timed_steady(ex, w)
            with RayExecutor(workers=w) as ex:
                per = timed_tasks(ex)
                overhead[str(w)] = {"s_per_task": per, "overhead_ms_per_task": (per - task_inproc) * 1e3}
            results.append(rec)
            print(
                f"ray x{w}: label {rec['label_s']:.2f}s steady {rec['steady_s']:.2f}s; "
                f"{per * 1e3:.2f} ms per trivial task",
                file=sys.stderr,
                flush=True,
            )
    finally:
        ray.shutdown()

    for r in results:
        r["pairs_per_s"] = args.n / r["label_s"]
        r["steady_pairs_per_s"] = args.n / r["steady_s"]
        r["ratio"] = base["label_s"] / r["label_s"]
        r["steady_ratio"] = base["steady_s"] / r["steady_s"]
        for k, v in list(r.items()):
            if isinstance(v, float):
                r[k] = round(v, 4)
    out = {
        "benchmark": "ray_executor",
        "space": args.space,
        "n_pairs": args.n,
        "batches": len(batches),
        "batch_size": args.batch_size,
        "accuracy": args.accuracy,
        "work_ms_per_subnet": args.work_ms,
        "distinct_subnets": len({tuple(p[k] for k in space.subnet.names) for p in plan}),
        "ray_version": ray.__version__,
        "ray_num_cpus": args.num_cpus,
        "ray_init_s": round(ray_init_s, 2),
        "results": results,
        "overhead_per_task": {
            "tasks": args.tasks,
            "inprocess_ms_per_task": round(task_inproc * 1e3, 4),
            "ray_workers": {
                k: {kk: round(vv * (1e3 if kk == "s_per_task" else 1), 4) for kk, vv in v.items()}
                for k, v in overhead.items()
            },
        },
        "machine": {
            "cpus": os.cpu_count(),
            "loadavg": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
    }
    for v in out["overhead_per_task"]["ray_workers"].values():
        v["ms_per_task"] = v.pop("s_per_task")
    text = json.dumps(out, indent=2)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
