"""The runtime's streaming server: what CRI Exec, Attach and PortForward hand out URLs to.

As containerd's, it listens on 127.0.0.1 (a random port, inside the node) and serves
each request once, within a minute, under a random token: ``/exec/<token>`` is a
WebSocket speaking the ``v5.channel.k8s.io`` channel protocol (stdin 0, stdout 1,
stderr 2, status 3, resize 4, close 255), as is ``/attach/<token>`` (relayed to the
container's shim), ``/portforward/<token>`` a WebSocket carrying
SPDY/3.1 (``SPDY/3.1+portforward.k8s.io``), as kubectl sends it through the API server
and the kubelet. It runs on an event loop of its own thread, beside the gRPC server.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
import time
from typing import Any

from aiohttp import web

from kin.errors import CRIError, KinError
from kin.runtime.attachsession import AttachSession
from kin.runtime.execsession import ExecSession
from kin.runtime.portforward import PortForwardSession
from kin.runtime.runtime import Runtime

__all__ = ["CHANNEL_PROTOCOLS", "PORT_FORWARD_PROTOCOL", "StreamingServer"]

log = logging.getLogger("kin.runtime")
TOKEN_TTL = 60.0
MAX_PENDING = 1000
CHANNEL_PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
PORT_FORWARD_PROTOCOL = "SPDY/3.1+portforward.k8s.io"


class StreamingServer:
    def __init__(self, runtime: Runtime, address: str = "127.0.0.1") -> None:
        self.runtime = runtime
        self.address = address
        self.port = 0
        self.pending: dict[str, tuple[str, dict[str, Any], float]] = {}
        self.lock = threading.Lock()
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="streaming", daemon=True)

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(), self.loop).result(10)
        log.info("streaming server on %s:%d", self.address, self.port)

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/exec/{token}", self._exec)
        app.router.add_route("*", "/attach/{token}", self._attach)
        app.router.add_route("*", "/portforward/{token}", self._port_forward)
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.address, 0)
        await site.start()
        self.port = runner.addresses[0][1]

    def url(self, kind: str, request: dict[str, Any]) -> str:
        """A single-use URL for ``request``; CRIError when too many are waiting."""
        now = time.monotonic()
        with self.lock:
            for token in [t for t, (_, _, at) in self.pending.items() if now - at > TOKEN_TTL]:
                del self.pending[token]
            if len(self.pending) >= MAX_PENDING:
                raise CRIError("too many streaming requests are waiting")
            token = secrets.token_urlsafe(8)
            self.pending[token] = (kind, request, now)
        return f"http://{self.address}:{self.port}/{kind}/{token}"

    def _take(self, request: web.Request, kind: str) -> dict[str, Any]:
        with self.lock:
            found = self.pending.pop(request.match_info["token"], None)
        if found is None or found[0] != kind or time.monotonic() - found[2] > TOKEN_TTL:
            raise web.HTTPNotFound(text="unknown or expired streaming token")
        return found[1]

    async def _exec(self, request: web.Request) -> web.StreamResponse:
        wanted = self._take(request, "exec")
        try:
            record = self.runtime.container_records.get(wanted["container_id"])
            command = wanted["cmd"]
            if wanted["tty"]:  # the session and its terminal are made inside the container
                command = ["setsid", "-w", "-c", *command]
            argv, env = self.runtime.containers.exec_command(record, command)
            root = f"/proc/{self.runtime.containers.running_pid(record)}/root"
        except KinError as exc:
            raise web.HTTPBadRequest(text=str(exc)) from exc
        ws = web.WebSocketResponse(protocols=CHANNEL_PROTOCOLS, max_msg_size=0, autoping=True)
        await ws.prepare(request)
        session = ExecSession(
            ws, argv, env, wanted["tty"], wanted["stdin"], wanted["stdout"], wanted["stderr"], root
        )
        await session.run()
        return ws

    async def _attach(self, request: web.Request) -> web.StreamResponse:
        wanted = self._take(request, "attach")
        try:
            record = self.runtime.container_records.get(wanted.pop("container_id"))
            self.runtime.containers.running_pid(record)
            bundle = self.runtime.containers.records_sandbox(record).dir
        except KinError as exc:
            raise web.HTTPBadRequest(text=str(exc)) from exc
        ws = web.WebSocketResponse(protocols=CHANNEL_PROTOCOLS, max_msg_size=0, autoping=True)
        await ws.prepare(request)
        await AttachSession(ws, bundle, {"id": record.id, **wanted}).run()
        return ws

    async def _port_forward(self, request: web.Request) -> web.StreamResponse:
        wanted = self._take(request, "portforward")
        try:
            sandbox = self.runtime.sandbox_records.get(wanted["pod_sandbox_id"])
            self.runtime.sandboxes.pause_pid(sandbox)  # must be running
        except KinError as exc:
            raise web.HTTPBadRequest(text=str(exc)) from exc
        ws = web.WebSocketResponse(
            protocols=(PORT_FORWARD_PROTOCOL,), max_msg_size=0, autoping=True
        )
        await ws.prepare(request)
        netns = sandbox.facts.get("netns", "")
        await PortForwardSession(ws, netns, wanted.get("ports") or []).run()
        return ws
