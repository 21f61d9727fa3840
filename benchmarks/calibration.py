"""Calibration of the CiM roofline model v2 against published chips and macros.

Computes every row of the *Calibration checks* table of the model page (``CIM_MODEL.md``)
with :func:`cimnet_bo.hardware.simulate` and the default :class:`Technology`, next to the
published figure, the ratio model / published and a short analysis of what drives the
difference. None of the rows is a target: the model is a roofline with 22 nm class constants,
and the references differ in node, circuit style and what they count.

Checks
------
vgg8
    DNN+NeuroSim V1.4, VGG-8 / CIFAR-10 on 6,344 arrays of 128x128 RRAM (1 bit/cell, 5-bit
    ADC, 8 columns per ADC, 1-bit inputs) with 8x replication (``n_macros = 8 * 6,344``),
    a 64 MB buffer with a 512 B/cycle port at 1000 MHz, and the cim-server baseline's DRAM
    (400 GB/s) and digital unit (1024 MACs). Latency, TOPS (``SimulationResult.tops``) and
    TOPS/W (``2 * MACs / energy_j``, leakage included).
intel_c2c
    Intel 22 nm C-2C SRAM-CiM macro, 8b/8b (Wang et al., VLSI 2022, as modelled in CiMLoop's
    ``wang_vlsi_2022``: 64 inputs x 16 outputs of 8-bit weights per cycle, one 8-bit R-2R
    voltage DAC per input, 16 8-bit ADCs). Model macro: rows = 64, cols = 128 (16 weights x 8
    one-bit cells), dac_bits = 8, adc_bits = 8, cols_per_adc = 8 (16 ADCs), SRAM; one static
    layer that fills it. Reported: the area of the macro alone (the chip's buffer, port,
    digital unit and DRAM interface are subtracted), TOPS, TOPS/mm^2 and TOPS/W of the macro
    (array energies plus the macro's own leakage).
reram_8mb
    22 nm 8-Mb ReRAM-CiM macro, 8b/8b (JSSC 58(1), 2023: 8-b input, 8-b weight, 19-b output,
    14.4 ns per MVM, 21.6 TOPS/W). Its array geometry is not in the abstract; assumed: 19 b =
    16-b product + log2(8), so 8 rows are summed per readout (rows = rows_active = 8),
    1 bit/cell, bit-serial inputs (dac_bits = 1), one readout per column (cols_per_adc = 1),
    cols = 64 (8 weights), the default ADC rule. Reported: ``t_mvm = n_in * n_rg *
    cols_per_adc * t_s`` and the macro's TOPS/W.
isaac
    ISAAC (ISCA 2016), 32 nm: 168 tiles x 12 IMAs x 8 crossbars = 16,128 macros of 128x128,
    2-bit cells, 1-bit DACs, one 8-bit ADC per crossbar (cols_per_adc = 128), 64 KB eDRAM and
    a 384-bit bus per tile (glb_kb = 168 * 64, glb_width = 168 * 48 B/cycle at 1000 MHz),
    4 HyperTransport links of 6.4 GB/s as the off-chip interface (dram_bw_gbps = 25.6), one
    digital MAC per tile. Reported: chip area and peak power (``power_w``).
isaac_adc
    ``Technology().a_adc_mm2(8)`` against ISAAC's 8-bit ADC (1,200 um^2).

Usage
-----
``python benchmarks/calibration.py [--out FILE.json]``

Prints the Markdown table; ``--out`` also writes JSON with the model version, the technology
constants, each check's configuration, numbers and breakdowns, and the table rows.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from cimnet_bo.core import plain
from cimnet_bo.hardware import MODEL_VERSION, HardwareConfig, Technology, simulate
from cimnet_bo.hardware.model import area_mm2, mvm_unit_s, peak_power_w, t_s_seconds
from cimnet_bo.workload.models import vgg8_cifar

#: Published figures (the page's *Calibration checks* table) and the few published details
#: the analysis column uses.
PUBLISHED: dict[str, dict[str, float]] = {
    # DNN+NeuroSim V1.4, VGG-8 / CIFAR-10; the page's own v1 and v2 model figures for reference
    "vgg8": {
        "latency_us": 194.0,
        "tops": 6.3,
        "tops_per_w": 23.9,
        "arrays": 6344,
        "replication": 8,
        "page_v2_latency_us": 183.0,
        "page_v2_tops": 6.72,
        "page_v2_tops_per_w": 7.7,
    },
    # Intel 22 nm C-2C macro at 0.7 V; area shares of CiMLoop's Fig. 22(b) comparison
    "intel_c2c": {
        "area_mm2": 0.124,
        "tops": 0.3,
        "tops_per_w": 32.2,
        "vdd": 0.7,
        "inputs": 64,
        "outputs": 16,
        "adcs": 16,
        "mac_area_share": 0.46,
        "misc_area_share": 0.11,
    },
    # 22 nm 8-Mb ReRAM-CiM macro (JSSC 58(1), 2023)
    "reram_8mb": {"t_mvm_ns": 14.4, "tops_per_w": 21.6, "out_bits": 19},
    # ISAAC, 32 nm: chip, 8-bit ADC, HyperTransport (4 links), ADC power per IMA (8 ADCs)
    "isaac": {
        "area_mm2": 85.4,
        "power_w": 65.8,
        "adc8_um2": 1200.0,
        "ht_area_mm2": 22.88,
        "ht_power_w": 10.4,
        "adc_w_per_ima": 0.016,
        "adc_gsps": 1.28,
    },
}

#: Shared periphery of the single-macro checks: as small as the knobs allow, and wide enough
#: a buffer port that the one layer is compute-bound (the periphery is subtracted anyway).
MACRO_PERIPHERY = dict(glb_kb=1, glb_width=64, dram_bw_gbps=1, clock_mhz=1000, digital_macs=1)


# ----------------------------------------------------------------------------- helpers
def ratio(model: float, published: float) -> float:
    return float(model) / float(published)


def periphery_area_mm2(hw: HardwareConfig, tech: Technology) -> float:
    """The non-macro part of the chip area (page, *Area*: ``glb_kb * a_glb_per_kb + glb_width *
    a_port + digital_macs * a_mac + dram_bw_gbps * a_dram_per_gbps``): the model's area
    function with ``n_macros = 0``."""
    return float(
        area_mm2(
            hw.rows,
            hw.cols,
            0,
            hw.cols_per_adc,
            hw.eff_adc_bits,
            hw.dac_bits,
            hw.cell == "rram",
            hw.glb_kb,
            hw.glb_width,
            hw.digital_macs,
            hw.dram_bw_gbps,
            tech,
        )
    )


def macro_area_parts(hw: HardwareConfig, tech: Technology) -> dict[str, float]:
    """One macro's area by term (page, *Area*, ``macro = ...`` line), mm^2."""
    cells = hw.rows * hw.cols * tech.by_cell("a_cell", hw.cell) * 1e-6
    adcs = hw.cols / hw.cols_per_adc * float(tech.a_adc_mm2(hw.eff_adc_bits))
    dacs = hw.rows * tech.a_dac1 * tech.dac_area_growth ** (hw.dac_bits - 1)
    lines = (hw.rows + hw.cols) * tech.a_line
    return {"cells": cells, "adcs": adcs, "dacs": dacs, "lines": lines, "fixed": tech.a_fix}


