"""Services: cluster IPs and node ports as kube-apiserver allocates them, and what exists
on every cluster from the start."""

from __future__ import annotations

import ipaddress
from typing import Any

from kin.testing.apiserver import Client, InProcessServer

Obj = dict[str, Any]
CIDR = ipaddress.ip_network("10.96.0.0/16")
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


def service(name: str, kind: str = "ClusterIP", **spec: Any) -> Obj:
    ports = [{"name": "http", "port": 80, "targetPort": 8080}]
    return {"metadata": {"name": name}, "spec": {"type": kind, "ports": ports, **spec}}


def create(api: Client, ns: str, body: Obj) -> Obj:
    created = api.post(f"/api/v1/namespaces/{ns}/services", body)
    assert created.status == 201, created
    result: Obj = created.json()
    return result


def test_a_cluster_ip_is_allocated_in_the_service_cidr(api: Client, ns: str) -> None:
    ips = set()
    for i in range(5):
        spec = create(api, ns, service(f"s{i}"))["spec"]
        ip = ipaddress.ip_address(spec["clusterIP"])
        assert ip in CIDR and ip not in (CIDR[0], CIDR[1], CIDR[10], CIDR[-1])
        assert spec["clusterIPs"] == [spec["clusterIP"]]
        ips.add(ip)
    assert len(ips) == 5
    stored = api.get(f"/api/v1/namespaces/{ns}/services/s0").json()["spec"]
    assert ipaddress.ip_address(stored["clusterIP"]) in ips


def test_a_requested_free_cluster_ip_is_granted(api: Client, ns: str) -> None:
    spec = create(api, ns, service("mine", clusterIP="10.96.200.200"))["spec"]
    assert spec["clusterIP"] == "10.96.200.200"
    api.delete(f"/api/v1/namespaces/{ns}/services/mine")


def test_a_requested_taken_cluster_ip_is_422(api: Client, ns: str) -> None:
    refused = api.post(f"/api/v1/namespaces/{ns}/services", service("dup", clusterIP="10.96.0.1"))
    assert refused.status == 422, refused
    status = refused.json()
    assert status["reason"] == "Invalid"
    assert status["message"] == (
        'Service "dup" is invalid: spec.clusterIPs: Invalid value: []string{"10.96.0.1"}: '
        "failed to allocate IP 10.96.0.1: provided IP is already allocated"
    )
    assert api.get(f"/api/v1/namespaces/{ns}/services/dup").status == 404


def test_a_cluster_ip_outside_the_range_is_422(api: Client, ns: str) -> None:
    refused = api.post(f"/api/v1/namespaces/{ns}/services", service("out", clusterIP="10.0.0.5"))
    assert refused.status == 422, refused
    assert "is not in the valid range" in refused.json()["message"]


def test_a_headless_service_gets_no_address(api: Client, ns: str) -> None:
    spec = create(api, ns, service("headless", clusterIP="None"))["spec"]
    assert spec["clusterIP"] == "None" and spec["clusterIPs"] == ["None"]


def test_a_cluster_ip_may_not_change(api: Client, ns: str) -> None:
    created = create(api, ns, service("fixed"))
    path = f"/api/v1/namespaces/{ns}/services/fixed"
    changed = dict(created)
    changed["spec"] = dict(created["spec"], clusterIP="10.96.201.201", clusterIPs=["10.96.201.201"])
    refused = api.put(path, changed)
    assert refused.status == 422, refused
    assert refused.json()["details"]["causes"][0]["field"] == "spec.clusterIPs[0]"
    assert refused.json()["message"] == (
        'Service "fixed" is invalid: spec.clusterIPs[0]: '
        'Invalid value: []string{"10.96.201.201"}: may not change once set'
    )
    assert api.get(path).json()["spec"]["clusterIP"] == created["spec"]["clusterIP"]


