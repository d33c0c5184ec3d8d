"""``pods/log``, ``exec``, ``attach`` and ``portforward``: relayed to the pod's kubelet.

As kube-apiserver does, the server does not run anything itself: it finds the node's
kubelet (``status.addresses`` InternalIP, ``status.daemonEndpoints.kubeletEndpoint.Port``),
calls the kubelet's own API with the API server's kubelet-client certificate, and relays:

* ``log`` -> ``GET /containerLogs/<ns>/<pod>/<container>?follow=...``, streamed back as
  it arrives (``kubectl logs -f``);
* ``exec``/``attach`` -> ``/exec|attach/<ns>/<pod>/<container>?command=...`` and
  ``portforward`` -> ``/portForward/<ns>/<pod>``, both WebSockets: the client's upgrade is
  answered with the subprotocol the kubelet chose (``v5.channel.k8s.io`` for exec,
  ``SPDY/3.1+portforward.k8s.io`` for port-forward), then every message is copied both
  ways unchanged until either side closes.

The kubelet's serving certificate is verified only when a CA for it is configured
(``--kubelet-certificate-authority``), which is kube-apiserver's default as well.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from kin.apiserver import errors
from kin.apiserver.objectmeta import meta
from kin.apiserver.registry import Registry
from kin.apiserver.resources import find

__all__ = ["KubeletProxy", "kubelet_client_context"]

log = logging.getLogger("kin.apiserver")
Obj = dict[str, Any]
KUBELET_PORT = 10250
CONNECT_TIMEOUT = 10.0
NODES = find("", "v1", "nodes")


def kubelet_client_context(cert: str = "", key: str = "", ca: str = "") -> ssl.SSLContext:
    """TLS for calls to kubelets: the client certificate, and the kubelets' CA if known."""
    context = ssl.create_default_context(cafile=ca or None)
    if not ca:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if cert:
        context.load_cert_chain(cert, key)
    return context


class KubeletProxy:
    """The server's ``NodeProxy``: ``await proxy(request, pod, subresource)``."""

    def __init__(self, registry: Registry, context: ssl.SSLContext) -> None:
        self.registry = registry
        self.context = context
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            timeout = aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT)
            self._session = aiohttp.ClientSession(timeout=timeout)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __call__(self, request: web.Request, pod: Obj, sub: str) -> web.StreamResponse:
        base = await self._kubelet(pod)
        namespace, name = meta(pod)["namespace"], meta(pod)["name"]
        query = [(k, v) for k, v in request.query.items() if k != "container"]
        if sub == "portforward":
            url = f"{base}/portForward/{namespace}/{name}"
            return await self._websocket(request, url, query)
        container = choose_container(pod, request.query.get("container", ""))
        if sub == "log":
            url = f"{base}/containerLogs/{namespace}/{name}/{container}"
            return await self._log(request, url, query)
        return await self._websocket(request, f"{base}/{sub}/{namespace}/{name}/{container}", query)

    async def _kubelet(self, pod: Obj) -> str:
        node_name = pod["spec"]["nodeName"]
        assert NODES is not None
        node = await self.registry.get(NODES, "", node_name)
        status = node.get("status") or {}
        addresses = {a.get("type"): a.get("address") for a in status.get("addresses") or []}
        address = addresses.get("InternalIP") or addresses.get("Hostname")
        if not address:
            known = list(addresses.values())
            raise errors.internal(f"no preferred addresses found; known addresses: {known}")
        endpoint = (status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}
        port = endpoint.get("Port") or KUBELET_PORT
        host = f"[{address}]" if ":" in address else address
        return f"https://{host}:{port}"

    async def _log(
        self, request: web.Request, url: str, query: list[tuple[str, str]]
    ) -> web.StreamResponse:
        target = f"{url}?{urlencode(query)}" if query else url
        try:
            upstream = await self._client().get(target, ssl=self.context)
        except aiohttp.ClientError as exc:
            raise _dial_error(url, exc) from None
        async with upstream:
            if upstream.status != 200:
                raise _upstream_error(upstream.status, await upstream.text())
            response = web.StreamResponse(headers={"Content-Type": "text/plain"})
            response.enable_chunked_encoding()
            await response.prepare(request)
            with contextlib.suppress(ConnectionResetError, aiohttp.ClientPayloadError):
                async for chunk in upstream.content.iter_any():
                    await response.write(chunk)
            return response

    async def _websocket(
        self, request: web.Request, url: str, query: list[tuple[str, str]]
    ) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() != "websocket":
            raise errors.bad_request("Upgrade request required")
        offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")]
        protocols = [p for p in offered if p]
        wss = url.replace("https://", "wss://", 1)
        try:
            upstream = await self._client().ws_connect(
                wss, params=query, protocols=protocols, ssl=self.context, max_msg_size=0
            )
        except aiohttp.WSServerHandshakeError as exc:
            raise _upstream_error(exc.status, exc.message) from None
        except aiohttp.ClientError as exc:
            raise _dial_error(url, exc) from None
        async with upstream:
            chosen = (upstream.protocol,) if upstream.protocol else ()
            client = web.WebSocketResponse(protocols=chosen, max_msg_size=0, autoping=True)
            await client.prepare(request)
            await _relay(client, upstream)
            return client


async def _relay(client: web.WebSocketResponse, upstream: aiohttp.ClientWebSocketResponse) -> None:
    """Copy messages both ways; when one side closes, close the other."""
    down = asyncio.ensure_future(_copy(upstream, client))
    up = asyncio.ensure_future(_copy(client, upstream))
    try:
        await asyncio.wait({down, up}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (down, up):
            task.cancel()
        await client.close()
        await upstream.close()


async def _copy(source: Any, sink: Any) -> None:
    async for message in source:
        if message.type == aiohttp.WSMsgType.BINARY:
            await sink.send_bytes(message.data)
        elif message.type == aiohttp.WSMsgType.TEXT:
            await sink.send_str(message.data)
        else:
            return


def choose_container(pod: Obj, wanted: str) -> str:
    """The named container (or init/ephemeral container), or the only one there is."""
    spec = pod.get("spec") or {}
    names = [c.get("name") for c in spec.get("containers") or []]
    others = [
        c.get("name")
        for key in ("initContainers", "ephemeralContainers")
        for c in spec.get(key) or []
    ]
    name = meta(pod).get("name")
    if wanted:
        if wanted not in names and wanted not in others:
            raise errors.bad_request(f"container {wanted} is not valid for pod {name}")
        return wanted
    if len(names) == 1:
        return str(names[0])
    choices = " ".join(str(n) for n in names)
    raise errors.bad_request(
        f"a container name must be specified for pod {name}, choose one of: [{choices}]"
    )


def _dial_error(url: str, exc: Exception) -> errors.APIError:
    return errors.internal(f"error dialing backend: {url}: {exc}")


def _upstream_error(status: int, body: str) -> errors.APIError:
    """The kubelet's answer, as a Status kubectl prints (the kubelet's own when it sent one)."""
    with contextlib.suppress(ValueError, AttributeError, TypeError):
        sent = json.loads(body)
        if sent.get("kind") == "Status":
            return errors.APIError(int(sent["code"]), str(sent["reason"]), str(sent["message"]))
    text = body.strip() or f"the kubelet answered {status}"
    reason = "NotFound" if status == 404 else "BadRequest" if status == 400 else "InternalError"
    return errors.APIError(status if 400 <= status < 600 else 500, reason, text)
