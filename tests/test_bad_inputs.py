"""Bad input to every command of ``cimnet-bo``: corrupt, truncated and empty files, malformed
YAML, a file where a folder is expected and the reverse, read-only and full disks, bad
numbers and unknown names. Each case ends with one error line on stderr naming the bad value
(exit code 2), no traceback, and nothing written: the files of the case's folder (a finished
run, datasets, outputs) are byte-identical afterwards and no file or folder is new. A few
boundary values must be accepted.

The commands run in-process through :func:`cimnet_bo.cli.main`; a handful also run as real
subprocesses, to show that no traceback reaches the terminal.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

from cimnet_bo.cli import main as cli_main

ROOT = Path(__file__).resolve().parent.parent
LABELS = ROOT / "data" / "labels" / "vit_fmnist.parquet"
SYN = "cimnet_bo.search.toy:synthetic_accuracy"
#: A cheap labeling command (synthetic accuracy, 4 pairs); each case adds --out (and --store).
LABEL = f"label --space vit-fmnist -n 4 --accuracy {SYN} --no-progress"
#: A cheap new search (look-ups in the small dataset, random strategy, 4 evaluations).
SEARCH = "search --space vit-fmnist --table {small} --strategy random --budget 4 --batch-size 2 --quiet"
#: The README's example model, and a cheap search of it (random strategy, 4 evaluations).
TINY_CNN = "examples.tiny_cnn:make_net"
MODEL = f"--model {TINY_CNN} --input-shape 1,1,28,28"
MODEL_SEARCH = f"search --run {{tmp}}/r --strategy random --budget 4 --batch-size 2 --quiet {MODEL}"
#: A cheap experiment (synthetic accuracy, random strategy, 4 evaluations per run).
EXPERIMENT = f"experiment --space vit-fmnist --accuracy {SYN} --budget 4 --batch-size 2 --strategy random --quiet"
#: A cheap training of predictors.
TRAIN = "train-predictors --models ridge --curve-splits 0 --quiet"

Setup = Callable[[Path, pytest.MonkeyPatch], None]


@dataclass
class Case:
    """A command line that must fail cleanly.

    ``argv`` and ``expect`` are templates: ``{tmp}`` is the case's folder, ``{run}`` a copy
    of a finished search run in it, ``{small}`` a copy of a small labeled dataset (40 rows,
    parquet), ``{small_csv}`` the same as CSV (with its metadata sidecar). ``setup`` makes the
    bad files; ``expect`` is a phrase the error line must hold (the bad value, file or option).
    """

    id: str
    argv: str
    expect: str
    setup: Setup | None = None


# ----------------------------------------------------------------------------- set-ups
def text(name: str, content: str) -> Setup:
    """Write ``content`` to ``{tmp}/name``."""

    def make(tmp: Path, mp: pytest.MonkeyPatch) -> None:
        p = tmp / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(content)

    return make


def data(name: str, content: bytes) -> Setup:
    """Write the bytes ``content`` to ``{tmp}/name``."""

    def make(tmp: Path, mp: pytest.MonkeyPatch) -> None:
        (tmp / name).write_bytes(content)

    return make


def folder(name: str) -> Setup:
    """Make the folder ``{tmp}/name``."""

    def make(tmp: Path, mp: pytest.MonkeyPatch) -> None:
        (tmp / name).mkdir(parents=True)

    return make


def truncated(name: str, keep: float) -> Setup:
    """Cut ``{tmp}/name`` to the fraction ``keep`` of its bytes."""

    def make(tmp: Path, mp: pytest.MonkeyPatch) -> None:
        p = tmp / name
        p.write_bytes(p.read_bytes()[: int(len(p.read_bytes()) * keep)])

    return make


def replaced_by_folder(name: str) -> Setup:
    """Replace the file ``{tmp}/name`` by a folder of that name."""

    def make(tmp: Path, mp: pytest.MonkeyPatch) -> None:
        (tmp / name).unlink()
        (tmp / name).mkdir()

    return make


def both(*setups: Setup) -> Setup:
    def make(tmp: Path, mp: pytest.MonkeyPatch) -> None:
        for s in setups:
            s(tmp, mp)

    return make


def csv_from_small(name: str, edit: Callable) -> Setup:
    """``{tmp}/name``: the small dataset's configurations as CSV, changed by ``edit(frame)``."""

    def make(tmp: Path, mp: pytest.MonkeyPatch) -> None:
        import pandas as pd

        frame = pd.read_parquet(tmp / "small.parquet")
        edit(frame).to_csv(tmp / name, index=False)

    return make


def largest_subnet(name: str, **changes) -> Setup:
    """``{tmp}/name``: the largest subnet of vit-fmnist as JSON, with ``changes``."""

    def make(tmp: Path, mp: pytest.MonkeyPatch) -> None:
        import json

        from cimnet_bo.space import get_space

        (tmp / name).write_text(json.dumps({**get_space("vit-fmnist").subnet.extreme("max"), **changes}))

    return make


def foreign_sqlite(name: str) -> Setup:
    """``{tmp}/name``: an SQLite database of another program."""

    def make(tmp: Path, mp: pytest.MonkeyPatch) -> None:
        with sqlite3.connect(tmp / name) as con:
            con.execute("CREATE TABLE songs (title TEXT)")
            con.execute("INSERT INTO songs VALUES ('x')")
        con.close()

    return make


def sqlite_opened_as(mode: str) -> Setup:
    """Every SQLite connection opened read-only (``mode="ro"``: a read-only file system; no
    side file is made) or limited to the pages it has (``mode="full"``: a full disk)."""
    real = sqlite3.connect

    def connect(database, *args, **kwargs):
        if mode == "ro":
            return real(f"file:{database}?mode=ro&immutable=1", *args, uri=True, **kwargs)
        con = real(database, *args, **kwargs)
        pages = con.execute("PRAGMA page_count").fetchone()[0]
        con.execute(f"PRAGMA max_page_count = {max(pages, 1)}")
        return con

    def make(tmp: Path, mp: pytest.MonkeyPatch) -> None:
        mp.setattr(sqlite3, "connect", connect)

    return make


def sqlite_refuses(message: str) -> Setup:
    """Every SQLite connection fails to open with ``message`` (an unwritable folder, I/O errors)."""

    def connect(database, *args, **kwargs):
        raise sqlite3.OperationalError(message)

    def make(tmp: Path, mp: pytest.MonkeyPatch) -> None:
        mp.setattr(sqlite3, "connect", connect)

    return make


def os_refuses(target: str, code: int) -> Setup:
    """``target`` (``"replace"``: ``os.replace``; ``"mkdir"``: ``Path.mkdir``; ``"write"``:
    ``Path.write_text``) fails with ``OSError(code)`` naming its path."""

    def make(tmp: Path, mp: pytest.MonkeyPatch) -> None:
        def fail(path, *args, **kwargs):
            if target == "mkdir" and Path(path).is_dir():
                return  # an existing folder: nothing to write
            raise OSError(code, os.strerror(code), str(path))

        if target == "replace":
            mp.setattr(os, "replace", fail)
        elif target == "mkdir":
            mp.setattr(Path, "mkdir", fail)
        else:
            mp.setattr(Path, "write_text", fail)

    return make


