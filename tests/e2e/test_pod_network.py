"""Pods get their IPs from their node's flannel subnet and reach pods on the other node.

Nothing here is done by hand: node IPAM (the controller manager) gives each Node its
podCIDR, control plane first as on kind; ``kin create`` applies flannel's objects and
the DaemonSet ``kube-flannel-ds`` runs flanneld on every node, whose init container
installs the conflist; the nodes turn Ready. The pods are static pods, started by the
nodes' kubelets, and reached through the API server with the real kubectl.
"""

from __future__ import annotations

import functools
import ipaddress
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kin.cluster.state import node_dir
from kin.testing.clusters import TWO_NODES, kubeconfig_for, kubectl, temporary_cluster
from kin.testing.waiting import eventually

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
        kubectl(config, "wait", "--for=condition=Ready", "node", "--all", "--timeout=60s")
        yield name, config


def test_flannel_runs_as_its_daemonset_with_the_clusters_network(
    cluster: tuple[str, str],
) -> None:
    name, config = cluster
    pods = json.loads(kubectl(config, "get", "pod", "-n", "kube-flannel", "-o", "json").stdout)
    nodes = sorted(p["spec"]["nodeName"] for p in pods["items"])
    assert nodes == [f"{name}-control-plane", f"{name}-worker"]
    assert all(p["metadata"]["name"].startswith("kube-flannel-ds-") for p in pods["items"])
    assert all(p["status"]["phase"] == "Running" for p in pods["items"])
    cfg = json.loads(kubectl(config, "get", "cm", "-n", "kube-flannel", "kube-flannel-cfg",
                             "-o", "json").stdout)  # fmt: skip
    net_conf = json.loads(cfg["data"]["net-conf.json"])
    assert (net_conf["Network"], net_conf["Backend"]["Type"]) == ("10.244.0.0/16", "vxlan")
    cidrs = kubectl(
        config,
        "get",
        "node",
        "-o",
        "jsonpath={range .items[*]}{.metadata.name}={.spec.podCIDR} {end}",
    ).stdout
    assert dict(pair.split("=") for pair in cidrs.split()) == {
        f"{name}-control-plane": "10.244.0.0/24", f"{name}-worker": "10.244.1.0/24",
    }  # fmt: skip
    for node, index in ((f"{name}-control-plane", 0), (f"{name}-worker", 1)):
        conflist = Path(node_dir(name, node)) / "fs/etc/cni/net.d/10-flannel.conflist"
        assert json.loads(conflist.read_text())["plugins"][0]["type"] == "flannel"
        subnet = ipaddress.ip_interface(subnet_env(name, node)["FLANNEL_SUBNET"]).network
        assert subnet == ipaddress.ip_network(f"10.244.{index}.0/24")  # the Node's podCIDR


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
