"""The CiM roofline model v2 on one chunk of (network, chip) pairs: :func:`chunk_totals`, the
arithmetic of :func:`cimnet_bo.hardware.simulate_many`.

Same formulas as :func:`cimnet_bo.hardware.simulate` (the reference; each line here names the
line of ``CIM_MODEL.md`` it implements), evaluated on (layers x pairs) numpy arrays with no
Python loop per pair or per layer. Sums over layers are regrouped (hardware-only factors taken
out of the sums), so results agree with :func:`simulate` to rounding (float64; tested at 1e-9
relative, about 1e-15 in practice). A chunk whose pairs all run one network weights its sums
with one vector (BLAS); only the pairs whose layers need several passes get the partial-sum
terms; temporaries are updated in place.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from cimnet_bo.hardware.batch import TableBatch
from cimnet_bo.hardware.model import area_and_power, mvm_unit_s, t_row_write_s, t_s_seconds
from cimnet_bo.hardware.technology import FJ_TO_PJ, GB, KB, MHZ, PJ_TO_J, Technology


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


def chunk_totals(b: TableBatch, hw: Mapping[str, np.ndarray], tech: Technology) -> dict[str, np.ndarray]:
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
    area, power = area_and_power(hw, t_s, e_adc, tech)
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
