"""The CiM roofline model v2 for many (network, chip) pairs at once: :func:`simulate_many`.

Same formulas as :func:`cimnet_bo.hardware.simulate` (the reference; each line here names the
line of ``CIM_MODEL.md`` it implements), evaluated on (layers x pairs) numpy arrays: networks
are padded to a common number of static and digital layers (rows weighted by ``mult``, 0 for
padding), pairs are processed in chunks so memory stays bounded, and there is no Python loop
per pair or per layer. Sums over layers are regrouped (hardware-only factors taken out of
the sums), so results agree with :func:`simulate` to rounding (float64; tested at 1e-9
relative, about 1e-15 in practice).

Speed (``benchmarks/bench_roofline.py``): the layer-shape terms of a batch are computed once
per network (or once per space for the ViT family, whose networks share their distinct
shapes); hardware knobs are validated in blocks of :data:`KNOB_BLOCK` pairs; a chunk whose
pairs all run one network (``table_index`` runs, as in a search) weights its sums with one
vector (BLAS); only the pairs whose layers need several passes get the partial-sum terms;
temporaries are updated in place.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from cimnet_bo.hardware.batch import SubnetConfigs, TableBatch
from cimnet_bo.hardware.config import HardwareConfig, KNOB_NAMES, check_clock, knob_arrays
from cimnet_bo.hardware.model import (
    area_mm2,
    mvm_unit_s,
    peak_power_w,
    t_row_write_s,
    t_s_seconds,
)
from cimnet_bo.hardware.technology import FJ_TO_PJ, GB, KB, MHZ, PJ_TO_J, Technology
from cimnet_bo.workload.table import LayerTable

OUTPUTS = (
    "latency_s", "energy_j", "area_mm2", "power_w", "feasible", "resident", "program_time_s"
)
BOOL_OUTPUTS = ("feasible", "resident")
#: Pairs whose hardware knobs are validated and converted at once (views serve the chunks).
KNOB_BLOCK = 1 << 16
#: Target number of (pair x static layer) elements per chunk: a few MB per array.
CHUNK_ELEMENTS = 1 << 17


def _is_single_table(obj: Any) -> bool:
    if isinstance(obj, LayerTable):
        return True
    if hasattr(obj, "columns") and hasattr(obj, "to_dict"):  # DataFrame
        return True
    if isinstance(obj, Mapping):
        return True
    if isinstance(obj, Sequence) and len(obj) and isinstance(obj[0], Mapping):
        # a list of row dicts (scalar 'kind') is one table; a list of dicts of arrays is many
        return np.ndim(obj[0].get("kind")) == 0
    return False


def _is_single_hw(obj: Any) -> bool:
    if isinstance(obj, HardwareConfig):
        return True
    if isinstance(obj, Mapping):
        return all(np.ndim(v) == 0 for v in obj.values())
    return False


class _Hardware:
    """Hardware configurations, validated and converted to knob arrays block by block
    (:data:`KNOB_BLOCK` pairs at once, fewer numpy calls than chunk by chunk; memory stays
    bounded); ``chunk(lo, hi)`` gives views into the current block."""

    def __init__(self, hws: Any) -> None:
        if hasattr(hws, "columns") and hasattr(hws, "to_dict"):
            hws = {c: np.asarray(hws[c]) for c in hws.columns}
        if _is_single_hw(hws):
            self.single = knob_arrays([hws])
            self.n = None
        elif isinstance(hws, Mapping):
            unknown = sorted(set(hws) - set(KNOB_NAMES))
            if unknown:
                raise ValueError(
                    f"hardware knob arrays: unknown knob(s) {unknown}; knobs are {list(KNOB_NAMES)}"
                )
            self.cols = {k: np.asarray(v) for k, v in hws.items()}
            lens = {np.shape(v)[0] for v in self.cols.values() if np.ndim(v) > 0}
            if len(lens) != 1:
                raise ValueError(
                    f"hardware knob arrays must share one length, got lengths {sorted(lens)}"
                )
            self.n = lens.pop()
            self.single = None
            self.records = None
            self._block = None
        else:
            self.records = list(hws)
            if not self.records:
                raise ValueError("no hardware configurations given")
            self.n = len(self.records)
            self.single = None
            self.cols = None
            self._block = None

    def broadcast(self) -> None:
        """Use the one configuration given for every pair."""
        self.single = self.chunk(0, 1)
        self.n = None

    def chunk(self, lo: int, hi: int) -> dict[str, np.ndarray]:
        if self.single is not None:
            return {k: np.broadcast_to(v, (hi - lo,)) for k, v in self.single.items()}
        if self._block is None or not (self._block[0] <= lo and hi <= self._block[1]):
            b_hi = min(self.n, max(hi, lo + KNOB_BLOCK))
            if self.records is not None:
                knobs = knob_arrays(self.records[lo:b_hi], offset=lo)
            else:
                part = {k: (v[lo:b_hi] if np.ndim(v) > 0 else v) for k, v in self.cols.items()}
                knobs = knob_arrays(part, n=b_hi - lo, offset=lo)
            self._block = (lo, b_hi, knobs)
        b_lo, _, knobs = self._block
        return {k: v[lo - b_lo : hi - b_lo] for k, v in knobs.items()}


def _even(start: int, end: int, size: int) -> list[tuple[int, int]]:
    """``start..end`` cut into the fewest chunks of at most ``size``, of nearly equal length
    (no small last chunk)."""
    k = -(-(end - start) // size)
    cuts = [start + (end - start) * i // k for i in range(k + 1)]
    return list(zip(cuts[:-1], cuts[1:]))


class _Tables:
    """Networks, padded into :class:`TableBatch` es; ``chunk(lo, hi)`` gives the batch rows of
    pairs lo..hi-1 (or a one-row batch that broadcasts)."""

    #: pad all distinct tables at once when (tables x longest table) is at most this many rows
    GLOBAL_ROWS = 1 << 19

    def __init__(self, tables: Any, table_index: Any) -> None:
        self.batch: TableBatch | None = None
        self.index: np.ndarray | None = None
        self.runs: np.ndarray | None = None
        self.tables: list[LayerTable] | None = None
        self.lazy: SubnetConfigs | None = None
        if isinstance(tables, SubnetConfigs):
            if table_index is not None:
                raise ValueError("table_index is only used with a TableBatch")
            self.lazy = tables
            self.n = len(tables)
            # runs of one repeated subnet: chunks then hold one network, built once per chunk
            self.runs = tables.run_starts()
            return
        if isinstance(tables, TableBatch):
            self.batch = tables
            self.index = None if table_index is None else np.asarray(table_index, dtype=np.int64)
            if (
                self.index is not None
                and len(self.index)
                and (self.index.min() < 0 or self.index.max() >= len(tables))
            ):
                raise ValueError(f"table_index must lie in [0, {len(tables)}), the batch's size")
            self.n = (
                len(self.index)
                if self.index is not None
                else (None if len(tables) == 1 else len(tables))
            )
            return
        if table_index is not None:
            raise ValueError("table_index is only used with a TableBatch")
        if _is_single_table(tables):
            self.batch = TableBatch.from_tables([tables])
            self.n = None
            return
        tabs = list(tables)
        if not tabs:
            raise ValueError("no layer tables given")
        self.n = len(tabs)
        # one entry per distinct object: pairs sharing a table pad it once
        ids = np.fromiter(map(id, tabs), dtype=np.int64, count=len(tabs))
        _, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
        uniq = []
        for j, i in enumerate(first):
            t = tabs[i]
            try:
                uniq.append(t if isinstance(t, LayerTable) else LayerTable.coerce(t))
            except ValueError as e:
                raise ValueError(f"layer table of pair {int(i)}: {e}") from None
        if any(len(u) == 0 for u in uniq):
            j = next(j for j, u in enumerate(uniq) if len(u) == 0)
            raise ValueError(f"layer table of pair {int(first[j])} has no rows")
        self.index = inverse.ravel().astype(np.int64)
        longest = max(len(u.kind) for u in uniq)
        if len(uniq) * longest <= self.GLOBAL_ROWS:
            self.batch = TableBatch.from_tables(uniq)
        else:
            self.tables = uniq

    def bounds(self, P: int, size: int) -> list[tuple[int, int]]:
        """``(lo, hi)`` of the chunks: ``size`` pairs each, and also cut where ``table_index``
        changes when it runs in long stretches (a search: few networks, many chips each), so
        that a chunk holds one network, which broadcasts over its pairs."""
        idx, cuts = self.index, None
        if self.runs is not None:  # lazy configurations in runs
            cuts = self.runs[1:]
        elif idx is not None and self.batch is not None and len(self.batch) > 1 and P > 1:
            cuts = np.flatnonzero(idx[1:] != idx[:-1]) + 1
            if (len(cuts) + 1) * size > 2 * P:  # runs shorter than size / 2 pairs on average
                cuts = None
        if cuts is None:
            return _even(0, P, size)
        edges = np.concatenate(([0], cuts, [P])).tolist()
        return [b for a, e in zip(edges[:-1], edges[1:]) for b in _even(a, e, size)]

    def chunk(self, lo: int, hi: int) -> TableBatch:
        if self.lazy is not None:
            if self.runs is not None:  # the chunk lies in one run: its network broadcasts
                return self.lazy.batch(lo, lo + 1)[0]
            b, idx = self.lazy.batch(lo, hi)
            return (
                b if len(b) == hi - lo and np.array_equal(idx, np.arange(hi - lo)) else b.take(idx)
            )
        if self.tables is not None:  # many distinct tables: pad the chunk's own
            idx = self.index[lo:hi]
            u, inv = np.unique(idx, return_inverse=True)
            b = TableBatch.from_tables([self.tables[i] for i in u])
            return b if len(u) == hi - lo and np.array_equal(u, idx) else b.take(inv.ravel())
        b = self.batch
        if len(b) == 1:
            return b  # broadcasts over the chunk
        if self.index is None:
            return b.slice(lo, hi)
        idx = self.index[lo:hi]
        if idx.size and idx[0] == idx[-1] and (idx == idx[0]).all():
            return b.slice(int(idx[0]), int(idx[0]) + 1)  # one network: broadcasts
        if (
            idx.size
            and idx[-1] - idx[0] == idx.size - 1
            and np.array_equal(idx, np.arange(idx[0], idx[-1] + 1))
        ):
            return b.slice(int(idx[0]), int(idx[-1]) + 1)
        return b.take(idx)


def _lp(x: np.ndarray) -> np.ndarray:
    """A batch column in the kernel's (layers x pairs) layout: (U x L) -> (L x U), a shared
    (1 x L) row -> an (L x 1) column that broadcasts over pairs. The batch builders store
    their matrices so that this is a view (each layer's row contiguous); others are copied."""
    t = x.T
    return t if t.shape[1] == 1 or t.strides[1] == t.itemsize else np.ascontiguousarray(t)


def _cols(x: np.ndarray, idx: Any) -> np.ndarray:
    """Columns (pairs) ``idx`` of an (L x P) matrix (None: all); a shared (L x 1) column stays
    shared. May return ``x`` itself: not to be written."""
    return x if x.shape[1] == 1 or idx is None else np.take(x, idx, axis=1)


def _own(x: np.ndarray, idx: Any) -> np.ndarray:
    """Columns ``idx`` of an (L x P) matrix (None: all) as a new array, to be written."""
    return x.copy() if idx is None else np.take(x, idx, axis=1)


def _dot(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Sum over layers of ``w * x`` per pair: ``w`` (L x 1) shared or (L x P), ``x`` (L x P)."""
    if w.shape[1] == 1:
        return w[:, 0] @ x  # BLAS: one network's weights for every pair
    return np.einsum("ij,ij->j", w, x)


def _spill(need, traffic, inner, w, cap, inv_dram, gl, loc) -> np.ndarray:
    """``spill = traffic if in_b / reuse + out_b > glb_kb * 1024 else 0`` (page, "Every
    layer"; ``need`` = in_b / reuse + out_b) for the pairs that may spill (global indices
    ``gl``, columns ``loc`` of the branch's matrices ``traffic``, ``inner``, ``w``):
    ``inner = max(inner, spill / bw_dram)`` in place; returns their sums of ``w * spill``.

    When the rows are shared by every pair (``need`` is (L x 1)), only the rows over the
    smallest of these pairs' buffers are visited (a few of them: the largest layers).
    """
    rows = np.flatnonzero(need[:, 0] > cap[gl].min()) if need.shape[1] == 1 else None

    def block(x, cols):  # the visited rows of x, columns cols
        return _cols(x if rows is None else x[rows], cols)

    spill = (block(need, gl) > cap[gl][None, :]) * block(traffic, loc)
    at = (slice(None), loc) if rows is None else np.ix_(rows, loc)
    inner[at] = np.maximum(inner[at], spill * inv_dram[gl][None, :])  # ..., spill / bw_dram)
    return _dot(block(w, loc), spill)


def _kernel(b: TableBatch, hw: Mapping[str, np.ndarray], tech: Technology) -> dict[str, np.ndarray]:
    """Totals for one chunk: ``b`` has one network per pair (or one that broadcasts).

    Layer terms are (layers x pairs) matrices (pairs along the fast axis; a batch's shared
    (1 x L) rows become (L x 1) columns), per-pair hardware terms are rows ``p(v)`` = (1 x P),
    and every sum over layers is weighted by ``mult`` (``_dot``: a BLAS product when one set
    of weights serves every pair). Pairs whose layers each take one pass (resident ones and
    most streaming ones) share the simple branch; streaming pairs with multi-pass layers
    (partial sums through the buffer) are computed again, on their own, in full.
    """
    S, G, sums = b.static, b.digital, b.sums
    rows, cols, nm = hw["rows"], hw["cols"], hw["n_macros"]
    ra, B, rram = hw["rows_active"], hw["adc_bits"], hw["rram"]
    bpc, dac, cpa = hw["bits_per_cell"], hw["dac_bits"], hw["cols_per_adc"]
    n = len(nm)
    p = lambda v: v[None, :]  # noqa: E731  per-pair row
    m = _lp(S["mult"])
    K, N, M, count, W = (_lp(S[c]) for c in ("K", "N", "M", "count", "W"))
    traffic0, fold, MNc, MKc = (_lp(S[c]) for c in ("traffic0", "fold", "MNc", "MKc"))
    fold_max = sums["fold_max"]

    # --- Per static layer (page, "Per static layer") ------------------------------------
    uniform = b.uniform_bits is not None
    if uniform:
        wb, ab = b.uniform_bits
        n_cw = np.ceil(wb / bpc)  # n_cw = ceil(w_bits / bits_per_cell)
        n_in = np.ceil(ab / dac)  # n_in = ceil(a_bits / dac_bits)
        ncw_ = p(n_cw)
    else:
        n_cw = np.ceil(_lp(S["w_bits"]) / p(bpc))
        n_in = np.ceil(_lp(S["a_bits"]) / p(dac))
        ncw_ = n_cw
    n_rg = np.ceil(rows / ra)  # n_rg = ceil(rows / rows_active)
    T_K = K / p(rows)
    np.ceil(T_K, out=T_K)  # T_K = ceil(K / rows)
    if uniform and not np.fmod(cols, n_cw).any():
        T_N = N / p(cols / n_cw)  # cols / n_cw is exact: the same quotient, one pass fewer
    else:
        T_N = N * ncw_
        T_N /= p(cols)
    np.ceil(T_N, out=T_N)  # T_N = ceil(N * n_cw / cols)
    A = T_K * T_N  # A = T_K * T_N * count
    if not (count.shape[1] == 1 and np.all(count == 1.0)):
        A *= count
    A_tot = _dot(m, A)  # sum of A over static layers
    # energy: sums of M*N*count*T_K (conversions, adds) and M*K*count*T_N (DAC drives)
    if m.shape[1] > 1:
        MNcT, MKcT = _dot(MNc, T_K * m), _dot(MKc, T_N * m)
    else:
        MNcT, MKcT = _dot(MNc * m, T_K), _dot(MKc * m, T_N)
    # s = clip((A_tot - n_macros) / A_tot, 0, 1), 0 without static layers
    s = np.where(A_tot > 0, np.clip((A_tot - nm) / np.maximum(A_tot, 1.0), 0.0, 1.0), 0.0)
    resident = s == 0.0
    stream = ~resident
    # D = floor(n_macros / A_tot) when resident (n_macros without static layers), else 1
    D = np.where(resident, np.where(A_tot > 0, np.floor(nm / np.maximum(A_tot, 1.0)), nm), 1.0)
    # t_s = (B * (0.00653 * rows_active + 0.640) + t_read) * (1 + d_dac * (dac_bits - 1)) ns
    t_s = t_s_seconds(B, ra, dac, tech)
    unit = mvm_unit_s(rows, ra, cpa, t_s)  # n_rg * cols_per_adc * t_s
    t_mvm = p(n_in * unit) if uniform else n_in * p(unit)  # n_in * n_rg * cols_per_adc * t_s
    clock = hw["clock_mhz"] * MHZ
    bw_dram, bw_glb = hw["dram_bw_gbps"] * GB, hw["glb_width"] * clock  # glb_width * clock
    inv_dram, inv_glb = 1.0 / bw_dram, 1.0 / bw_glb
    t_rw = t_row_write_s(rram, hw["clock_mhz"], tech)  # 1 clock (SRAM) or 150 ns (RRAM)
    cap = hw["glb_kb"] * KB  # glb_kb * 1024 bytes
    spills = fold_max > cap  # pairs with a layer (static or digital) over the buffer

    spill_sum = np.zeros(n)
    psum_sum = np.zeros(n)

    def spill_terms(gl, loc, traffic, inner, mw):
        """Spills of pairs ``gl`` (columns ``loc`` of a branch's matrices): adds their sums
        of spill to ``spill_sum`` and raises ``inner`` in place (see :func:`_spill`)."""
        if gl.size:
            spill_sum[gl] += _spill(fold, traffic, inner, mw, cap, inv_dram, gl, loc)

    # --- Every layer, one pass per layer: resident pairs (A <= A_tot <= n_macros) and the
    # streaming pairs whose every layer fits the macros (passes = 1, so psum = 0); computed
    # for all pairs, multi-pass pairs are then overwritten below
    multi = stream & (A.max(0) > nm)  # streaming pairs with a layer of passes > 1
    t_comp = M / p(D)
    np.ceil(t_comp, out=t_comp)  # resident: ceil(M / D); streaming: D = 1, passes = 1: M
    t_comp *= t_mvm  # t_comp = ceil(M / D) * t_mvm, or passes * M * t_mvm
    # max(t_comp, traffic / bw_glb, ...), traffic = in_b + out_b (psum = 0)
    inner = np.maximum(t_comp, traffic0 * p(inv_glb), out=t_comp)
    one = np.flatnonzero(spills & ~multi)
    spill_terms(one, one, traffic0, inner, m)
    t_static = _dot(m, inner)  # sum of t_layer (+ t_w below)
    w = np.flatnonzero(stream & ~multi)
    if w.size:
        # t_w = s * max(W / bw_dram, W / bw_glb, passes * rows * t_row_write), s out of the
        # sum; max(W/a, W/b) is computed as W * (1 / min(a, b)); passes = 1
        t_w = _cols(W, w) * p(1.0 / np.minimum(bw_dram[w], bw_glb[w]))
        np.maximum(t_w, p((rows * t_rw)[w]), out=t_w)
        t_static[w] += s[w] * _dot(_cols(m, w), t_w)  # t_layer = t_w + max(...)

    # --- Every layer, streaming pairs with multi-pass layers: partial sums cross the buffer
    q = np.flatnonzero(multi)
    if q.size:
        mq = _cols(m, q)
        passes = _own(A, q)
        passes /= p(nm[q])
        np.ceil(passes, out=passes)  # passes = ceil(A / n_macros)
        t_comp = passes * _cols(M, q)
        t_comp *= _cols(t_mvm, q)  # t_comp = passes * M * t_mvm
        # psum = M * N * count * (min(T_K, passes) - 1) * 6 bytes
        psum = _own(T_K, q)
        np.minimum(psum, passes, out=psum)
        psum -= 1.0
        psum *= _cols(MNc, q) * tech.psum_bytes
        psum_sum[q] = _dot(mq, psum)
        traffic = psum  # traffic = in_b + out_b + psum (in place)
        traffic += _cols(traffic0, q)
        # max(t_comp, traffic / bw_glb, ...)
        inner = np.maximum(t_comp, traffic * p(inv_glb[q]), out=t_comp)
        sq = np.flatnonzero(spills[q])
        spill_terms(q[sq], sq, traffic, inner, mq)
        # t_w = s * max(W / bw_dram, W / bw_glb, passes * rows * t_row_write), s out of the sum
        t_w = passes  # in place
        t_w *= p((rows * t_rw)[q])
        np.maximum(t_w, _cols(W, q) * p(1.0 / np.minimum(bw_dram[q], bw_glb[q])), out=t_w)
        t_static[q] = _dot(mq, inner) + s[q] * _dot(mq, t_w)  # t_layer = t_w + max(...)

    # --- Program time (one-time) -----------------------------------------------------------
    # program_time = sum of max(W / bw_dram, D * W / bw_glb, rows * t_row_write), with W
    # replaced by (1 - s) * W and D = 1 when s > 0: sum of max(W * a, rows * t_row_write)
    a = (1.0 - s) * np.maximum(inv_dram, D * inv_glb)
    prog = W * p(a)
    np.maximum(prog, p(rows * t_rw), out=prog)
    program_time = _dot(m, prog)

    # --- Dynamic and eltwise rows (rate = digital_macs * clock) ---------------------------
    rate = hw["digital_macs"] * clock
    dm, work, dtraffic = _lp(G["mult"]), _lp(G["work"]), _lp(G["traffic0"])
    inner_d = work * p(1.0 / rate)  # t_comp = work / rate
    np.maximum(inner_d, dtraffic * p(inv_glb), out=inner_d)  # max(t_comp, traffic / bw_glb, ...)
    sp = np.flatnonzero(spills)
    if sp.size:  # digital rows: reuse 1, the folded input is the input
        spill_sum[sp] += _spill(dtraffic, dtraffic, inner_d, dm, cap, inv_dram, sp, sp)
    latency = t_static + _dot(dm, inner_d)  # latency = sum of t_layer

    # --- Energy (pJ) ----------------------------------------------------------------------
    if uniform:
        conversions = MNcT * n_in * n_rg * n_cw  # M * n_in * n_rg * T_K * N * n_cw * count
        dac_drives = MKcT * n_in  # M * n_in * K * T_N * count
        cell_ops = sums["MKNc_tot"] * n_in * n_cw  # M*K*N*count * n_in * n_cw
        cells = sums["KNc_tot"] * n_cw  # K * N * count * n_cw (times s: cells written)
    else:
        conversions = _dot(m, MNc * n_in * T_K * n_cw) * n_rg
        dac_drives = _dot(m, MKc * n_in * T_N)
        cell_ops = _dot(m, MNc * K * n_in * n_cw)
        cells = _dot(m, K * N * count * n_cw)
    adds = MNcT - sums["MNc_tot"]  # adds = M * N * count * (T_K - 1)
    traffic_tot = sums["traffic_tot"] + psum_sum  # traffic includes psum
    e_cellop = np.where(rram, tech.e_cellop_rram, tech.e_cellop_sram) * FJ_TO_PJ
    e_write = np.where(rram, tech.e_cell_write_rram, tech.e_cell_write_sram)
    e_adc = tech.e_adc_pj(B, t_s)  # e_adc = (100*B + 0.001*4**B) fF*VDD^2*max(1, rate/knee)**1.49
    vf = tech.vf(hw["clock_mhz"])  # vf(f) = max(1, f / f_nom) ** gamma
    stream_W = s * sums["W_tot"]  # s * W: DRAM bytes, buffer bytes
    E = (
        conversions * e_adc  # conversions * e_adc
        + dac_drives * tech.e_dac_pj(dac)  # + M*n_in*K*T_N*count * e_dac
        + cell_ops * e_cellop  # + M*K*N*count*n_in*n_cw * e_cellop[cell]
        + s * cells * e_write  # + cells_written * e_cell_write[cell]
        + adds * tech.e_add  # + adds * e_add
        + (sums["dyn_macs"] * tech.e_mac_digital + sums["elt_ops"] * tech.e_elt) * vf  # digital
        # every layer: (traffic + W * s) * 8 * e_glb(glb_kb) * vf + dram_bytes * 8 * e_dram
        + (traffic_tot + stream_W) * 8 * tech.e_glb_pj_per_bit(hw["glb_kb"]) * vf
        + (spill_sum + stream_W) * 8 * tech.e_dram
    )

    # --- Area and peak power (page, "Area", "Peak power") ---------------------------------
    area = area_mm2(
        rows, cols, nm, cpa, B, dac, rram, hw["glb_kb"], hw["glb_width"], hw["digital_macs"],
        hw["dram_bw_gbps"], tech,
    )
    power = peak_power_w(
        nm, cols, ra, cpa, t_s, e_adc, dac, rram, hw["digital_macs"], hw["clock_mhz"],
        hw["glb_kb"], hw["glb_width"], hw["dram_bw_gbps"], area, tech,
    )
    energy = E * PJ_TO_J + tech.p_leak * area * latency  # sum * 1e-12 + p_leak * area * latency
    return {
        "latency_s": latency,
        "energy_j": energy,
        "area_mm2": area,
        "power_w": power,
        "feasible": ~(rram & stream),  # RRAM cannot stream (write endurance)
        "resident": resident,
        "program_time_s": program_time,
    }


def auto_chunk_size(static_width: int) -> int:
    """Pairs per chunk so that a (static layers x pairs) array holds about
    :data:`CHUNK_ELEMENTS` numbers (1 MiB)."""
    return int(np.clip(CHUNK_ELEMENTS // max(static_width, 1), 64, 1 << 16))


def simulate_many(
    layer_tables: Any,
    hws: Any,
    tech: Technology | None = None,
    chunk_size: int | None = None,
    table_index: Sequence[int] | np.ndarray | None = None,
    as_frame: bool = True,
):
    """Latency, energy, area and peak power of many (network, chip) pairs, vectorised over
    pairs and layers.

    Parameters
    ----------
    layer_tables :
        One network for all pairs (a LayerTable, dict of arrays, DataFrame or list of row
        dicts), a sequence of P networks (pair i runs ``layer_tables[i]``; the same object
        repeated is padded once), or a :class:`TableBatch` (one row per pair, one row for
        all pairs, or rows picked by ``table_index``), or :class:`SubnetConfigs` (subnet
        configurations of a space, built into padded batches chunk by chunk).
    hws :
        One configuration for all pairs (dict or :class:`HardwareConfig`), a sequence of P
        configurations, or a dict of knob arrays / DataFrame with P rows.
    tech : Technology, optional
    chunk_size : int, optional
        Pairs per chunk; default :func:`auto_chunk_size` (about 1 MiB per work array), so peak
        memory does not grow with P beyond the P-length inputs and outputs.
    table_index : array of int, optional
        With a TableBatch: pair i runs batch row ``table_index[i]``.
    as_frame : bool
        Return a pandas DataFrame (default) or a dict of numpy arrays.

    Returns
    -------
    DataFrame or dict with P rows: ``latency_s, energy_j, area_mm2, power_w`` (peak),
    ``feasible`` (False when an RRAM chip would stream), ``resident, program_time_s``.

    Raises
    ------
    ValueError
        An invalid configuration (naming the knob, the pair, the value and the allowed range),
        a malformed layer table (naming the pair), or inputs of different lengths.
    """
    tech = tech or Technology()
    hw = _Hardware(hws)
    tabs = _Tables(layer_tables, table_index)
    if hw.n is not None and tabs.n is not None and hw.n != tabs.n and 1 not in (hw.n, tabs.n):
        raise ValueError(
            f"{tabs.n} layer tables but {hw.n} hardware configurations; give one of "
            "either side, or the same number"
        )
    P = max(hw.n or 1, tabs.n or 1)
    if hw.n == 1 and P > 1:
        hw.broadcast()
    if tabs.n == 1 and P > 1 and tabs.batch is None:
        raise ValueError("a single network given lazily cannot be broadcast; pass its layer table")
    if chunk_size is None:
        if tabs.lazy is not None:
            chunk_size = 8192
        else:
            width = (
                tabs.batch.static["M"].shape[1]
                if tabs.batch is not None
                else max(int(np.sum(t.kind == "static")) for t in tabs.tables[:64])
            )
            chunk_size = auto_chunk_size(width)
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    out = {k: np.empty(P, dtype=bool if k in BOOL_OUTPUTS else np.float64) for k in OUTPUTS}
    for lo, hi in tabs.bounds(P, chunk_size):  # loop over chunks only
        knobs = hw.chunk(lo, hi)
        check_clock(knobs["clock_mhz"], tech.f_max_mhz, lo)
        res = _kernel(tabs.chunk(lo, hi), knobs, tech)
        for k in OUTPUTS:
            out[k][lo:hi] = res[k]
    if as_frame:
        import pandas as pd

        return pd.DataFrame(out, copy=False)  # the arrays are new: no copy needed
    return out
