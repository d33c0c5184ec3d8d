"""kin's container runtime as a test peer: a real ``python -m kin.runtime`` process in a
throwaway "node" network namespace, with its own directories and a bridge network made
by kin's CNI plugins, plus builders for the configs the kubelet would send.

The runtime shares the host's mount namespace (containers get their own, made
slave so nothing propagates back); its pods' network namespaces are pinned under
the test's directory and removed with them.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import grpc

from kin.cni.install import install_plugins
from kin.linux import ns
from kin.linux.cgroups import remove_tree
from kin.linux.netlink import Netlink
from kin.linux.proc import ProcessRecord
from kin.runtime.client import CRIClient
from kin.runtime.cri import api_pb2 as pb
from kin.testing.waiting import eventually

__all__ = ["RuntimeUnderTest", "bridge_conflist", "container_config", "pod_config", "rpc_code"]

START_TIMEOUT = 20.0


class RuntimeUnderTest:
    def __init__(self, node_netns: str, workdir: Path, subnet: str = "10.88.0.0/24") -> None:
        self.node_netns = node_netns
        self.work = workdir
        self.subnet = subnet
        self.socket = str(workdir / "cri.sock")
        self.process: subprocess.Popen[bytes] | None = None
        self.client: CRIClient | None = None
        for name in ("conf", "bin", "cache", "netns", "state", "root", "logs"):
            (workdir / name).mkdir(parents=True, exist_ok=True)
        install_plugins(str(workdir / "bin"))
        ns.run_in(ns.netns_path(node_netns), _loopback_up)  # as a node has it

    @property
    def cri(self) -> CRIClient:
        assert self.client is not None, "the runtime is not started"
        return self.client

    def write_network(self) -> None:
        """A bridge network (kin's bridge, host-local and portmap plugins)."""
        conflist = {
            "cniVersion": "1.0.0",
            "name": "kintest",
            "plugins": [
                {"type": "bridge", "bridge": "cni0", "isGateway": True, "ipMasq": False,
                 "ipam": {"type": "host-local", "ranges": [[{"subnet": self.subnet}]],
                          "dataDir": str(self.work / "ipam")}},
                {"type": "portmap", "capabilities": {"portMappings": True}},
            ],
        }  # fmt: skip
        (self.work / "conf" / "10-kintest.conflist").write_text(json.dumps(conflist))

    def start(self) -> RuntimeUnderTest:
        argv = [
            "nsenter", f"--net={ns.netns_path(self.node_netns)}", "--",
            sys.executable, "-m", "kin.runtime", "--address", self.socket,
            "--state", str(self.work / "state"), "--root", str(self.work / "root"),
            "--cni-conf-dir", str(self.work / "conf"), "--cni-bin-dir", str(self.work / "bin"),
            "--cni-cache-dir", str(self.work / "cache"), "--netns-dir", str(self.work / "netns"),
            "--node", self.node_netns,
        ]  # fmt: skip
        with open(self.work / "runtime.log", "ab") as log:
            self.process = subprocess.Popen(argv, stdout=log, stderr=log, start_new_session=True)
        self.client = CRIClient(self.socket)
        eventually(self._answers, timeout=START_TIMEOUT)
        return self

    def _answers(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"the runtime exited: {self.log()}")
        try:
            self.cri.check()
        except Exception:
            return False
        return True

    def log(self) -> str:
        return (self.work / "runtime.log").read_text(errors="replace")

    def kill(self, signum: int = signal.SIGKILL) -> None:
        """Stop the runtime process only; its pods live on in their shims."""
        if self.client is not None:
            self.client.close()
            self.client = None
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signum)
            self.process.wait(10)
        self.process = None

    def clean(self) -> None:
        """Remove every sandbox (so every shim, pause and container goes), then stop.
        Whatever a broken runtime could not remove is killed by its recorded PIDs."""
        try:
            if self.process is None:
                self.start()
            for item in self.cri.runtime.ListPodSandbox(pb.ListPodSandboxRequest()).items:
                self.cri.runtime.RemovePodSandbox(
                    pb.RemovePodSandboxRequest(pod_sandbox_id=item.id)
                )
        finally:
            self.kill(signal.SIGTERM)
            self._kill_recorded_processes()
            for pin in (self.work / "netns").iterdir():
                ns.delete_netns(pin.name, str(self.work / "netns"))
            groups = self.work / "state" / "cgroups.json"
            for directory in json.loads(groups.read_text()) if groups.exists() else []:
                remove_tree(directory)

    def reboot(self) -> None:
        """What a node's reboot does to the runtime: every process gone, ``/run`` (its state
        and the namespace pins) empty; ``/var/lib`` (its root, CNI's cache and IPAM) kept.
        Then the runtime starts again."""
        self.kill(signal.SIGKILL)
        self._kill_recorded_processes()
        for pin in (self.work / "netns").iterdir():
            ns.delete_netns(pin.name, str(self.work / "netns"))
        shutil.rmtree(self.work / "state")
        (self.work / "state").mkdir()
        self.start()

    def _kill_recorded_processes(self) -> None:
        for record in (self.work / "state").glob("*/*/record.json"):
            facts = json.loads(record.read_text())
            for key in ("pause", "shim", "process"):
                raw = facts.get(key)
                if raw:
                    ProcessRecord(raw["pid"], raw["starttime"]).signal(signal.SIGKILL)

    # -- conveniences ---------------------------------------------------------------------

    def run_pod(self, config: pb.PodSandboxConfig) -> str:
        Path(config.log_directory).mkdir(parents=True, exist_ok=True)
        response = self.cri.runtime.RunPodSandbox(pb.RunPodSandboxRequest(config=config))
        return str(response.pod_sandbox_id)

    def pull(self, image: str = "busybox") -> str:
        spec = pb.ImageSpec(image=image)
        return str(self.cri.images.PullImage(pb.PullImageRequest(image=spec)).image_ref)

    def start_container(
        self, sandbox_id: str, config: pb.ContainerConfig, sandbox: pb.PodSandboxConfig
    ) -> str:
        log_dir = Path(sandbox.log_directory) / config.metadata.name
        log_dir.mkdir(parents=True, exist_ok=True)
        request = pb.CreateContainerRequest(
            pod_sandbox_id=sandbox_id, config=config, sandbox_config=sandbox
        )
        container_id = str(self.cri.runtime.CreateContainer(request).container_id)
        self.cri.runtime.StartContainer(pb.StartContainerRequest(container_id=container_id))
        return container_id

    def container_status(self, container_id: str) -> pb.ContainerStatus:
        request = pb.ContainerStatusRequest(container_id=container_id)
        status: pb.ContainerStatus = self.cri.runtime.ContainerStatus(request).status
        return status

    def sandbox_status(self, sandbox_id: str, verbose: bool = False) -> pb.PodSandboxStatusResponse:
        request = pb.PodSandboxStatusRequest(pod_sandbox_id=sandbox_id, verbose=verbose)
        response: pb.PodSandboxStatusResponse = self.cri.runtime.PodSandboxStatus(request)
        return response

    def exec(self, container_id: str, *cmd: str, timeout: int = 10) -> pb.ExecSyncResponse:
        request = pb.ExecSyncRequest(container_id=container_id, cmd=list(cmd), timeout=timeout)
        response: pb.ExecSyncResponse = self.cri.runtime.ExecSync(request)
        return response

    def wait_exited(self, container_id: str, timeout: float = 10.0) -> pb.ContainerStatus:
        def exited() -> pb.ContainerStatus | None:
            status = self.container_status(container_id)
            return status if status.state == pb.CONTAINER_EXITED else None

        return eventually(exited, timeout=timeout)


