"""Module-level functions for tests that run evaluators in other processes (importable by
workers and by `cimnet-bo label --accuracy label_helpers:...` subprocesses)."""

import hashlib
import os
import time


def fake_accuracy(config):
    """A deterministic accuracy-like number in [0.5, 1) from the subnet keys of a config."""
    keys = sorted(k for k in config if k.startswith(("num_layers", "heads_", "mlp_", "d_", "ks_", "e_")))
    h = hashlib.sha256(repr([(k, config[k]) for k in keys]).encode()).hexdigest()
    return 0.5 + int(h[:8], 16) / 2**33


def slow_accuracy(config):
    """fake_accuracy after a short sleep (so a labeling run can be killed mid-way)."""
    time.sleep(float(os.environ.get("CIMNET_TEST_SLEEP", "0.05")))
    return fake_accuracy(config)


def square_sum(config):
    """Two objectives from a config of the toy space."""
    return {"f": config["a"] ** 2 + config["b"], "g": -config["a"]}


def crash_on_three(config):
    """Kills the worker process for a=3 (a worker crash), else a value."""
    if config["a"] == 3:
        os._exit(13)
    return float(config["a"])
