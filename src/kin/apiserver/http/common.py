"""What every verb reads from a request (query options) and how it answers (object or Table)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kin.apiserver import errors, tables
from kin.apiserver.http.bodies import json_response, wants_table
from kin.apiserver.http.routes import Route
from kin.apiserver.objectmeta import meta
from kin.apiserver.registry import ListOptions, WriteOptions
from kin.apiserver.resources import Resource

__all__ = ["flag", "include", "list_options", "qualified", "respond", "success", "write_options"]

Obj = dict[str, Any]
_OPTIONS = {"PUT": "UpdateOptions", "PATCH": "PatchOptions", "DELETE": "DeleteOptions"}


def flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "").lower() in ("true", "1")


def list_options(request: web.Request) -> ListOptions:
    query = request.query
    try:
        limit = int(query.get("limit", "0") or 0)
    except ValueError:
        raise errors.bad_request(f"invalid limit {query.get('limit')!r}") from None
    return ListOptions(
        label_selector=query.get("labelSelector", ""),
        field_selector=query.get("fieldSelector", ""),
        limit=max(0, limit),
        continue_token=query.get("continue", ""),
        resource_version=query.get("resourceVersion", ""),
    )


def write_options(request: web.Request, body_dry_run: Any = None) -> WriteOptions:
    """``dryRun`` (only ``All``), ``fieldValidation`` and ``fieldManager``; anything else
    is 422, as ``ValidateCreateOptions`` and friends refuse it (a ``dryRun=true`` must
    never be taken for a real write)."""
    query = request.query
    dry_run = query.getall("dryRun", []) or (body_dry_run if isinstance(body_dry_run, list) else [])
    validation = query.get("fieldValidation", "")
    causes = []
    if any(value != "All" for value in dry_run):
        quoted = ", ".join(f'"{value}"' for value in dry_run)
        message = f'Unsupported value: []string{{{quoted}}}: supported values: "All"'
        causes.append(errors.cause("dryRun", message, "FieldValueNotSupported"))
    if validation not in ("", "Ignore", "Strict", "Warn"):
        supported = '"Ignore", "Strict", "Warn"'
        message = f'Unsupported value: "{validation}": supported values: {supported}'
        causes.append(errors.cause("fieldValidation", message, "FieldValueNotSupported"))
    if causes:
        kind = _OPTIONS.get(request.method, "CreateOptions")
        raise errors.invalid(kind, "", causes, "meta.k8s.io")
    return WriteOptions(bool(dry_run), _manager(request), validation or "Warn")


def _manager(request: web.Request) -> str:
    """``fieldManager``, else the client's name from its User-Agent, as kube defaults it."""
    manager = request.query.get("fieldManager", "")
    if manager:
        return manager
    return request.headers.get("User-Agent", "").split("/")[0][:128]


def include(request: web.Request) -> str:
    return request.query.get("includeObject", "Metadata") or "Metadata"


def respond(
    request: web.Request,
    route: Route,
    obj: Obj,
    status: int = 200,
    opts: WriteOptions | None = None,
) -> web.Response:
    """The object, or a one-row Table when kubectl asked for one."""
    warnings = opts.warnings if opts else None
    if wants_table(request) and obj.get("kind") == route.resource.kind:
        rv = str(meta(obj).get("resourceVersion", ""))
        res = route.resource
        body = tables.table(qualified(res), [obj], include(request), rv)
        return json_response(body, status, warnings)
    return json_response(obj, status, warnings)


def success(status: int = 201, details: Obj | None = None) -> web.Response:
    """The ``Status`` that bindings, evictions and some deletes answer with."""
    body: Obj = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}
    if details:
        body["details"] = details
    body["code"] = status
    return json_response(body, status)


def qualified(res: Resource) -> str:
    """``pods`` or ``deployments.apps``: how selectors and Tables name a resource."""
    return errors.qualified(res.plural, res.group)
