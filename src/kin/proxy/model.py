"""What kube-proxy programs, from Services and EndpointSlices: one ``ServicePort`` each.

Pure data, shared by both rule renderers (nftables and iptables), so the two modes make
the same decisions. The choices follow kube-proxy's own (``pkg/proxy``):

- A Service without a cluster IP (headless, ``None``) or of type ExternalName gets no
  rules: DNS answers for it. A port whose protocol is not TCP, UDP or SCTP is skipped.
- Endpoints come from every EndpointSlice labelled ``kubernetes.io/service-name`` with
  the Service's name, IPv4 only, matched to the service port by port *name*. Ready
  endpoints serve; when none is ready, serving-and-terminating ones do (kube-proxy's
  terminating-endpoint fallback), so a rolling update drops no connection it can keep.
- ``internalTrafficPolicy: Local`` keeps only this node's endpoints for cluster IPs,
  ``externalTrafficPolicy: Local`` only this node's for NodePorts (and then keeps the
  client's address: no masquerade).
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DEFAULT_AFFINITY_SECONDS",
    "SERVICE_NAME_LABEL",
    "Endpoint",
    "ServicePort",
    "service_ports",
]

Obj = Mapping[str, Any]
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
DEFAULT_AFFINITY_SECONDS = 10800
PROTOCOLS = {"TCP": "tcp", "UDP": "udp", "SCTP": "sctp"}


@dataclass(frozen=True, order=True)
class Endpoint:
    ip: str
    port: int
    node: str = ""
    ready: bool = True
    serving: bool = True
    terminating: bool = False

    @property
    def address(self) -> str:
        return f"{self.ip}:{self.port}"


@dataclass(frozen=True)
class ServicePort:
    namespace: str
    name: str
    port_name: str
    protocol: str  # tcp, udp or sctp
    cluster_ip: str
    port: int
    node_port: int = 0
    external_ips: tuple[str, ...] = ()
    affinity_seconds: int = 0  # 0: no session affinity
    external_local: bool = False  # externalTrafficPolicy: Local
    cluster_endpoints: tuple[Endpoint, ...] = ()
    """Where traffic to the cluster IP goes (internalTrafficPolicy applied)."""
    external_endpoints: tuple[Endpoint, ...] = ()
    """Where NodePort and external-IP traffic goes (externalTrafficPolicy applied)."""

    @property
    def key(self) -> str:
        """kube-proxy's ServicePortName: ``namespace/name`` and ``:port`` if named."""
        suffix = f":{self.port_name}" if self.port_name else ""
        return f"{self.namespace}/{self.name}{suffix}"

    @property
    def external(self) -> bool:
        return bool(self.node_port or self.external_ips)


def service_ports(services: Iterable[Obj], slices: Iterable[Obj], node: str) -> list[ServicePort]:
    """Every service port kube-proxy on ``node`` programs, ordered by key."""
    endpoints = _endpoints_by_port(slices)
    found: list[ServicePort] = []
    for service in services:
        found.extend(_ports_of(service, endpoints, node))
    return sorted(found, key=lambda sp: (sp.key, sp.protocol))


def _ports_of(
    service: Obj, endpoints: Mapping[tuple[str, str, str], set[Endpoint]], node: str
) -> Iterable[ServicePort]:
    meta, spec = service.get("metadata") or {}, service.get("spec") or {}
    cluster_ip = str(spec.get("clusterIP") or "")
    if spec.get("type") == "ExternalName" or not _is_ipv4(cluster_ip):
        return
    namespace, name = str(meta.get("namespace") or "default"), str(meta.get("name") or "")
    affinity = 0
    if spec.get("sessionAffinity") == "ClientIP":
        config = ((spec.get("sessionAffinityConfig") or {}).get("clientIP")) or {}
        affinity = int(config.get("timeoutSeconds") or DEFAULT_AFFINITY_SECONDS)
    internal_local = spec.get("internalTrafficPolicy") == "Local"
    external_local = spec.get("externalTrafficPolicy") == "Local"
    external_ips = tuple(ip for ip in spec.get("externalIPs") or [] if _is_ipv4(str(ip)))
    for port in spec.get("ports") or []:
        protocol = PROTOCOLS.get(str(port.get("protocol") or "TCP"))
        if protocol is None or not isinstance(port.get("port"), int):
            continue
        port_name = str(port.get("name") or "")
        every = endpoints.get((namespace, name, port_name), set())
        usable = _usable(every)
        local = _usable(e for e in every if e.node == node)
        node_port = port.get("nodePort") if spec.get("type") in ("NodePort", "LoadBalancer") else 0
        yield ServicePort(
            namespace=namespace, name=name, port_name=port_name, protocol=protocol,
            cluster_ip=cluster_ip, port=port["port"],
            node_port=node_port if isinstance(node_port, int) else 0,
            external_ips=external_ips, affinity_seconds=affinity,
            external_local=external_local,
            cluster_endpoints=local if internal_local else usable,
            external_endpoints=local if external_local else usable,
        )  # fmt: skip


def _usable(endpoints: Iterable[Endpoint]) -> tuple[Endpoint, ...]:
    """Ready endpoints, or (when none is) the serving ones that are terminating."""
    pool = sorted(endpoints, key=lambda e: (_ipv4_number(e.ip), e.port))
    ready = tuple(e for e in pool if e.ready)
    return ready or tuple(e for e in pool if e.serving and e.terminating)


def _endpoints_by_port(slices: Iterable[Obj]) -> dict[tuple[str, str, str], set[Endpoint]]:
    """(namespace, service, port name) -> its endpoints, merged over the service's slices."""
    found: dict[tuple[str, str, str], set[Endpoint]] = {}
    for eps in slices:
        meta = eps.get("metadata") or {}
        service = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
        if not service or eps.get("addressType", "IPv4") != "IPv4":
            continue
        namespace = str(meta.get("namespace") or "default")
        for port in eps.get("ports") or []:
            number = port.get("port")
            if not isinstance(number, int):
                continue
            target = found.setdefault((namespace, service, str(port.get("name") or "")), set())
            target.update(_endpoints(eps.get("endpoints") or [], number))
    return found


def _endpoints(items: Iterable[Obj], port: int) -> Iterable[Endpoint]:
    for item in items:
        conditions = item.get("conditions") or {}
        ready = conditions.get("ready") is not False  # nil means ready
        serving = conditions.get("serving", ready) is not False
        terminating = bool(conditions.get("terminating"))
        for address in item.get("addresses") or []:
            if _is_ipv4(str(address)):
                node = str(item.get("nodeName") or "")
                yield Endpoint(str(address), port, node, ready, serving, terminating)


def _is_ipv4(text: str) -> bool:
    return _ipv4_number(text) >= 0


@functools.lru_cache(maxsize=1 << 16)  # every sync sees the same addresses again
def _ipv4_number(text: str) -> int:
    """The address as a number, -1 if ``text`` is not an IPv4 address."""
    try:
        return int(ipaddress.IPv4Address(text))
    except ValueError:
        return -1
