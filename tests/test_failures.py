"""Failed evaluations are information: the toy problem's invalid region, the failure model
(learns the region, removes likely failures from a pool), qNEHVI's proposals avoid the
region where they would not without it, every surrogate and the best-chips mode run with
failures, and the progress line counts the candidates left out."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import search_helpers as H
from cimnet_bo.search import SURROGATES, Problem, ProblemError, make_strategy, run_search
from cimnet_bo.search.failures import PRUNE_PROBABILITY, FailureModel
from cimnet_bo.search.state import Caches, SearchState, row_keys
from cimnet_bo.search.toy import SyntheticAccuracy, zdt_invalid, zdt_invalid_problem, zdt_invalid_share, zdt_values

PROBLEM = zdt_invalid_problem()
GRID = np.array(list(itertools.product(range(11), repeat=4)))


def _state(n: int, seed: int) -> SearchState:
    """``n`` random evaluations of the toy problem (failed inside its invalid disc)."""
    X = PROBLEM.space.sample_indices(n, np.random.default_rng(seed))
    rows = [
        {"config": c, "objectives": {} if bad else zdt_values(c), "error": "ValueError: invalid" if bad else None}
        for c, bad in zip(PROBLEM.space.from_indices(X), zdt_invalid(X))
    ]
    return SearchState.from_rows(PROBLEM, rows, [], Caches.for_problem(PROBLEM), seed=seed)


def _inputs(rows: np.ndarray) -> np.ndarray:
    """Failure-model inputs (n x (d + 1)): the encoding and a lookup column."""
    return np.column_stack([PROBLEM.space.encode_indices(rows.copy()), np.zeros(len(rows))])


# ============================================================================ toy problem
def test_toy_problem_fails_inside_its_disc_only():
    inside = [(5, 0), (2, 0), (8, 0), (3, 1), (5, 3)]  # (5, 3): on the circle, included
    outside = [(1, 0), (9, 0), (2, 1), (5, 4), (0, 10)]
    assert zdt_invalid(np.array(inside)).all() and not zdt_invalid(np.array(outside)).any()
    assert zdt_invalid_share() == pytest.approx(18 / 121)
    assert zdt_invalid(GRID).mean() == pytest.approx(18 / 121)  # x2, x3 do not matter
    configs = [{"x0": a, "x1": b, "x2": 3, "x3": 7} for a, b in inside + outside]
    ev = PROBLEM.evaluator.evaluate(configs)
    assert all("invalid region" in e for e in ev.errors[: len(inside)])
    assert ev.errors[len(inside) :] == [None] * len(outside)
    assert ev.values[len(inside), 1] == pytest.approx(zdt_values(configs[len(inside)])["f2"])


# ============================================================================ failure model
@pytest.fixture(scope="module")
def fitted() -> tuple[FailureModel, np.ndarray]:
    """A failure model of 80 random evaluations and the grid rows it did not see."""
    train = PROBLEM.space.sample_indices(80, np.random.default_rng(0))
    fm = FailureModel(maxiter=50).fit(_inputs(train), zdt_invalid(train), seed=0)
    seen = set(row_keys(train))
    held = GRID[[k not in seen for k in row_keys(GRID)]]
    return fm, held


def test_failure_model_learns_the_region(fitted):
    fm, held = fitted
    p = fm.probability(_inputs(held))
    inside = zdt_invalid(held)
    assert p[inside].mean() > 0.7 and p[~inside].mean() < 0.1, (p[inside].mean(), p[~inside].mean())
    assert np.mean(p[~inside] >= PRUNE_PROBABILITY) < 0.01


def test_prune_removes_likely_failures_and_keeps_enough(fitted):
    fm, held = fitted
    keep = fm.prune(_inputs(held), keep_at_least=4)
    removed = zdt_invalid(held[~keep])
    assert removed.mean() > 0.9 and removed.sum() > 0.8 * zdt_invalid(held).sum()  # precision, recall
    inside = held[zdt_invalid(held)]
    p = fm.probability(_inputs(inside))
    keep = fm.prune(_inputs(inside), keep_at_least=len(inside) - 3)
    assert keep.sum() == len(inside) - 3  # not fewer than asked: the least likely failures
    assert np.array_equal(np.sort(p[keep]), np.sort(p)[: len(inside) - 3])


# ============================================================================ qNEHVI
def test_failure_model_option_is_checked():
    with pytest.raises(ProblemError, match="failure_model must be true or false, got 'yes'"):
        make_strategy("qnehvi", failure_model="yes")


def test_no_failures_no_failure_model():
    st = _state(30, 5)
    st = SearchState.from_rows(
        PROBLEM,
        [{"config": c, "objectives": zdt_values(c), "error": None} for c in PROBLEM.space.from_indices(st.X)],
        [],
        Caches.for_problem(PROBLEM),
    )
    s = make_strategy("qnehvi", **H.FAST_QNEHVI)
    assert len(s.propose(st, 2, np.random.default_rng(0))) == 2
    assert s._failure is None and "failure_removed" not in s.last_info


def test_proposals_avoid_the_region_only_with_the_failure_model():
    """After 60 random evaluations (6 and 7 failed), qNEHVI's batches of 8 go into the invalid
    disc (the middle of the Pareto front) unless it models the failures."""
    inside = {True: 0, False: 0}
    for seed in (1, 2):
        st = _state(60, seed)
        for on in inside:
            s = make_strategy("qnehvi", **{**H.FAST_QNEHVI, "failure_model": on})
            rows = s.propose(st, 8, np.random.default_rng(seed))
            assert len(rows) == 8
            inside[on] += int(zdt_invalid(rows).sum())
    assert inside[True] <= 2 and inside[False] >= 6, inside


@pytest.mark.parametrize("surrogate", sorted(SURROGATES))
def test_every_surrogate_runs_with_failures(surrogate):
    st = _state(30, 1)
    assert st.failed.sum() >= 3
    s = make_strategy("qnehvi", **{**H.FAST_QNEHVI, "surrogate": surrogate, "ensemble_size": 4, "cv_folds": 3})
    rows = s.propose(st, 4, np.random.default_rng(1))
    assert len(rows) == 4
    assert not set(row_keys(rows)) & set(row_keys(st.X))  # never an evaluated row, failed or not
    assert s.last_info["failure_removed"] > 0
    assert s.last_info["pool_size"] == H.FAST_QNEHVI["pool_size"] - s.last_info["failure_removed"]


class _FailingAccuracy:
    """Synthetic accuracy that raises for subnets whose first block has 5 heads and MLP 320."""

    def __init__(self) -> None:
        self.acc = SyntheticAccuracy("vit-fmnist")

    def __call__(self, config):
        if config["heads_0"] == 5 and config["mlp_0"] == 320:
            raise RuntimeError("the simulator crashed")
        return self.acc(config)


def test_best_chips_mode_learns_failures_too(tmp_path):
    p = Problem.from_space("vit-fmnist", accuracy=_FailingAccuracy())
    lines: list[str] = []
    with run_search(
        p,
        "qnehvi",
        budget=16,
        batch_size=4,
        n_init=8,
        seed=3,
        run_dir=tmp_path,
        strategy_options={**H.FAST_QNEHVI, "hardware": "best"},
        progress=lines.append,
        initial=[{**p.space.subnet.sample(1, 0)[0], "heads_0": 5, "mlp_0": 320, **p.space.hardware.baseline}],
    ) as run:
        assert run.strategy._bc is not None and run.strategy._failure is not None
        assert sum(r["error"] is not None for r in run.rows()) >= 1
        assert run.n_done == 16
        removed = run.strategy.last_info["failure_removed"]
    assert "failed" in lines[-1]
    assert (f"{removed} likely failures left out of the pool" in lines[-1]) == (removed > 0)
