"""The sub-commands: parse what the user gave, call ``kin.cluster``, print kind's way."""

from __future__ import annotations

import argparse
import os
import platform
import random
import shlex
import sys
import tempfile

from kin import __version__
from kin.cli.status import Status
from kin.cluster import query
from kin.cluster.controlplane import admin_kubeconfig
from kin.cluster.create import CreateOptions, create_cluster
from kin.cluster.delete import delete_cluster
from kin.cluster.kubeconfigs import context_name, export_kubeconfig
from kin.cluster.lifecycle import start_cluster, stop_cluster
from kin.cluster.logs import export_logs
from kin.cluster.provision import CRI_SOCKET, RUNTIME_ROOT
from kin.cluster.state import node_dir
from kin.config import load_config, resolve_cluster_name, unsupported_warnings
from kin.errors import ConfigError, KinError, NodeError
from kin.kube.duration import parse_duration

__all__ = [
    "create_cluster_cmd",
    "create_port_mapping",
    "crictl_in_node",
    "delete_cluster_cmd",
    "delete_clusters",
    "delete_port_mapping",
    "exec_in_node",
    "export_kubeconfig_cmd",
    "export_logs_cmd",
    "get_clusters",
    "get_kubeconfig",
    "get_nodes",
    "get_port_mappings",
    "load_image_archive",
    "start_cluster_cmd",
    "stop_cluster_cmd",
    "version",
]

SALUTATIONS = (
    "Have a nice day! 👋",
    "Thanks for using kin! 😊",
    "Not sure what to do next? 😅  Check out the walkthrough in kin's README",
)


def _default_name(flag: str | None) -> str:
    """``--name`` > ``KIND_CLUSTER_NAME`` > ``kind``: every command but create."""
    return flag or os.environ.get("KIND_CLUSTER_NAME") or "kind"


def _quoted_list(names: list[str]) -> str:
    return "[" + " ".join(f'"{n}"' for n in names) + "]"


def version(args: argparse.Namespace, status: Status) -> int:
    if args.quiet:
        print(__version__)
    else:
        machine = {"x86_64": "amd64", "aarch64": "arm64"}.get(
            platform.machine(), platform.machine()
        )
        print(f"kin v{__version__} python{platform.python_version()} linux/{machine}")
    return 0


def create_cluster_cmd(args: argparse.Namespace, status: Status) -> int:
    config = load_config(args.config or None, stdin=sys.stdin)
    name = resolve_cluster_name(args.name, os.environ, config)
    wait = parse_duration(args.wait)
    for warning in _flag_warnings(args) + unsupported_warnings(config):
        status.warn(f"WARNING: {warning}")
    options = CreateOptions(
        config, name, args.retain, wait, args.flannel_backend, args.datastore, args.kubeconfig,
        getattr(args, "zygote", None),
    )  # fmt: skip
    _, notes = create_cluster(options, status)
    for note in notes:
        status.info(note)
    context = context_name(name)
    status.info(f'Set kubectl context to "{context}"')
    status.info("You can now use your cluster with:\n")
    flag = f" --kubeconfig {shlex.quote(args.kubeconfig)}" if args.kubeconfig else ""
    status.info(f"kubectl cluster-info --context {context}{flag}\n")
    status.info(random.choice(SALUTATIONS))
    return 0


def _flag_warnings(args: argparse.Namespace) -> list[str]:
    warnings = []
    if args.image:
        warnings.append("--image: kin runs nodes on the host's files; node images are ignored")
    return warnings


def delete_cluster_cmd(args: argparse.Namespace, status: Status) -> int:
    name = _default_name(args.name)
    args.cluster_name = name
    status.info(f'Deleting cluster "{name}" ...')
    deleted = delete_cluster(name, args.kubeconfig)
    if deleted:
        status.info(f"Deleted nodes: {_quoted_list(deleted)}")
    return 0


def stop_cluster_cmd(args: argparse.Namespace, status: Status) -> int:
    name = _default_name(args.name)
    status.info(f'Stopping cluster "{name}" ...')
    stopped = stop_cluster(name)
    if stopped:
        status.info(f"Stopped nodes: {_quoted_list(stopped)}")
    return 0


def start_cluster_cmd(args: argparse.Namespace, status: Status) -> int:
    name, wait = _default_name(args.name), parse_duration(args.wait)
    notes = start_cluster(name, status, wait, getattr(args, "zygote", None))
    for note in notes:
        status.info(note)
    return 0


def delete_clusters(args: argparse.Namespace, status: Status) -> int:
    if not args.names and not args.all:
        raise ConfigError("no cluster names provided")
    names = query.list_clusters() if args.all else list(dict.fromkeys(args.names))
    done = []
    for name in names:
        try:
            delete_cluster(name, args.kubeconfig)
        except KinError as exc:
            status.info(f'failed to delete cluster "{name}": {exc}')
            continue
        done.append(name)
    status.info(f"Deleted clusters: {_quoted_list(done)}")
    return 0


def get_clusters(args: argparse.Namespace, status: Status) -> int:
    names = query.list_clusters()
    if not names:
        status.info("No kin clusters found.")
    for name in names:
        print(name)
    return 0


