"""kin's ``portmap`` against real traffic, in throwaway node, pod and client namespaces.

Each test builds a small world from the ``netns_factory`` fixture: a "node" namespace
joined by one veth to a "pod" (10.244.1.2/24, default route via the node's 10.244.1.1)
and by another to a "client" (172.31.0.2/24 to the node's 172.31.0.1), with IPv6 twins.
Echo servers run as threads of this process on sockets opened inside the pod's
namespace; probes are sockets opened inside the client's, node's or pod's namespace
(``ns.run_in``), so no helper process can outlive a test. The plugin itself runs as a
CNI runtime would run it, exec'd inside the node namespace (``run_plugin``), and the
answers say which address the pod saw, so SNAT is checked as well as reachability.

The Debian reference plugin (``/usr/lib/cni/portmap`` 1.1.1, iptables) is a test peer:
the same ADD must give the same result JSON and the same traffic effect.
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kin.cni import portmap_rules as rules
from kin.cni import result as results
from kin.cni.install import install_plugins
from kin.linux import ns, sysctl
from kin.testing.cni import REFERENCE_DIR, cni_env, run_plugin

POD, NODE_POD, NODE, CLIENT = "10.244.1.2", "10.244.1.1", "172.31.0.1", "172.31.0.2"
POD6, NODE_POD6, NODE6, CLIENT6 = "fd00:244:1::2", "fd00:244:1::1", "fd00:31::1", "fd00:31::2"
NETWORK = "kin-test"
CONTAINER = "c0ffee"
TCP, UDP = socket.SOCK_STREAM, socket.SOCK_DGRAM


def ip(*argv: str) -> None:
    subprocess.run(["ip", *argv], check=True, capture_output=True)


def in_ns(name: str, fn: Callable[[], Any]) -> Any:
    return ns.run_in(ns.netns_path(name), fn)


class World:
    """Node, pod and client namespaces, wired and addressed; the plugin installed once."""

    def __init__(self, make: Callable[[], str], plugins: Path) -> None:
        self.node, self.pod, self.client = make(), make(), make()
        self.plugins = plugins
        for name in (self.node, self.pod, self.client):
            in_ns(name, self._no_dad)
        self._wire(self.pod, "vpod", [(POD, NODE_POD, 24), (POD6, NODE_POD6, 64)])
        self._wire(self.client, "vcli", [(CLIENT, NODE, 24), (CLIENT6, NODE6, 64)])
        for name in (self.pod, self.client):
            ip("-n", name, "route", "add", "default", "via", NODE_POD if name == self.pod else NODE)
            ip(
                "-n",
                name,
                "-6",
                "route",
                "add",
                "default",
                "via",
                NODE_POD6 if name == self.pod else NODE6,
            )
        in_ns(self.node, self._forwarding)
        for address in (POD6, CLIENT6):  # resolve neighbours now, not on a probe's clock
            ip("netns", "exec", self.node, "ping", "-6", "-c1", "-W2", address)

    def _wire(self, peer: str, node_side: str, pairs: list[tuple[str, str, int]]) -> None:
        ip("-n", self.node, "link", "add", node_side, "type", "veth", "peer", "eth0", "netns", peer)
        for inside, outside, length in pairs:
            ip("-n", peer, "addr", "add", f"{inside}/{length}", "dev", "eth0", "nodad")
            ip("-n", self.node, "addr", "add", f"{outside}/{length}", "dev", node_side, "nodad")
        for name, dev in ((peer, "eth0"), (peer, "lo"), (self.node, node_side), (self.node, "lo")):
            ip("-n", name, "link", "set", dev, "up")

    @staticmethod
    def _no_dad() -> None:
        """Addresses usable at once: a tentative link-local stalls forwarded IPv6."""
        sysctl.write("net.ipv6.conf.default.accept_dad", "0")
        sysctl.write("net.ipv6.conf.all.accept_dad", "0")

    @staticmethod
    def _forwarding() -> None:
        sysctl.write("net.ipv4.ip_forward", "1")
        sysctl.write("net.ipv6.conf.all.forwarding", "1")

    def prev_result(self, v6: bool = False) -> dict[str, Any]:
        ips = [{"address": f"{POD}/24", "gateway": NODE_POD, "interface": 1}]
        ips += [{"address": f"{POD6}/64", "gateway": NODE_POD6, "interface": 1}] if v6 else []
        interfaces = [
            {"name": "vpod", "mac": "02:00:00:00:00:01"},
            {"name": "eth0", "mac": "02:00:00:00:00:02", "sandbox": ns.netns_path(self.pod)},
        ]
        routes = [{"dst": "0.0.0.0/0", "gw": NODE_POD}]
        return {"interfaces": interfaces, "ips": ips, "routes": routes, "dns": {}}

    def netconf(
        self, mappings: list[dict[str, Any]] | None, version: str = "1.0.0", **extra: Any
    ) -> dict[str, Any]:
        conf: dict[str, Any] = {"cniVersion": version, "name": NETWORK, "type": "portmap", **extra}
        conf["capabilities"] = {"portMappings": True}
        if mappings is not None:
            conf["runtimeConfig"] = {"portMappings": mappings}
        conf.setdefault("prevResult", results.render(self.prev_result(), version))
        return conf

    def run(
        self, command: str, conf: dict[str, Any], container: str = CONTAINER, plugin: str = ""
    ) -> Any:
        env = cni_env(
            command,
            container_id=container,
            netns=ns.netns_path(self.pod),
            ifname="eth0",
            cni_path=str(self.plugins),
        )
        return run_plugin(plugin or str(self.plugins / "portmap"), self.node, env, conf)

    def ok(
        self, command: str, conf: dict[str, Any], container: str = CONTAINER, plugin: str = ""
    ) -> Any:
        return self.run(command, conf, container, plugin).ok()

    def nft(self, *lines: str) -> str:
        argv = ["nsenter", f"--net={ns.netns_path(self.node)}", "nft", "-f", "-"]
        done = subprocess.run(
            argv, input="\n".join(lines), check=True, capture_output=True, text=True
        )
        return done.stdout

    def listing(self, family: str) -> list[dict[str, Any]]:
        argv = [
            "nsenter",
            f"--net={ns.netns_path(self.node)}",
            "nft",
            "-j",
            "list",
            "table",
            family,
            "cni_hostport",
        ]
        done = subprocess.run(argv, check=True, capture_output=True, text=True)
        items: list[dict[str, Any]] = json.loads(done.stdout)["nftables"]
        return items

    def ruleset(self) -> str:
        return self.nft("list ruleset")

    def sysctl(self, key: str) -> str:
        return str(in_ns(self.node, lambda: sysctl.read(key)))


class Echo:
    """A TCP or UDP echo server on a socket inside a namespace; answers "<data> from <peer>"."""

    def __init__(self, netns: str, kind: int, address: str, port: int) -> None:
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        self.sock: socket.socket = in_ns(netns, lambda: socket.socket(family, kind))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((address, port))
        if kind == TCP:
            self.sock.listen(8)
        self.sock.settimeout(0.1)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, args=(kind,), daemon=True)
        self.thread.start()

    def _serve(self, kind: int) -> None:
        while not self.stop.is_set():
            try:
                self._answer_one(kind)
            except (TimeoutError, OSError):
                continue

    def _answer_one(self, kind: int) -> None:
        if kind == UDP:
            data, peer = self.sock.recvfrom(512)
            self.sock.sendto(data + f" from {peer[0]}".encode(), peer)
            return
        conn, peer = self.sock.accept()
        with conn:
            conn.settimeout(2)
            conn.sendall(conn.recv(512) + f" from {peer[0]}".encode())

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.sock.close()


def ask(
    netns: str, kind: int, host: str, port: int, sock: socket.socket | None = None
) -> str | None:
    """Send "hi" from a socket in ``netns`` to host:port; the answer, or None if none came."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = sock or in_ns(netns, lambda: socket.socket(family, kind))
    s.settimeout(1.5)
    try:
        s.connect((host, port))
        s.send(b"hi")
        return s.recv(512).decode()
    except OSError:
        return None
    finally:
        if sock is None:
            s.close()


