"""Told values: output domains, refused files (nothing stored, each wrong cell named), and the
correction (``--replace``) and withdrawal of told results, through the API and the CLI."""

from __future__ import annotations

import json
import math
import shutil

import pandas as pd
import pytest

from cimnet_bo.cli import main as cli_main
from cimnet_bo.hardware import ROOFLINE_EXTRAS, ROOFLINE_OBJECTIVES
from cimnet_bo.moo import (
    FINITE,
    LOG_OBJECTIVES,
    LOG_TARGETS,
    OUTPUT_DOMAINS,
    domain_problem,
    domain_problems,
    output_domain,
)
from cimnet_bo.search import Run, TellError, problem_from_spec, propose, tell, withdraw
from cimnet_bo.space import get_space
from cli_helpers import one_line_error

#: Candidates proposed by the template run.
Q = 4


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """An ask/tell run of vit-fmnist (accuracy told, hardware outputs computed) with Q proposals."""
    path = tmp_path_factory.mktemp("template") / "run"
    problem = problem_from_spec({"space": "vit-fmnist", "accuracy": "external"})
    with Run.open(path, problem, "random", budget=100, batch_size=Q, n_init=Q) as run:
        asked = propose(run, Q)
    return path, asked


@pytest.fixture
def asked(template, tmp_path):
    """A fresh copy of the template run: ``(run directory, proposals)``."""
    src, proposals = template
    path = tmp_path / "run"
    shutil.copytree(src, path)
    return path, proposals


def _results(proposals, **cells) -> pd.DataFrame:
    """The proposals with accuracy 0.9 each, and ``cells`` (``{column: {row: value}}``, rows
    counted from 1) written over it."""
    frame = pd.DataFrame(proposals)
    frame["accuracy"] = 0.9
    for col, by_row in cells.items():
        if col not in frame.columns:
            frame[col] = float("nan")
        frame[col] = frame[col].astype(object)
        for row, v in by_row.items():
            frame.loc[row - 1, col] = v
    return frame


def _config(proposal: dict) -> dict:
    """The configuration of one proposal (its row without ``idx``)."""
    return {k: v for k, v in proposal.items() if k != "idx"}


def _snapshot(path) -> str:
    """The run's stored rows and pending proposals, as text (NaN compares equal)."""
    with Run.open(path) as run:
        return json.dumps([run.store.rows(), run.store.meta.get("pending")], default=str, sort_keys=True)


# ============================================================================ domains
def test_every_known_output_has_a_domain():
    known = {*ROOFLINE_OBJECTIVES, *ROOFLINE_EXTRAS, *LOG_OBJECTIVES, *LOG_TARGETS, "accuracy"}
    assert known <= set(OUTPUT_DOMAINS)
    assert output_domain("my_own_score") is FINITE


@pytest.mark.parametrize(
    "name, inside, outside",
    [
        ("accuracy", [0.0, 1.0, 0.5], [-1e-12, 1.0 + 1e-12, 7.5, -3.0, 1e300]),
        ("latency_s", [5e-324, 1e-300, 1e300], [0.0, -1.0, -5e-324]),
        ("energy_j", [1e-12], [0.0]),
        ("program_time_s", [0.0, 1e-3], [-1e-9]),
        ("feasible", [0.0, 1.0], [2.0, -1.0]),
        ("my_own_score", [-1e300, 0.0, 1e300], []),
    ],
)
def test_domain_bounds(name, inside, outside):
    domain = output_domain(name)
    assert domain.contains(inside).all() and not domain.contains(outside).any()
    assert not domain.contains([math.inf, -math.inf, math.nan]).any()
    for v in inside:
        assert domain_problem(name, v) is None
    for v in outside:
        assert domain_problem(name, v) == f"{name} = {v:.10g}: outside {domain}"


def test_domain_problem_messages():
    assert domain_problem("accuracy", 7.5) == "accuracy = 7.5: outside [0, 1]"
    assert domain_problem("latency_s", -1) == "latency_s = -1: outside (0, inf)"
    assert domain_problem("my_own_score", -math.inf) == "my_own_score = -inf: not finite"
    assert domain_problem("accuracy", "abc") == "accuracy = 'abc': not a number"
    assert domain_problem("accuracy", "0.5") is None
    assert domain_problem("accuracy", math.nan) == "accuracy: missing"
    assert domain_problem("accuracy", "nan") == "accuracy: missing"
    assert domain_problem("accuracy", None, missing_ok=True) is None
    values = [0.5, math.nan, 2.0, -math.inf, 1.0]
    assert domain_problems("accuracy", values) == [
        (2, "accuracy = 2: outside [0, 1]"),
        (3, "accuracy = -inf: not finite"),
    ]
    assert domain_problems("accuracy", values, missing_ok=False)[0] == (1, "accuracy: missing")
    assert domain_problems("accuracy", ["0.5", "x", 3]) == [
        (1, "accuracy = 'x': not a number"),
        (2, "accuracy = 3: outside [0, 1]"),
    ]


