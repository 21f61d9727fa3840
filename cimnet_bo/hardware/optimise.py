"""The best chips of a hardware space for given subnets, exactly: :func:`best_hardware`.

Accuracy depends on the subnet alone and the roofline is cheap and exact, so for a candidate
subnet the best chip can be computed instead of searched for. Under area and peak-power
budgets:

* a hardware space's knobs split into *resources* (:data:`RESOURCES`: more of one never
  increases latency and never decreases area or peak power; ``CIM_MODEL.md``, *Properties*)
  and *operating-point* knobs (array size, ADC sharing, DAC bits, cell, bits per cell);
* area and peak power do not depend on the network, so the chips within the budgets are found
  once per space and budget (:func:`candidate_chips`);
* for latency alone, only *maximal* chips can be optimal: those where no resource can take its
  next value without breaking a budget (any other chip within the budgets has a maximal one
  with the same operating point and at least as much of every resource, hence a latency at
  least as low, and no more streaming, so no worse feasibility). The search over them is
  exhaustive, hence exact;
* with energy as an objective too, energy is not monotone in the resources (a faster clock
  costs energy per operation, a larger buffer energy per access), so every chip within the
  budgets is a candidate.

With energy, each subnet is then simulated on every candidate (its layer table broadcast
over the chips), and its answer is the Pareto front of the objectives over the feasible
candidates. For latency alone, a chip whose latency lower bound
(:mod:`cimnet_bo.hardware.bounds`, a few operations per pair instead of a few per pair and
layer) exceeds a latency the subnet already reaches on another chip cannot be its fastest,
so only the chips that can are simulated (a few percent of them on the search spaces'
grids); the answer is the same as over every candidate.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from cimnet_bo.hardware.config import KNOBS, knob_arrays
from cimnet_bo.hardware.inputs import KNOB_BLOCK, Chips
from cimnet_bo.hardware.model import area_and_power, periphery_terms, t_s_seconds
from cimnet_bo.hardware.technology import Technology, space_technology
from cimnet_bo.moo import pareto_mask
from cimnet_bo.space import AnySpace, SpaceLike, as_space, hardware_side, is_joint

#: Knobs of which more never increases latency and never decreases area or peak power.
RESOURCES = ("n_macros", "glb_kb", "dram_bw_gbps", "glb_width", "clock_mhz", "digital_macs")
DEFAULTS = {k.name: k.default for k in KNOBS}
#: Objectives :func:`best_hardware` optimises (minimised).
OBJECTIVES = ("latency_s", "energy_j")


@dataclass
class ChipSet:
    """Chips of a hardware space within budgets.

    Attributes
    ----------
    configs : dict of ndarray (C,)
        Knob name -> values, one entry per chip (the space's knobs only).
    area_mm2, power_w : ndarray (C,)
    maximal : bool
        Whether only maximal chips were kept (see the module docstring).
    total : int
        Chips of the space before the budgets.
    """

    configs: dict[str, np.ndarray]
    area_mm2: np.ndarray
    power_w: np.ndarray
    maximal: bool
    total: int
    _chips: Chips | None = field(default=None, init=False, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.area_mm2)

    def validated(self) -> Chips:
        """The chips as :class:`~cimnet_bo.hardware.inputs.Chips`, their knobs validated on
        the first call only (kept: a ChipSet serves many calls)."""
        if self._chips is None:
            self._chips = Chips(self.configs)
            self._chips.chunk(0, len(self))
        return self._chips

    def records(self, idx: Sequence[int]) -> list[dict[str, Any]]:
        """The chips at ``idx`` as plain knob dicts."""
        return [{k: v[i].item() for k, v in self.configs.items()} for i in idx]

    def subset(self, idx: np.ndarray) -> "ChipSet":
        """The chips at ``idx`` (int array, in that order; ``maximal`` and ``total`` kept: a
        subset of one operating point's maximal chips is still exactly those)."""
        configs = {k: v[idx] for k, v in self.configs.items()}
        return ChipSet(configs, self.area_mm2[idx], self.power_w[idx], self.maximal, self.total)


def _operating_points(space: AnySpace, names: Sequence[str]) -> list[dict[str, Any]]:
    """Every combination of the non-resource choices, a conditional choice only where active."""
    plain = [c for c in space.choices if c.name in names and c.condition is None]
    cond = [c for c in space.choices if c.name in names and c.condition is not None]
    out = []
    for values in itertools.product(*(c.values for c in plain)):
        base = dict(zip((c.name for c in plain), values))
        active = [c for c in cond if base.get(c.condition.parent) in c.condition.values]
        for extra in itertools.product(*(c.values for c in active)):
            out.append({**base, **dict(zip((c.name for c in active), extra))})
    return out


def chip_area_power(knobs: Mapping[str, np.ndarray], tech: Technology) -> tuple[np.ndarray, np.ndarray]:
    """Area (mm^2) and peak power (W) of chips, arrays (H,), from knob arrays (H,) (missing
    knobs take their defaults); neither depends on the network."""
    n = len(np.asarray(next(iter(knobs.values()))))
    k = knob_arrays(dict(knobs), n=n)
    t_s = t_s_seconds(k["adc_bits"], k["rows_active"], k["dac_bits"], tech)
    return area_and_power(k, t_s, tech.e_adc_pj(k["adc_bits"], t_s), tech)


def _split_knobs(
    ops: Sequence[Mapping[str, Any]], grid: Mapping[str, np.ndarray]
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Validated knob arrays of the operating points (O,) and of the resource grid (G,),
    each validated once: resources and operating-point knobs are checked independently
    (the grid with the first operating point, the operating points with the grid's first
    resources). Knobs missing from an operating point take their defaults."""
    names = sorted({n for op in ops for n in op})
    n_ops, n_grid = len(ops), len(next(iter(grid.values())))
    op_cols = {n: np.array([op.get(n, DEFAULTS[n]) for op in ops]) for n in names}
    op_knobs = knob_arrays({**op_cols, **{n: np.broadcast_to(g[:1], (n_ops,)) for n, g in grid.items()}}, n=n_ops)
    grid_knobs = knob_arrays({**{n: np.broadcast_to(v[:1], (n_grid,)) for n, v in op_cols.items()}, **grid}, n=n_grid)
    return ({n: v for n, v in op_knobs.items() if n not in grid}, {n: v for n, v in grid_knobs.items() if n in grid})


def candidate_chips(
    space: AnySpace,
    area_max: float | None = None,
    power_max: float | None = None,
    tech: Technology | None = None,
    maximal: bool = True,
) -> ChipSet:
    """The chips of a hardware (or joint) space within the budgets.

    Parameters
    ----------
    space : Space or JointSpace
        Its hardware half is enumerated; every resource knob must be an unconditional choice.
    area_max, power_max : float, optional
        Budgets (mm^2, W); None: no limit.
    tech : Technology, optional
        Default: the space's technology (:func:`space_technology`).
    maximal : bool
        Keep only the maximal chips (exact for latency alone; see the module docstring).

    Returns
    -------
    ChipSet
    """
    hw = hardware_side(space) or space
    tech = space_technology(space, tech)
    res = [c for c in hw.choices if c.name in RESOURCES]
    bad = [c.name for c in res if c.condition is not None]
    if bad:
        raise ValueError(f"resource knobs {bad} of space {hw.name!r} are conditional: cannot enumerate them")
    res_names = [c.name for c in res]
    grids = np.meshgrid(*(np.asarray(c.values, dtype=np.float64) for c in res), indexing="ij")
    shape = grids[0].shape
    grid = {n: g.ravel() for n, g in zip(res_names, grids)}
    G = grids[0].size
    ops = _operating_points(hw, [n for n in hw.names if n not in RESOURCES])
    op_knobs, grid_knobs = _split_knobs(ops, grid)
    # the periphery's terms depend on resources alone (the grid's, or defaults that every
    # operating point shares): computed once for all operating points
    periphery = periphery_terms({**{n: v[:1] for n, v in op_knobs.items()}, **grid_knobs}, tech)
    keep_cfg: dict[str, list[np.ndarray]] = {n: [] for n in hw.names}
    keep_area, keep_power = [], []
    for o, op in enumerate(ops):
        # the operating point's knobs as (1,) arrays broadcast over the resource grid (G,)
        k = {**{n: v[o : o + 1] for n, v in op_knobs.items()}, **grid_knobs}
        t_s = t_s_seconds(k["adc_bits"], k["rows_active"], k["dac_bits"], tech)
        area, power = area_and_power(k, t_s, tech.e_adc_pj(k["adc_bits"], t_s), tech, periphery)
        ok = np.ones(G, dtype=bool)
        if area_max is not None:
            ok &= area <= area_max
        if power_max is not None:
            ok &= power <= power_max
        keep = ok
        if maximal:
            fits = ok.reshape(shape)
            grows = np.zeros(shape, dtype=bool)  # some resource can take its next value
            for d in range(len(shape)):
                nxt = np.zeros(shape, dtype=bool)
                src = [slice(None)] * len(shape)
                dst = [slice(None)] * len(shape)
                src[d], dst[d] = slice(1, None), slice(None, -1)
                nxt[tuple(dst)] = fits[tuple(src)]
                grows |= nxt
            keep = (fits & ~grows).ravel()
        if not keep.any():
            continue
        for n in hw.names:  # an inactive choice takes the knob's default (bits_per_cell 1 on SRAM)
            v = op[n] if n in op else grid[n] if n in grid else DEFAULTS[n]
            keep_cfg[n].append(np.broadcast_to(v, (G,))[keep])
        keep_area.append(area[keep])
        keep_power.append(power[keep])
    total = G * len(ops)
    if not keep_area:
        raise ValueError(f"no chip of space {hw.name!r} meets area <= {area_max} and power <= {power_max}")
    configs = {}
    for n, parts in keep_cfg.items():
        if parts:
            configs[n] = np.concatenate(parts)
    return ChipSet(configs, np.concatenate(keep_area), np.concatenate(keep_power), maximal, total)


def _front(Y: np.ndarray) -> np.ndarray:
    """Indices of the non-dominated rows of ``Y`` (n x m, minimised), first column ascending;
    among exact duplicates the first is kept."""
    idx = np.flatnonzero(pareto_mask(Y, ("min",) * Y.shape[1], deduplicate=True))
    return idx[np.lexsort(Y[idx].T[::-1])]


def _check_objectives(objectives: Sequence[str]) -> tuple[str, ...]:
    """``objectives`` as a tuple; ValueError unless a non-empty subset of :data:`OBJECTIVES`."""
    objectives = tuple(objectives)
    if not objectives or any(o not in OBJECTIVES for o in objectives):
        raise ValueError(f"objectives must be a non-empty subset of {list(OBJECTIVES)}, got {list(objectives)}")
    return objectives


#: (subnet x chip) pairs simulated per :func:`simulate_many` call.
PAIRS_PER_CALL = 1 << 21
#: From this many chips on, :func:`simulate_grid` broadcasts each network over the chips (one
#: call per network) instead of simulating every (subnet x chip) pair in one call.
BROADCAST_CHIPS = 512


def simulate_grid(
    space: AnySpace,
    subnets: Sequence[Mapping[str, Any]],
    chips: Mapping[str, np.ndarray],
    tech: Technology | None = None,
    outputs: Sequence[str] = ("latency_s", "feasible"),
) -> dict[str, np.ndarray]:
    """Every subnet on every chip: the roofline's ``outputs`` as (S x H) arrays.

    Parameters
    ----------
    space : JointSpace
    subnets : sequence of dict (S,)
        Subnet configurations (extra keys ignored).
    chips : dict of ndarray (H,)
        Knob name -> values (e.g. :attr:`ChipSet.configs`).
    tech : Technology, optional
        Default: the space's technology.
    outputs : sequence of str
        Outputs of :func:`simulate_many` to return.
    """
    from cimnet_bo.hardware.many import simulate_many
    from cimnet_bo.hardware.subnets import batch_from_configs

    tech = space_technology(space, tech)
    names = space.subnet.names
    subnets = [{k: s[k] for k in names if k in s} for s in subnets]
    H = len(next(iter(chips.values())))
    S = len(subnets)
    out = {o: np.empty((S, H), dtype=bool if o in ("feasible", "resident") else np.float64) for o in outputs}
    block = max(1, PAIRS_PER_CALL // max(H, 1))
    for lo in range(0, S, block):
        part = subnets[lo : lo + block]
        batch, index = batch_from_configs(space, part)
        if H < BROADCAST_CHIPS:  # few chips: (subnet x chip) pairs in one call
            hws = {k: np.tile(v, len(part)) for k, v in chips.items()}
            r = simulate_many(batch, hws, tech=tech, table_index=np.repeat(index, H), as_frame=False)
            for o in outputs:
                out[o][lo : lo + len(part)] = np.asarray(r[o]).reshape(len(part), H)
            continue
        order = np.argsort(index, kind="stable")
        starts = np.flatnonzero(np.r_[True, index[order][1:] != index[order][:-1]])
        hw = Chips(chips)  # the chips' knobs validated and converted once for every network
        for at, rows in zip(starts, np.split(lo + order, starts[1:])):
            # each distinct network broadcast over the chips: no (subnet x chip) copies of
            # the knobs, and one set of layer weights per kernel chunk (BLAS sums)
            j = int(index[order[at]])
            r = simulate_many(batch.slice(j, j + 1), hw, tech=tech, as_frame=False)
            for o in outputs:
                out[o][rows] = r[o]
    return out


#: Chips first simulated per network in :func:`_fastest_chips`: those of lowest latency bound.
FIRST_CHIPS = 16
#: Relative margin of the pruning by latency bounds (bounds and latencies are sums in
#: different orders: their rounding differs by about 1e-15).
BOUND_MARGIN = 1e-9
#: (network x chip) latency bounds computed at once by :func:`_fastest_chips` (a few MB each
#: of its (networks x chips) arrays); larger chip sets than one block of validated knobs
#: (:data:`~cimnet_bo.hardware.inputs.KNOB_BLOCK`, e.g. every chip within the budgets) are
#: simulated whole.
BOUND_PAIRS = 1 << 19
#: The outputs :func:`best_chip_indices` gives for each chip of a front.
FRONT_VALUES = ("latency_s", "energy_j", "area_mm2", "power_w")


def _fastest_chips(
    space: AnySpace, subnets: Sequence[Mapping[str, Any]], chips: ChipSet, tech: Technology
) -> list[tuple[np.ndarray, dict[str, np.ndarray]]]:
    """:func:`best_chip_indices` for latency alone, without simulating every chip.

    Each network is simulated on its :data:`FIRST_CHIPS` chips of lowest latency bound
    (:func:`~cimnet_bo.hardware.bounds.latency_lower_bounds`; chips where it is known
    infeasible last), then on every chip whose bound does not exceed the best latency found
    (within :data:`BOUND_MARGIN`): a chip left out is slower than that latency, so these
    hold every chip that can be the fastest. The answer is the fastest feasible chip of the
    second step, the first in ``chips``'s order among equals, as over every chip; its values
    are those of :func:`simulate_many` for the pair (to rounding, the whole grid's).
    """
    from cimnet_bo.hardware.bounds import latency_lower_bounds
    from cimnet_bo.hardware.many import simulate_many
    from cimnet_bo.hardware.subnets import batch_from_configs

    names = space.subnet.names
    batch, index = batch_from_configs(space, [{k: s[k] for k in names if k in s} for s in subnets])
    hw = chips.validated()  # then subsets taken
    knobs = hw.chunk(0, len(chips))
    bound, streams = latency_lower_bounds(batch, knobs, tech)
    U, H = bound.shape
    k = min(FIRST_CHIPS, H)
    first = np.argpartition(np.where(streams & knobs["rram"], np.inf, bound), k - 1, axis=1)[:, :k]
    r = simulate_many(batch, hw.take(first.ravel()), tech=tech, table_index=np.repeat(np.arange(U), k), as_frame=False)
    reached = np.where(r["feasible"], r["latency_s"], np.inf).reshape(U, k).min(1)
    need = bound * (1.0 - BOUND_MARGIN) <= reached[:, None]
    net, idx = np.nonzero(need)
    r = simulate_many(batch, hw.take(idx), tech=tech, table_index=net, as_frame=False)
    lat = np.where(r["feasible"], r["latency_s"], np.inf)
    starts = np.r_[0, np.cumsum(need.sum(1))]
    found = []
    for j in range(U):
        a, b = starts[j], starts[j + 1]
        best = a + int(np.argmin(lat[a:b]))
        if not np.isfinite(lat[best]):
            found.append((np.empty(0, dtype=np.int64), {o: np.empty(0) for o in FRONT_VALUES}))
        else:
            found.append((idx[best : best + 1], {o: r[o][best : best + 1] for o in FRONT_VALUES}))
    return [found[j] for j in index]


def best_chip_indices(
    space: AnySpace,
    subnets: Sequence[Mapping[str, Any]],
    chips: ChipSet,
    objectives: Sequence[str] = ("latency_s",),
    tech: Technology | None = None,
) -> list[tuple[np.ndarray, dict[str, np.ndarray]]]:
    """For each subnet, the indices (into ``chips``) of the feasible chips on the Pareto front of
    ``objectives``, by increasing latency (empty when none is feasible), with their
    ``latency_s, energy_j, area_mm2, power_w`` (arrays of the front's length)."""
    objectives = _check_objectives(objectives)
    if chips.maximal and "energy_j" in objectives:
        raise ValueError("a ChipSet of maximal chips is exact for latency alone; build one with maximal=False")
    out = []
    if objectives == ("latency_s",) and len(chips) <= KNOB_BLOCK:
        tech = space_technology(space, tech)
        block = max(1, BOUND_PAIRS // len(chips))
        for lo in range(0, len(subnets), block):
            out.extend(_fastest_chips(space, subnets[lo : lo + block], chips, tech))
        return out
    block = max(1, PAIRS_PER_CALL // len(chips))
    for lo in range(0, len(subnets), block):
        r = simulate_grid(space, subnets[lo : lo + block], chips.configs, tech, outputs=(*FRONT_VALUES, "feasible"))
        for i in range(len(r["feasible"])):
            idx = np.flatnonzero(r["feasible"][i])
            if idx.size:
                idx = idx[_front(np.column_stack([r[o][i, idx] for o in objectives]))]
                idx = idx[np.argsort(r["latency_s"][i, idx], kind="stable")]
            out.append((idx, {k: r[k][i, idx] for k in FRONT_VALUES}))
    return out


def best_hardware(
    space: SpaceLike,
    subnets: Sequence[Mapping[str, Any]],
    area_max: float | None = None,
    power_max: float | None = None,
    objectives: Sequence[str] = ("latency_s",),
    tech: Technology | None = None,
    chips: ChipSet | None = None,
) -> list[Any]:
    """For each subnet, the chips of the space on the Pareto front of ``objectives`` within the
    budgets, among the feasible ones (an RRAM chip must not stream weights).

    Parameters
    ----------
    space : JointSpace or str
        A joint space (its subnet half gives the networks, its hardware half the chips).
    subnets : sequence of dict
        Subnet configurations (joint configurations are accepted; their hardware keys ignored).
    area_max, power_max : float, optional
        Budgets (mm^2, W).
    objectives : sequence of str
        ``("latency_s",)`` (default: exact over the maximal chips) or ``("latency_s",
        "energy_j")`` (exact over every chip within the budgets).
    tech : Technology, optional
    chips : ChipSet, optional
        Candidates from :func:`candidate_chips`, to reuse across calls.

    Returns
    -------
    list of pandas.DataFrame
        One per subnet: the front's chips (one column per knob) with ``latency_s, energy_j,
        area_mm2, power_w``, by increasing latency; empty when no candidate is feasible.
    """
    import pandas as pd

    space = as_space(space)
    if not is_joint(space):
        raise ValueError("best_hardware needs a joint space (subnet x hardware)")
    objectives = _check_objectives(objectives)
    tech = space_technology(space, tech)
    if chips is None:
        chips = candidate_chips(space, area_max, power_max, tech, maximal=objectives == ("latency_s",))
    out = []
    for idx, vals in best_chip_indices(space, list(subnets), chips, objectives, tech):
        frame = pd.DataFrame(chips.records(idx), columns=list(chips.configs))
        for k, v in vals.items():
            frame[k] = v
        out.append(frame)
    return out
