"""Options and value types shared by several commands.

* value types of numeric and list options: a bad value ends the command with argparse's
  one-line error naming the option and the value (exit code 2), before anything runs;
* the strategy options (``--strategy``, ``--surrogate``, ``-o KEY=VALUE``) of ``search``,
  ``propose`` and ``experiment``;
* the executor options (``--executor``, ``--workers``, ``--ray-*``) of ``label`` and ``search``.

Choices come from the registries (spaces, strategies, surrogates); nothing here imports torch.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any, Callable, Iterable


def integer(low: int) -> Callable[[str], int]:
    """An integer ``>= low``."""

    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {text!r}") from None
        if v < low:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {text!r}")
        return v

    parse.__name__ = f"integer >= {low}"
    return parse


def number(
    low: float, high: float = math.inf, low_open: bool = False, high_open: bool = False
) -> Callable[[str], float]:
    """A finite number in ``[low, high]`` (ends excluded where ``low_open`` / ``high_open``)."""
    span = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open or math.isinf(high) else ']'}"

    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number in {span}, got {text!r}") from None
        ok = math.isfinite(v) and (v > low if low_open else v >= low) and (v < high if high_open else v <= high)
        if not ok:
            raise argparse.ArgumentTypeError(f"must be a number in {span}, got {text!r}")
        return v

    parse.__name__ = f"number in {span}"
    return parse


#: Counts of things (candidates, pairs, evaluations, threads): at least 1.
COUNT = integer(1)
#: Seeds and optional counts (0 allowed).
NATURAL = integer(0)
#: A fraction strictly between 0 and 1 (a held-out share).
OPEN_FRACTION = number(0.0, 1.0, low_open=True, high_open=True)


def names(text: str) -> list[str]:
    """A comma-separated list of at least one name (blanks dropped): ``"a, b,"`` -> ``["a", "b"]``."""
    values = [t.strip() for t in text.split(",") if t.strip()]
    if not values:
        raise argparse.ArgumentTypeError(f"must be a comma-separated list of at least one name, got {text!r}")
    return values


def counts(text: str) -> list[int]:
    """A comma-separated list of counts (integers >= 1): ``"100,200"`` -> ``[100, 200]``."""
    return [COUNT(t) for t in names(text)]


def naturals(text: str) -> list[int]:
    """A non-empty comma-separated list of integers >= 0 (candidate numbers): ``"3,7"`` -> ``[3, 7]``."""
    values = [NATURAL(t) for t in names(text)]
    if not values:
        raise argparse.ArgumentTypeError(f"must list at least one integer >= 0, got {text!r}")
    return values


def numbers(text: str) -> list[float]:
    """A comma-separated list of at least one finite number: ``"0,-0.005"`` -> ``[0.0, -0.005]``."""
    values = []
    for t in names(text):
        try:
            v = float(t)
        except ValueError:
            v = math.nan
        if not math.isfinite(v):
            raise argparse.ArgumentTypeError(f"must be comma-separated finite numbers, got {t!r} in {text!r}")
        values.append(v)
    return values


def names_of(kind: str, allowed: Iterable[str]) -> Callable[[str], list[str]]:
    """A comma-separated list of names, each one of ``allowed`` (``kind`` names them in errors)."""
    allowed = list(allowed)

    def parse(text: str) -> list[str]:
        values = names(text)
        unknown = [v for v in values if v not in allowed]
        if unknown:
            raise argparse.ArgumentTypeError(f"unknown {kind} {unknown}; choose from {allowed}")
        return values

    parse.__name__ = f"comma-separated {kind}"
    return parse


def add_space_option(
    p: argparse.ArgumentParser | argparse._ArgumentGroup,
    required: bool = True,
    help: str = "registered joint space",
    files: bool = False,
    hardware: bool = False,
) -> None:
    """``--space``, one of :func:`cimnet_bo.space.list_spaces` (or, with ``files``, the path of a
    space YAML file; with ``hardware``, a hardware space of :func:`cimnet_bo.space.list_hardware_spaces`)."""
    from cimnet_bo.space import list_hardware_spaces, list_spaces

    spaces = list_spaces() + (list_hardware_spaces() if hardware else [])
    if not files:
        p.add_argument(
            "--space",
            required=required,
            default=None,
            choices=spaces,
            metavar="SPACE",
            help=f"{help}: {', '.join(spaces)}",
        )
        return

    def space_or_file(text: str) -> str:
        if text in spaces or Path(text).is_file():
            return text
        raise argparse.ArgumentTypeError(f"{text!r} is neither a registered space ({', '.join(spaces)}) nor a file")

    p.add_argument(
        "--space",
        required=required,
        default=None,
        type=space_or_file,
        metavar="SPACE",
        help=f"{help}: {', '.join(spaces)}, or a space YAML file",
    )


def parse_option(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` -> ``(key, value)``: dashes in the key become underscores, the value is read
    as YAML (``5000`` an int, ``false`` a bool, ``[a, b]`` a list)."""
    import yaml

    if "=" not in text:
        raise ValueError(f"strategy option {text!r} must be KEY=VALUE")
    k, v = text.split("=", 1)
    try:
        value = yaml.safe_load(v)
    except yaml.YAMLError as e:
        problem = getattr(e, "problem", None) or e
        raise ValueError(f"strategy option {text!r}: the value is not valid YAML ({problem})") from None
    return k.strip().replace("-", "_"), value


