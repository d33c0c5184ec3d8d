"""Static pods on a node, started by its kubelet with no API server, as the seed shows them.

A manifest dropped into a worker's /etc/kubernetes/manifests runs within 2 s; its
containers share the pod's namespaces with pause (PID 1, reaping orphans); they talk
over 127.0.0.1; removing the file stops the pod and releases its IP; a kubelet or
runtime killed with -9 is restarted and nothing is duplicated.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from kin.cluster.state import node_dir
from kin.node.client import request
from kin.runtime.client import CRIClient
from kin.runtime.cri import api_pb2 as cri
from kin.testing.clusters import BARE_TWO_NODES, kin, temporary_cluster, without_cluster_dns
from kin.testing.runtime import bridge_conflist
from kin.testing.waiting import eventually

BRIDGE = bridge_conflist()
SERVE = (
    "import socket; s = socket.create_server(('127.0.0.1', 8080)); "
    "[c.sendall(b'pong') or c.close() for c in iter(lambda: s.accept()[0], None)]"
)
ASK = "import socket; print(socket.create_connection(('127.0.0.1', 8080)).recv(9).decode())"
SHARED = f"""\
apiVersion: v1
kind: Pod
metadata:
  name: shared
  labels: {{app: shared}}
spec:
  shareProcessNamespace: true
  terminationGracePeriodSeconds: 3
  containers:
  - name: server
    image: busybox
    command: ["python3", "-c", "{SERVE}"]
  - name: client
    image: busybox
    command: ["sh", "-c", "(sleep 0.5 &); while true; do python3 -c \\"{ASK}\\"; sleep 0.5; done"]
