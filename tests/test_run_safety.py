"""A run directory stays consistent whatever happens around it: one writer at a time, a
tampered, emptied or malformed config.yaml, a vanished or emptied store, a proposal file that
cannot be written, a budget below the stored evaluations, and evaluations that all fail."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cimnet_bo.cli import main as cli_main
from cimnet_bo.evaluate import CallableEvaluator
from cimnet_bo.search import Problem, ProblemError, Run, SearchError, propose, run_search
from cimnet_bo.search.toy import zdt_space, zdt_values
from cimnet_bo.store import LockedError, RunStore
from search_helpers import zdt

REPO = Path(__file__).resolve().parents[1]


def _run(path: Path, budget: int = 6, **kw) -> Run:
    return run_search(zdt(), "random", budget=budget, batch_size=2, seed=0, run_dir=path, progress=False, **kw)


def _digest(path: Path) -> dict[str, str]:
    return {p.name: hashlib.sha1(p.read_bytes()).hexdigest() for p in sorted(path.iterdir()) if p.is_file()}


@pytest.fixture
def done_run(tmp_path: Path) -> Path:
    path = tmp_path / "run"
    _run(path).close()
    return path


# ------------------------------------------------------------------------------ one writer
HOLDER = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {tests!r})
    from search_helpers import zdt
    from cimnet_bo.search import Run
    run = Run.open({path!r}, zdt())
    print("holding", flush=True)
    time.sleep(120)
    """
)


def test_second_writer_is_refused_naming_the_other_process_and_a_killed_holder_frees_the_run(done_run: Path) -> None:
    before = _digest(done_run)
    code = HOLDER.format(tests=str(REPO / "tests"), path=str(done_run))
    holder = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)}
    )
    try:
        assert holder.stdout.readline().strip() == "holding"
        with pytest.raises(LockedError) as err:
            Run.open(done_run, zdt())
        assert f"process {holder.pid}" in str(err.value)
        assert str(done_run) in str(err.value)
        with pytest.raises(LockedError):
            _run(done_run, budget=8)
        # readers are not blocked
        with RunStore(done_run / "store.sqlite", write=False) as store:
            assert len(store) == 6
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert {k: v for k, v in _digest(done_run).items() if k.endswith(".sqlite")} == {
        k: v for k, v in before.items() if k.endswith(".sqlite")
    }
    with _run(done_run, budget=8) as run:  # the lock died with its holder
        assert run.n_done == 8