# ============================================================================ tell refuses
IMPOSSIBLE = [
    ("accuracy", 7.5, "accuracy = 7.5: outside [0, 1]"),
    ("accuracy", -3, "accuracy = -3: outside [0, 1]"),
    ("accuracy", 1e300, "accuracy = 1e+300: outside [0, 1]"),
    ("latency_s", -1, "latency_s = -1: outside (0, inf)"),
    ("latency_s", 0, "latency_s = 0: outside (0, inf)"),
    ("latency_s", math.inf, "latency_s = inf: not finite"),
    ("latency_s", -math.inf, "latency_s = -inf: not finite"),
    ("accuracy", math.nan, "accuracy: missing"),
    ("accuracy", "high", "accuracy = 'high': not a number"),
]


@pytest.mark.parametrize("column, value, why", IMPOSSIBLE)
def test_tell_refuses_an_impossible_value(asked, tmp_path, column, value, why):
    path, proposals = asked
    results = tmp_path / "results.csv"
    _results(proposals, **{column: {3: value}}).to_csv(results, index=False)
    before = _snapshot(path)
    with pytest.raises(TellError) as e:
        tell(path, results)
    assert f"row 3 (idx {proposals[2]['idx']}), {why}" in str(e.value)
    assert "nothing was stored" in str(e.value)
    assert _snapshot(path) == before


def test_every_wrong_cell_is_listed(asked):
    path, proposals = asked
    frame = _results(proposals, accuracy={1: 1.5, 4: "?"}, latency_s={2: -2.0})
    before = _snapshot(path)
    with pytest.raises(TellError) as e:
        tell(path, frame)
    msg = str(e.value)
    i = [p["idx"] for p in proposals]
    assert f"row 1 (idx {i[0]}), accuracy = 1.5: outside [0, 1]" in msg
    assert f"row 2 (idx {i[1]}), latency_s = -2: outside (0, inf)" in msg
    assert f"row 4 (idx {i[3]}), accuracy = '?': not a number" in msg
    assert "\n" not in msg and _snapshot(path) == before


def test_bad_idx_and_missing_column_are_named(asked):
    path, proposals = asked
    frame = _results(proposals).drop(columns=["accuracy"]).astype({"idx": object})
    frame.loc[1, "idx"] = "two"
    before = _snapshot(path)
    with pytest.raises(TellError) as e:
        tell(path, frame)
    i = [p["idx"] for p in proposals]
    assert "row 2: idx 'two' is not a candidate number" in str(e.value)
    assert f"no column 'accuracy' (the rows without an error need it: idx {[i[0], i[2], i[3]]})" in str(e.value)
    assert _snapshot(path) == before


def test_failed_rows_may_leave_values_empty_but_not_infinite(asked):
    path, proposals = asked
    failed = {2: "the chip hung"}
    with pytest.raises(TellError, match=r"row 2 \(idx \d+\), accuracy = inf: not finite"):
        tell(path, _results(proposals, accuracy={2: math.inf}, error=failed))
    out = tell(path, _results(proposals, accuracy={2: math.nan}, error=failed))
    assert out["told"] == Q and out["evaluations"] == Q
    with Run.open(path) as run:
        row = run.rows()[1]
        assert row["error"] == "the chip hung" and math.isnan(row["objectives"].get("accuracy", math.nan))


def test_boundary_values_are_accepted(asked):
    path, proposals = asked
    tiny = 1e-300
    tell(path, _results(proposals, accuracy={1: 0.0, 2: 1.0}, latency_s={3: tiny}))
    with Run.open(path) as run:
        got = {r["idx"]: r["objectives"] for r in run.rows()}
    i = [p["idx"] for p in proposals]
    assert got[i[0]]["accuracy"] == 0.0 and got[i[1]]["accuracy"] == 1.0
    assert got[i[2]]["latency_s"] == tiny  # told values are kept, not recomputed
    assert got[i[3]]["latency_s"] > 0 and got[i[3]]["latency_s"] != tiny  # missing cheap value: computed


def test_cli_tell_error_is_one_line(asked, tmp_path, capsys):
    path, proposals = asked
    bad = tmp_path / "bad.csv"
    _results(proposals, accuracy={3: 7.5}).to_csv(bad, index=False)
    before = _snapshot(path)
    assert cli_main(["tell", "--run", str(path), str(bad)]) == 2
    line = one_line_error(capsys, "tell")
    assert f"row 3 (idx {proposals[2]['idx']}), accuracy = 7.5: outside [0, 1]" in line
    assert _snapshot(path) == before