"""


@pytest.fixture(scope="module")
def worker() -> object:
    with temporary_cluster(BARE_TWO_NODES) as name:
        without_cluster_dns(name)
        node = f"{name}-worker"
        state = Path(node_dir(name, node))
        (state / "fs/etc/cni/net.d/10-bridge.conflist").write_text(json.dumps(BRIDGE))
        # Timings are for a running cluster: let the nodes finish booting first.
        log = state / "fs/var/log/kin/kubelet.log"
        eventually(
            lambda: log.exists() and f"node {node} registered" in log.read_text(), timeout=30
        )
        yield node, state


def crictl(node: str, *args: str) -> str:
    return kin("crictl", node, *args).stdout


def running(node: str, name: str) -> list[str]:
    return crictl(node, "ps", "-q", "--name", f"^{name}$").split()


def pid_of(node: str, container_id: str) -> int:
    return int(json.loads(crictl(node, "inspect", container_id))["info"]["pid"])


def ns_link(node: str, pid: int | str, kind: str) -> str:
    return kin("exec", node, "--", "readlink", f"/proc/{pid}/ns/{kind}").stdout.strip()


def unit_pid(state: Path, unit: str) -> int | None:
    pid = request(str(state / "supervisor.sock"), "status")["units"][unit]["pid"]
    return int(pid) if pid else None


def test_a_static_pod_starts_within_two_seconds_and_shares_its_namespaces(
    worker: tuple[str, Path],
) -> None:
    node, state = worker
    manifest = state / "fs/etc/kubernetes/manifests/shared.yaml"
    started = time.monotonic()
    manifest.write_text(SHARED)
    try:
        # Polled in-process over the node's socket: a `kin crictl` per poll would add its
        # own start-up (about half a second) to what is measured.
        with CRIClient(str(state / "fs/run/containerd/containerd.sock")) as client:
            running_state = cri.ContainerStateValue(state=cri.CONTAINER_RUNNING)
            request = cri.ListContainersRequest(filter=cri.ContainerFilter(state=running_state))
            eventually(
                lambda: len(client.runtime.ListContainers(request).containers) == 2,
                timeout=10,
                every=0.01,
            )
        took = time.monotonic() - started
        assert took < 2.0, f"took {took:.2f} s"
        check_shared_pod(node, state)
    finally:
        manifest.unlink(missing_ok=True)
        eventually(lambda: crictl(node, "pods", "-q") == "", timeout=10)


def check_shared_pod(node: str, state: Path) -> None:

    pods = crictl(node, "pods").splitlines()
    assert " Ready " in pods[1] and f" shared-{node} " in pods[1]
    sandbox_id = crictl(node, "pods", "-q").split()[0]
    pause = json.loads(crictl(node, "inspectp", sandbox_id))["info"]["pid"]
    server, client = running(node, "server")[0], running(node, "client")[0]
    for container_id in (server, client):
        pid = pid_of(node, container_id)
        for kind in ("net", "ipc", "uts", "pid"):
            assert ns_link(node, pid, kind) == ns_link(node, pause, kind), kind
            assert ns_link(node, pid, kind) != ns_link(node, 1, kind), kind  # not the node's
        assert ns_link(node, pid, "mnt") != ns_link(node, pause, "mnt")
    assert ns_link(node, pause, "mnt") != ns_link(node, 1, "mnt")

    logs = eventually(lambda: crictl(node, "logs", client) or None)
    assert logs.startswith("pong\n")  # the two containers talk over 127.0.0.1
    ps = crictl(node, "exec", "-s", client, "ps", "-o", "pid,stat,comm")
    assert re.search(r"^\s*1\s+\S+\s+pause$", ps, re.M), ps
    assert not re.search(r"^\s*\d+\s+Z", ps, re.M), ps  # the orphaned sleep was reaped
    hostname = crictl(node, "exec", "-s", client, "hostname")
    assert hostname == f"shared-{node}\n"

    ip = json.loads(crictl(node, "inspectp", sandbox_id))["status"]["network"]["ip"]
    assert ip.startswith("10.244.1.")
    lease = state / "fs/var/lib/cni/networks/cbr0" / ip
    assert lease.exists()
    (state / "fs/etc/kubernetes/manifests/shared.yaml").unlink()
    eventually(lambda: crictl(node, "pods", "-q") == "", timeout=10)
    assert not lease.exists()  # the IP went back to host-local
    assert not list((state / "fs/run/netns").iterdir())


def test_hidden_and_invalid_manifests_are_skipped(worker: tuple[str, Path]) -> None:
    node, state = worker
    manifests = state / "fs/etc/kubernetes/manifests"
    (manifests / ".editor-swap.yaml").write_text(SHARED.replace("name: shared", "name: hidden"))
    (manifests / "broken.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {}\nspec: {containers: []}\n"
    )
    (manifests / "good.manifest").write_text(SHARED.replace("name: shared", "name: good"))
    try:
        eventually(lambda: len(running(node, "server")) == 1, timeout=10)
        names = {
            p["metadata"]["name"] for p in json.loads(crictl(node, "pods", "-o", "json"))["items"]
        }
        assert names == {f"good-{node}"}
        log = (state / "fs/var/log/kin/kubelet.log").read_text()
        assert "Could not process manifest file /etc/kubernetes/manifests/broken.yaml" in log
        assert "name is needed for the pod" in log
    finally:
        for name in (".editor-swap.yaml", "broken.yaml", "good.manifest"):
            (manifests / name).unlink()
        eventually(lambda: crictl(node, "pods", "-q") == "", timeout=10)


@pytest.mark.parametrize("unit", ["kubelet", "kin-runtime"])
def test_killing_the_kubelet_or_runtime_leaves_pods_running_once(
    worker: tuple[str, Path], unit: str
) -> None:
    node, state = worker
    manifest = state / "fs/etc/kubernetes/manifests/steady.yaml"
    manifest.write_text(SHARED.replace("name: shared", "name: steady"))
    try:
        eventually(lambda: len(running(node, "server")) == 1, timeout=10)
        sandbox_before = crictl(node, "pods", "-q").split()
        containers_before = sorted(crictl(node, "ps", "-q").split())
        before = unit_pid(state, unit)
        kin("exec", node, "--", "kill", "-9", str(before))
        eventually(lambda: unit_pid(state, unit) not in (None, before), timeout=15)
        time.sleep(2.5)  # a kubelet resyncs within a second of starting
        assert (
            eventually(
                lambda: kin("crictl", node, "pods", "-q", check=False).stdout.split() or None
            )
            == sandbox_before
        )
        assert sorted(crictl(node, "ps", "-q").split()) == containers_before
    finally:
        manifest.unlink()
        eventually(lambda: crictl(node, "pods", "-q") == "", timeout=15)
