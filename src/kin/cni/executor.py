"""A libcni-style executor: what a container runtime does with a network config list.

ADD runs the plugins in order, each getting the previous one's result as
``prevResult``; DEL runs them in reverse with the cached ADD result; CHECK in
order with the cached result; STATUS and GC (from 1.1.0) on every plugin.
Each plugin gets the config's ``name`` and chosen ``cniVersion`` injected, and
``runtimeConfig`` holding the capabilities it declares that the runtime has
values for (``portMappings`` ...). Plugins are found on a multi-directory
``CNI_PATH``. Results are cached under ``<cache>/results/<net>-<id>-<ifname>`` in
libcni's ``cniCacheV1`` format, so DEL and CHECK work across runtime restarts.
Plugins run as processes, as they would under containerd, except kin's own when the
executor is given ``in_process`` (the runtime's CNI server): their calls are made on the
calling thread, as the executable would have had the server make them
(``KIN_CNI_EXEC=1`` or ``KIN_CNI_SERVER=0`` forces the process).
"""

from __future__ import annotations

import base64
import contextlib
import errno
import json
import logging
import os
import subprocess
import time

from kin.cni import args as cni_args
from kin.cni import invoke, spec
from kin.cni import result as results
from kin.cni.netconf import NetworkConfigList
from kin.errors import CNIError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    InProcess = Callable[[str, dict[str, str], bytes], tuple[int, bytes, bytes]]

__all__ = ["Executor", "RuntimeConf"]

log = logging.getLogger(__name__)

DEFAULT_PATH = ("/opt/cni/bin",)
DEFAULT_CACHE = "/var/lib/cni"
BUSY_RETRIES = 5


class RuntimeConf:
    """One attachment: container, its network namespace and interface, CNI_ARGS, capabilities."""

    def __init__(
        self,
        container_id: str,
        netns: str,
        ifname: str = "eth0",
        args: list[tuple[str, str]] | None = None,
        capability_args: dict[str, Any] | None = None,
    ) -> None:
        self.container_id = container_id
        self.netns = netns
        self.ifname = ifname
        self.args = args or []
        self.capability_args = capability_args or {}

    @classmethod
    def for_pod(
        cls, container_id: str, netns: str, namespace: str, name: str, uid: str, **kw: Any
    ) -> RuntimeConf:
        """The CNI_ARGS the kubelet/containerd pass for a pod sandbox."""
        pairs = [
            ("IgnoreUnknown", "1"),
            ("K8S_POD_NAMESPACE", namespace),
            ("K8S_POD_NAME", name),
            ("K8S_POD_INFRA_CONTAINER_ID", container_id),
            ("K8S_POD_UID", uid),
        ]
        return cls(container_id, netns, args=pairs, **kw)


