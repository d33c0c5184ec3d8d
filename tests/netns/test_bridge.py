"""kin's bridge plugin against the reference one: same results, same kernel state, same errors.

Every plugin runs inside a throwaway "node" namespace; pods are throwaway namespaces too.
The reference plugins are Debian's containernetworking-plugins (/usr/lib/cni).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterator
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest

from kin.cni.install import install_plugins
from kin.cni.invoke import KIN_PLUGINS
from kin.linux import ns
from kin.testing.cni import REFERENCE_DIR, PluginRun, cni_env, run_plugin

VERSIONS = ["0.3.0", "0.3.1", "0.4.0", "1.0.0"]


@pytest.fixture(scope="module")
def kin_bin(tmp_path_factory: pytest.TempPathFactory) -> str:
    directory = tmp_path_factory.mktemp("kin-cni-bin")
    install_plugins(str(directory), tuple(n for n in KIN_PLUGINS if find_spec(KIN_PLUGINS[n])))
    return str(directory)


def config(tmp: Path, version: str = "1.0.0", **extra: Any) -> dict[str, Any]:
    """The delegate config kin's flannel plugin generates for a node subnet 10.244.1.0/24."""
    return {
        "cniVersion": version,
        "name": "cbr0",
        "type": "bridge",
        "hairpinMode": True,
        "isDefaultGateway": True,
        "isGateway": True,
        "ipMasq": False,
        "mtu": 1450,
        "ipam": {
            "type": "host-local",
            "dataDir": str(tmp / "ipam"),
            "ranges": [[{"subnet": "10.244.1.0/24"}]],
            "routes": [{"dst": "10.244.0.0/16"}],
        },
        **extra,
    }


