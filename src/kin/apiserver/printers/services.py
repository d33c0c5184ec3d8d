"""Services and where they lead: services, endpoints and endpoint slices.

A service's EXTERNAL-IP depends on its type: ``<none>`` for ClusterIP and NodePort
without ``externalIPs``, the load balancer's addresses or ``<pending>`` for
LoadBalancer, the DNS name for ExternalName. PORT(S) reads ``80/TCP`` or, with a node
port, ``80:30080/TCP``. ENDPOINTS lists at most three ``ip:port`` pairs and says how
many more there are (``10.244.1.5:80,10.244.2.3:80,10.244.2.4:80 + 2 more...``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kin.apiserver.printers.base import (
    AGE,
    NAME,
    Column,
    Obj,
    Printer,
    Row,
    age,
    format_labels,
    get,
    items,
    name,
    text,
)
from kin.apiserver.printers.descriptions import DOCS

__all__ = [
    "ENDPOINTS",
    "ENDPOINT_SLICES",
    "SERVICES",
    "endpoints_summary",
    "external_ip",
    "service_ports",
]

MAX_SHOWN = 3


def external_ip(service: Obj) -> str:
    """``getServiceExternalIP`` with ``wide`` (the server never shortens the list)."""
    kind = text(service, "spec", "type")
    external = [str(ip) for ip in items(service, "spec", "externalIPs")]
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) or "<none>"
    if kind == "LoadBalancer":
        balancers = _load_balancer_ips(service)
        return ",".join([*balancers, *external]) or "<pending>"
    if kind == "ExternalName":
        return text(service, "spec", "externalName")
    return "<unknown>"


def _load_balancer_ips(service: Obj) -> list[str]:
    ingress = items(service, "status", "loadBalancer", "ingress")
    return sorted({text(i, "ip") or text(i, "hostname") for i in ingress} - {""})


def service_ports(service: Obj) -> str:
    return ",".join(_port(p) for p in items(service, "spec", "ports")) or "<none>"


def _port(port: Any) -> str:
    number, node_port, protocol = text(port, "port"), get(port, "nodePort"), text(port, "protocol")
    if isinstance(node_port, int) and node_port > 0:
        return f"{number}:{node_port}/{protocol}"
    return f"{number}/{protocol}"


def _cluster_ip(service: Obj) -> str:
    ips = items(service, "spec", "clusterIPs")
    return str(ips[0]) if ips else text(service, "spec", "clusterIP") or "<none>"


def _service_row(service: Obj, now: datetime) -> Row:
    cells = [name(service), text(service, "spec", "type"), _cluster_ip(service)]
    cells += [external_ip(service), service_ports(service), age(service, now)]
    return {"cells": [*cells, format_labels(get(service, "spec", "selector"))]}


SERVICES = Printer(
    (
        NAME,
        Column("Type", "string", DOCS["svc.type"]),
        Column("Cluster-IP", "string", DOCS["svc.clusterIP"]),
        Column("External-IP", "string", DOCS["svc.externalIPs"]),
        Column("Port(s)", "string", DOCS["svc.ports"]),
        AGE,
        Column("Selector", "string", DOCS["svc.selector"], priority=1),
    ),
    _service_row,
)


def _host_port(ip: str, port: str) -> str:
    """Go's ``net.JoinHostPort``: IPv6 addresses in brackets."""
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def endpoints_summary(endpoints: Obj) -> str:
    """``formatEndpoints``: ``<none>`` without subsets, else up to three entries."""
    subsets = items(endpoints, "subsets")
    if not subsets:
        return "<none>"
    shown: list[str] = []
    total = 0
    for subset in subsets:
        ips = [text(a, "ip") for a in items(subset, "addresses")]
        ports = [text(p, "port") for p in items(subset, "ports")]
        for entry in ([_host_port(ip, p) for ip in ips] for p in ports) if ports else [ips]:
            total += len(entry)
            shown += entry[: MAX_SHOWN - len(shown)]
    return _with_more(shown, total, "")


def _with_more(shown: list[str], total: int, empty: str) -> str:
    listed = ",".join(shown)
    if total > MAX_SHOWN:
        return f"{listed} + {total - MAX_SHOWN} more..."
    return listed or empty


ENDPOINTS = Printer(
    (NAME, Column("Endpoints", "string", DOCS["ep.subsets"]), AGE),
    lambda ep, now: {"cells": [name(ep), endpoints_summary(ep), age(ep, now)]},
)


def _slice_port(port: Any) -> str:
    number, port_name = get(port, "port"), get(port, "name")
    if number is not None:
        return str(number)
    return str(port_name) if port_name is not None else "*"


def _slice_row(endpoint_slice: Obj, now: datetime) -> Row:
    ports = [_slice_port(p) for p in items(endpoint_slice, "ports")]
    addresses = [str(a) for e in items(endpoint_slice, "endpoints") for a in items(e, "addresses")]
    cells = [name(endpoint_slice), text(endpoint_slice, "addressType")]
    cells += [_with_more(ports[:MAX_SHOWN], len(ports), "<unset>")]
    cells += [_with_more(addresses[:MAX_SHOWN], len(addresses), "<unset>")]
    return {"cells": [*cells, age(endpoint_slice, now)]}


ENDPOINT_SLICES = Printer(
    (
        NAME,
        Column("AddressType", "string", DOCS["slice.addressType"]),
        Column("Ports", "string", DOCS["slice.ports"]),
        Column("Endpoints", "string", DOCS["slice.endpoints"]),
        AGE,
    ),
    _slice_row,
)