def test_an_update_that_omits_the_allocations_keeps_them(api: Client, ns: str) -> None:
    created = create(api, ns, service("kept", "NodePort"))
    path = f"/api/v1/namespaces/{ns}/services/kept"
    replaced = service("kept", "NodePort")
    replaced["metadata"]["labels"] = {"new": "label"}
    updated = api.put(path, replaced)
    assert updated.status == 200, updated
    spec = updated.json()["spec"]
    assert spec["clusterIP"] == created["spec"]["clusterIP"]
    assert spec["ports"][0]["nodePort"] == created["spec"]["ports"][0]["nodePort"]


def test_a_node_port_is_allocated_in_range_and_a_taken_one_is_422(api: Client, ns: str) -> None:
    spec = create(api, ns, service("np", "NodePort"))["spec"]
    port = spec["ports"][0]["nodePort"]
    assert 30000 <= port <= 32767
    assert spec["externalTrafficPolicy"] == "Cluster"
    taken = service("np2", "NodePort")
    taken["spec"]["ports"][0]["nodePort"] = port
    refused = api.post(f"/api/v1/namespaces/{ns}/services", taken)
    assert refused.status == 422, refused
    assert refused.json()["message"] == (
        f'Service "np2" is invalid: spec.ports[0].nodePort: Invalid value: {port}: '
        "provided port is already allocated"
    )
    outside = service("np3", "NodePort")
    outside["spec"]["ports"][0]["nodePort"] = 80
    assert api.post(f"/api/v1/namespaces/{ns}/services", outside).status == 422


def test_a_load_balancer_allocates_node_ports_by_default(api: Client, ns: str) -> None:
    spec = create(api, ns, service("lb", "LoadBalancer"))["spec"]
    assert spec["allocateLoadBalancerNodePorts"] is True
    assert 30000 <= spec["ports"][0]["nodePort"] <= 32767
    assert spec["externalTrafficPolicy"] == "Cluster"


def test_two_ports_of_one_service_get_two_node_ports(api: Client, ns: str) -> None:
    body = service("twoports", "NodePort")
    body["spec"]["ports"].append({"name": "https", "port": 443})
    ports = [p["nodePort"] for p in create(api, ns, body)["spec"]["ports"]]
    assert len(set(ports)) == 2


def test_a_cluster_ip_service_has_no_node_ports(api: Client, ns: str) -> None:
    body = service("plain")
    body["spec"]["ports"][0]["nodePort"] = 30555
    assert "nodePort" not in create(api, ns, body)["spec"]["ports"][0]


def test_a_released_address_can_be_requested_again(api: Client, ns: str) -> None:
    create(api, ns, service("first", clusterIP="10.96.202.202"))
    api.delete(f"/api/v1/namespaces/{ns}/services/first")
    assert create(api, ns, service("second", clusterIP="10.96.202.202"))["spec"]["clusterIP"]


def test_the_kubernetes_service_and_endpoints_exist_at_start(
    api: Client, server: InProcessServer
) -> None:
    svc = api.get("/api/v1/namespaces/default/services/kubernetes")
    assert svc.status == 200, svc
    spec = svc.json()["spec"]
    assert spec["clusterIP"] == "10.96.0.1"
    assert spec["ports"][0]["port"] == 443 and spec["ports"][0]["name"] == "https"
    endpoints = api.get("/api/v1/namespaces/default/endpoints/kubernetes")
    assert endpoints.status == 200, endpoints
    [subset] = endpoints.json()["subsets"]
    assert subset["addresses"] == [{"ip": "127.0.0.1"}]
    assert subset["ports"][0]["port"] == server.server.port


def test_the_system_namespaces_exist_and_are_active(api: Client) -> None:
    for name in SYSTEM_NAMESPACES:
        ns = api.get(f"/api/v1/namespaces/{name}")
        assert ns.status == 200, (name, ns)
        assert ns.json()["status"]["phase"] == "Active"
        assert ns.json()["metadata"]["labels"]["kubernetes.io/metadata.name"] == name
