"""The project's error base class.

Every error the project raises on purpose (bad input, a store that does not match, a missing
extra) derives from :class:`CimnetError`; the command line prints those as one line and exits
with code 2. Each subclass also derives from the matching built-in (``ValueError``,
``KeyError``, ...) so ``except ValueError`` keeps working.
"""

from __future__ import annotations


class CimnetError(Exception):
    """Base class of the errors cimnet-bo raises on purpose."""


def key_mismatch(missing: list, unknown: list, noun: str = "keys", missing_label: str = "missing") -> str:
    """``"missing <noun> [...]; unknown <noun> [...]"`` (the parts that apply), for errors about a
    mapping whose keys do not match what was expected."""
    labels = ((missing_label, missing), ("unknown", unknown))
    return "; ".join(f"{label} {noun} {keys}" for label, keys in labels if keys)


class UnknownNameError(CimnetError, KeyError, ValueError):
    """A name that is not in a registry (a space, strategy, predictor, ...); both a ``KeyError``
    (a failed lookup) and a ``ValueError`` (a bad argument)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""
