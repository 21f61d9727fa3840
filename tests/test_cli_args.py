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
    (["label", "--space", "vit-fmnist", "--out", "{out}.parquet", "-n", "4", "--ray-num-cpus"], "--ray-num-cpus", "0"),
    (
        ["label", "--space", "vit-fmnist", "--out", "{out}.parquet", "-n", "4", "--ray-num-gpus"],
        "--ray-num-gpus",
        "-0.5",
    ),
    (
        ["label", "--space", "vit-fmnist", "--out", "{out}.parquet", "-n", "4", "--ray-max-retries"],
        "--ray-max-retries",
        "-1",
    ),
    (
        ["train-predictors", "--data", "data/labels/vit_fmnist.parquet", "--out", "{out}", "--test-fraction"],
        "--test-fraction",
        "0",
    ),
    (
        ["train-predictors", "--data", "data/labels/vit_fmnist.parquet", "--out", "{out}", "--test-fraction"],
        "--test-fraction",
        "1.5",
    ),
    (
        ["train-predictors", "--data", "data/labels/vit_fmnist.parquet", "--out", "{out}", "--test-fraction"],
        "--test-fraction",
        "nan",
    ),
    (["train-predictors", "--data", "data/labels/vit_fmnist.parquet", "--out", "{out}", "--jobs"], "--jobs", "0"),
    (
        ["train-predictors", "--data", "data/labels/vit_fmnist.parquet", "--out", "{out}", "--curve-splits"],
        "--curve-splits",
        "-1",
    ),
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
    (
        [
            *"label --space vit-fmnist --out x.parquet -n 1 --batch-size 1 --seed 0 --subnets 1 --workers 1".split(),
            *"--ray-num-cpus 0.5 --ray-num-gpus 0 --ray-max-retries 0".split(),
        ],
        {"n": 1, "batch_size": 1, "seed": 0, "ray_num_cpus": 0.5, "ray_num_gpus": 0.0, "ray_max_retries": 0},
    ),
    (
        [*"train-predictors --data d.parquet --out o --test-fraction 0.01 --jobs 1 --curve-splits 0".split()],
        {"test_fraction": 0.01, "jobs": 1, "curve_splits": 0},
    ),
    (["train-predictors", "--data", "d.parquet", "--out", "o", "--test-fraction", "0.99"], {"test_fraction": 0.99}),
    (
        [
            "search",
            "--space",
            "vit-fmnist",
            "--run",
            "r",
            "--budget",
            "1",
            "--batch-size",
            "1",
            "--n-init",
            "1",
            "--seed",
            "0",
        ],
        {"budget": 1, "batch_size": 1, "n_init": 1, "seed": 0},
    ),
    (["experiment", "--space", "vit-fmnist", "--workers", "0", "--budget", "1"], {"workers": 0, "budget": 1}),
    (["report", "--run", "r", "--out", "o", "--top", "0"], {"top": 0}),
]


@pytest.mark.parametrize("argv, want", GOOD, ids=[g[0][0] for g in GOOD])
def test_boundary_numbers_are_accepted(argv, want):
    args = build_parser().parse_args(argv)
    assert {k: getattr(args, k) for k in want} == want


def test_label_with_a_missing_accuracy_function_is_a_clean_error(tmp_path, capsys):
    out = tmp_path / "a.parquet"
    rc = cli_main(
        [
            *"label --space vit-fmnist -n 4 --out".split(),
            str(out),
            "--store",
            str(tmp_path / "s.sqlite"),
            *"--accuracy nomodule:fn --no-progress".split(),
        ]
    )
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err and "'nomodule'" in err
    assert not out.exists() and not (tmp_path / "s.sqlite").exists()


def test_a_csv_written_by_label_reads_back_like_parquet(tmp_path):
    """``label --out X.csv`` writes a metadata sidecar; the CSV reads back with the parquet's
    objectives, auxiliary columns and space, and also without the sidecar (from its columns)."""
    from cimnet_bo.store.dataset import csv_meta_path, read_dataset

    syn = "cimnet_bo.search.toy:synthetic_accuracy"
    for ext in ("csv", "parquet"):
        assert (
            cli_main(
                [
                    "label",
                    "--space",
                    "vit-fmnist",
                    "-n",
                    "6",
                    "--out",
                    str(tmp_path / f"d.{ext}"),
                    "--store",
                    str(tmp_path / f"{ext}.sqlite"),
                    "--accuracy",
                    syn,
                    "--no-progress",
                ]
            )
            == 0
        )
    pq = read_dataset(tmp_path / "d.parquet")
    csv = read_dataset(tmp_path / "d.csv")
    assert csv.space.name == pq.space.name and [o["name"] for o in csv.objectives] == [o["name"] for o in pq.objectives]
    assert set(csv.extras) == set(pq.extras) and "program_time_s" in csv.extras
    csv_meta_path(tmp_path / "d.csv").unlink()
    bare = read_dataset(tmp_path / "d.csv")
    assert bare.space.name == "vit-fmnist" and "program_time_s" not in [o["name"] for o in bare.objectives]
    assert {"accuracy", "latency_s"} <= {o["name"] for o in bare.objectives}


def test_search_space_is_a_registered_name_or_a_file(tmp_path, capsys):
    space_file = tmp_path / "my_space.yaml"
    space_file.write_text("name: mine\n")
    args = build_parser().parse_args(["search", "--space", str(space_file), "--budget", "8", "--run", str(tmp_path)])
    assert args.space == str(space_file)
    registered = build_parser().parse_args(["search", "--space", "vit-fmnist", "--budget", "8", "--run", str(tmp_path)])
    assert registered.space == "vit-fmnist"
    with pytest.raises(SystemExit) as e:
        build_parser().parse_args(["search", "--space", "nope", "--budget", "8", "--run", str(tmp_path)])
    assert e.value.code == 2 and "'nope' is neither a registered space" in capsys.readouterr().err
