"""``python -m kin.proxy``: kube-proxy, with its flags and ``--config`` file.

In a cluster it runs in the ``kube-proxy`` DaemonSet (host network, ``NODE_NAME`` from
the downward API), one per node, as ``kube-proxy --config=/var/lib/kube-proxy/config.conf
--hostname-override=$(NODE_NAME)`` does on a kind node. At start it removes the rules of
the mode it does not use (a mode switch leaves nothing behind), then syncs until
SIGTERM; the rules stay when it stops, so traffic keeps flowing across a restart.
"""

from __future__ import annotations

import logging
import os
import sys

from kin.kube import kubeconfig
from kin.kube.client import Client
from kin.kube.daemon import run_main, until_signalled
from kin.proxy import iptables, nftables
from kin.proxy.options import Settings, parse_args
from kin.proxy.proxier import Backend, Proxier

__all__ = ["main"]

log = logging.getLogger("kin.proxy")


def backend_for(settings: Settings) -> Backend:
    """The mode's backend, after removing the other mode's rules."""
    if settings.mode == "nftables":
        iptables.cleanup()
        return nftables.NftablesBackend(settings)
    nftables.cleanup()
    return iptables.IptablesBackend(settings)


async def run(settings: Settings) -> None:
    connection = (
        kubeconfig.load(settings.kubeconfig)
        if settings.kubeconfig
        else kubeconfig.in_cluster(dict(os.environ))
    )
    backend = backend_for(settings)
    log.info("using %s mode on node %s", settings.mode, settings.node)
    async with Client(connection, "kin-proxy") as api:
        await until_signalled(Proxier(api, settings, backend).run())
    log.info("stopped; the rules stay")


def main(argv: list[str] | None = None) -> int:
    return run_main("kin.proxy", argv, lambda args: run(parse_args(args, dict(os.environ))))


if __name__ == "__main__":
    sys.exit(main())
