"""The sync loop: changes coalesce within the minimum sync period, nothing unchanged is
applied again except by the periodic resync, and a failing backend is retried."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from kin.errors import CommandError
from kin.proxy.model import ServicePort
from kin.proxy.options import Settings
from kin.proxy.proxier import Proxier


class Backend:
    mode = "fake"

    def __init__(self, failures: int = 0) -> None:
        self.calls: list[tuple[int, bool]] = []
        self.failures = failures

    def sync(self, ports: list[ServicePort], full: bool = False) -> None:
        if self.failures:
            self.failures -= 1
            raise CommandError(["nft"], 1, "no")
        self.calls.append((len(ports), full))


def service(name: str) -> dict[str, Any]:
    return {"metadata": {"namespace": "default", "name": name, "resourceVersion": "1"},
            "spec": {"clusterIP": "10.96.0.9", "ports": [{"port": 80}]}}  # fmt: skip


async def _run(proxier: Proxier, seconds: float, during: Any = None) -> None:
    loop = asyncio.create_task(proxier._sync_forever())
    if during is not None:
        await during()
    await asyncio.sleep(seconds)
    loop.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await loop


def _proxier(backend: Backend, **settings: float) -> Proxier:
    return Proxier(None, Settings(node="a", **settings), backend)  # type: ignore[arg-type]


def test_a_burst_of_changes_costs_one_sync_after_the_minimum_period() -> None:
    backend = Backend()
    proxier = _proxier(backend, min_sync_period=0.3, sync_period=60)

    async def burst() -> None:
        await asyncio.sleep(0.05)  # the first sync has run
        for i in range(20):
            proxier.services.objects[f"default/s{i}"] = service(f"s{i}")
            proxier._changed("ADDED", {})
            await asyncio.sleep(0.005)

    asyncio.run(_run(proxier, 0.5, burst))
    assert backend.calls == [(0, True), (20, False)]  # the first is full, the burst one sync


def test_the_periodic_resync_applies_everything_again() -> None:
    backend = Backend()
    asyncio.run(_run(_proxier(backend, min_sync_period=0, sync_period=0.1), 0.35))
    assert len(backend.calls) >= 3 and all(full for _, full in backend.calls)


def test_a_failing_backend_is_retried_and_the_loop_goes_on() -> None:
    backend = Backend(failures=1)
    asyncio.run(_run(_proxier(backend, min_sync_period=0, sync_period=60), 0.8))
    assert backend.calls == [(0, True)]  # after one failure and a 0.5 s back-off
