"""Concrete evaluators: roofline (latency, energy, area), supernet accuracy, table look-up,
user callables, a composite of several, and a per-subnet cache."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from cimnet_bo.evaluate.base import Evaluations, Evaluator, failure_text
from cimnet_bo.hardware import ROOFLINE_EXTRAS, ROOFLINE_OBJECTIVES
from cimnet_bo.hardware.config import ACCURACY_KNOBS, KNOB_NAMES
from cimnet_bo.hardware.subnets import TableCache, batch_from_configs
from cimnet_bo.moo import Objective, default_direction, objective_list
from cimnet_bo.space import AnySpace, SpaceLike, accuracy_on_chip, as_space, is_joint, subnet_side


def _subnet_key(space: AnySpace, config: Mapping[str, Any]) -> tuple:
    sub = subnet_side(space)
    return tuple(config[n] for n in sub.names)


# --------------------------------------------------------------------- roofline
class RooflineEvaluator(Evaluator):
    """Latency (s), energy (J), area (mm^2), peak power (W) and feasibility of joint
    configurations from the CiM roofline model v2 (:func:`cimnet_bo.hardware.simulate_many`);
    cheap.

    Parameters
    ----------
    space : JointSpace or str
        The joint space (its subnet half gives the layer table, its hardware half the chip).
    tech : Technology, optional
        Technology constants; default: the defaults with the constants the hardware space sets
        (:func:`cimnet_bo.hardware.space_technology`, e.g. its DRAM energy).
    objectives : sequence of str
        Which of ``latency_s, energy_j, area_mm2, power_w, feasible`` to report (all minimised
        but ``feasible``, 1.0 or 0.0). ``avg_power_w`` (energy / latency), ``resident`` and
        ``program_time_s`` are returned as extras.

    Notes
    -----
    Networks are batched by :func:`cimnet_bo.hardware.subnets.batch_from_configs`: ViT-family
    subnets straight from their configurations (no layer table objects), others from layer
    tables built once per distinct subnet (kept across calls).
    """

    def __init__(self, space: SpaceLike, tech: Any = None, objectives: Sequence[str] = ROOFLINE_OBJECTIVES) -> None:
        self.space = as_space(space)
        if not is_joint(self.space):
            raise ValueError("RooflineEvaluator needs a joint space (subnet x hardware)")
        unknown = [o for o in objectives if o not in ROOFLINE_OBJECTIVES]
        if unknown:
            raise ValueError(f"unknown roofline objectives {unknown}; choose from {list(ROOFLINE_OBJECTIVES)}")
        self.tech = tech
        self.objectives = tuple(Objective(o, "max" if o == "feasible" else "min", cheap=True) for o in objectives)
        self._tables = TableCache(self.space.subnet)

    def technology(self) -> Any:
        """The constants used: ``tech`` if given, else the space's technology."""
        from cimnet_bo.hardware import space_technology

        return space_technology(self.space, self.tech)

    @property
    def identity(self) -> str:
        """``roofline-v<model version>:tech=<checksum of the technology constants>``."""
        from cimnet_bo.hardware import MODEL_VERSION

        digest = hashlib.sha256(json.dumps(self.technology().to_dict(), sort_keys=True).encode()).hexdigest()[:12]
        return f"roofline-v{MODEL_VERSION}:tech={digest}"

    def _evaluate(self, configs: list[dict[str, Any]]) -> dict[str, np.ndarray]:
        from cimnet_bo.hardware import simulate_many

        batch, index = batch_from_configs(self.space.subnet, configs, self._tables)
        hws = {n: [c[n] for c in configs] for n in self.space.hardware.names}
        res = simulate_many(batch, hws, tech=self.technology(), table_index=index, as_frame=False)
        res["feasible"] = res["feasible"].astype(np.float64)
        res["avg_power_w"] = res["energy_j"] / res["latency_s"]
        return {k: res[k] for k in (*ROOFLINE_OBJECTIVES, *ROOFLINE_EXTRAS)}

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_tables"] = TableCache(self.space.subnet)
        return state


