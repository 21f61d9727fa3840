"""Files written whole or not at all, and exclusive locks on files."""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


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