GARBAGE = b"\x00\x01this is not what it claims to be\xff\xfe" * 20
BAD_YAML = "a: [1, 2\nb: {\n"
STORE = "run/store.sqlite"

# ----------------------------------------------------------------------------- cases
CASES = [
    # ------------------------------------------------------------------ spaces
    Case("spaces extra argument", "spaces --all", "--all"),
    # ------------------------------------------------------------------ simulate
    Case(
        "simulate subnet garbage file",
        "simulate --space vit-fmnist --subnet {tmp}/s.json",
        "{tmp}/s.json",
        text("s.json", "{not json"),
    ),
    Case("simulate subnet missing file", "simulate --space vit-fmnist --subnet {tmp}/none.json", "none.json"),
    Case("simulate subnet is a folder", "simulate --space vit-fmnist --subnet {tmp}/d", "{tmp}/d", folder("d")),
    Case("simulate subnet JSON list", "simulate --space vit-fmnist --subnet [1,2]", "--subnet"),
    Case("simulate subnet unknown key", 'simulate --space vit-fmnist --subnet {{"nope":1}}', "nope"),
    Case(
        "simulate subnet value out of space",
        "simulate --space vit-fmnist --subnet {tmp}/s.json",
        "99",
        largest_subnet("s.json", num_layers=99),
    ),
    Case("simulate hardware n_macros 0", 'simulate --space vit-fmnist --hardware {{"n_macros":0}}', "n_macros"),
    Case("simulate hardware n_macros -5", 'simulate --space vit-fmnist --hardware {{"n_macros":-5}}', "n_macros"),
    Case("simulate hardware n_macros text", 'simulate --space vit-fmnist --hardware {{"n_macros":"abc"}}', "abc"),
    Case("simulate hardware NaN clock", 'simulate --space vit-fmnist --hardware {{"clock_mhz":NaN}}', "clock_mhz"),
    Case(
        "simulate hardware inf bandwidth",
        'simulate --space vit-fmnist --hardware {{"dram_bw_gbps":Infinity}}',
        "dram_bw_gbps",
    ),
    Case("simulate hardware unknown cell", 'simulate --space vit-fmnist --hardware {{"cell":"dram"}}', "dram"),
    Case("simulate hardware unknown knob", 'simulate --space vit-fmnist --hardware {{"nope":1}}', "nope"),
    Case("simulate hardware adc_bits 0", 'simulate --space vit-fmnist --hardware {{"adc_bits":0}}', "adc_bits"),
    Case(
        "simulate hardware rows_active -1", 'simulate --space vit-fmnist --hardware {{"rows_active":-1}}', "rows_active"
    ),
    Case(
        "simulate hardware garbage file",
        "simulate --space vit-fmnist --hardware {tmp}/h.json",
        "{tmp}/h.json",
        data("h.json", GARBAGE),
    ),
    Case(
        "simulate tech YAML syntax",
        "simulate --space vit-fmnist --tech {tmp}/t.yaml",
        "{tmp}/t.yaml",
        text("t.yaml", BAD_YAML),
    ),
    Case(
        "simulate tech top-level list",
        "simulate --space vit-fmnist --tech {tmp}/t.yaml",
        "{tmp}/t.yaml",
        text("t.yaml", "- 1\n- 2\n"),
    ),
    Case(
        "simulate tech text value",
        "simulate --space vit-fmnist --tech {tmp}/t.yaml",
        "abc",
        text("t.yaml", "e_dram: abc\n"),
    ),
    Case(
        "simulate tech negative value",
        "simulate --space vit-fmnist --tech {tmp}/t.yaml",
        "e_dram",
        text("t.yaml", "e_dram: -1\n"),
    ),
    Case(
        "simulate tech unknown constant",
        "simulate --space vit-fmnist --tech {tmp}/t.yaml",
        "nope",
        text("t.yaml", "nope: 1\n"),
    ),
    Case(
        "simulate tech binary file",
        "simulate --space vit-fmnist --tech {tmp}/t.yaml",
        "{tmp}/t.yaml",
        data("t.yaml", GARBAGE),
    ),
    Case("simulate tech missing file", "simulate --space vit-fmnist --tech {tmp}/none.yaml", "{tmp}/none.yaml"),
    Case("simulate tech is a folder", "simulate --space vit-fmnist --tech {tmp}/d", "{tmp}/d", folder("d")),
    Case("simulate plot is a folder", "simulate --space vit-fmnist --plot {tmp}/d", "{tmp}/d", folder("d")),
    Case("simulate plot unknown format", "simulate --space vit-fmnist --plot {tmp}/r.nope", "{tmp}/r.nope"),
    Case("simulate plot under a file", "simulate --space vit-fmnist --plot {tmp}/f/r.png", "{tmp}/f", text("f", "x")),
    Case("simulate top negative", "simulate --space vit-fmnist --top -1", "--top"),
    # ------------------------------------------------------------------ train-supernet
    Case("train-supernet epochs 0", "train-supernet --epochs 0 --run-dir {tmp}/s", "--epochs"),
    Case("train-supernet lr nan", "train-supernet --lr nan --run-dir {tmp}/s", "--lr"),
    Case("train-supernet lr negative", "train-supernet --lr -1 --run-dir {tmp}/s", "--lr"),
    Case("train-supernet batch-size text", "train-supernet --batch-size x --run-dir {tmp}/s", "--batch-size"),
    Case(
        "train-supernet label-smoothing 2", "train-supernet --label-smoothing 2 --run-dir {tmp}/s", "--label-smoothing"
    ),
    Case("train-supernet warmup inf", "train-supernet --warmup-epochs inf --run-dir {tmp}/s", "--warmup-epochs"),
    Case(
        "train-supernet checkpoint-every 0",
        "train-supernet --checkpoint-every 0 --run-dir {tmp}/s",
        "--checkpoint-every",
    ),
    Case("train-supernet n-random -1", "train-supernet --n-random -1 --run-dir {tmp}/s", "--n-random"),
    Case("train-supernet limit -5", "train-supernet --limit -5 --run-dir {tmp}/s", "--limit"),
    Case("train-supernet threads -1", "train-supernet --threads -1 --run-dir {tmp}/s", "--threads"),
    Case("train-supernet unknown split", "train-supernet --train-split nosuch --run-dir {tmp}/s", "nosuch"),
    Case("train-supernet run-dir is a file", "train-supernet --epochs 1 --run-dir {tmp}/f", "{tmp}/f", text("f", "x")),
    Case(
        "experiment hardware-only with seeds",
        "experiment --space vit-b-imagenet --hardware-only --seeds 2 --out {tmp}/e",
        "--seeds",
    ),
    Case("train-supernet device unknown", "train-supernet --device gpu0 --run-dir {tmp}/s", "'gpu0'"),
    Case("train-supernet device absent", "train-supernet --device cuda:7 --run-dir {tmp}/s", "'cuda:7'"),
    Case("train-supernet out is a folder", "train-supernet --run-dir {tmp}/s --out {tmp}/d", "{tmp}/d", folder("d")),
    # ------------------------------------------------------------------ label
    Case(
        "label store garbage",
        LABEL + " --out {tmp}/o.parquet --store {tmp}/s.sqlite",
        "{tmp}/s.sqlite",
        data("s.sqlite", GARBAGE),
    ),
    Case(
        "label store zero bytes",
        LABEL + " --out {tmp}/o.parquet --store {tmp}/s.sqlite",
        "{tmp}/s.sqlite",
        data("s.sqlite", b""),
    ),
    Case(
        "label store truncated",
        LABEL + " --out {tmp}/o.parquet --store {run}/store.sqlite",
        "{run}/store.sqlite",
        truncated(STORE, 0.5),
    ),
    Case(
        "label store of another program",
        LABEL + " --out {tmp}/o.parquet --store {tmp}/s.sqlite",
        "{tmp}/s.sqlite",
        foreign_sqlite("s.sqlite"),
    ),
    Case(
        "label store of another run", LABEL + " --out {tmp}/o.parquet --store {run}/store.sqlite", "{run}/store.sqlite"
    ),
    Case("label store is a folder", LABEL + " --out {tmp}/o.parquet --store {tmp}/d", "{tmp}/d", folder("d")),
    Case(
        "label store under a file", LABEL + " --out {tmp}/o.parquet --store {tmp}/f/s.sqlite", "{tmp}/f", text("f", "x")
    ),
    Case(
        "label store read-only",
        LABEL + " --out {tmp}/o.parquet --store {tmp}/s.sqlite",
        "{tmp}/s.sqlite",
        sqlite_opened_as("ro"),
    ),
    Case(
        "label store disk full",
        LABEL + " --out {tmp}/o.parquet --store {tmp}/s.sqlite",
        "{tmp}/s.sqlite",
        sqlite_opened_as("full"),
    ),
    Case(
        "label store cannot be opened",
        LABEL + " --out {tmp}/o.parquet --store {tmp}/s.sqlite",
        "{tmp}/s.sqlite",
        sqlite_refuses("unable to open database file"),
    ),
    Case(
        "label store disk I/O error",
        LABEL + " --out {tmp}/o.parquet --store {tmp}/s.sqlite",
        "{tmp}/s.sqlite",
        sqlite_refuses("disk I/O error"),
    ),
    Case(
        "label out is a folder",
        LABEL + " --out {tmp}/d.parquet --store {tmp}/s.sqlite",
        "{tmp}/d.parquet",
        folder("d.parquet"),
    ),
    Case("label out unknown suffix", LABEL + " --out {tmp}/o.txt --store {tmp}/s.sqlite", "{tmp}/o.txt"),
    Case(
        "label out under a file", LABEL + " --out {tmp}/f/o.parquet --store {tmp}/s.sqlite", "{tmp}/f", text("f", "x")
    ),
    Case("label default store under a file", LABEL + " --out {tmp}/o.parquet", "runs", text("runs", "x")),
    Case(
        "label accuracy no colon",
        "label --space vit-fmnist -n 4 --out {tmp}/o.parquet --store {tmp}/s.sqlite --accuracy bogus --no-progress",
        "bogus",
    ),
    Case(
        "label accuracy missing function",
        "label --space vit-fmnist -n 4 --out {tmp}/o.parquet --store "
        "{tmp}/s.sqlite --accuracy os:nosuchfn --no-progress",
        "nosuchfn",
    ),
    Case(
        "label checkpoint missing",
        "label --space vit-fmnist -n 4 --out {tmp}/o.parquet --store {tmp}/s.sqlite "
        "--checkpoint {tmp}/none.pt --no-progress",
        "{tmp}/none.pt",
    ),
    Case(
        "label checkpoint garbage",
        "label --space vit-fmnist -n 4 --out {tmp}/o.parquet --store {tmp}/s.sqlite "
        "--checkpoint {tmp}/c.pt --no-progress",
        "{tmp}/c.pt",
        data("c.pt", GARBAGE),
    ),
    Case("label images 0", LABEL + " --out {tmp}/o.parquet --store {tmp}/s.sqlite --images 0", "--images"),
    Case(
        "label images without the supernet",
        LABEL + " --out {tmp}/o.parquet --store {tmp}/s.sqlite --images 9",
        "--images",
    ),
    Case(
        "label unknown split",
        "label --space vit-fmnist -n 4 --out {tmp}/o.parquet --store {tmp}/s.sqlite --split nosuch --no-progress",
        "nosuch",
    ),
    Case(
        "label tech YAML syntax",
        LABEL + " --out {tmp}/o.parquet --store {tmp}/s.sqlite --tech {tmp}/t.yaml",
        "{tmp}/t.yaml",
        text("t.yaml", BAD_YAML),
    ),
    Case(
        "label tech wrong type",
        LABEL + " --out {tmp}/o.parquet --store {tmp}/s.sqlite --tech {tmp}/t.yaml",
        "{tmp}/t.yaml",
        text("t.yaml", "just a sentence\n"),
    ),
    Case(
        "label accuracy-from garbage parquet",
        LABEL + " --out {tmp}/o.parquet --store {tmp}/s.sqlite --accuracy-from {tmp}/a.parquet",
        "{tmp}/a.parquet",
        data("a.parquet", GARBAGE),
    ),
    Case(
        "label accuracy-from missing",
        LABEL + " --out {tmp}/o.parquet --store {tmp}/s.sqlite --accuracy-from {tmp}/none.parquet",
        "{tmp}/none.parquet",
    ),
    Case(
        "label accuracy-from folder",
        LABEL + " --out {tmp}/o.parquet --store {tmp}/s.sqlite --accuracy-from {tmp}/d.csv",
        "{tmp}/d.csv",
        folder("d.csv"),
    ),
    Case(
        "label accuracy-from empty CSV",
        LABEL + " --out {tmp}/o.parquet --store {tmp}/s.sqlite --accuracy-from {tmp}/a.csv",
        "{tmp}/a.csv",
        data("a.csv", b""),
    ),
    Case(
        "label ray option without ray",
        LABEL + " --out {tmp}/o.parquet --store {tmp}/s.sqlite --ray-address auto",
        "--ray-address",
    ),
    Case("label ray-num-gpus nan", LABEL + " --out {tmp}/o.parquet --ray-num-gpus nan", "--ray-num-gpus"),
    Case("label subnets above n", LABEL + " --out {tmp}/o.parquet --store {tmp}/s.sqlite --subnets 9", "9"),
    Case("label workers text", LABEL + " --out {tmp}/o.parquet --workers two", "--workers"),
    Case(
        "label nothing to evaluate",
        "label --space vit-fmnist -n 4 --out {tmp}/o.parquet --accuracy none --no-roofline",
        "--no-roofline",
    ),
    # ------------------------------------------------------------------ train-predictors
    Case(
        "train-predictors data garbage parquet",
        TRAIN + " --data {tmp}/d.parquet --out {tmp}/p",
        "{tmp}/d.parquet",
        data("d.parquet", GARBAGE),
    ),
    Case(
        "train-predictors data truncated parquet",
        TRAIN + " --data {small} --out {tmp}/p",
        "{small}",
        truncated("small.parquet", 0.5),
    ),
    Case(
        "train-predictors data zero-byte parquet",
        TRAIN + " --data {tmp}/d.parquet --out {tmp}/p",
        "{tmp}/d.parquet",
        data("d.parquet", b""),
    ),
    Case(
        "train-predictors data binary CSV",
        TRAIN + " --data {tmp}/d.csv --out {tmp}/p",
        "{tmp}/d.csv",
        data("d.csv", GARBAGE),
    ),
    Case(
        "train-predictors data empty CSV",
        TRAIN + " --data {tmp}/d.csv --out {tmp}/p",
        "{tmp}/d.csv",
        data("d.csv", b""),
    ),
    Case(
        "train-predictors data ragged CSV",
        TRAIN + " --data {tmp}/d.csv --out {tmp}/p",
        "{tmp}/d.csv",
        text("d.csv", 'a,b\n1,2\n3,4,5,6\n"x\n'),
    ),
    Case(
        "train-predictors data CSV missing a choice",
        TRAIN + " --data {small_csv} --out {tmp}/p",
        "num_layers",
        csv_from_small("small.csv", lambda f: f.drop(columns=["num_layers"])),
    ),
    Case(
        "train-predictors data CSV text objective",
        TRAIN + " --data {small_csv} --out {tmp}/p",
        "latency_s",
        csv_from_small("small.csv", lambda f: f.assign(latency_s="fast")),
    ),
    Case(
        "train-predictors data CSV bad choice value",
        TRAIN + " --data {small_csv} --out {tmp}/p",
        "num_layers",
        csv_from_small("small.csv", lambda f: f.assign(num_layers=77)),
    ),
    Case(
        "train-predictors data CSV extra text column",
        TRAIN + " --data {tmp}/x.csv --out {tmp}/p",
        "note",
        csv_from_small("x.csv", lambda f: f.assign(note="hello")),
    ),
    Case("train-predictors data missing", TRAIN + " --data {tmp}/none.parquet --out {tmp}/p", "{tmp}/none.parquet"),
    Case(
        "train-predictors data is a folder",
        TRAIN + " --data {tmp}/d.parquet --out {tmp}/p",
        "{tmp}/d.parquet",
        folder("d.parquet"),
    ),
    Case(
        "train-predictors data unknown suffix",
        TRAIN + " --data {tmp}/d.txt --out {tmp}/p",
        "{tmp}/d.txt",
        text("d.txt", "a,b\n1,2\n"),
    ),
    Case(
        "train-predictors data sidecar garbage",
        TRAIN + " --data {small_csv} --out {tmp}/p",
        "small.csv.meta.json",
        text("small.csv.meta.json", "{oops"),
    ),
    Case(
        "train-predictors data too few rows",
        TRAIN + " --data {tmp}/few.csv --out {tmp}/p",
        "{tmp}/few.csv",
        csv_from_small("few.csv", lambda f: f.head(3)),
    ),
    Case("train-predictors out is a file", TRAIN + " --data {small} --out {tmp}/f", "{tmp}/f", text("f", "x")),
    Case("train-predictors out under a file", TRAIN + " --data {small} --out {tmp}/f/p", "{tmp}/f", text("f", "x")),
    Case("train-predictors unknown objective", TRAIN + " --data {small} --out {tmp}/p --objectives nosuch", "nosuch"),
    Case("train-predictors space mismatch", TRAIN + " --data {small} --out {tmp}/p --space cnn-fmnist", "cnn-fmnist"),
    Case("train-predictors curve size 0", TRAIN + " --data {small} --out {tmp}/p --curve-sizes 100,0", "0"),
    Case("train-predictors curve size text", TRAIN + " --data {small} --out {tmp}/p --curve-sizes abc", "abc"),
    Case("train-predictors empty models", TRAIN + " --data {small} --out {tmp}/p --models ,", "--models"),
    Case(
        "train-predictors test-fraction inf",
        TRAIN + " --data {small} --out {tmp}/p --test-fraction inf",
        "--test-fraction",
    ),
    Case("train-predictors seed text", TRAIN + " --data {small} --out {tmp}/p --seed x", "--seed"),
    Case(
        "train-predictors out disk full",
        TRAIN + " --data {small} --out {tmp}/p",
        "{tmp}/p",
        os_refuses("mkdir", errno.ENOSPC),
    ),
    # ------------------------------------------------------------------ search: config files
    Case("search config missing", "search --run {tmp}/r --config {tmp}/none.yaml", "{tmp}/none.yaml"),
    Case("search config is a folder", "search --run {tmp}/r --config {tmp}/d", "{tmp}/d", folder("d")),
    Case(
        "search config YAML syntax",
        "search --run {tmp}/r --config {tmp}/c.yaml",
        "{tmp}/c.yaml",
        text("c.yaml", BAD_YAML),
    ),
    Case("search config binary", "search --run {tmp}/r --config {tmp}/c.yaml", "{tmp}/c.yaml", data("c.yaml", GARBAGE)),
    Case(
        "search config top-level list",
        "search --run {tmp}/r --config {tmp}/c.yaml",
        "{tmp}/c.yaml",
        text("c.yaml", "- budget\n- 4\n"),
    ),
    Case(
        "search config unknown key",
        "search --run {tmp}/r --config {tmp}/c.yaml",
        "budjet",
        text("c.yaml", "budjet: 4\n"),
    ),
    Case(
        "search config budget text",
        "search --run {tmp}/r --config {tmp}/c.yaml",
        "abc",
        text("c.yaml", "budget: abc\nproblem: {space: vit-fmnist}\n"),
    ),
    Case(
        "search config budget float",
        "search --run {tmp}/r --config {tmp}/c.yaml",
        "2.5",
        text("c.yaml", "budget: 2.5\nproblem: {space: vit-fmnist}\n"),
    ),
    Case(
        "search config problem a number",
        "search --run {tmp}/r --config {tmp}/c.yaml",
        "problem",
        text("c.yaml", "budget: 4\nproblem: 5\n"),
    ),
    Case(
        "search config problem a list",
        "search --run {tmp}/r --config {tmp}/c.yaml",
        "problem",
        text("c.yaml", "budget: 4\nproblem: [vit-fmnist]\n"),
    ),
    Case(
        "search config space a number",
        "search --run {tmp}/r --config {tmp}/c.yaml",
        "5",
        text("c.yaml", "budget: 4\nproblem: {space: 5}\n"),
    ),
    Case(
        "search config objectives a number",
        "search --run {tmp}/r --config {tmp}/c.yaml",
        "objectives",
        text("c.yaml", "budget: 4\nproblem: {space: vit-fmnist, objectives: 5}\n"),
    ),
    Case(
        "search config area budget text",
        "search --run {tmp}/r --config {tmp}/c.yaml",
        "abc",
        text("c.yaml", "budget: 4\nproblem: {space: vit-fmnist, area_budget: abc}\n"),
    ),
    Case(
        "search config strategy options a list",
        "search --run {tmp}/r --config {tmp}/c.yaml",
        "strategy_options",
        text("c.yaml", "budget: 4\nstrategy: random\nstrategy_options: [1]\nproblem: {space: vit-fmnist}\n"),
    ),
    Case(
        "search config initial a number",
        "search --run {tmp}/r --config {tmp}/c.yaml",
        "initial",
        text("c.yaml", "budget: 4\nstrategy: random\ninitial: 5\nproblem: {space: vit-fmnist, table: small.parquet}\n"),
    ),
    Case(
        "search config seed negative",
        "search --run {tmp}/r --config {tmp}/c.yaml",
        "-1",
        text("c.yaml", "budget: 4\nstrategy: random\nseed: -1\nproblem: {space: vit-fmnist, table: small.parquet}\n"),
    ),
    # ------------------------------------------------------------------ search: space files
    Case(
        "search space file YAML syntax",
        "search --run {tmp}/r --budget 4 --space {tmp}/s.yaml",
        "{tmp}/s.yaml",
        text("s.yaml", BAD_YAML),
    ),
    Case(
        "search space file empty",
        "search --run {tmp}/r --budget 4 --space {tmp}/s.yaml",
        "{tmp}/s.yaml",
        text("s.yaml", ""),
    ),
    Case(
        "search space file a list",
        "search --run {tmp}/r --budget 4 --space {tmp}/s.yaml",
        "{tmp}/s.yaml",
        text("s.yaml", "- a\n- b\n"),
    ),
    Case(
        "search space file choices a number",
        "search --run {tmp}/r --budget 4 --space {tmp}/s.yaml",
        "choices",
        text("s.yaml", "name: mine\nchoices: 5\n"),
    ),
    Case(
        "search space file choice without values",
        "search --run {tmp}/r --budget 4 --space {tmp}/s.yaml",
        "a",
        text("s.yaml", "name: mine\nchoices:\n- name: a\n"),
    ),
    Case(
        "search space file binary",
        "search --run {tmp}/r --budget 4 --space {tmp}/s.yaml",
        "{tmp}/s.yaml",
        data("s.yaml", GARBAGE),
    ),
    # ------------------------------------------------------------------ search: run, table, initial
    Case("search run is a file", SEARCH + " --run {tmp}/f", "{tmp}/f", text("f", "x")),
    Case("search run under a file", SEARCH + " --run {tmp}/f/r", "{tmp}/f", text("f", "x")),
    Case("search run store garbage", "search --run {run} --quiet", "{run}/store.sqlite", data(STORE, GARBAGE)),
    Case("search run store truncated", "search --run {run} --quiet", "{run}/store.sqlite", truncated(STORE, 0.5)),
    Case("search run store zero bytes", "search --run {run} --quiet", "{run}/store.sqlite", data(STORE, b"")),
    Case("search run store is a folder", "search --run {run} --quiet", "{run}/store.sqlite", replaced_by_folder(STORE)),
    Case(
        "search run folder read-only",
        "search --run {run} --budget 6 --quiet",
        "{run}",
        both(sqlite_opened_as("ro"), os_refuses("write", errno.EROFS)),
    ),
    Case("search new run disk full", SEARCH + " --run {tmp}/r", "{tmp}/r", sqlite_opened_as("full")),
    Case(
        "search table garbage",
        "search --run {tmp}/r --space vit-fmnist --table {tmp}/t.parquet --budget 2",
        "{tmp}/t.parquet",
        data("t.parquet", GARBAGE),
    ),
    Case(
        "search table missing",
        "search --run {tmp}/r --space vit-fmnist --table {tmp}/none.parquet --budget 2",
        "{tmp}/none.parquet",
    ),
    Case(
        "search table is a folder",
        "search --run {tmp}/r --space vit-fmnist --table {tmp}/d.parquet --budget 2",
        "{tmp}/d.parquet",
        folder("d.parquet"),
    ),
    Case(
        "search table CSV missing a choice",
        "search --run {tmp}/r --space vit-fmnist --table {small_csv} --budget 2",
        "num_layers",
        csv_from_small("small.csv", lambda f: f.drop(columns=["num_layers"])),
    ),
    Case(
        "search initial garbage parquet",
        SEARCH + " --run {tmp}/r --initial {tmp}/i.parquet",
        "{tmp}/i.parquet",
        data("i.parquet", GARBAGE),
    ),
    Case("search initial missing", SEARCH + " --run {tmp}/r --initial {tmp}/none.csv", "{tmp}/none.csv"),
    Case(
        "search initial empty CSV", SEARCH + " --run {tmp}/r --initial {tmp}/i.csv", "{tmp}/i.csv", data("i.csv", b"")
    ),
    Case(
        "search initial binary CSV",
        SEARCH + " --run {tmp}/r --initial {tmp}/i.csv",
        "{tmp}/i.csv",
        data("i.csv", GARBAGE),
    ),
    Case(
        "search initial no choice column",
        SEARCH + " --run {tmp}/r --initial {tmp}/i.csv",
        "{tmp}/i.csv",
        text("i.csv", "foo,bar\n1,2\n"),
    ),
    Case(
        "search initial text value",
        SEARCH + " --run {tmp}/r --initial {tmp}/i.csv",
        "abc",
        csv_from_small("i.csv", lambda f: f.head(1).assign(num_layers="abc")),
    ),
    Case("search initial is a folder", SEARCH + " --run {tmp}/r --initial {tmp}/d.csv", "{tmp}/d.csv", folder("d.csv")),
    # ------------------------------------------------------------------ search: options
    Case("search area budget -1", SEARCH + " --run {tmp}/r --area-budget -1", "-1"),
    Case("search area budget 0", SEARCH + " --run {tmp}/r --area-budget 0", "area_budget"),
    Case("search area budget nan", SEARCH + " --run {tmp}/r --area-budget nan", "nan"),
    Case("search area budget inf", SEARCH + " --run {tmp}/r --area-budget inf", "inf"),
    Case("search power budget abc", SEARCH + " --run {tmp}/r --power-budget abc", "abc"),
    Case("search power budget -2", SEARCH + " --run {tmp}/r --power-budget -2", "-2"),
    Case("search unknown objective", SEARCH + " --run {tmp}/r --objectives accuracy,speed", "speed"),
    Case("search no objectives", SEARCH + " --run {tmp}/r --objectives ,", "objectives"),
    Case("search accuracy bogus", "search --run {tmp}/r --space vit-fmnist --budget 4 --accuracy bogus", "bogus"),
    Case(
        "search accuracy missing module",
        "search --run {tmp}/r --space vit-fmnist --budget 4 --accuracy nomodule:fn",
        "nomodule",
    ),
    Case(
        "search checkpoint missing",
        "search --run {tmp}/r --space vit-fmnist --budget 4 --checkpoint {tmp}/none.pt",
        "{tmp}/none.pt",
    ),
    Case("search images 0", "search --run {tmp}/r --space vit-fmnist --budget 4 --images 0", "--images"),
    Case("search images past the split", "search --run {tmp}/r --space vit-fmnist --budget 4 --images 10001", "10001"),
    Case(
        "search images without the supernet",
        "search --run {tmp}/r --space vit-fmnist --budget 4 --images 50 --accuracy external",
        "external",
    ),
    Case("search option without =", SEARCH + " --run {tmp}/r -o pool_size", "pool_size"),
    Case("search option bad YAML", SEARCH + " --run {tmp}/r -o pool_size=[", "pool_size"),
    Case("search option unknown", "search --run {tmp}/r --space vit-fmnist --budget 4 -o nosuch=1", "nosuch"),
    Case(
        "search option out of range", "search --run {tmp}/r --space vit-fmnist --budget 4 -o pool_size=0", "pool_size"
    ),
    Case("search budget below n-init", SEARCH + " --run {tmp}/r --n-init 6", "n_init"),
    Case(
        "search workers with inprocess",
        SEARCH + " --run {tmp}/r --executor inprocess --ray-num-cpus 1",
        "--ray-num-cpus",
    ),
    Case("search resume with another seed", "search --run {run} --seed 5 --quiet", "seed"),
    Case("search resume budget text", "search --run {run} --budget x", "--budget"),
    # ------------------------------------------------------------------ search: --model
    Case("search model without input shape", MODEL_SEARCH.replace(" --input-shape 1,1,28,28", ""), "--input-shape"),
    Case("search input shape without model", SEARCH + " --run {tmp}/r --input-shape 1,1,28,28", "--input-shape"),
    Case("search unknown ops without model", SEARCH + " --run {tmp}/r --unknown-ops eltwise", "--unknown-ops"),
    Case("search unknown ops bogus", MODEL_SEARCH + " --unknown-ops bogus", "bogus"),
    Case("search input shape zero", MODEL_SEARCH.replace("1,1,28,28", "1,0,28"), "--input-shape"),
    Case("search input shape text", MODEL_SEARCH.replace("1,1,28,28", "1,x"), "x"),
    Case("search input shape the model cannot take", MODEL_SEARCH.replace("1,1,28,28", "1,3,28,28"), "3 channels"),
    Case("search model not MODULE:FACTORY", MODEL_SEARCH.replace(TINY_CNN, "nocolon"), "nocolon"),
    Case("search model module missing", MODEL_SEARCH.replace(TINY_CNN, "nosuchmodule:make"), "nosuchmodule"),
    Case("search model factory missing", MODEL_SEARCH.replace(TINY_CNN, "examples.tiny_cnn:nope"), "nope"),
    Case("search model returns no module", MODEL_SEARCH.replace(TINY_CNN, "builtins:dict"), "builtins:dict"),
    Case("search model mode joint", MODEL_SEARCH + " --mode joint", "joint"),
    Case("search model mode model-only", MODEL_SEARCH + " --mode model-only", "model-only"),
    Case("search model with accuracy", MODEL_SEARCH + " --accuracy supernet", "accuracy"),
    Case("search model with a table", MODEL_SEARCH + " --table {small}", "table"),
    Case("search model objective accuracy", MODEL_SEARCH + " --objectives accuracy,latency_s", "accuracy"),
    Case("search model one objective", MODEL_SEARCH + " --objectives latency_s", "latency_s"),
    Case("search model unknown space", MODEL_SEARCH + " --space cim-nope", "cim-nope"),
    Case(
        "search config model input shape text",
        "search --run {tmp}/r --budget 4 --config {tmp}/c.yaml",
        "input_shape",
        text("c.yaml", f"problem: {{model: '{TINY_CNN}', input_shape: abc}}\n"),
    ),
    Case(
        "search config model table fingerprint differs",
        "search --run {tmp}/r --budget 4 --config {tmp}/c.yaml",
        "table_sha256",
        text("c.yaml", f"problem: {{model: '{TINY_CNN}', input_shape: [1, 1, 28, 28], table_sha256: abc}}\n"),
    ),
    Case("search resume with a model", "search --run {run} --quiet " + MODEL, "model"),
    # ------------------------------------------------------------------ propose
    Case("propose out is a folder", "propose --run {run} --out {tmp}/d -q 1", "{tmp}/d", folder("d")),
    Case("propose out under a file", "propose --run {run} --out {tmp}/f/n.csv -q 1", "{tmp}/f", text("f", "x")),
    Case(
        "propose store garbage",
        "propose --run {run} --out {tmp}/n.csv -q 1",
        "{run}/store.sqlite",
        data(STORE, GARBAGE),
    ),
    Case(
        "propose store zero bytes", "propose --run {run} --out {tmp}/n.csv -q 1", "{run}/store.sqlite", data(STORE, b"")
    ),
    Case(
        "propose store read-only",
        "propose --run {run} --out {tmp}/n.csv -q 1",
        "{run}/store.sqlite",
        sqlite_opened_as("ro"),
    ),
    Case("propose run is a file", "propose --run {tmp}/f --out {tmp}/n.csv -q 1", "{tmp}/f", text("f", "x")),
    Case("propose no run no problem", "propose --run {tmp}/r --out {tmp}/n.csv -q 1", "{tmp}/r"),
    Case("propose q text", "propose --run {run} --out {tmp}/n.csv -q many", "-q"),
    Case(
        "propose new run disk full",
        "propose --run {tmp}/r --space vit-fmnist --table {small} --out {tmp}/n.csv -q 1",
        "{tmp}/r/store.sqlite",
        sqlite_opened_as("full"),
    ),
    # ------------------------------------------------------------------ tell
    Case("tell results missing", "tell --run {run} {tmp}/none.csv", "{tmp}/none.csv"),
    Case(
        "tell results garbage parquet",
        "tell --run {run} {tmp}/r.parquet",
        "{tmp}/r.parquet",
        data("r.parquet", GARBAGE),
    ),
    Case("tell results empty CSV", "tell --run {run} {tmp}/r.csv", "{tmp}/r.csv", data("r.csv", b"")),
    Case("tell results binary CSV", "tell --run {run} {tmp}/r.csv", "{tmp}/r.csv", data("r.csv", GARBAGE)),
    Case(
        "tell results without idx",
        "tell --run {run} {tmp}/r.csv",
        "{tmp}/r.csv",
        text("r.csv", "accuracy,latency_s\n0.9,0.001\n"),
    ),
    Case("tell results is a folder", "tell --run {run} {tmp}/d.csv", "{tmp}/d.csv", folder("d.csv")),
    Case(
        "tell store garbage",
        "tell --run {run} {tmp}/r.csv",
        "{run}/store.sqlite",
        both(data(STORE, GARBAGE), text("r.csv", "idx,accuracy,latency_s\n4,0.9,0.001\n")),
    ),
    Case(
        "tell store truncated",
        "tell --run {run} {tmp}/r.csv",
        "{run}/store.sqlite",
        both(truncated(STORE, 0.5), text("r.csv", "idx,accuracy,latency_s\n4,0.9,0.001\n")),
    ),
    Case(
        "tell store zero bytes",
        "tell --run {run} {tmp}/r.csv",
        "{run}/store.sqlite",
        both(data(STORE, b""), text("r.csv", "idx,accuracy,latency_s\n4,0.9,0.001\n")),
    ),
    Case(
        "tell run is a file",
        "tell --run {tmp}/f {tmp}/r.csv",
        "{tmp}/f",
        both(text("f", "x"), text("r.csv", "idx,accuracy,latency_s\n4,0.9,0.001\n")),
    ),
    Case(
        "tell run missing",
        "tell --run {tmp}/none {tmp}/r.csv",
        "{tmp}/none",
        text("r.csv", "idx,accuracy,latency_s\n4,0.9,0.001\n"),
    ),
    # ------------------------------------------------------------------ baseline
    Case(
        "baseline run is a file",
        f"baseline --space vit-fmnist --accuracy {SYN} --run {{tmp}}/f",
        "{tmp}/f",
        text("f", "x"),
    ),
    Case(
        "baseline run under a file",
        f"baseline --space vit-fmnist --accuracy {SYN} --run {{tmp}}/f/b",
        "{tmp}/f",
        text("f", "x"),
    ),
    Case(
        "baseline accuracy missing module",
        "baseline --space vit-fmnist --accuracy nomodule:fn --run {tmp}/b",
        "nomodule",
    ),
    Case("baseline accuracy bogus", "baseline --space vit-fmnist --accuracy bogus --run {tmp}/b", "bogus"),
    Case(
        "baseline checkpoint missing",
        "baseline --space vit-fmnist --checkpoint {tmp}/none.pt --run {tmp}/b",
        "{tmp}/none.pt",
    ),
    Case(
        "baseline checkpoint garbage",
        "baseline --space vit-fmnist --checkpoint {tmp}/c.pt --run {tmp}/b",
        "{tmp}/c.pt",
        data("c.pt", GARBAGE),
    ),
    Case(
        "baseline store disk full",
        f"baseline --space vit-fmnist --accuracy {SYN} --run {{tmp}}/b",
        "{tmp}/b",
        sqlite_opened_as("full"),
    ),
    # ------------------------------------------------------------------ report
    Case("report run missing", "report --run {tmp}/none --out {tmp}/rep", "{tmp}/none"),
    Case("report run is a file", "report --run {tmp}/f --out {tmp}/rep", "{tmp}/f", text("f", "x")),
    Case("report run store garbage", "report --run {run} --out {tmp}/rep", "{run}/store.sqlite", data(STORE, GARBAGE)),
    Case(
        "report run store truncated", "report --run {run} --out {tmp}/rep", "{run}/store.sqlite", truncated(STORE, 0.5)
    ),
    Case("report run store zero bytes", "report --run {run} --out {tmp}/rep", "{run}/store.sqlite", data(STORE, b"")),
    Case(
        "report run store of another program",
        "report --run {run} --out {tmp}/rep",
        "{run}/store.sqlite",
        both(lambda tmp, mp: (tmp / STORE).unlink(), foreign_sqlite(STORE)),
    ),
    Case("report out is a file", "report --run {run} --out {tmp}/f", "{tmp}/f", text("f", "x")),
    Case("report out under a file", "report --run {run} --out {tmp}/f/rep", "{tmp}/f", text("f", "x")),
    Case("report targets nan", "report --run {run} --out {tmp}/rep --targets 0,nan", "nan"),
    Case("report targets text", "report --run {run} --out {tmp}/rep --targets 0,abc", "abc"),
    Case("report glob matches nothing", "report --run {tmp}/nothing-* --out {tmp}/rep", "nothing-*"),
    Case("report out disk full", "report --run {run} --out {tmp}/rep", "{tmp}/rep", os_refuses("mkdir", errno.ENOSPC)),
    # ------------------------------------------------------------------ experiment
    Case("experiment seeds 0", EXPERIMENT + " --seeds 0 --out {tmp}/e", "--seeds"),
    Case("experiment seeds negative in list", EXPERIMENT + " --seeds 0,-2 --out {tmp}/e", "-2"),
    Case("experiment seeds repeated", EXPERIMENT + " --seeds 1,1 --out {tmp}/e", "1,1"),
    Case("experiment seeds text", EXPERIMENT + " --seeds a,b --out {tmp}/e", "a,b"),
    Case("experiment seeds empty list", EXPERIMENT + " --seeds , --out {tmp}/e", "--seeds"),
    Case("experiment targets inf", EXPERIMENT + " --targets inf --out {tmp}/e", "inf"),
    Case("experiment out is a file", EXPERIMENT + " --out {tmp}/f", "{tmp}/f", text("f", "x")),
    Case("experiment runs is a file", EXPERIMENT + " --out {tmp}/e --runs {tmp}/f", "{tmp}/f", text("f", "x")),
    Case(
        "experiment hardware-only out is a file",
        "experiment --space vit-fmnist --hardware-only --out {tmp}/f",
        "{tmp}/f",
        text("f", "x"),
    ),
    Case(
        "experiment accuracy bogus", "experiment --space vit-fmnist --seeds 1 --accuracy bogus --out {tmp}/e", "bogus"
    ),
    Case("experiment option bad", EXPERIMENT + " --out {tmp}/e -o nosuch=1", "nosuch"),
    Case("experiment n-init above budget", EXPERIMENT + " --n-init 8 --out {tmp}/e", "n_init"),
]


