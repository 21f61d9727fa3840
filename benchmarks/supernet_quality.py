"""How good are the shipped supernets? JSON output.

1. Accuracy distribution (val and test) of ``--n`` random subnets per family, plus the
   largest and smallest subnets.
2. Supernet validity: ``--standalone`` subnets per family, chosen at evenly spaced
   quantiles of weight-sharing val accuracy among the random ones, are trained from scratch
   with a short standalone recipe; the Kendall tau between their standalone test accuracy
   and their weight-sharing test accuracy says whether the supernet ranks subnets correctly.

Usage: ``python benchmarks/supernet_quality.py [--family vit|cnn] [--n 100] [--standalone 6]
[--epochs 5] [--threads 1] [--device cpu|cuda] [--out FILE]``
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from scipy.stats import kendalltau

from cimnet_bo.space import get_subnet_space
from cimnet_bo.supernet import FAMILY_SPACES, build_supernet
from cimnet_bo.supernet.data import load_split, to_tensor
from cimnet_bo.supernet.evaluator import SupernetEvaluator, accuracy_of
from cimnet_bo.supernet.recipes import SHIPPED_RECIPES, shipped_recipe
from cimnet_bo.supernet.train import train_standalone

#: Standalone training uses the optimiser settings of the family's supernet recipe.
RECIPES = {f: {k: getattr(shipped_recipe(f), k) for k in ("lr", "augment", "weight_decay")} for f in SHIPPED_RECIPES}


def summary(a: np.ndarray) -> dict:
    return {
        "min": round(float(a.min()), 4),
        "median": round(float(np.median(a)), 4),
        "max": round(float(a.max()), 4),
        "mean": round(float(a.mean()), 4),
    }


def run_family(family: str, n: int, n_standalone: int, epochs: int, seed: int, device: str = "cpu") -> dict:
    name = FAMILY_SPACES[family]
    space = get_subnet_space(name)
    configs = space.sample(n, seed)
    val, test = (SupernetEvaluator(name, split=s, device=device) for s in ("val", "test"))
    t0 = time.time()
    acc_val, acc_test = val.evaluate(configs), test.evaluate(configs)
    ends = test.evaluate([space.extreme("max"), space.extreme("min")])
    out = {
        "space": name,
        "device": device,
        "n_random": n,
        "eval_seconds": round(time.time() - t0, 1),
        "random_val": summary(acc_val),
        "random_test": summary(acc_test),
        "largest_test": round(float(ends[0]), 4),
        "smallest_test": round(float(ends[1]), 4),
    }
    if n_standalone:
        order = np.argsort(acc_val)
        picks = [int(order[int(round(q * (n - 1)))]) for q in np.linspace(0, 1, n_standalone)]
        x_tr, y_tr = load_split("train")
        x_te, y_te = load_split("test")
        calib = to_tensor(load_split("calib")[0])
        rows = []
        for i in picks:
            torch.manual_seed(seed)
            model = build_supernet(space).get_subnet(configs[i])
            t1 = time.time()
            train_standalone(model, x_tr, y_tr, epochs, seed=seed, device=device, **RECIPES[family])
            # accuracy_of extracts a subnet: a standalone network is its own largest subnet
            acc = accuracy_of(_AsSupernet(model), {}, to_tensor(x_te), y_te, calib)
            rows.append(
                {
                    "config": configs[i],
                    "weight_sharing_test": round(float(acc_test[i]), 4),
                    "standalone_test": round(acc, 4),
                    "train_seconds": round(time.time() - t1, 1),
                }
            )
        tau = kendalltau([r["weight_sharing_test"] for r in rows], [r["standalone_test"] for r in rows])
        out["standalone"] = {
            "epochs": epochs,
            "recipe": RECIPES[family],
            "subnets": rows,
            "kendall_tau": round(float(tau.statistic), 3),
            "p_value": round(float(tau.pvalue), 3),
        }
    return out


class _AsSupernet(torch.nn.Module):
    """Wraps a standalone network so :func:`accuracy_of` can 'extract' it unchanged."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def get_subnet(self, config) -> torch.nn.Module:
        return self.model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--family", choices=sorted(FAMILY_SPACES), action="append")
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--standalone", type=int, default=6)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu", help="torch device (cpu, cuda)")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    result = {
        f: run_family(f, args.n, args.standalone, args.epochs, args.seed, args.device)
        for f in (args.family or sorted(FAMILY_SPACES))
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        open(args.out, "w").write(text + "\n")


if __name__ == "__main__":
    main()
