"""Torch weight-sharing supernets (ViT, MobileNetV3-style CNN) on Fashion-MNIST: models,
data, training with the sandwich rule, and subnet evaluation."""

from __future__ import annotations

from typing import Any, Callable

from torch import nn

from cimnet_bo.supernet.cnn import MBV3, recalibrate_bn
from cimnet_bo.supernet.vit import ViT
from cimnet_bo.space import subnet_side

#: Supernet classes by workload family; each has ``supernet(space)``, ``forward(x, config)``
#: and ``get_subnet(config)``.
SUPERNETS: dict[str, Callable[[Any], nn.Module]] = {"vit": ViT.supernet, "mbv3": MBV3.supernet}
#: Short family names of the command line -> registered subnet spaces.
FAMILY_SPACES = {"vit": "vit-fmnist", "cnn": "cnn-fmnist"}


def build_supernet(space) -> nn.Module:
    """An untrained supernet for a subnet space (or joint space) of a supported family."""
    sub = subnet_side(space)
    if sub.family not in SUPERNETS:
        raise ValueError(f"no supernet for family {sub.family!r}; supported: {sorted(SUPERNETS)}")
    return SUPERNETS[sub.family](sub)


def needs_bn_calibration(model: nn.Module) -> bool:
    return any(isinstance(m, nn.BatchNorm2d) for m in model.modules())


__all__ = ["MBV3", "ViT", "SUPERNETS", "FAMILY_SPACES", "build_supernet", "recalibrate_bn",
           "needs_bn_calibration"]
