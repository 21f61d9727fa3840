"""Torch weight-sharing supernets (ViT, MobileNetV3-style CNN) on Fashion-MNIST: models,
data, training with the sandwich rule, and subnet evaluation.

The package itself loads without torch (so :mod:`cimnet_bo.supernet.recipes` can be read by the
command line's ``--help``); the models (``ViT``, ``MBV3``, ``SUPERNETS``, ``recalibrate_bn``)
import torch when first used. ``SUPERNETS`` maps a workload family to its supernet class's
constructor; each supernet has ``forward(x, config)`` and ``get_subnet(config)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cimnet_bo.supernet.recipes import FAMILY_SPACES

if TYPE_CHECKING:
    from torch import nn


def __getattr__(name: str) -> Any:
    """The torch-based names, imported on first use."""
    if name in ("MBV3", "recalibrate_bn"):
        from cimnet_bo.supernet import cnn as module
    elif name == "ViT":
        from cimnet_bo.supernet import vit as module
    elif name == "SUPERNETS":
        from cimnet_bo.supernet.cnn import MBV3
        from cimnet_bo.supernet.vit import ViT

        globals()["SUPERNETS"] = {"vit": ViT.supernet, "mbv3": MBV3.supernet}
        return globals()["SUPERNETS"]
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(module, name)
    globals()[name] = value
    return value


def build_supernet(space) -> nn.Module:
    """An untrained supernet for a subnet space (or joint space) of a supported family."""
    from cimnet_bo.space import subnet_side

    supernets = __getattr__("SUPERNETS")
    sub = subnet_side(space)
    if sub.family not in supernets:
        raise ValueError(f"no supernet for family {sub.family!r}; supported: {sorted(supernets)}")
    return supernets[sub.family](sub)


def needs_bn_calibration(model: nn.Module) -> bool:
    from torch import nn

    return any(isinstance(m, nn.BatchNorm2d) for m in model.modules())


__all__ = ["MBV3", "ViT", "SUPERNETS", "FAMILY_SPACES", "build_supernet", "recalibrate_bn", "needs_bn_calibration"]