# --------------------------------------------------------------------- accuracy
class AccuracyEvaluator(Evaluator):
    """Top-1 accuracy (fraction, maximised) of the subnet of each configuration, from a
    trained weight-sharing supernet (:class:`cimnet_bo.supernet.evaluator.SupernetEvaluator`).

    Parameters
    ----------
    space : Space, JointSpace or str
        ``"vit-fmnist"``, ``"cnn-fmnist"`` or a (joint) space of those families.
    checkpoint : path, optional
        Supernet weights; default ``data/supernets/<space>.pt``.
    split : str
        ``"val"`` (what searches see) or ``"test"``.
    indices : array of int, optional
        Evaluate on these rows of the split only (e.g. half of val for a noise estimate).
    device : str
    batch_size : int

    Notes
    -----
    Torch is imported on first use. The supernet evaluator caches by subnet, so a batch of
    pairs that share a subnet costs one evaluation per distinct subnet. The identity holds
    the checkpoint's SHA-256, the split and the subset.
    """

    subnet_only = True

    def __init__(
        self,
        space: SpaceLike,
        checkpoint: str | Path | None = None,
        split: str = "val",
        indices: Sequence[int] | None = None,
        device: str = "cpu",
        batch_size: int = 1000,
    ) -> None:
        from cimnet_bo.supernet.recipes import check_split

        check_split(split)
        self.space = as_space(space)
        self.checkpoint = checkpoint
        self.split = split
        self.indices = None if indices is None else np.asarray(indices, dtype=np.int64)
        self.device = device
        self.batch_size = batch_size
        self.objectives = (Objective("accuracy", "max", cheap=False),)
        self._inner = None
        self._digest: str | None = None

    def checkpoint_path(self) -> Path:
        """The checkpoint file used (the shipped default when none was given)."""
        if self.checkpoint is not None:
            return Path(self.checkpoint)
        from cimnet_bo.supernet.evaluator import default_checkpoint

        return default_checkpoint(subnet_side(self.space).name)

    @property
    def identity(self) -> str:
        """``supernet:<space>:<split>[subset]:sha256=<checkpoint checksum>``; raises
        ``FileNotFoundError`` when the checkpoint is missing."""
        if self._digest is None:
            path = self.checkpoint_path()
            if not path.exists():
                raise FileNotFoundError(
                    f"supernet checkpoint {path} not found; train one with "
                    "`cimnet-bo train-supernet` or pass checkpoint="
                )
            h = hashlib.sha256()
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
            self._digest = h.hexdigest()
        sub = ""
        if self.indices is not None:
            sub = "[" + hashlib.sha256(self.indices.tobytes()).hexdigest()[:10] + f":{len(self.indices)}]"
        name = subnet_side(self.space).name
        return f"supernet:{name}:{self.split}{sub}:sha256={self._digest}"

    def _supernet(self):
        """The supernet evaluator doing the work (made on first use)."""
        if self._inner is None:
            cls, options = self._inner_kind()
            self._inner = cls(
                subnet_side(self.space),
                checkpoint=self.checkpoint_path(),
                split=self.split,
                device=self.device,
                batch_size=self.batch_size,
                indices=self.indices,
                **options,
            )
        return self._inner

    def _inner_kind(self) -> tuple[type, dict[str, Any]]:
        """The class of :meth:`_supernet` and its options beyond the common ones."""
        from cimnet_bo.supernet.evaluator import SupernetEvaluator

        return SupernetEvaluator, {}

    def _evaluate(self, configs: list[dict[str, Any]]) -> np.ndarray:
        return self._supernet().evaluate(configs)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_inner"] = None  # workers load their own copy of the supernet
        return state


class ChipAccuracy(AccuracyEvaluator):
    """Top-1 accuracy of the subnet of each configuration as its chip computes it: the
    supernet's subnet with its static layers bit-sliced, converted by the chip's ADCs and
    (RRAM) held by varied cells
    (:class:`cimnet_bo.supernet.evaluator.ChipAccuracyEvaluator`). Accuracy then depends on the
    hardware too (``subnet_only`` is False); evaluations are cached by the subnet and the
    chip's accuracy knobs (:data:`cimnet_bo.hardware.config.ACCURACY_KNOBS`, its
    ``chip_knobs``).

    Parameters
    ----------
    space, checkpoint, split, indices, device, batch_size :
        See :class:`AccuracyEvaluator`; ``space`` must be joint.
    mode, adc_range, seed, sigma :
        See :class:`cimnet_bo.supernet.evaluator.ChipAccuracyEvaluator`.
    """

    subnet_only = False
    chip_knobs = ACCURACY_KNOBS

    def __init__(
        self,
        space: SpaceLike,
        checkpoint: str | Path | None = None,
        split: str = "val",
        indices: Sequence[int] | None = None,
        device: str = "cpu",
        batch_size: int = 1000,
        mode: str = "fast",
        adc_range: str | None = None,
        seed: int = 0,
        sigma: float | None = None,
    ) -> None:
        super().__init__(space, checkpoint, split, indices, device, batch_size)
        if not is_joint(self.space):
            raise ValueError(f"accuracy on the chip needs a joint (subnet x hardware) space, got {self.space.name!r}")
        self.chip = {"mode": mode, "adc_range": adc_range, "seed": seed, "sigma": sigma}
        self._supernet()  # bad options fail here (the supernet itself loads on first use)

    @property
    def identity(self) -> str:
        """:attr:`AccuracyEvaluator.identity`, then the chip model
        (:attr:`~cimnet_bo.supernet.evaluator.ChipAccuracyEvaluator.chip_identity`)."""
        return f"{super().identity}|{self._supernet().chip_identity}"

    def _inner_kind(self) -> tuple[type, dict[str, Any]]:
        from cimnet_bo.supernet.evaluator import ChipAccuracyEvaluator

        return ChipAccuracyEvaluator, self.chip