def test_second_search_process_on_one_run_exits_2_naming_the_run(tmp_path: Path) -> None:
    run = tmp_path / "run"
    table = REPO / "data" / "labels" / "vit_fmnist.parquet"
    argv = f"search --space vit-fmnist --table {table} --strategy random --budget 4 --batch-size 2 --run {run} --quiet"
    assert cli_main(argv.split()) == 0
    code = f"import time; from cimnet_bo.search import Run; r = Run.open({str(run)!r}); print('ok', flush=True)"
    code += "; time.sleep(99)"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert holder.stdout.readline().strip() == "ok"
        before = _digest(run)
        res = subprocess.run(
            [sys.executable, "-m", "cimnet_bo", "search", "--run", str(run), "--budget", "8", "--quiet"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert res.returncode == 2
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert f"process {holder.pid}" in res.stderr and str(run) in res.stderr
    assert _digest(run) == before


# ------------------------------------------------------------------------------ config.yaml
def test_emptied_config_is_restored_from_the_store_and_still_guards_the_run(done_run: Path) -> None:
    original = (done_run / "config.yaml").read_text()
    (done_run / "config.yaml").write_text("")
    with pytest.raises(ProblemError, match="seed"):
        run_search(zdt(), "random", budget=8, batch_size=2, seed=5, run_dir=done_run, progress=False)
    with pytest.raises(ProblemError, match="strategy"):
        run_search(zdt(), "nsga2", budget=8, batch_size=2, seed=0, run_dir=done_run, progress=False)
    with Run.open(done_run, zdt()) as run:
        assert run.n_done == 6
    assert (done_run / "config.yaml").read_text() == original


def test_deleted_config_is_restored_from_the_store(done_run: Path) -> None:
    original = (done_run / "config.yaml").read_text()
    (done_run / "config.yaml").unlink()
    with _run(done_run, budget=8) as run:
        assert run.n_done == 8 and run.config["strategy"] == "random"
    assert (done_run / "config.yaml").read_text() == original.replace("budget: 6", "budget: 8")


def test_edited_config_is_refused_naming_the_difference(done_run: Path) -> None:
    cfg = done_run / "config.yaml"
    cfg.write_text(cfg.read_text().replace("seed: 0", "seed: 7").replace("strategy: random", "strategy: nsga2"))
    before = _digest(done_run)
    with pytest.raises(ProblemError) as err:
        Run.open(done_run, zdt())
    assert "seed: 0 (stored) vs 7 (now)" in str(err.value)
    assert "strategy: 'random' (stored) vs 'nsga2' (now)" in str(err.value)
    assert _digest(done_run) == before


@pytest.mark.parametrize("text", ["budget: [1, 2\n", "- just\n- a list\n", "version: 1\n\tbad: tab\n"])
def test_malformed_config_is_one_clear_error(done_run: Path, text: str) -> None:
    (done_run / "config.yaml").write_text(text)
    before = _digest(done_run)
    with pytest.raises(ProblemError, match="config.yaml"):
        Run.open(done_run, zdt())
    assert _digest(done_run) == before


# ------------------------------------------------------------------------------ the store
@pytest.mark.parametrize("how", ["deleted", "emptied"])
def test_vanished_store_does_not_restart_the_run(done_run: Path, how: str) -> None:
    store = done_run / "store.sqlite"
    for p in done_run.glob("store.sqlite-*"):
        p.unlink()
    if how == "deleted":
        store.unlink()
    else:
        store.write_bytes(b"")
    with pytest.raises(ProblemError, match="store") as err:
        _run(done_run, budget=8)
    assert "evaluations are gone" in str(err.value)
    assert not store.exists() or store.stat().st_size == 0


def test_budget_below_stored_evaluations_is_refused(done_run: Path) -> None:
    with pytest.raises(ProblemError, match="budget 4 is below the 6 evaluations"):
        _run(done_run, budget=4)
    with Run.open(done_run, zdt()) as run:
        assert run.budget == 6 and run.n_done == 6
    # the boundary: as many as stored
    with _run(done_run, budget=6) as run:
        assert run.n_done == 6


def test_run_directory_that_is_a_file_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "run"
    f.write_text("x")
    with pytest.raises(ProblemError, match="is a file"):
        _run(f)
    assert f.read_text() == "x"


# ------------------------------------------------------------------------------ propose
def test_propose_writes_its_file_before_recording_candidates(tmp_path: Path, monkeypatch) -> None:
    import pandas as pd

    run = Run.open(tmp_path / "ask", zdt(), "random", budget=20, batch_size=2, seed=0)

    def full_disk(self, *a, **k):
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(pd.DataFrame, "to_csv", full_disk)
        with pytest.raises(OSError, match="No space"):
            propose(run, 3, out=tmp_path / "next.csv")
    assert not (tmp_path / "next.csv").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".next.csv")]
    assert run.pending() == [] and run.store.meta.get("pending", []) == []
    rows = propose(run, 3, out=tmp_path / "next.csv")
    frame = pd.read_csv(tmp_path / "next.csv")
    assert frame["idx"].tolist() == [r["idx"] for r in rows] == [0, 1, 2]
    assert [p["idx"] for p in run.pending()] == [0, 1, 2]
    run.close()


def test_ask_twice_gives_the_same_candidates_until_they_are_recorded(tmp_path: Path) -> None:
    with Run.open(tmp_path / "ask", zdt(), "random", budget=20, batch_size=2, seed=0) as run:
        first = run.ask(3)
        assert run.ask(3) == first
        run.add_pending(first)
        later = run.ask(3)
    assert [p["idx"] for p in later] == [3, 4, 5]


# ------------------------------------------------------------------------------ failures
def _failing(config):
    raise RuntimeError("checkpoint unreadable")


def _problem(fn) -> Problem:
    space = zdt_space()
    ev = CallableEvaluator(fn, [("f1", "min"), ("f2", "min")], space=space, name="zdt1")
    return Problem(space, ev, ["f1", "f2"], ref_point={"f1": 1.1, "f2": 1.1}, name="zdt1")


def test_search_whose_every_evaluation_fails_stops_with_nothing_recorded(tmp_path: Path) -> None:
    with pytest.raises(SearchError, match="checkpoint unreadable") as err:
        run_search(_problem(_failing), "random", budget=8, batch_size=2, run_dir=tmp_path / "r", progress=False)
    assert "every one of the 4 evaluations" in str(err.value)
    with RunStore(tmp_path / "r" / "store.sqlite", write=False) as store:
        assert len(store) == 0
        assert [p["idx"] for p in store.meta["pending"]] == [0, 1, 2, 3]


