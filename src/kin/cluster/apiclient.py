"""The kin CLI as a client of its cluster's API server: the admin identity, reached through
the published API port on the host (as the user's kubectl reaches it).

``apply`` creates objects in order and replaces the ones that exist (what ``kubectl
apply`` of a fresh manifest amounts to); ``wait_for`` polls a condition on the API until
a deadline. Synchronous, on the standard library (``kin.kube.restclient``): the CLI talks
to the API server while the nodes boot, and must not take their CPU.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from typing import Any, TypeVar

from kin.cluster.controlplane import ADMIN_CONF
from kin.cluster.plan import ClusterPlan
from kin.cluster.state import node_dir
from kin.errors import APIError
from kin.kube import kubeconfig
from kin.kube.restclient import RestClient

__all__ = ["admin_client", "apply", "path_of", "wait_for"]

Obj = dict[str, Any]
T = TypeVar("T")
POLL = 0.05


def admin_client(plan: ClusterPlan) -> RestClient:
    """An admin client through the published port (use in a ``with`` block)."""
    root = os.path.join(node_dir(plan.name, plan.control_plane.name), "fs")
    connection = kubeconfig.load(os.path.join(root, ADMIN_CONF.lstrip("/")))
    host = plan.api_server.listen_address or "127.0.0.1"
    published = f"https://{host}:{plan.api_server.host_port}"
    return RestClient(dataclasses.replace(connection, server=published))


def path_of(obj: Obj, with_name: bool = True) -> str:
    """The REST path of a manifest object (core and named groups, namespaced or not)."""
    group_version = str(obj["apiVersion"])
    prefix = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
    meta = obj["metadata"]
    kind = str(obj["kind"]).lower()
    plural = kind + ("es" if kind.endswith("s") else "s")
    namespace = f"/namespaces/{meta['namespace']}" if meta.get("namespace") else ""
    path = f"{prefix}{namespace}/{plural}"
    return f"{path}/{meta['name']}" if with_name else path


def apply(api: RestClient, objects: list[Obj]) -> None:
    for obj in objects:
        try:
            api.create(path_of(obj, with_name=False), obj)
        except APIError as exc:
            if exc.code != 409:
                raise
            current = api.get(path_of(obj))
            version = current["metadata"]["resourceVersion"]
            replaced = {**obj, "metadata": {**obj["metadata"], "resourceVersion": version}}
            api.update(path_of(obj), replaced)


def wait_for(check: Callable[[], T | None], deadline: float) -> T | None:
    """``check()`` until it answers (not None) or ``deadline`` (monotonic) passes; API
    errors count as "not yet" (the server may still be starting)."""
    while True:
        try:
            answer = check()
        except APIError:
            answer = None
        if answer is not None or time.monotonic() >= deadline:
            return answer
        time.sleep(POLL)
