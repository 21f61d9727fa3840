"""The layer-table importer for torch modules: ViT-B/16 and ResNet-50 written in plain torch (on the
``meta`` device: no weights, no computation) give the project's hand-written tables; convolutions,
linears and matmuls of other shapes give hand-computed rows; unsupported operations are named."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from cimnet_bo.workload import macs, models, params
from cimnet_bo.workload.torch_import import UnsupportedOpError, from_torch

META = torch.device("meta")


# ------------------------------------------------------------------------------ ViT-B/16
class Attention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).reshape(B, T, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4).unbind(0)
        x = F.scaled_dot_product_attention(q, k, v)
        return self.proj(x.transpose(1, 2).reshape(B, T, C))


class Block(nn.Module):
    def __init__(self, dim: int, heads: int, mlp: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, mlp)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(mlp, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.fc2(self.act(self.fc1(self.norm2(x))))


class ViT(nn.Module):
    def __init__(self, image=224, patch=16, dim=768, depth=12, heads=12, mlp=3072, classes=1000) -> None:
        super().__init__()
        self.patch_embed = nn.Conv2d(3, dim, patch, stride=patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, (image // patch) ** 2 + 1, dim))
        self.blocks = nn.Sequential(*[Block(dim, heads, mlp) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        torch._assert(x.shape[1] == 3, "RGB input expected")
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        x = self.norm(self.blocks(x))
        return self.head(x[:, 0])


# ----------------------------------------------------------------------------- ResNet-50
class Bottleneck(nn.Module):
    def __init__(self, cin: int, mid: int, out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, mid, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(mid)
        self.conv2 = nn.Conv2d(mid, mid, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(mid)
        self.conv3 = nn.Conv2d(mid, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or cin != out:
            self.downsample = nn.Sequential(nn.Conv2d(cin, out, 1, stride=stride, bias=False), nn.BatchNorm2d(out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        if self.downsample is not None:
            x = self.downsample(x)
        return self.relu(y + x)


class ResNet50(nn.Module):
    def __init__(self, classes: int = 1000) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        blocks, cin = [], 64
        for s, (depth, out) in enumerate(zip([3, 4, 6, 3], [256, 512, 1024, 2048])):
            for j in range(depth):
                blocks.append(Bottleneck(cin, out // 4, out, 2 if j == 0 and s > 0 else 1))
                cin = out
        self.layers = nn.Sequential(*blocks)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(2048, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.avgpool(self.layers(x))
        return self.fc(torch.flatten(x, 1))


def _gemm_rows(table) -> np.ndarray:
    """The (kind, M, K, N, count, reuse) of the static and dynamic rows, in order."""
    keep = table.kind != "eltwise"
    return np.array(
        [
            (k, *map(float, r))
            for k, *r in zip(table.kind[keep], *(getattr(table, c)[keep] for c in "M K N count reuse".split()))
        ],
        dtype=object,
    )


def _image() -> torch.Tensor:
    return torch.empty(1, 3, 224, 224, device=META)


@pytest.fixture(scope="module")
def vit_tables():
    with META:
        model = ViT()
    return from_torch(model, _image()), models.vit_b16()


@pytest.fixture(scope="module")
def resnet_tables():
    with META:
        model = ResNet50()
    return from_torch(model, _image()), models.resnet50()


def test_vit_b16_matches_the_hand_table(vit_tables):
    got, hand = vit_tables
    assert macs(got) == macs(hand)
    assert params(got) == params(hand)
    with META:
        assert params(got) == sum(p.numel() for p in ViT().parameters())
    assert np.sum(got.kind == "static") == np.sum(hand.kind == "static") == 12 * 4 + 2
    assert (_gemm_rows(got) == _gemm_rows(hand)).all()
    assert np.sum(got.ops) == np.sum(hand.ops)
    qk = np.flatnonzero(got.kind == "dynamic")[0]  # QK^T of the first layer: 12 heads of 197 x 64 x 197
    assert (got.M[qk], got.K[qk], got.N[qk], got.count[qk]) == (197, 64, 197, 12)
    assert got.kind[qk + 1] == "eltwise" and got.ops[qk + 1] == 12 * 197 * 197  # its softmax


def test_resnet50_matches_the_hand_table(resnet_tables):
    got, hand = resnet_tables
    assert macs(got) == macs(hand)
    assert params(got) == params(hand)
    with META:
        assert params(got) == sum(p.numel() for p in ResNet50().parameters())
    assert np.sum(got.kind == "static") == np.sum(hand.kind == "static") == 1 + 16 * 3 + 4 + 1
    for col in ("M", "K", "N", "count", "reuse", "ops", "extra_params"):
        np.testing.assert_array_equal(getattr(got, col), getattr(hand, col), err_msg=col)
    first = (got.M[0], got.K[0], got.N[0], got.reuse[0])
    assert first == (112 * 112, 7 * 7 * 3, 64, 49 / 4)
    down = list(got.name).index("layers.3.downsample.0")  # 1x1 stride-2 shortcut: reuse 1/4
    assert (got.M[down], got.K[down], got.N[down], got.reuse[down]) == (28 * 28, 256, 512, 0.25)


def test_bits_apply_to_every_row():
    table = from_torch(nn.Sequential(nn.Linear(4, 3), nn.ReLU()), torch.empty(1, 4), w_bits=4, a_bits=6)
    assert set(table.w_bits) == {4.0} and set(table.a_bits) == {6.0}
    assert table.label == "Sequential"


@pytest.mark.parametrize("wrap", [False, True], ids=["functional", "module"])
def test_grouped_strided_dilated_conv1d(wrap):
    conv = nn.Conv1d(8, 12, kernel_size=5, stride=2, padding=1, dilation=2, groups=4)
    # traced as the root, the convolution is F.conv1d on its parameters; inside a Sequential, a module call
    table = from_torch(nn.Sequential(conv) if wrap else conv, torch.empty(1, 8, 50))
    # output length (50 + 2*1 - 2*(5-1) - 1) // 2 + 1 = 22; per group K = 8/4 * 5, N = 12/4
    assert len(table) == 1 and table.kind[0] == "static"
    assert (table.M[0], table.K[0], table.N[0], table.count[0], table.reuse[0]) == (22, 10, 3, 4, 2.5)
    assert table.extra_params[0] == 12
    assert macs(table) == 22 * 10 * 3 * 4
    assert params(table) == 8 // 4 * 5 * 12 + 12


class Mixed(nn.Module):
    """Linear over leading dims, a batched activation matmul, a parameter matmul, F.linear."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(16, 8, bias=False)
        self.w = nn.Parameter(torch.zeros(8, 5))
        self.w2 = nn.Parameter(torch.zeros(7, 5))
        self.b2 = nn.Parameter(torch.zeros(7))
        self.scale = nn.Parameter(torch.ones(7))
        self.w3 = nn.Parameter(torch.zeros(5, 8))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = self.lin(x)  # (2, 3, 4, 8)
        s = torch.matmul(h, y)  # (2, 3, 4, 8) @ (2, 3, 8, 6)
        z = F.linear(h @ self.w, self.w2, self.b2)  # (2, 3, 4, 5) -> (2, 3, 4, 7)
        u = self.w3 @ y  # (5, 8) @ (2, 3, 8, 6): 36 input vectors of 8
        d = F.linear(h, h[0, 0])  # (2, 3, 4, 8) x (4, 8)^T: both activations
        return s.sum() + (z * self.scale).mean() + u.sum() + d.sum()


