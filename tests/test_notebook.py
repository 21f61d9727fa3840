"""The hypervolume-analysis notebook runs headless (nbclient) on a small experiment made here.

The notebook's first cell reads the run paths from ``CIMNET_BO_RUNS`` (and the figure folder
from ``CIMNET_BO_FIGURES``); the kernel inherits this process's environment.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from cimnet_bo.analysis import run_experiment

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "hypervolume_analysis.ipynb"


def _texts(nb) -> str:
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if "text" in out:
                parts.append(out["text"])
            for kind in ("text/plain", "text/html", "text/markdown"):
                if kind in out.get("data", {}):
                    parts.append(out["data"][kind])
    return "\n".join(parts)


def test_notebook_is_clean_and_uses_the_library():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "RUNS = " in code[0].source and "CIMNET_BO_RUNS" in code[0].source  # paths set in the first cell
    for c in code:
        assert not c.get("outputs") and c.get("execution_count") is None  # shipped without outputs
        assert "def " not in c.source and "class " not in c.source  # analysis logic lives in the library


def test_notebook_executes_on_a_small_experiment(tmp_path, monkeypatch):
    nbclient = pytest.importorskip("nbclient")
    res = run_experiment(
        "vit-fmnist",
        out=tmp_path / "exp",
        seeds=2,
        budget=10,
        strategy="random",
        accuracy="cimnet_bo.search.toy:synthetic_accuracy",
        progress=False,
        report=False,
    )
    figures = tmp_path / "figures"
    monkeypatch.setenv("CIMNET_BO_RUNS", str(res.runs_dir))
    monkeypatch.setenv("CIMNET_BO_FIGURES", str(figures))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    )
    client.execute()  # raises CellExecutionError when a cell fails
    text = _texts(nb)
    assert "model-only-seed1" in text and "joint-seed0" in text  # the runs table and Pareto sets
    assert "joint speedup" in text and "baseline - 1 pt" in text  # the speedup table
    images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) >= 3  # hypervolume curves, Pareto fronts, hardware knobs
    for name in ("hypervolume.png", "pareto_fronts.png", "hardware_joint-seed0.png"):
        assert (figures / name).stat().st_size > 1000
