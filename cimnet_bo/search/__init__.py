"""Joint search of subnets and CiM hardware: problems, strategies (qNEHVI over BoTorch
surrogates, random, NSGA-II, LINAS), one resumable runner, and ask/tell.

Quick start::

    from cimnet_bo.search import Problem, run_search

    problem = Problem.from_space("vit-fmnist")            # accuracy vs latency, area and power <= baseline
    with run_search(problem, "qnehvi", budget=200, batch_size=8, seed=0, run_dir="runs/demo") as run:
        print(run.hypervolume(), run.best())
        front = run.pareto()                              # DataFrame of Pareto-optimal points

See :mod:`cimnet_bo.search.problem` for how objectives are normalised and the reference points
of the registered problems, :mod:`cimnet_bo.search.runner` for runs, resuming and ask/tell, and
:mod:`cimnet_bo.search.best_chips` for how qNEHVI searches subnets on their best chips.
"""

from cimnet_bo.search.best_chips import BestChips

from cimnet_bo.search.problem import (
    LOG_OBJECTIVES,
    MODES,
    REFERENCE_POINTS,
    Constraint,
    Problem,
    ProblemError,
    baseline_chip,
    hypervolume_u,
)
from cimnet_bo.search.runner import (
    Run,
    as_problem,
    problem_from_spec,
    propose,
    run_search,
    table_problem,
    tell,
)
from cimnet_bo.search.qnehvi import QNEHVI
from cimnet_bo.search.strategies import (
    LINAS,
    STRATEGIES,
    NSGA2Search,
    RandomSearch,
    Strategy,
    make_strategy,
)
from cimnet_bo.search.surrogates import SURROGATES, Surrogate

__all__ = [
    "Problem", "Constraint", "ProblemError", "REFERENCE_POINTS", "LOG_OBJECTIVES", "MODES", "baseline_chip",
    "hypervolume_u", "Run", "run_search", "propose", "tell", "as_problem", "problem_from_spec", "table_problem",
    "Strategy", "STRATEGIES", "make_strategy", "QNEHVI", "RandomSearch", "NSGA2Search",
    "LINAS", "SURROGATES", "Surrogate", "BestChips",
]
