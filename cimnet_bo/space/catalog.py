"""The registered spaces: subnet spaces, CiM hardware spaces, and their joint spaces."""

from __future__ import annotations

from cimnet_bo.space.choice import Choice, Condition
from cimnet_bo.space.registry import HARDWARE_SPACES, SUBNET_SPACES, register_joint
from cimnet_bo.space.space import Space, depth_choices


# --------------------------------------------------------------------- ViT family
def vit_space(name: str, meta: dict, depths, heads, mlp, embed=None, mlp_key="mlp", version: str = "1") -> Space:
    """A ViT space: optional global ``embed_dim``, then ``num_layers`` with per-layer
    ``heads_i`` and ``{mlp_key}_i`` switched off beyond the sampled depth."""
    choices = [Choice("embed_dim", tuple(embed))] if embed else []
    choices += depth_choices("num_layers", depths, {"heads": heads, mlp_key: mlp})
    return Space(name, choices, family="vit", meta={"label": name, **meta}, version=version)


@SUBNET_SPACES.register("vit-b-imagenet")
def _vit_b() -> Space:
    meta = dict(image=224, patch=16, in_chans=3, classes=1000, hidden=768, head_dim=64)
    return vit_space("vit-b-imagenet", meta, (10, 11, 12), (6, 8, 10, 12), (1024, 2048, 3072))


#: AutoFormer supernet spaces (Chen et al., ICCV 2021, Table 1): embedding dimension,
#: depth, and per layer the MLP ratio and number of heads (head dimension 64).
AUTOFORMER = {
    "t": dict(embed=(192, 216, 240), depths=(12, 13, 14), ratio=(3.5, 4.0), heads=(3, 4)),
    "s": dict(embed=(320, 384, 448), depths=(12, 13, 14), ratio=(3.0, 3.5, 4.0), heads=(5, 6, 7)),
    "b": dict(embed=(528, 576, 624), depths=(14, 15, 16), ratio=(3.0, 3.5, 4.0), heads=(8, 9, 10)),
}


def _autoformer(size: str) -> Space:
    a = AUTOFORMER[size]
    meta = dict(image=224, patch=16, in_chans=3, classes=1000, head_dim=64)
    return vit_space(f"autoformer-{size}", meta, a["depths"], a["heads"], a["ratio"], a["embed"], "mlp_ratio")


for _s in AUTOFORMER:
    SUBNET_SPACES.register(f"autoformer-{_s}")(lambda s=_s: _autoformer(s))

#: The Fashion-MNIST ViT supernet (mirrors vit-b-imagenet: 3 depths, 4 head counts, 3 MLP
#: sizes per layer; 7x7 patches, 16 tokens plus the class token). Version 2 reaches down to two
#: layers with MLP 80, so that accuracy spans more than two points on Fashion-MNIST (version 1:
#: depth {3,4,5}, MLP {160,240,320}, a 1-point span; a floor of one layer with one head: 75 %).
VIT_FMNIST_META = dict(image=28, patch=7, in_chans=1, classes=10, hidden=80, head_dim=16)


@SUBNET_SPACES.register("vit-fmnist")
def _vit_fmnist() -> Space:
    return vit_space("vit-fmnist", VIT_FMNIST_META, (2, 3, 5), (2, 3, 4, 5), (80, 160, 320), version="2")


# ------------------------------------------------------------------- MBV3 family
def mbv3_space(name: str, meta: dict, depths, kernels, expands, resolutions=None, version: str = "1") -> Space:
    """OFA-style MobileNetV3 space: per stage ``d_s``; per block ``ks_i`` and ``e_i``
    (``max_depth`` block slots per stage, switched off beyond the stage depth)."""
    slots = max(depths)
    choices = []
    for s in range(len(meta["stages"])):
        choices.append(Choice(f"d_{s}", tuple(depths)))
    for s in range(len(meta["stages"])):
        for j in range(slots):
            cond = None if j < min(depths) else Condition.depth(f"d_{s}", j, depths)
            i = s * slots + j
            choices.append(Choice(f"ks_{i}", tuple(kernels), condition=cond))
            choices.append(Choice(f"e_{i}", tuple(expands), condition=cond))
    if resolutions:
        choices.append(Choice("resolution", tuple(resolutions)))
    return Space(name, choices, family="mbv3", meta={"label": name, "max_depth": slots, **meta}, version=version)


