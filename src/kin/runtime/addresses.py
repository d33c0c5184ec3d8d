"""Which addresses each pod's sandbox had, kept where a node's reboot does not erase them.

The runtime's records live under ``/run`` (as containerd's task state does), so a node
that reboots (``kin stop`` then ``kin start``) comes back with no sandboxes, and the
kubelet makes new ones for the pods it still has. Kubernetes would hand them new
addresses; kin gives each pod its old one back. This file, under the runtime's root in
``/var/lib``, remembers per pod UID the sandbox and the addresses CNI gave it:

- at load, an entry whose sandbox is no longer a record is an orphan: its reservation in
  the IPAM store is released with a CNI DEL (the reboot removed its namespace, not the
  host-local reservation), and the addresses are kept for the pod;
- a new sandbox for that pod asks IPAM for them (``CNI_ARGS`` ``IP=``);
- removing a sandbox forgets its entry; entries nobody reclaims expire.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from kin.errors import CRIError
from kin.linux.files import write_atomic

__all__ = ["PodAddress", "PodAddresses"]

log = logging.getLogger("kin.runtime")

KEEP_RELEASED = 3600.0
"""How long a released address waits for its pod (seconds) before it is forgotten."""


@dataclass
class PodAddress:
    sandbox: str
    namespace: str
    name: str
    ips: list[str]
    released: float = 0.0
    """When its IPAM reservation was released (0: still held by the sandbox)."""


Release = Callable[[str, PodAddress], None]
"""CNI DEL for (pod uid, its entry); raises CRIError when the plugins fail."""


class PodAddresses:
    def __init__(self, path: str) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.entries = self._read()

    def _read(self) -> dict[str, PodAddress]:
        try:
            with open(self.path) as f:
                raw = json.load(f)
            return {uid: PodAddress(**entry) for uid, entry in raw.items()}
        except FileNotFoundError:
            return {}
        except (ValueError, TypeError, AttributeError) as exc:
            log.warning("pod addresses %s unreadable, starting afresh: %s", self.path, exc)
            return {}

    def _save(self) -> None:
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        write_atomic(self.path, json.dumps({u: asdict(e) for u, e in self.entries.items()}))

    def remember(self, uid: str, entry: PodAddress) -> None:
        with self.lock:
            self.entries[uid] = entry
            self._save()

    def forget(self, uid: str, sandbox: str) -> None:
        """Forget the pod's entry if it is this sandbox's (a newer sandbox keeps its own)."""
        with self.lock:
            entry = self.entries.get(uid)
            if entry is not None and entry.sandbox == sandbox:
                del self.entries[uid]
                self._save()

    def release_orphans(self, live: set[str], release: Release) -> None:
        """Release what sandboxes that are no longer records held; drop stale entries."""
        now = time.time()
        with self.lock:
            for uid, entry in list(self.entries.items()):
                if entry.sandbox in live:
                    continue
                if entry.released and now - entry.released > KEEP_RELEASED:
                    del self.entries[uid]
                elif not entry.released:
                    self._release(uid, entry, release, now)
            self._save()

    def reclaim(self, uid: str, live: set[str], release: Release) -> list[str]:
        """The addresses to ask for on behalf of pod ``uid``: its orphaned ones, if any."""
        with self.lock:
            entry = self.entries.get(uid)
            if entry is None or entry.sandbox in live:
                return []
            if not entry.released:
                self._release(uid, entry, release, time.time())
                self._save()
            return list(entry.ips) if entry.released else []

    @staticmethod
    def _release(uid: str, entry: PodAddress, release: Release, now: float) -> None:
        try:
            release(uid, entry)
        except CRIError as exc:
            log.warning("pod %s/%s: address %s of sandbox %s not released: %s", entry.namespace,
                        entry.name, ",".join(entry.ips), entry.sandbox[:13], exc)  # fmt: skip
            return
        entry.released = now
        log.info("pod %s/%s: address %s of lost sandbox %s released for the pod",
                 entry.namespace, entry.name, ",".join(entry.ips), entry.sandbox[:13])  # fmt: skip
