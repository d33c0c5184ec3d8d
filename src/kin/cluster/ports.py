"""Host ports: reserved by binding them before anything is created, then handed to the publisher.

kind learns that a host port is taken only when ``docker run`` fails half-way
through a create. kin binds every requested ``listenAddress:hostPort`` (and the
API server's) first: a port in use or an address this host does not have is an
error that names the config field, and nothing has been created yet. A port of
``0`` is chosen by the kernel at that moment and stays held, so no other
program can take it between the check and its use. The bound sockets are then
inherited by the cluster's port publisher.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from kin.cluster.plan import API_SERVER_NODE_PORT, ClusterPlan
from kin.cluster.state import cluster_dir, host_lock_path, state_file, write_json_atomic
from kin.config import Cluster
from kin.errors import ConfigError
from kin.linux import ns
from kin.linux.proc import ProcessRecord, spawn_daemon

__all__ = [
    "CONTROL_SOCKET",
    "PortRequest",
    "Reservation",
    "planned_port_requests",
    "port_requests",
    "publisher_record",
    "publisher_specs",
    "reserve_ports",
    "start_publisher",
]

LISTEN_BACKLOG = 128
CONTROL_SOCKET = "publisher.sock"  # where the running publisher takes new ports


@dataclass(frozen=True)
class PortRequest:
    key: str
    """The config field asking for the port, e.g. ``nodes[1].extraPortMappings[0]``."""
    listen_address: str
    port: int
    protocol: str


@dataclass
class Reservation:
    request: PortRequest
    sock: socket.socket

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])


def port_requests(config: Cluster) -> list[PortRequest]:
    """Every host port the config asks for, API server first."""
    net = config.networking
    requests = [
        PortRequest("networking.apiServerPort", net.api_server_address, net.api_server_port, "tcp")
    ]
    for i, node in enumerate(config.nodes):
        for j, mapping in enumerate(node.extra_port_mappings):
            requests.append(
                PortRequest(
                    f"nodes[{i}].extraPortMappings[{j}]",
                    mapping.listen_address or "0.0.0.0",
                    mapping.host_port,
                    (mapping.protocol or "TCP").lower(),
                )
            )
    return requests


def planned_port_requests(plan: ClusterPlan) -> list[PortRequest]:
    """The host ports a created cluster holds (``0`` requests as then chosen), API server first."""
    ports = [plan.api_server, *(port for node in plan.nodes for port in node.ports)]
    return [PortRequest(p.source, p.listen_address, p.host_port, p.protocol) for p in ports]


@contextmanager
def reserve_ports(requests: list[PortRequest]) -> Iterator[list[Reservation]]:
    """Bind every request; all problems are reported at once, and every socket is closed after."""
    reservations: list[Reservation] = []
    problems: list[str] = []
    try:
        for request in requests:
            try:
                reservations.append(Reservation(request, _bind(request)))
            except OSError as exc:
                problems.append(_explain(request, exc, reservations))
        if problems:
            raise ConfigError(problems)
        yield reservations
    finally:
        for reservation in reservations:
            reservation.sock.close()


def _bind(request: PortRequest) -> socket.socket:
    family = socket.AF_INET6 if ":" in request.listen_address else socket.AF_INET
    kind = socket.SOCK_STREAM if request.protocol == "tcp" else socket.SOCK_DGRAM
    sock = socket.socket(family, kind)
    try:
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        if kind == socket.SOCK_STREAM:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((request.listen_address, request.port))
        if kind == socket.SOCK_STREAM:
            sock.listen(LISTEN_BACKLOG)
    except OSError:
        sock.close()
        raise
    return sock


def _explain(request: PortRequest, exc: OSError, earlier: list[Reservation]) -> str:
    where = f"{request.listen_address}:{request.port}/{request.protocol} ({request.key})"
    if exc.errno == errno.EADDRINUSE:
        clash = _clashing(request, earlier)
        if clash is not None:
            return f"host port {where} is also requested by {clash.request.key}"
        return f"host port {where} is already in use on this host"
    if exc.errno == errno.EADDRNOTAVAIL:
        address = request.listen_address
        return f"listen address {address} ({request.key}) is not an address of this host"
    if exc.errno == errno.EACCES:
        return f"host port {where}: permission denied"
    return f"cannot listen on {where}: {exc.strerror}"


def _clashing(request: PortRequest, earlier: list[Reservation]) -> Reservation | None:
    for reservation in earlier:
        other = reservation.request
        same_port = reservation.port == request.port and other.protocol == request.protocol
        if same_port and _addresses_overlap(other.listen_address, request.listen_address):
            return reservation
    return None


def _addresses_overlap(a: str, b: str) -> bool:
    return (
        a == b or ipaddress.ip_address(a).is_unspecified or ipaddress.ip_address(b).is_unspecified
    )


def publisher_specs(plan: ClusterPlan, reservations: list[Reservation]) -> list[dict[str, object]]:
    """What the publisher serves: each reserved socket's fd and its node-side target."""
    targets = {plan.api_server.source: (plan.control_plane, API_SERVER_NODE_PORT)}
    for node in plan.nodes:
        targets.update({port.source: (node, port.container_port) for port in node.ports})
    specs: list[dict[str, object]] = []
    for reservation in reservations:
        node, port = targets[reservation.request.key]
        request = reservation.request
        specs.append(
            {
                "fd": reservation.sock.fileno(),
                "protocol": request.protocol,
                "listen": f"{request.listen_address}:{reservation.port}",
                "node": node.name,
                "target": [node.ip, port],
            }
        )
    return specs


def start_publisher(plan: ClusterPlan, reservations: list[Reservation]) -> None:
    """Spawn the cluster's publisher with the reserved sockets; it runs detached from us.

    The publisher records its own PID (see ``kin.cluster.publisher``), so a
    ``kill -9`` of this process right after the spawn cannot hide it from delete.
    """
    directory = cluster_dir(plan.name)
    spec_path = os.path.join(directory, "publisher.json")
    specs = publisher_specs(plan, reservations)
    write_json_atomic(
        spec_path,
        {
            "netns": ns.netns_path(plan.network.netns),
            "pid_file": os.path.join(directory, "publisher.pid"),
            "owner_file": state_file(plan.name),
            "lock_file": host_lock_path(),
            "control": os.path.join(directory, CONTROL_SOCKET),
            "ports": specs,
        },
    )
    argv = [sys.executable, "-m", "kin.cluster.publisher", "--cluster", plan.name]
    argv += ["--spec", spec_path]
    log_path = os.path.join(directory, "publisher.log")
    inherit = tuple(r.sock.fileno() for r in reservations)
    spawn_daemon(argv, log_path, dict(os.environ), inherit)


def publisher_record(cluster: str) -> ProcessRecord | None:
    return ProcessRecord.load(os.path.join(cluster_dir(cluster), "publisher.pid"))
