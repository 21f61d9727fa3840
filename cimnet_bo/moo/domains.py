"""The domains of outputs: the values a result of each output can take.

:data:`OUTPUT_DOMAINS` holds the known outputs: ``accuracy`` is a fraction in [0, 1]; latency,
energy, energy-delay product, area and power are positive; the programming time is
non-negative (zero when no weights are programmed); the indicators ``feasible`` and
``resident`` lie in [0, 1]. Any other output (a user's own) only has to be finite.

:func:`domain_problem` checks one value and :func:`domain_problems` a column; both describe a
wrong value as ``"<output> = <value>: <why>"`` (``accuracy = 7.5: outside [0, 1]``), so the
callers (``tell``, run stores, datasets) only add where the value is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np


@dataclass(frozen=True)
class Domain:
    """An interval of finite numbers.

    Parameters
    ----------
    low, high : float
        The bounds (infinite for none).
    low_open, high_open : bool
        True when the bound itself is outside the domain.
    """

    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False

    def contains(self, values: Any) -> np.ndarray:
        """Boolean array: which of ``values`` (numbers) are finite and inside the interval."""
        v = np.asarray(values, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            above = v > self.low if self.low_open else v >= self.low
            below = v < self.high if self.high_open else v <= self.high
        return np.isfinite(v) & above & below

    def __str__(self) -> str:
        left = "(" if self.low_open or self.low == -math.inf else "["
        right = ")" if self.high_open or self.high == math.inf else "]"
        return f"{left}{_show(self.low)}, {_show(self.high)}{right}"


#: Any finite number: the domain of outputs not in :data:`OUTPUT_DOMAINS`.
FINITE = Domain()
FRACTION = Domain(0.0, 1.0)
POSITIVE = Domain(0.0, math.inf, low_open=True)
NON_NEGATIVE = Domain(0.0, math.inf)

#: The domains of the known outputs (those of the roofline model and of the accuracy evaluators).
OUTPUT_DOMAINS: dict[str, Domain] = {
    "accuracy": FRACTION,
    "latency_s": POSITIVE,
    "energy_j": POSITIVE,
    "edp_js": POSITIVE,
    "area_mm2": POSITIVE,
    "power_w": POSITIVE,
    "peak_power_w": POSITIVE,
    "avg_power_w": POSITIVE,
    "program_time_s": NON_NEGATIVE,
    "feasible": FRACTION,
    "resident": FRACTION,
}


def output_domain(name: str) -> Domain:
    """The domain of output ``name``: its entry in :data:`OUTPUT_DOMAINS`, else :data:`FINITE`."""
    return OUTPUT_DOMAINS.get(name, FINITE)


def _show(v: Any) -> str:
    """A value as a message shows it: numbers in short form (``7.5``, ``-3``, ``1e+300``,
    ``inf``, ``nan``), anything else as its ``repr``."""
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.10g}"
    return repr(str(v)) if isinstance(v, str) else repr(v)


def is_missing(v: Any) -> bool:
    """True for ``None`` and float NaN (an empty cell)."""
    return v is None or (isinstance(v, (float, np.floating)) and math.isnan(v))


def domain_problem(name: str, value: Any, missing_ok: bool = False) -> str | None:
    """What is wrong with ``value`` as a result of output ``name``, or None when nothing is.

    Parameters
    ----------
    name : str
        The output (its domain is :func:`output_domain`).
    value : Any
        A number, or text holding one (``"0.5"``); None or NaN for a missing value.
    missing_ok : bool
        Whether a missing value is allowed.

    Returns
    -------
    str or None
        ``"<name> = <value>: <why>"``, why being ``not a number``, ``not finite`` or
        ``outside <domain>``; ``"<name>: missing"`` for a missing value (``"nan"`` as text
        included) when ``missing_ok`` is False.
    """
    if is_missing(value):
        return None if missing_ok else f"{name}: missing"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return f"{name} = {_show(value)}: not a number"
    if math.isnan(number):
        return None if missing_ok else f"{name}: missing"
    if not math.isfinite(number):
        return f"{name} = {_show(value)}: not finite"
    domain = output_domain(name)
    if not domain.contains(number):
        return f"{name} = {_show(value)}: outside {domain}"
    return None


def domain_problems(name: str, values: Sequence[Any], missing_ok: bool = True) -> list[tuple[int, str]]:
    """The wrong values of a column of output ``name``: ``(position, message)`` each, in order
    (messages as :func:`domain_problem` writes them; missing values allowed by default)."""
    arr = values if isinstance(values, np.ndarray) else np.array(list(values), dtype=object)
    if arr.dtype.kind in "biuf":
        v = arr.astype(np.float64)
        bad = ~output_domain(name).contains(v)
        if missing_ok:
            bad &= ~np.isnan(v)
        positions = np.flatnonzero(bad).tolist()
    else:
        positions = range(len(arr))
    out = []
    for i in positions:
        msg = domain_problem(name, arr[i], missing_ok)
        if msg is not None:
            out.append((i, msg))
    return out


__all__ = [
    "Domain",
    "FINITE",
    "FRACTION",
    "POSITIVE",
    "NON_NEGATIVE",
    "OUTPUT_DOMAINS",
    "output_domain",
    "domain_problem",
    "domain_problems",
    "is_missing",
]
