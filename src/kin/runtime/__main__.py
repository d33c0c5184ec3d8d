"""``python -m kin.runtime``: the node's container runtime, serving CRI v1 on a unix socket.

Flags follow containerd's CRI settings where it has them::

    --address /run/containerd/containerd.sock   the socket (mode 0600), as kubelet expects
    --state /run/kin/runtime --root /var/lib/containerd/kin
    --cni-conf-dir /etc/cni/net.d --cni-bin-dir /opt/cni/bin --cni-cache-dir /var/lib/cni
    --netns-dir /run/netns --node NAME (for the process title)

It reads what a previous run left and serves again: pods keep running through a
restart because their shims, not the runtime, are their parents. SIGTERM stops it.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import logging
import os
import signal
import sys
import threading
from concurrent import futures

import grpc

from kin.cni.server import Server as CNIServer
from kin.errors import KinError
from kin.linux.proc import set_process_title
from kin.memory import trim_periodically
from kin.runtime import DEFAULT_SOCKET
from kin.runtime.runtime import Paths, Runtime
from kin.runtime.service import add_services
from kin.runtime.streaming import StreamingServer

log = logging.getLogger("kin.runtime")

MAX_MESSAGE = 16 * 1024 * 1024  # the kubelet's and crictl's limit
WORKERS = 16
TRIM_INTERVAL = 30.0  # seconds between handing freed memory back (after a burst of pods)
SIGNAL_POLL = 0.5
STOP_TIMEOUT = 5.0


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m kin.runtime", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--address", default=DEFAULT_SOCKET)
    parser.add_argument("--state", default=Paths().state)
    parser.add_argument("--root", default=Paths().root)
    parser.add_argument("--cni-conf-dir", default=Paths().cni_conf)
    parser.add_argument("--cni-bin-dir", action="append", default=None)
    parser.add_argument("--cni-cache-dir", default=Paths().cni_cache)
    parser.add_argument("--netns-dir", default=Paths().netns)
    parser.add_argument("--node", default=os.uname().nodename)
    parser.add_argument("--cgroup-root", default=None, help="default kin-<node>; '' for none")
    parser.add_argument("--zygote", default="", help="fork shims from the zygote on this socket")
    parser.add_argument(
        "--cni-server", default="", help="serve kin's CNI plugin executables on this socket"
    )
    return parser.parse_args(argv)


def serve(args: argparse.Namespace) -> None:
    paths = Paths(
        state=args.state, root=args.root, cni_conf=args.cni_conf_dir,
        cni_bin=tuple(args.cni_bin_dir or Paths().cni_bin), cni_cache=args.cni_cache_dir,
        netns=args.netns_dir,
        cgroup_root=f"kin-{args.node}" if args.cgroup_root is None else args.cgroup_root,
        zygote=args.zygote,
    )  # fmt: skip
    runtime = Runtime(paths)
    for problem in runtime.load():
        log.warning("%s", problem)
    log.info(
        "loaded %d sandboxes and %d containers",
        len(runtime.sandbox_records.all()), len(runtime.container_records.all()),
    )  # fmt: skip
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="cri"),
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE),
            ("grpc.max_send_message_length", MAX_MESSAGE),
        ],
    )
    if args.cni_server:
        cni_server = CNIServer(args.cni_server)
        cni_server.listen()
        cni_server.serve_in_background()
        runtime.network.executor.in_process = cni_server.dispatch  # no process per call
        log.info("serving kin's CNI plugins on %s", args.cni_server)
    streaming = StreamingServer(runtime)
    streaming.start()
    add_services(server, runtime, streaming)
    os.makedirs(os.path.dirname(args.address), exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(args.address)
    old_umask = os.umask(0o177)  # the socket is created 0600: root's only
    try:
        server.add_insecure_port(f"unix://{args.address}")
    finally:
        os.umask(old_umask)
    server.start()
    gc.freeze()  # start-up objects never need collecting again
    trim_periodically(TRIM_INTERVAL)
    log.info("serving CRI v1 on %s", args.address)
    stopped = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopped.set())
    # A timed wait: the kernel may deliver SIGTERM to one of gRPC's threads, and then only
    # the main thread's next bytecode runs the handler; an untimed wait never gets there.
    while not stopped.wait(SIGNAL_POLL):
        pass
    server.stop(grace=2).wait(STOP_TIMEOUT)
    log.info("stopped")


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    args = parse_args(sys.argv[1:] if argv is None else argv)
    set_process_title(f"kin.runtime --node {args.node}")
    try:
        serve(args)
    except KinError as exc:
        log.error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
