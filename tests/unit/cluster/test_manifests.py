"""What ``kin create`` writes and applies: the control plane's static pods per datastore,
flannel's objects per backend, the API paths of manifest objects, and kin's own flags."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kin.apiserver.__main__ import parse_args as apiserver_args
from kin.cluster.apiclient import path_of
from kin.cluster.controlplane import apiserver_manifest, controller_manager_manifest, etcd_manifest
from kin.cluster.create import CreateOptions
from kin.cluster.manifests import flannel_objects
from kin.cluster.plan import ClusterPlan, NetworkPlan, api_server_port_key, plan_cluster
from kin.config import Cluster, Node, set_defaults
from kin.errors import ConfigError

pytestmark = pytest.mark.unit


def two_nodes(**kin_options: str) -> ClusterPlan:
    cluster = Cluster(nodes=[Node(role="control-plane"), Node(role="worker")])
    set_defaults(cluster)
    network = NetworkPlan(subnet="172.18.0.0/16", gateway="172.18.0.1")
    plan = plan_cluster(cluster, "myk8s", network, set(), {api_server_port_key(): 40000},
                        **kin_options)  # fmt: skip
    assert ClusterPlan.from_json(plan.to_json()) == plan  # the state file keeps the choices
    return plan


def command(pod: dict[str, Any]) -> list[str]:
    return list(pod["spec"]["containers"][0]["command"])


def test_the_datastore_decides_the_api_servers_storage_and_an_etcd_static_pod() -> None:
    sqlite = command(apiserver_manifest(two_nodes()))
    assert "--storage=sqlite:///var/lib/etcd/kin-apiserver.sqlite" in sqlite
    plan = two_nodes(datastore="etcd")
    etcd_flags = command(apiserver_manifest(plan))
    assert "--etcd-servers=http://127.0.0.1:2379" in etcd_flags
    assert apiserver_args(etcd_flags[3:]).storage == "etcd://127.0.0.1:2379"
    etcd = etcd_manifest(plan)
    assert etcd["metadata"]["name"] == "etcd"  # mirrored as etcd-myk8s-control-plane
    assert command(etcd)[0] == "/usr/bin/etcd"
    assert "--listen-client-urls=http://127.0.0.1:2379" in command(etcd)
    assert etcd["spec"]["volumes"][0]["hostPath"]["path"] == "/var/lib/etcd"


def test_the_controller_manager_allocates_node_cidrs_from_the_pod_subnet() -> None:
    flags = command(controller_manager_manifest(two_nodes()))
    assert flags[1:3] == ["-m", "kin.controller_manager"]
    for flag in ("--allocate-node-cidrs=true", "--cluster-cidr=10.244.0.0/16",
                 "--node-cidr-mask-size=24", "--service-cluster-ip-range=10.96.0.0/16",
                 "--root-ca-file=/etc/kubernetes/pki/ca.crt"):  # fmt: skip
        assert flag in flags


@pytest.mark.parametrize("backend", ["vxlan", "host-gw", "udp"])
def test_flannels_objects_carry_the_pod_subnet_and_the_backend(backend: str) -> None:
    namespace, account, config, daemonset = flannel_objects(two_nodes(flannel_backend=backend))
    assert (namespace["kind"], namespace["metadata"]["name"]) == ("Namespace", "kube-flannel")
    assert account["metadata"]["name"] == "flannel"
    assert config["metadata"]["name"] == "kube-flannel-cfg"
    net_conf = json.loads(config["data"]["net-conf.json"])
    assert net_conf == {"Network": "10.244.0.0/16", "EnableNFTables": False,
                        "Backend": {"Type": backend}}  # fmt: skip
    assert json.loads(config["data"]["cni-conf.json"])["plugins"][0]["type"] == "flannel"
    spec = daemonset["spec"]["template"]["spec"]
    assert daemonset["metadata"]["name"] == "kube-flannel-ds" and spec["hostNetwork"]
    [flanneld] = spec["containers"]
    assert flanneld["args"][:2] == ["--ip-masq", "--kube-subnet-mgr"]
    assert flanneld["securityContext"]["privileged"] is (backend == "udp")  # /dev/net/tun
    assert spec["initContainers"][0]["args"][-1] == "/etc/cni/net.d/10-flannel.conflist"


def test_manifest_objects_map_to_their_api_paths() -> None:
    objects = flannel_objects(two_nodes())
    assert [path_of(o) for o in objects] == [
        "/api/v1/namespaces/kube-flannel",
        "/api/v1/namespaces/kube-flannel/serviceaccounts/flannel",
        "/api/v1/namespaces/kube-flannel/configmaps/kube-flannel-cfg",
        "/apis/apps/v1/namespaces/kube-flannel/daemonsets/kube-flannel-ds",
    ]
    assert path_of(objects[0], with_name=False) == "/api/v1/namespaces"


def test_kins_own_flags_are_checked_before_anything_is_made() -> None:
    options = CreateOptions(Cluster(), "x", flannel_backend="vxlanx", datastore="mysql")
    with pytest.raises(ConfigError) as error:
        options.check()
    assert error.value.problems == [
        "--flannel-backend: 'vxlanx' is not one of vxlan, host-gw, udp",
        "--datastore: 'mysql' is not one of sqlite, etcd",
    ]
