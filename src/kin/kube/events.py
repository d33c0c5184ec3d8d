"""Events, as the components that do things record them for ``kubectl describe``.

A ``core/v1`` Event per occurrence (named ``<object>.<hex nanoseconds>`` as client-go
names them), about one object, with a reason, a message and the reporting component.
Recording is best effort: an event that cannot be written is logged, never raised.
"""

from __future__ import annotations

import calendar
import logging
import time
from typing import Any

from kin.errors import APIError

TYPE_CHECKING = False
if TYPE_CHECKING:  # a type only: the CLI reads times here without importing aiohttp
    from kin.kube.client import Client

__all__ = ["now", "parse_time", "record"]

log = logging.getLogger("kin.kube")
Obj = dict[str, Any]


def now() -> str:
    """The time as Kubernetes writes it in objects (RFC 3339, seconds, UTC)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def parse_time(text: str) -> float:
    """An RFC 3339 time of an object (``Time`` or ``MicroTime``) in seconds since the epoch;
    0 when missing or unreadable."""
    whole, _, fraction = text.rstrip("Z").partition(".")
    try:
        seconds = calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S"))
    except ValueError:
        return 0.0
    return seconds + (float(f"0.{fraction}") if fraction.isdigit() else 0.0)


async def record(
    api: Client, about: Obj, reason: str, message: str, kind: str = "Normal",
    component: str = "default-scheduler",
) -> None:  # fmt: skip
    meta = about.get("metadata") or {}
    namespace = meta.get("namespace") or "default"
    stamp = now()
    body = {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": f"{meta.get('name')}.{time.time_ns():x}", "namespace": namespace},
        "involvedObject": {
            "apiVersion": about.get("apiVersion", "v1"), "kind": about.get("kind", "Pod"),
            "namespace": namespace, "name": meta.get("name"), "uid": meta.get("uid"),
            "resourceVersion": meta.get("resourceVersion"),
        },
        "reason": reason, "message": message, "type": kind, "count": 1,
        "source": {"component": component}, "reportingComponent": component,
        "firstTimestamp": stamp, "lastTimestamp": stamp,
    }  # fmt: skip
    try:
        await api.create(f"/api/v1/namespaces/{namespace}/events", body)
    except APIError as exc:
        log.warning("could not record event %s for %s/%s: %s", reason, namespace,
                    meta.get("name"), exc.message)  # fmt: skip
