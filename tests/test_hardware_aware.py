"""Hardware-aware joint search: accuracy computed on the chip, the ADC resolution a knob that the
roofline charges for, and qNEHVI placing each design (a subnet with the knobs accuracy depends
on) on its best chip among those with the design's knobs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import search_helpers as H
from cimnet_bo.evaluate import AccuracyEvaluator, CallableEvaluator, ChipAccuracy, RooflineEvaluator, supernet_accuracy
from cimnet_bo.hardware import best_hardware
from cimnet_bo.hardware.config import ACCURACY_KNOBS
from cimnet_bo.search import Problem, run_search
from cimnet_bo.search.best_chips import BestChips, design_knobs, unsupported
from cimnet_bo.search.toy import SyntheticAccuracy
from cimnet_bo.space import Choice, JointSpace, Space, accuracy_on_chip, get_space

SPACE = "vit-fmnist-hwa"
_SYN = SyntheticAccuracy(SPACE)


def chip_synthetic_accuracy(config: dict) -> float:
    """A stand-in accuracy on the chip: the subnet's synthetic accuracy when the ADC has at most
    one bit fewer than lossless, chance (0.1) below (the shape measured on the shipped ViT)."""
    full_scale = (2 ** config["dac_bits"] - 1) * (2 ** config.get("bits_per_cell", 1) - 1) * config["rows"]
    lossless = int(np.ceil(np.log2(full_scale + 1)))
    return float(_SYN(config)) if config["adc_bits"] >= lossless - 1 else 0.1


@pytest.fixture(scope="module")
def problem():
    ev = CallableEvaluator(chip_synthetic_accuracy, [("accuracy", "max")], space=SPACE, chip_knobs=ACCURACY_KNOBS)
    return Problem.from_space(SPACE, accuracy=ev)


def _budgets(problem):
    return {c.name: c.bound for c in problem.constraints if c.name in ("area_mm2", "power_w")}


# ============================================================================ the space
def test_the_hardware_aware_space_makes_adc_bits_a_knob_that_the_roofline_charges():
    space = get_space(SPACE)
    assert accuracy_on_chip(space) and not accuracy_on_chip(get_space("vit-fmnist"))
    assert "adc_bits" in space.hardware.names and "adc_bits" not in get_space("vit-fmnist").hardware.names
    assert space.hardware.baseline["adc_bits"] == 6  # one bit below lossless for 64 rows
    # the other knobs and the baseline are cim-edge's
    edge = get_space("vit-fmnist").hardware
    assert {k: v for k, v in space.hardware.baseline.items() if k != "adc_bits"} == edge.baseline
    base = {**space.subnet.extreme("max"), **space.hardware.baseline}
    res = RooflineEvaluator(space).evaluate([{**base, "adc_bits": b} for b in (3, 4, 5, 6, 7, 8)])
    lat, area, energy = (res.column(k) for k in ("latency_s", "area_mm2", "energy_j"))
    assert np.all(np.diff(lat) > 0) and np.all(np.diff(area) > 0)  # every ADC bit costs time and area
    assert np.all(np.diff(energy[1:]) > 0)  # and energy from 4 bits up
    assert lat[-1] / lat[1] > 1.5 and area[-1] / area[1] > 3  # 8 bits against the 4 of NeuroSim's rule


def test_supernet_accuracy_on_a_hardware_aware_space_is_computed_on_the_chip():
    plain = supernet_accuracy("vit-fmnist")
    assert type(plain) is AccuracyEvaluator and plain.subnet_only
    chip = supernet_accuracy(SPACE, indices=range(200))
    assert isinstance(chip, ChipAccuracy) and not chip.subnet_only and chip.chip_knobs == ACCURACY_KNOBS
    assert chip.identity.startswith(AccuracyEvaluator(SPACE, indices=range(200)).identity + "|analog-v1:fast:centred:")
    p = Problem.from_space(SPACE, checkpoint=None)  # the default accuracy: the supernet, on the chip
    assert p.chip_knobs("accuracy") == ("rows", "dac_bits", "cell", "bits_per_cell", "adc_bits")
    assert design_knobs(p) == p.chip_knobs("accuracy")
    space = get_space(SPACE)
    sub = space.subnet.extreme("min")
    base = {**sub, **space.hardware.baseline}
    res = chip.evaluate([base, {**base, "adc_bits": 3}, {**base, "n_macros": 512, "clock_mhz": 1000}])
    acc = res.column("accuracy")
    assert acc[0] > 0.8 and acc[1] < 0.3  # 6 bits keep the subnet's accuracy, 3 bits lose it
    assert acc[2] == acc[0]  # macros and clock change time, not what is computed
    with pytest.raises(ValueError, match="joint"):
        ChipAccuracy(space.subnet)
    with pytest.raises(ValueError, match="mode 'slow'"):
        ChipAccuracy(SPACE, mode="slow")


# ============================================================================ designs
def test_design_knobs_are_the_declared_chip_knobs_and_refusals_name_the_reason(problem):
    assert problem.chip_knobs("accuracy") == ("rows", "dac_bits", "cell", "bits_per_cell", "adc_bits")
    assert problem.chip_knobs("latency_s") is None
    assert design_knobs(Problem.from_space("vit-fmnist", accuracy=_SYN)) == ()  # a subnet is a design

    def on(knobs):
        ev = CallableEvaluator(chip_synthetic_accuracy, [("accuracy", "max")], space=SPACE, chip_knobs=knobs)
        return Problem.from_space(SPACE, accuracy=ev)

    assert "resource knobs ['n_macros']" in unsupported(on(["adc_bits", "n_macros"]))
    assert "'cell', on which it depends" in unsupported(on(["bits_per_cell"]))
    assert "depends on the hardware" in unsupported(
        Problem.from_space(SPACE, accuracy=CallableEvaluator(chip_synthetic_accuracy, [("accuracy", "max")]))
    )
    with pytest.raises(ValueError, match="not both"):
        CallableEvaluator(chip_synthetic_accuracy, ["accuracy"], subnet_only=True, chip_knobs=["adc_bits"])
    with pytest.raises(ValueError, match="sequence of knob names"):
        CallableEvaluator(chip_synthetic_accuracy, ["accuracy"], chip_knobs="adc_bits")
    with pytest.raises(ValueError, match=r"unknown hardware knobs \['adc_bit'\]"):
        CallableEvaluator(chip_synthetic_accuracy, ["accuracy"], chip_knobs=["adc_bit"])


def _narrowed(space: JointSpace, design_config: dict, knobs) -> JointSpace:
    """The joint space whose fixed knobs take only the design's values (independent of
    :class:`BestChips`: its exact best chip is :func:`best_hardware`'s)."""
    hw = space.hardware
    choices = [Choice(c.name, (design_config[c.name],)) if c.name in knobs else c for c in hw.choices]
    choices = [c if c.name != "bits_per_cell" else Choice(c.name, c.values) for c in choices]
    narrow = Space(hw.name + "-narrow", choices, family="cim", meta=hw.meta, version=hw.version)
    return JointSpace(space.subnet, narrow, name=space.name)


