"""Joint search of subnets and CiM hardware: problems, strategies (qNEHVI over BoTorch
surrogates, random, NSGA-II, LINAS), one resumable runner, and ask/tell.

Quick start::

    from cimnet_bo.search import Problem, run_search

    problem = Problem.from_space("vit-fmnist")            # accuracy vs latency, area and power <= baseline
    with run_search(problem, "qnehvi", budget=200, batch_size=8, seed=0, run_dir="runs/demo") as run:
        print(run.hypervolume(), run.best())
        front = run.pareto()                              # DataFrame of Pareto-optimal points

Modules: :mod:`~cimnet_bo.search.problem` (what to search, and how objectives are
normalised), :mod:`~cimnet_bo.search.registered` (the registered problems and their reference
points), :mod:`~cimnet_bo.search.specs` (problems from YAML / CLI descriptions),
:mod:`~cimnet_bo.search.network` (the chip of one fixed network, such as a torch model),
:mod:`~cimnet_bo.search.config` (a run's checked configuration), :mod:`~cimnet_bo.search.run`
(runs and resuming), :mod:`~cimnet_bo.search.ask_tell`, :mod:`~cimnet_bo.search.strategies`,
and :mod:`~cimnet_bo.search.best_chips` for how qNEHVI searches subnets on their best chips.
"""

from cimnet_bo.search.ask_tell import TellError, propose, tell, withdraw
from cimnet_bo.search.best_chips import BestChips
from cimnet_bo.search.network import model_problem, network_problem
from cimnet_bo.search.problem import Problem, ProblemError
from cimnet_bo.search.qnehvi import QNEHVI
from cimnet_bo.search.registered import MODES, REFERENCE_POINTS, baseline_chip, space_problem
from cimnet_bo.search.run import Run, SearchError, run_search
from cimnet_bo.search.specs import as_problem, problem_from_spec, table_problem
from cimnet_bo.search.strategies import LINAS, STRATEGIES, NSGA2Search, RandomSearch, Strategy, make_strategy
from cimnet_bo.search.surrogates import SURROGATES, Surrogate

__all__ = [
    "Problem",
    "ProblemError",
    "REFERENCE_POINTS",
    "MODES",
    "baseline_chip",
    "space_problem",
    "network_problem",
    "model_problem",
    "Run",
    "SearchError",
    "run_search",
    "propose",
    "tell",
    "withdraw",
    "TellError",
    "as_problem",
    "problem_from_spec",
    "table_problem",
    "Strategy",
    "STRATEGIES",
    "make_strategy",
    "QNEHVI",
    "RandomSearch",
    "NSGA2Search",
    "LINAS",
    "SURROGATES",
    "Surrogate",
    "BestChips",
]
