"""An asyncio Kubernetes API client: requests, kube's errors, and watches.

Each failed request raises ``APIError`` with the code, reason and message of the Status
the server sent (or a 503 naming the server when it could not be reached), so a daemon
can tell a conflict (409) from a compacted watch (410) from a missing object (404).
``watch`` yields ``(type, object)`` for each event of a chunked watch stream and raises
the 410 of an ``ERROR`` event, which tells the caller to list again.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from types import TracebackType
from typing import Any

import aiohttp

from kin.errors import APIError
from kin.kube.kubeconfig import Connection
from kin.kube.responses import api_error, parse_json

__all__ = ["MERGE_PATCH", "STRATEGIC_PATCH", "Client"]

MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
JSON = "application/json"
Obj = dict[str, Any]


class Client:
    """Use as ``async with Client(connection, "kin-flanneld") as api: ...``."""

    def __init__(self, connection: Connection, user_agent: str = "kin") -> None:
        self.connection = connection
        headers = {"User-Agent": user_agent, "Accept": JSON}
        if connection.token:
            headers["Authorization"] = f"Bearer {connection.token}"
        connector = aiohttp.TCPConnector(ssl=connection.ssl_context or False)
        self._session = aiohttp.ClientSession(
            connection.server, headers=headers, connector=connector
        )

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self._session.close()

    async def get(self, path: str, **params: str) -> Obj:
        return await self.request("GET", path, params=params)

    async def create(self, path: str, body: Obj) -> Obj:
        return await self.request("POST", path, body)

    async def update(self, path: str, body: Obj) -> Obj:
        return await self.request("PUT", path, body)

    async def patch(self, path: str, body: Obj | list[Any], content_type: str = MERGE_PATCH) -> Obj:
        return await self.request("PATCH", path, body, content_type=content_type)

    async def delete(self, path: str) -> Obj:
        return await self.request("DELETE", path)

    async def request(
        self,
        method: str,
        path: str,
        body: Obj | list[Any] | None = None,
        *,
        content_type: str = JSON,
        params: Mapping[str, str] | None = None,
    ) -> Obj:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": content_type} if data is not None else {}
        try:
            async with self._session.request(method, path, data=data, headers=headers,
                                             params=params or None) as response:  # fmt: skip
                payload = await response.read()
                status = response.status
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise self._unreachable(method, path, exc) from exc
        answer = parse_json(payload)
        if status >= 400:
            raise api_error(status, answer, f"{method} {path}")
        return answer

    async def watch(
        self, path: str, resource_version: str, **params: str
    ) -> AsyncIterator[tuple[str, Obj]]:
        """Events after ``resource_version`` until the server ends the stream."""
        query = {
            "watch": "1",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            **params,
        }
        try:
            async with self._session.get(
                path, params=query, timeout=aiohttp.ClientTimeout(total=None)
            ) as response:
                if response.status >= 400:
                    answer = parse_json(await response.read())
                    raise api_error(response.status, answer, f"watch {path}")
                async for line in response.content:
                    if not line.strip():
                        continue
                    event = parse_json(line)
                    kind, obj = str(event.get("type", "")), event.get("object") or {}
                    if kind == "ERROR":
                        raise api_error(int(obj.get("code") or 500), obj, f"watch {path}")
                    yield kind, obj
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise self._unreachable("watch", path, exc) from exc

    def _unreachable(self, what: str, path: str, exc: BaseException) -> APIError:
        why = str(exc) or type(exc).__name__
        return APIError(
            503, "ServiceUnavailable", f"{what} {path} at {self.connection.server}: {why}"
        )