def bridge_conflist(subnet: str = "10.244.1.0/24", name: str = "cbr0") -> dict[str, Any]:
    """A pod network for a node without flannel: kin's bridge and host-local, and portmap."""
    return {
        "cniVersion": "1.0.0", "name": name,
        "plugins": [
            {"type": "bridge", "bridge": "cni0", "isGateway": True,
             "ipam": {"type": "host-local", "ranges": [[{"subnet": subnet}]]}},
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }  # fmt: skip


def _loopback_up() -> None:
    with Netlink() as nl:
        nl.set_link("lo", up=True)


def pod_config(
    workdir: Path,
    name: str = "pod",
    pid: pb.NamespaceMode = pb.POD,
    host_network: bool = False,
    uid: str = "",
    attempt: int = 0,
) -> pb.PodSandboxConfig:
    uid = uid or str(uuid.uuid4())
    config = pb.PodSandboxConfig(
        metadata=pb.PodSandboxMetadata(name=name, namespace="default", uid=uid, attempt=attempt),
        hostname="" if host_network else name,
        log_directory=str(workdir / "logs" / f"default_{name}_{uid}"),
        labels={"io.kubernetes.pod.name": name, "io.kubernetes.pod.uid": uid, "app": name},
        annotations={"kin.test/annotation": "kept as given"},
    )
    options = config.linux.security_context.namespace_options
    options.pid = pid
    options.network = pb.NODE if host_network else pb.POD
    return config


def container_config(
    name: str,
    *command: str,
    image: str = "busybox",
    pid: pb.NamespaceMode = pb.POD,
    attempt: int = 0,
) -> pb.ContainerConfig:
    config = pb.ContainerConfig(
        metadata=pb.ContainerMetadata(name=name, attempt=attempt),
        image=pb.ImageSpec(image=image),
        command=list(command),
        log_path=f"{name}/{attempt}.log",
        labels={"io.kubernetes.container.name": name},
        annotations={"io.kubernetes.container.restartCount": str(attempt)},
        envs=[pb.KeyValue(key="KIN_TEST", value=b"yes")],
    )
    config.linux.security_context.namespace_options.pid = pid
    return config


def rpc_code(call: object) -> grpc.StatusCode | None:
    """The gRPC status code a call raised with, or None if it succeeded."""
    try:
        assert callable(call)
        call()
    except grpc.RpcError as exc:
        code: grpc.StatusCode = exc.code()
        return code
    return None
