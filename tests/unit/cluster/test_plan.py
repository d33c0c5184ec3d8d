"""The plan: kind's names, node addresses, pod CIDRs and ports, from config alone."""

from __future__ import annotations

import pytest

from kin.cluster.plan import (
    ClusterPlan,
    NetworkPlan,
    api_server_port_key,
    node_names,
    plan_cluster,
    port_mapping_key,
)
from kin.config import Cluster, Networking, Node, PortMapping, set_defaults
from kin.errors import ConfigError

NETWORK = NetworkPlan(subnet="172.18.0.0/16", gateway="172.18.0.1")


def config(*roles: str, pod_subnet: str = "") -> Cluster:
    cluster = Cluster(
        nodes=[Node(role=r) for r in roles], networking=Networking(pod_subnet=pod_subnet)
    )
    set_defaults(cluster)
    return cluster


def plan(
    cfg: Cluster, used: set[str] | None = None, ports: dict[str, int] | None = None
) -> ClusterPlan:
    return plan_cluster(
        cfg, "myk8s", NETWORK, used or set(), ports or {api_server_port_key(): 40000}
    )


@pytest.mark.parametrize(
    ("roles", "names"),
    [
        (["control-plane"], ["kind-control-plane"]),
        (
            ["control-plane", "worker", "worker", "worker"],
            ["kind-control-plane", "kind-worker", "kind-worker2", "kind-worker3"],
        ),
        (
            ["worker", "control-plane", "worker", "control-plane"],
            ["kind-worker", "kind-control-plane", "kind-worker2", "kind-control-plane2"],
        ),
    ],
)
def test_node_names_follow_kinds_namer(roles: list[str], names: list[str]) -> None:
    assert node_names("kind", roles) == names


def test_seed_cluster_plan() -> None:
    result = plan(config("control-plane", "worker"))
    assert [(n.name, n.role, n.ip, n.pod_cidr) for n in result.nodes] == [
        ("myk8s-control-plane", "control-plane", "172.18.0.2", "10.244.0.0/24"),
        ("myk8s-worker", "worker", "172.18.0.3", "10.244.1.0/24"),
    ]
    assert result.api_server.docker_style() == "127.0.0.1:40000->6443/tcp"
    assert result.control_plane.name == "myk8s-control-plane"
    assert result.pod_subnet == "10.244.0.0/16"
    assert result.service_subnet == "10.96.0.0/16"


def test_control_planes_come_first_for_addresses_and_cidrs() -> None:
    result = plan(config("worker", "control-plane", "worker"))
    assert [(n.name, n.ip, n.pod_cidr) for n in result.nodes] == [
        ("myk8s-control-plane", "172.18.0.2", "10.244.0.0/24"),
        ("myk8s-worker", "172.18.0.3", "10.244.1.0/24"),
        ("myk8s-worker2", "172.18.0.4", "10.244.2.0/24"),
    ]


def test_addresses_held_by_other_clusters_are_skipped() -> None:
    result = plan(config("control-plane", "worker"), used={"172.18.0.2", "172.18.0.4"})
    assert [n.ip for n in result.nodes] == ["172.18.0.3", "172.18.0.5"]


def test_pod_cidrs_come_from_a_custom_pod_subnet() -> None:
    result = plan(config("control-plane", "worker", pod_subnet="10.20.0.0/23"))
    assert [n.pod_cidr for n in result.nodes] == ["10.20.0.0/24", "10.20.1.0/24"]


def test_pod_subnet_too_small_for_the_nodes_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as err:
        plan(config("control-plane", "worker", pod_subnet="10.20.0.0/24"))
    assert str(err.value) == (
        "networking.podSubnet 10.20.0.0/24 has room for 1 node CIDRs (/24 each), the config has 2 nodes"
    )


def test_pod_subnet_smaller_than_a_node_cidr_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="smaller than one /24 node CIDR"):
        plan(config("control-plane", pod_subnet="10.20.0.0/25"))


def test_full_network_is_a_config_error() -> None:
    tiny = NetworkPlan(subnet="172.18.0.0/29", gateway="172.18.0.1")
    with pytest.raises(ConfigError, match="no room for 7 more nodes"):
        plan_cluster(config(*["worker"] * 6, "control-plane"), "x", tiny, set(), {})


def test_interface_names_fit_the_kernel_limit_and_are_unique() -> None:
    result = plan(config("control-plane", *["worker"] * 20))
    veths = [n.veth for n in result.nodes]
    assert all(len(v) <= 15 for v in veths)
    assert len(set(veths)) == len(veths)


def test_mac_names_the_address_like_docker() -> None:
    assert plan(config("control-plane")).nodes[0].mac == "02:42:ac:12:00:02"


def test_port_mappings_use_chosen_ports_for_zero_and_defaults() -> None:
    cfg = config("control-plane", "worker")
    cfg.nodes[1].extra_port_mappings = [
        PortMapping(container_port=31000, host_port=31000),
        PortMapping(container_port=53, host_port=0, protocol="UDP", listen_address="127.0.0.1"),
    ]
    result = plan(cfg, ports={api_server_port_key(): 40000, port_mapping_key(1, 1): 45678})
    worker = result.nodes[1]
    assert [p.docker_style() for p in worker.ports] == [
        "0.0.0.0:31000->31000/tcp",
        "127.0.0.1:45678->53/udp",
    ]
    assert worker.ports[1].source == "nodes[1].extraPortMappings[1]"


def test_plan_round_trips_through_json() -> None:
    cfg = config("control-plane", "worker")
    cfg.nodes[1].labels = {"tier": "web"}
    cfg.nodes[1].extra_port_mappings = [PortMapping(container_port=80, host_port=8080)]
    original = plan(cfg)
    assert ClusterPlan.from_json(original.to_json()) == original
