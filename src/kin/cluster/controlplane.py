"""kubeadm's files for a cluster: PKI, kubeconfigs and the control plane's static pods.

Written into the nodes' file systems before they boot, where kubeadm writes them:
the control plane's ``/etc/kubernetes/pki`` (CA, API server, admin, kubelet-client,
scheduler, controller manager and one client certificate per node,
``system:node:<name>``), ``admin.conf``, ``scheduler.conf`` and
``controller-manager.conf``, every node's ``/etc/kubernetes/kubelet.conf`` and
``pki/ca.crt``, and the control plane's static pods in ``/etc/kubernetes/manifests``
(kube-apiserver, kube-controller-manager, kube-scheduler, and etcd with ``--datastore
etcd``), which its kubelet starts with
no API server around, exactly as kubeadm's control plane boots.
"""

from __future__ import annotations

import os
import shutil
import sys
from typing import Any

import yaml

from kin import KUBERNETES_VERSION
from kin.apiserver import kubeconfig, pki
from kin.cluster.plan import API_SERVER_NODE_PORT, CLUSTER_DOMAIN, ClusterPlan, NodePlan
from kin.linux.files import write_atomic

__all__ = [
    "ADMIN_CONF",
    "KUBELET_CONF",
    "admin_kubeconfig",
    "apiserver_manifest",
    "controller_manager_manifest",
    "etcd_manifest",
    "kubelet_flags",
    "scheduler_manifest",
    "write_control_plane_files",
]

ETC = "etc/kubernetes"
ADMIN_CONF = "/etc/kubernetes/admin.conf"
SCHEDULER_CONF = "/etc/kubernetes/scheduler.conf"
CONTROLLER_MANAGER_CONF = "/etc/kubernetes/controller-manager.conf"
KUBELET_CONF = "/etc/kubernetes/kubelet.conf"
PKI = "/etc/kubernetes/pki"
KUBELET_PKI = "/var/lib/kubelet/pki"
DATASTORE_DIR = "/var/lib/etcd"
CONTROL_PLANE_ROLE = "node-role.kubernetes.io/control-plane"
CREATE = "DirectoryOrCreate"
ETCD_BINARY = "/usr/bin/etcd"  # Debian's etcd-server
ETCD_IMAGE = "registry.k8s.io/etcd:3.5.16-0"
ETCD_CLIENT_PORT = 2379
COMMON_NAME_MAX = 64  # X.509 upper bound for a certificate's CN


def write_control_plane_files(plan: ClusterPlan, node_fs: dict[str, str]) -> None:
    """Everything kubeadm writes; ``node_fs`` maps each node's name to its file-system root."""
    for node in plan.nodes:
        if len(f"system:node:{node.name}") > COMMON_NAME_MAX:
            raise ValueError(
                f"node name {node.name!r} is too long for its certificate's common name "
                f"'system:node:{node.name}' ({COMMON_NAME_MAX} characters at most; "
                "use a shorter cluster name)"
            )
    cp = plan.control_plane
    cp_pki = os.path.join(node_fs[cp.name], PKI.lstrip("/"))
    names = tuple(node.name for node in plan.nodes)
    ca = pki.write_cluster_pki(cp_pki, plan.service_subnet, (cp.ip,), names)
    server = f"https://{cp.ip}:{API_SERVER_NODE_PORT}"
    context = f"kin-{plan.name}"
    admin = _kubeconfig(cp_pki, "admin", ca, server, context, f"kubernetes-admin@{context}")
    kubeconfig.write(admin, os.path.join(node_fs[cp.name], ADMIN_CONF.lstrip("/")))
    scheduler = _kubeconfig(cp_pki, "scheduler", ca, server, "default", "system:kube-scheduler")
    kubeconfig.write(scheduler, os.path.join(node_fs[cp.name], SCHEDULER_CONF.lstrip("/")))
    manager = _kubeconfig(cp_pki, "controller-manager", ca, server, "default",
                          "system:kube-controller-manager")  # fmt: skip
    path = os.path.join(node_fs[cp.name], CONTROLLER_MANAGER_CONF.lstrip("/"))
    kubeconfig.write(manager, path)
    for node in plan.nodes:
        root = node_fs[node.name]
        node_pki = os.path.join(root, PKI.lstrip("/"))
        os.makedirs(node_pki, exist_ok=True)
        if node.name != cp.name:
            shutil.copyfile(f"{cp_pki}/ca.crt", f"{node_pki}/ca.crt")
        user = f"system:node:{node.name}"
        config = _kubeconfig(cp_pki, f"node-{node.name}", ca, server, "default", user)
        kubeconfig.write(config, os.path.join(root, KUBELET_CONF.lstrip("/")))
        # The kubelet's own serving pair, so that the kubelet never loads cryptography.
        serving = os.path.join(root, KUBELET_PKI.lstrip("/"))
        os.makedirs(serving, exist_ok=True)
        pki.write_self_signed_server(
            f"{serving}/kubelet.crt", f"{serving}/kubelet.key", node.name, node.ip
        )
    manifests = os.path.join(node_fs[cp.name], ETC, "manifests")
    os.makedirs(manifests, exist_ok=True)
    pods = [("kube-apiserver", apiserver_manifest(plan)),
            ("kube-controller-manager", controller_manager_manifest(plan)),
            ("kube-scheduler", scheduler_manifest())]  # fmt: skip
    if plan.datastore == "etcd":
        pods.append(("etcd", etcd_manifest(plan)))
    for name, pod in pods:
        write_atomic(os.path.join(manifests, f"{name}.yaml"), yaml.safe_dump(pod, sort_keys=False))


