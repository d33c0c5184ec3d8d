"""The DNS server: UDP and TCP on port 53, answers from the current zone.

Every query is answered from memory: names in the cluster zone and the reverse zones
from ``kin.dns.records``, anything else NXDOMAIN at once, unless an upstream resolver was
configured (``--upstream``, off by default: then such queries are relayed to it over UDP
and its answer, or SERVFAIL after 2 s, goes back). UDP answers longer than the client
accepts (512 bytes, or its EDNS size) are cut and flagged TC, and the client asks again
over TCP, where messages carry a two-byte length. A query that cannot be read gets
FORMERR when its header can be, and is dropped otherwise; the server goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from collections.abc import Callable
from typing import cast

from kin.dns.records import Answer, Zone
from kin.dns.wire import (
    CLASS_IN,
    FORMERR,
    NOTIMP,
    NXDOMAIN,
    SERVFAIL,
    FormatError,
    Query,
    encode_response,
    parse_query,
)

__all__ = ["DnsServer"]

log = logging.getLogger("kin.dns")
UPSTREAM_TIMEOUT = 2.0
UDP_MINIMUM = 512


class DnsServer:
    def __init__(self, zone: Callable[[], Zone], upstream: tuple[str, int] | None = None) -> None:
        self.zone = zone
        self.upstream = upstream

    async def answer(self, packet: bytes, limit: int) -> bytes | None:
        """The reply to ``packet`` (None: drop it); ``limit`` 0 means TCP."""
        reply = self.answer_now(packet, limit)
        return await self.relay(packet, reply) if isinstance(reply, Query) else reply

    def answer_now(self, packet: bytes, limit: int) -> bytes | Query | None:
        """The reply, or the query itself when it is for the upstream resolver."""
        try:
            query = parse_query(packet)
        except FormatError as exc:
            return _format_error(packet, str(exc))
        size = 0 if limit == 0 else max(UDP_MINIMUM, query.edns_size)
        if query.qclass != CLASS_IN or query.flags & 0x7800:  # not IN, or not a plain QUERY
            return encode_response(query, NOTIMP, limit=size)
        zone = self.zone()
        name = query.name.lower()
        if zone.covers(name):
            reply = zone.lookup(name, query.qtype)
        elif self.upstream is not None:
            return query
        else:  # nothing leaves the cluster unless asked to
            reply = Answer(NXDOMAIN, authoritative=False)
        return encode_response(query, reply.rcode, reply.answers, reply.authority,
                               reply.additional, authoritative=reply.authoritative,
                               limit=size)  # fmt: skip

    async def relay(self, packet: bytes, query: Query) -> bytes:
        assert self.upstream is not None
        loop = asyncio.get_running_loop()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.setblocking(False)
            try:
                await loop.sock_connect(sock, self.upstream)
                await loop.sock_sendall(sock, packet)
                return await asyncio.wait_for(loop.sock_recv(sock, 65535), UPSTREAM_TIMEOUT)
            except (OSError, TimeoutError) as exc:
                log.info("upstream %s:%d did not answer %s: %s", *self.upstream, query.name, exc)
                return encode_response(query, SERVFAIL, authoritative=False)

    async def serve(
        self, host: str, port: int
    ) -> list[asyncio.AbstractServer | asyncio.BaseTransport]:
        """Listen on UDP and TCP ``host:port``; returns what to close to stop."""
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Udp(self), local_addr=(host, port), reuse_port=False
        )
        tcp = await asyncio.start_server(self._tcp_client, host, port)
        return [transport, tcp]

    async def _tcp_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                (length,) = struct.unpack("!H", await reader.readexactly(2))
                reply = await self.answer(await reader.readexactly(length), 0)
                if reply is None:
                    break
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, server: DnsServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            reply = self.server.answer_now(data, UDP_MINIMUM)
        except Exception:  # a bug must cost one query, not the server
            log.exception("answering a query from %s failed", addr[0])
            return
        if isinstance(reply, Query):  # only relays wait: everything else is answered now
            task = asyncio.ensure_future(self._relay(data, reply, addr))
            task.add_done_callback(_log_failure)
        elif reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)

    async def _relay(self, data: bytes, query: Query, addr: tuple[str, int]) -> None:
        reply = await self.server.relay(data, query)
        if self.transport is not None:
            self.transport.sendto(reply, addr)


def _log_failure(task: asyncio.Future[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("answering a query failed: %r", task.exception())


def _format_error(packet: bytes, reason: str) -> bytes | None:
    """FORMERR with the query's id, or None when not even a header came."""
    if len(packet) < 12 or packet[2] & 0x80:
        return None
    log.info("unreadable query: %s", reason)
    ident, flags = struct.unpack_from("!HH", packet)
    return struct.pack("!HHHHHH", ident, 0x8000 | (flags & 0x7900) | FORMERR, 0, 0, 0, 0)
