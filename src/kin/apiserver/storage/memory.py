"""The in-memory Storage: the reference the SQLite and etcd backends are tested against,
and the fake for API-server unit tests.

It keeps what etcd keeps, in plain Python: every version of every key since the
last compaction (so a paged list can finish at the revision it started at) and a log
of every change (so a watch can start from any revision still kept). Values are held
as JSON text, as the other backends hold them, so reads give fresh objects and bad
input fails here exactly as it fails there.

Every write yields to the event loop once *before* it reads (so a burst of writers
takes turns with watchers, as with a real datastore) and never between reading and
writing, so writes are atomic and serialized by the event loop itself. Nothing
survives ``close()``; history is kept until ``compact()`` (see
``kin.apiserver.storage.compact_periodically``).
"""

from __future__ import annotations

import asyncio
from bisect import bisect_left, bisect_right, insort
from collections.abc import AsyncIterator
from typing import Any

from kin.apiserver import errors
from kin.apiserver.storage import hub, keys
from kin.apiserver.storage.base import ADDED, DELETED, MODIFIED, Event, Texts

__all__ = ["MemoryStorage"]

Version = tuple[int, str | None]
"""(revision, JSON text); None is a tombstone."""
Found = list[tuple[str, int, str]]
"""(key, revision, JSON text) of objects a list found."""
CHUNK = 1000