def add_strategy_options(p: argparse.ArgumentParser | argparse._ArgumentGroup, default: str | None) -> None:
    """``--strategy`` (registered strategies), ``--surrogate`` (qNEHVI's surrogates) and the
    repeatable ``-o KEY=VALUE`` strategy option."""
    from cimnet_bo.search import STRATEGIES, SURROGATES

    strategies, surrogates = STRATEGIES.names(), list(SURROGATES)
    p.add_argument(
        "--strategy",
        default=default,
        choices=strategies,
        metavar="STRATEGY",
        help=f"{', '.join(strategies)} (default {default or 'qnehvi'})",
    )
    p.add_argument(
        "--surrogate",
        default=None,
        choices=surrogates,
        metavar="SURROGATE",
        help=f"qnehvi surrogate: {', '.join(surrogates)} (default {surrogates[0]})",
    )
    p.add_argument(
        "-o",
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="strategy option (repeatable), e.g. -o pool_size=5000 -o known_cheap=false",
    )


def strategy_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The strategy options given by ``-o`` and ``--surrogate`` (empty when none is)."""
    options = dict(parse_option(o) for o in args.option)
    if args.surrogate is not None:
        options["surrogate"] = args.surrogate
    return options


def add_executor_options(p: argparse.ArgumentParser) -> None:
    """``--executor``, ``--workers`` and the ``--ray-*`` options (``label`` and ``search``)."""
    g = p.add_argument_group("where evaluations run")
    g.add_argument(
        "--executor",
        choices=["inprocess", "pool", "ray"],
        default=None,
        help="inprocess (default), pool (local worker processes) or ray (a Ray cluster, or a "
        "local Ray instance; needs: pip install 'cimnet-bo[ray]'). Default: pool when "
        "--workers > 1, else inprocess",
    )
    g.add_argument(
        "--workers",
        type=COUNT,
        default=None,
        help="worker processes (pool, default 2) or Ray actors (ray, default: as many as the "
        "cluster's CPUs / GPUs hold)",
    )
    g.add_argument(
        "--ray-address",
        default=None,
        metavar="ADDR",
        help="auto (a cluster started with `ray start` on this machine), ray://HOST:10001 (Ray "
        "Client), HOST:6379 or local (a new local Ray instance); default: $RAY_ADDRESS, else a "
        "cluster started on this machine, else a new local Ray instance",
    )
    g.add_argument(
        "--ray-num-cpus",
        type=number(0.0, low_open=True),
        default=None,
        metavar="X",
        help="CPUs per Ray worker (default 1)",
    )
    g.add_argument(
        "--ray-num-gpus", type=number(0.0), default=None, metavar="X", help="GPUs per Ray worker (default 0)"
    )
    g.add_argument(
        "--ray-max-retries",
        type=NATURAL,
        default=None,
        metavar="K",
        help="times a batch is sent again after its Ray worker died, before its candidates are "
        "recorded as failed (default 2)",
    )


def executor_choice(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """The executor kind and the Ray options that :func:`add_executor_options`' options choose;
    ``ValueError`` for Ray options without ``--executor ray`` (checked before anything runs)."""
    kind = args.executor
    workers = args.workers
    if kind is None:
        kind = "pool" if workers is not None and workers > 1 else "inprocess"
    flags = {
        "address": "--ray-address",
        "num_cpus": "--ray-num-cpus",
        "num_gpus": "--ray-num-gpus",
        "max_retries": "--ray-max-retries",
    }
    ray_opts = {k: getattr(args, flag[2:].replace("-", "_")) for k, flag in flags.items()}
    ray_opts = {k: v for k, v in ray_opts.items() if v is not None}
    if kind != "ray" and ray_opts:
        raise ValueError(f"{', '.join(flags[k] for k in ray_opts)} only apply with --executor ray")
    return kind, ray_opts


def executor_from_args(args: argparse.Namespace):
    """The executor chosen by :func:`add_executor_options`' options (the caller closes it).

    A missing Ray extra raises :class:`~cimnet_bo.evaluate.RayNotInstalledError`, an
    unreachable cluster ``ConnectionError``, both before any work starts."""
    from cimnet_bo.evaluate import get_executor

    kind, ray_opts = executor_choice(args)
    workers = args.workers
    if kind == "inprocess":
        return get_executor("inprocess")
    if kind == "pool":
        return get_executor("pool", workers=workers or 2)
    opts = dict(ray_opts)
    if workers is not None:
        opts["workers"] = workers
    ex = get_executor("ray", **opts)
    try:
        ex.connect()
    except BaseException:
        ex.close()
        raise
    return ex
