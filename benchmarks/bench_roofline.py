"""Speed of the CiM roofline model (``cimnet_bo.hardware``), one thread, JSON output.

For each space (vit-b-imagenet, vit-fmnist), on N random (subnet, hardware) pairs drawn with
``get_space(name).sample(N, seed)`` and split into their subnet and hardware halves:

* ``many_no_tables``: :func:`simulate_many` on networks already padded (a TableBatch) with
  the hardware as a list of dicts: the model itself plus reading/validating the knobs;
  ``kernel_only`` is the same with knob arrays instead of dicts;
* ``many_with_tables``: :func:`simulate_many` from the subnet configurations, building the
  padded networks chunk by chunk with the vectorised ViT builder (``SubnetConfigs``);
* ``many_with_layer_table``: the straightforward route, one ``layer_table`` per pair, then
  :func:`simulate_many` on the list (measured on a subset and extrapolated);
* ``loop``: a Python loop of :func:`simulate` per pair, without and with building each
  pair's layer table (subset, extrapolated); and the speed-up of ``simulate_many``;
* ``where_time_goes``: seconds per 100k pairs for each stage;
* ``peak_memory_1m``: extra memory (tracemalloc) of one :func:`simulate_many` call on
  1,000,000 pairs given as arrays, beyond its inputs and outputs, and the chunk arithmetic.

Usage: ``python benchmarks/bench_roofline.py [--n 100000] [--loop-n 2000] [--out FILE] [--no-1m]``
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402

import numpy as np  # noqa: E402

from cimnet_bo.hardware import SubnetConfigs, simulate, simulate_many, vit_batch  # noqa: E402
from cimnet_bo.hardware.batch import STATIC_COLS  # noqa: E402
from cimnet_bo.hardware.config import knob_arrays  # noqa: E402
from cimnet_bo.hardware.many import auto_chunk_size  # noqa: E402
from cimnet_bo.space import get_space  # noqa: E402
from cimnet_bo.workload import layer_table  # noqa: E402


def best_of(fn, repeat=3):
    """(best seconds, last result) over ``repeat`` runs (the machine may be shared)."""
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def bench_space(name: str, n: int, loop_n: int, table_n: int, seed: int, repeat: int) -> dict:
    space = get_space(name)
    t0 = time.perf_counter()
    cfgs = space.sample(n, seed)
    sample_s = time.perf_counter() - t0
    sn, hn = space.subnet.names, space.hardware.names
    subs = [{k: c[k] for k in sn} for c in cfgs]
    hws = [{k: c[k] for k in hn} for c in cfgs]
    hw_cols = {k: np.array([h[k] for h in hws]) for k in hn}

    r = {"space": name, "pairs": n, "sample_s": round(sample_s, 3)}
    # --- simulate_many
    t_build, batch = best_of(lambda: vit_batch(space, subs), repeat)
    t_hw, _ = best_of(lambda: knob_arrays(hws), repeat)
    t_many, out = best_of(lambda: simulate_many(batch, hws), repeat)
    t_kernel, _ = best_of(lambda: simulate_many(batch, hw_cols), repeat)
    t_lazy, out_lazy = best_of(lambda: simulate_many(SubnetConfigs(space, subs), hws), repeat)
    assert np.allclose(out_lazy.latency_s, out.latency_s, rtol=1e-12, atol=0)
    r["many_no_tables"] = {"seconds": t_many, "pairs_per_s": n / t_many}
    r["kernel_only"] = {
        "seconds": t_kernel,
        "pairs_per_s": n / t_kernel,
        "note": "TableBatch + hardware as knob arrays",
    }
    r["many_with_tables"] = {
        "seconds": t_lazy,
        "pairs_per_s": n / t_lazy,
        "note": "SubnetConfigs: vectorised ViT table builder, chunk by chunk",
    }
    r["resident_fraction"] = float(out.resident.mean())

    # --- the straightforward route: one LayerTable per pair (subset, extrapolated)
    m = min(table_n, n)
    t0 = time.perf_counter()
    tables = [layer_table(space, s) for s in subs[:m]]
    t_tables = (time.perf_counter() - t0) / m
    t_pad, out_t = best_of(lambda: simulate_many(tables, hws[:m]), repeat)
    assert np.allclose(out_t.latency_s, out.latency_s[:m], rtol=1e-12, atol=0)
    per = t_tables + t_pad / m
    r["many_with_layer_table"] = {
        "subset": m,
        "layer_table_s_per_pair": t_tables,
        "simulate_many_on_tables_s_per_pair": t_pad / m,
        "pairs_per_s": 1 / per,
        "simulate_many_on_tables_pairs_per_s": m / t_pad,
    }

    # --- per-pair Python loop over simulate (subset, extrapolated)
    k = min(loop_n, m)
    t0 = time.perf_counter()
    loop = [simulate(tables[i], hws[i]) for i in range(k)]
    t_loop = (time.perf_counter() - t0) / k
    assert np.allclose([x.latency_s for x in loop], out.latency_s[:k], rtol=1e-12, atol=0)
    loop_rate = 1 / t_loop
    loop_rate_tables = 1 / (t_loop + t_tables)
    r["loop"] = {
        "subset": k,
        "simulate_s_per_pair": t_loop,
        "pairs_per_s": loop_rate,
        "with_tables_pairs_per_s": loop_rate_tables,
    }
    r["speedup"] = {
        "many_vs_loop_no_tables": (n / t_many) / loop_rate,
        "many_vs_loop_with_tables": (n / t_lazy) / loop_rate_tables,
    }
    per100k = 1e5 / n
    r["where_time_goes_s_per_100k"] = {
        "vit_batch (padded tables, vectorised)": t_build * per100k,
        "layer_table objects (straightforward)": t_tables * 1e5,
        "padding LayerTable objects in simulate_many": (t_pad / m) * 1e5 - (t_kernel / n) * 1e5,
        "hardware dicts -> validated knob arrays": t_hw * per100k,
        "model kernel (chunks, incl. knob-array validation)": t_kernel * per100k,
        "simulate per pair (Python loop)": t_loop * 1e5,
    }
    r["static_layers_padded"] = int(batch.static["M"].shape[1])
    r["digital_layers_padded"] = int(batch.digital["work"].shape[1])
    r["auto_chunk_size"] = auto_chunk_size(r["static_layers_padded"])
    return r


def peak_memory(name: str, n: int, seed: int) -> dict:
    """Extra memory of one simulate_many call on n pairs given as arrays (tracemalloc)."""
    space = get_space(name)
    sub_cols, hw_cols = {}, {}
    idx_s = space.subnet.sample_indices(n, seed)
    idx_h = space.hardware.sample_indices(n, seed + 1)
    for j, ch in enumerate(space.subnet.choices):
        sub_cols[ch.name] = np.asarray(ch.values)[idx_s[:, j]]
    for j, ch in enumerate(space.hardware.choices):
        hw_cols[ch.name] = np.asarray(ch.values)[idx_h[:, j]]
    del idx_s, idx_h
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    t0 = time.perf_counter()
    out = simulate_many(SubnetConfigs(space, sub_cols), hw_cols, as_frame=False)
    dt = time.perf_counter() - t0
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    outputs = sum(v.nbytes for v in out.values())
    chunk = 2048
    width_s = 4 * int(max(space.subnet["num_layers"].values)) + 4
    per_chunk = chunk * width_s * 8 * (len(STATIC_COLS) + 12) + chunk * 2 * width_s * 8 * 6
    return {
        "space": name,
        "pairs": n,
        "seconds_traced": dt,
        "peak_extra_MiB": (peak - before) / 2**20,
        "outputs_MiB": outputs / 2**20,
        "peak_extra_minus_outputs_MiB": (peak - before - outputs) / 2**20,
        "chunk_pairs": chunk,
        "chunk_arithmetic_MiB": per_chunk / 2**20,
        "note": "inputs given as arrays (subnet choices, knobs), built before tracing; outputs are "
        "5 arrays of n; chunk_arithmetic = chunk x padded width x 8 B x (batch columns + "
        "about 12 temporaries) for static and 6 for the digital rows",
    }


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--loop-n", type=int, default=2000)
    p.add_argument("--table-n", type=int, default=3000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--spaces", nargs="+", default=["vit-b-imagenet", "vit-fmnist"])
    p.add_argument("--memory-n", type=int, default=1_000_000)
    p.add_argument("--no-1m", action="store_true", help="skip the peak-memory run")
    p.add_argument("--out", default=None)
    a = p.parse_args(argv)
    res = {
        "benchmark": "roofline simulate_many",
        "threads": 1,
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "machine": platform.machine(),
        "results": [bench_space(s, a.n, a.loop_n, a.table_n, a.seed, a.repeat) for s in a.spaces],
    }
    vb = next((x for x in res["results"] if x["space"] == "vit-b-imagenet"), None)
    if vb:
        res["goal_100k_pairs_per_s_vit_b_no_tables"] = vb["many_no_tables"]["pairs_per_s"] >= 1e5
    if not a.no_1m:
        res["peak_memory"] = peak_memory(a.spaces[0], a.memory_n, a.seed)
    text = json.dumps(res, indent=1)
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")
    return res


if __name__ == "__main__":
    main()