def test_linears_and_matmuls():
    table = from_torch(Mixed(), (torch.empty(2, 3, 4, 16), torch.empty(2, 3, 8, 6)))
    rows = {
        n: (k, table.M[i], table.K[i], table.N[i], table.count[i])
        for i, (n, k) in enumerate(zip(table.name, table.kind))
    }
    assert rows["lin"] == ("static", 24, 16, 8, 1)
    assert rows["matmul"] == ("dynamic", 4, 8, 6, 6)
    assert rows["matmul_1"] == ("static", 24, 8, 5, 1)
    assert rows["linear"] == ("static", 24, 5, 7, 1)
    assert rows["matmul_2"] == ("static", 36, 8, 5, 1)
    assert rows["linear_1"] == ("dynamic", 24, 8, 4, 1)
    # w and w2 are GEMM weights, b2 the bias of F.linear; scale is an extra parameter in a row of its own
    assert params(table) == 16 * 8 + 8 * 5 + 7 * 5 + 7 + 7 + 5 * 8
    assert table.extra_params[list(table.name).index("linear")] == 7
    assert table.extra_params[list(table.name).index("scale")] == 7
    assert list(table.name).count("w") == list(table.name).count("w2") == list(table.name).count("b2") == 0
    assert table.ops[list(table.name).index("sum_1")] == 2 * 3 * 4 * 6  # a reduction: its input
    assert table.ops[list(table.name).index("mul")] == 2 * 3 * 4 * 7


