"""Speed of the CiM roofline model v2 (``cimnet_bo.hardware.simulate_many``), one thread, JSON.

Every workload runs on ``vit-b-imagenet`` subnet configurations x ``cim-server`` chips and its
time *includes* building the networks' layer batches and validating the hardware knobs:

* ``random_pairs``: every pair its own random subnet and chip (``space.sample_indices``),
  given as arrays (choice name -> values, knob name -> values):
  ``simulate_many(SubnetConfigs(space, subnet_columns), knob_arrays)``;
  ``random_pairs_records`` is the same with lists of dicts (what ``space.sample`` gives),
  ``random_pairs_as_frame`` the same as ``random_pairs`` returning a DataFrame;
* ``search_like``: S distinct subnets x H chips each (a search proposes few subnets and many
  chips), as ``simulate_many(vit_batch(space, S configs), knob_arrays, table_index=...)``,
  the ``vit_batch`` call timed too; ``search_like_configs`` gives the same pairs as subnet
  columns with every subnet repeated H times (``SubnetConfigs``);
* ``where_time_goes_s_per_100k``: CPU seconds per 100k pairs of each stage of one call
  (hardware knob validation and conversion, batch building, the kernel, the rest), timed by
  wrapping simulate_many's stage functions; the kernel's time is split by its ``# --- Title``
  sections with a line tracer (as shares, rescaled to the kernel's untraced time);
* ``peak_memory``: tracemalloc peak of one call on ``--memory-n`` (10 million) pairs given as
  arrays (lazy, chunk by chunk), beyond its inputs; outputs are listed separately;
* ``accuracy``: the largest relative difference from :func:`simulate` (the reference) on a
  sample of pairs of every workload.

Throughputs are wall-clock, best of ``--repeat`` runs (the load average is recorded: on a
shared machine other processes slow every number down). ``--before FILE`` embeds an earlier
run (e.g. of the code before an optimisation) under ``"before"`` and reports the speed-ups.

Usage: ``python benchmarks/bench_roofline.py [--n 1000000] [--S 100 --H 10000]
[--memory-n 10000000] [--before FILE] [--out FILE]``
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import inspect  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from collections import defaultdict  # noqa: E402

import numpy as np  # noqa: E402

from cimnet_bo.hardware import SubnetConfigs, simulate, simulate_many, vit_batch  # noqa: E402
from cimnet_bo.space import get_space  # noqa: E402
from cimnet_bo.workload import layer_table  # noqa: E402

SPACE = "vit-b-imagenet"
OUT_KEYS = ("latency_s", "energy_j", "area_mm2", "power_w", "program_time_s")


CPU_TIMES: dict = {}  # id(fn) -> best CPU seconds of the last best_of(fn)


def best_of(fn, repeat=3):
    """(best wall-clock seconds, last result) over ``repeat`` runs (the machine may be
    shared); the best CPU time (this process) goes to ``CPU_TIMES[id(fn)]``."""
    best, cpu, out = float("inf"), float("inf"), None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        best = min(best, time.perf_counter() - t0)
        cpu = min(cpu, time.process_time() - c0)
    CPU_TIMES[id(fn)] = cpu
    return best, out


def rate(pairs: int, seconds: float, fn) -> dict:
    """Throughput entries: wall clock, and CPU time of this process (one core's work, which
    other processes on a shared machine do not inflate)."""
    cpu = CPU_TIMES[id(fn)]
    return {
        "pairs": pairs,
        "seconds": seconds,
        "pairs_per_s": pairs / seconds,
        "cpu_seconds": cpu,
        "pairs_per_cpu_s": pairs / cpu,
    }


# ------------------------------------------------------------------------------ inputs
def columns(space, idx: np.ndarray) -> dict[str, np.ndarray]:
    """Choice name -> value array from a (n x choices) index matrix of ``space``."""
    return {ch.name: np.asarray(ch.values)[idx[:, j]] for j, ch in enumerate(space.choices)}


def records(cols: dict[str, np.ndarray], lo: int, hi: int) -> list[dict]:
    """Rows lo..hi-1 of columns as a list of dicts with Python scalars (like space.sample)."""
    lists = {k: v[lo:hi].tolist() for k, v in cols.items()}
    return [dict(zip(lists, vals)) for vals in zip(*lists.values())]


def random_inputs(space, n: int, seed: int):
    sub = columns(space.subnet, space.subnet.sample_indices(n, seed))
    hw = columns(space.hardware, space.hardware.sample_indices(n, seed + 1))
    return sub, hw


def search_inputs(space, S: int, H: int, seed: int):
    """S distinct subnets (list of dicts), S*H chips (knob arrays), pair i -> subnet index[i]."""
    sub = columns(space.subnet, space.subnet.sample_indices(S, seed + 2))
    hw = columns(space.hardware, space.hardware.sample_indices(S * H, seed + 3))
    return records(sub, 0, S), sub, hw, np.repeat(np.arange(S), H)


def max_rel_err(space, sub_rows, hw_rows, out, picks) -> float:
    """Largest relative difference of ``out`` (dict of arrays) from simulate on ``picks``."""
    err = 0.0
    for i in picks:
        ref = simulate(layer_table(space, sub_rows[i]), hw_rows[i])
        for k in OUT_KEYS:
            r = getattr(ref, k)
            err = max(err, abs(float(out[k][i]) / r - 1.0))
        assert bool(out["resident"][i]) == ref.resident
    return err


# ------------------------------------------------------------------------- line tracer
class SectionProfiler:
    """Time per (file, function, ``# --- section``) of the hardware package, by line tracing.

    Time between two line events of traced functions goes to the earlier line, so calls into
    numpy or other modules count for the line that made them.
    """

    FILES = (
        "hardware/many.py",
        "hardware/inputs.py",
        "hardware/kernel.py",
        "hardware/batch.py",
        "hardware/vit_batch.py",
        "hardware/subnets.py",
        "hardware/config.py",
    )
    #: small helpers of the kernel, not traced: their time counts for the calling line
    HELPERS = ("_dot", "_cols", "_sub", "_own", "_lp", "_part", "_spill", "spill_terms", "block")

    def __init__(self) -> None:
        self.acc: dict[str, float] = defaultdict(float)
        self.events: dict[str, int] = defaultdict(int)
        self.maps: dict[object, dict[int, str]] = {}
        self.label = "outside"
        self.t = 0.0

    def _map(self, code) -> dict[int, str]:
        m = self.maps.get(code)
        if m is None:
            stem = os.path.basename(code.co_filename)[:-3]
            qual = getattr(code, "co_qualname", code.co_name).replace(".<locals>", "")
            name = f"{stem}.{qual}"
            try:
                lines, start = inspect.getsourcelines(code)
            except OSError:
                lines, start = [], code.co_firstlineno
            m, cur = {}, name
            for k, text in enumerate(lines):
                h = re.match(r"\s*# -+ ?([^-][^(]*?)\s*(\(|-{2,}|$)", text)
                if h and k > 0:
                    cur = f"{name}: {h.group(1).strip()}"
                m[start + k] = cur
            self.maps[code] = m
        return m

    def _switch(self, label: str) -> None:
        now = time.perf_counter()
        self.acc[self.label] += now - self.t
        self.events[self.label] += 1
        self.label, self.t = label, now

    def _global(self, frame, event, arg):
        # comprehensions and lambdas are not traced: their time counts for the calling line
        code = frame.f_code
        if (
            event == "call"
            and code.co_filename.endswith(self.FILES)
            and code.co_name[0] != "<"
            and code.co_name not in self.HELPERS
        ):
            if code not in self.maps:  # reading the source is not the code's time
                t0 = time.perf_counter()
                self._map(code)
                self.t += time.perf_counter() - t0
            self._switch(self.maps[code].get(frame.f_lineno, code.co_name))
            return self._local
        return None

    def _local(self, frame, event, arg):
        if event == "line":
            self._switch(self.maps[frame.f_code].get(frame.f_lineno, frame.f_code.co_name))
        elif event == "return":
            back = frame.f_back  # the nearest traced caller (skipping comprehensions)
            while back is not None and back.f_code not in self.maps:
                back = back.f_back
            if back is not None:
                self._switch(self.maps[back.f_code].get(back.f_lineno, back.f_code.co_name))
            else:
                self._switch("outside")
        return self._local

    def calibrate(self, lines: int = 20000) -> float:
        """Seconds the tracer adds per line event (measured on a loop of trivial lines)."""
        src = "def _calib(n):\n    i = 0\n    while i < n:\n        i += 1\n"
        ns: dict = {}
        exec(compile(src, os.path.join("hardware", "many.py"), "exec"), ns)
        f = ns["_calib"]
        t0 = time.perf_counter()
        f(lines)
        plain = time.perf_counter() - t0
        sub = SectionProfiler()
        sub.maps[f.__code__] = {}
        t0 = time.perf_counter()
        sub.run(lambda: f(lines))
        traced = time.perf_counter() - t0
        return max(traced - plain, 0.0) / (2 * lines)

    def run(self, fn):
        self.t = time.perf_counter()
        sys.settrace(self._global)
        try:
            out = fn()
        finally:
            sys.settrace(None)
            self._switch("outside")
        return out


STAGES = (  # (object, attribute, stage): the functions simulate_many spends its time in
    ("inputs.Chips", "chunk", "hardware knobs: validation, conversion to arrays"),
    ("many", "check_clock", "hardware knobs: validation, conversion to arrays"),
    ("inputs.Networks", "chunk", "batch building: the chunk's networks"),
    ("subnets", "vit_batch", "batch building: the chunk's networks"),
    ("bench", "vit_batch", "batch building: the chunk's networks"),
    ("many", "chunk_totals", "kernel: the model's arithmetic"),
)


def stage_times(fn, pairs: int, repeat: int) -> dict:
    """CPU seconds per 100k pairs of each stage of ``fn`` (best of ``repeat`` runs), by
    wrapping the stage functions with timers (only the outermost timed call counts)."""
    from cimnet_bo.hardware import inputs, many, subnets

    mods = {"many": many, "inputs": inputs, "subnets": subnets, "bench": sys.modules[__name__]}
    acc: dict[str, float] = defaultdict(float)
    depth = [0]
    saved = []
    for path, attr, stage in STAGES:
        obj = mods[path.split(".")[0]]
        for part in path.split(".")[1:]:
            obj = getattr(obj, part)
        orig = obj.__dict__.get(attr) if isinstance(obj, type) else getattr(obj, attr, None)
        if orig is None:
            continue

        def timed(*args, _f=orig, _stage=stage, **kw):
            depth[0] += 1
            t0 = time.process_time()
            try:
                return _f(*args, **kw)
            finally:
                depth[0] -= 1
                if depth[0] == 0:
                    acc[_stage] += time.process_time() - t0

        saved.append((obj, attr, orig))
        setattr(obj, attr, timed)
    best = None
    try:
        for _ in range(repeat):
            acc.clear()
            t0 = time.process_time()
            fn()
            total = time.process_time() - t0
            if best is None or total < best[0]:
                best = (total, dict(acc))
    finally:
        for obj, attr, orig in saved:
            setattr(obj, attr, orig)
    total, st = best
    st["other: driver loop, argument set-up, outputs"] = total - sum(st.values())
    per = 1e5 / pairs
    return {"total": total * per, **{k: v * per for k, v in st.items()}}


def kernel_sections(fn) -> dict:
    """Shares of the kernel's time per ``# --- section`` of ``chunk_totals`` (line tracer; the
    kernel's helpers count as one entry)."""
    prof = SectionProfiler()
    per_event = prof.calibrate()
    prof.run(fn)
    acc = {k: max(v - per_event * prof.events[k], 0.0) for k, v in prof.acc.items()}
    kern: dict[str, float] = defaultdict(float)
    for k, v in acc.items():
        if k.startswith("kernel.chunk_totals"):
            kern[k.split(": ", 1)[1] if ": " in k else "set-up"] += v
    tot = sum(kern.values()) or 1.0
    return {k: v / tot for k, v in sorted(kern.items(), key=lambda kv: -kv[1])}


def where_time_goes(fn, pairs: int, repeat: int) -> dict:
    """Seconds (CPU) per 100k pairs per stage, and the kernel split by section."""
    st = stage_times(fn, pairs, repeat)
    shares = kernel_sections(fn)
    k = st.get("kernel: the model's arithmetic", 0.0)
    out = {"total_s_per_100k": round(st.pop("total"), 5)}
    out["stages_s_per_100k"] = {a: round(b, 5) for a, b in sorted(st.items(), key=lambda kv: -kv[1])}
    out["kernel_sections_s_per_100k"] = {a: round(b * k, 5) for a, b in shares.items()}
    return out


# ---------------------------------------------------------------------------- workloads
def bench(a) -> dict:
    import pandas  # noqa: F401  (simulate_many imports it lazily; not part of the timings)

    space = get_space(SPACE)
    r: dict = {}
    n = a.n
    sub, hw = random_inputs(space, n, a.seed)

    def random_arrays():
        return simulate_many(SubnetConfigs(space, sub), hw, as_frame=False)

    t, out = best_of(random_arrays, a.repeat)
    r["random_pairs"] = {
        **rate(n, t, random_arrays),
        "call": "simulate_many(SubnetConfigs(space, subnet_columns), knob_arrays, as_frame=False)",
        "resident_fraction": float(out["resident"].mean()),
        "feasible_fraction": float(out["feasible"].mean()),
    }
    picks = np.random.default_rng(a.seed).choice(n, size=min(a.check, n), replace=False)
    sub_pick = {int(i): records(sub, int(i), int(i) + 1)[0] for i in picks}
    hw_pick = {int(i): records(hw, int(i), int(i) + 1)[0] for i in picks}
    acc = {"random_pairs": max_rel_err(space, sub_pick, hw_pick, out, picks)}

    m = min(a.records_n, n)
    sub_rec, hw_rec = records(sub, 0, m), records(hw, 0, m)
    f_rec = lambda: simulate_many(SubnetConfigs(space, sub_rec), hw_rec, as_frame=False)  # noqa
    t_rec, out_rec = best_of(f_rec, a.repeat)
    assert np.allclose(out_rec["latency_s"], out["latency_s"][:m], rtol=1e-12, atol=0)
    r["random_pairs_records"] = {
        **rate(m, t_rec, f_rec),
        "call": "simulate_many(SubnetConfigs(space, list of dicts), list of dicts, as_frame=False)",
    }
    f_frame = lambda: simulate_many(SubnetConfigs(space, sub), hw)  # noqa: E731
    t_frame, _ = best_of(f_frame, a.repeat)
    r["random_pairs_as_frame"] = rate(n, t_frame, f_frame)

    # --- search-like: S subnets x H chips
    S, H = a.S, a.H
    subs_s, sub_cols_s, hw_s, index = search_inputs(space, S, H, a.seed)

    def search():
        return simulate_many(vit_batch(space, subs_s), hw_s, table_index=index, as_frame=False)

    t_s, out_s = best_of(search, a.repeat)
    r["search_like"] = {
        "subnets": S,
        "chips_per_subnet": H,
        **rate(S * H, t_s, search),
        "call": "simulate_many(vit_batch(space, S configs), knob_arrays, table_index=repeat(S, H))",
        "resident_fraction": float(out_s["resident"].mean()),
    }
    rep = {k: v[index] for k, v in sub_cols_s.items()}
    f_sc = lambda: simulate_many(SubnetConfigs(space, rep), hw_s, as_frame=False)  # noqa
    t_sc, out_sc = best_of(f_sc, a.repeat)
    assert np.allclose(out_sc["latency_s"], out_s["latency_s"], rtol=1e-12, atol=0)
    r["search_like_configs"] = {
        **rate(S * H, t_sc, f_sc),
        "call": "simulate_many(SubnetConfigs(space, subnet columns, each subnet repeated H "
        "times), knob_arrays, as_frame=False)",
    }
    picks_s = np.random.default_rng(a.seed + 1).choice(S * H, size=min(a.check, S * H), replace=False)
    acc["search_like"] = max_rel_err(
        space,
        {int(i): subs_s[index[i]] for i in picks_s},
        {int(i): records(hw_s, int(i), int(i) + 1)[0] for i in picks_s},
        out_s,
        picks_s,
    )
    r["accuracy_max_rel_err_vs_simulate"] = acc
    modes = ("random_pairs", "search_like", "search_like_configs", "random_pairs_records")
    r["goal_1M_pairs_per_s"] = {
        "wall_clock": {k: r[k]["pairs_per_s"] >= 1e6 for k in modes},
        "cpu_time": {k: r[k]["pairs_per_cpu_s"] >= 1e6 for k in modes},
    }

    # --- where the time goes, per 100k pairs
    nb = min(a.profile_n, n)
    sub_b = {k: v[:nb] for k, v in sub.items()}
    hw_b = {k: v[:nb] for k, v in hw.items()}
    f_rand = lambda: simulate_many(SubnetConfigs(space, sub_b), hw_b, as_frame=False)  # noqa: E731
    Hb = min(H, nb)
    Sb = max(1, nb // Hb)
    idx_b = np.repeat(np.arange(Sb), Hb)
    hw_sb = {k: v[: Sb * Hb] for k, v in hw_s.items()}

    def f_search():
        return simulate_many(vit_batch(space, subs_s[:Sb]), hw_sb, table_index=idx_b, as_frame=False)

    r["where_time_goes_s_per_100k"] = {
        "note": "CPU seconds per 100k pairs; stages timed by wrapping simulate_many's stage "
        "functions (best of --repeat); kernel sections from a line tracer, as shares of the "
        "kernel's time",
        "random_pairs": where_time_goes(f_rand, nb, a.repeat),
        f"search_like ({Sb} x {Hb})": where_time_goes(f_search, Sb * Hb, a.repeat),
    }
    return r


def peak_memory(n: int, seed: int, search_H: int) -> dict:
    """tracemalloc peak of one simulate_many call on n pairs given as arrays (lazy path)."""
    space = get_space(SPACE)
    res = {}
    sub, hw = random_inputs(space, n, seed)
    inputs = sum(v.nbytes for v in (*sub.values(), *hw.values()))
    S = max(1, n // search_H)
    subs_s = records(columns(space.subnet, space.subnet.sample_indices(S, seed + 2)), 0, S)
    index = np.repeat(np.arange(S), n // S)
    calls = {
        "random_pairs": lambda: simulate_many(SubnetConfigs(space, sub), hw, as_frame=False),
        f"search_like ({S} x {n // S})": lambda: simulate_many(
            vit_batch(space, subs_s), hw, table_index=index, as_frame=False
        ),
    }
    for name, fn in calls.items():
        tracemalloc.start()
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        t0 = time.perf_counter()
        out = fn()
        dt = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        outputs = sum(v.nbytes for v in out.values())
        res[name] = {
            "pairs": n,
            "seconds_traced": round(dt, 2),
            "peak_extra_MiB": round((peak - before) / 2**20, 1),
            "outputs_MiB": round(outputs / 2**20, 1),
            "peak_extra_minus_outputs_MiB": round((peak - before - outputs) / 2**20, 1),
        }
        del out
    res["inputs_MiB"] = round(inputs / 2**20, 1)
    res["note"] = (
        "inputs (subnet choice columns and knob arrays, int64/str) are built before tracing; "
        "outputs are 5 float64 + 2 bool arrays of n"
    )
    return res


def speedups(before: dict, after: dict) -> dict:
    out = {}
    for k, v in after.items():
        if isinstance(v, dict) and "pairs_per_s" in v and k in before:
            out[k] = {"wall_clock": round(v["pairs_per_s"] / before[k]["pairs_per_s"], 2)}
            if "pairs_per_cpu_s" in v and "pairs_per_cpu_s" in before[k]:
                out[k]["cpu_time"] = round(v["pairs_per_cpu_s"] / before[k]["pairs_per_cpu_s"], 2)
    return out


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=1_000_000, help="random pairs")
    p.add_argument("--S", type=int, default=100, help="distinct subnets (search-like)")
    p.add_argument("--H", type=int, default=10_000, help="chips per subnet (search-like)")
    p.add_argument("--records-n", type=int, default=100_000, help="pairs given as dicts")
    p.add_argument("--profile-n", type=int, default=100_000, help="pairs traced per workload")
    p.add_argument("--check", type=int, default=300, help="pairs checked against simulate")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--memory-n", type=int, default=10_000_000)
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory run")
    p.add_argument("--before", default=None, help="JSON of an earlier run to embed")
    p.add_argument("--label", default=None, help="what code this run measures")
    p.add_argument("--out", default=None)
    a = p.parse_args(argv)
    res = {
        "benchmark": "roofline model v2, simulate_many, including batch building",
        "space": SPACE,
        "label": a.label,
        "threads": 1,
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "cpus": os.cpu_count(),
        "load_average_1m_at_start": os.getloadavg()[0],
        **bench(a),
    }
    if not a.no_memory:
        res["peak_memory"] = peak_memory(a.memory_n, a.seed, a.H)
    res["load_average_1m_at_end"] = os.getloadavg()[0]
    if a.before:
        with open(a.before) as f:
            before = json.load(f)
        before.pop("before", None)
        res["speedup_vs_before"] = speedups(before, res)
        res["before"] = before
    text = json.dumps(res, indent=1)
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")
    return res


if __name__ == "__main__":
    main()
