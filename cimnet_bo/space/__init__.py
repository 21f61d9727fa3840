"""Search spaces: choices, subnet spaces, CiM hardware spaces and joint spaces."""

from cimnet_bo.space.choice import INACTIVE_CODE, Choice, Condition
from cimnet_bo.space.joint import JointSpace
from cimnet_bo.space.like import (
    AnySpace,
    SpaceError,
    SpaceLike,
    accuracy_on_chip,
    as_space,
    hardware_side,
    is_joint,
    space_from_meta,
    subnet_side,
)
from cimnet_bo.space.registry import (
    HARDWARE_SPACES,
    JOINT_SPACES,
    SUBNET_SPACES,
    get_hardware_space,
    get_space,
    get_subnet_space,
    list_hardware_spaces,
    list_spaces,
    list_subnet_spaces,
    register_joint,
)
from cimnet_bo.space.space import Config, Space, depth_choices

__all__ = [
    "AnySpace",
    "SpaceError",
    "SpaceLike",
    "accuracy_on_chip",
    "as_space",
    "hardware_side",
    "is_joint",
    "space_from_meta",
    "subnet_side",
    "INACTIVE_CODE",
    "Choice",
    "Condition",
    "Config",
    "JointSpace",
    "Space",
    "depth_choices",
    "get_space",
    "get_subnet_space",
    "get_hardware_space",
    "list_spaces",
    "list_subnet_spaces",
    "list_hardware_spaces",
    "SUBNET_SPACES",
    "HARDWARE_SPACES",
    "JOINT_SPACES",
    "register_joint",
]
