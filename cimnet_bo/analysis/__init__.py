"""Analysis of search results: Pareto fronts, hypervolume, iso-accuracy speedup, plots.

Everything here works on numpy arrays and pandas DataFrames (one row per evaluated point,
one column per objective / choice), independently of how runs are stored.

Objectives are named with directions, ``{"accuracy": "max", "latency_s": "min"}``; matrices
built from them follow that order (:mod:`cimnet_bo.analysis.objectives`).

* :func:`pareto_mask`, :func:`pareto_front`: Pareto-optimal points (feasibility optional).
* :func:`hypervolume`, :func:`hypervolume_curve`, :func:`aggregate_curves`: exact hypervolume,
  its growth over evaluations, and mean/spread over seeds; :class:`HypervolumeScale` and
  :func:`normalize` for the normalised numbers that reports use (log10 latency, [0, 1] box).
* :func:`iso_accuracy_speedup`, :func:`speedup_table`: best latency at an accuracy target,
  relative to a baseline.
* :func:`plot_pareto_fronts`, :func:`plot_hypervolume_curves`, :func:`plot_hardware_knobs`,
  :func:`plot_point_roofline`: PNG figures.
"""

from cimnet_bo.analysis.hypervolume import (
    LOG_OBJECTIVES,
    HypervolumeScale,
    aggregate_curves,
    hypervolume,
    hypervolume_curve,
    normalize,
    unnormalize,
)
from cimnet_bo.analysis.objectives import (
    DIRECTIONS,
    Objectives,
    as_directions,
    as_objectives,
    feasible_mask,
    objective_matrix,
    to_maximization,
    to_minimization,
)
from cimnet_bo.analysis.pareto import pareto_front, pareto_mask
from cimnet_bo.analysis.plots import (
    plot_hardware_knobs,
    plot_hypervolume_curves,
    plot_pareto_fronts,
    plot_point_roofline,
)
from cimnet_bo.analysis.speedup import SPEEDUP_COLUMNS, iso_accuracy_speedup, speedup_table

__all__ = [
    "DIRECTIONS",
    "LOG_OBJECTIVES",
    "SPEEDUP_COLUMNS",
    "Objectives",
    "as_objectives",
    "as_directions",
    "to_minimization",
    "to_maximization",
    "objective_matrix",
    "feasible_mask",
    "pareto_mask",
    "pareto_front",
    "hypervolume",
    "hypervolume_curve",
    "aggregate_curves",
    "normalize",
    "unnormalize",
    "HypervolumeScale",
    "iso_accuracy_speedup",
    "speedup_table",
    "plot_pareto_fronts",
    "plot_hypervolume_curves",
    "plot_hardware_knobs",
    "plot_point_roofline",
]
