"""Training recipes of the supernets, without torch (the command line shows them in ``--help``).

:class:`TrainConfig` is a full recipe; :data:`SHIPPED_RECIPES` holds, per family, the fields of
the shipped checkpoints' recipes that differ from its defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Short family names of the command line -> registered subnet spaces.
FAMILY_SPACES = {"vit": "vit-fmnist", "cnn": "cnn-fmnist"}
#: Names of the training-image augmentations (implemented in :mod:`cimnet_bo.supernet.train`).
AUGMENT_NAMES = ("none", "flip", "flip+crop")


@dataclass
class TrainConfig:
    """Training recipe; every field is recorded in the checkpoint's metadata.

    ``train_split`` is ``"train"`` (50,000 images from the IDX files) or a shipped split
    (``"calib"``) for quick checks; ``limit`` caps the number of training images.
    """

    family: str = "vit"
    epochs: int = 20
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_epochs: float = 1.0
    label_smoothing: float = 0.1
    kd_warmup_epochs: float = 0.0
    n_random: int = 2
    augment: str = "flip+crop"
    seed: int = 0
    device: str = "cpu"
    threads: int = 0
    train_split: str = "train"
    limit: int = 0
    checkpoint_every: int = 100
    idx_dir: str | None = None

    def __post_init__(self) -> None:
        if self.family not in FAMILY_SPACES:
            raise ValueError(f"family must be one of {sorted(FAMILY_SPACES)}, got {self.family!r}")
        if self.augment not in AUGMENT_NAMES:
            raise ValueError(f"augment must be one of {sorted(AUGMENT_NAMES)}, got {self.augment!r}")
        for name in ("epochs", "batch_size"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")


#: Recipes of the shipped checkpoints (``data/supernets/*.json`` record each run in full): the
#: fields that differ from :class:`TrainConfig`'s defaults, per family.
SHIPPED_RECIPES: dict[str, dict[str, Any]] = {
    "vit": dict(epochs=40, lr=1e-3, kd_warmup_epochs=13.0, augment="flip+crop"),
    "cnn": dict(epochs=14, lr=2e-3, weight_decay=0.02, kd_warmup_epochs=5.0, augment="flip"),
}


def shipped_recipe(family: str, **overrides: Any) -> TrainConfig:
    """The shipped checkpoint's recipe for ``family``, with ``overrides`` (any field)."""
    if family not in SHIPPED_RECIPES:
        raise ValueError(f"family must be one of {sorted(SHIPPED_RECIPES)}, got {family!r}")
    return TrainConfig(**{"family": family, **SHIPPED_RECIPES[family], **overrides})