def supernet_accuracy(space: SpaceLike, **kwargs: Any) -> AccuracyEvaluator:
    """The supernet's accuracy evaluator for ``space``: on the chip (:class:`ChipAccuracy`) for a
    hardware-aware space (:func:`cimnet_bo.space.accuracy_on_chip`), else of the subnet alone
    (:class:`AccuracyEvaluator`). ``kwargs`` go to the class."""
    space = as_space(space)
    return ChipAccuracy(space, **kwargs) if accuracy_on_chip(space) else AccuracyEvaluator(space, **kwargs)


# ------------------------------------------------------------------------ table
class TableEvaluator(Evaluator):
    """Objective values looked up in a user's table of configurations (tabular benchmarks).

    Parameters
    ----------
    space : Space, JointSpace or str
    table : pandas.DataFrame, Dataset or path
        One column per choice and one per objective (see :mod:`cimnet_bo.store.dataset`);
        checked against the space (offending columns are named).
    objectives : sequence of str, Objective or dict, optional
        Objective columns; default: every numeric non-choice column (directions: ``max`` for
        ``accuracy``, ``min`` otherwise).
    name : str, optional
        Identity stored with evaluations (default: the table's file name or ``"table"``).

    Notes
    -----
    A configuration that is not in the table is a failure of that candidate
    (``KeyError: configuration not in the table``). Repeated configurations in the table are
    an error at construction.
    """

    def __init__(
        self, space: SpaceLike, table: Any, objectives: Sequence[Any] | None = None, name: str | None = None
    ) -> None:
        from cimnet_bo.store.dataset import Dataset, check_frame, read_dataset

        self.space = as_space(space)
        obj_names = (
            None
            if objectives is None
            else [o if isinstance(o, str) else (o["name"] if isinstance(o, Mapping) else o.name) for o in objectives]
        )
        if isinstance(table, (str, Path)):
            self._name = name or f"table:{Path(table).name}"
            ds = read_dataset(table, self.space, obj_names)
            frame, obj_names = ds.frame, ds.objective_names
        elif isinstance(table, Dataset):
            self._name = name or "table"
            frame, obj_names = table.frame, obj_names or table.objective_names
        else:
            self._name = name or "table"
            frame, obj_names, _ = check_frame(table, self.space, obj_names, source="table")
        if objectives is None or all(isinstance(o, str) for o in objectives):
            self.objectives = tuple(Objective(n, default_direction(n)) for n in obj_names)
        else:
            self.objectives = objective_list(objectives)
        keys = [tuple(r) for r in frame[list(self.space.names)].itertuples(index=False)]
        vals = frame[list(self.names)].to_numpy(dtype=np.float64)
        self._table: dict[tuple, np.ndarray] = {}
        dupes = 0
        for k, v in zip(keys, vals):
            if k in self._table:
                dupes += 1
            self._table[k] = v
        if dupes:
            raise ValueError(f"the table repeats {dupes} configuration(s); keep one row per configuration")

    @property
    def identity(self) -> str:
        """The table's name."""
        return self._name

    def __len__(self) -> int:
        return len(self._table)

    def _evaluate(self, configs: list[dict[str, Any]]) -> np.ndarray:
        out = []
        for c in configs:
            k = tuple(c[n] for n in self.space.names)
            if k not in self._table:
                raise KeyError(f"configuration not in the table: {c}")
            out.append(self._table[k])
        return np.array(out).reshape(len(configs), len(self.names))


