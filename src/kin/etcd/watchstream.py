"""etcd watches through etcd's JSON gateway (``POST /v3/watch``), read in the event loop.

Why not gRPC, which every other call uses (``client``): a gRPC stream hands each
message to Python through gRPC's own thread, one GIL hand-over per message. In a busy
API server the event loop holds the GIL almost all the time, so such a thread waits up
to the switch interval (5 ms) per message and falls behind etcd's writes. Measured on
this machine with 8 writers and a loop kept busy in 1 ms slices: a grpc.aio watch fell
1.9 s behind at p50 and a thread reading a synchronous gRPC stream 20 s (9 ms at p50 and
150 ms at p99 with a 0.5 ms switch interval); the gateway's chunked HTTP response is
read by the loop itself, many messages per read, and keeps up (the API server
benchmark's watch delivery: docs/apiserver.md). The messages become the same
``WatchResponse`` messages a gRPC watch gives, so callers do not know the difference.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson

from kin.etcd import rpc_pb2 as pb

__all__ = ["StreamBroke", "read_watch"]

Json = dict[str, Any]
HEADERS = {"Content-Type": "application/json"}


class StreamBroke(Exception):
    """The stream could not start, ended or failed; ``code`` says how (an HTTP status,
    ``EOF``, or the client error's name), ``details`` what was said."""

    def __init__(self, code: str, details: str) -> None:
        super().__init__(f"{code}: {details}")
        self.code, self.details = code, details


async def read_watch(
    session: aiohttp.ClientSession,
    url: str,
    create: pb.WatchCreateRequest,
    timeout: float,
    streams: set[aiohttp.ClientResponse],
) -> AsyncIterator[pb.WatchResponse]:
    """Every response of one watch from the gateway at ``url``, until the stream ends
    (``StreamBroke``) or the caller stops iterating (the connection is closed then).
    The open response is in ``streams`` meanwhile: closing the session leaves it open."""
    request = {
        "key": _b64(create.key),
        "range_end": _b64(create.range_end),
        "start_revision": str(create.start_revision),
        "prev_kv": create.prev_kv,
    }
    body = orjson.dumps({"create_request": request})
    limits = aiohttp.ClientTimeout(total=None, sock_connect=timeout)
    try:
        async with session.post(
            f"{url}/v3/watch", data=body, headers=HEADERS, timeout=limits
        ) as response:
            if response.status != 200:
                raise StreamBroke(str(response.status), (await response.read()).decode())
            streams.add(response)
            try:
                async for message in _messages(response):
                    if "result" not in message:
                        raise StreamBroke("ERROR", str(message.get("error") or message))
                    yield _response(message["result"])
            finally:
                streams.discard(response)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise StreamBroke(type(exc).__name__, str(exc) or type(exc).__name__) from exc
    raise StreamBroke("EOF", "the stream ended")


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


def _response(result: Json) -> pb.WatchResponse:
    header = result.get("header") or {}
    return pb.WatchResponse(
        header=pb.ResponseHeader(revision=int(header.get("revision", 0))),
        watch_id=int(result.get("watch_id", 0)),
        created=bool(result.get("created")),
        canceled=bool(result.get("canceled")),
        compact_revision=int(result.get("compact_revision", 0)),
        cancel_reason=str(result.get("cancel_reason", "")),
        events=[_event(raw) for raw in result.get("events") or ()],
    )


def _event(raw: Json) -> pb.Event:
    kind = pb.Event.DELETE if raw.get("type") == "DELETE" else pb.Event.PUT
    event = pb.Event(type=kind, kv=_kv(raw["kv"]))
    if raw.get("prev_kv"):
        event.prev_kv.CopyFrom(_kv(raw["prev_kv"]))
    return event


def _kv(raw: Json) -> pb.KeyValue:
    return pb.KeyValue(
        key=base64.b64decode(raw.get("key", "")),
        create_revision=int(raw.get("create_revision", 0)),
        mod_revision=int(raw.get("mod_revision", 0)),
        version=int(raw.get("version", 0)),
        value=base64.b64decode(raw.get("value", "")),
        lease=int(raw.get("lease", 0)),
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
