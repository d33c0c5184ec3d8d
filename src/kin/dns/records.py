"""The cluster zone: Kubernetes' DNS-based service discovery spec (1.1.0) as a lookup table.

From Services and EndpointSlices, for the zone ``cluster.local`` (``--zone``):

- a Service with a cluster IP: ``A`` ``svc.ns.svc.zone`` -> the cluster IP, ``SRV``
  ``_port._proto.svc.ns.svc.zone`` (and ``svc.ns.svc.zone``) -> the port on that name,
  ``PTR`` from the cluster IP back to the name;
- a headless Service: ``A`` records for each ready endpoint (every endpoint with
  ``publishNotReadyAddresses``), and per endpoint ``hostname.svc.ns.svc.zone`` (its
  ``hostname``, else its address with dashes) with ``A``, ``PTR`` and the ``SRV`` targets;
- an ExternalName Service: a ``CNAME`` to its external name;
- pods: ``a-b-c-d.ns.pod.zone`` -> ``a.b.c.d`` (CoreDNS's ``pods insecure``, kubeadm's);
- ``dns-version.zone`` ``TXT`` "1.1.0".

A name in the zone without records of the asked type answers NOERROR with no answer
(NODATA), an unknown one NXDOMAIN, both with the zone's SOA so resolvers cache the
negative answer. Names are matched without regard to case.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kin.dns.wire import NOERROR, NXDOMAIN, TYPES, Record

__all__ = ["SPEC_VERSION", "Answer", "Zone", "build", "reverse_name"]

Obj = Mapping[str, Any]
SPEC_VERSION = "1.1.0"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
A, AAAA, CNAME, PTR, SRV, TXT, SOA, ANY = (TYPES[t] for t in
                                           ("A", "AAAA", "CNAME", "PTR", "SRV", "TXT", "SOA",
                                            "ANY"))  # fmt: skip
REVERSE_ZONES = ("in-addr.arpa", "ip6.arpa")


@dataclass
class Answer:
    rcode: int
    answers: list[Record] = field(default_factory=list)
    authority: list[Record] = field(default_factory=list)
    additional: list[Record] = field(default_factory=list)
    authoritative: bool = True


@dataclass
class Zone:
    domain: str
    ttl: int
    records: dict[str, list[Record]] = field(default_factory=dict)
    names: set[str] = field(default_factory=set)
    """Every name that exists (with records, or as a parent of one)."""
    serial: int = 0
    pods: bool = True
    """Answer ``a-b-c-d.ns.pod.zone`` (CoreDNS's ``pods insecure``; off: ``pods disabled``)."""

    def covers(self, name: str) -> bool:
        """True if ``name`` (lower case) is this server's to answer."""
        return _within(name, self.domain) or any(_within(name, z) for z in REVERSE_ZONES)

    def lookup(self, name: str, qtype: int) -> Answer:
        key = name.lower().rstrip(".")
        found = self.records.get(key) or self._pod(key)
        if found:
            cname = [r for r in found if r.rtype == CNAME]
            matching = cname or [r for r in found if qtype in (ANY, r.rtype)]
            if matching:
                return Answer(NOERROR, matching, additional=self._additional(matching))
        if found or key in self.names:
            return Answer(NOERROR, authority=[self.soa()])
        return Answer(NXDOMAIN, authority=[self.soa()])

    def soa(self) -> Record:
        d = self.domain
        return Record(d, SOA, self.ttl, (f"ns.dns.{d}", f"hostmaster.{d}", self.serial,
                                         7200, 1800, 86400, self.ttl))  # fmt: skip

    def _pod(self, key: str) -> list[Record]:
        """``a-b-c-d.ns.pod.zone``, answered from the name itself (``pods insecure``)."""
        suffix = f".pod.{self.domain}"
        if not self.pods or not key.endswith(suffix):
            return []
        labels = key[: -len(suffix)].split(".")
        if len(labels) != 2:
            return []
        try:
            address = ipaddress.IPv4Address(labels[0].replace("-", "."))
        except ValueError:
            return []
        return [Record(key, A, self.ttl, str(address))]

    def _additional(self, answers: list[Record]) -> list[Record]:
        """The addresses of SRV targets, so a client needs no second question."""
        extra: list[Record] = []
        for record in answers:
            if record.rtype == SRV:
                target = str(record.data[3]).lower()  # type: ignore[index]
                extra += [r for r in self.records.get(target, []) if r.rtype == A]
        return list(dict.fromkeys(extra))


def build(
    services: Iterable[Obj], slices: Iterable[Obj], domain: str, ttl: int, pods: bool = True
) -> Zone:
    zone = Zone(domain, ttl, serial=int(time.time()), pods=pods)
    endpoints = _endpoints_by_service(slices)
    for service in services:
        _add_service(zone, service, endpoints)
    _add(zone, Record(f"dns-version.{domain}", TXT, ttl, SPEC_VERSION))
    for name in [*zone.records, domain]:
        _add_parents(zone, name)
    return zone


def _add(zone: Zone, record: Record) -> None:
    found = zone.records.setdefault(record.name.lower(), [])
    if record not in found:
        found.append(record)


def _add_parents(zone: Zone, name: str) -> None:
    for top in (zone.domain, *REVERSE_ZONES):
        if _within(name, top):
            labels = name.split(".")
            for i in range(len(labels) - top.count(".")):
                zone.names.add(".".join(labels[i:]))


def _within(name: str, zone: str) -> bool:
    return name == zone or name.endswith("." + zone)


def _add_service(zone: Zone, service: Obj, endpoints: Mapping[tuple[str, str], list[Obj]]) -> None:
    meta, spec = service.get("metadata") or {}, service.get("spec") or {}
    namespace, name = str(meta.get("namespace") or "default"), str(meta.get("name") or "")
    base = f"{name}.{namespace}.svc.{zone.domain}"
    zone.names.add(base)
    if spec.get("type") == "ExternalName":
        external = str(spec.get("externalName") or "").rstrip(".")
        if external:
            _add(zone, Record(base, CNAME, zone.ttl, external))
        return
    cluster_ip = str(spec.get("clusterIP") or "")
    ports = [p for p in spec.get("ports") or [] if isinstance(p.get("port"), int)]
    if cluster_ip == "None":
        ready_only = not spec.get("publishNotReadyAddresses")
        _add_headless(zone, base, endpoints.get((namespace, name), []), ready_only)
        return
    if not _ip(cluster_ip):
        return
    _add(zone, Record(base, A if _ip(cluster_ip) == 4 else AAAA, zone.ttl, cluster_ip))
    _add(zone, Record(reverse_name(cluster_ip), PTR, zone.ttl, base))
    for port in ports:
        target = (0, 100, port["port"], base)
        _add(zone, Record(base, SRV, zone.ttl, target))
        if port.get("name"):
            protocol = str(port.get("protocol") or "TCP").lower()
            _add(zone, Record(f"_{port['name']}._{protocol}.{base}", SRV, zone.ttl, target))


def _add_headless(zone: Zone, base: str, slices: list[Obj], ready_only: bool) -> None:
    for eps in slices:
        ports = [p for p in eps.get("ports") or [] if isinstance(p.get("port"), int)]
        members = [e for e in eps.get("endpoints") or [] if not ready_only or _ready(e)]
        weight = max(1, 100 // max(1, len(members)))
        for member in members:
            for address in member.get("addresses") or []:
                if _ip(str(address)):
                    _add_endpoint(zone, base, member, str(address), ports, weight)


def _ready(endpoint: Obj) -> bool:
    return (endpoint.get("conditions") or {}).get("ready") is not False  # unset means ready


def _add_endpoint(
    zone: Zone, base: str, member: Obj, address: str, ports: list[Obj], weight: int
) -> None:
    host = str(member.get("hostname") or address.replace(".", "-").replace(":", "-"))
    own = f"{host}.{base}"
    rtype = A if _ip(address) == 4 else AAAA
    _add(zone, Record(base, rtype, zone.ttl, address))
    _add(zone, Record(own, rtype, zone.ttl, address))
    _add(zone, Record(reverse_name(address), PTR, zone.ttl, own))
    for port in ports:
        target = (0, weight, port["port"], own)
        _add(zone, Record(base, SRV, zone.ttl, target))
        if port.get("name"):
            protocol = str(port.get("protocol") or "TCP").lower()
            _add(zone, Record(f"_{port['name']}._{protocol}.{base}", SRV, zone.ttl, target))


def _endpoints_by_service(slices: Iterable[Obj]) -> dict[tuple[str, str], list[Obj]]:
    found: dict[tuple[str, str], list[Obj]] = {}
    for eps in slices:
        meta = eps.get("metadata") or {}
        service = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
        if service:
            namespace = str(meta.get("namespace") or "default")
            found.setdefault((namespace, str(service)), []).append(eps)
    return found


def _ip(text: str) -> int:
    """4 or 6 for an address, 0 for anything else."""
    try:
        return ipaddress.ip_address(text).version
    except ValueError:
        return 0


def reverse_name(address: str) -> str:
    return ipaddress.ip_address(address).reverse_pointer
