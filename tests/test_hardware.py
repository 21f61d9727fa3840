"""Tests of the CiM roofline model v2 (``CIM_MODEL.md``) in :mod:`cimnet_bo.hardware`.

Here: the page's properties (hypothesis), validation, the technology constants,
:func:`simulate` vs :func:`simulate_many`, the batch builders, the roofline plot and the CLI.
The hand-computed cases are in ``test_hardware_cases.py``.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cimnet_bo.cli import main as cli_main
from cimnet_bo.hardware import (
    MODEL_VERSION,
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
from cimnet_bo.hardware.bounds import latency_lower_bounds
from cimnet_bo.hardware.inputs import Chips
from cimnet_bo.space import get_hardware_space, get_space
from cimnet_bo.workload import LayerTable, layer_table

SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
REL = 1e-9  # simulate_many agrees with simulate to this relative tolerance
F_MAX = 1420.0

# A tiny chip (see test_hardware_cases.py for its hand-computed numbers).
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
ENERGY_PARTS = ("e_adc", "e_dac", "e_cell", "e_write", "e_add", "e_digital", "e_glb", "e_dram", "e_leak")


def close(a, b, rel=1e-12):
    return math.isclose(a, b, rel_tol=rel, abs_tol=0.0)


def test_model_version():
    assert MODEL_VERSION == "2"


# ====================================================================== technology
TECH_DEFAULTS = dict(
    VDD=0.8,
    t_read=1.0,
    sense_per_row=0.00653,
    sense_per_bit=0.640,
    d_dac=0.5,
    r_knee_msps=174.0,
    adc_rate_exp=1.49,
    t_row_write_rram=150.0,
    t_row_write_sram_cycles=1.0,
    e_cellop_sram=0.5,
    e_cellop_rram=0.2,
    e_cell_write_sram=0.002,
    e_cell_write_rram=100.0,
    adc_e_per_bit=100.0,
    adc_e_exp=0.001,
    e_dac=50.0,
    e_add=0.03,
    psum_bytes=6.0,
    e_glb_ref=0.1,
    glb_ref_kb=64.0,
    glb_bank_kb=256.0,
    e_dram=8.0,
    e_mac_digital=0.1,
    e_elt=0.05,
    f_nom_mhz=1000.0,
    f_max_mhz=1420.0,
    gamma=1.5,
    p_leak=5e-4,
    a_cell_sram=0.38,
    a_cell_rram=0.10,
    a_adc_coef=0.62,
    a_adc_slope=0.0369,
    a_adc_offset=1.206,
    a_dac1=1.7e-7,
    dac_area_growth=3.0,
    a_line=2e-6,
    a_fix=2e-4,
    a_glb_per_kb=1.2e-3,
    a_port=1.2e-3,
    a_mac=3e-4,
    a_dram_per_gbps=0.05,
)


def test_technology_defaults_are_the_page_constants():
    t = Technology()
    d = t.to_dict()
    for name, value in TECH_DEFAULTS.items():
        assert d[name] == value, name
        assert getattr(t, name) == value, name
    # version 1's bus and 4-bit-ADC constants are gone
    for old in ("a_bus_per_gbps", "a_adc4"):
        assert old not in d


def test_technology_overrides_and_yaml(tmp_path):
    t = Technology()
    t2 = t.replace(VDD=1.0)
    assert t2.VDD == 1.0 and t.VDD == 0.8
    with pytest.raises(ValueError, match="VDDX"):
        t.replace(VDDX=1.0)
    path = tmp_path / "tech.yaml"
    path.write_text("p_leak: 0.0\ne_dram: 3.9\nf_max_mhz: 2000\n")
    t3 = Technology.from_yaml(path)
    assert t3.p_leak == 0.0 and t3.e_dram == 3.9 and t3.f_max_mhz == 2000 and t3.VDD == 0.8
    path.write_text("bogus_constant: 1\n")
    with pytest.raises(ValueError, match="bogus_constant"):
        Technology.from_yaml(path)
    with pytest.raises(ValueError, match="e_dram"):
        Technology(e_dram=-1)
    # overriding a constant changes the model
    base = simulate(ONE_STATIC, TINY)
    no_leak = simulate(ONE_STATIC, TINY, Technology().replace(p_leak=0.0))
    assert no_leak.energy_j < base.energy_j and no_leak.power_w < base.power_w
    assert no_leak.latency_s == base.latency_s and no_leak.area_mm2 == base.area_mm2
    # the server's DRAM (3.9 pJ/bit) lowers the DRAM power term: 1 GB/s * 8 * (8 - 3.9) pJ
    hbm = simulate(ONE_STATIC, TINY, Technology().replace(e_dram=3.9))
    assert close(base.power_w - hbm.power_w, 1e9 * 8 * 4.1 * 1e-12, 1e-9)


# ====================================================================== validation
BAD_KNOBS = [
    ("rows", 0),
    ("rows", -4),
    ("cols", -4),
    ("cols", 0),
    ("n_macros", 0),
    ("n_macros", -8),
    ("n_macros", 2.5),
    ("rows", True),
    ("rows_active", 5),  # > rows = 4
    ("rows_active", 0),
    ("cell", "dram"),
    ("cell", 1),
    ("bits_per_cell", 2),  # SRAM holds one bit
    ("bits_per_cell", 0),
    ("cols_per_adc", 5),  # > cols = 4
    ("cols_per_adc", 0),
    ("glb_kb", 0),
    ("glb_kb", -1),
    ("dram_bw_gbps", -1.0),
    ("dram_bw_gbps", 0),
    ("glb_width", 0),
    ("glb_width", -16),
    ("glb_width", float("nan")),
    ("clock_mhz", float("inf")),
    ("clock_mhz", 0),
    ("clock_mhz", -100),
    ("digital_macs", 1.5),
    ("digital_macs", 0),
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
    with pytest.raises(ValueError, match="bits_per_cell"):
        simulate(ONE_STATIC, dict(TINY, cell="sram", bits_per_cell=2))


def test_clock_above_f_max():
    # the configuration alone is valid (it does not know the technology) ...
    HardwareConfig.from_dict(dict(TINY, clock_mhz=1500))
    # ... the model checks clock <= f_max = 1420 MHz
    simulate(ONE_STATIC, dict(TINY, clock_mhz=F_MAX))
    for clock in (1420.5, 1500, 2000):
        with pytest.raises(ValueError, match="clock_mhz"):
            simulate(ONE_STATIC, dict(TINY, clock_mhz=clock))
        with pytest.raises(ValueError, match="clock_mhz"):
            simulate_many(ONE_STATIC, [TINY, dict(TINY, clock_mhz=clock), TINY])
        with pytest.raises(ValueError, match="clock_mhz"):
            simulate_many(ONE_STATIC, {**TINY, "clock_mhz": np.array([100.0, clock])})
    # a technology with a higher f_max allows it
    fast = Technology().replace(f_max_mhz=2000.0)
    r = simulate(ONE_STATIC, dict(TINY, clock_mhz=2000), fast)
    assert math.isfinite(r.latency_s) and r.latency_s > 0
    out = simulate_many(ONE_STATIC, [TINY, dict(TINY, clock_mhz=2000)], fast)
    assert np.isclose(out["latency_s"].iloc[1], r.latency_s, rtol=REL, atol=0)


def test_missing_and_unknown_knobs():
    with pytest.raises(ValueError, match="missing required knob.*rows"):
        HardwareConfig.from_dict({k: v for k, v in TINY.items() if k != "rows"})
    with pytest.raises(ValueError, match="unknown knob.*speed"):
        HardwareConfig.from_dict(dict(TINY, speed=3))
    with pytest.raises(ValueError, match="unknown knob.*speed"):
        simulate_many(ONE_STATIC, [TINY, dict(TINY, speed=3)])
    with pytest.raises(ValueError, match="missing required knob.*glb_kb"):
        simulate_many(ONE_STATIC, {k: [v, v] for k, v in TINY.items() if k != "glb_kb"})
    # v2: glb_width replaces glb_bw_gbps, which is now an unknown knob
    with pytest.raises(ValueError, match="unknown knob.*glb_bw_gbps"):
        HardwareConfig.from_dict(dict(TINY, glb_bw_gbps=32))
    with pytest.raises(ValueError, match="glb_bw_gbps"):
        simulate(ONE_STATIC, dict(TINY, glb_bw_gbps=32))
    v1 = {k: v for k, v in TINY.items() if k != "glb_width"}
    with pytest.raises(ValueError, match="missing required knob.*glb_width"):
        HardwareConfig.from_dict(v1)
    with pytest.raises(ValueError, match="glb_width"):
        simulate(ONE_STATIC, dict(v1, glb_bw_gbps=32))


def test_space_configs_are_valid_hardware():
    for name in ("cim-edge", "cim-server"):
        hs = get_hardware_space(name)
        cfgs = hs.sample(30, 0) + [hs.baseline]
        for cfg in cfgs:
            assert "glb_width" in cfg and "glb_bw_gbps" not in cfg
            HardwareConfig.from_dict(cfg)
        # every configuration simulates (its clock is within f_max)
        out = simulate_many(ONE_STATIC, cfgs)
        assert np.isfinite(out["latency_s"].to_numpy(dtype=float)).all()


@pytest.mark.parametrize(
    "table, match",
    [
        ([dict(kind="static", M=1, N=1)], "missing required column"),
        ([dict(kind="conv", M=1, K=1, N=1)], "unknown kind"),
        ([dict(kind="static", M=-1, K=1, N=1)], "negative"),
        ([dict(kind="static", M=1, K=0, N=1)], "'K' must be positive"),
        ([dict(kind="static", M=1, K="x", N=1)], "not numeric"),
        ([dict(kind="static", M=1, K=1, N=1, reuse=0)], "reuse"),
        ([dict(kind="static", M=1, K=1, N=1, reuse=-2.0)], "reuse"),
        ([dict(kind="static", M=1, K=1, N=1, reuse=float("nan"))], "reuse"),
        ({"kind": [], "M": [], "K": [], "N": []}, "no rows"),
        ([], "non-empty"),
        (42, "cannot read"),
    ],
)
def test_malformed_layer_tables(table, match):
    with pytest.raises(ValueError, match=match):
        simulate(table, TINY)


def test_reuse_column_is_optional_and_defaults_to_one():
    t = LayerTable.coerce(ONE_STATIC)
    assert list(t.reuse) == [1.0]
    with_reuse = [dict(ONE_STATIC[0], reuse=1)]
    a, b = simulate(ONE_STATIC, TINY), simulate(with_reuse, TINY)
    assert a.latency_s == b.latency_s and a.energy_j == b.energy_j
    # a DataFrame and a dict of arrays carry it too
    df = pd.DataFrame([dict(ONE_STATIC[0], reuse=0.25)])
    assert list(LayerTable.coerce(df).reuse) == [0.25]
    assert list(LayerTable.coerce({c: df[c].to_numpy() for c in df.columns}).reuse) == [0.25]


def test_malformed_table_in_many_names_pair():
    good = LayerTable.coerce(ONE_STATIC)
    bad = {"kind": ["static"], "M": [1], "K": [1]}
    with pytest.raises(ValueError, match="pair 2.*missing required column"):
        simulate_many([good, good, bad, good], TINY)
    with pytest.raises(ValueError, match="3 layer tables but 2 hardware"):
        simulate_many([good, good, good], [TINY, TINY])


# ========================================================= random tables / chips
@st.composite
def static_row(draw, i):
    return dict(
        name=f"s{i}",
        kind="static",
        M=draw(st.integers(1, 600)),
        K=draw(st.integers(1, 3000)),
        N=draw(st.integers(1, 3000)),
        count=draw(st.integers(1, 12)),
        w_bits=draw(st.sampled_from([1, 2, 3, 4, 8])),
        a_bits=draw(st.sampled_from([2, 4, 8])),
        # k*k/stride^2: 1x1, 3x3 stride 2, 3x3, 7x7, 1x1 stride 2
        reuse=draw(st.sampled_from([1.0, 1.0, 2.25, 9.0, 49.0, 0.25])),
    )


@st.composite
def layer_tables(draw, max_rows=6):
    n = draw(st.integers(1, max_rows))
    rows = []
    for i in range(n):
        kind = draw(st.sampled_from(["static", "static", "dynamic", "eltwise"]))
        if kind == "static":
            rows.append(draw(static_row(i)))
        elif kind == "eltwise":
            rows.append(
                dict(
                    name=f"e{i}",
                    kind=kind,
                    M=0,
                    K=0,
                    N=0,
                    ops=draw(st.integers(1, 200_000)),
                    a_bits=draw(st.sampled_from([4, 8, 16])),
                    # page: reuse applies to static layers; it is 1 for others
                    reuse=draw(st.sampled_from([1.0, 1.0, 1.0, 4.0])),
                )
            )
        else:
            rows.append(
                dict(
                    name=f"d{i}",
                    kind=kind,
                    M=draw(st.integers(1, 600)),
                    K=draw(st.integers(1, 3000)),
                    N=draw(st.integers(1, 3000)),
                    count=draw(st.integers(1, 12)),
                    a_bits=draw(st.sampled_from([2, 4, 8])),
                    reuse=draw(st.sampled_from([1.0, 1.0, 1.0, 4.0])),
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
        glb_width=draw(st.sampled_from([1, 8, 64, 512])),
        clock_mhz=draw(st.sampled_from([100, 200, 500, 1000, 1210, 1420])),
        digital_macs=draw(st.sampled_from([16, 64, 1024])),
    )
    if draw(st.booleans()):
        cfg["rows_active"] = draw(st.sampled_from([r for r in (1, 4, 16, 64, 128, 512) if r <= rows]))
    if draw(st.booleans()):
        cfg["adc_bits"] = draw(st.integers(1, 10))
    return cfg


# ------------------------------------------------------------- spec formulas for the properties
def _arrays(row, hw):
    """A = T_K * T_N * count for a static row (page, *Per static layer*)."""
    n_cw = math.ceil(row.get("w_bits", 8) / hw.get("bits_per_cell", 1))
    t_k = math.ceil(row["K"] / hw["rows"])
    t_n = math.ceil(row["N"] * n_cw / hw["cols"])
    return t_k * t_n * row.get("count", 1)


def _t_mvm(hw, adc_bits, w_bits, a_bits):
    """t_mvm in seconds (page: t_s and t_mvm lines) for a resolved adc_bits."""
    ra = hw.get("rows_active") or hw["rows"]
    dac = hw.get("dac_bits", 1)
    t_s = (adc_bits * (0.00653 * ra + 0.640) + 1.0) * (1 + 0.5 * (dac - 1)) * 1e-9
    n_in = math.ceil(a_bits / dac)
    n_rg = math.ceil(hw["rows"] / ra)
    return n_in * n_rg * hw["cols_per_adc"] * t_s


def _weight_time(table, hw, passes=1):
    """sum over static layers of max(W / bw_dram, W / bw_glb, passes * rows * t_row_write)."""
    bw_dram = hw["dram_bw_gbps"] * 1e9
    bw_glb = hw["glb_width"] * hw["clock_mhz"] * 1e6
    t_rw = 150e-9 if hw["cell"] == "rram" else 1 / (hw["clock_mhz"] * 1e6)
    total = 0.0
    for row in table:
        if row["kind"] == "static":
            W = row["K"] * row["N"] * row.get("count", 1) * row.get("w_bits", 8) / 8
            total += max(W / bw_dram, W / bw_glb, passes * hw["rows"] * t_rw)
    return total


# ====================================================================== properties
@SETTINGS
@given(layer_tables(), chips())
def test_outputs_positive_and_finite(table, hw):
    r = simulate(table, hw)
    for v in (r.latency_s, r.energy_j, r.area_mm2, r.power_w, r.peak_ops_per_s):
        assert math.isfinite(v) and v > 0
    assert math.isfinite(r.program_time_s) and r.program_time_s >= 0
    df = r.layers
    assert len(df) == len(table)
    assert close(df.t_layer.sum(), r.latency_s, 1e-12)
    assert close(df.e_total.sum(), r.energy_j, 1e-9)
    parts = sum(df[c].to_numpy(dtype=float) for c in ENERGY_PARTS)
    np.testing.assert_allclose(parts, df.e_total.to_numpy(dtype=float), rtol=1e-9, atol=0)
    for c in ENERGY_PARTS + ("t_comp", "t_buf", "t_spill", "t_w", "traffic_bytes", "dram_bytes"):
        v = df[c].to_numpy(dtype=float)
        assert np.isfinite(v).all() and (v >= 0).all(), c
    # residency, stream fraction and feasibility (page, *Residency is fluid*, *RRAM cannot stream*)
    a_tot = sum(_arrays(row, hw) for row in table if row["kind"] == "static")
    assert r.arrays_needed == a_tot
    s = min(max((a_tot - hw["n_macros"]) / a_tot, 0.0), 1.0) if a_tot else 0.0
    assert close(r.stream_fraction, s, 1e-12) or r.stream_fraction == s
    assert bool(r.resident) == (s == 0)
    assert bool(r.feasible) == (not (hw["cell"] == "rram" and s > 0))
    if r.resident:
        assert r.replication == (hw["n_macros"] // a_tot if a_tot else r.replication)
        assert (df.psum_bytes == 0).all() and (df.t_w == 0).all() and (df.e_write == 0).all()
    else:
        assert r.replication == 1
    # digital layers never stream weights, move no partial sums
    digital = (df.kind != "static").to_numpy()
    assert (df.t_w.to_numpy()[digital] == 0).all() and (df.psum_bytes.to_numpy()[digital] == 0).all()


@SETTINGS
@given(layer_tables(), chips())
def test_per_layer_traffic_follows_the_page(table, hw):
    """Page, *Per static layer* and *Every layer*: passes, psum, traffic, folded spill check,
    DRAM bytes and t_w of every row, from the formulas."""
    r = simulate(table, hw)
    df = r.layers
    n = hw["n_macros"]
    a_tot = sum(_arrays(row, hw) for row in table if row["kind"] == "static")
    s = min(max((a_tot - n) / a_tot, 0.0), 1.0) if a_tot else 0.0
    bw_dram = hw["dram_bw_gbps"] * 1e9
    bw_glb = hw["glb_width"] * hw["clock_mhz"] * 1e6
    t_rw = 150e-9 if hw["cell"] == "rram" else 1 / (hw["clock_mhz"] * 1e6)
    for i, row in enumerate(table):
        c, ab = row.get("count", 1), row.get("a_bits", 8)
        if row["kind"] == "eltwise":
            in_b = out_b = row["ops"] * c * ab / 8
        elif row["kind"] == "dynamic":
            in_b = (row["M"] * row["K"] + row["K"] * row["N"]) * c * ab / 8
            out_b = row["M"] * row["N"] * c * ab / 8
        else:
            in_b = row["M"] * row["K"] * c * ab / 8
            out_b = row["M"] * row["N"] * c * ab / 8
        psum, t_w, sW = 0.0, 0.0, 0.0
        if row["kind"] == "static" and s > 0:
            passes = math.ceil(_arrays(row, hw) / n)
            assert df.passes.iloc[i] == passes
            t_k = math.ceil(row["K"] / hw["rows"])
            psum = row["M"] * row["N"] * c * (min(t_k, passes) - 1) * 6
            W = row["K"] * row["N"] * c * row.get("w_bits", 8) / 8
            sW = s * W
            t_w = s * max(W / bw_dram, W / bw_glb, passes * hw["rows"] * t_rw)
        reuse = row.get("reuse", 1.0) if row["kind"] == "static" else 1.0
        traffic = in_b + out_b + psum
        spill = traffic if in_b / reuse + out_b > hw["glb_kb"] * 1024 else 0.0
        assert math.isclose(df.psum_bytes.iloc[i], psum, rel_tol=1e-12, abs_tol=1e-9)
        assert math.isclose(df.traffic_bytes.iloc[i], traffic, rel_tol=1e-12)
        assert math.isclose(df.dram_bytes.iloc[i], spill + sW, rel_tol=1e-12, abs_tol=1e-9)
        assert math.isclose(df.t_w.iloc[i], t_w, rel_tol=1e-9, abs_tol=1e-21)
        assert math.isclose(df.t_buf.iloc[i], traffic / bw_glb, rel_tol=1e-9)
        assert math.isclose(df.t_spill.iloc[i], spill / bw_dram, rel_tol=1e-9, abs_tol=1e-21)
        inner = max(df.t_comp.iloc[i], traffic / bw_glb, spill / bw_dram)
        assert math.isclose(df.t_layer.iloc[i], t_w + inner, rel_tol=1e-9)


# knob -> larger values to try; latency must never increase
MORE = {
    "n_macros": lambda v: [v + 1, 2 * v, 4 * v + 7, 100_000],
    "dram_bw_gbps": lambda v: [v * 1.5, v * 10],
    "glb_width": lambda v: [v + 1, 2 * v, 16 * v],
    "glb_kb": lambda v: [v * 2, v * 1000],
    "digital_macs": lambda v: [v + 1, v * 8],
    "clock_mhz": lambda v: [min(v * 1.1, F_MAX), F_MAX],
}


@SETTINGS
@given(layer_tables(), chips(), st.sampled_from(sorted(MORE)))
def test_more_resources_never_increase_latency(table, hw, knob):
    base = simulate(table, hw)
    for v in MORE[knob](hw[knob]):
        more = simulate(table, dict(hw, **{knob: v}))
        assert more.latency_s <= base.latency_s * (1 + 1e-12), (knob, v)
        base = more


# knob -> a chip with more of one resource; area and peak power must never decrease
RESOURCE_MORE = {
    "n_macros": lambda hw: dict(hw, n_macros=hw["n_macros"] * 2),
    "glb_width": lambda hw: dict(hw, glb_width=hw["glb_width"] * 2),
    "dram_bw_gbps": lambda hw: dict(hw, dram_bw_gbps=hw["dram_bw_gbps"] * 2),
    "glb_kb": lambda hw: dict(hw, glb_kb=hw["glb_kb"] * 2),
    "digital_macs": lambda hw: dict(hw, digital_macs=hw["digital_macs"] * 2),
    "clock_mhz": lambda hw: dict(hw, clock_mhz=min(hw["clock_mhz"] * 1.3, F_MAX)),
    "cols": lambda hw: dict(hw, cols=hw["cols"] * 2),
    "adcs": lambda hw: dict(hw, cols_per_adc=max(1, hw["cols_per_adc"] // 2)),  # more ADCs
}


@SETTINGS
@given(layer_tables(max_rows=2), chips(), st.sampled_from(sorted(RESOURCE_MORE)))
def test_more_resources_never_decrease_area_or_power(table, hw, knob):
    r0 = simulate(table, hw)
    r1 = simulate(table, RESOURCE_MORE[knob](hw))
    assert r1.area_mm2 >= r0.area_mm2 * (1 - 1e-12), knob
    assert r1.power_w >= r0.power_w * (1 - 1e-12), knob


@SETTINGS
@given(chips(), st.sampled_from(sorted(RESOURCE_MORE)))
def test_area_and_power_grow_strictly_with_hardware(hw, knob):
    # every resource except the clock costs area; every one costs peak power
    # (the clock: P_digital and P_glb; glb_kb: leakage, and e_glb below the bank size)
    new = RESOURCE_MORE[knob](hw)
    assume(new != hw)
    r0, r1 = simulate(ONE_STATIC, hw), simulate(ONE_STATIC, new)
    assert r1.power_w > r0.power_w, knob
    if knob == "clock_mhz":
        assert r1.area_mm2 == r0.area_mm2
    else:
        assert r1.area_mm2 > r0.area_mm2, knob


@SETTINGS
@given(layer_tables(), chips())
def test_no_static_layer_beats_the_peak(table, hw):
    r = simulate(table, hw)
    df = r.layers
    for i, row in enumerate(table):
        if row["kind"] != "static":
            continue
        wb, ab = row.get("w_bits", 8), row.get("a_bits", 8)
        macs = row["M"] * row["K"] * row["N"] * row.get("count", 1)
        achieved = 2 * macs / df.t_comp.iloc[i]
        # page: 2*MACs / t_comp <= 2 * n_macros * rows * (cols/n_cw) / t_mvm
        n_cw = math.ceil(wb / hw.get("bits_per_cell", 1))
        peak = 2 * hw["n_macros"] * hw["rows"] * (hw["cols"] / n_cw) / _t_mvm(hw, r.adc_bits, wb, ab)
        assert achieved <= peak * (1 + 1e-9)
        assert close(peak_ops_per_s(hw, wb, ab), peak, 1e-9)


@st.composite
def static_tables(draw):
    n = draw(st.integers(2, 5))
    rows = [draw(static_row(i)) for i in range(n)]
    # small layers so that A_tot stays moderate; a few digital layers around them
    for r in rows:
        r["K"] = min(r["K"], 600)
        r["N"] = min(r["N"], 600)
    if draw(st.booleans()):
        rows.insert(1, dict(name="softmax", kind="eltwise", M=0, K=0, N=0, ops=5000))
    return rows


@SETTINGS
@given(static_tables(), chips())
def test_latency_is_continuous_just_below_residency(table, hw):
    """Page: with s just above 0 the latency is continuous in n_macros up to the replication and
    pass steps. With every layer's A <= n_macros < A_tot (one pass each, no partial sums), the
    latency is the resident one (D = 1) plus s * sum(max(W/bw_dram, W/bw_glb, rows*t_row_write))."""
    arrays = [_arrays(r, hw) for r in table if r["kind"] == "static"]
    a_tot = sum(arrays)
    assume(max(arrays) <= a_tot - 1)
    resident = simulate(table, dict(hw, n_macros=a_tot))
    assert resident.resident and resident.replication == 1
    wt = _weight_time(table, hw)
    for n in sorted({a_tot - 1, max(max(arrays), (a_tot + 1) // 2)}):
        s = (a_tot - n) / a_tot
        r = simulate(table, dict(hw, n_macros=n))
        assert close(r.stream_fraction, s, 1e-12)
        assert (r.layers.passes[r.layers.kind == "static"] == 1).all()
        assert (r.layers.psum_bytes == 0).all()
        assert close(r.latency_s, resident.latency_s + s * wt, 1e-9)
    # v1's cliff: one array short re-loaded every weight (s = 1); v2 adds only 1/A_tot of it
    one_short = simulate(table, dict(hw, n_macros=a_tot - 1))
    assert one_short.latency_s - resident.latency_s <= wt / a_tot * (1 + 1e-6) + 1e-18


@SETTINGS
@given(layer_tables(), chips())
def test_streaming_more_macros_is_monotone_in_s(table, hw):
    # s, DRAM bytes and written cells only fall as n_macros grows
    r0 = simulate(table, hw)
    r1 = simulate(table, dict(hw, n_macros=hw["n_macros"] + 1))
    assert r1.stream_fraction <= r0.stream_fraction
    assert r1.layers.dram_bytes.sum() <= r0.layers.dram_bytes.sum() * (1 + 1e-12)
    assert r1.layers.e_write.sum() <= r0.layers.e_write.sum() * (1 + 1e-12)


@SETTINGS
@given(st.lists(layer_tables(), min_size=1, max_size=3), st.lists(chips(), min_size=1, max_size=6))
def test_latency_bounds_never_exceed_the_latency(tables, hws):
    # the bounds that prune the exact best chips (hardware/bounds.py): at most the latency of
    # every pair (per-layer precisions, streaming, spills, digital layers), and streaming
    # exactly where the model finds the weights do not fit
    batch = TableBatch.from_tables(tables)
    bound, streams = latency_lower_bounds(batch, Chips(hws).chunk(0, len(hws)), Technology())
    assert bound.shape == streams.shape == (len(tables), len(hws))
    for i, table in enumerate(tables):
        r = simulate_many(table, hws, as_frame=False)
        assert np.all(bound[i] > 0)
        assert np.all(bound[i] <= r["latency_s"] * (1 + 1e-12))
        np.testing.assert_array_equal(streams[i], ~r["resident"])


def test_distinct_array_knobs_are_numpys_distinct_columns():
    from cimnet_bo.hardware.bounds import _distinct

    rng = np.random.default_rng(0)
    columns = [rng.choice(v, 500) for v in ([64.0, 128.0, 256.0], [1.0, 2.0], [32.0, 64.0, 128.0], [1.0, 4.0])]
    values, inverse = _distinct(columns)
    want, want_inverse = np.unique(np.stack(columns), axis=1, return_inverse=True)
    np.testing.assert_array_equal(values, want)
    np.testing.assert_array_equal(inverse, want_inverse.reshape(-1))


BIG_BUFFER = dict(TINY, rows=128, cols=128, n_macros=2, glb_kb=4096, glb_width=512, clock_mhz=1000)


@pytest.mark.parametrize(
    "table",
    [
        # resident, compute-bound, ceil(M / D) = M / D: t_comp = M * t_mvm / D exactly
        [dict(name="fc", kind="static", M=64, K=128, N=16, count=1, w_bits=8, a_bits=8)],
        # digital only: max(work / rate, traffic / bw_glb), both sums of one layer
        [dict(name="add", kind="eltwise", M=0, K=0, N=0, ops=50_000, a_bits=8)],
        [dict(name="qk", kind="dynamic", M=64, K=32, N=64, count=4, a_bits=8)],
    ],
)
def test_latency_bounds_are_the_latency_where_every_inequality_is_tight(table):
    bound, _ = latency_lower_bounds(TableBatch.from_tables([table]), Chips([BIG_BUFFER]).chunk(0, 1), Technology())
    assert bound[0, 0] == pytest.approx(simulate(table, BIG_BUFFER).latency_s, rel=1e-12)


# ----------------------------------------------------------------- invalid configs (hypothesis)
def _corruptions(hw):
    """(knob, changes) pairs that make a valid chip invalid."""
    out = [
        ("rows", dict(rows=0)),
        ("rows", dict(rows=-hw["rows"])),
        ("cols", dict(cols=-hw["cols"])),
        ("n_macros", dict(n_macros=0)),
        ("n_macros", dict(n_macros=-hw["n_macros"])),
        ("glb_kb", dict(glb_kb=0)),
        ("glb_kb", dict(glb_kb=-hw["glb_kb"])),
        ("dram_bw_gbps", dict(dram_bw_gbps=0)),
        ("dram_bw_gbps", dict(dram_bw_gbps=-hw["dram_bw_gbps"])),
        ("glb_width", dict(glb_width=0)),
        ("glb_width", dict(glb_width=-hw["glb_width"])),
        ("digital_macs", dict(digital_macs=0)),
        ("clock_mhz", dict(clock_mhz=0)),
        ("clock_mhz", dict(clock_mhz=-hw["clock_mhz"])),
        ("clock_mhz", dict(clock_mhz=F_MAX + 1)),
        ("clock_mhz", dict(clock_mhz=2 * F_MAX)),
        ("cols_per_adc", dict(cols_per_adc=0)),
        ("cols_per_adc", dict(cols_per_adc=hw["cols"] + 1)),
        ("rows_active", dict(rows_active=hw["rows"] + 1)),
        ("rows_active", dict(rows_active=0)),
        ("cell", dict(cell="flash")),
        ("dac_bits", dict(dac_bits=0)),
        ("adc_bits", dict(adc_bits=0)),
        ("bits_per_cell", dict(cell="sram", bits_per_cell=2)),
        ("bits_per_cell", dict(cell="rram", bits_per_cell=3)),
        ("bits_per_cell", dict(bits_per_cell=0)),
    ]
    return out


@SETTINGS
@given(chips(), st.data())
def test_invalid_configs_raise_naming_the_knob(hw, data):
    knob, changes = data.draw(st.sampled_from(_corruptions(hw)))
    bad = dict(hw, **changes)
    if knob == "rows":
        bad.pop("rows_active", None)  # rows_active <= rows is a different rule
    with pytest.raises(ValueError, match=f"'{knob}'"):
        simulate(ONE_STATIC, bad)
    with pytest.raises(ValueError, match=f"'{knob}'.*pair 1"):
        simulate_many(ONE_STATIC, [hw, bad])
    # the valid chip itself is fine
    simulate(ONE_STATIC, hw)


# =================================================== simulate vs simulate_many
OUTPUTS = ("latency_s", "energy_j", "area_mm2", "power_w", "program_time_s")


def _compare(out, results):
    for k in OUTPUTS:
        a = np.array([getattr(r, k) for r in results], dtype=float)
        b = np.asarray(out[k], dtype=float)
        np.testing.assert_allclose(b, a, rtol=REL, atol=0, err_msg=k)
    for k in ("resident", "feasible"):
        a = np.array([bool(getattr(r, k)) for r in results])
        assert (np.asarray(out[k], dtype=bool) == a).all(), k


@SETTINGS
@given(st.lists(st.tuples(layer_tables(), chips()), min_size=1, max_size=8), st.integers(1, 4))
def test_simulate_many_agrees_with_simulate(pairs, chunk):
    tables = [LayerTable.coerce(t) for t, _ in pairs]
    hws = [h for _, h in pairs]
    results = [simulate(t, h) for t, h in pairs]
    _compare(simulate_many(tables, hws), results)
    _compare(simulate_many(tables, hws, chunk_size=chunk, as_frame=False), results)
    # raw row-dict tables
    _compare(simulate_many([t for t, _ in pairs], hws, chunk_size=chunk), results)
    # knob arrays instead of dicts (optional knobs as object arrays with None)
    cols = {
        k: np.array([h.get(k) for h in hws], dtype=object if k in ("rows_active", "adc_bits") else None)
        for k in set().union(*hws)
    }
    _compare(simulate_many(tables, cols, chunk_size=chunk), results)


def test_simulate_many_output_forms():
    hws = [TINY, dict(TINY, n_macros=1, cell="rram"), dict(TINY, clock_mhz=1210)]
    frame = simulate_many(ONE_STATIC, hws)
    assert isinstance(frame, pd.DataFrame) and len(frame) == 3
    need = {"latency_s", "energy_j", "area_mm2", "power_w", "feasible", "resident", "program_time_s"}
    assert need <= set(frame.columns)
    d = simulate_many(ONE_STATIC, hws, as_frame=False)
    assert need <= set(d) and all(len(np.asarray(d[k])) == 3 for k in need)
    _compare(frame, [simulate(ONE_STATIC, h) for h in hws])
    assert list(frame["feasible"]) == [True, False, True]


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
    _compare(simulate_many(t, cols, chunk_size=5), ref)
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
    _compare(simulate_many(b, hs, table_index=idx, chunk_size=9), [simulate(x, h) for x, h in zip(mix, hs)])
    # a technology override reaches every pair
    tech = Technology().replace(e_dram=3.9, p_leak=1e-3)
    _compare(simulate_many(t, hs, tech, chunk_size=11), [simulate(t, h, tech) for h in hs])


def test_simulate_many_with_reuse_and_streaming():
    # convolution-like rows with reuse on small buffers: the folded check must agree
    table = [
        dict(name="dw7", kind="static", M=64, K=49, N=1, count=16, reuse=49),
        dict(name="c3s2", kind="static", M=16, K=72, N=8, reuse=2.25),
        dict(name="pws2", kind="static", M=16, K=8, N=8, reuse=0.25),
        dict(name="fc", kind="static", M=10, K=300, N=200),
        dict(name="qk", kind="dynamic", M=16, K=8, N=16, count=2),
        dict(name="sm", kind="eltwise", M=0, K=0, N=0, ops=512),
    ]
    base = dict(TINY, rows=64, cols=64, cols_per_adc=8)
    hws = [
        dict(base, glb_kb=kb, n_macros=n, cell=cell)
        for kb in (0.5, 0.625, 1.99, 2, 4, 64)
        for n in (1, 5, 60, 200)
        for cell in ("sram", "rram")
    ]
    ref = [simulate(table, h) for h in hws]
    _compare(simulate_many(table, hws, chunk_size=7), ref)
    _compare(simulate_many([table] * len(hws), hws), ref)


def test_many_distinct_tables_are_padded_per_chunk(monkeypatch):
    from cimnet_bo.hardware.inputs import Networks

    monkeypatch.setattr(Networks, "GLOBAL_ROWS", 10)
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
    assert len(fast) == len(slow) == len(subs)
    assert fast.uniform_bits == slow.uniform_bits == (8.0, 8.0)
    # per-network sums of the hardware-independent terms agree
    assert set(fast.sums) == set(slow.sums)
    for k in fast.sums:
        np.testing.assert_allclose(fast.sums[k], slow.sums[k], rtol=1e-14, err_msg=k)
    hws = space.hardware.sample(len(subs), 12)
    ref = [simulate(layer_table(space, s), h) for s, h in zip(subs, hws)]
    _compare(simulate_many(fast, hws), ref)
    _compare(simulate_many(SubnetConfigs(space, subs), hws, chunk_size=8), ref)
    _compare(simulate_many(slow, hws, chunk_size=5), ref)
    # small buffers and few macros: spills and streaming everywhere
    small = [dict(h, glb_kb=kb, n_macros=max(1, h["n_macros"] // 16)) for h, kb in zip(hws, [1, 4, 16, 64] * 9)]
    ref = [simulate(layer_table(space, s), h) for s, h in zip(subs, small)]
    _compare(simulate_many(fast, small, chunk_size=7), ref)
    # the transformer has no convolution: every row's reuse is 1
    assert all((layer_table(space, s).reuse == 1).all() for s in subs[:3])


def test_batch_from_configs_other_family_and_errors():
    space = get_space("cnn-fmnist")
    cfgs = space.subnet.sample(6, 2)
    cfgs = cfgs + cfgs[:2]
    b, idx = batch_from_configs(space, cfgs)
    assert len(b) == 6 and list(idx[-2:]) == [0, 1]
    hw = space.hardware.baseline
    ref = [simulate(layer_table(space, c), hw) for c in cfgs]
    _compare(simulate_many(b, hw, table_index=idx), ref)
    _compare(simulate_many(SubnetConfigs(space, cfgs), hw, chunk_size=3), ref)
    # many chips, including small buffers where the folded check of the convolutions matters
    hws = space.hardware.sample(len(cfgs), 5)
    hws = [dict(h, glb_kb=kb) for h, kb in zip(hws, [1, 2, 4, 8, 16, 32, 64, 512])]
    ref = [simulate(layer_table(space, c), h) for c, h in zip(cfgs, hws)]
    _compare(simulate_many(b, hws, table_index=idx, chunk_size=3), ref)
    _compare(simulate_many(SubnetConfigs(space, cfgs), hws, chunk_size=5), ref)
    # the CNN's k x k convolutions carry reuse = k*k/stride^2 (> 1 for the depthwise layers)
    t = layer_table(space, space.subnet.extreme("max"))
    static = t.kind == "static"
    assert (t.reuse[static] > 1).any() and (t.reuse[~static] == 1).all()
    vit = get_space("vit-fmnist")
    bad = dict(vit.subnet.extreme("max"), heads_0=7)
    with pytest.raises(ValueError, match="heads_0"):
        vit_batch(vit, [bad])
    with pytest.raises(ValueError, match="family"):
        vit_batch(space, cfgs)


# ============================================================ roofline and CLI
def test_plot_roofline(tmp_path):
    space = get_space("vit-fmnist")
    t = layer_table(space, space.subnet.extreme("max"))
    p = plot_roofline(t, space.hardware.baseline, tmp_path / "roof.png")
    assert p.exists() and p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # a streaming, infeasible RRAM chip plots too
    hw = dict(space.hardware.baseline, cell="rram", n_macros=16)
    p = plot_roofline(t, hw, tmp_path / "roof2.png")
    assert p.exists()


def _cli(*argv):
    return cli_main(["simulate", *argv])


def test_cli_table_and_totals(capsys):
    assert _cli("--space", "vit-fmnist", "--subnet", "min", "--hardware", "baseline") == 0
    out = capsys.readouterr().out
    assert "l0.qkv" in out and "latency" in out and "energy" in out and "area" in out


def test_cli_reports_power_and_feasibility(capsys):
    # v2's new outputs: peak power (and the page asks for average power too) and feasibility
    assert _cli("--space", "vit-fmnist", "--subnet", "max", "--hardware", '{"cell": "rram", "n_macros": 16}') == 0
    out = capsys.readouterr().out
    assert "power" in out and "feasib" in out


def test_cli_json_plot_and_overrides(capsys, tmp_path):
    space = get_space("vit-fmnist")
    sub = json.dumps(space.subnet.extreme("min"))
    png = tmp_path / "r.png"
    hw = '{"cell": "rram", "bits_per_cell": 2, "glb_width": 8}'
    assert _cli("--space", "vit-fmnist", "--subnet", sub, "--hardware", hw, "--json", "--plot", str(png)) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["hardware"]["cell"] == "rram" and d["hardware"]["glb_width"] == 8
    assert len(d["layers"]) > 10 and png.exists()
    ref = simulate(
        layer_table(space, space.subnet.extreme("min")),
        dict(space.hardware.baseline, cell="rram", bits_per_cell=2, glb_width=8),
    )
    assert close(d["latency_s"], ref.latency_s)
    assert close(d["power_w"], ref.power_w) and d["feasible"] == bool(ref.feasible)
    assert _cli("--space", "vit-fmnist", "--hardware", '{"rows_active": 999}') == 2
    assert "rows_active" in capsys.readouterr().err
    assert _cli("--space", "vit-fmnist", "--hardware", '{"glb_bw_gbps": 32}') == 2
    assert "glb_bw_gbps" in capsys.readouterr().err
    assert _cli("--space", "vit-fmnist", "--subnet", "{not json") == 2


def test_cli_tech_override(capsys, tmp_path):
    path = tmp_path / "tech.yaml"
    path.write_text("e_dram: 3.9\n")
    assert _cli("--space", "vit-fmnist", "--subnet", "min", "--tech", str(path), "--json") == 0
    d = json.loads(capsys.readouterr().out)
    space = get_space("vit-fmnist")
    ref = simulate(
        layer_table(space, space.subnet.extreme("min")), space.hardware.baseline, Technology().replace(e_dram=3.9)
    )
    assert close(d["energy_j"], ref.energy_j)
