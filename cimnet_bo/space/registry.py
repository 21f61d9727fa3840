"""Registries of subnet, hardware and joint spaces, by name.

Subnet and hardware spaces are registered as factories (``@SUBNET_SPACES.register(name)``); a
joint space is registered as the pair of names it joins (:func:`register_joint`). The built-in
spaces (:mod:`cimnet_bo.space.catalog`) load on the first lookup.
"""

from __future__ import annotations

from typing import Callable

from cimnet_bo.core import Registry
from cimnet_bo.space.joint import JointSpace
from cimnet_bo.space.space import Space

SpaceFactory = Callable[[], Space]
_CATALOG = ("cimnet_bo.space.catalog",)
SUBNET_SPACES: Registry[SpaceFactory] = Registry("subnet space", modules=_CATALOG)
HARDWARE_SPACES: Registry[SpaceFactory] = Registry("hardware space", modules=_CATALOG)
#: Joint spaces: name -> (subnet space name, hardware space name).
JOINT_SPACES: Registry[tuple[str, str]] = Registry("space", modules=_CATALOG)


def register_joint(name: str, subnet: str, hardware: str) -> None:
    """Register the joint space ``name`` = subnet space x hardware space."""
    JOINT_SPACES.register(name)((subnet, hardware))


def get_subnet_space(name: str) -> Space:
    return SUBNET_SPACES[name]()


def get_hardware_space(name: str) -> Space:
    return HARDWARE_SPACES[name]()


def get_space(name: str) -> JointSpace:
    """The registered joint space ``name`` (named after its subnet space)."""
    subnet, hardware = JOINT_SPACES[name]
    return JointSpace(get_subnet_space(subnet), get_hardware_space(hardware), name=name)


def list_spaces() -> list[str]:
    """Names of the registered joint spaces."""
    return sorted(JOINT_SPACES)


def list_subnet_spaces() -> list[str]:
    return sorted(SUBNET_SPACES)


def list_hardware_spaces() -> list[str]:
    return sorted(HARDWARE_SPACES)
