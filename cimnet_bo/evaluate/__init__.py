"""Evaluators (objective values for batches of configurations, failures recorded per
candidate), executors (in-process, local process pool, Ray cluster) and labeling."""

from cimnet_bo.evaluate.base import Evaluations, Evaluator, ExternalOutputs, failure_text
from cimnet_bo.evaluate.evaluators import (
    ROOFLINE_OBJECTIVES,
    AccuracyEvaluator,
    CallableEvaluator,
    ChipAccuracy,
    CompositeEvaluator,
    RooflineEvaluator,
    SubnetCachedEvaluator,
    TableEvaluator,
    supernet_accuracy,
)
from cimnet_bo.evaluate.executors import Executor, InProcessExecutor, LocalPoolExecutor, get_executor
from cimnet_bo.evaluate.label import batches_by_subnet, default_subnets, label, sample_pairs
from cimnet_bo.evaluate.ray_executor import RayExecutor, RayNotInstalledError
from cimnet_bo.moo import Objective, objective_list

#: The supernet-backed accuracy evaluator, under the name used in the design notes.
SupernetAccuracyEvaluator = AccuracyEvaluator

__all__ = [
    "Objective",
    "objective_list",
    "Evaluator",
    "Evaluations",
    "ExternalOutputs",
    "failure_text",
    "RooflineEvaluator",
    "AccuracyEvaluator",
    "ChipAccuracy",
    "supernet_accuracy",
    "SupernetAccuracyEvaluator",
    "TableEvaluator",
    "CallableEvaluator",
    "CompositeEvaluator",
    "SubnetCachedEvaluator",
    "ROOFLINE_OBJECTIVES",
    "Executor",
    "InProcessExecutor",
    "LocalPoolExecutor",
    "RayExecutor",
    "RayNotInstalledError",
    "get_executor",
    "label",
    "sample_pairs",
    "default_subnets",
    "batches_by_subnet",
]
