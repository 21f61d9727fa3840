"""The command line starts fast: listing the commands imports no numpy, and building the parser
with the options and ``--help`` of every command imports none of the heavy libraries (they load
inside the commands that use them)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "botorch", "gpytorch", "xgboost", "sklearn", "matplotlib", "pandas")

SCRIPT = """
import contextlib, io, json, sys
import cimnet_bo
from cimnet_bo.cli import COMMANDS, build_parser

def help_of(argv):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            build_parser().parse_args(argv)
        except SystemExit as e:
            assert e.code == 0, (argv, e.code)
    return out.getvalue()

loaded = lambda names: sorted(m for m in names if m in sys.modules)
texts = {"": help_of(["--help"])}
top = loaded(("numpy",) + HEAVY)
texts.update({name: help_of([name, "--help"]) for name in COMMANDS})
print(json.dumps({"file": cimnet_bo.__file__, "top": top, "all": loaded(HEAVY), "texts": texts}))
"""


def test_help_of_every_command_imports_no_heavy_library():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run(
        [sys.executable, "-c", f"HEAVY = {HEAVY!r}\n{SCRIPT}"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert Path(got["file"]).resolve().is_relative_to(ROOT)
    assert got["top"] == []  # not even numpy to list the commands
    assert got["all"] == []
    from cimnet_bo.cli import COMMANDS

    for name in COMMANDS:
        assert name in got["texts"][""]
        assert f"usage: cimnet-bo {name}" in got["texts"][name]
    # the options are there, with choices from the registries
    assert "--budget" in got["texts"]["search"] and "qnehvi" in got["texts"]["search"]
    assert "vit-fmnist" in got["texts"]["label"] and "xgb" in got["texts"]["train-predictors"]
    assert "flip+crop" in got["texts"]["train-supernet"]
