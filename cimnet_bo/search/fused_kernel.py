"""BoTorch's fused qLogEHVI kernel, built and loaded without unbounded waits.

BoTorch compiles a C++ kernel for ``qLogExpectedHypervolumeImprovement`` and
``qLogNoisyExpectedHypervolumeImprovement`` the first time one is built, through
``torch.utils.cpp_extension.load`` and torch's ``lock`` file in the build folder. A build that is
killed leaves that file behind, and every later build waits on it without end.
:func:`load_fused_kernel` takes that first use over (``qnehvi`` calls it before it builds an
acquisition function):

* the kernel is built in a cache folder of the project, :func:`cache_dir` (one folder per Python,
  torch and BoTorch version and CPU, since the kernel is compiled with ``-march=native``), under
  ``$CIMNET_TORCH_EXTENSIONS`` or ``${XDG_CACHE_HOME:-~/.cache}/cimnet-bo/torch_extensions``;
* the project's builders take turns through an ``flock`` on ``build.lock`` in that folder, which
  the operating system releases when its holder dies. A torch ``lock`` file found while holding it
  was left by a killed build: the build folder is removed and built again;
* the compiler runs under a child process in a session of its own: when the calling process dies,
  the child is signalled (``PR_SET_PDEATHSIG``) and kills every process of its session (ninja, the
  compilers); when the child dies or runs past the time limit, the caller kills them;
* waiting for the lock and building take at most ``$CIMNET_KERNEL_TIMEOUT`` seconds (default
  300). Past that, or without a compiler or ninja, BoTorch's pure-Python path is used (the same
  values, slower) after one :class:`FusedKernelWarning`.

``python -m cimnet_bo.search.fused_kernel`` builds the kernel ahead of time (``make setup``).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import platform
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass, replace
from importlib import metadata
from pathlib import Path
from typing import Iterator

from cimnet_bo.core import CimnetError, acquire_flock

#: Environment variable naming the root folder of the kernel cache.
ENV_DIR = "CIMNET_TORCH_EXTENSIONS"
#: Environment variable giving the time limit (seconds) of waiting for the lock and building.
ENV_TIMEOUT = "CIMNET_KERNEL_TIMEOUT"
DEFAULT_TIMEOUT = 300.0
#: BoTorch's name of the extension: torch builds it in ``<cache dir>/<EXTENSION>/``.
EXTENSION = "logei_fused_ext"
#: The project's lock file in the cache folder (held with ``flock``).
BUILD_LOCK = "build.lock"
#: Torch's lock file in the build folder (present while a build runs, or after a killed one).
TORCH_LOCK = "lock"
#: Lines of ``/proc/cpuinfo`` that tell which instructions ``-march=native`` may use.
CPU_FIELDS = (
    "vendor_id",
    "cpu family",
    "model",
    "model name",
    "flags",
    "CPU implementer",
    "CPU architecture",
    "CPU variant",
    "CPU part",
    "Features",
    "isa",
    "uarch",
)
_MODULE = "cimnet_bo.search.fused_kernel"
_PR_SET_PDEATHSIG = 1


class FusedKernelWarning(UserWarning):
    """The fused kernel is not used: BoTorch's pure-Python path computes the same values."""


class KernelSettingError(CimnetError, ValueError):
    """A bad setting of the kernel build (an environment variable)."""


@dataclass(frozen=True)
class KernelStatus:
    """What :func:`load_fused_kernel` did.

    Attributes
    ----------
    loaded : bool
        BoTorch uses the fused kernel.
    reason : str or None
        Why it does not (None when loaded).
    directory : Path or None
        The cache folder (None when it was not reached).
    built : bool
        The kernel was compiled by this call.
    recovered : bool
        What a killed build had left (torch's lock file, partial objects) was removed.
    seconds : float
        Time taken.
    """

    loaded: bool
    reason: str | None = None
    directory: Path | None = None
    built: bool = False
    recovered: bool = False
    seconds: float = 0.0


_status: KernelStatus | None = None
_guard = threading.Lock()


