"""Ask/tell: :func:`propose` records its proposals as pending in the run; :func:`tell` stores
their results, or corrects stored ones (``replace=True``); :func:`withdraw` removes stored
results, so that their candidates are pending again.

Every row of a told table is checked before anything is stored: it was proposed, is not told
already (unless replacing), repeats no other row, has the configuration of its proposal, and
every output it gives lies in the output's domain (:mod:`cimnet_bo.moo.domains`: finite, and
accuracy in [0, 1], latency and energy positive, ...); a row without ``error`` text gives every
output that cannot be computed here. One wrong row and nothing is stored: the error lists each
wrong cell by row (counted from 1, the first row under the header) and ``idx``, e.g.
``row 3 (idx 12), accuracy = 7.5: outside [0, 1]``.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from cimnet_bo.core import CimnetError, atomic_write, plain
from cimnet_bo.moo import domain_problem, is_missing
from cimnet_bo.search.run import Run

if TYPE_CHECKING:
    import pandas as pd


class TellError(CimnetError, ValueError):
    """Results that cannot be told, or candidates that cannot be withdrawn; nothing was changed."""


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
        CSV file of the candidates (``idx``, then a column per choice), written whole, and only
        with the candidates recorded as pending: when the file cannot be written or the
        candidates cannot be recorded, neither happens, and proposing again gives the same
        candidates.

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
        if out is None:
            r.add_pending(new)
            return rows
        import pandas as pd

        # the file is written first and renamed into place once the candidates are recorded:
        # either both happen or neither
        with atomic_write(out) as tmp:
            pd.DataFrame(rows, columns=["idx", *r.problem.space.names]).to_csv(tmp, index=False)
            r.add_pending(new)
        return rows
    finally:
        if r is not run:
            r.close()


def results_frame(results: Any) -> pd.DataFrame:
    """``results`` (DataFrame, list of dict or path) as a DataFrame with an ``idx`` column."""
    import pandas as pd

    if isinstance(results, (str, Path)):
        from cimnet_bo.store import read_table

        frame = read_table(results, "results")[0]
    elif isinstance(results, pd.DataFrame):
        frame = results.reset_index(drop=True)
    else:
        frame = pd.DataFrame(list(results))
    if "idx" not in frame.columns:
        where = f"results file {results}" if isinstance(results, (str, Path)) else "results"
        raise TellError(f"{where} has no 'idx' column (the candidate numbers that propose gave)")
    return frame


def _candidate_number(v: Any) -> int | None:
    """``v`` as a candidate number, or None when it is not a whole number."""
    try:
        fv = float(v)
    except (TypeError, ValueError):
        return None
    return int(fv) if fv.is_integer() else None


def _same_config(space: Any, config: Mapping[str, Any], given: Mapping[str, Any], names: list[str]) -> bool:
    """True when the choices ``names`` of ``given`` are those of ``config``."""
    try:
        return all(space[n].index(plain(given[n])) == space[n].index(config[n]) for n in names)
    except ValueError:
        return False


def tell(run: Run | str | Path, results: Any, evaluator: str = "external", replace: bool = False) -> dict[str, Any]:
    """Store the results of proposed candidates, or replace stored ones.

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
    replace : bool
        Rows whose ``idx`` is stored already replace the stored values (their configuration,
        tag and seed stay); the other rows are told as usual.

    Returns
    -------
    dict
        ``told`` (rows stored), ``replaced`` (of which replaced stored ones), ``pending``
        (candidates still waiting), ``evaluations`` (total).

    Raises
    ------
    TellError
        Nothing is stored when any row was never proposed, is told already (without
        ``replace``), repeats another row, has a configuration different from its proposal,
        lacks a required output, or gives a value outside its output's domain (text, an
        infinity, accuracy outside [0, 1], a latency <= 0, ...). The message lists every
        wrong row.
    """
    r = _as_run(run)
    try:
        frame = results_frame(results)
        pending = {p["idx"]: p for p in r.pending()}
        stored = {row["idx"]: row for row in r.store.rows() if row["idx"] is not None}
        idxs, errors = _check_idx(frame, pending, stored, replace)
        rows, wrong = _checked_rows(frame, idxs, {**pending, **stored} if replace else pending, r.problem)
        errors += wrong
        if errors:
            raise TellError("nothing was stored: " + "; ".join(errors))
        _compute_cheap(r.problem, rows)
        again = [row for row in rows if row["idx"] not in pending]
        if again:
            r.store.replace(again, evaluator=evaluator)
        for row in rows:
            if row["idx"] in pending:
                r.store.record(
                    row["config"],
                    row["objectives"],
                    evaluator=evaluator,
                    error=row["error"],
                    idx=row["idx"],
                    seed=r.seed,
                    extra=row["extra"],
                    tag=pending[row["idx"]]["tag"],
                )
        r._set_pending(r.pending())
        r.settle_ref_point()
        return {"told": len(rows), "replaced": len(again), "pending": len(r.pending()), "evaluations": r.n_done}
    finally:
        if r is not run:
            r.close()


def _check_idx(
    frame: pd.DataFrame, pending: Mapping[int, Any], stored: Mapping[int, Any], replace: bool
) -> tuple[list[int | None], list[str]]:
    """The candidate number of each row (None where there is none) and what is wrong with them:
    not a number, repeated, never proposed, or stored already (unless ``replace``)."""
    raw = frame["idx"].tolist()
    idxs = [_candidate_number(v) for v in raw]
    errors = [
        f"row {n}: idx {v!r} is not a candidate number" for n, (v, i) in enumerate(zip(raw, idxs), 1) if i is None
    ]
    counts = Counter(i for i in idxs if i is not None)
    errors += [f"idx {i} appears {c} times" for i, c in counts.items() if c > 1]
    never = sorted(i for i in counts if i not in pending and i not in stored)
    if never:
        errors.append(f"rows never proposed (no pending candidate with idx {never})")
    told = sorted(i for i in counts if i in stored)
    if told and not replace:
        errors.append(f"rows already told (idx {told} are stored; tell with --replace (replace=True) to correct them)")
    return idxs, errors


def _checked_rows(
    frame: pd.DataFrame, idxs: list[int | None], targets: Mapping[int, Any], problem: Any
) -> tuple[list[dict[str, Any]], list[str]]:
    """The rows to store, ``{idx, config, objectives, error}`` each, of the rows whose candidate
    is in ``targets`` (``{idx: {"config": ...}}``), and what is wrong with them: a configuration
    other than the target's, a value outside its output's domain, a required value missing."""
    space = problem.space
    choices = [n for n in space.names if n in frame.columns]
    cheap = set(problem.cheap_outputs) if problem.cheap_evaluator is not None else set()
    given = [n for n in problem.outputs if n in frame.columns]
    err_col = frame["error"].tolist() if "error" in frame.columns else [None] * len(frame)
    rows: list[dict[str, Any]] = []
    errors: list[str] = []
    for n, (rec, i, err) in enumerate(zip(frame.to_dict("records"), idxs, err_col), 1):
        if i not in targets:
            continue
        where = f"row {n} (idx {i})"
        config = targets[i]["config"]
        if choices and not _same_config(space, config, rec, choices):
            errors.append(f"{where}: the configuration differs from the proposal")
            continue
        failed = isinstance(err, str) and err.strip() != ""
        values = {}
        for name in given:
            msg = domain_problem(name, rec[name], missing_ok=failed or name in cheap)
            if msg is not None:
                errors.append(f"{where}, {msg}")
            elif not is_missing(rec[name]) and not math.isnan(float(rec[name])):
                values[name] = float(rec[name])
        rows.append({"idx": i, "config": config, "objectives": values, "error": err if failed else None})
    for name in problem.outputs:
        need = [row["idx"] for row in rows if row["error"] is None and name not in given and name not in cheap]
        if need:
            errors.append(f"no column {name!r} (the rows without an error need it: idx {need})")
    return rows, errors


def _compute_cheap(problem: Any, rows: list[dict[str, Any]]) -> None:
    """Fill in, in place, the cheap outputs that rows without an error lack (one batch of the
    problem's cheap evaluator), and each row's ``extra`` (its auxiliary outputs, or none)."""
    for row in rows:
        row["extra"] = {}
    todo = [
        row for row in rows if row["error"] is None and any(n not in row["objectives"] for n in problem.cheap_outputs)
    ]
    if not todo:
        return
    res = problem.cheap_evaluator.evaluate([row["config"] for row in todo])
    for j, row in enumerate(todo):
        for name in problem.cheap_outputs:
            row["objectives"].setdefault(name, float(res.column(name)[j]))
        row["extra"] = res.extras_of(j)
        if res.errors[j] is not None:
            row["error"] = f"cheap outputs failed: {res.errors[j]}"


def withdraw(run: Run | str | Path, idxs: Iterable[int]) -> dict[str, Any]:
    """Remove the stored results of the candidates ``idxs``: they are pending again (to be told
    again, or evaluated by a search), under the same candidate numbers.

    Returns
    -------
    dict
        ``withdrawn`` (the candidate numbers), ``pending`` (candidates waiting now),
        ``evaluations`` (total).

    Raises
    ------
    TellError
        When an ``idx`` has no stored result (never proposed, or still pending); nothing is
        changed then.
    """
    r = _as_run(run)
    try:
        wanted = sorted({int(i) for i in idxs})
        if not wanted:
            raise TellError("no candidate to withdraw: give at least one idx")
        stored = {row["idx"]: row for row in r.store.rows() if row["idx"] is not None}
        pending = {p["idx"] for p in r.pending()}
        unknown = [i for i in wanted if i not in stored and i not in pending]
        waiting = [i for i in wanted if i in pending]
        problems = []
        if unknown:
            problems.append(f"idx {unknown} were never proposed")
        if waiting:
            problems.append(f"idx {waiting} are pending (no result to withdraw)")
        if problems:
            raise TellError("nothing was withdrawn: " + "; ".join(problems))
        r.withdraw(wanted)
        return {"withdrawn": wanted, "pending": len(r.pending()), "evaluations": r.n_done}
    finally:
        if r is not run:
            r.close()
