"""The ``cimnet-bo`` command line: joint search of neural sub-networks and compute-in-memory hardware.

Every sub-command is one entry of :data:`COMMANDS`. A command's options are added when the
command is chosen, so listing the commands imports nothing their options need; the registries
that give option choices load with the command's options, and torch, BoTorch, XGBoost and
pandas only inside the commands that use them.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Callable, Sequence

from cimnet_bo.cli import analysis, label, predictors, search, simulate, spaces, supernet

#: Sub-commands, in the order of ``--help``: name -> (one-line help, function adding the
#: command's description and options to its parser; the parser's ``func`` default runs it).
COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None]]] = {
    "spaces": ("list the registered spaces", spaces.add_spaces),
    "simulate": (
        "latency, energy, area and power of one subnet on one CiM chip (roofline model v2)",
        simulate.add_simulate,
    ),
    "train-supernet": ("train a Fashion-MNIST weight-sharing supernet (resumable)", supernet.add_train_supernet),
    "label": ("label sampled (subnet, hardware) pairs (resumable)", label.add_label),
    "train-predictors": ("train and check accuracy/latency predictors", predictors.add_train_predictors),
    "search": ("run or resume a joint search", search.add_search),
    "propose": ("propose candidates to evaluate elsewhere (ask/tell)", search.add_propose),
    "tell": ("store (or, with --replace, correct) the results of proposed candidates (ask/tell)", search.add_tell),
    "withdraw": ("remove told results: their candidates are pending again (ask/tell)", search.add_withdraw),
    "baseline": (
        "evaluate the baseline point (largest subnet on the baseline chip) into a run directory "
        "marked as baseline, for the speedup tables of reports",
        analysis.add_baseline,
    ),
    "report": ("HTML + Markdown report of search runs (Pareto sets, hypervolume, speedups)", analysis.add_report),
    "experiment": (
        "baseline vs model-only, hardware-only and joint search under one area budget (resumable)",
        analysis.add_experiment,
    ),
}


class _Commands(argparse._SubParsersAction):
    """The sub-command action: adds the chosen command's options just before they are parsed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: command name -> function adding its options, until they are added
        self.add_options: dict[str, Callable[[argparse.ArgumentParser], None]] = {}

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Sequence[Any],
        option_string: str | None = None,
    ) -> None:
        add = self.add_options.pop(values[0], None)
        if add is not None:
            add(self._name_parser_map[values[0]])
        super().__call__(parser, namespace, values, option_string)


def build_parser() -> argparse.ArgumentParser:
    """The ``cimnet-bo`` parser with every sub-command of :data:`COMMANDS`."""
    parser = argparse.ArgumentParser(prog="cimnet-bo", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", action=_Commands)
    for name, (text, add) in COMMANDS.items():
        sub.add_parser(name, help=text, formatter_class=argparse.RawDescriptionHelpFormatter)
        sub.add_options[name] = add
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); returns the exit status.

    A bad option ends in argparse's ``SystemExit(2)``. An error the command raises on purpose
    (:class:`~cimnet_bo.core.CimnetError`) or a ``ValueError``, ``KeyError`` or ``OSError`` (bad
    input, a missing file) prints ``cimnet-bo <command>: error: <message>`` and returns 2; any
    other exception is a bug and keeps its traceback."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except Exception as e:
        from cimnet_bo.core import CimnetError  # here, not at the top: it imports numpy

        if not isinstance(e, (CimnetError, ValueError, KeyError, OSError)):
            raise
        message = " ".join(str(e).split()) or type(e).__name__
        print(f"cimnet-bo {args.command}: error: {message}", file=sys.stderr)
        return 2


__all__ = ["COMMANDS", "build_parser", "main"]
