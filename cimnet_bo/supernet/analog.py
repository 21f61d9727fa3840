"""A network evaluated as a CiM chip computes it: quantised, bit-sliced static layers, column
partial sums through a finite ADC, and (RRAM) cells off their programmed conductance.

Every static layer (``linear``, ``conv1d``, ``conv2d``: the calls that the layer tables and the
roofline place on the CiM arrays) is replaced, inside :class:`AnalogCompute`, by the chip's
computation; dynamic layers (attention's matmuls) and element-wise operations stay digital, in
floating point, as on the chip's digital unit. The chip is described by :class:`AnalogSpec`, the
knobs of ``../shared/CIM_MODEL.md`` that change the numbers
(:data:`cimnet_bo.hardware.config.ACCURACY_KNOBS`) and the layer
precisions ``w_bits``, ``a_bits``.

The computation of one static layer ``y = x W^T + b`` (x: M x K, W: N x K), in ``exact`` mode:

1. **Weights** are quantised per output channel, symmetric: ``W_q = round(W / s_w)`` in
   ``[-(2^(w_bits-1) - 1), 2^(w_bits-1) - 1]``, and stored in offset binary
   ``W_u = W_q + 2^(w_bits-1)`` (unsigned, ``w_bits`` bits) in ``n_cw = ceil(w_bits /
   bits_per_cell)`` cells of ``bits_per_cell`` bits (slice ``c`` holds bits
   ``[c * bits_per_cell, (c + 1) * bits_per_cell)``).
2. **Inputs** are quantised per sample (the scale of each sample's whole input tensor, so a result
   never depends on what else is in the batch), symmetric, to ``a_bits``, in offset binary
   ``x_u = x_q + 2^(a_bits-1)``, and driven in ``n_in = ceil(a_bits / dac_bits)`` cycles of
   ``dac_bits`` bits.
3. **Partial sums**: the reduction (K) is tiled over arrays of ``rows`` rows and, within an array,
   driven ``rows_active`` rows at a time; each (input cycle ``i``, weight slice ``c``, row group
   ``g``, column ``n``) gives the analog sum ``P = sum_k x_i[k] * W_c[k, n]``, an integer in
   ``[0, full_scale]``, ``full_scale = rows_active * (2^dac_bits - 1) * (2^bits_per_cell - 1)``.
4. **ADC**: each ``P`` becomes one of ``2^adc_bits`` levels by the range rule (:data:`ADC_RANGES`,
   below). With ``adc_bits >= lossless_adc_bits = ceil(log2(full_scale + 1))`` nothing is lost.
5. **Shift and add** (digital): ``A = sum_{i,c,g} 2^(dac_bits*i + bits_per_cell*c) * ADC(P)``,
   and the offsets are removed exactly: ``x_q . W_q = A - o_a * sum_k W_u - o_w * sum_k x_u +
   K * o_a * o_w`` (the two sums are digital), then ``y = s_x * s_w * (x_q . W_q) + b``.

**RRAM cells** (``cell = "rram"``) hold ``level * (1 + sigma * z)`` instead of their level
(``z`` standard normal, one draw per cell, fixed for the chip: the weights are programmed once),
``sigma`` = :data:`RRAM_SIGMA` unless given. SRAM cells are exact.

``fast`` mode (for labelling and search) gives the same statistics at a fraction of the cost: the
quantised layer computed digitally, plus the errors of the chip. Those are, under the ``full``
rule with exact cells, Gaussian noise of the ADC's rounding variance summed over every
conversion that feeds an output, ``sum_{i,c} 4^(dac_bits*i + bits_per_cell*c) * G * (step^2 +
2) / 12`` for ``G`` row groups and ADC step ``step``; otherwise (``clip``: saturation is not
noise; varied cells: the ADC rounds small variations away) the exact errors of the conversions
whose shift is within :data:`FAST_EXACT_BITS` bits of the largest, the others taken as exact. A
lossless ADC with exact cells gives the quantised digital layer in both modes.

ADC range rules (:data:`ADC_RANGES`; ``adc_range=`` picks one):

* ``full``: the ``2^B`` levels span ``[0, full_scale]`` in steps of
  ``2^(lossless_adc_bits - B)`` (the low bits of the sum are dropped, rounding half to even; a
  sum rounding up past the top level takes the top level). Each bit fewer doubles the step.
* ``clip``: unit steps (the integer partial sums themselves) up to ``2^B - 1``, larger sums
  saturate: fine resolution for the small sums, clipping for large ones.
* ``centred`` (default): unit steps over a window of ``2^B`` levels centred on the column's
  expected partial sum, ``(2^dac_bits - 1) / 2 * sum_k W_c[k, n]`` over the row group (inputs'
  bit planes half ones, as offset-binary inputs give; the programmed cell levels are known once
  the weights are written), shifted to lie within ``[0, full_scale]``; sums outside saturate.
  The window's lower end is a per-column constant set when the weights are programmed (the
  ADC's reference) and added back digitally. This is the premise of NeuroSim's ADC rule: the
  spread of a sum of ``rows_active`` random products grows as ``sqrt(rows_active)``, so
  ``0.5 log2(rows_active)`` bits cover it, and a window of that width around its mean loses
  little where a window at zero (``clip``) saturates: offset-binary operands make about half
  of every bit plane ones, so a 64-row sum sits near 16, at the top of a 4-bit ``clip`` range.

Each bit-slice pair's error is multiplied by its shift (up to ``2^14`` for 8-bit operands), so
under ``full`` one bit below lossless already ruins a layer (the ViT supernet's largest subnet
falls from 88 % to chance), while under ``clip`` and ``centred`` accuracy falls gradually as
saturation spreads. In both, each bit fewer narrows the window around the same point, so no
conversion's error shrinks.

The default ``adc_bits`` rule of the roofline (NeuroSim's ``dac_bits + bits_per_cell - 1 +
ceil(0.5 log2 rows_active)``) is below :attr:`AnalogSpec.lossless_adc_bits` for every
``rows_active >= 4``: the roofline's default chips are lossy, and this module measures by how
much. On the shipped supernets they are at chance under every rule: the sums spread wider
than NeuroSim's premise, and a clipped conversion of the top bit planes moves an output by up
to ``2^14`` units of the quantised product (the README has the figures). Two bits below
lossless, ``centred`` loses at most half a point where ``clip`` loses 8 to 16.

The fast mode's Gaussian noise is drawn per layer call, so its draws (not their statistics)
depend on how the inputs are batched; everything else depends on each sample alone.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, fields, replace
from typing import Any, Callable, Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

from cimnet_bo.core import Registry
from cimnet_bo.hardware.config import ACCURACY_KNOBS, default_adc_bits  # noqa: F401 - ACCURACY_KNOBS re-exported

#: Relative standard deviation of an RRAM cell's conductance from its programmed level (one
#: draw per cell). An assumption in the range reported for multi-level RRAM and PCM after
#: iterative write-verify programming: about 2 to 5 % of the target conductance (Joshi et al.,
#: Nature Communications 11, 2473 (2020), PCM programming noise; Wan et al., Nature 608, 504
#: (2022), NeuRRAM conductance relaxation).
RRAM_SIGMA = 0.03
#: The fast mode's ``clip`` conversions computed exactly: those whose shift is within this many
#: bits of the largest (for 8-bit inputs and weights in 1-bit cycles and cells, 28 of the 64
#: (cycle, slice) pairs, carrying all but 2.7 % of the total shift).
FAST_EXACT_BITS = 6
#: The ADC range rule used unless one is named (:data:`ADC_RANGES`).
DEFAULT_ADC_RANGE = "centred"
#: Modes of :class:`AnalogCompute`.
MODES = ("exact", "fast")
#: Version of the analog computation (stored with hardware-aware labels and caches).
ANALOG_VERSION = 1


# ============================================================================ the chip
@dataclass(frozen=True)
class AnalogSpec:
    """The numbers-changing knobs of a chip and the layer precisions.

    Attributes
    ----------
    rows : int
        Rows of an array (the reduction is tiled over arrays of this many rows).
    rows_active : int
        Rows driven at once (a row group); at most ``rows``.
    dac_bits : int
        Input bits per cycle.
    cell : str
        ``"sram"`` (exact cells) or ``"rram"`` (cell conductance variation).
    bits_per_cell : int
    adc_bits : int
        ADC resolution of every column conversion.
    w_bits, a_bits : int
        Weight and activation precision of the static layers.
    sigma : float
        Relative conductance variation of a cell (used for ``rram`` only).
    """

    rows: int
    rows_active: int
    dac_bits: int = 1
    cell: str = "sram"
    bits_per_cell: int = 1
    adc_bits: int = 16
    w_bits: int = 8
    a_bits: int = 8
    sigma: float = RRAM_SIGMA

    def __post_init__(self) -> None:
        for name in ("rows", "rows_active", "dac_bits", "bits_per_cell", "adc_bits", "w_bits", "a_bits"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
            object.__setattr__(self, name, int(v))
        if self.rows_active > self.rows:
            raise ValueError(f"rows_active must be in [1, rows={self.rows}], got {self.rows_active}")
        if self.cell not in ("sram", "rram"):
            raise ValueError(f"cell must be 'sram' or 'rram', got {self.cell!r}")
        if self.w_bits < 2 or self.a_bits < 2:
            raise ValueError(f"w_bits and a_bits must be at least 2 (signed), got {self.w_bits}, {self.a_bits}")
        if not (isinstance(self.sigma, (int, float)) and math.isfinite(self.sigma) and self.sigma >= 0):
            raise ValueError(f"sigma must be a number >= 0, got {self.sigma!r}")

    @classmethod
    def from_config(cls, config: Mapping[str, Any], **overrides: Any) -> "AnalogSpec":
        """The spec of a hardware (or joint) configuration: ``rows_active`` defaults to ``rows``,
        ``dac_bits`` and ``bits_per_cell`` to 1, ``cell`` to sram, ``adc_bits`` to the roofline's
        rule (``CIM_MODEL.md``); ``overrides`` set any attribute."""
        if "rows" not in config:
            raise ValueError(f"a hardware configuration needs 'rows'; got keys {sorted(config)}")
        rows = config["rows"]
        ra = config.get("rows_active") or rows
        dac = config.get("dac_bits", 1)
        cell = config.get("cell", "sram")
        bpc = config.get("bits_per_cell", 1) if cell == "rram" else 1
        adc = config.get("adc_bits")
        if adc is None:
            adc = int(default_adc_bits(dac, bpc, ra))
        return replace(cls(rows, ra, dac, cell, bpc, adc), **overrides)

    @property
    def n_in(self) -> int:
        """Input cycles per activation."""
        return -(-self.a_bits // self.dac_bits)

    @property
    def n_cw(self) -> int:
        """Cells per weight."""
        return -(-self.w_bits // self.bits_per_cell)

    @property
    def full_scale(self) -> int:
        """The largest partial sum of a column conversion."""
        return self.rows_active * (2**self.dac_bits - 1) * (2**self.bits_per_cell - 1)

    @property
    def lossless_adc_bits(self) -> int:
        """The fewest ADC bits that lose nothing: ``ceil(log2(full_scale + 1))``."""
        return int(math.ceil(math.log2(self.full_scale + 1)))

    @property
    def lossless(self) -> bool:
        """Whether the ADC loses nothing."""
        return self.adc_bits >= self.lossless_adc_bits

    @property
    def noisy(self) -> bool:
        """Whether cells vary."""
        return self.cell == "rram" and self.sigma > 0

    def key(self) -> tuple:
        """The spec as a tuple (cache keys)."""
        return tuple(getattr(self, f.name) for f in fields(self))


# ============================================================================ ADC range rules
class ADCRange:
    """How an ADC of ``bits`` bits maps partial sums in ``[0, full_scale]`` to levels."""

    name = "base"

    def convert(self, P: torch.Tensor, bits: int, full_scale: int, center: torch.Tensor) -> torch.Tensor:
        """The converted values (same shape as ``P``, in partial-sum units).

        Parameters
        ----------
        P : tensor (... x m x C)
            Partial sums of ``C`` columns.
        bits, full_scale : int
        center : tensor (... x 1 x C)
            Each column's expected partial sum (see ``centred``).
        """
        raise NotImplementedError

    def error_variance(self, bits: int, full_scale: int) -> float | None:
        """Variance of one conversion's error for integer partial sums spread over many steps
        (None: no closed form; the fast mode then computes the conversions exactly)."""
        return None


ADC_RANGES: Registry[ADCRange] = Registry("ADC range rule", attribute="name")


def adc_step(bits: int, full_scale: int) -> int:
    """The ``full`` rule's step: ``2^max(0, lossless_bits - bits)``, ``lossless_bits =
    ceil(log2(full_scale + 1))`` (the ADC drops the partial sum's low bits)."""
    lossless = int(math.ceil(math.log2(full_scale + 1)))
    return 2 ** max(0, lossless - bits)


@ADC_RANGES.register("full")
class FullRange(ADCRange):
    """Levels spanning ``[0, full_scale]`` in power-of-two steps, rounding half to even (see the
    module docstring)."""

    def convert(self, P: torch.Tensor, bits: int, full_scale: int, center: torch.Tensor) -> torch.Tensor:
        step = adc_step(bits, full_scale)
        return torch.round(P / step).clamp_(0, 2**bits - 1) * step

    def error_variance(self, bits: int, full_scale: int) -> float | None:
        """``(step^2 + 2) / 12`` for integer sums equally likely in every residue of the step
        (rounding half to even), 0 for a lossless ADC."""
        step = adc_step(bits, full_scale)
        return (step * step + 2) / 12.0 if step > 1 else 0.0


@ADC_RANGES.register("clip")
class ClipRange(ADCRange):
    """Unit steps up to ``2^B - 1``; larger sums saturate (see the module docstring)."""

    def convert(self, P: torch.Tensor, bits: int, full_scale: int, center: torch.Tensor) -> torch.Tensor:
        return torch.round(P).clamp_(0, 2**bits - 1)


@ADC_RANGES.register("centred")
class CentredRange(ADCRange):
    """Unit steps over ``2^B`` levels centred on each column's expected sum (see the module
    docstring)."""

    def convert(self, P: torch.Tensor, bits: int, full_scale: int, center: torch.Tensor) -> torch.Tensor:
        low = torch.round(center - 2 ** (bits - 1)).clamp_(0, max(0, full_scale - 2**bits + 1))
        return torch.minimum(torch.maximum(torch.round(P), low), low + (2**bits - 1))


# ============================================================================ one static layer
def _quantise(v: torch.Tensor, bits: int, dims: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric quantisation of ``v`` with one scale per index of the dimensions not in
    ``dims``: (integers as float64, scales broadcastable to ``v``)."""
    q = 2 ** (bits - 1) - 1
    amax = v.detach().abs().amax(dim=dims, keepdim=True).to(torch.float64)
    scale = torch.where(amax > 0, amax / q, torch.ones_like(amax))
    return torch.round(v.to(torch.float64) / scale).clamp_(-q, q), scale


class _Layer:
    """One static layer's weights as the chip holds them: per-output-channel scales, the
    programmed unsigned weights (``wu``: groups x K x N), the cell slices by row group with
    their variation (``stacked``: groups x G x rows_active x (n_cw * N)) and without it
    (``stacked_clean``), each conversion's expected sum (``center``: groups x G x 1 x (n_cw * N)),
    and the weights the varied cells hold (``effective``: groups x K x N)."""

    def __init__(self, W: torch.Tensor, spec: AnalogSpec, generator: torch.Generator | None) -> None:
        # W: (groups x N x K)
        self.groups, self.N, self.K = W.shape
        Wq, self.scale = _quantise(W, spec.w_bits, dims=(2,))  # scale: (groups x N x 1)
        self.scale = self.scale.squeeze(-1)  # (groups x N)
        o_w = 2 ** (spec.w_bits - 1)
        Wu = (Wq + o_w).transpose(1, 2)  # (groups x K x N), unsigned
        self.sum_wu = Wu.sum(dim=1)  # (groups x N), digital
        b = spec.bits_per_cell
        clean = torch.stack([torch.floor(Wu / 2 ** (b * c)) % 2**b for c in range(spec.n_cw)])
        slices = clean
        if spec.noisy:
            z = torch.randn(clean.shape, generator=generator, dtype=torch.float64)
            slices = clean * (1.0 + spec.sigma * z)
        self.wu = Wu  # (groups x K x N): the programmed (unsigned) weights
        self.effective = sum(2 ** (b * c) * slices[c] for c in range(spec.n_cw))  # (groups x K x N)
        self.stacked = self._stacked(slices, spec)
        self.stacked_clean = self._stacked(clean, spec) if spec.noisy else self.stacked
        # each conversion column's expected sum: inputs' planes half ones, programmed levels
        self.center = (2**spec.dac_bits - 1) / 2 * self.stacked_clean.sum(dim=2, keepdim=True)
        self.n_groups = self.stacked.shape[1]
        i = torch.arange(spec.n_in, dtype=torch.float64).unsqueeze(1)
        c = torch.arange(spec.n_cw, dtype=torch.float64).unsqueeze(0)
        self.shifts = 2.0 ** (spec.dac_bits * i + b * c)  # (n_in x n_cw): shift and add

    def _stacked(self, slices: torch.Tensor, spec: AnalogSpec) -> torch.Tensor:
        """Cell slices (n_cw x groups x K x N) by row group: (groups x G x ra x n_cw*N), single
        precision (partial sums stay below 2^24)."""
        grouped = _row_groups(slices.transpose(-1, -2), spec, self.K)  # (n_cw x groups x N x G x ra)
        grouped = grouped.permute(1, 3, 4, 0, 2)  # (groups x G x ra x n_cw x N)
        return grouped.reshape(*grouped.shape[:3], -1).to(torch.float32)


@functools.lru_cache(maxsize=256)
def _group_index(K: int, rows: int, rows_active: int) -> torch.Tensor:
    """Reduction positions of each row group (G x rows_active): the reduction tiled over arrays
    of ``rows`` rows and each array's rows in groups of ``rows_active``; ``K`` (a zero column)
    fills a short group."""
    index = []
    for start in range(0, K, rows):
        end = min(start + rows, K)
        for g in range(start, end, rows_active):
            members = list(range(g, min(g + rows_active, end)))
            index.append(members + [K] * (rows_active - len(members)))
    return torch.tensor(index, dtype=torch.long)


def _row_groups(v: torch.Tensor, spec: AnalogSpec, K: int) -> torch.Tensor:
    """(... x K) -> (... x G x rows_active): the values of each row group
    (:func:`_group_index`), zeros where a group is short."""
    return F.pad(v, (0, 1))[..., _group_index(K, spec.rows, spec.rows_active)]


class AnalogCompute(TorchFunctionMode):
    """Inside this context, static layers compute as the chip does (see the module docstring).

    Parameters
    ----------
    spec : AnalogSpec
    mode : str
        ``"exact"`` or ``"fast"``.
    adc_range : str
        A name in :data:`ADC_RANGES`.
    seed : int
        Seeds the cells' variation (one draw per weight tensor, in the order the layers are
        first called) and the fast mode's ADC noise: the same seed, spec and inputs give the
        same outputs.
    chunk_elements : int
        Partial sums held at once in exact mode (memory: 4 bytes each, a few times over).

    Examples
    --------
    >>> with AnalogCompute(AnalogSpec(rows=64, rows_active=64, adc_bits=5)):  # doctest: +SKIP
    ...     logits = model(images)
    """

    def __init__(
        self,
        spec: AnalogSpec,
        mode: str = "fast",
        adc_range: str = DEFAULT_ADC_RANGE,
        seed: int = 0,
        chunk_elements: int = 2**24,
    ) -> None:
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; choose from {list(MODES)}")
        self.spec, self.mode, self.adc = spec, mode, ADC_RANGES[adc_range]()
        self.seed, self.chunk_elements = int(seed), int(chunk_elements)
        self._layers: dict[tuple, _Layer] = {}
        self._calls = 0
        self.static_calls = 0

    # ------------------------------------------------------------------ dispatch
    def __torch_function__(self, func: Callable, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        handler = _STATIC.get(func)
        if handler is None:
            return func(*args, **kwargs)
        self.static_calls += 1
        return handler(self, *args, **kwargs)

    def _generator(self, *salt: int) -> torch.Generator:
        g = torch.Generator()
        g.manual_seed(int(np.random.SeedSequence([self.seed, *salt]).generate_state(1, np.uint64)[0] >> 1))
        return g

    def _layer(self, W: torch.Tensor, groups: int) -> _Layer:
        """The chip's copy of a weight tensor (N x K_per_group, or conv weights), made once."""
        key = (W.data_ptr(), tuple(W.shape), W.stride(), W._version, groups)
        layer = self._layers.get(key)
        if layer is None:
            Wg = W.detach().reshape(groups, W.shape[0] // groups, -1).cpu()
            gen = self._generator(len(self._layers)) if self.spec.noisy else None
            layer = self._layers[key] = _Layer(Wg, self.spec, gen)
            layer.source = W  # held: the address of the key is not reused while the context lives
        return layer

    # ------------------------------------------------------------------ the matmul
    def matmul(self, xq: torch.Tensor, layer: _Layer) -> torch.Tensor:
        """``x_q . W_q`` as the chip gives it, for quantised inputs ``xq`` (groups x M x K):
        (groups x M x N), float64."""
        spec = self.spec
        o_a, o_w = 2 ** (spec.a_bits - 1), 2 ** (spec.w_bits - 1)
        xu = xq + o_a
        sum_xu = xu.sum(dim=-1, keepdim=True)  # (groups x M x 1), digital
        var = None if spec.lossless else self.adc.error_variance(spec.adc_bits, spec.full_scale)
        if spec.lossless and not spec.noisy:  # nothing lost: the digital product
            A = xu @ layer.wu
        elif self.mode == "exact":
            A = self._chunked(self._exact, xu, layer, spec.n_in * spec.n_cw)
        elif var is not None and not spec.noisy:  # a closed form: Gaussian noise of every conversion's rounding
            A = xu @ layer.wu
            sd = math.sqrt(var * layer.n_groups * float((layer.shifts**2).sum()))
            self._calls += 1
            A = A + sd * torch.randn(A.shape, generator=self._generator(10**6, self._calls), dtype=A.dtype)
        else:  # the exact errors (cells and ADC) of the conversions that matter
            A = xu @ layer.wu + self._chunked(self._top_errors, xu, layer, 2 * spec.n_in * spec.n_cw)
        return A - o_a * layer.sum_wu.unsqueeze(1) - o_w * sum_xu + layer.K * o_a * o_w

    def _chunked(self, fn: Callable, xu: torch.Tensor, layer: _Layer, pairs: int) -> torch.Tensor:
        """``fn(xu, layer)`` on chunks of rows that keep the partial sums within
        ``chunk_elements``."""
        spec = self.spec
        per_row = layer.groups * layer.n_groups * (pairs * layer.N + 3 * spec.n_in * spec.rows_active)
        step = max(1, self.chunk_elements // per_row)
        return torch.cat([fn(xu[:, i : i + step], layer) for i in range(0, xu.shape[1], step)], dim=1)

    def _top_errors(self, xu: torch.Tensor, layer: _Layer) -> torch.Tensor:
        """The errors ``sum 2^(dac_bits*i + bits_per_cell*c) * (ADC(P) - P_programmed)`` (groups x
        m x N) of the (input cycle ``i``, weight slice ``c``) conversions within
        :data:`FAST_EXACT_BITS` of the most significant one, ``P`` from the varied cells and
        ``P_programmed`` from the programmed levels; the others are taken as exact."""
        spec = self.spec
        d, b = spec.dac_bits, spec.bits_per_cell
        top = d * (spec.n_in - 1) + b * (spec.n_cw - 1) - FAST_EXACT_BITS
        xg = _row_groups(xu.to(torch.float32), spec, layer.K).permute(0, 2, 1, 3)  # (groups x G x m x ra)
        E = torch.zeros(xu.shape[0], xu.shape[1], layer.N, dtype=torch.float64)
        for i in range(spec.n_in):
            c0 = max(0, -(-(top - d * i) // b))
            if c0 >= spec.n_cw:
                continue
            plane = torch.floor(xg / 2 ** (d * i)) % 2**d
            P = plane @ layer.stacked[..., c0 * layer.N :]  # (groups x G x m x (n_cw - c0)*N)
            P_clean = P if layer.stacked_clean is layer.stacked else plane @ layer.stacked_clean[..., c0 * layer.N :]
            center = layer.center[..., c0 * layer.N :]
            err = (self.adc.convert(P, spec.adc_bits, spec.full_scale, center) - P_clean).sum(1, dtype=torch.float64)
            err = err.reshape(xu.shape[0], xu.shape[1], spec.n_cw - c0, layer.N)
            E += torch.einsum("gmcn,c->gmn", err, layer.shifts[i, c0:])
        return E

    def _exact(self, xu: torch.Tensor, layer: _Layer) -> torch.Tensor:
        """The bit-sliced, ADC-converted sum ``x_u . W_u`` (groups x m x N) of unsigned inputs
        ``xu`` (groups x m x K): every (input cycle, weight slice, row group) partial sum of a
        row in one matrix product, converted, then shifted and added."""
        spec = self.spec
        d, n_in = spec.dac_bits, spec.n_in
        groups, m, _ = xu.shape
        xg = _row_groups(xu.to(torch.float32), spec, layer.K).permute(0, 2, 1, 3)  # (groups x G x m x ra)
        planes = torch.stack([torch.floor(xg / 2 ** (d * i)) % 2**d for i in range(n_in)], dim=2)
        planes = planes.reshape(groups, layer.n_groups, n_in * m, -1)
        P = planes @ layer.stacked  # (groups x G x n_in*m x n_cw*N)
        P = self.adc.convert(P, spec.adc_bits, spec.full_scale, layer.center).sum(1)  # (groups x n_in*m x n_cw*N)
        P = P.reshape(groups, n_in, m, spec.n_cw, layer.N).to(torch.float64)
        return torch.einsum("gimcn,ic->gmn", P, layer.shifts)


# ============================================================================ static calls
def _per_sample_quantise(x: torch.Tensor, bits: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Quantise with one scale per sample (leading dimension): (integers, scales (B,))."""
    dims = tuple(range(1, x.dim())) if x.dim() > 1 else (0,)
    xq, s = _quantise(x, bits, dims)
    return xq, s.reshape(-1) if x.dim() > 1 else s.reshape(1)


def _linear(
    mode: AnalogCompute, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None
) -> torch.Tensor:
    spec = mode.spec
    device, x = x.device, x.cpu()  # the chip's computation runs on the CPU
    shape = x.shape
    x3 = x.reshape(1, -1, shape[-1]) if x.dim() == 1 else x.reshape(shape[0], -1, shape[-1])
    xq, sx = _per_sample_quantise(x3, spec.a_bits)  # (B x T x K), (B,)
    layer = mode._layer(weight, 1)
    y = mode.matmul(xq.reshape(1, -1, shape[-1]), layer)[0]  # (B*T x N)
    T = x3.shape[1]
    y = y.reshape(x3.shape[0], T, -1) * sx.reshape(-1, 1, 1) * layer.scale[0]
    if bias is not None:
        y = y + bias.detach().cpu().to(torch.float64)
    return y.to(x.dtype).reshape(*shape[:-1], -1).to(device)


def _conv(
    mode: AnalogCompute,
    dims: int,
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> torch.Tensor:
    spec = mode.spec
    device, x = x.device, x.cpu()  # the chip's computation runs on the CPU
    squeeze = x.dim() == dims + 1
    if squeeze:
        x = x.unsqueeze(0)
    if dims == 1:  # as a 2-D convolution of height 1
        x, weight = x.unsqueeze(2), weight.unsqueeze(2)
        stride, dilation = (1, _one(stride)), (1, _one(dilation))
        padding = padding if isinstance(padding, str) else (0, _one(padding))
    kh, kw = weight.shape[-2:]
    stride, dilation = _pair(stride), _pair(dilation)
    padding = _padding(padding, (kh, kw), dilation)
    B, C, H, W = x.shape
    xq, sx = _per_sample_quantise(x, spec.a_bits)
    cols = F.unfold(xq, (kh, kw), dilation=dilation, padding=padding, stride=stride)  # (B x C*kh*kw x L)
    L = cols.shape[-1]
    Kg = (C // groups) * kh * kw
    cols = cols.reshape(B, groups, Kg, L).permute(1, 0, 3, 2).reshape(groups, B * L, Kg)
    layer = mode._layer(weight, groups)
    y = mode.matmul(cols, layer)  # (groups x B*L x Ng)
    y = y * layer.scale.unsqueeze(1)
    y = y.reshape(groups, B, L, -1).permute(1, 0, 3, 2).reshape(B, -1, L) * sx.reshape(-1, 1, 1)
    Ho = (H + 2 * padding[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    y = y.reshape(B, -1, Ho, L // Ho)
    if bias is not None:
        y = y + bias.detach().cpu().to(torch.float64).reshape(1, -1, 1, 1)
    y = y.to(x.dtype)
    if dims == 1:
        y = y.squeeze(2)
    return (y[0] if squeeze else y).to(device)


def _one(v: Any) -> int:
    return int(v[0]) if isinstance(v, (tuple, list)) else int(v)


def _pair(v: Any) -> tuple[int, int]:
    return (int(v[0]), int(v[1])) if isinstance(v, (tuple, list)) else (int(v), int(v))


def _padding(padding: Any, kernel: tuple[int, int], dilation: tuple[int, int]) -> tuple[int, int]:
    """Explicit padding from an int, a pair, ``"valid"`` or ``"same"`` (odd effective kernels)."""
    if padding == "valid":
        return (0, 0)
    if padding == "same":
        span = [d * (k - 1) for k, d in zip(kernel, dilation)]
        if any(s % 2 for s in span):
            raise ValueError(f"padding='same' with an even kernel span {span} is not supported in analog mode")
        return (span[0] // 2, span[1] // 2)
    return _pair(padding)


_STATIC: dict[Callable, Callable] = {
    F.linear: _linear,
    F.conv2d: lambda mode, *a, **k: _conv(mode, 2, *a, **k),
    F.conv1d: lambda mode, *a, **k: _conv(mode, 1, *a, **k),
}


# ============================================================================ accuracy
def analog_accuracy(
    supernet: torch.nn.Module,
    config: Mapping[str, Any],
    images: torch.Tensor,
    labels: np.ndarray,
    calib: torch.Tensor | None = None,
    mode: str = "fast",
    adc_range: str = DEFAULT_ADC_RANGE,
    seed: int = 0,
    batch_size: int = 1000,
    **spec: Any,
) -> float:
    """Top-1 accuracy of the subnet of a joint configuration computed by the chip of its
    hardware knobs (:meth:`AnalogSpec.from_config`; ``spec`` overrides any attribute, e.g.
    ``adc_bits``).

    Parameters
    ----------
    supernet : torch.nn.Module
        A supernet with ``get_subnet(config)``.
    config : mapping
        Joint configuration (subnet choices and at least ``rows``).
    images : tensor (n x 1 x 28 x 28)
    labels : array (n,)
    calib : tensor, optional
        BatchNorm calibration images (CNN subnets), used in floating point.
    mode, adc_range, seed :
        See :class:`AnalogCompute`.
    """
    from cimnet_bo.supernet.evaluator import accuracy_of

    chip = AnalogSpec.from_config(config, **spec)
    return accuracy_of(
        supernet, config, images, labels, calib, batch_size, compute=lambda: AnalogCompute(chip, mode, adc_range, seed)
    )