@SUBNET_SPACES.register("ofa-mbv3")
def _ofa_mbv3() -> Space:
    meta = dict(
        image=224,
        in_chans=3,
        classes=1000,
        stem=16,
        stem_stride=2,
        first_block=16,
        stages=[
            dict(width=24, stride=2, se=False),
            dict(width=40, stride=2, se=True),
            dict(width=80, stride=2, se=False),
            dict(width=112, stride=1, se=True),
            dict(width=160, stride=2, se=True),
        ],
        final_expand=960,
        feature_mix=1280,
    )
    return mbv3_space("ofa-mbv3", meta, (2, 3, 4), (3, 5, 7), (3, 4, 6), (160, 176, 192, 208, 224))


#: The Fashion-MNIST CNN supernet (mirrors ofa-mbv3, scaled to 28x28: 3 stages). Version 2
#: allows one block per stage (depth {1,2,4}; version 1: {2,3,4}, a 1.5-point accuracy span).
CNN_FMNIST_META = dict(
    image=28,
    in_chans=1,
    classes=10,
    stem=16,
    stem_stride=2,
    first_block=0,
    stages=[dict(width=16, stride=2, se=False), dict(width=24, stride=1, se=True), dict(width=32, stride=2, se=True)],
    final_expand=128,
    feature_mix=0,
)


@SUBNET_SPACES.register("cnn-fmnist")
def _cnn_fmnist() -> Space:
    return mbv3_space("cnn-fmnist", CNN_FMNIST_META, (1, 2, 4), (3, 5, 7), (3, 4, 6), version="2")


# ----------------------------------------------------------------- ResNet family
@SUBNET_SPACES.register("ofa-resnet50")
def _ofa_resnet50() -> Space:
    """OFA ResNet50D: stem depth and 4 stage depths {0,1,2} (extra blocks over 2,2,4,2),
    per-block bottleneck expand {0.2,0.25,0.35}, six width-multiplier indices {0,1,2}
    (0.65, 0.8, 1.0) for stem mid, stem out and the four stages."""
    base = (2, 2, 4, 2)
    choices = [Choice(f"d_{i}", (0, 1, 2)) for i in range(5)]
    i = 0
    for s, b in enumerate(base):
        for j in range(b + 2):
            cond = None if j < b else Condition(f"d_{s + 1}", frozenset(v for v in (0, 1, 2) if b + v > j))
            choices.append(Choice(f"e_{i}", (0.2, 0.25, 0.35), condition=cond))
            i += 1
    choices += [Choice(f"w_{k}", (0, 1, 2)) for k in range(6)]
    meta = dict(
        image=224,
        in_chans=3,
        classes=1000,
        stem="deep",
        base_depths=list(base),
        max_extra_depth=2,
        widths=[256, 512, 1024, 2048],
        width_mults=[0.65, 0.8, 1.0],
        avg_down=True,
    )
    return Space("ofa-resnet50", choices, family="resnet", meta={"label": "ofa-resnet50", **meta})


# --------------------------------------------------------------- CiM hardware
#: Version of the CiM hardware spaces: 2 goes with the roofline model v2 (``glb_width``
#: instead of ``glb_bw_gbps``, clocks within f_max, DRAM energy per space, balanced baselines).
CIM_SPACE_VERSION = "2"


