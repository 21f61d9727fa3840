"""Labeled datasets: one column per choice, one per objective, written to parquet or CSV.

Column layout of a dataset frame (``n`` rows, one per evaluated configuration):

* one column per choice of the space, in the space's order, holding the choice's value
  (canonical: inactive choices at their first value);
* one float column per objective, in the declared order;
* one column per auxiliary output (``resident``, ``program_time_s``, ...);
* optional bookkeeping columns, :data:`META_COLUMNS`.

Parquet files carry the space description, the objectives (with directions) and the list of
auxiliary columns in their schema metadata (key ``cimnet_bo``), so a file is read back
without guessing; a CSV written here carries the same metadata in a sidecar file
(``<name>.csv.meta.json``, :func:`csv_meta_path`). A CSV without one (or a parquet written by
other tools) is read by column names: every column must be a choice, a bookkeeping column or
a numeric value column; the space is the one its ``space`` / ``space_version`` columns name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from cimnet_bo.core import CimnetError, atomic_write, check_input_file, check_output_path, plain
from cimnet_bo.hardware.version import check_model_version, model_version_meta
from cimnet_bo.moo import default_direction, domain_problems
from cimnet_bo.space import AnySpace, SpaceLike, as_space, subnet_side
from cimnet_bo.store.run import stored_number

#: Bookkeeping columns a dataset may carry besides choices and values.
META_COLUMNS = ("idx", "tag", "error", "evaluator", "seed", "created", "space", "space_version")
#: Directions assumed for objectives read from files that do not declare them.
_META_KEY = b"cimnet_bo"
#: Wrong values a dataset error lists (the count of the others follows).
MAX_LISTED = 20


class DatasetError(CimnetError, ValueError):
    """A dataset does not match its space: the message names the offending columns."""


@dataclass
class Dataset:
    """A labeled dataset of a space.

    Attributes
    ----------
    space : Space or JointSpace
    frame : pandas.DataFrame
        ``n`` rows; columns as described in the module docstring.
    objectives : list of dict
        ``{name, direction, cheap}`` per objective column.
    extras : list of str
        Auxiliary numeric columns (not objectives).
    meta : dict
        What the file's metadata said (space, evaluators, ...).
    """

    space: Any
    frame: Any
    objectives: list[dict[str, Any]]
    extras: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def objective_names(self) -> list[str]:
        """Objective column names, in order."""
        return [o["name"] for o in self.objectives]

    def configs(self) -> list[dict[str, Any]]:
        """The ``n`` configurations as plain dicts."""
        cols = [self.frame[n].tolist() for n in self.space.names]
        return [dict(zip(self.space.names, row)) for row in zip(*cols)]

    def values(self, name: str) -> np.ndarray:
        """Float array (n,) of one objective or auxiliary column."""
        if name not in self.frame.columns:
            raise KeyError(f"dataset has no column {name!r}; objectives: {self.objective_names}, extras: {self.extras}")
        return self.frame[name].to_numpy(dtype=np.float64)

    def subnet_keys(self) -> list[tuple]:
        """Per row, the tuple of subnet-choice values (joint spaces; else the whole config)."""
        names = subnet_side(self.space).names
        cols = [self.frame[n].tolist() for n in names]
        return list(zip(*cols))

    def ok(self) -> "Dataset":
        """The rows without error text and with every objective finite."""
        mask = np.ones(len(self.frame), dtype=bool)
        if "error" in self.frame.columns:
            mask &= self.frame["error"].isna().to_numpy()
        for o in self.objective_names:
            mask &= np.isfinite(self.values(o))
        return Dataset(self.space, self.frame[mask].reset_index(drop=True), self.objectives, self.extras, self.meta)


# ----------------------------------------------------------------------- building
def frame_from_rows(space: AnySpace, rows: Sequence[Mapping[str, Any]], objectives: Sequence[Mapping[str, Any]]):
    """A dataset frame from run-store rows (see :meth:`RunStore.rows`).

    Returns
    -------
    pandas.DataFrame
        ``len(rows)`` rows; ``attrs["cimnet_bo"]`` holds the metadata written to parquet.
    """
    import pandas as pd

    obj_names = [o["name"] for o in objectives]
    for r in rows:  # objectives present in rows but not declared (ad hoc runs)
        for k in r["objectives"]:
            if k not in obj_names:
                obj_names.append(k)
                objectives = list(objectives) + [{"name": k, "direction": default_direction(k), "cheap": False}]
    extras = sorted({k for r in rows for k in r.get("extra", {})} - set(obj_names) - set(space.names))
    data: dict[str, list] = {n: [r["config"][n] for r in rows] for n in space.names}
    for n in obj_names:
        data[n] = [stored_number(r["objectives"].get(n)) for r in rows]
    for n in extras:
        data[n] = [np.nan if (v := r.get("extra", {}).get(n)) is None else v for r in rows]
    for n in META_COLUMNS:
        data[n] = [r.get(n) for r in rows]
    frame = pd.DataFrame(data)
    for n in space.names:
        if len(rows) == 0:
            continue
        frame[n] = frame[n].astype(_choice_dtype(space[n].values))
    frame.attrs["cimnet_bo"] = {
        "space": space.name,
        "space_version": space.version,
        "space_def": space.to_dict(),
        "objectives": list(objectives),
        "extras": extras,
        "evaluators": sorted({r["evaluator"] for r in rows}),
        **model_version_meta(space),
    }
    return frame


def _choice_dtype(values: Sequence[Any]) -> Any:
    if all(isinstance(v, (bool, np.bool_)) for v in values):
        return bool
    if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
        return np.int64
    if all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in values):
        return np.float64
    return object


# ------------------------------------------------------------------------ writing
def check_dataset_path(path: str | Path, what: str = "dataset file") -> Path:
    """``path`` checked as a dataset to write: it ends in ``.parquet`` or ``.csv``, is not a
    folder and has no file in the way of its folder (nothing is created).

    Raises
    ------
    InputFileError
        A folder, or a file in the way of its folder (naming ``what`` and the path).
    DatasetError
        Another suffix.
    """
    path = check_output_path(path, what)
    if path.suffix.lower() not in (".parquet", ".csv"):
        raise DatasetError(f"{what} {path} must end in .parquet or .csv")
    return path


def write_dataset(frame: Any, path: str | Path) -> Path:
    """Write a dataset frame to ``.parquet`` (with its metadata) or ``.csv`` (with its metadata
    sidecar, :func:`csv_meta_path`), atomically: each file is written to a temporary file renamed
    into place, and the temporary files of a failed write are removed."""
    path = check_dataset_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta_json = json.dumps(frame.attrs.get("cimnet_bo", {}))
    if path.suffix.lower() == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(frame, preserve_index=False)
        meta = dict(table.schema.metadata or {})
        meta[_META_KEY] = meta_json.encode()
        with atomic_write(path) as tmp:
            pq.write_table(table.replace_schema_metadata(meta), tmp)
    else:
        with atomic_write(csv_meta_path(path)) as tmp:
            tmp.write_text(meta_json + "\n")
        with atomic_write(path) as tmp:
            frame.to_csv(tmp, index=False)
    return path


# ------------------------------------------------------------------------ reading
def read_dataset(path: str | Path, space: SpaceLike | None = None, objectives: Sequence[str] | None = None) -> Dataset:
    """Read and check a labeled dataset.

    Parameters
    ----------
    path : str or Path
        A ``.parquet`` or ``.csv`` file.
    space : Space, JointSpace or str, optional
        The space the file must match; default: the one named in the file's metadata.
    objectives : list of str, optional
        Objective columns to expect. Default: those of the file's metadata, or (files without
        metadata) every numeric column that is neither a choice nor a bookkeeping column.

    Returns
    -------
    Dataset

    Raises
    ------
    DatasetError
        Naming missing choice columns, columns the space does not know, non-numeric value
        columns, choice columns holding values the space does not allow, or values outside
        their output's domain (an infinity, accuracy outside [0, 1], a latency <= 0, ...).
    """
    path = Path(path)
    frame, meta = read_table(path, "dataset")
    if path.suffix.lower() == ".csv" and not csv_meta_path(path).exists():
        meta = _meta_from_columns(frame)
    space = None if space is None else as_space(space)
    if space is None:
        space = _space_from_meta(meta, path)
    elif meta.get("space") and (meta["space"], meta.get("space_version")) != (space.name, space.version):
        raise DatasetError(
            f"{path} holds data of space {meta['space']!r} version "
            f"{meta.get('space_version')!r}, not {space.name!r} version {space.version!r}"
        )
    if meta.get("objectives"):  # written here: it records the CiM model version
        check_model_version(meta, space, str(path), DatasetError)
    declared = {o["name"]: o for o in meta.get("objectives", [])}
    extras = list(meta.get("extras", []))
    if objectives is None and declared:
        objectives = list(declared)
    frame, obj_names, extras = check_frame(frame, space, objectives, extras, source=str(path))
    objs = [declared.get(n, {"name": n, "direction": default_direction(n), "cheap": False}) for n in obj_names]
    return Dataset(space, frame, objs, extras, meta)


def read_table(path: str | Path, what: str = "table") -> tuple[Any, dict[str, Any]]:
    """A ``.parquet`` or ``.csv`` file as ``(frame, metadata)``, not checked against any space.

    The metadata is what the file carries (a parquet schema's ``cimnet_bo`` entry, a CSV's
    sidecar :func:`csv_meta_path`), ``{}`` when it carries none.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    InputFileError
        ``path`` is a folder.
    DatasetError
        Naming ``what`` and the file: another suffix, an empty file, a file that is not parquet
        or CSV (corrupt, truncated, binary), or a sidecar that is not JSON.
    """
    import pandas as pd

    path = check_input_file(path, f"{what} file")
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise DatasetError(f"{what} file {path} must end in .parquet or .csv")
    if path.stat().st_size == 0:
        raise DatasetError(f"{what} file {path} is empty")
    meta: dict[str, Any] = {}
    try:
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            table = pq.read_table(path)
            raw = (table.schema.metadata or {}).get(_META_KEY)
            meta = json.loads(raw) if raw else {}
            frame = table.to_pandas()
        else:
            frame = pd.read_csv(path)
    except (ValueError, OSError) as e:  # pyarrow's ArrowInvalid and pandas' parser errors are ValueErrors
        kind = "parquet" if suffix == ".parquet" else "CSV"
        text = " ".join(str(e).split()) or type(e).__name__
        problem = f"is not a readable {kind} file (corrupt or truncated?)"
        raise DatasetError(f"{what} file {path} {problem}: {text}") from None
    side = csv_meta_path(path)
    if suffix == ".csv" and side.exists():
        try:
            meta = json.loads(side.read_text())
        except ValueError as e:
            raise DatasetError(f"{side} (the metadata of {path}) is not valid JSON: {e}") from None
    return frame, meta


def csv_meta_path(path: str | Path) -> Path:
    """The metadata sidecar of a CSV dataset: ``<name>.meta.json`` next to it."""
    path = Path(path)
    return path.with_name(path.name + ".meta.json")


def _meta_from_columns(frame: Any) -> dict[str, Any]:
    """What a frame's own columns say: the space its ``space`` / ``space_version`` columns name
    (one value each), and the roofline's auxiliary outputs as auxiliary columns."""
    from cimnet_bo.hardware import ROOFLINE_EXTRAS

    meta: dict[str, Any] = {}
    for key in ("space", "space_version"):
        if key in frame.columns:
            values = frame[key].dropna().astype(str).unique()
            if len(values) == 1:
                meta[key] = values[0]
    extras = [c for c in ROOFLINE_EXTRAS if c in frame.columns]
    if extras:
        meta["extras"] = extras
    return meta


