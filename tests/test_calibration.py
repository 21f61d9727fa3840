"""The calibration script (``benchmarks/calibration.py``) against the model page's *Calibration
checks*: broad bands and structural facts only, no numbers copied from a run of the code."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import calibration as cal
from cimnet_bo.hardware import HardwareConfig, Technology, simulate
from cimnet_bo.hardware.model import t_s_seconds
from cimnet_bo.workload.models import vgg8_cifar

BAND = (0.2, 5.0)  # a ratio model / published outside this band means the model is off by > 5x


@pytest.fixture(scope="module")
def results():
    return cal.run_checks(Technology())


def in_band(r, band=BAND):
    return band[0] <= r <= band[1]


def by_metric(res):
    return {r["metric"]: r for r in res["rows"]}


def test_every_page_row_is_reported(results):
    rows = cal.calibration_rows(results)
    checks = {r["check"] for r in rows}
    assert len(checks) == 4  # the four references of the page's table
    for r in rows:
        assert math.isfinite(r["model"]) and r["model"] > 0 and r["published"] > 0
        assert math.isclose(r["ratio"], r["model"] / r["published"])
        assert r["drivers"].strip()


def test_vgg8_configuration_and_bands(results):
    v = results["vgg8"]
    hw = v["hardware"]
    tech = Technology()
    # the page's chip: 6,344 arrays of 128x128 RRAM, resident with 8x replication
    assert v["arrays_needed"] == cal.PUBLISHED["vgg8"]["arrays"]
    assert v["resident"] and v["replication"] == 8
    assert hw["rows"] == hw["cols"] == 128 and hw["cell"] == "rram"
    # the page's v2 reference buffer: 64 MB with a 512 B/cycle port, clock within f_max
    assert hw["glb_kb"] * 1024 == 64 * 2**20 and hw["glb_width"] == 512
    assert hw["clock_mhz"] <= tech.f_max_mhz
    m = by_metric(v)
    assert in_band(m["latency"]["ratio"]) and in_band(m["TOPS"]["ratio"])
    assert in_band(m["TOPS/W"]["ratio"])
    # TOPS = 2 MACs / latency and TOPS/W = 2 MACs / energy, MACs counted from the layer table
    t = vgg8_cifar()
    kind = np.asarray(t.kind).astype(str)
    macs = float(np.sum(np.where(kind == "eltwise", 0.0, t.M * t.K * t.N * t.count)))
    assert v["tops"] * 1e12 * v["latency_us"] * 1e-6 == pytest.approx(2 * macs, rel=1e-9)
    assert v["tops_per_w"] * 1e12 * v["energy_j"] == pytest.approx(2 * macs, rel=1e-9)
    # the page's own v2 reference figures for this configuration (spec, not a run of this code)
    p = cal.PUBLISHED["vgg8"]
    assert v["latency_us"] == pytest.approx(p["page_v2_latency_us"], rel=0.02)
    assert v["tops"] == pytest.approx(p["page_v2_tops"], rel=0.02)
    assert v["tops_per_w"] == pytest.approx(p["page_v2_tops_per_w"], rel=0.05)


def test_intel_macro(results):
    m = results["intel_c2c"]
    tech = Technology()
    hw = HardwareConfig.from_dict(m["hardware"])
    assert hw.n_macros == 1 and hw.cols // hw.cols_per_adc == 16  # the chip's 16 ADCs
    # macro area: the chip minus its periphery equals the area one more macro adds
    two = simulate(cal.fill_layer(hw), hw.replace(n_macros=2), tech)
    assert m["macro_area_mm2"] == pytest.approx(two.area_mm2 - m["chip_area_mm2"], rel=1e-9)
    assert 0 < m["macro_area_mm2"] < m["chip_area_mm2"]
    # the layer fills the macro: it runs at the macro's peak
    assert m["tops"] == pytest.approx(m["peak_tops"], rel=1e-9)
    rows = by_metric(m)
    assert in_band(rows["macro area"]["ratio"]) and in_band(rows["TOPS/W"]["ratio"])
    # the model digitises every bit column (cols_per_adc = 8 conversions per ADC and cycle)
    # where the C-2C ladder makes one conversion per 8-bit weight: it is slower, not faster
    assert rows["TOPS"]["ratio"] < 1
    assert rows["TOPS/mm^2"]["model"] == pytest.approx(m["tops"] / m["macro_area_mm2"])
    # a lower supply lowers the model's energy per op
    assert m["tops_per_w_at_published_vdd"] > m["tops_per_w"]


def test_reram_macro(results):
    m = results["reram_8mb"]
    tech = Technology()
    hw = HardwareConfig.from_dict(m["hardware"])
    # t_mvm = n_in * n_rg * cols_per_adc * t_s, and it is the compute time of the one MVM
    t_s = float(t_s_seconds(hw.eff_adc_bits, hw.eff_rows_active, hw.dac_bits, tech))
    n_in = math.ceil(8 / hw.dac_bits)
    n_rg = math.ceil(hw.rows / hw.eff_rows_active)
    assert m["t_mvm_ns"] == pytest.approx(n_in * n_rg * hw.cols_per_adc * t_s * 1e9, rel=1e-12)
    assert m["t_comp_ns"] == pytest.approx(m["t_mvm_ns"], rel=1e-12)
    rows = by_metric(m)
    assert in_band(rows["t_mvm"]["ratio"])
    # the gap in energy efficiency is the ADC: it is most of the macro's energy, and more rows
    # per conversion (the 128-row variant) raise TOPS/W
    assert m["adc_energy_share"] > 0.5
    assert rows["TOPS/W"]["ratio"] < 1
    assert m["variants"]["128_rows"]["tops_per_w"] > m["tops_per_w"]


def test_isaac(results):
    v = results["isaac"]
    hw = v["hardware"]
    assert hw["n_macros"] == 168 * 12 * 8 == 16128
    assert hw["rows"] == hw["cols"] == 128 and hw["bits_per_cell"] == 2 and hw["adc_bits"] == 8
    rows = by_metric(v)
    assert in_band(rows["chip area"]["ratio"]) and in_band(rows["peak power"]["ratio"])
    # the breakdowns add up to the model's totals
    assert sum(v["area_parts_mm2"].values()) == pytest.approx(v["area_mm2"], rel=1e-9)
    assert sum(v["power_parts_w"].values()) == pytest.approx(v["power_w"], rel=1e-9)


def test_adc_area_within_2x_of_isaac(results):
    um2 = float(Technology().a_adc_mm2(8)) * 1e6
    assert results["isaac_adc"]["a_adc_8_um2"] == pytest.approx(um2)
    assert 0.5 <= um2 / cal.PUBLISHED["isaac"]["adc8_um2"] <= 2.0


def test_main_writes_json_and_table(tmp_path, capsys):
    out = tmp_path / "calibration.json"
    assert cal.main(["--out", str(out)]) == 0
    table = capsys.readouterr().out
    data = json.loads(out.read_text())
    assert table.startswith("| reference | metric | published | model | model/published |")
    assert len(data["rows"]) == len(table.strip().splitlines()) - 2
    assert data["model_version"] and set(data["checks"]) == set(cal.CHECKS)
