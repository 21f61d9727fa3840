"""Where evaluations fail: the failure model of qNEHVI.

An evaluation that raises (an invalid combination, a crashing simulator, a model that does
not fit) is stored as failed and gives no objective values, but it tells where the search
should not go. When a run has failures, qNEHVI fits each round a GP (the project's
:func:`~cimnet_bo.predictors.gp.fit_gp`) on the failure indicator (1 failed, 0 evaluated
without error) of every evaluated row, on the surrogate's inputs, and

* removes the pool candidates more likely to fail than not (probability of failing at least
  :data:`PRUNE_PROBABILITY`; keeping at least the ``q`` least likely to fail);
* adds the GP to the surrogate as one more modelled output
  (:meth:`~cimnet_bo.search.surrogates.Surrogate.add_output`) under the outcome constraint
  ``indicator <= FAILURE_BOUND``: qLogNEHVI weights each posterior sample's improvement by its
  (smoothed) feasibility, as for any outcome constraint, so a candidate's value is scaled by
  its probability of succeeding, and jointly so within a batch.

The probability of failing is the posterior probability that the indicator's latent value
exceeds :data:`FAILURE_BOUND`, ``Phi((mean - 0.5) / std)``: near 1 at and around failed rows,
near 0 around successful ones, and in between where nothing was evaluated. Runs without a
failure fit nothing. Failed rows stay out of the objective targets, the baseline and the
hypervolume; an evaluated row, failed or not, is never proposed again (``SearchState.seen``).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from cimnet_bo.search.screen import OutcomeBound
from cimnet_bo.search.surrogates import fit_gp_list, gp_marginals
from cimnet_bo.search.warm_start import WarmStart

#: The outcome constraint on the failure indicator's latent value: ``indicator <= 0.5``.
FAILURE_BOUND = 0.5
#: Pool candidates that fail with at least this posterior probability (more likely to fail than
#: not) are removed. A GP regression on a 0/1 indicator smooths a sharp failure region, so its
#: probabilities inside the region are low (often 0.5 to 0.9 where every evaluation failed):
#: on :func:`~cimnet_bo.search.toy.zdt_invalid_problem` (budget 60, three seeds) removing only
#: those above 0.95 left 31-35 % of the proposals failing, 0.5 left 17-19 %, with the same final
#: hypervolume. A valid candidate placed above it stays out until evaluations nearby lower it.
PRUNE_PROBABILITY = 0.5


class FailureModel:
    """A GP on the failure indicator of the evaluated rows (see the module docstring).

    Parameters
    ----------
    fit_points, maxiter : int
        The GP's hyper-parameters are fitted on at most ``fit_points`` rows (random subset)
        with at most ``maxiter`` L-BFGS-B steps (:func:`~cimnet_bo.search.surrogates.fit_gp_list`).
    categorical : sequence of int
        Input columns that hold categorical choices (compared by equality).
    warm : WarmStart, optional
        Start from the run's hyper-parameters of an earlier round (:mod:`cimnet_bo.search.warm_start`).

    Attributes
    ----------
    gp_ : botorch.models.SingleTaskGP
        The fitted GP; its inputs are the surrogate's (encoding and lookup column, the lookup
        column dropped by an input transform).
    """

    def __init__(
        self, fit_points: int = 128, maxiter: int = 100, categorical: Sequence[int] = (), warm: WarmStart | None = None
    ) -> None:
        self.fit_points = fit_points
        self.maxiter = maxiter
        self.categorical = categorical
        self.warm = warm

    def fit(self, X: np.ndarray, failed: np.ndarray, seed: int) -> "FailureModel":
        """Fit on the evaluated rows; returns self.

        Parameters
        ----------
        X : array (n x (d + 1))
            Model inputs of every evaluated row (encoding and lookup column).
        failed : array (n,) bool
        seed : int
        """
        y = np.asarray(failed, dtype=np.float64)[:, None]
        d = X.shape[1] - 1
        self.gp_ = fit_gp_list(X, y, d, seed, self.fit_points, self.maxiter, self.categorical, self.warm).models[0]
        return self

    def probability(self, X: np.ndarray) -> np.ndarray:
        """Posterior probabilities (n,) that rows with inputs ``X`` (n x (d + 1)) fail:
        ``P(latent indicator > FAILURE_BOUND)``."""
        from scipy.special import ndtr

        mean, std = gp_marginals(self.gp_, X)
        return ndtr((mean - FAILURE_BOUND) / std)

    def prune(self, X: np.ndarray, keep_at_least: int) -> np.ndarray:
        """Bool mask (n,) of the pool rows (inputs ``X``, n x (d + 1)) to keep: those that fail
        with probability below :data:`PRUNE_PROBABILITY`, and at least the ``keep_at_least``
        least likely to fail."""
        p = self.probability(X)
        keep = p < PRUNE_PROBABILITY
        need = min(keep_at_least, len(p))
        if keep.sum() < need:
            keep[np.argsort(p, kind="stable")[:need]] = True
        return keep

    @staticmethod
    def constraint(k: int) -> OutcomeBound:
        """The outcome constraint ``indicator <= FAILURE_BOUND`` on model output ``k``, the
        failure indicator."""
        return OutcomeBound(k, 1.0, FAILURE_BOUND)


__all__ = ["FAILURE_BOUND", "PRUNE_PROBABILITY", "FailureModel"]
