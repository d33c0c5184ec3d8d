"""Network configuration files, loaded the way libcni and containerd load them.

A directory (``/etc/cni/net.d``) holds ``.conflist`` files and legacy single
plugin ``.conf``/``.json`` files; the runtime uses the lexically first file
that loads and validates, so names like ``10-flannel.conflist`` decide. A
``.conf`` is up-converted to a list of one plugin. ``cniVersions`` lets a file
offer several versions; the highest one the runtime supports is used.
"""

from __future__ import annotations

import json
import os

from kin.cni import spec
from kin.errors import CNIError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["NetworkConfigList", "find_network", "load_file", "parse_conflist"]

EXTENSIONS = (".conf", ".conflist", ".json")


class NetworkConfigList:
    """A validated network: its name, chosen version, plugins, and the raw bytes (for caches)."""

    def __init__(self, raw: dict[str, Any], source: bytes, path: str = "") -> None:
        self.raw = raw
        self.source = source
        self.path = path
        self.name: str = raw["name"]
        self.cni_version = _choose_version(raw)
        self.plugins: list[dict[str, Any]] = raw["plugins"]
        self.disable_check = bool(raw.get("disableCheck"))
        self.disable_gc = bool(raw.get("disableGC"))


def _choose_version(raw: dict[str, Any]) -> str:
    offered = [raw.get("cniVersion") or "0.1.0", *(raw.get("cniVersions") or [])]
    usable = [v for v in offered if isinstance(v, str) and v in spec.SUPPORTED_VERSIONS]
    if not usable:
        spec.check_supported(str(offered[0]))
    return max(usable, key=spec.version_key)


def parse_conflist(source: bytes, path: str = "") -> NetworkConfigList:
    """A conflist, or a single plugin conf up-converted; CNIError (code 7) naming the problem."""
    where = f"{path}: " if path else ""
    try:
        raw = json.loads(source)
    except ValueError as exc:
        raise CNIError(spec.ERR_DECODING, f"{where}error parsing configuration: {exc}") from exc
    if not isinstance(raw, dict):
        raise CNIError(spec.ERR_DECODING, f"{where}error parsing configuration: not an object")
    if "plugins" not in raw and not path.endswith(".conflist"):
        raw = _from_single(raw)
    _validate(raw, where)
    return NetworkConfigList(raw, source, path)


def _from_single(conf: dict[str, Any]) -> dict[str, Any]:
    """libcni's ConfListFromConf: the one plugin keeps all its keys."""
    return {"name": conf.get("name"), "cniVersion": conf.get("cniVersion", ""), "plugins": [conf]}


def _validate(raw: dict[str, Any], where: str) -> None:
    name = raw.get("name")
    if not name:
        raise CNIError(spec.ERR_INVALID_NETWORK_CONFIG, f"{where}missing network name")
    spec.validate_network_name(name)
    plugins = raw.get("plugins")
    if not isinstance(plugins, list) or not plugins:
        raise CNIError(spec.ERR_INVALID_NETWORK_CONFIG, f"{where}no plugins in list")
    for index, plugin in enumerate(plugins):
        plugin_type = plugin.get("type") if isinstance(plugin, dict) else None
        if not isinstance(plugin_type, str) or not plugin_type or "/" in plugin_type:
            raise CNIError(
                spec.ERR_INVALID_NETWORK_CONFIG,
                f"{where}plugins[{index}]: missing or invalid 'type'",
            )


def load_file(path: str) -> NetworkConfigList:
    with open(path, "rb") as f:
        return parse_conflist(f.read(), path)


def find_network(directory: str) -> NetworkConfigList:
    """The lexically first valid network config in ``directory`` (containerd's rule)."""
    problems = []
    for entry in sorted(os.listdir(directory)) if os.path.isdir(directory) else []:
        if not entry.endswith(EXTENSIONS):
            continue
        try:
            return load_file(os.path.join(directory, entry))
        except (CNIError, OSError) as exc:
            problems.append(str(exc))
    detail = "; ".join(problems)
    raise CNIError(
        spec.ERR_INVALID_NETWORK_CONFIG,
        f"no valid networks found in {directory}" + (f": {detail}" if detail else ""),
    )
