"""GP hyper-parameters carried from round to round: the store's lookup rule and its file, the fit
starting where it is told, a mismatched start ignored, and a resumed run fitting as an
uninterrupted one because the hyper-parameters are kept in the run directory."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import search_helpers as H
from cimnet_bo.predictors.gp import fit_gp, hyper_parameters
from cimnet_bo.search import ProblemError, make_strategy, run_search
from cimnet_bo.search.warm_start import DEFAULTS_GROWTH, FILE_NAME, KEEP, GPStarts, WarmStart

OPTIONS = {**H.FAST_QNEHVI, "gp_warm_maxiter": 5}


def _data(n: int = 60, d: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.random((n, d))
    return X, np.sin(4 * X[:, 0]) + X[:, 1] ** 2 + 0.05 * rng.standard_normal(n)


def _mll(gp) -> float:
    from gpytorch.mlls import ExactMarginalLogLikelihood

    gp.train()
    with torch.no_grad():
        return float(ExactMarginalLogLikelihood(gp.likelihood, gp)(gp(*gp.train_inputs), gp.train_targets))


# ============================================================================ the store
def test_a_round_starts_from_the_newest_entry_fitted_with_fewer_evaluations(tmp_path):
    starts = GPStarts(tmp_path)
    assert starts.before("gp/0", 10) is None
    for n in (8, 12, 16):
        starts.put("gp/0", n, {"a": np.array([float(n)])})
    assert starts.before("gp/0", 16)["a"][0] == 12.0  # a round run again with 16 starts where it did
    assert starts.before("gp/0", 17)["a"][0] == 16.0
    assert starts.before("gp/0", 8) is None
    assert starts.before("gp/1", 17) is None  # another output has its own entries


def test_the_newest_entries_are_kept_in_the_file_exactly(tmp_path):
    starts = GPStarts(tmp_path)
    value = np.array([[0.1, -1.0 / 3.0, 1e-300]])
    for n in range(KEEP + 2):
        starts.put("failure/0", n, {"raw": value * (n + 1)})
    again = GPStarts(tmp_path)  # as a new process reads them
    assert sorted(json.loads((tmp_path / FILE_NAME).read_text())["failure/0"]) == [str(n) for n in range(2, KEEP + 2)]
    got = again.before("failure/0", KEEP + 2)["raw"]
    assert got.shape == (1, 3) and np.array_equal(got, value * (KEEP + 2))  # bit for bit
    assert again.before("failure/0", 2) is None  # the oldest were dropped


def test_an_unreadable_file_means_fitting_from_the_defaults(tmp_path):
    (tmp_path / FILE_NAME).write_text("{not json")
    assert GPStarts(tmp_path).before("gp/0", 100) is None
    memory = GPStarts(None)
    memory.put("gp/0", 3, {"a": np.ones(2)})
    assert memory.before("gp/0", 4)["a"].tolist() == [1.0, 1.0]
    assert not list(tmp_path.glob(".*tmp*"))


# ============================================================================ the fit
def test_a_fit_started_from_converged_hyper_parameters_stays_there():
    X, y = _data()
    torch.manual_seed(0)
    converged = fit_gp(X, y, maxiter=200)
    start = hyper_parameters(converged)
    torch.manual_seed(0)
    warm = fit_gp(X, y, maxiter=200, start=start, start_maxiter=2)
    torch.manual_seed(0)
    cold = fit_gp(X, y, maxiter=2)
    assert _mll(warm) == pytest.approx(_mll(converged), abs=1e-3)
    assert _mll(cold) < _mll(converged) - 0.05  # two steps from the defaults are not enough
    for name, value in hyper_parameters(warm).items():
        assert np.allclose(value, start[name], atol=1e-2), name


def _held_start():
    """Data, a start that explains them as noise (very long lengthscales, very large noise),
    and the GP fitted five steps from that start."""
    from cimnet_bo.predictors.gp import _fit_mll, _set_hyper_parameters, gp_model

    X, y = _data()
    torch.manual_seed(0)
    good = hyper_parameters(fit_gp(X, y, maxiter=200))
    bad = {k: (v + 6.0 if ("lengthscale" in k or "noise" in k) else v) for k, v in good.items()}
    alone = gp_model(X, y)
    assert _set_hyper_parameters(alone, bad)
    _fit_mll(alone, 5)
    return X, y, bad, alone


def test_a_start_held_in_a_worse_optimum_loses_to_the_fit_from_the_defaults():
    from cimnet_bo.predictors.gp import _fit_mll, gp_model

    X, y, bad, alone = _held_start()
    fresh = gp_model(X, y)
    _fit_mll(fresh, 5)
    assert _mll(alone) < _mll(fresh) - 0.05  # five steps from the bad start stay worse
    torch.manual_seed(0)
    got = fit_gp(X, y, maxiter=200, start=bad, start_maxiter=5)
    assert _mll(got) == pytest.approx(_mll(fresh), abs=1e-9)
    assert not all(np.allclose(v, hyper_parameters(alone)[k]) for k, v in hyper_parameters(got).items())


def test_without_the_defaults_the_fit_keeps_the_start_alone():
    X, y, bad, alone = _held_start()
    got = fit_gp(X, y, maxiter=200, start=bad, start_maxiter=5, defaults_too=False)
    for name, value in hyper_parameters(alone).items():
        np.testing.assert_array_equal(hyper_parameters(got)[name], value)
    both = fit_gp(X, y, maxiter=200, start=bad, start_maxiter=5)
    assert _mll(both) > _mll(got) + 0.05  # the fit from the defaults would have won


def test_a_round_fits_from_the_defaults_too_when_the_evaluations_pass_a_power_of_the_growth():
    def defaults_too(m: int | None, n: int) -> bool:
        starts = GPStarts()
        if m is not None:
            starts.put("gp/0", m, {"a": np.zeros(1)})
        return WarmStart(starts, n, "gp", 5).defaults_too(0)

    assert defaults_too(None, 20)  # no start: from the defaults
    powers = [DEFAULTS_GROWTH**k for k in range(1, 40)]
    for m, n in [(m, m + q) for m in range(1, 660) for q in (1, 4, 8, 32)]:
        assert defaults_too(m, n) == any(m < p <= n for p in powers), (m, n)
    assert not defaults_too(492, 500)  # 1.25^28 = 516.9
    assert defaults_too(500, 517)


def test_a_start_that_does_not_fit_the_model_or_is_not_finite_is_ignored():
    X, y = _data()
    torch.manual_seed(0)
    reference = hyper_parameters(fit_gp(X, y, maxiter=20))
    other = hyper_parameters(fit_gp(X[:, :2], y, maxiter=20))  # two lengthscales, not three
    torch.manual_seed(0)
    got = hyper_parameters(fit_gp(X, y, maxiter=20, start=other, start_maxiter=1))
    assert all(np.array_equal(got[k], reference[k]) for k in reference)
    torch.manual_seed(0)
    got = hyper_parameters(fit_gp(X, y, maxiter=20, start={"nonsense": np.zeros(1)}, start_maxiter=1))
    assert all(np.array_equal(got[k], reference[k]) for k in reference)
    broken = {k: np.full_like(v, np.nan) for k, v in reference.items()}  # a diverged fit
    torch.manual_seed(0)
    got = hyper_parameters(fit_gp(X, y, maxiter=20, start=broken, start_maxiter=1))
    assert all(np.array_equal(got[k], reference[k]) for k in reference)


# ============================================================================ runs
def _entries(run_dir) -> dict:
    return json.loads((run_dir / FILE_NAME).read_text())


def _search(run_dir, budget: int):
    """A ZDT1 search (two modelled objectives), batches of 4 after 8, to ``budget``."""
    return run_search(
        H.zdt(),
        "qnehvi",
        budget=budget,
        batch_size=4,
        n_init=8,
        seed=3,
        run_dir=run_dir,
        strategy_options=OPTIONS,
        progress=False,
    )


def test_a_resumed_run_starts_its_fits_where_an_uninterrupted_one_does(tmp_path):
    # rounds at 8, ..., 28 evaluations; the one at 28 fits from its start alone (24 -> 28 passes
    # no power of 1.25), after the resume as before it
    with _search(tmp_path / "straight", 32) as run:
        straight = run.rows()
    _search(tmp_path / "resumed", 28).close()
    with _search(tmp_path / "resumed", 32) as run:
        resumed = run.rows()
    assert [r["config"] for r in resumed] == [r["config"] for r in straight]
    assert _entries(tmp_path / "resumed") == _entries(tmp_path / "straight")
    assert set(_entries(tmp_path / "straight")["gp/0"]) == {"20", "24", "28"}  # one per round, the newest
    # without the file the round after the resume starts from the defaults, and fits differently
    _search(tmp_path / "forgot", 28).close()
    (tmp_path / "forgot" / FILE_NAME).unlink()
    _search(tmp_path / "forgot", 32).close()
    assert _entries(tmp_path / "forgot")["gp/0"]["28"] != _entries(tmp_path / "straight")["gp/0"]["28"]


def test_a_run_fits_from_the_defaults_too_in_the_rounds_that_pass_a_power(tmp_path, monkeypatch):
    import cimnet_bo.predictors.gp as gp_module

    fits = []
    fit_mll = gp_module._fit_mll
    monkeypatch.setattr(gp_module, "_fit_mll", lambda gp, maxiter: fits.append(maxiter) or fit_mll(gp, maxiter))
    rounds = {}
    for n in (8, 12, 16, 20, 24, 28):  # one round at each count (budget n + 4)
        fits.clear()
        _search(tmp_path, n + 4).close()
        rounds[n] = list(fits)
    # zdt models two objectives: two GPs per round
    assert rounds[8] == [OPTIONS.get("gp_maxiter", 100)] * 2  # the first round: from the defaults
    for n in (12, 16, 20, 24):  # 8 -> 12 passes 9.3 and 11.6; 12 -> 16: 14.6; 16 -> 20: 18.2; 20 -> 24: 22.7
        assert rounds[n] == [5] * 4, n
    assert rounds[28] == [5] * 2  # 24 -> 28 passes no power of 1.25 (28.4 is the next)


def test_without_warm_starts_nothing_is_kept(tmp_path):
    run_search(
        H.zdt(),
        "qnehvi",
        budget=12,
        batch_size=4,
        n_init=8,
        run_dir=tmp_path,
        strategy_options={**OPTIONS, "gp_warm_maxiter": None},
        progress=False,
    ).close()
    assert not (tmp_path / FILE_NAME).exists()


@pytest.mark.parametrize("bad", [0, -1, 2.5, "30", True])
def test_a_bad_warm_iteration_count_is_refused_by_name(bad):
    with pytest.raises(ProblemError, match="gp_warm_maxiter"):
        make_strategy("qnehvi", gp_warm_maxiter=bad).check(None)
