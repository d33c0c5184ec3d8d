"""Pod sandboxes: a network namespace set up by CNI, held by a pause process in a shim.

``run`` follows containerd's order (name reserved, network namespace and CNI, then
pause) and undoes what it did when a step fails. ``stop`` kills pause, runs CNI DEL
and unpins the namespace; it is idempotent, and so is ``remove``. A sandbox is READY
while it was not stopped and its pause process lives.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import time
from typing import Any

from kin.errors import CRIError, CRIInvalid
from kin.linux.cgroups import Group
from kin.linux.files import write_atomic
from kin.linux.proc import ProcessRecord
from kin.runtime import shimclient
from kin.runtime.addresses import PodAddress, PodAddresses
from kin.runtime.cri import api_pb2 as cri
from kin.runtime.network import Attachment, PodNetwork
from kin.runtime.store import Records, SandboxRecord, new_id

__all__ = ["Sandboxes", "is_host_network", "sandbox_name"]

log = logging.getLogger("kin.runtime")

NODE_HOSTS = "/etc/hosts"
NODE_RESOLV_CONF = "/etc/resolv.conf"


def sandbox_name(config: cri.PodSandboxConfig) -> str:
    m = config.metadata
    return f"{m.name}_{m.namespace}_{m.uid}_{m.attempt}"


def namespace_options(config: cri.PodSandboxConfig) -> cri.NamespaceOption:
    return config.linux.security_context.namespace_options


def is_host_network(config: cri.PodSandboxConfig) -> bool:
    return namespace_options(config).network == cri.NODE


class Sandboxes:
    def __init__(
        self,
        records: Records[SandboxRecord],
        network: PodNetwork,
        pause: str,
        addresses: PodAddresses,
        cgroup_root: str = "",
        zygote: str = "",
    ) -> None:
        self.records = records
        self.network = network
        self.addresses = addresses
        self.pause = pause
        self.cgroup_root = cgroup_root
        self.zygote = zygote

    def group(self, record: SandboxRecord) -> Group | None:
        """The pod's cgroup (pause and, below it, each container's)."""
        if not self.cgroup_root:
            return None
        return Group(f"{self.cgroup_root}/pod{record.config.metadata.uid}")

    # -- run ------------------------------------------------------------------------------

    def run(self, config: cri.PodSandboxConfig, handler: str) -> str:
        _validate(config, handler)
        id_ = new_id()
        name = sandbox_name(config)
        self.records.reserve(name, id_)
        record = SandboxRecord(id_, self.records.directory_for(id_), config, {"name": name})
        record.facts.update(created_at=time.time_ns(), state="creating", handler=handler)
        try:
            self._start(record)
        except BaseException:
            self._undo(record)
            raise
        return id_

    def _start(self, record: SandboxRecord) -> None:
        config = record.config
        record.save()
        if not is_host_network(config):
            attachment = self._attach(record)
            record.facts.update(netns=attachment.netns, ips=attachment.ips)
            record.facts["cni_result"] = attachment.result
            record.save()
        self._write_files(record)
        options = namespace_options(config)
        pause = {
            "binary": self.pause,
            "netns": record.facts.get("netns", ""),
            "hostname": config.hostname,
            "new_pid": options.pid != cri.NODE,
            "new_ipc": options.ipc != cri.NODE,
            "new_uts": not is_host_network(config),
        }
        group = self.group(record)
        if group is not None:
            group.create()
            pause["cgroups"] = list(group.dirs.values())
        write_atomic(record.path("pause.json"), json.dumps(pause))
        shim, pause_process = shimclient.start_shim(record.dir, self.zygote)
        record.facts.update(shim=_pid(shim), pause=_pid(pause_process), state="ready")
        record.save()
        self.records.add(record)

    def _attach(self, record: SandboxRecord) -> Attachment:
        """CNI for a new sandbox; a pod whose sandbox a node reboot took gets its address back."""
        config, meta = record.config, record.config.metadata
        wanted = self.addresses.reclaim(meta.uid, self._live(), self._release)
        try:
            attachment = self.network.attach(record.id, config, wanted)
        except CRIError as exc:
            if not wanted or wanted[0] not in str(exc):  # a failure that is not about it
                raise
            log.warning("pod %s/%s: earlier address %s not given back (%s); a new one",
                        meta.namespace, meta.name, wanted[0], exc)  # fmt: skip
            attachment = self.network.attach(record.id, config)
        entry = PodAddress(record.id, meta.namespace, meta.name, list(attachment.ips))
        self.addresses.remember(meta.uid, entry)
        return attachment

    def _live(self) -> set[str]:
        return {r.id for r in self.records.all()}

    def _release(self, uid: str, entry: PodAddress) -> None:
        self.network.release(entry.sandbox, entry.namespace, entry.name, uid)

    def release_orphans(self) -> None:
        """After a load: free what sandboxes lost with a reboot held (see kin.runtime.addresses)."""
        self.addresses.release_orphans(self._live(), self._release)

    def _write_files(self, record: SandboxRecord) -> None:
        """hostname, hosts and resolv.conf, which the containers see at /etc."""
        config = record.config
        hostname = config.hostname or _node_hostname()
        write_atomic(record.path("hostname"), hostname + "\n")
        shutil.copyfile(NODE_HOSTS, record.path("hosts"))
        if config.HasField("dns_config"):
            write_atomic(record.path("resolv.conf"), resolv_conf(config.dns_config))
        else:
            shutil.copyfile(NODE_RESOLV_CONF, record.path("resolv.conf"))

    def _undo(self, record: SandboxRecord) -> None:
        try:
            self._teardown(record)
        except Exception as exc:  # what could not be undone is logged; the name is freed
            log.warning("sandbox %s: undoing a failed start: %s", record.id[:13], exc)
        finally:
            self.addresses.forget(record.config.metadata.uid, record.id)
            self.records.remove(record)

    # -- stop and remove ------------------------------------------------------------------

    def stop(self, record: SandboxRecord) -> None:
        """Kill pause, tear the network down, stop the shim. Containers are stopped first
        by the caller."""
        with record.lock:
            self._teardown(record)
            record.facts["state"] = "notready"
            record.save()

    def _teardown(self, record: SandboxRecord) -> None:
        pause = _record(record.facts.get("pause"))
        if pause is not None and pause.signal(signal.SIGKILL):
            _wait_gone(pause)
        netns = record.facts.get("netns", "")
        if netns or record.facts.get("cni_result"):
            attachment = Attachment(
                netns, record.facts.get("ips", []), record.facts.get("cni_result") or {}
            )
            self.network.detach(record.id, record.config, attachment)
            record.facts["netns"] = ""
            record.facts["cni_result"] = None
        shim = _record(record.facts.get("shim"))
        if shim is not None and shim.alive():
            with contextlib.suppress(CRIError):
                shimclient.call(record.dir, {"op": "shutdown"})
            if not _wait_gone(shim, 3.0):
                shim.signal(signal.SIGKILL)

    def remove(self, record: SandboxRecord) -> None:
        self.stop(record)
        group = self.group(record)
        if group is not None:
            group.remove()
        self.addresses.forget(record.config.metadata.uid, record.id)
        self.records.remove(record)

    # -- status ---------------------------------------------------------------------------

    def ready(self, record: SandboxRecord) -> bool:
        if record.facts.get("state") != "ready":
            return False
        pause = _record(record.facts.get("pause"))
        return pause is not None and pause.alive()

    def pause_pid(self, record: SandboxRecord) -> int:
        pause = _record(record.facts.get("pause"))
        if pause is None or not self.ready(record):
            raise CRIError(f'sandbox container "{record.id}" is not running')
        return pause.pid

    def select(self, filter_: cri.PodSandboxFilter | None) -> list[SandboxRecord]:
        found = self.records.all()
        if filter_ is None:
            return found
        if filter_.id:
            match = self.records.find(filter_.id)
            found = [match] if match is not None else []
        if filter_.HasField("state"):
            want_ready = filter_.state.state == cri.SANDBOX_READY
            found = [r for r in found if self.ready(r) == want_ready]
        selector = dict(filter_.label_selector)
        return [r for r in found if _labels_match(r.config.labels, selector)]


def resolv_conf(dns: cri.DNSConfig) -> str:
    lines = []
    if dns.searches:
        lines.append("search " + " ".join(dns.searches))
    lines += [f"nameserver {server}" for server in dns.servers]
    if dns.options:
        lines.append("options " + " ".join(dns.options))
    return "\n".join(lines) + "\n"


def _validate(config: cri.PodSandboxConfig, handler: str) -> None:
    if not config.HasField("metadata"):
        raise CRIInvalid("sandbox config must include metadata")
    meta = config.metadata
    for field in ("name", "namespace", "uid"):
        value = getattr(meta, field)
        if not value:
            raise CRIInvalid(f"sandbox config metadata.{field} is empty")
        if "/" in value or value in (".", ".."):
            raise CRIInvalid(f"sandbox config metadata.{field} {value!r} may not contain '/'")
    if handler:
        raise CRIInvalid(f'no runtime for "{handler}" is configured')


def _labels_match(labels: Any, selector: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def _pid(process: ProcessRecord) -> dict[str, int]:
    return {"pid": process.pid, "starttime": process.starttime}


def _record(raw: dict[str, int] | None) -> ProcessRecord | None:
    return None if not raw else ProcessRecord(raw["pid"], raw["starttime"])


def _wait_gone(process: ProcessRecord, timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while process.alive():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def _node_hostname() -> str:
    return os.uname().nodename
