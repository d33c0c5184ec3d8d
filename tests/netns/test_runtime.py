"""kin's CRI runtime, over its real gRPC socket, in a throwaway node network namespace.

Sandboxes are checked in the kernel: pause's namespaces by inode, its PID inside its
own PID namespace, the pinned network namespace, the IP host-local handed out and
released. Containers are real processes whose logs, exits and execs are read back.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import time
from pathlib import Path
from typing import Any

import grpc
import pytest

from kin.linux import ns
from kin.linux.capabilities import DEFAULT, NAMES
from kin.linux.proc import process_state
from kin.runtime.cri import api_pb2 as cri
from kin.testing.runtime import RuntimeUnderTest, container_config, pod_config, rpc_code
from kin.testing.waiting import eventually

NAMESPACES = ("ipc", "mnt", "net", "pid", "uts")
CAP_BOUNDING = re.compile(r"^CapBnd:\s+([0-9a-f]+)$", re.M)


def ns_inode(pid: int, kind: str) -> int:
    return os.stat(f"/proc/{pid}/ns/{kind}").st_ino


def pause_pid(runtime: RuntimeUnderTest, sandbox_id: str) -> int:
    info = json.loads(runtime.sandbox_status(sandbox_id, verbose=True).info["info"])
    return int(info["pid"])


def container_pid(runtime: RuntimeUnderTest, container_id: str) -> int:
    request = cri.ContainerStatusRequest(container_id=container_id, verbose=True)
    return int(json.loads(runtime.cri.runtime.ContainerStatus(request).info["info"])["pid"])


def test_version_and_status_say_what_the_kubelet_requires(runtime: RuntimeUnderTest) -> None:
    version = runtime.cri.check()
    assert (version.version, version.runtime_name, version.runtime_api_version) == (
        "0.1.0",
        "kin",
        "v1",
    )
    assert version.runtime_version
    conditions = runtime.cri.runtime.Status(cri.StatusRequest()).status.conditions
    assert [(c.type, c.status) for c in conditions] == [
        ("RuntimeReady", True),
        ("NetworkReady", True),
    ]


def test_network_is_not_ready_until_a_cni_config_exists(netns: str, tmp_path: Path) -> None:
    under_test = RuntimeUnderTest(netns, tmp_path).start()
    try:
        status = under_test.cri.runtime.Status(cri.StatusRequest()).status
        network = status.conditions[1]
        assert (network.type, network.status, network.reason) == (
            "NetworkReady",
            False,
            "NetworkPluginNotReady",
        )
        assert "Network plugin returns error" in network.message
        config = pod_config(tmp_path)
        assert rpc_code(lambda: under_test.run_pod(config)) == grpc.StatusCode.UNKNOWN
        under_test.write_network()  # installed later, as flannel's DaemonSet does
        assert under_test.cri.runtime.Status(cri.StatusRequest()).status.conditions[1].status
        assert under_test.run_pod(config)
    finally:
        under_test.clean()


def test_a_sandbox_is_pause_in_namespaces_of_its_own(
    runtime: RuntimeUnderTest, tmp_path: Path
) -> None:
    config = pod_config(tmp_path, "web")
    sandbox_id = runtime.run_pod(config)
    status = runtime.sandbox_status(sandbox_id).status
    assert status.state == cri.SANDBOX_READY
    assert status.network.ip.startswith("10.88.0.")
    assert status.metadata == config.metadata
    assert dict(status.labels) == dict(config.labels)
    assert dict(status.annotations) == dict(config.annotations)
    assert status.linux.namespaces.options.pid == cri.POD  # echoed back, as the kubelet needs
    pid = pause_pid(runtime, sandbox_id)
    proc_status = Path(f"/proc/{pid}/status").read_text()
    assert re.search(r"^NSpid:\s+\d+\s+1$", proc_status, re.M), "pause is PID 1 of its namespace"
    assert Path(f"/proc/{pid}/cmdline").read_bytes() == b"pause\0-P\0"
    assert int(re.search(r"^VmRSS:\s+(\d+) kB", proc_status, re.M)[1]) < 1024  # type: ignore[index]
    runtime_pid = runtime.process.pid if runtime.process else 0
    for kind in NAMESPACES:
        assert ns_inode(pid, kind) != ns_inode(os.getpid(), kind), kind
    # The node is where the runtime runs: its network namespace differs from the pod's too.
    node_child = next(iter(Path(f"/proc/{runtime_pid}/task").iterdir())).name
    assert ns_inode(int(node_child), "net") != ns_inode(pid, "net")
    pins = list((tmp_path / "netns").iterdir())
    assert [p.name[:4] for p in pins] == ["cni-"]
    assert os.stat(pins[0]).st_ino == ns_inode(pid, "net")
    assert (tmp_path / "ipam" / "kintest" / status.network.ip).read_text().startswith(sandbox_id)


def test_stop_releases_the_network_and_remove_forgets_the_sandbox(
    runtime: RuntimeUnderTest, tmp_path: Path
) -> None:
    sandbox_id = runtime.run_pod(pod_config(tmp_path))
    pid = pause_pid(runtime, sandbox_id)
    ip = runtime.sandbox_status(sandbox_id).status.network.ip
    for _ in range(2):  # idempotent
        runtime.cri.runtime.StopPodSandbox(
            cri.StopPodSandboxRequest(pod_sandbox_id=sandbox_id[:12])
        )
    status = runtime.sandbox_status(sandbox_id).status
    assert status.state == cri.SANDBOX_NOTREADY
    assert not status.network.ip
    assert not list((tmp_path / "netns").iterdir())
    assert process_state(pid) in (None, "Z")
    assert not (tmp_path / "ipam" / "kintest" / ip).exists()  # released
    again = runtime.run_pod(pod_config(tmp_path, "second"))
    for _ in range(2):
        runtime.cri.runtime.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=sandbox_id))
    assert rpc_code(lambda: runtime.sandbox_status(sandbox_id)) == grpc.StatusCode.NOT_FOUND
    assert [
        s.id for s in runtime.cri.runtime.ListPodSandbox(cri.ListPodSandboxRequest()).items
    ] == [again]


def test_containers_share_the_pods_namespaces_and_pause_reaps_orphans(
    runtime: RuntimeUnderTest, tmp_path: Path
) -> None:
    sandbox = pod_config(tmp_path, "shared")
    sandbox_id = runtime.run_pod(sandbox)
    image = runtime.pull()
    serve = (
        "import socket; s = socket.create_server(('127.0.0.1', 8080)); s.accept()[0].send(b'pong')"
    )
    server = container_config("server", "python3", "-c", serve, image=image)
    client = container_config("client", "sh", "-c", "(sleep 0.2 &) ; sleep 300", image=image)
    server_id = runtime.start_container(sandbox_id, server, sandbox)
    client_id = runtime.start_container(sandbox_id, client, sandbox)
    pause = pause_pid(runtime, sandbox_id)
    for container_id in (server_id, client_id):
        pid = container_pid(runtime, container_id)
        for kind in ("ipc", "net", "pid", "uts"):
            assert ns_inode(pid, kind) == ns_inode(pause, kind), kind
        assert ns_inode(pid, "mnt") != ns_inode(pause, "mnt")
    fetch = "import socket; print(socket.create_connection(('127.0.0.1', 8080)).recv(9).decode())"
    reply = eventually(lambda: runtime.exec(client_id, "python3", "-c", fetch).stdout)
    assert reply == b"pong\n"  # over the pod's own loopback
    ps = runtime.exec(client_id, "ps", "-o", "pid,stat,comm").stdout.decode()
    assert re.search(r"^\s*1\s+\S+\s+pause$", ps, re.M), ps
    time.sleep(0.4)  # the orphaned sleep ends and is reaped by pause, PID 1
    ps = runtime.exec(client_id, "ps", "-o", "pid,stat,comm").stdout.decode()
    assert not re.search(r"\sZ", ps), ps
    assert runtime.exec(client_id, "hostname").stdout == b"shared\n"


def test_own_pid_namespace_by_default(runtime: RuntimeUnderTest, tmp_path: Path) -> None:
    sandbox = pod_config(tmp_path, pid=cri.CONTAINER)
    sandbox_id = runtime.run_pod(sandbox)
    config = container_config("app", "sleep", "300", image=runtime.pull(), pid=cri.CONTAINER)
    container_id = runtime.start_container(sandbox_id, config, sandbox)
    pid = container_pid(runtime, container_id)
    assert ns_inode(pid, "pid") != ns_inode(pause_pid(runtime, sandbox_id), "pid")
    assert runtime.exec(container_id, "ps", "-o", "pid,comm").stdout.decode().split()[2:4] == [
        "1",
        "sleep",
    ]


def test_logs_exit_codes_and_reasons(runtime: RuntimeUnderTest, tmp_path: Path) -> None:
    sandbox = pod_config(tmp_path)
    sandbox_id = runtime.run_pod(sandbox)
    image = runtime.pull()
    script = "echo out; echo err >&2; printf partial; echo $KIN_TEST; exit 3"
    failing = runtime.start_container(
        sandbox_id, container_config("fails", "sh", "-c", script, image=image), sandbox
    )
    status = runtime.wait_exited(failing)
    assert (status.exit_code, status.reason) == (3, "Error")
    assert status.finished_at >= status.started_at > status.created_at > 0
    lines = Path(status.log_path).read_text().splitlines()
    records = [line.split(" ", 3) for line in lines]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", r[0]) for r in records)
    # Each stream in order; the two pipes are read as they come, so they may interleave.
    assert [r[2:] for r in records if r[1] == "stdout"] == [["F", "out"], ["F", "partialyes"]]
    assert [r[2:] for r in records if r[1] == "stderr"] == [["F", "err"]]
    ok = runtime.start_container(sandbox_id, container_config("ok", "true", image=image), sandbox)
    assert (runtime.wait_exited(ok).exit_code, runtime.wait_exited(ok).reason) == (0, "Completed")


def test_a_command_that_does_not_exist_is_a_start_error(
    runtime: RuntimeUnderTest, tmp_path: Path
) -> None:
    sandbox = pod_config(tmp_path)
    sandbox_id = runtime.run_pod(sandbox)
    config = container_config("bad", "no-such-command", image=runtime.pull())
    with pytest.raises(grpc.RpcError) as caught:
        runtime.start_container(sandbox_id, config, sandbox)
    assert "executable file not found in $PATH" in str(caught.value.details())
    containers = runtime.cri.runtime.ListContainers(cri.ListContainersRequest()).containers
    status = runtime.container_status(containers[0].id)
    assert (status.state, status.exit_code, status.reason) == (
        cri.CONTAINER_EXITED,
        128,
        "StartError",
    )
    assert "no-such-command" in status.message
    no_command = container_config("empty", image=runtime.pull())
    request = cri.CreateContainerRequest(
        pod_sandbox_id=sandbox_id, config=no_command, sandbox_config=sandbox
    )
    assert (
        rpc_code(lambda: runtime.cri.runtime.CreateContainer(request))
        == grpc.StatusCode.INVALID_ARGUMENT
    )


def test_exec_sync_returns_output_and_exit_code_and_times_out(
    runtime: RuntimeUnderTest, tmp_path: Path
) -> None:
    sandbox = pod_config(tmp_path)
    sandbox_id = runtime.run_pod(sandbox)
    container_id = runtime.start_container(
        sandbox_id, container_config("app", "sleep", "300", image=runtime.pull()), sandbox
    )
    result = runtime.exec(container_id[:10], "sh", "-c", "echo $KIN_TEST; echo oops >&2; exit 7")
    assert (result.stdout, result.stderr, result.exit_code) == (b"yes\n", b"oops\n", 7)
    address = runtime.exec(container_id, "ip", "-4", "-o", "addr", "show", "eth0").stdout.decode()
    assert runtime.sandbox_status(sandbox_id).status.network.ip in address
    started = time.monotonic()
    assert (
        rpc_code(lambda: runtime.exec(container_id, "sleep", "10", timeout=1))
        == grpc.StatusCode.DEADLINE_EXCEEDED
    )
    assert time.monotonic() - started < 5


def test_stop_sends_sigterm_then_sigkill_after_the_grace_period(
    runtime: RuntimeUnderTest, tmp_path: Path
) -> None:
    sandbox = pod_config(tmp_path, pid=cri.CONTAINER)
    sandbox_id = runtime.run_pod(sandbox)
    image = runtime.pull()
    polite = container_config(
        "polite",
        "sh",
        "-c",
        "trap 'exit 0' TERM; while true; do sleep 0.1; done",
        image=image,
        pid=cri.CONTAINER,
    )
    stubborn = container_config("stubborn", "sleep", "300", image=image, pid=cri.CONTAINER)
    polite_id = runtime.start_container(sandbox_id, polite, sandbox)
    stubborn_id = runtime.start_container(sandbox_id, stubborn, sandbox)
    time.sleep(0.2)  # let the shell install its trap
    started = time.monotonic()
    runtime.cri.runtime.StopContainer(cri.StopContainerRequest(container_id=polite_id, timeout=10))
    assert time.monotonic() - started < 3
    assert runtime.container_status(polite_id).exit_code == 0
    started = time.monotonic()
    # sleep is PID 1 of its PID namespace and has no handler: SIGTERM does nothing to it.
    runtime.cri.runtime.StopContainer(cri.StopContainerRequest(container_id=stubborn_id, timeout=1))
    assert 1 <= time.monotonic() - started < 4
    status = runtime.container_status(stubborn_id)
    assert (status.state, status.exit_code) == (cri.CONTAINER_EXITED, 128 + signal.SIGKILL)
    runtime.cri.runtime.StopContainer(cri.StopContainerRequest(container_id=stubborn_id, timeout=1))
    runtime.cri.runtime.RemoveContainer(cri.RemoveContainerRequest(container_id=stubborn_id))
    runtime.cri.runtime.RemoveContainer(cri.RemoveContainerRequest(container_id=stubborn_id))
    assert rpc_code(lambda: runtime.container_status(stubborn_id)) == grpc.StatusCode.NOT_FOUND


def test_pods_outlive_a_runtime_killed_with_sigkill(
    runtime: RuntimeUnderTest, tmp_path: Path
) -> None:
    sandbox = pod_config(tmp_path)
    sandbox_id = runtime.run_pod(sandbox)
    ticker = container_config(
        "ticker",
        "sh",
        "-c",
        "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.05; done",
        image=runtime.pull(),
    )
    container_id = runtime.start_container(sandbox_id, ticker, sandbox)
    log = Path(runtime.container_status(container_id).log_path)
    eventually(lambda: "tick 2" in log.read_text())
    runtime.kill(signal.SIGKILL)
    time.sleep(0.3)
    runtime.start()
    assert runtime.sandbox_status(sandbox_id).status.state == cri.SANDBOX_READY
    assert runtime.container_status(container_id).state == cri.CONTAINER_RUNNING
    assert len(runtime.cri.runtime.ListPodSandbox(cri.ListPodSandboxRequest()).items) == 1
    runtime.cri.runtime.StopContainer(
        cri.StopContainerRequest(container_id=container_id, timeout=0)
    )
    status = runtime.container_status(container_id)
    assert (status.state, status.exit_code) == (cri.CONTAINER_EXITED, 137)
    numbers = [int(line.rsplit(" ", 1)[1]) for line in log.read_text().splitlines()]
    assert numbers == list(range(len(numbers))) and len(numbers) > 6  # no line lost meanwhile


def test_after_a_reboot_each_pod_gets_its_address_back(
    runtime: RuntimeUnderTest, tmp_path: Path
) -> None:
    """A reboot empties /run (records, pins) but not host-local's store: the runtime frees
    what the lost sandboxes held and hands each pod its own address again."""
    configs = [pod_config(tmp_path, name) for name in ("first", "second", "third")]
    before = {}
    for config in configs:
        sandbox_id = runtime.run_pod(config)
        before[config.metadata.uid] = runtime.sandbox_status(sandbox_id).status.network.ip
    ipam = tmp_path / "ipam" / "kintest"
    runtime.reboot()
    assert runtime.cri.runtime.ListPodSandbox(cri.ListPodSandboxRequest()).items == []
    assert not any((ipam / ip).exists() for ip in before.values())  # released at load
    newcomer = runtime.run_pod(pod_config(tmp_path, "newcomer"))
    assert runtime.sandbox_status(newcomer).status.network.ip not in before.values()
    for config in reversed(configs):  # in another order than first: no luck involved
        config.metadata.attempt = 1
        sandbox_id = runtime.run_pod(config)
        ip = runtime.sandbox_status(sandbox_id).status.network.ip
        assert ip == before[config.metadata.uid]
        assert (ipam / ip).read_text().startswith(sandbox_id)
    runtime.cri.runtime.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=newcomer))
    runtime.reboot()  # a removed sandbox's pod is forgotten; the others are kept again
    remembered = json.loads((tmp_path / "root" / "pod-addresses.json").read_text())
    assert {uid: entry["ips"][0] for uid, entry in remembered.items()} == before


def test_bad_requests_get_clear_errors(runtime: RuntimeUnderTest, tmp_path: Path) -> None:
    rt = runtime.cri.runtime
    empty = cri.RunPodSandboxRequest(config=cri.PodSandboxConfig())
    assert rpc_code(lambda: rt.RunPodSandbox(empty)) == grpc.StatusCode.INVALID_ARGUMENT
    config = pod_config(tmp_path)
    runtime.run_pod(config)
    with pytest.raises(grpc.RpcError) as caught:
        runtime.run_pod(config)  # a kubelet retry of the same attempt
    assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert "failed to reserve sandbox name" in str(caught.value.details())
    handler = cri.RunPodSandboxRequest(config=pod_config(tmp_path, "x"), runtime_handler="kata")
    assert rpc_code(lambda: rt.RunPodSandbox(handler)) == grpc.StatusCode.INVALID_ARGUMENT
    unknown = cri.ContainerStatusRequest(container_id="feedbeef")
    assert rpc_code(lambda: rt.ContainerStatus(unknown)) == grpc.StatusCode.NOT_FOUND
    create = cri.CreateContainerRequest(
        pod_sandbox_id="feedbeef", config=container_config("c", "true"), sandbox_config=config
    )
    assert rpc_code(lambda: rt.CreateContainer(create)) == grpc.StatusCode.NOT_FOUND
    no_image = cri.ImageStatusRequest(image=cri.ImageSpec(image="never-pulled"))
    assert not runtime.cri.images.ImageStatus(no_image).HasField("image")
    assert rt.Version(cri.VersionRequest()).version == "0.1.0"  # still serving


def test_host_network_pods_use_the_nodes_network(runtime: RuntimeUnderTest, tmp_path: Path) -> None:
    sandbox = pod_config(tmp_path, "hostnet", host_network=True)
    sandbox_id = runtime.run_pod(sandbox)
    status = runtime.sandbox_status(sandbox_id).status
    assert not status.HasField("network") or not status.network.ip
    assert status.linux.namespaces.options.network == cri.NODE
    pid = pause_pid(runtime, sandbox_id)
    assert runtime.process is not None
    assert ns_inode(pid, "net") == ns_inode(runtime.process.pid, "net")
    assert ns_inode(pid, "uts") == ns_inode(runtime.process.pid, "uts")
    assert not list((tmp_path / "netns").iterdir())


def test_a_container_on_the_host_image_never_writes_the_hosts_files(
    runtime: RuntimeUnderTest, tmp_path: Path
) -> None:
    sandbox = pod_config(tmp_path)
    sandbox_id = runtime.run_pod(sandbox)
    volume = tmp_path / "volume"
    volume.mkdir()
    (volume / "data.txt").write_text("from the volume\n")
    marker = f"kin-test-{sandbox_id[:12]}"
    config = container_config(
        "writer", "sh", "-c", f"echo changed > /etc/{marker} && mkdir /{marker} && sleep 300",
        image=runtime.pull(),
    )  # fmt: skip
    config.mounts.append(
        cri.Mount(container_path=f"/{marker}-mnt/data", host_path=str(volume), readonly=True)
    )
    container_id = runtime.start_container(sandbox_id, config, sandbox)
    eventually(lambda: runtime.exec(container_id, "cat", f"/etc/{marker}").stdout == b"changed\n")
    assert (
        runtime.exec(container_id, "cat", f"/{marker}-mnt/data/data.txt").stdout
        == b"from the volume\n"
    )
    assert runtime.exec(container_id, "touch", f"/{marker}-mnt/data/x").exit_code != 0  # read-only
    assert runtime.exec(container_id, "test", "-d", f"/{marker}").exit_code == 0
    for path in (f"/etc/{marker}", f"/{marker}", f"/{marker}-mnt"):
        assert not os.path.lexists(path), f"{path} appeared on the host"
    assert (
        runtime.exec(container_id, "test", "-f", "/etc/os-release").exit_code == 0
    )  # node's files


def test_pods_and_containers_get_cgroups_with_their_limits(
    runtime: RuntimeUnderTest, tmp_path: Path
) -> None:
    sandbox = pod_config(tmp_path)
    sandbox_id = runtime.run_pod(sandbox)
    config = container_config("limited", "sleep", "300", image=runtime.pull())
    config.linux.resources.memory_limit_in_bytes = 64 * 1024 * 1024
    config.linux.resources.cpu_period = 100_000
    config.linux.resources.cpu_quota = 50_000
    container_id = runtime.start_container(sandbox_id, config, sandbox)
    pid = container_pid(runtime, container_id)
    groups = dict(
        line.split(":", 2)[1:] for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    )
    uid = sandbox.metadata.uid
    if "memory" not in groups:
        pytest.skip("no cgroup v1 memory controller on this machine")
    memory = groups["memory"]
    assert memory.endswith(f"/kin-{runtime.node_netns}/pod{uid}/{container_id[:12]}")
    limit = Path("/sys/fs/cgroup/memory") / memory.lstrip("/") / "memory.limit_in_bytes"
    assert limit.read_text().strip() == str(64 * 1024 * 1024)
    quota = Path("/sys/fs/cgroup/cpu") / groups["cpu"].lstrip("/") / "cpu.cfs_quota_us"
    assert quota.read_text().strip() == "50000"
    pause_groups = Path(f"/proc/{pause_pid(runtime, sandbox_id)}/cgroup").read_text()
    assert f"/kin-{runtime.node_netns}/pod{uid}\n" in pause_groups
    stats = runtime.cri.runtime.ContainerStats(
        cri.ContainerStatsRequest(container_id=container_id)
    ).stats
    assert stats.memory.working_set_bytes.value > 0
    runtime.cri.runtime.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=sandbox_id))
    assert not limit.parent.exists() and not limit.parent.parent.exists()


def test_capabilities_are_containerds_defaults_unless_privileged(
    runtime: RuntimeUnderTest, tmp_path: Path
) -> None:
    sandbox = pod_config(tmp_path)
    sandbox_id = runtime.run_pod(sandbox)
    image = runtime.pull()

    def bounding(container_id: str, process: str = "1") -> int:
        found = CAP_BOUNDING.search(
            runtime.exec(container_id, "cat", f"/proc/{process}/status").stdout.decode()
        )
        assert found is not None
        return int(found[1], 16)

    tries = "ip link set lo mtu 1400 2>/dev/null && echo allowed || echo denied; exec sleep 300"
    plain = container_config("plain", "sh", "-c", tries, image=image, pid=cri.CONTAINER)
    admin = container_config("admin", "sleep", "300", image=image, pid=cri.CONTAINER)
    admin.linux.security_context.capabilities.add_capabilities.append("NET_ADMIN")
    admin.linux.security_context.capabilities.drop_capabilities.append("KILL")
    privileged = container_config("privileged", "sleep", "300", image=image, pid=cri.CONTAINER)
    privileged.linux.security_context.privileged = True
    ids = {
        c.metadata.name: runtime.start_container(sandbox_id, c, sandbox)
        for c in (plain, admin, privileged)
    }
    default = sum(1 << NAMES.index(name) for name in DEFAULT)
    assert bounding(ids["plain"]) == default
    net_admin, kill = 1 << NAMES.index("NET_ADMIN"), 1 << NAMES.index("KILL")
    assert bounding(ids["admin"]) == (default | net_admin) & ~kill
    assert bounding(ids["admin"], "self") == (default | net_admin) & ~kill  # exec'd as it runs
    own = CAP_BOUNDING.search(Path("/proc/self/status").read_text())
    assert own is not None
    assert bounding(ids["privileged"]) == int(own[1], 16)
    # Without NET_ADMIN, a container cannot change the pod's network.
    log = Path(runtime.container_status(ids["plain"]).log_path)
    assert eventually(lambda: log.read_text() or None).endswith(" stdout F denied\n")
    unknown = container_config("typo", "sleep", "1", image=image)
    unknown.linux.security_context.capabilities.add_capabilities.append("NET_ADMINN")
    request = cri.CreateContainerRequest(
        pod_sandbox_id=sandbox_id, config=unknown, sandbox_config=sandbox
    )
    with pytest.raises(grpc.RpcError) as caught:
        runtime.cri.runtime.CreateContainer(request)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "unknown capability 'NET_ADMINN'" in str(caught.value.details())


def test_a_host_image_container_sees_neither_the_nodes_state_nor_its_devices(
    runtime: RuntimeUnderTest, tmp_path: Path
) -> None:
    sandbox = pod_config(tmp_path)
    sandbox_id = runtime.run_pod(sandbox)
    config = container_config("app", "sleep", "300", image=runtime.pull())
    config.mounts.append(
        cri.Mount(container_path="/var/run/secrets/kin-test", host_path=str(tmp_path / "logs"))
    )
    container_id = runtime.start_container(sandbox_id, config, sandbox)
    devices = set(runtime.exec(container_id, "ls", "/dev").stdout.decode().split())
    assert {"null", "zero", "random", "urandom", "tty", "pts", "shm"} <= devices
    assert not any(name.startswith(("sd", "vd", "nvme", "loop")) for name in devices), devices
    assert runtime.exec(container_id, "touch", "/sys/fs/cgroup/memory/kin-escape").exit_code != 0
    # /var/run is a symlink to /run: the volume lands inside the container, not on the node.
    assert runtime.exec(container_id, "test", "-d", "/run/secrets/kin-test").exit_code == 0
    assert not Path("/run/secrets/kin-test").exists()
    started = time.monotonic()
    assert (
        rpc_code(lambda: runtime.exec(container_id, "sh", "-c", "sleep 30", timeout=1))
        == grpc.StatusCode.DEADLINE_EXCEEDED
    )
    assert time.monotonic() - started < 5
    time.sleep(0.3)
    processes = runtime.exec(container_id, "ps", "-eo", "args").stdout.decode()
    assert "sleep 30" not in processes.splitlines(), processes  # the timed-out command is gone too


def test_run_as_user_group_and_a_read_only_root(runtime: RuntimeUnderTest, tmp_path: Path) -> None:
    sandbox = pod_config(tmp_path)
    sandbox_id = runtime.run_pod(sandbox)
    config = container_config("user", "sleep", "300", image=runtime.pull(), pid=cri.CONTAINER)
    security = config.linux.security_context
    security.run_as_user.value = 1234
    security.run_as_group.value = 2345
    security.supplemental_groups.append(3456)
    security.readonly_rootfs = True
    container_id = runtime.start_container(sandbox_id, config, sandbox)
    for process in ("1", "self"):  # the container, and a process exec'd into it
        status = runtime.exec(container_id, "cat", f"/proc/{process}/status").stdout.decode()
        assert re.search(r"^Uid:\s+1234\s", status, re.M), status
        assert re.search(r"^Gid:\s+2345\s", status, re.M), status
        assert re.search(r"^Groups:\s+3456\s*$", status, re.M), status
    cgroups = [runtime.exec(container_id, "cat", f"/proc/{p}/cgroup").stdout for p in ("1", "self")]
    assert cgroups[0] == cgroups[1]
    assert runtime.exec(container_id, "touch", "/kin-read-only-test").exit_code != 0
    assert runtime.exec(container_id, "touch", "/dev/shm/ok").exit_code == 0  # its own tmpfs


def test_stopping_a_container_in_a_shared_pid_namespace_ends_its_children(
    runtime: RuntimeUnderTest, tmp_path: Path
) -> None:
    sandbox = pod_config(tmp_path)  # shareProcessNamespace: children outlive their parent
    sandbox_id = runtime.run_pod(sandbox)
    image = runtime.pull()
    parent = runtime.start_container(
        sandbox_id,
        container_config("parent", "sh", "-c", "sleep 1001 & exec sleep 1002", image=image),
        sandbox,
    )
    watcher = runtime.start_container(
        sandbox_id, container_config("watcher", "sleep", "300", image=image), sandbox
    )
    eventually(
        lambda: (
            "sleep 1001" in runtime.exec(watcher, "ps", "-eo", "args").stdout.decode().splitlines()
        )
    )
    runtime.cri.runtime.StopContainer(cri.StopContainerRequest(container_id=parent, timeout=0))
    left = runtime.exec(watcher, "ps", "-eo", "args").stdout.decode().splitlines()
    assert "sleep 1001" not in left and "sleep 1002" not in left, left


async def attach_session(url: str, *sent: bytes) -> tuple[bytes, dict[str, object]]:
    """Attach as the kubelet's relay does; send ``sent`` (channel byte + data), collect the
    container's output until its status arrives on channel 3 (within 20 s)."""
    return await asyncio.wait_for(_attach_session(url, *sent), timeout=20)


