"""Accuracy and latency predictors: XGBoost first, baselines behind the same interface
(DyNAS-T's Ridge / RBF-SVR, OFA's MLP, a BoTorch GP), metrics and training utilities; the
XGBoost and GP fitting functions the search's models use too."""

from cimnet_bo.predictors.base import (
    LOG_TARGETS,
    PREDICTORS,
    SUBNET_OBJECTIVES,
    Predictor,
    load_predictor,
    make_predictor,
)
from cimnet_bo.predictors.baselines import GPPredictor, MLPPredictor, RidgePredictor, SVRPredictor
from cimnet_bo.predictors.features import CROSS_FEATURES, WORKLOAD_FEATURES, FeatureBuilder, workload_features
from cimnet_bo.predictors.gp import fit_gp, gp_model
from cimnet_bo.predictors.metrics import kendall_tau, mape, regression_report, rmse, spearman
from cimnet_bo.predictors.train import learning_curve, objective_data, summarize_curve, train_predictors
from cimnet_bo.predictors.xgb import (
    XGB_DEFAULTS,
    XGB_SEARCH_DEFAULTS,
    XGB_SUBNET_DEFAULTS,
    XGBPredictor,
    fit_xgb,
    xgb_bootstrap,
    xgb_oof,
    xgb_regressor,
)

__all__ = [
    "Predictor",
    "XGBPredictor",
    "RidgePredictor",
    "SVRPredictor",
    "MLPPredictor",
    "GPPredictor",
    "PREDICTORS",
    "SUBNET_OBJECTIVES",
    "LOG_TARGETS",
    "make_predictor",
    "load_predictor",
    "FeatureBuilder",
    "workload_features",
    "WORKLOAD_FEATURES",
    "CROSS_FEATURES",
    "kendall_tau",
    "spearman",
    "rmse",
    "mape",
    "regression_report",
    "train_predictors",
    "learning_curve",
    "summarize_curve",
    "objective_data",
    "XGB_DEFAULTS",
    "XGB_SUBNET_DEFAULTS",
    "XGB_SEARCH_DEFAULTS",
    "xgb_regressor",
    "fit_xgb",
    "xgb_oof",
    "xgb_bootstrap",
    "gp_model",
    "fit_gp",
]
