"""``kin``: kind's verbs and flags for namespace clusters.

Data goes to stdout, progress and errors to stderr (``ERROR: ...``, exit 1), as
kind does. Every sub-command is a small function over the ``kin.cluster`` API.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from kin.cli.status import Status
from kin.errors import CommandError, KinError, PrerequisiteError

__all__ = ["main"]

Handler = Callable[[argparse.Namespace, Status], int]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kin",
        description="kin creates and manages local Kubernetes clusters whose nodes are Linux "
        "namespaces, from kind configuration files.",
    )
    parser.add_argument("-v", "--verbosity", type=int, default=0, help="info log verbosity")
    parser.add_argument("-q", "--quiet", action="store_true", help="silence all stderr output")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="COMMAND")
    _add_create(verbs)
    _add_delete(verbs)
    _add_stop_start(verbs)
    _add_get(verbs)
    _add_exec(verbs)
    _add_export(verbs)
    load = verbs.add_parser("load", help="load images into nodes").add_subparsers(
        dest="what", required=True, metavar="image-archive"
    )
    archive = load.add_parser("image-archive", help="load a docker-save or OCI archive into nodes")
    archive.add_argument("archive", help="the archive file")
    archive.add_argument("-n", "--name", help="the cluster name")
    archive.add_argument("--nodes", default="", help="comma separated node names (default: all)")
    archive.set_defaults(handler=_cmd("load_image_archive"), fails="failed to load image archive")
    crictl = verbs.add_parser("crictl", help="crictl against a node's container runtime")
    crictl.add_argument("node", help="node name, e.g. myk8s-worker")
    crictl.add_argument("command", nargs=argparse.REMAINDER, help="crictl command and arguments")
    crictl.set_defaults(handler=_cmd("crictl_in_node"), fails="failed to run crictl")
    version = verbs.add_parser("version", help="print the kin version")
    version.set_defaults(handler=_cmd("version"), fails="failed to print the version")
    return parser


def _add_create(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    create = verbs.add_parser("create", help="create a cluster or a port mapping").add_subparsers(
        dest="what", required=True, metavar="cluster|port-mapping"
    )
    mapping = create.add_parser(
        "port-mapping", help="kin: publish one more host port on a cluster (kind cannot)"
    )
    mapping.add_argument("mapping", help="HOSTPORT:CONTAINERPORT[/tcp|udp] (host port 0: any free)")
    mapping.add_argument("-n", "--name", help="the cluster name")
    mapping.add_argument("--node", default="", help="the node it reaches (default: control plane)")
    mapping.add_argument("--listen-address", default="0.0.0.0", help="host address to listen on")
    mapping.set_defaults(handler=_cmd("create_port_mapping"), fails="failed to create port mapping")
    cluster = create.add_parser("cluster", help="create a local cluster")
    cluster.add_argument("-n", "--name", help="cluster name, overrides KIND_CLUSTER_NAME, config")
    cluster.add_argument("--config", default="", help="path to a kind config file ('-' = stdin)")
    cluster.add_argument("--image", default="", help="node image (accepted; kin has no images)")
    cluster.add_argument("--retain", action="store_true", help="keep nodes if creation fails")
    cluster.add_argument("--wait", default="0s", help="wait for nodes to be ready (e.g. 30s)")
    cluster.add_argument("--kubeconfig", default="", help="kubeconfig path to update")
    cluster.add_argument(
        "--flannel-backend", default="vxlan", help="kin: vxlan (default), host-gw or udp"
    )
    cluster.add_argument(
        "--datastore", default="sqlite", help="kin: the API server's sqlite (default) or etcd"
    )
    cluster.set_defaults(
        handler=_with_early_zygote(_cmd("create_cluster_cmd")), fails="failed to create cluster"
    )


def _add_delete(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    delete = verbs.add_parser("delete", help="delete clusters or a port mapping").add_subparsers(
        dest="what", required=True, metavar="cluster|clusters|port-mapping"
    )
    mapping = delete.add_parser("port-mapping", help="kin: stop publishing a host port")
    mapping.add_argument("port", help="HOSTPORT[/tcp|udp]")
    mapping.add_argument("-n", "--name", help="the cluster name")
    mapping.add_argument("--listen-address", default="", help="when published at several")
    mapping.set_defaults(handler=_cmd("delete_port_mapping"), fails="failed to delete port mapping")
    one = delete.add_parser("cluster", help="delete a cluster")
    one.add_argument("-n", "--name", help="the cluster name (default: KIND_CLUSTER_NAME or kind)")
    one.add_argument("--kubeconfig", default="", help="kubeconfig path to update")
    one.set_defaults(handler=_cmd("delete_cluster_cmd"), fails="failed to delete cluster")
    many = delete.add_parser("clusters", help="delete clusters by name, or all of them")
    many.add_argument("names", nargs="*")
    many.add_argument("-A", "--all", action="store_true", help="delete all clusters")
    many.add_argument("--kubeconfig", default="", help="kubeconfig path to update")
    many.set_defaults(handler=_cmd("delete_clusters"), fails="failed to delete clusters")


def _add_stop_start(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    stop = verbs.add_parser("stop", help="stop a cluster, keeping all of it").add_subparsers(
        dest="what", required=True, metavar="cluster"
    )
    halt = stop.add_parser("cluster", help="stop every process and namespace; keep the state")
    halt.add_argument("-n", "--name", help="the cluster name (default: KIND_CLUSTER_NAME or kind)")
    halt.set_defaults(handler=_cmd("stop_cluster_cmd"), fails="failed to stop cluster")
    start = verbs.add_parser("start", help="start a stopped cluster").add_subparsers(
        dest="what", required=True, metavar="cluster"
    )
    boot = start.add_parser("cluster", help="start a stopped cluster with its objects and IPs")
    boot.add_argument("-n", "--name", help="the cluster name (default: KIND_CLUSTER_NAME or kind)")
    boot.add_argument("--wait", default="0s", help="wait for every node to be Ready (e.g. 30s)")
    boot.set_defaults(
        handler=_with_early_zygote(_cmd("start_cluster_cmd")), fails="failed to start cluster"
    )


def _add_get(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    get = verbs.add_parser("get", help="list clusters, nodes or port mappings").add_subparsers(
        dest="what", required=True, metavar="clusters|nodes|kubeconfig|port-mappings"
    )
    clusters = get.add_parser("clusters", help="list clusters")
    clusters.set_defaults(handler=_cmd("get_clusters"), fails="failed to list clusters")
    nodes = get.add_parser("nodes", help="list the nodes of a cluster")
    nodes.add_argument("-n", "--name", help="the cluster name")
    nodes.add_argument("-A", "--all-clusters", action="store_true", help="nodes of every cluster")
    nodes.set_defaults(handler=_cmd("get_nodes"), fails="failed to list nodes")
    kubeconfig = get.add_parser("kubeconfig", help="print the cluster's admin kubeconfig")
    kubeconfig.add_argument("-n", "--name", help="the cluster name")
    kubeconfig.add_argument(
        "--internal", action="store_true", help="the control plane's own address"
    )
    kubeconfig.set_defaults(
        handler=_cmd("get_kubeconfig"), fails="failed to get cluster kubeconfig"
    )
    ports = get.add_parser("port-mappings", help="list published host ports (as docker ps)")
    ports.add_argument("-n", "--name", help="the cluster name")
    ports.set_defaults(handler=_cmd("get_port_mappings"), fails="failed to list port mappings")


def _add_export(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    export = verbs.add_parser("export", help="export the kubeconfig or logs").add_subparsers(
        dest="what", required=True, metavar="kubeconfig|logs"
    )
    logs = export.add_parser("logs", help="export the cluster's logs to a directory")
    logs.add_argument("directory", nargs="?", default="", help="where (default: a new temp dir)")
    logs.add_argument("-n", "--name", help="the cluster name")
    logs.set_defaults(handler=_cmd("export_logs_cmd"), fails="failed to export logs")
    config = export.add_parser("kubeconfig", help="merge the cluster's context into a kubeconfig")
    config.add_argument("-n", "--name", help="the cluster name")
    config.add_argument("--kubeconfig", default="", help="kubeconfig path to update")
    config.add_argument("--internal", action="store_true", help="the control plane's own address")
    config.set_defaults(handler=_cmd("export_kubeconfig_cmd"), fails="failed to export kubeconfig")


def _add_exec(verbs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = verbs.add_parser("exec", help="run a command inside a node's namespaces")
    run.add_argument("node", help="node name, e.g. myk8s-worker")
    run.add_argument("command", nargs=argparse.REMAINDER, help="[--] command and arguments")
    run.set_defaults(handler=_cmd("exec_in_node"), fails="failed to exec")


def _cmd(name: str) -> Handler:
    """Import the command module only when it runs: keeps ``kin version`` and errors fast."""

    def run(args: argparse.Namespace, status: Status) -> int:
        from kin.cli import commands

        handler: Handler = getattr(commands, name)
        return handler(args, status)

    return run


def _with_early_zygote(handler: Handler) -> Handler:
    """create and start: the cluster's zygote starts first and imports while this process
    imports the rest and works out the nodes (``kin.cluster.zygote.early_zygote``)."""

    def run(args: argparse.Namespace, status: Status) -> int:
        from kin.cluster.zygote import early_zygote

        args.zygote = early_zygote()
        return handler(args, status)

    return run


def _require_root(args: argparse.Namespace) -> None:
    if args.verb in ("version",) or os.geteuid() == 0:
        return
    raise PrerequisiteError(
        "kin must run as root: it creates network, mount and PID namespaces (try: sudo kin ...)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    status = Status(quiet=args.quiet)
    try:
        _require_root(args)
        code: int = args.handler(args, status)
        return code
    except KinError as exc:
        status.end(False)
        _print_error(args, exc)
        return 1
    except KeyboardInterrupt:
        status.end(False)
        sys.stderr.write("ERROR: interrupted\n")
        return 130


def _print_error(args: argparse.Namespace, exc: KinError) -> None:
    prefix = args.fails
    if args.verb == "delete" and args.what == "cluster":
        prefix = f'failed to delete cluster "{getattr(args, "cluster_name", "")}"'
    sys.stderr.write(f"ERROR: {prefix}: {exc}\n")
    if isinstance(exc, CommandError) and exc.output:
        sys.stderr.write(f"Command Output: {exc.output}\n")
