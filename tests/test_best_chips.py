"""Joint search over subnets on their best chips (``QNEHVI(hardware="best")``): every proposal
is a subnet on its exact best chip, the mode is refused where it cannot hold, the general
path stays, and a tiny experiment's joint search never loses to its two sub-searches."""

from __future__ import annotations

import numpy as np
import pytest

import search_helpers as H
from cimnet_bo.analysis import run_experiment
from cimnet_bo.analysis.runs import load_run
from cimnet_bo.hardware import best_hardware
from cimnet_bo.search import Problem, ProblemError, make_strategy, run_search
from cimnet_bo.search.best_chips import CACHE_FILE, BestChips, cache_key, unsupported
from cimnet_bo.search.state import unique_rows
from cimnet_bo.search.toy import SyntheticAccuracy

SYNTHETIC = "cimnet_bo.search.toy:synthetic_accuracy"


@pytest.fixture(scope="module")
def joint():
    return Problem.from_space("vit-fmnist", accuracy=SyntheticAccuracy("vit-fmnist"))


def _budgets(problem):
    return {c.name: c.bound for c in problem.constraints if c.name in ("area_mm2", "power_w")}


def test_every_proposal_is_a_subnet_on_its_exact_best_chip(tmp_path, joint):
    base = joint.space.baseline
    with run_search(
        joint,
        "qnehvi",
        budget=20,
        batch_size=4,
        seed=1,
        run_dir=tmp_path / "r",
        n_init=8,
        strategy_options={**H.FAST_QNEHVI, "hardware": "best"},
        initial=[base],
    ) as run:
        rows = run.rows()
    assert len(rows) == 20
    assert rows[0]["config"] == joint.space.validate(base)  # the given design, as given
    rest = rows[1:]
    subs = [joint.space.split(r["config"])[0] for r in rest]
    assert len({tuple(sorted(s.items())) for s in subs}) == len(subs)  # budget spent on distinct subnets
    b = _budgets(joint)
    best = best_hardware(joint.space, subs, b["area_mm2"], b["power_w"])
    for r, front in zip(rest, best):
        assert r["objectives"]["latency_s"] == pytest.approx(front["latency_s"].iloc[0], rel=1e-12)
        assert r["objectives"]["area_mm2"] <= b["area_mm2"] and r["objectives"]["power_w"] <= b["power_w"]
    # the given design's subnet comes back on its best chip, first of the random design
    assert subs[0] == joint.space.split(base)[0]
    assert rest[0]["objectives"]["latency_s"] < rows[0]["objectives"]["latency_s"]


def test_rounds_refine_the_shortlist_and_resume_identically(tmp_path, joint):
    opts = {**H.FAST_QNEHVI, "hardware": "best"}
    with run_search(
        joint, "qnehvi", budget=16, batch_size=4, seed=2, run_dir=tmp_path / "a", n_init=8, strategy_options=opts
    ) as a:
        first = [r["config"] for r in a.rows()]
        assert a.strategy.last_info["pool"]  # a modelled round ran
        # its time, with the roofline, the chips and the screen apart from the phases
        assert set(a.strategy.last_info["seconds"]) == {
            "predictors",
            "pool",
            "surrogate",
            "acquisition",
            "roofline",
            "best_chips",
            "screen",
        }
    with run_search(
        joint, "qnehvi", budget=12, batch_size=4, seed=2, run_dir=tmp_path / "b", n_init=8, strategy_options=opts
    ):
        pass
    with run_search(
        joint, "qnehvi", budget=16, batch_size=4, seed=2, run_dir=tmp_path / "b", n_init=8, strategy_options=opts
    ) as b:  # resumed in a new process state, its exact best chips read from the run directory
        assert [r["config"] for r in b.rows()] == first
    assert (tmp_path / "b" / CACHE_FILE).is_file()


def test_library_and_nearest_chip_bound_the_exact_one(joint):
    """The library chip of a subnet is never faster than its exact best chip."""
    from cimnet_bo.search.state import Caches, SearchState

    state = SearchState.from_rows(joint, [], [], Caches.for_problem(joint))
    bc = BestChips(joint)
    lib = bc.library(state)
    assert len(lib) == 1  # the baseline chip alone before anything is evaluated
    sub = joint.space.subnet.sample_indices(12, 0)
    near, ok_n = bc.nearest(sub, lib)
    exact, ok_e = bc.exact(sub)
    assert ok_n.all() and ok_e.all()
    lat_near, _ = state.caches.cheap.get(bc.join(sub, near))
    lat_exact, _ = state.caches.cheap.get(bc.join(sub, exact))
    col = joint.cheap_outputs.index("latency_s")
    assert np.all(lat_exact[:, col] <= lat_near[:, col]) and np.any(lat_exact[:, col] < lat_near[:, col])


