"""The kubelet's own API on port 10250: logs, exec, attach and port-forward, which the API
server relays for ``kubectl logs``, ``exec``, ``attach`` (and ``run -i``) and
``port-forward``.

HTTPS with a serving certificate the kubelet makes for itself (``/var/lib/kubelet/pki``,
as a kubelet without one does); clients must present a certificate signed by the
cluster CA (``--client-ca-file``), which the API server's kubelet-client certificate is.

* ``GET /containerLogs/<ns>/<pod>/<container>``: the container's CRI log as text, with
  ``follow``, ``tailLines``, ``timestamps``, ``previous``, ``limitBytes``;
* ``/exec/<ns>/<pod>/<container>?command=...``, ``/attach/<ns>/<pod>/<container>`` and
  ``/portForward/<ns>/<pod>``: WebSockets, relayed to the URL the runtime's CRI Exec,
  Attach or PortForward returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web

from kin.kubelet import pods
from kin.kubelet.kubelet import Kubelet
from kin.runtime.cri import api_pb2 as cri
from kin.runtime.logs import read_records

__all__ = ["KubeletServer", "serving_context"]

log = logging.getLogger("kin.kubelet")
FOLLOW_POLL = 0.2
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Pod = dict[str, Any]


class KubeletServer:
    def __init__(self, kubelet: Kubelet, runtime: Any) -> None:
        self.kubelet = kubelet
        self.runtime = runtime
        self._session: aiohttp.ClientSession | None = None

    def app(self) -> web.Application:
        app = web.Application(middlewares=[authorize])
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/containerLogs/{namespace}/{pod}/{container}", self._logs)
        app.router.add_route("*", "/exec/{namespace}/{pod}/{container}", self._exec)
        app.router.add_route("*", "/attach/{namespace}/{pod}/{container}", self._attach)
        app.router.add_route("*", "/portForward/{namespace}/{pod}", self._port_forward)
        return app

    async def start(self, address: str, port: int, context: ssl.SSLContext) -> None:
        runner = web.AppRunner(self.app(), access_log=None, handle_signals=False)
        await runner.setup()
        await web.TCPSite(runner, address, port, ssl_context=context).start()
        log.info("serving logs, exec and port-forward on %s:%d", address, port)

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    def _pod(self, request: web.Request) -> Pod:
        namespace, name = request.match_info["namespace"], request.match_info["pod"]
        for pod in self.kubelet.all_desired().values():
            meta = pod["metadata"]
            if meta["namespace"] == namespace and meta["name"] == name:
                return pod
        raise web.HTTPNotFound(text=f'pod "{name}" in namespace "{namespace}" is not on this node')

    async def _container(self, pod: Pod, name: str, previous: bool = False) -> Any:
        state = await self.kubelet.sync.state(pods.uid(pod))
        view = state.previous(name) if previous else state.latest(name)
        if view is None:
            which = "previous terminated container" if previous else "container"
            raise web.HTTPBadRequest(
                text=f'{which} "{name}" in pod "{pod["metadata"]["name"]}" not found'
            )
        return view

    # -- logs -----------------------------------------------------------------------------

    async def _logs(self, request: web.Request) -> web.StreamResponse:
        pod = self._pod(request)
        query = request.query
        view = await self._container(
            pod, request.match_info["container"], _true(query.get("previous"))
        )
        path = view.status.log_path
        records = read_records(path)
        seen = len(records)
        tail = int(query["tailLines"]) if query.get("tailLines") else -1
        if tail >= 0:
            records = records[len(records) - tail :] if tail else []
        timestamps = _true(query.get("timestamps"))
        limit = int(query["limitBytes"]) if query.get("limitBytes") else -1
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        sent = await _write_records(response, records, timestamps, limit)
        if _true(query.get("follow")):
            while limit < 0 or sent < limit:
                status = await self.runtime.ContainerStatus(
                    cri.ContainerStatusRequest(container_id=view.id)
                )
                records = read_records(path)
                sent += await _write_records(
                    response, records[seen:], timestamps, limit - sent if limit >= 0 else -1
                )
                seen = len(records)
                if status.status.state != cri.CONTAINER_RUNNING:
                    break
                await asyncio.sleep(FOLLOW_POLL)
        await response.write_eof()
        return response

    # -- exec and port-forward ------------------------------------------------------------

    async def _exec(self, request: web.Request) -> web.StreamResponse:
        pod = self._pod(request)
        view = await self._container(pod, request.match_info["container"])
        query = request.query
        exec_request = cri.ExecRequest(
            container_id=view.id, cmd=query.getall("command", []), tty=_true(query.get("tty")),
            stdin=_true(query.get("stdin")), stdout=_true(query.get("stdout")),
            stderr=_true(query.get("stderr")),
        )  # fmt: skip
        response = await self.runtime.Exec(exec_request)
        return await self._relay(request, response.url)

    async def _attach(self, request: web.Request) -> web.StreamResponse:
        pod = self._pod(request)
        view = await self._container(pod, request.match_info["container"])
        query = request.query
        attach_request = cri.AttachRequest(
            container_id=view.id, tty=_true(query.get("tty")), stdin=_true(query.get("stdin")),
            stdout=_true(query.get("stdout")), stderr=_true(query.get("stderr")),
        )  # fmt: skip
        response = await self.runtime.Attach(attach_request)
        return await self._relay(request, response.url)

    async def _port_forward(self, request: web.Request) -> web.StreamResponse:
        pod = self._pod(request)
        state = await self.kubelet.sync.state(pods.uid(pod))
        if state.sandbox is None or state.sandbox.state != cri.SANDBOX_READY:
            raise web.HTTPBadRequest(text="the pod is not running")
        response = await self.runtime.PortForward(
            cri.PortForwardRequest(pod_sandbox_id=state.sandbox.id)
        )
        return await self._relay(request, response.url)

    async def _relay(self, request: web.Request, url: str) -> web.StreamResponse:
        offered = [
            p.strip()
            for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")
            if p.strip()
        ]
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None))
        target = url.replace("http://", "ws://", 1)
        upstream = await self._session.ws_connect(target, protocols=offered, max_msg_size=0)
        async with upstream:
            chosen = (upstream.protocol,) if upstream.protocol else ()
            client = web.WebSocketResponse(protocols=chosen, max_msg_size=0, autoping=True)
            await client.prepare(request)
            down = asyncio.ensure_future(_copy(upstream, client))
            up = asyncio.ensure_future(_copy(client, upstream))
            await asyncio.wait({down, up}, return_when=asyncio.FIRST_COMPLETED)
            for task in (down, up):
                task.cancel()
            await client.close()
            return client


ALLOWED_GROUPS = {"system:masters", "kubeadm:cluster-admins"}
ALLOWED_USERS = {"kube-apiserver-kubelet-client"}


@web.middleware
async def authorize(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Only the API server (its kubelet-client certificate) and cluster admins may read
    logs, exec or forward ports; a node's own credentials may not, as kubeadm's
    authorization has it. Without a verified client certificate: 401."""
    if request.path == "/healthz":
        return await handler(request)
    peer = request.transport.get_extra_info("peercert") if request.transport else None
    if not peer:
        raise web.HTTPUnauthorized(text="a client certificate signed by the cluster CA is required")
    names = [pair for rdn in peer.get("subject", ()) for pair in rdn]
    users = {value for key, value in names if key == "commonName"}
    groups = {value for key, value in names if key == "organizationName"}
    if not (users & ALLOWED_USERS or groups & ALLOWED_GROUPS):
        user = next(iter(users), "?")
        raise web.HTTPForbidden(text=f'user "{user}" may not use the kubelet API {request.path}')
    return await handler(request)


