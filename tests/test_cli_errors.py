"""Errors of a command end it with one line ``cimnet-bo <command>: error: <message>`` on stderr
and exit code 2, no traceback; a bug (any other exception) keeps its traceback."""

from __future__ import annotations

import sys

import pytest

from cimnet_bo.cli import main as cli_main
from cli_helpers import one_line_error


def test_missing_data_is_one_line(tmp_path, monkeypatch, capsys):
    """A DataError (no supernet checkpoint under an empty ``$CIMNET_DATA``): one line, nothing written."""
    monkeypatch.setenv("CIMNET_DATA", str(tmp_path / "empty"))
    (tmp_path / "empty").mkdir()
    assert cli_main(["baseline", "--space", "vit-fmnist", "--run", str(tmp_path / "b")]) == 2
    line = one_line_error(capsys, "baseline")
    assert "checkpoint" in line and "not found" in line and str(tmp_path / "empty") in line
    assert not (tmp_path / "b").exists()


def test_missing_ray_extra_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as if it were not installed
    rc = cli_main(
        [
            *"label --space vit-fmnist -n 4 --out".split(),
            str(tmp_path / "x.parquet"),
            "--store",
            str(tmp_path / "x.sqlite"),
            *"--accuracy none --executor ray --no-progress".split(),
        ]
    )
    assert rc == 2
    assert "pip install 'cimnet-bo[ray]'" in one_line_error(capsys, "label")


def test_unknown_registry_name_from_a_config_file_is_one_line(tmp_path, capsys):
    """Names the command line cannot check (here a strategy in a config file) are checked by the
    registry: an UnknownNameError naming the bad name and the registered ones."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text("strategy: annealing\nbudget: 4\nproblem: {space: vit-fmnist}\n")
    assert cli_main(["search", "--config", str(cfg), "--run", str(tmp_path / "r"), "--quiet"]) == 2
    line = one_line_error(capsys, "search")
    assert "'annealing'" in line and "qnehvi" in line


#: (command line, option, bad value, an allowed value the error lists)
BAD_NAMES = [
    (["search", "--run", "r", "--strategy"], "--strategy", "annealing", "qnehvi"),
    (["search", "--run", "r", "--surrogate"], "--surrogate", "forest", "gp"),
    (["search", "--run", "r", "--mode"], "--mode", "both", "model-only"),
    (["experiment", "--space", "vit-fmnist", "--strategy"], "--strategy", "annealing", "nsga2"),
    (["label", "-n", "2", "--out", "x.parquet", "--space"], "--space", "nope", "vit-fmnist"),
    (["train-predictors", "--data", "d.parquet", "--out", "o", "--models"], "--models", "xgb,forest", "ridge"),
    (["train-supernet", "--family"], "--family", "gru", "cnn"),
    (["train-supernet", "--augment"], "--augment", "mixup", "flip+crop"),
]


@pytest.mark.parametrize("argv, option, bad, allowed", BAD_NAMES, ids=[f"{b[0][0]} {b[1]}" for b in BAD_NAMES])
def test_unknown_names_in_options_are_argparse_errors(capsys, argv, option, bad, allowed):
    with pytest.raises(SystemExit) as e:
        cli_main(argv + [bad])
    assert e.value.code == 2
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"argument {option}" in line and repr(bad.split(",")[-1]) in line and repr(allowed) in line


def test_a_bug_keeps_its_traceback(monkeypatch):
    import cimnet_bo.cli.spaces as spaces

    def broken(args):
        raise RuntimeError("a bug")

    monkeypatch.setattr(spaces, "run", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        cli_main(["spaces"])
