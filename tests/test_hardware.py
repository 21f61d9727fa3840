"""Tests of the CiM roofline model v1 (``CIM_MODEL.md``) in :mod:`cimnet_bo.hardware`."""

from __future__ import annotations

import argparse
import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cimnet_bo.cli_simulate import add_parser, run
from cimnet_bo.hardware import (
    HardwareConfig,
    SubnetConfigs,
    TableBatch,
    Technology,
    batch_from_configs,
    peak_ops_per_s,
    plot_roofline,
    simulate,
    simulate_many,
    vit_batch,
)
from cimnet_bo.space import get_space
from cimnet_bo.workload import LayerTable, layer_table
from cimnet_bo.workload.models import vgg8_cifar

SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
REL = 1e-12

# A tiny chip for the hand-computed cases.
TINY = dict(
    rows=4,
    cols=4,
    n_macros=8,
    cols_per_adc=2,
    cell="sram",
    glb_kb=1,
    dram_bw_gbps=1,
    glb_bw_gbps=2,
    clock_mhz=100,
    digital_macs=4,
)
ONE_STATIC = [dict(name="fc", kind="static", M=3, K=6, N=1, count=1, w_bits=2, a_bits=2)]


def close(a, b, rel=1e-12):
    return math.isclose(a, b, rel_tol=rel, abs_tol=0.0)


# ============================================================ hand-computed cases
def test_resident_static_layer_by_hand():
    r = simulate(ONE_STATIC, TINY)
    # adc_bits = dac_bits + ceil(0.5*log2(rows_active)) = 1 + ceil(0.5*2) = 2
    assert r.adc_bits == 2
    # n_cw = ceil(2/1) = 2; n_in = ceil(2/1) = 2; n_rg = ceil(4/4) = 1
    # T_K = ceil(6/4) = 2; T_N = ceil(1*2/4) = 1; A = 2*1*1 = 2 <= 8 -> resident, D = floor(8/2) = 4
    assert r.resident and r.arrays_needed == 2 and r.replication == 4
    # t_sense = (2*(0.00653*4 + 0.640) + 1.0) ns = 2.33224 ns; t_mvm = 2*1*2*2.33224 = 9.32896 ns
    t_mvm = 2 * 1 * 2 * (2 * (0.00653 * 4 + 0.640) + 1.0) * 1e-9
    assert close(t_mvm, 9.32896e-9)
    # t_comp = ceil(3/4) * t_mvm; act_b = 3*6*2/8 + 3*1*2/8 = 4.5 + 0.75 = 5.25 B
    # t_buf = 5.25 / 2e9 = 2.625 ns; no spill (5.25 <= 1024) -> t_layer = t_comp
    assert close(r.latency_s, t_mvm)
    row = r.layers.iloc[0]
    assert (
        close(row.t_buf, 2.625e-9) and row.t_spill == 0 and row.t_w == 0 and row.bound == "compute"
    )
    assert row.act_bytes == 5.25 and row.dram_bytes == 0
    # W = 6*1*1*2/8 = 1.5 B; program = max(1.5/1e9, 4*1.5/2e9, 4 rows * 1/(100 MHz)) = 40 ns
    assert close(r.program_time_s, 4e-8)
    # energy (pJ): conversions = M*n_in*n_rg*T_K*N*n_cw*count = 3*2*1*2*1*2*1 = 24,
    # e_adc(2) = (200 + 0.001*16) fF * 0.64 V^2 = 0.12801024 pJ
    e_adc = 24 * (100 * 2 + 0.001 * 4**2) * 0.8**2 * 1e-3
    e_dac = 3 * 2 * 6 * 1 * 1 * 50 * 0.8**2 * 1e-3  # M*n_in*K*T_N*count * 50 fF*VDD^2 = 1.152
    e_cell = 3 * 6 * 1 * 1 * 2 * 2 * 0.5e-3  # M*K*N*count*n_in*n_cw * 0.5 fJ = 0.036
    e_glb = 5.25 * 8 * 0.1 * math.sqrt(1 / 64)  # act_b*8*e_glb(1 KB) = 0.525
    pj = e_adc + e_dac + e_cell + e_glb
    assert close(pj, 4.78524576)
    # area: macro = 16*0.38e-6 + (4/2)*5e-5*2^(2-4) + (4+4)*2e-6 = 4.708e-5 mm^2
    area = 8 * 4.708e-5 + 1 * 1.2e-3 + 4 * 3e-4 + 1 * 0.05 + 2 * 2e-3
    assert close(r.area_mm2, area) and close(area, 0.05677664)
    assert close(r.energy_j, pj * 1e-12 + 5e-4 * area * t_mvm)
    assert close(r.layers.e_total.sum(), r.energy_j)