async def _copy(source: Any, sink: Any) -> None:
    async for message in source:
        if message.type == aiohttp.WSMsgType.BINARY:
            await sink.send_bytes(message.data)
        elif message.type == aiohttp.WSMsgType.TEXT:
            await sink.send_str(message.data)
        else:
            return


async def _write_records(
    response: web.StreamResponse, records: list[tuple[str, str, str]], timestamps: bool, limit: int
) -> int:
    data = "".join(
        (f"{stamp} " if timestamps else "") + text for stamp, _, text in records
    ).encode()
    if limit >= 0:
        data = data[:limit]
    if data:
        with contextlib.suppress(ConnectionResetError):
            await response.write(data)
    return len(data)


def _true(value: str | None) -> bool:
    return value in ("true", "1", "True")


def serving_context(pki_dir: str, node_name: str, node_ip: str, client_ca: str) -> ssl.SSLContext:
    """A self-signed serving certificate (``kin create cluster`` writes one under ``pki_dir``;
    made here only when it is missing), and client certificates required against
    ``client_ca`` when that file exists."""
    cert, key = os.path.join(pki_dir, "kubelet.crt"), os.path.join(pki_dir, "kubelet.key")
    if not (os.path.exists(cert) and os.path.exists(key)):
        # Imported only here: cryptography costs the kubelet about 9 MiB it would keep.
        from kin.apiserver import pki

        pki.write_self_signed_server(cert, key, node_name, node_ip)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)  # no system CAs: only client_ca's
    context.load_cert_chain(cert, key)
    if os.path.exists(client_ca):
        context.load_verify_locations(client_ca)
        context.verify_mode = ssl.CERT_REQUIRED
    return context
