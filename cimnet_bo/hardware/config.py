"""CiM hardware configurations (``CIM_MODEL.md``, *Inputs*, hardware table) and their validation.

A configuration is a :class:`HardwareConfig`, or a plain dict of knobs (as the hardware
spaces of :mod:`cimnet_bo.space` produce) read with :meth:`HardwareConfig.from_dict`.
Many configurations at once are a dict of knob arrays (:func:`knob_arrays`), validated
with the same rules by :func:`validate_knob_arrays`, whose errors also name the pair.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from cimnet_bo.core import key_mismatch

CELLS = ("sram", "rram")
#: bits_per_cell allowed per cell type (page: ``bits_per_cell | 1 (SRAM), 1 or 2 (RRAM)``).
MAX_BITS_PER_CELL = {"sram": 1, "rram": 2}
MAX_ADC_BITS = 32


@dataclass(frozen=True)
class KnobSpec:
    name: str
    kind: str  # "int", "real" or "cell"
    required: bool
    default: Any = None
    lo: float | None = None  # inclusive lower bound (int) or exclusive 0 (real)
    hi: float | None = None
    doc: str = ""


#: The knobs of the hardware table on the model page, in page order.
KNOBS: tuple[KnobSpec, ...] = (
    KnobSpec("rows", "int", True, lo=1, doc="CiM macro rows"),
    KnobSpec("cols", "int", True, lo=1, doc="CiM macro columns"),
    KnobSpec("n_macros", "int", True, lo=1, doc="number of macros on chip"),
    KnobSpec("rows_active", "int", False, None, lo=1, doc="rows driven at once (default: rows)"),
    KnobSpec("bits_per_cell", "int", False, 1, lo=1, doc="1 (SRAM), 1 or 2 (RRAM)"),
    KnobSpec("dac_bits", "int", False, 1, lo=1, doc="input bits per cycle (default 1: bit-serial)"),
    KnobSpec("cols_per_adc", "int", True, lo=1, doc="columns sharing one ADC"),
    KnobSpec(
        "adc_bits",
        "int",
        False,
        None,
        lo=1,
        hi=MAX_ADC_BITS,
        doc="ADC resolution (default dac_bits + bits_per_cell - 1 + ceil(0.5*log2(rows_active)))",
    ),
    KnobSpec("cell", "cell", True, doc="'sram' or 'rram'"),
    KnobSpec("glb_kb", "real", True, doc="global buffer size, KB (1 KB = 1024 bytes)"),
    KnobSpec("dram_bw_gbps", "real", True, doc="DRAM <-> global buffer bandwidth, GB/s (1e9 bytes/s)"),
    KnobSpec(
        "glb_width",
        "int",
        True,
        lo=1,
        doc="global buffer port width, bytes per clock cycle (bandwidth = glb_width * clock)",
    ),
    KnobSpec("clock_mhz", "real", True, doc="digital clock, MHz (at most the technology's f_max)"),
    KnobSpec("digital_macs", "int", True, lo=1, doc="MACs per cycle of the digital unit"),
)
KNOB_NAMES: tuple[str, ...] = tuple(k.name for k in KNOBS)
#: Knobs that change what a network computes on the chip, and so its accuracy
#: (:mod:`cimnet_bo.supernet.analog`); the others (macro count, buffers, clock, ...) change only
#: time, energy, area and power.
ACCURACY_KNOBS: tuple[str, ...] = ("rows", "rows_active", "dac_bits", "cell", "bits_per_cell", "adc_bits")
REQUIRED: tuple[str, ...] = tuple(k.name for k in KNOBS if k.required)
_SPEC = {k.name: k for k in KNOBS}


def _allowed(spec: KnobSpec) -> str:
    if spec.kind == "cell":
        return f"one of {list(CELLS)}"
    if spec.kind == "real":
        return "a finite number > 0"
    if spec.hi is not None:
        return f"an integer in [{spec.lo}, {spec.hi}]"
    return f"an integer >= {spec.lo}"


def _where(pair: int | None) -> str:
    return "" if pair is None else f" (pair {pair})"


def _bad(name: str, value: Any, allowed: str, pair: int | None = None) -> ValueError:
    return ValueError(f"hardware knob {name!r} = {value!r}{_where(pair)} is invalid: allowed {allowed}")


def _check_scalar(spec: KnobSpec, value: Any) -> Any:
    """Validate one knob value on its own; return it normalised (int, float or str)."""
    if spec.kind == "cell":
        if not isinstance(value, str) or value not in CELLS:
            raise _bad(spec.name, value, _allowed(spec))
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise _bad(spec.name, value, _allowed(spec))
    v = float(value)
    if spec.kind == "real":
        if not math.isfinite(v) or v <= 0:
            raise _bad(spec.name, value, _allowed(spec))
        return v
    if not math.isfinite(v) or v != math.floor(v) or v < spec.lo or (spec.hi is not None and v > spec.hi):
        raise _bad(spec.name, value, _allowed(spec))
    return int(v)


@dataclass(frozen=True)
class HardwareConfig:
    """One CiM chip: the knobs of the model page's hardware table.

    ``rows_active=None`` means all rows; ``adc_bits=None`` means
    ``dac_bits + bits_per_cell - 1 + ceil(0.5*log2(rows_active))`` (see :attr:`eff_adc_bits`).
    Construction validates every knob and raises ``ValueError`` naming the knob, its value
    and the allowed range. The clock's upper bound is the technology's ``f_max``, checked by
    the model (:func:`check_clock`).
    """

    rows: int
    cols: int
    n_macros: int
    cols_per_adc: int
    cell: str
    glb_kb: float
    dram_bw_gbps: float
    glb_width: int
    clock_mhz: float
    digital_macs: int
    rows_active: int | None = None
    bits_per_cell: int = 1
    dac_bits: int = 1
    adc_bits: int | None = None

    def __post_init__(self) -> None:
        for spec in KNOBS:
            value = getattr(self, spec.name)
            if value is None and not spec.required and spec.default is None:
                continue
            object.__setattr__(self, spec.name, _check_scalar(spec, value))
        if self.rows_active is not None and self.rows_active > self.rows:
            raise _bad("rows_active", self.rows_active, f"an integer in [1, rows={self.rows}]")
        if self.cols_per_adc > self.cols:
            raise _bad("cols_per_adc", self.cols_per_adc, f"an integer in [1, cols={self.cols}]")
        hi = MAX_BITS_PER_CELL[self.cell]
        if self.bits_per_cell > hi:
            raise _bad("bits_per_cell", self.bits_per_cell, f"an integer in [1, {hi}] for cell={self.cell!r}")

    # ------------------------------------------------------------------ derived
    @property
    def eff_rows_active(self) -> int:
        """rows_active, defaulting to rows (page, hardware table: ``rows_active | rows driven at
        once (default: rows)``)."""
        return self.rows if self.rows_active is None else self.rows_active

    @property
    def eff_adc_bits(self) -> int:
        """adc_bits, defaulting to ``dac_bits + bits_per_cell - 1 + ceil(0.5*log2(rows_active))``
        (page, hardware table: NeuroSim's rule)."""
        if self.adc_bits is not None:
            return self.adc_bits
        return int(default_adc_bits(self.dac_bits, self.bits_per_cell, self.eff_rows_active))

    # ---------------------------------------------------------------- conversion
    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | "HardwareConfig") -> "HardwareConfig":
        """Read a knob dict (e.g. a configuration of a hardware space).

        Unknown keys and missing required knobs raise ``ValueError`` naming them.
        """
        if isinstance(d, HardwareConfig):
            return d
        if not isinstance(d, Mapping):
            raise ValueError(f"a hardware configuration must be a dict, got {type(d).__name__}")
        check_knob_names(d, "hardware configuration")
        return cls(**dict(d))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> "HardwareConfig":
        return HardwareConfig.from_dict({**self.to_dict(), **changes})


