"""kubeadm's addons, as ``kubeadm init`` installs them on a kind cluster: kube-proxy, CoreDNS.

kube-proxy is laid out as kubeadm lays it out: ServiceAccount ``kube-proxy``, ConfigMap
``kube-proxy`` whose ``config.conf`` is the KubeProxyConfiguration (the cluster's
``kubeProxyMode`` and podSubnet as ``clusterCIDR``), and DaemonSet ``kube-proxy`` (host
network, privileged, every taint tolerated, ``--hostname-override=$(NODE_NAME)``) whose
container is kin's kube-proxy. As with flanneld (see ``kin.cluster.manifests``), it
authenticates with its node's ``kubelet.conf`` until kin has service-account tokens.
``kubeProxyMode: none`` installs no kube-proxy, as in kind.

Cluster DNS is kubeadm's CoreDNS layout: ServiceAccount ``coredns``, ConfigMap ``coredns``
(kubeadm's Corefile without ``forward``), Deployment ``coredns``
(two replicas, labelled ``k8s-app: kube-dns``, tolerating the control-plane taint, with
CoreDNS's ``/health`` and ``/ready`` probes and ``dnsPolicy: Default``) running kin's DNS
server, behind Service ``kube-dns`` at the tenth address of the service subnet
(10.96.0.10), which every kubelet gives its pods as ``--cluster-dns``.
"""

from __future__ import annotations

import sys
from typing import Any

import yaml

from kin import KUBERNETES_VERSION
from kin.cluster.plan import CLUSTER_DOMAIN, ClusterPlan

__all__ = ["KUBE_PROXY_CONFIG", "addon_objects", "coredns_objects", "kube_proxy_objects"]

Obj = dict[str, Any]
KUBELET_CONF = "/etc/kubernetes/kubelet.conf"
KUBE_PROXY_CONFIG = "/var/lib/kube-proxy/config.conf"
COREDNS_IMAGE = "registry.k8s.io/coredns/coredns:v1.11.3"
# kubeadm's Corefile without its forward plugin: outside names are NXDOMAIN at once.
COREFILE = """.:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes ZONE in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    # kin: add "forward . /etc/resolv.conf" to resolve names outside the cluster
    cache 30
    loop
    reload
    loadbalance
}
"""
NAMESPACE = "kube-system"


def addon_objects(plan: ClusterPlan) -> list[Obj]:
    """What kubeadm's addon phase creates, in order."""
    proxy = kube_proxy_objects(plan) if plan.kube_proxy_mode != "none" else []
    return [*proxy, *coredns_objects(plan)]


def coredns_objects(plan: ClusterPlan) -> list[Obj]:
    labels = {"k8s-app": "kube-dns"}
    account = {"apiVersion": "v1", "kind": "ServiceAccount",
               "metadata": {"name": "coredns", "namespace": NAMESPACE}}  # fmt: skip

    def probe(path: str, port: int) -> Obj:
        return {"httpGet": {"path": path, "port": port, "scheme": "HTTP"},
                "periodSeconds": 1, "timeoutSeconds": 1, "failureThreshold": 5}  # fmt: skip

    corefile = {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "coredns", "namespace": NAMESPACE},
                "data": {"Corefile": COREFILE.replace("ZONE", CLUSTER_DOMAIN)}}  # fmt: skip
    container = {
        "name": "coredns", "image": COREDNS_IMAGE,
        "command": [sys.executable, "-m", "kin.dns", f"--kubeconfig={KUBELET_CONF}"],
        "args": ["-conf", "/etc/coredns/Corefile"],
        "ports": [{"name": "dns", "containerPort": 53, "protocol": "UDP"},
                  {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP"}],
        "resources": {"requests": {"cpu": "100m", "memory": "70Mi"},
                      "limits": {"memory": "170Mi"}},
        "livenessProbe": probe("/health", 8080),
        "readinessProbe": probe("/ready", 8181),
        "securityContext": {"capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]}},
        "volumeMounts": [{"name": "config-volume", "mountPath": "/etc/coredns", "readOnly": True},
                         {"name": "kubeconfig", "mountPath": KUBELET_CONF, "readOnly": True}],
    }  # fmt: skip
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "coredns", "namespace": NAMESPACE, "labels": labels},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": labels},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "priorityClassName": "system-cluster-critical",
                    "serviceAccountName": "coredns",
                    "dnsPolicy": "Default",
                    "nodeSelector": {"kubernetes.io/os": "linux"},
                    "tolerations": [
                        {"key": "CriticalAddonsOnly", "operator": "Exists"},
                        {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"},
                    ],
                    "containers": [container],
                    "volumes": [
                        {"name": "config-volume", "configMap": {
                            "name": "coredns", "items": [{"key": "Corefile", "path": "Corefile"}]}},
                        {"name": "kubeconfig", "hostPath": {"path": KUBELET_CONF, "type": "File"}},
                    ],
                },
            },
        },
    }  # fmt: skip
    service = {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kube-dns", "namespace": NAMESPACE,
                     "labels": {**labels, "kubernetes.io/cluster-service": "true",
                                "kubernetes.io/name": "CoreDNS"}},
        "spec": {"selector": labels, "clusterIP": plan.dns_ip,
                 "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                           {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53}]},
    }  # fmt: skip
    return [account, corefile, deployment, service]