class Reached(Exception):
    """Raised where a command would start its heavy work (supernet training): the bad value was
    accepted."""


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory) -> Path:
    """A finished search run (``run/``, 4 look-ups in the small dataset) and a small labeled dataset of 40 rows
    (``small.parquet``, and ``small.csv`` with its metadata sidecar)."""
    import pyarrow.parquet as pq

    from cimnet_bo.store import read_dataset, write_dataset

    base = tmp_path_factory.mktemp("fixtures")
    pq.write_table(pq.read_table(LABELS).slice(0, 40), base / "small.parquet")
    assert cli_main(f"{SEARCH} --run {base / 'run'}".format(small=base / "small.parquet").split()) == 0
    ds = read_dataset(base / "small.parquet")
    frame = ds.frame
    frame.attrs["cimnet_bo"] = ds.meta
    write_dataset(frame, base / "small.csv")
    return base


def workspace(tmp: Path, fixtures: Path) -> dict[str, Path]:
    """Copy the fixtures into ``tmp``; the paths the templates of :class:`Case` name."""
    shutil.copytree(fixtures, tmp, dirs_exist_ok=True)
    return {"tmp": tmp, "run": tmp / "run", "small": tmp / "small.parquet", "small_csv": tmp / "small.csv"}


def snapshot(folder: Path) -> dict[str, str]:
    """Every file (its SHA-256) and folder (``"dir"``) under ``folder``, by relative path. A run
    store's lock file is left out: it is where a writer locks (and records itself) before it
    looks at the store, not data, and it stays."""
    out = {}
    for p in sorted(folder.rglob("*")):
        if not p.name.endswith(".sqlite.lock"):
            out[str(p.relative_to(folder))] = "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def run_case(case: Case, tmp: Path, fixtures: Path, mp: pytest.MonkeyPatch, capsys) -> tuple[str, str]:
    """Run ``case`` in ``tmp``; returns (outcome, detail). Outcomes: ``clear`` (exit code 2, one
    error line naming the bad value, nothing written), ``traceback``, ``accepted`` (the command
    went on), ``unclear`` (the error line lacks the expected phrase) and ``wrote`` (a file
    changed or appeared)."""
    import traceback

    paths = workspace(tmp, fixtures)
    mp.chdir(tmp)

    def reached(*args, **kwargs):
        raise Reached("supernet training started")

    import cimnet_bo.supernet.train as train

    mp.setattr(train, "build_supernet", reached)
    if case.setup is not None:
        case.setup(tmp, mp)
    before = snapshot(tmp)
    argv = case.argv.format(**paths).split()
    capsys.readouterr()
    try:
        rc = cli_main(argv)
    except SystemExit as e:
        rc = e.code
    except Reached:
        return "accepted", "reached supernet training"
    except Exception:
        return "traceback", traceback.format_exc(limit=-3)
    finally:
        mp.undo()
    err = capsys.readouterr().err
    after = snapshot(tmp)
    lines = err.strip().splitlines()
    if "Traceback" in err:
        return "traceback", err
    if rc != 2 or not lines:
        return "accepted", f"exit code {rc}"
    usage = all(line.startswith(("usage:", " ")) for line in lines[:-1])
    if not usage or not lines[-1].startswith((f"cimnet-bo {argv[0]}: error: ", "cimnet-bo: error: ")):
        return "unclear", err
    if case.expect.format(**paths) not in lines[-1]:
        return "unclear", lines[-1]
    if before != after:
        changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        return "wrote", f"{lines[-1]}\nchanged: {changed}"
    return "clear", lines[-1]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_a_one_line_error(case, tmp_path, fixtures, monkeypatch, capsys):
    outcome, detail = run_case(case, tmp_path, fixtures, monkeypatch, capsys)
    assert outcome == "clear", detail


