"""Surrogates with uncertainty for qNEHVI, by name, all BoTorch models in double precision.

* ``gp``: one GP per modelled output (a ``ModelListGP`` of the project's ``SingleTaskGP``,
  :mod:`cimnet_bo.predictors.gp`) on the space encoding (``n x d`` in [0, 1]); columns of
  categorical choices are compared by equality (:func:`cimnet_bo.predictors.gp.covar_module`).
* ``xgb-ensemble``: a bootstrap ensemble of XGBoost regressors per output on the predictor
  features (:func:`cimnet_bo.predictors.xgb.xgb_bootstrap`), wrapped as a BoTorch
  :class:`~botorch.models.ensemble.EnsembleModel` (every member is one posterior sample).
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

from cimnet_bo.core import Registry
from cimnet_bo.predictors.gp import fit_gp, hyper_parameters
from cimnet_bo.predictors.xgb import xgb_bootstrap, xgb_oof
from cimnet_bo.search.pool import Predictors
from cimnet_bo.search.warm_start import WarmStart

#: Surrogate classes by name (``@SURROGATES.register(name)`` sets the class's ``name``).
SURROGATES: Registry[type["Surrogate"]] = Registry("surrogate", attribute="name")


# ============================================================================ surrogates
class Surrogate:
    """One round's surrogate of qNEHVI: options go to ``__init__``, :meth:`fit` does the work.

    Parameters
    ----------
    ensemble_size : int
        Bootstrap members of ``xgb-ensemble``.
    cv_folds : int
        Folds of the out-of-fold XGBoost mean of ``gp-xgb-mean``.
    gp_fit_points, gp_maxiter : int
        GP hyper-parameters are fitted on at most ``gp_fit_points`` observations with at most
        ``gp_maxiter`` L-BFGS-B steps (see :func:`fit_gp_list`).
    categorical : sequence of int
        Encoded columns of the model inputs that hold categorical choices (the GPs compare
        them by equality).
    warm : WarmStart, optional
        The GPs start from the run's hyper-parameters of an earlier round (see
        :mod:`cimnet_bo.search.warm_start`).

    Attributes
    ----------
    model_ : botorch.models.model.Model
        The fitted model of the modelled outputs (inputs: encoding and lookup column).
    shift_ : array (N x k) or None
        Added to the model's samples of every lookup row by the acquisition objective (the
        prior mean of ``gp-xgb-mean``).
    """

    name = "base"

    def __init__(
        self,
        ensemble_size: int = 10,
        cv_folds: int = 5,
        gp_fit_points: int = 128,
        gp_maxiter: int = 100,
        categorical: Sequence[int] = (),
        warm: WarmStart | None = None,
    ) -> None:
        self.ensemble_size = ensemble_size
        self.cv_folds = cv_folds
        self.gp_fit_points = gp_fit_points
        self.gp_maxiter = gp_maxiter
        self.categorical = categorical
        self.warm = warm

    def fit(self, preds: Predictors, X_tr: np.ndarray, T: np.ndarray, all_rows: np.ndarray, seed: int) -> "Surrogate":
        """Fit on the training rows; returns self.

        Parameters
        ----------
        preds : Predictors
            The round's fitted predictors (their features, models and XGBoost parameters).
        X_tr : array (n x (d + 1))
            Model inputs of the training rows (encoding and lookup column).
        T : array (n x k)
            Targets of the modelled outputs (``preds.plan.modelled`` order).
        all_rows : array (N x d_rows)
            The lookup table: the training rows first, then every row the acquisition may see.
        seed : int
        """
        raise NotImplementedError

    def sampler(self, n: int, seed: int) -> Any:
        """A BoTorch sampler of ``n`` posterior samples (quasi-MC normal)."""
        import torch
        from botorch.sampling.normal import SobolQMCNormalSampler

        return SobolQMCNormalSampler(sample_shape=torch.Size([n]), seed=seed)

    def screen_model(self) -> Any:
        """The model the sampled screen of single candidates uses (``"qlogehvi"``)."""
        return marginal_model(self.model_)

    def marginals(self, X: Any) -> tuple[Any, Any]:
        """Each candidate's marginal posterior, alone.

        Parameters
        ----------
        X : torch.Tensor (n x (d + 1))
            Model inputs (encoding and lookup column).

        Returns
        -------
        mean, variance : torch.Tensor (n x k)
            Of every modelled output, before ``shift_``.
        """
        import torch

        means, variances = zip(*(latent_marginals(gp, X) for gp in self.model_.models))
        return torch.stack(means, dim=-1), torch.stack(variances, dim=-1)

    def acquisition_model(self, X_rows: Any, n_rows: int) -> Any:
        """The model the acquisition function sees when it only asks about the rows ``X_rows``
        (torch, R x (d + 1)) of an ``n_rows``-row lookup table: the GPs' joint posterior there,
        computed once (:func:`finite_model`)."""
        return finite_model(self.model_, X_rows, n_rows)

    def add_output(self, gp: Any, X_all: np.ndarray, seed: int) -> None:
        """Model one more output, after the others: a fitted single-output GP on the same
        inputs (e.g. the failure indicator of :mod:`cimnet_bo.search.failures`).

        Parameters
        ----------
        gp : botorch.models.SingleTaskGP
        X_all : array (N x (d + 1))
            Inputs of every lookup row.
        seed : int
        """
        raise NotImplementedError


@SURROGATES.register("gp")
class GPSurrogate(Surrogate):
    """One GP per modelled output on the encoding (:func:`fit_gp_list`)."""

    def fit(self, preds: Predictors, X_tr: np.ndarray, T: np.ndarray, all_rows: np.ndarray, seed: int) -> "Surrogate":
        self.shift_ = None
        self.model_ = self._gps(X_tr, T, seed)
        return self

    def _gps(self, X_tr: np.ndarray, T: np.ndarray, seed: int) -> Any:
        return fit_gp_list(
            X_tr,
            T,
            X_tr.shape[1] - 1,
            seed,
            fit_points=self.gp_fit_points,
            maxiter=self.gp_maxiter,
            categorical=self.categorical,
            warm=self.warm,
        )

    def add_output(self, gp: Any, X_all: np.ndarray, seed: int) -> None:
        """``gp`` joins the model list (joint posterior samples, like the other GPs)."""
        from botorch.models import ModelListGP

        self.model_ = ModelListGP(*self.model_.models, gp)


@SURROGATES.register("xgb-ensemble")
class XGBEnsembleSurrogate(Surrogate):
    """Bootstrap XGBoost ensembles per modelled output, precomputed at every lookup row; each
    member is one posterior sample."""

    def fit(self, preds: Predictors, X_tr: np.ndarray, T: np.ndarray, all_rows: np.ndarray, seed: int) -> "Surrogate":
        n_tr = len(T)
        table = np.empty((len(all_rows), self.ensemble_size, T.shape[1]))
        for j, name in enumerate(preds.plan.modelled):
            F_tr = preds.features(all_rows[:n_tr], name)
            F_all = preds.features(all_rows, name)
            table[:, :, j] = xgb_bootstrap(F_tr, T[:, j], F_all, preds.xgb_params, self.ensemble_size, seed + 101 * j)
        self.shift_ = None
        self.model_ = ensemble_model(table)
        return self

    def sampler(self, n: int, seed: int) -> Any:
        """Every ensemble member exactly once (``n`` and ``seed`` are not used)."""
        return all_members_sampler(self.ensemble_size)

    def screen_model(self) -> Any:
        return self.model_

    def acquisition_model(self, X_rows: Any, n_rows: int) -> Any:
        """The ensemble itself: already a lookup of every row."""
        return self.model_

    def marginals(self, X: Any) -> tuple[Any, Any]:
        """The members' mean and variance (unbiased) at each row (n x k)."""
        v = self.model_.values[lookup_ids(X, self.model_.values.shape[0])]  # n x s x k
        return v.mean(dim=1), v.var(dim=1)

    def add_output(self, gp: Any, X_all: np.ndarray, seed: int) -> None:
        """One more column of the lookup table: for each member, a draw of ``gp``'s marginal
        posterior at every lookup row (independent across rows and members)."""
        mean, std = gp_marginals(gp, X_all)
        table = self.model_.values.numpy()
        z = np.random.default_rng(seed).standard_normal(table.shape[:2])
        self.model_ = ensemble_model(np.concatenate([table, (mean[:, None] + std[:, None] * z)[..., None]], axis=-1))


