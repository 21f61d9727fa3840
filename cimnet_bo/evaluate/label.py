"""Labeling: sample (subnet, hardware) pairs, evaluate them, commit each to a run store,
export a dataset. Resumable: re-running with the same store continues where it stopped.

The plan (which pairs, in which order) is a pure function of ``(space, n, seed, subnets)``,
so a resumed run regenerates it and skips the candidates the store already holds. Pairs are
evaluated in batches grouped by subnet, so an evaluator that depends on the subnet only
(accuracy) runs once per distinct subnet, whatever the executor.

Relabeling: when only the hardware half of the labels changes (a new roofline model or
hardware space), ``label(..., reuse_from=[old table])`` (``cimnet-bo label --accuracy-from``)
takes the subnet-only values (accuracy) of the subnets an earlier table holds, provided they
were measured by the same evaluator (for the supernet: the same checkpoint checksum, split and
subset), and evaluates only the subnets the old table lacks. The old table is read without
checking its hardware half, which may belong to an older space or model version.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from cimnet_bo.core import CimnetError, removed_on_error
from cimnet_bo.evaluate.base import Evaluator
from cimnet_bo.evaluate.evaluators import CompositeEvaluator, SubnetCachedEvaluator
from cimnet_bo.evaluate.executors import Executor, get_executor
from cimnet_bo.space import AnySpace, SpaceLike, as_space, is_joint, subnet_side

SAMPLER = "pairs-v1"


def default_subnets(n: int) -> int:
    """Distinct subnets sampled for ``n`` pairs by default: half of ``n`` (rounded up), i.e.
    two hardware configurations per subnet on average (1,500 subnets for 3,000 pairs)."""
    return max(1, math.ceil(n / 2))


def sample_pairs(space: AnySpace, n: int, seed: int = 0, subnets: int | None = None) -> list[dict[str, Any]]:
    """A reproducible plan of ``n`` distinct joint configurations.

    ``subnets`` distinct subnets are drawn uniformly (each choice uniform, duplicates
    rejected); every one appears in at least one pair, the other pairs reuse a random one of
    them; each pair's hardware is drawn uniformly (a repeated pair is re-drawn). The pairs
    are then shuffled.

    Parameters
    ----------
    space : JointSpace or Space
        A plain (non-joint) space gives ``n`` distinct configurations.
    n : int
        Number of pairs.
    seed : int
    subnets : int, optional
        Distinct subnets, ``1 <= subnets <= n``; default :func:`default_subnets`.

    Returns
    -------
    list of dict
        ``n`` canonical joint configurations.

    Raises
    ------
    ValueError
        When the space cannot hold that many distinct subnets or pairs.
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    rng = np.random.default_rng(seed)
    if not is_joint(space):
        return space.from_indices(_distinct(space, n, rng))
    n_sub = default_subnets(n) if subnets is None else int(subnets)
    if not 1 <= n_sub <= n:
        raise ValueError(f"subnets must be in [1, n={n}], got {n_sub}")
    if n > space.size:
        raise ValueError(f"space {space.name!r} has only {space.size} configurations; cannot sample {n} pairs")
    sub_idx = _distinct(space.subnet, n_sub, rng)
    assign = np.concatenate([np.arange(n_sub), rng.integers(0, n_sub, n - n_sub)])
    hw_size = space.hardware.size
    counts = np.bincount(assign, minlength=n_sub)
    if counts.max() > hw_size:
        raise ValueError(
            f"hardware space {space.hardware.name!r} has only {hw_size} configurations: "
            f"use more subnets (got {n_sub} for {n} pairs)"
        )
    hw_idx = space.hardware.sample_indices(n, rng)
    seen: set[tuple] = set()
    for i in range(n):
        for _ in range(10_000):
            key = (int(assign[i]), tuple(hw_idx[i]))
            if key not in seen:
                break
            hw_idx[i] = space.hardware.sample_indices(1, rng)[0]
        else:  # pragma: no cover - only for tiny hardware spaces
            raise ValueError("could not draw distinct hardware for a subnet")
        seen.add(key)
    order = rng.permutation(n)
    subs = space.subnet.from_indices(sub_idx[assign[order]])
    hws = space.hardware.from_indices(hw_idx[order])
    return [{**s, **h} for s, h in zip(subs, hws)]


def _distinct(space: AnySpace, k: int, rng: np.random.Generator) -> np.ndarray:
    if k > space.size:
        raise ValueError(f"space {space.name!r} has only {space.size} distinct configurations, asked for {k}")
    rows: dict[tuple, np.ndarray] = {}
    while len(rows) < k:
        for r in space.sample_indices(max(16, 2 * (k - len(rows))), rng):
            rows.setdefault(tuple(r), r)
            if len(rows) == k:
                break
    return np.array(list(rows.values()), dtype=np.int64).reshape(k, space.dim)


