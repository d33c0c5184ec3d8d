"""extraPortMappings and the API server port reach the nodes through the kin network.

A plain TCP or UDP server inside a node stands in for the NodePort or API server
that later parts of kin provide; the host connects to the published port.
"""

from __future__ import annotations

import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from kin.cluster import query
from kin.cluster.plan import ClusterPlan
from kin.testing.clusters import KIN, kin, temporary_cluster

CONFIG = """\
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes:
- role: control-plane
- role: worker
  extraPortMappings:
  - containerPort: 31000
    hostPort: 0
    listenAddress: 127.0.0.1
  - containerPort: 31053
    hostPort: 0
    listenAddress: 127.0.0.1
    protocol: udp
"""

TCP_SERVER = """
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(); print("ready", flush=True)
while True:
    c, peer = s.accept()
    data = c.recv(1024)
    c.sendall(b"tcp from " + peer[0].encode() + b": " + data); c.close()
"""

UDP_SERVER = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[1]))); print("ready", flush=True)
while True:
    data, peer = s.recvfrom(1024)
    s.sendto(b"udp from " + peer[0].encode() + b": " + data, peer)
"""


@contextmanager
def server_in(node: str, program: str, port: int) -> Iterator[None]:
    """Run a small server inside ``node`` until the block ends."""
    argv = [*KIN, "exec", node, "--", sys.executable, "-c", program, str(port)]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
            yield
        finally:
            proc.kill()


def host_port(plan: ClusterPlan, node: str, container_port: int) -> int:
    found = plan.node(node)
    assert found is not None
    return next(p.host_port for p in found.ports if p.container_port == container_port)


def test_tcp_udp_and_api_server_ports_reach_the_nodes() -> None:
    with temporary_cluster(CONFIG) as name:
        plan = query.cluster_plan(name)
        worker, gateway = f"{name}-worker", plan.network.gateway
        tcp = ("127.0.0.1", host_port(plan, worker, 31000))
        with server_in(worker, TCP_SERVER, 31000), socket.create_connection(tcp) as c:
            c.sendall(b"hello")
            assert c.recv(1024) == f"tcp from {gateway}: hello".encode()
        udp = ("127.0.0.1", host_port(plan, worker, 31053))
        with server_in(worker, UDP_SERVER, 31053), socket.socket(type=socket.SOCK_DGRAM) as u:
            u.settimeout(5)
            u.sendto(b"ping", udp)
            assert u.recv(1024) == f"udp from {gateway}: ping".encode()
        # The API port reaches the API server on the control plane's 6443 (TLS, its own CA).
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        api = ("127.0.0.1", plan.api_server.host_port)
        with socket.create_connection(api) as raw, context.wrap_socket(raw) as tls:
            tls.sendall(b"GET /readyz HTTP/1.0\r\n\r\n")
            assert tls.recv(1024).startswith(b"HTTP/1.0 200")


def test_a_published_port_with_nothing_behind_it_closes_the_connection() -> None:
    with temporary_cluster(CONFIG) as name:
        plan = query.cluster_plan(name)
        port = host_port(plan, f"{name}-worker", 31000)
        with socket.create_connection(("127.0.0.1", port)) as c:
            c.settimeout(10)
            assert c.recv(1024) == b""


def test_get_port_mappings_shows_docker_style_ports() -> None:
    with temporary_cluster(CONFIG) as name:
        plan = query.cluster_plan(name)
        worker = f"{name}-worker"
        table = kin("get", "port-mappings", "--name", name).stdout.splitlines()
        assert table[2].split(None, 1) == [
            worker,
            f"127.0.0.1:{host_port(plan, worker, 31000)}->31000/tcp, "
            f"127.0.0.1:{host_port(plan, worker, 31053)}->31053/udp",
        ]


def test_host_ports_are_released_on_delete() -> None:
    with temporary_cluster(CONFIG) as name:
        port = query.cluster_plan(name).api_server.host_port
    deadline = time.monotonic() + 10
    while True:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
                return
            except OSError:
                assert time.monotonic() < deadline, f"port {port} still held after delete"
        time.sleep(0.05)


def test_port_mappings_are_added_and_removed_on_a_running_cluster() -> None:
    with temporary_cluster(CONFIG) as name:
        worker = f"{name}-worker"
        made = kin("create", "port-mapping", "--name", name, "--node", worker,
                   "--listen-address", "127.0.0.1", "0:31500").stdout  # fmt: skip
        node, mapping = made.split()
        assert node == worker and mapping.endswith("->31500/tcp"), made
        port = int(mapping.split("->")[0].rsplit(":", 1)[1])
        assert f"127.0.0.1:{port}->31500/tcp" in kin("get", "port-mappings", "--name", name).stdout
        with (
            server_in(worker, TCP_SERVER, 31500),
            socket.create_connection(("127.0.0.1", port)) as c,
        ):
            c.sendall(b"hi")
            assert c.recv(1024).endswith(b": hi")  # through the publisher to the worker
        taken = kin("create", "port-mapping", "--name", name, "--listen-address", "127.0.0.1",
                    f"{port}:80", check=False)  # fmt: skip
        assert taken.returncode == 1 and "already published" in taken.stderr
        missing = kin("create", "port-mapping", "--name", name, "--node", "nope", "0:80",
                      check=False)  # fmt: skip
        assert missing.returncode == 1 and "has no node 'nope'" in missing.stderr
        kin("delete", "port-mapping", "--name", name, str(port))
        assert f":{port}->" not in kin("get", "port-mappings", "--name", name).stdout
        with socket.socket() as probe:  # released: the host may listen there again
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(("127.0.0.1", port))
            probe.listen()
        gone = kin("delete", "port-mapping", "--name", name, str(port), check=False)
        assert gone.returncode == 1 and "publishes no host port" in gone.stderr
