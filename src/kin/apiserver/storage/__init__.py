"""Datastores behind one interface (``base.Storage``): memory, SQLite, etcd v3.

Choose one by URL with ``await open_storage(url)``:

- ``memory://`` — in this process only; tests and throwaway servers.
- ``sqlite:///var/lib/kin/c1/store.db`` — the embedded default: one WAL file per cluster
  (``sqlite://relative.db`` for a relative path; ``?synchronous=normal`` trades the
  last commits before a power loss for speed, never those before a process crash).
- ``etcd://127.0.0.1:2379[,host:port...][?prefix=/registry]`` — etcd v3 over its JSON
  gateway on plain HTTP; ``prefix`` is where ``/registry`` lives in etcd.

History is kept until ``compact()``; ``compact_periodically`` is the policy the API
server runs, Kubernetes' own: every ``interval`` (5 minutes), compact to the revision
seen one interval earlier, so between one and two intervals of history stay
available to watches that resume and to paged lists that continue.
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import parse_qs, urlsplit

from kin.apiserver import errors
from kin.apiserver.storage.base import ADDED, DELETED, MODIFIED, Event, Storage
from kin.apiserver.storage.keys import ROOT
from kin.apiserver.storage.memory import MemoryStorage
from kin.apiserver.storage.sqlite import SqliteStorage

__all__ = [
    "ADDED",
    "BACKENDS",
    "DELETED",
    "MODIFIED",
    "Event",
    "MemoryStorage",
    "SqliteStorage",
    "Storage",
    "compact_periodically",
    "open_storage",
]

BACKENDS = ("memory", "sqlite", "etcd")
COMPACT_INTERVAL = 300.0
log = logging.getLogger(__name__)


async def open_storage(url: str, wait: float = 0.0) -> Storage:
    """The Storage a URL names (see the module docstring); 400 for a URL it cannot use.
    A remote datastore (etcd) is waited for up to ``wait`` seconds."""
    scheme, separator, rest = url.partition("://")
    if scheme == "memory" and separator and not rest:
        return MemoryStorage()
    if scheme == "sqlite" and rest:
        path, _, query = rest.partition("?")
        synchronous = _options(query, url).get("synchronous", "full")
        return await SqliteStorage.open(path, synchronous)
    if scheme == "etcd" and rest:
        parts = urlsplit(url)
        endpoints = [f"http://{host}" for host in parts.netloc.split(",") if host]
        prefix = _options(parts.query, url).get("prefix", ROOT)
        if endpoints and not parts.path.strip("/"):
            # imported here: gRPC adds 11 MiB to a server that stores in SQLite
            from kin.apiserver.storage.etcd import EtcdStorage

            return await EtcdStorage.open(endpoints, prefix, wait=wait)
    raise errors.bad_request(
        f"invalid storage URL {url!r}: want memory://, sqlite://<path> or etcd://<host:port>,..."
    )


def _options(query: str, url: str) -> dict[str, str]:
    options = {name: values[-1] for name, values in parse_qs(query).items()}
    unknown = set(options) - {"synchronous", "prefix"}
    if unknown:
        raise errors.bad_request(f"invalid storage URL {url!r}: unknown option {sorted(unknown)}")
    return options


async def compact_periodically(storage: Storage, interval: float = COMPACT_INTERVAL) -> None:
    """Forever: every ``interval`` seconds compact to the revision seen one interval ago.
    Failures are logged and retried at the next tick; cancel the task to stop."""
    seen = await storage.revision()
    while True:
        await asyncio.sleep(interval)
        try:
            current = await storage.revision()
            await storage.compact(seen)
            log.debug("compacted storage to revision %d", seen)
            seen = current
        except errors.APIError as exc:
            log.warning("storage compaction to revision %d failed: %s", seen, exc)
