"""flanneld's life, as Flannel's main.go orders it, in the Kubernetes subnet-manager mode.

Start: read the node, choose the interface and public IP, let the backend make its device
(reusing the VtepMAC the node published before), acquire the lease (the node's podCIDR,
waiting for it while the controller manager has not assigned one), give the device its
address, install the masquerade and forward rules, write subnet.env, and only then say
ready and mark the node's network available. Then follow: list the peers, reconcile the
kernel to them, and apply each node event; a broken or expired watch (410) lists again.
Every ``resync`` seconds the rules are re-applied and the kernel reconciled, so what
someone deleted comes back. One log line per event, naming the node or the subnet; a bad
event is logged and skipped.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from dataclasses import dataclass
from typing import Any

from kin.errors import APIError, ConfigError, KinError
from kin.flannel import masq, subnetenv
from kin.flannel.backends import REGISTRY
from kin.flannel.iface import external_interface
from kin.flannel.lease import Lease
from kin.flannel.netconf import NetConfig
from kin.flannel.options import Options
from kin.flannel.subnet import LeaseLost, NotYet, SubnetManager
from kin.linux.netlink import Netlink

__all__ = ["Flanneld"]

log = logging.getLogger("kin.flannel")
RETRY = 1.0  # seconds between attempts at start-up and after a broken watch


@dataclass
class State:
    lease: Lease | None = None  # set once subnet.env is written

    @property
    def ready(self) -> bool:
        return self.lease is not None


class Flanneld:
    def __init__(
        self,
        options: Options,
        config: NetConfig,
        manager: SubnetManager,
        nl: Netlink,
        netns: str | None = None,
        name: str = "",
    ) -> None:
        """``netns`` (a namespace path) is where nft runs; None: this process's namespace,
        which is the node's when flanneld runs in it. ``nl`` must be bound to the same. (The
        udp backend opens its TUN and socket in this process's namespace: run it there.)
        ``name`` names this node in log lines."""
        if config.network is None:
            raise ConfigError(
                "net-conf.json: please define a correct Network parameter in the flannel config"
            )
        self.options, self.config, self.nl, self.netns = options, config, nl, netns
        self.network: ipaddress.IPv4Network = config.network
        self.manager, self.node = manager, name or "this node"
        self.state = State()
        self.backend: Any = None
        self.peers: dict[str, Lease] = {}  # node name -> its lease

    async def start(self) -> Lease:
        previous = await self.manager.previous()
        public = ipaddress.IPv4Address(self.options.public_ip) if self.options.public_ip else None
        ext = external_interface(self.nl, self.options.iface, public or previous.public_ip)
        kind = self.config.backend.type
        self.backend = REGISTRY[kind](self.nl, ext, self.network, self.config.backend.options,
                                      previous.vtep_mac)  # fmt: skip
        attrs = self.backend.prepare()
        lease = await self._acquire(attrs)
        mtu = self.backend.configure(lease.subnet)
        self._apply_rules(lease)
        env = subnetenv.SubnetEnv(self.network, lease.subnet, mtu, self.options.ip_masq)
        subnetenv.write(self.options.subnet_file, env)
        self.state = State(lease)
        log.info("lease %s on %s via %s (%s, mtu %d); wrote %s", lease.subnet, self.node, ext.name,
                 kind, mtu, self.options.subnet_file)  # fmt: skip
        await self.manager.complete()
        return lease

    async def follow(self) -> None:
        """Peers, until cancelled: list, reconcile, watch; again after a broken watch."""
        if self.backend is None:
            raise RuntimeError("Flanneld.follow() before start()")
        resync = asyncio.create_task(self._resync_forever())
        try:
            while True:
                try:
                    version = await self._relist()
                    async for name, lease in self.manager.watch(version):
                        self._apply(name, lease)
                except LeaseLost:
                    raise
                except KinError as exc:
                    log.info("peers: %s; listing again", exc)
                await asyncio.sleep(RETRY)
        finally:
            resync.cancel()

    async def _acquire(self, attrs: Any) -> Lease:
        while True:
            try:
                return await self.manager.acquire(attrs)
            except NotYet as exc:
                log.info("waiting: %s", exc)
            except APIError as exc:
                log.info("acquiring a lease for %s: %s", self.node, exc)
            await asyncio.sleep(RETRY)

    async def _relist(self) -> str:
        self.peers, version = await self.manager.peers()
        self._reconcile(list(self.peers.values()))
        return version

    def _apply(self, name: str, lease: Lease | None) -> None:
        before = self.peers.get(name)
        if lease == before:
            return  # an update that changed nothing flannel reads
        try:
            if before is not None and (lease is None or lease.subnet != before.subnet):
                self.backend.remove(before)
                log.info("peer %s left: removed %s", name, before)
            if lease is not None:
                self.backend.add(lease)
                log.info("peer %s: added %s", name, lease)
        except KinError as exc:  # keep going: the next resync retries
            log.warning("peer %s: %s", name, exc)
        if lease is None:
            self.peers.pop(name, None)
        else:
            self.peers[name] = lease

    def _reconcile(self, leases: list[Lease]) -> None:
        try:
            self.backend.reconcile(leases)
        except KinError as exc:
            log.warning("reconcile: %s", exc)

    def _apply_rules(self, lease: Lease) -> None:
        options = self.options
        forward, nftables = options.iptables_forward_rules, self.config.enable_nftables
        masq.apply(
            masq.Rules(self.network, lease.subnet, options.ip_masq, forward, nftables), self.netns
        )

    async def _resync_forever(self) -> None:
        while True:
            await asyncio.sleep(self.options.iptables_resync)
            lease = self.state.lease
            if lease is None:
                continue
            try:
                self._apply_rules(lease)
            except KinError as exc:
                log.warning("resync of rules: %s", exc)
            self._reconcile(list(self.peers.values()))
