"""The etcd v3 subnet manager: Flannel's default mode, flannel without Kubernetes.

As Flannel's (``pkg/subnet/etcd``): the network configuration is the value of
``<prefix>/config``; a lease is the key ``<prefix>/subnets/<a.b.c.d>-<len>`` whose value
is the lease attributes as JSON (``{"PublicIP":..., "PublicIPv6":null, "BackendType":...,
"BackendData":...}``), attached to an etcd lease of 24 hours. A key without an etcd lease
is a reservation: it never expires. Acquiring, in Flannel's order: a lease that already
carries this node's public IP and fits the configuration is taken again (its TTL
renewed); else the subnet this node had before (from subnet.env) if it is free; else a
random one of the first 100 free subnets between SubnetMin and SubnetMax, created with a
transaction that fails if the key appeared meanwhile (then: try again, 10 times).
``complete`` starts renewing it ``renew_margin`` before it expires. Peers are the other
keys; a watch reports puts and deletions (an expiry is a deletion).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import random
import re
from collections.abc import AsyncIterator
from typing import Any

from kin.errors import KinError
from kin.etcd.client import EtcdClient, pb, prefix_end
from kin.flannel.lease import Lease, LeaseAttrs
from kin.flannel.netconf import LeaseRanges, NetConfig, lease_ranges, parse
from kin.flannel.subnet import LeaseLost, NotYet, Previous

__all__ = ["EtcdSubnetManager", "lease_key"]

log = logging.getLogger(__name__)

TTL = 24 * 3600  # seconds: Flannel's lease time
ATTEMPTS = 10
CANDIDATES = 100
RETRY_RENEWAL = 60.0  # seconds
_KEY = re.compile(r"(\d+\.\d+\.\d+\.\d+)-(\d+)$")


def lease_key(prefix: str, subnet: ipaddress.IPv4Network) -> str:
    return f"{prefix}/subnets/{subnet.network_address}-{subnet.prefixlen}"


class EtcdSubnetManager:
    def __init__(
        self,
        etcd: EtcdClient,
        prefix: str = "/coreos.com/network",
        previous_subnet: ipaddress.IPv4Network | None = None,
        ttl: int = TTL,
        renew_margin: float = 3600.0,
    ) -> None:
        self.etcd, self.prefix = etcd, prefix.rstrip("/")
        self.previous_subnet, self.ttl, self.renew_margin = previous_subnet, ttl, renew_margin
        self.ranges: LeaseRanges | None = None
        self.lease: Lease | None = None
        self.reserved = False  # the lease is a reservation: nothing to renew
        self._renewal: asyncio.Task[None] | None = None

    async def config(self) -> NetConfig:
        """``<prefix>/config`` parsed and checked (``CheckNetworkConfig``)."""
        key = f"{self.prefix}/config"
        reply = await self.etcd.range(key.encode())
        if not reply.kvs:
            raise NotYet(f"etcd {key}: no network configuration there")
        config = parse(reply.kvs[0].value, f"etcd {key}")
        self.ranges = lease_ranges(config, f"etcd {key}")
        return config

    async def previous(self) -> Previous:
        return Previous()

    async def acquire(self, attrs: LeaseAttrs) -> Lease:
        if self.ranges is None:
            await self.config()
        for _ in range(ATTEMPTS):
            lease = await self._try_acquire(attrs)
            if lease is not None:
                self.lease = lease
                log.info("acquired %s", lease)
                return lease
        raise KinError("max retries reached trying to acquire a subnet")

    async def complete(self) -> None:
        if self._renewal is None:
            self._renewal = asyncio.create_task(self._renew_forever())

    async def close(self) -> None:
        """Stop renewing (the lease itself stays, as Flannel leaves it)."""
        if self._renewal is not None:
            self._renewal.cancel()
            await asyncio.gather(self._renewal, return_exceptions=True)
            self._renewal = None

    async def peers(self) -> tuple[dict[str, Lease], str]:
        leases, revision = await self._leases()
        own = self.lease.subnet if self.lease else None
        return {name: lease for name, (lease, _) in leases.items() if lease.subnet != own}, str(
            revision
        )

    async def watch(self, version: str) -> AsyncIterator[tuple[str, Lease | None]]:
        start = self._subnets_prefix().encode()
        async for message in self.etcd.watch(start, prefix_end(start), int(version) + 1):
            if message.canceled:
                raise KinError(f"etcd canceled the watch of {self._subnets_prefix()}: "
                               f"{message.cancel_reason or 'compacted'}")  # fmt: skip
            for event in message.events:
                name = _name(event.kv.key.decode())
                if name is None:
                    continue
                if event.type == pb.Event.DELETE:
                    if self.lease is not None and name == _name(self._key(self.lease.subnet)):
                        raise LeaseLost(f"lease {name} has been revoked")
                    yield name, None
                    continue
                lease = _lease(name, event.kv.value)
                if lease is not None and (self.lease is None or lease.subnet != self.lease.subnet):
                    yield name, lease

    # -- acquiring --------------------------------------------------------------------------

    async def _try_acquire(self, attrs: LeaseAttrs) -> Lease | None:
        assert self.ranges is not None
        leases, _ = await self._leases()
        for name, (lease, etcd_lease) in leases.items():
            if lease.attrs.public_ip != attrs.public_ip:
                continue
            if self._fits(lease.subnet):
                self.reserved = etcd_lease == 0
                await self._put(lease.subnet, attrs, reservation=self.reserved)
                return Lease(lease.subnet, attrs)
            log.info("deleting %s: it does not fit the configuration", name)
            await self.etcd.delete_range(self._key(lease.subnet).encode())
        taken = [lease.subnet for lease, _ in leases.values()]
        wanted = self.previous_subnet
        if wanted is not None and self._fits(wanted) and not any(wanted.overlaps(t) for t in taken):
            subnet = wanted
        else:
            subnet = self._pick(taken)
        return Lease(subnet, attrs) if await self._create(subnet, attrs) else None

    def _fits(self, subnet: ipaddress.IPv4Network) -> bool:
        ranges = self.ranges
        assert ranges is not None
        return (
            subnet.prefixlen == ranges.subnet_len
            and ranges.subnet_min <= subnet.network_address <= ranges.subnet_max
        )

    def _pick(self, taken: list[ipaddress.IPv4Network]) -> ipaddress.IPv4Network:
        ranges = self.ranges
        assert ranges is not None
        size = 1 << (32 - ranges.subnet_len)
        free: list[ipaddress.IPv4Network] = []
        address = int(ranges.subnet_min)
        while address <= int(ranges.subnet_max) and len(free) < CANDIDATES:
            subnet = ipaddress.IPv4Network((address, ranges.subnet_len))
            if not any(subnet.overlaps(t) for t in taken):
                free.append(subnet)
            address += size
        if not free:
            raise KinError(f"out of subnets in {ranges.network} (/{ranges.subnet_len} each)")
        return random.choice(free)

    async def _create(self, subnet: ipaddress.IPv4Network, attrs: LeaseAttrs) -> bool:
        """Put the key only if it does not exist (``version == 0``), with a new etcd lease."""
        etcd_lease = await self.etcd.lease_grant(self.ttl)
        key = self._key(subnet).encode()
        put = pb.RequestOp(
            request_put=pb.PutRequest(key=key, value=_value(attrs), lease=etcd_lease)
        )
        compare = pb.Compare(key=key, target=pb.Compare.VERSION, result=pb.Compare.EQUAL, version=0)
        reply = await self.etcd.txn([compare], [put])
        if not reply.succeeded:
            await self.etcd.lease_revoke(etcd_lease)
            return False
        return True

    async def _put(
        self, subnet: ipaddress.IPv4Network, attrs: LeaseAttrs, reservation: bool
    ) -> None:
        etcd_lease = 0 if reservation else await self.etcd.lease_grant(self.ttl)
        await self.etcd.put(self._key(subnet).encode(), _value(attrs), etcd_lease)

    async def _renew_forever(self) -> None:
        """Renew ``renew_margin`` before the end; after a failure, try again in a minute
        (as Flannel's MonitorLease), not a whole lease later."""
        delay = self.ttl - self.renew_margin
        while not self.reserved:
            await asyncio.sleep(max(1.0, delay))
            lease = self.lease
            if lease is None:
                continue
            try:
                await self._put(lease.subnet, lease.attrs, reservation=False)
                log.info("renewed %s for %d s", lease.subnet, self.ttl)
                delay = self.ttl - self.renew_margin
            except KinError as exc:
                log.warning("renewing %s: %s; trying again in a minute", lease.subnet, exc)
                delay = RETRY_RENEWAL

    async def _leases(self) -> tuple[dict[str, tuple[Lease, int]], int]:
        """Every lease by name with its etcd lease ID (0: a reservation), and the revision."""
        start = self._subnets_prefix().encode()
        reply = await self.etcd.range(start, prefix_end(start))
        found: dict[str, tuple[Lease, int]] = {}
        for kv in reply.kvs:
            name = _name(kv.key.decode())
            lease = _lease(name, kv.value) if name else None
            if name and lease:
                found[name] = (lease, kv.lease)
        return found, reply.header.revision

    def _subnets_prefix(self) -> str:
        return f"{self.prefix}/subnets/"

    def _key(self, subnet: ipaddress.IPv4Network) -> str:
        return lease_key(self.prefix, subnet)


def _name(key: str) -> str | None:
    """``10.244.5.0-24`` of ``<prefix>/subnets/10.244.5.0-24``; None for other keys."""
    match = _KEY.search(key)
    return match.group(0) if match else None


def _lease(name: str, value: bytes) -> Lease | None:
    """A lease from its key name and value; None (logged) when either does not parse."""
    match = _KEY.fullmatch(name)
    try:
        assert match is not None
        subnet = ipaddress.IPv4Network(f"{match.group(1)}/{match.group(2)}")
        data = json.loads(value)
        public_ip, kind = (
            ipaddress.IPv4Address(data["PublicIP"]),
            str(data.get("BackendType") or ""),
        )
        attrs = LeaseAttrs(public_ip, kind, data.get("BackendData"))
    except (AssertionError, ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring lease %s: %s", name, exc)
        return None
    return Lease(subnet, attrs)


def _value(attrs: LeaseAttrs) -> bytes:
    """Flannel's LeaseAttrs JSON: BackendType and BackendData left out when empty."""
    value: dict[str, Any] = {"PublicIP": str(attrs.public_ip), "PublicIPv6": None}
    if attrs.backend_type:
        value["BackendType"] = attrs.backend_type
    if attrs.backend_data is not None:
        value["BackendData"] = attrs.backend_data
    return json.dumps(value, separators=(",", ":")).encode()
