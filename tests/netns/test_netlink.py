"""kin.linux.netlink against the real kernel, checked independently with iproute2.

Every test works in throwaway namespaces from the ``netns``/``netns_factory``
fixtures: the ``nl`` fixture opens the socket on a thread inside the namespace
(``ns.run_in``) and refuses to go on unless that namespace holds only ``lo``, so
nothing here can reach the root namespace. What the library did is then read
back with ``ip -j -n NS`` and ``bridge -j -n NS``, never with the library itself.
"""

from __future__ import annotations

import errno
import json
import os
import re
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from kin.errors import LinkNotFound, NetlinkError, NetworkSetupError
from kin.linux import ns
from kin.linux.netlink import Netlink
from kin.linux.netlink.route import RTPROT_STATIC


def open_in(name: str) -> Netlink:
    """A Netlink bound to namespace ``name``, which must be fresh (only ``lo``)."""
    client = ns.run_in(ns.netns_path(name), Netlink)
    if [link.name for link in client.list_links()] != ["lo"]:
        client.close()
        raise AssertionError(f"netlink socket is not in the fresh namespace {name!r}")
    return client


@pytest.fixture
def nl(netns: str) -> Iterator[Netlink]:
    with open_in(netns) as client:
        yield client


@pytest.fixture
def netns_fd(netns_factory: Callable[[], str]) -> Iterator[tuple[str, int]]:
    """A second throwaway namespace: its name and an open fd to it."""
    name = netns_factory()
    fd = os.open(ns.netns_path(name), os.O_RDONLY | os.O_CLOEXEC)
    try:
        yield name, fd
    finally:
        os.close(fd)


def ip_json(netns: str, *args: str, tool: str = "ip") -> Any:
    done = subprocess.run(
        [tool, "-j", "-n", netns, *args], check=True, capture_output=True, text=True
    )
    return json.loads(done.stdout or "[]")


def ip_link(netns: str, name: str) -> dict[str, Any]:
    (link,) = ip_json(netns, "-d", "link", "show", "dev", name)
    return dict(link)


def link_names(netns: str) -> list[str]:
    return [link["ifname"] for link in ip_json(netns, "link", "show")]


def veth_up(nl: Netlink, name: str = "kv0", peer: str = "kv1") -> None:
    nl.add_veth(name, peer)
    nl.set_link(name, up=True)
    nl.set_link(peer, up=True)


# --- links ----------------------------------------------------------------------------------


def test_add_veth(nl: Netlink, netns: str) -> None:
    nl.add_veth("kv0", "kv1", mtu=1400, mac="02:00:00:00:00:01")
    kv0, kv1 = ip_link(netns, "kv0"), ip_link(netns, "kv1")
    assert kv0["linkinfo"]["info_kind"] == kv1["linkinfo"]["info_kind"] == "veth"
    assert kv0["mtu"] == kv1["mtu"] == 1400
    assert kv0["address"] == "02:00:00:00:00:01"
    link = nl.get_link("kv0")
    assert (link.index, link.kind, link.mtu, link.mac) == (
        kv0["ifindex"],
        "veth",
        1400,
        "02:00:00:00:00:01",
    )
    assert link.peer_index == kv1["ifindex"] and link.link_netnsid is None
    assert nl.get_link(kv1["ifindex"]).name == "kv1"
    assert [x.name for x in nl.list_links()] == ["lo", "kv1", "kv0"]


def test_add_veth_with_the_peer_in_another_namespace(
    nl: Netlink, netns: str, netns_fd: tuple[str, int]
) -> None:
    other, fd = netns_fd
    nl.add_veth("kv0", "kv1", peer_netns_fd=fd, mtu=1450)
    assert link_names(netns) == ["lo", "kv0"]
    assert link_names(other) == ["lo", "kv1"]
    peer = ip_link(other, "kv1")
    assert peer["mtu"] == 1450
    link = nl.get_link("kv0")
    assert link.link_netnsid is not None and link.peer_index == peer["ifindex"]