# --------------------------------------------------------------------- callable
def load_function(spec: str) -> Callable[..., Any]:
    """The function ``"MODULE:FUNCTION"`` names (e.g. ``cimnet_bo.search.toy:synthetic_accuracy``).

    ``MODULE`` is looked up on the import path and then in the current folder (so
    ``mymodels.py`` or a package folder next to where the command runs is found, as by
    ``python -m``, without shadowing installed modules).

    Raises
    ------
    ValueError
        ``spec`` is not of that form, or its module or function cannot be found (naming which).
    """
    import importlib
    import os
    import sys

    mod, sep, name = str(spec).partition(":")
    if not sep or not mod or not name:
        raise ValueError(f"{spec!r} is not MODULE:FUNCTION")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.append(os.getcwd())
    try:
        fn = getattr(importlib.import_module(mod), name)
    except ImportError as e:
        raise ValueError(f"function {spec!r}: module {mod!r} cannot be imported ({e})") from None
    except AttributeError:
        raise ValueError(f"function {spec!r}: module {mod!r} has no {name!r}") from None
    if not callable(fn):
        raise ValueError(f"{spec!r} is not a function")
    return fn


class CallableEvaluator(Evaluator):
    """A user's Python function as an evaluator.

    Parameters
    ----------
    fn : callable
        ``fn(config) -> value | sequence | dict`` (one candidate; a scalar when there is one
        objective, a dict may add extra outputs), or, with ``batched=True``,
        ``fn(configs) -> array (n x m) | dict of arrays (n,)``.
    objectives : sequence of str, Objective, dict or (name, direction)
        Declared objectives.
    space : Space or JointSpace, optional
        Validate configurations against it (invalid ones fail per candidate).
    batched : bool
    name : str, optional
        Identity (default ``callable:<module>.<qualname>``).
    subnet_only : bool
        Declare that the values depend on the subnet half of a joint configuration only (lets
        labeling evaluate each distinct subnet once).
    chip_knobs : sequence of str, optional
        Declare the hardware knobs the values depend on besides the subnet (e.g. an accuracy on
        the chip that depends on the ADC bits, not on the macro count); qNEHVI then places each
        subnet with those knobs on its best chip (:mod:`cimnet_bo.search.best_chips`).

    Notes
    -----
    To run in a process pool the function must be importable (defined at module level).
    """

    def __init__(
        self,
        fn: Callable,
        objectives: Sequence[Any],
        space: SpaceLike | None = None,
        batched: bool = False,
        name: str | None = None,
        subnet_only: bool = False,
        chip_knobs: Sequence[str] | None = None,
    ) -> None:
        if not callable(fn):
            raise ValueError(f"fn must be callable, got {type(fn).__name__}")
        if chip_knobs is not None:
            if subnet_only:
                raise ValueError("give subnet_only or chip_knobs, not both")
            if isinstance(chip_knobs, str) or not all(isinstance(k, str) for k in chip_knobs):
                raise ValueError(f"chip_knobs must be a sequence of knob names, got {chip_knobs!r}")
            unknown = [k for k in chip_knobs if k not in KNOB_NAMES]
            if unknown:
                raise ValueError(f"chip_knobs: unknown hardware knobs {unknown}; the knobs are {list(KNOB_NAMES)}")
            self.chip_knobs = tuple(chip_knobs)
        self.fn = fn
        self.objectives = objective_list(objectives)
        self.space = None if space is None else as_space(space)
        self.batched = batched
        self.subnet_only = subnet_only
        self._name = name or f"callable:{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"

    @property
    def identity(self) -> str:
        """The given name, or ``callable:<module>.<qualname>``."""
        return self._name

    def _evaluate(self, configs: list[dict[str, Any]]) -> Any:
        if self.batched:
            return self.fn(configs)
        rows = [self.fn(c) for c in configs]
        if rows and isinstance(rows[0], Mapping):
            keys = list(dict.fromkeys(k for r in rows for k in r))
            return {k: [r.get(k, np.nan) for r in rows] for k in keys}
        return np.array([np.atleast_1d(np.asarray(r, dtype=np.float64)) for r in rows]).reshape(
            len(configs), len(self.names)
        )


