"""The two inputs of :func:`cimnet_bo.hardware.simulate_many`, normalised and cut into chunks
of pairs.

* :class:`Chips`: hardware configurations (one for all pairs, records, or knob arrays),
  validated and converted to knob arrays block by block (:data:`KNOB_BLOCK` pairs at once);
* :class:`Networks`: networks (layer tables, a :class:`~cimnet_bo.hardware.batch.TableBatch`
  or :class:`~cimnet_bo.hardware.subnets.SubnetConfigs`) padded into batches, with the chunk
  bounds of the pairs (cut where a search's runs of one network change).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from cimnet_bo.hardware.batch import TableBatch
from cimnet_bo.hardware.config import KNOB_NAMES, HardwareConfig, knob_arrays
from cimnet_bo.hardware.subnets import SubnetConfigs
from cimnet_bo.workload.table import LayerTable

#: Pairs whose hardware knobs are validated and converted at once (views serve the chunks).
KNOB_BLOCK = 1 << 16


def _is_frame(obj: Any) -> bool:
    """Whether ``obj`` looks like a pandas DataFrame (without importing pandas)."""
    return hasattr(obj, "columns") and hasattr(obj, "to_dict")


def _is_single_table(obj: Any) -> bool:
    """Whether ``obj`` is one network's layer table (not a sequence of them)."""
    if isinstance(obj, (LayerTable, Mapping)) or _is_frame(obj):
        return True
    if isinstance(obj, Sequence) and len(obj) and isinstance(obj[0], Mapping):
        # a list of row dicts (scalar 'kind') is one table; a list of dicts of arrays is many
        return np.ndim(obj[0].get("kind")) == 0
    return False


def _is_single_hw(obj: Any) -> bool:
    """Whether ``obj`` is one hardware configuration (not records or knob arrays)."""
    if isinstance(obj, HardwareConfig):
        return True
    if isinstance(obj, Mapping):
        return all(np.ndim(v) == 0 for v in obj.values())
    return False


class Chips:
    """Hardware configurations, validated and converted to knob arrays block by block
    (:data:`KNOB_BLOCK` pairs at once, fewer numpy calls than chunk by chunk; memory stays
    bounded); ``chunk(lo, hi)`` gives views into the current block. ``n`` is the number of
    configurations, None for one configuration that serves every pair."""

    def __init__(self, hws: Any) -> None:
        self.n: int | None = None
        self.single: dict[str, np.ndarray] | None = None
        self.cols: dict[str, np.ndarray] | None = None
        self.records: list[Any] | None = None
        self._block: tuple[int, int, dict[str, np.ndarray]] | None = None
        if _is_frame(hws):
            hws = {c: np.asarray(hws[c]) for c in hws.columns}
        if _is_single_hw(hws):
            self.single = knob_arrays([hws])
        elif isinstance(hws, Mapping):
            unknown = sorted(set(hws) - set(KNOB_NAMES))
            if unknown:
                raise ValueError(f"hardware knob arrays: unknown knob(s) {unknown}; knobs are {list(KNOB_NAMES)}")
            self.cols = {k: np.asarray(v) for k, v in hws.items()}
            lens = {np.shape(v)[0] for v in self.cols.values() if np.ndim(v) > 0}
            if len(lens) != 1:
                raise ValueError(f"hardware knob arrays must share one length, got lengths {sorted(lens)}")
            self.n = lens.pop()
        else:
            self.records = list(hws)
            if not self.records:
                raise ValueError("no hardware configurations given")
            self.n = len(self.records)

    def take(self, idx: np.ndarray) -> "Chips":
        """The configurations at ``idx`` (int array (k,), in that order), taken from the
        validated knob arrays of the block that holds them (validated first when none does):
        many subsets of the same chips are validated once."""
        if self.single is not None:
            raise ValueError("a single configuration for every pair has no subsets")
        idx = np.asarray(idx, dtype=np.int64)
        lo, hi = (int(idx.min()), int(idx.max()) + 1) if idx.size else (0, 0)
        knobs = self.chunk(lo, hi)
        out = Chips.__new__(Chips)
        out.single, out.cols, out.records = None, None, None
        out.n = idx.size
        out._block = (0, idx.size, {k: v[idx - lo] for k, v in knobs.items()})
        return out

    def broadcast(self) -> None:
        """Use the one configuration given for every pair."""
        self.single = self.chunk(0, 1)
        self.n = None

    def chunk(self, lo: int, hi: int) -> dict[str, np.ndarray]:
        if self.single is not None:
            return {k: np.broadcast_to(v, (hi - lo,)) for k, v in self.single.items()}
        if self._block is None or not (self._block[0] <= lo and hi <= self._block[1]):
            b_hi = min(self.n, max(hi, lo + KNOB_BLOCK))
            if self.records is not None:
                knobs = knob_arrays(self.records[lo:b_hi], offset=lo)
            else:
                part = {k: (v[lo:b_hi] if np.ndim(v) > 0 else v) for k, v in self.cols.items()}
                knobs = knob_arrays(part, n=b_hi - lo, offset=lo)
            self._block = (lo, b_hi, knobs)
        b_lo, _, knobs = self._block
        return {k: v[lo - b_lo : hi - b_lo] for k, v in knobs.items()}


