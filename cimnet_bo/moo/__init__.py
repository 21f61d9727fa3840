"""Multi-objective basics in numpy: objectives and directions, constraints, normalisation,
Pareto sets and exact hypervolume. Used by the search, the predictors and the analysis alike."""

from cimnet_bo.moo.constraints import (
    OPERATORS,
    Constraint,
    ConstraintError,
    ConstraintsLike,
    as_constraints,
    constraints_dict,
    feasible_mask,
)
from cimnet_bo.moo.hypervolume import hypervolume, hypervolume_curve
from cimnet_bo.moo.objectives import (
    DIRECTIONS,
    KNOWN_DIRECTIONS,
    DirectionsLike,
    Objective,
    Objectives,
    ObjectivesLike,
    as_directions,
    as_matrix,
    as_objectives,
    default_direction,
    objective_list,
    objective_matrix,
    to_maximization,
    to_minimization,
)
from cimnet_bo.moo.pareto import best_values, nondominated_min, pareto_front, pareto_mask
from cimnet_bo.moo.scale import LOG_OBJECTIVES, HypervolumeScale, normalize, unnormalize

__all__ = [
    "OPERATORS", "Constraint", "ConstraintError", "ConstraintsLike", "as_constraints", "constraints_dict",
    "feasible_mask", "LOG_OBJECTIVES", "HypervolumeScale", "hypervolume", "hypervolume_curve", "normalize",
    "unnormalize", "DIRECTIONS", "KNOWN_DIRECTIONS", "DirectionsLike", "Objective", "Objectives", "ObjectivesLike",
    "as_directions", "as_matrix", "as_objectives", "default_direction", "objective_list", "objective_matrix",
    "to_maximization", "to_minimization", "best_values", "nondominated_min", "pareto_front", "pareto_mask",
]
