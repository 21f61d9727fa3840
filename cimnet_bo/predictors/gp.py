"""The Gaussian process model of the project, built and fitted in one place.

One BoTorch ``SingleTaskGP`` per output, double precision: RBF kernel with ARD lengthscales and
BoTorch's dimension-scaled priors, standardised outcome, hyper-parameters by exact marginal
likelihood (L-BFGS-B). Columns that hold categorical choices are compared by equality instead
(:func:`covar_module`). :class:`~cimnet_bo.predictors.baselines.GPPredictor` and the search's
GP surrogates (:mod:`cimnet_bo.search.surrogates`) both use it.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np


def covar_module(d: int, categorical: Sequence[int] = ()) -> Any:
    """The GP kernel on ``d`` input columns.

    Without categorical columns: BoTorch's RBF kernel with ARD lengthscales and
    dimension-scaled lognormal priors. With them: that RBF kernel on the other (ordinal)
    columns times BoTorch's ``CategoricalKernel`` on the categorical ones,
    ``k(x, x') = k_RBF(x_o, x'_o) * exp(-mean_j([x_j != x'_j] / l_j))``: two different values of
    a categorical column are equally far apart, whatever their ranks. (BoTorch's
    ``MixedSingleTaskGP`` adds a sum of the two kernels to this product; the product alone keeps
    the hyper-parameters of the ordinal kernel and one lengthscale per categorical column.)

    Parameters
    ----------
    d : int
        Input columns the kernel sees.
    categorical : sequence of int
        Categorical columns, each in ``[0, d)``.

    Raises
    ------
    ValueError
        A categorical column outside ``[0, d)``, naming it.
    """
    from botorch.models.kernels.categorical import CategoricalKernel
    from botorch.models.utils.gpytorch_modules import get_covar_module_with_dim_scaled_prior
    from gpytorch.constraints import GreaterThan

    cat = sorted({int(j) for j in categorical})
    bad = [j for j in cat if not 0 <= j < d]
    if bad:
        raise ValueError(f"categorical columns {bad} are outside the {d} input columns")
    if not cat:
        return get_covar_module_with_dim_scaled_prior(ard_num_dims=d)
    kernel = CategoricalKernel(ard_num_dims=len(cat), active_dims=cat, lengthscale_constraint=GreaterThan(1e-6))
    ordinal = [j for j in range(d) if j not in cat]
    if ordinal:
        kernel = get_covar_module_with_dim_scaled_prior(ard_num_dims=len(ordinal), active_dims=ordinal) * kernel
    return kernel


def gp_model(X: Any, y: Any, d: int | None = None, categorical: Sequence[int] = ()) -> Any:
    """An unfitted ``SingleTaskGP`` conditioned on (X, y).

    Parameters
    ----------
    X : array or tensor (n x w)
        Inputs, expected in [0, 1].
    y : array or tensor (n,) or (n x 1)
        Targets.
    d : int, optional
        The GP sees the first ``d`` input columns only (the others are dropped by a
        ``FilterFeatures`` input transform; the search keeps a row lookup column there).
        Default: all ``w``.
    categorical : sequence of int
        Columns (among the first ``d``) that hold categorical choices (see :func:`covar_module`).

    Returns
    -------
    botorch.models.SingleTaskGP
        In double precision.
    """
    import torch
    from botorch.models import SingleTaskGP
    from botorch.models.transforms.input import FilterFeatures
    from botorch.models.transforms.outcome import Standardize

    Xt = torch.as_tensor(X, dtype=torch.float64)
    yt = torch.as_tensor(y, dtype=torch.float64).reshape(-1, 1)
    w = Xt.shape[-1]
    d = w if d is None else int(d)
    filt = FilterFeatures(torch.arange(d)) if d < w else None
    gp = SingleTaskGP(
        Xt, yt, covar_module=covar_module(d, categorical), input_transform=filt, outcome_transform=Standardize(m=1)
    )
    return gp.to(torch.float64)


def fit_gp(
    X: Any,
    y: Any,
    d: int | None = None,
    maxiter: int = 100,
    fit_rows: np.ndarray | None = None,
    categorical: Sequence[int] = (),
    start: Mapping[str, np.ndarray] | None = None,
    start_maxiter: int | None = None,
    defaults_too: bool = True,
) -> Any:
    """A ``SingleTaskGP`` (see :func:`gp_model`) on (X (n x w), y (n,)), hyper-parameters fitted
    by exact marginal likelihood, in eval mode.

    Parameters
    ----------
    X, y, d, categorical :
        See :func:`gp_model`.
    maxiter : int
        Most L-BFGS-B iterations of the hyper-parameter fit.
    fit_rows : array of int, optional
        Fit the hyper-parameters on these rows only (the cost of each marginal-likelihood step
        grows with the cube of the rows); the returned GP still conditions on all ``n``.
        Default: all rows.
    start : mapping of str to array, optional
        Hyper-parameters to start the fit from (:func:`hyper_parameters` of an earlier fit on
        the same inputs); ignored unless every name and shape matches. Default: the kernel's
        initial values.
    start_maxiter : int, optional
        Most L-BFGS-B iterations of a fit that starts from ``start``, and of a second fit from
        the defaults; the fit of the larger marginal likelihood is kept. Default: ``maxiter``.
    defaults_too : bool
        Whether a fit that starts from ``start`` is matched by that second fit from the
        defaults (False: the fit from ``start`` alone).

    Notes
    -----
    Fitting restarts draw from the priors with torch's global generator: seed it
    (``torch.manual_seed``) for repeatable fits.
    """
    import torch

    if fit_rows is None:
        return _fitted(lambda: gp_model(X, y, d, categorical), start, maxiter, start_maxiter, defaults_too)
    rows = torch.as_tensor(np.asarray(fit_rows, dtype=np.int64))
    Xt = torch.as_tensor(X, dtype=torch.float64)
    yt = torch.as_tensor(y, dtype=torch.float64).reshape(-1, 1)
    small = _fitted(lambda: gp_model(Xt[rows], yt[rows], d, categorical), start, maxiter, start_maxiter, defaults_too)
    gp = gp_model(Xt, yt, d, categorical)
    hyper = dict(small.named_parameters())
    with torch.no_grad():
        for name, par in gp.named_parameters():
            par.copy_(hyper[name])
    gp.eval()
    return gp


def hyper_parameters(gp: Any) -> dict[str, np.ndarray]:
    """A GP's raw hyper-parameters by parameter name (arrays of the parameters' shapes)."""
    return {name: par.detach().cpu().numpy().copy() for name, par in gp.named_parameters()}


def _fitted(
    make: Callable[[], Any],
    start: Mapping[str, np.ndarray] | None,
    maxiter: int,
    start_maxiter: int | None,
    defaults_too: bool,
) -> Any:
    """A GP from ``make()`` with its hyper-parameters fitted: from the defaults with ``maxiter``
    steps, or, where ``start`` fits the model, from ``start`` with ``start_maxiter`` steps and,
    with ``defaults_too``, from the defaults with as many, keeping the fit of the larger
    marginal likelihood (a start from an earlier round can hold the fit in a worse optimum that
    the defaults avoid)."""
    gp = make()
    if not _set_hyper_parameters(gp, start):
        _fit_mll(gp, maxiter)
        return gp
    steps = int(maxiter if start_maxiter is None else start_maxiter)
    _fit_mll(gp, steps)
    if not defaults_too:
        return gp
    fresh = make()
    _fit_mll(fresh, steps)
    return fresh if _log_likelihood(fresh) > _log_likelihood(gp) else gp


def _log_likelihood(gp: Any) -> float:
    """The exact marginal log likelihood of a GP's training data (per point)."""
    import torch
    from gpytorch.mlls import ExactMarginalLogLikelihood

    mll = ExactMarginalLogLikelihood(gp.likelihood, gp)
    gp.train()
    try:
        with torch.no_grad():  # as BoTorch's fitting closure computes it
            out = gp(*gp.train_inputs)
            value = float(mll(out, gp.train_targets, *(gp.transform_inputs(X=x) for x in gp.train_inputs)))
    finally:
        gp.eval()
    return value


def _set_hyper_parameters(gp: Any, start: Mapping[str, np.ndarray] | None) -> bool:
    """Load ``start`` (see :func:`hyper_parameters`) into ``gp`` when every name and shape
    matches and every value is finite; returns whether it was loaded."""
    import torch

    params = dict(gp.named_parameters())
    if not start or set(start) != set(params):
        return False
    if any(tuple(np.shape(start[k])) != tuple(p.shape) for k, p in params.items()):
        return False
    if not all(np.isfinite(np.asarray(v, dtype=np.float64)).all() for v in start.values()):
        return False
    with torch.no_grad():
        for k, p in params.items():
            p.copy_(torch.as_tensor(np.asarray(start[k]), dtype=p.dtype))
    return True


def _fit_mll(gp: Any, maxiter: int) -> None:
    """Fit a GP's hyper-parameters with BoTorch's ``fit_gpytorch_mll`` (L-BFGS-B, at most
    ``maxiter`` steps) on GPyTorch's exact marginal likelihood; the GP is left in eval mode."""
    import warnings

    from botorch.fit import fit_gpytorch_mll
    from gpytorch.mlls import ExactMarginalLogLikelihood
    from linear_operator.utils.warnings import NumericalWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NumericalWarning)
        fit_gpytorch_mll(
            ExactMarginalLogLikelihood(gp.likelihood, gp), optimizer_kwargs={"options": {"maxiter": int(maxiter)}}
        )
    gp.eval()