def test_nearest_chips_are_kept_per_design_and_equal_a_new_placement(joint, monkeypatch):
    """A later call, with the library in another order and the designs in another batch, places
    every design as a new BestChips does, and runs the roofline for the new designs only."""
    import cimnet_bo.hardware.optimise as optimise

    bc = BestChips(joint)
    lib = np.unique(bc.exact(joint.space.subnet.sample_indices(40, 5))[0], axis=0)
    assert len(lib) > 2
    designs = unique_rows(joint.space.subnet.sample_indices(300, 6))
    n = len(designs)
    order = np.random.default_rng(7).permutation(n)
    want, ok_want = BestChips(joint).nearest(designs[order], np.roll(lib, 1, axis=0))
    bc.nearest(designs[:200], lib)
    simulated = []
    grid = optimise.simulate_grid

    def counted(space, subnets, *args, **kwargs):
        simulated.append(len(subnets))
        return grid(space, subnets, *args, **kwargs)

    monkeypatch.setattr(optimise, "simulate_grid", counted)
    hw, ok = bc.nearest(designs[order], np.roll(lib, 1, axis=0))
    assert sum(simulated) == n - 200
    assert ok.all()
    np.testing.assert_array_equal(ok, ok_want)
    np.testing.assert_array_equal(hw, want)
    assert len(np.unique(hw, axis=0)) > 1
    hw_same, _ = bc.nearest(designs, np.vstack([lib, lib[:1]]))  # a repeated chip: the same set
    assert sum(simulated) == n - 200
    np.testing.assert_array_equal(hw_same[order], want)
    bc.nearest(designs, lib[1:])  # another set of chips: every design placed on it
    assert sum(simulated) == 2 * n - 200


def _exact_fresh(bc, sub):
    """``bc.exact(sub)`` and whether it placed any subnet (ran the roofline) to get it."""
    before = bc.clock.seconds.get("best_chips", 0.0)
    hw, ok = bc.exact(sub)
    return hw, ok, bc.clock.seconds.get("best_chips", 0.0) > before


def test_best_chips_persist_in_the_run_directory(tmp_path, joint):
    sub = joint.space.subnet.sample_indices(10, 3)
    want, ok_want, _ = _exact_fresh(BestChips(joint), sub)  # no directory: nothing written
    assert ok_want.all() and len(np.unique(want, axis=0)) > 1
    hw, ok, placed = _exact_fresh(BestChips(joint, directory=tmp_path), sub)
    assert placed and (tmp_path / CACHE_FILE).is_file()
    assert not [p for p in tmp_path.iterdir() if p.name != CACHE_FILE]  # no temporary left
    again = BestChips(joint, directory=tmp_path)  # a new process: read from the file
    hw2, ok2, placed2 = _exact_fresh(again, sub)
    assert not placed2
    np.testing.assert_array_equal(hw2, want)
    np.testing.assert_array_equal(ok2, ok_want)
    np.testing.assert_array_equal(hw, want)
    # a subnet not in the file is placed and added to it
    more = np.vstack([sub, joint.space.subnet.sample_indices(2, 4)])
    assert _exact_fresh(again, more)[2]
    assert not _exact_fresh(BestChips(joint, directory=tmp_path), more)[2]


def test_a_stale_best_chip_cache_is_not_used(tmp_path, joint):
    sub = joint.space.subnet.sample_indices(6, 5)
    want, _ = BestChips(joint).exact(sub)
    BestChips(joint, directory=tmp_path).exact(sub)
    path = tmp_path / CACHE_FILE
    with np.load(path) as f:
        saved = {k: f[k] for k in f.files}
    # the same subnets with other chips under another key (another budget, model, ...)
    wrong = (saved["chips"] + 1) % 2
    assert not np.array_equal(wrong, saved["chips"])
    np.savez(path, **{**saved, "chips": wrong, "key": np.array("0" * 64)})
    hw, ok, placed = _exact_fresh(BestChips(joint, directory=tmp_path), sub)
    assert placed and ok.all()
    np.testing.assert_array_equal(hw, want)
    # the key follows every input of a best chip
    bc = BestChips(joint)
    key = cache_key(bc.space, bc.tech, bc.area_max, bc.power_max)
    assert key == bc.key
    assert cache_key(bc.space, bc.tech, bc.area_max * 0.9, bc.power_max) != key
    assert cache_key(bc.space, bc.tech, bc.area_max, None) != key
    other_tech = type(bc.tech)(**{**bc.tech.to_dict(), "e_dram": bc.tech.e_dram * 2})
    assert cache_key(bc.space, other_tech, bc.area_max, bc.power_max) != key
    assert cache_key(Problem.from_space("cnn-fmnist").space, bc.tech, bc.area_max, bc.power_max) != key


def test_a_stale_cache_under_another_model_version_is_not_used(tmp_path, joint, monkeypatch):
    import cimnet_bo.hardware.technology as technology

    key = BestChips(joint).key
    monkeypatch.setattr(technology, "MODEL_VERSION", "99")
    assert BestChips(joint).key != key