def test_streaming_static_layer_by_hand():
    hw = dict(TINY, n_macros=1, cell="rram", bits_per_cell=2)
    r = simulate(ONE_STATIC, hw)
    # n_cw = ceil(2/2) = 1; T_K = 2; T_N = ceil(1*1/4) = 1; A = 2 > 1 macro -> streaming
    assert not r.resident and r.replication == 1 and r.program_time_s == 0
    t_mvm = 2 * 1 * 2 * (2 * (0.00653 * 4 + 0.640) + 1.0) * 1e-9
    # passes = ceil(2/1) = 2; t_comp = 2 * 3 * t_mvm
    # t_w = max(1.5/1e9, 1.5/2e9, 2 passes * 4 rows * 150 ns) = 1.2 us
    row = r.layers.iloc[0]
    assert row.passes == 2 and close(row.t_comp, 6 * t_mvm) and close(row.t_w, 1.2e-6)
    assert row.bound == "weights"
    assert close(r.latency_s, 1.2e-6 + 6 * t_mvm)
    # bytes: glb = act_b + W = 5.25 + 1.5; dram = spill + W = 1.5
    assert row.glb_bytes == 6.75 and row.dram_bytes == 1.5
    pj = (
        12 * (100 * 2 + 0.001 * 16) * 0.64e-3  # conversions 3*2*1*2*1*1*1 = 12
        + 36 * 50 * 0.64e-3  # DAC 3*2*6*1*1 = 36
        + 18 * 2 * 1 * 0.2e-3  # cells 3*6*1*1 * n_in 2 * n_cw 1 * 0.2 fJ
        + 6 * 30.0  # cells written K*N*count*n_cw = 6, 30 pJ each
        + 6.75 * 8 * 0.1 * math.sqrt(1 / 64)  # GLB
        + 1.5 * 8 * 8.0
    )  # DRAM
    assert close(pj, 279.37032288)
    area = 1 * (16 * 0.10e-6 + 2 * 5e-5 * 0.25 + 8 * 2e-6) + 1.2e-3 + 4 * 3e-4 + 0.05 + 2 * 2e-3
    assert close(r.area_mm2, area)
    assert close(r.energy_j, pj * 1e-12 + 5e-4 * area * r.latency_s)


def test_dynamic_layer_by_hand():
    r = simulate([dict(kind="dynamic", M=2, K=3, N=4, count=2)], TINY)
    # no static layer: A_tot = 0 -> resident, nothing to program
    assert r.resident and r.program_time_s == 0 and r.arrays_needed == 0
    # rate = 4 MACs * 100 MHz = 4e8/s; t_comp = 2*3*4*2 / 4e8 = 120 ns
    # act_b = (2*3 + 3*4)*2*8/8 + 2*4*2*8/8 = 36 + 16 = 52 B; t_buf = 52/2e9 = 26 ns
    row = r.layers.iloc[0]
    assert close(row.t_comp, 1.2e-7) and close(row.t_buf, 2.6e-8) and row.act_bytes == 52
    assert close(r.latency_s, 1.2e-7) and row.bound == "compute"
    pj = 48 * 0.1 + 52 * 8 * 0.1 * math.sqrt(1 / 64)  # MACs * e_mac + act_b * 8 * e_glb = 4.8 + 5.2
    area = 8 * 4.708e-5 + 1.2e-3 + 4 * 3e-4 + 0.05 + 2 * 2e-3
    assert close(r.energy_j, pj * 1e-12 + 5e-4 * area * 1.2e-7)


