"""Port-forward into a pod: SPDY streams from kubectl become TCP connections in the pod.

For each forwarded connection kubectl opens two SPDY streams with the same ``port`` and
``requestid``: ``streamtype: error`` and ``streamtype: data``. Each gets a SYN_REPLY; the
data stream is joined to a TCP connection to ``127.0.0.1:<port>`` made inside the pod's
network namespace, and bytes flow both ways as DATA frames. When the pod side closes,
both streams get an empty DATA frame with FIN (without the error stream's, kubectl never
closes its local connection); a failure to connect is written on the error stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket

from aiohttp import WSMsgType, web

from kin.errors import KinError
from kin.linux import ns
from kin.runtime import spdy

__all__ = ["PortForwardSession"]

log = logging.getLogger("kin.runtime")
CONNECT_TIMEOUT = 5.0
CHUNK = 32 * 1024


class Forward:
    """One forwarded connection: its two streams and the pod-side socket."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.error_stream = 0
        self.data_stream = 0
        self.writer: asyncio.StreamWriter | None = None
        self.task: asyncio.Task[None] | None = None
        self.pending: list[bytes] = []
        self.client_done = False


class PortForwardSession:
    def __init__(self, ws: web.WebSocketResponse, netns: str, allowed: list[int]) -> None:
        self.ws = ws
        self.netns = netns
        self.allowed = set(allowed)
        self.parser = spdy.Parser()
        self.codec = spdy.HeaderCodec()
        self.forwards: dict[str, Forward] = {}
        self.by_stream: dict[int, Forward] = {}
        self.send_lock = asyncio.Lock()

    async def run(self) -> None:
        try:
            async for message in self.ws:
                if message.type != WSMsgType.BINARY:
                    continue
                for frame in self.parser.feed(message.data):
                    await self._handle(frame)
        finally:
            for forward in self.forwards.values():
                if forward.task is not None:
                    forward.task.cancel()
                if forward.writer is not None:
                    forward.writer.close()

    async def _handle(self, frame: spdy.Frame) -> None:
        if not frame.control:
            await self._data(frame)
        elif frame.kind == spdy.SYN_STREAM:
            await self._syn_stream(frame)
        elif frame.kind == spdy.PING:
            await self._send(spdy.control_frame(spdy.PING, 0, frame.payload))
        elif frame.kind == spdy.RST_STREAM:
            forward = self.by_stream.get(frame.stream_id)
            if forward is not None and forward.writer is not None:
                forward.writer.close()

    async def _syn_stream(self, frame: spdy.Frame) -> None:
        headers = spdy.syn_stream_headers(self.codec, frame)
        await self._send(spdy.syn_reply(self.codec, frame.stream_id))
        key = f"{headers.get('requestid', '')}/{headers.get('port', '')}"
        forward = self.forwards.get(key)
        if forward is None:
            port = headers.get("port", "")
            forward = self.forwards[key] = Forward(int(port) if port.isdigit() else 0)
        self.by_stream[frame.stream_id] = forward
        if headers.get("streamtype") == "error":
            forward.error_stream = frame.stream_id
        elif headers.get("streamtype") == "data":
            forward.data_stream = frame.stream_id
            forward.task = asyncio.ensure_future(self._connect(forward))

    async def _connect(self, forward: Forward) -> None:
        port = forward.port
        try:
            if self.allowed and port not in self.allowed:
                raise OSError(f"port {port} was not asked for")
            if not 0 < port < 65536:
                raise OSError(f"invalid port {port}")
            sock = await asyncio.get_running_loop().run_in_executor(None, self._dial, port)
            reader, forward.writer = await asyncio.open_connection(sock=sock)
        except (OSError, KinError) as exc:  # KinError: the pod's namespace is gone
            message = (
                f"error forwarding port {port} to pod: failed to connect to localhost:{port}: {exc}"
            )
            await self._finish(forward, message.encode())
            return
        for chunk in forward.pending:
            forward.writer.write(chunk)
        if forward.client_done:
            forward.writer.write_eof()
        await self._pump(forward, reader)

    def _dial(self, port: int) -> socket.socket:
        """A TCP connection to the pod's localhost, made inside its network namespace."""

        def dial() -> socket.socket:
            return socket.create_connection(("127.0.0.1", port), timeout=CONNECT_TIMEOUT)

        sock = ns.run_in(self.netns, dial) if self.netns else dial()
        sock.settimeout(None)
        return sock

    async def _pump(self, forward: Forward, reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(ConnectionResetError):
            while chunk := await reader.read(CHUNK):
                await self._send(spdy.data_frame(forward.data_stream, chunk))
        await self._finish(forward, b"")

    async def _finish(self, forward: Forward, error: bytes) -> None:
        if error and forward.error_stream:
            await self._send(spdy.data_frame(forward.error_stream, error))
        for stream in (forward.data_stream, forward.error_stream):
            if stream:
                await self._send(spdy.data_frame(stream, b"", spdy.FIN))
        if forward.writer is not None:
            forward.writer.close()

    async def _data(self, frame: spdy.Frame) -> None:
        forward = self.by_stream.get(frame.stream_id)
        if forward is None or frame.stream_id != forward.data_stream:
            return  # the error stream only ever half-closes
        if forward.writer is None:
            forward.pending.append(frame.payload)
            forward.client_done = bool(frame.flags & spdy.FIN)
            return
        if frame.payload:
            forward.writer.write(frame.payload)
        if frame.flags & spdy.FIN and forward.writer.can_write_eof():
            forward.writer.write_eof()

    async def _send(self, frame: bytes) -> None:
        async with self.send_lock:
            with contextlib.suppress(ConnectionResetError):
                await self.ws.send_bytes(frame)
