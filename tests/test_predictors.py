"""Predictors: features, fit / predict, save / load round trips, metrics, the
train-predictors command and the benchmark script (tiny data)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import label_helpers
from cimnet_bo.evaluate import CallableEvaluator, RooflineEvaluator, label
from cimnet_bo.predictors import (
    CROSS_FEATURES,
    PREDICTORS,
    WORKLOAD_FEATURES,
    FeatureBuilder,
    Predictor,
    XGBPredictor,
    kendall_tau,
    load_predictor,
    make_predictor,
    mape,
    objective_data,
    regression_report,
    rmse,
    spearman,
    train_predictors,
)
from cimnet_bo.space import get_space
from cimnet_bo.store import read_dataset

ROOT = Path(__file__).resolve().parents[1]
FAST = {
    "xgb": {"n_estimators": 150, "n_jobs": 1},
    "ridge": {"cv": 3},
    "svr": {"cv": 3, "Cs": (1.0, 10.0)},
    "mlp": {"hidden": (32, 32, 32), "max_iter": 30},
    "gp": {"threads": 1, "maxiter": 50},
}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A labeled vit-fmnist dataset of 240 pairs (120 subnets): roofline latency and a fake accuracy."""
    vit = get_space("vit-fmnist")
    d = tmp_path_factory.mktemp("labels")
    acc = CallableEvaluator(label_helpers.fake_accuracy, [("accuracy", "max")], name="fake", subnet_only=True)
    label(vit, 240, [acc, RooflineEvaluator(vit)], d / "run.sqlite", d / "vit.parquet", seed=0, progress=False)
    return d / "vit.parquet"


@pytest.fixture(scope="module")
def ds(data):
    return read_dataset(data)


def test_metrics():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    assert kendall_tau(y, y) == pytest.approx(1.0) and kendall_tau(y, -y) == pytest.approx(-1.0)
    assert spearman(y, y**2) == pytest.approx(1.0)
    assert rmse(y, y + 1) == pytest.approx(1.0)
    assert mape(y, 1.1 * y) == pytest.approx(10.0)
    rep = regression_report(y, 1.1 * y)
    assert {"kendall_tau", "spearman", "rmse", "mape_pct", "rmse_log10", "n"} <= set(rep)
    with pytest.raises(ValueError):
        rmse(y, y[:2])


def test_features_shapes_and_no_model_outputs(ds):
    configs = ds.configs()[:10]
    fb = FeatureBuilder(ds.space, "xgb", hardware=True)
    X = fb.transform(configs)
    assert X.shape == (10, len(fb.names)) and np.all(np.isfinite(X))
    assert set(WORKLOAD_FEATURES) <= set(fb.names) and set(CROSS_FEATURES) <= set(fb.names)
    assert "log2:glb_kb" in fb.names and "cell=sram" in fb.names
    for out in ("latency_s", "energy_j", "area_mm2", "resident", "program_time_s"):
        assert not any(out in n for n in fb.names)
    sub = FeatureBuilder(ds.space, "xgb", hardware=False)
    assert not any(n.startswith("log2:") for n in sub.names)
    hw_changed = [dict(c, glb_kb=512 if c["glb_kb"] != 512 else 32) for c in configs]
    np.testing.assert_array_equal(sub.transform(configs), sub.transform(hw_changed))
    oh = FeatureBuilder(ds.space, "onehot", hardware=True).transform(configs)
    assert set(np.unique(oh)) <= {0.0, 1.0}
    assert FeatureBuilder(ds.space, "encoding").transform(configs).shape == (10, ds.space.dim)


def test_objective_data_dedupes_subnets_for_accuracy(ds):
    configs, y = objective_data(ds, "accuracy")
    assert len(configs) == 120 and len(y) == 120
    configs, y = objective_data(ds, "latency_s")
    assert len(configs) == 240


@pytest.mark.parametrize("kind", sorted(FAST))
def test_save_load_round_trip(tmp_path, ds, kind):
    objective = "latency_s"
    configs, y = objective_data(ds, objective)
    n = 60 if kind == "gp" else 200
    pred = make_predictor(kind, ds.space, objective, **FAST[kind]).fit(configs[:n], y[:n])
    test = configs[200:]
    p = pred.predict(test)
    assert p.shape == (len(test),) and np.all(p > 0)  # learned in log space
    path = pred.save(tmp_path / f"{objective}.{kind}")
    assert path.name == f"{objective}.{kind}.json"
    meta = json.loads(path.read_text())
    assert meta["kind"] == kind and meta["space"] == "vit-fmnist" and meta["n_train"] == n
    assert meta["log_target"] is True and (tmp_path / meta["model_file"]).exists()
    back = load_predictor(path)
    assert type(back) is PREDICTORS[kind]
    np.testing.assert_allclose(back.predict(test), p, rtol=1e-9)


