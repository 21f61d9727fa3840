"""Problems shared by the search tests and the subprocess they kill (importable from tests/)."""

from __future__ import annotations

import time
from typing import Any, Mapping

from cimnet_bo.evaluate import CallableEvaluator
from cimnet_bo.search import Problem
from cimnet_bo.search.toy import zdt_space, zdt_values

#: Small qNEHVI settings so that a round takes about a second.
FAST_QNEHVI = {
    "pool_size": 300,
    "pop_size": 16,
    "n_gen": 3,
    "shortlist": 64,
    "mc_samples": 32,
    "gp_maxiter": 40,
    "xgb_params": {"n_estimators": 60, "n_jobs": 1},
}
FAST_LINAS = {"pop_size": 16, "n_gen": 5, "xgb_params": {"n_estimators": 60, "n_jobs": 1}}


class SlowZDT:
    """ZDT1 values after a pause (so that a run can be killed mid-round)."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay

    def __call__(self, config: Mapping[str, Any]) -> dict[str, float]:
        if self.delay:
            time.sleep(self.delay)
        return zdt_values(config)


def zdt(delay: float = 0.0) -> Problem:
    """The toy ZDT1 problem (same identity whatever the delay)."""
    space = zdt_space()
    ev = CallableEvaluator(SlowZDT(delay), [("f1", "min"), ("f2", "min")], space=space, name="zdt1")
    return Problem(
        space, ev, ["f1", "f2"], ref_point={"f1": 1.1, "f2": 1.1}, ideal_point={"f1": 0.0, "f2": 0.0}, name="zdt1"
    )
