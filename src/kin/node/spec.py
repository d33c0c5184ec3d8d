"""What a node's PID 1 needs to know to build its node, written once as JSON.

The cluster layer writes ``node.json`` into the node's state directory; the
node's boot process reads it. Keeping it a plain file makes a node inspectable
from the host and lets the boot process stay free of any cluster knowledge.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field

__all__ = ["Bind", "NodeSpec"]

PROPAGATIONS = {"": "", "None": "private", "HostToContainer": "slave", "Bidirectional": "shared"}


@dataclass(frozen=True)
class Bind:
    """A host path bound over a path inside the node."""

    source: str
    target: str
    read_only: bool = False
    propagation: str = ""
    """kind's names: ``None`` (private), ``HostToContainer`` (slave), ``Bidirectional`` (shared)."""


@dataclass
class NodeSpec:
    name: str
    """Node name: also its hostname and the name of its pinned network namespace."""
    netns: str
    """Host path of the node's pinned network namespace."""
    state_dir: str
    """Host directory holding everything this node owns."""
    binds: list[Bind] = field(default_factory=list)
    """Per-node directories and files, then the config's extraMounts, in mount order."""
    sysctls: dict[str, str] = field(default_factory=dict)
    """Set inside the node (``net.ipv4.ip_forward`` -> ``1``): a new namespace copies the host's."""
    owner_file: str = ""
    """A file that exists while the node's owner (its cluster) does; checked under ``lock_file``."""
    lock_file: str = ""
    """The lock that whoever deletes the owner holds; see ``kin.node.boot.register``."""

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

    def save(self) -> None:
        tmp = self.spec_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump(asdict(self), f, indent=2)
        os.replace(tmp, self.spec_file)

    @classmethod
    def load(cls, path: str) -> NodeSpec:
        with open(path) as f:
            raw = json.load(f)
        raw["binds"] = [Bind(**b) for b in raw.get("binds", [])]
        return cls(**raw)
