"""flanneld end to end on three namespace nodes against kin's API server: leases from the
Nodes' podCIDRs, Flannel's annotations and subnet.env, pods reaching pods, a node joining
(reachable from every pod within a second) and a node leaving (its entries gone
everywhere), and a restart that keeps the subnet, the MAC and the traffic."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kin.etcd.client import EtcdClient
from kin.flannel import subnetenv
from kin.flannel.daemon import Flanneld
from kin.flannel.netconf import parse
from kin.flannel.options import parse_args
from kin.flannel.subnet.kube import KubeSubnetManager
from kin.kube.client import Client
from kin.kube.kubeconfig import Connection
from kin.linux import nft, ns
from kin.testing.apiserver import InProcessServer
from kin.testing.etcd import running_etcd
from kin.testing.underlay import NETWORK, Node, forwarded, in_ns, ip_json, underlay_nodes

CONFIG = parse('{"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}}')
P = "flannel.alpha.coreos.com/"


@pytest.fixture
def nodes(netns_factory: Callable[[], str]) -> Iterator[list[Node]]:
    with underlay_nodes(netns_factory) as made:
        yield made


@pytest.fixture
def server() -> Iterator[InProcessServer]:
    with InProcessServer("memory://") as running:
        yield running


def flanneld(node: Node, api: Client, directory: Path) -> Flanneld:
    options = parse_args(["--kube-subnet-mgr", "--ip-masq", "--iface=eth0", "--iptables-resync=1",
                          f"--subnet-file={directory}/{node.name}.env"])  # fmt: skip
    assert CONFIG.network is not None
    manager = KubeSubnetManager(api, node.name, CONFIG.network)
    return Flanneld(options, CONFIG, manager, node.nl, ns.netns_path(node.name), node.name)


async def register(api: Client, node: Node) -> None:
    body = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": node.name},
            "spec": {"podCIDR": str(node.lease), "podCIDRs": [str(node.lease)]}}  # fmt: skip
    await api.create("/api/v1/nodes", body)


async def until(check: Callable[[], bool], within: float, what: str) -> float:
    """Seconds until ``check`` held, checked on a thread so that the daemons, on this
    event loop, keep running meanwhile; AssertionError after ``within``."""
    started = time.monotonic()
    while not await asyncio.to_thread(check):
        if time.monotonic() - started > within:
            raise AssertionError(f"{what}: not within {within} s")
        await asyncio.sleep(0.01)
    return time.monotonic() - started


def reaches(source: Node, *targets: Node) -> bool:
    """One ping to each target's pod, each answered within 0.2 s."""
    return all(
        in_ns(source.pod, "ping", "-c1", "-W0.2", target.pod_ip).returncode == 0
        for target in targets
    )


def run(server: InProcessServer, scenario: Callable[[Client], Any]) -> Any:
    async def main() -> Any:
        async with Client(Connection(server.url, None, server.token), "kin-flanneld") as api:
            return await asyncio.wait_for(scenario(api), 60)

    return asyncio.run(main())


def test_flanneld_joins_serves_and_forgets_nodes(
    nodes: list[Node], server: InProcessServer, tmp_path: Path
) -> None:
    first, second, third = nodes

    async def scenario(api: Client) -> dict[str, Any]:
        for node in nodes:
            await register(api, node)
        daemons = {n.name: flanneld(n, api, tmp_path) for n in nodes}
        await daemons[first.name].start()
        await daemons[second.name].start()
        followers = [asyncio.create_task(daemons[n.name].follow()) for n in (first, second)]
        try:
            await until(lambda: reaches(first, second) and reaches(second, first), 5, "two nodes")
            await daemons[third.name].start()  # joins
            followers.append(asyncio.create_task(daemons[third.name].follow()))
            joined = await until(
                lambda: reaches(first, third) and reaches(second, third), 5, "join"
            )
            annotations = (await api.get(f"/api/v1/nodes/{first.name}"))["metadata"]["annotations"]
            await api.delete(f"/api/v1/nodes/{third.name}")  # leaves
            await until(lambda: all(_entries(n) == 1 for n in (first, second)), 5, "leave")
            return {"joined": joined, "annotations": annotations}
        finally:
            for task in followers:
                task.cancel()

    found = run(server, scenario)
    print(f"join: reachable from every pod after {found['joined']:.3f} s")  # shown by pytest -s
    assert found["joined"] < 1.0  # a joining node is reachable from every pod within 1 s
    mac = ip_json(first.name, "link", "show", "dev", "flannel.1")[0]["address"]
    assert found["annotations"][P + "backend-data"] == f'{{"VNI":1,"VtepMAC":"{mac}"}}'
    assert found["annotations"][P + "public-ip"] == "172.31.0.1"
    assert (tmp_path / f"{first.name}.env").read_text() == (
        "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n"
    )
    assert reaches(first, second)


