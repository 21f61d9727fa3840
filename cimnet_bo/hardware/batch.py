"""Padded batches of layer tables, the input of :func:`cimnet_bo.hardware.simulate_many`.

A :class:`TableBatch` holds U networks as two padded matrices, one for static layers
(U x Ls) and one for digital layers (dynamic and eltwise, U x Ld), plus per-network sums
of the terms that do not depend on the hardware. Each row stands for ``mult`` identical
layers (0 for padding), so every per-layer term enters the sums weighted by ``mult``; a
batch may share one set of rows among all its networks (a (1 x L) matrix) and differ only
in ``mult`` (the ViT builder does).

Three ways to build one, none with a Python loop per layer:

* :meth:`TableBatch.from_tables`: from layer tables (columns concatenated and scattered
  into the padded matrices; a Python loop only gathers each table's column arrays);
* :func:`~cimnet_bo.hardware.vit_batch.vit_batch`: from ViT-family subnet configurations,
  fully vectorised (no layer table objects at all); equal to building each table with
  :func:`cimnet_bo.workload.layer_table` (tested);
* :func:`~cimnet_bo.hardware.subnets.batch_from_configs`: any registered space; uses
  ``vit_batch`` for the ViT family and otherwise builds each distinct configuration's table
  once.

The builders from configurations share :func:`~cimnet_bo.space.subnet_side` and :func:`n_configs`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from cimnet_bo.hardware.model import layer_bytes
from cimnet_bo.workload.table import LayerTable, layer_weight_bytes

#: Static-layer columns of a batch ((U or 1) x Ls): the layer's shape and the terms of the
#: page that depend on it alone. ``mult`` counts identical layers (0 for padding).
STATIC_COLS = ("M", "K", "N", "count", "w_bits", "a_bits", "traffic0", "fold", "W", "MNc", "MKc")
#: Digital-layer columns of a batch ((U or 1) x Ld).
DIGITAL_COLS = ("work", "traffic0")
#: Per-network sums (U,).
SUM_COLS = ("fold_max", "traffic_tot", "W_tot", "MNc_tot", "MKNc_tot", "KNc_tot", "dyn_macs", "elt_ops")


def row_terms(static, dynamic, M, K, N, count, w_bits, a_bits, ops, reuse) -> dict[str, np.ndarray]:
    """The hardware-independent terms of layer rows (arrays of any one shape).

    ``traffic0 = in_b + out_b`` (buffer traffic without partial sums), ``fold = in_b / reuse +
    out_b`` (what the buffer must hold; page, *Every layer*: capacity checked on folded
    inputs, reuse 1 for digital layers), ``W`` (weight bytes), ``MNc = M*N*count``, ``MKc``,
    ``MKNc``, ``KNc`` and the digital ``work`` (``M*K*N*count`` dynamic, ``ops*count``
    eltwise). Shared by every batch builder, so all compare bit-identical numbers.
    """
    in_b, out_b = layer_bytes(static, dynamic, M, K, N, count, a_bits, ops)
    return {
        "traffic0": in_b + out_b,
        "fold": np.where(static, in_b / reuse, in_b) + out_b,
        "W": layer_weight_bytes(static, K, N, count, w_bits),
        "MNc": M * N * count,
        "MKc": M * K * count,
        "MKNc": M * K * N * count,
        "KNc": K * N * count,
        "work": np.where(dynamic, M * K * N * count, ops * count),
    }


def _rows(v: np.ndarray, idx: Any) -> np.ndarray:
    """Row selection that keeps a shared (1 x L) matrix shared."""
    return v if v.shape[0] == 1 else v[idx]


@dataclass
class TableBatch:
    """U networks as padded matrices (see the module docstring).

    ``static[c]`` is (U x Ls) or (1 x Ls) (one set of layer shapes shared by every network)
    for c in :data:`STATIC_COLS`, and ``static["mult"]`` (U x Ls) counts how many identical
    layers each row stands for (0: padding or a shape the network does not use); likewise
    ``digital`` (x Ld) for :data:`DIGITAL_COLS` and ``mult``; ``sums[c]`` (U,) for c in
    :data:`SUM_COLS`. ``uniform_bits`` is ``(w_bits, a_bits)`` when every static layer of every
    network has that precision, else None (the model then works per layer).
    """

    static: dict[str, np.ndarray]
    digital: dict[str, np.ndarray]
    sums: dict[str, np.ndarray]
    uniform_bits: tuple[float, float] | None
    labels: list[str] | None = None

    def __len__(self) -> int:
        return len(self.sums["W_tot"])

    def take(self, idx: np.ndarray) -> "TableBatch":
        """The networks at ``idx`` (a new batch; rows gathered, shared shapes kept shared)."""
        labels = None if self.labels is None else [self.labels[i] for i in np.asarray(idx).ravel()]
        return self._select(idx, labels)

    def slice(self, lo: int, hi: int) -> "TableBatch":
        """Networks lo..hi-1 (views, no copy)."""
        return self._select(slice(lo, hi), None if self.labels is None else self.labels[lo:hi])

    def _select(self, idx: Any, labels: list[str] | None) -> "TableBatch":
        """The networks ``idx`` (an index array or a slice) with their ``labels``."""
        return TableBatch(
            {k: _rows(v, idx) for k, v in self.static.items()},
            {k: _rows(v, idx) for k, v in self.digital.items()},
            {k: v[idx] for k, v in self.sums.items()},
            self.uniform_bits,
            labels,
        )

    # ---------------------------------------------------------------- builders
    @classmethod
    def from_rows(
        cls,
        table_id: np.ndarray,
        n_tables: int,
        static: np.ndarray,
        dynamic: np.ndarray,
        M,
        K,
        N,
        count,
        w_bits,
        a_bits,
        ops,
        reuse,
        labels=None,
    ) -> "TableBatch":
        """A batch from the concatenated rows of ``n_tables`` networks.

        ``table_id`` (R,) gives each row's network; the other arguments are (R,) row columns.
        Identical rows of one network become one row with ``mult`` > 1 (every term of the
        model is per layer, so identical layers give identical terms).
        """
        table_id = np.asarray(table_id, dtype=np.float64)
        code = np.where(static, 0.0, np.where(dynamic, 1.0, 2.0))
        key = np.stack([table_id, code, M, K, N, count, w_bits, a_bits, ops, reuse], axis=1)
        uniq, mult = np.unique(key, axis=0, return_counts=True)
        tid = uniq[:, 0].astype(np.int64)
        code = uniq[:, 1]
        static, dynamic = code == 0.0, code == 1.0
        M, K, N, count, w_bits, a_bits, ops, reuse = uniq[:, 2:].T
        terms = row_terms(static, dynamic, M, K, N, count, w_bits, a_bits, ops, reuse)
        cols = {
            "M": M,
            "K": K,
            "N": N,
            "count": count,
            "w_bits": w_bits,
            "a_bits": a_bits,
            "dyn": dynamic.astype(np.float64),
            **terms,
        }

        def padded(mask: np.ndarray, keys) -> dict[str, np.ndarray]:
            rows = np.flatnonzero(mask)
            t = tid[rows]
            n_per = np.bincount(t, minlength=n_tables)
            starts = np.concatenate(([0], np.cumsum(n_per)[:-1]))
            width = max(int(n_per.max()) if t.size else 0, 1)
            # (U x width) matrices stored as the transpose of (width x U) arrays, the layout
            # simulate_many works in
            flat = (np.arange(t.size) - starts[t]) * n_tables + t
            out = {}
            for k in (*keys, "mult"):
                m = np.zeros(width * n_tables)
                m[flat] = (mult if k == "mult" else cols[k])[rows]
                out[k] = m.reshape(width, n_tables).T
            return out

        st = padded(static, STATIC_COLS)
        dg = padded(~static, (*DIGITAL_COLS, "dyn"))
        dyn_mask = dg.pop("dyn") > 0
        sw, sa = w_bits[static], a_bits[static]
        uniform = None
        if sw.size == 0:
            uniform = (8.0, 8.0)
        elif np.all(sw == sw[0]) and np.all(sa == sa[0]):
            uniform = (float(sw[0]), float(sa[0]))
        return cls.assemble(st, dg, uniform, n_tables, dyn_mask, labels)

    @classmethod
    def assemble(cls, static, digital, uniform, n: int, dyn_mask: np.ndarray, labels=None) -> "TableBatch":
        """A batch from its matrices; computes the per-network sums. Digital rows are dynamic
        where ``dyn_mask`` (broadcastable to ``digital["work"]``) is true, else eltwise."""
        sm, dm = static["mult"], digital["mult"]
        wsum = lambda m, v: np.broadcast_to((m * v).sum(1), (n,))  # noqa: E731
        fold = np.where(sm > 0, static["fold"], 0.0).max(1, initial=0.0)
        fold_d = np.where(dm > 0, digital["traffic0"], 0.0).max(1, initial=0.0)
        sums = {
            "fold_max": np.broadcast_to(np.maximum(fold, fold_d), (n,)),
            "traffic_tot": wsum(sm, static["traffic0"]) + wsum(dm, digital["traffic0"]),
            "W_tot": wsum(sm, static["W"]),
            "MNc_tot": wsum(sm, static["MNc"]),
            "MKNc_tot": wsum(sm, static["M"] * static["K"] * static["N"] * static["count"]),
            "KNc_tot": wsum(sm, static["K"] * static["N"] * static["count"]),
            "dyn_macs": wsum(dm, np.where(dyn_mask, digital["work"], 0.0)),
            "elt_ops": wsum(dm, np.where(dyn_mask, 0.0, digital["work"])),
        }
        return cls(static, digital, sums, uniform, labels)

    @classmethod
    def from_tables(cls, tables: Sequence[Any]) -> "TableBatch":
        """A batch from layer tables (LayerTable, dict of arrays, DataFrame or row dicts)."""
        tabs = [t if isinstance(t, LayerTable) else LayerTable.coerce(t) for t in tables]
        if not tabs:
            raise ValueError("no layer tables given")
        lens = np.fromiter((len(t.kind) for t in tabs), dtype=np.int64, count=len(tabs))
        if (lens == 0).any():
            raise ValueError(f"layer table {int(np.flatnonzero(lens == 0)[0])} has no rows")
        table_id = np.repeat(np.arange(len(tabs)), lens)
        kind = np.concatenate([t.kind for t in tabs])
        if kind.dtype.kind != "U":
            kind = kind.astype(str)
        kind = np.ascontiguousarray(kind)
        # first character of each kind (static, dynamic, eltwise; LayerTable checks them)
        first = kind.view(np.uint32).reshape(kind.size, -1)[:, 0]
        static = first == ord("s")
        dynamic = first == ord("d")
        if not np.all(static | dynamic | (first == ord("e"))):
            bad = kind[~(static | dynamic | (first == ord("e")))][0]
            raise ValueError(f"layer table: unknown kind {bad!r}; allowed kinds: static, dynamic, eltwise")
        cols = {
            c: np.concatenate([t.__dict__[c] for t in tabs]).astype(np.float64, copy=False)
            for c in ("M", "K", "N", "count", "w_bits", "a_bits", "ops", "reuse")
        }
        return cls.from_rows(table_id, len(tabs), static, dynamic, labels=[t.label for t in tabs], **cols)


def n_configs(configs: Sequence[Mapping[str, Any]] | Mapping[str, Any]) -> int:
    """How many subnet configurations ``configs`` holds: a sequence of configuration dicts,
    or a dict of arrays (choice name -> values, each of length n)."""
    if isinstance(configs, Mapping):
        return len(np.asarray(next(iter(configs.values()))))
    return len(configs)
