"""Categorical choices: columns, a GP kernel that ignores their order, mutations and NSGA-II
operators that draw any other value, and the operator toy problem searched end to end."""

import numpy as np
import pytest

import search_helpers as H
from cimnet_bo.predictors.gp import covar_module, gp_model
from cimnet_bo.search import QNEHVI, Problem, run_search
from cimnet_bo.search.pool import mutate_rows, nsga2_operators
from cimnet_bo.search.toy import OPERATORS, SyntheticAccuracy, operator_front, operator_problem, operator_values
from cimnet_bo.space import Choice, Space, get_space

N_OPS = 5


def _space(categorical: bool = True) -> Space:
    return Space(
        "ops",
        [
            Choice("n", (1, 2, 4)),
            Choice("op", ("b", "a", "e", "c", "d"), categorical=categorical),
            Choice("x", (0.5, 1.0)),
        ],
    )


# ============================================================================ encoding
def test_categorical_columns_and_their_encoding():
    """A categorical choice keeps one rank column (the encoding of every choice is unchanged);
    the space names which columns are categorical, in joint spaces too."""
    space = _space()
    assert space.categorical_columns == (1,)
    assert _space(categorical=False).categorical_columns == ()
    configs = [{"n": 2, "op": "e", "x": 1.0}, {"n": 4, "op": "d", "x": 0.5}]
    X = space.encode(configs)
    assert np.array_equal(X, [[0.5, 0.5, 1.0], [1.0, 1.0, 0.0]])
    assert np.array_equal(X, _space(categorical=False).encode(configs))
    assert space.decode(X) == configs
    joint = get_space("vit-fmnist")
    assert joint.subnet.categorical_columns == ()
    assert joint.categorical_columns == (joint.subnet.dim + joint.hardware.names.index("cell"),)


# ============================================================================ GP kernel
def test_kernel_puts_every_pair_of_categorical_values_equally_far_apart():
    """With the column declared categorical, points that differ only in it have one
    covariance whatever their ranks; as an ordinal column, neighbours are more alike."""
    import torch

    X = torch.tensor([[0.3, j / (N_OPS - 1), 0.7] for j in range(N_OPS)], dtype=torch.float64)
    with torch.no_grad():
        K = covar_module(2, categorical=[1])(X[:, :2]).to_dense()
        K_ord = covar_module(2)(X[:, :2]).to_dense()
    off = K[~torch.eye(N_OPS, dtype=torch.bool)]
    assert torch.allclose(off, off[0]) and off[0] < K[0, 0]
    assert K_ord[0, 1] > K_ord[0, 2] > K_ord[0, 4]
    # the lookup column (past d) is dropped: the GP's kernel sees the categorical one
    gp = gp_model(X, torch.arange(N_OPS, dtype=torch.float64), d=2, categorical=[1])
    with torch.no_grad():
        K_gp = gp.covar_module(gp.input_transform(X)).to_dense()
    off = K_gp[~torch.eye(N_OPS, dtype=torch.bool)]
    assert torch.allclose(off, off[0])


def test_kernel_without_categorical_columns_is_the_ordinal_rbf():
    from botorch.models.utils.gpytorch_modules import get_covar_module_with_dim_scaled_prior
    from gpytorch.kernels import RBFKernel

    k = covar_module(4)
    ref = get_covar_module_with_dim_scaled_prior(ard_num_dims=4)
    assert type(k) is RBFKernel and k.ard_num_dims == 4
    assert k.lengthscale_prior.loc == ref.lengthscale_prior.loc
    assert (k.lengthscale == ref.lengthscale).all()


def test_kernel_refuses_columns_outside_the_inputs():
    with pytest.raises(ValueError, match=r"categorical columns \[3\] are outside the 3 input columns"):
        covar_module(3, categorical=[0, 3])