def cim_space(
    name: str,
    ranges: dict,
    baseline: dict,
    tech: dict | None = None,
    version: str = CIM_SPACE_VERSION,
    extra_meta: dict | None = None,
) -> Space:
    """A CiM hardware space over the knobs of the roofline model. ``bits_per_cell`` is a
    choice only for RRAM (SRAM cells hold one bit). ``tech`` holds the technology constants
    this space sets (``meta["tech"]``, e.g. its DRAM's energy per bit), which the roofline
    uses unless the user gives a technology of their own; ``extra_meta`` is added to the
    space's ``meta`` (e.g. ``accuracy_on_chip``)."""
    choices = []
    for knob, values in ranges.items():
        if knob == "bits_per_cell":
            choices.append(Choice(knob, tuple(values), condition=Condition("cell", frozenset({"rram"}))))
        else:
            choices.append(Choice(knob, tuple(values), categorical=knob == "cell"))
    meta = {"tech": dict(tech)} if tech else {}
    meta.update(extra_meta or {})
    return Space(name, choices, family="cim", meta=meta, baseline=baseline, version=version)


#: Knobs and baseline of ``cim-edge`` (see its docstring).
CIM_EDGE_RANGES = dict(
    rows=(64, 128, 256),
    cols=(64, 128, 256),
    n_macros=(32, 64, 128, 256, 512, 1024, 1536, 2048, 2560, 3072, 4096),
    cols_per_adc=(1, 2, 4, 8, 16),
    dac_bits=(1, 2),
    cell=("sram", "rram"),
    bits_per_cell=(1, 2),
    glb_kb=(32, 64, 128, 256, 512),
    dram_bw_gbps=(1, 2, 4, 8, 16),
    glb_width=(8, 16, 32, 64, 128),
    clock_mhz=(200, 400, 800, 1000, 1400),
    digital_macs=(16, 32, 64, 128),
)
CIM_EDGE_BASELINE = dict(
    rows=64,
    cols=64,
    n_macros=2560,
    cols_per_adc=8,
    dac_bits=1,
    cell="sram",
    bits_per_cell=1,
    glb_kb=128,
    dram_bw_gbps=4,
    glb_width=64,
    clock_mhz=400,
    digital_macs=64,
)


@HARDWARE_SPACES.register("cim-edge")
def _cim_edge() -> Space:
    """Edge CiM chip for the Fashion-MNIST networks (50 K to 390 K weights), LPDDR4 DRAM
    (``e_dram`` 8 pJ/bit).

    Baseline (rule: hold the largest subnet of both families on chip, on the macro size that
    wastes the fewest cells): 2,560 SRAM macros of 64x64 (10 banks of 256), 8 columns per
    ADC, bit-serial inputs, 128 KB buffer with a 32-byte port, 4 GB/s DRAM, 400 MHz, 64 digital
    MACs. Depthwise convolutions take one array per channel, so the largest cnn-fmnist subnet
    needs 2,231 arrays of 64x64 (1,944 to 2,089 of the larger macros, where fewer cells are
    used); the largest vit-fmnist subnet needs 1,064. Both are resident. The chip: 7.95 mm^2,
    1.70 W peak power; cells holding weights: 21 % for the largest CNN, 30 % for the largest
    ViT; their latency is 93 % and 94 % compute-bound (the rest buffer-bound). The README has
    the full breakdown (``benchmarks/baselines.py``).
    """
    return cim_space("cim-edge", CIM_EDGE_RANGES, CIM_EDGE_BASELINE, tech={"e_dram": 8.0})


#: ADC resolutions of ``cim-edge-adc``: from below the roofline's default rule (4 bits for 64
#: rows) to lossless for 128 rows of 1-bit inputs and cells.
CIM_EDGE_ADC_BITS = (3, 4, 5, 6, 7, 8)


