"""Cluster-level kinds: nodes (STATUS, ROLES, VERSION ...), namespaces and leases.

A node's STATUS looks only at the Ready condition (``Ready``, ``NotReady``, ``Unknown``
when there is none) and appends ``SchedulingDisabled`` for a cordoned node. ROLES is the
sorted set of ``node-role.kubernetes.io/<role>`` label suffixes plus the value of the
older ``kubernetes.io/role`` label, ``<none>`` if empty: kind's control-plane node
shows ``control-plane``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from kin.apiserver.printers.base import (
    AGE,
    NAME,
    Column,
    Obj,
    Printer,
    Row,
    age,
    get,
    items,
    name,
    text,
)
from kin.apiserver.printers.descriptions import DOCS

__all__ = ["LEASES", "NAMESPACES", "NODES", "node_roles", "node_status"]

ROLE_PREFIX = "node-role.kubernetes.io/"
ROLE_LABEL = "kubernetes.io/role"


def node_status(node: Obj) -> str:
    ready = [c for c in items(node, "status", "conditions") if text(c, "type") == "Ready"]
    if not ready:
        status = ["Unknown"]
    else:  # the last one wins, as in kube's condition map
        status = ["Ready" if text(ready[-1], "status") == "True" else "NotReady"]
    if get(node, "spec", "unschedulable") is True:
        status.append("SchedulingDisabled")
    return ",".join(status)


def node_roles(labels: Mapping[str, Any] | None) -> str:
    roles = set()
    for key, value in (labels or {}).items():
        if key.startswith(ROLE_PREFIX) and key != ROLE_PREFIX:
            roles.add(key[len(ROLE_PREFIX) :])
        elif key == ROLE_LABEL and value:
            roles.add(str(value))
    return ",".join(sorted(roles)) or "<none>"


def _address(node: Obj, kind: str) -> str:
    addresses = items(node, "status", "addresses")
    return next((text(a, "address") for a in addresses if text(a, "type") == kind), "<none>")


def _info(node: Obj, key: str) -> str:
    return text(node, "status", "nodeInfo", key) or "<unknown>"


def _node_row(node: Obj, now: datetime) -> Row:
    labels = get(node, "metadata", "labels")
    cells = [name(node), node_status(node), node_roles(labels), age(node, now)]
    cells.append(text(node, "status", "nodeInfo", "kubeletVersion"))
    cells += [_address(node, "InternalIP"), _address(node, "ExternalIP")]
    cells += [_info(node, k) for k in ("osImage", "kernelVersion", "containerRuntimeVersion")]
    return {"cells": cells}


NODES = Printer(
    (
        NAME,
        Column("Status", "string", "The status of the node"),
        Column("Roles", "string", "The roles of the node"),
        AGE,
        Column("Version", "string", DOCS["node.kubeletVersion"]),
        Column("Internal-IP", "string", DOCS["node.addresses"], priority=1),
        Column("External-IP", "string", DOCS["node.addresses"], priority=1),
        Column("OS-Image", "string", DOCS["node.osImage"], priority=1),
        Column("Kernel-Version", "string", DOCS["node.kernelVersion"], priority=1),
        Column("Container-Runtime", "string", DOCS["node.runtime"], priority=1),
    ),
    _node_row,
)

NAMESPACES = Printer(
    (NAME, Column("Status", "string", "The status of the namespace"), AGE),
    lambda ns, now: {"cells": [name(ns), text(ns, "status", "phase"), age(ns, now)]},
)

LEASES = Printer(
    (NAME, Column("Holder", "string", DOCS["lease.holder"]), AGE),
    lambda lease, now: {
        "cells": [name(lease), text(lease, "spec", "holderIdentity"), age(lease, now)]
    },
)
