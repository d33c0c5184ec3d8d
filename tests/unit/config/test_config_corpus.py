"""The table-driven corpus: every ``tests/testdata/config/*.yaml`` through kind's create flow.

``invalid-*.yaml`` must fail with exactly the message in its ``.expect`` sidecar;
``valid-*.yaml`` must load and validate. The flow is kind's: load, apply the name
(``--name`` > ``KIND_CLUSTER_NAME`` > config > ``kind``), default again, validate.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kin import config
from kin.errors import ConfigError

TESTDATA = Path(__file__).parents[2] / "testdata" / "config"
INVALID = sorted(TESTDATA.glob("invalid-*.yaml"))
VALID = sorted(TESTDATA.glob("valid-*.yaml"))


def create_flow(path: Path) -> config.Cluster:
    cluster = config.load_config(str(path))
    cluster.name = config.resolve_cluster_name(None, {}, cluster)
    config.set_defaults(cluster)
    config.validate(cluster)
    return cluster


def test_corpus_is_large_and_every_invalid_case_states_its_message():
    assert len(INVALID) >= 50
    assert len(VALID) >= 15
    missing = [p.name for p in INVALID if not p.with_suffix(".expect").exists()]
    assert missing == []


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_config_fails_with_kinds_message(path: Path):
    expected = path.with_suffix(".expect").read_text()
    with pytest.raises(ConfigError) as caught:
        create_flow(path)
    assert str(caught.value) == expected


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_valid_config_loads_and_validates(path: Path):
    cluster = create_flow(path)
    assert cluster.nodes, "defaulting always leaves at least one node"
    assert all(node.image for node in cluster.nodes)


def load(name: str) -> config.Cluster:
    return config.load_config(str(TESTDATA / f"{name}.yaml"))


def test_many_fields_keeps_family_specific_defaults():
    cluster = load("valid-many-fields")
    assert cluster.name == "not-default"
    assert cluster.feature_gates == {"AllBeta": False}
    net = cluster.networking
    assert (net.ip_family, net.api_server_address) == ("ipv6", "::1")
    assert (net.pod_subnet, net.service_subnet) == ("fd00:10:244::/56", "fd00:10:96::/112")
    worker = cluster.nodes[1]
    assert worker.extra_mounts == [
        config.Mount("/foo", "/bar", read_only=True, propagation="Bidirectional")
    ]
    assert worker.extra_port_mappings == [config.PortMapping(8080, 8080, "", "UDP")]


def test_all_fields_are_read():
    cluster = load("valid-all-fields")
    assert cluster.name == "everything"
    assert cluster.feature_gates == {"CSIMigration": True, "EphemeralContainers": False}
    assert cluster.runtime_config == {"api/alpha": "false"}
    assert cluster.networking == config.Networking(
        ip_family="ipv4",
        api_server_port=6443,
        api_server_address="127.0.0.2",
        pod_subnet="10.100.0.0/16",
        service_subnet="10.200.0.0/16",
        disable_default_cni=True,
        kube_proxy_mode="nftables",
        dns_search=["example.com", "corp.example.com"],
    )
    assert cluster.kubeadm_config_patches == ["kind: ClusterConfiguration\n"]
    assert cluster.kubeadm_config_patches_json6902 == [
        config.PatchJSON6902("kubeadm.k8s.io", "v1beta3", "ClusterConfiguration", "[]")
    ]
    assert cluster.containerd_config_patches == ["[plugins]"]
    assert cluster.containerd_config_patches_json6902 == ["[]"]


def test_all_fields_node_level():
    node = load("valid-all-fields").nodes[0]
    assert (node.role, node.image) == ("control-plane", "kindest/node:v1.35.0")
    assert node.labels == {"ingress-ready": "true", "zone": "a"}
    assert node.extra_mounts == [config.Mount("/data", "/srv/data", True, True, "HostToContainer")]
    assert node.extra_port_mappings == [
        config.PortMapping(80, 8080, "127.0.0.1", "UDP"),
        config.PortMapping(443, 0, "", "SCTP"),
    ]
    assert node.kubeadm_config_patches == ["kind: InitConfiguration\n"]
    assert node.kubeadm_config_patches_json6902 == [
        config.PatchJSON6902(kind="KubeletConfiguration", patch="[]")
    ]


def test_scalars_resolve_as_go_yaml_v3_does():
    cluster = load("valid-go-yaml-scalars")
    assert cluster.name == "0777"  # a string field takes the literal text
    assert cluster.networking.disable_default_cni is True  # "yes" into a bool
    assert cluster.networking.api_server_port == 0x1A0B
    node = cluster.nodes[0]
    assert node.labels == {"replicas": "3", "enabled": "true", "empty": "", "on": "off"}
    assert (node.extra_mounts[0].read_only, node.extra_mounts[0].selinux_relabel) == (True, False)
    ports = [(pm.container_port, pm.host_port) for pm in node.extra_port_mappings]
    assert ports == [(0o17, 8080), (80, 5), (8, 1000)]


def test_anchors_and_merge_keys():
    nodes = load("valid-anchors-and-merge").nodes
    assert [(n.role, n.image, n.labels) for n in nodes] == [
        ("worker", config.DEFAULT_NODE_IMAGE, {"tier": "backend"}),
        ("worker", "example/node:v1", {"tier": "backend"}),
        ("control-plane", config.DEFAULT_NODE_IMAGE, {"tier": "frontend", "zone": "b"}),
    ]


def test_nulls_keep_defaults_and_null_list_items_are_dropped():
    cluster = load("valid-null-fields")
    assert cluster.name == ""
    assert cluster.networking.pod_subnet == "10.244.0.0/16"
    assert len(cluster.nodes) == 1
    node = cluster.nodes[0]
    assert node.labels == {"key": ""}
    assert node.extra_port_mappings == []
    assert node.kubeadm_config_patches == ["a"]
    assert cluster.feature_gates == {"Alpha": False}


def test_only_the_first_document_is_read():
    assert load("valid-multi-document").name == "first"


def test_dns_search_empty_list_differs_from_unset():
    assert load("valid-dns-search-empty").networking.dns_search == []
    assert load("valid-minimal").networking.dns_search is None


def test_dual_stack_defaults():
    net = load("valid-dual-stack").networking
    assert net.pod_subnet == "10.244.0.0/16,fd00:10:244::/56"
    assert net.service_subnet == "10.96.0.0/16,fd00:10:96::/112"
    assert net.api_server_address == "127.0.0.1"


def test_empty_node_list_becomes_one_control_plane():
    nodes = load("valid-empty-nodes").nodes
    assert nodes == [config.Node(role="control-plane", image=config.DEFAULT_NODE_IMAGE)]


def test_omitted_protocol_stays_empty_so_it_does_not_clash_with_tcp():
    mappings = load("valid-ports-distinct").nodes[0].extra_port_mappings
    assert [pm.protocol for pm in mappings[:4]] == ["TCP", "UDP", "", "TCP"]
    assert all(pm.listen_address == "" for pm in mappings[4:])
