"""GP hyper-parameters carried from one round of a run to the next.

Each round fits its GPs again on the run's evaluations, which have grown by one batch since the
last fit, so the last round's fitted hyper-parameters are a close starting point: fitting from
them converges in a few L-BFGS-B steps (``gp_warm_maxiter`` of
:class:`~cimnet_bo.search.qnehvi.QNEHVI`) where a fit from the priors' defaults needs a hundred.
A start can also hold the fit in an optimum that later data no longer favour (seen with a
categorical kernel), so a warm round also fits from the defaults with as many steps and keeps
the fit of the larger marginal likelihood (:func:`~cimnet_bo.predictors.gp.fit_gp`) whenever
the run's evaluation count has passed a power of :data:`DEFAULTS_GROWTH` since its start was
fitted (8, 10, 12, 15, 19, 23, 29, 36, 45, 56, 70, 87, ..., 414, 517, 647, ...): in most rounds
early in a run, where each batch changes the data most, then each time the evaluations have
grown by a quarter (with batches of 8 around 500 evaluations, one round in about thirteen).
The other rounds fit from the start alone, at half the cost.

A round that starts from stored hyper-parameters must find the same ones whether the run went
on in one process or was stopped and resumed, so they are kept in the run directory
(:data:`FILE_NAME`, written atomically) as well as in memory, keyed by the number of evaluations
the run had when they were fitted. A round with ``n`` evaluations starts from the entry with the
largest count below ``n``: a round that is run again after an interruption (same ``n``) starts
where it started the first time, not from its own result.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np

from cimnet_bo.core.files import atomic_write

#: The file in the run directory that keeps the fitted hyper-parameters.
FILE_NAME = "gp_hyper_parameters.json"
#: Entries kept per GP (the newest counts).
KEEP = 3
#: A warm round also fits from the defaults when the run's evaluation count has crossed a power
#: of this factor since its start was fitted (see the module docstring).
DEFAULTS_GROWTH = 1.25

Hyper = dict[str, np.ndarray]


class GPStarts:
    """Fitted hyper-parameters of a run's GPs by name and evaluation count.

    Parameters
    ----------
    directory : path, optional
        The run directory (None: kept in memory only). An unreadable file is ignored: the
        rounds then fit from the defaults, as a run's first round does.
    """

    def __init__(self, directory: str | Path | None = None) -> None:
        self.path = None if directory is None else Path(directory) / FILE_NAME
        self._entries: dict[str, dict[int, Hyper]] = {}
        if self.path is not None and self.path.is_file():
            try:
                raw = json.loads(self.path.read_text())
                self._entries = {
                    name: {int(n): _arrays(hyper) for n, hyper in by_n.items()} for name, by_n in raw.items()
                }
            except (ValueError, TypeError, AttributeError):
                self._entries = {}

    def before(self, name: str, n: int) -> Hyper | None:
        """The hyper-parameters of GP ``name`` fitted with the most evaluations below ``n``
        (None if there are none)."""
        m = self.count_before(name, n)
        return None if m is None else self._entries[name][m]

    def count_before(self, name: str, n: int) -> int | None:
        """The evaluation count of the entry :meth:`before` gives (None if there is none)."""
        return max((m for m in self._entries.get(name, {}) if m < n), default=None)

    def put(self, name: str, n: int, hyper: Mapping[str, np.ndarray]) -> None:
        """Keep the hyper-parameters of GP ``name`` fitted with ``n`` evaluations (the
        :data:`KEEP` newest counts per name stay), and write the file."""
        by_n = self._entries.setdefault(name, {})
        by_n[int(n)] = _arrays(hyper)
        for m in sorted(by_n)[:-KEEP]:
            del by_n[m]
        if self.path is None:
            return
        plain = {
            name: {str(m): {k: v.tolist() for k, v in h.items()} for m, h in by_n.items()}
            for name, by_n in self._entries.items()
        }
        with atomic_write(self.path) as tmp:
            tmp.write_text(json.dumps(plain))


def _arrays(hyper: Mapping[str, object]) -> Hyper:
    return {str(k): np.array(v, dtype=np.float64) for k, v in hyper.items()}


@dataclass
class WarmStart:
    """One round's view of a run's :class:`GPStarts`.

    Attributes
    ----------
    starts : GPStarts
    n : int
        Evaluations of the run this round (successful and failed).
    prefix : str
        Names the round's GPs (output ``j`` is ``f"{prefix}/{j}"``).
    maxiter : int
        Most L-BFGS-B steps of a fit that starts from stored hyper-parameters.
    """

    starts: GPStarts
    n: int
    prefix: str
    maxiter: int

    def start(self, j: int) -> Hyper | None:
        """Where output ``j``'s fit starts (None: the defaults)."""
        return self.starts.before(f"{self.prefix}/{j}", self.n)

    def defaults_too(self, j: int) -> bool:
        """Whether output ``j``'s fit also starts from the defaults: its start was fitted with
        fewer evaluations than the last power of :data:`DEFAULTS_GROWTH` up to :attr:`n` (or
        there is no start)."""
        return passes_growth(self.starts.count_before(f"{self.prefix}/{j}", self.n), self.n)

    def keep(self, j: int, hyper: Mapping[str, np.ndarray]) -> None:
        """Record output ``j``'s fitted hyper-parameters."""
        self.starts.put(f"{self.prefix}/{j}", self.n, hyper)


def passes_growth(m: int | None, n: int) -> bool:
    """Whether a power of :data:`DEFAULTS_GROWTH` lies in ``(m, n]`` (True when ``m`` is None):
    a round with ``n`` evaluations whose start was fitted with ``m`` also fits from the
    defaults."""
    return m is None or _growth_stage(m) < _growth_stage(n)


def _growth_stage(n: int) -> int:
    """The exponent of the largest power of :data:`DEFAULTS_GROWTH` at most ``n`` (0 for n < 2)."""
    num, den = DEFAULTS_GROWTH.as_integer_ratio()  # exact: 5 / 4
    k = 0
    while num ** (k + 1) <= n * den ** (k + 1):
        k += 1
    return k
