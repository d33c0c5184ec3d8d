"""CNI results across spec versions, as plain JSON dicts.

Inside kin a result always has the 1.x shape (``interfaces``, ``ips`` with
``interface`` indexes, ``routes``, ``dns``). ``parse`` accepts a result of any
version (a delegate's output, a ``prevResult``); ``render`` emits it in the
version the config asked for, as libcni converts: 0.3.x/0.4.0 add
``ips[].version``, 0.1.0/0.2.0 fold the first IPv4 and IPv6 address into
``ip4``/``ip6`` with their family's routes. Dicts rather than classes keep
unknown fields intact and keep plugin start-up free of class machinery.
"""

from __future__ import annotations

from kin.cni.spec import ERR_DECODING, version_key
from kin.errors import CNIError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    Result = dict[str, Any]

__all__ = ["empty", "family_of", "parse", "render"]

ROUTE_FIELDS_PRE_1 = ("dst", "gw")
INTERFACE_FIELDS_PRE_1 = ("name", "mac", "sandbox")


def empty() -> Result:
    return {"interfaces": [], "ips": [], "routes": [], "dns": {}}


def family_of(address: str) -> str:
    """``"4"`` or ``"6"`` for an address or CIDR."""
    return "6" if ":" in address else "4"


def parse(raw: object) -> Result:
    """Any version's result -> the 1.x shape; CNIError (code 6) if it is not a result."""
    if not isinstance(raw, dict):
        raise CNIError(ERR_DECODING, "failed to parse result: not a JSON object")
    if "ip4" in raw or "ip6" in raw:
        return _from_legacy(raw)
    result = empty()
    result["interfaces"] = [dict(i) for i in raw.get("interfaces") or []]
    result["ips"] = [{k: v for k, v in ip.items() if k != "version"} for ip in raw.get("ips") or []]
    result["routes"] = [dict(r) for r in raw.get("routes") or []]
    result["dns"] = dict(raw.get("dns") or {})
    return result


def _from_legacy(raw: dict[str, Any]) -> Result:
    result = empty()
    for key in ("ip4", "ip6"):
        config = raw.get(key)
        if not config:
            continue
        ip = {"address": config["ip"]}
        if config.get("gateway"):
            ip["gateway"] = config["gateway"]
        result["ips"].append(ip)
        result["routes"] += [dict(r) for r in config.get("routes") or []]
    result["dns"] = dict(raw.get("dns") or {})
    return result


def render(result: Result, version: str) -> Result:
    """``result`` as the spec ``version`` writes it, with ``cniVersion`` first."""
    key = version_key(version)
    if key >= (1, 0, 0):
        return {"cniVersion": version, **_clean(result)}
    if key >= (0, 3, 0):
        return {"cniVersion": version, **_as_0_3(result)}
    return {"cniVersion": version, **_as_0_2(result)}


def _clean(result: Result) -> Result:
    out: Result = {}
    if result.get("interfaces"):
        out["interfaces"] = result["interfaces"]
    if result.get("ips"):
        out["ips"] = result["ips"]
    if result.get("routes"):
        out["routes"] = result["routes"]
    out["dns"] = result.get("dns") or {}
    return out


def _as_0_3(result: Result) -> Result:
    out: Result = {}
    if result.get("interfaces"):
        out["interfaces"] = [_pick(i, INTERFACE_FIELDS_PRE_1) for i in result["interfaces"]]
    if result.get("ips"):
        out["ips"] = [{"version": family_of(ip["address"]), **ip} for ip in result["ips"]]
    if result.get("routes"):
        out["routes"] = [_pick(r, ROUTE_FIELDS_PRE_1) for r in result["routes"]]
    out["dns"] = result.get("dns") or {}
    return out


def _as_0_2(result: Result) -> Result:
    out: Result = {}
    for family in ("4", "6"):
        ip = next((i for i in result.get("ips", []) if family_of(i["address"]) == family), None)
        if ip is None:
            continue
        config: Result = {"ip": ip["address"]}
        if ip.get("gateway"):
            config["gateway"] = ip["gateway"]
        routes = [
            _pick(r, ROUTE_FIELDS_PRE_1)
            for r in result.get("routes", [])
            if family_of(r["dst"]) == family
        ]
        if routes:
            config["routes"] = routes
        out["ip" + family] = config
    out["dns"] = result.get("dns") or {}
    return out


def _pick(item: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    return {k: item[k] for k in fields if item.get(k) not in (None, "")}