# ---------------------------------------------------------------------------- settings
def cache_root() -> Path:
    """``$CIMNET_TORCH_EXTENSIONS``, else ``${XDG_CACHE_HOME:-~/.cache}/cimnet-bo/torch_extensions``."""
    if os.environ.get(ENV_DIR):
        return Path(os.environ[ENV_DIR]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "cimnet-bo" / "torch_extensions"


def machine_key(cpuinfo: str | None = None) -> str:
    """12 hex digits identifying the CPU: the machine type and the first processor's model and
    instruction-set lines of ``cpuinfo`` (default: ``/proc/cpuinfo``; ``platform.processor()``
    where there is none)."""
    if cpuinfo is None:
        path = Path("/proc/cpuinfo")
        cpuinfo = path.read_text(errors="replace") if path.exists() else platform.processor()
    first = cpuinfo.strip().split("\n\n")[0]
    fields = [" ".join(line.split()) for line in first.splitlines() if line.split(":")[0].strip() in CPU_FIELDS]
    text = "\n".join([platform.machine(), *(fields or [first])])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def cache_dir() -> Path:
    """The kernel's cache folder: :func:`cache_root` /
    ``py<X.Y>-torch<version>-botorch<version>-<machine_key()>``."""
    python = f"py{sys.version_info.major}.{sys.version_info.minor}"
    versions = f"torch{metadata.version('torch')}-botorch{metadata.version('botorch')}"
    return cache_root() / f"{python}-{versions}-{machine_key()}"


def kernel_timeout() -> float:
    """``$CIMNET_KERNEL_TIMEOUT`` (seconds > 0), else :data:`DEFAULT_TIMEOUT`."""
    text = os.environ.get(ENV_TIMEOUT)
    return check_seconds(text, f"environment variable {ENV_TIMEOUT}") if text else DEFAULT_TIMEOUT


def check_seconds(text: str, where: str) -> float:
    """``text`` as a finite number of seconds > 0; :class:`KernelSettingError` naming ``where``
    (an environment variable, an option) otherwise."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise KernelSettingError(f"{where}={text!r}: expected a number of seconds > 0")
    return value


# ---------------------------------------------------------------------------- loading
def load_fused_kernel(timeout: float | None = None) -> KernelStatus:
    """Build (when needed) and load BoTorch's fused qLogEHVI kernel, once per process.

    Afterwards BoTorch's acquisition functions use the kernel, or, where it could not be built
    or loaded within ``timeout``, their pure-Python path (one :class:`FusedKernelWarning` says
    why). Where BoTorch has already tried to load it in this process, or has no fused kernel,
    nothing changes.

    Parameters
    ----------
    timeout : float, optional
        Seconds to wait for another builder's lock plus the compile (default
        :func:`kernel_timeout`).

    Returns
    -------
    KernelStatus
        The first call's status on every call.
    """
    global _status
    with _guard:
        if _status is None:
            _status = _load(kernel_timeout() if timeout is None else timeout)
        return _status


def _load(timeout: float) -> KernelStatus:
    """:func:`load_fused_kernel`'s work: the kernel, or BoTorch's Python path and the warning."""
    from botorch.acquisition.multi_objective import logei

    start = time.monotonic()
    if not hasattr(logei, "_try_load_fused_kernel"):
        return KernelStatus(False, "this BoTorch has no fused kernel")
    if logei._load_attempted:
        reason = None if logei._C is not None else "BoTorch tried to load it before this process asked"
        return KernelStatus(logei._C is not None, reason)
    directory = None
    try:
        directory = cache_dir()
        status = _prepare_and_load(directory, start + timeout, timeout)
    except Exception as exc:  # any failure means the pure-Python path, never a failed search
        status = KernelStatus(False, _one_line(f"{type(exc).__name__}: {exc}"), directory)
    status = replace(status, seconds=time.monotonic() - start)
    if not status.loaded:
        logei._C = None
        logei._load_attempted = True
        warnings.warn(
            f"fused qLogEHVI kernel not used ({status.reason}); BoTorch's pure-Python path gives the same "
            "values, slower",
            FusedKernelWarning,
            stacklevel=3,
        )
    return status


def _prepare_and_load(directory: Path, deadline: float, timeout: float) -> KernelStatus:
    """Take the project's lock, clear a killed build, build in a child when the library is
    missing, then load it in this process."""
    missing = _missing_tool()
    if missing:
        return KernelStatus(False, missing, directory)
    directory.mkdir(parents=True, exist_ok=True)
    lock = directory / BUILD_LOCK
    with _flock(lock, deadline) as held:
        if not held:
            return KernelStatus(False, f"another process held the build lock {lock} for over {timeout:g} s", directory)
        recovered = clear_killed_build(directory)
        built = not library_path(directory).exists()
        if built:
            reason = _build_in_child(directory, deadline, timeout)
            if reason:
                clear_killed_build(directory)
                return KernelStatus(False, reason, directory, recovered=recovered)
        reason = _botorch_load(directory)
        return KernelStatus(reason is None, reason, directory, built, recovered)


def library_path(directory: Path) -> Path:
    """The built kernel in the cache folder ``directory``."""
    from torch.utils.cpp_extension import LIB_EXT

    return directory / EXTENSION / f"{EXTENSION}{LIB_EXT}"


def clear_killed_build(directory: Path) -> bool:
    """Remove the build folder of ``directory`` when it holds torch's lock file; returns whether
    it did.

    Call it only while holding the project's lock (:data:`BUILD_LOCK`): every builder of the
    project holds that lock while torch's lock file exists, so the file then belongs to a build
    that was killed, and its objects may be partial.
    """
    build = directory / EXTENSION
    if not (build / TORCH_LOCK).exists():
        return False
    shutil.rmtree(build)
    return True


@contextlib.contextmanager
def _flock(path: Path, deadline: float) -> Iterator[bool]:
    """Hold an exclusive ``flock`` on ``path`` (yields True), or yield False when another holder
    keeps it past ``deadline`` (``time.monotonic()``)."""
    fd = acquire_flock(path, deadline - time.monotonic())
    try:
        yield fd is not None
    finally:
        if fd is not None:
            os.close(fd)


def _tool_path() -> str:
    """``$PATH`` with this interpreter's scripts folder (where pip puts ``ninja``) at the end."""
    path = os.environ.get("PATH", "")
    scripts = sysconfig.get_path("scripts")
    return path if scripts in path.split(os.pathsep) else os.pathsep.join(p for p in (path, scripts) if p)


