"""``cimnet-bo train-supernet``: train a Fashion-MNIST weight-sharing supernet (resumable).

Options left out take the family's shipped recipe (the one ``data/supernets/<space>.json``
records); an interrupted run resumes when the same command is run again::

    cimnet-bo train-supernet --family vit
    cimnet-bo train-supernet --family cnn --epochs 2 --train-split calib --out /tmp/cnn.pt
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any, Callable

from cimnet_bo.cli.args import integer, number
from cimnet_bo.supernet.recipes import (
    AUGMENT_NAMES,
    BOUNDS,
    FAMILY_SPACES,
    LOW_OPEN,
    SHIPPED_RECIPES,
    SPLITS,
    TrainConfig,
)


def _value_type(name: str, kind: str) -> Callable[[str], Any]:
    """The option type of the :class:`TrainConfig` field ``name`` (of type ``kind``): its
    :data:`~cimnet_bo.supernet.recipes.BOUNDS` checked by argparse, text for the others."""
    if name not in BOUNDS:
        return str
    low, high, high_open = BOUNDS[name]
    if kind == "int":
        return integer(int(low))
    return number(low, high, low_open=name in LOW_OPEN, high_open=high_open)


def add_train_supernet(p: argparse.ArgumentParser) -> None:
    """The options of the ``train-supernet`` sub-command: one option per :class:`TrainConfig` field."""
    p.description = __doc__
    families = list(FAMILY_SPACES)
    p.add_argument(
        "--family", default=families[0], choices=families, help=f"{', '.join(families)} (default {families[0]})"
    )
    for f in dataclasses.fields(TrainConfig):
        if f.name == "family":
            continue
        kind = _value_type(f.name, str(f.type))
        per_family = any(f.name in r for r in SHIPPED_RECIPES.values())
        text = (
            ", ".join(f"{fam} {r.get(f.name, f.default)}" for fam, r in SHIPPED_RECIPES.items())
            if per_family
            else f.default
        )
        choices = {"augment": list(AUGMENT_NAMES), "train_split": list(SPLITS)}.get(f.name)
        p.add_argument(
            "--" + f.name.replace("_", "-"), type=kind, default=None, choices=choices, help=f"default: {text}"
        )
    p.add_argument("--run-dir", default=None, help="resume folder (default runs/supernet_<family>)")
    p.add_argument("--out", default=None, help="final weights (default data/supernets/<space>.pt)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Train (or resume) with the family's recipe and the given overrides; print the accuracies."""
    from cimnet_bo.supernet.evaluator import default_checkpoint
    from cimnet_bo.supernet.recipes import shipped_recipe
    from cimnet_bo.supernet.train import train_supernet

    fields = {f.name for f in dataclasses.fields(TrainConfig)} - {"family"}
    cfg = shipped_recipe(args.family, **{k: v for k, v in vars(args).items() if k in fields and v is not None})
    out = args.out or default_checkpoint(FAMILY_SPACES[cfg.family])
    meta = train_supernet(cfg, args.run_dir or f"runs/supernet_{cfg.family}", out)
    print({k: v for k, v in meta.items() if "acc" in k or k in ("train_seconds", "checkpoint")})
    return 0