def test_xgb_learns_latency_and_accuracy(ds):
    configs, y = objective_data(ds, "latency_s")
    pred = XGBPredictor(ds.space, "latency_s", n_estimators=300, n_jobs=1).fit(configs[:200], y[:200])
    assert kendall_tau(y[200:], pred.predict(configs[200:])) > 0.6
    assert pred.use_hardware and pred.use_log
    acc = XGBPredictor("vit-fmnist", "accuracy", n_jobs=1)
    assert not acc.use_hardware and not acc.use_log
    cf, ya = objective_data(ds, "accuracy")
    acc.fit(cf[:100], ya[:100])
    assert np.all(np.abs(acc.predict(cf[100:]) - 0.75) < 0.3)
    imp = pred.feature_importance()
    assert set(imp) <= set(pred.feature_names_)


def test_predictor_errors(tmp_path, ds):
    configs, y = objective_data(ds, "latency_s")
    pred = XGBPredictor(ds.space, "latency_s")
    with pytest.raises(RuntimeError, match="not fitted"):
        pred.predict(configs[:2])
    with pytest.raises(ValueError, match="non-finite"):
        pred.fit(configs[:3], [1.0, np.nan, 2.0])
    with pytest.raises(ValueError, match="positive"):
        pred.fit(configs[:3], [1.0, -1.0, 2.0])
    with pytest.raises(ValueError, match="unknown predictor"):
        make_predictor("forest", ds.space, "latency_s")
    bad = tmp_path / "x.json"
    bad.write_text("{}")
    with pytest.raises(ValueError, match="not a cimnet_bo predictor"):
        Predictor.load(bad)
    with pytest.raises(FileNotFoundError):
        load_predictor(tmp_path / "missing.json")


def test_train_predictors_refuses_a_dataset_of_failures(tmp_path):
    vit = get_space("vit-fmnist")

    def flaky(c):
        if c["num_layers"] != 5:
            raise RuntimeError("no accuracy")
        return 0.9

    acc = CallableEvaluator(flaky, [("accuracy", "max")], name="flaky", subnet_only=True)
    label(vit, 30, [acc], tmp_path / "run.sqlite", tmp_path / "few.parquet", seed=0, subnets=30, progress=False)
    assert 0 < len(read_dataset(tmp_path / "few.parquet").ok()) < 20
    with pytest.raises(ValueError, match="at least 20"):
        train_predictors(tmp_path / "few.parquet", tmp_path / "out", curve_splits=0)


def _run(*args, timeout=180):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def test_train_predictors_command(tmp_path, data):
    out = tmp_path / "pred"
    r = _run(
        "-m",
        "cimnet_bo.cli",
        "train-predictors",
        "--data",
        str(data),
        "--out",
        str(out),
        "--objectives",
        "accuracy,latency_s",
        "--curve-sizes",
        "50,100,1000",
        "--jobs",
        "1",
        "--quiet",
    )
    assert r.returncode == 0, r.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["space"] == "vit-fmnist" and report["data_sha256"]
    assert set(report["objectives"]) == {"accuracy", "latency_s"}
    m = report["objectives"]["latency_s"]["models"]["xgb"]
    assert {"kendall_tau", "spearman", "rmse", "mape_pct", "fit_s", "predict_s"} <= set(m)
    assert report["objectives"]["accuracy"]["unit_rows"] == "distinct subnets"
    # 120 distinct subnets leave room for 70 training subnets; 240 pairs for 190 training pairs
    assert {(r["objective"], r["size"]) for r in report["learning_curve"]} == {
        ("accuracy", 50),
        ("latency_s", 50),
        ("latency_s", 100),
    }
    assert {(r["objective"], r["size"]) for r in report["learning_curve_skipped"]} == {
        ("accuracy", 100),
        ("accuracy", 1000),
        ("latency_s", 1000),
    }
    assert (out / "learning_curve.png").stat().st_size > 1000
    back = load_predictor(out / "latency_s.xgb.json")
    assert back.predict(read_dataset(data).configs()[:3]).shape == (3,)
    bad = _run("-m", "cimnet_bo.cli", "train-predictors", "--data", str(data), "--out", str(out), "--models", "forest")
    assert bad.returncode == 2 and "unknown predictor kinds ['forest']" in bad.stderr


def test_benchmark_script_runs_on_tiny_data(tmp_path, data):
    out = tmp_path / "bench.json"
    r = _run(
        str(ROOT / "benchmarks" / "bench_predictors.py"),
        "--data",
        str(data),
        "--out",
        str(out),
        "--sizes",
        "50,100",
        "--splits",
        "2",
        "--models",
        "xgb,ridge",
        "--noise-subnets",
        "0",
    )
    assert r.returncode == 0, r.stderr
    res = json.loads(out.read_text())
    entry = res["datasets"]["vit"]
    assert {(s["objective"], s["kind"], s["size"]) for s in entry["summary"]} == {
        (o, k, s) for o, s in (("accuracy", 50), ("latency_s", 50), ("latency_s", 100)) for k in ("xgb", "ridge")
    }
    assert {(s["objective"], s["size"]) for s in entry["skipped"]} == {("accuracy", 100)}
    assert all(s["splits"] == 2 for s in entry["summary"])
    assert "| latency_s | xgb |" in entry["table_kendall_tau"]
    assert "latency_xgb_best_per_size" in entry["goals"]


