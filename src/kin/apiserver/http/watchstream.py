"""``?watch=true``: a chunked stream of ``{"type": ..., "object": ...}`` lines.

Objects are Tables when kubectl asked for Tables (one row per event, no column
definitions after the first). ``resourceVersion`` unset or ``0`` starts with the current
objects as ADDED (kubectl throws that first event away for a single-object watch);
``N`` continues strictly after N; a compacted N ends the stream with an ERROR event
carrying a 410 Status, as kube-apiserver does. The stream lasts until the client goes
away, or ``timeoutSeconds``. With ``allowWatchBookmarks`` an idle stream gets a BOOKMARK
every minute, with a resourceVersion whose events it has surely all been sent.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from typing import Any

from aiohttp import web

from kin.apiserver import errors, tables
from kin.apiserver.http.bodies import dump, wants_table
from kin.apiserver.http.common import qualified
from kin.apiserver.http.routes import Route
from kin.apiserver.registry import ListOptions, Registry

__all__ = ["serve"]

BOOKMARK_EVERY = 60.0
SETUP_GRACE = 0.05
Event = tuple[str, dict[str, Any]]
Events = AsyncGenerator[Event, None]


async def serve(
    request: web.Request, registry: Registry, route: Route, opts: ListOptions
) -> web.StreamResponse:
    timeout = _timeout(request)
    bookmarks = request.query.get("allowWatchBookmarks", "") in ("true", "1")
    events = registry.watch(route.resource, route.namespace, opts)
    pump = _Pump(events, route, registry, wants_table(request), bookmarks)
    try:
        await pump.start()
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        with contextlib.suppress(ConnectionResetError, asyncio.TimeoutError):
            await asyncio.wait_for(pump.run(response), timeout)
        return response
    finally:
        await pump.close()


def _timeout(request: web.Request) -> float | None:
    try:
        seconds = int(request.query.get("timeoutSeconds", "0") or 0)
    except ValueError:
        raise errors.bad_request("timeoutSeconds must be an integer") from None
    return float(seconds) if seconds > 0 else None


class _Pump:
    """Copies events to the response until the watch ends or the client goes away.

    Events are read straight from the watch: a burst of buffered events goes out without
    a trip through the event loop per event (with a task per event, a watch fell tens of
    milliseconds behind 8 concurrent writers). Bookmarks come from a timer beside it.
    """

    def __init__(
        self, events: Events, route: Route, registry: Registry, table: bool, bookmarks: bool
    ) -> None:
        self.events = events
        self.route = route
        self.registry = registry
        self.table = table
        self.bookmarks = bookmarks
        self.first = True
        self.pending: asyncio.Future[Event] | None = None
        self.sent = 0  # the newest resourceVersion sent
        self.count = 0  # events sent
        self.settled: int | None = None  # the store's revision at the last idle interval
        self.writing = asyncio.Lock()  # events and bookmarks are whole lines

    async def start(self) -> None:
        """Setup errors (a bad selector, an expired resourceVersion) still get a plain
        Status: give the watch a moment to fail before the 200 goes out. The first event
        is awaited in a task, as cancelling a bare ``anext`` would close the watch."""
        self.pending = asyncio.ensure_future(anext(self.events))
        await asyncio.wait({self.pending}, timeout=SETUP_GRACE)
        if self.pending.done() and isinstance(self.pending.exception(), errors.APIError):
            self.pending.result()

    async def run(self, response: web.StreamResponse) -> None:
        assert self.pending is not None
        ticker = asyncio.ensure_future(self._tick(response)) if self.bookmarks else None
        try:
            event = await self.pending
            while True:
                await self.send(response, event)
                event = await anext(self.events)
        except StopAsyncIteration:
            return
        except errors.APIError as exc:
            async with self.writing:
                await response.write(dump({"type": "ERROR", "object": exc.status()}) + b"\n")
        finally:
            if ticker is not None:
                ticker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await ticker

    async def _tick(self, response: web.StreamResponse) -> None:
        while True:
            seen = self.count
            await asyncio.sleep(BOOKMARK_EVERY)
            if self.count == seen:
                await self.idle(response)

    async def idle(self, response: web.StreamResponse) -> None:
        """A whole interval without events: bookmark the store's revision as read one
        interval ago (every event up to it has long arrived; one read now may be of a
        write whose event is still on its way, and a client resuming from it would miss
        that event), never below what was sent; then read the next."""
        if self.settled is not None:
            async with self.writing:
                await _bookmark(response, self.route, max(self.settled, self.sent))
        self.settled = await self.registry.storage.revision()

    async def send(self, response: web.StreamResponse, event: Event) -> None:
        kind, obj = event
        with contextlib.suppress(KeyError, ValueError):
            self.sent = max(self.sent, int((obj.get("metadata") or {})["resourceVersion"]))
        if self.table:
            rv = str((obj.get("metadata") or {}).get("resourceVersion", ""))
            res = qualified(self.route.resource)
            obj = tables.table(res, [obj], "Metadata", rv, no_headers=not self.first)
        self.first = False
        self.count += 1
        async with self.writing:
            await response.write(dump({"type": kind, "object": obj}) + b"\n")

    async def close(self) -> None:
        if self.pending is not None and not self.pending.done():
            self.pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                await self.pending
        await self.events.aclose()


async def _bookmark(response: web.StreamResponse, route: Route, revision: int) -> None:
    res = route.resource
    marker = {
        "kind": res.kind,
        "apiVersion": res.api_version,
        "metadata": {"resourceVersion": str(revision)},
    }
    await response.write(dump({"type": "BOOKMARK", "object": marker}) + b"\n")
