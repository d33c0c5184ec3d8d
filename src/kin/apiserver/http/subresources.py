"""Subresources with verbs of their own: scale, binding, eviction, finalize, and the
node-proxied log, exec and portforward.

* ``scale`` shows a Deployment or ReplicaSet as an ``autoscaling/v1`` Scale; writes to it
  (``kubectl scale`` PATCHes it) change ``spec.replicas`` and nothing else.
* ``binding`` (and the ``bindings`` collection) assigns a pod to a node once, as the
  scheduler does; a second binding is a 409.
* ``eviction`` deletes a pod with the Eviction's delete options (kin has no disruption
  budgets to refuse it).
* ``finalize`` replaces a namespace's ``spec.finalizers``.
* ``log``, ``exec``, ``attach`` and ``portforward`` belong to the pod's kubelet: the server
  hands them to the ``NodeProxy`` it was given (``nodeproxy``), and answers 503 without one.
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from kin.apiserver import errors, selectors
from kin.apiserver.http.bodies import json_response, read_body
from kin.apiserver.http.common import respond, success, write_options
from kin.apiserver.http.patching import patcher
from kin.apiserver.http.routes import Route
from kin.apiserver.objectmeta import meta
from kin.apiserver.registry import Registry
from kin.apiserver.resources import Resource, find

__all__ = ["NODE_PROXY", "NodeProxy", "bind", "handle"]

Obj = dict[str, Any]
NodeProxy = Callable[[web.Request, Obj, str], Awaitable[web.StreamResponse]]
"""``(request, pod, subresource) -> response``: log, exec or portforward on the pod's node."""
NODE_PROXY: web.AppKey[NodeProxy] = web.AppKey("node_proxy")


async def handle(request: web.Request, registry: Registry, route: Route) -> web.StreamResponse:
    sub, method = route.sub, request.method
    if sub == "scale" and method in ("GET", "PUT", "PATCH"):
        return await _scale(request, registry, route)
    if sub == "binding" and method == "POST":
        return await bind(request, registry, route.namespace, route.name)
    if sub == "eviction" and method == "POST":
        return await _evict(request, registry, route)
    if sub == "finalize" and method == "PUT":
        return await _finalize(request, registry, route)
    if sub in ("log", "exec", "attach", "portforward"):
        return await _node_proxy(request, registry, route)
    raise errors.method_not_supported(f"{route.resource.plural}/{sub}", method)


# -- scale ----------------------------------------------------------------------------------


def scale_of(obj: Obj) -> Obj:
    metadata = meta(obj)
    kept = ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
    selector = selectors.selector_from_object((obj.get("spec") or {}).get("selector"))
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {k: metadata[k] for k in kept if k in metadata},
        "spec": {"replicas": int((obj.get("spec") or {}).get("replicas", 1))},
        "status": {
            "replicas": int((obj.get("status") or {}).get("replicas", 0)),
            "selector": str(selector),
        },
    }


def _apply_scale(obj: Obj, scale: Obj) -> Obj:
    replicas = (scale.get("spec") or {}).get("replicas")
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        message = f"Invalid value: {replicas!r}: must be greater than or equal to 0"
        causes = [errors.cause("spec.replicas", message)]
        raise errors.invalid("Scale", str(meta(obj).get("name", "")), causes, "autoscaling")
    expected = str(meta(scale).get("resourceVersion") or "")
    if expected and expected != str(meta(obj).get("resourceVersion")):
        raise errors.conflict(_plural(obj), str(meta(obj)["name"]), "apps")
    obj.setdefault("spec", {})["replicas"] = replicas
    return obj


def _plural(obj: Obj) -> str:
    return str(obj.get("kind", "")).lower() + "s"


async def _scale(request: web.Request, registry: Registry, route: Route) -> web.Response:
    res, ns, name = route.resource, route.namespace, route.name
    if request.method == "GET":
        return json_response(scale_of(await registry.get(res, ns, name)))
    media, body = await read_body(request)
    opts = write_options(request)
    if request.method == "PUT":
        _check_scale_body(body)

        def change(obj: Obj) -> Obj:
            return _apply_scale(obj, body)
    else:
        patch_scale = patcher(media, body, _scale_resource(res), opts.manager, False)

        def change(obj: Obj) -> Obj:
            scaled = patch_scale(scale_of(obj))
            meta(scaled).pop("resourceVersion", None)
            return _apply_scale(obj, scaled)

    updated = await registry.replace_with(res, ns, name, change, opts)
    return json_response(scale_of(updated), 200, opts.warnings)


