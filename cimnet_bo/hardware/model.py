"""The CiM roofline model v1 for one network on one chip: :func:`simulate`.

This is the reference implementation of ``CIM_MODEL.md``: every line below that computes a
term names the line of the model page it implements ("Per static layer", "Every layer",
"Energy", "Area"). :func:`cimnet_bo.hardware.simulate_many` evaluates the same formulas for
many (network, chip) pairs at once and is tested against this function.

Units: times in seconds (the page's ``ns`` converted with 1e-9), bandwidths GB/s = 1e9
bytes/s, ``glb_kb * 1024`` bytes, energies in pJ per layer (the page's unit) and joules in
the totals and the breakdown, areas in mm^2.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from cimnet_bo.hardware.config import HardwareConfig
from cimnet_bo.hardware.technology import GB, KB, MHZ, NS, PJ_TO_J, UM2_TO_MM2, FJ_TO_PJ, Technology
from cimnet_bo.workload.table import LayerTable

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


def activation_bytes(static, dynamic, M, K, N, count, a_bits, ops):
    """``act_b = in_b + out_b`` per layer (page, *Every layer* and *Dynamic and eltwise layers*):

    * static:  ``in_b = M*K*count*a_bits/8``, ``out_b = M*N*count*a_bits/8``
    * dynamic: ``in_b = (M*K + K*N) * count * a_bits/8``, ``out_b = M*N*count*a_bits/8``
    * eltwise: ``in_b = out_b = ops * count * a_bits/8``

    Shared by :func:`simulate` and the batch builders so that both compare ``act_b`` with the
    buffer size on bit-identical numbers.
    """
    in_b = np.where(
        static,
        M * K * count * a_bits / 8,
        np.where(dynamic, (M * K + K * N) * count * a_bits / 8, ops * count * a_bits / 8),
    )
    out_b = np.where(static | dynamic, M * N * count * a_bits / 8, ops * count * a_bits / 8)
    return in_b + out_b


def weight_bytes(static, K, N, count, w_bits):
    """``W = K * N * count * w_bits / 8`` (page, *Per static layer*); 0 for digital layers."""
    return np.where(static, K * N * count * w_bits / 8, 0.0)


def t_sense_s(adc_bits, rows_active, tech: Technology):
    """``t_sense = (adc_bits * (0.00653 * rows_active + 0.640) + 1.0) ns`` (page, *Per static
    layer*), in seconds."""
    return (adc_bits * (tech.sense_per_row * rows_active + tech.sense_per_bit) + tech.t_read) * NS


def mvm_unit_s(rows, rows_active, cols_per_adc, adc_bits, tech: Technology):
    """``n_rg * cols_per_adc * t_sense`` in s, so that ``t_mvm = n_in * mvm_unit`` (page:
    ``t_mvm = n_in * n_rg * cols_per_adc * t_sense`` with ``n_rg = ceil(rows / rows_active)``)."""
    n_rg = np.ceil(rows / rows_active)
    return n_rg * cols_per_adc * t_sense_s(adc_bits, rows_active, tech)


def t_row_write_s(rram, clock_mhz, tech: Technology):
    """``t_row_write`` = one clock period (SRAM) or 150 ns (RRAM) (page, after *Streaming*)."""
    return np.where(
        rram, tech.t_row_write_rram * NS, tech.t_row_write_sram_cycles / (clock_mhz * MHZ)
    )


def area_mm2(
    rows,
    cols,
    n_macros,
    cols_per_adc,
    adc_bits,
    rram,
    glb_kb,
    digital_macs,
    dram_bw_gbps,
    glb_bw_gbps,
    tech: Technology,
):
    """Chip area (page, *Area*)::

    macro = rows*cols*a_cell[cell] + (cols/cols_per_adc) * a_adc4 * 2^(adc_bits-4)
            + (rows+cols) * a_line
    area  = n_macros*macro + glb_kb*a_glb_per_kb + digital_macs*a_mac
          + dram_bw_gbps*a_dram_per_gbps + glb_bw_gbps*a_bus_per_gbps
    """
    a_cell = np.where(rram, tech.a_cell_rram, tech.a_cell_sram) * UM2_TO_MM2
    macro = (
        rows * cols * a_cell
        + (cols / cols_per_adc) * tech.a_adc4 * np.power(2.0, adc_bits - tech.adc_ref_bits)
        + (rows + cols) * tech.a_line
    )
    return (
        n_macros * macro
        + glb_kb * tech.a_glb_per_kb
        + digital_macs * tech.a_mac
        + dram_bw_gbps * tech.a_dram_per_gbps
        + glb_bw_gbps * tech.a_bus_per_gbps
    )


def peak_ops_per_s(
    hw: Any, w_bits: float = 8, a_bits: float = 8, tech: Technology | None = None
) -> float:
    """The chip's peak for one precision (page, *Properties*, last line)::

        2 * n_macros * rows * (cols / n_cw) / t_mvm,   n_cw = ceil(w_bits / bits_per_cell),
        t_mvm = n_in * n_rg * cols_per_adc * t_sense,  n_in = ceil(a_bits / dac_bits)

    No static layer runs faster than this (``2*MACs / t_comp <= peak``).
    """
    hw = as_hardware(hw)
    tech = tech or Technology()
    n_cw = np.ceil(w_bits / hw.bits_per_cell)
    n_in = np.ceil(a_bits / hw.dac_bits)
    t_mvm = n_in * mvm_unit_s(hw.rows, hw.eff_rows_active, hw.cols_per_adc, hw.eff_adc_bits, tech)
    return float(2 * hw.n_macros * hw.rows * (hw.cols / n_cw) / t_mvm)


# ----------------------------------------------------------------------------- result
@dataclass
class SimulationResult:
    """One network on one chip.

    Attributes
    ----------
    latency_s : float        sum of per-layer times, batch 1
    energy_j : float         dynamic energy plus leakage ``p_leak * area * latency``
    area_mm2 : float
    resident : bool          all weights fit on chip (``A_tot <= n_macros``)
    program_time_s : float   one-time weight programming (resident); 0 when streaming
    adc_bits : int           the ADC resolution used (default resolved)
    peak_ops_per_s : float   :func:`peak_ops_per_s` at the network's static-layer precision
    replication : int        ``D`` (1 when streaming)
    arrays_needed : int      ``A_tot``
    layers : DataFrame       per-layer breakdown (see :func:`simulate`)
    """

    latency_s: float
    energy_j: float
    area_mm2: float
    resident: bool
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

    def totals(self) -> dict[str, Any]:
        return {
            "latency_s": self.latency_s,
            "energy_j": self.energy_j,
            "area_mm2": self.area_mm2,
            "resident": self.resident,
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
            out["layers"] = [
                {k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()} for r in recs
            ]
        return out


# ----------------------------------------------------------------------------- model
def simulate(layers: Any, hw: Any, tech: Technology | None = None) -> SimulationResult:
    """Latency, energy and area of one network on one CiM chip (``CIM_MODEL.md``, version 1).

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
        Totals and ``layers``, a DataFrame with one row per layer: ``name, kind, arrays
        (A), passes, t_comp, t_buf (act_b / bw_glb), t_spill (spill / bw_dram), t_w, t_layer``
        (seconds), ``bound`` (the term that sets ``t_layer``: ``weights`` when ``t_w`` is at
        least the largest of the other three, else the largest of compute / buffer / dram),
        ``act_bytes, glb_bytes, dram_bytes, weight_bytes, macs, ops`` and energies in joules
        ``e_adc, e_dac, e_cell, e_write, e_digital, e_glb, e_dram, e_leak, e_total``; the energy
        columns add up to ``energy_j``.
    """
    t = as_table(layers)
    hw = as_hardware(hw)
    tech = tech or Technology()

    kind = np.asarray(t.kind).astype(str)
    static, dynamic = kind == "static", kind == "dynamic"
    eltwise = ~(static | dynamic)
    M, K, N, c = t.M, t.K, t.N, t.count
    wb, ab, ops = t.w_bits, t.a_bits, t.ops
    rram = hw.cell == "rram"
    rows, cols, nm = float(hw.rows), float(hw.cols), float(hw.n_macros)
    ra, adc = float(hw.eff_rows_active), float(hw.eff_adc_bits)

    # --- Per static layer ------------------------------------------------------------
    n_cw = np.ceil(wb / hw.bits_per_cell)  # n_cw = ceil(w_bits / bits_per_cell)
    n_in = np.ceil(ab / hw.dac_bits)  # n_in = ceil(a_bits / dac_bits)
    n_rg = np.ceil(rows / ra)  # n_rg = ceil(rows / rows_active)
    T_K = np.where(static, np.ceil(K / rows), 0.0)  # T_K = ceil(K / rows)
    T_N = np.where(static, np.ceil(N * n_cw / cols), 0.0)  # T_N = ceil(N * n_cw / cols)
    A = T_K * T_N * np.where(static, c, 0.0)  # A = T_K * T_N * count
    unit = mvm_unit_s(rows, ra, float(hw.cols_per_adc), adc, tech)  # n_rg * cols_per_adc * t_sense
    # t_mvm = n_in * n_rg * cols_per_adc * t_sense
    t_mvm = n_in * unit
    W = weight_bytes(static, K, N, c, wb)  # W = K * N * count * w_bits / 8

    bw_dram = hw.dram_bw_gbps * GB  # GB/s = 1e9 bytes/s
    bw_glb = hw.glb_bw_gbps * GB
    # t_row_write: 1 clock (SRAM), 150 ns (RRAM)
    t_rw = float(t_row_write_s(rram, hw.clock_mhz, tech))

    A_tot = float(A.sum())  # A_tot = sum of A over static layers
    resident = A_tot <= nm  # Resident (A_tot <= n_macros)
    if resident:
        D = np.floor(nm / A_tot) if A_tot > 0 else nm  # D = floor(n_macros / A_tot)
        steps = np.ceil(M / D)  # t_comp = ceil(M / D) * t_mvm
        passes = np.where(static, 1.0, 0.0)
        t_w = np.zeros(len(t))  # no weight time per inference
        # program_time = sum over layers of max(W / bw_dram, D * W / bw_glb, rows * t_row_write)
        program = np.where(
            static, np.maximum(np.maximum(W / bw_dram, D * W / bw_glb), rows * t_rw), 0.0
        )
        program_time = float(program.sum())
        # weights written once, not per inference
        cells_written = np.zeros(len(t))
        stream_bytes = np.zeros(len(t))
    else:
        D = 1.0  # Streaming: no replication (D = 1)
        passes = np.ceil(A / nm)  # passes = ceil(A / n_macros)
        steps = passes * M  # t_comp = passes * M * t_mvm
        # t_w = max(W / bw_dram, W / bw_glb, passes * rows * t_row_write)
        t_w = np.where(
            static, np.maximum(np.maximum(W / bw_dram, W / bw_glb), passes * rows * t_rw), 0.0
        )
        program_time = 0.0
        # cells written = K * N * count * n_cw
        cells_written = np.where(static, K * N * c * n_cw, 0.0)
        stream_bytes = W  # DRAM bytes += W
    t_static = steps * t_mvm

    # --- Dynamic and eltwise layers (digital unit, rate = digital_macs * clock) -----------
    rate = hw.digital_macs * hw.clock_mhz * MHZ
    macs = np.where(static | dynamic, M * K * N * c, 0.0)
    # dynamic: M*K*N*count; eltwise: ops*count
    work = np.where(dynamic, M * K * N * c, ops * c)
    t_digital = work / rate  # t_comp = work / rate
    t_comp = np.where(static, t_static, t_digital)

    # --- Every layer ------------------------------------------------------------------
    act_b = activation_bytes(static, dynamic, M, K, N, c, ab, ops)  # act_b = in_b + out_b
    glb_bytes_cap = hw.glb_kb * KB
    # spill = act_b if act_b > glb_kb*1024 else 0
    spill = np.where(act_b > glb_bytes_cap, act_b, 0.0)
    t_buf = act_b / bw_glb  # act_b / bw_glb
    t_spill = spill / bw_dram  # spill / bw_dram
    inner = np.maximum(np.maximum(t_comp, t_buf), t_spill)
    # t_layer = t_w + max(t_comp, act_b/bw_glb, spill/bw_dram)
    t_layer = t_w + inner
    latency = float(t_layer.sum())  # latency = sum of t_layer

    which = np.argmax(np.stack([t_comp, t_buf, t_spill]), axis=0)
    bound = np.where((t_w > 0) & (t_w >= inner), "weights", np.asarray(BOUNDS)[which])

    # --- Energy (pJ) ------------------------------------------------------------------
    # e_adc(B) = (100*B + 0.001*4^B) fF * VDD^2
    e_adc = tech.e_adc_pj(adc)
    # conversions = M*n_in*n_rg*T_K*N*n_cw*count
    conversions = np.where(static, M * n_in * n_rg * T_K * N * n_cw * c, 0.0)
    E_adc = conversions * e_adc  # conversions * e_adc(adc_bits)
    # + M*n_in*K*T_N*count * e_dac
    E_dac = np.where(static, M * n_in * K * T_N * c, 0.0) * tech.e_dac_pj()
    e_cellop = tech.by_cell("e_cellop", hw.cell) * FJ_TO_PJ
    # + M*K*N*count*n_in*n_cw*e_cellop[cell]
    E_cell = np.where(static, M * K * N * c * n_in * n_cw, 0.0) * e_cellop
    # + cells_written * e_cell_write[cell]
    E_write = cells_written * tech.by_cell("e_cell_write", hw.cell)
    # dynamic: M*K*N*count * e_mac_digital
    E_digital = np.where(
        dynamic,
        macs * tech.e_mac_digital,
        # eltwise: ops * count * e_elt
        np.where(eltwise, ops * c * tech.e_elt, 0.0),
    )
    glb_bytes = act_b + stream_bytes  # (act_b + W if streaming)
    dram_bytes = spill + stream_bytes  # dram_bytes = spill (+ W if streaming)
    # * 8 * e_glb(glb_kb), e_glb = 0.1*sqrt(glb_kb/64)
    E_glb = glb_bytes * 8 * tech.e_glb_pj_per_bit(hw.glb_kb)
    E_dram = dram_bytes * 8 * tech.e_dram  # + dram_bytes * 8 * e_dram
    E_pj = E_adc + E_dac + E_cell + E_write + E_digital + E_glb + E_dram

    # --- Area -------------------------------------------------------------------------
    area = float(
        area_mm2(
            rows,
            cols,
            nm,
            float(hw.cols_per_adc),
            adc,
            rram,
            hw.glb_kb,
            float(hw.digital_macs),
            hw.dram_bw_gbps,
            hw.glb_bw_gbps,
            tech,
        )
    )

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
        "act_bytes": act_b,
        "glb_bytes": glb_bytes,
        "dram_bytes": dram_bytes,
        "weight_bytes": W,
        "macs": macs,
        "ops": np.where(eltwise, ops * c, 2 * macs),
        "e_adc": E_adc * PJ_TO_J,
        "e_dac": E_dac * PJ_TO_J,
        "e_cell": E_cell * PJ_TO_J,
        "e_write": E_write * PJ_TO_J,
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
        resident=bool(resident),
        program_time_s=program_time,
        adc_bits=int(adc),
        peak_ops_per_s=peak_ops_per_s(hw, pw, pa, tech),
        replication=int(D),
        arrays_needed=int(A_tot),
        hardware=hw,
        label=t.label,
        _columns=columns,
    )
