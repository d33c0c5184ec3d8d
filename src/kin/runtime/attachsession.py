"""One attach over the channel protocol: a WebSocket joined to a container's shim.

The shim holds the container's stdio (``kin.runtime.attach``); this relays its frames to
the client as ``v5.channel.k8s.io`` messages (stdout 1, stderr 2) and the client's
stdin (0), terminal size (4) and stdin close (255) back. When the container ends, its
exit status goes out on channel 3 as exec's does and the WebSocket closes; when the
client leaves, only its connection to the shim closes (the container keeps running).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket

from aiohttp import WSMsgType, web

from kin.linux.files import socket_path
from kin.runtime.attach import CLOSE, EXIT, RESIZE, STDIN, frame, frames
from kin.runtime.execsession import failure_json, status_json
from kin.runtime.shim import SOCKET_NAME

__all__ = ["AttachSession"]

STATUS = 3


class AttachSession:
    def __init__(self, ws: web.WebSocketResponse, bundle: str, request: dict[str, object]) -> None:
        self.ws = ws
        self.bundle = bundle
        self.request = {"op": "attach", **request}

    async def run(self) -> None:
        try:
            reader, writer = await self._connect()
        except (OSError, ValueError) as exc:
            await self._send(STATUS, failure_json(f"failed to attach to the container: {exc}"))
            await self.ws.close()
            return
        to_client = asyncio.ensure_future(self._from_shim(reader))
        from_client = asyncio.ensure_future(self._from_client(writer))
        await asyncio.wait({to_client, from_client}, return_when=asyncio.FIRST_COMPLETED)
        from_client.cancel()
        to_client.cancel()
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
        await self.ws.close()

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            with socket_path(os.path.join(self.bundle, SOCKET_NAME)) as path:
                await asyncio.get_running_loop().sock_connect(sock, path)
        except OSError:
            sock.close()
            raise
        reader, writer = await asyncio.open_unix_connection(sock=sock)
        writer.write(json.dumps(self.request).encode() + b"\n")
        reply = json.loads(await reader.readline() or b"{}")
        if not reply.get("ok"):
            writer.close()
            raise ValueError(str(reply.get("error", "the shim refused")))
        return reader, writer

    async def _from_shim(self, reader: asyncio.StreamReader) -> None:
        buffer = bytearray()
        while chunk := await reader.read(65536):
            buffer += chunk
            for channel, data in frames(buffer):
                if channel == EXIT:
                    await self._send(STATUS, status_json(int(data)))
                    return
                await self._send(channel, data)

    async def _from_client(self, writer: asyncio.StreamWriter) -> None:
        async for message in self.ws:
            if message.type != WSMsgType.BINARY or not message.data:
                continue
            channel, payload = message.data[0], message.data[1:]
            if channel in (STDIN, RESIZE) or (channel == CLOSE and payload[:1] == b"\0"):
                writer.write(frame(channel, payload))
                await writer.drain()

    async def _send(self, channel: int, data: bytes) -> None:
        with contextlib.suppress(ConnectionResetError):
            await self.ws.send_bytes(bytes([channel]) + data)
