"""Feature matrices for predictors.

Three feature sets, all functions of the configuration only (never of the roofline's output):

``"xgb"`` (:class:`FeatureBuilder` default)
    the space encoding of the subnet half (rank / (values - 1), inactive choices masked),
    workload features of the subnet's layer table (log2 of MACs, parameters, weight bytes,
    input vectors through weight layers (tokens x layers or output pixels), digital MACs and
    element operations, activation bytes; number of weight layers) and, for hardware-dependent
    objectives, the hardware knobs: numbers in log2 scale, categorical knobs one-hot.
    With ``cross=True`` (default) the cross features of :data:`CROSS_FEATURES` are added:
    log-ratios of workload sizes to hardware sizes and rates (weight bits per array bit,
    activation bytes per buffer byte, weight bytes per DRAM bandwidth, digital operations per
    digital rate, bit-serial input steps, activation bytes per buffer bandwidth) and tiling
    counts from the layer shapes and the array geometry (arrays the weights need, arrays per
    macro, array activations per inference, weight reload passes, array rows rewritten, and
    their ratios to the clock and the bit-serial steps). They use no timing,
    energy or area constant of the roofline model and none of its outputs.
``"onehot"``
    one-hot of every choice (inactive choices all-zero), as DyNAS-T's and OFA's predictors use.
``"encoding"``
    the joint space encoding (n x d) in [0, 1], as the GP surrogates use.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

KINDS = ("xgb", "onehot", "encoding")
WORKLOAD_FEATURES = ("log2_macs", "log2_params", "log2_weight_bytes", "log2_vectors", "log2_digital_ops",
                     "log2_act_bytes", "n_weight_layers")
CROSS_FEATURES = ("log2_weight_bits_per_array_bit", "log2_act_bytes_per_glb_byte", "log2_weight_bytes_per_dram_bw",
                  "log2_digital_ops_per_rate", "log2_serial_input_steps", "log2_act_bytes_per_glb_bw",
                  "log2_arrays_needed", "log2_arrays_per_macro", "log2_array_activations", "log2_reload_passes",
                  "log2_rows_rewritten", "log2_rows_rewritten_per_clock", "log2_serial_conversions")


def workload_features(table: Any) -> np.ndarray:
    """Workload features of one layer table, array (7,) in :data:`WORKLOAD_FEATURES` order."""
    from cimnet_bo.workload import LayerTable, macs, params, weight_bytes

    t = LayerTable.coerce(table)
    static = t.kind == "static"
    dynamic = t.kind == "dynamic"
    elt = t.kind == "eltwise"
    vectors = float(np.sum((t.M * t.count)[static]))
    digital = float(np.sum((t.M * t.K * t.N * t.count)[dynamic]) + np.sum((t.ops * t.count)[elt]))
    act = float(np.sum(((t.M * t.K + t.M * t.N) * t.count * t.a_bits / 8)[static | dynamic]))
    return np.array([
        np.log2(1.0 + macs(t)), np.log2(1.0 + params(t)), np.log2(1.0 + weight_bytes(t)),
        np.log2(1.0 + vectors), np.log2(1.0 + digital), np.log2(1.0 + act), float(static.sum()),
    ])


class FeatureBuilder:
    """Turns configurations into a feature matrix (n x f).

    Parameters
    ----------
    space : JointSpace or Space
    kind : {"xgb", "onehot", "encoding"}
    hardware : bool
        Include hardware features (False for accuracy, which depends on the subnet only).
    cross : bool
        ``"xgb"`` only: add the two workload / hardware-size ratios (see module docstring).

    Notes
    -----
    Workload features are computed once per distinct subnet and cached.
    """

    def __init__(self, space: Any, kind: str = "xgb", hardware: bool = True, cross: bool = True) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown feature kind {kind!r}; choose from {list(KINDS)}")
        self.space = space
        self.kind = kind
        self.joint = hasattr(space, "hardware")
        self.hardware = bool(hardware and self.joint)
        self.cross = bool(cross and self.hardware and kind == "xgb")
        self.subnet = space.subnet if self.joint else space
        self._work: dict[tuple, np.ndarray] = {}

    # ---------------------------------------------------------------- names
    @property
    def names(self) -> list[str]:
        """Feature names, length f."""
        if self.kind == "encoding":
            sp = self.space if self.hardware else self.subnet
            return [f"enc:{n}" for n in sp.names]
        if self.kind == "onehot":
            sp = self.space if self.hardware else self.subnet
            return [f"{c.name}={v}" for c in sp.choices for v in c.values]
        out = [f"enc:{n}" for n in self.subnet.names] + list(WORKLOAD_FEATURES)
        if self.hardware:
            for c in self.space.hardware.choices:
                if _numeric(c.values):
                    out.append(f"log2:{c.name}")
                else:
                    out += [f"{c.name}={v}" for v in c.values]
        if self.cross:
            out += list(CROSS_FEATURES)
        return out

    # ------------------------------------------------------------ transform
    def transform(self, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Features of ``n`` configurations, float array (n x f)."""
        configs = list(configs)
        if self.kind == "encoding":
            sp = self.space if self.hardware else self.subnet
            return sp.encode([{n: c[n] for n in sp.names} for c in configs])
        if self.kind == "onehot":
            return self._onehot(configs)
        sub_cfgs = [{n: c[n] for n in self.subnet.names} for c in configs]
        idx = self.subnet.to_indices(sub_cfgs)
        parts = [self.subnet.encode_indices(idx), self._workload(idx)]
        if self.hardware:
            parts.append(self._hardware(configs))
        X = np.hstack(parts)
        if self.cross:
            X = np.hstack([X, self._cross(X, configs, idx)])
        return X

    def _workload(self, idx: np.ndarray) -> np.ndarray:
        from cimnet_bo.workload import layer_table

        out = np.empty((len(idx), len(WORKLOAD_FEATURES)))
        for i, row in enumerate(idx):
            k = tuple(row)
            w = self._work.get(k)
            if w is None:
                cfg = self.subnet.from_indices(row[None, :])[0]
                w = workload_features(layer_table(self.subnet, cfg))
                self._work[k] = w
            out[i] = w
        return out

    def _hardware(self, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        hw = self.space.hardware
        idx = hw.to_indices([{n: c[n] for n in hw.names} for c in configs])
        cols = []
        for j, c in enumerate(hw.choices):
            if _numeric(c.values):
                vals = np.asarray(c.values, dtype=np.float64)
                cols.append(np.log2(np.maximum(vals, 1e-12))[idx[:, j]][:, None])
            else:
                cols.append(np.eye(len(c.values))[idx[:, j]])
        return np.hstack(cols)

    def _cross(self, X: np.ndarray, configs: Sequence[Mapping[str, Any]], idx: np.ndarray) -> np.ndarray:
        names = self.names[: X.shape[1]]
        col = {n: X[:, i] for i, n in enumerate(names)}
        n = len(X)

        def lg(knob: str, default: float) -> np.ndarray:
            return col.get(f"log2:{knob}", np.full(n, np.log2(default)))

        def knob(name: str, default: float) -> np.ndarray:
            return np.array([float(c.get(name, default)) for c in configs])

        wbits = np.log2(8.0) + col["log2_weight_bytes"]
        array_bits = lg("rows", 128) + lg("cols", 128) + lg("n_macros", 64) + lg("bits_per_cell", 1)
        arrays, act_steps, passes = self._tiling(idx, knob("rows", 128), knob("cols", 128),
                                                 knob("bits_per_cell", 1), knob("n_macros", 64))
        per_macro = np.log2(arrays) - lg("n_macros", 64)
        rewritten = np.log2(1.0 + passes * knob("rows", 128))
        return np.column_stack([
            wbits - array_bits,
            col["log2_act_bytes"] - (lg("glb_kb", 128) + 10.0),
            col["log2_weight_bytes"] - lg("dram_bw_gbps", 4),
            col["log2_digital_ops"] - lg("digital_macs", 64) - lg("clock_mhz", 400),
            col["log2_vectors"] - lg("dac_bits", 1) + lg("cols_per_adc", 8),
            col["log2_act_bytes"] - lg("glb_bw_gbps", 32),
            np.log2(arrays), per_macro, np.log2(act_steps), np.log2(1.0 + passes),
            rewritten, rewritten - lg("clock_mhz", 400),
            np.log2(act_steps) - lg("dac_bits", 1) + lg("cols_per_adc", 8),
        ])

    def _static_layers(self, row: np.ndarray) -> tuple[np.ndarray, ...]:
        """(M, K, N x w_bits, count) of the static layers of one subnet (cached)."""
        from cimnet_bo.workload import layer_table

        k = ("static",) + tuple(row)
        hit = self._work.get(k)
        if hit is None:
            t = layer_table(self.subnet, self.subnet.from_indices(row[None, :])[0])
            s = t.kind == "static"
            hit = (t.M[s], t.K[s], t.N[s], t.w_bits[s], t.count[s])
            self._work[k] = hit
        return hit

    def _tiling(self, idx: np.ndarray, rows: np.ndarray, cols: np.ndarray, bpc: np.ndarray,
                n_macros: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per pair, arrays (n,): arrays the static weights need (K/rows x N*bits/cols tiles,
        rounded up), array activations per inference (input vectors over the replicas that fit,
        or times the reload passes when the weights do not fit), and weight reload passes
        (0 when the weights fit)."""
        n = len(idx)
        arrays, steps, passes = np.empty(n), np.empty(n), np.zeros(n)
        groups: dict[tuple, list[int]] = {}
        for i, r in enumerate(idx):
            groups.setdefault(tuple(r), []).append(i)
        for key, members in groups.items():
            M, K, N, wb, cnt = self._static_layers(np.array(key))
            g = np.array(members)
            cw = np.ceil(wb[None, :] / bpc[g, None])
            A = np.ceil(K[None, :] / rows[g, None]) * np.ceil(N[None, :] * cw / cols[g, None]) * cnt[None, :]
            tot = A.sum(1)
            fits = tot <= n_macros[g]
            D = np.maximum(1.0, np.floor(n_macros[g] / tot))
            p = np.ceil(A / n_macros[g, None])
            arrays[g] = tot
            steps[g] = np.where(fits, np.ceil(M[None, :] / D[:, None]).sum(1), (p * M[None, :]).sum(1))
            passes[g] = np.where(fits, 0.0, p.sum(1))
        return np.maximum(arrays, 1.0), np.maximum(steps, 1.0), passes

    def _onehot(self, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        sp = self.space if self.hardware else self.subnet
        idx = sp.to_indices([{n: c[n] for n in sp.names} for c in configs])
        act = sp.active_mask(idx)
        cols = []
        for j, c in enumerate(sp.choices):
            block = np.eye(len(c.values))[idx[:, j]]
            block[~act[:, j]] = 0.0
            cols.append(block)
        return np.hstack(cols)

    def to_dict(self) -> dict[str, Any]:
        """The feature options (saved with predictors)."""
        return {"kind": self.kind, "hardware": self.hardware, "cross": self.cross}


def _numeric(values: Sequence[Any]) -> bool:
    return all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) and v > 0 for v in values)
