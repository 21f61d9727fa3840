"""Relabeling with the accuracies of an earlier table (``label(reuse_from=...)``,
``cimnet-bo label --accuracy-from``): reused values equal the old table's, subnets the old
table lacks are evaluated, a table measured by another checkpoint is refused."""

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import label_helpers
from cimnet_bo.cli import main as cli_main
from cimnet_bo.evaluate import CallableEvaluator, RooflineEvaluator, label
from cimnet_bo.evaluate.label import ReuseError, subnet_values_from_table
from cimnet_bo.space import get_space
from cimnet_bo.store import read_dataset

CKPT = "supernet:vit-fmnist:val:sha256=aaaa"


@pytest.fixture(scope="module")
def vit():
    return get_space("vit-fmnist")


def _label(vit, tmp_path, name, n, evaluators, table=True, **kwargs):
    """``label`` into ``<name>.sqlite`` and (``table``) ``<name>.parquet`` under ``tmp_path``."""
    out = tmp_path / f"{name}.parquet" if table else None
    return label(vit, n, evaluators, tmp_path / f"{name}.sqlite", out, progress=False, **kwargs)


def _evaluators(vit, calls, name=CKPT, roofline=True):
    def acc(c):
        calls.append(tuple(c[n] for n in vit.subnet.names))
        return label_helpers.fake_accuracy(c)

    evs = [CallableEvaluator(acc, [("accuracy", "max")], space=vit, name=name, subnet_only=True)]
    return evs + ([RooflineEvaluator(vit)] if roofline else [])


def _as_old_version(path, out, offset=0.0):
    """Rewrite a table as a version-1-like table: hardware metadata of another version, the old
    roofline's identity, accuracies shifted by ``offset`` (so reuse is visible)."""
    t = pq.read_table(path)
    meta = json.loads(t.schema.metadata[b"cimnet_bo"])
    meta["space_version"] = meta["space_version"].split("+")[0] + "+1"
    meta["space_def"]["hardware"]["version"] = "1"
    meta.pop("cim_model_version", None)
    df = t.to_pandas()
    df["accuracy"] = df["accuracy"] + offset
    df["evaluator"] = [e.replace("roofline-v2", "roofline-v1") for e in df["evaluator"]]
    df = df.rename(columns={"glb_width": "glb_bw_gbps"})
    table = pa.Table.from_pandas(df, preserve_index=False)
    md = dict(table.schema.metadata or {})
    md[b"cimnet_bo"] = json.dumps(meta).encode()
    pq.write_table(table.replace_schema_metadata(md), out)
    return df


def test_reused_accuracies_equal_the_old_tables_and_missing_subnets_are_evaluated(tmp_path, vit):
    calls = []
    _label(vit, tmp_path, "a", 20, _evaluators(vit, calls), seed=5, subnets=8)
    old = _as_old_version(tmp_path / "a.parquet", tmp_path / "old.parquet", offset=-0.01)
    with pytest.raises(Exception, match="version"):  # the old table is not readable as a dataset
        read_dataset(tmp_path / "old.parquet", vit)
    old_acc = {tuple(r[n] for n in vit.subnet.names): r["accuracy"] for _, r in old.iterrows()}

    # a larger plan with the same seed: its 12 subnets include the old table's 8
    calls.clear()
    s = _label(
        vit, tmp_path, "b", 30, _evaluators(vit, calls), seed=5, subnets=12, reuse_from=[tmp_path / "old.parquet"]
    )
    new = read_dataset(tmp_path / "b.parquet", vit).frame
    keys = [tuple(r) for r in new[list(vit.subnet.names)].itertuples(index=False)]
    reused = [k in old_acc for k in keys]
    assert s["ok"] == 30 and s["distinct_subnets"] == 12
    assert s["reused_subnets"] == len({k for k in keys if k in old_acc}) > 0
    assert s["subnet_evaluations"] == 12 - s["reused_subnets"] == len(calls) > 0
    assert set(calls) == {k for k in keys if k not in old_acc}  # only the missing subnets were evaluated
    # reused values are the old table's (offset included), the others fresh evaluations
    for k, a, r in zip(keys, new["accuracy"], reused):
        expect = old_acc[k] if r else label_helpers.fake_accuracy(dict(zip(vit.subnet.names, k)))
        assert a == expect
    # the new table looks freshly labeled: this run's identity, the current model version
    assert set(new["evaluator"]) == {f"{CKPT} | {RooflineEvaluator(vit).identity}"}


def test_everything_reused_evaluates_no_subnet(tmp_path, vit):
    calls = []
    _label(vit, tmp_path, "a", 20, _evaluators(vit, calls), seed=1, subnets=6)
    _as_old_version(tmp_path / "a.parquet", tmp_path / "old.parquet")
    calls.clear()
    s = _label(
        vit, tmp_path, "b", 20, _evaluators(vit, calls), seed=1, subnets=6, reuse_from=[tmp_path / "old.parquet"]
    )
    assert calls == [] and s["reused_subnets"] == 6 and s["subnet_evaluations"] == 0
    a, b = pd.read_parquet(tmp_path / "a.parquet"), pd.read_parquet(tmp_path / "b.parquet")
    np.testing.assert_array_equal(a.sort_values("idx")["accuracy"], b.sort_values("idx")["accuracy"])


def test_another_checkpoint_is_refused_before_anything_is_recorded(tmp_path, vit):
    calls = []
    _label(vit, tmp_path, "a", 10, _evaluators(vit, calls), seed=0, subnets=4)
    _as_old_version(tmp_path / "a.parquet", tmp_path / "old.parquet")
    other = _evaluators(vit, calls, name="supernet:vit-fmnist:val:sha256=bbbb")
    with pytest.raises(ReuseError, match=r"sha256=aaaa.*sha256=bbbb.*another supernet checkpoint"):
        _label(vit, tmp_path, "b", 10, other, seed=0, subnets=4, reuse_from=[tmp_path / "old.parquet"])
    assert not (tmp_path / "b.sqlite").exists() and not (tmp_path / "b.parquet").exists()
    with pytest.raises(ReuseError, match="subnet-only"):
        _label(
            vit,
            tmp_path,
            "c",
            10,
            [RooflineEvaluator(vit)],
            table=False,
            seed=0,
            subnets=4,
            reuse_from=[tmp_path / "old.parquet"],
        )
    with pytest.raises(ReuseError, match="holds subnets of space 'vit-fmnist'"):
        subnet_values_from_table(tmp_path / "old.parquet", get_space("cnn-fmnist"), ["accuracy"], CKPT)


def test_cli_accuracy_from(tmp_path, capsys, monkeypatch, vit):
    monkeypatch.chdir(tmp_path)
    base = "label --space vit-fmnist -n 12 --seed 4 --subnets 5 --no-progress --accuracy label_helpers:fake_accuracy"
    base = base.split()
    assert cli_main(base + ["--out", "a.parquet"]) == 0
    _as_old_version(tmp_path / "a.parquet", tmp_path / "old.parquet")
    capsys.readouterr()
    assert cli_main(base + ["--out", "b.parquet", "--accuracy-from", "old.parquet"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["reused_subnets"] == 5 and summary["subnet_evaluations"] == 0
    # another accuracy function (another identity) is refused with a clear command-line error
    rc = cli_main(base[:-1] + ["label_helpers:slow_accuracy", "--out", "c.parquet", "--accuracy-from", "old.parquet"])
    assert rc == 2 and "refusing to reuse" in capsys.readouterr().err
