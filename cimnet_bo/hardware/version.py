"""Which version of the CiM model a run, a labeled table or a predictor was made with.

Stores, datasets and predictors of a space with a CiM hardware half record
``cim_model_version`` (:data:`MODEL_VERSION` when created) and refuse to open under another
version, so labels of two models are never mixed. Files written before the key existed were
made with version 1.
"""

from __future__ import annotations

from typing import Any, Mapping

from cimnet_bo.hardware.technology import MODEL_VERSION
from cimnet_bo.space import AnySpace, hardware_side

#: The metadata key.
KEY = "cim_model_version"


def uses_cim_model(space: AnySpace) -> bool:
    """True when ``space`` is a joint space whose hardware half is a CiM space."""
    hw = hardware_side(space)
    return hw is not None and getattr(hw, "family", None) == "cim"


def model_version_meta(space: AnySpace) -> dict[str, str]:
    """``{KEY: MODEL_VERSION}`` for a space that uses the CiM model, else ``{}``."""
    return {KEY: MODEL_VERSION} if uses_cim_model(space) else {}


def check_model_version(meta: Mapping[str, Any], space: AnySpace, where: str, error: type = ValueError) -> None:
    """Raise ``error`` when ``meta`` (of the file ``where``) was made with another CiM model
    version than this one; spaces without a CiM half are not checked."""
    if not uses_cim_model(space):
        return
    stored = str(meta.get(KEY, "1"))
    if stored != MODEL_VERSION:
        raise error(
            f"{where} was made with CiM model version {stored}; this cimnet-bo implements "
            f"version {MODEL_VERSION} (CIM_MODEL.md). Versions are not mixed: relabel the "
            "data (cimnet-bo label) or start a new run"
        )
