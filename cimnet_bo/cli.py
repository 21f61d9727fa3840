"""The ``cimnet-bo`` command line. Each sub-command is one entry of ``COMMANDS``."""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import sys
from typing import Callable


def _spaces_parser(sub) -> None:
    p = sub.add_parser("spaces", help="list the registered spaces")
    p.set_defaults(func=_spaces)


def _spaces(args: argparse.Namespace) -> int:
    from cimnet_bo.space import get_space, list_spaces

    rows = []
    for name in list_spaces():
        s = get_space(name)
        rows.append((name, s.subnet.family, s.hardware.name, str(s.subnet.dim), str(s.hardware.dim),
                     f"{s.subnet.size:.3e}", f"{s.size:.3e}"))
    head = ("space", "family", "hardware", "subnet choices", "hw choices", "subnets", "joint size")
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    for r in [head] + rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))
    return 0


def _train_parser(sub) -> None:
    from cimnet_bo.supernet.train import SHIPPED_RECIPES, TrainConfig

    p = sub.add_parser("train-supernet", help="train a Fashion-MNIST weight-sharing supernet (resumable)",
                       description="Train a weight-sharing supernet. Options left out take the family's "
                                   "shipped recipe (the one data/supernets/<space>.json records).")
    p.add_argument("--family", default="vit", help="vit (default) or cnn")
    for f in dataclasses.fields(TrainConfig):
        if f.name == "family":
            continue
        flag = "--" + f.name.replace("_", "-")
        kind = {"int": int, "float": float}.get(str(f.type), str)
        per_family = any(f.name in r for r in SHIPPED_RECIPES.values())
        text = ", ".join(f"{fam} {r.get(f.name, f.default)}" for fam, r in SHIPPED_RECIPES.items()) \
            if per_family else f.default
        p.add_argument(flag, type=kind, default=None, help=f"default: {text}")
    p.add_argument("--run-dir", default=None, help="resume folder (default runs/supernet_<family>)")
    p.add_argument("--out", default=None, help="final weights (default data/supernets/<space>.pt)")
    p.set_defaults(func=_train)


def _train(args: argparse.Namespace) -> int:
    from cimnet_bo.supernet import FAMILY_SPACES
    from cimnet_bo.supernet.evaluator import default_checkpoint
    from cimnet_bo.supernet.train import TrainConfig, shipped_recipe, train_supernet

    fields = {f.name for f in dataclasses.fields(TrainConfig)} - {"family"}
    cfg = shipped_recipe(args.family, **{k: v for k, v in vars(args).items() if k in fields and v is not None})
    out = args.out or default_checkpoint(FAMILY_SPACES[cfg.family])
    meta = train_supernet(cfg, args.run_dir or f"runs/supernet_{cfg.family}", out)
    print({k: v for k, v in meta.items() if "acc" in k or k in ("train_seconds", "checkpoint")})
    return 0


#: Sub-commands: name -> function adding its parser. Modules listed in ``PLUGINS`` add theirs.
COMMANDS: dict[str, Callable] = {"spaces": _spaces_parser, "train-supernet": _train_parser}
PLUGINS = ["cimnet_bo.cli_simulate", "cimnet_bo.cli_label", "cimnet_bo.cli_predictors", "cimnet_bo.cli_search",
           "cimnet_bo.cli_analysis"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cimnet-bo", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for add in COMMANDS.values():
        add(sub)
    for mod in PLUGINS:
        try:
            importlib.import_module(mod).add_parser(sub)
        except ModuleNotFoundError as e:
            if e.name != mod:
                raise
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, KeyError, FileNotFoundError) as e:
        print(f"cimnet-bo {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
