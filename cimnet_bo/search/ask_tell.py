"""Ask/tell: :func:`propose` records its proposals as pending in the run; :func:`tell` stores
their results (checking that each row was proposed, is not told already and has every
objective)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cimnet_bo.core import atomic_write, plain
from cimnet_bo.search.run import Run

if TYPE_CHECKING:
    import pandas as pd


def _as_run(run: Run | str | Path) -> Run:
    return run if isinstance(run, Run) else Run.open(run)


def propose(run: Run | str | Path, q: int, out: str | Path | None = None) -> list[dict[str, Any]]:
    """Propose ``q`` candidates for evaluation elsewhere and record them as pending.

    Parameters
    ----------
    run : Run or path
    q : int
        Number of candidates.
    out : path, optional
        CSV file written with the candidates (``idx``, then a column per choice) before they are
        recorded as pending, atomically: when the file cannot be written nothing is recorded,
        and proposing again gives the same candidates.

    Returns
    -------
    list of dict
        ``{"idx": candidate number, **config}`` per candidate; give the ``idx`` back to
        :func:`tell` with the results.
    """
    r = _as_run(run)
    try:
        new = r.ask(q, by="ask")
        rows = [{"idx": p["idx"], **p["config"]} for p in new]
        if out is not None:
            write_csv_atomic(rows, ["idx", *r.problem.space.names], out)
        r.add_pending(new)
        return rows
    finally:
        if r is not run:
            r.close()


def write_csv_atomic(rows: list[dict[str, Any]], columns: list[str], out: str | Path) -> Path:
    """Write ``rows`` as a CSV file through a temporary file renamed over ``out`` (a reader
    never sees a partial file); returns the path."""
    import pandas as pd

    with atomic_write(out) as tmp:
        pd.DataFrame(rows, columns=columns).to_csv(tmp, index=False)
    return Path(out)


def read_frame(path: str | Path, what: str = "table") -> pd.DataFrame:
    """A ``.parquet`` or CSV file as a DataFrame (``FileNotFoundError`` naming ``what``)."""
    import pandas as pd

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{what} file {p} not found")
    return pd.read_parquet(p) if p.suffix.lower() == ".parquet" else pd.read_csv(p)


def tell(run: Run | str | Path, results: Any, evaluator: str = "external") -> dict[str, Any]:
    """Store the results of proposed candidates.

    Parameters
    ----------
    run : Run or path
    results : DataFrame, list of dict, or path (``.csv`` / ``.parquet``)
        One row per candidate: ``idx`` (from :func:`propose`), a value per objective and per
        constrained output of the problem (cheap ones that are missing are computed here), and
        optionally ``error`` (failure text: then values may be missing) and the configuration's
        choices (checked against the proposal).
    evaluator : str
        Identity stored with the values.

    Returns
    -------
    dict
        ``told`` (number stored), ``pending`` (still waiting), ``evaluations`` (total).

    Raises
    ------
    ValueError
        Nothing is stored when any row was never proposed, was already told, repeats another
        row, has a configuration different from its proposal, or lacks an objective.
    """
    import pandas as pd

    r = _as_run(run)
    try:
        if isinstance(results, (str, Path)):
            frame = read_frame(results, "results")
        elif isinstance(results, pd.DataFrame):
            frame = results.copy()
        else:
            frame = pd.DataFrame(list(results))
        if "idx" not in frame.columns:
            raise ValueError("results need an 'idx' column: the candidate numbers that propose gave")
        problem = r.problem
        space = problem.space
        pending = {p["idx"]: p for p in r.pending()}
        done = r.store.done()
        errors: list[str] = []
        idxs = []
        for v in frame["idx"].tolist():
            try:
                fv = float(v)
                if not fv.is_integer():
                    raise ValueError
                idxs.append(int(fv))
            except (TypeError, ValueError):
                idxs.append(None)
                errors.append(f"idx {v!r} is not a candidate number")
        counts = pd.Series([i for i in idxs if i is not None]).value_counts()
        for i, c in counts.items():
            if c > 1:
                errors.append(f"idx {i} appears {c} times")
        never = sorted(i for i in set(idxs) if i is not None and i not in pending and i not in done)
        told = sorted(i for i in set(idxs) if i is not None and i in done)
        if never:
            errors.append(f"rows never proposed (no pending candidate with idx {never})")
        if told:
            errors.append(f"rows already told (idx {told} are stored)")
        err_col = frame["error"] if "error" in frame.columns else pd.Series([None] * len(frame), index=frame.index)
        cheap_ev = problem.cheap_evaluator
        cheap_names = set(problem.cheap_outputs)
        choice_cols = [n for n in space.names if n in frame.columns]
        records = []
        missing_by_name: dict[str, list[int]] = {}
        for (_, row), i, err in zip(frame.iterrows(), idxs, err_col.tolist()):
            if i is None or i not in pending:
                continue
            cfg = pending[i]["config"]
            if choice_cols:
                given = {n: row[n] for n in choice_cols}
                try:
                    same = all(space[n].index(plain(given[n])) == space[n].index(cfg[n]) for n in choice_cols)
                except ValueError:
                    same = False
                if not same:
                    errors.append(f"idx {i}: the configuration differs from the proposal")
                    continue
            failed = isinstance(err, str) and err.strip() != ""
            vals = {}
            for name in problem.outputs:
                v = row[name] if name in frame.columns else None
                v = None if v is None or (isinstance(v, float) and math.isnan(v)) else v
                if v is not None:
                    try:
                        vals[name] = float(v)
                    except (TypeError, ValueError):
                        errors.append(f"idx {i}: {name}={v!r} is not a number")
                elif not failed and not (name in cheap_names and cheap_ev is not None):
                    missing_by_name.setdefault(name, []).append(i)
            records.append((i, cfg, vals, err if failed else None))
        for name, ids in missing_by_name.items():
            errors.append(f"missing objective {name!r} for idx {sorted(ids)}")
        if errors:
            raise ValueError("nothing was stored: " + "; ".join(errors))
        for i, cfg, vals, err in records:
            extra: dict[str, Any] = {}
            need = [n for n in problem.cheap_outputs if n not in vals]
            if need and err is None:
                res = cheap_ev.evaluate([cfg])
                for n in need:
                    vals[n] = float(res.column(n)[0])
                extra = res.extras_of(0)
                if res.errors[0] is not None:
                    err = f"cheap outputs failed: {res.errors[0]}"
            r.store.record(
                cfg, vals, evaluator=evaluator, error=err, idx=i, seed=r.seed, extra=extra, tag=pending[i]["tag"]
            )
        r._set_pending(r.pending())
        return {"told": len(records), "pending": len(r.pending()), "evaluations": r.n_done}
    finally:
        if r is not run:
            r.close()
