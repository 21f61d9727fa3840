"""Surrogates with uncertainty for qNEHVI, all BoTorch models in double precision.

* ``gp``: one ``SingleTaskGP`` per modelled output (a ``ModelListGP``) on the space encoding
  (``n x d`` in [0, 1]), RBF kernel with BoTorch's dimension-scaled priors, standardised
  outcomes, hyper-parameters by marginal likelihood.
* ``xgb-ensemble``: a bootstrap ensemble of XGBoost regressors per output on the predictor
  features, wrapped as a BoTorch :class:`~botorch.models.ensemble.EnsembleModel` (every member
  is one posterior sample).
* ``gp-xgb-mean``: the ``gp`` surrogate whose prior mean is the XGBoost prediction: the GP models
  the residual ``y - m(x)`` and ``m(x)`` is added back to every posterior sample. The mean at
  training points is the out-of-fold prediction (K-fold cross-fitting), so the GP sees honest
  residuals. (Modelled outputs under a constraint keep a plain GP: BoTorch's outcome
  constraints see the model's samples, without the mean added by the objective.)

Model inputs are the encoding plus one last column, the row's number in a lookup table scaled
to [0, 1] (``row / (N - 1)``). GPs drop that column with a ``FilterFeatures`` input transform;
the ensemble, the XGBoost mean and the known objectives use it to find a row's precomputed
values without re-computing features inside the acquisition function.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

#: XGBoost settings of the search's surrogates and predictors (fitted every round, so lighter
#: than the shipped predictors' defaults in ``cimnet_bo.predictors.xgb``).
SEARCH_XGB = dict(n_estimators=250, learning_rate=0.06, max_depth=5, subsample=0.8, colsample_bytree=0.8,
                  min_child_weight=1.0, reg_lambda=1.0, tree_method="hist")
SURROGATES: tuple[str, ...] = ("gp", "xgb-ensemble", "gp-xgb-mean")


# ============================================================================ XGBoost
def fit_xgb(F: np.ndarray, y: np.ndarray, seed: int, params: dict | None = None, n_jobs: int | None = None) -> Any:
    """An ``xgboost.XGBRegressor`` fitted on features F (n x f) and targets y (n,)."""
    import xgboost as xgb

    p = {**SEARCH_XGB, **(params or {}), "random_state": int(seed)}
    if n_jobs is not None:
        p["n_jobs"] = n_jobs
    model = xgb.XGBRegressor(**p)
    model.fit(F, y)
    return model


def xgb_oof(F: np.ndarray, y: np.ndarray, seed: int, folds: int = 5, params: dict | None = None,
            n_jobs: int | None = None) -> np.ndarray:
    """Out-of-fold predictions (n,) of XGBoost on (F, y): each row predicted by the model
    fitted without its fold."""
    n = len(y)
    folds = max(2, min(folds, n))
    perm = np.random.default_rng(seed).permutation(n)
    out = np.empty(n)
    for k in range(folds):
        te = perm[k::folds]
        tr = np.setdiff1d(perm, te)
        out[te] = fit_xgb(F[tr], y[tr], seed + k, params, n_jobs).predict(F[te])
    return out


def bootstrap_predictions(F_train: np.ndarray, y: np.ndarray, F_all: np.ndarray, members: int, seed: int,
                          params: dict | None = None, n_jobs: int | None = None) -> np.ndarray:
    """Predictions (N x members) at F_all (N x f) of ``members`` XGBoost models, each fitted on
    a bootstrap resample of (F_train, y) with its own seed."""
    rng = np.random.default_rng(seed)
    n = len(y)
    out = np.empty((len(F_all), members))
    for s in range(members):
        rows = rng.integers(0, n, n)
        out[:, s] = fit_xgb(F_train[rows], y[rows], seed + 7919 * (s + 1), params, n_jobs).predict(F_all)
    return out


# ============================================================================ BoTorch
def lookup_ids(X: Any, n_rows: int) -> Any:
    """Row numbers (long tensor, shape ``X.shape[:-1]``) from the last input column."""
    import torch

    return torch.round(X[..., -1] * max(n_rows - 1, 1)).long().clamp_(0, n_rows - 1)


def id_column(ids: np.ndarray, n_rows: int) -> np.ndarray:
    """The scaled lookup column (n,) of row numbers ``ids``."""
    return np.asarray(ids, dtype=np.float64) / max(n_rows - 1, 1)


def fit_gp_list(X: np.ndarray, Y: np.ndarray, d: int, seed: int, fit_points: int | None = 256,
                maxiter: int = 100) -> Any:
    """A fitted ``ModelListGP`` of one ``SingleTaskGP`` per column of Y.

    Parameters
    ----------
    X : array (n x (d + 1))
        Encoding and the lookup column.
    Y : array (n x k)
        Targets.
    d : int
        Encoded dimensions (the lookup column ``d`` is dropped by an input transform).
    seed : int
        Seed of the fit (subset choice; restarts draw from the priors).
    fit_points : int, optional
        Hyper-parameters are fitted on a random subset of this many observations (the cost of
        each marginal-likelihood step grows with the cube of the points); the returned GPs
        condition on all of them. None: fit on all.
    maxiter : int
        L-BFGS-B iterations of the hyper-parameter fit.
    """
    import torch
    from botorch.models import ModelListGP

    torch.manual_seed(seed)
    n = len(X)
    sub = None
    if fit_points is not None and n > fit_points:
        sub = np.sort(np.random.default_rng(seed).choice(n, fit_points, replace=False))
    models = []
    for j in range(Y.shape[1]):
        if sub is None:
            gp = _single_gp(X, Y[:, j], d)
            _fit(gp, maxiter)
        else:
            small = _single_gp(X[sub], Y[sub, j], d)
            _fit(small, maxiter)
            gp = _single_gp(X, Y[:, j], d)
            hyper = dict(small.named_parameters())
            with torch.no_grad():
                for name, par in gp.named_parameters():
                    par.copy_(hyper[name])
            gp.eval()
        models.append(gp)
    return ModelListGP(*models)


def _single_gp(X: np.ndarray, y: np.ndarray, d: int) -> Any:
    import torch
    from botorch.models import SingleTaskGP
    from botorch.models.transforms.input import FilterFeatures
    from botorch.models.transforms.outcome import Standardize
    from botorch.models.utils.gpytorch_modules import get_covar_module_with_dim_scaled_prior

    Xt = torch.as_tensor(X, dtype=torch.float64)
    yt = torch.as_tensor(np.asarray(y).reshape(-1, 1), dtype=torch.float64)
    gp = SingleTaskGP(Xt, yt, covar_module=get_covar_module_with_dim_scaled_prior(ard_num_dims=d),
                      input_transform=FilterFeatures(torch.arange(d)), outcome_transform=Standardize(m=1))
    return gp.to(torch.float64)


def _fit(gp: Any, maxiter: int) -> None:
    import warnings

    from botorch.fit import fit_gpytorch_mll
    from gpytorch.mlls import ExactMarginalLogLikelihood
    from linear_operator.utils.warnings import NumericalWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NumericalWarning)
        fit_gpytorch_mll(ExactMarginalLogLikelihood(gp.likelihood, gp),
                         optimizer_kwargs={"options": {"maxiter": int(maxiter)}})
    gp.eval()


def ensemble_model(table: np.ndarray) -> Any:
    """A BoTorch ``EnsembleModel`` over precomputed member predictions ``table``
    (N x s x k): ``posterior(X)`` gives, for each input row's lookup number, its ``s``
    member predictions (shape ``batch x s x q x k``)."""
    import torch
    from botorch.models.ensemble import EnsembleModel

    class LookupEnsemble(EnsembleModel):
        def __init__(self, values: torch.Tensor) -> None:
            super().__init__()
            self.values = values
            self._num_outputs = values.shape[-1]

        def forward(self, X: torch.Tensor) -> torch.Tensor:
            v = self.values[lookup_ids(X, self.values.shape[0])]  # batch x q x s x k
            return v.movedim(-2, -3)  # batch x s x q x k

    return LookupEnsemble(torch.as_tensor(table, dtype=torch.float64))


def all_members_sampler(members: int) -> Any:
    """An ``IndexSampler`` whose samples are the ensemble members, each exactly once."""
    import torch
    from botorch.sampling.index_sampler import IndexSampler

    class AllMembersSampler(IndexSampler):
        def _construct_base_samples(self, posterior: Any) -> None:
            shape = self.sample_shape + posterior.batch_shape
            if self.base_samples is None or self.base_samples.shape != shape:
                base = torch.arange(members, device=posterior.device).view(
                    members, *([1] * len(posterior.batch_shape))).expand(shape)
                self.register_buffer("base_samples", base.contiguous())

    return AllMembersSampler(sample_shape=torch.Size([members]), seed=0)


def acquisition_objective(m: int, modelled: Sequence[int | None], known: np.ndarray | None,
                          known_cols: Sequence[int | None], shift: np.ndarray | None = None) -> Any:
    """The MC objective mapping model samples to the ``m`` normalised objectives.

    Objective ``j`` is the model output ``modelled[j]`` (plus ``shift[row, modelled[j]]`` when
    ``shift`` (N x k) is given: the XGBoost prior mean of ``gp-xgb-mean``), else the exact value
    ``known[row, known_cols[j]]`` (``known``: N x c), the same for every sample. Rows are found
    by the lookup column of the inputs.
    """
    import torch
    from botorch.acquisition.multi_objective.objective import MCMultiOutputObjective

    table = None if known is None else torch.as_tensor(known, dtype=torch.float64)
    offset = None if shift is None else torch.as_tensor(shift, dtype=torch.float64)

    class KnownAndModelled(MCMultiOutputObjective):
        def forward(self, samples: torch.Tensor, X: torch.Tensor | None = None) -> torch.Tensor:
            cols = []
            for j in range(m):
                if modelled[j] is not None:
                    col = samples[..., modelled[j]]
                    if offset is not None:
                        col = col + offset[lookup_ids(X, offset.shape[0])][..., modelled[j]]
                    cols.append(col)
                else:
                    vals = table[lookup_ids(X, table.shape[0])][..., known_cols[j]]
                    cols.append(vals.expand(samples.shape[:-1]))
            return torch.stack(cols, dim=-1)

    return KnownAndModelled()


def marginal_model(model: Any, chunk: int = 4096) -> Any:
    """A view of a ``ModelListGP`` for single-point candidates (``b x 1 x d`` inputs) that
    computes each candidate's posterior marginals in plain (non-batched) calls.

    For one point per batch the marginal is the whole posterior, so acquisition values with
    ``q = 1`` are unchanged; GPyTorch's batched prediction expands the training data over the
    batch, which is several times slower for large pools.
    """
    import torch
    from botorch.models.model import Model
    from botorch.posteriors.gpytorch import GPyTorchPosterior
    from gpytorch.distributions import MultitaskMultivariateNormal, MultivariateNormal
    from linear_operator.operators import DiagLinearOperator

    class Marginal(Model):
        def __init__(self) -> None:
            super().__init__()
            self.inner = model
            self._k = len(model.models)

        @property
        def num_outputs(self) -> int:
            return self._k

        def posterior(self, X: torch.Tensor, output_indices: Any = None, observation_noise: Any = False,
                      posterior_transform: Any = None, **kwargs: Any) -> Any:
            if X.shape[-2] != 1:
                return self.inner.posterior(X, output_indices=output_indices, posterior_transform=posterior_transform)
            flat = X.reshape(-1, X.shape[-1])
            means, var = [], []
            for gp in self.inner.models:
                mu, vv = [], []
                for c in flat.split(chunk):
                    p = gp.posterior(c)
                    mu.append(p.mean[..., 0])
                    vv.append(p.variance[..., 0])
                means.append(torch.cat(mu).reshape(X.shape[:-1]))
                var.append(torch.cat(vv).reshape(X.shape[:-1]).clamp_min(1e-12))
            mvns = [MultivariateNormal(mu, DiagLinearOperator(v)) for mu, v in zip(means, var)]
            mvn = MultitaskMultivariateNormal.from_independent_mvns(mvns) if len(mvns) > 1 else mvns[0]
            post = GPyTorchPosterior(mvn)
            return posterior_transform(post) if posterior_transform is not None else post

    return Marginal()
