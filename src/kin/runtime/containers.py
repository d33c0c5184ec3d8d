"""Containers: created from the kubelet's config, started by the sandbox's shim.

A container's state is read, not remembered: CREATED until started; RUNNING while
its process (by PID and start time) lives; EXITED once the shim recorded its exit
(``exit.json``), or when its process is gone and nothing was recorded (the shim
died): exit code 255, reason ``Unknown``, as containerd says then.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import time
from typing import Any

from kin.errors import (
    CRIError,
    CRIInvalid,
    CRINotFound,
    CRIPrecondition,
    CRITimeout,
)
from kin.linux.capabilities import capability_set
from kin.linux.cgroups import Group
from kin.linux.files import write_atomic
from kin.linux.proc import ProcessRecord
from kin.runtime import shimclient
from kin.runtime.cri import api_pb2 as cri
from kin.runtime.enter import SPEC_VARIABLE
from kin.runtime.images import ImageStore
from kin.runtime.sandboxes import Sandboxes
from kin.runtime.store import ContainerRecord, Records, SandboxRecord, new_id

__all__ = ["Containers", "ExitInfo"]

PID_MODES = {cri.POD: "pod", cri.CONTAINER: "container", cri.NODE: "node"}
EXEC_OUTPUT_LIMIT = 16 * 1024 * 1024  # and the rest is discarded (CVE-2022-1708)
EXIT_RECORD_WAIT = 2.0
UNKNOWN_EXIT = 255


class ExitInfo:
    def __init__(self, code: int, finished_at: int, reason: str, message: str = "") -> None:
        self.code = code
        self.finished_at = finished_at
        self.reason = reason
        self.message = message


class Containers:
    def __init__(
        self, records: Records[ContainerRecord], sandboxes: Sandboxes, images: ImageStore
    ) -> None:
        self.records = records
        self.sandboxes = sandboxes
        self.images = images

    # -- create and start -----------------------------------------------------------------

    def create(
        self,
        sandbox: SandboxRecord,
        config: cri.ContainerConfig,
        sandbox_config: cri.PodSandboxConfig,
    ) -> str:
        if not config.HasField("metadata") or not config.metadata.name:
            raise CRIInvalid("container config must include metadata.name")
        self.sandboxes.pause_pid(sandbox)  # the sandbox must be running
        image = self.images.find(config.image.image)
        if image is None:
            raise CRINotFound(
                f'failed to get image "{config.image.image}": not found (pull it first)'
            )
        if not process_argv(config, image.process):
            raise CRIInvalid("failed to generate container spec: no command specified")
        capabilities(config)  # refuses unknown names now, not at start
        id_ = new_id()
        meta = sandbox.config.metadata
        name = "_".join(
            (
                config.metadata.name,
                meta.name,
                meta.namespace,
                meta.uid,
                str(config.metadata.attempt),
            )
        )
        self.records.reserve(name, id_)
        log_path = ""
        directory = sandbox.config.log_directory or sandbox_config.log_directory
        if directory and config.log_path:
            if config.log_path.startswith("/") or ".." in config.log_path.split("/"):
                raise CRIInvalid(f"log path {config.log_path!r} must stay in the log directory")
            log_path = os.path.join(directory, config.log_path)
        record = ContainerRecord(id_, self.records.directory_for(id_), config, {"name": name})
        record.facts.update(
            sandbox=sandbox.id, created_at=time.time_ns(), state="created", log_path=log_path,
            image_id=image.id, rootfs=image.rootfs, image_process=image.process,
        )  # fmt: skip
        record.save()
        self.records.add(record)
        return id_

    def start(self, record: ContainerRecord) -> None:
        with record.lock:
            if record.facts["state"] != "created":
                raise CRIPrecondition(f"container {record.id[:13]} is not in created state")
            sandbox = self.records_sandbox(record)
            self.sandboxes.pause_pid(sandbox)
            spec = self._launch_spec(record, sandbox)  # before any state change: it may fail
            record.facts["state"] = "starting"
            try:
                reply = shimclient.call(sandbox.dir, {"op": "start", "spec": spec})
                process = ProcessRecord(int(reply["pid"]), int(reply["starttime"]))
            except CRIError as exc:
                self._failed_to_start(record, str(exc))
                raise CRIError(f"failed to start container {record.id[:13]}: {exc}") from exc
            record.facts.update(
                state="started", started_at=int(reply["started_at"]),
                process={"pid": process.pid, "starttime": process.starttime},
            )  # fmt: skip
            record.save()

    def _failed_to_start(self, record: ContainerRecord, message: str) -> None:
        now = time.time_ns()
        record.facts.update(state="started", started_at=now, start_error=message)
        exit_record = {"exit_code": 128, "signal": 0, "finished_at": now, "reason": "StartError"}
        write_atomic(record.path("exit.json"), json.dumps(exit_record | {"message": message}))
        record.save()

    def _launch_spec(self, record: ContainerRecord, sandbox: SandboxRecord) -> dict[str, Any]:
        config = record.config
        options = config.linux.security_context.namespace_options
        if options.pid not in PID_MODES:
            raise CRIInvalid("PID namespace mode TARGET is not supported by kin's runtime")
        mounts = [
            {"source": sandbox.path(name), "target": f"/etc/{name}", "readonly": False}
            for name in ("hostname", "hosts", "resolv.conf")
        ]
        for mount in config.mounts:
            _ensure_source(mount.host_path)
            mounts.append({"source": mount.host_path, "target": mount.container_path,
                           "readonly": mount.readonly})  # fmt: skip
        process = record.facts.get("image_process") or {}
        env = dict(item.partition("=")[::2] for item in process.get("env") or [])
        env.update({kv.key: kv.value.decode(errors="replace") for kv in config.envs})
        if config.tty:
            env.setdefault("TERM", "xterm")  # as containerd sets it
        return {
            "id": record.id,
            "argv": process_argv(config, process),
            "env": env,
            "cwd": config.working_dir or process.get("working_dir", ""),
            "rootfs": record.facts["rootfs"],
            "pid_mode": PID_MODES[options.pid],
            "mounts": mounts,
            "exit_file": record.path("exit.json"),
            "layer_dir": self._layer_dir(record),
            "cgroups": self._cgroups(record, sandbox),
            "capabilities": sorted(capabilities(config)),
            "user": run_as(config, process.get("user", "")),
            "readonly_rootfs": config.linux.security_context.readonly_rootfs,
            # Privileged containers see the node's devices; kin passes the useful ones.
            "devices": PRIVILEGED_DEVICES if config.linux.security_context.privileged else (),
            "log_path": record.facts["log_path"],
            "stdin": config.stdin,
            "stdin_once": config.stdin_once,
            "tty": config.tty,
        }

    def _cgroups(self, record: ContainerRecord, sandbox: SandboxRecord) -> list[str]:
        """The container's group below its pod's, with its resource limits written."""
        pod = self.sandboxes.group(sandbox)
        if pod is None:
            return []
        group = Group(f"{pod.relative}/{record.id[:12]}")
        group.create()
        limits = record.config.linux.resources
        if limits.memory_limit_in_bytes > 0:
            group.set("memory", "memory.limit_in_bytes", limits.memory_limit_in_bytes)
        if limits.cpu_period > 0:
            group.set("cpu", "cpu.cfs_period_us", limits.cpu_period)
        if limits.cpu_quota > 0:
            group.set("cpu", "cpu.cfs_quota_us", limits.cpu_quota)
        if limits.cpu_shares > 0:
            group.set("cpu", "cpu.shares", limits.cpu_shares)
        return list(group.dirs.values())

    def group(self, record: ContainerRecord) -> Group | None:
        sandbox = self.sandboxes.records.find(record.facts["sandbox"])
        pod = self.sandboxes.group(sandbox) if sandbox is not None else None
        return Group(f"{pod.relative}/{record.id[:12]}") if pod is not None else None

    def _layer_dir(self, record: ContainerRecord) -> str:
        """Where the container's private tmpfs layer is mounted, in its own namespace only."""
        path = record.path("layer")
        os.makedirs(path, exist_ok=True)
        return path

    def records_sandbox(self, record: ContainerRecord) -> SandboxRecord:
        return self.sandboxes.records.get(record.facts["sandbox"])

    # -- state ----------------------------------------------------------------------------

    def state(self, record: ContainerRecord) -> cri.ContainerState:
        if record.facts["state"] in ("created", "starting"):
            return cri.CONTAINER_CREATED
        if self.exit_info(record) is not None:
            return cri.CONTAINER_EXITED
        return cri.CONTAINER_RUNNING

    def exit_info(self, record: ContainerRecord) -> ExitInfo | None:
        """How it ended, or None while it runs (or was never started)."""
        if record.facts["state"] != "started":
            return None
        recorded = record.read_json("exit.json")
        if recorded is None:
            process = _process(record)
            if process is not None and process.alive():
                return None
            recorded = self._wait_for_exit_record(record)
        if recorded is None:  # recorded now, once: its time stays the same on every read
            recorded = {
                "exit_code": UNKNOWN_EXIT, "signal": 0, "finished_at": time.time_ns(),
                "reason": "Unknown", "message": "the container's exit was not recorded",
            }  # fmt: skip
            write_atomic(record.path("exit.json"), json.dumps(recorded))
        code = int(recorded["exit_code"])
        reason = recorded.get("reason") or ("Completed" if code == 0 else "Error")
        return ExitInfo(code, int(recorded["finished_at"]), reason, recorded.get("message", ""))

    def _wait_for_exit_record(self, record: ContainerRecord) -> dict[str, Any] | None:
        """The process is gone: its shim writes the exit at once, unless the shim died."""
        shim = self.records_sandbox_shim(record)
        deadline = time.monotonic() + (EXIT_RECORD_WAIT if shim is not None and shim.alive() else 0)
        while True:
            recorded = record.read_json("exit.json")
            if recorded is not None or time.monotonic() >= deadline:
                return recorded
            time.sleep(0.005)

    def records_sandbox_shim(self, record: ContainerRecord) -> ProcessRecord | None:
        sandbox = self.sandboxes.records.find(record.facts["sandbox"])
        raw = sandbox.facts.get("shim") if sandbox is not None else None
        return ProcessRecord(raw["pid"], raw["starttime"]) if raw else None

    def running_pid(self, record: ContainerRecord) -> int:
        if self.state(record) != cri.CONTAINER_RUNNING:
            raise CRIPrecondition(f"container {record.id[:13]} is not running")
        process = _process(record)
        assert process is not None
        return process.pid

    # -- stop and remove ------------------------------------------------------------------

    def stop(self, record: ContainerRecord, timeout: int) -> None:
        """The stop signal, ``timeout`` seconds, then SIGKILL. Stopped already is success."""
        with record.lock:
            process = _process(record)
            if process is not None and self.state(record) == cri.CONTAINER_RUNNING:
                self._end(record, process, timeout)
        self._kill_leftovers(record)

    def _end(self, record: ContainerRecord, process: ProcessRecord, timeout: int) -> None:
        if timeout > 0:
            process.signal(_stop_signal(record.config))
            if _wait_gone(process, timeout):
                self.exit_info(record)  # waits for the shim to record the exit
                return
        process.signal(signal.SIGKILL)
        _wait_gone(process, 10.0)
        self.exit_info(record)

    def _kill_leftovers(self, record: ContainerRecord) -> None:
        """A container that shares a PID namespace leaves its children behind (they go to
        pause or the shim): kill what is left in its cgroup, as ``runc kill --all``."""
        options = record.config.linux.security_context.namespace_options
        group = self.group(record)
        if options.pid == cri.CONTAINER or group is None:
            return
        for pid in group.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def remove(self, record: ContainerRecord) -> None:
        self.stop(record, 0)
        group = self.group(record)
        if group is not None:
            group.remove()
        self.records.remove(record)

    def of_sandbox(self, sandbox_id: str) -> list[ContainerRecord]:
        return [r for r in self.records.all() if r.facts["sandbox"] == sandbox_id]

    def select(self, filter_: cri.ContainerFilter | None) -> list[ContainerRecord]:
        found = self.records.all()
        if filter_ is None:
            return found
        if filter_.id:
            match = self.records.find(filter_.id)
            found = [match] if match is not None else []
        if filter_.pod_sandbox_id:
            sandbox = self.sandboxes.records.find(filter_.pod_sandbox_id)
            found = [r for r in found if sandbox is not None and r.facts["sandbox"] == sandbox.id]
        if filter_.HasField("state"):
            found = [r for r in found if self.state(r) == filter_.state.state]
        selector = dict(filter_.label_selector)
        return [r for r in found if all(r.config.labels.get(k) == v for k, v in selector.items())]

    # -- exec and logs --------------------------------------------------------------------

    def exec_sync(
        self, record: ContainerRecord, cmd: list[str], timeout: int
    ) -> tuple[bytes, bytes, int]:
        if not cmd:
            raise CRIInvalid("exec command is empty")
        argv, env = self.exec_command(record, cmd)
        return run_bounded(argv, env, timeout, " ".join(cmd))

    def exec_command(
        self, record: ContainerRecord, cmd: list[str]
    ) -> tuple[list[str], dict[str, str]]:
        """The command and environment that run ``cmd`` in the container as the container
        runs (``kin.runtime.enter``): its namespaces, root, working directory, cgroups,
        capabilities, user and environment."""
        pid = self.running_pid(record)
        config = record.config
        process = record.facts.get("image_process") or {}
        group = self.group(record)
        spec = {
            "pid": pid,
            "env": _environment_of(pid),
            "cwd": config.working_dir or process.get("working_dir", ""),
            "cgroups": list(group.dirs.values()) if group is not None else [],
            "capabilities": sorted(capabilities(config)),
            "user": run_as(config, process.get("user", "")),
        }
        argv = [sys.executable, "-I", "-m", "kin.runtime.enter", "--", *cmd]
        return argv, {SPEC_VARIABLE: json.dumps(spec)}

    def reopen_log(self, record: ContainerRecord) -> None:
        if self.state(record) != cri.CONTAINER_RUNNING:
            raise CRIPrecondition(f"container {record.id[:13]} is not running")
        shimclient.call(self.records_sandbox(record).dir, {"op": "reopen", "id": record.id})


