"""What a strategy sees when it proposes: the evaluations so far, the pending proposals, and
caches of cheap outputs and features that live as long as the run's process.

Configurations are handled as canonical rank matrices (``n x d`` int64, see
:meth:`cimnet_bo.space.Space.to_indices`); a row's bytes are its identity.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

from cimnet_bo.moo import pareto_mask
from cimnet_bo.search.problem import Problem
from cimnet_bo.space import AnySpace, is_joint
from cimnet_bo.store.run import stored_number

#: Rows evaluated per call of the cheap evaluator (bounds memory on big pools).
CHEAP_CHUNK = 5000
#: Cache entries kept before a cache is cleared (bounds memory in long runs).
CACHE_LIMIT = 300_000


def row_keys(idx: np.ndarray) -> list[bytes]:
    """Identity of each row of a rank matrix (n x d): its bytes."""
    idx = np.ascontiguousarray(idx, dtype=np.int64)
    return [r.tobytes() for r in idx]


def unique_rows(idx: np.ndarray, exclude: set[bytes] | None = None) -> np.ndarray:
    """Rows of ``idx`` (n x d) without repeats and without those whose key is in ``exclude``,
    first occurrence order kept."""
    seen = set(exclude or ())
    keep = []
    for i, k in enumerate(row_keys(idx)):
        if k not in seen:
            seen.add(k)
            keep.append(i)
    return idx[np.asarray(keep, dtype=np.int64)] if keep else idx[:0]


class Clock:
    """Seconds spent in named kinds of work (roofline evaluations, best chips, ...), summed
    over the life of a run's caches. A timing inside another one counts for the outer one only,
    so the totals never count a second twice."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._busy = False

    @contextmanager
    def timed(self, name: str) -> Iterator[None]:
        """Add the time spent in the ``with`` block to ``seconds[name]``."""
        if self._busy:
            yield
            return
        self._busy = True
        start = time.perf_counter()
        try:
            yield
        finally:
            self._busy = False
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start


