"""One API server: storage, registry, bootstrap objects, compaction, and the HTTPS listener.

``APIServer`` runs inside an event loop (tests start it in-process); ``run`` is the
daemon's main, stopping cleanly on SIGTERM or SIGINT.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import ssl
from dataclasses import dataclass

from aiohttp import web

from kin.apiserver.allocators import ServiceAllocator
from kin.apiserver.bootstrap import bootstrap
from kin.apiserver.http.app import make_app
from kin.apiserver.http.auth import TokenFile
from kin.apiserver.http.nodeproxy import KubeletProxy, kubelet_client_context
from kin.apiserver.registry import Registry
from kin.apiserver.storage import compact_periodically, open_storage
from kin.apiserver.storage.base import Storage

__all__ = ["APIServer", "ServerConfig", "run"]

log = logging.getLogger("kin.apiserver")


@dataclass
class ServerConfig:
    storage: str = "memory://"
    bind_address: str = "127.0.0.1"
    port: int = 6443
    """0 picks a free port (see ``APIServer.port``)."""
    advertise_address: str = ""
    """The address in the ``kubernetes`` Endpoints; the bind address when empty."""
    tls_cert_file: str = ""
    tls_private_key_file: str = ""
    client_ca_file: str = ""
    token_auth_file: str = ""
    kubelet_client_certificate: str = ""
    kubelet_client_key: str = ""
    kubelet_certificate_authority: str = ""
    """The kubelets' serving CA; without it their certificates are not verified (kube's default)."""
    service_cluster_ip_range: str = "10.96.0.0/16"
    compaction_interval: float = 300.0
    """Seconds between compactions; each keeps the history since the one before."""
    storage_wait: float = 0.0
    """Seconds to wait at start for a remote datastore (etcd) to answer."""
    verbosity: int = 2
    """kube's ``--v``: from 3 every write is logged, not only failed and slow requests."""


class APIServer:
    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.port = config.port
        self.storage: Storage | None = None
        self.registry: Registry | None = None
        self._runner: web.AppRunner | None = None
        self._compactor: asyncio.Task[None] | None = None
        self._kubelets: KubeletProxy | None = None

    @property
    def scheme(self) -> str:
        return "https" if self.config.tls_cert_file else "http"

    @property
    def url(self) -> str:
        host = self.config.bind_address
        host = "127.0.0.1" if host in ("", "0.0.0.0") else host
        return f"{self.scheme}://{host}:{self.port}"

    async def start(self) -> None:
        config = self.config
        self.storage = await open_storage(config.storage, config.storage_wait)
        try:
            await self._serve(self.storage)
        except BaseException:
            await self.stop()
            raise
        log.info("serving on %s (storage %s)", self.url, config.storage)

    async def _serve(self, storage: Storage) -> None:
        config = self.config
        registry = self.registry = Registry(storage)
        registry.hooks.allocator = ServiceAllocator(config.service_cluster_ip_range)
        tokens = TokenFile(config.token_auth_file)
        context = kubelet_client_context(
            config.kubelet_client_certificate,
            config.kubelet_client_key,
            config.kubelet_certificate_authority,
        )
        self._kubelets = KubeletProxy(registry, context)
        app = make_app(registry, tokens, f"{config.bind_address}:{config.port}", self._kubelets)
        # handler_cancellation: a watch learns that its client left even when idle
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, handler_cancellation=True
        )
        await self._runner.setup()
        site = web.TCPSite(
            self._runner,
            config.bind_address,
            config.port,
            ssl_context=self._tls(),
            reuse_address=True,
        )
        await site.start()
        self.port = _bound_port(site) or config.port
        advertise = config.advertise_address or _advertised(config.bind_address)
        await bootstrap(registry, config.service_cluster_ip_range, advertise, self.port)
        interval = config.compaction_interval
        self._compactor = asyncio.ensure_future(compact_periodically(storage, interval))

    def _tls(self) -> ssl.SSLContext | None:
        config = self.config
        if not config.tls_cert_file:
            return None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(config.tls_cert_file, config.tls_private_key_file)
        if config.client_ca_file:
            context.load_verify_locations(config.client_ca_file)
            context.verify_mode = ssl.CERT_OPTIONAL
        return context

    async def stop(self) -> None:
        if self._compactor is not None:
            self._compactor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._compactor
        if self.registry is not None:
            for task in list(self.registry.deleter.tasks):
                task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._kubelets is not None:
            await self._kubelets.close()
        if self.storage is not None:
            await self.storage.close()
        self._runner = self._compactor = self.registry = self.storage = self._kubelets = None


def _bound_port(site: web.TCPSite) -> int:
    server = site._server  # aiohttp keeps the asyncio server here; the public API lacks the port
    sockets = getattr(server, "sockets", None) or []
    return int(sockets[0].getsockname()[1]) if sockets else 0


def _advertised(bind_address: str) -> str:
    return "127.0.0.1" if bind_address in ("", "0.0.0.0") else bind_address


def _freeze_startup_objects() -> None:
    """Move what start-up made (modules, the type catalog, routes: about 40,000 objects)
    out of the collector's reach. They live as long as the process, yet every full
    collection walked them: under steady writes one ran about once a second and paused
    every request for 20-35 ms on this machine, the whole tail of a create's latency."""
    gc.collect()
    gc.freeze()


def run(config: ServerConfig) -> None:
    """Serve until SIGTERM or SIGINT."""
    asyncio.run(_run(config))


async def _run(config: ServerConfig) -> None:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    server = APIServer(config)
    await server.start()
    _freeze_startup_objects()
    try:
        await stopping.wait()
    finally:
        log.info("stopping")
        await server.stop()
