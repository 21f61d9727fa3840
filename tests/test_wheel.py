"""The package installs as a wheel and finds its shipped data (supernets, image splits, labeled
datasets, predictors) inside the installed package, from any working folder."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: What a wheel is built from: the packaging files, the package and the shipped folders that
#: ``cimnet_bo/_shipped`` links to.
SOURCES = ("pyproject.toml", "setup.cfg", "README.md", "cimnet_bo", "data", "predictors")

#: Run in the installed package: where the shipped files resolve to (JSON on stdout).
PROBE = """
import json
import cimnet_bo
from cimnet_bo.core.shipped import shipped_dir
from cimnet_bo.supernet.data import load_split
from cimnet_bo.supernet.evaluator import default_checkpoint

x, y = load_split("val")
print(json.dumps({
    "package": cimnet_bo.__file__,
    "data": str(shipped_dir("data")),
    "predictors": str(shipped_dir("predictors")),
    "checkpoints": [str(default_checkpoint(s)) for s in ("vit-fmnist", "cnn-fmnist")],
    "val": [len(x), len(y)],
}))
"""


def _run(*args: str, **kwargs) -> subprocess.CompletedProcess:
    r = subprocess.run(args, capture_output=True, text=True, timeout=300, **kwargs)
    assert r.returncode == 0, f"{args} failed:\n{r.stdout}\n{r.stderr}"
    return r


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The package built as a wheel from a copy of the repository and installed into a folder."""
    tmp = tmp_path_factory.mktemp("wheel")
    src, dist, target = tmp / "src", tmp / "dist", tmp / "target"
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(
                ROOT / name, src / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
            )
        else:
            src.mkdir(exist_ok=True)
            shutil.copy2(ROOT / name, src / name)
    pip = (sys.executable, "-m", "pip", "-q", "--no-cache-dir")
    _run(*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(dist), str(src))
    (wheel,) = dist.glob("cimnet_bo-*.whl")
    _run(*pip, "install", "--no-deps", "--target", str(target), str(wheel))
    return target


def _env(target: Path) -> dict[str, str]:
    """The environment of a process that imports the installed package (its dependencies from
    this interpreter's environment) with no data folder set."""
    env = {k: v for k, v in os.environ.items() if k != "CIMNET_DATA"}
    env["PYTHONPATH"] = str(target)
    return env


def test_installed_wheel_finds_its_shipped_files(installed, tmp_path):
    out = _run(sys.executable, "-c", PROBE, cwd=tmp_path, env=_env(installed)).stdout
    got = json.loads(out.strip().splitlines()[-1])
    package = installed / "cimnet_bo"
    assert Path(got["package"]) == package / "__init__.py"
    data, predictors = Path(got["data"]), Path(got["predictors"])
    assert data == package / "_shipped" / "data" and predictors == package / "_shipped" / "predictors"
    for path in map(Path, got["checkpoints"]):
        assert path.is_relative_to(data) and path.is_file() and path.with_suffix(".json").is_file()
    assert got["val"] == [10_000, 10_000]
    for name in ("val.npz", "test.npz", "calib.npz", "SHA256SUMS.json"):
        assert (data / "fmnist" / name).is_file()
    # every file of the repository's data/ and predictors/ is in the package, byte for byte the same size
    for shipped, folder in ((data, ROOT / "data"), (predictors, ROOT / "predictors")):
        files = sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file())
        assert files and all((shipped / f).stat().st_size == (folder / f).stat().st_size for f in files)


def test_installed_wheel_runs_the_command_line(installed, tmp_path):
    out = _run(sys.executable, "-m", "cimnet_bo", "spaces", cwd=tmp_path, env=_env(installed)).stdout
    assert "vit-fmnist" in out and "cnn-fmnist" in out


def test_shipped_dir_in_a_checkout_and_its_override(monkeypatch, tmp_path):
    from cimnet_bo.core import UnknownNameError
    from cimnet_bo.core.shipped import DATA_ENV, shipped_dir
    from cimnet_bo.supernet.evaluator import default_checkpoint

    monkeypatch.delenv(DATA_ENV, raising=False)
    assert shipped_dir("data") == ROOT / "data" and shipped_dir() == ROOT / "data"
    assert shipped_dir("predictors") == ROOT / "predictors"
    assert default_checkpoint("vit-fmnist") == ROOT / "data" / "supernets" / "vit_fmnist.pt"
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    here = tmp_path.resolve()
    assert shipped_dir("data") == here and default_checkpoint("cnn-fmnist").parent == here / "supernets"
    assert shipped_dir("predictors") == ROOT / "predictors"  # the override is for data only
    with pytest.raises(UnknownNameError, match="'labels'.*choose from"):
        shipped_dir("labels")