class CheapCache:
    """Cheap outputs (``problem.cheap_outputs``) of configurations, computed once per row.

    ``get(idx)`` returns ``(V, ok)``: V (n x c) in ``problem.cheap_outputs`` order, ok (n,)
    False where the cheap evaluator failed.
    """

    def __init__(self, problem: Problem, clock: Clock | None = None) -> None:
        self.problem = problem
        self.names = problem.cheap_outputs
        self.clock = clock or Clock()
        self._cache: dict[bytes, np.ndarray | None] = {}

    def put(self, idx: np.ndarray, values: np.ndarray) -> None:
        """Remember known values (n x c) of rows (e.g. observed ones)."""
        for k, v in zip(row_keys(idx), np.asarray(values, dtype=np.float64)):
            self._cache[k] = v if np.all(np.isfinite(v)) else None

    def get(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n, c = len(idx), len(self.names)
        V = np.full((n, c), np.nan)
        ok = np.ones(n, dtype=bool)
        if c == 0 or n == 0:
            return V, ok
        keys = row_keys(idx)
        todo = [i for i, k in enumerate(keys) if k not in self._cache]
        if todo:
            if len(self._cache) + len(todo) > CACHE_LIMIT:
                self._cache.clear()
            with self.clock.timed("roofline"):
                self._compute(idx, keys, todo)
        for i, k in enumerate(keys):
            v = self._cache.get(k)
            if v is None:
                ok[i] = False
            else:
                V[i] = v
        return V, ok

    def _compute(self, idx: np.ndarray, keys: list[bytes], todo: list[int]) -> None:
        """Evaluate rows ``todo`` of ``idx`` and cache them under ``keys``."""
        ev = self.problem.cheap_evaluator
        space = self.problem.space
        cols = [ev.names.index(nm) for nm in self.names]
        for s in range(0, len(todo), CHEAP_CHUNK):
            part = todo[s : s + CHEAP_CHUNK]
            res = ev.evaluate(space.from_indices(idx[part]))
            vals = res.values[:, cols]
            ok = np.isfinite(vals).all(axis=1) & np.array([e is None for e in res.errors], dtype=bool)
            for j, i in enumerate(part):
                self._cache[keys[i]] = vals[j] if ok[j] else None


class FeatureCache:
    """Predictor features of configurations (``cimnet_bo.predictors.FeatureBuilder``), one
    builder for subnet-only outputs (subnet features, cached per subnet) and one for
    hardware-dependent outputs; rows are cached by identity.

    Parameters
    ----------
    space : Space or JointSpace
    kind : {"auto", "xgb", "encoding"}
        ``"auto"``: the ``"xgb"`` features (encoding, workload and hardware features) for joint
        spaces of a known workload family, else the plain encoding.
    """

    def __init__(self, space: AnySpace, kind: str = "auto") -> None:
        self.space = space
        self.kind = kind
        self._builders: dict[bool, Any] = {}
        self._cache: dict[bool, dict[bytes, np.ndarray]] = {True: {}, False: {}}
        self._nsub = space.subnet.dim if is_joint(space) else space.dim

    def _builder(self, hardware: bool) -> Any:
        b = self._builders.get(hardware)
        if b is None:
            from cimnet_bo.predictors import FeatureBuilder

            kind = self.kind
            if kind == "auto":
                kind = "encoding"
                if is_joint(self.space):
                    from cimnet_bo.workload import FAMILIES

                    if self.space.subnet.family in FAMILIES:
                        kind = "xgb"
            b = FeatureBuilder(self.space, kind, hardware=hardware)
            if kind == "xgb":
                try:
                    b.transform(self.space.from_indices(self.space.sample_indices(1, 0)))
                except Exception:  # noqa: BLE001 - a family without workload tables: plain encoding
                    b = FeatureBuilder(self.space, "encoding", hardware=hardware)
            self._builders[hardware] = b
        return b

    def get(self, idx: np.ndarray, hardware: bool) -> np.ndarray:
        """Feature matrix (n x f) of rows ``idx`` (n x d)."""
        b = self._builder(hardware)
        key_idx = idx if hardware else idx[:, : self._nsub]
        cache = self._cache[hardware]
        keys = row_keys(key_idx)
        todo = [i for i, k in enumerate(keys) if k not in cache]
        if todo:
            if len(cache) + len(todo) > CACHE_LIMIT:
                cache.clear()
            uniq: dict[bytes, int] = {}
            for i in todo:
                uniq.setdefault(keys[i], i)
            rows = list(uniq.values())
            F = b.transform(self.space.from_indices(idx[rows]))
            for r, f in zip(rows, F):
                cache[keys[r]] = f
        if not len(idx):
            return np.empty((0, len(b.names)))
        return np.vstack([cache[k] for k in keys])


class RoundTimer:
    """Wall time of a round's phases, with the time of the :class:`Clock`'s kinds of work taken
    out of the phase they ran in and reported under their own names (the entries add up to the
    round's time).

    ``lap(phase)`` ends a phase; ``seconds()`` gives ``{phase or kind: seconds}``.
    """

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._t = time.perf_counter()
        self._c = dict(clock.seconds)
        self._out: dict[str, float] = {}

    def lap(self, phase: str) -> None:
        now, c = time.perf_counter(), dict(self.clock.seconds)
        spent = {k: v - self._c.get(k, 0.0) for k, v in c.items()}
        self._out[phase] = self._out.get(phase, 0.0) + (now - self._t) - sum(spent.values())
        for k, v in spent.items():
            if v > 0:
                self._out[k] = self._out.get(k, 0.0) + v
        self._t, self._c = now, c

    def seconds(self, digits: int = 3) -> dict[str, float]:
        return {k: round(v, digits) for k, v in self._out.items()}


@dataclass
class Caches:
    """Per-process caches of a run (kept across rounds; rebuilt after a restart), and the
    :class:`Clock` of their costly work. ``directory`` is the run's directory, where a cache
    may keep what outlives the process (None: nothing is written)."""

    cheap: CheapCache
    features: FeatureCache
    extra: dict[str, Any] = field(default_factory=dict)
    clock: Clock = field(default_factory=Clock)
    directory: Path | None = None

    @classmethod
    def for_problem(cls, problem: Problem, directory: str | Path | None = None) -> "Caches":
        clock = Clock()
        where = None if directory is None else Path(directory)
        return cls(CheapCache(problem, clock), FeatureCache(problem.space), clock=clock, directory=where)


@dataclass
class SearchState:
    """The evaluations of a run so far, as strategies see them.

    Attributes
    ----------
    problem : Problem
    X : ndarray (n x d) int64
        Canonical ranks of the evaluated configurations, in candidate order.
    values : ndarray (n x k)
        Outputs ``problem.outputs`` (objectives, then other constrained outputs); NaN where
        missing or failed.
    failed : ndarray (n,) bool
    pending : ndarray (p x d) int64
        Proposed configurations whose evaluations are not recorded yet.
    caches : Caches
    candidates : ndarray (c x d) int64 or None
        The finite set of allowed configurations (tabular problems).
    """

    problem: Problem
    X: np.ndarray
    values: np.ndarray
    failed: np.ndarray
    pending: np.ndarray
    caches: Caches
    candidates: np.ndarray | None = None
    seed: int = 0
    _seen: set[bytes] | None = field(default=None, repr=False)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_rows(
        cls,
        problem: Problem,
        rows: Sequence[Mapping[str, Any]],
        pending: Sequence[Mapping[str, Any]],
        caches: Caches,
        seed: int = 0,
    ) -> "SearchState":
        """State from run-store rows (``RunStore.rows()``, candidate order) and pending
        configurations."""
        space = problem.space
        d = space.dim
        X = space.to_indices([r["config"] for r in rows]) if rows else np.empty((0, d), dtype=np.int64)
        outs = problem.outputs
        vals = np.array(
            [[stored_number(r["objectives"].get(o)) for o in outs] for r in rows], dtype=np.float64
        ).reshape(len(rows), len(outs))
        failed = np.array([r["error"] is not None for r in rows], dtype=bool)
        P = space.to_indices(list(pending)) if pending else np.empty((0, d), dtype=np.int64)
        cand = caches.extra.get("candidates")
        if problem.candidates is not None and cand is None:
            cand = space.to_indices(problem.candidates)
            cand = unique_rows(cand)
            caches.extra["candidates"] = cand
        if len(problem.cheap_outputs) and len(X):
            cols = [outs.index(n) for n in problem.cheap_outputs]
            okrows = ~failed & np.all(np.isfinite(vals[:, cols]), axis=1)
            caches.cheap.put(X[okrows], vals[okrows][:, cols])
        return cls(problem, X, vals, failed, P, caches, cand, int(seed))

    # ------------------------------------------------------------------ views
    @property
    def n(self) -> int:
        return len(self.X)

    @property
    def seen(self) -> set[bytes]:
        """Keys of evaluated and pending rows (never proposed again)."""
        if self._seen is None:
            self._seen = set(row_keys(self.X)) | set(row_keys(self.pending))
        return self._seen

    def objective_values(self) -> np.ndarray:
        """Objectives (n x m) in their own units."""
        return self.values[:, : len(self.problem.objectives)]

    def normalized(self) -> np.ndarray:
        """Normalised objectives ``u`` (n x m; larger is better, reference 0)."""
        if not self.n:
            return np.empty((0, len(self.problem.objectives)))
        return self.problem.normalize(self.objective_values())

    def feasible(self) -> np.ndarray:
        """Bool (n,): evaluated without failure, objectives finite, every constraint met."""
        outs = self.problem.outputs
        ok = ~self.failed & np.all(np.isfinite(self.objective_values()), axis=1)
        if self.problem.constraints:
            ok &= self.problem.feasible({o: self.values[:, j] for j, o in enumerate(outs)}, self.n)
        return ok

    def pareto_rows(self) -> np.ndarray:
        """Rank rows (k x d) of the feasible non-dominated evaluated configurations."""
        ok = self.feasible()
        if not ok.any():
            return self.X[:0]
        U = self.normalized()[ok]
        return self.X[ok][pareto_mask(U, ["max"] * U.shape[1], deduplicate=True)]

    def hypervolume(self) -> float:
        """Normalised hypervolume of the feasible evaluations."""
        return self.problem.hypervolume(self.objective_values(), self.feasible()) if self.n else 0.0

    # ------------------------------------------------------------------ candidates
    def cheap_filter_mask(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(V (n x c), ok (n,))``: cheap outputs of rows ``idx`` and whether they evaluate
        and meet every cheap constraint."""
        V, ok = self.caches.cheap.get(idx)
        names = self.problem.cheap_outputs
        for c in self.problem.constraints:
            if c.name in names:
                ok &= c.holds(V[:, names.index(c.name)])
        return V, ok

    def cheap_filter(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows whose cheap outputs evaluate and meet every cheap constraint:
        ``(rows (k x d), cheap values (k x c))``."""
        V, ok = self.cheap_filter_mask(idx)
        return idx[ok], V[ok]

    def fresh(self, idx: np.ndarray) -> np.ndarray:
        """Rows of ``idx`` not evaluated, not pending, not repeated; cheap-feasible; for
        tabular problems, in the candidate set."""
        idx = unique_rows(idx, self.seen)
        if self.candidates is not None and len(idx):
            allowed = self.caches.extra.get("candidate_keys")
            if allowed is None:
                allowed = set(row_keys(self.candidates))
                self.caches.extra["candidate_keys"] = allowed
            keep = np.array([k in allowed for k in row_keys(idx)], dtype=bool)
            idx = idx[keep]
        return self.cheap_filter(idx)[0] if len(idx) else idx

    def sample(self, n: int, rng: np.random.Generator, tries: int = 30) -> np.ndarray:
        """Up to ``n`` fresh random rows (uniform over the space, or over the unseen
        candidates of a tabular problem), cheap-feasible. Fewer only when the space (nearly)
        runs out of fresh feasible configurations."""
        space = self.problem.space
        if self.candidates is not None:
            keys = row_keys(self.candidates)
            avail = np.array([k not in self.seen for k in keys], dtype=bool)
            pool = self.candidates[avail]
            pool = pool[rng.permutation(len(pool))]
            out = self.cheap_filter(pool[: max(n * 4, n + 64)])[0]
            if len(out) < n:
                out = self.cheap_filter(pool)[0]
            return out[:n]
        n = int(min(n, max(0, space.size - len(self.seen))))
        got = np.empty((0, space.dim), dtype=np.int64)
        stale = 0
        for _ in range(tries):
            if len(got) >= n:
                break
            m = int(min(max(64, 2 * (n - len(got))), 200_000))
            new = self.fresh(np.vstack([got, space.sample_indices(m, rng)]))[:n]
            stale = stale + 1 if len(new) == len(got) else 0
            got = new
            if stale >= 3:
                break
        return got

    def snap(self, idx: np.ndarray, n: int | None = None) -> np.ndarray:
        """For tabular problems: each row of ``idx`` replaced by the nearest (in the encoding;
        a categorical choice counts 1 where the values differ) fresh candidate, without
        repeats; other problems: ``fresh(idx)``."""
        if self.candidates is None:
            out = self.fresh(idx)
            return out if n is None else out[:n]
        space = self.problem.space
        avail = self.fresh(self.candidates)
        if not len(avail) or not len(idx):
            return avail[:0]
        A = space.encode_indices(avail.copy())
        Q = space.encode_indices(np.asarray(idx, dtype=np.int64).copy())
        cat = list(space.categorical_columns)
        taken = np.zeros(len(avail), dtype=bool)
        out = []
        for q in Q:
            diff = A - q
            diff[:, cat] = diff[:, cat] != 0
            d2 = np.sum(diff**2, axis=1)
            d2[taken] = np.inf
            j = int(np.argmin(d2))
            if not np.isfinite(d2[j]):
                break
            taken[j] = True
            out.append(j)
            if n is not None and len(out) >= n:
                break
        return avail[np.asarray(out, dtype=np.int64)]
