"""OpenAPI v3 path items for one resource: the operations kube-apiserver publishes.

kubectl 1.32 reads these to decide whether the server validates fields itself: it looks
for a PATCH operation whose ``x-kubernetes-group-version-kind`` is the object's and which
takes a ``fieldValidation`` query parameter, then sends ``fieldValidation=Strict`` and
skips client-side validation. The other operations are there so that the documents
describe the API honestly (``kubectl explain`` and generated clients read them), with
kube's operation ids (``patchCoreV1NamespacedPod``) and parameters.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["STANDARD_VERBS", "Resource", "base_path", "path_items", "schema_ref"]

_SCHEMAS = "#/components/schemas/"
_META = "io.k8s.apimachinery.pkg.apis.meta.v1."
_PATCH_TYPES = (
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
)
_MEDIA = ("application/json", "application/yaml", "application/vnd.kubernetes.protobuf")
STANDARD_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
# subresource -> (body kind when not the resource's own, verbs)
_SUBRESOURCES: dict[str, tuple[tuple[str, str, str] | None, tuple[str, ...]]] = {
    "status": (None, ("get", "put", "patch")),
    "scale": (("autoscaling", "v1", "Scale"), ("get", "put", "patch")),
    "binding": (("", "v1", "Binding"), ("post",)),
    "finalize": (None, ("put",)),
}


class Resource(NamedTuple):
    """A REST resource: ``Resource("", "v1", "Pod", "pods", True, ("status", "log"))``."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    subresources: tuple[str, ...] = ()
    verbs: tuple[str, ...] = STANDARD_VERBS


def base_path(group: str, version: str) -> str:
    """``api/v1`` or ``apis/apps/v1``: the group-version's path, also its /openapi/v3 key."""
    return f"apis/{group}/{version}" if group else f"api/{version}"


def schema_ref(name: str) -> dict[str, object]:
    return {"$ref": _SCHEMAS + name}


def path_items(res: Resource, kind_schema: str) -> dict[str, dict[str, object]]:
    """The path items of ``res``, whose kind's schema is ``kind_schema``."""
    base = "/" + base_path(res.group, res.version)
    scope = f"{base}/namespaces/{{namespace}}" if res.namespaced else base
    collection, item = f"{scope}/{res.plural}", f"{scope}/{res.plural}/{{name}}"
    gvk = (res.group, res.version, res.kind)
    paths = {
        collection: _collection_ops(res, kind_schema, gvk),
        item: _item_ops(res, kind_schema, gvk),
    }
    if res.namespaced and "list" in res.verbs:
        paths[f"{base}/{res.plural}"] = {"get": _list_op(res, kind_schema, gvk, True)}
    for sub in res.subresources:
        paths[f"{item}/{sub}"] = _subresource_ops(res, sub, kind_schema)
    return {path: _with_path_params(ops, path) for path, ops in paths.items() if ops}


def _op_id(
    verb: str, res: Resource, suffix: str = "", all_ns: bool = False, collection: bool = False
) -> str:
    """kube's operation ids, e.g. ``patchCoreV1NamespacedPod``."""
    group = (res.group.split(".")[0] or "core").capitalize() + res.version.capitalize()
    group += "Collection" if collection else ""
    scope = "Namespaced" if res.namespaced and not all_ns else ""
    tail = "ForAllNamespaces" if all_ns else ""
    return f"{verb}{group}{scope}{res.kind}{suffix}{tail}"


def _tag(res: Resource) -> str:
    return f"{(res.group.split('.')[0] or 'core')}_{res.version}"


def _gvk(gvk: tuple[str, str, str]) -> dict[str, str]:
    return {"group": gvk[0], "kind": gvk[2], "version": gvk[1]}


def _content(name: str, media: tuple[str, ...] = _MEDIA) -> dict[str, object]:
    return {m: {"schema": schema_ref(name)} for m in media}


def _responses(name: str, *codes: str) -> dict[str, object]:
    words = {"200": "OK", "201": "Created", "202": "Accepted"}
    return {code: {"description": words[code], "content": _content(name)} for code in codes}


def _query(*names: str) -> list[dict[str, object]]:
    types = {"gracePeriodSeconds": "integer", "limit": "integer", "timeoutSeconds": "integer"}
    booleans = {"allowWatchBookmarks", "force", "orphanDependents", "sendInitialEvents", "watch"}
    booleans.add("ignoreStoreReadErrorWithClusterBreakingPotential")
    params: list[dict[str, object]] = []
    for name in names:
        kind = "boolean" if name in booleans else types.get(name, "string")
        params.append({"name": name, "in": "query", "schema": {"type": kind, "uniqueItems": True}})
    return params


_WRITE = ("dryRun", "fieldManager", "fieldValidation")
_LIST = (
    "allowWatchBookmarks",
    "continue",
    "fieldSelector",
    "labelSelector",
    "limit",
    "resourceVersion",
    "resourceVersionMatch",
    "sendInitialEvents",
    "timeoutSeconds",
    "watch",
)
_DELETE = (
    "dryRun",
    "gracePeriodSeconds",
    "ignoreStoreReadErrorWithClusterBreakingPotential",
    "orphanDependents",
    "propagationPolicy",
)


def _operation(
    action: str, op_id: str, res: Resource, gvk: tuple[str, str, str], **extra: object
) -> dict[str, object]:
    op: dict[str, object] = {
        "operationId": op_id,
        "description": f"{action} {gvk[2]}",
        "tags": [_tag(res)],
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": _gvk(gvk),
    }
    op.update(extra)
    return op


