"""One writer per store: an exclusive lock that dies with its holder.

A :class:`WriterLock` is an ``flock`` on a file beside the store (``store.sqlite.lock``). The
operating system releases it when the holder closes it or dies in any way (``SIGKILL``
included), so a lock is never left behind by a crash. The lock file records who holds it
(process id, host, command line, start time), so a second writer is refused with a message
naming the other process.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
import weakref
from pathlib import Path
from typing import Any

from cimnet_bo.core import CimnetError, acquire_flock


class LockedError(CimnetError, RuntimeError):
    """Another process is writing the store."""


def _holder() -> dict[str, Any]:
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv else "python",
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def describe_holder(info: dict[str, Any]) -> str:
    """``process 123 on host (command, since time)`` from a lock file's record."""
    if not info:
        return "another process"
    return f"process {info.get('pid')} on {info.get('host')} ({info.get('command')!r}, since {info.get('started')})"


#: Locks this process holds: lock file -> [descriptor, number of holders]. Holders in one
#: process share the lock (one process writes a run at a time; it may open it more than once).
_HELD: dict[str, list[int]] = {}


def _drop(key: str) -> None:
    """One holder fewer of the lock ``key``; the lock is released with the last one."""
    entry = _HELD.get(key)
    if entry is None:
        return
    entry[1] -= 1
    if entry[1] <= 0:
        del _HELD[key]
        os.close(entry[0])


class WriterLock:
    """An exclusive, non-blocking lock on ``path`` (``.lock`` appended) for this process, held
    until :meth:`release` (or until the object is garbage collected).

    Other processes are refused; within one process, every holder shares the lock, which is
    released with the last of them.

    Parameters
    ----------
    path : Path
        The store file; the lock file is ``<path>.lock``.
    what : str
        How the error message names the locked thing (e.g. ``"run runs/demo"``).
    wait : float
        Seconds to wait for the other writer to finish before refusing (0: refuse at once).

    Raises
    ------
    LockedError
        Another process holds the lock (after ``wait`` seconds).
    """

    def __init__(self, path: str | Path, what: str, wait: float = 0.0) -> None:
        self.path = Path(f"{path}.lock")
        self._release: weakref.finalize | None = None
        key = os.path.realpath(self.path)
        if key not in _HELD:
            try:
                fd = acquire_flock(self.path, wait)
            except ImportError:  # not a POSIX system: no locking
                return
            if fd is None:
                raise LockedError(
                    f"{what} is being written by {describe_holder(self._holder_of(self.path))}; wait for it to "
                    "finish or stop it (one process writes a run at a time)"
                )
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(_holder()).encode(), 0)
            _HELD[key] = [fd, 0]
        _HELD[key][1] += 1
        self._release = weakref.finalize(self, _drop, key)

    @staticmethod
    def _holder_of(path: Path) -> dict[str, Any]:
        try:
            return json.loads(path.read_text() or "{}")
        except (OSError, ValueError):
            return {}

    @property
    def held(self) -> bool:
        return self._release is not None and self._release.alive

    def release(self) -> None:
        """Release this hold (the lock file stays; it is only a place to lock)."""
        if self._release is not None:
            self._release()