def admin_kubeconfig(plan: ClusterPlan, node_fs_root: str, internal: bool = False) -> str:
    """The admin kubeconfig as a user gets it: through the published API port on the host,
    or (``internal``) at the control plane's own address, as kind's ``--internal``."""
    with open(os.path.join(node_fs_root, ADMIN_CONF.lstrip("/"))) as f:
        config = yaml.safe_load(f)
    if not internal:
        host = plan.api_server.listen_address or "127.0.0.1"
        for cluster in config["clusters"]:
            cluster["cluster"]["server"] = f"https://{host}:{plan.api_server.host_port}"
    return str(yaml.safe_dump(config, sort_keys=False))


def _kubeconfig(
    pki_dir: str, pair_name: str, ca: pki.CertKey, server: str, context: str, user: str
) -> dict[str, Any]:
    pair = pki.load(f"{pki_dir}/{pair_name}.crt", f"{pki_dir}/{pair_name}.key")
    return kubeconfig.render(context, server, ca.cert_pem(), pair.cert_pem(), pair.key_pem(), user)


def apiserver_manifest(plan: ClusterPlan) -> dict[str, Any]:
    """kube-apiserver as kubeadm's static pod, running kin's API server on the host image."""
    cp = plan.control_plane
    command = [
        sys.executable, "-m", "kin.apiserver",
        f"--advertise-address={cp.ip}",
        "--bind-address=0.0.0.0",
        f"--secure-port={API_SERVER_NODE_PORT}",
        *_datastore_flags(plan),
        f"--client-ca-file={PKI}/ca.crt",
        f"--tls-cert-file={PKI}/apiserver.crt",
        f"--tls-private-key-file={PKI}/apiserver.key",
        f"--kubelet-client-certificate={PKI}/apiserver-kubelet-client.crt",
        f"--kubelet-client-key={PKI}/apiserver-kubelet-client.key",
        f"--service-cluster-ip-range={plan.service_subnet}",
    ]  # fmt: skip
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "kube-apiserver",
            "namespace": "kube-system",
            "labels": {"component": "kube-apiserver", "tier": "control-plane"},
            "annotations": {
                "kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint":
                    f"{cp.ip}:{API_SERVER_NODE_PORT}",
            },
        },
        "spec": {
            "hostNetwork": True,
            "priorityClassName": "system-node-critical",
            "containers": [{
                "name": "kube-apiserver",
                "image": f"registry.k8s.io/kube-apiserver:{KUBERNETES_VERSION}",
                "imagePullPolicy": "IfNotPresent",
                "command": command,
                "volumeMounts": [
                    {"name": "k8s-certs", "mountPath": PKI, "readOnly": True},
                    {"name": "datastore", "mountPath": DATASTORE_DIR},
                ],
            }],
            "volumes": [
                {"name": "k8s-certs", "hostPath": {"path": PKI, "type": CREATE}},
                {"name": "datastore", "hostPath": {"path": DATASTORE_DIR, "type": CREATE}},
            ],
        },
    }  # fmt: skip


def _datastore_flags(plan: ClusterPlan) -> list[str]:
    if plan.datastore == "etcd":
        return [f"--etcd-servers=http://127.0.0.1:{ETCD_CLIENT_PORT}"]
    return [f"--storage=sqlite://{DATASTORE_DIR}/kin-apiserver.sqlite"]