def _entries(node: Node) -> int:
    """Peers node knows of: one neighbour, one FDB entry and one route each, or a mismatch."""
    counts = {
        len(ip_json(node.name, "neigh", "show", "dev", "flannel.1")),
        len(ip_json(node.name, "fdb", "show", "dev", "flannel.1", tool="bridge")),
        len(ip_json(node.name, "route", "show", "dev", "flannel.1")),
    }
    return counts.pop() if len(counts) == 1 else -1


def test_a_restarted_flanneld_keeps_the_device_and_the_traffic_and_a_lost_device_its_mac(
    nodes: list[Node], server: InProcessServer, tmp_path: Path
) -> None:
    """A new daemon finds flannel.1 and keeps it (traffic flows before it even follows);
    one that finds it gone makes it again with the VtepMAC the Node still publishes, so
    the peers' neighbour and FDB entries are right without them doing anything."""
    first, second = nodes[:2]

    async def scenario(api: Client) -> None:
        for node in (first, second):
            await register(api, node)
        daemons = {node.name: flanneld(node, api, tmp_path) for node in (first, second)}
        for daemon in daemons.values():
            await daemon.start()
        followers = [asyncio.create_task(daemon.follow()) for daemon in daemons.values()]
        both = lambda: reaches(first, second) and reaches(second, first)  # noqa: E731
        try:
            await until(both, 5, "before")
            followers[0].cancel()  # first's flanneld dies; the kernel state stays
            before = ip_json(first.name, "link", "show", "dev", "flannel.1")[0]
            again = flanneld(first, api, tmp_path)  # a new process: nothing in memory
            await again.start()
            assert await asyncio.to_thread(both)
            restarted = asyncio.create_task(again.follow())
            await until(both, 5, "after")
            after = ip_json(first.name, "link", "show", "dev", "flannel.1")[0]
            assert (after["ifindex"], after["address"]) == (before["ifindex"], before["address"])
            restarted.cancel()
            first.nl.delete_link("flannel.1")  # gone while no daemon ran
            third = flanneld(first, api, tmp_path)
            await third.start()
            followers.append(asyncio.create_task(third.follow()))
            await until(both, 5, "made again")
            remade = ip_json(first.name, "link", "show", "dev", "flannel.1")[0]
            assert remade["ifindex"] != before["ifindex"] and remade["address"] == before["address"]
        finally:
            for task in followers:
                task.cancel()

    run(server, scenario)


