"""Training and checking predictors on a labeled dataset: splits, learning curves, reports.

Splits
------
* Subnet-only objectives (accuracy) are learned from the *distinct subnets* of the dataset
  (pairs sharing a subnet carry the same accuracy), so a test subnet is never seen in
  training and training sizes count distinct subnets.
* Hardware-dependent objectives (latency, energy, area) are learned from the pairs; train and
  test pairs are a random split.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from cimnet_bo.core import check_output_path
from cimnet_bo.predictors.base import INDICATOR_OUTPUTS, SUBNET_OBJECTIVES, make_predictor
from cimnet_bo.predictors.metrics import regression_report
from cimnet_bo.space import AnySpace, is_joint

CURVE_SIZES = (100, 200, 500, 1000, 2000)
#: Fewest rows (distinct subnets for accuracy) a predictor is trained and checked on.
MIN_ROWS = 20
#: At least this many rows (and this fraction) stay out of training in a learning-curve split.
MIN_TEST, MIN_TEST_FRACTION = 50, 0.1


def is_subnet_objective(objective: str, hardware: bool | None = None) -> bool:
    """Whether an objective depends on the subnet only (see ``SUBNET_OBJECTIVES``)."""
    return objective in SUBNET_OBJECTIVES if hardware is None else not hardware


def objective_data(dataset: Any, objective: str, hardware: bool | None = None) -> tuple[list[dict], np.ndarray]:
    """``(configs, y)`` for one objective: finite rows only; for subnet-only objectives one row
    per distinct subnet (the mean of its values).

    Returns
    -------
    configs : list of dict, length n
    y : ndarray (n,)
    """
    ds = dataset.ok() if hasattr(dataset, "ok") else dataset
    y = ds.values(objective)
    configs = ds.configs()
    keep = np.isfinite(y)
    configs = [c for c, k in zip(configs, keep) if k]
    y = y[keep]
    if is_subnet_objective(objective, hardware) and is_joint(ds.space):
        names = ds.space.subnet.names
        groups: dict[tuple, list[int]] = {}
        for i, c in enumerate(configs):
            groups.setdefault(tuple(c[n] for n in names), []).append(i)
        configs = [configs[g[0]] for g in groups.values()]
        y = np.array([y[g].mean() for g in groups.values()])
    return configs, y


def max_train_size(n: int) -> int:
    """Largest training size a learning curve uses on ``n`` rows."""
    return n - max(MIN_TEST, int(np.ceil(MIN_TEST_FRACTION * n)))


def split(n: int, n_train: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random ``(train, test)`` index arrays: ``n_train`` rows and the rest."""
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[:n_train]), np.sort(perm[n_train:])


