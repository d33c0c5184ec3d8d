"""kin's default manifests, applied after the control plane is up, as kind applies its own.

Flannel, as its ``kube-flannel.yml`` lays it out: Namespace ``kube-flannel``, ServiceAccount
``flannel``, ConfigMap ``kube-flannel-cfg`` (``cni-conf.json``, and ``net-conf.json`` with
the cluster's podSubnet and the chosen backend) and DaemonSet ``kube-flannel-ds``
(host network, ``system-node-critical``, every NoSchedule taint tolerated) whose init
container copies the conflist into the node's ``/etc/cni/net.d`` and whose container is
kin's flanneld (``--ip-masq --kube-subnet-mgr``). Two differences from upstream, both
until kin has service-account tokens and kube-proxy: flanneld authenticates with its
node's ``/etc/kubernetes/kubelet.conf`` (the node identity may do everything flannel's
ClusterRole grants: read Nodes, patch its own), and reaches the API server at the
control plane's address that file names instead of the ``kubernetes`` Service.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from kin.cluster.plan import ClusterPlan

__all__ = [
    "FLANNEL_IMAGE",
    "FLANNEL_NAMESPACE",
    "STORAGE_CLASS",
    "flannel_objects",
    "storage_objects",
]

Obj = dict[str, Any]
FLANNEL_NAMESPACE = "kube-flannel"
FLANNEL_IMAGE = "docker.io/flannel/flannel:v0.26.1"
KUBELET_CONF = "/etc/kubernetes/kubelet.conf"
CNI_CONF = {
    "name": "cbr0",
    "cniVersion": "0.3.1",
    "plugins": [
        {"type": "flannel", "delegate": {"hairpinMode": True, "isDefaultGateway": True}},
        {"type": "portmap", "capabilities": {"portMappings": True}},
    ],
}
LABELS = {"tier": "node", "app": "flannel", "k8s-app": "flannel"}


STORAGE_CLASS = "standard"


def storage_objects() -> list[Obj]:
    """kind's default StorageClass: ``standard``, local-path volumes made on the node a
    pod is scheduled to (kin's local-path provisioner runs in the controller manager)."""
    return [{
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": STORAGE_CLASS, "annotations": {
            "storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": "rancher.io/local-path",
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer",
    }]  # fmt: skip


def flannel_objects(plan: ClusterPlan) -> list[Obj]:
    """The objects to create, in order."""
    labels = {"k8s-app": "flannel", "pod-security.kubernetes.io/enforce": "privileged"}
    namespace = {"apiVersion": "v1", "kind": "Namespace",
                 "metadata": {"name": FLANNEL_NAMESPACE, "labels": labels}}  # fmt: skip
    account = {"apiVersion": "v1", "kind": "ServiceAccount",
               "metadata": {"name": "flannel", "namespace": FLANNEL_NAMESPACE,
                            "labels": {"k8s-app": "flannel"}}}  # fmt: skip
    net_conf = {"Network": plan.pod_subnet, "EnableNFTables": False,
                "Backend": {"Type": plan.flannel_backend}}  # fmt: skip
    config = {"apiVersion": "v1", "kind": "ConfigMap",
              "metadata": {"name": "kube-flannel-cfg", "namespace": FLANNEL_NAMESPACE,
                           "labels": LABELS},
              "data": {"cni-conf.json": json.dumps(CNI_CONF, indent=2) + "\n",
                       "net-conf.json": json.dumps(net_conf, indent=2) + "\n"}}  # fmt: skip
    return [namespace, account, config, flannel_daemonset(plan)]


def flannel_daemonset(plan: ClusterPlan) -> Obj:
    def env_from(name: str, path: str) -> Obj:
        return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}}

    def host_path(name: str, path: str, kind: str = "") -> Obj:
        source: Obj = {"path": path}
        if kind:
            source["type"] = kind
        return {"name": name, "hostPath": source}

    # The udp backend opens /dev/net/tun: upstream runs it privileged too.
    privileged = plan.flannel_backend == "udp"
    flanneld = {
        "name": "kube-flannel", "image": FLANNEL_IMAGE,
        "command": [sys.executable, "-m", "kin.flannel"],
        "args": ["--ip-masq", "--kube-subnet-mgr", f"--kubeconfig-file={KUBELET_CONF}"],
        "resources": {"requests": {"cpu": "100m", "memory": "50Mi"}},
        "securityContext": {"privileged": privileged,
                            "capabilities": {"add": ["NET_ADMIN", "NET_RAW"]}},
        "env": [env_from("POD_NAME", "metadata.name"),
                env_from("POD_NAMESPACE", "metadata.namespace"),
                env_from("NODE_NAME", "spec.nodeName"),
                {"name": "EVENT_QUEUE_DEPTH", "value": "5000"}],
        "volumeMounts": [
            {"name": "run", "mountPath": "/run/flannel"},
            {"name": "flannel-cfg", "mountPath": "/etc/kube-flannel/"},
            {"name": "xtables-lock", "mountPath": "/run/xtables.lock"},
            {"name": "kubeconfig", "mountPath": KUBELET_CONF, "readOnly": True},
        ],
    }  # fmt: skip
    install_cni = {
        "name": "install-cni", "image": FLANNEL_IMAGE, "command": ["cp"],
        "args": ["-f", "/etc/kube-flannel/cni-conf.json", "/etc/cni/net.d/10-flannel.conflist"],
        "volumeMounts": [{"name": "cni", "mountPath": "/etc/cni/net.d"},
                         {"name": "flannel-cfg", "mountPath": "/etc/kube-flannel/"}],
    }  # fmt: skip
    linux_only = {"nodeSelectorTerms": [{"matchExpressions": [
        {"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]}]}]}  # fmt: skip
    return {
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "kube-flannel-ds", "namespace": FLANNEL_NAMESPACE, "labels": LABELS},
        "spec": {
            "selector": {"matchLabels": {"app": "flannel"}},
            "template": {
                "metadata": {"labels": {"tier": "node", "app": "flannel"}},
                "spec": {
                    "affinity": {"nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": linux_only}},
                    "hostNetwork": True,
                    "priorityClassName": "system-node-critical",
                    "tolerations": [{"operator": "Exists", "effect": "NoSchedule"}],
                    "serviceAccountName": "flannel",
                    "initContainers": [install_cni],
                    "containers": [flanneld],
                    "volumes": [
                        host_path("run", "/run/flannel"),
                        host_path("cni", "/etc/cni/net.d"),
                        {"name": "flannel-cfg", "configMap": {"name": "kube-flannel-cfg"}},
                        host_path("xtables-lock", "/run/xtables.lock", "FileOrCreate"),
                        host_path("kubeconfig", KUBELET_CONF, "File"),
                    ],
                },
            },
        },
    }  # fmt: skip
