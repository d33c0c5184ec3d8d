"""The aiohttp application: discovery, OpenAPI, health, and every resource URL.

Middlewares turn ``APIError`` into the ``Status`` body kubectl prints, refuse anonymous
requests (but for health and version, which kube serves to anyone), refuse Accept headers
the server cannot satisfy, and log one line per write and per error.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from kin.apiserver import discovery, errors
from kin.apiserver.http import handlers
from kin.apiserver.http.auth import USER, TokenFile, authenticate, self_subject_review
from kin.apiserver.http.bodies import dump, json_response
from kin.apiserver.http.routes import parse_route
from kin.apiserver.http.subresources import NODE_PROXY, NodeProxy
from kin.apiserver.registry import Registry
from kin.apiserver.schema import openapi, openapi_v2

__all__ = ["make_app"]

log = logging.getLogger("kin.apiserver")
# One line per request that failed or took SLOW, as kube-apiserver logs at its default
# verbosity; every write too at DEBUG (``--v=3``, where kube's httplog starts): a cluster
# writes all the time (a lease renewal per node every 10 s), and the line was 6 % of a
# create's time in the server.
requests_log = logging.getLogger("kin.apiserver.requests")
SLOW = 1.0  # seconds
REGISTRY = web.AppKey("registry", Registry)
TOKENS = web.AppKey("tokens", TokenFile)
ADDRESS = web.AppKey("address", str)
PUBLIC = ("/healthz", "/livez", "/readyz", "/version")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def make_app(
    registry: Registry,
    tokens: TokenFile | None = None,
    address: str = "127.0.0.1:6443",
    node_proxy: NodeProxy | None = None,
) -> web.Application:
    app = web.Application(
        middlewares=[_log_and_status, _authenticate, _negotiate],
        client_max_size=4 * 1024 * 1024,
    )
    app[REGISTRY] = registry
    app[TOKENS] = tokens or TokenFile()
    app[ADDRESS] = address
    if node_proxy is not None:
        app[NODE_PROXY] = node_proxy
    _add_routes(app.router)
    return app


def _add_routes(router: web.UrlDispatcher) -> None:
    for path in ("/healthz", "/livez", "/readyz"):
        router.add_get(path, _health)
        router.add_get(path + "/{check:.+}", _health)
    router.add_get("/version", _version)
    router.add_get("/api", _api)
    router.add_get("/apis", _apis)
    router.add_get("/api/v1", _core_resources)
    router.add_get("/apis/{group}", _group)
    router.add_get("/apis/{group}/{version}", _group_resources)
    router.add_get("/openapi/v2", _openapi_v2)
    router.add_get("/openapi/v3", _openapi_v3)
    router.add_get("/openapi/v3/{path:.+}", _openapi_v3_document)
    router.add_route("*", "/api/v1/{tail:.+}", _core_resource)
    router.add_route("*", "/apis/{group}/{version}/{tail:.+}", _group_resource)


# -- middlewares ----------------------------------------------------------------------------


@web.middleware
async def _log_and_status(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.monotonic()
    try:
        response = await handler(request)
    except errors.APIError as exc:
        response = json_response(exc.status(), exc.code)
    except web.HTTPException:
        raise
    except Exception as exc:  # a bug must not take the server down: log it, answer 500
        log.exception("%s %s failed", request.method, request.path_qs)
        response = json_response(errors.internal(f"{type(exc).__name__}: {exc}").status(), 500)
    took = time.monotonic() - started
    if response.status >= 400 or took >= SLOW:
        level = logging.INFO
    elif request.method != "GET" and requests_log.isEnabledFor(logging.DEBUG):
        level = logging.DEBUG
    else:
        return response
    args = (request.method, request.path_qs, response.status, took * 1000)
    requests_log.log(level, "%s %s %d %.1fms", *args)
    return response


@web.middleware
async def _authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    user = authenticate(request, request.app[TOKENS])
    if user is None:
        if not request.path.startswith(PUBLIC):
            raise errors.unauthorized()
    else:
        request[USER] = user
    return await handler(request)


@web.middleware
async def _negotiate(request: web.Request, handler: Handler) -> web.StreamResponse:
    accept = request.headers.get("Accept", "")
    if request.path == "/openapi/v2":
        return await handler(request)
    if accept and not any(t in accept for t in ("json", "*/*", "text/plain")):
        raise errors.not_acceptable(
            "only the following media types are accepted: application/json, "
            "application/json;as=Table;v=v1;g=meta.k8s.io"
        )
    return await handler(request)


# -- health, version, discovery -------------------------------------------------------------


async def _health(request: web.Request) -> web.Response:
    try:
        await request.app[REGISTRY].storage.revision()
    except Exception as exc:  # storage down: not healthy, and say why
        return web.Response(status=500, text=f"[-]etcd failed: {exc}\nhealthz check failed\n")
    return web.Response(text="ok")


async def _version(request: web.Request) -> web.Response:
    return json_response(discovery.version_info())


def _discovery(request: web.Request, core: bool, legacy: object) -> web.Response:
    if discovery.wants_aggregated(request.headers.get("Accept", "")):
        body = dump(discovery.aggregated(core))
        headers = {"Content-Type": discovery.AGGREGATED_CONTENT_TYPE, "Vary": "Accept"}
        return web.Response(body=body, headers=headers)
    return json_response(legacy)


async def _api(request: web.Request) -> web.Response:
    return _discovery(request, True, discovery.api_versions(request.app[ADDRESS]))


async def _apis(request: web.Request) -> web.Response:
    return _discovery(request, False, discovery.api_group_list())


async def _core_resources(request: web.Request) -> web.Response:
    return json_response(discovery.resource_list("", "v1"))


async def _group(request: web.Request) -> web.Response:
    group = request.match_info["group"]
    for entry in discovery.api_group_list()["groups"]:
        if entry["name"] == group:
            return json_response({"kind": "APIGroup", "apiVersion": "v1", **entry})
    raise _not_found()


async def _group_resources(request: web.Request) -> web.Response:
    found = discovery.resource_list(request.match_info["group"], request.match_info["version"])
    if found is None:
        raise _not_found()
    return json_response(found)


async def _openapi_v2(request: web.Request) -> web.Response:
    """Swagger 2.0, which kubectl reads (as gnostic protobuf) to validate a ``kind: List``."""
    if "protobuf" in request.headers.get("Accept", ""):
        body, content_type = openapi_v2.openapi_v2_protobuf(), openapi_v2.PROTOBUF_CONTENT_TYPE
    else:
        body, content_type = _openapi_v2_json(), "application/json"
    return web.Response(body=body, headers={"Content-Type": content_type, "Vary": "Accept"})


@functools.cache
def _openapi_v2_json() -> bytes:
    return dump(openapi_v2.openapi_v2_document())


async def _openapi_v3(request: web.Request) -> web.Response:
    return json_response(openapi.openapi_root(_OPENAPI_RESOURCES))


async def _openapi_v3_document(request: web.Request) -> web.Response:
    """Documents are immutable for a given ``hash``: kubectl caches them under it."""
    body = _openapi_bytes(request.match_info["path"])
    if body is None:
        raise _not_found()
    headers = {"Cache-Control": "public, immutable", "Content-Type": "application/json"}
    return web.Response(body=body, headers=headers)


_OPENAPI_RESOURCES = openapi.served_resources()


@functools.cache
def _openapi_bytes(path: str) -> bytes | None:
    found = openapi.group_version(path)
    if found is None:
        return None
    group, version = found
    if not any(r.group == group and r.version == version for r in _OPENAPI_RESOURCES):
        return None
    return dump(openapi.openapi_document(group, version, _OPENAPI_RESOURCES))


def _not_found() -> errors.APIError:
    return errors.APIError(404, "NotFound", "the server could not find the requested resource")


# -- resources ------------------------------------------------------------------------------


async def _core_resource(request: web.Request) -> web.StreamResponse:
    route = parse_route("", "v1", request.match_info["tail"].split("/"))
    return await handlers.handle(request, request.app[REGISTRY], route)


async def _group_resource(request: web.Request) -> web.StreamResponse:
    info = request.match_info
    route = parse_route(info["group"], info["version"], info["tail"].split("/"))
    if route.resource.plural == "selfsubjectreviews":
        if request.method != "POST":
            raise errors.method_not_supported("selfsubjectreviews", request.method)
        return json_response(self_subject_review(request[USER]), 201)
    return await handlers.handle(request, request.app[REGISTRY], route)