class Executor:
    def __init__(
        self,
        path: list[str] | tuple[str, ...] = DEFAULT_PATH,
        cache_dir: str = DEFAULT_CACHE,
        in_process: InProcess | None = None,
    ) -> None:
        self.path = list(path)
        self.cache_dir = cache_dir
        self.in_process = in_process
        """Runs one of kin's own plugins in this process (the runtime's CNI server): an
        executable that is kin's is not started, its call is made here, exactly as the
        executable would have made it through the server."""

    # -- the operations --------------------------------------------------------------------

    def add(self, net: NetworkConfigList, rt: RuntimeConf) -> dict[str, Any]:
        """ADD every plugin in order; the final result, in the network's version."""
        prev: dict[str, Any] | None = None
        for plugin in net.plugins:
            out = self._run("ADD", net, plugin, rt, prev)
            prev = results.parse(out)
        final = results.render(prev or results.empty(), net.cni_version)
        self._cache(net, rt, final)
        return final

    def delete(self, net: NetworkConfigList, rt: RuntimeConf) -> None:
        """DEL every plugin in reverse, with the cached result; then forget the cache."""
        cached = self.cached_result(net, rt) if spec.at_least(net.cni_version, "0.4.0") else None
        for plugin in reversed(net.plugins):
            self._run("DEL", net, plugin, rt, cached)
        self._forget(net, rt)

    def check(self, net: NetworkConfigList, rt: RuntimeConf) -> None:
        if net.disable_check or not spec.at_least(net.cni_version, "0.4.0"):
            return
        cached = self.cached_result(net, rt)
        if cached is None:
            raise CNIError(spec.ERR_INTERNAL, f"failed to get network {net.name!r} cached result")
        for plugin in net.plugins:
            self._run("CHECK", net, plugin, rt, cached)

    def status(self, net: NetworkConfigList) -> None:
        if not spec.at_least(net.cni_version, "1.1.0"):
            return
        for plugin in net.plugins:
            self._run("STATUS", net, plugin, None, None)

    def gc(self, net: NetworkConfigList, valid: list[tuple[str, str]]) -> None:
        """DEL cached attachments not in ``valid`` (containerID, ifname), then GC every plugin."""
        if net.disable_gc or not spec.at_least(net.cni_version, "1.1.0"):
            return
        keep = set(valid)
        errors = []
        for cid, ifname, netns in self._cached_attachments(net):
            if (cid, ifname) not in keep:
                try:
                    self.delete(net, RuntimeConf(cid, netns, ifname))
                except CNIError as exc:
                    errors.append(str(exc))
        listed = [{"containerID": c, "ifname": i} for c, i in valid]
        extra = {"cni.dev/valid-attachments": listed, "cni.dev/attachments": listed}
        for plugin in net.plugins:
            try:
                self._run("GC", net, {**plugin, **extra}, None, None)
            except CNIError as exc:
                errors.append(str(exc))
        if errors:
            raise CNIError(spec.ERR_INTERNAL, "; ".join(errors))

    # -- one plugin ------------------------------------------------------------------------

    def _run(
        self,
        command: str,
        net: NetworkConfigList,
        plugin: dict[str, Any],
        rt: RuntimeConf | None,
        prev: dict[str, Any] | None,
    ) -> dict[str, Any]:
        plugin_type = plugin["type"]
        stdin = json.dumps(self._request(net, plugin, rt, prev)).encode()
        path = invoke.find_plugin(plugin_type, ":".join(self.path))
        env = self._env(command, rt)
        own = invoke.kin_plugin_name(path) if self.in_process is not None else None
        forced = env.get("KIN_CNI_EXEC") == "1" or env.get("KIN_CNI_SERVER") == "0"
        if own and self.in_process is not None and not forced:
            code, out, err = self.in_process(own, env, stdin)
        else:
            code, out, err = _exec(path, env, stdin)
        if err:
            log.debug("plugin %s %s: %s", plugin_type, command, err.decode(errors="replace"))
        if code != 0:
            failure = invoke.error_from_output(out, code, path)
            detail = f"{failure.msg}: {failure.details}" if failure.details else failure.msg
            what = f'plugin type="{plugin_type}" failed ({command.lower()}): {detail}'
            raise CNIError(failure.code, what) from failure
        if command != "ADD":
            return {}
        try:
            parsed: dict[str, Any] = json.loads(out)
        except ValueError as exc:
            what = f'plugin type="{plugin_type}" returned a result that is not JSON: {exc}'
            raise CNIError(spec.ERR_DECODING, what) from exc
        return parsed

    def _request(
        self,
        net: NetworkConfigList,
        plugin: dict[str, Any],
        rt: RuntimeConf | None,
        prev: dict[str, Any] | None,
    ) -> dict[str, Any]:
        """libcni's buildOneConfig: name, cniVersion, runtimeConfig, prevResult injected."""
        request = {**plugin, "name": net.name, "cniVersion": net.cni_version}
        if rt is not None:
            wanted = {k for k, on in (plugin.get("capabilities") or {}).items() if on}
            runtime = {k: v for k, v in rt.capability_args.items() if k in wanted}
            if runtime:
                request["runtimeConfig"] = runtime
        if prev is not None:
            request["prevResult"] = results.render(results.parse(prev), net.cni_version)
        return request

    def _env(self, command: str, rt: RuntimeConf | None) -> dict[str, str]:
        env = {**os.environ, "CNI_COMMAND": command, "CNI_PATH": ":".join(self.path)}
        if rt is not None:
            env.update(
                CNI_CONTAINERID=rt.container_id,
                CNI_NETNS=rt.netns,
                CNI_IFNAME=rt.ifname,
                CNI_ARGS=cni_args.format_args(rt.args),
            )
        return env

    # -- the result cache ------------------------------------------------------------------

    def _cache_path(self, net: NetworkConfigList, rt: RuntimeConf) -> str:
        name = f"{net.name}-{rt.container_id}-{rt.ifname}"
        return os.path.join(self.cache_dir, "results", name)

    def _cache(self, net: NetworkConfigList, rt: RuntimeConf, result: dict[str, Any]) -> None:
        entry = {
            "kind": "cniCacheV1",
            "containerId": rt.container_id,
            "config": base64.b64encode(net.source).decode(),
            "ifName": rt.ifname,
            "networkName": net.name,
            "netns": rt.netns,
            "cniArgs": [list(pair) for pair in rt.args],
            "capabilityArgs": rt.capability_args,
            "result": result,
        }
        path = self._cache_path(net, rt)
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        tmp = f"{path}.tmp.{os.getpid()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(entry, f)
        os.replace(tmp, path)

    def cached_result(self, net: NetworkConfigList, rt: RuntimeConf) -> dict[str, Any] | None:
        try:
            with open(self._cache_path(net, rt)) as f:
                entry: dict[str, Any] = json.load(f)
        except (FileNotFoundError, ValueError):
            return None
        return entry.get("result")

    def _forget(self, net: NetworkConfigList, rt: RuntimeConf) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._cache_path(net, rt))

    def _cached_attachments(self, net: NetworkConfigList) -> list[tuple[str, str, str]]:
        directory = os.path.join(self.cache_dir, "results")
        found = []
        for name in os.listdir(directory) if os.path.isdir(directory) else []:
            if not name.startswith(net.name + "-"):
                continue
            try:
                with open(os.path.join(directory, name)) as f:
                    entry = json.load(f)
            except (OSError, ValueError):
                continue
            if entry.get("networkName") == net.name:
                found.append((entry["containerId"], entry["ifName"], entry.get("netns", "")))
        return found


def _exec(path: str, env: dict[str, str], stdin: bytes) -> tuple[int, bytes, bytes]:
    """Run a plugin; retry when the executable is being written ("text file busy")."""
    attempt = 0
    while True:
        try:
            done = subprocess.run([path], input=stdin, env=env, capture_output=True, check=False)
            return done.returncode, done.stdout, done.stderr
        except OSError as exc:
            attempt += 1
            if exc.errno != errno.ETXTBSY or attempt == BUSY_RETRIES:
                raise CNIError(spec.ERR_INTERNAL, f"failed to run plugin {path}: {exc}") from exc
            time.sleep(0.05 * attempt)