def test_gp_on_a_scrambled_table_predicts_unseen_pairs():
    """A categorical GP learns a per-value table plus a smooth ordinal trend: held-out
    combinations are predicted within a tenth of the target's range."""
    import torch

    from cimnet_bo.predictors import fit_gp

    table = np.array([0.9, -0.6, 1.0, -1.0, 0.2])  # not monotone in the rank
    rng = np.random.default_rng(0)
    ranks = np.repeat(np.arange(N_OPS), 8)
    t = rng.random(len(ranks))
    X = np.column_stack([ranks / (N_OPS - 1), t])
    y = table[ranks] + 0.5 * t
    torch.manual_seed(0)
    gp = fit_gp(X, y, maxiter=60, categorical=[0])
    Xq = np.column_stack([np.arange(N_OPS) / (N_OPS - 1), np.full(N_OPS, 0.37)])
    with torch.no_grad():
        pred = gp.posterior(torch.as_tensor(Xq)).mean.squeeze(-1).numpy()
    assert np.abs(pred - (table + 0.5 * 0.37)).max() < 0.1 * np.ptp(y)


# ============================================================================ mutations
def test_mutate_rows_draws_every_other_categorical_value_uniformly():
    space = _space()
    parent = space.to_indices([{"n": 2, "op": "e", "x": 1.0}])
    kids = mutate_rows(space, parent, 20000, np.random.default_rng(0), rate=1.0)
    counts = np.bincount(kids[:, 1], minlength=N_OPS)
    assert counts[2] == 0
    # 5000 expected per other value; 5 % is about four standard deviations
    assert np.all(np.abs(np.delete(counts, 2) - 5000) < 250), counts


def test_space_mutate_draws_every_other_categorical_value_uniformly():
    space = Space("one", [Choice("op", tuple("abcde"), categorical=True)])
    rng = np.random.default_rng(1)
    got = [space.mutate({"op": "c"}, rate=1.0, seed=rng)["op"] for _ in range(4000)]
    values, counts = np.unique(got, return_counts=True)
    assert list(values) == ["a", "b", "d", "e"]
    assert np.all(np.abs(counts - 1000) < 130), counts


# ============================================================================ NSGA-II operators
def _pymoo(space: Space):
    from pymoo.core.problem import Problem as PymooProblem

    xu = np.array([len(c) - 1 for c in space.choices], dtype=float)
    return PymooProblem(n_var=space.dim, n_obj=1, xl=np.zeros(space.dim), xu=xu, vtype=int)


def test_nsga2_operators_are_pymoos_own_without_categorical_columns():
    from pymoo.operators.crossover.sbx import SBX
    from pymoo.operators.mutation.pm import PM

    _, cx, mut = nsga2_operators(_space(categorical=False).categorical_columns)
    assert type(cx) is SBX and type(mut) is PM


def test_nsga2_mutation_moves_a_categorical_value_to_any_other():
    from pymoo.core.population import Population

    space = _space()
    prob = _pymoo(space)
    _, _, mut = nsga2_operators(space.categorical_columns)
    X = np.tile([1.0, 2.0, 1.0], (30000, 1))
    Y = np.rint(mut.do(prob, Population.new("X", X), random_state=np.random.default_rng(0)).get("X"))
    counts = np.bincount(Y[:, 1].astype(int), minlength=N_OPS)
    # each individual mutates with probability 0.9, each variable with 1 / n_var
    moved = 30000 * 0.9 / 3
    assert abs(counts.sum() - counts[2] - moved) < 4 * np.sqrt(moved)
    assert np.all(np.abs(np.delete(counts, 2) - moved / 4) < 0.1 * moved / 4), counts
    # the ordinal column stays mostly next to its value (polynomial mutation)
    assert np.isin(Y[:, 0], [0, 1, 2]).all()


def test_nsga2_crossover_takes_categorical_values_from_the_parents():
    from pymoo.core.population import Population

    space = _space()
    prob = _pymoo(space)
    _, cx, _ = nsga2_operators(space.categorical_columns)
    parents = Population.new("X", np.array([[0.0, 0.0, 0.0], [2.0, 4.0, 1.0]]))
    mating = np.tile([0, 1], (5000, 1))
    kids = np.rint(cx.do(prob, parents, mating, random_state=np.random.default_rng(0)).get("X"))
    values, counts = np.unique(kids[:, 1], return_counts=True)
    assert list(values) == [0, 4] and abs(counts[0] - 5000) < 300
    # the ordinal columns are pymoo's SBX children
    _, sbx, _ = nsga2_operators()
    plain = np.rint(sbx.do(prob, parents, mating, random_state=np.random.default_rng(0)).get("X"))
    assert np.array_equal(kids[:, [0, 2]], plain[:, [0, 2]])