def t_mvm_s(hw: HardwareConfig, a_bits: int, tech: Technology) -> tuple[float, float]:
    """``(t_mvm, t_s)`` in s: ``t_mvm = n_in * n_rg * cols_per_adc * t_s`` (page, *Per static
    layer*), from the model's helpers."""
    t_s = float(t_s_seconds(hw.eff_adc_bits, hw.eff_rows_active, hw.dac_bits, tech))
    n_in = math.ceil(a_bits / hw.dac_bits)
    return n_in * float(mvm_unit_s(hw.rows, hw.eff_rows_active, hw.cols_per_adc, t_s)), t_s


def peak_power_parts(hw: HardwareConfig, area: float, tech: Technology) -> dict[str, float]:
    """Peak power by term (page, *Peak power*), W: the model's ``peak_power_w`` with all but
    one term switched off, plus leakage."""
    t_s = float(t_s_seconds(hw.eff_adc_bits, hw.eff_rows_active, hw.dac_bits, tech))
    e_adc = float(tech.e_adc_pj(hw.eff_adc_bits, t_s))
    rram = hw.cell == "rram"

    def p(n_macros=0, digital_macs=0, glb_width=0, dram=0.0):
        return float(
            peak_power_w(
                n_macros,
                hw.cols,
                hw.eff_rows_active,
                hw.cols_per_adc,
                t_s,
                e_adc,
                hw.dac_bits,
                rram,
                digital_macs,
                hw.clock_mhz,
                hw.glb_kb,
                glb_width,
                dram,
                0.0,
                tech,
            )
        )

    return {
        "arrays": p(n_macros=hw.n_macros),
        "digital": p(digital_macs=hw.digital_macs),
        "glb": p(glb_width=hw.glb_width),
        "dram": p(dram=hw.dram_bw_gbps),
        "leakage": tech.p_leak * area,
    }


