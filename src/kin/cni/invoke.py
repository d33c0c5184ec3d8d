"""Delegating to another plugin, as the reference ``invoke`` package does, with a fast path.

The delegate is found on ``CNI_PATH`` and gets the same environment with
``CNI_COMMAND`` set and the delegate config on stdin. When the executable found
is one of kin's own plugins (it carries a ``# kin-cni-plugin: NAME`` line), it
runs in this process through ``skel.dispatch`` instead: the same code, minus one
Python start-up (tens of milliseconds per pod). ``KIN_CNI_EXEC=1`` in the
environment forces the exec path, which tests use to prove both paths agree.
"""

from __future__ import annotations

import json
import os
import sys

from kin.cni import result as results
from kin.cni import skel, spec
from kin.errors import CNIError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

__all__ = [
    "KIN_PLUGINS",
    "MARKER",
    "delegate",
    "error_from_output",
    "find_plugin",
    "kin_plugin_name",
    "load_plugin",
]

MARKER = b"# kin-cni-plugin: "
KIN_PLUGINS = {
    "bridge": "kin.cni.plugins.bridge",
    "flannel": "kin.cni.plugins.flannel",
    "host-local": "kin.cni.plugins.host_local",
    "loopback": "kin.cni.plugins.loopback",
    "portmap": "kin.cni.plugins.portmap",
}


def find_plugin(plugin_type: str, cni_path: str) -> str:
    """The first executable ``plugin_type`` in the ``:``-separated ``cni_path``."""
    dirs = [d for d in cni_path.split(":") if d]
    if not plugin_type or "/" in plugin_type:
        raise CNIError(spec.ERR_INVALID_NETWORK_CONFIG, f"invalid plugin type {plugin_type!r}")
    for directory in dirs:
        candidate = os.path.join(directory, plugin_type)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    listed = " ".join(dirs)
    raise CNIError(spec.ERR_INTERNAL, f'failed to find plugin "{plugin_type}" in path [{listed}]')


def kin_plugin_name(path: str) -> str | None:
    """The kin plugin an executable runs, from its marker line; None for any other program."""
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError:
        return None
    start = head.find(MARKER)
    if start < 0:
        return None
    name = head[start + len(MARKER) :].split(b"\n", 1)[0].decode(errors="replace").strip()
    return name if name in KIN_PLUGINS else None


def delegate(
    command: str, config: dict[str, Any], env: Mapping[str, str], plugin_type: str = ""
) -> dict[str, Any] | None:
    """Run ``plugin_type`` (default ``config["type"]``) for ``command`` with ``config`` on
    stdin; the parsed result for ADD, else None. IPAM delegates get the whole network
    config with the IPAM plugin's type given here, as the reference ``ipam.ExecAdd``."""
    path = find_plugin(plugin_type or str(config.get("type", "")), env.get("CNI_PATH", ""))
    stdin = json.dumps(config).encode()
    child_env = {**env, "CNI_COMMAND": command}
    own = None if env.get("KIN_CNI_EXEC") == "1" else kin_plugin_name(path)
    if own is not None:
        code, out = skel.dispatch(load_plugin(own), child_env, stdin)
    else:
        code, out = _exec(path, child_env, stdin)
    if code != 0:
        raise error_from_output(out, code, path)
    if command != "ADD":
        return None
    return results.parse(json.loads(out))


def load_plugin(name: str) -> skel.Plugin:
    """The ``PLUGIN`` of kin's plugin ``name`` (``host-local`` ...), imported on first use."""
    import importlib

    module = importlib.import_module(KIN_PLUGINS[name])
    plugin: skel.Plugin = module.PLUGIN
    return plugin


def _exec(path: str, env: dict[str, str], stdin: bytes) -> tuple[int, bytes]:
    import subprocess

    try:
        done = subprocess.run([path], input=stdin, env=env, capture_output=True, check=False)
    except OSError as exc:
        raise CNIError(spec.ERR_INTERNAL, f"failed to run plugin {path}: {exc}") from exc
    if done.stderr:
        sys.stderr.write(done.stderr.decode(errors="replace"))
    return done.returncode, done.stdout


def error_from_output(out: bytes, code: int, path: str) -> CNIError:
    """The delegate's error JSON as a CNIError, keeping its code, msg and details."""
    try:
        raw = json.loads(out)
        return CNIError(int(raw["code"]), str(raw.get("msg", "")), str(raw.get("details", "")))
    except (ValueError, KeyError, TypeError):
        text = out.decode(errors="replace").strip()
        message = (
            f"netplugin failed: {text!r}" if text else "netplugin failed with no error message"
        )
        return CNIError(spec.ERR_INTERNAL, f"{message} ({path}, exit status {code})")
