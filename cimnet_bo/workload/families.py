"""Layer-table builders for the network families, registered by family name.

Each builder takes the fixed description of a family instance (``meta``: image size,
widths, ...) and a subnet configuration, and returns a :class:`LayerTable` for one image
(batch 1). They use numpy only.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

from cimnet_bo.core import Registry
from cimnet_bo.workload.table import LayerTable, TableBuilder

Builder = Callable[[Mapping[str, Any], Mapping[str, Any]], LayerTable]
#: Layer-table builders by family name (``@FAMILIES.register(name)``).
FAMILIES: Registry[Builder] = Registry("workload family")


def make_divisible(v: float, divisor: int = 8) -> int:
    """Round channels to a multiple of ``divisor``, never below 90 % of ``v`` (MobileNet rule)."""
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def conv_out(size: int, k: int, stride: int) -> int:
    """Output side of a 'same'-padded convolution (padding k // 2)."""
    return (size + 2 * (k // 2) - k) // stride + 1


# ----------------------------------------------------------------------------------- ViT
@FAMILIES.register("vit")
def vit_table(meta: Mapping[str, Any], cfg: Mapping[str, Any]) -> LayerTable:
    """Vision transformer with per-layer heads and MLP size.

    ``meta``: image, patch, in_chans, classes, head_dim, and hidden (unless the config has
    ``embed_dim``). ``cfg``: num_layers, heads_i, and mlp_i (hidden units) or mlp_ratio_i.
    Per layer: LN, QKV, QK^T and AV per head (dynamic), softmax, projection, residual add,
    LN, fc1, GELU, fc2, residual add.
    """
    hidden = int(cfg.get("embed_dim", meta.get("hidden", 0)))
    hd = int(meta["head_dim"])
    patches = (meta["image"] // meta["patch"]) ** 2
    T = patches + 1  # class token
    b = TableBuilder(meta.get("label", "vit"))
    b.static("patch_embed", patches, meta["in_chans"] * meta["patch"] ** 2, hidden, bias=True)
    b.eltwise("pos_embed", T * hidden, params=hidden + T * hidden)  # cls token + positions
    for i in range(int(cfg["num_layers"])):
        h = int(cfg[f"heads_{i}"])
        mlp = int(cfg[f"mlp_{i}"]) if f"mlp_{i}" in cfg else int(round(cfg[f"mlp_ratio_{i}"] * hidden))
        b.eltwise(f"l{i}.norm1", T * hidden, params=2 * hidden)
        b.static(f"l{i}.qkv", T, hidden, 3 * h * hd, bias=True)
        b.dynamic(f"l{i}.qk", T, hd, T, count=h)
        b.eltwise(f"l{i}.softmax", h * T * T)
        b.dynamic(f"l{i}.av", T, T, hd, count=h)
        b.static(f"l{i}.proj", T, h * hd, hidden, bias=True)
        b.eltwise(f"l{i}.add1", T * hidden)
        b.eltwise(f"l{i}.norm2", T * hidden, params=2 * hidden)
        b.static(f"l{i}.fc1", T, hidden, mlp, bias=True)
        b.eltwise(f"l{i}.gelu", T * mlp)
        b.static(f"l{i}.fc2", T, mlp, hidden, bias=True)
        b.eltwise(f"l{i}.add2", T * hidden)
    b.eltwise("norm", T * hidden, params=2 * hidden)
    b.static("head", 1, hidden, meta["classes"], bias=True)
    return b.build()


# ------------------------------------------------------------------------- MobileNetV3
def _conv_bn(
    b: TableBuilder, name: str, size: int, cin: int, cout: int, k: int, stride: int, groups: int = 1, act: bool = True
) -> int:
    """Conv (no bias) + BatchNorm (+ activation); returns the output side."""
    out = conv_out(size, k, stride)
    b.conv(name, out * out, cin, cout, k, groups, stride=stride)
    b.eltwise(f"{name}.bn", out * out * cout, params=2 * cout)
    if act:
        b.eltwise(f"{name}.act", out * out * cout)
    return out


@FAMILIES.register("mbv3")
def mbv3_table(meta: Mapping[str, Any], cfg: Mapping[str, Any]) -> LayerTable:
    """MobileNetV3-style network with elastic depth, kernel and expand ratio (as in OFA).

    ``meta``: image, in_chans, classes, stem (channels), first_block (channels of the fixed
    expand-1 block, or 0 for none), stages (list of {width, stride, se}), final_expand,
    feature_mix (0 for none). ``cfg``: d_s per stage, ks_i and e_i per block (global
    block index, 4 slots per stage: ``max_depth``), optional resolution.
    Block: [expand 1x1 + BN + act] -> depthwise k x k + BN + act -> [SE] -> project 1x1 + BN
    -> [residual add when stride 1 and width unchanged].
    """
    size = int(cfg.get("resolution", meta["image"]))
    b = TableBuilder(meta.get("label", "mbv3"))
    size = _conv_bn(b, "stem", size, meta["in_chans"], meta["stem"], 3, meta.get("stem_stride", 2))
    cin = meta["stem"]
    if meta.get("first_block"):
        c = meta["first_block"]
        size = _conv_bn(b, "first.dw", size, cin, cin, 3, 1, groups=cin)
        size = _conv_bn(b, "first.pw", size, cin, c, 1, 1, act=False)
        if c == cin:
            b.eltwise("first.add", size * size * c)
        cin = c
    slots = int(meta.get("max_depth", 4))
    for s, stage in enumerate(meta["stages"]):
        for j in range(int(cfg[f"d_{s}"])):
            i = s * slots + j
            k, e = int(cfg[f"ks_{i}"]), cfg[f"e_{i}"]
            stride = stage["stride"] if j == 0 else 1
            cout = stage["width"]
            mid = make_divisible(cin * e)
            p = f"b{i}"
            size_in = size
            _conv_bn(b, f"{p}.expand", size, cin, mid, 1, 1)
            size = _conv_bn(b, f"{p}.dw", size, mid, mid, k, stride, groups=mid)
            if stage.get("se"):
                red = make_divisible(mid // 4)
                b.eltwise(f"{p}.se.pool", size * size * mid)
                b.static(f"{p}.se.fc1", 1, mid, red, bias=True)
                b.eltwise(f"{p}.se.act1", red)
                b.static(f"{p}.se.fc2", 1, red, mid, bias=True)
                b.eltwise(f"{p}.se.gate", mid)
                b.eltwise(f"{p}.se.scale", size * size * mid)
            _conv_bn(b, f"{p}.project", size, mid, cout, 1, 1, act=False)
            if stride == 1 and cin == cout and size_in == size:
                b.eltwise(f"{p}.add", size * size * cout)
            cin = cout
    size = _conv_bn(b, "final_expand", size, cin, meta["final_expand"], 1, 1)
    cin = meta["final_expand"]
    b.eltwise("pool", size * size * cin)
    if meta.get("feature_mix"):
        b.static("feature_mix", 1, cin, meta["feature_mix"], bias=meta.get("feature_mix_bias", False))
        b.eltwise("feature_mix.act", meta["feature_mix"])
        cin = meta["feature_mix"]
    b.static("classifier", 1, cin, meta["classes"], bias=True)
    return b.build()


# ------------------------------------------------------------------------------ ResNet
@FAMILIES.register("resnet")
def resnet_table(meta: Mapping[str, Any], cfg: Mapping[str, Any]) -> LayerTable:
    """Bottleneck ResNet; covers torchvision's ResNet-50 and OFA's ResNet50D space.

    ``meta``: image, in_chans, classes, base_depths (per stage), widths (stage output
    channels), stem ("plain": 7x7 conv; "deep": three 3x3 convs as in ResNet-D),
    width_mults (for ``w_i`` choices), avg_down (ResNet-D shortcut). ``cfg`` (all optional):
    ``d_0`` (deep-stem depth: 0 skips the middle stem conv; >0 keeps it) and ``d_1..d_4``
    (extra blocks per stage), ``e_i`` per block (bottleneck expand ratio; default 0.25),
    ``w_0..w_5`` (width-multiplier index: stem mid, stem out, four stages).
    """
    mults = meta.get("width_mults", [1.0])
    wm = [mults[int(cfg.get(f"w_{i}", len(mults) - 1))] for i in range(6)]
    size = int(cfg.get("resolution", meta["image"]))
    b = TableBuilder(meta.get("label", "resnet"))
    cin = meta["in_chans"]
    if meta.get("stem", "plain") == "plain":
        cout = make_divisible(64 * wm[1])
        size = _conv_bn(b, "stem", size, cin, cout, 7, 2)
    else:
        mid = make_divisible(32 * wm[0])
        cout = make_divisible(64 * wm[1])
        size = _conv_bn(b, "stem.0", size, cin, mid, 3, 2)
        if int(cfg.get("d_0", 1)) > 0:
            _conv_bn(b, "stem.1", size, mid, mid, 3, 1)
            b.eltwise("stem.1.add", size * size * mid)
        _conv_bn(b, "stem.2", size, mid, cout, 3, 1)
    size = conv_out(size, 3, 2)  # max pool
    b.eltwise("maxpool", size * size * cout)
    cin = cout
    i = 0
    max_extra = int(meta.get("max_extra_depth", 0))
    for s, (base, width) in enumerate(zip(meta["base_depths"], meta["widths"])):
        out = make_divisible(width * wm[2 + s])
        depth = base + int(cfg.get(f"d_{s + 1}", 0))
        for j in range(base + max_extra):
            if j < depth:
                e = float(cfg.get(f"e_{i}", 0.25))
                mid = make_divisible(round(out * e))
                stride = 2 if (j == 0 and s > 0) else 1
                p = f"s{s}.b{j}"
                _conv_bn(b, f"{p}.conv1", size, cin, mid, 1, 1)
                new = _conv_bn(b, f"{p}.conv2", size, mid, mid, 3, stride)
                _conv_bn(b, f"{p}.conv3", new, mid, out, 1, 1, act=False)
                if j == 0:
                    if meta.get("avg_down") and stride == 2:
                        b.eltwise(f"{p}.down.pool", new * new * cin)
                        b.conv(f"{p}.down", new * new, cin, out, 1)
                    else:
                        b.conv(f"{p}.down", new * new, cin, out, 1, stride=stride)
                    b.eltwise(f"{p}.down.bn", new * new * out, params=2 * out)
                b.eltwise(f"{p}.add", new * new * out)
                b.eltwise(f"{p}.relu", new * new * out)
                size, cin = new, out
            i += 1
    b.eltwise("pool", size * size * cin)
    b.static("fc", 1, cin, meta["classes"], bias=True)
    return b.build()


# --------------------------------------------------------------------------------- VGG
@FAMILIES.register("vgg")
def vgg_table(meta: Mapping[str, Any], cfg: Mapping[str, Any]) -> LayerTable:
    """Plain VGG: ``meta["convs"]`` lists 3x3 conv widths, ``"M"`` for a 2x2 max pool;
    ``meta["fcs"]`` the hidden fully-connected widths before the classifier."""
    size = int(meta["image"])
    cin = meta["in_chans"]
    b = TableBuilder(meta.get("label", "vgg"))
    for n, c in enumerate(meta["convs"]):
        if c == "M":
            size //= 2
            b.eltwise(f"pool{n}", size * size * cin)
            continue
        b.conv(f"conv{n}", size * size, cin, c, 3, bias=True)
        b.eltwise(f"conv{n}.relu", size * size * c)
        cin = c
    feat = size * size * cin
    for n, f in enumerate(list(meta["fcs"]) + [meta["classes"]]):
        b.static(f"fc{n}", 1, feat, f, bias=True)
        feat = f
    return b.build()


# ------------------------------------------------------------------- one fixed network
@FAMILIES.register("table")
def stored_table(meta: Mapping[str, Any], cfg: Mapping[str, Any]) -> LayerTable:
    """A fixed network (an imported torch model): ``meta["table"]`` holds its layer table's
    columns as lists (:meth:`LayerTable.to_dict`), ``meta["label"]`` its label; the
    configuration has no say."""
    return LayerTable.coerce(meta["table"], label=meta.get("label"))
