"""The run store: one SQLite file per run, every evaluation committed as it completes.

A run store is the single source of truth of a labeling or search run (like an Optuna
study's storage): re-opening the same file resumes the run. The file uses SQLite's WAL
journal with ``synchronous=FULL``, and every :meth:`RunStore.record` is its own transaction,
so a process killed at any moment (``SIGKILL`` included) loses no evaluation that
:meth:`~RunStore.record` returned from, and leaves no half-written row.

Tables
------
``meta(key, value)``
    JSON values: ``space`` (name), ``space_version``, ``space_def`` (the space description),
    ``objectives`` (list of ``{name, direction, cheap}``), ``created``, ``schema``, and what
    the caller adds with :meth:`RunStore.set_meta` (a labeling run stores its plan).
``evaluations``
    One row per evaluated candidate: ``idx`` (the candidate's number in the run's plan,
    unique when set), ``tag``, ``config`` (JSON), ``config_key`` (checksum of the canonical
    config), ``objectives`` (JSON ``{name: value or null}``), ``extra`` (JSON of auxiliary
    outputs), ``error`` (failure text or NULL), ``space``, ``space_version``, ``evaluator``
    (the evaluator's identity, e.g. a checkpoint checksum), ``seed`` and ``created``
    (Unix time).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np

from cimnet_bo.core import CimnetError, check_output_path, plain, removed_on_error
from cimnet_bo.hardware.version import check_model_version, model_version_meta
from cimnet_bo.space import AnySpace
from cimnet_bo.store.lock import WriterLock

SCHEMA_VERSION = 1
#: A run directory holds its resolved configuration and its store under these names.
RUN_CONFIG_FILE = "config.yaml"
RUN_STORE_FILE = "store.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS evaluations (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    idx           INTEGER UNIQUE,
    tag           TEXT,
    config        TEXT NOT NULL,
    config_key    TEXT NOT NULL,
    objectives    TEXT NOT NULL,
    extra         TEXT,
    error         TEXT,
    space         TEXT NOT NULL,
    space_version TEXT NOT NULL,
    evaluator     TEXT NOT NULL,
    seed          INTEGER,
    created       REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS evaluations_config_key ON evaluations (config_key);
"""


class StoreError(CimnetError, ValueError):
    """The store file does not belong to this space or run, or a row is recorded twice."""


def is_run_dir(path: str | Path) -> bool:
    """True when ``path`` holds a run (:data:`RUN_CONFIG_FILE` and :data:`RUN_STORE_FILE`)."""
    p = Path(path)
    return (p / RUN_CONFIG_FILE).is_file() and (p / RUN_STORE_FILE).is_file()


def holds_run(path: str | Path) -> bool:
    """True when ``path`` holds something of a run (its :data:`RUN_CONFIG_FILE` or its
    :data:`RUN_STORE_FILE`): a run to open, restore or refuse, not a place for a new one."""
    p = Path(path)
    return (p / RUN_CONFIG_FILE).exists() or (p / RUN_STORE_FILE).exists()


def stored_number(v: Any) -> float:
    """A stored output value as a float: ``None`` (written for NaN and infinities) and anything
    that is not a number become NaN."""
    try:
        return float("nan") if v is None else float(v)
    except (TypeError, ValueError):
        return float("nan")


def dumps(obj: Mapping[str, Any]) -> str:
    """Strict JSON of a flat mapping (NaN and infinities written as null)."""
    return json.dumps({str(k): plain(v, finite=True) for k, v in obj.items()}, allow_nan=False)


def config_key(config: Mapping[str, Any]) -> str:
    """A short checksum identifying a canonical configuration (order of keys ignored)."""
    blob = json.dumps({k: plain(v, finite=True) for k, v in config.items()}, sort_keys=True)
    return hashlib.sha1(blob.encode()).hexdigest()[:20]


