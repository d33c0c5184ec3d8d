"""The control plane boots the kubeadm way and kubelets join it, as kubectl shows.

The control-plane kubelet starts kube-apiserver from its static manifest with no API
server around; every kubelet then registers its Node, renews its Lease, mirrors its
static pods and runs the pods bound to it, reporting their status.
"""

from __future__ import annotations

import json
import os
import pty
import select
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kin.cluster.state import node_dir
from kin.testing.clusters import kin, kubeconfig_for, kubectl, temporary_cluster
from kin.testing.images import busybox_archive
from kin.testing.runtime import bridge_conflist
from kin.testing.waiting import eventually

SEED = """\
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes:
- role: control-plane
- role: worker
  labels:
    tier: frontend
networking:
  disableDefaultCNI: true
"""
"""No flannel (kind's ``disableDefaultCNI``): the worker gets a bridge config of the test's
own, the control plane none, so it stays NotReady, as in kind."""
BRIDGE = bridge_conflist()
POD = """\
apiVersion: v1
kind: Pod
metadata: {name: %(name)s, labels: {app: demo}}
spec:
  nodeName: %(node)s
  terminationGracePeriodSeconds: 2
  restartPolicy: %(policy)s
  containers:
  - name: app
    image: busybox
    command: ["sh", "-c", %(script)s]
    env:
    - {name: MY_POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
"""


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[str, str]]:
    with temporary_cluster(SEED) as name, tempfile.TemporaryDirectory() as tmp:
        worker = Path(node_dir(name, f"{name}-worker"))
        (worker / "fs/etc/cni/net.d/10-bridge.conflist").write_text(json.dumps(BRIDGE))
        config = kubeconfig_for(name, tmp)
        eventually(lambda: kubectl(config, "get", "nodes", check=False).returncode == 0, timeout=30)
        yield name, config


def get(config: str, *args: str) -> Any:
    return json.loads(kubectl(config, "get", *args, "-o", "json").stdout)


def test_nodes_register_with_what_kubectl_shows(cluster: tuple[str, str]) -> None:
    name, config = cluster

    def reported() -> Any:
        found = get(config, "nodes")
        done = len(found["items"]) == 2 and all(
            "nodeInfo" in n.get("status", {}) for n in found["items"]
        )
        return found if done else None

    nodes = eventually(reported, timeout=45)
    by_name = {n["metadata"]["name"]: n for n in nodes["items"]}
    cp, worker = by_name[f"{name}-control-plane"], by_name[f"{name}-worker"]
    assert cp["metadata"]["labels"]["node-role.kubernetes.io/control-plane"] == ""
    assert worker["metadata"]["labels"]["tier"] == "frontend"
    assert worker["metadata"]["labels"]["kubernetes.io/hostname"] == f"{name}-worker"
    assert {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"} in cp["spec"][
        "taints"
    ]
    worker_taints = {t["key"] for t in worker["spec"].get("taints") or []}
    assert "node-role.kubernetes.io/control-plane" not in worker_taints
    info = worker["status"]["nodeInfo"]
    assert info["containerRuntimeVersion"] == "kin://0.1.0" and info["kubeletVersion"].startswith(
        "v1."
    )
    internal = [a["address"] for a in worker["status"]["addresses"] if a["type"] == "InternalIP"]
    assert len(internal) == 1
    wide = kubectl(config, "get", "nodes", "-o", "wide").stdout
    assert "kin://0.1.0" in wide and "control-plane" in wide and internal[0] in wide

    # The worker has a CNI config: Ready. The control plane has none (disableDefaultCNI):
    # NotReady, as in kind, and no flannel was installed.
    def ready(node: str) -> str:
        conditions = get(config, "node", node)["status"]["conditions"]
        return str(next(c["status"] for c in conditions if c["type"] == "Ready"))

    assert eventually(lambda: ready(f"{name}-worker") == "True", timeout=45)
    assert ready(f"{name}-control-plane") == "False"

    # The node lifecycle controller taints by readiness: the worker's not-ready taints go.
    def taints(node: str) -> set[str]:
        return {t["key"] for t in get(config, "node", node)["spec"].get("taints") or []}

    assert eventually(lambda: not taints(f"{name}-worker"), timeout=15)
    assert "node.kubernetes.io/not-ready" in taints(f"{name}-control-plane")
    assert kubectl(config, "get", "ns", "kube-flannel", check=False).returncode != 0
    leases = get(config, "leases", "-n", "kube-node-lease")["items"]
    holders = {lease["spec"]["holderIdentity"] for lease in leases}
    assert holders == {f"{name}-control-plane", f"{name}-worker"}
    assert all(lease["metadata"]["ownerReferences"][0]["kind"] == "Node" for lease in leases)


