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

Why the gateway and not gRPC: the JSON gateway needs only aiohttp, which the API
server has anyway, and it is what etcd documents for non-Go clients. The cost is one
HTTP connection per watch (the connector is unbounded for that reason) and base64
for keys and values.

Storage keys start with ``/registry`` (``keys.ROOT``); in etcd that root becomes the
configured ``prefix`` (default ``/registry``, which keeps etcd's keys where
Kubernetes keeps them), so several clusters can share one etcd. Endpoints are tried
in order; when none answers, the error is a 503 naming etcd and the endpoints.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from kin.apiserver import errors, jsontext
from kin.apiserver.storage import keys
from kin.apiserver.storage.base import ADDED, DELETED, MODIFIED, Event, Texts
from kin.errors import APIError

__all__ = ["EtcdStorage"]

Rows = list[tuple[str, int, str | bytes]]

Json = dict[str, Any]
Jsons = list[Json]
Events = list[Event]
TIMEOUT = 10.0
JSON_HEADERS = {"Content-Type": "application/json"}
WATCH_RETRY_SECONDS = 15.0


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text)


class EtcdStorage:
    """A ``Storage`` in etcd v3; open with ``await EtcdStorage.open([urls], prefix)``."""

    def __init__(self, endpoints: list[str], prefix: str = keys.ROOT, timeout: float = TIMEOUT):
        if not endpoints:
            raise errors.bad_request("etcd storage needs at least one endpoint")
        self.endpoints = [url.rstrip("/") for url in endpoints]
        self.prefix = prefix.rstrip("/").encode()
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        self._preferred = 0
        self._streams: set[aiohttp.ClientResponse] = set()  # closing the session leaves them
        self._closed = False

    @classmethod
    async def open(
        cls, endpoints: list[str], prefix: str = keys.ROOT, timeout: float = TIMEOUT
    ) -> EtcdStorage:
        """Connect and check that etcd answers; 503 if it does not."""
        store = cls(endpoints, prefix, timeout)
        try:
            await store.revision()
        except BaseException:
            await store.close()
            raise
        return store

    async def create(self, key: str, obj: dict[str, Any]) -> dict[str, Any]:
        key, (stored, text) = keys.check_key(key), keys.prepare(obj)
        put = {"request_put": {"key": self._etcd_key(key), "value": _b64(text.encode())}}
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
        return keys.decode(_unb64(kvs[0]["value"]), int(kvs[0]["mod_revision"]), key)

    async def update(
        self, key: str, obj: dict[str, Any], expected_revision: int | None = None
    ) -> dict[str, Any]:
        key, text = keys.check_key(key), keys.encode(obj)
        expected = keys.check_expected(expected_revision)
        put = {"request_put": {"key": self._etcd_key(key), "value": _b64(text.encode())}}
        reply = await self._txn(self._compare(key, expected), put, self._range_op(key))
        self._check_succeeded(key, reply)
        return keys.decode(text, _revision(reply), key)

    async def delete(self, key: str, expected_revision: int | None = None) -> dict[str, Any]:
        key, expected = keys.check_key(key), keys.check_expected(expected_revision)
        op = {"request_delete_range": {"key": self._etcd_key(key), "prev_kv": True}}
        reply = await self._txn(self._compare(key, expected), op, self._range_op(key))
        self._check_succeeded(key, reply)
        previous = reply["responses"][0]["response_delete_range"]["prev_kvs"][0]
        return keys.decode(_unb64(previous["value"]), _revision(reply), key)

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
        body = {"key": _b64(start), "range_end": self._range_end(prefix)}
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
            (self._storage_key(kv["key"]), int(kv["mod_revision"]), _unb64(kv["value"]))
            for kv in reply.get("kvs") or []
        ]
        more = bool(reply.get("more")) and bool(found)
        return found, revision or _revision(reply), found[-1][0] if more else ""

    def watch(self, prefix: str, after: int) -> AsyncIterator[Event]:
        prefix, after = keys.check_prefix(prefix), keys.check_revision(after, "resourceVersion")
        return self._watch(prefix, after)

    async def revision(self) -> int:
        reply = await self._post("/v3/kv/range", {"key": _b64(self.prefix), "keys_only": True})
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
        for response in self._streams:
            response.close()
        await self._session.close()

    # --- keys --------------------------------------------------------------------------

    def _etcd_bytes(self, key: str) -> bytes:
        return self.prefix + key[len(keys.ROOT) :].encode()

    def _etcd_key(self, key: str) -> str:
        return _b64(self._etcd_bytes(key))

    def _storage_key(self, encoded: str) -> str:
        return keys.ROOT + _unb64(encoded)[len(self.prefix) :].decode()

    def _range_end(self, prefix: str) -> str:
        """etcd's range_end for every key starting with ``prefix``: increment its last
        byte that can be incremented, dropping the ones after it."""
        end = bytearray(self._etcd_bytes(prefix))
        while end and end[-1] == 0xFF:
            end.pop()
        if end:
            end[-1] += 1
        return _b64(bytes(end) or b"\x00")

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
        """POST to the first endpoint that answers; etcd's errors become APIErrors."""
        if self._closed:
            raise keys.unavailable("etcd", "the store is closed")
        failures: list[str] = []
        for attempt in range(len(self.endpoints)):
            index = (self._preferred + attempt) % len(self.endpoints)
            url = self.endpoints[index] + path
            try:
                async with self._session.post(
                    url, data=jsontext.dumps(body), headers=JSON_HEADERS, timeout=self._timeout
                ) as response:
                    reply = await _reply(response, url)
            except (aiohttp.ClientError, TimeoutError) as exc:
                failures.append(f"{url}: {exc or type(exc).__name__}")
                continue
            self._preferred = index
            return reply
        raise keys.unavailable("etcd", "; ".join(failures))

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
                self._preferred = (self._preferred + 1) % len(self.endpoints)
                await asyncio.sleep(min(1.0, 0.1 + (now - broken_since) / 4))

    async def _watch_stream(self, prefix: str, after: int) -> AsyncIterator[Event]:
        request = {
            "key": _b64(self._etcd_bytes(prefix)),
            "range_end": self._range_end(prefix),
            "start_revision": str(after + 1),
            "prev_kv": True,
        }
        url = self.endpoints[self._preferred] + "/v3/watch"
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self._timeout.total)
        try:
            async with self._session.post(
                url, json={"create_request": request}, timeout=timeout
            ) as response:
                if response.status != 200:
                    await _reply(response, url)
                self._streams.add(response)
                try:
                    async for message in _messages(response):
                        for event in self._events(message, after):
                            yield event
                            after = event.revision
                finally:
                    self._streams.discard(response)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise keys.unavailable("etcd", f"{url}: watch: {exc or type(exc).__name__}") from exc
        raise keys.unavailable("etcd", f"{url}: watch stream ended")

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
            text = _unb64(previous["value"]) if previous else _tombstone(key)
            return Event(DELETED, key, keys.decode(text, revision, key), revision)
        kind = ADDED if kv.get("create_revision") == kv["mod_revision"] else MODIFIED
        return Event(kind, key, keys.decode(_unb64(kv["value"]), revision, key), revision)