class RunStore:
    """A run's evaluations in one SQLite file (created if missing, resumed if present).

    Parameters
    ----------
    path : str or Path
        The ``.sqlite`` file. Its folder is created.
    space : Space or JointSpace, optional
        Required to create a store. When opening an existing store it is checked against the
        stored space name and version (a mismatch raises :class:`StoreError`); when omitted,
        the stored description is used.
    objectives : sequence of Objective or dict, optional
        The run's objectives, stored with the run (checked by name when re-opened).
    create : bool
        If False, a missing file is an error (``FileNotFoundError``).
    write : bool
        Open as the store's one writer (default): an exclusive :class:`~cimnet_bo.store.lock.WriterLock`
        is held until :meth:`close`, and a second writer is refused with
        :class:`~cimnet_bo.store.lock.LockedError` naming the process that holds it. With False
        the store is only read: no lock, nothing written, and a file that holds no store is an error.

    Notes
    -----
    Use as a context manager, or call :meth:`close`. One process writes a store at a time;
    readers may open it concurrently (WAL).
    """

    def __init__(
        self,
        path: str | Path,
        space: AnySpace | None = None,
        objectives: Sequence[Any] | None = None,
        create: bool = True,
        write: bool = True,
    ) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise StoreError(f"run store {self.path} is a folder, not a file")
        if not self.path.exists():
            if not create or not write:
                raise FileNotFoundError(f"run store {self.path} does not exist")
            if space is None:
                raise ValueError(f"creating run store {self.path} needs the space")
            check_output_path(self.path, "run store")
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn: sqlite3.Connection | None = None
        self._lock: WriterLock | None = None
        lock_file = Path(f"{self.path}.lock")
        lock_made, new = write and not lock_file.exists(), False
        try:
            with store_errors(self.path):
                # the lock first: what exists is then settled (no other writer is creating it)
                if write:
                    self._lock = WriterLock(self.path, f"store {self.path}")
                new = not self.path.exists()
                if not new and self.path.stat().st_size == 0:
                    raise StoreError(f"{self.path} is not a run store: the file is empty (truncated?)")
                # a store this call creates is not left behind when it cannot be set up
                with removed_on_error(*store_files(self.path)) if new else nullcontext():
                    self._conn = sqlite3.connect(str(self.path), timeout=30.0, isolation_level=None)
                    self._open(space, objectives, write)
        except BaseException:
            if new and lock_made:  # a store that could not be created leaves no lock file either
                lock_file.unlink(missing_ok=True)
            self.close()
            raise

    def _open(self, space: AnySpace | None, objectives: Sequence[Any] | None, write: bool) -> None:
        """Check that the file is a run store (or a new one), set the connection up, create the
        tables of a new store (``write``), read (or write) its metadata and check it against
        ``space`` and ``objectives``."""
        tables = {name for (name,) in self._conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        foreign = sorted(tables - {"meta", "evaluations", "sqlite_sequence"})
        if foreign:
            raise StoreError(f"{self.path} is not a run store: it holds the tables {foreign}")
        if write:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            for stmt in _SCHEMA.strip().split(";"):
                if stmt.strip():
                    self._conn.execute(stmt)
        self.meta = self._read_meta() if "meta" in tables or write else {}
        if not self.meta and not write:
            raise StoreError(f"{self.path} holds no run store (it is empty)")
        if not self.meta:
            self._init_meta(space, objectives)
        else:
            self._check(space, objectives)
        self.space = space if space is not None else self._stored_space()

    # ------------------------------------------------------------------ internals
    def _tx(self):
        return _transaction(self._conn, self.path)

    def _read_meta(self) -> dict[str, Any]:
        meta = {}
        for k, v in self._conn.execute("SELECT key, value FROM meta"):
            try:
                meta[k] = json.loads(v)
            except ValueError:
                raise StoreError(f"{self.path}: the stored {k!r} is not JSON (corrupt store?)") from None
        return meta

    def _init_meta(self, space: AnySpace, objectives: Sequence[Any] | None) -> None:
        if space is None:
            raise ValueError(f"run store {self.path} is empty: pass the space to initialise it")
        meta = {
            "schema": SCHEMA_VERSION,
            "space": space.name,
            "space_version": space.version,
            "space_def": space.to_dict(),
            "objectives": _objective_dicts(objectives),
            "created": time.time(),
            **model_version_meta(space),
        }
        with self._tx():
            for k, v in meta.items():
                self._conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (k, json.dumps(v)))
        self.meta = meta

    def _check(self, space: AnySpace, objectives: Sequence[Any] | None) -> None:
        if self.meta.get("schema") != SCHEMA_VERSION:
            raise StoreError(f"{self.path}: store schema {self.meta.get('schema')} is not {SCHEMA_VERSION}")
        if space is not None and (space.name, space.version) != (self.meta["space"], self.meta["space_version"]):
            raise StoreError(
                f"{self.path} belongs to space {self.meta['space']!r} version "
                f"{self.meta['space_version']!r}, not {space.name!r} version {space.version!r}"
            )
        check_model_version(
            self.meta, space if space is not None else self._stored_space(), f"run store {self.path}", StoreError
        )
        if objectives is not None:
            want = [o["name"] for o in _objective_dicts(objectives)]
            have = [o["name"] for o in self.meta.get("objectives", [])]
            if have and want != have:
                raise StoreError(f"{self.path} records objectives {have}, not {want}")
            if not have:
                self.set_meta("objectives", _objective_dicts(objectives))

    def _stored_space(self) -> Any:
        from cimnet_bo.space import space_from_meta

        return space_from_meta(self.meta, str(self.path))

    # --------------------------------------------------------------------- public
    @property
    def objective_names(self) -> list[str]:
        """Names of the run's declared objectives, in order."""
        return [o["name"] for o in self.meta.get("objectives", [])]

    def set_meta(self, key: str, value: Any) -> None:
        """Store a JSON-able value under ``key`` (committed at once)."""
        with self._tx():
            self._conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))
        self.meta[key] = value

    def record(
        self,
        config: Mapping[str, Any],
        objectives: Mapping[str, Any],
        *,
        evaluator: str,
        error: str | None = None,
        idx: int | None = None,
        seed: int | None = None,
        extra: Mapping[str, Any] | None = None,
        tag: str | None = None,
    ) -> int:
        """Commit one evaluation; returns its row id.

        Parameters
        ----------
        config : dict
            The configuration (validated and stored in canonical form).
        objectives : dict
            ``{objective name: value}``; NaN or None for missing values.
        evaluator : str
            Identity of the evaluator that produced the values.
        error : str, optional
            Failure text; the row is then a failed evaluation.
        idx : int, optional
            The candidate's number in the run's plan. Unique per store: recording an ``idx``
            twice raises :class:`StoreError`.
        seed : int, optional
            Seed of the run or of the candidate.
        extra : dict, optional
            Auxiliary outputs (``resident``, ``program_time_s``, ...).
        tag : str, optional
            Free label (``"label"``, ``"round-3"``, ``"import"``).
        """
        cfg = self.space.validate(config)
        row = (
            None if idx is None else int(idx),
            tag,
            json.dumps(cfg),
            config_key(cfg),
            dumps(objectives),
            dumps(extra) if extra else None,
            error,
            self.meta["space"],
            self.meta["space_version"],
            str(evaluator),
            None if seed is None else int(seed),
            time.time(),
        )
        try:
            with self._tx():
                cur = self._conn.execute(
                    "INSERT INTO evaluations (idx, tag, config, config_key, objectives, extra, error, "
                    "space, space_version, evaluator, seed, created) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    row,
                )
        except sqlite3.IntegrityError:
            raise StoreError(f"{self.path}: candidate idx={idx} is already recorded") from None
        return int(cur.lastrowid)

    def count_ok(self) -> int:
        """Number of successful evaluations (rows without error text)."""
        return int(self._conn.execute("SELECT COUNT(*) FROM evaluations WHERE error IS NULL").fetchone()[0])

    def replace(self, results: Sequence[Mapping[str, Any]], *, evaluator: str) -> None:
        """Replace the outputs of recorded candidates, all in one transaction.

        Parameters
        ----------
        results : sequence of dict
            ``{"idx", "objectives", "error" (optional), "extra" (optional)}`` per candidate,
            as :meth:`record` takes them; the configuration, tag and seed stay as recorded.
        evaluator : str
            Identity of the evaluator that produced the new values.

        Raises
        ------
        StoreError
            When an ``idx`` is not recorded; nothing is changed then.
        """
        with self._tx():
            for res in results:
                cur = self._conn.execute(
                    "UPDATE evaluations SET objectives = ?, extra = ?, error = ?, evaluator = ?, created = ? "
                    "WHERE idx = ?",
                    (
                        dumps(res["objectives"]),
                        dumps(res["extra"]) if res.get("extra") else None,
                        res.get("error"),
                        str(evaluator),
                        time.time(),
                        int(res["idx"]),
                    ),
                )
                if cur.rowcount != 1:
                    raise StoreError(f"{self.path}: candidate idx={res['idx']} is not recorded")

    def delete(self, idxs: Iterable[int]) -> int:
        """Delete the rows of the candidates ``idxs``, all in one transaction; returns how many.

        Raises
        ------
        StoreError
            When an ``idx`` is not recorded; nothing is deleted then.
        """
        wanted = sorted({int(i) for i in idxs})
        with self._tx():
            for i in wanted:
                if self._conn.execute("DELETE FROM evaluations WHERE idx = ?", (i,)).rowcount != 1:
                    raise StoreError(f"{self.path}: candidate idx={i} is not recorded")
        return len(wanted)

    def done(self) -> set[int]:
        """The ``idx`` of every recorded candidate (failed ones included)."""
        return {int(r[0]) for r in self._conn.execute("SELECT idx FROM evaluations WHERE idx IS NOT NULL")}

    def __len__(self) -> int:
        return int(self._conn.execute("SELECT COUNT(*) FROM evaluations").fetchone()[0])

    def rows(self, include_failed: bool = True) -> list[dict[str, Any]]:
        """Every recorded evaluation as a dict (JSON columns decoded, None -> NaN for
        objectives), in recording order."""
        sql = (
            "SELECT id, idx, tag, config, objectives, extra, error, space, space_version, evaluator, "
            "seed, created FROM evaluations"
        )
        if not include_failed:
            sql += " WHERE error IS NULL"
        out = []
        for r in self._conn.execute(sql + " ORDER BY id"):
            out.append(
                {
                    "id": r[0],
                    "idx": r[1],
                    "tag": r[2],
                    "config": json.loads(r[3]),
                    "objectives": {k: (np.nan if v is None else v) for k, v in json.loads(r[4]).items()},
                    "extra": json.loads(r[5]) if r[5] else {},
                    "error": r[6],
                    "space": r[7],
                    "space_version": r[8],
                    "evaluator": r[9],
                    "seed": r[10],
                    "created": r[11],
                }
            )
        return out

    def delete_failed(self) -> int:
        """Delete the failed rows (so a resumed run evaluates their candidates again);
        returns how many were deleted."""
        with self._tx():
            cur = self._conn.execute("DELETE FROM evaluations WHERE error IS NOT NULL")
        return int(cur.rowcount)

    def failures(self) -> list[dict[str, Any]]:
        """The failed evaluations (rows with error text)."""
        return [r for r in self.rows() if r["error"] is not None]

    def to_frame(self, include_failed: bool = False):
        """The run as a pandas DataFrame: one column per choice, per objective, per extra
        output, then the columns of :data:`cimnet_bo.store.dataset.META_COLUMNS`.
        ``frame.attrs`` holds the space and objective description."""
        from cimnet_bo.store.dataset import frame_from_rows

        rows = sorted(self.rows(include_failed), key=lambda r: (r["idx"] is None, r["idx"] or 0, r["id"]))
        return frame_from_rows(self.space, rows, self.meta.get("objectives", []))

    def export(self, path: str | Path, include_failed: bool = False) -> Path:
        """Write the run as a dataset (``.parquet`` or ``.csv``); returns the path."""
        from cimnet_bo.store.dataset import write_dataset

        return write_dataset(self.to_frame(include_failed), path)

    def import_frame(self, frame: Any, evaluator: str, tag: str = "import", extras: Sequence[str] = ()) -> int:
        """Record every row of a dataset frame; returns the number of rows added.

        The frame is checked against the space (:func:`~cimnet_bo.store.dataset.check_frame`):
        its objective columns must be the store's objectives (when the store declares none,
        every numeric non-choice column that is not in ``extras`` becomes one), and their values
        lie in their outputs' domains (a ``DatasetError`` naming each wrong value's row and
        column, and nothing recorded, otherwise). Rows carry no ``idx``; an ``error`` or
        ``evaluator`` column is kept.
        """
        from cimnet_bo.moo import default_direction
        from cimnet_bo.store.dataset import check_frame

        frame, objectives, extras = check_frame(frame, self.space, self.objective_names or None, extras)
        if not self.objective_names:
            self.set_meta(
                "objectives", [{"name": o, "direction": default_direction(o), "cheap": False} for o in objectives]
            )
        n = 0
        for rec in frame.to_dict("records"):
            cfg = {k: rec[k] for k in self.space.names}
            err = rec.get("error") if isinstance(rec.get("error"), str) else None
            ev = rec.get("evaluator") if isinstance(rec.get("evaluator"), str) else evaluator
            self.record(
                cfg,
                {k: rec[k] for k in objectives},
                evaluator=ev,
                error=err,
                tag=tag,
                extra={k: rec[k] for k in extras} or None,
            )
            n += 1
        return n

    def close(self) -> None:
        """Close the database connection (every record is already committed) and release the lock."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> "RunStore":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        rows = "closed" if self._conn is None else len(self)
        return f"RunStore({str(self.path)!r}, space={self.meta.get('space')!r}, rows={rows})"


@contextmanager
def _transaction(conn: sqlite3.Connection, path: Path) -> Iterator[None]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on error) on an autocommit connection;
    SQLite's errors (a full disk, a read-only file) become a :class:`StoreError` naming ``path``."""
    with store_errors(path):
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if conn.in_transaction:  # SQLite may have rolled back itself (a full disk, an I/O error)
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


