"""``python -m kin.dns``: the cluster's DNS server, run by the ``coredns`` Deployment.

It reads CoreDNS's ``-conf Corefile`` (ConfigMap ``coredns``; ``kin.dns.corefile``), watches
Services and EndpointSlices and answers for the cluster zone on UDP and TCP port 53
(``kin.dns.server``); the zone is rebuilt from the watched objects at the first
query after a change. ``/health`` on ``--health-port`` (8080) and ``/ready`` on
``--ready-port`` (8181, 200 once both watches have listed) are CoreDNS's ``health`` and
``ready`` plugins, which the Deployment's probes ask. Outside names get NXDOMAIN unless
the Corefile's ``forward`` (or ``--upstream HOST[:PORT]``) names a resolver to relay them
to (off by default: a kin cluster sends nothing outside the namespaces kin made).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Callable

from aiohttp import web

from kin.dns.corefile import read_corefile
from kin.dns.records import Zone, build
from kin.dns.server import DnsServer
from kin.errors import ConfigError, KinError
from kin.kube import kubeconfig
from kin.kube.client import Client
from kin.kube.daemon import run_main, until_signalled
from kin.kube.informer import Informer

__all__ = ["main"]

log = logging.getLogger("kin.dns")


class ClusterZone:
    """The zone from two informers, rebuilt lazily after a change."""

    def __init__(self, api: Client, domain: str, ttl: int, pods: bool = True) -> None:
        self.domain, self.ttl, self.pods = domain, ttl, pods
        self.services = Informer(api, "/api/v1/services", self._changed)
        self.slices = Informer(api, "/apis/discovery.k8s.io/v1/endpointslices", self._changed)
        self.current = build([], [], domain, ttl)
        self.stale = True

    def _changed(self, kind: str, obj: object) -> None:
        self.stale = True

    def __call__(self) -> Zone:
        if self.stale:
            self.stale = False
            self.current = build(self.services.objects.values(), self.slices.objects.values(),
                                 self.domain, self.ttl, self.pods)  # fmt: skip
        return self.current

    @property
    def ready(self) -> bool:
        return self.services.synced.is_set() and self.slices.synced.is_set()


def parse_args(argv: list[str]) -> argparse.Namespace:
    """CoreDNS's ``-conf Corefile`` (what the Deployment gives), or flags of kin's own."""
    parser = argparse.ArgumentParser(prog="python -m kin.dns", description="kin's cluster DNS")
    parser.add_argument("-conf", "--conf", default="", help="a Corefile (kin.dns.corefile)")
    parser.add_argument("--kubeconfig", default="")
    parser.add_argument("--zone", default="cluster.local")
    parser.add_argument("--ttl", type=int, default=30)
    parser.add_argument("--bind", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=53)
    parser.add_argument("--upstream", default="", help="HOST[:PORT] for outside names (none)")
    parser.add_argument("--health-port", type=int, default=8080)
    parser.add_argument("--ready-port", type=int, default=8181)
    parser.add_argument("--no-pods", dest="pods", action="store_false", help="no pod records")
    args = parser.parse_args(argv)
    if args.conf:
        config = read_corefile(args.conf)
        args.zone, args.ttl, args.port, args.upstream = (config.zone, config.ttl, config.port,
                                                         config.upstream)  # fmt: skip
        args.health_port, args.ready_port, args.pods = (config.health_port, config.ready_port,
                                                        config.pods)  # fmt: skip
    return args


def upstream_of(text: str) -> tuple[str, int] | None:
    """``HOST[:PORT]``, or a resolv.conf path (CoreDNS's ``forward . /etc/resolv.conf``):
    its first nameserver."""
    if not text:
        return None
    if text.startswith("/"):
        text = _first_nameserver(text)
    host, _, port = text.rpartition(":") if text.count(":") == 1 else (text, "", "53")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"--upstream {text!r}: give HOST or HOST:PORT")
    return host, int(port)


def _first_nameserver(path: str) -> str:
    try:
        with open(path) as f:
            for line in f:
                words = line.split()
                if len(words) >= 2 and words[0] == "nameserver":
                    return words[1]
    except OSError as exc:
        raise ConfigError(f"forward: cannot read {path}: {exc.strerror}") from None
    raise ConfigError(f"forward: {path} names no nameserver")


async def run(args: argparse.Namespace) -> None:
    upstream = upstream_of(args.upstream)
    connection = (
        kubeconfig.load(args.kubeconfig)
        if args.kubeconfig
        else kubeconfig.in_cluster(dict(os.environ))
    )
    async with Client(connection, "kin-dns") as api:
        zone = ClusterZone(api, args.zone.strip(".").lower(), args.ttl, args.pods)
        await until_signalled(_serve(zone, DnsServer(zone, upstream), args))
    log.info("stopped")


async def _serve(zone: ClusterZone, server: DnsServer, args: argparse.Namespace) -> None:
    watches = [asyncio.create_task(i.run()) for i in (zone.services, zone.slices)]
    try:
        listeners = await server.serve(args.bind, args.port)
    except OSError as exc:
        raise KinError(f"cannot listen on {args.bind}:{args.port}: {exc.strerror}") from exc
    runners = [await _http(args.bind, args.health_port, "/health", lambda: True),
               await _http(args.bind, args.ready_port, "/ready", lambda: zone.ready)]  # fmt: skip
    log.info("serving %s on %s:%d (udp, tcp)", zone.domain, args.bind, args.port)
    try:
        await asyncio.gather(*watches)
    finally:
        for listener in listeners:
            listener.close()
        for runner in runners:
            await runner.cleanup()
        for task in watches:
            task.cancel()


async def _http(host: str, port: int, path: str, ok: Callable[[], bool]) -> web.AppRunner:
    async def answer(request: web.Request) -> web.Response:
        good = ok()
        return web.Response(text="OK" if good else "not ready", status=200 if good else 503)

    app = web.Application()
    app.router.add_get(path, answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


def main(argv: list[str] | None = None) -> int:
    return run_main("kin.dns", argv, lambda args: run(parse_args(args)))


if __name__ == "__main__":
    sys.exit(main())
