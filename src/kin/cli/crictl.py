"""crictl for kin nodes: the commands one uses to look inside a node, with crictl's output.

Inside a node it is ``crictl`` (on the PATH; the node's ``/etc/crictl.yaml`` names the
socket, or a ``crictl.yaml`` beside the binary, as crictl reads them). From the host it is
``kin crictl NODE ...``, which reaches the node's socket and log files through the
node's state directory. Commands: pods, ps, inspectp, inspect, images, logs, exec,
info, version, stopp, rmp, stop, rm, pull, rmi.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import grpc
import yaml
from google.protobuf import json_format

from kin.cli.tabular import human_duration, human_size, tabwrite
from kin.errors import ConfigError, CRIError, KinError
from kin.runtime.client import CRIClient
from kin.runtime.cri import api_pb2 as cri
from kin.runtime.logs import read_records

__all__ = ["Crictl", "main"]

TRUNCATED_ID = 13
DEFAULT_ENDPOINT = "unix:///run/containerd/containerd.sock"
CONFIG_KEYS = {"runtime-endpoint", "image-endpoint", "timeout", "debug", "pull-image-on-create",
               "disable-pull-on-run", "max-retries"}  # fmt: skip
SANDBOX_STATES = {cri.SANDBOX_READY: "Ready", cri.SANDBOX_NOTREADY: "NotReady"}
CONTAINER_STATES = {
    cri.CONTAINER_CREATED: "Created", cri.CONTAINER_RUNNING: "Running",
    cri.CONTAINER_EXITED: "Exited", cri.CONTAINER_UNKNOWN: "Unknown",
}  # fmt: skip
STATE_FLAGS = {"created": cri.CONTAINER_CREATED, "running": cri.CONTAINER_RUNNING,
               "exited": cri.CONTAINER_EXITED, "unknown": cri.CONTAINER_UNKNOWN}  # fmt: skip


class Crictl:
    """One invocation: a client, where to print, and how node paths are reached."""

    def __init__(
        self,
        client: CRIClient,
        out: Any = None,
        host_path: Callable[[str], str] = lambda path: path,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.rt = client.runtime
        self.out = out or sys.stdout
        self.host_path = host_path
        self.now = now

    def write(self, text: str) -> None:
        self.out.write(text)

    def ago(self, created_ns: int) -> str:
        return human_duration(self.now() - created_ns / 1e9) + " ago"

    # -- sandboxes ------------------------------------------------------------------------

    def pods(self, args: argparse.Namespace) -> int:
        filter_ = cri.PodSandboxFilter(id=args.id or "", label_selector=_labels(args.label))
        if args.state:
            state = cri.SANDBOX_READY if args.state.lower() == "ready" else cri.SANDBOX_NOTREADY
            filter_.state.CopyFrom(cri.PodSandboxStateValue(state=state))
        items = list(self.rt.ListPodSandbox(cri.ListPodSandboxRequest(filter=filter_)).items)
        items = [
            p for p in items
            if _matches(args.name, p.metadata.name)
            and _matches(args.namespace, p.metadata.namespace)
        ]  # fmt: skip
        items.sort(key=lambda p: p.created_at, reverse=True)
        if args.last:
            items = items[: args.last]
        if args.output in ("json", "yaml"):
            return self._dump({"items": [_proto_dict(p) for p in items]}, args.output)
        if args.quiet:
            self.write("".join(p.id + "\n" for p in items))
            return 0
        rows = [["POD ID", "CREATED", "STATE", "NAME", "NAMESPACE", "ATTEMPT", "RUNTIME"]]
        for p in items:
            rows.append([
                _trunc(p.id, args.no_trunc), self.ago(p.created_at), SANDBOX_STATES[p.state],
                p.metadata.name, p.metadata.namespace, str(p.metadata.attempt),
                p.runtime_handler or "(default)",
            ])  # fmt: skip
        self.write(tabwrite(rows))
        return 0

    def inspectp(self, args: argparse.Namespace) -> int:
        results = []
        for id_ in args.ids:
            request = cri.PodSandboxStatusRequest(pod_sandbox_id=id_, verbose=not args.quiet)
            response = self.rt.PodSandboxStatus(request)
            results.append(_status_document(response.status, response.info, ("createdAt",)))
        return self._dump(results[0] if len(results) == 1 else results, args.output)

    def stopp(self, args: argparse.Namespace) -> int:
        for id_ in args.ids:
            self.rt.StopPodSandbox(cri.StopPodSandboxRequest(pod_sandbox_id=id_))
            self.write(f"Stopped sandbox {id_}\n")
        return 0

    def rmp(self, args: argparse.Namespace) -> int:
        ids = args.ids or (
            [p.id for p in self.rt.ListPodSandbox(cri.ListPodSandboxRequest()).items]
            if args.all
            else []
        )
        for id_ in ids:
            status = self.rt.PodSandboxStatus(
                cri.PodSandboxStatusRequest(pod_sandbox_id=id_)
            ).status
            if status.state == cri.SANDBOX_READY and not args.force:
                raise CRIError(f'pod sandbox "{id_}" is running, please stop it first')
            if args.force:
                self.rt.StopPodSandbox(cri.StopPodSandboxRequest(pod_sandbox_id=id_))
            self.rt.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=id_))
            self.write(f"Removed sandbox {id_}\n")
        return 0

    # -- containers -----------------------------------------------------------------------

    def ps(self, args: argparse.Namespace) -> int:
        filter_ = cri.ContainerFilter(
            id=args.id or "", pod_sandbox_id=args.pod or "", label_selector=_labels(args.label)
        )
        state = args.state or ("" if args.all or args.last or args.latest else "running")
        if state:
            if state.lower() not in STATE_FLAGS:
                raise ConfigError(f"--state should be one of {', '.join(STATE_FLAGS)}")
            filter_.state.CopyFrom(cri.ContainerStateValue(state=STATE_FLAGS[state.lower()]))
        found = self.rt.ListContainers(cri.ListContainersRequest(filter=filter_)).containers
        items = [
            c for c in found
            if _matches(args.name, c.metadata.name)
            and _matches(args.namespace, c.labels.get("io.kubernetes.pod.namespace", ""))
        ]  # fmt: skip
        items.sort(key=lambda c: c.created_at, reverse=True)
        if args.latest:
            items = items[:1]
        elif args.last:
            items = items[: args.last]
        if args.output in ("json", "yaml"):
            return self._dump({"containers": [_proto_dict(c) for c in items]}, args.output)
        if args.quiet:
            self.write("".join(c.id + "\n" for c in items))
            return 0
        rows = [
            [
                "CONTAINER",
                "IMAGE",
                "CREATED",
                "STATE",
                "NAME",
                "ATTEMPT",
                "POD ID",
                "POD",
                "NAMESPACE",
            ]
        ]
        for c in items:
            image = c.image.image
            if not args.no_trunc and image.startswith("sha256:"):
                image = image.removeprefix("sha256:")[:TRUNCATED_ID]
            rows.append([
                _trunc(c.id, args.no_trunc), image, self.ago(c.created_at),
                CONTAINER_STATES[c.state], c.metadata.name, str(c.metadata.attempt),
                _trunc(c.pod_sandbox_id, args.no_trunc),
                c.labels.get("io.kubernetes.pod.name", "unknown"),
                c.labels.get("io.kubernetes.pod.namespace", "unknown"),
            ])  # fmt: skip
        self.write(tabwrite(rows))
        return 0

    def inspect(self, args: argparse.Namespace) -> int:
        results = []
        for id_ in args.ids:
            request = cri.ContainerStatusRequest(container_id=id_, verbose=not args.quiet)
            response = self.rt.ContainerStatus(request)
            stamps = ("createdAt", "startedAt", "finishedAt")
            results.append(_status_document(response.status, response.info, stamps))
        return self._dump(results[0] if len(results) == 1 else results, args.output)

    def stop(self, args: argparse.Namespace) -> int:
        for id_ in args.ids:
            self.rt.StopContainer(cri.StopContainerRequest(container_id=id_, timeout=args.timeout))
            self.write(id_ + "\n")
        return 0

    def rm(self, args: argparse.Namespace) -> int:
        for id_ in args.ids:
            status = self.rt.ContainerStatus(cri.ContainerStatusRequest(container_id=id_)).status
            if status.state == cri.CONTAINER_RUNNING:
                if not args.force:
                    raise CRIError(f'container "{id_}" is running, please stop it first')
                self.rt.StopContainer(cri.StopContainerRequest(container_id=id_, timeout=0))
            self.rt.RemoveContainer(cri.RemoveContainerRequest(container_id=id_))
            self.write(id_ + "\n")
        return 0

    def logs(self, args: argparse.Namespace) -> int:
        status = self.rt.ContainerStatus(cri.ContainerStatusRequest(container_id=args.id)).status
        if not status.log_path:
            raise CRIError("the container has not set log path")
        path = status.log_path
        if args.previous:
            directory, name = os.path.split(path)
            path = os.path.join(directory, f"{int(name.split('.')[0]) - 1}.log")
        lines = read_records(self.host_path(path))
        if args.tail >= 0:
            lines = lines[len(lines) - args.tail :] if args.tail else []
        for stamp, stream, text in lines:
            self._print_record(stamp, stream, text, args.timestamps)
        if args.follow:
            self._follow(args, path, len(read_records(self.host_path(path))))
        return 0

    def _follow(self, args: argparse.Namespace, path: str, seen: int) -> None:
        while True:
            records = read_records(self.host_path(path))
            for stamp, stream, text in records[seen:]:
                self._print_record(stamp, stream, text, args.timestamps)
            seen = len(records)
            state = self.rt.ContainerStatus(
                cri.ContainerStatusRequest(container_id=args.id)
            ).status.state
            if state != cri.CONTAINER_RUNNING:
                return
            time.sleep(0.2)

    def _print_record(self, stamp: str, stream: str, text: str, timestamps: bool) -> None:
        out = sys.stderr if stream == "stderr" and self.out is sys.stdout else self.out
        out.write((f"{stamp} " if timestamps else "") + text)
        out.flush()

    def exec(self, args: argparse.Namespace) -> int:
        if args.interactive or args.tty:
            raise CRIError("interactive exec (-i/-t) needs the streaming server; use -s for now")
        request = cri.ExecSyncRequest(container_id=args.id, cmd=args.cmd, timeout=args.timeout)
        response = self.rt.ExecSync(request, timeout=(args.timeout or 3600) + 10)
        if response.exit_code != 0 and args.sync:
            raise CRIError(
                f"command '{' '.join(args.cmd)}' exited with {response.exit_code}: "
                + response.stderr.decode(errors="replace")
            )
        self.out.write(response.stdout.decode(errors="replace"))
        self.out.flush()
        sys.stderr.write(response.stderr.decode(errors="replace"))
        return int(response.exit_code)

    # -- images and runtime ---------------------------------------------------------------

    def images(self, args: argparse.Namespace) -> int:
        spec = cri.ImageSpec(image=args.image or "")
        found = self.client.images.ListImages(
            cri.ListImagesRequest(filter=cri.ImageFilter(image=spec))
        )
        items = list(found.images)
        if args.output in ("json", "yaml"):
            return self._dump({"images": [_proto_dict(i) for i in items]}, args.output)
        if args.quiet:
            self.write("".join(i.id + "\n" for i in items))
            return 0
        rows = [["IMAGE", "TAG", "IMAGE ID", "SIZE"]]
        for image in items:
            image_id = (
                image.id if args.no_trunc else image.id.removeprefix("sha256:")[:TRUNCATED_ID]
            )
            for repo, tag in [_repo_tag(t) for t in image.repo_tags] or [("<none>", "<none>")]:
                rows.append([repo, tag, image_id, human_size(image.size)])
        self.write(tabwrite(rows))
        return 0

    def pull(self, args: argparse.Namespace) -> int:
        request = cri.PullImageRequest(image=cri.ImageSpec(image=args.image))
        ref = self.client.images.PullImage(request).image_ref
        self.write(f"Image is up to date for {ref}\n")
        return 0

    def rmi(self, args: argparse.Namespace) -> int:
        for image in args.ids:
            self.client.images.RemoveImage(cri.RemoveImageRequest(image=cri.ImageSpec(image=image)))
            self.write(f"Deleted: {image}\n")
        return 0

    def info(self, args: argparse.Namespace) -> int:
        response = self.rt.Status(cri.StatusRequest(verbose=not args.quiet))
        document: dict[str, Any] = {
            "status": _proto_dict(response.status),
            "runtimeHandlers": [_proto_dict(h) for h in response.runtime_handlers],
            "features": _proto_dict(response.features),
        }
        for key, value in response.info.items():
            document[key] = json.loads(value) if value.startswith("{") else value.strip('"')
        return self._dump(document, args.output)

    def version(self, args: argparse.Namespace) -> int:
        v = self.rt.Version(cri.VersionRequest(version="v1"))
        self.write(
            f"Version:  {v.version}\nRuntimeName:  {v.runtime_name}\n"
            f"RuntimeVersion:  {v.runtime_version}\nRuntimeApiVersion:  {v.runtime_api_version}\n"
        )
        return 0

    def _dump(self, document: Any, output: str = "json") -> int:
        if output == "yaml":
            self.write(yaml.safe_dump(document, sort_keys=False))
        else:
            self.write(json.dumps(document, indent=2) + "\n")
        return 0


def _trunc(id_: str, no_trunc: bool) -> str:
    return id_ if no_trunc else id_[:TRUNCATED_ID]


def _matches(pattern: str | None, value: str) -> bool:
    return not pattern or re.search(pattern, value) is not None


def _labels(pairs: list[str] | None) -> dict[str, str]:
    labels = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ConfigError(f"incorrectly specified label: {pair}")
        labels[key] = value
    return labels


def _repo_tag(repo_tag: str) -> tuple[str, str]:
    repo, sep, tag = repo_tag.rpartition(":")
    if not sep or "/" in tag:
        return repo_tag, "<none>"
    return repo, tag


def _proto_dict(message: Any) -> dict[str, Any]:
    return json_format.MessageToDict(message, always_print_fields_with_no_presence=True)


def _status_document(status: Any, info: Any, stamps: tuple[str, ...]) -> dict[str, Any]:
    """crictl's inspect layout: the status with times as RFC 3339, then the info keys."""
    document: dict[str, Any] = {"status": _proto_dict(status)}
    for key in stamps:
        raw = int(document["status"].get(key, 0) or 0)
        document["status"][key] = _rfc3339(raw)
    for key, value in info.items():
        document[key] = json.loads(value) if value.startswith("{") else value
    return document