def test_the_api_server_is_a_static_pod_with_a_mirror_that_comes_back(
    cluster: tuple[str, str],
) -> None:
    name, config = cluster
    mirror = f"kube-apiserver-{name}-control-plane"

    def running(not_uid: str = "") -> Any:
        found = kubectl(
            config, "get", "pod", "-n", "kube-system", mirror, "-o", "json", check=False
        )
        if found.returncode != 0:
            return None  # not (yet, or again) there
        pod = json.loads(found.stdout)
        fresh = pod["metadata"]["uid"] != not_uid and not pod["metadata"].get("deletionTimestamp")
        return pod if fresh and pod.get("status", {}).get("phase") == "Running" else None

    pod = eventually(running, timeout=45)
    annotations = pod["metadata"]["annotations"]
    assert annotations["kubernetes.io/config.source"] == "file"
    assert annotations["kubernetes.io/config.mirror"] == annotations["kubernetes.io/config.hash"]
    assert pod["metadata"]["ownerReferences"][0]["kind"] == "Node"
    kubectl(config, "delete", "pod", "-n", "kube-system", mirror, "--wait=false")
    again = eventually(lambda: running(pod["metadata"]["uid"]), timeout=45)
    assert again["metadata"]["uid"] != pod["metadata"]["uid"]


def test_a_pod_bound_to_a_node_runs_reports_and_is_deleted(cluster: tuple[str, str]) -> None:
    name, config = cluster
    script = json.dumps("echo I am $MY_POD; trap 'exit 0' TERM; while true; do sleep 0.1; done")
    kubectl(
        config,
        "apply",
        "-f",
        "-",
        stdin=POD
        % {"name": "pod-a", "node": f"{name}-worker", "policy": "Always", "script": script},
    )
    started = time.monotonic()

    def running() -> Any:
        pod = get(config, "pod", "pod-a")
        return pod if pod.get("status", {}).get("phase") == "Running" else None

    pod = eventually(running, timeout=45)
    assert time.monotonic() - started < 5
    assert pod["status"]["podIP"].startswith("10.244.1.")
    assert pod["status"]["hostIP"] and pod["status"]["containerStatuses"][0]["ready"]
    assert pod["status"]["containerStatuses"][0]["containerID"].startswith("kin://")
    conditions = {c["type"]: c["status"] for c in pod["status"]["conditions"]}
    assert conditions["Ready"] == "True" and conditions["PodScheduled"] == "True"
    table = kubectl(config, "get", "pod", "pod-a", "-o", "wide").stdout
    assert "1/1" in table and "Running" in table and f"{name}-worker" in table
    started = time.monotonic()
    kubectl(config, "delete", "pod", "pod-a", timeout=30)
    assert time.monotonic() - started < 10
    assert kubectl(config, "get", "pod", "pod-a", check=False).returncode != 0


def wait_phase(config: str, pod: str, phase: str) -> Any:
    def reached() -> Any:
        found = get(config, "pod", pod)
        return found if found.get("status", {}).get("phase") == phase else None

    return eventually(reached, timeout=45)


