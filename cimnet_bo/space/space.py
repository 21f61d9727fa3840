"""Spaces: lists of choices that sample, encode, decode, validate and mutate configurations.

A configuration is a plain ``dict`` mapping every choice name to a value. A *canonical*
configuration gives every inactive choice (one whose :class:`Condition` does not hold) its
first value, so that two configurations describing the same network compare equal.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from cimnet_bo.core import InputFileError, key_mismatch, plain, read_yaml
from cimnet_bo.space.choice import INACTIVE_CODE, Choice, Condition

Config = dict[str, Any]
#: From this many configurations on, :meth:`Space.to_indices` reads a batch column by column.
COLUMN_BATCH = 256


def _object_array(values: Sequence[Any]) -> np.ndarray:
    """A 1-D object array (n,) holding ``values`` as they are (tuples stay elements)."""
    out = np.empty(len(values), dtype=object)
    for i, v in enumerate(values):
        out[i] = v
    return out


class Space:
    """An ordered list of named choices.

    Parameters
    ----------
    name : str
        Registry name (``"vit-fmnist"``) or any label for a user space.
    choices : sequence of Choice
        The decisions. Names must be unique; a condition's parent must be an
        unconditional choice of this space.
    family : str, optional
        Workload family (``"vit"``, ``"mbv3"``, ``"resnet"``, ``"cim"``, ...), used to build
        layer tables.
    meta : mapping, optional
        Fixed properties that are not choices (hidden size, image size, fixed hardware
        knobs). Plain JSON-able values.
    baseline : mapping, optional
        A reference configuration (for hardware spaces: the baseline chip).
    version : str
        Bumped whenever the choices change, and stored with every evaluation.
    """

    def __init__(
        self,
        name: str,
        choices: Sequence[Choice],
        family: str | None = None,
        meta: Mapping[str, Any] | None = None,
        baseline: Mapping[str, Any] | None = None,
        version: str = "1",
    ) -> None:
        self.name = name
        self.choices: tuple[Choice, ...] = tuple(choices)
        self.family = family
        self.meta: dict[str, Any] = dict(meta or {})
        self.version = str(version)
        if not self.choices:
            raise ValueError(f"space {name!r} has no choices")
        self.names: tuple[str, ...] = tuple(c.name for c in self.choices)
        dupes = sorted({n for n in self.names if self.names.count(n) > 1})
        if dupes:
            raise ValueError(f"space {name!r} has repeated choice names: {dupes}")
        self._pos = {n: i for i, n in enumerate(self.names)}
        for c in self.choices:
            if c.condition is None:
                continue
            parent = c.condition.parent
            if parent not in self._pos:
                raise ValueError(f"choice {c.name!r} depends on unknown choice {parent!r}")
            if self.choices[self._pos[parent]].condition is not None:
                raise ValueError(f"choice {c.name!r} depends on {parent!r}, which is itself conditional")
        # Per conditional choice: (column, parent column, bool mask over parent ranks).
        self._conditions = [
            (
                j,
                self._pos[c.condition.parent],
                np.array([v in c.condition.values for v in self.choices[self._pos[c.condition.parent]].values]),
            )
            for j, c in enumerate(self.choices)
            if c.condition is not None
        ]
        self._n_values = np.array([len(c) for c in self.choices])
        # per choice: its values as plain Python objects, indexed by rank (decoding)
        self._plain_values = [_object_array([plain(v) for v in c.values]) for c in self.choices]
        self.baseline: Config | None = self.validate(baseline) if baseline is not None else None

    # ------------------------------------------------------------------ basics
    def __repr__(self) -> str:
        return f"Space({self.name!r}, {len(self.choices)} choices, size={self.size:.3g})"

    def __len__(self) -> int:
        return len(self.choices)

    @property
    def dim(self) -> int:
        """Number of encoded columns (one per choice)."""
        return len(self.choices)

    @property
    def categorical_columns(self) -> tuple[int, ...]:
        """Columns (of index matrices and of the encoding) that hold categorical choices."""
        return tuple(j for j, c in enumerate(self.choices) if c.categorical)

    def __getitem__(self, name: str) -> Choice:
        try:
            return self.choices[self._pos[name]]
        except KeyError:
            raise KeyError(f"space {self.name!r} has no choice {name!r}") from None

    @property
    def size(self) -> int:
        """Number of distinct canonical configurations."""
        children: dict[int, list[int]] = {}
        for j, p, _ in self._conditions:
            children.setdefault(p, []).append(j)
        total = 1
        for j, c in enumerate(self.choices):
            if c.condition is not None:
                continue
            kids = children.get(j, [])
            if not kids:
                total *= len(c)
                continue
            subtotal = 0
            for v in c.values:
                prod = 1
                for k in kids:
                    if v in self.choices[k].condition.values:  # type: ignore[union-attr]
                        prod *= len(self.choices[k])
                subtotal += prod
            total *= subtotal
        return total

    # ------------------------------------------------------------ conversions
    def canonicalize_indices(self, idx: np.ndarray) -> np.ndarray:
        """Set inactive choices to rank 0 in an index matrix (n x d), in place; returns it."""
        for j, p, mask in self._conditions:
            idx[~mask[idx[:, p]], j] = 0
        return idx

    def active_mask(self, idx: np.ndarray) -> np.ndarray:
        """Boolean (n x d): which choices are active in each row of an index matrix."""
        act = np.ones(idx.shape, dtype=bool)
        for j, p, mask in self._conditions:
            act[:, j] = mask[idx[:, p]]
        return act

    def to_indices(self, configs: Iterable[Mapping[str, Any]]) -> np.ndarray:
        """Validate configurations and return their canonical ranks, int array (n x d).

        A batch of :data:`COLUMN_BATCH` configurations or more is read column by column
        (:meth:`columns_to_indices`: each distinct value looked up once); one where that
        fails (a missing or unknown key, a value not allowed, values of mixed types) is read
        again row by row, which names the first bad configuration."""
        configs = list(configs)
        columns = self._columns(configs) if len(configs) >= COLUMN_BATCH else None
        if columns is not None:
            try:
                return self.columns_to_indices(columns)
            except ValueError:
                pass
        rows = [self._ranks(c) for c in configs]
        idx = np.array(rows, dtype=np.int64).reshape(len(rows), self.dim)
        return self.canonicalize_indices(idx)

    def _columns(self, configs: list[Any]) -> dict[str, np.ndarray] | None:
        """``{name: values (n,)}`` of configurations that are dicts with exactly the space's
        keys and, per choice, values of one numeric or string type; else None."""
        if not self.dim or not all(isinstance(c, Mapping) and len(c) == self.dim for c in configs):
            return None
        columns = {}
        for n in self.names:
            try:
                values = [c[n] for c in configs]
                column = np.asarray(values)
            except (KeyError, ValueError):
                return None
            strings = column.dtype.kind == "U"
            if not (column.dtype.kind in "biuf" or (strings and all(isinstance(v, str) for v in values))):
                return None  # objects, or numbers turned into strings
            columns[n] = column
        return columns

    def columns_to_indices(self, columns: Mapping[str, Any]) -> np.ndarray:
        """:meth:`to_indices` of configurations given as columns: ``{name: values (n,)}`` for
        every choice; canonical ranks, int array (n x d). Each distinct value is looked up once
        (``ValueError`` naming the choice for one it does not allow)."""
        missing = [n for n in self.names if n not in columns]
        if missing:
            raise ValueError(f"columns do not match space {self.name!r}: missing {missing}")
        n = len(np.asarray(columns[self.names[0]])) if self.dim else 0
        idx = np.empty((n, self.dim), dtype=np.int64)
        for j, c in enumerate(self.choices):
            uniq, inverse = np.unique(np.asarray(columns[c.name]), return_inverse=True)
            idx[:, j] = np.array([c.index(u.item()) for u in uniq], dtype=np.int64)[inverse.reshape(-1)]
        return self.canonicalize_indices(idx)

    def from_indices(self, idx: np.ndarray) -> list[Config]:
        """Configurations from a rank matrix (n x d); ranks are assumed canonical."""
        idx = np.asarray(idx)
        cols = [self._plain_values[j][idx[:, j]].tolist() for j in range(self.dim)]
        return [dict(zip(self.names, row)) for row in zip(*cols)]

    def _ranks(self, config: Mapping[str, Any]) -> list[int]:
        if not isinstance(config, Mapping):
            raise ValueError(f"a configuration must be a dict, got {type(config).__name__}")
        missing = [n for n in self.names if n not in config]
        unknown = [k for k in config if k not in self._pos]
        if missing or unknown:
            raise ValueError(f"configuration does not match space {self.name!r}: {key_mismatch(missing, unknown)}")
        return [c.index(config[c.name]) for c in self.choices]

    # ---------------------------------------------------------------- public
    def validate(self, config: Mapping[str, Any]) -> Config:
        """Check a configuration and return its canonical form.

        Raises
        ------
        ValueError
            Naming the missing or unknown keys, or the bad key, its value and the allowed values.
        """
        return self.from_indices(self.to_indices([config]))[0]

    def is_valid(self, config: Mapping[str, Any]) -> bool:
        try:
            self.validate(config)
        except ValueError:
            return False
        return True

    def sample_indices(self, n: int, seed: int | np.random.Generator | None = None) -> np.ndarray:
        """Uniform independent ranks per choice, canonicalised: int array (n x d)."""
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        rng = np.random.default_rng(seed)
        idx = (rng.random((n, self.dim)) * self._n_values).astype(np.int64)
        return self.canonicalize_indices(idx)

    def sample(self, n: int, seed: int | np.random.Generator | None = None) -> list[Config]:
        """``n`` canonical configurations, each choice drawn uniformly; reproducible for a seed."""
        return self.from_indices(self.sample_indices(n, seed))

    def encode(self, configs: Iterable[Mapping[str, Any]]) -> np.ndarray:
        """Encode configurations as floats in [0, 1], array (n x d).

        Column j is the rank of choice j divided by (number of values - 1); a choice that
        its condition switches off is masked to ``INACTIVE_CODE``. Categorical choices are
        encoded the same way: their columns (:attr:`categorical_columns`) carry a label,
        whose order models must ignore.
        """
        return self.encode_indices(self.to_indices(configs))

    def encode_indices(self, idx: np.ndarray) -> np.ndarray:
        """Encoding of a canonical rank matrix (n x d)."""
        denom = np.maximum(self._n_values - 1, 1)
        X = idx / denom
        X[~self.active_mask(idx)] = INACTIVE_CODE
        return X

    def decode(self, X: np.ndarray) -> list[Config]:
        """Nearest canonical configurations for encoded rows, array (n x d)."""
        X = np.atleast_2d(np.asarray(X, dtype=float))
        if X.shape[1] != self.dim:
            raise ValueError(f"expected {self.dim} columns for space {self.name!r}, got {X.shape[1]}")
        idx = np.rint(np.clip(X, 0.0, 1.0) * (self._n_values - 1)).astype(np.int64)
        return self.from_indices(self.canonicalize_indices(idx))

    def mutate(
        self, config: Mapping[str, Any], rate: float = 0.1, seed: int | np.random.Generator | None = None
    ) -> Config:
        """Re-draw each choice with probability ``rate`` to a different allowed value, each
        other value equally likely (ordinal and categorical choices alike).

        At least one active choice with more than one value changes, so the result differs
        from ``config`` whenever the space allows it.
        """
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate must be in [0, 1], got {rate}")
        rng = np.random.default_rng(seed)
        idx = self.to_indices([config])
        act = self.active_mask(idx)[0]
        movable = np.flatnonzero(act & (self._n_values > 1))
        if movable.size == 0:
            return self.from_indices(idx)[0]
        flip = movable[rng.random(movable.size) < rate]
        if flip.size == 0:
            flip = rng.choice(movable, size=1)
        for j in flip:
            shift = rng.integers(1, self._n_values[j])
            idx[0, j] = (idx[0, j] + shift) % self._n_values[j]
        return self.from_indices(self.canonicalize_indices(idx))[0]

    def extreme(self, which: str) -> Config:
        """The configuration with every choice at its last (``"max"``) or first (``"min"``) value."""
        if which not in ("max", "min"):
            raise ValueError(f"which must be 'max' or 'min', got {which!r}")
        idx = self._n_values - 1 if which == "max" else np.zeros(self.dim, dtype=np.int64)
        return self.from_indices(self.canonicalize_indices(np.array([idx], dtype=np.int64)))[0]

    def fix(self, config: Mapping[str, Any], name: str | None = None) -> "Space":
        """A copy of this space in which every choice takes only its value in ``config``."""
        cfg = self.validate(config)
        choices = []
        for c in self.choices:
            cond = c.condition
            if cond is not None:
                cond = Condition(cond.parent, frozenset(v for v in cond.values if v == cfg[cond.parent]))
            choices.append(Choice(c.name, (cfg[c.name],), c.categorical, cond))
        return Space(name or f"{self.name}[fixed]", choices, self.family, self.meta, cfg, self.version)

    # ------------------------------------------------------------- file I/O
    def to_dict(self) -> dict:
        out: dict[str, Any] = {"name": self.name, "version": self.version}
        if self.family:
            out["family"] = self.family
        if self.meta:
            out["meta"] = dict(self.meta)
        out["choices"] = [c.to_dict() for c in self.choices]
        if self.baseline is not None:
            out["baseline"] = dict(self.baseline)
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Space":
        if not isinstance(d, Mapping):
            raise ValueError(f"a space description must be a mapping, got {d!r}")
        unknown = set(d) - {"name", "version", "family", "meta", "choices", "baseline", "expand"}
        if unknown:
            raise ValueError(f"space description has unknown fields {sorted(unknown)}")
        if not isinstance(d.get("choices"), (list, tuple)):
            raise ValueError(f"space description needs a 'choices' list, got {d.get('choices')!r}")
        choices = [Choice.from_dict(c) for c in d["choices"]]
        return cls(
            d.get("name", "user"),
            choices,
            d.get("family"),
            d.get("meta"),
            d.get("baseline"),
            str(d.get("version", "1")),
        )

    def to_yaml(self, path: str | Path) -> None:
        import yaml

        Path(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))

    @classmethod
    def from_yaml(cls, path: str | Path) -> "Space":
        """Load a space from YAML: ``name``, ``choices`` (each ``name``, ``values``, optional
        ``categorical`` and ``active_if: {choice, in}``), optional ``family``, ``meta``,
        ``baseline``, ``version``; or ``subnet`` and ``hardware`` (a joint space).

        Raises
        ------
        InputFileError
            The file cannot be read as YAML, or does not describe a space (naming the file and
            what is wrong).
        """
        data = read_yaml(path, "space file")
        try:
            if "subnet" in data or "hardware" in data:
                from cimnet_bo.space.joint import JointSpace

                return JointSpace.from_dict(data)
            return cls.from_dict(data)
        except ValueError as e:
            raise InputFileError(f"space file {path}: {e}") from None


def depth_choices(
    depth_name: str, depth_values: Sequence[int], per_layer: Mapping[str, Sequence[Any]], offset: int = 0
) -> list[Choice]:
    """A depth choice followed by per-layer choices it switches off.

    Parameters
    ----------
    depth_name : str
        Name of the depth choice, e.g. ``"num_layers"``.
    depth_values : sequence of int
        Allowed depths.
    per_layer : mapping
        ``{prefix: values}``; creates ``f"{prefix}_{i}"`` for every layer ``i`` up to the
        largest depth. Layer ``i`` (counting from ``offset``) is active while depth > i - offset.
    """
    out = [Choice(depth_name, tuple(depth_values))]
    n = max(depth_values)
    for i in range(n):
        for prefix, values in per_layer.items():
            cond = None if i < min(depth_values) else Condition.depth(depth_name, i, depth_values)
            out.append(Choice(f"{prefix}_{i + offset}", tuple(values), condition=cond))
    return out
