"""The per-subnet hardware optimiser: exact against brute force on a small hardware space,
maximal chips, budgets, errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from cimnet_bo.hardware import optimise, simulate, simulate_many
from cimnet_bo.hardware.optimise import RESOURCES, best_hardware, candidate_chips, chip_area_power, simulate_grid
from cimnet_bo.hardware.technology import space_technology
from cimnet_bo.space import JointSpace, get_space
from cimnet_bo.space.catalog import cim_space
from cimnet_bo.workload import layer_table

RANGES = dict(
    rows=(64, 128),
    cols=(64, 128),
    n_macros=(64, 256, 1024),
    cols_per_adc=(1, 8),
    dac_bits=(1, 2),
    cell=("sram", "rram"),
    bits_per_cell=(1, 2),
    glb_kb=(32, 128),
    dram_bw_gbps=(1, 8),
    glb_width=(16, 64),
    clock_mhz=(400, 1400),
    digital_macs=(16, 64),
)
BASE = dict(
    rows=64,
    cols=64,
    n_macros=256,
    cols_per_adc=8,
    dac_bits=1,
    cell="sram",
    bits_per_cell=1,
    glb_kb=128,
    dram_bw_gbps=1,
    glb_width=16,
    clock_mhz=400,
    digital_macs=16,
)


@pytest.fixture(scope="module")
def small():
    vit = get_space("vit-fmnist")
    return JointSpace(vit.subnet, cim_space("cim-small", RANGES, BASE, tech={"e_dram": 8.0}), name="vit-fmnist")


def _all_chips(hw):
    """Every configuration of the hardware space, by brute force (bits_per_cell only on RRAM)."""
    names = [n for n in RANGES if n != "bits_per_cell"]
    out = []
    for values in itertools.product(*(RANGES[n] for n in names)):
        c = dict(zip(names, values))
        for bpc in RANGES["bits_per_cell"] if c["cell"] == "rram" else (1,):
            out.append({**c, "bits_per_cell": bpc})
    return out


def _brute(space, sub, area_max, power_max):
    chips = _all_chips(space.hardware)
    r = simulate_many(layer_table(space.subnet, sub), chips, as_frame=False)
    ok = r["feasible"] & (r["area_mm2"] <= area_max) & (r["power_w"] <= power_max)
    return chips, r, ok


@pytest.mark.parametrize("which", ["max", "min"])
def test_latency_optimum_is_exact(small, which):
    sub = small.subnet.extreme(which)
    base = simulate(layer_table(small.subnet, sub), BASE)
    area, power = base.area_mm2, base.power_w
    chips, r, ok = _brute(small, sub, area, power)
    assert ok.sum() > 10 and not ok.all()  # the budgets bind
    best = best_hardware(small, [sub], area, power)[0]
    assert len(best) == 1
    assert best["latency_s"].iloc[0] == pytest.approx(r["latency_s"][ok].min(), rel=1e-12)
    assert best["area_mm2"].iloc[0] <= area and best["power_w"].iloc[0] <= power
    # the chip it names gives that latency
    chip = {k: best[k].iloc[0] for k in RANGES}
    again = simulate(
        layer_table(small.subnet, sub), {k: (v.item() if hasattr(v, "item") else v) for k, v in chip.items()}
    )
    assert again.latency_s == pytest.approx(best["latency_s"].iloc[0], rel=1e-12) and again.feasible


def test_latency_energy_front_is_exact(small):
    sub = small.subnet.extreme("max")
    base = simulate(layer_table(small.subnet, sub), BASE)
    chips, r, ok = _brute(small, sub, base.area_mm2, base.power_w)
    Y = np.column_stack([r["latency_s"][ok], r["energy_j"][ok]])
    dominated = np.array([np.any(np.all(Y <= y, axis=1) & np.any(Y < y, axis=1)) for y in Y])
    want = np.unique(Y[~dominated], axis=0)
    front = best_hardware(small, [sub], base.area_mm2, base.power_w, objectives=("latency_s", "energy_j"))[0]
    got = np.unique(front[["latency_s", "energy_j"]].to_numpy(), axis=0)
    assert got.shape == want.shape  # same front, up to the last bits of float64 sums
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert front["latency_s"].is_monotonic_increasing and front["energy_j"].is_monotonic_decreasing


def test_maximal_chips_cannot_grow(small):
    base = simulate(layer_table(small.subnet, small.subnet.extreme("max")), BASE)
    cs = candidate_chips(small, base.area_mm2, base.power_w)
    everything = candidate_chips(small, base.area_mm2, base.power_w, maximal=False)
    assert cs.maximal and not everything.maximal
    assert cs.total == everything.total == len(_all_chips(small.hardware))
    assert 0 < len(cs) < len(everything)
    one = [dict(kind="static", M=1, K=8, N=8)]  # area and power do not depend on the network
    for rec in cs.records(range(0, len(cs), max(1, len(cs) // 40))):
        r = simulate(one, rec)
        assert r.area_mm2 <= base.area_mm2 and r.power_w <= base.power_w
        for knob in RESOURCES:
            values = RANGES[knob]
            i = values.index(rec[knob])
            if i + 1 < len(values):
                up = simulate(one, dict(rec, **{knob: values[i + 1]}))
                assert up.area_mm2 > base.area_mm2 or up.power_w > base.power_w, (rec, knob)


def test_no_budget_and_errors(small):
    sub = small.subnet.extreme("min")
    chips = _all_chips(small.hardware)
    r = simulate_many(layer_table(small.subnet, sub), chips, as_frame=False)
    best = best_hardware(small, [sub])[0]  # no budget: the fastest feasible chip of the space
    assert best["latency_s"].iloc[0] == pytest.approx(r["latency_s"][r["feasible"]].min(), rel=1e-12)
    with pytest.raises(ValueError, match="objectives must be"):
        best_hardware(small, [sub], objectives=("accuracy",))
    with pytest.raises(ValueError, match="maximal=False"):
        best_hardware(small, [sub], objectives=("latency_s", "energy_j"), chips=candidate_chips(small))
    with pytest.raises(ValueError, match="no chip of space 'cim-small'"):
        candidate_chips(small, area_max=1e-6)


def test_candidate_area_power_match_each_chip(small):
    # every chip of the space (operating points with and without bits_per_cell), its area and
    # power computed again chip by chip from its full knob arrays
    every = candidate_chips(small, maximal=False)
    assert len(every) == every.total == len(_all_chips(small.hardware))
    area, power = chip_area_power(every.configs, space_technology(small))
    np.testing.assert_array_equal(every.area_mm2, area)
    np.testing.assert_array_equal(every.power_w, power)


def test_chips_validated_once_serve_several_networks_as_knob_arrays_do(small):
    from cimnet_bo.hardware.inputs import Chips

    chips = candidate_chips(small, maximal=False)
    hw = Chips(chips.configs)
    for sub in (small.subnet.extreme("max"), small.subnet.extreme("min")):
        table = layer_table(small.subnet, sub)
        got = simulate_many(table, hw, as_frame=False)
        want = simulate_many(table, chips.configs, as_frame=False)
        for k, v in want.items():
            np.testing.assert_array_equal(got[k], v, err_msg=k)
    with pytest.raises(ValueError, match="clock_mhz"):
        simulate_many(table, Chips({**chips.configs, "clock_mhz": np.full(len(chips), -5.0)}))


@pytest.mark.parametrize("broadcast_from", [1, 10**9])  # per network / all pairs in one call
def test_simulate_grid_matches_pairs(small, monkeypatch, broadcast_from):
    monkeypatch.setattr(optimise, "BROADCAST_CHIPS", broadcast_from)
    chips = candidate_chips(small, maximal=False)
    subs = [small.subnet.extreme("max"), small.subnet.extreme("min"), small.subnet.extreme("max")]
    r = simulate_grid(small, subs, chips.configs, outputs=("latency_s", "energy_j", "feasible"))
    assert r["latency_s"].shape == (3, len(chips))
    for i, sub in enumerate(subs):
        want = simulate_many(layer_table(small.subnet, sub), chips.configs, as_frame=False)
        np.testing.assert_allclose(r["latency_s"][i], want["latency_s"], rtol=1e-12)
        np.testing.assert_allclose(r["energy_j"][i], want["energy_j"], rtol=1e-12)
        np.testing.assert_array_equal(r["feasible"][i], want["feasible"])
    assert not np.allclose(r["latency_s"][0], r["latency_s"][1])


def _fastest_over_every_chip(space, subs, chips):
    """Index of each subnet's fastest feasible chip over the whole grid (first among equals;
    -1 when none is feasible), and its latency."""
    r = simulate_grid(space, subs, chips.configs, outputs=("latency_s", "feasible"))
    lat = np.where(r["feasible"], r["latency_s"], np.inf)
    best = np.argmin(lat, axis=1)
    found = np.isfinite(lat[np.arange(len(subs)), best])
    return np.where(found, best, -1), lat.min(1)


@pytest.mark.parametrize("first_chips", [16, 1])
@pytest.mark.parametrize(
    "name, area_max, power_max", [("vit-fmnist", 40.0, 3.0), ("vit-fmnist", None, None), ("cnn-fmnist", 150.0, 10.0)]
)
def test_fastest_chips_prune_the_grid_and_equal_every_chip(monkeypatch, name, area_max, power_max, first_chips):
    from cimnet_bo.hardware import many

    space = get_space(name)
    subs = space.subnet.from_indices(space.subnet.sample_indices(40, np.random.default_rng(3)))
    subs += subs[:2]  # repeated networks
    chips = candidate_chips(space, area_max, power_max, maximal=True)
    want, fastest = _fastest_over_every_chip(space, subs, chips)
    simulated = []
    real = many.simulate_many

    def counted(tables, hws, *args, **kwargs):
        out = real(tables, hws, *args, **kwargs)
        simulated.append(len(out["latency_s"]))
        return out

    monkeypatch.setattr(many, "simulate_many", counted)
    monkeypatch.setattr(optimise, "FIRST_CHIPS", first_chips)
    got = optimise.best_chip_indices(space, subs, chips)
    assert [int(idx[0]) if idx.size else -1 for idx, _ in got] == want.tolist()
    for (idx, values), lat in zip(got, fastest):
        np.testing.assert_allclose(values["latency_s"], [lat], rtol=1e-12)
        assert set(values) == {"latency_s", "energy_j", "area_mm2", "power_w"}
    # the bounds leave out most (network x chip) pairs: all but a few percent with budgets
    # (thousands of chips) and 16 first chips (measured 2.7 % on both spaces)
    limit = 0.1 if area_max is not None and first_chips > 1 else 0.35
    assert sum(simulated) < limit * len(subs) * len(chips)


def test_fastest_chips_when_no_chip_is_feasible():
    # an RRAM-only space whose macros cannot hold the network: every chip streams, so none is
    # feasible and the first chips do not prune; the answer is empty, as over every chip
    tiny_rram = dict(RANGES, n_macros=(1, 2), cell=("rram",), bits_per_cell=(1,))
    base = dict(BASE, cell="rram", n_macros=1)
    space = JointSpace(get_space("vit-fmnist").subnet, cim_space("rram-tiny", tiny_rram, base))
    subs = [space.subnet.extreme("max"), space.subnet.extreme("min")]
    chips = candidate_chips(space, maximal=True)
    want, _ = _fastest_over_every_chip(space, subs, chips)
    assert want.tolist() == [-1, -1]
    got = optimise.best_chip_indices(space, subs, chips)
    assert all(idx.size == 0 and values["latency_s"].size == 0 for idx, values in got)


def test_chips_subsets_reuse_the_validated_knobs(small):
    from cimnet_bo.hardware.inputs import Chips

    chips = candidate_chips(small, maximal=False)
    hw = Chips(chips.configs)
    idx = np.array([5, 0, 5, len(chips) - 1, 3])
    table = layer_table(small.subnet, small.subnet.extreme("max"))
    got = simulate_many(table, hw.take(idx), as_frame=False)
    want = simulate_many(table, {k: v[idx] for k, v in chips.configs.items()}, as_frame=False)
    for k, v in want.items():
        np.testing.assert_array_equal(got[k], v, err_msg=k)
    assert hw.take(np.array([], dtype=np.int64)).n == 0
    with pytest.raises(ValueError, match="single configuration"):
        Chips(BASE).take(idx)
