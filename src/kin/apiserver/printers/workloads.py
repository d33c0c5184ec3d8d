"""Workload controllers: deployments, replicasets and daemonsets.

Their counters come straight from ``status`` (0 when a controller has not written it
yet) and print as integers, except a deployment's READY, ``ready/desired``. A missing
``spec.replicas`` counts as 1: kube defaults it before any printer sees the object.
The wide SELECTOR column is the label selector's string form; a deployment whose
selector cannot be converted shows ``<invalid>``, a replicaset or daemonset ``<error>``.
"""

from __future__ import annotations

from datetime import datetime

from kin.apiserver.errors import APIError
from kin.apiserver.printers.base import (
    AGE,
    NAME,
    Column,
    Obj,
    Printer,
    Row,
    age,
    containers,
    format_label_selector,
    format_labels,
    get,
    integer,
    name,
)
from kin.apiserver.printers.descriptions import DOCS
from kin.apiserver.selectors import selector_from_object

__all__ = ["DAEMON_SETS", "DEPLOYMENTS", "REPLICA_SETS"]

CONTAINERS = Column("Containers", "string", "Names of each container in the template.", 1)
IMAGES = Column("Images", "string", "Images referenced by each container in the template.", 1)
_TEMPLATE = ("spec", "template", "spec", "containers")


def _desired(obj: Obj) -> int:
    return integer(obj, "spec", "replicas", default=1)


def _deployment_selector(obj: Obj) -> str:
    try:
        return str(selector_from_object(get(obj, "spec", "selector")))
    except APIError:
        return "<invalid>"


def _deployment_row(obj: Obj, now: datetime) -> Row:
    ready = f"{integer(obj, 'status', 'readyReplicas')}/{_desired(obj)}"
    counts = [
        integer(obj, "status", "updatedReplicas"),
        integer(obj, "status", "availableReplicas"),
    ]
    cells = [name(obj), ready, *counts, age(obj, now), *containers(obj, *_TEMPLATE)]
    return {"cells": [*cells, _deployment_selector(obj)]}


DEPLOYMENTS = Printer(
    (
        NAME,
        Column("Ready", "string", "Number of the pod with ready state"),
        Column("Up-to-date", "string", DOCS["deploy.updated"]),
        Column("Available", "string", DOCS["deploy.available"]),
        AGE,
        CONTAINERS,
        IMAGES,
        Column("Selector", "string", DOCS["deploy.selector"], priority=1),
    ),
    _deployment_row,
)


def _replica_set_row(obj: Obj, now: datetime) -> Row:
    status = [integer(obj, "status", k) for k in ("replicas", "readyReplicas")]
    cells = [name(obj), _desired(obj), *status, age(obj, now), *containers(obj, *_TEMPLATE)]
    return {"cells": [*cells, format_label_selector(get(obj, "spec", "selector"))]}


REPLICA_SETS = Printer(
    (
        NAME,
        Column("Desired", "integer", DOCS["rs.desired"]),
        Column("Current", "integer", DOCS["rs.current"]),
        Column("Ready", "integer", DOCS["rs.ready"]),
        AGE,
        CONTAINERS,
        IMAGES,
        Column("Selector", "string", DOCS["rs.selector"], priority=1),
    ),
    _replica_set_row,
)

_DAEMON_COUNTS = (
    "desiredNumberScheduled",
    "currentNumberScheduled",
    "numberReady",
    "updatedNumberScheduled",
    "numberAvailable",
)


def _daemon_set_row(obj: Obj, now: datetime) -> Row:
    counts = [integer(obj, "status", k) for k in _DAEMON_COUNTS]
    node_selector = format_labels(get(obj, "spec", "template", "spec", "nodeSelector"))
    cells = [name(obj), *counts, node_selector, age(obj, now), *containers(obj, *_TEMPLATE)]
    return {"cells": [*cells, format_label_selector(get(obj, "spec", "selector"))]}


DAEMON_SETS = Printer(
    (
        NAME,
        Column("Desired", "integer", DOCS["ds.desired"]),
        Column("Current", "integer", DOCS["ds.current"]),
        Column("Ready", "integer", DOCS["ds.ready"]),
        Column("Up-to-date", "integer", DOCS["ds.updated"]),
        Column("Available", "integer", DOCS["ds.available"]),
        Column("Node Selector", "string", DOCS["pod.nodeSelector"]),
        AGE,
        CONTAINERS,
        IMAGES,
        Column("Selector", "string", DOCS["ds.selector"], priority=1),
    ),
    _daemon_set_row,
)
