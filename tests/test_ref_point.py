"""Inferred reference and ideal points: the rule (BoTorch's ``infer_reference_point`` on the
transformed Pareto front, with fall-backs for fronts without a range; checked against
hand-computed values), their recording once the initial design is evaluated, their reuse on
resume, and how runs and reports show them."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pandas as pd
import pytest

from cimnet_bo.analysis.runs import load_run
from cimnet_bo.cli import main as cli_main
from cimnet_bo.evaluate import CallableEvaluator, Objective
from cimnet_bo.moo import HypervolumeScale
from cimnet_bo.search import Problem, ProblemError, Run, run_search, tell
from cimnet_bo.search.problem import REF_MARGIN, infer_points
from cimnet_bo.search.run import REF_POINT_KEY
from cimnet_bo.space import Choice, Space

OBJ = [Objective("acc", "max"), Objective("lat", "min")]


def infer_ref_point(*args, **kwargs):
    """The reference point of :func:`infer_points` (None when it gives none)."""
    points = infer_points(*args, **kwargs)
    return None if points is None else points[0]


def test_margin_is_botorchs_default():
    assert REF_MARGIN == 0.1


def test_inferred_point_is_the_front_nadir_pushed_out_by_a_tenth_of_its_range():
    Y = np.array([[0.2, 1.0], [0.5, 2.0], [0.8, 3.0], [0.3, 2.5]])  # the last one is dominated
    ref = infer_ref_point(Y, OBJ, log=())
    # front acc 0.2..0.8 (range 0.6), lat 1..3 (range 2): 0.2 - 0.06, 3 + 0.2
    assert ref == pytest.approx({"acc": 0.14, "lat": 3.2})


def test_log_objectives_are_pushed_out_on_the_log_scale():
    Y = np.array([[0.5, 1e-3], [0.9, 1e-2]])
    ref = infer_ref_point(Y, OBJ, log=("lat",))
    # log10 latency -3..-2 (range 1): -2 + 0.1; accuracy 0.5 - 0.04
    assert ref == pytest.approx({"acc": 0.46, "lat": 10**-1.9})


def test_the_ideal_is_the_fronts_best():
    Y = np.array([[0.2, 1.0], [0.5, 2.0], [0.8, 3.0], [0.3, 2.5]])
    assert infer_points(Y, OBJ, log=())[1] == pytest.approx({"acc": 0.8, "lat": 1.0})


def test_a_one_point_front_takes_the_range_of_all_rows():
    Y = np.array([[0.9, 1.0], [0.5, 2.0], [0.3, 5.0]])  # the first dominates the others
    ref, ideal = infer_points(Y, OBJ, log=())
    # acc rows 0.3..0.9 (range 0.6), lat 1..5 (range 4): 0.9 - 0.06, 1 + 0.4
    assert ref == pytest.approx({"acc": 0.84, "lat": 1.4})
    assert ideal == pytest.approx({"acc": 0.9, "lat": 1.0})


def test_a_single_row_uses_a_tenth_of_its_magnitude_at_least_one():
    assert infer_ref_point(np.array([[0.5, 2.0]]), OBJ, log=()) == pytest.approx({"acc": 0.4, "lat": 2.2})
    assert infer_ref_point(np.array([[0.0, 0.0]]), OBJ, log=()) == pytest.approx({"acc": -0.1, "lat": 0.1})


def test_a_given_ideal_worse_than_the_front_keeps_the_reference_beyond_it():
    Y = np.array([[0.2, 1.0], [0.5, 2.0], [0.8, 3.0]])
    ref, ideal = infer_points(Y, OBJ, (), ideal={"acc": 0.1, "lat": 4.0})
    assert ideal == {"acc": 0.1, "lat": 4.0}
    assert ref == pytest.approx({"acc": 0.04, "lat": 4.2})


def test_large_linear_values_infer_without_overflow():
    Y = np.array([[1e6, 5e5], [2e6, 9e5]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ref = infer_ref_point(Y, OBJ, log=())
    assert ref == pytest.approx({"acc": 0.9e6, "lat": 9.4e5})


def test_infeasible_and_failed_rows_are_left_out_unless_none_is_feasible():
    Y = np.array([[0.2, 1.0], [0.8, 3.0], [0.99, 0.1], [np.nan, 0.5]])
    feasible = np.array([True, True, False, True])
    assert infer_ref_point(Y, OBJ, (), feasible) == pytest.approx({"acc": 0.14, "lat": 3.2})
    none_feasible = infer_ref_point(Y[:3], OBJ, (), np.zeros(3, bool))
    # all three finite rows: the front is (0.99, 0.1) alone, so the rows' ranges count
    # (acc 0.2..0.99, lat 0.1..3): 0.99 - 0.079, 0.1 + 0.29
    assert none_feasible == pytest.approx({"acc": 0.911, "lat": 0.39})
    assert infer_ref_point(np.full((2, 2), np.nan), OBJ, ()) is None


def _space() -> Space:
    return Space("refs", [Choice("a", tuple(range(6))), Choice("b", tuple(range(6)))])


def _values(cfg) -> dict[str, float]:
    """acc rises with a, lat with a and b: the front is known in closed form."""
    return {"acc": 0.5 + 0.08 * cfg["a"], "lat": 1.0 + cfg["a"] + 0.5 * cfg["b"]}


def _problem(ref_point=None) -> Problem:
    ev = CallableEvaluator(_values, [("acc", "max"), ("lat", "min")], space=_space(), name="refs")
    return Problem(_space(), ev, ref_point=ref_point, name="refs")


def _expected(rows) -> dict[str, float]:
    """The rule by hand on the rows' front."""
    Y = np.array([[r["objectives"]["acc"], r["objectives"]["lat"]] for r in rows])
    front = [y for y in Y if not any((z[0] >= y[0]) and (z[1] <= y[1]) and (z != y).any() for z in Y)]
    F = np.array(front)
    acc_lo, acc_hi, lat_lo, lat_hi = F[:, 0].min(), F[:, 0].max(), F[:, 1].min(), F[:, 1].max()
    acc_w = (acc_hi - acc_lo) or (Y[:, 0].max() - Y[:, 0].min()) or max(abs(acc_lo), 1.0)
    lat_w = (lat_hi - lat_lo) or (Y[:, 1].max() - Y[:, 1].min()) or max(abs(lat_hi), 1.0)
    return {"acc": acc_lo - 0.1 * acc_w, "lat": lat_hi + 0.1 * lat_w}


