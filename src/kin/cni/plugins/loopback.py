"""CNI ``loopback``: bring ``lo`` up inside the pod's network namespace (reference: loopback.go)."""

from __future__ import annotations

import os

from kin.cni import skel, spec
from kin.errors import CNIError, NetnsNotFound
from kin.linux import ns
from kin.linux.netlink import Netlink

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NoReturn

__all__ = ["PLUGIN", "main"]

LOOPBACK_MAC = "00:00:00:00:00:00"


def _lo_up() -> list[str]:
    """Set lo up and return its addresses; refuse a lo carrying a non-loopback address."""
    with Netlink() as nl:
        nl.set_link("lo", up=True)
        cidrs = [a.cidr for a in nl.list_addresses("lo")]
    for cidr in cidrs:
        if not cidr.startswith(("127.", "::1/")):
            raise CNIError(
                spec.ERR_INTERNAL, f"loopback interface found with non-loopback address {cidr}"
            )
    return cidrs


def cmd_add(args: skel.CmdArgs) -> dict[str, Any]:
    try:
        cidrs = ns.run_in(args.netns, _lo_up)
    except NetnsNotFound as exc:
        raise CNIError(spec.ERR_INTERNAL, f"failed to open netns {args.netns!r}: {exc}") from exc
    prev = args.prev_result
    if prev is not None:
        return prev
    interface = {"name": "lo", "mac": LOOPBACK_MAC, "sandbox": args.netns}
    ips = [{"interface": 0, "address": cidr} for cidr in cidrs]
    return {"interfaces": [interface], "ips": ips, "routes": [], "dns": {}}


def _lo_down() -> None:
    with Netlink() as nl:
        nl.set_link("lo", up=False)


def cmd_del(args: skel.CmdArgs) -> None:
    if not args.netns or not os.path.exists(args.netns):
        return  # the namespace is gone, and lo with it
    ns.run_in(args.netns, _lo_down)


def _lo_is_up() -> bool:
    with Netlink() as nl:
        return nl.get_link("lo").up


def cmd_check(args: skel.CmdArgs) -> None:
    if not ns.run_in(args.netns, _lo_is_up):
        raise CNIError(spec.ERR_INTERNAL, "loopback interface is down")


PLUGIN = skel.Plugin("CNI loopback plugin (kin)", cmd_add, cmd_del, check=cmd_check)


def main() -> NoReturn:
    skel.main(PLUGIN)
