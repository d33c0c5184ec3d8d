"""Pods get their IPs from their node's flannel subnet and reach pods on the other node.

Until the control plane deploys flannel as the ``kube-flannel-ds`` DaemonSet (with node
IPAM handing out podCIDRs), this test does by hand what those will do: it gives each Node
a podCIDR, runs flanneld (kube subnet manager, VXLAN) as a unit of each node with the
node's own kubelet credentials, and installs flannel's conflist, as the DaemonSet's init
container does. The pods are static pods, started by the nodes' kubelets, and reached
through the API server with the real kubectl.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kin.cluster.state import node_dir
from kin.node.client import request
from kin.node.units import Unit, write_unit
from kin.testing.clusters import TWO_NODES, kubeconfig_for, kubectl, temporary_cluster
from kin.testing.waiting import eventually

NET_CONF = {"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}}
CONFLIST = {
    "name": "cbr0", "cniVersion": "0.3.1",
    "plugins": [
        {"type": "flannel", "delegate": {"hairpinMode": True, "isDefaultGateway": True}},
        {"type": "portmap", "capabilities": {"portMappings": True}},
    ],
}  # fmt: skip
POD = """\
apiVersion: v1
kind: Pod
metadata: {{name: {name}}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: app
    image: busybox
    command: ["sleep", "3600"]
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    with temporary_cluster(TWO_NODES) as name:
        config = kubeconfig_for(name, str(tmp_path_factory.mktemp("kubeconfig")))
        for index, role in enumerate(("control-plane", "worker")):
            start_flannel(name, f"{name}-{role}", f"10.244.{index}.0/24", config)
        yield name, config


def start_flannel(cluster: str, node: str, pod_cidr: str, config: str) -> None:
    eventually(lambda: kubectl(config, "get", "node", node, check=False).returncode == 0, 30)
    spec = {"spec": {"podCIDR": pod_cidr, "podCIDRs": [pod_cidr]}}
    kubectl(config, "patch", "node", node, "-p", json.dumps(spec))
    state = Path(node_dir(cluster, node))
    (state / "fs/run/flannel").mkdir(parents=True, exist_ok=True)
    (state / "fs/run/flannel/net-conf.json").write_text(json.dumps(NET_CONF))
    argv = (sys.executable, "-m", "kin.flannel", "--kube-subnet-mgr", "--ip-masq",
            "--kubeconfig-file=/etc/kubernetes/kubelet.conf", "--iface=eth0",
            "--net-config-path=/run/flannel/net-conf.json")  # fmt: skip
    write_unit(str(state / "units"), Unit("flanneld", argv, (("NODE_NAME", node),)))
    assert request(str(state / "supervisor.sock"), "reload")["started"] == ["flanneld"]
    eventually(lambda: (state / "fs/run/flannel/subnet.env").exists(), timeout=30)
    (state / "fs/etc/cni/net.d/10-flannel.conflist").write_text(json.dumps(CONFLIST))


def subnet_env(cluster: str, node: str) -> dict[str, str]:
    text = (Path(node_dir(cluster, node)) / "fs/run/flannel/subnet.env").read_text()
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def running_pod(config: str, name: str) -> dict[str, Any] | None:
    done = kubectl(config, "get", "pod", name, "-o", "json", check=False)
    if done.returncode != 0:
        return None
    pod: dict[str, Any] = json.loads(done.stdout)
    ready = pod["status"].get("phase") == "Running" and pod["status"].get("podIP")
    return pod if ready else None


def test_pods_take_ips_from_their_nodes_flannel_subnets_and_reach_each_other(
    cluster: tuple[str, str],
) -> None:
    name, config = cluster
    nodes = [f"{name}-control-plane", f"{name}-worker"]
    manifests = [Path(node_dir(name, n)) / "fs/etc/kubernetes/manifests/net.yaml" for n in nodes]
    for manifest in manifests:
        manifest.write_text(POD.format(name="net"))
    try:
        pods = [eventually(functools.partial(running_pod, config, f"net-{n}"), 60) for n in nodes]
        ips = [pod["status"]["podIP"] for pod in pods]
        for node, ip, index in zip(nodes, ips, (0, 1), strict=True):
            subnet = ipaddress.ip_interface(subnet_env(name, node)["FLANNEL_SUBNET"]).network
            assert subnet == ipaddress.ip_network(f"10.244.{index}.0/24")  # the Node's podCIDR
            assert ipaddress.ip_address(ip) in subnet and ip != str(subnet[1])
        ping = kubectl(config, "exec", f"net-{nodes[0]}", "--", "ping", "-c1", "-W2", ips[1])
        assert "1 received" in ping.stdout  # across nodes, through VXLAN
        leases = [Path(node_dir(name, n)) / f"fs/var/lib/cni/networks/cbr0/{ip}"
                  for n, ip in zip(nodes, ips, strict=True)]  # fmt: skip
        assert all(lease.exists() for lease in leases)
        for manifest in manifests:
            manifest.unlink()
        eventually(lambda: not any(lease.exists() for lease in leases), timeout=20)  # released
    finally:
        for manifest in manifests:
            manifest.unlink(missing_ok=True)