def _check_scale_body(body: Any) -> None:
    if not isinstance(body, dict) or body.get("kind") not in (None, "Scale"):
        raise errors.bad_request("the body of a scale update must be an autoscaling/v1 Scale")


def _scale_resource(parent: Resource) -> Resource:
    return Resource("autoscaling", "v1", "Scale", parent.plural, "scale", True)


# -- binding and eviction -------------------------------------------------------------------


async def bind(request: web.Request, registry: Registry, namespace: str, name: str) -> web.Response:
    """POST pods/NAME/binding or bindings: set the pod's ``spec.nodeName`` once."""
    _, body = await read_body(request)
    if not isinstance(body, dict):
        raise errors.bad_request("the body of a binding must be a Binding object")
    pod_name = str(meta(body).get("name", "")) or name
    if name and pod_name != name:
        raise errors.bad_request("name in URL does not match name in Binding object")
    target = body.get("target") or {}
    node = target.get("name") if isinstance(target, dict) else None
    if not pod_name or not node:
        causes = [errors.cause("target.name", "Required value", "FieldValueRequired")]
        raise errors.invalid("Binding", pod_name, causes)
    pods = _pods()
    opts = write_options(request)

    def assign(pod: Obj) -> Obj:
        current = (pod.get("spec") or {}).get("nodeName")
        if current:
            why = f'pod {pod_name} is already assigned to node "{current}"'
            raise errors.conflict("pods/binding", pod_name, "", why)
        if meta(pod).get("deletionTimestamp"):
            why = f"pod {pod_name} is being deleted, cannot be assigned to a host"
            raise errors.conflict("pods/binding", pod_name, "", why)
        pod.setdefault("spec", {})["nodeName"] = node
        return pod

    await registry.replace_with(pods, namespace, pod_name, assign, opts, status_too=True)
    return success(201)


async def _evict(request: web.Request, registry: Registry, route: Route) -> web.Response:
    _, body = await read_body(request)
    if not isinstance(body, dict):
        raise errors.bad_request("the body of an eviction must be an Eviction object")
    if str(meta(body).get("name", "")) != route.name:
        raise errors.bad_request("name in URL does not match name in Eviction object")
    options = body.get("deleteOptions") or {}
    opts = write_options(request, options.get("dryRun"))
    await registry.delete(route.resource, route.namespace, route.name, copy.deepcopy(options), opts)
    return success(201)


def _pods() -> Resource:
    pods = find("", "v1", "pods")
    assert pods is not None
    return pods


# -- namespaces -----------------------------------------------------------------------------


async def _finalize(request: web.Request, registry: Registry, route: Route) -> web.Response:
    _, body = await read_body(request)
    if not isinstance(body, dict):
        raise errors.bad_request("the body of a finalize must be a Namespace object")
    finalizers = (body.get("spec") or {}).get("finalizers") or []
    opts = write_options(request)

    def finalize(ns: Obj) -> Obj:
        ns.setdefault("spec", {})["finalizers"] = list(finalizers)
        return ns

    updated = await registry.replace_with(
        route.resource, "", route.name, finalize, opts, status_too=True
    )
    return respond(request, route, updated, 200, opts)


# -- log, exec, portforward -----------------------------------------------------------------


async def _node_proxy(request: web.Request, registry: Registry, route: Route) -> web.StreamResponse:
    pod = await registry.get(route.resource, route.namespace, route.name)
    if not (pod.get("spec") or {}).get("nodeName"):
        raise errors.bad_request(f"pod {route.name} does not have a host assigned")
    proxy = request.app.get(NODE_PROXY)
    if proxy is None:
        node = pod["spec"]["nodeName"]
        raise errors.APIError(
            503,
            "ServiceUnavailable",
            f'no kubelet connection for node "{node}": {route.sub} is not available',
        )
    response: web.StreamResponse = await proxy(request, pod, route.sub)
    return response