def check_knob_names(keys: Any, what: str) -> None:
    """Raise ``ValueError`` naming missing required knobs and unknown keys among ``keys``."""
    unknown = sorted(set(keys) - set(KNOB_NAMES))
    missing = [k for k in REQUIRED if k not in keys]
    if unknown or missing:
        raise ValueError(
            f"{what}: {key_mismatch(missing, unknown, 'knob(s)', 'missing required')}; knobs are {list(KNOB_NAMES)}"
        )


def default_adc_bits(dac_bits, bits_per_cell, rows_active):
    """``adc_bits = dac_bits + bits_per_cell - 1 + ceil(0.5*log2(rows_active))`` (page, hardware
    table; NeuroSim's rule); arrays work."""
    return dac_bits + bits_per_cell - 1 + np.ceil(0.5 * np.log2(rows_active))


def check_clock(clock_mhz, f_max_mhz: float, offset: int = 0) -> None:
    """Raise ``ValueError`` naming ``clock_mhz`` when a clock exceeds ``f_max`` (page, hardware
    table: ``clock_mhz | ... must be <= f_max``); ``clock_mhz`` is a number or an array."""
    c = np.atleast_1d(np.asarray(clock_mhz, dtype=np.float64))
    over = c > f_max_mhz
    if over.any():
        i = int(np.flatnonzero(over)[0])
        where = "" if c.size == 1 and offset == 0 else f" (pair {i + offset})"
        raise ValueError(
            f"hardware knob 'clock_mhz' = {c[i]:g}{where} is invalid: allowed a number in "
            f"(0, f_max = {f_max_mhz:g}] MHz (the technology's highest clock)"
        )


