"""kube-proxy's rules, both modes, carrying real connections in throwaway namespaces.

One "node" namespace with a ``cni0`` bridge and three "pods" on it (a client, 10.244.1.2,
and two servers, .3 and .4, that answer with their own address and the client address
they see), and an "outside" namespace on the node's ``eth0`` (172.31.0.100 -> node
172.31.0.1). The rules come from ``kin.testing.proxyrules``, which runs kube-proxy's own
backend in the node namespace. The servers say who answered and whom they saw, so each
test checks the choice of endpoint and the (lack of) masquerade on real packets.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from kin.linux import ns, sysctl
from kin.linux.netlink import Netlink
from kin.testing.underlay import in_ns

pytestmark = pytest.mark.netns

CIDR = "10.244.0.0/16"
CLIENT, SERVER_A, SERVER_B = "10.244.1.2", "10.244.1.3", "10.244.1.4"
NODE_ETH, NODE_CNI, OUTSIDE = "172.31.0.1", "10.244.1.1", "172.31.0.100"
CLUSTER_IP = "10.96.0.20"
SERVER = """
import socket, socketserver, sys, threading
class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.sendall(f"{sys.argv[1]} {self.client_address[0]}\\n".encode())
class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
def udp():
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("0.0.0.0", 8080))
    while True:
        _, peer = u.recvfrom(64); u.sendto(f"{sys.argv[1]} {peer[0]}".encode(), peer)
threading.Thread(target=udp, daemon=True).start()
with Server(("0.0.0.0", 8080), Echo) as server:
    print("ready", flush=True)
    server.serve_forever()
"""
UDP_CLIENT = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
s.connect((sys.argv[1], int(sys.argv[2])))  # one source port for the whole flow
for line in sys.stdin:
    s.send(b"x")
    try:
        print(s.recv(64).decode(), flush=True)
    except OSError as exc:
        print(type(exc).__name__, flush=True)
"""
CLIENT_SCRIPT = """
import json, socket, sys
answers = []
for _ in range(int(sys.argv[3])):
    try:
        with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2) as s:
            answers.append(s.makefile().readline().strip())
    except OSError as exc:
        answers.append(type(exc).__name__ if type(exc) is not OSError else str(exc))
print(json.dumps(answers))
"""


@dataclass
class Lab:
    node: str
    client: str
    outside: str
    servers: dict[str, str]  # address -> namespace

    def apply(
        self, mode: str, services: list[Any], slices: list[Any], previous: Any = None
    ) -> None:
        """kube-proxy's rules for these objects (after ``previous``, whose stale UDP
        flows are then cleared, as the daemon clears them after a sync)."""
        request = {"mode": mode, "node": "node-a", "cluster_cidr": CIDR, "previous": previous,
                   "syncs": [{"services": services, "slices": slices}]}  # fmt: skip
        done = in_ns(self.node, sys.executable, "-m", "kin.testing.proxyrules",
                     timeout=60, stdin=json.dumps(request))  # fmt: skip
        assert done.returncode == 0, done.stderr

    def connect(self, netns: str, ip: str, port: int, times: int = 1) -> list[str]:
        done = in_ns(netns, sys.executable, "-c", CLIENT_SCRIPT, ip, str(port), str(times))
        assert done.returncode == 0, done.stderr
        return list(json.loads(done.stdout))


def _veth_into(nl: Netlink, outer: str, inner_ns: str, address: str, gateway: str) -> None:
    nl.add_veth(outer, "tmp0")
    with open(ns.netns_path(inner_ns)) as target:
        nl.set_link("tmp0", netns_fd=target.fileno(), new_name="eth0")
    with ns.run_in(ns.netns_path(inner_ns), Netlink) as inner:
        inner.add_address("eth0", address)
        for link in ("eth0", "lo"):
            inner.set_link(link, up=True)
        if gateway:
            inner.add_route("default", gateway=gateway)


