"""One answer to "is this a name, a space or a joint space?".

Functions of every layer accept a :data:`SpaceLike` (a registered name, a :class:`Space` or a
:class:`JointSpace`) and turn it into a space with :func:`as_space`; :func:`subnet_side` and
:func:`hardware_side` give the two halves of a joint space (a plain space is all subnet), and
:func:`space_from_meta` rebuilds the space that stored metadata (a run store, a dataset) names.
"""

from __future__ import annotations

from typing import Any, Mapping, Union

from cimnet_bo.core import CimnetError
from cimnet_bo.space.joint import JointSpace
from cimnet_bo.space.registry import get_space, list_spaces
from cimnet_bo.space.space import Space


class SpaceError(CimnetError, ValueError):
    """Not a space, or stored metadata that names no space this installation can rebuild."""


#: A space given by value or by registered name.
SpaceLike = Union[str, Space, JointSpace]
#: A space object: plain (subnet or hardware alone) or joint.
AnySpace = Union[Space, JointSpace]


def as_space(space: SpaceLike) -> AnySpace:
    """The space ``space`` names (a registered joint space), or ``space`` itself."""
    if isinstance(space, str):
        return get_space(space)
    if isinstance(space, (Space, JointSpace)):
        return space
    raise SpaceError(f"expected a space or the name of a registered space, got {type(space).__name__}")


def is_joint(space: AnySpace) -> bool:
    """True for a subnet x hardware space."""
    return isinstance(space, JointSpace)


def subnet_side(space: AnySpace) -> Space:
    """The subnet half of a joint space; a plain space itself."""
    return space.subnet if isinstance(space, JointSpace) else space


def accuracy_on_chip(space: AnySpace) -> bool:
    """True for a joint space whose hardware declares that accuracy is computed on the chip
    (``meta["accuracy_on_chip"]``: the hardware-aware spaces, e.g. ``vit-fmnist-hwa``)."""
    return isinstance(space, JointSpace) and bool(space.hardware.meta.get("accuracy_on_chip"))


def hardware_side(space: AnySpace) -> Space | None:
    """The hardware half of a joint space; None for a plain space."""
    return space.hardware if isinstance(space, JointSpace) else None


def space_from_meta(meta: Mapping[str, Any], where: str = "the metadata") -> AnySpace:
    """The space stored metadata describes: the registered space of that name when its version
    matches, else the space rebuilt from the stored description (``space_def``).

    Parameters
    ----------
    meta : mapping
        ``space`` (name), ``space_version`` and ``space_def`` (``Space.to_dict()`` /
        ``JointSpace.to_dict()``), as run stores and datasets record them.
    where : str
        Names the source in errors.
    """
    name = meta.get("space")
    if not name:
        raise SpaceError(f"{where} does not say which space it belongs to")
    if name in list_spaces():
        s = get_space(name)
        if s.version == meta.get("space_version"):
            return s
    d = meta.get("space_def")
    if not d:
        raise SpaceError(
            f"{where}: space {name!r} version {meta.get('space_version')!r} is not registered "
            "and there is no description of it"
        )
    return JointSpace.from_dict(d) if "subnet" in d else Space.from_dict(d)


__all__ = [
    "SpaceError",
    "SpaceLike",
    "AnySpace",
    "as_space",
    "is_joint",
    "subnet_side",
    "hardware_side",
    "space_from_meta",
]
