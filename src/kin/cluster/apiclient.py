"""The kin CLI as a client of its cluster's API server: the admin identity, reached through
the published API port on the host (as the user's kubectl reaches it).

``apply`` creates objects in order and replaces the ones that exist (what ``kubectl
apply`` of a fresh manifest amounts to); ``wait_for`` polls a condition on the API until
a deadline. Both run their own event loop: the CLI is synchronous.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from kin.cluster.controlplane import ADMIN_CONF
from kin.cluster.plan import ClusterPlan
from kin.cluster.state import node_dir
from kin.errors import APIError
from kin.kube import kubeconfig
from kin.kube.client import Client

__all__ = ["admin_client", "apply", "path_of", "run", "wait_for"]

Obj = dict[str, Any]
T = TypeVar("T")
POLL = 0.1


def admin_client(plan: ClusterPlan) -> Client:
    """An admin client through the published port (use inside ``async with``)."""
    root = os.path.join(node_dir(plan.name, plan.control_plane.name), "fs")
    connection = kubeconfig.load(os.path.join(root, ADMIN_CONF.lstrip("/")))
    host = plan.api_server.listen_address or "127.0.0.1"
    published = f"https://{host}:{plan.api_server.host_port}"
    return Client(dataclasses.replace(connection, server=published), "kin")


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


async def apply(api: Client, objects: list[Obj]) -> None:
    for obj in objects:
        try:
            await api.create(path_of(obj, with_name=False), obj)
        except APIError as exc:
            if exc.code != 409:
                raise
            current = await api.get(path_of(obj))
            version = current["metadata"]["resourceVersion"]
            replaced = {**obj, "metadata": {**obj["metadata"], "resourceVersion": version}}
            await api.update(path_of(obj), replaced)


def run(plan: ClusterPlan, work: Callable[[Client], Awaitable[T]]) -> T:
    async def main() -> T:
        async with admin_client(plan) as api:
            return await work(api)

    return asyncio.run(main())


async def wait_for(check: Callable[[], Awaitable[T | None]], deadline: float) -> T | None:
    """``check()`` until it answers (not None) or ``deadline`` (monotonic) passes; API
    errors count as "not yet" (the server may still be starting)."""
    while True:
        try:
            answer = await check()
        except APIError:
            answer = None
        if answer is not None or time.monotonic() >= deadline:
            return answer
        await asyncio.sleep(POLL)
