"""Server-side Tables: what ``kubectl get`` prints, computed where kube computes it.

kubectl 1.32 has no per-kind columns of its own. When it asks for
``application/json;as=Table;v=v1;g=meta.k8s.io`` the server sends column definitions
and one row of ready-made cells per object; without a Table every kind prints as
``NAME AGE``. So the columns, their order, types and priorities, and every cell's
wording (ages, ``<none>``, ``Init:0/1``) are part of the API, ported from
kube-apiserver's printers (see ``printers``).

Each row also carries the object, by default as ``PartialObjectMetadata``: kubectl
takes the NAMESPACE column of ``-A`` and ``--show-labels`` from it. ``includeObject=Object``
sends the whole object (``--sort-by`` needs it), ``None`` sends none. The table's
``metadata.resourceVersion`` is where ``kubectl get -w`` starts watching.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from kin.apiserver import fields
from kin.apiserver.errors import bad_request
from kin.apiserver.humanize import parse_time
from kin.apiserver.printers import PRINTERS
from kin.apiserver.printers.base import NAME, Column, Obj, Printer, Row, get, name
from kin.apiserver.printers.descriptions import DOCS

__all__ = [
    "DEFAULT",
    "INCLUDE_OBJECT",
    "TABLE_API_VERSION",
    "printer_for",
    "row_object",
    "table",
]

TABLE_API_VERSION = "meta.k8s.io/v1"
INCLUDE_OBJECT = ("Metadata", "Object", "None")
"""The ``includeObject`` values; an empty one means ``Metadata``."""


def _created_at(obj: Obj) -> str:
    """RFC 3339 in UTC, Go's zero time when absent (``0001-01-01T00:00:00Z``)."""
    stamp = parse_time(get(obj, "metadata", "creationTimestamp"))
    if stamp is None:
        return "0001-01-01T00:00:00Z"
    utc = stamp.astimezone(UTC)
    return f"{utc.year:04d}-{utc:%m-%dT%H:%M:%S}Z"


DEFAULT = Printer(
    (NAME, Column("Created At", "date", DOCS["meta.creationTimestamp"])),
    lambda obj, now: {"cells": [name(obj), _created_at(obj)]},
)
"""kube's ``defaultTableConvertor``, for kinds without a printer of their own."""


def printer_for(resource: str) -> Printer:
    return PRINTERS.get(fields.canonical(resource), DEFAULT)


def table(
    resource: str,
    objects: Iterable[Obj],
    include_object: str = "Metadata",
    resource_version: str = "",
    *,
    now: datetime | None = None,
    no_headers: bool = False,
    continue_token: str = "",
    remaining_item_count: int | None = None,
    api_version: str = TABLE_API_VERSION,
) -> dict[str, Any]:
    """A ``meta.k8s.io/v1`` Table of ``objects`` of ``resource`` (``pods``,
    ``deployments.apps`` ...). ``now`` fixes the clock for ages; ``no_headers`` leaves the
    column definitions out (as for watch events after the first)."""
    if include_object not in ("", *INCLUDE_OBJECT):
        raise bad_request(f"unrecognized includeObject value: {json.dumps(include_object)}")
    printer = printer_for(resource)
    moment = now or datetime.now(UTC)
    rows = [_row(resource, printer, obj, moment, include_object, api_version) for obj in objects]
    return {
        "kind": "Table",
        "apiVersion": api_version,
        "metadata": _list_meta(resource_version, continue_token, remaining_item_count),
        "columnDefinitions": [] if no_headers else [c.definition() for c in printer.columns],
        "rows": rows,
    }


def _row(
    resource: str, printer: Printer, obj: Obj, now: datetime, include: str, api_version: str
) -> Row:
    row = printer.row(obj, now)
    shown = row_object(resource, obj, include, api_version)
    if shown is not None:
        row["object"] = shown
    return row


def _list_meta(resource_version: str, continue_token: str, remaining: int | None) -> Obj:
    meta: dict[str, Any] = {"resourceVersion": resource_version} if resource_version else {}
    if continue_token:
        meta["continue"] = continue_token
    if remaining is not None:
        meta["remainingItemCount"] = remaining
    return meta


def row_object(resource: str, obj: Mapping[str, Any], include_object: str, api_version: str) -> Any:
    """The ``object`` of a row: PartialObjectMetadata, the full object, or None."""
    if include_object == "None":
        return None
    if include_object == "Object":
        info = fields.resource_info(resource)
        typed = {"kind": info.kind, "apiVersion": info.api_version} if info.kind else {}
        return typed | dict(obj)
    metadata = obj.get("metadata") or {}
    return {"kind": "PartialObjectMetadata", "apiVersion": api_version, "metadata": metadata}
