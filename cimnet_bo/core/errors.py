"""The project's error base class.

Every error the project raises on purpose (bad input, a store that does not match, a missing
extra) derives from :class:`CimnetError`; the command line prints those as one line and exits
with code 2. Each subclass also derives from the matching built-in (``ValueError``,
``KeyError``, ...) so ``except ValueError`` keeps working.
"""

from __future__ import annotations


class CimnetError(Exception):
    """Base class of the errors cimnet-bo raises on purpose."""


class UnknownNameError(CimnetError, KeyError, ValueError):
    """A name that is not in a registry (a space, strategy, predictor, ...); both a ``KeyError``
    (a failed lookup) and a ``ValueError`` (a bad argument)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""
