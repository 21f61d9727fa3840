"""Input files and output paths, checked before anything is read or written; files written
atomically; locks.

* :func:`read_yaml` reads every YAML file the project takes as input (search configurations,
  space descriptions, technology constants): a missing file, a folder, a binary file, a YAML
  syntax error or a top level that is not a mapping is a :class:`InputFileError` naming the
  file (and the line of a syntax error);
* :func:`check_output_path` checks where a command will write a file or a folder (not the
  other kind already there, no file where a parent folder must be), before it does any work;
* :func:`removed_on_error` removes what a failed step created, so that a command that fails
  leaves no new file or folder behind.
* :func:`atomic_write` writes a file whole or not at all;
* :func:`acquire_flock` takes an exclusive lock that dies with its holder.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from cimnet_bo.core.errors import CimnetError


class InputFileError(CimnetError, ValueError):
    """An input file cannot be read as what it should be, or an output path is unusable; the
    message names the file."""


def check_input_file(path: str | Path, what: str) -> Path:
    """``path`` as a :class:`~pathlib.Path`, checked to be an existing file.

    Raises
    ------
    FileNotFoundError
        Nothing is there (the message names ``what`` and the path).
    InputFileError
        A folder is there.
    """
    p = Path(path)
    if p.is_dir():
        raise InputFileError(f"{what} {p} is a folder, not a file")
    if not p.exists():
        raise FileNotFoundError(f"{what} {p} not found")
    return p


def read_text(path: str | Path, what: str) -> str:
    """The text of the file ``path`` (UTF-8); a binary file is an :class:`InputFileError`."""
    p = check_input_file(path, what)
    try:
        return p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise InputFileError(f"{what} {p} is not a text file (byte {e.start} is not UTF-8)") from None


def read_yaml(path: str | Path, what: str) -> dict[str, Any]:
    """The mapping at the top level of the YAML file ``path`` (an empty file gives ``{}``).

    Parameters
    ----------
    path : str or Path
    what : str
        What the file is, for messages (``"config file"``, ``"space file"``, ...).

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    InputFileError
        ``path`` is a folder or a binary file, holds a YAML syntax error (the message gives its
        line and column) or holds something other than a mapping at the top level.
    """
    import yaml

    text = read_text(path, what)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e)
        raise InputFileError(f"{what} {path} is not valid YAML{where}: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputFileError(f"{what} {path} must hold a mapping (key: value lines), not a {type(data).__name__}")
    return data


def check_output_path(path: str | Path, what: str, folder: bool = False) -> Path:
    """``path`` as a :class:`~pathlib.Path`, checked as a place to write a file (or, with
    ``folder``, a folder): the other kind must not be there, and no existing part of its
    parent path may be a file. Nothing is created.

    Raises
    ------
    InputFileError
        Naming ``what``, the path and the part that is in the way.
    """
    p = Path(path)
    if folder and p.exists() and not p.is_dir():
        raise InputFileError(f"{what} {p} is a file, not a folder")
    if not folder and p.is_dir():
        raise InputFileError(f"{what} {p} is a folder, not a file")
    for parent in p.parents:
        if parent.exists():
            if not parent.is_dir():
                raise InputFileError(f"{what} {p} cannot be written: {parent} is a file, not a folder")
            break
    return p


@contextmanager
def removed_on_error(*paths: str | Path, errors: tuple[type[BaseException], ...] = (BaseException,)) -> Iterator[None]:
    """Run a block that may create ``paths`` (files, folders) and the folders above them; when
    it raises one of ``errors``, remove those that did not exist before it, deepest first
    (folders only when empty), and raise again.

    Parameters
    ----------
    *paths : str or Path
    errors : tuple of exception types
        The failures after which nothing worth keeping was written (default: any).
    """
    new: set[Path] = set()
    for p in map(Path, paths):
        new.update(q for q in (p, *p.parents) if not q.exists())
    try:
        yield
    except errors:
        for p in sorted(new, key=lambda q: len(q.parts), reverse=True):
            try:
                if p.is_dir():
                    p.rmdir()
                else:
                    p.unlink(missing_ok=True)
            except OSError:
                pass  # not empty, or not ours to remove
        raise


@contextmanager
def atomic_write(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; renamed over ``path`` when the block ends
    without error, removed otherwise. A reader never sees a partial file.

    Examples
    --------
    >>> with atomic_write("out.csv") as tmp:  # doctest: +SKIP
    ...     frame.to_csv(tmp, index=False)
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory, not a file")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def acquire_flock(path: str | Path, wait: float = 0.0) -> int | None:
    """An exclusive ``flock`` on ``path`` (created if missing), waiting up to ``wait`` seconds.

    The operating system releases the lock when the descriptor is closed or its process dies
    (``SIGKILL`` included), so a lock is never left behind.

    Returns
    -------
    int or None
        The open descriptor holding the lock (``os.close`` it to release), or None when another
        process holds the lock past ``wait``.

    Raises
    ------
    ImportError
        Not a POSIX system (no ``fcntl``).
    """
    import fcntl

    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + max(0.0, wait)
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            left = deadline - time.monotonic()
            if left <= 0:
                os.close(fd)
                return None
            time.sleep(min(0.1, left))