def test_bridge_port_master_up_and_hairpin(nl: Netlink, netns: str) -> None:
    nl.add_bridge("kbr0", mtu=1400)
    nl.add_veth("kv0", "kv1")
    nl.set_link("kv0", master="kbr0", up=True)
    nl.set_hairpin("kv0", True)
    (port,) = ip_json(netns, "-d", "link", "show", "dev", "kv0", tool="bridge")
    assert port["master"] == "kbr0" and port["hairpin"] is True
    assert "UP" in ip_link(netns, "kv0")["flags"]
    assert ip_link(netns, "kbr0")["linkinfo"]["info_kind"] == "bridge"
    link = nl.get_link("kv0")
    assert link.up and link.master == nl.link_index("kbr0")
    assert link.bridge_port is not None and link.bridge_port.hairpin
    nl.set_hairpin("kv0", False)
    (port,) = ip_json(netns, "-d", "link", "show", "dev", "kv0", tool="bridge")
    assert port["hairpin"] is False
    nl.set_link("kv0", nomaster=True, up=False)
    assert "master" not in ip_link(netns, "kv0") and "UP" not in ip_link(netns, "kv0")["flags"]
    assert nl.get_link("kv0").bridge_port is None


def test_add_vxlan(nl: Netlink, netns: str) -> None:
    nl.add_veth("kv0", "kv1")
    nl.add_vxlan("kvx0", 42, "10.0.0.1", nl.link_index("kv0"), mtu=1450)
    info = ip_link(netns, "kvx0")["linkinfo"]
    assert info["info_kind"] == "vxlan"
    data = info["info_data"]
    assert (data["id"], data["local"], data["link"], data["port"], data["learning"]) == (
        42,
        "10.0.0.1",
        "kv0",
        8472,
        False,
    )
    vxlan = nl.get_link("kvx0").vxlan
    assert vxlan is not None
    assert (vxlan.vni, vxlan.local, vxlan.port, vxlan.learning, vxlan.dev_index) == (
        42,
        "10.0.0.1",
        8472,
        False,
        nl.link_index("kv0"),
    )
    nl.add_vxlan("kvx1", 43, "10.0.0.1", nl.link_index("kv0"), port=4789, learning=True)
    data = ip_link(netns, "kvx1")["linkinfo"]["info_data"]
    assert (data["port"], data["learning"]) == (4789, True)


def test_set_link(nl: Netlink, netns: str) -> None:
    nl.add_veth("kv0", "kv1")
    nl.set_link("kv0", mtu=1300, mac="02:00:00:00:00:0a", promisc=True)
    link = ip_link(netns, "kv0")
    assert (link["mtu"], link["address"], link["promiscuity"]) == (1300, "02:00:00:00:00:0a", 1)
    nl.set_link("kv0", new_name="kren0", promisc=False)
    assert link_names(netns) == ["lo", "kv1", "kren0"]
    assert ip_link(netns, "kren0")["promiscuity"] == 0
    nl.set_link(nl.link_index("kren0"), up=True)
    assert nl.get_link("kren0").up


def test_set_link_moves_to_another_namespace(
    nl: Netlink, netns: str, netns_fd: tuple[str, int]
) -> None:
    other, fd = netns_fd
    nl.add_veth("kv0", "kv1")
    nl.set_link("kv1", netns_fd=fd, mtu=1280)
    assert link_names(netns) == ["lo", "kv0"]
    assert ip_link(other, "kv1")["mtu"] == 1280


def test_delete_link_is_quiet_when_absent(nl: Netlink, netns: str) -> None:
    nl.add_bridge("kbr0")
    assert nl.delete_link("kbr0") is True
    assert link_names(netns) == ["lo"]
    assert nl.delete_link("kbr0") is False
    assert nl.delete_link(4242) is False