def test_each_design_is_placed_on_the_fastest_chip_that_has_its_knobs(problem):
    bc = BestChips(problem)
    space, knobs = problem.space, bc.fixed
    designs = bc.design_space.sample_indices(6, np.random.default_rng(5))
    hw, ok = bc.exact(designs)
    assert ok.all()
    joint = space.from_indices(bc.join(designs, hw))
    b = _budgets(problem)
    for design, cfg in zip(bc.design_space.from_indices(designs), joint):
        assert {k: cfg[k] for k in design} == design  # the design is kept, only free knobs move
        want = best_hardware(_narrowed(space, cfg, knobs), [design], b["area_mm2"], b["power_w"])[0]
        got = RooflineEvaluator(space).evaluate([cfg])
        assert got.column("latency_s")[0] == pytest.approx(want["latency_s"].iloc[0], rel=1e-12)
        assert got.column("area_mm2")[0] <= b["area_mm2"] and got.column("power_w")[0] <= b["power_w"]
    # the library chips, moved to a design's knobs, bound its exact best chip from above
    lib = np.vstack([hw, bc.baseline_chip])
    near, ok_n = bc.nearest(designs, lib)
    lat_near = RooflineEvaluator(space).evaluate(space.from_indices(bc.join(designs[ok_n], near[ok_n])))
    lat_exact = RooflineEvaluator(space).evaluate(space.from_indices(bc.join(designs[ok_n], hw[ok_n])))
    assert np.all(lat_exact.column("latency_s") <= lat_near.column("latency_s") * (1 + 1e-12))
    area = RooflineEvaluator(space).evaluate(space.from_indices(bc.join(designs[ok_n], near[ok_n])))
    assert np.all(area.column("area_mm2") <= b["area_mm2"]) and np.all(area.column("power_w") <= b["power_w"])


def test_a_hardware_aware_search_proposes_designs_on_their_best_chips_and_resumes(tmp_path, problem):
    opts = {**H.FAST_QNEHVI, "hardware": "best"}
    kw = dict(batch_size=4, seed=3, n_init=8, strategy_options=opts, progress=False)
    with run_search(problem, "qnehvi", budget=16, run_dir=tmp_path / "a", **kw) as a:
        rows = a.rows()
        assert "best_chips" in a.strategy.last_info["seconds"]  # best-chip mode on a chip-dependent accuracy
    with run_search(problem, "qnehvi", budget=12, run_dir=tmp_path / "b", **kw):
        pass
    with run_search(problem, "qnehvi", budget=16, run_dir=tmp_path / "b", **kw) as b:
        assert [r["config"] for r in b.rows()] == [r["config"] for r in rows]
    bc = BestChips(problem)
    configs = [r["config"] for r in rows]
    designs = bc.designs(problem.space.to_indices(configs))
    assert len(np.unique(designs, axis=0)) == len(designs)  # the budget goes to distinct designs
    assert len({c["adc_bits"] for c in configs}) > 1  # the ADC resolution is searched, not fixed
    hw, ok = bc.exact(designs)
    assert ok.all()
    placed = problem.space.from_indices(bc.join(designs, hw))
    assert configs == placed  # every proposal is its design on its exact best chip


