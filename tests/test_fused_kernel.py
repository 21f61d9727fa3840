"""BoTorch's fused qLogEHVI kernel (cimnet_bo.search.fused_kernel): its cache folder, a build
that runs past the time limit, a missing compiler, a lock held by a live process, a builder
killed mid-compile (no compiler left running; the next search clears its lock and builds), and
the same acquisition values on the fused and the pure-Python paths."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import warnings
from importlib import metadata
from pathlib import Path

import pytest

import search_helpers as H
from cimnet_bo.search import fused_kernel as fk

ROOT = Path(__file__).resolve().parents[1]

#: A tiny qNEHVI search on ZDT1 (two rounds of 2 after 4 initial points), then the kernel's
#: status as JSON; argv: run folder, strategy options (JSON).
SEARCH = """
import json, sys
from cimnet_bo.search import run_search
from cimnet_bo.search.fused_kernel import load_fused_kernel
from cimnet_bo.search.toy import zdt_problem

options = json.loads(sys.argv[2])
with run_search(zdt_problem(), "qnehvi", budget=8, batch_size=2, n_init=4, seed=0, run_dir=sys.argv[1],
                strategy_options=options, progress=False) as run:
    n = run.n_done
s = load_fused_kernel()
print(json.dumps({"n": n, "loaded": s.loaded, "reason": s.reason, "built": s.built, "recovered": s.recovered}))
"""

#: Holds the flock on argv[1] until killed.
HOLDER = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(600)
"""


def env_for(root: Path, timeout: float) -> dict[str, str]:
    """The environment of a subprocess whose kernel cache is under ``root``."""
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "OMP_NUM_THREADS": "1",
        fk.ENV_DIR: str(root),
        fk.ENV_TIMEOUT: str(timeout),
    }