@pytest.mark.parametrize("content", [b"", b"not a cache", b"PK\x03\x04 truncated zip"])
def test_a_corrupt_best_chip_cache_is_rebuilt(tmp_path, joint, content):
    sub = joint.space.subnet.sample_indices(5, 6)
    want, _ = BestChips(joint).exact(sub)
    (tmp_path / CACHE_FILE).write_bytes(content)
    hw, ok, placed = _exact_fresh(BestChips(joint, directory=tmp_path), sub)
    assert placed and ok.all()
    np.testing.assert_array_equal(hw, want)
    assert not _exact_fresh(BestChips(joint, directory=tmp_path), sub)[2]  # rewritten, readable


def test_best_mode_is_refused_where_it_cannot_hold():
    energy = Problem.from_space("vit-fmnist", accuracy=SyntheticAccuracy("vit-fmnist"), energy=True)
    model_only = Problem.from_space("vit-fmnist", mode="model-only", accuracy=SyntheticAccuracy("vit-fmnist"))
    assert "energy" in unsupported(energy)
    assert "frozen" in unsupported(model_only)
    assert unsupported(H.zdt()) is not None
    for p in (energy, model_only, H.zdt()):
        with pytest.raises(ProblemError, match="hardware='best' cannot run"):
            make_strategy("qnehvi", hardware="best").check(p)
    with pytest.raises(ProblemError, match="unknown hardware mode 'fast'"):
        make_strategy("qnehvi", hardware="fast")
    # "auto" falls back to searching the hardware
    strat = make_strategy("qnehvi")
    from cimnet_bo.search.state import Caches, SearchState

    for p in (energy, model_only, H.zdt()):
        assert strat.best_chips(SearchState.from_rows(p, [], [], Caches.for_problem(p))) is None


def test_hardware_search_path_still_runs(tmp_path, joint):
    """``hardware="search"``: the knobs are searched; proposals need not sit on best chips."""
    with run_search(
        joint,
        "qnehvi",
        budget=12,
        batch_size=4,
        seed=0,
        run_dir=tmp_path / "s",
        n_init=8,
        strategy_options={**H.FAST_QNEHVI, "hardware": "search"},
    ) as run:
        rows = run.rows()
        assert run.strategy.best_chips(run.state()) is None
    assert len(rows) == 12
    subs = [joint.space.split(r["config"])[0] for r in rows]
    b = _budgets(joint)
    best = best_hardware(joint.space, subs, b["area_mm2"], b["power_w"])
    gaps = [r["objectives"]["latency_s"] / f["latency_s"].iloc[0] for r, f in zip(rows, best)]
    assert min(gaps) >= 1 - 1e-9 and max(gaps) > 1.5  # random chips are far from the best ones


def test_tiny_experiment_joint_never_loses_to_its_sub_searches(tmp_path):
    res = run_experiment(
        "vit-fmnist",
        out=tmp_path / "exp",
        seeds=1,
        budget=16,
        batch_size=4,
        n_init=8,
        strategy="qnehvi",
        strategy_options=H.FAST_QNEHVI,
        accuracy=SYNTHETIC,
        progress=False,
        report=False,
    )
    seeds = res.speedup_seeds
    for target, part in seeds.groupby("target_offset"):
        got = part.set_index("run")["speedup"]
        assert got["joint"] >= max(got["model-only"], got["hardware-only"]) - 1e-9, (target, got.to_dict())
    hv = {k: load_run(d).hypervolume() for k, d in res.run_dirs.items() if k != "baseline"}
    assert hv["joint-seed0"] >= max(hv["model-only-seed0"], hv["hardware-only-seed0"])
    # hardware-only is the optimiser's answer for the largest subnet: one point beyond the baseline
    assert len(load_run(res.run_dirs["hardware-only-seed0"]).frame) == 2


def test_hardware_only_experiment_for_vit_b(tmp_path):
    """ViT-B itself on ``cim-server``: the best chip's and the baseline chip's latencies agree
    with the reference model, the best chip meets the budgets and is faster."""
    from cimnet_bo.analysis.experiment import hardware_only_experiment
    from cimnet_bo.hardware import simulate
    from cimnet_bo.hardware.technology import space_technology
    from cimnet_bo.space import get_space
    from cimnet_bo.workload import layer_table

    r = hardware_only_experiment("vit-b-imagenet", out=tmp_path)
    space = get_space("vit-b-imagenet")
    table = layer_table(space.subnet, space.subnet.extreme("max"))
    tech = space_technology(space)
    best = simulate(table, r["best"]["chip"], tech=tech)
    base = simulate(table, space.hardware.baseline, tech=tech)
    assert r["best"]["latency_s"] == pytest.approx(best.latency_s, rel=1e-9)
    assert r["baseline"]["latency_s"] == pytest.approx(base.latency_s, rel=1e-9)
    assert r["speedup"] == pytest.approx(base.latency_s / best.latency_s, rel=1e-9) and r["speedup"] > 1.5
    assert best.area_mm2 <= r["budgets"]["area_mm2"] and best.power_w <= r["budgets"]["power_w"] and best.feasible
    md = (tmp_path / "RESULTS.md").read_text()
    assert f"{r['speedup']:.2f}x" in md