def even_chunks(start: int, end: int, size: int) -> list[tuple[int, int]]:
    """``start..end`` cut into the fewest chunks of at most ``size``, of nearly equal length
    (no small last chunk)."""
    k = -(-(end - start) // size)
    cuts = [start + (end - start) * i // k for i in range(k + 1)]
    return list(zip(cuts[:-1], cuts[1:]))


class Networks:
    """Networks, padded into :class:`TableBatch` es; ``chunk(lo, hi)`` gives the batch rows of
    pairs lo..hi-1 (or a one-row batch that broadcasts). ``n`` is the number of networks,
    None for one network that serves every pair."""

    #: pad all distinct tables at once when (tables x longest table) is at most this many rows
    GLOBAL_ROWS = 1 << 19

    def __init__(self, tables: Any, table_index: Any) -> None:
        self.batch: TableBatch | None = None
        self.index: np.ndarray | None = None
        self.runs: np.ndarray | None = None
        self.tables: list[LayerTable] | None = None
        self.lazy: SubnetConfigs | None = None
        if isinstance(tables, SubnetConfigs):
            if table_index is not None:
                raise ValueError("table_index is only used with a TableBatch")
            self.lazy = tables
            self.n = len(tables)
            # runs of one repeated subnet: chunks then hold one network, built once per chunk
            self.runs = tables.run_starts()
            return
        if isinstance(tables, TableBatch):
            self.batch = tables
            self.index = None if table_index is None else np.asarray(table_index, dtype=np.int64)
            if self.index is not None and len(self.index) and (self.index.min() < 0 or self.index.max() >= len(tables)):
                raise ValueError(f"table_index must lie in [0, {len(tables)}), the batch's size")
            self.n = len(self.index) if self.index is not None else (None if len(tables) == 1 else len(tables))
            return
        if table_index is not None:
            raise ValueError("table_index is only used with a TableBatch")
        if _is_single_table(tables):
            self.batch = TableBatch.from_tables([tables])
            self.n = None
            return
        tabs = list(tables)
        if not tabs:
            raise ValueError("no layer tables given")
        self.n = len(tabs)
        # one entry per distinct object: pairs sharing a table pad it once
        ids = np.fromiter(map(id, tabs), dtype=np.int64, count=len(tabs))
        _, first, inverse = np.unique(ids, return_index=True, return_inverse=True)
        uniq = []
        for j, i in enumerate(first):
            t = tabs[i]
            try:
                uniq.append(t if isinstance(t, LayerTable) else LayerTable.coerce(t))
            except ValueError as e:
                raise ValueError(f"layer table of pair {int(i)}: {e}") from None
        if any(len(u) == 0 for u in uniq):
            j = next(j for j, u in enumerate(uniq) if len(u) == 0)
            raise ValueError(f"layer table of pair {int(first[j])} has no rows")
        self.index = inverse.ravel().astype(np.int64)
        longest = max(len(u.kind) for u in uniq)
        if len(uniq) * longest <= self.GLOBAL_ROWS:
            self.batch = TableBatch.from_tables(uniq)
        else:
            self.tables = uniq

    def bounds(self, P: int, size: int) -> list[tuple[int, int]]:
        """``(lo, hi)`` of the chunks: ``size`` pairs each, and also cut where ``table_index``
        changes when it runs in long stretches (a search: few networks, many chips each), so
        that a chunk holds one network, which broadcasts over its pairs."""
        idx, cuts = self.index, None
        if self.runs is not None:  # lazy configurations in runs
            cuts = self.runs[1:]
        elif idx is not None and self.batch is not None and len(self.batch) > 1 and P > 1:
            cuts = np.flatnonzero(idx[1:] != idx[:-1]) + 1
            if (len(cuts) + 1) * size > 2 * P:  # runs shorter than size / 2 pairs on average
                cuts = None
        if cuts is None:
            return even_chunks(0, P, size)
        edges = np.concatenate(([0], cuts, [P])).tolist()
        return [b for a, e in zip(edges[:-1], edges[1:]) for b in even_chunks(a, e, size)]

    def chunk(self, lo: int, hi: int) -> TableBatch:
        if self.lazy is not None:
            if self.runs is not None:  # the chunk lies in one run: its network broadcasts
                return self.lazy.batch(lo, lo + 1)[0]
            b, idx = self.lazy.batch(lo, hi)
            return b if len(b) == hi - lo and np.array_equal(idx, np.arange(hi - lo)) else b.take(idx)
        if self.tables is not None:  # many distinct tables: pad the chunk's own
            idx = self.index[lo:hi]
            u, inv = np.unique(idx, return_inverse=True)
            b = TableBatch.from_tables([self.tables[i] for i in u])
            return b if len(u) == hi - lo and np.array_equal(u, idx) else b.take(inv.ravel())
        b = self.batch
        if len(b) == 1:
            return b  # broadcasts over the chunk
        if self.index is None:
            return b.slice(lo, hi)
        idx = self.index[lo:hi]
        if idx.size and idx[0] == idx[-1] and (idx == idx[0]).all():
            return b.slice(int(idx[0]), int(idx[0]) + 1)  # one network: broadcasts
        if idx.size and idx[-1] - idx[0] == idx.size - 1 and np.array_equal(idx, np.arange(idx[0], idx[-1] + 1)):
            return b.slice(int(idx[0]), int(idx[-1]) + 1)
        return b.take(idx)
