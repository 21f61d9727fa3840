"""Evaluators (failure recording, roofline, table, callable, composite, accuracy), executors,
pair sampling and labeling."""

import math

import numpy as np
import pandas as pd
import pytest

import label_helpers
from cimnet_bo.evaluate import (
    AccuracyEvaluator,
    CallableEvaluator,
    CompositeEvaluator,
    Evaluator,
    InProcessExecutor,
    LocalPoolExecutor,
    Objective,
    RooflineEvaluator,
    SubnetCachedEvaluator,
    TableEvaluator,
    get_executor,
    label,
    objective_list,
    sample_pairs,
)
from cimnet_bo.evaluate.label import LabelError
from cimnet_bo.space import Choice, Space, get_space
from cimnet_bo.store import RunStore, StoreError

TOY = Space("toy", [Choice("a", (1, 2, 3, 4)), Choice("b", (0, 10))])


@pytest.fixture(scope="module")
def vit():
    return get_space("vit-fmnist")


# ----------------------------------------------------------------- objectives
def test_objectives_declared_and_checked():
    objs = objective_list(["x", ("acc", "max"), {"name": "lat", "cheap": True}])
    assert [o.name for o in objs] == ["x", "acc", "lat"]
    assert [o.direction for o in objs] == ["min", "max", "min"]
    assert objs[2].cheap and objs[1].sign == 1.0 and objs[0].sign == -1.0
    with pytest.raises(ValueError, match="repeated"):
        objective_list(["x", "x"])
    with pytest.raises(ValueError, match="direction"):
        Objective("x", "up")


# ------------------------------------------------------------ failure records
def _flaky(config):
    if config["a"] == 2:
        raise RuntimeError("simulator crashed")
    if config["a"] == 3:
        return float("nan")
    return float(config["a"] + config["b"])


def test_failures_recorded_per_candidate_not_raised():
    ev = CallableEvaluator(_flaky, ["y"], space=TOY)
    configs = [{"a": 1, "b": 0}, {"a": 2, "b": 0}, {"a": 3, "b": 10}, {"a": 4, "b": 10}, {"a": 5, "b": 0}, {"a": 1}]
    res = ev.evaluate(configs)
    assert len(res) == 6 and res.values.shape == (6, 1)
    assert res.errors[0] is None and res.values[0, 0] == 1.0
    assert "RuntimeError: simulator crashed" in res.errors[1]
    assert res.errors[2] == "impossible value(s): y = nan"
    assert res.errors[3] is None and res.values[3, 0] == 14.0
    assert "a=5 is not allowed" in res.errors[4]  # invalid value, named
    assert "missing keys ['b']" in res.errors[5]
    assert res.ok.tolist() == [True, False, False, True, False, False]
    assert math.isnan(res.values[1, 0])


def test_batched_failure_falls_back_to_single_candidates():
    calls = []

    def batch_fn(configs):
        calls.append(len(configs))
        if any(c["a"] == 2 for c in configs):
            raise ValueError("bad batch")
        return np.array([[c["a"], -c["a"]] for c in configs], dtype=float)

    ev = CallableEvaluator(batch_fn, ["p", ("q", "max")], space=TOY, batched=True)
    res = ev.evaluate([{"a": a, "b": 0} for a in (1, 2, 3)])
    assert calls == [3, 1, 1, 1]
    assert res.ok.tolist() == [True, False, True]
    assert res.values[2].tolist() == [3.0, -3.0]
    assert "ValueError: bad batch" in res.errors[1]


def test_wrong_shape_and_missing_objective_are_failures():
    ev = CallableEvaluator(lambda cs: np.zeros((len(cs), 3)), ["p", "q"], batched=True)
    res = ev.evaluate([{"a": 1, "b": 0}])
    assert "shape" in res.errors[0]
    ev2 = CallableEvaluator(lambda c: {"p": 1.0, "extra": 5}, ["p", "q"])
    assert "no values for objectives ['q']" in ev2.evaluate([{"a": 1}]).errors[0]


def test_callable_dict_results_keep_extras():
    ev = CallableEvaluator(label_helpers.square_sum, ["f", "g"], space=TOY)
    res = ev.evaluate([{"a": 2, "b": 10}])
    assert res.objectives_of(0) == {"f": 14.0, "g": -2.0}


def test_composite_merges_values_and_tags_errors():
    good = CallableEvaluator(lambda c: float(c["a"]), ["a_val"], space=TOY, name="good")
    bad = CallableEvaluator(_flaky, ["flaky"], space=TOY, name="bad")
    comp = CompositeEvaluator([good, bad])
    assert comp.names == ("a_val", "flaky") and comp.identity == "good | bad"
    res = comp.evaluate([{"a": 1, "b": 0}, {"a": 2, "b": 0}])
    assert res.ok.tolist() == [True, False]
    assert res.values[1, 0] == 2.0 and math.isnan(res.values[1, 1])
    assert res.errors[1].startswith("[flaky] RuntimeError")
    with pytest.raises(ValueError, match="repeated"):
        CompositeEvaluator([good, good])