def _revision(reply: Json) -> int:
    return int(reply["header"]["revision"])


def _tombstone(key: str) -> bytes:
    """The last state of an object whose previous version etcd no longer has."""
    return json.dumps({"metadata": {"name": keys.identify(key)[1]}}).encode()


async def _reply(response: aiohttp.ClientResponse, url: str) -> Json:
    try:
        reply: Json = jsontext.loads(await response.read())
    except ValueError as exc:
        raise errors.internal(f"etcd at {url} answered {response.status} with no JSON") from exc
    if response.status != 200:
        raise _error(reply, url)
    return reply


def _error(reply: Any, where: str) -> APIError:
    message = str(reply.get("message") or reply.get("error") if isinstance(reply, dict) else reply)
    if "required revision has been compacted" in message:
        return errors.expired(f"too old resource version: {message}")
    if "future revision" in message:
        return APIError(504, "Timeout", f"Too large resource version: {message}")
    if "too large" in message:
        return errors.too_large(f"etcd: {message}")
    return errors.internal(f"etcd at {where}: {message}")


async def _messages(response: aiohttp.ClientResponse) -> AsyncIterator[Json]:
    """The newline-delimited JSON messages of a streaming gateway response."""
    buffer, scanned = bytearray(), 0
    async for chunk in response.content.iter_any():
        buffer += chunk
        while (end := buffer.find(b"\n", scanned)) >= 0:
            yield jsontext.loads(buffer[:end])
            del buffer[: end + 1]
            scanned = 0
        scanned = len(buffer)