def test_link_errors(nl: Netlink, netns: str) -> None:
    with pytest.raises(
        LinkNotFound, match=r"failed to get link 'knone0': No such device"
    ) as missing:
        nl.get_link("knone0")
    assert missing.value.errno == errno.ENODEV
    with pytest.raises(LinkNotFound, match="set link 'knone0'"):
        nl.set_link("knone0", up=True)
    with pytest.raises(LinkNotFound, match="get link 'knone1'"):  # the master named
        nl.set_link("lo", master="knone1")
    nl.add_bridge("kbr0")
    with pytest.raises(NetlinkError, match="failed to add bridge 'kbr0': File exists") as ctx:
        nl.add_bridge("kbr0")
    assert ctx.value.errno == errno.EEXIST
    with pytest.raises(NetlinkError, match="add veth 'kv0' with peer 'kbr0'") as ctx:
        nl.add_veth("kv0", "kbr0")
    assert ctx.value.errno == errno.EEXIST
    with pytest.raises(NetlinkError, match="bridge port 'kbr0'"):
        nl.set_hairpin("kbr0", True)
    assert link_names(netns) == ["lo", "kbr0"]


def test_bad_names_are_refused_before_the_kernel_sees_them(nl: Netlink, netns: str) -> None:
    with pytest.raises(NetworkSetupError, match="'kinverylongname0' is 16 bytes long"):
        nl.add_bridge("kinverylongname0")
    with pytest.raises(NetworkSetupError, match="is 16 bytes long"):
        nl.add_veth("kv0", "kinverylongname1")
    with pytest.raises(NetworkSetupError, match="no '/', ':' or whitespace"):
        nl.add_bridge("k br")
    assert link_names(netns) == ["lo"]


def test_kernel_explanations_are_in_the_error(nl: Netlink) -> None:
    nl.add_veth("kv0", "kv1")
    with pytest.raises(NetlinkError, match=r"\(VXLAN ID must be lower than 16777216\)") as ctx:
        nl.add_vxlan("kvx0", 1 << 25, "10.0.0.1", nl.link_index("kv0"))
    assert ctx.value.errno == errno.ERANGE


# --- addresses ------------------------------------------------------------------------------


def addresses(netns: str, dev: str) -> list[tuple[str, str, int, str | None]]:
    (link,) = ip_json(netns, "addr", "show", "dev", dev)
    return [
        (a["family"], a["local"], a["prefixlen"], a.get("broadcast"))
        for a in link["addr_info"]
        if a["scope"] != "link"
    ]


def test_addresses(nl: Netlink, netns: str) -> None:
    nl.add_veth("kv0", "kv1")
    nl.add_address("kv0", "10.244.1.1/24")
    nl.add_address("kv0", "10.244.2.1/31")
    nl.add_address("kv0", "10.244.3.1/16", broadcast=False)
    nl.add_address(nl.link_index("kv0"), "fd00::1/64")
    assert addresses(netns, "kv0") == [
        ("inet", "10.244.1.1", 24, "10.244.1.255"),
        ("inet", "10.244.2.1", 31, None),
        ("inet", "10.244.3.1", 16, None),
        ("inet6", "fd00::1", 64, None),
    ]
    assert [a.cidr for a in nl.list_addresses("kv0")] == [
        "10.244.1.1/24",
        "10.244.2.1/31",
        "10.244.3.1/16",
        "fd00::1/64",
    ]
    assert [a.cidr for a in nl.list_addresses("kv0", family=10)] == ["fd00::1/64"]
    assert nl.list_addresses("kv1") == []
    assert nl.list_addresses()[0].address == "10.244.1.1"


def test_address_replace_duplicate_and_delete(nl: Netlink, netns: str) -> None:
    nl.add_veth("kv0", "kv1")
    nl.add_address("kv0", "10.244.1.1/24")
    with pytest.raises(NetlinkError, match=re.escape("add address 10.244.1.1/24 on 'kv0'")) as ctx:
        nl.add_address("kv0", "10.244.1.1/24")
    assert ctx.value.errno == errno.EEXIST
    nl.replace_address("kv0", "10.244.1.1/24")  # there already: only flags would change
    nl.replace_address("kv0", "10.244.9.1/24", broadcast="10.244.9.254")  # new: added
    assert addresses(netns, "kv0") == [
        ("inet", "10.244.1.1", 24, "10.244.1.255"),
        ("inet", "10.244.9.1", 24, "10.244.9.254"),
    ]
    assert nl.delete_address("kv0", "10.244.9.1/24") is True
    nl.add_address("kv0", "fd00::1/64")
    assert nl.delete_address("kv0", "10.244.1.1/24") is True
    assert nl.delete_address("kv0", "fd00::1/64") is True
    assert addresses(netns, "kv0") == []
    assert nl.delete_address("kv0", "10.244.1.1/24") is False
    assert nl.delete_address("knone0", "10.244.1.1/24") is False
    with pytest.raises(LinkNotFound):
        nl.add_address("knone0", "10.244.1.1/24")


