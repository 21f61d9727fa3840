"""The layer table: one row per layer, the input of the CiM roofline model.

Columns (see ``CIM_MODEL.md``, section *Inputs*):

=============  ==============================================================================
name           layer name (str)
kind           ``static`` (weights on CiM arrays), ``dynamic`` (activation x activation GEMM on
               the digital unit) or ``eltwise`` (element operations on the digital unit)
M, K, N        GEMM view: M input vectors, reduction length K, N outputs (per instance)
count          identical instances (heads, conv groups)
w_bits         weight precision
a_bits         activation precision
ops            element operations per instance (``eltwise`` rows only)
reuse          how many times each input element appears in the unfolded GEMM input:
               ``k*k/stride^2`` for a convolution, 1 otherwise (below 1 when the stride is
               larger than the kernel); the buffer check uses the folded input ``in_b / reuse``
extra_params   parameters that are not GEMM weights (biases, norm scales, embeddings); they
               count in :func:`params` and play no part in the hardware model
=============  ==============================================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import numpy as np

KINDS = ("static", "dynamic", "eltwise")
NUMERIC = ("M", "K", "N", "count", "w_bits", "a_bits", "ops", "reuse", "extra_params")
#: Columns that must be positive (M, K and N on GEMM rows only; first, in this order).
_POSITIVE = ("M", "K", "N", "count", "w_bits", "a_bits", "reuse")
#: Their rows in the stacked :data:`NUMERIC` columns.
_POSITIVE_ROWS = [NUMERIC.index(c) for c in _POSITIVE]
DEFAULTS = {"count": 1, "w_bits": 8, "a_bits": 8, "ops": 0, "reuse": 1, "extra_params": 0}


@dataclass
class LayerTable:
    """A network as a table of layers; every column is a numpy array of length L.

    Build one with :meth:`coerce` from a dict of arrays, a pandas DataFrame or a list of row
    dicts, or with :class:`TableBuilder`.
    """

    name: np.ndarray
    kind: np.ndarray
    M: np.ndarray
    K: np.ndarray
    N: np.ndarray
    count: np.ndarray
    w_bits: np.ndarray
    a_bits: np.ndarray
    ops: np.ndarray
    reuse: np.ndarray
    extra_params: np.ndarray
    label: str = field(default="network")

    def __post_init__(self) -> None:
        n = len(self.kind)
        for col in ("name",) + NUMERIC:
            arr = getattr(self, col)
            if len(arr) != n:
                raise ValueError(f"layer table column {col!r} has {len(arr)} rows, expected {n}")
        bad = sorted(set(np.unique(self.kind).astype(str)) - set(KINDS))
        if bad:
            raise ValueError(f"layer table: unknown kind(s) {bad}; allowed kinds: {list(KINDS)}")
        values = np.vstack([np.asarray(getattr(self, col), dtype=np.float64) for col in NUMERIC])  # columns x L
        for test, what in ((~np.isfinite(values), "non-finite"), (values < 0, "negative")):
            if test.any():
                col = NUMERIC[int(np.flatnonzero(test.any(axis=1))[0])]
                raise ValueError(f"layer table column {col!r} has {what} values")
        zero = values[_POSITIVE_ROWS] <= 0
        zero[:3] &= self.kind != "eltwise"  # M, K, N: GEMM rows only
        if zero.any():
            j, row = (int(v[0]) for v in np.nonzero(zero))
            col, name, value = _POSITIVE[j], self.name[row], getattr(self, _POSITIVE[j])[row]
            raise ValueError(f"layer table column {col!r} must be positive; row {row} ({name}) has {value}")

    def __len__(self) -> int:
        return len(self.kind)

    @classmethod
    def coerce(cls, obj: Any, label: str | None = None) -> "LayerTable":
        """A :class:`LayerTable` from a LayerTable, dict of arrays, DataFrame or row dicts.

        Missing optional columns take defaults (count 1, 8-bit weights and activations,
        ops 0, reuse 1, extra_params 0); missing required columns (kind, M, K, N) are an error.
        """
        if isinstance(obj, LayerTable):
            return obj
        if hasattr(obj, "to_dict") and hasattr(obj, "columns"):  # pandas DataFrame
            data = {c: np.asarray(obj[c]) for c in obj.columns}
        elif isinstance(obj, Mapping):
            data = {k: np.asarray(v) for k, v in obj.items()}
        elif isinstance(obj, Iterable):
            rows = list(obj)
            if not rows or not all(isinstance(r, Mapping) for r in rows):
                raise ValueError("a layer table given as a list must be a non-empty list of row dicts")
            keys = sorted({k for r in rows for k in r})
            data = {k: np.asarray([r.get(k, DEFAULTS.get(k, None)) for r in rows]) for k in keys}
        else:
            raise ValueError(f"cannot read a layer table from {type(obj).__name__}")
        missing = [c for c in ("kind", "M", "K", "N") if c not in data]
        if missing:
            raise ValueError(f"layer table is missing required column(s) {missing}")
        unknown = sorted(set(data) - {"name", "kind", *NUMERIC})
        if unknown:
            raise ValueError(f"layer table has unknown column(s) {unknown}")
        n = len(data["kind"])
        cols: dict[str, np.ndarray] = {}
        for c in NUMERIC:
            raw = data.get(c)
            if raw is None or (raw.dtype == object and any(v is None for v in raw)):
                raw = np.full(n, DEFAULTS.get(c, 0))
            try:
                cols[c] = raw.astype(np.float64)
            except (TypeError, ValueError):
                raise ValueError(f"layer table column {c!r} is not numeric") from None
        names = data.get("name", np.array([f"layer{i}" for i in range(n)]))
        return cls(
            name=np.asarray(names, dtype=object),
            kind=np.asarray(data["kind"]).astype(str),
            label=label or "network",
            **cols,
        )

    def to_dict(self) -> dict[str, np.ndarray]:
        return {c: getattr(self, c) for c in ("name", "kind") + NUMERIC}

    def to_pandas(self):
        import pandas as pd

        return pd.DataFrame(self.to_dict())


class TableBuilder:
    """Appends layers row by row; :meth:`build` returns the :class:`LayerTable`."""

    def __init__(self, label: str, w_bits: int = 8, a_bits: int = 8) -> None:
        self.label = label
        self.w_bits = w_bits
        self.a_bits = a_bits
        self.rows: list[tuple] = []

    def _add(
        self,
        name: str,
        kind: str,
        M: float,
        K: float,
        N: float,
        count: float,
        ops: float,
        extra: float,
        reuse: float = 1.0,
    ) -> None:
        self.rows.append((name, kind, M, K, N, count, self.w_bits, self.a_bits, ops, reuse, extra))

    def static(self, name: str, M: int, K: int, N: int, count: int = 1, bias: bool = False, reuse: float = 1.0) -> None:
        """Weight GEMM on CiM arrays (conv or linear); ``bias`` adds N*count parameters;
        ``reuse`` is how often each input element appears in the unfolded input."""
        self._add(name, "static", M, K, N, count, 0, N * count if bias else 0, reuse)

    def conv(
        self, name: str, hw_out: int, cin: int, cout: int, k: int, groups: int = 1, bias: bool = False, stride: int = 1
    ) -> None:
        """A k x k convolution with ``hw_out`` output pixels, as a grouped GEMM; its input
        reuse is ``k*k/stride^2``."""
        self.static(name, hw_out, cin // groups * k * k, cout // groups, groups, bias, reuse=k * k / stride**2)

    def dynamic(self, name: str, M: int, K: int, N: int, count: int = 1) -> None:
        """Activation x activation GEMM (attention) on the digital unit."""
        self._add(name, "dynamic", M, K, N, count, 0, 0)

    def eltwise(self, name: str, ops: int, params: int = 0) -> None:
        """Element operations (norm, activation, softmax, add) on the digital unit."""
        self._add(name, "eltwise", 0, 0, 0, 1, ops, params)

    def build(self) -> LayerTable:
        cols = list(zip(*self.rows))
        return LayerTable(
            name=np.array(cols[0], dtype=object),
            kind=np.array(cols[1], dtype=str),
            **{c: np.array(v, dtype=np.float64) for c, v in zip(NUMERIC, cols[2:])},
            label=self.label,
        )


def macs(table: Any) -> float:
    """Multiply-accumulates of one inference: sum of M*K*N*count over static and dynamic rows."""
    t = LayerTable.coerce(table)
    gemm = t.kind != "eltwise"
    return float(np.sum((t.M * t.K * t.N * t.count)[gemm]))


def params(table: Any) -> float:
    """Parameters: GEMM weights K*N*count of static rows plus every row's ``extra_params``."""
    t = LayerTable.coerce(table)
    static = t.kind == "static"
    return float(np.sum((t.K * t.N * t.count)[static]) + np.sum(t.extra_params))


def layer_weight_bytes(static: Any, K: Any, N: Any, count: Any, w_bits: Any) -> np.ndarray:
    """``W = K * N * count * w_bits / 8`` per layer (CiM model page, *Per static layer*); 0 for
    digital layers. Arrays of one shape (layers, or pairs x layers)."""
    return np.where(static, K * N * count * w_bits / 8, 0.0)


def weight_bytes(table: Any) -> float:
    """Bytes of static weights at their precision."""
    t = LayerTable.coerce(table)
    return float(np.sum(layer_weight_bytes(t.kind == "static", t.K, t.N, t.count, t.w_bits)))
