"""In-process watch fan-out for the backends that own their history (memory, SQLite).

A watch first replays history after its revision (from the store's own log), then
follows live changes that the store publishes after each commit. The subscription
is made *before* the replay starts, so a change committed while the replay runs is
either in the replay or in the subscription (or both: duplicates are dropped by
revision); nothing falls between them. This is the same shape as Kubernetes' watch
cache in front of etcd.

A watcher that does not keep up stops buffering after ``limit`` changes and goes
back to replaying from the store's log, so a stuck client costs bounded memory and
still loses nothing, unless the store compacts past it (then it gets Expired, as an
etcd watcher would). Each watcher decodes its own copy of every object, so one
consumer changing an event's object cannot corrupt another's.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable

from kin.apiserver.storage.base import Event
from kin.apiserver.storage.keys import decode

__all__ = ["BUFFER_LIMIT", "Change", "Changes", "History", "Hub", "Subscription", "watch"]

Change = tuple[int, str, str, str]
"""(revision, event type, key, JSON text of the object after the change or, for
DELETED, of its last state)."""
Changes = list[Change]
History = Callable[[str, int], Awaitable[Changes]]
"""``history(prefix, after)``: the next changes under ``prefix`` with revision > ``after``
in revision order (a bounded chunk; [] when none); raises Expired if compacted."""
BUFFER_LIMIT = 10_000


class Subscription:
    """The live changes under one prefix, buffered until the watcher takes them."""

    def __init__(self, prefix: str, limit: int) -> None:
        self.prefix = prefix
        self.limit = limit
        self.pending: deque[Change] = deque()
        self.overflowed = False
        self.closed = False
        self._wake = asyncio.Event()

    def offer(self, changes: Iterable[Change]) -> None:
        if self.overflowed:
            return
        self.pending.extend(c for c in changes if c[2].startswith(self.prefix))
        if len(self.pending) > self.limit:
            self.pending.clear()
            self.overflowed = True
        if self.pending or self.overflowed:
            self._wake.set()

    def close(self) -> None:
        self.closed = True
        self._wake.set()

    async def take(self) -> list[Change] | None:
        """The buffered changes; None after an overflow (replay from history instead);
        [] once closed."""
        while not (self.pending or self.overflowed or self.closed):
            self._wake.clear()
            await self._wake.wait()
        if self.overflowed:
            self.overflowed = False
            return None
        batch = list(self.pending)
        self.pending.clear()
        return batch


class Hub:
    """Publishes committed changes to every live subscription, in commit order."""

    def __init__(self, limit: int = 0) -> None:
        self.limit = limit or BUFFER_LIMIT
        self._subscriptions: set[Subscription] = set()
        self.closed = False

    def subscribe(self, prefix: str) -> Subscription:
        subscription = Subscription(prefix, self.limit)
        if self.closed:
            subscription.close()
        self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)

    def publish(self, changes: list[Change]) -> None:
        for subscription in self._subscriptions:
            subscription.offer(changes)

    def close(self) -> None:
        self.closed = True
        for subscription in self._subscriptions:
            subscription.close()

    def __len__(self) -> int:
        return len(self._subscriptions)


async def watch(hub: Hub, history: History, prefix: str, after: int) -> AsyncIterator[Event]:
    """Replay ``history`` after ``after``, then follow ``hub``; see the module docstring."""
    subscription = hub.subscribe(prefix)
    try:
        last, live = after, False
        while True:
            changes = await subscription.take() if live else await history(prefix, last)
            if changes is None or (not changes and live):
                if subscription.closed:
                    return
                live = False  # overflowed: replay from the log
                continue
            live = live or not changes
            for revision, kind, key, text in changes:
                if revision > last:
                    yield Event(kind, key, decode(text, revision, key), revision)
                    last = revision
    finally:
        hub.unsubscribe(subscription)
