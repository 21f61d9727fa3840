"""Lower bounds of the roofline latency of (network, chip) pairs: :func:`latency_lower_bounds`.

The exact best chip of a network (:func:`cimnet_bo.hardware.optimise.best_chip_indices`)
needs the latency of only the chips that could beat the fastest one found: a chip whose lower
bound exceeds a latency already reached cannot be the fastest. The bound of a (network, chip)
pair costs a few array operations, where the model costs a few per layer of the pair, and it
is tight enough that few chips of a search space's grid have a bound below the network's best
latency (about 3 % of ``vit-fmnist``'s and ``cnn-fmnist``'s maximal chips under a budget,
``tests/test_optimise.py``).

Every term below is a lower bound of a term of ``CIM_MODEL.md`` (pages *Per static layer*,
*Residency*, *Dynamic and eltwise layers*, *Every layer*):

* ``t_layer = t_w + max(t_comp, traffic / bw_glb, spill / bw_dram)`` and a sum of maxima is at
  least the maximum of the sums, so ``latency >= max(sum t_comp, sum traffic / bw_glb) +
  sum t_w`` over static layers, plus ``max(sum work / rate, sum traffic / bw_glb)`` over digital
  ones;
* ``t_comp >= M * t_mvm / D`` with ``D = max(floor(n_macros / A_tot), 1)``: resident layers
  take ``ceil(M / D) * t_mvm``, streaming ones (``A_tot > n_macros``, where ``D`` is 1)
  ``passes * M * t_mvm`` with ``passes >= 1``;
* ``traffic >= in_b + out_b`` (partial sums add to it), ``spill >= 0``;
* ``t_w = s * max(W / bw_dram, W / bw_glb, ...) >= s * W * max(1 / bw_dram, 1 / bw_glb)``.

``A_tot`` (a sum of integer tile counts, exact in floating point) depends on the network and
on four knobs only (``rows, cols, bits_per_cell`` and, through ``n_in``, ``dac_bits``), so the
per-layer work runs once per distinct value of those knobs, not per chip.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from cimnet_bo.hardware.batch import TableBatch
from cimnet_bo.hardware.model import mvm_unit_s, t_s_seconds
from cimnet_bo.hardware.technology import GB, MHZ, Technology

#: The knobs the per-layer terms of the bound depend on (the array's operating point).
ARRAY_KNOBS = ("rows", "cols", "bits_per_cell", "dac_bits")


def _layer_sums(m: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``sum over layers of m * x``: ``m`` (S x L), ``x`` (S or 1, L, U) -> (S x U)."""
    if x.shape[0] == 1:
        return m @ x[0]
    return np.einsum("sl,slu->su", m, x)


def _distinct(columns: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of columns (k arrays (H,)): ``(values (k x U), inverse (H,))``, as
    ``np.unique(axis=1)`` gives them, through one integer code per row (faster)."""
    code = np.zeros(len(columns[0]), dtype=np.int64)
    for c in columns:
        uniq, rank = np.unique(c, return_inverse=True)
        code = code * len(uniq) + rank.reshape(-1)
    _, first, inverse = np.unique(code, return_index=True, return_inverse=True)
    return np.stack([c[first] for c in columns]), inverse.reshape(-1)


def latency_lower_bounds(
    batch: TableBatch, knobs: Mapping[str, np.ndarray], tech: Technology
) -> tuple[np.ndarray, np.ndarray]:
    """Lower bounds of the latency of every network of ``batch`` on every chip, and whether
    each pair streams.

    Parameters
    ----------
    batch : TableBatch
        S networks.
    knobs : dict of ndarray (H,)
        Validated knob arrays of H chips (:meth:`cimnet_bo.hardware.inputs.Chips.chunk`).
    tech : Technology

    Returns
    -------
    bound : ndarray (S x H)
        At most the latency :func:`cimnet_bo.hardware.simulate_many` gives the pair, up to
        rounding (about 1e-15 relative; see the module docstring for each term).
    streams : ndarray of bool (S x H)
        Whether the network's weights exceed the chip's macros (``A_tot > n_macros``): with
        ``cell = rram`` the pair is infeasible.
    """
    S, G = batch.static, batch.digital
    m = S["mult"]
    op, inverse = _distinct([np.asarray(knobs[k], dtype=np.float64) for k in ARRAY_KNOBS])
    rows, cols, bpc, dac = (v[None, None, :] for v in op)  # (1, 1, U)
    K, N, M, count = (S[c][:, :, None] for c in ("K", "N", "M", "count"))
    n_cw = np.ceil(S["w_bits"][:, :, None] / bpc)  # n_cw = ceil(w_bits / bits_per_cell)
    n_in = np.ceil(S["a_bits"][:, :, None] / dac)  # n_in = ceil(a_bits / dac_bits)
    tiles = np.ceil(K / rows) * np.ceil(N * n_cw / cols) * count  # A = T_K * T_N * count
    A_tot = _layer_sums(m, tiles)[:, inverse]  # (S x H)
    Mn = _layer_sums(m, M * n_in)[:, inverse]  # sum of M * n_in, so t_comp sums to Mn * unit / D

    nm = np.asarray(knobs["n_macros"], dtype=np.float64)
    clock = knobs["clock_mhz"] * MHZ
    inv_glb = 1.0 / (knobs["glb_width"] * clock)
    inv_dram = 1.0 / (knobs["dram_bw_gbps"] * GB)
    t_s = t_s_seconds(knobs["adc_bits"], knobs["rows_active"], knobs["dac_bits"], tech)
    unit = mvm_unit_s(knobs["rows"], knobs["rows_active"], knobs["cols_per_adc"], t_s)  # t_mvm / n_in

    per_net = lambda mult, v: (mult * v).sum(1)[:, None]  # noqa: E731  (S x 1)
    A_one = np.maximum(A_tot, 1.0)
    D = np.maximum(np.floor(nm / A_one), 1.0)  # floor(n_macros / A_tot), 1 when streaming
    compute = Mn * unit / D
    traffic = per_net(m, S["traffic0"]) * inv_glb
    bound = np.maximum(compute, traffic, out=compute)
    s = np.clip((A_tot - nm) / A_one, 0.0, 1.0)  # 0 without static layers (A_tot = 0)
    bound += s * per_net(m, S["W"]) * np.maximum(inv_dram, inv_glb)  # t_w
    dm = G["mult"]
    digital = np.maximum(per_net(dm, G["work"]) / (knobs["digital_macs"] * clock), per_net(dm, G["traffic0"]) * inv_glb)
    bound += digital
    return bound, A_tot > nm


__all__ = ["ARRAY_KNOBS", "latency_lower_bounds"]
