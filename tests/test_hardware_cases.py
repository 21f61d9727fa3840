"""Hand-computed cases of the CiM roofline model v2 (``CIM_MODEL.md``).

Every expected value below is arithmetic written out from the page's formulas on tiny layers
and chips (the comments show the steps); none was obtained by running the model. The
property tests, :func:`simulate` vs :func:`simulate_many`, validation, the batch builders and
the CLI live in ``test_hardware.py``.

Units (page, *Inputs*): GB = 1e9 bytes, KB = 1024 bytes, ``bw_glb = glb_width * clock``,
energies in pJ (1 fF * 1 V^2 = 1 fJ = 1e-3 pJ), areas in mm^2 (1 um^2 = 1e-6 mm^2).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from cimnet_bo.hardware import Technology, peak_ops_per_s, simulate, simulate_many

VDD2 = 0.8**2  # VDD^2 = 0.64 V^2


def close(a, b, rel=1e-9):
    return math.isclose(float(a), float(b), rel_tol=rel, abs_tol=0.0)


def a_adc_mm2(B):
    """Page, *Area*: a_adc(B) = 0.62 * 10 ** (-0.0369 * B + 1.206) * 2 ** B um^2."""
    return 0.62 * 10 ** (-0.0369 * B + 1.206) * 2**B * 1e-6


# a_adc(2) = 0.62 * 10**1.1322 * 4 = 33.624 um^2; a_adc(5) = 208.47 um^2 (the page: "5 bits: 208");
# a_adc(8) = 0.62 * 10**0.9108 * 256 = 1292.5 um^2
assert abs(a_adc_mm2(2) / 33.6242e-6 - 1) < 1e-5
assert abs(a_adc_mm2(5) / 208.469e-6 - 1) < 1e-5
assert abs(a_adc_mm2(8) / 1292.503e-6 - 1) < 1e-5

# t_s of a 4-row macro, 2-bit ADC, 1-bit DAC: (2 * (0.00653*4 + 0.640) + 1.0) * 1 = 2.33224 ns.
TS_4ROWS_B2 = 2.33224e-9
# 1 / t_s = 428.77 MS/s is above the 174 MS/s knee: the ADC energy is scaled by
# (428.77 / 174) ** 1.49 = 2.46421 ** 1.49 = 3.83354
KNEE_B2 = ((1 / TS_4ROWS_B2) / 174e6) ** 1.49
assert abs(KNEE_B2 / 3.83354 - 1) < 1e-5
# e_adc(2) before the rate factor: (100*2 + 0.001*4**2) fF * VDD^2 = 200.016 * 0.64 fJ = 0.12801024 pJ
E_ADC2 = (100 * 2 + 0.001 * 4**2) * VDD2 * 1e-3
assert close(E_ADC2, 0.12801024)
E_DAC1 = 50 * 1 * VDD2 * 1e-3  # e_dac = 50 fF * dac_bits * VDD^2 = 0.032 pJ (1-bit DAC)
E_GLB_1KB = 0.1 * math.sqrt(1 / 64)  # e_glb(1 KB) = 0.1 * sqrt(1/64) = 0.0125 pJ/bit


# ================================================================ resident static layer
# A tiny chip: 8 macros of 4x4 SRAM, 2 columns per ADC, 1 KB buffer with a 20-byte port at
# 100 MHz (bw_glb = 20 * 100e6 = 2e9 B/s), 1 GB/s DRAM, 4 digital MACs.
TINY = dict(
    rows=4,
    cols=4,
    n_macros=8,
    cols_per_adc=2,
    cell="sram",
    glb_kb=1,
    dram_bw_gbps=1,
    glb_width=20,
    clock_mhz=100,
    digital_macs=4,
)
ONE_STATIC = [dict(name="fc", kind="static", M=3, K=6, N=1, count=1, w_bits=2, a_bits=2)]
# macro = 16 cells * 0.38 um^2 + (4/2) ADCs * a_adc(2) + 4 rows * a_dac1 * 3**0 + (4+4) lines * a_line
#         + a_fix
TINY_MACRO = 16 * 0.38e-6 + 2 * a_adc_mm2(2) + 4 * 1.7e-7 + 8 * 2e-6 + 2e-4
# area = 8 macros + 1 KB * 1.2e-3 + 20 B/cycle * 1.2e-3 + 4 MACs * 3e-4 + 1 GB/s * 0.05
TINY_AREA = 8 * TINY_MACRO + 1 * 1.2e-3 + 20 * 1.2e-3 + 4 * 3e-4 + 1 * 0.05


def test_tiny_area_by_hand():
    # 16*0.38e-6 = 6.08e-6; 2*33.6242e-6 = 67.2484e-6; 6.8e-7; 1.6e-5; 2e-4 -> 2.900084e-4 mm^2
    assert abs(TINY_MACRO / 2.900084e-4 - 1) < 1e-6
    # 8 * 2.900084e-4 + 1.2e-3 + 0.024 + 1.2e-3 + 0.05 = 0.07872007 mm^2
    assert abs(TINY_AREA / 0.07872007 - 1) < 1e-6
    assert close(simulate(ONE_STATIC, TINY).area_mm2, TINY_AREA)


def test_resident_static_layer_by_hand():
    r = simulate(ONE_STATIC, TINY)
    # adc_bits = dac_bits + bits_per_cell - 1 + ceil(0.5*log2(rows_active)) = 1 + 1 - 1 + 1 = 2
    assert r.adc_bits == 2
    # n_cw = ceil(2/1) = 2; n_in = ceil(2/1) = 2; n_rg = ceil(4/4) = 1
    # T_K = ceil(6/4) = 2; T_N = ceil(1*2/4) = 1; A = 2*1*1 = 2 <= 8 macros -> s = 0, resident,
    # D = floor(8/2) = 4
    assert r.resident and r.feasible and r.stream_fraction == 0
    assert r.arrays_needed == 2 and r.replication == 4
    # t_mvm = n_in * n_rg * cols_per_adc * t_s = 2 * 1 * 2 * 2.33224 ns = 9.32896 ns
    t_mvm = 2 * 1 * 2 * TS_4ROWS_B2
    # t_comp = ceil(3/4) * t_mvm = t_mvm
    row = r.layers.iloc[0]
    assert close(row.t_comp, t_mvm) and close(t_mvm, 9.32896e-9)
    # traffic = in_b + out_b = 3*6*2/8 + 3*1*2/8 = 4.5 + 0.75 = 5.25 B; t_buf = 5.25 / 2e9 = 2.625 ns
    assert close(row.traffic_bytes, 5.25) and close(row.t_buf, 2.625e-9)
    assert row.t_spill == 0 and row.t_w == 0 and row.dram_bytes == 0 and row.psum_bytes == 0
    assert close(r.latency_s, t_mvm)
    # program_time = max(W / bw_dram, D * W / bw_glb, rows * t_row_write) with W = 6*1*1*2/8 = 1.5 B:
    # max(1.5 ns, 4 * 1.5 / 2e9 = 3 ns, 4 rows * 10 ns) = 40 ns
    assert close(r.program_time_s, 40e-9)
    # energy (pJ)
    e_adc = 24 * E_ADC2 * KNEE_B2  # conversions = M*n_in*n_rg*T_K*N*n_cw*count = 3*2*1*2*1*2*1 = 24
    e_dac = 36 * E_DAC1  # M*n_in*K*T_N*count = 3*2*6*1*1 = 36 -> 1.152 pJ
    e_cell = 18 * 2 * 2 * 0.5e-3  # M*K*N*count * n_in * n_cw * 0.5 fJ = 0.036 pJ
    e_add = 3 * 0.03  # adds = M*N*count*(T_K - 1) = 3 -> 0.09 pJ
    e_glb = 5.25 * 8 * E_GLB_1KB  # traffic * 8 * e_glb(1 KB) * vf(100 MHz) = 0.525 pJ
    assert close(row.e_adc, e_adc * 1e-12) and close(row.e_dac, e_dac * 1e-12)
    assert close(row.e_cell, e_cell * 1e-12) and close(row.e_add, e_add * 1e-12)
    assert close(row.e_glb, e_glb * 1e-12)
    assert row.e_write == 0 and row.e_dram == 0 and row.e_digital == 0
    pj = e_adc + e_dac + e_cell + e_add + e_glb
    assert close(r.energy_j, pj * 1e-12 + 5e-4 * TINY_AREA * t_mvm)
    assert close(r.layers.e_total.sum(), r.energy_j)
    assert close(r.layers.e_leak.sum(), 5e-4 * TINY_AREA * t_mvm)


def test_peak_ops_by_hand():
    # 2 * n_macros * rows * (cols / n_cw) / t_mvm; 8-bit weights and activations on TINY:
    # n_cw = 8, n_in = 8, t_mvm = 8 * 1 * 2 * 2.33224 ns = 37.31584 ns
    peak = 2 * 8 * 4 * (4 / 8) / (8 * 1 * 2 * TS_4ROWS_B2)
    assert close(peak_ops_per_s(TINY), peak)
    # 2-bit weights and activations: n_cw = 2, n_in = 2, t_mvm = 9.32896 ns
    assert close(peak_ops_per_s(TINY, 2, 2), 2 * 8 * 4 * (4 / 2) / (2 * 2 * TS_4ROWS_B2))


def test_dynamic_layer_by_hand():
    r = simulate([dict(kind="dynamic", M=2, K=3, N=4, count=2)], TINY)
    # no static layer: A_tot = 0 -> s = 0, resident, nothing to program
    assert r.resident and r.feasible and r.program_time_s == 0 and r.arrays_needed == 0
    assert r.stream_fraction == 0
    # rate = 4 MACs * 100 MHz = 4e8/s; t_comp = 2*3*4*2 / 4e8 = 120 ns
    # in_b = (2*3 + 3*4)*2*8/8 = 36 B, out_b = 2*4*2*8/8 = 16 B -> traffic 52 B, t_buf = 26 ns
    row = r.layers.iloc[0]
    assert close(row.t_comp, 1.2e-7) and close(row.t_buf, 2.6e-8) and row.traffic_bytes == 52
    assert row.t_w == 0 and row.t_spill == 0 and row.dram_bytes == 0
    assert close(r.latency_s, 1.2e-7)
    # MACs * e_mac * vf(100 MHz) + traffic * 8 * e_glb = 48*0.1 + 52*8*0.0125 = 4.8 + 5.2 pJ
    assert close(row.e_digital, 4.8e-12) and close(row.e_glb, 5.2e-12)
    assert close(r.energy_j, 10.0e-12 + 5e-4 * TINY_AREA * 1.2e-7)


def test_eltwise_layer_with_spill_by_hand():
    hw = dict(TINY, dram_bw_gbps=0.5)
    r = simulate([dict(kind="eltwise", M=0, K=0, N=0, ops=1000)], hw)
    # in_b = out_b = 1000*1*8/8 = 1000 B; in_b/1 + out_b = 2000 > 1 KB = 1024 B -> spill 2000 B
    # t_comp = 1000 / 4e8 = 2.5 us; t_buf = 2000 / 2e9 = 1 us; t_spill = 2000 / 0.5e9 = 4 us
    row = r.layers.iloc[0]
    assert close(row.t_comp, 2.5e-6) and close(row.t_buf, 1e-6) and close(row.t_spill, 4e-6)
    assert close(r.latency_s, 4e-6)
    assert row.traffic_bytes == 2000 and row.dram_bytes == 2000
    pj = 1000 * 0.05 + 2000 * 8 * E_GLB_1KB + 2000 * 8 * 8.0  # 50 + 200 + 128000
    area = TINY_AREA - 0.5 * 0.05  # DRAM PHY: 0.5 GB/s instead of 1
    assert close(r.area_mm2, area)
    assert close(r.energy_j, pj * 1e-12 + 5e-4 * area * 4e-6)


# ===================================================================== fluid residency
# 4x4 SRAM macros, 2 columns per ADC; buffer port 16 B/cycle at 100 MHz -> bw_glb = 1.6e9 B/s;
# DRAM 0.05 GB/s = 5e7 B/s; t_row_write = one clock period = 10 ns.
FLUID = dict(
    rows=4,
    cols=4,
    n_macros=4,
    cols_per_adc=2,
    cell="sram",
    glb_kb=1,
    dram_bw_gbps=0.05,
    glb_width=16,
    clock_mhz=100,
    digital_macs=4,
)
# n_cw = 2, n_in = 2, n_rg = 1, adc_bits = 2 (t_s = 2.33224 ns), T_K = ceil(8/4) = 2,
# T_N = ceil(4*2/4) = 2 -> A = A_tot = 4; W = 8*4*1*2/8 = 8 B; adds = 2*4*1*(2-1) = 8;
# in_b = 2*8*2/8 = 4 B, out_b = 2*4*2/8 = 2 B
FLUID_LAYER = [dict(name="fc", kind="static", M=2, K=8, N=4, count=1, w_bits=2, a_bits=2)]
T_MVM_F = 2 * 1 * 2 * TS_4ROWS_B2  # 9.32896 ns


def test_fluid_residency_at_the_macro_count():
    # n_macros = A_tot = 4: s = clip((4 - 4)/4, 0, 1) = 0 -> resident, D = floor(4/4) = 1
    r = simulate(FLUID_LAYER, FLUID)
    assert r.resident and r.feasible and r.stream_fraction == 0
    assert r.arrays_needed == 4 and r.replication == 1
    row = r.layers.iloc[0]
    assert row.arrays == 4
    # t_comp = ceil(2/1) * t_mvm = 18.65792 ns; traffic 6 B -> t_buf = 6/1.6e9 = 3.75 ns; no t_w
    assert close(row.t_comp, 2 * T_MVM_F) and close(row.t_buf, 3.75e-9) and row.t_w == 0
    assert close(r.latency_s, 18.65792e-9)
    assert row.psum_bytes == 0 and row.traffic_bytes == 6 and row.dram_bytes == 0
    # nothing is written per inference
    assert row.e_write == 0 and row.e_dram == 0
    # program = max(W/bw_dram = 8/5e7 = 160 ns, D*W/bw_glb = 8/1.6e9 = 5 ns, 4 rows * 10 ns) = 160 ns
    assert close(r.program_time_s, 160e-9)
    # e_add = adds * 0.03 pJ = 0.24 pJ; e_glb = 6 B * 8 * 0.0125 = 0.6 pJ
    assert close(row.e_add, 0.24e-12) and close(row.e_glb, 0.6e-12)


def test_fluid_residency_one_array_short():
    # n_macros = 3 = A_tot - 1: s = (4 - 3)/4 = 0.25 of the weights stream
    r = simulate(FLUID_LAYER, dict(FLUID, n_macros=3))
    assert not r.resident and r.feasible  # SRAM may stream
    assert close(r.stream_fraction, 0.25)
    assert r.replication == 1 and r.arrays_needed == 4
    row = r.layers.iloc[0]
    # passes = ceil(4/3) = 2; t_comp = passes * M * t_mvm = 2 * 2 * 9.32896 ns = 37.31584 ns
    assert row.passes == 2 and close(row.t_comp, 4 * T_MVM_F)
    # t_w = s * max(W/bw_dram = 160 ns, W/bw_glb = 5 ns, passes*rows*t_row_write = 2*4*10 = 80 ns)
    #     = 0.25 * 160 ns = 40 ns
    assert close(row.t_w, 40e-9)
    # psum = M*N*count*(min(T_K, passes) - 1) * 6 = 2*4*1*1*6 = 48 B; traffic = 4 + 2 + 48 = 54 B
    assert close(row.psum_bytes, 48) and close(row.traffic_bytes, 54)
    # t_buf = 54 / 1.6e9 = 33.75 ns < t_comp; folded 4/1 + 2 = 6 B <= 1024 -> no spill
    assert close(row.t_buf, 33.75e-9) and row.t_spill == 0
    # DRAM bytes = spill + s*W = 0 + 0.25*8 = 2 B
    assert close(row.dram_bytes, 2.0)
    # t_layer = t_w + max(t_comp, t_buf, t_spill) = 40 + 37.31584 = 77.31584 ns
    assert close(r.latency_s, 77.31584e-9) and close(row.t_layer, 77.31584e-9)
    # program = max((1-s)*W/bw_dram = 6/5e7 = 120 ns, D*(1-s)*W/bw_glb = 3.75 ns, 40 ns) = 120 ns
    assert close(r.program_time_s, 120e-9)
    # cells written = s*K*N*count*n_cw = 0.25*8*4*1*2 = 16 cells * 0.002 pJ = 0.032 pJ
    assert close(row.e_write, 16 * 0.002e-12)
    # e_dram = 2 B * 8 * 8 pJ/bit = 128 pJ; e_glb = (traffic + s*W) * 8 * 0.0125 = 56 * 0.1 = 5.6 pJ
    assert close(row.e_dram, 128e-12) and close(row.e_glb, 5.6e-12)
    # e_add is the same as when resident: 8 adds * 0.03 pJ
    assert close(row.e_add, 0.24e-12)
    # conversions, DAC and cell energy do not depend on residency: 64 conversions
    # (2*2*1*2*4*2*1), 64 DAC drives (2*2*8*2*1), 64*2*2 cell operations
    assert close(row.e_adc, 64 * E_ADC2 * KNEE_B2 * 1e-12)
    assert close(row.e_dac, 64 * E_DAC1 * 1e-12) and close(row.e_cell, 256 * 0.5e-3 * 1e-12)


def test_fluid_residency_with_replication():
    # n_macros = 8 = 2 * A_tot: D = floor(8/4) = 2 -> t_comp = ceil(2/2) * t_mvm = 9.32896 ns
    r = simulate(FLUID_LAYER, dict(FLUID, n_macros=8))
    assert r.resident and r.replication == 2
    assert close(r.layers.t_comp.iloc[0], T_MVM_F) and close(r.latency_s, T_MVM_F)
    # program = max(160 ns, D*W/bw_glb = 2*8/1.6e9 = 10 ns, 40 ns) = 160 ns
    assert close(r.program_time_s, 160e-9)
    # n_macros = 5: D = floor(5/4) = 1, same latency as 4
    assert close(simulate(FLUID_LAYER, dict(FLUID, n_macros=5)).latency_s, 2 * T_MVM_F)


def test_fluid_residency_is_continuous_without_a_pass_step():
    # Two layers of A = 2 each (T_K = ceil(8/4) = 2, T_N = ceil(2*2/4) = 1), W = 8*2*2/8 = 4 B.
    two = [
        dict(name="a", kind="static", M=2, K=8, N=2, w_bits=2, a_bits=2),
        dict(name="b", kind="static", M=2, K=8, N=2, w_bits=2, a_bits=2),
    ]
    # n_macros = A_tot = 4: resident, D = 1, t_comp = ceil(2/1) * t_mvm each; traffic = 4 + 1 = 5 B
    # (t_buf = 3.125 ns) -> latency = 2 * 18.65792 ns = 37.31584 ns
    res = simulate(two, FLUID)
    assert res.resident and close(res.latency_s, 4 * T_MVM_F)
    # n_macros = 3: s = 1/4, passes = ceil(2/3) = 1 for both -> same t_comp (M * t_mvm), psum =
    # M*N*(min(2, 1) - 1)*6 = 0; t_w = s * max(4/5e7 = 80 ns, 4/1.6e9 = 2.5 ns, 1*4*10 ns) = 20 ns
    st = simulate(two, dict(FLUID, n_macros=3))
    assert close(st.stream_fraction, 0.25) and list(st.layers.passes) == [1, 1]
    assert list(st.layers.psum_bytes) == [0, 0]
    assert np.allclose(st.layers.t_w, 20e-9, rtol=1e-9, atol=0)
    # latency(3) = latency(4) + 2 * 20 ns: the step is s * (weight time), not all weights (v1's
    # cliff would add 2 * 80 ns)
    assert close(st.latency_s, 4 * T_MVM_F + 40e-9)
    # n_macros = 2: s = 2/4, passes = ceil(2/2) = 1, t_w = 0.5 * 80 ns = 40 ns per layer
    st2 = simulate(two, dict(FLUID, n_macros=2))
    assert close(st2.latency_s, 4 * T_MVM_F + 80e-9)


# ==================================================================== RRAM cannot stream
def test_rram_streaming_is_infeasible_but_finite():
    hw = dict(FLUID, cell="rram", n_macros=3)
    r = simulate(FLUID_LAYER, hw)
    # s = 0.25 > 0 with cell = rram -> infeasible; the numbers are still computed
    assert isinstance(r.feasible, (bool, np.bool_)) and not r.feasible
    assert not r.resident and close(r.stream_fraction, 0.25)
    for v in (r.latency_s, r.energy_j, r.area_mm2, r.power_w, r.program_time_s):
        assert math.isfinite(v) and v > 0
    row = r.layers.iloc[0]
    # RRAM t_row_write = 150 ns: t_w = 0.25 * max(160 ns, 5 ns, 2 passes * 4 rows * 150 ns)
    #                                = 0.25 * 1200 ns = 300 ns
    assert close(row.t_w, 300e-9)
    assert close(r.latency_s, 300e-9 + 4 * T_MVM_F)
    # cells written = 16, at 100 pJ each (RRAM) -> 1600 pJ; cell operations at 0.2 fJ
    assert close(row.e_write, 1600e-12)
    assert close(row.e_cell, 256 * 0.2e-3 * 1e-12)
    # program = max(120 ns, 3.75 ns, rows * 150 ns = 600 ns) = 600 ns
    assert close(r.program_time_s, 600e-9)
    # resident RRAM (n_macros = A_tot) is feasible; SRAM streaming is feasible
    ok = simulate(FLUID_LAYER, dict(hw, n_macros=4))
    assert ok.feasible and ok.resident
    assert simulate(FLUID_LAYER, dict(FLUID, n_macros=3)).feasible
    out = simulate_many(
        FLUID_LAYER, [hw, dict(hw, n_macros=4), dict(FLUID, n_macros=3), dict(hw, bits_per_cell=2, n_macros=1)]
    )
    # the last: 2-bit RRAM, n_cw = 1, T_N = ceil(4/4) = 1, A_tot = 2 > 1 macro -> streams
    assert list(np.asarray(out["feasible"], dtype=bool)) == [False, True, True, False]
    assert np.isfinite(np.asarray(out["latency_s"], dtype=float)).all()


# ====================================================== folded capacity (depthwise conv)
# A 7x7 depthwise convolution, stride 1, 16 channels, 8x8 output: M = 64, K = 1*7*7 = 49,
# N = 1, count = 16 groups, reuse = k*k/stride^2 = 49.
DW = dict(name="dw7", kind="static", M=64, K=49, N=1, count=16, w_bits=8, a_bits=8, reuse=49)
# 16 macros of 64x8, one ADC per 8 columns, 4 KB buffer with a 64 B/cycle port at 1 GHz
# (6.4e10 B/s), 1 GB/s DRAM.
DW_CHIP = dict(
    rows=64,
    cols=8,
    n_macros=16,
    cols_per_adc=8,
    cell="sram",
    glb_kb=4,
    dram_bw_gbps=1,
    glb_width=64,
    clock_mhz=1000,
    digital_macs=16,
)
# n_cw = 8, T_K = ceil(49/64) = 1, T_N = ceil(1*8/8) = 1, A = 16 -> resident, D = 1
# adc_bits = 1 + 1 - 1 + ceil(0.5*log2(64)) = 4; t_s = 4*(0.00653*64 + 0.640) + 1.0 = 5.23168 ns
# t_mvm = n_in 8 * n_rg 1 * cols_per_adc 8 * 5.23168 ns = 334.82752 ns; t_comp = 64 * t_mvm
T_COMP_DW = 64 * 8 * 1 * 8 * 5.23168e-9


def test_depthwise_conv_folded_input_fits():
    r = simulate([DW], DW_CHIP)
    assert r.resident and r.adc_bits == 4 and r.replication == 1
    row = r.layers.iloc[0]
    # in_b = 64*49*16*8/8 = 50176 B (unfolded), out_b = 64*1*16 = 1024 B
    # folded: 50176/49 + 1024 = 2048 B <= 4 KB = 4096 B -> no spill, no DRAM traffic
    assert row.t_spill == 0 and row.dram_bytes == 0 and row.e_dram == 0
    # the buffer still moves the unfolded input: traffic = 51200 B, t_buf = 51200/6.4e10 = 0.8 us
    assert row.traffic_bytes == 51200 and close(row.t_buf, 0.8e-6)
    assert close(row.t_comp, T_COMP_DW) and close(r.latency_s, T_COMP_DW)  # 21.4289613 us
    assert close(T_COMP_DW, 21.42896128e-6)


def test_depthwise_conv_unfolded_input_would_spill():
    # the same layer with reuse = 1 (v1's check): 51200 > 4096 -> spill = traffic = 51200 B
    r = simulate([dict(DW, reuse=1)], DW_CHIP)
    row = r.layers.iloc[0]
    assert row.dram_bytes == 51200 and close(row.t_spill, 51200 / 1e9)
    # t_layer = max(21.43 us, 0.8 us, 51.2 us) = 51.2 us
    assert close(r.latency_s, 51.2e-6)
    # DRAM energy 51200 * 8 bits * 8 pJ = 3276800 pJ
    assert close(row.e_dram, 3276800e-12)


def test_folded_capacity_boundary_and_reuse_below_one():
    # folded 2048 B against exactly 2 KB: 2048 > 2048 is false -> no spill; 1.99 KB -> spill
    assert simulate([DW], dict(DW_CHIP, glb_kb=2)).layers.dram_bytes.iloc[0] == 0
    assert simulate([DW], dict(DW_CHIP, glb_kb=1.99)).layers.dram_bytes.iloc[0] == 51200
    # a 1x1 convolution with stride 2: reuse = 1/4. in_b = 16*8*1*8/8 = 128 B, out_b = 16*8/8*8
    # = 128 B. Folded: 128/0.25 + 128 = 640 B > 512 B (0.5 KB) -> spills; with reuse 1:
    # 256 B <= 512 B -> no spill.
    pw = dict(name="pw_s2", kind="static", M=16, K=8, N=8, w_bits=8, a_bits=8)
    hw = dict(DW_CHIP, glb_kb=0.5)
    assert simulate([dict(pw, reuse=0.25)], hw).layers.dram_bytes.iloc[0] == 256
    assert simulate([dict(pw, reuse=1)], hw).layers.dram_bytes.iloc[0] == 0
    # a 3x3 stride-2 convolution: reuse 9/4 = 2.25. M=16, K=72, N=8: in_b = 1152 B, out_b = 128 B;
    # folded 1152/2.25 + 128 = 640 B > 512 -> spill 1280 B; with glb_kb = 0.625 (640 B) no spill
    c3 = dict(name="c3_s2", kind="static", M=16, K=72, N=8, w_bits=8, a_bits=8, reuse=2.25)
    assert simulate([c3], hw).layers.dram_bytes.iloc[0] == 1280
    assert simulate([c3], dict(hw, glb_kb=0.625)).layers.dram_bytes.iloc[0] == 0


def test_reuse_is_one_for_digital_layers():
    # page: "reuse applies to static layers; it is 1 for others". A dynamic layer whose
    # in_b + out_b = (2*3 + 3*4)*2 + 2*4*2 = 52 B on a 0.05 KB (51.2 B) buffer spills whatever
    # the table says in its reuse column (a table may also reject reuse != 1 there).
    # (With reuse 4 applied, 36/4 + 16 = 25 B would fit and nothing would spill.)
    # The same for an eltwise layer: in_b = out_b = 40 B, 80 B > 51.2 B.
    hw = dict(TINY, glb_kb=0.05)
    for row, spill in [
        (dict(kind="dynamic", M=2, K=3, N=4, count=2), 52),
        (dict(kind="eltwise", M=0, K=0, N=0, ops=40), 80),
    ]:
        base = simulate([row], hw)
        assert base.layers.dram_bytes.iloc[0] == spill
        try:
            other = simulate([dict(row, reuse=4)], hw)
        except ValueError as e:
            assert "reuse" in str(e)
            continue
        assert other.layers.dram_bytes.iloc[0] == spill, row["kind"]
        assert close(other.latency_s, base.latency_s) and close(other.energy_j, base.energy_j)
        many = simulate_many([dict(row, reuse=4)], [hw])
        assert close(many["energy_j"].iloc[0], other.energy_j), row["kind"]


# ========================================================================= peak power
# 2 macros of 4x4 SRAM, 2 columns per ADC, an 8-bit ADC (so t_s is below the rate knee),
# a 1 MB buffer (e_glb capped at 256 KB), a 16 B/cycle port, clock 1210 MHz (above f_nom).
POWER = dict(
    rows=4,
    cols=4,
    n_macros=2,
    cols_per_adc=2,
    cell="sram",
    adc_bits=8,
    glb_kb=1024,
    dram_bw_gbps=2,
    glb_width=16,
    clock_mhz=1210,
    digital_macs=4,
)
VF_1210 = (1210 / 1000) ** 1.5  # vf = max(1, f/f_nom)**gamma = 1.21**1.5 = 1.1**3 = 1.331
TS_POWER = (8 * (0.00653 * 4 + 0.640) + 1.0) * 1e-9  # 6.32896 ns: 158 MS/s < 174 MS/s -> factor 1
E_ADC8 = (100 * 8 + 0.001 * 4**8) * VDD2 * 1e-3  # (800 + 65.536) * 0.64 fJ = 0.55394304 pJ
E_GLB_CAP = 0.1 * math.sqrt(256 / 64)  # e_glb(1024 KB) = 0.1 * sqrt(min(1024, 256)/64) = 0.2 pJ/bit
# per input cycle a macro makes cols = 4 conversions, drives rows_active = 4 DACs and 16 cell ops:
# P_arrays = n_macros * (4*e_adc + 4*e_dac + 16*e_cellop) / (cols_per_adc * t_s)
P_ARRAYS = 2 * (4 * E_ADC8 + 4 * E_DAC1 + 16 * 0.5e-3) / (2 * TS_POWER)  # pJ/s
P_DIGITAL = 4 * 1210e6 * 0.1 * VF_1210  # digital_macs * clock * e_mac * vf
P_GLB = 16 * 1210e6 * 8 * E_GLB_CAP * VF_1210  # bw_glb * 8 * e_glb * vf
P_DRAM = 2e9 * 8 * 8.0  # dram_bw_gbps * 1e9 * 8 * e_dram
POWER_MACRO = 16 * 0.38e-6 + 2 * a_adc_mm2(8) + 4 * 1.7e-7 + 8 * 2e-6 + 2e-4
POWER_AREA = 2 * POWER_MACRO + 1024 * 1.2e-3 + 16 * 1.2e-3 + 4 * 3e-4 + 2 * 0.05


def test_power_terms_by_hand():
    assert close(VF_1210, 1.331) and close(E_ADC8, 0.55394304)
    # P_arrays = 2.35177216 pJ / 6.32896 ns = 3.71589e8 pJ/s = 0.37 mW
    assert abs(P_ARRAYS / 3.715894e8 - 1) < 1e-6
    # P_digital = 4 * 1.21e9 * 0.1 * 1.331 = 6.44204e8 pJ/s; P_glb = 1.936e10 B/s * 8 * 0.2 * 1.331
    # = 4.122906e10 pJ/s; P_dram = 1.28e11 pJ/s
    assert close(P_DIGITAL, 6.44204e8) and close(P_GLB, 4.1229056e10) and close(P_DRAM, 1.28e11)
    r = simulate(ONE_STATIC, POWER)
    assert close(r.area_mm2, POWER_AREA)
    expected = (P_ARRAYS + P_DIGITAL + P_GLB + P_DRAM) * 1e-12 + 5e-4 * POWER_AREA
    assert close(r.power_w, expected)
    # peak power depends on the chip only
    assert close(simulate([dict(kind="eltwise", M=0, K=0, N=0, ops=10)], POWER).power_w, expected)


def test_power_terms_one_at_a_time():
    # doubling one constant adds exactly its term once more
    base = simulate(ONE_STATIC, POWER).power_w
    t = Technology()
    more = lambda **kw: simulate(ONE_STATIC, POWER, t.replace(**kw)).power_w - base  # noqa: E731
    assert close(more(e_dram=16.0), P_DRAM * 1e-12, 1e-7)
    assert close(more(e_mac_digital=0.2), P_DIGITAL * 1e-12, 1e-6)
    assert close(more(e_glb_ref=0.2), P_GLB * 1e-12, 1e-7)
    assert close(more(p_leak=1e-3), 5e-4 * POWER_AREA, 1e-7)
    # e_cellop doubled: P_arrays gains n_macros * 16 * 0.5e-3 pJ / (2 * t_s)
    assert close(more(e_cellop_sram=1.0), 2 * 16 * 0.5e-3 / (2 * TS_POWER) * 1e-12, 1e-6)
    # gamma = 1: vf = 1.21 instead of 1.331 on the digital unit and the buffer
    assert close(more(gamma=1.0), (P_DIGITAL + P_GLB) * (1.21 / 1.331 - 1) * 1e-12, 1e-6)


def test_power_at_or_below_f_nom_has_no_vf():
    # clock 1000 MHz = f_nom: vf = 1. P_digital = 4 * 1e9 * 0.1, P_glb = 16e9 * 8 * 0.2;
    # t_s does not depend on the clock (P_arrays unchanged); area unchanged.
    r = simulate(ONE_STATIC, dict(POWER, clock_mhz=1000))
    p = (P_ARRAYS + 4e9 * 0.1 + 16e9 * 8 * 0.2 + P_DRAM) * 1e-12 + 5e-4 * POWER_AREA
    assert close(r.power_w, p)
    # at 500 MHz: P_digital = 2e8, P_glb = 8e9 * 8 * 0.2 = 1.28e10
    r = simulate(ONE_STATIC, dict(POWER, clock_mhz=500))
    p = (P_ARRAYS + 4 * 500e6 * 0.1 + 16 * 500e6 * 8 * 0.2 + P_DRAM) * 1e-12 + 5e-4 * POWER_AREA
    assert close(r.power_w, p)


def test_vf_scales_digital_and_buffer_energy():
    # a dynamic layer at 1210 MHz: E = M*K*N*count * e_mac * vf = 48 * 0.1 * 1.331 = 6.3888 pJ;
    # traffic 52 B * 8 * 0.2 pJ/bit * 1.331 = 110.7392 pJ
    r = simulate([dict(kind="dynamic", M=2, K=3, N=4, count=2)], POWER)
    row = r.layers.iloc[0]
    assert close(row.e_digital, 6.3888e-12) and close(row.e_glb, 110.7392e-12)
    # rate = 4 * 1.21e9 -> t_comp = 48 / 4.84e9 = 9.917 ns > t_buf = 52 / 1.936e10 = 2.686 ns
    assert close(r.latency_s, 48 / 4.84e9)
    assert close(r.energy_j, (6.3888 + 110.7392) * 1e-12 + 5e-4 * POWER_AREA * 48 / 4.84e9)
    # an eltwise layer: ops * count * e_elt * vf = 100 * 0.05 * 1.331 = 6.655 pJ
    r = simulate([dict(kind="eltwise", M=0, K=0, N=0, ops=100)], POWER)
    assert close(r.layers.e_digital.iloc[0], 6.655e-12)
    # DRAM energy has no vf: eltwise 1000 ops on a 1 KB buffer spills 2000 B at 8 pJ/bit
    r = simulate([dict(kind="eltwise", M=0, K=0, N=0, ops=1000)], dict(POWER, glb_kb=1))
    assert close(r.layers.e_dram.iloc[0], 2000 * 8 * 8.0e-12)
    assert close(r.layers.e_glb.iloc[0], 2000 * 8 * E_GLB_1KB * VF_1210 * 1e-12)


# ============================================================ ADC default rule, 2-bit RRAM
@pytest.mark.parametrize(
    "rows, rows_active, dac_bits, cell, bpc, expected",
    [
        (64, None, 1, "rram", 2, 5),  # 1 + 2 - 1 + ceil(0.5*6) = 2 + 3
        (128, None, 1, "rram", 2, 6),  # 1 + 2 - 1 + ceil(0.5*7 = 3.5) = 2 + 4
        (256, None, 2, "rram", 2, 7),  # 2 + 2 - 1 + ceil(0.5*8) = 3 + 4
        (512, 100, 1, "rram", 2, 6),  # 1 + 2 - 1 + ceil(0.5*log2(100) = 3.32) = 2 + 4
        (512, 1, 1, "rram", 2, 2),  # 1 + 2 - 1 + ceil(0) = 2
        (4, None, 2, "rram", 2, 4),  # 2 + 2 - 1 + ceil(0.5*2) = 3 + 1
        (128, None, 1, "rram", 1, 5),  # 1 + 1 - 1 + 4
        (128, None, 1, "sram", 1, 5),  # 1 + 1 - 1 + 4
        (512, None, 1, "sram", 1, 6),  # 1 + 1 - 1 + ceil(4.5) = 1 + 5
        (64, None, 2, "sram", 1, 5),  # 2 + 1 - 1 + 3
    ],
)
def test_adc_bits_default(rows, rows_active, dac_bits, cell, bpc, expected):
    hw = dict(TINY, rows=rows, rows_active=rows_active, dac_bits=dac_bits, cell=cell)
    hw["bits_per_cell"] = bpc
    assert simulate(ONE_STATIC, hw).adc_bits == expected
    # an explicit adc_bits wins over the rule
    assert simulate(ONE_STATIC, dict(hw, adc_bits=7)).adc_bits == 7


def test_two_bit_rram_layer_by_hand():
    hw = dict(
        rows=64,
        cols=8,
        n_macros=1,
        cols_per_adc=2,
        cell="rram",
        bits_per_cell=2,
        glb_kb=64,
        dram_bw_gbps=10,
        glb_width=64,
        clock_mhz=1000,
        digital_macs=16,
    )
    layer = [dict(name="fc", kind="static", M=1, K=64, N=2, w_bits=8, a_bits=8)]
    r = simulate(layer, hw)
    # adc_bits = 1 + 2 - 1 + ceil(0.5*log2(64)) = 5 (v1's rule gave 4)
    assert r.adc_bits == 5
    # n_cw = ceil(8/2) = 4, T_K = 1, T_N = ceil(2*4/8) = 1 -> A = 1 = n_macros, resident, D = 1
    assert r.resident and r.arrays_needed == 1
    # t_s = 5*(0.00653*64 + 0.640) + 1.0 = 6.2896 ns (159 MS/s, below the knee)
    # t_mvm = n_in 8 * n_rg 1 * cols_per_adc 2 * 6.2896 ns = 100.6336 ns = t_comp (ceil(1/1) = 1)
    assert close(r.layers.t_comp.iloc[0], 100.6336e-9)
    # e_adc(5) = (500 + 0.001*1024) * 0.64 fJ = 0.32065536 pJ;
    # conversions = M*n_in*n_rg*T_K*N*n_cw*count = 1*8*1*1*2*4*1 = 64
    assert close(r.layers.e_adc.iloc[0], 64 * 0.32065536e-12)
    # cell ops = M*K*N*count*n_in*n_cw = 128 * 8 * 4 = 4096 at 0.2 fJ
    assert close(r.layers.e_cell.iloc[0], 4096 * 0.2e-3 * 1e-12)
    # macro area: 512 cells * 0.10 um^2 + (8/2) * a_adc(5) + 64 * a_dac1 + 72 lines * 2e-6 + a_fix
    macro = 512 * 0.10e-6 + 4 * a_adc_mm2(5) + 64 * 1.7e-7 + 72 * 2e-6 + 2e-4
    area = macro + 64 * 1.2e-3 + 64 * 1.2e-3 + 16 * 3e-4 + 10 * 0.05
    assert close(r.area_mm2, area)


# ============================================================================ ADC rate knee
def test_adc_energy_rate_knee():
    # TINY's ADC converts every t_s = 2.33224 ns (428.77 MS/s): e_adc = 0.12801024 pJ * 3.83354
    r = simulate(ONE_STATIC, TINY)
    assert close(r.layers.e_adc.iloc[0], 24 * E_ADC2 * KNEE_B2 * 1e-12)
    # a knee above the rate (1000 MS/s) removes the factor
    r1 = simulate(ONE_STATIC, TINY, Technology().replace(r_knee_msps=1000.0))
    assert close(r1.layers.e_adc.iloc[0], 24 * E_ADC2 * 1e-12)
    # another exponent: (428.77/174) ** 2
    r2 = simulate(ONE_STATIC, TINY, Technology().replace(adc_rate_exp=2.0))
    assert close(r2.layers.e_adc.iloc[0], 24 * E_ADC2 * ((1 / TS_4ROWS_B2) / 174e6) ** 2 * 1e-12)
    # an 8-bit ADC on the same macro: t_s = 6.32896 ns (158 MS/s) is below the knee -> factor 1;
    # conversions are still 24, each (800 + 65.536) * 0.64 fJ
    r8 = simulate(ONE_STATIC, dict(TINY, adc_bits=8))
    assert close(r8.layers.e_adc.iloc[0], 24 * E_ADC8 * 1e-12)
    # rows_active = 1 of 4 (n_rg = 4, adc_bits = 1 + 0 + 0 = 1): t_s = 1*(0.00653 + 0.640) + 1.0
    # = 1.64653 ns -> 607.3 MS/s; e_adc(1) = (100 + 0.004) * 0.64 fJ; conversions gain n_rg = 4
    r_ra = simulate(ONE_STATIC, dict(TINY, rows_active=1))
    assert r_ra.adc_bits == 1
    e1 = (100 + 0.004) * VDD2 * 1e-3 * ((1 / 1.64653e-9) / 174e6) ** 1.49
    assert close(r_ra.layers.e_adc.iloc[0], 24 * 4 * e1 * 1e-12)
    # t_mvm = n_in 2 * n_rg 4 * cols_per_adc 2 * 1.64653 ns; D = 4 -> t_comp = t_mvm
    assert close(r_ra.layers.t_comp.iloc[0], 2 * 4 * 2 * 1.64653e-9)


# ============================================================================= 2-bit DAC
DAC2 = dict(
    rows=4,
    cols=4,
    n_macros=1,
    cols_per_adc=1,
    cell="sram",
    dac_bits=2,
    glb_kb=1,
    dram_bw_gbps=1,
    glb_width=8,
    clock_mhz=100,
    digital_macs=4,
)
DAC_LAYER = [dict(name="fc", kind="static", M=1, K=4, N=4, w_bits=1, a_bits=3)]


def test_dac_bits_two_by_hand():
    r = simulate(DAC_LAYER, DAC2)
    # adc_bits = 2 + 1 - 1 + ceil(0.5*log2(4)) = 3
    assert r.adc_bits == 3
    # t_s = (3*(0.00653*4 + 0.640) + 1.0) * (1 + 0.5*(2 - 1)) = 2.99836 * 1.5 = 4.49754 ns
    t_s = (3 * (0.00653 * 4 + 0.640) + 1.0) * 1.5e-9
    assert close(t_s, 4.49754e-9)
    # n_in = ceil(3/2) = 2, n_cw = 1, T_K = T_N = 1, A = 1 -> D = 1
    # t_mvm = 2 * 1 * 1 * 4.49754 ns = 8.99508 ns = t_comp; traffic 1.5 + 1.5 = 3 B / 8e8 = 3.75 ns
    assert close(r.layers.t_comp.iloc[0], 8.99508e-9) and close(r.latency_s, 8.99508e-9)
    # e_dac = 50 fF * 2 bits * 0.64 = 64 fJ; drives = M*n_in*K*T_N*count = 1*2*4*1*1 = 8 -> 0.512 pJ
    assert close(r.layers.e_dac.iloc[0], 0.512e-12)
    # e_adc(3) = (300 + 0.064) * 0.64 fJ, above the knee (222.34 MS/s): * (222.34/174)**1.49;
    # conversions = 1*2*1*1*4*1*1 = 8
    e_adc3 = (300 + 0.064) * VDD2 * 1e-3 * ((1 / t_s) / 174e6) ** 1.49
    assert close(r.layers.e_adc.iloc[0], 8 * e_adc3 * 1e-12)
    # area: the DACs cost rows * a_dac1 * 3**(2-1) = 4 * 1.7e-7 * 3 = 2.04e-6 mm^2 per macro
    macro = 16 * 0.38e-6 + 4 * a_adc_mm2(3) + 4 * 1.7e-7 * 3 + 8 * 2e-6 + 2e-4
    area = macro + 1.2e-3 + 8 * 1.2e-3 + 4 * 3e-4 + 0.05
    assert close(r.area_mm2, area)
    # against 1-bit DACs with the same 3-bit ADC: DAC area 4 * 1.7e-7 (2 * 1.7e-7 * 4 less),
    # t_s = 2.99836 ns (1.5x faster), n_in = 3
    r1 = simulate(DAC_LAYER, dict(DAC2, dac_bits=1, adc_bits=3))
    assert close(r.area_mm2 - r1.area_mm2, 4 * 1.7e-7 * 2, 1e-6)
    assert close(r1.layers.t_comp.iloc[0], 3 * 2.99836e-9)
    assert close(r1.layers.e_dac.iloc[0], 3 * 4 * E_DAC1 * 1e-12)  # 12 drives of 32 fJ
    # peak: 2 * 1 * 4 * (4 / 1) / t_mvm for 1-bit weights, 3-bit activations
    assert close(peak_ops_per_s(DAC2, 1, 3), 32 / 8.99508e-9)
    # power: P_arrays = (4*e_adc3 + 4*e_dac(2 bits) + 16*0.5 fJ) / (1 * t_s)
    p_arr = (4 * e_adc3 + 4 * 0.064 + 16 * 0.5e-3) / t_s
    p = (p_arr + 4 * 100e6 * 0.1 + 8 * 100e6 * 8 * E_GLB_1KB + 1e9 * 64) * 1e-12 + 5e-4 * area
    assert close(r.power_w, p)


# ================================================================ partial sums, e_add
# 2 macros of 4x4 SRAM, one ADC per column, 64 KB buffer (e_glb = 0.1 pJ/bit), 64 B/cycle at
# 1 GHz; 1-bit weights and activations: n_cw = n_in = 1, adc_bits = 2, t_s = 2.33224 ns,
# t_mvm = 1 * 1 * 1 * 2.33224 ns.
PSUM_CHIP = dict(
    rows=4,
    cols=4,
    n_macros=2,
    cols_per_adc=1,
    cell="sram",
    glb_kb=64,
    dram_bw_gbps=100,
    glb_width=64,
    clock_mhz=1000,
    digital_macs=4,
)
PSUM_TABLE = [
    # T_K = ceil(12/4) = 3, T_N = 1, A = 3
    dict(name="l1", kind="static", M=5, K=12, N=4, w_bits=1, a_bits=1),
    # T_K = 1, T_N = ceil(12/4) = 3, A = 3
    dict(name="l2", kind="static", M=5, K=4, N=12, w_bits=1, a_bits=1),
    # T_K = 3, T_N = ceil(8/4) = 2, A = 6
    dict(name="l3", kind="static", M=5, K=12, N=8, w_bits=1, a_bits=1),
]


def test_partial_sums_of_a_streaming_layer():
    r = simulate(PSUM_TABLE, PSUM_CHIP)
    # A_tot = 3 + 3 + 6 = 12 > 2 macros: s = 10/12
    assert close(r.stream_fraction, 10 / 12) and r.arrays_needed == 12
    df = r.layers
    # passes = ceil(A/2) = 2, 2, 3
    assert list(df.passes) == [2, 2, 3]
    # psum = M*N*count*(min(T_K, passes) - 1)*6:
    # l1: 5*4*(min(3,2) - 1)*6 = 120 B; l2: T_K = 1 -> 0; l3: 5*8*(min(3,3) - 1)*6 = 480 B
    assert list(df.psum_bytes) == [120, 0, 480]
    # traffic = in_b + out_b + psum: l1 7.5 + 2.5 + 120 = 130; l2 2.5 + 7.5 = 10;
    # l3 7.5 + 5 + 480 = 492.5
    assert np.allclose(df.traffic_bytes, [130, 10, 492.5], rtol=1e-12, atol=0)
    # t_comp = passes * M * t_mvm: 10, 10, 15 t_mvm
    assert np.allclose(df.t_comp, np.array([10, 10, 15]) * TS_4ROWS_B2, rtol=1e-9, atol=0)
    # adds = M*N*count*(T_K - 1): 5*4*2 = 40, 0, 5*8*2 = 80 -> e_add 1.2, 0, 2.4 pJ
    assert np.allclose(df.e_add, np.array([1.2, 0, 2.4]) * 1e-12, rtol=1e-9, atol=0)
    # e_glb = (traffic + s*W) * 8 * 0.1: W = 12*4/8 = 6, 4*12/8 = 6, 12*8/8 = 12 B
    s = 10 / 12
    e_glb = (np.array([130, 10, 492.5]) + s * np.array([6, 6, 12])) * 8 * 0.1
    assert np.allclose(df.e_glb, e_glb * 1e-12, rtol=1e-9, atol=0)
    # t_w = s * max(W/1e11, W/6.4e10, passes*rows*1 ns): 8/12*... = s * [8, 8, 12] ns
    assert np.allclose(df.t_w, s * np.array([8, 8, 12]) * 1e-9, rtol=1e-9, atol=0)
    # cells written = s * K*N*count*n_cw = s * [48, 48, 96] at 0.002 pJ
    assert np.allclose(df.e_write, s * np.array([48, 48, 96]) * 0.002e-12, rtol=1e-9, atol=0)


def test_partial_sums_stay_near_the_arrays_when_resident():
    r = simulate(PSUM_TABLE, dict(PSUM_CHIP, n_macros=12))
    assert r.resident and r.replication == 1
    df = r.layers
    # resident: psum = 0, but the near-array additions still cost e_add = adds * 0.03 pJ
    assert list(df.psum_bytes) == [0, 0, 0]
    assert np.allclose(df.e_add, np.array([40, 0, 80]) * 0.03e-12, rtol=1e-9, atol=0)
    assert np.allclose(df.traffic_bytes, [10, 10, 12.5], rtol=1e-12, atol=0)
    # D = floor(12/12) = 1: t_comp = ceil(5/1) * t_mvm each
    assert np.allclose(df.t_comp, 5 * TS_4ROWS_B2, rtol=1e-9, atol=0)
    # e_add = 0.03 pJ is a technology constant
    r2 = simulate(PSUM_TABLE, dict(PSUM_CHIP, n_macros=12), Technology().replace(e_add=0.06))
    assert np.allclose(r2.layers.e_add, 2 * df.e_add, rtol=1e-12, atol=0)
    # psum_bytes = 6 is one too: 12 B per partial sum doubles the streaming psum traffic
    r3 = simulate(PSUM_TABLE, PSUM_CHIP, Technology().replace(psum_bytes=12.0))
    assert list(r3.layers.psum_bytes) == [240, 0, 960]


# ====================================================================== buffer banking
@pytest.mark.parametrize(
    "glb_kb, e_glb",
    [
        (16, 0.05),  # 0.1 * sqrt(16/64)
        (64, 0.1),  # 0.1 * sqrt(1)
        (256, 0.2),  # 0.1 * sqrt(4)
        (1024, 0.2),  # capped: 0.1 * sqrt(min(1024, 256)/64)
        (65536, 0.2),
    ],
)
def test_glb_energy_banking_cap(glb_kb, e_glb):
    # eltwise, 1000 ops at 8 bits: traffic = 2000 B, no spill; clock 100 MHz -> vf = 1
    r = simulate([dict(kind="eltwise", M=0, K=0, N=0, ops=1000)], dict(TINY, glb_kb=glb_kb))
    assert close(r.layers.e_glb.iloc[0], 2000 * 8 * e_glb * 1e-12)
    assert close(r.layers.e_digital.iloc[0], 1000 * 0.05e-12)


def test_glb_banking_cap_in_power_and_area():
    big, cap = dict(TINY, glb_kb=1024), dict(TINY, glb_kb=256)
    rb, rc = simulate(ONE_STATIC, big), simulate(ONE_STATIC, cap)
    # area grows by 768 KB * 1.2e-3 mm^2/KB; P_glb is the same (e_glb capped), only leakage grows
    assert close(rb.area_mm2 - rc.area_mm2, 768 * 1.2e-3, 1e-9)
    assert close(rb.power_w - rc.power_w, 5e-4 * 768 * 1.2e-3, 1e-6)
    # below the cap P_glb = 2e9 B/s * 8 * 0.1 * sqrt(kb/64) grows: 64 KB vs 16 KB differ by
    # 2e9*8*(0.1 - 0.05) pJ/s = 8e8 pJ/s plus 48 KB of leakage
    r64, r16 = simulate(ONE_STATIC, dict(TINY, glb_kb=64)), simulate(ONE_STATIC, dict(TINY, glb_kb=16))
    assert close(r64.power_w - r16.power_w, 8e8 * 1e-12 + 5e-4 * 48 * 1.2e-3, 1e-6)


# ============================================================== glb_width and the clock
def test_buffer_bandwidth_is_port_width_times_clock():
    # eltwise, 1000 ops: traffic 2000 B; rate = 4 MACs * clock. glb_width = 1 B/cycle:
    # at 100 MHz bw_glb = 1e8 -> t_buf = 20 us > t_comp = 1000/4e8 = 2.5 us
    el = [dict(kind="eltwise", M=0, K=0, N=0, ops=1000)]
    hw = dict(TINY, glb_kb=4, glb_width=1)
    r = simulate(el, hw)
    assert close(r.layers.t_buf.iloc[0], 20e-6) and close(r.latency_s, 20e-6)
    # twice the clock: bw_glb = 2e8 -> 10 us; twice the width: the same
    assert close(simulate(el, dict(hw, clock_mhz=200)).latency_s, 10e-6)
    assert close(simulate(el, dict(hw, glb_width=2)).latency_s, 10e-6)
    # the port costs 1.2e-3 mm^2 per byte per cycle
    assert close(simulate(el, dict(hw, glb_width=9)).area_mm2 - r.area_mm2, 8 * 1.2e-3, 1e-9)


def test_sram_row_write_is_one_clock_period():
    # the FLUID streaming case at 50 MHz instead of 100: t_row_write = 20 ns, bw_glb = 8e8;
    # t_w = 0.25 * max(160 ns, 8/8e8 = 10 ns, 2 passes * 4 rows * 20 ns = 160 ns) = 40 ns;
    # at 25 MHz: 0.25 * max(160, 20, 2*4*40 = 320 ns) = 80 ns
    assert close(simulate(FLUID_LAYER, dict(FLUID, n_macros=3, clock_mhz=50)).layers.t_w.iloc[0], 40e-9)
    assert close(simulate(FLUID_LAYER, dict(FLUID, n_macros=3, clock_mhz=25)).layers.t_w.iloc[0], 80e-9)