@SURROGATES.register("gp-xgb-mean")
class GPXGBMeanSurrogate(GPSurrogate):
    """GPs of the residuals of the XGBoost predictors; the predictions are added back by the
    acquisition objective (``shift_``). Constrained and non-objective outputs keep a plain GP."""

    def fit(self, preds: Predictors, X_tr: np.ndarray, T: np.ndarray, all_rows: np.ndarray, seed: int) -> "Surrogate":
        problem = preds.state.problem
        n_tr = len(T)
        shift = np.zeros((len(all_rows), T.shape[1]))
        T_fit = T.copy()
        constrained = {c.name for c in problem.constraints}
        for j, name in enumerate(preds.plan.modelled):
            if name not in problem.objective_names or name in constrained:
                continue  # outcome constraints see the model's samples: plain GP
            F_tr = preds.features(all_rows[:n_tr], name)
            shift[:n_tr, j] = xgb_oof(F_tr, T[:, j], preds.xgb_params, seed + 31 * j, self.cv_folds)
            shift[n_tr:, j] = preds.models_[j].predict(preds.features(all_rows[n_tr:], name))
            T_fit[:, j] = T[:, j] - shift[:n_tr, j]
        self.shift_ = shift
        self.model_ = self._gps(X_tr, T_fit, seed)
        return self


