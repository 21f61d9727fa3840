"""Numeric command-line options: an out-of-range or malformed value ends the command with a
one-line error naming the option and the value (exit code 2) before anything is written;
boundary values are accepted."""

from __future__ import annotations

import pytest

from cimnet_bo.cli import build_parser
from cimnet_bo.cli import main as cli_main

# (command line without the value, option, bad value)
BAD = [
    (["label", "--space", "vit-fmnist", "--out", "{out}.parquet", "-n"], "-n", "0"),
    (["label", "--space", "vit-fmnist", "--out", "{out}.parquet", "-n", "4", "--batch-size"], "--batch-size", "0"),
    (["label", "--space", "vit-fmnist", "--out", "{out}.parquet", "-n", "4", "--batch-size"], "--batch-size", "x"),
    (["label", "--space", "vit-fmnist", "--out", "{out}.parquet", "-n", "4", "--subnets"], "--subnets", "0"),
    (["label", "--space", "vit-fmnist", "--out", "{out}.parquet", "-n", "4", "--seed"], "--seed", "-1"),
    (["label", "--space", "vit-fmnist", "--out", "{out}.parquet", "-n", "4", "--workers"], "--workers", "0"),
    (["label", "--space", "vit-fmnist", "--out", "{out}.parquet", "-n", "4", "--ray-num-cpus"], "--ray-num-cpus",
     "0"),
    (["label", "--space", "vit-fmnist", "--out", "{out}.parquet", "-n", "4", "--ray-num-gpus"], "--ray-num-gpus",
     "-0.5"),
    (["label", "--space", "vit-fmnist", "--out", "{out}.parquet", "-n", "4", "--ray-max-retries"],
     "--ray-max-retries", "-1"),
    (["train-predictors", "--data", "data/labels/vit_fmnist.parquet", "--out", "{out}", "--test-fraction"],
     "--test-fraction", "0"),
    (["train-predictors", "--data", "data/labels/vit_fmnist.parquet", "--out", "{out}", "--test-fraction"],
     "--test-fraction", "1.5"),
    (["train-predictors", "--data", "data/labels/vit_fmnist.parquet", "--out", "{out}", "--test-fraction"],
     "--test-fraction", "nan"),
    (["train-predictors", "--data", "data/labels/vit_fmnist.parquet", "--out", "{out}", "--jobs"], "--jobs", "0"),
    (["train-predictors", "--data", "data/labels/vit_fmnist.parquet", "--out", "{out}", "--curve-splits"],
     "--curve-splits", "-1"),
    (["search", "--space", "vit-fmnist", "--run", "{out}", "--budget"], "--budget", "0"),
    (["search", "--space", "vit-fmnist", "--run", "{out}", "--budget", "8", "--batch-size"], "--batch-size", "0"),
    (["search", "--space", "vit-fmnist", "--run", "{out}", "--budget", "8", "--n-init"], "--n-init", "0"),
    (["search", "--space", "vit-fmnist", "--run", "{out}", "--budget", "8", "--seed"], "--seed", "-3"),
    (["propose", "--run", "{out}", "--out", "{out}.csv", "-q"], "-q", "0"),
    (["experiment", "--space", "vit-fmnist", "--out", "{out}", "--budget"], "--budget", "0"),
    (["experiment", "--space", "vit-fmnist", "--out", "{out}", "--batch-size"], "--batch-size", "-2"),
    (["experiment", "--space", "vit-fmnist", "--out", "{out}", "--workers"], "--workers", "-1"),
    (["report", "--run", "{out}", "--out", "{out}-rep", "--top"], "--top", "-1"),
    (["simulate", "--space", "vit-fmnist", "--top"], "--top", "1.5"),
]


@pytest.mark.parametrize("args, option, value", BAD, ids=[f"{a[0]} {o} {v}" for a, o, v in BAD])
def test_bad_numbers_are_one_line_errors(tmp_path, capsys, args, option, value):
    out = str(tmp_path / "out")
    argv = [a.format(out=out) for a in args] + [value]
    with pytest.raises(SystemExit) as e:
        cli_main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "Traceback" not in err and f"argument {option}" in err and repr(value) in err
    assert not list(tmp_path.iterdir())  # nothing written


GOOD = [
    (["label", "--space", "vit-fmnist", "--out", "x.parquet", "-n", "1", "--batch-size", "1", "--seed", "0",
      "--subnets", "1", "--workers", "1", "--ray-num-cpus", "0.5", "--ray-num-gpus", "0", "--ray-max-retries", "0"],
     {"n": 1, "batch_size": 1, "seed": 0, "ray_num_cpus": 0.5, "ray_num_gpus": 0.0, "ray_max_retries": 0}),
    (["train-predictors", "--data", "d.parquet", "--out", "o", "--test-fraction", "0.01", "--jobs", "1",
      "--curve-splits", "0"], {"test_fraction": 0.01, "jobs": 1, "curve_splits": 0}),
    (["train-predictors", "--data", "d.parquet", "--out", "o", "--test-fraction", "0.99"], {"test_fraction": 0.99}),
    (["search", "--space", "vit-fmnist", "--run", "r", "--budget", "1", "--batch-size", "1", "--n-init", "1",
      "--seed", "0"], {"budget": 1, "batch_size": 1, "n_init": 1, "seed": 0}),
    (["experiment", "--space", "vit-fmnist", "--workers", "0", "--budget", "1"], {"workers": 0, "budget": 1}),
    (["report", "--run", "r", "--out", "o", "--top", "0"], {"top": 0}),
]


@pytest.mark.parametrize("argv, want", GOOD, ids=[g[0][0] for g in GOOD])
def test_boundary_numbers_are_accepted(argv, want):
    args = build_parser().parse_args(argv)
    assert {k: getattr(args, k) for k in want} == want
