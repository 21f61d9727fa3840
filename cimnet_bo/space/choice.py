"""Choices: the named, ordered, discrete decisions a space is made of."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Hashable, Mapping, Sequence

#: Encoded value of a choice that its condition switches off (see :class:`Condition`).
INACTIVE_CODE = 0.0


@dataclass(frozen=True)
class Condition:
    """A choice is active only while another choice takes one of ``values``.

    The usual case is a depth choice: the MLP size of layer 7 exists only while
    ``num_layers`` is 8 or more. Build that with :meth:`depth`.

    Parameters
    ----------
    parent : str
        Name of the controlling choice. It must itself be unconditional.
    values : frozenset
        Values of ``parent`` for which the dependent choice is active.
    """

    parent: str
    values: frozenset

    @classmethod
    def depth(cls, parent: str, position: int, parent_values: Sequence[int]) -> "Condition":
        """Active while ``parent`` (a depth) is greater than ``position`` (0-based)."""
        return cls(parent, frozenset(v for v in parent_values if v > position))

    def holds(self, config: dict[str, Any]) -> bool:
        return config[self.parent] in self.values


@dataclass(frozen=True)
class Choice:
    """One named decision with ordered allowed values.

    Parameters
    ----------
    name : str
        Key of the choice in a configuration dict.
    values : tuple
        Allowed values, in their natural order (numbers ascending). Encoding is by rank
        in this order.
    categorical : bool
        True when the order carries no meaning (cell technology, operator type, for example).
        Encoding is still by rank, but the GP surrogates compare the encoded values by
        equality only (any two different values are equally far apart), and the NSGA-II
        operators of the search recombine and mutate them as unordered labels.
    condition : Condition or None
        When set, the choice is active only while the condition holds; an inactive choice
        takes its first value in canonical configurations and encodes to ``INACTIVE_CODE``.
    """

    name: str
    values: tuple
    categorical: bool = False
    condition: Condition | None = None
    _index: dict = field(default=None, init=False, repr=False, compare=False)  # type: ignore

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise ValueError(f"choice name must be a non-empty string, got {self.name!r}")
        values = tuple(self.values)
        if not values:
            raise ValueError(f"choice {self.name!r} has no allowed values")
        if len(set(values)) != len(values):
            raise ValueError(f"choice {self.name!r} has repeated values: {values}")
        if not all(isinstance(v, Hashable) for v in values):
            raise ValueError(f"choice {self.name!r} has unhashable values: {values}")
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "_index", {v: i for i, v in enumerate(values)})

    def __len__(self) -> int:
        return len(self.values)

    def index(self, value: Any) -> int:
        """Rank of ``value``; raises ``ValueError`` naming the choice and allowed values."""
        try:
            return self._index[value]
        except (KeyError, TypeError):
            pass
        # Accept numerically equal values of another type (1.0 for 1, numpy ints).
        for i, v in enumerate(self.values):
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                try:
                    if float(value) == float(v):
                        return i
                except (TypeError, ValueError):
                    continue
        raise ValueError(f"{self.name}={value!r} is not allowed; allowed values: {list(self.values)}")

    def scale(self, index: int) -> float:
        """Rank ``index`` scaled to [0, 1]."""
        return index / (len(self.values) - 1) if len(self.values) > 1 else 0.0

    def unscale(self, x: float) -> int:
        """Nearest rank for an encoded value ``x`` (clipped to [0, 1])."""
        n = len(self.values)
        if n == 1:
            return 0
        return int(round(min(max(float(x), 0.0), 1.0) * (n - 1)))

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"name": self.name, "values": list(self.values)}
        if self.categorical:
            out["categorical"] = True
        if self.condition is not None:
            out["active_if"] = {"choice": self.condition.parent, "in": sorted(self.condition.values, key=str)}
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Choice":
        """A choice from its description ``{name, values, categorical?, active_if?: {choice, in}}``;
        a malformed one raises ``ValueError`` naming the field."""
        if not isinstance(d, Mapping):
            raise ValueError(f"a choice must be a mapping with 'name' and 'values', got {d!r}")
        unknown = set(d) - {"name", "values", "categorical", "active_if"}
        if unknown:
            raise ValueError(f"choice {d.get('name')!r}: unknown fields {sorted(unknown)}")
        if not isinstance(d.get("values"), (list, tuple)):
            raise ValueError(f"choice {d.get('name')!r}: 'values' must be a list, got {d.get('values')!r}")
        cond = None
        if "active_if" in d:
            a = d["active_if"]
            if not isinstance(a, Mapping) or set(a) != {"choice", "in"} or not isinstance(a["in"], (list, tuple)):
                raise ValueError(
                    f"choice {d.get('name')!r}: 'active_if' must be {{choice: NAME, in: [values]}}, got {a!r}"
                )
            cond = Condition(a["choice"], frozenset(a["in"]))
        return cls(d.get("name"), tuple(d["values"]), bool(d.get("categorical", False)), cond)
