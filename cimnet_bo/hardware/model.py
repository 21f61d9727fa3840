"""The CiM roofline model v2 for one network on one chip: :func:`simulate`.

This is the reference implementation of ``CIM_MODEL.md``: every line below that computes a
term names the line of the model page it implements ("Per static layer", "Every layer",
"Energy", "Area", "Peak power"). :func:`cimnet_bo.hardware.simulate_many` evaluates the same formulas for
many (network, chip) pairs at once and is tested against this function.

Units: times in seconds (the page's ``ns`` converted with 1e-9), bandwidths GB/s = 1e9
bytes/s, ``glb_kb * 1024`` bytes, energies in pJ per layer (the page's unit) and joules in
the totals and the breakdown, areas in mm^2.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from cimnet_bo.hardware.config import HardwareConfig, check_clock
from cimnet_bo.hardware.technology import FJ_TO_PJ, GB, KB, MHZ, NS, PJ_TO_J, UM2_TO_MM2, Technology
from cimnet_bo.workload.table import LayerTable, layer_weight_bytes

BOUNDS = ("compute", "buffer", "dram", "weights")


def as_table(layers: Any) -> LayerTable:
    """A validated :class:`LayerTable` from a LayerTable, dict of arrays, DataFrame or row dicts."""
    t = LayerTable.coerce(layers)
    if len(t) == 0:
        raise ValueError("layer table has no rows")
    return t


def as_hardware(hw: Any) -> HardwareConfig:
    if isinstance(hw, HardwareConfig):
        return hw
    return HardwareConfig.from_dict(hw)


def layer_bytes(static, dynamic, M, K, N, count, a_bits, ops):
    """``(in_b, out_b)`` per layer (page, *Every layer* and *Dynamic and eltwise layers*):

    * static:  ``in_b = M*K*count*a_bits/8``, ``out_b = M*N*count*a_bits/8``
    * dynamic: ``in_b = (M*K + K*N) * count * a_bits/8``, ``out_b = M*N*count*a_bits/8``
    * eltwise: ``in_b = out_b = ops * count * a_bits/8``

    Shared by :func:`simulate` and the batch builders so that both compare the same numbers
    with the buffer size.
    """
    in_b = np.where(
        static,
        M * K * count * a_bits / 8,
        np.where(dynamic, (M * K + K * N) * count * a_bits / 8, ops * count * a_bits / 8),
    )
    out_b = np.where(static | dynamic, M * N * count * a_bits / 8, ops * count * a_bits / 8)
    return in_b, out_b


def t_s_seconds(adc_bits, rows_active, dac_bits, tech: Technology):
    """``t_s = (B * (0.00653 * rows_active + 0.640) + t_read) * (1 + d_dac * (dac_bits - 1))``
    ns (page, *Per static layer*), in seconds."""
    return (
        (adc_bits * (tech.sense_per_row * rows_active + tech.sense_per_bit) + tech.t_read)
        * (1.0 + tech.d_dac * (dac_bits - 1.0))
        * NS
    )


def mvm_unit_s(rows, rows_active, cols_per_adc, t_s):
    """``n_rg * cols_per_adc * t_s`` in s, so that ``t_mvm = n_in * mvm_unit`` (page:
    ``t_mvm = n_in * n_rg * cols_per_adc * t_s`` with ``n_rg = ceil(rows / rows_active)``)."""
    return np.ceil(rows / rows_active) * cols_per_adc * t_s


def t_row_write_s(rram, clock_mhz, tech: Technology):
    """``t_row_write`` = one clock period (SRAM) or 150 ns (RRAM) (page, *Residency*)."""
    return np.where(rram, tech.t_row_write_rram * NS, tech.t_row_write_sram_cycles / (clock_mhz * MHZ))


def area_mm2(
    rows,
    cols,
    n_macros,
    cols_per_adc,
    adc_bits,
    dac_bits,
    rram,
    glb_kb,
    glb_width,
    digital_macs,
    dram_bw_gbps,
    tech: Technology,
    periphery: tuple | None = None,
):
    """Chip area, mm^2 (page, *Area*)::

    macro = rows*cols*a_cell[cell] + (cols / cols_per_adc) * a_adc(B)
          + rows * a_dac1 * 3 ** (dac_bits - 1) + (rows + cols) * a_line + a_fix
    area  = n_macros * macro + glb_kb * a_glb_per_kb + glb_width * a_port
          + digital_macs * a_mac + dram_bw_gbps * a_dram_per_gbps

    ``periphery``: the last four terms (:func:`periphery_terms`) when already computed.
    """
    a_cell = np.where(rram, tech.a_cell_rram, tech.a_cell_sram) * UM2_TO_MM2
    macro = (
        rows * cols * a_cell
        + (cols / cols_per_adc) * tech.a_adc_mm2(adc_bits)
        + rows * tech.a_dac1 * np.power(tech.dac_area_growth, dac_bits - 1.0)
        + (rows + cols) * tech.a_line
        + tech.a_fix
    )
    area = n_macros * macro
    for term in periphery or _periphery_area(glb_kb, glb_width, digital_macs, dram_bw_gbps, tech):
        area = area + term  # in the page's order
    return area


def _periphery_area(glb_kb, glb_width, digital_macs, dram_bw_gbps, tech: Technology) -> tuple:
    """The area terms of the buffer, its port, the digital MACs and the DRAM interface."""
    return (
        glb_kb * tech.a_glb_per_kb,
        glb_width * tech.a_port,
        digital_macs * tech.a_mac,
        dram_bw_gbps * tech.a_dram_per_gbps,
    )


def peak_power_w(
    n_macros,
    cols,
    rows_active,
    cols_per_adc,
    t_s,
    e_adc_pj,
    dac_bits,
    rram,
    digital_macs,
    clock_mhz,
    glb_kb,
    glb_width,
    dram_bw_gbps,
    area,
    tech: Technology,
    periphery: tuple | None = None,
):
    """Peak power, W (page, *Peak power*)::

    P_arrays  = n_macros * (cols * e_adc + rows_active * e_dac + rows_active * cols * e_cellop)
                / (cols_per_adc * t_s)
    P_digital = digital_macs * clock * e_mac_digital * vf
    P_glb     = bw_glb * 8 * e_glb(glb_kb) * vf
    P_dram    = dram_bw_gbps * 1e9 * 8 * e_dram
    power_w   = (P_arrays + P_digital + P_glb + P_dram) * 1e-12 + p_leak * area

    Energies in pJ, ``t_s`` in s, clock in Hz, ``bw_glb`` in bytes/s: each P term in pJ/s.
    ``periphery``: ``(P_digital, P_glb, P_dram)`` (:func:`periphery_terms`) when already
    computed.
    """
    e_cellop = np.where(rram, tech.e_cellop_rram, tech.e_cellop_sram) * FJ_TO_PJ
    power = (
        n_macros
        * (cols * e_adc_pj + rows_active * tech.e_dac_pj(dac_bits) + rows_active * cols * e_cellop)
        / (cols_per_adc * t_s)
    )
    for term in periphery or _periphery_power(digital_macs, clock_mhz, glb_kb, glb_width, dram_bw_gbps, tech):
        power = power + term  # in the page's order
    return power * PJ_TO_J + tech.p_leak * area


def _periphery_power(digital_macs, clock_mhz, glb_kb, glb_width, dram_bw_gbps, tech: Technology) -> tuple:
    """``(P_digital, P_glb, P_dram)`` in pJ/s (see :func:`peak_power_w`)."""
    f = clock_mhz * MHZ
    vf = tech.vf(clock_mhz)
    p_digital = digital_macs * f * tech.e_mac_digital * vf
    p_glb = glb_width * f * 8 * tech.e_glb_pj_per_bit(glb_kb) * vf
    p_dram = dram_bw_gbps * GB * 8 * tech.e_dram
    return p_digital, p_glb, p_dram


def periphery_terms(k: Mapping[str, Any], tech: Technology) -> tuple[tuple, tuple]:
    """The terms of area and peak power that depend on the periphery's knobs alone (buffer
    size and port, digital MACs, DRAM bandwidth, clock): ``(area terms, power terms)`` for
    :func:`area_and_power`, to compute once for a grid of those knobs that many array
    configurations share (the sums keep the page's order: the same numbers)."""
    area = _periphery_area(k["glb_kb"], k["glb_width"], k["digital_macs"], k["dram_bw_gbps"], tech)
    power = _periphery_power(k["digital_macs"], k["clock_mhz"], k["glb_kb"], k["glb_width"], k["dram_bw_gbps"], tech)
    return area, power


def area_and_power(
    k: Mapping[str, Any], t_s: Any, e_adc_pj: Any, tech: Technology, periphery: tuple | None = None
) -> tuple[Any, Any]:
    """:func:`area_mm2` and :func:`peak_power_w` of chips.

    Parameters
    ----------
    k : mapping
        Knob name -> value (scalar or array (H,)), with ``rows_active``, ``adc_bits`` and
        ``rram`` (bool) resolved.
    t_s, e_adc_pj
        The ADC's conversion time (s) and energy (pJ), as ``k``.
    tech : Technology
    periphery : tuple, optional
        :func:`periphery_terms` of ``k`` (or of knobs that broadcast with it), when computed
        already.

    Returns
    -------
    (area_mm2, power_w), each shaped like the knobs.
    """
    area_terms, power_terms = periphery or (None, None)
    area = area_mm2(
        *(k["rows"], k["cols"], k["n_macros"], k["cols_per_adc"], k["adc_bits"], k["dac_bits"], k["rram"]),
        *(k["glb_kb"], k["glb_width"], k["digital_macs"], k["dram_bw_gbps"], tech, area_terms),
    )
    power = peak_power_w(
        *(k["n_macros"], k["cols"], k["rows_active"], k["cols_per_adc"], t_s, e_adc_pj, k["dac_bits"], k["rram"]),
        *(k["digital_macs"], k["clock_mhz"], k["glb_kb"], k["glb_width"], k["dram_bw_gbps"], area, tech, power_terms),
    )
    return area, power


def peak_ops_per_s(hw: Any, w_bits: float = 8, a_bits: float = 8, tech: Technology | None = None) -> float:
    """The chip's peak for one precision (page, *Properties*)::

        2 * n_macros * rows * (cols / n_cw) / t_mvm,   n_cw = ceil(w_bits / bits_per_cell),
        t_mvm = n_in * n_rg * cols_per_adc * t_s,      n_in = ceil(a_bits / dac_bits)

    No static layer runs faster than this (``2*MACs / t_comp <= peak``).
    """
    hw = as_hardware(hw)
    tech = tech or Technology()
    n_cw = np.ceil(w_bits / hw.bits_per_cell)
    n_in = np.ceil(a_bits / hw.dac_bits)
    t_s = t_s_seconds(hw.eff_adc_bits, hw.eff_rows_active, hw.dac_bits, tech)
    t_mvm = n_in * mvm_unit_s(hw.rows, hw.eff_rows_active, hw.cols_per_adc, t_s)
    return float(2 * hw.n_macros * hw.rows * (hw.cols / n_cw) / t_mvm)


# ----------------------------------------------------------------------------- result
@dataclass
class SimulationResult:
    """One network on one chip.

    Attributes
    ----------
    latency_s : float         sum of per-layer times, batch 1
    energy_j : float          dynamic energy plus leakage ``p_leak * area * latency``
    area_mm2 : float
    power_w : float           peak power (page, *Peak power*)
    feasible : bool           False when an RRAM chip would have to stream weights
    resident : bool           all weights fit on chip (``s == 0``)
    stream_fraction : float   ``s``, the fraction of the weights that does not fit
    program_time_s : float    one-time programming of the weights kept on chip
    adc_bits : int            the ADC resolution used (default resolved)
    peak_ops_per_s : float    :func:`peak_ops_per_s` at the network's static-layer precision
    replication : int         ``D`` (1 when streaming)
    arrays_needed : int       ``A_tot``
    layers : DataFrame        per-layer breakdown (see :func:`simulate`)
    """

    latency_s: float
    energy_j: float
    area_mm2: float
    power_w: float
    feasible: bool
    resident: bool
    stream_fraction: float
    program_time_s: float
    adc_bits: int
    peak_ops_per_s: float
    replication: int
    arrays_needed: int
    hardware: HardwareConfig
    label: str = "network"
    _columns: dict = field(default_factory=dict, repr=False)
    _frame: Any = field(default=None, repr=False)

    @property
    def layers(self):
        """Per-layer breakdown as a pandas DataFrame (built on first access)."""
        if self._frame is None:
            import pandas as pd

            self._frame = pd.DataFrame(self._columns)
        return self._frame

    @property
    def tops(self) -> float:
        """Effective throughput, 1e12 ops/s (2 ops per MAC over static and dynamic layers)."""
        macs = float(np.sum(self._columns["macs"]))
        return 2 * macs / self.latency_s / 1e12

    @property
    def avg_power_w(self) -> float:
        """Average power over one inference, W: ``energy / latency``."""
        return self.energy_j / self.latency_s

    def bound_counts(self) -> dict[str, int]:
        """Number of layers bound by each term (:data:`BOUNDS`)."""
        b = np.asarray(self._columns["bound"])
        return {k: int(np.sum(b == k)) for k in BOUNDS}

    def totals(self) -> dict[str, Any]:
        return {
            "latency_s": self.latency_s,
            "energy_j": self.energy_j,
            "area_mm2": self.area_mm2,
            "power_w": self.power_w,
            "avg_power_w": self.avg_power_w,
            "feasible": self.feasible,
            "resident": self.resident,
            "stream_fraction": self.stream_fraction,
            "program_time_s": self.program_time_s,
            "adc_bits": self.adc_bits,
            "peak_ops_per_s": self.peak_ops_per_s,
            "replication": self.replication,
            "arrays_needed": self.arrays_needed,
            "tops": self.tops,
        }

    def to_dict(self, layers: bool = True) -> dict[str, Any]:
        """Plain JSON-able dict: totals, the hardware configuration and (optionally) the layers."""
        out = {"label": self.label, **self.totals(), "hardware": self.hardware.to_dict()}
        if layers:
            recs = self.layers.to_dict(orient="records")
            out["layers"] = [{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()} for r in recs]
        return out


# ----------------------------------------------------------------------------- model
def simulate(layers: Any, hw: Any, tech: Technology | None = None) -> SimulationResult:
    """Latency, energy, area and peak power of one network on one CiM chip (``CIM_MODEL.md``,
    version 2).

    Parameters
    ----------
    layers : LayerTable, dict of arrays, DataFrame or list of row dicts
        The network (see :mod:`cimnet_bo.workload.table`).
    hw : HardwareConfig or dict
        The chip's knobs.
    tech : Technology, optional
        Constants; the page's defaults if omitted.

    Returns
    -------
    SimulationResult
        Totals and ``layers``, a DataFrame with one row per layer: ``name, kind, M, K, N,
        count, arrays (A), passes, t_comp, t_buf (traffic / bw_glb), t_spill (spill /
        bw_dram), t_w, t_layer`` (seconds), ``bound`` (the term that sets ``t_layer``:
        ``weights`` when ``t_w`` is at least the largest of the other three, else the largest
        of compute / buffer / dram), ``traffic_bytes, glb_bytes`` (plus streamed weights),
        ``psum_bytes, dram_bytes, weight_bytes,
        macs, ops`` and energies in joules ``e_adc, e_dac, e_cell, e_write, e_add, e_digital,
        e_glb, e_dram, e_leak, e_total``; the energy columns add up to ``energy_j``.

    Raises
    ------
    ValueError
        An invalid knob (named), a clock above ``tech.f_max_mhz``, or a malformed table.
    """
    t = as_table(layers)
    hw = as_hardware(hw)
    tech = tech or Technology()
    check_clock(hw.clock_mhz, tech.f_max_mhz)

    kind = np.asarray(t.kind).astype(str)
    static, dynamic = kind == "static", kind == "dynamic"
    eltwise = ~(static | dynamic)
    M, K, N, c = t.M, t.K, t.N, t.count
    wb, ab, ops, reuse = t.w_bits, t.a_bits, t.ops, t.reuse
    rram = hw.cell == "rram"
    rows, cols, nm = float(hw.rows), float(hw.cols), float(hw.n_macros)
    ra, B, dac = float(hw.eff_rows_active), float(hw.eff_adc_bits), float(hw.dac_bits)
    cpa = float(hw.cols_per_adc)
    clock = hw.clock_mhz * MHZ

    # --- Per static layer ------------------------------------------------------------
    n_cw = np.ceil(wb / hw.bits_per_cell)  # n_cw = ceil(w_bits / bits_per_cell)
    n_in = np.ceil(ab / dac)  # n_in = ceil(a_bits / dac_bits)
    n_rg = np.ceil(rows / ra)  # n_rg = ceil(rows / rows_active)
    T_K = np.where(static, np.ceil(K / rows), 0.0)  # T_K = ceil(K / rows)
    T_N = np.where(static, np.ceil(N * n_cw / cols), 0.0)  # T_N = ceil(N * n_cw / cols)
    A = T_K * T_N * np.where(static, c, 0.0)  # A = T_K * T_N * count
    # t_s = (B * (0.00653 * rows_active + 0.640) + t_read) * (1 + d_dac * (dac_bits - 1)) ns
    t_s = float(t_s_seconds(B, ra, dac, tech))
    t_mvm = n_in * mvm_unit_s(rows, ra, cpa, t_s)  # t_mvm = n_in * n_rg * cols_per_adc * t_s
    W = layer_weight_bytes(static, K, N, c, wb)  # W = K * N * count * w_bits / 8
    adds = np.where(static, M * N * c * (T_K - 1), 0.0)  # adds = M * N * count * (T_K - 1)

    bw_dram = hw.dram_bw_gbps * GB  # GB/s = 1e9 bytes/s
    bw_glb = hw.glb_width * clock  # bw_glb = glb_width * clock
    t_rw = float(t_row_write_s(rram, hw.clock_mhz, tech))  # 1 clock (SRAM), 150 ns (RRAM)

    # Residency is fluid: s = clip((A_tot - n_macros) / A_tot, 0, 1), 0 without static layers
    A_tot = float(A.sum())
    s = float(np.clip((A_tot - nm) / A_tot, 0.0, 1.0)) if A_tot > 0 else 0.0
    resident = s == 0.0
    if resident:
        D = np.floor(nm / A_tot) if A_tot > 0 else nm  # D = floor(n_macros / A_tot)
        passes = np.where(static, 1.0, 0.0)
        steps = np.ceil(M / D)  # t_comp = ceil(M / D) * t_mvm
        t_w = np.zeros(len(t))  # no weight time per inference
    else:
        D = 1.0  # s > 0: D = 1
        passes = np.where(static, np.ceil(A / nm), 0.0)  # passes = ceil(A / n_macros)
        steps = passes * M  # t_comp = passes * M * t_mvm
        # t_w = s * max(W / bw_dram, W / bw_glb, passes * rows * t_row_write)
        t_w = np.where(static, s * np.maximum(np.maximum(W / bw_dram, W / bw_glb), passes * rows * t_rw), 0.0)
    # program_time = sum of max(W / bw_dram, D * W / bw_glb, rows * t_row_write), one-time;
    # with s > 0 the same sum with W replaced by (1 - s) * W and D = 1
    Wk = (1.0 - s) * W
    program = np.where(static, np.maximum(np.maximum(Wk / bw_dram, D * Wk / bw_glb), rows * t_rw), 0.0)
    program_time = float(program.sum())
    stream_bytes = s * W  # DRAM bytes += s * W
    cells_written = np.where(static, s * K * N * c * n_cw, 0.0)  # s * K * N * count * n_cw
    # psum = M * N * count * (min(T_K, passes) - 1) * 6 bytes; 0 when resident
    psum = np.where(static & (not resident), M * N * c * (np.minimum(T_K, passes) - 1.0), 0.0)
    psum = psum * tech.psum_bytes
    t_static = steps * t_mvm

    # --- Dynamic and eltwise layers (digital unit, rate = digital_macs * clock) -----------
    rate = hw.digital_macs * clock
    macs = np.where(static | dynamic, M * K * N * c, 0.0)
    work = np.where(dynamic, M * K * N * c, ops * c)  # dynamic: M*K*N*count; eltwise: ops*count
    t_comp = np.where(static, t_static, work / rate)  # t_comp = work / rate

    # --- Every layer ------------------------------------------------------------------
    in_b, out_b = layer_bytes(static, dynamic, M, K, N, c, ab, ops)
    traffic = in_b + out_b + psum  # traffic = in_b + out_b + psum
    # spill = traffic if in_b / reuse + out_b > glb_kb * 1024 else 0 (folded inputs; reuse
    # applies to static layers, it is 1 for others)
    spill = np.where(np.where(static, in_b / reuse, in_b) + out_b > hw.glb_kb * KB, traffic, 0.0)
    dram_bytes = spill + stream_bytes  # dram_bytes = spill + s * W
    t_buf = traffic / bw_glb
    t_spill = spill / bw_dram
    inner = np.maximum(np.maximum(t_comp, t_buf), t_spill)
    t_layer = t_w + inner  # t_layer = t_w + max(t_comp, traffic / bw_glb, spill / bw_dram)
    latency = float(t_layer.sum())  # latency = sum of t_layer

    which = np.argmax(np.stack([t_comp, t_buf, t_spill]), axis=0)
    bound = np.where((t_w > 0) & (t_w >= inner), "weights", np.asarray(BOUNDS)[which])

    # --- Energy (pJ) ------------------------------------------------------------------
    vf = float(tech.vf(hw.clock_mhz))  # vf(f) = max(1, f / f_nom) ** gamma
    # e_adc = (100*B + 0.001 * 4**B) fF * VDD^2 * max(1, (1 / t_s) / r_knee) ** 1.49
    e_adc = float(tech.e_adc_pj(B, t_s))
    # conversions = M * n_in * n_rg * T_K * N * n_cw * count
    conversions = np.where(static, M * n_in * n_rg * T_K * N * n_cw * c, 0.0)
    E_adc = conversions * e_adc
    # + M * n_in * K * T_N * count * e_dac,  e_dac = 50 fF * dac_bits * VDD^2
    E_dac = np.where(static, M * n_in * K * T_N * c, 0.0) * float(tech.e_dac_pj(dac))
    e_cellop = tech.by_cell("e_cellop", hw.cell) * FJ_TO_PJ
    E_cell = np.where(static, M * K * N * c * n_in * n_cw, 0.0) * e_cellop  # M*K*N*count*n_in*n_cw
    E_write = cells_written * tech.by_cell("e_cell_write", hw.cell)  # cells_written * e_cell_write
    E_add = adds * tech.e_add  # adds * e_add
    # dynamic: M*K*N*count * e_mac_digital * vf; eltwise: ops * count * e_elt * vf
    E_digital = np.where(dynamic, macs * tech.e_mac_digital, np.where(eltwise, work * tech.e_elt, 0.0)) * vf
    # every layer: (traffic + W * s if static) * 8 * e_glb(glb_kb) * vf + dram_bytes * 8 * e_dram
    E_glb = (traffic + stream_bytes) * 8 * float(tech.e_glb_pj_per_bit(hw.glb_kb)) * vf
    E_dram = dram_bytes * 8 * tech.e_dram
    E_pj = E_adc + E_dac + E_cell + E_write + E_add + E_digital + E_glb + E_dram

    # --- Area and peak power ------------------------------------------------------------
    k = {**hw.to_dict(), "rows_active": ra, "adc_bits": B, "rram": rram}
    area, power = (float(v) for v in area_and_power(k, t_s, e_adc, tech))
    # total energy (J) = sum * 1e-12 + p_leak * area * latency
    energy = float(E_pj.sum()) * PJ_TO_J + tech.p_leak * area * latency

    st_w = wb[static]
    st_a = ab[static]
    pw = float(st_w[0]) if st_w.size and np.all(st_w == st_w[0]) else 8.0
    pa = float(st_a[0]) if st_a.size and np.all(st_a == st_a[0]) else 8.0
    columns = {
        "name": np.asarray(t.name, dtype=object),
        "kind": kind,
        "M": M,
        "K": K,
        "N": N,
        "count": c,
        "arrays": A,
        "passes": passes,
        "t_comp": t_comp,
        "t_buf": t_buf,
        "t_spill": t_spill,
        "t_w": t_w,
        "t_layer": t_layer,
        "bound": bound,
        "traffic_bytes": traffic,
        "glb_bytes": traffic + stream_bytes,
        "psum_bytes": psum,
        "dram_bytes": dram_bytes,
        "weight_bytes": W,
        "macs": macs,
        "ops": np.where(eltwise, ops * c, 2 * macs),
        "e_adc": E_adc * PJ_TO_J,
        "e_dac": E_dac * PJ_TO_J,
        "e_cell": E_cell * PJ_TO_J,
        "e_write": E_write * PJ_TO_J,
        "e_add": E_add * PJ_TO_J,
        "e_digital": E_digital * PJ_TO_J,
        "e_glb": E_glb * PJ_TO_J,
        "e_dram": E_dram * PJ_TO_J,
        "e_leak": tech.p_leak * area * t_layer,
    }
    columns["e_total"] = E_pj * PJ_TO_J + columns["e_leak"]
    return SimulationResult(
        latency_s=latency,
        energy_j=energy,
        area_mm2=area,
        power_w=power,
        feasible=not (rram and s > 0),  # RRAM cannot stream (write endurance)
        resident=bool(resident),
        stream_fraction=s,
        program_time_s=program_time,
        adc_bits=int(B),
        peak_ops_per_s=peak_ops_per_s(hw, pw, pa, tech),
        replication=int(D),
        arrays_needed=int(A_tot),
        hardware=hw,
        label=t.label,
        _columns=columns,
    )