def _list_op(
    res: Resource, schema: str, gvk: tuple[str, str, str], all_ns: bool = False
) -> dict[str, object]:
    return _operation(
        "list",
        _op_id("list", res, all_ns=all_ns),
        res,
        gvk,
        parameters=_query(*_LIST),
        responses=_responses(schema + "List", "200"),
    )


def _collection_ops(res: Resource, schema: str, gvk: tuple[str, str, str]) -> dict[str, object]:
    create = _operation(
        "post",
        _op_id("create", res),
        res,
        gvk,
        parameters=_query(*_WRITE),
        requestBody={"content": _content(schema, ("*/*",)), "required": True},
        responses=_responses(schema, "200", "201", "202"),
    )
    delete_all = _operation(
        "deletecollection",
        _op_id("delete", res, collection=True),
        res,
        gvk,
        parameters=_query(*_DELETE, *_LIST),
        requestBody={"content": _content(_META + "DeleteOptions", ("*/*",))},
        responses=_responses(_META + "Status", "200"),
    )
    ops: dict[str, object] = {
        "get": _list_op(res, schema, gvk),
        "post": create,
        "delete": delete_all,
    }
    return _only(ops, res.verbs, {"get": "list", "post": "create", "delete": "deletecollection"})


def _only(
    ops: dict[str, object], verbs: tuple[str, ...], needs: dict[str, str]
) -> dict[str, object]:
    """The operations whose Kubernetes verb the resource supports."""
    return {method: op for method, op in ops.items() if needs[method] in verbs}


def _item_ops(res: Resource, schema: str, gvk: tuple[str, str, str]) -> dict[str, object]:
    needs = {"get": "get", "put": "update", "patch": "patch", "delete": "delete"}
    return _only(_all_item_ops(res, schema, gvk), res.verbs, needs)


def _all_item_ops(res: Resource, schema: str, gvk: tuple[str, str, str]) -> dict[str, object]:
    return {
        "get": _read_op(res, schema, gvk, ""),
        "put": _replace_op(res, schema, gvk, ""),
        "patch": _patch_op(res, schema, gvk, ""),
        "delete": _operation(
            "delete",
            _op_id("delete", res),
            res,
            gvk,
            parameters=_query(*_DELETE),
            requestBody={"content": _content(_META + "DeleteOptions", ("*/*",))},
            responses=_responses(schema, "200", "202"),
        ),
    }


def _read_op(res: Resource, schema: str, gvk: tuple[str, str, str], sub: str) -> dict[str, object]:
    return _operation(
        "get", _op_id("read", res, sub), res, gvk, responses=_responses(schema, "200")
    )


def _replace_op(
    res: Resource, schema: str, gvk: tuple[str, str, str], sub: str
) -> dict[str, object]:
    return _operation(
        "put",
        _op_id("replace", res, sub),
        res,
        gvk,
        parameters=_query(*_WRITE),
        requestBody={"content": _content(schema, ("*/*",)), "required": True},
        responses=_responses(schema, "200", "201"),
    )


def _patch_op(res: Resource, schema: str, gvk: tuple[str, str, str], sub: str) -> dict[str, object]:
    return _operation(
        "patch",
        _op_id("patch", res, sub),
        res,
        gvk,
        parameters=_query(*_WRITE, "force"),
        requestBody={"content": _content(_META + "Patch", _PATCH_TYPES), "required": True},
        responses=_responses(schema, "200", "201"),
    )


def _subresource_ops(res: Resource, sub: str, schema: str) -> dict[str, object]:
    if sub not in _SUBRESOURCES:  # log, exec, attach, portforward, eviction: connect-like
        return _connect_ops(res, sub)
    kind, verbs = _SUBRESOURCES[sub]
    target = kind or (res.group, res.version, res.kind)
    body = schema if kind is None else _schema_for(target)
    build = {"get": _read_op, "put": _replace_op, "patch": _patch_op}
    ops: dict[str, object] = {}
    for verb in verbs:
        if verb == "post":
            ops["post"] = _operation(
                "post",
                _op_id("create", res, sub.capitalize()),
                res,
                target,
                parameters=_query(*_WRITE),
                requestBody={"content": _content(body, ("*/*",)), "required": True},
                responses=_responses(body, "200", "201", "202"),
            )
        else:
            ops[verb] = build[verb](res, body, target, sub.capitalize())
    return ops


def _schema_for(gvk: tuple[str, str, str]) -> str:
    prefix = f"io.k8s.api.{gvk[0].split('.')[0] or 'core'}.{gvk[1]}"
    return f"{prefix}.{gvk[2]}"


def _connect_ops(res: Resource, sub: str) -> dict[str, object]:
    ops: dict[str, object] = {}
    methods = {"log": ("get",), "eviction": ("post",)}.get(sub, ("get", "post"))
    for verb, action in ((m, "connect") for m in methods):
        op_verb = "read" if sub == "log" else f"connect{verb.capitalize()}"
        ops[verb] = {
            "operationId": _op_id(op_verb, res, sub.capitalize()),
            "description": f"{action} {sub} of {res.kind}",
            "tags": [_tag(res)],
            "x-kubernetes-action": "get" if sub == "log" else action,
            "responses": {
                "200": {"description": "OK", "content": {"*/*": {"schema": {"type": "string"}}}}
            },
        }
    return ops


def _with_path_params(ops: dict[str, object], path: str) -> dict[str, object]:
    params: list[dict[str, object]] = []
    for name in ("name", "namespace"):
        if f"{{{name}}}" in path:
            params.append(
                {
                    "name": name,
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "uniqueItems": True},
                }
            )
    params.extend(_query("pretty"))
    return {**ops, "parameters": params}
