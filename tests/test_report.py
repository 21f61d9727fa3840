"""Reports and the CiMNet-style experiment: loading run directories, hypervolume curves on the
problem's fixed scale, the iso-accuracy speedup on a hand-made case (numbers worked out by hand),
the files ``cimnet-bo report`` writes, and a tiny experiment (synthetic accuracy, random search)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cimnet_bo.analysis import (
    RunLoadError,
    baseline_point,
    find_baseline,
    group_runs,
    load_run,
    load_runs,
    make_baseline_run,
    run_experiment,
    run_speedups,
    write_report,
)
from cimnet_bo.cli import main as cli_main
from cimnet_bo.search import Problem, Run, propose, run_search, tell
from cimnet_bo.search.registered import baseline_chip
from cimnet_bo.space import get_space

SYNTHETIC = "cimnet_bo.search.toy:synthetic_accuracy"
TARGETS = (0.0, -0.005, -0.01, 0.02)

# ---------------------------------------------------------------------------- the hand-made case
# Baseline: accuracy 0.90, latency 4 ms. Area budget of vit-fmnist: the baseline chip's, about 8 mm^2;
# peak power: told below the baseline chip's (about 1.7 W); every point feasible (SRAM, resident).
BASELINE = {"accuracy": 0.90, "latency_s": 4e-3, "area_mm2": 2.5, "power_w": 1.0, "feasible": 1.0}
MODEL_ONLY_0 = [  # one seed
    {"accuracy": 0.905, "latency_s": 2.0e-3, "area_mm2": 2.5, "power_w": 1.0, "feasible": 1.0},
    {"accuracy": 0.897, "latency_s": 1.6e-3, "area_mm2": 2.5, "power_w": 1.0, "feasible": 1.0},
    {"accuracy": 0.890, "latency_s": 1.0e-3, "area_mm2": 2.5, "power_w": 1.0, "feasible": 1.0},
    {"accuracy": 0.880, "latency_s": 0.5e-3, "area_mm2": 2.5, "power_w": 1.0, "feasible": 1.0},
]
JOINT_0 = [
    {"accuracy": 0.910, "latency_s": 1.0e-3, "area_mm2": 2.0, "power_w": 1.0, "feasible": 1.0},
    {"accuracy": 0.899, "latency_s": 0.5e-3, "area_mm2": 1.0, "power_w": 1.0, "feasible": 1.0},
    {
        "accuracy": 0.950,
        "latency_s": 1.0e-4,
        "area_mm2": 10.0,
        "power_w": 1.0,
        "feasible": 1.0,
    },  # over the area budget: ignored
    {"error": "simulated failure"},  # failed: ignored
]
JOINT_1 = [
    {"accuracy": 0.900, "latency_s": 2.0e-3, "area_mm2": 2.0, "power_w": 1.0, "feasible": 1.0},
    {"accuracy": 0.850, "latency_s": 1.0e-4, "area_mm2": 2.0, "power_w": 1.0, "feasible": 1.0},
]
# By hand, speedup = 4 ms / best latency among feasible points with accuracy >= target:
#   target            model-only (seed 0)     joint seed 0            joint seed 1
#   0.900 (baseline)  2.0 ms -> 2.0x          1.0 ms -> 4.0x          2.0 ms -> 2.0x   (joint mean 3.0x)
#   0.895 (-0.5 pt)   1.6 ms -> 2.5x          0.5 ms -> 8.0x          2.0 ms -> 2.0x   (joint mean 5.0x)
#   0.890 (-1 pt)     1.0 ms -> 4.0x          0.5 ms -> 8.0x          2.0 ms -> 2.0x   (joint mean 5.0x)
#   0.920 (+2 pt)     none                    none (0.95 is infeasible) none
EXPECTED_MODEL_ONLY = [2.0, 2.5, 4.0, np.nan]
EXPECTED_JOINT_MEAN = [3.0, 5.0, 5.0, np.nan]
EXPECTED_JOINT_MIN = [2.0, 2.0, 2.0, np.nan]
EXPECTED_JOINT_MAX = [4.0, 8.0, 8.0, np.nan]
EXPECTED_JOINT_N = [2, 2, 2, 0]


def _told_run(path: Path, mode: str, points: list[dict], seed: int) -> Path:
    """A run whose evaluations are the given points (ask/tell with external accuracy)."""
    problem = Problem.from_space("vit-fmnist", mode=mode, accuracy="external")
    n = len(points)
    with Run.open(path, problem, "random", budget=n, batch_size=n, seed=seed, n_init=n) as run:
        proposed = propose(run, n)
        tell(run, [{"idx": p["idx"], **vals} for p, vals in zip(proposed, points)])
    return path


@pytest.fixture(scope="module")
def hand_runs(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("hand") / "runs"
    make_baseline_run(
        root / "baseline",
        Problem.from_space("vit-fmnist", mode="model-only", accuracy="external"),
        values=BASELINE,
        evaluator="hand",
    )
    _told_run(root / "model-only-seed0", "model-only", MODEL_ONLY_0, seed=0)
    _told_run(root / "joint-seed0", "joint", JOINT_0, seed=0)
    _told_run(root / "joint-seed1", "joint", JOINT_1, seed=1)
    return root


# ---------------------------------------------------------------------------- loading runs
def test_load_runs_roles_order_and_feasibility(hand_runs):
    runs = load_runs(hand_runs)  # a folder of runs
    roles = {r.label: r.role for r in runs}
    assert roles == {
        "baseline": "baseline",
        "joint-seed0": "joint",
        "joint-seed1": "joint",
        "model-only-seed0": "model-only",
    }
    j0 = next(r for r in runs if r.label == "joint-seed0")
    assert list(j0.frame["evaluation"]) == [1, 2, 3, 4]
    assert list(j0.frame["accuracy"].iloc[:3]) == [0.91, 0.899, 0.95]  # evaluation order kept
    assert j0.feasible.tolist() == [True, True, False, False]  # area over budget, failed
    assert j0.n_failed == 1
    chip = baseline_chip(get_space("vit-fmnist"))
    assert j0.constraints["area_mm2"][0] == "<=" and j0.constraints["area_mm2"][1] == pytest.approx(
        chip["area_mm2"], rel=1e-5
    )
    assert j0.constraints["power_w"][0] == "<=" and j0.constraints["power_w"][1] == pytest.approx(
        chip["power_w"], rel=1e-5
    )
    assert j0.constraints["feasible"] == (">=", 1.0)
    assert j0.mode == "joint" and j0.seed == 0
    assert list(group_runs(runs)) == ["model-only", "joint"]
    assert [r.seed for r in group_runs(runs)["joint"]] == [0, 1]
    assert baseline_point(find_baseline(runs))["latency_s"] == pytest.approx(4e-3)
    # the Pareto set: feasible, non-dominated, best accuracy first
    front = j0.pareto_table()
    assert front["evaluation"].tolist() == [1, 2]
    assert {"accuracy", "latency_s", "area_mm2", "num_layers", "rows"} <= set(front.columns)


def test_not_a_run_dir(tmp_path):
    with pytest.raises(RunLoadError, match="no run directory"):
        load_runs([tmp_path])
    rc = cli_main(["report", "--run", str(tmp_path), "--out", str(tmp_path / "rep")])
    assert rc == 2


# ---------------------------------------------------------------------------- speedups by hand
def test_speedup_hand_made_case(hand_runs):
    runs = load_runs(hand_runs)
    wide = run_speedups(runs, TARGETS, wide=True)
    assert list(wide.index.get_level_values("target_accuracy")) == pytest.approx([0.90, 0.895, 0.89, 0.92])
    np.testing.assert_allclose(wide["model-only"], EXPECTED_MODEL_ONLY)
    np.testing.assert_allclose(wide["joint"], EXPECTED_JOINT_MEAN)
    np.testing.assert_allclose(wide["joint min"], EXPECTED_JOINT_MIN)
    np.testing.assert_allclose(wide["joint max"], EXPECTED_JOINT_MAX)
    assert wide["joint n"].tolist() == EXPECTED_JOINT_N
    assert "model-only n" not in wide  # one seed: no spread columns

    long = run_speedups(runs, TARGETS, wide=False)
    j0 = long[long["label"] == "joint-seed0"].set_index("target_offset")
    assert j0.loc[0.0, "best_index"] == 1 and j0.loc[-0.005, "best_index"] == 2  # evaluation numbers
    assert j0.loc[0.02, "n_points"] == 0 and "0.92" in j0.loc[0.02, "reason"]
    assert set(long.loc[long["label"] == "joint-seed1", "seed"]) == {1}


def test_no_baseline_no_speedup(hand_runs):
    runs = [r for r in load_runs(hand_runs) if r.role != "baseline"]
    assert run_speedups(runs) is None


# ---------------------------------------------------------------------------- the report
def test_report_files(hand_runs, tmp_path, capsys):
    out = tmp_path / "report"
    args = ["report", "--out", str(out), "--targets", ",".join(map(str, TARGETS))]
    for name in ("baseline", "model-only-seed0", "joint-seed*"):  # dirs and a glob
        args += ["--run", str(hand_runs / name)]
    assert cli_main(args) == 0
    printed = capsys.readouterr().out
    assert str(out / "index.html") in printed and "joint-seed0 (joint, random, seed 0)" in printed

    html, md = (out / "index.html").read_text(), (out / "report.md").read_text()
    for text in (html, md):
        assert "Pareto set of joint-seed0" in text and "Pareto set of model-only-seed0" in text
        assert "Iso-accuracy speedup" in text
        assert "3.00x (2.00-4.00, 2/2 seeds)" in text  # joint at the baseline's accuracy
        assert "5.00x (2.00-8.00, 2/2 seeds)" in text
        assert "2.50x" in text and "4.00x" in text  # model-only at -0.5 and -1 pt
        assert "0/2 seeds reach it" in text  # +2 pt
        assert "0.9050" in text and "0.001" in text  # a Pareto point of model-only (accuracy, latency)
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert {
        "hypervolume.png",
        "pareto_fronts.png",
        "roofline_baseline.png",
        "roofline_fastest.png",
        "run_joint-seed0_hypervolume.png",
        "run_joint-seed0_hardware.png",
    } <= set(pngs)
    assert "run_model-only-seed0_hardware.png" not in pngs  # model-only: the hardware does not vary
    for p in out.glob("*.png"):
        assert p.stat().st_size > 1000 and p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f'src="{p.name}"' in html and f"]({p.name})" in md
    sp = pd.read_csv(out / "speedup.csv")
    np.testing.assert_allclose(sp["joint"], EXPECTED_JOINT_MEAN)
    pareto = pd.read_csv(out / "pareto_model-only-seed0.csv")
    assert pareto["latency_s"].tolist() == pytest.approx([2e-3, 1.6e-3, 1e-3, 5e-4])


def test_report_single_run_without_baseline(hand_runs, tmp_path):
    rep = write_report([hand_runs / "joint-seed1"], tmp_path / "r", roofline=False)
    assert rep.speedup is None and rep.html.stat().st_size > 0
    assert "No baseline run given" in rep.markdown.read_text()
    assert "#1: accuracy=0.9000" in rep.text()


# ---------------------------------------------------------------------------- hypervolume scale
def test_hypervolume_curve_matches_the_search(tmp_path):
    problem = Problem.from_space("vit-fmnist", accuracy=SYNTHETIC)
    with run_search(problem, "random", budget=12, batch_size=4, seed=3, run_dir=tmp_path / "r", progress=False) as run:
        expected = run.hypervolume_curve()
    got = load_run(tmp_path / "r").hypervolume_curve()
    assert expected[-1] > 0
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)


# ---------------------------------------------------------------------------- the experiment
def test_experiment_tiny_and_resumed(tmp_path):
    kw = dict(
        space="vit-fmnist",
        out=tmp_path / "exp",
        seeds=2,
        budget=10,
        strategy="random",
        accuracy=SYNTHETIC,
        progress=False,
    )
    res = run_experiment(**kw)
    assert set(res.run_dirs) == {
        "baseline",
        *(f"{m}-seed{k}" for m in ("model-only", "hardware-only", "joint") for k in (0, 1)),
    }
    # the baseline: the largest subnet on the baseline chip, evaluated (synthetic accuracy, roofline)
    b = res.baseline
    base_hw = get_space("vit-fmnist").hardware.baseline
    assert b["num_layers"] == 5 and b["rows"] == base_hw["rows"] and b["n_macros"] == base_hw["n_macros"]
    assert b["area_mm2"] == pytest.approx(baseline_chip(get_space("vit-fmnist"))["area_mm2"], rel=1e-9)
    assert [c for c in res.speedup.columns if not c.endswith((" min", " max", " n"))] == [
        "model-only",
        "hardware-only",
        "joint",
    ]
    # hardware-only: every point is the largest subnet, so it has the baseline's accuracy and the
    # same speedup at every target at or below it
    for k in (0, 1):
        frame = load_run(res.run_dirs[f"hardware-only-seed{k}"]).frame
        assert (frame["num_layers"] == 5).all() and (frame["accuracy"] == b["accuracy"]).all()
    assert res.speedup["hardware-only"].nunique() == 1 and res.speedup["hardware-only"].iloc[0] > 0
    # every search starts from the baseline point, so each reaches the baseline's accuracy
    for k, d in res.run_dirs.items():
        if k != "baseline":
            first = load_run(d).frame.sort_values("evaluation").iloc[0]
            assert (first["num_layers"], first["n_macros"], first["accuracy"]) == (
                5,
                base_hw["n_macros"],
                b["accuracy"],
            ), k
    assert (res.speedup.iloc[0][["model-only n", "hardware-only n", "joint n"]] == 2).all()
    assert (res.speedup.iloc[0][["model-only", "hardware-only", "joint"]] >= 1).all()
    assert len(res.speedup) == 3 and {"joint n", "model-only n"} <= set(res.speedup.columns)
    for name in (
        "RESULTS.md",
        "speedup.csv",
        "speedup_seeds.csv",
        "experiment.json",
        "report/index.html",
        "report/pareto_fronts.png",
        "report/hypervolume.png",
    ):
        assert (res.out / name).stat().st_size > 0, name
    md = res.results.read_text()
    assert "| target | accuracy >= | model-only speedup | hardware-only speedup | joint speedup |" in md
    assert "](report/pareto_fronts.png)" in md and "cimnet-bo experiment --space vit-fmnist --seeds 2" in md
    stored = {k: load_run(d).n for k, d in res.run_dirs.items()}
    assert stored == {"baseline": 1, **{k: 10 for k in res.run_dirs if k != "baseline"}}
    mtime = (res.run_dirs["joint-seed1"] / "store.sqlite").stat().st_mtime_ns

    # earlier invocations' seconds (set large here) count for the runs an invocation resumes
    state_file = res.out / "experiment.json"
    state = json.loads(state_file.read_text())
    state_file.write_text(json.dumps({**state, "seconds": {k: 1e6 for k in res.run_dirs}}))
    again = run_experiment(**{**kw, "report": False})  # resumed: nothing left to evaluate
    assert {k: load_run(d).n for k, d in again.run_dirs.items()} == stored
    assert (res.run_dirs["joint-seed1"] / "store.sqlite").stat().st_mtime_ns == mtime
    pd.testing.assert_frame_equal(again.speedup, res.speedup)
    state = json.loads(state_file.read_text())
    assert state["budget"] == 10
    assert min(state["seconds"].values()) >= 1e6 and state["total_seconds"] >= 7e6
    # plain JSON values: numbers stay numbers, the speedup table at full precision
    assert state["baseline"]["num_layers"] == 5 and state["baseline"]["accuracy"] == b["accuracy"]
    assert state["speedup"] == res.speedup.reset_index().to_dict(orient="records")
    # runs started afresh in another folder: only their own seconds
    fresh = run_experiment(**{**kw, "runs_dir": tmp_path / "runs-again", "report": False})
    state = json.loads(state_file.read_text())
    assert set(state["seconds"]) == set(fresh.run_dirs) and max(state["seconds"].values()) < 1e6


def test_experiment_cli_qnehvi(tmp_path, capsys):
    args = [
        "experiment",
        "--space",
        "cnn-fmnist",
        "--accuracy",
        SYNTHETIC,
        "--seeds",
        "1",
        "--budget",
        "6",
        "--batch-size",
        "2",
        "--n-init",
        "4",
        "--out",
        str(tmp_path / "e"),
        "--runs",
        str(tmp_path / "r"),
        "--no-report",
        "--quiet",
        "-o",
        "pool_size=200",
        "-o",
        "pop_size=8",
        "-o",
        "n_gen=2",
        "-o",
        "shortlist=32",
        "-o",
        "mc_samples=16",
        "-o",
        "gp_maxiter=20",
        "-o",
        "xgb_params={n_estimators: 20, n_jobs: 1}",
    ]
    assert cli_main(args) == 0
    printed = capsys.readouterr().out
    assert "model-only speedup" in printed and "joint speedup" in printed
    assert (tmp_path / "e" / "RESULTS.md").exists() and not (tmp_path / "e" / "report").exists()
    run = load_run(tmp_path / "r" / "joint-seed0")
    assert run.n == 6 and run.strategy == "qnehvi" and run.config["strategy_options"]["pool_size"] == 200
    assert set(run.frame["tag"]) == {"init", "round-1"}


def test_baseline_command_adds_the_speedup_table_to_a_report(tmp_path, capsys):
    """``cimnet-bo baseline`` evaluates the largest subnet on the baseline chip into a run marked
    as baseline; a report of a search and that run holds the iso-accuracy speedup table."""
    search = [
        "search",
        "--space",
        "vit-fmnist",
        "--accuracy",
        SYNTHETIC,
        "--strategy",
        "random",
        "--budget",
        "12",
        "--batch-size",
        "4",
        "--seed",
        "0",
        "--run",
        str(tmp_path / "s"),
        "--quiet",
    ]
    assert cli_main(search) == 0
    assert cli_main(["baseline", "--space", "vit-fmnist", "--accuracy", SYNTHETIC, "--run", str(tmp_path / "b")]) == 0
    base = load_run(tmp_path / "b")
    assert base.n == 1 and base.role == "baseline"
    space = get_space("vit-fmnist")
    assert base.frame["latency_s"].iloc[0] > 0 and base.frame["num_layers"].iloc[0] == max(space["num_layers"].values)
    capsys.readouterr()
    assert (
        cli_main(
            [
                *"report --run".split(),
                str(tmp_path / "s"),
                "--run",
                str(tmp_path / "b"),
                "--out",
                str(tmp_path / "rep"),
                "--no-roofline",
            ]
        )
        == 0
    )
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "speedup over the baseline" in md and "No baseline run given" not in md