def test_python_m_kin_flannel_in_a_node(
    nodes: list[Node], server: InProcessServer, tmp_path: Path
) -> None:
    """The daemon as a process inside a node, as the DaemonSet runs it: Flannel's flags,
    NODE_NAME, a kubeconfig; ready only once subnet.env is written; SIGTERM leaves the
    kernel state."""
    node = nodes[0]
    run(server, lambda api: register(api, node))
    (tmp_path / "net-conf.json").write_text(
        '{"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}}'
    )
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    with forwarded(node.name, (host, int(port))) as inside_port:
        config = {"apiVersion": "v1", "kind": "Config", "current-context": "c",
                  "clusters": [{"name": "k", "cluster": {"server": f"http://127.0.0.1:{inside_port}"}}],
                  "users": [{"name": "u", "user": {"token": server.token}}],
                  "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}]}  # fmt: skip
        (tmp_path / "kubeconfig").write_text(json.dumps(config))
        argv = ["ip", "netns", "exec", node.name, "env", f"NODE_NAME={node.name}",
                f"FLANNELD_SUBNET_FILE={tmp_path}/subnet.env", sys.executable, "-m", "kin.flannel",
                "--ip-masq", "--kube-subnet-mgr", "--healthz-port=8471", "--healthz-ip=127.0.0.1", "-iface", "eth0",
                f"--kubeconfig-file={tmp_path}/kubeconfig", f"--net-config-path={tmp_path}/net-conf.json"]  # fmt: skip
        with subprocess.Popen(argv, stderr=subprocess.PIPE, text=True) as daemon:
            try:
                deadline = time.monotonic() + 20
                while not (tmp_path / "subnet.env").exists() and time.monotonic() < deadline:
                    assert daemon.poll() is None, daemon.stderr and daemon.stderr.read()
                    time.sleep(0.05)
                ready = in_ns(node.name, "python3", "-c", READY)
                assert ready.stdout.strip() == "200 200", ready.stderr
                daemon.send_signal(signal.SIGTERM)
                assert daemon.wait(10) == 0
            finally:
                if daemon.poll() is None:
                    daemon.kill()
                    daemon.wait()
            log = daemon.stderr.read() if daemon.stderr else ""
    assert "FLANNEL_SUBNET=10.244.1.1/24" in (tmp_path / "subnet.env").read_text()
    assert "lease 10.244.1.0/24" in log and "the kernel state stays" in log
    assert ip_json(node.name, "link", "show", "dev", "flannel.1")  # still there


READY = (
    "import urllib.request as u; print(*(u.urlopen(f'http://127.0.0.1:8471/{p}').status"
    " for p in ('healthz', 'readyz')))"
)


def test_bad_configuration_is_an_error_line_and_exit_code_1(tmp_path: Path) -> None:
    (tmp_path / "net-conf.json").write_text('{"Network": "10.244.0.0/33"}')
    cases = [
        (["--kube-subnet-mgr", f"--net-config-path={tmp_path}/net-conf.json"], {"NODE_NAME": "n"},
         "invalid CIDR address: 10.244.0.0/33"),
        (["--kube-subnet-mgr"], {}, "NODE_NAME is not set"),
        (["--etcd-certfile=/x.crt"], {}, "--etcd-certfile: not in kin yet"),
        (["--ipmasq"], {}, "flag provided but not defined: -ipmasq"),
    ]  # fmt: skip
    for args, env, message in cases:
        done = subprocess.run([sys.executable, "-m", "kin.flannel", *args], capture_output=True,
                              text=True, env={"PATH": "/usr/bin:/bin", **env}, timeout=30)  # fmt: skip
        assert done.returncode == 1, (args, done.stderr)
        assert message in done.stderr and done.stderr.startswith("kin.flannel: "), done.stderr


ECHO_SERVER = (
    "import socket\n"
    "s = socket.socket(); s.bind(('0.0.0.0', 7777)); s.listen(1); print('ready', flush=True)\n"
    "c, _ = s.accept(); f = c.makefile('rwb', 0)\n"
    "for line in f: f.write(line)\n"
)
ECHO_CLIENT = (
    "import socket, sys\n"
    "f = socket.create_connection((sys.argv[1], 7777), timeout=10).makefile('rwb', 0)\n"
    "for line in sys.stdin.buffer:\n"
    "    f.write(line); sys.stdout.buffer.write(f.readline()); sys.stdout.flush()\n"
)


def test_etcd_mode_daemons_in_nodes_survive_kill_9_without_breaking_a_connection(
    nodes: list[Node], tmp_path: Path
) -> None:
    """Flannel without Kubernetes: ``python -m kin.flannel`` in two nodes, leasing subnets
    from one etcd (on the host's loopback, reached through a socket in each node's
    namespace). Their pods reach each other; one daemon is killed with -9 and started
    again: a TCP connection open across it keeps working, and the node keeps its subnet
    and its flannel.1."""
    first, second = nodes[:2]
    prefix = "/kin-test/network"
    with running_etcd() as etcd, contextlib.ExitStack() as stack:
        config = json.dumps({"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}})
        asyncio.run(_etcd_put(etcd.url, f"{prefix}/config", config.encode()))
        argvs = {}
        for node in (first, second):
            # the subnet each pod is in, as an earlier run would have left it: the etcd
            # manager asks for it again (and the CNI plugin would have used it)
            subnetenv.write(
                tmp_path / f"{node.name}.env", subnetenv.SubnetEnv(NETWORK, node.lease, 1450, False)
            )
            port = stack.enter_context(forwarded(node.name, ("127.0.0.1", etcd.client_port)))
            argvs[node.name] = ["ip", "netns", "exec", node.name, sys.executable, "-m", "kin.flannel",
                                f"--etcd-endpoints=http://127.0.0.1:{port}", f"--etcd-prefix={prefix}",
                                "--iface=eth0", f"--subnet-file={tmp_path}/{node.name}.env"]  # fmt: skip
        daemons = {name: _daemon(stack, argv) for name, argv in argvs.items()}
        _wait(lambda: reaches(first, second) and reaches(second, first), list(daemons.values()))
        server = stack.enter_context(_in(second.pod, ECHO_SERVER, stdout=subprocess.PIPE))
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        client = stack.enter_context(_in(first.pod, ECHO_CLIENT, second.pod_ip,
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE))  # fmt: skip
        assert _echo(client, "before") == "before"
        before = ip_json(first.name, "link", "show", "dev", "flannel.1")[0]
        env_file = tmp_path / f"{first.name}.env"
        written = env_file.stat().st_ino
        daemons[first.name].kill()  # kill -9: no clean-up of any kind
        daemons[first.name].wait()
        assert _echo(client, "while down") == "while down"
        daemons[first.name] = _daemon(stack, argvs[first.name])
        _wait(lambda: env_file.stat().st_ino != written, list(daemons.values()))  # rewritten
        assert _echo(client, "after") == "after"
        after = ip_json(first.name, "link", "show", "dev", "flannel.1")[0]
        assert (after["ifindex"], after["address"]) == (before["ifindex"], before["address"])
        assert env_file.read_text().split("\n")[1] == "FLANNEL_SUBNET=10.244.1.1/24"
        assert (tmp_path / f"{second.name}.env").read_text().split("\n")[
            1
        ] == "FLANNEL_SUBNET=10.244.2.1/24"


async def _etcd_put(url: str, key: str, value: bytes) -> None:
    etcd = EtcdClient([url])
    try:
        await etcd.put(key.encode(), value)
    finally:
        await etcd.close()


def _daemon(stack: contextlib.ExitStack, argv: list[str]) -> subprocess.Popen[str]:
    daemon = stack.enter_context(subprocess.Popen(argv, stderr=subprocess.PIPE, text=True))
    stack.callback(_stop, daemon)
    return daemon


def _in(netns: str, program: str, *args: str, **streams: Any) -> subprocess.Popen[str]:
    argv = ["ip", "netns", "exec", netns, sys.executable, "-c", program, *args]
    return subprocess.Popen(argv, text=True, **streams)


def _echo(client: subprocess.Popen[str], line: str) -> str:
    assert client.stdin is not None and client.stdout is not None
    client.stdin.write(line + "\n")
    client.stdin.flush()
    return client.stdout.readline().strip()


def _wait(check: Callable[[], bool], daemons: list[subprocess.Popen[str]]) -> None:
    deadline = time.monotonic() + 20
    while not check():
        if time.monotonic() > deadline:
            for daemon in daemons:
                _stop(daemon)
            logs = [d.stderr.read() if d.stderr else "" for d in daemons]
            raise AssertionError("not within 20 s; the daemons said:\n" + "\n".join(logs))
        time.sleep(0.1)


def _stop(daemon: subprocess.Popen[Any]) -> None:
    if daemon.poll() is None:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(10)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()


def test_the_resync_restores_rules_and_routes_someone_deleted(
    nodes: list[Node], server: InProcessServer, tmp_path: Path
) -> None:
    """Every --iptables-resync seconds (1 here) the daemon re-applies its nftables rules
    and reconciles the kernel: a deleted table and a deleted route come back."""
    first, second = nodes[:2]

    async def scenario(api: Client) -> tuple[float, float]:
        for node in (first, second):
            await register(api, node)
        daemons = [flanneld(node, api, tmp_path) for node in (first, second)]
        for daemon in daemons:
            await daemon.start()
        followers = [asyncio.create_task(daemon.follow()) for daemon in daemons]
        try:
            await until(lambda: reaches(first, second), 5, "up")
            path = ns.netns_path(first.name)
            subprocess.run(["nsenter", f"--net={path}", "nft", "delete", "table", "ip", "flannel-ipv4"],
                           check=True)  # fmt: skip
            first.nl.delete_route(str(second.lease), oif="flannel.1")
            table = await until(lambda: bool(nft.list_json("table", "ip", "flannel-ipv4", netns=path)),
                                5, "the table back")  # fmt: skip
            route = await until(lambda: reaches(first, second), 5, "the route back")
            return table, route
        finally:
            for task in followers:
                task.cancel()

    table, route = run(server, scenario)
    assert table < 2.5 and route < 2.5