class MemoryStorage:
    """A ``Storage`` held in this process's memory."""

    def __init__(self) -> None:
        self._revision = 0
        self._compacted = 0
        self._keys: list[str] = []  # sorted; every key with a kept version
        self._versions: dict[str, list[Version]] = {}
        self._log: list[hub.Change] = []  # contiguous revisions from _log_start
        self._log_start = 1
        self._hub = hub.Hub()
        self._closed = False

    async def create(self, key: str, obj: dict[str, Any]) -> dict[str, Any]:
        key, (stored, text) = keys.check_key(key), keys.prepare(obj)
        await asyncio.sleep(0)
        if self._current(key) is not None:
            raise keys.already_exists(key)
        return keys.revised(stored, self._write(key, text, ADDED, text))

    async def get(self, key: str) -> dict[str, Any]:
        key = keys.check_key(key)
        current = self._current(key)
        if current is None:
            raise keys.not_found(key)
        return keys.decode(current[1], current[0], key)

    async def update(
        self, key: str, obj: dict[str, Any], expected_revision: int | None = None
    ) -> dict[str, Any]:
        key, text = keys.check_key(key), keys.encode(obj)
        await asyncio.sleep(0)
        self._check_current(key, keys.check_expected(expected_revision))
        return keys.decode(text, self._write(key, text, MODIFIED, text), key)

    async def delete(self, key: str, expected_revision: int | None = None) -> dict[str, Any]:
        key = keys.check_key(key)
        await asyncio.sleep(0)
        last = self._check_current(key, keys.check_expected(expected_revision))
        return keys.decode(last, self._write(key, None, DELETED, last), key)

    async def list(
        self, prefix: str, limit: int = 0, continue_after: str = "", revision: int = 0
    ) -> tuple[list[dict[str, Any]], int, str]:
        rows, at, last = self._rows(prefix, limit, continue_after, revision)
        return keys.decode_many(rows), at, last

    async def list_json(
        self, prefix: str, limit: int = 0, continue_after: str = "", revision: int = 0
    ) -> tuple[Texts, int, str]:
        rows, at, last = self._rows(prefix, limit, continue_after, revision)
        return keys.list_items(rows), at, last

    def _rows(
        self, prefix: str, limit: int, continue_after: str, revision: int
    ) -> tuple[Found, int, str]:
        prefix, limit = keys.check_prefix(prefix), keys.check_limit(limit)
        after = keys.check_continue(continue_after)
        at = self._readable(keys.check_revision(revision))
        found = self._range(prefix, after, at, limit + 1 if limit else 0)
        more = bool(limit) and len(found) > limit
        found = found[:limit] if more else found
        return found, at, found[-1][0] if more else ""

    def watch(self, prefix: str, after: int) -> AsyncIterator[Event]:
        prefix, after = keys.check_prefix(prefix), keys.check_revision(after, "resourceVersion")
        return hub.watch(self._hub, self._history, prefix, after)

    async def revision(self) -> int:
        return self._revision

    async def compact(self, revision: int) -> None:
        revision = keys.check_revision(revision)
        if revision <= self._compacted:
            return
        if revision > self._revision:
            raise errors.bad_request(
                f"cannot compact to revision {revision}: the current revision is {self._revision}"
            )
        for key in [k for k in self._versions if not self._forget(k, revision)]:
            del self._versions[key]
        self._keys = [key for key in self._keys if key in self._versions]
        del self._log[: revision - self._log_start]
        self._log_start, self._compacted = revision, revision

    async def close(self) -> None:
        self._closed = True
        self._hub.close()

    def _write(self, key: str, text: str | None, kind: str, shown: str) -> int:
        if self._closed:
            raise keys.unavailable("memory", "the store is closed")
        self._revision += 1
        if key not in self._versions:
            insort(self._keys, key)
            self._versions[key] = []
        self._versions[key].append((self._revision, text))
        change = (self._revision, kind, key, shown)
        self._log.append(change)
        self._hub.publish([change])
        return self._revision

    def _current(self, key: str) -> tuple[int, str] | None:
        versions = self._versions.get(key)
        if not versions or versions[-1][1] is None:
            return None
        return versions[-1][0], versions[-1][1]

    def _check_current(self, key: str, expected: int | None) -> str:
        """The current text at ``key``, if it is there at the ``expected`` revision."""
        current = self._current(key)
        if current is None:
            raise keys.not_found(key)
        if expected is not None and expected != current[0]:
            raise keys.conflict(key)
        return current[1]

    def _readable(self, revision: int) -> int:
        """The revision a read at ``revision`` (0: now) sees; 410/504 outside history."""
        if revision and revision < self._compacted:
            raise keys.expired(revision, self._compacted)
        if revision > self._revision:
            raise keys.future_revision(revision, self._revision)
        return revision or self._revision

    def _range(self, prefix: str, after: str, at: int, limit: int) -> Found:
        """(key, revision, text) of live keys under ``prefix`` after key ``after`` at ``at``."""
        start = bisect_left(self._keys, prefix)
        if after:
            start = max(start, bisect_right(self._keys, after))
        found: Found = []
        for index in range(start, len(self._keys)):
            key = self._keys[index]
            if not key.startswith(prefix) or (limit and len(found) == limit):
                break
            version = self._version_at(key, at)
            if version is not None and version[1] is not None:
                found.append((key, version[0], version[1]))
        return found

    def _version_at(self, key: str, at: int) -> Version | None:
        versions = self._versions[key]
        index = bisect_right(versions, at, key=lambda v: v[0])
        return versions[index - 1] if index else None

    def _forget(self, key: str, revision: int) -> bool:
        """Drop versions of ``key`` no read at ``revision`` or later can see; True if any
        remain."""
        versions = self._versions[key]
        index = bisect_right(versions, revision, key=lambda v: v[0])
        if index:
            rev, text = versions[index - 1]
            keep_from = index if text is None and rev < revision else index - 1
            del versions[:keep_from]
        return bool(versions)

    async def _history(self, prefix: str, after: int) -> hub.Changes:
        if after + 1 < self._compacted:
            raise keys.expired(after, self._compacted)
        found: hub.Changes = []
        for index in range(max(after + 1 - self._log_start, 0), len(self._log)):
            change = self._log[index]
            if change[2].startswith(prefix):
                found.append(change)
                if len(found) == CHUNK:
                    break
        return found
