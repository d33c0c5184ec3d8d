"""What the runtime knows about its sandboxes and containers, kept on disk.

Each record is a directory under the runtime's state root (``sandboxes/<id>`` or
``containers/<id>``) holding ``record.json`` (the runtime's facts: pids, IPs,
times) and ``config.pb`` (the CRI config exactly as the kubelet sent it, so labels
and annotations come back byte for byte). The shim writes ``exit.json`` beside a
container's record and ``pause-exit.json`` in its sandbox's. A restarted runtime
loads every directory again.

IDs are containerd's: 64 hex characters, and any unique prefix names one.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import shutil
import threading
from typing import Any, Generic, TypeVar

from google.protobuf.message import Message

from kin.errors import CRIAlreadyExists, CRIInvalid, CRINotFound
from kin.linux.files import write_atomic
from kin.runtime.cri import api_pb2 as cri

__all__ = ["ContainerRecord", "Records", "SandboxRecord", "new_id"]

C = TypeVar("C", bound=Message)


def new_id() -> str:
    return secrets.token_hex(32)


class Record(Generic[C]):
    """A sandbox or a container: its config, its facts and its directory."""

    config_type: type[C]
    kind = ""

    def __init__(self, id_: str, directory: str, config: C, facts: dict[str, Any]) -> None:
        self.id = id_
        self.dir = directory
        self.config = config
        self.facts = facts
        self.lock = threading.RLock()

    def save(self) -> None:
        os.makedirs(self.dir, exist_ok=True)
        raw = base64.b64encode(self.config.SerializeToString()).decode()
        write_atomic(os.path.join(self.dir, "record.json"), json.dumps(self.facts))
        write_atomic(os.path.join(self.dir, "config.pb"), raw)

    def path(self, name: str) -> str:
        return os.path.join(self.dir, name)

    def read_json(self, name: str) -> dict[str, Any] | None:
        try:
            with open(self.path(name)) as f:
                value = json.load(f)
        except (FileNotFoundError, ValueError):
            return None
        return value if isinstance(value, dict) else None

    @classmethod
    def load(cls, directory: str) -> Record[C]:
        with open(os.path.join(directory, "record.json")) as f:
            facts = json.load(f)
        with open(os.path.join(directory, "config.pb")) as f:
            config = cls.config_type.FromString(base64.b64decode(f.read()))
        return cls(os.path.basename(directory), directory, config, facts)


class SandboxRecord(Record[cri.PodSandboxConfig]):
    config_type = cri.PodSandboxConfig
    kind = "pod sandbox"


class ContainerRecord(Record[cri.ContainerConfig]):
    config_type = cri.ContainerConfig
    kind = "container"


R = TypeVar("R", bound=Record[Any])


class Records(Generic[R]):
    """All records of one kind: found by ID or unique prefix, names reserved while alive."""

    def __init__(self, root: str, record_type: type[R]) -> None:
        self.root = root
        self.record_type = record_type
        self.items: dict[str, R] = {}
        self.names: dict[str, str] = {}
        self.lock = threading.Lock()

    def load_all(self) -> list[str]:
        """Read every record under ``root``; return one problem line per unreadable one."""
        problems = []
        os.makedirs(self.root, exist_ok=True)
        for entry in sorted(os.listdir(self.root)):
            directory = os.path.join(self.root, entry)
            try:
                record = self.record_type.load(directory)
            except (OSError, ValueError, KeyError) as exc:
                problems.append(f"skipped {self.record_type.kind} {entry}: {exc}")
                continue
            self.items[record.id] = record  # type: ignore[assignment]
            name = record.facts.get("name", "")
            if name:
                self.names[name] = record.id
        return problems

    def directory_for(self, id_: str) -> str:
        return os.path.join(self.root, id_)

    def reserve(self, name: str, id_: str) -> None:
        """Reserve ``name`` for ``id_``, as containerd does, so that a retried create of
        the same sandbox or container fails instead of making a second one."""
        with self.lock:
            holder = self.names.get(name)
            if holder is None:
                self.names[name] = id_
                return
        what = self.record_type.kind.split()[-1]
        raise CRIAlreadyExists(
            f'failed to reserve {what} name "{name}": name "{name}" is reserved for "{holder}"'
        )

    def release(self, name: str, id_: str) -> None:
        with self.lock:
            if self.names.get(name) == id_:
                del self.names[name]

    def add(self, record: R) -> None:
        with self.lock:
            self.items[record.id] = record

    def remove(self, record: R) -> None:
        with self.lock:
            self.items.pop(record.id, None)
        self.release(record.facts.get("name", ""), record.id)
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(record.dir)

    def all(self) -> list[R]:
        with self.lock:
            return list(self.items.values())

    def find(self, id_or_prefix: str) -> R | None:
        """The record an ID or a unique prefix names; None when none does."""
        if not id_or_prefix:
            raise CRIInvalid(f"{self.record_type.kind} ID is empty")
        with self.lock:
            exact = self.items.get(id_or_prefix)
            if exact is not None:
                return exact
            matches = [r for i, r in self.items.items() if i.startswith(id_or_prefix)]
        if len(matches) > 1:
            raise CRIInvalid(
                f"{self.record_type.kind} ID prefix {id_or_prefix!r} is ambiguous "
                f"({len(matches)} match)"
            )
        return matches[0] if matches else None

    def get(self, id_or_prefix: str) -> R:
        record = self.find(id_or_prefix)
        if record is None:
            raise CRINotFound(f"{self.record_type.kind} {id_or_prefix!r} not found")
        return record