@HARDWARE_SPACES.register("cim-edge-adc")
def _cim_edge_adc() -> Space:
    """``cim-edge`` with the ADC resolution as a knob (``adc_bits``, :data:`CIM_EDGE_ADC_BITS`),
    for hardware-aware search: its joint spaces (``vit-fmnist-hwa``, ``cnn-fmnist-hwa``) compute
    accuracy on the chip (``meta["accuracy_on_chip"]``, :mod:`cimnet_bo.supernet.analog`), so
    fewer ADC bits buy latency, energy and area and cost accuracy.

    Baseline: ``cim-edge``'s with a 6-bit ADC, one bit below lossless for its 64 rows (the
    roofline's default rule gives 4 bits, at which the ViT is at chance; 6 bits cost at most
    0.2 points, see the README's "Accuracy on the chip").
    """
    ranges = {**CIM_EDGE_RANGES, "adc_bits": CIM_EDGE_ADC_BITS}
    baseline = {**CIM_EDGE_BASELINE, "adc_bits": 6}
    return cim_space("cim-edge-adc", ranges, baseline, tech={"e_dram": 8.0}, extra_meta={"accuracy_on_chip": True})


@HARDWARE_SPACES.register("cim-server")
def _cim_server() -> Space:
    """Server-class CiM chip for ImageNet-scale networks (tens to hundreds of MB of weights),
    HBM2 DRAM (``e_dram`` 3.9 pJ/bit).

    Baseline (rule: ViT-B at 8 bits needs about 86 MB of cells, more than a chip of sensible
    area holds, so the baseline streams the weights it cannot hold, with DRAM and buffer
    bandwidth matched to its compute: no layer's weight loading takes more than twice its
    compute time): 4,096 SRAM macros of 256x256 (32 MB of cells), 8 columns per ADC,
    bit-serial inputs, 8 MB buffer with a 512-byte port, 400 GB/s HBM2, 1 GHz, 1,024 digital
    MACs. The chip: 165 mm^2, 18.5 W peak power, 83.5 peak TOPS. The largest ViT-B (10,536
    arrays) streams 61 % of its weights; every cell holds weights; the worst layer's weight
    loading (the classifier head) takes 1.46x its compute time; 99 % of its latency is
    compute-bound, at 4.05 effective TOPS. The README has the full breakdown
    (``benchmarks/baselines.py``).
    """
    ranges = dict(
        rows=(128, 256, 512),
        cols=(128, 256, 512),
        n_macros=(1024, 2048, 4096, 8192, 16384),
        cols_per_adc=(2, 4, 8, 16),
        dac_bits=(1, 2),
        cell=("sram", "rram"),
        bits_per_cell=(1, 2),
        glb_kb=(1024, 2048, 4096, 8192, 16384, 32768, 65536),
        dram_bw_gbps=(25, 50, 100, 200, 400, 1000),
        glb_width=(64, 128, 256, 512, 1024),
        clock_mhz=(500, 800, 1000, 1200, 1400),
        digital_macs=(256, 512, 1024, 2048, 4096),
    )
    baseline = dict(
        rows=256,
        cols=256,
        n_macros=4096,
        cols_per_adc=8,
        dac_bits=1,
        cell="sram",
        bits_per_cell=1,
        glb_kb=8192,
        dram_bw_gbps=400,
        glb_width=512,
        clock_mhz=1000,
        digital_macs=1024,
    )
    return cim_space("cim-server", ranges, baseline, tech={"e_dram": 3.9})


# -------------------------------------------------------------- joint spaces
#: Joint spaces named after their subnet space: ``(subnet, hardware)``.
for _subnet, _hw in [
    ("vit-fmnist", "cim-edge"),
    ("cnn-fmnist", "cim-edge"),
    ("vit-b-imagenet", "cim-server"),
    ("ofa-mbv3", "cim-server"),
    ("ofa-resnet50", "cim-server"),
    ("autoformer-t", "cim-server"),
    ("autoformer-s", "cim-server"),
    ("autoformer-b", "cim-server"),
]:
    register_joint(_subnet, _subnet, _hw)
# hardware-aware joint spaces: accuracy computed on the chip, the ADC resolution a knob
for _subnet in ("vit-fmnist", "cnn-fmnist"):
    register_joint(f"{_subnet}-hwa", _subnet, "cim-edge-adc")