# ============================================================================ BoTorch
def lookup_ids(X: Any, n_rows: int) -> Any:
    """Row numbers (long tensor, shape ``X.shape[:-1]``) from the last input column."""
    import torch

    return torch.round(X[..., -1] * max(n_rows - 1, 1)).long().clamp_(0, n_rows - 1)


def id_column(ids: np.ndarray, n_rows: int) -> np.ndarray:
    """The scaled lookup column (n,) of row numbers ``ids``."""
    return np.asarray(ids, dtype=np.float64) / max(n_rows - 1, 1)


def fit_gp_list(
    X: np.ndarray,
    Y: np.ndarray,
    d: int,
    seed: int,
    fit_points: int | None = 256,
    maxiter: int = 100,
    categorical: Sequence[int] = (),
    warm: WarmStart | None = None,
) -> Any:
    """A ``ModelListGP`` of one fitted GP (:func:`cimnet_bo.predictors.gp.fit_gp`) per column
    of Y.

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
        Hyper-parameters are fitted on a random subset of this many observations (the same for
        every output); the returned GPs condition on all of them. None: fit on all.
    maxiter : int
        L-BFGS-B iterations of the hyper-parameter fit.
    categorical : sequence of int
        Columns (among the first ``d``) that hold categorical choices.
    warm : WarmStart, optional
        Start each output's fit from the run's hyper-parameters of an earlier round, with at
        most ``warm.maxiter`` steps (``maxiter`` where there are none), and from the defaults
        too when :meth:`WarmStart.defaults_too` says so; record the result.
    """
    import torch
    from botorch.models import ModelListGP

    torch.manual_seed(seed)
    n = len(X)
    sub = None
    if fit_points is not None and n > fit_points:
        sub = np.sort(np.random.default_rng(seed).choice(n, fit_points, replace=False))
    gps = []
    for j in range(Y.shape[1]):
        start = None if warm is None else warm.start(j)
        gp = fit_gp(
            X,
            Y[:, j],
            d,
            maxiter,
            fit_rows=sub,
            categorical=categorical,
            start=start,
            start_maxiter=None if warm is None else warm.maxiter,
            defaults_too=warm is None or warm.defaults_too(j),
        )
        if warm is not None:
            warm.keep(j, hyper_parameters(gp))
        gps.append(gp)
    return ModelListGP(*gps)