class Node:
    """A throwaway node namespace and a way to run one implementation's bridge in it."""

    def __init__(self, name: str, bin_dir: str, make_ns: Callable[[], str]) -> None:
        self.name = name
        self.bin_dir = bin_dir
        self.make_ns = make_ns

    def plugin(
        self, command: str, conf: dict[str, Any], pod: str, cid: str = "c1", ifname: str = "eth0"
    ) -> PluginRun:
        env = cni_env(
            command,
            container_id=cid,
            netns=ns.netns_path(pod) if pod else "",
            ifname=ifname,
            cni_path=f"{self.bin_dir}:{REFERENCE_DIR}",
        )
        return run_plugin(os.path.join(self.bin_dir, "bridge"), self.name, env, conf)

    def ip(self, *argv: str, where: str = "") -> Any:
        out = subprocess.run(
            ["ip", "-j", "-d", "-n", where or self.name, *argv],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return json.loads(out) if out.strip() else []

    def sysctl(self, key: str) -> str:
        argv = ["ip", "netns", "exec", self.name, "sysctl", "-n", key]
        return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def nodes(kin_bin: str, netns_factory: Callable[[], str]) -> Iterator[tuple[Node, Node]]:
    """(kin's node, the reference's node), each its own namespace with its own cni0."""
    yield (
        Node(netns_factory(), kin_bin, netns_factory),
        Node(netns_factory(), REFERENCE_DIR, netns_factory),
    )


def normalise(result: Any) -> Any:
    """Drop what is random per run (MACs, the host veth's name) and keep the shape."""
    result = json.loads(json.dumps(result))
    for iface in result.get("interfaces", []):
        if iface.get("mac"):
            iface["mac"] = "MAC"
        if iface["name"].startswith("veth"):
            iface["name"] = "veth*"
        if iface.get("sandbox"):
            iface["sandbox"] = "SANDBOX"
    return result


def kernel_state(node: Node, pod: str) -> dict[str, Any]:
    bridge = node.ip("link", "show", "cni0")[0]
    veths = [link for link in node.ip("link", "show", "type", "veth")]
    ports = subprocess.run(
        ["bridge", "-j", "-n", node.name, "link", "show"], capture_output=True, text=True
    ).stdout
    return {
        "bridge": (bridge["mtu"], bridge["linkinfo"]["info_kind"], "UP" in bridge["flags"]),
        "bridge_addr": [
            (a["local"], a["prefixlen"])
            for a in node.ip("addr", "show", "cni0")[0]["addr_info"]
            if a["family"] == "inet"
        ],
        "veths": [(v["mtu"], v.get("master"), "UP" in v["flags"]) for v in veths],
        "hairpin": [p.get("hairpin") for p in json.loads(ports)],
        "pod_addr": [
            (a["local"], a["prefixlen"])
            for a in node.ip("addr", "show", "eth0", where=pod)[0]["addr_info"]
            if a["family"] == "inet"
        ],
        "pod_mtu": node.ip("link", "show", "eth0", where=pod)[0]["mtu"],
        "pod_routes": sorted(
            (r["dst"], r.get("gateway", "")) for r in node.ip("route", "show", where=pod)
        ),
        "ip_forward": node.sysctl("net.ipv4.ip_forward"),
    }


@pytest.mark.parametrize("version", VERSIONS)
def test_same_result_and_kernel_state_as_the_reference(
    nodes: tuple[Node, Node], tmp_path: Path, version: str
) -> None:
    outcomes = []
    for node in nodes:
        pod = node.make_ns()
        conf = config(tmp_path / node.bin_dir.strip("/").replace("/", "_"), version)
        result = node.plugin("ADD", conf, pod).ok()
        outcomes.append((normalise(result), kernel_state(node, pod)))
    (kin_result, kin_state), (ref_result, ref_state) = outcomes
    assert kin_result == ref_result
    assert kin_state == ref_state
    assert kin_state["bridge_addr"] == [("10.244.1.1", 24)]
    assert kin_state["ip_forward"] == "1"


def test_pods_on_one_bridge_reach_each_other_and_del_releases_everything(
    nodes: tuple[Node, Node], tmp_path: Path
) -> None:
    node = nodes[0]
    conf = config(tmp_path)
    pods = [node.make_ns() for _ in range(2)]
    addrs = [
        node.plugin("ADD", conf, pod, cid=f"c{i}").ok()["ips"][0]["address"].split("/")[0]
        for i, pod in enumerate(pods)
    ]
    ping = subprocess.run(
        ["ip", "netns", "exec", pods[0], "ping", "-c1", "-W2", addrs[1]], capture_output=True
    )
    assert ping.returncode == 0
    for i, pod in enumerate(pods):
        for _ in range(2):  # DEL twice succeeds
            assert node.plugin("DEL", conf, pod, cid=f"c{i}").code == 0
    assert node.ip("link", "show", "type", "veth") == []
    assert sorted(os.listdir(tmp_path / "ipam" / "cbr0")) == ["last_reserved_ip.0", "lock"]


def test_del_after_the_pod_namespace_is_gone_still_releases_the_address(
    nodes: tuple[Node, Node], tmp_path: Path
) -> None:
    node = nodes[0]
    conf = config(tmp_path)
    pod = node.make_ns()
    node.plugin("ADD", conf, pod).ok()
    ns.delete_netns(pod)
    gone = node.plugin("DEL", conf, pod)
    assert gone.code == 0, gone.out
    assert not (tmp_path / "ipam" / "cbr0" / "10.244.1.2").exists()


def test_add_with_an_existing_interface_name_fails_and_holds_no_address(
    nodes: tuple[Node, Node], tmp_path: Path
) -> None:
    node = nodes[0]
    conf = config(tmp_path)
    pod = node.make_ns()
    node.plugin("ADD", conf, pod).ok()
    again = node.plugin("ADD", conf, pod, cid="c2")
    assert again.code == 1
    assert again.out["msg"] == "container veth name provided (eth0) already exists"
    assert sorted(p.name for p in (tmp_path / "ipam" / "cbr0").iterdir()) == [
        "10.244.1.2",
        "last_reserved_ip.0",
        "lock",
    ]


def test_a_bridge_with_another_address_is_refused_unless_force_address(
    nodes: tuple[Node, Node], tmp_path: Path
) -> None:
    node = nodes[0]
    pod = node.make_ns()
    node.plugin("ADD", config(tmp_path), pod).ok()
    other = config(tmp_path / "b")
    other["ipam"]["ranges"] = [[{"subnet": "10.99.0.0/24"}]]
    second = node.make_ns()
    refused = node.plugin("ADD", other, second, cid="c2")
    assert refused.code == 1
    assert refused.out["msg"] == (
        'failed to set bridge addr: "cni0" already has an IP address different from 10.99.0.1/24'
    )
    # the failed ADD left no address reserved and no veth behind
    held = [p.name for p in (tmp_path / "b" / "ipam" / "cbr0").iterdir() if p.name[0].isdigit()]
    assert held == []
    assert len(node.ip("link", "show", "type", "veth")) == 1
    assert node.ip("link", "show", where=second)[-1]["ifname"] == "lo"
    assert node.plugin("DEL", other, second, cid="c2").code == 0  # the runtime's DEL after it
    other["forceAddress"] = True
    node.plugin("ADD", other, second, cid="c2").ok()
    addrs = [
        a["local"] for a in node.ip("addr", "show", "cni0")[0]["addr_info"] if a["family"] == "inet"
    ]
    assert addrs == ["10.99.0.1"]


def test_check_passes_after_add_and_fails_when_the_address_is_gone(
    nodes: tuple[Node, Node], tmp_path: Path
) -> None:
    node = nodes[0]
    conf = config(tmp_path)
    pod = node.make_ns()
    result = node.plugin("ADD", conf, pod).ok()
    checked = {**conf, "prevResult": result}
    assert node.plugin("CHECK", checked, pod).code == 0
    subprocess.run(["ip", "-n", pod, "addr", "flush", "dev", "eth0"], check=True)
    failed = node.plugin("CHECK", checked, pod)
    assert failed.code == 1 and "Failed to match addr 10.244.1.2/24" in failed.out["msg"]


def test_check_needs_version_0_4_0(nodes: tuple[Node, Node], tmp_path: Path) -> None:
    node = nodes[0]
    pod = node.make_ns()
    old = node.plugin("CHECK", config(tmp_path, "0.3.1"), pod)
    assert (old.code, old.out["code"], old.out["msg"]) == (
        1,
        1,
        "config version does not allow CHECK",
    )


def test_promiscuous_bridge_and_the_hairpin_conflict(
    nodes: tuple[Node, Node], tmp_path: Path
) -> None:
    node = nodes[0]
    pod = node.make_ns()
    both = node.plugin("ADD", config(tmp_path, promiscMode=True), pod)
    assert both.code == 1
    assert both.out == {
        "cniVersion": "1.0.0",
        "code": 7,
        "msg": "cannot set hairpin mode and promiscuous mode at the same time.",
    }
    conf = config(tmp_path, promiscMode=True, hairpinMode=False)
    node.plugin("ADD", conf, pod).ok()
    assert node.ip("link", "show", "cni0")[0]["promiscuity"] >= 1


def test_unsupported_fields_name_themselves(nodes: tuple[Node, Node], tmp_path: Path) -> None:
    node = nodes[0]
    refused = node.plugin("ADD", config(tmp_path, vlan=100), node.make_ns())
    assert (refused.out["code"], refused.out["msg"]) == (2, "unsupported field vlan: 100")


def masquerade_source(node: Node, pod: str, outside: str) -> str:
    """The source address a server outside the node sees for the pod's UDP packet."""
    server = subprocess.Popen(
        ["ip", "netns", "exec", outside, "python3", "-c",
         "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
         "s.bind(('0.0.0.0', 9999)); print('ready', flush=True); print(s.recvfrom(64)[1][0])"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None and server.stdout.readline() == "ready\n"
        subprocess.run(
            ["ip", "netns", "exec", pod, "python3", "-c",
             "import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM)"
             ".sendto(b'x', ('192.168.77.2', 9999))"],
            check=True,
        )  # fmt: skip
        return server.stdout.readline().strip()
    finally:
        server.kill()
        server.wait()
        if server.stdout:
            server.stdout.close()


def attach_outside(node: Node, outside: str) -> None:
    """A veth from the node to an "outside" namespace: 192.168.77.1 (node) - .2 (outside)."""
    subprocess.run(
        ["ip", "-n", node.name, "link", "add", "up0", "type", "veth", "peer", "name", "eth0",
         "netns", outside], check=True,
    )  # fmt: skip
    for where, addr, dev in (
        (node.name, "192.168.77.1/24", "up0"),
        (outside, "192.168.77.2/24", "eth0"),
    ):
        subprocess.run(["ip", "-n", where, "addr", "add", addr, "dev", dev], check=True)
        subprocess.run(["ip", "-n", where, "link", "set", dev, "up"], check=True)


@pytest.mark.parametrize("masq", [True, False])
def test_ip_masq_changes_what_the_outside_sees(
    nodes: tuple[Node, Node], tmp_path: Path, masq: bool
) -> None:
    for node in nodes:  # the reference masquerades with iptables, kin with nftables
        pod, outside = node.make_ns(), node.make_ns()
        attach_outside(node, outside)
        conf = config(tmp_path / node.bin_dir.strip("/").replace("/", "_"), ipMasq=masq)
        pod_ip = node.plugin("ADD", conf, pod).ok()["ips"][0]["address"].split("/")[0]
        seen = masquerade_source(node, pod, outside)
        assert seen == ("192.168.77.1" if masq else pod_ip), node.bin_dir
        assert node.plugin("DEL", conf, pod).code == 0
    kin_rules = subprocess.run(
        ["ip", "netns", "exec", nodes[0].name, "nft", "list", "chain", "inet",
         "cni_plugins_masquerade", "masq_checks"], capture_output=True, text=True,
    ).stdout  # fmt: skip
    assert "saddr" not in kin_rules  # the rule went with the DEL; the empty chain stays
