"""The Ray executor on a local Ray instance (2 CPUs): same values as in-process, a killed
actor loses and repeats nothing, retries are bounded, search and the command line go through
it, and choosing it without Ray installed names the install command.

Ray is in the ``dev`` extra, so CI runs these; elsewhere they are skipped when Ray is missing.
"""

import os
import sys
from pathlib import Path

import numpy as np
import pytest

import label_helpers
import search_helpers as H
from cimnet_bo.evaluate import (
    CallableEvaluator,
    Evaluator,
    Executor,
    Objective,
    RayExecutor,
    RayNotInstalledError,
    RooflineEvaluator,
    get_executor,
    label,
)
from cimnet_bo.space import Choice, Space, get_space
from cimnet_bo.store import RunStore

try:
    import ray
except ImportError:  # pragma: no cover - CI installs the dev extra, which has Ray
    ray = None

pytestmark = pytest.mark.ray
TESTS = Path(__file__).resolve().parent
TOY = Space("toy", [Choice("a", (1, 2, 3, 4)), Choice("b", (0, 10))])
needs_ray = pytest.mark.skipif(
    ray is None and not os.environ.get("CI"), reason="Ray is not installed (pip install -e '.[ray]')"
)


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray instance for the module; its workers import the tests' helper modules."""
    saved = {k: os.environ.get(k) for k in ("PYTHONPATH", "CIMNET_TEST_SLEEP")}
    os.environ["PYTHONPATH"] = os.pathsep.join([str(TESTS)] + [p for p in [saved["PYTHONPATH"]] if p])
    os.environ["CIMNET_TEST_SLEEP"] = "0.05"
    ray.init(address="local", num_cpus=2, include_dashboard=False, object_store_memory=100 * 2**20, log_to_driver=False)
    yield ray
    ray.shutdown()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="module")
def vit():
    return get_space("vit-fmnist")


def _evaluators(vit, fn=label_helpers.fake_accuracy):
    return [
        CallableEvaluator(fn, [("accuracy", "max")], space=vit, name="acc", subnet_only=True),
        RooflineEvaluator(vit),
    ]


def _table(store):
    with RunStore(store) as st:
        rows = st.rows()
    return {r["idx"]: (r["objectives"], r["error"]) for r in rows}, [r["idx"] for r in rows]


@pytest.fixture(scope="module")
def reference(tmp_path_factory, vit):
    """The 64 pairs labeled in-process: ``{idx: (objectives, error)}``."""
    store = tmp_path_factory.mktemp("ref") / "ref.sqlite"
    label(vit, 64, _evaluators(vit), store, None, seed=3, batch_size=8, progress=False)
    return _table(store)[0]


def _assert_same(got, ref):
    assert sorted(got) == sorted(ref) == list(range(64))
    for i, (objs, err) in ref.items():
        assert got[i][1] is None and err is None
        assert got[i][0].keys() == objs.keys()
        np.testing.assert_allclose([got[i][0][k] for k in objs], list(objs.values()), rtol=1e-12, atol=0)