# ------------------------------------------------------------------- table
def test_table_evaluator_lookup_and_unknown_configs():
    frame = pd.DataFrame({"a": [1, 2, 3], "b": [0, 0, 10], "score": [0.1, 0.2, 0.3], "accuracy": [0.9, 0.8, 0.7]})
    ev = TableEvaluator(TOY, frame)
    assert ev.names == ("score", "accuracy") and len(ev) == 3
    assert [o.direction for o in ev.objectives] == ["min", "max"]
    res = ev.evaluate([{"a": 2, "b": 0}, {"a": 4, "b": 0}, {"a": 3, "b": 10}])
    assert res.values[0].tolist() == [0.2, 0.8] and res.values[2].tolist() == [0.3, 0.7]
    assert "configuration not in the table" in res.errors[1]
    with pytest.raises(ValueError, match="repeats 1 configuration"):
        TableEvaluator(TOY, pd.concat([frame, frame.iloc[:1]]))
    with pytest.raises(ValueError, match=r"missing choice columns \['b'\]"):
        TableEvaluator(TOY, frame.drop(columns=["b"]))


# ---------------------------------------------------------------- roofline
def test_roofline_evaluator_matches_simulate(vit):
    from cimnet_bo.hardware import Technology, simulate
    from cimnet_bo.workload import layer_table

    ev = RooflineEvaluator(vit)
    assert ev.cheap and ev.names == ("latency_s", "energy_j", "area_mm2", "power_w", "feasible")
    assert ev.identity.startswith("roofline-v2:tech=")
    cfgs = vit.sample(20, seed=3)
    res = ev.evaluate(cfgs)
    assert res.ok.all() and np.all(res.values[:, :4] > 0)
    assert set(np.unique(res.values[:, 4])) <= {0.0, 1.0}
    assert set(res.extras) == {"avg_power_w", "resident", "program_time_s"}
    sub, hw = vit.split(cfgs[0])
    tech = Technology(e_dram=8.0)  # cim-edge sets LPDDR4's 8 pJ/bit
    ref = simulate(layer_table(vit, sub), hw, tech)
    assert res.values[0, 0] == pytest.approx(ref.latency_s, rel=1e-9)
    assert res.values[0, 1] == pytest.approx(ref.energy_j, rel=1e-9)
    assert res.values[0, 3] == pytest.approx(ref.power_w, rel=1e-9)
    assert res.values[0, 4] == float(ref.feasible)
    assert res.extras["avg_power_w"][0] == pytest.approx(ref.energy_j / ref.latency_s, rel=1e-9)
    assert bool(res.extras["resident"][0]) == bool(ref.resident)
    bad = dict(cfgs[1], rows=100)
    res2 = ev.evaluate([cfgs[0], bad])
    assert res2.ok.tolist() == [True, False] and "rows=100" in res2.errors[1]


@pytest.mark.parametrize("name", ["vit-fmnist", "cnn-fmnist"])
def test_roofline_evaluator_batch_agrees_with_one_layer_table_per_pair(name):
    """ViT subnets are batched straight from their configurations, CNN ones from layer tables:
    both give each pair's own values, and an invalid configuration fails alone."""
    from cimnet_bo.hardware import simulate_many
    from cimnet_bo.workload import layer_table

    space = get_space(name)
    cfgs = space.sample(30, seed=5)
    ev = RooflineEvaluator(space)
    res = ev.evaluate(cfgs)
    halves = [space.split(c) for c in cfgs]
    ref = simulate_many(
        [layer_table(space.subnet, sub) for sub, _ in halves],
        [hw for _, hw in halves],
        tech=ev.technology(),
        as_frame=False,
    )
    assert res.ok.all()
    for j, out in enumerate(ev.names):
        np.testing.assert_allclose(res.values[:, j], np.asarray(ref[out], dtype=float), rtol=1e-12)
    mixed = ev.evaluate([*cfgs[:3], dict(cfgs[3], rows=100), *cfgs[4:6]])
    assert mixed.ok.tolist() == [True, True, True, False, True, True]
    assert "rows=100" in mixed.errors[3]
    keep = [0, 1, 2, 4, 5]
    np.testing.assert_allclose(mixed.values[keep], res.values[keep], rtol=1e-12)


