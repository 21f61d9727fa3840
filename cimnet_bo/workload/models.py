"""Reference networks for hardware studies, as layer tables."""

from __future__ import annotations

from cimnet_bo.workload.families import resnet_table, vgg_table, vit_table
from cimnet_bo.workload.table import LayerTable


def vit_b16(image: int = 224, classes: int = 1000) -> LayerTable:
    """ViT-B/16: 12 layers, 12 heads of 64, MLP 3072, hidden 768."""
    meta = dict(image=image, patch=16, in_chans=3, classes=classes, hidden=768, head_dim=64, label="vit-b16")
    cfg = {"num_layers": 12, **{f"heads_{i}": 12 for i in range(12)}, **{f"mlp_{i}": 3072 for i in range(12)}}
    return vit_table(meta, cfg)


def resnet50(image: int = 224, classes: int = 1000) -> LayerTable:
    """torchvision ResNet-50 (v1.5: stride on the 3x3 convolution)."""
    meta = dict(
        image=image,
        in_chans=3,
        classes=classes,
        stem="plain",
        base_depths=[3, 4, 6, 3],
        widths=[256, 512, 1024, 2048],
        label="resnet50",
    )
    return resnet_table(meta, {})


def vgg8_cifar() -> LayerTable:
    """The VGG-8 of DNN+NeuroSim on CIFAR-10: six 3x3 convs 128-128-256-256-512-512 with a
    2x2 pool after each pair, then FC 8192-1024-10."""
    meta = dict(
        image=32, in_chans=3, classes=10, convs=[128, 128, "M", 256, 256, "M", 512, 512, "M"], fcs=[1024], label="vgg8"
    )
    return vgg_table(meta, {})