def test_restart_policy_never_ends_in_succeeded_or_failed(cluster: tuple[str, str]) -> None:
    name, config = cluster
    for pod_name, code, phase in (("job-ok", 0, "Succeeded"), ("job-bad", 3, "Failed")):
        script = json.dumps(f"echo done; exit {code}")
        kubectl(
            config,
            "apply",
            "-f",
            "-",
            stdin=POD
            % {"name": pod_name, "node": f"{name}-worker", "policy": "Never", "script": script},
        )
        pod = wait_phase(config, pod_name, phase)
        terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
        assert terminated["exitCode"] == code and terminated["reason"] == (
            "Completed" if code == 0 else "Error"
        )
        kubectl(config, "delete", "pod", pod_name)


def test_a_crashing_container_is_restarted_with_back_off(cluster: tuple[str, str]) -> None:
    name, config = cluster
    kubectl(
        config,
        "apply",
        "-f",
        "-",
        stdin=POD
        % {
            "name": "crasher",
            "node": f"{name}-worker",
            "policy": "Always",
            "script": json.dumps("exit 1"),
        },
    )

    def restarted() -> Any:
        status = get(config, "pod", "crasher").get("status", {}).get("containerStatuses") or [{}]
        return status[0] if status[0].get("restartCount", 0) >= 1 else None

    status = eventually(restarted, timeout=45)
    assert status["lastState"]["terminated"]["exitCode"] == 1
    waiting = eventually(
        lambda: (lambda s: s if "waiting" in s["state"] else None)(
            get(config, "pod", "crasher")["status"]["containerStatuses"][0]
        ),
        timeout=20,
    )
    assert waiting["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert "CrashLoopBackOff" in kubectl(config, "get", "pod", "crasher").stdout
    kubectl(config, "delete", "pod", "crasher")


WEB = """\
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  nodeName: %(node)s
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox
    command: ["sh", "-c", "echo line one; echo line two >&2; exec python3 -u -m http.server 8080"]
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_logs_exec_and_port_forward_through_the_api_server(cluster: tuple[str, str]) -> None:
    name, config = cluster
    kubectl(config, "apply", "-f", "-", stdin=WEB % {"node": f"{name}-worker"})
    try:
        wait_phase(config, "web", "Running")
        logs = eventually(
            lambda: (lambda out: out if "line two" in out else None)(
                kubectl(config, "logs", "web").stdout
            )
        )
        assert logs.startswith("line one\n") or "line one\n" in logs
        assert kubectl(config, "logs", "web", "--tail=1").stdout.count("\n") == 1
        follow = subprocess.Popen(
            ["kubectl", f"--kubeconfig={config}", "logs", "-f", "web"],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert follow.stdout is not None
            first = follow.stdout.readline()
            assert first in ("line one\n", "line two\n")
            assert follow.poll() is None  # still following the running container
        finally:
            follow.terminate()
            follow.wait(10)
            assert follow.stdout is not None
            follow.stdout.close()

        done = kubectl(
            config,
            "exec",
            "web",
            "--",
            "sh",
            "-c",
            "echo out $(hostname); echo err >&2; exit 3",
            check=False,
        )
        assert (done.returncode, done.stdout) == (3, "out web\n")
        assert "err\n" in done.stderr and "command terminated with exit code 3" in done.stderr
        piped = kubectl(
            config, "exec", "-i", "web", "--", "sh", "-c", "tr a-z A-Z", stdin="through stdin\n"
        )
        assert piped.stdout == "THROUGH STDIN\n"

        pid, fd = pty.fork()
        if pid == 0:
            os.execvp(
                "kubectl", ["kubectl", f"--kubeconfig={config}", "exec", "-it", "web", "--", "sh"]
            )
        os.write(fd, b"tty && exit 7\n")
        output = _read_until_closed(fd)
        os.close(fd)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 7, output
        assert "/dev/pts/" in output

        port = free_port()
        forward = subprocess.Popen(
            ["kubectl", f"--kubeconfig={config}", "port-forward", "pod/web", f"{port}:8080"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        try:
            assert forward.stdout is not None
            assert "Forwarding from 127.0.0.1" in forward.stdout.readline()
            for _ in range(3):  # several connections over one tunnel
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as answer:
                    assert b"Directory listing" in answer.read()
        finally:
            forward.terminate()
            forward.wait(10)
            assert forward.stdout is not None
            forward.stdout.close()
    finally:
        kubectl(config, "delete", "pod", "web", "--wait=false")


def _read_until_closed(fd: int, timeout: float = 15.0) -> str:
    chunks = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


PROBED = """\
apiVersion: v1
kind: Pod
metadata: {name: probed}
spec:
  nodeName: %(node)s
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: busybox
    command: ["python3", "-u", "-m", "http.server", "8080", "--directory", "/srv"]
    readinessProbe:
      httpGet: {path: /ready, port: 8080}
      periodSeconds: 1
      failureThreshold: 1
    volumeMounts: [{name: srv, mountPath: /srv}]
  - name: lively
    image: busybox
    command: ["sh", "-c", "touch /tmp/alive; sleep 3600"]
    livenessProbe:
      exec: {command: ["cat", "/tmp/alive"]}
      periodSeconds: 1
      failureThreshold: 2
    readinessProbe:
      tcpSocket: {port: 8080}
      periodSeconds: 1
  volumes:
  - {name: srv, emptyDir: {}}
"""


def test_readiness_and_liveness_probes(cluster: tuple[str, str]) -> None:
    name, config = cluster
    kubectl(config, "apply", "-f", "-", stdin=PROBED % {"node": f"{name}-worker"})
    try:

        def statuses() -> dict[str, Any]:
            pod = get(config, "pod", "probed")
            return {s["name"]: s for s in pod.get("status", {}).get("containerStatuses") or []}

        eventually(lambda: statuses().get("lively", {}).get("ready"), timeout=45)  # tcp: ready
        assert not statuses()["web"]["ready"]  # /ready is a 404 until the file exists
        assert "1/2" in kubectl(config, "get", "pod", "probed").stdout
        kubectl(config, "exec", "probed", "-c", "web", "--", "touch", "/srv/ready")
        eventually(lambda: statuses()["web"]["ready"], timeout=10)
        ready = {
            c["type"]: c["status"] for c in get(config, "pod", "probed")["status"]["conditions"]
        }
        assert ready["Ready"] == "True"

        kubectl(config, "exec", "probed", "-c", "lively", "--", "rm", "/tmp/alive")
        restarted = eventually(
            lambda: statuses()["lively"]["restartCount"] >= 1 or None, timeout=20
        )
        assert restarted
        assert statuses()["lively"]["lastState"]["terminated"]["exitCode"] == 137  # killed
    finally:
        kubectl(config, "delete", "pod", "probed", "--wait=false")


IMAGED = """\
apiVersion: v1
kind: Pod
metadata: {name: %(name)s}
spec:
  nodeName: %(node)s
  terminationGracePeriodSeconds: 1
  restartPolicy: Never
  containers:
  - name: app
    image: %(image)s
%(command)s
"""


def test_a_loaded_image_archive_is_the_containers_root(
    cluster: tuple[str, str], tmp_path: Path
) -> None:
    name, config = cluster
    worker = f"{name}-worker"
    docker, oci = tmp_path / "docker.tar", tmp_path / "oci.tar"
    busybox_archive(str(docker), "kintest/busybox:1.0")
    busybox_archive(str(oci), "kintest/oci-busybox:2.0", oci=True)
    for archive in (docker, oci):
        kin("load", "image-archive", str(archive), "--name", name, "--nodes", worker)
    images = kin("crictl", worker, "images").stdout
    assert "docker.io/kintest/busybox" in images and "docker.io/kintest/oci-busybox" in images
    refused = kin(
        "load", "image-archive", str(tmp_path / "missing.tar"), "--name", name, check=False
    )
    assert refused.returncode == 1 and "cannot read image archive" in refused.stderr

    script = 'command: ["sh", "-c", "cat /etc/os-release; ls /; test -e /etc/removed || echo whiteout; echo $IMAGE_GREETING"]'
    kubectl(
        config,
        "apply",
        "-f",
        "-",
        stdin=IMAGED
        % {
            "name": "in-image",
            "node": worker,
            "image": "kintest/busybox:1.0",
            "command": "    " + script,
        },
    )
    kubectl(
        config,
        "apply",
        "-f",
        "-",
        stdin=IMAGED
        % {"name": "image-cmd", "node": worker, "image": "kintest/oci-busybox:2.0", "command": ""},
    )
    try:
        wait_phase(config, "in-image", "Succeeded")
        logs = kubectl(config, "logs", "in-image").stdout.splitlines()
        assert logs[0] == 'PRETTY_NAME="kin test image kintest/busybox:1.0"'
        assert set(logs[1:-2]) == {
            "bin",
            "dev",
            "etc",
            "proc",
            "sys",
            "tmp",
        }  # the image's files only
        assert logs[-2:] == ["whiteout", "from the image"]
        wait_phase(config, "image-cmd", "Succeeded")
        assert (
            kubectl(config, "logs", "image-cmd").stdout == "default command in /tmp\n"
        )  # Cmd, WorkingDir
    finally:
        kubectl(config, "delete", "pod", "in-image", "image-cmd", "--wait=false")


def test_kubectl_run_attaches_to_the_pods_stdin_and_output(cluster: tuple[str, str]) -> None:
    name, config = cluster
    overrides = json.dumps({"apiVersion": "v1", "spec": {"nodeName": f"{name}-worker"}})
    run = kubectl(
        config, "run", "attached", "-i", "--rm", "--restart=Never", "--image=busybox",
        f"--overrides={overrides}", "--", "sh", "-c", 'read line; echo "got $line"; exit 4',
        stdin="hello\n", check=False, timeout=120,
    )  # fmt: skip
    assert "got hello" in run.stdout, run
    assert run.returncode == 4, run  # the container's exit code, through the attach
    eventually(lambda: kubectl(config, "get", "pod", "attached", check=False).returncode != 0)


def test_the_scheduler_places_pods_and_says_why_when_it_cannot(cluster: tuple[str, str]) -> None:
    name, config = cluster
    worker = f"{name}-worker"
    kubectl(config, "run", "anywhere", "--image=busybox", "--", "sleep", "3600")
    selected = json.dumps({"apiVersion": "v1", "spec": {"nodeSelector": {"tier": "frontend"}}})
    kubectl(config, "run", "frontend", "--image=busybox", f"--overrides={selected}",
            "--", "sleep", "3600")  # fmt: skip
    nowhere = json.dumps({"apiVersion": "v1", "spec": {"nodeSelector": {"disk": "ssd"}}})
    kubectl(config, "run", "nowhere", "--image=busybox", f"--overrides={nowhere}",
            "--", "sleep", "3600")  # fmt: skip
    try:
        for pod in ("anywhere", "frontend"):  # the control plane is tainted: the worker
            assert wait_phase(config, pod, "Running")["spec"]["nodeName"] == worker
        described = kubectl(config, "describe", "pod", "anywhere").stdout
        assert f"Successfully assigned default/anywhere to {worker}" in described
        assert "default-scheduler" in described

        def failed() -> str | None:
            text = kubectl(config, "describe", "pod", "nowhere").stdout
            return text if "FailedScheduling" in text else None

        text = eventually(failed, timeout=30)
        assert (
            "0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, "
            "1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }."
        ) in " ".join(text.split())
        pending = get(config, "pod", "nowhere")
        assert pending["status"]["phase"] == "Pending" and "nodeName" not in pending["spec"]
        condition = pending["status"]["conditions"][0]
        assert (condition["type"], condition["status"], condition["reason"]) == (
            "PodScheduled",
            "False",
            "Unschedulable",
        )
    finally:
        kubectl(config, "delete", "pod", "anywhere", "frontend", "nowhere", "--wait=false")