async def _attach_session(url: str, *sent: bytes) -> tuple[bytes, dict[str, object]]:
    import aiohttp

    output, status = b"", {}
    target = url.replace("http://", "ws://", 1)
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(target, protocols=("v5.channel.k8s.io",)) as ws,
    ):
        for message in sent:
            await ws.send_bytes(message)
            await asyncio.sleep(0.2)  # let the container answer each line in turn
        async for received in ws:
            if received.type != aiohttp.WSMsgType.BINARY:
                break
            if received.data[0] in (1, 2):
                output += received.data[1:]
            elif received.data[0] == 3:
                status = json.loads(received.data[1:])
                break
    return output, status


def attach(runtime: RuntimeUnderTest, container_id: str, tty: bool, *sent: bytes) -> Any:
    request = cri.AttachRequest(
        container_id=container_id, stdin=True, stdout=True, stderr=not tty, tty=tty
    )
    url = runtime.cri.runtime.Attach(request).url
    return ns.run_in(
        ns.netns_path(runtime.node_netns), lambda: asyncio.run(attach_session(url, *sent))
    )


def test_attach_joins_a_containers_stdin_and_output_and_ends_with_its_status(
    runtime: RuntimeUnderTest, tmp_path: Path
) -> None:
    sandbox = pod_config(tmp_path)
    sandbox_id = runtime.run_pod(sandbox)
    echo = 'while read line; do echo "got $line"; done; echo bye >&2; exit 3'
    config = container_config("echo", "sh", "-c", echo, image=runtime.pull())
    config.stdin = config.stdin_once = True
    container_id = runtime.start_container(sandbox_id, config, sandbox)
    output, status = attach(runtime, container_id, False, b"\x00hello\n", b"\xff\x00")
    assert output == b"got hello\nbye\n"
    assert status["reason"] == "NonZeroExitCode" and "exit status 3" in str(status["message"])
    log = Path(runtime.container_status(container_id).log_path).read_text()
    assert " stdout F got hello\n" in log and " stderr F bye\n" in log
    plain = runtime.start_container(
        sandbox_id, container_config("plain", "sleep", "300", image=runtime.pull()), sandbox
    )
    no_stdin = cri.AttachRequest(container_id=plain, stdin=True, stdout=True)
    assert (
        rpc_code(lambda: runtime.cri.runtime.Attach(no_stdin)) == grpc.StatusCode.INVALID_ARGUMENT
    )


