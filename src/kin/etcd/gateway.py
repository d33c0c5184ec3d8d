"""etcd v3 through its JSON gRPC gateway: one POST per call, one streaming POST per watch.

Why the gateway and not gRPC: it needs only aiohttp, which kin has anyway, and it is
what etcd documents for non-Go clients; keys and values travel as base64 (and JSON goes
through orjson: a 5,000-pod range is 43 MB of it). Endpoints are
tried in order, starting with the one that answered last; when none answers the error is
``EtcdUnavailable`` naming every endpoint and why. An answer that is not 200 is an
``EtcdError`` carrying etcd's message and reply, which callers turn into their own errors
(the API server's storage: 410 for "compacted", and so on).
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson

from kin.errors import KinError

__all__ = ["EtcdError", "EtcdUnavailable", "Gateway", "b64", "prefix_end", "unb64"]

Json = dict[str, Any]
HEADERS = {"Content-Type": "application/json"}


class EtcdError(KinError):
    """etcd answered, with an error: ``message`` is etcd's, ``reply`` its whole answer."""

    def __init__(self, message: str, url: str, status: int = 0, reply: Json | None = None) -> None:
        super().__init__(f"etcd at {url}: {message}")
        self.message, self.url, self.status, self.reply = message, url, status, reply or {}


class EtcdUnavailable(EtcdError):
    """No endpoint answered (or a watch stream broke)."""


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: str) -> bytes:
    return base64.b64decode(text)


def prefix_end(prefix: bytes) -> bytes:
    """etcd's range_end for every key starting with ``prefix``: its last byte that can be
    incremented, incremented, and the bytes after it dropped (``\\0``: to the end)."""
    end = bytearray(prefix)
    while end and end[-1] == 0xFF:
        end.pop()
    if end:
        end[-1] += 1
    return bytes(end) or b"\x00"


class Gateway:
    def __init__(self, endpoints: list[str], timeout: float = 10.0) -> None:
        if not endpoints:
            raise KinError("etcd: no endpoints given")
        self.endpoints = [url.rstrip("/") for url in endpoints]
        self.timeout = timeout
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        self._preferred = 0
        self._streams: set[aiohttp.ClientResponse] = set()  # closing the session leaves them

    def rotate(self) -> None:
        """Prefer the next endpoint (a watch that broke on this one)."""
        self._preferred = (self._preferred + 1) % len(self.endpoints)

    async def close(self) -> None:
        for response in self._streams:
            response.close()
        await self._session.close()

    async def post(self, path: str, body: Json) -> Json:
        """POST ``body`` to the first endpoint that answers; its JSON reply."""
        failures: list[str] = []
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        for attempt in range(len(self.endpoints)):
            index = (self._preferred + attempt) % len(self.endpoints)
            url = self.endpoints[index] + path
            try:
                async with self._session.post(
                    url, data=_dumps(body), headers=HEADERS, timeout=timeout
                ) as response:
                    reply = _reply(response.status, await response.read(), url)
            except (aiohttp.ClientError, TimeoutError) as exc:
                failures.append(f"{url}: {exc or type(exc).__name__}")
                continue
            self._preferred = index
            return reply
        raise EtcdUnavailable("; ".join(failures), ", ".join(self.endpoints))

    async def stream(self, path: str, body: Json) -> AsyncIterator[Json]:
        """The messages of one streaming POST to the preferred endpoint, until it ends
        (``EtcdUnavailable``: a watch stream never ends while etcd is up)."""
        url = self.endpoints[self._preferred] + path
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.timeout)
        try:
            async with self._session.post(
                url, data=_dumps(body), headers=HEADERS, timeout=timeout
            ) as response:
                if response.status != 200:
                    _reply(response.status, await response.read(), url)
                self._streams.add(response)
                try:
                    async for message in _messages(response):
                        yield message
                finally:
                    self._streams.discard(response)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise EtcdUnavailable(f"{path}: {exc or type(exc).__name__}", url) from exc
        raise EtcdUnavailable(f"{path}: the stream ended", url)


def _dumps(body: Json) -> bytes:
    return orjson.dumps(body)


def _reply(status: int, payload: bytes, url: str) -> Json:
    try:
        reply = orjson.loads(payload)
    except ValueError:
        raise EtcdError(f"answered {status} with no JSON", url, status) from None
    if not isinstance(reply, dict):
        raise EtcdError(
            f"answered {status} with {type(reply).__name__}, not an object", url, status
        )
    if status != 200:
        message = str(reply.get("message") or reply.get("error") or reply)
        raise EtcdError(message, url, status, reply)
    return reply


async def _messages(response: aiohttp.ClientResponse) -> AsyncIterator[Json]:
    """The newline-delimited JSON messages of a streaming gateway response."""
    buffer, scanned = bytearray(), 0
    async for chunk in response.content.iter_any():
        buffer += chunk
        while (end := buffer.find(b"\n", scanned)) >= 0:
            message = orjson.loads(buffer[:end])
            del buffer[: end + 1]
            scanned = 0
            if isinstance(message, dict):
                yield message
        scanned = len(buffer)
