"""What every controller shares: a work queue of object keys, workers that sync one key
at a time, and retries with exponential back-off for a key whose sync failed.

A controller subclasses ``Controller``, names the informers it needs, maps their
events to keys with ``enqueue`` and implements ``sync(key)``, which reads the caches,
compares desired with actual state and writes the difference. A sync that raises is
logged with the key and retried (5 ms, doubling, at most 30 s), and the other keys go on.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from kin.controller_manager.workqueue import WorkQueue
from kin.errors import APIError
from kin.kube.client import Client
from kin.kube.informer import Informer, key_of

__all__ = ["Controller", "Informers"]

log = logging.getLogger("kin.controller_manager")
Obj = dict[str, Any]
FIRST_RETRY, MAX_RETRY = 0.005, 30.0


class Informers:
    """One informer per resource path, shared by every controller that watches it."""

    def __init__(self, api: Client) -> None:
        self.api = api
        self.by_path: dict[str, Informer] = {}

    def get(self, path: str) -> Informer:
        if path not in self.by_path:
            self.by_path[path] = Informer(self.api, path)
        return self.by_path[path]


class Controller:
    name = "controller"
    workers = 2

    def __init__(self, api: Client, informers: Informers) -> None:
        self.api = api
        self.informers = informers
        self.queue = WorkQueue()
        self.failures: dict[str, int] = {}
        self.watched: list[Informer] = []

    def watch(self, path: str) -> Informer:
        """The shared informer of ``path``, which this controller waits for at start."""
        informer = self.informers.get(path)
        self.watched.append(informer)
        return informer

    def enqueue(self, obj_or_key: Obj | str) -> None:
        self.queue.add(obj_or_key if isinstance(obj_or_key, str) else key_of(obj_or_key))

    async def sync(self, key: str) -> None:
        raise NotImplementedError

    async def resync_all(self) -> None:
        """After the caches are filled: every key this controller owns, once."""

    async def run(self) -> None:
        await asyncio.gather(*(i.synced.wait() for i in self.watched))
        await self.resync_all()
        log.info("%s controller: started", self.name)
        await asyncio.gather(*(self._work() for _ in range(self.workers)))

    async def _work(self) -> None:
        while True:
            key = await self.queue.get()
            try:
                await self.sync(key)
                self.failures.pop(key, None)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._retry(key, exc)
            finally:
                self.queue.done(key)

    def _retry(self, key: str, exc: Exception) -> None:
        count = self.failures.get(key, 0) + 1
        self.failures[key] = count
        delay = min(FIRST_RETRY * 2 ** (count - 1), MAX_RETRY)
        what = exc.message if isinstance(exc, APIError) else f"{type(exc).__name__}: {exc}"
        if isinstance(exc, APIError) and exc.code == 409:
            log.info("%s %s: %s; again", self.name, key, what)
        else:
            log.warning("%s %s: %s; retry in %.3fs", self.name, key, what, delay)
        self.queue.add_after(key, delay)
