"""Workloads: subnet configurations (numpy only) and torch modules (:func:`from_torch`) as layer tables."""

from __future__ import annotations

from typing import Any, Mapping

from cimnet_bo.workload import models
from cimnet_bo.workload.families import FAMILIES
from cimnet_bo.workload.table import LayerTable, TableBuilder, macs, params, weight_bytes
from cimnet_bo.workload.torch_import import from_torch


def layer_table(
    space_or_family: Any, subnet_config: Mapping[str, Any], meta: Mapping[str, Any] | None = None
) -> LayerTable:
    """The layer table of one subnet.

    Parameters
    ----------
    space_or_family : Space, JointSpace, str
        A space (its family and meta are used; a joint space uses its subnet half), the
        name of a registered space, or a family name (then ``meta`` is required).
    subnet_config : dict
        The subnet configuration; a joint configuration is accepted and its hardware keys
        ignored.
    """
    from cimnet_bo.space import Space, as_space, list_spaces, subnet_side

    if isinstance(space_or_family, str) and space_or_family in list_spaces():
        space_or_family = as_space(space_or_family)
    if not isinstance(space_or_family, str):
        space_or_family = subnet_side(space_or_family)
    if isinstance(space_or_family, Space):
        cfg = space_or_family.validate({k: subnet_config[k] for k in space_or_family.names if k in subnet_config})
        family, meta = space_or_family.family, space_or_family.meta
    else:
        family, cfg = space_or_family, dict(subnet_config)
        if meta is None:
            raise ValueError(f"family {family!r} needs its meta description")
    return FAMILIES[family](meta, cfg)


__all__ = [
    "LayerTable",
    "TableBuilder",
    "from_torch",
    "layer_table",
    "macs",
    "params",
    "weight_bytes",
    "models",
    "FAMILIES",
]
