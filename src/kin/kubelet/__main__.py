"""``python -m kin.kubelet``: the node agent, with kubelet's flag names.

    --node NAME                       the node's name (default: the hostname)
    --pod-manifest-path DIR           static pods (default /etc/kubernetes/manifests)
    --container-runtime-endpoint E    CRI socket (default unix:///run/containerd/containerd.sock)
    --root-dir DIR --pod-logs-dir DIR   /var/lib/kubelet and /var/log/pods
    --cluster-dns IP --cluster-domain D   cluster DNS for ClusterFirst pods
    --node-ip IP                      the node's InternalIP

Without ``--kubeconfig`` it runs standalone: static pods only, as a kubelet does before
the control plane it is starting exists.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import signal
import socket
import sys
from collections.abc import Coroutine
from typing import Any

import grpc

from kin.errors import APIError, KinError
from kin.kube import kubeconfig
from kin.kube.client import Client
from kin.kubelet.apipods import APIPods
from kin.kubelet.criconfig import NodeContext
from kin.kubelet.environment import EnvironmentError_, Fetch
from kin.kubelet.kubelet import Kubelet
from kin.kubelet.nodestatus import NodeAgent
from kin.kubelet.server import KubeletServer, serving_context
from kin.linux.proc import set_process_title
from kin.memory import trim_periodically
from kin.runtime.client import endpoint_path
from kin.runtime.cri import api_pb2 as cri
from kin.runtime.cri import api_pb2_grpc as cri_grpc

log = logging.getLogger("kin.kubelet")
RUNTIME_WAIT = 0.2
KUBECONFIG_POLL = 0.05
TRIM_INTERVAL = 30.0  # seconds between handing freed memory back (after a burst of pods)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m kin.kubelet", description="kin's kubelet")
    parser.add_argument("--node", "--hostname-override", dest="node", default=socket.gethostname())
    parser.add_argument("--pod-manifest-path", default="/etc/kubernetes/manifests")
    parser.add_argument(
        "--container-runtime-endpoint", default="unix:///run/containerd/containerd.sock"
    )
    parser.add_argument("--root-dir", default="/var/lib/kubelet")
    parser.add_argument("--pod-logs-dir", default="/var/log/pods")
    parser.add_argument("--cluster-dns", action="append", default=[])
    parser.add_argument("--cluster-domain", default="cluster.local")
    parser.add_argument("--node-ip", default="")
    parser.add_argument("--kubeconfig", default="")
    parser.add_argument("--port", type=int, default=10250, help="the kubelet API (0 = off)")
    parser.add_argument("--address", default="0.0.0.0")
    parser.add_argument("--client-ca-file", default="/etc/kubernetes/pki/ca.crt")
    parser.add_argument("--node-labels", default="", help="key=value,...")
    parser.add_argument("--register-with-taints", default="", help="key=value:Effect,...")
    return parser.parse_args(argv)


def parse_labels(text: str) -> dict[str, str]:
    labels = {}
    for item in filter(None, text.split(",")):
        key, sep, value = item.partition("=")
        if not sep:
            raise KinError(f"--node-labels: {item!r} is not key=value")
        labels[key] = value
    return labels


def parse_taints(text: str) -> list[dict[str, str]]:
    taints = []
    for item in filter(None, text.split(",")):
        pair, sep, effect = item.rpartition(":")
        if not sep or effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
            raise KinError(f"--register-with-taints: {item!r} is not key[=value]:Effect")
        key, _, value = pair.partition("=")
        taints.append(
            {"key": key, "value": value, "effect": effect}
            if value
            else {"key": key, "effect": effect}
        )
    return taints


def node_ip_guess() -> str:
    """The address of eth0 (a kin node's only interface), without importing netlink."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("10.255.255.255", 1))  # no packet is sent: it only picks a route
            return str(probe.getsockname()[0])
    except OSError:
        return ""


CHANNEL_OPTIONS = [
    ("grpc.default_authority", "localhost"),
    # gRPC waits 1 s before it dials a unix socket again that was not there yet (as when
    # the kubelet starts a moment before the runtime): a local socket is cheap to retry.
    ("grpc.initial_reconnect_backoff_ms", 50),
    ("grpc.min_reconnect_backoff_ms", 50),
    ("grpc.max_reconnect_backoff_ms", 1000),
]


async def wait_for_runtime(runtime: cri_grpc.RuntimeServiceStub, endpoint: str) -> None:
    announced = False
    while True:
        try:
            version = await runtime.Version(cri.VersionRequest(), timeout=2)
        except grpc.aio.AioRpcError as exc:
            if not announced:
                log.info("waiting for the container runtime at %s: %s", endpoint, exc.details())
                announced = True
            await asyncio.sleep(RUNTIME_WAIT)
            continue
        if version.version != "0.1.0":
            raise KinError(f"the runtime speaks CRI {version.version!r}, not 0.1.0")
        log.info("container runtime %s %s", version.runtime_name, version.runtime_version)
        return


async def wait_for_kubeconfig(path: str) -> None:
    """A worker's kubelet starts at boot, before ``kubeadm join`` writes its kubeconfig (as a
    kind node's does): it waits for the file, with the runtime already at hand."""
    if os.path.exists(path):
        return
    log.info("waiting for %s (kubeadm join writes it)", path)
    while not os.path.exists(path):
        await asyncio.sleep(KUBECONFIG_POLL)


async def run(args: argparse.Namespace) -> None:
    endpoint = endpoint_path(args.container_runtime_endpoint)
    channel = grpc.aio.insecure_channel(f"unix://{endpoint}", options=CHANNEL_OPTIONS)
    runtime = cri_grpc.RuntimeServiceStub(channel)  # type: ignore[no-untyped-call]
    images = cri_grpc.ImageServiceStub(channel)  # type: ignore[no-untyped-call]
    await wait_for_runtime(runtime, endpoint)
    if args.kubeconfig:
        await wait_for_kubeconfig(args.kubeconfig)
    node = NodeContext(
        args.node, pod_logs_dir=args.pod_logs_dir, root_dir=args.root_dir,
        cluster_dns=tuple(args.cluster_dns), cluster_domain=args.cluster_domain,
        node_ip=args.node_ip or node_ip_guess(),
    )  # fmt: skip
    api = Client(kubeconfig.load(args.kubeconfig), "kin-kubelet") if args.kubeconfig else None
    fetch = _fetcher(api) if api is not None else None
    kubelet = Kubelet(
        runtime, images, node, args.pod_manifest_path, fetch, api_source=api is not None
    )
    os.makedirs(args.pod_manifest_path, exist_ok=True)
    loops = [kubelet.run()]
    if args.port:
        context = serving_context(
            os.path.join(args.root_dir, "pki"), args.node, node.node_ip, args.client_ca_file
        )
        await KubeletServer(kubelet, runtime).start(args.address, args.port, context)
    if api is not None:
        labels, taints = parse_labels(args.node_labels), parse_taints(args.register_with_taints)
        agent = NodeAgent(api, runtime, images, args.node, node.node_ip, labels, taints)
        api_pods = APIPods(api, kubelet, agent)
        loops += [agent.register(), agent.status_loop(), agent.lease_loop(), api_pods.run()]
    gc.freeze()
    trim_periodically(TRIM_INTERVAL)
    source = f"and the API server at {api.connection.server}" if api is not None else "only"
    log.info(
        "kubelet for node %s: static pods from %s %s", args.node, args.pod_manifest_path, source
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    main = asyncio.create_task(_all(loops))
    await asyncio.wait(
        [main, asyncio.create_task(stop.wait())], return_when=asyncio.FIRST_COMPLETED
    )
    if main.done():
        main.result()
    log.info("stopping (pods keep running)")


async def _all(loops: list[Coroutine[Any, Any, None]]) -> None:
    await asyncio.gather(*loops)


def _fetcher(api: Client) -> Fetch:
    async def fetch(kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            scope = f"/namespaces/{namespace}" if namespace else ""  # "" : cluster-scoped
            return await api.get(f"/api/v1{scope}/{kind}/{name}")
        except APIError as exc:
            if exc.code == 404:
                return None
            raise EnvironmentError_(f"{kind[:-1]} {namespace}/{name}: {exc.message}") from exc

    return fetch


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    args = parse_args(sys.argv[1:] if argv is None else argv)
    set_process_title(f"kin.kubelet --node {args.node}")
    try:
        asyncio.run(run(args))
    except KinError as exc:
        log.error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
