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

import weakref
from dataclasses import dataclass
from operator import itemgetter
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
    """Values of choice ``key`` for every configuration (None when no configuration has it)."""
    if isinstance(configs, Mapping):
        v = configs.get(key)
        if v is None:
            return None
        v = np.asarray(v)
        return v if v.shape == (n,) else np.broadcast_to(v, (n,))
    try:
        vals = list(map(itemgetter(key), configs))
    except KeyError:
        return None
    v = np.array(vals)
    return v if v.dtype.kind in "iufb" else np.array(vals, dtype=object)  # keep mixed types


def _record_table(configs: Sequence[Mapping[str, Any]], names: tuple) -> np.ndarray | None:
    """(len(names) x n) numeric array of the configurations' values (row j: choice j), read
    with one C-level getter per configuration; None when a key is missing or a value is not
    a number (the caller then reads column by column, which names the culprit)."""
    try:
        table = np.array(list(map(itemgetter(*names), configs)))
    except (KeyError, ValueError, TypeError):
        return None
    if table.ndim != 2 or table.dtype.kind not in "iuf":
        return None
    return np.ascontiguousarray(table.T)


class _Lookup:
    """Checks the values of one choice and maps each to an integer code (vectorised).

    ``codes[k]`` is the code of ``allowed[k]`` (a rank in a sorted list of values, or the
    value itself for integer choices such as ``num_layers``). Small non-negative integer
    values go through a lookup table; others through a binary search.
    """

    def __init__(
        self, name: str, allowed: Sequence[Any], codes: np.ndarray, dtype: Any = np.int64
    ) -> None:
        self.name, self.allowed = name, list(allowed)
        vals = np.asarray(allowed)
        order = np.argsort(vals, kind="stable")
        self.sorted, self.codes = vals[order], np.asarray(codes, dtype=dtype)[order]
        self.lut = None
        if vals.dtype.kind in "iu" and vals.min() > 0 and vals.max() < 1 << 16:
            # lut[value] = code, -1 where not allowed; take(mode="clip") sends values below 0
            # to lut[0] and above the largest to lut[-1], both -1 (0 itself is not allowed)
            self.lut = np.full(int(vals.max()) + 2, -1, dtype=dtype)
            self.lut[self.sorted.astype(np.int64)] = self.codes

    def __call__(self, v: np.ndarray) -> np.ndarray:
        code = None
        try:
            if self.lut is not None and v.dtype.kind == "i":
                code = np.take(self.lut, v, mode="clip")
            elif v.dtype.kind in "iuf":
                i = np.minimum(np.searchsorted(self.sorted, v), len(self.sorted) - 1)
                code = np.where(self.sorted[i] == v, self.codes[i], -1)
        except TypeError:
            code = None
        if code is None:  # values of another type (objects, strings): one by one
            code = np.array([self._one(x) for x in v], dtype=self.codes.dtype)
        if len(code) and code.min() < 0:
            i = int(np.argmax(code < 0))
            x = v[i].item() if hasattr(v[i], "item") else v[i]
            raise ValueError(
                f"configuration {i}: {self.name!r} = {x!r} is not allowed; "
                f"allowed values: {self.allowed}"
            )
        return code

    def _one(self, x: Any) -> int:
        for a, c in zip(self.sorted.tolist(), self.codes.tolist()):
            if type(x) is not bool and x == a:
                return c
        return -1


