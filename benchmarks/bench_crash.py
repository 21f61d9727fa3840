"""Crash benchmark: ``cimnet-bo search`` and ``label`` killed with SIGKILL at random moments, then
resumed; checks that nothing is lost, stored twice or left hanging. JSON output.

Each trial runs one of the commands (``search`` and ``label`` alternate):

1. the *reference*: the same command run uninterrupted in a fresh folder (once per command);
2. the command in its own process group (``start_new_session``) with fresh caches in the
   trial's folder (:data:`CACHE_VARS`: torch's C++ extensions, which the first qNEHVI round
   compiles, XDG caches, ``HOME``, ``TMPDIR``, ...), killed as a whole group with SIGKILL at a
   moment drawn uniformly in [1 s, the reference's run time] (``--kills-per-trial`` times,
   each kill restarting the command first);
3. the *resume*: the same command again, with the same caches, to completion, or killed and
   counted as hung after ``--hang-limit`` seconds (its CPU seconds tell a process waiting on a
   lock, which uses next to none, from a slow one).

A kill drawn after the command has already exited is not delivered; trials go on until
``--kills`` kills have been delivered (at most twice the trials that takes without misses).

Per trial it reports:

* ``lost``: evaluations missing from the store after the resume: rows stored before a kill,
  and, when the resume completed, rows of the reference (keyed by candidate ``idx``);
* ``duplicated``: copies of a candidate ``idx`` or configuration beyond as many as the
  reference holds;
* ``identical``: the resume completed and its store holds the reference's rows, every field
  but the row id and time (``idx``, tag, configuration, objectives, extra outputs, error,
  evaluator, seed), floats equal to the last bit;
* ``orphans``: processes of the killed command (any process carrying the trial's marker in its
  environment: compiler, ninja, Python children) still alive a second after a SIGKILL of its
  group; they are then killed;
* ``locks_after_kill``: locks left in the trial's caches by a kill that would stop the next
  command (torch's ``lock`` files, ``flock`` files still held).

Totals sum them over the trials (goal: 0 lost, 0 duplicated, 0 hung, every trial identical,
0 orphans). Sizes (``--search-budget``, ``--label-n``) are chosen for 1 to 2 minute commands on
a 2-core machine; each command's stores and logs stay in ``--workdir`` with ``--keep``.

Usage: ``python benchmarks/bench_crash.py [--kills 20] [--kills-per-trial 1] [--seed 0]
[--search-budget 12] [--label-n 40] [--hang-limit 300] [--workdir DIR] [--keep] [--out FILE]``
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cimnet_bo.core import acquire_flock
from cimnet_bo.store import RunStore, config_key
from results_json import emit, machine

REPO = Path(__file__).resolve().parents[1]
#: Environment variable naming the trial folder in every process a command starts.
MARKER = "CIMNET_CRASH_TRIAL"
#: Cache and scratch locations a command may write, each pointed at a fresh sub-folder.
CACHE_VARS = {
    "HOME": "home",
    "XDG_CACHE_HOME": "xdg_cache",
    "TORCH_EXTENSIONS_DIR": "torch_extensions",
    "CIMNET_TORCH_EXTENSIONS": "cimnet_torch_extensions",
    "TORCH_HOME": "torch_home",
    "TORCHINDUCTOR_CACHE_DIR": "torchinductor",
    "TRITON_CACHE_DIR": "triton",
    "PYTORCH_KERNEL_CACHE_PATH": "torch_kernels",
    "MPLCONFIGDIR": "matplotlib",
    "TMPDIR": "tmp",
}
#: Fields of a stored row left out of the comparison with the reference.
VOLATILE_FIELDS = ("id", "created")


@dataclass(frozen=True)
class Command:
    """A ``cimnet-bo`` command line run in a folder ``{dir}``, and its run store there."""

    name: str
    argv: tuple[str, ...]
    store: str

    def line(self, folder: Path) -> list[str]:
        """The full command line with ``{dir}`` set to ``folder``."""
        return [sys.executable, "-m", "cimnet_bo", *(a.replace("{dir}", str(folder)) for a in self.argv)]


def commands(search_budget: int, label_n: int) -> dict[str, Command]:
    """The two commands under test: a qNEHVI search and a labeling run of ``vit-fmnist``."""
    search = (
        "search --space vit-fmnist --strategy qnehvi --batch-size 4 --seed 0 --run {dir}/run --quiet --budget"
    ).split() + [str(search_budget)]
    label = f"label --space vit-fmnist -n {label_n} --out {{dir}}/labels.parquet --store {{dir}}/labels.sqlite"
    return {
        "search": Command("search", tuple(search), "run/store.sqlite"),
        "label": Command("label", (*label.split(), "--no-progress"), "labels.sqlite"),
    }


def fresh_env(folder: Path) -> dict[str, str]:
    """The environment of a command run in ``folder``: every :data:`CACHE_VARS` location an
    empty sub-folder of ``folder/cache``, :data:`MARKER` set, this checkout on the path."""
    env = {**os.environ, "PYTHONPATH": str(REPO), MARKER: str(folder)}
    for var, sub in CACHE_VARS.items():
        path = folder / "cache" / sub
        path.mkdir(parents=True, exist_ok=True)
        env[var] = str(path)
    return env


@dataclass(frozen=True)
class Outcome:
    """How a command run ended: exit code (None when its group was killed), wall seconds, and
    CPU seconds of its main process and of the children that process waited for."""

    exit_code: int | None
    seconds: float
    cpu_s: float


def run_until(cmd: Command, folder: Path, env: dict[str, str], log: str, limit_s: float) -> Outcome:
    """Run ``cmd`` in ``folder`` as the leader of a new process group (output to ``log`` files)
    until it exits or ``limit_s`` pass; then SIGKILL its whole group."""
    t0 = time.perf_counter()
    with open(folder / f"{log}.out", "wb") as out, open(folder / f"{log}.err", "wb") as err:
        proc = subprocess.Popen(cmd.line(folder), cwd=folder, env=env, stdout=out, stderr=err, start_new_session=True)
    deadline = t0 + limit_s
    pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
    while pid == 0 and time.perf_counter() < deadline:
        time.sleep(0.05)
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
    killed = pid == 0
    if killed:
        os.killpg(proc.pid, signal.SIGKILL)
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Outcome(None if killed else proc.returncode, time.perf_counter() - t0, usage.ru_utime + usage.ru_stime)


def marked_processes(folder: Path) -> list[tuple[int, str]]:
    """(pid, name) of the live processes whose environment holds ``MARKER=folder`` (zombies
    left out)."""
    tag = f"{MARKER}={folder}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            if stat[stat.rindex(")") + 2] == "Z" or tag not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            found.append((int(entry.name), stat[stat.index("(") + 1 : stat.rindex(")")]))
        except (OSError, ValueError):
            continue
    return found


def orphans_after_kill(folder: Path, grace_s: float = 1.0) -> list[str]:
    """Names of the processes of ``folder``'s command still alive ``grace_s`` after a group
    kill; each is then killed by its pid."""
    time.sleep(grace_s)
    left = marked_processes(folder)
    for pid, _ in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return [name for _, name in left]


def lock_files(folder: Path) -> list[str]:
    """Locks left under ``folder/cache`` that would stop the next command, relative to it: torch's
    ``lock`` files (a build waits on them while they exist) and ``*.lock`` files some process
    still holds an ``flock`` on (the project's locks, released by the system when their holder
    dies, count only while held)."""
    root = folder / "cache"
    found = []
    for p in root.rglob("*"):
        if not p.is_file() or not p.name.endswith("lock"):
            continue
        if p.name.endswith(".lock"):
            fd = acquire_flock(p)
            if fd is not None:
                os.close(fd)
                continue
        found.append(str(p.relative_to(root)))
    return sorted(found)


def row_key(idx: int | None, checksum: str) -> Any:
    """What identifies a stored candidate: its ``idx``, else its configuration checksum."""
    return idx if idx is not None else ("config", checksum)


def keys_now(store: Path) -> set[Any]:
    """:func:`row_key` of every row a (possibly half-written) store holds, read without
    writing to it; empty when the store or its table does not exist yet."""
    if not store.exists():
        return set()
    try:
        conn = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
        try:
            return {row_key(i, k) for i, k in conn.execute("SELECT idx, config_key FROM evaluations")}
        finally:
            conn.close()
    except sqlite3.Error:
        return set()


def bits(value: Any) -> Any:
    """``value`` with every float written as its exact hexadecimal form (NaN included), so
    that equal results compare equal to the last bit."""
    if isinstance(value, float):
        return value.hex()
    if isinstance(value, dict):
        return {k: bits(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [bits(v) for v in value]
    return value


def stored_rows(store: Path) -> list[dict[str, Any]]:
    """The store's rows without :data:`VOLATILE_FIELDS`, floats exact (:func:`bits`), in
    candidate order."""
    with RunStore(store, create=False) as st:
        rows = [bits({k: v for k, v in r.items() if k not in VOLATILE_FIELDS}) for r in st.rows()]
    return sorted(rows, key=lambda r: (r["idx"] is None, r["idx"] or 0, json.dumps(r, sort_keys=True)))


def keys_of(rows: list[dict[str, Any]]) -> list[Any]:
    """:func:`row_key` of each of ``rows``."""
    return [row_key(r["idx"], config_key(r["config"])) for r in rows]


def duplicates(rows: list[dict[str, Any]], reference: list[dict[str, Any]]) -> int:
    """Copies of a candidate ``idx`` or configuration in ``rows`` beyond the reference's count."""
    extra = 0
    for field in ("idx", "config"):
        have = collections.Counter(json.dumps(r[field], sort_keys=True) for r in rows if r[field] is not None)
        want = collections.Counter(json.dumps(r[field], sort_keys=True) for r in reference if r[field] is not None)
        extra += sum(max(0, n - want[k]) for k, n in have.items())
    return extra


