"""Where a qNEHVI round's time goes: the caches' :class:`Clock` and the :class:`RoundTimer`
that splits the clock's kinds of work out of the round's phases."""

from __future__ import annotations

import pytest

from cimnet_bo.search import state as state_module
from cimnet_bo.search.state import Clock, RoundTimer


@pytest.fixture
def ticks(monkeypatch):
    """A fake ``time.perf_counter`` of the state module, advanced by hand."""
    now = [0.0]
    monkeypatch.setattr(state_module.time, "perf_counter", lambda: now[0])

    def advance(seconds: float) -> None:
        now[0] += seconds

    return advance


def test_clock_counts_a_nested_timing_once(ticks):
    clock = Clock()
    with clock.timed("best_chips"):
        ticks(2.0)
        with clock.timed("roofline"):  # inside best_chips: counted there only
            ticks(3.0)
    with clock.timed("roofline"):
        ticks(0.5)
    assert clock.seconds == {"best_chips": 5.0, "roofline": 0.5}


def test_round_timer_takes_the_clock_out_of_its_phases(ticks):
    clock = Clock()
    with clock.timed("roofline"):  # before the round: not its time
        ticks(100.0)
    timer = RoundTimer(clock)
    ticks(1.0)
    timer.lap("predictors")
    ticks(0.25)
    with clock.timed("roofline"):
        ticks(2.0)
    with clock.timed("best_chips"):
        ticks(4.0)
    timer.lap("pool")
    with clock.timed("roofline"):
        ticks(0.5)
    ticks(3.0)
    timer.lap("acquisition")
    assert timer.seconds() == {"predictors": 1.0, "pool": 0.25, "roofline": 2.5, "best_chips": 4.0, "acquisition": 3.0}
