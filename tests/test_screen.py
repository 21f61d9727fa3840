"""The screen of qNEHVI's pool: the closed-form log EHVI against high-precision arithmetic, a
brute-force Monte Carlo hypervolume and BoTorch's analytic EHVI; in qNEHVI, its ranking against
the sampled screen with many samples (known objectives, the XGBoost shift, outcome and failure
constraints); the option and the runs made before it."""

from __future__ import annotations

import itertools
import math

import mpmath
import numpy as np
import pytest
import torch

import cimnet_bo.search.qnehvi as qnehvi_module
import search_helpers as H
from cimnet_bo.evaluate import CallableEvaluator, CompositeEvaluator, Objective
from cimnet_bo.search import QNEHVI, Problem
from cimnet_bo.search.config import OPTIONS_BEFORE, read_stored
from cimnet_bo.search.screen import (
    PREFILTER,
    SCREENS,
    OutcomeBound,
    closed_form_screen,
    log_ehvi,
    log_ei,
    sampled_screen,
    shortlist,
)
from cimnet_bo.search.state import Caches, SearchState
from cimnet_bo.search.toy import zdt_invalid, zdt_invalid_problem, zdt_space, zdt_values


# ============================================================================ closed form
def test_log_ei_matches_high_precision_arithmetic_from_far_tail_to_far_right():
    x = torch.tensor(
        [-1e4, -300.0, -40.0, -12.0, -3.0, -1.0000001, -1.0, -0.5, 0.0, 0.7, 5.0, 40.0], dtype=torch.float64
    )
    mpmath.mp.dps = 60

    def exact(v: float) -> float:
        v = mpmath.mpf(v)
        return float(mpmath.log(mpmath.npdf(v) + v * mpmath.ncdf(v)))

    got = log_ei(x)
    want = torch.tensor([exact(float(v)) for v in x], dtype=torch.float64)
    assert torch.isfinite(got).all()
    assert torch.allclose(got, want, rtol=1e-9, atol=1e-12)


def _hv2(points: np.ndarray, ref: np.ndarray) -> float:
    """Hypervolume of 2-D points (maximised) above ``ref``, by sweeping."""
    p = points[(points > ref).all(axis=1)]
    if not len(p):
        return 0.0
    p = p[np.argsort(-p[:, 0])]
    hv, best_y = 0.0, ref[1]
    for x, y in p:
        if y > best_y:
            hv += (x - ref[0]) * (y - best_y)
            best_y = y
    return hv


def _cells(front: np.ndarray, ref: np.ndarray) -> torch.Tensor:
    from botorch.utils.multi_objective.box_decompositions.non_dominated import FastNondominatedPartitioning

    part = FastNondominatedPartitioning(ref_point=torch.as_tensor(ref), Y=torch.as_tensor(front))
    return part.get_hypercell_bounds()


FRONT = np.array([[0.9, 0.1], [0.7, 0.4], [0.5, 0.55], [0.2, 0.8]])
REF = np.zeros(2)


@pytest.mark.parametrize(
    "mean, std",
    [
        ([0.6, 0.5], [0.1, 0.1]),  # near the front, both uncertain
        ([0.3, 0.3], [0.2, 0.05]),  # behind it
        ([0.65, 0.45], [0.0, 0.15]),  # first objective known
        ([0.95, 0.3], [0.05, 0.0]),  # second known, beyond the front's end
    ],
)
def test_closed_form_equals_monte_carlo_hypervolume_improvement(mean, std):
    rng = np.random.default_rng(0)
    n = 400_000
    Y = np.asarray(mean) + np.asarray(std) * rng.standard_normal((n, 2))
    base = _hv2(FRONT, REF)
    # improvement of each sample: vectorised over samples by the boxes of the front's complement
    cells = _cells(FRONT, REF).numpy()
    lo, hi = cells[0], np.minimum(cells[1], 1e9)
    hvi = np.clip(np.minimum(Y[:, None, :], hi) - lo, 0, None).prod(axis=-1).sum(axis=-1)
    # the boxes are an exact split: check them on a few samples against the sweep
    for i in range(20):
        assert hvi[i] == pytest.approx(_hv2(np.vstack([FRONT, Y[i]]), REF) - base, abs=1e-12)
    mc, se = hvi.mean(), hvi.std() / math.sqrt(n)
    got = log_ehvi(
        torch.tensor([mean], dtype=torch.float64), torch.tensor([std], dtype=torch.float64), _cells(FRONT, REF)
    )
    assert math.exp(float(got[0])) == pytest.approx(mc, abs=4 * se + 1e-12)


