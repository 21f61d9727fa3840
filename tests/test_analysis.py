"""Tests of :mod:`cimnet_bo.analysis`: objectives, Pareto fronts, hypervolume (against BoTorch
and pymoo), hypervolume curves and their aggregation, iso-accuracy speedup, plots."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from cimnet_bo.analysis import (
    HypervolumeScale,
    Objectives,
    aggregate_curves,
    as_directions,
    feasible_mask,
    hypervolume,
    hypervolume_curve,
    iso_accuracy_speedup,
    normalize,
    objective_matrix,
    pareto_front,
    pareto_mask,
    plot_hardware_knobs,
    plot_hypervolume_curves,
    plot_pareto_fronts,
    plot_point_roofline,
    speedup_table,
    to_maximization,
    to_minimization,
    unnormalize,
)

PNG = b"\x89PNG\r\n\x1a\n"
ACC_LAT = {"accuracy": "max", "latency_s": "min"}


def _random_problem(rng, n, m, grid=None):
    """Random points (n x m), random directions, and a reference point worse than most points
    (a few points lie beyond it). ``grid`` rounds values to create ties and duplicates."""
    Y = rng.random((n, m))
    if grid:
        Y = np.round(Y * grid) / grid
    dirs = [str(rng.choice(["max", "min"])) for _ in range(m)]
    ref = np.array([0.1 if d == "max" else 0.9 for d in dirs])
    return Y, dirs, ref


def _brute_force_mask(Y, dirs):
    Z = to_minimization(Y, dirs)
    n = len(Z)
    out = np.ones(n, dtype=bool)
    for i in range(n):
        for j in range(n):
            if np.all(Z[j] <= Z[i]) and np.any(Z[j] < Z[i]):
                out[i] = False
                break
    return out


# =========================================================================== objectives
def test_objectives_keep_the_given_order():
    obj = Objectives.parse({"latency_s": "min", "accuracy": "max"})
    assert obj.names == ("latency_s", "accuracy") and obj.directions == ("min", "max")
    assert Objectives.parse([("accuracy", "max"), ("latency_s", "min")]).names == ("accuracy", "latency_s")
    duck = [SimpleNamespace(name="energy_j", direction="min", cheap=True)]
    assert Objectives.parse(duck).to_dict() == {"energy_j": "min"}
    np.testing.assert_array_equal(Objectives.parse(ACC_LAT).signs, [1.0, -1.0])
    # the matrix follows the objectives' order, not the table's column order
    df = pd.DataFrame({"latency_s": [1.0, 2.0], "junk": [0, 0], "accuracy": [0.5, 0.6]})
    np.testing.assert_array_equal(objective_matrix(df, ACC_LAT), [[0.5, 1.0], [0.6, 2.0]])
    np.testing.assert_array_equal(objective_matrix(df, ACC_LAT, "min"), [[-0.5, 1.0], [-0.6, 2.0]])
    np.testing.assert_array_equal(objective_matrix(df, ACC_LAT, "max"), [[0.5, -1.0], [0.6, -2.0]])
    Y = np.array([[1.0, 2.0]])
    np.testing.assert_array_equal(to_minimization(Y, ["max", "min"]), [[-1.0, 2.0]])
    np.testing.assert_array_equal(to_maximization(Y, ["max", "min"]), [[1.0, -2.0]])
    assert as_directions(ACC_LAT, 2) == ("max", "min")


def test_objective_errors_name_the_bad_input():
    with pytest.raises(TypeError, match="set"):
        Objectives.parse({("accuracy", "max"), ("latency_s", "min")})
    with pytest.raises(ValueError, match="'latency_s'.*'fastest'"):
        Objectives.parse({"accuracy": "max", "latency_s": "fastest"})
    with pytest.raises(ValueError, match="repeated.*accuracy"):
        Objectives.parse([("accuracy", "max"), ("accuracy", "min")])
    with pytest.raises(ValueError, match="no direction"):
        Objectives.parse(["accuracy"])
    with pytest.raises(ValueError, match="unknown objective column.*'acc'"):
        objective_matrix(pd.DataFrame({"accuracy": [1.0]}), {"acc": "max"})
    with pytest.raises(ValueError, match="unknown direction 'up'"):
        as_directions(["max", "up"])
    with pytest.raises(ValueError, match="3 directions"):
        as_directions(["max", "min", "min"], 2)


def test_feasible_mask():
    df = pd.DataFrame({"area_mm2": [1.0, 2.0, 3.0, np.nan], "acc": [0.1, 0.5, 0.9, 0.9]})
    np.testing.assert_array_equal(feasible_mask(df, {"area_mm2": 2.0}), [True, True, False, False])
    np.testing.assert_array_equal(
        feasible_mask(df, {"area_mm2": ("<", 3.0), "acc": (">=", 0.5)}), [False, True, False, False]
    )
    assert feasible_mask(df, None).all()
    with pytest.raises(ValueError, match="unknown constraint column 'power'"):
        feasible_mask(df, {"power": 1.0})
    with pytest.raises(ValueError, match="op"):
        feasible_mask(df, {"area_mm2": ("=<", 1.0)})


# =========================================================================== Pareto
@pytest.mark.parametrize("m", [2, 3, 4])
def test_pareto_mask_matches_brute_force(m):
    rng = np.random.default_rng(m)
    for trial in range(6):
        Y, dirs, _ = _random_problem(rng, 60, m, grid=6 if trial % 2 else None)
        np.testing.assert_array_equal(pareto_mask(Y, dirs), _brute_force_mask(Y, dirs))
        # feasibility and NaN rows: the same as brute force on the remaining rows
        feas = rng.random(60) < 0.7
        Y[rng.random(60) < 0.1, rng.integers(m)] = np.nan
        keep = feas & ~np.isnan(Y).any(axis=1)
        expect = np.zeros(60, dtype=bool)
        expect[keep] = _brute_force_mask(Y[keep], dirs)
        np.testing.assert_array_equal(pareto_mask(Y, dirs, feasible=feas), expect)


def test_pareto_mask_duplicates_and_edge_cases():
    Y = np.array([[1.0, 1.0], [1.0, 1.0], [2.0, 0.5], [2.0, 2.0]])
    np.testing.assert_array_equal(pareto_mask(Y, ["min", "min"]), [True, True, True, False])
    assert pareto_mask(np.zeros((0, 2)), ["min", "min"]).shape == (0,)
    np.testing.assert_array_equal(pareto_mask([[1.0], [0.5], [1.0]], ["max"]), [True, False, True])


def test_pareto_front_table():
    df = pd.DataFrame(
        {
            "accuracy": [0.90, 0.80, 0.80, 0.85, 0.95, 0.70, np.nan],
            "latency_s": [3.0, 1.0, 1.0, 2.5, 9.0, 2.0, 0.1],
            "area_mm2": [1.0, 1.0, 1.0, 1.0, 5.0, 1.0, 1.0],
        },
        index=list("abcdefg"),
    )
    front = pareto_front(df, ACC_LAT)
    # c duplicates b (first copy kept); f is dominated by b; g failed (NaN)
    assert list(front.index) == ["b", "d", "a", "e"]  # sorted by accuracy, then latency
    assert list(pareto_front(df, ACC_LAT, keep_duplicates=True).index) == ["b", "c", "d", "a", "e"]
    assert list(pareto_front(df, ACC_LAT, constraints={"area_mm2": 2.0}).index) == ["b", "d", "a"]
    by_lat = pareto_front(df, {"latency_s": "min", "accuracy": "max"})
    assert list(by_lat.index) == ["b", "d", "a", "e"]
    mask = np.array([True, False, False, True, True, True, True])
    assert list(pareto_front(df, ACC_LAT, feasible=mask).index) == ["f", "d", "a", "e"]


# =========================================================================== hypervolume
def test_hypervolume_by_hand_2d():
    # minimise both: boxes of (1,3), (2,2), (3,1) up to (4,4): 1*1 + 1*2 + 1*3 = 6
    Y = np.array([[1.0, 3.0], [2.0, 2.0], [3.0, 1.0], [3.0, 3.0], [2.0, 2.0], [5.0, 0.5]])
    assert hypervolume(Y, [4.0, 4.0], ["min", "min"]) == pytest.approx(6.0, abs=1e-12)
    # accuracy (max) against latency (min), reference (0.5, 4):
    # latency [1,2): 0.7-0.5; [2,3): 0.8-0.5; [3,4): 0.9-0.5  -> 0.2 + 0.3 + 0.4 = 0.9
    P = np.array([[0.9, 3.0], [0.8, 2.0], [0.7, 1.0], [0.6, 2.5], [0.4, 0.5]])
    assert hypervolume(P, [0.5, 4.0], ACC_LAT) == pytest.approx(0.9, abs=1e-12)
    # points not strictly better than the reference contribute nothing
    assert hypervolume([[0.5, 1.0], [0.9, 4.0]], [0.5, 4.0], ACC_LAT) == 0.0
    assert hypervolume(np.zeros((0, 2)), [1.0, 1.0], ["min", "min"]) == 0.0
    assert hypervolume([[2.0]], [5.0], ["min"]) == 3.0


def _botorch_hv(Y, ref, dirs):
    import torch
    from botorch.utils.multi_objective.hypervolume import Hypervolume
    from botorch.utils.multi_objective.pareto import is_non_dominated

    Ym = torch.tensor(to_maximization(Y, dirs), dtype=torch.double)
    r = torch.tensor(to_maximization(ref, dirs), dtype=torch.double)
    Ym = Ym[(Ym > r).all(dim=-1)]  # BoTorch expects points better than the reference
    if len(Ym) == 0:
        return 0.0
    return float(Hypervolume(r).compute(Ym[is_non_dominated(Ym)]))


def _pymoo_hv(Y, ref, dirs):
    from pymoo.indicators.hv import HV

    return float(HV(ref_point=to_minimization(ref, dirs))(to_minimization(Y, dirs)))


@pytest.mark.parametrize("m", [2, 3])
def test_hypervolume_matches_botorch_and_pymoo(m):
    rng = np.random.default_rng(10 + m)
    for trial in range(8):
        Y, dirs, ref = _random_problem(rng, 50, m, grid=8 if trial % 3 == 0 else None)
        if trial < 2:  # both directions covered in any case
            dirs = ["max"] * m if trial == 0 else ["min"] * m
            ref = np.array([0.1 if d == "max" else 0.9 for d in dirs])
        ours = hypervolume(Y, ref, dirs)
        assert ours > 0
        assert ours == pytest.approx(_botorch_hv(Y, ref, dirs), rel=1e-9, abs=1e-12)
        assert ours == pytest.approx(_pymoo_hv(Y, ref, dirs), rel=1e-9, abs=1e-12)


def test_hypervolume_4_objectives_matches_botorch():
    rng = np.random.default_rng(4)
    Y, dirs, ref = _random_problem(rng, 25, 4)
    assert hypervolume(Y, ref, dirs) == pytest.approx(_botorch_hv(Y, ref, dirs), rel=1e-9)


def test_hypervolume_errors():
    Y = np.array([[0.9, 1.0]])
    with pytest.raises(ValueError, match="ref_point has length 3.*2 objective"):
        hypervolume(Y, [0.0, 2.0, 1.0], ACC_LAT)
    with pytest.raises(ValueError, match="unknown direction 'maximise'"):
        hypervolume(Y, [0.0, 2.0], ["maximise", "min"])
    with pytest.raises(ValueError, match="1 directions.*2 objective columns"):
        hypervolume(Y, [0.0, 2.0], ["max"])
    with pytest.raises(ValueError, match="finite"):
        hypervolume(Y, [0.0, np.inf], ACC_LAT)


@pytest.mark.parametrize("m", [2, 3])
def test_hypervolume_curve_is_monotone_and_exact(m):
    rng = np.random.default_rng(20 + m)
    Y, dirs, ref = _random_problem(rng, 40, m, grid=10)
    Y[[3, 17]] = np.nan  # failed evaluations
    Y[25] = Y[5]  # a repeated point
    curve = hypervolume_curve(Y, ref, dirs)
    assert curve.shape == (40,)
    assert np.all(np.diff(curve) >= -1e-12)
    direct = np.array([hypervolume(Y[: k + 1], ref, dirs) for k in range(40)])
    np.testing.assert_allclose(curve, direct, rtol=1e-9, atol=1e-12)
    assert curve[3] == curve[2] and curve[25] == pytest.approx(curve[24])


def test_hypervolume_curve_1d_and_hand_case():
    np.testing.assert_allclose(hypervolume_curve([[3.0], [4.0], [1.0]], [5.0], ["min"]), [2.0, 2.0, 4.0])
    P = np.array([[0.7, 1.0], [0.6, 2.5], [0.8, 2.0], [0.9, 3.0]])
    np.testing.assert_allclose(hypervolume_curve(P, [0.5, 4.0], ACC_LAT), [0.6, 0.6, 0.8, 0.9], atol=1e-12)


def test_aggregate_curves():
    curves = [np.array([1.0, 2.0, 3.0]), np.array([3.0, 4.0]), [2.0, 3.0, 5.0, 6.0]]
    agg = aggregate_curves(curves)
    assert list(agg.columns) == ["evaluation", "mean", "std", "min", "max", "count"]
    assert list(agg["evaluation"]) == [1, 2, 3, 4]
    np.testing.assert_allclose(agg["mean"], [2.0, 3.0, 4.0, 6.0])
    np.testing.assert_allclose(agg["std"][:3], [1.0, 1.0, math.sqrt(2.0)])
    assert math.isnan(agg["std"][3])
    np.testing.assert_allclose(agg["min"], [1.0, 2.0, 3.0, 6.0])
    np.testing.assert_allclose(agg["max"], [3.0, 4.0, 5.0, 6.0])
    assert list(agg["count"]) == [3, 3, 2, 1]
    last = aggregate_curves(curves, pad="last")
    np.testing.assert_allclose(last["mean"], [2.0, 3.0, 4.0, 13.0 / 3.0])  # (3 + 4 + 6) / 3
    assert list(last["count"]) == [3, 3, 3, 3]
    assert aggregate_curves([]).empty
    with pytest.raises(ValueError, match="pad"):
        aggregate_curves(curves, pad="zero")


def test_normalize_and_scale():
    B = np.array([[0.0, 10.0], [2.0, 20.0]])
    U = normalize([[1.0, 15.0], [2.0, 10.0]], B)
    np.testing.assert_allclose(U, [[0.5, 0.5], [1.0, 0.0]])
    np.testing.assert_allclose(unnormalize(U, B), [[1.0, 15.0], [2.0, 10.0]])
    with pytest.raises(ValueError, match="shape \\(2, 2\\)"):
        normalize([[1.0, 2.0]], np.zeros((2, 3)))
    with pytest.raises(ValueError, match="upper > lower"):
        normalize([[1.0, 2.0]], [[0.0, 1.0], [1.0, 1.0]])

    # accuracy in [0.5, 0.9], log10 latency in [-3, -1] (margin 0): normalised points
    # A (1, 0.5), B (0.5, 0), C (0, 1); reference (0, 1): HV = 0.5 + 0.5 - 0.25 = 0.75
    df = pd.DataFrame({"accuracy": [0.9, 0.7, 0.5], "latency_s": [1e-2, 1e-3, 1e-1]})
    scale = HypervolumeScale.from_data(df, ACC_LAT, margin=0.0)
    np.testing.assert_allclose(scale.bounds, [[0.5, -3.0], [0.9, -1.0]])
    expect = [[1.0, 0.5], [0.5, 0.0], [0.0, 1.0]]
    np.testing.assert_allclose(scale.transform(df), expect, atol=1e-12)
    np.testing.assert_array_equal(scale.ref_point, [0.0, 1.0])
    assert scale.hypervolume(df) == pytest.approx(0.75)
    np.testing.assert_allclose(scale.curve(df), [0.5, 0.75, 0.75])
    # a fixed latency reference of 1 s (log10 = 0): latency bounds [-3, 0]
    fixed = HypervolumeScale.from_data([df], ACC_LAT, margin=0.0, ref={"latency_s": 1.0})
    np.testing.assert_allclose(fixed.bounds[:, 1], [-3.0, 0.0])
    # margin moves only the worst bound
    wide = HypervolumeScale.from_data(df, ACC_LAT, margin=0.1)
    np.testing.assert_allclose(wide.bounds, [[0.46, -3.0], [0.9, -0.8]])
    with pytest.raises(ValueError, match="log scale"):
        HypervolumeScale.from_data(df.assign(latency_s=[0.0, 1.0, 2.0]), ACC_LAT)
    with pytest.raises(ValueError, match="unknown objective 'latency'"):
        HypervolumeScale.from_data(df, ACC_LAT, ref={"latency": 1.0})


# =========================================================================== speedup
def _hand_table():
    # baseline: accuracy 0.900, latency 10 ms
    return pd.DataFrame(
        {
            "accuracy": [0.905, 0.900, 0.897, 0.895, 0.891, 0.880, np.nan, 0.950],
            "latency_s": [8e-3, 5e-3, 4e-3, 2.5e-3, 2e-3, 1e-3, 5e-4, 1e-4],
            "area_mm2": [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 9.0],
        },
        index=list("abcdefgh"),
    )


def test_iso_accuracy_speedup_by_hand():
    df = _hand_table()
    t = iso_accuracy_speedup(df, 10e-3, 0.900, constraints={"area_mm2": 4.0})
    assert list(t["target_accuracy"]) == pytest.approx([0.900, 0.895, 0.890])
    # 0.900: a, b reach it -> b at 5 ms -> 2x; 0.895: + c, d -> d at 2.5 ms -> 4x;
    # 0.890: + e -> e at 2 ms -> 5x. (h is over the area budget, g failed.)
    assert list(t["best_index"]) == ["b", "d", "e"]
    assert list(t["best_latency"]) == pytest.approx([5e-3, 2.5e-3, 2e-3])
    assert list(t["speedup"]) == pytest.approx([2.0, 4.0, 5.0])
    assert list(t["n_points"]) == [2, 4, 5]
    assert list(t["reason"]) == ["", "", ""]
    # without the area budget, h (0.95 at 0.1 ms) wins every target: 100x
    free = iso_accuracy_speedup(df, 10e-3, 0.900)
    assert list(free["speedup"]) == pytest.approx([100.0, 100.0, 100.0])
    # an unreachable target: NaN with a reason
    hi = iso_accuracy_speedup(df, 10e-3, 0.900, targets=[0.1], constraints={"area_mm2": 4.0})
    assert math.isnan(hi["speedup"][0]) and math.isnan(hi["best_latency"][0])
    assert "no point reaches accuracy >= 1" in hi["reason"][0] and "0.905" in hi["reason"][0]
    none = iso_accuracy_speedup(df, 10e-3, 0.9, constraints={"area_mm2": 0.5})
    assert none["speedup"].isna().all() and none["reason"].str.contains("constraints").all()
    # latency ties go to the higher accuracy
    tie = pd.DataFrame({"accuracy": [0.91, 0.93], "latency_s": [2e-3, 2e-3]})
    assert iso_accuracy_speedup(tie, 1e-2, 0.9, targets=[0.0])["best_index"][0] == 1


def test_speedup_table_by_hand():
    df = _hand_table()
    model_only = df.loc[["a", "b", "c", "f"]]  # best at 0.9: b (2x); 0.895: c (2.5x); 0.89: c
    joint = [df.loc[["a", "d", "e"]], df.loc[["b", "e", "f"]]]  # two seeds
    runs = {"model-only": model_only, "joint": joint}
    long = speedup_table(runs, 10e-3, 0.900, constraints={"area_mm2": 4.0})
    assert list(long.columns[:2]) == ["run", "seed"] and len(long) == 9
    wide = speedup_table(runs, 10e-3, 0.900, constraints={"area_mm2": 4.0}, wide=True)
    assert list(wide.columns) == ["model-only", "joint", "joint min", "joint max", "joint n"]
    np.testing.assert_allclose(wide["model-only"], [2.0, 2.5, 2.5])
    # joint seed 0: 0.9 -> a (1.25x); 0.895 -> d (4x); 0.89 -> e (5x)
    # joint seed 1: 0.9 -> b (2x);    0.895 -> b (2x); 0.89 -> e (5x)
    np.testing.assert_allclose(wide["joint"], [1.625, 3.0, 5.0])
    np.testing.assert_allclose(wide["joint min"], [1.25, 2.0, 5.0])
    np.testing.assert_allclose(wide["joint max"], [2.0, 4.0, 5.0])
    assert list(wide["joint n"]) == [2, 2, 2]


def test_speedup_errors():
    df = _hand_table()
    with pytest.raises(ValueError, match="unknown latency column 'latency'"):
        iso_accuracy_speedup(df, 1e-2, 0.9, latency="latency")
    with pytest.raises(ValueError, match="baseline_latency"):
        iso_accuracy_speedup(df, 0.0, 0.9)
    with pytest.raises(ValueError, match="run 'x'"):
        speedup_table({"x": []}, 1e-2, 0.9)


# =========================================================================== plots
def _is_png(path):
    data = path.read_bytes()
    return data[:8] == PNG and len(data) > 2000


def _fake_runs(rng, n=40):
    def run(shift):
        lat = 10 ** rng.uniform(-4, -2, n)
        acc = 0.8 + 0.1 * (np.log10(lat) + 4) / 2 + shift + rng.normal(0, 0.01, n)
        return pd.DataFrame(
            {
                "accuracy": acc,
                "latency_s": lat,
                "area_mm2": rng.uniform(1, 5, n),
                "glb_kb": rng.choice([32, 64, 128, 256, 512], n),
                "cell": rng.choice(["sram", "rram"], n),
                "clock_mhz": rng.choice([200.0, 400.0], n),
            }
        )

    return {"model-only": run(0.0), "joint": [run(0.02), run(0.03)]}


def test_plots_write_pngs(tmp_path):
    rng = np.random.default_rng(0)
    runs = _fake_runs(rng)
    p = plot_pareto_fronts(
        runs,
        ACC_LAT,
        tmp_path / "fronts.png",
        baseline={"accuracy": 0.9, "latency_s": 5e-3},
        constraints={"area_mm2": 4.0},
    )
    assert _is_png(p)
    curves = {
        "model-only": [np.cumsum(rng.random(30)), np.cumsum(rng.random(25))],
        "joint": [np.cumsum(rng.random(30)) * 1.2],
    }
    assert _is_png(plot_hypervolume_curves(curves, tmp_path / "hv.png", band="minmax"))
    assert _is_png(plot_hypervolume_curves(curves, tmp_path / "sub" / "hv_std.png", band="std"))
    front = pareto_front(runs["joint"][0], ACC_LAT)
    assert _is_png(plot_hardware_knobs(front, ["glb_kb", "cell", "clock_mhz"], tmp_path / "knobs.png"))
    with pytest.raises(ValueError, match="exactly 2 objectives"):
        plot_pareto_fronts(runs, {**ACC_LAT, "area_mm2": "min"}, tmp_path / "x.png")
    with pytest.raises(ValueError, match="unknown column.*'rows'"):
        plot_hardware_knobs(front, ["rows"], tmp_path / "x.png")


def test_plot_point_roofline(tmp_path):
    from cimnet_bo.space import get_space

    space = get_space("vit-fmnist")
    point = pd.Series({**space.sample(1, seed=3)[0], "accuracy": 0.8, "latency_s": 1e-3})
    assert _is_png(plot_point_roofline(point, "vit-fmnist", tmp_path / "roof.png"))
    with pytest.raises(ValueError, match="lacks the choice"):
        plot_point_roofline({"rows": 64}, space, tmp_path / "x.png")