def _missing_tool() -> str | None:
    """Why torch cannot compile here (no C++ compiler, no ninja), or None."""
    compiler = os.environ.get("CXX", "c++")
    if not shutil.which(compiler.split()[0] if compiler.strip() else "c++", path=_tool_path()):
        return f"no C++ compiler {compiler!r} on PATH (set CXX)"
    if not shutil.which("ninja", path=_tool_path()):
        return "no ninja on PATH (pip install ninja)"
    return None


def _build_env(directory: Path) -> dict[str, str]:
    """Environment variables that send torch's build of BoTorch's kernel to ``directory``."""
    return {"TORCH_EXTENSIONS_DIR": str(directory), "PATH": _tool_path()}


@contextlib.contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the ``with`` block, then restore them."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _botorch_load(directory: Path) -> str | None:
    """Run BoTorch's own loader with torch's build root at ``directory``; None when the kernel
    loaded, else why not (one line)."""
    from botorch.acquisition.multi_objective import logei

    with _environ(_build_env(directory)), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        logei._try_load_fused_kernel()
    if logei._C is not None:
        return None
    return _one_line(str(caught[-1].message)) if caught else "BoTorch did not load the kernel"


def _one_line(text: str, limit: int = 300) -> str:
    """The compiler's first ``error:`` line of ``text``, else its first line, at most ``limit``
    characters."""
    lines = [" ".join(line.split()) for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if "error:" in line.lower()]
    line = (errors or lines or ["no message"])[0]
    return line if len(line) <= limit else line[: limit - 3] + "..."


# ---------------------------------------------------------------------------- the build child
def _build_in_child(directory: Path, deadline: float, timeout: float) -> str | None:
    """Build the kernel in ``directory`` in a child process of its own session; None when built,
    else why not. The child and everything it started are killed when it runs past ``deadline``,
    when it ends, and when this call is interrupted."""
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, **_build_env(directory)}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    command = [sys.executable, "-m", _MODULE, "--child", str(os.getpid())]
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        try:
            ended = _wait_unreaped(proc.pid, deadline)
        finally:
            kill_session(proc.pid)  # before reaping: the session id stays the child's
            code = proc.wait()
        if not ended:
            return f"building it took over {timeout:g} s"
        if code == 0:
            return None
        log.seek(0)
        output = log.read().decode(errors="replace")
    return _one_line(output) if output.strip() else f"the build process exited with code {code}"


def _wait_unreaped(pid: int, deadline: float) -> bool:
    """Wait until child ``pid`` ends without reaping it (so its pid, the id of its session, is
    not reused meanwhile); False when ``deadline`` (``time.monotonic()``) comes first."""
    while os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def session_members(sid: int) -> list[int]:
    """Live processes (not zombies) of session ``sid``, from ``/proc``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # the process ended
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # state ppid pgrp session ...
        if fields[0] != "Z" and int(fields[3]) == sid:
            pids.append(int(entry.name))
    return pids


def kill_session(sid: int, spare: int | None = None) -> None:
    """SIGKILL every process of session ``sid`` (but ``spare``) until none is left: a build's
    child, ninja and the compilers (ninja puts each command in a process group of its own, but
    all stay in the session)."""
    if not Path("/proc").is_dir():
        with contextlib.suppress(OSError):
            os.killpg(sid, signal.SIGKILL)
        return
    for _ in range(100):
        pids = [p for p in session_members(sid) if p != spare]
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.02)


def _die_with_parent(parent: int) -> bool:
    """Ask Linux to send SIGTERM to this process when its parent dies; False when the parent
    ``parent`` is already gone."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    return os.getppid() == parent


def _child(parent: int) -> int:
    """The build child: dies with ``parent`` (killing its session), builds through BoTorch's
    loader (torch's build root comes from the environment); exit code 0 when the kernel
    loaded."""

    def end(signum: int, frame: object) -> None:
        kill_session(os.getsid(0), spare=os.getpid())
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, end)
    if not _die_with_parent(parent):
        return 1
    reason = _botorch_load(Path(os.environ["TORCH_EXTENSIONS_DIR"]))
    if reason:
        print(reason, file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    """Build and load the kernel and print where it is (or the warning saying why not); returns
    0, or 2 for a bad time limit."""
    parser = argparse.ArgumentParser(prog=f"python -m {_MODULE}", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--timeout",
        metavar="SECONDS",
        help=f"time limit of the build (default: ${ENV_TIMEOUT}, else {DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument("--child", type=int, metavar="PID", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        return _child(args.child)
    try:
        timeout = kernel_timeout() if args.timeout is None else check_seconds(args.timeout, "--timeout")
    except KernelSettingError as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2
    status = load_fused_kernel(timeout)
    if status.loaded:
        done = "built" if status.built else "loaded"
        print(f"fused qLogEHVI kernel {done} in {status.seconds:.1f} s: {status.directory}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
