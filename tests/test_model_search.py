"""The hardware-only search for a fixed torch model (``cimnet-bo search --model``,
:mod:`cimnet_bo.search.network`): runs, resuming, the refusal of a changed model, the report,
the default hardware space and the reference points."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from torch import nn

from cimnet_bo.cli import main as cli_main
from cimnet_bo.hardware import HardwareConfig, simulate, space_technology
from cimnet_bo.search import ProblemError
from cimnet_bo.search.network import hardware_space_for, network_problem, step_above, step_below
from cimnet_bo.space import get_hardware_space
from cimnet_bo.store import RunStore
from cimnet_bo.workload import TableBuilder, from_torch
from cli_helpers import one_line_error

EXAMPLE = "examples.tiny_cnn:make_net"
SEARCH = ["search", "--strategy", "random", "--batch-size", "2", "--quiet"]

#: Hidden width of :func:`two_layer_net`; a test changes it to change the network.
WIDTH = 8


def two_layer_net() -> nn.Module:
    """A two-layer perceptron on 16 inputs whose hidden width is :data:`WIDTH`."""
    return nn.Sequential(nn.Linear(16, WIDTH), nn.ReLU(), nn.Linear(WIDTH, 4))


def snapshot(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder`` (run store lock files left out)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.endswith(".lock")
    }


def test_search_resume_and_report_of_a_torch_model(tmp_path, capsys):
    from examples.tiny_cnn import make_net

    run = tmp_path / "run"
    argv = [*SEARCH, "--model", EXAMPLE, "--input-shape", "1,1,28,28", "--run", str(run), "--budget", "6"]
    assert cli_main(argv) == 0
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    problem = cfg["problem"]
    assert problem["model"] == EXAMPLE and problem["input_shape"] == [1, 1, 28, 28]
    assert problem["unknown_ops"] == "error" and problem["mode"] == "hardware-only"
    assert problem["space"] == "cim-edge"  # 24 K weights: held by the edge baseline chip
    assert len(problem["table_sha256"]) == 64
    desc = cfg["problem_description"]
    assert [o["name"] for o in desc["objectives"]] == ["latency_s", "energy_j"]
    bounds = {c["name"]: c["bound"] for c in desc["constraints"]}
    assert bounds["area_mm2"] == pytest.approx(7.95, abs=0.01)  # the cim-edge baseline (README)
    assert bounds["power_w"] == pytest.approx(1.70, abs=0.01)

    # every stored latency and energy is the imported network's on the stored chip
    table = from_torch(make_net().eval(), torch.zeros(1, 1, 28, 28))
    hw_space = get_hardware_space("cim-edge")
    tech = space_technology(hw_space)
    with RunStore(run / "store.sqlite", write=False) as store:
        frame = store.to_frame()
    assert len(frame) == 6 and set(frame["network"]) == {EXAMPLE}
    for row in frame.to_dict(orient="records"):
        res = simulate(table, HardwareConfig.from_dict({k: row[k] for k in hw_space.names}), tech)
        assert row["latency_s"] == pytest.approx(res.latency_s, rel=1e-9)
        assert row["energy_j"] == pytest.approx(res.energy_j, rel=1e-9)

    # resumed with a larger budget: the same problem, the first evaluations kept
    assert cli_main(["search", "--run", str(run), "--budget", "8", "--quiet"]) == 0
    with RunStore(run / "store.sqlite", write=False) as store:
        again = store.to_frame()
    assert len(again) == 8
    assert again["latency_s"].iloc[:6].tolist() == frame["latency_s"].tolist()

    capsys.readouterr()
    assert cli_main(["report", "--run", str(run), "--out", str(tmp_path / "report")]) == 0
    text = (tmp_path / "report" / "report.md").read_text()
    assert "| run | hardware-only | random |" in text
    assert f"network={EXAMPLE}" in text
    assert (tmp_path / "report" / "roofline_best.png").stat().st_size > 0


def test_a_run_refuses_a_model_whose_table_changed(tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    model = f"{__name__}:two_layer_net"
    argv = [*SEARCH, "--model", model, "--input-shape", "1,16", "--run", str(run), "--budget", "4"]
    assert cli_main(argv) == 0
    before = snapshot(run)
    monkeypatch.setattr(sys.modules[__name__], "WIDTH", 32)
    capsys.readouterr()
    assert cli_main(["search", "--run", str(run), "--budget", "6", "--quiet"]) == 2
    line = one_line_error(capsys, "search")
    assert f"model {model!r} on input [1, 16] no longer gives the layer table" in line
    assert snapshot(run) == before


def _dense(width: int) -> TableBuilder:
    b = TableBuilder("dense")
    b.static("fc", 1, width, width)
    b.eltwise("act", width)
    return b


def test_the_default_hardware_space_holds_the_network():
    small, large = _dense(256).build(), _dense(2048).build()  # 64 K and 4.2 M weights (8 bits)
    assert hardware_space_for(small) == "cim-edge"  # 1.3 MB of cells on the edge baseline
    assert hardware_space_for(large) == "cim-server"
    assert hardware_space_for(small, "cim-server") == "cim-server"
    assert hardware_space_for(small, "vit-b-imagenet") == "cim-server"  # a registered space: its chip
    with pytest.raises(ProblemError, match="'cim-nope' is neither a hardware space"):
        hardware_space_for(small, "cim-nope")


@pytest.mark.parametrize(
    "x, above, below",
    [(1.23e-3, 2e-3, 1e-3), (2e-3, 5e-3, 1e-3), (7.3, 10.0, 5.0), (9.99e-7, 1e-6, 5e-7), (0.5, 1.0, 0.2)],
)
def test_one_two_five_steps(x, above, below):
    assert step_above(x) == above and step_below(x) == below


def test_reference_points_bracket_every_feasible_chip():
    """Random chips of the space within the budgets, simulated one by one, lie strictly inside
    the box between the ideal and the reference point."""
    table = _dense(256).build()
    objectives = ["latency_s", "energy_j", "area_mm2", "power_w"]
    p = network_problem(table, "cim-edge", objectives=objectives)
    bound = {c.name: c.bound for c in p.constraints if c.op == "<="}
    hw = p.space.hardware
    tech = space_technology(hw)
    inside = 0
    for cfg in hw.sample(300, seed=3):
        res = simulate(table, HardwareConfig.from_dict(cfg), tech)
        if not res.feasible or res.area_mm2 > bound["area_mm2"] or res.power_w > bound["power_w"]:
            continue
        inside += 1
        for o in objectives:
            assert p.ideal_point[o] < getattr(res, o) < p.ref_point[o], (o, cfg)
    assert inside > 20
    for point in (p.ref_point, p.ideal_point):  # 1, 2 or 5 times a power of ten
        mantissa = [v / 10 ** np.floor(np.log10(v)) for v in point.values()]
        assert all(min(abs(m - s) for s in (1, 2, 5)) < 1e-9 for m in mantissa), point


def test_a_fixed_network_has_no_accuracy_objective():
    with pytest.raises(ProblemError, match=r"objectives \['accuracy', 'latency_s'\] of a fixed network"):
        network_problem(_dense(64).build(), "cim-edge", objectives=["accuracy", "latency_s"])


def test_a_model_module_in_the_current_folder_is_found(tmp_path, monkeypatch):
    import sys

    from cimnet_bo.evaluate.evaluators import load_function

    (tmp_path / "netmod_here.py").write_text("def make():\n    return 'a network'\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    assert load_function("netmod_here:make")() == "a network"
    assert sys.path[-1] == str(tmp_path)  # after the installed modules: nothing is shadowed


def test_the_fingerprint_ignores_layer_names_and_sees_every_number():
    from cimnet_bo.search.network import load_model_table, table_fingerprint
    from cimnet_bo.workload import LayerTable

    table = load_model_table("examples.tiny_cnn:make_net", [1, 1, 28, 28])
    columns = table.to_dict()
    renamed = LayerTable.coerce({**columns, "name": np.array([f"node_{i}" for i in range(len(table))])}, label="x")
    assert table_fingerprint(renamed) == table_fingerprint(table)
    for col in ("M", "K", "N", "count", "reuse"):
        bumped = np.array(columns[col]).copy()
        bumped[-1] += 1
        changed = LayerTable.coerce({**columns, col: bumped}, label=table.label)
        assert table_fingerprint(changed) != table_fingerprint(table), col