# ------------------------------------------------------------------- many configurations
def knob_arrays(hws: Any, n: int | None = None, offset: int = 0) -> dict[str, np.ndarray]:
    """Knob arrays of many configurations, validated.

    ``hws`` is a sequence of dicts / :class:`HardwareConfig`, a dict of arrays (or scalars,
    broadcast to ``n``), or a pandas DataFrame. Returns float64 arrays for every numeric knob
    (``rows_active`` and ``adc_bits`` resolved to their defaults), ``rram`` (bool) and
    ``cell`` (str array).
    """
    if hasattr(hws, "columns") and hasattr(hws, "to_dict"):  # DataFrame
        hws = {c: np.asarray(hws[c]) for c in hws.columns}
    if isinstance(hws, HardwareConfig):
        hws = [hws]
    if isinstance(hws, Mapping):
        raw = _from_columns(hws, n)
    else:
        raw = _from_records(hws, offset)
    return validate_knob_arrays(raw, offset)


def _from_columns(cols: Mapping[str, Any], n: int | None) -> dict[str, np.ndarray]:
    check_knob_names(cols, "hardware knob arrays")
    arrs = {k: np.asarray(v) for k, v in cols.items()}
    lens = {k: a.shape[0] for k, a in arrs.items() if a.ndim > 0}
    if any(a.ndim > 1 for a in arrs.values()):
        raise ValueError("hardware knob arrays must be one-dimensional")
    sizes = set(lens.values())
    if n is not None:
        sizes.add(n)
    if len(sizes) > 1:
        raise ValueError(f"hardware knob arrays have different lengths: {lens}" + (f", expected {n}" if n else ""))
    size = sizes.pop() if sizes else 1
    out = {}
    for k, a in arrs.items():
        out[k] = np.broadcast_to(a, (size,)) if a.ndim == 0 else a
    return out


def _from_records(records: Iterable[Any], offset: int = 0) -> dict[str, np.ndarray]:
    recs = list(records)
    if not recs:
        raise ValueError("no hardware configurations given")
    dicts = []
    for i, r in enumerate(recs):
        if isinstance(r, HardwareConfig):
            dicts.append(r.to_dict())
        elif isinstance(r, Mapping):
            dicts.append(r)
        else:
            raise ValueError(
                f"hardware configuration {i + offset} must be a dict or HardwareConfig, got {type(r).__name__}"
            )
    first = dicts[0].keys()
    keys = set(first)
    for d in dicts:
        if d.keys() != first:
            keys |= d.keys()
    unknown = sorted(keys - set(KNOB_NAMES))
    if unknown:
        i = next(i for i, d in enumerate(dicts) if set(d) & set(unknown))
        raise ValueError(
            f"hardware configuration {i + offset}: unknown knob(s) {unknown}; knobs are {list(KNOB_NAMES)}"
        )
    out: dict[str, np.ndarray] = {}
    for k in KNOB_NAMES:
        if k not in keys:
            if _SPEC[k].required:
                raise ValueError(f"hardware configuration {offset}: missing required knob(s) [{k!r}]")
            continue
        spec = _SPEC[k]
        try:
            vals = [d[k] for d in dicts]
        except KeyError:
            i = next(i for i, d in enumerate(dicts) if k not in d)
            if spec.required:
                raise ValueError(f"hardware configuration {i + offset}: missing required knob(s) [{k!r}]") from None
            vals = [d.get(k, spec.default) for d in dicts]
        odd = spec.kind != "cell" and not set(map(type, vals)) <= {int, float, np.int64, np.float64}
        out[k] = np.array(vals, dtype=object if odd else None)
    return out