#: Cases that also run as real subprocesses: the terminal gets one line, no traceback.
SUBPROCESS = [
    "search run store garbage",
    "search config YAML syntax",
    "train-predictors data garbage parquet",
    "tell results binary CSV",
    "simulate tech YAML syntax",
]


@pytest.mark.parametrize("case", [c for c in CASES if c.id in SUBPROCESS], ids=SUBPROCESS)
def test_bad_input_in_a_subprocess_is_one_line(case, tmp_path, fixtures, monkeypatch):
    paths = workspace(tmp_path, fixtures)
    case.setup(tmp_path, monkeypatch)
    before = snapshot(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "cimnet_bo", *case.argv.format(**paths).split()]
    res = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2 and len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
    assert case.expect.format(**paths) in lines[0]
    assert snapshot(tmp_path) == before


#: Boundary values that must be accepted: (id, command line, set-up, file the command writes).
GOOD = [
    (
        "simulate smallest knobs",
        'simulate --space vit-fmnist --subnet min --hardware {{"n_macros":1}} --top 1',
        None,
        None,
    ),
    ("simulate empty tech file", "simulate --space vit-fmnist --tech {tmp}/t.yaml --json", text("t.yaml", ""), None),
    (
        "label one pair",
        f"label --space vit-fmnist -n 1 --subnets 1 --batch-size 1 --seed 0 --accuracy {SYN} "
        "--no-progress --out {tmp}/o.csv --store {tmp}/s.sqlite",
        None,
        "o.csv",
    ),
    (
        "train-predictors half held out",
        TRAIN + " --data {small} --out {tmp}/p --test-fraction 0.5 --seed 0",
        None,
        "p/report.json",
    ),
    (
        "search one evaluation without budgets",
        "search --space vit-fmnist --table {small} --strategy random --budget 1 --batch-size 1 --n-init 1 --seed 0 "
        "--area-budget none --power-budget none --quiet --run {tmp}/r",
        None,
        "r/store.sqlite",
    ),
    ("search empty config file", SEARCH + " --config {tmp}/c.yaml --run {tmp}/r", text("c.yaml", ""), "r/config.yaml"),
    (
        "search initial design with an extra column",
        SEARCH + " --initial {tmp}/i.csv --run {tmp}/r",
        csv_from_small("i.csv", lambda f: f.head(1).assign(note="known design")),
        "r/store.sqlite",
    ),
    ("report top 0", "report --run {run} --out {tmp}/rep --top 0 --no-roofline", None, "rep/report.md"),
]


