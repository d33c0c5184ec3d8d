"""A list-then-watch cache of one resource, as client-go's informers keep one.

The objects are kept by ``namespace/name`` and current from a watch that starts at the
list's resource version; a 410 (the version was compacted away) or a broken stream makes
it list again, after a short back-off, and report what changed meanwhile. Each change is
passed to every handler, ``on_change(kind, obj)`` (``ADDED``, ``MODIFIED``, ``DELETED``), so
one informer serves several controllers; a handler that raises is logged and the informer
goes on. ``remember`` puts an object a client just wrote into the cache at once, so the
writer's next decision sees its own write (client-go's "expectations" serve that purpose).
Versions guard the cache: a relist keeps objects newer than its snapshot (written while
it ran), a watch event older than the cached object is skipped, and a remembered object
older than its deletion does not come back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from kin.errors import APIError
from kin.kube.client import Client

__all__ = ["Informer", "key_of"]

log = logging.getLogger("kin.kube")
Obj = dict[str, Any]
Handler = Callable[[str, Obj], Awaitable[None] | None]
BACKOFF = (0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0)
TOMBSTONES = 4096


def key_of(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace")
    return f"{namespace}/{meta.get('name')}" if namespace else str(meta.get("name"))


class Informer:
    def __init__(
        self, api: Client, path: str, on_change: Handler | None = None, **params: str
    ) -> None:
        self.api = api
        self.path = path
        self.params = params
        self.handlers: list[Handler] = [on_change] if on_change else []
        self.objects: dict[str, Obj] = {}
        self.synced = asyncio.Event()
        self.deleted: dict[str, int] = {}
        """Key -> the version it was deleted at (the latest TOMBSTONES of them)."""

    async def run(self) -> None:
        failures = 0
        while True:
            try:
                version = await self._list()
                async for kind, obj in self.api.watch(self.path, version, **self.params):
                    failures = 0  # only a watch that delivers resets the back-off
                    if kind != "BOOKMARK":
                        await self._apply(kind, obj)
            except APIError as exc:
                if exc.code != 410:
                    log.info("watch %s: %s; listing again", self.path, exc.message)
            except Exception as exc:  # a garbled stream: list again, never die
                log.warning("watch %s: %s: %s; listing again", self.path, type(exc).__name__, exc)
            failures += 1
            await asyncio.sleep(BACKOFF[min(failures, len(BACKOFF)) - 1])

    def add_handler(self, handler: Handler) -> None:
        self.handlers.append(handler)

    def remember(self, obj: Obj) -> None:
        """Cache ``obj`` (just written by this process) unless the cache has a newer one
        or the object was deleted since."""
        key = key_of(obj)
        if _version(obj) <= self.deleted.get(key, -1):
            return
        if _version(obj) >= _version(self.objects.get(key)):
            self.objects[key] = obj

    def forget(self, obj: Obj) -> None:
        self.objects.pop(key_of(obj), None)

    async def _list(self) -> str:
        listed = await self.api.get(self.path, **self.params)
        fresh = {key_of(item): item for item in listed.get("items") or []}
        snapshot = _version(listed)
        for key, obj in self.objects.items():  # written after the list's snapshot: keep
            if key not in fresh and snapshot >= 0 and _version(obj) > snapshot:
                fresh[key] = obj
        gone = [self.objects[k] for k in self.objects.keys() - fresh.keys()]
        changed = [o for k, o in fresh.items() if self.objects.get(k) != o]
        self.objects = fresh
        self.synced.set()
        for obj in gone:
            await self._notify("DELETED", obj)
        for obj in changed:
            await self._notify("MODIFIED", obj)
        return str(listed.get("metadata", {}).get("resourceVersion", ""))

    async def _apply(self, kind: str, obj: Obj) -> None:
        key = key_of(obj)
        if kind == "DELETED":
            self.objects.pop(key, None)
            self.deleted[key] = _version(obj)
            if len(self.deleted) > TOMBSTONES:
                del self.deleted[next(iter(self.deleted))]
        elif _version(obj) < _version(self.objects.get(key)):
            return  # older than what this process already wrote and cached
        else:
            self.objects[key] = obj
        await self._notify(kind, obj)

    async def _notify(self, kind: str, obj: Obj) -> None:
        for handler in self.handlers:
            try:
                result = handler(kind, obj)
                if result is not None:
                    await result
            except Exception:
                log.exception("handling %s %s failed", kind, key_of(obj))


def _version(obj: Obj | None) -> int:
    """kin's resource versions are integers (SQLite row ids, etcd revisions)."""
    text = str(((obj or {}).get("metadata") or {}).get("resourceVersion") or "")
    return int(text) if text.isdigit() else -1