def last_line(path: Path) -> str:
    """The last non-empty line of a text file ('' when there is none)."""
    lines = [x for x in path.read_text(errors="replace").splitlines() if x.strip()] if path.exists() else []
    return lines[-1] if lines else ""


def reference(cmd: Command, folder: Path, limit_s: float) -> tuple[list[dict[str, Any]], float]:
    """(rows, seconds) of ``cmd`` run uninterrupted with fresh caches in ``folder``."""
    folder.mkdir(parents=True)
    run = run_until(cmd, folder, fresh_env(folder), "reference", limit_s)
    if run.exit_code != 0:
        why = "hung" if run.exit_code is None else f"exit code {run.exit_code}: {last_line(folder / 'reference.err')}"
        raise SystemExit(f"reference run of {cmd.name} in {folder} failed ({why})")
    return stored_rows(folder / cmd.store), run.seconds


def trial(
    cmd: Command,
    folder: Path,
    ref_rows: list[dict[str, Any]],
    ref_s: float,
    kills: int,
    rng: random.Random,
    hang_limit_s: float,
) -> dict[str, Any]:
    """One trial: ``kills`` runs of ``cmd`` in ``folder``, each SIGKILLed at a random moment in
    [1 s, ``ref_s``] (not delivered when it exited before), a resume, the checks."""
    folder.mkdir(parents=True)
    env = fresh_env(folder)
    store = folder / cmd.store
    killed, before, orphans = [], set(), []
    for k in range(kills):
        at = rng.uniform(1.0, max(1.0, ref_s))
        run = run_until(cmd, folder, env, f"killed-{k}", at)
        orphans += orphans_after_kill(folder)
        before |= keys_now(store)
        killed.append(
            {
                "kill_s": round(at, 2),
                "delivered": run.exit_code is None,
                "exit_code": run.exit_code,
                "rows_after": len(keys_now(store)),
                "locks_after_kill": lock_files(folder),
            }
        )
    resume = run_until(cmd, folder, env, "resume", hang_limit_s)
    hung = resume.exit_code is None
    if hung:
        orphans += orphans_after_kill(folder)
    rows = stored_rows(store) if store.exists() else []
    ok = resume.exit_code == 0
    expected = before | (set(keys_of(ref_rows)) if ok else set())
    return {
        "command": cmd.name,
        "command_line": " ".join(["python", *cmd.line(folder)[1:]]),
        "kills": killed,
        "kill_s": [k["kill_s"] for k in killed],
        "resumed_ok": ok,
        "resume_exit_code": resume.exit_code,
        "resume_s": round(resume.seconds, 2),
        "resume_cpu_s": round(resume.cpu_s, 2),
        "hung": hung,
        "rows": len(rows),
        "reference_rows": len(ref_rows),
        "lost": len(expected - set(keys_of(rows))),
        "duplicated": duplicates(rows, ref_rows),
        "identical": ok and rows == ref_rows,
        "orphans": len(orphans),
        "orphan_names": orphans,
        "resume_error": "" if ok or hung else last_line(folder / "resume.err"),
    }


