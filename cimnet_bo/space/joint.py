"""Joint spaces: a subnet space times a hardware space, with either side freezable."""

from __future__ import annotations

from typing import Any, Mapping

from cimnet_bo.space.space import Config, Space


class JointSpace(Space):
    """Subnet space x hardware space; a configuration is one flat dict over both.

    Parameters
    ----------
    subnet, hardware : Space
        The two halves. Their choice names must not overlap.
    name : str, optional
        Defaults to the subnet space's name.
    """

    def __init__(self, subnet: Space, hardware: Space, name: str | None = None) -> None:
        clash = sorted(set(subnet.names) & set(hardware.names))
        if clash:
            raise ValueError(f"subnet and hardware spaces share choice names {clash}")
        self.subnet = subnet
        self.hardware = hardware
        baseline = None
        if hardware.baseline is not None:
            sub_base = subnet.baseline if subnet.baseline is not None else subnet.extreme("max")
            baseline = {**sub_base, **hardware.baseline}
        super().__init__(
            name or subnet.name,
            subnet.choices + hardware.choices,
            family=subnet.family,
            meta={"subnet": subnet.to_dict(), "hardware": hardware.to_dict()},
            baseline=baseline,
            version=f"{subnet.version}+{hardware.version}",
        )

    def __repr__(self) -> str:
        return f"JointSpace({self.name!r}: {self.subnet.name} x {self.hardware.name}, size={self.size:.3g})"

    def split(self, config: Mapping[str, Any]) -> tuple[Config, Config]:
        """(subnet config, hardware config) of a joint configuration (validated)."""
        cfg = self.validate(config)
        return ({n: cfg[n] for n in self.subnet.names}, {n: cfg[n] for n in self.hardware.names})

    def join(self, subnet: Mapping[str, Any], hardware: Mapping[str, Any]) -> Config:
        return self.validate({**subnet, **hardware})

    def freeze(
        self, subnet: Mapping[str, Any] | str | None = None, hardware: Mapping[str, Any] | str | None = None
    ) -> "JointSpace":
        """Fix one side: ``freeze(hardware="baseline")`` gives model-only search,
        ``freeze(subnet="max")`` hardware-only search.

        A side is a configuration dict of that side's space, or one of ``"max"``, ``"min"``,
        ``"baseline"``.
        """
        sub, hw = self.subnet, self.hardware
        if subnet is not None:
            sub = sub.fix(_resolve(sub, subnet), name=f"{sub.name}[frozen]")
        if hardware is not None:
            hw = hw.fix(_resolve(hw, hardware), name=f"{hw.name}[frozen]")
        return JointSpace(sub, hw, name=self.name)

    def to_dict(self) -> dict:
        return {"name": self.name, "subnet": self.subnet.to_dict(), "hardware": self.hardware.to_dict()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "JointSpace":  # type: ignore[override]
        if not isinstance(d, Mapping) or "subnet" not in d or "hardware" not in d:
            raise ValueError("a joint space description needs 'subnet' and 'hardware'")
        return cls(_side(d["subnet"]), _side(d["hardware"]), d.get("name"))


def _side(d: Any) -> Space:
    """A side given as a registered name or as a full description."""
    if isinstance(d, str):
        from cimnet_bo.space.registry import get_hardware_space, get_subnet_space, list_hardware_spaces

        return get_hardware_space(d) if d in list_hardware_spaces() else get_subnet_space(d)
    return Space.from_dict(d)


def _resolve(space: Space, value: Mapping[str, Any] | str) -> Mapping[str, Any]:
    if isinstance(value, str):
        if value == "baseline":
            if space.baseline is None:
                raise ValueError(f"space {space.name!r} defines no baseline configuration")
            return space.baseline
        if value in ("max", "min"):
            return space.extreme(value)
        raise ValueError(f"expected a configuration or one of 'max', 'min', 'baseline'; got {value!r}")
    return value
