"""What a node's PID 1 needs to know to build its node, written once as JSON.

The cluster layer writes ``node.json`` into the node's state directory; the
node's boot process reads it. Keeping it a plain file makes a node inspectable
from the host and lets the boot process stay free of any cluster knowledge.

Plain classes rather than dataclasses (or ``typing``): this module is on the
path of every node's boot, where importing ``dataclasses`` costs 15-30 ms.
"""

from __future__ import annotations

import json
import os

from kin.linux.files import write_atomic

__all__ = ["PROPAGATIONS", "Bind", "NodeSpec"]

PROPAGATIONS = {"": "", "None": "private", "HostToContainer": "slave", "Bidirectional": "shared"}


class Bind:
    """A host path bound over a path inside the node.

    ``propagation`` uses kind's names: ``None`` (private), ``HostToContainer``
    (slave), ``Bidirectional`` (shared); empty keeps the node's default.
    """

    __slots__ = ("propagation", "read_only", "source", "target")

    def __init__(
        self, source: str, target: str, read_only: bool = False, propagation: str = ""
    ) -> None:
        self.source = source
        self.target = target
        self.read_only = read_only
        self.propagation = propagation

    def to_json(self) -> dict[str, object]:
        return {s: getattr(self, s) for s in self.__slots__}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Bind) and self.to_json() == other.to_json()

    def __repr__(self) -> str:
        return f"Bind({self.source!r} -> {self.target!r})"


class NodeSpec:
    """A node: its name (= hostname = network namespace name), namespace and state directory.

    ``binds`` are mounted in order (per-node directories first, then extraMounts);
    ``sysctls`` are set inside the node, since a new namespace copies the host's;
    ``owner_file`` must exist, checked under ``lock_file``, for the node to run
    (see ``kin.node.boot.register``).
    """

    def __init__(
        self,
        name: str,
        netns: str,
        state_dir: str,
        binds: list[Bind] | None = None,
        sysctls: dict[str, str] | None = None,
        owner_file: str = "",
        lock_file: str = "",
        etc_layer: str = "",
    ) -> None:
        self.name = name
        self.netns = netns
        self.state_dir = state_dir
        self.binds = binds or []
        self.sysctls = sysctls or {}
        self.owner_file = owner_file
        self.lock_file = lock_file
        self.etc_layer = etc_layer
        """A directory for the node's copy-on-write layer over the host's ``/etc`` ("" = none):
        what the node writes to ``/etc`` (``crictl.yaml``, mount points) stays its own."""

    @property
    def control_socket(self) -> str:
        return os.path.join(self.state_dir, "supervisor.sock")

    @property
    def units_dir(self) -> str:
        return os.path.join(self.state_dir, "units")

    @property
    def pid_file(self) -> str:
        return os.path.join(self.state_dir, "supervisor.pid")

    @property
    def spec_file(self) -> str:
        return os.path.join(self.state_dir, "node.json")

    def to_json(self) -> dict[str, object]:
        raw = dict(vars(self))
        raw["binds"] = [b.to_json() for b in self.binds]
        return raw

    def save(self) -> None:
        write_atomic(self.spec_file, json.dumps(self.to_json(), indent=2) + "\n")

    @classmethod
    def load(cls, path: str) -> NodeSpec:
        with open(path) as f:
            raw = json.load(f)
        raw["binds"] = [Bind(**b) for b in raw.get("binds", [])]
        return cls(**raw)