@pytest.mark.parametrize("name, argv, setup, writes", GOOD, ids=[g[0] for g in GOOD])
def test_boundary_values_are_accepted(name, argv, setup, writes, tmp_path, fixtures, monkeypatch, capsys):
    paths = workspace(tmp_path, fixtures)
    monkeypatch.chdir(tmp_path)
    if setup is not None:
        setup(tmp_path, monkeypatch)
    assert cli_main(argv.format(**paths).split()) == 0, capsys.readouterr().err
    assert writes is None or (tmp_path / writes).is_file()


def test_propose_on_a_finished_run_keeps_its_budget(tmp_path, fixtures, capsys):
    """Ask/tell needs no budget; proposing on a search run leaves the run's budget as it was."""
    import yaml

    run = workspace(tmp_path, fixtures)["run"]
    budget = yaml.safe_load((run / "config.yaml").read_text())["budget"]
    assert cli_main(["propose", "--run", str(run), "--out", str(tmp_path / "n.csv"), "-q", "1"]) == 0
    assert yaml.safe_load((run / "config.yaml").read_text())["budget"] == budget
    assert len((tmp_path / "n.csv").read_text().splitlines()) == 2


def test_a_csv_written_by_label_trains_predictors_of_its_objectives(tmp_path, capsys):
    """``label --out X.csv`` then ``train-predictors --data X.csv``: the predictors are those of
    the dataset's objectives (its auxiliary columns, such as program_time_s, are not objectives)."""
    import json

    from cimnet_bo.store import read_dataset

    out = tmp_path / "d.csv"
    argv = f"label --space vit-fmnist -n 40 --accuracy {SYN} --no-progress --out {out} --store {tmp_path / 's.sqlite'}"
    assert cli_main(argv.split()) == 0
    assert cli_main(f"{TRAIN} --data {out} --out {tmp_path / 'p'}".split()) == 0
    report = json.loads((tmp_path / "p" / "report.json").read_text())
    declared = [o for o in read_dataset(out).objective_names if o != "feasible"]
    assert "program_time_s" in read_dataset(out).extras
    assert sorted(report["objectives"]) == sorted(declared) and "accuracy" in declared
    assert report["space"] == "vit-fmnist"


def test_label_output_that_cannot_be_written_keeps_the_store(tmp_path, monkeypatch, capsys):
    """The labels are done when the dataset cannot be written (here: permission denied): one
    error line naming the dataset, no partial or temporary file, and the store kept, so the same
    command resumes without evaluating again."""
    store, out = tmp_path / "s.sqlite", tmp_path / "o.parquet"
    argv = f"{LABEL} --out {out} --store {store}".split()
    real = os.replace

    def refuse(src, dst):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(dst))

    monkeypatch.setattr(os, "replace", refuse)
    assert cli_main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and str(out) in lines[0] and "Permission denied" in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.sqlite", "s.sqlite.lock"]
    monkeypatch.setattr(os, "replace", real)
    assert cli_main(argv) == 0
    assert '"new": 0' in capsys.readouterr().out and out.is_file()