def kube_proxy_config(plan: ClusterPlan) -> str:
    config = {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "mode": plan.kube_proxy_mode,
        "clusterCIDR": plan.pod_subnet,
        "clientConnection": {"kubeconfig": KUBELET_CONF},
        "iptables": {"minSyncPeriod": "1s", "syncPeriod": "30s", "masqueradeBit": 14},
        "nftables": {"minSyncPeriod": "1s", "syncPeriod": "30s", "masqueradeBit": 14},
        "conntrack": {"maxPerCore": 0},  # kind's: leave the (shared) conntrack table alone
    }
    return str(yaml.safe_dump(config, sort_keys=False))


def kube_proxy_objects(plan: ClusterPlan) -> list[Obj]:
    labels = {"k8s-app": "kube-proxy"}
    account = {"apiVersion": "v1", "kind": "ServiceAccount",
               "metadata": {"name": "kube-proxy", "namespace": NAMESPACE}}  # fmt: skip
    meta = {"name": "kube-proxy", "namespace": NAMESPACE, "labels": {"app": "kube-proxy"}}
    config = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta,
              "data": {"config.conf": kube_proxy_config(plan)}}  # fmt: skip
    container = {
        "name": "kube-proxy", "image": f"registry.k8s.io/kube-proxy:{KUBERNETES_VERSION}",
        "command": [sys.executable, "-m", "kin.proxy", f"--config={KUBE_PROXY_CONFIG}",
                    "--hostname-override=$(NODE_NAME)"],
        "env": [{"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
        "securityContext": {"privileged": True},
        "volumeMounts": [
            {"name": "kube-proxy", "mountPath": "/var/lib/kube-proxy"},
            {"name": "xtables-lock", "mountPath": "/run/xtables.lock"},
            {"name": "lib-modules", "mountPath": "/lib/modules", "readOnly": True},
            {"name": "kubeconfig", "mountPath": KUBELET_CONF, "readOnly": True},
        ],
    }  # fmt: skip
    daemonset = {
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "kube-proxy", "namespace": NAMESPACE, "labels": labels},
        "spec": {
            "selector": {"matchLabels": labels},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "hostNetwork": True,
                    "nodeSelector": {"kubernetes.io/os": "linux"},
                    "priorityClassName": "system-node-critical",
                    "serviceAccountName": "kube-proxy",
                    "tolerations": [{"operator": "Exists"}],
                    "containers": [container],
                    "volumes": [
                        {"name": "kube-proxy", "configMap": {"name": "kube-proxy"}},
                        {"name": "xtables-lock",
                         "hostPath": {"path": "/run/xtables.lock", "type": "FileOrCreate"}},
                        {"name": "lib-modules", "hostPath": {"path": "/lib/modules"}},
                        {"name": "kubeconfig", "hostPath": {"path": KUBELET_CONF, "type": "File"}},
                    ],
                },
            },
        },
    }  # fmt: skip
    return [account, config, daemonset]
