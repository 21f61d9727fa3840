"""Layer tables: published MAC and parameter counts, hand-computed tables, input checks."""

import numpy as np
import pytest

from cimnet_bo.space import get_space, list_spaces
from cimnet_bo.workload import LayerTable, layer_table, macs, models, params, weight_bytes
from cimnet_bo.workload.families import vit_table


@pytest.mark.parametrize(
    "build, ref_macs, ref_params",
    [
        (models.vit_b16, 17.56e9, 86.57e6),  # timm / fvcore for ViT-B/16 at 224 px
        (models.resnet50, 4.09e9, 25.56e6),  # torchvision ResNet-50 model card
        (models.vgg8_cifar, 615.9e6, None),  # DNN+NeuroSim VGG-8 on CIFAR-10
    ],
)
def test_reference_networks_match_published_counts(build, ref_macs, ref_params):
    t = build()
    assert macs(t) == pytest.approx(ref_macs, rel=0.01)
    if ref_params is not None:
        assert params(t) == pytest.approx(ref_params, rel=0.01)


def test_tiny_vit_table_by_hand():
    meta = dict(image=8, patch=4, in_chans=1, classes=3, hidden=8, head_dim=2)
    t = vit_table(meta, {"num_layers": 1, "heads_0": 2, "mlp_0": 16})
    T = 4 + 1  # 2x2 patches + class token
    expected_macs = (
        4 * 16 * 8  # patch embedding: 4 patches x (1*4*4) x 8
        + T * 8 * (3 * 2 * 2)  # qkv: 2 heads of width 2, q k v
        + 2 * (T * 2 * T)  # QK^T per head
        + 2 * (T * T * 2)  # AV per head
        + T * 4 * 8  # projection from 2 heads x 2
        + T * 8 * 16
        + T * 16 * 8  # MLP
        + 8 * 3  # classifier on the class token
    )
    assert macs(t) == expected_macs
    expected_params = (
        16 * 8
        + 8  # patch embedding
        + 8
        + T * 8  # class token, positions
        + 2 * 8  # norm1
        + 8 * 12
        + 12  # qkv
        + 4 * 8
        + 8  # proj
        + 2 * 8  # norm2
        + 8 * 16
        + 16
        + 16 * 8
        + 8  # MLP
        + 2 * 8  # final norm
        + 8 * 3
        + 3  # head
    )
    assert params(t) == expected_params
    kinds = dict(zip(t.name, t.kind))
    assert kinds["l0.qk"] == "dynamic" and kinds["l0.softmax"] == "eltwise" and kinds["l0.qkv"] == "static"
    assert weight_bytes(t) == (16 * 8 + 8 * 12 + 4 * 8 + 8 * 16 + 16 * 8 + 8 * 3)


@pytest.mark.parametrize("name", list_spaces())
def test_every_space_builds_valid_tables_and_depth_changes_them(name):
    space = get_space(name)
    small, big = space.subnet.extreme("min"), space.subnet.extreme("max")
    t_small, t_big = layer_table(space, small), layer_table(space, big)
    assert 0 < macs(t_small) < macs(t_big)
    assert 0 < params(t_small) < params(t_big)
    joint_cfg = space.sample(1, 0)[0]  # hardware keys are ignored
    assert len(layer_table(space, joint_cfg)) > 0


def test_vit_b_imagenet_max_subnet_is_vit_b16():
    t = layer_table("vit-b-imagenet", get_space("vit-b-imagenet").subnet.extreme("max"))
    assert macs(t) == macs(models.vit_b16()) and params(t) == params(models.vit_b16())


def test_layer_table_coercion_and_errors():
    rows = [{"kind": "static", "M": 4, "K": 8, "N": 2}, {"kind": "eltwise", "M": 0, "K": 0, "N": 0, "ops": 10}]
    t = LayerTable.coerce(rows)
    assert list(t.count) == [1, 1] and list(t.w_bits) == [8, 8]
    again = LayerTable.coerce(t.to_pandas())
    assert np.array_equal(again.M, t.M)
    with pytest.raises(ValueError, match="unknown kind"):
        LayerTable.coerce([{"kind": "conv", "M": 1, "K": 1, "N": 1}])
    with pytest.raises(ValueError, match="missing required column"):
        LayerTable.coerce({"kind": ["static"], "M": [1], "K": [1]})
    with pytest.raises(ValueError, match="'K' must be positive"):
        LayerTable.coerce({"kind": ["static"], "M": [1], "K": [0], "N": [1]})
    two = {"kind": ["eltwise", "static"], "name": ["norm", "fc"], "M": [0, 1], "K": [0, 3], "N": [0, 2]}
    with pytest.raises(ValueError, match=r"'reuse' must be positive; row 1 \(fc\) has 0.0"):
        LayerTable.coerce({**two, "reuse": [1, 0]})
    with pytest.raises(ValueError, match="'N' must be positive; row 1"):  # zero shapes are fine on eltwise rows only
        LayerTable.coerce({**two, "N": [0, 0]})
    with pytest.raises(ValueError, match="'ops' has negative values"):
        LayerTable.coerce({**two, "ops": [-1, 0]})
    with pytest.raises(ValueError, match="'a_bits' has non-finite values"):
        LayerTable.coerce({**two, "a_bits": [8, np.nan]})
    with pytest.raises(ValueError, match="unknown workload family"):
        layer_table("transformer-xl", {}, meta={})