def batches_by_subnet(
    space: AnySpace, plan: Sequence[Mapping[str, Any]], todo: Iterable[int], batch_size: int
) -> list[list[int]]:
    """Group candidate numbers so that pairs sharing a subnet fall in one batch; batches hold
    about ``batch_size`` pairs (a subnet with more pairs gets a batch of its own)."""
    sub_names = subnet_side(space).names
    groups: dict[tuple, list[int]] = {}
    for i in todo:
        groups.setdefault(tuple(plan[i][n] for n in sub_names), []).append(i)
    out: list[list[int]] = []
    cur: list[int] = []
    for g in groups.values():
        if cur and len(cur) + len(g) > batch_size:
            out.append(cur)
            cur = []
        cur = cur + g
    if cur:
        out.append(cur)
    return out


class LabelError(CimnetError, ValueError):
    """The labeling cannot go on (every candidate of its first batch failed)."""


class ReuseError(CimnetError, ValueError):
    """Values of an earlier table cannot be reused (another evaluator measured them, another
    subnet space, missing columns)."""


def subnet_values_from_table(
    path: str | Path, space: AnySpace, names: Sequence[str], identity: str
) -> dict[tuple, np.ndarray]:
    """The subnet-only values (e.g. accuracy) an earlier labeled table holds, per subnet.

    Parameters
    ----------
    path : path
        A table written by :func:`label` (``.parquet`` with its metadata, or ``.csv`` with an
        ``evaluator`` column). Its hardware half is not checked: it may be of another version.
    space : JointSpace or Space
        Its subnet half must be the table's subnet space (same name and version).
    names : sequence of str
        The value columns to take (the subnet-only evaluator's objectives).
    identity : str
        Identity of this run's subnet-only evaluator; every successful row of the table must
        have been evaluated by it (its ``evaluator`` column holds the identities of a
        composite joined with ``" | "``): for the supernet this is the checkpoint's SHA-256,
        the split and the subset.

    Returns
    -------
    dict
        Canonical subnet key (tuple in subnet-choice order) -> values (len(names),). Rows that
        failed or hold non-finite values are skipped.

    Raises
    ------
    ReuseError
        When the table belongs to another subnet space or version, lacks a column, was
        evaluated by another evaluator (another checkpoint), or holds two different values for
        one subnet.
    """
    from cimnet_bo.store import read_table

    path = Path(path)
    frame, meta = read_table(path, "table")
    sub = subnet_side(space)
    sub_def = (meta.get("space_def") or {}).get("subnet", meta.get("space_def")) if meta else None
    if sub_def:
        have = (sub_def.get("name"), str(sub_def.get("version")))
        if have != (sub.name, str(sub.version)):
            raise ReuseError(
                f"{path} holds subnets of space {have[0]!r} version {have[1]!r}, not "
                f"{sub.name!r} version {sub.version!r}: its values cannot be reused"
            )
    missing = [n for n in (*sub.names, *names) if n not in frame.columns]
    if missing:
        raise ReuseError(f"{path} has no column(s) {missing}: cannot reuse its {list(names)}")
    if "evaluator" in frame.columns:
        evaluators = [e if isinstance(e, str) else None for e in frame["evaluator"].tolist()]
    elif meta.get("evaluators") and len(meta["evaluators"]) == 1:
        evaluators = [meta["evaluators"][0]] * len(frame)
    else:
        raise ReuseError(
            f"{path} does not record which evaluator measured its {list(names)} "
            "(no evaluator column), so they cannot be reused safely"
        )
    ok = np.ones(len(frame), dtype=bool)
    if "error" in frame.columns:
        ok &= frame["error"].isna().to_numpy()
    vals = frame[list(names)].to_numpy(dtype=np.float64).reshape(len(frame), len(names))
    ok &= np.all(np.isfinite(vals), axis=1)
    foreign = sorted(
        {e or "(none)" for e, good in zip(evaluators, ok) if good and identity not in (e or "").split(" | ")}
    )
    if foreign:
        raise ReuseError(
            f"{path}: its {list(names)} were measured by {foreign}, but this run's evaluator is "
            f"{identity!r} (another supernet checkpoint, split or subset): refusing to reuse "
            "them; relabel without reusing, or use the checkpoint that table was made with"
        )
    out: dict[tuple, np.ndarray] = {}
    cols = [frame[n].tolist() for n in sub.names]
    for i, row in enumerate(zip(*cols)):
        if not ok[i]:
            continue
        cfg = sub.validate({n: (v.item() if hasattr(v, "item") else v) for n, v in zip(sub.names, row)})
        k = tuple(cfg[n] for n in sub.names)
        if k in out and not np.array_equal(out[k], vals[i]):
            raise ReuseError(
                f"{path} holds different {list(names)} for one subnet ({dict(zip(sub.names, k))}): "
                f"{out[k].tolist()} and {vals[i].tolist()}"
            )
        out[k] = vals[i]
    return out