def test_a_design_whose_knobs_break_every_library_chip_still_gets_a_chip(problem):
    """Library chips sit at the budgets with their own knobs: moved to a costlier ADC, arrays and
    cells they break a budget, and the design falls back to its group's exact chip."""
    bc = BestChips(problem)
    space, d = bc.design_space, bc.d_sub
    subs = space.sample_indices(6, np.random.default_rng(8))

    def with_knobs(**knobs):
        rows = subs.copy()
        for knob, value in knobs.items():
            j = space.names.index(knob)
            rows[:, j] = space.choices[j].values.index(value)
        return space.canonicalize_indices(rows)

    cheap = with_knobs(rows=64, dac_bits=1, cell="sram", adc_bits=3)
    costly = with_knobs(rows=256, dac_bits=2, cell="rram", bits_per_cell=2, adc_bits=8)
    lib, ok_lib = bc.exact(cheap)
    assert ok_lib.all()
    b = _budgets(problem)
    moved = RooflineEvaluator(problem.space).evaluate(problem.space.from_indices(bc.join(costly, lib)))
    breaks = (moved.column("area_mm2") > b["area_mm2"]) | (moved.column("power_w") > b["power_w"])
    assert breaks.sum() >= 2
    lib = lib[breaks]  # a library none of whose chips fits the costly designs' knobs
    hw, ok = bc.nearest(costly, lib)
    assert ok.all()
    got = RooflineEvaluator(problem.space).evaluate(problem.space.from_indices(bc.join(costly, hw)))
    assert np.all(got.column("area_mm2") <= b["area_mm2"]) and np.all(got.column("power_w") <= b["power_w"])
    exact, _ = bc.exact(costly)
    best = RooflineEvaluator(problem.space).evaluate(problem.space.from_indices(bc.join(costly, exact)))
    assert np.all(best.column("latency_s") <= got.column("latency_s") * (1 + 1e-12))
    assert costly[:, d:].tolist() == [costly[0, d:].tolist()] * len(costly)  # one knob group


def test_a_table_of_a_hardware_aware_space_models_accuracy_on_the_chip(tmp_path):
    import pandas as pd

    from cimnet_bo.search import table_problem

    space = get_space(SPACE)
    configs = space.sample(24, 1)
    res = RooflineEvaluator(space).evaluate(configs)
    frame = pd.DataFrame(configs)
    for name in ("latency_s", "energy_j", "area_mm2", "power_w", "feasible"):
        frame[name] = res.column(name)
    frame["accuracy"] = [chip_synthetic_accuracy(c) for c in configs]
    frame.to_parquet(tmp_path / "hwa.parquet")
    p = table_problem(SPACE, tmp_path / "hwa.parquet")
    assert not p.subnet_only("accuracy")
    assert p.chip_knobs("accuracy") == ("rows", "dac_bits", "cell", "bits_per_cell", "adc_bits")
    plain = table_problem("vit-fmnist", Path(__file__).parents[1] / "data" / "labels" / "vit_fmnist.parquet")
    assert plain.subnet_only("accuracy") and plain.chip_knobs("accuracy") == ()


# ============================================================================ a validation subset
def test_accuracy_on_the_first_images_of_the_split_is_recorded_and_rebuilt():
    from cimnet_bo.search import problem_from_spec

    p = Problem.from_space(SPACE, images=50)
    assert p.spec["images"] == 50 and "[" in p.evaluator.identity and ":50]" in p.evaluator.identity
    assert problem_from_spec(p.spec).evaluator.identity == p.evaluator.identity  # a resumed run's
    assert Problem.from_space(SPACE).evaluator.identity != p.evaluator.identity  # all 10,000 images
    space = get_space(SPACE)
    acc = p.evaluator.evaluate([{**space.subnet.extreme("min"), **space.hardware.baseline}]).column("accuracy")[0]
    assert 0.5 < acc and acc * 50 == pytest.approx(round(acc * 50), abs=1e-9)  # a count of 50 images


def test_search_command_takes_the_number_of_images_and_the_run_keeps_it(tmp_path):
    import yaml

    from cimnet_bo.cli import main as cli_main

    run = tmp_path / "r"
    args = ["search", "--space", "vit-fmnist", "--images", "30", "--strategy", "random", "--run", str(run)]
    assert cli_main([*args, "--budget", "2", "--batch-size", "2", "--n-init", "2", "--quiet"]) == 0
    assert yaml.safe_load((run / "config.yaml").read_text())["problem"]["images"] == 30
    assert cli_main(["search", "--run", str(run), "--budget", "3", "--quiet"]) == 0  # resumes with it
    problem = Problem.from_space("vit-fmnist", images=30)
    with run_search(problem, "random", budget=3, batch_size=2, n_init=2, run_dir=run, progress=False) as r:
        acc = [row["objectives"]["accuracy"] for row in r.rows()]
    assert len(acc) == 3 and all(a * 30 == pytest.approx(round(a * 30), abs=1e-9) for a in acc)