# --- routes ---------------------------------------------------------------------------------


def ip_routes(netns: str, *args: str, family: str = "-4") -> list[dict[str, Any]]:
    return [dict(route) for route in ip_json(netns, family, "route", "show", *args)]


def test_routes(nl: Netlink, netns: str) -> None:
    veth_up(nl)
    nl.add_address("kv0", "10.0.0.1/24")
    nl.add_route("10.5.0.0/16", gateway="10.0.0.2")
    nl.add_route("default", gateway="10.0.0.254", metric=50)
    nl.add_route("10.6.0.0/24", oif="kv0")
    nl.add_route("10.7.0.0/24", gateway="192.168.99.1", oif="kv0", onlink=True)
    nl.add_route("10.8.0.0/24", oif="kv0", table=100, protocol=RTPROT_STATIC, src="10.0.0.1")
    shown = {route["dst"]: route for route in ip_routes(netns)}
    assert shown["default"]["gateway"] == "10.0.0.254" and shown["default"]["metric"] == 50
    assert shown["10.5.0.0/16"]["gateway"] == "10.0.0.2" and shown["10.5.0.0/16"]["dev"] == "kv0"
    assert shown["10.6.0.0/24"]["scope"] == "link"
    assert shown["10.7.0.0/24"]["flags"] == ["onlink"]
    (in_100,) = ip_routes(netns, "table", "100")
    assert (in_100["dst"], in_100["protocol"], in_100["prefsrc"]) == (
        "10.8.0.0/24",
        "static",
        "10.0.0.1",
    )
    index = nl.link_index("kv0")
    listed = {route.dst: route for route in nl.list_routes()}
    assert listed["0.0.0.0/0"].gateway == "10.0.0.254" and listed["0.0.0.0/0"].metric == 50
    assert listed["10.7.0.0/24"].onlink and listed["10.6.0.0/24"].oif == index
    assert set(listed) == {"0.0.0.0/0", "10.0.0.0/24", "10.5.0.0/16", "10.6.0.0/24", "10.7.0.0/24"}
    (route,) = nl.list_routes(table=100)
    assert (route.dst, route.table, route.protocol, route.src) == (
        "10.8.0.0/24",
        100,
        RTPROT_STATIC,
        "10.0.0.1",
    )


def test_route_replace_duplicate_delete_and_ipv6(nl: Netlink, netns: str) -> None:
    veth_up(nl)
    nl.add_address("kv0", "10.0.0.1/24")
    nl.add_route("10.5.0.0/16", gateway="10.0.0.2")
    with pytest.raises(NetlinkError, match=re.escape("add route 10.5.0.0/16 via 10.0.0.3")) as ctx:
        nl.add_route("10.5.0.0/16", gateway="10.0.0.3")
    assert ctx.value.errno == errno.EEXIST
    nl.replace_route("10.5.0.0/16", gateway="10.0.0.3")
    (route,) = [r for r in ip_routes(netns) if r["dst"] == "10.5.0.0/16"]
    assert route["gateway"] == "10.0.0.3"
    nl.add_route("fd01::/64", oif="kv0")
    assert any(r["dst"] == "fd01::/64" for r in ip_routes(netns, family="-6"))
    assert [r.dst for r in nl.list_routes(10) if r.dst.startswith("fd01")] == ["fd01::/64"]
    assert nl.delete_route("10.5.0.0/16") is True
    assert nl.delete_route("fd01::/64") is True
    assert nl.delete_route("10.5.0.0/16") is False
    assert nl.delete_route("10.9.0.0/16", table=100) is False
    assert [r["dst"] for r in ip_routes(netns)] == ["10.0.0.0/24"]
    with pytest.raises(
        NetlinkError, match=re.escape("add route 10.9.0.0/16 via 172.31.0.1")
    ) as ctx:
        nl.add_route("10.9.0.0/16", gateway="172.31.0.1")
    assert ctx.value.errno == errno.ENETUNREACH


