"""The sync loop: Services and EndpointSlices in, one rule set per sync out.

Two informers keep the objects; any change marks the rules dirty. A sync computes the
service ports (``kin.proxy.model``) and, if they differ from what the last sync applied,
hands them to the mode's backend, which applies them in one transaction. Syncs are at
least ``min_sync_period`` apart, so a burst of changes (a Deployment scaling up) costs
one sync, not one per endpoint; after ``sync_period`` without a change the rules are
applied again in full (the iptables mode rewrites every chain, mending what was changed by
hand; the nftables mode's transactions carry only differences from what it applied, so
its periodic sync is empty). After a sync, UDP flows to
endpoints that went are deleted from conntrack (``kin.proxy.conntrack``). A failed sync
is logged and retried after a back-off; the daemon keeps going.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Protocol

from kin.errors import KinError
from kin.kube.client import Client
from kin.kube.informer import Informer
from kin.proxy.conntrack import clear_stale_udp
from kin.proxy.model import ServicePort, service_ports
from kin.proxy.options import Settings

__all__ = ["Backend", "Proxier"]

log = logging.getLogger("kin.proxy")
SERVICES = "/api/v1/services"
SLICES = "/apis/discovery.k8s.io/v1/endpointslices"
# Services another proxy implements are not kube-proxy's (upstream's selector).
NOT_OURS = "!service.kubernetes.io/service-proxy-name"
RETRY = (0.5, 1.0, 2.0, 5.0)


class Backend(Protocol):
    mode: str

    def sync(self, ports: list[ServicePort], full: bool = False) -> None: ...


class Proxier:
    def __init__(self, api: Client, settings: Settings, backend: Backend) -> None:
        self.settings = settings
        self.backend = backend
        self.services = Informer(api, SERVICES, self._changed, labelSelector=NOT_OURS)
        self.slices = Informer(api, SLICES, self._changed, labelSelector=NOT_OURS)
        self.dirty = asyncio.Event()
        self.applied: list[ServicePort] | None = None

    def _changed(self, kind: str, obj: Any) -> None:
        self.dirty.set()

    async def run(self) -> None:
        watches = [asyncio.create_task(i.run()) for i in (self.services, self.slices)]
        try:
            await asyncio.gather(self.services.synced.wait(), self.slices.synced.wait())
            await self._sync_forever()
        finally:
            for task in watches:
                task.cancel()
            await asyncio.gather(*watches, return_exceptions=True)

    async def _sync_forever(self) -> None:
        failures, last, periodic = 0, float("-inf"), False
        while True:
            since = time.monotonic() - last
            if since < self.settings.min_sync_period:
                await asyncio.sleep(self.settings.min_sync_period - since)
            self.dirty.clear()
            last = time.monotonic()
            try:
                await self.sync(force=periodic or failures > 0 or self.applied is None)
                failures = 0
            except KinError as exc:
                failures += 1
                log.error("sync failed: %s", exc)
                await asyncio.sleep(RETRY[min(failures, len(RETRY)) - 1])
                continue
            try:
                await asyncio.wait_for(self.dirty.wait(), self.settings.sync_period)
                periodic = False
            except TimeoutError:
                periodic = True

    async def sync(self, force: bool = False) -> bool:
        """Apply the current service ports unless they are what was applied; True if it
        applied (``force``: even then, as the periodic resync does)."""
        ports = service_ports(
            self.services.objects.values(), self.slices.objects.values(), self.settings.node
        )
        if ports == self.applied and not force:
            return False
        started = time.monotonic()
        previous, self.applied = self.applied, None
        await asyncio.to_thread(self.backend.sync, ports, force)
        if previous:  # UDP flows to endpoints gone would otherwise keep going there
            await asyncio.to_thread(clear_stale_udp, previous, ports)
        self.applied = ports
        endpoints = sum(len({*p.cluster_endpoints, *p.external_endpoints}) for p in ports)
        log.info("synced %s rules: %d service ports, %d endpoints in %.0f ms",
                 self.backend.mode, len(ports), endpoints,
                 (time.monotonic() - started) * 1000)  # fmt: skip
        return True
