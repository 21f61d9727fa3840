"""Technology constants of the CiM roofline model v2 (``CIM_MODEL.md``, *Constants*).

Every constant the model uses lives in :class:`Technology`, in the unit the model page
states it in; the code converts units where it uses them (``model.py`` cites the lines).
A user overrides any field in Python (``Technology().replace(VDD=0.9)``) or from YAML
(``Technology.from_yaml("tech.yaml")``); unknown field names are an error.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from cimnet_bo.core import InputFileError, read_yaml
from cimnet_bo.space import AnySpace, hardware_side

#: Version of the model page implemented here (``CIM_MODEL.md``). Run stores, labeled tables
#: and predictors record it and refuse to mix versions.
MODEL_VERSION = "2"

#: Unit conversions used by the model (not overridable: they are not technology).
FF_V2_TO_PJ = 1e-3  # 1 fF * 1 V^2 = 1e-15 J = 1e-3 pJ
FJ_TO_PJ = 1e-3
UM2_TO_MM2 = 1e-6
NS = 1e-9
PJ_TO_J = 1e-12
GB = 1e9  # bandwidths are GB/s = 1e9 bytes/s
KB = 1024  # glb_kb * 1024 bytes
MHZ = 1e6
LOG2_10 = math.log2(10.0)


@dataclass(frozen=True)
class Technology:
    """Constants of the model page (22 nm class defaults), in the page's units.

    Cell-dependent constants have one field per cell type (``*_sram``, ``*_rram``); use
    :meth:`by_cell` to read them by cell name.
    """

    # --- supply, clock and array timing ------------------------------------------------
    VDD: float = 0.8
    """Supply voltage, V. Page: Constants, ``VDD | 0.8 V``."""
    t_read: float = 1.0
    """Array read time inside ``t_s``, ns. Page: Constants, ``t_read | 1.0 ns``."""
    sense_per_row: float = 0.00653
    """ADC delay per bit per active row, ns. Page: Per static layer, ``t_s`` line (0.00653)."""
    sense_per_bit: float = 0.640
    """ADC delay per bit, ns. Page: Per static layer, ``t_s`` line (0.640)."""
    d_dac: float = 0.5
    """Extra conversion time per extra DAC bit, fraction of ``t_s``. Page: Constants,
    ``d_dac | 0.5 per extra DAC bit``; ``t_s = (...) * (1 + d_dac * (dac_bits - 1))``."""
    t_row_write_rram: float = 150.0
    """RRAM row write time, ns. Page: ``t_row_write = ... 150 ns (RRAM: 50 ns pulse x 3
    write-verify)``."""
    t_row_write_sram_cycles: float = 1.0
    """SRAM row write time in clock periods. Page: ``t_row_write = one clock period (SRAM)``."""
    f_nom_mhz: float = 1000.0
    """Nominal clock at VDD, MHz. Page: Constants, ``f_nom, f_max, gamma | 1000 MHz ...``."""
    f_max_mhz: float = 1420.0
    """Highest clock (at 1.1 V), MHz; a faster clock is invalid. Page: Constants, ``f_max``."""
    gamma: float = 1.5
    """Voltage-frequency exponent of digital energy. Page: Energy, ``vf(f) = max(1, f/f_nom)
    ** gamma``."""

    # --- energy -----------------------------------------------------------------------
    e_cellop_sram: float = 0.5
    """Cell energy per cell per input cycle, fJ. Page: Constants, ``e_cellop | 0.5 fJ (sram)``."""
    e_cellop_rram: float = 0.2
    """Cell energy per cell per input cycle, fJ. Page: Constants, ``e_cellop | ... 0.2 fJ
    (rram)``."""
    e_cell_write_sram: float = 0.002
    """Write energy per cell, pJ. Page: Constants, ``e_cell_write | 0.002 pJ (sram)``."""
    e_cell_write_rram: float = 100.0
    """Write energy per cell, pJ. Page: Constants, ``e_cell_write | ... 100 pJ (rram)``."""
    adc_e_per_bit: float = 100.0
    """ADC energy, fF per bit (times VDD^2). Page: Energy, ``e_adc = (100*B + 0.001 * 4**B) fF
    * VDD^2 * ...``."""
    adc_e_exp: float = 0.001
    """ADC energy, fF times 4^B (times VDD^2). Page: Energy, ``e_adc`` line (0.001)."""
    r_knee_msps: float = 174.0
    """ADC sample rate above which energy per conversion grows, MS/s. Page: Constants,
    ``r_knee | 174 MS/s``."""
    adc_rate_exp: float = 1.49
    """Exponent of ADC energy above the knee. Page: Energy, ``max(1, (1/t_s)/r_knee) ** 1.49``."""
    e_dac: float = 50.0
    """DAC energy per driven row per input cycle and DAC bit, fF (times VDD^2). Page: Energy,
    ``e_dac = 50 fF * dac_bits * VDD^2``."""
    e_add: float = 0.03
    """Energy of one 24-bit partial-sum addition, pJ. Page: Constants, ``e_add | 0.03 pJ``."""
    psum_bytes: float = 6.0
    """Buffer bytes per partial sum that crosses the buffer (24 bits written and read back).
    Page: Per static layer, ``psum = M * N * count * (min(T_K, passes) - 1) * 6``."""
    e_glb_ref: float = 0.1
    """Global-buffer energy at the reference size, pJ/bit. Page: Energy, ``e_glb(glb_kb) = 0.1
    * sqrt(min(glb_kb, 256) / 64)``."""
    glb_ref_kb: float = 64.0
    """Reference buffer size of e_glb, KB. Page: Energy, ``e_glb`` line (64)."""
    glb_bank_kb: float = 256.0
    """Bank size of a large buffer (one bank is read per access), KB. Page: Energy, ``e_glb``
    line (``min(glb_kb, 256)``)."""
    e_dram: float = 8.0
    """DRAM energy, pJ/bit (LPDDR4; HBM2 is 3.9, set by the hardware space). Page: Constants,
    ``e_dram | 8 pJ/bit (edge, LPDDR4); 3.9 pJ/bit (server, HBM2)``."""
    e_mac_digital: float = 0.1
    """Digital MAC energy at f <= f_nom, pJ. Page: Constants, ``e_mac_digital, e_elt | 0.1 pJ,
    ...``."""
    e_elt: float = 0.05
    """Element operation energy at f <= f_nom, pJ. Page: Constants, ``e_mac_digital, e_elt |
    ..., 0.05 pJ``."""
    p_leak: float = 5e-4
    """Leakage power density, W/mm^2. Page: Constants, ``p_leak | 5e-4 W/mm^2``."""

    # --- area -------------------------------------------------------------------------
    a_cell_sram: float = 0.38
    """Cell area, um^2. Page: Constants, ``a_cell | 0.38 um^2 (sram 8T)``."""
    a_cell_rram: float = 0.10
    """Cell area, um^2. Page: Constants, ``a_cell | ... 0.10 um^2 (rram 1T1R)``."""
    a_adc_coef: float = 0.62
    """ADC area fit, um^2. Page: Area, ``a_adc(B) = 0.62 * 10 ** (-0.0369 * B + 1.206) * 2 **
    B um^2`` (ZigZag-IMC)."""
    a_adc_slope: float = 0.0369
    """ADC area fit, decades per bit (subtracted). Page: Area, ``a_adc`` line (-0.0369)."""
    a_adc_offset: float = 1.206
    """ADC area fit, decades. Page: Area, ``a_adc`` line (1.206)."""
    a_dac1: float = 1.7e-7
    """Area of a 1-bit DAC, mm^2. Page: Constants, ``a_dac1 | 1.7e-7 mm^2 per 1-bit DAC``."""
    dac_area_growth: float = 3.0
    """DAC area factor per extra bit. Page: Constants, ``a_dac1 | ..., x3 per extra bit``."""
    a_line: float = 2e-6
    """Area per row or column line, mm^2. Page: Constants, ``a_line | 2e-6 mm^2``."""
    a_fix: float = 2e-4
    """Fixed area per macro (router, control), mm^2. Page: Constants, ``a_fix | 2e-4 mm^2``."""
    a_glb_per_kb: float = 1.2e-3
    """Global buffer area per KB, mm^2. Page: Constants, ``a_glb_per_kb | 1.2e-3 mm^2``."""
    a_port: float = 1.2e-3
    """Buffer port area per byte/cycle of width, mm^2. Page: Constants, ``a_port | 1.2e-3
    mm^2``."""
    a_mac: float = 3e-4
    """Digital MAC area, mm^2. Page: Constants, ``a_mac | 3e-4 mm^2``."""
    a_dram_per_gbps: float = 0.05
    """DRAM PHY and controller area per GB/s, mm^2. Page: Constants, ``a_dram_per_gbps | 0.05
    mm^2``."""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                try:
                    v = float(v)
                except (TypeError, ValueError):
                    raise ValueError(f"technology constant {f.name!r} must be a number, got {v!r}") from None
                object.__setattr__(self, f.name, v)
            if not math.isfinite(v) or v < 0:
                raise ValueError(f"technology constant {f.name!r} must be finite and >= 0, got {v!r}")

    # ------------------------------------------------------------------ helpers
    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def _check_names(cls, names) -> None:
        unknown = sorted(set(names) - set(cls.field_names()))
        if unknown:
            raise ValueError(f"unknown technology constant(s) {unknown}; known: {list(cls.field_names())}")

    def replace(self, **overrides: Any) -> "Technology":
        """A copy with some constants changed; unknown names raise ``ValueError``."""
        self._check_names(overrides)
        return dataclasses.replace(self, **overrides)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Technology":
        if not isinstance(d, Mapping):
            raise ValueError(f"technology overrides must be a mapping, got {type(d).__name__}")
        cls._check_names(d)
        return cls(**d)

    @classmethod
    def from_yaml(cls, path: str | Path) -> "Technology":
        """Defaults overridden by a YAML mapping ``{field: value}`` (empty file: defaults).

        Raises
        ------
        InputFileError
            The file cannot be read as a YAML mapping, or a constant is unknown or invalid
            (naming the file and the constant).
        """
        data = read_yaml(path, "technology file")
        try:
            return cls.from_dict(data)
        except ValueError as e:
            raise InputFileError(f"technology file {path}: {e}") from None

    def to_dict(self) -> dict[str, float]:
        return dataclasses.asdict(self)

    def by_cell(self, name: str, cell: str) -> float:
        """A cell-dependent constant (``e_cellop``, ``e_cell_write``, ``a_cell``) for ``cell``."""
        return getattr(self, f"{name}_{cell}")

    # --------------------------------------------------------- derived (pJ, mm^2)
    def vf(self, clock_mhz):
        """``vf(f) = max(1, f / f_nom) ** gamma`` (Energy); works on arrays."""
        return np.power(np.maximum(1.0, np.divide(clock_mhz, self.f_nom_mhz)), self.gamma)

    def e_adc_pj(self, adc_bits, t_s):
        """``e_adc = (100*B + 0.001 * 4**B) fF * VDD^2 * max(1, (1/t_s) / r_knee) ** 1.49``
        (Energy), in pJ; ``t_s`` in seconds; works on arrays."""
        rate = np.maximum(1.0, 1.0 / (np.asarray(t_s) * self.r_knee_msps * 1e6))
        return (
            (self.adc_e_per_bit * adc_bits + self.adc_e_exp * np.exp2(2.0 * np.asarray(adc_bits, dtype=np.float64)))
            * self.VDD**2
            * FF_V2_TO_PJ
            * np.power(rate, self.adc_rate_exp)
        )

    def e_dac_pj(self, dac_bits):
        """``e_dac = 50 fF * dac_bits * VDD^2`` (Energy), in pJ; works on arrays."""
        return self.e_dac * np.asarray(dac_bits, dtype=np.float64) * self.VDD**2 * FF_V2_TO_PJ

    def e_glb_pj_per_bit(self, glb_kb):
        """``e_glb(glb_kb) = 0.1 * sqrt(min(glb_kb, 256) / 64)`` pJ/bit (Energy); arrays work."""
        return self.e_glb_ref * np.sqrt(np.minimum(glb_kb, self.glb_bank_kb) / self.glb_ref_kb)

    def a_adc_mm2(self, adc_bits):
        """``a_adc(B) = 0.62 * 10 ** (-0.0369 * B + 1.206) * 2 ** B`` um^2 (Area), in mm^2."""
        return (
            self.a_adc_coef
            # 10 ** (-slope * B + offset) * 2 ** B as one power of two
            * np.exp2(
                np.asarray(adc_bits, dtype=np.float64) * (1.0 - self.a_adc_slope * LOG2_10)
                + self.a_adc_offset * LOG2_10
            )
            * UM2_TO_MM2
        )


def space_technology(space: AnySpace, tech: "Technology | None" = None) -> "Technology":
    """The technology of a hardware (or joint) space: ``tech`` when given, else the defaults
    with the constants the space sets (``meta["tech"]``, e.g. ``e_dram`` per DRAM type)."""
    if tech is not None:
        return tech
    hw = hardware_side(space) or space
    overrides = (getattr(hw, "meta", None) or {}).get("tech") or {}
    return Technology.from_dict(overrides)
