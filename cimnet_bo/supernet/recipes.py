"""Training recipes of the supernets, without torch (the command line shows them in ``--help``).

:class:`TrainConfig` is a full recipe; :data:`SHIPPED_RECIPES` holds, per family, the fields of
the shipped checkpoints' recipes that differ from its defaults.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

#: Short family names of the command line -> registered subnet spaces.
FAMILY_SPACES = {"vit": "vit-fmnist", "cnn": "cnn-fmnist"}
#: Names of the training-image augmentations (implemented in :mod:`cimnet_bo.supernet.train`).
AUGMENT_NAMES = ("none", "flip", "flip+crop")
#: The Fashion-MNIST splits shipped with the package (:func:`cimnet_bo.supernet.data.load_split`).
SHIPPED = ("val", "test", "calib")
#: Every split: ``train`` (from the IDX files) and the shipped ones.
SPLITS = ("train", *SHIPPED)
#: Allowed values of the numeric fields of :class:`TrainConfig`: name -> (low, high, high end
#: excluded); ``lr`` must also be above 0. Integer fields take whole numbers only.
BOUNDS: dict[str, tuple[float, float, bool]] = {
    "epochs": (1, math.inf, True),
    "batch_size": (1, math.inf, True),
    "lr": (0.0, math.inf, True),
    "weight_decay": (0.0, math.inf, True),
    "warmup_epochs": (0.0, math.inf, True),
    "label_smoothing": (0.0, 1.0, True),
    "kd_warmup_epochs": (0.0, math.inf, True),
    "n_random": (0, math.inf, True),
    "seed": (0, math.inf, True),
    "threads": (0, math.inf, True),
    "limit": (0, math.inf, True),
    "checkpoint_every": (1, math.inf, True),
}
#: Numeric fields that must be above their lower bound, not equal to it.
LOW_OPEN = ("lr",)


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
        check_split(self.train_split)
        kinds = {f.name: f.type for f in fields(self)}
        for name, (low, high, high_open) in BOUNDS.items():
            v = getattr(self, name)
            whole = kinds[name] == "int"
            ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            ok = ok and (v > low if name in LOW_OPEN else v >= low) and (v < high if high_open else v <= high)
            if not ok or (whole and v != int(v)):
                left, right = "(" if name in LOW_OPEN else "[", ")" if high_open else "]"
                kind = "an integer" if whole else "a number"
                raise ValueError(f"{name} must be {kind} in {left}{low:g}, {high:g}{right}, got {v!r}")


#: Recipes of the shipped checkpoints (``data/supernets/*.json`` record each run in full): the
#: fields that differ from :class:`TrainConfig`'s defaults, per family.
SHIPPED_RECIPES: dict[str, dict[str, Any]] = {
    "vit": dict(epochs=40, lr=1e-3, kd_warmup_epochs=13.0, augment="flip+crop"),
    "cnn": dict(epochs=14, lr=2e-3, weight_decay=0.02, kd_warmup_epochs=5.0, augment="flip"),
}


def check_split(split: str) -> None:
    """Raise ``ValueError`` naming ``split`` unless it is one of :data:`SPLITS`."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose from {list(SPLITS)}")


def shipped_recipe(family: str, **overrides: Any) -> TrainConfig:
    """The shipped checkpoint's recipe for ``family``, with ``overrides`` (any field)."""
    if family not in SHIPPED_RECIPES:
        raise ValueError(f"family must be one of {sorted(SHIPPED_RECIPES)}, got {family!r}")
    return TrainConfig(**{"family": family, **SHIPPED_RECIPES[family], **overrides})