class SelfAttention(nn.Module):
    def __init__(self, batch_first: bool, **kw) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(32, 4, batch_first=batch_first, **kw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.attn(x, x, x, need_weights=False)[0]


class CrossAttention(SelfAttention):
    def forward(self, x: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
        return self.attn(x, key, value, need_weights=False)[0]


@pytest.mark.parametrize("batch_first", [True, False])
def test_multihead_self_attention(batch_first):
    x = torch.empty(2, 10, 32) if batch_first else torch.empty(10, 2, 32)
    model = SelfAttention(batch_first)
    table = from_torch(model, x)
    # per image: QKV 10 x 32 x 96, 4 heads of QK^T 10 x 8 x 10 and AV 10 x 10 x 8, projection 10 x 32 x 32
    assert list(table.kind) == ["static", "dynamic", "eltwise", "dynamic", "static"]
    assert (table.M[0], table.K[0], table.N[0]) == (20, 32, 96)
    assert (table.M[1], table.K[1], table.N[1], table.count[1]) == (10, 8, 10, 8)
    assert table.ops[2] == 8 * 10 * 10
    assert macs(table) == 2 * (10 * 32 * 96 + 2 * 10 * 8 * 10 * 4 + 10 * 32 * 32)
    assert params(table) == sum(p.numel() for p in model.parameters()) == 32 * 96 + 96 + 32 * 32 + 32


def test_multihead_cross_attention():
    model = CrossAttention(True, kdim=16, vdim=24, bias=False)
    table = from_torch(model, (torch.empty(1, 10, 32), torch.empty(1, 7, 16), torch.empty(1, 7, 24)))
    assert list(table.kind) == ["static"] * 3 + ["dynamic", "eltwise", "dynamic", "static"]
    assert [(table.M[i], table.K[i], table.N[i]) for i in range(3)] == [(10, 32, 32), (7, 16, 32), (7, 24, 32)]
    assert (table.M[3], table.K[3], table.N[3], table.count[3]) == (10, 8, 7, 4)
    assert params(table) == sum(p.numel() for p in model.parameters())


class Cumsum(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cumsum(torch.relu(x), dim=1)


class TopK(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.topk(3)[0]


def test_an_unsupported_op_is_named():
    with pytest.raises(UnsupportedOpError, match=r"'cumsum'.*node 'cumsum'"):
        from_torch(Cumsum(), torch.empty(1, 10))


class Recurrent(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.gru = nn.GRU(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gru(x)[0]


def test_an_unsupported_op_with_a_tuple_output_is_named():
    with pytest.raises(UnsupportedOpError, match=r"'topk'.*node 'topk'"):
        from_torch(TopK(), torch.empty(1, 10))


def test_an_unsupported_module_is_named():
    with pytest.raises(UnsupportedOpError, match=r"torch\.nn\.modules\.rnn\.GRU.*node 'gru'"):
        from_torch(Recurrent(), torch.empty(1, 3, 4))


def test_an_unsupported_op_as_eltwise_warns_once():
    with pytest.warns(UserWarning, match=r"\['cumsum'\]") as record:
        table = from_torch(Cumsum(), torch.empty(1, 10), unknown="eltwise")
    assert len(record) == 1
    assert list(table.kind) == ["eltwise", "eltwise"] and list(table.ops) == [10, 10]


def test_an_input_the_model_cannot_take_is_named():
    with pytest.raises(
        UnsupportedOpError, match=r"shape \[\(1, 5\)\]: at node '_0' \(call_module 0\).*\[1, 5\] X \[4, 3\]"
    ):
        from_torch(nn.Sequential(nn.Linear(4, 3)), torch.empty(1, 5))


def test_a_bad_unknown_mode_and_an_untraceable_model():
    with pytest.raises(ValueError, match="unknown='skip'"):
        from_torch(Cumsum(), torch.empty(1, 10), unknown="skip")

    class Branchy(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x if x.sum() > 0 else -x

    with pytest.raises(UnsupportedOpError, match="torch.fx cannot trace Branchy"):
        from_torch(Branchy(), torch.empty(1, 10))


def test_the_imported_vit_simulates_as_the_hand_table(vit_tables):
    from cimnet_bo.hardware import simulate
    from cimnet_bo.space import get_space

    hw = get_space("vit-b-imagenet").hardware.baseline
    got, hand = (simulate(t, hw) for t in vit_tables)
    assert got.latency_s > 0
    assert (got.latency_s, got.energy_j, got.area_mm2) == (hand.latency_s, hand.energy_j, hand.area_mm2)


def test_simulate_a_model_from_the_command_line(capsys):
    from cimnet_bo.cli import main
    from cimnet_bo.hardware import simulate
    from cimnet_bo.space import get_space

    argv = ["simulate", "--space", "ofa-resnet50", "--model", f"{__name__}:ResNet50", "--input-shape", "1,3,224,224"]
    assert main([*argv, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    hand = simulate(models.resnet50(), get_space("ofa-resnet50").hardware.baseline)
    assert out["model"] == f"{__name__}:ResNet50" and out["input_shape"] == [1, 3, 224, 224]
    assert out["latency_s"] == pytest.approx(hand.latency_s, rel=1e-12)
    assert out["energy_j"] == pytest.approx(hand.energy_j, rel=1e-12)


def built_with_tensors() -> nn.Module:
    """A factory that computes a width with a tensor: it cannot build on the meta device."""
    return nn.Sequential(nn.Linear(4, int(torch.tensor(6).item())))


def test_simulate_a_model_that_builds_only_off_meta(capsys):
    from cimnet_bo.cli import main

    argv = ["simulate", "--space", "ofa-resnet50", "--model", f"{__name__}:built_with_tensors", "--input-shape", "2,4"]
    assert main([*argv, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [(r["kind"], r["M"], r["K"], r["N"]) for r in out["layers"]] == [("static", 2, 4, 6)]


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--model", f"{__name__}:ResNet50"], "--model 'test_torch_import:ResNet50' needs --input-shape"),
        (["--input-shape", "1,3"], "--input-shape applies only with --model"),
        (["--model", f"{__name__}:ResNet50", "--input-shape", "1,3,224,224", "--subnet", "max"], "--subnet 'max'"),
        (["--model", "builtins:dict", "--input-shape", "1,3"], "returned a dict, not a torch.nn.Module"),
        (["--model", "torch.nn:GRU", "--input-shape", "1,3"], "'torch.nn:GRU': calling it without arguments failed"),
        (["--model", f"{__name__}:Cumsum", "--input-shape", "1,3"], "'cumsum'"),
        (["--model", f"{__name__}:ResNet50", "--input-shape", "1,4,224,224"], "at node 'conv1'"),
    ],
    ids=["no-shape", "shape-alone", "subnet-too", "not-a-module", "factory-fails", "unsupported-op", "bad-shape"],
)
def test_simulate_model_errors(capsys, extra, message):
    from cimnet_bo.cli import main

    assert main(["simulate", "--space", "ofa-resnet50", *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
