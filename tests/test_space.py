"""Spaces: encode/decode round trips, validation messages, sampling, size, freezing, YAML."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cimnet_bo.space import (
    INACTIVE_CODE,
    Choice,
    Condition,
    JointSpace,
    Space,
    depth_choices,
    get_hardware_space,
    get_space,
    list_spaces,
)
from cimnet_bo.space.space import COLUMN_BATCH

SPACES = {name: get_space(name) for name in list_spaces()}


def test_registry_has_every_space_of_the_design():
    expected = {
        "vit-fmnist",
        "cnn-fmnist",
        "vit-b-imagenet",
        "ofa-mbv3",
        "ofa-resnet50",
        "autoformer-t",
        "autoformer-s",
        "autoformer-b",
    }
    assert expected <= set(list_spaces())
    assert get_space("vit-fmnist").hardware.name == "cim-edge"
    assert get_space("vit-b-imagenet").hardware.name == "cim-server"
    with pytest.raises(KeyError, match="unknown space 'nope'"):
        get_space("nope")


@pytest.mark.parametrize("name", sorted(SPACES))
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_decode_inverts_encode(name, seed):
    space = SPACES[name]
    configs = space.sample(8, seed)
    X = space.encode(configs)
    assert X.shape == (8, space.dim)
    assert np.all((X >= 0) & (X <= 1))
    assert space.decode(X) == configs


def test_configurations_hold_plain_python_values():
    """Decoded values are the choices' own values as plain Python objects (no numpy scalars),
    tuple values included."""
    space = Space(
        "t", [Choice("n", (np.int64(1), 2)), Choice("cell", ("sram", "rram")), Choice("shape", ((1, 2), (3,)))]
    )
    cfgs = space.from_indices(np.array([[0, 1, 0], [1, 0, 1]]))
    assert cfgs == [{"n": 1, "cell": "rram", "shape": [1, 2]}, {"n": 2, "cell": "sram", "shape": [3]}]
    assert type(cfgs[0]["n"]) is int
    for cfg in SPACES["vit-fmnist"].sample(5, 0):
        assert all(type(v) in (int, float, str, bool) for v in cfg.values())


@pytest.mark.parametrize("name", sorted(SPACES))
def test_sampling_is_reproducible_and_seed_dependent(name):
    space = SPACES[name]
    assert space.sample(20, 7) == space.sample(20, 7)
    assert space.sample(20, 7) != space.sample(20, 8)


@pytest.mark.parametrize("name", sorted(SPACES))
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), data=st.data())
def test_validate_names_the_bad_key(name, seed, data):
    space = SPACES[name]
    cfg = space.sample(1, seed)[0]
    key = data.draw(st.sampled_from(space.names))
    bad = dict(cfg)
    bad[key] = "not-a-value"
    with pytest.raises(ValueError) as err:
        space.validate(bad)
    assert key in str(err.value) and "not-a-value" in str(err.value)
    assert str(list(space[key].values)) in str(err.value)
    missing = {k: v for k, v in cfg.items() if k != key}
    with pytest.raises(ValueError, match=f"missing keys.*'{key}'"):
        space.validate(missing)
    with pytest.raises(ValueError, match="unknown keys.*'bogus'"):
        space.validate({**cfg, "bogus": 1})


@pytest.mark.parametrize("name", sorted(SPACES))
def test_mutate_gives_a_different_valid_config(name):
    space = SPACES[name]
    rng = np.random.default_rng(0)
    for cfg in space.sample(10, 1):
        new = space.mutate(cfg, rate=0.1, seed=rng)
        assert space.validate(new) == new
        assert new != cfg


def _toy() -> Space:
    return Space(
        "toy",
        depth_choices("depth", (1, 2, 3), {"w": (8, 16)})
        + [
            Choice("cell", ("sram", "rram"), categorical=True),
            Choice("bits", (1, 2), condition=Condition("cell", frozenset({"rram"}))),
        ],
    )


def test_size_matches_brute_force_enumeration():
    space = _toy()
    distinct = set()
    for values in itertools.product(*(c.values for c in space.choices)):
        cfg = dict(zip(space.names, values))
        distinct.add(tuple(space.validate(cfg).values()))
    # depth 1: 2, depth 2: 4, depth 3: 8 -> 14 subnets; cell: sram (1) + rram x 2 bits -> 3
    assert space.size == len(distinct) == 14 * 3


def test_inactive_choices_are_masked_and_canonical():
    space = _toy()
    cfg = {"depth": 1, "w_0": 16, "w_1": 16, "w_2": 16, "cell": "sram", "bits": 2}
    canon = space.validate(cfg)
    assert canon["w_1"] == 8 and canon["w_2"] == 8 and canon["bits"] == 1
    x = space.encode([cfg])[0]
    assert x[space.names.index("w_1")] == INACTIVE_CODE
    assert x[space.names.index("w_0")] == 1.0
    # the same network with other stale values encodes identically
    other = dict(cfg, w_1=8, w_2=16, bits=1)
    assert np.array_equal(space.encode([other]), space.encode([cfg]))


def _row_by_row(space: Space, configs) -> np.ndarray:
    """Canonical ranks of configurations, each value looked up on its own."""
    return space.canonicalize_indices(np.array([[c.index(cfg[c.name]) for c in space.choices] for cfg in configs]))


def test_columns_give_the_ranks_that_configurations_give(monkeypatch):
    space = _toy()
    rng = np.random.default_rng(0)
    # every value of every choice, inactive ones included (stale values become rank 0)
    n = COLUMN_BATCH + 44  # a batch read column by column
    configs = [{c.name: c.values[rng.integers(len(c))] for c in space.choices} for _ in range(n)]
    columns = {n: np.array([cfg[n] for cfg in configs]) for n in space.names}
    want = _row_by_row(space, configs)
    assert (want == 0).any() and len(np.unique(want, axis=0)) > 20
    np.testing.assert_array_equal(space.columns_to_indices(columns), want)
    mixed = [{**cfg, "w_0": float(cfg["w_0"]), "depth": np.int64(cfg["depth"])} for cfg in configs]
    with monkeypatch.context() as m:  # a valid batch is read column by column only
        m.setattr(Space, "_ranks", lambda self, config: pytest.fail("read row by row"))
        np.testing.assert_array_equal(space.to_indices(configs), want)
        # numerically equal values of other types: the same ranks
        np.testing.assert_array_equal(space.to_indices(mixed), want)
    with pytest.raises(ValueError, match="bits"):
        space.columns_to_indices({**columns, "bits": np.full(n, 3)})
    with pytest.raises(ValueError, match="missing \\['cell'\\]"):
        space.columns_to_indices({n: v for n, v in columns.items() if n != "cell"})


def test_to_indices_names_the_bad_configuration_of_a_batch():
    space = _toy()
    good = space.sample(COLUMN_BATCH, 1)  # batches read column by column, then row by row
    for bad, match in [
        ({**good[0], "w_0": 12}, "w_0=12 is not allowed"),
        ({**good[0], "cell": 1}, "cell=1 is not allowed"),  # a number among strings
        ({**good[0], "extra": 1}, "extra"),
        ({k: v for k, v in good[0].items() if k != "bits"}, "bits"),
    ]:
        with pytest.raises(ValueError, match=match):
            space.to_indices([*good[:10], bad, *good[10:]])
    # strings that read as numbers are not numbers: "1" is not the value 1
    labels = Space("labels", [Choice("k", ("1", "2")), Choice("n", (1, 2))])
    batch = [{"k": "2", "n": 1}, {"k": "1", "n": 2}] * COLUMN_BATCH
    assert labels.to_indices(batch)[:2].tolist() == [[1, 0], [0, 1]]
    with pytest.raises(ValueError, match="k=1 is not allowed"):
        labels.to_indices([*batch, {"k": 1, "n": 2}])


def test_freeze_gives_model_only_and_hardware_only_problems():
    joint = get_space("vit-fmnist")
    model_only = joint.freeze(hardware="baseline")
    assert model_only.size == joint.subnet.size
    assert all(c[k] == joint.hardware.baseline[k] for c in model_only.sample(20, 0) for k in joint.hardware.names)
    hw_only = joint.freeze(subnet="max")
    assert hw_only.size == joint.hardware.size
    assert all(c["num_layers"] == 5 for c in hw_only.sample(20, 0))
    with pytest.raises(ValueError, match="rows=7"):
        joint.freeze(hardware={**joint.hardware.baseline, "rows": 7})


def test_yaml_round_trip(tmp_path):
    space = _toy()
    path = tmp_path / "s.yaml"
    space.to_yaml(path)
    again = Space.from_yaml(path)
    assert again.names == space.names and again.size == space.size
    assert again.sample(5, 3) == space.sample(5, 3)
    joint = JointSpace(Space("sub", depth_choices("depth", (1, 2), {"w": (8, 16)})), get_hardware_space("cim-edge"))
    joint.to_yaml(tmp_path / "j.yaml")
    j2 = Space.from_yaml(tmp_path / "j.yaml")
    assert isinstance(j2, JointSpace) and j2.size == joint.size


def test_yaml_space_with_registered_hardware(tmp_path):
    (tmp_path / "mine.yaml").write_text(
        "name: mine\nsubnet:\n  name: mlp\n  choices:\n    - {name: width, values: [32, 64]}\nhardware: cim-edge\n"
    )
    s = Space.from_yaml(tmp_path / "mine.yaml")
    assert s.subnet.size == 2 and s.hardware.name == "cim-edge"


def test_bad_space_definitions_are_rejected():
    with pytest.raises(ValueError, match="repeated choice names"):
        Space("x", [Choice("a", (1, 2)), Choice("a", (3,))])
    with pytest.raises(ValueError, match="unknown choice 'zz'"):
        Space("x", [Choice("a", (1, 2), condition=Condition("zz", frozenset({1})))])
    with pytest.raises(ValueError, match="repeated values"):
        Choice("a", (1, 1))


def test_sizes_of_registered_spaces():
    # vit-b-imagenet: sum over depth L of (4*3)^L
    assert SPACES["vit-b-imagenet"].subnet.size == sum(12**L for L in (10, 11, 12))
    # ofa-mbv3: (sum_d 9^d)^5 * 5 resolutions
    assert SPACES["ofa-mbv3"].subnet.size == (9**2 + 9**3 + 9**4) ** 5 * 5
    # vit-fmnist: sum over depth L of (4*3)^L
    assert SPACES["vit-fmnist"].subnet.size == sum(12**L for L in (2, 3, 5))
