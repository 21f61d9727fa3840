"""XGBoost in one place: its parameter sets, the regressor factory, fits on feature matrices
(plain, out-of-fold, bootstrap ensembles) and the XGBoost predictor (the default accuracy and
latency predictor)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np

from cimnet_bo.predictors.base import PREDICTORS, Predictor
from cimnet_bo.space import AnySpace

#: Defaults for hardware-dependent objectives (latency, energy, area).
XGB_DEFAULTS = {
    **{"n_estimators": 2000, "learning_rate": 0.02, "grow_policy": "lossguide", "max_leaves": 16, "max_depth": 0},
    **{"subsample": 0.8, "colsample_bytree": 0.8, "min_child_weight": 1.0, "reg_lambda": 1.0, "tree_method": "hist"},
}
#: Defaults for subnet-only objectives (accuracy: few, noisy labels, smooth in the encoding): depth-wise
#: trees, more regularised.
XGB_SUBNET_DEFAULTS = {
    **{k: v for k, v in XGB_DEFAULTS.items() if k not in ("grow_policy", "max_leaves")},
    **{"n_estimators": 600, "learning_rate": 0.03, "max_depth": 4, "colsample_bytree": 0.7},
    **{"min_child_weight": 2.0, "reg_lambda": 2.0},
}
#: Defaults of the search's models (refitted every round, so lighter than the two above).
XGB_SEARCH_DEFAULTS = {
    **{k: v for k, v in XGB_DEFAULTS.items() if k not in ("grow_policy", "max_leaves")},
    **{"n_estimators": 250, "learning_rate": 0.06, "max_depth": 5},
}


def xgb_regressor(params: Mapping[str, Any], seed: int, n_jobs: int | None = None) -> Any:
    """An unfitted ``xgboost.XGBRegressor``.

    Parameters
    ----------
    params : mapping
        All its parameters (a parameter set above with the caller's changes over it).
    seed : int
        ``random_state``.
    n_jobs : int, optional
        Threads (default: XGBoost's choice; overrides ``params["n_jobs"]`` when given).
    """
    import xgboost as xgb

    p = {**params, "random_state": int(seed)}
    if n_jobs is not None:
        p["n_jobs"] = n_jobs
    return xgb.XGBRegressor(**p)


def fit_xgb(F: np.ndarray, y: np.ndarray, params: Mapping[str, Any], seed: int, n_jobs: int | None = None) -> Any:
    """An ``xgboost.XGBRegressor`` (see :func:`xgb_regressor`) fitted on features F (n x f)
    and targets y (n,)."""
    model = xgb_regressor(params, seed, n_jobs)
    model.fit(F, y)
    return model


def xgb_oof(
    F: np.ndarray, y: np.ndarray, params: Mapping[str, Any], seed: int, folds: int = 5, n_jobs: int | None = None
) -> np.ndarray:
    """Out-of-fold predictions (n,) of XGBoost on (F (n x f), y (n,)): each row predicted by the
    model fitted without its fold (``folds`` random folds, at least 2 and at most n; fold ``k``'s
    model has seed ``seed + k``)."""
    n = len(y)
    folds = max(2, min(folds, n))
    perm = np.random.default_rng(seed).permutation(n)
    out = np.empty(n)
    for k in range(folds):
        te = perm[k::folds]
        tr = np.setdiff1d(perm, te)
        out[te] = fit_xgb(F[tr], y[tr], params, seed + k, n_jobs).predict(F[te])
    return out


def xgb_bootstrap(
    F_train: np.ndarray,
    y: np.ndarray,
    F_all: np.ndarray,
    params: Mapping[str, Any],
    members: int,
    seed: int,
    n_jobs: int | None = None,
) -> np.ndarray:
    """Predictions (N x members) at F_all (N x f) of ``members`` XGBoost models, each fitted on
    a bootstrap resample of (F_train (n x f), y (n,)) with its own seed."""
    rng = np.random.default_rng(seed)
    n = len(y)
    out = np.empty((len(F_all), members))
    for s in range(members):
        rows = rng.integers(0, n, n)
        out[:, s] = fit_xgb(F_train[rows], y[rows], params, seed + 7919 * (s + 1), n_jobs).predict(F_all)
    return out


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

    def __init__(
        self,
        space: AnySpace,
        objective: str,
        *,
        cross: bool = True,
        n_jobs: int | None = None,
        log_target: bool | None = None,
        hardware: bool | None = None,
        seed: int = 0,
        **xgb_params: Any,
    ) -> None:
        super().__init__(space, objective, log_target, hardware, seed)
        self.cross = cross
        self.n_jobs = n_jobs
        self.xgb_params = xgb_params

    def _init_params(self) -> dict[str, Any]:
        return {**super()._init_params(), "cross": self.cross, "n_jobs": self.n_jobs, **self.xgb_params}

    def _feature_options(self) -> dict[str, Any]:
        return {"cross": self.cross}

    def _regressor(self) -> Any:
        base = XGB_DEFAULTS if self.use_hardware else XGB_SUBNET_DEFAULTS
        return xgb_regressor({**base, **self.xgb_params}, self.seed, self.n_jobs)

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
        return {
            self.feature_names_[int(k[1:])] if k.startswith("f") and k[1:].isdigit() else k: v
            for k, v in sorted(score.items(), key=lambda kv: -kv[1])
        }