def test_closed_form_equals_botorch_analytic_ehvi_in_three_objectives():
    from botorch.acquisition.multi_objective.analytic import ExpectedHypervolumeImprovement
    from botorch.models import ModelListGP, SingleTaskGP
    from botorch.utils.multi_objective.box_decompositions.non_dominated import FastNondominatedPartitioning

    g = torch.Generator().manual_seed(0)
    X = torch.rand(12, 2, generator=g, dtype=torch.float64)
    Y = torch.stack([X.sum(-1), 1 - X[:, 0], X[:, 1] * X[:, 0]], dim=-1)
    model = ModelListGP(*[SingleTaskGP(X, Y[:, [j]]) for j in range(3)])
    ref = torch.zeros(3, dtype=torch.float64)
    part = FastNondominatedPartitioning(ref_point=ref, Y=Y)
    ehvi = ExpectedHypervolumeImprovement(model=model, ref_point=ref.tolist(), partitioning=part)
    Xc = torch.rand(30, 2, generator=g, dtype=torch.float64)
    want = ehvi(Xc.unsqueeze(-2))
    post = model.posterior(Xc.unsqueeze(-2))
    got = log_ehvi(post.mean[:, 0], post.variance[:, 0].sqrt(), part.get_hypercell_bounds()).exp()
    assert (want > 1e-6).sum() >= 10  # the comparison covers candidates that improve
    assert torch.allclose(got, want, rtol=1e-6, atol=1e-12)


def test_far_tail_candidates_keep_their_order_and_no_box_gives_minus_infinity():
    cells = _cells(FRONT, REF)
    means = torch.tensor([[0.3, -k * 0.1] for k in (0, 20, 100, 400, 2000)], dtype=torch.float64)
    std = torch.full_like(means, 0.1)
    v = log_ehvi(means, std, cells)
    assert torch.isfinite(v).all() and (v.diff() < 0).all()  # further behind, less, never nan
    dominated_known = log_ehvi(
        torch.tensor([[0.3, 0.3]], dtype=torch.float64), torch.zeros(1, 2, dtype=torch.float64), cells
    )
    assert dominated_known[0] == -math.inf
    beyond_known = log_ehvi(
        torch.tensor([[0.3, 0.9]], dtype=torch.float64), torch.zeros(1, 2, dtype=torch.float64), cells
    )
    assert math.exp(float(beyond_known[0])) == pytest.approx(
        _hv2(np.vstack([FRONT, [0.3, 0.9]]), REF) - _hv2(FRONT, REF)
    )


def test_outcome_bound_is_botorchs_form_and_its_probability_is_the_normal_cdf():
    c = OutcomeBound(1, -1.0, 0.25)  # output 1 >= 0.25
    Z = torch.tensor([[0.0, 0.3], [0.0, 0.2]], dtype=torch.float64)
    assert (c(Z) <= 0).tolist() == [True, False]
    mean = torch.tensor([[0.0, 0.45]], dtype=torch.float64)
    std = torch.tensor([[1.0, 0.1]], dtype=torch.float64)
    assert math.exp(float(c.log_probability(mean, std)[0])) == pytest.approx(0.5 * math.erfc(-2.0 / math.sqrt(2)))


# ============================================================================ in qNEHVI
def _known_f1_problem() -> Problem:
    """ZDT1 with ``f1`` cheap (known to the acquisition) and ``f2`` modelled."""
    space = zdt_space()
    f1 = CallableEvaluator(lambda c: zdt_values(c)["f1"], [Objective("f1", "min", cheap=True)], space=space, name="f1")
    f2 = CallableEvaluator(lambda c: zdt_values(c)["f2"], [("f2", "min")], space=space, name="f2")
    return Problem(
        space,
        CompositeEvaluator([f1, f2]),
        ["f1", "f2"],
        ref_point={"f1": 1.1, "f2": 1.1},
        ideal_point={"f1": 0.0, "f2": 0.0},
        name="zdt1-known-f1",
    )


def _screen_inputs(monkeypatch, problem: Problem, surrogate: str, with_failures: bool, seed: int):
    """The screen inputs of one qNEHVI round on 40 random evaluations."""
    X = problem.space.sample_indices(40, np.random.default_rng(seed))
    bad = zdt_invalid(X) if with_failures else np.zeros(len(X), bool)
    configs = problem.space.from_indices(X)
    rows = [
        {"config": c, "objectives": {} if b else zdt_values(c), "error": "ValueError: invalid" if b else None}
        for c, b in zip(configs, bad)
    ]
    state = SearchState.from_rows(problem, rows, [], Caches.for_problem(problem), seed=seed)
    seen = {}
    real = qnehvi_module.shortlist

    def spy(inputs, screen):
        seen["inputs"] = inputs
        return real(inputs, screen)

    monkeypatch.setattr(qnehvi_module, "shortlist", spy)
    opts = {**H.FAST_QNEHVI, "pool_size": 600, "shortlist": 16, "surrogate": surrogate}
    QNEHVI(**opts).propose(state, 4, np.random.default_rng(seed))
    return seen["inputs"]


