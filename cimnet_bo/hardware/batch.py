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
* :func:`vit_batch`: from ViT-family subnet configurations, fully vectorised (no layer
  table objects at all); equal to building each table with
  :func:`cimnet_bo.workload.layer_table` (tested);
* :func:`batch_from_configs`: any registered space; uses :func:`vit_batch` for the ViT
  family and otherwise builds each distinct configuration's table once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from cimnet_bo.hardware.model import layer_bytes, weight_bytes
from cimnet_bo.workload.table import LayerTable

#: Static-layer columns of a batch ((U or 1) x Ls): the layer's shape and the terms of the
#: page that depend on it alone. ``mult`` counts identical layers (0 for padding).
STATIC_COLS = ("M", "K", "N", "count", "w_bits", "a_bits", "traffic0", "fold", "W", "MNc", "MKc")
#: Digital-layer columns of a batch ((U or 1) x Ld).
DIGITAL_COLS = ("work", "traffic0")
#: Per-network sums (U,).
SUM_COLS = (
    "fold_max", "traffic_tot", "W_tot", "MNc_tot", "MKNc_tot", "KNc_tot", "dyn_macs", "elt_ops"
)


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
        "W": weight_bytes(static, K, N, count, w_bits),
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
        return TableBatch(
            {k: _rows(v, idx) for k, v in self.static.items()},
            {k: _rows(v, idx) for k, v in self.digital.items()},
            {k: v[idx] for k, v in self.sums.items()},
            self.uniform_bits,
            None if self.labels is None else [self.labels[i] for i in np.asarray(idx).ravel()],
        )

    def slice(self, lo: int, hi: int) -> "TableBatch":
        """Networks lo..hi-1 (views, no copy)."""
        sl = slice(lo, hi)
        return TableBatch(
            {k: _rows(v, sl) for k, v in self.static.items()},
            {k: _rows(v, sl) for k, v in self.digital.items()},
            {k: v[sl] for k, v in self.sums.items()},
            self.uniform_bits,
            None if self.labels is None else self.labels[lo:hi],
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
        cols = {"M": M, "K": K, "N": N, "count": count, "w_bits": w_bits, "a_bits": a_bits,
                "dyn": dynamic.astype(np.float64), **terms}

        def padded(mask: np.ndarray, keys) -> dict[str, np.ndarray]:
            rows = np.flatnonzero(mask)
            t = tid[rows]
            n_per = np.bincount(t, minlength=n_tables)
            starts = np.concatenate(([0], np.cumsum(n_per)[:-1]))
            width = max(int(n_per.max()) if t.size else 0, 1)
            flat = t * width + (np.arange(t.size) - starts[t])
            out = {}
            for k in (*keys, "mult"):
                m = np.zeros(n_tables * width)
                m[flat] = (mult if k == "mult" else cols[k])[rows]
                out[k] = m.reshape(n_tables, width)
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
    def assemble(cls, static, digital, uniform, n: int, dyn_mask: np.ndarray,
                 labels=None) -> "TableBatch":
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
            raise ValueError(
                f"layer table: unknown kind {bad!r}; allowed kinds: static, dynamic, eltwise"
            )
        cols = {
            c: np.concatenate([t.__dict__[c] for t in tabs]).astype(np.float64, copy=False)
            for c in ("M", "K", "N", "count", "w_bits", "a_bits", "ops", "reuse")
        }
        return cls.from_rows(
            table_id, len(tabs), static, dynamic, labels=[t.label for t in tabs], **cols
        )


# --------------------------------------------------------------------------- ViT family
def _column(configs: Any, key: str, n: int) -> np.ndarray | None:
    if isinstance(configs, Mapping):
        v = configs.get(key)
        return None if v is None else np.broadcast_to(np.asarray(v), (n,))
    try:
        return np.array([c[key] for c in configs])
    except KeyError:
        return None


def _counts(n: int, code: np.ndarray, n_codes: int) -> np.ndarray:
    """(n x n_codes) counts of each code per configuration; ``code`` (n x slots), with
    ``n_codes`` meaning "none"."""
    flat = (np.arange(n)[:, None] * (n_codes + 1) + code).ravel()
    return np.bincount(flat, minlength=n * (n_codes + 1)).reshape(n, n_codes + 1)[:, :n_codes]


def vit_batch(space: Any, configs: Any) -> TableBatch:
    """Batch of ViT-family networks straight from subnet configurations (vectorised).

    Gives the same model results as building each configuration's table with
    :func:`cimnet_bo.workload.families.vit_table` (tested). ``space`` is a ViT-family subnet
    or joint space; ``configs`` a list of configuration dicts or a dict of arrays (choice name
    -> values). Values are checked against the space's allowed values.

    A ViT's layers take few distinct shapes: QKV and projection depend on (embedding, heads),
    fc1 and fc2 on (embedding, MLP size), the rest on the embedding alone. The batch holds
    each shape once, shared by every network (a (1 x L) matrix), and each network's count of
    each shape (``mult``), so the model's work per pair is the number of distinct shapes
    (16 static and 16 digital for ViT-B), not the number of layers.
    """
    from cimnet_bo.space import JointSpace

    sub = space.subnet if isinstance(space, JointSpace) else space
    if sub.family != "vit":
        raise ValueError(f"vit_batch needs a ViT-family space, got family {sub.family!r}")
    meta = sub.meta
    n = len(next(iter(configs.values()))) if isinstance(configs, Mapping) else len(configs)
    if n == 0:
        raise ValueError("no configurations given")

    cols: dict[str, np.ndarray] = {}
    for ch in sub.choices:
        v = _column(configs, ch.name, n)
        if v is None:
            if ch.condition is None:
                raise ValueError(
                    f"configuration does not match space {sub.name!r}: missing key {ch.name!r}"
                )
            continue
        ok = np.isin(v, np.asarray(ch.values))
        if not ok.all():
            i = int(np.flatnonzero(~ok)[0])
            raise ValueError(
                f"configuration {i}: {ch.name!r} = {v[i]!r} is not allowed; "
                f"allowed values: {list(ch.values)}"
            )
        cols[ch.name] = v.astype(np.float64)

    dmax = int(max(sub["num_layers"].values))
    ratio = "mlp_ratio_0" in sub.names
    mkey = "mlp_ratio" if ratio else "mlp"
    E_vals = (
        np.array(sorted(sub["embed_dim"].values), dtype=float)
        if "embed_dim" in sub.names
        else np.array([float(meta.get("hidden", 0))])
    )
    H_vals = np.array(sorted({v for i in range(dmax) for v in sub[f"heads_{i}"].values}), dtype=float)
    R_vals = np.array(sorted({v for i in range(dmax) for v in sub[f"{mkey}_{i}"].values}), dtype=float)
    nE, nH, nR = len(E_vals), len(H_vals), len(R_vals)

    e_rank = (
        np.searchsorted(E_vals, cols["embed_dim"]) if "embed_dim" in cols else np.zeros(n, dtype=np.int64)
    )
    active = np.arange(dmax)[None, :] < cols["num_layers"][:, None]
    code_h = np.full((n, dmax), nE * nH, dtype=np.int64)  # nE*nH: no layer in this slot
    code_m = np.full((n, dmax), nE * nR, dtype=np.int64)
    for i in range(dmax):  # loop over layer slots (the space's depth), not over pairs
        h, m = cols.get(f"heads_{i}"), cols.get(f"{mkey}_{i}")
        if h is None or m is None:
            if active[:, i].any():
                miss = f"heads_{i}" if h is None else f"{mkey}_{i}"
                raise ValueError(
                    f"configuration does not match space {sub.name!r}: missing key {miss!r}"
                )
            continue
        code_h[:, i] = np.where(active[:, i], e_rank * nH + np.searchsorted(H_vals, h), nE * nH)
        code_m[:, i] = np.where(active[:, i], e_rank * nR + np.searchsorted(R_vals, m), nE * nR)
    cnt_h = _counts(n, code_h, nE * nH).astype(np.float64)  # layers per (embed, heads)
    cnt_m = _counts(n, code_m, nE * nR).astype(np.float64)  # layers per (embed, mlp)
    on_e = (e_rank[:, None] == np.arange(nE)[None, :]).astype(np.float64)  # (n x nE)
    layers_e = cnt_h.reshape(n, nE, nH).sum(2)  # active layers per embedding

    # --- the distinct shapes: per (embed, heads), per (embed, mlp) and per embed
    eh, hh = (g.ravel() for g in np.meshgrid(E_vals, H_vals, indexing="ij"))
    em, rm = (g.ravel() for g in np.meshgrid(E_vals, R_vals, indexing="ij"))
    mlp = np.round(rm * em) if ratio else rm  # int(round(mlp_ratio * hidden))
    hd = float(meta["head_dim"])
    patches = float((meta["image"] // meta["patch"]) ** 2)
    T = patches + 1.0  # class token
    one_h, one_m, one_e = np.ones(nE * nH), np.ones(nE * nR), np.ones(nE)
    # static: qkv (T, E, 3*h*hd), proj (T, h*hd, E), fc1 (T, E, mlp), fc2 (T, mlp, E),
    # patch_embed (patches, in_chans*patch^2, E), head (1, E, classes)
    sM = np.concatenate([T * one_h, T * one_h, T * one_m, T * one_m, patches * one_e, one_e])
    sK = np.concatenate([eh, hh * hd, em, mlp, float(meta["in_chans"] * meta["patch"] ** 2) * one_e, E_vals])
    sN = np.concatenate([3 * hh * hd, eh, mlp, em, E_vals, float(meta["classes"]) * one_e])
    s_mult = np.concatenate([cnt_h, cnt_h, cnt_m, cnt_m, on_e, on_e], axis=1)
    # digital: qk (T, hd, T) x h, av (T, T, hd) x h [dynamic]; softmax h*T*T, gelu T*mlp,
    # and T*E for norm1, add1, norm2, add2 per layer plus pos_embed and the final norm
    z_h, z_m = np.zeros(nE * nH), np.zeros(nE * nR)
    dM = np.concatenate([T * one_h, T * one_h, z_h, z_m, np.zeros(nE)])
    dK = np.concatenate([hd * one_h, T * one_h, z_h, z_m, np.zeros(nE)])
    dN = np.concatenate([T * one_h, hd * one_h, z_h, z_m, np.zeros(nE)])
    dC = np.concatenate([hh, hh, one_h, one_m, one_e])
    dO = np.concatenate([z_h, z_h, hh * T * T, T * mlp, T * E_vals])
    d_dyn = np.concatenate([one_h, one_h, z_h, z_m, np.zeros(nE)]) > 0
    d_mult = np.concatenate([cnt_h, cnt_h, cnt_h, cnt_m, 4 * layers_e + 2 * on_e], axis=1)

    def shared(kind_static, kind_dynamic, M, K, N, C, O) -> dict[str, np.ndarray]:
        eight = np.full(M.shape, 8.0)
        t = row_terms(kind_static, kind_dynamic, M, K, N, C, eight, eight, O, np.ones(M.shape))
        t.update(M=M, K=K, N=N, count=C, w_bits=eight, a_bits=eight)
        return {k: v[None, :] for k, v in t.items()}

    static = shared(np.ones(sM.shape, bool), np.zeros(sM.shape, bool), sM, sK, sN, np.ones(sM.shape), 0.0 * sM)
    static = {k: static[k] for k in STATIC_COLS}
    static["mult"] = s_mult
    digital = shared(np.zeros(dM.shape, bool), d_dyn, dM, dK, dN, dC, dO)
    digital = {k: digital[k] for k in DIGITAL_COLS}
    digital["mult"] = d_mult
    return TableBatch.assemble(static, digital, (8.0, 8.0), n, d_dyn[None, :])


class TableCache:
    """Layer tables of one space, built once per distinct subnet configuration.

    ``cache.table(config)`` returns the :class:`LayerTable` (built with
    :func:`cimnet_bo.workload.layer_table` on first use); ``cache.tables(configs)`` a list in
    which equal configurations share one object, so :func:`simulate_many` pads each once.
    """

    def __init__(self, space: Any, maxsize: int | None = 100_000) -> None:
        from cimnet_bo.space import JointSpace

        self.space = space.subnet if isinstance(space, JointSpace) else space
        self.names = self.space.names
        self.maxsize = maxsize
        self._cache: dict[tuple, LayerTable] = {}

    def key(self, config: Mapping[str, Any]) -> tuple:
        return tuple(config.get(n) for n in self.names)

    def table(self, config: Mapping[str, Any]) -> LayerTable:
        from cimnet_bo.workload import layer_table

        k = self.key(config)
        t = self._cache.get(k)
        if t is None:
            t = layer_table(self.space, config)
            if self.maxsize is None or len(self._cache) < self.maxsize:
                self._cache[k] = t
        return t

    def tables(self, configs: Sequence[Mapping[str, Any]]) -> list[LayerTable]:
        return [self.table(c) for c in configs]


def batch_from_configs(
    space: Any, configs: Sequence[Mapping[str, Any]], cache: TableCache | None = None
) -> tuple[TableBatch, np.ndarray]:
    """``(batch, index)`` for subnet configurations of a registered space: pair i's network is
    ``batch`` row ``index[i]``. ViT-family spaces use :func:`vit_batch` (one row per
    configuration); others build each distinct configuration's table once."""
    from cimnet_bo.space import JointSpace

    sub = space.subnet if isinstance(space, JointSpace) else space
    if sub.family == "vit":
        b = vit_batch(sub, configs)
        return b, np.arange(len(b))
    cache = cache or TableCache(sub)
    keys = [cache.key(c) for c in configs]
    first: dict[tuple, int] = {}
    index = np.fromiter(
        (first.setdefault(k, len(first)) for k in keys), dtype=np.int64, count=len(keys)
    )
    uniq_cfg = [None] * len(first)
    for k, i in first.items():
        uniq_cfg[i] = dict(zip(cache.names, k))
    return TableBatch.from_tables([cache.table(c) for c in uniq_cfg]), index


class SubnetConfigs:
    """Networks given as subnet configurations of a space, for :func:`simulate_many`.

    Their padded batches are built chunk by chunk (:func:`vit_batch` for the ViT family,
    else one layer table per distinct configuration, cached across chunks), so memory stays
    bounded however many pairs there are.
    """

    def __init__(
        self, space: Any, configs: Sequence[Mapping[str, Any]], cache: TableCache | None = None
    ) -> None:
        from cimnet_bo.space import JointSpace

        self.space = space.subnet if isinstance(space, JointSpace) else space
        self.configs = configs
        self.cache = (
            cache if cache is not None or self.space.family == "vit" else TableCache(self.space)
        )

    def __len__(self) -> int:
        if isinstance(self.configs, Mapping):
            return len(np.asarray(next(iter(self.configs.values()))))
        return len(self.configs)

    def batch(self, lo: int, hi: int) -> tuple[TableBatch, np.ndarray]:
        """``(batch, index)`` of configurations lo..hi-1 (see :func:`batch_from_configs`)."""
        part = (
            self.configs[lo:hi]
            if not isinstance(self.configs, Mapping)
            else {k: np.asarray(v)[lo:hi] for k, v in self.configs.items()}
        )
        return batch_from_configs(self.space, part, self.cache)
