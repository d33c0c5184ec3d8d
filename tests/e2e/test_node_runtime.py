"""Every node runs kin's CRI runtime under its supervisor; crictl looks inside, as in the seed."""

from __future__ import annotations

import functools
import json
import os
import re
import signal
from pathlib import Path

from kin.cluster.state import cluster_dir, node_dir
from kin.cluster.zygote import zygote_record
from kin.errors import CRIError
from kin.node.client import request
from kin.runtime.client import CRIClient
from kin.runtime.cri import api_pb2 as cri
from kin.testing.clusters import kin
from kin.testing.runtime import bridge_conflist, container_config, pod_config
from kin.testing.waiting import eventually

BRIDGE = bridge_conflist()


def node_socket(state: Path) -> str:
    return str(state / "fs/run/containerd/containerd.sock")


def unit_pid(state: Path, unit: str) -> int | None:
    """The unit's PID in the node's PID namespace, None while it is not running."""
    pid = request(str(state / "supervisor.sock"), "status")["units"][unit]["pid"]
    return int(pid) if pid else None


def runtime_pid(state: Path) -> int | None:
    return unit_pid(state, "kin-runtime")


def runtime_listed(node: str) -> bool:
    return f"kin.runtime --node {node}" in kin("exec", node, "--", "ps", "-eo", "args").stdout


def answers(client: CRIClient) -> bool:
    try:
        client.check()
    except CRIError:
        return False  # still starting: the node boots its runtime in the background
    return True


def start_web_pod(socket: str, name: str = "web") -> tuple[str, str]:
    with CRIClient(socket) as client:
        eventually(lambda: answers(client), timeout=15)
        sandbox = pod_config(Path("/unused"), name)
        sandbox.log_directory = f"/var/log/pods/default_{name}_0"
        # Made as crictl makes pods: without the kubelet's pod-UID label, which would make
        # the node's kubelet stop it as a pod it never asked for.
        del sandbox.labels["io.kubernetes.pod.uid"]
        sandbox_id = client.runtime.RunPodSandbox(
            cri.RunPodSandboxRequest(config=sandbox)
        ).pod_sandbox_id
        ref = client.images.PullImage(
            cri.PullImageRequest(image=cri.ImageSpec(image="nginx"))
        ).image_ref
        app = container_config(
            "app", "sh", "-c", "echo hello from $(hostname); sleep 300", image=ref
        )
        app.labels.update(
            {"io.kubernetes.pod.name": name, "io.kubernetes.pod.namespace": "default"}
        )
        request_ = cri.CreateContainerRequest(
            pod_sandbox_id=sandbox_id, config=app, sandbox_config=sandbox
        )
        container_id = client.runtime.CreateContainer(request_).container_id
        client.runtime.StartContainer(cri.StartContainerRequest(container_id=container_id))
        return sandbox_id, container_id


def test_each_node_runs_a_runtime_that_crictl_talks_to(two_nodes: str) -> None:
    for role in ("control-plane", "worker"):
        node = f"{two_nodes}-{role}"
        eventually(functools.partial(runtime_listed, node))  # started as the node boots
        version = kin("exec", node, "--", "crictl", "version").stdout  # crictl inside the node
        assert "RuntimeName:  kin\n" in version and "Version:  0.1.0\n" in version
    worker = f"{two_nodes}-worker"
    config = kin("exec", worker, "--", "cat", "/etc/crictl.yaml").stdout
    assert "runtime-endpoint: unix:///run/containerd/containerd.sock" in config
    assert not os.path.exists("/etc/crictl.yaml")  # the node's own /etc layer, not the host's
    kin("exec", worker, "--", "touch", f"/etc/kin-{two_nodes}")
    assert not os.path.exists(f"/etc/kin-{two_nodes}")
    info = json.loads(kin("crictl", f"{two_nodes}-worker", "info").stdout)
    network = info["status"]["conditions"][1]
    assert (network["type"], network["status"]) == ("NetworkReady", False)
    assert (
        oct(os.stat(node_socket(Path(node_dir(two_nodes, f"{two_nodes}-worker")))).st_mode)[-3:]
        == "600"
    )