def label(
    space: SpaceLike,
    n: int,
    evaluators: Sequence[Evaluator],
    store: str | Path,
    out: str | Path | None = None,
    seed: int = 0,
    subnets: int | None = None,
    batch_size: int = 16,
    executor: Any = None,
    progress: bool = True,
    retry_failed: bool = False,
    reuse_from: Sequence[str | Path] = (),
) -> dict[str, Any]:
    """Label ``n`` sampled pairs into a run store and export them.

    Parameters
    ----------
    space : JointSpace or str
    n : int
        Number of pairs in the plan.
    evaluators : sequence of Evaluator
        Combined with :class:`CompositeEvaluator`; those that declare ``subnet_only`` are
        evaluated once per distinct subnet (values already in the store are reused).
    store : path
        The run's SQLite file; created, or resumed when it exists (the plan must match).
    out : path, optional
        Dataset written at the end (``.parquet`` or ``.csv``, successful rows only).
    seed : int
    subnets : int, optional
        Distinct subnets in the plan (default :func:`default_subnets`).
    batch_size : int
        Pairs per batch (one commit per pair as its batch completes).
    executor : Executor, int or str, optional
        See :func:`cimnet_bo.evaluate.executors.get_executor`.
    progress : bool
        Show a progress bar on stderr.
    retry_failed : bool
        Delete failed rows of the store first, so their candidates are evaluated again.
    reuse_from : sequence of path
        Earlier labeled tables (e.g. of an older hardware space or model version) whose
        subnet-only values (accuracy) are reused for the subnets they hold, see
        :func:`subnet_values_from_table`; the other subnets are evaluated. The values and the
        recorded evaluator identity are those a fresh evaluation gives, so the output looks
        like a freshly labeled table.

    Returns
    -------
    dict
        ``n``, ``ok``, ``failed``, ``new`` (evaluated by this call), ``distinct_subnets``,
        ``subnet_evaluations`` (distinct subnets sent to subnet-only evaluators by this call),
        ``reused_subnets`` (distinct subnets of this call whose subnet-only values came from
        ``reuse_from``), ``seconds``, ``store``, ``out``.

    Raises
    ------
    ReuseError
        When a ``reuse_from`` table cannot be reused (another checkpoint, another subnet space).
    """
    from cimnet_bo.store import RunStore, StoreError, check_dataset_path, config_key, store_files

    t0 = time.time()
    space = as_space(space)
    if out is not None:
        check_dataset_path(out, "output dataset")
    n_sub = None
    if is_joint(space):
        n_sub = default_subnets(n) if subnets is None else int(subnets)
    plan = sample_pairs(space, n, seed, n_sub)
    cached = [SubnetCachedEvaluator(e, space) if e.subnet_only and is_joint(space) else e for e in evaluators]
    evaluator = cached[0] if len(cached) == 1 else CompositeEvaluator(cached)
    identity = evaluator.identity
    reused = _reusable(cached, space, reuse_from)
    plan_meta = {"n": n, "seed": seed, "subnets": n_sub, "sampler": SAMPLER}
    # a store this call creates is removed again (its lock file too) when its first batch fails:
    # nothing is recorded
    with (
        removed_on_error(*store_files(store), f"{store}.lock", errors=(LabelError,)),
        RunStore(store, space, [o.to_dict() for o in evaluator.objectives]) as st,
    ):
        if "plan" in st.meta and st.meta["plan"] != plan_meta:
            raise StoreError(
                f"{st.path} was started with plan {st.meta['plan']}, not {plan_meta}: "
                "rerun with the same options or use another store"
            )
        rows = [r for r in st.rows() if not (retry_failed and r["error"] is not None)]
        others = sorted({r["evaluator"] for r in rows} - {identity})
        if others:
            raise StoreError(
                f"{st.path} holds evaluations by {others}; this run's evaluator is "
                f"{identity!r}. Use a new store for a different checkpoint or model"
            )
        for r in rows:
            i = r["idx"]
            if i is None or i >= n or config_key(r["config"]) != config_key(plan[i]):
                raise StoreError(f"{st.path}: recorded candidate idx={i} is not candidate {i} of this plan")
        st.set_meta("plan", plan_meta)  # the store is written only once it is known to suit this run
        if retry_failed:
            st.delete_failed()
        _prime(cached, rows, space)
        done = {r["idx"] for r in rows}
        todo = [i for i in range(n) if i not in done]
        groups = batches_by_subnet(space, plan, todo, batch_size)
        sub_names = [n for e in cached if isinstance(e, SubnetCachedEvaluator) for n in e.names]
        primed = {
            _key(space, r["config"])
            for r in rows
            if all(np.isfinite(r["objectives"].get(n, np.nan)) for n in sub_names)
        }
        todo_subnets = {_key(space, plan[i]) for i in todo}
        from_tables = (todo_subnets - primed) & set.intersection(*(set(v) for _, v in reused)) if reused else set()
        for e, values in reused:
            keys = [k for k in todo_subnets - primed if k in values]
            e.prime(
                [dict(zip(sub_keys(space), k)) for k in keys],
                np.array([values[k] for k in keys]).reshape(len(keys), len(e.names)),
            )
        if from_tables:
            st.set_meta("reused_from", {"tables": [str(p) for p in reuse_from], "subnets": len(from_tables)})
        # each subnet lies in one batch, so a subnet-only evaluator sees it once (any executor)
        sub_evals = (
            len(todo_subnets - primed - from_tables) if any(isinstance(e, SubnetCachedEvaluator) for e in cached) else 0
        )
        bar = _progress(n, len(done), f"label {space.name}", progress)
        new = 0
        ex = get_executor(executor)
        try:
            had_success = any(r["error"] is None for r in rows)
            for b, res in ex.run(evaluator, ([plan[i] for i in g] for g in groups)):
                if new == 0 and not had_success and all(e is not None for e in res.errors):
                    # a broken set-up (a bad checkpoint, a missing file), not failed candidates
                    raise LabelError(
                        f"every candidate of the first batch failed, so nothing was recorded; "
                        f"first error: {res.errors[0]}"
                    )
                for j, i in enumerate(groups[b]):
                    st.record(
                        plan[i],
                        res.objectives_of(j),
                        evaluator=identity,
                        error=res.errors[j],
                        idx=i,
                        seed=seed,
                        extra=res.extras_of(j),
                        tag="label",
                    )
                    new += 1
                bar.update(len(groups[b]))
        finally:
            bar.close()
            if not isinstance(executor, Executor):
                ex.close()
        rows = st.rows()
        summary = {
            "n": n,
            "ok": sum(r["error"] is None for r in rows),
            "failed": sum(r["error"] is not None for r in rows),
            "new": new,
            "distinct_subnets": len({_key(space, r["config"]) for r in rows}),
            "subnet_evaluations": sub_evals,
            "reused_subnets": len(from_tables),
            "seconds": round(time.time() - t0, 2),
            "store": str(st.path),
            "out": None,
        }
        if out is not None:
            summary["out"] = str(st.export(out))
    return summary


