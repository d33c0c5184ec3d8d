"""``python -m kin.apiserver``: the API server daemon, with kube-apiserver's flag names."""

from __future__ import annotations

import argparse
import logging
import sys

from kin.apiserver.server import ServerConfig, run
from kin.memory import limit_heaps
from kin.proctitle import set_process_title


def parse_args(argv: list[str]) -> ServerConfig:
    parser = argparse.ArgumentParser(prog="kin-apiserver", description=__doc__)
    add = parser.add_argument
    add("--storage", default="memory://", help="sqlite:///PATH, etcd://HOST:PORT or memory://")
    add("--bind-address", default="127.0.0.1")
    add("--secure-port", type=int, default=6443, help="0 picks a free port")
    add("--advertise-address", default="")
    add("--tls-cert-file", default="")
    add("--tls-private-key-file", default="")
    add("--client-ca-file", default="")
    add("--token-auth-file", default="")
    add("--kubelet-client-certificate", default="")
    add("--kubelet-client-key", default="")
    add("--kubelet-certificate-authority", default="")
    add("--service-cluster-ip-range", default="10.96.0.0/16")
    add("--compaction-interval", type=float, default=300.0, help="seconds")
    add(
        "--etcd-servers",
        default="",
        help="kube-apiserver's: http://HOST:PORT,... (= --storage etcd://)",
    )
    add("--storage-wait", type=float, default=60.0, help="seconds to wait for etcd at start")
    add("-v", "--v", type=int, default=2, dest="verbosity",
        help="3 and up: log every write, not only failed and slow requests")  # fmt: skip
    args = parser.parse_args(argv)
    if bool(args.tls_cert_file) != bool(args.tls_private_key_file):
        parser.error("--tls-cert-file and --tls-private-key-file go together")
    if bool(args.kubelet_client_certificate) != bool(args.kubelet_client_key):
        parser.error("--kubelet-client-certificate and --kubelet-client-key go together")
    storage = args.storage
    if args.etcd_servers:
        hosts = [url.split("://", 1)[-1].rstrip("/") for url in args.etcd_servers.split(",")]
        storage = "etcd://" + ",".join(hosts)
    return ServerConfig(
        storage=storage,
        storage_wait=args.storage_wait,
        bind_address=args.bind_address,
        port=args.secure_port,
        advertise_address=args.advertise_address,
        tls_cert_file=args.tls_cert_file,
        tls_private_key_file=args.tls_private_key_file,
        client_ca_file=args.client_ca_file,
        token_auth_file=args.token_auth_file,
        kubelet_client_certificate=args.kubelet_client_certificate,
        kubelet_client_key=args.kubelet_client_key,
        kubelet_certificate_authority=args.kubelet_certificate_authority,
        service_cluster_ip_range=args.service_cluster_ip_range,
        compaction_interval=args.compaction_interval,
        verbosity=args.verbosity,
    )


def _set_up_logging(verbosity: int) -> None:
    """Records skip what the format never shows (the caller's frame, thread and
    process), as the logging HOWTO's "Optimization" says: with ``--v=3`` every write
    logs a line."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if verbosity >= 3:
        logging.getLogger("kin.apiserver.requests").setLevel(logging.DEBUG)
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    config = parse_args(args)
    set_process_title(" ".join(["kin.apiserver", *args]))
    _set_up_logging(config.verbosity)
    limit_heaps(1)  # before the SQLite writer's and gRPC's threads allocate
    try:
        run(config)
    except (OSError, ValueError) as exc:
        print(f"kin-apiserver: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