def get_nodes(args: argparse.Namespace, status: Status) -> int:
    clusters = query.list_clusters() if args.all_clusters else [_default_name(args.name)]
    nodes = [node for cluster in clusters for node in query.list_nodes(cluster)]
    if not nodes:
        if args.all_clusters:
            status.info("No kin nodes for any cluster.")
        else:
            status.info(f'No kin nodes found for cluster "{clusters[0]}".')
    for node in nodes:
        print(node.name)
    return 0


def get_port_mappings(args: argparse.Namespace, status: Status) -> int:
    plan = query.cluster_plan(_default_name(args.name))
    rows = [("NODE", "PORTS")]
    for node in plan.nodes:
        ports = list(node.ports)
        if node.name == plan.control_plane.name:
            ports.insert(0, plan.api_server)
        rows.append((node.name, ", ".join(p.docker_style() for p in ports)))
    width = max(len(row[0]) for row in rows) + 3
    for node_name, ports_text in rows:
        print(f"{node_name:<{width}}{ports_text}".rstrip())
    return 0


def create_port_mapping(args: argparse.Namespace, status: Status) -> int:
    from kin.cluster.portmappings import add_port_mapping

    name = _default_name(args.name)
    host, container, protocol = _parse_mapping(args.mapping)
    node = args.node or query.cluster_plan(name).control_plane.name
    mapping = add_port_mapping(name, node, host, container, protocol, args.listen_address)
    print(f"{node}   {mapping.docker_style()}")
    return 0


def delete_port_mapping(args: argparse.Namespace, status: Status) -> int:
    from kin.cluster.portmappings import delete_port_mapping as delete

    port, _, protocol = args.port.partition("/")
    if not port.isdigit():
        raise ConfigError(f"port {args.port!r}: give HOSTPORT or HOSTPORT/PROTOCOL")
    mapping = delete(_default_name(args.name), int(port), protocol.lower() or "tcp",
                     args.listen_address)  # fmt: skip
    status.info(f"Deleted port mapping {mapping.docker_style()}")
    return 0


def _parse_mapping(text: str) -> tuple[int, int, str]:
    """``HOSTPORT:CONTAINERPORT[/PROTOCOL]``, docker's ``-p`` form."""
    ports, _, protocol = text.partition("/")
    host, colon, container = ports.partition(":")
    if not colon or not host.isdigit() or not container.isdigit():
        raise ConfigError(f"port mapping {text!r}: give HOSTPORT:CONTAINERPORT[/tcp|udp]")
    return int(host), int(container), protocol.lower() or "tcp"


def load_image_archive(args: argparse.Namespace, status: Status) -> int:
    from kin.runtime.images import import_archive

    name = _default_name(args.name)
    nodes = query.list_nodes(name)
    wanted = [n for n in args.nodes.split(",") if n]
    unknown = sorted(set(wanted) - {node.name for node in nodes})
    if unknown:
        raise ConfigError(f"unknown node {unknown[0]!r} in cluster {name!r}")
    for node in nodes:
        if wanted and node.name not in wanted:
            continue
        root = os.path.join(node.state_dir, "fs", RUNTIME_ROOT.lstrip("/"))
        for image in import_archive(args.archive, root, RUNTIME_ROOT):
            status.info(f"Image: {', '.join(image.tags) or image.id} loaded into node {node.name}")
    return 0


def export_logs_cmd(args: argparse.Namespace, status: Status) -> int:
    name = _default_name(args.name)
    if name not in query.list_clusters():
        raise KinError(f'unknown cluster "{name}"')
    directory = args.directory or tempfile.mkdtemp(prefix=f"kin-logs-{name}-")
    status.info(f'Exporting logs for cluster "{name}" to:')
    export_logs(query.cluster_plan(name), directory)
    print(directory)
    return 0


def export_kubeconfig_cmd(args: argparse.Namespace, status: Status) -> int:
    plan = query.cluster_plan(_default_name(args.name))
    export_kubeconfig(plan, args.kubeconfig, args.internal)
    status.info(f'Set kubectl context to "{context_name(plan.name)}"')
    return 0


def get_kubeconfig(args: argparse.Namespace, status: Status) -> int:
    plan = query.cluster_plan(_default_name(args.name))
    root = os.path.join(node_dir(plan.name, plan.control_plane.name), "fs")
    sys.stdout.write(admin_kubeconfig(plan, root, internal=args.internal))
    return 0


def exec_in_node(args: argparse.Namespace, status: Status) -> int:
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        raise ConfigError("no command given: kin exec NODE -- COMMAND [ARGS...]")
    argv = query.find_node(args.node).command(command)
    sys.stdout.flush()
    os.execv(argv[0], argv)
    return 127  # not reached: execv replaces this process


def crictl_in_node(args: argparse.Namespace, status: Status) -> int:
    """crictl from the host: the node's socket and files through its state directory."""
    from kin.cli import crictl

    node = query.find_node(args.node)
    record = node.supervisor()
    if record is None or not record.alive():
        raise NodeError(f"node {node.name!r} is not running")
    socket = os.path.join(node.state_dir, "fs", CRI_SOCKET.lstrip("/"))
    root = f"/proc/{record.pid}/root"
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    return crictl.run(command or ["--help"], endpoint=socket, host_path=lambda p: root + p)
