"""The CiM roofline model v2 for many (network, chip) pairs at once: :func:`simulate_many`.

Same formulas as :func:`cimnet_bo.hardware.simulate` (the reference; each line here names the
line of ``CIM_MODEL.md`` it implements), evaluated on (pairs x layers) numpy arrays: networks
are padded to a common number of static and digital layers (zero rows, which every formula
maps to 0), pairs are processed in chunks so memory stays bounded, and there is no Python
loop per pair or per layer. Sums over layers are regrouped (hardware-only factors taken out
of the sums), so results agree with :func:`simulate` to rounding (tested at 1e-12 relative).
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
    """Hardware configurations, validated and converted to knob arrays chunk by chunk."""

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
        else:
            self.records = list(hws)
            if not self.records:
                raise ValueError("no hardware configurations given")
            self.n = len(self.records)
            self.single = None
            self.cols = None

    def broadcast(self) -> None:
        """Use the one configuration given for every pair."""
        self.single = self.chunk(0, 1)
        self.n = None

    def chunk(self, lo: int, hi: int) -> dict[str, np.ndarray]:
        if self.single is not None:
            return {k: np.broadcast_to(v, (hi - lo,)) for k, v in self.single.items()}
        if self.records is not None:
            return knob_arrays(self.records[lo:hi], offset=lo)
        part = {k: (v[lo:hi] if np.ndim(v) > 0 else v) for k, v in self.cols.items()}
        return knob_arrays(part, n=hi - lo, offset=lo)


class _Tables:
    """Networks, padded into :class:`TableBatch` es; ``chunk(lo, hi)`` gives the batch rows of
    pairs lo..hi-1 (or a one-row batch that broadcasts)."""

    #: pad all distinct tables at once when (tables x longest table) is at most this many rows
    GLOBAL_ROWS = 1 << 19

    def __init__(self, tables: Any, table_index: Any) -> None:
        self.batch: TableBatch | None = None
        self.index: np.ndarray | None = None
        self.tables: list[LayerTable] | None = None
        self.lazy: SubnetConfigs | None = None
        if isinstance(tables, SubnetConfigs):
            if table_index is not None:
                raise ValueError("table_index is only used with a TableBatch")
            self.lazy = tables
            self.n = len(tables)
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

    def chunk(self, lo: int, hi: int) -> TableBatch:
        if self.lazy is not None:
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
        if (
            idx.size
            and idx[-1] - idx[0] == idx.size - 1
            and np.array_equal(idx, np.arange(idx[0], idx[-1] + 1))
        ):
            return b.slice(int(idx[0]), int(idx[-1]) + 1)
        return b.take(idx)


def _kernel(b: TableBatch, hw: Mapping[str, np.ndarray], tech: Technology) -> dict[str, np.ndarray]:
    """Totals for one chunk: ``b`` has one network per pair (or one that broadcasts).

    Row matrices are (pairs or 1) x layers, each row weighted by its ``mult``; hardware
    knobs are (pairs,) vectors, used as columns (``c_``).
    """
    S, G, sums = b.static, b.digital, b.sums
    rows, cols, nm = hw["rows"], hw["cols"], hw["n_macros"]
    ra, B, rram = hw["rows_active"], hw["adc_bits"], hw["rram"]
    bpc, dac, cpa = hw["bits_per_cell"], hw["dac_bits"], hw["cols_per_adc"]
    n = len(nm)
    c_ = lambda a: a[:, None]  # noqa: E731  per-pair column
    mult = S["mult"]

    # --- Per static layer (page, "Per static layer") ------------------------------------
    if b.uniform_bits is not None:
        wb, ab = b.uniform_bits
        n_cw = c_(np.ceil(wb / bpc))  # n_cw = ceil(w_bits / bits_per_cell)
        n_in = c_(np.ceil(ab / dac))  # n_in = ceil(a_bits / dac_bits)
    else:
        n_cw = np.ceil(S["w_bits"] / c_(bpc))
        n_in = np.ceil(S["a_bits"] / c_(dac))
    n_rg = np.ceil(rows / ra)  # n_rg = ceil(rows / rows_active)
    T_K = np.ceil(S["K"] / c_(rows))  # T_K = ceil(K / rows)
    T_N = np.ceil(S["N"] * n_cw / c_(cols))  # T_N = ceil(N * n_cw / cols)
    A = T_K * T_N * S["count"]  # A = T_K * T_N * count
    A_tot = np.einsum("ij,ij->i", A, np.broadcast_to(mult, A.shape))  # sum of A, static layers
    # s = clip((A_tot - n_macros) / A_tot, 0, 1), 0 without static layers
    s = np.where(A_tot > 0, np.clip((A_tot - nm) / np.maximum(A_tot, 1.0), 0.0, 1.0), 0.0)
    resident = s == 0.0
    stream = ~resident
    any_stream = bool(stream.any())
    # D = floor(n_macros / A_tot) when resident (n_macros without static layers), else 1
    D = np.where(resident, np.where(A_tot > 0, np.floor(nm / np.maximum(A_tot, 1.0)), nm), 1.0)
    # t_s = (B * (0.00653 * rows_active + 0.640) + t_read) * (1 + d_dac * (dac_bits - 1)) ns
    t_s = t_s_seconds(B, ra, dac, tech)
    unit = mvm_unit_s(rows, ra, cpa, t_s)  # n_rg * cols_per_adc * t_s
    t_mvm = n_in * c_(unit)  # t_mvm = n_in * n_rg * cols_per_adc * t_s
    M, W = S["M"], S["W"]
    clock = hw["clock_mhz"] * MHZ
    bw_dram, bw_glb = hw["dram_bw_gbps"] * GB, hw["glb_width"] * clock  # glb_width * clock
    t_rw = t_row_write_s(rram, hw["clock_mhz"], tech)  # 1 clock (SRAM) or 150 ns (RRAM)

    steps = np.ceil(M / c_(D))  # resident: t_comp = ceil(M / D) * t_mvm
    traffic = S["traffic0"]
    if any_stream:
        passes = np.ceil(A / c_(nm))  # passes = ceil(A / n_macros)
        steps = np.where(c_(resident), steps, passes * M)  # s > 0: t_comp = passes * M * t_mvm
        # psum = M * N * count * (min(T_K, passes) - 1) * 6 bytes, 0 when resident
        psum = np.where(c_(stream), S["MNc"] * (np.minimum(T_K, passes) - 1.0), 0.0) * tech.psum_bytes
        traffic = traffic + psum  # traffic = in_b + out_b + psum
    t_comp = steps * t_mvm

    # --- Every layer, static rows -------------------------------------------------------
    cap = hw["glb_kb"] * KB  # glb_kb * 1024 bytes
    inner = np.maximum(t_comp, traffic / c_(bw_glb))  # max(t_comp, traffic / bw_glb, ...)
    may_spill = sums["fold_max"] > cap  # pairs with any layer over the buffer
    spill_sum = np.zeros(n)
    if may_spill.any():
        # spill = traffic if in_b / reuse + out_b > glb_kb * 1024 else 0
        spill = np.where(S["fold"] > c_(cap), traffic, 0.0)
        inner = np.maximum(inner, spill / c_(bw_dram))  # ..., spill / bw_dram)
        spill_sum = spill_sum + np.einsum("ij,ij->i", spill, np.broadcast_to(mult, spill.shape))
    t_layer = inner
    if any_stream:
        # t_w = s * max(W / bw_dram, W / bw_glb, passes * rows * t_row_write), s > 0 only;
        # max(W/a, W/b) is computed as W / min(a, b) (equal under IEEE rounding)
        t_w = c_(s) * np.maximum(W / c_(np.minimum(bw_dram, bw_glb)), passes * c_(rows * t_rw))
        t_layer = inner + t_w  # t_layer = t_w + max(...)
    t_static = np.einsum("ij,ij->i", t_layer, np.broadcast_to(mult, t_layer.shape))
    # program_time = sum of max(W / bw_dram, D * W / bw_glb, rows * t_row_write), with W
    # replaced by (1 - s) * W and D = 1 when s > 0
    Wk = W * c_(1.0 - s)
    prog = np.maximum(np.maximum(Wk / c_(bw_dram), Wk * c_(D / bw_glb)), c_(rows * t_rw))
    program_time = np.einsum("ij,ij->i", prog, np.broadcast_to(mult, prog.shape))

    # --- Dynamic and eltwise rows (rate = digital_macs * clock) ---------------------------
    rate = hw["digital_macs"] * clock
    dtraffic, dmult = G["traffic0"], G["mult"]
    inner_d = np.maximum(G["work"] / c_(rate), dtraffic / c_(bw_glb))  # max(t_comp, traffic/bw_glb,
    if may_spill.any():
        spill_d = np.where(dtraffic > c_(cap), dtraffic, 0.0)
        inner_d = np.maximum(inner_d, spill_d / c_(bw_dram))  # spill / bw_dram)
        spill_sum = spill_sum + np.einsum("ij,ij->i", spill_d, np.broadcast_to(dmult, spill_d.shape))
    # latency = sum of t_layer
    latency = t_static + np.einsum("ij,ij->i", inner_d, np.broadcast_to(dmult, inner_d.shape))

    # --- Energy (pJ) ----------------------------------------------------------------------
    MNcT = np.einsum("ij,ij->i", T_K * S["MNc"], np.broadcast_to(mult, T_K.shape))  # sum M*N*c*T_K
    MKcT = np.einsum("ij,ij->i", T_N * S["MKc"], np.broadcast_to(mult, T_N.shape))  # sum M*K*c*T_N
    if b.uniform_bits is not None:
        nin, ncw = n_in[:, 0], n_cw[:, 0]
        conversions = MNcT * nin * n_rg * ncw  # M * n_in * n_rg * T_K * N * n_cw * count
        dac_drives = MKcT * nin  # M * n_in * K * T_N * count
        cell_ops = sums["MKNc_tot"] * nin * ncw  # M*K*N*count * n_in * n_cw
        cells = sums["KNc_tot"] * ncw  # K * N * count * n_cw (times s: cells written)
    else:
        m_ = np.broadcast_to(mult, T_K.shape)
        conversions = np.einsum("ij,ij->i", S["MNc"] * n_in * T_K * n_cw, m_) * n_rg
        dac_drives = np.einsum("ij,ij->i", S["MKc"] * n_in * T_N, m_)
        cell_ops = np.einsum("ij,ij->i", S["MNc"] * S["K"] * n_in * n_cw, m_)
        cells = np.einsum("ij,ij->i", S["K"] * S["N"] * S["count"] * n_cw, m_)
    adds = MNcT - sums["MNc_tot"]  # adds = M * N * count * (T_K - 1)
    traffic_tot = sums["traffic_tot"]
    if any_stream:
        traffic_tot = traffic_tot + np.einsum("ij,ij->i", psum, np.broadcast_to(mult, psum.shape))
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
    """Pairs per chunk so that a (pairs x static layers) array holds about
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
            chunk_size = 2048
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
    for lo in range(0, P, chunk_size):  # loop over chunks only
        hi = min(P, lo + chunk_size)
        knobs = hw.chunk(lo, hi)
        check_clock(knobs["clock_mhz"], tech.f_max_mhz, lo)
        res = _kernel(tabs.chunk(lo, hi), knobs, tech)
        for k in OUTPUTS:
            out[k][lo:hi] = res[k]
    if as_frame:
        import pandas as pd

        return pd.DataFrame(out)
    return out