@pytest.fixture
def lab(netns_factory: Callable[[], str]) -> Iterator[Lab]:
    node, client, outside = netns_factory(), netns_factory(), netns_factory()
    servers = {SERVER_A: netns_factory(), SERVER_B: netns_factory()}
    with ns.run_in(ns.netns_path(node), Netlink) as nl:
        nl.add_bridge("cni0")
        nl.add_address("cni0", f"{NODE_CNI}/24")
        nl.set_link("cni0", up=True)
        nl.set_link("lo", up=True)
        for i, (ip, pod) in enumerate([(CLIENT, client), *servers.items()]):
            _veth_into(nl, f"veth{i}", pod, f"{ip}/24", NODE_CNI)
            nl.set_link(f"veth{i}", master="cni0", up=True)
        subprocess.run(["ip", "-n", node, "link", "set", "veth1", "type", "bridge_slave",
                        "hairpin", "on"], check=True)  # fmt: skip
        _veth_into(nl, "eth0", outside, f"{OUTSIDE}/24", "")
        nl.add_address("eth0", f"{NODE_ETH}/24")
        nl.set_link("eth0", up=True)
        nl.add_route("default", gateway=OUTSIDE)  # a node has one: service IPs are routed
    ns.run_in(ns.netns_path(node), lambda: sysctl.write("net.ipv4.ip_forward", "1"))
    running = []
    try:
        for ip, pod in servers.items():
            argv = ["ip", "netns", "exec", pod, sys.executable, "-c", SERVER, ip]
            process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
            running.append(process)
            assert process.stdout is not None and process.stdout.readline() == "ready\n"
        yield Lab(node, client, outside, servers)
    finally:
        for process in running:
            process.kill()
            process.wait()
            if process.stdout is not None:
                process.stdout.close()


def service(name: str = "web", **spec: Any) -> dict[str, Any]:
    ports = [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080,
              **({"nodePort": 30080} if spec.get("type") == "NodePort" else {})}]  # fmt: skip
    return {"metadata": {"namespace": "default", "name": name},
            "spec": {"clusterIP": CLUSTER_IP, "ports": ports, **spec}}  # fmt: skip


def endpoint_slice(name: str = "web", endpoints: tuple[tuple[str, str], ...] = ()) -> Any:
    if not endpoints:
        endpoints = ((SERVER_A, "node-a"), (SERVER_B, "node-b"))
    return {"metadata": {"namespace": "default", "name": f"{name}-abc",
                         "labels": {"kubernetes.io/service-name": name}},
            "addressType": "IPv4",
            "ports": [{"name": "http", "protocol": "TCP", "port": 8080}],
            "endpoints": [{"addresses": [ip], "conditions": {"ready": True}, "nodeName": node}
                          for ip, node in endpoints]}  # fmt: skip


MODES = pytest.mark.parametrize("mode", ["iptables", "nftables"])


@MODES
def test_a_cluster_ip_spreads_pods_over_endpoints_and_keeps_their_address(
    lab: Lab, mode: str
) -> None:
    lab.apply(mode, [service()], [endpoint_slice()])
    answers = lab.connect(lab.client, CLUSTER_IP, 80, times=24)
    assert set(answers) == {f"{SERVER_A} {CLIENT}", f"{SERVER_B} {CLIENT}"}


@MODES
def test_the_node_itself_reaches_a_cluster_ip_masqueraded(lab: Lab, mode: str) -> None:
    lab.apply(mode, [service()], [endpoint_slice()])
    answers = lab.connect(lab.node, CLUSTER_IP, 80, times=8)
    assert {a.split()[1] for a in answers} == {NODE_CNI}, answers


@MODES
def test_a_node_port_answers_outside_masqueraded_or_with_local_policy_as_the_client(
    lab: Lab, mode: str
) -> None:
    lab.apply(mode, [service(type="NodePort")], [endpoint_slice()])
    answers = lab.connect(lab.outside, NODE_ETH, 30080, times=16)
    assert {a.split()[1] for a in answers} == {NODE_CNI}, answers
    assert {a.split()[0] for a in answers} == {SERVER_A, SERVER_B}
    lab.apply(mode, [service(type="NodePort", externalTrafficPolicy="Local")], [endpoint_slice()])
    answers = lab.connect(lab.outside, NODE_ETH, 30080, times=8)
    assert set(answers) == {f"{SERVER_A} {OUTSIDE}"}  # node-a's endpoint only, client kept
    pods = lab.connect(lab.client, NODE_ETH, 30080, times=16)  # pods still see every one
    assert {a.split()[0] for a in pods} == {SERVER_A, SERVER_B}


@MODES
def test_a_service_without_endpoints_refuses_at_once(lab: Lab, mode: str) -> None:
    lab.apply(mode, [service(), service("empty", clusterIP="10.96.0.21")], [endpoint_slice()])
    assert lab.connect(lab.client, "10.96.0.21", 80) == ["ConnectionRefusedError"]
    assert lab.connect(lab.node, "10.96.0.21", 80) == ["ConnectionRefusedError"]


