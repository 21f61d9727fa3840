"""CiM roofline model, version 2 (``CIM_MODEL.md``): latency, energy, area and peak power
(numpy only).

* :class:`Technology`: every constant of the model page, overridable.
* :class:`HardwareConfig`: a validated chip configuration.
* :func:`simulate`: one network on one chip, with a per-layer breakdown (the reference).
* :func:`simulate_many`: many (network, chip) pairs, vectorised and chunked.
* :func:`best_hardware`, :func:`candidate_chips`: the best chips of a hardware space for given
  subnets under area and power budgets, exactly.
* :func:`peak_ops_per_s`, :func:`plot_roofline`: the peak bound and a roofline plot.
* :class:`TableBatch`, :func:`vit_batch`, :func:`batch_from_configs`, :class:`TableCache`:
  padded networks for :func:`simulate_many`, built without per-layer Python loops.
"""

from cimnet_bo.hardware.batch import TableBatch
from cimnet_bo.hardware.config import KNOB_NAMES, KNOBS, HardwareConfig, knob_arrays
from cimnet_bo.hardware.many import ROOFLINE_EXTRAS, ROOFLINE_OBJECTIVES, simulate_many
from cimnet_bo.hardware.model import SimulationResult, peak_ops_per_s, simulate
from cimnet_bo.hardware.optimise import ChipSet, best_hardware, candidate_chips
from cimnet_bo.hardware.roofline import plot_roofline, roofline_data
from cimnet_bo.hardware.subnets import SubnetConfigs, TableCache, batch_from_configs
from cimnet_bo.hardware.technology import MODEL_VERSION, Technology, space_technology
from cimnet_bo.hardware.vit_batch import vit_batch

__all__ = [
    "MODEL_VERSION",
    "Technology",
    "space_technology",
    "HardwareConfig",
    "KNOBS",
    "KNOB_NAMES",
    "knob_arrays",
    "simulate",
    "SimulationResult",
    "simulate_many",
    "ROOFLINE_OBJECTIVES",
    "ROOFLINE_EXTRAS",
    "best_hardware",
    "candidate_chips",
    "ChipSet",
    "peak_ops_per_s",
    "plot_roofline",
    "roofline_data",
    "TableBatch",
    "TableCache",
    "SubnetConfigs",
    "vit_batch",
    "batch_from_configs",
]