def run_bounded(
    argv: list[str], env: dict[str, str], timeout: int, what: str
) -> tuple[bytes, bytes, int]:
    """Run to the end; keep at most ``EXEC_OUTPUT_LIMIT`` of each stream, discarding the
    rest as it comes (never holding it); kill it all at the timeout."""
    process = subprocess.Popen(
        argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    assert process.stdout is not None and process.stderr is not None
    out, err = process.stdout.fileno(), process.stderr.fileno()
    kept = {out: bytearray(), err: bytearray()}
    deadline = time.monotonic() + timeout if timeout else None
    try:
        with selectors.DefaultSelector() as selector:
            for fd in (out, err):
                selector.register(fd, selectors.EVENT_READ)
            while selector.get_map():
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
                    raise CRITimeout(f"command {what!r} timed out after {timeout}s")
                for key, _ in selector.select(left):
                    chunk = os.read(key.fd, 65536)
                    if not chunk:
                        selector.unregister(key.fd)
                        continue
                    buffer = kept[key.fd]
                    buffer += chunk[: max(0, EXEC_OUTPUT_LIMIT - len(buffer))]
        return bytes(kept[out]), bytes(kept[err]), process.wait()
    finally:
        process.stdout.close()
        process.stderr.close()


def run_as(config: cri.ContainerConfig, image_user: str) -> dict[str, Any]:
    """Who the process runs as: the security context's user and group, else the image's
    ``User`` (a name is looked up in the container's /etc/passwd when it starts)."""
    security = config.linux.security_context
    user: dict[str, Any] = {"groups": list(security.supplemental_groups)}
    name, _, group = image_user.partition(":")
    if security.HasField("run_as_user"):
        user["uid"] = security.run_as_user.value
    elif name:
        user["uid" if name.isdigit() else "name"] = int(name) if name.isdigit() else name
    if security.HasField("run_as_group"):
        user["gid"] = security.run_as_group.value
    elif group.isdigit():
        user["gid"] = int(group)
    return user


def capabilities(config: cri.ContainerConfig) -> set[int]:
    security = config.linux.security_context
    try:
        return capability_set(
            list(security.capabilities.add_capabilities),
            list(security.capabilities.drop_capabilities),
            security.privileged,
        )
    except ValueError as exc:
        raise CRIInvalid(f"failed to generate container spec: {exc}") from exc


def process_argv(config: cri.ContainerConfig, image: dict[str, Any]) -> list[str]:
    """Kubernetes' rule: ``command`` replaces the image's entrypoint (and drops its cmd),
    ``args`` replace its cmd."""
    entrypoint = list(config.command) or list(image.get("entrypoint") or [])
    args = list(config.args) or ([] if config.command else list(image.get("cmd") or []))
    return entrypoint + args


def _stop_signal(config: cri.ContainerConfig) -> int:
    if config.stop_signal == cri.RUNTIME_DEFAULT:
        return signal.SIGTERM
    name = cri.Signal.Name(config.stop_signal)
    return int(getattr(signal, name, signal.SIGTERM))


PRIVILEGED_DEVICES = ("net/tun", "fuse", "kmsg")


def _ensure_source(path: str) -> None:
    """A missing host path is made a directory, as containerd does (a hostPath volume of no
    type, such as flannel's ``/run/flannel``, may name one that does not exist yet)."""
    if not os.path.lexists(path):
        try:
            os.makedirs(path, mode=0o755, exist_ok=True)
        except OSError as exc:
            raise CRIError(f"cannot create mount source {path}: {exc.strerror}") from exc


def _process(record: ContainerRecord) -> ProcessRecord | None:
    raw = record.facts.get("process")
    return ProcessRecord(raw["pid"], raw["starttime"]) if raw else None


def _wait_gone(process: ProcessRecord, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while process.alive():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def _environment_of(pid: int) -> dict[str, str]:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            raw = f.read()
    except OSError:
        return {}
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, v in pairs}