@contextmanager
def store_errors(path: str | Path) -> Iterator[None]:
    """Turn the SQLite errors raised in the block into a :class:`StoreError` naming the run
    store ``path``: a file that is not an SQLite database (or a damaged one), or one the system
    does not let SQLite open, read or write (read-only, disk full, I/O error)."""
    try:
        yield
    except sqlite3.IntegrityError:
        raise  # a constraint of the data (a candidate recorded twice): the caller's to explain
    except sqlite3.OperationalError as e:
        raise StoreError(f"run store {path}: {e}") from None
    except sqlite3.DatabaseError as e:
        raise StoreError(f"{path} is not a run store (corrupt or truncated?): {e}") from None


def store_files(path: str | Path) -> tuple[Path, ...]:
    """The files of the run store ``path``: itself and SQLite's side files (``-wal``, ``-shm``,
    ``-journal``); not the writer's lock file, which stays (it is only a place to lock)."""
    path = Path(path)
    return (path, *(path.with_name(path.name + s) for s in ("-wal", "-shm", "-journal")))


def _objective_dicts(objectives: Iterable[Any] | None) -> list[dict[str, Any]]:
    out = []
    for o in objectives or []:
        if isinstance(o, str):
            out.append({"name": o, "direction": "min", "cheap": False})
        elif isinstance(o, Mapping):
            out.append(
                {"name": o["name"], "direction": o.get("direction", "min"), "cheap": bool(o.get("cheap", False))}
            )
        else:
            out.append({"name": o.name, "direction": o.direction, "cheap": bool(o.cheap)})
    return out