def test_snap_counts_any_categorical_difference_alike():
    """Tabular problems: a proposal moves to the nearest candidate; a candidate with another
    categorical value is no nearer for having a nearby rank."""
    from cimnet_bo.evaluate import CallableEvaluator
    from cimnet_bo.search.state import Caches, SearchState

    space = _space()
    candidates = [{"n": 1, "op": "a", "x": 0.5}, {"n": 2, "op": "d", "x": 0.5}]
    ev = CallableEvaluator(lambda c: (0.0, 0.0), [("f", "min"), ("g", "min")], space=space)
    proposal = space.to_indices([{"n": 2, "op": "b", "x": 0.5}])
    nearest = {}
    for categorical in (True, False):
        problem = Problem(_space(categorical), ev, ["f", "g"], ref_point={"f": 1, "g": 1}, candidates=candidates)
        state = SearchState.from_rows(problem, [], [], Caches.for_problem(problem))
        nearest[categorical] = space.from_indices(state.snap(proposal))
    # "b" is one rank from "a" and four from "d", but unequal to both: "n" decides
    assert nearest == {True: [candidates[1]], False: [candidates[0]]}


# ============================================================================ search
def test_operator_toy_problem():
    """The toy's table is not monotone in the list order; its optimum is hand-checked."""
    quality = [q for q, _ in OPERATORS.values()]
    assert np.any(np.diff(quality) > 0) and np.any(np.diff(quality) < 0)
    front = operator_front()
    assert front[0, 0] == pytest.approx(0.05 + 0.5 * (4 / 6 - 0.6) ** 2)  # attention, widest, lr 2e-3
    best = {"op": "attention", "width": 192, "depth": 6, "lr": 2e-3, "dropout": 0.1}
    assert operator_values(best) == pytest.approx({"error": front[0, 0], "cost": 1.0})
    assert np.all(np.diff(front[:, 1]) < 0)  # sorted by error, each point cheaper than the last
    assert operator_problem().space.categorical_columns == (0,)
    assert operator_problem(categorical=False).space.categorical_columns == ()


def test_qnehvi_searches_the_operator_problem(tmp_path):
    p = operator_problem()
    with run_search(
        p,
        "qnehvi",
        budget=20,
        batch_size=4,
        n_init=8,
        seed=0,
        run_dir=tmp_path,
        strategy_options=H.FAST_QNEHVI,
        progress=False,
    ) as run:
        rows = run.rows()
        curve = run.hypervolume_curve()
    assert len(rows) == 20 and all(p.space.is_valid(r["config"]) for r in rows)
    assert len({tuple(sorted(r["config"].items())) for r in rows}) == 20
    assert curve[-1] > curve[7]  # the model's proposals improve on the initial design


@pytest.mark.parametrize("hardware, expected", [("search", "cell"), ("best", None)])
def test_surrogate_sees_the_categorical_columns_of_its_inputs(tmp_path, monkeypatch, hardware, expected):
    """``hardware="search"``: the GP treats the hardware's ``cell`` as categorical;
    ``"best"``: its inputs are the subnet's columns, none categorical."""
    import cimnet_bo.search.surrogates as surrogates

    seen = []
    original = surrogates.fit_gp_list

    def spy(X, Y, d, seed, **kw):
        seen.append((d, list(kw["categorical"])))
        return original(X, Y, d, seed, **kw)

    monkeypatch.setattr(surrogates, "fit_gp_list", spy)
    problem = Problem.from_space("vit-fmnist", accuracy=SyntheticAccuracy("vit-fmnist"))
    space = problem.space
    with run_search(problem, "random", budget=8, n_init=8, seed=0, run_dir=tmp_path, progress=False) as run:
        strategy = QNEHVI(**{**H.FAST_QNEHVI, "pool_size": 100, "hardware": hardware})
        strategy.propose(run.state(), 2, np.random.default_rng(0))
    if expected is None:
        assert seen == [(space.subnet.dim, [])]
    else:
        assert seen == [(space.dim, [space.names.index(expected)])]