def test_eltwise_layer_with_spill_by_hand():
    hw = dict(TINY, dram_bw_gbps=0.5)
    r = simulate([dict(kind="eltwise", M=0, K=0, N=0, ops=1000)], hw)
    # in_b = out_b = 1000*1*8/8 = 1000 B; act_b = 2000 > 1 KB = 1024 B -> spill 2000 B
    # t_comp = 1000 / 4e8 = 2.5 us; t_buf = 2000/2e9 = 1 us; t_spill = 2000/0.5e9 = 4 us
    row = r.layers.iloc[0]
    assert close(row.t_comp, 2.5e-6) and close(row.t_buf, 1e-6) and close(row.t_spill, 4e-6)
    assert row.bound == "dram" and close(r.latency_s, 4e-6)
    assert row.glb_bytes == 2000 and row.dram_bytes == 2000
    pj = 1000 * 0.05 + 2000 * 8 * 0.0125 + 2000 * 8 * 8.0  # 50 + 200 + 128000
    area = 8 * 4.708e-5 + 1.2e-3 + 4 * 3e-4 + 0.5 * 0.05 + 2 * 2e-3
    assert close(r.area_mm2, area)
    assert close(r.energy_j, pj * 1e-12 + 5e-4 * area * 4e-6)


@pytest.mark.parametrize(
    "rows, rows_active, dac_bits, expected",
    [
        (128, None, 1, 5),  # 1 + ceil(0.5*7) = 1 + 4
        (256, None, 1, 5),  # 1 + ceil(0.5*8) = 1 + 4
        (512, None, 1, 6),  # 1 + ceil(0.5*9) = 1 + 5
        (64, None, 2, 5),  # 2 + ceil(0.5*6) = 2 + 3
        (512, 100, 1, 5),  # 1 + ceil(0.5*log2(100) = 3.32) = 1 + 4
        (512, 1, 1, 1),  # 1 + ceil(0) = 1
    ],
)
def test_adc_bits_default(rows, rows_active, dac_bits, expected):
    hw = HardwareConfig.from_dict(dict(TINY, rows=rows, rows_active=rows_active, dac_bits=dac_bits))
    assert hw.eff_adc_bits == expected
    assert simulate(ONE_STATIC, hw).adc_bits == expected
    assert HardwareConfig.from_dict(dict(TINY, rows=rows, adc_bits=7)).eff_adc_bits == 7


def test_row_groups_and_column_sharing_slow_the_mvm():
    # rows_active = rows/4 -> n_rg = 4, so t_mvm = n_in * 4 * cols_per_adc * t_sense
    hw = dict(TINY, rows=8, rows_active=2, adc_bits=3, cols_per_adc=4)
    r = simulate(ONE_STATIC, hw)
    t_mvm = 2 * 4 * 4 * (3 * (0.00653 * 2 + 0.640) + 1.0) * 1e-9
    assert close(r.layers.t_comp.iloc[0], t_mvm)  # A = 1*1 -> D = 8 -> ceil(3/8) = 1 step


# ============================================================== technology
def test_technology_defaults_overrides_and_yaml(tmp_path):
    t = Technology()
    assert (t.VDD, t.t_read, t.e_dram, t.p_leak, t.t_row_write_rram) == (0.8, 1.0, 8.0, 5e-4, 150.0)
    assert (t.sense_per_row, t.sense_per_bit, t.e_dac) == (0.00653, 0.640, 50.0)
    assert close(t.e_adc_pj(5), (500 + 0.001 * 4**5) * 0.64e-3)
    t2 = t.replace(VDD=1.0)
    assert t2.VDD == 1.0 and t.VDD == 0.8
    with pytest.raises(ValueError, match="VDDX"):
        t.replace(VDDX=1.0)
    path = tmp_path / "tech.yaml"
    path.write_text("p_leak: 0.0\ne_dram: 4\n")
    t3 = Technology.from_yaml(path)
    assert t3.p_leak == 0.0 and t3.e_dram == 4.0 and t3.VDD == 0.8
    path.write_text("bogus_constant: 1\n")
    with pytest.raises(ValueError, match="bogus_constant"):
        Technology.from_yaml(path)
    with pytest.raises(ValueError, match="e_dram"):
        Technology(e_dram=-1)
    # overriding a constant changes the model
    base = simulate(ONE_STATIC, TINY)
    assert simulate(ONE_STATIC, TINY, Technology(p_leak=0.0)).energy_j < base.energy_j


