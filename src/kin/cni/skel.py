"""The plugin side of the CNI protocol: environment, stdin, dispatch, result and error JSON.

A plugin module builds a ``Plugin`` from its handlers and calls ``main``. The
work happens in ``dispatch(plugin, env, stdin)``, a pure function of its inputs
that returns the exit code and stdout bytes, so a meta plugin (flannel) can run
a delegate that is one of kin's own plugins in-process, with no second Python
start-up. Checks and messages follow the reference ``skel``: required
variables per command, network name, container ID and interface name rules,
version negotiation, CHECK only from 0.4.0, GC and STATUS only from 1.1.0.
"""

from __future__ import annotations

import json
import os
import sys

from kin.cni import result as results
from kin.cni import spec
from kin.errors import CNIError, KinError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any, NoReturn

    Handler = Callable[["CmdArgs"], Any]

__all__ = ["CmdArgs", "Plugin", "dispatch", "main"]

REQUIRED = {
    "ADD": ("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"),
    "CHECK": ("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"),
    "DEL": ("CNI_CONTAINERID", "CNI_IFNAME", "CNI_PATH"),
    "GC": ("CNI_PATH",),
    "STATUS": ("CNI_PATH",),
    "VERSION": (),
}
MINIMUM = {"CHECK": "0.4.0", "GC": "1.1.0", "STATUS": "1.1.0"}


class CmdArgs:
    """One invocation: the CNI_* variables, the raw and parsed config, its version."""

    def __init__(self, env: Mapping[str, str], stdin: bytes, config: dict[str, Any]) -> None:
        self.env = env
        self.command = env.get("CNI_COMMAND", "")
        self.container_id = env.get("CNI_CONTAINERID", "")
        self.netns = env.get("CNI_NETNS", "")
        self.ifname = env.get("CNI_IFNAME", "")
        self.args = env.get("CNI_ARGS", "")
        self.path = env.get("CNI_PATH", "")
        self.stdin = stdin
        self.config = config
        self.version: str = config.get("cniVersion") or "0.1.0"

    @property
    def prev_result(self) -> dict[str, Any] | None:
        raw = self.config.get("prevResult")
        return results.parse(raw) if raw else None

    @property
    def runtime_config(self) -> dict[str, Any]:
        value = self.config.get("runtimeConfig")
        return value if isinstance(value, dict) else {}


class Plugin:
    """A plugin's name (shown when run by hand), its handlers and supported versions.

    ``add`` returns a result in the 1.x shape (``kin.cni.result``); the others
    return nothing and raise ``CNIError`` on failure.
    """

    def __init__(
        self,
        name: str,
        add: Handler,
        delete: Handler,
        check: Handler | None = None,
        status: Handler | None = None,
        gc: Handler | None = None,
        versions: tuple[str, ...] = spec.SUPPORTED_VERSIONS,
    ) -> None:
        self.name = name
        self.versions = versions
        self.handlers: dict[str, Handler | None] = {
            "ADD": add,
            "DEL": delete,
            "CHECK": check,
            "STATUS": status,
            "GC": gc,
        }


def dispatch(plugin: Plugin, env: Mapping[str, str], stdin: bytes) -> tuple[int, bytes]:
    """Run one CNI command; return the exit code and what goes to stdout."""
    version = spec.SPEC_VERSION
    try:
        command = _command(env)
        if command == "VERSION":
            return 0, _encode({"cniVersion": version, "supportedVersions": list(plugin.versions)})
        args = CmdArgs(env, stdin, _parse_config(stdin))
        version = args.version
        return 0, _run(plugin, command, args)
    except CNIError as exc:
        return 1, _encode(exc.to_json(version))
    except KinError as exc:
        return 1, _encode(CNIError(spec.ERR_INTERNAL, str(exc)).to_json(version))
    except OSError as exc:
        return 1, _encode(CNIError(spec.ERR_IO, str(exc)).to_json(version))
    except Exception as exc:  # a bug: still answer with the spec's error JSON
        import traceback

        traceback.print_exc(file=sys.stderr)
        error = CNIError(spec.ERR_INTERNAL, f"internal error in {plugin.name}: {exc!r}")
        return 1, _encode(error.to_json(version))


def _command(env: Mapping[str, str]) -> str:
    command = env.get("CNI_COMMAND", "")
    missing = ["CNI_COMMAND"] if not command else []
    missing += [v for v in REQUIRED.get(command, ()) if not env.get(v)]
    if missing:
        joined = ",".join(missing)
        raise CNIError(spec.ERR_INVALID_ENV, f"required env variables [{joined}] missing")
    if command not in REQUIRED:
        raise CNIError(spec.ERR_INVALID_ENV, f"unknown CNI_COMMAND: {command}")
    return command


def _parse_config(stdin: bytes) -> dict[str, Any]:
    try:
        config = json.loads(stdin)
    except ValueError as exc:
        raise CNIError(spec.ERR_DECODING, f"error unmarshall network config: {exc}") from exc
    if not isinstance(config, dict):
        raise CNIError(spec.ERR_DECODING, "error unmarshall network config: not a JSON object")
    spec.validate_network_name(config.get("name"))
    if not isinstance(config.get("cniVersion", ""), str):
        raise CNIError(spec.ERR_DECODING, "cniVersion must be a string")
    return config


def _run(plugin: Plugin, command: str, args: CmdArgs) -> bytes:
    if command in ("ADD", "DEL", "CHECK"):
        spec.validate_container_id(args.container_id)
        spec.validate_ifname(args.ifname)
    minimum = MINIMUM.get(command)
    if minimum and not spec.at_least(args.version, minimum):
        what = f"config version does not allow {command}"
        raise CNIError(spec.ERR_INCOMPATIBLE_VERSION, what)
    spec.check_supported(args.version, plugin.versions)
    if command in ("ADD", "DEL") and args.netns:
        _refuse_own_netns(args)
    handler = plugin.handlers[command]
    outcome = handler(args) if handler is not None else None
    if command == "ADD":
        if not isinstance(outcome, dict):
            raise CNIError(spec.ERR_INTERNAL, f"{plugin.name} returned no result")
        return _encode(results.render(outcome, args.version))
    return b""


def _refuse_own_netns(args: CmdArgs) -> None:
    """Code 8 when CNI_NETNS is the plugin's own namespace (CNI_NETNS_OVERRIDE allows it)."""
    if args.env.get("CNI_NETNS_OVERRIDE", "").lower() in ("1", "true"):
        return
    try:
        target = os.stat(args.netns)
    except OSError:
        return  # absent: the handler reports it (ADD) or ignores it (DEL)
    own = os.stat("/proc/thread-self/ns/net")
    if (target.st_dev, target.st_ino) == (own.st_dev, own.st_ino):
        detail = "plugin's netns and netns from CNI_NETNS should not be the same"
        raise CNIError(spec.ERR_INVALID_NETNS, detail)


def _encode(value: object) -> bytes:
    return json.dumps(value).encode() + b"\n"


def main(plugin: Plugin, stdin: bytes | None = None) -> NoReturn:
    """The entry point of a plugin executable (``stdin`` if it was read already)."""
    env = os.environ
    if not env.get("CNI_COMMAND"):
        versions = ", ".join(plugin.versions)
        sys.stderr.write(f"{plugin.name}\nCNI protocol versions supported: {versions}\n")
        sys.exit(0)
    if stdin is None:
        stdin = b"" if env.get("CNI_COMMAND") == "VERSION" else sys.stdin.buffer.read()
    code, out = dispatch(plugin, env, stdin)
    sys.stdout.buffer.write(out)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # skips the interpreter's teardown: ~4 ms of every pod start
