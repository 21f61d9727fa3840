"""Baseline predictors behind the same interface as :class:`XGBPredictor`.

* :class:`RidgePredictor`, :class:`SVRPredictor`: DyNAS-T's predictors (Intel Labs): one-hot
  encoded configurations, targets scaled, hyper-parameters grid-searched with 5-fold
  cross-validation (Ridge: ``alpha``; RBF-SVR: ``C`` with ``gamma="auto"``).
* :class:`MLPPredictor`: Once-for-All's accuracy predictor: an MLP with three hidden layers
  of 400 ReLU units on one-hot encodings (scikit-learn ``MLPRegressor``, Adam).
* :class:`GPPredictor`: the project's GP (:mod:`cimnet_bo.predictors.gp`: BoTorch
  ``SingleTaskGP``, RBF ARD kernel, standardized outcome, double precision, hyper-parameters by
  marginal likelihood) on the space encoding in [0, 1].

Latency and energy are learned in log space by all of them (same default as XGBoost).
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from cimnet_bo.predictors.base import PREDICTORS, Predictor
from cimnet_bo.predictors.gp import fit_gp, gp_model
from cimnet_bo.space import AnySpace

RIDGE_ALPHAS = tuple(float(a) for a in np.logspace(-3, 3, 13))
SVR_CS = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)


class _SklearnPredictor(Predictor):
    """A scikit-learn regressor on standardized targets; saved with pickle."""

    feature_kind = "onehot"
    model_suffix = ".pkl"

    def _estimator(self):
        raise NotImplementedError

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        self.y_mean_, self.y_std_ = float(y.mean()), float(y.std() or 1.0)
        self.model_ = self._estimator()
        self.model_.fit(X, (y - self.y_mean_) / self.y_std_)

    def _predict(self, X: np.ndarray) -> np.ndarray:
        return self.model_.predict(X) * self.y_std_ + self.y_mean_

    def _save_model(self, path: Path) -> None:
        with open(path, "wb") as f:
            pickle.dump({"model": self.model_, "y_mean": self.y_mean_, "y_std": self.y_std_}, f)

    def _load_model(self, path: Path) -> None:
        # pickle runs code from the file: load only predictors you trust (your own runs)
        with open(path, "rb") as f:
            blob = pickle.load(f)  # noqa: S301
        self.model_, self.y_mean_, self.y_std_ = blob["model"], blob["y_mean"], blob["y_std"]

    @property
    def best_params_(self) -> dict[str, Any]:
        """Hyper-parameters chosen by the grid search."""
        return dict(getattr(self.model_, "best_params_", {}))


@PREDICTORS.register("ridge")
class RidgePredictor(_SklearnPredictor):
    """DyNAS-T's linear predictor: Ridge on one-hot encodings, ``alpha`` grid-searched.

    Parameters
    ----------
    **common
        ``log_target``, ``hardware`` and ``seed``, as for :class:`~cimnet_bo.predictors.Predictor`.
    alphas : sequence of float
        Grid of regularisation strengths.
    cv : int
        Cross-validation folds of the grid search.
    """

    def __init__(
        self, space: AnySpace, objective: str, alphas: Sequence[float] = RIDGE_ALPHAS, cv: int = 5, **common: Any
    ) -> None:
        super().__init__(space, objective, **common)
        self.alphas = tuple(alphas)
        self.cv = cv

    def _init_params(self) -> dict[str, Any]:
        return {**super()._init_params(), "alphas": list(self.alphas), "cv": self.cv}

    def _estimator(self):
        from sklearn.linear_model import Ridge
        from sklearn.model_selection import GridSearchCV

        return GridSearchCV(Ridge(), {"alpha": list(self.alphas)}, cv=self.cv)


@PREDICTORS.register("svr")
class SVRPredictor(_SklearnPredictor):
    """DyNAS-T's kernel predictor: RBF support-vector regression on one-hot encodings, ``C``
    grid-searched (``gamma="auto"``).

    Parameters
    ----------
    **common
        ``log_target``, ``hardware`` and ``seed``, as for :class:`~cimnet_bo.predictors.Predictor`.
    Cs : sequence of float
        Grid of cost factors.
    epsilon : float
        Epsilon-tube width on standardized targets.
    cv : int
    """

    def __init__(
        self,
        space: AnySpace,
        objective: str,
        Cs: Sequence[float] = SVR_CS,
        epsilon: float = 0.01,
        cv: int = 5,
        **common: Any,
    ) -> None:
        super().__init__(space, objective, **common)
        self.Cs = tuple(Cs)
        self.epsilon = epsilon
        self.cv = cv

    def _init_params(self) -> dict[str, Any]:
        return {**super()._init_params(), "Cs": list(self.Cs), "epsilon": self.epsilon, "cv": self.cv}

    def _estimator(self):
        from sklearn.model_selection import GridSearchCV
        from sklearn.svm import SVR

        return GridSearchCV(SVR(kernel="rbf", gamma="auto", epsilon=self.epsilon), {"C": list(self.Cs)}, cv=self.cv)


@PREDICTORS.register("mlp")
class MLPPredictor(_SklearnPredictor):
    """Once-for-All's accuracy predictor: 3 hidden layers x 400 ReLU units on one-hot
    encodings, Adam on the squared error.

    Parameters
    ----------
    **common
        ``log_target``, ``hardware`` and ``seed``, as for :class:`~cimnet_bo.predictors.Predictor`.
    hidden : tuple of int
        Hidden layer sizes (default (400, 400, 400)).
    max_iter : int
        Most training epochs (training stops earlier when the loss stops improving by
        ``1e-5`` for 20 epochs).
    lr : float
        Adam learning rate.
    alpha : float
        L2 penalty.
    """

    def __init__(
        self,
        space: AnySpace,
        objective: str,
        hidden: Sequence[int] = (400, 400, 400),
        max_iter: int = 200,
        lr: float = 1e-3,
        alpha: float = 1e-4,
        **common: Any,
    ) -> None:
        super().__init__(space, objective, **common)
        self.hidden = tuple(hidden)
        self.max_iter = max_iter
        self.lr = lr
        self.alpha = alpha

    def _init_params(self) -> dict[str, Any]:
        return {
            **super()._init_params(),
            "hidden": list(self.hidden),
            "max_iter": self.max_iter,
            "lr": self.lr,
            "alpha": self.alpha,
        }

    def _estimator(self):
        from sklearn.neural_network import MLPRegressor

        return MLPRegressor(
            hidden_layer_sizes=self.hidden,
            activation="relu",
            solver="adam",
            learning_rate_init=self.lr,
            alpha=self.alpha,
            max_iter=self.max_iter,
            batch_size=128,
            random_state=self.seed,
            n_iter_no_change=20,
            tol=1e-5,
        )

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        import warnings

        from sklearn.exceptions import ConvergenceWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            super()._fit(X, y)


@PREDICTORS.register("gp")
class GPPredictor(Predictor):
    """The project's GP (:func:`cimnet_bo.predictors.gp.fit_gp`: BoTorch ``SingleTaskGP``,
    double precision, outcome standardized, hyper-parameters fitted by exact marginal
    likelihood) on the space encoding (n x d in [0, 1]); predicts the posterior mean.

    Parameters
    ----------
    **common
        ``log_target``, ``hardware`` and ``seed``, as for :class:`~cimnet_bo.predictors.Predictor`.
    features : {"encoding", "xgb"}
        ``"xgb"`` uses the XGBoost features min-max scaled to [0, 1] on the training data.
    max_train : int, optional
        Fit on at most this many (random) training rows: exact GPs cost O(n^3).
    threads : int, optional
        Torch threads while fitting and predicting (restored afterwards); default: leave
        torch's setting. One thread is fastest for small GPs on a busy machine.
    maxiter : int
        Most L-BFGS-B iterations of the marginal-likelihood fit.
    """

    model_suffix = ".pt"

    def __init__(
        self,
        space: AnySpace,
        objective: str,
        features: str = "encoding",
        max_train: int | None = 3000,
        threads: int | None = None,
        maxiter: int = 200,
        **common: Any,
    ) -> None:
        super().__init__(space, objective, **common)
        if features not in ("encoding", "xgb"):
            raise ValueError(f"GPPredictor features must be 'encoding' or 'xgb', got {features!r}")
        self.feature_kind = features
        self.max_train = max_train
        self.threads = threads
        self.maxiter = maxiter

    def _init_params(self) -> dict[str, Any]:
        return {
            **super()._init_params(),
            "features": self.feature_kind,
            "max_train": self.max_train,
            "threads": self.threads,
            "maxiter": self.maxiter,
        }

    def _threads(self):
        return _TorchThreads(self.threads)

    def _scale(self, X: np.ndarray):
        import torch

        Xs = (X - self.x_lo_) / self.x_span_
        return torch.as_tensor(Xs, dtype=torch.float64)

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        import torch

        if self.max_train is not None and len(X) > self.max_train:
            keep = np.random.default_rng(self.seed).choice(len(X), self.max_train, replace=False)
            X, y = X[keep], y[keep]
        if self.feature_kind == "xgb":
            self.x_lo_ = X.min(0)
            self.x_span_ = np.where(X.max(0) > X.min(0), X.max(0) - X.min(0), 1.0)
        else:
            self.x_lo_, self.x_span_ = np.zeros(X.shape[1]), np.ones(X.shape[1])
        torch.manual_seed(self.seed)
        with self._threads():
            self.model_ = fit_gp(self._scale(X), y, maxiter=self.maxiter)

    def _predict(self, X: np.ndarray) -> np.ndarray:
        import torch

        out = []
        with torch.no_grad(), self._threads():
            tX = self._scale(X)
            for i in range(0, len(tX), 2048):
                out.append(self.model_.posterior(tX[i : i + 2048]).mean.squeeze(-1).numpy())
        return np.concatenate(out)

    def _save_model(self, path: Path) -> None:
        import torch

        torch.save(
            {
                "train_X": self.model_.train_inputs[0].detach(),
                "train_Y": self._train_Y(),
                "state_dict": self.model_.state_dict(),
                "x_lo": torch.as_tensor(self.x_lo_),
                "x_span": torch.as_tensor(self.x_span_),
            },
            path,
        )

    def _train_Y(self):
        # train_targets are standardized by the outcome transform: undo it
        Y = self.model_.train_targets.detach().unsqueeze(-1)
        tf = self.model_.outcome_transform
        return Y * tf.stdvs + tf.means

    def _load_model(self, path: Path) -> None:
        import torch

        blob = torch.load(path, map_location="cpu", weights_only=True)
        self.x_lo_, self.x_span_ = blob["x_lo"].numpy(), blob["x_span"].numpy()
        self.model_ = gp_model(blob["train_X"], blob["train_Y"])
        self.model_.load_state_dict(blob["state_dict"])
        self.model_.eval()


class _TorchThreads:
    """Set torch's intra-op threads inside a ``with`` block (None: leave them)."""

    def __init__(self, n: int | None) -> None:
        self.n = n
        self.old: int | None = None

    def __enter__(self) -> None:
        if self.n:
            import torch

            self.old = torch.get_num_threads()
            torch.set_num_threads(int(self.n))

    def __exit__(self, *exc: Any) -> None:
        if self.old is not None:
            import torch

            torch.set_num_threads(self.old)