# ================================================================= validation
BAD_KNOBS = [
    ("rows", 0),
    ("cols", -4),
    ("n_macros", 0),
    ("n_macros", 2.5),
    ("rows", True),
    ("rows_active", 5),
    ("rows_active", 0),
    ("cell", "dram"),
    ("bits_per_cell", 2),
    ("cols_per_adc", 5),
    ("cols_per_adc", 0),
    ("glb_kb", 0),
    ("dram_bw_gbps", -1.0),
    ("glb_bw_gbps", float("nan")),
    ("clock_mhz", float("inf")),
    ("digital_macs", 1.5),
    ("adc_bits", 0),
    ("dac_bits", 0),
    ("rows", "128"),
]


@pytest.mark.parametrize("knob, value", BAD_KNOBS)
def test_invalid_knob_names_knob_and_value(knob, value):
    with pytest.raises(ValueError, match=f"'{knob}'") as e:
        HardwareConfig.from_dict(dict(TINY, **{knob: value}))
    assert "allowed" in str(e.value)
    with pytest.raises(ValueError, match=f"'{knob}'"):
        simulate(ONE_STATIC, dict(TINY, **{knob: value}))
    hws = [TINY] * 5
    hws[3] = dict(TINY, **{knob: value})
    with pytest.raises(ValueError, match=f"'{knob}'.*pair 3"):
        simulate_many(ONE_STATIC, hws)


def test_bits_per_cell_rules():
    HardwareConfig.from_dict(dict(TINY, cell="rram", bits_per_cell=2))
    with pytest.raises(ValueError, match="bits_per_cell.*rram"):
        HardwareConfig.from_dict(dict(TINY, cell="rram", bits_per_cell=3))
    with pytest.raises(ValueError, match="bits_per_cell.*sram"):
        HardwareConfig.from_dict(dict(TINY, cell="sram", bits_per_cell=2))


def test_missing_and_unknown_knobs():
    with pytest.raises(ValueError, match="missing required knob.*rows"):
        HardwareConfig.from_dict({k: v for k, v in TINY.items() if k != "rows"})
    with pytest.raises(ValueError, match="unknown knob.*speed"):
        HardwareConfig.from_dict(dict(TINY, speed=3))
    with pytest.raises(ValueError, match="unknown knob.*speed"):
        simulate_many(ONE_STATIC, [TINY, dict(TINY, speed=3)])
    with pytest.raises(ValueError, match="missing required knob.*glb_kb"):
        simulate_many(ONE_STATIC, {k: [v, v] for k, v in TINY.items() if k != "glb_kb"})


def test_space_configs_are_valid_hardware():
    for name in ("cim-edge", "cim-server"):
        from cimnet_bo.space import get_hardware_space

        hs = get_hardware_space(name)
        for cfg in hs.sample(30, 0) + [hs.baseline]:
            HardwareConfig.from_dict(cfg)


@pytest.mark.parametrize(
    "table, match",
    [
        ([dict(kind="static", M=1, N=1)], "missing required column"),
        ([dict(kind="conv", M=1, K=1, N=1)], "unknown kind"),
        ([dict(kind="static", M=-1, K=1, N=1)], "negative"),
        ([dict(kind="static", M=1, K=0, N=1)], "'K' must be positive"),
        ([dict(kind="static", M=1, K="x", N=1)], "not numeric"),
        ({"kind": [], "M": [], "K": [], "N": []}, "no rows"),
        ([], "non-empty"),
        (42, "cannot read"),
    ],
)
def test_malformed_layer_tables(table, match):
    with pytest.raises(ValueError, match=match):
        simulate(table, TINY)


def test_malformed_table_in_many_names_pair():
    good = LayerTable.coerce(ONE_STATIC)
    bad = {"kind": ["static"], "M": [1], "K": [1]}
    with pytest.raises(ValueError, match="pair 2.*missing required column"):
        simulate_many([good, good, bad, good], TINY)
    with pytest.raises(ValueError, match="3 layer tables but 2 hardware"):
        simulate_many([good, good, good], [TINY, TINY])