def test_search_with_some_failures_records_them_and_goes_on(tmp_path: Path) -> None:
    def some_fail(config):
        if config["x0"] % 2 == 0:
            raise RuntimeError("no good")
        return zdt_values(config)

    with run_search(
        _problem(some_fail), "random", budget=12, batch_size=2, run_dir=tmp_path / "r", progress=False
    ) as run:
        rows = run.rows()
    assert len(rows) == 12
    assert [r["idx"] for r in rows] == list(range(12))
    failed = [r for r in rows if r["error"] is not None]
    assert failed and all(r["config"]["x0"] % 2 == 0 for r in failed)


def test_search_stops_when_two_whole_rounds_fail_after_a_good_start(tmp_path: Path) -> None:
    calls = []

    def breaks_later(config):
        calls.append(config)
        if len(calls) > 4:
            raise RuntimeError("disk gone")
        return zdt_values(config)

    with pytest.raises(SearchError, match="4 evaluations of the last 2 rounds.*disk gone"):
        run_search(_problem(breaks_later), "random", budget=12, batch_size=2, run_dir=tmp_path / "r", progress=False)
    with RunStore(tmp_path / "r" / "store.sqlite", write=False) as store:
        rows = store.rows()
    assert len(rows) == 8 and sum(r["error"] is not None for r in rows) == 4


def test_one_whole_failing_round_does_not_stop_the_search(tmp_path: Path) -> None:
    calls = []

    def one_bad_round(config):  # a round that lands in an invalid region, then valid ones
        calls.append(config)
        if len(calls) in (5, 6):
            raise RuntimeError("invalid combination")
        return zdt_values(config)

    with run_search(
        _problem(one_bad_round), "random", budget=12, batch_size=2, run_dir=tmp_path / "r", progress=False
    ) as run:
        rows = run.rows()
    assert len(rows) == 12 and sum(r["error"] is not None for r in rows) == 2