# ============================================================================ replace
def test_replace_corrects_told_results_all_or_nothing(asked):
    path, proposals = asked
    i = [p["idx"] for p in proposals]
    tell(path, _results(proposals[:3]))
    with pytest.raises(TellError, match=r"already told.*--replace"):
        tell(path, _results(proposals[:1], accuracy={1: 0.5}))
    with Run.open(path) as run:
        tags = {r["idx"]: r["tag"] for r in run.rows()}
    before = _snapshot(path)
    # one wrong row (the last) and nothing changes, the good corrections included
    with pytest.raises(TellError, match=r"row 2 \(idx \d+\), accuracy = 2: outside"):
        tell(path, _results(proposals[:2], accuracy={1: 0.5, 2: 2.0}), replace=True)
    # a replacement must keep the stored configuration
    moved = _results(proposals[:1], accuracy={1: 0.5})
    moved["rows"] = [r for r in get_space("vit-fmnist")["rows"].values if r != proposals[0]["rows"]][0]
    with pytest.raises(TellError, match=rf"row 1 \(idx {i[0]}\): the configuration differs"):
        tell(path, moved, replace=True)
    assert _snapshot(path) == before
    # corrections and a first tell in one file
    out = tell(path, _results([proposals[0], proposals[3]], accuracy={1: 0.5, 2: 0.7}), "lab-2", replace=True)
    assert out == {"told": 2, "replaced": 1, "pending": 0, "evaluations": Q}
    with Run.open(path) as run:
        rows = {r["idx"]: r for r in run.rows()}
    assert rows[i[0]]["objectives"]["accuracy"] == 0.5 and rows[i[0]]["evaluator"] == "lab-2"
    assert rows[i[0]]["tag"] == tags[i[0]] and rows[i[0]]["config"] == _config(proposals[0])
    assert rows[i[0]]["objectives"]["latency_s"] > 0  # the cheap outputs computed again
    assert rows[i[3]]["objectives"]["accuracy"] == 0.7
    assert rows[i[1]]["objectives"]["accuracy"] == 0.9  # untouched


# ============================================================================ withdraw
def test_withdrawn_results_are_pending_again(asked):
    path, proposals = asked
    i = [p["idx"] for p in proposals]
    tell(path, _results(proposals))
    before = _snapshot(path)
    with pytest.raises(TellError, match=r"idx \[99\] were never proposed"):
        withdraw(path, [i[1], 99])  # one unknown idx: nothing withdrawn
    assert _snapshot(path) == before
    with Run.open(path) as run:
        out = withdraw(run, [i[1], i[3]])
        assert out == {"withdrawn": [i[1], i[3]], "pending": 2, "evaluations": Q - 2}
        assert {p["idx"]: p["config"] for p in run.pending()} == {
            i[1]: _config(proposals[1]),
            i[3]: _config(proposals[3]),
        }
        with pytest.raises(TellError, match=rf"idx \[{i[1]}\] are pending"):
            withdraw(run, [i[1]])
        nxt = propose(run, 1)  # numbers are not reused, not even the withdrawn highest one
        assert nxt[0]["idx"] == max(i) + 1
        again = tell(run, _results([proposals[1], proposals[3]], accuracy={1: 0.6, 2: 0.8}))
        assert again["told"] == 2 and again["replaced"] == 0 and run.n_done == Q
        assert [p["idx"] for p in run.pending()] == [nxt[0]["idx"]]
        assert {r["idx"]: r["objectives"]["accuracy"] for r in run.rows()}[i[3]] == 0.8


def test_cli_replace_and_withdraw(asked, tmp_path, capsys):
    path, proposals = asked
    i = [p["idx"] for p in proposals]
    results = tmp_path / "results.csv"
    _results(proposals).to_csv(results, index=False)
    assert cli_main(["tell", "--run", str(path), str(results)]) == 0
    capsys.readouterr()
    _results(proposals[:2], accuracy={2: 0.4}).to_csv(results, index=False)
    assert cli_main(["tell", "--run", str(path), str(results)]) == 2
    assert "--replace" in one_line_error(capsys, "tell")
    assert cli_main(["tell", "--run", str(path), "--replace", str(results)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["told"] == 2 and out["replaced"] == 2 and out["evaluations"] == Q
    before = _snapshot(path)
    assert cli_main(["withdraw", "--run", str(path), "--idx", f"{i[0]},{max(i) + 5}"]) == 2
    assert f"[{max(i) + 5}] were never proposed" in one_line_error(capsys, "withdraw")
    assert _snapshot(path) == before
    assert cli_main(["withdraw", "--run", str(path), "--idx", f"{i[1]},{i[2]}"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["withdrawn"] == [i[1], i[2]] and out["pending"] == 2 and out["evaluations"] == Q - 2
    _results(proposals[1:3], accuracy={1: 0.3}).to_csv(results, index=False)
    assert cli_main(["tell", "--run", str(path), str(results)]) == 0
    assert json.loads(capsys.readouterr().out)["pending"] == 0
    with Run.open(path) as run:
        assert {r["idx"]: r["objectives"]["accuracy"] for r in run.rows()}[i[1]] == 0.3