def test_roofline_evaluator_uses_the_space_dram():
    """cim-server sets HBM2 (3.9 pJ/bit), cim-edge LPDDR4 (8 pJ/bit); a given tech wins."""
    from cimnet_bo.hardware import Technology

    server = get_space("vit-b-imagenet")
    assert RooflineEvaluator(server).technology().e_dram == 3.9
    assert RooflineEvaluator(get_space("vit-fmnist")).technology().e_dram == 8.0
    mine = Technology(e_dram=5.0)
    assert RooflineEvaluator(server, tech=mine).technology() is mine
    cfg = {**server.subnet.extreme("max"), **server.hardware.baseline}
    e_hbm = RooflineEvaluator(server).evaluate([cfg]).values[0, 1]
    e_lp = RooflineEvaluator(server, tech=Technology(e_dram=8.0)).evaluate([cfg]).values[0, 1]
    assert e_lp > e_hbm  # the baseline streams ViT-B: DRAM energy counts


# ------------------------------------------------------------ subnet cache
def test_subnet_cache_evaluates_each_subnet_once(vit):
    seen = []

    def acc(c):
        seen.append(c["num_layers"])
        return label_helpers.fake_accuracy(c)

    inner = CallableEvaluator(acc, [("accuracy", "max")], subnet_only=True)
    cached = SubnetCachedEvaluator(inner, vit)
    pairs = sample_pairs(vit, 30, seed=1, subnets=10)
    res = cached.evaluate(pairs)
    assert res.ok.all() and cached.calls == 10 and len(seen) == 10
    cached.evaluate(pairs[:5])
    assert len(seen) == 10
    fresh = SubnetCachedEvaluator(inner, vit)
    fresh.prime(pairs, res.values)
    fresh.evaluate(pairs)
    assert len(seen) == 10 and fresh.calls == 0


# --------------------------------------------------------------- executors
def test_executors_agree_and_pool_survives_worker_crash():
    ev = CallableEvaluator(label_helpers.square_sum, ["f", "g"], space=TOY)
    batches = [[{"a": a, "b": b} for b in (0, 10)] for a in (1, 2, 3, 4)]
    ref = InProcessExecutor().map(ev, batches)
    with LocalPoolExecutor(workers=2) as pool:
        got = pool.map(ev, batches)
        for r, g in zip(ref, got):
            np.testing.assert_array_equal(r.values, g.values)
        crash = CallableEvaluator(label_helpers.crash_on_three, ["v"], space=TOY)
        out = dict(pool.run(crash, [[{"a": 1, "b": 0}], [{"a": 3, "b": 0}]]))
    assert "worker failed" in out[1].errors[0]
    assert isinstance(get_executor(None), InProcessExecutor)
    assert get_executor("pool:3").workers == 3
    with pytest.raises(ValueError):
        get_executor("cluster")


