"""Start-up time and memory of the ``cimnet-bo`` command line, JSON output.

Each case runs ``python -m cimnet_bo ARGS`` ``--runs`` times in a fresh process and records the
median wall-clock time and the largest peak resident memory (``ru_maxrss`` of the child):

* ``help``: ``cimnet-bo --help`` (lists the commands; the goal is 0.3 s);
* ``search_help``: ``cimnet-bo search --help`` (loads the registries its option choices come from);
* ``train_supernet_help``: ``cimnet-bo train-supernet --help`` (the training recipes, without torch).

Times depend on what else the machine runs: ``loadavg`` is recorded. ``--repo DIR`` measures the
checkout in DIR (e.g. an export of an older commit) instead of this one.

Usage: ``python benchmarks/bench_cli_startup.py [--runs 7] [--repo DIR] [--out FILE]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from results_json import emit, machine

CASES = {"help": ["--help"], "search_help": ["search", "--help"], "train_supernet_help": ["train-supernet", "--help"]}
GOAL_S = 0.3


def run_once(argv: list[str], repo: Path) -> tuple[float, int]:
    """(wall seconds, peak RSS in KiB) of one ``python -m cimnet_bo ARGV`` run in ``repo``."""
    env = {**os.environ, "PYTHONPATH": str(repo)}
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cimnet_bo", *argv], cwd=repo, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"cimnet-bo {' '.join(argv)} failed: {proc.stderr.read().decode()}")
    proc.stderr.close()
    kib = usage.ru_maxrss // (1024 if sys.platform == "darwin" else 1)  # bytes on macOS, KiB on Linux
    return wall, int(kib)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7, help="runs per case (default 7)")
    ap.add_argument(
        "--repo", default=str(Path(__file__).resolve().parents[1]), help="checkout to measure (default: this one)"
    )
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    repo = Path(args.repo).resolve()

    results = {}
    for name, cmd in CASES.items():
        run_once(cmd, repo)  # warm the file cache
        runs = [run_once(cmd, repo) for _ in range(args.runs)]
        results[name] = {
            "argv": cmd,
            "median_s": round(statistics.median(w for w, _ in runs), 4),
            "min_s": round(min(w for w, _ in runs), 4),
            "max_rss_mb": round(max(k for _, k in runs) / 1024, 1),
        }
        print(
            f"{name:>20}: median {results[name]['median_s']:.3f} s, max RSS {results[name]['max_rss_mb']} MB",
            file=sys.stderr,
            flush=True,
        )
    out = {
        "benchmark": "cli_startup",
        "repo": str(repo),
        "runs": args.runs,
        "goal_s": GOAL_S,
        "machine": machine(),
        "results": results,
    }
    emit(out, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
