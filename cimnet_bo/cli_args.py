"""Value types of the command line's numeric options: a bad value ends the command with
argparse's one-line error naming the option and the value (exit code 2), before anything runs."""

from __future__ import annotations

import argparse
import math
from typing import Callable


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


def number(low: float, high: float = math.inf, low_open: bool = False, high_open: bool = False
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