# --- neighbours and FDB ---------------------------------------------------------------------


def test_neighbours(nl: Netlink, netns: str) -> None:
    nl.add_veth("kv0", "kv1")
    nl.replace_neighbour("kv0", "10.244.1.0", "02:00:00:00:00:09")
    nl.replace_neighbour("kv0", "10.244.1.0", "02:00:00:00:00:0a")
    nl.add_neighbour("kv0", "fd00::9", "02:00:00:00:00:0b")
    shown = ip_json(netns, "neigh", "show", "dev", "kv0")
    assert [(n["dst"], n["lladdr"], n["state"]) for n in shown] == [
        ("10.244.1.0", "02:00:00:00:00:0a", ["PERMANENT"]),
        ("fd00::9", "02:00:00:00:00:0b", ["PERMANENT"]),
    ]
    listed = nl.list_neighbours("kv0")
    assert [(n.address, n.lladdr, n.permanent) for n in listed] == [
        ("10.244.1.0", "02:00:00:00:00:0a", True),
        ("fd00::9", "02:00:00:00:00:0b", True),
    ]
    with pytest.raises(NetlinkError, match="add neighbour fd00::9") as ctx:
        nl.add_neighbour("kv0", "fd00::9", "02:00:00:00:00:0c")
    assert ctx.value.errno == errno.EEXIST
    assert nl.delete_neighbour("kv0", "10.244.1.0") is True
    assert nl.delete_neighbour("kv0", "10.244.1.0") is False
    assert nl.delete_neighbour("knone0", "10.244.1.0") is False
    assert [n["dst"] for n in ip_json(netns, "neigh", "show", "dev", "kv0")] == ["fd00::9"]


def fdb(netns: str, dev: str) -> list[tuple[str, str | None, Any, Any]]:
    shown = ip_json(netns, "fdb", "show", "dev", dev, tool="bridge")
    return [(e["mac"], e.get("dst"), e.get("flags"), e.get("state")) for e in shown]


def test_fdb(nl: Netlink, netns: str) -> None:
    nl.add_veth("kv0", "kv1")
    nl.add_vxlan("kvx0", 1, "10.0.0.1", nl.link_index("kv0"))
    nl.append_fdb("kvx0", "00:00:00:00:00:00", "192.168.1.1")
    nl.append_fdb("kvx0", "00:00:00:00:00:00", "192.168.1.2")
    nl.replace_fdb("kvx0", "02:00:00:00:00:0a", "192.168.1.3")
    zero, vtep = "00:00:00:00:00:00", "02:00:00:00:00:0a"
    assert sorted(fdb(netns, "kvx0")) == [
        (zero, "192.168.1.1", ["self"], "permanent"),
        (zero, "192.168.1.2", ["self"], "permanent"),
        (vtep, "192.168.1.3", ["self"], "permanent"),
    ]
    listed = sorted((e.mac, e.dst, e.permanent) for e in nl.list_fdb("kvx0"))
    assert listed == [
        (zero, "192.168.1.1", True),
        (zero, "192.168.1.2", True),
        (vtep, "192.168.1.3", True),
    ]
    assert nl.delete_fdb("kvx0", zero, "192.168.1.1") is True
    assert nl.delete_fdb("kvx0", vtep) is True
    assert nl.delete_fdb("kvx0", vtep) is False
    assert nl.delete_fdb("knone0", vtep) is False
    assert fdb(netns, "kvx0") == [(zero, "192.168.1.2", ["self"], "permanent")]


# --- the socket -----------------------------------------------------------------------------


def test_socket_stays_in_its_namespace_from_any_thread(netns: str) -> None:
    nl = open_in(netns)  # opened on a thread inside netns, used from this one
    with nl:
        nl.add_bridge("kbr0")
    assert link_names(netns) == ["lo", "kbr0"]
    nl.close()
    assert nl.closed