@pytest.mark.parametrize(
    "case, surrogate, with_failures",
    [("known f1", "gp", False), ("known f1", "gp-xgb-mean", False), ("failures", "gp", True)],
)
def test_closed_form_ranks_the_pool_as_the_sampled_screen_with_many_samples(
    monkeypatch, case, surrogate, with_failures
):
    problem = _known_f1_problem() if case == "known f1" else zdt_invalid_problem()
    inputs = _screen_inputs(monkeypatch, problem, surrogate, with_failures, seed=1)
    if with_failures:
        (failure,) = inputs.constraints
        assert (failure.sign, failure.bound) == (1.0, 0.5)
        # a bound at the pool's median latent indicator: feasibility halves many values
        with torch.no_grad():
            median = float(inputs.surrogate.marginals(inputs.pool)[0][:, failure.k].median())
        inputs.constraints = [OutcomeBound(failure.k, 1.0, median)]
    with torch.no_grad():
        closed = closed_form_screen(inputs).exp()
        inputs.samples = 4096
        sampled = sampled_screen(inputs).exp()
    top = torch.topk(closed, 20).indices
    assert closed[top[-1]] > 0
    # the same values on the candidates that matter (sampling error and BoTorch's smoothing aside)
    assert torch.allclose(closed[top], sampled[top], rtol=0.1, atol=1e-3 * float(closed.max()))
    shared = set(top.tolist()) & set(torch.topk(sampled, 20).indices.tolist())
    assert len(shared) >= 16


@pytest.mark.parametrize("case, with_failures", [("known f1", False), ("failures", True)])
def test_the_staged_screen_picks_the_sampled_screens_shortlist_from_the_closed_forms_best(
    monkeypatch, case, with_failures
):
    problem = _known_f1_problem() if case == "known f1" else zdt_invalid_problem()
    inputs = _screen_inputs(monkeypatch, problem, "gp", with_failures, seed=3)
    assert len(inputs.pool) > PREFILTER * inputs.keep  # the first stage leaves candidates out
    with torch.no_grad():
        staged = shortlist(inputs, "staged")
        sampled = shortlist(inputs, "qlogehvi")
        closed = SCREENS["ehvi"](inputs)
    assert staged.tolist() == sampled.tolist()
    # and the first stage did drop candidates: the closed form's worst never reach the shortlist
    worst = torch.argsort(closed)[: len(inputs.pool) - PREFILTER * inputs.keep]
    assert not set(worst.tolist()) & set(staged.tolist())
    assert torch.isinf(SCREENS["staged"](inputs)[worst]).all()


def test_ensemble_marginals_are_its_members_mean_and_variance(monkeypatch):
    inputs = _screen_inputs(monkeypatch, _known_f1_problem(), "xgb-ensemble", False, seed=2)
    sur = inputs.surrogate
    X = inputs.pool[:7]
    mean, var = sur.marginals(X)
    members = sur.model_.forward(X.unsqueeze(-2))  # 7 x s x 1 x k: every member once
    assert members.shape[1] == sur.ensemble_size
    assert torch.allclose(mean, members[:, :, 0].mean(1)) and torch.allclose(var, members[:, :, 0].var(1))


def test_screen_option_is_checked_and_runs_made_before_it_keep_the_sampled_screen():
    assert set(SCREENS.names()) == {"staged", "ehvi", "qlogehvi"}
    assert QNEHVI().screen == "staged"
    with pytest.raises(Exception, match="nope"):
        QNEHVI(screen="nope").check(H.zdt())
    old = {"strategy": "qnehvi", "strategy_options": {"pool_size": 100}}
    assert read_stored(old)["strategy_options"]["screen"] == "qlogehvi" == OPTIONS_BEFORE["qnehvi"]["screen"]
    new = {"strategy": "qnehvi", "strategy_options": QNEHVI().get_params()}
    assert read_stored(new)["strategy_options"]["screen"] == "staged"


def test_both_screens_run_a_search(tmp_path):
    from cimnet_bo.search import run_search

    hv = {}
    for screen, seed in itertools.product(("staged", "ehvi", "qlogehvi"), (0,)):
        with run_search(
            H.zdt(),
            "qnehvi",
            budget=20,
            batch_size=4,
            n_init=8,
            seed=seed,
            run_dir=tmp_path / screen,
            strategy_options={**H.FAST_QNEHVI, "screen": screen},
            progress=False,
        ) as run:
            assert run.config["strategy_options"]["screen"] == screen
            hv[screen] = run.hypervolume()
    assert all(v > 0 for v in hv.values())