@MODES
def test_client_ip_affinity_keeps_a_client_on_one_endpoint(lab: Lab, mode: str) -> None:
    lab.apply(mode, [service(sessionAffinity="ClientIP")], [endpoint_slice()])
    answers = lab.connect(lab.client, CLUSTER_IP, 80, times=12)
    assert len(set(answers)) == 1, answers


@MODES
def test_an_endpoint_reaches_itself_through_its_service(lab: Lab, mode: str) -> None:
    only_a = endpoint_slice(endpoints=((SERVER_A, "node-a"),))
    lab.apply(mode, [service()], [only_a])
    assert lab.connect(lab.servers[SERVER_A], CLUSTER_IP, 80) == [
        f"{SERVER_A} {NODE_CNI}"
    ]  # hairpin


@MODES
def test_internal_traffic_policy_local_keeps_cluster_ip_traffic_on_the_node(
    lab: Lab, mode: str
) -> None:
    lab.apply(mode, [service(internalTrafficPolicy="Local")], [endpoint_slice()])
    answers = lab.connect(lab.client, CLUSTER_IP, 80, times=8)
    assert set(answers) == {f"{SERVER_A} {CLIENT}"}


@MODES
def test_a_resync_follows_endpoint_changes_and_removal(lab: Lab, mode: str) -> None:
    lab.apply(mode, [service()], [endpoint_slice(endpoints=((SERVER_B, "node-b"),))])
    assert set(lab.connect(lab.client, CLUSTER_IP, 80, times=4)) == {f"{SERVER_B} {CLIENT}"}
    lab.apply(mode, [], [])
    assert lab.connect(lab.client, CLUSTER_IP, 80) == ["TimeoutError"]  # nothing answers there


def test_restarts_add_no_second_jump_and_a_mode_switch_leaves_nothing_behind(lab: Lab) -> None:
    for _ in range(2):  # each run is a fresh kube-proxy: its first sync asks the kernel
        lab.apply("iptables", [service()], [endpoint_slice()])
    saved = in_ns(lab.node, "iptables-legacy-save").stdout
    jumps = [line for line in saved.splitlines() if line.startswith("-A ") and
             line.split()[1] in ("INPUT", "FORWARD", "OUTPUT", "PREROUTING", "POSTROUTING")]  # fmt: skip
    assert len(jumps) == len(set(jumps)) == 8, jumps
    lab.apply("nftables", [service()], [endpoint_slice()])
    assert "KUBE-" not in in_ns(lab.node, "iptables-legacy-save").stdout
    assert set(lab.connect(lab.client, CLUSTER_IP, 80, times=24)) == {
        f"{SERVER_A} {CLIENT}", f"{SERVER_B} {CLIENT}"}  # fmt: skip
    lab.apply("iptables", [service()], [endpoint_slice()])
    tables = in_ns(lab.node, "nft", "list", "tables").stdout
    assert "kube-proxy" not in tables


@MODES
def test_a_udp_flow_moves_on_when_its_endpoint_goes(lab: Lab, mode: str) -> None:
    dns = service("dns", ports=[{"name": "http", "protocol": "UDP", "port": 53}])
    only_a = endpoint_slice("dns", ((SERVER_A, "node-a"),))
    only_b = endpoint_slice("dns", ((SERVER_B, "node-b"),))
    for slice_ in (only_a, only_b):
        slice_["ports"][0]["protocol"] = "UDP"
    lab.apply(mode, [dns], [only_a])
    argv = ["ip", "netns", "exec", lab.client, sys.executable, "-c", UDP_CLIENT, CLUSTER_IP, "53"]
    with subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as flow:
        assert flow.stdin is not None and flow.stdout is not None

        def ask() -> str:
            flow.stdin.write("\n")  # type: ignore[union-attr]
            flow.stdin.flush()  # type: ignore[union-attr]
            return flow.stdout.readline().strip()  # type: ignore[union-attr]

        try:
            assert ask() == f"{SERVER_A} {CLIENT}"
            lab.apply(mode, [dns], [only_b], previous={"services": [dns], "slices": [only_a]})
            assert ask() == f"{SERVER_B} {CLIENT}"  # same source port, the new endpoint
        finally:
            flow.stdin.close()
            flow.wait(timeout=5)