def validate_knob_arrays(raw: Mapping[str, np.ndarray], offset: int = 0) -> dict[str, np.ndarray]:
    """Validate knob arrays with the rules of :class:`HardwareConfig`; errors name the knob, the
    first bad pair, its value and the allowed range. Returns float arrays with defaults filled."""
    n = len(raw["rows"])
    out: dict[str, np.ndarray] = {}
    cell = np.asarray(raw["cell"])
    if cell.dtype.kind not in "UO":
        bad = 0
        raise _bad("cell", cell[bad], _allowed(_SPEC["cell"]), bad + offset)
    rram = cell == "rram"
    ok = rram | (cell == "sram")
    if not ok.all():
        bad = int(np.flatnonzero(~ok)[0])
        raise _bad("cell", cell[bad], _allowed(_SPEC["cell"]), bad + offset)
    out["rram"] = np.asarray(rram, dtype=bool)
    for spec in KNOBS:
        if spec.kind == "cell":
            continue
        a = raw.get(spec.name)
        if a is None:
            if spec.default is not None:
                out[spec.name] = np.full(n, float(spec.default))
            continue
        a = np.asarray(a)
        none = None
        if a.dtype == object:
            none = np.array([v is None for v in a], dtype=bool)
            if none.all() and not spec.required:
                continue
            if none.any() and spec.required:
                bad = int(np.flatnonzero(none)[0])
                raise _bad(spec.name, None, _allowed(spec), bad + offset)
            number = np.array(
                [
                    v is None
                    or (isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_)))
                    for v in a
                ],
                dtype=bool,
            )
            if not number.all():
                bad = int(np.flatnonzero(~number)[0])
                raise _bad(spec.name, a[bad], _allowed(spec), bad + offset)
            a = np.where(none, np.nan, a).astype(np.float64)
        elif a.dtype.kind not in "iuf":
            raise _bad(spec.name, a[0].item() if hasattr(a[0], "item") else a[0], _allowed(spec), offset)
        f = a.astype(np.float64)
        if none is None and a.dtype.kind in "iu":  # integers: only the bounds can fail
            good = (a > 0) if spec.kind == "real" else (a >= spec.lo)
            if spec.kind != "real" and spec.hi is not None:
                good &= a <= spec.hi
            if not good.all():
                bad = int(np.flatnonzero(~good)[0])
                raise _bad(spec.name, a[bad].item(), _allowed(spec), bad + offset)
            out[spec.name] = f
            continue
        given = ~np.isnan(f) if none is not None else np.ones(n, dtype=bool)
        with np.errstate(invalid="ignore"):
            if spec.kind == "real":
                good = np.isfinite(f) & (f > 0)
            else:
                good = np.isfinite(f) & (f == np.floor(f)) & (f >= spec.lo)
                if spec.hi is not None:
                    good &= f <= spec.hi
        good |= ~given
        if not good.all():
            bad = int(np.flatnonzero(~good)[0])
            raise _bad(spec.name, a[bad].item() if hasattr(a[bad], "item") else a[bad], _allowed(spec), bad + offset)
        out[spec.name] = f if none is None else np.where(given, f, np.nan)
    rows = out["rows"]
    ra = out.get("rows_active")
    if ra is None:
        ra = rows
    else:
        ra = np.where(np.isnan(ra), rows, ra)
        if (ra > rows).any():
            bad = int(np.flatnonzero(ra > rows)[0])
            raise _bad("rows_active", int(ra[bad]), f"an integer in [1, rows={int(rows[bad])}]", bad + offset)
    out["rows_active"] = ra
    if (out["cols_per_adc"] > out["cols"]).any():
        bad = int(np.flatnonzero(out["cols_per_adc"] > out["cols"])[0])
        raise _bad(
            "cols_per_adc",
            int(out["cols_per_adc"][bad]),
            f"an integer in [1, cols={int(out['cols'][bad])}]",
            bad + offset,
        )
    hi = np.where(rram, MAX_BITS_PER_CELL["rram"], MAX_BITS_PER_CELL["sram"])
    if (out["bits_per_cell"] > hi).any():
        bad = int(np.flatnonzero(out["bits_per_cell"] > hi)[0])
        raise _bad(
            "bits_per_cell",
            int(out["bits_per_cell"][bad]),
            f"an integer in [1, {int(hi[bad])}] for cell={str(cell[bad])!r}",
            bad + offset,
        )
    adc_default = default_adc_bits(out["dac_bits"], out["bits_per_cell"], ra)
    adc = out.get("adc_bits")
    out["adc_bits"] = adc_default if adc is None else np.where(np.isnan(adc), adc_default, adc)
    out["cell"] = cell
    return out


def as_configs(hws: Sequence[Any]) -> list[HardwareConfig]:
    return [HardwareConfig.from_dict(h) for h in hws]