@pytest.fixture(scope="module")
def plugins(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("cni-bin")
    install_plugins(str(directory), names=("portmap",))
    return directory


@pytest.fixture
def world(netns_factory: Callable[[], str], plugins: Path) -> World:
    return World(netns_factory, plugins)


@pytest.fixture
def echoes(world: World) -> Iterator[None]:
    """TCP and UDP echo on port 80 (and 53/udp) in the pod, v4 and v6."""
    servers = [
        Echo(world.pod, TCP, POD, 80),
        Echo(world.pod, UDP, POD, 53),
        Echo(world.pod, TCP, POD6, 80),
    ]
    try:
        yield
    finally:
        for server in servers:
            server.close()


MAPPINGS = [
    {"hostPort": 8080, "containerPort": 80, "protocol": "tcp"},
    {"hostPort": 5353, "containerPort": 53, "protocol": "udp"},
    {"hostPort": 9090, "containerPort": 80, "protocol": "tcp", "hostIP": NODE},
]


def reachable(world: World) -> dict[str, str | None]:
    """Every path into the pod's port 80 (and 53/udp) that a host port should open."""
    return {
        "client tcp": ask(world.client, TCP, NODE, 8080),
        "client udp": ask(world.client, UDP, NODE, 5353),
        "node localhost": ask(world.node, TCP, "127.0.0.1", 8080),
        "node own address": ask(world.node, TCP, NODE, 8080),
        "pod hairpin": ask(world.pod, TCP, NODE_POD, 8080),
        "pod hairpin via other address": ask(world.pod, TCP, NODE, 8080),
        "client hostIP": ask(world.client, TCP, NODE, 9090),
    }


OPEN = {
    "client tcp": f"hi from {CLIENT}",
    "client udp": f"hi from {CLIENT}",
    "node localhost": f"hi from {NODE_POD}",
    "node own address": f"hi from {NODE}",
    "pod hairpin": f"hi from {NODE_POD}",
    "pod hairpin via other address": f"hi from {NODE_POD}",
    "client hostIP": f"hi from {CLIENT}",
}
CLOSED = dict.fromkeys(OPEN)


# --- ADD / CHECK / DEL ----------------------------------------------------------------------


@pytest.mark.usefixtures("echoes")
def test_add_opens_every_path_to_the_pod_and_del_closes_them(world: World) -> None:
    before = world.ruleset()
    assert reachable(world) == CLOSED
    conf = world.netconf(MAPPINGS)
    assert world.ok("ADD", conf) == conf["prevResult"]
    assert reachable(world) == OPEN
    assert ask(world.client, TCP, POD, 8080) is None  # traffic through the node is not taken
    assert world.sysctl("net/ipv4/conf/vpod/route_localnet") == "1"
    world.ok("CHECK", conf)
    world.ok("DEL", conf)
    assert reachable(world) == CLOSED
    assert world.ruleset() == before
    world.ok("DEL", conf)


@pytest.mark.usefixtures("echoes")
def test_host_ip_mapping_answers_on_that_address_only(world: World) -> None:
    world.ok("ADD", world.netconf(MAPPINGS[2:]))
    assert ask(world.client, TCP, NODE, 9090) == f"hi from {CLIENT}"
    assert ask(world.pod, TCP, NODE_POD, 9090) is None
    assert ask(world.node, TCP, "127.0.0.1", 9090) is None
    assert ask(world.client, TCP, NODE, 8080) is None


@pytest.mark.usefixtures("echoes")
def test_add_deletes_stale_udp_conntrack_entries(world: World) -> None:
    """A client already tracked as talking to the node itself is moved to the pod."""
    world.nft(  # a node tracks connections before any host port (kube-proxy, masquerading)
        "add table ip tracking",
        "add chain ip tracking in { type filter hook prerouting priority 0 ; }",
        "add rule ip tracking in ct state new counter",
    )
    sock = in_ns(world.client, lambda: socket.socket(socket.AF_INET, UDP))
    try:
        sock.bind((CLIENT, 40000))
        ask(world.client, UDP, NODE, 5353, sock)  # conntrack: client -> node, no NAT
        world.ok("ADD", world.netconf(MAPPINGS[1:2]))
        assert ask(world.client, UDP, NODE, 5353, sock) == f"hi from {CLIENT}"
    finally:
        sock.close()


@pytest.mark.usefixtures("echoes")
def test_snat_off_leaves_localhost_and_hairpin_closed(world: World) -> None:
    world.ok("ADD", world.netconf(MAPPINGS, snat=False))
    found = reachable(world)
    assert found["client tcp"] == f"hi from {CLIENT}"
    assert (found["node localhost"], found["pod hairpin"]) == (None, None)
    assert "masquerad" not in world.ruleset()
    assert world.sysctl("net/ipv4/conf/vpod/route_localnet") == "0"


@pytest.mark.usefixtures("echoes")
def test_ipv6_mappings_reach_the_pods_ipv6_address(world: World) -> None:
    prev = world.prev_result(v6=True)
    conf = world.netconf(MAPPINGS[:1], prevResult=results.render(prev, "1.0.0"))
    world.ok("ADD", conf)
    assert ask(world.client, TCP, NODE6, 8080) == f"hi from {CLIENT6}"
    assert ask(world.pod, TCP, NODE_POD6, 8080) == f"hi from {NODE_POD6}"
    assert ask(world.node, TCP, NODE6, 8080) == f"hi from {NODE6}"
    assert ask(world.client, TCP, NODE, 8080) == f"hi from {CLIENT}"
    world.ok("CHECK", conf)
    world.ok("DEL", conf)
    assert ask(world.client, TCP, NODE6, 8080) is None
    assert world.ruleset() == ""
    world.ok("ADD", conf)
    world.ok("DEL", {k: v for k, v in conf.items() if k != "prevResult"})  # as before 0.4.0
    assert world.ruleset() == ""


def test_check_fails_when_a_rule_is_gone(world: World) -> None:
    conf = world.netconf(MAPPINGS)
    world.ok("ADD", conf)
    world.nft("flush chain ip cni_hostport hostports")
    run = world.run("CHECK", conf)
    assert run.code == 1
    assert (
        run.out["msg"]
        == f"missing hostport rules for {NETWORK}/{CONTAINER} in table ip cni_hostport"
    )
    assert "no DNAT rule for 8080->80/tcp to 10.244.1.2" in run.out["details"]


# --- several attachments ----------------------------------------------------------------------


@pytest.mark.usefixtures("echoes")
def test_del_removes_exactly_its_containers_rules(world: World) -> None:
    first, second = world.netconf(MAPPINGS[:1]), world.netconf([{**MAPPINGS[0], "hostPort": 8081}])
    world.ok("ADD", first, container="first")
    world.ok("ADD", second, container="second")
    world.ok("DEL", first, container="first")
    assert ask(world.client, TCP, NODE, 8080) is None
    assert ask(world.client, TCP, NODE, 8081) == f"hi from {CLIENT}"
    world.ok("CHECK", second, container="second")
    world.ok("DEL", second, container="second")
    assert world.ruleset() == ""


@pytest.mark.usefixtures("echoes")
def test_a_teardown_planned_before_a_concurrent_add_is_refused(world: World) -> None:
    """DEL's "last rules, so the whole table" decision goes stale if an ADD commits in
    between; the kernel must refuse it rather than take the new container's rules along."""
    first, second = world.netconf(MAPPINGS[:1]), world.netconf([{**MAPPINGS[0], "hostPort": 8081}])
    world.ok("ADD", first, container="first")
    stale = rules.removal_script("ip", world.listing("ip"), f"{NETWORK}/first".__eq__)
    assert stale.endswith("delete table ip cni_hostport\n")
    world.ok("ADD", second, container="second")
    with pytest.raises(subprocess.CalledProcessError):
        world.nft(stale)
    world.ok("DEL", first, container="first")
    assert ask(world.client, TCP, NODE, 8081) == f"hi from {CLIENT}"
    assert ask(world.client, TCP, NODE, 8080) is None


@pytest.mark.usefixtures("echoes")
def test_gc_removes_the_rules_of_attachments_no_longer_valid(world: World) -> None:
    for port, container in ((8080, "gone"), (8081, "kept")):
        world.ok("ADD", world.netconf([{**MAPPINGS[0], "hostPort": port}]), container=container)
    other = world.netconf([{**MAPPINGS[0], "hostPort": 8082}], name="other-net")
    world.ok("ADD", other, container="gone")
    gc = {"cniVersion": "1.1.0", "name": NETWORK, "type": "portmap"}
    world.ok("GC", {**gc, "cni.dev/valid-attachments": [{"containerID": "kept", "ifname": "eth0"}]})
    assert [ask(world.client, TCP, NODE, port) for port in (8080, 8081, 8082)] == [
        None,
        f"hi from {CLIENT}",
        f"hi from {CLIENT}",
    ]
    world.ok("GC", {**gc, "cni.dev/valid-attachments": []})
    world.ok("GC", {**gc, "name": "other-net", "cni.dev/valid-attachments": []})
    assert world.ruleset() == ""


# --- edges of the protocol --------------------------------------------------------------------


def test_del_succeeds_without_netns_rules_or_mappings(world: World) -> None:
    conf = world.netconf(MAPPINGS)
    env = cni_env("DEL", container_id=CONTAINER, ifname="eth0", cni_path=str(world.plugins))
    for _ in range(2):
        run_plugin(str(world.plugins / "portmap"), world.node, env, conf).ok()
        env["CNI_NETNS"] = "/run/netns/kintest-does-not-exist"
    world.ok("DEL", world.netconf(None))
    world.ok("DEL", {k: v for k, v in conf.items() if k != "prevResult"})
    assert world.ruleset() == ""


def test_add_without_mappings_passes_prev_result_and_writes_nothing(world: World) -> None:
    for version in ("0.3.1", "1.0.0"):
        conf = world.netconf([], version)
        assert world.ok("ADD", conf) == conf["prevResult"]
    assert world.ruleset() == ""


@pytest.mark.parametrize(
    ("change", "code", "msg"),
    [
        ({"backend": "iptables"}, 2, "unsupported field \"backend\": 'iptables'"),
        ({"prevResult": None}, 7, "must be called as chained plugin"),
        ({"markMasqBit": 40}, 7, "markMasqBit must be between 0 and 31, not 40"),
    ],
)
def test_add_refuses_what_it_cannot_honour(
    world: World, change: dict[str, Any], code: int, msg: str
) -> None:
    run = world.run("ADD", {**world.netconf(MAPPINGS), **change})
    assert (run.code, run.out["code"], run.out["msg"]) == (1, code, msg)
    assert world.ruleset() == ""


def test_status_and_version(world: World) -> None:
    world.ok("STATUS", {"cniVersion": "1.1.0", "name": NETWORK, "type": "portmap"})
    version = world.ok("VERSION", {})
    assert version["supportedVersions"][-1] == "1.1.0"


# --- the reference plugin as a peer -----------------------------------------------------------


@pytest.mark.usefixtures("echoes")
@pytest.mark.parametrize("version", ["0.3.1", "0.4.0", "1.0.0"])
def test_same_result_and_traffic_as_the_reference_plugin(world: World, version: str) -> None:
    """kin first (so nothing the reference leaves, such as route_localnet, helps it)."""
    conf = world.netconf(MAPPINGS, version)
    outcomes = []
    for plugin in ("", f"{REFERENCE_DIR}/portmap"):
        result = world.ok("ADD", conf, plugin=plugin)
        outcomes.append((json.dumps(result, sort_keys=True), reachable(world)))
        world.ok("DEL", conf, plugin=plugin)
        assert reachable(world)["client tcp"] is None
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][1] == OPEN