def progress(i: int, t: dict[str, Any]) -> str:
    """One line about trial number ``i`` (from 0)."""
    kills = ", ".join(f"{k['kill_s']:.1f}s" + ("" if k["delivered"] else " (had exited)") for k in t["kills"])
    locks = sorted({lock for k in t["kills"] for lock in k["locks_after_kill"]})
    state = "HUNG" if t["hung"] else ("ok" if t["resumed_ok"] else f"FAILED rc={t['resume_exit_code']}")
    return (
        f"[{i + 1:2d}] {t['command']:<6} kill@ {kills} | rows at kill {t['kills'][-1]['rows_after']:3d} | "
        f"resume {t['resume_s']:6.1f}s ({t['resume_cpu_s']:.1f} s CPU) {state} | rows {t['rows']}/"
        f"{t['reference_rows']} lost {t['lost']} dup {t['duplicated']} identical {'yes' if t['identical'] else 'NO'} "
        f"orphans {t['orphans']}"
        + (f" {','.join(t['orphan_names'])}" if t["orphans"] else "")
        + (f" | locks left: {', '.join(locks)}" if locks else "")
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=20, help="SIGKILLs in total (default 20)")
    ap.add_argument("--kills-per-trial", type=int, default=1, help="SIGKILLs before each resume (default 1)")
    ap.add_argument(
        "--commands", default="search,label", help="commands the trials cycle through (default search,label)"
    )
    ap.add_argument("--seed", type=int, default=0, help="seed of the kill times (default 0)")
    ap.add_argument("--search-budget", type=int, default=12, help="search evaluations (default 12)")
    ap.add_argument("--label-n", type=int, default=40, help="pairs to label (default 40)")
    ap.add_argument("--hang-limit", type=float, default=300.0, help="seconds before a resume counts as hung (300)")
    ap.add_argument("--workdir", default=None, help="folder for the runs (default: a new temporary folder)")
    ap.add_argument("--keep", action="store_true", help="keep the runs, logs and caches in --workdir")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    available = commands(args.search_budget, args.label_n)
    names = args.commands.split(",")
    unknown = [n for n in names if n not in available]
    if unknown or args.kills < 1 or args.kills_per_trial < 1 or args.kills % args.kills_per_trial:
        ap.error(
            f"--commands {args.commands!r} (known: {', '.join(available)}), --kills {args.kills} and "
            f"--kills-per-trial {args.kills_per_trial}: need known commands and kills a positive multiple of "
            "kills per trial"
        )
    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench_crash-")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    refs: dict[Command, tuple[list[dict[str, Any]], float]] = {}
    trials: list[dict[str, Any]] = []
    delivered = 0
    t_start = time.perf_counter()
    try:
        while delivered < args.kills and len(trials) < 2 * args.kills // args.kills_per_trial:
            cmd = available[names[len(trials) % len(names)]]
            if cmd not in refs:
                refs[cmd] = reference(cmd, work / f"reference-{cmd.name}", args.hang_limit)
                print(f"reference {cmd.name}: {len(refs[cmd][0])} rows in {refs[cmd][1]:.1f}s", file=sys.stderr)
            ref_rows, ref_s = refs[cmd]
            t = trial(
                cmd, work / f"trial-{len(trials):02d}", ref_rows, ref_s, args.kills_per_trial, rng, args.hang_limit
            )
            delivered += sum(k["delivered"] for k in t["kills"])
            trials.append(t)
            print(progress(len(trials) - 1, t), file=sys.stderr, flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    totals = {
        "trials": len(trials),
        "kills_delivered": delivered,
        "lost": sum(t["lost"] for t in trials),
        "duplicated": sum(t["duplicated"] for t in trials),
        "hung": sum(t["hung"] for t in trials),
        "resume_failed": sum(not t["resumed_ok"] and not t["hung"] for t in trials),
        "identical": sum(t["identical"] for t in trials),
        "orphans": sum(t["orphans"] for t in trials),
    }
    out = {
        "benchmark": "crash",
        "repo": str(REPO),
        "kills": args.kills,
        "kills_per_trial": args.kills_per_trial,
        "seed": args.seed,
        "hang_limit_s": args.hang_limit,
        "commands": {c.name: " ".join(c.argv) for c in refs},
        "reference_s": {c.name: round(s, 2) for c, (_, s) in refs.items()},
        "reference_rows": {c.name: len(r) for c, (r, _) in refs.items()},
        "goal": {"lost": 0, "duplicated": 0, "hung": 0, "identical": len(trials), "orphans": 0},
        "totals": totals,
        "seconds": round(time.perf_counter() - t_start, 1),
        "workdir": str(work) if args.keep else None,
        "machine": machine(),
        "trials": trials,
    }
    emit(out, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
