"""Feature matrices for predictors.

Three feature sets, all functions of the configuration only (never of the roofline's output):

``"xgb"`` (:class:`FeatureBuilder` default)
    the space encoding of the subnet half (rank / (values - 1), inactive choices masked),
    workload features of the subnet's layer table (log2 of MACs, parameters, weight bytes,
    input vectors through weight layers (tokens x layers or output pixels), digital MACs and
    element operations, activation bytes; number of weight layers) and, for hardware-dependent
    objectives, the hardware knobs: numbers in log2 scale, categorical knobs one-hot.
    With ``cross=True`` (default) the cross features of :data:`CROSS_FEATURES` are added:

    * log-ratios of workload sizes to hardware sizes and rates (weight bits per array bit,
      activation bytes per buffer byte, weight bytes per DRAM bandwidth, digital operations per
      digital rate, bit-serial input steps, activation bytes per buffer bandwidth
      ``glb_width * clock``);
    * tiling counts from the layer shapes and the array geometry, as the CiM model v2 maps
      them (``CIM_MODEL.md``): arrays the weights need (count-weighted, so a depthwise
      convolution takes one array per channel), arrays per macro, the stream fraction ``s``
      (fluid residency), replication, array activations per inference, weight reload passes,
      array rows rewritten (and per clock), serial conversions;
    * per-pair sums of simplified v2 time terms, using the model's ADC-precision rule and
      conversion-time line (``t_s``, ``t_mvm``) and its residency rules: static-layer
      compute time, digital compute time, buffer traffic over its bandwidth, spilled traffic
      over the DRAM bandwidth (capacity checked on folded inputs ``in_b / reuse + out_b``),
      weight-streaming time, and their *compute-time estimate* (static + digital compute +
      weight streaming). The estimate leaves out the per-layer roofline maximum with the
      bandwidth terms (and partial sums), so on its own it ranks latency much worse than the
      model (Kendall tau about 0.85 on the shipped tables); the trees learn the rest.

    * resource counts (cells, ADCs, DACs, peak ADC conversion rate), activity counts (cell
      operations, DAC drives, cells rewritten by streaming, buffer and DRAM bytes) and cells
      times the compute-time estimate (leakage energy grows with area x latency).

    No feature is an output of the roofline, and none uses its energy or area constants.
``"onehot"``
    one-hot of every choice (inactive choices all-zero), as DyNAS-T's and OFA's predictors use.
``"encoding"``
    the joint space encoding (n x d) in [0, 1], as the GP surrogates use.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from cimnet_bo.space import AnySpace, is_joint

KINDS = ("xgb", "onehot", "encoding")
WORKLOAD_FEATURES = (
    "log2_macs",
    "log2_params",
    "log2_weight_bytes",
    "log2_vectors",
    "log2_digital_ops",
    "log2_act_bytes",
    "n_weight_layers",
)
CROSS_FEATURES = (
    "log2_weight_bits_per_array_bit",
    "log2_act_bytes_per_glb_byte",
    "log2_weight_bytes_per_dram_bw",
    "log2_digital_ops_per_rate",
    "log2_serial_input_steps",
    "log2_act_bytes_per_glb_bw",
    "log2_arrays_needed",
    "log2_arrays_per_macro",
    "log2_array_activations",
    "log2_reload_passes",
    "log2_rows_rewritten",
    "log2_rows_rewritten_per_clock",
    "log2_serial_conversions",
    "stream_fraction",
    "log2_replication",
    "adc_bits_est",
    "log2_t_mvm_ns",
    "log2_folded_bytes_per_glb_byte",
    "spill_share",
    "log2_static_time_ns",
    "log2_digital_time_ns",
    "log2_buffer_time_ns",
    "log2_spill_time_ns",
    "log2_weight_stream_time_ns",
    "log2_compute_time_est_ns",
    "log2_adc_conversions",
    "log2_cells",
    "log2_adcs",
    "log2_adc_rate",
    "log2_dacs",
    "log2_cell_ops",
    "log2_dac_drives",
    "log2_cells_written",
    "log2_glb_bytes",
    "log2_dram_bytes",
    "log2_cell_ns",
)
#: Knob values assumed when a configuration lacks a knob (0: the model's default rule).
HW_DEFAULTS = {
    "rows": 128,
    "cols": 128,
    "n_macros": 64,
    "rows_active": 0,
    "adc_bits": 0,
    "dac_bits": 1,
    "bits_per_cell": 1,
    "cols_per_adc": 8,
    "glb_kb": 128,
    "glb_width": 32,
    "dram_bw_gbps": 4,
    "clock_mhz": 400,
    "digital_macs": 64,
    "cell": "sram",
}
#: Pairs per block when computing the roofline terms (bounds memory to blocks x layers).
_CHUNK = 4096
_STATIC_COLS = ("M", "K", "N", "count", "w_bits", "a_bits", "reuse")


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
    return np.array(
        [
            np.log2(1.0 + macs(t)),
            np.log2(1.0 + params(t)),
            np.log2(1.0 + weight_bytes(t)),
            np.log2(1.0 + vectors),
            np.log2(1.0 + digital),
            np.log2(1.0 + act),
            float(static.sum()),
        ]
    )


class FeatureBuilder:
    """Turns configurations into a feature matrix (n x f).

    Parameters
    ----------
    space : JointSpace or Space
    kind : {"xgb", "onehot", "encoding"}
    hardware : bool
        Include hardware features (False for accuracy, which depends on the subnet only).
    cross : bool
        ``"xgb"`` only: add the cross features :data:`CROSS_FEATURES` (see the module docstring).

    Notes
    -----
    Workload features are computed once per distinct subnet and cached.
    """

    def __init__(self, space: AnySpace, kind: str = "xgb", hardware: bool = True, cross: bool = True) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown feature kind {kind!r}; choose from {list(KINDS)}")
        self.space = space
        self.kind = kind
        self.joint = is_joint(space)
        self.hardware = bool(hardware and self.joint)
        self.cross = bool(cross and self.hardware and kind == "xgb")
        self.subnet = space.subnet if self.joint else space
        self._work: dict[tuple, Any] = {}
        self._tech_: Any = None

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

        hw = {k: np.array([float(c.get(k, d)) for c in configs]) for k, d in HW_DEFAULTS.items() if k not in ("cell",)}
        hw["rram"] = np.array([c.get("cell", "sram") == "rram" for c in configs])
        hw["bits_per_cell"] = np.where(hw["rram"], hw["bits_per_cell"], 1.0)
        t = self._roofline_terms(idx, hw)
        wbits = np.log2(8.0) + col["log2_weight_bytes"]
        array_bits = lg("rows", 128) + lg("cols", 128) + lg("n_macros", 64) + np.log2(hw["bits_per_cell"])
        rewritten = np.log2(1.0 + t["passes"] * hw["rows"])
        glb_bw = lg("glb_width", 32) + lg("clock_mhz", 400)  # bytes per us: glb_width * clock
        return np.column_stack(
            [
                wbits - array_bits,
                col["log2_act_bytes"] - (lg("glb_kb", 128) + 10.0),
                col["log2_weight_bytes"] - lg("dram_bw_gbps", 4),
                col["log2_digital_ops"] - lg("digital_macs", 64) - lg("clock_mhz", 400),
                col["log2_vectors"] - lg("dac_bits", 1) + lg("cols_per_adc", 8),
                col["log2_act_bytes"] - glb_bw,
                np.log2(t["arrays"]),
                np.log2(t["arrays"]) - lg("n_macros", 64),
                np.log2(t["steps"]),
                np.log2(1.0 + t["passes"]),
                rewritten,
                rewritten - lg("clock_mhz", 400),
                np.log2(t["steps"]) - lg("dac_bits", 1) + lg("cols_per_adc", 8),
                # model v2: fluid residency, ADC precision and conversion time, folded buffer check
                t["stream"],
                np.log2(t["replication"]),
                t["adc_bits"],
                np.log2(t["t_mvm"] * 1e9),
                np.log2(t["fold_max"]) - (lg("glb_kb", 128) + 10.0),
                t["spill_share"],
                _lg_time(t["t_static"]),
                _lg_time(t["t_digital"]),
                _lg_time(t["t_buffer"]),
                _lg_time(t["t_spill"]),
                _lg_time(t["t_weights"]),
                _lg_time(t["t_est"]),
                np.log2(t["conversions"]),
                # resource counts and activity (area, peak power, energy), no constants
                lg("n_macros", 64) + lg("rows", 128) + lg("cols", 128),
                t["log2_adcs"],
                t["log2_adcs"] - np.log2(t["t_s"]),
                lg("n_macros", 64) + lg("rows", 128),
                np.log2(t["cell_ops"]),
                np.log2(t["dac_drives"]),
                np.log2(1.0 + t["cells_written"]),
                np.log2(t["glb_bytes"]),
                np.log2(1.0 + t["dram_bytes"]),
                lg("n_macros", 64) + lg("rows", 128) + lg("cols", 128) + _lg_time(t["t_est"]),  # leakage ~ area x time
            ]
        )

    def _layers(self, row: np.ndarray) -> dict[str, np.ndarray]:
        """Static and digital layer columns of one subnet (cached): static ``M, K, N, count,
        w_bits, a_bits, reuse``; digital ``work`` (MACs or element operations) and ``traffic``
        (input and output bytes)."""
        from cimnet_bo.workload import layer_table

        k = ("layers",) + tuple(row)
        hit = self._work.get(k)
        if hit is None:
            t = layer_table(self.subnet, self.subnet.from_indices(row[None, :])[0])
            from cimnet_bo.hardware.model import layer_bytes

            s, d = t.kind == "static", t.kind == "dynamic"
            hit = {c: getattr(t, c)[s].astype(np.float64) for c in _STATIC_COLS}
            work = np.where(d, t.M * t.K * t.N * t.count, t.ops * t.count)[~s]
            in_b, out_b = layer_bytes(s, d, t.M, t.K, t.N, t.count, t.a_bits, t.ops)
            traffic = (in_b + out_b)[~s]
            hit["work"], hit["traffic"] = work.astype(np.float64), traffic.astype(np.float64)
            self._work[k] = hit
        return hit

    def _padded(self, idx: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Layer columns of the distinct subnets of ``idx`` padded to (U x L) (``mask`` marks
        real layers; static columns prefixed ``s_``, digital ``d_``) and each pair's row."""
        keys: dict[tuple, int] = {}
        which = np.fromiter((keys.setdefault(tuple(r), len(keys)) for r in idx), dtype=np.int64, count=len(idx))
        tabs = [self._layers(np.array(k)) for k in keys]
        out: dict[str, np.ndarray] = {}
        for prefix, cols in (("s_", _STATIC_COLS), ("d_", ("work", "traffic"))):
            L = max(1, max(len(t[cols[0]]) for t in tabs))
            mask = np.zeros((len(tabs), L), dtype=bool)
            for i, t in enumerate(tabs):
                mask[i, : len(t[cols[0]])] = True
            out[prefix + "mask"] = mask
            for c in cols:  # padding: 0 sizes, 1 for the divisors and multipliers
                m = np.zeros((len(tabs), L)) if c in ("M", "K", "N", "work", "traffic") else np.ones((len(tabs), L))
                m[mask] = np.concatenate([t[c] for t in tabs])
                out[prefix + c] = m
        return out, which

    def _roofline_terms(self, idx: np.ndarray, hw: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Per pair, arrays (n,) of simplified roofline-v2 terms (``CIM_MODEL.md``) from the
        layer shapes and the knobs: arrays needed ``A_tot`` (K/rows x N*n_cw/cols tiles times
        count: a depthwise convolution takes one array per channel), stream fraction ``s``,
        replication, reload passes, array activations (``steps``), ADC bits (default rule),
        ``t_mvm``, the time sums of static compute, digital compute, buffer traffic, DRAM
        spills (folded inputs checked against the buffer) and weight streaming, ``t_est``
        (static + digital compute + weight streaming: no bandwidth maximum per layer), the
        largest folded buffer footprint of a layer, the spilled share of the traffic and ADC
        conversions per inference. Vectorised over (pairs x layers), in blocks of pairs."""
        pad, which = self._padded(idx)
        tech = self._tech()
        out: dict[str, list] = {}
        n = len(idx)
        for lo in range(0, n, _CHUNK):
            sl = slice(lo, min(n, lo + _CHUNK))
            part = self._terms_chunk({k: v[which[sl]] for k, v in pad.items()}, {k: v[sl] for k, v in hw.items()}, tech)
            for k, v in part.items():
                out.setdefault(k, []).append(v)
        return {k: np.concatenate(v) for k, v in out.items()}

    def _tech(self) -> Any:
        """The space's technology constants (only the array timing ones are used)."""
        if self._tech_ is None:
            from cimnet_bo.hardware import space_technology

            self._tech_ = space_technology(self.space)
        return self._tech_

    @staticmethod
    def _terms_chunk(p: Mapping[str, np.ndarray], hw: Mapping[str, np.ndarray], tech: Any) -> dict[str, np.ndarray]:
        """The terms of :meth:`_roofline_terms` for one block: ``p`` holds (pairs x layers)
        layer columns, ``hw`` (pairs,) knob arrays. Formulas follow ``CIM_MODEL.md``, *Per
        static layer*, *Dynamic and eltwise layers* and *Every layer*."""
        from cimnet_bo.hardware.config import default_adc_bits
        from cimnet_bo.hardware.model import layer_bytes, mvm_unit_s, t_row_write_s, t_s_seconds
        from cimnet_bo.workload.table import layer_weight_bytes

        c = lambda v: v[:, None]  # noqa: E731 - per-pair knob against (pairs x layers)
        rows, cols, nm = hw["rows"], hw["cols"], hw["n_macros"]
        ra = np.where(hw["rows_active"] > 0, hw["rows_active"], rows)
        dac, bpc = hw["dac_bits"], hw["bits_per_cell"]
        B = np.where(hw["adc_bits"] > 0, hw["adc_bits"], default_adc_bits(dac, bpc, ra))
        t_s = t_s_seconds(B, ra, dac, tech)
        unit = mvm_unit_s(rows, ra, hw["cols_per_adc"], t_s)  # t_mvm = n_in * unit
        clock = hw["clock_mhz"] * 1e6
        bw_glb, bw_dram, glb = hw["glb_width"] * clock, hw["dram_bw_gbps"] * 1e9, hw["glb_kb"] * 1024.0
        sm = p["s_mask"]
        M, K, N, cnt, wb, ab, reuse = (p["s_" + k] for k in ("M", "K", "N", "count", "w_bits", "a_bits", "reuse"))
        n_cw = np.ceil(wb / c(bpc))
        n_in = np.ceil(ab / c(dac))
        T_K = np.ceil(K / c(rows))
        A = np.where(sm, T_K * np.ceil(N * n_cw / c(cols)) * cnt, 0.0)
        A_tot = np.maximum(A.sum(1), 1.0)
        s = np.clip((A_tot - nm) / A_tot, 0.0, 1.0)
        resident = s == 0.0
        D = np.where(resident, np.maximum(1.0, np.floor(nm / A_tot)), 1.0)
        passes = np.where(sm, np.ceil(A / c(nm)), 0.0)
        steps = np.where(c(resident), np.ceil(M / c(D)), passes * M) * sm
        t_mvm = np.ceil(8.0 / dac) * unit
        t_comp = steps * n_in * c(unit)
        W = layer_weight_bytes(sm, K, N, cnt, wb)
        t_rw = t_row_write_s(hw["rram"], hw["clock_mhz"], tech)
        t_w = c(s) * np.maximum(np.maximum(W / c(bw_dram), W / c(bw_glb)), passes * c(rows * t_rw)) * sm
        in_b, out_b = layer_bytes(True, False, M, K, N, cnt, ab, 0.0)
        traffic = np.where(sm, in_b + out_b, 0.0)
        spill = np.where(sm & (in_b / reuse + out_b > c(glb)), traffic, 0.0)
        dm, work, dtraf = p["d_mask"], p["d_work"], p["d_traffic"]
        t_dcomp = np.where(dm, work / c(hw["digital_macs"] * clock), 0.0)
        dspill = np.where(dm & (dtraf > c(glb)), dtraf, 0.0)
        all_traffic = traffic.sum(1) + dtraf.sum(1)
        all_spill = spill.sum(1) + dspill.sum(1)
        fold = np.maximum(np.where(sm, in_b / reuse + out_b, 0.0).max(1), np.where(dm, dtraf, 0.0).max(1))
        conversions = (np.where(sm, M * n_in * T_K * N * n_cw * cnt, 0.0).sum(1)) * np.ceil(rows / ra)
        T_N = np.ceil(N * n_cw / c(cols))
        KNc = np.where(sm, K * N * cnt, 0.0)
        W_tot = W.sum(1)
        return {
            "arrays": A_tot,
            "stream": s,
            "replication": D,
            "passes": np.where(resident, 0.0, passes.sum(1)),
            "steps": np.maximum(steps.sum(1), 1.0),
            "adc_bits": B,
            "t_mvm": t_mvm,
            "t_static": t_comp.sum(1),
            "t_digital": t_dcomp.sum(1),
            "t_buffer": all_traffic / bw_glb,
            "t_spill": all_spill / bw_dram,
            "t_weights": t_w.sum(1),
            "t_est": t_comp.sum(1) + t_dcomp.sum(1) + t_w.sum(1),
            "fold_max": np.maximum(fold, 1.0),
            "spill_share": all_spill / np.maximum(all_traffic, 1.0),
            "conversions": np.maximum(conversions, 1.0),
            "t_s": t_s,
            "log2_adcs": np.log2(nm * cols / hw["cols_per_adc"]),
            "cell_ops": np.maximum((M * KNc * n_in * n_cw).sum(1), 1.0),
            "dac_drives": np.maximum(np.where(sm, M * n_in * K * T_N * cnt, 0.0).sum(1), 1.0),
            "cells_written": s * (KNc * n_cw).sum(1),
            "glb_bytes": np.maximum(all_traffic + s * W_tot, 1.0),
            "dram_bytes": all_spill + s * W_tot,
        }

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


def _lg_time(t: np.ndarray) -> np.ndarray:
    """log2 of a time in ns (0 ns maps to log2 of 1e-3 ns)."""
    return np.log2(t * 1e9 + 1e-3)


def _numeric(values: Sequence[Any]) -> bool:
    return all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) and v > 0 for v in values)
