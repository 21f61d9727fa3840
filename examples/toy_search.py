"""A joint search on your own space and evaluator, in a few lines (the README's toy example).

A toy "network + chip" space: the network's width and depth, the chip's number of macros and
clock. A plain Python function gives accuracy, latency and area; the search maximises accuracy,
minimises latency, and keeps the area under 4 mm^2::

    python examples/toy_search.py              # 40 evaluations, about a minute on a laptop
    python examples/toy_search.py --budget 60  # run it again on the same folder: it resumes

Any evaluator works the same way: a ``TableEvaluator`` over a CSV of measured configurations
(``TableEvaluator(space, "measured.csv", objectives=["accuracy", "latency_s"])``, then pass
``candidates=`` the table's configurations so that only measured ones are proposed), a
simulator wrapped in a ``CallableEvaluator``, or :func:`cimnet_bo.search.propose` /
:func:`cimnet_bo.search.tell` when the evaluations happen elsewhere.
"""

from __future__ import annotations

import argparse
import math

from cimnet_bo.evaluate import CallableEvaluator
from cimnet_bo.search import Problem, run_search
from cimnet_bo.space import Choice, Space

space = Space("toy", [
    Choice("width", (16, 32, 48, 64, 96, 128)),
    Choice("depth", (1, 2, 3, 4, 5, 6)),
    Choice("macros", (1, 2, 4, 8, 16)),
    Choice("clock_mhz", (200, 400, 800)),
])


def evaluate(cfg: dict) -> dict:
    """Accuracy grows with the network's size; latency is work over (macros x clock); area
    grows with macros and clock."""
    work = cfg["width"] * cfg["depth"]
    accuracy = 0.95 - 0.25 * math.exp(-work / 150)
    latency_s = work * 1e-6 / (min(cfg["macros"], cfg["width"] / 8) * cfg["clock_mhz"] / 400)
    area_mm2 = 0.3 * cfg["macros"] * (1 + cfg["clock_mhz"] / 800)
    return {"accuracy": accuracy, "latency_s": latency_s, "area_mm2": area_mm2}


evaluator = CallableEvaluator(evaluate, [("accuracy", "max"), ("latency_s", "min"), ("area_mm2", "min")],
                              space=space, name="toy-v1")
problem = Problem(
    space, evaluator,
    objectives=["accuracy", "latency_s"],
    constraints=["area_mm2 <= 4"],
    ref_point={"accuracy": 0.70, "latency_s": 1e-3},   # worst values of interest (fixed!)
    ideal_point={"accuracy": 1.0, "latency_s": 1e-6},  # optional: normalises hypervolume to [0, 1]
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=int, default=40)
    ap.add_argument("--run", default="runs/toy")
    ap.add_argument("--strategy", default="qnehvi")
    args = ap.parse_args(argv)
    with run_search(problem, args.strategy, budget=args.budget, batch_size=4, seed=0, run_dir=args.run) as run:
        print(f"hypervolume {run.hypervolume():.3f}")
        print(run.pareto()[["width", "depth", "macros", "clock_mhz", "accuracy", "latency_s", "area_mm2"]])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
