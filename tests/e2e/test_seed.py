"""The seed, end to end: its ``kind-2node.yaml`` gives the cluster the study note takes apart.

For each flannel backend (vxlan, host-gw, udp) and with the etcd datastore: nodes Ready,
the system pods Running, pods on different nodes reach each other with their own source
addresses, and ``tcpdump`` inside the nodes shows what the note says: traffic between pods
of one node stays on ``cni0`` and never reaches the tunnel device; traffic to the other
node leaves ``eth0`` as the backend makes it (VXLAN on UDP 8472 with VNI 1 and the node
addresses outside, the pod addresses inside; plain pod packets with host-gw; UDP 8285 with
udp). A pod's namespaces differ from its node's, and its containers share net, ipc and uts
with pause. A static pod dropped on the worker appears as a mirror pod. The seed's host
ports are moved to free ones, so a running ``make demo`` does not collide.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kin.cluster.state import node_dir
from kin.testing.clusters import KIN, kin, kubeconfig_for, kubectl, temporary_cluster
from kin.testing.waiting import eventually

SEED = (Path(__file__).parents[2] / "examples/kind-2node.yaml").read_text()
FREE_PORTS = re.sub(r"hostPort: \d+", "hostPort: 0", SEED)
VARIANTS = [("vxlan", "sqlite"), ("host-gw", "sqlite"), ("udp", "sqlite"), ("vxlan", "etcd")]
ECHO = (
    "import socket\n"
    "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
    "s.bind(('0.0.0.0', 8080)); s.listen()\n"
    "while True:\n"
    "    c, peer = s.accept(); c.sendall(('from ' + peer[0]).encode()); c.close()\n"
)
ASK = (
    "import socket, sys\n"
    "c = socket.create_connection((sys.argv[1], 8080), timeout=5)\n"
    "print(c.recv(100).decode())\n"
)
CAPTURE_SECONDS = 3


@dataclass
class Seed:
    name: str
    config: str
    backend: str
    datastore: str
    ips: dict[str, str]
    """Pod name -> IP: ``a`` and ``c`` on the worker, ``b`` on the control plane."""

    @property
    def control_plane(self) -> str:
        return f"{self.name}-control-plane"

    @property
    def worker(self) -> str:
        return f"{self.name}-worker"


def pod(name: str, node: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"seed": "yes"}},
        "spec": {"nodeName": node, "terminationGracePeriodSeconds": 0, "containers": [
            {"name": "app", "image": "busybox", "command": [sys.executable, "-c", ECHO]}]},
    }  # fmt: skip


@pytest.fixture(scope="module", params=VARIANTS, ids=[f"{b}-{d}" for b, d in VARIANTS])
def seed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Seed]:
    backend, datastore = request.param
    flags = ("--flannel-backend", backend, "--datastore", datastore, "--wait", "60s")
    with temporary_cluster(FREE_PORTS, None, *flags) as name:
        config = kubeconfig_for(name, str(tmp_path_factory.mktemp("kubeconfig")))
        kubectl(config, "wait", "--for=condition=Ready", "node", "--all", "--timeout=60s")
        placement = {"a": f"{name}-worker", "b": f"{name}-control-plane", "c": f"{name}-worker"}
        pods = {"apiVersion": "v1", "kind": "List",
                "items": [pod(p, node) for p, node in placement.items()]}  # fmt: skip
        kubectl(config, "apply", "-f", "-", stdin=json.dumps(pods))
        kubectl(config, "wait", "--for=condition=Ready", "pod", "-l", "seed=yes", "--timeout=60s")
        listed = json.loads(kubectl(config, "get", "pod", "-l", "seed=yes", "-o", "json").stdout)
        ips = {p["metadata"]["name"]: p["status"]["podIP"] for p in listed["items"]}
        yield Seed(name, config, backend, datastore, ips)


def test_nodes_are_ready_and_the_system_pods_run(seed: Seed) -> None:
    listed = json.loads(kubectl(seed.config, "get", "pod", "-A", "-o", "json").stdout)
    system = {
        (p["metadata"]["namespace"], re.sub(r"^(kube-flannel-ds|kube-proxy|coredns-[a-z0-9]+)-[a-z0-9]{5}$", r"\1-xxxxx", p["metadata"]["name"]))
        for p in listed["items"] if p["metadata"]["namespace"] != "default"
    }  # fmt: skip
    cp = seed.control_plane
    wanted = {
        ("kube-system", f"kube-apiserver-{cp}"), ("kube-system", f"kube-controller-manager-{cp}"),
        ("kube-system", f"kube-scheduler-{cp}"), ("kube-flannel", "kube-flannel-ds-xxxxx"),
        ("kube-system", "kube-proxy-xxxxx"),
    }  # fmt: skip
    coredns = {(ns, name) for ns, name in system if ns == "kube-system" and "coredns-" in name}
    assert len(coredns) == 1, coredns  # both replicas of one ReplicaSet
    wanted |= coredns
    if seed.datastore == "etcd":
        wanted.add(("kube-system", f"etcd-{cp}"))
    assert system == wanted
    assert all(p["status"]["phase"] == "Running" for p in listed["items"])
    flannel = [p for p in listed["items"] if p["metadata"]["namespace"] == "kube-flannel"]
    assert sorted(p["spec"]["nodeName"] for p in flannel) == [cp, seed.worker]
    wide = kubectl(seed.config, "get", "node", "-o", "wide").stdout
    assert len(re.findall(r"\sReady\s", wide)) == 2 and wide.count("kin://") == 2
    taints = kubectl(seed.config, "get", "node", cp, "-o", "jsonpath={.spec.taints}").stdout
    assert {"effect": "NoSchedule", "key": "node-role.kubernetes.io/control-plane"} in json.loads(
        taints
    )


def test_pods_on_two_nodes_reach_each_other_without_nat(seed: Seed) -> None:
    for client, server in (("a", "b"), ("b", "a")):
        answer = kubectl(seed.config, "exec", client, "--", sys.executable, "-c", ASK,
                         seed.ips[server]).stdout  # fmt: skip
        assert answer.strip() == f"from {seed.ips[client]}"  # the source address is kept


@contextmanager
def capture(node: str, iface: str, *expression: str) -> Iterator[list[str]]:
    """tcpdump inside ``node`` for a few seconds; the block sends traffic, the list then
    holds what was seen (one string per packet, continuation lines joined)."""
    decode = ["-T", "vxlan"] if "8472" in expression else []
    argv = [*KIN, "exec", node, "--", "timeout", "-s", "INT", str(CAPTURE_SECONDS),
            "tcpdump", "-l", "-nn", "-i", iface, *decode, *expression]  # fmt: skip
    seen: list[str] = []
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        assert proc.stderr is not None
        started = time.monotonic()
        while "listening on" not in proc.stderr.readline():
            assert time.monotonic() - started < CAPTURE_SECONDS, "tcpdump did not start"
        yield seen
        out, _ = proc.communicate(timeout=CAPTURE_SECONDS + 10)
    packets = re.split(r"\n(?=\d\d:\d\d:\d\d\.)", out.strip())
    seen.extend(" ".join(p.split()) for p in packets if p)


def ping(seed: Seed, source: str, target: str) -> None:
    done = kubectl(
        seed.config, "exec", source, "--", "ping", "-c2", "-i0.2", "-W2", seed.ips[target]
    )
    assert "2 received" in done.stdout


def tunnel_device(backend: str) -> str:
    return {"vxlan": "flannel.1", "udp": "flannel0", "host-gw": "eth0"}[backend]


def test_same_node_traffic_stays_on_cni0(seed: Seed) -> None:
    a, c = seed.ips["a"], seed.ips["c"]
    on_tunnel = tunnel_device(seed.backend)
    with capture(seed.worker, "cni0", "icmp") as bridge, capture(
        seed.worker, on_tunnel, "host", a, "and", "host", c
    ) as tunnel:  # fmt: skip
        ping(seed, "a", "c")
    assert any(f"{a} > {c}: ICMP echo request" in line for line in bridge), bridge
    assert any(f"{c} > {a}: ICMP echo reply" in line for line in bridge), bridge
    assert tunnel == [], f"same-node traffic reached {on_tunnel}: {tunnel}"


def test_cross_node_traffic_leaves_eth0_as_the_backend_makes_it(seed: Seed) -> None:
    a, b = seed.ips["a"], seed.ips["b"]
    worker_ip = kubectl(seed.config, "get", "node", seed.worker, "-o",
                        "jsonpath={.status.addresses[0].address}").stdout  # fmt: skip
    cp_ip = kubectl(seed.config, "get", "node", seed.control_plane, "-o",
                    "jsonpath={.status.addresses[0].address}").stdout  # fmt: skip
    port = {"vxlan": "8472", "udp": "8285"}.get(seed.backend)
    expression = ("udp", "port", port) if port else ("icmp",)
    with capture(seed.worker, "eth0", *expression) as wire:
        ping(seed, "a", "b")
    assert wire, "nothing left the worker's eth0"
    if seed.backend == "vxlan":
        outer = rf"IP {re.escape(worker_ip)}\.\d+ > {re.escape(cp_ip)}\.8472: VXLAN, .* vni 1 "
        inner = f"IP {a} > {b}: ICMP echo request"
        assert any(re.search(outer, line) and inner in line for line in wire), wire
    elif seed.backend == "udp":
        assert any(f"IP {worker_ip}.8285 > {cp_ip}.8285: UDP" in line for line in wire), wire
    else:  # host-gw: the pod's own packet, routed to the other node, no encapsulation
        assert any(f"IP {a} > {b}: ICMP echo request" in line for line in wire), wire


def namespaces(node: str, pid: int) -> dict[str, str]:
    found = {}
    for kind in ("net", "ipc", "uts", "pid", "mnt"):
        found[kind] = kin("exec", node, "--", "readlink", f"/proc/{pid}/ns/{kind}").stdout.strip()
    return found


def test_a_pods_namespaces_are_its_own_and_shared_with_pause(seed: Seed) -> None:
    if seed.backend != "vxlan" or seed.datastore != "sqlite":
        pytest.skip("namespaces do not depend on the backend or the datastore")
    status = json.loads(kubectl(seed.config, "get", "pod", "a", "-o", "json").stdout)["status"]
    container = status["containerStatuses"][0]["containerID"].split("://", 1)[1]
    inspect = json.loads(kin("exec", seed.worker, "--", "crictl", "inspect", container).stdout)
    sandbox_id = inspect["info"]["sandboxID"]
    sandbox = json.loads(kin("exec", seed.worker, "--", "crictl", "inspectp", sandbox_id).stdout)
    app = namespaces(seed.worker, inspect["info"]["pid"])
    pause = namespaces(seed.worker, sandbox["info"]["pid"])
    node = namespaces(seed.worker, 1)
    assert all(pause[kind] != node[kind] for kind in node), (pause, node)  # the note's lsns
    assert all(app[kind] == pause[kind] for kind in ("net", "ipc", "uts")), (app, pause)
    assert app["mnt"] != pause["mnt"] and app["mnt"] != node["mnt"]


def test_a_static_pod_on_the_worker_appears_as_a_mirror_pod(seed: Seed) -> None:
    if seed.backend != "vxlan" or seed.datastore != "sqlite":
        pytest.skip("static pods do not depend on the backend or the datastore")
    manifest = (
        Path(node_dir(seed.name, seed.worker)) / "fs/etc/kubernetes/manifests/static-web.yaml"
    )
    static = pod("static-web", seed.worker)
    del static["spec"]["nodeName"]  # the kubelet's own: it needs no binding
    manifest.write_text(json.dumps(static))
    mirror = f"static-web-{seed.worker}"
    try:

        def running() -> dict[str, Any] | None:
            got = kubectl(seed.config, "get", "pod", mirror, "-o", "json", check=False)
            obj = json.loads(got.stdout) if got.returncode == 0 else None
            return obj if obj and obj["status"].get("phase") == "Running" else None

        obj = eventually(running, timeout=30)
        annotations = obj["metadata"]["annotations"]
        assert "kubernetes.io/config.mirror" in annotations
        assert obj["metadata"]["ownerReferences"][0]["kind"] == "Node"
    finally:
        manifest.unlink()
    eventually(lambda: kubectl(seed.config, "get", "pod", mirror, check=False).returncode != 0, 30)


def test_a_one_node_cluster_has_no_control_plane_taint(tmp_path: Path) -> None:
    single = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n"
    with temporary_cluster(single, None, "--wait", "60s") as name:
        config = kubeconfig_for(name, str(tmp_path))
        taints = kubectl(config, "get", "node", f"{name}-control-plane", "-o",
                         "jsonpath={.spec.taints}").stdout  # fmt: skip
        assert "node-role.kubernetes.io/control-plane" not in taints
        kubectl(config, "run", "solo", "--image=busybox", "--", "sleep", "3600")
        kubectl(config, "wait", "--for=condition=Ready", "pod/solo", "--timeout=60s")