def etcd_manifest(plan: ClusterPlan) -> dict[str, Any]:
    """etcd as kubeadm's static pod (``--datastore etcd``), running Debian's etcd on the
    host's files. It listens on the control plane's loopback only, so plain HTTP: nothing
    outside the node can reach it (kubeadm's etcd uses TLS on the node address)."""
    name = plan.control_plane.name
    local = "http://127.0.0.1"
    command = [
        ETCD_BINARY, f"--name={name}", f"--data-dir={DATASTORE_DIR}",
        f"--listen-client-urls={local}:{ETCD_CLIENT_PORT}",
        f"--advertise-client-urls={local}:{ETCD_CLIENT_PORT}",
        f"--listen-peer-urls={local}:{ETCD_CLIENT_PORT + 1}",
        f"--initial-advertise-peer-urls={local}:{ETCD_CLIENT_PORT + 1}",
        f"--initial-cluster={name}={local}:{ETCD_CLIENT_PORT + 1}",
        f"--listen-metrics-urls={local}:{ETCD_CLIENT_PORT + 2}",
        "--snapshot-count=10000",
    ]  # fmt: skip
    return _component_pod("etcd", command, [("etcd-data", DATASTORE_DIR, CREATE, False)],
                          ETCD_IMAGE)  # fmt: skip


def scheduler_manifest() -> dict[str, Any]:
    """kube-scheduler as kubeadm's static pod, running kin's scheduler on the host image."""
    command = [
        sys.executable, "-m", "kin.scheduler", f"--kubeconfig={SCHEDULER_CONF}",
        "--bind-address=127.0.0.1", "--leader-elect=false",
    ]  # fmt: skip
    return _component_pod(
        "kube-scheduler", command, [("kubeconfig", SCHEDULER_CONF, "FileOrCreate", True)]
    )


def controller_manager_manifest(plan: ClusterPlan) -> dict[str, Any]:
    """kube-controller-manager as kubeadm's static pod, with kubeadm's flags that matter:
    node IPAM from the cluster's podSubnet (/24 per node), the service range, the CA for
    ``kube-root-ca.crt``."""
    command = [
        sys.executable, "-m", "kin.controller_manager",
        f"--kubeconfig={CONTROLLER_MANAGER_CONF}", "--bind-address=127.0.0.1",
        "--leader-elect=false", "--controllers=*", "--allocate-node-cidrs=true",
        f"--cluster-cidr={plan.pod_subnet}", "--node-cidr-mask-size=24",
        f"--service-cluster-ip-range={plan.service_subnet}",
        f"--root-ca-file={PKI}/ca.crt", f"--cluster-name=kin-{plan.name}",
    ]  # fmt: skip
    volumes = [("kubeconfig", CONTROLLER_MANAGER_CONF, "FileOrCreate", True),
               ("k8s-certs", PKI, CREATE, True)]  # fmt: skip
    return _component_pod("kube-controller-manager", command, volumes)


Volume = tuple[str, str, str, bool]
"""A hostPath volume of a static pod: name, path (mounted at the same path), type, read-only."""


def _component_pod(
    name: str, command: list[str], volumes: list[Volume], image: str = ""
) -> dict[str, Any]:
    """A control-plane component's static pod on the host's files, with hostPath volumes."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "kube-system",
            "labels": {"component": name, "tier": "control-plane"},
        },
        "spec": {
            "hostNetwork": True,
            "priorityClassName": "system-node-critical",
            "containers": [{
                "name": name,
                "image": image or f"registry.k8s.io/{name}:{KUBERNETES_VERSION}",
                "imagePullPolicy": "IfNotPresent",
                "command": command,
                "volumeMounts": [{"name": v, "mountPath": path, "readOnly": ro}
                                 for v, path, _, ro in volumes],
            }],
            "volumes": [{"name": v, "hostPath": {"path": path, "type": kind}}
                        for v, path, kind, _ in volumes],
        },
    }  # fmt: skip


def kubelet_flags(plan: ClusterPlan, node: NodePlan) -> list[str]:
    """The kubelet's registration: kubeconfig, cluster DNS, labels from the kind config and
    the control plane's role, and its taint when the cluster has workers (the seed's tip)."""
    labels = dict(node.labels)
    if node.role == "control-plane":
        labels[CONTROL_PLANE_ROLE] = ""
        labels["node.kubernetes.io/exclude-from-external-load-balancers"] = ""
    flags = [f"--kubeconfig={KUBELET_CONF}", f"--cluster-dns={plan.dns_ip}",
             f"--cluster-domain={CLUSTER_DOMAIN}"]  # fmt: skip
    if labels:
        flags.append("--node-labels=" + ",".join(f"{k}={v}" for k, v in labels.items()))
    has_workers = any(n.role != "control-plane" for n in plan.nodes)
    if node.role == "control-plane" and has_workers:
        flags.append(f"--register-with-taints={CONTROL_PLANE_ROLE}:NoSchedule")
    return flags