def test_cli_search_exits_2_when_every_evaluation_fails(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    run = tmp_path / "r"
    argv = f"search --space vit-fmnist --checkpoint {bad} --strategy random --budget 4 --batch-size 2 --run {run}"
    assert cli_main(argv.split()) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "every one of the 4 evaluations" in err and "Traceback" not in err
    with RunStore(run / "store.sqlite", write=False) as store:
        assert len(store) == 0


def test_retry_failed_evaluates_failures_again_under_their_numbers(tmp_path: Path) -> None:
    broken = {"on": True}

    def flaky(config):
        if broken["on"] and config["x0"] % 2 == 0:
            raise RuntimeError("flaky")
        return zdt_values(config)

    with run_search(_problem(flaky), "random", budget=10, batch_size=2, run_dir=tmp_path / "r", progress=False) as run:
        first = run.rows()
    failed = {r["idx"] for r in first if r["error"] is not None}
    assert failed
    broken["on"] = False
    with run_search(
        _problem(flaky), "random", budget=10, batch_size=2, run_dir=tmp_path / "r", progress=False, retry_failed=True
    ) as run:
        again = run.rows()
    assert [r["idx"] for r in again] == [r["idx"] for r in first]
    assert all(r["error"] is None for r in again)
    for a, b in zip(first, again):
        assert a["config"] == b["config"]
        if a["idx"] in failed:
            assert b["objectives"] == pytest.approx(zdt_values(b["config"]))
        else:
            assert a["objectives"] == b["objectives"] and a["id"] == b["id"]


def test_label_on_a_store_another_writer_holds_is_refused(tmp_path: Path) -> None:
    from cimnet_bo.evaluate import CallableEvaluator, label
    from cimnet_bo.space import get_space
    from label_helpers import fake_accuracy

    space = get_space("vit-fmnist")
    ev = CallableEvaluator(fake_accuracy, [("accuracy", "max")], space=space, name="fake")
    store = tmp_path / "labels.sqlite"
    label(space, 4, [ev], store, progress=False)
    before = _digest(tmp_path)
    code = f"import time; from cimnet_bo.store import RunStore; s = RunStore({str(store)!r}); print('ok', flush=True)"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    holder = subprocess.Popen(
        [sys.executable, "-c", code + "; time.sleep(99)"], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert holder.stdout.readline().strip() == "ok"
        with pytest.raises(LockedError, match=f"process {holder.pid}"):
            label(space, 4, [ev], store, progress=False, retry_failed=True)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert {k: v for k, v in _digest(tmp_path).items() if k.endswith(".sqlite")} == {
        k: v for k, v in before.items() if k.endswith(".sqlite")
    }
    assert label(space, 4, [ev], store, progress=False)["new"] == 0


RACER = textwrap.dedent(
    """
    import sys, time
    from cimnet_bo.space import get_space
    from cimnet_bo.store import LockedError, RunStore
    start = float(sys.argv[2])
    time.sleep(max(0.0, start - time.time()))
    try:
        store = RunStore(sys.argv[1], get_space("vit-fmnist"), ["accuracy"])
    except LockedError:
        print("locked", flush=True)
        sys.exit(0)
    store.record(get_space("vit-fmnist").sample(1, seed=0)[0], {"accuracy": 0.5}, evaluator="x", idx=0)
    time.sleep(0.5)
    print("rows", len(store), flush=True)
    """
)


def test_two_processes_creating_one_new_store_at_once_leave_one_whole_store(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for trial in range(4):
        store = tmp_path / f"t{trial}" / "store.sqlite"
        start = f"{__import__('time').time() + 3.0}"
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", RACER, str(store), start], stdout=subprocess.PIPE, text=True, env=env
            )
            for _ in range(2)
        ]
        outs = sorted(p.communicate(timeout=120)[0].strip() for p in procs)
        assert all(p.returncode == 0 for p in procs), outs
        assert outs == ["locked", "rows 1"], outs
        with RunStore(store, write=False) as st:
            assert len(st) == 1


def test_a_run_opened_twice_in_one_process_shares_its_lock(tmp_path: Path) -> None:
    first = _run(tmp_path / "r", budget=4)  # left open, as a notebook cell run twice leaves it
    with _run(tmp_path / "r", budget=6) as again:
        assert again.n_done == 6
    assert first.n_done == 6
    first.close()
    del first
    with RunStore(tmp_path / "r" / "store.sqlite"):  # released with its last holder
        pass


def test_propose_on_a_run_whose_config_was_deleted_keeps_its_budget(tmp_path: Path) -> None:
    run = tmp_path / "run"
    table = REPO / "data" / "labels" / "vit_fmnist.parquet"
    argv = f"search --space vit-fmnist --table {table} --strategy random --budget 4 --batch-size 2 --run {run} --quiet"
    assert cli_main(argv.split()) == 0
    (run / "config.yaml").unlink()
    assert cli_main(f"propose --run {run} -q 1 --out {tmp_path / 'next.csv'}".split()) == 0
    with Run.open(run) as r:
        assert r.budget == 4 and r.store.meta["run_config"]["budget"] == 4


def test_ask_tell_run_told_past_its_budget_can_still_be_told_and_withdrawn(tmp_path: Path) -> None:
    import pandas as pd

    from cimnet_bo.search import tell, withdraw

    run = Run.open(tmp_path / "ask", zdt(), "random", budget=3, batch_size=1, seed=0, n_init=2)
    rows = propose(run, 5)
    frame = pd.DataFrame([{"idx": r["idx"], **zdt_values(r)} for r in rows])
    assert tell(run, frame)["evaluations"] == 5
    run.close()
    with Run.open(tmp_path / "ask", zdt()) as again:
        assert withdraw(again, [0])["evaluations"] == 4
        with pytest.raises(ProblemError, match="budget 2 is below the 4 evaluations"):
            Run.open(tmp_path / "ask", zdt(), budget=2)


def test_full_disk_while_recording_is_a_store_error_naming_the_store(done_run: Path) -> None:
    from cimnet_bo.store import StoreError

    with RunStore(done_run / "store.sqlite") as store:
        n = len(store)
        pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
        store._conn.execute(f"PRAGMA max_page_count = {pages}")
        big = {"x0": 1, "x1": 2, "x2": 3, "x3": 4}
        with pytest.raises(StoreError, match="full") as err:
            for i in range(200):
                store.record(big, {"f1": 0.5, "f2": 0.5}, evaluator="x" * 4000, idx=1000 + i)
        assert str(done_run / "store.sqlite") in str(err.value)
        assert len(store) >= n  # what was committed before stays; the failed row is not half-written
        assert all(r["evaluator"] in ("x" * 4000,) or r["idx"] < 1000 for r in store.rows())