def fit_and_score(
    kind: str,
    space: AnySpace,
    objective: str,
    configs: Sequence[dict],
    y: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    seed: int = 0,
    params: dict | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Fit one predictor on ``train`` rows and score it on ``test`` rows.

    Returns
    -------
    (predictor, metrics)
        metrics: those of :func:`regression_report` plus ``fit_s``, ``predict_s``, ``n_train``.
    """
    pred = make_predictor(kind, space, objective, seed=seed, **(params or {}))
    tr = [configs[i] for i in train]
    te = [configs[i] for i in test]
    t0 = time.perf_counter()
    pred.fit(tr, y[train])
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    p = pred.predict(te)
    pred_s = time.perf_counter() - t0
    m = regression_report(y[test], p)
    m.update(
        n_train=len(train),
        fit_s=round(fit_s, 4),
        predict_s=round(pred_s, 4),
        predict_us_per_row=round(1e6 * pred_s / max(1, len(test)), 2),
    )
    return pred, m


def learning_curve(
    dataset: Any,
    objective: str,
    kinds: Sequence[str],
    sizes: Sequence[int] = CURVE_SIZES,
    splits: int = 5,
    seed: int = 0,
    params: dict[str, dict] | None = None,
    log: Any = None,
) -> list[dict[str, Any]]:
    """Held-out metrics of each predictor kind at each training size, over random splits.

    Returns
    -------
    list of dict
        One record per (kind, size, split): ``objective, kind, size, split`` and the metrics of
        :func:`fit_and_score`; sizes larger than :func:`max_train_size` give one record with
        ``skipped`` (the reason).
    """
    configs, y = objective_data(dataset, objective)
    n = len(y)
    out = []
    for size in sizes:
        if size > max_train_size(n):
            out.append(
                {
                    "objective": objective,
                    "size": size,
                    "skipped": f"only {n} usable rows ("
                    f"{'distinct subnets' if is_subnet_objective(objective) else 'pairs'}); "
                    f"at most {max_train_size(n)} can train",
                }
            )
            continue
        for s in range(splits):
            tr, te = split(n, size, seed + 1000 * s + size)
            for kind in kinds:
                _, m = fit_and_score(
                    kind, dataset.space, objective, configs, y, tr, te, seed + s, (params or {}).get(kind)
                )
                rec = {"objective": objective, "kind": kind, "size": size, "split": s, **m}
                out.append(rec)
                if log:
                    log(
                        f"{objective:>10} {kind:>6} n={size:5d} split={s} tau={m['kendall_tau']:.3f} "
                        f"rmse={m['rmse']:.4g} fit={m['fit_s']:.2f}s"
                    )
    return out


def summarize_curve(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean and standard deviation over splits per (objective, kind, size)."""
    keys: dict[tuple, list[dict]] = {}
    for r in records:
        if "skipped" in r:
            continue
        keys.setdefault((r["objective"], r["kind"], r["size"]), []).append(r)
    out = []
    for (obj, kind, size), rs in keys.items():
        row: dict[str, Any] = {"objective": obj, "kind": kind, "size": size, "splits": len(rs)}
        for m in (
            "kendall_tau",
            "spearman",
            "rmse",
            "mape_pct",
            "rmse_log10",
            "fit_s",
            "predict_s",
            "predict_us_per_row",
        ):
            vals = [r[m] for r in rs if m in r and r[m] is not None]
            if vals:
                row[f"{m}_mean"] = float(np.mean(vals))
                row[f"{m}_std"] = float(np.std(vals))
        out.append(row)
    return out


def plot_learning_curves(summary: Sequence[dict[str, Any]], path: str | Path, title: str = "") -> Path:
    """Kendall tau (mean +- std over splits) against training size, one panel per objective."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    objectives = list(dict.fromkeys(r["objective"] for r in summary))
    fig, axes = plt.subplots(1, max(1, len(objectives)), figsize=(4.2 * max(1, len(objectives)), 3.6), squeeze=False)
    for ax, obj in zip(axes[0], objectives):
        rows = [r for r in summary if r["objective"] == obj]
        for kind in dict.fromkeys(r["kind"] for r in rows):
            rs = sorted((r for r in rows if r["kind"] == kind), key=lambda r: r["size"])
            ax.errorbar(
                [r["size"] for r in rs],
                [r["kendall_tau_mean"] for r in rs],
                yerr=[r["kendall_tau_std"] for r in rs],
                marker="o",
                capsize=3,
                label=kind,
            )
        ax.set_xscale("log")
        ax.set_xlabel("training size")
        ax.set_ylabel("Kendall tau (held out)")
        ax.set_title(obj)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def train_predictors(
    data: str | Path | Any,
    out: str | Path,
    objectives: Sequence[str] | None = None,
    kinds: Sequence[str] = ("xgb",),
    test_fraction: float = 0.2,
    seed: int = 0,
    curve_sizes: Sequence[int] = CURVE_SIZES,
    curve_splits: int = 1,
    params: dict[str, dict] | None = None,
    log: Any = None,
    source: str | Path | None = None,
) -> dict[str, Any]:
    """Train, check and save predictors of a labeled dataset.

    For each objective (default: the dataset's, but the 0/1 indicators of
    :data:`~cimnet_bo.predictors.base.INDICATOR_OUTPUTS`) and kind: fit on a random
    ``1 - test_fraction`` of the rows (distinct
    subnets for accuracy), score on the rest, save ``OUT/<objective>.<kind>.json`` (+ model
    file). Then a learning curve (``curve_splits`` splits per size) and
    ``OUT/learning_curve.png``; everything goes into ``OUT/report.json``.

    ``data`` is a dataset file or a :class:`~cimnet_bo.store.Dataset` (then ``source`` names
    its file for the report). ``params`` maps a kind to constructor arguments.

    Returns
    -------
    dict
        The report.
    """
    from cimnet_bo.core import plain
    from cimnet_bo.store import read_dataset

    t0 = time.time()
    out = check_output_path(out, "predictor folder", folder=True)
    if source is None and isinstance(data, (str, Path)):
        source = data
    name = f"dataset {source}" if source is not None else "the dataset"
    ds = read_dataset(data) if isinstance(data, (str, Path)) else data
    ds = ds.ok()
    if len(ds) < MIN_ROWS:
        raise ValueError(
            f"{name} has {len(ds)} rows without a failure; predictors need at least {MIN_ROWS} "
            "(were the labels' evaluations failed?)"
        )
    objectives = list(objectives or [o for o in ds.objective_names if o not in INDICATOR_OUTPUTS])
    missing = [o for o in objectives if o not in ds.frame.columns]
    if missing:
        raise ValueError(f"{name} has no objective columns {missing}; it has {ds.objective_names}")
    out.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "data": str(source) if source is not None else "<dataset>",
        "data_sha256": _sha256(source) if source is not None and Path(source).exists() else None,
        "space": ds.space.name,
        "space_version": ds.space.version,
        "rows": len(ds),
        "seed": seed,
        "test_fraction": test_fraction,
        "objectives": {},
        "learning_curve": [],
    }
    for obj in objectives:
        configs, y = objective_data(ds, obj)
        n = len(y)
        if n < MIN_ROWS:
            raise ValueError(f"objective {obj!r} has {n} finite values; predictors need at least {MIN_ROWS}")
        n_test = max(1, int(round(test_fraction * n)))
        tr, te = split(n, n - n_test, seed)
        entry: dict[str, Any] = {
            "unit_rows": "distinct subnets" if is_subnet_objective(obj) else "pairs",
            "n_train": len(tr),
            "n_test": len(te),
            "models": {},
        }
        for kind in kinds:
            pred, m = fit_and_score(kind, ds.space, obj, configs, y, tr, te, seed, (params or {}).get(kind))
            path = pred.save(out / f"{obj}.{kind}.json")
            entry["models"][kind] = {"file": path.name, **{k: plain(v, finite=True) for k, v in m.items()}}
            if log:
                log(
                    f"{obj:>10} {kind:>6} n_train={len(tr)} test tau={m['kendall_tau']:.3f} "
                    f"spearman={m['spearman']:.3f} rmse={m['rmse']:.4g} mape={m['mape_pct']:.2f}%"
                )
        report["objectives"][obj] = entry
    if curve_sizes and curve_splits:
        recs = []
        for obj in objectives:
            recs += learning_curve(ds, obj, kinds, curve_sizes, curve_splits, seed, params, log)
        summary = summarize_curve(recs)
        report["learning_curve"] = summary
        report["learning_curve_skipped"] = [r for r in recs if "skipped" in r]
        if summary:
            plot_learning_curves(summary, out / "learning_curve.png", f"{ds.space.name}: held-out Kendall tau")
            report["learning_curve_png"] = "learning_curve.png"
    report["seconds"] = round(time.time() - t0, 1)
    (out / "report.json").write_text(json.dumps(report, indent=2, default=lambda v: plain(v, finite=True)) + "\n")
    return report


def _sha256(path: str | Path) -> str:
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