def _expected_ideal(rows) -> dict[str, float]:
    """The best value of each objective over the rows (the front's best)."""
    return {"acc": max(r["objectives"]["acc"] for r in rows), "lat": min(r["objectives"]["lat"] for r in rows)}


def test_a_run_records_the_point_of_its_initial_design_and_keeps_it(tmp_path):
    problem = _problem()
    with run_search(problem, "random", budget=8, batch_size=2, n_init=4, run_dir=tmp_path, progress=False) as run:
        design = [r for r in run.rows() if r["idx"] < 4]
        recorded = run.store.meta[REF_POINT_KEY]
        assert recorded["point"] == pytest.approx(_expected(design))
        assert recorded["ideal"] == pytest.approx(_expected_ideal(design))
        assert recorded["evaluations"] == 4
        assert run.problem.ref_source == "inferred"
        scale = HypervolumeScale.from_points([("acc", "max"), ("lat", "min")], recorded["point"], recorded["ideal"], ())
        Y = np.array([[r["objectives"]["acc"], r["objectives"]["lat"]] for r in run.rows()])
        assert run.hypervolume() == pytest.approx(scale.hypervolume(Y))
    assert problem.ref_point is None  # the caller's problem is not changed
    with run_search(problem, "random", budget=14, batch_size=2, run_dir=tmp_path, progress=False) as run:
        assert run.problem.ref_point == recorded["point"]  # the later evaluations do not move it
        assert run.store.meta[REF_POINT_KEY] == recorded


def test_a_run_given_a_point_records_none(tmp_path):
    with run_search(
        _problem({"acc": 0.4, "lat": 20}), "random", budget=6, batch_size=2, n_init=4, run_dir=tmp_path, progress=False
    ) as run:
        assert REF_POINT_KEY not in run.store.meta
        assert run.problem.ref_point == {"acc": 0.4, "lat": 20.0}
        assert run.config["problem_description"]["ref_point"] == {"acc": 0.4, "lat": 20.0}


def test_two_runs_of_one_problem_infer_their_own_points(tmp_path):
    problem = _problem()
    points = []
    for seed in (0, 1):
        with run_search(
            problem, "random", budget=4, batch_size=2, n_init=4, seed=seed, run_dir=tmp_path / str(seed), progress=False
        ) as run:
            assert run.store.meta[REF_POINT_KEY]["point"] == pytest.approx(_expected(run.rows()))
            points.append(run.problem.ref_point)
    assert points[0] != points[1]


def _told(proposals, values=_values) -> pd.DataFrame:
    return pd.DataFrame([{"idx": p["idx"], **p["config"], **values(p["config"])} for p in proposals])


