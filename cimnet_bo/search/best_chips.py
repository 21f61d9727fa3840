"""Joint search over subnets, each on its best chip: :class:`BestChips`.

When every expensive output (accuracy) depends on the subnet alone and latency is the only
hardware objective, the best chip of a subnet under the problem's area and power budgets is
computed exactly by the hardware optimiser (:func:`cimnet_bo.hardware.best_hardware`), not
searched for. qNEHVI then spends its evaluations on subnets: every candidate it proposes is a
subnet on its best chip, and the surrogate models accuracy on the subnet encoding alone.

When accuracy is computed on the chip (:class:`cimnet_bo.evaluate.ChipAccuracy`), it depends on
the subnet and on the hardware knobs it declares (``chip_knobs``: ADC bits, rows, DAC bits,
cell, bits per cell), not on the others (macro count, buffers, clock, ADC sharing, ...). The
expensive half is then a *design*: a subnet and the values of those knobs
(:func:`design_knobs`), and the optimiser places each design on its best chip among the
chips with those values. Everything below that says "subnet" holds for designs; with no such
knobs a design is a subnet.

Exact projections cost milliseconds per subnet (a few thousand maximal chips each), too many
for a pool of thousands of subnets every round, so a round works in two steps:

1. the pool's subnets are placed on their fastest chip among a *library*: the best chips of
   the evaluated and pending subnets (at most :data:`LIBRARY_SIZE`, the most common first),
   plus the space's baseline chip (a function of the run's state, so resumed runs propose
   exactly what uninterrupted ones do). Their latency is an upper bound of the best latency; the acquisition screens the
   pool with it;
2. the shortlisted subnets are placed on their exact best chips before the final qLogNEHVI
   selection (:meth:`BestChips.refine`), so every proposal is exact.

The initial design follows the same rule: configurations given in it (a known design) are
also proposed on their subnets' best chips, then random subnets on their best chips.

Exact best chips are kept per subnet (design) for the life of the run's caches and, for a
run with a directory, in its file :data:`CACHE_FILE` (so the first round after a restart does
not place the evaluated subnets again). The file is keyed by everything a best chip depends on
(the joint space's definition and version, the technology, the budgets, the CiM model's
version and the knobs fixed in a design, :func:`cache_key`); a file with another key, or one
that cannot be read, is ignored and written again.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Callable

import numpy as np

from cimnet_bo.search.problem import Problem
from cimnet_bo.search.state import CACHE_LIMIT, Clock, SearchState, row_keys, unique_rows
from cimnet_bo.space import is_joint

#: Hardware objectives the per-subnet optimiser handles exactly and fast.
HARDWARE_OBJECTIVES = ("latency_s",)
#: Chips of the library that screens a round's pool (see :meth:`BestChips.library`).
LIBRARY_SIZE = 64
#: Cheap constraints it enforces: ``(output, operator)``; ``feasible >= 1`` always holds.
BUDGETS = {"area_mm2": "<=", "power_w": "<="}
#: The file of a run directory that keeps the exact best chips across processes.
CACHE_FILE = "best_chips.npz"
#: The layout of :data:`CACHE_FILE` (part of its key).
CACHE_FORMAT = 1


def unsupported(problem: Problem) -> str | None:
    """Why :class:`BestChips` cannot serve ``problem`` (None when it can): see
    :func:`design_knobs`."""
    found = _design_knobs(problem)
    return found if isinstance(found, str) else None


def design_knobs(problem: Problem) -> tuple[str, ...]:
    """The hardware knobs (in the space's order) that the problem's expensive outputs depend on
    besides the subnet: fixed with the subnet in a design (empty when they depend on the subnet
    alone). Raises ``ValueError`` with the reason when :class:`BestChips` cannot serve the
    problem."""
    found = _design_knobs(problem)
    if isinstance(found, str):
        raise ValueError(f"best chips cannot serve problem {problem.name!r}: {found}")
    return found


def _design_knobs(problem: Problem) -> tuple[str, ...] | str:
    """:func:`design_knobs`, or the reason why there is no such split (a string)."""
    from cimnet_bo.hardware.optimise import RESOURCES

    space = problem.space
    if not is_joint(space):
        return "the space is not a joint (subnet x hardware) space"
    if space.hardware.size <= 1:
        return "the hardware is frozen"
    if problem.candidates is not None:
        return "the problem is tabular (a fixed candidate set)"
    if _roofline(problem) is None:
        return "its cheap outputs do not come from the roofline model alone"
    knobs: set[str] = set()
    for name in problem.objective_names:
        if name in HARDWARE_OBJECTIVES:
            continue
        on = problem.chip_knobs(name)
        if on is None:
            return (
                f"objective {name!r} depends on the hardware and is not one of {list(HARDWARE_OBJECTIVES)} "
                "(energy has a front of chips per subnet)"
            )
        knobs.update(on)
    if not any(problem.is_cheap(o) for o in problem.objective_names):
        return "no objective comes from the roofline"
    for c in problem.constraints:
        on = problem.chip_knobs(c.name)
        if on is not None:
            knobs.update(on)
            continue
        if c.name == "feasible" and c.op == ">=" and c.bound <= 1.0:
            continue
        if BUDGETS.get(c.name) != c.op:
            return f"constraint {c} is not an area or peak-power budget"
    hw = space.hardware
    resources = sorted(knobs & set(RESOURCES))
    if resources:
        return f"the expensive outputs depend on the resource knobs {resources}, which the optimiser maximises"
    for choice in hw.choices:
        if choice.name in knobs and choice.condition is not None and choice.condition.parent not in knobs:
            parent = choice.condition.parent
            return f"knob {choice.name!r} is fixed with the subnet but {parent!r}, on which it depends, is not"
    return tuple(n for n in hw.names if n in knobs)


def _roofline(problem: Problem) -> Any:
    """The problem's roofline evaluator (its cheap part), or None."""
    from cimnet_bo.evaluate import CompositeEvaluator, RooflineEvaluator

    ev = problem.cheap_evaluator
    if ev is None:
        return None
    parts = ev.parts if isinstance(ev, CompositeEvaluator) else [ev]
    found = [p for p in parts if isinstance(p, RooflineEvaluator)]
    return found[0] if len(found) == 1 and len(parts) == 1 else None


class BestChips:
    """Places designs (subnets, with the hardware knobs accuracy depends on) of a problem's
    joint space on their best chips (see the module docstring).

    Rows are canonical rank matrices: joint rows ``(n x d)`` are subnet ranks ``(n x d_s)``
    followed by hardware ranks ``(n x d_h)``; design rows ``(n x d_e)`` are the joint rows'
    :attr:`design_columns`: the subnet ranks, then the ranks of the :attr:`fixed` knobs.

    Parameters
    ----------
    problem : Problem
        A problem :func:`unsupported` accepts.
    clock : Clock, optional
        Where the time of the roofline simulations of chips is counted (as ``"best_chips"``).
    directory : path, optional
        The run directory whose :data:`CACHE_FILE` keeps the exact best chips across
        processes; None: they are kept in memory only.
    """

    def __init__(self, problem: Problem, clock: Clock | None = None, directory: str | Path | None = None) -> None:
        from cimnet_bo.hardware.optimise import candidate_chips

        self.fixed = design_knobs(problem)
        self.problem = problem
        self.clock = clock or Clock()
        self.space = problem.space
        self.d_sub = self.space.subnet.dim
        hw = self.space.hardware
        self.fixed_idx = np.array([hw.names.index(n) for n in self.fixed], dtype=np.int64)
        self.design_columns = np.concatenate([np.arange(self.d_sub), self.d_sub + self.fixed_idx])
        self.d_design = len(self.design_columns)
        self.design_space = self._design_space()
        self.tech = _roofline(problem).technology()
        budgets = {c.name: c.bound for c in problem.constraints if c.name in BUDGETS}
        self.area_max = budgets.get("area_mm2")
        self.power_max = budgets.get("power_w")
        self.chips = candidate_chips(self.space, self.area_max, self.power_max, self.tech, maximal=True)
        self.chip_ranks = self.space.hardware.columns_to_indices(self.chips.configs)
        self.baseline_chip = self._baseline_within_budgets()
        self.key = cache_key(self.space, self.tech, self.area_max, self.power_max, self.fixed)
        self.cache_path = None if directory is None else Path(directory) / CACHE_FILE
        self._exact: dict[bytes, np.ndarray | None] = self._load()
        # chips (their L x d_h rows in canonical order, as bytes) -> design key -> latencies (L,)
        self._nearest: dict[bytes, dict[bytes, np.ndarray]] = {}

    def _baseline_within_budgets(self) -> np.ndarray | None:
        """The baseline chip's hardware row (1 x d_h), or None (no baseline, or over a budget)."""
        from cimnet_bo.hardware.optimise import chip_area_power

        hw_space = self.space.hardware
        if hw_space.baseline is None:
            return None
        row = hw_space.to_indices([hw_space.baseline])
        cfg = hw_space.from_indices(row)[0]
        area, power = chip_area_power({n: np.asarray([cfg[n]]) for n in hw_space.names}, self.tech)
        fits = (self.area_max is None or area[0] <= self.area_max) and (
            self.power_max is None or power[0] <= self.power_max
        )
        return row if fits else None

    def _design_space(self) -> Any:
        """The space of design rows: the subnet's choices, then the fixed knobs' (the subnet
        space itself when nothing is fixed)."""
        from cimnet_bo.space import Space

        sub = self.space.subnet
        if not self.fixed:
            return sub
        hw = self.space.hardware
        return Space(f"{sub.name}+{'+'.join(self.fixed)}", [*sub.choices, *(hw.choices[i] for i in self.fixed_idx)])

    # ------------------------------------------------------------------ rows
    def join(self, design: np.ndarray, hw: np.ndarray) -> np.ndarray:
        """Joint rows (n x d) from design rows (n x d_e) and hardware rows (n x d_h), the
        fixed knobs taken from the designs."""
        hw = np.array(hw, dtype=np.int64)
        hw[:, self.fixed_idx] = design[:, self.d_sub :]
        return self.space.canonicalize_indices(np.hstack([design[:, : self.d_sub], hw]).astype(np.int64))

    def designs(self, rows: np.ndarray) -> np.ndarray:
        """The design rows (n x d_e) of joint rows (n x d)."""
        return np.asarray(rows, dtype=np.int64)[:, self.design_columns]

    def _groups(self, design: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Design rows by the values of their fixed knobs: ``(fixed ranks (k_f,), members)``."""
        fixed = design[:, self.d_sub :]
        if not self.fixed:
            return [(fixed[0] if len(design) else fixed.reshape(-1), np.arange(len(design)))]
        uniq, inverse = np.unique(fixed, axis=0, return_inverse=True)
        return [(u, np.flatnonzero(inverse.reshape(-1) == g)) for g, u in enumerate(uniq)]

    def exact(self, design: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(hw (n x d_h), ok (n,))``: each design's best chip (lowest latency among the
        feasible chips within the budgets that have the design's fixed knobs; cached per
        design); ``ok`` False where none is."""
        keys = row_keys(design)
        todo = np.array(list({k: i for i, k in enumerate(keys) if k not in self._exact}.values()), dtype=np.int64)
        if len(todo):
            from cimnet_bo.hardware.optimise import best_chip_indices

            for values, members in self._groups(design[todo]):
                at = todo[members]
                match = np.all(self.chip_ranks[:, self.fixed_idx] == values, axis=1)
                index = np.flatnonzero(match)
                subs = self.space.subnet.from_indices(design[at, : self.d_sub])
                if not len(index):
                    best = [(np.empty(0, dtype=np.int64), None)] * len(at)
                else:
                    chips = self.chips if len(index) == len(self.chips) else self.chips.subset(index)
                    with self.clock.timed("best_chips"):
                        best = best_chip_indices(self.space, subs, chips, tech=self.tech)
                for i, (idx, _) in zip(at, best):
                    self._exact[keys[i]] = self.chip_ranks[index[idx[0]]] if idx.size else None
            self._save()
        hw = np.zeros((len(design), self.space.dim - self.d_sub), dtype=np.int64)
        ok = np.zeros(len(design), dtype=bool)
        for i, k in enumerate(keys):
            r = self._exact[k]
            if r is not None:
                hw[i], ok[i] = r, True
        return hw, ok

    def _load(self) -> dict[bytes, np.ndarray | None]:
        """The exact best chips of :attr:`cache_path` when it holds this key (else none)."""
        if self.cache_path is None or not self.cache_path.is_file():
            return {}
        d_hw = self.space.dim - self.d_sub
        try:
            with np.load(self.cache_path, allow_pickle=False) as f:
                if str(f["key"]) != self.key:
                    return {}
                sub, hw, ok = (np.asarray(f[k]) for k in ("subnets", "chips", "ok"))
        except Exception:  # noqa: BLE001 - a file that cannot be read is rebuilt
            return {}
        n = len(ok)
        sizes = np.asarray([len(c.values) for c in self.space.hardware.choices])
        if not (
            sub.shape == (n, self.d_design)
            and hw.shape == (n, d_hw)
            and ok.dtype == bool
            and sub.dtype.kind == hw.dtype.kind == "i"
            and np.all((hw >= 0) & (hw < sizes))
        ):
            return {}
        hw = hw.astype(np.int64)
        return {k: (hw[i] if ok[i] else None) for i, k in enumerate(row_keys(sub))}

    def _save(self) -> None:
        """Write the exact best chips to :attr:`cache_path` (atomically; skipped without a
        directory or when it cannot be written: the cache is optional)."""
        from cimnet_bo.core import atomic_write

        if self.cache_path is None:
            return
        d_hw = self.space.dim - self.d_sub
        keys = list(self._exact)
        sub = np.frombuffer(b"".join(keys), dtype=np.int64).reshape(len(keys), self.d_design)
        ok = np.array([self._exact[k] is not None for k in keys], dtype=bool)
        hw = np.zeros((len(keys), d_hw), dtype=np.int64)
        if ok.any():
            hw[ok] = np.vstack([self._exact[k] for k, o in zip(keys, ok) if o])
        try:
            with atomic_write(self.cache_path) as tmp, open(tmp, "wb") as fh:
                np.savez(fh, key=np.array(self.key), subnets=sub, chips=hw, ok=ok)
        except OSError:
            pass

    def library(self, state: SearchState) -> np.ndarray:
        """Hardware rows (L x d_h), L <= :data:`LIBRARY_SIZE` + 1: the exact best chips of the
        evaluated and pending designs, those that are best for the most designs first (ties:
        first seen), and the space's baseline chip when it meets the budgets."""
        rows = np.vstack([state.X, state.pending]).astype(np.int64)
        hw, ok = self.exact(self.designs(rows))
        lib = np.empty((0, hw.shape[1]), dtype=np.int64)
        if ok.any():
            uniq, first, counts = np.unique(hw[ok], axis=0, return_index=True, return_counts=True)
            lib = uniq[np.lexsort((first, -counts))][:LIBRARY_SIZE]
        if self.baseline_chip is not None:
            lib = unique_rows(np.vstack([lib, self.baseline_chip]))
        return lib

    def nearest(self, design: np.ndarray, lib: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(hw (n x d_h), ok (n,))``: each design's fastest feasible chip of the library
        ``lib`` (L x d_h), its fixed knobs set to the design's (chips that then break a budget
        left out), and, with fixed knobs, of the exact best chip of the first design with the
        same knob values (library chips sit at the budgets with their own knobs, so a costlier
        ADC or array could otherwise leave a design with none); ``ok`` False where none is
        feasible."""
        from cimnet_bo.hardware.optimise import chip_area_power

        hw_space = self.space.hardware
        hw = np.zeros((len(design), hw_space.dim), dtype=np.int64)
        ok = np.zeros(len(design), dtype=bool)
        if not len(design) or not len(lib):
            return hw, ok
        for values, members in self._groups(design):
            chips_rows = np.array(lib, dtype=np.int64)
            chips_rows[:, self.fixed_idx] = values
            if self.fixed:
                own, own_ok = self.exact(design[members[:1]])
                chips_rows = np.vstack([chips_rows, own[own_ok]])
            chips_rows = unique_rows(hw_space.canonicalize_indices(chips_rows))
            cfg = hw_space.from_indices(chips_rows)
            chips = {n: np.asarray([c[n] for c in cfg]) for n in hw_space.names}
            if self.fixed:  # the library's chips are within the budgets with their own knobs only
                area, power = chip_area_power(chips, self.tech)
                fits = np.ones(len(chips_rows), dtype=bool)
                if self.area_max is not None:
                    fits &= area <= self.area_max
                if self.power_max is not None:
                    fits &= power <= self.power_max
                if not fits.any():
                    continue
                chips_rows = chips_rows[fits]
                chips = {n: v[fits] for n, v in chips.items()}
            lat = self._latencies(design[members], chips_rows, chips)
            j = np.argmin(lat, axis=1)
            found = np.isfinite(lat[np.arange(len(members)), j])
            hw[members[found]] = chips_rows[j[found]]
            ok[members[found]] = True
        return hw, ok

    def _latencies(self, design: np.ndarray, chips_rows: np.ndarray, chips: dict[str, np.ndarray]) -> np.ndarray:
        """Latencies (n x L) of designs (n x d_e, one group of fixed knobs) on chips (rows
        ``chips_rows`` (L x d_h), knob values ``chips``), inf where infeasible. Kept per design
        and set of chips (in any order), up to :data:`~cimnet_bo.search.state.CACHE_LIMIT`
        designs: the rounds of a run place mostly the same designs on the same library."""
        from cimnet_bo.hardware.optimise import simulate_grid

        order = np.lexsort(chips_rows.T[::-1])  # the set's canonical order
        if sum(len(known) for known in self._nearest.values()) >= CACHE_LIMIT:
            self._nearest.clear()
        known = self._nearest.setdefault(np.ascontiguousarray(chips_rows[order]).tobytes(), {})
        keys = row_keys(design)
        todo = list({k: i for i, k in enumerate(keys) if k not in known}.values())
        if todo:
            subnets = self.space.subnet.from_indices(design[todo, : self.d_sub])
            with self.clock.timed("best_chips"):
                r = simulate_grid(self.space, subnets, chips, self.tech)
            lat = np.where(r["feasible"], r["latency_s"], np.inf)[:, order]
            known.update(zip((keys[i] for i in todo), lat))
        return np.stack([known[k] for k in keys])[:, np.argsort(order)]

    # ------------------------------------------------------------------ candidates
    def done_subnets(self, state: SearchState) -> set[bytes]:
        """Keys of the designs already evaluated or pending on their best chip."""
        rows = np.vstack([state.X, state.pending]).astype(np.int64)
        if not len(rows):
            return set()
        design = self.designs(rows)
        hw, ok = self.exact(design)
        on_best = ok & np.all(hw == rows[:, self.d_sub :], axis=1)
        return set(row_keys(design[on_best]))

    def fresh_subnets(self, state: SearchState, design: np.ndarray) -> np.ndarray:
        """Design rows of ``design`` not yet evaluated or pending on their best chip, without
        repeats."""
        return unique_rows(np.asarray(design, dtype=np.int64).reshape(-1, self.d_design), self.done_subnets(state))

    def initial(self, state: SearchState, n: int, rng: np.random.Generator, tries: int = 30) -> np.ndarray:
        """Up to ``n`` joint rows (k x d): the designs evaluated or pending on another chip
        (a known design of the initial design), then random fresh designs, each on its best
        chip. Fewer only when the designs run out."""
        known = self.designs(np.vstack([state.X, state.pending]).astype(np.int64))
        sub = self.fresh_subnets(state, known)[:n]
        stale = 0
        for _ in range(tries):
            if len(sub) >= n or stale >= 3:
                break
            draws = self.design_space.sample_indices(2 * (n - len(sub)) + 16, rng)
            new = unique_rows(self.fresh_subnets(state, draws), set(row_keys(sub)))[: n - len(sub)]
            stale = 0 if len(new) else stale + 1
            sub = np.vstack([sub, new])
        hw, ok = self.exact(sub)
        return state.fresh(self.join(sub[ok], hw[ok]))[:n]

    def pool(
        self,
        state: SearchState,
        rng: np.random.Generator,
        size: int,
        mutation_fraction: float,
        evolution_fraction: float,
        predict: Callable[[np.ndarray], np.ndarray] | None,
        plan: Any,
        pop_size: int,
        n_gen: int,
    ) -> tuple[np.ndarray, dict[str, int]]:
        """The round's pool: up to ``size`` joint rows (k x d) of fresh designs on their
        library chips, from mutations of the Pareto set's designs, NSGA-II over designs (on the
        predictors and library latencies) and the run's random reservoir of designs."""
        from cimnet_bo.search.pool import evolve, mutate_rows, rank_rows, score_rows

        space = self.design_space
        lib = self.library(state)
        counts: dict[str, int] = {}
        parts: list[np.ndarray] = []
        pareto = self.designs(state.pareto_rows())

        n_mut = int(size * mutation_fraction)
        if n_mut and len(pareto):
            mut = self.fresh_subnets(state, mutate_rows(space, pareto, int(n_mut * 1.5) + 16, rng))[:n_mut]
            parts.append(mut)
            counts["mutations"] = len(mut)
        n_evo = int(size * evolution_fraction)
        if n_evo and predict is not None:

            def score(sub_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
                hw, ok = self.nearest(sub_rows, lib)
                rows = self.join(sub_rows, hw)
                V, cheap_ok = state.caches.cheap.get(rows)
                return score_rows(state, plan, rows, predict(rows), V, cheap_ok & ok)

            rows, U, cv, _ = evolve(state, score, rng, pop_size, n_gen, init=pareto, space=space)
            fresh = self.fresh_subnets(state, rows)
            if len(fresh):
                pos = {k: i for i, k in enumerate(row_keys(rows))}
                sel = np.array([pos[k] for k in row_keys(fresh)], dtype=np.int64)
                fresh = fresh[rank_rows(U[sel], cv[sel], n_evo, rng)]
            parts.append(fresh)
            counts["evolution"] = len(fresh)
        sub = unique_rows(np.vstack(parts)) if parts else np.empty((0, self.d_design), dtype=np.int64)
        need = size - len(sub)
        if need > 0:
            res = self._reservoir(state, size)
            res = unique_rows(self.fresh_subnets(state, res), set(row_keys(sub)))[:need]
            sub = np.vstack([sub, res])
            counts["random"] = len(res)
        hw, ok = self.nearest(sub, lib)
        return state.fresh(self.join(sub[ok], hw[ok]))[:size], counts

    def _reservoir(self, state: SearchState, n: int) -> np.ndarray:
        """A fixed set of up to ``n`` random design rows per run and process."""
        key = ("subnet-reservoir", n, int(state.seed))
        res = state.caches.extra.get(key)
        if res is None:
            space = self.design_space
            rng = np.random.default_rng([int(state.seed), 20_011])
            res = unique_rows(space.sample_indices(int(min(n * 1.3 + 64, 200_000)), rng))[: int(min(n, space.size))]
            state.caches.extra[key] = res
        return res

    def refine(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(rows (n x d), ok (n,))``: joint rows with each design moved to its exact best
        chip; ``ok`` False where the design has no feasible chip (the row is unchanged)."""
        rows = np.array(rows, dtype=np.int64)
        hw, ok = self.exact(self.designs(rows))
        rows[ok] = self.join(self.designs(rows[ok]), hw[ok])
        return rows, ok


def cache_key(
    space: Any, tech: Any, area_max: float | None, power_max: float | None, fixed: tuple[str, ...] = ()
) -> str:
    """The key of a best-chip cache: a hash of what the exact best chips depend on (the joint
    space's definition and version, the technology's constants, the budgets, the CiM model's
    version, the file's layout and the knobs fixed with the subnet)."""
    from cimnet_bo.hardware.technology import MODEL_VERSION

    spec = {
        "format": CACHE_FORMAT,
        "space": space.to_dict(),
        "technology": tech.to_dict(),
        "budgets": [area_max, power_max],
        "cim_model_version": MODEL_VERSION,
    }
    if fixed:  # designs, not subnets (absent otherwise: earlier runs' files keep their key)
        spec["fixed_knobs"] = list(fixed)
    return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()


def best_chips_for(state: SearchState) -> BestChips:
    """The state's :class:`BestChips` (built once per run and process; with the run's
    directory, its exact best chips persist across processes)."""
    bc = state.caches.extra.get("best-chips")
    if bc is None:
        bc = BestChips(state.problem, state.caches.clock, state.caches.directory)
        state.caches.extra["best-chips"] = bc
    return bc


__all__ = ["BestChips", "best_chips_for", "cache_key", "design_knobs", "unsupported"]