def fill_layer(hw: HardwareConfig, w_bits: int = 8, a_bits: int = 8, M: int = 1) -> list[dict]:
    """One static layer that exactly fills one macro: ``K = rows``, ``N = cols / n_cw``."""
    n_cw = math.ceil(w_bits / hw.bits_per_cell)
    return [dict(name="fill", kind="static", M=M, K=hw.rows, N=hw.cols // n_cw, count=1, w_bits=w_bits, a_bits=a_bits)]


def single_macro(hw: dict, tech: Technology, w_bits: int = 8, a_bits: int = 8) -> dict[str, Any]:
    """One macro (``n_macros = 1``) running :func:`fill_layer`: macro area (periphery
    subtracted), compute time, throughput and energy efficiency of the macro alone (ADC, DAC,
    cell, adder and write energies plus the macro's own leakage over the compute time)."""
    cfg = HardwareConfig.from_dict({**MACRO_PERIPHERY, **hw, "n_macros": 1})
    r = simulate(fill_layer(cfg, w_bits, a_bits), cfg, tech)
    row = r.layers.iloc[0]
    if row.bound != "compute":
        raise RuntimeError(f"single-macro layer is {row.bound}-bound, widen MACRO_PERIPHERY")
    area = r.area_mm2 - periphery_area_mm2(cfg, tech)
    t = float(row.t_comp)
    parts = {k: float(row[k]) for k in ("e_adc", "e_dac", "e_cell", "e_add", "e_write")}
    parts["e_leak_macro"] = tech.p_leak * area * t
    energy = sum(parts.values())
    ops = 2.0 * float(row.macs)
    t_mvm, t_s = t_mvm_s(cfg, a_bits, tech)
    return {
        "hardware": cfg.to_dict(),
        "adc_bits": r.adc_bits,
        "t_s_ns": t_s * 1e9,
        "t_mvm_ns": t_mvm * 1e9,
        "t_comp_ns": t * 1e9,
        "macs": float(row.macs),
        "macro_area_mm2": area,
        "area_parts_mm2": macro_area_parts(cfg, tech),
        "chip_area_mm2": r.area_mm2,
        "tops": ops / t / 1e12,
        "peak_tops": r.peak_ops_per_s / 1e12,
        "tops_per_mm2": ops / t / 1e12 / area,
        "energy_j": energy,
        "energy_parts_j": parts,
        "tops_per_w": ops / energy / 1e12,
        "adc_energy_share": parts["e_adc"] / energy,
        "e_adc_pj": float(tech.e_adc_pj(r.adc_bits, t_s)),
        "adc_rate_factor": float(max(1.0, 1.0 / (t_s * tech.r_knee_msps * 1e6)) ** tech.adc_rate_exp),
    }


def fmt(x: float) -> str:
    """3 significant digits, no exponent for the ranges in this table."""
    if x == 0 or not math.isfinite(x):
        return str(x)
    mag = math.floor(math.log10(abs(x)))
    return f"{x:.{max(0, 2 - mag)}f}"


def row(check: str, metric: str, unit: str, published: float, model: float, drivers: str) -> dict:
    return {
        "check": check,
        "metric": metric,
        "unit": unit,
        "published": published,
        "model": model,
        "ratio": ratio(model, published),
        "drivers": drivers,
    }


# ----------------------------------------------------------------------------- checks
def vgg8_hardware() -> dict[str, Any]:
    """The VGG-8 chip: NeuroSim's arrays, 8x replication, the page's 64 MB / 512 B/cycle
    buffer; DRAM, clock and digital unit as the cim-server (vit-b-imagenet) baseline."""
    p = PUBLISHED["vgg8"]
    return dict(
        rows=128,
        cols=128,
        n_macros=int(p["replication"] * p["arrays"]),
        cols_per_adc=8,
        cell="rram",
        bits_per_cell=1,
        dac_bits=1,
        adc_bits=5,
        glb_kb=65536,
        glb_width=512,
        dram_bw_gbps=400,
        clock_mhz=1000,
        digital_macs=1024,
    )


def check_vgg8(tech: Technology | None = None) -> dict[str, Any]:
    tech = tech or Technology()
    p = PUBLISHED["vgg8"]
    hw = HardwareConfig.from_dict(vgg8_hardware())
    r = simulate(vgg8_cifar(), hw, tech)
    L = r.layers
    macs = float(L.macs.sum())
    e = {k: float(L[k].sum()) for k in L.columns if k.startswith("e_") and k != "e_total"}
    st = L[L.kind == "static"]
    t_mvm, t_s = t_mvm_s(hw, 8, tech)
    out = {
        "hardware": hw.to_dict(),
        "resident": r.resident,
        "replication": r.replication,
        "arrays_needed": r.arrays_needed,
        "latency_us": r.latency_s * 1e6,
        "tops": r.tops,
        "tops_per_w": 2 * macs / r.energy_j / 1e12,
        "energy_j": r.energy_j,
        "energy_parts_j": e,
        "area_mm2": r.area_mm2,
        "power_w": r.power_w,
        "avg_power_w": r.avg_power_w,
        "compute_share": float(st.t_comp.sum()) / r.latency_s,
        "mvm_steps": float(st.t_comp.sum() / t_mvm),
        "t_mvm_ns": t_mvm * 1e9,
        "t_s_ns": t_s * 1e9,
        "e_adc_pj": float(tech.e_adc_pj(r.adc_bits, t_s)),
    }
    share = {k: v / r.energy_j for k, v in e.items()}
    out["rows"] = [
        row(
            "DNN+NeuroSim V1.4 VGG-8 / CIFAR-10",
            "latency",
            "us",
            p["latency_us"],
            out["latency_us"],
            f"{out['compute_share']:.0%} of it is array compute: {out['mvm_steps']:.0f} steps of "
            f"t_mvm = {out['t_mvm_ns']:.1f} ns (8 input bits x 8 cols/ADC x t_s {out['t_s_ns']:.2f} ns, "
            "t_s is the page's fit of NeuroSim's sensing time); the model has no interconnect (H-tree) "
            "or buffer latency on top, NeuroSim counts both",
        ),
        row(
            "DNN+NeuroSim V1.4 VGG-8 / CIFAR-10",
            "TOPS",
            "TOPS",
            p["tops"],
            out["tops"],
            "2 x MACs / latency: follows the latency ratio (same arrays, same 8x replication)",
        ),
        row(
            "DNN+NeuroSim V1.4 VGG-8 / CIFAR-10",
            "TOPS/W",
            "TOPS/W",
            p["tops_per_w"],
            out["tops_per_w"],
            f"ADC {share['e_adc']:.0%}, leakage {share['e_leak']:.0%} (5e-4 W/mm^2 x {r.area_mm2:.0f} mm^2, "
            f"{hw.glb_kb * tech.a_glb_per_kb:.0f} mm^2 of it the 64 MB buffer), DAC+cells "
            f"{share['e_dac'] + share['e_cell']:.0%}; e_adc(5 b) = {out['e_adc_pj']:.2f} pJ at VDD 0.8 V; "
            f"the published chip spends {p['tops_per_w'] / out['tops_per_w']:.1f}x less energy per op",
        ),
    ]
    return out


def intel_c2c_hardware() -> dict[str, Any]:
    p = PUBLISHED["intel_c2c"]
    n_in, n_out, n_adc = int(p["inputs"]), int(p["outputs"]), int(p["adcs"])
    return dict(
        rows=n_in, cols=n_out * 8, cols_per_adc=n_out * 8 // n_adc, cell="sram", bits_per_cell=1, dac_bits=8, adc_bits=8
    )


def check_intel_c2c(tech: Technology | None = None) -> dict[str, Any]:
    tech = tech or Technology()
    p = PUBLISHED["intel_c2c"]
    m = single_macro(intel_c2c_hardware(), tech)
    m_07 = single_macro(intel_c2c_hardware(), tech.replace(VDD=p["vdd"]))
    m["tops_per_w_at_published_vdd"] = m_07["tops_per_w"]
    hw = m["hardware"]
    a = m["area_parts_mm2"]
    ops_per_cycle = 2 * p["inputs"] * p["outputs"]
    pub_cycle_ns = ops_per_cycle / (p["tops"] * 1e12) * 1e9
    conv = hw["cols"] * math.ceil(8 / hw["dac_bits"])
    m["published_cycle_ns"] = pub_cycle_ns
    dac_factor = 1 + tech.d_dac * (hw["dac_bits"] - 1)
    name = "Intel 22 nm C-2C SRAM-CiM macro, 8b/8b (0.7 V)"
    m["rows"] = [
        row(
            name,
            "macro area",
            "mm^2",
            p["area_mm2"],
            m["macro_area_mm2"],
            f"model: {p['adcs']:.0f} ADCs {a['adcs']:.4f}, 64 8-bit DACs {a['dacs']:.4f}, cells "
            f"{a['cells']:.4f} mm^2 (one 64x128 plane of 8T cells); the chip also holds 8 weight planes "
            f"with C-2C capacitors ('MAC' {p['mac_area_share']:.0%} of its area) and control "
            f"({p['misc_area_share']:.0%}) that the model does not size",
        ),
        row(
            name,
            "TOPS",
            "TOPS",
            p["tops"],
            m["tops"],
            f"model cycle cols_per_adc x t_s = {hw['cols_per_adc']} x {m['t_s_ns']:.1f} ns (8-bit ADC, "
            f"x{dac_factor:.1f} for the 8-bit DAC) vs {pub_cycle_ns:.1f} ns implied by 0.3 TOPS for 64x16 "
            "MACs: the C-2C ladder sums the 8 weight bits in charge (one conversion per weight), the "
            "model digitises each bit column",
        ),
        row(
            name,
            "TOPS/mm^2",
            "TOPS/mm^2",
            p["tops"] / p["area_mm2"],
            m["tops_per_mm2"],
            "product of the two rows above (throughput dominates)",
        ),
        row(
            name,
            "TOPS/W",
            "TOPS/W",
            p["tops_per_w"],
            m["tops_per_w"],
            f"ADC {m['adc_energy_share']:.0%} of macro energy: {conv} 8-bit conversions per MVM at "
            f"{m['e_adc_pj']:.2f} pJ vs the chip's {p['adcs']:.0f}; model at VDD 0.8 V, at 0.7 V it gives "
            f"{m_07['tops_per_w']:.1f} TOPS/W",
        ),
    ]
    return m


def reram_8mb_hardware(rows_active: int = 8) -> dict[str, Any]:
    """Assumed geometry: ``rows_active`` rows summed per readout (8 from the 19-bit output),
    8 weights of 8 one-bit cells, bit-serial inputs, one readout per column."""
    return dict(rows=rows_active, cols=64, cols_per_adc=1, cell="rram", bits_per_cell=1, dac_bits=1)


def check_reram_8mb(tech: Technology | None = None) -> dict[str, Any]:
    tech = tech or Technology()
    p = PUBLISHED["reram_8mb"]
    m = single_macro(reram_8mb_hardware(), tech)
    signed = single_macro(reram_8mb_hardware(16), tech)
    wide = single_macro(reram_8mb_hardware(128), tech)
    m["variants"] = {
        "16_rows (signed reading of 19 b)": {k: signed[k] for k in ("t_mvm_ns", "tops_per_w")},
        "128_rows": {k: wide[k] for k in ("t_mvm_ns", "tops_per_w")},
    }
    name = "22 nm 8-Mb ReRAM-CiM macro, 8b/8b (JSSC 58(1) 2023)"
    pub_pj_per_mac = 2 / p["tops_per_w"]
    m["rows"] = [
        row(
            name,
            "t_mvm",
            "ns",
            p["t_mvm_ns"],
            m["t_mvm_ns"],
            f"assumed 8 rows per readout (19 b = 16-b product + log2 8), bit-serial inputs, one "
            f"readout per column: 8 x t_s {m['t_s_ns']:.2f} ns ({m['adc_bits']}-bit ADC); the chip's "
            f"time-domain readout is not modelled; 16 rows (signed reading): {signed['t_mvm_ns']:.1f} ns",
        ),
        row(
            name,
            "TOPS/W",
            "TOPS/W",
            p["tops_per_w"],
            m["tops_per_w"],
            f"ADC {m['adc_energy_share']:.0%}: one {m['adc_bits']}-bit conversion per column per input bit "
            f"at {m['e_adc_pj']:.2f} pJ (x{m['adc_rate_factor']:.1f} above the 174 MS/s knee) serves only "
            f"8 rows; published {pub_pj_per_mac:.3f} pJ per 8b MAC in all with its DC-current-free "
            f"readout; 16 rows: {signed['tops_per_w']:.2f}, 128 rows: {wide['tops_per_w']:.1f} TOPS/W "
            f"at {wide['t_mvm_ns']:.0f} ns",
        ),
    ]
    return m


def isaac_hardware() -> dict[str, Any]:
    tiles, imas, xbars = 168, 12, 8
    return dict(
        rows=128,
        cols=128,
        n_macros=tiles * imas * xbars,
        cols_per_adc=128,
        cell="rram",
        bits_per_cell=2,
        dac_bits=1,
        adc_bits=8,
        glb_kb=tiles * 64,
        glb_width=tiles * 48,
        dram_bw_gbps=4 * 6.4,
        clock_mhz=1000,
        digital_macs=tiles,
    )


def check_isaac(tech: Technology | None = None) -> dict[str, Any]:
    tech = tech or Technology()
    p = PUBLISHED["isaac"]
    hw = HardwareConfig.from_dict(isaac_hardware())
    # ISAAC's 16-bit weights and inputs on one crossbar; area and peak power do not depend on it
    r = simulate(fill_layer(hw, 16, 16), hw, tech)
    parts = macro_area_parts(hw, tech)
    n = hw.n_macros
    area_parts = {k: n * v for k, v in parts.items()}
    area_parts.update(
        glb=hw.glb_kb * tech.a_glb_per_kb,
        port=hw.glb_width * tech.a_port,
        digital=hw.digital_macs * tech.a_mac,
        dram=hw.dram_bw_gbps * tech.a_dram_per_gbps,
    )
    power = peak_power_parts(hw, r.area_mm2, tech)
    t_s = float(t_s_seconds(hw.eff_adc_bits, hw.eff_rows_active, hw.dac_bits, tech))
    n_adc = n * hw.cols / hw.cols_per_adc
    isaac_adc_w = n_adc / 8 * p["adc_w_per_ima"]
    out = {
        "hardware": hw.to_dict(),
        "area_mm2": r.area_mm2,
        "area_parts_mm2": area_parts,
        "power_w": r.power_w,
        "power_parts_w": power,
        "t_s_ns": t_s * 1e9,
        "adc_rate_msps": 1e-6 / t_s,
        "n_adcs": n_adc,
    }
    name = "ISAAC (ISCA 2016), 32 nm"
    ap = area_parts
    out["rows"] = [
        row(
            name,
            "chip area",
            "mm^2",
            p["area_mm2"],
            r.area_mm2,
            f"model: cells {ap['cells']:.0f} (1T1R 0.10 um^2; ISAAC's crossbars are far denser), ADCs "
            f"{ap['adcs']:.0f}, lines+router {ap['lines'] + ap['fixed']:.0f}, buffer+ports "
            f"{ap['glb'] + ap['port']:.0f}, off-chip I/O {ap['dram']:.1f} mm^2 vs ISAAC's HyperTransport "
            f"{p['ht_area_mm2']:.1f} mm^2: the two errors largely cancel",
        ),
        row(
            name,
            "peak power",
            "W",
            p["power_w"],
            r.power_w,
            f"model: arrays {power['arrays']:.1f} W (each ADC converts every t_s = {t_s * 1e9:.1f} ns, "
            f"{1e-6 / t_s:.0f} MS/s, below the knee; ISAAC's {n_adc:.0f} ADCs run at {p['adc_gsps']} GS/s, "
            f"{isaac_adc_w:.0f} W), buffer port {power['glb']:.1f} W, off-chip {power['dram']:.1f} W "
            f"(HyperTransport {p['ht_power_w']} W), leakage {power['leakage']:.2f} W",
        ),
    ]
    return out


def check_isaac_adc(tech: Technology | None = None) -> dict[str, Any]:
    tech = tech or Technology()
    p = PUBLISHED["isaac"]
    um2 = float(tech.a_adc_mm2(8)) * 1e6
    return {
        "a_adc_8_um2": um2,
        "rows": [
            row(
                "ISAAC (ISCA 2016), 32 nm",
                "8-bit ADC area",
                "um^2",
                p["adc8_um2"],
                um2,
                "ZigZag-IMC fit of 28 nm AIMC ADCs vs ISAAC's 32 nm 1.28 GS/s SAR: different "
                f"designs and nodes, same order; the fit is {'larger' if um2 > p['adc8_um2'] else 'smaller'}"
                " than ISAAC's",
            )
        ],
    }


CHECKS = {
    "vgg8": check_vgg8,
    "intel_c2c": check_intel_c2c,
    "reram_8mb": check_reram_8mb,
    "isaac": check_isaac,
    "isaac_adc": check_isaac_adc,
}


def run_checks(tech: Technology | None = None) -> dict[str, dict[str, Any]]:
    """Every check, by name (see the module docstring)."""
    tech = tech or Technology()
    return {name: fn(tech) for name, fn in CHECKS.items()}


def calibration_rows(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for res in results.values() for r in res["rows"]]


def markdown_table(rows: list[dict[str, Any]]) -> str:
    head = (
        "| reference | metric | published | model | model/published | what drives the difference |\n"
        "|---|---|---|---|---|---|"
    )
    lines = [head]
    for r in rows:
        metric = r["metric"] if r["unit"] == r["metric"] else f"{r['metric']} ({r['unit']})"
        lines.append(
            f"| {r['check']} | {metric} | {fmt(r['published'])} | "
            f"{fmt(r['model'])} | {r['ratio']:.2f} | {r['drivers']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=None, help="write the results as JSON to this file")
    args = ap.parse_args(argv)
    tech = Technology()
    results = run_checks(tech)
    rows = calibration_rows(results)
    print(markdown_table(rows))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "model_version": MODEL_VERSION,
            "technology": tech.to_dict(),
            "published": PUBLISHED,
            "checks": results,
            "rows": rows,
        }
        args.out.write_text(json.dumps(plain(payload), indent=2) + "\n")
        print(f"\nwrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
