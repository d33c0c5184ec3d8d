"""The etcd v3 Storage: the distributed choice, over etcd's gRPC API.

etcd already has the semantics ``base.Storage`` asks for (Kubernetes took them from
it), so this module only translates: etcd's store revision is the resourceVersion;
create is a transaction on ``create_revision == 0``; update and delete compare
``mod_revision`` (or ``create_revision > 0``, "exists") and read the key back in the
failure branch to tell NotFound from Conflict; a paged list is a range at the first
page's revision; a watch is one etcd watch with ``prev_kv`` (read through etcd's JSON
gateway: ``kin.etcd.watchstream`` says why), so DELETED carries the last state. History
lasts until someone compacts (``kin.apiserver.storage.compact_periodically``); "required
revision has been compacted" becomes 410.

The transport is ``kin.etcd.client`` (shared with flanneld); its errors become
APIErrors here.

Storage keys start with ``/registry`` (``keys.ROOT``); in etcd that root becomes the
configured ``prefix`` (default ``/registry``, which keeps etcd's keys where
Kubernetes keeps them), so several clusters can share one etcd. Endpoints are tried
in order; when none answers, the error is a 503 naming etcd and the endpoints.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable
from typing import Any, TypeVar

from kin.apiserver import errors
from kin.apiserver.storage import keys
from kin.apiserver.storage.base import ADDED, DELETED, MODIFIED, Event, Texts
from kin.errors import APIError
from kin.etcd.client import EtcdClient, EtcdError, EtcdUnavailable, pb, prefix_end

__all__ = ["EtcdStorage"]

Rows = list[tuple[str, int, str | bytes]]
Events = list[Event]
T = TypeVar("T")
TIMEOUT = 10.0
STARTUP_POLL = 0.2
log = logging.getLogger(__name__)
WATCH_RETRY_SECONDS = 15.0


class EtcdStorage:
    """A ``Storage`` in etcd v3; open with ``await EtcdStorage.open([urls], prefix)``."""

    def __init__(self, endpoints: list[str], prefix: str = keys.ROOT, timeout: float = TIMEOUT):
        if not endpoints:
            raise errors.bad_request("etcd storage needs at least one endpoint")
        self._etcd = EtcdClient(endpoints, timeout)
        self.endpoints = self._etcd.endpoints
        self.prefix = prefix.rstrip("/").encode()
        self._closed = False

    @classmethod
    async def open(
        cls, endpoints: list[str], prefix: str = keys.ROOT, timeout: float = TIMEOUT,
        wait: float = 0.0,
    ) -> EtcdStorage:  # fmt: skip
        """Connect and check that etcd answers, asking again for up to ``wait`` seconds (an
        etcd static pod may start after the API server's); 503 if it never does."""
        store = cls(endpoints, prefix, timeout)
        deadline = time.monotonic() + wait
        try:
            while True:
                try:
                    await store.revision()
                    return store
                except APIError as exc:
                    if time.monotonic() >= deadline:
                        raise
                    log.info("waiting for etcd at %s: %s", ",".join(endpoints), exc.message)
                    await asyncio.sleep(STARTUP_POLL)
        except BaseException:
            await store.close()
            raise

    async def create(self, key: str, obj: dict[str, Any]) -> dict[str, Any]:
        key, (stored, text) = keys.check_key(key), keys.prepare(obj)
        request = self._put_request(key, text, None, absent=True)
        reply = await self._ask(self._etcd.send_txn(request))
        if not reply.succeeded:
            raise keys.already_exists(key)
        return keys.revised(stored, reply.header.revision)

    async def get(self, key: str) -> dict[str, Any]:
        key = keys.check_key(key)
        reply = await self._ask(self._etcd.range(self._key(key)))
        if not reply.kvs:
            raise keys.not_found(key)
        kv = reply.kvs[0]
        return keys.decode(kv.value, kv.mod_revision, key)

    async def update(
        self, key: str, obj: dict[str, Any], expected_revision: int | None = None
    ) -> dict[str, Any]:
        key, text = keys.check_key(key), keys.encode(obj)
        expected = keys.check_expected(expected_revision)
        reply = await self._ask(self._etcd.send_txn(self._put_request(key, text, expected)))
        self._check_succeeded(key, reply)
        return keys.decode(text, reply.header.revision, key)

    async def delete(self, key: str, expected_revision: int | None = None) -> dict[str, Any]:
        key, expected = keys.check_key(key), keys.check_expected(expected_revision)
        request = self._txn_request(key, expected)
        delete = request.success.add().request_delete_range
        delete.key, delete.prev_kv = request.compare[0].key, True
        reply = await self._ask(self._etcd.send_txn(request))
        self._check_succeeded(key, reply)
        previous = reply.responses[0].response_delete_range.prev_kvs[0]
        return keys.decode(previous.value, reply.header.revision, key)

    async def list(
        self, prefix: str, limit: int = 0, continue_after: str = "", revision: int = 0
    ) -> tuple[list[dict[str, Any]], int, str]:
        rows, at, last = await self._rows(prefix, limit, continue_after, revision)
        return keys.decode_many(rows), at, last

    async def list_json(
        self, prefix: str, limit: int = 0, continue_after: str = "", revision: int = 0
    ) -> tuple[Texts, int, str]:
        rows, at, last = await self._rows(prefix, limit, continue_after, revision)
        return keys.list_items(rows), at, last

    async def _rows(
        self, prefix: str, limit: int, continue_after: str, revision: int
    ) -> tuple[Rows, int, str]:
        prefix, limit = keys.check_prefix(prefix), keys.check_limit(limit)
        revision, after = keys.check_revision(revision), keys.check_continue(continue_after)
        start = self._key(prefix)
        if after:
            start = max(start, self._key(after) + b"\x00")
        end = prefix_end(self._key(prefix))
        try:
            reply = await self._ask(self._etcd.range(start, end, limit, revision))
        except APIError as exc:
            if exc.code == 410:
                raise errors.expired(f"too old resource version: {revision}") from exc
            raise
        found: Rows = [(self._storage_key(kv.key), kv.mod_revision, kv.value) for kv in reply.kvs]
        more = reply.more and bool(found)
        return found, revision or reply.header.revision, found[-1][0] if more else ""

    def watch(self, prefix: str, after: int) -> AsyncIterator[Event]:
        prefix, after = keys.check_prefix(prefix), keys.check_revision(after, "resourceVersion")
        return self._watch(prefix, after)

    async def revision(self) -> int:
        reply = await self._ask(self._etcd.range(self.prefix, keys_only=True))
        return reply.header.revision

    async def compact(self, revision: int) -> None:
        revision = keys.check_revision(revision)
        try:
            await self._ask(self._etcd.compact(revision))
        except APIError as exc:
            if exc.code == 410 or revision == 0:
                return  # already compacted that far
            if exc.code == 504:
                raise errors.bad_request(f"cannot compact to revision {revision}: {exc}") from exc
            raise

    async def close(self) -> None:
        self._closed = True
        await self._etcd.close()

    # --- keys --------------------------------------------------------------------------

    def _key(self, key: str) -> bytes:
        return self.prefix + key[len(keys.ROOT) :].encode()

    def _storage_key(self, key: bytes) -> str:
        return keys.ROOT + key[len(self.prefix) :].decode()

    # --- transactions ------------------------------------------------------------------

    def _txn_request(self, key: str, expected: int | None, absent: bool = False) -> pb.TxnRequest:
        """A transaction on ``key`` whose compares say ``absent`` (the key does not exist)
        or that it exists, and with ``expected`` that its mod_revision is that; when they
        fail, it reads the key (so a 404 and a 409 can be told apart). Built in place:
        nested messages passed to constructors are copied, a create's 6 KB value twice."""
        request = pb.TxnRequest()
        etcd_key = self._key(key)
        result = pb.Compare.EQUAL if absent else pb.Compare.GREATER
        # create_revision=0 is set, not left out: the oneof must say which field it holds
        request.compare.add(key=etcd_key, target=pb.Compare.CREATE, result=result,
                            create_revision=0)  # fmt: skip
        if expected is not None:
            request.compare.add(key=etcd_key, target=pb.Compare.MOD, mod_revision=expected)
        if not absent:
            read = request.failure.add().request_range
            read.key, read.keys_only = etcd_key, True
        return request

    def _put_request(
        self, key: str, text: str, expected: int | None, absent: bool = False
    ) -> pb.TxnRequest:
        """``_txn_request`` that writes ``text`` at ``key`` when its compares hold."""
        request = self._txn_request(key, expected, absent)
        put = request.success.add().request_put
        put.key, put.value = request.compare[0].key, text.encode()
        return request

    @staticmethod
    def _check_succeeded(key: str, reply: pb.TxnResponse) -> None:
        if reply.succeeded:
            return
        found = reply.responses[0].response_range.kvs
        raise keys.conflict(key) if found else keys.not_found(key)

    # --- transport ---------------------------------------------------------------------

    async def _ask(self, call: Awaitable[T]) -> T:
        """``call``'s reply; etcd's errors become APIErrors."""
        if self._closed:
            if asyncio.iscoroutine(call):
                call.close()
            raise keys.unavailable("etcd", "the store is closed")
        try:
            return await call
        except EtcdUnavailable as exc:
            raise keys.unavailable("etcd", exc.message) from exc
        except EtcdError as exc:
            raise _error(exc.message, exc.url) from exc

    # --- watch -------------------------------------------------------------------------

    async def _watch(self, prefix: str, after: int) -> AsyncIterator[Event]:
        """Follow one watch stream; if it breaks (etcd restarting, an endpoint gone),
        reconnect from the last revision delivered, for up to WATCH_RETRY_SECONDS of
        failures in a row; then 503."""
        loop, last, broken_since = asyncio.get_running_loop(), after, 0.0
        while not self._closed:
            attempt = loop.time()
            try:
                async for event in self._watch_stream(prefix, last):
                    yield event
                    last = event.revision
            except APIError as exc:
                if self._closed:
                    return
                now = loop.time()
                if not broken_since or now - attempt > 1.0:  # it had been working
                    broken_since = now
                if exc.code != 503 or now - broken_since > WATCH_RETRY_SECONDS:
                    raise
                self._etcd.rotate()
                await asyncio.sleep(min(1.0, 0.1 + (now - broken_since) / 4))

    async def _watch_stream(self, prefix: str, after: int) -> AsyncIterator[Event]:
        start = self._key(prefix)
        stream = self._etcd.watch(start, prefix_end(start), after + 1, prev_kv=True)
        try:
            async for message in stream:
                for event in self._events(message, after):
                    yield event
                    after = event.revision
        except EtcdUnavailable as exc:
            raise keys.unavailable("etcd", str(exc)) from exc
        except EtcdError as exc:
            raise _error(exc.message, exc.url) from exc

    def _events(self, message: pb.WatchResponse, after: int) -> Events:
        if message.canceled:
            if message.compact_revision:
                raise keys.expired(after, message.compact_revision)
            reason = message.cancel_reason or "canceled"
            raise errors.internal(f"etcd canceled the watch: {reason}")
        events = [self._event(raw) for raw in message.events]
        return [event for event in events if event.revision > after]

    def _event(self, raw: pb.Event) -> Event:
        kv = raw.kv
        key, revision = self._storage_key(kv.key), kv.mod_revision
        if raw.type == pb.Event.DELETE:
            text = raw.prev_kv.value if raw.HasField("prev_kv") else _tombstone(key)
            return Event(DELETED, key, keys.decode(text, revision, key), revision)
        kind = ADDED if kv.create_revision == kv.mod_revision else MODIFIED
        return Event(kind, key, keys.decode(kv.value, revision, key), revision)


def _tombstone(key: str) -> bytes:
    """The last state of an object whose previous version etcd no longer has."""
    return json.dumps({"metadata": {"name": keys.identify(key)[1]}}).encode()


def _error(message: str, where: str) -> APIError:
    if "required revision has been compacted" in message:
        return errors.expired(f"too old resource version: {message}")
    if "future revision" in message:
        return APIError(504, "Timeout", f"Too large resource version: {message}")
    if "too large" in message:
        return errors.too_large(f"etcd: {message}")
    return errors.internal(f"etcd at {where}: {message}")
