"""``cimnet-bo spaces``: the registered joint spaces and their sizes."""

from __future__ import annotations

import argparse


def add_spaces(p: argparse.ArgumentParser) -> None:
    """The options of the ``spaces`` sub-command."""
    p.description = __doc__
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print one row per registered space: family, hardware space, choices and sizes."""
    from cimnet_bo.space import get_space, list_spaces

    rows = []
    for name in list_spaces():
        s = get_space(name)
        rows.append(
            (
                name,
                s.subnet.family,
                s.hardware.name,
                str(s.subnet.dim),
                str(s.hardware.dim),
                f"{s.subnet.size:.3e}",
                f"{s.size:.3e}",
            )
        )
    head = ("space", "family", "hardware", "subnet choices", "hw choices", "subnets", "joint size")
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    for r in [head] + rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))
    return 0
