"""Analysis of search results: Pareto fronts, hypervolume, iso-accuracy speedup, plots.

Everything here works on numpy arrays and pandas DataFrames (one row per evaluated point,
one column per objective / choice), independently of how runs are stored.

Objectives are named with directions, ``{"accuracy": "max", "latency_s": "min"}``; matrices
built from them follow that order. The multi-objective basics (objectives, constraints, Pareto
sets, hypervolume) live in :mod:`cimnet_bo.moo` and are re-exported here.

* :func:`pareto_mask`, :func:`pareto_front`: Pareto-optimal points (feasibility optional).
* :func:`hypervolume`, :func:`hypervolume_curve`, :func:`aggregate_curves`: exact hypervolume,
  its growth over evaluations, and mean/spread over seeds; :class:`HypervolumeScale` and
  :func:`normalize` for the normalised numbers that reports use (log10 latency, [0, 1] box).
* :func:`iso_accuracy_speedup`, :func:`speedup_table`: best latency at an accuracy target,
  relative to a baseline.
* :func:`plot_pareto_fronts`, :func:`plot_hypervolume_curves`, :func:`plot_hardware_knobs`,
  :func:`plot_point_roofline`: PNG figures.

Search runs (:mod:`cimnet_bo.analysis.runs`, :mod:`~cimnet_bo.analysis.report`,
:mod:`~cimnet_bo.analysis.experiment`):

* :func:`load_run`, :func:`load_runs`: run directories as :class:`RunData` (evaluations in
  order, feasibility, the problem's fixed reference point); :func:`group_runs`,
  :func:`hypervolume_curves`, :func:`frames_by_group`, :func:`run_speedups`,
  :func:`runs_summary`, :func:`hypervolume_summary`: comparisons across runs and seeds.
* :func:`write_report`: HTML + Markdown report with figures and tables (``cimnet-bo report``),
  written as a :class:`~cimnet_bo.analysis.document.Document`; numbers as text with
  :mod:`~cimnet_bo.analysis.formatting` (:func:`format_speedup_table`).
* :func:`run_experiment`: baseline vs model-only vs joint search under one area budget
  (``cimnet-bo experiment``); its ``RESULTS.md`` from
  :mod:`~cimnet_bo.analysis.experiment_results`.
"""

from cimnet_bo.analysis.compare import (
    baseline_point,
    find_baseline,
    frames_by_group,
    group_runs,
    hypervolume_curves,
    hypervolume_summary,
    run_speedups,
    runs_summary,
)
from cimnet_bo.analysis.curves import aggregate_curves
from cimnet_bo.analysis.experiment import ExperimentResult, baseline_config, make_baseline_run, run_experiment
from cimnet_bo.analysis.formatting import format_speedup_table
from cimnet_bo.analysis.plots import (
    plot_hardware_knobs,
    plot_hypervolume_curves,
    plot_pareto_fronts,
    plot_point_roofline,
)
from cimnet_bo.analysis.report import Report, write_report
from cimnet_bo.analysis.runs import DEFAULT_TARGETS, RunData, RunLoadError, load_run, load_runs
from cimnet_bo.analysis.speedup import SPEEDUP_COLUMNS, iso_accuracy_speedup, speedup_table
from cimnet_bo.moo import (
    DIRECTIONS,
    LOG_OBJECTIVES,
    HypervolumeScale,
    Objectives,
    as_directions,
    as_objectives,
    feasible_mask,
    hypervolume,
    hypervolume_curve,
    normalize,
    objective_matrix,
    pareto_front,
    pareto_mask,
    to_maximization,
    to_minimization,
    unnormalize,
)

__all__ = [
    "aggregate_curves",
    "as_directions",
    "as_objectives",
    "baseline_config",
    "baseline_point",
    "DEFAULT_TARGETS",
    "DIRECTIONS",
    "ExperimentResult",
    "feasible_mask",
    "find_baseline",
    "format_speedup_table",
    "frames_by_group",
    "group_runs",
    "hypervolume",
    "hypervolume_curve",
    "hypervolume_curves",
    "hypervolume_summary",
    "HypervolumeScale",
    "iso_accuracy_speedup",
    "load_run",
    "load_runs",
    "LOG_OBJECTIVES",
    "make_baseline_run",
    "normalize",
    "objective_matrix",
    "Objectives",
    "pareto_front",
    "pareto_mask",
    "plot_hardware_knobs",
    "plot_hypervolume_curves",
    "plot_pareto_fronts",
    "plot_point_roofline",
    "Report",
    "run_experiment",
    "run_speedups",
    "RunData",
    "RunLoadError",
    "runs_summary",
    "SPEEDUP_COLUMNS",
    "speedup_table",
    "to_maximization",
    "to_minimization",
    "unnormalize",
    "write_report",
]
