"""Supernets: subnet extraction, layer-table agreement, data checks, training, evaluation."""

import dataclasses
import json
import shutil

import numpy as np
import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from cimnet_bo.core.shipped import shipped_dir
from cimnet_bo.space import get_subnet_space
from cimnet_bo.supernet import FAMILY_SPACES, build_supernet, data
from cimnet_bo.supernet.evaluator import SupernetEvaluator, default_checkpoint
from cimnet_bo.supernet.train import TrainConfig, export_checkpoint, train_supernet
from cimnet_bo.workload import layer_table, macs, params

SPACES = ["vit-fmnist", "cnn-fmnist"]


@pytest.fixture(scope="module", params=SPACES)
def supernet(request):
    torch.manual_seed(0)
    space = get_subnet_space(request.param)
    model = build_supernet(space)
    # Non-trivial BatchNorm statistics, so the extraction of running stats is exercised.
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    return space, model.eval()


def test_subnet_equals_supernet_in_that_configuration(supernet):
    space, model = supernet
    x = torch.randn(16, 1, 28, 28)
    for cfg in space.sample(6, 1) + [space.extreme("max"), space.extreme("min")]:
        sub = model.get_subnet(cfg).eval()
        with torch.no_grad():
            assert torch.allclose(model(x, cfg), sub(x), atol=1e-5)
    # a different subnet gives different outputs (the comparison can fail)
    a, b = space.extreme("max"), space.extreme("min")
    with torch.no_grad():
        assert not torch.allclose(model(x, a), model(x, b), atol=1e-3)


def test_layer_table_describes_the_evaluated_network(supernet):
    space, model = supernet
    for cfg in space.sample(5, 2) + [space.extreme("max"), space.extreme("min")]:
        sub = model.get_subnet(cfg).eval()
        table = layer_table(space, cfg)
        assert sum(p.numel() for p in sub.parameters()) == params(table)
        with FlopCounterMode(display=False) as fc, torch.no_grad(), sdpa_kernel(SDPBackend.MATH):
            sub(torch.randn(1, 1, 28, 28))
        assert fc.get_total_flops() == 2 * macs(table)


def test_shipped_splits_have_the_documented_sizes():
    sizes = {s: len(data.load_split(s)[1]) for s in data.SHIPPED}
    assert sizes == {"val": 10_000, "test": 10_000, "calib": 2_000}
    train, val, calib = data.split_indices()
    assert len(train) == 50_000 and len(np.intersect1d(train, val)) == 0
    assert np.all(np.isin(calib, train))


def test_checksum_mismatch_is_detected(tmp_path):
    folder = tmp_path / "fmnist"
    shutil.copytree(shipped_dir("data") / "fmnist", folder)
    x, y = data.load_split("val", data_dir=folder)
    np.savez_compressed(folder / "val.npz", images=x[::-1], labels=y[::-1])
    with pytest.raises(data.DataError, match="checksum mismatch.*val.npz"):
        data.load_split("val", data_dir=folder)


def test_missing_training_images_say_where_to_get_them(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "IDX_DIRS", (str(tmp_path / "nowhere"),))
    monkeypatch.delenv(data.ENV_DIR, raising=False)
    with pytest.raises(data.DataError, match="apt-get install dataset-fashion-mnist"):
        data.load_split("train")


def _tiny(family: str, **kw) -> TrainConfig:
    return TrainConfig(
        family=family, epochs=1, batch_size=64, train_split="calib", limit=256, checkpoint_every=1, threads=1, **kw
    )


@pytest.mark.parametrize("family", ["vit", "cnn"])
def test_training_resumes_exactly_where_it_stopped(tmp_path, family):
    cfg = _tiny(family)
    out = tmp_path / "final.pt" if family == "vit" else None  # the export path, once
    straight = train_supernet(cfg, tmp_path / "a", out=out, progress=False)
    assert straight["finished"] and straight["steps"] == 4
    if out is not None:
        assert straight["sha256"] == data.sha256(out)
        assert 0 <= straight["test_acc_largest"] <= 1
    part = train_supernet(cfg, tmp_path / "b", progress=False, stop_after=2)
    assert part == {"steps": 2, "finished": False}
    # where and how a run executes is not part of the recipe: a run may resume elsewhere
    resumed = train_supernet(dataclasses.replace(cfg, checkpoint_every=3), tmp_path / "b", progress=False)
    assert resumed["finished"]
    a = torch.load(tmp_path / "a" / "last.pt", weights_only=False)["model"]
    b = torch.load(tmp_path / "b" / "last.pt", weights_only=False)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    fresh = build_supernet(get_subnet_space(f"{family}-fmnist" if family == "vit" else "cnn-fmnist")).state_dict()
    assert any(not torch.equal(a[k], fresh[k]) for k in a if a[k].is_floating_point())
    with pytest.raises(ValueError, match="another recipe"):
        train_supernet(_tiny(family, seed=1), tmp_path / "b", progress=False)


