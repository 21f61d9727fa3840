"""The XGBoost predictor (the default accuracy and latency predictor)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from cimnet_bo.predictors.base import PREDICTORS, Predictor

#: Defaults for hardware-dependent objectives (latency, energy, area).
XGB_DEFAULTS = dict(n_estimators=2000, learning_rate=0.02, grow_policy="lossguide", max_leaves=16, max_depth=0,
                    subsample=0.8, colsample_bytree=0.8, min_child_weight=1.0, reg_lambda=1.0, tree_method="hist")
#: Defaults for subnet-only objectives (accuracy: few, noisy labels, smooth in the encoding).
XGB_SUBNET_DEFAULTS = dict(n_estimators=600, learning_rate=0.03, max_depth=4, subsample=0.8,
                           colsample_bytree=0.7, min_child_weight=2.0, reg_lambda=2.0, tree_method="hist")


@PREDICTORS.register("xgb")
class XGBPredictor(Predictor):
    """Gradient-boosted trees (XGBoost) on the ``"xgb"`` features: subnet encoding, workload
    features, hardware knobs in log2 scale (see :mod:`cimnet_bo.predictors.features`).

    Parameters
    ----------
    space : JointSpace, Space or str
    objective : str
    log_target, hardware, seed :
        See :class:`~cimnet_bo.predictors.base.Predictor`. Latency and energy are learned in
        log space by default.
    cross : bool
        Add the cross features (workload / hardware ratios and tiling counts, see
        :data:`cimnet_bo.predictors.features.CROSS_FEATURES`; default True).
    n_jobs : int, optional
        XGBoost threads (default: XGBoost's choice).
    **xgb_params :
        Passed to ``xgboost.XGBRegressor``, over :data:`XGB_DEFAULTS` (or
        :data:`XGB_SUBNET_DEFAULTS` for subnet-only objectives).
    """

    feature_kind = "xgb"
    model_suffix = ".json"

    def __init__(self, space: Any, objective: str, log_target: bool | None = None, hardware: bool | None = None,
                 seed: int = 0, cross: bool = True, n_jobs: int | None = None, **xgb_params: Any) -> None:
        super().__init__(space, objective, log_target, hardware, seed)
        self.cross = cross
        self.n_jobs = n_jobs
        self.xgb_params = xgb_params

    def _init_params(self) -> dict[str, Any]:
        return {**super()._init_params(), "cross": self.cross, "n_jobs": self.n_jobs, **self.xgb_params}

    def _feature_options(self) -> dict[str, Any]:
        return {"cross": self.cross}

    def _regressor(self):
        import xgboost as xgb

        base = XGB_DEFAULTS if self.use_hardware else XGB_SUBNET_DEFAULTS
        params = {**base, **self.xgb_params, "random_state": self.seed}
        if self.n_jobs is not None:
            params["n_jobs"] = self.n_jobs
        return xgb.XGBRegressor(**params)

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        self.model_ = self._regressor()
        self.model_.fit(X, y)

    def _predict(self, X: np.ndarray) -> np.ndarray:
        return self.model_.predict(X)

    def _save_model(self, path: Path) -> None:
        self.model_.save_model(str(path))

    def _load_model(self, path: Path) -> None:
        self.model_ = self._regressor()
        self.model_.load_model(str(path))

    def feature_importance(self) -> dict[str, float]:
        """Gain importance per feature name."""
        score = self.model_.get_booster().get_score(importance_type="gain")
        return {self.feature_names_[int(k[1:])] if k.startswith("f") and k[1:].isdigit() else k: v
                for k, v in sorted(score.items(), key=lambda kv: -kv[1])}