def gp_marginals(gp: Any, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean and standard deviation (n,) of a single-output GP's latent function at
    inputs ``X`` (n x w), each row on its own (:func:`latent_marginals`)."""
    import torch

    if not len(X):
        return np.empty(0), np.empty(0)
    mean, var = latent_marginals(gp, torch.as_tensor(X, dtype=torch.float64))
    return mean.numpy(), var.sqrt().numpy()


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
                base = (
                    torch.arange(members, device=posterior.device)
                    .view(members, *([1] * len(posterior.batch_shape)))
                    .expand(shape)
                )
                self.register_buffer("base_samples", base.contiguous())

    return AllMembersSampler(sample_shape=torch.Size([members]), seed=0)


def acquisition_objective(
    m: int,
    modelled: Sequence[int | None],
    known: np.ndarray | None,
    known_cols: Sequence[int | None],
    shift: np.ndarray | None = None,
) -> Any:
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


def independent_posterior(mvns: Sequence[Any], posterior_transform: Any = None) -> Any:
    """A ``GPyTorchPosterior`` of independent outputs, one ``MultivariateNormal`` each (as
    ``ModelListGP`` builds it), with ``posterior_transform`` applied when given."""
    from botorch.posteriors.gpytorch import GPyTorchPosterior
    from gpytorch.distributions import MultitaskMultivariateNormal

    mvn = MultitaskMultivariateNormal.from_independent_mvns(list(mvns)) if len(mvns) > 1 else mvns[0]
    post = GPyTorchPosterior(mvn)
    return posterior_transform(post) if posterior_transform is not None else post


def finite_model(model: Any, X_rows: Any, n_rows: int) -> Any:
    """A ``ModelListGP``'s joint posterior at a finite set of lookup rows, computed once.

    ``posterior(X)`` of inputs among ``X_rows`` gathers their means and covariances from the
    precomputed joint posterior. A GP's posterior at a subset of points is the marginal of its
    joint posterior, so this is the model's posterior, without the per-call cross-covariances
    with the training data that a batched GPyTorch prediction recomputes for every candidate
    (the acquisition's candidates share their baseline rows).

    Parameters
    ----------
    model : botorch.models.ModelListGP
        The fitted GPs (one output each).
    X_rows : torch.Tensor (R x (d + 1))
        Model inputs of every row the model will be asked about (encoding and lookup column).
    n_rows : int
        Rows of the lookup table the lookup column numbers.

    Returns
    -------
    botorch.models.gpytorch.GPyTorchModel
        Its ``posterior`` takes ``batch x q x (d + 1)`` inputs of those rows; any other row is
        a ``ValueError``.
    """
    import torch
    from botorch.models.gpytorch import GPyTorchModel
    from gpytorch.distributions import MultivariateNormal
    from linear_operator.operators import DenseLinearOperator

    ids = lookup_ids(X_rows, n_rows)
    where = torch.full((n_rows,), -1, dtype=torch.long)
    where[ids] = torch.arange(len(ids))
    means, covs = [], []
    with torch.no_grad():
        for gp in model.models:
            post = gp.posterior(X_rows)
            means.append(post.mean[:, 0])
            covs.append(post.distribution.covariance_matrix)

    class FiniteSet(GPyTorchModel):
        def __init__(self) -> None:
            super().__init__()
            self._num_outputs = len(means)

        @property
        def batch_shape(self) -> torch.Size:
            return torch.Size([])

        def posterior(
            self,
            X: torch.Tensor,
            output_indices: Any = None,
            observation_noise: Any = False,
            posterior_transform: Any = None,
            **kwargs: Any,
        ) -> Any:
            at = where[lookup_ids(X, n_rows)]  # batch x q
            if (at < 0).any():
                raise ValueError("finite_model: asked about a row outside the rows it was built for")
            cols = range(len(means)) if output_indices is None else output_indices
            mvns = [
                MultivariateNormal(means[j][at], DenseLinearOperator(covs[j][at[..., :, None], at[..., None, :]]))
                for j in cols
            ]
            return independent_posterior(mvns, posterior_transform)

    return FiniteSet()


#: Elements of the largest intermediate array of :func:`latent_marginals` per chunk of rows (a
#: few MB: the kernel's comparisons of categorical columns stay in cache).
MARGINAL_CHUNK_ELEMENTS = 2**19


def latent_marginals(gp: Any, X: Any, chunk: int | None = None) -> tuple[Any, Any]:
    """Posterior mean and variance of a fitted ``SingleTaskGP``'s latent function at each row of
    ``X`` on its own, without the joint covariance of the rows.

    With GPyTorch's caches of the training data (``mean_cache`` a, ``covar_cache`` R with
    ``R R^T = (K + s^2 I)^-1``), ``mean = m(x) + k(x, X) a`` and
    ``var = k(x, x) - |k(x, X) R|^2``, then the ``Standardize`` outcome transform is undone:
    the values of ``gp.posterior`` one row at a time, at the cost of one matrix product per
    ``chunk`` rows.

    Parameters
    ----------
    gp : botorch.models.SingleTaskGP
        Fitted, in eval mode, non-batched, with a ``Standardize`` outcome transform (as built by
        :func:`cimnet_bo.predictors.gp.gp_model`).
    X : torch.Tensor (n x w)
        Model inputs (before the GP's input transform).
    chunk : int, optional
        Rows per product. Default: :data:`MARGINAL_CHUNK_ELEMENTS` over ``n_train`` times one
        plus the number of categorical columns (BoTorch's ``CategoricalKernel`` compares every
        pair of rows column by column), within [64, 4096].

    Returns
    -------
    mean, variance : torch.Tensor (n,)
        Variances are clamped to at least 1e-12.
    """
    import torch
    from botorch.models.kernels.categorical import CategoricalKernel
    from botorch.models.transforms.outcome import Standardize

    if not isinstance(gp.outcome_transform, Standardize) or len(gp.batch_shape):
        raise ValueError(f"latent_marginals: needs a non-batched GP with a Standardize outcome transform, got {gp!r}")
    if gp.prediction_strategy is None:  # GPyTorch builds its caches on the first prediction
        gp.posterior(X[:1])
    strategy = gp.prediction_strategy
    a = strategy.mean_cache
    R = strategy.covar_cache
    R = R.to_dense() if hasattr(R, "to_dense") else R
    X_train = gp.train_inputs[0]
    if chunk is None:
        n_cat = sum(k.ard_num_dims or 1 for k in gp.covar_module.modules() if isinstance(k, CategoricalKernel))
        chunk = min(max(MARGINAL_CHUNK_ELEMENTS // (len(X_train) * (1 + n_cat)), 64), 4096)
    means, variances = [], []
    with torch.no_grad():
        for c in gp.transform_inputs(X).split(chunk):
            K = gp.covar_module(c, X_train).to_dense()
            means.append(gp.mean_module(c) + K @ a)
            variances.append(gp.covar_module(c, diag=True) - (K @ R).square().sum(-1))
    sd, mu = gp.outcome_transform.stdvs.reshape(()), gp.outcome_transform.means.reshape(())
    return torch.cat(means) * sd + mu, (torch.cat(variances) * sd**2).clamp_min(1e-12)


def marginal_model(model: Any) -> Any:
    """A view of a ``ModelListGP`` for single-point candidates (``b x 1 x d`` inputs) that
    computes each candidate's posterior marginals directly (:func:`latent_marginals`).

    For one point per batch the marginal is the whole posterior, so acquisition values with
    ``q = 1`` are unchanged; GPyTorch's batched prediction expands the training data over the
    batch, and its plain prediction forms the joint covariance of the points, both several
    times slower for large pools.
    """
    import torch
    from botorch.models.model import Model
    from gpytorch.distributions import MultivariateNormal
    from linear_operator.operators import DiagLinearOperator

    class Marginal(Model):
        def __init__(self) -> None:
            super().__init__()
            self.inner = model
            self._k = len(model.models)

        @property
        def num_outputs(self) -> int:
            return self._k

        def posterior(
            self,
            X: torch.Tensor,
            output_indices: Any = None,
            observation_noise: Any = False,
            posterior_transform: Any = None,
            **kwargs: Any,
        ) -> Any:
            if X.shape[-2] != 1:
                return self.inner.posterior(X, output_indices=output_indices, posterior_transform=posterior_transform)
            flat = X.reshape(-1, X.shape[-1])
            mvns = []
            for gp in self.inner.models:
                mean, var = (v.reshape(X.shape[:-1]) for v in latent_marginals(gp, flat))
                mvns.append(MultivariateNormal(mean, DiagLinearOperator(var)))
            return independent_posterior(mvns, posterior_transform)

    return Marginal()
