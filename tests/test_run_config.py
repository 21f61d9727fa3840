"""A run's stored configuration: constraints are stored structurally, and a run whose
config.yaml still writes them as text, or lacks a strategy option added since (earlier
versions), opens and continues; a run's results
(Pareto set, best values, hypervolume) from the multi-objective layer."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from cimnet_bo.analysis import load_run
from cimnet_bo.search import Problem, ProblemError, Run, make_strategy, run_search
from cimnet_bo.search.toy import SyntheticAccuracy
from cimnet_bo.store import RunStore
from search_helpers import zdt


def test_constraints_are_stored_structurally_and_text_ones_still_open(tmp_path):
    problem = Problem.from_space("vit-fmnist", accuracy=SyntheticAccuracy("vit-fmnist"))
    run_search(problem, "random", budget=4, batch_size=2, seed=0, run_dir=tmp_path, progress=False).close()
    cfg_path = tmp_path / "config.yaml"
    cfg = yaml.safe_load(cfg_path.read_text())
    stored = cfg["problem_description"]["constraints"]
    assert stored == [c.to_dict() for c in problem.constraints]
    assert {c["name"] for c in stored} == {"feasible", "area_mm2", "power_w"}
    area = next(c["bound"] for c in stored if c["name"] == "area_mm2")
    assert load_run(tmp_path).constraints["area_mm2"] == ("<=", area)  # exact, no roofline rerun

    cfg["problem_description"]["constraints"] = [str(c) for c in problem.constraints]  # the text form
    cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    assert load_run(tmp_path).constraints["area_mm2"] == ("<=", area)
    with Run.open(tmp_path, problem, budget=6) as run:
        assert run.n_done == 4 and run.config["problem_description"]["constraints"] == stored
    run_search(problem, "random", budget=6, batch_size=2, seed=0, run_dir=tmp_path, progress=False).close()
    assert yaml.safe_load(cfg_path.read_text())["problem_description"]["constraints"] == stored
    assert len(load_run(tmp_path).frame) == 6


def _told_problem(constraints=()):
    from cimnet_bo.space import get_space

    space = get_space("vit-fmnist").subnet
    return Problem(space, None, [("f1", "min"), ("f2", "min")], constraints=constraints, ref_point=[1.0, 1.0])


def test_pareto_keeps_the_first_of_repeated_objective_values(tmp_path):
    from cimnet_bo.search import propose, tell

    with Run.open(tmp_path, _told_problem(), strategy="random", budget=8, batch_size=4, seed=0) as run:
        asked = propose(run, 4)
        tell(run, [{"idx": a["idx"], "f1": 0.5, "f2": 0.5} for a in asked])
        front = run.pareto()
        assert len(front) == 1 and front["idx"].tolist() == [asked[0]["idx"]]
        assert run.best() == {"f1": 0.5, "f2": 0.5} and run.hypervolume() == pytest.approx(0.25)
        with pytest.raises(ValueError, match=r"n x 2"):
            run.problem.hypervolume(np.ones((2, 3)))


def test_a_text_constraint_with_more_digits_than_it_printed_still_opens(tmp_path):
    problem = _told_problem(["f1 <= 0.1234567"])
    Run.open(tmp_path, problem, strategy="random", budget=8, batch_size=4, seed=0).close()
    cfg_path = tmp_path / "config.yaml"
    cfg = yaml.safe_load(cfg_path.read_text())
    assert cfg["problem_description"]["constraints"] == [{"name": "f1", "op": "<=", "bound": 0.1234567}]
    cfg["problem_description"]["constraints"] = ["f1 <= 0.123457"]  # as earlier versions wrote it (%g)
    cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    with Run.open(tmp_path, problem, budget=8) as run:
        assert run.problem.constraints[0].bound == 0.1234567
    with pytest.raises(ProblemError, match="different configuration"):
        Run.open(tmp_path, _told_problem(["f1 <= 0.2"]), budget=8)


def test_a_run_made_before_a_strategy_option_existed_goes_on_as_it_began(tmp_path):
    run_search(zdt(), "qnehvi", budget=4, batch_size=4, n_init=4, run_dir=tmp_path, progress=False).close()
    cfg_path = tmp_path / "config.yaml"
    cfg = yaml.safe_load(cfg_path.read_text())
    # as written before these options existed (the store's copy is edited the same way)
    for option in ("failure_model", "gp_warm_maxiter", "shortlist"):
        del cfg["strategy_options"][option]
    cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    with RunStore(tmp_path / "store.sqlite") as store:
        store.set_meta("run_config", cfg)
    with Run.open(tmp_path, zdt(), budget=8) as run:
        assert run.n_done == 4
        assert run.strategy.failure_model is False  # its value before it existed (OPTIONS_BEFORE)
        assert run.strategy.gp_warm_maxiter is None
        assert run.strategy.shortlist == make_strategy("qnehvi").shortlist  # not listed there: the default
    with pytest.raises(ProblemError, match="strategy_options.failure_model: False .stored. vs True .now."):
        Run.open(tmp_path, zdt(), strategy_options={"failure_model": True})
