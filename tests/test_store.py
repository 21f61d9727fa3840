"""Run store: commits, resume, crash safety (SIGKILL mid-run), export / import, column checks."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cimnet_bo.space import Choice, Space, get_space
from cimnet_bo.store import DatasetError, RunStore, StoreError, check_frame, read_dataset

TESTS = Path(__file__).resolve().parent
TOY = Space(
    "toy", [Choice("a", (1, 2, 3)), Choice("cell", ("sram", "rram"), categorical=True), Choice("x", (0.5, 1.0))]
)


@pytest.fixture
def store(tmp_path):
    with RunStore(tmp_path / "run.sqlite", TOY, ["y", {"name": "acc", "direction": "max"}]) as st:
        yield st


def test_record_and_read_back(store):
    assert store._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.record(
        {"a": 1, "cell": "sram", "x": 0.5},
        {"y": 1.5, "acc": 0.9},
        evaluator="ev",
        idx=0,
        seed=7,
        extra={"resident": True},
    )
    store.record(
        {"a": 2, "cell": "rram", "x": 1.0},
        {"y": float("nan"), "acc": None},
        evaluator="ev",
        idx=1,
        error="RuntimeError: boom",
    )
    rows = store.rows()
    assert len(store) == 2 and store.done() == {0, 1}
    assert rows[0]["config"] == {"a": 1, "cell": "sram", "x": 0.5} and rows[0]["seed"] == 7
    assert rows[0]["objectives"] == {"y": 1.5, "acc": 0.9} and rows[0]["extra"] == {"resident": True}
    assert rows[0]["space"] == "toy" and rows[0]["space_version"] == "1" and rows[0]["evaluator"] == "ev"
    assert rows[0]["created"] > 0
    assert np.isnan(rows[1]["objectives"]["y"]) and rows[1]["error"] == "RuntimeError: boom"
    assert [r["idx"] for r in store.failures()] == [1]
    with pytest.raises(StoreError, match="idx=1 is already recorded"):
        store.record({"a": 3, "cell": "sram", "x": 0.5}, {"y": 1.0}, evaluator="ev", idx=1)
    with pytest.raises(ValueError, match="a=9"):
        store.record({"a": 9, "cell": "sram", "x": 0.5}, {"y": 1.0}, evaluator="ev")
    assert store.delete_failed() == 1 and store.done() == {0}


def test_reopen_checks_space_and_objectives(tmp_path, store):
    store.record({"a": 1, "cell": "sram", "x": 0.5}, {"y": 1.0, "acc": 0.5}, evaluator="ev", idx=0)
    path = store.path
    store.close()
    with RunStore(path) as again:  # the stored space description is enough
        assert again.space.names == TOY.names and len(again) == 1 and again.objective_names == ["y", "acc"]
    other = Space("other", [Choice("a", (1, 2))])
    with pytest.raises(StoreError, match="belongs to space 'toy'"):
        RunStore(path, other)
    with pytest.raises(StoreError, match="records objectives"):
        RunStore(path, TOY, ["z"])
    with pytest.raises(FileNotFoundError):
        RunStore(tmp_path / "missing.sqlite", create=False)


def test_export_import_round_trip(tmp_path, store):
    rng = np.random.default_rng(0)
    configs = TOY.sample(12, seed=1)
    for i, c in enumerate(configs):
        err = "boom" if i == 5 else None
        store.record(
            c,
            {"y": float(rng.random()), "acc": float(rng.random())},
            evaluator="ev",
            idx=i,
            extra={"resident": bool(i % 2)},
            error=err,
        )
    for suffix in ("parquet", "csv"):
        path = store.export(tmp_path / f"data.{suffix}")
        ds = read_dataset(path, TOY if suffix == "csv" else None)
        assert len(ds) == 11  # the failed row is not exported
        frame = store.to_frame()
        for col in ("a", "cell", "x", "y", "acc"):
            assert (
                ds.frame[col].tolist() == pytest.approx(frame[col].tolist())
                if col in ("x", "y", "acc")
                else ds.frame[col].tolist() == frame[col].tolist()
            )
        assert ds.configs() == [c for i, c in enumerate(configs) if i != 5]
        if suffix == "parquet":
            assert ds.objective_names == ["y", "acc"] and ds.objectives[1]["direction"] == "max"
            assert ds.extras == ["resident"]
        with RunStore(tmp_path / f"imported_{suffix}.sqlite", TOY) as st2:
            assert st2.import_frame(ds.frame, evaluator="import", extras=ds.extras) == 11
            back = st2.to_frame()
            assert back[["a", "cell", "x"]].values.tolist() == ds.frame[["a", "cell", "x"]].values.tolist()
            assert back["y"].tolist() == pytest.approx(ds.frame["y"].tolist())
    full = store.export(tmp_path / "all.parquet", include_failed=True)
    assert len(pd.read_parquet(full)) == 12


def test_mismatched_columns_are_named(tmp_path):
    vit = get_space("vit-fmnist")
    frame = pd.DataFrame(vit.sample(5, seed=0))
    frame["accuracy"] = 0.9
    ok, objs, _ = check_frame(frame, vit)
    assert objs == ["accuracy"]
    bad = frame.drop(columns=["heads_0", "rows"]).rename(columns={"mlp_1": "mlp1"})
    bad["note"] = "hello"
    path = tmp_path / "bad.csv"
    bad.to_csv(path, index=False)
    with pytest.raises(DatasetError) as e:
        read_dataset(path, vit)
    msg = str(e.value)
    assert "missing choice columns ['heads_0', 'mlp_1', 'rows']" in msg
    assert "columns not in the space ['note']" in msg
    with pytest.raises(DatasetError, match=r"columns not in the space \['mlp1'\]"):
        check_frame(frame.rename(columns={"mlp_1": "mlp1"}), vit, ["accuracy"])
    with pytest.raises(DatasetError, match=r"missing objective columns \['latency_s'\]"):
        check_frame(frame, vit, ["accuracy", "latency_s"])
    wrong = frame.copy()
    wrong.loc[2, "glb_kb"] = 48
    with pytest.raises(DatasetError, match=r"column 'glb_kb' has value 48"):
        check_frame(wrong, vit)
    with pytest.raises(DatasetError, match="pass space"):
        read_dataset(path)
    # a parquet of another space is refused by name
    pq = tmp_path / "vit.parquet"
    with RunStore(tmp_path / "v.sqlite", vit, ["accuracy"]) as st:
        for c in vit.sample(3, seed=0):
            st.record(c, {"accuracy": 0.5}, evaluator="ev")
        st.export(pq)
    with pytest.raises(DatasetError, match="not 'cnn-fmnist'"):
        read_dataset(pq, get_space("cnn-fmnist"))


def _label_cmd(store, out, n):
    return [
        sys.executable,
        "-m",
        "cimnet_bo.cli",
        "label",
        "--space",
        "vit-fmnist",
        "-n",
        str(n),
        "--seed",
        "3",
        "--subnets",
        str(n // 2),
        "--out",
        str(out),
        "--store",
        str(store),
        "--batch-size",
        "2",
        "--accuracy",
        "label_helpers:slow_accuracy",
        "--no-progress",
    ]


def _snapshot(path):
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {r[0]: r[1:] for r in con.execute("SELECT idx, config, objectives, created FROM evaluations")}
    finally:
        con.close()


def test_killed_labeling_run_resumes_without_loss_or_duplicates(tmp_path):
    """A real `cimnet-bo label` process is SIGKILLed mid-run, then the same command resumes."""
    n = 60
    store, out = tmp_path / "run.sqlite", tmp_path / "labels.parquet"
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]), CIMNET_TEST_SLEEP="0.1"
    )
    proc = subprocess.Popen(_label_cmd(store, out, n), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 60
        seen = 0
        while time.time() < deadline and proc.poll() is None:
            if store.exists():
                try:
                    seen = len(_snapshot(store))
                except sqlite3.OperationalError:
                    seen = 0
            if seen >= 8:
                break
            time.sleep(0.05)
        assert proc.poll() is None, f"labeling finished before it could be killed: {proc.stderr.read()!r}"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    before = _snapshot(store)
    assert 8 <= len(before) < n
    assert not out.exists()
    env["CIMNET_TEST_SLEEP"] = "0"
    done = subprocess.run(_label_cmd(store, out, n), env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["new"] == n - len(before) and summary["ok"] == n
    after = _snapshot(store)
    assert sorted(after) == list(range(n))  # nothing lost, idx unique by construction
    con = sqlite3.connect(store)
    (count,) = con.execute("SELECT COUNT(*) FROM evaluations").fetchone()
    (dupes,) = con.execute("SELECT COUNT(*) - COUNT(DISTINCT config_key) FROM evaluations").fetchone()
    con.close()
    assert count == n and dupes == 0
    for idx, row in before.items():  # rows committed before the kill are untouched
        assert after[idx] == row
    frame = pd.read_parquet(out)
    assert len(frame) == n and frame["idx"].is_unique and frame["error"].isna().all()


def test_replace_and_delete_are_all_or_nothing(store):
    configs = TOY.sample(3, seed=2)
    for i, c in enumerate(configs):
        store.record(c, {"y": float(i), "acc": 0.5}, evaluator="ev", idx=i, tag=f"t{i}", seed=4)
    before = store.rows()
    with pytest.raises(StoreError, match="idx=7 is not recorded"):
        store.replace([{"idx": 0, "objectives": {"y": 9.0}}, {"idx": 7, "objectives": {"y": 9.0}}], evaluator="new")
    with pytest.raises(StoreError, match="idx=7 is not recorded"):
        store.delete([1, 7])
    assert store.rows() == before
    store.replace(
        [{"idx": 1, "objectives": {"y": 9.0, "acc": 0.25}, "error": None, "extra": {"r": 1}}], evaluator="new"
    )
    row = {r["idx"]: r for r in store.rows()}[1]
    assert row["objectives"] == {"y": 9.0, "acc": 0.25} and row["extra"] == {"r": 1} and row["evaluator"] == "new"
    assert (row["config"], row["tag"], row["seed"]) == (before[1]["config"], "t1", 4)
    assert store.delete([0, 2]) == 2 and store.done() == {1}


def test_impossible_values_are_refused_on_import_and_read(tmp_path, capsys):
    vit = get_space("vit-fmnist")
    frame = pd.DataFrame(vit.sample(4, seed=0))
    frame["accuracy"] = [0.9, 7.5, 0.8, float("nan")]  # an empty cell is allowed
    frame["latency_s"] = [1e-4, 2e-4, -1.0, 1e-4]
    frame["program_time_s"] = [0.0, 1e-6, 1e-6, float("inf")]
    with RunStore(tmp_path / "v.sqlite", vit) as st:
        with pytest.raises(DatasetError) as e:
            st.import_frame(frame, evaluator="import", extras=["program_time_s"])
        assert len(st) == 0
    msg = str(e.value)
    assert "row 2, accuracy = 7.5: outside [0, 1]" in msg and "row 3, latency_s = -1: outside (0, inf)" in msg
    assert "row 4, program_time_s = inf: not finite" in msg and "row 1" not in msg and "row 4, accuracy" not in msg
    path = tmp_path / "labels.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(DatasetError, match=r"row 3, latency_s = -1: outside"):
        read_dataset(path, vit)
    from cimnet_bo.cli import main as cli_main

    out = tmp_path / "pred"
    assert cli_main(["train-predictors", "--data", str(path), "--space", "vit-fmnist", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1 and "row 2, accuracy = 7.5" in err
    assert not out.exists()
