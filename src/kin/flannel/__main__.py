"""``python -m kin.flannel``: flanneld, with Flannel's flags and FLANNELD_* variables.

In a cluster it runs in the ``kube-flannel-ds`` DaemonSet with ``--kube-subnet-mgr``
(host network, ``NODE_NAME`` from the downward API, in-cluster credentials, or
``--kubeconfig-file``). Without that flag it is Flannel's default mode: leases in etcd
(``--etcd-endpoints``, ``--etcd-prefix``), the configuration from ``<prefix>/config``,
waited for until it is there. ``--healthz-port`` serves ``/healthz`` (always 200)
and ``/readyz`` (200 once subnet.env is written). SIGTERM and SIGINT stop it and leave
the kernel state in place, so a restart does not disturb traffic.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
from pathlib import Path

from aiohttp import web

from kin import __version__
from kin.errors import KinError
from kin.etcd.client import EtcdClient, EtcdError
from kin.flannel import subnetenv
from kin.flannel.daemon import Flanneld
from kin.flannel.netconf import NetConfig, parse
from kin.flannel.options import Options, parse_args
from kin.flannel.subnet import NotYet
from kin.flannel.subnet.etcd import EtcdSubnetManager
from kin.flannel.subnet.kube import KubeSubnetManager
from kin.kube import kubeconfig
from kin.kube.client import Client
from kin.linux.netlink import Netlink
from kin.proctitle import set_process_title

log = logging.getLogger("kin.flannel")


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    args = sys.argv[1:] if argv is None else argv
    set_process_title(" ".join(["kin.flannel", *args]))
    try:
        options = parse_args(args, dict(os.environ))
        if options.version:
            print(f"kin.flannel {__version__}")
            return 0
        asyncio.run(_run(options))
    except KinError as exc:
        print(f"kin.flannel: {exc}", file=sys.stderr)
        return 1
    return 0


async def _run(options: Options) -> None:
    stopping = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stopping.set)
    if options.kube_subnet_mgr:
        await _kube_mode(options, stopping)
    else:
        await _etcd_mode(options, stopping)


async def _kube_mode(options: Options, stopping: asyncio.Event) -> None:
    node = os.environ.get("NODE_NAME", "")
    if not node:
        raise KinError("NODE_NAME is not set: flanneld needs to know which node it runs on")
    try:
        text = Path(options.net_config_path).read_text()
    except OSError as exc:
        raise KinError(f"cannot read {options.net_config_path}: {exc.strerror}") from exc
    config = parse(text, options.net_config_path)
    if config.network is None:
        raise KinError(f"{options.net_config_path}: please define a correct Network parameter")
    connection = (
        kubeconfig.load(options.kubeconfig_file)
        if options.kubeconfig_file
        else kubeconfig.in_cluster(dict(os.environ))
    )
    if options.kube_api_url:
        connection = kubeconfig.Connection(
            options.kube_api_url, connection.ssl_context, connection.token
        )
    async with Client(connection, "kin-flanneld") as api:
        manager = KubeSubnetManager(api, node, config.network, options.kube_annotation_prefix,
                                    options.set_node_network_unavailable)  # fmt: skip
        await _serve(Flanneld(options, config, manager, Netlink(), name=node), options, stopping)


async def _etcd_mode(options: Options, stopping: asyncio.Event) -> None:
    previous = subnetenv.previous_subnet(options.subnet_file)
    margin = options.subnet_lease_renew_margin * 60.0
    etcd = EtcdClient(options.etcd_endpoint_list)
    manager = EtcdSubnetManager(etcd, options.etcd_prefix, previous, renew_margin=margin)
    try:
        config = await _etcd_config(manager, stopping)
        if config is not None:
            daemon = Flanneld(options, config, manager, Netlink(), name=socket.gethostname())
            await _serve(daemon, options, stopping)
    finally:
        await manager.close()
        await etcd.close()


async def _etcd_config(manager: EtcdSubnetManager, stopping: asyncio.Event) -> NetConfig | None:
    """The network configuration from etcd, asked for every second until it is there (as
    Flannel waits for it); None if told to stop meanwhile."""
    while not stopping.is_set():
        try:
            return await manager.config()
        except EtcdError as exc:
            log.info("waiting for etcd: %s", exc)
        except NotYet as exc:
            log.info("waiting: %s", exc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), 1.0)
    return None


async def _serve(daemon: Flanneld, options: Options, stopping: asyncio.Event) -> None:
    health = await _serve_health(options, daemon)
    try:
        work = asyncio.create_task(_start_and_follow(daemon))
        stop = asyncio.create_task(stopping.wait())
        done, _ = await asyncio.wait({work, stop}, return_when=asyncio.FIRST_COMPLETED)
        for task in (work, stop):
            task.cancel()
        await asyncio.gather(work, stop, return_exceptions=True)
        if work in done:
            work.result()  # a failure at start-up, or the lease lost: say it
        log.info("stopping; the kernel state stays")
    finally:
        if health is not None:
            await health.cleanup()


async def _start_and_follow(daemon: Flanneld) -> None:
    await daemon.start()
    await daemon.follow()


async def _serve_health(options: Options, daemon: Flanneld) -> web.AppRunner | None:
    if not options.healthz_port:
        return None

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def readyz(request: web.Request) -> web.Response:
        ready = daemon.state.ready
        return web.Response(text="ok" if ready else "not ready", status=200 if ready else 503)

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, options.healthz_ip, options.healthz_port).start()
    return runner


if __name__ == "__main__":
    sys.exit(main())