# ------------------------------------------------------------------------------ the tests
def test_missing_ray_names_the_install_command(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails as if it were not installed
    with pytest.raises(RayNotInstalledError, match=r"pip install 'cimnet-bo\[ray\]'"):
        get_executor("ray")
    with pytest.raises(ImportError, match="optional dependency"):
        RayExecutor(address="auto")
    from cimnet_bo.cli import main

    rc = main(
        [
            *"label --space vit-fmnist -n 4 --out".split(),
            str(tmp_path / "x.parquet"),
            *"--accuracy none --executor ray".split(),
        ]
    )
    err = capsys.readouterr().err
    assert rc == 2 and "pip install 'cimnet-bo[ray]'" in err and "Traceback" not in err


@needs_ray
def test_ray_labels_64_pairs_like_in_process(local_ray, tmp_path, vit, reference):
    store = tmp_path / "ray.sqlite"
    with RayExecutor(workers=2, num_cpus=1) as ex:
        s = label(
            vit,
            64,
            _evaluators(vit),
            store,
            tmp_path / "ray.parquet",
            seed=3,
            batch_size=8,
            executor=ex,
            progress=False,
        )
        pids = {ray.get(a.where.remote())["pid"] for a in ex.actors}
        assert len(pids) == 2 and os.getpid() not in pids  # two actors, not this process
        assert ex.stats["batches"] >= 2 and ex.stats["retries"] == 0
    assert s["ok"] == 64 and s["new"] == 64 and s["failed"] == 0
    got, order = _table(store)
    assert len(order) == 64
    _assert_same(got, reference)
    assert ray.is_initialized()  # an executor does not stop a Ray it did not start


class KillAfterFirstBatch(Executor):
    """Passes the Ray executor's results through; kills one busy actor after the first one."""

    def __init__(self, inner: RayExecutor) -> None:
        self.inner = inner
        self.killed = None

    def run(self, evaluator, batches):
        for k, item in enumerate(self.inner.run(evaluator, batches)):
            if k == 0:
                self.killed = self.inner.actors[0]
                ray.kill(self.killed, no_restart=True)
            yield item


@needs_ray
def test_killed_actor_mid_batch_loses_and_repeats_nothing(local_ray, tmp_path, vit, reference):
    store = tmp_path / "kill.sqlite"
    with RayExecutor(workers=2, max_retries=2) as ex:
        killer = KillAfterFirstBatch(ex)
        s = label(
            vit,
            64,
            _evaluators(vit, label_helpers.slow_accuracy),
            store,
            None,
            seed=3,
            batch_size=8,
            executor=killer,
            progress=False,
        )
        assert killer.killed is not None and killer.killed not in ex.actors
        assert ex.stats["actors_replaced"] == 1 and ex.stats["retries"] >= 1  # its batches were in flight
        assert ex.stats["failed_batches"] == 0
    assert s["ok"] == 64 and s["failed"] == 0
    got, order = _table(store)
    assert len(order) == len(set(order)) == 64  # nothing lost, nothing stored twice
    _assert_same(got, reference)


@needs_ray
def test_batch_failed_after_max_retries_others_unaffected(local_ray):
    crash = CallableEvaluator(label_helpers.crash_on_three, ["v"], space=TOY)  # kills its worker for a=3
    with RayExecutor(workers=1, max_retries=1, max_pending=1) as ex:
        out = dict(ex.run(crash, [[{"a": 1, "b": 0}], [{"a": 3, "b": 0}, {"a": 3, "b": 10}], [{"a": 2, "b": 0}]]))
        assert ex.stats == {"batches": 3, "retries": 1, "failed_batches": 1, "actors_started": 3, "actors_replaced": 2}
    assert out[0].ok.all() and out[2].ok.all() and out[2].values[0, 0] == 2.0
    assert not out[1].ok.any() and all("lost 2 times" in e for e in out[1].errors)


class Unloadable(Evaluator):
    """An evaluator that cannot be loaded outside the process that made it (a missing file)."""

    objectives = (Objective("v"),)

    def __init__(self) -> None:
        self.pid = os.getpid()

    def __setstate__(self, state):
        if state["pid"] != os.getpid():
            raise FileNotFoundError("checkpoint not found on this node")
        self.__dict__.update(state)

    def _evaluate(self, configs):
        return np.ones((len(configs), 1))


@needs_ray
def test_worker_that_cannot_load_the_evaluator_stops_the_run(local_ray):
    with RayExecutor(workers=1) as ex:
        assert list(ex.run(Unloadable(), [])) == [] and ex.actors == []  # nothing to do: no worker
        with pytest.raises(RuntimeError, match="could not load the evaluator"):
            list(ex.run(Unloadable(), [[{"a": 1}]]))
        assert ex.stats["retries"] == 0


@needs_ray
def test_search_through_ray_matches_in_process(local_ray, tmp_path):
    from cimnet_bo.search import run_search

    with run_search(H.zdt(), "random", budget=12, batch_size=4, seed=2, run_dir=tmp_path / "a", progress=False) as run:
        ref = run.history()
    with (
        RayExecutor(workers=2) as ex,
        run_search(
            H.zdt(), "random", budget=12, batch_size=4, seed=2, run_dir=tmp_path / "b", executor=ex, progress=False
        ) as run,
    ):
        got = run.history()
        assert ex.stats["batches"] == 12 and ex.stats["actors_started"] == 2  # actors kept across rounds
    assert list(got["idx"]) == list(ref["idx"])
    np.testing.assert_allclose(got[["f1", "f2"]].to_numpy(), ref[["f1", "f2"]].to_numpy(), rtol=1e-12)


@needs_ray
def test_label_command_with_ray_executor(local_ray, tmp_path, capsys):
    from cimnet_bo.cli import main

    out = tmp_path / "cli.parquet"
    rc = main(
        [
            *"label --space vit-fmnist -n 16 --seed 1 --out".split(),
            str(out),
            "--store",
            str(tmp_path / "cli.sqlite"),
            *"--accuracy label_helpers:fake_accuracy --executor ray --workers 2 --ray-num-cpus 1 --no-progress".split(),
        ]
    )
    assert rc == 0 and out.exists()
    assert '"ok": 16' in capsys.readouterr().out
    rc = main(
        [
            *"label --space vit-fmnist -n 4 --out".split(),
            str(tmp_path / "x.parquet"),
            *"--accuracy none --ray-num-gpus 1".split(),
        ]
    )
    assert rc == 2 and "--ray-num-gpus only apply with --executor ray" in capsys.readouterr().err
