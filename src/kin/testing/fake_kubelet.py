"""A stand-in for a kubelet's streaming API, to test the API server's relay on its own.

It serves, over HTTPS on 127.0.0.1, the three kubelet paths the API server calls and
records every request it gets:

* ``/containerLogs/<ns>/<pod>/<container>``: ``LOG_LINES`` as text, one chunk per line
  with a pause between them (so a test can see a follow stream arrive piece by piece);
* ``/exec/<ns>/<pod>/<container>``: a ``v5.channel.k8s.io`` WebSocket that writes the
  command's arguments on stdout (channel 1), echoes stdin (channel 0) back on stdout,
  and ends with a Status on channel 3: Success, or NonZeroExitCode when the command is
  ``exit N``;
* ``/portForward/<ns>/<pod>``: a WebSocket that echoes binary messages.

It is not the kubelet: the kubelet's own streaming server, and the tests that prove
these paths end to end with real containers, come with it.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import tempfile
import threading
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from kin.apiserver import pki

__all__ = ["LOG_LINES", "FakeKubelet"]

LOG_LINES = [f"line {i}\n" for i in range(1, 6)]
CHUNK_PAUSE = 0.05


class FakeKubelet:
    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, list[str]]]] = []
        self.port = 0
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    def start(self) -> FakeKubelet:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)
        return self

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/containerLogs/{ns}/{pod}/{container}", self._logs)
        app.router.add_get("/exec/{ns}/{pod}/{container}", self._exec)
        app.router.add_get("/portForward/{ns}/{pod}", self._port_forward)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=_serving_context())
        await site.start()
        self.port = self._runner.addresses[0][1]

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()

    def __enter__(self) -> FakeKubelet:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def node(self, name: str) -> dict[str, Any]:
        """A Node object whose kubelet is this server."""
        return {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": name},
            "status": {
                "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": self.port}},
            },
        }

    def _record(self, request: web.Request) -> None:
        query: dict[str, list[str]] = {}
        for key, value in request.query.items():
            query.setdefault(key, []).append(value)
        self.requests.append((request.path, query))

    async def _logs(self, request: web.Request) -> web.StreamResponse:
        self._record(request)
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await response.prepare(request)
        for line in LOG_LINES:
            await response.write(line.encode())
            await asyncio.sleep(CHUNK_PAUSE)
        return response

    async def _exec(self, request: web.Request) -> web.StreamResponse:
        self._record(request)
        ws = web.WebSocketResponse(protocols=("v5.channel.k8s.io",))
        await ws.prepare(request)
        command = request.query.getall("command", [])
        if command[:1] == ["exit"]:
            await ws.send_bytes(b"\x03" + json.dumps(_exit_status(int(command[1]))).encode())
            await ws.close()
            return ws
        await ws.send_bytes(b"\x01" + (" ".join(command) + "\n").encode())
        if request.query.get("stdin") == "true":
            await _echo_stdin(ws)
        await ws.send_bytes(b"\x03" + json.dumps({"metadata": {}, "status": "Success"}).encode())
        await ws.close()
        return ws

    async def _port_forward(self, request: web.Request) -> web.StreamResponse:
        self._record(request)
        ws = web.WebSocketResponse(protocols=("SPDY/3.1+portforward.k8s.io",))
        await ws.prepare(request)
        async for message in ws:
            if message.type == WSMsgType.BINARY:
                await ws.send_bytes(message.data)
        return ws


async def _echo_stdin(ws: web.WebSocketResponse) -> None:
    """Channel 0 back on channel 1 until the client closes stdin (``ff 00``)."""
    async for message in ws:
        if message.type != WSMsgType.BINARY or not message.data:
            break
        channel, payload = message.data[0], message.data[1:]
        if channel == 0:
            await ws.send_bytes(b"\x01" + payload)
        elif channel == 255 and payload[:1] == b"\x00":
            break


def _exit_status(code: int) -> dict[str, Any]:
    return {
        "metadata": {},
        "status": "Failure",
        "reason": "NonZeroExitCode",
        "message": f"command terminated with non-zero exit code: exit status {code}",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }


def _serving_context() -> ssl.SSLContext:
    ca = pki.new_ca("fake-kubelet-ca")
    pair = pki.issue(ca, "fake-kubelet", ip_addresses=("127.0.0.1",), server=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory(prefix="kin-fake-kubelet-") as directory:
        cert, key = Path(directory, "tls.crt"), Path(directory, "tls.key")
        pki.write(pair, str(cert), str(key))
        context.load_cert_chain(str(cert), str(key))
    return context
