"""Padded batches of layer tables, the input of :func:`cimnet_bo.hardware.simulate_many`.

A :class:`TableBatch` holds U networks as two padded matrices, one for static layers
(U x Ls) and one for digital layers (dynamic and eltwise, U x Ld), plus per-network sums
of the terms that do not depend on the hardware. Padding rows are all zeros, and every
formula of the model gives exactly 0 for them, so no mask is needed except for the
one-time programming time.

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

from cimnet_bo.hardware.model import activation_bytes, weight_bytes
from cimnet_bo.workload.table import LayerTable

#: Static-layer columns of a batch (U x Ls).
STATIC_COLS = (
    "M",
    "K",
    "N",
    "count",
    "w_bits",
    "a_bits",
    "act_b",
    "W",
    "MNc",
    "MKc",
    "MKNc",
    "KNc",
    "valid",
)
#: Digital-layer columns of a batch (U x Ld).
DIGITAL_COLS = ("work", "act_b")
#: Per-network sums (U,).
SUM_COLS = ("act_tot", "act_max", "W_tot", "MKNc_tot", "KNc_tot", "dyn_macs", "elt_ops")


@dataclass
class TableBatch:
    """U networks as padded matrices (see the module docstring).

    ``static[c]`` is (U x Ls) for c in :data:`STATIC_COLS`; ``digital[c]`` (U x Ld) for c in
    :data:`DIGITAL_COLS`; ``sums[c]`` (U,) for c in :data:`SUM_COLS`. ``uniform_bits`` is
    ``(w_bits, a_bits)`` when every static layer of every network has that precision, else
    None (the model then works per layer).
    """

    static: dict[str, np.ndarray]
    digital: dict[str, np.ndarray]
    sums: dict[str, np.ndarray]
    uniform_bits: tuple[float, float] | None
    labels: list[str] | None = None

    def __len__(self) -> int:
        return len(self.sums["act_tot"])

    def take(self, idx: np.ndarray) -> "TableBatch":
        """The networks at ``idx`` (a new batch; rows gathered)."""
        return TableBatch(
            {k: v[idx] for k, v in self.static.items()},
            {k: v[idx] for k, v in self.digital.items()},
            {k: v[idx] for k, v in self.sums.items()},
            self.uniform_bits,
            None if self.labels is None else [self.labels[i] for i in np.asarray(idx).ravel()],
        )

    def slice(self, lo: int, hi: int) -> "TableBatch":
        """Networks lo..hi-1 (views, no copy)."""
        return TableBatch(
            {k: v[lo:hi] for k, v in self.static.items()},
            {k: v[lo:hi] for k, v in self.digital.items()},
            {k: v[lo:hi] for k, v in self.sums.items()},
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
        labels=None,
    ) -> "TableBatch":
        """A batch from the concatenated rows of ``n_tables`` networks.

        ``table_id`` (R,) gives each row's network, non-decreasing; the other arguments are
        (R,) row columns. Rows keep their order within each network and kind.
        """
        table_id = np.asarray(table_id, dtype=np.int64)
        eltwise = ~(static | dynamic)
        act_b = activation_bytes(static, dynamic, M, K, N, count, a_bits, ops)
        W = weight_bytes(static, K, N, count, w_bits)

        def scatter(mask):
            rows = np.flatnonzero(mask)
            tid = table_id[rows]
            # position of each selected row within its network: running count minus the
            # count before the network's first row
            n_per = np.bincount(tid, minlength=n_tables)
            starts = np.concatenate(([0], np.cumsum(n_per)[:-1]))
            width = max(int(n_per.max()) if n_tables and tid.size else 0, 1)
            flat = tid * width + (np.arange(tid.size) - starts[tid])
            return rows, flat, width

        def padded(values, flat, width, dtype=np.float64):
            m = np.zeros(n_tables * width, dtype=dtype)
            m[flat] = values
            return m.reshape(n_tables, width)

        rows, flat, Ls = scatter(static)
        s_vals = {
            "M": M,
            "K": K,
            "N": N,
            "count": count,
            "w_bits": w_bits,
            "a_bits": a_bits,
            "act_b": act_b,
            "W": W,
        }
        s_vals = {k: v.take(rows) for k, v in s_vals.items()}
        s_vals["MNc"] = s_vals["M"] * s_vals["N"] * s_vals["count"]
        s_vals["MKc"] = s_vals["M"] * s_vals["K"] * s_vals["count"]
        s_vals["MKNc"] = s_vals["M"] * s_vals["K"] * s_vals["N"] * s_vals["count"]
        s_vals["KNc"] = s_vals["K"] * s_vals["N"] * s_vals["count"]
        st = {k: padded(v, flat, Ls) for k, v in s_vals.items()}
        st["valid"] = padded(True, flat, Ls, bool)

        drows, dflat, Ld = scatter(~static)
        work = np.where(dynamic, M * K * N * count, ops * count)
        dg = {
            "work": padded(work.take(drows), dflat, Ld),
            "act_b": padded(act_b.take(drows), dflat, Ld),
        }

        dyn_macs = np.bincount(table_id, weights=np.where(dynamic, work, 0.0), minlength=n_tables)
        elt_ops = np.bincount(table_id, weights=np.where(eltwise, work, 0.0), minlength=n_tables)
        sw, sa = w_bits[static], a_bits[static]
        uniform = None
        if sw.size == 0:
            uniform = (8.0, 8.0)
        elif np.all(sw == sw[0]) and np.all(sa == sa[0]):
            uniform = (float(sw[0]), float(sa[0]))
        return cls.assemble(st, dg, dyn_macs, elt_ops, uniform, labels)

    @classmethod
    def assemble(cls, static, digital, dyn_macs, elt_ops, uniform, labels=None) -> "TableBatch":
        """A batch from its padded matrices; computes the per-network sums."""
        sums = {
            "act_tot": static["act_b"].sum(1) + digital["act_b"].sum(1),
            "act_max": np.maximum(static["act_b"].max(1), digital["act_b"].max(1)),
            "W_tot": static["W"].sum(1),
            "MKNc_tot": static["MKNc"].sum(1),
            "KNc_tot": static["KNc"].sum(1),
            "dyn_macs": dyn_macs,
            "elt_ops": elt_ops,
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
            for c in ("M", "K", "N", "count", "w_bits", "a_bits", "ops")
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


def _row_columns(
    kind: np.ndarray, M, K, N, count, ops, w_bits=8.0, a_bits=8.0
) -> dict[str, np.ndarray]:
    """Every batch column for rows given as arrays of any shape (``kind`` of 's', 'd', 'e');
    the same expressions as :meth:`TableBatch.from_rows`, so values are bit-identical."""
    static, dynamic = kind == "s", kind == "d"
    shape = np.broadcast(kind, M, K, N, count, ops).shape
    M, K, N, count, ops = (
        np.broadcast_to(np.asarray(x, dtype=np.float64), shape) for x in (M, K, N, count, ops)
    )
    wb = np.broadcast_to(np.float64(w_bits), shape)
    ab = np.broadcast_to(np.float64(a_bits), shape)
    act_b = activation_bytes(static, dynamic, M, K, N, count, ab, ops)
    return {
        "M": M,
        "K": K,
        "N": N,
        "count": count,
        "w_bits": wb,
        "a_bits": ab,
        "act_b": act_b,
        "W": weight_bytes(static, K, N, count, wb),
        "MNc": M * N * count,
        "MKc": M * K * count,
        "MKNc": M * K * N * count,
        "KNc": K * N * count,
        "work": np.where(dynamic, M * K * N * count, ops * count),
    }


def vit_batch(space: Any, configs: Any) -> TableBatch:
    """Batch of ViT-family networks straight from subnet configurations (vectorised).

    Reproduces :func:`cimnet_bo.workload.families.vit_table` row for row (up to where the
    padding sits). ``space`` is a ViT-family subnet or joint space; ``configs`` a list of
    configuration dicts or a dict of arrays (choice name -> values). Values are checked
    against the space's allowed values.

    A transformer layer's rows depend only on (embed_dim, heads_i, mlp_i), which take a few
    dozen combinations; their rows are computed once per combination ("templates") and
    gathered into the padded matrices, so the cost is a few array gathers per column.
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
    H_vals = np.array(
        sorted({v for i in range(dmax) for v in sub[f"heads_{i}"].values}), dtype=float
    )
    M_vals = np.array(
        sorted({v for i in range(dmax) for v in sub[f"{mkey}_{i}"].values}), dtype=float
    )
    nE, nH, nM = len(E_vals), len(H_vals), len(M_vals)
    C = nE * nH * nM

    e_rank = (
        np.searchsorted(E_vals, cols["embed_dim"])
        if "embed_dim" in cols
        else np.zeros(n, dtype=np.int64)
    )
    active = np.arange(dmax)[None, :] < cols["num_layers"][:, None]
    code = np.full((n, dmax), C, dtype=np.int64)  # C = the all-zero template (inactive slot)
    for i in range(dmax):  # loop over layer slots (the space's depth), not over pairs
        h, m = cols.get(f"heads_{i}"), cols.get(f"{mkey}_{i}")
        if h is None or m is None:
            if active[:, i].any():
                miss = f"heads_{i}" if h is None else f"{mkey}_{i}"
                raise ValueError(
                    f"configuration does not match space {sub.name!r}: missing key {miss!r}"
                )
            continue
        c = (e_rank * nH + np.searchsorted(H_vals, h)) * nM + np.searchsorted(M_vals, m)
        code[:, i] = np.where(active[:, i], c, C)

    # --- templates: one transformer layer per (embed, heads, mlp) combination, plus zeros
    eg, hg, mg = (g.ravel() for g in np.meshgrid(E_vals, H_vals, M_vals, indexing="ij"))
    eg, hg, mg = (np.append(g, 0.0) for g in (eg, hg, mg))
    mlp = np.round(mg * eg) if ratio else mg  # int(round(mlp_ratio * hidden))
    on = np.append(np.ones(C), 0.0)  # 0 for the zero template
    hd = float(meta["head_dim"])
    patches = float((meta["image"] // meta["patch"]) ** 2)
    T = patches + 1.0  # class token
    col = lambda *xs: np.stack([np.broadcast_to(x, on.shape) for x in xs], axis=1) * on[:, None]
    # static: qkv (T, H, 3*h*hd), proj (T, h*hd, H), fc1 (T, H, mlp), fc2 (T, mlp, H)
    st = _row_columns(
        np.array("s"),
        col(T, T, T, T),
        col(eg, hg * hd, eg, mlp),
        col(3 * hg * hd, eg, mlp, eg),
        col(1, 1, 1, 1),
        0.0,
    )
    st["valid"] = np.broadcast_to(on[:, None] > 0, (C + 1, 4))
    # digital: norm1, qk (T, hd, T) x h, softmax, av (T, T, hd) x h, add1, norm2, gelu, add2
    dkind = np.array(["e", "d", "e", "d", "e", "e", "e", "e"])
    z = 0.0
    dg = _row_columns(
        dkind[None, :],
        col(z, T, z, T, z, z, z, z),
        col(z, hd, z, T, z, z, z, z),
        col(z, T, z, hd, z, z, z, z),
        col(1, hg, 1, hg, 1, 1, 1, 1),
        col(T * eg, z, hg * T * T, z, T * eg, T * eg, T * mlp, T * eg),
    )
    dyn_t = np.where(dkind == "d", dg["work"], 0.0).sum(1)
    elt_t = np.where(dkind == "e", dg["work"], 0.0).sum(1)
    # rows outside the layers depend on the embedding only: patch_embed and head (static),
    # pos_embed and the final norm (digital); they form one more template per embedding
    # (padded with zero rows to the template width), appended after the zero template
    E4 = lambda a, b: np.stack([a, b] + [np.zeros(nE)] * (st["M"].shape[1] - 2), 1)  # noqa: E731
    fs = _row_columns(
        np.array("s"),
        E4(np.full(nE, patches), np.ones(nE)),
        E4(np.full(nE, float(meta["in_chans"] * meta["patch"] ** 2)), E_vals),
        E4(E_vals, np.full(nE, float(meta["classes"]))),
        E4(np.ones(nE), np.ones(nE)),
        0.0,
    )
    fs["valid"] = E4(np.ones(nE), np.ones(nE)) > 0
    fs["w_bits"] = np.where(fs["valid"], 8.0, 0.0)
    fs["a_bits"] = fs["w_bits"]
    E8 = lambda a, b: np.stack([a, b] + [np.zeros(nE)] * (len(dkind) - 2), 1)  # noqa: E731
    fd = _row_columns(
        np.array("e"), 0.0, 0.0, 0.0, E8(np.ones(nE), np.ones(nE)), E8(T * E_vals, T * E_vals)
    )
    st["w_bits"] = np.where(st["valid"], 8.0, 0.0)
    st["a_bits"] = st["w_bits"]
    code = np.concatenate([code, (C + 1 + e_rank)[:, None]], axis=1)

    # --- gather into (n x Ls) and (n x Ld) matrices: one np.take per column
    def build(tmpl, fixed, keys):
        out = {}
        for k in keys:
            t = np.concatenate(
                [
                    np.broadcast_to(tmpl[k], tmpl["act_b"].shape),
                    np.broadcast_to(fixed[k], fixed["act_b"].shape),
                ],
                axis=0,
            )
            out[k] = np.take(t, code, axis=0).reshape(n, -1)
        return out

    static = build(st, fs, STATIC_COLS)
    digital = build(dg, fd, DIGITAL_COLS)
    zero = np.zeros(nE)
    dyn = np.concatenate([dyn_t, zero])
    elt = np.concatenate([elt_t, fd["work"].sum(1)])
    return TableBatch.assemble(
        static, digital, np.take(dyn, code).sum(1), np.take(elt, code).sum(1), (8.0, 8.0)
    )


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