def _rfc3339(ns: int) -> str:
    from kin.runtime.logs import timestamp

    return timestamp(ns) if ns else "1970-01-01T00:00:00Z"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crictl", description="talk to a node's CRI runtime")
    parser.add_argument(
        "-r", "--runtime-endpoint", default=os.environ.get("CONTAINER_RUNTIME_ENDPOINT", "")
    )
    parser.add_argument("-c", "--config", default=os.environ.get("CRI_CONFIG_FILE", ""))
    parser.add_argument("-t", "--timeout", dest="rpc_timeout", type=float, default=0)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _listing(commands.add_parser("pods", help="list pod sandboxes"), pods=True)
    _listing(commands.add_parser("ps", help="list containers"), pods=False)
    for name, help_ in (("inspectp", "pod sandbox status"), ("inspect", "container status")):
        cmd = commands.add_parser(name, help=help_)
        cmd.add_argument("ids", nargs="+")
        cmd.add_argument("-o", "--output", default="json", choices=["json", "yaml"])
        cmd.add_argument("-q", "--quiet", action="store_true")
    images = commands.add_parser("images", aliases=["image", "img"], help="list images")
    images.add_argument("image", nargs="?")
    images.add_argument("-q", "--quiet", action="store_true")
    images.add_argument("--no-trunc", action="store_true")
    images.add_argument("-o", "--output", default="table", choices=["json", "yaml", "table"])
    logs = commands.add_parser("logs", help="print a container's log")
    logs.add_argument("id")
    logs.add_argument("-f", "--follow", action="store_true")
    logs.add_argument("--tail", type=int, default=-1)
    logs.add_argument("-t", "--timestamps", action="store_true")
    logs.add_argument("-p", "--previous", action="store_true")
    run = commands.add_parser("exec", help="run a command in a running container")
    run.add_argument("-s", "--sync", action="store_true")
    run.add_argument("-i", "--interactive", action="store_true")
    run.add_argument("-t", "--tty", action="store_true")
    run.add_argument("--timeout", type=int, default=0)
    run.add_argument("id")
    run.add_argument("cmd", nargs=argparse.REMAINDER)
    info = commands.add_parser("info", help="the runtime's status")
    info.add_argument("-o", "--output", default="json", choices=["json", "yaml"])
    info.add_argument("-q", "--quiet", action="store_true")
    commands.add_parser("version", help="the runtime's version")
    for name, help_ in (("stopp", "stop pod sandboxes"), ("rmp", "remove pod sandboxes")):
        cmd = commands.add_parser(name, help=help_)
        cmd.add_argument("ids", nargs="*" if name == "rmp" else "+")
        if name == "rmp":
            cmd.add_argument("-f", "--force", action="store_true")
            cmd.add_argument("-a", "--all", action="store_true")
    stop = commands.add_parser("stop", help="stop containers")
    stop.add_argument("ids", nargs="+")
    stop.add_argument("--timeout", type=int, default=0)
    rm = commands.add_parser("rm", help="remove containers")
    rm.add_argument("ids", nargs="+")
    rm.add_argument("-f", "--force", action="store_true")
    pull = commands.add_parser("pull", help="pull an image")
    pull.add_argument("image")
    rmi = commands.add_parser("rmi", help="remove images")
    rmi.add_argument("ids", nargs="+")
    return parser