def _space_from_meta(meta: Mapping[str, Any], path: Path) -> Any:
    from cimnet_bo.space import space_from_meta

    if not meta.get("space"):
        raise DatasetError(f"{path} does not say which space it belongs to: pass space=")
    try:
        return space_from_meta(meta, str(path))
    except CimnetError as e:
        raise DatasetError(str(e)) from None


def check_frame(
    frame: Any,
    space: AnySpace,
    objectives: Sequence[str] | None = None,
    extras: Sequence[str] = (),
    source: str = "dataset",
) -> tuple[Any, list[str], list[str]]:
    """Check a frame's columns against a space; return ``(frame, objectives, extras)`` with the
    choice columns canonicalised (inactive choices at their first value).

    Raises
    ------
    DatasetError
        Naming every offending column (see :func:`read_dataset`), or the values of objective
        and auxiliary columns outside their output's domain (:mod:`cimnet_bo.moo.domains`;
        empty cells are allowed) by row, counted from 1, and column.
    """
    import pandas as pd

    cols = [str(c) for c in frame.columns]
    frame = frame.copy()
    frame.columns = cols
    names = list(space.names)
    missing = [n for n in names if n not in cols]
    others = [c for c in cols if c not in names and c not in META_COLUMNS]
    extras = [e for e in extras if e in cols]
    problems = []
    if objectives is not None:
        objectives = list(objectives)
        miss_obj = [o for o in objectives if o not in cols]
        if miss_obj:
            problems.append(f"missing objective columns {miss_obj}")
        unknown = [c for c in others if c not in objectives and c not in extras]
    else:
        unknown = [c for c in others if c not in extras and not pd.api.types.is_numeric_dtype(frame[c])]
        objectives = [c for c in others if c not in extras and c not in unknown]
    if missing:
        problems.append(f"missing choice columns {missing}")
    if unknown:
        problems.append(f"columns not in the space {unknown}")
    nonnum = [o for o in objectives if o in cols and not pd.api.types.is_numeric_dtype(frame[o])]
    if nonnum:
        problems.append(f"non-numeric objective columns {nonnum}")
    if problems:
        raise DatasetError(
            f"{source} does not match space {space.name!r}: "
            + "; ".join(problems)
            + f". The space's choices are {names}"
        )
    bad = []
    for n in names:
        ch = space[n]
        for v in pd.unique(frame[n]):
            v = plain(v)
            try:
                ch.index(v)
            except ValueError:
                bad.append(f"{n!r} has value {v!r} (allowed: {list(ch.values)})")
                break
    if bad:
        raise DatasetError(f"{source} does not match space {space.name!r}: column " + "; column ".join(bad))
    if len(frame):
        canon = space.from_indices(space.to_indices(frame[names].to_dict("records")))
        for n in names:
            frame[n] = pd.Series([c[n] for c in canon], index=frame.index).astype(_choice_dtype(space[n].values))
    for o in objectives + extras:
        frame[o] = pd.to_numeric(frame[o], errors="coerce")
    wrong = sorted((k, msg) for o in objectives + extras for k, msg in domain_problems(o, frame[o].to_numpy()))
    if wrong:
        shown = "; ".join(f"row {k + 1}, {msg}" for k, msg in wrong[:MAX_LISTED])
        more = f"; and {len(wrong) - MAX_LISTED} more" if len(wrong) > MAX_LISTED else ""
        raise DatasetError(f"{source} holds values outside their outputs' domains: {shown}{more}")
    return frame, objectives, extras
