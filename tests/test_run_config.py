"""A run's stored configuration: constraints are stored structurally, and a run whose
config.yaml still writes them as text (earlier versions) opens and continues."""

from __future__ import annotations

import yaml

from cimnet_bo.analysis import load_run
from cimnet_bo.search import Problem, Run, run_search
from cimnet_bo.search.toy import SyntheticAccuracy


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
