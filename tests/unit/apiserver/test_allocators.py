"""Cluster IPs and node ports for Services."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from kin.apiserver.allocators import ServiceAllocator, dns_service_ip, kubernetes_service_ip
from kin.errors import APIError

CIDR = "10.96.0.0/16"


def service(name: str, kind: str = "ClusterIP", **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"type": kind, "ports": [{"port": 80}], **spec}
    return {"metadata": {"name": name, "uid": name}, "spec": body}


def test_well_known_addresses() -> None:
    assert kubernetes_service_ip(CIDR) == "10.96.0.1"
    assert dns_service_ip(CIDR) == "10.96.0.10"


def test_a_cluster_ip_is_free_and_inside_the_range() -> None:
    allocator = ServiceAllocator(CIDR)
    existing: list[dict[str, Any]] = []
    for i in range(50):
        svc = service(f"s{i}")
        allocator.assign(svc, existing)
        ip = svc["spec"]["clusterIP"]
        assert ipaddress.ip_address(ip) in ipaddress.ip_network(CIDR)
        assert svc["spec"]["clusterIPs"] == [ip]
        existing.append(svc)
    assert len({s["spec"]["clusterIP"] for s in existing}) == 50


def test_a_requested_ip_that_is_taken_is_refused() -> None:
    allocator = ServiceAllocator(CIDR)
    first = service("a", clusterIP="10.96.0.50")
    allocator.assign(first, [])
    with pytest.raises(APIError) as caught:
        allocator.assign(service("b", clusterIP="10.96.0.50"), [first])
    assert caught.value.code == 422
    assert "already allocated" in caught.value.message


def test_a_requested_ip_outside_the_range_is_refused() -> None:
    with pytest.raises(APIError) as caught:
        ServiceAllocator(CIDR).assign(service("a", clusterIP="10.0.0.5"), [])
    assert caught.value.code == 422
    assert "10.96.0.0/16" in caught.value.message


def test_headless_services_get_no_address() -> None:
    svc = service("h", clusterIP="None")
    ServiceAllocator(CIDR).assign(svc, [])
    assert svc["spec"]["clusterIPs"] == ["None"]


def test_node_ports_are_allocated_and_checked() -> None:
    allocator = ServiceAllocator(CIDR)
    svc = service("np", "NodePort")
    allocator.assign(svc, [])
    port = svc["spec"]["ports"][0]["nodePort"]
    assert 30000 <= port <= 32767
    clash = service("np2", "NodePort", ports=[{"port": 80, "nodePort": port}])
    with pytest.raises(APIError) as caught:
        allocator.assign(clash, [svc])
    assert "already allocated" in caught.value.message


def test_an_update_keeps_the_address_it_had() -> None:
    allocator = ServiceAllocator(CIDR)
    old = service("a")
    allocator.assign(old, [])
    new = service("a")
    allocator.assign(new, [old], old)
    assert new["spec"]["clusterIP"] == old["spec"]["clusterIP"]