def test_a_pod_on_a_node_as_crictl_shows_it_and_it_survives_its_runtime(two_nodes: str) -> None:
    node = f"{two_nodes}-worker"
    state = Path(node_dir(two_nodes, node))
    (state / "fs/etc/cni/net.d/10-bridge.conflist").write_text(json.dumps(BRIDGE))
    (state / "fs/var/log/pods/default_web_0/app").mkdir(parents=True)
    sandbox_id, container_id = start_web_pod(node_socket(state))
    runtime_log = (state / "fs/var/log/kin/kin-runtime.log").read_text()
    assert f"ADD bridge {sandbox_id}/eth0: exit 0 (in the runtime)" in runtime_log  # no process

    pods = kin("crictl", node, "pods").stdout.splitlines()
    assert re.match(r"POD ID\s+CREATED\s+STATE\s+NAME\s+NAMESPACE\s+ATTEMPT\s+RUNTIME$", pods[0])
    assert pods[1].split()[0] == sandbox_id[:13] and " Ready " in pods[1] and " web " in pods[1]
    ps = kin("exec", node, "--", "crictl", "ps").stdout.splitlines()
    assert ps[1].split()[0] == container_id[:13] and " Running " in ps[1]
    logs = eventually(lambda: kin("crictl", node, "logs", container_id[:13]).stdout or None)
    assert logs == "hello from web\n"
    address = kin(
        "crictl", node, "exec", "-s", container_id[:13], "ip", "-4", "-o", "addr", "show", "eth0"
    ).stdout
    assert "10.244.1.2/24" in address
    tree = kin("exec", node, "--", "ps", "-wweo", "pid,ppid,args").stdout
    shim = re.search(rf"^\s*(\d+)\s+1\s+kin\.runtime\.shim -id {sandbox_id}$", tree, re.M)
    assert shim, tree
    assert re.search(rf"^\s*\d+\s+{shim[1]}\s+pause -P$", tree, re.M), tree
    assert re.search(rf"^\s*\d+\s+{shim[1]}\s+sh -c echo hello", tree, re.M), tree

    before = runtime_pid(state)
    kin("exec", node, "--", "kill", "-9", str(before))
    eventually(lambda: runtime_pid(state) not in (None, before), timeout=15)  # restarted
    again = eventually(lambda: kin("crictl", node, "pods", check=False).stdout or None, timeout=15)
    assert len(again.splitlines()) == 2 and " Ready " in again.splitlines()[1]
    assert " Running " in kin("crictl", node, "ps").stdout
    kin("crictl", node, "stopp", sandbox_id[:13])
    kin("crictl", node, "rmp", sandbox_id[:13])
    assert len(kin("crictl", node, "pods").stdout.splitlines()) == 1
    assert not [p for p in (state / "fs/run/netns").iterdir()]


def test_node_daemons_and_shims_fork_from_the_zygote_and_start_without_it(
    two_nodes: str,
) -> None:
    node = f"{two_nodes}-worker"
    state = Path(node_dir(two_nodes, node))
    (state / "fs/etc/cni/net.d/10-bridge.conflist").write_text(json.dumps(BRIDGE))
    for name in ("web", "web2"):
        (state / f"fs/var/log/pods/default_{name}_0/app").mkdir(parents=True)
    sandbox_id, _ = start_web_pod(node_socket(state))
    log = (Path(cluster_dir(two_nodes)) / "zygote.log").read_text()
    for unit, command in (("kin-runtime", "kin.runtime"), ("kubelet", "kin.kubelet")):
        started = f"started {command} --node {node} "
        assert re.search(rf" zygote: {started}.* as pid {unit_pid(state, unit)}$", log, re.M), log
    assert f"started kin.runtime.shim --in-place /run/kin/runtime/sandboxes/{sandbox_id}" in log

    zygote = zygote_record(two_nodes)
    assert zygote is not None and zygote.alive()
    os.kill(zygote.pid, signal.SIGKILL)
    before = runtime_pid(state)
    kin("exec", node, "--", "kill", "-9", str(before))
    eventually(lambda: runtime_pid(state) not in (None, before), timeout=15)
    other_id, _ = start_web_pod(node_socket(state), "web2")  # its shim runs as a command
    assert " Running " in kin("crictl", node, "ps", "--pod", other_id[:13]).stdout
    supervisor_log = (state / "fs/var/log/kin/supervisor.log").read_text()
    assert "unit kin-runtime: zygote /run/kin/zygote.sock unavailable" in supervisor_log