def test_cim_model_versions_are_not_mixed(tmp_path, data, ds):
    """Stores, labeled tables and predictors made with another CiM model version are refused,
    naming the version (files from before the version was recorded count as version 1)."""
    import json
    import sqlite3

    import pyarrow.parquet as pq

    from cimnet_bo.hardware import MODEL_VERSION
    from cimnet_bo.store import DatasetError, RunStore, StoreError

    # labeled table
    assert ds.meta["cim_model_version"] == MODEL_VERSION
    table = pq.read_table(data)
    meta = json.loads(table.schema.metadata[b"cimnet_bo"])
    meta.pop("cim_model_version")
    old = tmp_path / "old.parquet"
    pq.write_table(table.replace_schema_metadata({b"cimnet_bo": json.dumps(meta).encode()}), old)
    with pytest.raises(DatasetError, match=f"CiM model version 1; this cimnet-bo implements version {MODEL_VERSION}"):
        read_dataset(old)
    # run store
    vit = get_space("vit-fmnist")
    path = tmp_path / "run.sqlite"
    RunStore(path, vit).close()
    conn = sqlite3.connect(str(path))
    conn.execute("UPDATE meta SET value = ? WHERE key = 'cim_model_version'", (json.dumps("1"),))
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="CiM model version 1"):
        RunStore(path, vit)
    # predictor
    p = XGBPredictor(vit, "latency_s", n_estimators=5).fit(ds.configs()[:50], ds.frame["latency_s"][:50])
    saved = p.save(tmp_path / "lat")
    assert json.loads(saved.read_text())["cim_model_version"] == MODEL_VERSION
    d = json.loads(saved.read_text())
    d["cim_model_version"] = "1"
    saved.write_text(json.dumps(d))
    with pytest.raises(ValueError, match="CiM model version 1"):
        XGBPredictor.load(saved)


def test_xgb_functions_share_one_parameter_set():
    """The predictor and the search build their regressors with the same factory: parameter sets,
    caller overrides and the seed all reach XGBoost."""
    from cimnet_bo.predictors import XGB_SEARCH_DEFAULTS, XGB_SUBNET_DEFAULTS, fit_xgb, xgb_bootstrap, xgb_oof

    rng = np.random.default_rng(0)
    F = rng.random((40, 3))
    y = F[:, 0] * 2 + 0.05 * rng.random(40)
    params = {**XGB_SEARCH_DEFAULTS, "n_estimators": 30, "n_jobs": 1}
    model = fit_xgb(F, y, params, seed=5)
    got = model.get_params()
    assert got["n_estimators"] == 30 and got["random_state"] == 5
    assert got["max_depth"] == XGB_SEARCH_DEFAULTS["max_depth"]
    oof = xgb_oof(F, y, params, seed=1, folds=4)
    assert oof.shape == (40,) and not np.allclose(oof, model.predict(F))  # no row predicted by a model that saw it
    assert np.corrcoef(oof, y)[0, 1] > 0.8
    boot = xgb_bootstrap(F, y, F[:7], params, members=3, seed=2)
    assert boot.shape == (7, 3) and np.ptp(boot, axis=1).max() > 0  # members differ
    assert np.array_equal(boot, xgb_bootstrap(F, y, F[:7], params, members=3, seed=2))
    pred = XGBPredictor("vit-fmnist", "accuracy", n_estimators=20, n_jobs=1)
    reg = pred._regressor().get_params()
    assert reg["n_estimators"] == 20 and reg["max_depth"] == XGB_SUBNET_DEFAULTS["max_depth"] and reg["n_jobs"] == 1


def test_gp_fit_on_a_subset_conditions_on_all_rows():
    """``fit_gp``: hyper-parameters from ``fit_rows`` only, the posterior on every row; columns
    past ``d`` are not seen by the GP."""
    import torch

    from cimnet_bo.predictors import fit_gp, gp_model

    rng = np.random.default_rng(0)
    X = rng.random((40, 3))
    y = np.sin(4 * X[:, 0]) + X[:, 1]
    rows = np.arange(0, 40, 2)
    torch.manual_seed(0)
    full = fit_gp(X, y, d=2, maxiter=30, fit_rows=rows)
    torch.manual_seed(0)
    small = fit_gp(X[rows], y[rows], d=2, maxiter=30)
    assert full.train_targets.shape == (40,) and small.train_targets.shape == (20,)
    for (name, a), (_, b) in zip(full.named_parameters(), small.named_parameters()):
        assert torch.equal(a, b), name
    Xq = torch.as_tensor(rng.random((5, 3)))
    Xq2 = Xq.clone()
    Xq2[:, 2] = 0.5
    with torch.no_grad():
        assert torch.allclose(full.posterior(Xq).mean, full.posterior(Xq2).mean)
        held_out = torch.as_tensor(X[1::2])  # training rows of full only
        assert full.posterior(held_out).variance.max() < small.posterior(held_out).variance.max()
    assert not hasattr(gp_model(X, y), "input_transform") and hasattr(full, "input_transform")
