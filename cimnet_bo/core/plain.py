"""Plain Python values from numpy ones, for YAML, JSON and the run store."""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np


def plain(value: Any, finite: bool = False) -> Any:
    """``value`` with numpy scalars and arrays turned into Python ones, recursively.

    Parameters
    ----------
    value
        A scalar, numpy scalar or array, or a mapping / list / tuple of those (tuples become
        lists, mapping keys become strings).
    finite
        Write non-finite floats (NaN, +-inf) as ``None``, as strict JSON needs.

    Returns
    -------
    Any
        The same structure made of ``dict``, ``list``, ``int``, ``float``, ``bool``, ``str``
        and ``None``.
    """
    if isinstance(value, Mapping):
        return {str(k): plain(v, finite) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v, finite) for v in value]
    if isinstance(value, np.ndarray):
        return plain(value.tolist(), finite)
    if isinstance(value, np.generic):
        value = value.item()
    if finite and isinstance(value, float) and not math.isfinite(value):
        return None
    return value