@pytest.mark.parametrize("family", ["vit", "cnn"])
def test_shipped_recipe_is_the_one_the_shipped_checkpoint_records(family):
    from cimnet_bo.supernet.recipes import shipped_recipe
    from cimnet_bo.supernet.train import RUNTIME_FIELDS

    recorded = json.loads(default_checkpoint(FAMILY_SPACES[family]).with_suffix(".json").read_text())["recipe"]
    recipe = dataclasses.asdict(shipped_recipe(family))
    assert {k: v for k, v in recipe.items() if k not in RUNTIME_FIELDS} == {
        k: v for k, v in recorded.items() if k not in RUNTIME_FIELDS
    }
    with pytest.raises(ValueError, match="family must be one of"):
        shipped_recipe("rnn")


def test_every_augmentation_name_has_its_implementation():
    from cimnet_bo.supernet.recipes import AUGMENT_NAMES
    from cimnet_bo.supernet.train import AUGMENTS

    assert tuple(AUGMENTS) == AUGMENT_NAMES
    with pytest.raises(ValueError, match="augment must be one of"):
        TrainConfig(augment="mixup")


#: The acceptance figures (official test split): the largest subnet's accuracy per family; the
#: smallest subnet's, and the spread between the two, for both.
LARGEST, SMALLEST, SPREAD = {"vit": 0.88, "cnn": 0.91}, 0.82, 0.02


@pytest.mark.parametrize("family", ["vit", "cnn"])
def test_shipped_checkpoint_is_of_the_registered_space_and_meets_the_targets(family):
    space = get_subnet_space(FAMILY_SPACES[family])
    meta = json.loads(default_checkpoint(space.name).with_suffix(".json").read_text())
    assert (meta["space"], meta["space_version"]) == (space.name, space.version)
    # the recorded figures are what the shipped weights give
    largest, smallest = SupernetEvaluator(space, split="test").evaluate([space.extreme("max"), space.extreme("min")])
    assert (largest, smallest) == pytest.approx((meta["test_acc_largest"], meta["test_acc_smallest"]), abs=1e-4)
    assert largest >= LARGEST[family] and smallest >= SMALLEST
    assert largest - smallest >= SPREAD


def test_exported_checkpoint_evaluates_deterministically(tmp_path):
    space = get_subnet_space("vit-fmnist")
    torch.manual_seed(0)
    model = build_supernet(space).eval()
    meta = export_checkpoint(model, space, {"recipe": "untrained"}, tmp_path / "vit.pt")
    written = json.loads((tmp_path / "vit.json").read_text())
    assert written["sha256"] == meta["sha256"] == data.sha256(tmp_path / "vit.pt")
    cfgs = space.sample(3, 0)
    a = SupernetEvaluator(space, checkpoint=tmp_path / "vit.pt").evaluate(cfgs)
    b = SupernetEvaluator(space, checkpoint=tmp_path / "vit.pt").evaluate(cfgs[::-1])[::-1]
    assert np.array_equal(a, b) and np.all((a >= 0) & (a <= 1))
    assert written["val_acc_largest"] == pytest.approx(
        SupernetEvaluator(space, checkpoint=tmp_path / "vit.pt").evaluate([space.extreme("max")])[0], abs=1e-4
    )
    # a corrupted checkpoint is refused
    blob = bytearray((tmp_path / "vit.pt").read_bytes())
    blob[-10] ^= 0xFF
    (tmp_path / "vit.pt").write_bytes(bytes(blob))
    with pytest.raises(data.DataError, match="checksum mismatch"):
        SupernetEvaluator(space, checkpoint=tmp_path / "vit.pt").evaluate(cfgs[:1])
    # new weights exported over old ones (and their metadata) replace both
    torch.manual_seed(1)
    again = export_checkpoint(build_supernet(space).eval(), space, {"recipe": "untrained"}, tmp_path / "vit.pt")
    assert again["sha256"] != meta["sha256"]
    assert json.loads((tmp_path / "vit.json").read_text())["sha256"] == again["sha256"]


def test_evaluator_caches_by_subnet_and_ignores_hardware(tmp_path):
    from cimnet_bo.space import get_space

    joint = get_space("cnn-fmnist")
    torch.manual_seed(0)
    export_checkpoint(build_supernet(joint.subnet).eval(), joint.subnet, {}, tmp_path / "cnn.pt")
    ev = SupernetEvaluator(joint, checkpoint=tmp_path / "cnn.pt")
    cfg = joint.sample(1, 3)[0]
    other_hw = {**cfg, **joint.hardware.sample(1, 4)[0]}
    acc = ev.evaluate([cfg, other_hw])
    assert acc[0] == acc[1] and len(ev._cache) == 1


def test_train_command_takes_the_family_recipe_and_overrides(tmp_path):
    from cimnet_bo.cli import main

    out = tmp_path / "vit.pt"
    assert (
        main(
            [
                *"train-supernet --family vit --epochs 1 --train-split calib --limit 64 --batch-size 32".split(),
                *"--threads 1 --run-dir".split(),
                str(tmp_path / "run"),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    recipe = json.loads(out.with_suffix(".json").read_text())["recipe"]
    assert recipe["epochs"] == 1 and recipe["batch_size"] == 32  # given
    assert recipe["kd_warmup_epochs"] == 13.0 and recipe["augment"] == "flip+crop"  # the vit family's
    with pytest.raises(SystemExit) as e:
        main(["train-supernet", "--family", "gru"])
    assert e.value.code == 2