def test_attach_to_a_terminal_from_the_containers_own_devpts(
    runtime: RuntimeUnderTest, tmp_path: Path
) -> None:
    sandbox = pod_config(tmp_path)
    sandbox_id = runtime.run_pod(sandbox)
    config = container_config("shell", "sh", image=runtime.pull())
    config.stdin = config.tty = True
    container_id = runtime.start_container(sandbox_id, config, sandbox)
    output, status = attach(
        runtime, container_id, True,
        b"\x00tty; echo term=$TERM\n", b'\x04{"Width": 100, "Height": 40}',
        b"\x00stty size\n", b"\x00exit 5\n",
    )  # fmt: skip
    text = output.decode().replace("\r\n", "\n")
    assert "\n/dev/pts/0\n" in text and "term=xterm\n" in text, text
    assert "\n40 100\n" in text, text
    assert "exit status 5" in str(status["message"])


def test_every_attached_client_gets_the_output_and_the_end(
    runtime: RuntimeUnderTest, tmp_path: Path
) -> None:
    sandbox = pod_config(tmp_path)
    sandbox_id = runtime.run_pod(sandbox)
    config = container_config(
        "late", "sh", "-c", "sleep 1; echo done; exit 2", image=runtime.pull()
    )
    container_id = runtime.start_container(sandbox_id, config, sandbox)
    request = cri.AttachRequest(container_id=container_id, stdout=True, stderr=True)
    urls = [runtime.cri.runtime.Attach(request).url for _ in range(3)]

    async def all_of_them() -> list[tuple[bytes, dict[str, object]]]:
        return list(await asyncio.gather(*(attach_session(url) for url in urls)))

    sessions = ns.run_in(ns.netns_path(runtime.node_netns), lambda: asyncio.run(all_of_them()))
    for output, status in sessions:
        assert output == b"done\n" and "exit status 2" in str(status["message"])
