"""Registries of subnet, hardware and joint spaces, by name."""

from __future__ import annotations

from typing import Callable

from cimnet_bo.space.joint import JointSpace
from cimnet_bo.space.space import Space

SpaceFactory = Callable[[], Space]
_SUBNET: dict[str, SpaceFactory] = {}
_HARDWARE: dict[str, SpaceFactory] = {}
_JOINT: dict[str, tuple[str, str]] = {}


def register_subnet(name: str) -> Callable[[SpaceFactory], SpaceFactory]:
    """Decorator registering a factory of a subnet space under ``name``."""
    def wrap(factory: SpaceFactory) -> SpaceFactory:
        _SUBNET[name] = factory
        return factory

    return wrap


def register_hardware(name: str) -> Callable[[SpaceFactory], SpaceFactory]:
    """Decorator registering a factory of a hardware space under ``name``."""
    def wrap(factory: SpaceFactory) -> SpaceFactory:
        _HARDWARE[name] = factory
        return factory

    return wrap


def register_joint(name: str, subnet: str, hardware: str) -> None:
    """Register the joint space ``name`` = subnet space x hardware space."""
    _JOINT[name] = (subnet, hardware)


def _lookup(table: dict, name: str, what: str):
    _load_catalog()
    if name not in table:
        raise KeyError(f"unknown {what} {name!r}; registered: {sorted(table)}")
    return table[name]


def get_subnet_space(name: str) -> Space:
    return _lookup(_SUBNET, name, "subnet space")()


def get_hardware_space(name: str) -> Space:
    return _lookup(_HARDWARE, name, "hardware space")()


def get_space(name: str) -> JointSpace:
    """The registered joint space ``name`` (named after its subnet space)."""
    subnet, hardware = _lookup(_JOINT, name, "space")
    return JointSpace(get_subnet_space(subnet), get_hardware_space(hardware), name=name)


def list_spaces() -> list[str]:
    """Names of the registered joint spaces."""
    _load_catalog()
    return sorted(_JOINT)


def list_subnet_spaces() -> list[str]:
    _load_catalog()
    return sorted(_SUBNET)


def list_hardware_spaces() -> list[str]:
    _load_catalog()
    return sorted(_HARDWARE)


def _load_catalog() -> None:
    import cimnet_bo.space.catalog  # noqa: F401  (registers the built-in spaces)