def test_ask_tell_point_is_provisional_until_the_design_is_told(tmp_path):
    problem = Problem(_space(), None, [("acc", "max"), ("lat", "min")], name="told")
    with Run.open(tmp_path, problem, "random", budget=10, batch_size=2, n_init=4) as run:
        asked = run.propose(4)
        tell(run, _told(asked[:2]))
        assert run.problem.ref_source == "provisional"
        assert REF_POINT_KEY not in run.store.meta
        assert "provisional" in run.ref_point_note()
        tell(run, _told(asked[2:]))
        assert run.problem.ref_source == "inferred"
        assert run.store.meta[REF_POINT_KEY]["point"] == pytest.approx(_expected(run.rows()))
        point = run.problem.ref_point
        # a corrected design row does not move the recorded point
        tell(run, _told(asked[:1], lambda c: {"acc": 0.99, "lat": 0.5}), replace=True)
        assert run.state().problem.ref_point == point
    with Run.open(tmp_path, problem) as run:
        assert run.state().problem.ref_point == point


def test_a_problem_without_a_point_cannot_normalise_before_a_run_gives_it_one():
    with pytest.raises(ProblemError, match="no reference point yet"):
        _problem().normalize(np.array([[0.5, 2.0]]))
    assert _problem().hypervolume(np.full((3, 2), np.nan)) == 0.0


def test_reports_and_the_cli_show_where_the_point_comes_from(tmp_path, capsys):
    with run_search(
        _problem(), "random", budget=6, batch_size=2, n_init=4, run_dir=tmp_path / "r", progress=False
    ) as run:
        design = [r for r in run.rows() if r["idx"] < 4]
    data = load_run(tmp_path / "r")
    assert data.ref_source == "inferred"
    assert data.ref_point == pytest.approx(_expected(design))
    assert math.isfinite(data.hypervolume_curve()[-1])
    Y = data.objectives.matrix(data.frame)
    assert data.ideal_point == pytest.approx(_expected_ideal(design))
    assert data.hypervolume_curve()[-1] == pytest.approx(
        HypervolumeScale.from_points(data.objectives, data.ref_point, data.ideal_point, ()).hypervolume(Y)
    )
    assert cli_main(["report", "--run", str(tmp_path / "r"), "--out", str(tmp_path / "rep")]) == 0
    text = (tmp_path / "rep" / "report.md").read_text()
    assert "reference point the run inferred from its initial design" in text
    capsys.readouterr()


def test_cli_search_of_a_user_space_without_a_point(tmp_path, capsys):
    space = tmp_path / "space.yaml"
    space.write_text("name: refs\nchoices:\n  - {name: a, values: [0, 1, 2, 3, 4, 5]}\n  - {name: b, values: [0, 1]}\n")
    config = tmp_path / "config.yaml"
    objectives = [["acc", "max"], ["lat", "min"]]
    problem = {"space": str(space), "evaluator": "test_ref_point:_values", "objectives": objectives}
    config.write_text(json.dumps({"problem": problem}))
    code = cli_main(
        [
            *("search", "--config", str(config), "--strategy", "random", "--budget", "6", "--batch-size", "2"),
            *("--n-init", "4", "--run", str(tmp_path / "run"), "--quiet"),
        ]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["ref_point_source"] == "inferred"
    with Run.open(tmp_path / "run") as run:
        assert out["ref_point"] == pytest.approx(_expected([r for r in run.rows() if r["idx"] < 4]))


def test_a_problem_with_its_own_ideal_keeps_it_and_the_reference_beyond_it(tmp_path):
    problem = _problem()
    problem = Problem(problem.space, problem.evaluator, ideal_point={"acc": 0.95, "lat": 1.2}, name="refs")
    with run_search(problem, "random", budget=8, batch_size=2, n_init=4, run_dir=tmp_path, progress=False) as run:
        recorded = run.store.meta[REF_POINT_KEY]
        assert recorded["ideal"] is None and run.problem.scale_ideal == {"acc": 0.95, "lat": 1.2}
        assert recorded["point"]["acc"] < 0.95 and recorded["point"]["lat"] > 1.2
        assert run.n_done == 8


@pytest.mark.parametrize("strategy", ["qnehvi", "nsga2", "random"])
def test_ask_tell_proposes_after_a_design_that_failed_entirely(tmp_path, strategy):
    problem = Problem(_space(), None, [("acc", "max"), ("lat", "min")], name="told")
    options = {"pool_size": 200, "n_gen": 1, "shortlist": 16} if strategy == "qnehvi" else {}
    with Run.open(tmp_path, problem, strategy, budget=10, batch_size=2, n_init=4, strategy_options=options) as run:
        asked = run.propose(4)
        failed = pd.DataFrame([{"idx": p["idx"], **p["config"], "error": "simulator crashed"} for p in asked])
        tell(run, failed)
        assert run.problem.ref_point is None
        more = run.propose(2)
    assert len(more) == 2 and {p["idx"] for p in more} == {4, 5}