def _key(space: AnySpace, cfg: Mapping[str, Any]) -> tuple:
    return tuple(cfg[n] for n in sub_keys(space))


def sub_keys(space: AnySpace) -> tuple[str, ...]:
    """The subnet choice names of a (joint) space, in order."""
    return tuple(subnet_side(space).names)


def _reusable(
    cached: Sequence[Evaluator], space: AnySpace, tables: Sequence[str | Path]
) -> list[tuple[SubnetCachedEvaluator, dict[tuple, np.ndarray]]]:
    """Per subnet-cached evaluator, the values ``tables`` hold for it (first table wins)."""
    if not tables:
        return []
    subnet_evals = [e for e in cached if isinstance(e, SubnetCachedEvaluator)]
    if not subnet_evals:
        raise ReuseError("reusing values of earlier tables needs a subnet-only evaluator (accuracy); this run has none")
    out = []
    for e in subnet_evals:
        values: dict[tuple, np.ndarray] = {}
        for t in tables:
            for k, v in subnet_values_from_table(t, space, e.names, e.identity).items():
                values.setdefault(k, v)
        out.append((e, values))
    return out


def _prime(cached: Sequence[Evaluator], rows: Sequence[Mapping[str, Any]], space: AnySpace) -> None:
    for e in cached:
        if isinstance(e, SubnetCachedEvaluator):
            vals = np.array([[r["objectives"].get(k, np.nan) for k in e.names] for r in rows], dtype=np.float64)
            e.prime([r["config"] for r in rows], vals.reshape(len(rows), len(e.names)))


def _progress(total: int, initial: int, desc: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(
        total=total,
        initial=initial,
        desc=desc,
        unit="pair",
        disable=not enabled,
        file=sys.stderr,
        dynamic_ncols=True,
        mininterval=0.5,
    )
