"""The evaluator interface: named objectives, batch evaluation, per-candidate failures.

An evaluator maps a batch of ``n`` configurations to an :class:`Evaluations` result: a value
array (n x m) over its ``m`` declared objectives, and per candidate either ``None`` or the text
of its failure. An exception raised for one candidate, an invalid configuration, or a NaN or
infinite value is recorded against that candidate; the other candidates of the batch are
still evaluated. Nothing is raised through the batch.

Subclasses implement :meth:`Evaluator._evaluate` (a batch of validated configurations to a
mapping ``{objective: array (n,)}`` or an array (n x m)); auxiliary outputs (keys that are not
objectives) are kept as ``extras``.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from cimnet_bo.core import plain
from cimnet_bo.moo import Objective, domain_problems
from cimnet_bo.space import AnySpace


@dataclass
class Evaluations:
    """Results of one batch.

    Attributes
    ----------
    names : tuple of str
        The ``m`` objective names.
    values : ndarray (n x m)
        Objective values; NaN where a candidate failed (partial values of a failed candidate
        are kept where they are finite).
    errors : list of (str or None), length n
        Failure text per candidate, or None.
    extras : dict of ndarray (n,)
        Auxiliary outputs (e.g. ``resident``, ``program_time_s``); NaN where missing.
    """

    names: tuple[str, ...]
    values: np.ndarray
    errors: list[str | None]
    extras: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.errors)

    @property
    def ok(self) -> np.ndarray:
        """Bool array (n,): candidates without failure."""
        return np.array([e is None for e in self.errors], dtype=bool)

    def column(self, name: str) -> np.ndarray:
        """Values of one objective or extra, array (n,)."""
        if name in self.names:
            return self.values[:, self.names.index(name)]
        if name in self.extras:
            return self.extras[name]
        raise KeyError(f"no objective or extra named {name!r}; objectives: {list(self.names)}")

    def objectives_of(self, i: int) -> dict[str, float]:
        """``{objective: value}`` of candidate ``i``."""
        return {n: float(self.values[i, j]) for j, n in enumerate(self.names)}

    def extras_of(self, i: int) -> dict[str, Any]:
        """``{extra: value}`` of candidate ``i``."""
        return {k: plain(v[i]) for k, v in self.extras.items()}

    @classmethod
    def empty(cls, names: Sequence[str], n: int) -> "Evaluations":
        """``n`` candidates, no values (NaN (n x m)), no errors."""
        return cls(tuple(names), np.full((n, len(names)), np.nan), [None] * n, {})

    def take(self, idx: Sequence[int]) -> "Evaluations":
        """The candidates at ``idx``, in that order."""
        idx = np.asarray(idx, dtype=np.int64)
        return Evaluations(
            self.names, self.values[idx], [self.errors[i] for i in idx], {k: v[idx] for k, v in self.extras.items()}
        )


def failure_text(exc: BaseException) -> str:
    """``Type: message (file:line in function)`` of an exception, for the run store."""
    msg = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    tb = traceback.extract_tb(exc.__traceback__)
    if tb:
        f = tb[-1]
        msg += f" (at {f.filename.rsplit('/', 1)[-1]}:{f.lineno} in {f.name})"
    return msg


class Evaluator:
    """Base class: maps a batch of configurations to named objective values.

    Attributes
    ----------
    objectives : tuple of Objective
        Declared objectives, in output order.
    space : Space or JointSpace or None
        When set, every configuration is validated (and canonicalised) first; an invalid one
        is a failure of that candidate.

    Notes
    -----
    Subclasses set ``objectives`` (and ``space``) in ``__init__`` and implement
    :meth:`_evaluate`. Override :attr:`identity` to name what the values depend on
    (a checkpoint checksum, a model version): it is stored with every evaluation.
    """

    objectives: tuple[Objective, ...] = ()
    space: AnySpace | None = None
    #: True when the values depend on the subnet half of a joint configuration only.
    subnet_only: bool = False
    #: The hardware knobs the values depend on besides the subnet, when the evaluator knows
    #: them (e.g. a chip's accuracy knobs); None: any knob. Moot when ``subnet_only``.
    chip_knobs: tuple[str, ...] | None = None

    # ------------------------------------------------------------------ declared
    @property
    def names(self) -> tuple[str, ...]:
        """Objective names, in output order."""
        return tuple(o.name for o in self.objectives)

    @property
    def cheap(self) -> bool:
        """True when every objective is cheap."""
        return all(o.cheap for o in self.objectives)

    @property
    def identity(self) -> str:
        """What the values depend on, stored with each evaluation (default: the class name)."""
        return type(self).__name__

    @property
    def can_evaluate(self) -> bool:
        """False when some objective only comes from outside (see :class:`ExternalOutputs`)."""
        return True

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(self.names)})"

    # ------------------------------------------------------------------- public
    def evaluate(self, configs: Iterable[Mapping[str, Any]]) -> Evaluations:
        """Evaluate a batch; failures are recorded per candidate, never raised.

        Parameters
        ----------
        configs : iterable of dict
            ``n`` configurations.

        Returns
        -------
        Evaluations
            values (n x m) over :attr:`names`, errors (n,), extras.
        """
        configs = list(configs)
        out = Evaluations.empty(self.names, len(configs))
        valid, canon = self._validated(configs, out)
        if not canon:
            return out
        try:
            self._fill(out, valid, self._evaluate(canon))
        except Exception as e:  # noqa: BLE001
            if len(canon) == 1:
                out.errors[valid[0]] = failure_text(e)
            else:  # isolate the failing candidates: one at a time
                for i, c in zip(valid, canon):
                    try:
                        self._fill(out, [i], self._evaluate([c]))
                    except Exception as e1:  # noqa: BLE001
                        out.errors[i] = failure_text(e1)
        self._check_domains(out)
        return out

    def __call__(self, configs: Iterable[Mapping[str, Any]]) -> Evaluations:
        return self.evaluate(configs)

    # ---------------------------------------------------------------- internals
    def _validated(self, configs: list[Mapping[str, Any]], out: Evaluations) -> tuple[list[int], list[dict]]:
        """``(positions, canonical configurations)`` of the valid ``configs``; the others'
        errors are written to ``out``. A batch is checked in one pass when every
        configuration is valid, else one by one."""
        if self.space is None:
            return list(range(len(configs))), [dict(c) for c in configs]
        try:
            return list(range(len(configs))), self.space.from_indices(self.space.to_indices(configs))
        except Exception:  # noqa: BLE001 - some configuration is invalid: find which
            pass
        valid: list[int] = []
        canon: list[dict] = []
        for i, c in enumerate(configs):
            try:
                canon.append(dict(self.space.validate(c)))
            except Exception as e:  # noqa: BLE001 - recorded per candidate
                out.errors[i] = failure_text(e)
                continue
            valid.append(i)
        return valid, canon

    def _evaluate(self, configs: list[dict[str, Any]]) -> Any:
        """Evaluate validated configurations; return ``{name: array (n,)}`` (objectives and
        optional extras) or an array (n x m) in objective order. May raise."""
        raise NotImplementedError

    def _fill(self, out: Evaluations, rows: list[int], res: Any) -> None:
        n = len(rows)
        if isinstance(res, Mapping):
            missing = [k for k in self.names if k not in res]
            if missing:
                raise ValueError(f"{type(self).__name__} returned no values for objectives {missing}")
            vals = np.column_stack([_vector(res[k], n, k) for k in self.names]) if self.names else np.empty((n, 0))
            for k, v in res.items():
                if k in self.names:
                    continue
                col = out.extras.setdefault(k, np.full(len(out), np.nan, dtype=object))
                col[rows] = _vector(v, n, k, numeric=False)
        else:
            vals = np.asarray(res, dtype=np.float64)
            if vals.ndim == 1 and len(self.names) == 1:
                vals = vals[:, None]
            if vals.shape != (n, len(self.names)):
                raise ValueError(
                    f"{type(self).__name__} returned values of shape {vals.shape}, expected ({n}, {len(self.names)})"
                )
        out.values[rows] = vals

    def _check_domains(self, out: Evaluations) -> None:
        """Fail each candidate with a value outside its output's domain (not finite, an accuracy
        outside [0, 1], a latency <= 0, ...: :mod:`cimnet_bo.moo.domains`), naming the values."""
        problems: dict[int, list[str]] = {}
        for j, name in enumerate(self.names):
            for i, msg in domain_problems(name, out.values[:, j], missing_ok=False):
                problems.setdefault(i, []).append(f"{name} = nan" if np.isnan(out.values[i, j]) else msg)
        for i, msgs in problems.items():
            if out.errors[i] is None:
                out.errors[i] = "impossible value(s): " + ", ".join(msgs)
        for k, v in list(out.extras.items()):
            try:
                is_bool = all(isinstance(x, (bool, np.bool_)) for x in v)
                out.extras[k] = v.astype(bool) if is_bool else v.astype(np.float64)
            except (TypeError, ValueError):
                pass


def _vector(v: Any, n: int, name: str, numeric: bool = True) -> np.ndarray:
    arr = np.asarray(v, dtype=np.float64 if numeric else object).reshape(-1)
    if arr.shape[0] != n:
        raise ValueError(f"{n} candidates but {arr.shape[0]} values for {name!r}")
    return arr


class ExternalOutputs(Evaluator):
    """The outputs of ``inner`` plus outputs that only come from outside (ask/tell, e.g. an
    accuracy measured elsewhere). The latter cannot be computed here: :meth:`evaluate` fails
    every candidate, and :attr:`can_evaluate` is False.

    Parameters
    ----------
    inner : Evaluator
        Computes every other output.
    external : sequence of Objective
        The outputs that come from outside.
    """

    def __init__(self, inner: Evaluator, external: Sequence[Objective]) -> None:
        self.inner = inner
        self.external = tuple(external)
        self.objectives = tuple(inner.objectives) + self.external
        self.space = None

    @property
    def can_evaluate(self) -> bool:
        return False

    @property
    def identity(self) -> str:
        return f"external | {self.inner.identity}"

    def evaluate(self, configs: Iterable[Mapping[str, Any]]) -> Evaluations:
        configs = list(configs)
        out = Evaluations.empty(self.names, len(configs))
        out.errors = [f"{[o.name for o in self.external]} come from outside: use propose / tell"] * len(configs)
        return out
