"""Events, core/v1 and events.k8s.io/v1 alike (kube prints both from one internal type).

LAST SEEN falls back from ``lastTimestamp`` to FIRST SEEN, which falls back from
``firstTimestamp`` to ``eventTime``; an event with a ``series`` shows the series' last
observation and count instead. A singleton event of the new API (count 0) counts 1.
OBJECT is ``kind/name`` with the kind lower-cased, SOURCE is ``component, host`` with
``reportingController``/``reportingInstance`` standing in for missing parts.
"""

from __future__ import annotations

from datetime import datetime

from kin.apiserver.fields import core_event
from kin.apiserver.humanize import since
from kin.apiserver.printers.base import (
    NAME,
    Cell,
    Column,
    Obj,
    Printer,
    Row,
    get,
    integer,
    name,
    text,
)
from kin.apiserver.printers.descriptions import DOCS

__all__ = ["EVENTS", "event_source"]


def event_source(event: Obj) -> str:
    """``formatEventSource``: ``kubelet, node-1`` or just ``default-scheduler``."""
    component = text(event, "source", "component") or text(event, "reportingController")
    host = text(event, "source", "host") or text(event, "reportingInstance")
    return f"{component}, {host}" if host else component


def _seen(event: Obj, now: datetime) -> tuple[str, str, int]:
    """LAST SEEN, FIRST SEEN and COUNT."""
    first = since(get(event, "firstTimestamp"), now)
    if get(event, "firstTimestamp") is None:
        first = since(get(event, "eventTime"), now)
    last = since(get(event, "lastTimestamp"), now)
    if get(event, "lastTimestamp") is None:
        last = first
    if get(event, "series") is not None:
        return since(get(event, "series", "lastObservedTime"), now), first, _series_count(event)
    return last, first, integer(event, "count") or 1


def _series_count(event: Obj) -> int:
    return integer(event, "series", "count")


def _target(event: Obj) -> str:
    kind = text(event, "involvedObject", "kind").lower()
    involved = text(event, "involvedObject", "name")
    return f"{kind}/{involved}" if involved else kind


def _event_row(obj: Obj, now: datetime) -> Row:
    event = core_event(obj)
    last, first, times = _seen(event, now)
    cells: list[Cell] = [last, text(event, "type"), text(event, "reason"), _target(event)]
    cells += [text(event, "involvedObject", "fieldPath"), event_source(event)]
    cells += [text(event, "message").strip(), first, times, name(event)]
    return {"cells": cells}


EVENTS = Printer(
    (
        Column("Last Seen", "string", DOCS["ev.lastTimestamp"]),
        Column("Type", "string", DOCS["ev.type"]),
        Column("Reason", "string", DOCS["ev.reason"]),
        Column("Object", "string", DOCS["ev.involvedObject"]),
        Column("Subobject", "string", DOCS["ref.fieldPath"], priority=1),
        Column("Source", "string", DOCS["ev.source"], priority=1),
        Column("Message", "string", DOCS["ev.message"]),
        Column("First Seen", "string", DOCS["ev.firstTimestamp"], priority=1),
        Column("Count", "string", DOCS["ev.count"], priority=1),
        Column("Name", "string", NAME.description, priority=1, format="name"),
    ),
    _event_row,
)
