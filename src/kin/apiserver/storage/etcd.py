"""The etcd v3 Storage: the distributed choice, over etcd's JSON gRPC gateway.

etcd already has the semantics ``base.Storage`` asks for (Kubernetes took them from
it), so this module only translates: etcd's store revision is the resourceVersion;
create is a transaction on ``create_revision == 0``; update and delete compare
``mod_revision`` (or ``create_revision > 0``, "exists") and read the key back in the
failure branch to tell NotFound from Conflict; a paged list is a range at the first
page's revision; a watch is one streaming ``/v3/watch`` request with ``prev_kv``, so
DELETED carries the last state. History lasts until someone compacts
(``kin.apiserver.storage.compact_periodically``); "required revision has been
compacted" becomes 410.

The transport is ``kin.etcd.gateway`` (etcd's JSON gateway, shared with flanneld): one
HTTP connection per watch, base64 for keys and values; its errors become APIErrors here.

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
from collections.abc import AsyncIterator
from typing import Any

from kin.apiserver import errors
from kin.apiserver.storage import keys
from kin.apiserver.storage.base import ADDED, DELETED, MODIFIED, Event, Texts
from kin.errors import APIError
from kin.etcd.gateway import EtcdError, EtcdUnavailable, Gateway, b64, prefix_end, unb64

__all__ = ["EtcdStorage"]

Rows = list[tuple[str, int, str | bytes]]

Json = dict[str, Any]
Jsons = list[Json]
Events = list[Event]
TIMEOUT = 10.0
STARTUP_POLL = 0.2
log = logging.getLogger(__name__)
WATCH_RETRY_SECONDS = 15.0


class EtcdStorage:
    """A ``Storage`` in etcd v3; open with ``await EtcdStorage.open([urls], prefix)``."""

    def __init__(self, endpoints: list[str], prefix: str = keys.ROOT, timeout: float = TIMEOUT):
        if not endpoints:
            raise errors.bad_request("etcd storage needs at least one endpoint")
        self._gateway = Gateway(endpoints, timeout)
        self.endpoints = self._gateway.endpoints
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
        put = {"request_put": {"key": self._etcd_key(key), "value": b64(text.encode())}}
        reply = await self._txn(self._compare(key, None, absent=True), put)
        if not reply.get("succeeded"):
            raise keys.already_exists(key)
        return keys.revised(stored, _revision(reply))

    async def get(self, key: str) -> dict[str, Any]:
        key = keys.check_key(key)
        reply = await self._post("/v3/kv/range", {"key": self._etcd_key(key)})
        kvs = reply.get("kvs") or []
        if not kvs:
            raise keys.not_found(key)
        return keys.decode(unb64(kvs[0]["value"]), int(kvs[0]["mod_revision"]), key)

    async def update(
        self, key: str, obj: dict[str, Any], expected_revision: int | None = None
    ) -> dict[str, Any]:
        key, text = keys.check_key(key), keys.encode(obj)
        expected = keys.check_expected(expected_revision)
        put = {"request_put": {"key": self._etcd_key(key), "value": b64(text.encode())}}
        reply = await self._txn(self._compare(key, expected), put, self._range_op(key))
        self._check_succeeded(key, reply)
        return keys.decode(text, _revision(reply), key)

    async def delete(self, key: str, expected_revision: int | None = None) -> dict[str, Any]:
        key, expected = keys.check_key(key), keys.check_expected(expected_revision)
        op = {"request_delete_range": {"key": self._etcd_key(key), "prev_kv": True}}
        reply = await self._txn(self._compare(key, expected), op, self._range_op(key))
        self._check_succeeded(key, reply)
        previous = reply["responses"][0]["response_delete_range"]["prev_kvs"][0]
        return keys.decode(unb64(previous["value"]), _revision(reply), key)

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
        start = self._etcd_bytes(prefix)
        if after:
            start = max(start, self._etcd_bytes(after) + b"\x00")
        body = {"key": b64(start), "range_end": self._range_end(prefix)}
        if limit:
            body["limit"] = str(limit)
        if revision:
            body["revision"] = str(revision)
        try:
            reply = await self._post("/v3/kv/range", body)
        except APIError as exc:
            if exc.code == 410:
                raise errors.expired(f"too old resource version: {revision}") from exc
            raise
        found: Rows = [
            (self._storage_key(kv["key"]), int(kv["mod_revision"]), unb64(kv["value"]))
            for kv in reply.get("kvs") or []
        ]
        more = bool(reply.get("more")) and bool(found)
        return found, revision or _revision(reply), found[-1][0] if more else ""

    def watch(self, prefix: str, after: int) -> AsyncIterator[Event]:
        prefix, after = keys.check_prefix(prefix), keys.check_revision(after, "resourceVersion")
        return self._watch(prefix, after)

    async def revision(self) -> int:
        reply = await self._post("/v3/kv/range", {"key": b64(self.prefix), "keys_only": True})
        return _revision(reply)

    async def compact(self, revision: int) -> None:
        revision = keys.check_revision(revision)
        try:
            await self._post("/v3/kv/compaction", {"revision": str(revision)})
        except APIError as exc:
            if exc.code == 410 or revision == 0:
                return  # already compacted that far
            if exc.code == 504:
                raise errors.bad_request(f"cannot compact to revision {revision}: {exc}") from exc
            raise

    async def close(self) -> None:
        self._closed = True
        await self._gateway.close()

    # --- keys --------------------------------------------------------------------------

    def _etcd_bytes(self, key: str) -> bytes:
        return self.prefix + key[len(keys.ROOT) :].encode()

    def _etcd_key(self, key: str) -> str:
        return b64(self._etcd_bytes(key))

    def _storage_key(self, encoded: str) -> str:
        return keys.ROOT + unb64(encoded)[len(self.prefix) :].decode()

    def _range_end(self, prefix: str) -> str:
        return b64(prefix_end(self._etcd_bytes(prefix)))

    # --- transactions ------------------------------------------------------------------

    def _compare(self, key: str, expected: int | None, absent: bool = False) -> Jsons:
        """``absent``: the key does not exist; otherwise it exists, and with ``expected``
        its mod_revision is that."""
        target = {"key": self._etcd_key(key), "target": "CREATE", "create_revision": "0"}
        if absent:
            return [target | {"result": "EQUAL"}]
        compares = [target | {"result": "GREATER"}]
        if expected is not None:
            mod = {"target": "MOD", "result": "EQUAL", "mod_revision": str(expected)}
            compares.append({"key": target["key"]} | mod)
        return compares

    def _range_op(self, key: str) -> Json:
        return {"request_range": {"key": self._etcd_key(key), "keys_only": True}}

    async def _txn(self, compare: Jsons, success: Json, failure: Json | None = None) -> Json:
        body = {"compare": compare, "success": [success], "failure": [failure] if failure else []}
        return await self._post("/v3/kv/txn", body)

    @staticmethod
    def _check_succeeded(key: str, reply: Json) -> None:
        if reply.get("succeeded"):
            return
        found = reply["responses"][0]["response_range"].get("kvs")
        raise keys.conflict(key) if found else keys.not_found(key)

    # --- transport ---------------------------------------------------------------------

    async def _post(self, path: str, body: Json) -> Json:
        """POST through the gateway; etcd's errors become APIErrors."""
        if self._closed:
            raise keys.unavailable("etcd", "the store is closed")
        try:
            return await self._gateway.post(path, body)
        except EtcdUnavailable as exc:
            raise keys.unavailable("etcd", exc.message) from exc
        except EtcdError as exc:
            raise _error(exc.reply or exc.message, exc.url) from exc

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
                self._gateway.rotate()
                await asyncio.sleep(min(1.0, 0.1 + (now - broken_since) / 4))

    async def _watch_stream(self, prefix: str, after: int) -> AsyncIterator[Event]:
        request = {
            "key": b64(self._etcd_bytes(prefix)),
            "range_end": self._range_end(prefix),
            "start_revision": str(after + 1),
            "prev_kv": True,
        }
        try:
            async for message in self._gateway.stream("/v3/watch", {"create_request": request}):
                for event in self._events(message, after):
                    yield event
                    after = event.revision
        except EtcdUnavailable as exc:
            raise keys.unavailable("etcd", str(exc)) from exc
        except EtcdError as exc:
            raise _error(exc.reply or exc.message, exc.url) from exc

    def _events(self, message: Json, after: int) -> Events:
        result = message.get("result")
        if result is None:
            raise _error(message.get("error", message), "watch")
        if result.get("canceled"):
            compacted = int(result.get("compact_revision", 0))
            if compacted:
                raise keys.expired(after, compacted)
            reason = result.get("cancel_reason", "canceled")
            raise errors.internal(f"etcd canceled the watch: {reason}")
        events = [self._event(raw) for raw in result.get("events") or []]
        return [event for event in events if event.revision > after]

    def _event(self, raw: Json) -> Event:
        kv = raw["kv"]
        key, revision = self._storage_key(kv["key"]), int(kv["mod_revision"])
        if raw.get("type") == "DELETE":
            previous = raw.get("prev_kv")
            text = unb64(previous["value"]) if previous else _tombstone(key)
            return Event(DELETED, key, keys.decode(text, revision, key), revision)
        kind = ADDED if kv.get("create_revision") == kv["mod_revision"] else MODIFIED
        return Event(kind, key, keys.decode(unb64(kv["value"]), revision, key), revision)


def _revision(reply: Json) -> int:
    return int(reply["header"]["revision"])


def _tombstone(key: str) -> bytes:
    """The last state of an object whose previous version etcd no longer has."""
    return json.dumps({"metadata": {"name": keys.identify(key)[1]}}).encode()


def _error(reply: Any, where: str) -> APIError:
    message = str(reply.get("message") or reply.get("error") if isinstance(reply, dict) else reply)
    if "required revision has been compacted" in message:
        return errors.expired(f"too old resource version: {message}")
    if "future revision" in message:
        return APIError(504, "Timeout", f"Too large resource version: {message}")
    if "too large" in message:
        return errors.too_large(f"etcd: {message}")
    return errors.internal(f"etcd at {where}: {message}")
