"""Which service ports kube-proxy programs, and with which endpoints."""

from __future__ import annotations

from typing import Any

from kin.proxy.model import Endpoint, service_ports


def svc(name: str = "web", **spec: Any) -> dict[str, Any]:
    spec.setdefault("clusterIP", "10.96.0.20")
    spec.setdefault("ports", [{"name": "http", "port": 80, "targetPort": 8080}])
    return {"metadata": {"namespace": "ns", "name": name}, "spec": spec}


def eps(name: str = "web", *endpoints: dict[str, Any], port_name: str = "http") -> dict[str, Any]:
    return {"metadata": {"namespace": "ns", "name": f"{name}-x",
                         "labels": {"kubernetes.io/service-name": name}},
            "addressType": "IPv4", "ports": [{"name": port_name, "port": 8080}],
            "endpoints": list(endpoints)}  # fmt: skip


def ep(ip: str, node: str = "a", **conditions: bool) -> dict[str, Any]:
    return {"addresses": [ip], "nodeName": node, "conditions": conditions}


def test_endpoints_match_by_port_name_in_address_order() -> None:
    slices = [eps("web", ep("10.244.1.10"), ep("10.244.1.9")), eps("web", ep("10.244.2.3"))]
    (port,) = service_ports([svc()], slices, "a")
    assert port.key == "ns/web:http" and port.protocol == "tcp" and port.port == 80
    assert [e.ip for e in port.cluster_endpoints] == ["10.244.1.9", "10.244.1.10", "10.244.2.3"]
    assert all(e.port == 8080 for e in port.cluster_endpoints)
    other_name = eps("web", ep("10.244.1.9"), port_name="metrics")
    assert service_ports([svc()], [other_name], "a")[0].cluster_endpoints == ()


def test_headless_external_name_and_odd_protocols_get_no_rules() -> None:
    services = [svc("headless", clusterIP="None"), svc("ext", type="ExternalName"),
                svc("icmp", ports=[{"port": 1, "protocol": "ICMP"}]),
                svc("udp", ports=[{"port": 53, "protocol": "UDP"}])]  # fmt: skip
    assert [(p.name, p.protocol, p.key) for p in service_ports(services, [], "a")] == [
        ("udp", "udp", "ns/udp")
    ]


def test_not_ready_endpoints_serve_only_when_terminating_and_none_is_ready() -> None:
    slices = [eps("web", ep("10.244.1.2", ready=False, serving=True, terminating=True),
                  ep("10.244.1.3", ready=False, serving=False),
                  ep("10.244.1.4"))]  # fmt: skip
    (port,) = service_ports([svc()], slices, "a")
    assert [e.ip for e in port.cluster_endpoints] == ["10.244.1.4"]
    slices = [eps("web", ep("10.244.1.2", ready=False, serving=True, terminating=True),
                  ep("10.244.1.3", ready=False, serving=False))]  # fmt: skip
    (port,) = service_ports([svc()], slices, "a")
    assert [e.ip for e in port.cluster_endpoints] == ["10.244.1.2"]


def test_traffic_policies_keep_this_nodes_endpoints() -> None:
    slices = [eps("web", ep("10.244.1.2", "a"), ep("10.244.2.2", "b"))]
    local = svc(type="NodePort", externalTrafficPolicy="Local", internalTrafficPolicy="Local",
                ports=[{"name": "http", "port": 80, "nodePort": 31000}])  # fmt: skip
    (port,) = service_ports([local], slices, "b")
    assert port.node_port == 31000 and port.external_local
    assert [e.ip for e in port.cluster_endpoints] == ["10.244.2.2"]
    assert [e.ip for e in port.external_endpoints] == ["10.244.2.2"]
    (cluster,) = service_ports([svc(type="NodePort", ports=local["spec"]["ports"])], slices, "b")
    assert len(cluster.cluster_endpoints) == len(cluster.external_endpoints) == 2


def test_a_node_port_counts_only_for_node_port_and_load_balancer_services() -> None:
    ports = [{"name": "http", "port": 80, "nodePort": 31000}]
    assert service_ports([svc(ports=ports)], [], "a")[0].node_port == 0
    assert service_ports([svc(type="LoadBalancer", ports=ports)], [], "a")[0].node_port == 31000


def test_client_ip_affinity_defaults_to_three_hours() -> None:
    assert service_ports([svc(sessionAffinity="ClientIP")], [], "a")[0].affinity_seconds == 10800
    timeout = {"clientIP": {"timeoutSeconds": 60}}
    spec: dict[str, Any] = {"sessionAffinity": "ClientIP", "sessionAffinityConfig": timeout}
    assert service_ports([svc(**spec)], [], "a")[0].affinity_seconds == 60
    assert service_ports([svc()], [], "a")[0].affinity_seconds == 0


def test_garbage_in_slices_is_skipped_not_fatal() -> None:
    bad = {"metadata": {"labels": {"kubernetes.io/service-name": "web"}, "namespace": "ns"},
           "addressType": "IPv4", "ports": [{"name": "http", "port": "x"}, {"name": "http"}],
           "endpoints": [{"addresses": ["not-an-ip"]}]}  # fmt: skip
    v6 = eps("web", ep("fd00::1"))
    good = eps("web", ep("10.244.1.2"))
    (port,) = service_ports([svc()], [bad, v6, good], "a")
    assert port.cluster_endpoints == (Endpoint("10.244.1.2", 8080, "a"),)