# ========================================================= random tables / chips
@st.composite
def layer_tables(draw, max_rows=6):
    n = draw(st.integers(1, max_rows))
    rows = []
    for i in range(n):
        kind = draw(st.sampled_from(["static", "static", "dynamic", "eltwise"]))
        if kind == "eltwise":
            rows.append(
                dict(
                    name=f"e{i}",
                    kind=kind,
                    M=0,
                    K=0,
                    N=0,
                    ops=draw(st.integers(1, 200_000)),
                    a_bits=draw(st.sampled_from([4, 8, 16])),
                )
            )
        else:
            rows.append(
                dict(
                    name=f"l{i}",
                    kind=kind,
                    M=draw(st.integers(1, 600)),
                    K=draw(st.integers(1, 3000)),
                    N=draw(st.integers(1, 3000)),
                    count=draw(st.integers(1, 12)),
                    w_bits=draw(st.sampled_from([1, 2, 4, 8])),
                    a_bits=draw(st.sampled_from([2, 4, 8])),
                )
            )
    return rows


@st.composite
def chips(draw):
    rows = draw(st.sampled_from([16, 32, 64, 128, 256, 512]))
    cols = draw(st.sampled_from([16, 32, 64, 128, 256, 512]))
    cell = draw(st.sampled_from(["sram", "rram"]))
    cfg = dict(
        rows=rows,
        cols=cols,
        n_macros=draw(st.integers(1, 4096)),
        cols_per_adc=draw(st.sampled_from([c for c in (1, 2, 4, 8, 16) if c <= cols])),
        cell=cell,
        bits_per_cell=draw(st.sampled_from([1, 2])) if cell == "rram" else 1,
        dac_bits=draw(st.sampled_from([1, 2, 4])),
        glb_kb=draw(st.sampled_from([0.5, 1, 32, 256, 4096])),
        dram_bw_gbps=draw(st.sampled_from([0.5, 1, 16, 100, 1000])),
        glb_bw_gbps=draw(st.sampled_from([8, 64, 1024, 4000])),
        clock_mhz=draw(st.sampled_from([200, 500, 1000, 2000])),
        digital_macs=draw(st.sampled_from([16, 64, 1024])),
    )
    if draw(st.booleans()):
        cfg["rows_active"] = draw(
            st.sampled_from([r for r in (1, 4, 16, 64, 128, 512) if r <= rows])
        )
    if draw(st.booleans()):
        cfg["adc_bits"] = draw(st.integers(1, 10))
    return cfg


@SETTINGS
@given(layer_tables(), chips())
def test_outputs_positive_and_finite(table, hw):
    r = simulate(table, hw)
    for v in (r.latency_s, r.energy_j, r.area_mm2, r.peak_ops_per_s):
        assert math.isfinite(v) and v > 0
    assert math.isfinite(r.program_time_s) and r.program_time_s >= 0
    assert close(r.layers.t_layer.sum(), r.latency_s, 1e-12)
    assert close(r.layers.e_total.sum(), r.energy_j, 1e-9)
    assert set(r.layers.bound) <= {"compute", "buffer", "dram", "weights"}


# knob -> larger values to try; latency must never increase
MORE = {
    "n_macros": lambda v: [v + 1, 2 * v, 4 * v + 7, 100_000],
    "dram_bw_gbps": lambda v: [v * 1.5, v * 10],
    "glb_bw_gbps": lambda v: [v * 1.5, v * 10],
    "glb_kb": lambda v: [v * 2, v * 1000],
    "digital_macs": lambda v: [v + 1, v * 8],
    "clock_mhz": lambda v: [v * 1.1, v * 4],
}


@SETTINGS
@given(layer_tables(), chips(), st.sampled_from(sorted(MORE)))
def test_more_resources_never_increase_latency(table, hw, knob):
    base = simulate(table, hw)
    for v in MORE[knob](hw[knob]):
        more = simulate(table, dict(hw, **{knob: v}))
        assert more.latency_s <= base.latency_s, (knob, v)
        base = more


