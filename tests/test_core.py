"""The project's basics: the error base class, registries, plain values, the space resolver and
the multi-objective layer (constraints, best values, de-duplicated Pareto sets)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from cimnet_bo.core import CimnetError, Registry, UnknownNameError, plain
from cimnet_bo.moo import (
    Constraint,
    ConstraintError,
    HypervolumeScale,
    as_constraints,
    best_values,
    feasible_mask,
    pareto_mask,
)
from cimnet_bo.space import JointSpace, as_space, get_space, hardware_side, is_joint, space_from_meta, subnet_side


# ----------------------------------------------------------------- errors and registries
def test_unknown_name_is_a_cimnet_key_and_value_error_with_a_plain_message():
    reg: Registry[type] = Registry("widget", attribute="name")

    @reg.register("a")
    class A:
        pass

    assert A.name == "a" and reg["a"] is A and reg.names() == ["a"] and "a" in reg and len(reg) == 1
    with pytest.raises(UnknownNameError) as e:
        reg["b"]
    assert isinstance(e.value, (CimnetError, KeyError, ValueError))
    assert str(e.value) == "unknown widget 'b'; registered: a"  # no KeyError quotes


def test_a_name_is_registered_once():
    reg: Registry[object] = Registry("thing")
    reg.register("x")(len)
    reg.register("x")(len)  # the same object again is fine (a module imported twice)
    with pytest.raises(CimnetError, match="thing 'x' is registered already"):
        reg.register("x")(abs)


def test_registry_loads_its_modules_on_first_lookup():
    reg: Registry[object] = Registry("thing", modules=("json.decoder",))
    assert not reg._loaded
    assert reg.names() == [] and reg._loaded


def test_project_registries_share_the_convention():
    from cimnet_bo.predictors import PREDICTORS
    from cimnet_bo.search import STRATEGIES
    from cimnet_bo.space import JOINT_SPACES
    from cimnet_bo.workload import FAMILIES

    for reg, name in ((PREDICTORS, "xgb"), (STRATEGIES, "qnehvi"), (FAMILIES, "vit"), (JOINT_SPACES, "vit-fmnist")):
        assert isinstance(reg, Registry) and name in reg.names()
        with pytest.raises(UnknownNameError, match=f"unknown {reg.kind} 'nope'; registered: .*{name}"):
            reg["nope"]
    assert STRATEGIES["qnehvi"].name == "qnehvi" and PREDICTORS["xgb"].kind == "xgb"


def test_plain_turns_numpy_into_json():
    v = {"a": np.float32(1.5), "b": (np.int64(2), np.array([1, 2])), 3: [np.bool_(True)], "c": float("nan")}
    out = plain(v)
    assert out["a"] == 1.5 and type(out["a"]) is float and out["b"] == [2, [1, 2]] and type(out["b"][0]) is int
    assert out["3"] == [True] and type(out["3"][0]) is bool and math.isnan(out["c"])
    strict = plain(v, finite=True)
    assert strict["c"] is None
    json.dumps(strict, allow_nan=False)


# ----------------------------------------------------------------- spaces
def test_as_space_and_sides():
    joint = as_space("vit-fmnist")
    assert isinstance(joint, JointSpace) and as_space(joint) is joint and is_joint(joint)
    assert subnet_side(joint) is joint.subnet and hardware_side(joint) is joint.hardware
    sub = joint.subnet
    assert not is_joint(sub) and subnet_side(sub) is sub and hardware_side(sub) is None
    with pytest.raises(UnknownNameError, match="unknown space 'nope'"):
        as_space("nope")
    with pytest.raises(CimnetError, match="expected a space.*int"):
        as_space(3)


def test_space_from_meta_prefers_the_registered_space_and_rebuilds_others():
    s = get_space("vit-fmnist")
    meta = {"space": s.name, "space_version": s.version, "space_def": s.to_dict()}
    assert space_from_meta(meta) is not None and space_from_meta(meta).to_dict() == s.to_dict()
    other = {**meta, "space_version": "other"}
    rebuilt = space_from_meta(other)
    assert isinstance(rebuilt, JointSpace) and rebuilt.names == s.names
    with pytest.raises(CimnetError, match="store.sqlite: space 'vit-fmnist' version 'other' is not registered"):
        space_from_meta({k: v for k, v in other.items() if k != "space_def"}, "store.sqlite")
    with pytest.raises(CimnetError, match="does not say which space"):
        space_from_meta({})


# ----------------------------------------------------------------- constraints
def test_constraint_forms_agree():
    forms = [
        "area_mm2 <= 1.5",
        {"name": "area_mm2", "op": "<=", "bound": 1.5},
        ("area_mm2", "<=", 1.5),
        Constraint("area_mm2", "<=", 1.5),
    ]
    assert len({Constraint.parse(f) for f in forms}) == 1
    assert as_constraints({"area_mm2": 1.5}) == (Constraint("area_mm2", "<=", 1.5),)
    c = Constraint.parse(Constraint("x", ">=", 2).to_dict())
    assert c == Constraint("x", ">=", 2.0)
    np.testing.assert_array_equal(c.holds([1.0, 2.0, 3.0, np.nan]), [False, True, True, False])
    np.testing.assert_allclose(c.violation([1.0, 3.0]), [1.0, -1.0])
    for bad, msg in (
        ("x =< 3", "cannot read constraint"),
        (("x", "<=", float("inf")), "finite"),
        (("x", "~", 1), "operator"),
        ({"name": "x"}, "expected keys"),
    ):
        with pytest.raises(ConstraintError, match=msg):
            Constraint.parse(bad)


def test_feasible_mask_takes_every_form():
    df = {"a": np.array([1.0, 2.0, 3.0]), "b": np.array([0.0, 1.0, np.nan])}
    want = [False, True, False]
    for cons in ({"a": (">=", 2.0), "b": 5.0}, ["a >= 2", "b <= 5"], [Constraint("a", ">=", 2), ("b", "<=", 5)]):
        np.testing.assert_array_equal(feasible_mask(df, cons), want)


# ----------------------------------------------------------------- Pareto, best values, scales
def test_pareto_deduplicate_matches_botorch():
    import torch
    from botorch.utils.multi_objective.pareto import is_non_dominated

    rng = np.random.default_rng(0)
    for _ in range(200):
        n, m = int(rng.integers(1, 30)), int(rng.integers(2, 4))
        U = rng.integers(0, 4, size=(n, m)).astype(float)  # many ties and copies
        want = is_non_dominated(torch.as_tensor(U), deduplicate=True).numpy()
        np.testing.assert_array_equal(pareto_mask(U, ["max"] * m, deduplicate=True), want)


def test_best_values():
    Y = np.array([[0.8, 3.0], [0.9, 5.0], [0.95, 1.0], [np.nan, 0.5]])
    assert best_values(Y, {"acc": "max", "lat": "min"}) == {"acc": 0.95, "lat": 0.5}
    assert best_values(Y, {"acc": "max", "lat": "min"}, feasible=[True, True, False, False]) == {"acc": 0.9, "lat": 3.0}
    out = best_values(Y, {"acc": "max", "lat": "min"}, feasible=[False] * 4)
    assert math.isnan(out["acc"]) and math.isnan(out["lat"])


def test_scale_from_points_maps_reference_to_zero_and_ideal_to_one():
    s = HypervolumeScale.from_points(
        {"acc": "max", "lat": "min"}, {"acc": 0.5, "lat": 1e-2}, {"acc": 1.0, "lat": 1e-4}, log=["lat"]
    )
    U = s.maximized(np.array([[0.5, 1e-2], [1.0, 1e-4], [0.75, 1e-3], [0.6, -1.0]]))
    np.testing.assert_allclose(U[:3], [[0, 0], [1, 1], [0.5, 0.5]], atol=1e-12)
    assert np.isnan(U[3, 1])  # a non-positive latency on the log scale is invalid, not an error
    assert s.hypervolume(np.array([[0.75, 1e-3]])) == pytest.approx(0.25)
    assert s.hypervolume(np.array([[0.75, 1e-3]]), feasible=[False]) == 0.0
    np.testing.assert_allclose(s.curve(np.array([[0.75, 1e-3], [1.0, 1e-4]]), [True, False]), [0.25, 0.25])
    with pytest.raises(ValueError, match="no reference value for objective 'lat'"):
        HypervolumeScale.from_points({"acc": "max", "lat": "min"}, {"acc": 0.5})


def test_speedup_table_takes_wide_by_keyword_only():
    import pandas as pd

    from cimnet_bo.analysis import speedup_table

    df = pd.DataFrame({"accuracy": [0.9], "latency_s": [1e-3]})
    with pytest.raises(TypeError):
        speedup_table({"a": df}, 1e-2, 0.9, (0.0,), True)
    assert speedup_table({"a": df}, 1e-2, 0.9, (0.0,), wide=True)["a"].tolist() == [10.0]


def test_a_saved_predictor_keeps_its_log_target(tmp_path, monkeypatch):
    import cimnet_bo.predictors.base as base
    from cimnet_bo.predictors import load_predictor, make_predictor

    space = get_space("vit-fmnist")
    configs = space.sample(40, seed=0)
    y = np.linspace(1.0, 2.0, 40)
    pred = make_predictor("ridge", space, "my_output").fit(configs, y)
    assert not pred.use_log
    want = pred.predict(configs)
    path = pred.save(tmp_path / "p")
    monkeypatch.setattr(base, "LOG_TARGETS", (*base.LOG_TARGETS, "my_output"))  # a later default
    back = load_predictor(path)
    assert not back.use_log
    np.testing.assert_allclose(back.predict(configs), want)


def test_space_errors_are_value_errors():
    from cimnet_bo.space import SpaceError

    with pytest.raises(ValueError, match="expected a space"):
        as_space(None)
    assert issubclass(SpaceError, CimnetError)


def test_acquire_flock_excludes_a_second_holder_until_release(tmp_path) -> None:
    import os
    import time

    from cimnet_bo.core import acquire_flock

    path = tmp_path / "x.lock"
    fd = acquire_flock(path)
    assert fd is not None
    t0 = time.monotonic()
    assert acquire_flock(path, wait=0.3) is None  # a second descriptor is refused, after the wait
    assert time.monotonic() - t0 >= 0.3
    os.close(fd)
    again = acquire_flock(path)
    assert again is not None
    os.close(again)


def test_atomic_write_leaves_the_old_file_when_writing_fails(tmp_path) -> None:
    import pytest

    from cimnet_bo.core import atomic_write

    path = tmp_path / "out.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_write(path) as tmp:
            tmp.write_text("half")
            raise RuntimeError("disk full")
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]
    with atomic_write(path) as tmp:
        tmp.write_text("new")
    assert path.read_text() == "new"
    with pytest.raises(IsADirectoryError):
        with atomic_write(tmp_path) as tmp:
            pass
