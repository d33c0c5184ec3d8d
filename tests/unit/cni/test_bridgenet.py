"""kin.cni.bridgenet's decisions about the bridge's gateway address, without root.

The netns tier proves the address lands on a real bridge; here a recording stand-in for
``Netlink`` pins what happens when concurrent ADDs race for the same bridge (the one
whose listing was empty finds the address there when it adds it) and when a foreign
address is in the way.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field

import pytest

from kin.cni import bridgenet
from kin.errors import CNIError, NetlinkError

pytestmark = pytest.mark.unit


@dataclass
class Addr:
    cidr: str


@dataclass
class Link:
    mac: str = "aa:bb:cc:dd:ee:ff"


@dataclass
class RacingNetlink:
    """Lists ``listed``; adding raises EEXIST when ``raced`` (another ADD added it first)."""

    listed: list[str] = field(default_factory=list)
    raced: bool = False
    calls: list[str] = field(default_factory=list)

    def list_addresses(self, link: str) -> list[Addr]:
        return [Addr(cidr) for cidr in self.listed]

    def add_address(self, link: str, cidr: str) -> None:
        self.calls.append(f"add {cidr}")
        if self.raced:
            raise NetlinkError(
                f"failed to add address {cidr} on {link!r}: File exists", errno.EEXIST
            )

    def delete_address(self, link: str, cidr: str) -> bool:
        self.calls.append(f"del {cidr}")
        return True

    def get_link(self, name: str) -> Link:
        return Link()

    def set_link(self, name: str, **changes: object) -> None:
        self.calls.append(f"set {sorted(changes)}")


def test_an_address_added_by_a_concurrent_add_is_success() -> None:
    nl = RacingNetlink(raced=True)
    bridgenet.ensure_gateway_address(nl, "cni0", "10.244.1.1/24", force=False)  # type: ignore[arg-type]
    assert nl.calls == ["add 10.244.1.1/24"]


def test_the_address_already_there_is_left_alone() -> None:
    nl = RacingNetlink(listed=["10.244.1.1/24"])
    bridgenet.ensure_gateway_address(nl, "cni0", "10.244.1.1/24", force=False)  # type: ignore[arg-type]
    assert nl.calls == []


def test_a_new_address_pins_the_bridge_mac() -> None:
    nl = RacingNetlink()
    bridgenet.ensure_gateway_address(nl, "cni0", "10.244.1.1/24", force=False)  # type: ignore[arg-type]
    assert nl.calls == ["add 10.244.1.1/24", "set ['mac']"]


def test_other_add_failures_are_not_swallowed() -> None:
    class Refusing(RacingNetlink):
        def add_address(self, link: str, cidr: str) -> None:
            raise NetlinkError("failed to add address: Invalid argument", errno.EINVAL)

    with pytest.raises(NetlinkError, match="Invalid argument"):
        bridgenet.ensure_gateway_address(Refusing(), "cni0", "10.244.1.1/24", force=False)  # type: ignore[arg-type]


def test_a_different_ipv4_address_is_an_error_unless_forced() -> None:
    nl = RacingNetlink(listed=["10.244.9.1/24"])
    with pytest.raises(
        CNIError, match=r"already has an IP address different from 10\.244\.1\.1/24"
    ):
        bridgenet.ensure_gateway_address(nl, "cni0", "10.244.1.1/24", force=False)  # type: ignore[arg-type]
    bridgenet.ensure_gateway_address(nl, "cni0", "10.244.1.1/24", force=True)  # type: ignore[arg-type]
    assert nl.calls[:2] == ["del 10.244.9.1/24", "add 10.244.1.1/24"]
