"""The CiM roofline model v2 for many (network, chip) pairs at once: :func:`simulate_many`.

Networks are padded to a common number of static and digital layers (rows weighted by
``mult``, 0 for padding; :mod:`~cimnet_bo.hardware.inputs`), pairs are processed in chunks so
memory stays bounded, and each chunk goes through one vectorised evaluation of the model
(:func:`~cimnet_bo.hardware.kernel.chunk_totals`, no Python loop per pair or per layer).
Results agree with :func:`cimnet_bo.hardware.simulate` to rounding (tested at 1e-9 relative).

Speed (``benchmarks/bench_roofline.py``): the layer-shape terms of a batch are computed once
per network (or once per space for the ViT family, whose networks share their distinct
shapes); hardware knobs are validated in blocks of
:data:`~cimnet_bo.hardware.inputs.KNOB_BLOCK` pairs; a chunk whose pairs all run one network
(``table_index`` runs, as in a search) broadcasts that network over its pairs.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from cimnet_bo.hardware.config import check_clock
from cimnet_bo.hardware.inputs import Chips, Networks
from cimnet_bo.hardware.kernel import chunk_totals
from cimnet_bo.hardware.technology import Technology

OUTPUTS = ("latency_s", "energy_j", "area_mm2", "power_w", "feasible", "resident", "program_time_s")
BOOL_OUTPUTS = ("feasible", "resident")
#: The roofline's outputs as a search or a dataset sees them: the minimised quantities, then
#: ``feasible`` (1 when the chip can run the network: an RRAM chip must not stream weights;
#: maximised, used as a constraint); then auxiliary outputs, stored with each evaluation.
ROOFLINE_OBJECTIVES = ("latency_s", "energy_j", "area_mm2", "power_w", "feasible")
ROOFLINE_EXTRAS = ("avg_power_w", "resident", "program_time_s")
#: Target number of (pair x static layer) elements per chunk: a few MB per array.
CHUNK_ELEMENTS = 1 << 17


def auto_chunk_size(static_width: int) -> int:
    """Pairs per chunk so that a (static layers x pairs) array holds about
    :data:`CHUNK_ELEMENTS` numbers (1 MiB)."""
    return int(np.clip(CHUNK_ELEMENTS // max(static_width, 1), 64, 1 << 16))


def simulate_many(
    layer_tables: Any,
    hws: Any,
    tech: Technology | None = None,
    chunk_size: int | None = None,
    table_index: Sequence[int] | np.ndarray | None = None,
    as_frame: bool = True,
):
    """Latency, energy, area and peak power of many (network, chip) pairs, vectorised over
    pairs and layers.

    Parameters
    ----------
    layer_tables :
        One network for all pairs (a LayerTable, dict of arrays, DataFrame or list of row
        dicts), a sequence of P networks (pair i runs ``layer_tables[i]``; the same object
        repeated is padded once), or a :class:`TableBatch` (one row per pair, one row for
        all pairs, or rows picked by ``table_index``), or :class:`SubnetConfigs` (subnet
        configurations of a space, built into padded batches chunk by chunk).
    hws :
        One configuration for all pairs (dict or :class:`HardwareConfig`), a sequence of P
        configurations, a dict of knob arrays / DataFrame with P rows, or their
        :class:`~cimnet_bo.hardware.inputs.Chips` (validated and converted once, for calls
        that reuse the same chips).
    tech : Technology, optional
    chunk_size : int, optional
        Pairs per chunk; default :func:`auto_chunk_size` (about 1 MiB per work array), so peak
        memory does not grow with P beyond the P-length inputs and outputs.
    table_index : array of int, optional
        With a TableBatch: pair i runs batch row ``table_index[i]``.
    as_frame : bool
        Return a pandas DataFrame (default) or a dict of numpy arrays.

    Returns
    -------
    DataFrame or dict with P rows: ``latency_s, energy_j, area_mm2, power_w`` (peak),
    ``feasible`` (False when an RRAM chip would stream), ``resident, program_time_s``.

    Raises
    ------
    ValueError
        An invalid configuration (naming the knob, the pair, the value and the allowed range),
        a malformed layer table (naming the pair), or inputs of different lengths.
    """
    tech = tech or Technology()
    hw = hws if isinstance(hws, Chips) else Chips(hws)
    tabs = Networks(layer_tables, table_index)
    if hw.n is not None and tabs.n is not None and hw.n != tabs.n and 1 not in (hw.n, tabs.n):
        raise ValueError(
            f"{tabs.n} layer tables but {hw.n} hardware configurations; give one of either side, or the same number"
        )
    P = max(hw.n or 1, tabs.n or 1)
    if hw.n == 1 and P > 1:
        hw.broadcast()
    if tabs.n == 1 and P > 1 and tabs.batch is None:
        raise ValueError("a single network given lazily cannot be broadcast; pass its layer table")
    if chunk_size is None:
        if tabs.lazy is not None:
            chunk_size = 8192
        else:
            width = (
                tabs.batch.static["M"].shape[1]
                if tabs.batch is not None
                else max(int(np.sum(t.kind == "static")) for t in tabs.tables[:64])
            )
            chunk_size = auto_chunk_size(width)
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    out = {k: np.empty(P, dtype=bool if k in BOOL_OUTPUTS else np.float64) for k in OUTPUTS}
    for lo, hi in tabs.bounds(P, chunk_size):  # loop over chunks only
        knobs = hw.chunk(lo, hi)
        check_clock(knobs["clock_mhz"], tech.f_max_mhz, lo)
        res = chunk_totals(tabs.chunk(lo, hi), knobs, tech)
        for k in OUTPUTS:
            out[k][lo:hi] = res[k]
    if as_frame:
        import pandas as pd

        return pd.DataFrame(out, copy=False)  # the arrays are new: no copy needed
    return out
