"""The runtime as a whole: its directories, stores and the operations that span parts.

Everything the CRI service does goes through here; the service only translates
between protobuf and these calls. Nothing here imports gRPC.
"""

from __future__ import annotations

import json
import os
import shutil
import threading

from kin import __version__
from kin.errors import CRIError
from kin.linux.cgroups import Group
from kin.linux.files import write_atomic
from kin.runtime import DEFAULT_ROOT
from kin.runtime.addresses import PodAddresses
from kin.runtime.containers import Containers
from kin.runtime.images import ImageStore
from kin.runtime.network import PodNetwork
from kin.runtime.sandboxes import Sandboxes
from kin.runtime.store import ContainerRecord, Records, SandboxRecord

__all__ = ["API_VERSION", "NAME", "Paths", "Runtime"]

NAME = "kin"
API_VERSION = "v1"
KUBELET_API_VERSION = "0.1.0"  # the kubelet refuses any other VersionResponse.version


class Paths:
    """Where the runtime keeps things; the defaults are a node's standard paths."""

    def __init__(
        self,
        state: str = "/run/kin/runtime",
        root: str = DEFAULT_ROOT,
        cni_conf: str = "/etc/cni/net.d",
        cni_bin: tuple[str, ...] = ("/opt/cni/bin",),
        cni_cache: str = "/var/lib/cni",
        netns: str = "/run/netns",
        cgroup_root: str = "",
        zygote: str = "",
    ) -> None:
        self.state = state
        self.root = root
        self.cni_conf = cni_conf
        self.cni_bin = cni_bin
        self.cni_cache = cni_cache
        self.netns = netns
        self.cgroup_root = cgroup_root
        """Pods' cgroups go below this group, relative to the runtime's own ("" = none)."""
        self.zygote = zygote
        """The node's fork server's socket, which starts the shims ("" = run them as commands)."""


class Runtime:
    def __init__(self, paths: Paths) -> None:
        self.paths = paths
        self.pod_cidr = ""
        self.lock = threading.Lock()
        self.sandbox_records = Records(os.path.join(paths.state, "sandboxes"), SandboxRecord)
        self.container_records = Records(os.path.join(paths.state, "containers"), ContainerRecord)
        self.images = ImageStore(os.path.join(paths.root, "images.json"))
        self.network = PodNetwork(paths.cni_conf, list(paths.cni_bin), paths.cni_cache, paths.netns)
        addresses = PodAddresses(os.path.join(paths.root, "pod-addresses.json"))
        self.sandboxes = Sandboxes(
            self.sandbox_records, self.network, self._pause_binary(), addresses,
            paths.cgroup_root, paths.zygote,
        )  # fmt: skip
        self.containers = Containers(self.container_records, self.sandboxes, self.images)
        if paths.cgroup_root:
            self._record_cgroup_root()

    def _record_cgroup_root(self) -> None:
        """Where the pods' groups live, for ``kin delete`` to remove after a crash."""
        root = Group(self.paths.cgroup_root)
        # Recorded before they exist: a runtime killed in between leaves nothing unrecorded.
        record = os.path.join(self.paths.state, "cgroups.json")
        write_atomic(record, json.dumps(sorted(root.dirs.values())))
        root.create()
        write_atomic(record, json.dumps(sorted(root.dirs.values())))  # those it could make

    def load(self) -> list[str]:
        """Read what a previous run left (its pods kept running, unless the node rebooted);
        problems, one per line."""
        problems = self.sandbox_records.load_all() + self.container_records.load_all()
        self.sandboxes.release_orphans()
        return problems

    def _pause_binary(self) -> str:
        """catatonit, reached through a link named ``pause`` so that ps says pause."""
        catatonit = shutil.which("catatonit")
        if catatonit is None:
            raise CRIError("catatonit is not installed: it is the pause process of every pod")
        link = os.path.join(self.paths.state, "bin", "pause")
        os.makedirs(os.path.dirname(link), exist_ok=True)
        if os.path.realpath(link) != os.path.realpath(catatonit):
            tmp = f"{link}.tmp"
            if os.path.lexists(tmp):
                os.unlink(tmp)
            os.symlink(catatonit, tmp)
            os.replace(tmp, link)
        return link

    @property
    def version(self) -> str:
        return __version__

    # -- operations spanning sandboxes and containers -------------------------------------

    def stop_sandbox(self, record: SandboxRecord) -> None:
        for container in self.containers.of_sandbox(record.id):
            self.containers.stop(container, 0)
        self.sandboxes.stop(record)

    def remove_sandbox(self, record: SandboxRecord) -> None:
        self.stop_sandbox(record)
        for container in self.containers.of_sandbox(record.id):
            self.containers.remove(container)
        self.sandboxes.remove(record)

    def conditions(self) -> list[tuple[str, bool, str, str]]:
        """(type, status, reason, message) for RuntimeReady and NetworkReady."""
        network_ready, message = self.network.readiness()
        reason = "" if network_ready else "NetworkPluginNotReady"
        return [
            ("RuntimeReady", True, "", ""),
            ("NetworkReady", network_ready, reason, message),
        ]