class _VitPlan:
    """What :func:`vit_batch` needs of a ViT-family space and does not depend on the
    configurations, computed once per space (cached per space object): the value lookups,
    the distinct layer shapes with their hardware-independent terms, and how per-network
    counts become ``mult`` and the per-network sums.

    Counts per network (rows of ``C``, see ``__init__``): layers per (embed, heads) value,
    layers per (embed, mlp) value, the embedding one-hot, and the eltwise rows per
    embedding. Every static and digital row takes its ``mult`` from one count
    (``mult = C[src]``); the sums are ``sum_coef @ C``.
    """

    WORD_BITS = 63  # bits of an int64 word used for counts

    def __init__(self, sub: Any) -> None:
        meta = sub.meta
        self.name = sub.name
        self.dmax = dmax = int(max(sub["num_layers"].values))
        ratio = "mlp_ratio_0" in sub.names
        self.mkey = "mlp_ratio" if ratio else "mlp"
        E_vals = (
            np.array(sorted(sub["embed_dim"].values), dtype=float)
            if "embed_dim" in sub.names
            else np.array([float(meta.get("hidden", 0))])
        )
        H_vals = np.array(
            sorted({v for i in range(dmax) for v in sub[f"heads_{i}"].values}), dtype=float
        )
        R_vals = np.array(
            sorted({v for i in range(dmax) for v in sub[f"{self.mkey}_{i}"].values}), dtype=float
        )
        self.nE, self.nH, self.nR = nE, nH, nR = len(E_vals), len(H_vals), len(R_vals)

        # value -> code: rank among E_vals / H_vals / R_vals, or the value (num_layers).
        # Layers per heads / mlp value are counted in bit fields of int64 words (see
        # _count_ranks); when all fit in one word, the lookups of heads_i and mlp_i give the
        # field increments directly: 1 << (bits * field)
        self.bits = max(1, int(np.ceil(np.log2(dmax + 1))))  # a count of layers fits in bits
        self.packed = (nH + nR) * self.bits <= self.WORD_BITS
        self.word = np.int32 if (nH + nR) * self.bits <= 31 else np.int64  # dtype of a word
        field = (lambda f: np.left_shift(1, self.bits * f)) if self.packed else (lambda f: f)
        self.lookups: list[tuple[Any, _Lookup]] = []
        for ch in sub.choices:
            vals = np.asarray(ch.values)
            if ch.name == "embed_dim":
                codes = np.searchsorted(E_vals, vals.astype(float))
            elif ch.name.startswith("heads_"):
                codes = field(np.searchsorted(H_vals, vals.astype(float)))
            elif ch.name.startswith(f"{self.mkey}_"):
                codes = field(nH * self.packed + np.searchsorted(R_vals, vals.astype(float)))
            elif ch.name == "num_layers":
                codes = vals.astype(np.int64)
            else:
                codes = np.arange(len(vals))
            slot = ch.name.startswith(("heads_", f"{self.mkey}_"))
            dtype = self.word if slot and self.packed else np.int64
            self.lookups.append((ch, _Lookup(ch.name, ch.values, codes, dtype)))
        self.names = tuple(ch.name for ch, _ in self.lookups)

        # --- the distinct shapes: per (embed, heads), per (embed, mlp) and per embed
        eh, hh = (g.ravel() for g in np.meshgrid(E_vals, H_vals, indexing="ij"))
        em, rm = (g.ravel() for g in np.meshgrid(E_vals, R_vals, indexing="ij"))
        mlp = np.round(rm * em) if ratio else rm  # int(round(mlp_ratio * hidden))
        hd = float(meta["head_dim"])
        patches = float((meta["image"] // meta["patch"]) ** 2)
        T = patches + 1.0  # class token
        one_h, one_m, one_e = np.ones(nE * nH), np.ones(nE * nR), np.ones(nE)
        z_h, z_m, z_e = np.zeros(nE * nH), np.zeros(nE * nR), np.zeros(nE)
        # static: qkv (T, E, 3*h*hd), proj (T, h*hd, E), fc1 (T, E, mlp), fc2 (T, mlp, E),
        # patch_embed (patches, in_chans*patch^2, E), head (1, E, classes)
        sM = np.concatenate([T * one_h, T * one_h, T * one_m, T * one_m, patches * one_e, one_e])
        sK = np.concatenate(
            [eh, hh * hd, em, mlp, float(meta["in_chans"] * meta["patch"] ** 2) * one_e, E_vals]
        )
        sN = np.concatenate([3 * hh * hd, eh, mlp, em, E_vals, float(meta["classes"]) * one_e])
        # digital: qk (T, hd, T) x h, av (T, T, hd) x h [dynamic]; softmax h*T*T, gelu T*mlp,
        # and T*E for norm1, add1, norm2, add2 per layer plus pos_embed and the final norm
        dM = np.concatenate([T * one_h, T * one_h, z_h, z_m, z_e])
        dK = np.concatenate([hd * one_h, T * one_h, z_h, z_m, z_e])
        dN = np.concatenate([T * one_h, hd * one_h, z_h, z_m, z_e])
        dC = np.concatenate([hh, hh, one_h, one_m, one_e])
        dO = np.concatenate([z_h, z_h, hh * T * T, T * mlp, T * E_vals])
        d_dyn = np.concatenate([one_h, one_h, z_h, z_m, z_e]) > 0

        def shared(kind_static, kind_dynamic, M, K, N, C, O) -> dict[str, np.ndarray]:
            eight = np.full(M.shape, 8.0)
            t = row_terms(kind_static, kind_dynamic, M, K, N, C, eight, eight, O, np.ones(M.shape))
            t.update(M=M, K=K, N=N, count=C, w_bits=eight, a_bits=eight)
            return {k: v[None, :] for k, v in t.items()}

        one_s = np.ones(sM.shape)
        st = shared(one_s > 0, one_s < 0, sM, sK, sN, one_s, 0 * sM)
        dg = shared(np.zeros(dM.shape, bool), d_dyn, dM, dK, dN, dC, dO)

        # counts C (rows): layers per (embed, heads) code (nE*nH), per (embed, mlp) code
        # (nE*nR), the embedding one-hot (nE), and the eltwise rows' count per embedding,
        # 4 per layer (norm1, add1, norm2, add2) + 2 (pos_embed, final norm) (nE). Every
        # static or digital row takes its mult from one count: mult = C[src]
        nC = nE * nH + nE * nR + 2 * nE
        self.nC = nC
        self.e0, self.l0 = nE * nH + nE * nR, nE * nH + nE * nR + nE
        ih, im = np.arange(nE * nH), nE * nH + np.arange(nE * nR)
        ie, il = self.e0 + np.arange(nE), self.l0 + np.arange(nE)
        self.src_s = np.concatenate([ih, ih, im, im, ie, ie])  # qkv, proj, fc1, fc2, pe, head
        self.src_d = np.concatenate([ih, ih, ih, im, il])  # qk, av, softmax, gelu, eltwise
        # digital rows equal in every term and count (QK^T and AV: the same MACs and bytes)
        # are kept once, with their count doubled (the model's terms are per layer)
        key = np.stack([self.src_d, dg["work"][0], dg["traffic0"][0], d_dyn])
        _, keep, times = np.unique(key, axis=1, return_index=True, return_counts=True)
        order = np.argsort(keep)
        keep, times = keep[order], times[order].astype(np.float64)
        dg = {k: v[:, keep] for k, v in dg.items()}
        d_dyn, self.src_d = d_dyn[keep], self.src_d[keep]
        self.d_twice = np.flatnonzero(times > 1)  # digital rows whose mult is scaled
        self.d_times = times[self.d_twice][:, None]
        self.sel_s, self.sel_d = np.eye(nC)[self.src_s], np.eye(nC)[self.src_d] * times[:, None]
        self.static = {k: st[k] for k in STATIC_COLS}
        self.digital = {k: dg[k] for k in DIGITAL_COLS}
        for v in (*self.static.values(), *self.digital.values()):
            v.flags.writeable = False  # shared by every batch of this space
        # per-network sums: sums[k] = coef[k] @ C (exact: every term is an integer)
        s_rows = {
            "traffic_tot": st["traffic0"][0],
            "W_tot": st["W"][0],
            "MNc_tot": st["MNc"][0],
            "MKNc_tot": st["MKNc"][0],
            "KNc_tot": st["KNc"][0],
        }
        d_rows = {
            "traffic_tot": dg["traffic0"][0],
            "dyn_macs": np.where(d_dyn, dg["work"][0], 0.0),
            "elt_ops": np.where(d_dyn, 0.0, dg["work"][0]),
        }
        self.sum_keys = [k for k in SUM_COLS if k != "fold_max"]
        self.sum_coef = np.stack(
            [
                s_rows.get(k, np.zeros(len(sM))) @ self.sel_s
                + d_rows.get(k, np.zeros(len(self.src_d))) @ self.sel_d
                for k in self.sum_keys
            ]
        )
        # largest buffer need among the rows each count switches on (fold: static; traffic0:
        # digital, whose reuse is 1)
        need = np.concatenate([st["fold"][0], dg["traffic0"][0]])
        on = np.concatenate([self.sel_s, self.sel_d]) > 0
        self.fold_code = np.where(on, need[:, None], 0.0).max(0)


_VIT_PLANS: "weakref.WeakKeyDictionary[Any, _VitPlan]" = weakref.WeakKeyDictionary()


def _vit_plan(sub: Any) -> _VitPlan:
    plan = _VIT_PLANS.get(sub)
    if plan is None:
        plan = _VIT_PLANS[sub] = _VitPlan(sub)
    return plan


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
    (16 static and 12 digital for ViT-B), not the number of layers. The shapes, their terms
    and the count-to-``mult`` matrices are built once per space (:class:`_VitPlan`); per
    configuration the work is a table lookup per choice and a count per layer slot.
    ``mult`` is stored as the transpose of a (layers x networks) array, the layout
    :func:`simulate_many` works in.
    """
    from cimnet_bo.space import JointSpace

    sub = space.subnet if isinstance(space, JointSpace) else space
    if sub.family != "vit":
        raise ValueError(f"vit_batch needs a ViT-family space, got family {sub.family!r}")
    n = len(next(iter(configs.values()))) if isinstance(configs, Mapping) else len(configs)
    if n == 0:
        raise ValueError("no configurations given")
    plan = _vit_plan(sub)

    codes: dict[str, np.ndarray] = {}
    table = None if isinstance(configs, Mapping) else _record_table(configs, plan.names)
    for j, (ch, lookup) in enumerate(plan.lookups):
        v = table[j] if table is not None else _column(configs, ch.name, n)
        if v is None:
            if ch.condition is None:
                raise ValueError(
                    f"configuration does not match space {sub.name!r}: missing key {ch.name!r}"
                )
            continue
        codes[ch.name] = lookup(v)

    nE, nH, nR, dmax = plan.nE, plan.nH, plan.nR, plan.dmax
    nl = codes["num_layers"]
    heads = [codes.get(f"heads_{i}") for i in range(dmax)]
    mlps = [codes.get(f"{plan.mkey}_{i}") for i in range(dmax)]
    active = np.arange(dmax)[:, None] < nl[None, :]  # (slots x n): layer slot i is used
    for i in range(dmax):  # a missing key is an error only where its layer is active
        if (heads[i] is None or mlps[i] is None) and active[i].any():
            miss = f"heads_{i}" if heads[i] is None else f"{plan.mkey}_{i}"
            raise ValueError(
                f"configuration does not match space {sub.name!r}: missing key {miss!r}"
            )
    if plan.packed:  # one word per network: fields 0..nH-1 heads, nH.. mlp
        zero = np.zeros(n, dtype=plan.word)
        inc = np.stack([zero if h is None else h for h in heads])  # field increments
        inc += np.stack([zero if r is None else r for r in mlps])
        inc *= active
        word = inc.sum(0, dtype=plan.word)
        cnt = _unpack(word, nH + nR, plan.bits)
        cnt_h, cnt_m = cnt[:nH], cnt[nH:]  # active layers per heads value, per mlp value
    else:
        cnt_h = _count_ranks(heads, active, nH, plan.bits)
        cnt_m = _count_ranks(mlps, active, nR, plan.bits)

    C = np.empty((plan.nC, n))
    e0, l0 = plan.e0, plan.l0
    if nE == 1:
        C[:nH], C[nH:e0], C[e0], C[l0] = cnt_h, cnt_m, 1.0, 4.0 * nl + 2.0
    else:  # counts go to the rows of the network's embedding
        on_e = (codes["embed_dim"][None, :] == np.arange(nE)[:, None]).astype(np.float64)
        C[: nE * nH] = (on_e[:, None, :] * cnt_h[None]).reshape(nE * nH, n)
        C[nE * nH : e0] = (on_e[:, None, :] * cnt_m[None]).reshape(nE * nR, n)
        C[e0:l0], C[l0:] = on_e, (4.0 * nl + 2.0) * on_e

    static = dict(plan.static)
    static["mult"] = C[plan.src_s].T  # (n x Ls), the transpose of a (Ls x n) array
    digital = dict(plan.digital)
    mult_d = C[plan.src_d]
    mult_d[plan.d_twice] *= plan.d_times  # rows kept once for several equal ones
    digital["mult"] = mult_d.T
    sums = dict(zip(plan.sum_keys, plan.sum_coef @ C))
    sums["fold_max"] = ((C > 0) * plan.fold_code[:, None]).max(0)
    return TableBatch(static, digital, sums, (8.0, 8.0))


def _count_ranks(ranks: list, active: list, k: int, bits: int) -> np.ndarray:
    """(k x n) counts: per network, how many active slots hold rank 0..k-1 (``ranks[i]``
    the ranks in slot i, None for a slot that no network uses; ``active[i]`` its mask).

    Counts are packed, ``bits`` bits each, into int64 words: a slot adds ``1 << (bits * r)``
    to its network's word, and the counts are read back with shifts (no per-network loop).
    """
    n = len(active[0])
    per = max(1, _VitPlan.WORD_BITS // bits)  # counts per word
    out = np.empty((k, n))
    for w0 in range(0, k, per):
        w1 = min(k, w0 + per)
        table = np.zeros(k, dtype=np.int64)
        table[w0:w1] = np.left_shift(1, bits * np.arange(w1 - w0, dtype=np.int64))
        word = np.zeros(n, dtype=np.int64)
        for r, on in zip(ranks, active):
            if r is not None:
                word += table[r] * on
        out[w0:w1] = _unpack(word, w1 - w0, bits)
    return out


def _unpack(word: np.ndarray, k: int, bits: int) -> np.ndarray:
    """(k x n) float counts from the ``bits``-wide fields of int64 words (n,)."""
    out = np.empty((k, len(word)))
    for c in range(k):
        out[c] = (word >> (bits * c)) & ((1 << bits) - 1)
    return out


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
    if isinstance(configs, Mapping):  # choice name -> values: one dict per configuration
        n = len(next(iter(configs.values())))
        cols = {k: np.broadcast_to(np.asarray(v), (n,)).tolist() for k, v in configs.items()}
        configs = [dict(zip(cols, vals)) for vals in zip(*cols.values())]
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

    def run_starts(self, probe: int = 4096, min_run: int = 64) -> np.ndarray | None:
        """Where runs of one repeated configuration start (a search evaluates one subnet on
        many chips), or None when the first ``probe`` configurations do not come in runs of
        ``min_run`` or more on average. Consecutive configurations are equal when all their
        values are (arrays), or when they are the same object (a list of dicts)."""
        n = len(self)

        def starts(lo: int, hi: int) -> np.ndarray:
            if isinstance(self.configs, Mapping):
                change = np.zeros(max(hi - lo - 1, 0), dtype=bool)
                for v in self.configs.values():
                    v = np.asarray(v)
                    if v.ndim:
                        change |= v[lo + 1 : hi] != v[lo : hi - 1]
            else:
                ids = np.fromiter(map(id, self.configs[lo:hi]), dtype=np.int64, count=hi - lo)
                change = ids[1:] != ids[:-1]
            return lo + 1 + np.flatnonzero(change)

        k = min(n, probe)
        if n < 2 or (len(starts(0, k)) + 1) * min_run > k:
            return None
        return np.concatenate(([0], starts(0, n)))

    def batch(self, lo: int, hi: int) -> tuple[TableBatch, np.ndarray]:
        """``(batch, index)`` of configurations lo..hi-1 (see :func:`batch_from_configs`)."""
        part = (
            self.configs[lo:hi]
            if not isinstance(self.configs, Mapping)
            else {k: np.asarray(v)[lo:hi] for k, v in self.configs.items()}
        )
        return batch_from_configs(self.space, part, self.cache)
