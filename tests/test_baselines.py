"""The hardware spaces' baseline chips follow their documented rules (model v2)."""

from __future__ import annotations

import pytest

from cimnet_bo.hardware import simulate, space_technology
from cimnet_bo.search import Problem
from cimnet_bo.space import get_space
from cimnet_bo.workload import layer_table


def _largest_on_baseline(name):
    space = get_space(name)
    table = layer_table(space.subnet, space.subnet.extreme("max"))
    return simulate(table, space.hardware.baseline, space_technology(space))


@pytest.mark.parametrize("name", ["vit-fmnist", "cnn-fmnist"])
def test_edge_baseline_holds_the_largest_subnets(name):
    r = _largest_on_baseline(name)
    assert r.resident and r.feasible and r.arrays_needed <= r.hardware.n_macros
    # not oversized either: the largest subnet of some family needs most of the macros
    assert max(_largest_on_baseline(n).arrays_needed for n in ("vit-fmnist", "cnn-fmnist")) > 0.8 * r.hardware.n_macros


def test_server_baseline_streams_vit_b_with_matched_bandwidth():
    r = _largest_on_baseline("vit-b-imagenet")
    assert not r.resident and r.feasible and r.hardware.cell == "sram"
    layers = r.layers
    streaming = layers[(layers["kind"] == "static") & (layers["t_w"] > 0)]
    assert len(streaming) == (layers["kind"] == "static").sum()
    # no layer's weight loading more than twice its compute time
    assert (streaming["t_w"] <= 2 * streaming["t_comp"]).all()


@pytest.mark.parametrize("name", ["vit-fmnist", "cnn-fmnist", "vit-b-imagenet"])
def test_baseline_meets_its_own_budgets(name):
    """Iso-area and iso-power: the baseline chip is a feasible point of its registered problem."""
    p = Problem.from_space(name, accuracy="external")
    space = get_space(name)
    cfg = {**space.subnet.extreme("max"), **space.hardware.baseline}
    res = p.cheap_evaluator.evaluate([cfg])
    assert {c.name for c in p.constraints} == {"feasible", "area_mm2", "power_w"}
    for c in p.constraints:
        assert c.holds(res.column(c.name))[0], (c, res.column(c.name))
