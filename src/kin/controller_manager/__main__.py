"""kube-controller-manager for kin:
``python -m kin.controller_manager --kubeconfig=/etc/kubernetes/controller-manager.conf``.

Run by the control-plane kubelet from the ``kube-controller-manager`` static pod, with
the flags kubeadm gives kube-controller-manager; the ones about serving, leader election
and authentication are accepted and have nothing to do here (one manager per cluster).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from kin.controller_manager.manager import ManagerConfig, run_controllers
from kin.errors import KinError
from kin.kube import kubeconfig
from kin.kube.client import Client
from kin.kube.daemon import until_signalled
from kin.memory import trim_periodically
from kin.proctitle import set_process_title

__all__ = ["main"]

log = logging.getLogger("kin.controller_manager")
TRIM_INTERVAL = 30.0
IGNORED = (
    "--bind-address", "--leader-elect", "--authentication-kubeconfig",
    "--authorization-kubeconfig", "--client-ca-file", "--requestheader-client-ca-file",
    "--cluster-signing-cert-file", "--cluster-signing-key-file", "--secure-port",
    "--service-account-private-key-file", "--use-service-account-credentials",
    "--cluster-name", "--enable-hostpath-provisioner",
)  # fmt: skip


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m kin.controller_manager", description="kin's controller manager"
    )
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--controllers", default="*",
                        help="comma-separated: * for all, -name to leave one out")  # fmt: skip
    parser.add_argument("--allocate-node-cidrs", default="false")
    parser.add_argument("--cluster-cidr", default="")
    parser.add_argument("--node-cidr-mask-size", type=int, default=24)
    parser.add_argument("--service-cluster-ip-range", default="")
    parser.add_argument("--root-ca-file", default="")
    parser.add_argument("--node-monitor-grace-period", default="40s")
    for ignored in IGNORED:
        parser.add_argument(ignored, default="")
    return parser.parse_args(argv)


def config_from(args: argparse.Namespace) -> ManagerConfig:
    root_ca = ""
    if args.root_ca_file:
        try:
            with open(args.root_ca_file) as f:
                root_ca = f.read()
        except OSError as exc:
            raise KinError(f"--root-ca-file {args.root_ca_file}: {exc.strerror}") from exc
    grace = args.node_monitor_grace_period.rstrip("s")
    try:
        grace_seconds = float(grace)
    except ValueError as exc:
        raise KinError(f"--node-monitor-grace-period {args.node_monitor_grace_period!r}: "
                       "give seconds, such as 40s") from exc  # fmt: skip
    return ManagerConfig(
        controllers=[c.strip() for c in args.controllers.split(",") if c.strip()],
        cluster_cidr=args.cluster_cidr,
        allocate_node_cidrs=args.allocate_node_cidrs.lower() == "true",
        node_cidr_mask_size=args.node_cidr_mask_size,
        root_ca=root_ca,
        node_monitor_grace_period=grace_seconds,
    )


async def run(config: ManagerConfig, kubeconfig_path: str) -> None:
    async with Client(kubeconfig.load(kubeconfig_path), "kin-controller-manager") as api:
        await until_signalled(run_controllers(api, config))
    log.info("stopped")


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    args = parse_args(sys.argv[1:] if argv is None else argv)
    set_process_title("kin.controller_manager")
    try:
        config = config_from(args)
        trim_periodically(TRIM_INTERVAL)
        asyncio.run(run(config, args.kubeconfig))
    except KinError as exc:
        log.error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