# ---------------------------------------------------------------- accuracy
def test_accuracy_evaluator_on_a_tiny_checkpoint(tmp_path, vit):
    torch = pytest.importorskip("torch")
    from cimnet_bo.supernet import build_supernet

    torch.manual_seed(0)
    model = build_supernet(vit.subnet)
    path = tmp_path / "vit.pt"
    torch.save(
        {
            "space": vit.subnet.name,
            "space_version": vit.subnet.version,
            "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        },
        path,
    )
    ev = AccuracyEvaluator(vit, checkpoint=path, indices=np.arange(64))
    assert ev.names == ("accuracy",) and ev.objectives[0].direction == "max" and ev.subnet_only
    cfgs = vit.sample(3, seed=0)
    res = ev.evaluate(cfgs + [dict(cfgs[0], rows=64 if cfgs[0]["rows"] != 64 else 128)])
    assert res.ok.all() and np.all((res.values >= 0) & (res.values <= 1))
    assert res.values[0, 0] == res.values[3, 0]  # accuracy depends on the subnet only
    assert "sha256=" in ev.identity and ":val[" in ev.identity
    other = AccuracyEvaluator(vit, checkpoint=path, indices=np.arange(64, 128))
    assert other.identity != ev.identity
    missing = AccuracyEvaluator(vit, checkpoint=tmp_path / "nope.pt")
    assert "not found" in missing.evaluate(cfgs[:1]).errors[0]


# ---------------------------------------------------------------- sampling
def test_sample_pairs_distinct_and_reproducible(vit):
    plan = sample_pairs(vit, 3000, seed=0)
    keys = {tuple(sorted(p.items())) for p in plan}
    subs = {tuple(p[n] for n in vit.subnet.names) for p in plan}
    assert len(keys) == 3000 and len(subs) == 1500 >= 1000
    assert plan[:10] == sample_pairs(vit, 3000, seed=0)[:10]
    assert plan[:10] != sample_pairs(vit, 3000, seed=1)[:10]
    assert all(vit.validate(p) == p for p in plan[:50])
    few = sample_pairs(vit, 50, seed=0, subnets=5)
    assert len({tuple(p[n] for n in vit.subnet.names) for p in few}) == 5
    with pytest.raises(ValueError, match="subnets must be"):
        sample_pairs(vit, 10, seed=0, subnets=11)


# ---------------------------------------------------------------- labeling
def test_label_each_subnet_once_and_resume(tmp_path, vit):
    calls = []

    def acc(c):
        calls.append(tuple(c[n] for n in vit.subnet.names))
        return label_helpers.fake_accuracy(c)

    def evaluators():
        return [
            CallableEvaluator(acc, [("accuracy", "max")], space=vit, name="acc", subnet_only=True),
            RooflineEvaluator(vit),
        ]

    store, out = tmp_path / "run.sqlite", tmp_path / "out.parquet"
    s = label(vit, 40, evaluators(), store, out, seed=2, subnets=15, batch_size=4, progress=False)
    assert s["ok"] == 40 and s["new"] == 40 and s["distinct_subnets"] == 15
    assert len(calls) == 15 == len(set(calls))
    s2 = label(vit, 40, evaluators(), store, out, seed=2, subnets=15, progress=False)
    assert s2["new"] == 0 and len(calls) == 15
    with pytest.raises(StoreError, match="plan"):
        label(vit, 41, evaluators(), store, None, seed=2, subnets=15, progress=False)
    other = [
        CallableEvaluator(acc, [("accuracy", "max")], name="other-model", subnet_only=True),
        RooflineEvaluator(vit),
    ]
    with pytest.raises(StoreError, match="other-model"):
        label(vit, 40, other, store, None, seed=2, subnets=15, progress=False)
    frame = pd.read_parquet(out)
    assert len(frame) == 40 and sorted(frame["idx"]) == list(range(40))


def test_label_records_failures_and_retries(tmp_path, vit):
    state = {"fail": True}

    def acc(c):
        if state["fail"] and c["num_layers"] == 3:
            raise RuntimeError("flaky accuracy")
        return 0.9

    evs = lambda: [CallableEvaluator(acc, [("accuracy", "max")], name="acc", subnet_only=True)]  # noqa: E731
    store = tmp_path / "run.sqlite"
    s = label(vit, 30, evs(), store, None, seed=0, progress=False)
    assert s["failed"] > 0 and s["ok"] + s["failed"] == 30
    with RunStore(store) as st:
        assert all("flaky accuracy" in r["error"] for r in st.failures())
    state["fail"] = False
    s2 = label(vit, 30, evs(), store, None, seed=0, progress=False, retry_failed=True)
    assert s2["failed"] == 0 and s2["ok"] == 30 and s2["new"] == s["failed"]


def test_label_stops_when_its_first_batch_fails_entirely(tmp_path, vit):
    def broken(c):
        raise RuntimeError("checksum mismatch for weights.pt")

    evs = [CallableEvaluator(broken, [("accuracy", "max")], name="broken", subnet_only=True)]
    store = tmp_path / "run.sqlite"
    with pytest.raises(LabelError, match="checksum mismatch for weights.pt"):
        label(vit, 30, evs, store, tmp_path / "out.parquet", seed=0, progress=False)
    assert list(tmp_path.iterdir()) == []  # nothing recorded: the new store is removed, no output written


def test_evaluator_base_needs_objectives():
    class Nothing(Evaluator):
        pass

    assert Nothing().names == () and Nothing().identity == "Nothing"


@pytest.mark.parametrize(
    "values, bad",
    [
        ({"accuracy": 1.2, "latency_s": 1e-3}, "accuracy = 1.2: outside [0, 1]"),
        ({"accuracy": -0.1, "latency_s": 1e-3}, "accuracy = -0.1: outside [0, 1]"),
        ({"accuracy": 0.5, "latency_s": -1.0}, "latency_s = -1: outside (0, inf)"),
        ({"accuracy": 0.5, "latency_s": 0.0}, "latency_s = 0: outside (0, inf)"),
        ({"accuracy": 0.5, "latency_s": float("inf")}, "latency_s = inf: not finite"),
        ({"accuracy": 1.0, "latency_s": 1e-300}, None),
        ({"accuracy": 0.0, "latency_s": 5.0}, None),
    ],
)
def test_evaluator_fails_candidates_with_impossible_values(values, bad) -> None:
    space = Space("one", [Choice("x", (0, 1))])
    ev = CallableEvaluator(lambda cfg: values, [("accuracy", "max"), ("latency_s", "min")], space=space)
    res = ev.evaluate([{"x": 0}])
    if bad is None:
        assert res.errors[0] is None
        assert res.objectives_of(0) == values
    else:
        assert res.errors[0] is not None and bad in res.errors[0]