def cache_of(root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The cache folder the kernel uses with ``$CIMNET_TORCH_EXTENSIONS=root``."""
    monkeypatch.setenv(fk.ENV_DIR, str(root))
    return fk.cache_dir()


def run_search_subprocess(root: Path, run_dir: Path, timeout: float, limit: float) -> tuple[dict, str, float]:
    """Run :data:`SEARCH` with the kernel cache under ``root`` and the kernel time limit
    ``timeout``; returns its status, its stderr and its wall time (it must end within
    ``limit`` seconds)."""
    start = time.monotonic()
    r = subprocess.run(
        [sys.executable, "-c", SEARCH, str(run_dir), json.dumps(H.FAST_QNEHVI)],
        capture_output=True,
        text=True,
        env=env_for(root, timeout),
        timeout=limit,
    )
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1]), r.stderr, time.monotonic() - start


def processes_with(marker: str) -> list[str]:
    """``pid:name`` of the processes (but this one) whose environment holds ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker.encode() in (entry / "environ").read_bytes():
                found.append(f"{entry.name}:{(entry / 'comm').read_text().strip()}")
        except OSError:  # ended, or not ours to read
            continue
    return found


def wait_until_gone(marker: str, seconds: float) -> list[str]:
    """The processes holding ``marker`` after at most ``seconds`` of waiting for none."""
    end = time.monotonic() + seconds
    while (left := processes_with(marker)) and time.monotonic() < end:
        time.sleep(0.1)
    return left


@pytest.fixture
def fresh_botorch(monkeypatch: pytest.MonkeyPatch):
    """BoTorch's kernel not tried yet in this process and the project's status forgotten (both
    restored afterwards); yields BoTorch's ``logei`` module."""
    from botorch.acquisition.multi_objective import logei

    monkeypatch.setattr(logei, "_C", None)
    monkeypatch.setattr(logei, "_load_attempted", False)
    monkeypatch.setattr(fk, "_status", None)
    return logei


# ---------------------------------------------------------------------------- settings
def test_cache_dir_per_versions_and_cpu(tmp_path, monkeypatch):
    monkeypatch.setenv(fk.ENV_DIR, str(tmp_path / "root"))
    d = fk.cache_dir()
    assert d.parent == tmp_path / "root"
    for name in ("torch", "botorch"):
        assert f"{name}{metadata.version(name)}" in d.name
    assert d.name.endswith(fk.machine_key())
    monkeypatch.delenv(fk.ENV_DIR)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert fk.cache_dir().parent == tmp_path / "xdg" / "cimnet-bo" / "torch_extensions"


def test_machine_key_follows_the_instruction_set_not_the_clock():
    cpu = "processor\t: 0\nmodel name\t: Xeon\ncpu MHz\t\t: {mhz}\nflags\t\t: sse avx2{extra}\n\nprocessor\t: 1\n"
    key = fk.machine_key(cpu.format(mhz="2300.1", extra=""))
    assert fk.machine_key(cpu.format(mhz="3100.7", extra="")) == key
    assert fk.machine_key(cpu.format(mhz="2300.1", extra=" avx512f")) != key
    assert len(key) == 12 and int(key, 16) >= 0


def test_time_limit_setting(monkeypatch):
    monkeypatch.delenv(fk.ENV_TIMEOUT, raising=False)
    assert fk.kernel_timeout() == fk.DEFAULT_TIMEOUT
    monkeypatch.setenv(fk.ENV_TIMEOUT, "7.5")
    assert fk.kernel_timeout() == 7.5
    for bad in ("soon", "0", "-3", "inf", "nan"):
        monkeypatch.setenv(fk.ENV_TIMEOUT, bad)
        with pytest.raises(fk.KernelSettingError, match=f"{fk.ENV_TIMEOUT}='{bad}'"):
            fk.kernel_timeout()


def test_set_up_entry_refuses_a_bad_time_limit(capsys):
    assert fk.main(["--timeout", "-1"]) == 2
    assert "--timeout='-1': expected a number of seconds > 0" in capsys.readouterr().err


# ---------------------------------------------------------------------------- stale locks, limits
def test_killed_build_is_cleared_only_when_torch_lock_is_left(tmp_path):
    build = tmp_path / fk.EXTENSION
    build.mkdir()
    (build / "logei_fused.o").write_bytes(b"\x7fELF partial")
    assert not fk.clear_killed_build(tmp_path)  # no lock: a finished build, kept
    assert (build / "logei_fused.o").exists()
    (build / fk.TORCH_LOCK).touch()
    assert fk.clear_killed_build(tmp_path)
    assert not build.exists()
    assert not fk.clear_killed_build(tmp_path)  # nothing left to clear


def test_missing_compiler_falls_back_once_with_one_warning(tmp_path, monkeypatch, fresh_botorch):
    cache = cache_of(tmp_path, monkeypatch)
    monkeypatch.setenv("CXX", str(tmp_path / "no-such-c++"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        status = fk.load_fused_kernel()
        assert fk.load_fused_kernel() is status  # once per process
    assert not status.loaded and "no-such-c++" in status.reason
    assert [w.category for w in caught] == [fk.FusedKernelWarning]
    assert "no-such-c++" in str(caught[0].message) and "\n" not in str(caught[0].message)
    assert fresh_botorch._C is None and fresh_botorch._load_attempted  # BoTorch takes its Python path
    assert not cache.exists()


def test_build_past_the_time_limit_is_killed_and_falls_back(tmp_path, monkeypatch, fresh_botorch):
    cache = cache_of(tmp_path, monkeypatch)
    start = time.monotonic()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        status = fk.load_fused_kernel(timeout=4.0)
    took = time.monotonic() - start
    assert not status.loaded and "took over 4 s" in status.reason, status
    assert [w.category for w in caught] == [fk.FusedKernelWarning]
    assert took < 30, took
    assert wait_until_gone(f"{fk.ENV_DIR}={tmp_path}", 5) == []  # no compiler, no ninja left
    assert not (cache / fk.EXTENSION / fk.TORCH_LOCK).exists()  # the killed build was cleared
    assert fresh_botorch._C is None and fresh_botorch._load_attempted


def test_lock_held_past_the_limit_gives_python_path_not_a_hang(tmp_path, monkeypatch):
    cache = cache_of(tmp_path / "cache", monkeypatch)
    cache.mkdir(parents=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(cache / fk.BUILD_LOCK)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        status, stderr, took = run_search_subprocess(tmp_path / "cache", tmp_path / "run", timeout=2, limit=240)
    finally:
        holder.kill()
        holder.wait()
    assert status["n"] == 8
    assert not status["loaded"] and "build lock" in status["reason"], status
    assert stderr.count("FusedKernelWarning") == 1, stderr
    assert "Failed to compile" not in stderr  # BoTorch did not try on its own
    assert not (cache / fk.EXTENSION).exists()  # nothing was built while the lock was held
    print(f"search with a held lock: {took:.1f} s")


# ---------------------------------------------------------------------------- a killed builder
@pytest.fixture(scope="module")
def killed_build(tmp_path_factory):
    """A kernel build (``python -m cimnet_bo.search.fused_kernel``) killed with SIGKILL while
    the compiler runs: its cache root, the compiler processes seen before the kill, the
    processes left 10 s after it, and the cache folder."""
    root = tmp_path_factory.mktemp("killed")
    marker = f"{fk.ENV_DIR}={root}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "cimnet_bo.search.fused_kernel"],
        env=env_for(root, 600),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    end = time.monotonic() + 120
    seen: list[str] = []
    while time.monotonic() < end and proc.poll() is None:
        seen = processes_with(marker)
        if any(p.endswith(":cc1plus") for p in seen):
            break
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    left = wait_until_gone(marker, 10)
    cache = next(root.iterdir())
    return {"root": root, "seen": seen, "left": left, "cache": cache}


@pytest.fixture(scope="module")
def recovered(killed_build, tmp_path_factory):
    """A qNEHVI search on the cache the killed build left: its status, stderr and wall time."""
    status, stderr, took = run_search_subprocess(
        killed_build["root"], tmp_path_factory.mktemp("run"), timeout=400, limit=420
    )
    print(f"search that cleared a stale lock and built the kernel: {took:.1f} s")
    return {"status": status, "stderr": stderr, "took": took}


@pytest.mark.slow
def test_killed_builder_leaves_no_compiler_running(killed_build):
    assert any(p.endswith(":cc1plus") for p in killed_build["seen"]), killed_build["seen"]
    assert killed_build["left"] == []
    assert (killed_build["cache"] / fk.EXTENSION / fk.TORCH_LOCK).exists()  # what used to hang every search


@pytest.mark.slow
def test_stale_lock_of_killed_build_is_cleared_and_built(killed_build, recovered):
    status = recovered["status"]
    assert status["n"] == 8
    assert status["loaded"] and status["recovered"] and status["built"], status
    assert "FusedKernelWarning" not in recovered["stderr"]
    assert not (killed_build["cache"] / fk.EXTENSION / fk.TORCH_LOCK).exists()
    assert fk.library_path(killed_build["cache"]).exists()


@pytest.mark.slow
def test_python_path_gives_the_fused_values(killed_build, recovered, monkeypatch, fresh_botorch):
    import torch
    from botorch.acquisition.multi_objective.logei import (
        qLogExpectedHypervolumeImprovement,
        qLogNoisyExpectedHypervolumeImprovement,
    )
    from botorch.models import SingleTaskGP
    from botorch.sampling import SobolQMCNormalSampler
    from botorch.utils.multi_objective.box_decompositions.non_dominated import FastNondominatedPartitioning

    monkeypatch.setenv(fk.ENV_DIR, str(killed_build["root"]))
    status = fk.load_fused_kernel()
    assert status.loaded and not status.built, status  # loaded from the cache, no compile

    class Counting:
        """The kernel, counting its forward calls."""

        def __init__(self, kernel) -> None:
            self.kernel, self.calls = kernel, 0

        def forward(self, *args):
            self.calls += 1
            return self.kernel.forward(*args)

        def backward(self, *args):
            return self.kernel.backward(*args)

    counting = Counting(fresh_botorch._C)
    gen = torch.Generator().manual_seed(0)
    X = torch.rand(12, 3, generator=gen, dtype=torch.float64)
    Y = torch.stack([X.sum(-1), (1 - X).prod(-1)], -1) + 0.05 * torch.randn(12, 2, generator=gen, dtype=torch.float64)
    model = SingleTaskGP(X, Y)
    ref = Y.min(0).values - 0.1
    candidates = torch.rand(6, 3, 3, generator=gen, dtype=torch.float64)  # 6 batches of q = 3

    def values() -> torch.Tensor:
        nehvi = qLogNoisyExpectedHypervolumeImprovement(
            model, ref, X, sampler=SobolQMCNormalSampler(torch.Size([32]), seed=1), prune_baseline=False
        )
        ehvi = qLogExpectedHypervolumeImprovement(
            model, ref, FastNondominatedPartitioning(ref, Y), sampler=SobolQMCNormalSampler(torch.Size([32]), seed=2)
        )
        with torch.no_grad():
            return torch.cat([nehvi(candidates), ehvi(candidates), ehvi(candidates[:, :1])])

    monkeypatch.setattr(fresh_botorch, "_C", counting)
    fused = values()
    assert counting.calls > 0  # the fused path ran
    monkeypatch.setattr(fresh_botorch, "_C", None)
    python = values()
    assert torch.isfinite(fused).all() and fused.std() > 0
    torch.testing.assert_close(fused, python, rtol=1e-9, atol=1e-9)