def _listing(cmd: argparse.ArgumentParser, pods: bool) -> None:
    cmd.add_argument("--id", default="")
    cmd.add_argument("--name", default="")
    cmd.add_argument("--namespace", default="")
    cmd.add_argument("--state", default="")
    cmd.add_argument("--label", action="append")
    cmd.add_argument("-q", "--quiet", action="store_true")
    cmd.add_argument("--no-trunc", action="store_true")
    cmd.add_argument("--last", type=int, default=0)
    cmd.add_argument("-o", "--output", default="table", choices=["json", "yaml", "table"])
    if not pods:
        cmd.add_argument("-a", "--all", action="store_true")
        cmd.add_argument("-p", "--pod", default="")
        cmd.add_argument("-l", "--latest", action="store_true")


def endpoint_from_config(explicit: str, config_file: str) -> str:
    """crictl's precedence: flag, then the config file (``/etc/crictl.yaml``, else the one
    beside the binary), then containerd's socket."""
    if explicit:
        return explicit
    beside_binary = os.path.join(os.path.dirname(os.path.abspath(sys.argv[0])), "crictl.yaml")
    candidates = [config_file] if config_file else ["/etc/crictl.yaml", beside_binary]
    for path in candidates:
        try:
            with open(path) as f:
                config = yaml.safe_load(f) or {}
        except FileNotFoundError:
            continue
        unknown = set(config) - CONFIG_KEYS
        if unknown:
            raise ConfigError(f"Config option '{sorted(unknown)[0]}' is not valid")
        return str(config.get("runtime-endpoint") or DEFAULT_ENDPOINT)
    return DEFAULT_ENDPOINT


def run(
    argv: Sequence[str], endpoint: str = "", host_path: Callable[[str], str] = lambda p: p
) -> int:
    """Parse and run one crictl command; errors print as crictl's do and return 1."""
    args = _parser().parse_args(argv)
    try:
        address = endpoint or endpoint_from_config(args.runtime_endpoint, args.config)
        with CRIClient(address, timeout=args.rpc_timeout or 10.0) as client:
            client.check()
            tool = Crictl(client, host_path=host_path)
            method = getattr(tool, "images" if args.command in ("image", "img") else args.command)
            code: int = method(args)
            return code
    except grpc.RpcError as exc:
        sys.stderr.write(f"E {exc.code().name.lower()}: {exc.details()}\n")
        return 1
    except KinError as exc:
        sys.stderr.write(f"FATA {exc}\n")
        return 1


def main(argv: Sequence[str] | None = None) -> int:
    return run(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
