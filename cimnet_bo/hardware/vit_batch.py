"""ViT-family networks as a :class:`~cimnet_bo.hardware.batch.TableBatch`, straight from
subnet configurations: :func:`vit_batch`, fully vectorised (no layer table objects at all).

A ViT's layers take few distinct shapes, so the batch holds each shape once, shared by every
network, and each network's count of each shape. What depends on the space alone (value
lookups, the distinct shapes and their terms, how counts become ``mult`` and sums) is
computed once per space (:class:`_VitPlan`); per configuration the work is a table lookup
per choice and a count per layer slot. Results equal building each table with
:func:`cimnet_bo.workload.layer_table` (tested).
"""

from __future__ import annotations

import weakref
from operator import itemgetter
from typing import Any, Mapping, Sequence

import numpy as np

from cimnet_bo.core import plain
from cimnet_bo.hardware.batch import DIGITAL_COLS, STATIC_COLS, SUM_COLS, TableBatch, n_configs, row_terms
from cimnet_bo.space import AnySpace, subnet_side


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

    def __init__(self, name: str, allowed: Sequence[Any], codes: np.ndarray, dtype: Any = np.int64) -> None:
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
            raise ValueError(
                f"configuration {i}: {self.name!r} = {plain(v[i])!r} is not allowed; allowed values: {self.allowed}"
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
        H_vals = np.array(sorted({v for i in range(dmax) for v in sub[f"heads_{i}"].values}), dtype=float)
        R_vals = np.array(sorted({v for i in range(dmax) for v in sub[f"{self.mkey}_{i}"].values}), dtype=float)
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
        sK = np.concatenate([eh, hh * hd, em, mlp, float(meta["in_chans"] * meta["patch"] ** 2) * one_e, E_vals])
        sN = np.concatenate([3 * hh * hd, eh, mlp, em, E_vals, float(meta["classes"]) * one_e])
        # digital: qk (T, hd, T) x h, av (T, T, hd) x h [dynamic]; softmax h*T*T, gelu T*mlp,
        # and T*E for norm1, add1, norm2, add2 per layer plus pos_embed and the final norm
        dM = np.concatenate([T * one_h, T * one_h, z_h, z_m, z_e])
        dK = np.concatenate([hd * one_h, T * one_h, z_h, z_m, z_e])
        dN = np.concatenate([T * one_h, hd * one_h, z_h, z_m, z_e])
        dC = np.concatenate([hh, hh, one_h, one_m, one_e])
        dO = np.concatenate([z_h, z_h, hh * T * T, T * mlp, T * E_vals])
        d_dyn = np.concatenate([one_h, one_h, z_h, z_m, z_e]) > 0

        def shared(kind_static, kind_dynamic, M, K, N, C, O) -> dict[str, np.ndarray]:  # noqa: E741
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
                s_rows.get(k, np.zeros(len(sM))) @ self.sel_s + d_rows.get(k, np.zeros(len(self.src_d))) @ self.sel_d
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


def vit_batch(space: AnySpace, configs: Any) -> TableBatch:
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
    sub = subnet_side(space)
    if sub.family != "vit":
        raise ValueError(f"vit_batch needs a ViT-family space, got family {sub.family!r}")
    n = n_configs(configs)
    if n == 0:
        raise ValueError("no configurations given")
    plan = _vit_plan(sub)

    codes: dict[str, np.ndarray] = {}
    table = None if isinstance(configs, Mapping) else _record_table(configs, plan.names)
    for j, (ch, lookup) in enumerate(plan.lookups):
        v = table[j] if table is not None else _column(configs, ch.name, n)
        if v is None:
            if ch.condition is None:
                raise ValueError(f"configuration does not match space {sub.name!r}: missing key {ch.name!r}")
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
            raise ValueError(f"configuration does not match space {sub.name!r}: missing key {miss!r}")
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