# -------------------------------------------------------------------- composite
class CompositeEvaluator(Evaluator):
    """Several evaluators side by side: objectives are concatenated (names must be unique).

    A candidate fails if any part fails; the values of parts that succeeded are kept. The
    identity joins the parts' identities with ``" | "``.

    Parameters
    ----------
    evaluators : sequence of Evaluator
    """

    def __init__(self, evaluators: Sequence[Evaluator]) -> None:
        self.parts = list(evaluators)
        if not self.parts:
            raise ValueError("a composite needs at least one evaluator")
        self.objectives = objective_list([o for e in self.parts for o in e.objectives])
        self.space = None  # each part validates against its own space
        self.subnet_only = all(e.subnet_only for e in self.parts)

    @property
    def identity(self) -> str:
        """The parts' identities joined with ``" | "``."""
        return " | ".join(e.identity for e in self.parts)

    def evaluate(self, configs: Iterable[Mapping[str, Any]]) -> Evaluations:
        """Evaluate every part on the batch and merge (see :meth:`Evaluator.evaluate`)."""
        configs = list(configs)
        out = Evaluations.empty(self.names, len(configs))
        for e in self.parts:
            try:
                res = e.evaluate(configs)
            except Exception as exc:  # noqa: BLE001 - a misbehaving part fails its candidates
                res = Evaluations.empty(e.names, len(configs))
                res.errors = [failure_text(exc)] * len(configs)
            for j, n in enumerate(e.names):
                out.values[:, self.names.index(n)] = res.values[:, j]
            for k, v in res.extras.items():
                out.extras[k] = v
            for i, err in enumerate(res.errors):
                if err is not None:
                    tag = f"[{', '.join(e.names)}] {err}"
                    out.errors[i] = tag if out.errors[i] is None else f"{out.errors[i]}; {tag}"
        return out


# ------------------------------------------------------------------------ cache
class SubnetCachedEvaluator(Evaluator):
    """Evaluates a subnet-only evaluator once per distinct subnet and remembers the values.

    Parameters
    ----------
    inner : Evaluator
        Values must depend on the subnet half only (e.g. accuracy).
    space : JointSpace or Space
        Gives the subnet choice names.

    Notes
    -----
    Failures are not cached (a later batch retries them). :meth:`prime` loads known values
    (from a run store being resumed), so they are not evaluated again.
    """

    subnet_only = True

    def __init__(self, inner: Evaluator, space: SpaceLike) -> None:
        self.inner = inner
        self.space = None
        self._space = as_space(space)
        self.objectives = inner.objectives
        self._cache: dict[tuple, np.ndarray] = {}
        self.calls = 0  # distinct subnets sent to the inner evaluator

    @property
    def identity(self) -> str:
        """The inner evaluator's identity."""
        return self.inner.identity

    def key(self, config: Mapping[str, Any]) -> tuple:
        """The canonical subnet of a configuration, as a tuple in subnet-choice order."""
        sub = subnet_side(self._space)
        cfg = sub.validate({n: config[n] for n in sub.names if n in config})
        return tuple(cfg[n] for n in sub.names)

    def prime(self, configs: Iterable[Mapping[str, Any]], values: np.ndarray) -> None:
        """Remember ``values`` (n x m) for the subnets of ``configs`` (n); rows with non-finite
        values are skipped."""
        values = np.asarray(values, dtype=np.float64).reshape(-1, len(self.names))
        for c, v in zip(configs, values):
            if np.all(np.isfinite(v)):
                self._cache[self.key(c)] = v

    def evaluate(self, configs: Iterable[Mapping[str, Any]]) -> Evaluations:
        """Values of ``n`` configurations (n x m), each distinct uncached subnet evaluated once."""
        configs = list(configs)
        out = Evaluations.empty(self.names, len(configs))
        keys: list[tuple | None] = []
        for i, c in enumerate(configs):
            try:
                keys.append(self.key(c))
            except (KeyError, ValueError) as e:
                keys.append(None)
                out.errors[i] = failure_text(e)
        todo: dict[tuple, int] = {}
        for i, k in enumerate(keys):
            if k is not None and k not in self._cache and k not in todo:
                todo[k] = i
        if todo:
            res = self.inner.evaluate([configs[i] for i in todo.values()])
            self.calls += len(todo)
            fails = {}
            for j, k in enumerate(todo):
                if res.errors[j] is None:
                    self._cache[k] = res.values[j]
                else:
                    fails[k] = (res.errors[j], res.values[j])
        else:
            fails = {}
        for i, k in enumerate(keys):
            if k is None:
                continue
            if k in self._cache:
                out.values[i] = self._cache[k]
            elif k in fails:
                out.errors[i], out.values[i] = fails[k]
        return out
