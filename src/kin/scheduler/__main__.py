"""kube-scheduler for kin: ``python -m kin.scheduler --kubeconfig=/etc/kubernetes/scheduler.conf``.

Run by the control-plane kubelet from the ``kube-scheduler`` static pod, as kubeadm sets it
up. kube-scheduler's other flags that kubeadm passes (``--bind-address``,
``--leader-elect``, ``--authentication-kubeconfig``, ``--authorization-kubeconfig``) are
accepted; one scheduler runs per cluster, so there is nothing to elect.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from kin.errors import KinError
from kin.kube import kubeconfig
from kin.kube.client import Client
from kin.kube.daemon import until_signalled
from kin.memory import trim_periodically
from kin.proctitle import set_process_title
from kin.scheduler.scheduler import Scheduler

__all__ = ["main"]

log = logging.getLogger("kin.scheduler")
TRIM_INTERVAL = 30.0


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m kin.scheduler", description="kin's scheduler")
    parser.add_argument("--kubeconfig", required=True)
    for ignored in ("--bind-address", "--leader-elect", "--authentication-kubeconfig",
                    "--authorization-kubeconfig", "--secure-port"):  # fmt: skip
        parser.add_argument(ignored, default="")
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> None:
    async with Client(kubeconfig.load(args.kubeconfig), "kin-scheduler") as api:
        await until_signalled(Scheduler(api).run())
    log.info("stopped")


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    args = parse_args(sys.argv[1:] if argv is None else argv)
    set_process_title("kin.scheduler")
    trim_periodically(TRIM_INTERVAL)
    try:
        asyncio.run(run(args))
    except KinError as exc:
        log.error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
