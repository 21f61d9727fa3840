"""One registry convention for everything chosen by name.

Strategies, surrogates, predictors, workload families and spaces are each a :class:`Registry`:
entries are added with the ``register`` decorator where they are defined, looked up with
``registry[name]`` (an unknown name raises :class:`~cimnet_bo.core.UnknownNameError` listing the
registered ones), and listed with ``registry.names()`` (the command line takes its option
choices from there).
"""

from __future__ import annotations

import importlib
from typing import Callable, Generic, Iterator, Mapping, Sequence, TypeVar

from cimnet_bo.core.errors import CimnetError, UnknownNameError

T = TypeVar("T")


class Registry(Mapping[str, T], Generic[T]):
    """Entries of one kind by name.

    Parameters
    ----------
    kind
        What the entries are, for error messages ("strategy", "predictor", ...).
    modules
        Modules that register the built-in entries; imported on the first lookup, so that a
        registry can be read (its names listed) without importing them up front.
    attribute
        If given, ``register`` sets this attribute of a registered object to its name (a
        strategy class learns its ``name``).
    """

    def __init__(self, kind: str, modules: Sequence[str] = (), attribute: str | None = None) -> None:
        self.kind = kind
        self._modules = tuple(modules)
        self._attribute = attribute
        self._entries: dict[str, T] = {}
        self._loaded = not self._modules

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator adding an object under ``name``; a name is registered once."""

        def wrap(obj: T) -> T:
            old = self._entries.get(name)
            if old is not None and _qualname(old) != _qualname(obj):
                raise CimnetError(f"{self.kind} {name!r} is registered already ({_qualname(old)})")
            if self._attribute is not None:
                setattr(obj, self._attribute, name)
            self._entries[name] = obj
            return obj

        return wrap

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True
            for module in self._modules:
                importlib.import_module(module)

    def __getitem__(self, name: str) -> T:
        self._load()
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise UnknownNameError(f"unknown {self.kind} {name!r}; registered: {', '.join(self.names())}") from None

    def __iter__(self) -> Iterator[str]:
        self._load()
        return iter(self._entries)

    def __len__(self) -> int:
        self._load()
        return len(self._entries)

    def names(self) -> list[str]:
        """Registered names, in registration order."""
        self._load()
        return list(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"


def _qualname(obj: object) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"