# knob -> changes that add hardware; area must never decrease
AREA_MORE = {
    "n_macros": lambda hw: dict(hw, n_macros=hw["n_macros"] * 2),
    "rows": lambda hw: dict(hw, rows=hw["rows"] * 2),
    "cols": lambda hw: dict(hw, cols=hw["cols"] * 2),
    "glb_kb": lambda hw: dict(hw, glb_kb=hw["glb_kb"] * 2),
    "digital_macs": lambda hw: dict(hw, digital_macs=hw["digital_macs"] * 2),
    "dram_bw_gbps": lambda hw: dict(hw, dram_bw_gbps=hw["dram_bw_gbps"] * 2),
    "glb_bw_gbps": lambda hw: dict(hw, glb_bw_gbps=hw["glb_bw_gbps"] * 2),
    "adcs": lambda hw: dict(hw, cols_per_adc=max(1, hw["cols_per_adc"] // 2)),  # more ADCs
    "adc_bits": lambda hw: dict(hw, adc_bits=HardwareConfig.from_dict(hw).eff_adc_bits + 1),
}


@SETTINGS
@given(layer_tables(max_rows=2), chips(), st.sampled_from(sorted(AREA_MORE)))
def test_more_resources_never_decrease_area(table, hw, knob):
    a0 = simulate(table, hw).area_mm2
    a1 = simulate(table, AREA_MORE[knob](hw)).area_mm2
    assert a1 >= a0


@SETTINGS
@given(layer_tables(), chips())
def test_no_static_layer_beats_the_peak(table, hw):
    r = simulate(table, hw)
    df = r.layers
    t = LayerTable.coerce(table)
    for i in np.flatnonzero(df.kind.to_numpy() == "static"):
        peak = peak_ops_per_s(hw, t.w_bits[i], t.a_bits[i])
        assert 2 * df.macs.iloc[i] / df.t_comp.iloc[i] <= peak * (1 + 1e-12)


def test_peak_formula_by_hand():
    # 2 * n_macros * rows * (cols / n_cw) / t_mvm with n_cw = 8, t_mvm = 8 * 1 * 8 * t_sense
    hw = get_space("vit-b-imagenet").hardware.baseline
    t_mvm = 8 * 1 * 8 * (5 * (0.00653 * 256 + 0.640) + 1.0) * 1e-9
    assert close(peak_ops_per_s(hw), 2 * 4096 * 256 * (256 / 8) / t_mvm)


# =================================================== simulate vs simulate_many
def _compare(out, results):
    for k in ("latency_s", "energy_j", "area_mm2", "program_time_s"):
        a = np.array([getattr(r, k) for r in results])
        b = np.asarray(out[k])
        np.testing.assert_allclose(b, a, rtol=REL, atol=0, err_msg=k)
    assert (np.asarray(out["resident"]) == np.array([r.resident for r in results])).all()


@SETTINGS
@given(st.lists(st.tuples(layer_tables(), chips()), min_size=1, max_size=8), st.integers(1, 4))
def test_simulate_many_agrees_with_simulate(pairs, chunk):
    tables = [LayerTable.coerce(t) for t, _ in pairs]
    hws = [h for _, h in pairs]
    results = [simulate(t, h) for t, h in pairs]
    _compare(simulate_many(tables, hws), results)
    _compare(simulate_many(tables, hws, chunk_size=chunk, as_frame=False), results)
    # knob arrays instead of dicts (optional knobs as object arrays with None)
    cols = {
        k: np.array(
            [h.get(k) for h in hws], dtype=object if k in ("rows_active", "adc_bits") else None
        )
        for k in set().union(*hws)
    }
    _compare(simulate_many(tables, cols, chunk_size=chunk), results)


def test_simulate_many_broadcasting_and_inputs():
    space = get_space("vit-fmnist")
    hs = space.hardware.sample(40, 3)
    t = layer_table(space, space.subnet.extreme("max"))
    ref = [simulate(t, h) for h in hs]
    _compare(simulate_many(t, hs), ref)  # one table, many chips
    _compare(simulate_many(t.to_pandas(), pd.DataFrame(hs)), ref)  # DataFrame inputs
    _compare(simulate_many([t], hs, chunk_size=7), ref)  # list of one table broadcasts
    _compare(simulate_many(t, [HardwareConfig.from_dict(h) for h in hs]), ref)
    cols = {k: np.array([h[k] for h in hs]) for k in hs[0]}
    cols["rows_active"] = np.array([h["rows"] for h in hs])
    cols["rows_active"][2] = cols["rows"][2] + 1
    with pytest.raises(ValueError, match="'rows_active'.*pair 2"):
        simulate_many(t, cols, chunk_size=2)
    tabs = [layer_table(space, c) for c in space.subnet.sample(40, 4)]
    ref2 = [simulate(x, hs[0]) for x in tabs]
    _compare(simulate_many(tabs, hs[0]), ref2)  # one chip, many tables
    _compare(simulate_many(tabs, HardwareConfig.from_dict(hs[0])), ref2)
    # repeated table objects are padded once and still map to the right pairs
    mix = [tabs[i % 3] for i in range(40)]
    _compare(simulate_many(mix, hs, chunk_size=6), [simulate(x, h) for x, h in zip(mix, hs)])
    # a TableBatch with table_index
    b = TableBatch.from_tables(tabs[:3])
    idx = np.arange(40) % 3
    _compare(
        simulate_many(b, hs, table_index=idx, chunk_size=9),
        [simulate(x, h) for x, h in zip(mix, hs)],
    )


def test_many_distinct_tables_are_padded_per_chunk(monkeypatch):
    from cimnet_bo.hardware import many

    monkeypatch.setattr(many._Tables, "GLOBAL_ROWS", 10)
    space = get_space("vit-fmnist")
    cfgs = space.sample(25, 5)
    tabs = [layer_table(space, c) for c in cfgs]
    hws = [space.split(c)[1] for c in cfgs]
    _compare(
        simulate_many(tabs + tabs[:5], hws + hws[:5], chunk_size=4),
        [simulate(t, h) for t, h in zip(tabs + tabs[:5], hws + hws[:5])],
    )


@pytest.mark.parametrize("name", ["vit-b-imagenet", "vit-fmnist", "autoformer-t"])
def test_vit_batch_matches_layer_tables(name):
    space = get_space(name)
    cfgs = space.sample(30, 11) + [space.subnet.extreme("max"), space.subnet.extreme("min")]
    subs = [{k: c[k] for k in space.subnet.names} for c in cfgs]
    fast = vit_batch(space, subs)
    slow = TableBatch.from_tables([layer_table(space, s) for s in subs])
    assert fast.uniform_bits == slow.uniform_bits == (8.0, 8.0)
    for k in fast.sums:
        np.testing.assert_allclose(fast.sums[k], slow.sums[k], rtol=1e-14, err_msg=k)
    # the same rows per network (padding may sit elsewhere): compare sorted valid rows
    for i in range(len(subs)):
        fs = np.stack(
            [
                fast.static[c][i]
                for c in ("M", "K", "N", "count", "act_b", "W", "MNc", "MKc", "MKNc", "KNc")
            ]
        )
        ss = np.stack(
            [
                slow.static[c][i]
                for c in ("M", "K", "N", "count", "act_b", "W", "MNc", "MKc", "MKNc", "KNc")
            ]
        )
        fv, sv = fast.static["valid"][i], slow.static["valid"][i]
        assert fv.sum() == sv.sum()
        srt = lambda a: a[:, np.lexsort(a[::-1])]
        np.testing.assert_array_equal(srt(fs[:, fv]), srt(ss[:, sv]))
        fd = np.stack([fast.digital[c][i] for c in ("work", "act_b")])
        sd = np.stack([slow.digital[c][i] for c in ("work", "act_b")])
        np.testing.assert_array_equal(srt(fd[:, fd[1] > 0]), srt(sd[:, sd[1] > 0]))
    hws = space.hardware.sample(len(subs), 12)
    ref = [simulate(layer_table(space, s), h) for s, h in zip(subs, hws)]
    _compare(simulate_many(fast, hws), ref)
    _compare(simulate_many(SubnetConfigs(space, subs), hws, chunk_size=8), ref)


def test_batch_from_configs_other_family_and_errors():
    space = get_space("cnn-fmnist")
    cfgs = space.subnet.sample(6, 2)
    cfgs = cfgs + cfgs[:2]
    b, idx = batch_from_configs(space, cfgs)
    assert len(b) == 6 and list(idx[-2:]) == [0, 1]
    hw = space.hardware.baseline
    _compare(
        simulate_many(b, hw, table_index=idx), [simulate(layer_table(space, c), hw) for c in cfgs]
    )
    _compare(
        simulate_many(SubnetConfigs(space, cfgs), hw, chunk_size=3),
        [simulate(layer_table(space, c), hw) for c in cfgs],
    )
    vit = get_space("vit-fmnist")
    bad = dict(vit.subnet.extreme("max"), heads_0=7)
    with pytest.raises(ValueError, match="heads_0"):
        vit_batch(vit, [bad])
    with pytest.raises(ValueError, match="family"):
        vit_batch(space, cfgs)


# ======================================================== calibration (VGG-8)
def test_vgg8_calibration():
    """Page: VGG-8 / CIFAR-10 on 6,344 arrays of 128x128 RRAM, 1 bit/cell, 5-bit ADC, 8 columns
    per ADC, 8x replication -> about 181 us/image and 6.8 TOPS. The CiM part is fully specified
    (A_tot = 6,344; 8x replication = 8 * 6,344 macros); the digital unit and buffers are not,
    so they take the cim-server baseline's values and must stay a small addition."""
    t = vgg8_cifar()
    base = get_space("vit-b-imagenet").hardware.baseline
    hw = dict(
        base,
        rows=128,
        cols=128,
        n_macros=8 * 6344,
        cell="rram",
        bits_per_cell=1,
        adc_bits=5,
        cols_per_adc=8,
        dac_bits=1,
    )
    r = simulate(t, hw)
    assert r.arrays_needed == 6344 and r.replication == 8 and r.resident
    st_ = r.layers[r.layers.kind == "static"]
    # sum of ceil(M/8) = 128+128+32+32+8+8+1+1 = 338 steps of t_mvm = 8*1*8*8.3792 ns
    assert close(st_.t_comp.sum(), 338 * 8 * 8 * (5 * (0.00653 * 128 + 0.640) + 1.0) * 1e-9)
    assert abs(st_.t_comp.sum() / 181e-6 - 1) < 0.01
    assert abs(r.latency_s / 181e-6 - 1) < 0.02
    assert abs(r.tops / 6.8 - 1) < 0.02


# ============================================================ roofline and CLI
def test_plot_roofline(tmp_path):
    space = get_space("vit-fmnist")
    t = layer_table(space, space.subnet.extreme("max"))
    p = plot_roofline(t, space.hardware.baseline, tmp_path / "roof.png")
    assert p.exists() and p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _cli(*argv):
    parser = argparse.ArgumentParser(prog="cimnet-bo")
    add_parser(parser.add_subparsers(dest="command"))
    return run(parser.parse_args(["simulate", *argv]))


def test_cli_table_and_totals(capsys):
    assert _cli("--space", "vit-fmnist", "--subnet", "min", "--hardware", "baseline") == 0
    out = capsys.readouterr().out
    assert "l0.qkv" in out and "latency" in out and "energy" in out and "area" in out


def test_cli_json_plot_and_overrides(capsys, tmp_path):
    space = get_space("vit-fmnist")
    sub = json.dumps(space.subnet.extreme("min"))
    png = tmp_path / "r.png"
    assert (
        _cli(
            "--space",
            "vit-fmnist",
            "--subnet",
            sub,
            "--hardware",
            '{"cell": "rram", "bits_per_cell": 2}',
            "--json",
            "--plot",
            str(png),
        )
        == 0
    )
    d = json.loads(capsys.readouterr().out)
    assert d["hardware"]["cell"] == "rram" and len(d["layers"]) > 10 and png.exists()
    ref = simulate(
        layer_table(space, space.subnet.extreme("min")),
        dict(space.hardware.baseline, cell="rram", bits_per_cell=2),
    )
    assert close(d["latency_s"], ref.latency_s)
    assert _cli("--space", "vit-fmnist", "--hardware", '{"rows_active": 999}') == 2
    assert "rows_active" in capsys.readouterr().err
    assert _cli("--space", "vit-fmnist", "--subnet", "{not json") == 2
