"""``kin create|delete port-mapping``: publish a host port on a running cluster.

kind fixes ``extraPortMappings`` at create time (a docker container's ports cannot be
changed later), and users ask for more. kin's publisher can: the CLI binds the new host
port itself (so a port in use is an error here, naming it, and nothing changes), hands
the listening socket to the running publisher over its control socket, and records the
mapping in the cluster's plan, where ``kin get port-mappings`` shows it and ``kin start``
binds it again. A stopped cluster only has its plan changed (the port is checked free
now, and bound at the start). Deleting a mapping (one of the config's too) closes its
listener; connections already relayed finish on their own.
"""

from __future__ import annotations

import array
import dataclasses
import ipaddress
import json
import os
import socket

from kin.cluster.plan import ClusterPlan, NodePlan, PortPlan
from kin.cluster.ports import CONTROL_SOCKET, PortRequest, reserve_ports
from kin.cluster.state import READY, ClusterState, cluster_dir, host_lock, load_state
from kin.errors import ClusterError, ClusterNotFoundError, ConfigError, KinError

__all__ = ["add_port_mapping", "delete_port_mapping", "publisher_request"]

REPLY_TIMEOUT = 5.0


def add_port_mapping(
    cluster: str, node_name: str, host_port: int, container_port: int, protocol: str,
    listen_address: str,
) -> PortPlan:  # fmt: skip
    """Publish ``listen_address:host_port`` -> ``node_name:container_port``; the mapping
    as made (a ``host_port`` of 0 as the kernel chose it)."""
    _check_values(host_port, container_port, protocol, listen_address)
    with host_lock():
        state, plan = _load(cluster)
        node = plan.node(node_name)
        if node is None:
            names = ", ".join(n.name for n in plan.nodes)
            raise ClusterError(f"cluster {cluster!r} has no node {node_name!r} (it has {names})")
        source = f"port-mapping {listen_address}:{host_port}/{protocol}"
        request = PortRequest(source, listen_address, host_port, protocol)
        for taken in _published(plan):
            if _same(taken, request):
                where = f"{listen_address}:{host_port}/{protocol}"
                raise ConfigError(f"host port {where} is already published by cluster "
                                  f"{cluster!r} ({taken.source})")  # fmt: skip
        with reserve_ports([request]) as (reservation,):
            chosen = f"port-mapping {listen_address}:{reservation.port}/{protocol}"
            mapping = PortPlan(listen_address, reservation.port, container_port, protocol, chosen)
            if state.status == READY:
                publisher_request(cluster, _add_message(mapping, node), reservation.sock)
        _save(state, plan, node, [*node.ports, mapping])
    return mapping


def delete_port_mapping(
    cluster: str, host_port: int, protocol: str, listen_address: str
) -> PortPlan:
    """Stop publishing the host port (``listen_address`` empty: at whatever address it
    listens); the mapping removed."""
    with host_lock():
        state, plan = _load(cluster)
        found = [(node, port) for node in plan.nodes for port in node.ports
                 if port.host_port == host_port and port.protocol == protocol
                 and listen_address in ("", port.listen_address)]  # fmt: skip
        if not found:
            where = f"{listen_address or '*'}:{host_port}/{protocol}"
            raise ClusterError(f"cluster {cluster!r} publishes no host port {where}")
        if len(found) > 1:
            raise ConfigError(f"host port {host_port}/{protocol} is published at several "
                              "addresses: say which with --listen-address")  # fmt: skip
        node, mapping = found[0]
        if state.status == READY:
            publisher_request(cluster, {"op": "remove", "listen": _listen_key(mapping)})
        _save(state, plan, node, [p for p in node.ports if p is not mapping])
    return mapping


def publisher_request(
    cluster: str, message: dict[str, object], sock: socket.socket | None = None
) -> None:
    """Send one request (with ``sock`` attached) to the running publisher; KinError with
    its answer if it refuses, or if it cannot be asked."""
    path = os.path.join(cluster_dir(cluster), CONTROL_SOCKET)
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as control:
        control.settimeout(REPLY_TIMEOUT)
        try:
            control.connect(path)
            fds = array.array("i", [sock.fileno()] if sock is not None else [])
            ancillary = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds)] if sock is not None else []
            control.sendmsg([json.dumps(message).encode()], ancillary)
            reply = json.loads(control.recv(65536) or b"{}")
        except (OSError, ValueError) as exc:
            raise KinError(
                f"cannot reach the port publisher of cluster {cluster!r} at {path}: "
                f"{exc} (made by an older kin? stop and start the cluster)"
            ) from exc
    if not reply.get("ok"):
        raise KinError(f"the port publisher of cluster {cluster!r} refused: "
                       f"{reply.get('error', 'no answer')}")  # fmt: skip


def _check_values(host_port: int, container_port: int, protocol: str, listen: str) -> None:
    problems = []
    if not 0 <= host_port <= 65535:
        problems.append(f"host port {host_port} is not in 0-65535")
    if not 1 <= container_port <= 65535:
        problems.append(f"container port {container_port} is not in 1-65535")
    if protocol not in ("tcp", "udp"):
        problems.append(f"protocol {protocol!r}: use tcp or udp")
    try:
        ipaddress.ip_address(listen)
    except ValueError:
        problems.append(f"listen address {listen!r} is not an IP address")
    if problems:
        raise ConfigError(problems)


def _load(cluster: str) -> tuple[ClusterState, ClusterPlan]:
    state = load_state(cluster)
    if state is None:
        raise ClusterNotFoundError(f'unknown cluster "{cluster}"')
    return state, ClusterPlan.from_json(state.plan)


def _published(plan: ClusterPlan) -> list[PortPlan]:
    return [plan.api_server, *(p for node in plan.nodes for p in node.ports)]


def _same(taken: PortPlan, request: PortRequest) -> bool:
    if request.port == 0 or taken.host_port != request.port or taken.protocol != request.protocol:
        return False
    addresses = (taken.listen_address, request.listen_address)
    return addresses[0] == addresses[1] or any(
        ipaddress.ip_address(a).is_unspecified for a in addresses
    )


def _listen_key(mapping: PortPlan) -> str:
    return f"{mapping.listen_address}:{mapping.host_port}/{mapping.protocol}"


def _add_message(mapping: PortPlan, node: NodePlan) -> dict[str, object]:
    return {"op": "add", "protocol": mapping.protocol, "node": node.name,
            "listen": f"{mapping.listen_address}:{mapping.host_port}",
            "target": [node.ip, mapping.container_port]}  # fmt: skip


def _save(state: ClusterState, plan: ClusterPlan, node: NodePlan, ports: list[PortPlan]) -> None:
    changed = dataclasses.replace(node, ports=tuple(ports))
    nodes = tuple(changed if n.name == node.name else n for n in plan.nodes)
    state.plan = dataclasses.replace(plan, nodes=nodes).to_json()
    state.save()
