"""Controllers against kin's real API server (in-process, memory storage), for tests: the
manager runs on the test's event loop, the test plays user and kubelet through its client."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from kin.controller_manager.manager import ManagerConfig, run_controllers
from kin.errors import APIError
from kin.kube.client import Client
from kin.kube.events import now
from kin.kube.kubeconfig import Connection
from kin.testing.apiserver import InProcessServer

T = TypeVar("T")
Obj = dict[str, Any]
APPS = "/apis/apps/v1/namespaces/default"
PODS = "/api/v1/namespaces/default/pods"


@contextlib.asynccontextmanager
async def controllers(
    server: InProcessServer, *, client_type: type[Client] = Client, **config: Any
) -> AsyncIterator[Client]:
    """Run the chosen controllers for the block, with a client of ``client_type`` (a
    subclass may refuse some requests); yield a plain client for the test."""
    connection = Connection(server.url, None, server.token)
    async with Client(connection, "test") as api, client_type(connection, "manager") as manager:
        task = asyncio.create_task(run_controllers(manager, ManagerConfig(**config)))
        try:
            yield api
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def client(server: InProcessServer) -> Client:
    """A plain client of ``server`` (use as ``async with client(server) as api``)."""
    return Client(Connection(server.url, None, server.token), "test")


async def eventually(check: Callable[[], Awaitable[T | None]], timeout: float = 10.0) -> T:
    """Poll ``check`` until it returns something other than None or False (an empty list
    is an answer); fail with its last answer."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = await check()
        if last is not None and last is not False:
            return last
        await asyncio.sleep(0.02)
    raise AssertionError(f"not within {timeout}s; last answer: {last!r}")


async def get_or_none(api: Client, path: str) -> Obj | None:
    """The object at ``path``, or None when it does not exist."""
    try:
        return await api.get(path)
    except APIError as exc:
        if exc.code == 404:
            return None
        raise


async def gone(api: Client, path: str) -> bool:
    return await get_or_none(api, path) is None


async def pods(api: Client, selector: str = "") -> list[Obj]:
    params = {"labelSelector": selector} if selector else {}
    listed = await api.get(PODS, **params)
    return [p for p in listed["items"] if not p["metadata"].get("deletionTimestamp")]


async def run_pods(api: Client, selector: str = "", node: str = "") -> int:
    """Act as the kubelet: every pending pod is Running and Ready with an IP. Returns how
    many pods it changed."""
    changed = 0
    for number, pod in enumerate(await pods(api, selector)):
        if (pod.get("status") or {}).get("phase") == "Running":
            continue
        status = {
            "phase": "Running", "podIP": f"10.244.9.{number + 10}",
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now()}],
        }  # fmt: skip
        name = pod["metadata"]["name"]
        await api.patch(f"{PODS}/{name}/status", {"status": status})
        changed += 1
    return changed


def container(image: str = "busybox", **extra: Any) -> Obj:
    return {"name": "app", "image": image, "command": ["sleep", "3600"], **extra}


def template(labels: dict[str, str], image: str = "busybox", **spec: Any) -> Obj:
    return {"metadata": {"labels": labels}, "spec": {"containers": [container(image)], **spec}}


__all__ = [
    "APPS",
    "PODS",
    "client",
    "container",
    "controllers",
    "eventually",
    "pods",
    "run_pods",
    "template",
]
