"""The verbs on resources: get, list, watch, create, update, patch, delete, deletecollection.

Each handler reads what kubectl sends (query parameters, body, Accept) and answers what
kubectl expects: objects with kind and apiVersion, ``<Kind>List`` with the list's
resourceVersion and continue token, Tables when asked, 201 for creates, Status errors.
The ``status`` subresource is the same verbs on part of the object; the other
subresources (scale, binding, eviction ...) live in ``subresources``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kin.apiserver import errors, tables
from kin.apiserver.http import subresources, watchstream
from kin.apiserver.http.bodies import dump, json_response, read_body, wants_table
from kin.apiserver.http.common import (
    flag,
    include,
    list_options,
    qualified,
    respond,
    write_options,
)
from kin.apiserver.http.patching import APPLY, patcher
from kin.apiserver.http.routes import Route
from kin.apiserver.objectmeta import meta
from kin.apiserver.registry import Registry
from kin.apiserver.resources import Resource
from kin.memory import release_freed_memory

__all__ = ["handle"]

Obj = dict[str, Any]
LIST_SLICE = 250  # list items per write of a spliced list
LARGE = 4 * 1024 * 1024  # bytes of response after which freed memory is handed back


async def handle(request: web.Request, registry: Registry, route: Route) -> web.StreamResponse:
    if route.sub and route.sub != "status":
        return await subresources.handle(request, registry, route)
    method = request.method
    if route.resource.namespaced and not route.namespace and method != "GET":
        # across all namespaces kube serves list and watch only: no create, no deletecollection
        raise errors.method_not_supported(route.resource.plural, method)
    if route.resource.plural == "bindings" and method == "POST":
        return await subresources.bind(request, registry, route.namespace, "")
    if route.sub or route.name:
        return await _on_object(request, registry, route, method)
    if method == "GET":
        serve = _watch if flag(request, "watch") else _list
        return await serve(request, registry, route)
    if method == "POST":
        return await _create(request, registry, route)
    if method == "DELETE":
        return await _delete_collection(request, registry, route)
    raise errors.method_not_supported(route.resource.plural, method)


async def _on_object(
    request: web.Request, registry: Registry, route: Route, method: str
) -> web.StreamResponse:
    if method == "GET":
        return await _get(request, registry, route)
    if method == "PUT":
        return await _update(request, registry, route)
    if method == "PATCH":
        return await _patch(request, registry, route)
    if method == "DELETE" and not route.sub:
        return await _delete(request, registry, route)
    raise errors.method_not_supported(route.resource.plural, method)


async def _get(request: web.Request, registry: Registry, route: Route) -> web.Response:
    obj = await registry.get(route.resource, route.namespace, route.name)
    return respond(request, route, obj)


async def _list(request: web.Request, registry: Registry, route: Route) -> web.StreamResponse:
    res, opts = route.resource, list_options(request)
    if not wants_table(request):
        texts = await registry.list_json(res, route.namespace, opts)
        if texts is not None:
            return await _spliced_list(request, res, *texts)
    items, revision, token = await registry.list(res, route.namespace, opts)
    if wants_table(request):
        body = tables.table(
            qualified(res), items, include(request), str(revision), continue_token=token
        )
        return json_response(body)
    metadata: Obj = {"resourceVersion": str(revision)}
    if token:
        metadata["continue"] = token
    for item in items:
        item.pop("kind", None)
        item.pop("apiVersion", None)
    listing: Obj = {"kind": res.list_kind, "apiVersion": res.api_version, "metadata": metadata}
    listing["items"] = items
    return json_response(listing)


async def _spliced_list(
    request: web.Request, res: Resource, texts: list[str], revision: int, token: str
) -> web.StreamResponse:
    """A ``<Kind>List`` built around the stored texts (5,000 pods: no decode, no encode),
    written a slice at a time: a whole 30 MB body would be copied once more and stay
    referenced by the keep-alive connection until its next request."""
    metadata: Obj = {"resourceVersion": str(revision)}
    if token:
        metadata["continue"] = token
    head = {"kind": res.list_kind, "apiVersion": res.api_version, "metadata": metadata}
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    await response.write(dump(head)[:-1] + b',"items":[')
    size = 0
    for start in range(0, len(texts), LIST_SLICE):
        comma = b"," if start else b""
        chunk = comma + ",".join(texts[start : start + LIST_SLICE]).encode()
        size += len(chunk)
        await response.write(chunk)
    await response.write_eof(b"]}")
    if size > LARGE:
        del texts[:]
        release_freed_memory()
    return response


async def _watch(request: web.Request, registry: Registry, route: Route) -> web.StreamResponse:
    return await watchstream.serve(request, registry, route, list_options(request))


async def _create(request: web.Request, registry: Registry, route: Route) -> web.Response:
    _, body = await read_body(request)
    opts = write_options(request)
    obj = await registry.create(route.resource, route.namespace, body, opts)
    return respond(request, route, obj, 201, opts)


async def _update(request: web.Request, registry: Registry, route: Route) -> web.Response:
    _, body = await read_body(request)
    opts = write_options(request)
    res, ns, name = route.resource, route.namespace, route.name
    obj = await registry.update(res, ns, name, body, opts, route.sub)
    return respond(request, route, obj, 200, opts)


async def _patch(request: web.Request, registry: Registry, route: Route) -> web.Response:
    media, body = await read_body(request)
    opts = write_options(request)
    res, ns, name = route.resource, route.namespace, route.name
    opts.applying = media == APPLY
    if opts.applying and not request.query.get("fieldManager"):
        raise errors.bad_request("fieldManager is required for apply requests")
    change = patcher(media, body, res, opts.manager, flag(request, "force"), route.sub)
    try:
        obj = await registry.replace_with(res, ns, name, change, opts, route.sub)
    except errors.APIError as exc:
        if exc.code != 404 or media != APPLY or route.sub:
            raise
        created = await registry.create(res, ns, change(None), opts)
        return respond(request, route, created, 201, opts)
    return respond(request, route, obj, 200, opts)


def delete_options(request: web.Request, body: Any) -> Obj:
    """DeleteOptions from the body, overridden by the query (kubectl sends either)."""
    options: Obj = dict(body) if isinstance(body, dict) else {}
    query = request.query
    if "gracePeriodSeconds" in query:
        try:
            options["gracePeriodSeconds"] = int(query["gracePeriodSeconds"])
        except ValueError:
            raise errors.bad_request("gracePeriodSeconds must be an integer") from None
    if "propagationPolicy" in query:
        options["propagationPolicy"] = query["propagationPolicy"]
    _check_propagation(options)
    return options


def _check_propagation(options: Obj) -> None:
    """``ValidateDeleteOptions``: a known policy, and not together with orphanDependents."""
    policy = options.get("propagationPolicy")
    if policy is None:
        return
    causes = []
    if options.get("orphanDependents") is not None:
        why = f'Invalid value: "{policy}": '
        why += "orphanDependents and deletionPropagation cannot be both set"
        causes.append(errors.cause("propagationPolicy", why))
    if policy not in ("Foreground", "Background", "Orphan"):
        supported = '"Foreground", "Background", "Orphan", "nil"'
        why = f'Unsupported value: "{policy}": supported values: {supported}'
        causes.append(errors.cause("propagationPolicy", why, "FieldValueNotSupported"))
    if causes:
        raise errors.invalid("DeleteOptions", "", causes, "meta.k8s.io")


async def _optional_body(request: web.Request) -> Any:
    if not request.can_read_body:
        return None
    _, body = await read_body(request)
    return body


async def _delete(request: web.Request, registry: Registry, route: Route) -> web.Response:
    options = delete_options(request, await _optional_body(request))
    opts = write_options(request, options.get("dryRun"))
    res, ns, name = route.resource, route.namespace, route.name
    obj = await registry.delete(res, ns, name, options, opts)
    return respond(request, route, obj, 200, opts)


async def _delete_collection(
    request: web.Request, registry: Registry, route: Route
) -> web.Response:
    options = delete_options(request, await _optional_body(request))
    opts = write_options(request, options.get("dryRun"))
    res = route.resource
    items, revision, _ = await registry.list(res, route.namespace, list_options(request))
    deleted = []
    for item in items:
        namespace = str(meta(item).get("namespace", ""))
        try:
            deleted.append(await registry.delete(res, namespace, meta(item)["name"], options, opts))
        except errors.APIError as exc:
            if exc.code != 404:
                raise
    metadata = {"resourceVersion": str(revision)}
    listing: Obj = {"kind": res.list_kind, "apiVersion": res.api_version, "metadata": metadata}
    listing["items"] = deleted
    return json_response(listing)
