"""The search engine: problems and normalisation, strategies, the resumable runner (a real
SIGKILL mid-run), determinism, invalid options, cheap constraints, ask/tell and the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import search_helpers as H
from cimnet_bo.cli import main as cli_main
from cimnet_bo.core import UnknownNameError
from cimnet_bo.search import (
    REFERENCE_POINTS,
    STRATEGIES,
    SURROGATES,
    Problem,
    ProblemError,
    Run,
    Surrogate,
    make_strategy,
    propose,
    run_search,
    table_problem,
    tell,
)
from cimnet_bo.search.toy import SyntheticAccuracy, zdt_front, zdt_problem
from cimnet_bo.space import get_space, list_spaces

TESTS = Path(__file__).parent
SYN = SyntheticAccuracy("vit-fmnist")


def _opts(strategy: str) -> dict:
    return {"qnehvi": H.FAST_QNEHVI, "linas": H.FAST_LINAS}.get(strategy, {})


def _search(problem: Problem, strategy: str, run_dir: Path, budget: int, seed: int = 0) -> Run:
    """A quiet run of ``strategy`` (fast options), 4 candidates per round after 8 initial ones."""
    return run_search(
        problem,
        strategy,
        budget=budget,
        batch_size=4,
        n_init=8,
        seed=seed,
        run_dir=run_dir,
        strategy_options=_opts(strategy),
        progress=False,
    )


def _history(run: Run) -> list[tuple]:
    return [(r["idx"], tuple(sorted(r["config"].items())), tuple(sorted(r["objectives"].items()))) for r in run.rows()]


@pytest.fixture(scope="module")
def vit_problem():
    return Problem.from_space("vit-fmnist", accuracy=SyntheticAccuracy("vit-fmnist"))


# ============================================================================ problems
def test_normalisation_matches_analysis_hypervolume():
    from cimnet_bo.analysis import HypervolumeScale

    rng = np.random.default_rng(0)
    for objs in (
        [("accuracy", "max"), ("latency_s", "min")],
        [("accuracy", "max"), ("latency_s", "min"), ("energy_j", "min")],
    ):
        names = [o for o, _ in objs]
        ref = {"accuracy": 0.7, "latency_s": 1e-2, "energy_j": 1e-3}
        ideal = {"accuracy": 1.0, "latency_s": 1e-6, "energy_j": 1e-7}
        p = Problem(
            "vit-fmnist",
            objectives=objs,
            ref_point={n: ref[n] for n in names},
            ideal_point={n: ideal[n] for n in names},
        )
        Y = np.column_stack(
            [rng.uniform(0.6, 0.95, 60), 10 ** rng.uniform(-6, -1.5, 60), 10 ** rng.uniform(-7, -2.5, 60)]
        )[:, : len(names)]
        scale = HypervolumeScale.from_data(
            Y, dict(objs), ref={n: ref[n] for n in names}, ideal={n: ideal[n] for n in names}
        )
        assert p.hypervolume(Y) == pytest.approx(scale.hypervolume(Y), rel=1e-9)
        U = p.normalize(Y)
        assert np.allclose(U[:, 0], (Y[:, 0] - 0.7) / 0.3)
        assert np.allclose(U[:, 1], (-2 - np.log10(Y[:, 1])) / 4)


def test_registered_problems(vit_problem):
    p = vit_problem
    assert p.objective_names == ("accuracy", "latency_s") and p.directions == ("max", "min")
    space = get_space("vit-fmnist")
    base = p.evaluator.evaluate([space.baseline])
    area, power = base.column("area_mm2")[0], base.column("power_w")[0]
    # iso-area and iso-power: budgets rounded up to 6 significant digits, so the baseline meets them
    assert [c.name for c in p.constraints] == ["feasible", "area_mm2", "power_w"]
    bounds = {c.name: c.bound for c in p.constraints}
    assert bounds["feasible"] == 1.0
    for name, exact in (("area_mm2", area), ("power_w", power)):
        assert exact <= bounds[name] <= exact * (1 + 1e-5)
        assert float(f"{bounds[name]:g}") == bounds[name]
    assert p.feasible(
        {"feasible": np.array([1.0]), "area_mm2": np.array([area]), "power_w": np.array([power])}, 1
    ).all()
    assert p.is_cheap("latency_s") and p.is_cheap("area_mm2") and not p.is_cheap("accuracy")
    assert p.subnet_only("accuracy") and not p.subnet_only("latency_s")
    assert p.ref_point == {k: REFERENCE_POINTS["vit-fmnist"][k][0] for k in ("accuracy", "latency_s")}
    e = Problem.from_space("vit-fmnist", accuracy=SyntheticAccuracy("vit-fmnist"), energy=True)
    assert e.objective_names == ("accuracy", "latency_s", "energy_j")
    m = Problem.from_space("vit-fmnist", mode="model-only", accuracy=SyntheticAccuracy("vit-fmnist"))
    assert m.space.hardware.size == 1 and m.space.sample(1, 0)[0]["n_macros"] == space.hardware.baseline["n_macros"]
    h = Problem.from_space("vit-fmnist", mode="hardware-only", accuracy=SyntheticAccuracy("vit-fmnist"))
    assert h.space.subnet.size == 1 and h.space.sample(1, 0)[0]["num_layers"] == 5
    assert set(REFERENCE_POINTS) == set(list_spaces())


@pytest.mark.parametrize("name", ["vit-fmnist", "cnn-fmnist", "vit-b-imagenet", "ofa-mbv3", "vit-fmnist-hwa"])
def test_reference_points_bracket_every_feasible_point(name):
    """The fixed reference and ideal points enclose the feasible points of the space (within the
    baseline chip's budgets): random ones, the largest subnet on every chip within the budgets
    (the slowest points) and the smallest subnet on its best chip (the fastest)."""
    from cimnet_bo.evaluate import RooflineEvaluator
    from cimnet_bo.hardware.optimise import candidate_chips, simulate_grid

    p = Problem.from_space(name, accuracy=SyntheticAccuracy(name), energy=True)
    budgets = {c.name: c.bound for c in p.constraints if c.name in ("area_mm2", "power_w")}
    space = p.space
    res = RooflineEvaluator(space).evaluate(space.sample(400, 3))
    ok = res.ok & (res.column("feasible") >= 1)
    for k, b in budgets.items():
        ok &= res.column(k) <= b
    assert ok.sum() > 20
    chips = candidate_chips(space, budgets["area_mm2"], budgets["power_w"], maximal=False)
    grid = simulate_grid(
        space,
        [space.subnet.extreme("max"), space.subnet.extreme("min")],
        chips.configs,
        outputs=("latency_s", "energy_j", "feasible"),
    )
    for obj in ("latency_s", "energy_j"):
        ref, ideal = REFERENCE_POINTS[name][obj]
        v = np.concatenate([res.column(obj)[ok], grid[obj][grid["feasible"]]])
        assert ideal < v.min() and v.max() < ref, (obj, v.min(), v.max())


@pytest.mark.parametrize("name, table", [("vit-fmnist", "vit_fmnist"), ("cnn-fmnist", "cnn_fmnist")])
def test_reference_points_bracket_the_shipped_accuracies(name, table):
    """Every labeled subnet's accuracy lies between the accuracy reference and ideal, and the
    subnets span a good part of that bracket (so accuracy weighs in the hypervolume)."""
    import pandas as pd

    acc = pd.read_parquet(TESTS.parent / "data" / "labels" / f"{table}.parquet")["accuracy"].to_numpy()
    ref, ideal = REFERENCE_POINTS[name]["accuracy"]
    assert ref < acc.min() and acc.max() < ideal
    assert (acc.max() - acc.min()) / (ideal - ref) > 0.4


# ============================================================================ invalid options
def test_invalid_options_are_clear_errors(tmp_path, vit_problem):
    p = H.zdt()
    with pytest.raises(UnknownNameError, match="unknown strategy 'foo'.*qnehvi"):
        run_search(p, "foo", budget=10, run_dir=tmp_path / "a")
    with pytest.raises(ProblemError, match="budget 6 is smaller than the initial design"):
        run_search(p, "random", budget=6, batch_size=4, run_dir=tmp_path / "b")
    with pytest.raises(ProblemError, match="ref_point has 3 values but there are 2 objectives"):
        Problem(p.space, p.evaluator, ["f1", "f2"], ref_point=[1, 1, 1])
    with pytest.raises(ProblemError, match="ref_point must give one value per objective.*missing"):
        Problem(p.space, p.evaluator, ["f1", "f2"], ref_point={"f1": 1})
    with pytest.raises(ProblemError, match="frozen hardware configuration.*rows"):
        Problem.from_space("vit-fmnist", mode="model-only", hardware={"rows": 100}, accuracy=SYN)
    with pytest.raises(ProblemError, match="frozen subnet configuration: unknown keys"):
        Problem.from_space("vit-fmnist", mode="hardware-only", subnet={"depth": 3}, accuracy=SYN)
    with pytest.raises(ProblemError, match="unknown mode"):
        Problem.from_space("vit-fmnist", mode="both")
    with pytest.raises(ProblemError, match="no option.*'pool'.*pool_size"):
        make_strategy("qnehvi", pool=10)
    with pytest.raises(UnknownNameError, match="unknown surrogate 'rf'.*gp, xgb-ensemble, gp-xgb-mean"):
        make_strategy("qnehvi", surrogate="rf")
    with pytest.raises(ProblemError, match="at least two objectives"):
        Problem(p.space, p.evaluator, ["f1"], ref_point=[1])
    with pytest.raises(ProblemError, match="constraint.*'power'.*does not produce"):
        Problem(p.space, p.evaluator, constraints=["power <= 3"], ref_point=[1, 1])
    with pytest.raises(ProblemError, match="cannot read constraint"):
        Problem(p.space, p.evaluator, constraints=["f1 < 3"], ref_point=[1, 1])
    with pytest.raises(ProblemError, match="outside"):
        run_search(Problem.from_space("vit-fmnist", accuracy="external"), "random", budget=20, run_dir=tmp_path / "c")
    assert not (tmp_path / "a").exists() and not (tmp_path / "c").exists()  # nothing ran
    run_search(p, "random", budget=8, batch_size=4, run_dir=tmp_path / "d", progress=False).close()
    with pytest.raises(ProblemError, match="different configuration.*strategy: 'random'"):
        run_search(p, "nsga2", budget=8, batch_size=4, run_dir=tmp_path / "d")
    with pytest.raises(ProblemError, match="different configuration.*seed"):
        run_search(p, "random", budget=8, batch_size=4, seed=1, run_dir=tmp_path / "d")


def test_initial_configurations_open_the_initial_design(tmp_path, vit_problem):
    p = H.zdt()
    known = [{**p.space.extreme("min")}, {**p.space.extreme("max")}]
    with run_search(
        p,
        "random",
        budget=12,
        batch_size=4,
        n_init=6,
        seed=0,
        run_dir=tmp_path / "a",
        progress=False,
        initial=known + [known[0]],
    ) as run:  # a duplicate is dropped
        rows = run.rows()
        assert run.config["initial"] == known
    assert [r["config"] for r in rows[:2]] == known and all(r["tag"] == "init" for r in rows[:6])
    keys = [json.dumps(r["config"], sort_keys=True) for r in rows]
    assert len(set(keys)) == len(keys)  # the random part does not repeat them
    # the random part of the design is the run's own: same seed without `initial`, other points
    with run_search(
        p, "random", budget=12, batch_size=4, n_init=6, seed=0, run_dir=tmp_path / "b", progress=False
    ) as plain:
        assert "initial" not in plain.config and [r["config"] for r in plain.rows()[:2]] != known
    # resumed with the stored initial design (not given again): no configuration difference
    with run_search(
        p, "random", budget=16, batch_size=4, n_init=6, seed=0, run_dir=tmp_path / "a", progress=False
    ) as again:
        assert again.n_done == 16 and again.config["initial"] == known
    with pytest.raises(ProblemError, match="initial configuration 1: .*x0.*99"):
        run_search(
            p, "random", budget=8, batch_size=4, run_dir=tmp_path / "c", initial=[known[0], {**known[0], "x0": 99}]
        )
    with pytest.raises(ProblemError, match="3 initial configurations do not fit.*n_init=2"):
        run_search(
            p,
            "random",
            budget=8,
            batch_size=2,
            n_init=2,
            run_dir=tmp_path / "d",
            initial=[p.space.extreme("min"), p.space.extreme("max"), p.space.sample(1, 5)[0]],
        )
    # model-only search of a registered space accepts the baseline (its frozen hardware)
    from cimnet_bo.analysis.experiment import baseline_config

    mo = Problem.from_space("vit-fmnist", mode="model-only", accuracy=SYN)
    with run_search(
        mo,
        "random",
        budget=4,
        batch_size=2,
        n_init=2,
        run_dir=tmp_path / "e",
        progress=False,
        initial=[baseline_config(mo.space)],
    ) as run:
        assert run.rows()[0]["config"] == baseline_config("vit-fmnist")


# ============================================================================ quality
def test_qnehvi_beats_random_on_zdt(tmp_path):
    """Known Pareto front (ZDT1 on a grid); equal budgets, three seeds."""
    p = H.zdt()
    best = p.hypervolume(zdt_front())
    hv = {"qnehvi": [], "random": []}
    for seed in range(3):
        for s in hv:
            with _search(p, s, tmp_path / f"{s}{seed}", 20, seed=seed) as run:
                hv[s].append(run.hypervolume())
                assert run.n_done == 20
    assert np.mean(hv["qnehvi"]) > np.mean(hv["random"]) + 0.1, hv
    assert np.mean(hv["qnehvi"]) > 0.7 * best, (hv, best)


@pytest.mark.parametrize("strategy", ["nsga2", "linas"])
def test_baselines_run_and_improve(tmp_path, strategy):
    with _search(H.zdt(), strategy, tmp_path, 24, seed=0) as run:
        curve = run.hypervolume_curve()
        assert run.n_done == 24 and len({r["idx"] for r in run.rows()}) == 24
        assert np.all(np.diff(curve) >= -1e-12) and curve[-1] >= curve[7]


@pytest.mark.parametrize("surrogate", ["xgb-ensemble", "gp-xgb-mean"])
def test_other_surrogates(tmp_path, surrogate):
    with run_search(
        H.zdt(),
        "qnehvi",
        budget=16,
        batch_size=4,
        n_init=8,
        seed=0,
        run_dir=tmp_path,
        strategy_options={**H.FAST_QNEHVI, "surrogate": surrogate, "ensemble_size": 4, "cv_folds": 3},
        progress=False,
    ) as run:
        assert run.n_done == 16 and run.hypervolume() > 0


def _two_gps():
    """Two GPs on 40 points of [0, 1]^3 plus a lookup column: a plain SingleTaskGP and the
    project's (input filter, categorical column 1), and the inputs (X_train, generator)."""
    import torch
    from botorch.models import SingleTaskGP
    from botorch.models.transforms.input import FilterFeatures

    from cimnet_bo.predictors.gp import gp_model

    g = torch.Generator().manual_seed(0)
    X = torch.rand(40, 4, generator=g, dtype=torch.float64)
    X[:, 1] = torch.round(X[:, 1] * 3) / 3
    plain = SingleTaskGP(X, torch.sin(3 * X[:, :1]) + X[:, 1:2], input_transform=FilterFeatures(torch.arange(3)))
    ours = gp_model(X, torch.cos(5 * X[:, 0]) * X[:, 2], d=3, categorical=[1])
    return [plain.eval(), ours.eval()], g


@pytest.mark.parametrize("chunk", [7, 4096])
def test_latent_marginals_are_each_candidates_own_posterior(chunk):
    import torch

    from cimnet_bo.search.surrogates import latent_marginals

    gps, g = _two_gps()
    Xc = torch.rand(600, 4, generator=g, dtype=torch.float64)
    for gp in gps:  # each candidate alone, through GPyTorch's batched path
        mean, var = latent_marginals(gp, Xc, chunk=chunk)
        want = gp.posterior(Xc.unsqueeze(-2))
        np.testing.assert_allclose(mean, want.mean[:, 0, 0].detach(), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(var, want.variance[:, 0, 0].detach(), rtol=1e-7, atol=1e-12)


def test_marginal_model_gives_each_candidates_own_posterior():
    import torch
    from botorch.models import ModelListGP

    from cimnet_bo.search.surrogates import marginal_model

    gps, g = _two_gps()
    Xc = torch.rand(300, 1, 4, generator=g, dtype=torch.float64)
    got = marginal_model(ModelListGP(*gps)).posterior(Xc)
    assert got.mean.shape == (300, 1, 2)
    for j, gp in enumerate(gps):
        want = gp.posterior(Xc)
        np.testing.assert_allclose(got.mean[..., j].detach(), want.mean[..., 0].detach(), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(got.variance[..., j].detach(), want.variance[..., 0].detach(), rtol=1e-7, atol=1e-12)


def _lookup_rows(n_rows: int):
    """The two GPs as a ``ModelListGP``, ``n_rows`` random inputs whose last column numbers them
    (the search's lookup column), and the generator."""
    import torch
    from botorch.models import ModelListGP

    from cimnet_bo.search.surrogates import id_column

    gps, g = _two_gps()
    rows = torch.rand(n_rows, 4, generator=g, dtype=torch.float64)
    rows[:, 3] = torch.as_tensor(id_column(np.arange(n_rows), n_rows))
    return ModelListGP(*gps), rows, g


def test_finite_model_is_the_joint_posterior_at_its_rows():
    import torch

    from cimnet_bo.search.surrogates import finite_model

    model, rows, g = _lookup_rows(n_rows := 200)
    keep = torch.randperm(n_rows, generator=g)[:50]
    finite = finite_model(model, rows[keep], n_rows)
    # batched joint inputs, as qNEHVI asks: 7 candidates, each with the same 5 baseline rows
    X = torch.cat([rows[keep[:5]].expand(7, 5, 4), rows[keep[5:12]].unsqueeze(1)], dim=1)
    got, want = finite.posterior(X), model.posterior(X)
    np.testing.assert_allclose(got.mean.detach(), want.mean.detach(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(
        got.distribution.covariance_matrix.detach(), want.distribution.covariance_matrix.detach(), atol=1e-9
    )
    outside = np.setdiff1d(np.arange(n_rows), keep.numpy())[:1]
    with pytest.raises(ValueError, match="outside the rows"):
        finite.posterior(rows[outside].unsqueeze(0))


def test_the_finite_model_leaves_qnehvi_picks_and_values_unchanged():
    import torch
    from botorch.acquisition.multi_objective.logei import qLogNoisyExpectedHypervolumeImprovement
    from botorch.optim import optimize_acqf_discrete
    from botorch.sampling.normal import SobolQMCNormalSampler

    from cimnet_bo.search.surrogates import finite_model

    model, rows, g = _lookup_rows(n_rows := 120)
    base, pool = rows[:30], rows[30:]
    picks = []
    for m in (model, finite_model(model, rows, n_rows)):
        acq = qLogNoisyExpectedHypervolumeImprovement(
            model=m,
            ref_point=torch.tensor([-1.0, -1.0], dtype=torch.float64),
            X_baseline=base,
            sampler=SobolQMCNormalSampler(torch.Size([32]), seed=0),
            prune_baseline=False,
        )
        picks.append(optimize_acqf_discrete(acq, q=4, choices=pool, unique=True))
    (c0, v0), (c1, v1) = picks
    assert torch.equal(c0, c1)
    np.testing.assert_allclose(v1, v0, rtol=1e-6)


@pytest.mark.parametrize("m", [2, 3])
def test_prune_baseline_keeps_botorchs_rows(m):
    import torch
    from botorch.acquisition.multi_objective.objective import IdentityMCMultiOutputObjective
    from botorch.acquisition.multi_objective.utils import prune_inferior_points_multi_objective
    from botorch.models import ModelListGP

    from cimnet_bo.search.qnehvi import prune_baseline
    from cimnet_bo.search.screen import OutcomeBound

    gps, g = _two_gps()
    model = ModelListGP(*(gps + gps[:1])[:m])
    X = torch.rand(300, 4, generator=g, dtype=torch.float64)
    ref = torch.full((m,), -0.5, dtype=torch.float64)
    objective = IdentityMCMultiOutputObjective()
    for constraints in (None, [OutcomeBound(1, 1.0, 0.2)]):
        torch.manual_seed(5)
        want = prune_inferior_points_multi_objective(
            model, X, ref, objective=objective, constraints=constraints, num_samples=128
        )
        torch.manual_seed(5)
        got = prune_baseline(model, X, ref, objective, constraints, num_samples=128)
        assert 2 <= len(got) < len(X)
        assert torch.equal(got, want)


@pytest.mark.parametrize("constrained", [False, True])
def test_single_candidate_log_nehvi_equals_botorchs(constrained):
    import torch
    from botorch.acquisition.multi_objective import logei
    from botorch.models import ModelListGP
    from botorch.sampling.normal import SobolQMCNormalSampler

    from cimnet_bo.search.fused_kernel import load_fused_kernel
    from cimnet_bo.search.qnehvi import log_nehvi
    from cimnet_bo.search.screen import OutcomeBound

    load_fused_kernel()
    assert logei._C is not None  # the shorter path runs only with BoTorch's fused kernel
    gps, g = _two_gps()
    model = ModelListGP(*gps)
    X = torch.rand(90, 4, generator=g, dtype=torch.float64)
    kwargs = dict(
        model=model,
        ref_point=torch.tensor([-0.5, -0.5], dtype=torch.float64),
        X_baseline=X[:30],
        constraints=[OutcomeBound(1, 1.0, 0.3)] if constrained else None,
        prune_baseline=False,
    )
    ours = log_nehvi(sampler=SobolQMCNormalSampler(torch.Size([32]), seed=1), **kwargs)
    theirs = logei.qLogNoisyExpectedHypervolumeImprovement(
        sampler=SobolQMCNormalSampler(torch.Size([32]), seed=1), **kwargs
    )
    with torch.no_grad():
        for pending in (None, X[30:33]):
            ours.set_X_pending(pending)
            theirs.set_X_pending(pending)
            for q in (1, 2):
                cand = X[34:].reshape(-1, q, 4)
                a, b = ours(cand), theirs(cand)
                assert torch.isfinite(b).all()
                np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


# ============================================================================ runs
def test_same_seed_same_results(tmp_path):
    for s in ("qnehvi", "nsga2"):
        h = []
        for k in range(2):
            with _search(H.zdt(), s, tmp_path / f"{s}{k}", 16, seed=3) as run:
                h.append(_history(run))
        assert h[0] == h[1]
    with run_search(
        H.zdt(), "nsga2", budget=16, batch_size=4, n_init=8, seed=4, run_dir=tmp_path / "other", progress=False
    ) as run:
        assert _history(run) != h[0]


KILL_SCRIPT = """
import os, sys
os.environ["OMP_NUM_THREADS"] = "1"
sys.path.insert(0, {tests!r})
import torch; torch.set_num_threads(1)
import search_helpers as H
from cimnet_bo.search import run_search
run_search(H.zdt(delay=0.15), "qnehvi", budget=24, batch_size=4, n_init=8, seed=5, run_dir={run!r},
           strategy_options=H.FAST_QNEHVI, progress=False)
"""


def test_resume_after_sigkill(tmp_path):
    """A run killed with SIGKILL mid-round, then resumed: nothing lost, nothing repeated, and the
    same results as a run that was never interrupted."""
    run_dir = tmp_path / "killed"
    script = tmp_path / "run.py"
    script.write_text(KILL_SCRIPT.format(tests=str(TESTS), run=str(run_dir)))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    store = run_dir / "store.sqlite"
    deadline = time.time() + 120
    n = 0
    try:
        while time.time() < deadline and proc.poll() is None:
            time.sleep(0.05)
            if store.exists():
                import sqlite3

                try:
                    with sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=1) as c:
                        n = c.execute("SELECT COUNT(*) FROM evaluations").fetchone()[0]
                except sqlite3.Error:
                    continue
                if n >= 14:  # inside round 2 (12 < n < 16): pending proposals half evaluated
                    break
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    with Run.open(run_dir, H.zdt()) as run:
        done_before = run.n_done
        assert 14 <= done_before < 24
        pending = run.pending()
    resumed = run_search(
        H.zdt(),
        "qnehvi",
        budget=24,
        batch_size=4,
        n_init=8,
        seed=5,
        run_dir=run_dir,
        strategy_options=H.FAST_QNEHVI,
        progress=False,
    )
    with resumed:
        rows = resumed.rows()
        assert sorted(r["idx"] for r in rows) == list(range(24))  # nothing lost, nothing twice
        assert len({tuple(sorted(r["config"].items())) for r in rows}) == 24
        assert not resumed.pending()
        assert {p["idx"] for p in pending} <= {r["idx"] for r in rows}
        h_resumed = _history(resumed)
    with run_search(
        H.zdt(),
        "qnehvi",
        budget=24,
        batch_size=4,
        n_init=8,
        seed=5,
        run_dir=tmp_path / "straight",
        strategy_options=H.FAST_QNEHVI,
        progress=False,
    ) as straight:
        assert _history(straight) == h_resumed


def test_budget_can_grow(tmp_path):
    with run_search(H.zdt(), "random", budget=8, batch_size=4, run_dir=tmp_path, progress=False) as run:
        first = _history(run)
    with run_search(H.zdt(), "random", budget=12, batch_size=4, run_dir=tmp_path, progress=False) as run:
        assert run.n_done == 12 and _history(run)[:8] == first


# ============================================================================ constraints
@pytest.mark.parametrize("strategy", ["random", "nsga2", "linas", "qnehvi"])
def test_cheap_constraint_respected_by_every_proposal(tmp_path, strategy):
    p = zdt_problem(cheap_constraint=8)
    assert p.cheap_outputs == ("load",)
    with _search(p, strategy, tmp_path, 20, seed=1) as run:
        rows = run.rows()
        assert len(rows) == 20
        assert all(r["config"]["x0"] + r["config"]["x1"] <= 8 for r in rows)
        assert all(r["objectives"]["load"] <= 8 for r in rows)


@pytest.mark.parametrize("surrogate", ["gp", "xgb-ensemble", "gp-xgb-mean"])
def test_expensive_constraint_is_an_outcome_constraint(tmp_path, surrogate):
    """A constraint on a modelled output enters qLogNEHVI as an outcome constraint: most model
    proposals meet it, and only feasible points count in the hypervolume."""
    p = H.zdt()
    p = Problem(p.space, p.evaluator, ["f1", "f2"], ["f1 >= 0.5"], ref_point=p.ref_point, ideal_point=p.ideal_point)
    assert not p.cheap_outputs
    with run_search(
        p,
        "qnehvi",
        budget=20,
        batch_size=4,
        n_init=8,
        seed=0,
        run_dir=tmp_path,
        strategy_options={**H.FAST_QNEHVI, "surrogate": surrogate, "ensemble_size": 4, "cv_folds": 3},
        progress=False,
    ) as run:
        rows = run.rows()
        model_rows = [r for r in rows if r["tag"] != "init"]
        ok = [r["objectives"]["f1"] >= 0.5 for r in model_rows]
        assert np.mean(ok) >= 0.75, ok
        U, feas = run.objective_matrix()
        assert np.array_equal(feas, U[:, 0] >= 0.5)
        assert run.hypervolume() == pytest.approx(p.hypervolume(U, feas))


@pytest.mark.parametrize("hardware", ["auto", "search"])
def test_registered_problem_runs_in_each_mode(tmp_path, hardware):
    """Every mode runs and meets the cheap constraints; hardware-only search with the hardware
    computed (``auto``: the best chip of the one subnet) is done after a single evaluation,
    the optimiser's answer, while searching the hardware spends the budget."""
    from cimnet_bo.hardware import best_hardware

    for mode in ("joint", "model-only", "hardware-only"):
        p = Problem.from_space("vit-fmnist", mode=mode, accuracy=SyntheticAccuracy("vit-fmnist"))
        with run_search(
            p,
            "qnehvi",
            budget=12,
            batch_size=4,
            n_init=8,
            run_dir=tmp_path / mode,
            strategy_options={**H.FAST_QNEHVI, "hardware": hardware},
            progress=False,
        ) as run:
            rows = run.rows()
            computed = mode == "hardware-only" and hardware == "auto"
            assert len(rows) == (1 if computed else 12) and all(r["error"] is None for r in rows)
            if computed:
                b = {c.name: c.bound for c in p.constraints}
                best = best_hardware(p.space, [rows[0]["config"]], b["area_mm2"], b["power_w"])[0]
                assert rows[0]["objectives"]["latency_s"] == pytest.approx(best["latency_s"].iloc[0], rel=1e-12)
            # the cheap constraints (feasible, area, peak power) are met by every proposal
            for c in p.constraints:
                assert all(c.holds(np.array([r["objectives"][c.name]]))[0] for r in rows), c
            if mode == "hardware-only":
                assert len({r["config"]["num_layers"] for r in rows}) == 1


def test_tabular_problem_proposes_table_rows(tmp_path):
    space = get_space("vit-fmnist")
    cfgs = space.sample(300, 7)
    from cimnet_bo.evaluate import RooflineEvaluator

    res = RooflineEvaluator(space).evaluate(cfgs)
    frame = pd.DataFrame(cfgs)
    for k in ("latency_s", "energy_j", "area_mm2", "power_w", "feasible"):
        frame[k] = res.column(k)
    frame["accuracy"] = SyntheticAccuracy(space).batch(cfgs)
    path = tmp_path / "table.csv"
    frame.to_csv(path, index=False)
    p = table_problem("vit-fmnist", path)
    assert not p.is_cheap("accuracy") and p.is_cheap("latency_s")
    keys = {tuple(c[n] for n in space.names) for c in cfgs}
    for s in ("qnehvi", "nsga2"):
        with _search(p, s, tmp_path / s, 16) as run:
            rows = run.rows()
            assert len(rows) == 16 and all(r["error"] is None for r in rows)
            assert all(tuple(r["config"][n] for n in space.names) in keys for r in rows)
    outside = next(c for c in space.sample(400, 8) if tuple(c[n] for n in space.names) not in keys)
    with pytest.raises(ProblemError, match="not a row of the problem's table"):
        run_search(p, "random", budget=8, batch_size=4, run_dir=tmp_path / "outside", initial=[outside])
    with run_search(
        p, "random", budget=8, batch_size=4, run_dir=tmp_path / "inside", initial=[cfgs[5]], progress=False
    ) as run:
        assert run.rows()[0]["config"] == space.validate(cfgs[5])


# ============================================================================ ask / tell
def test_ask_tell_errors_and_flow(tmp_path):
    p = H.zdt()
    with Run.open(tmp_path, p, "qnehvi", budget=100, batch_size=4, n_init=4, strategy_options=H.FAST_QNEHVI) as run:
        first = propose(run, 4)
        assert [r["idx"] for r in first] == [0, 1, 2, 3] and len(run.pending()) == 4
        good = [{"idx": r["idx"], **H.SlowZDT()(r)} for r in first]
        with pytest.raises(ValueError, match="never proposed.*99"):
            tell(run, good[:2] + [{"idx": 99, "f1": 0.1, "f2": 0.2}])
        with pytest.raises(ValueError, match="row 2 \\(idx 1\\), f2: missing"):
            tell(run, [good[0], {"idx": 1, "f1": 0.3}])
        with pytest.raises(ValueError, match="configuration differs"):
            tell(run, [{**good[0], "x1": (first[0]["x1"] + 1) % 11}])
        with pytest.raises(ValueError, match="appears 2 times"):
            tell(run, [good[0], good[0]])
        assert run.n_done == 0  # nothing stored by a rejected tell
        out = tell(run, good[:3] + [{"idx": 3, "error": "simulator crashed"}])
        assert out == {"told": 4, "replaced": 0, "pending": 0, "evaluations": 4}
        with pytest.raises(ValueError, match="already told.*\\[0\\]"):
            tell(run, good[:1])
        nxt = propose(run, 4)  # model-based now
        assert [r["idx"] for r in nxt] == [4, 5, 6, 7]
        seen = {tuple(r[f"x{i}"] for i in range(4)) for r in first}
        assert not seen & {tuple(r[f"x{i}"] for i in range(4)) for r in nxt}
        more = propose(run, 2)  # pending ones are not proposed again
        key = lambda rows: {tuple(r[f"x{i}"] for i in range(4)) for r in rows}  # noqa: E731
        assert not key(nxt) & key(more)
        assert run.rows()[3]["error"] == "simulator crashed"


def test_cli_search_propose_tell(tmp_path, capsys):
    run = tmp_path / "cli"
    common = [
        *"--space vit-fmnist --accuracy cimnet_bo.search.toy:synthetic_accuracy --run".split(),
        str(run),
        *"--budget 12 --batch-size 4 --n-init 8 --quiet".split(),
    ] + sum((["-o", f"{k}={json.dumps(v)}"] for k, v in H.FAST_QNEHVI.items()), [])
    assert cli_main(["search"] + common) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["evaluations"] == 12 and out["hypervolume"] > 0
    assert cli_main(["search", "--run", str(run), "--quiet"]) == 0  # resume: nothing left to do
    assert json.loads(capsys.readouterr().out)["evaluations"] == 12
    assert cli_main(["search", "--run", str(run), "--strategy", "random", "--quiet"]) == 2
    assert "different configuration" in capsys.readouterr().err
    assert (
        cli_main(
            [
                *"search --run".split(),
                str(tmp_path / "x"),
                *"--space vit-fmnist --budget 4 --accuracy cimnet_bo.search.toy:synthetic_accuracy".split(),
            ]
        )
        == 2
    )
    assert "smaller than the initial design" in capsys.readouterr().err
    cfg = tmp_path / "search.yaml"
    cfg.write_text(
        "problem:\n  space: vit-fmnist\n  mode: model-only\n"
        "  accuracy: cimnet_bo.search.toy:synthetic_accuracy\n"
        "strategy: random\nbudget: 8\nbatch_size: 4\nn_init: 4\nseed: 2\n"
    )
    assert cli_main(["search", "--config", str(cfg), "--run", str(tmp_path / "fromcfg"), "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["evaluations"] == 8 and out["strategy"] == "random"
    from cimnet_bo.analysis.experiment import baseline_config

    known = tmp_path / "known.csv"
    pd.DataFrame([{**baseline_config("vit-fmnist"), "note": "the chip we have"}]).to_csv(known, index=False)
    assert (
        cli_main(
            ["search", "--config", str(cfg), "--initial", str(known), "--run", str(tmp_path / "fromknown"), "--quiet"]
        )
        == 0
    )
    capsys.readouterr()
    with Run.open(tmp_path / "fromknown") as r:
        assert r.rows()[0]["config"] == baseline_config("vit-fmnist") and r.n_done == 8
    # resumed with the same file and no problem options: the run's own space picks the columns
    assert cli_main(["search", "--run", str(tmp_path / "fromknown"), "--initial", str(known), "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["evaluations"] == 8
    # empty cells: allowed for choices switched off by the depth, an error for active ones
    shallow = {**baseline_config("vit-fmnist"), "num_layers": 3}
    frame = pd.DataFrame([shallow])
    frame[["heads_3", "mlp_3", "heads_4", "mlp_4"]] = np.nan
    frame.to_csv(known, index=False)
    assert (
        cli_main(
            ["search", "--config", str(cfg), "--initial", str(known), "--run", str(tmp_path / "shallow"), "--quiet"]
        )
        == 0
    )
    capsys.readouterr()
    with Run.open(tmp_path / "shallow") as r:
        first = r.rows()[0]["config"]
        assert first["num_layers"] == 3 and first["heads_2"] == shallow["heads_2"]
    frame["heads_0"] = np.nan
    frame.to_csv(known, index=False)
    assert (
        cli_main(["search", "--config", str(cfg), "--initial", str(known), "--run", str(tmp_path / "bad"), "--quiet"])
        == 2
    )
    assert "empty cell(s) for the active choice(s) ['heads_0']" in capsys.readouterr().err
    assert (
        cli_main(
            [
                *"search --config".split(),
                str(cfg),
                "--initial",
                str(tmp_path / "nope.csv"),
                "--run",
                str(tmp_path / "nope"),
                "--quiet",
            ]
        )
        == 2
    )
    assert "initial configurations file" in capsys.readouterr().err and not (tmp_path / "nope").exists()
    ask = tmp_path / "ask"
    nxt = tmp_path / "next.csv"
    assert (
        cli_main(
            [*"propose --run".split(), str(ask), *"--space vit-fmnist --accuracy external -q 3 --out".split(), str(nxt)]
        )
        == 0
    )
    capsys.readouterr()
    frame = pd.read_csv(nxt)
    assert list(frame.columns[:2]) == ["idx", "num_layers"] and len(frame) == 3
    frame["accuracy"] = [0.9, 0.85, 0.8]
    frame.to_csv(tmp_path / "res.csv", index=False)
    frame.iloc[:1].assign(idx=[42]).to_csv(tmp_path / "bad.csv", index=False)
    assert cli_main(["tell", "--run", str(ask), str(tmp_path / "bad.csv")]) == 2
    assert "never proposed" in capsys.readouterr().err
    assert cli_main(["tell", "--run", str(ask), str(tmp_path / "res.csv")]) == 0
    told = json.loads(capsys.readouterr().out)
    assert told["told"] == 3 and told["pending"] == 0
    with Run.open(ask) as r:  # latency and area were computed here
        assert all(np.isfinite(row["objectives"]["latency_s"]) for row in r.rows())
    assert cli_main(["tell", "--run", str(ask), str(tmp_path / "res.csv")]) == 2
    assert "already told" in capsys.readouterr().err


def test_toy_example_runs(tmp_path, capsys):
    import runpy

    mod = runpy.run_path(str(TESTS.parent / "examples" / "toy_search.py"), run_name="toy_example")
    assert mod["main"](["--budget", "12", "--run", str(tmp_path), "--strategy", "random"]) == 0
    assert "hypervolume" in capsys.readouterr().out


def test_strategy_registry():
    assert set(STRATEGIES) >= {"qnehvi", "random", "nsga2", "linas"}
    assert list(SURROGATES) == ["gp", "xgb-ensemble", "gp-xgb-mean"]
    for name in SURROGATES:
        assert issubclass(SURROGATES[name], Surrogate) and SURROGATES[name].name == name
    with pytest.raises(UnknownNameError, match="unknown surrogate 'rf'"):
        SURROGATES["rf"]
    assert make_strategy("qnehvi").get_params()["surrogate"] == "gp"


@pytest.mark.parametrize("budget", ["area_budget", "power_budget"])
def test_a_problem_without_a_budget_is_rebuilt_without_it(budget):
    from cimnet_bo.search import problem_from_spec

    output = {"area_budget": "area_mm2", "power_budget": "power_w"}[budget]
    p = Problem.from_space("vit-fmnist", **{budget: None})
    assert output not in {c.name for c in p.constraints}
    again = problem_from_spec(p.spec)
    assert output not in {c.name for c in again.constraints}
    assert {c.name for c in again.constraints} == {c.name for c in p.constraints}
